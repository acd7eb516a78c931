//! The one runner every workload runs on: it starts one pinned worker thread per core (the
//! only place in blast that does), holds them at a shared start (`--start-at`, a barrier),
//! hands each the stop flag and its line of live counters, passes what the cores send while
//! they run to the caller, ticks the live progress once a second, merges the cores' tallies
//! and joins the threads. It also measures blast itself: each core's CPU (`cpu::CpuMeter`, on
//! the core's own thread) from the start, every whole second of the run, published live and
//! returned per core with the tallies.
//!
//! A workload supplies what one core does: a closure, one per core, that gets a [`Core`] and
//! returns the future run on that core's current-thread runtime and `LocalSet`, ending in the
//! core's [`Tally`]. The future calls [`Core::start`] once everything that must happen before
//! the clock starts (opening connections) is done.

use crate::engine::cpu::{CpuMeter, CpuSample, RunCpu};
use crate::engine::live::Live;
use crate::engine::threads::Pinned;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Barrier, OnceLock};
use std::time::{Duration, Instant, SystemTime};

/// What one core measured, merged over the cores when the run ends.
pub trait Tally: Default + Send + 'static {
    /// Adds another core's tally to this one.
    fn merge(&mut self, other: Self);
}

/// How the cores start.
#[derive(Clone, Copy, Debug)]
pub struct Cores {
    /// Pin each worker thread to its own core.
    pub pin: bool,
    /// Start at this wall-clock time (`--start-at`), so that shards begin together.
    pub start_at: Option<SystemTime>,
    /// Drive sockets with io_uring (`engine::io`) instead of epoll.
    pub uring: bool,
}

/// What a core's work is handed, on its own thread. `U` is what it sends while it runs.
pub struct Core<U> {
    pub index: usize,
    stop: Arc<AtomicBool>,
    live: Arc<Live>,
    updates: Sender<U>,
    gate: Rc<Gate>,
}

impl<U> Core<U> {
    /// Waits (blocking this core's thread) until every core is ready, then returns the run's
    /// start (t0), the same instant on every core; `None` if the run never started.
    pub fn start(&self) -> Option<Instant> {
        self.gate.pass()
    }

    /// The run-wide stop flag (interrupt, or a failed start).
    pub fn stop_flag(&self) -> &Arc<AtomicBool> {
        &self.stop
    }

    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// The live counters the progress display reads; this core writes line `index`.
    pub fn live(&self) -> &Arc<Live> {
        &self.live
    }

    /// A sender to the coordinating thread (what the caller's `on_update` receives).
    pub fn updates(&self) -> Sender<U> {
        self.updates.clone()
    }
}

/// Where the cores and the coordinator meet twice: every core ready, then t0 set. Passing it
/// starts the core's CPU meter.
struct Gate {
    barrier: Arc<Barrier>,
    t0: Arc<OnceLock<Instant>>,
    passed: Cell<bool>,
    cpu: CpuClock,
}

impl Gate {
    fn pass(&self) -> Option<Instant> {
        self.meet(true)
    }

    /// `measure`: the core goes on to run, so its CPU meter starts.
    fn meet(&self, measure: bool) -> Option<Instant> {
        if !self.passed.replace(true) {
            self.barrier.wait();
            self.barrier.wait();
            if let (Some(&t0), true) = (self.t0.get(), measure) {
                self.cpu.start(t0);
            }
        }
        self.t0.get().copied()
    }
}

/// One core's CPU meter, read on the core's thread by a task of its own at every whole second
/// after t0 (each reading published live), and a last time when the core ends.
struct CpuClock {
    core: usize,
    live: Arc<Live>,
    meter: Rc<RefCell<Option<CpuMeter>>>,
    ticker: RefCell<Option<tokio::task::JoinHandle<()>>>,
}

impl CpuClock {
    fn start(&self, t0: Instant) {
        *self.meter.borrow_mut() = Some(CpuMeter::start());
        let (meter, live, core) = (self.meter.clone(), self.live.clone(), self.core);
        let ticker = tokio::task::spawn_local(async move {
            for second in 1u64.. {
                tokio::time::sleep_until((t0 + Duration::from_secs(second)).into()).await;
                if let Some(m) = meter.borrow_mut().as_mut() {
                    live.set_cpu(core, m.sample());
                }
            }
        });
        *self.ticker.borrow_mut() = Some(ticker);
    }

