//! Rough edges a new user met (issue 28), each pinned by a row named after it: bad input is one
//! line that says what is wrong and what is allowed, exit 2, before anything is sent.

use crate::common::*;

/// (what the row pins, the arguments, what the one line must say).
type Row<'a> = (&'a str, Vec<String>, &'a str);

fn refused_before_the_run(rows: Vec<Row<'_>>) {
    for (what, args, says) in rows {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let started = std::time::Instant::now();
        let (code, err) = blast_plain(&args);
        assert_eq!(code, 2, "{what}: {args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{what}: one line: {err}");
        assert!(err.contains(says), "{what}: expected '{says}' in: {err}");
        assert!(started.elapsed() < std::time::Duration::from_millis(900), "{what}: refused before the 1 s run");
    }
}

fn argv(s: &str) -> Vec<String> {
    s.split(' ').map(String::from).collect()
}

#[test]
fn flags_that_cannot_be_right_are_refused_with_the_reason() {
    // Shared: refusals, each ms against a 900 ms bound.
    let _g = light();
    let server = Server::start(&[]);
    let url = server.url();
    let api = |extra: &str| {
        let mut a = argv("api --rate 100 --duration 1s --quiet --target");
        a.push(url.clone());
        a.extend(argv(extra));
        a
    };
    let many = std::thread::available_parallelism().map_or(1, |n| n.get()) + 62;
    refused_before_the_run(vec![
        // `--sla 'p99=>50ms'` said "unknown metric 'p99='": name the comparisons there are.
        ("sla_operator_names_the_comparisons", api("--sla p99=>50ms"), "'=>' is not a comparison: use <, <=, > or >="),
        // `--ca-cert /nonexistent` with an http:// target ran, exit 0, not a word.
        ("ca_cert_that_does_not_exist", api("--ca-cert /nonexistent/ca.pem"), "--ca-cert /nonexistent/ca.pem"),
        // `--cores 64` on 2 CPUs ran "64 cores".
        ("cores_beyond_the_machine", api(&format!("--cores {many}")), &format!("--cores {many}: blast may run on")),
        // `--coalesce 5s` was accepted as "5000000 us".
        ("coalesce_beyond_100ms", api("--coalesce 5s"), "--coalesce 5s: at most 100ms"),
        // A target path with a space sent invalid request lines.
        (
            "target_path_with_a_space",
            argv(&format!("api --rate 100 --duration 1s --quiet --target http://{}/v1%messages", server.addr))
                .into_iter()
                .map(|a| a.replace('%', " "))
                .collect(),
            "the path has a space",
        ),
        (
            "ws_target_path_with_a_space",
            vec![
                "ws".into(),
                "--conns".into(),
                "2".into(),
                "--duration".into(),
                "1s".into(),
                "--target".into(),
                format!("ws://{}/w s", server.addr),
            ],
            "the path has a space",
        ),
    ]);
}

#[test]
fn tls_flags_on_a_plain_target_are_a_note_not_silence() {
    // Shared: a note at 20/s.
    let _g = light();
    let server = Server::start(&[]);
    let (code, err) =
        blast_plain(&["api", "--rate", "20", "--duration", "1s", "--quiet", "--insecure", "--target", &server.url()]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("note: --insecure only applies to https:// and wss:// targets"), "{err}");
}

#[test]
fn upload_bad_bucket_and_demo_bad_output_are_refused_before_anything_starts() {
    // Shared: refusals, each ms against a 900 ms bound.
    let _g = light();
    refused_before_the_run(vec![
        // `--bucket 'Bad_Bucket!'` failed with exit 1 after an S3 call.
        (
            "upload_bucket_name_breaks_s3_rules",
            argv("upload --size 5M --uploads 1 --target http://127.0.0.1:9 --bucket Bad_Bucket!"),
            "--bucket 'Bad_Bucket!': 'B' is not allowed",
        ),
        // Size errors printed raw bytes ("--size 1099511627776"): the user's unit.
        (
            "size_errors_in_the_users_unit",
            argv("upload --size 1T --part-size 5M --target http://127.0.0.1:9"),
            "--size 1 TiB in --part-size 5 MiB parts",
        ),
        // `--rate 0.5 --duration 1s` said "--rate 30/min": the per-second figure is beside it.
        (
            "rate_error_in_the_users_unit",
            argv("api --rate 0.5 --duration 1s"),
            "--rate 30/min (0.5/s) schedules no request",
        ),
        // `blast ws --bind 10.99.99.99` failed every connect, then advised "add --bind".
        (
            "ws_bind_address_not_of_this_machine",
            argv("ws --conns 2 --duration 1s --target ws://127.0.0.1:9/ws --bind 10.99.99.99"),
            "--bind 10.99.99.99: it is not an address of this machine",
        ),
        // `blast demo --json /nonexistent/x.json` started the target before refusing.
        ("demo_output_path_checked_first", argv("demo --duration 1s --json /nonexistent/x.json"), "does not exist"),
    ]);
}

