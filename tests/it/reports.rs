//! Report outputs of real runs against `blast serve`: Locust-compatible CSV read by column
//! name, the HTML report rendered by headless Chromium, the HdrHistogram log read back, SLA
//! exit codes and `blast compare`.

use crate::common::*;
use std::collections::HashMap;

/// Rows of a CSV file as column-name -> value maps (no quoted commas in these files' numbers).
fn read_csv(path: &std::path::Path) -> (Vec<String>, Vec<HashMap<String, String>>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().expect("header").split(',').map(String::from).collect();
    let rows =
        lines.map(|l| header.iter().cloned().zip(l.split(',').map(String::from)).collect::<HashMap<_, _>>()).collect();
    (header, rows)
}

/// A response time in ms as Locust writes it in its percentile columns: whole ms below 100,
/// then 2 significant digits, halves to even (Python's `round`).
fn locust_round(ms: f64) -> f64 {
    let step =
        [(100.0, 1.0), (1_000.0, 10.0), (10_000.0, 100.0)].iter().find(|(lim, _)| ms < *lim).map_or(1_000.0, |s| s.1);
    (ms / step).round_ties_even() * step
}

fn num(row: &HashMap<String, String>, col: &str) -> f64 {
    row.get(col).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("column {col} in {row:?}"))
}

#[test]
fn csv_files_use_locust_columns_and_match_the_json() {
    // Shared: exact counts at 1,000/s (Requests/s is the JSON's rate over the span the name ran).
    // Not moderate, though it measured so: it bounds that rate (> 980/s over a 3 s run), which
    // a late last answer beside a 20,000/s exclusive test could miss.
    let _g = shared();
    let server = Server::start(&[]);
    let prefix = temp_path("locust");
    let prefix = prefix.to_string_lossy().to_string();
    let r = blast(&["api", "--rate", "1000", "--duration", "3s", "--target", &server.url(), "--csv", &prefix]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.json.expect("report");

    let (header, stats) = read_csv(std::path::Path::new(&format!("{prefix}_stats.csv")));
    for col in [
        "Type",
        "Name",
        "Request Count",
        "Failure Count",
        "Median Response Time",
        "Average Response Time",
        "Min Response Time",
        "Max Response Time",
        "Average Content Size",
        "Requests/s",
        "Failures/s",
        "50%",
        "66%",
        "75%",
        "80%",
        "90%",
        "95%",
        "98%",
        "99%",
        "99.9%",
        "99.99%",
        "100%",
    ] {
        assert!(header.contains(&col.to_string()), "missing Locust column {col}");
    }
    let post = &stats[0];
    assert_eq!(post["Type"], "POST");
    assert_eq!(post["Name"], "/v1/messages");
    assert_eq!(num(post, "Request Count"), 3000.0);
    assert_eq!(num(post, "Failure Count"), 0.0);
    assert!((num(post, "P99") - f(&j, "/latency_ms/p99")).abs() < 1e-9, "P99 at full precision");
    assert_eq!(num(post, "99%"), locust_round(f(&j, "/latency_ms/p99")), "99% rounded as Locust rounds");
    // Over the span the name ran (its first second's start to its last answer): the JSON's rate.
    let rate = num(post, "Requests/s");
    assert!((rate - f(&j, "/names/0/rate_per_s")).abs() < 1e-6, "{rate} vs {}", j["names"][0]);
    assert!(rate > 980.0 && rate <= 1000.5, "{rate}");
    assert_eq!(stats[1]["Name"], "Aggregated");

    let (_, history) = read_csv(std::path::Path::new(&format!("{prefix}_stats_history.csv")));
    let aggregated: Vec<_> = history.iter().filter(|r| r["Name"] == "Aggregated").collect();
    assert_eq!(aggregated.len(), history.len(), "Aggregated rows only, as Locust without --csv-full-history");
    assert!(aggregated.len() >= 3, "one Aggregated row per second: {}", aggregated.len());
    // Cumulative counts grow to the total; per-second rates add up to it.
    let last = aggregated.last().expect("rows");
    assert_eq!(num(last, "Total Request Count"), 3000.0);
    let summed: f64 = aggregated.iter().map(|r| num(r, "Requests/s")).sum();
    assert_eq!(summed, 3000.0);

    let (fheader, failures) = read_csv(std::path::Path::new(&format!("{prefix}_failures.csv")));
    assert_eq!(fheader, vec!["Method", "Name", "Error", "Occurrences", "First Seen", "Last Seen"]);
    assert!(failures.is_empty());
    for suffix in ["_stats.csv", "_stats_history.csv", "_failures.csv", "_exceptions.csv"] {
        let _ = std::fs::remove_file(format!("{prefix}{suffix}"));
    }
}

#[test]
fn failures_csv_lists_errors_by_kind() {
    // Shared: rows and counts at 100/s.
    let _g = light();
    // The target wants a token blast does not send: every request fails with 401.
    let server = Server::start(&["--require-auth"]);
    let prefix = temp_path("unauthorized").to_string_lossy().to_string();
    let target = server.url();
    let r = blast(&[
        "api",
        "--rate",
        "100",
        "--duration",
        "1s",
        "--conns",
        "2",
        "--target",
        &target,
        "--csv",
        &prefix,
        "--csv-full-history",
    ]);
    assert_eq!(r.code, 1);
    let (_, failures) = read_csv(std::path::Path::new(&format!("{prefix}_failures.csv")));
    assert!(!failures.is_empty(), "{}", r.stdout);
    let total: f64 = failures.iter().map(|row| num(row, "Occurrences")).sum();
    let (_, stats) = read_csv(std::path::Path::new(&format!("{prefix}_stats.csv")));
    assert_eq!(total, num(&stats[0], "Failure Count"));
    assert_eq!(num(&stats[0], "Failure Rate"), 1.0);
    // Every failure's first and last second, within the run's history.
    let (_, history) = read_csv(std::path::Path::new(&format!("{prefix}_stats_history.csv")));
    assert!(history.iter().any(|r| r["Name"] != "Aggregated"), "per-name rows with --csv-full-history");
    for row in &failures {
        assert!(row["First Seen"].ends_with('Z') && row["First Seen"] <= row["Last Seen"], "{row:?}");
    }
}

fn chromium() -> String {
    for c in ["chromium", "chromium-browser", "google-chrome"] {
        if std::process::Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()) {
            return c.to_string();
        }
    }
    panic!("headless Chromium is needed to check the HTML report: apt-get install chromium (.ci/run does)");
}

