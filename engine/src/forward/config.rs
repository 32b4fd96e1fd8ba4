//! The `moat_log_clickhouse` options (also the Lua binding's `clickhouse` option), parsed and
//! checked once for every adapter.
//!
//! `URL [database=moat] [table=events] [user=NAME] [password_file=PATH] [format=rowbinary|json]
//! [batch=1000] [interval=1s] [queue=65536] [timeout=5s] [retries=2] [spool=DIR]
//! [spool_max=1g] [events=all|flagged] [sample=1.0] [session_cookies=a,b]
//! [token_cookies=a,b] [session_key_file=PATH]`

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::clickhouse::{check_identifier, ClickHouse};
use super::http::Endpoint;
use crate::events::encode::Format;
use crate::events::event::{Record, Recorder};
use crate::events::session::SessionConfig;
use crate::events::siphash;
use crate::settings::{parse_duration, parse_size};

/// How the forwarder batches, retries and spools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineConfig {
    /// Rows per insert (a batch is sent when it has this many rows or `interval` passed).
    pub batch_rows: usize,
    /// Longest time an event waits before its batch is sent.
    pub interval: Duration,
    /// Events the in-memory queue holds; more are dropped and counted.
    pub queue: usize,
    /// Insert attempts after the first before a batch goes to the spool.
    pub retries: u32,
    /// Row format of inserts.
    pub format: Format,
    /// Spool directory; without one, unsendable batches are dropped and counted.
    pub spool_dir: Option<PathBuf>,
    /// Cap on the spool's size in bytes.
    pub spool_max: u64,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            batch_rows: 1000,
            interval: Duration::from_secs(1),
            queue: 65536,
            retries: 2,
            format: Format::RowBinary,
            spool_dir: None,
            spool_max: 1 << 30,
        }
    }
}

/// Everything `moat_log_clickhouse` configures.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// Where to insert.
    pub clickhouse: ClickHouse,
    /// Batching, retries, spool.
    pub pipeline: PipelineConfig,
    /// Which requests produce events, and how sessions are found.
    pub recorder: Recorder,
}

fn number<T: std::str::FromStr + PartialOrd + std::fmt::Display>(
    name: &str,
    value: &str,
    min: T,
    max: T,
) -> Result<T, String> {
    match value.parse::<T>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        _ => Err(format!(
            "invalid {name} \"{value}\": expected a number from {min} to {max}"
        )),
    }
}

fn names(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

fn read_secret(what: &str, path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {what} \"{}\": {e}", path.display()))
}

/// 32 random bytes from the kernel.
fn random_key() -> Result<siphash::Key, String> {
    use std::io::Read;
    let mut key = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .map_err(|e| format!("cannot read /dev/urandom for the session key: {e}"))?;
    Ok(key)
}

