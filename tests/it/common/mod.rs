//! Helpers for the integration tests: start the real `blast serve` as a separate process on
//! 127.0.0.1, run the real `blast` binary against it (`ws_probe_args`: the flags of a ws probe
//! run), read its JSON report (`read_json`) and ask the server for its own figures (`http_json`).
//! Every test that runs load takes `exclusive()`, `shared()`, `light()` or `moderate()` (`gate`:
//! which tests may run side by side). A third-party S3 server (s3s-fs) is in `s3`, used only by the tests that upload to
//! it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

mod gate;
pub mod s3;
pub mod uvicorn;
pub mod websocat;

// tests/allocations.rs shares these helpers and needs only `exclusive`.
#[allow(unused_imports)]
pub use gate::{exclusive, light, moderate, shared};

pub const BLAST: &str = env!("CARGO_BIN_EXE_blast");

/// A login for `blast serve`'s `/auth/login` (`ws --login` or a ws profile's inline tables):
/// one `POST /auth/login` per user of `users.csv` (`name,password`), its token captured.
pub const SERVE_LOGIN: &str = r#"
[data]
users = { file = "users.csv" }

[[on_start]]
name = "POST /auth/login"
path = "/auth/login"
json = { username = "{{user.name}}", password = "{{user.password}}" }
capture = { token = "/access_token" }
expect = { status = [200] }
"#;

/// A `blast serve` process, killed when dropped.
pub struct Server {
    child: Child,
    pub addr: String,
    /// `http://127.0.0.1:port` of the S3 endpoint, when started with `--s3-listen`.
    pub s3: Option<String>,
    /// `https` when started with --tls.
    pub scheme: &'static str,
}

impl Server {
    /// Starts `blast serve --listen 127.0.0.1:0 <extra>` and waits for its address.
    pub fn start(extra: &[&str]) -> Server {
        Server::start_on("127.0.0.1:0", extra)
    }

    /// Starts `blast serve --listen <listen> <extra>` (`[::1]:0` for IPv6) and waits for its
    /// address.
    pub fn start_on(listen: &str, extra: &[&str]) -> Server {
        let host = listen.rsplit_once(':').map_or(listen, |(h, _)| h).to_string();
        let mut child = Command::new(BLAST)
            .args(["serve", "--listen", listen, "--exit-after", "300s"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn blast serve");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut banner = || {
            let mut line = String::new();
            stdout.read_line(&mut line).expect("read serve banner");
            line.trim()
                .rsplit("://")
                .next()
                .filter(|a| a.starts_with(&format!("{host}:")) || a.starts_with("127.0.0.1:"))
                .unwrap_or_else(|| panic!("unexpected serve banner: {line:?}"))
                .to_string()
        };
        let addr = banner();
        let scheme = if extra.iter().any(|a| a.starts_with("--tls")) { "https" } else { "http" };
        let s3 = extra.contains(&"--s3-listen").then(|| format!("{scheme}://{}", banner()));
        Server { child, addr, s3, scheme }
    }

    pub fn url(&self) -> String {
        format!("{}://{}/v1/messages", self.scheme, self.addr)
    }

    /// The WebSocket endpoint, `ws://127.0.0.1:port/ws`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// The JSON body of `method path` (with `body`, sent as JSON) on this server.
    pub fn json(&self, method: &str, path: &str, body: Option<&str>) -> serde_json::Value {
        http_json(&self.addr, method, path, body)
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A fresh path for a report file.
pub fn temp_path(name: &str) -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("blast-test-{}-{n}-{name}", std::process::id()))
}

/// A fresh directory for a run's report files, removed with its files when dropped.
pub struct ReportDir(pub std::path::PathBuf);

impl ReportDir {
    pub fn new(name: &str) -> ReportDir {
        let dir = temp_path(name);
        std::fs::create_dir_all(&dir).expect("report dir");
        ReportDir(dir)
    }

