//! `blast upload`: concurrent S3 multipart uploads, SigV4-signed, every part checksummed and
//! every object verified.
//!
//! - `data`: the shared pool of pseudo-random bytes parts are sliced from (no disk, bounded memory).
//! - `s3`: the S3 calls, presigned by `rusty-s3`, over hyper HTTP/1.1 connections.
//! - `object`: one upload's life: create, parts, complete, verify, and abort on failure.
//! - `tally`: per-core histograms and counters, merged at the end.
//!
//! `--parallel` upload slots are spread over the pinned cores; each slot uploads objects one
//! after another (each over `--part-concurrency` connections) until `--uploads` objects have
//! started or `--duration` has passed. Uploads are closed-loop by nature (a slot is busy until
//! its object is done); what is measured is per-part and per-object time and throughput.

pub mod data;
pub mod object;
pub mod s3;
pub mod tally;

use crate::engine::live::Live;
use crate::engine::threads::Pinned;
use s3::{Lane, S3Target, Timeline};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};
use tally::UploadTally;

/// Credentials used when none are given: MinIO's defaults, which `blast serve` also accepts.
pub const DEFAULT_ACCESS_KEY: &str = "minioadmin";
pub const DEFAULT_SECRET_KEY: &str = "minioadmin";

/// A validated `blast upload` run.
#[derive(Clone, Debug)]
pub struct UploadPlan {
    pub target: S3Target,
    /// The endpoint as the user wrote it (for reports).
    pub endpoint: String,
    pub size: u64,
    pub part_size: u64,
    pub parallel: usize,
    pub part_concurrency: usize,
    /// Objects to upload in total (`None`: as many as fit in `duration`).
    pub uploads: Option<u64>,
    /// No upload starts after this long.
    pub duration: Option<Duration>,
    pub retries: u32,
    pub timeout: Duration,
    pub verify: bool,
    pub keep: bool,
    pub key_prefix: String,
    pub seed: u64,
    /// A part slower than this misses the objective (the seed's 5 s per 10 MB, scaled).
    pub part_objective: Duration,
    pub cores: usize,
    pub pin: bool,
    /// Shard `.0` of `.1` (`--shard I/N`): this process uploads object `g` of the run when
    /// `g mod N == I`, with its share of the `parallel` slots.
    pub shard: (u32, u32),
    /// Wall-clock start (`--start-at`), so that shards begin together.
    pub start_at: Option<std::time::SystemTime>,
}

impl UploadPlan {
    pub fn parts_per_object(&self) -> u64 {
        self.size.div_ceil(self.part_size)
    }

    pub fn key(&self, index: u64) -> String {
        format!("{}{index:06}", self.key_prefix)
    }

    /// Upload slots this process runs (its shard's share of `parallel`).
    pub fn own_parallel(&self) -> usize {
        crate::engine::shard_share(self.parallel as u64, self.shard) as usize
    }

    fn slots_on(&self, core: usize) -> usize {
        crate::engine::spread(self.own_parallel(), self.cores, core)
    }
}

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
}

/// State shared by the upload slots of one core.
pub struct CoreUpload {
    pub plan: UploadPlan,
    pub pool: data::DataPool,
    pub tally: std::cell::RefCell<UploadTally>,
    pub timeline: Rc<Timeline>,
    next_upload: Arc<AtomicU64>,
    deadline: Option<Instant>,
    stop: Arc<AtomicBool>,
    /// Live progress: [bytes acknowledged, parts done, uploads completed, uploads failed].
    pub live: Arc<Live>,
    pub index: usize,
}

/// Indexes of the live counters.
pub const LIVE_BYTES: usize = 0;
pub const LIVE_PARTS: usize = 1;
pub const LIVE_DONE: usize = 2;
pub const LIVE_FAILED: usize = 3;

impl CoreUpload {
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// The next object to upload, if the run is not over.
    fn next(&self) -> Option<u64> {
        if self.stopping() || self.deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
        // This shard's k-th object is object k * N + I of the whole run.
        let (shard, shards) = self.plan.shard;
        let i = self.next_upload.fetch_add(1, Ordering::Relaxed) * u64::from(shards) + u64::from(shard);
        match self.plan.uploads {
            Some(n) if i >= n => None,
            _ => Some(i),
        }
    }
}

