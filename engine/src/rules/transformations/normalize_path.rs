//! `t:normalizePath` / `t:normalisePath` and the `Win` variants: resolve `.` and `..`
//! segments and collapse repeated slashes, as ModSecurity's `normalize_path_inplace` does. An
//! absolute path never climbs above `/`; a relative path keeps the `..` segments it cannot
//! resolve; a trailing slash is kept only if the input had one. Like ModSecurity, a segment
//! that merely ends in `..` (`a/b../c` → `a/c`) is handled as a back-reference.
//!
//! Deviation: ModSecurity turns `/..` and `/a/..` into an empty string (it keeps the root
//! slash, then removes it as a trailing slash the input did not have); here they give `/`, so
//! an absolute path stays absolute.
//!
//! The `Win` variants first turn every `\` into `/`. (ModSecurity converts them while it scans,
//! which can leave a `\` in the output after three or more mixed separators in a row.)

/// Normalises a path with `/` separators.
pub(super) fn normalize_path(input: &[u8]) -> Option<Vec<u8>> {
    if !needs_work(input) {
        return None;
    }
    super::util::changed(input, normalize(input.to_vec()))
}

/// Normalises a path with `/` or `\` separators; the output uses `/`.
pub(super) fn normalize_path_win(input: &[u8]) -> Option<Vec<u8>> {
    if !input.contains(&b'\\') {
        return normalize_path(input);
    }
    let converted: Vec<u8> = input
        .iter()
        .map(|&b| if b == b'\\' { b'/' } else { b })
        .collect();
    let out = if needs_work(&converted) {
        normalize(converted)
    } else {
        converted
    };
    Some(out)
}

/// Whether [`normalize`] could change the path: it has `//`, a segment `.`, or a segment
/// ending in `..`.
fn needs_work(path: &[u8]) -> bool {
    path.windows(2).any(|w| w == b"//")
        || path
            .split(|&b| b == b'/')
            .any(|seg| seg == b"." || seg.ends_with(b".."))
}

