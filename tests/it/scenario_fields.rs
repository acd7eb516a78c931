//! Scenario fields for real suites (`json`, `expect`, `slow`, `split`, `multipart`,
//! `{{sent_sha256}}`), run by the real binary against two servers: `blast serve` (whose upload
//! API hashes what it assembles, and can corrupt a chunk) and a FastAPI app under uvicorn whose
//! multipart parsing is python-multipart's, not blast's. Every check is against what the server
//! counted.

use crate::common::uvicorn::Uvicorn;
use crate::common::*;
use std::path::{Path, PathBuf};

fn by_name<'a>(j: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    j["names"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["name"] == name))
        .unwrap_or_else(|| panic!("no row {name} in {}", j["names"]))
}

fn profile() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/chat4all-upload-verified.toml")
}

/// The README's and the issue's example as written (profiles/chat4all-upload-verified.toml):
/// 3 uploads of 64 MiB as 7 multipart chunks each, the last 4 MiB; each verified by the SHA-256
/// `complete` returns.
#[test]
fn the_example_uploads_and_verifies_every_object_on_blast_serve() {
    // Shared: exact counts at 3/s.
    let _g = shared();
    let server = Server::start(&["--require-auth"]);
    let dir = ReportDir::new("fields-serve");
    let target = format!("http://{}", server.addr);
    let file = profile();
    let args = ["run", file.to_str().expect("path"), "--target", &target, "--rate", "3", "--duration", "1s"];
    let r = blast(&[&args[..], &["--csv", &dir.path("run")]].concat());
    let j = r.json.expect("json report");
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let stats = server.json("GET", "/stats/uploads", None);
    assert_eq!(stats["completed"], 3, "{stats}");
    assert_eq!(stats["completed_chunks"], 21, "{stats}");
    assert_eq!(stats["completed_bytes"], 3 * 64 * 1024 * 1024u64, "{stats}");
    assert_eq!(stats["rejected_chunks"], 0, "{stats}");
    let flow = by_name(&j, "upload 64 MiB");
    assert_eq!((flow["requests"]["ok"].as_u64(), flow["requests"]["failed"].as_u64()), (Some(3), Some(0)), "{flow}");
    let chunks = by_name(&j, "POST /v1/files/{id}/chunks");
    assert_eq!(chunks["requests"]["ok"], 21, "{chunks}");
    let complete = by_name(&j, "POST /v1/files/{id}/complete");
    assert_eq!((complete["type"].as_str(), complete["requests"]["ok"].as_u64()), (Some("POST"), Some(3)));
    assert_eq!(server.json("GET", "/stats/logins", None)["total"], 3);
}

/// `blast serve --corrupt-chunk 9` stores one chunk of the second upload to arrive wrongly:
/// exactly that upload fails `expect_body`, and the failures CSV shows the hash it got.
#[test]
fn a_corrupted_chunk_fails_expect_body_for_that_upload_only() {
    // Shared: exact counts at 3/s.
    let _g = shared();
    let server = Server::start(&["--require-auth", "--corrupt-chunk", "9"]);
    let dir = ReportDir::new("fields-corrupt");
    let target = format!("http://{}", server.addr);
    let file = profile();
    let csv = dir.path("run");
    let args = ["run", file.to_str().expect("path"), "--target", &target, "--rate", "3", "--duration", "1s"];
    let r = blast(&[&args[..], &["--csv", &csv]].concat());
    let j = r.json.expect("json report");
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert_eq!(server.json("GET", "/stats/uploads", None)["completed"], 3);
    let complete = by_name(&j, "POST /v1/files/{id}/complete");
    assert_eq!(complete["errors"]["expect_body"], 1, "{complete}");
    assert_eq!(complete["requests"]["failed"], 1, "{complete}");
    assert_eq!(by_name(&j, "upload 64 MiB")["requests"]["ok"], 2);
    let failures = std::fs::read_to_string(format!("{csv}_failures.csv")).expect("failures csv");
    let line = failures
        .lines()
        .find(|l| l.starts_with("POST,POST /v1/files/{id}/complete,") && l.contains("expect_body"))
        .unwrap_or_else(|| panic!("{failures}"));
    assert!(line.contains("expect_body: first /sha256: got \"\"") && line.contains("expected "), "{line}");
}

