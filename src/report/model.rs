//! The measurement model every report renders from. A run's measurements are named rows
//! (Locust's Type and Name: `POST /v1/messages`, `WS delivery`, `PUT UploadPart`, ..., then
//! `Aggregated`), each with its counts and latency distribution; the same rows second by second
//! (each second's figures and the cumulative ones); the failures by row and kind; and the run's
//! named latency histograms. The terminal table, the CSV files, the HTML page and the SLA
//! figures iterate these lists, so a new request name is a new row, not a new code path.
//!
//! A workload's report builds its `Measurements` from its tallies with the helpers here
//! (`per_second` over any `Tally`, `StatRow::aggregated`, `HistoryRow::whole_run`).

use hdrhistogram::Histogram;
use serde::Serialize;

/// Percentiles of one histogram (recorded in µs), in milliseconds.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Percentiles {
    pub count: u64,
    pub min: f64,
    pub mean: f64,
    pub p50: f64,
    pub p66: f64,
    pub p75: f64,
    pub p80: f64,
    pub p90: f64,
    pub p95: f64,
    pub p98: f64,
    pub p99: f64,
    pub p99_9: f64,
    pub p99_99: f64,
    pub max: f64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Percentiles::default();
        }
        let q = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        Percentiles {
            count: h.len(),
            min: h.min() as f64 / 1000.0,
            mean: h.mean() / 1000.0,
            p50: q(0.50),
            p66: q(0.66),
            p75: q(0.75),
            p80: q(0.80),
            p90: q(0.90),
            p95: q(0.95),
            p98: q(0.98),
            p99: q(0.99),
            p99_9: q(0.999),
            p99_99: q(0.9999),
            max: h.max() as f64 / 1000.0,
        }
    }

    /// (percentile, ms) from p50 to the max (drawn at 99.999): the HTML spectrum and the CSV's
    /// percentile columns.
    pub fn spectrum(&self) -> [(f64, f64); 11] {
        [
            (50.0, self.p50),
            (66.0, self.p66),
            (75.0, self.p75),
            (80.0, self.p80),
            (90.0, self.p90),
            (95.0, self.p95),
            (98.0, self.p98),
            (99.0, self.p99),
            (99.9, self.p99_9),
            (99.99, self.p99_99),
            (99.999, self.max),
        ]
    }
}

/// One named row: a request type and name with its counts and latency distribution.
#[derive(Clone, Debug)]
pub struct StatRow {
    /// `POST`, `WS`, `PUT`, or empty for the `Aggregated` row.
    pub kind: String,
    pub name: String,
    pub requests: u64,
    pub failures: u64,
    pub latency: Percentiles,
    pub avg_content_size: f64,
    /// Seconds the counts were taken over (for Requests/s and Failures/s).
    pub secs: f64,
    /// Where the row's requests ended up, for a workload that keeps such accounts.
    pub accounts: Option<crate::report::accounts::Accounts>,
    /// The accounting identities the row's counts satisfy (ws deliveries and connections,
    /// upload objects and parts), as checked.
    pub identities: Vec<crate::report::identity::Identity>,
    /// Bytes sent and received by the row's requests, for a workload that counts them.
    pub bytes: Option<(u64, u64)>,
}

impl StatRow {
    /// `counts`: (requests, failures).
    pub fn new(kind: &str, name: &str, counts: (u64, u64), latency: &Percentiles, avg_size: f64, secs: f64) -> Self {
        let (requests, failures) = counts;
        let (kind, name, latency) = (kind.into(), name.into(), latency.clone());
        let (accounts, identities, bytes) = (None, Vec::new(), None);
        StatRow {
            kind,
            name,
            requests,
            failures,
            latency,
            avg_content_size: avg_size,
            secs,
            accounts,
            identities,
            bytes,
        }
    }

    /// Locust's `Aggregated` row with this row's figures (what it is for a single name).
    pub fn aggregated(&self) -> StatRow {
        StatRow { kind: String::new(), name: "Aggregated".into(), ..self.clone() }
    }

    /// Megabytes (10^6) per second sent and received together, over the row's seconds.
    pub fn mb_per_s(&self) -> Option<f64> {
        self.bytes.map(|(out, inn)| (out + inn) as f64 / 1e6 / self.secs.max(1e-9))
    }
}

/// One second of one row: its figures in that second and the cumulative ones up to it.
#[derive(Clone, Debug)]
pub struct HistoryRow {
    pub timestamp: u64,
    /// Locust's "User Count": connections or slots (open-loop blast has no users).
    pub users: u64,
    /// This second's figures (Requests/s, Failures/s, percentiles).
    pub interval: StatRow,
    /// Cumulative figures up to this second (the `Total ...` columns).
    pub total: StatRow,
}

impl HistoryRow {
    /// The history of a run that has no per-second figures: one whole-run row, then Aggregated.
    pub fn whole_run(row: &StatRow, timestamp: u64, users: u64) -> Vec<HistoryRow> {
        let one = HistoryRow { timestamp, users, interval: row.clone(), total: row.clone() };
        vec![one.clone(), HistoryRow { interval: row.aggregated(), ..one }]
    }
}

/// Failures of one row and kind.
#[derive(Clone, Debug)]
pub struct FailureRow {
    pub method: String,
    pub name: String,
    pub error: String,
    pub occurrences: u64,
    /// Unix seconds of the first and last second it happened in, where the workload keeps
    /// failures second by second (Locust's `First Seen`, `Last Seen`).
    pub first_seen: Option<u64>,
    pub last_seen: Option<u64>,
}

impl FailureRow {
    pub fn new(method: &str, name: &str, error: &str, occurrences: u64) -> Self {
        let (method, name, error) = (method.into(), name.into(), error.into());
        FailureRow { method, name, error, occurrences, first_seen: None, last_seen: None }
    }
}

