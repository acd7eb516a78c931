//! What one pinned core runs for an open-loop (`Workload`) run: its pacer, its connections
//! and its recorder. The runner (`engine::runner`) starts the core and holds it at the start.
//!
//! Everything here lives on one thread (a current-thread tokio runtime with a `LocalSet`), so
//! state is shared through `Rc`/`RefCell` and the only cross-thread traffic is one message a
//! second to the reporter.

use crate::clock::PreciseTimer;
use crate::engine::arrivals::{Arrival, Arrivals};
use crate::engine::plan::Plan;
use crate::engine::queue::JobQueue;
use crate::engine::recorder::{ErrorKind, Recorder};
use crate::engine::runner::{Core, Tally};
use crate::engine::workload::{CallStats, Connection, Job, Lane, StepRecord, Workload};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The last stretch before a due slot is waited for by yielding to the connections (which
/// polls the reactor) rather than by a timer: a timer wake-up on an idle core arrives tens of
/// microseconds late (measured ~45 µs here), so the timer is set up to this much early.
const SPIN_MAX: Duration = Duration::from_micros(80);
/// Yielding keeps the core busy, which on a machine shared with the target steals its CPU:
/// the spin window is shrunk so that it costs at most this share of a core.
const SPIN_CPU_SHARE: f64 = 0.02;
/// The pacer looks at the stop flag at least this often while waiting.
pub(super) const STOP_POLL: Duration = Duration::from_millis(50);
/// Longest wait for iterations still running at the end of a schedule whose iterations are
/// timed step by step (each step is bounded by the timeout; this bounds the whole).
const LONG_DRAIN: Duration = Duration::from_secs(24 * 3600);

/// One core's measurements for one interval, sent to the reporter.
pub struct Snapshot {
    pub core: usize,
    /// Whole seconds since the run's start (t0) at the end of the interval.
    pub second: u64,
    pub recorder: Recorder,
    /// The core's last snapshot.
    pub last: bool,
}

/// What a core tells the reporter once it has ended, besides its last snapshot.
#[derive(Default)]
pub struct CoreTally {
    /// When the schedule was cut short: when dispatching stopped.
    pub stopped_at: Option<Instant>,
    /// Connections that could not be opened before the start.
    pub preconnect_failed: u64,
    /// The first error seen while pre-connecting, for the user.
    pub preconnect_error: Option<ErrorKind>,
    /// When this core wrote its last measured request.
    pub last_send: Option<Instant>,
    /// When the last measured request of this core ended (answered or failed).
    pub last_done: Option<Instant>,
    /// Every connection of the run (all cores) failed before the start: nothing was run.
    pub unreachable: bool,
}

impl Tally for CoreTally {
    fn merge(&mut self, o: CoreTally) {
        self.preconnect_failed += o.preconnect_failed;
        if self.preconnect_error.is_none() {
            self.preconnect_error = o.preconnect_error;
        }
        self.last_send = later(self.last_send, o.last_send);
        self.last_done = later(self.last_done, o.last_done);
        self.stopped_at = later(self.stopped_at, o.stopped_at);
        self.unreachable |= o.unreachable;
    }
}

fn later(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        _ => a.or(b),
    }
}

/// Shared by the tasks of one core.
struct CoreState {
    queue: JobQueue,
    recorder: RefCell<Recorder>,
    /// Jobs taken by a connection and not yet finished.
    inflight: Cell<u64>,
    /// When the latest measured request was written (the achieved rate is taken over the time
    /// it really took to send them, not over the planned duration).
    last_send: Cell<Option<Instant>>,
    /// When the latest measured request ended: throughput is over the span answers arrived in.
    last_done: Cell<Option<Instant>>,
    /// Requests due before this instant are warm-up and not recorded.
    measure_from: Instant,
    timeout: Duration,
    /// The workload records under several names: each call also goes to its name's row.
    named: bool,
}