/// `expect.status`, `expect.body_contains` and `slow`, each failing by its own kind while the
/// server answers normally, and passing where the answer is as expected.
#[test]
fn expect_and_slow_fail_by_their_own_kinds() {
    // Shared: a 5 ms "slow" against a 30 ms delay.
    let _g = light();
    let server = Server::start(&["--delay", "30ms"]);
    let dir = ReportDir::new("fields-expect");
    let toml = format!(
        r#"workload = "api"
[args]
target = "http://{}"
rate = 20
duration = "1s"
cores = 1
conns = 4
[[request]]
name = "status 201 expected"
path = "/v1/conversations"
expect = {{ status = [201] }}
[[request]]
name = "body has conversations"
path = "/v1/conversations"
expect = {{ status = [200], body_contains = "conv" }}
[[request]]
name = "body lacks xyz"
path = "/v1/conversations"
expect = {{ body_contains = "xyz-not-there" }}
[[request]]
name = "POST /v1/messages"
path = "/v1/messages"
json = {{ content = "hi" }}
slow = "5ms"
"#,
        server.addr
    );
    let file = dir.0.join("expect.toml");
    std::fs::write(&file, toml).expect("toml");
    let csv = dir.path("run");
    let r = blast(&["run", file.to_str().expect("path"), "--csv", &csv]);
    let j = r.json.expect("json report");
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let row = |n: &str| by_name(&j, n).clone();
    assert_eq!(row("status 201 expected")["errors"]["expect_status"], 5);
    assert_eq!(row("body has conversations")["requests"]["ok"], 5);
    assert_eq!(row("body lacks xyz")["errors"]["expect_body"], 5);
    // The server holds every message 30 ms: each is slower than 5 ms.
    assert_eq!(row("POST /v1/messages")["errors"]["slow"], 5);
    let failures = std::fs::read_to_string(format!("{csv}_failures.csv")).expect("failures csv");
    assert!(failures.contains("expect_status: first got 200, expected [201]"), "{failures}");
    assert!(failures.contains("slow: first took"), "{failures}");
}

