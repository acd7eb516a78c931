//! `blast api` against the real `blast serve`, started as a separate process by each test.
//! Assertions are on counts and rates from the report, never on wall-clock timings of the test.

use crate::common::*;

#[test]
fn rate_20000_for_10s_achieves_99_percent_with_no_errors() {
    // Exclusive: 20,000/s and the rate achieved.
    let _g = exclusive();
    let server = Server::start(&[]);
    let r = blast(&["api", "--rate", "20000", "--duration", "10s", "--target", &server.url()]);
    let j = r.json.expect("json report");
    assert_eq!(r.code, 0, "clean run exits 0: {}", r.stdout);
    assert_eq!(f(&j, "/requests/failed"), 0.0, "{}", r.stdout);
    let sent = f(&j, "/requests/sent");
    assert!(sent >= 0.99 * 200_000.0, "sent {sent}");
    assert!(f(&j, "/rate_ratio") >= 0.99, "{}", r.stdout);
    assert_eq!(f(&j, "/status_codes/202"), f(&j, "/requests/completed"));
    assert_eq!(f(&j, "/requests/completed"), sent);
}

#[test]
fn fixed_10ms_delay_is_reported_within_1_percent_plus_200us() {
    // Exclusive: latency tolerance of 0.3 ms.
    let _g = exclusive();
    let server = Server::start(&["--delay", "10ms"]);
    let r = blast(&["api", "--rate", "200", "--duration", "3s", "--conns", "20", "--target", &server.url()]);
    let j = r.json.expect("json report");
    assert_eq!(r.code, 0, "{}", r.stdout);
    // Judged against the hold the target really applied to each request (it measures it and
    // sends it back; on a busy machine its timer overshoots the 10 ms): blast's service time
    // and corrected latency beyond that hold are its error. Tolerance: 1% of 10 ms + 200 us.
    let completed = f(&j, "/requests/completed");
    for path in ["/beyond_target/service_ms", "/beyond_target/latency_ms"] {
        assert_eq!(f(&j, &format!("{path}/count")), completed, "every answer carried its hold\n{}", r.stdout);
        let p50 = f(&j, &format!("{path}/p50"));
        assert!((0.0..=0.3).contains(&p50), "{path}/p50 = {p50} ms beyond the target's hold\n{}", r.stdout);
    }
    // Nothing may be faster than the injected delay.
    assert!(f(&j, "/service_ms/min") >= 9.99, "{}", r.stdout);
}

#[test]
fn stalls_show_in_corrected_tail_but_not_in_uncorrected() {
    // Exclusive: latency p99 bounds.
    let _g = exclusive();
    // Every 2 s the target answers nothing for 500 ms. With 2 connections, about 100 requests
    // queue at blast during each stall: the corrected p99 must show hundreds of ms, while the
    // uncorrected p99 (service time) sees only the 2 stuck requests per stall (< 1%).
    let server = Server::start(&["--stall-every", "2s", "--stall-for", "500ms"]);
    let r = blast(&["api", "--rate", "200", "--duration", "5s", "--conns", "2", "--target", &server.url()]);
    let j = r.json.expect("json report");
    let corrected = f(&j, "/latency_ms/p99");
    let uncorrected = f(&j, "/service_ms/p99");
    assert!(corrected >= 300.0, "corrected p99 {corrected} ms\n{}", r.stdout);
    assert!(uncorrected < 50.0, "uncorrected p99 {uncorrected} ms\n{}", r.stdout);
    assert!(f(&j, "/latency_ms/max") <= 600.0, "no request waits longer than a stall plus slack\n{}", r.stdout);
    assert_eq!(f(&j, "/requests/failed"), 0.0);
}

#[test]
fn poisson_arrivals_average_to_the_rate() {
    // Exclusive: 5,000/s, sent within 3% of the schedule.
    let _g = exclusive();
    let server = Server::start(&[]);
    let r = blast(&["api", "--rate", "5000", "--duration", "4s", "--arrival", "poisson", "--target", &server.url()]);
    let j = r.json.expect("json report");
    let sent = f(&j, "/requests/sent");
    // 20000 expected; a Poisson count has sd ~141, so 3% is > 4 sd.
    assert!((sent - 20_000.0).abs() < 600.0, "sent {sent}");
    assert_eq!(f(&j, "/requests/failed"), 0.0);
}

