//! GeoIP through the Lua binding: `init{ geoip, geoip_asn, trusted_proxies }`, the verdict's
//! `geo` table for IPv4 and IPv6 clients (direct and proxied), per-location geo options, and
//! `protect()` setting `$moat_geo_*` and refusing by country.

use moat_e2e::*;

fn server(db: &std::path::Path) -> String {
    format!(
        r#"
    init_worker_by_lua_block {{
        require("moat").init{{ lib = "{lib}", geoip = "{db}", geoip_asn = "{db}", trusted_proxies = "127.0.0.1 ::1" }}
    }}
    server {{
        listen 127.0.0.1:PORT;
        listen [::1]:PORT;
        set $moat_action '';
        set $moat_score '';
        set $moat_rule_ids '';
        location /check {{
            content_by_lua_block {{
                local g = require("moat").check().geo or {{}}
                ngx.say(table.concat({{ tostring(g.client_ip), tostring(g.country_code), tostring(g.country_name),
                    tostring(g.city), tostring(g.latitude), tostring(g.longitude), tostring(g.asn), tostring(g.asn_org) }}, "|"))
            }}
        }}
        location /untrusted {{
            content_by_lua_block {{
                local g = require("moat").check{{ trusted_proxies = "192.0.2.1" }}.geo
                ngx.say(g.client_ip, "|", g.country_code)
            }}
        }}
        location /protected/ {{
            set $moat_geo_country '';
            set $moat_geo_city '';
            access_by_lua_block {{ require("moat").protect{{ geo_deny = {{ "RU", "AS64500" }} }} }}
            proxy_set_header X-Geo-Country $moat_geo_country;
            proxy_set_header X-Geo-City $moat_geo_city;
            proxy_pass http://127.0.0.1:BACKEND;
        }}
    }}
"#,
        lib = artifact("libmoat.so").display(),
        db = db.display()
    )
}

fn body(nginx: &Nginx, host: &str, uri: &str, xff: Option<&str>) -> String {
    let headers: Vec<(&str, &str)> = xff.map(|v| ("X-Forwarded-For", v)).into_iter().collect();
    let resp = Client::connect_to(host, nginx.port).request("GET", uri, &headers, b"");
    assert_eq!(resp.status, 200, "{}", nginx.error_log());
    String::from_utf8_lossy(&resp.body).trim().to_string()
}

#[test]
fn the_lua_verdict_says_where_the_client_is() {
    let csv = std::fs::read_to_string(repo_root().join("geoip/data/test-places.csv")).unwrap();
    let db = temp_dir("geo-lua").join("places.mmdb");
    write_mmdb(&csv, &db);
    let backend = Backend::start();
    let nginx = Nginx::start(Adapter::Lua, &server(&db), &backend);

    assert_eq!(
        body(&nginx, "127.0.0.1", "/check", None),
        "127.0.0.1|IS|Iceland|Reykjavik|64.1466|-21.9426|64496|Example Loopback Networks"
    );
    assert_eq!(
        body(&nginx, "::1", "/check", None),
        "::1|JP|Japan|Tokyo|35.6762|139.6503|64497|Example IPv6 Loopback"
    );
    assert_eq!(
        body(&nginx, "127.0.0.1", "/check", Some("203.0.113.7")),
        "203.0.113.7|AU|Australia|Sydney|-33.8688|151.2093|64500|Example Transit AU"
    );
    assert_eq!(
        body(&nginx, "::1", "/check", Some("198.51.100.1, 2001:db8:1::9")),
        "2001:db8:1::9|DE|Germany|Berlin|52.52|13.405|64503|Example Berlin GmbH"
    );
    assert_eq!(
        body(&nginx, "127.0.0.1", "/check", Some("100.64.0.1")),
        "100.64.0.1|nil|nil|nil|nil|nil|nil|nil",
        "an unknown address has empty fields"
    );
    assert_eq!(
        body(&nginx, "127.0.0.1", "/untrusted", Some("203.0.113.7")),
        "127.0.0.1|IS",
        "a forwarded address from an untrusted peer is ignored"
    );

    let ok = request(
        nginx.port,
        "GET",
        "/protected/a",
        &[("X-Forwarded-For", "192.0.2.1")],
        b"",
    );
    assert_eq!(ok.status, 200, "{}", nginx.error_log());
    let seen = backend.received_at("/protected/a").pop().unwrap();
    let h = |n: &str| {
        seen.headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(h("x-geo-country").as_deref(), Some("NL"));
    assert_eq!(h("x-geo-city").as_deref(), Some("Amsterdam"));
    for refused in ["198.18.0.1", "203.0.113.7"] {
        let r = request(
            nginx.port,
            "GET",
            "/protected/b",
            &[("X-Forwarded-For", refused)],
            b"",
        );
        assert_eq!(r.status, 403, "{refused}");
    }
    assert!(
        nginx.error_log().contains("[id \"100700\"]"),
        "{}",
        nginx.error_log()
    );
}

#[test]
fn a_missing_database_stops_lua_init_with_the_path_and_reason() {
    let backend = Backend::start();
    let body = format!(
        r#"init_worker_by_lua_block {{ require("moat").init{{ lib = "{}", geoip = "/nonexistent/City.mmdb" }} }}
    server {{ listen 127.0.0.1:PORT; set $moat_action ''; set $moat_score ''; set $moat_rule_ids ''; location / {{ content_by_lua_block {{ ngx.say("up") }} }} }}"#,
        artifact("libmoat.so").display()
    );
    let nginx = Nginx::start(Adapter::Lua, &body, &backend);
    let log = (0..50)
        .map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(20));
            nginx.error_log()
        })
        .find(|l| l.contains("City.mmdb"))
        .unwrap_or_else(|| nginx.error_log());
    assert!(
        log.contains("GeoIP database \"/nonexistent/City.mmdb\": No such file or directory"),
        "{log}"
    );
}
