//! Conditions for patterns written to catch shell evasion, which have no literal every match
//! contains. CRS's Unix command rules (932230, 932235, 932250, 932260, 932340) let quotes,
//! backslashes and `$…` expansions sit between a command's letters (`c'a't`, `c\at`,
//! `c$@at`), and 932250/932260 also accept a command at the start of the value (`^ls`).
//!
//! Two observations give a sound condition anyway. A value without `$` cannot use an expansion,
//! and deleting the [`SQUEEZED`] bytes from both the value and the pattern keeps every match a
//! match: a match of the pattern in the value becomes, squeezed, a match of the squeezed pattern
//! in the squeezed value. The squeezed pattern has literals again (`cat`), looked for in the
//! squeezed value. A branch anchored at the value's start is split off: with none of a few more
//! bytes ([`ANCHORED_ABSENT`]: `/` of a path, `=` of an assignment …), its matches start with
//! one of a finite set of strings (the commands), looked for at the squeezed value's start.

use regex_syntax::hir::{Class, ClassBytes, ClassBytesRange, Hir, HirKind, Look, Repetition};
use regex_syntax::ParserBuilder;

use super::literals::{self, selective};

/// Bytes deleted from values and patterns: quoting a shell ignores (`"`, `'`, `\`) and the
/// `)` and `[` CRS also lets through between a command's letters.
pub const SQUEEZED: &[u8] = b"\"')[\\";
/// Bytes a value must hold (any one) before the unanchored branches can match otherwise than
/// through the squeezed literals: `$` starts an expansion.
const FREE_ABSENT: &[u8] = b"$";
/// Bytes a value must hold (any one) before an anchored branch can match otherwise than with
/// one of the squeezed prefixes: `$`, and what lets a command start later in the value (a path's
/// `/`, an assignment's `=`, `!`, `(`, `{`, a line break for a multi-line `^`).
const ANCHORED_ABSENT: &[u8] = b"$/=!({\n\r";
/// Most prefixes kept for an anchored branch.
const MAX_PREFIXES: usize = 4096;
/// Most members a class may have to be enumerated as prefixes.
const MAX_CLASS: usize = 12;

/// What a value must show before a shell-evasion pattern can match it (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evasion {
    /// Bytes that let the pattern match otherwise: a value holding one may match.
    pub absent: Vec<u8>,
    /// Literals (lower-cased) one of which the squeezed value holds when an unanchored branch
    /// matches.
    pub squeezed: Vec<Vec<u8>>,
    /// Strings (lower-cased) one of which the squeezed value starts with when an anchored
    /// branch matches; empty when the pattern has no anchored branch.
    pub prefixes: Vec<Vec<u8>>,
}

/// The condition of an `@rx` pattern (parsed as [`literals::required_literals`] does) when
/// squeezing gives it selective literals; `None` otherwise.
pub fn evasion_condition(pattern: &str) -> Option<Evasion> {
    let hir = ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .dot_matches_new_line(true)
        .multi_line(true)
        .build()
        .parse(pattern)
        .ok()?;
    let (anchored, free) = split_anchored(&hir);
    let squeezed = match free {
        Some(free) => without_superstrings(selective(
            literals::walk(&squeeze(&free, FREE_ABSENT)?)?.set,
        )?),
        None => Vec::new(),
    };
    let mut absent = FREE_ABSENT.to_vec();
    let prefixes = match anchored {
        Some(anchored) => {
            absent = ANCHORED_ABSENT.to_vec();
            match squeeze(&anchored, ANCHORED_ABSENT) {
                Some(h) => necessary_prefixes(&h)?,
                None => Vec::new(),
            }
        }
        None => Vec::new(),
    };
    if squeezed.is_empty() && prefixes.is_empty() {
        return None;
    }
    Some(Evasion {
        absent,
        squeezed,
        prefixes,
    })
}

/// The set without the strings that contain another of its strings (`&&` when `&` is in it):
/// a value holding one of those holds the shorter one too.
fn without_superstrings(set: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    set.iter()
        .filter(|s| {
            !set.iter()
                .any(|t| t.len() < s.len() && s.windows(t.len()).any(|w| w == &t[..]))
        })
        .cloned()
        .collect()
}

