//! `blast upload`: concurrent S3 multipart uploads, SigV4-signed, every part checksummed and
//! every object verified.
//!
//! - `plan`: the validated run (`UploadPlan`).
//! - `preflight`: the first S3 call (the bucket, the keys): go on, or stop at once with the cause.
//! - `state`: what one core's slots share (`CoreUpload`) and the live counters.
//! - `core`: what one pinned core runs on the engine's runner (its slots) and its tally.
//! - `data`: the shared pool of pseudo-random bytes parts are sliced from (no disk, bounded memory).
//! - `s3`: the S3 calls, presigned by `rusty-s3`, over hyper HTTP/1.1 connections.
//! - `object`: one upload's life: create, parts, complete, verify, and abort on failure.
//! - `tally`: per-core histograms and counters, merged at the end.
//! - `raw`: the run's tally, bytes per second and plan as JSON reports carry them (`blast merge`).
//!
//! `--parallel` upload slots are spread over the pinned cores of the engine's runner; each
//! slot uploads objects one after another (each over `--part-concurrency` connections) until
//! `--uploads` objects have started or `--duration` has passed. Uploads are closed-loop by
//! nature (a slot is busy until its object is done); what is measured is per-part and
//! per-object time and throughput.

pub mod core;
pub mod data;
pub mod object;
pub mod plan;
pub mod preflight;
pub mod raw;
pub mod s3;
pub mod state;
pub mod tally;

use crate::engine::live::Live;
use crate::engine::runner::{self, Cores};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tally::UploadTally;

pub use plan::UploadPlan;
pub use state::{CoreUpload, LIVE_BYTES, LIVE_DONE, LIVE_FAILED, LIVE_PARTS};

/// Credentials used when none are given: MinIO's defaults, which `blast serve` also accepts.
pub const DEFAULT_ACCESS_KEY: &str = "minioadmin";
pub const DEFAULT_SECRET_KEY: &str = "minioadmin";

/// What an upload run measured.
pub struct UploadOutcome {
    pub tally: UploadTally,
    /// Bytes sent per second of the run, all cores summed.
    pub timeline: Vec<u64>,
    pub elapsed: Duration,
    /// Wall-clock time the run started.
    pub started_at: std::time::SystemTime,
    /// How the bucket creation went: "created", "exists", or a failure kind.
    pub bucket: String,
    pub pool_bytes: usize,
    pub interrupted: bool,
    pub pinned: usize,
    /// blast's own CPU: each core's, second by second from the start.
    pub cpu: crate::engine::cpu::RunCpu,
    /// Why the run stopped at its first S3 call, before any upload (`preflight`).
    pub stopped: Option<String>,
}

/// Creates the bucket (if missing), then runs the slots on the engine's runner and merges
/// their tallies; `progress` is called about once a second with the live counters. When the
/// first S3 call shows that no upload can succeed (refused, wrong keys, a bad bucket name), no
/// upload starts: the outcome is empty and says why.
pub fn run(plan: &UploadPlan, stop: Arc<AtomicBool>, progress: impl FnMut(&Live)) -> Result<UploadOutcome, String> {
    let (checking, started_at) = (Instant::now(), std::time::SystemTime::now());
    let bucket = match preflight::check(plan) {
        Ok(bucket) => bucket,
        Err(stopped) => {
            return Ok(UploadOutcome {
                tally: UploadTally::default(),
                timeline: Vec::new(),
                elapsed: checking.elapsed(),
                started_at,
                bucket: stopped.kind,
                pool_bytes: 0,
                interrupted: stop.load(Ordering::Relaxed),
                pinned: 0,
                cpu: Default::default(),
                stopped: Some(stopped.cause),
            })
        }
    };
    let pool = data::DataPool::new(plan.seed, plan.part_size as usize);
    let next_upload = Arc::new(AtomicU64::new(0));
    let works: Vec<_> = (0..plan.cores)
        .map(|_| {
            let (plan, pool, next_upload) = (plan.clone(), pool.clone(), next_upload.clone());
            move |core| core::run_core(core, plan, pool, next_upload)
        })
        .collect();
    // Shards begin together at --start-at; a whole run at once.
    let cores = Cores { pin: plan.pin, start_at: plan.start_at, uring: false };
    let done = runner::run(cores, &stop, works, |(), _| {}, progress).map_err(|e| e.to_string())?;
    Ok(UploadOutcome {
        tally: done.tally.tally,
        timeline: done.tally.bytes,
        elapsed: done.start.elapsed(),
        started_at: done.started_at,
        bucket,
        pool_bytes: pool.footprint(),
        interrupted: stop.load(Ordering::Relaxed),
        pinned: done.pinned,
        cpu: done.cpu,
        stopped: None,
    })
}
