//! An api run's raw measurements (`RawRun`), the form a JSON report carries them in (`raw`) and
//! `blast merge` reads them back from: every histogram (HdrHistogram V2, deflated, base64:
//! `compact`) and counter, per second and in total, and the plan. Merging shards from them is
//! exact: histograms add bucket by bucket, counters add, nothing is averaged. The ws and upload
//! workloads keep theirs beside their tallies (`workloads::ws::raw`, `workloads::upload::raw`).

use crate::civil_time::{from_unix_ns, unix_ns};
use crate::engine::compact::{CompactBeyondTarget, CompactRecorder};
use crate::engine::cpu::RunCpu;
use crate::engine::pacer::Arrival;
use crate::engine::plan::{Plan, Schedule};
use crate::engine::recorder::Recorder;
use crate::engine::run::RunOutcome;
use crate::engine::shape::Shape;
use crate::engine::shard::{one_run, Shard};
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
    pub shard: Shard,
    /// The wake-up window (`--coalesce`); absent in reports of earlier versions.
    #[serde(default)]
    pub coalesce_ns: u64,
    /// What `--tags`/`--exclude-tags` chose and which names ran (absent without them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<String>,
}

impl RawPlan {
    pub fn of(plan: &Plan) -> Self {
        RawPlan {
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
            coalesce_ns: plan.coalesce.as_nanos() as u64,
            tags: None,
        }
    }

    pub fn duration(&self) -> Duration {
        Duration::from_nanos(self.duration_ns)
    }

    pub fn warmup(&self) -> Duration {
        Duration::from_nanos(self.warmup_ns)
    }

    /// The load shape of `--stages`, parsed again (it was checked when the run was planned).
    pub fn shape(&self) -> Option<Shape> {
        self.stages.as_deref().and_then(|spec| Shape::parse(spec).ok())
    }

    /// What the run scheduled, with its shape (`shape()`).
    pub fn schedule<'a>(&self, shape: Option<&'a Shape>) -> Schedule<'a> {
        Schedule {
            rate: self.rate,
            shape,
            arrival: self.arrival,
            end: self.warmup() + self.duration(),
            shard: self.shard,
        }
    }
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
    /// Seconds to the end of the last measured request (absent in reports of earlier versions).
    #[serde(default)]
    pub response_secs: f64,
    /// The recorders count where every request ended up (absent, false, in reports of earlier
    /// versions).
    #[serde(default)]
    pub accounted: bool,
    pub interrupted: bool,
    pub pinned: usize,
    pub preconnect_failed: u64,
    pub total: CompactRecorder,
    pub timeline: Vec<CompactRecorder>,
    /// `total`'s time beyond what the target reported for itself (absent: the target reported
    /// none, or a report of an earlier version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beyond_target: Option<CompactBeyondTarget>,
    /// blast's own CPU, each worker core second by second (absent in reports of earlier
    /// versions: their merge reports no CPU).
    #[serde(default, skip_serializing_if = "RunCpu::is_empty")]
    pub cpu: RunCpu,
}

impl RawRun {
    pub fn of(plan: &RawPlan, run: &RunOutcome, names: &[NamedRequest]) -> Self {
        RawRun {
            names: names.to_vec(),
            plan: plan.clone(),
            started_at_unix_ns: unix_ns(run.started_at),
            measured_secs: run.measured_secs,
            send_secs: run.send_secs,
            response_secs: run.response_secs,
            accounted: run.accounted,
            interrupted: run.interrupted,
            pinned: run.pinned,
            preconnect_failed: run.preconnect_failed,
            total: CompactRecorder::of(&run.total),
            timeline: run.timeline.clone(),
            beyond_target: run.total.beyond_target.as_deref().map(CompactBeyondTarget::of),
            cpu: run.cpu.clone(),
        }
    }
}

/// Merges the shards of one run into the plan and outcome a single run would have had.
pub fn merge(shards: &[RawRun]) -> Result<(RawPlan, RunOutcome, Vec<NamedRequest>), String> {
    let first = one_run(
        shards,
        |s| (RawPlan { shard: Shard::WHOLE, cores: 0, conns: 0, max_queue: 0, ..s.plan.clone() }, s.names.clone()),
        |s| s.plan.shard,
        "rate, stages, duration, warm-up, arrival, seed, timeout or request names",
    )?;
    let mut total = Recorder::new();
    for s in shards {
        let mut shard = s.total.expand()?;
        shard.beyond_target = s.beyond_target.as_ref().map(|b| b.expand().map(Box::new)).transpose()?;
        total.merge(&shard);
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
    let plan = RawPlan {
        cores: shards.iter().map(|s| s.plan.cores).sum(),
        conns: shards.iter().map(|s| s.plan.conns).sum(),
        max_queue: shards.iter().map(|s| s.plan.max_queue).sum(),
        shard: Shard::WHOLE,
        ..first.plan.clone()
    };
    let started = shards.iter().map(|s| s.started_at_unix_ns).min().unwrap_or(0);
    let outcome = RunOutcome {
        total,
        timeline,
        started_at: from_unix_ns(started),
        measured_secs: shards.iter().map(|s| s.measured_secs).fold(0.0, f64::max),
        send_secs: shards.iter().map(|s| s.send_secs).fold(0.0, f64::max),
        response_secs: shards.iter().map(|s| s.response_secs).fold(0.0, f64::max),
        accounted: shards.iter().all(|s| s.accounted),
        interrupted: shards.iter().any(|s| s.interrupted),
        pinned: shards.iter().map(|s| s.pinned).sum(),
        preconnect_failed: shards.iter().map(|s| s.preconnect_failed).sum(),
        preconnect_error: None,
        unreachable: false,
        io: "merged shards".into(),
        io_refused: None,
        cpu: RunCpu::of_shard_reports(shards.iter().map(|s| (s.plan.shard, &s.cpu))),
    };
    Ok((plan, outcome, first.names.clone()))
}
