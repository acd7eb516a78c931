//! The figures of one run, computed once from the merged recorders. Every output format
//! (terminal, JSON, later CSV/HTML) renders this, so they cannot disagree.

use crate::engine::recorder::{ErrorKind, Recorder};
use crate::engine::{Plan, RunOutcome};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::UNIX_EPOCH;

/// Dispatch lag p99 above which blast itself is reported as the bottleneck.
pub const GENERATOR_LAG_LIMIT_MS: f64 = 1.0;
/// Achieved rate below this share of the target is reported.
pub const RATE_SHORTFALL: f64 = 0.99;

/// Percentiles of one histogram, in milliseconds.
#[derive(Clone, Debug, Serialize, PartialEq)]
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
        let ms = |us: u64| us as f64 / 1000.0;
        if h.is_empty() {
            return Percentiles {
                count: 0,
                min: 0.0,
                mean: 0.0,
                p50: 0.0,
                p66: 0.0,
                p75: 0.0,
                p80: 0.0,
                p90: 0.0,
                p95: 0.0,
                p98: 0.0,
                p99: 0.0,
                p99_9: 0.0,
                p99_99: 0.0,
                max: 0.0,
            };
        }
        Percentiles {
            count: h.len(),
            min: ms(h.min()),
            mean: h.mean() / 1000.0,
            p50: ms(h.value_at_quantile(0.50)),
            p66: ms(h.value_at_quantile(0.66)),
            p75: ms(h.value_at_quantile(0.75)),
            p80: ms(h.value_at_quantile(0.80)),
            p90: ms(h.value_at_quantile(0.90)),
            p95: ms(h.value_at_quantile(0.95)),
            p98: ms(h.value_at_quantile(0.98)),
            p99: ms(h.value_at_quantile(0.99)),
            p99_9: ms(h.value_at_quantile(0.999)),
            p99_99: ms(h.value_at_quantile(0.9999)),
            max: ms(h.max()),
        }
    }
}

