//! An open-loop run (`blast api`): `core::run_core` (or, `--io ring`, `ring::run_core`) on
//! every core of the runner, their per-second snapshots merged into a time series and the
//! run's totals.

use crate::engine::compact::CompactRecorder;
use crate::engine::core::{run_core, Snapshot};
use crate::engine::cpu::RunCpu;
use crate::engine::live::Live;
use crate::engine::plan::Plan;
use crate::engine::recorder::{ErrorKind, Recorder};
use crate::engine::ring::Lone;
use crate::engine::runner::{self, Cores, StartError};
use crate::engine::workload::Workload;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::SystemTime;

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
    /// Seconds from the start of the measured window to the end of the last measured request
    /// (answered or failed): the span the responses arrived over.
    pub response_secs: f64,
    /// The recorders count where every request ended up (`Recorder::accounting`); false for
    /// reports of versions that did not, whose identities cannot be checked.
    pub accounted: bool,
    /// The run was stopped before its schedule ended.
    pub interrupted: bool,
    /// Worker threads that were pinned to a core.
    pub pinned: usize,
    /// Connections that could not be opened before the start, and why (first error).
    pub preconnect_failed: u64,
    pub preconnect_error: Option<ErrorKind>,
    /// Every connection failed before the start, so the run stopped there (nothing was sent).
    pub unreachable: bool,
    /// The I/O backend the cores ran on and why (`engine::io::Io` as shown).
    pub io: String,
    /// Why io_uring, asked for by name or chosen, was not used on every core.
    pub io_refused: Option<String>,
    /// blast's own CPU: each core's, second by second from the start (warm-up included).
    pub cpu: RunCpu,
}

/// Live view handed to the progress callback once a second.
pub struct Progress<'a> {
    pub second: u64,
    pub interval: &'a Recorder,
    pub total: &'a Recorder,
    /// The live counters (each core's CPU of its last second).
    pub live: &'a Live,
}

