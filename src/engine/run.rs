//! Starts one pinned worker thread per core, collects their per-second snapshots and merges
//! them into a time series and the run's totals.

use crate::engine::compact::CompactRecorder;
use crate::engine::core::{run_core, CoreSetup, Snapshot};
use crate::engine::recorder::{ErrorKind, Recorder};
use crate::engine::{Plan, Workload};
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::sync::{Arc, Barrier, OnceLock};
use std::time::{Duration, Instant, SystemTime};

/// What a run measured.
pub struct RunOutcome {
    /// Everything recorded after warm-up, all cores merged.
    pub total: Recorder,
    /// Per-second totals since the start (index 0 = first second, warm-up included), compacted
    /// once every core has reported the second.
    pub timeline: Vec<CompactRecorder>,
    /// Wall-clock time of the start (t0).
    pub started_at: SystemTime,
    /// Seconds of the measured window that actually ran (less than planned when interrupted).
    pub measured_secs: f64,
    /// Seconds from the start of the measured window to the last measured request written; more
    /// than `measured_secs` when blast or the target fell behind the schedule.
    pub send_secs: f64,
    /// The run was stopped before its schedule ended.
    pub interrupted: bool,
    /// Worker threads that were pinned to a core.
    pub pinned: usize,
    /// Connections that could not be opened before the start, and why (first error).
    pub preconnect_failed: u64,
    pub preconnect_error: Option<ErrorKind>,
}

/// When a run starts, as an instant and as wall-clock time: at `start_at` when given (shards
/// begin together), else 5 ms from now (time for every core to reach the barrier).
pub fn start_time(start_at: Option<SystemTime>) -> (Instant, SystemTime) {
    let lead = match start_at {
        Some(at) => at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO).max(Duration::from_millis(5)),
        None => Duration::from_millis(5),
    };
    (Instant::now() + lead, SystemTime::now() + lead)
}

/// Live view handed to the progress callback once a second.
pub struct Progress<'a> {
    pub second: u64,
    pub interval: &'a Recorder,
    pub total: &'a Recorder,
}

/// Failure to start the run at all (threads or runtimes could not be created).
#[derive(Debug)]
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Runs `plan` with `workload`; `progress` is called once per completed second.
pub fn run<W: Workload>(
    plan: &Plan,
    workload: W,
    stop: Arc<AtomicBool>,
    mut progress: impl FnMut(&Progress<'_>),
) -> Result<RunOutcome, StartError> {
    let workload = Arc::new(workload);
    let workers = crate::engine::threads::Pinned::new(plan.pin);
    let barrier = Arc::new(Barrier::new(plan.cores + 1));
    let t0 = Arc::new(OnceLock::new());
    let (tx, rx) = mpsc::channel::<Snapshot>();
    let mut threads = Vec::with_capacity(plan.cores);
    let mut recycle = Vec::with_capacity(plan.cores);
    for index in 0..plan.cores {
        let (back_tx, back_rx) = mpsc::channel::<Recorder>();
        recycle.push(back_tx);
        let setup = CoreSetup {
            index,
            plan: plan.clone(),
            workload: workload.clone(),
            sink: tx.clone(),
            recycled: back_rx,
            stop: stop.clone(),
            barrier: barrier.clone(),
            t0: t0.clone(),
        };
        let fail_barrier = barrier.clone();
        let spawned = workers.spawn(
            index,
            move || run_core(setup),
            // Keep the others from waiting forever; t0 never reaches this core.
            move || {
                fail_barrier.wait();
                fail_barrier.wait();
            },
        );
        match spawned {
            Ok(handle) => threads.push(handle),
            Err(e) => {
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                return Err(StartError(format!("cannot start worker thread {index}: {e}")));
            }
        }
    }
    drop(tx);

    barrier.wait(); // every core has opened its connections
    let (start, started_at) = start_time(plan.start_at);
    let _ = t0.set(start);
    barrier.wait();

    let mut total = Recorder::new();
    let mut timeline = Timeline::default();
    let mut reported: Vec<usize> = Vec::new();
    let mut next_progress = 1u64;
    let mut stopped_at: Option<Instant> = None;
    let mut preconnect_failed = 0;
    let mut preconnect_error = None;
    let mut last_send: Option<Instant> = None;

    for snap in rx {
        let idx = snap.second.saturating_sub(1) as usize;
        if reported.len() <= idx {
            reported.resize(idx + 1, 0);
        }
        timeline.open(idx).merge(&snap.recorder);
        total.merge(&snap.recorder);
        if !snap.last {
            reported[idx] += 1;
        } else {
            preconnect_failed += snap.preconnect_failed;
            if preconnect_error.is_none() {
                preconnect_error = snap.preconnect_error;
            }
            if let Some(at) = snap.last_send {
                last_send = Some(last_send.map_or(at, |l: Instant| l.max(at)));
            }
            if let Some(at) = snap.stopped_at {
                stopped_at = Some(stopped_at.map_or(at, |s: Instant| s.max(at)));
            }
        }
        // A second is complete once every core has reported it.
        while (next_progress as usize) <= reported.len() && reported[next_progress as usize - 1] == plan.cores {
            let i = next_progress as usize - 1;
            progress(&Progress { second: next_progress, interval: timeline.open(i), total: &total });
            timeline.seal(i);
            next_progress += 1;
        }
        // Hand the emptied recorder back to its core for reuse.
        let mut spent = snap.recorder;
        spent.reset();
        let _ = recycle[snap.core].send(spent);
    }
    for t in threads {
        let _ = t.join();
    }

    let planned = plan.duration.as_secs_f64();
    let measured_secs = match stopped_at {
        Some(at) => (at.saturating_duration_since(start).as_secs_f64() - plan.warmup.as_secs_f64()).clamp(0.0, planned),
        None => planned,
    };
    let send_secs = last_send.map_or(0.0, |at| at.saturating_duration_since(start + plan.warmup).as_secs_f64());
    Ok(RunOutcome {
        send_secs,
        total,
        timeline: timeline.finish(),
        started_at,
        measured_secs,
        interrupted: stopped_at.is_some(),
        pinned: workers.pinned(),
        preconnect_failed,
        preconnect_error,
    })
}

/// The per-second series while the run goes on: seconds some core has yet to report stay full
/// recorders; complete ones are compacted (a full recorder is about 1 MB, a compacted second a
/// few KB), so memory does not grow by a megabyte a second over a long run.
#[derive(Default)]
struct Timeline {
    sealed: Vec<Option<CompactRecorder>>,
    open: std::collections::BTreeMap<usize, Recorder>,
}

impl Timeline {
    /// Second `i`'s recorder, reopened if it was already compacted (a late snapshot).
    fn open(&mut self, i: usize) -> &mut Recorder {
        if self.sealed.len() <= i {
            self.sealed.resize(i + 1, None);
        }
        let sealed = &mut self.sealed[i];
        self.open.entry(i).or_insert_with(|| sealed.take().map_or_else(Recorder::new, |c| c.expand_own()))
    }

    fn seal(&mut self, i: usize) {
        if let Some(r) = self.open.remove(&i) {
            self.sealed[i] = Some(CompactRecorder::of(&r));
        }
    }

    fn finish(mut self) -> Vec<CompactRecorder> {
        let open: Vec<usize> = self.open.keys().copied().collect();
        for i in open {
            self.seal(i);
        }
        let empty = CompactRecorder::of(&Recorder::new());
        self.sealed.into_iter().map(|s| s.unwrap_or_else(|| empty.clone())).collect()
    }
}
