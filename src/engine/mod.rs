//! The engine: cores, pacing, queueing and recording. It knows no protocol, and imports
//! nothing above it (no `cli`, `serve`, `report` or workload). This file only declares and
//! re-exports; the modules below import each other, never this file.
//!
//! - `runner`: the one runner every workload runs on: starts the pinned cores (through
//!   `threads`, private to the engine), the shared start, the stop flag, updates, live
//!   progress ticks, the merge of the per-core `Tally`s, the join.
//! - `threads`: worker threads pinned one per core, each with its own runtime.
//! - `io`: the I/O backend (epoll or io_uring), the `--io auto` rule, and the one place a
//!   worker's runtime is built.
//! - `run` and `core`: the open-loop run (`blast api`) on the runner: what one core runs
//!   (pacer, queue, connections, recorder) and the merge of its per-second snapshots.
//! - `ring`: the open-loop core of `--io ring`: one batched io_uring per core, driven by the
//!   core's own loop, for workloads whose calls are one request and one response (`ring::Lone`).
//! - `workload`: the trait a protocol implements to be driven open-loop (`Workload`).
//! - `plan`: a validated open-loop run (`Plan`) and how a count is spread over cores.
//! - `shard`: one run split over processes (`Shard`), and shards checked back into one run.
//! - `pacer`: when each request is due (a pure function of the plan).
//! - `arrivals`: one core's due slots taken as jobs, as both cores pace them.
//! - `shape`: load shapes (ramps, holds, spikes) as piecewise-linear rates.
//! - `steer`: a rate set while the run goes on (`--web`), adopted by the pacers each second.
//! - `queue`: hands due jobs to the free connections of one core.
//! - `recorder`: per-core histograms and counters, merged exactly.
//! - `connect_failure`: why a connection could not be opened: its name, cause and advice.
//! - `compact`: a recorder with its histograms deflated (the per-second series, JSON `raw`).
//! - `mix`: which kind of iteration each arrival is (a deterministic weighted interleave).
//! - `cpu`: blast's own CPU, each worker thread's rusage per second (`RunCpu`).
//! - `live`: per-core counters the progress display reads while the run goes on.
//! - `series`: a histogram per wall-clock second, for events off the schedule (ws, upload).
//! - `timeout`: a connection's call timeout with one lazily moved timer, not one per call.
//! - `rng`: the seeded generator behind arrivals and payloads.

pub mod arrivals;
pub mod compact;
pub mod connect_failure;
pub mod core;
pub mod cpu;
pub mod io;
pub mod live;
pub mod mix;
pub mod pacer;
pub mod plan;
pub mod queue;
pub mod recorder;
pub mod ring;
pub mod rng;
pub mod run;
pub mod runner;
pub mod series;
pub mod shape;
pub mod shard;
pub mod steer;
mod threads;
pub mod timeout;
pub mod workload;

pub use connect_failure::ConnectFailure;
pub use pacer::Arrival;
pub use plan::Plan;
pub use recorder::{ErrorKind, Recorder};
pub use run::{run, RunOutcome};
pub use runner::{Core, Cores, StartError, Tally};
pub use shard::{spread, Shard};
pub use workload::{CallStats, Connection, Job, StepRecord, Workload};
