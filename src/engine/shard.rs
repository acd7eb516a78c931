//! Shards: one run split over N processes (`--shard I/N`), each taking every N-th request,
//! connection or upload of the run's schedule; and the check that a set of reports are the
//! shards of one run, each exactly once (`blast merge`); `spread`, how a count is split evenly
//! (items over shards, connections over cores).

use serde::{Deserialize, Serialize};

/// Shard `index` (from 0) of `count`; `Shard::WHOLE` for an unsharded run. Serialised as the
/// pair `[index, count]`, as reports have always carried it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "(u32, u32)", into = "(u32, u32)")]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// A whole run: shard 0 of 1.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    pub fn new(index: u32, count: u32) -> Self {
        Shard { index, count }
    }

    /// Whether the run is split at all.
    pub fn is_split(&self) -> bool {
        self.count > 1
    }

    /// How many of `total` globally numbered items (0..total) this shard takes when item `g`
    /// belongs to shard `g mod count`.
    pub fn share_of(&self, total: u64) -> u64 {
        spread(total as usize, self.count as usize, self.index as usize) as u64
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    /// `I/N` (`--shard`): shard I (from 0) of N, at most 100,000 shards.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("'{s}' is not a shard: expected I/N with 0 <= I < N, e.g. 0/4");
        let (i, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let (i, n): (u32, u32) = (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if n == 0 || i >= n || n > 100_000 {
            return Err(bad());
        }
        Ok(Shard::new(i, n))
    }
}

impl Default for Shard {
    fn default() -> Self {
        Shard::WHOLE
    }
}

impl From<(u32, u32)> for Shard {
    fn from((index, count): (u32, u32)) -> Self {
        Shard { index, count }
    }
}

impl From<Shard> for (u32, u32) {
    fn from(s: Shard) -> Self {
        (s.index, s.count)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Part `index` of `total` spread as evenly as possible over `parts` (the first `total % parts`
/// parts take one more): connections or upload slots over the cores, items over shards.
pub fn spread(total: usize, parts: usize, index: usize) -> usize {
    let parts = parts.max(1);
    total / parts + usize::from(index < total % parts)
}

/// Checks that `shards` are the shards of one run and returns the first: `run_of` (what must be
/// equal: the plan with the per-shard figures set aside) is the same for every report, and
/// `shard_of` names each shard exactly once. `differ` says what differs when the runs do.
pub fn one_run<'a, T, K: PartialEq>(
    shards: &'a [T],
    run_of: impl Fn(&T) -> K,
    shard_of: impl Fn(&T) -> Shard,
    differ: &str,
) -> Result<&'a T, String> {
    let first = shards.first().ok_or("nothing to merge")?;
    let run = run_of(first);
    if shards.iter().any(|s| run_of(s) != run) {
        return Err(format!("the reports are not shards of the same run ({differ} differ)"));
    }
    check_complete(&shards.iter().map(shard_of).collect::<Vec<_>>())?;
    Ok(first)
}

/// Checks that `shards` are each shard of one run exactly once: same count, none twice, none
/// missing.
fn check_complete(shards: &[Shard]) -> Result<(), String> {
    let n = shards.first().ok_or("nothing to merge")?.count;
    let mut seen = vec![false; n as usize];
    for s in shards {
        if s.count != n || s.index >= n {
            return Err(format!("shard {s} does not belong to a run of {n} shards"));
        }
        if std::mem::replace(&mut seen[s.index as usize], true) {
            return Err(format!("shard {s} appears twice"));
        }
    }
    match seen.iter().position(|s| !s) {
        Some(missing) => Err(format!("shard {missing}/{n} is missing")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shard_is_written_i_of_n() {
        assert_eq!("0/2".parse(), Ok(Shard::new(0, 2)));
        assert_eq!(" 3 / 4 ".parse(), Ok(Shard::new(3, 4)));
        for bad in ["2/2", "1/0", "x/2", "1", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn shard_sets_must_be_complete_and_distinct() {
        let s = |v: &[(u32, u32)]| v.iter().map(|&p| Shard::from(p)).collect::<Vec<_>>();
        assert!(check_complete(&s(&[(1, 3), (0, 3), (2, 3)])).is_ok());
        assert!(check_complete(&s(&[(0, 1)])).is_ok());
        assert_eq!(check_complete(&s(&[(0, 2), (0, 2)])).unwrap_err(), "shard 0/2 appears twice");
        assert_eq!(check_complete(&s(&[(0, 3), (2, 3)])).unwrap_err(), "shard 1/3 is missing");
        assert!(check_complete(&s(&[(0, 2), (1, 3)])).unwrap_err().contains("does not belong"));
        assert!(check_complete(&[]).is_err());
    }

    #[test]
    fn shard_shares_add_up_to_the_whole() {
        for total in [0u64, 1, 7, 100, 10_001] {
            for n in 1..=5u32 {
                let sum: u64 = (0..n).map(|i| Shard::new(i, n).share_of(total)).sum();
                assert_eq!(sum, total, "{total} over {n}");
                let counted = (0..total).filter(|g| g % u64::from(n) == 0).count() as u64;
                assert_eq!(Shard::new(0, n).share_of(total), counted);
            }
        }
    }

    #[test]
    fn reports_carry_a_shard_as_a_pair() {
        let json = serde_json::to_string(&Shard::new(2, 5)).expect("serialise");
        assert_eq!(json, "[2,5]");
        assert_eq!(serde_json::from_str::<Shard>("[1,4]").expect("parse"), Shard::new(1, 4));
    }
}
