//! No green run without evidence (issue 23): every open-loop run's counts reconcile
//! (scheduled = sent + dropped + not sent; sent = completed + failed without response + in
//! flight at the end), checked against what `blast serve` itself counted, on the paths that
//! lose results: a normal run, SIGINT against a silent target, a target that dies mid-run.
//! Throughput divides by the span the responses arrived over; a capture miss is a completed
//! response that failed; the hdr-log's intervals are the run's seconds, the last one as long as
//! it really was.

use crate::common::*;

const LOGIN_BODY: &str = r#"{"username":"alice","password":"pw"}"#;

fn accounts(j: &serde_json::Value) -> &serde_json::Value {
    let a = &j["accounts"];
    assert!(a.is_object(), "no accounts in the report: {j}");
    a
}

/// The run's accounts hold, and their parts are what the identities say.
fn assert_adds_up(j: &serde_json::Value, stdout: &str) {
    let a = accounts(j);
    assert_eq!(a["broken"], serde_json::json!([]), "{stdout}");
    let n = |k: &str| f(a, &format!("/{k}"));
    assert_eq!(n("scheduled"), n("sent") + n("dropped") + n("not_sent"), "{a}");
    assert_eq!(n("sent"), n("completed") + n("failed_without_response") + n("in_flight_at_end"), "{a}");
    assert!(stdout.contains("adds up"), "{stdout}");
}