/// Runs one core to completion on the current thread, phase by phase: open the connections
/// (`preconnect`), wait at the shared start, start the connections' loops and the once-a-second
/// ticker, pace the schedule (`pace`), drain what is still queued or in flight (`drain`), and
/// send the last snapshot. `recycled` brings emptied recorders back from the reporter, to be
/// reused; `opened_anywhere` counts the connections every core opened before the start (when
/// none did, the run stops at once: the target is unreachable).
pub async fn run_core<W: Workload>(
    core: Core<Snapshot>,
    plan: Plan,
    workload: Arc<W>,
    recycled: Receiver<Recorder>,
    opened_anywhere: Arc<AtomicUsize>,
) -> CoreTally {
    let index = core.index;
    let sink = core.updates();
    let stop = core.stop_flag().clone();
    // This core's lane among every core of every shard.
    let lane = Lane {
        core: index,
        lane: plan.shard.index as usize * plan.cores + index,
        lanes: plan.cores * plan.shard.count.max(1) as usize,
    };
    // With one name its row is the run's totals: no rows are kept (reports read the totals).
    let rows = if plan.rows > 1 { plan.rows } else { 0 };
    let shared = Rc::new(workload.core(lane));
    let pre = preconnect(&plan, &workload, &shared, index, rows).await;

    // Allocate before the clock starts: the queue, the timer, and spare recorders for the
    // first interval swaps (later ones come back recycled from the reporter).
    let queue = JobQueue::new(pre.opened.len(), plan.queue_per_core());
    crate::clock::tighten_timer_slack();
    let spares = vec![Recorder::with_rows(rows), Recorder::with_rows(rows)];
    let (preconnect_failed, preconnect_error) = (pre.failed, pre.error);
    opened_anywhere.fetch_add(pre.opened.iter().filter(|c| c.is_some()).count(), Ordering::Relaxed);

    // Every core has opened its connections: the clock starts.
    let Some(start) = core.start() else {
        return CoreTally { preconnect_failed, preconnect_error, ..CoreTally::default() };
    };
    // Past the start every core has counted (the start is a barrier): when no connection of
    // the run could be opened, no request could be sent either, so nothing is run.
    if opened_anywhere.load(Ordering::Relaxed) == 0 {
        let _ = sink.send(Snapshot { core: index, second: 1, recorder: pre.recorder, last: true });
        return CoreTally { preconnect_failed, preconnect_error, unreachable: true, ..CoreTally::default() };
    }
    let end_ns = (plan.warmup + plan.duration).as_nanos() as u64;
    let st = Rc::new(CoreState {
        queue,
        recorder: RefCell::new(pre.recorder),
        inflight: Cell::new(0),
        last_send: Cell::new(None),
        last_done: Cell::new(None),
        measure_from: start + plan.warmup,
        timeout: plan.timeout,
        named: rows > 0,
    });
    let conn_tasks: Vec<_> = pre
        .opened
        .into_iter()
        .enumerate()
        .map(|(c, conn)| {
            let (w, shared, kind_rows) = (workload.clone(), shared.clone(), plan.kind_rows.clone());
            tokio::task::spawn_local(conn_loop(st.clone(), w, shared, kind_rows, c, conn))
        })
        .collect();
    let ticker = Ticker::start(&st, &sink, index, start, rows, spares, recycled);

    let stopped_at = pace(&plan, &st, &stop, index, lane.lane as u64, start, end_ns).await;
    st.queue.close();
    drain(&plan, &*workload, conn_tasks, stopped_at.is_some(), &stop).await;

    ticker.task.abort();
    // Jobs still queued never left; a call cut by the drain settled its own accounting when it
    // was dropped (`InFlight`), so `inflight` is 0 here unless a call escaped both.
    let mut recorder = std::mem::take(&mut *st.recorder.borrow_mut());
    for job in st.queue.take_all() {
        if job.intended >= st.measure_from {
            let row = row_of_kind(&plan.kind_rows, job.kind);
            not_sent(&mut recorder, rows > 0, row, ErrorKind::Unfinished);
        }
    }
    recorder.record_errors(ErrorKind::Unfinished, st.inflight.get());
    let second =
        last_second(ticker.open_second.get(), stopped_at.map(|at| at.saturating_duration_since(start)), end_ns);
    let _ = sink.send(Snapshot { core: index, second, recorder, last: true });
    CoreTally {
        stopped_at,
        preconnect_failed,
        preconnect_error,
        last_send: st.last_send.get(),
        last_done: st.last_done.get(),
        unreachable: false,
    }
}

