//! Loads go-ftw YAML test files into the [`model`](super::model). Unknown fields are ignored;
//! a field of the wrong type makes the file fail with a reason naming the field.

use std::fmt;
use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

use super::model::{FtwTest, HeaderOrder, Input, LogExpect, Output, Stage, TestFile};

/// A file that could not be loaded, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

/// The result of loading a directory: the files that loaded and the errors of those that did not.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Files loaded, sorted by path.
    pub files: Vec<TestFile>,
    /// Files that failed, with their reasons.
    pub errors: Vec<LoadError>,
}

impl Loaded {
    /// Number of tests in all loaded files.
    pub fn test_count(&self) -> usize {
        self.files.iter().map(|f| f.tests.len()).sum()
    }

    /// All loaded tests, in file order.
    pub fn tests(&self) -> Vec<FtwTest> {
        self.files.iter().flat_map(|f| f.tests.clone()).collect()
    }
}

/// Loads every `*.yaml` / `*.yml` file under `dir` (recursively, sorted by path). An unreadable
/// directory is an error; a bad file is recorded in [`Loaded::errors`] and the rest still load.
pub fn load_dir(dir: &Path) -> Result<Loaded, LoadError> {
    let mut paths = Vec::new();
    collect_yaml(dir, &mut paths).map_err(|e| LoadError {
        path: dir.to_path_buf(),
        reason: e.to_string(),
    })?;
    paths.sort();
    let mut loaded = Loaded::default();
    for path in paths {
        match load_file(&path) {
            Ok(f) => loaded.files.push(f),
            Err(e) => loaded.errors.push(e),
        }
    }
    Ok(loaded)
}

fn collect_yaml(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_yaml(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
    Ok(())
}

/// Reads and parses one test file.
pub fn load_file(path: &Path) -> Result<TestFile, LoadError> {
    let err = |reason: String| LoadError {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|e| err(format!("not UTF-8: {e}")))?;
    parse_file(&text, path).map_err(err)
}

/// Parses the text of a test file; `path` supplies the rule id when `rule_id` is missing.
pub fn parse_file(text: &str, path: &Path) -> Result<TestFile, String> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| format!("YAML: {e}"))?;
    // A file of comments only (CRS has one) is a file without tests, as for go-ftw.
    let doc = docs.first().unwrap_or(&Yaml::Null);
    if !matches!(doc, Yaml::Hash(_) | Yaml::Null) {
        return Err("top level is not a mapping".into());
    }
    let rule_id = match opt_u32(&doc["rule_id"], "rule_id")? {
        Some(id) => id,
        None => path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse().ok())
            .ok_or("no rule_id, and the file name is not a rule id")?,
    };
    let mut tests = Vec::new();
    for (i, t) in list(&doc["tests"], "tests")?.iter().enumerate() {
        let test = parse_test(t, rule_id, i + 1).map_err(|e| format!("tests[{i}]: {e}"))?;
        tests.push(test);
    }
    Ok(TestFile {
        path: path.to_path_buf(),
        rule_id,
        tests,
    })
}

fn parse_test(t: &Yaml, rule_id: u32, position: usize) -> Result<FtwTest, String> {
    if !matches!(t, Yaml::Hash(_)) {
        return Err("not a mapping".into());
    }
    let test_id = match opt_u32(&t["test_id"], "test_id")? {
        Some(id) if id != 0 => id,
        _ => u32::try_from(position).map_err(|_| "too many tests")?,
    };
    let mut stages = Vec::new();
    for (i, s) in list(&t["stages"], "stages")?.iter().enumerate() {
        let stage = parse_stage(s).map_err(|e| format!("test {test_id} stages[{i}]: {e}"))?;
        stages.push(stage);
    }
    Ok(FtwTest {
        rule_id,
        test_id,
        desc: opt_string(&t["desc"], "desc")?.unwrap_or_default(),
        stages,
    })
}

fn parse_stage(s: &Yaml) -> Result<Stage, String> {
    // The older format nests input and output under `stage:`.
    let s = if s["stage"].is_badvalue() {
        s
    } else {
        &s["stage"]
    };
    if !matches!(s, Yaml::Hash(_)) {
        return Err("not a mapping".into());
    }
    Ok(Stage {
        input: parse_input(&s["input"]).map_err(|e| format!("input: {e}"))?,
        output: parse_output(&s["output"]).map_err(|e| format!("output: {e}"))?,
    })
}