#[test]
fn accounts_add_up_and_match_what_the_server_counted() {
    // Shared: exact counts at 200/s against the server.
    let _g = shared();
    let server = Server::start(&[]);
    let dir = ReportDir::new("evidence-csv");
    let prefix = dir.path("run");
    let target = format!("http://{}/auth/login", server.addr);
    let r = blast(&[
        "api",
        "--target",
        &target,
        "--method",
        "POST",
        "--body-template",
        LOGIN_BODY,
        "--rate",
        "200",
        "--duration",
        "2s",
        "--conns",
        "8",
        "--csv",
        &prefix,
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json.expect("json");
    assert_adds_up(&j, &r.stdout);
    let a = accounts(&j);
    // The server counted every login blast says completed; the schedule is 400 in 2 s.
    let logins = server.json("GET", "/stats/logins", None)["total"].as_f64().expect("total");
    assert_eq!(f(a, "/completed"), logins, "{}", r.stdout);
    assert_eq!(f(a, "/scheduled"), 400.0, "{}", r.stdout);
    assert_eq!(f(&j, "/requests/scheduled"), 400.0);
    // The CSV's Aggregated row carries the same accounts in its last columns.
    let csv = std::fs::read_to_string(format!("{prefix}_stats.csv")).expect("stats csv");
    let header: Vec<&str> = csv.lines().next().expect("header").split(',').collect();
    let agg: Vec<&str> = csv.lines().find(|l| l.contains("Aggregated")).expect("aggregated").split(',').collect();
    let col = |name: &str| agg[header.iter().position(|h| *h == name).expect(name)];
    assert_eq!(col("Sent").parse::<f64>().expect("sent"), f(a, "/sent"));
    assert_eq!(col("Completed").parse::<f64>().expect("completed"), logins);
    assert_eq!(col("Accounts Hold"), "true");
}

#[test]
fn sigint_against_a_silent_target_counts_each_request_written_as_in_flight() {
    // Shared: exact counts: 20 connections, a silent target.
    let _g = shared();
    let server = Server::start(&["--misbehave", "silent"]);
    let json_path = temp_path("silent.json");
    let target = format!("http://{}/v1/messages", server.addr);
    let args = ["api", "--target", &target, "--rate", "100", "--duration", "30s", "--conns", "20", "--timeout", "10s"];
    let child = spawn_blast(&args, &json_path);
    wait_ms(2000);
    // SAFETY: sending a signal to a child we own.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let r = finish(child.wait_with_output().expect("wait"), &json_path);
    assert_eq!(r.code, 1, "interrupted: {}", r.stderr);
    let j = r.json.expect("report written after SIGINT");
    assert_adds_up(&j, &r.stdout);
    let a = accounts(&j);
    // The target reads each request and never answers: each of the 20 connections wrote one
    // request, which was still in flight at the end; the rest waited for a connection.
    assert_eq!(f(a, "/sent"), 20.0, "{}", r.stdout);
    assert_eq!(f(a, "/in_flight_at_end"), 20.0, "{}", r.stdout);
    assert_eq!(f(a, "/completed"), 0.0);
    assert!(f(a, "/not_sent") > 50.0, "{}", r.stdout);
    assert_eq!(f(&j, "/requests/sent"), 20.0, "the headline's sent is what was written");
    assert!(r.stdout.contains("requests  "), "{}", r.stdout);
}

#[test]
fn a_target_that_dies_mid_run_leaves_nothing_unaccounted() {
    // Exclusive: at most 20 answers between reading the count and the kill.
    let _g = exclusive();
    let mut server = Server::start(&[]);
    let json_path = temp_path("dies.json");
    let target = format!("http://{}/auth/login", server.addr);
    let args = [
        "api",
        "--target",
        &target,
        "--method",
        "POST",
        "--body-template",
        LOGIN_BODY,
        "--rate",
        "200",
        "--duration",
        "3s",
    ];
    let child = spawn_blast(&args, &json_path);
    wait_ms(1000);
    let logins = server.json("GET", "/stats/logins", None)["total"].as_f64().expect("total");
    server.kill();
    let r = finish(child.wait_with_output().expect("wait"), &json_path);
    assert_eq!(r.code, 1, "requests failed: {}", r.stdout);
    let j = r.json.expect("report");
    assert_adds_up(&j, &r.stdout);
    let a = accounts(&j);
    // After the kill nothing could connect: those requests were never sent.
    assert!(f(a, "/not_sent") > 100.0, "{}", r.stdout);
    // Everything answered was answered before the kill (and the server counted it then, give or
    // take the few answered between reading its count and killing it).
    let completed = f(a, "/completed");
    assert!(completed >= logins && completed <= logins + 20.0, "completed {completed}, server {logins}");
    assert_eq!(f(a, "/scheduled"), 600.0, "{}", r.stdout);
}

#[test]
fn throughput_divides_by_the_span_the_responses_arrived_over() {
    // Shared: exact counts at 40/s; the span's 1.8 s within (1.6, 3.0) s, which no load shortens.
    let _g = shared();
    let server = Server::start(&["--delay", "800ms"]);
    let r = blast(&["api", "--target", &server.url(), "--rate", "40", "--duration", "1s", "--conns", "60"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json.expect("json");
    assert_adds_up(&j, &r.stdout);
    // Sent over 1 s, each answered 0.8 s later: the last answer came at about 1.8 s.
    let (completed, span) = (f(&j, "/requests/completed"), f(&j, "/response_s"));
    assert_eq!(completed, 40.0);
    assert!(span > 1.6 && span < 3.0, "response span {span}");
    let rps = f(&j, "/throughput_rps");
    assert!((rps - completed / span).abs() < 1e-6, "throughput {rps} over {span}");
    assert!(rps < 30.0, "throughput {rps} is not over the planned 1 s");
}

const CAPTURE_MISS: &str = r#"
workload = "api"

[args]
target = "TARGET"
rate = 20
duration = "1s"
cores = 1
conns = 4

[[flow]]
name = "login, then health"
steps = [
  { name = "POST /auth/login", method = "POST", path = "/auth/login", body = '{"username":"bob","password":"pw"}', capture = { token = "/no_such_field" } },
  { name = "GET /health", method = "GET", path = "/health", headers = { Authorization = "Bearer {{token}}" } },
]
"#;

#[test]
fn a_capture_miss_is_a_completed_response_that_failed() {
    // Shared: exact counts at 20/s.
    let _g = shared();
    let server = Server::start(&[]);
    let file = temp_path("capture-miss.toml");
    std::fs::write(&file, CAPTURE_MISS.replace("TARGET", &format!("http://{}", server.addr))).expect("write");
    let r = blast(&["run", file.to_str().expect("path")]);
    let _ = std::fs::remove_file(&file);
    assert_eq!(r.code, 1, "every iteration failed: {}{}", r.stdout, r.stderr);
    let j = r.json.expect("json");
    let logins = server.json("GET", "/stats/logins", None)["total"].as_f64().expect("total");
    assert_eq!(logins, 20.0, "{}", r.stdout);
    let names = j["names"].as_array().expect("names");
    let login = names.iter().find(|n| n["name"] == "POST /auth/login").expect("login row");
    // The server answered every login: each is a completed response, counted under its status,
    // that failed because the value the next step needs was missing.
    assert_eq!(f(login, "/requests/completed"), logins, "{}", r.stdout);
    assert_eq!(f(login, "/status_codes/200"), logins, "{}", r.stdout);
    assert_eq!(f(login, "/errors/capture_missing"), logins, "{}", r.stdout);
    assert_eq!(f(login, "/requests/failed"), logins, "{}", r.stdout);
    assert_eq!(login["accounts"]["broken"], serde_json::json!([]), "{}", r.stdout);
}

#[test]
fn failed_statuses_are_listed_as_errors() {
    // Shared: exact counts at 50/s.
    let _g = shared();
    let server = Server::start(&["--require-auth"]);
    let r = blast(&["api", "--target", &server.url(), "--rate", "50", "--duration", "1s"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let unauthorized = server.json("GET", "/stats/logins", None)["unauthorized"].as_f64().expect("unauthorized");
    assert_eq!(unauthorized, 50.0, "{}", r.stdout);
    let line = r.stdout.lines().find(|l| l.trim_start().starts_with("errors")).expect("errors line");
    assert!(line.contains("HTTP 401: 50"), "{line}");
}

#[test]
fn hdr_log_intervals_are_the_run_seconds_and_never_overlap() {
    // Exclusive: the last interval's length in (0.45, 0.9) s.
    let _g = exclusive();
    let server = Server::start(&[]);
    let dir = ReportDir::new("evidence-hdr");
    let log = dir.path("run.hlog");
    let r = blast(&["api", "--target", &server.url(), "--rate", "100", "--duration", "1500ms", "--hdr-log", &log]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let text = std::fs::read_to_string(&log).expect("hdr log");
    let spans: Vec<(f64, f64)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("Tag=latency,"))
        .map(|l| {
            let v: Vec<f64> = l.split(',').take(2).map(|x| x.parse().expect("number")).collect();
            (v[0], v[1])
        })
        .collect();
    assert_eq!(spans.len(), 2, "{text}");
    for w in spans.windows(2) {
        assert!(w[0].0 + w[0].1 <= w[1].0 + 1e-9, "overlap: {spans:?}");
    }
    // The last second is the half second the run had left (and the few ms its answers took).
    let (start, length) = spans[1];
    assert_eq!(start, 1.0);
    assert!(length > 0.45 && length < 0.9, "last interval {length} s: {spans:?}");
}
