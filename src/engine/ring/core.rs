//! One core of a `--io ring` run, in phases like the epoll core's (`engine::core::run_core`):
//! open the connections, wait at the shared start, then one loop until the schedule and the
//! drain are over. Each turn of the loop: queue every due slot (`arrivals`, with the epoll
//! core's accounting), give queued jobs to free connections (render, queue the send), close
//! the second when one has passed, hand every queued submission to the kernel and wait for
//! completions until the next due slot (one `io_uring_enter`), then take the completions in
//! one batch, timed by one clock read (or by the kernel's receive times, when the receives
//! bring them: then only the next due slot wakes the core), and record what they end
//! (`conns`).

use super::conns::{Engine, UNSTAMPED_HOLD};
use super::uring::{realtime_ns, RecvMode, Ring};
use super::Lone;
use crate::engine::arrivals::{Arrival, Arrivals};
use crate::engine::core::{last_second, queue_job, CoreTally, Ends, Snapshot, STOP_POLL};
use crate::engine::plan::Plan;
use crate::engine::queue::JobQueue;
use crate::engine::recorder::{ErrorKind, Recorder};
use crate::engine::runner::Core;
use crate::engine::workload::Lane;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs one core to completion on the current thread (see the module). `recycled` brings
/// emptied recorders back from the reporter; `opened_anywhere` counts the connections every
/// core opened before the start.
pub async fn run_core<W: Lone>(
    core: Core<Snapshot>,
    plan: Plan,
    workload: Arc<W>,
    recycled: Receiver<Recorder>,
    opened_anywhere: Arc<AtomicUsize>,
) -> CoreTally {
    let index = core.index;
    let sink = core.updates();
    let lane = Lane {
        core: index,
        lane: plan.shard.index as usize * plan.cores + index,
        lanes: plan.cores * plan.shard.count.max(1) as usize,
    };
    let rows = if plan.rows > 1 { plan.rows } else { 0 };
    let conns = plan.conns_on(index);
    let mode = RecvMode::of(&plan.io.why);
    let entries = (conns as u32 * 4).clamp(256, 32_768).next_power_of_two();
    let buffers = (conns as u32 * 2).clamp(64, 4096).next_power_of_two() as u16;
    let mut pre = Recorder::with_rows(rows);
    let ring = match Ring::new(entries, conns.max(1) as u32, mode, buffers) {
        Ok(r) => r,
        Err(e) => {
            // Nothing can be sent from this core: its connections count as failed.
            let _ = core.start();
            let _ = sink.send(Snapshot { core: index, second: 1, recorder: pre, last: true });
            eprintln!("blast: core {index} could not set up its io_uring ({e})");
            return CoreTally {
                preconnect_failed: conns as u64,
                preconnect_error: Some(ErrorKind::Io),
                ..CoreTally::default()
            };
        }
    };
    let w = &*workload;
    let shared = w.ring_core(lane);
    let mut e = Engine {
        w,
        slots: Vec::with_capacity(conns),
        core: shared,
        ring,
        idle: Vec::with_capacity(conns),
        free: Vec::with_capacity(conns),
        queue: JobQueue::new(conns, plan.queue_per_core()),
        deadlines: VecDeque::with_capacity(conns * 2),
        timeout: plan.timeout,
        recorder: Recorder::new(),
        ends: Ends::default(),
        named: rows > 0,
        kind_rows: plan.kind_rows.clone(),
        measure_from: Instant::now(),
        inflight: 0,
        done: Vec::with_capacity(entries as usize * 2),
        sends_queued: 0,
        connecting: 0,
        unstamped_until: None,
        partial: 0,
        target: w.addrs().first().copied().unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0))),
    };
    let (failed, error) = e.preconnect(conns, &mut pre);
    crate::clock::tighten_timer_slack();
    let mut spares = vec![Recorder::with_rows(rows), Recorder::with_rows(rows)];
    opened_anywhere.fetch_add(e.idle.len(), Ordering::Relaxed);

    let Some(start) = core.start() else {
        e.close_all();
        return CoreTally { preconnect_failed: failed, preconnect_error: error, ..CoreTally::default() };
    };
    if opened_anywhere.load(Ordering::Relaxed) == 0 {
        e.close_all();
        let _ = sink.send(Snapshot { core: index, second: 1, recorder: pre, last: true });
        return CoreTally {
            preconnect_failed: failed,
            preconnect_error: error,
            unreachable: true,
            ..CoreTally::default()
        };
    }
    e.recorder = pre;
    e.measure_from = start + plan.warmup;
    // The kernel turns receive times on a moment after the first socket asks.
    e.unstamped_until = Some(start + UNSTAMPED_HOLD);
    let end_ns = (plan.warmup + plan.duration).as_nanos() as u64;
    let stop = core.stop_flag().clone();

    let mut arrivals = Arrivals::new(&plan, index, lane.lane as u64, start, end_ns);
    let mut second = 1u64;
    let mut yield_at: Option<Instant> = None;
    let mut now = Instant::now();
    let mut last_wake = now;
    let mut stopped_at: Option<Instant> = None;
    // Set once the schedule is over (ran out or stopped): the drain's deadline.
    let mut drain_until: Option<Instant> = None;
    let cut_span = plan.grace.min(plan.timeout);
    loop {
        if drain_until.is_none() && stop.load(Ordering::Relaxed) {
            stopped_at = Some(now);
            arrivals.stop();
        }
        // Pace: every slot due by now, each queued or dropped as the epoll core does.
        arrivals.clock_read();
        while let Arrival::Due(job) = arrivals.take(&mut now) {
            queue_job(&e.queue, &mut e.recorder, e.named, &e.kind_rows, e.measure_from, job, now);
        }
        if arrivals.next_due().is_none() && drain_until.is_none() {
            drain_until = Some(now + if stopped_at.is_some() { cut_span } else { plan.timeout });
        }
        e.dispatch(now);
        e.expire(now);
        // The second: the recorder goes to the reporter, a fresh one takes its place.
        if now >= start + Duration::from_secs(second) {
            spares.extend(recycled.try_iter());
            let fresh = spares.pop().unwrap_or_else(|| Recorder::with_rows(rows));
            let recorder = std::mem::replace(&mut e.recorder, fresh);
            let _ = sink.send(Snapshot { core: index, second, recorder, last: false });
            second += 1;
            // The runner's once-a-second CPU reading is a tokio timer: let it run (tokio's
            // timers round up to the millisecond).
            yield_at = Some(now + Duration::from_millis(2));
        }
        if yield_at.is_some_and(|at| now >= at) {
            yield_at = None;
            // Twice: the first lets the runtime fire the timer, the second lets its task run.
            tokio::task::yield_now().await;
            tokio::task::yield_now().await;
        }
        if let Some(until) = drain_until {
            if stop.load(Ordering::Relaxed) && stopped_at.is_none() {
                // Interrupted during the drain: in-flight requests get the grace period.
                drain_until = Some(until.min(now + cut_span));
                stopped_at = Some(now);
            }
            if (e.inflight == 0 && e.queue.is_empty()) || now >= until {
                break;
            }
        }
        // Wait for completions until the next thing due: a slot (at most once per coalescing
        // window), the second, a deadline, the stop flag's next look.
        let mut wake = (start + Duration::from_secs(second)).min(now + STOP_POLL);
        if let Some(due) = arrivals.next_due() {
            wake = wake.min(due.max(last_wake + plan.coalesce));
        }
        if let Some(&(at, _, _)) = e.deadlines.front() {
            wake = wake.min(at);
        }
        for at in [yield_at, drain_until].into_iter().flatten() {
            wake = wake.min(at);
        }
        // What ends the wait early: one completion more than the sends just queued (whose
        // completions come at once), so each response wakes the core. Where responses carry
        // the kernel's receive time the core sleeps through them until the wait's end (or a
        // full completion queue), except in the drain, where the last responses end the run.
        let sends = std::mem::take(&mut e.sends_queued);
        let sleep_through = drain_until.is_none() && !plan.coalesce.is_zero() && e.sleeps_through_responses(now);
        // A wake-up only to read (no send due by then) does not count as the window's
        // wake-up: the next slot's is not put off by it.
        let mut to_read = false;
        let want = if sleep_through {
            // At most one coalescing window with calls in flight: a server that waits for
            // the core to read waits no longer than a send may (see `sleeps_through_responses`).
            if e.inflight > 0 && now + plan.coalesce < wake {
                wake = now + plan.coalesce;
                to_read = true;
            }
            e.ring.cq_capacity()
        } else {
            sends + 1
        };
        if let Err(err) = e.ring.enter(wake.saturating_duration_since(now), want) {
            eprintln!("blast: core {index}: io_uring_enter failed ({err}); the core stops");
            stopped_at.get_or_insert(now);
            break;
        }
        now = Instant::now();
        let real_now = realtime_ns();
        if !to_read {
            last_wake = now;
        }
        e.complete(now, real_now);
    }

    // Whatever the drain did not finish is unfinished: calls in flight, jobs still queued.
    let mut recorder = std::mem::take(&mut e.recorder);
    e.settle_unfinished(&mut recorder);
    e.close_all();
    let second = last_second(second, stopped_at.map(|at| at.saturating_duration_since(start)), end_ns);
    let _ = sink.send(Snapshot { core: index, second, recorder, last: true });
    CoreTally {
        stopped_at,
        preconnect_failed: failed,
        preconnect_error: error,
        last_send: e.ends.last_send,
        last_done: e.ends.last_done,
        unreachable: false,
    }
}
