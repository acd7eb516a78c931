//! `blast serve`: the embedded target. Separate from the generators; they only share the
//! precise timer.
//!
//! It answers `POST /v1/messages` with 202 and a small JSON body, `GET /health` with 200, and
//! can inject known faults (`faults`) so that blast's accuracy is testable against the truth.
//! HTTP is hyper's (well tested, and later issues add WebSocket and S3 on the same server).

pub mod faults;

use crate::clock::PreciseTimer;
use bytes::Bytes;
use faults::Faults;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// How the target is run.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    /// Runtime worker threads.
    pub threads: usize,
    pub faults: Faults,
}

struct App {
    started: Instant,
    faults: Faults,
}

const ACCEPTED: &[u8] = br#"{"status":"accepted"}"#;
const HEALTHY: &[u8] = br#"{"status":"ok"}"#;
const NOT_FOUND: &[u8] = br#"{"error":"not found"}"#;
const BAD_BODY: &[u8] = br#"{"error":"unreadable body"}"#;

/// A running target: its address, and the thread that runs it (it runs until the process ends).
pub struct Running {
    pub addr: SocketAddr,
}

/// Binds now (so the caller learns the address and bind errors at once) and serves on a
/// background thread.
pub fn start(cfg: &ServeConfig) -> std::io::Result<Running> {
    let listener = std::net::TcpListener::bind(cfg.listen)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.threads.max(1))
        .thread_name("blast-serve")
        .enable_all()
        .build()?;
    let app = Arc::new(App {
        started: Instant::now(),
        faults: cfg.faults.clone(),
    });
    std::thread::Builder::new()
        .name("blast-serve-accept".into())
        .spawn(move || {
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        eprintln!("blast serve: {e}");
                        return;
                    }
                };
                accept_loop(listener, app).await;
            });
        })?;
    Ok(Running { addr })
}

async fn accept_loop(listener: tokio::net::TcpListener, app: Arc<App>) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(_) => {
                // Out of descriptors or similar: back off briefly instead of spinning.
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(req, app.clone()));
            let _ = http1::Builder::new()
                .pipeline_flush(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    req: Request<Incoming>,
    app: Arc<App>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let arrived = Instant::now();
    let (status, body) = match (req.method(), req.uri().path()) {
        (&Method::POST, "/v1/messages") => {
            if req.into_body().collect().await.is_err() {
                (StatusCode::BAD_REQUEST, BAD_BODY)
            } else {
                if !app.faults.is_none() {
                    PreciseTimer::new()
                        .sleep_until(app.faults.release_at(app.started, arrived))
                        .await;
                }
                (StatusCode::ACCEPTED, ACCEPTED)
            }
        }
        (&Method::GET, "/health") => (StatusCode::OK, HEALTHY),
        _ => (StatusCode::NOT_FOUND, NOT_FOUND),
    };
    let mut resp = Response::new(Full::new(Bytes::from_static(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}