fn parse_input(y: &Yaml) -> Result<Input, String> {
    if is_absent(y) {
        return Ok(Input::default());
    }
    if !matches!(y, Yaml::Hash(_)) {
        return Err("not a mapping".into());
    }
    let (headers, header_order) = if !is_absent(&y["ordered_headers"]) {
        (headers(&y["ordered_headers"])?, HeaderOrder::AsGiven)
    } else {
        let order = match &y["headers"] {
            Yaml::Array(_) => HeaderOrder::AsGiven,
            _ => HeaderOrder::Sorted,
        };
        (headers(&y["headers"])?, order)
    };
    let stop_magic = opt_bool(&y["stop_magic"], "stop_magic")?;
    let autocomplete = opt_bool(&y["autocomplete_headers"], "autocomplete_headers")?;
    let port = opt_u32(&y["port"], "port")?
        .map(|p| u16::try_from(p).map_err(|_| format!("port {p} out of range")))
        .transpose()?;
    let encoded_request = match opt_string(&y["encoded_request"], "encoded_request")? {
        Some(s) if !s.is_empty() => Some(s),
        _ => opt_string(&y["raw_request"], "raw_request")?.filter(|s| !s.is_empty()),
    };
    Ok(Input {
        dest_addr: opt_string(&y["dest_addr"], "dest_addr")?,
        port,
        protocol: opt_string(&y["protocol"], "protocol")?,
        method: opt_string(&y["method"], "method")?,
        uri: opt_string(&y["uri"], "uri")?,
        version: opt_string(&y["version"], "version")?,
        headers,
        header_order,
        data: opt_string(&y["data"], "data")?,
        encoded_data: opt_string(&y["encoded_data"], "encoded_data")?,
        encoded_request,
        autocomplete_headers: autocomplete.unwrap_or(!stop_magic.unwrap_or(false)),
        save_cookie: opt_bool(&y["save_cookie"], "save_cookie")?.unwrap_or(false),
        virtual_host_mode: opt_bool(&y["virtual_host_mode"], "virtual_host_mode")?.unwrap_or(false),
    })
}

/// Headers as a map (`Name: value`) or a list (`- name: N\n  value: V`, or one-entry maps).
fn headers(y: &Yaml) -> Result<Vec<(String, String)>, String> {
    match y {
        Yaml::Hash(h) => h
            .iter()
            .map(|(k, v)| {
                let name = scalar(k).ok_or("headers: a header name is not a scalar")?;
                let value = scalar(v).ok_or_else(|| format!("headers: {name}: not a scalar"))?;
                Ok((name, value))
            })
            .collect(),
        Yaml::Array(items) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let Yaml::Hash(h) = item else {
                    return Err(format!("headers[{i}]: not a mapping"));
                };
                if !item["name"].is_badvalue() {
                    let name = scalar(&item["name"])
                        .ok_or_else(|| format!("headers[{i}].name: not a scalar"))?;
                    let value = match &item["value"] {
                        Yaml::BadValue | Yaml::Null => String::new(),
                        v => {
                            scalar(v).ok_or_else(|| format!("headers[{i}].value: not a scalar"))?
                        }
                    };
                    out.push((name, value));
                } else {
                    for (k, v) in h {
                        let name =
                            scalar(k).ok_or_else(|| format!("headers[{i}]: name not a scalar"))?;
                        let value = scalar(v)
                            .ok_or_else(|| format!("headers[{i}]: {name}: not a scalar"))?;
                        out.push((name, value));
                    }
                }
            }
            Ok(out)
        }
        y if is_absent(y) => Ok(Vec::new()),
        _ => Err("headers: neither a mapping nor a list".into()),
    }
}

