//! Per-core measurement: latency histograms and outcome counters.
//!
//! Each core owns one `Recorder` and is the only one that writes to it, so recording takes no
//! lock and touches no shared atomic. Once a second the core hands its recorder to the reporter
//! thread and starts a fresh one; the reporter merges them (`Recorder::merge`) into the time
//! series and the run's totals. HdrHistograms add without loss, so merged percentiles are exact
//! to the histogram's precision (3 significant digits).

use hdrhistogram::Histogram;
use std::time::Duration;

/// Highest latency the histograms track without saturating: one hour, in microseconds.
pub const MAX_TRACKABLE_US: u64 = 3_600_000_000;
/// Significant decimal digits kept by every histogram.
pub const SIGFIG: u8 = 3;

/// Transport-level failure kinds. The engine knows no protocol: workloads map their errors here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The target refused the TCP connection.
    ConnectRefused,
    /// Connecting took longer than the timeout.
    ConnectTimeout,
    /// Any other failure to connect (unreachable, out of ports or descriptors, ...).
    ConnectOther,
    /// The TLS handshake failed (untrusted certificate, wrong name, protocol mismatch).
    Tls,
    /// No complete response within the timeout.
    Timeout,
    /// The peer closed the connection before a complete response.
    Closed,
    /// The connection failed after the request was written and before any byte of the
    /// response (the peer closed or reset it: typically a keep-alive connection the server
    /// closed just as the request went out).
    ClosedBeforeResponse,
    /// The peer reset the connection.
    Reset,
    /// The response could not be parsed (garbage, truncated, headers too large).
    Malformed,
    /// Any other I/O error.
    Io,
    /// The request never left: every connection was busy and the queue was full.
    Dropped,
    /// The run ended (or was interrupted) before the request finished.
    Unfinished,
    /// A value a later step needs was not in the response (a scenario's capture).
    CaptureMissing,
    /// A status below 400 that the request's `expect.status` does not list.
    ExpectStatus,
    /// The response body failed the request's `expect` (a JSON pointer's value, a text).
    ExpectBody,
    /// The response came later than the request's `slow` limit.
    Slow,
    /// The request was not sent: its rendered path held a space or a control character (a
    /// captured value put it there).
    InvalidPath,
    /// A redirect pointed off the target (another host, port or scheme that `--allow-host`
    /// does not name), or somewhere that is not an http(s) URL.
    RedirectOffTarget,
    /// Still a redirect after the most hops allowed (`--redirects`).
    TooManyRedirects,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 19] = [
        ErrorKind::ConnectRefused,
        ErrorKind::ConnectTimeout,
        ErrorKind::ConnectOther,
        ErrorKind::Tls,
        ErrorKind::Timeout,
        ErrorKind::Closed,
        ErrorKind::ClosedBeforeResponse,
        ErrorKind::Reset,
        ErrorKind::Malformed,
        ErrorKind::Io,
        ErrorKind::Dropped,
        ErrorKind::Unfinished,
        ErrorKind::CaptureMissing,
        ErrorKind::ExpectStatus,
        ErrorKind::ExpectBody,
        ErrorKind::Slow,
        ErrorKind::InvalidPath,
        ErrorKind::RedirectOffTarget,
        ErrorKind::TooManyRedirects,
    ];

    /// Stable machine-readable name, used in reports.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::ConnectRefused => "connect_refused",
            ErrorKind::ConnectTimeout => "connect_timeout",
            ErrorKind::ConnectOther => "connect_error",
            ErrorKind::Tls => "tls_handshake",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Closed => "closed",
            ErrorKind::ClosedBeforeResponse => "closed_before_response",
            ErrorKind::Reset => "reset",
            ErrorKind::Malformed => "malformed_response",
            ErrorKind::Io => "io_error",
            ErrorKind::Dropped => "dropped",
            ErrorKind::Unfinished => "unfinished",
            ErrorKind::CaptureMissing => "capture_missing",
            ErrorKind::ExpectStatus => "expect_status",
            ErrorKind::ExpectBody => "expect_body",
            ErrorKind::Slow => "slow",
            ErrorKind::InvalidPath => "invalid_path",
            ErrorKind::RedirectOffTarget => "redirect_off_target",
            ErrorKind::TooManyRedirects => "too_many_redirects",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// Maps an I/O error to a kind.
    pub fn from_io(e: &std::io::Error) -> ErrorKind {
        use std::io::ErrorKind as K;
        match e.kind() {
            K::ConnectionRefused => ErrorKind::ConnectRefused,
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => ErrorKind::Reset,
            K::UnexpectedEof => ErrorKind::Closed,
            K::TimedOut => ErrorKind::Timeout,
            _ => ErrorKind::Io,
        }
    }
}

