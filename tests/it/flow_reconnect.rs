//! Issue 29: flows, on_start logins, an upload-like flow and ws probes against servers that
//! close keep-alive connections, and paths whose placeholders take arguments; and nginx's
//! answers to HEAD requests (a length, no body) read to their end on each backend.
//!
//! The servers are real and not blast's: nginx (`keepalive_requests 20`, started here as a
//! plain process with a generated config in a temp dir; its access log says what it saw) and
//! a Python server on h11 that ends every connection after a few requests, in turn in each way
//! a server may (`Connection: close`, an HTTP/1.0 answer, an HTTP/1.0 body that runs until the
//! close, a close without a word). blast must never send a step on a connection the server is
//! closing: 0 failures, the reconnects counted, and the servers' own counts equal blast's.

use crate::common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// nginx: `BLAST_TEST_NGINX` (set by `.ci/run`), else the Debian package's.
fn nginx_binary() -> String {
    let path = std::env::var("BLAST_TEST_NGINX").unwrap_or_else(|_| "/usr/sbin/nginx".into());
    assert!(
        Path::new(&path).exists(),
        "{path}: nginx is needed (apt-get install nginx; .ci/run installs it and sets BLAST_TEST_NGINX)"
    );
    path
}

/// A Python with h11: `BLAST_TEST_PYTHON` (the CI venv, set by `.ci/run`), else `python3`.
fn python() -> String {
    let py = std::env::var("BLAST_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&py).args(["-c", "import h11"]).output().is_ok_and(|o| o.status.success());
    assert!(ok, "{py}: a Python with h11 is needed (pip install h11; .ci/run installs it and sets BLAST_TEST_PYTHON)");
    py
}

/// A port nobody listens on now (bound, then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn wait_listening(port: u16, child: &mut Child, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("server exited ({status}): {}", std::fs::read_to_string(log).unwrap_or_default());
        }
        assert!(Instant::now() < deadline, "server not listening on {port}");
        wait_ms(20);
    }
}

/// What nginx answers: the issue's launch-then-read API, a login (which closes its connection,
/// as `keepalive_requests 1` there makes nginx say), requests that need the login's token, an
/// upload API, and module configs for the path template tests.
const NGINX_LOCATIONS: &str = r#"
        location = /api/modules/launch { return 201 '{"run_id":"run-42"}'; }
        location /api/runs/run-42 { return 200 '{"status":"done"}'; }
        location /api/runs/ { return 404 '{"error":"no such run"}'; }
        location = /api/modules/spaced { return 201 '{"run_id":"run 42"}'; }
        location /api/modules/ { return 200 '{"config":{}}'; }
        location = /auth/login { keepalive_requests 1; return 200 '{"access_token":"tok-7"}'; }
        location = /v1/files {
            if ($http_authorization != "Bearer tok-7") { return 401; }
            return 201 '{"upload_id":"up-9"}';
        }
        location /v1/files/up-9/ {
            if ($http_authorization != "Bearer tok-7") { return 401; }
            return 200 '{}';
        }
        location /v1/ {
            if ($http_authorization != "Bearer tok-7") { return 401; }
            return 200 '{"ok":true}';
        }
"#;

/// nginx as a child process (no daemon, no master), everything it writes in its own temp
/// dir; killed when dropped.
struct Nginx {
    child: Child,
    dir: ReportDir,
    port: u16,
}

/// One request in nginx's access log.
#[derive(Debug)]
struct Logged {
    /// nginx's serial number of the connection, and which request on it this was.
    conn: u64,
    nth: u64,
    status: u16,
    method: String,
    uri: String,
    /// The body's length as its head declared it (0 for none); nginx read it all, or the
    /// request would have timed out and the next one on the connection been garbage.
    length: u64,
}

