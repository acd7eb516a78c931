//! `blast ws`: many WebSocket connections held open, subscribed to conversations, with latency
//! probes that measure how long a broadcast takes to reach every subscriber.
//!
//! - `session`: one connection's life (connect, subscribe, heartbeat, receive).
//! - `probe`: the publisher of probes (HTTP POST, or a text frame on a WebSocket of its own).
//! - `tally`: per-core counters and the exact delivered/expected accounting.
//!
//! Connections are opened open-loop at `--connect-rate` with the engine's pacer, spread over
//! the pinned cores; each core records into its own tally, merged when the run ends.

pub mod probe;
pub mod session;
pub mod tally;

use crate::engine::live::Live;
use crate::engine::pacer::{constant_offset_ns, Arrival, Pacer};
use crate::engine::threads::Pinned;
use crate::workloads::api::target::HttpTarget;
use std::cell::{Cell, RefCell};
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tally::WsTally;

/// Wall-clock microseconds since the Unix epoch: probes carry it, so that the publisher and the
/// receivers (other threads, or shards on the same host) share one time base.
pub fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

/// A validated `blast ws` run.
#[derive(Clone, Debug)]
pub struct WsPlan {
    /// ws://host:port/path, parsed like an HTTP target.
    pub target: HttpTarget,
    /// Where probes are POSTed (with `probe_via` Http).
    pub probe_target: HttpTarget,
    pub probe_via: probe::ProbeVia,
    /// Probe frame for `probe_via` Ws: `{{room}}`, `{{probe_id}}`, `{{sent_at_us}}` are replaced.
    pub publish_template: String,
    pub conns: usize,
    pub cores: usize,
    pub connect_rate: f64,
    /// How long connections are held (and probed) once all are open.
    pub duration: Duration,
    pub probe_rate: f64,
    pub heartbeat: Option<Duration>,
    /// Heartbeat with `{"type":"ping"}` text frames instead of WebSocket pings.
    pub app_heartbeat: bool,
    pub rooms: u32,
    pub token: Option<String>,
    pub timeout: Duration,
    pub reconnect: bool,
    pub bind: Vec<IpAddr>,
    /// Subscribe message; `{{room}}` is replaced by the conversation id.
    pub subscribe_template: String,
    pub probe_id_pointer: String,
    pub probe_ts_pointer: String,
    /// After the last probe, how long deliveries may still arrive.
    pub drain: Duration,
    pub pin: bool,
    /// Shard `.0` of `.1` (`--shard I/N`): this process opens connection `g` of the run when
    /// `g mod N == I`; shard 0 alone publishes the probes.
    pub shard: (u32, u32),
    /// Wall-clock start (`--start-at`), so that shards begin together.
    pub start_at: Option<SystemTime>,
    /// For `wss://` targets (and an https:// probe target).
    pub tls: Option<crate::tls::ClientTls>,
}

impl WsPlan {
    pub fn room_name(&self, room: u32) -> String {
        format!("room-{room}")
    }

    pub fn subscribe_message(&self, room: u32) -> String {
        self.subscribe_template.replace("{{room}}", &self.room_name(room))
    }

    pub fn publish_message(&self, room: u32, probe_id: u64, sent_us: u64) -> String {
        self.publish_template
            .replace("{{room}}", &self.room_name(room))
            .replace("{{probe_id}}", &probe_id.to_string())
            .replace("{{sent_at_us}}", &sent_us.to_string())
    }

    /// Connections this process opens (its shard's share of `conns`).
    pub fn own_conns(&self) -> usize {
        crate::engine::shard_share(self.conns as u64, self.shard) as usize
    }

    fn conns_on(&self, core: usize) -> usize {
        crate::engine::spread(self.own_conns(), self.cores, core)
    }

    /// This process publishes the probes (the only shard, or shard 0 of several).
    pub fn publishes(&self) -> bool {
        self.shard.0 == 0 && self.probe_rate > 0.0
    }

    /// How much longer than `duration` this process holds its connections: a shard that does
    /// not publish stays subscribed long enough for every probe of shard 0 to reach it, since
    /// shards' ramps may settle up to `timeout + 1s` apart.
    fn linger(&self) -> Duration {
        if self.shard.0 == 0 {
            Duration::ZERO
        } else {
            self.timeout + Duration::from_secs(1)
        }
    }
}

/// State shared by the tasks of one core.
pub struct CoreWs {
    pub plan: WsPlan,
    pub tally: RefCell<WsTally>,
    pub stop_rx: tokio::sync::watch::Receiver<bool>,
    /// Time base of heartbeat payloads.
    pub epoch: Instant,
    settled: Cell<usize>,
    last_settled: Cell<Option<Instant>>,
    open: Cell<u64>,
    stopping: Cell<bool>,
    /// Set by Ctrl-C / SIGTERM.
    interrupt: Arc<AtomicBool>,
    /// Live progress: [open connections, deliveries, dropped, failed connects].
    pub live: Arc<Live>,
    pub index: usize,
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

    pub fn opened(&self) {
        self.open.set(self.open.get() + 1);
        self.live.set(self.index, LIVE_OPEN, self.open.get());
        let mut t = self.tally.borrow_mut();
        t.open_peak = t.open_peak.max(self.open.get());
    }

    pub fn closed(&self) {
        self.open.set(self.open.get().saturating_sub(1));
        self.live.set(self.index, LIVE_OPEN, self.open.get());
    }
}

