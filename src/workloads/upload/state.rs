//! What the upload slots of one core share (`CoreUpload`) and the live counters they publish.

use crate::engine::live::Live;
use crate::workloads::upload::data::DataPool;
use crate::workloads::upload::plan::UploadPlan;
use crate::workloads::upload::s3::Timeline;
use crate::workloads::upload::tally::UploadTally;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// State shared by the upload slots of one core.
pub struct CoreUpload {
    pub plan: UploadPlan,
    pub pool: DataPool,
    pub tally: std::cell::RefCell<UploadTally>,
    pub timeline: Rc<Timeline>,
    pub(super) next_upload: Arc<AtomicU64>,
    pub(super) deadline: Option<Instant>,
    pub(super) stop: Arc<AtomicBool>,
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
    pub fn next(&self) -> Option<u64> {
        if self.stopping() || self.deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
        // This shard's k-th object is object k * N + I of the whole run.
        let crate::engine::Shard { index: shard, count: shards } = self.plan.shard;
        let i = self.next_upload.fetch_add(1, Ordering::Relaxed) * u64::from(shards) + u64::from(shard);
        match self.plan.uploads {
            Some(n) if i >= n => None,
            _ => Some(i),
        }
    }
}
