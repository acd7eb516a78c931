//! The report of a `blast api` run (`ApiSummary`): its figures, computed once from the merged
//! recorders, its headline lines and status-code table, and its rows. Rows come from a list of
//! named requests, each a (method, path, `Recorder`), then `Aggregated`: one today, the target;
//! a run that records several names lists them there and gets a row for each everywhere.

use crate::civil_time::from_unix_ns;
use crate::engine::recorder::{ErrorKind, Recorder};
use crate::engine::{Arrival, RunOutcome};
use crate::report::accounts::Accounts;
use crate::report::bottleneck::{self, Service, Signals, Waiting};
use crate::report::cpu::BlastCpu;
use crate::report::html::{Chart, Heatmap, Page, Table, Unit};
use crate::report::metrics::{self, Metric, Metrics};
use crate::report::model::{FailureRow, HistoryRow, Latency, Measurements, Percentiles, StatRow, Tally};
use crate::report::{hdr, text, unix_secs, Report};
use crate::workloads::api::raw::{NamedRequest, RawPlan, RawRun};
use serde::Serialize;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

/// Dispatch lag p99 above which blast itself is reported as the bottleneck.
pub const GENERATOR_LAG_LIMIT_MS: f64 = 1.0;
/// Achieved rate below this share of the target is reported.
pub const RATE_SHORTFALL: f64 = 0.99;

/// The plan as the user asked for it.
#[derive(Clone, Debug, Serialize)]
pub struct ApiPlanInfo {
    /// Requests per second (with stages: the peak).
    pub rate: f64,
    /// The load shape, when the rate varies (`--stages`).
    pub stages: Option<String>,
    /// Wake-up coalescing window, µs (requests may leave up to this late, on purpose).
    pub coalesce_us: f64,
    /// The I/O backend the cores ran on and why: `uring (auto: ...)`, `epoll`, ...
    pub io: String,
    /// `I/N` (I from 0) when this run is one shard of a larger one (rates above are the whole run's).
    pub shard: Option<String>,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub arrival: crate::engine::Arrival,
    pub cores: usize,
    pub conns: usize,
    pub max_queue: usize,
    pub timeout_ms: f64,
    /// What `--tags`/`--exclude-tags` chose and which names ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ApiRequests {
    /// Requests the schedule asked for in the measured window.
    pub scheduled: u64,
    #[serde(flatten)]
    pub counts: ApiCounts,
}

/// The requests of the run, or of one name.
#[derive(Clone, Debug, Serialize)]
pub struct ApiCounts {
    /// Written to the wire.
    pub sent: u64,
    /// Got a complete response, any status.
    pub completed: u64,
    /// Completed with a 1xx-3xx status.
    pub ok: u64,
    /// Errors of any kind plus 4xx/5xx responses.
    pub failed: u64,
}

/// A scenario's HTTP exchanges, counted apart from its iterations: every request written and
/// every response (`on_start` logins, each flow step, each repeat), by status.
#[derive(Clone, Debug, Serialize)]
pub struct ApiExchanges {
    #[serde(flatten)]
    pub counts: ApiCounts,
    pub status_codes: BTreeMap<String, u64>,
    pub errors: BTreeMap<String, u64>,
    /// Responses per second of the span responses arrived over (`response_s`).
    pub responses_per_s: f64,
    /// blast's CPU per HTTP exchange written, µs (absent without CPU figures).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_us_per_exchange: Option<f64>,
}

/// Warm-up at its own rate: what its schedule asked for and what was sent, apart from every
/// other figure of the report.
#[derive(Clone, Debug, Serialize)]
pub struct ApiWarmup {
    pub secs: f64,
    /// Slots of the warm-up the schedule had (at its planned rate) and that the pacer reached.
    pub planned: u64,
    pub scheduled: u64,
    pub sent: u64,
    pub completed: u64,
    pub planned_rate: f64,
    /// Sent over the warm-up's length.
    pub achieved_rate: f64,
    /// sent / planned, in percent.
    pub pct_of_schedule: f64,
}

