//! Rule targets: `ARGS|!ARGS:foo|&TX:x|REQUEST_HEADERS:/^x-/|XML:/*`.

use super::error::Reason;

macro_rules! collections {
    ($($variant:ident => $name:literal,)*) => {
        /// Every variable and collection ModSecurity documents (v2 reference manual and libmodsecurity).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Collection {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant,
            )*
        }

        impl Collection {
            /// Every collection, in declaration order.
            pub const ALL: &'static [Collection] = &[$(Collection::$variant,)*];

            /// The canonical (upper-case) name.
            pub fn name(self) -> &'static str {
                match self {
                    $(Collection::$variant => $name,)*
                }
            }

            /// Looks a name up, case-insensitively (rule macros look names up per request:
            /// a table keyed by the upper-case name answers them).
            pub fn from_name(name: &str) -> Option<Collection> {
                static BY_NAME: std::sync::OnceLock<std::collections::HashMap<&'static str, Collection>> =
                    std::sync::OnceLock::new();
                let table = BY_NAME.get_or_init(|| Collection::ALL.iter().map(|c| (c.name(), *c)).collect());
                match table.get(name) {
                    Some(c) => Some(*c),
                    None if name.bytes().any(|b| b.is_ascii_lowercase()) => {
                        table.get(name.to_ascii_uppercase().as_str()).copied()
                    }
                    None => None,
                }
            }
        }
    };
}

