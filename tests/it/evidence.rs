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
    let _g = moderate();
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
    sigint_against_a_silent_target("");
}

/// The same on the batched ring (`--io ring`): a target that stalls every request.
#[test]
fn sigint_against_a_silent_target_on_the_ring() {
    require_uring();
    sigint_against_a_silent_target("ring");
}

fn sigint_against_a_silent_target(io: &str) {
    // Shared: exact counts: 20 connections, a silent target.
    let _g = light();
    let server = Server::start(&["--misbehave", "silent"]);
    let json_path = temp_path("silent.json");
    let target = format!("http://{}/v1/messages", server.addr);
    let args = ["api", "--target", &target, "--rate", "100", "--duration", "30s", "--conns", "20", "--timeout", "10s"];
    let child = spawn_blast(&on_io(io, &args), &json_path);
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
    if !io.is_empty() {
        assert_eq!(io_name(&j), io);
    }
    assert!(r.stdout.contains("requests  "), "{}", r.stdout);
}

#[test]
fn a_target_that_dies_mid_run_leaves_nothing_unaccounted() {
    target_dies_mid_run("");
}

/// The same on the batched ring (`--io ring`): the report is written, every request accounted.
#[test]
fn a_target_that_dies_mid_run_on_the_ring_leaves_nothing_unaccounted() {
    require_uring();
    target_dies_mid_run("ring");
}

fn target_dies_mid_run(io: &str) {
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
    let child = spawn_blast(&on_io(io, &args), &json_path);
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
    if !io.is_empty() {
        assert_eq!(io_name(&j), io);
    }
}

