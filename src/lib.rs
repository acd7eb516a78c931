//! blast: an open-loop, thread-per-core load generator.
//!
//! # Layout
//! Each layer imports only the layers below it, never one above: `cli` > `report` >
//! `workloads` > `template` and `http` > `engine` > `units`, `clock`, `civil_time`, `sys`,
//! `tls`, `usage`; `serve` (beside the generators, imported only by `cli`) uses `http`, `clock`
//! and `tls`.
//!
//! - `engine`: the runner that starts the pinned worker threads (one per core, each with its
//!   own runtime) and holds them at a shared start, the open-loop pacer, per-core queues and
//!   recorders. It knows no protocol.
//! - `workloads`: one module per protocol (`api`, `ws`, `upload`), each running on the
//!   engine's runner: `api` through the `Workload`/`Connection` traits (open-loop requests),
//!   `ws` and `upload` with a per-core future and tally of their own.
//! - `http`: the target URL, the HTTP/1.1 response codec, connection set-up, the
//!   WebSocket settings, a virtual user's cookie jar and the redirect rules, shared by the
//!   workloads (and, for WebSocket, by `serve`).
//! - `serve`: the embedded target (`blast serve`), separate from the generators.
//! - `report`: one measurement model (named rows, per-second history, latencies) rendered as
//!   the terminal summary, JSON (with the raw histograms `blast merge` reads), Locust CSV, HTML,
//!   HdrHistogram logs and comparisons.
//! - `import`: `blast import`, reading Locust files, HAR exports and OpenAPI documents into
//!   profiles (TOML); beside the generators, imported only by `cli`.
//! - `cli`: parses flags and orchestrates: each workload command implements
//!   `cli::driver::Workload`, and the driver holds the one skeleton (limits, signals, progress,
//!   live metrics, SLA, reports, exit code) for all of them.
//! - `usage`: the usage error (bad input: one line, exit 2) that every layer may return.
//! - `redact`: masks tokens and credentials in everything blast prints or writes.
//! - `template`: request templates (`{{...}}` placeholders) parsed once, rendered per request.
//! - `units`: parsers for durations, rates, counts and sizes (flags, profiles, load stages).
//! - `clock`: sub-millisecond timers; `sys`: OS limits; `tls`: the generators' TLS client.
//! - `civil_time`: UTC calendar dates of Unix times, ISO 8601 written and read.
//!
//! # Adding a workload
//! A fourth workload (say `grpc`) touches: a folder `workloads/grpc/` (plan, per-core run, tally,
//! `raw.rs` with its JSON form and shard merge), a file `report/grpc.rs` (its `Report`: figures,
//! headline, rows), a file `cli/grpc.rs` (its flags and `impl driver::Workload`), and one arm
//! each in `cli::command::Command`, `cli::mod`'s dispatch, `cli::merge` and `cli::profile`.

pub mod civil_time;
pub mod cli;
pub mod clock;
pub mod engine;
pub mod http;
pub mod import;
pub mod redact;
pub mod report;
pub mod serve;
pub mod sys;
pub mod template;
pub mod tls;
pub mod units;
pub mod usage;
pub mod workloads;
