//! What one pinned core runs for `blast ws`: its share of the ramp (connections opened
//! open-loop at `--connect-rate`, until each is open or failed), the hold (core 0 publishes
//! the probes once the subscriptions are acknowledged, within the hold), the drain and the
//! close; and what it hands back to the runner.

use crate::engine::pacer::{constant_offset_ns, rate_nano, Arrival, Pacer};
use crate::engine::rng::SplitMix64;
use crate::engine::runner::{Core, Tally};
use crate::workloads::ws::plan::WsPlan;
use crate::workloads::ws::state::{CoreWs, Shared};
use crate::workloads::ws::tally::WsTally;
use crate::workloads::ws::{probe, session};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one core measured, merged over the cores by the runner.
#[derive(Default)]
pub struct CoreEnd {
    pub tally: WsTally,
    /// When this core's last connection was open or failed (the end of its ramp).
    pub last_upgraded: Option<Instant>,
    /// When this core's last connection was subscribed or failed.
    pub last_settled: Option<Instant>,
    /// When core 0 held the connections (and probed): from, to.
    pub hold: Option<(Instant, Instant)>,
}

impl Tally for CoreEnd {
    fn merge(&mut self, o: CoreEnd) {
        self.tally.merge(o.tally);
        let later = |a: Option<Instant>, b: Option<Instant>| a.max(b);
        self.last_upgraded = later(self.last_upgraded, o.last_upgraded);
        self.last_settled = later(self.last_settled, o.last_settled);
        if o.hold.is_some() {
            self.hold = o.hold;
        }
    }
}

/// Runs this core's share of the connections (after the shared start) to the end of the run.
pub async fn run_core(core_run: Core<()>, plan: WsPlan, shared: Arc<Shared>) -> CoreEnd {
    let index = core_run.index;
    let stop = core_run.stop_flag().clone();
    let Some(start) = core_run.start() else { return CoreEnd::default() };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mine = plan.conns_on(index);
    let core = Rc::new(CoreWs {
        plan: plan.clone(),
        tally: RefCell::new(WsTally::default()),
        stop_rx,
        epoch: Instant::now(),
        shared: shared.clone(),
        upgraded: Cell::new(0),
        last_upgraded: Cell::new(None),
        last_settled: Cell::new(None),
        open: Cell::new(0),
        stopping: Cell::new(false),
        interrupt: stop.clone(),
        live: core_run.live().clone(),
        index,
        rng: RefCell::new(SplitMix64::new(0x5eed ^ index as u64)),
        max_probe_id: plan.max_probe_id(),
        login: plan.login.as_ref().map(|l| l.core(index)),
    });

    // Ramp: connection i of the whole run opens at i / connect-rate (open-loop).
    let end_ns = constant_offset_ns(plan.conns as u64, rate_nano(plan.connect_rate));
    let mut pacer = Pacer::new(plan.connect_rate, plan.cores, index, Arrival::Constant, 0, end_ns).sharded(plan.shard);
    let mut timer = crate::clock::PreciseTimer::new();
    let mut sessions = Vec::with_capacity(mine);
    while let Some(slot) = pacer.next_slot() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        timer.sleep_until(start + Duration::from_nanos(slot.offset_ns)).await;
        let room = (slot.seq % plan.rooms as u64) as u32;
        sessions.push(tokio::task::spawn_local(session::run(core.clone(), slot.seq, room)));
    }
    // Wait until this core's connections are open or failed, then for the other cores'. The
    // subscriptions' acks are not waited for here: that wait is part of the hold.
    let ramp_deadline = Instant::now() + plan.timeout + Duration::from_secs(1);
    let waiting = |done: bool| !done && Instant::now() < ramp_deadline && !stop.load(Ordering::Relaxed);
    while waiting(core.upgraded.get() >= sessions.len()) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    shared.ramped.fetch_add(1, Ordering::AcqRel);
    while waiting(shared.ramped.load(Ordering::Acquire) >= plan.cores) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // Hold: `duration` from here. Core 0 (of shard 0) publishes probes once every connection of
    // this process is subscribed or failed, or `ack_wait` into the hold, whichever is first;
    // every core receives them. The hold ends early when no connection is open (all failed
    // before the start, or all were dropped and --reconnect is off): nothing is left to measure.
    let hold_start = Instant::now();
    let hold_end = hold_start + plan.duration + plan.linger();
    if index == 0 && plan.publishes() && !core.none_open() {
        let acks_by = hold_start + plan.ack_wait();
        while shared.settled.load(Ordering::Acquire) < plan.own_conns()
            && Instant::now() < acks_by
            && !core.stopping()
            && !core.none_open()
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        probe::publish(&core, hold_start, plan.duration).await;
    }
    let drain_end = hold_end + plan.drain;
    while Instant::now() < drain_end && !stop.load(Ordering::Relaxed) && !core.none_open() {
        tokio::time::sleep((drain_end - Instant::now()).min(Duration::from_millis(50))).await;
    }
    if stop.load(Ordering::Relaxed) {
        core.tally.borrow_mut().interrupted_us = Some(crate::workloads::ws::now_us());
    }
    let hold_done = Instant::now().min(hold_end);

    // Stop: close every connection, waiting a little for the close handshakes.
    core.stopping.set(true);
    let _ = stop_tx.send(true);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    for s in sessions {
        let abort = s.abort_handle();
        if tokio::time::timeout_at(deadline, s).await.is_err() {
            abort.abort();
        }
    }
    let tally = std::mem::take(&mut *core.tally.borrow_mut());
    CoreEnd {
        tally,
        last_upgraded: core.last_upgraded.get(),
        last_settled: core.last_settled.get(),
        hold: (index == 0).then_some((hold_start, hold_done)),
    }
}
