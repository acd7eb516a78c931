//! Sharded runs: two `blast api|ws|upload --shard I/2` processes started together by
//! scripts/shards.sh, merged by `blast merge`; counts add up exactly and the merged percentiles
//! are those of the union of both shards' histograms. Plus the Kubernetes manifest, checked
//! field by field.

use crate::common::s3::start_s3s_fs;
use crate::common::*;
use base64::Engine as _;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;

fn histogram(v: &serde_json::Value, path: &str) -> Histogram<u64> {
    let b64 = v.pointer(path).and_then(|x| x.as_str()).unwrap_or_else(|| panic!("missing {path}"));
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).expect("base64");
    Deserializer::new().deserialize(&mut bytes.as_slice()).expect("histogram")
}

fn read(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).expect("json")
}

/// Runs scripts/shards.sh with `args`; returns shard 0's, shard 1's and the merged report.
fn run_shards(args: &[&str]) -> (serde_json::Value, serde_json::Value, serde_json::Value) {
    let out = temp_path("shards");
    let status = std::process::Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/shards.sh"))
        .args(args)
        .env("BLAST", BLAST)
        .env("OUT", &out)
        .output()
        .expect("run scripts/shards.sh");
    let stdout = String::from_utf8_lossy(&status.stdout);
    let log = |i: usize| std::fs::read_to_string(out.join(format!("shard-{i}.txt"))).unwrap_or_default();
    assert_eq!(
        status.status.code(),
        Some(0),
        "{stdout}{}\nshard 0: {}\nshard 1: {}",
        String::from_utf8_lossy(&status.stderr),
        log(0),
        log(1)
    );
    let reports = (read(&out.join("shard-0.json")), read(&out.join("shard-1.json")), read(&out.join("total.json")));
    let _ = std::fs::remove_dir_all(&out);
    reports
}

/// The merged histogram at `path` is the union of the shards' ones, and the merged report's
/// percentiles (at `pct`, in ms) are read from it.
fn assert_union(a: &serde_json::Value, b: &serde_json::Value, total: &serde_json::Value, path: &str, pct: &str) {
    let mut union = histogram(a, path);
    union.add(histogram(b, path)).expect("same bounds");
    assert_eq!(union, histogram(total, path), "{path}");
    for (q, p) in [(0.5, "p50"), (0.99, "p99"), (0.999, "p99_9")] {
        assert_eq!(union.value_at_quantile(q) as f64 / 1000.0, f(total, &format!("{pct}/{p}")), "{pct}/{p}");
    }
    assert_eq!(union.max() as f64 / 1000.0, f(total, &format!("{pct}/max")));
    assert_eq!(union.len() as f64, f(total, &format!("{pct}/count")));
}

/// blast's CPU in the merged report: the shards' CPU seconds add up, and each shard's cores'
/// busy shares are listed apart, shard by shard.
fn assert_cpu_adds_up(a: &serde_json::Value, b: &serde_json::Value, total: &serde_json::Value) {
    let cpu = |v: &serde_json::Value, p: &str| f(v, &format!("/blast_cpu/{p}"));
    for p in ["user_s", "sys_s"] {
        assert!((cpu(total, p) - cpu(a, p) - cpu(b, p)).abs() < 1e-6, "{p}: {}", total["blast_cpu"]);
    }
    let by_shard = serde_json::json!([a["blast_cpu"]["core_busy_pct"], b["blast_cpu"]["core_busy_pct"]]);
    assert_eq!(total["blast_cpu"]["core_busy_pct_by_shard"], by_shard, "{}", total["blast_cpu"]);
}

