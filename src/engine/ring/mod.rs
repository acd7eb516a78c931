//! `--io ring`: an open-loop core that drives its connections through one io_uring of its own,
//! from its own loop: no tokio reactor and no task per connection on the hot path. Each
//! wake-up queues every due request's send (and the receives to re-arm), hands them to the
//! kernel in one `io_uring_enter` that also waits, until the next due send, for completions,
//! and reaps the completions in one batch. Sockets are registered (fixed files); receives are
//! multishot into provided buffers where the kernel has them, single-shot otherwise. With the
//! kernel's receive time on each read (`SO_TIMESTAMPNS`), a response is timed when its last
//! segment arrived, and the core sleeps until its next due send instead of waking for each
//! response.
//!
//! The pacer, the queue and the recorder are the epoll core's (`engine::core`): the schedule,
//! the accounting of every request and the figures are the same. The protocol stays outside:
//! a workload that can run here ([`Lone`]) renders each job's request into bytes and parses the
//! bytes that come back; the engine only moves bytes over TCP.
//!
//! - `uring`: the ring itself: set-up, kernel probe, fixed files, provided buffers.
//! - `core`: one core's loop.
//! - `conns`: the core's connections and what the kernel's completions do to them.
//! - `sock`: TCP sockets for the kernel to connect, its error numbers as the recorder's kinds.

mod conns;
mod core;
mod sock;
pub mod uring;

pub use self::core::run_core;

use crate::engine::recorder::ErrorKind;
use crate::engine::workload::{Job, Lane};
use bytes::BytesMut;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Whether this kernel runs the ring: `Ok` says how it receives (the run's plan line shows
/// it), `Err` why it refuses. `BLAST_RING_RECV=single` asks for single-shot receives where
/// multishot ones would do, `BLAST_RING_RECV=multishot` for multishot receives without the
/// kernel's receive times (a core that wakes for every response, as before them): to compare
/// the ways, and to test the older kernels' ones.
pub fn probe() -> Result<String, String> {
    let single = |why: &str| format!("single-shot recv ({why}), registered sockets");
    let asked = std::env::var("BLAST_RING_RECV").unwrap_or_default();
    Ok(match uring::probe()? {
        uring::RecvMode::Single => single("the kernel refused multishot"),
        _ if asked == "single" => single("BLAST_RING_RECV=single"),
        uring::RecvMode::Stamped if asked == "multishot" => uring::RecvMode::Multishot.describe().to_string(),
        found => found.describe().to_string(),
    })
}

/// A complete response, as the workload parsed it.
#[derive(Clone, Copy, Debug)]
pub struct Answer {
    /// The protocol's outcome code (an HTTP status).
    pub status: u16,
    /// The peer closes the connection after it.
    pub close: bool,
    pub bytes_in: u64,
    pub body_in: u64,
    /// What the target said it spent on the request.
    pub target_time: Option<Duration>,
}

/// A workload whose every call is one request answered by one response on a plain TCP
/// connection: what the ring core needs of it. Shared by the cores; per-connection protocol
/// state is `Conn`.
pub trait Lone: Send + Sync + 'static {
    /// What the connections of one core share.
    type Core: 'static;
    /// One connection's protocol state (its response parser, its render buffers).
    type Conn: 'static;

    /// The shared state of core `lane.core`.
    fn ring_core(&self, lane: Lane) -> Self::Core;
    /// The target's addresses, tried in turn.
    fn addrs(&self) -> &[SocketAddr];
    /// The state of connection `index` of a core.
    fn ring_conn(&self, core: &Self::Core, index: usize) -> Self::Conn;
    /// Appends `job`'s request to `out`; `Err` when it cannot be sent (nothing left).
    fn render(&self, core: &Self::Core, conn: &mut Self::Conn, job: &Job, out: &mut Vec<u8>) -> Result<(), ErrorKind>;
    /// Parses what has arrived (`read`, consumed as parsed): `Some` once a response is whole.
    /// `eof`: the peer closed, `read` is all there will be.
    fn answer(&self, conn: &mut Self::Conn, read: &mut BytesMut, eof: bool) -> Result<Option<Answer>, ErrorKind>;
    /// A new TCP connection under `conn`: nothing of the last one's parsing is kept.
    fn fresh(&self, conn: &mut Self::Conn);
    /// The outcome of a whole response to `job` on `conn` (the request's checks, and what
    /// the connection keeps of it), `started` being when its call began.
    fn judge(
        &self,
        core: &Self::Core,
        conn: &mut Self::Conn,
        job: &Job,
        answer: &Answer,
        started: Instant,
    ) -> Result<u16, ErrorKind>;
}