/// Creates the bucket (if missing), runs the slots on pinned cores and merges their tallies;
/// `progress` is called about once a second with the live counters.
pub fn run(plan: &UploadPlan, stop: Arc<AtomicBool>, mut progress: impl FnMut(&Live)) -> Result<UploadOutcome, String> {
    let live = Arc::new(Live::new(plan.cores));
    let bucket = create_bucket(plan)?;
    let pool = data::DataPool::new(plan.seed, plan.part_size as usize);
    // Shards begin together at --start-at; a whole run at once.
    let (start, started_at) = crate::engine::run::start_time(plan.start_at);
    while Instant::now() < start && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(start.saturating_duration_since(Instant::now()).min(Duration::from_millis(50)));
    }
    let workers = Pinned::new(plan.pin);
    let next_upload = Arc::new(AtomicU64::new(0));
    let deadline = plan.duration.map(|d| start + d);
    let (tx, rx) = mpsc::channel::<(UploadTally, Vec<u64>)>();
    let mut threads = Vec::new();
    for index in 0..plan.cores {
        let (plan, pool, next_upload, stop, tx, live) =
            (plan.clone(), pool.clone(), next_upload.clone(), stop.clone(), tx.clone(), live.clone());
        let handle = workers
            .spawn(
                index,
                move || async move {
                    let slots = plan.slots_on(index);
                    let timeline = Rc::new(Timeline { start, bytes: Default::default() });
                    let core = Rc::new(CoreUpload {
                        plan,
                        pool,
                        tally: Default::default(),
                        timeline,
                        next_upload,
                        deadline,
                        stop,
                        live,
                        index,
                    });
                    let tasks: Vec<_> = (0..slots).map(|_| tokio::task::spawn_local(run_slot(core.clone()))).collect();
                    for t in tasks {
                        let _ = t.await;
                    }
                    let tally = std::mem::take(&mut *core.tally.borrow_mut());
                    let timeline = std::mem::take(&mut *core.timeline.bytes.borrow_mut());
                    let _ = tx.send((tally, timeline));
                },
                || {},
            )
            .map_err(|e| format!("cannot start worker thread {index}: {e}"))?;
        threads.push(handle);
    }
    drop(tx);
    let mut tally = UploadTally::default();
    let mut timeline: Vec<u64> = Vec::new();
    let results = crate::engine::live::receive_with_ticks(&rx, || progress(&live));
    for (t, line) in results {
        tally.merge(t);
        if timeline.len() < line.len() {
            timeline.resize(line.len(), 0);
        }
        for (a, b) in timeline.iter_mut().zip(line) {
            *a += b;
        }
    }
    for t in threads {
        let _ = t.join();
    }
    Ok(UploadOutcome {
        tally,
        timeline,
        elapsed: start.elapsed(),
        started_at,
        bucket,
        pool_bytes: pool.footprint(),
        interrupted: stop.load(Ordering::Relaxed),
        pinned: workers.pinned(),
    })
}

/// One upload slot: its connections, reused for the objects it uploads one after another.
async fn run_slot(core: Rc<CoreUpload>) {
    let mut lanes: Vec<Lane> =
        (0..core.plan.part_concurrency).map(|_| Lane::new(core.plan.target.clone(), core.timeline.clone())).collect();
    while let Some(index) = core.next() {
        object::upload(&core, &mut lanes, index).await;
    }
}

/// Makes sure the bucket exists; an answer that it already does is fine.
fn create_bucket(plan: &UploadPlan) -> Result<String, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let local = tokio::task::LocalSet::new();
    let timeline = Rc::new(Timeline { start: Instant::now(), bytes: Default::default() });
    let mut lane = Lane::new(plan.target.clone(), timeline);
    let timeout = plan.timeout;
    let result = local.block_on(&rt, async move { tokio::time::timeout(timeout, lane.create_bucket()).await });
    Ok(match result {
        Err(_) => "timeout".to_string(),
        Ok(Ok(_)) => "created".to_string(),
        Ok(Err(f)) if f.kind.contains("BucketAlreadyOwnedByYou") || f.kind.contains("BucketAlreadyExists") => {
            "exists".to_string()
        }
        Ok(Err(f)) => f.kind,
    })
}