/// The plan as the user asked for it.
#[derive(Clone, Debug, Serialize)]
pub struct PlanInfo {
    /// Requests per second (with stages: the peak).
    pub rate: f64,
    /// The load shape, when the rate varies (`--stages`).
    pub stages: Option<String>,
    /// Wake-up coalescing window, µs (requests may leave up to this late, on purpose).
    pub coalesce_us: f64,
    /// `I/N` (I from 0) when this run is one shard of a larger one (rates above are the whole run's).
    pub shard: Option<String>,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub arrival: crate::engine::Arrival,
    pub cores: usize,
    pub conns: usize,
    pub max_queue: usize,
    pub timeout_ms: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Requests {
    /// Requests the schedule asked for in the measured window.
    pub scheduled: u64,
    /// Written to the wire.
    pub sent: u64,
    /// Got a complete response, any status.
    pub completed: u64,
    /// Completed with a 1xx-3xx status.
    pub ok: u64,
    /// Errors of any kind plus 4xx/5xx responses.
    pub failed: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Connections {
    pub opened: u64,
    pub failed: u64,
    /// Failed while opening the pool before the start.
    pub failed_at_start: u64,
}

/// One second of the run.
#[derive(Clone, Debug, Serialize)]
pub struct Second {
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
}

/// Everything a report shows.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub workload: String,
    pub target: String,
    pub started_at_unix: f64,
    pub plan: PlanInfo,
    /// Seconds actually measured (shorter than planned when interrupted).
    pub measured_s: f64,
    pub interrupted: bool,
    pub requests: Requests,
    /// Sent per second of measured time.
    pub achieved_rate: f64,
    /// achieved_rate / plan.rate.
    pub rate_ratio: f64,
    /// Completed per second of measured time.
    pub throughput_rps: f64,
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
    pub connections: Connections,
    /// Most requests that waited at once on one core for a free connection.
    pub queue_peak: u64,
    pub bytes_out: u64,
    pub bytes_in: u64,
    pub warnings: Vec<String>,
    pub timeline: Vec<Second>,
    /// Request method and path (the CSV's Type and Name).
    pub method: String,
    pub path: String,
    /// Per second, with cumulative figures (for `_stats_history.csv`).
    #[serde(skip)]
    pub history: Vec<crate::report::csv::HistoryRow>,
    /// Every histogram and counter, for exact merging of shards (`blast merge`).
    pub raw: crate::report::raw::api::RawRun,
}

impl Summary {
    pub fn build(workload: &str, target: &str, method: &str, plan: &Plan, run: &RunOutcome) -> Summary {
        let t = &run.total;
        let failed_status = t.codes_in(400, 999) + t.codes[0];
        let errors_total = t.total_errors();
        let measured = run.measured_secs.max(1e-9);
        // Sent over the time sending really took: a run that fell behind and caught up after
        // the schedule ended did not achieve the planned rate.
        let achieved_rate = t.sent as f64 / measured.max(run.send_secs);
        let warmup = plan.warmup.as_secs_f64();
        let scheduled = plan.scheduled_between(warmup, warmup + run.measured_secs).round();
        let mut status_codes = BTreeMap::new();
        for (code, &n) in t.codes.iter().enumerate() {
            if n > 0 {
                let key = if code == 0 { "other".to_string() } else { code.to_string() };
                status_codes.insert(key, n);
            }
        }
        let mut errors = BTreeMap::new();
        for kind in ErrorKind::ALL {
            let n = t.errors_of(kind);
            if n > 0 {
                errors.insert(kind.name().to_string(), n);
            }
        }
        let mut s = Summary {
            workload: workload.to_string(),
            target: target.to_string(),
            started_at_unix: run.started_at.duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64()),
            plan: PlanInfo {
                rate: plan.rate,
                stages: plan.stages_spec.clone(),
                coalesce_us: plan.coalesce.as_secs_f64() * 1e6,
                shard: (plan.shard.1 > 1).then(|| format!("{}/{}", plan.shard.0, plan.shard.1)),
                duration_s: plan.duration.as_secs_f64(),
                warmup_s: plan.warmup.as_secs_f64(),
                arrival: plan.arrival,
                cores: plan.cores,
                conns: plan.conns,
                max_queue: plan.max_queue,
                timeout_ms: plan.timeout.as_secs_f64() * 1000.0,
            },
            measured_s: run.measured_secs,
            interrupted: run.interrupted,
            requests: Requests {
                scheduled: scheduled as u64,
                sent: t.sent,
                completed: t.completed,
                ok: t.codes_in(100, 399),
                failed: errors_total + failed_status,
            },
            achieved_rate,
            // Constant rate: achieved over planned. A shape has no single rate: sent over due,
            // with the same penalty when sending ran past the schedule.
            rate_ratio: match &plan.shape {
                None => achieved_rate / plan.own_rate(),
                Some(_) => t.sent as f64 / scheduled.max(1.0) * (measured / measured.max(run.send_secs)),
            },
            throughput_rps: t.completed as f64 / measured,
            status_codes,
            errors,
            latency_ms: Percentiles::of(&t.latency),
            service_ms: Percentiles::of(&t.service),
            send_lag_ms: Percentiles::of(&t.send_lag),
            dispatch_lag_ms: Percentiles::of(&t.dispatch_lag),
            connect_ms: Percentiles::of(&t.connect),
            connections: Connections {
                opened: t.connects_ok,
                failed: t.connects_failed,
                failed_at_start: run.preconnect_failed,
            },
            queue_peak: t.queue_peak,
            bytes_out: t.bytes_out,
            bytes_in: t.bytes_in,
            warnings: Vec::new(),
            timeline: Vec::new(),
            method: method.to_string(),
            path: target
                .split_once("://")
                .and_then(|(_, r)| r.find('/').map(|i| r[i..].to_string()))
                .unwrap_or("/".into()),
            history: Vec::new(),
            raw: crate::report::raw::api::RawRun::of(plan, run),
        };
        (s.timeline, s.history) = per_second(&s, plan, run);
        s.warnings = warnings(&s, run);
        s
    }
}

