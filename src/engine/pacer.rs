//! The open-loop pacer: when each request is *due*, independent of when anything happens.
//!
//! The schedule is a pure function of (rate, cores, core, arrival, seed). Slot `k` of core `c`
//! under constant arrivals is due at `(k * cores + c) / rate` seconds after the start, so the
//! cores together reproduce the single global schedule `i / rate` exactly (global slot
//! `i = k * cores + c`). Under Poisson arrivals each core draws exponential gaps at
//! `rate / cores` from its own seeded generator; the union of independent Poisson streams is a
//! Poisson stream of the summed rate, so the global process is Poisson at `rate`.
//!
//! Nothing here reads a clock: callers turn offsets into instants by adding them to the run's
//! start, and never derive an intended time from the moment they woke up.

use crate::engine::rng::SplitMix64;
use crate::engine::shape::Shape;
use std::sync::Arc;

/// How arrivals are spaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arrival {
    /// Evenly spaced: one request every `1/rate` seconds.
    Constant,
    /// Exponentially distributed gaps with mean `1/rate` (a Poisson process).
    Poisson,
}

/// One scheduled request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    /// Globally unique sequence number of the request (`k * cores + core`).
    pub seq: u64,
    /// Nanoseconds after the run's start at which the request is due.
    pub offset_ns: u64,
}

/// A rate in billionths of a request per second, the integer form the schedule is computed in:
/// fine enough that rates under 1/s stay exact (10/h is 2,777,778, one request every 360 s).
pub fn rate_nano(rate: f64) -> u64 {
    ((rate * 1e9).round() as u64).max(1)
}

/// Offset in nanoseconds of global slot `i` at `rate_nano` billionths of a request per second.
///
/// Integer arithmetic so that a long run never drifts: `i * 1e18 / rate_nano`.
pub fn constant_offset_ns(global_index: u64, rate_nano: u64) -> u64 {
    ((global_index as u128 * NANO_PER_UNIT) / rate_nano as u128) as u64
}

/// How many global slots of a constant `rate_nano` schedule are due before `end_ns` (the
/// inverse of [`constant_offset_ns`]): slot `i` is due before `end_ns` exactly when
/// `i * 1e18 < end_ns * rate_nano`.
pub fn constant_slots_before(end_ns: u64, rate_nano: u64) -> u64 {
    (end_ns as u128 * rate_nano as u128).div_ceil(NANO_PER_UNIT) as u64
}

/// Nanoseconds per second times billionths per request.
const NANO_PER_UNIT: u128 = 1_000_000_000_000_000_000;

/// The per-core stream of due slots, ending at `end_ns` (exclusive).
#[derive(Clone, Debug)]
pub struct Pacer {
    rate_nano: u64,
    cores: u64,
    core: u64,
    arrival: Arrival,
    rng: SplitMix64,
    /// Next per-core slot number.
    k: u64,
    /// Poisson only: the offset reached so far, in (fractional) nanoseconds, or with a shape
    /// the position in count space.
    poisson_at: f64,
    end_ns: u64,
    /// A varying rate (`--stages`); `rate_nano` is then unused.
    shape: Option<Arc<Shape>>,
    /// This process is shard `shard` of `shards` (`--shard I/N`): it takes every N-th slot of
    /// the global schedule, so N processes together reproduce one run exactly.
    shard: u64,
    shards: u64,
    seed: u64,
}

impl Pacer {
    /// `rate` is the global rate in requests per second; `core` counts from 0 to `cores - 1`.
    pub fn new(rate: f64, cores: usize, core: usize, arrival: Arrival, seed: u64, end_ns: u64) -> Self {
        assert!(cores > 0 && core < cores, "core index out of range");
        let rate_nano = rate_nano(rate);
        Pacer {
            rate_nano,
            cores: cores as u64,
            core: core as u64,
            arrival,
            rng: SplitMix64::stream(seed, core as u64),
            k: 0,
            poisson_at: 0.0,
            end_ns,
            shape: None,
            shard: 0,
            shards: 1,
            seed,
        }
    }

    /// Takes only shard `index` of `count` of the global schedule (global slot `g` belongs to
    /// shard `g mod count`; within the shard, slots are striped over the cores as usual).
    pub fn sharded(mut self, shard: crate::engine::Shard) -> Self {
        self.shard = shard.index as u64;
        self.shards = shard.count.max(1) as u64;
        // Every (shard, core) draws its own Poisson stream.
        self.rng = SplitMix64::stream(self.seed, (self.shard << 32) | self.core);
        self
    }

