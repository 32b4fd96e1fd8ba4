//! Operators (`@rx`, `@pm`, …) compiled once at load time, with libmodsecurity v3 semantics.
//! One file per operator (or tight family); [`compile`] dispatches by name.
//!
//! Operators whose argument holds `%{…}` macros (`@rx`, the string family, the numeric
//! comparisons) are compiled per call from the expanded argument the evaluator passes to
//! [`Operator::matches`]; everything else is precomputed here so that matching allocates
//! nothing.

mod compare;
pub mod geo_lookup;
mod ip_match;
mod libinjection;
mod national_ids;
mod pm;
mod rx;
mod strings;
mod validate_byte_range;
mod validate_url_encoding;
mod validate_utf8_encoding;
mod verify_cc;

use std::path::Path;
use std::sync::Arc;

use crate::geo::Geo;
use crate::seclang::operators::{OperatorName, OperatorSpec};
use national_ids::IdKind;

pub use compare::{parse_int, Comparison};
pub use rx::compile_regex;
pub use strings::StringOp;

/// Up to ten captured groups (`TX:0`–`TX:9`) of a matching `@rx` when the rule has `capture`.
pub type Captures = Vec<Vec<u8>>;

/// An operator ready to run.
#[derive(Debug)]
pub struct Operator {
    negated: bool,
    kind: Kind,
}

/// The compiled operator, without negation.
#[derive(Debug)]
enum Kind {
    Rx(rx::Rx),
    Pm(pm::Pm),
    Compare(Comparison, i64),
    /// Boxed: its search table would make every operator 320 bytes.
    Str(Box<strings::Str>),
    ByteRange(validate_byte_range::ByteRange),
    UrlEncoding,
    Utf8Encoding,
    IpMatch(ip_match::IpSet),
    Sqli,
    Xss,
    VerifyCc(verify_cc::VerifyCc),
    NationalId(national_ids::NationalId),
    GeoLookup(geo_lookup::GeoLookup),
    Always,
    Never,
    /// The argument holds macros: compiled per call from the expanded argument.
    Dynamic(Dynamic, String),
}

/// Operators whose argument is expanded per request.
#[derive(Debug, Clone, Copy)]
enum Dynamic {
    Rx,
    Compare(Comparison),
    Str(StringOp),
}

/// Compiles an operator; files named by `@pmFromFile`/`@ipMatchFromFile` are relative to
/// `base_dir` (the directory of the rules file that used them); `@geoLookup` reads `geo`, the
/// database of `SecGeoLookupDb`.
pub fn compile(
    spec: &OperatorSpec,
    base_dir: &Path,
    geo: Option<&Arc<Geo>>,
) -> Result<Operator, String> {
    use OperatorName as N;
    let arg = spec.argument.as_str();
    let has_macros = spec.argument_macros().has_macros();
    let dynamic = |d: Dynamic| Kind::Dynamic(d, arg.to_string());
    let kind = match spec.name {
        N::Rx if has_macros => dynamic(Dynamic::Rx),
        N::Rx => Kind::Rx(rx::Rx::new(arg)?),
        N::Eq | N::Ge | N::Gt | N::Le | N::Lt => {
            let cmp = Comparison::of(spec.name).ok_or("not a comparison")?;
            if has_macros {
                dynamic(Dynamic::Compare(cmp))
            } else {
                Kind::Compare(cmp, parse_int(arg.as_bytes()))
            }
        }
        N::Streq
        | N::Contains
        | N::ContainsWord
        | N::BeginsWith
        | N::EndsWith
        | N::Within
        | N::Strmatch => {
            let op = StringOp::of(spec.name).ok_or("not a string operator")?;
            if has_macros {
                dynamic(Dynamic::Str(op))
            } else {
                Kind::Str(Box::new(strings::Str::new(op, arg.as_bytes())))
            }
        }
        N::Pm => Kind::Pm(pm::Pm::from_argument(arg)?),
        N::PmFromFile | N::Pmf => Kind::Pm(pm::Pm::from_files(arg, base_dir)?),
        N::ValidateByteRange => Kind::ByteRange(validate_byte_range::ByteRange::new(arg)?),
        N::ValidateUrlEncoding => Kind::UrlEncoding,
        N::ValidateUtf8Encoding => Kind::Utf8Encoding,
        N::IpMatch => Kind::IpMatch(ip_match::IpSet::from_list(arg)?),
        N::IpMatchFromFile | N::IpMatchF => {
            Kind::IpMatch(ip_match::IpSet::from_files(arg, base_dir)?)
        }
        N::DetectSqli => Kind::Sqli,
        N::DetectXss => Kind::Xss,
        N::VerifyCc => Kind::VerifyCc(verify_cc::VerifyCc::new(arg)?),
        N::VerifySsn => Kind::NationalId(national_ids::NationalId::new(IdKind::Ssn, arg)?),
        N::VerifyCpf => Kind::NationalId(national_ids::NationalId::new(IdKind::Cpf, arg)?),
        N::GeoLookup => Kind::GeoLookup(geo_lookup::GeoLookup::new(Arc::clone(geo.ok_or(
            "operator @geoLookup needs a database: add SecGeoLookupDb /path/GeoLite2-City.mmdb",
        )?))),
        N::UnconditionalMatch => Kind::Always,
        N::NoMatch => Kind::Never,
        N::Rsub
        | N::Rbl
        | N::GsbLookup
        | N::InspectFile
        | N::FuzzyHash
        | N::ValidateDtd
        | N::ValidateSchema
        | N::ValidateHash
        | N::RxGlobal => return Err(unsupported(spec.name)),
    };
    Ok(Operator {
        negated: spec.negated,
        kind,
    })
}