collections! {
    Args => "ARGS",
    ArgsCombinedSize => "ARGS_COMBINED_SIZE",
    ArgsGet => "ARGS_GET",
    ArgsGetNames => "ARGS_GET_NAMES",
    ArgsNames => "ARGS_NAMES",
    ArgsPost => "ARGS_POST",
    ArgsPostNames => "ARGS_POST_NAMES",
    AuthType => "AUTH_TYPE",
    Duration => "DURATION",
    Env => "ENV",
    Files => "FILES",
    FilesCombinedSize => "FILES_COMBINED_SIZE",
    FilesNames => "FILES_NAMES",
    FilesSizes => "FILES_SIZES",
    FilesTmpContent => "FILES_TMP_CONTENT",
    FilesTmpNames => "FILES_TMPNAMES",
    FullRequest => "FULL_REQUEST",
    FullRequestLength => "FULL_REQUEST_LENGTH",
    Geo => "GEO",
    Global => "GLOBAL",
    HighestSeverity => "HIGHEST_SEVERITY",
    InboundDataError => "INBOUND_DATA_ERROR",
    Ip => "IP",
    MatchedVar => "MATCHED_VAR",
    MatchedVarName => "MATCHED_VAR_NAME",
    MatchedVars => "MATCHED_VARS",
    MatchedVarsNames => "MATCHED_VARS_NAMES",
    ModsecBuild => "MODSEC_BUILD",
    MscPcreLimitsExceeded => "MSC_PCRE_LIMITS_EXCEEDED",
    MultipartBoundaryQuoted => "MULTIPART_BOUNDARY_QUOTED",
    MultipartBoundaryWhitespace => "MULTIPART_BOUNDARY_WHITESPACE",
    MultipartCrlfLfLines => "MULTIPART_CRLF_LF_LINES",
    MultipartDataAfter => "MULTIPART_DATA_AFTER",
    MultipartDataBefore => "MULTIPART_DATA_BEFORE",
    MultipartFileLimitExceeded => "MULTIPART_FILE_LIMIT_EXCEEDED",
    MultipartFilename => "MULTIPART_FILENAME",
    MultipartHeaderFolding => "MULTIPART_HEADER_FOLDING",
    MultipartInvalidHeaderFolding => "MULTIPART_INVALID_HEADER_FOLDING",
    MultipartInvalidPart => "MULTIPART_INVALID_PART",
    MultipartInvalidQuoting => "MULTIPART_INVALID_QUOTING",
    MultipartLfLine => "MULTIPART_LF_LINE",
    MultipartMissingSemicolon => "MULTIPART_MISSING_SEMICOLON",
    MultipartName => "MULTIPART_NAME",
    MultipartPartHeaders => "MULTIPART_PART_HEADERS",
    MultipartSemicolonMissing => "MULTIPART_SEMICOLON_MISSING",
    MultipartStrictError => "MULTIPART_STRICT_ERROR",
    MultipartUnmatchedBoundary => "MULTIPART_UNMATCHED_BOUNDARY",
    OutboundDataError => "OUTBOUND_DATA_ERROR",
    PathInfo => "PATH_INFO",
    PerfAll => "PERF_ALL",
    PerfCombined => "PERF_COMBINED",
    PerfGc => "PERF_GC",
    PerfLogging => "PERF_LOGGING",
    PerfPhase1 => "PERF_PHASE1",
    PerfPhase2 => "PERF_PHASE2",
    PerfPhase3 => "PERF_PHASE3",
    PerfPhase4 => "PERF_PHASE4",
    PerfPhase5 => "PERF_PHASE5",
    PerfRules => "PERF_RULES",
    PerfSread => "PERF_SREAD",
    PerfSwrite => "PERF_SWRITE",
    QueryString => "QUERY_STRING",
    RemoteAddr => "REMOTE_ADDR",
    RemoteHost => "REMOTE_HOST",
    RemotePort => "REMOTE_PORT",
    RemoteUser => "REMOTE_USER",
    ReqbodyError => "REQBODY_ERROR",
    ReqbodyErrorMsg => "REQBODY_ERROR_MSG",
    ReqbodyProcessor => "REQBODY_PROCESSOR",
    ReqbodyProcessorError => "REQBODY_PROCESSOR_ERROR",
    ReqbodyProcessorErrorMsg => "REQBODY_PROCESSOR_ERROR_MSG",
    RequestBasename => "REQUEST_BASENAME",
    RequestBody => "REQUEST_BODY",
    RequestBodyLength => "REQUEST_BODY_LENGTH",
    RequestCookies => "REQUEST_COOKIES",
    RequestCookiesNames => "REQUEST_COOKIES_NAMES",
    RequestFilename => "REQUEST_FILENAME",
    RequestHeaders => "REQUEST_HEADERS",
    RequestHeadersNames => "REQUEST_HEADERS_NAMES",
    RequestLine => "REQUEST_LINE",
    RequestMethod => "REQUEST_METHOD",
    RequestProtocol => "REQUEST_PROTOCOL",
    RequestUri => "REQUEST_URI",
    RequestUriRaw => "REQUEST_URI_RAW",
    Resource => "RESOURCE",
    ResponseBody => "RESPONSE_BODY",
    ResponseContentLength => "RESPONSE_CONTENT_LENGTH",
    ResponseContentType => "RESPONSE_CONTENT_TYPE",
    ResponseHeaders => "RESPONSE_HEADERS",
    ResponseHeadersNames => "RESPONSE_HEADERS_NAMES",
    ResponseProtocol => "RESPONSE_PROTOCOL",
    ResponseStatus => "RESPONSE_STATUS",
    Rule => "RULE",
    ScriptBasename => "SCRIPT_BASENAME",
    ScriptFilename => "SCRIPT_FILENAME",
    ScriptGid => "SCRIPT_GID",
    ScriptGroupname => "SCRIPT_GROUPNAME",
    ScriptMode => "SCRIPT_MODE",
    ScriptUid => "SCRIPT_UID",
    ScriptUsername => "SCRIPT_USERNAME",
    SdbmDeleteError => "SDBM_DELETE_ERROR",
    ServerAddr => "SERVER_ADDR",
    ServerName => "SERVER_NAME",
    ServerPort => "SERVER_PORT",
    Session => "SESSION",
    SessionId => "SESSIONID",
    StatusLine => "STATUS_LINE",
    StreamInputBody => "STREAM_INPUT_BODY",
    StreamOutputBody => "STREAM_OUTPUT_BODY",
    Time => "TIME",
    TimeDay => "TIME_DAY",
    TimeEpoch => "TIME_EPOCH",
    TimeHour => "TIME_HOUR",
    TimeMin => "TIME_MIN",
    TimeMon => "TIME_MON",
    TimeSec => "TIME_SEC",
    TimeWday => "TIME_WDAY",
    TimeYear => "TIME_YEAR",
    Tx => "TX",
    UniqueId => "UNIQUE_ID",
    UrlencodedError => "URLENCODED_ERROR",
    User => "USER",
    UserId => "USERID",
    UseragentIp => "USERAGENT_IP",
    WebappId => "WEBAPPID",
    WebserverErrorLog => "WEBSERVER_ERROR_LOG",
    Xml => "XML",
}

