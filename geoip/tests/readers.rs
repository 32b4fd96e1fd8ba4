//! Files written by moat-mmdb are read by other MaxMind DB readers: the `maxminddb` crate
//! (with its full structural verification) and libmaxminddb's `mmdblookup` (Debian package
//! mmdb-bin).

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;

use moat_mmdb::{read_entries, Database, Format, Options};

const PLACES: &str = "\
network,country_code,country_name,continent_code,city,region_code,postal_code,latitude,longitude,asn,asn_org
203.0.113.0/24,AU,Australia,OC,Sydney,NSW,2000,-33.8688,151.2093,64500,Example Transit AU
203.0.113.128/25,NZ,New Zealand,OC,Auckland,,,-36.8485,174.7633,64502,Example Kiwi Net
192.0.2.0/24,NL,Netherlands,EU,Amsterdam,NH,1012,52.3676,4.9041,64501,\"Example Net, B.V.\"
2001:db8:1::/48,DE,Germany,EU,Berlin,BE,10115,52.52,13.405,64503,Example Berlin
2001:db8::/32,FR,France,EU,,,,,,,
";

fn write_db(tag: &str) -> PathBuf {
    let entries = read_entries(PLACES, Format::Csv).unwrap();
    let path = std::env::temp_dir().join(format!("moat-mmdb-{tag}-{}.mmdb", std::process::id()));
    Database::from_entries(&entries)
        .unwrap()
        .write_to(&path, &Options::default())
        .unwrap();
    path
}

fn lookup_str(reader: &maxminddb::Reader<Vec<u8>>, ip: &str, path: &[&str]) -> Option<String> {
    let ip: IpAddr = ip.parse().unwrap();
    let elems: Vec<maxminddb::PathElement<'_>> = path.iter().map(|p| (*p).into()).collect();
    reader.lookup(ip).unwrap().decode_path(&elems).unwrap()
}

#[test]
fn the_maxminddb_crate_verifies_and_reads_the_file() {
    let path = write_db("crate");
    let reader = maxminddb::Reader::open_readfile(&path).unwrap();
    reader.verify().expect("structurally valid database");
    assert_eq!(reader.metadata().ip_version, 6);
    assert_eq!(reader.metadata().database_type, "Moat-GeoIP");
    let country = |ip| lookup_str(&reader, ip, &["country", "iso_code"]);
    assert_eq!(country("203.0.113.7").as_deref(), Some("AU"));
    assert_eq!(
        country("203.0.113.200").as_deref(),
        Some("NZ"),
        "more specific wins"
    );
    assert_eq!(
        country("::ffff:203.0.113.7").as_deref(),
        Some("AU"),
        "IPv4-mapped"
    );
    assert_eq!(country("2001:db8:1::99").as_deref(), Some("DE"));
    assert_eq!(country("2001:db8:2::1").as_deref(), Some("FR"));
    assert_eq!(country("198.51.100.1"), None);
    assert_eq!(
        lookup_str(&reader, "192.0.2.1", &["autonomous_system_organization"]).as_deref(),
        Some("Example Net, B.V.")
    );
    let ip: IpAddr = "203.0.113.7".parse().unwrap();
    let result = reader.lookup(ip).unwrap();
    assert_eq!(result.network().unwrap().to_string(), "203.0.113.0/25");
    let lat: Option<f64> = result
        .decode_path(&["location".into(), "latitude".into()])
        .unwrap();
    assert_eq!(lat, Some(-33.8688));
    let asn: Option<u32> = result
        .decode_path(&["autonomous_system_number".into()])
        .unwrap();
    assert_eq!(asn, Some(64500));
    let _ = std::fs::remove_file(path);
}

fn mmdblookup(path: &PathBuf, ip: &str, keys: &[&str]) -> String {
    let out = Command::new("mmdblookup")
        .arg("--file")
        .arg(path)
        .arg("--ip")
        .arg(ip)
        .args(keys)
        .output()
        .expect("mmdblookup is installed (Debian package mmdb-bin, scripts/install-deps.sh)");
    assert!(
        out.status.success(),
        "mmdblookup failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn libmaxminddb_mmdblookup_reads_the_file() {
    let path = write_db("libmaxminddb");
    let city = mmdblookup(&path, "203.0.113.7", &["city", "names", "en"]);
    assert!(city.contains("\"Sydney\" <utf8_string>"), "{city}");
    let lat = mmdblookup(&path, "2001:db8:1::1", &["location", "latitude"]);
    assert!(lat.contains("52.520000 <double>"), "{lat}");
    let asn = mmdblookup(&path, "192.0.2.1", &["autonomous_system_number"]);
    assert!(asn.contains("64501 <uint32>"), "{asn}");
    let whole = mmdblookup(&path, "203.0.113.200", &[]);
    assert!(
        whole.contains("\"NZ\" <utf8_string>") && whole.contains("\"Auckland\""),
        "{whole}"
    );
    let out = Command::new("mmdblookup")
        .arg("--file")
        .arg(&path)
        .arg("--ip")
        .arg("198.51.100.1")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("Could not find an entry"), "{text}");
    let meta = Command::new("mmdblookup")
        .arg("--file")
        .arg(&path)
        .arg("--ip")
        .arg("192.0.2.1")
        .arg("--verbose")
        .output()
        .unwrap();
    let meta = String::from_utf8_lossy(&meta.stdout);
    assert!(
        meta.contains("Type:") && meta.contains("Moat-GeoIP"),
        "{meta}"
    );
    let _ = std::fs::remove_file(path);
}

#[test]
fn the_cli_builds_from_json_and_looks_up() {
    let dir = std::env::temp_dir().join(format!("moat-mmdb-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("places.json");
    std::fs::write(
        &input,
        r#"[{"network": "10.20.0.0/16", "country_code": "GB", "city": "London", "asn": "AS64510", "asn_org": "Office LAN"}]"#,
    )
    .unwrap();
    let out = dir.join("private.mmdb");
    let bin = env!("CARGO_BIN_EXE_moat-mmdb");
    let st = Command::new(bin)
        .arg("build")
        .arg(&input)
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let st = Command::new(bin)
        .arg("lookup")
        .arg(&out)
        .arg("10.20.3.4")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&st.stdout);
    assert!(
        text.contains("\"network\":\"10.20.0.0/16\"") && text.contains("\"London\""),
        "{text}"
    );
    let st = Command::new(bin)
        .arg("lookup")
        .arg(&out)
        .arg("10.21.0.1")
        .output()
        .unwrap();
    assert!(!st.status.success());
    std::fs::write(&input, r#"[{"network": "10.20.0.1/16"}]"#).unwrap();
    let st = Command::new(bin)
        .arg("build")
        .arg(&input)
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&st.stderr);
    assert!(
        !st.status.success() && err.contains("entry 1") && err.contains("host bits"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