/// The error for operators Moat does not implement, with the reason.
fn unsupported(name: OperatorName) -> String {
    use OperatorName as N;
    let reason = match name {
        N::Rsub => "it rewrites stream bodies, which Moat does not buffer for rewriting",
        N::Rbl => "it needs DNS lookups on the request path",
        N::GsbLookup => "Google Safe Browsing lookups are obsolete",
        N::InspectFile => "it runs external programs",
        N::FuzzyHash => "ssdeep fuzzy hashing is not available",
        N::ValidateDtd | N::ValidateSchema => "XML validation is not available",
        N::ValidateHash => "it needs response-body hashing (SecHashEngine)",
        N::RxGlobal => "its per-match capture semantics are not implemented",
        _ => "it is not implemented",
    };
    format!(
        "operator @{} is not supported by Moat: {reason}",
        name.name()
    )
}

impl Operator {
    /// True when the operator's outcome depends only on its input and argument: it writes
    /// nothing (`@geoLookup` fills the `GEO` collection).
    pub fn reads_only_its_input(&self) -> bool {
        !matches!(self.kind, Kind::GeoLookup(_))
    }

    /// True when the rule matches `input` (negation already applied). `argument` is the
    /// operator argument with macros expanded, passed only for operators whose argument
    /// contains macros (see [`Operator::needs_expansion`]). With `captures`, a matching `@rx`
    /// fills it with the whole match and its groups (`@pm`, `@verifyCC`, `@verifySSN`,
    /// `@verifyCPF`: the match;
    /// `@detectSQLi`: the fingerprint).
    pub fn matches(
        &self,
        input: &[u8],
        argument: Option<&[u8]>,
        captures: Option<&mut Captures>,
    ) -> bool {
        self.kind.matches(input, argument, captures) != self.negated
    }

    /// True when the argument contains `%{…}` macros that must be expanded per request.
    pub fn needs_expansion(&self) -> bool {
        matches!(self.kind, Kind::Dynamic(..))
    }

    /// True when whether the operator matches depends on the value alone and takes more than a
    /// glance to find out: it may then be remembered per value (everything but `@geoLookup`,
    /// which fills a collection, operators with macros, `@unconditionalMatch`/`@noMatch`, and
    /// an `@rx` that matches every input whole, which never misses).
    pub fn is_worth_remembering(&self) -> bool {
        match &self.kind {
            Kind::Dynamic(..) | Kind::GeoLookup(_) | Kind::Always | Kind::Never => false,
            Kind::Rx(rx) => !rx.matches_whole(),
            _ => true,
        }
    }

