//! The workloads, one module each, all driven by the engine.
//!
//! - `api`: HTTP/1.1 requests at a fixed arrival rate.

pub mod api;