/// Iterations that first waited for their virtual user (its `on_start` login): a user's
/// wait, left out of the send lag and never blamed on the connections.
#[derive(Clone, Debug, Serialize)]
pub struct ApiUserWait {
    pub iterations: u64,
    pub mean_ms: f64,
    pub total_s: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ApiConnections {
    pub opened: u64,
    pub failed: u64,
    /// Failed while opening the pool before the start.
    pub failed_at_start: u64,
    /// Opened during the run to replace a closed one.
    pub reconnects: u64,
    /// Kept-alive connections the target closed while idle, noticed before reuse (no error).
    pub closed_idle: u64,
    /// Requests sent again on a fresh connection (`--retry-idempotent`).
    pub retried: u64,
}

/// Service time and corrected latency minus the time the target said it spent.
#[derive(Clone, Debug, Serialize)]
pub struct BeyondTargetMs {
    pub service_ms: Percentiles,
    pub latency_ms: Percentiles,
}

/// One second of the run.
#[derive(Clone, Debug, Serialize)]
pub struct ApiSecond {
    /// Seconds since the start (warm-up included); this row covers (second-1, second].
    pub second: u64,
    pub sent: u64,
    pub completed: u64,
    pub failed: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Corrected latency of the requests completed in this second.
    pub latency_ms: Percentiles,
    /// Median service time (from the actual send) of the requests completed in this second.
    pub service_p50_ms: f64,
    /// A scenario's HTTP responses in this second (absent when each iteration is one request).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exchanges: Option<u64>,
}

/// Everything the report of a `blast api` run shows.
#[derive(Clone, Debug, Serialize)]
pub struct ApiSummary {
    pub workload: String,
    pub target: String,
    pub started_at_unix: f64,
    pub plan: ApiPlanInfo,
    /// Seconds actually measured (shorter than planned when interrupted).
    pub measured_s: f64,
    pub interrupted: bool,
    pub requests: ApiRequests,
    /// Sent per second of measured time.
    pub achieved_rate: f64,
    /// achieved_rate / plan.rate.
    pub rate_ratio: f64,
    /// Completed per second of the span the responses arrived over (`response_s`).
    pub throughput_rps: f64,
    /// Seconds from the start of the measured window to the last response (or the measured
    /// window, when longer): what `throughput_rps` divides by.
    pub response_s: f64,
    /// What `requests`, the rates, the timeline and `blast_cpu` count: `request`, or
    /// `iteration` in a scenario with flows or `on_start` (a request or a whole flow each,
    /// as the schedule paces them; its HTTP exchanges are in `exchanges`).
    pub unit: &'static str,
    /// A scenario's HTTP exchanges (absent when each iteration is one request).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exchanges: Option<ApiExchanges>,
    /// The warm-up at its own rate (absent without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warmup: Option<ApiWarmup>,
    /// Iterations that waited for their user's login (absent when none did).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_wait: Option<ApiUserWait>,
    /// Where the requests (a scenario's iterations) ended up, and whether it adds up; absent
    /// for reports of earlier versions, which did not count it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accounts: Option<Accounts>,
    pub status_codes: BTreeMap<String, u64>,
    pub errors: BTreeMap<String, u64>,
    /// From the intended send time (coordinated-omission corrected).
    pub latency_ms: Percentiles,
    /// From the actual send time (what a closed-loop tool would report).
    pub service_ms: Percentiles,
    /// Actual send minus intended send.
    pub send_lag_ms: Percentiles,
    /// Pacer lag: blast's own delay in queueing a due request.
    pub dispatch_lag_ms: Percentiles,
    pub connect_ms: Percentiles,
    pub connections: ApiConnections,
    /// Present when the target reported its own time per response (`x-blast-hold-us`): blast's
    /// figures minus that time, per response (the network's and blast's share).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beyond_target: Option<BeyondTargetMs>,
    /// Most requests that waited at once on one core for a free connection.
    pub queue_peak: u64,
    /// Redirects followed in all (warm-up included); absent when none was, and in merged
    /// reports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirects_followed: Option<u64>,
    pub bytes_out: u64,
    pub bytes_in: u64,
    /// blast's own CPU (its worker cores, per-thread rusage): per request sent, and each core's
    /// busy share, for the measured window and second by second. Merged: every shard's cores (absent
    /// when a shard's report carries no CPU).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blast_cpu: Option<BlastCpu>,
    /// blast's cores were saturated or its pacer fell behind: the figures include its delay.
    pub generator_bound: bool,
    /// Every connection was busy and the target's service time rose (or was too long for the
    /// connections) while blast had CPU to spare: the latency is the target's.
    pub target_bound: bool,
    pub warnings: Vec<String>,
    pub timeline: Vec<ApiSecond>,
    /// Each name the run recorded under (a scenario's requests, steps and flows; the one
    /// request of the flags otherwise), as Locust's per-name rows.
    pub names: Vec<ApiName>,
    /// Request method and path (the CSV's Type and Name).
    pub method: String,
    pub path: String,
    /// The rows every format renders.
    #[serde(skip)]
    pub measurements: Measurements,
    /// Every histogram and counter, for exact merging of shards (`blast merge`).
    pub raw: RawRun,
}

/// One name's figures.
#[derive(Clone, Debug, Serialize)]
pub struct ApiName {
    pub name: String,
    /// The HTTP method, or `flow` (a flow's whole iterations, from their intended start).
    #[serde(rename = "type")]
    pub kind: String,
    pub requests: ApiCounts,
    pub status_codes: BTreeMap<String, u64>,
    pub errors: BTreeMap<String, u64>,
    /// From the intended start (a flow's first step) or the previous step's end (later steps).
    pub latency_ms: Percentiles,
    /// From the actual send.
    pub service_ms: Percentiles,
    pub share: ApiShare,
    /// Seconds this name ran: from the start of its first second with anything sent or
    /// answered to the end of its last (the last second of the run ends with its last answer).
    pub span_s: f64,
    /// Sent over `span_s`.
    pub rate_per_s: f64,
    /// Redirects its requests followed (warm-up included; each request is one row whatever
    /// its hops); absent when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirects: Option<u64>,
    /// Where this name's requests ended up (absent for reports of earlier versions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accounts: Option<Accounts>,
    /// Bytes its requests wrote and read (request and response heads included; a flow's: its
    /// steps').
    pub bytes: ApiBytes,
}

/// Bytes of a name's requests, and in MB/s (10^6 bytes) over the measured window.
#[derive(Clone, Debug, Serialize)]
pub struct ApiBytes {
    pub sent: u64,
    pub received: u64,
    pub sent_mb_per_s: f64,
    pub received_mb_per_s: f64,
    /// Both ways together: the `NAME:mbps` SLA figure.
    pub mb_per_s: f64,
}

impl ApiBytes {
    /// `sent` and `received` bytes over `secs` seconds.
    fn of(sent: u64, received: u64, secs: f64) -> Self {
        let mb = |b: u64| b as f64 / 1e6 / secs.max(1e-9);
        ApiBytes {
            sent,
            received,
            sent_mb_per_s: mb(sent),
            received_mb_per_s: mb(received),
            mb_per_s: mb(sent + received),
        }
    }
}

/// A name's share of the arrivals: planned by weight (requests and flows) and achieved (sent
/// over the iterations sent; a repeated step's is above 1).
#[derive(Clone, Debug, Serialize)]
pub struct ApiShare {
    pub planned: Option<f64>,
    pub achieved: f64,
}

impl ApiCounts {
    fn of(r: &Recorder) -> Self {
        ApiCounts { sent: r.sent, completed: r.completed, ok: r.codes_in(100, 399), failed: r.failed() }
    }

    /// Failed of those that got a status or failed, in percent (100 when there are none).
    /// Requests that got a status or failed: what the error rate rests on.
    fn attempted(&self) -> u64 {
        self.ok + self.failed
    }

    fn errors_pct(&self) -> f64 {
        let attempted = self.attempted();
        if attempted == 0 {
            100.0
        } else {
            100.0 * self.failed as f64 / attempted as f64
        }
    }
}

/// A named request's figures: every attempt that got a status or failed is a request.
impl Tally for Recorder {
    fn add(&mut self, other: &Self) {
        self.merge(other);
    }

