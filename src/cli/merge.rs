//! `blast merge SHARD.json...`: the shards of one run (`--shard I/N` of `blast api`, `ws` or
//! `upload`) merged into the report a single run would have written: terminal, JSON, CSV,
//! HTML, SLAs. The reports carry their raw measurements (`engine::raw`, `workloads::*::raw`); the merge checks that
//! they are the shards of one run and adds them up into what a single run would have measured.

use super::common::UsageError;
use crate::engine::compact::CompactRecorder;
use crate::engine::cpu::RunCpu;
use crate::engine::raw::{from_unix_ns, NamedRequest, RawPlan, RawRun};
use crate::engine::recorder::Recorder;
use crate::engine::{Plan, RunOutcome};
use crate::report::ws::WsSummary;
use crate::report::{api::ApiSummary, upload::UploadSummary};
use crate::workloads::upload::{raw::RawUpload, raw::UploadPlanInfo, tally::UploadTally};
use crate::workloads::ws::{raw::RawWs, raw::WsPlanInfo, tally::WsTally};
use clap::Args;
use serde::de::DeserializeOwned;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The shards' JSON reports (written with --json).
    #[arg(required = true, num_args = 1..)]
    pub reports: Vec<String>,
    #[command(flatten)]
    pub out: super::common::OutputArgs,
}

/// One shard's report: its workload name, the whole JSON, and the path (for errors).
struct ShardReport {
    path: String,
    workload: String,
    json: serde_json::Value,
}

impl ShardReport {
    fn read(path: &str) -> Result<Self, UsageError> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{path}: not JSON: {e}"))?;
        let workload = match json.get("workload").and_then(|w| w.as_str()) {
            Some("api" | "demo") => "api",
            Some(w @ ("ws" | "upload")) => w,
            _ => return Err(format!("{path}: not a blast api, ws or upload report").into()),
        };
        Ok(ShardReport { path: path.to_string(), workload: workload.to_string(), json })
    }

    fn text(&self, key: &str) -> String {
        self.json.get(key).and_then(|v| v.as_str()).unwrap_or_default().to_string()
    }

    /// The raw measurements every report carries (`raw`).
    fn raw<T: DeserializeOwned>(&self) -> Result<T, UsageError> {
        let path = &self.path;
        let raw = self.json.get("raw").cloned().ok_or_else(|| format!("{path}: no \"raw\" measurements"))?;
        Ok(serde_json::from_value(raw).map_err(|e| format!("{path}: bad \"raw\": {e}"))?)
    }
}

pub fn run(a: MergeArgs) -> Result<ExitCode, UsageError> {
    let reports = a.reports.iter().map(|p| ShardReport::read(p)).collect::<Result<Vec<_>, _>>()?;
    let first = reports.first().ok_or("no reports given")?;
    if let Some(other) = reports.iter().find(|r| r.workload != first.workload) {
        return Err(format!(
            "{} is from blast {}, {} from blast {}: merge the shards of one run",
            first.path, first.workload, other.path, other.workload
        )
        .into());
    }
    match first.workload.as_str() {
        "ws" => {
            let merged = merge_ws(raws(&reports)?)?;
            let sla = a.out.check(&crate::report::ws::metric_names())?;
            let summary = WsSummary::from_raw(merged);
            a.out.finish(&summary, sla.as_deref())
        }
        "upload" => {
            let merged = merge_upload(raws(&reports)?)?;
            let sla = a.out.check(&crate::report::upload::metric_names())?;
            let summary = UploadSummary::from_raw(merged);
            a.out.finish(&summary, sla.as_deref())
        }
        _ => {
            let (plan, outcome, names) = merge_api(&raws(&reports)?)?;
            let sla = a.out.check(&crate::report::api::metric_names(&names))?;
            let summary = ApiSummary::build(
                &first.text("workload"),
                &first.text("target"),
                &first.text("method"),
                &plan,
                &outcome,
                &names,
            );
            a.out.finish(&summary, sla.as_deref())
        }
    }
}

fn raws<T: DeserializeOwned>(reports: &[ShardReport]) -> Result<Vec<T>, UsageError> {
    reports.iter().map(|r| r.raw()).collect()
}

/// Checks that `shards` are the shards of one run and returns the first: `run_of` (what must be
/// equal: the plan with the per-shard figures set aside) is the same for every report, and
/// `shard_of` names each shard exactly once. `differ` says what differs when the runs do.
pub fn one_run<'a, T, K: PartialEq>(
    shards: &'a [T],
    run_of: impl Fn(&T) -> K,
    shard_of: impl Fn(&T) -> (u32, u32),
    differ: &str,
) -> Result<&'a T, String> {
    let first = shards.first().ok_or("nothing to merge")?;
    let run = run_of(first);
    if shards.iter().any(|s| run_of(s) != run) {
        return Err(format!("the reports are not shards of the same run ({differ} differ)"));
    }
    check_shards(&shards.iter().map(shard_of).collect::<Vec<_>>())?;
    Ok(first)
}

