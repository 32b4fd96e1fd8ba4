//! Reads files and expands `Include` (globs in the last path component, paths relative to the
//! including file, cycle detection) into one flat statement list.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::{Location, SecLangError};
use super::lexer::{lex, Statement};

/// Collects statements from files and included files, in order.
#[derive(Debug, Default)]
pub struct Loader {
    /// Files being read, outermost first (for cycle detection).
    stack: Vec<PathBuf>,
    /// Statements read so far.
    pub statements: Vec<Statement>,
    /// Errors met so far.
    pub errors: Vec<SecLangError>,
}

impl Loader {
    /// Reads `path` (and what it includes). `from` is the `Include` statement that named it.
    pub fn load_path(&mut self, path: &Path, from: Option<&Location>) {
        let display: Arc<str> = Arc::from(path.to_string_lossy().as_ref());
        let here = from.cloned().unwrap_or_else(|| Location::new(&display, 0));
        let key = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if self.stack.contains(&key) {
            let chain: Vec<String> = self
                .stack
                .iter()
                .chain(std::iter::once(&key))
                .map(|p| p.display().to_string())
                .collect();
            self.errors.push(SecLangError::at(
                &here,
                format!("include cycle: {}", chain.join(" -> ")),
            ));
            return;
        }
        let text = match fs::read(path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => {
                self.errors.push(SecLangError::at(
                    &here,
                    format!("cannot read {}: {e}", path.display()),
                ));
                return;
            }
        };
        self.stack.push(key);
        self.load_text(&text, &display, path.parent());
        self.stack.pop();
    }

    /// Lexes `text` (named `origin`); relative includes resolve against `dir`.
    pub fn load_text(&mut self, text: &str, origin: &Arc<str>, dir: Option<&Path>) {
        let statements = match lex(text, origin) {
            Ok(s) => s,
            Err(e) => {
                self.errors.push(e);
                return;
            }
        };
        for stmt in statements {
            let optional = stmt.name.eq_ignore_ascii_case("IncludeOptional");
            if !(optional || stmt.name.eq_ignore_ascii_case("Include")) {
                self.statements.push(stmt);
                continue;
            }
            if stmt.args.len() != 1 {
                self.errors.push(SecLangError::at(
                    &stmt.location,
                    format!("{} takes 1 argument, got {}", stmt.name, stmt.args.len()),
                ));
                continue;
            }
            let target = Path::new(&stmt.args[0]);
            let target = match dir {
                Some(d) if target.is_relative() => d.join(target),
                _ => target.to_path_buf(),
            };
            match expand(&target) {
                Ok(paths) if paths.is_empty() && !optional => self.errors.push(SecLangError::at(
                    &stmt.location,
                    format!("Include: no file matches {}", target.display()),
                )),
                Ok(paths) => {
                    for p in paths {
                        self.load_path(&p, Some(&stmt.location));
                    }
                }
                Err(e) => self
                    .errors
                    .push(SecLangError::at(&stmt.location, format!("Include: {e}"))),
            }
        }
    }
}

/// The files a (possibly wildcard) path names, sorted; a plain path is returned as is
/// (so that reading it reports a missing file).
pub fn expand(path: &Path) -> Result<Vec<PathBuf>, String> {
    let text = path.to_string_lossy();
    if !text.contains(['*', '?']) {
        return Ok(vec![path.to_path_buf()]);
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if dir.to_string_lossy().contains(['*', '?']) {
        return Err(format!(
            "wildcards are only supported in the last path component: {text}"
        ));
    }
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().map(|t| !t.is_dir()).unwrap_or(false))
        .filter(|e| glob_match(name.as_bytes(), e.file_name().to_string_lossy().as_bytes()))
        .map(|e| e.path())
        .collect();
    out.sort();
    Ok(out)
}

/// Matches `name` against a pattern with `*` (any run) and `?` (one byte).
pub fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == name[n]) {
            p += 1;
            n += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, n));
            p += 1;
        } else if let Some((sp, sn)) = star {
            p = sp + 1;
            n = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|b| *b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob() {
        assert!(glob_match(b"*.conf", b"REQUEST-901.conf"));
        assert!(!glob_match(b"*.conf", b"x.conf.example"));
        assert!(glob_match(b"a?c*", b"abcdef"));
        assert!(glob_match(b"*", b""));
        assert!(!glob_match(b"a*b", b"acbx"));
        assert!(glob_match(b"a*b*c", b"aXbYbZc"));
    }
}
