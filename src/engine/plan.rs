//! A validated open-loop run (`Plan`): rate or shape, duration, cores, connections, queue,
//! shards; and how shards split a count between them.

use crate::engine::pacer::{constant_slots_before, rate_nano, Arrival};
use crate::engine::shape::Shape;
use crate::engine::shard::{spread, Shard};
use std::time::Duration;

/// A validated description of one open-loop run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Global arrival rate, requests per second (with a shape: its peak).
    pub rate: f64,
    /// A varying rate over the run (warm-up included); `None` for a constant `rate`.
    pub shape: Option<std::sync::Arc<Shape>>,
    /// The shape as the user wrote it (for reports).
    pub stages_spec: Option<String>,
    /// Measured part of the run (after warm-up).
    pub duration: Duration,
    /// Requests due in this first part are sent but not recorded.
    pub warmup: Duration,
    pub arrival: Arrival,
    pub seed: u64,
    /// Worker threads, one per core.
    pub cores: usize,
    /// Connections in total, spread evenly over the cores.
    pub conns: usize,
    /// Requests that may wait for a free connection, in total; beyond that they are dropped.
    pub max_queue: usize,
    /// Longest a connect or a call may take.
    pub timeout: Duration,
    /// After an interrupt, how long in-flight requests may still finish.
    pub grace: Duration,
    /// Pin each worker thread to its own core.
    pub pin: bool,
    /// This run is shard `.0` of `.1` (`--shard I/N`); `(0, 1)` for a whole run.
    pub shard: Shard,
    /// Wake at most once per this window per core and send every slot due by then (0: wake for
    /// each slot). Each request's lag, at most the window, is counted in corrected latency.
    pub coalesce: Duration,
    /// Start at this wall-clock time (`--start-at`), so that shards begin together.
    pub start_at: Option<std::time::SystemTime>,
    /// The I/O backend the cores drive sockets with, and why (`--io`).
    pub io: crate::engine::io::Io,
    /// Which kind of iteration each arrival is; one kind when the workload has one.
    pub mix: std::sync::Arc<crate::engine::mix::Mix>,
    /// The report row each kind of iteration is recorded under.
    pub kind_rows: std::sync::Arc<Vec<usize>>,
    /// Report rows (names) the workload records under; every recorder carries one per row.
    pub rows: usize,
    /// Rates set while the run goes on (`--web`); none: the schedule is fixed.
    pub steer: Option<std::sync::Arc<crate::engine::steer::Steer>>,
}

impl Plan {
    /// The rate this run may be steered to (`--web`): its schedule as a shape (a constant rate
    /// is one stage), up to `max_rate` (default ten times the plan's rate, never below it).
    pub fn steerable(&self, max_rate: Option<f64>) -> Result<crate::engine::steer::Steer, String> {
        let max_rate = max_rate.unwrap_or(self.rate * 10.0);
        if max_rate < self.rate {
            let (max, rate) = (crate::units::rate_text(max_rate), crate::units::rate_text(self.rate));
            return Err(format!("--max-rate {max} is below the run's rate {rate}"));
        }
        let end = self.warmup + self.duration;
        let shape = match &self.shape {
            Some(s) => s.clone(),
            None => {
                let hold = crate::engine::shape::Stage { duration: end, rate_from: self.rate, rate_to: self.rate };
                std::sync::Arc::new(Shape::new(&[hold])?)
            }
        };
        Ok(crate::engine::steer::Steer::new(shape, end.as_secs_f64(), max_rate))
    }

    /// Connections of core `core`: the total spread as evenly as possible.
    pub fn conns_on(&self, core: usize) -> usize {
        spread(self.conns, self.cores, core)
    }

    /// Requests due between `from` and `to` seconds after the start (this shard's share): for a
    /// constant rate the exact count of slots the pacer sends in that span (so that a 2 s run
    /// at 0.5/s, due at 0 s, counts 1), otherwise the expected count.
    pub fn scheduled_between(&self, from: f64, to: f64) -> f64 {
        self.schedule().due_between(from, to)
    }

    /// What the run schedules: its rate or shape, arrival, length and shard.
    pub fn schedule(&self) -> Schedule<'_> {
        Schedule {
            rate: self.rate,
            shape: self.shape.as_deref(),
            arrival: self.arrival,
            end: self.warmup + self.duration,
            shard: self.shard,
        }
    }

    /// This process's share of the global rate.
    pub fn own_rate(&self) -> f64 {
        self.rate / self.shard.count.max(1) as f64
    }

    /// Queue capacity of one core.
    pub fn queue_per_core(&self) -> usize {
        (self.max_queue / self.cores).max(1)
    }
}

/// What a run schedules, as far as counting its arrivals goes: the live plan's, or a report's
/// plan read back (`blast merge`).
#[derive(Clone, Copy, Debug)]
pub struct Schedule<'a> {
    pub rate: f64,
    pub shape: Option<&'a Shape>,
    pub arrival: Arrival,
    /// The end of the schedule (warm-up and measured part) from the start.
    pub end: Duration,
    pub shard: Shard,
}

impl Schedule<'_> {
    /// Arrivals due between `from` and `to` seconds after the start (this shard's share).
    pub fn due_between(&self, from: f64, to: f64) -> f64 {
        let all = match (self.shape, self.arrival) {
            (None, Arrival::Constant) => {
                let end_ns = self.end.as_nanos() as u64;
                let ns = |t: f64| ((t.max(0.0) * 1e9).round() as u64).min(end_ns);
                let due = |t: f64| self.shard.share_of(constant_slots_before(ns(t), rate_nano(self.rate)));
                return due(to).saturating_sub(due(from)) as f64;
            }
            (Some(s), _) => s.count_at(to) - s.count_at(from),
            (None, Arrival::Poisson) => self.rate * (to - from).max(0.0),
        };
        all / self.shard.count.max(1) as f64
    }

    /// This process's share of the global rate.
    pub fn own_rate(&self) -> f64 {
        self.rate / self.shard.count.max(1) as f64
    }
}
