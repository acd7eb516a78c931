//! `--metrics-listen ADDR`: the run's figures in Prometheus text format (version 0.0.4) while
//! it runs, so that a dashboard shows blast beside the service it loads.
//!
//! The coordinating thread turns the updates it already gets once a second (the api's merged
//! second, the ws and upload live counters) into the page's text (`Exposition`) and hands it
//! over (`MetricsServer::publish`); a small `std::net` thread answers each scrape with the
//! latest text. The cores never see any of it: no cost on the hot path.
//!
//! Each sample carries the time its figures were taken (the text format's optional timestamp),
//! so that Prometheus's `rate()` over shards' counters is exact whatever the scrape phase.
//!
//! Families (all prefixed `blast_`): `requests_total`, `failures_total{kind}` and the latency
//! histograms `latency_seconds` (the run so far, for `histogram_quantile(rate(...))`) and
//! `latency_last_second_seconds` (the last second alone), `target_rate` and `achieved_rate` per
//! request name; ws: `ws_open_connections`, `ws_deliveries_total`, `ws_dropped_total`,
//! `ws_failed_connects_total`; upload: `upload_bytes_total`, `upload_parts_total`,
//! `uploads_completed_total`, `uploads_failed_total`, `upload_bytes_rate`.

use crate::engine::recorder::Recorder;
use crate::workloads::api::raw::NamedRequest;
use hdrhistogram::Histogram;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS_S: [f64; 16] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// One metric family: its samples under one HELP and TYPE.
struct Family {
    name: String,
    kind: &'static str,
    help: &'static str,
    samples: String,
}

/// A page of Prometheus text format being built; families keep the order they first appear in.
#[derive(Default)]
pub struct Exposition {
    families: Vec<Family>,
}

/// A label value escaped as the text format requires (backslash, quote, newline).
fn label_value(v: &str) -> String {
    v.replace('\\', r"\\").replace('"', "\\\"").replace('\n', r"\n")
}

fn labels(pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}=\"{}\"", label_value(v))).collect();
    format!("{{{}}}", inner.join(","))
}

/// A float as the text format writes it.
fn value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &'static str, help: &'static str) -> &mut String {
        let full = format!("blast_{name}");
        let i = match self.families.iter().position(|f| f.name == full) {
            Some(i) => i,
            None => {
                self.families.push(Family { name: full, kind, help, samples: String::new() });
                self.families.len() - 1
            }
        };
        &mut self.families[i].samples
    }

    /// A counter sample (`name` without `blast_` and `_total`... as given: pass `x_total`).
    pub fn counter(&mut self, name: &str, help: &'static str, l: &[(&str, &str)], v: f64) {
        let line = format!("blast_{name}{} {}\n", labels(l), value(v));
        self.family(name, "counter", help).push_str(&line);
    }

    pub fn gauge(&mut self, name: &str, help: &'static str, l: &[(&str, &str)], v: f64) {
        let line = format!("blast_{name}{} {}\n", labels(l), value(v));
        self.family(name, "gauge", help).push_str(&line);
    }

    /// A histogram of `h` (recorded in µs) in seconds: cumulative buckets, `_sum` and `_count`.
    pub fn histogram(&mut self, name: &str, help: &'static str, l: &[(&str, &str)], h: &Histogram<u64>) {
        let mut below = [0u64; BUCKETS_S.len()];
        let mut sum_us = 0.0;
        for v in h.iter_recorded() {
            let (us, n) = (v.value_iterated_to(), v.count_at_value());
            sum_us += us as f64 * n as f64;
            if let Some(i) = BUCKETS_S.iter().position(|&b| us as f64 <= b * 1e6) {
                below[i] += n;
            }
        }
        let mut o = String::new();
        let mut cumulative = 0;
        for (le, n) in BUCKETS_S.iter().zip(below) {
            cumulative += n;
            let mut with_le = l.to_vec();
            let le = value(*le);
            with_le.push(("le", &le));
            let _ = writeln!(o, "blast_{name}_bucket{} {cumulative}", labels(&with_le));
        }
        let mut inf = l.to_vec();
        inf.push(("le", "+Inf"));
        let _ = writeln!(o, "blast_{name}_bucket{} {}", labels(&inf), h.len());
        let _ = writeln!(o, "blast_{name}_sum{} {}", labels(l), value(sum_us / 1e6));
        let _ = writeln!(o, "blast_{name}_count{} {}", labels(l), h.len());
        self.family(name, "histogram", help).push_str(&o);
    }

    /// The page's text.
    pub fn text(&self) -> String {
        self.text_at(None)
    }

    /// The page's text, each sample stamped with `at_ms` (Unix milliseconds) when given: the
    /// time the figures were taken, so that a scrape at any moment stores them where they
    /// belong and `rate()` over a window is the figures' own rate, not the scrapes' phase.
    pub fn text_at(&self, at_ms: Option<u64>) -> String {
        let mut o = String::new();
        for f in &self.families {
            let _ = write!(o, "# HELP {} {}\n# TYPE {} {}\n", f.name, f.help, f.name, f.kind);
            for line in f.samples.lines() {
                match at_ms {
                    Some(ms) => {
                        let _ = writeln!(o, "{line} {ms}");
                    }
                    None => {
                        let _ = writeln!(o, "{line}");
                    }
                }
            }
        }
        o
    }
}