/// Runs `plan` with `workload` on the engine's runner (one `core::run_core` per core);
/// `progress` is called once per completed second.
pub fn run<W: Workload>(
    plan: &Plan,
    workload: W,
    stop: Arc<AtomicBool>,
    progress: impl FnMut(&Progress<'_>),
) -> Result<RunOutcome, StartError> {
    let workload = Arc::new(workload);
    run_cores(plan, stop, progress, |plan, back, opened| {
        let workload = workload.clone();
        move |core| run_core(core, plan, workload, back, opened)
    })
}

/// [`run`] on the batched ring (`--io ring`: one `ring::run_core` per core), for a workload
/// whose calls are one request and one response.
pub fn run_ring<W: Lone>(
    plan: &Plan,
    workload: W,
    stop: Arc<AtomicBool>,
    progress: impl FnMut(&Progress<'_>),
) -> Result<RunOutcome, StartError> {
    let workload = Arc::new(workload);
    run_cores(plan, stop, progress, |plan, back, opened| {
        let workload = workload.clone();
        move |core| crate::engine::ring::run_core(core, plan, workload, back, opened)
    })
}

/// Runs the work `each` makes for every core (given the plan, where its emptied recorders come
/// back, and the count of connections opened before the start) and merges what they send.
fn run_cores<C, Fut>(
    plan: &Plan,
    stop: Arc<AtomicBool>,
    progress: impl FnMut(&Progress<'_>),
    mut each: impl FnMut(Plan, mpsc::Receiver<Recorder>, Arc<AtomicUsize>) -> C,
) -> Result<RunOutcome, StartError>
where
    C: FnOnce(runner::Core<Snapshot>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = crate::engine::core::CoreTally> + 'static,
{
    let mut recycle = Vec::with_capacity(plan.cores);
    let mut works = Vec::with_capacity(plan.cores);
    let opened = Arc::new(AtomicUsize::new(0));
    for _ in 0..plan.cores {
        let (back_tx, back_rx) = mpsc::channel::<Recorder>();
        recycle.push(back_tx);
        works.push(each(plan.clone(), back_rx, opened.clone()));
    }
    let mut merge = Merge {
        cores: plan.cores,
        total: Recorder::new(),
        timeline: Timeline::default(),
        reported: Vec::new(),
        ended: vec![None; plan.cores],
        next_progress: 0,
        recycle,
        progress,
    };
    let cores = Cores { pin: plan.pin, start_at: plan.start_at, uring: plan.io.uring };
    let done = runner::run(cores, &stop, works, |snap, live| merge.take(snap, live), |_| {})?;

    let ended = done.tally;
    let refused_at_start = crate::engine::io::take_refused_at_start().filter(|_| plan.io.uring);
    let io = match &refused_at_start {
        Some(why) => format!("{}; {why}", plan.io),
        None => plan.io.to_string(),
    };
    let io_refused = refused_at_start.or_else(|| plan.io.refused().then(|| plan.io.why.clone()));
    let start = done.start;
    let planned = plan.duration.as_secs_f64();
    let measured_secs = match ended.stopped_at {
        _ if ended.unreachable => 0.0,
        Some(at) => (at.saturating_duration_since(start).as_secs_f64() - plan.warmup.as_secs_f64()).clamp(0.0, planned),
        None => planned,
    };
    let since_warmup = |at: Option<std::time::Instant>| {
        at.map_or(0.0, |at| at.saturating_duration_since(start + plan.warmup).as_secs_f64())
    };
    Ok(RunOutcome {
        send_secs: since_warmup(ended.last_send),
        response_secs: since_warmup(ended.last_done),
        accounted: true,
        total: merge.total,
        timeline: merge.timeline.finish(),
        started_at: done.started_at,
        measured_secs,
        interrupted: ended.stopped_at.is_some(),
        pinned: done.pinned,
        preconnect_failed: ended.preconnect_failed,
        preconnect_error: ended.preconnect_error,
        unreachable: ended.unreachable,
        io,
        io_refused,
        cpu: done.cpu,
    })
}

/// The reporter's side of the run: the cores' snapshots merged as they arrive.
struct Merge<P> {
    cores: usize,
    total: Recorder,
    timeline: Timeline,
    /// Snapshots received per second.
    reported: Vec<usize>,
    /// Per core: the second (0-based) of its last snapshot, once it came; it reports no later one.
    ended: Vec<Option<usize>>,
    /// The next second (0-based) progress is shown for.
    next_progress: u64,
    /// Per core: where its emptied recorders go back for reuse.
    recycle: Vec<mpsc::Sender<Recorder>>,
    progress: P,
}

impl<P: FnMut(&Progress<'_>)> Merge<P> {
    fn take(&mut self, snap: Snapshot, live: &Live) {
        let idx = snap.second.saturating_sub(1) as usize;
        if self.reported.len() <= idx {
            self.reported.resize(idx + 1, 0);
        }
        self.timeline.open(idx).merge(&snap.recorder);
        self.total.merge(&snap.recorder);
        // A core's last snapshot holds the second its ticker had open (no other covers it).
        self.reported[idx] += 1;
        if snap.last {
            if let Some(e) = self.ended.get_mut(snap.core) {
                *e = Some(idx);
            }
        }
        // A second is complete once every core has reported it or ended before it.
        while (self.next_progress as usize) < self.reported.len() && {
            let i = self.next_progress as usize;
            let gone = self.ended.iter().filter(|e| e.is_some_and(|last| last < i)).count();
            self.reported[i] + gone >= self.cores
        } {
            let i = self.next_progress as usize;
            let second = self.next_progress + 1;
            (self.progress)(&Progress { second, interval: self.timeline.open(i), total: &self.total, live });
            self.timeline.seal(i);
            self.next_progress += 1;
        }
        // Hand the emptied recorder back to its core for reuse.
        let mut spent = snap.recorder;
        spent.reset();
        if let Some(back) = self.recycle.get(snap.core) {
            let _ = back.send(spent);
        }
    }
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