/// Renders `html` in headless Chromium at 1400 px: a screenshot (written, not blank) and the
/// DOM, in which every chart has data points, ticks on both axes and axis labels, and every
/// heatmap has cells. Returns the DOM. Each Chromium gets a fresh profile of its own, so that
/// pages may be rendered at once.
fn render_page(html: &std::path::Path, heatmaps: usize) -> String {
    let shot = html.with_extension("png");
    let run = |extra: &[&str]| {
        let profile = temp_path("chromium-profile");
        let out = std::process::Command::new(chromium())
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1400,3000"])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(format!("file://{}", html.display()))
            .output()
            .expect("run chromium");
        let _ = std::fs::remove_dir_all(&profile);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run(&[&format!("--screenshot={}", shot.display())]);
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 20_000, "a real screenshot: {} bytes", png.len());
    let _ = std::fs::remove_file(&shot);
    let dom = run(&["--dump-dom"]);
    assert!(dom.contains("id=\"blast-report\""), "rendered DOM lacks the report");
    assert!(dom.contains("max-width:1360px"), "the page uses a 1400 px screen's width");
    let charts: Vec<&str> = dom.split("<svg class=\"chart\"").skip(1).collect();
    assert!(charts.len() >= 2, "charts drawn");
    for c in &charts {
        let c = &c[..c.find("</svg>").expect("svg ends")];
        let points: usize = c
            .split("data-points=\"")
            .skip(1)
            .map(|r| r.split('"').next().and_then(|n| n.parse::<usize>().ok()).expect("data-points"))
            .sum();
        assert!(points > 0, "a chart without data points: {c}");
        assert!(c.matches("class=\"x-tick\"").count() >= 2 && c.matches("class=\"y-tick\"").count() >= 2, "{c}");
        for label in ["class=\"x-label\"", "class=\"y-label\""] {
            let text = c.split(label).nth(1).and_then(|r| r.split('>').nth(1)).and_then(|r| r.split('<').next());
            assert!(text.is_some_and(|t| !t.trim().is_empty()), "{label} in {c}");
        }
        // Ticks step by 1, 2 or 5 times a power of ten from 0 (no 2.6, 625 or 1875 on an axis;
        // 0, 2, ..., 12 is right): the step's mantissa is 1, 2 or 5 and every tick a multiple.
        let ticks: Vec<f64> = c
            .split("class=\"y-tick\"")
            .skip(1)
            .filter_map(|r| r.split('>').nth(1)?.split('<').next())
            .map(|t| {
                let n: String = t.chars().take_while(|ch| ch.is_ascii_digit() || *ch == '.').collect();
                n.parse().unwrap_or_else(|_| panic!("tick {t}"))
            })
            .collect();
        let step = ticks[1] - ticks[0];
        let m = step / 10f64.powf(step.log10().floor());
        assert!([1.0, 2.0, 5.0, 10.0].iter().any(|x| (m - x).abs() < 1e-6), "step {step} in ticks {ticks:?}");
        for (i, t) in ticks.iter().enumerate() {
            assert!((t - ticks[0] - i as f64 * step).abs() < step * 1e-6, "ticks {ticks:?}");
        }
    }
    let maps: Vec<&str> = dom.split("<svg class=\"heatmap\"").skip(1).collect();
    assert_eq!(maps.len(), heatmaps, "latency heatmaps");
    for h in &maps {
        assert!(h.matches("class=\"cell\"").count() > 0, "a heatmap without cells");
        assert!(h.matches("class=\"x-tick\"").count() >= 2 && h.matches("class=\"y-tick\"").count() >= 2, "{h}");
    }
    dom
}

