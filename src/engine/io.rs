//! Which I/O backend the cores drive their sockets with: epoll (tokio), io_uring through
//! tokio-uring (`uring`), or one batched io_uring per core driven by the core's own loop
//! (`ring`, `engine::ring`). It owns the rule `--io auto` follows, the kernel probe behind it, and the one
//! place a worker thread's runtime is built ([`block_on`]).
//!
//! The rule for `auto`: io_uring when the kernel allows it (a ring can be set up here), the
//! workload can use it (plain TCP: TLS runs on epoll), and at least [`AUTO_SPARE_CORES`] of the
//! machine's cores are left beside blast's own for the target; else epoll. Measured (issue 17):
//! on one client core with the target on other cores, io_uring costs ~30% less CPU per request;
//! on a 2-core machine where the target shares blast's cores, it costs more (issue 7), because
//! tokio-uring's extra wake-ups then take CPU from the target. Where auto leaves epoll, a
//! workload may still take its batched ring (`blast api`: `workloads::api::ring`, when the run
//! goes there exactly as on epoll and the kernel times receives; measured cheaper than epoll
//! at every rate on the 2-core machine).

use std::cell::Cell;
use std::future::Future;
use std::sync::Mutex;

/// Cores that must be left to the target, beside blast's, before `auto` picks io_uring.
pub const AUTO_SPARE_CORES: usize = 2;

/// What the user asked for (`--io`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IoAsk {
    #[default]
    Auto,
    Epoll,
    Uring,
    /// The batched ring (`engine::ring`); `auto` leads to it only through the workload
    /// (`workloads::api::ring`), where auto's rule leaves epoll.
    Ring,
}

/// The backend a run uses, and why.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Io {
    /// Drive sockets with io_uring through tokio-uring (else epoll).
    pub uring: bool,
    /// Drive sockets with one batched io_uring per core (`engine::ring`), no tokio reactor on
    /// the hot path; `why` then says how it receives (multishot or single-shot).
    pub ring: bool,
    /// What was asked and why this backend: `auto: ...`, or why io_uring was refused; empty
    /// when the backend is simply the one asked for.
    pub why: String,
}

impl Io {
    /// `ring`, `uring` or `epoll`.
    pub fn name(&self) -> &'static str {
        if self.ring {
            "ring"
        } else if self.uring {
            "uring"
        } else {
            "epoll"
        }
    }

    /// io_uring (`uring` or `ring`) was asked for by name and refused (the run goes on with
    /// epoll).
    pub fn refused(&self) -> bool {
        !self.uring
            && !self.ring
            && (self.why.starts_with("io_uring asked for") || self.why.starts_with("ring asked for"))
    }
}

impl std::fmt::Display for Io {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.why.is_empty() {
            f.write_str(self.name())
        } else {
            write!(f, "{} ({})", self.name(), self.why)
        }
    }
}

/// Applies the rule to a run of `cores` worker threads on this machine (its online cores). `unsupported` is why
/// the workload cannot use io_uring (e.g. TLS), if it cannot.
pub fn choose(ask: IoAsk, cores: usize, unsupported: Option<&str>) -> Io {
    choose_with(ask, cores, online_cores(), unsupported, probe)
}