#[test]
fn metrics_listen_port_is_printed_even_when_quiet() {
    // Shared: a line at 20/s.
    let _g = light();
    let server = Server::start(&[]);
    let (code, err) = blast_plain(&[
        "api",
        "--rate",
        "20",
        "--duration",
        "1s",
        "-q",
        "--metrics-listen",
        ":0",
        "--target",
        &server.url(),
    ]);
    assert_eq!(code, 0, "{err}");
    let line = err.lines().find(|l| l.contains("Prometheus metrics on http://127.0.0.1:")).unwrap_or_default();
    let port: u16 = line.rsplit(':').next().and_then(|p| p.trim_end_matches("/metrics").parse().ok()).unwrap_or(0);
    assert!(port > 0, "the chosen port is printed with -q: {err}");
}

#[test]
fn second_interrupt_says_the_reports_were_not_written() {
    // Shared: a silent target holds the run 10 s past both signals.
    let _g = light();
    // A silent target: after the first Ctrl-C the run waits for its requests (its grace
    // period), so the second one arrives while the reports are still to be written.
    let server = Server::start(&["--misbehave", "silent"]);
    let dir = ReportDir::new("second-interrupt");
    let json = dir.path("r.json");
    let child = std::process::Command::new(BLAST)
        .args([
            "api",
            "--rate",
            "50",
            "--duration",
            "20s",
            "--timeout",
            "10s",
            "-q",
            "--json",
            &json,
            "--target",
            &server.url(),
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn blast");
    wait_ms(800);
    let pid = child.id().to_string();
    for _ in 0..2 {
        let _ = std::process::Command::new("kill").args(["-INT", &pid]).status();
        wait_ms(200);
    }
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted again: exiting now; the reports were not written"), "{err}");
    assert!(!std::path::Path::new(&json).exists(), "no report claimed");
}

/// `blast compare` passed a CURRENT run that was interrupted (3.4 of 8 s) without a word.
#[test]
fn compare_fails_an_interrupted_current_run() {
    // Shared: exit codes at 100/s.
    let _g = light();
    let server = Server::start(&[]);
    let dir = ReportDir::new("compare-interrupted");
    let (base, cur) = (dir.path("base.json"), dir.path("cur.json"));
    let (code, err) =
        blast_plain(&["api", "--rate", "100", "--duration", "1s", "-q", "--json", &base, "--target", &server.url()]);
    assert_eq!(code, 0, "{err}");
    // The same run, as a report of one that was interrupted says it.
    let mut json = read_json(&base);
    json["interrupted"] = serde_json::Value::Bool(true);
    std::fs::write(&cur, serde_json::to_string(&json).expect("json")).expect("write");
    let out = std::process::Command::new(BLAST).args(["compare", &base, &cur]).output().expect("compare");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL: the current run was interrupted"), "{stdout}");
    let out = std::process::Command::new(BLAST).args(["compare", &cur, &base]).output().expect("compare");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("note: the baseline run was interrupted"), "{stdout}");
}

/// `blast serve --listen 127.0.0.1:0 --s3-listen 127.0.0.1:PORT` with PORT busy said
/// "cannot listen on 127.0.0.1:0": the failing flag and address are named.
#[test]
fn serve_names_the_listen_flag_that_failed() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = busy.local_addr().expect("addr").port();
    let s3 = format!("127.0.0.1:{port}");
    let (code, err) = blast_plain(&["serve", "--listen", "127.0.0.1:0", "--s3-listen", &s3, "--exit-after", "5s"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("--s3-listen {s3}")), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

/// The `<svg class="chart">` whose heading is `title`, as written in the page.
fn chart_after<'a>(html: &'a str, title: &str) -> &'a str {
    let at = html.find(&format!("<h2>{title}</h2>")).unwrap_or_else(|| panic!("no chart '{title}'"));
    let rest = &html[at..];
    &rest[..rest.find("</svg>").expect("svg end")]
}