    fn row(&self, kind: &str, name: &str, secs: f64) -> StatRow {
        let (failures, latency) = (self.failed(), Percentiles::of(&self.latency));
        let size = if self.completed == 0 { 0.0 } else { self.body_in as f64 / self.completed as f64 };
        let row = StatRow::new(kind, name, (self.codes_in(100, 399) + failures, failures), &latency, size, secs);
        StatRow { bytes: Some((self.bytes_out, self.bytes_in)), ..row }
    }
}

/// The failures of one named request: errors by kind, then failed statuses.
fn failure_rows(method: &str, name: &str, r: &Recorder) -> Vec<FailureRow> {
    let failed_codes = r.status_codes().into_iter().filter(|(c, _)| c.parse::<u16>().map_or(true, |c| c >= 400));
    let errors = r.error_counts().into_iter().map(|(kind, n)| FailureRow::new(method, name, &kind, n));
    errors.chain(failed_codes.map(|(code, n)| FailureRow::new(method, name, &format!("HTTP {code}"), n))).collect()
}

/// Marks the failures that happened in the second at `unix` (`now`, that second's rows) as seen
/// then: the first second sets `First Seen`, every one `Last Seen`.
fn seen_in(failures: &mut [FailureRow], unix: u64, now: Vec<FailureRow>) {
    for f in now.iter().filter(|f| f.occurrences > 0) {
        if let Some(row) = failures.iter_mut().find(|r| r.method == f.method && r.name == f.name && r.error == f.error)
        {
            row.first_seen.get_or_insert(unix);
            row.last_seen = Some(unix);
        }
    }
}

/// The model of a run: a row per name, then `Aggregated` (the HTTP requests: every row but the
/// A recorder's rows, borrowed, and its `Aggregated`: the merge of the rows that are not flows,
/// or the one row itself when it is the only one (no copy of it each second).
fn rows_and_aggregate<'a>(names: &[NamedRequest], r: &'a Recorder) -> (Vec<&'a Recorder>, Cow<'a, Recorder>) {
    let rows: Vec<&Recorder> = (0..names.len()).map(|i| r.by_row(i)).collect();
    let agg = match names {
        [one] if !one.flow => Cow::Borrowed(rows[0]),
        _ => {
            let mut agg = Recorder::new();
            names.iter().zip(&rows).filter(|(n, _)| !n.flow).for_each(|(_, row)| agg.merge(row));
            Cow::Owned(agg)
        }
    };
    (rows, agg)
}

/// flows'), the same second by second, the seconds of the JSON timeline, and each name's span.
fn measurements(names: &[NamedRequest], s: &ApiSummary, run: &RunOutcome) -> (Measurements, Vec<ApiSecond>, Vec<f64>) {
    let (rows_total, agg_total) = rows_and_aggregate(names, &run.total);
    let mut rows: Vec<StatRow> = names
        .iter()
        .zip(&rows_total)
        .zip(&s.names)
        .map(|((n, r), a)| StatRow { accounts: a.accounts.clone(), ..r.row(&n.kind, &n.name, s.measured_s) })
        .collect();
    let whole = match names {
        [one] if !one.flow => s.accounts.clone(),
        _ => None,
    };
    rows.push(StatRow { accounts: whole, ..agg_total.row("", "Aggregated", s.measured_s) });
    let mut failures: Vec<FailureRow> =
        names.iter().zip(&rows_total).flat_map(|(n, r)| failure_rows(&n.kind, &n.name, r)).collect();
    let start = s.started_at_unix as u64;
    let (mut timeline, mut history) = (Vec::new(), Vec::new());
    let (mut cumulative, mut agg_cumulative) = (vec![Recorder::new(); names.len()], Recorder::new());
    // Each name's first and last second with anything sent or answered.
    let mut active: Vec<Option<(usize, usize)>> = vec![None; names.len()];
    let two_units = s.exchanges.is_some();
    for (i, second) in run.timeline.iter().enumerate() {
        let (t, r) = (start + i as u64 + 1, second.expand_own());
        let (rows_now, agg_now) = rows_and_aggregate(names, &r);
        let secs = (i + 1) as f64;
        for (((n, now), total), seen) in names.iter().zip(&rows_now).zip(cumulative.iter_mut()).zip(active.iter_mut()) {
            if now.sent + now.completed + now.failed() > 0 {
                *seen = Some(seen.map_or((i, i), |(first, _)| (first, i)));
            }
            total.merge(now);
            seen_in(&mut failures, start + i as u64, failure_rows(&n.kind, &n.name, now));
            let (interval, total) = (now.row(&n.kind, &n.name, 1.0), total.row(&n.kind, &n.name, secs));
            history.push(HistoryRow { timestamp: t, users: s.plan.conns as u64, interval, total });
        }
        agg_cumulative.merge(&agg_now);
        let (interval, total) = (agg_now.row("", "Aggregated", 1.0), agg_cumulative.row("", "Aggregated", secs));
        let latency_ms = Percentiles::of(&r.latency);
        timeline.push(ApiSecond {
            second: t - start,
            sent: r.sent,
            completed: r.completed,
            failed: r.failed(),
            p50_ms: latency_ms.p50,
            p99_ms: latency_ms.p99,
            max_ms: latency_ms.max,
            latency_ms,
            service_p50_ms: if r.service.is_empty() { 0.0 } else { r.service.value_at_quantile(0.5) as f64 / 1000.0 },
            exchanges: two_units.then_some(agg_now.completed),
        });
        history.push(HistoryRow { timestamp: t, users: s.plan.conns as u64, interval, total });
    }
    let latencies = vec![
        Latency::new("corrected (intended)", Some(""), true, &s.latency_ms),
        Latency::new("uncorrected (sent)", Some("service_"), true, &s.service_ms),
        Latency::new("send lag", None, false, &s.send_lag_ms),
        Latency::new("pacer lag", None, false, &s.dispatch_lag_ms),
        Latency::new("connect", None, false, &s.connect_ms),
    ];
    // The last second of the run ends with its last answer (answers after the schedule are
    // folded into it); none of a name's seconds starts before the measured window.
    let (warmup, last) = (s.plan.warmup_s, run.timeline.len().saturating_sub(1));
    let end = warmup + s.response_s;
    let spans: Vec<f64> = active
        .iter()
        .map(|seen| match seen {
            Some((first, at)) => {
                let to = if *at == last { end } else { (*at + 1) as f64 };
                (to - (*first as f64).max(warmup)).max(1e-3)
            }
            None => s.measured_s.max(1e-9),
        })
        .collect();
    for (row, span) in rows.iter_mut().zip(&spans) {
        row.secs = *span;
    }
    if let Some(agg) = rows.last_mut() {
        agg.secs = s.response_s.max(1e-9);
    }
    let m = Measurements {
        rows,
        history,
        failures,
        latencies,
        started_at_unix: s.started_at_unix,
        clock: crate::report::model::Clock::RunSeconds { end_s: warmup + s.measured_s.max(s.response_s) },
    };
    (m, timeline, spans)
}

