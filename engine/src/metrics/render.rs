//! The Prometheus text exposition format (version 0.0.4) of a [`MetricsBlock`]: `# HELP` and
//! `# TYPE` for every family, counters ending in `_total`, base units (seconds, bytes),
//! histograms as cumulative `_bucket{le="…"}` series with `_sum` and `_count`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use super::block::{FailOpenCause, ForwarderCounter, MetricsBlock, Reason};
use super::histogram::{Bound, Histogram, INSPECTION_BOUNDS, SCORE_BOUNDS};
use super::record::ACTION_NAMES;
use super::workers::process_alive;

/// The (action, reason) pairs a verdict can produce, in exposition order.
pub const REQUEST_SERIES: [(usize, Reason); 8] = [
    (0, Reason::Clean),
    (0, Reason::FailOpen),
    (1, Reason::Rules),
    (1, Reason::Geo),
    (1, Reason::BodyLimit),
    (2, Reason::Rules),
    (2, Reason::Geo),
    (2, Reason::BodyLimit),
];

/// Renders the block; the forwarder queue gauge sums the slots of live processes.
pub fn render(block: &MetricsBlock) -> String {
    let mut out = String::with_capacity(8192);
    render_into(block, process_alive, &mut out);
    out
}

/// Renders the block into `out`, with `is_alive` telling which pids still own gauge slots.
pub fn render_into(block: &MetricsBlock, is_alive: impl Fn(u32) -> bool, out: &mut String) {
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    family(out, "moat_build_info", "gauge", "Moat version; always 1.");
    let _ = writeln!(out, "moat_build_info{{version=\"{}\"}} 1", crate::VERSION);

    family(
        out,
        "moat_requests_total",
        "counter",
        "Requests inspected, by action taken and the reason for it.",
    );
    for (action, reason) in REQUEST_SERIES {
        let _ = writeln!(
            out,
            "moat_requests_total{{action=\"{}\",reason=\"{}\"}} {}",
            ACTION_NAMES[action],
            reason.as_str(),
            block.requests_get(action, reason)
        );
    }

    family(
        out,
        "moat_fail_open_total",
        "counter",
        "Requests let through because inspection did not complete, by cause.",
    );
    for cause in FailOpenCause::ALL {
        let _ = writeln!(
            out,
            "moat_fail_open_total{{cause=\"{}\"}} {}",
            cause.as_str(),
            get(&block.fail_open[cause as usize])
        );
    }

    simple(
        out,
        "moat_inspected_body_bytes_total",
        "counter",
        "Request body bytes inspected.",
        get(&block.body_bytes),
    );

    histogram(
        out,
        "moat_inspection_duration_seconds",
        "Time spent inspecting a request.",
        &block.inspection,
        &INSPECTION_BOUNDS,
        format_seconds,
    );
    histogram(
        out,
        "moat_anomaly_score",
        "Anomaly score of requests whose inspection completed (0: nothing matched).",
        &block.score,
        &SCORE_BOUNDS,
        |sum| sum.to_string(),
    );

    family(
        out,
        "moat_rule_hits_total",
        "counter",
        "Matches per rule id; rule_id=\"other\" counts rules beyond the tracked number.",
    );
    for (id, hits) in block.rules.entries() {
        let _ = writeln!(out, "moat_rule_hits_total{{rule_id=\"{id}\"}} {hits}");
    }
    let _ = writeln!(
        out,
        "moat_rule_hits_total{{rule_id=\"other\"}} {}",
        block.rules.other()
    );

    simple(
        out,
        "moat_geoip_lookups_total",
        "counter",
        "Client addresses looked up in the GeoIP databases.",
        get(&block.geo_lookups),
    );
    simple(
        out,
        "moat_geoip_misses_total",
        "counter",
        "GeoIP lookups of addresses no database knew.",
        get(&block.geo_misses),
    );

    let fwd = |c| block.forwarder_get(c);
    simple(
        out,
        "moat_clickhouse_rows_sent_total",
        "counter",
        "Event rows ClickHouse accepted (sent directly or replayed from the spool).",
        fwd(ForwarderCounter::Sent),
    );
    simple(
        out,
        "moat_clickhouse_retries_total",
        "counter",
        "Failed ClickHouse inserts that were retried.",
        fwd(ForwarderCounter::Retried),
    );
    simple(
        out,
        "moat_clickhouse_rows_spooled_total",
        "counter",
        "Event rows written to the disk spool while ClickHouse was unreachable.",
        fwd(ForwarderCounter::Spooled),
    );
    simple(
        out,
        "moat_clickhouse_rows_replayed_total",
        "counter",
        "Spooled event rows delivered later (also counted as sent).",
        fwd(ForwarderCounter::Replayed),
    );
    family(
        out,
        "moat_clickhouse_events_dropped_total",
        "counter",
        "Events lost: the queue was full, or they could be neither sent nor spooled.",
    );
    let _ = writeln!(
        out,
        "moat_clickhouse_events_dropped_total{{cause=\"queue_full\"}} {}",
        fwd(ForwarderCounter::DroppedQueueFull)
    );
    let _ = writeln!(
        out,
        "moat_clickhouse_events_dropped_total{{cause=\"unsent\"}} {}",
        fwd(ForwarderCounter::DroppedUnsent)
    );
    simple(
        out,
        "moat_clickhouse_queue_events",
        "gauge",
        "Events waiting in the forwarder queues of all live worker processes.",
        block.workers.queued(is_alive),
    );
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn simple(out: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    family(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

fn histogram<const N: usize>(
    out: &mut String,
    name: &str,
    help: &str,
    h: &Histogram<N>,
    bounds: &[Bound],
    sum_text: impl Fn(u64) -> String,
) {
    family(out, name, "histogram", help);
    let (cumulative, sum) = h.cumulative();
    for (bound, count) in bounds.iter().zip(&cumulative) {
        let _ = writeln!(out, "{name}_bucket{{le=\"{}\"}} {count}", bound.label);
    }
    let total = cumulative[N - 1];
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {total}");
    let _ = writeln!(out, "{name}_sum {}", sum_text(sum));
    let _ = writeln!(out, "{name}_count {total}");
}

/// Nanoseconds as decimal seconds, exact (e.g. `0.000300000`).
fn format_seconds(nanos: u64) -> String {
    format!("{}.{:09}", nanos / 1_000_000_000, nanos % 1_000_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{Finding, Severity};
    use crate::verdict::{Action, Verdict};
    use std::time::Duration;

    fn sample(text: &str, series: &str) -> Option<String> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ').map(String::from))
    }

    #[test]
    fn renders_counters_histograms_and_rule_hits() {
        let b = MetricsBlock::new();
        b.record(&Verdict {
            action: Action::Block,
            status: 403,
            score: 5,
            findings: vec![Finding::new(
                942100,
                "m",
                Severity::Critical,
                "ARGS".into(),
                b"x",
            )],
            elapsed: Duration::from_micros(1500),
            ..Verdict::allow()
        });
        b.record_body_bytes(12);
        let text = render(&b);
        let s = |series| sample(&text, series);
        assert_eq!(
            s("moat_requests_total{action=\"block\",reason=\"rules\"}").as_deref(),
            Some("1")
        );
        assert_eq!(
            s("moat_rule_hits_total{rule_id=\"942100\"}").as_deref(),
            Some("1")
        );
        assert_eq!(s("moat_inspected_body_bytes_total").as_deref(), Some("12"));
        assert_eq!(
            s("moat_inspection_duration_seconds_bucket{le=\"0.001\"}").as_deref(),
            Some("0")
        );
        assert_eq!(
            s("moat_inspection_duration_seconds_bucket{le=\"0.0025\"}").as_deref(),
            Some("1")
        );
        assert_eq!(
            s("moat_inspection_duration_seconds_sum").as_deref(),
            Some("0.001500000")
        );
        assert_eq!(s("moat_anomaly_score_count").as_deref(), Some("1"));
        assert!(text.contains("# TYPE moat_requests_total counter\n"));
        assert!(text.contains("# TYPE moat_inspection_duration_seconds histogram\n"));
    }

    #[test]
    fn every_sample_belongs_to_the_family_declared_before_it() {
        let text = render(&MetricsBlock::new());
        let mut current = String::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                current = rest.split(' ').next().unwrap().to_string();
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap();
                let base = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s))
                    .filter(|b| *b == current)
                    .unwrap_or(name);
                assert_eq!(base, current, "{line}");
            }
        }
    }
}
