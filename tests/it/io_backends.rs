//! The I/O backends of the api hot path (`--io epoll`, `--io uring`, `--io ring`) against
//! `blast serve`:
//! the accuracy checks of tests/it/accuracy.rs on each, the io_uring stream itself (pipelined
//! requests, partial reads) and the `--io auto` rule as the report states it. Allocations per
//! request in steady state need a counting allocator for the whole process: tests/allocations.rs.
//!
//! io_uring is required here: CI runs on machines like the development VM, whose kernel allows
//! it. Where the kernel refuses it, the uring tests fail and print the kernel's reason (a
//! backend silently replaced by epoll would pass them otherwise).

use crate::common::*;
use blast::http::transport::Transport;
use blast::http::ResponseDecoder;
use bytes::BytesMut;

fn plan_io(j: &serde_json::Value) -> String {
    j.pointer("/plan/io").and_then(|v| v.as_str()).unwrap_or_else(|| panic!("no /plan/io in {j}")).to_string()
}

/// Runs blast; a run that blast itself reports as generator-bound (the OS did not give it the
/// CPU: its pacer fell behind, which it warns about) is not a measurement and is run once more.
/// The second run is judged whatever it says.
fn measured(args: &[&str]) -> Run {
    let r = blast(args);
    let starved = r
        .json
        .as_ref()
        .and_then(|j| j["warnings"].as_array())
        .is_some_and(|w| w.iter().any(|w| w.as_str().is_some_and(|w| w.starts_with("generator-bound"))));
    if starved {
        eprintln!("generator-bound (busy machine), once more: {args:?}");
        return blast(args);
    }
    r
}

