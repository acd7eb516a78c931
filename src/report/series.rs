//! Per-second figures of a `SecondSeries` (ws deliveries, upload parts): the JSON timeline and
//! the rows of the Locust-style `_stats_history.csv` (each second, and cumulative up to it).

use crate::engine::recorder::{MAX_TRACKABLE_US, SIGFIG};
use crate::engine::series::SecondSeries;
use crate::report::csv::{HistoryRow, StatRow};
use crate::report::summary::Percentiles;
use hdrhistogram::Histogram;
use serde::Serialize;

/// One wall-clock second of a series.
#[derive(Clone, Debug, Serialize)]
pub struct SeriesSecond {
    /// Unix second this row covers.
    pub unix: u64,
    /// Events recorded in it (deliveries, parts).
    pub count: u64,
    pub latency_ms: Percentiles,
}

/// The per-second rows of `series`; history rows are named `kind`/`name` and carry `users`.
pub fn per_second(series: &SecondSeries, kind: &str, name: &str, users: u64) -> (Vec<SeriesSecond>, Vec<HistoryRow>) {
    let mut total = Histogram::<u64>::new_with_bounds(1, MAX_TRACKABLE_US, SIGFIG).expect("valid histogram bounds");
    let row = |h: &Histogram<u64>, secs: f64| StatRow {
        kind: kind.to_string(),
        name: name.to_string(),
        requests: h.len(),
        failures: 0,
        latency: Percentiles::of(h),
        avg_content_size: 0.0,
        secs,
    };
    let mut seconds = Vec::new();
    let mut history = Vec::new();
    for (i, (unix, h)) in series.seconds().enumerate() {
        let _ = total.add(&h);
        seconds.push(SeriesSecond { unix, count: h.len(), latency_ms: Percentiles::of(&h) });
        history.push(HistoryRow { timestamp: unix, users, interval: row(&h, 1.0), total: row(&total, (i + 1) as f64) });
    }
    (seconds, history)
}