#[test]
fn html_report_renders_in_headless_chromium() {
    // Shared: the DOM Chromium renders, and a timeline with requests in every second at 500/s.
    let _g = shared();
    let server = Server::start(&["--s3-listen", "127.0.0.1:0"]);
    // Three runs at once, then their three pages rendered at once (Chromium is most of this
    // test's time; the runs are not beside it).
    let (api_html, ws_html, upload_html) =
        (temp_path("report-api.html"), temp_path("report-ws.html"), temp_path("report-upload.html"));
    let (api_s, ws_s, upload_s) = [&api_html, &ws_html, &upload_html].map(|p| p.to_string_lossy().to_string()).into();
    let api =
        ["api", "--rate", "500", "--duration", "2s", "--target", &server.url(), "--html", &api_s, "--sla", "p99<1s"];
    // ws without heartbeats: open connections over time, no heartbeat row.
    let ws_url = format!("ws://{}/ws", server.addr);
    let ws = [
        "ws",
        "--target",
        &ws_url,
        "--conns",
        "50",
        "--duration",
        "2s",
        "--probe-rate",
        "20",
        "--heartbeat",
        "0s",
        "--html",
        &ws_s,
    ];
    // upload: throughput in MB/s, the part heatmap.
    let s3 = server.s3.clone().expect("s3 address");
    let upload = [
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
        "4",
        "--html",
        &upload_s,
    ];
    let (r, (ws_run, upload_run)) = at_once(|| blast(&api), || at_once(|| blast(&ws), || blast(&upload)));

    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = std::fs::read_to_string(&api_html).expect("html written");
    assert!(!text.contains("http://") || !text.contains("<script"), "self-contained: no scripts");
    assert!(!text.contains("src=\"http") && !text.contains("href=\"http"), "no network resources");
    // No phantom second: every second of the timeline had requests, the last one too.
    let j = r.json.expect("report");
    let timeline = j["timeline"].as_array().expect("timeline");
    assert!(timeline.len() >= 2, "{timeline:?}");
    for s in timeline {
        assert!(f(s, "/sent") > 0.0 && f(s, "/completed") > 0.0, "an empty second: {timeline:?}");
    }
    assert_eq!(ws_run.code, 0, "{}{}", ws_run.stdout, ws_run.stderr);
    assert_eq!(upload_run.code, 0, "{}{}", upload_run.stdout, upload_run.stderr);

    let (dom, (ws_dom, upload_dom)) =
        at_once(|| render_page(&api_html, 1), || at_once(|| render_page(&ws_html, 1), || render_page(&upload_html, 1)));
    assert!(dom.contains("[PASS] p99"), "SLA verdict shown");
    assert!(dom.contains("<td>pacer lag</td>"), "the pacer lag row");
    assert!(ws_dom.contains("Open connections"), "open connections chart");
    assert!(
        !ws_dom.contains("<td>heartbeat</td>") && !ws_dom.contains("heartbeat rtt"),
        "no heartbeat rows without heartbeats"
    );
    assert!(upload_dom.contains("MB/s (10^6 bytes)</text>"), "throughput axis in MB/s");
    for html in [&api_html, &ws_html, &upload_html] {
        let _ = std::fs::remove_file(html);
    }
}

