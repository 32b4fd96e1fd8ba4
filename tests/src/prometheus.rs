//! Prometheus text parsed by the reference parser (`prometheus_client.parser`, Debian package
//! python3-prometheus-client), so tests check the exposition against a real implementation.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

/// One sample.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Series name, e.g. `moat_requests_total` or `moat_anomaly_score_bucket`.
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Value.
    pub value: f64,
}

/// One metric family.
#[derive(Debug, Clone)]
pub struct Family {
    /// Family name as the parser reports it (`_total` removed from counters).
    pub name: String,
    /// `counter`, `gauge`, `histogram`, … (`unknown` when no TYPE line named it).
    pub kind: String,
    /// HELP text.
    pub help: String,
    /// Its samples.
    pub samples: Vec<Sample>,
}

const PARSER: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": f.name, "type": f.type, "help": f.documentation,
                "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]})
print(json.dumps(out))
"#;

/// The Python that has Debian's prometheus_client (the system one, not a user's pyenv).
fn python() -> &'static str {
    if std::path::Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

/// Parses exposition text; panics with the parser's message when it is not valid.
pub fn parse(text: &str) -> Vec<Family> {
    let mut child = Command::new(python())
        .arg("-c")
        .arg(PARSER)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3 (install python3-prometheus-client: scripts/install-deps.sh)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client rejected the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    json.as_array()
        .unwrap()
        .iter()
        .map(|f| Family {
            name: f["name"].as_str().unwrap().to_string(),
            kind: f["type"].as_str().unwrap().to_string(),
            help: f["help"].as_str().unwrap().to_string(),
            samples: f["samples"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| Sample {
                    name: s["name"].as_str().unwrap().to_string(),
                    labels: s["labels"]
                        .as_object()
                        .unwrap()
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                        .collect(),
                    value: s["value"].as_f64().unwrap(),
                })
                .collect(),
        })
        .collect()
}

/// Every sample of every family.
pub fn samples(families: &[Family]) -> Vec<Sample> {
    families.iter().flat_map(|f| f.samples.clone()).collect()
}

/// The value of the sample `name` whose labels include all of `labels` (0 when none matches
/// exactly; several matching samples are summed).
pub fn value(families: &[Family], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples(families)
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}
