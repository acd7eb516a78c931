//! A rate changed while the run goes on (the live page's set-rate): the new rate applies from
//! the next whole second of the run, as a stage of the schedule (`Shape::hold_from`), so that
//! the requests due before it are unchanged and the plan the report shows says what load was
//! applied when.
//!
//! The pacers look at it without a lock or a shared write on the hot path: one atomic load of
//! `version` each time a core reads the clock (once per wake-up, or per 64 slots sent in a
//! burst); only when it changed does the core take the lock, once, to fetch the new schedule.

use crate::engine::shape::Shape;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

/// One rate set during the run.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// Seconds after the start from which it applies.
    pub from_s: u64,
    pub rate: f64,
}

/// The run's schedule as the page may change it.
#[derive(Debug)]
pub struct Steer {
    version: AtomicU64,
    state: Mutex<State>,
    start: OnceLock<Instant>,
    /// End of the schedule (warm-up and measured part), seconds after the start.
    end_s: f64,
    /// The highest rate that may be set.
    pub max_rate: f64,
}

#[derive(Debug)]
struct State {
    shape: Arc<Shape>,
    changes: Vec<Change>,
}

impl Steer {
    /// For a core's pacing loop, at each clock read: when the rate was set since version
    /// `seen`, the pacer adopts the new schedule and the slot it now gives instead of `pending`
    /// is returned (`None`: nothing changed). One atomic load; the lock only on a change.
    pub fn adopted(
        &self,
        seen: &mut u64,
        pacer: &mut crate::engine::pacer::Pacer,
        pending: Option<crate::engine::pacer::Slot>,
    ) -> Option<Option<crate::engine::pacer::Slot>> {
        let v = self.version();
        if v == *seen {
            return None;
        }
        *seen = v;
        Some(pacer.adopt(self.shape(), pending))
    }

    /// Steers a run that follows `shape` (a constant rate is one stage) for `end_s` seconds.
    pub fn new(shape: Arc<Shape>, end_s: f64, max_rate: f64) -> Steer {
        Steer {
            version: AtomicU64::new(0),
            state: Mutex::new(State { shape, changes: Vec::new() }),
            start: OnceLock::new(),
            end_s,
            max_rate,
        }
    }

    /// The run's clock started at `at` (every core says so; the first one counts).
    pub fn started(&self, at: Instant) {
        let _ = self.start.set(at);
    }

    /// How many times the schedule changed: the hot path's one atomic load.
    #[inline]
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// The schedule now.
    pub fn shape(&self) -> Arc<Shape> {
        self.state.lock().map(|s| s.shape.clone()).unwrap_or_else(|e| e.into_inner().shape.clone())
    }

    /// The rates set so far.
    pub fn changes(&self) -> Vec<Change> {
        self.state.lock().map(|s| s.changes.clone()).unwrap_or_default()
    }

    /// Sets `rate` (the whole run's, as `--rate` is) from the next
    /// whole second; returns that second, or why the rate was refused.
    pub fn set(&self, rate: f64) -> Result<u64, String> {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(format!("the rate must be greater than 0 (got {rate})"));
        }
        if rate > self.max_rate {
            return Err(format!(
                "{} is above --max-rate {}",
                crate::units::rate_text(rate),
                crate::units::rate_text(self.max_rate)
            ));
        }
        let Some(start) = self.start.get() else { return Err("the run has not started yet".into()) };
        let from_s = start.elapsed().as_secs() + 1;
        if from_s as f64 >= self.end_s {
            return Err("the schedule ends before the next second".into());
        }
        let mut st = self.state.lock().map_err(|_| "the schedule is unavailable")?;
        st.shape = Arc::new(st.shape.hold_from(from_s as f64, rate, self.end_s)?);
        st.changes.push(Change { from_s, rate });
        self.version.fetch_add(1, Ordering::Release);
        Ok(from_s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_applies_from_the_next_second_within_bounds() {
        let shape = Arc::new(Shape::parse("10s:1000").expect("valid"));
        let s = Steer::new(shape, 10.0, 10_000.0);
        assert!(s.set(2000.0).is_err(), "not started");
        s.started(Instant::now());
        assert!(s.set(0.0).is_err());
        assert!(s.set(-1.0).is_err());
        assert!(s.set(20_000.0).expect_err("above the max").contains("--max-rate"));
        assert_eq!(s.version(), 0);
        assert_eq!(s.set(2000.0), Ok(1));
        assert_eq!(s.version(), 1);
        assert_eq!(s.shape().spec(), "1s:1000,9s:2000");
        assert_eq!(s.changes(), vec![Change { from_s: 1, rate: 2000.0 }]);
    }
}
