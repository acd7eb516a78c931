//! The arrivals of one core, as both cores (epoll's `core`, the ring's) pace them: the pacer's
//! slots taken in order as they come due, each made a job (its intended time from the schedule
//! alone, its kind from the mix, its sequence numbers), a rate set during the run adopted at the
//! next clock read, and one clock read serving every few slots a wake-up finds due.

use crate::engine::pacer::{Pacer, Slot};
use crate::engine::plan::Plan;
use crate::engine::workload::Job;
use std::time::{Duration, Instant};

/// The slots one wake-up finds due are queued with one clock read (each push takes tens of
/// nanoseconds, so their dispatch lag is read at the wake-up); past this many in a row (a
/// backlog) the clock is read again, so that a long batch's lag stays exact to within a
/// microsecond or so.
const QUEUED_PER_CLOCK_READ: u32 = 16;

/// What [`Arrivals::take`] found.
pub enum Arrival {
    /// A job due by now.
    Due(Job),
    /// The next slot is due at this instant, after now.
    NotYet(Instant),
    /// The schedule is over (ran out, or was stopped).
    Over,
}

/// One core's schedule, taken slot by slot.
pub struct Arrivals<'p> {
    plan: &'p Plan,
    pacer: Pacer,
    next: Option<Slot>,
    start: Instant,
    /// The core's lane (the mix's stream).
    lane: u64,
    /// The rate's version last adopted (`Steer`).
    seen: u64,
    /// This core's arrivals so far.
    nth: u64,
    /// Slots taken since `now` was read.
    since_read: u32,
}

impl<'p> Arrivals<'p> {
    /// Core `index`'s schedule in lane `lane`, from `start` for `end_ns`; a steered run learns
    /// its start here.
    pub fn new(plan: &'p Plan, index: usize, lane: u64, start: Instant, end_ns: u64) -> Arrivals<'p> {
        let mut pacer = Pacer::new(plan.rate, plan.cores, index, plan.arrival, plan.seed, end_ns)
            .shaped(plan.shape.clone())
            .sharded(plan.shard);
        let next = pacer.next_slot();
        if let Some(steer) = plan.steer.as_deref() {
            steer.started(start);
        }
        Arrivals { plan, pacer, next, start, lane, seen: 0, nth: 0, since_read: 0 }
    }

    /// When the next slot is due (`None`: the schedule is over).
    pub fn next_due(&self) -> Option<Instant> {
        self.next.map(|slot| self.start + Duration::from_nanos(slot.offset_ns))
    }

    /// Ends the schedule (the run was stopped).
    pub fn stop(&mut self) {
        self.next = None;
    }

    /// The caller has just read `now` itself (a wake-up): the slots it takes next count from
    /// that read.
    pub fn clock_read(&mut self) {
        self.since_read = 0;
    }

    /// The next slot due by `now`, as a job. `now` is read again when the next slot is after
    /// it or when the slots taken since its last read reach [`QUEUED_PER_CLOCK_READ`]; at each
    /// read a rate set during the run is adopted (one atomic load, the lock only on a change;
    /// slots due by `now` are due before the change, which applies from the next second).
    pub fn take(&mut self, now: &mut Instant) -> Arrival {
        loop {
            let Some(slot) = self.next else { return Arrival::Over };
            let due = self.start + Duration::from_nanos(slot.offset_ns);
            if due > *now || self.since_read >= QUEUED_PER_CLOCK_READ {
                *now = Instant::now();
                self.since_read = 0;
                let steer = self.plan.steer.as_deref();
                if let Some(adopted) = steer.and_then(|s| s.adopted(&mut self.seen, &mut self.pacer, self.next)) {
                    self.next = adopted;
                    continue;
                }
            }
            if due > *now {
                return Arrival::NotYet(due);
            }
            self.since_read += 1;
            let job =
                Job { seq: slot.seq, intended: due, kind: self.plan.mix.pick(self.lane, self.nth), nth: self.nth };
            self.nth += 1;
            self.next = self.pacer.next_slot();
            return Arrival::Due(job);
        }
    }
}
