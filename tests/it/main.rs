//! The integration tests: one binary, a module per area (one link instead of one per file).
//! They run the real `blast` binary against real servers on 127.0.0.1 (`blast serve` as a
//! separate process, s3s-fs, websocat, a Python Prometheus parser), which `common` starts.
//! Every test that generates load takes `common::exclusive()` (its assertions depend on timing,
//! rates or CPU: it runs alone among the load tests but for two light or one moderate one),
//! `common::shared()` (a functional test: it may run beside a few other shared ones), or
//! `common::light()` / `common::moderate()` (a shared test measured to use at most a tenth / a
//! quarter of a core: it may also run beside an exclusive one); `common/gate.rs` says how. A test that must
//! own its process (a global counting allocator) is a binary of its own: tests/allocations.rs.

mod common;

mod accuracy;
mod api;
mod evidence;
mod faults;
mod flow_reconnect;
mod import;
mod import_side_by_side;
mod interfaces;
mod io_backends;
mod live_metrics;
mod profiles;
mod report_units;
mod reports;
mod rough_edges;
mod scenario;
mod scenario_fields;
mod scripts;
mod selfcpu;
mod serve_app;
mod sessions;
mod shards;
mod tls;
mod upload;
mod verdicts;
mod web_page;
mod ws;
mod ws_auth;
mod ws_evidence;
mod ws_expiry;
mod ws_formats;
mod ws_login;