impl Nginx {
    fn start() -> Nginx {
        let dir = ReportDir::new("nginx");
        let d = dir.0.display();
        let port = free_port();
        let conf = format!(
            r#"daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    log_format blast '$connection $connection_requests $status $request_method $request_uri $content_length';
    access_log {d}/access.log blast;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    client_max_body_size 0;
    default_type application/json;
    keepalive_requests 20;
    server {{
        listen 127.0.0.1:{port};
{NGINX_LOCATIONS}
    }}
}}
"#
        );
        let conf_path = dir.0.join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("nginx.conf");
        let mut child = Command::new(nginx_binary())
            .arg("-p")
            .arg(&dir.0)
            .arg("-e")
            .arg(dir.0.join("error.log"))
            .arg("-c")
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn nginx");
        wait_listening(port, &mut child, &dir.0.join("error.log"));
        Nginx { child, dir, port }
    }

    fn target(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The access log so far (nginx writes each line when the request ends).
    fn log(&self) -> Vec<Logged> {
        let text = std::fs::read_to_string(self.dir.0.join("access.log")).unwrap_or_default();
        text.lines()
            .map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                let num = |i: usize| f[i].parse::<u64>().unwrap_or_else(|e| panic!("{l}: field {i}: {e}"));
                Logged {
                    conn: num(0),
                    nth: num(1),
                    status: num(2) as u16,
                    method: f[3].to_string(),
                    uri: f[4].to_string(),
                    length: if f[5] == "-" { 0 } else { num(5) },
                }
            })
            .collect()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Python server (h11): every connection ends after `KEEP` requests, and after every login,
/// in the way its number picks (in turn: `Connection: close`, an HTTP/1.0 answer with a length,
/// an HTTP/1.0 body that runs until the close, a close without a word). The silent close is
/// corked behind the last answer, so that it arrives with it: a close the client can see
/// before its next request (a close that arrives later races that request, which no client
/// can win for a POST). `GET /stats` (not counted) answers what it served.
const CLOSING_SERVER: &str = r#"
import asyncio, json, socket, sys
import h11

KEEP = int(sys.argv[1])
WAYS = ["header", "http10", "http10_until_close", "silent"]
stats = {"requests": 0, "connections": 0, "closes": {w: 0 for w in WAYS}, "paths": {}, "body_bytes": 0}

def route(method, target, headers):
    path = target.split("?")[0]
    auth = headers.get(b"authorization", b"").decode()
    if path == "/api/modules/launch":
        return 201, {"run_id": "run-42"}
    if path.startswith("/api/runs/run-42"):
        return 200, {"status": "done"}
    if path == "/auth/login":
        return 200, {"access_token": "tok-7"}
    if path.startswith("/v1/") and auth != "Bearer tok-7":
        return 401, {"error": "unauthorized"}
    if path == "/v1/files":
        return 201, {"upload_id": "up-9"}
    if path.startswith("/v1/"):
        return 200, {"ok": True}
    return 404, {"error": "not found"}

def head(status, length, version=b"1.1", close=False):
    h = b"HTTP/%s %d X\r\nContent-Type: application/json\r\n" % (version, status)
    if length is not None:
        h += b"Content-Length: %d\r\n" % length
    if close:
        h += b"Connection: close\r\n"
    return h + b"\r\n"

