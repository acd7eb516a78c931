//! How the tests of this binary share the machine. A test that runs load takes one of two
//! guards for its whole length:
//!
//! - [`exclusive`]: nothing else that runs load is running. For tests whose assertions depend
//!   on timing or the CPU: latency and accuracy tolerances, rates achieved, per-second counts,
//!   blast's CPU figures, high rates (which would also take the CPU from the others), and
//!   "ended within N s" bounds close to the run's own length.
//! - [`shared`]: runs beside at most `SHARED_MAX - 1` other shared tests, never beside an
//!   exclusive one. For functional tests: the shape of a report, errors and exit codes, exact
//!   counts at low rates (judged against what the server counted), which hold however slowly
//!   the machine runs.
//!
//! Exclusive tests are run in batches: one waits while shared ones go on, until
//! `EXCLUSIVE_BATCH` of them wait (or no shared test is left to run); then no new shared test
//! starts, the running ones end, and the waiting exclusive ones run one after another, each
//! alone. The machine is emptied of shared tests once per batch rather than once per exclusive
//! test (each emptying leaves it idle while the longest shared test ends), and an exclusive test
//! is never starved: the batch fills, or the shared tests run out. Each test says by its guard
//! which kind it is and why (a comment where that is not plain). `BLAST_TEST_TIMES=FILE` lists
//! how long each test held its guard.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

/// At most this many shared tests at once (each is a `blast` process, a server, and mostly
/// waiting on timers at low rates: a few fit on two cores without slowing any past its bounds).
const SHARED_MAX: usize = 4;

/// This many exclusive tests waiting stop new shared ones from starting. With the test threads
/// of .cargo/config.toml (8), 4 running shared tests and 3 waiting exclusive ones leave one
/// thread to take the next test; fewer threads only make batches end sooner (an exclusive test
/// starts whenever no shared one runs).
const EXCLUSIVE_BATCH: usize = 4;

struct State {
    shared: usize,
    exclusive: bool,
    exclusive_waiting: usize,
}

static STATE: Mutex<State> = Mutex::new(State { shared: 0, exclusive: false, exclusive_waiting: 0 });
static CHANGED: Condvar = Condvar::new();

fn state() -> MutexGuard<'static, State> {
    // A test that panics holds a guard, not this mutex: poisoning cannot carry a half-change.
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

fn wait(s: MutexGuard<'static, State>) -> MutexGuard<'static, State> {
    CHANGED.wait(s).unwrap_or_else(|e| e.into_inner())
}

/// Held by a test that must run alone among the load tests; released when dropped.
#[must_use = "the test runs alone only while the guard is held"]
pub struct Exclusive(Held);

/// Held by a test that may run beside other shared tests; released when dropped.
#[must_use = "the test is counted only while the guard is held"]
pub struct Shared(Held);

/// Waits until no other load test runs, then holds the machine alone.
pub fn exclusive() -> Exclusive {
    let mut s = state();
    s.exclusive_waiting += 1;
    while s.exclusive || s.shared > 0 {
        s = wait(s);
    }
    s.exclusive_waiting -= 1;
    s.exclusive = true;
    Exclusive(Held::now("exclusive"))
}

/// Waits until no exclusive test runs, fewer than `EXCLUSIVE_BATCH` wait, and fewer than
/// `SHARED_MAX` shared ones run; and, while an exclusive test waits, until another shared one
/// runs (a machine free of shared tests goes to the waiting exclusive ones first, so that a
/// batch runs whole).
pub fn shared() -> Shared {
    let mut s = state();
    while s.exclusive
        || s.exclusive_waiting >= EXCLUSIVE_BATCH
        || (s.exclusive_waiting > 0 && s.shared == 0)
        || s.shared >= SHARED_MAX
    {
        s = wait(s);
    }
    s.shared += 1;
    Shared(Held::now("shared"))
}

impl Drop for Exclusive {
    fn drop(&mut self) {
        state().exclusive = false;
        CHANGED.notify_all();
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        state().shared -= 1;
        CHANGED.notify_all();
    }
}

/// When a guard was taken, for `BLAST_TEST_TIMES=FILE`: each guard appends `seconds kind test
/// end` to FILE when dropped (`end` in Unix seconds), so that the suite's longest tests can be
/// found (`sort -rn FILE`), and when the machine was full, shared or idle (each guard from
/// `end - seconds` to `end`).
struct Held {
    kind: &'static str,
    since: Instant,
}

impl Held {
    fn now(kind: &'static str) -> Held {
        Held { kind, since: Instant::now() }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(path) = std::env::var_os("BLAST_TEST_TIMES") else { return };
        let test = std::thread::current().name().unwrap_or("?").to_string();
        let at =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        let line = format!("{:.1} {} {test} {at:.1}\n", self.since.elapsed().as_secs_f64(), self.kind);
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = f.write_all(line.as_bytes());
        }
    }
}
