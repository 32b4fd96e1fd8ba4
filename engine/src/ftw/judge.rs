//! [`BuiltinJudge`]: judges go-ftw requests with the built-in detectors ([`Engine`]) until the
//! SecLang engine can run CRS.

use std::panic::{self, AssertUnwindSafe};

use crate::http_file::HttpFile;
use crate::settings::Settings;
use crate::{Action, Engine};

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
        let result = panic::catch_unwind(AssertUnwindSafe(|| match HttpFile::parse(raw) {
            Err(e) => Judgement {
                status: Some(400),
                matched_ids: Vec::new(),
                log: format!("Moat: request rejected before inspection: {e}"),
                error: Some(e),
            },
            Ok(http) => {
                let verdict = self.engine.check(&http.request(), None);
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
}
