//! Necessary literals of a regular expression: a set of byte strings such that every match of
//! the pattern contains at least one of them (compared ASCII-case-insensitively). A value that
//! contains none of them cannot match, so the pattern need not run on it.
//!
//! The walk over the pattern's syntax tree keeps, per node, either the exact (finite) set of
//! strings it matches or a set of which every match contains one; a concatenation takes the
//! best of its parts (joining runs of exact parts by cross product), an alternation the union
//! of its branches. Strings are lower-cased, since matching against them ignores ASCII case.

use regex_syntax::hir::{Class, Hir, HirKind};
use regex_syntax::ParserBuilder;

/// Most strings an exact set may hold before it is given up as a cross product.
const MAX_EXACT: usize = 64;
/// Most strings a necessary set may hold.
const MAX_SET: usize = 512;
/// Most members a character class may have to be enumerated.
const MAX_CLASS: usize = 10;

/// What a node of the pattern guarantees about its matches.
#[derive(Debug, Clone)]
pub(super) struct Lits {
    /// Lower-cased strings.
    pub(super) set: Vec<Vec<u8>>,
    /// True: every match is (ASCII-case-insensitively) one of `set`. False: every match
    /// contains one of `set`.
    exact: bool,
}

impl Lits {
    fn exact(set: Vec<Vec<u8>>) -> Lits {
        Lits { set, exact: true }
    }

    /// The shortest string's length: how selective the set is (0 = useless).
    fn min_len(&self) -> usize {
        self.set.iter().map(Vec::len).min().unwrap_or(0)
    }

    /// True when this set rules more out than `other`.
    fn better_than(&self, other: &Lits) -> bool {
        (self.min_len(), std::cmp::Reverse(self.set.len()))
            > (other.min_len(), std::cmp::Reverse(other.set.len()))
    }
}

/// The necessary literals of a ModSecurity `@rx` pattern (after `\x{hh}` rewriting), parsed
/// with the flags `@rx` compiles it with: byte mode, or Unicode mode when byte mode rejects the
/// pattern. `None` when no useful set exists (a match could avoid every short string, or the
/// pattern does not parse).
pub fn required_literals(pattern: &str) -> Option<Vec<Vec<u8>>> {
    let lits = walk(&parse(pattern)?)?;
    selective(lits.set)
}

/// Most further sets [`further_literal_sets`] gives.
const MAX_FURTHER: usize = 3;

/// Selective literal sets of the parts of a pattern that is a concatenation, other than
/// `literals` (its [`required_literals`]): every match goes through each part, so it holds one
/// literal of each set too (`(` after the function names of `\b(?:concat|cot)\W*\(`).
pub fn further_literal_sets(pattern: &str, literals: &[Vec<u8>]) -> Vec<Vec<Vec<u8>>> {
    let Some(hir) = parse(pattern) else {
        return Vec::new();
    };
    let mut top = &hir;
    while let HirKind::Capture(cap) = top.kind() {
        top = &cap.sub;
    }
    let HirKind::Concat(parts) = top.kind() else {
        return Vec::new();
    };
    let mut sets: Vec<Vec<Vec<u8>>> = Vec::new();
    for part in parts {
        let Some(set) = walk(part).and_then(|l| selective(l.set)) else {
            continue;
        };
        if set != literals && !sets.contains(&set) && sets.len() < MAX_FURTHER {
            sets.push(set);
        }
    }
    sets
}

/// Parses as `@rx` compiles: byte mode, or Unicode mode when byte mode rejects the pattern.
fn parse(pattern: &str) -> Option<Hir> {
    let parse = |unicode| {
        ParserBuilder::new()
            .unicode(unicode)
            .utf8(false)
            .dot_matches_new_line(true)
            .multi_line(true)
            .build()
            .parse(pattern)
            .ok()
    };
    parse(false).or_else(|| parse(true))
}

/// Keeps a set only when it is selective: no empty string, and any string shorter than three
/// bytes holds a byte that is not a letter or digit (`'`, `<`, `(`), rare in ordinary text.
/// Strings are lower-cased, sorted and deduplicated.
pub fn selective(set: Vec<Vec<u8>>) -> Option<Vec<Vec<u8>>> {
    selective_up_to(set, MAX_SET)
}

/// [`selective`] for a phrase list (`@pmFromFile`), which may hold thousands of phrases: the
/// list is the operator's exact condition, so its size does not make it less selective.
pub fn selective_phrases(set: Vec<Vec<u8>>) -> Option<Vec<Vec<u8>>> {
    selective_up_to(set, usize::MAX)
}

