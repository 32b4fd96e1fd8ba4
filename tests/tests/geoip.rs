//! GeoIP through the real nginx with the native module: the `$moat_geo_*` variables for IPv4
//! and IPv6 clients, direct and behind a trusted proxy; spoofed `X-Forwarded-For` ignored; geo
//! deny and allow lists per location; bad databases failing `nginx -t`; a database replaced
//! and picked up by a reload without a failed request. Databases are written by `moat-mmdb`
//! from `geoip/data/test-places.csv` (documentation and loopback ranges mapped to places).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use moat_e2e::*;

fn places_db(tag: &str) -> PathBuf {
    let csv = std::fs::read_to_string(repo_root().join("geoip/data/test-places.csv")).unwrap();
    let path = temp_dir(tag).join("places.mmdb");
    write_mmdb(&csv, &path);
    path
}

/// The lines of a log file once it has `n` of them (nginx logs after responding).
fn wait_for_lines(path: &std::path::Path, n: usize) -> String {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.lines().count() >= n || start.elapsed() > Duration::from_secs(5) {
            return text;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

fn header<'a>(r: &'a Received, name: &str) -> &'a str {
    r.headers
        .iter()
        .find(|(n, _)| n == name)
        .map_or("", |(_, v)| v.as_str())
}

const GEO_LOG: &str = "log_format geo 'client=$moat_client_ip cc=$moat_geo_country name=\"$moat_geo_country_name\" city=\"$moat_geo_city\" lat=$moat_geo_lat lon=$moat_geo_lon asn=$moat_geo_asn org=\"$moat_geo_asn_org\" action=$moat_action';";

