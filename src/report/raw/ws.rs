//! The raw measurements of a `blast ws` run: connection counters, histograms, and the records
//! the delivery accounting is done on (probes sent, memberships in time, deliveries per probe).
//! Shards are merged before the accounting, so a probe published by shard 0 is expected on
//! every shard's subscribers and counted exactly once.

use super::{from_unix_ns, one_run, unix_ns};
use crate::report::ws::WsPlanInfo;
use crate::workloads::ws::tally::WsTally;
use crate::workloads::ws::WsOutcome;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RawWs {
    pub target: String,
    pub plan: WsPlanInfo,
    /// (index, count); (0, 1) for a whole run.
    pub shard: (u32, u32),
    /// Connections this process was to open.
    pub planned: u64,
    pub started_at_unix_ns: u64,
    pub ramp_secs: f64,
    pub hold_secs: f64,
    pub interrupted: bool,
    pub pinned: usize,
    pub peak_rss_mib: f64,
    /// Counters, histograms and the delivery records.
    pub tally: WsTally,
}

/// A ws run rebuilt from its shards' raw measurements.
pub struct MergedWs {
    pub target: String,
    pub plan: WsPlanInfo,
    pub planned: u64,
    pub outcome: WsOutcome,
    /// The largest shard's peak RSS.
    pub peak_rss_mib: f64,
}

/// Merges the shards of one ws run into the outcome a single run would have had; the delivery
/// accounting then runs on the union of every shard's probes, memberships and deliveries.
pub fn merge(shards: Vec<RawWs>) -> Result<MergedWs, String> {
    let first = one_run(
        &shards,
        |s| (s.target.clone(), WsPlanInfo { cores: 0, shard: None, ..s.plan.clone() }),
        |s| s.shard,
        "target, connections, rate, rooms, probes or duration",
    )?;
    // The hold is the publisher's (shard 0): the others stay a little longer on purpose.
    let hold_secs = shards.iter().find(|s| s.shard.0 == 0).unwrap_or(first).hold_secs;
    let started = shards.iter().map(|s| s.started_at_unix_ns).min().unwrap_or(0);
    let plan = WsPlanInfo { cores: shards.iter().map(|s| s.plan.cores).sum(), shard: None, ..first.plan.clone() };
    let mut merged = MergedWs {
        target: first.target.clone(),
        plan,
        planned: shards.iter().map(|s| s.planned).sum(),
        outcome: WsOutcome {
            tally: WsTally::default(),
            ramp_secs: shards.iter().map(|s| s.ramp_secs).fold(0.0, f64::max),
            hold_secs,
            interrupted: shards.iter().any(|s| s.interrupted),
            pinned: shards.iter().map(|s| s.pinned).sum(),
            started_at: from_unix_ns(started),
        },
        peak_rss_mib: shards.iter().map(|s| s.peak_rss_mib).fold(0.0, f64::max),
    };
    for s in shards {
        merged.outcome.tally.merge(s.tally);
    }
    Ok(merged)
}

impl RawWs {
    pub fn of(target: &str, plan: &WsPlanInfo, shard: (u32, u32), planned: u64, run: &WsOutcome, rss: f64) -> Self {
        RawWs {
            target: target.to_string(),
            plan: plan.clone(),
            shard,
            planned,
            started_at_unix_ns: unix_ns(run.started_at),
            ramp_secs: run.ramp_secs,
            hold_secs: run.hold_secs,
            interrupted: run.interrupted,
            pinned: run.pinned,
            peak_rss_mib: rss,
            tally: run.tally.clone(),
        }
    }
}
