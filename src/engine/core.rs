//! What one pinned core runs for an open-loop (`Workload`) run: its pacer, its connections
//! and its recorder. The runner (`engine::runner`) starts the core and holds it at the start.
//!
//! Everything here lives on one thread (a current-thread tokio runtime with a `LocalSet`), so
//! state is shared through `Rc`/`RefCell` and the only cross-thread traffic is one message a
//! second to the reporter.

use crate::clock::PreciseTimer;
use crate::engine::pacer::Pacer;
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
/// The slots one wake-up finds due are queued with one clock read (each push takes tens of
/// nanoseconds, so their dispatch lag is read at the wake-up); past this many in a row (a
/// backlog) the clock is read again, so that a long batch's lag stays exact to within a
/// microsecond or so.
const QUEUED_PER_CLOCK_READ: u32 = 16;
/// The pacer looks at the stop flag at least this often while waiting.
const STOP_POLL: Duration = Duration::from_millis(50);
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
    /// Requests due before this instant are warm-up and not recorded.
    measure_from: Instant,
    timeout: Duration,
    /// The workload records under several names: each call also goes to its name's row.
    named: bool,
}

/// Runs one core to completion on the current thread; `recycled` brings emptied recorders
/// back from the reporter, to be reused; `opened_anywhere` counts the connections every core opened
/// before the start (when none did, the run stops at once: the target is unreachable).
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
    let conns = plan.conns_on(index);

    // Open every connection before the clock starts, so the first requests pay no handshake.
    // With one name its row is the run's totals: no rows are kept (reports read the totals).
    let rows = if plan.rows > 1 { plan.rows } else { 0 };
    let mut recorder = Recorder::with_rows(rows);
    let mut opened = Vec::with_capacity(conns);
    let mut preconnect_failed = 0;
    let mut preconnect_error = None;
    let lanes = plan.cores * plan.shard.1.max(1) as usize;
    let lane = plan.shard.0 as usize * plan.cores + index;
    let shared = Rc::new(workload.core(Lane { core: index, lane, lanes }));
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
                recorder.record_connect(took, true);
                opened.push(Some(conn));
            }
            Ok((Err(kind), took)) => {
                recorder.record_connect(took, false);
                preconnect_failed += 1;
                preconnect_error.get_or_insert(kind);
                opened.push(None);
            }
            Err(_) => {
                preconnect_failed += 1;
                opened.push(None);
            }
        }
    }

    // Allocate before the clock starts: the queue, the timer, and spare recorders for the
    // first interval swaps (later ones come back recycled from the reporter).
    let queue = JobQueue::new(conns, plan.queue_per_core());
    crate::clock::tighten_timer_slack();
    let mut timer = PreciseTimer::new();
    let mut spares = vec![Recorder::with_rows(rows), Recorder::with_rows(rows)];

    opened_anywhere.fetch_add(opened.iter().filter(|c| c.is_some()).count(), Ordering::Relaxed);

    // Every core has opened its connections: the clock starts.
    let Some(start) = core.start() else {
        return CoreTally { preconnect_failed, preconnect_error, ..CoreTally::default() };
    };
    // Past the start every core has counted (the start is a barrier): when no connection of
    // the run could be opened, no request could be sent either, so nothing is run.
    if opened_anywhere.load(Ordering::Relaxed) == 0 {
        let _ = sink.send(Snapshot { core: index, second: 1, recorder, last: true });
        return CoreTally { preconnect_failed, preconnect_error, unreachable: true, ..CoreTally::default() };
    }
    let measure_from = start + plan.warmup;
    let end_ns = (plan.warmup + plan.duration).as_nanos() as u64;

    let st = Rc::new(CoreState {
        queue,
        recorder: RefCell::new(recorder),
        inflight: Cell::new(0),
        last_send: Cell::new(None),
        measure_from,
        timeout: plan.timeout,
        named: rows > 0,
    });

    let conn_tasks: Vec<_> = opened
        .into_iter()
        .enumerate()
        .map(|(c, conn)| {
            tokio::task::spawn_local(conn_loop(
                st.clone(),
                workload.clone(),
                shared.clone(),
                plan.kind_rows.clone(),
                c,
                conn,
            ))
        })
        .collect();

    // The second the ticker will close next: what is recorded after the last tick belongs there.
    let open_second = Rc::new(Cell::new(1u64));
    let ticker = {
        let st = st.clone();
        let sink = sink.clone();
        let open_second = open_second.clone();
        tokio::task::spawn_local(async move {
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
                open_second.set(second);
            }
        })
    };

    // The pacer: every wake-up sends every slot that is due, and intended times come from the
    // schedule alone.
    let mut pacer = Pacer::new(plan.rate, plan.cores, index, plan.arrival, plan.seed, end_ns)
        .shaped(plan.shape.clone())
        .sharded(plan.shard.0, plan.shard.1);
    let spin = SPIN_MAX.min(Duration::from_secs_f64(SPIN_CPU_SHARE * plan.cores as f64 / plan.own_rate()));
    let mut stopped_at = None;
    let mut next = pacer.next_slot();
    let mut now = Instant::now();
    let mut last_wake = now;
    // Slots queued since `now` was read: one clock read serves every slot a wake-up finds due.
    let mut queued_since_read = 0u32;
    // This core's lane among every core of every shard, and its arrivals so far.
    let lane = plan.shard.0 as u64 * plan.cores as u64 + index as u64;
    let mut nth = 0u64;
    while let Some(slot) = next {
        if stop.load(Ordering::Relaxed) {
            stopped_at = Some(Instant::now());
            break;
        }
        let due = start + Duration::from_nanos(slot.offset_ns);
        if due > now || queued_since_read >= QUEUED_PER_CLOCK_READ {
            now = Instant::now();
            queued_since_read = 0;
        }
        if due > now {
            // Wake just before the slot, but at most once per coalescing window: at low rates
            // every slot is on time, at high rates one wake-up sends every slot due by then
            // (each at most a window late; that lag is recorded like any other).
            if due - now <= spin {
                tokio::task::yield_now().await;
            } else {
                let wake = (due - spin).max(last_wake + plan.coalesce);
                timer.sleep_until(wake.min(now + STOP_POLL)).await;
                now = Instant::now();
                last_wake = now;
            }
            continue;
        }
        queued_since_read += 1;
        let job = Job { seq: slot.seq, intended: due, kind: plan.mix.pick(lane, nth), nth };
        nth += 1;
        match st.queue.push(job) {
            Ok(depth) => {
                let mut rec = st.recorder.borrow_mut();
                rec.note_queue_depth(depth);
                if due >= measure_from {
                    rec.record_dispatch(now - due);
                }
            }
            Err(_) => {
                if due >= measure_from {
                    st.recorder.borrow_mut().record_error(ErrorKind::Dropped);
                }
            }
        }
        next = pacer.next_slot();
    }

    // Drain: queued and in-flight requests get at most the grace period.
    st.queue.close();
    // Iterations the workload times out step by step (flows: an upload of a hundred parts)
    // may run long after the schedule: they are waited for until done or interrupted.
    let long = (0..plan.kind_rows.len()).any(|k| !workload.timed_as_whole(k));
    let cut = plan.grace.min(plan.timeout);
    let grace = if stopped_at.is_some() {
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
                    abort.abort();
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
    ticker.abort();
    let unfinished = st.queue.len() as u64 + st.inflight.get();
    let mut recorder = std::mem::take(&mut *st.recorder.borrow_mut());
    recorder.record_errors(ErrorKind::Unfinished, unfinished);
    let second = last_second(open_second.get(), stopped_at.map(|at| at.saturating_duration_since(start)), end_ns);
    let _ = sink.send(Snapshot { core: index, second, recorder, last: true });
    CoreTally { stopped_at, preconnect_failed, preconnect_error, last_send: st.last_send.get(), unreachable: false }
}

