//! What the tasks of one ws core share (`CoreWs`), what the cores of one process share
//! (`Shared`: the ramp's progress and blast's own send instant of every probe), the live
//! counters a core publishes, and the wall-clock time base probes carry.

use crate::engine::live::Live;
use crate::engine::rng::SplitMix64;
use crate::workloads::ws::plan::WsPlan;
use crate::workloads::ws::probe_users::ProbeUsers;
use crate::workloads::ws::tally::WsTally;
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Wall-clock microseconds since the Unix epoch: probes carry it, so that the publisher and the
/// receivers (other threads, or shards on the same host) share one time base.
pub fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

/// Most probe ids whose send instants `Shared` keeps (32 MiB); a later probe is timed from the
/// time its message carries, or from the publisher's record once the run ends.
const MAX_SENT_SLOTS: u64 = 1 << 22;

/// What the cores of one process share while a run goes.
pub struct Shared {
    /// Cores whose connections are all open or failed: the hold starts when every core's are.
    pub ramped: AtomicUsize,
    /// Connections subscribed (acknowledged, or no ack awaited) or failed, over all cores: the
    /// probes start when all are, or `WsPlan::ack_wait` into the hold.
    pub settled: AtomicUsize,
    /// Per probe id, blast's own send instant (Unix µs; 0: not sent), written by the publisher
    /// before it sends: a receiver that recognises a probe by its id times it from here.
    sent_us: Vec<AtomicU64>,
    /// When the first probe was sent (Unix µs; 0: none yet): a message that came later and
    /// carried no probe is shown as a probe blast could not read.
    pub probing_since: AtomicU64,
    /// Connections between an auth close and their next upgrade (logging in again): the run
    /// does not end for want of open connections while any is.
    pub relogging: AtomicUsize,
    /// `--login` with HTTP probes: the logged-in users the probes are sent as.
    pub probe_users: ProbeUsers,
}

impl Shared {
    /// For a run whose largest probe id is `max_probe_id`.
    pub fn new(max_probe_id: u64) -> Shared {
        let slots = max_probe_id.saturating_add(1).min(MAX_SENT_SLOTS) as usize;
        Shared {
            ramped: AtomicUsize::new(0),
            settled: AtomicUsize::new(0),
            sent_us: (0..slots).map(|_| AtomicU64::new(0)).collect(),
            probing_since: AtomicU64::new(0),
            relogging: AtomicUsize::new(0),
            probe_users: ProbeUsers::default(),
        }
    }

    /// The publisher is about to send probe `id` at `at_us`.
    pub fn sending(&self, id: u64, at_us: u64) {
        if let Some(slot) = self.sent_us.get(id as usize) {
            slot.store(at_us, Ordering::Release);
        }
        let _ = self.probing_since.compare_exchange(0, at_us, Ordering::AcqRel, Ordering::Relaxed);
    }

    /// blast's send instant of probe `id`, if this process sent it.
    pub fn sent_at(&self, id: u64) -> Option<u64> {
        self.sent_us.get(id as usize).map(|s| s.load(Ordering::Acquire)).filter(|&at| at > 0)
    }

    /// Whether a probe had been sent by `at_us`.
    pub fn probing_at(&self, at_us: u64) -> bool {
        let since = self.probing_since.load(Ordering::Acquire);
        since > 0 && since <= at_us
    }
}

/// State shared by the tasks of one core.
pub struct CoreWs {
    pub plan: WsPlan,
    pub tally: RefCell<WsTally>,
    pub stop_rx: tokio::sync::watch::Receiver<bool>,
    /// Time base of heartbeat payloads.
    pub epoch: Instant,
    /// What the process's cores share.
    pub shared: Arc<Shared>,
    /// This core's connections whose first attempt is over (open or failed), and when the
    /// last one's was.
    pub(super) upgraded: Cell<usize>,
    pub(super) last_upgraded: Cell<Option<Instant>>,
    /// When this core's last connection was subscribed or failed.
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
    /// `--login`: the login's per-core state.
    pub login: Option<crate::workloads::api::scenario::run::CoreScenario>,
}

impl CoreWs {
    pub fn stopping(&self) -> bool {
        self.stopping.get() || self.interrupt.load(Ordering::Relaxed)
    }

    /// A connection's first attempt is over (it is open, or it failed): the ramp is one step
    /// further.
    pub fn upgraded(&self) {
        self.upgraded.set(self.upgraded.get() + 1);
        self.last_upgraded.set(Some(Instant::now()));
    }

    /// A connection is subscribed or has failed.
    pub fn settle(&self) {
        self.ended_unsettled();
        self.last_settled.set(Some(Instant::now()));
    }

    /// A connection ended before it was subscribed: nothing waits for it any longer, but it
    /// does not move the time the subscriptions settled.
    pub fn ended_unsettled(&self) {
        self.shared.settled.fetch_add(1, Ordering::AcqRel);
    }

    /// No connection of this process is open and none will be again (without --reconnect).
    pub fn none_open(&self) -> bool {
        !self.plan.reconnect && self.live.sum(LIVE_OPEN) == 0 && self.shared.relogging.load(Ordering::Acquire) == 0
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_instants_are_known_by_id_once_sent() {
        let s = Shared::new(10);
        assert_eq!(s.sent_at(3), None, "not sent yet");
        assert!(!s.probing_at(u64::MAX), "no probe sent");
        s.sending(3, 1_000);
        s.sending(4, 2_000);
        assert_eq!(s.sent_at(3), Some(1_000));
        assert_eq!(s.sent_at(11), None, "beyond the run's ids");
        // Probing began with the first probe sent, not a later one.
        assert!(!s.probing_at(999) && s.probing_at(1_000) && s.probing_at(5_000));
    }
}
