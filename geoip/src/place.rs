//! A place (country, city, coordinates, autonomous system) and its record in the layout of
//! MaxMind's GeoIP2/GeoLite2 City and ASN databases, so every reader of those databases finds
//! the fields where it expects them.

use crate::encode::Value;

/// Everything known about the addresses of one network; every field is optional.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Place {
    /// ISO 3166-1 alpha-2 country code (`country.iso_code`).
    pub country_code: Option<String>,
    /// Country name in English (`country.names.en`).
    pub country_name: Option<String>,
    /// Two-letter continent code (`continent.code`).
    pub continent_code: Option<String>,
    /// Continent name in English (`continent.names.en`).
    pub continent_name: Option<String>,
    /// ISO 3166-2 subdivision code without the country (`subdivisions[0].iso_code`).
    pub region_code: Option<String>,
    /// Subdivision name in English (`subdivisions[0].names.en`).
    pub region_name: Option<String>,
    /// City name in English (`city.names.en`).
    pub city: Option<String>,
    /// Postal code (`postal.code`).
    pub postal_code: Option<String>,
    /// Latitude in degrees (`location.latitude`).
    pub latitude: Option<f64>,
    /// Longitude in degrees (`location.longitude`).
    pub longitude: Option<f64>,
    /// Accuracy radius in kilometres (`location.accuracy_radius`).
    pub accuracy_radius: Option<u16>,
    /// IANA time zone (`location.time_zone`).
    pub time_zone: Option<String>,
    /// Autonomous system number (`autonomous_system_number`).
    pub asn: Option<u32>,
    /// Autonomous system organisation (`autonomous_system_organization`).
    pub asn_org: Option<String>,
}

/// The field names accepted in CSV headers and JSON objects, besides `network`.
pub const FIELDS: &[&str] = &[
    "country_code",
    "country_name",
    "continent_code",
    "continent_name",
    "region_code",
    "region_name",
    "city",
    "postal_code",
    "latitude",
    "longitude",
    "accuracy_radius",
    "time_zone",
    "asn",
    "asn_org",
];

impl Place {
    /// Sets one field from its text form; an empty value leaves the field unset.
    pub fn set(&mut self, field: &str, value: &str) -> Result<(), String> {
        let value = value.trim();
        if value.is_empty() {
            return Ok(());
        }
        let text = || Some(value.to_string());
        match field {
            "country_code" => self.country_code = Some(code(value, field)?),
            "country_name" => self.country_name = text(),
            "continent_code" => self.continent_code = Some(code(value, field)?),
            "continent_name" => self.continent_name = text(),
            "region_code" => self.region_code = text(),
            "region_name" => self.region_name = text(),
            "city" => self.city = text(),
            "postal_code" => self.postal_code = text(),
            "latitude" => self.latitude = Some(degrees(value, field, 90.0)?),
            "longitude" => self.longitude = Some(degrees(value, field, 180.0)?),
            "accuracy_radius" => self.accuracy_radius = Some(number(value, field)?),
            "time_zone" => self.time_zone = text(),
            "asn" => {
                let digits = value.strip_prefix("AS").unwrap_or(value);
                self.asn = Some(number(digits, field)?);
            }
            "asn_org" => self.asn_org = text(),
            _ => {
                return Err(format!(
                    "unknown field \"{field}\" (known: network, {})",
                    FIELDS.join(", ")
                ))
            }
        }
        Ok(())
    }

    /// The record in GeoIP2 layout; fields that are not set are left out.
    pub fn to_record(&self) -> Value {
        let mut rec = Vec::new();
        let names = |name: &Option<String>| {
            name.as_ref().map(|n| {
                (
                    "names".to_string(),
                    Value::Map(vec![("en".into(), Value::str(n))]),
                )
            })
        };
        let code =
            |key: &str, c: &Option<String>| c.as_ref().map(|c| (key.to_string(), Value::str(c)));
        let section = |fields: Vec<Option<(String, Value)>>| {
            let fields: Vec<(String, Value)> = fields.into_iter().flatten().collect();
            (!fields.is_empty()).then_some(Value::Map(fields))
        };
        if let Some(city) = section(vec![names(&self.city)]) {
            rec.push(("city".to_string(), city));
        }
        if let Some(c) = section(vec![
            code("code", &self.continent_code),
            names(&self.continent_name),
        ]) {
            rec.push(("continent".to_string(), c));
        }
        if let Some(c) = section(vec![
            code("iso_code", &self.country_code),
            names(&self.country_name),
        ]) {
            rec.push(("country".to_string(), c));
        }
        if let Some(l) = section(vec![
            self.accuracy_radius
                .map(|r| ("accuracy_radius".to_string(), Value::Uint16(r))),
            self.latitude
                .map(|v| ("latitude".to_string(), Value::Double(v))),
            self.longitude
                .map(|v| ("longitude".to_string(), Value::Double(v))),
            code("time_zone", &self.time_zone),
        ]) {
            rec.push(("location".to_string(), l));
        }
        if let Some(p) = section(vec![code("code", &self.postal_code)]) {
            rec.push(("postal".to_string(), p));
        }
        if let Some(s) = section(vec![
            code("iso_code", &self.region_code),
            names(&self.region_name),
        ]) {
            rec.push(("subdivisions".to_string(), Value::Array(vec![s])));
        }
        if let Some(asn) = self.asn {
            rec.push(("autonomous_system_number".to_string(), Value::Uint32(asn)));
        }
        if let Some(org) = &self.asn_org {
            rec.push((
                "autonomous_system_organization".to_string(),
                Value::str(org),
            ));
        }
        Value::Map(rec)
    }
}

/// A two-letter code, upper-cased.
fn code(value: &str, field: &str) -> Result<String, String> {
    if value.len() == 2 && value.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(value.to_ascii_uppercase())
    } else {
        Err(format!("invalid {field} \"{value}\": expected two letters"))
    }
}

fn degrees(value: &str, field: &str, limit: f64) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(v) if v.is_finite() && v.abs() <= limit => Ok(v),
        _ => Err(format!(
            "invalid {field} \"{value}\": expected degrees from -{limit} to {limit}"
        )),
    }
}

fn number<T: std::str::FromStr>(value: &str, field: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("invalid {field} \"{value}\": expected a whole number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_has_the_geoip2_layout() {
        let mut p = Place::default();
        p.set("country_code", "au").unwrap();
        p.set("city", "Sydney").unwrap();
        p.set("latitude", "-33.8688").unwrap();
        p.set("asn", "AS64500").unwrap();
        p.set("postal_code", "").unwrap();
        let Value::Map(rec) = p.to_record() else {
            panic!("not a map")
        };
        let keys: Vec<&str> = rec.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["city", "country", "location", "autonomous_system_number"]
        );
        assert_eq!(
            rec[1].1,
            Value::Map(vec![("iso_code".into(), Value::str("AU"))])
        );
        assert_eq!(rec[3].1, Value::Uint32(64500));
    }

    #[test]
    fn bad_values_are_refused_with_the_field_name() {
        let mut p = Place::default();
        assert!(p.set("latitude", "91").unwrap_err().contains("latitude"));
        assert!(p.set("country_code", "AUS").is_err());
        assert!(p.set("asn", "x").is_err());
        assert!(p
            .set("contry_code", "AU")
            .unwrap_err()
            .contains("unknown field"));
    }
}