/// A core's connections opened before the clock starts (so the first requests pay no
/// handshake), with the connect times recorded.
struct Preconnected<C> {
    recorder: Recorder,
    /// One per connection slot: `None` where the connect failed (the loop retries it).
    opened: Vec<Option<C>>,
    failed: u64,
    /// The first error seen, for the user.
    error: Option<ErrorKind>,
}

async fn preconnect<W: Workload>(
    plan: &Plan,
    workload: &Arc<W>,
    shared: &Rc<W::Core>,
    index: usize,
    rows: usize,
) -> Preconnected<W::Conn> {
    let conns = plan.conns_on(index);
    let mut pre =
        Preconnected { recorder: Recorder::with_rows(rows), opened: Vec::with_capacity(conns), failed: 0, error: None };
    let handles: Vec<_> = (0..conns)
        .map(|c| {
            let (w, shared) = (workload.clone(), shared.clone());
            let timeout = plan.timeout;
            tokio::task::spawn_local(async move { connect(&*w, &shared, c, timeout).await })
        })
        .collect();
    for h in handles {
        match h.await {
            Ok((Ok(conn), took)) => {
                pre.recorder.record_connect(took, true);
                pre.opened.push(Some(conn));
            }
            Ok((Err(kind), took)) => {
                pre.recorder.record_connect(took, false);
                pre.failed += 1;
                pre.error.get_or_insert(kind);
                pre.opened.push(None);
            }
            Err(_) => {
                pre.failed += 1;
                pre.opened.push(None);
            }
        }
    }
    pre
}

/// The once-a-second task that hands the core's recorder to the reporter and takes a fresh one.
struct Ticker {
    task: tokio::task::JoinHandle<()>,
    /// The second the ticker will close next: what is recorded after its last tick belongs there.
    open_second: Rc<Cell<u64>>,
}

impl Ticker {
    fn start(
        st: &Rc<CoreState>,
        sink: &std::sync::mpsc::Sender<Snapshot>,
        index: usize,
        start: Instant,
        rows: usize,
        mut spares: Vec<Recorder>,
        recycled: Receiver<Recorder>,
    ) -> Ticker {
        let open_second = Rc::new(Cell::new(1u64));
        let (st, sink, open) = (st.clone(), sink.clone(), open_second.clone());
        let task = tokio::task::spawn_local(async move {
            let mut second = 1u64;
            loop {
                tokio::time::sleep_until((start + Duration::from_secs(second)).into()).await;
                spares.extend(recycled.try_iter());
                let fresh = spares.pop().unwrap_or_else(|| Recorder::with_rows(rows));
                let recorder = std::mem::replace(&mut *st.recorder.borrow_mut(), fresh);
                let snap = Snapshot { core: index, second, recorder, last: false };
                if sink.send(snap).is_err() {
                    return;
                }
                second += 1;
                open.set(second);
            }
        });
        Ticker { task, open_second }
    }
}