/// Whether a run's iterations are not single HTTP exchanges: a flow, or a name that is not
/// scheduled itself (`on_start`, a flow's steps). Such a run reports iterations and HTTP
/// exchanges apart.
pub fn two_units(names: &[NamedRequest]) -> bool {
    names.iter().any(|n| n.flow || n.planned_share.is_none())
}

/// Each name's figures for the JSON report.
fn names_of(names: &[NamedRequest], t: &Recorder, accounted: bool, secs: f64) -> Vec<ApiName> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let r = t.by_row(i);
            ApiName {
                name: n.name.clone(),
                kind: n.kind.clone(),
                requests: ApiCounts::of(r),
                status_codes: r.status_codes(),
                errors: r.error_counts(),
                latency_ms: Percentiles::of(&r.latency),
                service_ms: Percentiles::of(&r.service),
                share: ApiShare {
                    planned: n.planned_share,
                    achieved: if t.sent == 0 { 0.0 } else { r.sent as f64 / t.sent as f64 },
                },
                redirects: None,
                accounts: accounted.then(|| Accounts::of(r, n.planned_share.is_some())),
                span_s: 0.0,
                rate_per_s: 0.0,
                bytes: ApiBytes::of(r.bytes_out, r.bytes_in, secs),
            }
        })
        .collect()
}

impl ApiSummary {
    /// Adds to the failures of a check (`expect_status`, `expect_body`, `slow`) the first value
    /// that failed it on that row: (row, kind, value).
    pub fn note_first_values(&mut self, names: &[NamedRequest], firsts: Vec<(usize, &'static str, String)>) {
        for (row, kind, value) in firsts {
            let Some(n) = names.get(row) else { continue };
            let failures = self.measurements.failures.iter_mut();
            if let Some(f) = failures.into_iter().find(|f| f.method == n.kind && f.name == n.name && f.error == kind) {
                f.error = format!("{kind}: first {value}");
            }
        }
    }

    /// Adds the redirects followed per row (the run's, `per_row[row]`) to the names and the total.
    pub fn note_redirects(&mut self, per_row: &[u64]) {
        let total: u64 = per_row.iter().sum();
        if total == 0 {
            return;
        }
        self.redirects_followed = Some(total);
        for (name, &n) in self.names.iter_mut().zip(per_row) {
            name.redirects = (n > 0).then_some(n);
        }
    }

    /// `names`: what the run's rows are (none: one row, `method` and the target's path, as in
    /// reports of earlier versions).
    pub fn build(
        workload: &str,
        target: &str,
        method: &str,
        plan: &RawPlan,
        run: &RunOutcome,
        names: &[NamedRequest],
    ) -> ApiSummary {
        let shape = plan.shape();
        let schedule = plan.schedule(shape.as_ref());
        let t = &run.total;
        let measured = run.measured_secs.max(1e-9);
        // Sent over the time sending really took: a run that fell behind and caught up after
        // the schedule ended did not achieve the planned rate.
        let achieved_rate = t.sent as f64 / measured.max(run.send_secs);
        let warmup = plan.warmup().as_secs_f64();
        // The slots the pacer reached (counted), or for a report that did not count them, the
        // slots due in the measured window.
        let scheduled = match run.accounted {
            true => t.accounting.scheduled as f64,
            false => schedule.due_between(warmup, warmup + run.measured_secs).round(),
        };
        // Responses arrive until the last one: throughput is over that span, not the plan's.
        let response_s = measured.max(run.response_secs);
        let mut s = ApiSummary {
            workload: workload.to_string(),
            target: target.to_string(),
            started_at_unix: unix_secs(run.started_at),
            plan: ApiPlanInfo {
                rate: plan.rate,
                stages: plan.stages.clone(),
                coalesce_us: plan.coalesce_ns as f64 / 1e3,
                io: run.io.clone(),
                shard: plan.shard.is_split().then(|| plan.shard.to_string()),
                duration_s: plan.duration().as_secs_f64(),
                warmup_s: plan.warmup().as_secs_f64(),
                arrival: plan.arrival,
                cores: plan.cores,
                conns: plan.conns,
                max_queue: plan.max_queue,
                timeout_ms: plan.timeout_ns as f64 / 1e6,
                tags: plan.tags.clone(),
            },
            measured_s: run.measured_secs,
            interrupted: run.interrupted,
            requests: ApiRequests { scheduled: scheduled as u64, counts: ApiCounts::of(t) },
            achieved_rate,
            // Sent over the slots due (exact at any rate, 10/h included), with a penalty when
            // sending ran past the schedule. Poisson arrivals: achieved over the planned rate.
            rate_ratio: match (&shape, plan.arrival) {
                (None, Arrival::Poisson) => achieved_rate / schedule.own_rate(),
                // Sending a few ms past the schedule's end (the last slot's own lag, within
                // blast's lag limit) is no shortfall: only lateness beyond it is.
                _ => {
                    let limit = (GENERATOR_LAG_LIMIT_MS + plan.coalesce_ns as f64 / 1e6) / 1000.0;
                    let late = (run.send_secs - measured - limit).max(0.0);
                    t.sent as f64 / scheduled.max(1.0) * (measured / (measured + late))
                }
            },
            throughput_rps: t.completed as f64 / response_s,
            response_s,
            unit: if two_units(names) { "iteration" } else { "request" },
            exchanges: None,
            warmup: warmup_of(plan, &schedule, t, warmup),
            user_wait: (t.accounting.user_waits > 0).then(|| ApiUserWait {
                iterations: t.accounting.user_waits,
                mean_ms: t.accounting.user_wait_us as f64 / 1e3 / t.accounting.user_waits as f64,
                total_s: t.accounting.user_wait_us as f64 / 1e6,
            }),
            accounts: run.accounted.then(|| Accounts::of(t, true)),
            status_codes: t.status_codes(),
            errors: t.error_counts(),
            latency_ms: Percentiles::of(&t.latency),
            service_ms: Percentiles::of(&t.service),
            send_lag_ms: Percentiles::of(&t.send_lag),
            dispatch_lag_ms: Percentiles::of(&t.dispatch_lag),
            connect_ms: Percentiles::of(&t.connect),
            connections: ApiConnections {
                opened: t.connects_ok,
                failed: t.connects_failed,
                failed_at_start: run.preconnect_failed,
                reconnects: t.reconnects,
                closed_idle: t.closed_idle,
                retried: t.retried,
            },
            beyond_target: t.beyond_target.as_deref().map(|b| BeyondTargetMs {
                service_ms: Percentiles::of(&b.service),
                latency_ms: Percentiles::of(&b.latency),
            }),
            queue_peak: t.queue_peak,
            redirects_followed: None,
            bytes_out: t.bytes_out,
            bytes_in: t.bytes_in,
            blast_cpu: None,
            generator_bound: false,
            target_bound: false,
            warnings: Vec::new(),
            timeline: Vec::new(),
            method: method.to_string(),
            path: target
                .split_once("://")
                .and_then(|(_, r)| r.find('/').map(|i| r[i..].to_string()))
                .unwrap_or("/".into()),
            measurements: Measurements::default(),
            raw: RawRun::of(plan, run, names),
            names: Vec::new(),
        };
        let names = if names.is_empty() {
            // The one request of the flags (and reports of earlier versions): its path is its name.
            vec![NamedRequest { name: s.path.clone(), kind: s.method.clone(), flow: false, planned_share: Some(1.0) }]
        } else {
            names.to_vec()
        };
        s.names = names_of(&names, t, run.accounted, s.measured_s);
        if two_units(&names) {
            let (_, agg) = rows_and_aggregate(&names, t);
            s.exchanges = Some(ApiExchanges {
                counts: ApiCounts::of(&agg),
                status_codes: agg.status_codes(),
                errors: agg.error_counts(),
                responses_per_s: agg.completed as f64 / response_s,
                cpu_us_per_exchange: None,
            });
        }
        let spans;
        (s.measurements, s.timeline, spans) = measurements(&names, &s, run);
        for (n, span) in s.names.iter_mut().zip(spans) {
            (n.span_s, n.rate_per_s) = (span, n.requests.sent as f64 / span);
            // MB/s over the span the name ran, as its rate
            n.bytes = ApiBytes::of(n.bytes.sent, n.bytes.received, span);
        }
        let per_second = |i: usize| s.timeline.get(i).map(|x| x.sent as f64);
        s.blast_cpu = BlastCpu::of(&run.cpu, plan.warmup().as_secs() as usize, (s.unit, t.sent as f64), per_second);
        if let (Some(x), Some(cpu)) = (s.exchanges.as_mut(), &s.blast_cpu) {
            let n = x.counts.sent as f64;
            x.cpu_us_per_exchange = (n > 0.0).then(|| (cpu.user_s + cpu.sys_s) * 1e6 / n);
        }
        s.warnings = warnings(&mut s, run);
        s
    }
}

/// The warm-up's own figures, when the plan has one.
fn warmup_of(
    plan: &RawPlan,
    schedule: &crate::engine::plan::Schedule<'_>,
    t: &Recorder,
    secs: f64,
) -> Option<ApiWarmup> {
    if secs <= 0.0 {
        return None;
    }
    let a = &t.accounting;
    let planned = schedule.due_between(0.0, secs).round() as u64;
    Some(ApiWarmup {
        secs,
        planned,
        scheduled: a.warmup_scheduled,
        sent: a.warmup_sent,
        completed: a.warmup_completed,
        planned_rate: planned as f64 / secs,
        achieved_rate: a.warmup_sent as f64 / secs,
        pct_of_schedule: if planned == 0 { 0.0 } else { 100.0 * a.warmup_sent as f64 / planned as f64 },
    })
    .filter(|_| plan.warmup().as_secs_f64() > 0.0)
}

impl ApiSummary {
    /// Every kind of failure: the errors by kind, then the failed statuses (`HTTP 401`), so that
    /// the errors line never says "none" beside failed requests. In a scenario with flows or
    /// `on_start`: the HTTP exchanges' failures, then what failed iterations before any
    /// exchange (dropped, never sent).
    fn failure_kinds(&self) -> BTreeMap<String, u64> {
        let failed = |code: &String| code.parse::<u16>().map_or(true, |c| c >= 400);
        let (errors, codes) = match &self.exchanges {
            Some(x) => (&x.errors, &x.status_codes),
            None => (&self.errors, &self.status_codes),
        };
        let statuses = codes.iter().filter(|(c, _)| failed(c)).map(|(c, n)| (format!("HTTP {c}"), *n));
        let mut all: BTreeMap<String, u64> = errors.clone().into_iter().chain(statuses).collect();
        if self.exchanges.is_some() {
            let only: Vec<(String, u64)> = self
                .errors
                .iter()
                .filter(|(k, _)| !all.contains_key(*k))
                .map(|(k, n)| (format!("{k} (iterations)"), *n))
                .collect();
            all.extend(only);
        }
        all
    }

