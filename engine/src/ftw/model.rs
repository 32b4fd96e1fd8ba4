//! The go-ftw test model: what one YAML test file says, with go-ftw's defaults applied where
//! the file leaves a field out.

use std::path::PathBuf;

/// One test file: the tests of one rule.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TestFile {
    /// Where the file was read from.
    pub path: PathBuf,
    /// The rule the tests target (`rule_id`, else the file name's number).
    pub rule_id: u32,
    /// The tests, in file order.
    pub tests: Vec<FtwTest>,
}

/// One test: a sequence of stages that must all pass.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FtwTest {
    /// The rule the test targets.
    pub rule_id: u32,
    /// The test's number within its rule (`test_id`, else its 1-based position).
    pub test_id: u32,
    /// Free-text description (`desc`).
    pub desc: String,
    /// The stages, in order.
    pub stages: Vec<Stage>,
}

impl FtwTest {
    /// The test's id as go-ftw prints and filters it: `<rule_id>-<test_id>`.
    pub fn id_string(&self) -> String {
        format!("{}-{}", self.rule_id, self.test_id)
    }
}

/// One request and what is expected of its handling.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stage {
    /// The request to send.
    pub input: Input,
    /// The expectations.
    pub output: Output,
}

/// How the request headers were given, which decides the order go-ftw sends them in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HeaderOrder {
    /// Given as a map (`headers: {Name: value}`): go-ftw sends them sorted by name.
    #[default]
    Sorted,
    /// Given as a list (`ordered_headers`, or `headers` written as a list): sent as given.
    AsGiven,
}

/// A stage's request (`input`).
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    /// `dest_addr` (not used in-process).
    pub dest_addr: Option<String>,
    /// `port` (not used in-process).
    pub port: Option<u16>,
    /// `protocol` (not used in-process).
    pub protocol: Option<String>,
    /// `method`; `None` means go-ftw's default `GET`.
    pub method: Option<String>,
    /// `uri`; `None` means go-ftw's default `/`.
    pub uri: Option<String>,
    /// `version`; `None` means go-ftw's default `HTTP/1.1` (an explicit `""` stays empty).
    pub version: Option<String>,
    /// Headers as `(name, value)` in file order.
    pub headers: Vec<(String, String)>,
    /// Whether the headers are sent sorted (map form) or as given (list form).
    pub header_order: HeaderOrder,
    /// `data`: the body, before go-ftw's template expansion and form encoding.
    pub data: Option<String>,
    /// `encoded_data`: the body as base64, sent verbatim.
    pub encoded_data: Option<String>,
    /// `encoded_request` (or the older `raw_request`): the whole request as base64.
    pub encoded_request: Option<String>,
    /// `autocomplete_headers` (default true; the older `stop_magic` is its inverse).
    pub autocomplete_headers: bool,
    /// `save_cookie` (no effect in-process).
    pub save_cookie: bool,
    /// `virtual_host_mode` (no effect in-process).
    pub virtual_host_mode: bool,
}

impl Default for Input {
    fn default() -> Self {
        Input {
            dest_addr: None,
            port: None,
            protocol: None,
            method: None,
            uri: None,
            version: None,
            headers: Vec::new(),
            header_order: HeaderOrder::Sorted,
            data: None,
            encoded_data: None,
            encoded_request: None,
            autocomplete_headers: true,
            save_cookie: false,
            virtual_host_mode: false,
        }
    }
}

/// A stage's expectations (`output`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Output {
    /// Accepted HTTP statuses; empty means any.
    pub status: Vec<u16>,
    /// `response_contains`: a regex over the response (cannot be checked in-process).
    pub response_contains: Option<String>,
    /// `log_contains` (older form of `log.match_regex`).
    pub log_contains: Option<String>,
    /// `no_log_contains` (older form of `log.no_match_regex`).
    pub no_log_contains: Option<String>,
    /// `log`: expectations on the rules that fired and the log text.
    pub log: LogExpect,
    /// `expect_error`: the request is expected to get no HTTP response.
    pub expect_error: Option<bool>,
    /// `isolated`: exactly one rule (the one in `expect_ids`) may fire.
    pub isolated: bool,
}

/// Expectations on the log (`output.log`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogExpect {
    /// Rule ids that must all fire.
    pub expect_ids: Vec<u32>,
    /// Rule ids none of which may fire.
    pub no_expect_ids: Vec<u32>,
    /// A regex the log must match.
    pub match_regex: Option<String>,
    /// A regex the log must not match.
    pub no_match_regex: Option<String>,
}
