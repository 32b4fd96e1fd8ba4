//! Which values a chain of transformations can change beyond ASCII case. Each transformation
//! lists the bytes it reacts to (`t:urlDecodeUni`: `%` and `+`); a value holding none of a
//! chain's bytes comes out of the chain equal to itself up to case, by induction over the
//! chain. Whitespace is finer-grained: a lone space between words is left alone by
//! `t:compressWhitespace`, `t:trim` and `t:cmdLine`, so only "special" whitespace (runs, tabs
//! and line breaks, spaces at the ends or before `/` and `(`) triggers those. So are comments:
//! the comment transformations react to the pairs `/*`, `*/` and `--` (and `#`), not to every
//! `/` of a path or `-` of a date. No trigger holds a letter, so changing case never makes a
//! value meet a trigger it did not meet before.

use crate::seclang::transformations::Transformation;

/// Bytes C's `isspace` accepts.
const WHITESPACE: &[u8] = b" \t\n\x0b\x0c\r";

/// What a value holds, as far as transformations care.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Presence {
    bytes: [u64; 4],
    special_whitespace: bool,
    /// The value is a path `t:normalizePath` may change: it has `//` or `\\`, or a `.` or
    /// `…..` segment (a dotted name such as `order.items[0].name` has neither).
    path_work: bool,
    /// The value holds a comment mark: `/*`, `*/` or `--`.
    comment_marks: bool,
}

/// Values at least this long are scanned by table (see [`Presence::of_by_table`]).
pub const BY_TABLE: usize = 256;

impl Presence {
    /// Scans a value.
    pub fn of(value: &[u8]) -> Presence {
        if value.len() >= BY_TABLE {
            Presence::of_by_table(value)
        } else {
            Presence::of_each_byte(value)
        }
    }

    /// [`of`](Self::of) for long values (request bodies): one store per byte into a table,
    /// folded into bits at the end, and the whitespace test by searches for the few pairs that
    /// make a space special.
    fn of_by_table(value: &[u8]) -> Presence {
        let mut seen = [0u8; 256];
        for &b in value {
            seen[usize::from(b)] = 1;
        }
        Presence::of_seen(value, &seen)
    }

    /// [`of`](Self::of) for a value at least [`BY_TABLE`] bytes long whose bytes a walk over it
    /// marked already: `seen[b]` is 1 for each byte `b` it holds, 0 for the others.
    pub fn of_seen(value: &[u8], seen: &[u8; 256]) -> Presence {
        let mut p = Presence::default();
        for (i, chunk) in seen.chunks_exact(8).enumerate() {
            let mut eight = [0u8; 8];
            eight.copy_from_slice(chunk);
            // Bytes of 0 or 1: the multiplication gathers byte k's bit into bit 56 + k.
            let bits = u64::from_le_bytes(eight).wrapping_mul(0x0102_0408_1020_4080) >> 56;
            p.bytes[i / 8] |= bits << ((i % 8) * 8);
        }
        let other_whitespace = [b'\t', b'\n', 0x0b, 0x0c, b'\r']
            .iter()
            .any(|&b| seen[usize::from(b)] != 0);
        let has_pair = |pair: &[u8]| memchr::memmem::find(value, pair).is_some();
        let special_space = || {
            value.first() == Some(&b' ')
                || value.last() == Some(&b' ')
                || [&b"  "[..], b" /", b" ("].into_iter().any(has_pair)
        };
        p.special_whitespace =
            other_whitespace || (seen[usize::from(b' ')] != 0 && special_space());
        p.path_work = p.holds_any(b"./\\") && path_work(value);
        p.comment_marks = (p.holds_any(b"*") && (has_pair(b"/*") || has_pair(b"*/")))
            || (p.holds_any(b"-") && has_pair(b"--"));
        p
    }

    /// [`of`](Self::of) byte by byte.
    fn of_each_byte(value: &[u8]) -> Presence {
        let mut p = Presence::default();
        let mut prev_space = true;
        let mut prev = 0u8;
        for (i, &b) in value.iter().enumerate() {
            p.bytes[usize::from(b >> 6)] |= 1 << (b & 63);
            if matches!([prev, b], [b'/', b'*'] | [b'*', b'/'] | [b'-', b'-']) {
                p.comment_marks = true;
            }
            prev = b;
            let space = matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
            if space && (b != b' ' || prev_space) {
                p.special_whitespace = true;
            }
            if prev_space && i > 0 && (b == b'/' || b == b'(') {
                p.special_whitespace = true;
            }
            prev_space = space;
        }
        if prev_space && !value.is_empty() {
            p.special_whitespace = true;
        }
        p.path_work = p.holds_any(b"./\\") && path_work(value);
        p
    }

