//! Reading the list of networks and places: CSV with a header row, or a JSON array of objects.
//! Both use the field names of [`crate::place::FIELDS`] plus `network`:
//!
//! ```text
//! network,country_code,country_name,city,latitude,longitude,asn,asn_org
//! 203.0.113.0/24,AU,Australia,Sydney,-33.8688,151.2093,64500,Example Transit
//! ```
//!
//! ```json
//! [{"network": "2001:db8:1::/48", "country_code": "DE", "city": "Berlin", "asn": 64501}]
//! ```
//!
//! Errors name the line (CSV) or the entry (JSON, counted from 1) and the field.

use crate::network::Network;
use crate::place::Place;

/// One network and its place.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The network.
    pub network: Network,
    /// What is known about its addresses.
    pub place: Place,
}

/// The input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values with a header row (RFC 4180 quoting; `#` lines are comments).
    Csv,
    /// A JSON array of objects.
    Json,
}

impl Format {
    /// `json` for a `.json` file name, otherwise `csv`.
    pub fn from_path(path: &std::path::Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("json") => Format::Json,
            _ => Format::Csv,
        }
    }
}

/// Reads every entry of `text`.
pub fn read_entries(text: &str, format: Format) -> Result<Vec<Entry>, String> {
    match format {
        Format::Csv => read_csv(text),
        Format::Json => read_json(text),
    }
}

fn read_csv(text: &str) -> Result<Vec<Entry>, String> {
    let mut header: Option<Vec<String>> = None;
    let mut entries = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}", i + 1);
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let cells = split_csv_line(line).map_err(at)?;
        let Some(names) = &header else {
            let names: Vec<String> = cells
                .iter()
                .map(|c| c.trim().to_ascii_lowercase())
                .collect();
            if !names.iter().any(|n| n == "network") {
                return Err(at("the header row has no \"network\" column".into()));
            }
            header = Some(names);
            continue;
        };
        if cells.len() != names.len() {
            return Err(at(format!(
                "{} fields, but the header has {}",
                cells.len(),
                names.len()
            )));
        }
        let fields = names
            .iter()
            .map(String::as_str)
            .zip(cells.iter().map(String::as_str));
        entries.push(entry(fields).map_err(at)?);
    }
    Ok(entries)
}

/// One CSV line split into cells (quotes may enclose commas; `""` is a quote).
fn split_csv_line(line: &str) -> Result<Vec<String>, String> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut chars = line.trim_end_matches('\r').chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            ('"', true) => quoted = false,
            ('"', false) if cell.trim().is_empty() => {
                cell.clear();
                quoted = true;
            }
            (',', false) => cells.push(std::mem::take(&mut cell)),
            _ => cell.push(c),
        }
    }
    if quoted {
        return Err("unterminated quoted field".into());
    }
    cells.push(cell);
    Ok(cells)
}

fn read_json(text: &str) -> Result<Vec<Entry>, String> {
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let items = doc
        .as_array()
        .ok_or("the JSON document must be an array of objects")?;
    let mut entries = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = |e: String| format!("entry {}: {e}", i + 1);
        let obj = item.as_object().ok_or_else(|| at("not an object".into()))?;
        let mut fields = Vec::with_capacity(obj.len());
        for (k, v) in obj {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Null => String::new(),
                _ => return Err(at(format!("field \"{k}\" must be a string or a number"))),
            };
            fields.push((k.as_str(), text));
        }
        entries.push(entry(fields.iter().map(|(k, v)| (*k, v.as_str()))).map_err(at)?);
    }
    Ok(entries)
}

/// An entry from `(field, value)` pairs.
fn entry<'a>(fields: impl Iterator<Item = (&'a str, &'a str)>) -> Result<Entry, String> {
    let mut network = None;
    let mut place = Place::default();
    for (name, value) in fields {
        if name == "network" {
            network = Some(Network::parse(value)?);
        } else {
            place.set(name, value)?;
        }
    }
    let network = network.ok_or("no network")?;
    Ok(Entry { network, place })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_quotes_comments_and_empty_cells() {
        let text = "# test ranges\nnetwork,country_code,city,asn_org\n\
                    192.0.2.0/24,NL,\"Amsterdam, Noord-Holland\",\"The \"\"Example\"\" Org\"\n\
                    2001:db8::/32,DE,,\n";
        let e = read_entries(text, Format::Csv).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].place.city.as_deref(), Some("Amsterdam, Noord-Holland"));
        assert_eq!(e[0].place.asn_org.as_deref(), Some("The \"Example\" Org"));
        assert_eq!(e[1].place.city, None);
        assert_eq!(e[1].place.country_code.as_deref(), Some("DE"));
    }

    #[test]
    fn csv_errors_name_the_line() {
        let e = read_entries("network,city\n10.0.0.0/8,x,y\n", Format::Csv).unwrap_err();
        assert!(e.starts_with("line 2:"), "{e}");
        let e = read_entries("network,latitude\n10.0.0.0/8,100\n", Format::Csv).unwrap_err();
        assert!(e.contains("line 2") && e.contains("latitude"), "{e}");
        assert!(read_entries("city\nx\n", Format::Csv).is_err());
    }

    #[test]
    fn json_entries_take_numbers_and_strings() {
        let text = r#"[{"network": "203.0.113.0/24", "country_code": "AU", "latitude": -33.86, "asn": 64500},
                       {"network": "::1", "city": "Loopback"}]"#;
        let e = read_entries(text, Format::Json).unwrap();
        assert_eq!(e[0].place.latitude, Some(-33.86));
        assert_eq!(e[0].place.asn, Some(64500));
        assert_eq!(e[1].network.prefix, 128);
        let err = read_entries(r#"[{"city": "x"}]"#, Format::Json).unwrap_err();
        assert_eq!(err, "entry 1: no network");
    }
}
