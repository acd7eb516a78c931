//! `--web ADDR`: the live page's server. A small `std::net` thread, off the worker cores,
//! answers the browser with the latest page the coordinating thread published once a second
//! (`publish`), and takes the run's controls.
//!
//! - `GET /`: the whole page (the report's style, the controls, the figures, a small script
//!   that fetches `GET /live` once a second and swaps the figures in). No secret is ever on a
//!   GET page: everything published passes through `redact`, and the token is not in it.
//! - `GET /files/N`: the N-th report file the run wrote (after the run).
//! - `POST /stop`, `POST /rate` (body: a rate such as `2000` or `5k`): each needs the per-run
//!   token in the `X-Blast-Token` header, else `403` and nothing changes. The page's script
//!   reads the token from the address's fragment (`#token=...`), which browsers never send.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a control does: `Ok` with what to show, `Err` with why it was refused.
pub type Control = Box<dyn Fn(&str) -> Result<String, String> + Send + Sync>;

/// The run's controls, each behind the token.
pub struct Controls {
    /// Ends the run gracefully (reports written).
    pub stop: Control,
    /// Sets the arrival rate from the next second; none where the workload has no rate.
    pub set_rate: Option<Control>,
}

/// What the page shows now.
#[derive(Default)]
struct Published {
    title: String,
    body: String,
    /// Report files written, served under /files/N.
    files: Vec<String>,
    /// The run is over: the page stops polling.
    done: bool,
}

