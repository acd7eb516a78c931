//! `blast import` checked by running both tools: real Locust runs a seed-style Locust file and
//! blast runs its import against one Chat4All-like FastAPI service the test starts
//! (tests/data/import/chat4all_app.py); the service's own counters say what each did. The
//! imported profile must give the same endpoints, one login per virtual user, the same mix
//! (blast's exact within one cycle, Locust's within its random spread), the rate Locust's
//! wait_time gives, and the same per-iteration work (four chunks, the last one short, and a
//! complete whose SHA-256 matches the bytes sent).
//!
//! The two tools run at once, each against a service of its own (started side by side): each
//! service's counts are one tool's alone, as when they ran one after the other against one
//! service reset in between. blast's counts hold however late its sends are (every slot of the
//! schedule is sent and its answer waited for); the rates here are low (40 tasks/s, 2 uploads/s
//! each), so Locust's rate is not held back by blast beside it.

use crate::common::uvicorn::Uvicorn;
use crate::common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/import").join(name)
}

/// Locust: `BLAST_TEST_LOCUST` (set by .ci/run), else CI's venv. Checked once per test process
/// (`locust --version` is a Python start-up, most of a second inside an exclusive test).
pub(crate) fn locust() -> String {
    static CHECKED: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    CHECKED
        .get_or_init(|| {
            let venv =
                std::env::var("HOME").map(|h| format!("{h}/.cache/blast-ci/venv/bin/locust")).unwrap_or_default();
            let bin = std::env::var("BLAST_TEST_LOCUST").unwrap_or(venv);
            let ok = Command::new(&bin).arg("--version").output().is_ok_and(|o| o.status.success());
            assert!(ok, "{bin} does not run: `bash .ci/run` installs Locust (or set BLAST_TEST_LOCUST)");
            bin
        })
        .clone()
}

/// A service of tests/data/import (`file`, a FastAPI app with `GET /stats` and
/// `POST /stats/reset`) under uvicorn (`common::uvicorn`), on a free port.
pub(crate) struct App(Uvicorn);