#[test]
fn two_shards_merge_into_one_exact_run() {
    // Exclusive: rate achieved within 1%, 2,000/s.
    let _g = exclusive();
    let (a, b, total) = run_shards(&["2", "--rate", "2000", "--duration", "2s", "--cores", "1", "--conns", "10"]);
    assert_eq!(a["plan"]["shard"], "0/2");
    assert_eq!(b["plan"]["shard"], "1/2");
    // Each shard sent half of the schedule; the merged run is the whole schedule, exactly.
    for (shard, name) in [(&a, "shard 0"), (&b, "shard 1")] {
        assert_eq!(f(shard, "/requests/sent"), 2000.0, "{name}");
        assert!((f(shard, "/rate_ratio") - 1.0).abs() < 0.01, "{name}: its share of the rate");
    }
    for path in ["/requests/sent", "/requests/completed", "/requests/ok", "/bytes_in", "/bytes_out"] {
        assert_eq!(f(&total, path), f(&a, path) + f(&b, path), "{path}");
    }
    assert_eq!(f(&total, "/requests/scheduled"), 4000.0);
    assert!((f(&total, "/rate_ratio") - 1.0).abs() < 0.01);
    assert_eq!(total["plan"]["shard"], serde_json::Value::Null);
    // merged_plan_keeps_the_coalesce_window: the merged plan line said "coalesced to 0 us".
    assert_eq!(f(&total, "/plan/coalesce_us"), f(&a, "/plan/coalesce_us"));
    assert!(f(&total, "/plan/coalesce_us") > 0.0, "the default window is 200 us");
    // Merged percentiles are those of the union of the two shards' histograms.
    assert_union(&a, &b, &total, "/raw/total/latency", "/latency_ms");
    // Per-second rows add up too.
    let seconds: f64 = total["timeline"].as_array().expect("timeline").iter().map(|s| f(s, "/sent")).sum();
    assert_eq!(seconds, 4000.0);
}

#[test]
fn ws_shards_account_probes_across_shards() {
    // Shared: exact counts across shards.
    let _g = light();
    // 3 rooms over 2 shards: connection g is in room g mod 3 and on shard g mod 2, so every
    // room has subscribers on both shards, and only the merge sees whole deliveries.
    let (a, b, total) = run_shards(&[
        "2",
        "ws",
        "--conns",
        "90",
        "--rooms",
        "3",
        "--connect-rate",
        "900",
        "--duration",
        "2s",
        "--probe-rate",
        "15",
        "--cores",
        "1",
        "--timeout",
        "2s",
    ]);
    assert_eq!(a["plan"]["shard"], "0/2");
    assert_eq!(f(&a, "/connections/planned"), 45.0);
    assert_eq!(f(&b, "/connections/planned"), 45.0);
    assert_eq!(f(&b, "/probes/sent"), 0.0, "only shard 0 publishes");
    let probes = f(&a, "/probes/sent");
    assert!(probes >= 29.0, "{probes} probes");
    assert_eq!(f(&total, "/connections/planned"), 90.0);
    for path in ["/connections/established", "/connections/attempted", "/messages_received"] {
        assert_eq!(f(&total, path), f(&a, path) + f(&b, path), "{path}");
    }
    assert_eq!(f(&total, "/connections/established"), 90.0);
    // Each probe reaches the 30 subscribers of its room, 15 on each shard: exactly.
    assert_eq!(f(&total, "/probes/sent"), probes);
    assert_eq!(f(&total, "/probes/expected_deliveries"), probes * 30.0);
    assert_eq!(f(&total, "/probes/delivered"), probes * 30.0);
    assert_eq!(f(&total, "/probes/missing"), 0.0);
    assert_eq!(f(&total, "/probes/unexpected"), 0.0);
    assert_eq!(f(&total, "/probes/complete_probes"), probes);
    // Each shard alone sees half: shard 0 knows the probes but holds half of each room, shard 1
    // received the other half of probes it never sent (unknown to it until the merge).
    assert_eq!(f(&a, "/probes/expected_deliveries"), probes * 15.0);
    assert_eq!(f(&b, "/probes/expected_deliveries"), 0.0);
    assert_eq!(f(&b, "/probes/unexpected"), probes * 15.0);
    assert_union(&a, &b, &total, "/raw/tally/delivery", "/delivery_ms");
    // Per-second deliveries line up on the wall clock and add up too.
    let per_second: f64 = total["timeline"].as_array().expect("timeline").iter().map(|s| f(s, "/count")).sum();
    assert_eq!(per_second, probes * 30.0);
    assert_union(&a, &b, &total, "/raw/tally/connect", "/connect_ms");
    assert_eq!(total["plan"]["shard"], serde_json::Value::Null);
    assert_cpu_adds_up(&a, &b, &total);
}