    /// `request`s or `iteration`s, as the rate reads: `req/s`, `iterations/s`.
    fn per_s(&self) -> &'static str {
        if self.exchanges.is_some() {
            "iterations/s"
        } else {
            "req/s"
        }
    }

    /// The end of the run on its clock: seconds since the start (warm-up included) until the
    /// schedule ended or the last answer came, whichever was later.
    fn end_s(&self) -> f64 {
        self.plan.warmup_s + self.measured_s.max(self.response_s)
    }

    /// Corrected latency second by second (second `i` of the timeline covers `i..i+1` since the
    /// start, warm-up included; the last one ends with the run).
    fn heatmap(&self) -> Heatmap {
        let end = self.end_s();
        let seconds = self.raw.timeline.iter().enumerate().filter_map(|(i, r)| {
            let (from, to) = (i as f64, (i as f64 + 1.0).min(end.max(i as f64 + 0.05)));
            Some((from, to, Cow::Owned(r.latency.histogram().ok()?)))
        });
        Heatmap::of("Corrected latency heatmap (per second)", "corrected latency", seconds)
    }
}

/// The figures the bottleneck is found from.
/// Whether requests waiting for a busy connection is a finding. One request that waited once
/// is chance, not a finding: at least two waited at once (`queue_peak`, per core), and the
/// send lag of the slowest 1% is beyond blast's own limit.
fn waited_for_connections(queue_peak: u64, send_lag_p99_ms: f64, lag_limit_ms: f64) -> bool {
    queue_peak > 1 && send_lag_p99_ms > lag_limit_ms
}

