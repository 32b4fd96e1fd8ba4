//! Rule operators: `"@rx …"`, `"!@pm …"`, or a bare pattern (implicit `@rx`).

use std::net::IpAddr;

use super::error::Reason;
use super::macros::MacroString;

macro_rules! operators {
    ($($variant:ident => $name:literal,)*) => {
        /// Every operator ModSecurity documents.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum OperatorName {
            $(
                #[doc = concat!("`@", $name, "`")]
                $variant,
            )*
        }

        impl OperatorName {
            /// Every operator, in declaration order.
            pub const ALL: &'static [OperatorName] = &[$(OperatorName::$variant,)*];

            /// The name as written after `@`.
            pub fn name(self) -> &'static str {
                match self {
                    $(OperatorName::$variant => $name,)*
                }
            }

            /// Looks a name (without `@`) up, case-insensitively.
            pub fn from_name(name: &str) -> Option<OperatorName> {
                OperatorName::ALL
                    .iter()
                    .copied()
                    .find(|o| o.name().eq_ignore_ascii_case(name))
            }
        }
    };
}

operators! {
    BeginsWith => "beginsWith",
    Contains => "contains",
    ContainsWord => "containsWord",
    DetectSqli => "detectSQLi",
    DetectXss => "detectXSS",
    EndsWith => "endsWith",
    Eq => "eq",
    FuzzyHash => "fuzzyHash",
    Ge => "ge",
    GeoLookup => "geoLookup",
    GsbLookup => "gsbLookup",
    Gt => "gt",
    InspectFile => "inspectFile",
    IpMatch => "ipMatch",
    IpMatchFromFile => "ipMatchFromFile",
    IpMatchF => "ipMatchF",
    Le => "le",
    Lt => "lt",
    NoMatch => "noMatch",
    Pm => "pm",
    PmFromFile => "pmFromFile",
    Pmf => "pmf",
    Rbl => "rbl",
    Rsub => "rsub",
    Rx => "rx",
    RxGlobal => "rxGlobal",
    Streq => "streq",
    Strmatch => "strmatch",
    UnconditionalMatch => "unconditionalMatch",
    ValidateByteRange => "validateByteRange",
    ValidateDtd => "validateDTD",
    ValidateHash => "validateHash",
    ValidateSchema => "validateSchema",
    ValidateUrlEncoding => "validateUrlEncoding",
    ValidateUtf8Encoding => "validateUtf8Encoding",
    VerifyCc => "verifyCC",
    VerifyCpf => "verifyCPF",
    VerifySsn => "verifySSN",
    Within => "within",
}

/// A parsed operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorSpec {
    /// Which operator.
    pub name: OperatorName,
    /// `!@op`: the rule matches when the operator does not.
    pub negated: bool,
    /// The argument as written (after the operator name and one run of blanks).
    pub argument: String,
}

impl OperatorSpec {
    /// The argument split into literals and `%{…}` macros.
    pub fn argument_macros(&self) -> MacroString {
        MacroString::parse(&self.argument)
    }
}

/// Parses the operator argument of a `SecRule`.
pub fn parse_operator(text: &str) -> Result<OperatorSpec, Reason> {
    let trimmed = text.trim_start();
    let (negated, rest) = match trimmed.strip_prefix('!') {
        Some(r) => (true, r.trim_start()),
        None => (false, trimmed),
    };
    let spec = match rest.strip_prefix('@') {
        None => OperatorSpec {
            name: OperatorName::Rx,
            negated,
            argument: rest.to_string(),
        },
        Some(body) => {
            let end = body
                .find(|c: char| c.is_ascii_whitespace())
                .unwrap_or(body.len());
            let name = &body[..end];
            let op = OperatorName::from_name(name)
                .ok_or_else(|| format!("unknown operator \"@{name}\""))?;
            OperatorSpec {
                name: op,
                negated,
                argument: body[end..].trim_start().to_string(),
            }
        }
    };
    validate(&spec)?;
    Ok(spec)
}