#[test]
fn upload_shards_split_the_objects_and_merge_exactly() {
    // Shared: exact counts on disk.
    let _g = shared();
    // s3s-fs (third party) stores what each shard uploads, so the split is checked on disk.
    let root = temp_path("shards-s3s-fs");
    std::fs::create_dir_all(&root).expect("root");
    let target = start_s3s_fs(&root);
    let (a, b, total) = run_shards(&[
        "2",
        "upload",
        "--target",
        &target,
        "--access-key",
        "fs-access",
        "--secret-key",
        "fs-secret",
        "--size",
        "12M",
        "--part-size",
        "5M",
        "--parallel",
        "3",
        "--uploads",
        "5",
        "--keep",
        "--key-prefix",
        "sharded/",
        "--seed",
        "9",
        "--cores",
        "1",
    ]);
    // Objects 0, 2, 4 on shard 0 (2 of the 3 slots), 1 and 3 on shard 1.
    assert_eq!(f(&a, "/uploads/completed"), 3.0);
    assert_eq!(f(&b, "/uploads/completed"), 2.0);
    for path in ["/uploads/started", "/uploads/completed", "/uploads/verified", "/parts/ok", "/bytes_acked"] {
        assert_eq!(f(&total, path), f(&a, path) + f(&b, path), "{path}");
    }
    assert_eq!(f(&total, "/uploads/completed"), 5.0);
    assert_eq!(f(&total, "/parts/ok"), 15.0);
    assert_eq!(f(&total, "/bytes_acked"), 5.0 * 12.0 * 1048576.0);
    assert_union(&a, &b, &total, "/raw/tally/part", "/part_ms");
    assert_union(&a, &b, &total, "/raw/tally/object", "/object_ms");
    // The five objects of one run, each the bytes a single run would have sent for it.
    let pool = blast::workloads::upload::data::DataPool::new(9, 5 << 20);
    for object in 0..5u64 {
        let stored = std::fs::read(root.join(format!("blast/sharded/{object:06}"))).expect("stored object");
        let mut expected = 0u32;
        for (number, len) in [(1u32, 5usize << 20), (2, 5 << 20), (3, 2 << 20)] {
            expected = crc32c::crc32c_append(expected, &pool.part(object, number, len));
        }
        assert_eq!(crc32c::crc32c(&stored), expected, "object {object}");
    }
    assert!(!root.join("blast/sharded/000005").exists(), "no object beyond --uploads");
    let _ = std::fs::remove_dir_all(&root);
    assert_cpu_adds_up(&a, &b, &total);
}

#[test]
fn merged_api_shards_keep_the_time_beyond_the_target_and_blasts_cpu() {
    // Shared: merged sums of the shards' own figures.
    let _g = light();
    // A target that reports its own time (`x-blast-hold-us`) on every answer.
    let server = Server::start(&["--delay", "2ms"]);
    let url = server.url();
    let args = ["2", "--rate", "400", "--duration", "2s", "--cores", "1", "--conns", "4", "--target", &url];
    let (a, b, total) = run_shards(&args);
    assert_union(&a, &b, &total, "/raw/beyond_target/service", "/beyond_target/service_ms");
    assert_union(&a, &b, &total, "/raw/beyond_target/latency", "/beyond_target/latency_ms");
    assert_cpu_adds_up(&a, &b, &total);
    assert_eq!(f(&total, "/blast_cpu/units"), f(&total, "/requests/sent"));
    // Shard reports of earlier versions carry neither: still merged, without them.
    let dir = ReportDir::new("old-shards");
    let paths: Vec<String> = [(&a, "a.json"), (&b, "b.json")]
        .into_iter()
        .map(|(shard, name)| {
            let mut old = shard.clone();
            let raw = old["raw"].as_object_mut().expect("raw");
            assert!(raw.remove("beyond_target").is_some() && raw.remove("cpu").is_some());
            std::fs::write(dir.path(name), old.to_string()).expect("write");
            dir.path(name)
        })
        .collect();
    let merged = dir.path("total.json");
    let (code, err) = blast_plain(&["merge", &paths[0], &paths[1], "--quiet", "--json", &merged]);
    assert!(code == 0 || code == 1, "{err}");
    let old = read_json(&merged);
    assert_eq!(f(&old, "/requests/sent"), f(&total, "/requests/sent"));
    assert!(old.get("beyond_target").is_none() && old.get("blast_cpu").is_none(), "{old}");
}

