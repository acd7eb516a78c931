//! The report of a `blast upload` run: uploads and parts, throughput over time, latencies.

use crate::report::csv::{FailureRow, HistoryRow, StatRow};
use crate::report::html::{self, Chart, Page, Series};
use crate::report::metrics::{self, Metric, Metrics};
use crate::report::raw::upload::{MergedUpload, RawUpload};
use crate::report::series::{per_second, SeriesSecond};
use crate::report::summary::Percentiles;
use crate::workloads::upload::{UploadOutcome, UploadPlan};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;

const MB: f64 = 1e6;

/// The plan as reports show it; `parallel` and `uploads` are the whole run's even in a shard's
/// report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UploadPlanInfo {
    pub size_bytes: u64,
    pub part_size_bytes: u64,
    pub parts_per_object: u64,
    pub parallel: usize,
    pub part_concurrency: usize,
    pub uploads: Option<u64>,
    pub duration_s: Option<f64>,
    pub cores: usize,
    pub verify: bool,
    pub retries: u32,
    /// A part slower than this (for a full-size part) misses the objective.
    pub part_objective_s: f64,
    /// `I/N` when this run is one shard of a larger one.
    pub shard: Option<String>,
}

impl UploadPlanInfo {
    pub fn of(plan: &UploadPlan) -> Self {
        UploadPlanInfo {
            size_bytes: plan.size,
            part_size_bytes: plan.part_size,
            parts_per_object: plan.parts_per_object(),
            parallel: plan.parallel,
            part_concurrency: plan.part_concurrency,
            uploads: plan.uploads,
            duration_s: plan.duration.map(|d| d.as_secs_f64()),
            cores: plan.cores,
            verify: plan.verify,
            retries: plan.retries,
            part_objective_s: plan.part_objective.as_secs_f64(),
            shard: (plan.shard.1 > 1).then(|| format!("{}/{}", plan.shard.0, plan.shard.1)),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct UploadCounts {
    pub started: u64,
    pub completed: u64,
    pub failed: u64,
    /// Failed uploads by the kind of failure (`auth_SignatureDoesNotMatch`, `s3_SlowDown`,
    /// `timeout`, `refused`, `checksum_mismatch`, `size_mismatch`, `interrupted`, ...).
    pub failures: BTreeMap<String, u64>,
    /// completed / started, in percent.
    pub success_pct: f64,
    pub aborted: u64,
    pub abort_failed: u64,
    pub verified: u64,
    pub deleted: u64,
}

#[derive(Debug, Serialize)]
pub struct PartCounts {
    pub ok: u64,
    pub failed: u64,
    pub retries: u64,
    pub over_objective: u64,
    /// over_objective / ok, in percent.
    pub over_objective_pct: f64,
}

#[derive(Debug, Serialize)]
pub struct UploadSummary {
    pub workload: String,
    pub target: String,
    pub plan: UploadPlanInfo,
    pub started_at_unix: f64,
    pub elapsed_s: f64,
    pub interrupted: bool,
    /// How creating the bucket went: created, exists, or the failure.
    pub bucket: String,
    pub uploads: UploadCounts,
    pub parts: PartCounts,
    pub bytes_acked: u64,
    /// Acknowledged part bytes over the run's wall time, MB = 10^6 bytes.
    pub mb_per_s: f64,
    /// Bytes sent in each second of the run, in MB/s.
    pub mb_per_s_timeline: Vec<f64>,
    pub part_ms: Percentiles,
    /// Last byte of a part sent until the first byte of its response.
    pub part_ttfb_ms: Percentiles,
    pub object_ms: Percentiles,
    pub create_ms: Percentiles,
    pub complete_ms: Percentiles,
    /// CPU time spent computing CRC32C checksums.
    pub checksum_cpu_s: f64,
    /// The shared data pool parts are sliced from.
    pub data_pool_mib: f64,
    pub peak_rss_mib: f64,
    pub warnings: Vec<String>,
    /// Parts finished per wall-clock second, with their latency.
    pub part_timeline: Vec<SeriesSecond>,
    /// The same with cumulative figures, for `_stats_history.csv`.
    #[serde(skip)]
    pub history: Vec<HistoryRow>,
    /// Every histogram and counter, for exact merging of shards (`blast merge`).
    pub raw: RawUpload,
}

impl UploadSummary {
    pub fn build(plan: &UploadPlan, out: &UploadOutcome) -> Self {
        let target = format!("{} bucket {}", plan.endpoint, plan.target.bucket.name());
        let raw = RawUpload::of(&target, &UploadPlanInfo::of(plan), plan.shard, out, crate::sys::peak_rss_mib());
        Self::from_raw(raw, out)
    }

    /// The report of a merged sharded run.
    pub fn merged(m: MergedUpload) -> Self {
        let raw = RawUpload::of(&m.target, &m.plan, (0, 1), &m.outcome, m.peak_rss_mib);
        Self::from_raw(raw, &m.outcome)
    }

    fn from_raw(raw: RawUpload, out: &UploadOutcome) -> Self {
        let t = &out.tally;
        let (part_timeline, history) = per_second(&t.part_per_second, "PUT", "UploadPart", raw.plan.parallel as u64);
        let failed: u64 = t.failures.values().sum();
        let elapsed = out.elapsed.as_secs_f64();
        let mut warnings = Vec::new();
        if let Some((kind, n)) = t.failures.iter().find(|(k, _)| k.starts_with("auth_")) {
            warnings.push(format!(
                "authentication failed ({kind}, {n} uploads): check --access-key/--secret-key (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) and --region"
            ));
        }
        if let Some(&n) = t.failures.get("tls_handshake") {
            warnings.push(crate::report::tls_warning(n));
        }
        if t.abort_failed > 0 {
            warnings.push(format!(
                "{} failed uploads could not be aborted: their parts may remain on the server",
                t.abort_failed
            ));
        }
        UploadSummary {
            workload: "upload".into(),
            target: raw.target.clone(),
            plan: raw.plan.clone(),
            started_at_unix: out.started_at.duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64()),
            elapsed_s: elapsed,
            interrupted: out.interrupted,
            bucket: out.bucket.clone(),
            uploads: UploadCounts {
                started: t.uploads_started,
                completed: t.uploads_ok,
                failed,
                failures: t.failures.clone(),
                success_pct: if t.uploads_started == 0 {
                    0.0
                } else {
                    100.0 * t.uploads_ok as f64 / t.uploads_started as f64
                },
                aborted: t.aborted,
                abort_failed: t.abort_failed,
                verified: t.objects_verified,
                deleted: t.objects_deleted,
            },
            parts: PartCounts {
                ok: t.parts_ok,
                failed: t.parts_failed,
                retries: t.retries,
                over_objective: t.parts_over_objective,
                over_objective_pct: if t.parts_ok == 0 {
                    0.0
                } else {
                    100.0 * t.parts_over_objective as f64 / t.parts_ok as f64
                },
            },
            bytes_acked: t.bytes_acked,
            mb_per_s: if elapsed > 0.0 { t.bytes_acked as f64 / MB / elapsed } else { 0.0 },
            mb_per_s_timeline: out.timeline.iter().map(|&b| b as f64 / MB).collect(),
            part_ms: Percentiles::of(&t.part),
            part_ttfb_ms: Percentiles::of(&t.part_ttfb),
            object_ms: Percentiles::of(&t.object),
            create_ms: Percentiles::of(&t.create),
            complete_ms: Percentiles::of(&t.complete),
            checksum_cpu_s: t.checksum_time.as_secs_f64(),
            data_pool_mib: out.pool_bytes as f64 / (1u64 << 20) as f64,
            peak_rss_mib: raw.peak_rss_mib,
            warnings,
            part_timeline,
            history,
            raw,
        }
    }
}

impl crate::report::Report for UploadSummary {
    /// Every planned upload completed and verified.
    fn clean(&self) -> bool {
        !self.interrupted && self.uploads.failed == 0 && self.uploads.started > 0
    }

    fn render(&self) -> String {
        let mut o = String::new();
        let u = &self.uploads;
        let p = &self.parts;
        let _ = writeln!(o, "blast upload -> {}", self.target);
        let _ = writeln!(
            o,
            "  plan        {} parallel x {:.1} MiB in {:.1} MiB parts ({} per object, {} at a time), {} cores, bucket {}",
            self.plan.parallel,
            self.plan.size_bytes as f64 / (1u64 << 20) as f64,
            self.plan.part_size_bytes as f64 / (1u64 << 20) as f64,
            self.plan.parts_per_object,
            self.plan.part_concurrency,
            self.plan.cores,
            self.bucket
        );
        if let Some(shard) = &self.plan.shard {
            let _ = writeln!(o, "  shard       {shard}: objects I, I+N, I+2N, ... of the run, on this shard's share of the slots; merge the shards with `blast merge`");
        }
        let failures: Vec<String> = u.failures.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        let _ = writeln!(
            o,
            "  uploads     {} completed of {} started ({:.2}%), {} verified, failed: {}; {} aborted",
            u.completed,
            u.started,
            u.success_pct,
            u.verified,
            if failures.is_empty() { "none".into() } else { failures.join(", ") },
            u.aborted
        );
        let _ = writeln!(
            o,
            "  parts       {} ok, {} failed, {} retries, {} ({:.2}%) over {:.1}s",
            p.ok, p.failed, p.retries, p.over_objective, p.over_objective_pct, self.plan.part_objective_s
        );
        let _ = writeln!(
            o,
            "  throughput  {:.1} MB/s over {:.2}s ({:.2} GB acknowledged); checksums {:.2} CPU s; data pool {:.0} MiB, peak RSS {:.0} MiB",
            self.mb_per_s,
            self.elapsed_s,
            self.bytes_acked as f64 / 1e9,
            self.checksum_cpu_s,
            self.data_pool_mib,
            self.peak_rss_mib
        );
        let rows = [
            ("part", &self.part_ms),
            ("part ttfb (after body)", &self.part_ttfb_ms),
            ("object", &self.object_ms),
            ("create", &self.create_ms),
            ("complete", &self.complete_ms),
        ];
        crate::report::text::latency_table_and_warnings(&mut o, &rows, 10, 2, &self.warnings);
        o
    }

    fn interrupted(&self) -> bool {
        self.interrupted
    }

    fn metrics(&self) -> Metrics {
        let mut m = Metrics::new();
        metrics::latency(&mut m, "", &self.part_ms);
        metrics::latency(&mut m, "object_", &self.object_ms);
        metrics::latency(&mut m, "ttfb_", &self.part_ttfb_ms);
        let u = &self.uploads;
        m.insert(
            "errors".into(),
            Metric::pct_low(if u.started == 0 { 100.0 } else { 100.0 * u.failed as f64 / u.started as f64 }),
        );
        m.insert("success".into(), Metric::pct_high(u.success_pct));
        m.insert("mbps".into(), Metric::mb_per_s(self.mb_per_s));
        m.insert("slow_parts".into(), Metric::pct_low(self.parts.over_objective_pct));
        m
    }

    fn stats(&self) -> Vec<StatRow> {
        let secs = self.elapsed_s.max(1e-9);
        let u = &self.uploads;
        let part = StatRow {
            kind: "PUT".into(),
            name: "UploadPart".into(),
            requests: self.parts.ok + self.parts.failed,
            failures: self.parts.failed,
            latency: self.part_ms.clone(),
            avg_content_size: if self.parts.ok == 0 { 0.0 } else { self.bytes_acked as f64 / self.parts.ok as f64 },
            secs,
        };
        vec![
            part.clone(),
            StatRow {
                kind: "POST".into(),
                name: "CreateMultipartUpload".into(),
                requests: self.create_ms.count,
                failures: 0,
                latency: self.create_ms.clone(),
                avg_content_size: 0.0,
                secs,
            },
            StatRow {
                kind: "POST".into(),
                name: "CompleteMultipartUpload".into(),
                requests: self.complete_ms.count,
                failures: 0,
                latency: self.complete_ms.clone(),
                avg_content_size: 0.0,
                secs,
            },
            StatRow {
                kind: "S3".into(),
                name: "object upload".into(),
                requests: u.started,
                failures: u.failed,
                latency: self.object_ms.clone(),
                avg_content_size: self.plan.size_bytes as f64,
                secs,
            },
            StatRow { kind: String::new(), name: "Aggregated".into(), ..part },
        ]
    }

    /// Parts finished per second and their latency, and cumulative; a run without parts has one
    /// whole-run row. (MB/s per second is `mb_per_s_timeline` in the JSON.)
    fn history(&self) -> Vec<HistoryRow> {
        if !self.history.is_empty() {
            return self.history.clone();
        }
        let row = self.stats().remove(0);
        vec![HistoryRow {
            timestamp: self.started_at_unix as u64,
            users: self.plan.parallel as u64,
            interval: row.clone(),
            total: row,
        }]
    }

    fn failures(&self) -> Vec<FailureRow> {
        self.uploads
            .failures
            .iter()
            .map(|(k, &n)| FailureRow {
                method: "S3".into(),
                name: "object upload".into(),
                error: k.clone(),
                occurrences: n,
            })
            .collect()
    }

    fn page(&self) -> Page {
        let t0 = self.started_at_unix.floor();
        let part_per_s = |f: &dyn Fn(&SeriesSecond) -> f64| -> Vec<(f64, f64)> {
            self.part_timeline.iter().map(|s| (s.unix as f64 - t0, f(s))).collect()
        };
        Page {
            title: format!("blast upload -> {}", self.target),
            headline: vec![
                ("uploads".into(), format!("{} / {}", self.uploads.completed, self.uploads.started)),
                ("MB/s".into(), format!("{:.1}", self.mb_per_s)),
                ("part p99".into(), format!("{:.1} ms", self.part_ms.p99)),
                ("parts over objective".into(), format!("{:.2}%", self.parts.over_objective_pct)),
                ("failed".into(), self.uploads.failed.to_string()),
            ],
            charts: vec![
                Chart {
                    title: "Throughput per second".into(),
                    x_label: "seconds since start".into(),
                    y_label: "MB/s".into(),
                    series: vec![Series {
                        name: "sent".into(),
                        points: self.mb_per_s_timeline.iter().enumerate().map(|(i, v)| (i as f64 + 1.0, *v)).collect(),
                    }],
                    spectrum: false,
                },
                Chart {
                    title: "Part latency per second (parts finished in it)".into(),
                    x_label: "seconds since start".into(),
                    y_label: "ms".into(),
                    series: vec![
                        Series { name: "p50".into(), points: part_per_s(&|s| s.latency_ms.p50) },
                        Series { name: "p99".into(), points: part_per_s(&|s| s.latency_ms.p99) },
                        Series { name: "max".into(), points: part_per_s(&|s| s.latency_ms.max) },
                    ],
                    spectrum: false,
                },
                Chart {
                    title: "Latency distribution (percentile spectrum)".into(),
                    x_label: "percentile".into(),
                    y_label: "ms".into(),
                    series: vec![
                        Series { name: "part".into(), points: html::spectrum(&self.part_ms) },
                        Series { name: "part ttfb".into(), points: html::spectrum(&self.part_ttfb_ms) },
                    ],
                    spectrum: true,
                },
            ],
            tables: vec![html::latency_table(
                "Latency (ms)",
                &[
                    ("part", &self.part_ms),
                    ("part ttfb (after body)", &self.part_ttfb_ms),
                    ("object", &self.object_ms),
                    ("create", &self.create_ms),
                    ("complete", &self.complete_ms),
                ],
            )],
            params: vec![
                ("target".into(), self.target.clone()),
                ("objects".into(), format!("{} bytes, {} at a time", self.plan.size_bytes, self.plan.parallel)),
                (
                    "parts".into(),
                    format!("{} bytes, {} per object", self.plan.part_size_bytes, self.plan.parts_per_object),
                ),
                ("cores".into(), self.plan.cores.to_string()),
            ],
            warnings: self.warnings.clone(),
            verdicts: Vec::new(),
        }
    }
}

/// Figures `blast upload` reports, for checking `--sla` names before a run.
pub fn metric_names() -> Vec<String> {
    metrics::names(&["", "object_", "ttfb_"], &["errors", "success", "mbps", "slow_parts"])
}