/// ModSecurity's in-place normalisation, over indices (`dst` may step before the start, as
/// the C pointer does, before being clamped).
fn normalize(mut b: Vec<u8>) -> Vec<u8> {
    if b.is_empty() {
        return b;
    }
    let end = b.len() as isize - 1;
    let at = |b: &[u8], i: isize| b[i as usize];
    let relative = b[0] != b'/';
    let trailing = at(&b, end) == b'/';
    let mut hitroot = false;
    let mut done = false;
    let mut src: isize = 0;
    let mut dst: isize = 0;
    while !done && src <= end && dst <= end {
        let mut segment_end = true;
        if src == end {
            done = true;
        } else if at(&b, src + 1) != b'/' {
            segment_end = false;
        }
        let mut skip_copy = false;
        if segment_end {
            let c = at(&b, src);
            if src != end && c == b'/' {
                // An empty segment: the copy below collapses the slashes.
            } else if c == b'.' {
                if dst > 0 && at(&b, dst - 1) == b'.' {
                    if relative && (hitroot || dst - 2 <= 0) {
                        // Nothing left to go back over: keep the `..`.
                        hitroot = true;
                    } else {
                        dst -= 3;
                        while dst > 0 && at(&b, dst) != b'/' {
                            dst -= 1;
                        }
                        if dst <= 0 {
                            hitroot = true;
                            dst = 0;
                            if !relative && src == end {
                                dst += 1;
                            }
                        }
                        if done {
                            skip_copy = true;
                        } else {
                            src += 1;
                        }
                    }
                } else if dst == 0 {
                    if done {
                        skip_copy = true;
                    } else {
                        src += 1;
                    }
                } else if at(&b, dst - 1) == b'/' {
                    if done {
                        skip_copy = true;
                    } else {
                        dst -= 1;
                        src += 1;
                    }
                }
            } else if dst > 0 {
                hitroot = false;
            }
        }
        if skip_copy {
            continue;
        }
        if at(&b, src) == b'/' {
            while src < end && at(&b, src + 1) == b'/' {
                src += 1;
            }
            if relative && dst == 0 {
                src += 1;
                continue;
            }
        }
        b[dst as usize] = at(&b, src);
        dst += 1;
        src += 1;
    }
    let root_only = !relative && dst == 1;
    if !trailing && dst > 0 && at(&b, dst - 1) == b'/' && !root_only {
        dst -= 1;
    }
    b.truncate(dst as usize);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &[u8]) -> Vec<u8> {
        normalize_path(s).unwrap_or_else(|| s.to_vec())
    }

    fn norm_win(s: &[u8]) -> Vec<u8> {
        normalize_path_win(s).unwrap_or_else(|| s.to_vec())
    }

    #[test]
    fn absolute_paths() {
        assert_eq!(norm(b"/a/b/../c"), b"/a/c");
        assert_eq!(norm(b"/a/./b/.//c"), b"/a/b/c");
        assert_eq!(norm(b"/a//b///c/"), b"/a/b/c/");
        assert_eq!(norm(b"/../../etc/passwd"), b"/etc/passwd");
        assert_eq!(norm(b"/.."), b"/");
        assert_eq!(norm(b"/a/.."), b"/");
        assert_eq!(norm(b"/a/."), b"/a");
        assert_eq!(norm(b"/a/./"), b"/a/");
        assert_eq!(norm(b"//"), b"/");
    }

    #[test]
    fn relative_paths() {
        assert_eq!(norm(b"a/../b"), b"b");
        assert_eq!(norm(b"../../x"), b"../../x");
        assert_eq!(norm(b"./a"), b"a");
        assert_eq!(norm(b"a/./b/"), b"a/b/");
        assert_eq!(norm(b"."), b"");
        assert_eq!(norm(b".."), b"..");
        assert_eq!(norm(b"a/b/../../../c"), b"../c");
        // From ModSecurity's transformation test suite.
        assert_eq!(norm(b"./../"), b"../");
        assert_eq!(norm(b"../."), b"..");
        assert_eq!(norm(b"dir/./.././../../foo/bar/.."), b"../../foo");
        assert_eq!(
            norm(b"dir//.//..//.//..//..//foo//bar//"),
            b"../../foo/bar/"
        );
        assert_eq!(
            norm(b"/./.././../../../../../../../\0/../etc/./passwd"),
            b"/etc/passwd"
        );
        // ModSecurity treats a segment ending in ".." like "..": here it cancels itself.
        assert_eq!(norm(b"a/b../c"), b"a/c");
    }

    #[test]
    fn unchanged() {
        assert_eq!(normalize_path(b"/a/b.c/d"), None);
        assert_eq!(normalize_path(b"/"), None);
        assert_eq!(normalize_path(b"a/.b/c./"), None);
        assert_eq!(normalize_path(b"\\..\\x\xff\0"), None);
        assert_eq!(normalize_path(b""), None);
    }

    #[test]
    fn windows_separators() {
        assert_eq!(norm_win(b"c:\\a\\..\\b"), b"c:/b");
        assert_eq!(norm_win(b"\\a\\\\b\\.\\c"), b"/a/b/c");
        assert_eq!(norm_win(b"a\\b"), b"a/b");
        assert_eq!(normalize_path_win(b"/a/b"), None);
        assert_eq!(normalize_path_win(b""), None);
    }

    #[test]
    fn quick_check_agrees_with_the_full_algorithm() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..20_000 {
            let len = (x % 12) as usize;
            let mut s = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                s.push(b"./a"[(x % 3) as usize]);
            }
            let full = normalize(s.clone());
            assert_eq!(
                normalize_path(&s),
                (full != s).then_some(full),
                "{:?}",
                String::from_utf8_lossy(&s)
            );
        }
    }
}