    /// Number of words [`to_words`](Self::to_words) writes.
    pub const WORDS: usize = 5;

    /// The presence as [`WORDS`](Self::WORDS) words (for the per-thread memo).
    pub fn to_words(&self, out: &mut [u64]) {
        out[..4].copy_from_slice(&self.bytes);
        out[4] = u64::from(self.special_whitespace)
            | u64::from(self.path_work) << 1
            | u64::from(self.comment_marks) << 2;
    }

    /// The presence [`to_words`](Self::to_words) wrote.
    pub fn from_words(words: &[u64]) -> Presence {
        let mut bytes = [0; 4];
        bytes.copy_from_slice(&words[..4]);
        Presence {
            bytes,
            special_whitespace: words[4] & 1 != 0,
            path_work: words[4] & 2 != 0,
            comment_marks: words[4] & 4 != 0,
        }
    }

    /// The bytes the value holds, one bit per byte value.
    pub fn byte_set(&self) -> &[u64; 4] {
        &self.bytes
    }

    /// True when the value holds one of `bytes`.
    fn holds_any(&self, bytes: &[u8]) -> bool {
        bytes
            .iter()
            .any(|&b| self.bytes[usize::from(b >> 6)] & (1 << (b & 63)) != 0)
    }

    /// Adds what `other` holds.
    pub fn add(&mut self, other: &Presence) {
        for (a, b) in self.bytes.iter_mut().zip(other.bytes) {
            *a |= b;
        }
        self.special_whitespace |= other.special_whitespace;
        self.path_work |= other.path_work;
        self.comment_marks |= other.comment_marks;
    }

    /// True when the value holds an ASCII capital letter.
    fn has_upper(&self) -> bool {
        // `A`–`Z` are bits 1–26 of the second word (bytes 64–127).
        self.bytes[1] & (((1u64 << 26) - 1) << 1) != 0
    }

    /// True when a chain with this trigger may change the value beyond ASCII case.
    pub fn meets(&self, trigger: &Trigger) -> bool {
        trigger.always
            || (trigger.special_whitespace && self.special_whitespace)
            || (trigger.path && self.path_work)
            || (trigger.comments && self.comment_marks)
            || self
                .bytes
                .iter()
                .zip(trigger.bytes)
                .any(|(a, b)| a & b != 0)
    }
}

/// True when `t:normalizePath` (or its `Win` variant, which first turns `\\` into `/`) could
/// change the value: it holds a backslash or `//`, or a `/`-separated segment that is `.` or
/// ends in `..`.
fn path_work(value: &[u8]) -> bool {
    // Without a separator the value is one segment (a dotted name such as `order.items.0.sku`).
    if memchr::memchr2(b'/', b'\\', value).is_none() {
        return value == b"." || value.ends_with(b"..");
    }
    // Searches that skip ahead (a request body is one value): a byte loop over a megabyte
    // cost more than the body's prefilter scan.
    if memchr::memchr(b'\\', value).is_some() || memchr::memmem::find(value, b"//").is_some() {
        return true;
    }
    let mut start = 0;
    for end in memchr::memchr_iter(b'/', value).chain([value.len()]) {
        let segment = &value[start..end];
        if segment == b"." || segment.ends_with(b"..") {
            return true;
        }
        start = end + 1;
    }
    false
}

/// What makes a chain of transformations change a value beyond ASCII case.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Trigger {
    bytes: [u64; 4],
    special_whitespace: bool,
    /// The chain normalizes paths (see [`Presence`]'s `path_work`).
    path: bool,
    /// The chain removes or replaces comments (see [`Presence`]'s `comment_marks`).
    comments: bool,
    /// The chain changes every value (`t:length`, `t:sha1`, `t:base64Decode` …).
    always: bool,
    /// What the chain does to ASCII case.
    case: CaseEffect,
}

/// What a chain does to the case of ASCII letters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum CaseEffect {
    /// Leaves it.
    #[default]
    Keeps,
    /// Lower-cases (`t:lowercase`, `t:cmdLine`).
    Lowers,
    /// Anything else (`t:uppercase`, or both).
    Changes,
}

impl Trigger {
    /// True when the chain returns a value that holds `presence` byte for byte unchanged.
    pub fn leaves_unchanged(&self, presence: &Presence) -> bool {
        !presence.meets(self)
            && match self.case {
                CaseEffect::Keeps => true,
                CaseEffect::Lowers => !presence.has_upper(),
                CaseEffect::Changes => false,
            }
    }

