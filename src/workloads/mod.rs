//! The workloads, one module each, all running on the engine's runner (`engine::runner`):
//! a workload says what one core does and what it tallies; the runner starts the pinned
//! cores, the shared start, progress and the merge. Workloads import the engine and `http`,
//! never `cli`, `serve` or `report`.
//!
//! - `api`: HTTP/1.1 requests at a fixed arrival rate (the engine's open-loop `Workload`).
//! - `ws`: WebSocket connections held open, with fan-out latency probes.
//! - `upload`: S3 multipart uploads, every part checksummed and every object verified.

pub mod api;
pub mod upload;
pub mod ws;