/// Bad input is one `file:line: field` line, exit 2, and nothing is sent.
#[test]
fn bad_fields_exit_2_with_file_line_and_field() {
    let server = Server::start(&[]);
    let dir = ReportDir::new("fields-bad");
    let head =
        format!("workload = \"api\"\n[args]\ntarget = \"http://{}\"\nrate = 10\nduration = \"1s\"\n", server.addr);
    let flow = |step: &str| format!("{head}[[flow]]\nname = \"f\"\nsteps = [\n  {step},\n]\n");
    let cases = [
        // Two parts claim the chunk.
        (
            flow(
                r#"{ path = "/v1/x", split = { total = "2M", chunk = "1M" }, multipart = [ { name = "a", filename = "a", chunk = true }, { name = "b", filename = "b", chunk = true } ] }"#,
            ),
            "multipart",
        ),
        // A split with a body of its own: the chunk goes nowhere.
        (flow(r#"{ path = "/v1/x", body = "x", split = { total = "2M", chunk = "1M" } }"#), "split"),
        // A JSON pointer without its leading slash.
        (flow(r#"{ path = "/v1/x", expect = { json = { "sha256" = "x" } } }"#), "expect"),
        // A chunk part without a split.
        (flow(r#"{ path = "/v1/x", multipart = [ { name = "a", filename = "a", chunk = true } ] }"#), "multipart"),
        // A status the report always counts as failed.
        (flow(r#"{ path = "/v1/x", expect = { status = [404] } }"#), "expect"),
    ];
    for (i, (toml, field)) in cases.iter().enumerate() {
        let file = dir.0.join(format!("bad{i}.toml"));
        std::fs::write(&file, toml).expect("toml");
        let (code, stderr) = blast_plain(&["run", file.to_str().expect("path"), "--quiet"]);
        assert_eq!(code, 2, "case {i}: {stderr}");
        let line = stderr.trim();
        assert_eq!(line.lines().count(), 1, "case {i}: {stderr}");
        assert!(
            line.contains(&format!("bad{i}.toml:")) && line.contains(&format!("field '{field}'")),
            "case {i}: {line}"
        );
    }
    let sent = server.json("GET", "/stats/uploads", None);
    assert_eq!(sent["initiated"], 0);
}

/// The FastAPI app (python-multipart parses the chunks, pydantic the JSON), run under uvicorn
/// (`common::uvicorn`).
const APP: &str = r#"
import hashlib, itertools
from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from pydantic import BaseModel

app = FastAPI()
uploads = {}
ids = itertools.count(1)
stats = {"logins": 0, "initiated": 0, "chunks": 0, "bytes": 0, "completed": 0, "filenames": [], "usernames": [],
         "chunk_names": []}

class Login(BaseModel):
    username: str
    password: str

class Initiate(BaseModel):
    filename: str
    size: int
    chunk_size: int

def user(request: Request) -> str:
    auth = request.headers.get("authorization", "")
    if not auth.startswith("Bearer tok-"):
        raise HTTPException(401, "no token")
    return auth

@app.post("/auth/login")
def login(body: Login):
    stats["logins"] += 1
    stats["usernames"].append(body.username)
    return {"access_token": "tok-" + str(stats["logins"])}

@app.post("/v1/files/initiate", status_code=201)
def initiate(body: Initiate, request: Request):
    user(request)
    uid = "u%d" % next(ids)
    uploads[uid] = {"sha": hashlib.sha256(), "next": 0, "bytes": 0, "size": body.size, "chunk": body.chunk_size}
    stats["initiated"] += 1
    stats["filenames"].append(body.filename)
    return {"upload_id": uid}

@app.post("/v1/files/{uid}/chunks")
async def chunk(uid: str, request: Request, chunk_index: int = Form(...), chunk: UploadFile = File(...)):
    user(request)
    u = uploads.get(uid)
    if u is None:
        raise HTTPException(404, "unknown upload")
    if chunk_index != u["next"]:
        raise HTTPException(409, "chunk %d out of order" % chunk_index)
    data = await chunk.read()
    want = min(u["chunk"], u["size"] - u["bytes"])
    if len(data) != want:
        raise HTTPException(400, "chunk %d has %d bytes, expected %d" % (chunk_index, len(data), want))
    u["sha"].update(data)
    u["next"] += 1
    u["bytes"] += len(data)
    stats["chunks"] += 1
    stats["bytes"] += len(data)
    stats["chunk_names"].append(chunk.filename)
    return {"index": chunk_index, "received": len(data)}

@app.post("/v1/files/{uid}/complete", status_code=201)
def complete(uid: str, request: Request):
    user(request)
    u = uploads.pop(uid, None)
    if u is None or u["bytes"] != u["size"]:
        raise HTTPException(409, "incomplete")
    stats["completed"] += 1
    return {"sha256": u["sha"].hexdigest(), "bytes": u["bytes"]}

@app.get("/stats")
def get_stats():
    return stats
"#;

/// The example's flow against python-multipart: sizes from a users column (`split.total` and
/// `{{=user.size}}` as a JSON number), names with `"` and `\` (JSON-escaped, else pydantic
/// answers 422; in a part's filename quoted pairs, which python-multipart decodes back, with
/// UTF-8 as is and CR LF as browsers send them), every upload's SHA-256 checked, the app's
/// counts equal to blast's; the chunks' bytes per name in the JSON, the CSV and an SLA.
#[test]
fn the_upload_flow_passes_a_third_party_multipart_parser() {
    // Shared: exact counts against the app.
    let _g = shared();
    let dir = ReportDir::new("fields-fastapi");
    let app = Uvicorn::start(&dir.0, APP, &[]);
    std::fs::write(dir.0.join("users.csv"), "name,password,size\nann \"a\",pw\\1,2500000\nbob\\b,pw2,1048576\n")
        .expect("users");
    let toml = format!(
        r#"workload = "api"
[args]
target = "http://{}"
rate = 4
duration = "1s"
conns = 4
timeout = "10s"
[data]
users = {{ file = "users.csv" }}
[[on_start]]
name = "POST /auth/login"
path = "/auth/login"
json = {{ username = "{{{{user.name}}}}", password = "{{{{user.password}}}}" }}
capture = {{ token = "/access_token" }}
[[flow]]
name = "upload"
steps = [
  {{ name = "POST /v1/files/initiate", path = "/v1/files/initiate", headers = {{ Authorization = "Bearer {{{{token}}}}" }},
    json = {{ filename = "{{{{user.name}}}}-{{{{seq}}}}.bin", size = "{{{{=user.size}}}}", chunk_size = 1048576 }},
    capture = {{ upload_id = "/upload_id" }}, expect = {{ status = [201] }} }},
  {{ name = "POST /v1/files/{{id}}/chunks", path = "/v1/files/{{{{upload_id}}}}/chunks", headers = {{ Authorization = "Bearer {{{{token}}}}" }},
    split = {{ total = "{{{{user.size}}}}", chunk = "1M" }},
    multipart = [ {{ name = "chunk_index", value = "{{{{i}}}}" }},
                  {{ name = "chunk", filename = "{{{{user.name}}}} café\r\n{{{{i}}}}.bin", content_type = "application/octet-stream", chunk = true }} ] }},
  {{ name = "POST /v1/files/{{id}}/complete", path = "/v1/files/{{{{upload_id}}}}/complete", headers = {{ Authorization = "Bearer {{{{token}}}}" }},
    expect = {{ status = [201], json = {{ "/sha256" = "{{{{sent_sha256}}}}", "/bytes" = "{{{{sent_bytes}}}}" }} }} }},
]
"#,
        app.addr
    );
    let file = dir.0.join("upload.toml");
    std::fs::write(&file, toml).expect("toml");
    let csv = dir.path("run");
    let sla = "POST /v1/files/{id}/chunks:mbps>0.01";
    let r = blast(&["run", file.to_str().expect("path"), "--csv", &csv, "--sla", sla]);
    let j = r.json.expect("json report");
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let stats = http_json(&app.addr, "GET", "/stats", None);
    // 4 uploads, 2 per user: 3 chunks of 2,500,000 bytes (1 MiB, 1 MiB, the rest), 1 of 1 MiB.
    assert_eq!(stats["logins"], 2, "{stats}");
    assert_eq!(stats["initiated"], 4, "{stats}");
    assert_eq!(stats["completed"], 4, "{stats}");
    assert_eq!(stats["chunks"], 8, "{stats}");
    assert_eq!(stats["bytes"], 2 * (2_500_000 + 1_048_576u64), "{stats}");
    let names: Vec<&str> = stats["usernames"].as_array().expect("names").iter().filter_map(|v| v.as_str()).collect();
    assert!(names.contains(&"ann \"a\"") && names.contains(&"bob\\b"), "{names:?}");
    assert_eq!(by_name(&j, "upload")["requests"]["ok"], 4);
    assert_eq!(by_name(&j, "POST /v1/files/{id}/chunks")["requests"]["ok"], 8);
    assert_eq!(by_name(&j, "POST /v1/files/{id}/complete")["requests"]["ok"], 4);
    // The filenames python-multipart decoded: `"` and `\` back as they were, UTF-8 as is, CR LF
    // as a browser sends them.
    let mut got: Vec<&str> =
        stats["chunk_names"].as_array().expect("chunk names").iter().filter_map(|v| v.as_str()).collect();
    got.sort_unstable();
    let mut want: Vec<String> = (0..3).map(|i| format!("ann \"a\" café%0D%0A{i}.bin")).collect();
    want.extend((0..3).map(|i| format!("ann \"a\" café%0D%0A{i}.bin")));
    want.extend((0..1).flat_map(|i| [format!("bob\\b café%0D%0A{i}.bin"), format!("bob\\b café%0D%0A{i}.bin")]));
    want.sort_unstable();
    assert_eq!(got, want, "{stats}");
    // Bytes per name: the chunks' requests carried the file bytes the app counted, plus their
    // heads and multipart framing (under 1 kB a request here).
    let chunks = &by_name(&j, "POST /v1/files/{id}/chunks")["bytes"];
    let (sent, received) = (chunks["sent"].as_u64().expect("sent"), chunks["received"].as_u64().expect("received"));
    let file_bytes = stats["bytes"].as_u64().expect("bytes");
    assert!(sent > file_bytes && sent < file_bytes + 8 * 1000, "{chunks} vs {file_bytes}");
    assert!(received > 8 * 20 && received < 8 * 1000, "{chunks}");
    let secs = j["measured_s"].as_f64().expect("measured_s");
    let mbps = chunks["mb_per_s"].as_f64().expect("mb_per_s");
    assert!((mbps - (sent + received) as f64 / 1e6 / secs).abs() < 1e-6, "{chunks} over {secs} s");
    let flow = &by_name(&j, "upload")["bytes"];
    assert!(flow["sent"].as_u64().expect("flow sent") > sent, "the flow's bytes are its steps': {flow}");
    let stats_csv = std::fs::read_to_string(format!("{csv}_stats.csv")).expect("stats csv");
    let header: Vec<&str> = stats_csv.lines().next().expect("header").split(',').collect();
    let row = stats_csv.lines().find(|l| l.starts_with("POST,POST /v1/files/{id}/chunks,")).expect("chunks row");
    let cols: Vec<&str> = row.split(',').collect();
    assert_eq!(cols.len(), header.len(), "{row}");
    let col = |name: &str| cols[header.iter().position(|h| *h == name).expect(name)];
    assert_eq!((col("Bytes Sent"), col("Bytes Received")), (sent.to_string().as_str(), received.to_string().as_str()));
    assert_eq!(j["sla"].as_array().map(|a| a.len()), Some(1), "{}", j["sla"]);
    assert_eq!(j["sla"][0]["pass"], true, "{}", j["sla"]);
    assert!(r.stdout.contains("bytes") && r.stdout.contains("POST /v1/files/{id}/chunks: "), "{}", r.stdout);
}

/// A scenario of `users` rows: a login per virtual user (`on_start`), a tagged read and a
/// tagged post.
fn users_and_tags(dir: &ReportDir, addr: &str, users_line: &str) -> PathBuf {
    let mut csv = String::from("name,password\n");
    for u in 0..6 {
        csv.push_str(&format!("user{u},pw{u}\n"));
    }
    std::fs::write(dir.0.join("users.csv"), csv).expect("users");
    let toml = format!(
        r#"workload = "api"
[args]
target = "http://{addr}"
rate = 40
duration = "1s"
cores = 1
conns = 4
{users_line}
[data]
users = {{ file = "users.csv" }}
[[on_start]]
name = "POST /auth/login"
path = "/auth/login"
json = {{ username = "{{{{user.name}}}}", password = "{{{{user.password}}}}" }}
capture = {{ token = "/access_token" }}
[[request]]
name = "GET /v1/conversations"
path = "/v1/conversations"
headers = {{ Authorization = "Bearer {{{{token}}}}" }}
tags = ["read"]
weight = 3
[[request]]
name = "POST /v1/messages"
path = "/v1/messages"
headers = {{ Authorization = "Bearer {{{{token}}}}" }}
json = {{ content = "hi" }}
tags = ["write"]
"#
    );
    let file = dir.0.join("users.toml");
    std::fs::write(&file, toml).expect("toml");
    file
}

/// `users = N` / `--users N`: N virtual users over a 6-row file, N logins as the server counts
/// them (default: one per row); `users = 0` is refused at its line.
#[test]
fn virtual_users_set_the_logins_not_the_rows() {
    // Shared: exact counts against the server.
    let _g = light();
    let dir = ReportDir::new("fields-users");
    for (line, flags, logins) in [
        // One virtual user per row by default.
        ("", &[][..], 6),
        // users = 2 in [args]: two logins, whatever the rows.
        ("users = 2", &[][..], 2),
        // --users overrides [args]; 9 users over 6 rows (rows 0-2 used twice), 9 logins.
        ("users = 2", &["--users", "9"][..], 9),
    ] {
        let server = Server::start(&["--require-auth"]);
        let file = users_and_tags(&dir, &server.addr, line);
        let r = blast(&[&["run", file.to_str().expect("path")][..], flags].concat());
        assert_eq!(r.code, 0, "{line} {flags:?}: {}{}", r.stdout, r.stderr);
        assert_eq!(server.json("GET", "/stats/logins", None)["total"], logins, "{line} {flags:?}");
        let j = r.json.expect("json");
        assert_eq!(by_name(&j, "POST /auth/login")["requests"]["ok"], logins, "{line} {flags:?}");
    }
    let file = users_and_tags(&dir, "127.0.0.1:9", "users = 0");
    let (code, stderr) = blast_plain(&["run", file.to_str().expect("path")]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.trim().contains("users.toml:8: field 'users'"), "{stderr}");
}

/// `--tags` / `--exclude-tags` choose what runs (the rest of the rate goes to what is kept); an
/// unknown tag is refused at its line.
#[test]
fn tags_choose_requests_and_unknown_tags_are_refused() {
    // Shared: exact counts per tag.
    let _g = light();
    let dir = ReportDir::new("fields-tags");
    for (flags, reads, writes) in [
        (&["--tags", "read"][..], 40, 0),
        (&["--exclude-tags", "read"][..], 0, 40),
        (&["--tags", "read,write"][..], 30, 10),
    ] {
        let server = Server::start(&["--require-auth"]);
        let file = users_and_tags(&dir, &server.addr, "");
        let r = blast(&[&["run", file.to_str().expect("path")][..], flags].concat());
        assert_eq!(r.code, 0, "{flags:?}: {}{}", r.stdout, r.stderr);
        let j = r.json.expect("json");
        let sent = |n: &str| {
            j["names"]
                .as_array()
                .and_then(|a| a.iter().find(|r| r["name"] == n))
                .map_or(0, |r| r["requests"]["ok"].as_u64().unwrap_or(0))
        };
        assert_eq!((sent("GET /v1/conversations"), sent("POST /v1/messages")), (reads, writes), "{flags:?}");
        // The plan says what the tags chose and which names ran.
        let ran = match (reads, writes) {
            (_, 0) => "1 of 2 ran: GET /v1/conversations".to_string(),
            (0, _) => "1 of 2 ran: POST /v1/messages".to_string(),
            _ => "2 of 2 ran: GET /v1/conversations, POST /v1/messages".to_string(),
        };
        let chose = format!("{} {}: {ran}", flags[0], flags[1]);
        assert_eq!(j["plan"]["tags"], chose.as_str(), "{flags:?}");
        assert!(r.stdout.lines().any(|l| l.contains("tags") && l.contains(&chose)), "{}", r.stdout);
        // Every request was authorised by a login the server issued.
        assert_eq!(server.json("GET", "/stats/logins", None)["unauthorized"], 0);
    }
    let file = users_and_tags(&dir, "127.0.0.1:9", "tags = \"nope\"");
    let (code, stderr) = blast_plain(&["run", file.to_str().expect("path")]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.trim().contains("users.toml:8: field 'tags'") && stderr.contains("nope"), "{stderr}");
}
