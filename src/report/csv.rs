//! Locust-compatible CSV files (`--csv PREFIX`): `PREFIX_stats.csv`, `PREFIX_stats_history.csv`
//! and `PREFIX_failures.csv`, with Locust's column names so that analysis scripts written for
//! Locust read them unchanged. Times are milliseconds (Locust's unit), with three decimals
//! where Locust rounds: blast's figures are exact, so they are not rounded away.
//!
//! After Locust's columns, `_stats.csv` carries `P95`, `P99` and `Failure Rate` (a fraction),
//! names that the seeds' pandas scripts use.

use crate::report::model::{FailureRow, HistoryRow, Measurements, Percentiles, StatRow};
use std::fmt::Write as _;
use std::path::PathBuf;

/// Locust's `_stats.csv` header, then blast's extra columns.
pub const STATS_HEADER: &str = "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,P95,P99,Failure Rate";
/// Locust's `_stats_history.csv` header.
pub const HISTORY_HEADER: &str = "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,Total Min Response Time,Total Max Response Time,Total Average Content Size";
/// Locust's `_failures.csv` header.
pub const FAILURES_HEADER: &str = "Method,Name,Error,Occurrences";

/// A field quoted when it needs to be.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn n(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn percentiles(p: &Percentiles) -> [f64; 11] {
    p.spectrum().map(|(_, ms)| ms)
}

fn per_s(count: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        count as f64 / secs
    } else {
        0.0
    }
}

pub fn stats_csv(rows: &[StatRow]) -> String {
    let mut o = String::from(STATS_HEADER);
    o.push('\n');
    for r in rows {
        let p = &r.latency;
        let _ = write!(
            o,
            "{},{},{},{},{},{},{},{},{},{},{}",
            field(&r.kind),
            field(&r.name),
            r.requests,
            r.failures,
            n(p.p50),
            n(p.mean),
            n(p.min),
            n(p.max),
            n(r.avg_content_size),
            n(per_s(r.requests, r.secs)),
            n(per_s(r.failures, r.secs)),
        );
        for v in percentiles(p) {
            let _ = write!(o, ",{}", n(v));
        }
        let rate = if r.requests == 0 { 0.0 } else { r.failures as f64 / r.requests as f64 };
        let _ = writeln!(o, ",{},{},{}", n(p.p95), n(p.p99), n(rate));
    }
    o
}

/// Locust writes an `Aggregated` row for every second (and, with full history, one per request
/// name): the history carries both, the named rows first.
pub fn history_csv(rows: &[HistoryRow]) -> String {
    let mut o = String::from(HISTORY_HEADER);
    o.push('\n');
    for h in rows {
        let (i, t) = (&h.interval, &h.total);
        let _ = write!(
            o,
            "{},{},{},{},{},{}",
            h.timestamp,
            h.users,
            field(&i.kind),
            field(&i.name),
            n(per_s(i.requests, i.secs)),
            n(per_s(i.failures, i.secs))
        );
        for v in percentiles(&i.latency) {
            let _ = write!(o, ",{}", n(v));
        }
        let tp = &t.latency;
        let _ = writeln!(
            o,
            ",{},{},{},{},{},{},{}",
            t.requests,
            t.failures,
            n(tp.p50),
            n(tp.mean),
            n(tp.min),
            n(tp.max),
            n(t.avg_content_size)
        );
    }
    o
}

pub fn failures_csv(rows: &[FailureRow]) -> String {
    let mut o = String::from(FAILURES_HEADER);
    o.push('\n');
    for r in rows {
        let _ = writeln!(o, "{},{},{},{}", field(&r.method), field(&r.name), field(&r.error), r.occurrences);
    }
    o
}

/// The three files' paths for `prefix`.
pub fn paths(prefix: &str) -> [PathBuf; 3] {
    [
        PathBuf::from(format!("{prefix}_stats.csv")),
        PathBuf::from(format!("{prefix}_stats_history.csv")),
        PathBuf::from(format!("{prefix}_failures.csv")),
    ]
}

/// Writes the three files.
pub fn write(prefix: &str, m: &Measurements) -> std::io::Result<()> {
    let [s, h, f] = paths(prefix);
    std::fs::write(s, stats_csv(&m.rows))?;
    std::fs::write(h, history_csv(&m.history))?;
    std::fs::write(f, failures_csv(&m.failures))
}
