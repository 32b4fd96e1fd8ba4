//! In-process cost of judging requests with OWASP CRS v4 at paranoia level 1 (the default of
//! `crs-setup.conf.example`) and with the built-in detectors alone. Prints the median and p99
//! CPU time per request (thread CPU time, robust on a shared machine) per request type. Run: `cargo bench -p moat --bench crs` (CRS from `$MOAT_CRS_DIR` or
//! `../shared/crs`); `-- JSON built-in` times only the request/engine pairs whose names contain every word;
//! `MOAT_BENCH_N` sets the number of requests, `MOAT_BENCH_EVICT=BYTES` evicts the CPU caches
//! between requests (closer to a request's cost inside a busy nginx worker).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use moat::cpu_clock::thread_cpu_time;
use moat::request::{BodyPart, Header, Request};
use moat::rules::RuleSet;
use moat::{Engine, Settings};

fn crs_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("MOAT_CRS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/crs"));
    dir.join("rules").is_dir().then_some(dir)
}

fn load_crs(dir: &Path) -> RuleSet {
    let mut paths = vec![dir.join("crs-setup.conf.example")];
    let mut rules: Vec<PathBuf> = std::fs::read_dir(dir.join("rules"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    rules.sort();
    paths.extend(rules);
    RuleSet::load(&paths).unwrap_or_else(|e| panic!("CRS: {}", e[0]))
}

const HEADERS: [(&[u8], &[u8]); 5] = [
    (b"Host", b"shop.example.com"),
    (b"User-Agent", b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"),
    (b"Accept", b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    (b"Accept-Language", b"en-US,en;q=0.9"),
    (b"Cookie", b"sid=9f8e7d6c5b4a3f2e1d0c; theme=dark"),
];

fn json_body() -> Vec<u8> {
    json_body_variant(None)
}

/// The 10 KB JSON order; with `Some(k)`, the same fields with values of order `k` (its own SKUs,
/// quantities, prices, product names and notes), as many clients of one API send.
fn json_body_variant(k: Option<u64>) -> Vec<u8> {
    const PRODUCTS: [&str; 6] = [
        "Blue cotton shirt size M",
        "Red wool sweater size L",
        "Black leather belt 95 cm",
        "Grey denim jeans 32/34",
        "White linen shirt size S",
        "Green rain jacket size XL",
    ];
    let mut s = String::from("{\"order\":{\"id\":\"A-1001\",\"items\":[");
    let mut i = 0u64;
    while s.len() < 10_000 {
        if i > 0 {
            s.push(',');
        }
        let (sku, name, qty, price, note) = match k {
            None => (
                i,
                PRODUCTS[0].to_string(),
                i % 4 + 1,
                "19.99".to_string(),
                "gift wrap please".to_string(),
            ),
            Some(k) => {
                let r = (k * 131 + i * 7919).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40;
                (
                    k * 1000 + i,
                    PRODUCTS[(r % 6) as usize].to_string(),
                    r % 9 + 1,
                    format!("{}.{:02}", r % 200 + 1, r % 100),
                    format!("deliver after {} pm, ring {}", r % 12 + 1, r % 40),
                )
            }
        };
        s.push_str(&format!(
            "{{\"sku\":\"SKU-{sku:05}\",\"name\":\"{name}\",\"qty\":{qty},\"price\":{price},\"note\":\"{note}\"}}"
        ));
        i += 1;
    }
    s.push_str("]}}");
    s.into_bytes()
}

/// The 1 MB multipart upload of `bench/compare.sh`: a short field, then a 1 MiB text file.
fn upload_body() -> Vec<u8> {
    let mut body = Vec::with_capacity(1 << 20 | 1024);
    body.extend_from_slice(
        b"------moatbench\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nholiday photos\r\n\
          ------moatbench\r\nContent-Disposition: form-data; name=\"file\"; filename=\"notes.txt\"\r\n\
          Content-Type: text/plain\r\n\r\n",
    );
    for _ in 0..1024 {
        body.extend_from_slice(&[b'x'; 1023]);
        body.push(b'\n');
    }
    body.extend_from_slice(b"\r\n------moatbench--\r\n");
    body
}

/// Times `n` checks, cycling through `reqs` (one request, or variants of it).
fn time(engine: &Engine, reqs: &[Request<'_>], n: usize) -> (Duration, Duration, String) {
    // `MOAT_BENCH_N` overrides the sample count (e.g. for a profiler run).
    let n = std::env::var("MOAT_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(n)
        .max(1);
    let action = engine.check(&reqs[0], None);
    let mut samples = Vec::with_capacity(n);
    // `MOAT_BENCH_EVICT=BYTES` writes over that many bytes between requests, evicting the
    // engine's data from the CPU caches as nginx's own work between requests does.
    let evict = std::env::var("MOAT_BENCH_EVICT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut junk = vec![0u8; evict];
    for k in 0..n {
        for b in junk.iter_mut().step_by(64) {
            *b = b.wrapping_add(k as u8);
        }
        std::hint::black_box(&junk);
        let t = thread_cpu_time().unwrap_or_default();
        std::hint::black_box(engine.check(&reqs[k % reqs.len()], None));
        samples.push(thread_cpu_time().unwrap_or_default().saturating_sub(t));
    }
    samples.sort();
    (
        samples[n / 2],
        samples[n * 99 / 100],
        format!("{} {}", action.action.as_str(), action.rule_ids()),
    )
}

fn main() {
    let Some(dir) = crs_dir() else {
        println!("skipped: CRS not found; set MOAT_CRS_DIR");
        return;
    };
    let t = Instant::now();
    let crs = Arc::new(load_crs(&dir));
    println!(
        "CRS loaded: {} rules in {:.0} ms",
        crs.rules.len(),
        t.elapsed().as_secs_f64() * 1e3
    );
    let headers: Vec<Header<'_>> = HEADERS
        .iter()
        .map(|(n, v)| Header { name: n, value: v })
        .collect();
    let get = Request {
        method: b"GET",
        uri: b"/products/list?category=shirts&page=2&sort=price",
        version: b"HTTP/1.1",
        headers: headers.clone(),
        client_addr: b"203.0.113.7",
        request_id: b"bench",
        ..Default::default()
    };
    let body = json_body();
    let mut post_headers = headers.clone();
    post_headers.push(Header {
        name: b"Content-Type",
        value: b"application/json",
    });
    let length = body.len().to_string();
    post_headers.push(Header {
        name: b"Content-Length",
        value: length.as_bytes(),
    });
    let post = Request {
        method: b"POST",
        uri: b"/api/orders",
        version: b"HTTP/1.1",
        headers: post_headers,
        body: vec![BodyPart::Memory(&body)],
        client_addr: b"203.0.113.7",
        request_id: b"bench",
        id_source: None,
    };
    let varying_bodies: Vec<(Vec<u8>, String)> = (0..256)
        .map(|k| {
            let body = json_body_variant(Some(k));
            let length = body.len().to_string();
            (body, length)
        })
        .collect();
    let varying_posts: Vec<Request<'_>> = varying_bodies
        .iter()
        .map(|(body, length)| {
            let mut headers = post.headers.clone();
            if let Some(h) = headers.iter_mut().find(|h| h.name == b"Content-Length") {
                h.value = length.as_bytes();
            }
            Request {
                headers,
                body: vec![BodyPart::Memory(body)],
                ..post.clone()
            }
        })
        .collect();
    let upload_bytes = upload_body();
    let upload_length = upload_bytes.len().to_string();
    let mut upload_headers = headers.clone();
    upload_headers.push(Header {
        name: b"Content-Type",
        value: b"multipart/form-data; boundary=----moatbench",
    });
    upload_headers.push(Header {
        name: b"Content-Length",
        value: upload_length.as_bytes(),
    });
    let upload = Request {
        uri: b"/api/upload",
        headers: upload_headers,
        body: vec![BodyPart::Memory(&upload_bytes)],
        ..post.clone()
    };
    let attack = Request {
        uri: b"/products/list?category=shirts'%20UNION%20SELECT%20password%20FROM%20users--",
        ..get.clone()
    };
    // The benign GET with a different page number and session cookie on every request, so
    // that the per-thread memos see new values as they would from many clients.
    let varying_text: Vec<(String, String)> = (0..1024)
        .map(|k| {
            (
                format!("/products/list?category=shirts&page={k}&sort=price"),
                format!(
                    "sid={:020x}; theme=dark",
                    0x9f8e_7d6c_5b4a_u64.wrapping_mul(k + 1)
                ),
            )
        })
        .collect();
    let varying: Vec<Request<'_>> = varying_text
        .iter()
        .map(|(uri, cookie)| {
            let mut headers = headers.clone();
            headers[4].value = cookie.as_bytes();
            Request {
                uri: uri.as_bytes(),
                headers,
                ..get.clone()
            }
        })
        .collect();
    let settings = Settings {
        time_budget: Duration::from_secs(1),
        ..Settings::default()
    };
    let with_crs = Engine::with_rules(settings, Some(crs)).without_builtin_detectors();
    let builtin = Engine::new(settings);
    // `cargo bench --bench crs -- WORD…` times only the request/engine pairs whose names contain
    // every WORD.
    let words: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    println!("| request | engine | median | p99 | verdict |");
    println!("|---|---|---|---|---|");
    for (name, reqs, n) in [
        (
            "benign GET, 5 headers, 3 args",
            std::slice::from_ref(&get),
            20_000,
        ),
        ("benign GET, new values each time", &varying[..], 20_000),
        ("10 KB JSON POST", std::slice::from_ref(&post), 2_000),
        (
            "10 KB JSON POST, new values each time",
            &varying_posts[..],
            2_000,
        ),
        ("1 MB upload", std::slice::from_ref(&upload), 200),
        ("SQLi GET", std::slice::from_ref(&attack), 5_000),
    ] {
        for (ename, engine) in [("CRS v4 PL1", &with_crs), ("built-in detectors", &builtin)] {
            let label = format!("{name} {ename}");
            if !words.iter().all(|w| label.contains(w.as_str())) {
                continue;
            }
            let (median, p99, verdict) = time(engine, reqs, n);
            println!(
                "| {name} ({} B body) | {ename} | {:.1} µs | {:.1} µs | {verdict} |",
                reqs[0].body_len(),
                median.as_secs_f64() * 1e6,
                p99.as_secs_f64() * 1e6
            );
        }
    }
}
