//! Worker threads pinned one per core, each running its own single-threaded tokio runtime.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

thread_local! {
    /// This worker thread runs on an io_uring runtime (tokio-uring).
    static ON_URING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// True on a worker thread whose runtime drives io_uring (transports then use it).
pub fn on_uring() -> bool {
    ON_URING.with(|u| u.get())
}

/// Pinned worker threads being started.
pub struct Pinned {
    core_ids: Vec<core_affinity::CoreId>,
    /// Threads that were actually pinned (containers may forbid it).
    pub pinned: Arc<AtomicUsize>,
    /// Run each worker on an io_uring runtime (tokio-uring) instead of epoll.
    uring: bool,
    /// Why io_uring could not be used, when it was asked for and failed (the worker then ran
    /// on epoll).
    pub uring_unavailable: Arc<std::sync::Mutex<Option<String>>>,
}

impl Pinned {
    pub fn new(pin: bool) -> Self {
        let core_ids = if pin { core_affinity::get_core_ids().unwrap_or_default() } else { Vec::new() };
        Pinned { core_ids, pinned: Arc::new(AtomicUsize::new(0)), uring: false, uring_unavailable: Arc::default() }
    }

    /// Workers run on io_uring (needs the `uring` feature; falls back to epoll at run time
    /// where the kernel or container does not allow io_uring, saying why).
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
        let pinned = self.pinned.clone();
        let (uring, unavailable) = (self.uring, self.uring_unavailable.clone());
        std::thread::Builder::new().name(format!("blast-core-{index}")).spawn(move || {
            if let Some(id) = core_id {
                if core_affinity::set_for_current(id) {
                    pinned.fetch_add(1, Ordering::Relaxed);
                }
            }
            #[cfg(feature = "uring")]
            if uring {
                match tokio_uring::Runtime::new(&tokio_uring::builder()) {
                    Ok(rt) => {
                        ON_URING.with(|u| u.set(true));
                        rt.block_on(make());
                        return;
                    }
                    Err(e) => {
                        if let Ok(mut why) = unavailable.lock() {
                            why.get_or_insert(e.to_string());
                        }
                    }
                }
            }
            #[cfg(not(feature = "uring"))]
            let _ = (uring, unavailable);
            match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => {
                    let local = tokio::task::LocalSet::new();
                    local.block_on(&rt, make());
                }
                Err(_) => on_fail(),
            }
        })
    }

    pub fn pinned(&self) -> usize {
        self.pinned.load(Ordering::Relaxed)
    }
}