    /// The path of `name` in the directory, as a flag's value.
    pub fn path(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for ReportDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A JSON report file, parsed.
pub fn read_json(path: impl AsRef<std::path::Path>) -> serde_json::Value {
    let path = path.as_ref();
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Sends one HTTP/1.1 request (`Connection: close`; `body`, if any, as JSON) to `addr` and
/// parses the response's body as JSON.
pub fn http_json(addr: &str, method: &str, path: &str, body: Option<&str>) -> serde_json::Value {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(body) = body {
        head.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    head.push_str(body.unwrap_or_default());
    s.write_all(head.as_bytes()).expect("write request");
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read response");
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {raw}"))
}

/// `blast ws` arguments for a probe run: `conns` connections to `target` held `duration`,
/// probes at `probe_rate`, no heartbeat, then `extra`.
pub fn ws_probe_args<'a>(
    target: &'a str,
    conns: &'a str,
    duration: &'a str,
    probe_rate: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut a = vec![
        "ws",
        "--target",
        target,
        "--conns",
        conns,
        "--duration",
        duration,
        "--probe-rate",
        probe_rate,
        "--heartbeat",
        "0s",
    ];
    a.extend_from_slice(extra);
    a
}

/// Result of one `blast` run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub json: Option<serde_json::Value>,
}

/// Runs `blast <args> --json <tmp>` and parses the report.
pub fn blast(args: &[&str]) -> Run {
    let json_path = temp_path("report.json");
    let out: Output =
        Command::new(BLAST).args(args).arg("--json").arg(&json_path).arg("--quiet").output().expect("run blast");
    finish(out, &json_path)
}

pub fn finish(out: Output, json_path: &std::path::Path) -> Run {
    let json = std::fs::read(json_path).ok().and_then(|b| serde_json::from_slice(&b).ok());
    let _ = std::fs::remove_file(json_path);
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        json,
    }
}

/// Starts `blast <args> --quiet --json <json_path>` in the background, output captured.
pub fn spawn_blast(args: &[&str], json_path: &std::path::Path) -> Child {
    Command::new(BLAST)
        .args(args)
        .arg("--quiet")
        .arg("--json")
        .arg(json_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn blast")
}

/// Runs blast without a report file and returns exit code and stderr.
pub fn blast_plain(args: &[&str]) -> (i32, String) {
    let out = Command::new(BLAST).args(args).output().expect("run blast");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

pub fn f(v: &serde_json::Value, path: &str) -> f64 {
    v.pointer(path).and_then(|x| x.as_f64()).unwrap_or_else(|| panic!("missing {path} in {v}"))
}

/// Runs `a` on a thread of its own and `b` on this one, at the same time, and returns both
/// results. A panic in either is the caller's, once both have ended (the scope waits for `a`).
pub fn at_once<A: Send, B>(a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B) -> (A, B) {
    std::thread::scope(|s| {
        let other = s.spawn(a);
        let here = b();
        match other.join() {
            Ok(there) => (there, here),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

pub fn wait_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// Fails loudly, with the kernel's reason, where io_uring cannot be set up (a backend silently
/// replaced by epoll would pass the uring tests otherwise).
pub fn require_uring() {
    if let Err(why) = blast::engine::io::probe() {
        panic!("io_uring is unavailable on this machine, so `--io uring` cannot be tested: {why}");
    }
}

/// The backend a run's report names (`/plan/io` up to its reason).
pub fn io_name(j: &serde_json::Value) -> String {
    let io = j.pointer("/plan/io").and_then(|v| v.as_str()).unwrap_or_else(|| panic!("no /plan/io in {j}"));
    io.split(' ').next().unwrap_or_default().to_string()
}

/// `args` (a `blast api` command line) on backend `io` ("" for the default).
pub fn on_io<'a>(io: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut all = args.to_vec();
    if !io.is_empty() {
        all.splice(1..1, ["--io", io]);
    }
    all
}
