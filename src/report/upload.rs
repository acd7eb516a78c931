//! The report of a `blast upload` run (`UploadSummary`): uploads and parts, throughput over
//! time, as JSON figures, headline lines, and rows `UploadPart`, `CreateMultipartUpload`,
//! `CompleteMultipartUpload` and `object upload`.

use crate::civil_time::from_unix_ns;
use crate::engine::recorder::histogram;
use crate::report::cpu::BlastCpu;
use crate::report::html::{Chart, Heatmap, Page, Table, Unit};
use crate::report::identity::{self, Identity};
use crate::report::metrics::{self, Metric, Metrics};
use crate::report::model::{self, FailureRow, HistoryRow, Latency, Measurements, Percentiles, SeriesSecond, StatRow};
use crate::report::{hdr, text, unix_secs, Report};
use crate::workloads::upload::raw::{RawUpload, UploadPlanInfo};
use crate::workloads::upload::{UploadOutcome, UploadPlan};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

const MB: f64 = 1e6;
const MIB: f64 = (1u64 << 20) as f64;

#[derive(Debug, Serialize)]
pub struct UploadCounts {
    pub started: u64,
    pub completed: u64,
    pub failed: u64,
    /// Failed uploads by the kind of failure (`auth_SignatureDoesNotMatch`, `s3_SlowDown`,
    /// `timeout`, `refused`, `checksum_mismatch`, `size_mismatch`, ...).
    pub failures: BTreeMap<String, u64>,
    /// Not finished (interrupted): uploads in flight when the run was stopped, aborted; not
    /// failures of the target.
    pub interrupted: u64,
    /// completed / finished (started less interrupted), in percent.
    pub success_pct: f64,
    pub aborted: u64,
    pub abort_failed: u64,
    pub verified: u64,
    pub deleted: u64,
    /// Cut before any outcome (the run's end dropped them).
    pub unfinished: u64,
}

#[derive(Debug, Serialize)]
pub struct UploadPartCounts {
    pub ok: u64,
    pub failed: u64,
    pub retries: u64,
    pub over_objective: u64,
    /// over_objective / ok, in percent.
    pub over_objective_pct: f64,
    /// Parts whose first request was sent, and those cut before an outcome.
    pub started: u64,
    pub unfinished: u64,
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
    /// Why the run stopped at its first S3 call, before any upload (wrong keys, a bad bucket
    /// name, a refused connection); absent when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    pub uploads: UploadCounts,
    pub parts: UploadPartCounts,
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
    /// blast's own CPU (its worker cores, per-thread rusage): per MB acknowledged (10^6 bytes),
    /// each core's busy share, for the run and second by second. Merged: every shard's cores
    /// (absent when a shard's report carries none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blast_cpu: Option<BlastCpu>,
    /// blast's cores were saturated: the figures include its own delay.
    pub generator_bound: bool,
    pub warnings: Vec<String>,
    /// The accounting identities (uploads and parts started = completed + failed + ...), as
    /// checked when the report was built; empty for a report of an earlier version.
    pub identities: Vec<Identity>,
    /// Parts finished per wall-clock second, with their latency.
    pub part_timeline: Vec<SeriesSecond>,
    /// The rows every format renders.
    #[serde(skip)]
    pub measurements: Measurements,
    /// Every histogram and counter, for exact merging of shards (`blast merge`).
    pub raw: RawUpload,
}

/// `part` of `whole`, in percent (0 when there is no whole).
fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

/// Uploads that ended by themselves: completed or failed (neither interrupted nor cut).
fn finished(t: &crate::workloads::upload::tally::UploadTally) -> u64 {
    t.uploads_started.saturating_sub(t.uploads_interrupted + t.uploads_unfinished)
}

