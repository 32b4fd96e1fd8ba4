//! nginx access log lines: the `combined` format and JSON `log_format`s.

use crate::events::event::{Event, TEXT_FIELDS, URI_MAX};
use crate::verdict::Action;

/// Parses one access log line into an event; `None` for a line in neither format.
///
/// Combined: `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
/// "$http_referer" "$http_user_agent"` (fields after these are ignored). JSON: an object with any
/// of `time_iso8601`/`time_local`/`msec`/`time`, `remote_addr`, `request` or
/// `request_method`+`request_uri`, `status`, `host`/`http_host`, `http_user_agent`,
/// `request_id`, `request_length`, and Moat's `moat_action`, `moat_score`, `moat_rule_ids`.
pub fn parse_line(line: &str) -> Option<Event> {
    let line = line.trim();
    if line.starts_with('{') {
        parse_json(line)
    } else {
        parse_combined(line)
    }
}

/// A synthetic request id for lines that carry none: a hash of the line, so loading the same
/// file twice gives the same ids.
fn line_id(line: &str) -> String {
    let h = crate::events::siphash::hash128(&[0x4d; 32], line.as_bytes());
    h.iter().map(|b| format!("{b:02x}")).collect()
}

fn event(
    time_ms: u64,
    request_id: &str,
    addr: &str,
    method: &str,
    host: &str,
    uri: &str,
    user_agent: &str,
) -> Event {
    let uri = &uri.as_bytes()[..uri.len().min(URI_MAX)];
    let texts: [&[u8]; TEXT_FIELDS] = [
        request_id.as_bytes(),
        addr.as_bytes(),
        method.as_bytes(),
        host.as_bytes(),
        uri,
        user_agent.as_bytes(),
        b"",
        b"",
    ];
    Event::from_texts(time_ms, texts)
}

fn parse_combined(line: &str) -> Option<Event> {
    let (addr, rest) = line.split_once(' ')?;
    let open = rest.find('[')?;
    let close = open + rest[open..].find(']')?;
    let time_ms = parse_time_local(&rest[open + 1..close])?;
    let rest = rest[close + 1..].trim_start();
    let (request, rest) = quoted(rest)?;
    let rest = rest.trim_start();
    let mut words = rest.split_whitespace();
    let status: u16 = words.next()?.parse().ok()?;
    let _bytes_sent = words.next()?;
    let rest = rest.splitn(3, ' ').nth(2).unwrap_or("").trim_start();
    let (_referer, rest) = quoted(rest).unwrap_or(("", rest));
    let (user_agent, _) = quoted(rest.trim_start()).unwrap_or(("", ""));
    let mut parts = request.splitn(3, ' ');
    let method = parts.next().unwrap_or("");
    let uri = parts.next().unwrap_or("");
    let mut e = event(time_ms, &line_id(line), addr, method, "", uri, user_agent);
    e.status = status;
    e.bytes_in = request.len() as u64;
    Some(e)
}

/// A `"…"` field with `\"` escapes; returns it and what follows.
fn quoted(s: &str) -> Option<(&str, &str)> {
    let s = s.strip_prefix('"')?;
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some((&s[..i], &s[i + 1..])),
            _ => i += 1,
        }
    }
    None
}

fn parse_json(line: &str) -> Option<Event> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let obj = v.as_object()?;
    let text = |k: &str| -> String {
        match obj.get(k) {
            Some(serde_json::Value::String(s)) if s != "-" => s.clone(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            _ => String::new(),
        }
    };
    let first = |keys: &[&str]| keys.iter().map(|k| text(k)).find(|s| !s.is_empty());
    let time_ms = if let Some(t) = first(&["time_iso8601", "timestamp", "@timestamp"]) {
        parse_iso8601(&t)?
    } else if let Some(t) = first(&["time_local"]) {
        parse_time_local(&t)?
    } else {
        let secs: f64 = first(&["msec", "time"])?.parse().ok()?;
        (secs * 1000.0) as u64
    };
    let request = text("request");
    let mut parts = request.splitn(3, ' ');
    let method = first(&["request_method"]).unwrap_or_else(|| parts.next().unwrap_or("").into());
    let uri = first(&["request_uri"]).unwrap_or_else(|| parts.next().unwrap_or("").into());
    let id = first(&["request_id"]).unwrap_or_else(|| line_id(line));
    let mut e = event(
        time_ms,
        &id,
        &text("remote_addr"),
        &method,
        &first(&["host", "http_host", "server_name"]).unwrap_or_default(),
        &uri,
        &text("http_user_agent"),
    );
    e.status = text("status").parse().ok()?;
    e.bytes_in = text("request_length")
        .parse()
        .unwrap_or(request.len() as u64);
    e.action = match text("moat_action").as_str() {
        "block" => Action::Block,
        "log" => Action::Log,
        _ => Action::Allow,
    };
    e.score = text("moat_score").parse().unwrap_or(0);
    e.rule_ids = text("moat_rule_ids")
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    e.rule_msgs = e.rule_ids.iter().map(|_| "".into()).collect();
    Some(e)
}

