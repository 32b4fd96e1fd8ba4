//! `moat-mmdb`: writes MaxMind DB files from CSV or JSON, and looks addresses up in any `.mmdb`.
//!
//! ```text
//! moat-mmdb build [--format csv|json] [--type NAME] [--description TEXT] INPUT OUTPUT.mmdb
//! moat-mmdb lookup DATABASE.mmdb ADDRESS
//! ```

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use moat_mmdb::{read_entries, Database, Format, Options};

const USAGE: &str = "usage:
  moat-mmdb build [--format csv|json] [--type NAME] [--description TEXT] INPUT OUTPUT.mmdb
      writes a MaxMind DB file (GeoIP2 City/ASN layout) from a CSV file with a header row or a
      JSON array; fields: network, country_code, country_name, continent_code, continent_name,
      region_code, region_name, city, postal_code, latitude, longitude, accuracy_radius,
      time_zone, asn, asn_org
  moat-mmdb lookup DATABASE.mmdb ADDRESS
      prints the record for ADDRESS as JSON (any MaxMind DB file)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("build") => build(&args[1..]),
        Some("lookup") => lookup(&args[1..]),
        Some("-h" | "--help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("moat-mmdb: {e}");
            ExitCode::FAILURE
        }
    }
}

fn build(args: &[String]) -> Result<(), String> {
    let mut options = Options::default();
    let mut format = None;
    let mut paths = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--format" => {
                format = Some(match value()?.as_str() {
                    "csv" => Format::Csv,
                    "json" => Format::Json,
                    other => return Err(format!("unknown format \"{other}\": csv or json")),
                })
            }
            "--type" => options.database_type = value()?,
            "--description" => options.description = value()?,
            _ if a.starts_with("--") => return Err(format!("unknown option {a}\n{USAGE}")),
            _ => paths.push(PathBuf::from(a)),
        }
    }
    let [input, output] = paths.as_slice() else {
        return Err(format!("build needs INPUT and OUTPUT\n{USAGE}"));
    };
    let text = std::fs::read_to_string(input)
        .map_err(|e| format!("cannot read {}: {e}", input.display()))?;
    let format = format.unwrap_or_else(|| Format::from_path(input));
    let entries = read_entries(&text, format).map_err(|e| format!("{}: {e}", input.display()))?;
    let db = Database::from_entries(&entries)?;
    let networks = db.networks;
    db.write_to(output, &options)?;
    println!("wrote {} ({networks} networks)", output.display());
    Ok(())
}

fn lookup(args: &[String]) -> Result<(), String> {
    let [db, addr] = args else {
        return Err(format!("lookup needs DATABASE and ADDRESS\n{USAGE}"));
    };
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| format!("\"{addr}\" is not an IP address"))?;
    let reader =
        maxminddb::Reader::open_readfile(db).map_err(|e| format!("cannot open {db}: {e}"))?;
    let result = reader.lookup(ip).map_err(|e| format!("{db}: {e}"))?;
    let network = result.network().map_err(|e| format!("{db}: {e}"))?;
    match result
        .decode::<serde_json::Value>()
        .map_err(|e| format!("{db}: {e}"))?
    {
        Some(record) => {
            println!(
                "{}",
                serde_json::json!({ "network": network.to_string(), "record": record })
            );
            Ok(())
        }
        None => Err(format!("{ip} is not in {db} (nearest network {network})")),
    }
}
