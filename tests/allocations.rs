//! Allocations per request in steady state, on every I/O backend (epoll, uring, ring): `blast api` runs in this
//! process under a counting allocator around mimalloc (blast's allocator). A global allocator
//! counts every thread of its process, so this test has a binary of its own: nothing else runs
//! beside it. The helpers are the `it` binary's (tests/it/common).

#[path = "it/common/mod.rs"]
mod common;
use common::*;
use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicU64, Ordering};

/// mimalloc (blast's allocator), counting allocations.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is passed to mimalloc unchanged; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `blast api` in this process; returns (allocations during the run, requests completed).
fn counted_run(io: &str, rate: &str, url: &str) -> (u64, f64) {
    use clap::Parser;
    let json = temp_path("alloc.json");
    let json_s = json.to_string_lossy().to_string();
    let argv = [
        "blast",
        "api",
        "--io",
        io,
        "--rate",
        rate,
        "--duration",
        "1s",
        "--cores",
        "1",
        "--conns",
        "8",
        "--quiet",
        "--json",
        &json_s,
        "--target",
        url,
    ];
    let Ok(blast::cli::Cli { command: blast::cli::Command::Api(args), .. }) = blast::cli::Cli::try_parse_from(argv)
    else {
        panic!("flags");
    };
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let code = blast::cli::driver::run(blast::cli::api::ApiCommand::new(args)).expect("run");
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert_eq!(code, std::process::ExitCode::SUCCESS);
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).expect("report")).expect("json");
    let _ = std::fs::remove_file(&json);
    (allocations, f(&j, "/requests/ok"))
}

#[test]
fn steady_state_requests_allocate_nothing_on_either_backend() {
    require_uring();
    // Exclusive: the only test of its binary; the guard keeps the rule that a load test takes one.
    let _g = exclusive();
    let server = Server::start(&[]);
    for io in ["epoll", "uring", "ring"] {
        // Two runs of the same length: what the second's 4,000 extra requests allocated is
        // what a request allocates (a run's fixed costs, per-second reports included, cancel).
        // One second each at 500/s and 4,500/s: the same 4,000 extra requests as two seconds at
        // 500/s and 2,500/s, in half the time (4,500/s is a fifth of what one core sends).
        let (few, few_ok) = counted_run(io, "500", &server.url());
        let (many, many_ok) = counted_run(io, "4500", &server.url());
        let per_request = (many as f64 - few as f64) / (many_ok - few_ok);
        eprintln!("{io}: {few} allocations for {few_ok} requests, {many} for {many_ok}: {per_request:.4} per request");
        assert!(many_ok - few_ok >= 3_900.0, "{io}: {few_ok} vs {many_ok} requests");
        assert!(per_request < 0.05, "{io}: {per_request:.4} allocations per request ({few} vs {many})");
    }
}
