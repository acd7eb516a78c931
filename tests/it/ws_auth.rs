//! `blast ws` against `blast serve --require-auth`: tokens in a header, in the query and from a
//! file (one per connection); probe requests authenticated too; secrets in no output; and the
//! diagnostics of runs that cannot measure (refused probes, every connection failing or dropped,
//! an interruption).

use crate::common::*;
use std::time::{Duration, Instant};

/// A token from the server's `POST /auth/login`.
fn login(server: &Server, user: &str) -> String {
    let v = server.json("POST", "/auth/login", Some(&format!(r#"{{"username":"{user}","password":"pw"}}"#)));
    v["access_token"].as_str().unwrap_or_else(|| panic!("no token in {v}")).to_string()
}

/// 20 connections in 2 rooms for 1 s, 10 probes a second.
fn ws_args<'a>(target: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = ws_probe_args(target, "20", "1s", "10/s", &["--rooms", "2"]);
    a.extend_from_slice(extra);
    a
}

/// Every connection and every probe got through: 10 probes over 2 rooms of 10.
fn assert_all_delivered(r: &Run) {
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json.as_ref().expect("report");
    assert_eq!(f(j, "/connections/established"), 20.0, "{}", r.stdout);
    assert_eq!(f(j, "/probes/failed_to_send"), 0.0, "{}", r.stdout);
    assert_eq!(f(j, "/probes/sent"), 10.0, "{}", r.stdout);
    assert_eq!(f(j, "/probes/delivered"), 100.0, "{}", r.stdout);
    assert_eq!(f(j, "/probes/expected_deliveries"), 100.0, "{}", r.stdout);
}

#[test]
fn token_in_the_header_authenticates_upgrades_and_probe_requests() {
    // Shared: exact counts against the server.
    let _g = light();
    let server = Server::start(&["--require-auth"]);
    let token = login(&server, "alice");
    let target = server.ws_url();
    assert_all_delivered(&blast(&ws_args(&target, &["--token", &token])));
}

#[test]
fn token_in_the_query_authenticates_upgrades() {
    // Shared: exact counts against the server.
    let _g = light();
    let server = Server::start(&["--require-auth"]);
    let token = login(&server, "bob");
    let target = server.ws_url();
    assert_all_delivered(&blast(&ws_args(&target, &["--token", &token, "--token-query", "token"])));
}

#[test]
fn tokens_from_a_file_one_per_connection_round_robin() {
    // Shared: exact counts against the server.
    let _g = light();
    let server = Server::start(&["--require-auth"]);
    let tokens: Vec<String> = (0..3).map(|i| login(&server, &format!("user{i}"))).collect();
    let file = temp_path("tokens.txt");
    std::fs::write(&file, format!("# one JWT per user\n{}\n\n", tokens.join("\n"))).expect("write tokens");
    let target = server.ws_url();
    let path = file.to_string_lossy().into_owned();
    // The subscribe template sees each connection's own token.
    let r = blast(&ws_args(
        &target,
        &[
            "--tokens",
            &path,
            "--token-query",
            "access_token",
            "--subscribe",
            r#"{"type":"subscribe","conversation_id":"{{room}}","conn":{{conn}},"auth":"{{token}}"}"#,
        ],
    ));
    assert_all_delivered(&r);
    for t in &tokens {
        assert!(!r.stdout.contains(t.as_str()), "token printed: {}", r.stdout);
    }
    let _ = std::fs::remove_file(file);
}

#[test]
fn without_a_token_every_connection_fails_at_once_with_the_reason() {
    // Shared: counts; "at once" is 8 s of 20 s.
    let _g = light();
    let server = Server::start(&["--require-auth"]);
    let target = server.ws_url();
    let started = Instant::now();
    let r = blast(&["ws", "--target", &target, "--conns", "10", "--duration", "20s", "--probe-rate", "5/s"]);
    assert!(started.elapsed() < Duration::from_secs(8), "ran {:?} of 20 s", started.elapsed());
    assert_eq!(r.code, 1, "{}", r.stdout);
    let j = r.json.expect("report written");
    assert_eq!(f(&j, "/connections/failed/http_401"), 10.0, "{}", r.stdout);
    let lines: Vec<&str> = r.stderr.lines().filter(|l| l.contains("every connection failed")).collect();
    assert_eq!(lines.len(), 1, "{}", r.stderr);
    assert!(lines[0].contains("http_401"), "{}", r.stderr);
    assert!(j["warnings"].to_string().contains("--token"), "{}", j["warnings"]);
}

#[test]
fn a_refused_port_stops_the_run_at_once() {
    // Shared: counts; "at once" is 8 s of 20 s.
    let _g = light();
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let target = format!("ws://127.0.0.1:{port}/ws");
    let started = Instant::now();
    let r = blast(&["ws", "--target", &target, "--conns", "10", "--duration", "20s"]);
    assert!(started.elapsed() < Duration::from_secs(8), "ran {:?} of 20 s", started.elapsed());
    assert_eq!(r.code, 1);
    assert!(r.json.is_some(), "report written");
    assert!(r.stderr.contains("every connection failed before the start (refused"), "{}", r.stderr);
    // The advice in the words `blast api` uses for the same failure.
    assert!(r.stderr.contains("is the server listening at --target?"), "{}", r.stderr);
}

#[test]
fn refused_probes_are_reported_by_status_with_advice_and_secrets_appear_nowhere() {
    // Shared: counts by status, text.
    let _g = light();
    let server = Server::start(&["--require-auth"]);
    let token = login(&server, "carol");
    // The token reaches the upgrade in the query; the probes carry a wrong credential header.
    let target = format!("ws://{}/ws?token={token}", server.addr);
    let wrong = "Authorization: Bearer wrong-secret-credential-42";
    let dir = ReportDir::new("secrets");
    let (json, html, hdr, csv) = (dir.path("r.json"), dir.path("r.html"), dir.path("r.hdr"), dir.path("r"));
    let outputs = ["--json", &json, "--html", &html, "--hdr-log", &hdr, "--csv", &csv];
    let output = std::process::Command::new(BLAST)
        .args(ws_probe_args(&target, "10", "1s", "10/s", &["--probe-header", wrong]))
        .args(outputs)
        .output()
        .expect("run blast");
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    let j = read_json(&json);
    assert_eq!(f(&j, "/connections/established"), 10.0, "{stdout}");
    assert_eq!(f(&j, "/probes/failed_by_reason/http_401"), 10.0, "{stdout}");
    assert!(stdout.contains("probe requests need auth: --probe-header"), "{stdout}");
    let mut files = vec![json.clone(), html.clone(), hdr.clone()];
    files.extend(["_stats.csv", "_stats_history.csv", "_failures.csv"].map(|s| format!("{csv}{s}")));
    let mut everything = format!("{stdout}\n{stderr}");
    for path in &files {
        everything.push_str(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}")));
    }
    for secret in [token.as_str(), "wrong-secret-credential-42"] {
        assert!(!everything.contains(secret), "secret {secret} printed");
    }
    assert!(everything.contains("token=[redacted]"), "the URL is shown, masked");
}

#[test]
fn every_connection_dropped_ends_the_run_early_with_a_warning() {
    // Shared: counts; "early" is 12 s of 30 s.
    let _g = light();
    let mut server = Server::start(&[]);
    let target = server.ws_url();
    let json_path = temp_path("dropped.json");
    let started = Instant::now();
    let child = spawn_blast(&ws_probe_args(&target, "20", "30s", "5/s", &[]), &json_path);
    wait_ms(2000);
    server.kill();
    let r = finish(child.wait_with_output().expect("wait"), &json_path);
    assert!(started.elapsed() < Duration::from_secs(12), "ran {:?} of 30 s", started.elapsed());
    assert_eq!(r.code, 1);
    let j = r.json.expect("report");
    assert_eq!(f(&j, "/connections/dropped"), 20.0, "{}", r.stdout);
    assert!(j["warnings"].to_string().contains("every connection was dropped"), "{}", j["warnings"]);
    assert!(j["warnings"].to_string().contains("--reconnect"), "{}", j["warnings"]);
}

#[test]
fn sigint_labels_the_run_interrupted_and_blames_no_cut_off_delivery_on_the_target() {
    // Shared: counts; deliveries 200 ms late keep some in flight.
    let _g = light();
    let server = Server::start(&["--broadcast-delay", "200ms"]);
    let target = server.ws_url();
    let dir = ReportDir::new("sigint");
    let (json, html, csv) = (dir.path("r.json"), dir.path("r.html"), dir.path("r"));
    // Probes every 50 ms and each delivered 200 ms late: several are in flight at the signal.
    let child = std::process::Command::new(BLAST)
        .args(ws_probe_args(&target, "50", "30s", "20/s", &[]))
        .args(["--quiet", "--json", &json, "--html", &html, "--csv", &csv])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    wait_ms(2500);
    // SAFETY: sending a signal to a child we own.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let output = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let j = read_json(&json);
    assert_eq!(j["interrupted"], true);
    assert!(f(&j, "/probes/delivered") > 0.0, "{stdout}");
    assert_eq!(f(&j, "/probes/missing"), 0.0, "{stdout}");
    assert!(f(&j, "/probes/cut_off_by_interruption") >= 1.0, "{stdout}");
    let warnings = j["warnings"].to_string();
    assert!(warnings.contains("interrupted"), "{warnings}");
    assert!(!warnings.contains("never arrived"), "{warnings}");
    assert!(stdout.lines().next().unwrap_or_default().contains("(interrupted)"), "{stdout}");
    let html = std::fs::read_to_string(&html).expect("html");
    assert!(html.contains("(interrupted)"), "HTML labelled");
    let failures = std::fs::read_to_string(format!("{csv}_failures.csv")).expect("csv");
    assert!(failures.contains("interrupted"), "{failures}");
}
