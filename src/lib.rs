//! blast: an open-loop, thread-per-core load generator.
//!
//! # Layout
//! - `engine`: pinned worker threads, the open-loop pacer, per-core queues and recorders. It
//!   knows no protocol.
//! - `workloads`: one module per protocol (`api`), each plugging into the engine through the
//!   `Workload` and `Connection` traits.
//! - `serve`: the embedded target (`blast serve`), separate from the generators.
//! - `report`: one measurement model (named rows, per-second history, latencies) rendered as
//!   the terminal summary, JSON, Locust CSV, HTML and HdrHistogram logs; `blast merge` of shards.
//! - `cli`: parses flags, builds plans and workloads, maps results to exit codes.
//! - `clock`: sub-millisecond timers; `sys`: OS limits; `tls`: the generators' TLS client.

pub mod cli;
pub mod clock;
pub mod engine;
pub mod report;
pub mod serve;
pub mod sys;
pub mod tls;
pub mod workloads;
