//! SipHash-2-4, the keyed hash that turns a session id into a stable pseudonym.
//!
//! SipHash is a pseudo-random function keyed with 128 bits: without the key, the hash of a
//! session id reveals nothing about it and cannot be recomputed from a guessed id. Two
//! independent 64-bit hashes (with the two halves of a 256-bit key swapped into place) give a
//! 128-bit pseudonym, so collisions between real sessions are negligible.

/// A 256-bit key for [`hash128`].
pub type Key = [u8; 32];

/// SipHash-2-4 of `data` with the 128-bit key `(k0, k1)`.
pub fn siphash24(k0: u64, k1: u64, data: &[u8]) -> u64 {
    let mut v = [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ];
    let mut chunks = data.chunks_exact(8);
    for chunk in &mut chunks {
        let m = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        v[3] ^= m;
        round(&mut v);
        round(&mut v);
        v[0] ^= m;
    }
    let mut last = [0u8; 8];
    let tail = chunks.remainder();
    last[..tail.len()].copy_from_slice(tail);
    last[7] = data.len() as u8;
    let m = u64::from_le_bytes(last);
    v[3] ^= m;
    round(&mut v);
    round(&mut v);
    v[0] ^= m;
    v[2] ^= 0xff;
    for _ in 0..4 {
        round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

fn round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13);
    v[1] ^= v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16);
    v[3] ^= v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21);
    v[3] ^= v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17);
    v[1] ^= v[2];
    v[2] = v[2].rotate_left(32);
}

/// A 128-bit keyed hash of `data`: two SipHash-2-4 values under the two halves of `key`.
pub fn hash128(key: &Key, data: &[u8]) -> [u8; 16] {
    let word = |i: usize| u64::from_le_bytes(key[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&siphash24(word(0), word(1), data).to_le_bytes());
    out[8..].copy_from_slice(&siphash24(word(2), word(3), data).to_le_bytes());
    out
}

/// Derives a key from arbitrary secret bytes (e.g. the contents of a key file).
pub fn derive_key(secret: &[u8]) -> Key {
    let mut key = [0u8; 32];
    for (i, part) in key.chunks_exact_mut(8).enumerate() {
        let h = siphash24(
            0x6d6f_6174_6b65_7930 + i as u64,
            0x7365_7373_696f_6e73,
            secret,
        );
        part.copy_from_slice(&h.to_le_bytes());
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_vector() {
        // The SipHash paper's test vector: key 00..0f, message 00..0e.
        let k0 = u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]);
        let k1 = u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15]);
        let msg: Vec<u8> = (0..15).collect();
        assert_eq!(siphash24(k0, k1, &msg), 0xa129_ca61_49be_45e5);
    }

    #[test]
    #[allow(deprecated)]
    fn matches_std_siphash_for_every_length() {
        use std::hash::Hasher;
        let data: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37)).collect();
        for len in 0..data.len() {
            let mut h = std::hash::SipHasher::new_with_keys(7, 11);
            h.write(&data[..len]);
            assert_eq!(siphash24(7, 11, &data[..len]), h.finish(), "length {len}");
        }
    }

    #[test]
    fn hash_depends_on_key_and_input() {
        let a = derive_key(b"secret one");
        let b = derive_key(b"secret two");
        assert_ne!(hash128(&a, b"s%3Aabc"), hash128(&b, b"s%3Aabc"));
        assert_ne!(hash128(&a, b"s%3Aabc"), hash128(&a, b"s%3Aabd"));
        assert_eq!(hash128(&a, b"s%3Aabc"), hash128(&a, b"s%3Aabc"));
    }
}
