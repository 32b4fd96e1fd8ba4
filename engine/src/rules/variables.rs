//! Resolving rule targets (`ARGS`, `REQUEST_HEADERS:User-Agent`, `&TX:x`, `!ARGS:/^id/` …) to
//! the values of one transaction. Values borrow the request's bytes wherever they can.

use std::borrow::Cow;

use smallvec::SmallVec;

use super::ruleset::Target;
use super::transaction::Transaction;
use crate::parse::{BodyProcessor, Field, ParseFlags, Source};
use crate::seclang::variables::{Collection, Selector, VariableSpec};

/// One value a target resolved to.
#[derive(Debug, Clone)]
pub struct Value<'a> {
    /// Collection, e.g. `ARGS`.
    pub collection: Collection,
    /// Key within the collection, when it has keys.
    pub key: Option<Cow<'a, [u8]>>,
    /// The value.
    pub value: Cow<'a, [u8]>,
    /// Where the value sits in the transaction's [`ValueCache`](super::value_cache::ValueCache),
    /// for values that stay the same for the whole request.
    pub slot: Option<u32>,
}

impl Value<'_> {
    /// `COLLECTION:key` or `COLLECTION`.
    pub fn name(&self) -> String {
        let mut name = String::new();
        self.write_name(&mut name);
        name
    }

    /// Appends `COLLECTION:key` or `COLLECTION` to `out`.
    pub fn write_name(&self, out: &mut String) {
        out.push_str(self.collection.name());
        if let Some(k) = &self.key {
            out.push(':');
            out.push_str(&String::from_utf8_lossy(k));
        }
    }
}

fn keyed<'a>(collection: Collection, key: &'a [u8], value: &'a [u8]) -> Value<'a> {
    Value {
        collection,
        key: Some(Cow::Borrowed(key)),
        value: Cow::Borrowed(value),
        slot: None,
    }
}

fn scalar<'a>(collection: Collection, value: Cow<'a, [u8]>) -> Value<'a> {
    Value {
        collection,
        key: None,
        value,
        slot: None,
    }
}

/// The field sources a collection reads, and whether it reads their names; `None` for
/// collections that are not made of parsed fields.
pub fn field_sources(spec: &VariableSpec) -> Option<(&'static [Source], bool)> {
    use Source as S;
    const ARGS: &[Source] = &[S::QueryArg, S::BodyArg];
    Some(match spec.collection {
        Collection::Args => (ARGS, false),
        Collection::ArgsNames => (ARGS, true),
        Collection::ArgsGet => (&[S::QueryArg], false),
        Collection::ArgsGetNames => (&[S::QueryArg], true),
        Collection::ArgsPost => (&[S::BodyArg], false),
        Collection::ArgsPostNames => (&[S::BodyArg], true),
        Collection::RequestHeaders => (&[S::Header], false),
        Collection::RequestHeadersNames => (&[S::Header], true),
        Collection::RequestCookies => (&[S::Cookie], false),
        Collection::RequestCookiesNames => (&[S::Cookie], true),
        Collection::Files | Collection::MultipartFilename => (&[S::Filename], false),
        Collection::FilesNames | Collection::MultipartName => (&[S::Filename], true),
        Collection::MultipartPartHeaders => (&[S::PartHeader], false),
        Collection::Xml => match &spec.selector {
            Selector::XPath(x) if x.contains('@') => (&[S::XmlAttr], false),
            _ => (&[S::XmlText], false),
        },
        _ => return None,
    })
}

/// The cache slot of a request scalar that stays the same for the whole request, after the
/// `fields` parsed fields' slots.
pub fn scalar_slot(c: Collection, fields: usize) -> Option<u32> {
    let i = match c {
        Collection::RequestMethod => 0,
        Collection::RequestProtocol => 1,
        Collection::RequestUriRaw => 2,
        Collection::RequestUri => 3,
        Collection::QueryString => 4,
        Collection::RequestLine => 5,
        Collection::RequestFilename => 6,
        Collection::PathInfo => 7,
        Collection::RequestBasename => 8,
        Collection::RequestBody => 9,
        Collection::RemoteAddr => 10,
        Collection::UseragentIp => 11,
        Collection::UniqueId => 12,
        Collection::ServerName => 13,
        _ => return None,
    };
    debug_assert!(i < super::value_cache::SCALAR_SLOTS);
    u32::try_from(2 * fields + i).ok()
}

