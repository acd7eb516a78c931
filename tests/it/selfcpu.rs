//! blast measures itself (its worker cores' CPU per unit of work and busy share, in every
//! report), says who the bottleneck was, and shows one progress layout for every workload,
//! against the real `blast serve` (a separate process on 127.0.0.1).

use crate::common::*;
use std::process::{Command, Stdio};

/// Runs `blast <args> --json <tmp>` with stderr piped (not a terminal) and not quiet: the
/// report, and the progress lines from stderr.
fn blast_with_progress(args: &[&str]) -> (Run, Vec<String>) {
    let json_path = temp_path("report.json");
    let out = Command::new(BLAST)
        .args(args)
        .arg("--json")
        .arg(&json_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("run blast");
    let run = finish(out, &json_path);
    let lines = run.stderr.lines().filter(|l| l.starts_with('[')).map(String::from).collect();
    (run, lines)
}

/// The `blast_cpu` figures every report carries: measured, per unit, each core's share.
fn check_cpu(j: &serde_json::Value, unit: &str, units: f64, cores: usize) {
    let c = j.get("blast_cpu").unwrap_or_else(|| panic!("no blast_cpu in {j}"));
    assert_eq!(c["unit"], unit, "{c}");
    assert!((f(c, "/units") - units).abs() < 1e-6, "{c}");
    let (user, sys, both) = (f(c, "/user_us_per_unit"), f(c, "/sys_us_per_unit"), f(c, "/us_per_unit"));
    assert!(both > 0.0 && (user + sys - both).abs() < 1e-6, "{c}");
    // CPU per unit is CPU time over units: the totals agree with it.
    let total_s = f(c, "/user_s") + f(c, "/sys_s");
    assert!((total_s * 1e6 / units - both).abs() < both * 1e-6 + 1e-9, "{c}");
    let shares = c["core_busy_pct"].as_array().expect("core shares");
    assert_eq!(shares.len(), cores, "{c}");
    let busiest = shares.iter().filter_map(|v| v.as_f64()).fold(0.0, f64::max);
    assert_eq!(f(c, "/busiest_core_pct"), busiest);
    assert!((0.0..=100.0).contains(&busiest));
    // A core cannot have used more CPU than the wall time it ran.
    assert!(total_s <= f(c, "/wall_s") * cores as f64 * 1.05 + 0.05, "{c}");
    assert!(!c["timeline"].as_array().expect("timeline").is_empty(), "{c}");
}

#[test]
fn a_slow_target_with_few_connections_is_target_bound_and_blast_had_cpu_to_spare() {
    // Exclusive: blast's CPU figures and pacer lag.
    let _g = exclusive();
    let server = Server::start(&["--delay", "20ms"]);
    // Two connections at 20 ms a request carry 100 req/s; 400 req/s are asked for.
    let url = server.url();
    let r = blast(&["api", "--target", &url, "--rate", "400", "--duration", "2s", "--conns", "2", "--cores", "1"]);
    let j = r.json.expect("json report");
    assert_eq!(j["target_bound"], true, "{}", r.stdout);
    let warnings: Vec<&str> = j["warnings"].as_array().expect("warnings").iter().filter_map(|w| w.as_str()).collect();
    let target = warnings.iter().find(|w| w.starts_with("target-bound:")).expect("a target-bound warning");
    assert!(target.contains("the latency is the target's"), "{target}");
    assert!(target.contains("2 were open"), "{target}");
    // blast's one core was far from saturated: 400 req/s cost it a few percent of a core.
    let busiest = f(&j, "/blast_cpu/busiest_core_pct");
    assert!(busiest < 50.0, "busiest core {busiest}%: {}", r.stdout);
    check_cpu(&j, "request", f(&j, "/requests/sent"), 1);
    // Generator-bound only if blast's own pacer really fell behind (on a machine shared with
    // other work it may: the warning then says the CPU was taken, not that blast was busy).
    let lag_limit = 1.0 + f(&j, "/plan/coalesce_us") / 1000.0;
    let pacer_late = f(&j, "/dispatch_lag_ms/p99") > lag_limit;
    assert_eq!(j["generator_bound"], pacer_late, "{}", r.stdout);
    if let Some(g) = warnings.iter().find(|w| w.starts_with("generator-bound:")) {
        assert!(g.contains("other processes") && !g.contains("more --cores"), "{g}");
    }
    assert!(!warnings.iter().any(|w| w.starts_with("all connections were busy at times")), "{warnings:?}");
    assert!(r.stdout.contains("  blast cpu "), "{}", r.stdout);
}

#[test]
fn ws_and_upload_reports_carry_blast_cpu_per_message_and_per_mb() {
    // Exclusive: blast's CPU figures.
    let _g = exclusive();
    let server = Server::start(&["--s3-listen", "127.0.0.1:0"]);
    let target = format!("ws://{}/ws", server.addr);
    let args = ["ws", "--conns", "40", "--rooms", "2", "--duration", "2s", "--probe-rate", "10/s", "--cores", "2"];
    let r = blast(&[&args[..], &["--target", &target]].concat());
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json.expect("ws report");
    check_cpu(&j, "message", f(&j, "/probes/delivered"), 2);
    assert_eq!(j["generator_bound"], false, "{}", r.stdout);
    assert!(r.stdout.contains("us/message"), "{}", r.stdout);

    let s3 = server.s3.clone().expect("s3 address");
    let r =
        blast(&["upload", "--target", &s3, "--size", "12M", "--part-size", "5M", "--parallel", "2", "--uploads", "4"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json.expect("upload report");
    let cores = j["blast_cpu"]["core_busy_pct"].as_array().map_or(0, Vec::len);
    assert!(cores >= 1);
    check_cpu(&j, "MB", f(&j, "/bytes_acked") / 1e6, cores);
    assert!(r.stdout.contains("us/MB"), "{}", r.stdout);
}

/// `[  2s/3s] rate 200/200 req/s, p99 1.23 ms, errors 0 | cpu 3% (busiest core 4%), ...`
fn check_layout(line: &str, unit: &str) {
    let figures = line.split_once("] ").map_or("", |(_, rest)| rest);
    assert!(figures.starts_with("rate ") && figures.contains(unit), "{line}");
    assert!(figures.contains(", p99 ") && figures.contains(", errors "), "{line}");
    assert!(figures.contains(" | cpu "), "{line}");
}

#[test]
fn without_a_terminal_every_workload_prints_one_layout_every_second() {
    // Shared: the layout of a progress line each second (no figure's value is judged).
    let _g = shared();
    let server = Server::start(&["--s3-listen", "127.0.0.1:0"]);
    let url = server.url();
    let target = format!("ws://{}/ws", server.addr);
    let s3 = server.s3.clone().expect("s3 address");
    // The three runs at once (each its own process and endpoint of the server): one run's time.
    let api = ["api", "--target", &url, "--rate", "200", "--duration", "3s"];
    let ws = ["ws", "--conns", "20", "--duration", "3s", "--probe-rate", "20/s", "--target", &target];
    let upload = ["upload", "--target", &s3, "--size", "5M", "--parallel", "2", "--duration", "3s"];
    let ((api, ws), upload) =
        at_once(|| at_once(|| blast_with_progress(&api), || blast_with_progress(&ws)), || blast_with_progress(&upload));

    let (r, lines) = api;
    assert_eq!(r.code, 0, "{}", r.stderr);
    // One line per second of the run, then possibly one for the drain.
    let stamps: Vec<&str> =
        lines.iter().filter_map(|l| l.trim_start_matches('[').split(']').next()).map(str::trim).collect();
    assert!(stamps.starts_with(&["1s/3s", "2s/3s", "3s/3s"]), "{}", r.stderr);
    for l in &lines {
        check_layout(l, "req/s");
    }
    assert!(lines[1].contains("rate 200/200 req/s") || lines[1].contains("/200 req/s"), "{}", lines[1]);
    assert!(!lines[1].contains("p99 -") && lines[1].contains("(busiest core "), "{}", lines[1]);

    let (r, lines) = ws;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(lines.len() >= 2, "{}", r.stderr);
    lines.iter().for_each(|l| check_layout(l, "/s"));
    assert!(lines.iter().any(|l| l.contains("deliveries/s") && !l.contains("p99 -")), "{}", r.stderr);
    assert!(lines.iter().any(|l| l.contains("(busiest core ")), "{}", r.stderr);

    let (r, lines) = upload;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(lines.len() >= 2, "{}", r.stderr);
    lines.iter().for_each(|l| check_layout(l, "MB/s"));
}