/// The intervals tagged `tag` of an HdrHistogram log: how many, and their sum.
fn read_hdr_log(path: &std::path::Path, tag: &str) -> (usize, hdrhistogram::Histogram<u64>) {
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    use hdrhistogram::serialization::Deserializer;
    let bytes = std::fs::read(path).expect("log written");
    let mut merged: hdrhistogram::Histogram<u64> = hdrhistogram::Histogram::new(3).expect("hist");
    let mut intervals = 0;
    for entry in IntervalLogIterator::new(&bytes) {
        if let LogEntry::Interval(i) = entry.expect("valid log entry") {
            if i.tag().map(|t| t.as_str()) == Some(tag) {
                let raw = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, i.encoded_histogram())
                    .expect("base64");
                let h: hdrhistogram::Histogram<u64> =
                    Deserializer::new().deserialize(&mut raw.as_slice()).expect("hist");
                merged.add(&h).expect("add");
                intervals += 1;
            }
        }
    }
    let _ = std::fs::remove_file(path);
    (intervals, merged)
}

#[test]
fn hdr_log_reads_back_to_the_run_counts() {
    // Shared: the log against the report, counts at 1,000/s.
    let _g = moderate();
    let server = Server::start(&[]);
    let log = temp_path("run.hlog");
    let log_s = log.to_string_lossy().to_string();
    let r = blast(&["api", "--rate", "1000", "--duration", "2s", "--target", &server.url(), "--hdr-log", &log_s]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.json.expect("report");
    let (intervals, merged) = read_hdr_log(&log, "latency");
    assert!(intervals >= 2, "one interval per second");
    assert_eq!(merged.len() as f64, f(&j, "/latency_ms/count"));
    assert!((merged.value_at_quantile(0.99) as f64 / 1000.0 - f(&j, "/latency_ms/p99")).abs() < 0.01);
}

#[test]
fn sla_exit_codes_pass_fail_and_bad_input() {
    // Exclusive: an SLA on the rate achieved (>= 99%).
    let _g = exclusive();
    let server = Server::start(&["--delay", "20ms"]);
    let url = server.url();
    let run = |sla: &str| blast(&["api", "--rate", "200", "--duration", "1s", "--target", &url, "--sla", sla]);
    let pass = run("p99<500ms,errors<1%,rate>=99%");
    assert_eq!(pass.code, 0, "{}", pass.stdout);
    assert!(pass.stdout.contains("[PASS] p99:"), "{}", pass.stdout);
    // The target adds 20 ms to every answer: a 5 ms p50 target cannot be met.
    let fail = run("p50<5ms,errors<1%");
    assert_eq!(fail.code, 1, "{}", fail.stdout);
    assert!(fail.stdout.contains("[FAIL] p50:") && fail.stdout.contains("[PASS] errors:"), "{}", fail.stdout);
    let j = fail.json.expect("report");
    assert_eq!(j["sla"][0]["pass"], false);
    for bad in ["p42<5ms", "p99=5ms", "p99<soon"] {
        let (code, err) =
            blast_plain(&["api", "--rate", "10", "--duration", "1s", "--target", &server.url(), "--sla", bad]);
        assert_eq!(code, 2, "{bad}: {err}");
        assert_eq!(err.lines().count(), 1, "{bad}: {err}");
    }
}

#[test]
fn compare_flags_a_regression_between_two_runs() {
    // Shared: a 30 ms delay against none, at 200/s.
    let _g = light();
    let fast = Server::start(&[]);
    let slow = Server::start(&["--delay", "30ms"]);
    let (a, b) = (temp_path("base.json"), temp_path("cur.json"));
    for (server, path) in [(&fast, &a), (&slow, &b)] {
        let out = std::process::Command::new(BLAST)
            .args(["api", "--rate", "200", "--duration", "1s", "--quiet", "--target", &server.url(), "--json"])
            .arg(path)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(0));
    }
    let (a, b) = (a.to_string_lossy().to_string(), b.to_string_lossy().to_string());
    let same = std::process::Command::new(BLAST).args(["compare", &a, &a]).output().expect("compare");
    assert_eq!(same.status.code(), Some(0), "{}", String::from_utf8_lossy(&same.stdout));
    let worse = std::process::Command::new(BLAST)
        .args(["compare", &a, &b, "--max-regression", "10%"])
        .output()
        .expect("compare");
    let text = String::from_utf8_lossy(&worse.stdout);
    assert_eq!(worse.status.code(), Some(1), "{text}");
    assert!(text.contains("p99") && text.contains("REGRESSION"), "{text}");
    // Slower is an improvement when the slow run is the baseline.
    let better =
        std::process::Command::new(BLAST).args(["compare", &b, &a, "--metrics", "p50,p99"]).output().expect("compare");
    assert_eq!(better.status.code(), Some(0), "{}", String::from_utf8_lossy(&better.stdout));
    let (code, err) = blast_plain(&["compare", &a, "/nonexistent.json"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn ws_and_upload_history_has_a_row_per_second_that_adds_up() {
    // Shared: rows that add up to exact counts.
    let _g = light();
    let server = Server::start(&["--s3-listen", "127.0.0.1:0"]);
    let ws_prefix = temp_path("ws-csv").to_string_lossy().to_string();
    let ws_log = temp_path("ws.hlog");
    let ws_url = format!("ws://{}/ws", server.addr);
    let r = blast(&[
        "ws",
        "--target",
        &ws_url,
        "--conns",
        "100",
        "--rooms",
        "2",
        "--duration",
        "3s",
        "--probe-rate",
        "20",
        "--csv",
        &ws_prefix,
        "--hdr-log",
        &ws_log.to_string_lossy(),
        "--csv-full-history",
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json.expect("report");
    let (_, history) = read_csv(std::path::Path::new(&format!("{ws_prefix}_stats_history.csv")));
    let rows: Vec<_> = history.iter().filter(|r| r["Name"] == "delivery").collect();
    assert!(rows.len() >= 3, "a row per second of deliveries: {}", rows.len());
    let per_second: f64 = rows.iter().map(|r| num(r, "Requests/s")).sum();
    assert_eq!(per_second, f(&j, "/probes/delivered"));
    assert_eq!(num(rows.last().expect("rows"), "Total Request Count"), f(&j, "/probes/delivered"));
    let slowest = rows.iter().map(|r| num(r, "100%")).fold(0.0, f64::max);
    assert_eq!(slowest, locust_round(f(&j, "/delivery_ms/max")), "the slowest second holds the slowest delivery");
    let timeline = j["timeline"].as_array().expect("timeline");
    assert_eq!(timeline.len(), rows.len());
    // The interval log has the same seconds, and they add up to the whole run's histogram.
    let (intervals, merged) = read_hdr_log(&ws_log, "delivery");
    assert_eq!(intervals, rows.len());
    assert_eq!(merged.len() as f64, f(&j, "/probes/delivered"));
    assert_eq!(merged.max() as f64 / 1000.0, f(&j, "/delivery_ms/max"));

    let up_prefix = temp_path("up-csv").to_string_lossy().to_string();
    let s3 = server.s3.clone().expect("s3 address");
    let r = blast(&[
        "upload",
        "--target",
        &s3,
        "--size",
        "20M",
        "--part-size",
        "5M",
        "--parallel",
        "4",
        "--uploads",
        "8",
        "--csv",
        &up_prefix,
        "--csv-full-history",
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json.expect("report");
    let (_, history) = read_csv(std::path::Path::new(&format!("{up_prefix}_stats_history.csv")));
    let rows: Vec<_> = history.iter().filter(|r| r["Name"] == "UploadPart").collect();
    let per_second: f64 = rows.iter().map(|r| num(r, "Requests/s")).sum();
    assert_eq!(per_second, 32.0);
    assert_eq!(per_second, f(&j, "/parts/ok"));
    for prefix in [&ws_prefix, &up_prefix] {
        for suffix in ["_stats.csv", "_stats_history.csv", "_failures.csv", "_exceptions.csv"] {
            let _ = std::fs::remove_file(format!("{prefix}{suffix}"));
        }
    }
}

/// How a CSV value is written: Locust's files and blast's must agree column by column.
fn format_of(v: &str) -> &'static str {
    let iso = v.len() == 20 && v.ends_with('Z') && v.as_bytes().get(10) == Some(&b'T');
    if v == "N/A" {
        "N/A"
    } else if v.is_empty() {
        "empty"
    } else if v.bytes().all(|b| b.is_ascii_digit()) {
        "integer"
    } else if v.parse::<f64>().is_ok() && v.contains('.') {
        "decimal"
    } else if iso {
        "ISO 8601 UTC"
    } else {
        "text"
    }
}

fn locust_file(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/locust").join(name)
}

/// Each column of `ours` is written as in Locust's row of the same type and name in `theirs`.
fn same_formats(what: &str, theirs: &[HashMap<String, String>], ours: &[HashMap<String, String>], skip: &[&str]) {
    let key = |r: &HashMap<String, String>| (r.get("Type").or(r.get("Method")).cloned(), r["Name"].clone());
    for row in ours {
        let locust = theirs.iter().find(|t| key(t) == key(row)).unwrap_or_else(|| panic!("{what}: no {:?}", key(row)));
        for (col, v) in locust.iter().filter(|(c, _)| !skip.contains(&c.as_str())) {
            let mine = row.get(col).unwrap_or_else(|| panic!("{what}: no column {col}"));
            let ok = format_of(mine) == format_of(v) || (format_of(v) == "integer" && format_of(mine) == "N/A");
            assert!(ok, "{what} column {col}: Locust writes {v:?} ({}), blast {mine:?}", format_of(v));
        }
    }
}

/// The same load as tests/data/locust/locustfile.py (a real Locust 2.47 run against `blast
/// serve`, files kept as Locust wrote them): two names, one of them a 404. blast's four files
/// have Locust's headers, row names and number formats; the content size is the same body.
#[test]
fn csv_files_match_a_real_locust_runs_files() {
    // Shared: columns and counts against stored Locust files.
    let _g = light();
    let server = Server::start(&[]);
    let profile = temp_path("two-names.toml");
    let text = format!(
        "workload = \"api\"\n[args]\ntarget = \"http://{}\"\nrate = 110\nduration = \"2s\"\nconns = 4\n\n\
         [[request]]\nname = \"/v1/messages\"\nweight = 10\nmethod = \"POST\"\npath = \"/v1/messages\"\n\
         body = '{{\"room\":\"r1\",\"text\":\"hello\"}}'\n\n\
         [[request]]\nname = \"/v1/missing\"\nweight = 1\nmethod = \"GET\"\npath = \"/v1/missing\"\n",
        server.addr
    );
    std::fs::write(&profile, text).expect("profile");
    let dir = temp_path("locust-cmp");
    std::fs::create_dir_all(&dir).expect("dir");
    let (short, full) =
        (dir.join("blast").to_string_lossy().to_string(), dir.join("full").to_string_lossy().to_string());
    for (prefix, extra) in [(&short, None), (&full, Some("--csv-full-history"))] {
        let mut args = vec!["run", profile.to_str().expect("path"), "--csv", prefix.as_str()];
        args.extend(extra);
        let r = blast(&args);
        assert_eq!(r.code, 1, "the 404s fail the run: {}{}", r.stdout, r.stderr);
    }
    let ours = |p: &str, f: &str| read_csv(std::path::Path::new(&format!("{p}_{f}.csv")));

    // _stats.csv: Locust's columns in Locust's order, then blast's; the same rows.
    let (lh, locust) = read_csv(&locust_file("locust_stats.csv"));
    let (bh, stats) = ours(&short, "stats");
    assert_eq!(&bh[..lh.len()], &lh[..], "Locust's columns first, in order");
    let accounts = ["Scheduled", "Sent", "Dropped", "Not Sent", "Completed", "Failed Without Response"];
    let extra = ["P95", "P99", "Failure Rate"].iter().chain(&accounts).chain(&["In Flight At End", "Accounts Hold"]);
    let extra = extra.chain(&["Bytes Sent", "Bytes Received", "MB/s", "Identities"]);
    assert_eq!(&bh[lh.len()..], extra.copied().collect::<Vec<&str>>());
    let names = |rows: &[HashMap<String, String>]| -> Vec<(String, String)> {
        rows.iter().map(|r| (r["Type"].clone(), r["Name"].clone())).collect()
    };
    assert_eq!(names(&stats), names(&locust));
    // A median Locust clamps to min..max is the exact min or max (a float), as blast's is.
    same_formats("_stats.csv", &locust, &stats, &["Median Response Time"]);
    for (l, b) in locust.iter().zip(&stats) {
        assert_eq!(b["Average Content Size"], l["Average Content Size"], "the same body from the same server");
        let rate = num(b, "Failure Count") / num(b, "Request Count");
        assert!((num(b, "Failure Rate") - rate).abs() < 1e-12, "{b:?}");
    }
    assert!(num(&stats[2], "Failure Rate") > 0.0 && num(&stats[2], "Failure Rate") < 0.2);

    // _stats_history.csv: Aggregated only by default, every name's row with --csv-full-history.
    for (prefix, file) in [(&short, "locust_stats_history.csv"), (&full, "locust_full_stats_history.csv")] {
        let (lh, locust) = read_csv(&locust_file(file));
        let (bh, history) = ours(prefix, "stats_history");
        assert_eq!(bh, lh);
        // Locust's first row is written before any user starts (N/A, 0 users), and so is blast's.
        assert_eq!((history[0]["User Count"].as_str(), history[0]["50%"].as_str()), ("0", "N/A"), "{file}");
        assert_eq!((locust[0]["User Count"].as_str(), locust[0]["50%"].as_str()), ("0", "N/A"), "{file}");
        let locust: Vec<_> = locust.into_iter().filter(|r| r["User Count"] != "0").collect();
        let history: Vec<_> = history.into_iter().filter(|r| r["User Count"] != "0").collect();
        let per_second = |rows: &[HashMap<String, String>]| -> Vec<(String, String)> {
            let first = &rows[0]["Timestamp"];
            names(&rows.iter().filter(|r| &r["Timestamp"] == first).cloned().collect::<Vec<_>>())
        };
        assert_eq!(per_second(&history), per_second(&locust), "{file}");
        same_formats(file, &locust, &history, &["Total Median Response Time"]);
        for row in history.iter().chain(&locust) {
            for col in ["Requests/s", "Failures/s"] {
                assert_eq!(row[col].split('.').nth(1).map(str::len), Some(6), "{col}: {row:?}");
            }
        }
    }

    // _failures.csv and _exceptions.csv: Locust's headers; the failure's times as Locust's.
    let (lh, locust) = read_csv(&locust_file("locust_failures.csv"));
    let (bh, failures) = ours(&short, "failures");
    assert_eq!(bh, lh);
    assert_eq!(failures.len(), 1, "{failures:?}");
    same_formats("_failures.csv", &locust, &failures, &["Error"]);
    assert_eq!(failures[0]["Occurrences"], stats[1]["Failure Count"]);
    let header = |p: &std::path::Path| std::fs::read_to_string(p).expect("read").lines().next().map(String::from);
    let theirs = header(&locust_file("locust_exceptions.csv"));
    assert_eq!(header(std::path::Path::new(&format!("{short}_exceptions.csv"))), theirs);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&profile);
}

/// Locust: `BLAST_TEST_LOCUST` (set by `.ci/run`), else the CI venv's.
fn locust() -> String {
    let venv = std::env::var("HOME").map(|h| format!("{h}/.cache/blast-ci/venv/bin/locust")).unwrap_or_default();
    let path = std::env::var("BLAST_TEST_LOCUST").unwrap_or(venv);
    assert!(std::path::Path::new(&path).exists(), "{path}: Locust is needed (.ci/run installs it, BLAST_TEST_LOCUST)");
    path
}

const LOCUSTFILE: &str = r#"from locust import HttpUser, task, constant

class U(HttpUser):
    wait_time = constant(0.05)

    @task(3)
    def health(self):
        self.client.get("/health")

    @task(1)
    def login(self):
        self.client.post("/auth/login", json={"username": "a", "password": "pw"}, name="POST /auth/login")

    @task(1)
    def missing(self):
        self.client.get("/v1/missing", name="A missing")
"#;

/// Real Locust and blast against the same `blast serve`, the same three names (defined in a
/// different order in blast's profile): the files' headers, the order of their rows (Locust
/// sorts by name, `Aggregated` last), the history's first row and every column's number form
/// agree. The figures are not compared: the two tools run different loads, at once (nothing
/// here is the server's count, and blast's 40/s beside Locust's 2 users slows neither).
#[test]
fn csv_files_match_what_real_locust_writes_against_the_same_server() {
    // Exclusive: real Locust (a Python process busy on a core) beside blast.
    let _g = exclusive();
    let server = Server::start(&[]);
    let dir = ReportDir::new("locust-live");
    let lf = dir.path("locustfile.py");
    std::fs::write(&lf, LOCUSTFILE).expect("locustfile");
    let theirs = dir.path("locust");
    let host = format!("http://{}", server.addr);
    let locust_run = std::process::Command::new(locust())
        .args(["-f", &lf, "--headless", "-u", "2", "-r", "2", "-t", "3s", "--csv", &theirs, "--host", &host])
        .args(["--only-summary", "--loglevel", "WARNING"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run locust");
    let profile = dir.path("profile.toml");
    let text = format!(
        "workload = \"api\"\n[args]\ntarget = \"{}\"\nrate = 40\nduration = \"2s\"\nconns = 4\n\n\
         [[request]]\nname = \"POST /auth/login\"\nmethod = \"POST\"\npath = \"/auth/login\"\n\
         body = '{{\"username\":\"a\",\"password\":\"pw\"}}'\n\n\
         [[request]]\nname = \"A missing\"\nmethod = \"GET\"\npath = \"/v1/missing\"\n\n\
         [[request]]\nname = \"/health\"\nweight = 3\nmethod = \"GET\"\npath = \"/health\"\n",
        host
    );
    std::fs::write(&profile, text).expect("profile");
    let ours = dir.path("blast");
    let r = blast(&["run", &profile, "--csv", &ours]);
    let out = locust_run.wait_with_output().expect("wait for locust");
    // Locust exits 1 when requests failed (the 404s).
    assert!(out.status.code().is_some_and(|c| c <= 1), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(r.code, 1, "the 404s fail the run: {}{}", r.stdout, r.stderr);
    let file = |p: &str, f: &str| read_csv(std::path::Path::new(&format!("{p}_{f}.csv")));
    let names = |rows: &[HashMap<String, String>]| -> Vec<(String, String)> {
        rows.iter().map(|r| (r["Type"].clone(), r["Name"].clone())).collect()
    };
    // The median may be the exact min or max (a float) where Locust clamps its rounded median.
    let clamped = ["Median Response Time", "Total Median Response Time"];

    let ((lh, locust_stats), (bh, stats)) = (file(&theirs, "stats"), file(&ours, "stats"));
    assert_eq!(&bh[..lh.len()], &lh[..], "Locust's columns first, in order");
    let order = names(&stats);
    assert_eq!(order, names(&locust_stats), "rows in Locust's order");
    let expected: Vec<&str> = vec!["/health", "A missing", "POST /auth/login", "Aggregated"];
    assert_eq!(order.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>(), expected);
    same_formats("_stats.csv", &locust_stats, &stats, &clamped);

    let ((lh, locust_history), (bh, history)) = (file(&theirs, "stats_history"), file(&ours, "stats_history"));
    assert_eq!(bh, lh);
    // The first row: the start second, 0 users, nothing counted, every percentile N/A.
    let first = |rows: &[HashMap<String, String>]| -> Vec<(String, String)> {
        let mut row: Vec<(String, String)> = rows[0].clone().into_iter().filter(|(k, _)| k != "Timestamp").collect();
        row.sort();
        row
    };
    assert_eq!(first(&history), first(&locust_history));
    assert_eq!(history[0]["50%"], "N/A");
    assert!(history.iter().skip(1).all(|r| r["Name"] == "Aggregated" && r["User Count"] != "0"), "{history:?}");
    let counted = |rows: &[HashMap<String, String>]| -> Vec<HashMap<String, String>> {
        rows.iter().filter(|r| r["Total Request Count"] != "0").cloned().collect()
    };
    same_formats("_stats_history.csv", &counted(&locust_history), &counted(&history), &clamped);

    let ((lh, locust_failures), (bh, failures)) = (file(&theirs, "failures"), file(&ours, "failures"));
    assert_eq!(bh, lh);
    assert_eq!(names_of_failures(&failures), names_of_failures(&locust_failures));
    same_formats("_failures.csv", &locust_failures, &failures, &["Error"]);
}

fn names_of_failures(rows: &[HashMap<String, String>]) -> Vec<(String, String)> {
    rows.iter().map(|r| (r["Method"].clone(), r["Name"].clone())).collect()
}