fn selective_up_to(set: Vec<Vec<u8>>, max: usize) -> Option<Vec<Vec<u8>>> {
    let mut set: Vec<Vec<u8>> = set.into_iter().map(|s| s.to_ascii_lowercase()).collect();
    if set.is_empty() || set.len() > max || !set.iter().all(|s| selective_string(s)) {
        return None;
    }
    set.sort();
    set.dedup();
    Some(set)
}

/// A string rare enough in ordinary text to filter on (see [`selective`]).
fn selective_string(s: &[u8]) -> bool {
    s.len() >= 3 || s.iter().any(|b| !b.is_ascii_alphanumeric())
}

/// What `hir` guarantees about its matches (see the module docs); `None` when nothing useful.
pub(super) fn walk(hir: &Hir) -> Option<Lits> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Some(Lits::exact(vec![Vec::new()])),
        HirKind::Literal(lit) => Some(Lits::exact(vec![lit.0.to_ascii_lowercase()])),
        HirKind::Class(class) => class_members(class).map(Lits::exact),
        HirKind::Capture(cap) => walk(&cap.sub),
        HirKind::Repetition(rep) => {
            let sub = walk(&rep.sub);
            match (rep.min, rep.max) {
                (1, Some(1)) => sub,
                (0, Some(1)) => match sub {
                    Some(s) if s.exact => {
                        let mut set = s.set;
                        set.push(Vec::new());
                        Some(Lits::exact(dedup(set)))
                    }
                    _ => None,
                },
                (0, _) => None,
                (min, max) => sub.map(|s| repeated(s, min, max)),
            }
        }
        HirKind::Concat(parts) => concat(parts),
        HirKind::Alternation(branches) => {
            let mut set = Vec::new();
            let mut exact = true;
            for b in branches {
                let lits = walk(b)?;
                exact &= lits.exact;
                set.extend(lits.set);
                if set.len() > MAX_SET {
                    return None;
                }
            }
            Some(Lits {
                set: dedup(set),
                exact,
            })
        }
    }
}

/// `x{min,max}` (`min` ≥ 1) of `sub`: for an exact `sub`, its strings repeated `min` times
/// (while the set stays small), exact when `max` is `min` too; else what `sub` guarantees.
fn repeated(sub: Lits, min: u32, max: Option<u32>) -> Lits {
    if !sub.exact {
        return sub;
    }
    let mut run = sub.set.clone();
    let mut complete = true;
    for _ in 1..min {
        if run.len() * sub.set.len() > MAX_EXACT || run.iter().any(|s| s.len() >= 8) {
            complete = false;
            break;
        }
        run = cross(&run, &sub.set);
    }
    Lits {
        set: run,
        exact: complete && max == Some(min),
    }
}

/// A concatenation: runs of exact parts joined by cross product; the best of those runs and
/// of the inexact parts when the whole is not exact.
fn concat(parts: &[Hir]) -> Option<Lits> {
    let mut run: Vec<Vec<u8>> = vec![Vec::new()];
    let mut all_exact = true;
    let mut best: Option<Lits> = None;
    let offer = |cand: Lits, best: &mut Option<Lits>| {
        if cand.min_len() > 0
            && cand.set.iter().all(|s| selective_string(s))
            && best.as_ref().map_or(true, |b| cand.better_than(b))
        {
            *best = Some(cand);
        }
    };
    for part in parts {
        match walk(part) {
            Some(lits) if lits.exact && run.len() * lits.set.len() <= MAX_EXACT => {
                run = cross(&run, &lits.set);
            }
            Some(lits) if lits.exact => {
                all_exact = false;
                let done = std::mem::replace(&mut run, lits.set);
                offer(inexact(done), &mut best);
            }
            Some(lits) => {
                all_exact = false;
                let done = std::mem::replace(&mut run, vec![Vec::new()]);
                offer(inexact(done), &mut best);
                offer(lits, &mut best);
            }
            None => {
                all_exact = false;
                let done = std::mem::replace(&mut run, vec![Vec::new()]);
                offer(inexact(done), &mut best);
            }
        }
    }
    if all_exact {
        return Some(Lits::exact(run));
    }
    offer(inexact(run), &mut best);
    best
}

fn inexact(set: Vec<Vec<u8>>) -> Lits {
    Lits {
        set: dedup(set),
        exact: false,
    }
}

fn cross(left: &[Vec<u8>], right: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(left.len() * right.len());
    for l in left {
        for r in right {
            let mut s = l.clone();
            s.extend_from_slice(r);
            out.push(s);
        }
    }
    dedup(out)
}

fn dedup(mut set: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    set.sort();
    set.dedup();
    set
}