/// Outcome codes are protocol status codes (HTTP status, WebSocket close code ...) below this.
pub const MAX_CODE: usize = 1000;

/// An empty histogram with every measurement's bounds (1 µs to `MAX_TRACKABLE_US`, `SIGFIG`
/// digits): the one constructor of the histograms blast records into.
pub fn histogram() -> Histogram<u64> {
    // Bounds are constants that are valid, so construction cannot fail.
    Histogram::new_with_bounds(1, MAX_TRACKABLE_US, SIGFIG).expect("valid histogram bounds")
}

fn micros(d: Duration) -> u64 {
    d.as_micros().min(MAX_TRACKABLE_US as u128) as u64
}

/// Measured time beyond what the target reported it spent (`Recorder::beyond_target`).
#[derive(Clone, Debug)]
pub struct BeyondTarget {
    pub service: Histogram<u64>,
    pub latency: Histogram<u64>,
}

impl Default for BeyondTarget {
    fn default() -> Self {
        BeyondTarget { service: histogram(), latency: histogram() }
    }
}

/// Where every measured request ended up, counted on its own path so that the report can check
/// that the figures add up (`Accounting::identities`): each slot the schedule reached is sent,
/// dropped or not sent; each request sent completes, fails without a response or is still in
/// flight when the run ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Accounting {
    /// Slots of the measured window the pacer reached (queued or dropped).
    pub scheduled: u64,
    /// Never written: the connection could not be opened, or the run ended while it waited for
    /// one (queued) or before its first byte left.
    pub not_sent: u64,
    /// Written, then failed without a complete response (timeout, reset, closed, malformed).
    pub no_response: u64,
    /// Written and still unanswered when the run ended (cut by the end of the drain).
    pub in_flight: u64,
    /// Warm-up, counted apart from every other figure: slots due before the measured window
    /// that the pacer reached, requests (iterations) of them written, and those answered.
    /// Absent in reports of earlier versions (0).
    #[serde(default)]
    pub warmup_scheduled: u64,
    #[serde(default)]
    pub warmup_sent: u64,
    #[serde(default)]
    pub warmup_completed: u64,
    /// Iterations that first waited for their virtual user (its `on_start` login, its own or
    /// one another iteration of the same user was running), and the time they waited, µs: a
    /// user's wait, left out of the send lag.
    #[serde(default)]
    pub user_waits: u64,
    #[serde(default)]
    pub user_wait_us: u64,
}

impl Accounting {
    fn add(&mut self, o: &Accounting) {
        self.scheduled += o.scheduled;
        self.not_sent += o.not_sent;
        self.no_response += o.no_response;
        self.in_flight += o.in_flight;
        self.warmup_scheduled += o.warmup_scheduled;
        self.warmup_sent += o.warmup_sent;
        self.warmup_completed += o.warmup_completed;
        self.user_waits += o.user_waits;
        self.user_wait_us += o.user_wait_us;
    }
}

