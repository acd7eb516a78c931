//! SLA verdicts that cannot lie: a figure that rests on no sample fails (a dead target does
//! not pass `p99<50ms`), every verdict says how many samples it rests on, in text and JSON, for
//! api, ws and upload; SLA units must fit their figure; a target URL blast cannot connect to
//! by construction (port 0, no host, another scheme) is refused before the run; a rate under
//! 1/s is paced and reported exactly, or refused when the run is too short for one request.

use crate::common::*;

/// A port on 127.0.0.1 where nothing listens: bound, then closed.
fn refused_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// The `sla` verdicts of a JSON report.
fn verdicts(j: &serde_json::Value) -> &Vec<serde_json::Value> {
    j["sla"].as_array().expect("sla verdicts in the report")
}

#[test]
fn a_dead_api_target_fails_its_latency_sla() {
    // Shared: no response at all.
    let _g = light();
    let target = format!("http://127.0.0.1:{}/x", refused_port());
    let r = blast(&["api", "--target", &target, "--rate", "50", "--duration", "1s", "--sla", "p99<50ms,errors<100%"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("[FAIL] p99: no responses (target < 50 ms)"), "{}", r.stdout);
    assert!(!r.stdout.contains("[PASS] p99"), "{}", r.stdout);
    let j = r.json.expect("report");
    let v = verdicts(&j);
    assert_eq!(v[0]["pass"], false);
    assert_eq!(v[0]["samples"], 0);
    assert!(v[0]["actual"].is_null(), "{}", v[0]);
    assert_eq!(j["metrics"]["p99"]["samples"], 0);
}

#[test]
fn every_verdict_says_how_many_samples_it_rests_on() {
    // Shared: sample counts; SLAs far from the figures.
    let _g = light();
    let server = Server::start(&[]);
    let r = blast(&[
        "api",
        "--target",
        &server.url(),
        "--rate",
        "200",
        "--duration",
        "1s",
        "--sla",
        "p99<5s,errors<=100%,rps>0,rate>0%",
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json.expect("report");
    let responses = f(&j, "/latency_ms/count");
    assert!(responses > 100.0, "{responses}");
    let v = verdicts(&j);
    assert_eq!(v.len(), 4);
    for (verdict, of) in v.iter().zip(["responses", "requests", "requests sent", "requests scheduled"]) {
        let n = verdict["samples"].as_u64().unwrap_or_else(|| panic!("no samples in {verdict}"));
        assert!(n > 100, "{verdict}");
        let line = verdict["line"].as_str().expect("line");
        assert!(line.starts_with("[PASS]") && line.ends_with(&format!(" target ({n} {of})")), "{line}");
        assert!(r.stdout.contains(line), "{}", r.stdout);
    }
    assert_eq!(v[0]["samples"].as_f64(), Some(responses));
}

#[test]
fn a_dead_ws_target_fails_its_sla() {
    // Shared: no response at all.
    let _g = light();
    let port = refused_port();
    let target = format!("ws://127.0.0.1:{port}/ws");
    let probe = format!("http://127.0.0.1:{port}/v1/messages");
    let r = blast(&[
        "ws",
        "--target",
        &target,
        "--probe-target",
        &probe,
        "--conns",
        "2",
        "--duration",
        "1s",
        "--timeout",
        "1s",
        "--sla",
        "p99<50ms,errors<1%",
    ]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("[FAIL] p99: no deliveries (target < 50 ms)"), "{}", r.stdout);
    assert!(r.stdout.contains("[FAIL] errors: no deliveries expected (target < 1%)"), "{}", r.stdout);
    let j = r.json.expect("report");
    assert!(verdicts(&j).iter().all(|v| v["pass"] == false && v["samples"] == 0), "{}", j["sla"]);
}

#[test]
fn a_dead_upload_target_fails_its_sla() {
    // Shared: no response at all.
    let _g = light();
    let target = format!("http://127.0.0.1:{}", refused_port());
    let r = blast(&["upload", "--target", &target, "--size", "5M", "--parallel", "1", "--sla", "p99<5s,mbps>0"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("[FAIL] p99: no parts acknowledged (target < 5000 ms)"), "{}", r.stdout);
    assert!(r.stdout.contains("[FAIL] mbps: no parts acknowledged (target > 0 MB/s)"), "{}", r.stdout);
    let j = r.json.expect("report");
    assert!(verdicts(&j).iter().all(|v| v["pass"] == false && v["samples"] == 0), "{}", j["sla"]);
}

#[test]
fn sla_units_must_fit_the_figure() {
    for (workload, sla, figure, says) in [
        (
            vec!["api", "--target", "http://127.0.0.1:9/x", "--rate", "10"],
            "p99<5%",
            "p99",
            "is a latency: give it in ms, s or us",
        ),
        (
            vec!["api", "--target", "http://127.0.0.1:9/x", "--rate", "10"],
            "errors<5ms",
            "errors",
            "is a percentage: give it with %",
        ),
        (vec!["ws", "--target", "ws://127.0.0.1:9/ws"], "drops<1%", "drops", "is a count"),
        (vec!["upload", "--target", "http://127.0.0.1:9"], "mbps>5s", "mbps", "is a throughput in MB/s"),
    ] {
        let mut args = workload.clone();
        args.extend(["--sla", sla]);
        let (code, stderr) = blast_plain(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(&format!("{figure} {says}")) && stderr.contains(sla), "{args:?}: {stderr}");
    }
}

#[test]
fn a_profile_sla_table_with_units_that_do_not_fit_is_refused() {
    let path = temp_path("bad-units.toml");
    std::fs::write(
        &path,
        "workload = \"api\"\n\n[sla]\nAggregated = [\"p99<5%\"]\n\n[args]\ntarget = \"http://127.0.0.1:9/x\"\nrate = 10\nduration = \"1s\"\n",
    )
    .expect("write profile");
    let (code, stderr) = blast_plain(&["run", path.to_str().expect("path")]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("p99 is a latency"), "{stderr}");
}

#[test]
fn targets_that_cannot_be_connected_to_are_refused_before_the_run() {
    // Shared: refusals, each ms against a 2 s bound.
    let _g = light();
    let cases = [
        ("http://127.0.0.1:0/x", "port 0"),
        ("http://:8080/x", "missing host"),
        ("ftp://127.0.0.1:21/x", "unsupported scheme"),
        ("http://127.0.0.1:70000/x", "not a port"),
    ];
    for (url, says) in cases {
        let ws_url = url.replacen("http://", "ws://", 1);
        let s3_url = url.trim_end_matches("/x").to_string();
        for args in [
            vec!["api", "--target", url, "--rate", "10", "--duration", "1s"],
            vec!["ws", "--target", &ws_url, "--conns", "1", "--duration", "1s"],
            vec!["upload", "--target", &s3_url, "--size", "5M", "--parallel", "1"],
        ] {
            // ws refuses a non-ws scheme with its own message.
            let says = if args[0] == "ws" && url.starts_with("ftp") { "expected ws://" } else { says };
            let started = std::time::Instant::now();
            let (code, stderr) = blast_plain(&args);
            assert_eq!(code, 2, "{args:?}: {stderr}");
            assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
            assert!(stderr.contains(says), "{args:?}: {stderr}");
            assert!(started.elapsed().as_secs_f64() < 2.0, "{args:?} ran before refusing");
        }
    }
}

#[test]
fn rates_under_one_per_second_are_exact_or_refused() {
    // Shared: exact counts of 4 and 2 requests; the ratio within 10%.
    let _g = light();
    // Too short for one request: refused before the run, exit 2, one line.
    for (rate, line) in [
        ("1/min", "blast: --rate 1/min (0.01667/s) schedules no request in 1s: run at least 1m or raise the rate"),
        ("10/h", "blast: --rate 10/h (0.002778/s) schedules no request in 1s: run at least 6m or raise the rate"),
    ] {
        let (code, stderr) =
            blast_plain(&["api", "--target", "http://127.0.0.1:9/x", "--rate", rate, "--duration", "1s"]);
        assert_eq!(code, 2, "{rate}: {stderr}");
        assert_eq!(stderr.trim_end(), line);
    }
    // Accepted and exact: 120/min for 2 s is 4 requests (due at 0, 0.5, 1, 1.5 s); 0.5/s for
    // 3 s is 2 (due at 0 and 2 s). The target answers each one.
    let server = Server::start(&[]);
    for (rate, secs, plan_line, requests) in [
        ("120/min", "2s", "plan      2 req/s constant", 4.0),
        ("0.5/s", "3s", "plan      0.5 req/s (30/min) constant", 2.0),
    ] {
        let r = blast(&["api", "--target", &server.url(), "--rate", rate, "--duration", secs]);
        assert_eq!(r.code, 0, "{rate}: {}{}", r.stdout, r.stderr);
        assert!(r.stdout.contains(plan_line), "{rate}: {}", r.stdout);
        let j = r.json.expect("report");
        for n in ["scheduled", "sent", "ok"] {
            assert_eq!(f(&j, &format!("/requests/{n}")), requests, "{rate} {n}: {}", j["requests"]);
        }
        // Every slot was sent; the ratio only drops below 100% when the last send ran past
        // the end of the schedule (by more than 10% of the run here).
        let ratio = f(&j, "/rate_ratio");
        assert!((0.9..=1.0 + 1e-9).contains(&ratio), "{rate}: {ratio}");
    }
    let r = blast(&["api", "--target", &server.url(), "--rate", "120/min", "--duration", "1s"]);
    assert_eq!(f(&r.json.expect("report"), "/plan/rate"), 2.0);
}
