//! The raw measurements of a `blast api` run: the engine's recorders per second and in total,
//! and the plan.

use super::{add_into, check_shards, encode, from_unix_ns, unix_ns};
use crate::engine::recorder::{ErrorKind, Recorder};
use crate::engine::{Arrival, Plan, RunOutcome};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RawRecorder {
    pub latency: String,
    pub service: String,
    pub send_lag: String,
    pub dispatch_lag: String,
    pub connect: String,
    pub sent: u64,
    pub completed: u64,
    /// Status code (0: other) -> count.
    pub codes: BTreeMap<u16, u64>,
    /// Error kind name -> count.
    pub errors: BTreeMap<String, u64>,
    pub connects_ok: u64,
    pub connects_failed: u64,
    pub bytes_out: u64,
    pub bytes_in: u64,
    pub queue_peak: u64,
}

impl RawRecorder {
    pub fn of(r: &Recorder) -> Self {
        RawRecorder {
            latency: encode(&r.latency),
            service: encode(&r.service),
            send_lag: encode(&r.send_lag),
            dispatch_lag: encode(&r.dispatch_lag),
            connect: encode(&r.connect),
            sent: r.sent,
            completed: r.completed,
            codes: r.codes.iter().enumerate().filter(|(_, &n)| n > 0).map(|(c, &n)| (c as u16, n)).collect(),
            errors: ErrorKind::ALL
                .iter()
                .filter(|k| r.errors_of(**k) > 0)
                .map(|k| (k.name().to_string(), r.errors_of(*k)))
                .collect(),
            connects_ok: r.connects_ok,
            connects_failed: r.connects_failed,
            bytes_out: r.bytes_out,
            bytes_in: r.bytes_in,
            queue_peak: r.queue_peak,
        }
    }

    pub fn recorder(&self) -> Result<Recorder, String> {
        let mut r = Recorder::new();
        // Decoded histograms may have other bounds: add into the recorder's own.
        for (into, from) in [
            (&mut r.latency, &self.latency),
            (&mut r.service, &self.service),
            (&mut r.send_lag, &self.send_lag),
            (&mut r.dispatch_lag, &self.dispatch_lag),
            (&mut r.connect, &self.connect),
        ] {
            add_into(into, from)?;
        }
        r.sent = self.sent;
        r.completed = self.completed;
        for (&code, &n) in &self.codes {
            let slot = r.codes.get_mut(code as usize).ok_or_else(|| format!("bad status code {code}"))?;
            *slot += n;
        }
        for (name, &n) in &self.errors {
            let kind =
                ErrorKind::ALL.iter().find(|k| k.name() == name).ok_or_else(|| format!("unknown error kind {name}"))?;
            r.record_errors(*kind, n);
        }
        r.connects_ok = self.connects_ok;
        r.connects_failed = self.connects_failed;
        r.bytes_out = self.bytes_out;
        r.bytes_in = self.bytes_in;
        r.queue_peak = self.queue_peak;
        Ok(r)
    }
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

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RawRun {
    pub plan: RawPlan,
    pub started_at_unix_ns: u64,
    pub measured_secs: f64,
    pub send_secs: f64,
    pub interrupted: bool,
    pub pinned: usize,
    pub preconnect_failed: u64,
    pub total: RawRecorder,
    pub timeline: Vec<RawRecorder>,
}

impl RawRun {
    pub fn of(plan: &Plan, run: &RunOutcome) -> Self {
        RawRun {
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
            total: RawRecorder::of(&run.total),
            timeline: run.timeline.iter().map(RawRecorder::of).collect(),
        }
    }
}

/// Merges the shards of one run into the plan and outcome a single run would have had.
pub fn merge(shards: &[RawRun]) -> Result<(Plan, RunOutcome), String> {
    let first = shards.first().ok_or("nothing to merge")?;
    for s in shards {
        let mut p = s.plan.clone();
        p.shard = first.plan.shard;
        p.cores = first.plan.cores;
        p.conns = first.plan.conns;
        p.max_queue = first.plan.max_queue;
        if p != first.plan {
            return Err("the reports are not shards of the same run (rate, stages, duration, warm-up, arrival, seed or timeout differ)".into());
        }
    }
    check_shards(&shards.iter().map(|s| s.plan.shard).collect::<Vec<_>>())?;
    let mut total = Recorder::new();
    let mut timeline: Vec<Recorder> = Vec::new();
    for s in shards {
        total.merge(&s.total.recorder()?);
        for (i, r) in s.timeline.iter().enumerate() {
            if timeline.len() <= i {
                timeline.resize_with(i + 1, Recorder::new);
            }
            timeline[i].merge(&r.recorder()?);
        }
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
    Ok((plan, outcome))
}