/// The pacer: every wake-up queues every slot that is due, and intended times come from the
/// schedule alone. Returns when the schedule ends, or when it was stopped (and when).
async fn pace(
    plan: &Plan,
    st: &CoreState,
    stop: &std::sync::atomic::AtomicBool,
    index: usize,
    lane: u64,
    start: Instant,
    end_ns: u64,
) -> Option<Instant> {
    let mut timer = PreciseTimer::new();
    let spin = SPIN_MAX.min(Duration::from_secs_f64(SPIN_CPU_SHARE * plan.cores as f64 / plan.own_rate()));
    let mut arrivals = Arrivals::new(plan, index, lane, start, end_ns);
    let mut now = Instant::now();
    let mut last_wake = now;
    loop {
        if stop.load(Ordering::Relaxed) {
            return Some(Instant::now());
        }
        match arrivals.take(&mut now) {
            Arrival::Over => return None,
            Arrival::Due(job) => {
                let mut rec = st.recorder.borrow_mut();
                queue_job(&st.queue, &mut rec, st.named, &plan.kind_rows, st.measure_from, job, now);
            }
            // Wake just before the slot, but at most once per coalescing window: at low rates
            // every slot is on time, at high rates one wake-up sends every slot due by then
            // (each at most a window late; that lag is recorded like any other).
            Arrival::NotYet(due) if due - now <= spin => tokio::task::yield_now().await,
            Arrival::NotYet(due) => {
                let wake = (due - spin).max(last_wake + plan.coalesce);
                timer.sleep_until(wake.min(now + STOP_POLL)).await;
                now = Instant::now();
                last_wake = now;
            }
        }
    }
}

/// Queues `job`, due by `now`, or drops it (the queue is full), and records which: scheduled
/// (measured or warm-up, in its report row when `named`), and its dispatch lag and the queue's
/// depth, or the drop.
pub(super) fn queue_job(
    queue: &JobQueue,
    rec: &mut Recorder,
    named: bool,
    kind_rows: &[usize],
    measure_from: Instant,
    job: Job,
    now: Instant,
) {
    let measured = job.intended >= measure_from;
    // The job's report row, looked up once, when rows are kept.
    let row = if named { Some(row_of_kind(kind_rows, job.kind)) } else { None };
    let lag = now - job.intended;
    let depth = queue.push(job).ok();
    if measured {
        rec.accounting.scheduled += 1;
        if let Some(row) = row {
            rec.row_mut(row).accounting.scheduled += 1;
        }
    } else {
        rec.accounting.warmup_scheduled += 1;
    }
    match depth {
        Some(depth) => {
            rec.note_queue_depth(depth);
            if measured {
                rec.record_dispatch(lag);
            }
        }
        None => {
            if measured {
                rec.record_error(ErrorKind::Dropped);
                if let Some(row) = row {
                    rec.row_mut(row).record_error(ErrorKind::Dropped);
                }
            }
        }
    }
}

/// Drain: queued and in-flight requests get at most the grace period after a stop, the
/// timeout after a schedule that ran to its end; iterations the workload times out step by
/// step (flows: an upload of a hundred parts) may run long after the schedule and are waited
/// for until done or interrupted.
async fn drain<W: Workload>(
    plan: &Plan,
    workload: &W,
    conn_tasks: Vec<tokio::task::JoinHandle<()>>,
    stopped: bool,
    stop: &std::sync::atomic::AtomicBool,
) {
    let long = (0..plan.kind_rows.len()).any(|k| !workload.timed_as_whole(k));
    let cut = plan.grace.min(plan.timeout);
    let grace = if stopped {
        cut
    } else if long {
        LONG_DRAIN
    } else {
        plan.timeout
    };
    let mut deadline = tokio::time::Instant::now() + grace;
    for mut t in conn_tasks {
        let abort = t.abort_handle();
        loop {
            let poll = deadline.min(tokio::time::Instant::now() + STOP_POLL);
            match tokio::time::timeout_at(poll, &mut t).await {
                Ok(_) => break,
                Err(_) if tokio::time::Instant::now() >= deadline => {
                    // Cancelled calls settle their accounting as they are dropped: wait for it.
                    abort.abort();
                    let _ = (&mut t).await;
                    break;
                }
                Err(_) => {
                    if stop.load(Ordering::Relaxed) {
                        deadline = deadline.min(tokio::time::Instant::now() + cut);
                    }
                }
            }
        }
    }
}