fn signals(s: &ApiSummary, lag_limit: f64) -> Signals {
    let dropped = s.errors.get(ErrorKind::Dropped.name()).copied().unwrap_or(0);
    let waited = waited_for_connections(s.queue_peak, s.send_lag_ms.p99, lag_limit);
    let measured = s.timeline.iter().skip(s.plan.warmup_s as usize).filter(|x| x.completed > 0);
    let p50s: Vec<f64> = measured.map(|x| x.service_p50_ms).collect();
    Signals {
        busiest_core: s.blast_cpu.as_ref().and_then(|c| c.busiest_share()),
        pacer_lag_ms: Some((s.dispatch_lag_ms.p99, lag_limit)),
        waiting: (waited || dropped > 0)
            .then_some(Waiting { queue_peak: s.queue_peak, send_lag_p99_ms: s.send_lag_ms.p99 }),
        service: p50s.first().map(|&first| Service {
            first_p50_ms: first,
            peak_p50_ms: p50s.iter().copied().fold(first, f64::max),
            mean_ms: s.service_ms.mean,
            rate: s.plan.rate,
            conns: s.plan.conns,
        }),
    }
}

fn warnings(s: &mut ApiSummary, run: &RunOutcome) -> Vec<String> {
    let mut w = Vec::new();
    let preconnect_tls = if run.preconnect_error == Some(ErrorKind::Tls) { run.preconnect_failed } else { 0 };
    let tls = run.total.errors_of(ErrorKind::Tls).max(preconnect_tls);
    if tls > 0 {
        w.push(crate::report::tls_warning(tls));
    }
    if let Some(why) = &run.io_refused {
        w.push(format!("I/O: {why}; the run used epoll"));
    }
    if run.unreachable {
        let why = run.preconnect_error.map_or("unknown error", |k| k.name());
        w.push(format!(
            "none of the {} connections could be opened before the start ({why}): the run stopped there and nothing was sent",
            run.preconnect_failed
        ));
    } else if run.preconnect_failed > 0 {
        let why = run.preconnect_error.map_or("unknown error", |k| k.name());
        w.push(format!(
            "{} of {} connections could not be opened before the start ({why})",
            run.preconnect_failed, s.plan.conns
        ));
    }
    // Coalescing delays slots on purpose by up to its window: only lag beyond that is blast's.
    let lag_limit = GENERATOR_LAG_LIMIT_MS + s.plan.coalesce_us / 1000.0;
    let found = bottleneck::find(&signals(s, lag_limit));
    (s.generator_bound, s.target_bound) = (found.generator_bound, found.target_bound);
    w.extend(found.warnings);
    let dropped = s.errors.get(ErrorKind::Dropped.name()).copied().unwrap_or(0);
    if dropped > 0 {
        w.push(format!(
            "{dropped} requests dropped: all connections were busy and the queue (--max-queue {}) was full",
            s.plan.max_queue
        ));
    }
    if !s.interrupted && !run.unreachable && s.rate_ratio < RATE_SHORTFALL {
        w.push(format!(
            "achieved {}, {:.1}% of the target {}",
            crate::units::per_second_text(s.achieved_rate),
            s.rate_ratio * 100.0,
            crate::units::per_second_text(s.plan.rate)
        ));
    }
    if s.interrupted {
        w.push(format!("interrupted after {:.1} s of {:.1} s measured", s.measured_s, s.plan.duration_s));
    }
    if let Some(a) = &s.accounts {
        w.extend(a.warnings("the run"));
    }
    for n in s.names.iter().filter(|_| s.names.len() > 1) {
        w.extend(n.accounts.iter().flat_map(|a| a.warnings(&n.name)));
    }
    w.extend(invalid_path_warning(&s.names));
    w
}

/// Requests not sent because a captured value put a space or a control character into their
/// path (`invalid_path`), named by row.
fn invalid_path_warning(names: &[ApiName]) -> Option<String> {
    let kind = ErrorKind::InvalidPath.name();
    let hit: Vec<(&str, u64)> = names
        .iter()
        .filter(|n| n.kind != "flow")
        .filter_map(|n| Some((n.name.as_str(), *n.errors.get(kind)?)))
        .collect();
    let total: u64 = hit.iter().map(|(_, n)| n).sum();
    (total > 0).then(|| {
        let rows: Vec<String> = hit.iter().map(|(name, n)| format!("'{name}' {n}")).collect();
        format!(
            "{total} requests not sent ({kind}): a captured value put a space or a control character into the path of {}",
            rows.join(", ")
        )
    })
}

/// The achieved rate with one decimal (`1999.7 req/s`), or to 4 significant digits under 1/s;
/// `unit`: `req/s` or `iterations/s`.
fn achieved_text(rate: f64, unit: &str) -> String {
    if rate >= 1.0 || rate <= 0.0 {
        format!("{rate:.1} {unit}")
    } else {
        crate::units::per_second_text(rate).replacen("req/s", unit, 1)
    }
}

impl Report for ApiSummary {
    fn title(&self) -> String {
        format!("blast {} -> {}", self.workload, self.target)
    }

    fn measurements(&self) -> &Measurements {
        &self.measurements
    }