/// The lower-cased members of a small class, as the bytes they match (UTF-8 for a Unicode
/// class), or `None` when it has too many.
fn class_members(class: &Class) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    match class {
        Class::Bytes(bytes) => {
            for r in bytes.ranges() {
                for b in r.start()..=r.end() {
                    out.push(vec![b.to_ascii_lowercase()]);
                    if out.len() > MAX_CLASS * 2 {
                        return None;
                    }
                }
            }
        }
        Class::Unicode(chars) => {
            for r in chars.ranges() {
                for c in r.start()..=r.end() {
                    let mut buf = [0; 4];
                    out.push(c.encode_utf8(&mut buf).as_bytes().to_ascii_lowercase());
                    if out.len() > MAX_CLASS * 2 {
                        return None;
                    }
                }
            }
        }
    }
    let out = dedup(out);
    (out.len() <= MAX_CLASS).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lits(p: &str) -> Option<Vec<String>> {
        required_literals(p).map(|s| {
            s.into_iter()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .collect()
        })
    }

    #[test]
    fn literal_and_case() {
        assert_eq!(lits("(?i)SeLeCt"), Some(vec!["select".into()]));
        assert_eq!(lits("union.*select"), Some(vec!["select".into()]));
    }

    #[test]
    fn alternations_are_unions() {
        assert_eq!(
            lits("(?i)(?:union|select)\\s+from"),
            Some(vec!["select".into(), "union".into()]),
            "the longer literals win"
        );
        assert_eq!(
            lits("(?:onload|onerror)="),
            Some(vec!["onerror=".into(), "onload=".into()])
        );
    }

    #[test]
    fn small_classes_expand() {
        assert_eq!(
            lits("<scr[iI]pt"),
            Some(vec!["<script".into()]),
            "case variants collapse"
        );
        assert_eq!(
            lits("a[bc]d"),
            Some(vec!["abd".into(), "acd".into()]),
            "exact cross product"
        );
    }

    #[test]
    fn useless_sets_are_dropped() {
        assert_eq!(lits("\\d+"), None);
        assert_eq!(lits("a*"), None);
        assert_eq!(lits("(?:abc|x*)"), None, "a branch without literals");
        assert_eq!(lits("^[a-z]+$"), None);
        assert_eq!(lits(""), None);
        assert_eq!(lits("ab"), None, "two letters are too common");
        assert_eq!(lits("'"), Some(vec!["'".into()]));
    }

    #[test]
    fn further_sets_come_from_the_other_parts() {
        let p = r"(?i)\b(?:concat|cot)[^0-9A-Z_a-z]*\(";
        let main = required_literals(p).unwrap();
        assert_eq!(main, [b"concat".to_vec(), b"cot".to_vec()]);
        assert_eq!(further_literal_sets(p, &main), [vec![b"(".to_vec()]]);
        let p = r"(?:^|[/;\x5c])\.{2,3}[/;\x5c]";
        let main = required_literals(p).unwrap();
        assert_eq!(
            further_literal_sets(p, &main),
            [vec![b"/".to_vec(), b";".to_vec(), b"\\".to_vec()]]
        );
        assert!(further_literal_sets("(?:abc|def)", &[]).is_empty());
    }

    #[test]
    fn counted_repetitions_repeat_their_strings() {
        assert_eq!(lits(r"(?:^|[/;\\])\.{2,3}[/;\\]"), Some(vec!["..".into()]));
        assert_eq!(lits(r"x(?:ab){2}y"), Some(vec!["xababy".into()]));
        assert_eq!(lits(r"a{3,}"), Some(vec!["aaa".into()]));
    }

    #[test]
    fn optional_parts_keep_the_rest() {
        assert_eq!(lits("(?:ab)?cde"), Some(vec!["abcde".into(), "cde".into()]));
        assert_eq!(lits("x+javascript:"), Some(vec!["javascript:".into()]));
    }

    /// Every match contains a literal: checked on matches found in varied inputs.
    #[test]
    fn every_match_contains_a_literal() {
        let cases = [
            ("(?i)(?:sel|ins)ect\\s+\\w+", "SELECT name; InSect  x"),
            ("[<>]script", "x<script y>script"),
            ("(?:a|b)(?:c|d)(?:e|f)ghi", "adfghi bceghi"),
            ("foo(?:bar)?baz", "foobaz foobarbaz"),
        ];
        for (pattern, text) in cases {
            let set = required_literals(pattern).expect(pattern);
            let re = regex::bytes::Regex::new(pattern).unwrap();
            for m in re.find_iter(text.as_bytes()) {
                let m = m.as_bytes().to_ascii_lowercase();
                assert!(
                    set.iter().any(|l| m.windows(l.len()).any(|w| w == &l[..])),
                    "{pattern}: match {:?} contains none of {set:?}",
                    String::from_utf8_lossy(&m)
                );
            }
        }
    }
}
