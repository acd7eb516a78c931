//! The raw measurements of a `blast ws` run: connection counters, histograms, and the records
//! the delivery accounting is done on (probes sent, memberships in time, deliveries per probe).
//! Shards are merged before the accounting, so a probe published by shard 0 is expected on
//! every shard's subscribers and counted exactly once.

use super::{check_shards, from_unix_ns, unix_ns};
use crate::engine::compact::Deflated;
use crate::engine::series::SecondSeries;
use crate::report::ws::WsPlanInfo;
use crate::workloads::ws::tally::{Membership, ProbeSent, WsTally};
use crate::workloads::ws::WsOutcome;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RawWsTally {
    pub connect: Deflated,
    pub delivery: Deflated,
    /// Deliveries per Unix second of receipt.
    #[serde(default)]
    pub delivery_per_second: BTreeMap<u64, Deflated>,
    pub heartbeat_rtt: Deflated,
    pub attempted: u64,
    pub established: u64,
    pub failed: BTreeMap<String, u64>,
    pub dropped: u64,
    pub reconnects: u64,
    pub heartbeats_sent: u64,
    pub heartbeats_answered: u64,
    pub messages_received: u64,
    pub duplicates: u64,
    /// Probe id -> [deliveries, slowest delivery in µs].
    pub per_probe: BTreeMap<u64, [u64; 2]>,
    pub memberships: Vec<Membership>,
    pub probes: Vec<ProbeSent>,
    pub probe_failures: u64,
    pub open_peak: u64,
}

impl RawWsTally {
    pub fn of(t: &WsTally) -> Self {
        RawWsTally {
            connect: Deflated::of(&t.connect),
            delivery: Deflated::of(&t.delivery),
            delivery_per_second: t.delivery_per_second.to_seconds(),
            heartbeat_rtt: Deflated::of(&t.heartbeat_rtt),
            attempted: t.attempted,
            established: t.established,
            failed: t.failed.clone(),
            dropped: t.dropped,
            reconnects: t.reconnects,
            heartbeats_sent: t.heartbeats_sent,
            heartbeats_answered: t.heartbeats_answered,
            messages_received: t.messages_received,
            duplicates: t.duplicates,
            per_probe: t.per_probe.iter().map(|(&id, &(n, max))| (id, [n, max])).collect(),
            memberships: t.memberships.clone(),
            probes: t.probes.clone(),
            probe_failures: t.probe_failures,
            open_peak: t.open_peak,
        }
    }

    pub fn tally(&self) -> Result<WsTally, String> {
        let mut t = WsTally::default();
        self.connect.add_into(&mut t.connect)?;
        self.delivery.add_into(&mut t.delivery)?;
        t.delivery_per_second = SecondSeries::from_seconds(self.delivery_per_second.clone());
        self.heartbeat_rtt.add_into(&mut t.heartbeat_rtt)?;
        t.attempted = self.attempted;
        t.established = self.established;
        t.failed = self.failed.clone();
        t.dropped = self.dropped;
        t.reconnects = self.reconnects;
        t.heartbeats_sent = self.heartbeats_sent;
        t.heartbeats_answered = self.heartbeats_answered;
        t.messages_received = self.messages_received;
        t.duplicates = self.duplicates;
        t.per_probe = self.per_probe.iter().map(|(&id, &[n, max])| (id, (n, max))).collect();
        t.memberships = self.memberships.clone();
        t.probes = self.probes.clone();
        t.probe_failures = self.probe_failures;
        t.open_peak = self.open_peak;
        Ok(t)
    }
}

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
    pub tally: RawWsTally,
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
pub fn merge(shards: &[RawWs]) -> Result<MergedWs, String> {
    let first = shards.first().ok_or("nothing to merge")?;
    for s in shards {
        let mut p = s.plan.clone();
        p.cores = first.plan.cores;
        p.shard = first.plan.shard.clone();
        if p != first.plan || s.target != first.target {
            return Err("the reports are not shards of the same run (target, connections, rate, rooms, probes or duration differ)".into());
        }
    }
    check_shards(&shards.iter().map(|s| s.shard).collect::<Vec<_>>())?;
    let mut tally = WsTally::default();
    for s in shards {
        tally.merge(s.tally.tally()?);
    }
    // The hold is the publisher's (shard 0): the others stay a little longer on purpose.
    let publisher = shards.iter().find(|s| s.shard.0 == 0).unwrap_or(first);
    let started = shards.iter().map(|s| s.started_at_unix_ns).min().unwrap_or(0);
    let mut plan = first.plan.clone();
    plan.cores = shards.iter().map(|s| s.plan.cores).sum();
    plan.shard = None;
    Ok(MergedWs {
        target: first.target.clone(),
        plan,
        planned: shards.iter().map(|s| s.planned).sum(),
        outcome: WsOutcome {
            tally,
            ramp_secs: shards.iter().map(|s| s.ramp_secs).fold(0.0, f64::max),
            hold_secs: publisher.hold_secs,
            interrupted: shards.iter().any(|s| s.interrupted),
            pinned: shards.iter().map(|s| s.pinned).sum(),
            started_at: from_unix_ns(started),
        },
        peak_rss_mib: shards.iter().map(|s| s.peak_rss_mib).fold(0.0, f64::max),
    })
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
            tally: RawWsTally::of(&run.tally),
        }
    }
}
