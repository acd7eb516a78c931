//! `--web`: a real `blast api` run against `blast serve`, its live page read by headless
//! Chromium (the DOM after the page's own script ran), its controls driven with the requests the
//! page's script sends (POST with the `X-Blast-Token` header); and two shards' `--metrics-listen`
//! scraped by a real Prometheus, its PromQL checked against `blast merge`.

use crate::common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A blast run in the background with its stderr collected.
struct Running {
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Running {
    fn start(args: &[&str]) -> Running {
        let mut child =
            Command::new(BLAST).args(args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn blast");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (pipe, into) = (child.stderr.take().expect("stderr"), stderr.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                into.lock().expect("stderr").push_str(&(line + "\n"));
            }
        });
        Running { child, stderr }
    }

    /// The first stderr line containing `marker`, waited for.
    fn line_with(&self, marker: &str) -> String {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let err = self.stderr.lock().expect("stderr").clone();
            if let Some(line) = err.lines().find(|l| l.contains(marker)) {
                return line.to_string();
            }
            assert!(Instant::now() < until, "no '{marker}' on stderr: {err}");
            wait_ms(50);
        }
    }

    /// The live page's address and token, from the line blast prints.
    fn page(&self) -> (String, String) {
        let line = self.line_with("live page on http://");
        let url = line.split("http://").nth(1).expect("url");
        let (addr, token) = url.split_once("/#token=").expect("address and token");
        (addr.to_string(), token.split_whitespace().next().expect("token").to_string())
    }

    fn wait(mut self) -> (i32, String) {
        let until = Instant::now() + Duration::from_secs(60);
        let code = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status.code().unwrap_or(-1);
            }
            assert!(Instant::now() < until, "blast did not end");
            wait_ms(50);
        };
        wait_ms(100);
        let err = self.stderr.lock().expect("stderr").clone();
        (code, err)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`, so that a keep-alive server
/// such as Prometheus ends the answer with the connection, not the read timeout); the status
/// code and body of the answer.
fn request(addr: &str, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let token = token.map_or(String::new(), |t| format!("X-Blast-Token: {t}\r\n"));
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{token}Content-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("request");
    s.write_all(body.as_bytes()).expect("body");
    let mut r = String::new();
    let _ = s.read_to_string(&mut r);
    let code = r.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, r.split_once("\r\n\r\n").map_or(String::new(), |(_, b)| b.to_string()))
}

/// The Chromium on the PATH, found once per test process.
fn chromium() -> String {
    static FOUND: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    FOUND
        .get_or_init(|| {
            for c in ["chromium", "chromium-browser", "google-chrome"] {
                if Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()) {
                    return c.to_string();
                }
            }
            panic!("headless Chromium is needed: apt-get install chromium (.ci/run does)");
        })
        .clone()
}

/// The page's DOM as headless Chromium has it once loaded (a fresh profile each time).
fn dump_dom(url: &str) -> String {
    let profile = temp_path("chromium-profile");
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1400,3000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(url)
        .output()
        .expect("run chromium");
    let _ = std::fs::remove_dir_all(&profile);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The rows of the page's "Last seconds" table: (second, target, achieved).
fn last_seconds(dom: &str) -> Vec<(u64, f64, f64)> {
    let table = dom.split("Last seconds").nth(1).expect("the last seconds' table");
    let body = table.split("<tbody>").nth(1).and_then(|t| t.split("</tbody>").next()).expect("table body");
    body.split("<tr>")
        .skip(1)
        .map(|row| {
            let cells: Vec<&str> = row.split("<td>").skip(1).map(|c| c.split("</td>").next().expect("cell")).collect();
            (cells[0].parse().expect("second"), cells[1].parse().expect("target"), cells[2].parse().expect("achieved"))
        })
        .collect()
}

/// Waits until the page's newest second is at least `n`.
fn until_second(addr: &str, n: u64) {
    let until = Instant::now() + Duration::from_secs(20);
    while Instant::now() < until {
        let (_, body) = request(addr, "GET", "/live", None, "");
        if body.contains("Last seconds") && last_seconds(&body).first().is_some_and(|r| r.0 >= n) {
            return;
        }
        wait_ms(100);
    }
    panic!("the page never showed second {n}");
}

#[test]
fn live_page_figures_change_and_match_the_json_report() {
    // Shared: what it checks holds however slowly the machine runs. The page's seconds are
    // judged against the same run's JSON (the same counters, exact), the target against the
    // plan (not the rate achieved), and "the figures changed" between two looks a second apart
    // or more. Headless Chromium is no heavier here than in reports' Chromium test, which is
    // shared too; the two looks take a few seconds of the run's 15 however busy the machine.
    let _g = shared();
    let server = Server::start(&[]);
    let dir = ReportDir::new("web-live");
    let json = dir.path("run.json");
    let run = Running::start(&[
        "api",
        "--target",
        &server.url(),
        "--rate",
        "800",
        "--duration",
        "15s",
        "--cores",
        "1",
        "--conns",
        "20",
        "--web",
        "127.0.0.1:0",
        "--json",
        &json,
        "-H",
        "Authorization: Bearer web-secret-token",
    ]);
    let (addr, token) = run.page();
    until_second(&addr, 2);
    // A control without the token, or with a wrong one, is refused and changes nothing.
    assert_eq!(request(&addr, "POST", "/stop", None, "").0, 403);
    assert_eq!(request(&addr, "POST", "/stop", Some("0123456789abcdef0123456789abcdef"), "").0, 403);
    assert_eq!(request(&addr, "POST", "/rate", Some("wrong"), "2000").0, 403);
    let first = dump_dom(&format!("http://{addr}/"));
    wait_ms(1000);
    let second = dump_dom(&format!("http://{addr}/"));
    let (code, err) = run.wait();
    assert_eq!(code, 0, "{err}");
    for dom in [&first, &second] {
        assert!(dom.contains("id=\"blast-report\"") && dom.contains("<svg class=\"chart\""), "{dom}");
        assert!(dom.contains("Latency per second (corrected)") && dom.contains("Latency per second (uncorrected)"));
        assert!(dom.contains("class=\"cell\""), "the heatmap has cells");
        assert!(!dom.contains(&token), "a GET page shows the token");
        assert!(!dom.contains("web-secret-token"), "a GET page shows a header's secret");
    }
    let (a, b) = (last_seconds(&first), last_seconds(&second));
    assert!(b[0].0 > a[0].0, "the figures changed between two looks: {a:?} then {b:?}");
    // Every second either look showed is the JSON report's second: the same requests sent.
    let report = read_json(&json);
    let timeline = report["timeline"].as_array().expect("timeline");
    for (second, target, achieved) in a.iter().chain(&b) {
        let row = &timeline[*second as usize - 1];
        assert_eq!(row["second"].as_u64(), Some(*second));
        assert_eq!(row["sent"].as_f64(), Some(*achieved), "second {second}: page {achieved}, JSON {row}");
        assert!((target - 800.0).abs() <= 1.0, "second {second}: target {target}");
    }
    assert_eq!(report["interrupted"], false, "refused controls stopped nothing");
}

#[test]
fn stop_from_the_page_ends_the_run_with_the_label() {
    // Shared: a stop asked for and counted; "early" is 15 s of 30 s.
    let _g = light();
    let server = Server::start(&[]);
    let dir = ReportDir::new("web-stop");
    let json = dir.path("run.json");
    let started = Instant::now();
    let run = Running::start(&[
        "api",
        "--target",
        &server.url(),
        "--rate",
        "500",
        "--duration",
        "30s",
        "--cores",
        "1",
        "--conns",
        "10",
        "--web",
        ":0",
        "--json",
        &json,
    ]);
    let (addr, token) = run.page();
    until_second(&addr, 2);
    let (code, body) = request(&addr, "POST", "/stop", Some(&token), "");
    assert_eq!(code, 200, "{body}");
    let (code, err) = run.wait();
    assert_eq!(code, 1, "exit as for Ctrl-C: {err}");
    assert!(started.elapsed() < Duration::from_secs(15), "the run ended early");
    assert!(err.contains("blast: stopped from the web page"), "{err}");
    let report = read_json(&json);
    assert_eq!(report["interrupted"], true);
    let warnings: Vec<&str> =
        report["warnings"].as_array().expect("warnings").iter().filter_map(|w| w.as_str()).collect();
    assert!(warnings.contains(&"stopped from the web page"), "{warnings:?}");
    let sent = f(&report, "/requests/sent");
    assert!((500.0..5000.0).contains(&sent), "sent {sent}");
}

#[test]
fn set_rate_changes_the_achieved_rate_within_two_seconds() {
    // Exclusive: the rate achieved per second.
    let _g = exclusive();
    let server = Server::start(&[]);
    let dir = ReportDir::new("web-rate");
    let json = dir.path("run.json");
    let run = Running::start(&[
        "api",
        "--target",
        &server.url(),
        "--rate",
        "500",
        "--duration",
        "9s",
        "--cores",
        "1",
        "--conns",
        "20",
        "--web",
        "127.0.0.1:0",
        "--json",
        &json,
    ]);
    let (addr, token) = run.page();
    until_second(&addr, 2);
    // Refused, each with its reason, and nothing changes: zero, not a rate, above --max-rate
    // (10 times the start rate), no token.
    for (bad, why) in
        [("0", "greater than 0"), ("-5", "greater than 0"), ("fast", "not a rate"), ("6000", "--max-rate")]
    {
        let (code, body) = request(&addr, "POST", "/rate", Some(&token), bad);
        assert_eq!(code, 400, "{bad}: {body}");
        assert!(body.starts_with("refused:") && body.contains(why), "{bad}: {body}");
    }
    assert_eq!(request(&addr, "POST", "/rate", None, "1500").0, 403);
    // The newest second the page showed just before the ask: the run was at least that far.
    let (_, live) = request(&addr, "GET", "/live", None, "");
    let shown = last_seconds(&live)[0].0;
    let (code, body) = request(&addr, "POST", "/rate", Some(&token), "1500");
    assert_eq!(code, 200, "{body}");
    let from: u64 = body.trim().rsplit(' ').next().and_then(|s| s.parse().ok()).expect("from second N");
    let (code, err) = run.wait();
    assert_eq!(code, 0, "{err}");
    let report = read_json(&json);
    // The change is a stage of the plan: 500/s until `from`, 1500/s after.
    let stages = report["plan"]["stages"].as_str().expect("stages").to_string();
    assert_eq!(stages, format!("{from}s:500,{}s:1500", 9 - from), "{report}");
    let timeline = report["timeline"].as_array().expect("timeline");
    let sent = |second: u64| timeline[second as usize - 1]["sent"].as_f64().expect("sent");
    // Second `from + 1` (from..from+1 s) is the first at the new rate.
    // The new rate applies from the next whole second: the ask came before second
    // `shown + 2` ended, and the first second at the new rate ends at most 2 s after the ask.
    assert!((shown + 1..=shown + 2).contains(&from) && from < 9, "shown {shown}, {body}");
    for s in 1..from {
        assert!((sent(s) - 500.0).abs() <= 5.0, "second {s}: {}", sent(s));
    }
    for s in from + 1..=9 {
        assert!((sent(s) - 1500.0).abs() <= 15.0, "second {s}: {}", sent(s));
    }
}

/// Waits until the page's newest second is at least `n` (any workload: the headline's
/// "elapsed"), and returns the page.
fn page_at_second(addr: &str, n: u64) -> String {
    let until = Instant::now() + Duration::from_secs(20);
    while Instant::now() < until {
        let (_, page) = request(addr, "GET", "/", None, "");
        // The headline figure: `<b>3 s</b>elapsed`.
        let elapsed = page
            .split_once("</b>elapsed")
            .and_then(|(before, _)| before.rsplit("<b>").next())
            .and_then(|t| t.trim_end_matches(" s").parse::<u64>().ok());
        if elapsed.is_some_and(|e| e >= n) {
            return page;
        }
        wait_ms(100);
    }
    panic!("the page never showed second {n}");
}

/// The ws and upload pages draw their own latency (delivery, part) per second and its heatmap
/// from the live counters, show Stop and no rate box (a rate set is refused with the reason).
#[test]
fn ws_and_upload_pages_show_their_own_latency_and_no_rate_box() {
    // Shared: the pages' shape, read while the runs go on.
    let _g = shared();
    let server = Server::start(&["--s3-listen", "127.0.0.1:0"]);
    let ws_url = server.ws_url();
    let s3 = server.s3.clone().expect("s3 address");
    let ws = ws_probe_args(&ws_url, "20", "6s", "50", &["--web", "127.0.0.1:0"]);
    let upload = [
        "upload",
        "--target",
        &s3,
        "--size",
        "8M",
        "--part-size",
        "5M",
        "--parallel",
        "2",
        "--duration",
        "6s",
        "--web",
        "127.0.0.1:0",
    ];
    // The two runs at once (each against its own endpoint of the server, each page its own):
    // the test takes one run's time, not two.
    let look = |args: &[&str]| {
        let run = Running::start(args);
        let (addr, token) = run.page();
        let page = page_at_second(&addr, 3);
        let (status, why) = request(&addr, "POST", "/rate", Some(&token), "100");
        let (code, err) = run.wait();
        (page, status, why, code, err)
    };
    let (ws_look, upload_look) = at_once(|| look(&ws), || look(&upload));
    for ((page, status, why, code, err), label) in [(ws_look, "Delivery latency"), (upload_look, "Part latency")] {
        assert_eq!(code, 0, "{label}: {err}");
        assert!(page.contains(&format!("{label} per second")), "{label}: {page}");
        assert!(page.contains(&format!("{label} heatmap")) && page.contains("class=\"cell\""), "{label}: {page}");
        assert!(!page.contains("(uncorrected)"), "{label}: no second latency here");
        assert!(page.contains(r#"id="stop""#) && !page.contains(r#"id="set-rate""#), "{label}: {page}");
        assert_eq!(status, 400, "{label}: {why}");
        assert!(why.contains("no rate to set"), "{label}: {why}");
    }
}

#[test]
fn a_busy_or_bad_web_address_exits_2_before_the_run() {
    // The target is a listener of the test's own: no connection may reach it.
    let target = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    target.set_nonblocking(true).expect("nonblocking");
    let url = format!("http://{}/v1/messages", target.local_addr().expect("addr"));
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let busy = taken.local_addr().expect("addr").to_string();
    for addr in [busy.as_str(), "example.com:80", "127.0.0.1"] {
        let (code, err) = blast_plain(&["api", "--target", &url, "--rate", "100", "--duration", "1s", "--web", addr]);
        assert_eq!(code, 2, "{addr}: {err}");
        assert!(err.contains("--web") && err.trim().lines().count() == 1, "{addr}: {err}");
    }
    assert!(target.accept().is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock), "a connection was made");
}

/// The Prometheus server (`PROMETHEUS`, set by .ci/run, or `prometheus` on the PATH).
fn prometheus_bin() -> String {
    let bin = std::env::var("PROMETHEUS").unwrap_or_else(|_| "prometheus".into());
    assert!(
        Command::new(&bin).arg("--version").output().is_ok_and(|o| o.status.success()),
        "Prometheus is needed: apt-get install prometheus (.ci/run does), or set PROMETHEUS"
    );
    bin
}

/// The value of an instant PromQL query at `at` (Unix seconds).
fn promql(addr: &str, query: &str, at: f64) -> Option<f64> {
    let q: String = query
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let (code, body) = request(addr, "GET", &format!("/api/v1/query?query={q}&time={at:.3}"), None, "");
    assert_eq!(code, 200, "{query}: {body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{query}: {e}: {body}"));
    let value = v["data"]["result"][0]["value"][1].as_str()?;
    value.parse().ok()
}

/// The upper bounds blast's latency histograms use (seconds): which bucket `v` falls in.
fn bucket_of(v: f64) -> usize {
    const BUCKETS_S: [f64; 16] =
        [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
    BUCKETS_S.iter().position(|&b| v <= b + 1e-12).unwrap_or(BUCKETS_S.len())
}

/// `n` distinct free ports of 127.0.0.1 (all held until each is known, then let go).
fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<std::net::TcpListener> =
        (0..n).map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind")).collect();
    held.iter().map(|l| l.local_addr().expect("addr").port()).collect()
}

#[test]
fn prometheus_scrapes_two_shards_and_its_promql_matches_blast_merge() {
    // Exclusive: PromQL's rate mid-run within 2% of the merge's.
    let _g = exclusive();
    let prometheus = prometheus_bin();
    let server = Server::start(&[]);
    let dir = ReportDir::new("web-prom");
    // Prometheus first, scraping the shards' metrics addresses before they listen (a target
    // down until then), and ready before the shards' start time is set: the shards then need
    // only to start their processes before --start-at (1 to 2 s ahead, not 6 to 7 s that also
    // had to cover Prometheus's start), and every second of the run is scraped as before.
    let ports = free_ports(3);
    let targets: Vec<String> = ports[..2].iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let config = dir.path("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: blast\n    honor_timestamps: true\n    static_configs:\n      - targets: [{}]\n",
            targets.iter().map(|t| format!("'{t}'")).collect::<Vec<_>>().join(", ")
        ),
    )
    .expect("config");
    let prom_addr = format!("127.0.0.1:{}", ports[2]);
    let _prom = Killed(
        Command::new(&prometheus)
            .arg(format!("--config.file={config}"))
            .arg(format!("--storage.tsdb.path={}", dir.path("tsdb")))
            .arg(format!("--web.listen-address={prom_addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );
    // While Prometheus starts (a second or more), the shipped files are checked: the scrape
    // configuration is valid for this Prometheus.
    let promtool = std::path::Path::new(&prometheus).with_file_name("promtool");
    let promtool = if promtool.exists() { promtool.to_string_lossy().into_owned() } else { "promtool".into() };
    let k8s = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/k8s/");
    // Debian's Prometheus is built without Kubernetes discovery: the pods are put in as static
    // targets, everything else (the relabelling of the pods' annotations) checked as shipped.
    let scrape = std::fs::read_to_string(format!("{k8s}prometheus-scrape.yml")).expect("scrape config");
    let pods = "kubernetes_sd_configs:\n      - role: pod";
    assert!(scrape.contains(pods), "{scrape}");
    let checked = temp_path("prometheus-scrape.yml");
    std::fs::write(&checked, scrape.replace(pods, "static_configs:\n      - targets: ['10.0.0.1:9464']"))
        .expect("write");
    let check = Command::new(&promtool).arg("check").arg("config").arg(&checked).output().expect("run promtool");
    let _ = std::fs::remove_file(&checked);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
    // The Job's pods say where their metrics are, and serve them there.
    let job = std::fs::read_to_string(format!("{k8s}blast-shards.yaml")).expect("manifest");
    for line in
        ["prometheus.io/scrape: \"true\"", "prometheus.io/port: \"9464\"", "- 0.0.0.0:9464", "containerPort: 9464"]
    {
        assert!(job.contains(line), "blast-shards.yaml lacks {line}");
    }
    let monitor = std::fs::read_to_string(format!("{k8s}podmonitor.yaml")).expect("pod monitor");
    assert!(monitor.contains("kind: PodMonitor") && monitor.contains("port: metrics"), "{monitor}");
    let until = Instant::now() + Duration::from_secs(30);
    // (`request` panics on a refused connection: a probe first, while Prometheus starts)
    while std::net::TcpStream::connect(&prom_addr).is_err() || request(&prom_addr, "GET", "/-/ready", None, "").0 != 200
    {
        assert!(Instant::now() < until, "Prometheus was not ready on {prom_addr} within 30 s");
        wait_ms(50);
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs_f64();
    // 10 s: the rate is compared over seconds 4 to 9 (PromQL's 6 s window at second 9), the
    // p99 two seconds after the end, as with the 12 s this ran before; a shorter run changes
    // neither figure's window, and a whole-run p99 of 16,000 answers is as sure of its bucket.
    // The shards start within 0.1 s (blast's start-up, even on a busy machine): 1 s ahead is
    // enough, and rounding up to a whole second keeps the run on the second as before.
    let start_at = (now + 1.0).ceil();
    let start = start_at.to_string();
    let shards: Vec<(Running, String)> = targets
        .iter()
        .enumerate()
        .map(|(i, target)| {
            let json = dir.path(&format!("shard-{i}.json"));
            let shard = format!("{i}/2");
            let run = Running::start(&[
                "api",
                "--target",
                &server.url(),
                "--rate",
                "1600",
                "--duration",
                "10s",
                "--cores",
                "1",
                "--conns",
                "20",
                "--shard",
                &shard,
                "--start-at",
                &start,
                "--metrics-listen",
                target,
                "--json",
                &json,
            ]);
            (run, json)
        })
        .collect();
    for ((run, _), target) in shards.iter().zip(&targets) {
        let line = run.line_with("Prometheus metrics on http://");
        assert!(line.contains(&format!("http://{target}/")), "{target}: {line}");
    }
    let results: Vec<(i32, String)> = shards.into_iter().map(|(run, json)| (run.wait().0, json)).collect();
    // The shards have ended: Prometheus scrapes nothing more of them. Half a second lets a
    // scrape under way at their end be stored; the queries of later times (the p99's, two
    // seconds after the end) then read the last samples, as blast stamps each with the time
    // its figures were taken (no staleness marker follows a target that went away).
    wait_ms(500);
    for (code, _) in &results {
        assert_eq!(*code, 0);
    }
    let merged = dir.path("merged.json");
    let (code, err) = blast_plain(&["merge", &results[0].1, &results[1].1, "--json", &merged]);
    assert_eq!(code, 0, "{err}");
    let report = read_json(&merged);

    // The whole run's rate, the PromQL of the README: mid-run, over the shards' counters.
    let rate_q = "sum(rate(blast_requests_total[6s]))";
    let promql_rate = promql(&prom_addr, rate_q, start_at + 9.0).expect("a rate");
    let timeline = report["timeline"].as_array().expect("timeline");
    let completed: f64 = timeline[3..9].iter().map(|s| s["completed"].as_f64().expect("completed")).sum();
    let merged_rate = completed / 6.0;
    assert!((promql_rate - merged_rate).abs() <= 0.02 * merged_rate, "PromQL {promql_rate}/s, merge {merged_rate}/s");
    // The whole run's p99 from the summed buckets, against the merged histogram's.
    let p99_q = "histogram_quantile(0.99, sum by (le) (blast_latency_seconds_bucket))";
    let promql_p99 = promql(&prom_addr, p99_q, start_at + 12.0).expect("a p99");
    let merged_p99 = f(&report, "/latency_ms/p99") / 1000.0;
    let (a, b) = (bucket_of(promql_p99), bucket_of(merged_p99));
    assert!(a.abs_diff(b) <= 1, "PromQL p99 {promql_p99} s (bucket {a}), merge {merged_p99} s (bucket {b})");
    // Every query of the shipped Grafana dashboard is valid PromQL for this Prometheus, and
    // finds data (failures aside: this run had none).
    let dash: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{k8s}grafana-dashboard.json")).expect("dashboard"))
            .expect("dashboard JSON");
    for panel in dash["panels"].as_array().expect("panels") {
        for t in panel["targets"].as_array().expect("targets") {
            let expr = t["expr"].as_str().expect("expr").replace("$__rate_interval", "6s");
            let v = promql(&prom_addr, &expr, start_at + 9.0);
            let needs_data = !expr.contains("failures");
            assert!(!needs_data || v.is_some_and(|v| v.is_finite()), "{}: {expr} gave nothing", panel["title"]);
        }
    }
}

/// A child process (Prometheus) killed when the test ends, whether it passed or not.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
