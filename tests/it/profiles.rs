//! `blast run PROFILE.toml`: every shipped profile loads, the small ones run against
//! `blast serve`, flags override the profile, and malformed profiles name file, line and field.

use crate::common::*;

fn shipped() -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .expect("profiles/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    v.sort();
    v
}

#[test]
fn every_shipped_profile_loads() {
    let profiles = shipped();
    // The three seed workloads at full scale and the seed scenarios.
    for name in [
        "chat4all-api",
        "chat4all-ws",
        "chat4all-upload",
        "chat4all-upload-api",
        "smoke",
        "load",
        "peak",
        "spike",
        "soak",
        "stress",
        "ramp-up",
    ] {
        assert!(profiles.iter().any(|p| p.file_stem().is_some_and(|s| s == name)), "profiles/{name}.toml missing");
    }
    for p in profiles {
        let path = p.to_string_lossy().to_string();
        let out = std::process::Command::new(BLAST).args(["run", &path, "--dry-run"]).output().expect("run");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{path}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.starts_with("blast ") && stdout.contains("--sla"), "{path}: {stdout}");
    }
}

#[test]
fn smoke_profile_runs_against_blast_serve_and_meets_its_sla() {
    // Shared: exact counts at 50/s; the SLA is p95 < 500 ms.
    let _g = light();
    let server = Server::start(&[]);
    let r = blast(&["run", "profiles/smoke.toml", "--target", &server.url(), "--duration", "2s"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json.expect("report");
    // The profile's rate (50/s), the override's duration.
    assert_eq!(f(&j, "/requests/completed"), 100.0);
    assert_eq!(j["sla"].as_array().map(|a| a.len()), Some(2), "the profile's two SLA targets were checked");
    assert!(r.stdout.contains("[PASS] p95"), "{}", r.stdout);
}

#[test]
fn shaped_profile_runs_scaled_down() {
    // Shared: exact counts at up to 1,000/s.
    let _g = light();
    let server = Server::start(&[]);
    // spike.toml's shape, scaled by overriding the stages (the rest comes from the profile).
    let r = blast(&["run", "profiles/spike.toml", "--target", &server.url(), "--stages", "1s:200,1s:1000,1s:200"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json.expect("report");
    assert_eq!(f(&j, "/requests/completed"), 1400.0);
}

fn write_profile(name: &str, text: &str) -> String {
    let path = temp_path(name);
    std::fs::write(&path, text).expect("write profile");
    path.to_string_lossy().to_string()
}

#[test]
fn malformed_profiles_name_the_file_line_and_field() {
    let cases = [
        ("syntax", "workload = \"api\"\n[args]\nrate = \n", ":3"),
        ("bad-value", "workload = \"api\"\n\n[args]\nrate = \"fast\"\nduration = \"1s\"\n", ":4: field 'rate'"),
        ("unknown-flag", "workload = \"api\"\n[args]\nrate = 10\nratee = 5\n", ":4: field 'ratee'"),
        ("workload", "description = \"x\"\nworkload = \"apii\"\n", ":2: field 'workload'"),
        ("sla", "workload = \"api\"\nsla = \"p42<1ms\"\n[args]\nrate = 10\n", ":2: field 'sla'"),
        ("top-level", "workload = \"api\"\nrat = 5\n", "rat"),
        ("part-size", "workload = \"upload\"\n[args]\nsize = \"1G\"\npart-size = \"1M\"\n", ":4: field 'part-size'"),
    ];
    for (name, text, needle) in cases {
        let path = write_profile(&format!("{name}.toml"), text);
        let (code, err) = blast_plain(&["run", &path, "--dry-run"]);
        assert_eq!(code, 2, "{name}: {err}");
        assert_eq!(err.lines().count(), 1, "{name}: one line: {err}");
        assert!(err.contains(&path) && err.contains(needle), "{name}: expected '{needle}' in: {err}");
        let _ = std::fs::remove_file(&path);
    }
    let (code, err) = blast_plain(&["run", "/nonexistent/profile.toml"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn a_flag_replaces_the_profiles_conflicting_fields() {
    // Shared: exact counts at 100/s.
    let _g = light();
    let server = Server::start(&[]);
    // --rate/--duration replace spike.toml's stages: the run is 100/s for 1 s, and it runs.
    let r = blast(&["run", "profiles/spike.toml", "--target", &server.url(), "--rate", "100", "--duration", "1s"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json.expect("report");
    assert_eq!(f(&j, "/requests/completed"), 100.0);
    let out = std::process::Command::new(BLAST)
        .args(["run", "profiles/spike.toml", "--rate", "100", "--duration", "5s", "--dry-run"])
        .output()
        .expect("run");
    let cmd = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!cmd.contains("--stages") && cmd.contains("--rate 100"), "{cmd}");
    // And back: --stages replaces smoke.toml's rate and duration.
    let out = std::process::Command::new(BLAST)
        .args(["run", "profiles/smoke.toml", "--stages", "1s:10", "--dry-run"])
        .output()
        .expect("run");
    let cmd = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!cmd.contains("--rate") && !cmd.contains("--duration") && cmd.contains("--stages 1s:10"), "{cmd}");
}

#[test]
fn a_bad_flag_value_is_blamed_on_the_flag_not_the_profile() {
    let (code, err) = blast_plain(&["run", "profiles/smoke.toml", "--rate", "abc", "--dry-run"]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--rate") && err.contains("abc"), "{err}");
    assert!(!err.contains("smoke.toml:"), "the profile's line is not to blame: {err}");
    // A bad value in the profile itself still points at its line.
    let path = write_profile("bad-rate.toml", "workload = \"api\"\n[args]\nrate = \"abc\"\nduration = \"1s\"\n");
    let (code, err) = blast_plain(&["run", &path, "--dry-run"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("{path}:3: field 'rate'")), "{err}");
    let _ = std::fs::remove_file(&path);
}

/// `--dry-run` of a profile with scenario tables printed a `blast api` command without them,
/// which exits 2 when run: it prints `blast run PROFILE [OVERRIDES]`, the flags as a comment.
#[test]
fn dry_run_of_a_scenario_prints_a_command_that_runs_the_scenario() {
    let out = std::process::Command::new(BLAST)
        .args(["run", "profiles/chat4all-api.toml", "--rate", "50", "--dry-run"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let (command, flags) = stdout.trim().split_once("   # ").expect("the flags follow as a comment");
    assert_eq!(command, "blast run profiles/chat4all-api.toml --rate 50", "{stdout}");
    assert!(flags.starts_with("blast api ") && flags.contains("--rate 50"), "{stdout}");
}
