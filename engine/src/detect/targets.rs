//! The variables the injection detectors inspect, like CRS's
//! `ARGS|ARGS_NAMES|REQUEST_COOKIES|!REQUEST_COOKIES:/__utm/|REQUEST_COOKIES_NAMES|
//! REQUEST_HEADERS:User-Agent|REQUEST_HEADERS:Referer` (and the client address headers), and
//! reporting each variable once.

use super::classes::{ByteClasses, FieldClasses};
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
    /// What kinds of bytes `value` holds.
    pub classes: ByteClasses,
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

/// The parsed fields of a request as the detectors read them: the [`Inputs`] (it dereferences
/// to them), the byte classes of each field's name and value, and the injection targets, all
/// found once per request and shared by every detector.
pub struct Classified<'i, 'a> {
    inputs: &'i Inputs<'a>,
    /// Per field, in field order.
    classes: Vec<FieldClasses>,
    /// The injection targets of all fields, in field order (a field's name before its value).
    targets: Vec<Target<'i>>,
}

impl<'i, 'a> Classified<'i, 'a> {
    /// Classifies every field's name and value and selects the injection targets.
    pub fn new(inputs: &'i Inputs<'a>) -> Classified<'i, 'a> {
        let mut classes = Vec::with_capacity(inputs.fields.len());
        let mut targets = Vec::with_capacity(inputs.fields.len() * 2);
        for field in &inputs.fields {
            let of = FieldClasses {
                name: ByteClasses::of(&field.name),
                value: ByteClasses::of(&field.value),
            };
            classes.push(of);
            targets.extend(field_targets(field, of).into_iter().flatten());
        }
        Classified {
            inputs,
            classes,
            targets,
        }
    }

    /// Per field, in field order, its classes.
    pub fn classes(&self) -> &[FieldClasses] {
        &self.classes
    }
}

impl<'a> std::ops::Deref for Classified<'_, 'a> {
    type Target = Inputs<'a>;

    fn deref(&self) -> &Inputs<'a> {
        self.inputs
    }
}

/// The injection targets of all fields, in field order (a field's name before its value).
pub fn injection_targets<'c>(
    inputs: &'c Classified<'_, '_>,
) -> impl Iterator<Item = Target<'c>> + 'c {
    inputs.targets.iter().copied()
}

/// The name and value targets of one field (none for fields the injection rules skip).
fn field_targets<'f>(field: &'f Field<'_>, classes: FieldClasses) -> [Option<Target<'f>>; 2] {
    let name = &*field.name;
    let value = &*field.value;
    let target = |kind, v, classes| {
        Some(Target {
            kind,
            name,
            value: v,
            classes,
        })
    };
    let (of_name, of_value) = (classes.name, classes.value);
    match field.source {
        Source::QueryArg | Source::BodyArg => [
            target(TargetKind::ArgName, name, of_name),
            target(TargetKind::Arg, value, of_value),
        ],
        Source::Cookie if !is_utm_cookie(name) => [
            target(TargetKind::CookieName, name, of_name),
            target(TargetKind::Cookie, value, of_value),
        ],
        Source::Header if is_inspected_header(name) => {
            [target(TargetKind::Header, value, of_value), None]
        }
        Source::XmlText | Source::XmlNode => [target(TargetKind::XmlText, value, of_value), None],
        Source::GraphqlArg => [target(TargetKind::Arg, value, of_value), None],
        Source::XmlAttr => [target(TargetKind::XmlAttr, value, of_value), None],
        _ => [None, None],
    }
    .map(|t| t.filter(|t| !t.value.is_empty()))
}

/// Google Analytics cookies (`__utma`, `__utmz`, …) carry free text CRS excludes.
fn is_utm_cookie(name: &[u8]) -> bool {
    super::strip_prefix_ci(name, b"__utm").is_some()
}

/// The headers the injection rules look at: `User-Agent` and `Referer`, as CRS does, and the
/// client address headers (`X-Forwarded-For`, `X-Real-IP`), which applications store and log
/// and attackers fill with SQL.
pub(crate) fn is_inspected_header(name: &[u8]) -> bool {
    ["user-agent", "referer", "x-forwarded-for", "x-real-ip"]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h.as_bytes()))
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
    inputs: &Classified<'_, '_>,
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
        let mut inputs = crate::parse::Inputs::default();
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
        let classified = Classified::new(&inputs);
        let got: Vec<String> = injection_targets(&classified)
            .map(|t| t.variable())
            .collect();
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