impl LogConfig {
    /// Parses the URL and `key=value` options; relative paths are resolved against `base`.
    /// Password and session key files are read now (so workers need no access to them).
    pub fn parse(args: &[&str], base: &Path) -> Result<LogConfig, String> {
        let (url, options) = args
            .split_first()
            .ok_or("expected a ClickHouse URL, e.g. http://127.0.0.1:8123")?;
        let mut clickhouse = ClickHouse {
            endpoint: Endpoint::parse(url)?,
            database: "moat".into(),
            table: "events".into(),
            user: None,
            password: None,
            timeout: Duration::from_secs(5),
        };
        let mut pipeline = PipelineConfig::default();
        let mut record = Record::All;
        let mut sample = 1.0;
        let mut sessions = SessionConfig::with_key([0; 32]);
        let mut key_file = None;
        let path = |v: &str| base.join(v);
        for option in options {
            let (name, value) = option
                .split_once('=')
                .ok_or_else(|| format!("invalid option \"{option}\": expected name=value"))?;
            match name {
                "database" => {
                    check_identifier("database", value)?;
                    clickhouse.database = value.into();
                }
                "table" => {
                    check_identifier("table", value)?;
                    clickhouse.table = value.into();
                }
                "user" if !value.is_empty() => clickhouse.user = Some(value.into()),
                "password_file" => {
                    let secret = read_secret("password file", &path(value))?;
                    let text = String::from_utf8(secret)
                        .map_err(|_| format!("password file \"{value}\" is not UTF-8"))?;
                    clickhouse.password = Some(text.trim_end_matches(['\r', '\n']).to_string());
                }
                "format" => pipeline.format = Format::parse(value)?,
                "batch" => pipeline.batch_rows = number("batch", value, 1, 1_000_000)?,
                "interval" => pipeline.interval = parse_duration(value)?,
                "queue" => pipeline.queue = number("queue", value, 1, 10_000_000)?,
                "timeout" => clickhouse.timeout = parse_duration(value)?,
                "retries" => pipeline.retries = number("retries", value, 0, 10)?,
                "spool" => pipeline.spool_dir = Some(path(value)),
                "spool_max" => pipeline.spool_max = parse_size(value)?,
                "events" => {
                    record = match value {
                        "all" => Record::All,
                        "flagged" => Record::Flagged,
                        _ => {
                            return Err(format!(
                                "invalid events \"{value}\": expected \"all\" or \"flagged\""
                            ))
                        }
                    }
                }
                "sample" => sample = number("sample", value, 0.0, 1.0)?,
                "session_cookies" => sessions.cookies = names(value),
                "token_cookies" => sessions.token_cookies = names(value),
                "session_key_file" => key_file = Some(path(value)),
                _ => return Err(format!("unknown option \"{name}\"")),
            }
        }
        sessions.key = match key_file {
            Some(p) => {
                let secret = read_secret("session key file", &p)?;
                if secret.len() < 16 {
                    return Err(format!(
                        "session key file \"{}\" holds {} bytes, at least 16 are needed",
                        p.display(),
                        secret.len()
                    ));
                }
                siphash::derive_key(&secret)
            }
            None => random_key()?,
        };
        Ok(LogConfig {
            clickhouse,
            pipeline,
            recorder: Recorder {
                record,
                sample,
                sessions,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<LogConfig, String> {
        LogConfig::parse(args, Path::new("/etc/nginx"))
    }

    #[test]
    fn defaults_and_options() {
        let c = parse(&["http://127.0.0.1:8123"]).unwrap();
        assert_eq!(c.clickhouse.database, "moat");
        assert_eq!(c.clickhouse.table, "events");
        assert_eq!(c.pipeline, PipelineConfig::default());
        assert_eq!(c.recorder.record, Record::All);
        let c = parse(&[
            "http://ch:9000",
            "database=waf",
            "table=ev",
            "batch=5000",
            "interval=200ms",
            "spool=spool",
            "spool_max=10m",
            "events=flagged",
            "sample=0.25",
            "format=json",
            "session_cookies=a,b",
        ])
        .unwrap();
        assert_eq!(c.clickhouse.database, "waf");
        assert_eq!(c.pipeline.batch_rows, 5000);
        assert_eq!(c.pipeline.interval, Duration::from_millis(200));
        assert_eq!(
            c.pipeline.spool_dir,
            Some(PathBuf::from("/etc/nginx/spool"))
        );
        assert_eq!(c.pipeline.spool_max, 10 << 20);
        assert_eq!(c.pipeline.format, Format::JsonEachRow);
        assert_eq!(c.recorder.record, Record::Flagged);
        assert_eq!(c.recorder.sample, 0.25);
        assert_eq!(c.recorder.sessions.cookies, vec!["a", "b"]);
    }

    #[test]
    fn bad_values_say_why() {
        let e = |args: &[&str]| parse(args).unwrap_err();
        assert!(e(&[]).contains("expected a ClickHouse URL"));
        assert!(e(&["ftp://x"]).contains("expected http://"));
        assert!(e(&["http://x", "batch=0"]).contains("from 1 to 1000000"));
        assert!(e(&["http://x", "table=a-b"]).contains("invalid table"));
        assert!(e(&["http://x", "colour=red"]).contains("unknown option \"colour\""));
        assert!(e(&["http://x", "sample=2"]).contains("invalid sample"));
        assert!(e(&["http://x", "batch"]).contains("expected name=value"));
        assert!(
            e(&["http://x", "password_file=/nonexistent/pw"]).contains("cannot read password file")
        );
        assert!(e(&["http://x", "events=some"]).contains("\"all\" or \"flagged\""));
    }

    #[test]
    fn secrets_come_from_files() {
        let dir = std::env::temp_dir().join(format!("moat-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("pw"), "hunter2\n").unwrap();
        std::fs::write(dir.join("key"), "0123456789abcdef0123").unwrap();
        std::fs::write(dir.join("short"), "abc").unwrap();
        let c = LogConfig::parse(
            &["http://x", "password_file=pw", "session_key_file=key"],
            &dir,
        )
        .unwrap();
        assert_eq!(c.clickhouse.password.as_deref(), Some("hunter2"));
        let again = LogConfig::parse(&["http://x", "session_key_file=key"], &dir).unwrap();
        assert_eq!(c.recorder.sessions.key, again.recorder.sessions.key);
        let e = LogConfig::parse(&["http://x", "session_key_file=short"], &dir).unwrap_err();
        assert!(e.contains("at least 16"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