fn second(second: u64, r: &Recorder) -> Second {
    let p = Percentiles::of(&r.latency);
    Second {
        second,
        sent: r.sent,
        completed: r.completed,
        failed: r.total_errors() + r.codes_in(400, 999) + r.codes[0],
        p50_ms: p.p50,
        p99_ms: p.p99,
        max_ms: p.max,
        latency_ms: p,
    }
}

/// Each second's figures, and the Locust-style history: each second's figures and the
/// cumulative ones up to it. One pass, expanding one compacted second at a time.
fn per_second(s: &Summary, plan: &Plan, run: &RunOutcome) -> (Vec<Second>, Vec<crate::report::csv::HistoryRow>) {
    use crate::report::csv::{HistoryRow, StatRow};
    let mut total = Recorder::new();
    let row = |r: &Recorder, secs: f64, s: &Summary| {
        let failed = r.total_errors() + r.codes_in(400, 999) + r.codes[0];
        StatRow {
            kind: s.method.clone(),
            name: s.path.clone(),
            requests: r.codes_in(100, 399) + failed,
            failures: failed,
            latency: Percentiles::of(&r.latency),
            avg_content_size: if r.completed == 0 { 0.0 } else { r.bytes_in as f64 / r.completed as f64 },
            secs,
        }
    };
    let mut seconds = Vec::with_capacity(run.timeline.len());
    let mut history = Vec::with_capacity(run.timeline.len());
    for (i, compact) in run.timeline.iter().enumerate() {
        let r = compact.expand_own();
        total.merge(&r);
        seconds.push(second(i as u64 + 1, &r));
        history.push(HistoryRow {
            timestamp: (s.started_at_unix as u64) + i as u64 + 1,
            users: plan.conns as u64,
            interval: row(&r, 1.0, s),
            total: row(&total, (i + 1) as f64, s),
        });
    }
    (seconds, history)
}

fn warnings(s: &Summary, run: &RunOutcome) -> Vec<String> {
    let mut w = Vec::new();
    let preconnect_tls = if run.preconnect_error == Some(ErrorKind::Tls) { run.preconnect_failed } else { 0 };
    let tls = run.total.errors_of(ErrorKind::Tls).max(preconnect_tls);
    if tls > 0 {
        w.push(crate::report::tls_warning(tls));
    }
    if run.preconnect_failed > 0 {
        let why = run.preconnect_error.map_or("unknown error", |k| k.name());
        w.push(format!(
            "{} of {} connections could not be opened before the start ({why})",
            run.preconnect_failed, s.plan.conns
        ));
    }
    // Coalescing delays slots on purpose by up to its window: only lag beyond that is blast's.
    let lag_limit = GENERATOR_LAG_LIMIT_MS + s.plan.coalesce_us / 1000.0;
    if s.dispatch_lag_ms.p99 > lag_limit {
        w.push(format!(
            "generator-bound: blast queued requests late (pacer lag p99 {:.2} ms > {:.2} ms): \
             the CPU blast runs on was saturated and the figures include blast's own delay; \
             use more --cores, a lower --rate, or a target on another machine",
            s.dispatch_lag_ms.p99, lag_limit
        ));
    }
    let dropped = s.errors.get(ErrorKind::Dropped.name()).copied().unwrap_or(0);
    if dropped > 0 {
        w.push(format!(
            "{dropped} requests dropped: all connections were busy and the queue (--max-queue {}) was full",
            s.plan.max_queue
        ));
    }
    if s.queue_peak > 0 && s.send_lag_ms.p99 > lag_limit && s.dispatch_lag_ms.p99 <= lag_limit {
        w.push(format!(
            "all connections were busy at times: up to {} requests waited for one (send lag p99 {:.2} ms, counted in latency); \
             raise --conns if the target should take more concurrency",
            s.queue_peak, s.send_lag_ms.p99
        ));
    }
    if !s.interrupted && s.rate_ratio < RATE_SHORTFALL {
        w.push(format!(
            "achieved {:.0} req/s, {:.1}% of the target {:.0} req/s",
            s.achieved_rate,
            s.rate_ratio * 100.0,
            s.plan.rate
        ));
    }
    if s.interrupted {
        w.push(format!("interrupted after {:.1} s of {:.1} s measured", s.measured_s, s.plan.duration_s));
    }
    w
}
