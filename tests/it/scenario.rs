//! Scenarios (`blast run FILE.toml` with `[[request]]`, `[[flow]]`, `[[on_start]]`, `[data]`)
//! against the real `blast serve` (a separate process): the mix is exact per name, a login
//! runs once per user (the server counts logins), the application's upload API receives every
//! chunk in order (the server checks each), per-name CSV rows and SLAs, merged shards.

use crate::common::*;
use std::path::{Path, PathBuf};

/// A scenario directory: `scenario.toml` (with `TARGET` replaced) and `users.csv`.
fn scenario(toml: &str, target: &str, users: usize) -> PathBuf {
    let dir = temp_path("scenario");
    std::fs::create_dir_all(&dir).expect("dir");
    let mut csv = String::from("name,password,conversation\n");
    for u in 0..users {
        csv.push_str(&format!("user{u},pw{u},conv-{}\n", u % 3));
    }
    std::fs::write(dir.join("users.csv"), csv).expect("users");
    std::fs::write(dir.join("scenario.toml"), toml.replace("TARGET", target)).expect("toml");
    dir.join("scenario.toml")
}

fn get_json(addr: &str, path: &str) -> serde_json::Value {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").expect("write");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    let body = text.split("\r\n\r\n").nth(1).expect("body");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

fn by_name<'a>(j: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    j["names"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["name"] == name))
        .unwrap_or_else(|| panic!("no row {name} in {}", j["names"]))
}

const MIX: &str = r#"
workload = "api"

[args]
target = "TARGET"
rate = 1100
duration = "2s"
cores = 2
conns = 8

[data]
users = { file = "users.csv" }

[[request]]
name = "POST /v1/messages"
weight = 10
method = "POST"
path = "/v1/messages"
headers = { Authorization = "Bearer {{user.name}}" }
body = '{"conversation_id":"{{user.conversation}}","content":"{{random_text 64}}","client_ts":{{now_ms}}}'

[[request]]
name = "GET /v1/conversations"
weight = 1
method = "GET"
path = "/v1/conversations?limit=20"
"#;

#[test]
fn ten_to_one_mix_is_exact_per_name_with_locust_rows() {
    mix_is_exact_per_name("");
}

/// The mix on the batched ring (`--io ring`): the same requests, rendered by the same
/// templates, the same counts per name.
#[test]
fn ten_to_one_mix_is_exact_per_name_on_the_ring() {
    require_uring();
    mix_is_exact_per_name("ring");
}

fn mix_is_exact_per_name(io: &str) {
    // Shared: exact counts per name.
    let _g = moderate();
    let server = Server::start(&[]);
    let file = scenario(MIX, &format!("http://{}", server.addr), 4);
    let csv = temp_path("mix");
    let csv = csv.to_str().expect("path");
    let mut args = vec!["run", file.to_str().expect("path"), "--csv", csv];
    if !io.is_empty() {
        args.extend(["--io", io]);
    }
    let r = blast(&args);
    let j = r.json.expect("json report");
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    if !io.is_empty() {
        assert_eq!(io_name(&j), io, "{}", r.stdout);
    }
    // 1,100/s for 2 s on 2 cores: 1,100 arrivals per core, 100 whole cycles of 11 each.
    let post = by_name(&j, "POST /v1/messages");
    let get = by_name(&j, "GET /v1/conversations");
    assert_eq!(f(post, "/requests/completed"), 2000.0, "{}", r.stdout);
    assert_eq!(f(get, "/requests/completed"), 200.0, "{}", r.stdout);
    assert_eq!(f(post, "/status_codes/202"), 2000.0);
    assert_eq!(f(get, "/status_codes/200"), 200.0);
    assert_eq!(post["type"], "POST");
    assert_eq!(get["type"], "GET");
    assert!((f(get, "/share/planned") - 1.0 / 11.0).abs() < 1e-9);
    assert!((f(get, "/share/achieved") - 1.0 / 11.0).abs() < 1e-9);
    assert_eq!(f(&j, "/requests/completed"), 2200.0);
    // The text report has a table per name.
    assert!(r.stdout.contains("GET /v1/conversations"), "{}", r.stdout);
    // Locust's stats CSV: one row per name (Type = method), then Aggregated.
    let stats = std::fs::read_to_string(format!("{csv}_stats.csv")).expect("stats csv");
    let rows: Vec<Vec<&str>> = stats.lines().skip(1).map(|l| l.split(',').collect()).collect();
    let row = |name: &str| rows.iter().find(|r| r[1] == name).unwrap_or_else(|| panic!("{name} in\n{stats}"));
    assert_eq!(row("POST /v1/messages")[0], "POST");
    assert_eq!(row("POST /v1/messages")[2], "2000");
    assert_eq!(row("GET /v1/conversations")[0], "GET");
    assert_eq!(row("GET /v1/conversations")[2], "200");
    assert_eq!(row("Aggregated")[2], "2200");
    assert_eq!(rows.last().map(|r| r[1]), Some("Aggregated"));
}

