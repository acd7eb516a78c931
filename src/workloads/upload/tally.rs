//! What one core measured of its uploads; merged when the run ends.

use crate::engine::recorder::histogram;
use crate::engine::series::SecondSeries;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::time::Duration;

/// The failure kind of a request an interrupt cut off.
pub const INTERRUPTED: &str = "interrupted";

/// Why a request (and so its upload) failed: a short stable name, and whether retrying may help.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub kind: String,
    pub transient: bool,
}

impl Failure {
    pub fn new(kind: &str) -> Self {
        Failure { kind: kind.to_string(), transient: false }
    }

    /// Connection-level errors may pass: they are retried.
    pub fn io(e: &std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        let kind = match e.kind() {
            K::ConnectionRefused => "refused",
            K::ConnectionReset | K::BrokenPipe | K::ConnectionAborted => "reset",
            K::TimedOut => "timeout",
            _ => "io",
        };
        Failure { kind: kind.to_string(), transient: true }
    }

    pub fn hyper(e: &hyper::Error) -> Self {
        let kind = if e.is_incomplete_message() {
            "closed_early"
        } else if e.is_parse() {
            "bad_response"
        } else {
            "reset"
        };
        Failure { kind: kind.to_string(), transient: !e.is_parse() }
    }

    pub fn timeout() -> Self {
        Failure { kind: "timeout".into(), transient: true }
    }
}

/// Per-core counters and histograms of `blast upload`. Serialized whole (histograms deflated)
/// as the `raw` of a JSON report, for `blast merge`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct UploadTally {
    /// UploadPart: request start until its response is complete.
    #[serde(with = "crate::engine::compact::histogram")]
    pub part: Histogram<u64>,
    /// The same, per wall-clock second the part finished in.
    pub part_per_second: SecondSeries,
    /// UploadPart: last body byte handed to the connection until the response head arrived.
    #[serde(with = "crate::engine::compact::histogram")]
    pub part_ttfb: Histogram<u64>,
    /// Whole object: create + parts + complete (+ verify).
    #[serde(with = "crate::engine::compact::histogram")]
    pub object: Histogram<u64>,
    #[serde(with = "crate::engine::compact::histogram")]
    pub create: Histogram<u64>,
    #[serde(with = "crate::engine::compact::histogram")]
    pub complete: Histogram<u64>,
    pub parts_ok: u64,
    pub parts_failed: u64,
    /// Parts whose first request was sent, and those cut before an outcome (their upload's
    /// future dropped at the end of the run). Absent in reports of earlier versions.
    #[serde(default)]
    pub parts_started: u64,
    #[serde(default)]
    pub parts_unfinished: u64,
    /// Uploads cut before any outcome (their future dropped at the end of the run).
    #[serde(default)]
    pub uploads_unfinished: u64,
    /// Parts slower than the per-part objective (scaled to the part size).
    pub parts_over_objective: u64,
    pub retries: u64,
    pub uploads_started: u64,
    pub uploads_ok: u64,
    /// Uploads an interrupt (Ctrl-C, SIGTERM) cut off: not finished, not the target's failure.
    #[serde(default)]
    pub uploads_interrupted: u64,
    /// Failed uploads by the kind of their first unrecovered failure.
    pub failures: BTreeMap<String, u64>,
    /// Failed uploads whose multipart upload was aborted (no orphaned parts), and those where
    /// even the abort failed.
    pub aborted: u64,
    pub abort_failed: u64,
    pub objects_verified: u64,
    pub objects_deleted: u64,
    /// Bytes of parts the server acknowledged.
    pub bytes_acked: u64,
    /// CPU time spent computing part checksums.
    pub checksum_time: Duration,
}

impl Default for UploadTally {
    fn default() -> Self {
        UploadTally {
            part: histogram(),
            part_per_second: SecondSeries::default(),
            part_ttfb: histogram(),
            object: histogram(),
            create: histogram(),
            complete: histogram(),
            parts_ok: 0,
            parts_failed: 0,
            parts_started: 0,
            parts_unfinished: 0,
            uploads_unfinished: 0,
            parts_over_objective: 0,
            retries: 0,
            uploads_started: 0,
            uploads_ok: 0,
            uploads_interrupted: 0,
            failures: BTreeMap::new(),
            aborted: 0,
            abort_failed: 0,
            objects_verified: 0,
            objects_deleted: 0,
            bytes_acked: 0,
            checksum_time: Duration::ZERO,
        }
    }
}

impl UploadTally {
    pub fn record(h: &mut Histogram<u64>, d: Duration) {
        h.saturating_record(d.as_micros().max(1) as u64);
    }

    /// Counts an upload that ended with `kind`: a failure, or not finished when the kind is
    /// `interrupted` (the run was stopped while it was in flight).
    pub fn fail(&mut self, kind: &str) {
        if kind == INTERRUPTED || kind.ends_with(&format!("_{INTERRUPTED}")) {
            self.uploads_interrupted += 1;
        } else {
            *self.failures.entry(kind.to_string()).or_default() += 1;
        }
    }

    pub fn merge(&mut self, o: UploadTally) {
        for (a, b) in [
            (&mut self.part, &o.part),
            (&mut self.part_ttfb, &o.part_ttfb),
            (&mut self.object, &o.object),
            (&mut self.create, &o.create),
            (&mut self.complete, &o.complete),
        ] {
            let _ = a.add(b);
        }
        self.part_per_second.merge(o.part_per_second);
        self.parts_ok += o.parts_ok;
        self.parts_failed += o.parts_failed;
        self.parts_started += o.parts_started;
        self.parts_unfinished += o.parts_unfinished;
        self.uploads_unfinished += o.uploads_unfinished;
        self.parts_over_objective += o.parts_over_objective;
        self.retries += o.retries;
        self.uploads_started += o.uploads_started;
        self.uploads_ok += o.uploads_ok;
        self.uploads_interrupted += o.uploads_interrupted;
        for (k, v) in o.failures {
            *self.failures.entry(k).or_default() += v;
        }
        self.aborted += o.aborted;
        self.abort_failed += o.abort_failed;
        self.objects_verified += o.objects_verified;
        self.objects_deleted += o.objects_deleted;
        self.bytes_acked += o.bytes_acked;
        self.checksum_time += o.checksum_time;
    }
}