fn owned(collection: Collection, value: impl Into<Vec<u8>>) -> Value<'static> {
    scalar(collection, Cow::Owned(value.into()))
}

/// The selector text of a target, used as the key of the values it yields (`XML:/*`).
fn target_key(target: &Target) -> &[u8] {
    match &target.spec.selector {
        Selector::XPath(x) | Selector::Key(x) | Selector::Regex(x) => x.as_bytes(),
        Selector::None => b"",
    }
}

/// True when `key` is selected by a target's selector.
fn selects(target: &Target, key: &[u8]) -> bool {
    match &target.spec.selector {
        Selector::None => true,
        Selector::Key(k) => key.eq_ignore_ascii_case(k.as_bytes()),
        Selector::Regex(_) => target.key_pattern.as_ref().is_some_and(|p| p.is_match(key)),
        Selector::XPath(_) => true,
    }
}

/// A target's values: most targets have one or two, kept inline instead of allocated.
pub type Values<'a> = SmallVec<[Value<'a>; 2]>;

/// The values of `target` (without its exclusions applied).
pub fn resolve<'a>(tx: &'a Transaction<'a>, target: &Target) -> Values<'a> {
    let mut out = Values::new();
    resolve_into(tx, target, &mut out);
    out
}

/// The value (or name) of field `index` for a field-group `target`, `None` when the target's
/// selector does not select it.
pub fn field_value<'a>(tx: &'a Transaction<'a>, target: &Target, index: u32) -> Option<Value<'a>> {
    let (_, names) = target.fields?;
    let xml_key = (target.spec.collection == Collection::Xml)
        .then(|| Cow::Owned(target_key(target).to_vec()));
    field_value_as(tx, target, index, names, xml_key.as_ref())
}

fn field_value_as<'a>(
    tx: &'a Transaction<'a>,
    target: &Target,
    i: u32,
    names: bool,
    xml_key: Option<&Cow<'a, [u8]>>,
) -> Option<Value<'a>> {
    let f: &'a Field<'a> = &tx.inputs.fields[i as usize];
    if xml_key.is_none() && !selects(target, &f.name) {
        return None;
    }
    let (value, slot): (&'a [u8], u32) = if names {
        (&f.name, 2 * i + 1)
    } else {
        (&f.value, 2 * i)
    };
    Some(Value {
        collection: target.spec.collection,
        key: Some(xml_key.cloned().unwrap_or(Cow::Borrowed(&f.name))),
        value: Cow::Borrowed(value),
        slot: Some(slot),
    })
}

