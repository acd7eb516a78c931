//! Locust-compatible CSV files (`--csv PREFIX`): `PREFIX_stats.csv`, `PREFIX_stats_history.csv`,
//! `PREFIX_failures.csv` and `PREFIX_exceptions.csv`, with Locust 2.x's columns and number
//! formats (tests/data/locust holds a real Locust run's files; `tests/it/reports.rs` compares
//! them), so that analysis scripts written for Locust read them unchanged:
//! - counts are integers; median and percentile columns are whole milliseconds rounded as Locust
//!   rounds them (2 significant digits above 100 ms); averages, min, max, sizes and rates are
//!   full-precision floats (`21.0`, `5.131486047469938`); history rates have 6 decimals.
//! - rows are in Locust's order: by name, then type, `Aggregated` last; median, min and max as
//!   Locust writes them (`0` with nothing measured, a median clamped to min..max).
//! - `_stats_history.csv` starts, like Locust's, with the start second's all-`N/A` row, then has
//!   only the `Aggregated` row each second; every name's row too with `--csv-full-history`.
//! - `_failures.csv` has Locust's `First Seen,Last Seen` (UTC, ISO 8601), empty where the
//!   workload does not know the second of a failure (ws, upload).
//! - `_exceptions.csv` has Locust's header and no rows: blast runs no user code that can raise.
//!
//! After Locust's columns, `_stats.csv` carries `P95`, `P99` (ms) and `Failure Rate` (a
//! fraction) at full precision, names that the seeds' pandas scripts use, then the row's
//! accounts where the workload keeps them (`Scheduled` ... `Accounts Hold`, empty otherwise),
//! then bytes where it counts them (`Bytes Sent`, `Bytes Received`, and both as `MB/s` over the
//! row's seconds; empty otherwise), then the row's other accounting identities as checked
//! (`Identities`: ws deliveries and connections, upload objects and parts; `Accounts Hold` says
//! whether they hold).

use crate::report::model::{FailureRow, HistoryRow, Measurements, Percentiles, StatRow};
use crate::report::output::Staged;
use std::fmt::Write as _;
use std::path::PathBuf;

/// Locust's `_stats.csv` header, then blast's extra columns.
pub const STATS_HEADER: &str = "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,P95,P99,Failure Rate,Scheduled,Sent,Dropped,Not Sent,Completed,Failed Without Response,In Flight At End,Accounts Hold,Bytes Sent,Bytes Received,MB/s,Identities";
/// Locust's `_stats_history.csv` header.
pub const HISTORY_HEADER: &str = "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,Total Min Response Time,Total Max Response Time,Total Average Content Size";
/// Locust's `_failures.csv` header.
pub const FAILURES_HEADER: &str = "Method,Name,Error,Occurrences,First Seen,Last Seen";
/// Locust's `_exceptions.csv` header.
pub const EXCEPTIONS_HEADER: &str = "Count,Message,Traceback,Nodes";

/// A field quoted when it needs to be.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// A float as Python's `repr` writes it (`21.0`, `0.0003`, `5.131486047469938`): the shortest
/// form that reads back exactly.
fn float(v: f64) -> String {
    if v.is_finite() {
        format!("{v:?}")
    } else {
        "0.0".to_string()
    }
}