#[test]
fn throughput_divides_by_the_span_the_responses_arrived_over() {
    // Shared: exact counts at 40/s; the span's 1.8 s within (1.6, 3.0) s, which no load shortens.
    let _g = light();
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
    let _g = light();
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
    let _g = light();
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

/// Every HTTP exchange is a login, so the server's own count is the exchanges': one per user
/// (`on_start`), two repeats and one more step per flow, one per lone request.
const TWO_UNITS: &str = r#"workload = "api"
[args]
target = "TARGET"
rate = 20
duration = "2s"
conns = 4

[[on_start]]
name = "login once"
method = "POST"
path = "/auth/login"
body = '{"username":"carol","password":"pw"}'
capture = { token = "/access_token" }

[[request]]
name = "login alone"
weight = 1
method = "POST"
path = "/auth/login"
body = '{"username":"dave","password":"pw"}'

[[flow]]
name = "three logins"
weight = 1
steps = [
  { name = "login twice", method = "POST", path = "/auth/login", body = '{"username":"erin","password":"pw"}', repeat = 2 },
  { name = "login again", method = "POST", path = "/auth/login", body = '{"username":"frank","password":"pw"}' },
]
"#;

/// A flow scenario reports iterations and HTTP exchanges apart, each labelled: the exchanges
/// are every response the server gave (on_start, each step, each repeat), the iterations the
/// requests and flows the schedule paced; the names' counts add up to the totals in text,
/// JSON and CSV.
#[test]
fn a_flow_scenario_counts_iterations_and_http_exchanges_apart() {
    // Shared: exact counts judged against the server.
    let _g = light();
    let server = Server::start(&[]);
    let dir = ReportDir::new("evidence-units");
    let file = dir.path("units.toml");
    std::fs::write(&file, TWO_UNITS.replace("TARGET", &format!("http://{}", server.addr))).expect("write");
    let prefix = dir.path("units");
    let r = blast(&["run", &file, "--csv", &prefix]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json.expect("json");
    let logins = server.json("GET", "/stats/logins", None)["total"].as_f64().expect("total");
    assert_eq!(j["unit"], "iteration", "{}", r.stdout);
    let x = &j["exchanges"];
    assert_eq!(f(x, "/completed"), logins, "every response the server gave is an exchange: {}", r.stdout);
    assert_eq!(f(x, "/status_codes/200"), logins, "{}", r.stdout);
    // 40 iterations: 20 lone requests and 20 flows of 3 logins, and one login per user.
    assert_eq!(f(&j, "/requests/sent"), 40.0, "{}", r.stdout);
    let names = j["names"].as_array().expect("names");
    let name = |n: &str| names.iter().find(|x| x["name"] == n).unwrap_or_else(|| panic!("no {n}: {}", r.stdout));
    let on_start = f(name("login once"), "/requests/completed");
    assert!(on_start >= 1.0, "{}", r.stdout);
    assert_eq!(logins, on_start + 20.0 + 20.0 * 3.0, "{}", r.stdout);
    // The names that are HTTP requests add up to the exchanges; the flow's to its iterations.
    let steps: f64 = names.iter().filter(|n| n["type"] != "flow").map(|n| f(n, "/requests/completed")).sum();
    assert_eq!(steps, logins, "{}", r.stdout);
    // Text: both units, labelled, and the status line counts every HTTP response.
    let line = |key: &str| r.stdout.lines().find(|l| l.trim_start().starts_with(key)).unwrap_or_default().to_string();
    assert!(line("iterations").contains("40 sent"), "{}", r.stdout);
    assert!(line("exchanges").contains(&format!("{logins} responses")), "{}", r.stdout);
    assert!(line("status").contains(&format!("HTTP responses: 200: {logins}")), "{}", r.stdout);
    assert!(line("rate").contains("iterations/s") && line("rate").contains("HTTP responses/s"), "{}", r.stdout);
    assert!(
        line("blast cpu").contains("us/iteration") && line("blast cpu").contains("us/HTTP exchange"),
        "{}",
        r.stdout
    );
    // CSV: the Aggregated row counts the exchanges, each HTTP row's requests add up to it.
    let csv = std::fs::read_to_string(format!("{prefix}_stats.csv")).expect("stats csv");
    let rows: Vec<Vec<&str>> = csv.lines().skip(1).map(|l| l.split(',').collect()).collect();
    let count = |r: &[&str]| r[2].parse::<f64>().expect("count");
    let agg = rows.iter().find(|r| r[1] == "Aggregated").expect("Aggregated");
    assert_eq!(count(agg), logins, "{csv}");
    let http: f64 = rows.iter().filter(|r| r[0] != "flow" && r[1] != "Aggregated").map(|r| count(r)).sum();
    assert_eq!(http, logins, "{csv}");
}

/// A flow that outlasts the schedule: each step's rate is over the span that step ran, not the
/// planned duration, and the run's last second ends with its last answer.
#[test]
fn each_names_rate_is_over_the_span_it_ran() {
    // Shared: the span has a lower bound only, which no load shortens.
    let _g = light();
    let server = Server::start(&["--delay", "100ms"]);
    let dir = ReportDir::new("evidence-spans");
    let file = dir.path("spans.toml");
    let text = format!(
        "workload = \"api\"\n[args]\ntarget = \"http://{}\"\nrate = 4\nduration = \"1s\"\nconns = 8\n\n\
         [[flow]]\nname = \"slow posts\"\nsteps = [\n  {{ name = \"post\", method = \"POST\", path = \"/v1/messages\", \
         body = '{{\"conversation_id\":\"c\",\"content\":\"x\"}}', repeat = 10 }},\n]\n",
        server.addr
    );
    std::fs::write(&file, text).expect("write");
    let prefix = dir.path("spans");
    let r = blast(&["run", &file, "--csv", &prefix]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json.expect("json");
    let post = j["names"].as_array().expect("names").iter().find(|n| n["name"] == "post").expect("post").clone();
    // 4 flows of 10 posts of 100 ms each, started over the first second: they end near 2 s.
    assert_eq!(f(&post, "/requests/completed"), 40.0, "{}", r.stdout);
    let (span, response_s) = (f(&post, "/span_s"), f(&j, "/response_s"));
    assert!(span > 1.5 && (span - response_s).abs() < 1e-6, "post ran {span} s, the run's answers {response_s} s");
    assert!((f(&post, "/rate_per_s") - 40.0 / span).abs() < 1e-6, "{post}");
    // The CSV's Requests/s is the same rate, not 40 over the planned second.
    let csv = std::fs::read_to_string(format!("{prefix}_stats.csv")).expect("stats csv");
    let row: Vec<&str> = csv.lines().find(|l| l.split(',').nth(1) == Some("post")).expect("row").split(',').collect();
    let rate: f64 = row[9].parse().expect("Requests/s");
    assert!((rate - 40.0 / span).abs() < 1e-6, "{csv}");
}

/// Every user logs in first (on_start, answered after 60 ms): the iterations that waited for
/// it report a user wait, their send lag leaves it out, and no connection is blamed.
#[test]
fn a_users_wait_for_its_login_is_not_send_lag() {
    // Exclusive: the wait and the send lag are timings.
    let _g = exclusive();
    let server = Server::start(&["--delay", "60ms"]);
    let dir = ReportDir::new("evidence-wait");
    let file = dir.path("wait.toml");
    let text = format!(
        "workload = \"api\"\n[args]\ntarget = \"http://{}\"\nrate = 50\nduration = \"2s\"\nconns = 30\n\n\
         [[on_start]]\nname = \"slow login\"\nmethod = \"POST\"\npath = \"/v1/messages\"\n\
         body = '{{\"conversation_id\":\"c\",\"content\":\"x\"}}'\ncapture = {{ token = \"/status\" }}\n\n\
         [[request]]\nname = \"GET /health\"\nmethod = \"GET\"\npath = \"/health\"\n",
        server.addr
    );
    std::fs::write(&file, text).expect("write");
    let r = blast(&["run", &file]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json.expect("json");
    let logins = f(&j["names"][0], "/requests/completed");
    assert!(logins >= 1.0, "{}", r.stdout);
    let waited = &j["user_wait"];
    assert!(f(waited, "/iterations") >= logins, "every user's first iteration waited: {}", r.stdout);
    assert!(f(waited, "/mean_ms") >= 30.0, "the wait is the login's 60 ms: {}", r.stdout);
    // Without the user's wait the iterations left at once: their send lag is far below the login.
    assert!(f(&j, "/send_lag_ms/max") < 30.0, "{}", r.stdout);
    assert!(r.stdout.lines().any(|l| l.trim_start().starts_with("user wait")), "{}", r.stdout);
    assert!(!r.stdout.contains("connections were busy"), "{}", r.stdout);
}

/// A warm-up at its own rate: planned and achieved, apart from the measured figures.
#[test]
fn warmup_is_reported_at_its_own_rate() {
    // Exclusive: rates achieved in the warm-up and after.
    let _g = exclusive();
    let server = Server::start(&[]);
    let args = ["api", "--target", &server.url(), "--rate", "200", "--duration", "1s", "--warmup", "1s"];
    // The run with its report and the run with its progress lines (not quiet) at once: 400/s
    // in all, a few percent of a core, in one run's time.
    let (r, out) =
        at_once(|| blast(&args), || std::process::Command::new(BLAST).args(args).output().expect("run blast"));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json.expect("json");
    let w = &j["warmup"];
    assert_eq!(f(w, "/planned"), 200.0, "{}", r.stdout);
    assert_eq!(f(w, "/sent"), 200.0, "{}", r.stdout);
    assert!((f(w, "/achieved_rate") - 200.0).abs() < 1e-9, "{w}");
    // The measured window is the second after it, alone.
    assert_eq!(f(&j, "/requests/scheduled"), 200.0, "{}", r.stdout);
    let line = r.stdout.lines().find(|l| l.trim_start().starts_with("warm-up")).expect("warm-up line");
    assert!(line.contains("200 sent of 200 planned") && line.contains("100.00% of its schedule"), "{line}");
    // The progress line (not quiet) shows the warm-up's own sending, not 0.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warm = stderr.lines().find(|l| l.contains("(warm-up)")).expect("a warm-up progress line");
    assert!(
        warm.contains("rate 200/200 req/s") || warm.contains("rate 199/200") || warm.contains("rate 201/200"),
        "{stderr}"
    );
}
