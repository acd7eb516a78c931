//! `blast upload` against the real `blast serve` S3 endpoint (a separate process) and against
//! s3s-fs, a third-party S3 implementation from crates.io that verifies SigV4 and stores the
//! objects on disk, where the test reads them back.

use crate::common::s3::start_s3s_fs;
use crate::common::*;
use blast::workloads::upload::data::DataPool;

const MIB: u64 = 1 << 20;

fn s3_server(extra: &[&str]) -> Server {
    let mut args = vec!["--s3-listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    Server::start(&args)
}

#[test]
fn uploads_to_blast_serve_complete_and_verify() {
    // Shared: exact counts.
    let _g = shared();
    let server = s3_server(&[]);
    let target = server.s3.clone().expect("s3 address");
    let r = blast(&[
        "upload",
        "--target",
        &target,
        "--size",
        "24M",
        "--part-size",
        "5M",
        "--parallel",
        "3",
        "--uploads",
        "6",
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json.expect("report");
    // 24 MiB in 5 MiB parts: 4 full parts and one of 4 MiB, per object.
    assert_eq!(f(&j, "/plan/parts_per_object"), 5.0);
    assert_eq!(f(&j, "/uploads/completed"), 6.0);
    assert_eq!(f(&j, "/uploads/verified"), 6.0);
    assert_eq!(f(&j, "/uploads/deleted"), 6.0);
    assert_eq!(f(&j, "/parts/ok"), 30.0);
    assert_eq!(f(&j, "/part_ms/count"), 30.0);
    assert_eq!(f(&j, "/object_ms/count"), 6.0);
    assert_eq!(f(&j, "/bytes_acked"), (6 * 24 * MIB) as f64);
    let timeline: f64 = j["mb_per_s_timeline"].as_array().expect("timeline").iter().filter_map(|v| v.as_f64()).sum();
    // Every byte sent is in the timeline (one second buckets, MB = 10^6).
    assert!((timeline * 1e6 - (6 * 24 * MIB) as f64).abs() < 1.0, "timeline sums to {timeline} MB");
}

/// A run that stopped at its first S3 call: exit 1 at once, one stderr line naming the cause,
/// the report written with no upload started and the cause among its warnings.
fn assert_stopped_at_once(args: &[&str], cause: &str) -> serde_json::Value {
    let started = std::time::Instant::now();
    let html = temp_path("stopped.html");
    let mut all = args.to_vec();
    all.extend(["--html", html.to_str().expect("path")]);
    let r = blast(&all);
    let took = started.elapsed().as_secs_f64();
    assert_eq!(r.code, 1, "{all:?}: {}{}", r.stdout, r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{all:?}: {}", r.stderr);
    assert!(r.stderr.contains("stopped at the first S3 call") && r.stderr.contains(cause), "{all:?}: {}", r.stderr);
    assert!(took < 5.0, "{all:?} took {took:.1} s to give up");
    let j = r.json.expect("report written");
    assert_eq!(f(&j, "/uploads/started"), 0.0, "{all:?}");
    assert!(j["stopped"].as_str().is_some_and(|s| s.contains(cause)), "{all:?}: {}", j["stopped"]);
    assert!(r.stdout.contains(cause), "the text report says why: {}", r.stdout);
    let page = std::fs::read_to_string(&html).expect("html written");
    let _ = std::fs::remove_file(&html);
    assert!(page.contains(cause), "the page says why");
    j
}

#[test]
fn a_wrong_secret_stops_the_run_at_the_first_call() {
    // Shared: exit codes, counts.
    let _g = light();
    let server = s3_server(&[]);
    let target = server.s3.clone().expect("s3 address");
    let args = ["upload", "--target", &target, "--size", "10M", "--parallel", "2", "--secret-key", "not-the-secret"];
    let j = assert_stopped_at_once(&args, "SignatureDoesNotMatch");
    assert_eq!(j["bucket"], "auth_SignatureDoesNotMatch");
    assert!(!serde_json::to_string(&j).expect("json").contains("not-the-secret"));
    let r = blast(&args);
    assert!(!r.stdout.contains("not-the-secret") && !r.stderr.contains("not-the-secret"));
}

#[test]
fn a_bad_bucket_name_stops_the_run_at_the_first_call() {
    // A name S3's character rules allow (blast checks those before sending: exit 2) but that
    // the store refuses ("xn--" is reserved): its answer stops the run at the first call.
    // Shared: exit codes, counts.
    let _g = light();
    let server = s3_server(&[]);
    let target = server.s3.clone().expect("s3 address");
    assert_stopped_at_once(
        &["upload", "--target", &target, "--size", "5M", "--parallel", "1", "--bucket", "xn--blast"],
        "InvalidBucketName",
    );
}

#[test]
fn a_refused_connection_stops_the_run_at_the_first_call() {
    // Shared: exit codes, counts.
    let _g = light();
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let target = format!("http://127.0.0.1:{port}");
    assert_stopped_at_once(&["upload", "--target", &target, "--size", "5M", "--parallel", "2"], "connection refused");
}

#[test]
fn slowdown_answers_are_retried_and_counted() {
    // Shared: exact counts.
    let _g = shared();
    // Every 4th UploadPart is answered 503 SlowDown; with retries every upload still completes.
    let server = s3_server(&["--s3-fail-every-part", "4"]);
    let target = server.s3.clone().expect("s3 address");
    let r = blast(&[
        "upload",
        "--target",
        &target,
        "--size",
        "30M",
        "--part-size",
        "5M",
        "--parallel",
        "2",
        "--retries",
        "3",
    ]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let j = r.json.expect("report");
    assert_eq!(f(&j, "/parts/ok"), 12.0);
    // 12 parts succeed and every 4th attempt failed: 16 attempts, 4 retries (3 or 4 with timing).
    let retries = f(&j, "/parts/retries");
    assert!((3.0..=4.0).contains(&retries), "retries {retries}");

    // Without retries the failing uploads are aborted, so no parts are left behind.
    let r = blast(&[
        "upload",
        "--target",
        &target,
        "--size",
        "30M",
        "--part-size",
        "5M",
        "--parallel",
        "2",
        "--retries",
        "0",
    ]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let j = r.json.expect("report");
    let failed = f(&j, "/uploads/failures/s3_SlowDown");
    assert!(failed >= 1.0, "{}", r.stdout);
    assert_eq!(f(&j, "/uploads/aborted"), failed, "{}", r.stdout);
}

#[test]
fn bad_part_sizes_are_usage_errors() {
    for (args, needle) in [
        (vec!["--size", "100M", "--part-size", "1M"], "at least 5 MiB"),
        (vec!["--size", "100G", "--part-size", "5M"], "at most 10,000"),
        (vec!["--size", "ten"], "not a size"),
        (vec!["--target", "ftp://127.0.0.1:9"], "unsupported scheme"),
        (vec!["--target", "https://127.0.0.1:9", "--ca-cert", "/nonexistent/ca.pem"], "ca.pem"),
    ] {
        let mut all = vec!["upload"];
        all.extend(args);
        let r = blast(&all);
        assert_eq!(r.code, 2, "{all:?}: {}", r.stderr);
        assert!(r.stderr.contains(needle) && r.stderr.lines().count() == 1, "{all:?}: {}", r.stderr);
    }
}

#[test]
fn objects_on_s3s_fs_are_the_bytes_blast_meant_to_send() {
    // Shared: bytes on disk.
    let _g = shared();
    let root = temp_path("s3s-fs");
    std::fs::create_dir_all(&root).expect("root");
    let target = start_s3s_fs(&root);
    let r = blast(&[
        "upload",
        "--target",
        &target,
        "--access-key",
        "fs-access",
        "--secret-key",
        "fs-secret",
        "--size",
        "32M",
        "--part-size",
        "6M",
        "--parallel",
        "4",
        "--keep",
        "--key-prefix",
        "run/",
        "--seed",
        "42",
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json.expect("report");
    assert_eq!(f(&j, "/uploads/completed"), 4.0);
    assert_eq!(f(&j, "/uploads/verified"), 4.0);
    // Regenerate what blast meant to send from the seed and compare with what s3s-fs stored.
    let (size, part) = (32 * MIB, 6 * MIB);
    let pool = DataPool::new(42, part as usize);
    for upload in 0..4u64 {
        let stored = std::fs::read(root.join("blast").join(format!("run/{upload:06}"))).expect("stored object");
        assert_eq!(stored.len() as u64, size);
        let mut expected = 0u32;
        for number in 1..=size.div_ceil(part) {
            let len = (size - (number - 1) * part).min(part) as usize;
            expected = crc32c::crc32c_append(expected, &pool.part(upload, number as u32, len));
        }
        assert_eq!(crc32c::crc32c(&stored), expected, "object {upload} differs from what blast sent");
    }
    // Parts of different objects differ (no two parts of a run are identical).
    let a = std::fs::read(root.join("blast/run/000000")).expect("object 0");
    let b = std::fs::read(root.join("blast/run/000001")).expect("object 1");
    assert_ne!(a[..part as usize], b[..part as usize]);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn wrong_keys_and_a_bad_bucket_stop_a_run_against_s3s_fs() {
    // Shared: exit codes, counts.
    let _g = light();
    let root = temp_path("s3s-fs-auth");
    std::fs::create_dir_all(root.join("blast")).expect("root");
    let target = start_s3s_fs(&root);
    let run = |extra: &[&str]| {
        let mut args = vec!["upload", "--target", &target, "--size", "6M", "--parallel", "1"];
        args.extend_from_slice(extra);
        args.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let wrong_secret = run(&["--access-key", "fs-access", "--secret-key", "wrong"]);
    let j =
        assert_stopped_at_once(&wrong_secret.iter().map(String::as_str).collect::<Vec<_>>(), "SignatureDoesNotMatch");
    assert_eq!(j["bucket"], "auth_SignatureDoesNotMatch");
    let wrong_key = run(&["--access-key", "nobody", "--secret-key", "fs-secret"]);
    // s3s answers an unknown access key with NotSignedUp (AWS with InvalidAccessKeyId).
    let j = assert_stopped_at_once(&wrong_key.iter().map(String::as_str).collect::<Vec<_>>(), "NotSignedUp");
    assert_eq!(j["bucket"], "auth_NotSignedUp");
    let bad_bucket = run(&["--access-key", "fs-access", "--secret-key", "fs-secret", "--bucket", "xn--blast"]);
    assert_stopped_at_once(&bad_bucket.iter().map(String::as_str).collect::<Vec<_>>(), "InvalidBucketName");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn sigint_aborts_uploads_in_flight_and_writes_the_report() {
    // Shared: counts; "stopped" is 5 s after the signal.
    let _g = shared();
    let server = s3_server(&[]);
    let target = server.s3.clone().expect("s3 address");
    let json_path = temp_path("upload-sigint.json");
    // 40 GiB in all: far more than fits in the second before the signal.
    let (csv, html) = (temp_path("upload-sigint"), temp_path("upload-sigint.html"));
    let (csv_prefix, html_path) = (csv.to_str().expect("path"), html.to_str().expect("path"));
    let child = spawn_blast(
        &[
            "upload",
            "--target",
            &target,
            "--size",
            "1G",
            "--parallel",
            "2",
            "--uploads",
            "40",
            "--csv",
            csv_prefix,
            "--html",
            html_path,
        ],
        &json_path,
    );
    wait_ms(1000);
    let signalled = std::time::Instant::now();
    // SAFETY: sending a signal to a child we own.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let r = finish(child.wait_with_output().expect("wait"), &json_path);
    assert!(signalled.elapsed().as_secs_f64() < 5.0, "took {:?} after the signal", signalled.elapsed());
    assert_eq!(r.code, 1, "{}", r.stderr);
    let j = r.json.expect("report written after SIGINT");
    assert_eq!(j["interrupted"], true);
    // The two uploads in flight were cut and aborted: not finished, not failures of the target.
    assert_eq!(f(&j, "/uploads/interrupted"), 2.0, "{}", r.stdout);
    assert_eq!(f(&j, "/uploads/failed"), 0.0, "{}", r.stdout);
    assert!(j["uploads"]["failures"].as_object().expect("failures").is_empty(), "{}", r.stdout);
    assert_eq!(f(&j, "/uploads/aborted"), 2.0, "{}", r.stdout);
    assert!(f(&j, "/uploads/started") < 40.0);
    assert!(f(&j, "/parts/ok") > 0.0);
    // Labelled in every format.
    let label = "not finished (interrupted)";
    assert!(r.stdout.contains("interrupted after") && r.stdout.contains(label), "{}", r.stdout);
    assert!(j["warnings"].as_array().expect("warnings").iter().any(|w| w.as_str().is_some_and(|w| w.contains(label))));
    let page = std::fs::read_to_string(&html).expect("html written");
    assert!(page.contains("interrupted after") && page.contains(label), "the page says it was interrupted");
    let stats = std::fs::read_to_string(format!("{csv_prefix}_stats.csv")).expect("stats csv");
    let row = stats.lines().find(|l| l.contains(label)).unwrap_or_else(|| panic!("no interrupted row: {stats}"));
    assert!(row.starts_with("S3,object upload not finished (interrupted),2,0,"), "{row}");
    let failures = std::fs::read_to_string(format!("{csv_prefix}_failures.csv")).expect("failures csv");
    assert!(!failures.contains("interrupted"), "cut-off uploads are not the target's failures: {failures}");
    for p in blast::report::csv::paths(csv_prefix).iter().chain([&html]) {
        let _ = std::fs::remove_file(p);
    }
}