    /// Follows `shape` instead of a constant rate: global slot `i` is due at `N⁻¹(i)`.
    pub fn shaped(mut self, shape: Option<Arc<Shape>>) -> Self {
        self.shape = shape;
        self
    }

    /// Follows `shape` from now on (a rate set during the run, `engine::steer`), which agrees
    /// with the schedule so far: `pending`, the slot taken but not yet due, is due where the
    /// new shape puts it (`None` when the shape ends first).
    pub fn adopt(&mut self, shape: Arc<Shape>, pending: Option<Slot>) -> Option<Slot> {
        if self.shape.is_none() && self.arrival == Arrival::Poisson {
            // From nanoseconds at the constant rate to count space.
            self.poisson_at = self.poisson_at * self.rate_nano as f64 / NANO_PER_UNIT as f64;
        }
        let slot = pending?;
        let position = match self.arrival {
            Arrival::Constant => slot.seq as f64,
            Arrival::Poisson => self.poisson_at,
        };
        let offset = shape.offset_ns(position);
        self.shape = Some(shape);
        let offset_ns = offset.filter(|&o| o < self.end_ns)?;
        Some(Slot { seq: slot.seq, offset_ns })
    }

    /// The next due slot, or `None` once the schedule has ended.
    pub fn next_slot(&mut self) -> Option<Slot> {
        // Global slot: shard-local slot `k * cores + core`, striped over the shards.
        let seq = (self.k * self.cores + self.core) * self.shards + self.shard;
        let streams = (self.cores * self.shards) as f64;
        let offset_ns = match (&self.shape, self.arrival) {
            (Some(shape), Arrival::Constant) => shape.offset_ns(seq as f64)?,
            (Some(shape), Arrival::Poisson) => {
                // This core's stream has mean gap `cores * shards` in count space.
                self.poisson_at += self.rng.exponential(streams);
                shape.offset_ns(self.poisson_at)?
            }
            (None, Arrival::Constant) => constant_offset_ns(seq, self.rate_nano),
            (None, Arrival::Poisson) => {
                // Mean gap of this core's stream: cores * shards / rate seconds.
                let mean_ns = streams * 1e18 / self.rate_nano as f64;
                self.poisson_at += self.rng.exponential(mean_ns);
                self.poisson_at as u64
            }
        };
        if offset_ns >= self.end_ns {
            return None;
        }
        self.k += 1;
        Some(Slot { seq, offset_ns })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    fn collect(rate: f64, cores: usize, core: usize, arrival: Arrival, end_ns: u64) -> Vec<Slot> {
        let mut p = Pacer::new(rate, cores, core, arrival, 42, end_ns);
        std::iter::from_fn(|| p.next_slot()).collect()
    }

    #[test]
    fn shaped_schedules_follow_the_stages_across_cores() {
        let shape = Arc::new(Shape::parse("2s:0->1000,1s:1000").expect("valid"));
        for arrival in [Arrival::Constant, Arrival::Poisson] {
            let mut all: Vec<Slot> = (0..3)
                .flat_map(|c| {
                    let mut p = Pacer::new(1000.0, 3, c, arrival, 9, 3 * SEC).shaped(Some(shape.clone()));
                    std::iter::from_fn(move || p.next_slot()).collect::<Vec<_>>()
                })
                .collect();
            all.sort_by_key(|s| s.offset_ns);
            // 1,000 in the ramp and 1,000 in the hold (Poisson: within 5 standard deviations).
            let ramp = all.iter().filter(|s| s.offset_ns < 2 * SEC).count() as f64;
            let tol = if arrival == Arrival::Constant { 1.0 } else { 5.0 * 1000f64.sqrt() };
            assert!((ramp - 1000.0).abs() <= tol, "{arrival:?} ramp {ramp}");
            assert!((all.len() as f64 - 2000.0).abs() <= 2.0 * tol, "{arrival:?} total {}", all.len());
            // The first second of a linear ramp from 0 holds a quarter of its requests.
            let first = all.iter().filter(|s| s.offset_ns < SEC).count() as f64;
            assert!((first - 250.0).abs() <= tol.max(1.0), "{arrival:?} first second {first}");
        }
    }

    #[test]
    fn an_adopted_shape_keeps_the_past_and_paces_the_rest() {
        for arrival in [Arrival::Constant, Arrival::Poisson] {
            // 1000/s for 4 s, set to 3000/s from 2 s: about 2,000 + 6,000 over 2 cores.
            let new = Arc::new(Shape::parse("2s:1000,2s:3000").expect("valid"));
            let mut all = Vec::new();
            for c in 0..2 {
                let mut p = Pacer::new(1000.0, 2, c, arrival, 7, 4 * SEC);
                let mut next = p.next_slot();
                while let Some(s) = next.filter(|s| s.offset_ns < SEC) {
                    all.push(s);
                    next = p.next_slot();
                }
                next = p.adopt(new.clone(), next);
                while let Some(s) = next {
                    all.push(s);
                    next = p.next_slot();
                }
            }
            let before = all.iter().filter(|s| s.offset_ns < 2 * SEC).count() as f64;
            let after = all.len() as f64 - before;
            let tol = if arrival == Arrival::Constant { 2.0 } else { 5.0 * 6000f64.sqrt() };
            assert!((before - 2000.0).abs() <= tol.min(5.0 * 2000f64.sqrt()), "{arrival:?} before {before}");
            assert!((after - 6000.0).abs() <= tol, "{arrival:?} after {after}");
            let mut seqs: Vec<u64> = all.iter().map(|s| s.seq).collect();
            seqs.sort_unstable();
            seqs.dedup();
            assert_eq!(seqs.len(), all.len(), "{arrival:?}: no slot twice");
        }
    }

    #[test]
    fn constant_schedule_table() {
        // (rate, cores, core, end, expected offsets in ns)
        let rows: &[(f64, usize, usize, u64, &[u64])] = &[
            // 1 req/s on one core over 3 s: due at 0 s, 1 s, 2 s.
            (1.0, 1, 0, 3 * SEC, &[0, SEC, 2 * SEC]),
            // 2 req/s on two cores: core 0 takes even global slots (0, 1 s), core 1 odd (0.5 s, 1.5 s).
            (2.0, 2, 0, 2 * SEC, &[0, SEC]),
            (2.0, 2, 1, 2 * SEC, &[SEC / 2, 3 * SEC / 2]),
            // 3 req/s: thirds of a second, integer nanoseconds rounded down, no drift.
            (3.0, 1, 0, SEC, &[0, 333_333_333, 666_666_666]),
            // 0.5 req/s: every 2 s; end is exclusive.
            (0.5, 1, 0, 4 * SEC, &[0, 2 * SEC]),
        ];
        for (rate, cores, core, end, want) in rows {
            let got: Vec<u64> =
                collect(*rate, *cores, *core, Arrival::Constant, *end).iter().map(|s| s.offset_ns).collect();
            assert_eq!(&got, want, "rate {rate} cores {cores} core {core}");
        }
    }

    #[test]
    fn rates_under_one_per_second_are_paced_exactly() {
        // 10/h: one request every 360 s (to 0.1 ppm); 1/min: every 60 s; 0.5/s: every 2 s.
        for (rate, gap_s) in [(10.0 / 3600.0, 360.0), (1.0 / 60.0, 60.0), (0.5, 2.0)] {
            let slots = collect(rate, 1, 0, Arrival::Constant, (3.0 * gap_s * 1e9) as u64 + 1);
            assert_eq!(slots.len(), 4, "rate {rate}");
            for (i, s) in slots.iter().enumerate() {
                let want = i as f64 * gap_s * 1e9;
                assert!((s.offset_ns as f64 - want).abs() <= want * 1e-7, "rate {rate} slot {i}: {}", s.offset_ns);
            }
        }
    }

    #[test]
    fn slots_before_counts_what_the_pacer_sends() {
        for rate in [10.0 / 3600.0, 1.0 / 60.0, 0.5, 3.0, 166_000.0] {
            for end in [0, 1, SEC / 3, SEC, 2 * SEC + 1, 360 * SEC, 721 * SEC] {
                if rate * end as f64 / 1e9 > 1e6 {
                    continue;
                }
                let sent = collect(rate, 1, 0, Arrival::Constant, end).len() as u64;
                assert_eq!(constant_slots_before(end, rate_nano(rate)), sent, "rate {rate} end {end}");
            }
        }
    }

    #[test]
    fn cores_together_reproduce_the_global_schedule() {
        for cores in [1usize, 2, 3, 7, 16] {
            let rate = 166_000.0;
            let end = SEC / 10;
            let mut all: Vec<Slot> = (0..cores).flat_map(|c| collect(rate, cores, c, Arrival::Constant, end)).collect();
            all.sort_by_key(|s| s.seq);
            assert_eq!(all.len(), 16_600, "cores {cores}: slot count");
            for (i, s) in all.iter().enumerate() {
                assert_eq!(s.seq, i as u64);
                assert_eq!(s.offset_ns, constant_offset_ns(i as u64, rate_nano(166_000.0)));
            }
        }
    }

    #[test]
    fn long_runs_do_not_drift() {
        // After one hour at 166K/s the last slot is exactly where i / rate says.
        let i = 166_000u64 * 3600 - 1;
        assert_eq!(constant_offset_ns(i + 1, rate_nano(166_000.0)), 3600 * SEC);
    }

    #[test]
    fn poisson_mean_within_two_percent() {
        for (rate, cores) in [(1000.0, 1usize), (50_000.0, 2), (166_000.0, 4)] {
            let end = 2 * SEC;
            let mut gaps = Vec::new();
            let mut count = 0usize;
            for c in 0..cores {
                let slots = collect(rate, cores, c, Arrival::Poisson, end);
                count += slots.len();
                gaps.extend(slots.windows(2).map(|w| (w[1].offset_ns - w[0].offset_ns) as f64));
            }
            let expected = rate * 2.0;
            let err = (count as f64 - expected).abs() / expected;
            assert!(err < 0.02, "rate {rate} cores {cores}: {count} arrivals, expected {expected}");
            // Per-core gaps are exponential with mean cores/rate; their coefficient of variation is 1.
            let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
            let want = cores as f64 * 1e9 / rate;
            assert!((mean - want).abs() / want < 0.02, "mean gap {mean} want {want}");
            let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
            let cv = var.sqrt() / mean;
            assert!((cv - 1.0).abs() < 0.05, "coefficient of variation {cv}");
        }
    }

    #[test]
    fn shards_together_reproduce_the_single_run_schedule() {
        // 2 shards of 3 cores and 1 shard of 2 cores: the union equals one run's schedule.
        let one: Vec<Slot> = {
            let mut v: Vec<Slot> = (0..2).flat_map(|c| collect(10_000.0, 2, c, Arrival::Constant, SEC / 10)).collect();
            v.sort_by_key(|s| s.seq);
            v
        };
        let mut sharded: Vec<Slot> = (0..2u32)
            .flat_map(|shard| {
                (0..3).flat_map(move |c| {
                    let mut p = Pacer::new(10_000.0, 3, c, Arrival::Constant, 42, SEC / 10)
                        .sharded(crate::engine::Shard::new(shard, 2));
                    std::iter::from_fn(move || p.next_slot()).collect::<Vec<_>>()
                })
            })
            .collect();
        sharded.sort_by_key(|s| s.seq);
        assert_eq!(sharded, one);
    }

    #[test]
    fn cores_draw_unrelated_streams() {
        // Regression: per-core seeds `seed ^ core * gamma` made core 1 replay core 0's draws one
        // step later for seeds like 42, so the merged stream was not Poisson.
        for seed in [0u64, 1, 42, 0x9E37_79B9_7F4A_7C15] {
            let mut r0 = SplitMix64::stream(seed, 0);
            let mut r1 = SplitMix64::stream(seed, 1);
            let first: Vec<u64> = (0..64).map(|_| r0.next_u64()).collect();
            let other: Vec<u64> = (0..64).map(|_| r1.next_u64()).collect();
            assert!(other.iter().all(|v| !first.contains(v)), "seed {seed}: streams share values");
        }
    }

    #[test]
    fn merged_poisson_gaps_are_exponential() {
        // The union of the cores' streams is a Poisson process at `rate`: its gaps follow
        // P(gap > t) = exp(-rate t). Checked at 0.1, 1 and 2 mean gaps, +-0.01 (n = 200,000).
        let (rate, cores) = (100_000.0, 4usize);
        let mut all: Vec<u64> =
            (0..cores).flat_map(|c| collect(rate, cores, c, Arrival::Poisson, 2 * SEC)).map(|s| s.offset_ns).collect();
        all.sort_unstable();
        let gaps: Vec<f64> = all.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
        let mean = 1e9 / rate;
        for k in [0.1, 1.0, 2.0] {
            let share = gaps.iter().filter(|&&g| g > k * mean).count() as f64 / gaps.len() as f64;
            let want = (-k).exp();
            assert!((share - want).abs() < 0.01, "P(gap > {k} mean) = {share}, want {want}");
        }
    }

    #[test]
    fn poisson_is_reproducible_from_the_seed() {
        let a = collect(100.0, 2, 1, Arrival::Poisson, SEC);
        let b = collect(100.0, 2, 1, Arrival::Poisson, SEC);
        assert_eq!(a, b);
        let c = collect(100.0, 2, 0, Arrival::Poisson, SEC);
        assert_ne!(a, c, "cores draw different streams");
    }
}