/// `value` without the [`SQUEEZED`] bytes (borrowed when it has none).
pub fn squeeze_value(value: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if value.iter().any(|b| SQUEEZED.contains(b)) {
        value
            .iter()
            .copied()
            .filter(|b| !SQUEEZED.contains(b))
            .collect::<Vec<u8>>()
            .into()
    } else {
        value.into()
    }
}

/// Splits a pattern `(?:^a|b|c)rest` into its anchored part `(?:^a)rest` and its free part
/// `(?:b|c)rest`; a pattern without anchored branches is all free.
fn split_anchored(hir: &Hir) -> (Option<Hir>, Option<Hir>) {
    let whole = (None, Some(hir.clone()));
    let HirKind::Concat(parts) = peel(hir).kind() else {
        return whole;
    };
    let Some((first, rest)) = parts.split_first() else {
        return whole;
    };
    let HirKind::Alternation(branches) = peel(first).kind() else {
        return whole;
    };
    let (anchored, free): (Vec<Hir>, Vec<Hir>) =
        branches.iter().cloned().partition(starts_anchored);
    if anchored.is_empty() {
        return whole;
    }
    let join = |branches: Vec<Hir>| {
        (!branches.is_empty()).then(|| {
            let mut all = vec![Hir::alternation(branches)];
            all.extend(rest.iter().cloned());
            Hir::concat(all)
        })
    };
    (join(anchored), join(free))
}

fn peel(hir: &Hir) -> &Hir {
    match hir.kind() {
        HirKind::Capture(c) => peel(&c.sub),
        _ => hir,
    }
}

/// True for a branch that can only match at the start of the value (or of a line).
fn starts_anchored(hir: &Hir) -> bool {
    match peel(hir).kind() {
        HirKind::Look(Look::Start | Look::StartLF | Look::StartCRLF) => true,
        HirKind::Concat(parts) => parts.first().is_some_and(starts_anchored),
        _ => false,
    }
}

/// The pattern that matches the squeezed form of every match of `hir` holding none of
/// `absent`; `None` when no such match exists. Literal case is kept (the walks lower-case).
fn squeeze(hir: &Hir, absent: &[u8]) -> Option<Hir> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Some(hir.clone()),
        HirKind::Literal(lit) => {
            if lit.0.iter().any(|b| absent.contains(b)) {
                return None;
            }
            let kept: Vec<u8> = lit
                .0
                .iter()
                .copied()
                .filter(|b| !SQUEEZED.contains(b))
                .collect();
            Some(Hir::literal(kept))
        }
        HirKind::Class(Class::Bytes(class)) => {
            let mut kept = Vec::new();
            let mut squeezed = false;
            for r in class.ranges() {
                for b in r.start()..=r.end() {
                    if SQUEEZED.contains(&b) {
                        squeezed = true;
                    } else if !absent.contains(&b) {
                        kept.push(ClassBytesRange::new(b, b));
                    }
                }
            }
            let class = (!kept.is_empty()).then(|| Hir::class(Class::Bytes(ClassBytes::new(kept))));
            match (class, squeezed) {
                (None, false) => None,
                (None, true) => Some(Hir::empty()),
                (Some(c), false) => Some(c),
                (Some(c), true) => Some(optional(c)),
            }
        }
        // Unicode classes do not occur in byte mode; stay sound if one does.
        HirKind::Class(Class::Unicode(_)) => Some(Hir::dot(regex_syntax::hir::Dot::AnyByte)),
        HirKind::Capture(cap) => squeeze(&cap.sub, absent),
        HirKind::Repetition(rep) => match squeeze(&rep.sub, absent) {
            None if rep.min == 0 => Some(Hir::empty()),
            None => None,
            Some(sub) if sub.properties().maximum_len() == Some(0) => Some(Hir::empty()),
            Some(sub) => Some(Hir::repetition(Repetition {
                min: rep.min,
                max: rep.max,
                greedy: rep.greedy,
                sub: Box::new(sub),
            })),
        },
        HirKind::Concat(parts) => Some(Hir::concat(
            parts
                .iter()
                .map(|p| squeeze(p, absent))
                .collect::<Option<Vec<Hir>>>()?,
        )),
        HirKind::Alternation(branches) => {
            let kept: Vec<Hir> = branches.iter().filter_map(|b| squeeze(b, absent)).collect();
            (!kept.is_empty()).then(|| Hir::alternation(kept))
        }
    }
}