/// Every upload and part started ended one way: completed, failed, stopped by an interrupt (and
/// aborted), or cut at the end before any outcome. A report of an earlier version, which did
/// not count parts started, has none.
fn identities_of(t: &crate::workloads::upload::tally::UploadTally, failed: u64) -> Vec<Identity> {
    if t.parts_started == 0 && t.parts_ok + t.parts_failed > 0 {
        return Vec::new();
    }
    let uploads = [
        ("completed", t.uploads_ok),
        ("failed", failed),
        ("interrupted (aborted)", t.uploads_interrupted),
        ("unfinished", t.uploads_unfinished),
    ];
    let parts = [("acknowledged", t.parts_ok), ("failed", t.parts_failed), ("unfinished", t.parts_unfinished)];
    vec![
        Identity::check("uploads started", t.uploads_started, &uploads),
        Identity::check("parts started", t.parts_started, &parts),
    ]
}

impl UploadSummary {
    pub fn build(plan: &UploadPlan, out: &UploadOutcome) -> Self {
        let target = format!("{} bucket {}", plan.endpoint, plan.target.bucket.name());
        Self::from_raw(RawUpload::of(&target, &UploadPlanInfo::of(plan), plan.shard, out, crate::sys::peak_rss_mib()))
    }

    /// The report of a run's raw measurements (a run's own, or its shards' merged).
    pub fn from_raw(raw: RawUpload) -> Self {
        let t = &raw.tally;
        let failed: u64 = t.failures.values().sum();
        let elapsed = std::time::Duration::from_nanos(raw.elapsed_ns).as_secs_f64();
        let identities = identities_of(t, failed);
        let mut warnings: Vec<String> = identities.iter().filter_map(Identity::warning).collect();
        if let Some(cause) = &raw.stopped {
            warnings.push(format!("stopped at the first S3 call (CreateBucket), before any upload: {cause}"));
        }
        if let Some((kind, n)) = t.failures.iter().find(|(k, _)| k.starts_with("auth_")) {
            warnings.push(format!(
                "authentication failed ({kind}, {n} uploads): check --access-key/--secret-key (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) and --region"
            ));
        }
        if let Some(&n) = t.failures.get("tls_handshake") {
            warnings.push(crate::report::tls_warning(n));
        }
        if raw.interrupted {
            let n = t.uploads_interrupted;
            warnings.push(format!(
                "interrupted after {elapsed:.1} s: {n} uploads in flight were not finished (interrupted) and were aborted; they are not counted as failures"
            ));
        }
        if t.abort_failed > 0 {
            warnings.push(format!(
                "{} failed uploads could not be aborted: their parts may remain on the server",
                t.abort_failed
            ));
        }
        let mut s = UploadSummary {
            workload: "upload".into(),
            target: raw.target.clone(),
            plan: raw.plan.clone(),
            started_at_unix: unix_secs(from_unix_ns(raw.started_at_unix_ns)),
            elapsed_s: elapsed,
            interrupted: raw.interrupted,
            bucket: raw.bucket.clone(),
            stopped: raw.stopped.clone(),
            uploads: UploadCounts {
                started: t.uploads_started,
                completed: t.uploads_ok,
                failed,
                failures: t.failures.clone(),
                interrupted: t.uploads_interrupted,
                success_pct: pct(t.uploads_ok, finished(t)),
                aborted: t.aborted,
                abort_failed: t.abort_failed,
                verified: t.objects_verified,
                deleted: t.objects_deleted,
                unfinished: t.uploads_unfinished,
            },
            parts: UploadPartCounts {
                ok: t.parts_ok,
                failed: t.parts_failed,
                retries: t.retries,
                over_objective: t.parts_over_objective,
                over_objective_pct: pct(t.parts_over_objective, t.parts_ok),
                started: t.parts_started,
                unfinished: t.parts_unfinished,
            },
            bytes_acked: t.bytes_acked,
            mb_per_s: if elapsed > 0.0 { t.bytes_acked as f64 / MB / elapsed } else { 0.0 },
            mb_per_s_timeline: raw.timeline.iter().map(|&b| b as f64 / MB).collect(),
            part_ms: Percentiles::of(&t.part),
            part_ttfb_ms: Percentiles::of(&t.part_ttfb),
            object_ms: Percentiles::of(&t.object),
            create_ms: Percentiles::of(&t.create),
            complete_ms: Percentiles::of(&t.complete),
            checksum_cpu_s: t.checksum_time.as_secs_f64(),
            data_pool_mib: raw.pool_bytes as f64 / MIB,
            peak_rss_mib: raw.peak_rss_mib,
            blast_cpu: None,
            generator_bound: false,
            warnings,
            identities,
            part_timeline: Vec::new(),
            measurements: Measurements::default(),
            raw,
        };
        let users = s.plan.parallel as u64;
        let seconds = s.raw.tally.part_per_second.seconds();
        let (timeline, history) =
            model::per_second(seconds, ("PUT", "UploadPart", users), histogram(), SeriesSecond::of);
        (s.part_timeline, s.measurements) = (timeline, s.model(history));
        let per_second = |i: usize| s.mb_per_s_timeline.get(i).copied();
        s.blast_cpu = BlastCpu::of(&s.raw.cpu, 0, ("MB", s.bytes_acked as f64 / MB), per_second);
        let v = crate::report::bottleneck::on_cpu(s.blast_cpu.as_ref());
        s.generator_bound = v.generator_bound;
        s.warnings.extend(v.warnings);
        s
    }

