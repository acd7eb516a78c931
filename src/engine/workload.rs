//! The contract between the engine and a workload.
//!
//! The engine decides *when* (pacing), *on which connection* (queueing) and *what it measured*
//! (recording). A workload only knows how to open a connection and perform one call on it. This
//! split is what lets pacing, transport and protocol vary independently.

use crate::engine::recorder::ErrorKind;
use std::future::Future;
use std::time::Instant;

/// One scheduled request handed to a connection.
#[derive(Clone, Copy, Debug)]
pub struct Job {
    /// Globally unique sequence number.
    pub seq: u64,
    /// When the schedule said this request should be sent.
    pub intended: Instant,
}

/// What a call tells the engine besides its result; filled in while the call runs so that the
/// engine still knows whether the request left even when the call times out.
#[derive(Clone, Copy, Debug, Default)]
pub struct CallStats {
    /// When the first byte of the request was handed to the kernel.
    pub sent_at: Option<Instant>,
    pub bytes_out: u64,
    pub bytes_in: u64,
}

/// A protocol that the engine can drive. Shared by the cores (one `Arc`), so it holds only
/// immutable configuration; per-connection state lives in `Connection`.
pub trait Workload: Send + Sync + 'static {
    type Conn: Connection;

    /// Opens connection number `conn` of core `core`.
    fn connect(&self, core: usize, conn: usize) -> impl Future<Output = Result<Self::Conn, ErrorKind>>;
}

/// One open connection, owned by one task on one core.
pub trait Connection: 'static {
    /// Performs `job`; returns the protocol's outcome code (e.g. an HTTP status).
    fn call<'a>(
        &'a mut self,
        job: &'a Job,
        stats: &'a mut CallStats,
    ) -> impl Future<Output = Result<u16, ErrorKind>> + 'a;

    /// False once the peer asked to close; the engine then opens a new connection.
    fn reusable(&self) -> bool;
}