    fn lowers(&mut self) {
        if self.case == CaseEffect::Keeps {
            self.case = CaseEffect::Lowers;
        }
    }
}

impl Trigger {
    fn add_bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.bytes[usize::from(b >> 6)] |= 1 << (b & 63);
        }
    }

    fn add_range(&mut self, from: u8, to: u8) {
        for b in from..=to {
            self.add_bytes(&[b]);
        }
    }
}

/// The trigger of a whole chain: the union of its transformations' triggers.
pub fn chain_trigger(chain: &[Transformation]) -> Trigger {
    use Transformation as T;
    let mut trigger = Trigger::default();
    for t in chain {
        match t {
            T::None => {}
            T::Lowercase => trigger.lowers(),
            T::Uppercase => trigger.case = CaseEffect::Changes,
            T::UrlDecode | T::UrlDecodeUni => trigger.add_bytes(b"%+"),
            T::HtmlEntityDecode => trigger.add_bytes(b"&"),
            T::JsDecode | T::CssDecode | T::EscapeSeqDecode => trigger.add_bytes(b"\\"),
            T::RemoveNulls | T::ReplaceNulls => trigger.add_bytes(b"\0"),
            T::Utf8ToUnicode => trigger.add_range(0x80, 0xff),
            T::CmdLine => {
                trigger.lowers();
                trigger.add_bytes(b"\\\"'^,;");
                trigger.special_whitespace = true;
            }
            T::CompressWhitespace | T::Trim | T::TrimLeft | T::TrimRight => {
                trigger.special_whitespace = true;
            }
            T::RemoveWhitespace => {
                trigger.add_bytes(WHITESPACE);
                trigger.add_bytes(b"\xa0\xc2");
            }
            // `<!--` and `-->` hold `--`.
            T::ReplaceComments => trigger.comments = true,
            T::RemoveComments | T::RemoveCommentsChar => {
                trigger.comments = true;
                trigger.add_bytes(b"#");
            }
            T::NormalizePath | T::NormalisePath | T::NormalizePathWin | T::NormalisePathWin => {
                trigger.path = true
            }
            T::SqlHexDecode => trigger.add_bytes(b"0"),
            T::Base64Decode
            | T::Base64DecodeExt
            | T::Base64Encode
            | T::HexDecode
            | T::HexEncode
            | T::Length
            | T::Md5
            | T::Sha1
            | T::UrlEncode
            | T::ParityEven7bit
            | T::ParityOdd7bit
            | T::ParityZero7bit => trigger.always = true,
        }
    }
    trigger
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::transformations;

    /// The values `t:normalizePath` may change, as a body-sized value too.
    #[test]
    fn path_work_finds_what_normalize_path_changes() {
        for (value, expected) in [
            (&b"a/./b"[..], true),
            (b"a/../b", true),
            (b"a//b", true),
            (b"a\\b", true),
            (b"./", true),
            (b"/x/..", true),
            (b"x..", true),
            (b".", true),
            (b"order.items.0.sku", false),
            (b"/shop/list.html", false),
            (b"a/b.", false),
            (b"/", false),
            (b"", false),
        ] {
            assert_eq!(
                path_work(value),
                expected,
                "{:?}",
                String::from_utf8_lossy(value)
            );
        }
        let mut body = b"text/plain ".repeat(100_000);
        assert!(!path_work(&body));
        body.extend_from_slice(b"/../etc");
        assert!(path_work(&body));
    }

    #[test]
    fn a_presence_comes_back_whole_from_its_words() {
        for value in [
            &b""[..],
            b"plain",
            b"a  b\t",
            b"/a/../b",
            b"\x00\xff<script>",
            b" (x) //y",
        ] {
            let p = Presence::of(value);
            let mut words = [0u64; Presence::WORDS];
            p.to_words(&mut words);
            assert_eq!(Presence::from_words(&words), p, "{value:?}");
        }
        let both = Presence::of(b"a  /./b--");
        assert!(both.special_whitespace && both.path_work && both.comment_marks);
    }

    #[test]
    fn long_and_short_values_are_scanned_alike() {
        let mut rng = crate::test_rng::XorShift(0x9E37_79B9_7F4A_7C15);
        let mut next = || rng.next();
        const BYTES: &[u8] = b" \t\n\r\x0b\x0c/(.\\aZ%&#\x00\xff*-";
        for round in 0..3000 {
            let len = (next() % 40) as usize;
            let value: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next();
                    if round % 3 == 0 {
                        r as u8
                    } else {
                        BYTES[(r >> 8) as usize % BYTES.len()]
                    }
                })
                .collect();
            assert_eq!(
                Presence::of_by_table(&value),
                Presence::of_each_byte(&value),
                "{value:?}"
            );
        }
        let body = b"name=a b&path=/x/../y&q=( select )".repeat(20);
        assert_eq!(Presence::of_by_table(&body), Presence::of_each_byte(&body));
    }

    /// For every transformation and many values: when the value does not meet the trigger,
    /// the transformation leaves it equal up to ASCII case.
    #[test]
    fn untriggered_values_come_out_equal_up_to_case() {
        let values: &[&[u8]] = &[
            b"Blue cotton shirt size M",
            b"a  b",
            b" lead",
            b"trail ",
            b"tab\there",
            b"ls /etc",
            b"f (x)",
            b"100%25 off",
            b"a+b",
            b"&lt;script&gt;",
            b"\\x41",
            b"caf\xc3\xa9",
            b"nbsp\xc2\xa0x",
            b"/* c */ x",
            b"<!-- c -->",
            b"a -- b # c",
            b"a - b / c * d",
            b"2026-12-01 12/01 */",
            b"SKU-00001/2",
            b"a*/b",
            b"<!- x ->",
            b"x-->",
            b"<!--",
            b"a/*",
            b"../../etc/passwd",
            b"..\\..\\win",
            b"0x41424344",
            b"nul\0byte",
            b"it's \"q\" ^ , ;",
            b"PlainWord",
            b"plainword",
            b"two words",
            b"",
            b" ",
            b"x/y",
            b"a.b",
            b"order.items[0].name",
            b"a//b",
            b"./x",
            b"x/.",
            b"a..",
            b"a/b../c",
            b"..",
            b".",
            b"a\\b",
            b"/var/www/./index.php",
        ];
        for &t in Transformation::ALL {
            let trigger = chain_trigger(&[t]);
            for v in values {
                if Presence::of(v).meets(&trigger) {
                    continue;
                }
                let out = transformations::apply_chain(&[t], v);
                if trigger.leaves_unchanged(&Presence::of(v)) {
                    assert_eq!(
                        out,
                        v.to_vec(),
                        "t:{} changed {:?} although it should leave it alone",
                        t.name(),
                        String::from_utf8_lossy(v)
                    );
                }
                assert!(
                    out.eq_ignore_ascii_case(v),
                    "t:{} changed {:?} to {:?} without its trigger",
                    t.name(),
                    String::from_utf8_lossy(v),
                    String::from_utf8_lossy(&out)
                );
            }
        }
    }

    /// A date's dashes or a path's slashes are no comment: chains that strip comments leave
    /// such values to their own scan (CRS 942190 and 933210 on most API fields).
    #[test]
    fn a_lone_dash_or_slash_is_no_comment() {
        let strip = chain_trigger(&[
            Transformation::UrlDecodeUni,
            Transformation::RemoveCommentsChar,
        ]);
        let replace = chain_trigger(&[Transformation::ReplaceComments]);
        for plain in [
            &b"SKU-00001"[..],
            b"2026-12-01",
            b"/shop/a-b/c",
            b"2 * 3 / 4",
        ] {
            assert!(!Presence::of(plain).meets(&strip), "{plain:?}");
            assert!(!Presence::of(plain).meets(&replace), "{plain:?}");
        }
        for marked in [&b"1--"[..], b"a/*b", b"b*/", b"<!--x"] {
            assert!(Presence::of(marked).meets(&strip), "{marked:?}");
        }
        assert!(Presence::of(b"a#b").meets(&strip));
        assert!(!Presence::of(b"a#b").meets(&replace));
    }

    #[test]
    fn a_lone_space_is_not_special() {
        assert!(!Presence::of(b"Blue cotton shirt").special_whitespace);
        assert!(Presence::of(b"a  b").special_whitespace);
        assert!(Presence::of(b"a\tb").special_whitespace);
        assert!(Presence::of(b" a").special_whitespace);
        assert!(Presence::of(b"a ").special_whitespace);
        assert!(Presence::of(b"a (b").special_whitespace);
        let cmd = chain_trigger(&[Transformation::CmdLine]);
        assert!(!Presence::of(b"Blue cotton shirt").meets(&cmd));
        assert!(Presence::of(b"x;y").meets(&cmd));
    }
}
