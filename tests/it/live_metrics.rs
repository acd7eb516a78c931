//! `--metrics-listen`: scrapes of a real run (against `blast serve`) while it goes on, read with
//! a real Prometheus text-format parser (Python's prometheus_client).

use crate::common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A Python that has prometheus_client: `BLAST_TEST_PYTHON`, `python3`, or a venv under
/// target/ made for these tests (pip install prometheus_client).
fn python() -> String {
    let has = |py: &str| {
        Command::new(py).args(["-c", "import prometheus_client.parser"]).output().is_ok_and(|o| o.status.success())
    };
    if let Ok(py) = std::env::var("BLAST_TEST_PYTHON") {
        return py;
    }
    if has("python3") {
        return "python3".into();
    }
    let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/prometheus-venv");
    let py = venv.join("bin/python").to_string_lossy().to_string();
    if !has(&py) {
        let made = Command::new("python3").arg("-m").arg("venv").arg(&venv).status().is_ok_and(|s| s.success())
            && Command::new(&py)
                .args(["-m", "pip", "install", "-q", "prometheus_client"])
                .status()
                .is_ok_and(|s| s.success());
        assert!(
            made && has(&py),
            "the Prometheus parser is needed: pip install prometheus_client (or set BLAST_TEST_PYTHON)"
        );
    }
    py
}

/// One sample as the parser read it.
#[derive(Debug)]
struct Sample {
    family: String,
    kind: String,
    name: String,
    labels: serde_json::Map<String, serde_json::Value>,
    value: f64,
}