#[test]
fn an_unreachable_target_stops_at_once_with_one_line_and_the_report() {
    // Shared: nothing to connect to; "at once" is 3 s of an 8 s run.
    let _g = light();
    // Bind then drop a listener to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let url = format!("http://127.0.0.1:{port}/v1/messages");
    let started = std::time::Instant::now();
    let r = blast(&["api", "--rate", "100", "--duration", "8s", "--conns", "4", "--target", &url]);
    assert!(started.elapsed() < std::time::Duration::from_secs(3), "took {:?}", started.elapsed());
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.stderr.trim().lines().count(), 1, "one line: {:?}", r.stderr);
    assert!(r.stderr.starts_with("blast: ") && r.stderr.contains("connection refused"), "{}", r.stderr);
    // The cause and the advice in the words `blast ws` uses for the same failure.
    assert!(r.stderr.contains("connection refused: is the server listening at --target?"), "{}", r.stderr);
    let j = r.json.expect("report is written even when nothing could connect");
    assert_eq!(f(&j, "/connections/failed_at_start"), 4.0, "{}", r.stdout);
    assert_eq!(f(&j, "/connections/opened"), 0.0);
    assert_eq!(f(&j, "/requests/sent"), 0.0);
    assert!(r.stdout.contains("could be opened before the start (connect_refused)"), "{}", r.stdout);
    // Nothing was measured: no latency table of zeros, and no figure that rests on a response.
    assert!(r.stdout.contains("no responses"), "{}", r.stdout);
    assert!(!r.stdout.contains("p99.9") && !r.stdout.contains("0.000"), "{}", r.stdout);
    assert_eq!(f(&j, "/latency_ms/count"), 0.0);
    assert_eq!(f(&j, "/metrics/p99/samples"), 0.0, "a p99 of 0 ms rests on no response");
}

