//! The raw measurements of a `blast upload` run (`RawUpload`, a JSON report's `raw`, what
//! `blast merge` reads back): the upload tally (histograms and counters),
//! bytes per second, and the plan as reports show it (`UploadPlanInfo`).

use super::tally::UploadTally;
use super::{UploadOutcome, UploadPlan};
use crate::engine::cpu::RunCpu;
use crate::engine::raw::unix_ns;
use serde::{Deserialize, Serialize};

/// The plan as reports show it; `parallel` and `uploads` are the whole run's even in a shard's
/// report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UploadPlanInfo {
    pub size_bytes: u64,
    pub part_size_bytes: u64,
    pub parts_per_object: u64,
    pub parallel: usize,
    pub part_concurrency: usize,
    pub uploads: Option<u64>,
    pub duration_s: Option<f64>,
    pub cores: usize,
    pub verify: bool,
    pub retries: u32,
    /// A part slower than this (for a full-size part) misses the objective.
    pub part_objective_s: f64,
    /// `I/N` when this run is one shard of a larger one.
    pub shard: Option<String>,
}

impl UploadPlanInfo {
    pub fn of(plan: &UploadPlan) -> Self {
        UploadPlanInfo {
            size_bytes: plan.size,
            part_size_bytes: plan.part_size,
            parts_per_object: plan.parts_per_object(),
            parallel: plan.parallel,
            part_concurrency: plan.part_concurrency,
            uploads: plan.uploads,
            duration_s: plan.duration.map(|d| d.as_secs_f64()),
            cores: plan.cores,
            verify: plan.verify,
            retries: plan.retries,
            part_objective_s: plan.part_objective.as_secs_f64(),
            shard: (plan.shard.1 > 1).then(|| format!("{}/{}", plan.shard.0, plan.shard.1)),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RawUpload {
    pub target: String,
    pub plan: UploadPlanInfo,
    /// (index, count); (0, 1) for a whole run.
    pub shard: (u32, u32),
    pub started_at_unix_ns: u64,
    pub elapsed_ns: u64,
    pub interrupted: bool,
    pub pinned: usize,
    pub bucket: String,
    /// Why the run stopped at its first S3 call, before any upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    pub pool_bytes: usize,
    pub peak_rss_mib: f64,
    /// Bytes sent in each second since this process's start.
    pub timeline: Vec<u64>,
    pub tally: UploadTally,
    /// blast's own CPU, each worker core second by second (absent in reports of earlier
    /// versions: their merge reports no CPU).
    #[serde(default, skip_serializing_if = "RunCpu::is_empty")]
    pub cpu: RunCpu,
}

impl RawUpload {
    pub fn of(target: &str, plan: &UploadPlanInfo, shard: (u32, u32), out: &UploadOutcome, peak_rss_mib: f64) -> Self {
        RawUpload {
            target: target.to_string(),
            plan: plan.clone(),
            shard,
            started_at_unix_ns: unix_ns(out.started_at),
            elapsed_ns: out.elapsed.as_nanos() as u64,
            interrupted: out.interrupted,
            pinned: out.pinned,
            bucket: out.bucket.clone(),
            stopped: out.stopped.clone(),
            pool_bytes: out.pool_bytes,
            peak_rss_mib,
            timeline: out.timeline.clone(),
            tally: out.tally.clone(),
            cpu: out.cpu.clone(),
        }
    }
}