fn optional(hir: Hir) -> Hir {
    Hir::repetition(Repetition {
        min: 0,
        max: Some(1),
        greedy: true,
        sub: Box::new(hir),
    })
}

/// What a node guarantees about how its matches start (all strings lower-cased).
#[derive(Debug, Clone, Default)]
struct Starts {
    /// Whole matches: the node matches exactly these (a complete list of them).
    whole: Vec<Vec<u8>>,
    /// Every other match starts with one of these.
    open: Vec<Vec<u8>>,
}

/// Strings one of which every match of `hir` starts with (lower-cased, none empty), or `None`
/// when there is no such finite set.
fn necessary_prefixes(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    let s = starts(hir)?;
    let mut all: Vec<Vec<u8>> = s.whole.into_iter().chain(s.open).collect();
    all.sort();
    // A string one of whose prefixes is in the set adds nothing; in sorted order such a string
    // follows that prefix, with only strings starting with it in between.
    let mut kept: Vec<Vec<u8>> = Vec::with_capacity(all.len());
    for p in all {
        if !kept.last().is_some_and(|k| p.starts_with(k)) {
            kept.push(p);
        }
    }
    let all = kept;
    (!all.is_empty() && all.iter().all(|p| !p.is_empty()) && all.len() <= MAX_PREFIXES)
        .then_some(all)
}

