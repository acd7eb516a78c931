//! The helper scripts under scripts/, run for real.

use crate::common::*;

#[test]
fn run_all_runs_the_three_workloads_and_writes_every_report() {
    // Exclusive: its SLAs ("targets met") include rates achieved.
    let _g = exclusive();
    let out = temp_path("run-all");
    // The api and ws runs 2 s each instead of the scaled-down 5 s: the same SLAs, on runs as
    // long as the accuracy tests' (which hold the rate achieved to 0.5% over 2 s).
    let status = std::process::Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/run-all.sh"))
        .args(["--cooldown", "0", "--duration", "2s", "--out"])
        .arg(&out)
        .env("BLAST", BLAST)
        .output()
        .expect("run scripts/run-all.sh");
    let stdout = String::from_utf8_lossy(&status.stdout);
    assert_eq!(status.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&status.stderr));
    for name in ["api", "ws", "upload"] {
        for suffix in [".json", ".html", "_stats.csv", "_stats_history.csv", "_failures.csv"] {
            let path = out.join(format!("{name}{suffix}"));
            assert!(path.metadata().is_ok_and(|m| m.len() > 0), "{} missing", path.display());
        }
        assert!(stdout.contains(&format!("{name:<8} exit 0  targets met")), "{stdout}");
        // The summary lists the run's warnings (generator-bound, rate shortfall, ...).
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join(format!("{name}.json"))).expect("json")).expect("report");
        for w in report["warnings"].as_array().expect("warnings") {
            let w = w.as_str().expect("text");
            let summary = stdout.split("== summary").nth(1).unwrap_or_default();
            assert!(summary.contains(&format!("warning: {w}")), "{name}: {w} missing from the summary:\n{stdout}");
        }
    }
    let _ = std::fs::remove_dir_all(&out);
}