/// What a ws run measured.
pub struct WsOutcome {
    pub tally: WsTally,
    /// From the start until every connection was subscribed or had failed.
    pub ramp_secs: f64,
    /// Seconds connections were held and probed.
    pub hold_secs: f64,
    pub interrupted: bool,
    pub pinned: usize,
    /// Wall-clock time the run started.
    pub started_at: SystemTime,
}

/// Indexes of the live counters.
pub const LIVE_OPEN: usize = 0;
pub const LIVE_DELIVERED: usize = 1;
pub const LIVE_DROPPED: usize = 2;
pub const LIVE_FAILED: usize = 3;

/// Runs the plan on pinned cores and merges their tallies; `progress` is called about once a
/// second with the live counters.
pub fn run(plan: &WsPlan, stop: Arc<AtomicBool>, mut progress: impl FnMut(&Live)) -> Result<WsOutcome, String> {
    let live = Arc::new(Live::new(plan.cores));
    let workers = Pinned::new(plan.pin);
    let barrier = Arc::new(Barrier::new(plan.cores + 1));
    let t0: Arc<OnceLock<Instant>> = Arc::new(OnceLock::new());
    let ramped = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel::<(WsTally, Option<Instant>, Option<(Instant, Instant)>)>();
    let mut threads = Vec::new();
    for index in 0..plan.cores {
        let (plan, barrier, t0, ramped, tx, stop, live) =
            (plan.clone(), barrier.clone(), t0.clone(), ramped.clone(), tx.clone(), stop.clone(), live.clone());
        let fail_barrier = barrier.clone();
        let handle = workers
            .spawn(
                index,
                move || async move {
                    barrier.wait();
                    let Some(&start) = t0.get() else { return };
                    let result = run_core(plan, index, start, ramped, stop, live).await;
                    let _ = tx.send(result);
                },
                move || {
                    fail_barrier.wait();
                },
            )
            .map_err(|e| format!("cannot start worker thread {index}: {e}"))?;
        threads.push(handle);
    }
    drop(tx);
    let (start, started_at) = crate::engine::run::start_time(plan.start_at);
    let _ = t0.set(start);
    barrier.wait();

    let mut tally = WsTally::default();
    let mut last_settled: Option<Instant> = None;
    let mut hold: Option<(Instant, Instant)> = None;
    let results = crate::engine::live::receive_with_ticks(&rx, || progress(&live));
    for (t, settled, h) in results {
        tally.merge(t);
        if let Some(s) = settled {
            last_settled = Some(last_settled.map_or(s, |l: Instant| l.max(s)));
        }
        if h.is_some() {
            hold = h;
        }
    }
    for t in threads {
        let _ = t.join();
    }
    let interrupted = stop.load(Ordering::Relaxed);
    Ok(WsOutcome {
        tally,
        ramp_secs: last_settled.map_or(0.0, |s| s.saturating_duration_since(start).as_secs_f64()),
        hold_secs: hold.map_or(0.0, |(a, b)| b.saturating_duration_since(a).as_secs_f64()),
        interrupted,
        pinned: workers.pinned(),
        started_at,
    })
}

type CoreResult = (WsTally, Option<Instant>, Option<(Instant, Instant)>);

async fn run_core(
    plan: WsPlan,
    index: usize,
    start: Instant,
    ramped: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    live: Arc<Live>,
) -> CoreResult {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mine = plan.conns_on(index);
    let core = Rc::new(CoreWs {
        plan: plan.clone(),
        tally: RefCell::new(WsTally::default()),
        stop_rx,
        epoch: Instant::now(),
        settled: Cell::new(0),
        last_settled: Cell::new(None),
        open: Cell::new(0),
        stopping: Cell::new(false),
        interrupt: stop.clone(),
        live,
        index,
    });

    // Ramp: connection i of the whole run opens at i / connect-rate (open-loop).
    let rate_milli = ((plan.connect_rate * 1000.0).round() as u64).max(1);
    let end_ns = constant_offset_ns(plan.conns as u64, rate_milli);
    let mut pacer = Pacer::new(plan.connect_rate, plan.cores, index, Arrival::Constant, 0, end_ns)
        .sharded(plan.shard.0, plan.shard.1);
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
    // Wait until this core's connections are subscribed or failed, then for the other cores.
    let ramp_deadline = Instant::now() + plan.timeout + Duration::from_secs(1);
    while core.settled.get() < sessions.len() && Instant::now() < ramp_deadline && !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    ramped.fetch_add(1, Ordering::Relaxed);
    while ramped.load(Ordering::Relaxed) < plan.cores && Instant::now() < ramp_deadline && !stop.load(Ordering::Relaxed)
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // Hold: core 0 (of shard 0) publishes probes; every core receives them.
    let hold_start = Instant::now();
    let hold_end = hold_start + plan.duration + plan.linger();
    if index == 0 && plan.publishes() {
        probe::publish(&core, hold_start, plan.duration).await;
    }
    let drain_end = hold_end + plan.drain;
    while Instant::now() < drain_end && !stop.load(Ordering::Relaxed) {
        tokio::time::sleep((drain_end - Instant::now()).min(Duration::from_millis(50))).await;
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
    (tally, core.last_settled.get(), (index == 0).then_some((hold_start, hold_done)))
}