/// Parses a scrape with prometheus_client's text parser.
fn parse(text: &str) -> Vec<Sample> {
    let script = "import sys, json\nfrom prometheus_client.parser import text_string_to_metric_families\n\
        print(json.dumps([[f.name, f.type, s.name, s.labels, s.value] for f in text_string_to_metric_families(sys.stdin.read()) for s in f.samples]))";
    let mut child = Command::new(python())
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python");
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write scrape");
    let out = child.wait_with_output().expect("parser");
    assert!(out.status.success(), "not valid Prometheus text format: {}\n{text}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("parser output");
    rows.into_iter()
        .map(|r| Sample {
            family: r[0].as_str().unwrap_or_default().into(),
            kind: r[1].as_str().unwrap_or_default().into(),
            name: r[2].as_str().unwrap_or_default().into(),
            labels: r[3].as_object().cloned().unwrap_or_default(),
            value: r[4].as_f64().unwrap_or(f64::NAN),
        })
        .collect()
}

/// GET /metrics.
fn scrape(addr: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the metrics listener");
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").expect("request");
    let mut r = String::new();
    s.read_to_string(&mut r).expect("response");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert!(r.contains("Content-Type: text/plain; version=0.0.4"), "{r}");
    r.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default()
}

/// Starts `blast <args> --metrics-listen 127.0.0.1:0` and reads the address it serves on.
fn start(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(BLAST)
        .args(args)
        .args(["--metrics-listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn blast");
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    let addr = loop {
        line.clear();
        assert!(err.read_line(&mut line).expect("stderr") > 0, "no metrics address announced");
        if let Some(rest) = line.trim().strip_prefix("blast: Prometheus metrics on http://") {
            break rest.trim_end_matches("/metrics").to_string();
        }
    };
    // Keep draining stderr so that the run never blocks on it.
    std::thread::spawn(move || for _ in err.lines() {});
    (child, addr)
}

/// Scrapes until `ready` holds of the parsed samples (the first updates come after a second).
fn scrape_until(addr: &str, ready: impl Fn(&[Sample]) -> bool) -> Vec<Sample> {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let samples = parse(&scrape(addr));
        if ready(&samples) {
            return samples;
        }
        assert!(Instant::now() < until, "never ready: {samples:?}");
        wait_ms(300);
    }
}

fn value(samples: &[Sample], name: &str) -> Option<f64> {
    samples.iter().find(|s| s.name == name).map(|s| s.value)
}

#[test]
fn api_run_serves_prometheus_metrics_while_it_runs() {
    // Shared: the metrics' names and shapes at 300/s.
    let _g = moderate();
    python(); // the parser is ready before the run starts (a venv may have to be made first)
    let server = Server::start(&[]);
    let (mut child, addr) = start(&["api", "--rate", "300", "--duration", "5s", "--target", &server.url()]);
    let samples = scrape_until(&addr, |s| value(s, "blast_requests_total").is_some_and(|v| v > 0.0));
    let requests = samples.iter().find(|s| s.name == "blast_requests_total").expect("requests");
    assert_eq!(requests.kind, "counter");
    assert_eq!(requests.labels["name"], "/v1/messages");
    assert_eq!(requests.labels["method"], "POST");
    assert_eq!(value(&samples, "blast_target_rate"), Some(300.0));
    assert!(value(&samples, "blast_achieved_rate").is_some_and(|v| v > 100.0), "{samples:?}");
    // The latency histogram: buckets that only grow, ending in +Inf at the count.
    let buckets: Vec<&Sample> = samples.iter().filter(|s| s.name == "blast_latency_seconds_bucket").collect();
    assert!(buckets.len() > 5 && buckets.iter().all(|b| b.kind == "histogram" && b.family == "blast_latency_seconds"));
    assert!(buckets.windows(2).all(|w| w[0].value <= w[1].value), "{buckets:?}");
    let inf = buckets.iter().find(|b| b.labels["le"] == "+Inf").expect("+Inf bucket");
    assert_eq!(Some(inf.value), value(&samples, "blast_latency_seconds_count"));
    assert!(inf.value > 0.0);
    assert!(samples.iter().any(|s| s.name == "blast_latency_last_second_seconds_count"), "{samples:?}");
    let code = child.wait().expect("run ends").code();
    assert_eq!(code, Some(0));
}

#[test]
fn ws_and_upload_runs_serve_their_counters() {
    // Shared: the counters' names and shapes.
    let _g = shared();
    python();
    let server = Server::start(&["--s3-listen", "127.0.0.1:0"]);
    let ws_url = format!("ws://{}/ws", server.addr);
    let s3 = server.s3.clone().expect("s3");
    // The two runs at once, each with its own listener, each scraped on its own: one run's time.
    let ws = ["ws", "--target", &ws_url, "--conns", "40", "--duration", "3s", "--probe-rate", "20"];
    let upload =
        ["upload", "--target", &s3, "--size", "5M", "--part-size", "5M", "--parallel", "2", "--duration", "3s"];
    let ((mut ws_child, ws_addr), (mut upload_child, upload_addr)) = (start(&ws), start(&upload));
    let (samples, upload_samples) = at_once(
        || {
            scrape_until(&ws_addr, |s| {
                value(s, "blast_ws_open_connections").is_some_and(|v| v == 40.0)
                    && value(s, "blast_ws_deliveries_total").is_some_and(|v| v > 0.0)
            })
        },
        || scrape_until(&upload_addr, |s| value(s, "blast_upload_bytes_total").is_some_and(|v| v > 0.0)),
    );
    assert!(samples.iter().any(|s| s.name == "blast_ws_open_connections" && s.kind == "gauge"));
    assert_eq!(ws_child.wait().expect("run ends").code(), Some(0));

    let samples = upload_samples;
    let bytes = value(&samples, "blast_upload_bytes_total").expect("bytes");
    let parts = value(&samples, "blast_upload_parts_total").expect("parts");
    // Whole 5 MiB parts (the two counters are read one after the other while parts finish).
    let mib5 = 5.0 * 1024.0 * 1024.0;
    assert_eq!(bytes % mib5, 0.0, "{bytes}");
    assert!((bytes / mib5 - parts).abs() <= 2.0, "{bytes} bytes, {parts} parts");
    assert_eq!(upload_child.wait().expect("run ends").code(), Some(0));
}

#[test]
fn a_busy_or_bad_metrics_address_is_a_usage_error() {
    // Shared: exit codes, nothing sent.
    let _g = light();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    for bad in [addr.as_str(), "example.com:9464"] {
        let (code, err) = blast_plain(&[
            "api",
            "--rate",
            "10",
            "--duration",
            "1s",
            "--target",
            "http://127.0.0.1:9/x",
            "--metrics-listen",
            bad,
        ]);
        assert_eq!(code, 2, "{bad}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{bad}: {err}");
        assert!(err.contains("metrics-listen"), "{err}");
    }
}