/// One named request of an api run: its row of the run so far and of the last second.
pub struct ApiName<'a> {
    pub method: &'a str,
    pub name: &'a str,
    pub total: &'a Recorder,
    pub second: &'a Recorder,
    /// Requests per second this name is planned at, now.
    pub target_rate: f64,
}

/// Every name of an api run with its row of the run so far (`total`) and of the last second,
/// planned at its share of `rate` (the whole run's rate now).
pub fn api_names<'a>(
    names: &'a [NamedRequest],
    rate: f64,
    total: &'a Recorder,
    second: &'a Recorder,
) -> Vec<ApiName<'a>> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| ApiName {
            method: &n.kind,
            name: &n.name,
            total: total.by_row(i),
            second: second.by_row(i),
            target_rate: n.planned_share.map_or(f64::NAN, |s| s * rate),
        })
        .collect()
}

/// The figures of an api run after `elapsed` seconds, one set per name.
pub fn api(elapsed: f64, names: &[ApiName<'_>]) -> Exposition {
    let mut e = Exposition::default();
    e.gauge("elapsed_seconds", "Seconds since the run started.", &[], elapsed);
    for n in names {
        let l = [("method", n.method), ("name", n.name)];
        let (t, s) = (n.total, n.second);
        e.counter(
            "requests_total",
            "Requests that got a status or failed, so far.",
            &l,
            (t.codes_in(100, 399) + t.failed()) as f64,
        );
        e.counter("sent_total", "Requests written to the wire, so far.", &l, t.sent as f64);
        let failures = t.error_counts().into_iter().chain(
            t.status_codes()
                .into_iter()
                .filter(|(c, _)| c.parse::<u16>().map_or(true, |c| c >= 400))
                .map(|(c, n)| (format!("http_{c}"), n)),
        );
        for (kind, count) in failures {
            let with_kind = [l[0], l[1], ("kind", kind.as_str())];
            e.counter(
                "failures_total",
                "Failed requests by kind (errors, HTTP 4xx/5xx), so far.",
                &with_kind,
                count as f64,
            );
        }
        e.histogram(
            "latency_seconds",
            "Corrected latency (from the intended send time), the run so far.",
            &l,
            &t.latency,
        );
        e.histogram(
            "latency_last_second_seconds",
            "Corrected latency of the requests answered in the last second alone.",
            &l,
            &s.latency,
        );
        e.gauge("target_rate", "Requests per second the schedule asks for now.", &l, n.target_rate);
        e.gauge("achieved_rate", "Requests per second sent in the last second.", &l, s.sent as f64);
    }
    e
}

/// The live counters of a ws run.
pub fn ws(elapsed: f64, open: u64, deliveries: u64, dropped: u64, failed_connects: u64) -> Exposition {
    let mut e = Exposition::default();
    e.gauge("elapsed_seconds", "Seconds since the run started.", &[], elapsed);
    e.gauge("ws_open_connections", "WebSocket connections open now.", &[], open as f64);
    e.counter("ws_deliveries_total", "Probe deliveries received, so far.", &[], deliveries as f64);
    e.counter("ws_dropped_total", "Established connections the server closed or lost, so far.", &[], dropped as f64);
    e.counter("ws_failed_connects_total", "Connection attempts that failed, so far.", &[], failed_connects as f64);
    e
}

/// The live counters of an upload run; `bytes_rate`: bytes acknowledged per second lately.
pub struct UploadFigures {
    pub bytes: u64,
    pub parts: u64,
    pub completed: u64,
    pub failed: u64,
    pub bytes_rate: f64,
}

pub fn upload(elapsed: f64, u: &UploadFigures) -> Exposition {
    let mut e = Exposition::default();
    e.gauge("elapsed_seconds", "Seconds since the run started.", &[], elapsed);
    e.counter("upload_bytes_total", "Part bytes acknowledged, so far.", &[], u.bytes as f64);
    e.counter("upload_parts_total", "Parts uploaded, so far.", &[], u.parts as f64);
    e.counter("uploads_completed_total", "Objects uploaded completely, so far.", &[], u.completed as f64);
    e.counter("uploads_failed_total", "Object uploads that failed, so far.", &[], u.failed as f64);
    e.gauge("upload_bytes_rate", "Part bytes acknowledged per second, lately.", &[], u.bytes_rate);
    e
}

/// The listener: serves the latest published page to every scrape until dropped.
pub struct MetricsServer {
    page: Arc<Mutex<String>>,
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl MetricsServer {
    /// Listens on `addr` and answers scrapes from a thread of its own.
    pub fn start(addr: SocketAddr) -> std::io::Result<MetricsServer> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let page = Arc::new(Mutex::new(String::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (served, stopping) = (page.clone(), stop.clone());
        std::thread::Builder::new().name("blast-metrics".into()).spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::Relaxed) {
                    break;
                }
                if let Ok(stream) = stream {
                    let text = served.lock().map(|p| p.clone()).unwrap_or_default();
                    answer(stream, &text);
                }
            }
        })?;
        Ok(MetricsServer { page, addr, stop })
    }

    /// The address it listens on (the port the kernel picked for `:0`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Makes `e` the page scrapes get, its samples stamped with the time now.
    pub fn publish(&self, e: &Exposition) {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok();
        let text = e.text_at(now.map(|d| d.as_millis() as u64));
        if let Ok(mut p) = self.page.lock() {
            *p = text;
        }
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

/// Answers one HTTP request: the page for `GET /metrics` (or `/`), 404 otherwise.
fn answer(mut stream: TcpStream, page: &str) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    let mut buf = [0u8; 4096];
    let mut got = Vec::new();
    while !got.windows(4).any(|w| w == b"\r\n\r\n") && got.len() < 16 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let request = String::from_utf8_lossy(&got);
    let path = request.split_whitespace().nth(1).unwrap_or("");
    let path = path.split('?').next().unwrap_or("");
    let (status, body, kind) = if request.starts_with("GET ") && (path == "/metrics" || path == "/") {
        ("200 OK", page, "text/plain; version=0.0.4; charset=utf-8")
    } else {
        ("404 Not Found", "not found: scrape /metrics\n", "text/plain; charset=utf-8")
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_have_one_help_and_type_and_cumulative_buckets() {
        let mut h = crate::engine::recorder::histogram();
        h.record(800).expect("record"); // 0.8 ms
        h.record(3_000).expect("record"); // 3 ms
        let mut e = Exposition::default();
        e.histogram("latency_seconds", "l", &[("name", "a \"b\"")], &h);
        e.histogram("latency_seconds", "l", &[("name", "c")], &h);
        let stamped = e.text_at(Some(1_700_000_000_123));
        assert!(stamped.contains(r#"blast_latency_seconds_count{name="c"} 2 1700000000123"#), "{stamped}");
        let t = e.text();
        assert_eq!(t.matches("# TYPE blast_latency_seconds histogram").count(), 1);
        assert!(t.contains(r#"blast_latency_seconds_bucket{name="a \"b\"",le="0.001"} 1"#), "{t}");
        assert!(t.contains(r#"blast_latency_seconds_bucket{name="c",le="0.005"} 2"#), "{t}");
        assert!(t.contains(r#"blast_latency_seconds_bucket{name="c",le="+Inf"} 2"#), "{t}");
        assert!(t.contains(r#"blast_latency_seconds_count{name="c"} 2"#), "{t}");
    }
}
