//! What the tasks of one ws core share (`CoreWs`), the live counters it publishes, and the
//! wall-clock time base probes carry.

use crate::engine::live::Live;
use crate::engine::rng::SplitMix64;
use crate::workloads::ws::plan::WsPlan;
use crate::workloads::ws::tally::WsTally;
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Wall-clock microseconds since the Unix epoch: probes carry it, so that the publisher and the
/// receivers (other threads, or shards on the same host) share one time base.
pub fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

/// State shared by the tasks of one core.
pub struct CoreWs {
    pub plan: WsPlan,
    pub tally: RefCell<WsTally>,
    pub stop_rx: tokio::sync::watch::Receiver<bool>,
    /// Time base of heartbeat payloads.
    pub epoch: Instant,
    pub(super) settled: Cell<usize>,
    pub(super) last_settled: Cell<Option<Instant>>,
    pub(super) open: Cell<u64>,
    pub(super) stopping: Cell<bool>,
    /// Set by Ctrl-C / SIGTERM.
    pub(super) interrupt: Arc<AtomicBool>,
    /// Live progress: [open connections, deliveries, dropped, failed connects].
    pub live: Arc<Live>,
    pub index: usize,
    /// For the templates' random functions.
    pub rng: RefCell<SplitMix64>,
    /// The largest probe id of the run: a larger one read from a message is not a probe.
    pub max_probe_id: u64,
}

impl CoreWs {
    pub fn stopping(&self) -> bool {
        self.stopping.get() || self.interrupt.load(Ordering::Relaxed)
    }

    /// A connection is subscribed or has failed: the ramp is one step further.
    pub fn settle(&self) {
        self.settled.set(self.settled.get() + 1);
        self.last_settled.set(Some(Instant::now()));
    }

    /// No connection of this process is open and none will be again (without --reconnect).
    pub fn none_open(&self) -> bool {
        !self.plan.reconnect && self.live.sum(LIVE_OPEN) == 0
    }

    pub fn opened(&self) {
        self.open.set(self.open.get() + 1);
        self.live.set(self.index, LIVE_OPEN, self.open.get());
        let mut t = self.tally.borrow_mut();
        t.open_peak = t.open_peak.max(self.open.get());
        t.open_per_second.note(now_us() / 1_000_000, self.open.get());
    }

    pub fn closed(&self) {
        self.open.set(self.open.get().saturating_sub(1));
        self.live.set(self.index, LIVE_OPEN, self.open.get());
        self.tally.borrow_mut().open_per_second.note(now_us() / 1_000_000, self.open.get());
    }
}

/// Indexes of the live counters.
pub const LIVE_OPEN: usize = 0;
pub const LIVE_DELIVERED: usize = 1;
pub const LIVE_DROPPED: usize = 2;
pub const LIVE_FAILED: usize = 3;