/// Checks what can be checked without running the operator.
fn validate(spec: &OperatorSpec) -> Result<(), Reason> {
    use OperatorName::*;
    let arg = spec.argument.trim();
    let name = spec.name.name();
    match spec.name {
        Eq | Ge | Gt | Le | Lt => {
            let is_macro = MacroString::parse(arg).has_macros();
            if !is_macro && arg.parse::<i64>().is_err() {
                return Err(format!("@{name} needs an integer or a macro, got {arg:?}"));
            }
        }
        ValidateByteRange => parse_byte_ranges(arg).map(|_| ())?,
        IpMatch => {
            for item in arg.split(',').map(str::trim) {
                parse_cidr(item).ok_or_else(|| format!("@ipMatch: invalid address {item:?}"))?;
            }
        }
        Pm | PmFromFile | Pmf | IpMatchFromFile | IpMatchF | Strmatch | Rbl | InspectFile
        | FuzzyHash | ValidateDtd | ValidateSchema | ValidateHash | Rsub
            if arg.is_empty() =>
        {
            return Err(format!("@{name} needs an argument"));
        }
        _ => {}
    }
    Ok(())
}

/// Parses `@validateByteRange` arguments: `10,13,32-126`; each value 0..=255, ranges ascending.
pub fn parse_byte_ranges(arg: &str) -> Result<Vec<(u8, u8)>, Reason> {
    let mut out = Vec::new();
    for item in arg.split(',').map(str::trim) {
        let (lo, hi) = match item.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (item, item),
        };
        let parse = |s: &str| {
            s.parse::<u8>()
                .map_err(|_| format!("@validateByteRange: invalid byte value {s:?} in {item:?}"))
        };
        let (lo, hi) = (parse(lo)?, parse(hi)?);
        if lo > hi {
            return Err(format!("@validateByteRange: range {item:?} is descending"));
        }
        out.push((lo, hi));
    }
    Ok(out)
}

/// Parses `addr` or `addr/prefix` (IPv4 or IPv6).
pub fn parse_cidr(item: &str) -> Option<(IpAddr, u8)> {
    let (addr, prefix) = match item.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (item, None),
    };
    let addr: IpAddr = addr.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max)?,
        None => max,
    };
    Some((addr, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_negated_and_implicit() {
        let o = parse_operator("@rx ^a b$").unwrap();
        assert_eq!(
            (o.name, o.negated, o.argument.as_str()),
            (OperatorName::Rx, false, "^a b$")
        );
        let o = parse_operator("!@pm foo bar").unwrap();
        assert_eq!(
            (o.name, o.negated, o.argument.as_str()),
            (OperatorName::Pm, true, "foo bar")
        );
        let o = parse_operator("^GET$").unwrap();
        assert_eq!(
            (o.name, o.negated, o.argument.as_str()),
            (OperatorName::Rx, false, "^GET$")
        );
        let o = parse_operator("!^x").unwrap();
        assert_eq!((o.name, o.negated), (OperatorName::Rx, true));
        let o = parse_operator("@unconditionalMatch").unwrap();
        assert_eq!(o.argument, "");
        let o = parse_operator("@detectsqli").unwrap();
        assert_eq!(o.name, OperatorName::DetectSqli);
    }

    #[test]
    fn numeric_arguments() {
        assert!(parse_operator("@eq 1").is_ok());
        assert!(parse_operator("@ge %{tx.inbound_anomaly_score_threshold}").is_ok());
        assert!(parse_operator("@lt -3").is_ok());
        let e = parse_operator("@gt x").unwrap_err();
        assert!(e.contains("integer or a macro"), "{e}");
    }

    #[test]
    fn byte_ranges() {
        assert_eq!(parse_byte_ranges("1-255").unwrap(), vec![(1, 255)]);
        assert_eq!(parse_byte_ranges("9, 10,32-126").unwrap().len(), 3);
        for bad in ["256", "5-1", "a", "1-", ""] {
            assert!(
                parse_operator(&format!("@validateByteRange {bad}")).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn ip_match() {
        assert!(parse_operator("@ipMatch 127.0.0.1,::1,10.0.0.0/8, 2001:db8::/32").is_ok());
        assert!(parse_operator("@ipMatch 10.0.0.0/33").is_err());
        assert!(parse_operator("@ipMatch nope").is_err());
    }

    #[test]
    fn unknown_and_missing_arguments() {
        let e = parse_operator("@frobnicate x").unwrap_err();
        assert_eq!(e, "unknown operator \"@frobnicate\"");
        assert!(parse_operator("@pm")
            .unwrap_err()
            .contains("needs an argument"));
        assert!(parse_operator("@pmFromFile ").is_err());
        assert!(parse_operator("@streq").is_ok());
    }
}
