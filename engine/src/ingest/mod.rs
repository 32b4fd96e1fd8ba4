//! `moat ingest`: historical nginx access logs into the events table, so operators can look at
//! their history in ClickHouse before switching Moat on.

pub mod access_log;

use std::io::{BufRead, BufReader, Read};

use crate::events::encode::{self, Format};
use crate::events::session::Session;
use crate::forward::clickhouse::ClickHouse;

/// Rows per insert.
const BATCH_ROWS: usize = 10_000;
/// Unparseable lines quoted in the summary.
const EXAMPLES: usize = 3;

/// What an ingest did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Lines read.
    pub lines: u64,
    /// Events inserted.
    pub inserted: u64,
    /// Lines that were neither combined nor JSON (blank lines excluded).
    pub skipped: u64,
    /// The first skipped lines, with their numbers.
    pub examples: Vec<(u64, String)>,
    /// Earliest and latest event time (ms since the epoch), if any.
    pub span: Option<(u64, u64)>,
}

/// Reads `input` line by line, inserts its events in batches, and reports bytes read after each
/// batch through `progress`.
pub fn ingest(
    input: impl Read,
    clickhouse: &ClickHouse,
    mut progress: impl FnMut(u64, &Summary),
) -> Result<Summary, String> {
    let mut reader = BufReader::with_capacity(1 << 20, input);
    let mut summary = Summary::default();
    let mut body = Vec::with_capacity(BATCH_ROWS * 200);
    let mut rows = 0usize;
    let mut bytes = 0u64;
    let mut line = String::new();
    let none = Session::default();
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .map_err(|e| format!("read error after line {}: {e}", summary.lines))?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        summary.lines += 1;
        if line.trim().is_empty() {
            continue;
        }
        match access_log::parse_line(&line) {
            Some(event) => {
                let (lo, hi) = summary.span.unwrap_or((event.time_ms, event.time_ms));
                summary.span = Some((lo.min(event.time_ms), hi.max(event.time_ms)));
                encode::encode(&event, &none, Format::RowBinary, &mut body);
                rows += 1;
            }
            None => {
                summary.skipped += 1;
                if summary.examples.len() < EXAMPLES {
                    let shown: String = line.trim_end().chars().take(120).collect();
                    summary.examples.push((summary.lines, shown));
                }
            }
        }
        if rows == BATCH_ROWS {
            send(clickhouse, &mut body, &mut rows, &mut summary)?;
            progress(bytes, &summary);
        }
    }
    send(clickhouse, &mut body, &mut rows, &mut summary)?;
    progress(bytes, &summary);
    Ok(summary)
}

fn send(
    clickhouse: &ClickHouse,
    body: &mut Vec<u8>,
    rows: &mut usize,
    summary: &mut Summary,
) -> Result<(), String> {
    if *rows == 0 {
        return Ok(());
    }
    clickhouse
        .insert(Format::RowBinary, body)
        .map_err(|e| format!("insert after line {}: {e}", summary.lines))?;
    summary.inserted += *rows as u64;
    body.clear();
    *rows = 0;
    Ok(())
}