/// What one core measured over one interval (or, merged, over the run).
#[derive(Clone, Debug)]
pub struct Recorder {
    /// Corrected latency: completion minus *intended* send time (includes queueing and lag).
    pub latency: Histogram<u64>,
    /// Service time: completion minus actual send time (what a closed-loop tool reports).
    pub service: Histogram<u64>,
    /// Send lag: actual send minus intended send time (generator or queue delay).
    pub send_lag: Histogram<u64>,
    /// Pacer lag: when the pacer queued a request minus when it was due. Only the generator's
    /// own slowness shows here (queueing for a busy connection comes after).
    pub dispatch_lag: Histogram<u64>,
    /// Time to establish a connection.
    pub connect: Histogram<u64>,
    /// Requests written to the wire.
    pub sent: u64,
    /// Requests that got a complete response (any status).
    pub completed: u64,
    /// Responses by status code (index = code; codes >= MAX_CODE land in slot 0).
    pub codes: Vec<u64>,
    /// Failures by kind (see `ErrorKind::ALL`).
    pub errors: [u64; ErrorKind::ALL.len()],
    /// Connections established and failed.
    pub connects_ok: u64,
    pub connects_failed: u64,
    /// Connections opened during the run to replace one that was closed (by the peer, after an
    /// error, or found closed while idle).
    pub reconnects: u64,
    /// Kept-alive connections found closed by the peer while idle, before a request was
    /// written on them (replaced, no error).
    pub closed_idle: u64,
    /// Requests sent a second time on a fresh connection (`closed_before_response`, idempotent
    /// method, `--retry-idempotent`).
    pub retried: u64,
    /// Service time beyond the time the target reported for itself, and corrected latency
    /// beyond it, for the responses that carried such a report (allocated on the first).
    pub beyond_target: Option<Box<BeyondTarget>>,
    /// Bytes written and read by requests.
    pub bytes_out: u64,
    pub bytes_in: u64,
    /// Response body bytes alone (the CSV's Average Content Size, as Locust counts it).
    pub body_in: u64,
    /// Largest number of requests waiting for a free connection.
    pub queue_peak: u64,
    /// Where each request ended up, for the report's accounting identities.
    pub accounting: Accounting,
    /// The same figures per report row (request, step or flow name), by row index; empty in
    /// the rows themselves.
    pub by_name: Vec<Recorder>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    /// Row `i` (a report name's figures): the recorder itself when it keeps no rows (a run of
    /// one name, or a report of an earlier version), an empty one when it has no row `i`.
    pub fn by_row(&self, i: usize) -> &Recorder {
        static EMPTY: std::sync::OnceLock<Recorder> = std::sync::OnceLock::new();
        match self.by_name.get(i) {
            Some(row) => row,
            None if self.by_name.is_empty() && i == 0 => self,
            None => EMPTY.get_or_init(Recorder::new),
        }
    }

    pub fn new() -> Self {
        Recorder {
            latency: histogram(),
            service: histogram(),
            send_lag: histogram(),
            dispatch_lag: histogram(),
            connect: histogram(),
            sent: 0,
            completed: 0,
            codes: vec![0; MAX_CODE],
            errors: [0; ErrorKind::ALL.len()],
            connects_ok: 0,
            connects_failed: 0,
            reconnects: 0,
            closed_idle: 0,
            retried: 0,
            beyond_target: None,
            bytes_out: 0,
            bytes_in: 0,
            body_in: 0,
            queue_peak: 0,
            accounting: Accounting::default(),
            by_name: Vec::new(),
        }
    }

    /// A recorder with `rows` named rows.
    pub fn with_rows(rows: usize) -> Self {
        Recorder { by_name: (0..rows).map(|_| Recorder::new()).collect(), ..Recorder::new() }
    }

    /// Row `i`'s recorder (added if the recorder has fewer rows).
    pub fn row_mut(&mut self, i: usize) -> &mut Recorder {
        if self.by_name.len() <= i {
            self.by_name.resize_with(i + 1, Recorder::new);
        }
        &mut self.by_name[i]
    }

