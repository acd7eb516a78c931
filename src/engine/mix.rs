//! A deterministic weighted interleave: which of several kinds of iteration an arrival is.
//!
//! Weights 10:1 give exactly 10 of the first and 1 of the second in every 11 consecutive
//! arrivals of a core, spread evenly (smooth weighted round robin, as nginx balances
//! upstreams), not a random draw whose share wanders. Each core starts its cycle at its own
//! offset, so the cores together stay as even as each of them.

/// Longest cycle (the sum of the weights).
pub const MAX_CYCLE: u64 = 1_000_000;

/// The interleave, as one cycle of choices.
#[derive(Clone, Debug)]
pub struct Mix {
    cycle: Vec<u16>,
}

impl Mix {
    /// A mix of `weights.len()` kinds; every weight at least 1 and their sum at most
    /// `MAX_CYCLE` (checked by the caller, which knows where each weight was written).
    pub fn new(weights: &[u64]) -> Self {
        let total: u64 = weights.iter().sum();
        let mut current = vec![0i64; weights.len()];
        let mut cycle = Vec::with_capacity(total as usize);
        for _ in 0..total {
            let mut best = 0;
            for (i, w) in weights.iter().enumerate() {
                current[i] += *w as i64;
                if current[i] > current[best] {
                    best = i;
                }
            }
            current[best] -= total as i64;
            cycle.push(best as u16);
        }
        if cycle.is_empty() {
            cycle.push(0);
        }
        Mix { cycle }
    }

    /// The kind of the `nth` arrival (0-based) of lane `lane` (a core of a shard).
    pub fn pick(&self, lane: u64, nth: u64) -> usize {
        let len = self.cycle.len() as u64;
        self.cycle[((nth % len + lane % len) % len) as usize] as usize
    }

    /// Arrivals per cycle.
    pub fn cycle_len(&self) -> usize {
        self.cycle.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(mix: &Mix, lane: u64, from: u64, n: u64, kinds: usize) -> Vec<u64> {
        let mut c = vec![0; kinds];
        for k in from..from + n {
            c[mix.pick(lane, k)] += 1;
        }
        c
    }

    #[test]
    fn ten_to_one_is_exact_in_every_window_of_eleven() {
        let mix = Mix::new(&[10, 1]);
        for lane in 0..5 {
            for from in 0..30 {
                assert_eq!(counts(&mix, lane, from, 11, 2), vec![10, 1], "lane {lane} from {from}");
            }
        }
    }

    #[test]
    fn weights_are_spread_not_bunched() {
        // 5:4:3:2:2:1:1:1:1 (PrismQ's nine endpoints): no kind twice in a row except the heaviest.
        let mix = Mix::new(&[5, 4, 3, 2, 2, 1, 1, 1, 1]);
        assert_eq!(mix.cycle_len(), 20);
        assert_eq!(counts(&mix, 0, 0, 20, 9), vec![5, 4, 3, 2, 2, 1, 1, 1, 1]);
        let c = &mix.cycle;
        for w in c.windows(2) {
            assert!(w[0] != w[1] || w[0] == 0, "{c:?}");
        }
    }

    #[test]
    fn one_kind_is_always_chosen() {
        let mix = Mix::new(&[3]);
        assert!((0..10).all(|k| mix.pick(1, k) == 0));
    }
}
