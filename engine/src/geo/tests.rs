//! Lookups through real `.mmdb` files written by `moat-mmdb`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use moat_mmdb::{read_entries, Database, Format, Options};

use super::*;
use crate::request::{Header, Request};
use crate::{Action, Engine, Settings};

const CITY: &str = "network,country_code,country_name,continent_code,city,latitude,longitude
203.0.113.0/24,AU,Australia,OC,Sydney,-33.8688,151.2093
2001:db8:1::/48,DE,Germany,EU,Berlin,52.52,13.405
";
const ASN: &str = "network,asn,asn_org
203.0.113.0/24,64500,Example Transit AU
2001:db8::/32,64503,Example Berlin GmbH
";

fn write(tag: &str, csv: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("moat-geo-{tag}-{}.mmdb", std::process::id()));
    let entries = read_entries(csv, Format::Csv).unwrap();
    Database::from_entries(&entries)
        .unwrap()
        .write_to(&path, &Options::default())
        .unwrap();
    path
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn city_and_asn_databases_combine() {
    let (city, asn) = (write("city", CITY), write("asn", ASN));
    let geo = Geo::open(Some(&city), Some(&asn)).unwrap();
    let au = geo.lookup(ip("203.0.113.9"));
    assert_eq!(au.country_code.as_deref(), Some("AU"));
    assert_eq!(au.country_name.as_deref(), Some("Australia"));
    assert_eq!(au.city.as_deref(), Some("Sydney"));
    assert_eq!(
        (au.latitude, au.longitude),
        (Some(-33.8688), Some(151.2093))
    );
    assert_eq!(
        (au.asn, au.asn_org.as_deref()),
        (Some(64500), Some("Example Transit AU"))
    );
    let de = geo.lookup(ip("2001:db8:1::42"));
    assert_eq!((de.city.as_deref(), de.asn), (Some("Berlin"), Some(64503)));
    let mapped = geo.lookup(ip("::ffff:203.0.113.9"));
    assert_eq!(mapped.country_code.as_deref(), Some("AU"));
    assert!(
        geo.lookup(ip("198.51.100.1")).is_empty(),
        "unknown address: empty, no error"
    );
    let only_asn = Geo::open(None, Some(&asn)).unwrap();
    let fr = only_asn.lookup(ip("2001:db8:9::1"));
    assert_eq!((fr.country_code.as_deref(), fr.asn), (None, Some(64503)));
    let _ = (std::fs::remove_file(city), std::fs::remove_file(asn));
}

#[test]
fn repeated_lookups_come_from_the_cache() {
    let city = write("cache", CITY);
    let geo = Geo::open(Some(&city), None).unwrap();
    let first = geo.lookup(ip("203.0.113.9"));
    let second = geo.lookup(ip("203.0.113.9"));
    assert!(Arc::ptr_eq(&first, &second));
    assert_eq!(geo.cache_stats(), (1, 1));
    let _ = std::fs::remove_file(city);
}

#[test]
fn missing_and_corrupt_files_are_refused_with_path_and_reason() {
    let missing = std::env::temp_dir().join("moat-geo-no-such-file.mmdb");
    let e = Geo::open(Some(&missing), None).unwrap_err();
    assert!(
        e.contains("moat-geo-no-such-file.mmdb") && e.contains("No such file"),
        "{e}"
    );
    let junk = std::env::temp_dir().join(format!("moat-geo-junk-{}.mmdb", std::process::id()));
    std::fs::write(&junk, b"this is not a database").unwrap();
    let e = Geo::open(Some(&junk), None).unwrap_err();
    assert!(
        e.contains(&*junk.to_string_lossy()) && e.contains("not a valid MaxMind DB"),
        "{e}"
    );
    let city = write("trunc", CITY);
    let bytes = std::fs::read(&city).unwrap();
    std::fs::write(&junk, &bytes[..bytes.len() / 2]).unwrap();
    assert!(Geo::open(Some(&junk), None).is_err(), "truncated file");
    std::fs::write(&junk, b"").unwrap();
    assert!(Geo::open(Some(&junk), None).unwrap_err().contains("empty"));
    let _ = (std::fs::remove_file(junk), std::fs::remove_file(city));
}