/// Which members of a collection a target selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// The whole collection (or the scalar variable).
    None,
    /// One key; stored lower-cased because ModSecurity compares collection keys
    /// case-insensitively.
    Key(String),
    /// Keys matching a regex (`COLLECTION:/regex/`, slashes removed).
    Regex(String),
    /// An XPath expression (`XML:/*`).
    XPath(String),
}

/// One target of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariableSpec {
    /// The variable or collection.
    pub collection: Collection,
    /// Which members are selected.
    pub selector: Selector,
    /// `&`: the number of selected members instead of their values.
    pub count: bool,
    /// `!`: remove the selected members from the rule's targets.
    pub exclude: bool,
}

/// Parses a `|`-separated target list. A regex selector may itself contain `|`.
pub fn parse_variables(text: &str) -> Result<Vec<VariableSpec>, Reason> {
    let out = parse_target_list(text)?;
    if out.iter().all(|v| v.exclude) {
        return Err("variable list contains only exclusions".into());
    }
    Ok(out)
}

/// Parses a target list used inside exclusions (`SecRuleUpdateTargetById`, `ctl:ruleRemoveTarget…`),
/// where a list made only of `!` exclusions is allowed.
pub fn parse_target_list(text: &str) -> Result<Vec<VariableSpec>, Reason> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err("empty variable list".into());
    }
    let mut out = Vec::new();
    loop {
        let (spec, after) = parse_one(rest)?;
        out.push(spec);
        match after.strip_prefix('|') {
            Some(next) => rest = next.trim_start(),
            None if after.trim().is_empty() => return Ok(out),
            None => return Err(format!("unexpected text {after:?} in variable list")),
        }
    }
}

/// Parses one target at the start of `text`; returns it and the unparsed rest.
fn parse_one(text: &str) -> Result<(VariableSpec, &str), Reason> {
    let mut rest = text;
    let exclude = rest.starts_with('!');
    if exclude {
        rest = &rest[1..];
    }
    let count = rest.starts_with('&');
    if count {
        rest = &rest[1..];
    }
    if exclude && count {
        return Err("a variable cannot be both excluded (!) and counted (&)".into());
    }
    let name_len = rest
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    let name = &rest[..name_len];
    if name.is_empty() {
        return Err(format!("expected a variable name at {text:?}"));
    }
    let collection =
        Collection::from_name(name).ok_or_else(|| format!("unknown variable {name:?}"))?;
    rest = &rest[name_len..];
    let selector = match rest.strip_prefix(':') {
        None => Selector::None,
        Some(sel) => {
            let (selector, after) = parse_selector(collection, sel)?;
            rest = after;
            selector
        }
    };
    Ok((
        VariableSpec {
            collection,
            selector,
            count,
            exclude,
        },
        rest,
    ))
}

