//! Judges for go-ftw requests: [`RulesJudge`] runs a SecLang rule set (OWASP CRS) the way CRS's
//! own test setup configures it; [`BuiltinJudge`] runs the built-in detectors.

use std::panic::{self, AssertUnwindSafe};

use crate::http_file::HttpFile;
use std::path::Path;
use std::sync::Arc;

use crate::parse::{Inputs, Limits};
use crate::request::{BodyPart, Header, Request, Response};
use crate::rules::RuleSet;
use crate::settings::{Mode, Settings};
use crate::{Action, Engine};

use super::nginx_front;
use super::run::{Judge, Judgement};

/// Parses the raw request like a front server would (a malformed request gets 400, as nginx
/// answers before any WAF runs) and runs the built-in detectors: 403 on block, else 200.
pub struct BuiltinJudge {
    engine: Engine,
}

impl BuiltinJudge {
    /// A judge over an engine with the given settings.
    pub fn new(settings: Settings) -> BuiltinJudge {
        BuiltinJudge {
            engine: Engine::new(settings),
        }
    }
}

impl Default for BuiltinJudge {
    fn default() -> Self {
        BuiltinJudge::new(Settings::default())
    }
}

impl Judge for BuiltinJudge {
    fn judge(&self, raw: &[u8]) -> Judgement {
        judge_with(&self.engine, raw)
    }
}

/// The response CRS's test backend (albedo) sends: for `POST /reflect` the status, headers and
/// body described by the JSON request body, otherwise an empty 200.
struct Reflected {
    status: u16,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    body: Vec<u8>,
}

impl Reflected {
    fn from_request(req: &Request<'_>) -> Reflected {
        let mut reflected = Reflected {
            status: 200,
            headers: Vec::new(),
            body: Vec::new(),
        };
        let body: Vec<u8> = req
            .body
            .iter()
            .filter_map(|p| match p {
                BodyPart::Memory(b) => Some(b.to_vec()),
                _ => None,
            })
            .flatten()
            .collect();
        if req.path() != b"/reflect" || body.is_empty() {
            return reflected;
        }
        let mut inputs = Inputs::default();
        crate::parse::json::parse(&body, &mut inputs, &Limits::default());
        for f in &inputs.fields {
            match &*f.name {
                b"body" => reflected.body = f.value.to_vec(),
                b"status" => {
                    reflected.status = std::str::from_utf8(&f.value)
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(200)
                }
                name => {
                    if let Some(h) = name.strip_prefix(b"headers.") {
                        reflected.headers.push((h.to_vec(), f.value.to_vec()));
                    }
                }
            }
        }
        reflected
    }

    fn response(&self) -> Response<'_> {
        Response {
            status: self.status,
            protocol: b"HTTP/1.1",
            headers: self
                .headers
                .iter()
                .map(|(n, v)| Header { name: n, value: v })
                .collect(),
            body: &self.body,
        }
    }
}

/// CRS's test configuration (`tests/regression/README.md`): detection only, paranoia level 4,
/// the argument and file limits the tests assume.
pub const CRS_TEST_SETUP: &str = r#"SecAction "id:900005,phase:1,nolog,pass,ctl:ruleEngine=DetectionOnly,ctl:ruleRemoveById=910000,setvar:tx.blocking_paranoia_level=4,setvar:tx.crs_validate_utf8_encoding=1,setvar:tx.arg_name_length=100,setvar:tx.arg_length=400,setvar:tx.total_arg_length=64000,setvar:tx.max_num_args=255,setvar:tx.max_file_size=64100,setvar:tx.combined_file_sizes=65535"
"#;

/// Judges with a SecLang rule set only (no built-in detectors), in detection mode.
pub struct RulesJudge {
    engine: Engine,
}

impl RulesJudge {
    /// Loads OWASP CRS from its directory (`crs-setup.conf.example` or `crs-setup.conf`, then
    /// `rules/*.conf`) with [`CRS_TEST_SETUP`] in between; errors are `file:line: reason`.
    pub fn crs(crs_dir: &Path) -> Result<RulesJudge, String> {
        // Include paths resolve against the including file's directory: make them absolute.
        let crs_dir = &crs_dir
            .canonicalize()
            .map_err(|e| format!("{}: {e}", crs_dir.display()))?;
        let setup = ["crs-setup.conf", "crs-setup.conf.example"]
            .iter()
            .map(|f| crs_dir.join(f))
            .find(|p| p.is_file())
            .ok_or_else(|| format!("{}: no crs-setup.conf(.example)", crs_dir.display()))?;
        let text = format!(
            "Include \"{}\"\n{CRS_TEST_SETUP}Include \"{}/rules/*.conf\"\n",
            setup.display(),
            crs_dir.display()
        );
        let origin = crs_dir.join("moat-ftw.conf");
        let config = crate::seclang::parse_str(&text, &origin.to_string_lossy())
            .map_err(|e| join_errors(&e))?;
        let rules = RuleSet::compile(&config).map_err(|e| join_errors(&e))?;
        // A conformance run judges what the rules decide, not how fast: a busy machine must
        // not turn a slow request into a fail-open.
        let settings = Settings {
            mode: Mode::Detect,
            time_budget: std::time::Duration::from_secs(10),
            ..Settings::default()
        };
        Ok(RulesJudge {
            engine: Engine::with_rules(settings, Some(Arc::new(rules))).without_builtin_detectors(),
        })
    }
}

fn join_errors(errors: &[crate::seclang::error::SecLangError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl Judge for RulesJudge {
    fn judge(&self, raw: &[u8]) -> Judgement {
        judge_with(&self.engine, raw)
    }
}

/// Parses the raw request like a front server (a malformed request gets 400, as nginx answers
/// before any WAF runs), judges it with `engine`: the verdict's status on a block, else 200.
fn judge_with(engine: &Engine, raw: &[u8]) -> Judgement {
    let raw = match nginx_front::front(raw) {
        Ok(raw) => raw,
        Err(status) => {
            return Judgement {
                status: Some(status),
                matched_ids: Vec::new(),
                log: format!("nginx answered {status} before any module ran"),
                error: Some(format!("nginx answers {status}")),
            }
        }
    };
    let raw = &raw[..];
    let result = panic::catch_unwind(AssertUnwindSafe(|| match HttpFile::parse(raw) {
        Err(e) => Judgement {
            status: Some(400),
            matched_ids: Vec::new(),
            log: format!("Moat: request rejected before inspection: {e}"),
            error: Some(e),
        },
        Ok(http) => {
            let request = http.request();
            let reflected = Reflected::from_request(&request);
            let response = reflected.response();
            let verdict =
                engine.check_exchange(&request, Some(&response), None, engine.default_rules());
            Judgement {
                status: Some(if verdict.action == Action::Block {
                    verdict.status
                } else {
                    200
                }),
                matched_ids: verdict.findings.iter().map(|f| f.rule_id).collect(),
                log: verdict.log_line().unwrap_or_default(),
                error: None,
            }
        }
    }));
    result.unwrap_or_else(|_| Judgement {
        status: None,
        error: Some("panic while judging the request".into()),
        ..Judgement::default()
    })
}