impl App {
    pub(crate) fn start(file: &str) -> App {
        let dir = temp_path("import-app");
        std::fs::create_dir_all(&dir).expect("dir");
        let source = std::fs::read_to_string(data(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        App(Uvicorn::start(&dir, &source, &[]))
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.0.addr)
    }

    /// What the service counted since the last reset, then a reset.
    pub(crate) fn take_stats(&self) -> serde_json::Value {
        let stats = self.0.json("GET", "/stats");
        self.0.json("POST", "/stats/reset");
        stats
    }
}

/// A counter of the service's stats (absent = 0).
pub(crate) fn n(stats: &serde_json::Value, key: &str) -> u64 {
    stats.get(key).and_then(|v| v.as_u64()).unwrap_or(0)
}

/// Runs real Locust headless on `file` (from its folder, so it finds users.csv) and returns
/// its exit code, output and its final statistics by name: (requests, failures). Locust's CSV
/// is written every few seconds and may miss the last ones; `--json-file` is the final count.
pub(crate) fn run_locust(file: &str, users: u32, secs: u32, host: &str) -> (i32, String, BTreeMap<String, (u64, u64)>) {
    let prefix = temp_path("locust");
    let out = Command::new(locust())
        .current_dir(data(""))
        .args(["-f", file, "--headless", "--only-summary", "--host", host])
        .args(["-u", &users.to_string(), "-r", &users.to_string(), "-t", &format!("{secs}s")])
        .arg("--json-file")
        .arg(&prefix)
        .output()
        .expect("run locust");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let path = PathBuf::from(format!("{}.json", prefix.display()));
    let stats = read_json(&path);
    let _ = std::fs::remove_file(&path);
    let rows = stats
        .as_array()
        .unwrap_or_else(|| panic!("{}: not a list\n{text}", path.display()))
        .iter()
        .map(|r| {
            (
                r["name"].as_str().expect("name").to_string(),
                (f(r, "/num_requests") as u64, f(r, "/num_failures") as u64),
            )
        })
        .collect();
    (out.status.code().unwrap_or(-1), text, rows)
}

/// `blast import FILE --users N --host URL -o DIR/FILE.toml`, which must translate every
/// construct (exit 0): the profile's path.
pub(crate) fn import(file: &str, users: u32, host: &str) -> PathBuf {
    let dir = temp_path("side");
    std::fs::create_dir_all(&dir).expect("dir");
    let out = dir.join(file.replace(".py", ".toml"));
    let (code, err) = blast_plain(&[
        "import",
        data(file).to_str().expect("path"),
        "--users",
        &users.to_string(),
        "--host",
        host,
        "-o",
        out.to_str().expect("path"),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("every construct translated"), "{err}");
    out
}

/// blast's report rows by name: (ok, failed), without the flow rows.
pub(crate) fn blast_rows(report: &serde_json::Value) -> BTreeMap<String, (u64, u64)> {
    let rows = report["names"].as_array().expect("names");
    rows.iter()
        .filter(|r| r["type"] != "flow")
        .map(|r| {
            (
                r["name"].as_str().expect("name").to_string(),
                (f(r, "/requests/ok") as u64, f(r, "/requests/failed") as u64),
            )
        })
        .collect()
}

/// The API mix: Locust's 10:1 tasks with one login per user and `constant_throughput(10)`.
#[test]
fn chat_mix_matches_locust_on_one_service() {
    // Exclusive: real Locust beside blast (both at once), and the rate Locust reached.
    let _g = exclusive();
    let (app, blast_app) = at_once(|| App::start("chat4all_app.py"), || App::start("chat4all_app.py"));
    let profile = import("side_chat.py", 4, &blast_app.url());
    let toml = std::fs::read_to_string(&profile).expect("profile");
    assert!(toml.contains("users = 4"), "{toml}");

    let secs = 4;
    let ((code, text, locust_rows), run) = at_once(
        || run_locust("side_chat.py", 4, secs, &app.url()),
        || blast(&["run", profile.to_str().expect("p"), "--duration", "3s"]),
    );
    let by_locust = app.take_stats();
    assert_eq!(code, 0, "{text}");
    let by_blast = blast_app.take_stats();
    assert_eq!(run.code, 0, "{}\n{toml}", run.stderr);
    let report = run.json.expect("report");
    let blast_rows = blast_rows(&report);

    // the same endpoints, no failure in either
    let names = |rows: &BTreeMap<String, (u64, u64)>| rows.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&locust_rows), names(&blast_rows), "locust {locust_rows:?}\nblast {blast_rows:?}");
    assert!(locust_rows.values().all(|(_, failed)| *failed == 0), "{locust_rows:?}");
    assert!(blast_rows.values().all(|(_, failed)| *failed == 0), "{blast_rows:?}");
    for (who, stats) in [("locust", &by_locust), ("blast", &by_blast)] {
        for bad in ["unauthorized", "bad_logins", "messages_bad_conversation", "conversation_reads_bad_limit"] {
            assert_eq!(n(stats, bad), 0, "{who}: {bad} in {stats}");
        }
        // one login per virtual user
        assert_eq!(n(stats, "logins_total"), 4, "{who}: {stats}");
    }
    // blast: every user its own row (user u takes row u of users.csv), once
    for user in ["user0", "user1", "user2", "user3"] {
        assert_eq!(by_blast["logins"][user].as_u64(), Some(1), "{by_blast}");
    }
    // each tool's figures are the service's counts (Locust may stop with a request in flight
    // that the service counted and Locust did not)
    for (name, key) in [("POST /v1/messages", "messages"), ("GET /v1/conversations", "conversation_reads")] {
        let (seen, counted) = (locust_rows[name].0, n(&by_locust, key));
        assert!(seen <= counted && counted - seen <= 4, "locust {name}: {locust_rows:?} {by_locust}");
    }
    let (messages, reads) = (n(&by_blast, "messages"), n(&by_blast, "conversation_reads"));
    assert_eq!(blast_rows["POST /v1/messages"].0, messages, "{by_blast}");
    assert_eq!(blast_rows["GET /v1/conversations"].0, reads, "{by_blast}");
    // the mix: blast exact within one cycle of 11, Locust within its random choice's spread
    assert!(messages.abs_diff(10 * reads) <= 10, "blast: {messages} messages, {reads} reads");
    let (l_messages, l_reads) = (n(&by_locust, "messages"), n(&by_locust, "conversation_reads"));
    let share = l_reads as f64 / (l_messages + l_reads).max(1) as f64;
    assert!((0.02..0.2).contains(&share), "locust read share {share:.3}: {by_locust}");
    // the rate: constant_throughput(10) for 4 users is 40 tasks/s; Locust did about that
    // (its users start within the first second), blast exactly that
    let locust_rate = (l_messages + l_reads) as f64 / secs as f64;
    assert!((24.0..=50.0).contains(&locust_rate), "locust {locust_rate}/s: {by_locust}");
    assert_eq!(messages + reads, 120, "blast 40/s for 3 s: {by_blast}");
}

