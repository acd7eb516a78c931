//! Sub-millisecond sleeping for a tokio runtime.
//!
//! tokio's timer wheel ticks in whole milliseconds and rounds deadlines up, which would add
//! up to a millisecond of send lag to every paced request and of error to `blast serve
//! --delay`. `PreciseTimer` arms a Linux `timerfd` (CLOCK_MONOTONIC, the clock `Instant` reads)
//! at the absolute deadline and waits for it through the runtime's reactor, so a wake-up costs
//! a few microseconds and no thread spins. Where timerfd is unavailable it falls back to
//! tokio's timer.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};
use tokio::io::unix::AsyncFd;

/// A reusable one-shot timer with nanosecond resolution.
pub struct PreciseTimer {
    /// `None` when timerfd could not be created: tokio's millisecond timer is used instead.
    fd: Option<AsyncFd<OwnedFd>>,
}

impl PreciseTimer {
    /// Must be called inside a tokio runtime with I/O enabled.
    pub fn new() -> Self {
        PreciseTimer { fd: create_timerfd().ok() }
    }

    /// True when the timer has sub-millisecond resolution.
    pub fn is_precise(&self) -> bool {
        self.fd.is_some()
    }

    /// Sleeps until `deadline` (returns at once when it has passed).
    pub async fn sleep_until(&mut self, deadline: Instant) {
        loop {
            let now = Instant::now();
            if deadline <= now {
                return;
            }
            let Some(fd) = &self.fd else {
                tokio::time::sleep_until(deadline.into()).await;
                return;
            };
            if arm(fd.get_ref(), deadline - now).is_err() {
                tokio::time::sleep_until(deadline.into()).await;
                return;
            }
            match fd.readable().await {
                Ok(mut guard) => {
                    // Consume the expiry count; a stale readiness reads WouldBlock and we re-arm.
                    let _ = guard.try_io(|inner| read_expirations(inner.get_ref()));
                }
                Err(_) => {
                    tokio::time::sleep_until(deadline.into()).await;
                    return;
                }
            }
        }
    }
}

impl Default for PreciseTimer {
    fn default() -> Self {
        Self::new()
    }
}

/// Asks the kernel to fire this thread's timers on time. By default Linux may defer a normal
/// thread's timer by up to 50 µs ("timer slack") to batch wake-ups, which would show up as
/// send lag on every paced request.
pub fn tighten_timer_slack() {
    // SAFETY: PR_SET_TIMERSLACK takes an integer argument and touches no memory of ours.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
}

fn create_timerfd() -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: timerfd_create has no memory-safety preconditions; a non-negative return is a
    // fresh descriptor that we own from here on.
    let raw = unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a valid descriptor returned above and owned by nobody else.
    let owned = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: `owned` is an open descriptor owned by the AsyncFd from here until it is dropped,
    // and `OwnedFd::as_raw_fd` always returns that same descriptor.
    unsafe { AsyncFd::register_with_interest(owned, tokio::io::Interest::READABLE) }.map_err(|e| e.into_parts().1)
}

/// Arms the timer to fire once, `wait` from now, at an absolute CLOCK_MONOTONIC time.
fn arm(fd: &OwnedFd, wait: Duration) -> io::Result<()> {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid, writable timespec.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let total_ns = now.tv_nsec as u64 + wait.subsec_nanos() as u64;
    let value = libc::timespec {
        tv_sec: now.tv_sec + wait.as_secs() as libc::time_t + (total_ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (total_ns % 1_000_000_000) as libc::c_long,
    };
    let spec = libc::itimerspec { it_interval: libc::timespec { tv_sec: 0, tv_nsec: 0 }, it_value: value };
    // SAFETY: `fd` is a timerfd we own; `spec` is valid; the old-value pointer may be null.
    let rc = unsafe { libc::timerfd_settime(fd.as_raw_fd(), libc::TFD_TIMER_ABSTIME, &spec, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn read_expirations(fd: &OwnedFd) -> io::Result<u64> {
    let mut buf = [0u8; 8];
    // SAFETY: reading at most 8 bytes into an 8-byte buffer from a descriptor we own.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(u64::from_ne_bytes(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wakes_close_to_the_deadline() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let mut t = PreciseTimer::new();
            assert!(t.is_precise(), "timerfd available on Linux");
            let mut late = Vec::new();
            for _ in 0..21 {
                let deadline = Instant::now() + Duration::from_micros(700);
                t.sleep_until(deadline).await;
                let now = Instant::now();
                assert!(now >= deadline, "never early");
                late.push(now - deadline);
            }
            // Functional bound (not a benchmark): the typical wake-up is far below tokio's 1 ms
            // tick. The median, not the worst, so that a busy shared machine (a preempted
            // thread now and then) does not fail it.
            late.sort();
            assert!(late[late.len() / 2] < Duration::from_millis(2), "median late by {:?}", late[late.len() / 2]);
        });
    }
}
