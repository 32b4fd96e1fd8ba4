//! `t:parityEven7bit`, `t:parityOdd7bit`, `t:parityZero7bit`: treat each byte as 7-bit data
//! and set its top bit to make the parity even, odd, or always zero.

/// Sets the top bit so each byte has an even number of set bits.
pub(super) fn even(input: &[u8]) -> Option<Vec<u8>> {
    map(input, |b| {
        let low = b & 0x7f;
        if low.count_ones() % 2 == 1 {
            low | 0x80
        } else {
            low
        }
    })
}

/// Sets the top bit so each byte has an odd number of set bits.
pub(super) fn odd(input: &[u8]) -> Option<Vec<u8>> {
    map(input, |b| {
        let low = b & 0x7f;
        if low.count_ones() % 2 == 0 {
            low | 0x80
        } else {
            low
        }
    })
}

/// Clears the top bit of every byte.
pub(super) fn zero(input: &[u8]) -> Option<Vec<u8>> {
    map(input, |b| b & 0x7f)
}

fn map(input: &[u8], f: impl Fn(u8) -> u8) -> Option<Vec<u8>> {
    let first = input.iter().position(|&b| f(b) != b)?;
    let mut out = input.to_vec();
    for b in &mut out[first..] {
        *b = f(*b);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_parity() {
        // 'A' = 0x41 has two bits set, 'C' = 0x43 three.
        assert_eq!(even(b"AC"), Some(vec![0x41, 0xc3]));
        assert_eq!(even(&[0xc1]), Some(vec![0x41]));
        assert_eq!(even(b"A"), None);
        assert_eq!(even(b""), None);
    }

    #[test]
    fn odd_parity() {
        assert_eq!(odd(b"AC"), Some(vec![0xc1, 0x43]));
        assert_eq!(odd(&[0x00]), Some(vec![0x80]));
        assert_eq!(odd(b"C"), None);
    }

    #[test]
    fn zero_parity() {
        assert_eq!(zero(&[0xc1, 0x41, 0xff]), Some(vec![0x41, 0x41, 0x7f]));
        assert_eq!(zero(b"abc\0"), None);
    }
}
