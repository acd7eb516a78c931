//! The raw measurements of a `blast ws` run (`RawWs`, a JSON report's `raw`, what `blast merge`
//! reads back): connection counters, histograms, and the records
//! the delivery accounting is done on (probes sent, memberships in time, deliveries per probe).
//! Shards are merged (`merge`) before the accounting, so a probe published by shard 0 is expected on
//! every shard's subscribers and counted exactly once.
//!
//! The plan is recorded as reports show it (`WsPlanInfo`).

use super::tally::WsTally;
use super::{WsOutcome, WsPlan};
use crate::civil_time::unix_ns;
use crate::engine::cpu::RunCpu;
use crate::engine::shard::{one_run, Shard};
use serde::{Deserialize, Serialize};

/// The plan as reports show it; `conns` is the whole run's even in a shard's report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WsPlanInfo {
    pub conns: usize,
    pub cores: usize,
    pub connect_rate: f64,
    pub duration_s: f64,
    pub probe_rate: f64,
    pub rooms: u32,
    pub heartbeat_s: Option<f64>,
    /// `I/N` when this run is one shard of a larger one.
    pub shard: Option<String>,
    /// `--reconnect`: dropped connections were reconnected.
    #[serde(default)]
    pub reconnect: bool,
    /// The pointers probes were read with (`--probe-id-pointer ... --probe-ts-pointer ...`).
    #[serde(default)]
    pub probe_reader: Option<String>,
    /// `--probe-ts-unit` when coarser than a µs: its resolution, stated where a delivery was
    /// timed from the time the message carries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_ts_resolution: Option<String>,
    /// `--subscribe-ack`: the `type` of the acknowledgement a subscription awaits (none: a
    /// connection is subscribed once its subscribe message is written).
    #[serde(default)]
    pub subscribe_ack: Option<String>,
    /// The credentials given, named without their values (`--tokens FILE (3 tokens) in the
    /// query as ?token=`), for the advice when the server refuses them.
    #[serde(default)]
    pub auth: Option<String>,
    /// `--login`: where each connection logged in (its target URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
}

impl WsPlanInfo {
    pub fn of(plan: &WsPlan) -> Self {
        WsPlanInfo {
            conns: plan.conns,
            cores: plan.cores,
            connect_rate: plan.connect_rate,
            duration_s: plan.duration.as_secs_f64(),
            probe_rate: plan.probe_rate,
            rooms: plan.rooms,
            heartbeat_s: plan.heartbeat.map(|h| h.as_secs_f64()),
            shard: plan.shard.is_split().then(|| plan.shard.to_string()),
            reconnect: plan.reconnect,
            probe_reader: Some(plan.reader.describe()),
            probe_ts_resolution: plan
                .reader
                .ts
                .as_ref()
                .and_then(|(_, unit)| unit.coarse_resolution())
                .map(String::from),
            subscribe_ack: plan.subscribe.as_ref().and(plan.subscribe_ack.clone()),
            auth: match &plan.login {
                Some(_) => Some("what --login captured (placed as its [upgrade] says)".to_string()),
                None => plan.auth.describe(),
            },
            login: plan.login.as_ref().map(|l| l.target.clone()),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RawWs {
    pub target: String,
    pub plan: WsPlanInfo,
    /// (index, count); (0, 1) for a whole run.
    pub shard: crate::engine::Shard,
    /// Connections this process was to open.
    pub planned: u64,
    pub started_at_unix_ns: u64,
    pub ramp_secs: f64,
    /// From the start until every connection was subscribed or had failed.
    #[serde(default)]
    pub settled_secs: f64,
    pub hold_secs: f64,
    pub interrupted: bool,
    pub pinned: usize,
    pub peak_rss_mib: f64,
    /// Counters, histograms and the delivery records.
    pub tally: WsTally,
    /// blast's own CPU, each worker core second by second (absent in reports of earlier
    /// versions: their merge reports no CPU).
    #[serde(default, skip_serializing_if = "RunCpu::is_empty")]
    pub cpu: RunCpu,
}

impl RawWs {
    pub fn of(
        target: &str,
        plan: &WsPlanInfo,
        shard: crate::engine::Shard,
        planned: u64,
        run: &WsOutcome,
        rss: f64,
    ) -> Self {
        RawWs {
            target: target.to_string(),
            plan: plan.clone(),
            shard,
            planned,
            started_at_unix_ns: unix_ns(run.started_at),
            ramp_secs: run.ramp_secs,
            settled_secs: run.settled_secs,
            hold_secs: run.hold_secs,
            interrupted: run.interrupted,
            pinned: run.pinned,
            peak_rss_mib: rss,
            tally: run.tally.clone(),
            cpu: run.cpu.clone(),
        }
    }
}

/// Merges the shards of one ws run into the raw measurements a single run would have had; the
/// delivery accounting then runs on the union of every shard's probes, memberships and
/// deliveries.
pub fn merge(shards: Vec<RawWs>) -> Result<RawWs, String> {
    let first = one_run(
        &shards,
        |s| (s.target.clone(), WsPlanInfo { cores: 0, shard: None, ..s.plan.clone() }),
        |s| s.shard,
        "target, connections, rate, rooms, probes or duration",
    )?;
    let mut merged = RawWs {
        target: first.target.clone(),
        plan: WsPlanInfo { cores: shards.iter().map(|s| s.plan.cores).sum(), shard: None, ..first.plan.clone() },
        shard: Shard::WHOLE,
        planned: shards.iter().map(|s| s.planned).sum(),
        started_at_unix_ns: shards.iter().map(|s| s.started_at_unix_ns).min().unwrap_or(0),
        ramp_secs: shards.iter().map(|s| s.ramp_secs).fold(0.0, f64::max),
        settled_secs: shards.iter().map(|s| s.settled_secs).fold(0.0, f64::max),
        // The hold is the publisher's (shard 0): the others stay a little longer on purpose.
        hold_secs: shards.iter().find(|s| s.shard.index == 0).unwrap_or(first).hold_secs,
        interrupted: shards.iter().any(|s| s.interrupted),
        pinned: shards.iter().map(|s| s.pinned).sum(),
        // The largest shard's peak RSS.
        peak_rss_mib: shards.iter().map(|s| s.peak_rss_mib).fold(0.0, f64::max),
        tally: WsTally::default(),
        cpu: RunCpu::of_shard_reports(shards.iter().map(|s| (s.shard, &s.cpu))),
    };
    for s in shards {
        merged.tally.merge(s.tally);
    }
    Ok(merged)
}
