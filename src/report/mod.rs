//! Turns a run's merged measurements into reports.
//!
//! - `model`: the measurement model (`Measurements`: named rows, per-second history, failures,
//!   named latencies) that every format renders.
//! - `text`, `csv`, `html`, `hdr`: the terminal summary, Locust's CSV files, the HTML page and
//!   the HdrHistogram log; JSON is a report serialized with serde_json (`write`).
//! - `chart`, `heatmap`: the page's line charts and latency heatmap (inline SVG); `human`:
//!   sizes, rates and 1-2-5 axis steps as people read them.
//! - `progress`: the live progress line on stderr (one layout for every workload).
//! - `live_metrics`: `--metrics-listen`, the run's figures in Prometheus text format while it runs.
//! - `live_view`, `live_page`: `--web`, the run's page while it runs (its figures second by
//!   second, drawn as the HTML report is) and the small server that shows it and takes Stop
//!   and set-rate behind a per-run token.
//! - `write`: a finished run's summary and report files, written in one go (what the command
//!   line's `--json`, `--csv`, `--html`, `--hdr-log` name: `Destinations`).
//! - `output`: output paths checked before the run; reports written beside their paths and
//!   renamed into place at the end.
//! - `cpu`: blast's own CPU per unit of work and its cores' busy share (`BlastCpu`).
//! - `bottleneck`: who the bottleneck was (generator-bound, target-bound) from the figures.
//! - `compare`: two runs' figures compared, with a noise floor and a tolerance.
//! - `sla`: `--sla` targets parsed and checked against the figures: a PASS/FAIL verdict each.
//! - `metrics`: named figures, what `--sla` (`sla`) and `blast compare` (`compare`) read.
//! - `identity`: accounting identities a report's counts must satisfy, checked and shown.
//! - `accounts`: the accounting identities of an open-loop run (scheduled, sent, answered),
//!   checked at the end of every run and shown in every format.
//! - `api`, `ws`, `upload`: each workload's report (`ApiSummary`, `WsSummary`,
//!   `UploadSummary`): its JSON figures, headline lines and extra tables, and its rows.

pub mod accounts;
pub mod api;
pub mod bottleneck;
pub mod chart;
pub mod compare;
pub mod cpu;
pub mod csv;
pub mod hdr;
pub mod heatmap;
pub mod html;
pub mod human;
pub mod identity;
pub mod live_metrics;
pub mod live_page;
pub mod live_view;
pub mod metrics;
pub mod model;
pub mod output;
pub mod progress;
pub mod sla;
pub mod text;
pub mod upload;
pub mod write;
pub mod ws;

use model::Measurements;

/// What a workload's report gives the shared outputs; the terminal summary, SLA figures and the
/// HTML page are assembled from it (`render`, `metrics`, `html`), CSV from `measurements`.
pub trait Report: serde::Serialize {
    /// `blast ws -> TARGET`: the first line and the page's title.
    fn title(&self) -> String;
    /// The run's named rows, their seconds, failures and latencies.
    fn measurements(&self) -> &Measurements;
    /// The lines between the title and the latency table, as (name, text); the page shows
    /// them as the run's parameters.
    fn headline(&self) -> Vec<(&'static str, String)>;
    /// How the terminal latency table is laid out.
    fn layout(&self) -> text::Layout;
    fn warnings(&self) -> &[String];
    /// Adds a warning (why the run ended: "stopped from the web page").
    fn warn(&mut self, line: String);
    /// Nothing failed and the run was not interrupted.
    fn clean(&self) -> bool;
    fn interrupted(&self) -> bool;
    /// The figures rest on evidence and the run's accounting identities hold. A report that is
    /// not sound exits 1 whatever its SLAs say: a green verdict needs something measured.
    fn sound(&self) -> bool {
        true
    }
    /// The workload's figures beyond the latency percentiles (errors, success, rate, ...).
    fn figures(&self, m: &mut metrics::Metrics);
    /// What the histogram behind the latency figures with `prefix` counts ("responses",
    /// "deliveries"): how an SLA line names the samples it rests on.
    fn samples_of(&self, _prefix: &str) -> &'static str {
        "responses"
    }
    /// The page's workload parts: headline figures, throughput charts, extra tables.
    fn page(&self) -> html::Page;
    /// `--hdr-log`: writes the run's histograms to `path` (`hdr::write`).
    fn write_hdr_log(&self, path: &str) -> std::io::Result<()>;

    /// The terminal summary.
    fn render(&self) -> String {
        text::render(&self.title(), &self.headline(), self.layout(), self.measurements(), self.warnings())
    }

    /// Named figures for `--sla` and `blast compare`: every latency's percentiles, then `figures`.
    fn metrics(&self) -> metrics::Metrics {
        let mut m = metrics::Metrics::new();
        for l in &self.measurements().latencies {
            if let Some(prefix) = l.metric {
                metrics::latency(&mut m, prefix, &l.ms, self.samples_of(prefix));
            }
        }
        self.figures(&mut m);
        m
    }

    /// The HTML page.
    fn html(&self) -> html::Page {
        let params = self.headline().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let parts = html::Page { title: self.title(), warnings: self.warnings().to_vec(), params, ..self.page() };
        html::page(parts, self.measurements())
    }
}

/// The advice printed when TLS handshakes failed (`n` of them).
pub fn tls_warning(n: u64) -> String {
    format!(
        "{n} TLS handshakes failed: trust the target's certificate with --ca-cert FILE (PEM), or use --insecure for a self-signed test target"
    )
}

/// Seconds since the Unix epoch of `t`.
pub fn unix_secs(t: std::time::SystemTime) -> f64 {
    t.duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}
