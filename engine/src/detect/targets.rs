//! The variables the injection detectors inspect, like CRS's
//! `ARGS|ARGS_NAMES|REQUEST_COOKIES|!REQUEST_COOKIES:/__utm/|REQUEST_COOKIES_NAMES|
//! REQUEST_HEADERS:User-Agent|REQUEST_HEADERS:Referer`, and reporting each variable once.

use super::{Deadline, Finding, OutOfTime, Severity};
use crate::parse::{Field, Inputs, Source};

/// Which part of a field a target is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// An argument value (`ARGS`).
    Arg,
    /// An argument name (`ARGS_NAMES`).
    ArgName,
    /// A cookie value (`REQUEST_COOKIES`).
    Cookie,
    /// A cookie name (`REQUEST_COOKIES_NAMES`).
    CookieName,
    /// A header value (`REQUEST_HEADERS`).
    Header,
    /// The text content of an XML body (`XML:/*`).
    XmlText,
    /// An attribute value of an XML body (`XML://@name`).
    XmlAttr,
}

/// One value to inspect and the field it came from.
#[derive(Debug, Clone, Copy)]
pub struct Target<'f> {
    /// What part of the field this is.
    pub kind: TargetKind,
    /// The field's name.
    pub name: &'f [u8],
    /// The bytes to inspect.
    pub value: &'f [u8],
}

impl Target<'_> {
    /// The variable as shown in verdicts, e.g. `ARGS_NAMES:q`.
    pub fn variable(&self) -> String {
        let collection = match self.kind {
            TargetKind::XmlText => return "XML:/*".into(),
            TargetKind::XmlAttr => "XML://@",
            TargetKind::Arg => "ARGS:",
            TargetKind::ArgName => "ARGS_NAMES:",
            TargetKind::Cookie => "REQUEST_COOKIES:",
            TargetKind::CookieName => "REQUEST_COOKIES_NAMES:",
            TargetKind::Header => "REQUEST_HEADERS:",
        };
        format!("{collection}{}", String::from_utf8_lossy(self.name))
    }
}

/// The injection targets of all fields, in field order (a field's name before its value).
pub fn injection_targets<'f>(inputs: &'f Inputs<'_>) -> InjectionTargets<'f, 'f> {
    InjectionTargets {
        fields: inputs.fields.iter(),
        value: None,
    }
}

/// The iterator of [`injection_targets`]: a field at a time, its value kept for the next call
/// (a plain loop; the flattening adapters cost as much as the detectors' memo lookups on a
/// body of hundreds of fields).
pub struct InjectionTargets<'f, 'a> {
    fields: std::slice::Iter<'f, Field<'a>>,
    /// The value of the field whose name came last.
    value: Option<Target<'f>>,
}

impl<'f> Iterator for InjectionTargets<'f, '_> {
    type Item = Target<'f>;

    fn next(&mut self) -> Option<Target<'f>> {
        if let Some(value) = self.value.take() {
            return Some(value);
        }
        for field in &mut self.fields {
            match field_targets(field) {
                [Some(first), second] => {
                    self.value = second;
                    return Some(first);
                }
                [None, Some(second)] => return Some(second),
                [None, None] => {}
            }
        }
        None
    }
}

/// The name and value targets of one field (none for fields the injection rules skip).
fn field_targets<'f>(field: &'f Field<'_>) -> [Option<Target<'f>>; 2] {
    let name = &*field.name;
    let value = &*field.value;
    let target = |kind, v| {
        Some(Target {
            kind,
            name,
            value: v,
        })
    };
    match field.source {
        Source::QueryArg | Source::BodyArg => [
            target(TargetKind::ArgName, name),
            target(TargetKind::Arg, value),
        ],
        Source::Cookie if !is_utm_cookie(name) => [
            target(TargetKind::CookieName, name),
            target(TargetKind::Cookie, value),
        ],
        Source::Header if is_inspected_header(name) => [target(TargetKind::Header, value), None],
        Source::XmlText => [target(TargetKind::XmlText, value), None],
        Source::XmlAttr => [target(TargetKind::XmlAttr, value), None],
        _ => [None, None],
    }
    .map(|t| t.filter(|t| !t.value.is_empty()))
}

/// Google Analytics cookies (`__utma`, `__utmz`, …) carry free text CRS excludes.
fn is_utm_cookie(name: &[u8]) -> bool {
    super::strip_prefix_ci(name, b"__utm").is_some()
}

/// The headers the injection rules look at: `User-Agent` and `Referer`.
fn is_inspected_header(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"user-agent") || name.eq_ignore_ascii_case(b"referer")
}

/// Adds `finding` unless a finding with the same rule id and variable is already among
/// `out[from..]` (the findings this detector added for the current request).
pub fn push_once(out: &mut Vec<Finding>, from: usize, finding: Finding) {
    let seen = out.get(from..).is_some_and(|mine| {
        mine.iter()
            .any(|f| f.rule_id == finding.rule_id && f.variable == finding.variable)
    });
    if !seen {
        out.push(finding);
    }
}

/// Runs `check` on every injection target `wanted` accepts and reports each rule it names as a
/// critical finding on the target's variable, once per rule and variable. The loop of the
/// detectors that need nothing but the value.
pub fn report_critical(
    inputs: &Inputs<'_>,
    deadline: &Deadline,
    out: &mut Vec<Finding>,
    wanted: impl Fn(TargetKind) -> bool,
    mut check: impl FnMut(&Target<'_>) -> Option<(u32, &'static str)>,
) -> Result<(), OutOfTime> {
    let from = out.len();
    for target in injection_targets(inputs) {
        if !wanted(target.kind) {
            continue;
        }
        deadline.check()?;
        if let Some((id, msg)) = check(&target) {
            let f = Finding::new(id, msg, Severity::Critical, target.variable(), target.value);
            push_once(out, from, f);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::detect::Severity;

    fn field(source: Source, name: &'static [u8], value: &'static [u8]) -> Field<'static> {
        Field {
            source,
            name: Cow::Borrowed(name),
            value: Cow::Borrowed(value),
        }
    }

    #[test]
    fn selects_args_cookies_two_headers_and_xml() {
        let mut inputs = Inputs::default();
        inputs.fields = vec![
            field(Source::QueryArg, b"q", b"x"),
            field(Source::Header, b"User-Agent", b"ua"),
            field(Source::Header, b"Accept", b"*/*"),
            field(Source::Cookie, b"__utmz", b"free text"),
            field(Source::Cookie, b"sid", b"abc"),
            field(Source::Filename, b"f", b"a.txt"),
            field(Source::XmlAttr, b"probe", b"1 OR 1=1"),
            field(Source::XmlText, b"", b"text"),
        ];
        let got: Vec<String> = injection_targets(&inputs).map(|t| t.variable()).collect();
        assert_eq!(
            got,
            [
                "ARGS_NAMES:q",
                "ARGS:q",
                "REQUEST_HEADERS:User-Agent",
                "REQUEST_COOKIES_NAMES:sid",
                "REQUEST_COOKIES:sid",
                "XML://@probe",
                "XML:/*"
            ]
        );
    }

    #[test]
    fn push_once_skips_repeats_of_a_variable() {
        let f = || Finding::new(1, "m", Severity::Critical, "ARGS:q".into(), b"v");
        let mut out = vec![f()];
        push_once(&mut out, 1, f());
        push_once(&mut out, 1, f());
        assert_eq!(out.len(), 2);
    }
}