/// A response time as Locust keeps it: whole milliseconds below 100 ms, then 2 significant
/// digits (Python's `round`, halves to even).
fn rounded_ms(ms: f64) -> u64 {
    let step = if ms < 100.0 {
        1.0
    } else if ms < 1_000.0 {
        10.0
    } else if ms < 10_000.0 {
        100.0
    } else {
        1_000.0
    };
    ((ms / step).round_ties_even() * step).max(0.0) as u64
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

/// Failures over requests, unrounded (5 in 15,000 is 0.0003333333333333333, not 0).
fn failure_rate(r: &StatRow) -> f64 {
    if r.requests == 0 {
        0.0
    } else {
        r.failures as f64 / r.requests as f64
    }
}

/// The rows as Locust orders them: by name, then type (Python's sort of its `(name, method)`
/// keys), `Aggregated` last.
fn locust_order<R>(rows: &[R], row: impl Fn(&R) -> &StatRow) -> Vec<&R> {
    let aggregated = |r: &StatRow| r.kind.is_empty() && r.name == "Aggregated";
    let mut sorted: Vec<&R> = rows.iter().collect();
    sorted.sort_by(|a, b| {
        let (a, b) = (row(a), row(b));
        aggregated(a).cmp(&aggregated(b)).then_with(|| a.name.cmp(&b.name)).then_with(|| a.kind.cmp(&b.kind))
    });
    sorted
}

/// Median, min and max as Locust writes them (`median_response_time`, `min_response_time or
/// 0`, `max_response_time`): `0` (an integer) with nothing measured; the median in whole
/// milliseconds, but never outside min..max (then the exact min or max, a float, as Locust
/// clamps a rounded median); min and max as floats.
fn median_min_max(p: &Percentiles) -> [String; 3] {
    if p.count == 0 {
        return ["0".into(), "0".into(), "0".into()];
    }
    let median = rounded_ms(p.p50) as f64;
    let median = if median > p.max {
        float(p.max)
    } else if median < p.min {
        float(p.min)
    } else {
        (median as u64).to_string()
    };
    [median, float(p.min), float(p.max)]
}

pub fn stats_csv(rows: &[StatRow]) -> String {
    let mut o = String::from(STATS_HEADER);
    o.push('\n');
    for r in locust_order(rows, |r| r) {
        let p = &r.latency;
        let [median, min, max] = median_min_max(p);
        let _ = write!(
            o,
            "{},{},{},{},{median},{},{min},{max},{},{},{}",
            field(&r.kind),
            field(&r.name),
            r.requests,
            r.failures,
            float(p.mean),
            float(r.avg_content_size),
            float(per_s(r.requests, r.secs)),
            float(per_s(r.failures, r.secs)),
        );
        for v in percentiles(p) {
            if r.requests == 0 {
                o.push_str(",N/A");
            } else {
                let _ = write!(o, ",{}", rounded_ms(v));
            }
        }
        let _ = write!(o, ",{},{},{}", float(p.p95), float(p.p99), float(failure_rate(r)));
        let identities = crate::report::identity::lines(&r.identities);
        match &r.accounts {
            Some(a) => {
                let scheduled = a.scheduled.map_or(String::new(), |s| s.to_string());
                let (sent, dropped, not_sent, completed) = (a.sent, a.dropped, a.not_sent, a.completed);
                let (lost, cut, holds) = (a.failed_without_response, a.in_flight_at_end, a.holds());
                let _ = write!(o, ",{scheduled},{sent},{dropped},{not_sent},{completed},{lost},{cut},{holds}");
            }
            None if !r.identities.is_empty() => {
                let _ = write!(o, ",,,,,,,,{}", r.identities.iter().all(|i| i.holds));
            }
            None => o.push_str(",,,,,,,,"),
        }
        match (r.bytes, r.mb_per_s()) {
            (Some((out, inn)), Some(mbps)) => {
                let _ = write!(o, ",{out},{inn},{}", float(mbps));
            }
            _ => o.push_str(",,,"),
        }
        let _ = writeln!(o, ",{}", field(&identities));
    }
    o
}

/// Each second's `Aggregated` row, as Locust writes it; with `full`, every name's row before it
/// (Locust's `--csv-full-history`), in Locust's order. Like Locust's, the file starts with the
/// run's start second (`started_at`, Unix seconds): nothing counted yet, every percentile `N/A`.
pub fn history_csv(rows: &[HistoryRow], full: bool, started_at: u64) -> String {
    let mut o = String::from(HISTORY_HEADER);
    o.push('\n');
    let na = ",N/A".repeat(11);
    let _ = writeln!(o, "{started_at},0,,Aggregated,0.000000,0.000000{na},0,0,0,0.0,0,0,0");
    let wanted = |h: &&HistoryRow| full || (h.interval.kind.is_empty() && h.interval.name == "Aggregated");
    for second in rows.chunk_by(|a, b| a.timestamp == b.timestamp) {
        for h in locust_order(second, |h| &h.interval).into_iter().filter(wanted) {
            history_row(&mut o, h, &na);
        }
    }
    o
}

/// One second of one row: this second's rate and percentiles (`N/A` while the row has counted
/// nothing, as Locust writes them), then the totals.
fn history_row(o: &mut String, h: &HistoryRow, na: &str) {
    let (i, t) = (&h.interval, &h.total);
    let _ = write!(
        o,
        "{},{},{},{},{:.6},{:.6}",
        h.timestamp,
        h.users,
        field(&i.kind),
        field(&i.name),
        per_s(i.requests, i.secs),
        per_s(i.failures, i.secs)
    );
    if t.requests == 0 {
        o.push_str(na);
    } else {
        for v in percentiles(&i.latency) {
            let _ = write!(o, ",{}", rounded_ms(v));
        }
    }
    let tp = &t.latency;
    let [median, min, max] = median_min_max(tp);
    let _ = writeln!(
        o,
        ",{},{},{median},{},{min},{max},{}",
        t.requests,
        t.failures,
        float(tp.mean),
        float(t.avg_content_size)
    );
}

pub fn failures_csv(rows: &[FailureRow]) -> String {
    let mut o = String::from(FAILURES_HEADER);
    o.push('\n');
    for r in rows {
        let seen = |t: Option<u64>| t.map(crate::civil_time::iso8601_seconds).unwrap_or_default();
        let _ = writeln!(
            o,
            "{},{},{},{},{},{}",
            field(&r.method),
            field(&r.name),
            field(&r.error),
            r.occurrences,
            seen(r.first_seen),
            seen(r.last_seen)
        );
    }
    o
}

/// `_exceptions.csv`: Locust's header; blast runs no user code, so no exception is ever caught.
pub fn exceptions_csv() -> String {
    format!("{EXCEPTIONS_HEADER}\n")
}

/// The four files' paths for `prefix`.
pub fn paths(prefix: &str) -> [PathBuf; 4] {
    ["stats", "stats_history", "failures", "exceptions"].map(|f| PathBuf::from(format!("{prefix}_{f}.csv")))
}

/// Writes the four files (through `staged`: renamed into place with the other reports).
pub fn write(staged: &mut Staged, prefix: &str, m: &Measurements, full_history: bool) -> std::io::Result<()> {
    let [s, h, f, e] = paths(prefix);
    staged.write(&s, stats_csv(&m.rows).as_bytes())?;
    staged.write(&h, history_csv(&m.history, full_history, m.started_at_unix as u64).as_bytes())?;
    staged.write(&f, failures_csv(&m.failures).as_bytes())?;
    staged.write(&e, exceptions_csv().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locust_rounding_and_dates() {
        assert_eq!(rounded_ms(4.5), 4);
        assert_eq!(rounded_ms(5.5), 6);
        assert_eq!(rounded_ms(0.145), 0);
        assert_eq!(rounded_ms(146.0), 150);
        assert_eq!(rounded_ms(1_234.0), 1_200);
        assert_eq!(rounded_ms(12_345.0), 12_000);
        assert_eq!(float(21.0), "21.0");
        assert_eq!(float(5.0 / 15_000.0), "0.0003333333333333333");
    }

    #[test]
    fn rows_in_locusts_order_and_figures_in_its_forms() {
        // Locust sorts its entries by (name, method), `Aggregated` last; blast keeps definition
        // order in the model.
        let p = Percentiles { count: 3, min: 1.175, p50: 1.0, max: 6.81, mean: 2.3, ..Percentiles::default() };
        let none = Percentiles::default();
        let rows = [
            StatRow::new("POST", "POST /auth/login", (3, 0), &p, 50.0, 1.0),
            StatRow::new("GET", "A missing", (0, 0), &none, 0.0, 1.0),
            StatRow::new("GET", "/health", (3, 0), &p, 15.0, 1.0),
            StatRow::new("", "Aggregated", (6, 0), &p, 15.0, 1.0),
        ];
        let csv = stats_csv(&rows);
        let names: Vec<&str> = csv.lines().skip(1).filter_map(|l| l.split(',').nth(1)).collect();
        assert_eq!(names, ["/health", "A missing", "POST /auth/login", "Aggregated"]);
        let cols = |name: &str| -> Vec<String> {
            let line = csv.lines().find(|l| l.split(',').nth(1) == Some(name)).expect("row");
            line.split(',').skip(4).take(4).map(String::from).collect()
        };
        // A rounded median below the exact min is the min (Locust clamps it), min and max as
        // floats; nothing measured: 0 (integers) and an average of 0.0.
        assert_eq!(cols("/health"), ["1.175", "2.3", "1.175", "6.81"]);
        assert_eq!(cols("A missing"), ["0", "0.0", "0", "0"]);
        // The history starts with Locust's row at the start: nothing counted, every percentile N/A.
        let h = history_csv(&[], false, 1_796_418_823);
        assert_eq!(
            h.lines().nth(1),
            Some("1796418823,0,,Aggregated,0.000000,0.000000,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,0,0,0,0.0,0,0,0")
        );
    }

    #[test]
    fn five_failures_in_fifteen_thousand_are_not_zero() {
        let p = Percentiles { count: 15_000, p50: 0.145, p95: 0.197, p99: 0.2514, ..Percentiles::default() };
        let row = StatRow::new("POST", "/v1/messages", (15_000, 5), &p, 44.0, 10.0);
        let csv = stats_csv(&[row]);
        let line: Vec<&str> = csv.lines().nth(1).expect("row").split(',').collect();
        let header: Vec<&str> = STATS_HEADER.split(',').collect();
        let col = |name: &str| line[header.iter().position(|h| *h == name).expect("column")];
        assert_eq!(col("Failure Rate").parse::<f64>().expect("number"), 5.0 / 15_000.0);
        assert_eq!((col("P95"), col("P99")), ("0.197", "0.2514"), "blast's columns at full precision");
        assert_eq!((col("95%"), col("Average Content Size")), ("0", "44.0"), "Locust's columns as Locust writes them");
    }
}