#[test]
fn connections_the_server_closes_while_idle_are_replaced_without_errors() {
    // Shared: exact counts at 200/s; 3 s pauses against a 1 s idle close.
    let _g = light();
    // The target closes a keep-alive connection idle for 1 s; the run pauses 3 s between two
    // busy seconds, so every connection used after the pause was closed while idle.
    let server = Server::start(&["--keepalive-timeout", "1s"]);
    let r = blast(&["api", "--stages", "1s:200,3s:0,1s:200", "--conns", "4", "--target", &server.url()]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json.expect("report");
    assert_eq!(f(&j, "/requests/failed"), 0.0, "{}", r.stdout);
    assert_eq!(f(&j, "/requests/completed"), 400.0, "{}", r.stdout);
    let closed_idle = f(&j, "/connections/closed_idle");
    assert!(closed_idle >= 1.0, "closed while idle: {closed_idle}\n{}", r.stdout);
    assert!(f(&j, "/connections/reconnects") >= closed_idle, "{}", r.stdout);
    assert!(r.stdout.contains("closed by the target while idle"), "{}", r.stdout);
}

#[test]
fn a_request_cut_before_any_answer_is_retried_once_only_when_idempotent_and_asked() {
    // Shared: exact counts at 50/s.
    let _g = light();
    // This target reads each request and closes the connection without a byte of answer.
    let server = Server::start(&["--misbehave", "close"]);
    let run = |extra: &[&str]| {
        let mut args = vec!["api", "--rate", "50", "--duration", "1s", "--conns", "2", "--timeout", "1s"];
        args.extend_from_slice(extra);
        let url = server.url();
        args.extend_from_slice(&["--target", &url]);
        let r = blast(&args);
        assert_eq!(r.code, 1, "{extra:?}: {}{}", r.stdout, r.stderr);
        let j = r.json.expect("report");
        assert_eq!(f(&j, "/errors/closed_before_response"), 50.0, "{extra:?}: {}", r.stdout);
        f(&j, "/connections/retried")
    };
    // A POST is never sent twice, asked or not.
    assert_eq!(run(&["--retry-idempotent"]), 0.0);
    // A GET is sent again once on a fresh connection (closed again here) only when asked.
    assert_eq!(run(&["--method", "GET"]), 0.0);
    assert_eq!(run(&["--method", "GET", "--retry-idempotent"]), 50.0);
}

#[test]
fn target_killed_mid_run_ends_on_time_with_a_report() {
    // Exclusive: completed in a window set by a 1 s wall-clock wait.
    let _g = exclusive();
    let mut server = Server::start(&[]);
    let json_path = temp_path("killed.json");
    let child = spawn_blast(
        &["api", "--rate", "500", "--duration", "3s", "--timeout", "500ms", "--target", &server.url()],
        &json_path,
    );
    wait_ms(1000);
    server.kill();
    let r = finish(child.wait_with_output().expect("wait"), &json_path);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let j = r.json.expect("report");
    let completed = f(&j, "/requests/completed");
    assert!(completed > 300.0 && completed < 1200.0, "completed {completed}");
    let failed = f(&j, "/requests/failed");
    assert!(failed >= 500.0, "failed {failed}\n{}", r.stdout);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

#[test]
fn sigint_stops_the_run_and_writes_the_report() {
    // Exclusive: rate achieved within 5%.
    let _g = exclusive();
    let server = Server::start(&[]);
    let json_path = temp_path("sigint.json");
    let child = spawn_blast(&["api", "--rate", "1000", "--duration", "60s", "--target", &server.url()], &json_path);
    wait_ms(1500);
    // SAFETY: sending a signal to a child we own.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let r = finish(child.wait_with_output().expect("wait"), &json_path);
    assert_eq!(r.code, 1, "interrupted runs are not clean: {}", r.stderr);
    let j = r.json.expect("report written after SIGINT");
    assert_eq!(j["interrupted"], true);
    let measured = f(&j, "/measured_s");
    assert!(measured > 0.5 && measured < 10.0, "measured {measured}");
    // Achieved rate is computed over the measured part only.
    let ratio = f(&j, "/rate_ratio");
    assert!(ratio > 0.95 && ratio < 1.05, "rate ratio {ratio}");
    assert!(r.stdout.contains("interrupted"), "{}", r.stdout);
}

#[test]
fn demo_runs_against_its_embedded_target() {
    // Shared: exact count at 2,000/s for 1 s, the embedded target in-process.
    let _g = moderate();
    let r = blast(&["demo", "--rate", "2000", "--duration", "1s"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json.expect("json");
    assert_eq!(f(&j, "/requests/completed"), 2000.0);
    assert_eq!(j["workload"], "demo");
}

#[test]
fn a_bare_ipv6_host_is_refused_with_the_bracketed_form_and_a_bracketed_one_works() {
    // Shared: exact counts at 50/s.
    let _g = light();
    for (args, bracketed) in [
        (&["api", "--rate", "10", "--duration", "1s", "--target", "http://::1:8080/x"][..], "http://[::1]:8080/x"),
        (&["ws", "--duration", "1s", "--target", "ws://::1:8080/ws"][..], "ws://[::1]:8080/ws"),
    ] {
        let (code, stderr) = blast_plain(args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr:?}");
        assert!(stderr.contains(bracketed), "{args:?}: {stderr}");
    }
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("no ::1 on this machine: the bracketed IPv6 run is not tried");
        return;
    }
    let server = Server::start_on("[::1]:0", &[]);
    assert!(server.url().starts_with("http://[::1]:"), "{}", server.url());
    let r = blast(&["api", "--rate", "50", "--duration", "1s", "--target", &server.url()]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json.expect("report");
    assert_eq!(f(&j, "/requests/completed"), 50.0, "{}", r.stdout);
    assert_eq!(f(&j, "/requests/failed"), 0.0, "{}", r.stdout);
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let cases: &[&[&str]] = &[
        &["api", "--rate", "0"],
        &["api", "--rate", "-5"],
        &["api", "--rate", "100", "--duration", "10x"],
        &["api", "--rate", "100", "--target", "ftp://127.0.0.1/"],
        &["api", "--rate", "100", "--target", "ftp://127.0.0.1/"],
        &["api", "--rate", "100", "--target", "https://127.0.0.1:1/", "--ca-cert", "/nonexistent/ca.pem"],
        &["ws", "--target", "wss://127.0.0.1:1/ws", "--ca-cert", "/nonexistent/ca.pem"],
        &["api", "--rate", "1", "--cores", "2"],
        &["api", "--rate", "100", "--conns", "0"],
        &["api", "--rate", "100", "--body-template", "{{nope}}"],
        &["api", "--rate", "100", "-H", "Bad Header: secret-value"],
        &["api", "--rate", "100", "--body", "/nonexistent/file"],
        &["api", "--rate", "100", "--json", "/nonexistent/dir/x.json"],
        &["api"],
        &["api", "--rate", "100", "--bogus"],
        &["serve", "--stall-every", "1s", "--stall-for", "2s"],
        &["nope"],
        // Resources: more connections than the descriptor hard limit allows.
        &["api", "--rate", "100", "--conns", "50000000"],
        &["ws", "--conns", "50000000"],
        &["upload", "--parallel", "1000000", "--part-concurrency", "100"],
        // ws and upload flags.
        &["ws", "--target", "http://127.0.0.1:1/ws"],
        &["ws", "--conns", "10", "--rooms", "20"],
        &["ws", "--conns", "10", "--duration", "0s"],
        &["ws", "--probe-via", "ws", "--publish", "{\"no\":\"placeholders\"}"],
        &["upload", "--size", "0"],
        &["upload", "--part-size", "6G"],
        &["upload", "--target", "http://127.0.0.1:1/bucket/path"],
        &["api", "--stages", "10s:fast"],
        &["api", "--stages", "10s:100", "--rate", "100"],
        &["compare", "/nonexistent/a.json", "/nonexistent/b.json"],
    ];
    for args in cases {
        let (code, stderr) = blast_plain(args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: one line, got {stderr:?}");
        assert!(stderr.starts_with("blast: "), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked") && !stderr.contains("secret-value"), "{args:?}: {stderr}");
    }
    // Framing blast writes itself, and a proxy tunnel it does not open, each refused for its reason.
    let refused: &[(&[&str], &str)] = &[
        (&["api", "--rate", "100", "-H", "Transfer-Encoding: chunked"], "header 'Transfer-Encoding' is set by blast"),
        (&["api", "--rate", "100", "--method", "CONNECT"], "--method: CONNECT opens a proxy tunnel"),
        (&["ws", "--probe-method", "CONNECT"], "--probe-method: CONNECT opens a proxy tunnel"),
        (&["ws", "--probe-header", "Content-Length: 5"], "--probe-header Content-Length: set by blast"),
    ];
    for (args, says) in refused {
        let (code, stderr) = blast_plain(args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.starts_with("blast: ") && stderr.trim().lines().count() == 1, "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn stages_ramp_and_hold_follow_the_schedule() {
    // Exclusive: per-second counts within 1%.
    let _g = exclusive();
    let server = Server::start(&[]);
    // Ramp 0 -> 2000/s over 2 s (2,000 requests, 500 in the first second), then hold 1 s.
    let r = blast(&["api", "--stages", "2s:0->2000,1s:2000", "--target", &server.url()]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json.expect("report");
    assert_eq!(f(&j, "/requests/scheduled"), 4000.0);
    assert_eq!(f(&j, "/requests/completed"), 4000.0);
    let sent: Vec<f64> = j["timeline"].as_array().expect("timeline").iter().map(|s| f(s, "/sent")).collect();
    // Per second: 500, 1500, 2000 (±1% for the slot on a second's edge and timer jitter). A
    // request is counted in the second it completed: one due just before a second's end and
    // answered after it moves to the next, so the schedule is compared as delayed by blast's
    // measured corrected latency (at most 2000/s of requests are due in that window).
    let shift = (2000.0 * f(&j, "/latency_ms/max") / 1000.0).ceil();
    for (i, want) in [500.0, 1500.0, 2000.0].iter().enumerate() {
        let tolerance = want * 0.01 + 2.0 + shift;
        assert!((sent[i] - want).abs() <= tolerance, "second {}: sent {} want {want} ± {tolerance}", i + 1, sent[i]);
    }
    // Sending may end late by blast's send lag: the achieved share is judged over that time.
    let late = f(&j, "/send_lag_ms/max") / 1000.0;
    let (ratio, floor) = (f(&j, "/rate_ratio"), 0.99 * 3.0 / (3.0 + late));
    assert!((floor..1.01).contains(&ratio), "rate ratio {ratio}, want [{floor}, 1.01)\n{}", r.stdout);
}
