//! `--metrics-listen ADDR:PORT` of `blast api`, `ws` and `upload`: starts the live Prometheus
//! listener (`report::live_metrics`) and turns each workload's once-a-second update into its
//! page.
//!
//! The address is where blast listens, not where load goes: `9464` or `:9464` is
//! 127.0.0.1:9464, `localhost:9464` too; any other IP address is served as given (an explicit
//! `0.0.0.0:9464` for a Prometheus in another container), with a note on stderr that the
//! figures are readable from the network. Host names other than localhost are refused.

use super::common::{parse_listen, UsageError};
use crate::engine::run::Progress;
use crate::engine::Plan;
use crate::report::live_metrics::{self, MetricsServer, UploadFigures};
use crate::workloads::api::raw::NamedRequest;
use clap::Args;
use std::net::SocketAddr;
use std::time::Instant;

#[derive(Args, Debug, Default, Clone)]
pub struct MetricsArgs {
    /// Serve live Prometheus metrics (text format, GET /metrics) on this address while the run
    /// goes on: 127.0.0.1:9464, or :9464 (loopback); port 0 picks a free one.
    #[arg(long, value_name = "ADDR:PORT", value_parser = parse_listen)]
    pub metrics_listen: Option<SocketAddr>,
    #[command(flatten)]
    pub web: super::web::WebArgs,
}

/// A running listener and what the pages it serves need between updates.
pub struct LiveMetrics {
    server: MetricsServer,
    started: Instant,
    /// (when, bytes) of the upload's previous update, for its rate.
    last_bytes: Option<(Instant, u64)>,
}

impl MetricsArgs {
    /// Starts the listener when asked for; a bad or busy address is the user's error.
    pub fn start(&self) -> Result<Option<LiveMetrics>, UsageError> {
        let Some(addr) = self.metrics_listen else { return Ok(None) };
        let server = MetricsServer::start(addr).map_err(|e| format!("--metrics-listen {addr}: {e}"))?;
        // Always said, even with -q: with port 0 it is the only way to learn the port.
        eprintln!("blast: Prometheus metrics on http://{}/metrics", server.addr());
        if !addr.ip().is_loopback() {
            eprintln!("blast: note: --metrics-listen {addr} is not a loopback address: the run's figures can be read from the network");
        }
        Ok(Some(LiveMetrics { server, started: Instant::now(), last_bytes: None }))
    }
}

impl LiveMetrics {
    fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// An api run's second `p`: every name's row of the run so far and of that second.
    pub fn api(&self, names: &[NamedRequest], plan: &Plan, p: &Progress<'_>) {
        // The whole run's rate now (a shape's at this second), this shard's share of it.
        let share = if plan.rate > 0.0 { plan.own_rate() / plan.rate } else { 1.0 };
        let rate = plan.shape.as_ref().map_or(plan.rate, |s| s.rate_at(p.second as f64)) * share;
        let rows = live_metrics::api_names(names, rate, p.total, p.interval);
        self.server.publish(&live_metrics::api(self.elapsed(), &rows));
    }

    /// A ws run's live counters.
    pub fn ws(&self, open: u64, deliveries: u64, dropped: u64, failed_connects: u64) {
        self.server.publish(&live_metrics::ws(self.elapsed(), open, deliveries, dropped, failed_connects));
    }

    /// An upload run's live counters: bytes, parts, uploads completed and failed.
    pub fn upload(&mut self, bytes: u64, parts: u64, completed: u64, failed: u64) {
        let now = Instant::now();
        let (since, before) = self.last_bytes.unwrap_or((self.started, 0));
        let secs = now.duration_since(since).as_secs_f64().max(1e-3);
        let bytes_rate = bytes.saturating_sub(before) as f64 / secs;
        self.last_bytes = Some((now, bytes));
        let figures = UploadFigures { bytes, parts, completed, failed, bytes_rate };
        self.server.publish(&live_metrics::upload(self.elapsed(), &figures));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_default_to_loopback() {
        assert_eq!(parse_listen("9464").expect("port"), "127.0.0.1:9464".parse().expect("addr"));
        assert_eq!(parse_listen(":9464").expect("port"), "127.0.0.1:9464".parse().expect("addr"));
        assert_eq!(parse_listen("localhost:0").expect("port"), "127.0.0.1:0".parse().expect("addr"));
        assert_eq!(parse_listen("[::1]:9464").expect("v6"), "[::1]:9464".parse().expect("addr"));
        assert!(parse_listen("0.0.0.0:9464").is_ok());
        for bad in ["example.com:9464", "127.0.0.1", "127.0.0.1:99999", ""] {
            assert!(parse_listen(bad).is_err(), "{bad}");
        }
    }
}