    /// The core's intervals since the start (none if it never started).
    fn finish(&self) -> Vec<CpuSample> {
        if let Some(t) = self.ticker.borrow_mut().take() {
            t.abort();
        }
        self.meter.borrow_mut().take().map_or_else(Vec::new, |mut m| m.finish())
    }
}

/// A run that ended: the cores' merged tally and when it started.
pub struct Finished<T> {
    pub tally: T,
    /// The start (t0) as an instant and as wall-clock time.
    pub start: Instant,
    pub started_at: SystemTime,
    /// Worker threads that were pinned to a core.
    pub pinned: usize,
    /// Each core's CPU, second by second from the start.
    pub cpu: RunCpu,
}

/// Failure to start the run at all (a worker thread could not be created).
#[derive(Debug)]
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// When a run starts, as an instant and as wall-clock time: at `start_at` when given (shards
/// begin together), else 5 ms from now (time for every core to leave the barrier).
pub fn start_time(start_at: Option<SystemTime>) -> (Instant, SystemTime) {
    let lead = match start_at {
        Some(at) => at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO).max(Duration::from_millis(5)),
        None => Duration::from_millis(5),
    };
    (Instant::now() + lead, SystemTime::now() + lead)
}

/// Runs `works` (one per core, core `i` runs `works[i]`). What cores send goes to `on_update`
/// as it arrives, with the live counters; `on_tick` is called with them whenever a second passes
/// without anything sent. Returns once every core has ended, with their tallies merged.
pub fn run<U, T, W, Fut>(
    cores: Cores,
    stop: &Arc<AtomicBool>,
    works: Vec<W>,
    mut on_update: impl FnMut(U, &Live),
    mut on_tick: impl FnMut(&Live),
) -> Result<Finished<T>, StartError>
where
    U: Send + 'static,
    T: Tally,
    W: FnOnce(Core<U>) -> Fut + Send + 'static,
    Fut: Future<Output = T> + 'static,
{
    let count = works.len();
    let live = Arc::new(Live::new(count));
    let workers = Pinned::new(cores.pin).with_uring(cores.uring);
    let barrier = Arc::new(Barrier::new(count + 1));
    let t0 = Arc::new(OnceLock::new());
    let (update_tx, update_rx) = mpsc::channel::<U>();
    let (done_tx, done_rx) = mpsc::channel::<(usize, T, Vec<CpuSample>)>();
    let mut threads = Vec::with_capacity(count);
    for (index, work) in works.into_iter().enumerate() {
        let (stop_flag, live, updates, done) = (stop.clone(), live.clone(), update_tx.clone(), done_tx.clone());
        let (barrier, t0) = (barrier.clone(), t0.clone());
        let fail_barrier = barrier.clone();
        let spawned = workers.spawn(
            index,
            move || async move {
                let cpu =
                    CpuClock { core: index, live: live.clone(), meter: Rc::default(), ticker: RefCell::default() };
                let gate = Rc::new(Gate { barrier, t0, passed: Cell::new(false), cpu });
                let core = Core { index, stop: stop_flag, live, updates, gate: gate.clone() };
                let tally = work(core).await;
                // A core that ended before the start still meets the others there.
                gate.meet(false);
                let _ = done.send((index, tally, gate.cpu.finish()));
            },
            // Keep the others from waiting forever; t0 never reaches this core.
            move || {
                fail_barrier.wait();
                fail_barrier.wait();
            },
        );
        match spawned {
            Ok(handle) => threads.push(handle),
            Err(e) => {
                stop.store(true, Ordering::Relaxed);
                return Err(StartError(format!("cannot start worker thread {index}: {e}")));
            }
        }
    }
    drop((update_tx, done_tx));

    barrier.wait(); // every core is ready (connections open)
    let (start, started_at) = start_time(cores.start_at);
    let _ = t0.set(start);
    barrier.wait();

    for update in receive_with_ticks(&update_rx, || on_tick(&live)) {
        on_update(update, &live);
    }
    let mut tally = T::default();
    let mut cpu = RunCpu { cores: vec![Vec::new(); count], ..RunCpu::default() };
    for (index, t, seconds) in done_rx {
        tally.merge(t);
        cpu.cores[index] = seconds;
    }
    for t in threads {
        let _ = t.join();
    }
    Ok(Finished { tally, start, started_at, pinned: workers.pinned(), cpu })
}