#[test]
fn per_name_sla_decides_the_exit_code() {
    // Shared: SLAs of 2 s and 1 us: either side by far.
    let _g = moderate();
    let server = Server::start(&[]);
    let file = scenario(MIX, &format!("http://{}", server.addr), 4);
    let file = file.to_str().expect("path");
    let ok = blast(&["run", file, "--duration", "1s", "--sla", "GET /v1/conversations:p95<2s,p99<2s"]);
    assert_eq!(ok.code, 0, "{}", ok.stdout);
    assert!(ok.stdout.contains("[PASS] GET /v1/conversations: p95"), "{}", ok.stdout);
    let missed = blast(&["run", file, "--duration", "1s", "--sla", "GET /v1/conversations:p95<1us"]);
    assert_eq!(missed.code, 1, "{}", missed.stdout);
    assert!(missed.stdout.contains("[FAIL] GET /v1/conversations: p95"), "{}", missed.stdout);
    let unknown = blast(&["run", file, "--duration", "1s", "--sla", "GET /nope:p95<1s"]);
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
    assert!(unknown.stderr.contains("GET /nope"), "{}", unknown.stderr);
}

const LOGIN: &str = r#"
workload = "api"

[args]
target = "TARGET"
rate = 300
duration = "2s"
cores = 2
conns = 8

[data]
users = { file = "users.csv" }

[[flow]]
name = "login, then post"
steps = [
  { name = "POST /auth/login", method = "POST", path = "/auth/login", body = '{"username":"{{user.name}}","password":"{{user.password}}"}', capture = { token = "/access_token" }, scope = "user" },
  { name = "POST /v1/messages (new token)", method = "POST", path = "/v1/messages", headers = { Authorization = "Bearer {{token}}" }, body = '{"conversation_id":"{{user.conversation}}","content":"hi"}' },
]
"#;

#[test]
fn login_flow_logs_in_once_per_user_and_reuses_the_token() {
    // Shared: exact counts against the server.
    let _g = light();
    let server = Server::start(&["--require-auth"]);
    let file = scenario(LOGIN, &format!("http://{}", server.addr), 6);
    let r = blast(&["run", file.to_str().expect("path")]);
    let j = r.json.expect("json report");
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let logins = get_json(&server.addr, "/stats/logins");
    assert_eq!(logins["total"], 6, "{logins}");
    for u in 0..6 {
        assert_eq!(logins["users"][format!("user{u}")], 1, "{logins}");
    }
    // 600 iterations: 6 logins, 600 posts with the captured token, all accepted.
    assert_eq!(f(by_name(&j, "POST /auth/login"), "/requests/completed"), 6.0, "{}", r.stdout);
    let post = by_name(&j, "POST /v1/messages (new token)");
    assert_eq!(f(post, "/status_codes/202"), 600.0, "{}", r.stdout);
    let flow = by_name(&j, "login, then post");
    assert_eq!(flow["type"], "flow");
    assert_eq!(f(flow, "/requests/completed"), 600.0);
    assert_eq!(f(flow, "/requests/failed"), 0.0);
}

#[test]
fn expired_tokens_are_dropped_and_the_user_logs_in_again() {
    // Exclusive: "no more 401s than logins" holds while requests do not queue behind one another
    // (each request in flight with the expired token gets its own 401; one login follows).
    let _g = exclusive();
    let server = Server::start(&["--require-auth", "--token-ttl", "700ms"]);
    let file = scenario(LOGIN, &format!("http://{}", server.addr), 2);
    let r = blast(&["run", file.to_str().expect("path"), "--rate", "100", "--duration", "3s"]);
    let j = r.json.expect("json report");
    let logins = get_json(&server.addr, "/stats/logins");
    let total = logins["total"].as_u64().expect("total");
    // A token lives 0.7 s: each of the 2 users logs in again after a 401, a few times in 3 s.
    assert!(total >= 4, "{logins}\n{}", r.stdout);
    let unauthorized = f(by_name(&j, "POST /v1/messages (new token)"), "/status_codes/401");
    assert!(unauthorized >= 1.0 && unauthorized <= total as f64, "401s {unauthorized}, logins {total}\n{}", r.stdout);
}

const UPLOAD: &str = r#"
workload = "api"

[args]
target = "TARGET"
rate = 4
duration = "1s"
cores = 1
conns = 4
timeout = "30s"