#[test]
fn verdicts_carry_the_client_and_geo_lists_refuse() {
    let city = write("engine", CITY);
    let geo = Arc::new(Geo::open(Some(&city), None).unwrap());
    let engine = Engine::new(Settings::default()).with_geo(geo);
    let mut patch = GeoPolicyPatch::default();
    patch.apply("moat_trusted_proxies", &["127.0.0.1"]).unwrap();
    patch.apply("moat_geo_deny", &["AU"]).unwrap();
    let policy = patch.resolve();
    let headers = vec![Header {
        name: b"X-Forwarded-For",
        value: b"203.0.113.9",
    }];
    let req = Request {
        method: b"GET",
        uri: b"/",
        version: b"HTTP/1.1",
        client_addr: b"127.0.0.1",
        headers,
        ..Default::default()
    };
    let client = engine.locate(&req, Some(&policy.client_ip)).unwrap();
    assert_eq!(client.ip, ip("203.0.113.9"));
    let v = engine.check_located(&req, None, None, Some(client), Some(&policy.access));
    assert_eq!((v.action, v.status), (Action::Block, 403));
    assert_eq!(v.findings[0].rule_id, access::GEO_DENIED);
    let line = v.log_line().unwrap();
    assert!(
        line.contains("[client \"203.0.113.9\"] [country \"AU\"] [city \"Sydney\"]"),
        "{line}"
    );
    let direct = Request {
        client_addr: b"2001:db8:1::5",
        ..req.clone()
    };
    let client = engine.locate(&direct, Some(&policy.client_ip)).unwrap();
    let v = engine.check_located(&direct, None, None, Some(client), Some(&policy.access));
    assert_eq!(v.action, Action::Allow);
    assert_eq!(v.client.unwrap().info.city.as_deref(), Some("Berlin"));
    let plain = Engine::new(Settings::default());
    assert!(
        plain.locate(&req, None).is_none(),
        "no databases, no proxies: nothing to say"
    );
    let _ = std::fs::remove_file(city);
}

#[test]
fn seclang_geo_lookup_fills_the_geo_collection() {
    let dir = std::env::temp_dir().join(format!("moat-geo-seclang-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = write("seclang", CITY);
    std::fs::rename(&db, dir.join("city.mmdb")).unwrap();
    let rules = dir.join("rules.conf");
    std::fs::write(
        &rules,
        "SecRuleEngine On
SecGeoLookupDb city.mmdb
SecRule REMOTE_ADDR \"@geoLookup\" \"id:900100,phase:1,deny,status:451,msg:'Blocked country %{GEO.COUNTRY_CODE} (%{GEO.COUNTRY_NAME})',chain\"
    SecRule GEO:COUNTRY_CODE \"@pm AU NZ\"
SecRule GEO:LATITUDE \"@streq 52.520000\" \"id:900101,phase:1,pass,log,msg:'Berlin latitude, continent %{GEO.COUNTRY_CONTINENT}'\"
SecRule REMOTE_ADDR \"!@geoLookup\" \"id:900102,phase:1,pass,log,msg:'not in the database'\"
",
    )
    .unwrap();
    let set = crate::rules::RuleSet::load(std::slice::from_ref(&rules)).unwrap();
    let engine = Engine::with_rules(Settings::default(), Some(Arc::new(set)));
    let from = |addr: &'static [u8]| {
        let req = Request {
            method: b"GET",
            uri: b"/",
            version: b"HTTP/1.1",
            client_addr: addr,
            ..Default::default()
        };
        engine.check(&req, None)
    };
    let au = from(b"203.0.113.9");
    assert_eq!((au.action, au.status), (Action::Block, 451));
    assert_eq!(au.findings[0].msg, "Blocked country AU (Australia)");
    let de = from(b"2001:db8:1::1");
    assert_eq!(de.action, Action::Log);
    assert_eq!(de.rule_ids(), "900101");
    assert_eq!(de.findings[0].msg, "Berlin latitude, continent EU");
    let unknown = from(b"198.51.100.1");
    assert_eq!(
        unknown.rule_ids(),
        "900102",
        "not found: no match, GEO stays empty"
    );

    std::fs::write(&rules, "SecGeoLookupDb missing.mmdb\n").unwrap();
    let errors = crate::rules::RuleSet::load(std::slice::from_ref(&rules)).unwrap_err();
    let e = errors[0].to_string();
    assert!(
        e.contains("rules.conf:1") && e.contains("missing.mmdb") && e.contains("No such file"),
        "{e}"
    );
    std::fs::write(
        &rules,
        "SecRule REMOTE_ADDR \"@geoLookup\" \"id:1,phase:1,pass\"\n",
    )
    .unwrap();
    let errors = crate::rules::RuleSet::load(&[rules]).unwrap_err();
    assert!(
        errors[0].to_string().contains("add SecGeoLookupDb"),
        "{errors:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
