//! The raw measurements of a run, carried in its JSON report (`raw`): every histogram
//! (HdrHistogram V2, deflated, base64: `engine::compact::Deflated`) and counter, and the plan.
//! `blast merge` (`cli::merge`) rebuilds runs from them, so merging shards is exact: histograms add bucket by bucket, counters add,
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

pub fn unix_ns(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

pub fn from_unix_ns(ns: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(ns)
}