/// Parses an `output` mapping (also used by the overrides file).
pub(crate) fn parse_output(y: &Yaml) -> Result<Output, String> {
    if is_absent(y) {
        return Ok(Output::default());
    }
    if !matches!(y, Yaml::Hash(_)) {
        return Err("not a mapping".into());
    }
    let status = match &y["status"] {
        Yaml::Array(items) => items
            .iter()
            .map(status_code)
            .collect::<Result<Vec<_>, _>>()?,
        s if is_absent(s) => Vec::new(),
        s => vec![status_code(s)?],
    };
    let log = &y["log"];
    let log = if is_absent(log) {
        LogExpect::default()
    } else {
        if !matches!(log, Yaml::Hash(_)) {
            return Err("log: not a mapping".into());
        }
        LogExpect {
            expect_ids: ids(&log["expect_ids"], "log.expect_ids")?,
            no_expect_ids: ids(&log["no_expect_ids"], "log.no_expect_ids")?,
            match_regex: opt_string(&log["match_regex"], "log.match_regex")?
                .filter(|s| !s.is_empty()),
            no_match_regex: opt_string(&log["no_match_regex"], "log.no_match_regex")?
                .filter(|s| !s.is_empty()),
        }
    };
    Ok(Output {
        status,
        response_contains: opt_string(&y["response_contains"], "response_contains")?
            .filter(|s| !s.is_empty()),
        log_contains: opt_string(&y["log_contains"], "log_contains")?.filter(|s| !s.is_empty()),
        no_log_contains: opt_string(&y["no_log_contains"], "no_log_contains")?
            .filter(|s| !s.is_empty()),
        log,
        expect_error: opt_bool(&y["expect_error"], "expect_error")?,
        isolated: opt_bool(&y["isolated"], "isolated")?.unwrap_or(false),
    })
}

fn status_code(y: &Yaml) -> Result<u16, String> {
    match y {
        Yaml::Integer(n) => u16::try_from(*n).map_err(|_| format!("status {n} out of range")),
        Yaml::String(s) => s
            .trim()
            .parse()
            .map_err(|_| format!("status {s:?} not a number")),
        _ => Err("status: not a number".into()),
    }
}

/// A list of rule ids; a single id is accepted as a one-element list.
pub(crate) fn ids(y: &Yaml, field: &str) -> Result<Vec<u32>, String> {
    match y {
        Yaml::Array(items) => items
            .iter()
            .map(|i| opt_u32(i, field)?.ok_or_else(|| format!("{field}: null entry")))
            .collect(),
        y if is_absent(y) => Ok(Vec::new()),
        y => Ok(vec![opt_u32(y, field)?.unwrap_or_default()]),
    }
}

/// True when the key is missing or explicitly null.
pub(crate) fn is_absent(y: &Yaml) -> bool {
    matches!(y, Yaml::BadValue | Yaml::Null)
}

/// A list, or an empty one when absent.
pub(crate) fn list<'a>(y: &'a Yaml, field: &str) -> Result<&'a [Yaml], String> {
    match y {
        Yaml::Array(items) => Ok(items),
        y if is_absent(y) => Ok(&[]),
        _ => Err(format!("{field}: not a list")),
    }
}

/// A scalar's text the way go-ftw's `string` fields read it.
fn scalar(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(n) => Some(n.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        Yaml::Null => Some(String::new()),
        _ => None,
    }
}

/// An optional string field.
pub(crate) fn opt_string(y: &Yaml, field: &str) -> Result<Option<String>, String> {
    match y {
        Yaml::BadValue | Yaml::Null => Ok(None),
        y => scalar(y)
            .map(Some)
            .ok_or_else(|| format!("{field}: not a scalar")),
    }
}

/// An optional non-negative integer field (a numeric string is accepted).
pub(crate) fn opt_u32(y: &Yaml, field: &str) -> Result<Option<u32>, String> {
    match y {
        Yaml::BadValue | Yaml::Null => Ok(None),
        Yaml::Integer(n) => u32::try_from(*n)
            .map(Some)
            .map_err(|_| format!("{field}: {n} out of range")),
        Yaml::String(s) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("{field}: {s:?} is not a number")),
        _ => Err(format!("{field}: not a number")),
    }
}

/// An optional boolean field.
pub(crate) fn opt_bool(y: &Yaml, field: &str) -> Result<Option<bool>, String> {
    match y {
        Yaml::BadValue | Yaml::Null => Ok(None),
        Yaml::Boolean(b) => Ok(Some(*b)),
        Yaml::String(s) if s == "true" || s == "false" => Ok(Some(s == "true")),
        _ => Err(format!("{field}: not a boolean")),
    }
}