[[flow]]
name = "upload 64 MiB"
steps = [
  { name = "POST /v1/files/initiate", path = "/v1/files/initiate", body = '{"filename":"f-{{seq}}.bin","size":67108864,"chunk_size":8388608}', capture = { upload_id = "/upload_id" } },
  { name = "POST /v1/files/{id}/chunks", path = "/v1/files/{{upload_id}}/chunks?index={{i}}", body = { random_bytes = "8M" }, repeat = 8 },
  { name = "POST /v1/files/{id}/complete", method = "POST", path = "/v1/files/{{upload_id}}/complete" },
]
"#;

#[test]
fn upload_flow_sends_every_chunk_through_the_application_api() {
    // Shared: exact counts against the server.
    let _g = shared();
    let server = Server::start(&[]);
    let file = scenario(UPLOAD, &format!("http://{}", server.addr), 1);
    let r = blast(&["run", file.to_str().expect("path")]);
    let j = r.json.expect("json report");
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let stats = get_json(&server.addr, "/stats/uploads");
    assert_eq!(stats["completed"], 4, "{stats}");
    assert_eq!(stats["completed_chunks"], 32, "{stats}");
    assert_eq!(stats["completed_bytes"], 4 * 64 * 1024 * 1024, "{stats}");
    assert_eq!(stats["rejected_chunks"], 0, "{stats}");
    assert_eq!(f(by_name(&j, "POST /v1/files/{id}/chunks"), "/status_codes/200"), 32.0, "{}", r.stdout);
    assert_eq!(f(by_name(&j, "POST /v1/files/{id}/complete"), "/status_codes/200"), 4.0);
    assert_eq!(f(by_name(&j, "upload 64 MiB"), "/requests/completed"), 4.0);
}

#[test]
fn two_merged_shards_keep_per_name_counts_exact() {
    // Shared: exact counts per name.
    let _g = light();
    let server = Server::start(&[]);
    let file = scenario(MIX, &format!("http://{}", server.addr), 4);
    let file = file.to_str().expect("path");
    let start =
        (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() + 2).to_string();
    let (a, b) = (temp_path("shard0.json"), temp_path("shard1.json"));
    let shard =
        |i: &str, out: &Path| spawn_blast(&["run", file, "--cores", "1", "--shard", i, "--start-at", &start], out);
    let (mut p0, mut p1) = (shard("0/2", &a), shard("1/2", &b));
    assert!(p0.wait().expect("shard 0").code().is_some_and(|c| c == 0));
    assert!(p1.wait().expect("shard 1").code().is_some_and(|c| c == 0));
    let log = temp_path("merged.hlog");
    let merged = blast(&[
        "merge",
        a.to_str().expect("path"),
        b.to_str().expect("path"),
        "--hdr-log",
        log.to_str().expect("path"),
    ]);
    let j = merged.json.expect("merged json");
    // The merged hdr log has the run's tags and one per name.
    let text = std::fs::read_to_string(&log).expect("hdr log");
    for tag in ["Tag=latency,", "Tag=name.POST_/v1/messages,", "Tag=name.GET_/v1/conversations,"] {
        assert!(text.contains(tag), "{tag} missing from the merged hdr log");
    }
    assert_eq!(f(by_name(&j, "POST /v1/messages"), "/requests/completed"), 2000.0, "{}", merged.stdout);
    assert_eq!(f(by_name(&j, "GET /v1/conversations"), "/requests/completed"), 200.0, "{}", merged.stdout);
}

#[test]
fn bad_scenarios_stop_before_any_request_with_file_line_and_field() {
    // Shared: refusals, nothing sent.
    let _g = light();
    let server = Server::start(&[]);
    let target = format!("http://{}", server.addr);
    let cases = [
        ("weight = 10", "weight = 0", "field 'weight'"),
        ("{{random_text 64}}", "{{random_txt 64}}", "field 'body'"),
        ("{{user.conversation}}", "{{user.room}}", "no column 'room'"),
        ("method = \"GET\"", "method = \"GET\"\ncolour = \"red\"", "colour"),
    ];
    for (from, to, expect) in cases {
        let file = scenario(&MIX.replace(from, to), &target, 4);
        let (code, stderr) = blast_plain(&["run", file.to_str().expect("path")]);
        assert_eq!(code, 2, "{to}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains("scenario.toml:") && stderr.contains(expect), "{to}: {stderr}");
    }
    let file = scenario(&LOGIN.replace("Bearer {{token}}", "Bearer {{tokn}}"), &target, 2);
    let (code, stderr) = blast_plain(&["run", file.to_str().expect("path")]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("field 'headers'") && stderr.contains("tokn"), "{stderr}");
    let file = scenario(&LOGIN.replace("\"/access_token\"", "\"access_token\""), &target, 2);
    let (code, stderr) = blast_plain(&["run", file.to_str().expect("path")]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("JSON pointer"), "{stderr}");
    // Nothing reached the target.
    assert_eq!(get_json(&server.addr, "/stats/logins")["total"], 0);
}
