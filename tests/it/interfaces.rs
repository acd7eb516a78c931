//! What users and scripts rely on around a run: output paths checked before it and reports
//! replaced only when complete, `--json -` giving stdout to the JSON alone, command-line errors
//! that name what is missing or allowed, shell completions and the man page.

use crate::common::*;
use std::process::{Command, Stdio};

/// A fresh empty directory for one test's files.
fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = temp_path(name);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    v.sort();
    v
}

fn s(p: &std::path::Path) -> String {
    p.to_string_lossy().into_owned()
}

#[test]
fn a_bad_output_path_fails_before_the_run_and_touches_no_file() {
    // Shared: files and exit codes; a refusal is ms, its bound 900 ms.
    let _g = light();
    let server = Server::start(&[]);
    let dir = temp_dir("outputs");
    let precious = dir.join("precious.json");
    std::fs::write(&precious, "{\"keep\": true}\n").expect("write");
    let run = |extra: &[&str]| {
        let mut args = vec!["api", "--rate", "50", "--duration", "1s", "--quiet", "--target"];
        let url = server.url();
        args.push(&url);
        args.extend_from_slice(extra);
        blast_plain(&args)
    };
    let (precious_s, fresh) = (s(&precious), s(&dir.join("fresh.json")));
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--json".into(), precious_s.clone(), "--html".into(), "/nonexistent/x.html".into()], "does not exist"),
        (vec!["--json".into(), fresh.clone(), "--html".into(), "/nonexistent/x.html".into()], "does not exist"),
        (vec!["--json".into(), precious_s.clone(), "--html".into(), precious_s.clone()], "same file"),
        (vec!["--csv".into(), s(&dir.join("r")), "--json".into(), s(&dir.join("r_stats.csv"))], "same file"),
        (vec!["--json".into(), precious_s.clone(), "--hdr-log".into(), s(&dir)], "is a directory"),
        (vec!["--json".into(), precious_s.clone(), "--html".into(), "-".into()], "only for --json"),
    ];
    for (extra, why) in cases {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let started = std::time::Instant::now();
        let (code, err) = run(&extra);
        assert_eq!(code, 2, "{extra:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{extra:?}: one line: {err}");
        assert!(err.contains(why), "{extra:?}: expected '{why}' in {err}");
        assert!(started.elapsed() < std::time::Duration::from_millis(900), "{extra:?}: refused before the 1 s run");
        assert_eq!(std::fs::read_to_string(&precious).expect("precious"), "{\"keep\": true}\n", "{extra:?}");
        assert_eq!(files_in(&dir), vec!["precious.json"], "{extra:?}: no file created, none left behind");
    }
    // A good run replaces every report whole and leaves no temporary file beside them.
    let (html, log, prefix) = (s(&dir.join("r.html")), s(&dir.join("r.hlog")), s(&dir.join("r")));
    let (code, err) = run(&["--json", &precious_s, "--html", &html, "--hdr-log", &log, "--csv", &prefix]);
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&precious).expect("json")).expect("a whole JSON report");
    assert_eq!(f(&report, "/requests/completed"), 50.0);
    assert_eq!(
        files_in(&dir),
        vec![
            "precious.json",
            "r.hlog",
            "r.html",
            "r_exceptions.csv",
            "r_failures.csv",
            "r_stats.csv",
            "r_stats_history.csv"
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `blast args`, stdout piped into a JSON parser (serde_json reads the whole stream: any
/// text besides the one JSON document fails it); returns the document and stderr.
fn json_from_stdout(args: &[&str]) -> (i32, serde_json::Value, String) {
    let out = Command::new(BLAST).args(args).stdin(Stdio::null()).output().expect("run blast");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let value: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: stdout is not only JSON ({e}): {stdout}"));
    (out.status.code().unwrap_or(-1), value, stderr.into_owned())
}

#[test]
fn json_dash_gives_stdout_to_the_json_alone() {
    // Shared: the shape of stdout, exact counts at 100/s.
    let _g = light();
    let server = Server::start(&["--s3-listen", "127.0.0.1:0"]);
    let url = server.url();
    let (code, api, err) =
        json_from_stdout(&["api", "--rate", "100", "--duration", "1s", "--target", &url, "--json", "-"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(f(&api, "/requests/completed"), 100.0);
    assert!(err.contains("blast api") && err.contains("p99"), "the summary goes to stderr: {err}");

    let ws_url = format!("ws://{}/ws", server.addr);
    let ws_args = ["ws", "--target", &ws_url, "--conns", "20", "--duration", "1s", "--probe-rate", "10", "--json", "-"];
    let (code, ws, err) = json_from_stdout(&ws_args);
    assert_eq!(code, 0, "{err}");
    assert_eq!(ws["workload"], "ws", "{err}");

    let s3 = server.s3.clone().expect("s3");
    let up = ["upload", "--target", &s3, "--size", "10M", "--part-size", "5M", "--uploads", "2", "--json", "-"];
    let (code, upload, err) = json_from_stdout(&up);
    assert_eq!(code, 0, "{err}");
    assert_eq!(upload["workload"], "upload", "{err}");

    let base = temp_path("base.json");
    std::fs::write(&base, serde_json::to_string(&api).expect("json")).expect("write");
    let base = s(&base);
    let (code, deltas, err) = json_from_stdout(&["compare", &base, &base, "--json", "-"]);
    assert_eq!(code, 0, "{err}");
    assert!(deltas.as_array().is_some_and(|d| !d.is_empty()), "{deltas}");
    assert!(err.contains("PASS"), "the table goes to stderr: {err}");

    let (code, merged, err) = json_from_stdout(&["merge", &base, "--json", "-"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(f(&merged, "/requests/completed"), 100.0);
    let _ = std::fs::remove_file(&base);
}

#[test]
fn usage_errors_name_what_is_missing_or_allowed() {
    let cases: [(&[&str], &[&str]); 5] = [
        (&["merge"], &["<REPORTS>"]),
        (&["compare", "a.json"], &["<CURRENT>"]),
        (&["serve", "--stall-every", "1s"], &["--stall-for"]),
        (&["api", "--arrival", "weird", "--rate", "1"], &["weird", "constant", "poisson"]),
        (&["compare", "a.json", "b.json", "--min-delta", "3parsecs"], &["--min-delta", "parsecs"]),
    ];
    for (args, needles) in cases {
        let (code, err) = blast_plain(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
        for n in needles {
            assert!(err.contains(n), "{args:?}: expected '{n}' in: {err}");
        }
    }
}

#[test]
fn completions_and_man_page_come_from_the_flags() {
    let run = |args: &[&str]| {
        let out = Command::new(BLAST).args(args).output().expect("run blast");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for shell in ["bash", "zsh", "fish"] {
        let script = run(&["completions", shell]);
        for needle in ["blast", "api", "compare", "min-delta", "csv-full-history", "stall-for"] {
            assert!(script.contains(needle), "{shell} completions lack {needle}");
        }
    }
    // bash itself reads the script and completes `blast com` to the commands that start so.
    let bash = run(&["completions", "bash"]);
    let probe = format!(
        "{bash}\nCOMP_WORDS=(blast com); COMP_CWORD=1; COMP_LINE='blast com'; COMP_POINT=9; _blast blast com blast; echo \"${{COMPREPLY[@]}}\""
    );
    let out = Command::new("bash").args(["--norc", "-c", &probe]).output().expect("bash");
    let words = String::from_utf8_lossy(&out.stdout);
    assert!(words.contains("compare") && words.contains("completions"), "{words}");
    let man = run(&["man"]);
    assert!(man.starts_with(".ie") || man.contains(".TH blast 1"), "roff: {}", &man[..man.len().min(200)]);
    for needle in [".SH NAME", ".SS \"blast api\"", ".SS \"blast compare\"", "min\\-delta"] {
        assert!(man.contains(needle), "man page lacks {needle}");
    }
    // `man` renders it when it is installed (the roff is what matters: checked above).
    let page = temp_path("blast.1");
    std::fs::write(&page, &man).expect("write");
    if let Ok(out) = Command::new("man").arg("-l").arg(&page).env("MANPAGER", "cat").env("COLUMNS", "100").output() {
        if out.status.success() {
            assert!(
                String::from_utf8_lossy(&out.stdout).contains("BLAST API")
                    || String::from_utf8_lossy(&out.stdout).contains("blast api")
            );
        }
    }
    let _ = std::fs::remove_file(&page);
}