/// The upload page (issue 28): an errors table with the failures' kinds (not only in the run
/// parameters), the throughput axis labelled in the MB/s its values are in, and a run shorter
/// than a second drawn as one dot; its accounting identities hold and are shown.
#[test]
fn upload_page_has_errors_mb_per_s_and_a_dot_for_a_short_run() {
    // Shared: the page's shape and counts.
    let _g = shared();
    // Every 2nd UploadPart is answered 503 SlowDown and nothing is retried: uploads fail.
    let server = Server::start(&["--s3-listen", "127.0.0.1:0", "--s3-fail-every-part", "2"]);
    let s3 = server.s3.clone().expect("s3 address");
    let dir = ReportDir::new("rough-upload");
    let html = dir.path("up.html");
    let prefix = dir.path("up");
    let r = blast(&[
        "upload",
        "--target",
        &s3,
        "--size",
        "10M",
        "--part-size",
        "5M",
        "--parallel",
        "2",
        "--uploads",
        "2",
        "--retries",
        "0",
        "--html",
        &html,
        "--csv",
        &prefix,
    ]);
    assert_eq!(r.code, 1, "uploads failed: {}{}", r.stdout, r.stderr);
    let j = r.json.expect("report");
    let page = std::fs::read_to_string(&html).expect("html");
    let errors = &page[page.find("<h2>Errors</h2>").expect("an errors table")..];
    let errors = &errors[..errors.find("</table>").expect("table end")];
    assert!(errors.contains("s3_SlowDown"), "{errors}");
    // The identities: every upload and part started is accounted for, in every format.
    let ids = j["identities"].as_array().expect("identities");
    assert_eq!(ids.len(), 2, "{}", r.stdout);
    assert!(ids.iter().all(|i| i["holds"] == true), "{}", r.stdout);
    let started = f(&j, "/uploads/started");
    let parts: f64 = ["/uploads/completed", "/uploads/failed", "/uploads/interrupted", "/uploads/unfinished"]
        .iter()
        .map(|p| f(&j, p))
        .sum();
    assert_eq!(started, parts, "{}", r.stdout);
    assert!(r.stdout.contains("uploads started 2 = completed"), "{}", r.stdout);
    assert!(page.contains("parts started"), "the page shows the identities");
    let csv = std::fs::read_to_string(format!("{prefix}_stats.csv")).expect("csv");
    assert!(csv.lines().any(|l| l.contains("object upload") && l.contains("uploads started 2 =")), "{csv}");
    // The throughput chart: its y axis says MB/s, and its ticks are the MB/s figures.
    let chart = chart_after(&page, "Throughput per second");
    assert!(chart.contains(">MB/s (10^6 bytes)</text>"), "{chart}");
    // 20 MB in well under a second here: one second, drawn as one marked point.
    if f(&j, "/elapsed_s") < 1.0 {
        assert!(chart.contains(r#"data-points="1""#) && chart.matches("<circle").count() == 1, "{chart}");
    }
}

/// `--hdr-log` of a ws run without heartbeats (issue 28) had an empty `heartbeat` interval.
#[test]
fn ws_hdr_log_has_no_empty_heartbeat_interval() {
    // Shared: the log's shape and the CSV's identities.
    let _g = light();
    let server = Server::start(&[]);
    let dir = ReportDir::new("rough-ws-hdr");
    let (log, prefix) = (dir.path("ws.hlog"), dir.path("ws"));
    let url = server.ws_url();
    let mut args = ws_probe_args(&url, "10", "1s", "20", &[]);
    args.extend(["--hdr-log", &log, "--csv", &prefix]);
    let r = blast(&args);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let text = std::fs::read_to_string(&log).expect("hdr log");
    assert!(text.contains("Tag=connect,"), "{text}");
    assert!(!text.contains("Tag=heartbeat"), "no heartbeats ran: {text}");
    // The ws CSV carries its identities on the rows they account for.
    let csv = std::fs::read_to_string(format!("{prefix}_stats.csv")).expect("csv");
    let header: Vec<&str> = csv.lines().next().expect("header").split(',').collect();
    let col = header.iter().position(|h| *h == "Identities").expect("Identities column");
    let hold = header.iter().position(|h| *h == "Accounts Hold").expect("Accounts Hold column");
    let row = |name: &str| -> Vec<String> {
        let line = csv.lines().find(|l| l.split(',').nth(1) == Some(name)).unwrap_or_else(|| panic!("{name}: {csv}"));
        line.split(',').map(String::from).collect()
    };
    let (delivery, connect) = (row("delivery"), row("connect"));
    assert!(delivery[col].starts_with("expected deliveries ") && delivery[col].contains(" = delivered "), "{csv}");
    assert!(connect[col].starts_with("established connections 10 = subscriptions confirmed "), "{csv}");
    assert_eq!((delivery[hold].as_str(), connect[hold].as_str()), ("true", "true"), "{csv}");
}

/// The api page (issue 23) shows the run's accounts: each identity and whether it adds up.
#[test]
fn api_page_shows_the_accounts() {
    // Shared: the page's shape and counts.
    let _g = light();
    let server = Server::start(&[]);
    let dir = ReportDir::new("rough-api-page");
    let html = dir.path("api.html");
    let r = blast(&["api", "--target", &server.url(), "--rate", "100", "--duration", "1s", "--html", &html]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let page = std::fs::read_to_string(&html).expect("html");
    let at = page.find("<h2>Accounts").expect("an accounts table");
    let table = &page[at..at + page[at..].find("</table>").expect("end")];
    assert!(table.contains("scheduled 100 = 100 sent + 0 dropped + 0 not sent"), "{table}");
    assert!(table.contains("<td>yes</td>"), "{table}");
}