/// The server: answers until dropped.
pub struct PageServer {
    page: Arc<Mutex<Published>>,
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

/// A fresh per-run token: 128 bits from the kernel's generator, in hex.
pub fn new_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl PageServer {
    /// Listens on `addr` (bound now, so that a busy address fails before the run) and answers
    /// from a thread of its own.
    pub fn start(addr: SocketAddr, token: String, controls: Controls) -> std::io::Result<PageServer> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let page = Arc::new(Mutex::new(Published::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (served, stopping) = (page.clone(), stop.clone());
        std::thread::Builder::new().name("blast-web".into()).spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::Relaxed) {
                    break;
                }
                if let Ok(stream) = stream {
                    answer(stream, &served, &token, &controls);
                }
            }
        })?;
        Ok(PageServer { page, addr, stop })
    }

    /// The address it listens on (the port the kernel picked for `:0`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Makes `body` (an `html::body`) what the page shows; `title` its title.
    pub fn publish(&self, title: &str, body: &str) {
        if let Ok(mut p) = self.page.lock() {
            p.title = crate::redact::text(title).into_owned();
            p.body = crate::redact::text(body).into_owned();
        }
    }

    /// The run is over: `body` is the final report, `files` what was written (linked).
    pub fn finish(&self, title: &str, body: &str, files: Vec<String>) {
        let mut links = String::from(r#"<div id="files"><h2>Report files</h2><ul>"#);
        for (i, f) in files.iter().enumerate() {
            let f = crate::report::chart::esc(&crate::redact::text(f));
            links.push_str(&format!(r#"<li><a href="/files/{i}">{f}</a></li>"#));
        }
        links.push_str("</ul></div>");
        let body = if files.is_empty() { body.to_string() } else { format!("{body}{links}") };
        self.publish(title, &body);
        if let Ok(mut p) = self.page.lock() {
            p.files = files;
            p.done = true;
        }
    }
}

impl Drop for PageServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

/// One request as far as the page needs it.
struct Request {
    method: String,
    path: String,
    token: Option<String>,
    body: String,
}

/// Largest request head and body read.
const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 1024;

fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut buf = [0u8; 4096];
    let mut got = Vec::new();
    let head_end = loop {
        if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if got.len() > MAX_HEAD {
            return None;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&got[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split_whitespace();
    let (method, target) = (first.next()?.to_string(), first.next()?.to_string());
    let path = target.split('?').next().unwrap_or("").to_string();
    let mut token = None;
    let mut length = 0usize;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        if name.trim().eq_ignore_ascii_case("x-blast-token") {
            token = Some(value.trim().to_string());
        } else if name.trim().eq_ignore_ascii_case("content-length") {
            length = value.trim().parse().ok()?;
        }
    }
    let length = length.min(MAX_BODY);
    let mut body = got[head_end..].to_vec();
    while body.len() < length {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&buf[..n]),
        }
    }
    body.truncate(length);
    Some(Request { method, path, token, body: String::from_utf8_lossy(&body).to_string() })
}

/// Whether `given` is the token, compared in time that does not depend on where they differ.
fn token_ok(given: Option<&str>, token: &str) -> bool {
    let Some(given) = given else { return false };
    if given.len() != token.len() {
        return false;
    }
    given.bytes().zip(token.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

fn answer(mut stream: TcpStream, page: &Mutex<Published>, token: &str, controls: &Controls) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    let Some(req) = read_request(&mut stream) else { return };
    let (status, kind, body) = route(&req, page, token, controls);
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
}

const HTML: &str = "text/html; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

fn route(req: &Request, page: &Mutex<Published>, token: &str, c: &Controls) -> (&'static str, &'static str, Vec<u8>) {
    let Ok(p) = page.lock() else { return ("500 Internal Server Error", TEXT, b"busy\n".to_vec()) };
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/") => ("200 OK", HTML, whole(&p, c.set_rate.is_some()).into_bytes()),
        ("GET", "/live") => {
            let state = if p.done { "done" } else { "live" };
            ("200 OK", HTML, format!("<!--{state}-->{}", p.body).into_bytes())
        }
        ("GET", path) if path.starts_with("/files/") => {
            let file = path["/files/".len()..].parse::<usize>().ok().and_then(|i| p.files.get(i));
            match file.and_then(|f| std::fs::read(f).ok()) {
                Some(bytes) => {
                    let kind = if file.is_some_and(|f| f.ends_with(".html")) { HTML } else { TEXT };
                    ("200 OK", kind, bytes)
                }
                None => ("404 Not Found", TEXT, b"no such report file\n".to_vec()),
            }
        }
        ("POST", "/stop" | "/rate") => {
            drop(p);
            if !token_ok(req.token.as_deref(), token) {
                return ("403 Forbidden", TEXT, b"refused: the run's token is missing or wrong\n".to_vec());
            }
            let outcome = match (req.path.as_str(), &c.set_rate) {
                ("/stop", _) => (c.stop)(&req.body),
                (_, Some(set)) => set(req.body.trim()),
                (_, None) => Err("this workload has no rate to set".into()),
            };
            match outcome {
                Ok(msg) => ("200 OK", TEXT, format!("{msg}\n").into_bytes()),
                Err(why) => ("400 Bad Request", TEXT, format!("refused: {why}\n").into_bytes()),
            }
        }
        _ => ("404 Not Found", TEXT, b"not found\n".to_vec()),
    }
}

/// The whole page: the report's head, the controls (Set rate only where the workload has a
/// rate to set), the figures and the script.
fn whole(p: &Published, rate: bool) -> String {
    let mut o = crate::report::html::head(&p.title);
    o.push_str(CONTROLS_START);
    if rate {
        o.push_str(RATE_CONTROL);
    }
    o.push_str(CONTROLS_END);
    o.push_str(r#"<div id="live">"#);
    o.push_str(&p.body);
    o.push_str("</div>");
    o.push_str(SCRIPT);
    o.push_str("</body></html>\n");
    o
}

const CONTROLS_START: &str = r#"<div id="controls" style="position:sticky;top:0;background:#fff;padding:6px 0;border-bottom:1px solid #ddd">
<button id="stop" type="button">Stop</button>
"#;
const RATE_CONTROL: &str = r#"<input id="rate" size="10" placeholder="e.g. 2000"><button id="set-rate" type="button">Set rate</button>
"#;
const CONTROLS_END: &str = r#"<span id="msg"></span></div>"#;

const SCRIPT: &str = r#"<script>
(function () {
  var token = (/(?:^#|&)token=([0-9a-f]+)/.exec(location.hash) || [])[1] || "";
  var msg = document.getElementById("msg");
  function send(path, body) {
    fetch(path, { method: "POST", headers: { "X-Blast-Token": token }, body: body })
      .then(function (r) { return r.text(); })
      .then(function (t) { msg.textContent = t; })
      .catch(function (e) { msg.textContent = "failed: " + e; });
  }
  document.getElementById("stop").onclick = function () { send("/stop", ""); };
  var setRate = document.getElementById("set-rate");
  if (setRate) {
    setRate.onclick = function () { send("/rate", document.getElementById("rate").value); };
  }
  var timer = setInterval(function () {
    fetch("/live").then(function (r) { return r.text(); }).then(function (t) {
      document.getElementById("live").innerHTML = t;
      if (t.indexOf("<!--done-->") === 0) { clearInterval(timer); }
    }).catch(function () {});
  }, 1000);
})();
</script>"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_fresh_and_compared_whole() {
        let (a, b) = (new_token().expect("token"), new_token().expect("token"));
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(token_ok(Some(&a), &a));
        assert!(!token_ok(Some(&b), &a));
        assert!(!token_ok(Some(&a[..31]), &a));
        assert!(!token_ok(None, &a));
    }

    #[test]
    fn the_rate_box_is_only_where_a_rate_can_be_set() {
        let p = Published { title: "t".into(), body: "b".into(), ..Published::default() };
        assert!(whole(&p, true).contains(r#"id="set-rate""#));
        let without = whole(&p, false);
        assert!(!without.contains(r#"id="set-rate""#) && without.contains(r#"id="stop""#), "{without}");
    }
}
