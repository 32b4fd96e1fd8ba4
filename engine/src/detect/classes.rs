//! What kinds of bytes each field's name and value hold, found in one pass per request and
//! shared by every detector. Most values (words, numbers, prices, ids, product names) hold none
//! of the bytes a given detector's search starts from; one table lookup per byte rules such a
//! value out for all the detectors at once, where each used to scan it again with its own test.

/// The classes of the bytes a value holds, OR-ed (one bit per class below).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ByteClasses(u16);

impl ByteClasses {
    /// A byte other than an ASCII letter, digit or `_`: libinjection can call nothing else
    /// SQL injection (a run of word bytes is a single token).
    pub const SQL: u16 = 1 << 0;
    /// A byte other than an ASCII letter, digit, space or `_ . , - @ / [ ]`: what markup, an
    /// attribute, a script URI or an encoding of one needs.
    pub const MARKUP: u16 = 1 << 1;
    /// A shell separator or substitution byte, or a byte every code literal holds:
    /// `; | & ` { $`, CR, LF, `< : ( .` and `%` (an encoding of any of them).
    pub const COMMAND: u16 = 1 << 2;
    /// A byte a path or its encoding needs: `. / \ %` and the lead bytes of overlong and
    /// full-width encodings of `.` and `/` (`0xC0 0xC1 0xE0 0xEF`).
    pub const PATH: u16 = 1 << 3;
    /// `:`, which every URL scheme ends with.
    pub const COLON: u16 = 1 << 4;
    /// `)`, which closes an LDAP filter.
    pub const CLOSE_PAREN: u16 = 1 << 5;
    /// `=` or `\`, one of which every known exploit's argument fragment holds.
    pub const EXPLOIT: u16 = 1 << 6;
    /// `_`, which every PHP callback runner's name holds.
    pub const UNDERSCORE: u16 = 1 << 7;
    /// `{` or `<`, which template expressions, SSI directives and PHP objects start with.
    pub const TEMPLATE: u16 = 1 << 8;
    /// `_ . {`, one of which every template gadget holds.
    pub const GADGET: u16 = 1 << 9;
    /// An ASCII letter.
    pub const ALPHA: u16 = 1 << 10;

    /// The classes of the bytes of `value`.
    pub fn of(value: &[u8]) -> ByteClasses {
        // Four accumulators let the lookups of neighbouring bytes overlap.
        let mut acc = [0u16; 4];
        let mut chunks = value.chunks_exact(4);
        for c in &mut chunks {
            acc[0] |= CLASS_OF[c[0] as usize];
            acc[1] |= CLASS_OF[c[1] as usize];
            acc[2] |= CLASS_OF[c[2] as usize];
            acc[3] |= CLASS_OF[c[3] as usize];
        }
        let rest = chunks
            .remainder()
            .iter()
            .fold(0, |seen, &b| seen | CLASS_OF[b as usize]);
        ByteClasses(acc[0] | acc[1] | acc[2] | acc[3] | rest)
    }

    /// True when the value holds a byte of one of `classes`.
    pub fn any(self, classes: u16) -> bool {
        self.0 & classes != 0
    }
}

/// The classes of every byte.
const CLASS_OF: [u16; 256] = {
    let mut t = [0u16; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let word = c.is_ascii_alphanumeric() || c == b'_';
        if !word {
            t[b] |= ByteClasses::SQL;
        }
        if !(c.is_ascii_alphanumeric()
            || matches!(
                c,
                b' ' | b'_' | b'.' | b',' | b'-' | b'@' | b'/' | b'[' | b']'
            ))
        {
            t[b] |= ByteClasses::MARKUP;
        }
        if matches!(
            c,
            b';' | b'|'
                | b'&'
                | b'`'
                | b'{'
                | b'$'
                | b'\n'
                | b'\r'
                | b'<'
                | b':'
                | b'('
                | b'.'
                | b'%'
        ) {
            t[b] |= ByteClasses::COMMAND;
        }
        if matches!(c, b'.' | b'/' | b'\\' | b'%' | 0xC0 | 0xC1 | 0xE0 | 0xEF) {
            t[b] |= ByteClasses::PATH;
        }
        if c == b':' {
            t[b] |= ByteClasses::COLON;
        }
        if c == b')' {
            t[b] |= ByteClasses::CLOSE_PAREN;
        }
        if matches!(c, b'=' | b'\\') {
            t[b] |= ByteClasses::EXPLOIT;
        }
        if c == b'_' {
            t[b] |= ByteClasses::UNDERSCORE;
        }
        if matches!(c, b'{' | b'<') {
            t[b] |= ByteClasses::TEMPLATE;
        }
        if matches!(c, b'_' | b'.' | b'{') {
            t[b] |= ByteClasses::GADGET;
        }
        if c.is_ascii_alphabetic() {
            t[b] |= ByteClasses::ALPHA;
        }
        b += 1;
    }
    t
};

/// The byte classes of one field's name and value.
#[derive(Debug, Clone, Copy, Default)]
pub struct FieldClasses {
    /// The name's.
    pub name: ByteClasses,
    /// The value's.
    pub value: ByteClasses,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_class_is_present_exactly_when_one_of_its_bytes_is() {
        /// A class, a test of its bytes, and a filler byte outside it.
        type ClassCase = (u16, fn(u8) -> bool, u8);
        let sets: [ClassCase; 4] = [
            (
                ByteClasses::SQL,
                |b| !(b.is_ascii_alphanumeric() || b == b'_'),
                b'a',
            ),
            (ByteClasses::COLON, |b| b == b':', b'a'),
            (
                ByteClasses::PATH,
                |b| matches!(b, b'.' | b'/' | b'\\' | b'%' | 0xC0 | 0xC1 | 0xE0 | 0xEF),
                b'a',
            ),
            (ByteClasses::ALPHA, |b| b.is_ascii_alphabetic(), b'1'),
        ];
        for (class, holds, filler) in sets {
            for b in 0..=255u8 {
                for len in [1, 3, 4, 5, 9] {
                    let mut v = vec![filler; len];
                    v[len / 2] = b;
                    assert_eq!(ByteClasses::of(&v).any(class), holds(b), "{b:#x} {len}");
                }
            }
        }
        assert!(!ByteClasses::of(b"").any(u16::MAX));
        assert!(!ByteClasses::of(b"Blue cotton shirt size M").any(ByteClasses::MARKUP));
        assert!(ByteClasses::of(b"Blue cotton shirt size M").any(ByteClasses::SQL));
    }
}
