//! How long a served connection has been idle (no request in its handler), for
//! `--keepalive-timeout`: the handler holds a `Busy` guard while it runs.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One connection's activity.
pub struct Idle {
    /// When the connection was accepted (the origin of `last_ns`).
    origin: Instant,
    busy: Arc<AtomicUsize>,
    /// When the last request finished, in ns since `origin`.
    last_ns: Arc<AtomicU64>,
}

/// A request in progress; when dropped the connection is idle from then on.
pub struct Busy {
    origin: Instant,
    busy: Arc<AtomicUsize>,
    last_ns: Arc<AtomicU64>,
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.last_ns.store(self.origin.elapsed().as_nanos() as u64, Ordering::Relaxed);
        self.busy.fetch_sub(1, Ordering::Release);
    }
}

impl Default for Idle {
    fn default() -> Self {
        Self::new()
    }
}

impl Idle {
    pub fn new() -> Self {
        Idle { origin: Instant::now(), busy: Arc::default(), last_ns: Arc::default() }
    }

    /// Marks a request in progress until the guard is dropped.
    pub fn busy(&self) -> Busy {
        self.busy.fetch_add(1, Ordering::Acquire);
        Busy { origin: self.origin, busy: self.busy.clone(), last_ns: self.last_ns.clone() }
    }

    /// Returns once no request has been in progress for `timeout`.
    pub async fn expired(&self, timeout: Duration) {
        loop {
            let idle_since = self.origin + Duration::from_nanos(self.last_ns.load(Ordering::Relaxed));
            let busy = self.busy.load(Ordering::Acquire) > 0;
            if !busy && idle_since.elapsed() >= timeout {
                return;
            }
            let wake = if busy { Instant::now() + timeout } else { idle_since + timeout };
            tokio::time::sleep_until(wake.into()).await;
        }
    }
}