    /// Rows `UploadPart` (also `Aggregated`), the create and complete requests, and whole
    /// objects; parts per second (a run without any has one whole-run row).
    fn model(&self, mut history: Vec<HistoryRow>) -> Measurements {
        let (u, p) = (&self.uploads, &self.parts);
        let secs = self.elapsed_s.max(1e-9);
        let row = |kind, name, counts, latency, avg_size| StatRow::new(kind, name, counts, latency, avg_size, secs);
        let part_size = if p.ok == 0 { 0.0 } else { self.bytes_acked as f64 / p.ok as f64 };
        let identity = |i: usize| self.identities.get(i).cloned().into_iter().collect::<Vec<_>>();
        let part = row("PUT", "UploadPart", (p.ok + p.failed, p.failed), &self.part_ms, part_size);
        let part = StatRow { identities: identity(1), ..part };
        let finished = u.started.saturating_sub(u.interrupted + u.unfinished);
        let mut rows = vec![
            part.clone(),
            row("POST", "CreateMultipartUpload", (self.create_ms.count, 0), &self.create_ms, 0.0),
            row("POST", "CompleteMultipartUpload", (self.complete_ms.count, 0), &self.complete_ms, 0.0),
            StatRow {
                identities: identity(0),
                ..row("S3", "object upload", (finished, u.failed), &self.object_ms, self.plan.size_bytes as f64)
            },
        ];
        if u.interrupted > 0 {
            // The label every format carries (CSV included): cut off, neither done nor failed.
            let none = Percentiles::default();
            rows.push(row("S3", "object upload not finished (interrupted)", (u.interrupted, 0), &none, 0.0));
        }
        rows.push(part.aggregated());
        if history.is_empty() {
            history = HistoryRow::whole_run(&part, self.started_at_unix as u64, self.plan.parallel as u64);
        }
        let failures = u.failures.iter().map(|(k, &n)| FailureRow::new("S3", "object upload", k, n));
        let latencies = vec![
            Latency::new("part", Some(""), true, &self.part_ms),
            Latency::new("part ttfb (after body)", Some("ttfb_"), true, &self.part_ttfb_ms),
            Latency::new("object", Some("object_"), false, &self.object_ms),
            Latency::new("create", None, false, &self.create_ms),
            Latency::new("complete", None, false, &self.complete_ms),
        ];
        let clock = model::Clock::WallSeconds { end_s: self.elapsed_s };
        let failures = failures.collect();
        Measurements { rows, history, failures, latencies, started_at_unix: self.started_at_unix, clock }
    }
}

