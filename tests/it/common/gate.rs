//! How the tests of this binary share the machine. A test that runs load takes one of four
//! guards for its whole length:
//!
//! - [`exclusive`]: no other exclusive or shared test is running, only light or moderate ones
//!   within `BESIDE_BUDGET` (two light ones, or one moderate one). For tests whose assertions
//!   depend on timing or the CPU: latency and accuracy tolerances, rates achieved, per-second
//!   counts, blast's CPU figures, high rates (which would also take the CPU from the others), and
//!   "ended within N s" bounds close to the run's own length. The accuracy suites pass with a
//!   core kept busy by another process (`scripts/soak-tests.sh`); what may run beside them takes
//!   a quarter of one core at most.
//! - [`shared`]: runs beside at most `SHARED_MAX - 1` other shared, light or moderate tests,
//!   never beside an exclusive one. For functional tests: the shape of a report, errors and exit
//!   codes, exact counts at low rates (judged against what the server counted), which hold
//!   however slowly the machine runs.
//! - [`light`] and [`moderate`]: shared tests that also may run beside an exclusive one, because
//!   they keep the machine nearly idle. Measured alone, a light test's processes (blast, its
//!   target, any tool it starts) used at most a tenth of one core over the test's length (the
//!   median light test 4.9%), or under 30 ms of CPU in all (a flag or a connection refused
//!   before the run); a moderate one at most a quarter, and it counts twice. Tests that start
//!   Locust, Chromium or a Prometheus server stay shared whatever they measured (a browser's
//!   processes are not all waited for, so not all counted); those that upload megabytes measured
//!   above a quarter; a test that bounds a rate or a latency closely is exclusive or shared. Measure a test before
//!   giving it either guard: `/usr/bin/time` on the test binary with `--exact NAME
//!   --test-threads 1` reports the user and system time of the test and of every process it
//!   waited for.
//!
//! Tests that generate no load take no guard: usage errors, imports, a dry run, a request or two
//! to `blast serve`; measured alone the 35 of them use 1 s of CPU all together, 0.17 s at most.
//!
//! Exclusive tests are run in batches: one waits while shared ones go on, until
//! `EXCLUSIVE_BATCH` of them wait (or no shared test is left to run); then no new shared test
//! starts, the running ones end, and the waiting exclusive ones run one after another, each
//! alone among the exclusive and shared tests while light and moderate ones go on beside them.
//! The machine is emptied of shared tests once per batch rather than once per exclusive test
//! (each emptying leaves it idle while the longest shared test ends), and an exclusive test is
//! never starved: the batch fills, or the shared tests run out. Each test says by its guard
//! which kind it is and why (a comment where that is not plain). `BLAST_TEST_TIMES=FILE` lists
//! how long each test held its guard.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

/// At most this many shared, light and moderate tests at once (each is a `blast` process, a
/// server, and mostly waiting on timers at low rates: a few fit on two cores without slowing any
/// past its bounds).
const SHARED_MAX: usize = 4;

/// What may run beside an exclusive test: a light test counts 1, a moderate one 2 (each measured
/// at most a tenth and a quarter of a core).
const BESIDE_BUDGET: usize = 2;

/// This many exclusive tests waiting stop new shared ones from starting. The test threads of
/// .cargo/config.toml (32) let many tests wait at once, so that light and moderate ones are at
/// hand whenever an exclusive one runs; fewer threads only make batches end sooner (an exclusive
/// test starts whenever no other exclusive or shared one runs and what runs beside it fits the
/// budget).
const EXCLUSIVE_BATCH: usize = 4;

struct State {
    shared: usize,
    /// Light and moderate tests running.
    beside: usize,
    /// Their weights, summed.
    beside_weight: usize,
    exclusive: bool,
    exclusive_waiting: usize,
}

static STATE: Mutex<State> =
    Mutex::new(State { shared: 0, beside: 0, beside_weight: 0, exclusive: false, exclusive_waiting: 0 });
static CHANGED: Condvar = Condvar::new();

fn state() -> MutexGuard<'static, State> {
    // A test that panics holds a guard, not this mutex: poisoning cannot carry a half-change.
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

fn wait(s: MutexGuard<'static, State>) -> MutexGuard<'static, State> {
    CHANGED.wait(s).unwrap_or_else(|e| e.into_inner())
}

/// Held by a test that must run alone among the exclusive and shared tests; released when
/// dropped.
#[must_use = "the test runs alone only while the guard is held"]
pub struct Exclusive(Held);

/// Held by a test that may run beside other shared tests; released when dropped.
#[must_use = "the test is counted only while the guard is held"]
pub struct Shared(Held);

/// Held by a light or moderate test, which may run beside shared tests and beside an exclusive
/// one; released when dropped.
#[must_use = "the test is counted only while the guard is held"]
pub struct Beside {
    weight: usize,
    _held: Held,
}

/// Waits until no other exclusive or shared test runs and the light and moderate ones running
/// fit in `BESIDE_BUDGET`, then holds the machine.
pub fn exclusive() -> Exclusive {
    let mut s = state();
    s.exclusive_waiting += 1;
    while s.exclusive || s.shared > 0 || s.beside_weight > BESIDE_BUDGET {
        s = wait(s);
    }
    s.exclusive_waiting -= 1;
    s.exclusive = true;
    Exclusive(Held::now("exclusive"))
}

/// Waits until no exclusive test runs, fewer than `EXCLUSIVE_BATCH` wait, and fewer than
/// `SHARED_MAX` shared, light and moderate ones run; and, while an exclusive test waits, until
/// another shared one runs (a machine free of shared tests goes to the waiting exclusive ones
/// first, so that a batch runs whole).
pub fn shared() -> Shared {
    let mut s = state();
    while s.exclusive
        || s.exclusive_waiting >= EXCLUSIVE_BATCH
        || (s.exclusive_waiting > 0 && s.shared == 0)
        || s.shared + s.beside >= SHARED_MAX
    {
        s = wait(s);
    }
    s.shared += 1;
    Shared(Held::now("shared"))
}

/// A test measured at a tenth of a core or less: see the module's doc.
pub fn light() -> Beside {
    beside(1, "light")
}

/// A test measured at a quarter of a core or less: see the module's doc.
pub fn moderate() -> Beside {
    beside(2, "moderate")
}

/// Waits until fewer than `SHARED_MAX` shared, light and moderate tests run, and, while an
/// exclusive test runs or waits, until `weight` more fits in `BESIDE_BUDGET`.
fn beside(weight: usize, kind: &'static str) -> Beside {
    let mut s = state();
    while s.shared + s.beside >= SHARED_MAX
        || ((s.exclusive || s.exclusive_waiting > 0) && s.beside_weight + weight > BESIDE_BUDGET)
    {
        s = wait(s);
    }
    s.beside += 1;
    s.beside_weight += weight;
    Beside { weight, _held: Held::now(kind) }
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

impl Drop for Beside {
    fn drop(&mut self) {
        let mut s = state();
        s.beside -= 1;
        s.beside_weight -= self.weight;
        drop(s);
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