/// Appends the values of `target` (without its exclusions applied) to `out`.
pub fn resolve_into<'a>(tx: &'a Transaction<'a>, target: &Target, out: &mut Values<'a>) {
    let c = target.spec.collection;
    let name = c;
    if let Some((sources, names)) = target.fields {
        let xml_key = (c == Collection::Xml).then(|| Cow::Owned(target_key(target).to_vec()));
        let field = |i: u32| field_value_as(tx, target, i, names, xml_key.as_ref());
        match sources {
            [one] => out.extend(tx.by_source[*one as usize].iter().filter_map(|&i| field(i))),
            _ => {
                let mut indices: Vec<u32> = Vec::new();
                for s in sources {
                    indices.extend_from_slice(&tx.by_source[*s as usize]);
                }
                if !indices.windows(2).all(|w| w[0] <= w[1]) {
                    indices.sort_unstable();
                }
                out.extend(indices.into_iter().filter_map(field));
            }
        }
        return;
    }
    match c {
        Collection::Tx => match &target.spec.selector {
            // Keys are stored lower-cased, and so is the target's key (see `Target::new`): look
            // it up instead of scanning them all.
            Selector::Key(k) => {
                if let Some((k, v)) = tx.tx.get_key_value(k.as_str()) {
                    out.push(keyed(name, k.as_bytes(), v));
                }
            }
            Selector::Regex(_) => {
                let Some(pattern) = &target.key_pattern else {
                    return;
                };
                out.extend(
                    tx.tx
                        .iter()
                        .filter(|(k, _)| pattern.is_match_lowercase(k.as_bytes()))
                        .map(|(k, v)| keyed(name, k.as_bytes(), v)),
                )
            }
            _ => out.extend(
                tx.tx
                    .iter()
                    .filter(|(k, _)| selects(target, k.as_bytes()))
                    .map(|(k, v)| keyed(name, k.as_bytes(), v)),
            ),
        },
        Collection::Ip
        | Collection::Session
        | Collection::Global
        | Collection::User
        | Collection::Resource
        | Collection::Env
        | Collection::Geo => {
            if let Some(m) = tx.collections.get(c.name()) {
                out.extend(
                    m.iter()
                        .filter(|(k, _)| selects(target, k.as_bytes()))
                        .map(|(k, v)| keyed(name, k.as_bytes(), v)),
                );
            }
        }
        Collection::ResponseHeaders | Collection::ResponseHeadersNames => {
            let names = c == Collection::ResponseHeadersNames;
            if let Some(r) = tx.response {
                out.extend(
                    r.headers
                        .iter()
                        .filter(|h| selects(target, h.name))
                        .map(|h| keyed(name, h.name, if names { h.name } else { h.value })),
                );
            }
        }
        Collection::FilesSizes => out.extend(
            tx.inputs
                .files
                .iter()
                .filter(|f| selects(target, &f.part))
                .map(|f| Value {
                    collection: name,
                    key: Some(Cow::Borrowed(&f.part[..])),
                    value: Cow::Owned(f.content.len().to_string().into_bytes()),
                    slot: None,
                }),
        ),
        Collection::MatchedVars => out.extend(
            tx.matched_vars
                .iter()
                .filter(|m| selects(target, m.name.as_bytes()))
                .map(|m| keyed(name, m.name.as_bytes(), &m.value)),
        ),
        Collection::MatchedVarsNames => out.extend(
            tx.matched_vars
                .iter()
                .filter(|m| selects(target, m.name.as_bytes()))
                .map(|m| keyed(name, m.name.as_bytes(), m.name.as_bytes())),
        ),
        _ => out.extend(scalar_value(tx, c).map(|v| Value {
            slot: scalar_slot(c, tx.inputs.fields.len()),
            ..v
        })),
    }
}