    /// A request was written to the wire `lag` after it was due.
    pub fn record_sent(&mut self, lag: Duration, bytes: u64) {
        self.sent += 1;
        self.bytes_out += bytes;
        self.send_lag.saturating_record(micros(lag));
    }

    /// A complete response with `code` arrived; `latency` from intended, `service` from sent.
    pub fn record_response(&mut self, code: u16, latency: Duration, service: Duration, bytes: u64) {
        self.completed += 1;
        self.bytes_in += bytes;
        let slot = if (code as usize) < MAX_CODE { code as usize } else { 0 };
        self.codes[slot] += 1;
        self.latency.saturating_record(micros(latency));
        self.service.saturating_record(micros(service));
    }

    /// The target said it spent `target` of a response's `service` time (and `latency`)
    /// itself: what is beyond it is the network's and blast's.
    pub fn record_beyond_target(&mut self, latency: Duration, service: Duration, target: Duration) {
        let b = self.beyond_target.get_or_insert_with(Default::default);
        b.service.saturating_record(micros(service.saturating_sub(target)));
        b.latency.saturating_record(micros(latency.saturating_sub(target)));
    }

    /// Empties every histogram and counter, keeping the allocations (recorders are recycled
    /// so that no core allocates a megabyte of histograms on its hot thread every second).
    pub fn reset(&mut self) {
        self.latency.reset();
        self.service.reset();
        self.send_lag.reset();
        self.dispatch_lag.reset();
        self.connect.reset();
        self.sent = 0;
        self.completed = 0;
        self.codes.iter_mut().for_each(|c| *c = 0);
        self.errors = [0; ErrorKind::ALL.len()];
        self.connects_ok = 0;
        self.connects_failed = 0;
        self.reconnects = 0;
        self.closed_idle = 0;
        self.retried = 0;
        if let Some(b) = &mut self.beyond_target {
            b.service.reset();
            b.latency.reset();
        }
        self.bytes_out = 0;
        self.bytes_in = 0;
        self.body_in = 0;
        self.queue_peak = 0;
        self.accounting = Accounting::default();
        self.by_name.iter_mut().for_each(Recorder::reset);
    }

    /// The pacer queued a request `lag` after it was due.
    pub fn record_dispatch(&mut self, lag: Duration) {
        self.dispatch_lag.saturating_record(micros(lag));
    }

    pub fn record_error(&mut self, kind: ErrorKind) {
        self.errors[kind.index()] += 1;
    }

    pub fn record_errors(&mut self, kind: ErrorKind, n: u64) {
        self.errors[kind.index()] += n;
    }

    pub fn record_connect(&mut self, took: Duration, ok: bool) {
        if ok {
            self.connects_ok += 1;
            self.connect.saturating_record(micros(took));
        } else {
            self.connects_failed += 1;
        }
    }

    /// `n` connections a call opened itself (between the steps of an iteration, or for a
    /// retry), `took` for all of them together: each is recorded with their mean time (exact
    /// for the usual one; a flow that reopened several has them averaged).
    pub fn record_reopened(&mut self, n: u32, took: Duration) {
        if n == 0 {
            return;
        }
        self.connects_ok += u64::from(n);
        self.reconnects += u64::from(n);
        self.connect.saturating_record_n(micros(took / n), u64::from(n));
    }

    pub fn note_queue_depth(&mut self, depth: usize) {
        self.queue_peak = self.queue_peak.max(depth as u64);
    }

    pub fn errors_of(&self, kind: ErrorKind) -> u64 {
        self.errors[kind.index()]
    }

    pub fn total_errors(&self) -> u64 {
        self.errors.iter().sum()
    }

    /// Responses whose status code is `lo..=hi`.
    pub fn codes_in(&self, lo: u16, hi: u16) -> u64 {
        self.codes[lo as usize..=(hi as usize).min(MAX_CODE - 1)].iter().sum()
    }