    fn headline(&self) -> Vec<(&'static str, String)> {
        let (p, r, c) = (&self.plan, &self.requests, &self.connections);
        let n = &r.counts;
        let rate = match &p.stages {
            Some(stages) => format!("stages {stages} (peak {})", crate::units::per_second_text(p.rate)),
            None => crate::units::per_second_text(p.rate),
        };
        let arrival =
            serde_json::to_value(p.arrival).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
        let (secs, warmup, cores, conns, coalesce) = (p.duration_s, p.warmup_s, p.cores, p.conns, p.coalesce_us);
        let (achieved, pct, rps, measured) = (
            achieved_text(self.achieved_rate, self.per_s()),
            self.rate_ratio * 100.0,
            self.throughput_rps,
            self.response_s,
        );
        let mut lines = vec![(
            "plan",
            format!("{rate} {arrival} for {secs:.1}s (+{warmup:.1}s warm-up), {cores} cores, {conns} connections, wake-ups coalesced to {coalesce:.0} us, io: {}", p.io),
        )];
        if let Some(w) = &self.warmup {
            lines.push((
                "warm-up",
                format!(
                "{:.1}s at {}: {} sent of {} planned ({}, {:.2}% of its schedule), {} completed; in no figure below",
                w.secs, crate::units::per_second_text(w.planned_rate), w.sent, w.planned,
                achieved_text(w.achieved_rate, self.per_s()), w.pct_of_schedule, w.completed
            ),
            ));
        }
        let counted = format!(
            "{} scheduled, {} sent, {} completed, {} ok, {} failed",
            r.scheduled, n.sent, n.completed, n.ok, n.failed
        );
        match &self.exchanges {
            Some(x) => {
                let c = &x.counts;
                lines.extend([
                    ("iterations", format!("{counted} (each a request or a whole flow, as the schedule paces them)")),
                    ("exchanges", format!("{} HTTP requests sent, {} responses, {} ok, {} failed (every response: on_start, flow steps, repeats)", c.sent, c.completed, c.ok, c.failed)),
                    ("rate", format!("achieved {achieved} ({pct:.2}% of schedule); throughput {rps:.1} iterations/s and {:.1} HTTP responses/s over {measured:.2}s", x.responses_per_s)),
                    ("status", format!("HTTP responses: {}", text::counts(&x.status_codes))),
                ]);
            }
            None => lines.extend([
                ("requests", counted),
                (
                    "rate",
                    format!(
                        "achieved {achieved} ({pct:.2}% of schedule), throughput {rps:.1} resp/s over {measured:.2}s"
                    ),
                ),
                ("status", text::counts(&self.status_codes)),
            ]),
        }
        if let Some(u) = &self.user_wait {
            lines.push(("user wait", format!(
                "{} iterations first waited for their user's on_start (login), {:.2} ms on average: the user's wait, not send lag",
                u.iterations, u.mean_ms
            )));
        }
        lines.extend([
            ("errors", text::counts(&self.failure_kinds())),
            ("conns", format!("{} opened, {} failed, {} reconnects ({} closed by the target while idle), {} retried, queue peak {} per core", c.opened, c.failed, c.reconnects, c.closed_idle, c.retried, self.queue_peak)),
        ]);
        if let Some(tags) = &p.tags {
            lines.insert(1, ("tags", tags.clone()));
        }
        // Bytes per name, for a scenario whose requests carry any (uploads, downloads).
        for n in self.names.iter().filter(|n| self.names.len() > 1 && n.bytes.sent + n.bytes.received > 0) {
            let b = &n.bytes;
            let line = format!(
                "{}: {} sent, {} received, {:.2} MB/s ({:.2} out, {:.2} in)",
                n.name,
                mb_text(b.sent),
                mb_text(b.received),
                b.mb_per_s,
                b.sent_mb_per_s,
                b.received_mb_per_s
            );
            lines.push(("bytes", line));
        }
        if let Some(a) = &self.accounts {
            lines.push(("accounts", a.line()));
        }
        if let Some(cpu) = &self.blast_cpu {
            let per_exchange = self.exchanges.as_ref().and_then(|x| x.cpu_us_per_exchange);
            let also = per_exchange.map_or(String::new(), |us| format!("; {us:.1} us/HTTP exchange"));
            lines.push(("blast cpu", format!("{}{also}", cpu.line())));
        }
        lines
    }

    fn layout(&self) -> text::Layout {
        let note = "corrected latency counts from when each request was due; uncorrected counts from when it was sent and hides waiting (coordinated omission).";
        // `iterations` and `exchanges` (a scenario's two units) need a wider name column.
        let key = if self.exchanges.is_some() { 12 } else { 10 };
        text::Layout { key, label: 22, width: 9, decimals: 3, mean: true, note: Some(note) }
    }

    fn warnings(&self) -> &[String] {
        &self.warnings
    }

    fn warn(&mut self, line: String) {
        self.warnings.push(line);
    }

    /// The run was clean: everything scheduled was sent and answered without failure.
    fn clean(&self) -> bool {
        let reached = self.connections.opened > 0 || self.connections.failed_at_start == 0;
        self.requests.counts.failed == 0 && !self.interrupted && reached
    }

    fn interrupted(&self) -> bool {
        self.interrupted
    }

    fn sound(&self) -> bool {
        let names = self.names.iter().filter_map(|n| n.accounts.as_ref());
        self.accounts.iter().chain(names).all(Accounts::holds)
    }

    fn figures(&self, m: &mut Metrics) {
        let c = &self.requests.counts;
        let (errors, tried, sent) = (c.errors_pct(), c.attempted(), c.sent);
        m.insert("errors".into(), Metric::pct_low(errors).over(tried, "requests"));
        m.insert("success".into(), Metric::pct_high(100.0 - errors).over(tried, "requests"));
        let rate = Metric::pct_high(self.rate_ratio * 100.0);
        m.insert("rate".into(), rate.over(self.requests.scheduled, "requests scheduled"));
        m.insert("rps".into(), Metric::per_s(self.achieved_rate).over(sent, "requests sent"));
        m.insert("send_lag_p99".into(), Metric::ms(self.send_lag_ms.p99).over(self.send_lag_ms.count, "requests sent"));
        for n in self.names.iter().filter(|_| self.names.len() > 1) {
            let prefix = format!("{}:", n.name);
            metrics::latency(m, &prefix, &n.latency_ms, "responses");
            let errors = n.requests.errors_pct();
            let [e, ok, rps, share, mbps] = NAME_FIGURES;
            let (tried, sent) = (n.requests.attempted(), n.requests.sent);
            m.insert(format!("{prefix}{e}"), Metric::pct_low(errors).over(tried, "requests"));
            m.insert(format!("{prefix}{ok}"), Metric::pct_high(100.0 - errors).over(tried, "requests"));
            let rate = Metric::per_s(n.rate_per_s);
            m.insert(format!("{prefix}{rps}"), rate.over(sent, "requests sent"));
            let achieved = Metric::pct_high(n.share.achieved * 100.0);
            m.insert(format!("{prefix}{share}"), achieved.over(sent, "requests sent"));
            m.insert(format!("{prefix}{mbps}"), Metric::mb_per_s(n.bytes.mb_per_s).over(sent, "requests sent"));
        }
    }

