//! A run's raw measurements (`RawRun`), the form a JSON report carries them in (`raw`) and
//! `blast merge` reads them back from: every histogram (HdrHistogram V2, deflated, base64:
//! `compact`) and counter, per second and in total, and the plan. Merging shards from them is
//! exact: histograms add bucket by bucket, counters add, nothing is averaged. The ws and upload
//! workloads keep theirs beside their tallies (`workloads::ws::raw`, `workloads::upload::raw`).

use crate::engine::compact::{CompactBeyondTarget, CompactRecorder};
use crate::engine::cpu::RunCpu;
use crate::engine::pacer::Arrival;
use crate::engine::plan::Plan;
use crate::engine::run::RunOutcome;
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub fn unix_ns(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

pub fn from_unix_ns(ns: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(ns)
}

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
            beyond_target: run.total.beyond_target.as_deref().map(CompactBeyondTarget::of),
            cpu: run.cpu.clone(),
        }
    }
}