/// Receives the cores' updates, calling `tick` whenever a second passes without one (live
/// progress while the run goes on); ends when every sender is gone.
fn receive_with_ticks<'a, T>(rx: &'a Receiver<T>, mut tick: impl FnMut() + 'a) -> impl Iterator<Item = T> + 'a {
    std::iter::from_fn(move || loop {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(r) => return Some(r),
            Err(RecvTimeoutError::Timeout) => tick(),
            Err(RecvTimeoutError::Disconnected) => return None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Count(u64, Option<Instant>);

    impl Tally for Count {
        fn merge(&mut self, other: Self) {
            self.0 += other.0;
            self.1 = self.1.or(other.1);
        }
    }

    #[test]
    fn cores_share_one_start_and_their_tallies_merge() {
        let stop = Arc::new(AtomicBool::new(false));
        let works: Vec<_> = (0..3u64)
            .map(|i| {
                move |core: Core<u64>| async move {
                    let start = core.start();
                    let _ = core.updates().send(i);
                    Count(i + 1, start)
                }
            })
            .collect();
        let mut updates = Vec::new();
        let done =
            run(Cores { pin: false, start_at: None, uring: false }, &stop, works, |u, _| updates.push(u), |_| {})
                .expect("threads start");
        updates.sort_unstable();
        assert_eq!(updates, [0, 1, 2]);
        assert_eq!(done.tally.0, 6);
        assert_eq!(done.tally.1, Some(done.start));
    }

    #[test]
    fn each_core_measures_its_own_cpu_second_by_second() {
        let stop = Arc::new(AtomicBool::new(false));
        // Core 0 spins for 1.3 s, core 1 sleeps as long: one busy, one idle, two intervals each.
        let works: Vec<_> = (0..2usize)
            .map(|i| {
                move |core: Core<()>| async move {
                    let start = core.start();
                    let end = Instant::now() + Duration::from_millis(1300);
                    while Instant::now() < end {
                        if i == 0 {
                            std::hint::black_box((0..1000u64).sum::<u64>());
                            tokio::task::yield_now().await;
                        } else {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                    Count(1, start)
                }
            })
            .collect();
        let done = run(Cores { pin: false, start_at: None, uring: false }, &stop, works, |(), _| {}, |_| {})
            .expect("threads start");
        let cpu = done.cpu;
        assert_eq!(cpu.cores.len(), 2);
        for core in &cpu.cores {
            assert_eq!(core.len(), 2, "{core:?}");
            // About a second each: the first interval begins when the core's thread first reads
            // its clock after the start, which a loaded machine delays (986 ms seen once beside
            // a full suite), so the bound is loose; what it checks is intervals of seconds.
            assert!(core[0].wall_us >= 900_000 && core[0].wall_us < 1_200_000, "{core:?}");
        }
        let [busy, idle] = [0, 1].map(|c| cpu.per_core_from(0)[c].busy());
        assert!(busy > idle && idle < 0.2, "busy {busy} idle {idle}");
    }

    #[test]
    fn a_core_that_never_asks_for_the_start_does_not_hold_the_others() {
        let stop = Arc::new(AtomicBool::new(false));
        let works: Vec<_> = (0..2usize)
            .map(|i| move |core: Core<()>| async move { Count(u64::from(i == 0 && core.start().is_some()), None) })
            .collect();
        let done = run(Cores { pin: false, start_at: None, uring: false }, &stop, works, |(), _| {}, |_| {})
            .expect("threads start");
        assert_eq!(done.tally.0, 1);
        assert!(done.cpu.cores[1].is_empty());
    }
}
