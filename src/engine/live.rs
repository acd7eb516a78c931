//! Counters for live progress, read by the reporting thread while cores run. Each core writes
//! only its own cache line (relaxed stores, never contended), so they cost the hot path no more
//! than a plain increment; the reader sums the lines. Besides a workload's counters, each core
//! publishes its CPU of the last second (the runner's meter) and, when the workload records
//! them here, its latencies in coarse buckets (the progress line's p99 of the last second).

use crate::engine::cpu::CpuSample;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters one core publishes.
pub const COUNTERS: usize = 4;

/// Latency buckets: values under 16 µs exactly, then 8 buckets per power of two (12.5%).
const BUCKETS: usize = 16 + 37 * 8;

#[repr(align(64))]
#[derive(Default)]
struct Line {
    values: [AtomicU64; COUNTERS],
    /// The core's last measured interval: user µs, system µs, wall µs.
    cpu: [AtomicU64; 3],
}

/// One cache line of counters per core.
pub struct Live {
    lines: Vec<Line>,
    latency: Vec<Box<[AtomicU64]>>,
}

impl Live {
    pub fn new(cores: usize) -> Self {
        let cores = cores.max(1);
        let buckets = || (0..BUCKETS).map(|_| AtomicU64::new(0)).collect::<Box<[AtomicU64]>>();
        Live { lines: (0..cores).map(|_| Line::default()).collect(), latency: (0..cores).map(|_| buckets()).collect() }
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

    /// Publishes `core`'s last measured CPU interval (the runner's meter, on that core).
    pub fn set_cpu(&self, core: usize, s: CpuSample) {
        let cpu = &self.lines[core % self.lines.len()].cpu;
        for (a, v) in cpu.iter().zip([s.user_us, s.sys_us, s.wall_us]) {
            a.store(v, Ordering::Relaxed);
        }
    }

    /// Each core's last measured CPU interval.
    pub fn cpu(&self) -> Vec<CpuSample> {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        self.lines
            .iter()
            .map(|l| CpuSample { user_us: load(&l.cpu[0]), sys_us: load(&l.cpu[1]), wall_us: load(&l.cpu[2]) })
            .collect()
    }

    /// Counts one latency of `us` microseconds for `core` (only that core's thread calls this).
    pub fn record_latency(&self, core: usize, us: u64) {
        let v = &self.latency[core % self.latency.len()][bucket(us)];
        v.store(v.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
    }

    /// Every latency counted so far, all cores summed, by bucket.
    pub fn latencies(&self) -> LatencyCounts {
        let mut sum = vec![0u64; BUCKETS];
        for core in &self.latency {
            for (s, v) in sum.iter_mut().zip(core.iter()) {
                *s += v.load(Ordering::Relaxed);
            }
        }
        LatencyCounts(sum)
    }
}

/// Latencies counted by bucket (`Live::latencies`); two readings' difference is an interval's.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LatencyCounts(Vec<u64>);

impl LatencyCounts {
    /// What was counted since `earlier`.
    pub fn since(&self, earlier: &LatencyCounts) -> LatencyCounts {
        let before = |i: usize| earlier.0.get(i).copied().unwrap_or(0);
        LatencyCounts(self.0.iter().enumerate().map(|(i, v)| v.saturating_sub(before(i))).collect())
    }

    pub fn count(&self) -> u64 {
        self.0.iter().sum()
    }

    /// The counts as a histogram (µs), each bucket's count at its top value: what the live
    /// page's per-second percentiles and heatmap column are drawn from.
    pub fn histogram(&self) -> hdrhistogram::Histogram<u64> {
        let mut h = crate::engine::recorder::histogram();
        for (i, &c) in self.0.iter().enumerate().filter(|(_, c)| **c > 0) {
            // Bucket tops are within the histogram's bounds; a value above them saturates.
            let _ = h.record_n(bucket_top(i).max(1), c);
        }
        h
    }

    /// The value (µs) at quantile `q`: the top of its bucket (at most 12.5% above the value);
    /// `None` when nothing was counted.
    pub fn quantile_us(&self, q: f64) -> Option<u64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64).max(1);
        let mut seen = 0;
        self.0.iter().enumerate().find_map(|(i, &c)| {
            seen += c;
            (seen >= rank).then(|| bucket_top(i))
        })
    }
}

/// The bucket of `us`.
fn bucket(us: u64) -> usize {
    if us < 16 {
        return us as usize;
    }
    let e = 63 - us.leading_zeros() as usize; // 4 or more
    (16 + (e - 4) * 8 + ((us >> (e - 3)) & 7) as usize).min(BUCKETS - 1)
}

/// The highest value of bucket `i`.
fn bucket_top(i: usize) -> u64 {
    if i < 16 {
        return i as u64;
    }
    let (e, m) = ((i - 16) / 8 + 4, ((i - 16) % 8) as u64);
    ((9 + m) << (e - 3)) - 1
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
                    live.set_cpu(core, CpuSample { user_us: core as u64, sys_us: 1, wall_us: 10 });
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        assert_eq!(live.sum(1), 6000);
        assert_eq!(live.sum(0), 3);
        assert_eq!(live.cpu()[2], CpuSample { user_us: 2, sys_us: 1, wall_us: 10 });
        assert_eq!(std::mem::align_of::<Line>(), 64);
        assert_eq!(std::mem::size_of::<Line>(), 64);
    }

    #[test]
    fn every_value_falls_in_a_bucket_whose_top_is_within_an_eighth_above_it() {
        for us in (0..5000).chain([65_535, 1 << 20, 123_456_789, 1 << 40]) {
            let top = bucket_top(bucket(us));
            assert!(top >= us && top as f64 <= us as f64 * 1.125 + 1.0, "{us} -> {top}");
        }
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn the_p99_of_an_interval_comes_from_the_difference_of_two_readings() {
        let live = Live::new(2);
        for _ in 0..1000 {
            live.record_latency(0, 50_000); // a slow first second
        }
        let first = live.latencies();
        for i in 0..1000 {
            live.record_latency(i % 2, 1_000 + i as u64);
        }
        let second = live.latencies().since(&first);
        assert_eq!(second.count(), 1000);
        let p99 = second.quantile_us(0.99).expect("counted");
        assert!((1_990..=2_240).contains(&p99), "{p99}");
        assert_eq!(LatencyCounts::default().quantile_us(0.99), None);
        let h = second.histogram();
        assert_eq!(h.len(), 1000);
        let top = h.value_at_quantile(0.99);
        assert!(top.abs_diff(p99) <= p99 / 100, "{top} vs {p99}");
    }
}
