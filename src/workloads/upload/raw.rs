//! The raw measurements of a `blast upload` run (`RawUpload`, a JSON report's `raw`, what
//! `blast merge` reads back): the upload tally (histograms and counters),
//! bytes per second, and the plan as reports show it (`UploadPlanInfo`); shards merged into one
//! run (`merge`).

use super::tally::UploadTally;
use super::{UploadOutcome, UploadPlan};
use crate::civil_time::unix_ns;
use crate::engine::cpu::RunCpu;
use crate::engine::shard::{one_run, Shard};
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
            shard: plan.shard.is_split().then(|| plan.shard.to_string()),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RawUpload {
    pub target: String,
    pub plan: UploadPlanInfo,
    /// (index, count); (0, 1) for a whole run.
    pub shard: crate::engine::Shard,
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
    pub fn of(
        target: &str,
        plan: &UploadPlanInfo,
        shard: crate::engine::Shard,
        out: &UploadOutcome,
        peak_rss_mib: f64,
    ) -> Self {
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

/// Merges the shards of one upload run: tallies add, the run lasts from the first shard's start
/// to the last shard's end, and bytes per second add second by second on that common clock.
pub fn merge(shards: Vec<RawUpload>) -> Result<RawUpload, String> {
    let first = one_run(
        &shards,
        |s| (s.target.clone(), UploadPlanInfo { cores: 0, shard: None, ..s.plan.clone() }),
        |s| s.shard,
        "target, size, parts, parallel, uploads or duration",
    )?;
    let start = shards.iter().map(|s| s.started_at_unix_ns).min().unwrap_or(0);
    let end = shards.iter().map(|s| s.started_at_unix_ns + s.elapsed_ns).max().unwrap_or(0);
    let latest = shards.iter().map(|s| s.started_at_unix_ns).max().unwrap_or(0);
    if latest - start > 3_600_000_000_000 {
        return Err("the shards started more than an hour apart: they are not one run (use --start-at)".into());
    }
    let mut timeline: Vec<u64> = Vec::new();
    for s in &shards {
        // Second k of a shard that started d seconds after the first one is second k + d.
        let shift = ((s.started_at_unix_ns - start) as f64 / 1e9).round() as usize;
        if timeline.len() < shift + s.timeline.len() {
            timeline.resize(shift + s.timeline.len(), 0);
        }
        for (k, &b) in s.timeline.iter().enumerate() {
            timeline[shift + k] += b;
        }
    }
    // A failed bucket creation is what the report must show; else "created" if any shard did.
    let bucket = shards
        .iter()
        .map(|s| s.bucket.as_str())
        .find(|b| *b != "created" && *b != "exists")
        .or_else(|| shards.iter().map(|s| s.bucket.as_str()).find(|b| *b == "created"))
        .unwrap_or("exists")
        .to_string();
    let plan = UploadPlanInfo { cores: shards.iter().map(|s| s.plan.cores).sum(), shard: None, ..first.plan.clone() };
    let mut merged = RawUpload {
        target: first.target.clone(),
        plan,
        shard: Shard::WHOLE,
        started_at_unix_ns: start,
        elapsed_ns: end - start,
        interrupted: shards.iter().any(|s| s.interrupted),
        pinned: shards.iter().map(|s| s.pinned).sum(),
        bucket,
        stopped: shards.iter().find_map(|s| s.stopped.clone()),
        pool_bytes: shards.iter().map(|s| s.pool_bytes).max().unwrap_or(0),
        // The largest shard's peak RSS.
        peak_rss_mib: shards.iter().map(|s| s.peak_rss_mib).fold(0.0, f64::max),
        timeline,
        tally: UploadTally::default(),
        cpu: RunCpu::of_shard_reports(shards.iter().map(|s| (s.shard, &s.cpu))),
    };
    for s in shards {
        merged.tally.merge(s.tally);
    }
    Ok(merged)
}