/// Parses a selector after `:`; returns it and the rest (starting at `|` or the end).
fn parse_selector(collection: Collection, sel: &str) -> Result<(Selector, &str), Reason> {
    if collection == Collection::Xml {
        let end = sel.find('|').unwrap_or(sel.len());
        let xpath = sel[..end].trim_end();
        if xpath.is_empty() {
            return Err("empty XPath selector for XML".into());
        }
        return Ok((Selector::XPath(xpath.to_string()), &sel[end..]));
    }
    if let Some(body) = sel.strip_prefix('/') {
        let bytes = body.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i += 2,
                b'/' => {
                    let regex = &body[..i];
                    if regex.is_empty() {
                        return Err(format!("empty regex selector for {}", collection.name()));
                    }
                    return Ok((Selector::Regex(regex.to_string()), &body[i + 1..]));
                }
                _ => i += 1,
            }
        }
        return Err(format!(
            "unterminated regex selector for {}",
            collection.name()
        ));
    }
    if let Some(body) = sel.strip_prefix('\'') {
        let end = body
            .find('\'')
            .ok_or_else(|| format!("unterminated quoted selector for {}", collection.name()))?;
        return Ok((key(collection, &body[..end])?, &body[end + 1..]));
    }
    let end = sel.find('|').unwrap_or(sel.len());
    Ok((key(collection, sel[..end].trim_end())?, &sel[end..]))
}

/// A key selector, lower-cased.
fn key(collection: Collection, key: &str) -> Result<Selector, Reason> {
    if key.is_empty() {
        return Err(format!("empty selector for {}", collection.name()));
    }
    Ok(Selector::Key(key.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(c: Collection, s: Selector, count: bool, exclude: bool) -> VariableSpec {
        VariableSpec {
            collection: c,
            selector: s,
            count,
            exclude,
        }
    }

    #[test]
    fn parses_all_forms() {
        let got = parse_variables(
            "ARGS|ARGS_NAMES|!ARGS:foo|&ARGS|REQUEST_HEADERS:User-Agent|ARGS:/^(id|x)_\\//|XML:/*|TX:0|matched_vars",
        )
        .unwrap();
        use Collection::*;
        assert_eq!(
            got,
            vec![
                v(Args, Selector::None, false, false),
                v(ArgsNames, Selector::None, false, false),
                v(Args, Selector::Key("foo".into()), false, true),
                v(Args, Selector::None, true, false),
                v(
                    RequestHeaders,
                    Selector::Key("user-agent".into()),
                    false,
                    false
                ),
                v(Args, Selector::Regex("^(id|x)_\\/".into()), false, false),
                v(Xml, Selector::XPath("/*".into()), false, false),
                v(Tx, Selector::Key("0".into()), false, false),
                v(MatchedVars, Selector::None, false, false),
            ]
        );
    }

    #[test]
    fn xpath_with_attribute_and_quoted_key() {
        let got = parse_variables("XML://@*|REQUEST_COOKIES:'a b'").unwrap();
        assert_eq!(got[0].selector, Selector::XPath("//@*".into()));
        assert_eq!(got[1].selector, Selector::Key("a b".into()));
    }

    #[test]
    fn errors() {
        for (text, want) in [
            ("NOPE", "unknown variable \"NOPE\""),
            ("ARGS|", "expected a variable name"),
            ("", "empty variable list"),
            ("!&ARGS:x", "both excluded"),
            ("ARGS:/abc", "unterminated regex"),
            ("ARGS:", "empty selector"),
            ("ARGS:/x/y", "unexpected text"),
            ("!ARGS:a", "only exclusions"),
        ] {
            let err = parse_variables(text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
        }
        assert_eq!(parse_target_list("!ARGS:a").unwrap().len(), 1);
        // A whole collection or a keyless variable can be excluded, as in ModSecurity
        // (`SecRuleUpdateTargetById 300000-399999 !REQUEST_COOKIES`).
        let whole = parse_target_list("!REQUEST_COOKIES|!REQUEST_FILENAME").unwrap();
        assert!(whole
            .iter()
            .all(|t| t.exclude && t.selector == Selector::None));
    }

    #[test]
    fn every_collection_round_trips() {
        for c in Collection::ALL {
            assert_eq!(Collection::from_name(&c.name().to_lowercase()), Some(*c));
        }
    }
}
