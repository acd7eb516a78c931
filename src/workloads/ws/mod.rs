//! `blast ws`: many WebSocket connections held open, subscribed to conversations, with latency
//! probes that measure how long a broadcast takes to reach every subscriber.
//!
//! - `plan`: the validated run (`WsPlan`), how probes are sent (`ProbeVia`), auth (`WsAuth`).
//! - `format`: the message templates and how probes are read from messages (`ProbeReader`).
//! - `state`: what one core's tasks share (`CoreWs`) and the live counters.
//! - `core`: what one pinned core runs (ramp, hold, drain, close) on the engine's runner.
//! - `session`: one connection's life (log in, connect, subscribe, heartbeat, receive).
//! - `login`: `--login`: each connection's HTTP login before its upgrade, and again after an
//!   auth refusal; `login_file`: the file it is read from.
//! - `probe`: the publisher of probes (HTTP POST, or a text frame on a WebSocket of its own);
//!   `probe_users`: with `--login`, the logged-in users HTTP probes are sent as, in turn.
//! - `tally`: per-core counters and the exact delivered/expected accounting.
//! - `raw`: the run's tally and plan as JSON reports carry them (`blast merge`).
//!
//! Connections are opened open-loop at `--connect-rate` with the engine's pacer, spread over
//! the pinned cores; each core records into its own tally, merged when the run ends.

pub mod core;
pub mod format;
pub mod login;
pub mod login_file;
pub mod plan;
pub mod probe;
pub mod probe_users;
pub mod raw;
pub mod session;
pub mod state;
pub mod tally;

use crate::engine::live::Live;
use crate::engine::runner::{self, Cores};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::SystemTime;
use tally::WsTally;

pub use plan::{ProbeVia, WsAuth, WsPlan};
pub use state::{now_us, CoreWs, LIVE_DELIVERED, LIVE_DROPPED, LIVE_FAILED, LIVE_OPEN};

/// What a ws run measured.
pub struct WsOutcome {
    pub tally: WsTally,
    /// From the start until every connection was open or had failed.
    pub ramp_secs: f64,
    /// From the start until every connection was subscribed or had failed (the last ack may
    /// come during the hold).
    pub settled_secs: f64,
    /// Seconds connections were held and probed.
    pub hold_secs: f64,
    pub interrupted: bool,
    pub pinned: usize,
    /// blast's own CPU: each core's, second by second from the start.
    pub cpu: crate::engine::cpu::RunCpu,
    /// Wall-clock time the run started.
    pub started_at: SystemTime,
}

/// Runs the plan on the engine's runner (one `core::run_core` per core) and merges their
/// tallies; `progress` is called about once a second with the live counters.
pub fn run(plan: &WsPlan, stop: Arc<AtomicBool>, progress: impl FnMut(&Live)) -> Result<WsOutcome, String> {
    let shared = Arc::new(state::Shared::new(plan.max_probe_id()));
    let works: Vec<_> = (0..plan.cores)
        .map(|_| {
            let (plan, shared) = (plan.clone(), shared.clone());
            move |core| core::run_core(core, plan, shared)
        })
        .collect();
    let cores = Cores { pin: plan.pin, start_at: plan.start_at, uring: false };
    let done = runner::run(cores, &stop, works, |(), _| {}, progress).map_err(|e| e.to_string())?;
    let ended = done.tally;
    let since_start =
        |at: Option<std::time::Instant>| at.map_or(0.0, |s| s.saturating_duration_since(done.start).as_secs_f64());
    Ok(WsOutcome {
        tally: ended.tally,
        ramp_secs: since_start(ended.last_upgraded),
        settled_secs: since_start(ended.last_settled),
        hold_secs: ended.hold.map_or(0.0, |(a, b)| b.saturating_duration_since(a).as_secs_f64()),
        interrupted: stop.load(Ordering::Relaxed),
        pinned: done.pinned,
        started_at: done.started_at,
        cpu: done.cpu,
    })
}