impl Report for UploadSummary {
    fn title(&self) -> String {
        format!("blast upload -> {}", self.target)
    }

    fn measurements(&self) -> &Measurements {
        &self.measurements
    }

    fn headline(&self) -> Vec<(&'static str, String)> {
        let (u, p, plan) = (&self.uploads, &self.parts, &self.plan);
        let (size, part_size) = (plan.size_bytes as f64 / MIB, plan.part_size_bytes as f64 / MIB);
        let (parts, at_once, cores, bucket) = (plan.parts_per_object, plan.part_concurrency, plan.cores, &self.bucket);
        let mut lines = vec![(
            "plan",
            format!("{} parallel x {size:.1} MiB in {part_size:.1} MiB parts ({parts} per object, {at_once} at a time), {cores} cores, bucket {bucket}", plan.parallel),
        )];
        if let Some(shard) = &plan.shard {
            lines.push(("shard", format!("{shard}: objects I, I+N, I+2N, ... of the run, on this shard's share of the slots; merge the shards with `blast merge`")));
        }
        let failures = text::counts(&u.failures);
        let gb = self.bytes_acked as f64 / 1e9;
        let (cpu, pool, rss) = (self.checksum_cpu_s, self.data_pool_mib, self.peak_rss_mib);
        lines.extend([
            ("uploads", format!("{} completed of {} started ({:.2}% of the {} that finished), {} verified, failed: {failures}, not finished (interrupted): {}; {} aborted", u.completed, u.started, u.success_pct, u.started.saturating_sub(u.interrupted + u.unfinished), u.verified, u.interrupted, u.aborted)),
            ("parts", format!("{} ok, {} failed, {} retries, {} ({:.2}%) over {:.1}s", p.ok, p.failed, p.retries, p.over_objective, p.over_objective_pct, plan.part_objective_s)),
            ("throughput", format!("{:.1} MB/s over {:.2}s ({gb:.2} GB acknowledged); checksums {cpu:.2} CPU s; data pool {pool:.0} MiB, peak RSS {rss:.0} MiB", self.mb_per_s, self.elapsed_s)),
        ]);
        if !self.identities.is_empty() {
            lines.push(("identities", identity::lines(&self.identities)));
        }
        if let Some(cpu) = &self.blast_cpu {
            lines.push(("blast cpu", cpu.line()));
        }
        lines
    }

    fn layout(&self) -> text::Layout {
        text::Layout { key: 12, label: 24, width: 10, decimals: 2, mean: false, note: None }
    }

    fn warnings(&self) -> &[String] {
        &self.warnings
    }

    fn warn(&mut self, line: String) {
        self.warnings.push(line);
    }

    /// Every planned upload completed and verified.
    fn clean(&self) -> bool {
        !self.interrupted && self.uploads.failed == 0 && self.uploads.started > 0
    }

    fn interrupted(&self) -> bool {
        self.interrupted
    }

    /// Every upload and part started is accounted for.
    fn sound(&self) -> bool {
        self.identities.iter().all(|i| i.holds)
    }

    fn figures(&self, m: &mut Metrics) {
        let (u, p) = (&self.uploads, &self.parts);
        let finished = u.started.saturating_sub(u.interrupted);
        let errors = Metric::pct_low(if finished == 0 { 100.0 } else { pct(u.failed, finished) });
        m.insert("errors".into(), errors.over(finished, "uploads finished"));
        m.insert("success".into(), Metric::pct_high(u.success_pct).over(finished, "uploads finished"));
        m.insert("mbps".into(), Metric::mb_per_s(self.mb_per_s).over(p.ok, "parts acknowledged"));
        m.insert("slow_parts".into(), Metric::pct_low(p.over_objective_pct).over(p.ok, "parts acknowledged"));
    }

