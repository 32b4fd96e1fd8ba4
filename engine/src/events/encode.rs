//! Events as ClickHouse insert rows, in `RowBinary` or `JSONEachRow`.
//!
//! Both formats write the columns of [`COLUMNS`] in that order; the insert names them, so a
//! table may carry more columns (with defaults) than Moat sends.

use std::fmt::Write as _;

use super::event::{Event, Text};
use super::session::Session;
use crate::verdict::Action;

/// The insert's columns, in the order each row is written.
pub const COLUMNS: &[&str] = &[
    "time",
    "time_ms",
    "request_id",
    "client_addr",
    "country",
    "city",
    "latitude",
    "longitude",
    "asn",
    "as_org",
    "method",
    "host",
    "uri",
    "status",
    "action",
    "fail_open",
    "score",
    "rule_ids",
    "rule_msgs",
    "session_id",
    "jwt_sub",
    "jwt_iss",
    "user_agent",
    "bytes_in",
    "inspect_us",
];

/// The wire format of an insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// ClickHouse's compact binary rows (the default).
    #[default]
    RowBinary,
    /// One JSON object per line.
    JsonEachRow,
}

impl Format {
    /// The format's name in an `INSERT … FORMAT` query.
    pub fn name(self) -> &'static str {
        match self {
            Format::RowBinary => "RowBinary",
            Format::JsonEachRow => "JSONEachRow",
        }
    }

    /// Parses `rowbinary` or `json` (any case; the ClickHouse names work too).
    pub fn parse(s: &str) -> Result<Format, String> {
        match s.to_ascii_lowercase().as_str() {
            "rowbinary" => Ok(Format::RowBinary),
            "json" | "jsoneachrow" => Ok(Format::JsonEachRow),
            _ => Err(format!(
                "invalid format \"{s}\": expected \"rowbinary\" or \"json\""
            )),
        }
    }
}

/// The `action` column's Enum8 value.
pub fn action_code(action: Action) -> i8 {
    match action {
        Action::Allow => 1,
        Action::Log => 2,
        Action::Block => 3,
    }
}

/// Appends one row for `event` (with its derived `session`) to `out`.
pub fn encode(event: &Event, session: &Session, format: Format, out: &mut Vec<u8>) {
    match format {
        Format::RowBinary => row_binary(event, session, out),
        Format::JsonEachRow => json_each_row(event, session, out),
    }
}

fn row_binary(e: &Event, s: &Session, out: &mut Vec<u8>) {
    let secs = u32::try_from(e.time_ms / 1000).unwrap_or(u32::MAX);
    out.extend_from_slice(&secs.to_le_bytes());
    out.extend_from_slice(&((e.time_ms % 1000) as u16).to_le_bytes());
    rb_string(out, e.text(Text::RequestId));
    rb_string(out, e.text(Text::ClientAddr));
    rb_string(out, e.geo.country.as_bytes());
    rb_string(out, e.geo.city.as_bytes());
    out.extend_from_slice(&e.geo.latitude.to_le_bytes());
    out.extend_from_slice(&e.geo.longitude.to_le_bytes());
    out.extend_from_slice(&e.geo.asn.to_le_bytes());
    rb_string(out, e.geo.as_org.as_bytes());
    rb_string(out, e.text(Text::Method));
    rb_string(out, e.text(Text::Host));
    rb_string(out, e.text(Text::Uri));
    out.extend_from_slice(&e.status.to_le_bytes());
    out.push(action_code(e.action) as u8);
    rb_string(out, e.fail_open.map_or("", |f| f.as_str()).as_bytes());
    out.extend_from_slice(&e.score.to_le_bytes());
    varint(out, e.rule_ids.len() as u64);
    for id in &e.rule_ids {
        out.extend_from_slice(&id.to_le_bytes());
    }
    varint(out, e.rule_msgs.len() as u64);
    for msg in &e.rule_msgs {
        rb_string(out, msg.as_bytes());
    }
    rb_string(out, s.id_hex().as_bytes());
    rb_string(out, s.jwt_sub.as_bytes());
    rb_string(out, s.jwt_iss.as_bytes());
    rb_string(out, e.text(Text::UserAgent));
    out.extend_from_slice(&e.bytes_in.to_le_bytes());
    out.extend_from_slice(&e.inspect_us.to_le_bytes());
}

fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn rb_string(out: &mut Vec<u8>, bytes: &[u8]) {
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn json_each_row(e: &Event, s: &Session, out: &mut Vec<u8>) {
    let mut j = String::with_capacity(512);
    let _ = write!(
        j,
        "{{\"time\":\"{}\",\"time_ms\":{},\"request_id\":",
        e.time_ms / 1000,
        e.time_ms % 1000
    );
    json_string(&mut j, e.text(Text::RequestId));
    j.push_str(",\"client_addr\":");
    json_string(&mut j, e.text(Text::ClientAddr));
    j.push_str(",\"country\":");
    json_string(&mut j, e.geo.country.as_bytes());
    j.push_str(",\"city\":");
    json_string(&mut j, e.geo.city.as_bytes());
    let _ = write!(
        j,
        ",\"latitude\":{},\"longitude\":{},\"asn\":{},\"as_org\":",
        e.geo.latitude, e.geo.longitude, e.geo.asn
    );
    json_string(&mut j, e.geo.as_org.as_bytes());
    j.push_str(",\"method\":");
    json_string(&mut j, e.text(Text::Method));
    j.push_str(",\"host\":");
    json_string(&mut j, e.text(Text::Host));
    j.push_str(",\"uri\":");
    json_string(&mut j, e.text(Text::Uri));
    let _ = write!(
        j,
        ",\"status\":{},\"action\":\"{}\",\"fail_open\":\"{}\",\"score\":{},\"rule_ids\":[",
        e.status,
        e.action.as_str(),
        e.fail_open.map_or("", |f| f.as_str()),
        e.score
    );
    for (i, id) in e.rule_ids.iter().enumerate() {
        let _ = write!(j, "{}{id}", if i > 0 { "," } else { "" });
    }
    j.push_str("],\"rule_msgs\":[");
    for (i, msg) in e.rule_msgs.iter().enumerate() {
        if i > 0 {
            j.push(',');
        }
        json_string(&mut j, msg.as_bytes());
    }
    let _ = write!(j, "],\"session_id\":\"{}\",\"jwt_sub\":", s.id_hex());
    json_string(&mut j, s.jwt_sub.as_bytes());
    j.push_str(",\"jwt_iss\":");
    json_string(&mut j, s.jwt_iss.as_bytes());
    j.push_str(",\"user_agent\":");
    json_string(&mut j, e.text(Text::UserAgent));
    let _ = writeln!(
        j,
        ",\"bytes_in\":{},\"inspect_us\":{}}}",
        e.bytes_in, e.inspect_us
    );
    out.extend_from_slice(j.as_bytes());
}

/// Writes `bytes` as a JSON string (invalid UTF-8 replaced, control characters escaped).
pub fn json_string(out: &mut String, bytes: &[u8]) {
    out.push('"');
    for c in String::from_utf8_lossy(bytes).chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn event() -> Event {
        let mut e = Event::from_texts(
            1_700_000_000_123,
            [
                b"r1",
                b"127.0.0.1",
                b"GET",
                b"h",
                b"/a\"b\n",
                b"\xffua",
                b"secret",
                b"",
            ],
        );
        e.status = 403;
        e.action = Action::Block;
        e.score = 5;
        e.rule_ids = vec![100100, 100200];
        e.rule_msgs = vec![Cow::Borrowed("SQL"), Cow::Borrowed("XSS")];
        e.bytes_in = 300;
        e.inspect_us = 42;
        e
    }

    #[test]
    fn json_rows_are_valid_json_with_every_column() {
        let mut out = Vec::new();
        encode(&event(), &Session::default(), Format::JsonEachRow, &mut out);
        assert_eq!(out.last(), Some(&b'\n'));
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let obj = v.as_object().unwrap();
        let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        let mut want: Vec<&str> = COLUMNS.to_vec();
        want.sort_unstable();
        assert_eq!(keys, want);
        assert_eq!(v["uri"], "/a\"b\n");
        assert_eq!(v["rule_ids"], serde_json::json!([100100, 100200]));
        assert_eq!(v["action"], "block");
        assert_eq!(v["time"], "1700000000");
        assert_eq!(v["time_ms"], 123);
        assert_eq!(v["user_agent"], "\u{fffd}ua");
        assert!(!String::from_utf8_lossy(&out).contains("secret"));
    }

    #[test]
    fn row_binary_layout() {
        let mut out = Vec::new();
        encode(&event(), &Session::default(), Format::RowBinary, &mut out);
        assert_eq!(&out[..4], &1_700_000_000u32.to_le_bytes());
        assert_eq!(&out[4..6], &123u16.to_le_bytes());
        assert_eq!(&out[6..9], b"\x02r1");
        assert_eq!(&out[out.len() - 12..out.len() - 4], &300u64.to_le_bytes());
        let mut big = Vec::new();
        varint(&mut big, 300);
        assert_eq!(big, vec![0xac, 0x02]);
    }

    #[test]
    fn formats_parse() {
        assert_eq!(Format::parse("json").unwrap(), Format::JsonEachRow);
        assert_eq!(Format::parse("RowBinary").unwrap(), Format::RowBinary);
        assert!(Format::parse("csv").is_err());
    }
}
