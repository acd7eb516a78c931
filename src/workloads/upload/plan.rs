//! A validated `blast upload` run (`UploadPlan`): endpoint, sizes, slots, limits, shards.

use crate::workloads::upload::s3::S3Target;
use std::time::Duration;

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
    pub shard: crate::engine::Shard,
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
        self.shard.share_of(self.parallel as u64) as usize
    }

    pub fn slots_on(&self, core: usize) -> usize {
        let own = self.own_parallel();
        crate::engine::spread(own, self.cores, core)
    }
}
