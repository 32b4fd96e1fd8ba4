//! `@pm phrases…` and `@pmFromFile files…` (alias `@pmf`): case-insensitive (ASCII) search
//! for any of a set of phrases with Aho-Corasick, as libmodsecurity's `acmp`.
//!
//! `@pm` splits its argument on whitespace. As in libmodsecurity, an argument wrapped in
//! double quotes loses them, and `|41 42|` blocks give bytes in hex (then split on
//! whitespace like the rest). `@pmFromFile` reads one phrase per line from each
//! whitespace-separated file (relative to the rules file's directory); lines are trimmed
//! (like Coraza; libmodsecurity keeps surrounding blanks), and blank lines and lines starting
//! with `#` are skipped. Remote (`http(s)://`) lists are not supported.
//!
//! With `capture`, the phrase that matched (as written) becomes `TX:0`.

use std::path::Path;

use aho_corasick::AhoCorasick;

use super::{set_captures, Captures};

/// A compiled phrase set.
#[derive(Debug)]
pub struct Pm {
    phrases: Vec<Vec<u8>>,
    automaton: AhoCorasick,
}

impl Pm {
    /// Compiles `@pm`'s argument.
    pub fn from_argument(arg: &str) -> Result<Pm, String> {
        let content = parse_content(arg.as_bytes())?;
        let phrases = content
            .split(|b| b.is_ascii_whitespace())
            .filter(|p| !p.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        Pm::new(phrases)
    }

    /// Compiles `@pmFromFile`'s argument: files relative to `base_dir`.
    pub fn from_files(arg: &str, base_dir: &Path) -> Result<Pm, String> {
        let mut phrases = Vec::new();
        for name in arg.split_ascii_whitespace() {
            let text = read_list(name, base_dir)?;
            phrases.extend(list_lines(&text).map(<[u8]>::to_vec));
        }
        Pm::new(phrases)
    }

    fn new(phrases: Vec<Vec<u8>>) -> Result<Pm, String> {
        // A contiguous NFA: CRS's phrase files would take megabytes per worker as DFAs, and
        // the prefilter already runs most links only on values holding one of their phrases.
        let automaton = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
            .build(&phrases)
            .map_err(|e| format!("cannot build the phrase matcher: {e}"))?;
        Ok(Pm { phrases, automaton })
    }

    /// The phrases, when they make a selective prefilter (see [`crate::rules::prefilter`]).
    pub fn required_literals(&self) -> Option<Vec<Vec<u8>>> {
        crate::rules::prefilter::selective_phrases(self.phrases.clone())
    }

    /// True when any phrase occurs in `input`; with `captures`, stores the phrase.
    pub fn matches(&self, input: &[u8], captures: Option<&mut Captures>) -> bool {
        match self.automaton.find(input) {
            None => false,
            Some(m) => {
                if let Some(c) = captures {
                    set_captures(c, [self.phrases[m.pattern().as_usize()].as_slice()]);
                }
                true
            }
        }
    }
}

/// Reads a list file named in an operator argument, relative to `base_dir`.
pub(super) fn read_list(name: &str, base_dir: &Path) -> Result<Vec<u8>, String> {
    if name.starts_with("http://") || name.starts_with("https://") {
        return Err(format!("remote list {name:?} is not supported by Moat"));
    }
    let path = base_dir.join(name);
    std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// The entries of a list file: trimmed lines, without blanks and `#` comments.
pub(super) fn list_lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split(|&b| b == b'\n')
        .map(<[u8]>::trim_ascii)
        .filter(|l| !l.is_empty() && !l.starts_with(b"#"))
}

/// Removes surrounding double quotes and decodes `|hex|` blocks.
fn parse_content(arg: &[u8]) -> Result<Vec<u8>, String> {
    let arg = arg.trim_ascii();
    let arg = match arg {
        [b'"', inner @ .., b'"'] => inner,
        _ => arg,
    };
    if !arg.contains(&b'|') {
        return Ok(arg.to_vec());
    }
    let mut out = Vec::with_capacity(arg.len());
    let mut hex = false;
    let mut pending: Option<u8> = None;
    for &b in arg {
        if b == b'|' {
            if pending.is_some() {
                return Err("odd number of hex digits in |…| block".into());
            }
            hex = !hex;
        } else if !hex {
            out.push(b);
        } else if b.is_ascii_whitespace() {
            continue;
        } else {
            let d = (b as char)
                .to_digit(16)
                .ok_or_else(|| format!("invalid hex digit {:?} in |…| block", b as char))?
                as u8;
            match pending.take() {
                Some(hi) => out.push(hi << 4 | d),
                None => pending = Some(d),
            }
        }
    }
    if hex {
        return Err("unterminated |…| block".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_case_insensitive() {
        let pm = Pm::from_argument("gzip compress deflate br zstd").unwrap();
        assert!(pm.matches(b"GZIP", None));
        assert!(pm.matches(b"x-Deflate-y", None));
        assert!(pm.matches(b"brotli", None), "substring search");
        assert!(!pm.matches(b"identity", None));
        assert!(!pm.matches(b"", None));
        let pm = Pm::from_argument("( )").unwrap();
        assert!(pm.matches(b"f(1", None));
        assert!(!pm.matches(b"f 1", None), "whitespace only separates");
    }

    #[test]
    fn capture_is_the_phrase() {
        let pm = Pm::from_argument("document.cookie <![cdata[").unwrap();
        let mut caps = Vec::new();
        assert!(pm.matches(b"x=DOCUMENT.COOKIE", Some(&mut caps)));
        assert_eq!(caps, vec![b"document.cookie".to_vec()]);
    }

    #[test]
    fn quotes_and_hex() {
        let pm = Pm::from_argument("\"a|41 42|c x\"").unwrap();
        assert_eq!(pm.phrases, vec![b"aABc".to_vec(), b"x".to_vec()]);
        let pm = Pm::from_argument("|00 ff|").unwrap();
        assert!(pm.matches(b"a\x00\xffb", None));
        assert!(Pm::from_argument("|4|").is_err());
        assert!(Pm::from_argument("|zz|").is_err());
        assert!(Pm::from_argument("a|41").is_err());
    }

    #[test]
    fn from_files() {
        let dir = std::env::temp_dir().join(format!("moat-pm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("a.data"),
            "# comment\n\n  /etc/passwd \r\n.htaccess\n",
        )
        .unwrap();
        std::fs::write(dir.join("b.data"), "boot.ini").unwrap();
        let pm = Pm::from_files("a.data b.data", &dir).unwrap();
        assert_eq!(pm.phrases.len(), 3);
        assert!(pm.matches(b"/ETC/PASSWD", None));
        assert!(pm.matches(b"c:\\boot.ini", None));
        assert!(!pm.matches(b"comment", None));
        let e = Pm::from_files("missing.data", &dir).unwrap_err();
        assert!(e.contains("missing.data"), "{e}");
        assert!(Pm::from_files("https://example.com/x", &dir).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