/// The chunked upload: initiate, 1 MiB multipart chunks with a short last one, complete with
/// the SHA-256 of what was sent; the service checks sizes and chunk indexes itself.
#[test]
fn chunked_upload_matches_locust_on_one_service() {
    // Exclusive: real Locust beside blast (both at once).
    let _g = exclusive();
    let (app, blast_app) = at_once(|| App::start("chat4all_app.py"), || App::start("chat4all_app.py"));
    let profile = import("side_upload.py", 2, &blast_app.url());
    let toml = std::fs::read_to_string(&profile).expect("profile");
    const SIZE: u64 = 3 * 1024 * 1024 + 12345;
    const CHUNKS: u64 = 4;

    let ((code, text, locust_rows), run) = at_once(
        || run_locust("side_upload.py", 2, 4, &app.url()),
        || blast(&["run", profile.to_str().expect("p"), "--duration", "3s"]),
    );
    let by_locust = app.take_stats();
    assert_eq!(code, 0, "{text}");
    let by_blast = blast_app.take_stats();
    assert_eq!(run.code, 0, "{}\n{toml}", run.stderr);
    let report = run.json.expect("report");
    let blast_rows = blast_rows(&report);

    let names = |rows: &BTreeMap<String, (u64, u64)>| rows.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&locust_rows), names(&blast_rows), "locust {locust_rows:?}\nblast {blast_rows:?}");
    assert!(locust_rows.values().all(|(_, failed)| *failed == 0), "{locust_rows:?}");
    assert!(blast_rows.values().all(|(_, failed)| *failed == 0), "{blast_rows:?}\n{}", run.stderr);
    for (who, stats) in [("locust", &by_locust), ("blast", &by_blast)] {
        assert_eq!(n(stats, "unauthorized") + n(stats, "uploads_incomplete"), 0, "{who}: {stats}");
        assert_eq!(n(stats, "logins_total"), 2, "{who}: one login per user: {stats}");
        let completed = n(stats, "uploads_completed");
        assert!(completed >= 2, "{who}: {stats}");
        // every completed upload had its four chunks and its exact size; an upload Locust's
        // stop cut short may have sent some chunks of its own
        assert_eq!(n(stats, "upload_bytes"), completed * SIZE, "{who}: {stats}");
        let (initiated, chunks) = (n(stats, "uploads_initiated"), n(stats, "chunks"));
        assert!(chunks >= completed * CHUNKS && chunks <= initiated * CHUNKS, "{who}: {stats}");
    }
    let (seen, counted) = (locust_rows["POST /v1/files/{id}/complete"].0, n(&by_locust, "uploads_completed"));
    assert!(seen <= counted && counted - seen <= 2, "{locust_rows:?} {by_locust}");
    // blast finished every upload it started, and its rows are the service's counts
    let completed = n(&by_blast, "uploads_completed");
    assert_eq!(n(&by_blast, "uploads_initiated"), completed, "{by_blast}");
    assert_eq!(n(&by_blast, "chunks"), completed * CHUNKS, "{by_blast}");
    assert_eq!(blast_rows["POST /v1/files/{id}/complete"].0, completed, "{blast_rows:?}");
    assert_eq!(blast_rows["POST /v1/files/{id}/chunks"].0, completed * CHUNKS, "{blast_rows:?}");
    // 2 users / constant_pacing(1) = 2 uploads/s for 3 s
    assert_eq!(completed, 6, "{by_blast}");
}
