//! The contract between the engine and a workload.
//!
//! The engine decides *when* (pacing), *on which connection* (queueing) and *what it measured*
//! (recording). A workload only knows how to open a connection and perform one call on it. This
//! split is what lets pacing, transport and protocol vary independently.

use crate::engine::recorder::ErrorKind;
use std::future::Future;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// One scheduled request handed to a connection.
#[derive(Clone, Copy, Debug)]
pub struct Job {
    /// Globally unique sequence number.
    pub seq: u64,
    /// When the schedule said this request should be sent.
    pub intended: Instant,
    /// Which of the workload's kinds of iteration this arrival is (the plan's mix).
    pub kind: usize,
    /// This arrival's number on its core (0-based), for round robin over per-core data.
    pub nth: u64,
}

/// Where a core stands in the whole run: its index in this process, and its lane among the
/// cores of every shard (lane `l` of `lanes` takes its share of per-core data).
#[derive(Clone, Copy, Debug)]
pub struct Lane {
    pub core: usize,
    pub lane: usize,
    pub lanes: usize,
}

/// One step of an iteration made of several (a flow), recorded under its own row.
#[derive(Clone, Copy, Debug)]
pub struct StepRecord {
    pub row: usize,
    /// When the step could start: the iteration's intended time, or the previous step's end.
    pub started: Instant,
    pub sent_at: Option<Instant>,
    pub done: Instant,
    pub result: Result<u16, ErrorKind>,
    pub bytes_out: u64,
    pub bytes_in: u64,
    /// Response body bytes alone (Locust's content size).
    pub body_in: u64,
    /// The status of a complete response that failed all the same (a value a later step needs
    /// was missing from it): the exchange completed, and counts under its status.
    pub answered: Option<u16>,
    /// Time the call waited for its virtual user before its own request (`CallStats::user_wait`).
    pub user_wait: Duration,
}

impl StepRecord {
    /// A call (a request, a step, a whole iteration) recorded under `row`, from what it said
    /// about itself (`stats`).
    pub fn of(row: usize, started: Instant, done: Instant, result: Result<u16, ErrorKind>, stats: &CallStats) -> Self {
        StepRecord {
            row,
            started,
            sent_at: stats.sent_at,
            done,
            result,
            bytes_out: stats.bytes_out,
            bytes_in: stats.bytes_in,
            body_in: stats.body_in,
            answered: None,
            user_wait: stats.user_wait,
        }
    }

    /// The same record, of a complete response with status `code` that failed all the same.
    pub fn answered(self, code: u16) -> Self {
        StepRecord { answered: Some(code), ..self }
    }

    /// A step that failed before anything was sent.
    pub fn failed(row: usize, started: Instant, done: Instant, kind: ErrorKind) -> Self {
        StepRecord {
            row,
            started,
            sent_at: None,
            done,
            result: Err(kind),
            bytes_out: 0,
            bytes_in: 0,
            body_in: 0,
            answered: None,
            user_wait: Duration::ZERO,
        }
    }
}

/// What a call tells the engine besides its result; filled in while the call runs so that the
/// engine still knows whether the request left even when the call times out.
#[derive(Clone, Copy, Debug, Default)]
pub struct CallStats {
    /// When the first byte of the request was handed to the kernel.
    pub sent_at: Option<Instant>,
    pub bytes_out: u64,
    pub bytes_in: u64,
    /// The time the target said it spent on the request itself, when it says (a response
    /// header): what the rest of the service time is is the network's and blast's.
    pub target_time: Option<Duration>,
    /// Connections the call had to open itself: between the steps of an iteration (the
    /// previous response closed its connection) or for a retry on a fresh connection.
    pub reopened: u32,
    /// Time spent opening those `reopened` connections (TCP and TLS), all together.
    pub connect_time: Duration,
    /// The request was sent a second time (`reopened` tells on how many fresh connections).
    pub retried: bool,
    /// Response body bytes alone (Locust's content size).
    pub body_in: u64,
    /// Time the call first waited for its virtual user (a scenario's `on_start` login): the
    /// user's wait, not the request's send lag.
    pub user_wait: Duration,
}

/// A protocol that the engine can drive. Shared by the cores (one `Arc`), so it holds only
/// immutable configuration; per-connection state lives in `Connection`.
pub trait Workload: Send + Sync + 'static {
    type Conn: Connection;
    /// What the connections of one core share (per-core data, built on that core's thread).
    type Core: 'static;

    /// The shared state of core `lane.core`.
    fn core(&self, lane: Lane) -> Self::Core;

    /// Opens connection number `conn` of a core.
    fn connect(&self, core: &Rc<Self::Core>, conn: usize) -> impl Future<Output = Result<Self::Conn, ErrorKind>>;

    /// Whether the engine times out an iteration of `kind` as a whole (with the plan's
    /// timeout). A workload whose iterations are many requests (a flow) times each out itself.
    fn timed_as_whole(&self, kind: usize) -> bool {
        let _ = kind;
        true
    }
}

/// One open connection, owned by one task on one core.
pub trait Connection: 'static {
    /// Performs `job`; returns the protocol's outcome code (e.g. an HTTP status). An iteration
    /// of several steps adds each to `steps`.
    fn call<'a>(
        &'a mut self,
        job: &'a Job,
        stats: &'a mut CallStats,
        steps: &'a mut Vec<StepRecord>,
    ) -> impl Future<Output = Result<u16, ErrorKind>> + 'a;

    /// False once the peer asked to close; the engine then opens a new connection.
    fn reusable(&self) -> bool;

    /// Checked before a kept connection takes its next job, without waiting: false when the
    /// peer closed or reset it while it was idle (the engine replaces it, no error counted).
    fn still_open(&mut self) -> bool {
        true
    }
}