fn starts(hir: &Hir) -> Option<Starts> {
    let whole = |set: Vec<Vec<u8>>| {
        Some(Starts {
            whole: set,
            open: Vec::new(),
        })
    };
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => whole(vec![Vec::new()]),
        HirKind::Literal(lit) => whole(vec![lit.0.to_ascii_lowercase()]),
        HirKind::Class(Class::Bytes(class)) => {
            let mut set: Vec<Vec<u8>> = Vec::new();
            for r in class.ranges() {
                for b in r.start()..=r.end() {
                    set.push(vec![b.to_ascii_lowercase()]);
                }
            }
            set.sort();
            set.dedup();
            (set.len() <= MAX_CLASS).then_some(())?;
            whole(set)
        }
        HirKind::Class(Class::Unicode(_)) => None,
        HirKind::Capture(cap) => starts(&cap.sub),
        HirKind::Repetition(rep) => {
            let sub = starts(&rep.sub)?;
            if rep.max == Some(1) {
                // `x?`: one round or none.
                let mut s = sub;
                if rep.min == 0 {
                    s.whole.push(Vec::new());
                }
                return Some(s);
            }
            // One or more rounds start like one round; any further rounds are left open.
            let mut open = sub.open;
            open.extend(sub.whole.into_iter().filter(|s| !s.is_empty()));
            if open.iter().any(Vec::is_empty) {
                return None;
            }
            let whole = if rep.min == 0 {
                vec![Vec::new()]
            } else {
                Vec::new()
            };
            Some(Starts { whole, open })
        }
        HirKind::Concat(parts) => {
            let mut acc = Starts {
                whole: vec![Vec::new()],
                open: Vec::new(),
            };
            for part in parts {
                if acc.whole.is_empty() {
                    break;
                }
                let Some(next) = starts(part) else {
                    // Whatever follows: the whole matches so far become open prefixes.
                    acc.open.append(&mut acc.whole);
                    break;
                };
                let mut whole = Vec::new();
                for w in &acc.whole {
                    for n in &next.whole {
                        whole.push([w.as_slice(), n].concat());
                    }
                    for n in &next.open {
                        acc.open.push([w.as_slice(), n].concat());
                    }
                }
                acc.whole = whole;
                if acc.whole.len() + acc.open.len() > MAX_PREFIXES {
                    acc.open.append(&mut acc.whole);
                    break;
                }
            }
            if acc.open.iter().any(Vec::is_empty) {
                return None;
            }
            Some(acc)
        }
        HirKind::Alternation(branches) => {
            let mut acc = Starts::default();
            for b in branches {
                let s = starts(b)?;
                acc.whole.extend(s.whole);
                acc.open.extend(s.open);
                if acc.whole.len() + acc.open.len() > MAX_PREFIXES {
                    return None;
                }
            }
            Some(acc)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(set: &[Vec<u8>]) -> Vec<String> {
        set.iter()
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect()
    }

    /// A small pattern in the style of CRS 932230: letters with evasion between them.
    const EVASIVE: &str = concat!(
        r#"(?i)(?:[\n;|&]|\$\(|n["'\)\[\x5c]*(?:\$[a-z@]*)?\x5c?o["'\)\[\x5c]*(?:\$[a-z@]*)?\x5c?h)"#,
        r#"[\s\x0b]*c["'\)\[\x5c]*(?:\$[a-z@]*)?\x5c?a["'\)\[\x5c]*(?:\$[a-z@]*)?\x5c?t\b"#
    );

    #[test]
    fn squeezing_gives_the_command_back() {
        assert_eq!(literals::required_literals(EVASIVE), None);
        let e = evasion_condition(EVASIVE).unwrap();
        assert_eq!(e.absent, b"$");
        assert!(e.prefixes.is_empty());
        assert_eq!(strings(&e.squeezed), ["cat"]);
    }

    #[test]
    fn anchored_branches_give_prefixes() {
        let p = r#"(?i)(?:^(?:json\.)?|[;|])[\s\x0b]*["']*(?:[a-z]+/)?(?:c["'\x5c]*at|ls)\b"#;
        let e = evasion_condition(p).unwrap();
        assert_eq!(e.absent, ANCHORED_ABSENT);
        assert_eq!(strings(&e.squeezed), [";", "|"]);
        let mut want = vec![
            "\t",
            "\u{b}",
            "\u{c}",
            " ",
            "cat",
            "ls",
            "json.\t",
            "json.\u{b}",
            "json.\u{c}",
            "json. ",
            "json.cat",
            "json.ls",
        ];
        want.sort();
        assert_eq!(strings(&e.prefixes), want);
    }

    /// Every match, squeezed, holds a squeezed literal or (anchored) starts with a prefix,
    /// unless the value holds an absent byte.
    #[test]
    fn matches_meet_the_condition() {
        let cases = [
            (EVASIVE, "x;c'a't /etc; y|c\\a\"t; z&&c[at; n'o'h c)at"),
            (
                r#"(?i)(?:^|[;|])[\s\x0b]*["']*(?:[a-z]+/)?(?:c["'\x5c]*at|ls)\b"#,
                "ls -l",
            ),
            (
                r#"(?i)(?:^|[;|])[\s\x0b]*["']*(?:[a-z]+/)?(?:c["'\x5c]*at|ls)\b"#,
                "'c\\at' x",
            ),
        ];
        for (pattern, text) in cases {
            let e = evasion_condition(pattern).expect(pattern);
            let re = regex::bytes::RegexBuilder::new(pattern)
                .unicode(false)
                .multi_line(true)
                .build()
                .unwrap();
            let mut matched = 0;
            for m in re.find_iter(text.as_bytes()) {
                matched += 1;
                let s = squeeze_value(m.as_bytes()).to_ascii_lowercase();
                let whole = squeeze_value(text.as_bytes()).to_ascii_lowercase();
                let ok = text.bytes().any(|b| e.absent.contains(&b))
                    || e.squeezed
                        .iter()
                        .any(|l| s.windows(l.len()).any(|w| w == &l[..]))
                    || e.prefixes.iter().any(|p| whole.starts_with(p));
                assert!(ok, "{pattern}: {:?} in {text:?}", m.as_bytes());
            }
            assert!(matched > 0, "{pattern} on {text:?}");
        }
    }

    #[test]
    fn plain_patterns_have_no_evasion_condition() {
        assert_eq!(evasion_condition(r"\d+"), None);
        assert_eq!(evasion_condition(r"^[a-z]+$"), None);
    }
}