/// Checks that `shards` are each shard of one run exactly once: same count, none twice, none
/// missing.
fn check_shards(shards: &[(u32, u32)]) -> Result<(), String> {
    let n = shards.first().ok_or("nothing to merge")?.1;
    let mut seen = vec![false; n as usize];
    for &(i, count) in shards {
        if count != n || i >= n {
            return Err(format!("shard {i}/{count} does not belong to a run of {n} shards"));
        }
        if std::mem::replace(&mut seen[i as usize], true) {
            return Err(format!("shard {i}/{n} appears twice"));
        }
    }
    match seen.iter().position(|s| !s) {
        Some(missing) => Err(format!("shard {missing}/{n} is missing")),
        None => Ok(()),
    }
}

/// Merges the shards of one run into the plan and outcome a single run would have had.
fn merge_api(shards: &[RawRun]) -> Result<(Plan, RunOutcome, Vec<NamedRequest>), String> {
    let first = one_run(
        shards,
        |s| (RawPlan { shard: (0, 1), cores: 0, conns: 0, max_queue: 0, ..s.plan.clone() }, s.names.clone()),
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
        io: crate::engine::io::Io::default(),
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
        unreachable: false,
        io: "merged shards".into(),
        io_refused: None,
        cpu: shards_cpu(shards.iter().map(|s| (s.plan.shard.0, &s.cpu))),
    };
    Ok((plan, outcome, first.names.clone()))
}

/// blast's CPU of a merged run from each shard's (index, CPU): every shard's cores, shard by
/// shard, so that the seconds and the work add up and each core's busy share stays its own
/// machine's; none when a shard's report carries no CPU (a report of an earlier version).
fn shards_cpu<'a>(shards: impl Iterator<Item = (u32, &'a RunCpu)>) -> RunCpu {
    let mut by_shard: Vec<(u32, &RunCpu)> = shards.collect();
    if by_shard.iter().any(|(_, cpu)| cpu.is_empty()) {
        return RunCpu::default();
    }
    by_shard.sort_by_key(|(i, _)| *i);
    RunCpu::of_shards(by_shard.into_iter().map(|(_, cpu)| cpu.clone()))
}

/// Merges the shards of one ws run into the raw measurements a single run would have had; the
/// delivery accounting then runs on the union of every shard's probes, memberships and
/// deliveries.
fn merge_ws(shards: Vec<RawWs>) -> Result<RawWs, String> {
    let first = one_run(
        &shards,
        |s| (s.target.clone(), WsPlanInfo { cores: 0, shard: None, ..s.plan.clone() }),
        |s| s.shard,
        "target, connections, rate, rooms, probes or duration",
    )?;
    let mut merged = RawWs {
        target: first.target.clone(),
        plan: WsPlanInfo { cores: shards.iter().map(|s| s.plan.cores).sum(), shard: None, ..first.plan.clone() },
        shard: (0, 1),
        planned: shards.iter().map(|s| s.planned).sum(),
        started_at_unix_ns: shards.iter().map(|s| s.started_at_unix_ns).min().unwrap_or(0),
        ramp_secs: shards.iter().map(|s| s.ramp_secs).fold(0.0, f64::max),
        settled_secs: shards.iter().map(|s| s.settled_secs).fold(0.0, f64::max),
        // The hold is the publisher's (shard 0): the others stay a little longer on purpose.
        hold_secs: shards.iter().find(|s| s.shard.0 == 0).unwrap_or(first).hold_secs,
        interrupted: shards.iter().any(|s| s.interrupted),
        pinned: shards.iter().map(|s| s.pinned).sum(),
        // The largest shard's peak RSS.
        peak_rss_mib: shards.iter().map(|s| s.peak_rss_mib).fold(0.0, f64::max),
        tally: WsTally::default(),
        cpu: shards_cpu(shards.iter().map(|s| (s.shard.0, &s.cpu))),
    };
    for s in shards {
        merged.tally.merge(s.tally);
    }
    Ok(merged)
}

/// Merges the shards of one upload run: tallies add, the run lasts from the first shard's start
/// to the last shard's end, and bytes per second add second by second on that common clock.
fn merge_upload(shards: Vec<RawUpload>) -> Result<RawUpload, String> {
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
        shard: (0, 1),
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
        cpu: shards_cpu(shards.iter().map(|s| (s.shard.0, &s.cpu))),
    };
    for s in shards {
        merged.tally.merge(s.tally);
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_sets_must_be_complete_and_distinct() {
        assert!(check_shards(&[(1, 3), (0, 3), (2, 3)]).is_ok());
        assert!(check_shards(&[(0, 1)]).is_ok());
        assert_eq!(check_shards(&[(0, 2), (0, 2)]).unwrap_err(), "shard 0/2 appears twice");
        assert_eq!(check_shards(&[(0, 3), (2, 3)]).unwrap_err(), "shard 1/3 is missing");
        assert!(check_shards(&[(0, 2), (1, 3)]).unwrap_err().contains("does not belong"));
        assert!(check_shards(&[]).is_err());
    }
}
