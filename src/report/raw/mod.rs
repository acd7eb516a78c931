//! The raw measurements of a run, carried in its JSON report (`raw`): every histogram
//! (HdrHistogram V2, deflated, base64: `engine::compact::Deflated`) and counter, and the plan. `blast merge` rebuilds runs
//! from them, so merging shards is exact: histograms add bucket by bucket, counters add,
//! nothing is averaged.
//!
//! - `api`: the engine's recorders, per second and in total.
//! - `ws`: connection counters and the probe/membership/delivery records the exact delivery
//!   accounting is done on (after the merge, so probes of one shard count on every shard).
//! - `upload`: the upload tally and bytes per second.

pub mod api;
pub mod upload;
pub mod ws;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Checks that `shards` are the shards of one run and returns the first: `run_of` (what must be
/// equal: the plan with the per-shard figures set aside) is the same for every report, and
/// `shard_of` names each shard exactly once. `differ` says what differs when the runs do.
pub fn one_run<'a, T, K: PartialEq>(
    shards: &'a [T],
    run_of: impl Fn(&T) -> K,
    shard_of: impl Fn(&T) -> (u32, u32),
    differ: &str,
) -> Result<&'a T, String> {
    let first = shards.first().ok_or("nothing to merge")?;
    let run = run_of(first);
    if shards.iter().any(|s| run_of(s) != run) {
        return Err(format!("the reports are not shards of the same run ({differ} differ)"));
    }
    check_shards(&shards.iter().map(shard_of).collect::<Vec<_>>())?;
    Ok(first)
}

/// Checks that `shards` are each shard of one run exactly once: same count, none twice, none
/// missing.
fn check_shards(shards: &[(u32, u32)]) -> Result<(), String> {
    let n = shards.first().ok_or("nothing to merge")?.1;
    let mut seen = vec![false; n as usize];
    for &(i, count) in shards {
        if count != n || i >= n {
            return Err(format!("shard {i}/{count} does not belong to a run of {n} shards"));
        }
        if std::mem::replace(&mut seen[i as usize], true) {
            return Err(format!("shard {i}/{n} appears twice"));
        }
    }
    match seen.iter().position(|s| !s) {
        Some(missing) => Err(format!("shard {missing}/{n} is missing")),
        None => Ok(()),
    }
}

pub fn unix_ns(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

pub fn from_unix_ns(ns: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_sets_must_be_complete_and_distinct() {
        assert!(check_shards(&[(1, 3), (0, 3), (2, 3)]).is_ok());
        assert!(check_shards(&[(0, 1)]).is_ok());
        assert_eq!(check_shards(&[(0, 2), (0, 2)]).unwrap_err(), "shard 0/2 appears twice");
        assert_eq!(check_shards(&[(0, 3), (2, 3)]).unwrap_err(), "shard 1/3 is missing");
        assert!(check_shards(&[(0, 2), (1, 3)]).unwrap_err().contains("does not belong"));
        assert!(check_shards(&[]).is_err());
    }
}