/// The rate sweep and the 1 ms delay of tests/it/accuracy.rs, on backend `io`: the achieved rate
/// within 0.5% of the target, every request answered, and the delay reported within
/// d - 0.05 ms and d + 1% + 0.3 ms at p50, both as measured and beyond the hold the target
/// applied (accuracy.rs's check, made here for each backend; accuracy.rs runs the sweep's
/// 20,000/s and the 100 ms delay).
fn accuracy_on(io: &str) {
    // Exclusive: rate achieved within 0.5%, latency within 0.3 ms.
    let _g = exclusive();
    let server = Server::start(&[]);
    for rate in ["500", "5000"] {
        let r = measured(&["api", "--io", io, "--rate", rate, "--duration", "2s", "--target", &server.url()]);
        assert_eq!(r.code, 0, "{io} {rate}: {}{}", r.stdout, r.stderr);
        let j = r.json.expect("report");
        assert_eq!(io_name(&j), io, "{}", r.stdout);
        let ratio = f(&j, "/rate_ratio");
        assert!((0.995..=1.005).contains(&ratio), "{io} rate {rate}: achieved {ratio} of target\n{}", r.stdout);
        let (sent, scheduled) = (f(&j, "/requests/sent"), f(&j, "/requests/scheduled"));
        assert!((sent - scheduled).abs() <= scheduled * 0.005, "{io} rate {rate}: sent {sent} of {scheduled}");
        assert_eq!(f(&j, "/requests/completed"), sent, "{io} rate {rate}: every request answered");
        assert_eq!(f(&j, "/requests/ok"), sent, "{io} rate {rate}: every answer a success");
    }
    drop(server);
    let server = Server::start(&["--delay", "1ms"]);
    let r = measured(&[
        "api",
        "--io",
        io,
        "--rate",
        "1000",
        "--duration",
        "2s",
        "--conns",
        "10",
        "--target",
        &server.url(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let j = r.json.expect("report");
    assert_eq!(io_name(&j), io);
    for path in ["/latency_ms/p50", "/service_ms/p50"] {
        let v = f(&j, path);
        assert!((0.95..=1.31).contains(&v), "{io}: {path} = {v} ms, want [0.95, 1.31]\n{}", r.stdout);
    }
    assert!(f(&j, "/service_ms/min") >= 0.99, "{io}: faster than the delay\n{}", r.stdout);
    crate::accuracy::delay_beyond_the_hold(&j, &format!("{io} 1ms"), 1.0, &r.stdout);
}

#[test]
fn api_on_epoll_meets_the_accuracy_checks() {
    accuracy_on("epoll");
}

#[test]
fn api_on_uring_meets_the_accuracy_checks() {
    require_uring();
    accuracy_on("uring");
}

#[test]
fn api_on_ring_meets_the_accuracy_checks() {
    require_uring();
    accuracy_on("ring");
}

/// The ring says how it receives; what it cannot run (a flow, TLS) goes on epoll, saying why.
#[test]
fn the_ring_says_how_it_receives_and_sends_what_it_cannot_run_to_epoll() {
    // Shared: exact counts at 100/s.
    let _g = light();
    require_uring();
    let server = Server::start(&[]);
    let r =
        blast(&["api", "--io", "ring", "--rate", "100", "--duration", "1s", "--cores", "1", "--target", &server.url()]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let j = r.json.expect("report");
    let io = plan_io(&j);
    assert!(io.starts_with("ring (multishot recv") || io.starts_with("ring (single-shot recv"), "{io}");
    assert_eq!(f(&j, "/requests/ok"), 100.0, "{}", r.stdout);
    let dir = ReportDir::new("ring-flow");
    let toml = dir.path("flow.toml");
    let flow = format!(
        r#"workload = "api"
[args]
target = "http://{}"
rate = 50
duration = "1s"
io = "ring"

[[flow]]
name = "two"
steps = [
  {{ name = "a", method = "POST", path = "/v1/messages" }},
  {{ name = "b", method = "POST", path = "/v1/messages" }},
]
"#,
        server.addr
    );
    std::fs::write(&toml, flow).expect("write scenario");
    let r = blast(&["run", &toml]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json.expect("report");
    assert_eq!(plan_io(&j), "epoll (ring asked for, but flows run on epoll)");
}

/// Opens a connection to `addr` on a worker runtime (`uring` or not), writes `count` requests
/// in one write and reads until every response is decoded; returns the backend and statuses.
fn pipelined(uring: bool, addr: std::net::SocketAddr, count: usize) -> (&'static str, Vec<u16>) {
    let mut result = ("none", Vec::new());
    blast::engine::io::block_on(uring, || async {
        let mut t = Transport::open(addr, None).await.expect("connect to blast serve");
        let backend = match t {
            Transport::Epoll(_) => "epoll",
            Transport::Uring(_) => "uring",
        };
        let one = b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}";
        let head: Vec<u8> = one.repeat(count - 1);
        t.write_parts(&head, &[one]).await.expect("write");
        // A small buffer, so that responses span reads and reads append behind leftovers.
        let mut read = BytesMut::with_capacity(64);
        let mut decoder = ResponseDecoder::new();
        let mut statuses = Vec::new();
        while statuses.len() < count {
            match decoder.decode(&mut read).expect("valid HTTP") {
                Some(r) => statuses.push(r.status),
                None => {
                    let n = t.read_into(&mut read).await.expect("read");
                    assert!(n > 0, "closed after {} responses", statuses.len());
                }
            }
        }
        result = (backend, statuses);
    })
    .expect("runtime");
    result
}

#[test]
fn the_uring_stream_carries_pipelined_requests_and_split_responses() {
    require_uring();
    // Shared: 64 requests, their statuses.
    let _g = light();
    let server = Server::start(&[]);
    let addr = server.addr.parse().expect("address");
    for uring in [true, false] {
        let (backend, statuses) = pipelined(uring, addr, 64);
        assert_eq!(backend, if uring { "uring" } else { "epoll" });
        assert_eq!(statuses, vec![202; 64], "{backend}");
    }
}

#[test]
fn auto_states_its_choice_and_https_stays_on_epoll_with_a_warning() {
    // Shared: the plan's words, exact counts at 200/s.
    let _g = light();
    let server = Server::start(&[]);
    let r = blast(&["api", "--rate", "200", "--duration", "1s", "--cores", "1", "--target", &server.url()]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let io = plan_io(&r.json.expect("report"));
    let cores = blast::engine::io::online_cores();
    // The rule: uring needs 2 cores left beside blast's one for the target, and a willing kernel.
    let uring = cores >= 3 && blast::engine::io::probe().is_ok();
    let want = if uring { "uring (auto: " } else { "epoll (auto: " };
    assert!(io.starts_with(want), "{io}");
    // The ring, cheaper than epoll where the kernel times receives, is left out by redirects
    // alone (it does not follow them), and the plan line says so; with `--redirects 0` auto
    // takes it, and every request is answered there.
    let stamped = blast::engine::ring::probe().is_ok_and(|how| how.contains("kernel receive times"));
    assert_eq!(io.contains("--redirects 0 lets auto take it"), stamped && !uring, "{io}");
    let url = server.url();
    let r = blast(&["api", "--rate", "200", "--duration", "1s", "--cores", "1", "--redirects", "0", "--target", &url]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let j = r.json.expect("report");
    let io = plan_io(&j);
    if uring {
        assert!(io.starts_with("uring (auto: "), "{io}");
    } else if stamped {
        let why =
            "ring (auto: multishot recv, provided buffers, registered sockets, kernel receive times; measured cheaper";
        assert!(io.starts_with(why), "{io}");
    } else {
        assert!(io.starts_with("epoll (auto: "), "{io}");
    }
    assert_eq!(f(&j, "/requests/ok"), 200.0, "{io}");
    drop(server);

    let cert = temp_path("io-cert.pem").to_string_lossy().to_string();
    let server = Server::start(&["--tls-cert-out", &cert]);
    let url = format!("https://localhost:{}/v1/messages", server.addr.rsplit(':').next().expect("port"));
    // io_uring and the ring both refuse TLS the same way: it runs on epoll, with a warning.
    for io in ["uring", "ring"] {
        let r = blast(&[
            "api",
            "--io",
            io,
            "--ca-cert",
            &cert,
            "--rate",
            "200",
            "--duration",
            "1s",
            "--cores",
            "1",
            "--target",
            &url,
        ]);
        assert_eq!(r.code, 0, "{io}: {}{}", r.stdout, r.stderr);
        let j = r.json.expect("report");
        let asked = if io == "uring" { "io_uring" } else { "ring" };
        assert_eq!(plan_io(&j), format!("epoll ({asked} asked for, but TLS runs on epoll)"));
        assert_eq!(f(&j, "/requests/ok"), 200.0);
        let warned = j["warnings"]
            .as_array()
            .is_some_and(|w| w.iter().any(|w| w.as_str().is_some_and(|w| w.starts_with("I/O:"))));
        assert!(warned, "{io}: {}", r.stdout);
    }
    let _ = std::fs::remove_file(&cert);
}

/// Single-shot receives (the way of kernels before 6.0) and multishot ones without the
/// kernel's receive times (kernels that give none), both asked for with `BLAST_RING_RECV`:
/// every request answered, the plan line says which; unasked, the ring says it times
/// responses by the kernel's receive times (this kernel gives them).
#[test]
fn the_ring_on_each_way_of_receiving_answers_every_request() {
    // Shared: exact counts at 2,000/s.
    let _g = moderate();
    require_uring();
    let server = Server::start(&[]);
    for (asked, says) in [
        ("single", "ring (single-shot recv"),
        ("multishot", "ring (multishot recv, provided buffers, registered sockets;"),
        ("", "ring (multishot recv, provided buffers, registered sockets, kernel receive times"),
    ] {
        let json = temp_path(&format!("recv-{asked}.json"));
        let out = std::process::Command::new(BLAST)
            .args(["api", "--io", "ring", "--rate", "2000", "--duration", "2s", "--cores", "1", "--conns", "8"])
            .args(["--quiet", "--target", &server.url(), "--json"])
            .arg(&json)
            .env("BLAST_RING_RECV", asked)
            .output()
            .expect("run blast");
        assert_eq!(out.status.code(), Some(0), "{asked}: {}", String::from_utf8_lossy(&out.stderr));
        let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).expect("report")).expect("json");
        let _ = std::fs::remove_file(&json);
        assert!(plan_io(&j).starts_with(says), "{asked}: {}", plan_io(&j));
        assert_eq!(f(&j, "/requests/ok"), 4000.0, "{asked}: {j}");
        assert_eq!(f(&j, "/requests/scheduled"), 4000.0, "{asked}");
    }
}

/// A kept connection the target closes while it is idle is seen on the ring (its receive ends)
/// and replaced before the next request, without an error.
#[test]
fn the_ring_replaces_connections_the_target_closed_while_idle() {
    // Shared: exact counts at 10/s.
    let _g = light();
    require_uring();
    let server = Server::start(&["--keepalive-timeout", "50ms"]);
    let url = server.url();
    let r = blast(&[
        "api",
        "--io",
        "ring",
        "--rate",
        "10",
        "--duration",
        "2s",
        "--conns",
        "2",
        "--cores",
        "1",
        "--target",
        &url,
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json.expect("report");
    assert_eq!(io_name(&j), "ring", "{}", r.stdout);
    assert_eq!(f(&j, "/requests/ok"), 20.0, "{}", r.stdout);
    // Each connection waits 200 ms between its requests: the target closed it every time.
    assert!(f(&j, "/connections/closed_idle") >= 15.0, "{}", r.stdout);
    assert!(f(&j, "/connections/reconnects") >= 15.0, "{}", r.stdout);
}

#[test]
fn an_unknown_backend_is_a_usage_error() {
    let (code, err) = blast_plain(&["api", "--io", "kqueue", "--rate", "10", "--duration", "1s"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("kqueue"), "{err}");
}

/// A server that sends its response in parts and waits on the client's reads (Python's
/// http.server: headers and body in two writes with Nagle on, so the body waits for the
/// headers' acknowledgement; a body larger than the receive window waits for reads): the
/// ring, which may sleep through responses when the kernel times them, reads these as they
/// come. A core that slept until its next due send held them 40 ms and more (delayed ACKs,
/// a full window), which the report then counted as the server's latency.
#[test]
fn the_ring_reads_a_response_sent_in_parts_as_it_comes() {
    // Exclusive: latency bounds of tens of milliseconds.
    let _g = exclusive();
    require_uring();
    const SERVER: &str = r#"
import http.server, socketserver, sys
BODY = b"x" * int(sys.argv[1])
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)
    def log_message(self, *a):
        pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
s = S(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;
    let script = temp_path("parts_server.py");
    std::fs::write(&script, SERVER).expect("server script");
    for body in ["1000", "262144"] {
        let mut child = std::process::Command::new(crate::common::uvicorn::python())
            .arg(&script)
            .arg(body)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start the Python server");
        let mut port = String::new();
        let stdout = child.stdout.take().expect("stdout");
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut port).expect("port");
        let url = format!("http://127.0.0.1:{}/", port.trim());
        let r = blast(&[
            "api",
            "--io",
            "ring",
            "--rate",
            "20",
            "--duration",
            "2s",
            "--conns",
            "1",
            "--cores",
            "1",
            "--target",
            &url,
        ]);
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(r.code, 0, "{body}: {}", r.stdout);
        let j = r.json.expect("report");
        assert_eq!(io_name(&j), "ring", "{}", r.stdout);
        assert_eq!(f(&j, "/requests/ok"), 40.0, "{body}: {}", r.stdout);
        let (p50, p90) = (f(&j, "/latency_ms/p50"), f(&j, "/latency_ms/p90"));
        assert!(p50 < 15.0 && p90 < 30.0, "{body} B: p50 {p50} ms, p90 {p90} ms\n{}", r.stdout);
    }
    let _ = std::fs::remove_file(&script);
}