/// Days since 1970-01-01 of a civil date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A civil date `(year, month, day)` and time `(hour, minute, second, millisecond)` at a zone
/// offset, as milliseconds since the epoch.
fn to_ms(
    (y, mo, d): (i64, u32, u32),
    (h, mi, s, ms): (u32, u32, u32, u32),
    offset_s: i64,
) -> Option<u64> {
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let secs = days_from_civil(y, mo, d) * 86_400
        + i64::from(h) * 3600
        + i64::from(mi) * 60
        + i64::from(s)
        - offset_s;
    u64::try_from(secs * 1000 + i64::from(ms)).ok()
}

/// `10/Oct/2000:13:55:36 -0700` → milliseconds since the epoch (UTC).
pub fn parse_time_local(t: &str) -> Option<u64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (stamp, zone) = t.split_once(' ').unwrap_or((t, "+0000"));
    let mut p = stamp.split(['/', ':']);
    let d = p.next()?.parse().ok()?;
    let month = p.next()?;
    let mo = MONTHS.iter().position(|m| *m == month)? as u32 + 1;
    let y = p.next()?.parse().ok()?;
    let (h, mi, s) = (
        p.next()?.parse().ok()?,
        p.next()?.parse().ok()?,
        p.next()?.parse().ok()?,
    );
    to_ms((y, mo, d), (h, mi, s, 0), zone_offset(zone)?)
}

/// `2000-10-10T13:55:36-07:00` (or `Z`, optional fraction) → milliseconds since the epoch.
pub fn parse_iso8601(t: &str) -> Option<u64> {
    let (date, rest) = t.split_once('T')?;
    let mut dp = date.split('-');
    let y = dp.next()?.parse().ok()?;
    let mo = dp.next()?.parse().ok()?;
    let d = dp.next()?.parse().ok()?;
    let zone_at = rest.find(['Z', '+', '-']).unwrap_or(rest.len());
    let (clock, zone) = rest.split_at(zone_at);
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    let mut tp = hms.split(':');
    let (h, mi, s) = (
        tp.next()?.parse().ok()?,
        tp.next()?.parse().ok()?,
        tp.next()?.parse().ok()?,
    );
    let ms = format!("{frac:0<3}")[..3].parse().unwrap_or(0);
    let offset = if zone.is_empty() || zone == "Z" {
        0
    } else {
        zone_offset(&zone.replace(':', ""))?
    };
    to_ms((y, mo, d), (h, mi, s, ms), offset)
}

/// `+0200` / `-0700` → seconds east of UTC.
fn zone_offset(z: &str) -> Option<i64> {
    let sign = match z.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits = &z[1..];
    if digits.len() != 4 {
        return None;
    }
    let h: i64 = digits[..2].parse().ok()?;
    let m: i64 = digits[2..].parse().ok()?;
    Some(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::event::Text;

    #[test]
    fn combined_lines() {
        let line = r#"203.0.113.9 - alice [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif?x=\"1\" HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)""#;
        let e = parse_line(line).unwrap();
        assert_eq!(e.time_ms, 971_211_336_000);
        assert_eq!(e.text(Text::ClientAddr), b"203.0.113.9");
        assert_eq!(e.text(Text::Method), b"GET");
        assert_eq!(e.text(Text::Uri), br#"/apache_pb.gif?x=\"1\""#);
        assert_eq!(
            e.text(Text::UserAgent),
            b"Mozilla/4.08 [en] (Win98; I ;Nav)"
        );
        assert_eq!(e.status, 200);
        assert_eq!(e.text(Text::RequestId).len(), 32);
        assert_eq!(
            parse_line(line).unwrap().text(Text::RequestId),
            e.text(Text::RequestId)
        );
        assert!(parse_line("garbage line").is_none());
        assert!(parse_line("").is_none());
    }

    #[test]
    fn json_lines_with_moat_fields() {
        let line = r#"{"time_iso8601":"2024-02-29T23:59:59+01:00","remote_addr":"192.0.2.1","request_method":"POST","request_uri":"/login","status":"403","http_user_agent":"curl/8","http_host":"shop","request_id":"abc","request_length":"512","moat_action":"block","moat_score":"5","moat_rule_ids":"100100,100200"}"#;
        let e = parse_line(line).unwrap();
        assert_eq!(e.time_ms, 1_709_247_599_000);
        assert_eq!(e.text(Text::RequestId), b"abc");
        assert_eq!(e.text(Text::Host), b"shop");
        assert_eq!((e.status, e.action, e.score), (403, Action::Block, 5));
        assert_eq!(e.rule_ids, vec![100100, 100200]);
        assert_eq!(e.bytes_in, 512);
        let e = parse_line(r#"{"msec":"1700000000.250","request":"GET / HTTP/1.1","status":200}"#)
            .unwrap();
        assert_eq!(e.time_ms, 1_700_000_000_250);
        assert_eq!(e.text(Text::Method), b"GET");
        assert!(parse_line(r#"{"status":200}"#).is_none());
    }

    #[test]
    fn times() {
        assert_eq!(parse_time_local("01/Jan/1970:00:00:00 +0000"), Some(0));
        assert_eq!(parse_iso8601("1970-01-01T00:00:01.5Z"), Some(1500));
        assert_eq!(
            parse_iso8601("2000-10-10T13:55:36-07:00"),
            Some(971_211_336_000)
        );
        assert!(parse_time_local("10/Foo/2000:13:55:36 -0700").is_none());
    }
}
