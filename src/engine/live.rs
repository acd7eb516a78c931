//! Counters for live progress, read by the reporting thread while cores run. Each core writes
//! only its own cache line (relaxed stores, never contended), so they cost the hot path no more
//! than a plain increment; the reader sums the lines.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters one core publishes.
pub const COUNTERS: usize = 4;

#[repr(align(64))]
#[derive(Default)]
struct Line {
    values: [AtomicU64; COUNTERS],
}

/// One cache line of counters per core.
pub struct Live {
    lines: Vec<Line>,
}

impl Live {
    pub fn new(cores: usize) -> Self {
        Live { lines: (0..cores.max(1)).map(|_| Line::default()).collect() }
    }

    /// Adds `n` to counter `i` of `core` (only that core's thread calls this for its line).
    pub fn add(&self, core: usize, i: usize, n: u64) {
        let v = &self.lines[core % self.lines.len()].values[i % COUNTERS];
        v.store(v.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }

    pub fn set(&self, core: usize, i: usize, n: u64) {
        self.lines[core % self.lines.len()].values[i % COUNTERS].store(n, Ordering::Relaxed);
    }

    /// Counter `i` summed over the cores.
    pub fn sum(&self, i: usize) -> u64 {
        self.lines.iter().map(|l| l.values[i % COUNTERS].load(Ordering::Relaxed)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cores_add_to_their_own_lines_and_the_sum_sees_all() {
        let live = std::sync::Arc::new(Live::new(3));
        let threads: Vec<_> = (0..3)
            .map(|core| {
                let live = live.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        live.add(core, 1, 2);
                    }
                    live.set(core, 0, core as u64);
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        assert_eq!(live.sum(1), 6000);
        assert_eq!(live.sum(0), 3);
        assert_eq!(std::mem::align_of::<Line>(), 64);
    }
}