/// The second the rest of a core's recording (after the ticker's last tick) goes with: the
/// second the ticker had open, unless that second began when the schedule (or the run, when
/// `stopped` after that long) was already over. Then it holds only the drain's answers to the
/// last requests, a sliver of a second: they go with the schedule's last second, so that the
/// series does not end in a phantom, nearly empty second that looks like the target collapsed.
fn last_second(open: u64, stopped: Option<Duration>, end_ns: u64) -> u64 {
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
    let mut steps: Vec<StepRecord> = Vec::new();
    let mut timer = crate::engine::timeout::LazyTimeout::default();
    while let Some(job) = st.queue.next(index).await {
        st.inflight.set(st.inflight.get() + 1);
        let measured = job.intended >= st.measure_from;
        let row = kind_rows.get(job.kind).copied().unwrap_or(0);
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
                    if measured {
                        let mut rec = st.recorder.borrow_mut();
                        rec.record_error(kind);
                        if st.named {
                            rec.row_mut(row).record_error(kind);
                        }
                    }
                    st.inflight.set(st.inflight.get() - 1);
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let mut stats = CallStats::default();
        steps.clear();
        let result = if workload.timed_as_whole(job.kind) {
            let call = std::pin::pin!(c.call(&job, &mut stats, &mut steps));
            match timer.run(st.timeout, call).await {
                Ok(r) => r,
                Err(_) => Err(ErrorKind::Timeout),
            }
        } else {
            c.call(&job, &mut stats, &mut steps).await
        };
        let done = Instant::now();
        let keep = result.is_ok() && c.reusable();
        if stats.reopened > 0 || stats.retried {
            let mut rec = st.recorder.borrow_mut();
            rec.record_reopened(stats.reopened, stats.connect_time);
            rec.retried += u64::from(stats.retried);
        }
        if measured {
            let mut rec = st.recorder.borrow_mut();
            if let Some(sent) = stats.sent_at {
                st.last_send.set(Some(st.last_send.get().map_or(sent, |l| l.max(sent))));
            }
            let iteration = StepRecord {
                row,
                started: job.intended,
                sent_at: stats.sent_at,
                done,
                result,
                bytes_out: stats.bytes_out,
                bytes_in: stats.bytes_in,
                body_in: stats.body_in,
            };
            record(&mut rec, &iteration);
            if st.named {
                record(rec.row_mut(row), &iteration);
            }
            // What the target said it spent itself, for a lone request (a flow's steps are
            // timed one by one).
            if let (Some(target), Some(sent), Ok(_)) = (stats.target_time, stats.sent_at, result) {
                if steps.is_empty() {
                    rec.record_beyond_target(done - job.intended, done - sent, target);
                }
            }
            for s in &steps {
                record(rec.row_mut(s.row), s);
            }
        }
        if !keep {
            conn = None;
        }
        st.inflight.set(st.inflight.get() - 1);
    }
}

/// Records one request (or iteration): sent, then answered or failed.
fn record(rec: &mut Recorder, s: &StepRecord) {
    if let Some(sent) = s.sent_at {
        rec.record_sent(sent.saturating_duration_since(s.started), s.bytes_out);
    }
    match s.result {
        Ok(code) => {
            let service = s.done.saturating_duration_since(s.sent_at.unwrap_or(s.started));
            rec.record_response(code, s.done.saturating_duration_since(s.started), service, s.bytes_in);
            rec.body_in += s.body_in;
        }
        Err(kind) => rec.record_error(kind),
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
