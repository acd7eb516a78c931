//! The raw measurements of a `blast upload` run: the upload tally (histograms and counters),
//! bytes per second, and the plan.

use super::{check_shards, from_unix_ns, unix_ns};
use crate::engine::compact::Deflated;
use crate::engine::series::SecondSeries;
use crate::report::upload::UploadPlanInfo;
use crate::workloads::upload::tally::UploadTally;
use crate::workloads::upload::UploadOutcome;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RawUploadTally {
    pub part: Deflated,
    /// Part latency per Unix second the part finished in.
    #[serde(default)]
    pub part_per_second: BTreeMap<u64, Deflated>,
    pub part_ttfb: Deflated,
    pub object: Deflated,
    pub create: Deflated,
    pub complete: Deflated,
    pub parts_ok: u64,
    pub parts_failed: u64,
    pub parts_over_objective: u64,
    pub retries: u64,
    pub uploads_started: u64,
    pub uploads_ok: u64,
    pub failures: BTreeMap<String, u64>,
    pub aborted: u64,
    pub abort_failed: u64,
    pub objects_verified: u64,
    pub objects_deleted: u64,
    pub bytes_acked: u64,
    pub checksum_ns: u64,
}

impl RawUploadTally {
    pub fn of(t: &UploadTally) -> Self {
        RawUploadTally {
            part: Deflated::of(&t.part),
            part_per_second: t.part_per_second.to_seconds(),
            part_ttfb: Deflated::of(&t.part_ttfb),
            object: Deflated::of(&t.object),
            create: Deflated::of(&t.create),
            complete: Deflated::of(&t.complete),
            parts_ok: t.parts_ok,
            parts_failed: t.parts_failed,
            parts_over_objective: t.parts_over_objective,
            retries: t.retries,
            uploads_started: t.uploads_started,
            uploads_ok: t.uploads_ok,
            failures: t.failures.clone(),
            aborted: t.aborted,
            abort_failed: t.abort_failed,
            objects_verified: t.objects_verified,
            objects_deleted: t.objects_deleted,
            bytes_acked: t.bytes_acked,
            checksum_ns: t.checksum_time.as_nanos() as u64,
        }
    }

    pub fn tally(&self) -> Result<UploadTally, String> {
        let mut t = UploadTally::default();
        for (into, from) in [
            (&mut t.part, &self.part),
            (&mut t.part_ttfb, &self.part_ttfb),
            (&mut t.object, &self.object),
            (&mut t.create, &self.create),
            (&mut t.complete, &self.complete),
        ] {
            from.add_into(into)?;
        }
        t.part_per_second = SecondSeries::from_seconds(self.part_per_second.clone());
        t.parts_ok = self.parts_ok;
        t.parts_failed = self.parts_failed;
        t.parts_over_objective = self.parts_over_objective;
        t.retries = self.retries;
        t.uploads_started = self.uploads_started;
        t.uploads_ok = self.uploads_ok;
        t.failures = self.failures.clone();
        t.aborted = self.aborted;
        t.abort_failed = self.abort_failed;
        t.objects_verified = self.objects_verified;
        t.objects_deleted = self.objects_deleted;
        t.bytes_acked = self.bytes_acked;
        t.checksum_time = Duration::from_nanos(self.checksum_ns);
        Ok(t)
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
    pub pool_bytes: usize,
    pub peak_rss_mib: f64,
    /// Bytes sent in each second since this process's start.
    pub timeline: Vec<u64>,
    pub tally: RawUploadTally,
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
            pool_bytes: out.pool_bytes,
            peak_rss_mib,
            timeline: out.timeline.clone(),
            tally: RawUploadTally::of(&out.tally),
        }
    }
}

/// An upload run rebuilt from its shards' raw measurements.
pub struct MergedUpload {
    pub target: String,
    pub plan: UploadPlanInfo,
    pub outcome: UploadOutcome,
    /// The largest shard's peak RSS.
    pub peak_rss_mib: f64,
}

/// Merges the shards of one upload run: tallies add, the run lasts from the first shard's start
/// to the last shard's end, and bytes per second add second by second on that common clock.
pub fn merge(shards: &[RawUpload]) -> Result<MergedUpload, String> {
    let first = shards.first().ok_or("nothing to merge")?;
    for s in shards {
        let mut p = s.plan.clone();
        p.cores = first.plan.cores;
        p.shard = first.plan.shard.clone();
        if p != first.plan || s.target != first.target {
            return Err("the reports are not shards of the same run (target, size, parts, parallel, uploads or duration differ)".into());
        }
    }
    check_shards(&shards.iter().map(|s| s.shard).collect::<Vec<_>>())?;
    let start = shards.iter().map(|s| s.started_at_unix_ns).min().unwrap_or(0);
    let end = shards.iter().map(|s| s.started_at_unix_ns + s.elapsed_ns).max().unwrap_or(0);
    let latest = shards.iter().map(|s| s.started_at_unix_ns).max().unwrap_or(0);
    if latest - start > 3_600_000_000_000 {
        return Err("the shards started more than an hour apart: they are not one run (use --start-at)".into());
    }
    let mut tally = UploadTally::default();
    let mut timeline: Vec<u64> = Vec::new();
    for s in shards {
        tally.merge(s.tally.tally()?);
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
    let mut plan = first.plan.clone();
    plan.cores = shards.iter().map(|s| s.plan.cores).sum();
    plan.shard = None;
    Ok(MergedUpload {
        target: first.target.clone(),
        plan,
        outcome: UploadOutcome {
            tally,
            timeline,
            elapsed: Duration::from_nanos(end - start),
            started_at: from_unix_ns(start),
            bucket,
            pool_bytes: shards.iter().map(|s| s.pool_bytes).max().unwrap_or(0),
            interrupted: shards.iter().any(|s| s.interrupted),
            pinned: shards.iter().map(|s| s.pinned).sum(),
        },
        peak_rss_mib: shards.iter().map(|s| s.peak_rss_mib).fold(0.0, f64::max),
    })
}