/// The second the rest of a core's recording (after the ticker's last tick) goes with: the
/// second the ticker had open, unless that second began when the schedule (or the run, when
/// `stopped` after that long) was already over. Then it holds only the drain's answers to the
/// last requests, a sliver of a second: they go with the schedule's last second, so that the
/// series does not end in a phantom, nearly empty second that looks like the target collapsed.
pub(super) fn last_second(open: u64, stopped: Option<Duration>, end_ns: u64) -> u64 {
    let ticked = open.saturating_sub(1);
    let schedule_end = stopped.unwrap_or(Duration::from_nanos(end_ns));
    if ticked >= 1 && Duration::from_secs(ticked) >= schedule_end {
        ticked
    } else {
        open
    }
}

async fn connect<W: Workload>(
    w: &W,
    core: &Rc<W::Core>,
    conn: usize,
    timeout: Duration,
) -> (Result<W::Conn, ErrorKind>, Duration) {
    let started = Instant::now();
    let result = match tokio::time::timeout(timeout, w.connect(core, conn)).await {
        Ok(r) => r,
        Err(_) => Err(ErrorKind::ConnectTimeout),
    };
    (result, started.elapsed())
}

/// One connection's life: take a job, replace the connection if the peer closed it while it
/// was idle, (re)connect if needed, call, record, repeat.
async fn conn_loop<W: Workload>(
    st: Rc<CoreState>,
    workload: Arc<W>,
    shared: Rc<W::Core>,
    kind_rows: Arc<Vec<usize>>,
    index: usize,
    mut conn: Option<W::Conn>,
) {
    let mut spare_steps: Vec<StepRecord> = Vec::new();
    let mut timer = crate::engine::timeout::LazyTimeout::default();
    while let Some(job) = st.queue.next(index).await {
        st.inflight.set(st.inflight.get() + 1);
        let row = row_of_kind(&kind_rows, job.kind);
        let mut call = InFlight {
            st: &st,
            row,
            measured: job.intended >= st.measure_from,
            stats: CallStats::default(),
            steps: std::mem::take(&mut spare_steps),
            settled: false,
        };
        call.steps.clear();
        // A kept connection the peer closed while it was idle is replaced before the request
        // goes out, without an error (servers close idle keep-alive connections).
        if conn.as_mut().is_some_and(|c| !c.still_open()) {
            conn = None;
            st.recorder.borrow_mut().closed_idle += 1;
        }
        if conn.is_none() {
            let (result, took) = connect(&*workload, &shared, index, st.timeout).await;
            {
                let mut rec = st.recorder.borrow_mut();
                rec.record_connect(took, result.is_ok());
                rec.reconnects += u64::from(result.is_ok());
            }
            match result {
                Ok(c) => conn = Some(c),
                Err(kind) => {
                    if call.measured {
                        not_sent(&mut st.recorder.borrow_mut(), st.named, row, kind);
                    }
                    spare_steps = call.settle();
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else {
            spare_steps = call.settle();
            continue;
        };
        let result = if workload.timed_as_whole(job.kind) {
            let run = std::pin::pin!(c.call(&job, &mut call.stats, &mut call.steps));
            match timer.run(st.timeout, run).await {
                Ok(r) => r,
                Err(_) => Err(ErrorKind::Timeout),
            }
        } else {
            c.call(&job, &mut call.stats, &mut call.steps).await
        };
        let done = Instant::now();
        let keep = result.is_ok() && c.reusable();
        let ends = Ends { last_send: st.last_send.get(), last_done: st.last_done.get() };
        let call_ = Call { row, named: st.named, measured: call.measured, job: &job };
        let ends = record_call(&mut st.recorder.borrow_mut(), &call_, done, result, &call.stats, &call.steps, ends);
        st.last_send.set(ends.last_send);
        st.last_done.set(ends.last_done);
        if !keep {
            conn = None;
        }
        spare_steps = call.settle();
    }
}

/// A call a connection made, as it is recorded.
pub(super) struct Call<'a> {
    pub row: usize,
    /// Rows are kept (the workload records under several names).
    pub named: bool,
    /// Past the warm-up.
    pub measured: bool,
    pub job: &'a Job,
}

/// When a core's last measured request was written and ended.
#[derive(Clone, Copy, Default)]
pub(super) struct Ends {
    pub last_send: Option<Instant>,
    pub last_done: Option<Instant>,
}

/// Records a call that ended at `done` with `result`: its reconnects, its request (in the
/// totals and its row), the time the target said it spent, the steps of a flow; a warm-up
/// call only in the warm-up's counts. Returns `ends` moved on by a measured call.
pub(super) fn record_call(
    rec: &mut Recorder,
    call: &Call<'_>,
    done: Instant,
    result: Result<u16, ErrorKind>,
    stats: &CallStats,
    steps: &[StepRecord],
    mut ends: Ends,
) -> Ends {
    if stats.reopened > 0 || stats.retried {
        rec.record_reopened(stats.reopened, stats.connect_time);
        rec.retried += u64::from(stats.retried);
    }
    if !call.measured {
        // Warm-up: counted apart (its own rate), in no other figure.
        rec.accounting.warmup_sent += u64::from(stats.sent_at.is_some());
        rec.accounting.warmup_completed += u64::from(result.is_ok());
        return ends;
    }
    if let Some(sent) = stats.sent_at {
        ends.last_send = Some(ends.last_send.map_or(sent, |l| l.max(sent)));
    }
    ends.last_done = Some(done);
    let (row, job) = (call.row, call.job);
    let iteration = StepRecord::of(row, job.intended, done, result, stats);
    record(rec, &iteration);
    if call.named {
        record(rec.row_mut(row), &iteration);
    }
    // What the target said it spent itself, for a lone request (a flow's steps are timed one
    // by one).
    if let (Some(target), Some(sent), Ok(_)) = (stats.target_time, stats.sent_at, result) {
        if steps.is_empty() {
            rec.record_beyond_target(done - job.intended, done - sent, target);
        }
    }
    for s in steps {
        record(rec.row_mut(s.row), s);
    }
    ends
}

/// A job a connection has taken, until it is recorded. When the run's end cancels the call
/// (the connection's task is dropped mid-call), dropping this records where the job got to: its
/// finished steps, and the job itself as in flight (its request was written) or not sent,
/// both `unfinished`. Without it a cancelled call would vanish from every count.
struct InFlight<'a> {
    st: &'a CoreState,
    row: usize,
    measured: bool,
    stats: CallStats,
    steps: Vec<StepRecord>,
    settled: bool,
}

impl InFlight<'_> {
    /// The job was recorded by the loop: hands back the steps' buffer for reuse.
    fn settle(mut self) -> Vec<StepRecord> {
        self.settled = true;
        std::mem::take(&mut self.steps)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.st.inflight.set(self.st.inflight.get().saturating_sub(1));
        if self.settled || !self.measured {
            return;
        }
        let mut rec = self.st.recorder.borrow_mut();
        let (named, row) = (self.st.named, self.row);
        for s in &self.steps {
            record(rec.row_mut(s.row), s);
        }
        if let Some(sent) = self.stats.sent_at {
            self.st.last_send.set(Some(self.st.last_send.get().map_or(sent, |l| l.max(sent))));
        }
        cut(&mut rec, named, row, &self.stats);
    }
}

