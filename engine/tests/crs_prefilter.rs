//! The rule prefilter never skips a value that a CRS rule link matches: every payload of the CRS
//! regression suite (raw, URL-decoded, and split into argument names and values) is run through
//! every prefiltered link of CRS v4 as the evaluator runs it (its transformations, `multiMatch`),
//! and each value a link matches must pass the prefilter's per-value check. The CRS directory is
//! `$MOAT_CRS_DIR`, else `<repo root>/../shared/crs`; skipped if absent.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use moat::rules::ruleset::Link;
use moat::rules::transformations;
use moat::rules::value_cache::ValueCache;
use moat::rules::RuleSet;

fn crs_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("MOAT_CRS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/crs"));
    if dir.join("rules").is_dir() {
        Some(dir)
    } else {
        println!("skipped: CRS not found; set MOAT_CRS_DIR");
        None
    }
}

fn load_crs(dir: &Path) -> RuleSet {
    let mut rules: Vec<PathBuf> = std::fs::read_dir(dir.join("rules"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    rules.sort();
    let mut paths = vec![dir.join("crs-setup.conf.example")];
    paths.extend(rules);
    RuleSet::load(&paths).unwrap_or_else(|e| panic!("CRS: {}", e[0]))
}

/// The `uri:` and `data:` payloads of the regression suite: raw, URL-decoded, and each
/// `&`-separated argument's name and value (decoded), as the rules see them in `ARGS`.
fn payloads(dir: &Path) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut pending = vec![dir.join("tests/regression/tests")];
    while let Some(d) = pending.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                pending.push(p);
                continue;
            }
            if !p.extension().is_some_and(|x| x == "yaml") {
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            for line in text.lines() {
                let line = line.trim();
                let Some(v) = line.strip_prefix("uri:").or(line.strip_prefix("data:")) else {
                    continue;
                };
                let v = v.trim().trim_matches(|c| c == '"' || c == '\'').as_bytes();
                out.push(v.to_vec());
                out.push(moat::decode::percent_decode(v, true).into_owned());
                let query = v.iter().position(|&b| b == b'?').map_or(v, |i| &v[i + 1..]);
                for arg in query.split(|&b| b == b'&') {
                    let (name, value) = match arg.iter().position(|&b| b == b'=') {
                        Some(i) => (&arg[..i], &arg[i + 1..]),
                        None => (arg, &b""[..]),
                    };
                    for part in [name, value] {
                        out.push(moat::decode::percent_decode(part, true).into_owned());
                    }
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// True when the link's operator matches `value` as the evaluator runs it.
fn link_matches(link: &Link, value: &[u8]) -> bool {
    let Some(op) = &link.operator else {
        return false;
    };
    let mut current: Cow<'_, [u8]> = Cow::Borrowed(value);
    if link.multi_match && op.matches(&current, None, None) {
        return true;
    }
    for t in &link.transformations {
        if let Some(next) = transformations::apply(*t, &current) {
            current = Cow::Owned(next);
            if link.multi_match && op.matches(&current, None, None) {
                return true;
            }
        }
    }
    !link.multi_match && op.matches(&current, None, None)
}

#[test]
fn crs_prefilter_passes_every_value_a_link_matches() {
    let Some(dir) = crs_dir() else { return };
    let rules = load_crs(&dir);
    let filter = rules.prefilter.as_ref().expect("CRS has prefiltered links");
    let payloads = payloads(&dir);
    assert!(payloads.len() > 5000, "{} payloads", payloads.len());
    let links: Vec<(u32, &Link, u32)> = rules
        .rules
        .iter()
        .flat_map(|r| r.links.iter().map(move |l| (r.id, l)))
        .filter(|(_, l)| l.operator_argument.is_none())
        .filter_map(|(rule, l)| Some((rule, l, l.prefilter?)))
        .collect();
    assert!(links.len() > 150, "{} prefiltered links", links.len());
    let mut matched = 0;
    let mut skipped = Vec::new();
    for value in &payloads {
        let cache = ValueCache::new(1);
        for &(rule, link, id) in &links {
            if !link_matches(link, value) {
                continue;
            }
            matched += 1;
            let trigger = rules.chains.trigger(link.chain_id);
            if !cache.may_match(filter, link, id, trigger, 0, value) {
                skipped.push(format!("{rule}: {:?}", String::from_utf8_lossy(value)));
            }
        }
    }
    println!("{matched} matches of prefiltered links checked");
    assert!(
        skipped.is_empty(),
        "prefilter skipped matches: {skipped:#?}"
    );
    assert!(matched > 2000, "only {matched} matches checked");
}