/// The value of a scalar variable, `None` when it has none in this transaction.
pub fn scalar_value<'a>(tx: &'a Transaction<'a>, c: Collection) -> Option<Value<'a>> {
    let req = tx.req;
    let name = c;
    let flag = |bit| owned(name, if tx.flag(bit) { "1" } else { "0" });
    Some(match c {
        Collection::RequestMethod => scalar(name, Cow::Borrowed(req.method)),
        Collection::RequestProtocol => scalar(name, Cow::Borrowed(req.version)),
        Collection::RequestUriRaw | Collection::RequestUri => scalar(name, Cow::Borrowed(req.uri)),
        Collection::QueryString => scalar(name, Cow::Borrowed(req.query().unwrap_or(b""))),
        Collection::RequestLine => {
            let mut line = Vec::with_capacity(req.method.len() + req.uri.len() + 12);
            line.extend_from_slice(req.method);
            line.push(b' ');
            line.extend_from_slice(req.uri);
            line.push(b' ');
            line.extend_from_slice(req.version);
            owned(name, line)
        }
        Collection::RequestFilename | Collection::PathInfo => {
            scalar(name, crate::decode::percent_decode(req.path(), false))
        }
        Collection::RequestBasename => {
            let path = req.path();
            let base = match memchr::memrchr(b'/', path) {
                Some(i) => &path[i + 1..],
                None => path,
            };
            scalar(name, crate::decode::percent_decode(base, false))
        }
        Collection::RequestBody => scalar(name, Cow::Borrowed(tx.body)),
        Collection::RequestBodyLength => owned(name, tx.body.len().to_string()),
        Collection::RemoteAddr | Collection::UseragentIp => {
            scalar(name, Cow::Borrowed(req.client_addr))
        }
        Collection::UniqueId => scalar(name, Cow::Borrowed(tx.req.id())),
        Collection::ServerName => scalar(
            name,
            Cow::Borrowed(
                req.header(b"host")
                    .map_or(&b""[..], |h| h.split(|&b| b == b':').next().unwrap_or(h)),
            ),
        ),
        Collection::ReqbodyProcessor => {
            let p = tx
                .body_processor_override
                .unwrap_or(tx.inputs.body_processor);
            match p {
                BodyProcessor::None => return None,
                BodyProcessor::UrlEncoded => owned(name, "URLENCODED"),
                BodyProcessor::Json => owned(name, "JSON"),
                BodyProcessor::Multipart => owned(name, "MULTIPART"),
                BodyProcessor::Xml => owned(name, "XML"),
            }
        }
        Collection::ReqbodyError | Collection::ReqbodyProcessorError => {
            owned(name, if tx.reqbody_error() { "1" } else { "0" })
        }
        Collection::ReqbodyErrorMsg | Collection::ReqbodyProcessorErrorMsg => {
            if !tx.reqbody_error() {
                return None;
            }
            owned(name, "failed to parse request body")
        }
        Collection::MultipartStrictError
        | Collection::MultipartUnmatchedBoundary
        | Collection::MultipartInvalidQuoting
        | Collection::MultipartInvalidPart
        | Collection::MultipartInvalidHeaderFolding
        | Collection::MultipartDataBefore
        | Collection::MultipartDataAfter
        | Collection::MultipartLfLine => flag(ParseFlags::MULTIPART_STRICT_ERROR),
        Collection::MultipartBoundaryQuoted
        | Collection::MultipartBoundaryWhitespace
        | Collection::MultipartCrlfLfLines
        | Collection::MultipartFileLimitExceeded
        | Collection::MultipartHeaderFolding
        | Collection::MultipartMissingSemicolon
        | Collection::MultipartSemicolonMissing
        | Collection::InboundDataError
        | Collection::UrlencodedError
        | Collection::MscPcreLimitsExceeded
        | Collection::OutboundDataError => owned(name, "0"),
        Collection::ArgsCombinedSize => {
            let n: usize = tx
                .inputs
                .fields
                .iter()
                .filter(|f| matches!(f.source, Source::QueryArg | Source::BodyArg))
                .map(|f| f.name.len() + f.value.len())
                .sum();
            owned(name, n.to_string())
        }
        Collection::FilesCombinedSize => owned(
            name,
            tx.inputs
                .files
                .iter()
                .map(|f| f.content.len())
                .sum::<usize>()
                .to_string(),
        ),
        Collection::FullRequestLength => {
            let n: usize = req.method.len()
                + req.uri.len()
                + req.version.len()
                + req
                    .headers
                    .iter()
                    .map(|h| h.name.len() + h.value.len() + 4)
                    .sum::<usize>()
                + tx.body.len();
            owned(name, n.to_string())
        }
        Collection::MatchedVar => scalar(name, Cow::Borrowed(&tx.matched_var)),
        Collection::ResponseBody => scalar(name, Cow::Borrowed(tx.response?.body)),
        Collection::ResponseStatus => owned(name, tx.response?.status.to_string()),
        Collection::ResponseProtocol => scalar(name, Cow::Borrowed(tx.response?.protocol)),
        Collection::ResponseContentLength => owned(name, tx.response?.body.len().to_string()),
        Collection::ResponseContentType => {
            let r = tx.response?;
            let ct = r
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(b"content-type"))?;
            scalar(name, Cow::Borrowed(ct.value))
        }
        Collection::MatchedVarName => scalar(name, Cow::Borrowed(tx.matched_var_name.as_bytes())),
        Collection::Duration => owned(name, "0"),
        Collection::TimeEpoch => owned(
            name,
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
                .to_string(),
        ),
        _ => return None,
    })
}

/// The value of `%{collection.key}` in a macro, if it has one.
pub fn macro_value<'a>(
    tx: &'a Transaction<'a>,
    c: Collection,
    key: Option<&str>,
) -> Option<Cow<'a, [u8]>> {
    match (c, key) {
        (Collection::Tx, Some(k)) => tx.tx.get(k).map(|v| Cow::Borrowed(v.as_slice())),
        (Collection::Rule, _) => None,
        (_, None) => scalar_value(tx, c).map(|v| v.value),
        (_, Some(k)) => {
            let target = Target::new(&VariableSpec {
                collection: c,
                selector: Selector::Key(k.to_string()),
                count: false,
                exclude: false,
            })
            .ok()?;
            resolve(tx, &target).into_iter().next().map(|v| v.value)
        }
    }
}

/// True when `exclusion` selects `value`: same collection, and a matching key, or no selector
/// for a value without a key (`ctl:ruleRemoveTargetByTag=…;REQUEST_FILENAME`).
pub fn excludes(exclusion: &Target, value: &Value<'_>) -> bool {
    value.collection == exclusion.spec.collection
        && match value.key.as_deref() {
            Some(k) => selects(exclusion, k),
            None => exclusion.spec.selector == Selector::None,
        }
}