/// A measured call the run's end cut: in flight (its request was written) or not sent, both
/// `unfinished`, in the totals and its row.
pub(super) fn cut(rec: &mut Recorder, named: bool, row: usize, stats: &CallStats) {
    if stats.sent_at.is_none() {
        return not_sent(rec, named, row, ErrorKind::Unfinished);
    }
    let cut = |r: &mut Recorder| {
        r.record_sent(Duration::ZERO, stats.bytes_out);
        r.accounting.in_flight += 1;
        r.record_error(ErrorKind::Unfinished);
    };
    cut(rec);
    if named {
        cut(rec.row_mut(row));
    }
}

/// A measured job that was never written, failed with `kind`: in the totals and its row.
pub(super) fn not_sent(rec: &mut Recorder, named: bool, row: usize, kind: ErrorKind) {
    rec.record_error(kind);
    rec.accounting.not_sent += 1;
    if named {
        let r = rec.row_mut(row);
        r.record_error(kind);
        r.accounting.not_sent += 1;
    }
}

/// The report row an iteration of `kind` is recorded under (row 0 when the plan has no rows).
pub(super) fn row_of_kind(kind_rows: &[usize], kind: usize) -> usize {
    kind_rows.get(kind).copied().unwrap_or(0)
}

/// Records one request (or iteration): sent, then answered or failed. A complete response that
/// failed all the same (`answered`) counts under its status and as its failure.
fn record(rec: &mut Recorder, s: &StepRecord) {
    if !s.user_wait.is_zero() {
        rec.accounting.user_waits += 1;
        rec.accounting.user_wait_us += s.user_wait.as_micros() as u64;
    }
    match s.sent_at {
        // The send lag leaves out the time the iteration waited for its user (a login): that
        // wait is the user's, not a connection's or the pacer's.
        Some(sent) => {
            let lag = sent.saturating_duration_since(s.started).saturating_sub(s.user_wait);
            rec.record_sent(lag, s.bytes_out)
        }
        // An iteration that needed no request of its own (every step already done for its user).
        None if s.result.is_ok() => rec.sent += 1,
        None => {}
    }
    let service = s.done.saturating_duration_since(s.sent_at.unwrap_or(s.started));
    let latency = s.done.saturating_duration_since(s.started);
    match (s.result, s.answered) {
        (Ok(code), _) => {
            rec.record_response(code, latency, service, s.bytes_in);
            rec.body_in += s.body_in;
        }
        (Err(kind), Some(code)) => {
            rec.record_response(code, latency, service, s.bytes_in);
            rec.body_in += s.body_in;
            rec.record_error(kind);
        }
        (Err(kind), None) => {
            rec.record_error(kind);
            if s.sent_at.is_some() {
                rec.accounting.no_response += 1;
            } else {
                rec.accounting.not_sent += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::last_second;
    use std::time::Duration;

    #[test]
    fn answers_after_the_schedule_go_with_its_last_second() {
        let end = Duration::from_secs(3).as_nanos() as u64;
        // Ticks at 1, 2 and 3 s happened; the drain's answers go with second 3, not a 4th.
        assert_eq!(last_second(4, None, end), 3);
        // The schedule ended before the tick at 3 s: the rest is second 3's anyway.
        assert_eq!(last_second(3, None, end), 3);
        // Interrupted at 2.5 s: the half second 2-2.5 is a real second of its own.
        assert_eq!(last_second(3, Some(Duration::from_millis(2500)), end), 3);
        // Interrupted at 2.0 s exactly after the tick at 2 s: nothing new after it.
        assert_eq!(last_second(3, Some(Duration::from_secs(2)), end), 2);
        // A sub-second run never ticked: its only second is the first.
        assert_eq!(last_second(1, None, Duration::from_millis(500).as_nanos() as u64), 1);
        // A 2.5 s schedule: the third second is real, partly scheduled.
        assert_eq!(last_second(3, None, Duration::from_millis(2500).as_nanos() as u64), 3);
    }
}
