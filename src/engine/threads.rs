//! Worker threads pinned one per core, each running its own single-threaded tokio runtime
//! (driving epoll or io_uring: `engine::io` builds it).

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Pinned worker threads being started.
pub struct Pinned {
    core_ids: Vec<core_affinity::CoreId>,
    /// Threads that were actually pinned (containers may forbid it).
    pub pinned: Arc<AtomicUsize>,
    /// Run each worker on an io_uring runtime (tokio-uring) instead of epoll.
    uring: bool,
}

impl Pinned {
    pub fn new(pin: bool) -> Self {
        let core_ids = if pin { core_affinity::get_core_ids().unwrap_or_default() } else { Vec::new() };
        Pinned { core_ids, pinned: Arc::new(AtomicUsize::new(0)), uring: false }
    }

    /// Workers run on io_uring (`engine::io::block_on` falls back to epoll, saying why, where
    /// the kernel refuses a ring).
    pub fn with_uring(mut self, uring: bool) -> Self {
        self.uring = uring;
        self
    }

    /// Starts worker `index`: pins it, builds a current-thread runtime with a `LocalSet`, and
    /// runs the future that `make` returns (built on the thread, so it need not be `Send`).
    /// If the runtime cannot be built, `on_fail` runs instead.
    pub fn spawn<F, Fut>(
        &self,
        index: usize,
        make: F,
        on_fail: impl FnOnce() + Send + 'static,
    ) -> std::io::Result<JoinHandle<()>>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let core_id = (!self.core_ids.is_empty()).then(|| self.core_ids[index % self.core_ids.len()]);
        let (pinned, uring) = (self.pinned.clone(), self.uring);
        std::thread::Builder::new().name(format!("blast-core-{index}")).spawn(move || {
            if let Some(id) = core_id {
                if core_affinity::set_for_current(id) {
                    pinned.fetch_add(1, Ordering::Relaxed);
                }
            }
            if crate::engine::io::block_on(uring, make).is_err() {
                on_fail();
            }
        })
    }

    pub fn pinned(&self) -> usize {
        self.pinned.load(Ordering::Relaxed)
    }
}
