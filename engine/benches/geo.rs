//! Cost of GeoIP per request: a lookup in a database the size of GeoLite2-City (about a million
//! networks, tens of thousands of distinct places, IPv4 and IPv6), uncached and from the
//! per-worker cache, and locating a client behind a trusted proxy. Prints nanoseconds per
//! lookup (median of several rounds). Run: `cargo bench -p moat --bench geo`.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use moat::geo::{Geo, GeoPolicyPatch};
use moat::request::{Header, Request};
use moat::{Engine, Settings};
use moat_mmdb::{Database, Entry, Network, Options, Place};

/// A small deterministic generator (xorshift64*), so every run measures the same database.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

const V4_NETWORKS: u32 = 1_000_000;
const V6_NETWORKS: u32 = 200_000;
const PLACES: u64 = 40_000;

fn place(rng: &mut Rng) -> Place {
    let n = rng.next() % PLACES;
    let mut p = Place::default();
    let cc = [b'A' + (n % 26) as u8, b'A' + (n / 26 % 26) as u8];
    p.set("country_code", std::str::from_utf8(&cc).unwrap())
        .unwrap();
    p.set("country_name", &format!("Country {}", n % 250))
        .unwrap();
    p.set("continent_code", "EU").unwrap();
    p.set("region_name", &format!("Region {}", n % 3000))
        .unwrap();
    p.set("city", &format!("City number {n}")).unwrap();
    p.set("postal_code", &format!("{:05}", n)).unwrap();
    p.set("latitude", &format!("{:.4}", (n % 180) as f64 - 89.5))
        .unwrap();
    p.set("longitude", &format!("{:.4}", (n % 360) as f64 - 179.5))
        .unwrap();
    p.set("asn", &(64_512 + n % 1000).to_string()).unwrap();
    p.set("asn_org", &format!("Example Network {}", n % 1000))
        .unwrap();
    p
}

fn build(path: &std::path::Path) -> Duration {
    let start = Instant::now();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut entries = Vec::with_capacity((V4_NETWORKS + V6_NETWORKS) as usize);
    for i in 0..V4_NETWORKS {
        // Spread /24 networks over the IPv4 space (every 4096th /24 is left out: unknown).
        let base = (i.wrapping_mul(2_654_435_761) >> 8) << 8;
        let addr = IpAddr::V4(Ipv4Addr::from(base));
        entries.push(Entry {
            network: Network::parse(&format!("{addr}/24")).unwrap(),
            place: place(&mut rng),
        });
    }
    for i in 0..V6_NETWORKS {
        let base = (0x2001_0db8u128 << 96) | (u128::from(i) << 80);
        let addr = IpAddr::V6(Ipv6Addr::from(base));
        entries.push(Entry {
            network: Network::parse(&format!("{addr}/48")).unwrap(),
            place: place(&mut rng),
        });
    }
    Database::from_entries(&entries)
        .unwrap()
        .write_to(path, &Options::default())
        .unwrap();
    start.elapsed()
}

fn addresses(rng: &mut Rng, n: usize) -> Vec<IpAddr> {
    (0..n)
        .map(|i| {
            if i % 5 == 4 {
                let v = (0x2001_0db8u128 << 96) | (u128::from(rng.next()) << 16 >> 16);
                IpAddr::V6(Ipv6Addr::from(v))
            } else {
                IpAddr::V4(Ipv4Addr::from(rng.next() as u32))
            }
        })
        .collect()
}

/// Median nanoseconds per call of `f` over `ips`, in 7 rounds.
fn measure(ips: &[IpAddr], mut f: impl FnMut(IpAddr)) -> f64 {
    let mut rounds: Vec<f64> = (0..7)
        .map(|_| {
            let start = Instant::now();
            for ip in ips {
                f(*ip);
            }
            start.elapsed().as_nanos() as f64 / ips.len() as f64
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    rounds[3]
}

fn main() {
    let path = std::env::temp_dir().join(format!("moat-geo-bench-{}.mmdb", std::process::id()));
    let built = build(&path);
    let size = std::fs::metadata(&path).unwrap().len();
    let start = Instant::now();
    let geo = Geo::open(Some(&path), None).unwrap();
    let opened = start.elapsed();
    let db = geo.location_database().unwrap();
    println!(
        "database: {} networks, {} tree nodes, {:.1} MB, written in {:.2} s, opened (mmap + full verification) in {:.0} ms",
        V4_NETWORKS + V6_NETWORKS,
        db.node_count(),
        size as f64 / 1e6,
        built.as_secs_f64(),
        opened.as_secs_f64() * 1e3
    );

    let mut rng = Rng(42);
    let many = addresses(&mut rng, 200_000);
    let uncached = measure(&many, |ip| {
        black_box(geo.lookup_uncached(ip));
    });
    println!("uncached lookup (tree walk + decode, City fields + ASN): {uncached:.0} ns");

    let fresh = Geo::open(Some(&path), None).unwrap();
    let mut novel = addresses(&mut Rng(7), 8 * 200_000).into_iter();
    let batch: Vec<IpAddr> = (0..200_000).map(|_| novel.next().unwrap()).collect();
    let missing = measure(&batch, |_| {
        black_box(fresh.lookup(novel.next().unwrap()));
    });
    println!("cache miss (lookup + insert, new address every time): {missing:.0} ns");

    let hot = addresses(&mut Rng(9), 1000);
    for ip in &hot {
        geo.lookup(*ip);
    }
    let repeated: Vec<IpAddr> = (0..200_000).map(|i| hot[i % hot.len()]).collect();
    let cached = measure(&repeated, |ip| {
        black_box(geo.lookup(ip));
    });
    println!("cache hit (1000 recurring clients): {cached:.0} ns");

    let engine = Engine::new(Settings::default()).with_geo(Arc::new(geo));
    let mut patch = GeoPolicyPatch::default();
    patch
        .apply("moat_trusted_proxies", &["10.0.0.0/8"])
        .unwrap();
    let policy = patch.resolve();
    let headers = vec![Header {
        name: b"X-Forwarded-For",
        value: b"203.0.113.7, 10.1.2.3",
    }];
    let req = Request {
        client_addr: b"10.0.0.1",
        headers,
        ..Default::default()
    };
    let locate = measure(&repeated[..100_000], |_| {
        black_box(engine.locate(&req, Some(&policy.client_ip)));
    });
    println!(
        "locate behind a trusted proxy (X-Forwarded-For parse + cached lookup): {locate:.0} ns"
    );
    let _ = std::fs::remove_file(path);
}
