//! The data section's value encoding (MaxMind DB format, "Output Data Section"): a control byte
//! with the type in its top three bits and the size in the low five (extended types in a second
//! byte, long sizes in up to three more), then the payload in big-endian order.

/// A value stored in the data section or the metadata.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// UTF-8 string (type 2).
    String(String),
    /// IEEE 754 double (type 3).
    Double(f64),
    /// Raw bytes (type 4).
    Bytes(Vec<u8>),
    /// Unsigned 16-bit integer (type 5).
    Uint16(u16),
    /// Unsigned 32-bit integer (type 6).
    Uint32(u32),
    /// Map with string keys, in the given order (type 7).
    Map(Vec<(String, Value)>),
    /// Signed 32-bit integer (type 8).
    Int32(i32),
    /// Unsigned 64-bit integer (type 9).
    Uint64(u64),
    /// Unsigned 128-bit integer (type 10).
    Uint128(u128),
    /// Array (type 11).
    Array(Vec<Value>),
    /// Boolean (type 14).
    Bool(bool),
    /// IEEE 754 single-precision float (type 15).
    Float(f32),
}

const STRING: u8 = 2;
const DOUBLE: u8 = 3;
const BYTES: u8 = 4;
const UINT16: u8 = 5;
const UINT32: u8 = 6;
const MAP: u8 = 7;
const INT32: u8 = 8;
const UINT64: u8 = 9;
const UINT128: u8 = 10;
const ARRAY: u8 = 11;
const BOOL: u8 = 14;
const FLOAT: u8 = 15;

/// Largest size the control bytes can express (65,821 + 2^24 - 1).
pub const MAX_SIZE: usize = 65_821 + 0xff_ffff;

impl Value {
    /// A string value.
    pub fn str(s: &str) -> Value {
        Value::String(s.to_string())
    }

    /// Appends the encoded value to `out`. Fails only for a string, byte string, map or array
    /// longer than [`MAX_SIZE`].
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), String> {
        match self {
            Value::String(s) => {
                control(out, STRING, s.len())?;
                out.extend_from_slice(s.as_bytes());
            }
            Value::Double(d) => {
                control(out, DOUBLE, 8)?;
                out.extend_from_slice(&d.to_be_bytes());
            }
            Value::Bytes(b) => {
                control(out, BYTES, b.len())?;
                out.extend_from_slice(b);
            }
            Value::Uint16(n) => unsigned(out, UINT16, u128::from(*n))?,
            Value::Uint32(n) => unsigned(out, UINT32, u128::from(*n))?,
            Value::Uint64(n) => unsigned(out, UINT64, u128::from(*n))?,
            Value::Uint128(n) => unsigned(out, UINT128, *n)?,
            Value::Int32(n) => {
                control(out, INT32, 4)?;
                out.extend_from_slice(&n.to_be_bytes());
            }
            Value::Map(pairs) => {
                control(out, MAP, pairs.len())?;
                for (k, v) in pairs {
                    Value::str(k).encode(out)?;
                    v.encode(out)?;
                }
            }
            Value::Array(items) => {
                control(out, ARRAY, items.len())?;
                for v in items {
                    v.encode(out)?;
                }
            }
            Value::Bool(b) => control(out, BOOL, usize::from(*b))?,
            Value::Float(f) => {
                control(out, FLOAT, 4)?;
                out.extend_from_slice(&f.to_be_bytes());
            }
        }
        Ok(())
    }

    /// The encoded bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        self.encode(&mut out)?;
        Ok(out)
    }
}

/// An unsigned integer in as few big-endian bytes as it needs (zero takes none).
fn unsigned(out: &mut Vec<u8>, kind: u8, n: u128) -> Result<(), String> {
    let bytes = n.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    control(out, kind, bytes.len() - skip)?;
    out.extend_from_slice(&bytes[skip..]);
    Ok(())
}

/// Writes the control byte(s) for a value of `kind` and `size`.
fn control(out: &mut Vec<u8>, kind: u8, size: usize) -> Result<(), String> {
    let (size_bits, extra): (u8, Vec<u8>) = if size < 29 {
        (size as u8, Vec::new())
    } else if size < 285 {
        (29, vec![(size - 29) as u8])
    } else if size < 65_821 {
        (30, ((size - 285) as u16).to_be_bytes().to_vec())
    } else if size <= MAX_SIZE {
        (31, ((size - 65_821) as u32).to_be_bytes()[1..].to_vec())
    } else {
        return Err(format!(
            "value of {size} bytes or items is too large for the format"
        ));
    };
    if kind <= 7 {
        out.push((kind << 5) | size_bits);
    } else {
        out.push(size_bits);
        out.push(kind - 7);
    }
    out.extend_from_slice(&extra);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(v: Value) -> Vec<u8> {
        v.to_bytes().unwrap()
    }

    #[test]
    fn control_bytes_follow_the_specification() {
        assert_eq!(bytes(Value::str("")), [0x40]);
        assert_eq!(bytes(Value::str("en")), [0x42, b'e', b'n']);
        assert_eq!(bytes(Value::Uint16(0)), [0xa0]);
        assert_eq!(bytes(Value::Uint16(500)), [0xa2, 0x01, 0xf4]);
        assert_eq!(bytes(Value::Uint32(64500)), [0xc2, 0xfb, 0xf4]);
        assert_eq!(bytes(Value::Uint64(1)), [0x01, 0x02, 0x01]);
        assert_eq!(bytes(Value::Bool(true)), [0x01, 0x07]);
        assert_eq!(
            bytes(Value::Int32(-1)),
            [0x04, 0x01, 0xff, 0xff, 0xff, 0xff]
        );
        assert_eq!(bytes(Value::Map(vec![])), [0xe0]);
        assert_eq!(
            bytes(Value::Array(vec![Value::Bool(false)])),
            [0x01, 0x04, 0x00, 0x07]
        );
        let d = bytes(Value::Double(1.5));
        assert_eq!(d[0], 0x68);
        assert_eq!(&d[1..], &1.5f64.to_be_bytes());
    }

    #[test]
    fn long_sizes_use_extra_size_bytes() {
        let s = bytes(Value::String("x".repeat(29)));
        assert_eq!(&s[..2], &[0x5d, 0x00]);
        let s = bytes(Value::String("x".repeat(300)));
        assert_eq!(&s[..3], &[0x5e, 0x00, 15]);
        let s = bytes(Value::String("x".repeat(70_000)));
        assert_eq!(s[0], 0x5f);
        assert_eq!(&s[1..4], &((70_000 - 65_821) as u32).to_be_bytes()[1..]);
        assert_eq!(s.len(), 4 + 70_000);
    }
}