async def handle(reader, writer):
    number = stats["connections"]
    way = WAYS[number % len(WAYS)]
    conn = h11.Connection(h11.SERVER)
    served = 0
    try:
        while True:
            request, body = None, 0
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await reader.read(65536))
                elif isinstance(event, h11.Request):
                    request = event
                elif isinstance(event, h11.Data):
                    body += len(event.data)
                elif isinstance(event, h11.EndOfMessage):
                    break
                else:
                    return
            target = request.target.decode()
            if target == "/stats":
                payload = json.dumps(stats).encode()
                writer.write(head(200, len(payload), close=True) + payload)
                await writer.drain()
                return
            if served == 0:
                stats["connections"] += 1
            served += 1
            stats["requests"] += 1
            stats["body_bytes"] += body
            key = request.method.decode() + " " + target.split("?")[0]
            stats["paths"][key] = stats["paths"].get(key, 0) + 1
            status, answer = route(request.method.decode(), target, dict(request.headers))
            payload = json.dumps(answer).encode()
            if served < KEEP and target != "/auth/login":
                length = str(len(payload)).encode()
                headers = [(b"content-type", b"application/json"), (b"content-length", length)]
                data = conn.send(h11.Response(status_code=status, headers=headers))
                data += conn.send(h11.Data(data=payload)) + conn.send(h11.EndOfMessage())
                writer.write(data)
                await writer.drain()
                conn.start_next_cycle()
                continue
            stats["closes"][way] += 1
            if way == "header":
                writer.write(head(status, len(payload), close=True) + payload)
            elif way == "http10":
                writer.write(head(status, len(payload), version=b"1.0") + payload)
            elif way == "http10_until_close":
                writer.write(head(status, None, version=b"1.0") + payload)
            else:
                sock = writer.get_extra_info("socket")
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
                writer.write(head(status, len(payload)) + payload)
                await writer.drain()
                writer.write_eof()
            await writer.drain()
            return
    except (ConnectionError, h11.ProtocolError):
        return
    finally:
        writer.close()

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.sleep(300)

asyncio.run(main())
"#;

/// The Python server as a child process; killed when dropped.
struct ClosingServer {
    child: Child,
    port: u16,
}

