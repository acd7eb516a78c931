//! The workloads, one module each, all driven by the engine.
//!
//! - `api`: HTTP/1.1 requests at a fixed arrival rate.
//! - `ws`: WebSocket connections held open, with fan-out latency probes.

pub mod api;
pub mod upload;
pub mod ws;