/// The machine's online cores, whatever this process's affinity (`taskset` on blast leaves
/// the other cores to the target, and they count as left to it).
pub fn online_cores() -> usize {
    // SAFETY: sysconf reads a system setting and has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    if n > 0 {
        n as usize
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

/// [`choose`] with the machine's core count and the kernel probe given.
pub fn choose_with(
    ask: IoAsk,
    cores: usize,
    machine: usize,
    unsupported: Option<&str>,
    probe: impl FnOnce() -> Result<(), String>,
) -> Io {
    let epoll = |why: String| Io { uring: false, ring: false, why };
    match ask {
        IoAsk::Epoll => epoll(String::new()),
        IoAsk::Ring => epoll("ring asked for, but it is chosen with choose_ring".into()),
        IoAsk::Uring => match unsupported.map(String::from).map_or_else(probe, Err) {
            Ok(()) => Io { uring: true, ring: false, why: String::new() },
            Err(why) => epoll(format!("io_uring asked for, but {why}")),
        },
        IoAsk::Auto => {
            if let Some(why) = unsupported {
                return epoll(format!("auto: {why}"));
            }
            let spare = machine.saturating_sub(cores);
            if spare < AUTO_SPARE_CORES {
                return epoll(format!(
                    "auto: {spare} of {machine} cores left beside blast's {cores}, the target shares blast's cores"
                ));
            }
            match probe() {
                Ok(()) => Io {
                    uring: true,
                    ring: false,
                    why: format!("auto: kernel allows it, {spare} cores left to the target"),
                },
                Err(why) => epoll(format!("auto: {why}")),
            }
        }
    }
}

/// `--io ring`: the batched ring when the workload can run on it (`unsupported` says why not)
/// and the kernel allows it (`probe` says how it receives, or why it refuses); else epoll,
/// saying why.
pub fn choose_ring(unsupported: Option<&str>, probe: impl FnOnce() -> Result<String, String>) -> Io {
    match unsupported.map(String::from).map_or_else(probe, Err) {
        Ok(how) => Io { uring: false, ring: true, why: how },
        Err(why) => Io { uring: false, ring: false, why: format!("ring asked for, but {why}") },
    }
}

/// Sets up an io_uring runtime the way the worker threads do and drops it: `Err` says why the
/// kernel (or a container's seccomp policy, or `kernel.io_uring_disabled`) refuses it.
pub fn probe() -> Result<(), String> {
    tokio_uring::Runtime::new(&tokio_uring::builder())
        .map(drop)
        .map_err(|e| format!("the kernel refused io_uring ({e})"))
}

thread_local! {
    /// This thread's runtime drives io_uring (transports open io_uring sockets).
    static ON_URING: Cell<bool> = const { Cell::new(false) };
}

/// Why a worker thread could not start io_uring after the probe allowed it (the thread ran on
/// epoll); the first such reason of the process.
static REFUSED_AT_START: Mutex<Option<String>> = Mutex::new(None);

/// True on a worker thread whose runtime drives io_uring.
pub fn on_uring() -> bool {
    ON_URING.with(Cell::get)
}

/// Takes the reason a worker thread fell back to epoll, if one did since the last call.
pub fn take_refused_at_start() -> Option<String> {
    REFUSED_AT_START.lock().ok().and_then(|mut r| r.take())
}

/// Builds this thread's runtime and runs the future `make` returns on it: tokio-uring's (a
/// current-thread tokio runtime, a `LocalSet` and the ring) when `uring`, else a current-thread
/// tokio runtime with a `LocalSet`. A ring the kernel refuses falls back to the latter, the
/// reason kept for the report. `Err` when no runtime could be built at all.
pub fn block_on<F, Fut>(uring: bool, make: F) -> std::io::Result<()>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
{
    if uring {
        match tokio_uring::Runtime::new(&tokio_uring::builder()) {
            Ok(rt) => {
                ON_URING.with(|u| u.set(true));
                rt.block_on(make());
                ON_URING.with(|u| u.set(false));
                return Ok(());
            }
            Err(e) => {
                if let Ok(mut why) = REFUSED_AT_START.lock() {
                    why.get_or_insert_with(|| format!("a core could not start io_uring ({e}) and ran on epoll"));
                }
            }
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    tokio::task::LocalSet::new().block_on(&rt, make());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Result<(), String> {
        Ok(())
    }

    #[test]
    fn auto_picks_uring_only_with_cores_to_spare_and_a_willing_kernel() {
        let io = choose_with(IoAsk::Auto, 1, 16, None, allowed);
        assert!(io.uring, "{io}");
        assert!(io.to_string().starts_with("uring (auto: "), "{io}");
        // A 2-core machine: the target shares blast's cores.
        let io = choose_with(IoAsk::Auto, 1, 2, None, allowed);
        assert!(!io.uring && io.why.contains("shares"), "{io}");
        let io = choose_with(IoAsk::Auto, 1, 16, None, || Err("the kernel refused io_uring (EPERM)".into()));
        assert_eq!(io.to_string(), "epoll (auto: the kernel refused io_uring (EPERM))");
        let io = choose_with(IoAsk::Auto, 1, 16, Some("TLS runs on epoll"), || panic!("not probed"));
        assert_eq!(io.to_string(), "epoll (auto: TLS runs on epoll)");
    }

    #[test]
    fn a_named_backend_is_used_unless_refused_and_then_says_why() {
        assert_eq!(choose_with(IoAsk::Epoll, 1, 16, None, || panic!("not probed")).to_string(), "epoll");
        assert_eq!(choose_with(IoAsk::Uring, 2, 2, None, allowed).to_string(), "uring");
        let io = choose_with(IoAsk::Uring, 1, 16, None, || Err("the kernel refused io_uring (ENOSYS)".into()));
        assert!(io.refused(), "{io}");
        assert_eq!(io.to_string(), "epoll (io_uring asked for, but the kernel refused io_uring (ENOSYS))");
        assert!(choose_with(IoAsk::Uring, 1, 16, Some("TLS runs on epoll"), allowed).refused());
    }

    #[test]
    fn the_ring_says_how_it_receives_or_why_it_is_refused() {
        let io = choose_ring(None, || Ok("multishot recv".into()));
        assert_eq!(io.to_string(), "ring (multishot recv)");
        let io = choose_ring(Some("TLS runs on epoll"), || panic!("not probed"));
        assert!(io.refused(), "{io}");
        assert_eq!(io.to_string(), "epoll (ring asked for, but TLS runs on epoll)");
        assert!(choose_ring(None, || Err("the kernel refused io_uring (EPERM)".into())).refused());
    }
}