impl ClosingServer {
    fn start(keep: u32) -> ClosingServer {
        let mut child = Command::new(python())
            .args(["-c", CLOSING_SERVER, &keep.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the Python server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("port line");
        let port = line.trim().parse().unwrap_or_else(|e| panic!("port {line:?}: {e}"));
        ClosingServer { child, port }
    }

    fn target(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn stats(&self) -> serde_json::Value {
        http_json(&format!("127.0.0.1:{}", self.port), "GET", "/stats", None)
    }
}

impl Drop for ClosingServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `scenario.toml` (with `TARGET` replaced) and a `users.csv` of `users` users in `dir`.
fn scenario(dir: &ReportDir, toml: &str, target: &str, users: usize) -> PathBuf {
    let mut csv = String::from("name,module\n");
    for u in 0..users {
        csv.push_str(&format!("user{u},mod-{u}\n"));
    }
    std::fs::write(dir.0.join("users.csv"), csv).expect("users");
    let path = dir.0.join("scenario.toml");
    std::fs::write(&path, toml.replace("TARGET", target)).expect("toml");
    path
}

fn row<'a>(j: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    j["names"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["name"] == name))
        .unwrap_or_else(|| panic!("no row {name} in {}", j["names"]))
}

/// The issue's flow: launch, then two reads of what it launched.
const LAUNCH_FLOW: &str = r#"
workload = "api"
[args]
target = "TARGET"
rate = 300
duration = "2s"
conns = 4
cores = 1

[[flow]]
name = "launch then details"
steps = [
  { name = "launch", method = "POST", path = "/api/modules/launch", body = '{"module_id":"m-1"}', capture = { run = "/run_id" } },
  { name = "details", path = "/api/runs/{{run}}" },
  { name = "logs", path = "/api/runs/{{run}}/logs" },
]
"#;

/// A clean run: exit 0, no failure of any kind, and each row with `n` answers of `status`.
fn assert_clean(r: &Run, rows: &[(&str, f64, &str)]) -> serde_json::Value {
    let j = r.json.clone().unwrap_or_else(|| panic!("no report: {}{}", r.stdout, r.stderr));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(f(&j, "/requests/failed"), 0.0, "{}", r.stdout);
    assert_eq!(j["errors"], serde_json::json!({}), "{}", r.stdout);
    for (name, n, status) in rows {
        let row = row(&j, name);
        assert_eq!(f(row, "/requests/completed"), *n, "{name}\n{}", r.stdout);
        assert_eq!(f(row, &format!("/status_codes/{status}")), *n, "{name}\n{}", r.stdout);
    }
    j
}

#[test]
fn a_flow_moves_to_a_fresh_connection_when_nginx_closes_one() {
    // Shared: exact counts against nginx's log.
    let _g = light();
    let nginx = Nginx::start();
    let dir = ReportDir::new("launch");
    let file = scenario(&dir, LAUNCH_FLOW, &nginx.target(), 1);
    let r = blast(&["run", file.to_str().expect("path")]);
    // 300/s for 2 s: 600 iterations of 3 steps, every one answered.
    let j = assert_clean(
        &r,
        &[
            ("launch", 600.0, "201"),
            ("details", 600.0, "200"),
            ("logs", 600.0, "200"),
            ("launch then details", 600.0, "200"),
        ],
    );
    let log = nginx.log();
    assert_eq!(log.len(), 1800, "nginx saw every request blast counted");
    assert!(log.iter().all(|l| l.status < 400), "{:?}", log.iter().find(|l| l.status >= 400));
    assert_eq!(log.iter().filter(|l| l.uri == "/api/runs/run-42/logs").count(), 600);
    // nginx ended every connection after its 20th request; blast opened one for each.
    let mut per_conn: BTreeMap<u64, u64> = BTreeMap::new();
    for l in &log {
        *per_conn.entry(l.conn).or_default() += 1;
        assert!(l.nth <= 20, "{l:?}");
    }
    let closed_by_nginx = per_conn.values().filter(|&&n| n == 20).count() as f64;
    assert!(closed_by_nginx >= 1800.0 / 20.0 - 4.0, "{closed_by_nginx} connections reached 20 requests");
    let (opened, reconnects) = (f(&j, "/connections/opened"), f(&j, "/connections/reconnects"));
    assert!(reconnects >= closed_by_nginx - 4.0, "{reconnects} reconnects for {closed_by_nginx} closes\n{}", r.stdout);
    // Every connection blast opened but the pool's unused ones carried a request nginx logged.
    let seen = per_conn.len() as f64;
    assert!(seen <= opened && opened <= seen + 4.0, "blast opened {opened}, nginx saw {seen}\n{}", r.stdout);
    assert_eq!(opened, 4.0 + reconnects, "{}", r.stdout);
    assert_eq!(f(&j, "/connect_ms/count"), opened, "every connection's time is a connect\n{}", r.stdout);
}

/// A login per user (on_start, which closes its connection), requests with its token, and an
/// upload: initiate, 30 chunks of 64 KiB, complete.
const LOGIN_AND_UPLOAD: &str = r#"
workload = "api"
[args]
target = "TARGET"
rate = 40
duration = "2s"
conns = 4
cores = 1

[data]
users = { file = "users.csv" }

[[on_start]]
name = "login"
method = "POST"
path = "/auth/login"
body = '{"username":"{{user.name}}"}'
capture = { token = "/access_token" }

[[request]]
name = "conversations"
weight = 3
path = "/v1/conversations?user={{user.name}}"
headers = { Authorization = "Bearer {{token}}" }

[[flow]]
name = "upload"
weight = 1
steps = [
  { name = "initiate", method = "POST", path = "/v1/files", headers = { Authorization = "Bearer {{token}}" }, body = '{"name":"f.bin"}', capture = { upload = "/upload_id" } },
  { name = "chunk", method = "PUT", path = "/v1/files/{{upload}}/chunks?index={{i}}", headers = { Authorization = "Bearer {{token}}" }, body = { random_bytes = "64K" }, repeat = 30 },
  { name = "complete", method = "POST", path = "/v1/files/{{upload}}/complete", headers = { Authorization = "Bearer {{token}}" }, body = '{}' },
]
"#;

/// The rows of `LOGIN_AND_UPLOAD` at 40/s for 2 s with 6 users: 80 arrivals, 3 in 4 a
/// request, 1 in 4 an upload; one login per user.
const LOGIN_AND_UPLOAD_ROWS: [(&str, f64, &str); 6] = [
    ("login", 6.0, "200"),
    ("conversations", 60.0, "200"),
    ("initiate", 20.0, "201"),
    ("chunk", 600.0, "200"),
    ("complete", 20.0, "200"),
    ("upload", 20.0, "200"),
];

/// A flow that logs its user in once (a `scope = "user"` capture; the login's answer closes its
/// connection), then posts with the token.
const USER_LOGIN_FLOW: &str = r#"
workload = "api"
[args]
target = "TARGET"
rate = 50
duration = "1s"
conns = 4
cores = 1

[data]
users = { file = "users.csv" }

[[flow]]
name = "login then post"
steps = [
  { name = "flow login", method = "POST", path = "/auth/login", body = '{"username":"{{user.name}}"}', capture = { token = "/access_token" }, scope = "user" },
  { name = "post", method = "POST", path = "/v1/messages", headers = { Authorization = "Bearer {{token}}" }, body = '{"content":"hi"}' },
]
"#;

/// 50 iterations of 6 users: 6 logins, 50 posts.
const USER_LOGIN_ROWS: [(&str, f64, &str); 3] =
    [("flow login", 6.0, "200"), ("post", 50.0, "200"), ("login then post", 50.0, "200")];

#[test]
fn on_start_logins_and_an_upload_flow_survive_nginx_closing_connections() {
    // Shared: exact counts against nginx's log.
    let _g = light();
    let nginx = Nginx::start();
    let dir = ReportDir::new("upload");
    let file = scenario(&dir, LOGIN_AND_UPLOAD, &nginx.target(), 6);
    let r = blast(&["run", file.to_str().expect("path")]);
    let j = assert_clean(&r, &LOGIN_AND_UPLOAD_ROWS);
    let log = nginx.log();
    // nginx checked every token (a 401 otherwise) and saw exactly blast's requests.
    assert_eq!(log.len(), 6 + 60 + 20 * 32, "{}", r.stdout);
    assert!(log.iter().all(|l| l.status < 400), "{:?}", log.iter().find(|l| l.status >= 400));
    // Each login closed its connection, and the request after it went on a fresh one.
    let logins: Vec<&Logged> = log.iter().filter(|l| l.uri == "/auth/login").collect();
    assert_eq!(logins.len(), 6);
    for login in &logins {
        assert!(!log.iter().any(|l| l.conn == login.conn && l.nth > login.nth), "a request after {login:?}");
    }
    // Every chunk arrived whole, each index once per upload.
    let mut chunks: BTreeMap<String, u64> = BTreeMap::new();
    for l in log.iter().filter(|l| l.method == "PUT") {
        assert_eq!(l.length, 64 * 1024, "{l:?}");
        *chunks.entry(l.uri.clone()).or_default() += 1;
    }
    assert_eq!(chunks.len(), 30, "{chunks:?}");
    assert!(chunks.values().all(|&n| n == 20), "{chunks:?}");
    // nginx closed connections after their 20th request and after every login: blast opened
    // a fresh one for each (but the last on each of its 4), and each carried requests.
    let mut last: BTreeMap<u64, &Logged> = BTreeMap::new();
    for l in &log {
        last.insert(l.conn, l);
    }
    let closed = last.values().filter(|l| l.nth == 20 || l.uri == "/auth/login").count() as f64;
    // Over 666 requests, at most 20 a connection: at least 34 connections, all but 4 closed.
    assert!(closed >= 30.0, "{closed} connections closed by nginx");
    let (opened, reconnects) = (f(&j, "/connections/opened"), f(&j, "/connections/reconnects"));
    assert!(reconnects >= closed - 4.0, "{reconnects} reconnects for {closed} closes\n{}", r.stdout);
    let seen = last.len() as f64;
    assert!(seen <= opened && opened <= seen + 4.0, "blast opened {opened}, nginx saw {seen}\n{}", r.stdout);
    assert_eq!(f(&j, "/connect_ms/count"), opened, "every connection's time is a connect\n{}", r.stdout);

    // A login inside a flow (once per user) closes its connection too; the post after it
    // goes on a fresh one, with the token.
    let file = scenario(&dir, USER_LOGIN_FLOW, &nginx.target(), 6);
    let r = blast(&["run", file.to_str().expect("path")]);
    let j = assert_clean(&r, &USER_LOGIN_ROWS);
    let log = nginx.log();
    let posts: Vec<&Logged> = log.iter().filter(|l| l.uri == "/v1/messages").collect();
    assert_eq!(posts.len(), 50);
    assert!(posts.iter().all(|l| l.status == 200), "{posts:?}");
    let logins: Vec<&Logged> = log.iter().filter(|l| l.uri == "/auth/login").collect();
    assert_eq!(logins.len(), 12);
    for login in &logins {
        assert!(!log.iter().any(|l| l.conn == login.conn && l.nth > login.nth), "a request after {login:?}");
    }
    // Each flow login's post went on a connection opened for it.
    assert!(f(&j, "/connections/reconnects") >= 6.0, "{}", r.stdout);
}

#[test]
fn flows_logins_and_uploads_survive_every_way_a_python_server_closes() {
    // Shared: exact counts against the server's.
    let _g = moderate();
    let server = ClosingServer::start(3);
    let dir = ReportDir::new("python");
    let launch = scenario(&dir, LAUNCH_FLOW, &server.target(), 1);
    let r = blast(&["run", launch.to_str().expect("path"), "--rate", "150"]);
    assert_clean(
        &r,
        &[
            ("launch", 300.0, "201"),
            ("details", 300.0, "200"),
            ("logs", 300.0, "200"),
            ("launch then details", 300.0, "200"),
        ],
    );
    let file = scenario(&dir, LOGIN_AND_UPLOAD, &server.target(), 6);
    let r2 = blast(&["run", file.to_str().expect("path")]);
    let j2 = assert_clean(&r2, &LOGIN_AND_UPLOAD_ROWS);
    let file = scenario(&dir, USER_LOGIN_FLOW, &server.target(), 6);
    let r3 = blast(&["run", file.to_str().expect("path")]);
    let j3 = assert_clean(&r3, &USER_LOGIN_ROWS);
    let stats = server.stats();
    // The server served exactly what blast counted, every chunk whole.
    assert_eq!(f(&stats, "/requests"), (900 + 706 + 56) as f64, "{stats}");
    assert_eq!(f(&stats, "/paths/POST ~1auth~1login"), 12.0, "{stats}");
    assert_eq!(f(&stats, "/paths/PUT ~1v1~1files~1up-9~1chunks"), 600.0, "{stats}");
    let bodies = 300 * r#"{"module_id":"m-1"}"#.len()
        + 12 * r#"{"username":"user0"}"#.len()
        + 50 * r#"{"content":"hi"}"#.len()
        + 20 * (r#"{"name":"f.bin"}"#.len() + 30 * 65536 + "{}".len());
    assert_eq!(f(&stats, "/body_bytes"), bodies as f64, "{stats}");
    // It ended connections in each of its ways, and blast went on every time.
    for way in ["header", "http10", "http10_until_close", "silent"] {
        assert!(f(&stats, &format!("/closes/{way}")) >= 20.0, "{way}: {stats}");
    }
    let reconnects: f64 = [&r.json.expect("report"), &j2, &j3].iter().map(|j| f(j, "/connections/reconnects")).sum();
    let conns = f(&stats, "/connections");
    assert!(reconnects >= conns - 12.0 && reconnects <= conns, "{reconnects} reconnects, {conns} connections served");
}

#[test]
fn ws_probes_over_http_go_on_a_fresh_connection_after_a_close() {
    // Shared: exact counts against nginx's log.
    let _g = light();
    let ws = Server::start(&[]);
    let server = ClosingServer::start(3);
    let probes = format!("{}/v1/messages", server.target());
    let ws_url = ws.ws_url();
    let args = ws_probe_args(&ws_url, "4", "2s", "20/s", &["--probe-target", &probes, "--token", "tok-7"]);
    let r = blast(&args);
    let j = r.json.unwrap_or_else(|| panic!("no report: {}{}", r.stdout, r.stderr));
    // Probes went to a server that is not the WebSocket one: none is delivered, but every one
    // was accepted, none lost to a closing connection.
    let stats = server.stats();
    assert_eq!(f(&j, "/probes/failed_to_send"), 0.0, "{}\n{stats}", r.stdout);
    let sent = f(&j, "/probes/sent");
    assert!(sent >= 35.0, "{sent} probes\n{}", r.stdout);
    assert_eq!(f(&stats, "/paths/POST ~1v1~1messages"), sent, "{stats}");
    // 3 probes per connection: every connection after the first is a reconnect.
    assert_eq!(f(&j, "/probes/reconnects"), f(&stats, "/connections") - 1.0, "{}\n{stats}", r.stdout);
    assert!(r.stdout.contains("reconnects"), "{}", r.stdout);
}

/// A path whose placeholders take arguments: `{{random_int 1 20}}`, `{{pick a,b}}`, and a
/// users file column.
const MODULE_PATHS: &str = r#"
workload = "api"
[args]
target = "TARGET"
rate = 200
duration = "1s"
conns = 2
cores = 1

[data]
users = { file = "users.csv" }

[[request]]
name = "GET /api/modules/:id/config"
path = "/api/modules/m-{{random_int 1 20}}/{{pick a,b}}/{{ user.module }}/config"
"#;

#[test]
fn a_path_with_function_arguments_runs_and_a_space_is_refused_before_sending() {
    // Shared: exact counts against nginx's log.
    let _g = light();
    let nginx = Nginx::start();
    let dir = ReportDir::new("paths");
    let file = scenario(&dir, MODULE_PATHS, &nginx.target(), 3);
    let r = blast(&["run", file.to_str().expect("path")]);
    assert_clean(&r, &[("GET /api/modules/:id/config", 200.0, "200")]);
    let log = nginx.log();
    assert_eq!(log.len(), 200);
    let (mut ids, mut picks, mut users) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for l in &log {
        let parts: Vec<&str> = l.uri.split('/').collect();
        let [_, "api", "modules", id, pick, user, "config"] = parts[..] else { panic!("{l:?}") };
        let id: u32 = id.strip_prefix("m-").and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{l:?}"));
        assert!((1..=20).contains(&id), "{l:?}");
        ids.insert(id);
        picks.insert(pick.to_string());
        users.insert(user.to_string());
    }
    assert!(ids.len() >= 10, "{ids:?}");
    assert_eq!(picks, BTreeSet::from(["a".to_string(), "b".to_string()]));
    assert_eq!(users, (0..3).map(|u| format!("mod-{u}")).collect());

    // A space in the path's text, in a pick, in a users file value: exit 2, one line naming
    // the file, its line and the field, and nothing sent.
    let bad = [
        ("m-{{random_int 1 20}}/a b", "no spaces"),
        ("m-{{pick a b,c}}", "'a b'"),
        ("m-{{random_text 8}}", "random_text"),
        ("{{user.name}}", "user 2 of the users file"),
    ];
    for (path, why) in bad {
        let toml = MODULE_PATHS.replace("m-{{random_int 1 20}}/{{pick a,b}}/{{ user.module }}/config", path);
        let file = scenario(&dir, &toml, &nginx.target(), 3);
        std::fs::write(dir.0.join("users.csv"), "name,module\nann,m1\nbob smith,m2\n").expect("users");
        let (code, stderr) = blast_plain(&["run", file.to_str().expect("path"), "--quiet"]);
        assert_eq!(code, 2, "{path}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("scenario.toml:15: field 'path'") && stderr.contains(why), "{path}: {stderr}");
    }
    assert_eq!(nginx.log().len(), 200, "nothing sent");
}

#[test]
fn a_captured_value_that_puts_a_space_into_a_path_fails_the_step_unsent() {
    // Shared: exact counts against nginx's log.
    let _g = light();
    let nginx = Nginx::start();
    let dir = ReportDir::new("captured");
    let toml = LAUNCH_FLOW.replace("/api/modules/launch", "/api/modules/spaced").replace("rate = 300", "rate = 50");
    let file = scenario(&dir, &toml, &nginx.target(), 1);
    let r = blast(&["run", file.to_str().expect("path")]);
    let j = r.json.unwrap_or_else(|| panic!("no report: {}{}", r.stdout, r.stderr));
    assert_eq!(r.code, 1, "{}", r.stdout);
    // 100 launches answered; no details request left ("run 42" would split the request line).
    assert_eq!(f(row(&j, "launch"), "/status_codes/201"), 100.0, "{}", r.stdout);
    assert_eq!(f(row(&j, "details"), "/errors/invalid_path"), 100.0, "{}", r.stdout);
    assert_eq!(f(row(&j, "details"), "/requests/sent"), 0.0, "{}", r.stdout);
    assert!(
        r.stdout.contains("100 requests not sent (invalid_path)") && r.stdout.contains("'details' 100"),
        "{}",
        r.stdout
    );
    let log = nginx.log();
    assert_eq!(log.len(), 100);
    assert!(log.iter().all(|l| l.uri == "/api/modules/spaced"), "{log:?}");
}

/// `--io ring` against nginx closing every connection after 20 requests (`Connection: close`
/// on the 20th): the ring opens a fresh one for the next request, every request is answered,
/// and nginx logged each once, none beyond a connection's 20th.
#[test]
fn the_ring_reopens_what_nginx_closes_and_every_request_reaches_it_once() {
    // Shared: exact counts against nginx's log.
    let _g = light();
    require_uring();
    let nginx = Nginx::start();
    let target = format!("{}/api/modules/x", nginx.target());
    let r = blast(&[
        "api",
        "--io",
        "ring",
        "--method",
        "GET",
        "--rate",
        "500",
        "--duration",
        "2s",
        "--conns",
        "4",
        "--cores",
        "1",
        "--target",
        &target,
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json.expect("report");
    assert_eq!(io_name(&j), "ring", "{}", r.stdout);
    assert_eq!(f(&j, "/requests/ok"), 1000.0, "{}", r.stdout);
    assert!(f(&j, "/connections/reconnects") >= 40.0, "{}", r.stdout);
    let log = nginx.log();
    assert_eq!(log.len(), 1000, "nginx logged {} requests", log.len());
    assert!(log.iter().all(|l| l.status == 200 && l.nth <= 20 && l.method == "GET"), "{log:?}");
}

/// `--method HEAD` against nginx, which answers a HEAD with the `Content-Length` the GET would
/// have had and no body: each answer ends at its head (before, blast waited for the body and
/// every request timed out), on the connection that then carries the next request.
#[test]
fn head_requests_end_at_the_answers_head_on_each_backend() {
    // Light: 200 requests a second to nginx (measured 0.05 of a core).
    let _g = light();
    let nginx = Nginx::start();
    let target = format!("{}/api/modules/x", nginx.target());
    for io in ["epoll", "ring"] {
        if io == "ring" {
            require_uring();
        }
        let before = nginx.log().len();
        let args = ["api", "--method", "HEAD", "--rate", "200", "--duration", "1s", "--conns", "2"];
        let r = blast(&[&on_io(io, &args)[..], &["--cores", "1", "--timeout", "2s", "--target", &target]].concat());
        assert_eq!(r.code, 0, "{io}: {}{}", r.stdout, r.stderr);
        let j = r.json.expect("report");
        assert_eq!(io_name(&j), io, "{}", r.stdout);
        assert_eq!(f(&j, "/requests/ok"), 200.0, "{io}: {}", r.stdout);
        let log = nginx.log();
        let seen = &log[before..];
        assert_eq!(seen.len(), 200, "{io}: nginx logged {} requests", seen.len());
        // Sent without a body: the default chat message goes with POST, PUT and PATCH only.
        assert!(seen.iter().all(|l| l.status == 200 && l.method == "HEAD" && l.length == 0), "{io}: {seen:?}");
        // nginx ends a connection after its 20th request: 200 requests took 10 or more, each
        // request sent on a connection whose last answer had been read to its end.
        assert!(seen.iter().map(|l| l.conn).collect::<BTreeSet<_>>().len() >= 10, "{io}: {seen:?}");
    }
}