    /// Literals one of which every value the operator matches contains (ASCII case ignored),
    /// for the prefilter; `None` when there are none or the operator is negated. The checks
    /// that look at bytes rather than words need one byte of a set: a byte outside the range
    /// (`@validateByteRange`), `%` (`@validateUrlEncoding`), a non-ASCII byte
    /// (`@validateUtf8Encoding`), a byte that breaks a word (`@detectSQLi`, `@detectXSS`).
    pub fn required_literals(&self) -> Option<Vec<Vec<u8>>> {
        let bytes = |needed: &dyn Fn(u8) -> bool| {
            let set: Vec<Vec<u8>> = (0..=255u8)
                .filter(|&b| needed(b))
                .map(|b| vec![b])
                .collect();
            (!set.is_empty()).then_some(set)
        };
        match &self.kind {
            _ if self.negated => None,
            Kind::Rx(rx) => rx.required_literals(),
            Kind::Pm(pm) => pm.required_literals(),
            Kind::ByteRange(r) => bytes(&|b| !r.allows(b)),
            Kind::UrlEncoding => Some(vec![b"%".to_vec()]),
            Kind::Utf8Encoding => bytes(&|b| b >= 0x80),
            Kind::Sqli => bytes(&crate::detect::sqli::breaks_sqli_word),
            Kind::Xss => bytes(&crate::detect::xss::may_start_xss),
            _ => None,
        }
    }

    /// What a value must show before the operator can match it, for the prefilter: its
    /// [`required_literals`](Self::required_literals), else for an `@rx` written against shell
    /// evasion its [`Evasion`](crate::rules::prefilter::Evasion) condition.
    pub fn prefilter_condition(&self) -> Option<crate::rules::prefilter::Condition> {
        use crate::rules::prefilter::Condition;
        if let Some(literals) = self.required_literals() {
            let also = match &self.kind {
                Kind::Rx(rx) if !self.negated => rx.further_literal_sets(&literals),
                _ => Vec::new(),
            };
            return Some(Condition {
                also,
                ..Condition::literals(literals)
            });
        }
        match &self.kind {
            Kind::Rx(rx) if !self.negated => rx.evasion_condition().map(|e| Condition {
                evasion: Some(e),
                ..Condition::literals(Vec::new())
            }),
            _ => None,
        }
    }

    /// The `GEO` collection when this is `@geoLookup` and `input` is in its database.
    pub fn geo_collection(
        &self,
        input: &[u8],
    ) -> Option<crate::rules::fast_hash::FastMap<String, Vec<u8>>> {
        match &self.kind {
            Kind::GeoLookup(g) => g.collection(input),
            _ => None,
        }
    }

    /// True for `!@op`.
    pub fn is_negated(&self) -> bool {
        self.negated
    }
}

impl Kind {
    /// The operator's answer before negation.
    fn matches(
        &self,
        input: &[u8],
        argument: Option<&[u8]>,
        captures: Option<&mut Captures>,
    ) -> bool {
        match self {
            Kind::Rx(rx) => rx.matches(input, captures),
            Kind::Pm(pm) => pm.matches(input, captures),
            Kind::Compare(cmp, value) => cmp.holds(parse_int(input), *value),
            Kind::Str(s) => s.matches(input),
            Kind::ByteRange(r) => r.matches(input),
            Kind::UrlEncoding => validate_url_encoding::is_invalid(input),
            Kind::Utf8Encoding => validate_utf8_encoding::is_invalid(input),
            Kind::IpMatch(set) => set.matches(input),
            Kind::Sqli => libinjection::detect_sqli(input, captures),
            Kind::Xss => libinjection::detect_xss(input),
            Kind::VerifyCc(v) => v.matches(input, captures),
            Kind::NationalId(v) => v.matches(input, captures),
            Kind::GeoLookup(g) => g.matches(input),
            Kind::Always => true,
            Kind::Never => false,
            Kind::Dynamic(d, raw) => {
                let arg = argument.unwrap_or(raw.as_bytes());
                match d {
                    Dynamic::Rx => rx::matches_dynamic(arg, input, captures),
                    Dynamic::Compare(cmp) => cmp.holds(parse_int(input), parse_int(arg)),
                    Dynamic::Str(op) => op.matches(arg, input),
                }
            }
        }
    }
}

/// Fills `captures` with `groups` (reusing its buffers).
fn set_captures<'a>(captures: &mut Captures, groups: impl IntoIterator<Item = &'a [u8]>) {
    let mut n = 0;
    for g in groups {
        if n == captures.len() {
            captures.push(Vec::new());
        }
        captures[n].clear();
        captures[n].extend_from_slice(g);
        n += 1;
    }
    captures.truncate(n);
}

#[cfg(test)]
mod tests;
