//! Cost of recording a verdict into the Prometheus metrics block on the request path, alone and
//! with 4 threads hammering one shared block (as 4 nginx workers share one zone), next to the
//! existing per-process `Stats::record`. Run: `cargo bench -p moat --bench metrics`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use moat::detect::{Finding, Severity};
use moat::metrics::{render, Metrics};
use moat::stats::Stats;
use moat::{Action, Verdict};

const CALLS: u32 = 2_000_000;

fn blocked() -> Verdict {
    Verdict {
        action: Action::Block,
        status: 403,
        score: 10,
        findings: vec![
            Finding::new(942100, "SQLi", Severity::Critical, "ARGS:q".into(), b"x"),
            Finding::new(949110, "score", Severity::Critical, "TX".into(), b"x"),
        ],
        elapsed: Duration::from_micros(180),
        ..Verdict::allow()
    }
}

fn allowed() -> Verdict {
    Verdict {
        elapsed: Duration::from_micros(40),
        ..Verdict::allow()
    }
}

/// Median nanoseconds per call of `f`, in 7 rounds of CALLS calls.
fn measure(mut f: impl FnMut()) -> f64 {
    let mut rounds: Vec<f64> = (0..7)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..CALLS {
                f();
            }
            start.elapsed().as_nanos() as f64 / f64::from(CALLS)
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    rounds[3]
}

/// Wall nanoseconds per call when `threads` threads each make CALLS calls into one block at
/// once (cache-line contention; on a machine with fewer cores than threads, time-slicing too).
fn contended(metrics: &Arc<Metrics>, threads: usize, v: &Verdict) -> f64 {
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (m, v) = (Arc::clone(metrics), v.clone());
            std::thread::spawn(move || {
                for _ in 0..CALLS {
                    m.block().record(black_box(&v));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    start.elapsed().as_nanos() as f64 / f64::from(CALLS)
}

fn main() {
    let metrics = Arc::new(Metrics::shared_anonymous().expect("mmap"));
    let stats = Stats::default();
    let (b, a) = (blocked(), allowed());
    let clean = measure(|| metrics.block().record(black_box(&a)));
    let block = measure(|| metrics.block().record(black_box(&b)));
    let old = measure(|| stats.record(black_box(&b)));
    println!("record allowed verdict (1 thread):              {clean:.1} ns");
    println!("record blocked verdict, 2 rules (1 thread):     {block:.1} ns");
    println!("Stats::record for comparison (1 thread):        {old:.1} ns");
    for threads in [2, 4] {
        let ns = contended(&metrics, threads, &b);
        println!(
            "record blocked verdict, {threads} threads on one block: {ns:.1} ns wall time per call (each thread)"
        );
    }
    let start = Instant::now();
    let text = render::render(metrics.block());
    println!(
        "render: {} bytes in {:.0} µs",
        text.len(),
        start.elapsed().as_secs_f64() * 1e6
    );
}
