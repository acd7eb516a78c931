//! `blast ws`: many WebSocket connections held open, subscribed to conversations, with latency
//! probes that measure how long a broadcast takes to reach every subscriber.
//!
//! - `core`: what one pinned core runs (ramp, hold, drain, close) on the engine's runner.
//! - `session`: one connection's life (connect, subscribe, heartbeat, receive).
//! - `probe`: the publisher of probes (HTTP POST, or a text frame on a WebSocket of its own).
//! - `tally`: per-core counters and the exact delivered/expected accounting.
//!
//! Connections are opened open-loop at `--connect-rate` with the engine's pacer, spread over
//! the pinned cores; each core records into its own tally, merged when the run ends.

pub mod core;
pub mod probe;
pub mod session;
pub mod tally;

use crate::engine::live::Live;
use crate::engine::runner::{self, Cores};
use crate::http::HttpTarget;
use std::cell::{Cell, RefCell};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
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
        let own = self.own_conns();
        own / self.cores + usize::from(core < own % self.cores)
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

/// Runs the plan on the engine's runner (one `core::run_core` per core) and merges their
/// tallies; `progress` is called about once a second with the live counters.
pub fn run(plan: &WsPlan, stop: Arc<AtomicBool>, progress: impl FnMut(&Live)) -> Result<WsOutcome, String> {
    // Cores that have finished their part of the ramp; the hold starts when all have.
    let ramped = Arc::new(AtomicUsize::new(0));
    let works: Vec<_> = (0..plan.cores)
        .map(|_| {
            let (plan, ramped) = (plan.clone(), ramped.clone());
            move |core| core::run_core(core, plan, ramped)
        })
        .collect();
    let cores = Cores { pin: plan.pin, start_at: plan.start_at };
    let done = runner::run(cores, &stop, works, |()| {}, progress).map_err(|e| e.to_string())?;
    let ended = done.tally;
    Ok(WsOutcome {
        tally: ended.tally,
        ramp_secs: ended.last_settled.map_or(0.0, |s| s.saturating_duration_since(done.start).as_secs_f64()),
        hold_secs: ended.hold.map_or(0.0, |(a, b)| b.saturating_duration_since(a).as_secs_f64()),
        interrupted: stop.load(Ordering::Relaxed),
        pinned: done.pinned,
        started_at: done.started_at,
    })
}
