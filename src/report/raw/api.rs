//! The raw measurements of a `blast api` run: the engine's recorders per second and in total,
//! and the plan.

use super::{from_unix_ns, one_run, unix_ns};
use crate::engine::compact::CompactRecorder;
use crate::engine::recorder::Recorder;
use crate::engine::{Arrival, Plan, RunOutcome};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What `blast merge` needs of a plan.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RawPlan {
    pub rate: f64,
    pub stages: Option<String>,
    pub duration_ns: u64,
    pub warmup_ns: u64,
    pub arrival: Arrival,
    pub seed: u64,
    pub cores: usize,
    pub conns: usize,
    pub max_queue: usize,
    pub timeout_ns: u64,
    pub shard: (u32, u32),
}

/// A name the run recorded under (a request, a flow's step, a flow), in recorder row order.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct NamedRequest {
    pub name: String,
    /// The CSV's Type: the HTTP method, or `flow`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A flow's whole iterations: left out of `Aggregated`, which counts HTTP requests.
    pub flow: bool,
    /// The share of the arrivals planned for it (requests and flows, by weight); none for steps.
    pub planned_share: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RawRun {
    pub plan: RawPlan,
    /// The names `total.by_name` and the seconds' rows are recorded under (absent: one, the
    /// request of the flags).
    #[serde(default)]
    pub names: Vec<NamedRequest>,
    pub started_at_unix_ns: u64,
    pub measured_secs: f64,
    pub send_secs: f64,
    pub interrupted: bool,
    pub pinned: usize,
    pub preconnect_failed: u64,
    pub total: CompactRecorder,
    pub timeline: Vec<CompactRecorder>,
}

impl RawRun {
    pub fn of(plan: &Plan, run: &RunOutcome, names: &[NamedRequest]) -> Self {
        RawRun {
            names: names.to_vec(),
            plan: RawPlan {
                rate: plan.rate,
                stages: plan.stages_spec.clone(),
                duration_ns: plan.duration.as_nanos() as u64,
                warmup_ns: plan.warmup.as_nanos() as u64,
                arrival: plan.arrival,
                seed: plan.seed,
                cores: plan.cores,
                conns: plan.conns,
                max_queue: plan.max_queue,
                timeout_ns: plan.timeout.as_nanos() as u64,
                shard: plan.shard,
            },
            started_at_unix_ns: unix_ns(run.started_at),
            measured_secs: run.measured_secs,
            send_secs: run.send_secs,
            interrupted: run.interrupted,
            pinned: run.pinned,
            preconnect_failed: run.preconnect_failed,
            total: CompactRecorder::of(&run.total),
            timeline: run.timeline.clone(),
        }
    }
}

/// Merges the shards of one run into the plan and outcome a single run would have had.
pub fn merge(shards: &[RawRun]) -> Result<(Plan, RunOutcome, Vec<NamedRequest>), String> {
    let first = one_run(
        shards,
        |s| (RawPlan { shard: (0, 1), cores: 0, conns: 0, max_queue: 0, ..s.plan.clone() }, s.names.clone()),
        |s| s.plan.shard,
        "rate, stages, duration, warm-up, arrival, seed, timeout or request names",
    )?;
    let mut total = Recorder::new();
    for s in shards {
        total.merge(&s.total.expand()?);
    }
    // Second by second, so that only one full recorder is held at a time.
    let seconds = shards.iter().map(|s| s.timeline.len()).max().unwrap_or(0);
    let mut timeline = Vec::with_capacity(seconds);
    for i in 0..seconds {
        let mut second = Recorder::new();
        for s in shards.iter().filter_map(|s| s.timeline.get(i)) {
            second.merge(&s.expand()?);
        }
        timeline.push(CompactRecorder::of(&second));
    }
    let p = &first.plan;
    let shape = match &p.stages {
        Some(spec) => Some(std::sync::Arc::new(crate::engine::shape::Shape::parse(spec)?)),
        None => None,
    };
    let plan = Plan {
        rate: p.rate,
        shape,
        stages_spec: p.stages.clone(),
        duration: Duration::from_nanos(p.duration_ns),
        warmup: Duration::from_nanos(p.warmup_ns),
        arrival: p.arrival,
        seed: p.seed,
        cores: shards.iter().map(|s| s.plan.cores).sum(),
        conns: shards.iter().map(|s| s.plan.conns).sum(),
        max_queue: shards.iter().map(|s| s.plan.max_queue).sum(),
        timeout: Duration::from_nanos(p.timeout_ns),
        grace: Duration::from_secs(1),
        pin: true,
        shard: (0, 1),
        coalesce: Duration::ZERO,
        start_at: None,
        mix: std::sync::Arc::new(crate::engine::mix::Mix::new(&[1])),
        kind_rows: std::sync::Arc::new(vec![0]),
        rows: total.by_name.len(),
    };
    let started = shards.iter().map(|s| s.started_at_unix_ns).min().unwrap_or(0);
    let outcome = RunOutcome {
        total,
        timeline,
        started_at: from_unix_ns(started),
        measured_secs: shards.iter().map(|s| s.measured_secs).fold(0.0, f64::max),
        send_secs: shards.iter().map(|s| s.send_secs).fold(0.0, f64::max),
        interrupted: shards.iter().any(|s| s.interrupted),
        pinned: shards.iter().map(|s| s.pinned).sum(),
        preconnect_failed: shards.iter().map(|s| s.preconnect_failed).sum(),
        preconnect_error: None,
    };
    Ok((plan, outcome, first.names.clone()))
}