    /// Failed: errors of any kind, 4xx/5xx responses and unparsable statuses.
    pub fn failed(&self) -> u64 {
        self.total_errors() + self.codes_in(400, 999) + self.codes[0]
    }

    /// Responses by status code (`other` for a status that was not a number), those seen.
    pub fn status_codes(&self) -> std::collections::BTreeMap<String, u64> {
        let seen = self.codes.iter().enumerate().filter(|(_, &n)| n > 0);
        seen.map(|(code, &n)| (if code == 0 { "other".to_string() } else { code.to_string() }, n)).collect()
    }

    /// Errors by kind, those seen.
    pub fn error_counts(&self) -> std::collections::BTreeMap<String, u64> {
        let seen = ErrorKind::ALL.into_iter().map(|k| (k.name().to_string(), self.errors_of(k)));
        seen.filter(|(_, n)| *n > 0).collect()
    }

    /// Adds `other` into `self`. Exact: histogram counts add bucket by bucket.
    pub fn merge(&mut self, other: &Recorder) {
        // Same bounds on both sides, so `add` cannot fail.
        let _ = self.latency.add(&other.latency);
        let _ = self.service.add(&other.service);
        let _ = self.send_lag.add(&other.send_lag);
        let _ = self.dispatch_lag.add(&other.dispatch_lag);
        let _ = self.connect.add(&other.connect);
        self.sent += other.sent;
        self.completed += other.completed;
        for (a, b) in self.codes.iter_mut().zip(&other.codes) {
            *a += b;
        }
        for (a, b) in self.errors.iter_mut().zip(&other.errors) {
            *a += b;
        }
        self.connects_ok += other.connects_ok;
        self.connects_failed += other.connects_failed;
        self.reconnects += other.reconnects;
        self.closed_idle += other.closed_idle;
        self.retried += other.retried;
        if let Some(o) = other.beyond_target.as_deref().filter(|o| !o.service.is_empty()) {
            let b = self.beyond_target.get_or_insert_with(Default::default);
            let _ = b.service.add(&o.service);
            let _ = b.latency.add(&o.latency);
        }
        self.bytes_out += other.bytes_out;
        self.bytes_in += other.bytes_in;
        self.body_in += other.body_in;
        self.queue_peak = self.queue_peak.max(other.queue_peak);
        self.accounting.add(&other.accounting);
        for (i, r) in other.by_name.iter().enumerate() {
            self.row_mut(i).merge(r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_counts_and_histograms_exactly() {
        let mut a = Recorder::new();
        let mut b = Recorder::new();
        for i in 1..=1000u64 {
            a.record_response(202, Duration::from_micros(i), Duration::from_micros(i), 10);
            b.record_response(500, Duration::from_micros(1000 + i), Duration::from_micros(i), 10);
        }
        b.record_error(ErrorKind::Timeout);
        let mut m = Recorder::new();
        m.merge(&a);
        m.merge(&b);
        assert_eq!(m.completed, 2000);
        assert_eq!(m.codes[202], 1000);
        assert_eq!(m.codes_in(500, 599), 1000);
        assert_eq!(m.errors_of(ErrorKind::Timeout), 1);
        assert_eq!(m.latency.len(), 2000);
        // p50 of 1..=2000 µs is 1000 µs, within 3 significant digits.
        let p50 = m.latency.value_at_quantile(0.5);
        assert!((999..=1001).contains(&p50), "p50 {p50}");
        assert_eq!(m.latency.max(), m.latency.highest_equivalent(2000));
    }

    #[test]
    fn saturates_instead_of_failing() {
        let mut r = Recorder::new();
        r.record_response(200, Duration::from_secs(10_000), Duration::ZERO, 0);
        assert_eq!(r.latency.len(), 1);
        assert!(r.latency.max() >= MAX_TRACKABLE_US);
    }
}
