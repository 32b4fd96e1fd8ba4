//! Platform overrides (`nginx-overrides.yaml`, `coraza-overrides.yaml`): per-test replacement
//! expectations for a platform that answers differently from the reference (Apache).
//!
//! Semantics follow go-ftw and the ftw-tests-schema: an entry names a `rule_id`, optionally
//! `test_ids` (absent: every test of the rule) and `stage_ids` (absent: every stage), and its
//! `output` *replaces* the targeted stages' output as a whole (an entry without `output` leaves
//! them with no expectations). go-ftw's run-config lists are accepted too, at the top level or
//! under `testoverride:`: `ignore` (skip), `forcepass` and `forcefail`, each a map from a regex
//! over `<rule_id>-<test_id>` to a reason.

use std::path::Path;

use regex::Regex;
use yaml_rust2::{Yaml, YamlLoader};

use super::load::{ids, is_absent, list, opt_string, opt_u32, parse_output};
use super::model::{FtwTest, Output};

/// One `test_overrides[]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct TestOverride {
    /// The rule whose tests are overridden.
    pub rule_id: u32,
    /// The tests overridden; `None` means all tests of the rule.
    pub test_ids: Option<Vec<u32>>,
    /// The stages (0-based) overridden; `None` means all stages.
    pub stage_ids: Option<Vec<u32>>,
    /// Why the override exists.
    pub reason: String,
    /// The replacement output.
    pub output: Output,
}

/// A result decided by the overrides file instead of by running the test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forced {
    /// Do not run; report as skipped.
    Ignore,
    /// Do not run; report as passed.
    Pass,
    /// Do not run; report as failed.
    Fail,
}

/// A loaded overrides file.
#[derive(Debug, Default)]
pub struct Overrides {
    /// `test_overrides[]`, in file order.
    pub entries: Vec<TestOverride>,
    /// Regex-selected forced results with their reasons, checked in order: ignore, fail, pass.
    pub forced: Vec<(Forced, Regex, String)>,
}

/// What the overrides do to one test.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The test with replaced outputs.
    pub test: FtwTest,
    /// The reasons of the entries that applied.
    pub reasons: Vec<String>,
    /// A forced result and its reason, when one matched.
    pub forced: Option<(Forced, String)>,
}

impl Overrides {
    /// Reads and parses an overrides file; the error names the file and the reason.
    pub fn load(path: &Path) -> Result<Overrides, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Overrides::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses the text of an overrides file.
    pub fn parse(text: &str) -> Result<Overrides, String> {
        let docs = YamlLoader::load_from_str(text).map_err(|e| format!("YAML: {e}"))?;
        let Some(doc) = docs.first() else {
            return Ok(Overrides::default());
        };
        let mut entries = Vec::new();
        for (i, e) in list(&doc["test_overrides"], "test_overrides")?
            .iter()
            .enumerate()
        {
            entries.push(parse_entry(e).map_err(|r| format!("test_overrides[{i}]: {r}"))?);
        }
        let mut forced = Vec::new();
        for root in [doc, &doc["testoverride"]] {
            for (kind, key) in [
                (Forced::Ignore, "ignore"),
                (Forced::Fail, "forcefail"),
                (Forced::Pass, "forcepass"),
            ] {
                forced.extend(forced_list(&root[key], kind, key)?);
            }
        }
        forced.sort_by_key(|(kind, _, _)| match kind {
            Forced::Ignore => 0,
            Forced::Fail => 1,
            Forced::Pass => 2,
        });
        Ok(Overrides { entries, forced })
    }

    /// Applies the overrides to a test.
    pub fn apply(&self, test: &FtwTest) -> Applied {
        let id = test.id_string();
        let forced = self
            .forced
            .iter()
            .find(|(_, re, _)| re.is_match(&id))
            .map(|(kind, _, reason)| (*kind, reason.clone()));
        let mut out = test.clone();
        let mut reasons = Vec::new();
        for e in &self.entries {
            if e.rule_id != test.rule_id
                || e.test_ids
                    .as_ref()
                    .is_some_and(|ids| !ids.contains(&test.test_id))
            {
                continue;
            }
            for (i, stage) in out.stages.iter_mut().enumerate() {
                let selected = e
                    .stage_ids
                    .as_ref()
                    .map_or(true, |s| s.iter().any(|&x| usize::try_from(x) == Ok(i)));
                if selected {
                    stage.output = e.output.clone();
                }
            }
            reasons.push(e.reason.trim().to_string());
        }
        Applied {
            test: out,
            reasons,
            forced,
        }
    }
}

fn parse_entry(e: &Yaml) -> Result<TestOverride, String> {
    if !matches!(e, Yaml::Hash(_)) {
        return Err("not a mapping".into());
    }
    let rule_id = opt_u32(&e["rule_id"], "rule_id")?.ok_or("rule_id missing")?;
    let test_ids = if is_absent(&e["test_ids"]) {
        None
    } else {
        Some(ids(&e["test_ids"], "test_ids")?)
    };
    let stage_ids = if is_absent(&e["stage_ids"]) {
        None
    } else {
        Some(ids(&e["stage_ids"], "stage_ids")?)
    };
    Ok(TestOverride {
        rule_id,
        test_ids,
        stage_ids,
        reason: opt_string(&e["reason"], "reason")?.unwrap_or_default(),
        output: parse_output(&e["output"]).map_err(|r| format!("output: {r}"))?,
    })
}

fn forced_list(y: &Yaml, kind: Forced, key: &str) -> Result<Vec<(Forced, Regex, String)>, String> {
    let Yaml::Hash(h) = y else {
        return if is_absent(y) {
            Ok(Vec::new())
        } else {
            Err(format!("{key}: not a mapping"))
        };
    };
    h.iter()
        .map(|(k, v)| {
            let pattern = opt_string(k, key)?.unwrap_or_default();
            let re = Regex::new(&pattern).map_err(|e| format!("{key}: {pattern:?}: {e}"))?;
            let reason = opt_string(v, key)?.unwrap_or_default();
            Ok((kind, re, reason))
        })
        .collect()
}
