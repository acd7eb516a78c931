//! Turns a run's merged measurements into reports.
//!
//! - `summary`: the figures, computed once (`Summary`); every format renders it.
//! - `text`: the terminal summary.
//! - `ws`, `upload`: the reports of `blast ws` and `blast upload` runs.
//! - JSON is `Summary` serialized with serde_json (`write_json`).

pub mod api;
pub mod compare;
pub mod csv;
pub mod hdr;
pub mod html;
pub mod metrics;
pub mod raw;
pub mod series;
pub mod summary;
pub mod text;
pub mod upload;
pub mod ws;

pub use summary::Summary;

/// What every workload's report offers the shared outputs (terminal, JSON, CSV, HTML, SLAs).
pub trait Report: serde::Serialize {
    /// The terminal summary.
    fn render(&self) -> String;
    /// Nothing failed and the run was not interrupted.
    fn clean(&self) -> bool;
    fn interrupted(&self) -> bool;
    /// Named figures for `--sla` and `blast compare`.
    fn metrics(&self) -> metrics::Metrics;
    /// Rows of the Locust-compatible CSV files.
    fn stats(&self) -> Vec<csv::StatRow>;
    fn history(&self) -> Vec<csv::HistoryRow>;
    fn failures(&self) -> Vec<csv::FailureRow>;
    /// The HTML report.
    fn page(&self) -> html::Page;
}

/// The advice printed when TLS handshakes failed (`n` of them).
pub fn tls_warning(n: u64) -> String {
    format!(
        "{n} TLS handshakes failed: trust the target's certificate with --ca-cert FILE (PEM), or use --insecure for a self-signed test target"
    )
}

/// Writes the summary as pretty JSON to `path` (`-` for stdout).
pub fn write_json<T: serde::Serialize>(s: &T, path: &str) -> std::io::Result<()> {
    let json = serde_json::to_string_pretty(s).map_err(std::io::Error::other)?;
    if path == "-" {
        println!("{json}");
        Ok(())
    } else {
        std::fs::write(path, json + "\n")
    }
}