    fn samples_of(&self, prefix: &str) -> &'static str {
        match prefix {
            "object_" => "objects uploaded",
            _ => "parts acknowledged",
        }
    }

    /// Part ttfb and objects for the whole run, then parts second by second.
    fn write_hdr_log(&self, path: &str) -> std::io::Result<()> {
        let (t, start) = (&self.raw.tally, from_unix_ns(self.raw.started_at_unix_ns));
        let whole = Duration::from_nanos(self.raw.elapsed_ns);
        let intervals = hdr::whole_run([("part_ttfb", &t.part_ttfb), ("object", &t.object)], whole).chain(hdr::series(
            "part",
            &t.part_per_second,
            start,
        ));
        hdr::write(path, start, "upload", intervals)
    }

    /// Throughput is bytes sent per second (`mb_per_s_timeline`); part latency per second comes
    /// from the rows.
    fn page(&self) -> Page {
        // Second i covers i..i+1 since the start; the last only up to the end of the run, so a
        // short run's (or a last partial second's) rate is over the time it really took.
        // MB/s, as the y axis is labelled (a run shorter than a second is one dot at its end).
        let sent = self.raw.timeline.iter().enumerate().map(|(i, &b)| {
            let (from, to) = (i as f64, (i as f64 + 1.0).min(self.elapsed_s.max(i as f64 + 0.05)));
            (to, b as f64 / MB / (to - from))
        });
        let t0 = self.started_at_unix;
        let spans = self.raw.tally.part_per_second.seconds().map(|(s, h)| {
            (
                (s as f64 - t0).max(0.0),
                (s as f64 + 1.0 - t0).min(self.elapsed_s.max(s as f64 - t0 + 0.05)),
                std::borrow::Cow::Owned(h),
            )
        });
        let heatmap = Heatmap::of("Part latency heatmap (per second)", "part latency", spans);
        // Failed uploads by kind (the cause of a failed run), then the identities.
        let mut errors: Vec<Vec<String>> =
            self.uploads.failures.iter().map(|(k, n)| vec!["object upload".into(), k.clone(), n.to_string()]).collect();
        if self.parts.failed > 0 {
            errors.push(vec!["UploadPart".into(), "failed".into(), self.parts.failed.to_string()]);
        }
        if let Some(why) = &self.stopped {
            errors.push(vec!["CreateBucket".into(), why.clone(), "1".into()]);
        }
        let mut tables = vec![Table {
            title: "Errors".into(),
            header: vec!["".into(), "error".into(), "count".into()],
            rows: errors,
        }];
        if !self.identities.is_empty() {
            let rows = self.identities.iter().map(|i| vec![i.line(), if i.holds { "yes" } else { "NO" }.into()]);
            tables.push(Table {
                title: "Accounts".into(),
                header: vec!["identity".into(), "adds up".into()],
                rows: rows.collect(),
            });
        }
        Page {
            headline: vec![
                ("uploads".into(), format!("{} / {}", self.uploads.completed, self.uploads.started)),
                ("MB/s".into(), format!("{:.1}", self.mb_per_s)),
                ("part p99".into(), format!("{:.1} ms", self.part_ms.p99)),
                ("parts over objective".into(), format!("{:.2}%", self.parts.over_objective_pct)),
                ("failed".into(), self.uploads.failed.to_string()),
            ],
            charts: vec![Chart::over_time(
                "Throughput per second",
                "MB/s (10^6 bytes)",
                Unit::Count,
                vec![("sent", sent.collect())],
            )],
            heatmaps: vec![heatmap],
            tables,
            ..Page::default()
        }
    }
}

/// Figures `blast upload` reports, for checking `--sla` names before a run.
pub fn metric_names() -> Vec<String> {
    metrics::names(&["", "object_", "ttfb_"], &["errors", "success", "mbps", "slow_parts"])
}