/// One named latency histogram of the run.
#[derive(Clone, Debug)]
pub struct Latency {
    /// How tables name it.
    pub label: &'static str,
    /// Prefix of its SLA figures (`""` gives `p99`, `"service_"` gives `service_p99`).
    pub metric: Option<&'static str>,
    /// Drawn in the HTML percentile spectrum.
    pub spectrum: bool,
    pub ms: Percentiles,
}

impl Latency {
    pub fn new(label: &'static str, metric: Option<&'static str>, spectrum: bool, ms: &Percentiles) -> Self {
        Latency { label, metric, spectrum, ms: ms.clone() }
    }
}

/// A run's measurements, as every renderer reads them.
#[derive(Clone, Debug, Default)]
pub struct Measurements {
    /// One row per name, then `Aggregated` (the `_stats.csv` rows).
    pub rows: Vec<StatRow>,
    /// Second by second, each second's rows in the same order (the `_stats_history.csv` rows).
    pub history: Vec<HistoryRow>,
    pub failures: Vec<FailureRow>,
    pub latencies: Vec<Latency>,
    /// The run's start; every chart and heatmap counts seconds from it (`clock`).
    pub started_at_unix: f64,
    /// How the history's timestamps sit on the run's clock.
    pub clock: Clock,
}

/// How a run's per-second history maps onto the one clock every chart and heatmap of its page
/// uses: seconds since the run's start, each second drawn at its end, the last one at the run's
/// end (a partial second has its real length).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Clock {
    /// History timestamps are the whole second of the start plus n: the end of the run's n-th
    /// second (api: the engine's seconds count from the start itself).
    RunSeconds { end_s: f64 },
    /// History timestamps are wall-clock Unix seconds, each covering [t, t+1) (ws, upload).
    WallSeconds { end_s: f64 },
}

impl Default for Clock {
    fn default() -> Self {
        Clock::WallSeconds { end_s: f64::INFINITY }
    }
}

impl Measurements {
    /// Where the second of a history row stamped `timestamp` ends, in seconds since the run's
    /// start: what the page draws it at.
    pub fn second_end(&self, timestamp: u64) -> f64 {
        match self.clock {
            Clock::RunSeconds { end_s } => (timestamp as f64 - self.started_at_unix.floor()).min(end_s),
            Clock::WallSeconds { end_s } => (timestamp as f64 + 1.0 - self.started_at_unix).min(end_s),
        }
    }
}

/// One wall-clock second of a histogram series (ws deliveries, upload parts), as JSON shows it.
#[derive(Clone, Debug, Serialize)]
pub struct SeriesSecond {
    /// Unix second this row covers.
    pub unix: u64,
    /// Events recorded in it.
    pub count: u64,
    pub latency_ms: Percentiles,
}

impl SeriesSecond {
    /// The second at `unix` of a series whose row in it is `row`.
    pub fn of(unix: u64, _: &Histogram<u64>, row: &StatRow) -> Self {
        SeriesSecond { unix, count: row.requests, latency_ms: row.latency.clone() }
    }
}

/// Counts that add up second by second and give a row: a histogram of events (ws deliveries,
/// upload parts), or the api's `Recorder` with its status codes and errors.
pub trait Tally {
    fn add(&mut self, other: &Self);
    fn row(&self, kind: &str, name: &str, secs: f64) -> StatRow;
}

impl Tally for Histogram<u64> {
    fn add(&mut self, other: &Self) {
        let _ = Histogram::add(self, other);
    }

    /// Every recorded event is a request; none failed.
    fn row(&self, kind: &str, name: &str, secs: f64) -> StatRow {
        StatRow::new(kind, name, (self.len(), 0), &Percentiles::of(self), 0.0, secs)
    }
}

/// The history of one named row from its per-second tallies (`(timestamp, tally)`, in order),
/// each second followed by its `Aggregated` row; `each` also makes one workload-specific
/// value per second (the JSON timeline) from the same decoded tally, in the same pass.
pub fn per_second<T: Tally, X>(
    seconds: impl Iterator<Item = (u64, T)>,
    (kind, name, users): (&str, &str, u64),
    mut total: T,
    mut each: impl FnMut(u64, &T, &StatRow) -> X,
) -> (Vec<X>, Vec<HistoryRow>) {
    let (mut own, mut history) = (Vec::new(), Vec::new());
    for (i, (timestamp, t)) in seconds.enumerate() {
        total.add(&t);
        let interval = t.row(kind, name, 1.0);
        own.push(each(timestamp, &t, &interval));
        let row = HistoryRow { timestamp, users, interval, total: total.row(kind, name, (i + 1) as f64) };
        history.push(HistoryRow { interval: row.interval.aggregated(), ..row.clone() });
        history.insert(history.len() - 1, row);
    }
    (own, history)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_history_sits_on_the_runs_one_clock() {
        // A run that started at 100.4: the api's engine seconds end at 1, 2, 2.5 since the start
        // (its last second ends with the run); ws and upload wall seconds 100, 101, 102 end at
        // 0.6, 1.6 and the run's end.
        let api =
            Measurements { started_at_unix: 100.4, clock: Clock::RunSeconds { end_s: 2.5 }, ..Default::default() };
        assert_eq!([101, 102, 103].map(|t| api.second_end(t)), [1.0, 2.0, 2.5]);
        let ws =
            Measurements { started_at_unix: 100.4, clock: Clock::WallSeconds { end_s: 2.3 }, ..Default::default() };
        let ends = [100, 101, 102].map(|t| (ws.second_end(t) * 1e6).round() / 1e6);
        assert_eq!(ends, [0.6, 1.6, 2.3]);
    }
}
