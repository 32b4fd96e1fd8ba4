//! ClickHouse over HTTP: inserts of encoded event rows and plain SQL statements.

use std::fmt;
use std::time::Duration;

use super::http::{self, Endpoint};
use crate::events::encode::{Format, COLUMNS};

/// Most characters of a ClickHouse error message kept.
const MESSAGE_MAX: usize = 300;

/// Where and as whom to write.
#[derive(Clone, PartialEq, Eq)]
pub struct ClickHouse {
    /// Server address.
    pub endpoint: Endpoint,
    /// Database of the events table.
    pub database: String,
    /// Events table.
    pub table: String,
    /// User (`default` when unset).
    pub user: Option<String>,
    /// Password (read from `password_file`).
    pub password: Option<String>,
    /// Bound on connecting, sending and waiting for the answer.
    pub timeout: Duration,
}

impl fmt::Debug for ClickHouse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClickHouse")
            .field("endpoint", &self.endpoint)
            .field("database", &self.database)
            .field("table", &self.table)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<secret>"))
            .finish()
    }
}

/// Why a request to ClickHouse failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// No answer: connection refused, reset or timed out.
    Unreachable(String),
    /// ClickHouse answered with an error status.
    Status(u16, String),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Unreachable(e) => write!(f, "unreachable: {e}"),
            SendError::Status(s, m) => write!(f, "HTTP {s}: {m}"),
        }
    }
}

/// Checks that `name` is a plain identifier (letters, digits, `_`; not starting with a digit).
pub fn check_identifier(what: &str, name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.as_bytes()[0].is_ascii_digit()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid {what} \"{name}\": expected letters, digits and _"
        ))
    }
}

impl ClickHouse {
    /// The `INSERT` statement for rows in `format`.
    pub fn insert_query(&self, format: Format) -> String {
        format!(
            "INSERT INTO {}.{} ({}) FORMAT {}",
            self.database,
            self.table,
            COLUMNS.join(", "),
            format.name()
        )
    }

    /// Inserts encoded rows (one batch, one request).
    pub fn insert(&self, format: Format, rows: &[u8]) -> Result<(), SendError> {
        let mut query = format!("query={}", http::url_encode(&self.insert_query(format)));
        if format == Format::JsonEachRow {
            query.push_str("&date_time_input_format=best_effort");
        }
        self.post(&query, rows).map(drop)
    }

    /// Runs one SQL statement and returns its output (tab-separated for a `SELECT`).
    pub fn execute(&self, sql: &str) -> Result<String, SendError> {
        let body = self.post("", sql.as_bytes())?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    fn post(&self, query: &str, body: &[u8]) -> Result<Vec<u8>, SendError> {
        let mut headers = Vec::with_capacity(2);
        if let Some(user) = &self.user {
            headers.push(("X-ClickHouse-User", user.as_str()));
        }
        if let Some(password) = &self.password {
            headers.push(("X-ClickHouse-Key", password.as_str()));
        }
        let response = http::post(&self.endpoint, query, &headers, body, self.timeout)
            .map_err(|e| SendError::Unreachable(e.to_string()))?;
        if response.status == 200 {
            return Ok(response.body);
        }
        let text = String::from_utf8_lossy(&response.body);
        let message: String = text.trim().chars().take(MESSAGE_MAX).collect();
        Err(SendError::Status(response.status, message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_checked() {
        assert!(check_identifier("database", "moat_2").is_ok());
        assert!(check_identifier("database", "2moat").is_err());
        assert!(check_identifier("table", "a;drop").is_err());
        assert!(check_identifier("table", "").is_err());
    }

    #[test]
    fn insert_names_every_column() {
        let ch = ClickHouse {
            endpoint: Endpoint::parse("http://127.0.0.1:1").unwrap(),
            database: "moat".into(),
            table: "events".into(),
            user: None,
            password: Some("pw".into()),
            timeout: Duration::from_secs(1),
        };
        let q = ch.insert_query(Format::RowBinary);
        assert!(q.starts_with("INSERT INTO moat.events (time, time_ms, request_id"));
        assert!(q.ends_with("inspect_us) FORMAT RowBinary"));
        assert!(!format!("{ch:?}").contains("pw"));
    }
}
