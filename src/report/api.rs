//! What a `blast api` run gives the shared outputs: figures for SLAs and `compare`, CSV rows,
//! the HTML page.

use crate::report::csv::{FailureRow, HistoryRow, StatRow};
use crate::report::html::{self, Chart, Page, Series};
use crate::report::metrics::{self, Metric, Metrics};
use crate::report::summary::Summary;
use crate::report::Report;

impl Report for Summary {
    fn render(&self) -> String {
        crate::report::text::render(self)
    }

    /// The run was clean: everything scheduled was sent and answered without failure.
    fn clean(&self) -> bool {
        self.requests.failed == 0 && !self.interrupted
    }

    fn interrupted(&self) -> bool {
        self.interrupted
    }

    fn metrics(&self) -> Metrics {
        let mut m = Metrics::new();
        metrics::latency(&mut m, "", &self.latency_ms);
        metrics::latency(&mut m, "service_", &self.service_ms);
        let attempted = self.requests.ok + self.requests.failed;
        let errors = if attempted == 0 { 100.0 } else { 100.0 * self.requests.failed as f64 / attempted as f64 };
        m.insert("errors".into(), Metric::pct_low(errors));
        m.insert("success".into(), Metric::pct_high(100.0 - errors));
        m.insert("rate".into(), Metric::pct_high(self.rate_ratio * 100.0));
        m.insert("rps".into(), Metric::per_s(self.achieved_rate));
        m.insert("send_lag_p99".into(), Metric::ms(self.send_lag_ms.p99));
        m
    }

    fn stats(&self) -> Vec<StatRow> {
        let row = StatRow {
            kind: self.method.clone(),
            name: self.path.clone(),
            requests: self.requests.ok + self.requests.failed,
            failures: self.requests.failed,
            latency: self.latency_ms.clone(),
            avg_content_size: if self.requests.completed == 0 {
                0.0
            } else {
                self.bytes_in as f64 / self.requests.completed as f64
            },
            secs: self.measured_s,
        };
        let aggregated = StatRow { kind: String::new(), name: "Aggregated".into(), ..row.clone() };
        vec![row, aggregated]
    }

    fn history(&self) -> Vec<HistoryRow> {
        self.history.clone()
    }

    fn failures(&self) -> Vec<FailureRow> {
        let mut rows: Vec<FailureRow> = self
            .errors
            .iter()
            .map(|(kind, &n)| FailureRow {
                method: self.method.clone(),
                name: self.path.clone(),
                error: kind.clone(),
                occurrences: n,
            })
            .collect();
        for (code, &n) in &self.status_codes {
            let failed = code.parse::<u16>().map_or(true, |c| c >= 400);
            if failed {
                rows.push(FailureRow {
                    method: self.method.clone(),
                    name: self.path.clone(),
                    error: format!("HTTP {code}"),
                    occurrences: n,
                });
            }
        }
        rows
    }

    fn page(&self) -> Page {
        let t = &self.timeline;
        let per_second = |f: &dyn Fn(&crate::report::summary::Second) -> f64| -> Vec<(f64, f64)> {
            t.iter().map(|s| (s.second as f64, f(s))).collect()
        };
        Page {
            title: format!("blast {} -> {}", self.workload, self.target),
            headline: vec![
                ("requests".into(), self.requests.sent.to_string()),
                ("achieved req/s".into(), format!("{:.0}", self.achieved_rate)),
                ("of schedule".into(), format!("{:.2}%", self.rate_ratio * 100.0)),
                ("p99 (corrected)".into(), format!("{:.2} ms", self.latency_ms.p99)),
                ("failed".into(), self.requests.failed.to_string()),
            ],
            charts: vec![
                Chart {
                    title: "Throughput per second".into(),
                    x_label: "seconds since start".into(),
                    y_label: "requests/s".into(),
                    series: vec![
                        Series { name: "sent".into(), points: per_second(&|s| s.sent as f64) },
                        Series { name: "completed".into(), points: per_second(&|s| s.completed as f64) },
                        Series { name: "failed".into(), points: per_second(&|s| s.failed as f64) },
                    ],
                    spectrum: false,
                },
                Chart {
                    title: "Latency per second (corrected, from the intended send time)".into(),
                    x_label: "seconds since start".into(),
                    y_label: "ms".into(),
                    series: vec![
                        Series { name: "p50".into(), points: per_second(&|s| s.p50_ms) },
                        Series { name: "p99".into(), points: per_second(&|s| s.p99_ms) },
                        Series { name: "max".into(), points: per_second(&|s| s.max_ms) },
                    ],
                    spectrum: false,
                },
                Chart {
                    title: "Latency distribution (percentile spectrum)".into(),
                    x_label: "percentile".into(),
                    y_label: "ms".into(),
                    series: vec![
                        Series { name: "corrected".into(), points: html::spectrum(&self.latency_ms) },
                        Series { name: "uncorrected (service time)".into(), points: html::spectrum(&self.service_ms) },
                    ],
                    spectrum: true,
                },
            ],
            tables: vec![
                html::latency_table(
                    "Latency (ms)",
                    &[
                        ("corrected", &self.latency_ms),
                        ("uncorrected", &self.service_ms),
                        ("send lag", &self.send_lag_ms),
                        ("connect", &self.connect_ms),
                    ],
                ),
                html::Table {
                    title: "Status codes and errors".into(),
                    header: vec!["".into(), "count".into()],
                    rows: self
                        .status_codes
                        .iter()
                        .map(|(k, v)| vec![format!("HTTP {k}"), v.to_string()])
                        .chain(self.errors.iter().map(|(k, v)| vec![k.clone(), v.to_string()]))
                        .collect(),
                },
            ],
            params: vec![
                ("target".into(), self.target.clone()),
                (
                    "rate".into(),
                    match &self.plan.stages {
                        Some(st) => format!("stages {st}"),
                        None => format!("{} req/s", self.plan.rate),
                    },
                ),
                ("duration".into(), format!("{} s (+{} s warm-up)", self.plan.duration_s, self.plan.warmup_s)),
                ("arrival".into(), format!("{:?}", self.plan.arrival)),
                ("cores / connections".into(), format!("{} / {}", self.plan.cores, self.plan.conns)),
                ("timeout".into(), format!("{} ms", self.plan.timeout_ms)),
            ],
            warnings: self.warnings.clone(),
            verdicts: Vec::new(),
        }
    }
}

/// Figures `blast api` reports, for checking `--sla` names before a run.
pub fn metric_names() -> Vec<String> {
    metrics::names(&["", "service_"], &["errors", "success", "rate", "rps", "send_lag_p99"])
}
