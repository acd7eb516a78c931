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

/// Checks that `shards` are each shard of one run exactly once: same count, none twice, none
/// missing.
pub fn check_shards(shards: &[(u32, u32)]) -> Result<(), String> {
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
