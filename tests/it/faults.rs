//! Fault suite: blast against targets that misbehave in one known way each. For every fault:
//! no panic, no hang (the run ends within its duration plus timeout plus slack), the failures
//! are counted under the right kind, the report is written, and the exit code says the run was
//! not clean.

use crate::common::*;
use std::time::{Duration, Instant};

/// Runs 2 s at 200 req/s with a 1 s timeout against `blast serve --misbehave kind`.
fn against(kind: &str) -> (Run, Duration) {
    let server = Server::start(&["--misbehave", kind]);
    let started = Instant::now();
    let r = blast(&[
        "api",
        "--rate",
        "200",
        "--duration",
        "2s",
        "--timeout",
        "1s",
        "--conns",
        "4",
        "--target",
        &server.url(),
    ]);
    (r, started.elapsed())
}

fn check(kind: &str, expected_error: &str) {
    // Shared: exact counts at 200/s; "ended" is 6 s for a 2 s run with a 1 s timeout.
    let _g = moderate();
    let (r, took) = against(kind);
    assert_eq!(r.code, 1, "{kind}: {}{}", r.stdout, r.stderr);
    assert!(!r.stderr.contains("panicked"), "{kind}: {}", r.stderr);
    // 2 s of schedule + 1 s timeout + 1 s grace + process start: well under 6 s.
    assert!(took < Duration::from_secs(6), "{kind}: took {took:?}");
    let j = r.json.unwrap_or_else(|| panic!("{kind}: no report\n{}", r.stdout));
    assert_eq!(f(&j, "/requests/ok"), 0.0, "{kind}");
    assert_eq!(f(&j, "/requests/failed"), 400.0, "{kind}: every scheduled request is a failure\n{}", r.stdout);
    let counted = j["errors"][expected_error].as_f64().unwrap_or(0.0);
    assert!(counted > 0.0, "{kind}: expected errors of kind {expected_error}\n{}", r.stdout);
}

#[test]
fn garbage_bytes_are_malformed_responses() {
    check("garbage", "malformed_response");
}

#[test]
fn truncated_bodies_are_counted_as_closed() {
    check("truncated", "closed");
}

#[test]
fn huge_headers_are_rejected_not_buffered() {
    check("huge-headers", "malformed_response");
}

#[test]
fn byte_by_byte_answers_slower_than_the_timeout_time_out() {
    check("slow", "timeout");
}

#[test]
fn connection_resets_before_an_answer_are_closed_before_response() {
    check("reset", "closed_before_response");
}

#[test]
fn closed_connections_without_answer_are_closed_before_response() {
    check("close", "closed_before_response");
}

#[test]
fn a_silent_target_times_out() {
    check("silent", "timeout");
}

#[test]
fn sigterm_stops_a_ws_run_and_writes_the_report() {
    // Shared: exact counts; "stopped" is 5 s after the signal.
    let _g = light();
    let server = Server::start(&[]);
    let json = temp_path("ws-sigterm.json");
    let target = format!("ws://{}/ws", server.addr);
    let child =
        spawn_blast(&["ws", "--conns", "100", "--duration", "60s", "--probe-rate", "10/s", "--target", &target], &json);
    wait_ms(2000);
    let signalled = Instant::now();
    // SAFETY: signalling a child we own.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let r = finish(child.wait_with_output().expect("wait"), &json);
    assert!(signalled.elapsed() < Duration::from_secs(5), "stopped {:?} after SIGTERM", signalled.elapsed());
    assert_eq!(r.code, 1, "{}", r.stderr);
    let j = r.json.expect("report written after SIGTERM");
    assert_eq!(j["interrupted"], true);
    assert_eq!(f(&j, "/connections/established"), 100.0);
    assert!(f(&j, "/probes/delivered") > 0.0);
}

#[test]
fn secrets_never_reach_reports_or_output() {
    // Shared: text of the outputs at low rates.
    let _g = light();
    let server = Server::start(&["--s3-listen", "127.0.0.1:0"]);
    let secret = "s3cr3t-t0ken-value";
    let html = temp_path("secret.html");
    let csv = temp_path("secret");
    let html_s = html.to_string_lossy().to_string();
    let csv_s = csv.to_string_lossy().to_string();
    let auth = format!("Authorization: Bearer {secret}");
    let api = blast(&[
        "api",
        "--rate",
        "50",
        "--duration",
        "1s",
        "-H",
        &auth,
        "--target",
        &server.url(),
        "--html",
        &html_s,
        "--csv",
        &csv_s,
    ]);
    let ws_target = format!("ws://{}/ws", server.addr);
    let ws = blast(&["ws", "--conns", "5", "--duration", "1s", "--token", secret, "--target", &ws_target]);
    let s3 = server.s3.clone().expect("s3");
    let up = blast(&[
        "upload",
        "--target",
        &s3,
        "--size",
        "5M",
        "--parallel",
        "1",
        "--access-key",
        "minioadmin",
        "--secret-key",
        secret,
    ]);
    for r in [&api, &ws, &up] {
        let all = format!("{}{}{}", r.stdout, r.stderr, r.json.as_ref().map(|j| j.to_string()).unwrap_or_default());
        assert!(!all.contains(secret), "secret leaked: {all}");
    }
    let mut files = vec![html.clone()];
    files.extend(
        ["_stats.csv", "_stats_history.csv", "_failures.csv"]
            .iter()
            .map(|s| std::path::PathBuf::from(format!("{csv_s}{s}"))),
    );
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(!text.contains(secret), "secret in {}", path.display());
        let _ = std::fs::remove_file(&path);
    }
}
