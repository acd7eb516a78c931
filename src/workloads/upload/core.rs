//! What one pinned core runs for `blast upload` on the engine's runner: its upload slots,
//! from the start until the run is over; and what it hands back.

use crate::engine::runner::{Core, Tally};
use crate::workloads::upload::data::DataPool;
use crate::workloads::upload::object;
use crate::workloads::upload::plan::UploadPlan;
use crate::workloads::upload::s3::{Lane, Timeline};
use crate::workloads::upload::state::CoreUpload;
use crate::workloads::upload::tally::UploadTally;
use std::rc::Rc;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one core measured, merged over the cores by the runner.
#[derive(Default)]
pub struct CoreEnd {
    pub tally: UploadTally,
    /// Bytes sent per second of the run.
    pub bytes: Vec<u64>,
}

impl Tally for CoreEnd {
    fn merge(&mut self, o: CoreEnd) {
        self.tally.merge(o.tally);
        if self.bytes.len() < o.bytes.len() {
            self.bytes.resize(o.bytes.len(), 0);
        }
        for (a, b) in self.bytes.iter_mut().zip(o.bytes) {
            *a += b;
        }
    }
}

/// What one pinned core runs: its upload slots, from the start until the run is over.
pub async fn run_core(run: Core<()>, plan: UploadPlan, pool: DataPool, next_upload: Arc<AtomicU64>) -> CoreEnd {
    let Some(start) = run.start() else { return CoreEnd::default() };
    while Instant::now() < start && !run.stopping() {
        tokio::time::sleep(start.saturating_duration_since(Instant::now()).min(Duration::from_millis(50))).await;
    }
    let index = run.index;
    let slots = plan.slots_on(index);
    let deadline = plan.duration.map(|d| start + d);
    let timeline = Rc::new(Timeline { start, bytes: Default::default() });
    let core = Rc::new(CoreUpload {
        plan,
        pool,
        tally: Default::default(),
        timeline,
        next_upload,
        deadline,
        stop: run.stop_flag().clone(),
        live: run.live().clone(),
        index,
    });
    let tasks: Vec<_> = (0..slots).map(|_| tokio::task::spawn_local(run_slot(core.clone()))).collect();
    for t in tasks {
        let _ = t.await;
    }
    let tally = std::mem::take(&mut *core.tally.borrow_mut());
    let bytes = std::mem::take(&mut *core.timeline.bytes.borrow_mut());
    CoreEnd { tally, bytes }
}

/// One upload slot: its connections, reused for the objects it uploads one after another.
async fn run_slot(core: Rc<CoreUpload>) {
    let mut lanes: Vec<Lane> =
        (0..core.plan.part_concurrency).map(|_| Lane::new(core.plan.target.clone(), core.timeline.clone())).collect();
    while let Some(index) = core.next() {
        object::upload(&core, &mut lanes, index).await;
    }
}