    /// One interval per second: corrected latency (tag `latency`) and service time (`service`),
    /// decoded one second at a time from the compacted series. With several names, each also
    /// gets its own tag (`name.` and the name, characters a log tag cannot hold replaced by `_`).
    fn write_hdr_log(&self, path: &str) -> std::io::Result<()> {
        let safe = |n: &ApiName| n.name.replace(|c: char| c.is_whitespace() || c == ',' || c == '=', "_");
        let tags: Vec<String> =
            self.names.iter().filter(|_| self.names.len() > 1).map(|n| format!("name.{}", safe(n))).collect();
        // The run's seconds, the last one as long as it really was (the run ended, or its last
        // answers arrived, part way into it): intervals end where the next begins, never later.
        let end = self.plan.warmup_s + self.measured_s.max(self.response_s);
        let intervals = self.raw.timeline.iter().enumerate().flat_map(|(i, r)| {
            let rows = tags.iter().zip(&r.by_name).map(|(tag, row)| (tag.as_str(), &row.latency));
            [("latency", &r.latency), ("service", &r.service)].into_iter().chain(rows).filter_map(move |(tag, h)| {
                let start = Duration::from_secs(i as u64);
                let length = Duration::from_secs_f64((end - i as f64).clamp(0.001, 1.0));
                Some(hdr::Interval { tag, start, length, histogram: Cow::Owned(h.histogram().ok()?) })
            })
        });
        hdr::write(path, from_unix_ns(self.raw.started_at_unix_ns), "api", intervals)
    }

    fn page(&self) -> Page {
        // Second n covers n-1..n since the start, the last only up to the end of the run: a
        // short run's (or a last partial second's) rate is over the time it really covered.
        let end = self.end_s();
        let span = |s: &ApiSecond| {
            let from = s.second as f64 - 1.0;
            (from, (s.second as f64).min(end.max(from + 0.05)))
        };
        let line = |f: &dyn Fn(&ApiSecond) -> Option<u64>| -> Vec<(f64, f64)> {
            let rate = |s: &ApiSecond| {
                let (from, to) = span(s);
                Some((to, f(s)? as f64 / (to - from)))
            };
            self.timeline.iter().filter_map(rate).collect()
        };
        let mut series = vec![
            ("sent", line(&|s| Some(s.sent))),
            ("completed", line(&|s| Some(s.completed))),
            ("failed", line(&|s| Some(s.failed))),
        ];
        let (what, unit_s) = match &self.exchanges {
            Some(_) => {
                series.push(("HTTP responses", line(&|s| s.exchanges)));
                ("iterations", "iterations/s (and HTTP responses/s)")
            }
            None => ("requests", "requests/s"),
        };
        let (codes_of, errors_of) = match &self.exchanges {
            Some(x) => (&x.status_codes, &x.errors),
            None => (&self.status_codes, &self.errors),
        };
        let codes = codes_of.iter().map(|(k, v)| vec![format!("HTTP {k}"), v.to_string()]);
        let errors = errors_of.iter().map(|(k, v)| vec![k.clone(), v.to_string()]);
        let mut tables = vec![Table {
            title: if self.exchanges.is_some() {
                "HTTP responses: status codes and errors"
            } else {
                "Status codes and errors"
            }
            .into(),
            header: vec!["".into(), "count".into()],
            rows: codes.chain(errors).collect(),
        }];
        tables.extend(self.accounts_table());
        let mut headline = vec![(what.into(), self.requests.counts.sent.to_string())];
        if let Some(x) = &self.exchanges {
            headline.push(("HTTP responses".into(), x.counts.completed.to_string()));
        }
        Page {
            headline: headline
                .into_iter()
                .chain([
                    (
                        format!("achieved {}", self.per_s()),
                        match self.achieved_rate {
                            r if r >= 1.0 => format!("{r:.0}"),
                            r => crate::units::significant(r, 4),
                        },
                    ),
                    ("of schedule".into(), format!("{:.2}%", self.rate_ratio * 100.0)),
                    ("p99 (corrected)".into(), format!("{:.2} ms", self.latency_ms.p99)),
                    ("failed".into(), self.requests.counts.failed.to_string()),
                ])
                .collect(),
            charts: vec![Chart::over_time(&format!("Throughput per second ({what})"), unit_s, Unit::PerSecond, series)],
            heatmaps: vec![self.heatmap()],
            tables,
            ..Page::default()
        }
    }
}

impl ApiSummary {
    /// The accounting identities of the run and of each name, and whether each holds (absent
    /// for a report of a version that did not count them).
    fn accounts_table(&self) -> Option<Table> {
        let run = self.accounts.as_ref().map(|a| (format!("the run ({}s)", self.unit), a));
        let names = self
            .names
            .iter()
            .filter(|_| self.names.len() > 1)
            .filter_map(|n| Some((n.name.clone(), n.accounts.as_ref()?)));
        let rows: Vec<Vec<String>> = run
            .into_iter()
            .chain(names)
            .map(|(who, a)| vec![who, a.line(), if a.holds() { "yes".into() } else { "NO".into() }])
            .collect();
        (!rows.is_empty()).then(|| Table {
            title: "Accounts (scheduled = sent + dropped + not sent; sent = completed + failed without response + in flight)".into(),
            header: vec!["".into(), "identities".into(), "adds up".into()],
            rows,
        })
    }
}

/// Figures `blast api` reports, for checking `--sla` names before a run: the run's, then each
/// name's as `NAME:FIGURE` (`GET /v1/conversations:p95`).
pub fn metric_names(names: &[NamedRequest]) -> Vec<String> {
    let mut all = metrics::names(&["", "service_"], &["errors", "success", "rate", "rps", "send_lag_p99"]);
    for n in names.iter().filter(|_| names.len() > 1) {
        let prefix = format!("{}:", n.name);
        all.extend(metrics::names(&[&prefix], &[]));
        all.extend(NAME_FIGURES.iter().map(|f| format!("{prefix}{f}")));
    }
    all
}

/// Bytes as MB (10^6) with two decimals, or as bytes under 10 kB.
fn mb_text(bytes: u64) -> String {
    if bytes < 10_000 {
        format!("{bytes} B")
    } else {
        format!("{:.2} MB", bytes as f64 / 1e6)
    }
}

/// Figures of each name besides its latency percentiles (`mbps`: MB/s sent and received).
const NAME_FIGURES: [&str; 5] = ["errors", "success", "rps", "share", "mbps"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_waiting_request_is_not_a_finding() {
        // 100/s over 100 connections, one request waited once: no "all connections were busy".
        assert!(!waited_for_connections(1, 5.0, 1.2));
        assert!(waited_for_connections(2, 5.0, 1.2));
        assert!(!waited_for_connections(50, 0.5, 1.2), "a short wait is within blast's own limit");
    }
}