#[test]
fn merge_refuses_reports_that_are_not_one_run() {
    // Shared: exit codes of merge.
    let _g = light();
    let server = Server::start(&[]);
    let (x, y) = (temp_path("m0.json"), temp_path("m1.json"));
    for (shard, rate, path) in [("0/2", "400", &x), ("1/2", "800", &y)] {
        let out = std::process::Command::new(BLAST)
            .args([
                "api",
                "--rate",
                rate,
                "--duration",
                "1s",
                "--cores",
                "1",
                "--quiet",
                "--shard",
                shard,
                "--target",
                &server.url(),
                "--json",
            ])
            .arg(path)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(0));
    }
    let (xs, ys) = (x.to_string_lossy().to_string(), y.to_string_lossy().to_string());
    for (args, needle) in [
        (vec![xs.as_str(), ys.as_str()], "not shards of the same run"),
        (vec![xs.as_str(), xs.as_str()], "appears twice"),
        (vec![xs.as_str()], "missing"),
    ] {
        let mut all = vec!["merge"];
        all.extend(args);
        let (code, err) = blast_plain(&all);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(needle), "{needle}: {err}");
    }
}

#[test]
fn kubernetes_manifest_runs_each_index_as_its_shard() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/k8s/blast-shards.yaml"))
        .expect("manifest");
    let docs: Vec<serde_yaml::Value> = serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).expect("valid YAML"))
        .collect();
    let job = docs.iter().find(|d| d["kind"] == "Job").expect("a Job");
    assert_eq!(job["apiVersion"], "batch/v1");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let n = spec["completions"].as_u64().expect("completions");
    assert_eq!(spec["parallelism"].as_u64(), Some(n), "all shards run at once");
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    let c = &pod["containers"][0];
    let args: Vec<String> =
        c["args"].as_sequence().expect("args").iter().map(|a| a.as_str().expect("string arg").to_string()).collect();
    let after =
        |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned().unwrap_or_default();
    assert_eq!(args[0], "api");
    assert_eq!(after("--shard"), format!("$(JOB_COMPLETION_INDEX)/{n}"));
    assert_eq!(after("--start-at"), "$(START_AT)");
    let json = after("--json");
    let mount = c["volumeMounts"][0]["mountPath"].as_str().expect("mount");
    assert!(json.starts_with(mount) && json.contains("$(JOB_COMPLETION_INDEX)"), "{json} under {mount}");
    let env: Vec<&str> = c["env"].as_sequence().expect("env").iter().filter_map(|e| e["name"].as_str()).collect();
    assert!(env.contains(&"START_AT") && env.contains(&"TARGET"));
    // The flags the pod passes are flags blast api accepts (checked with a dry run of the same
    // command line, with the Kubernetes substitutions filled in).
    let start =
        (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() + 60).to_string();
    let filled: Vec<String> = args
        .iter()
        .map(|a| {
            a.replace("$(JOB_COMPLETION_INDEX)", "0")
                .replace("$(START_AT)", &start)
                .replace("$(TARGET)", "http://127.0.0.1:9/v1/messages")
        })
        .map(|a| a.replace("/results/", &format!("{}/", std::env::temp_dir().display())))
        .collect();
    let profile = temp_path("k8s.toml");
    let mut toml = String::from("workload = \"api\"\n[args]\n");
    let mut i = 1;
    while i < filled.len() {
        let key = filled[i].trim_start_matches("--");
        match filled.get(i + 1).filter(|v| !v.starts_with("--")) {
            Some(v) => {
                toml.push_str(&format!("{key} = {v:?}\n"));
                i += 2;
            }
            None => {
                toml.push_str(&format!("{key} = true\n"));
                i += 1;
            }
        }
    }
    std::fs::write(&profile, toml).expect("profile");
    let (code, err) = blast_plain(&["run", &profile.to_string_lossy(), "--dry-run"]);
    assert_eq!(code, 0, "{err}");
}