fn variables_config(db: &std::path::Path, dir: &std::path::Path) -> String {
    format!(
        "{GEO_LOG}
    moat_geoip {db};
    moat_geoip_asn {db};
    moat on;
    server {{
        listen 127.0.0.1:PORT;
        listen [::1]:PORT;
        access_log {dir}/geo.log geo;
        proxy_set_header X-Client-Ip $moat_client_ip;
        proxy_set_header X-Geo-Country $moat_geo_country;
        proxy_set_header X-Geo-City $moat_geo_city;
        proxy_set_header X-Geo-Lat $moat_geo_lat;
        proxy_set_header X-Geo-Lon $moat_geo_lon;
        proxy_set_header X-Geo-Asn $moat_geo_asn;
        location / {{ proxy_pass http://127.0.0.1:BACKEND; }}
        location /proxied/ {{
            moat_trusted_proxies 127.0.0.1 ::1;
            proxy_pass http://127.0.0.1:BACKEND;
        }}
        location /elsewhere/ {{
            moat_trusted_proxies 192.0.2.0/24 2001:db8:ffff::/48;
            proxy_pass http://127.0.0.1:BACKEND;
        }}
        location /real-ip/ {{
            moat_trusted_proxies 127.0.0.0/8;
            moat_client_ip_header X-Real-IP;
            proxy_pass http://127.0.0.1:BACKEND;
        }}
        location /off/ {{
            moat off;
            moat_trusted_proxies 127.0.0.1;
            proxy_pass http://127.0.0.1:BACKEND;
        }}
    }}",
        db = db.display(),
        dir = dir.display()
    )
}

/// Sends a GET from `host` and returns what the backend received.
fn through(
    nginx: &Nginx,
    backend: &Backend,
    host: &str,
    uri: &str,
    headers: &[(&str, &str)],
) -> Received {
    let resp = Client::connect_to(host, nginx.port).request("GET", uri, headers, b"");
    assert_eq!(
        resp.status,
        200,
        "{host} {uri} {headers:?}: {}",
        nginx.error_log()
    );
    backend
        .received_at(uri)
        .pop()
        .unwrap_or_else(|| panic!("{uri} reached the backend"))
}

#[test]
fn geo_variables_for_ipv4_and_ipv6_clients_direct_and_behind_a_trusted_proxy() {
    let db = places_db("geo-vars");
    let dir = db.parent().unwrap().to_path_buf();
    let backend = Backend::start();
    let nginx = Nginx::start(Adapter::Native, &variables_config(&db, &dir), &backend);

    let direct_v4 = through(&nginx, &backend, "127.0.0.1", "/a", &[]);
    assert_eq!(header(&direct_v4, "x-client-ip"), "127.0.0.1");
    assert_eq!(header(&direct_v4, "x-geo-country"), "IS");
    assert_eq!(header(&direct_v4, "x-geo-city"), "Reykjavik");
    assert_eq!(header(&direct_v4, "x-geo-asn"), "64496");

    let direct_v6 = through(&nginx, &backend, "::1", "/b", &[]);
    assert_eq!(header(&direct_v6, "x-client-ip"), "::1");
    assert_eq!(header(&direct_v6, "x-geo-country"), "JP");
    assert_eq!(header(&direct_v6, "x-geo-city"), "Tokyo");

    let xff = [("X-Forwarded-For", "203.0.113.7")];
    let proxied_v4 = through(&nginx, &backend, "127.0.0.1", "/proxied/1", &xff);
    assert_eq!(header(&proxied_v4, "x-client-ip"), "203.0.113.7");
    assert_eq!(header(&proxied_v4, "x-geo-country"), "AU");
    assert_eq!(header(&proxied_v4, "x-geo-lat"), "-33.8688");
    assert_eq!(header(&proxied_v4, "x-geo-lon"), "151.2093");
    assert_eq!(header(&proxied_v4, "x-geo-asn"), "64500");

    let chain = [("X-Forwarded-For", "198.51.100.1, 2001:db8:1::9")];
    let proxied_v6 = through(&nginx, &backend, "::1", "/proxied/2", &chain);
    assert_eq!(
        header(&proxied_v6, "x-client-ip"),
        "2001:db8:1::9",
        "right-most untrusted"
    );
    assert_eq!(header(&proxied_v6, "x-geo-country"), "DE");
    assert_eq!(header(&proxied_v6, "x-geo-city"), "Berlin");

    let real_ip = [
        ("X-Real-IP", "2001:db8:2::1"),
        ("X-Forwarded-For", "203.0.113.7"),
    ];
    let named = through(&nginx, &backend, "127.0.0.1", "/real-ip/1", &real_ip);
    assert_eq!(header(&named, "x-geo-country"), "BR");

    let off = through(&nginx, &backend, "127.0.0.1", "/off/1", &xff);
    assert_eq!(
        header(&off, "x-geo-country"),
        "AU",
        "variables work where moat is off"
    );

    let unknown = [("X-Forwarded-For", "100.64.0.1")];
    let nowhere = through(&nginx, &backend, "127.0.0.1", "/proxied/3", &unknown);
    assert_eq!(header(&nowhere, "x-client-ip"), "100.64.0.1");
    assert_eq!(
        header(&nowhere, "x-geo-country"),
        "",
        "unknown address: empty, no error"
    );

    let log = wait_for_lines(&dir.join("geo.log"), 8);
    assert!(
        log.contains("client=203.0.113.7 cc=AU name=\"Australia\" city=\"Sydney\" lat=-33.8688 lon=151.2093 asn=64500 org=\"Example Transit AU\" action=allow"),
        "{log}"
    );
    assert!(
        log.contains("client=100.64.0.1 cc=- name=\"-\" city=\"-\" lat=- lon=- asn=- org=\"-\""),
        "{log}"
    );
    assert!(
        !nginx.error_log().contains("[error]"),
        "{}",
        nginx.error_log()
    );
}

#[test]
fn a_spoofed_forwarded_for_from_an_untrusted_address_is_ignored() {
    let db = places_db("geo-spoof");
    let dir = db.parent().unwrap().to_path_buf();
    let backend = Backend::start();
    let nginx = Nginx::start(Adapter::Native, &variables_config(&db, &dir), &backend);
    let spoof = [
        ("X-Forwarded-For", "203.0.113.7"),
        ("X-Real-IP", "203.0.113.7"),
    ];
    for (host, country) in [("127.0.0.1", "IS"), ("::1", "JP")] {
        for uri in ["/elsewhere/x", "/plain"] {
            let r = through(&nginx, &backend, host, uri, &spoof);
            assert_eq!(header(&r, "x-client-ip"), host, "{uri} from {host}");
            assert_eq!(header(&r, "x-geo-country"), country, "{uri} from {host}");
        }
    }
}

fn access_config(db: &std::path::Path) -> String {
    format!(
        "moat_geoip {db};
    moat on;
    moat_trusted_proxies 127.0.0.1;
    log_format ids '$uri $status ids=$moat_rule_ids cc=$moat_geo_country';
    server {{
        listen 127.0.0.1:PORT;
        access_log logs/ids.log ids;
        moat_geo_deny RU AS64500;
        location / {{ proxy_pass http://127.0.0.1:BACKEND; }}
        location /nl-only/ {{
            moat_geo_allow NL;
            proxy_pass http://127.0.0.1:BACKEND;
        }}
        location /open/ {{
            moat_geo_deny off;
            proxy_pass http://127.0.0.1:BACKEND;
        }}
        location /detect/ {{
            moat detect;
            moat_geo_allow NL unknown;
            proxy_pass http://127.0.0.1:BACKEND;
        }}
    }}",
        db = db.display()
    )
}

fn status_from(nginx: &Nginx, uri: &str, client: &str) -> u16 {
    request(nginx.port, "GET", uri, &[("X-Forwarded-For", client)], b"").status
}

#[test]
fn geo_deny_and_allow_lists_apply_per_location() {
    let db = places_db("geo-access");
    let backend = Backend::start();
    let nginx = Nginx::start(Adapter::Native, &access_config(&db), &backend);
    let cases = [
        ("/", "198.18.0.1", 403),            // RU: denied at server level
        ("/", "203.0.113.7", 403),           // AU, but AS64500 is denied
        ("/", "192.0.2.1", 200),             // NL
        ("/", "2001:db8:1::1", 200),         // DE over IPv6
        ("/nl-only/", "192.0.2.1", 200),     // NL allowed
        ("/nl-only/", "198.51.100.1", 403),  // US not on the allow list
        ("/nl-only/", "2001:db8:1::1", 403), // DE neither
        ("/nl-only/", "100.64.0.1", 403),    // unknown neither
        ("/nl-only/", "198.18.0.1", 403),    // the inherited deny list still applies
        ("/open/", "198.18.0.1", 200),       // deny list switched off here
        ("/detect/", "198.51.100.1", 200),   // detect: logged, let through
        ("/detect/", "100.64.0.1", 200),     // unknown allowed there
    ];
    for (uri, client, want) in cases {
        assert_eq!(
            status_from(&nginx, uri, client),
            want,
            "{uri} from {client}"
        );
    }
    let err = nginx.error_log();
    assert!(
        err.contains("[id \"100700\"] [msg \"Client location is on the geo deny list\"] [data \"GEO: 198.18.0.1 country=RU asn=AS64505\"]"),
        "{err}"
    );
    assert!(
        err.contains("[client \"198.18.0.1\"] [country \"RU\"] [city \"Moscow\"] [asn \"64505\"]"),
        "{err}"
    );
    assert!(
        err.contains("[id \"100701\"]") && err.contains("country=US"),
        "{err}"
    );
    assert!(
        err.contains("Moat: Warning.") && err.contains("/detect/"),
        "{err}"
    );
    let ids = wait_for_lines(&nginx.dir.join("logs/ids.log"), 12);
    assert!(ids.contains("/nl-only/ 403 ids=100701 cc=US"), "{ids}");
    assert_eq!(
        backend.received_at("/nl-only/").len(),
        1,
        "refused requests never reach the backend"
    );
}

#[test]
fn missing_or_corrupt_databases_fail_nginx_t_with_the_path_and_reason() {
    let dir = temp_dir("geo-bad");
    let missing = dir.join("GeoLite2-City.mmdb");
    let (ok, out, conf) = nginx_test_config(
        Adapter::Native,
        &format!("moat_geoip {};\n    moat on;", missing.display()),
    );
    assert!(!ok);
    assert!(
        out.contains(&format!("GeoIP database \"{}\"", missing.display())),
        "{out}"
    );
    assert!(out.contains("No such file or directory"), "{out}");
    assert!(
        out.contains(&format!(" in {}:", conf.display())),
        "file:line in {out}"
    );

    let corrupt = dir.join("corrupt.mmdb");
    std::fs::write(&corrupt, vec![0x5a; 4096]).unwrap();
    let (ok, out, _) = nginx_test_config(
        Adapter::Native,
        &format!("moat_geoip_asn {};", corrupt.display()),
    );
    assert!(
        !ok && out.contains("corrupt.mmdb") && out.contains("not a valid MaxMind DB file"),
        "{out}"
    );

    let db = places_db("geo-bad-good");
    let bad_lines = [
        (
            format!("moat_geoip {0}; moat_geoip {0};", db.display()),
            "is duplicate",
        ),
        (
            format!(
                "server {{ listen 127.0.0.1:1; location / {{ moat_geoip {}; }} }}",
                db.display()
            ),
            "not allowed here",
        ),
        (
            "moat_geo_deny Germany;".to_string(),
            "two-letter country code",
        ),
        (
            "moat_trusted_proxies 10.0.0.0/33;".to_string(),
            "invalid address or network",
        ),
    ];
    for (body, want) in bad_lines {
        let (ok, out, _) = nginx_test_config(Adapter::Native, &body);
        assert!(!ok && out.contains(want), "{body}: {out}");
    }
    let (ok, out, _) = nginx_test_config(
        Adapter::Native,
        &format!("moat_geoip {}; moat on;", db.display()),
    );
    assert!(ok, "{out}");
}

#[test]
fn a_replaced_database_is_picked_up_by_a_reload_without_failed_requests() {
    let csv = std::fs::read_to_string(repo_root().join("geoip/data/test-places.csv")).unwrap();
    let db = places_db("geo-reload");
    let backend = Backend::start();
    let body = format!(
        "moat_geoip {};
    moat on;
    server {{
        listen 127.0.0.1:PORT;
        proxy_set_header X-Geo-Country $moat_geo_country;
        location / {{ proxy_pass http://127.0.0.1:BACKEND; }}
    }}",
        db.display()
    );
    let nginx = Nginx::start(Adapter::Native, &body, &backend);
    let port = nginx.port;
    let country = |uri: &str| -> (u16, String) {
        let resp = request(port, "GET", uri, &[], b"");
        let seen = backend.received_at(uri).pop();
        (
            resp.status,
            seen.map(|r| header(&r, "x-geo-country").to_string())
                .unwrap_or_default(),
        )
    };
    assert_eq!(country("/before"), (200, "IS".to_string()));

    let stop = Arc::new(AtomicBool::new(false));
    let (sent, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let load = {
        let (stop, sent, failed) = (Arc::clone(&stop), Arc::clone(&sent), Arc::clone(&failed));
        thread::spawn(move || {
            let start = Instant::now();
            while !stop.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(20) {
                let ok = std::panic::catch_unwind(|| {
                    request(port, "GET", "/load", &[], b"").status == 200
                });
                sent.fetch_add(1, Ordering::Relaxed);
                if !matches!(ok, Ok(true)) {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    thread::sleep(Duration::from_millis(300));
    write_mmdb(
        &csv.replace("127.0.0.0/8,IS,Iceland", "127.0.0.0/8,GL,Greenland"),
        &db,
    );
    nginx.signal("HUP");
    let start = Instant::now();
    let mut n = 0;
    let picked_up = loop {
        n += 1;
        let (status, cc) = country(&format!("/after-{n}"));
        assert_eq!(status, 200);
        if cc == "GL" {
            break true;
        }
        if start.elapsed() > Duration::from_secs(10) {
            break false;
        }
        thread::sleep(Duration::from_millis(50));
    };
    thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();
    assert!(
        picked_up,
        "the reload serves the new database: {}",
        nginx.error_log()
    );
    let (sent, failed) = (sent.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert!(sent > 20, "load ran ({sent} requests)");
    assert_eq!(
        failed, 0,
        "{failed} of {sent} requests failed across the reload"
    );
}

#[test]
fn the_address_set_by_nginx_realip_is_the_client_without_trusted_proxies() {
    let db = places_db("geo-realip");
    let backend = Backend::start();
    let body = format!(
        "moat_geoip {};
    moat on;
    server {{
        listen 127.0.0.1:PORT;
        set_real_ip_from 127.0.0.1;
        real_ip_header X-Real-IP;
        proxy_set_header X-Client-Ip $moat_client_ip;
        proxy_set_header X-Geo-Country $moat_geo_country;
        location / {{ proxy_pass http://127.0.0.1:BACKEND; }}
    }}",
        db.display()
    );
    let nginx = Nginx::start(Adapter::Native, &body, &backend);
    let r = through(
        &nginx,
        &backend,
        "127.0.0.1",
        "/realip",
        &[("X-Real-IP", "203.0.113.8")],
    );
    assert_eq!(header(&r, "x-client-ip"), "203.0.113.8");
    assert_eq!(header(&r, "x-geo-country"), "AU");
}
