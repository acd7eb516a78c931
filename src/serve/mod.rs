//! `blast serve`: the embedded target. Separate from the generators; they only share the
//! precise timer.
//!
//! It answers `POST /v1/messages` with 202 and a small JSON body, `GET /health` with 200,
//! upgrades `GET /ws` to a WebSocket with conversation fan-out (`ws`, `rooms`), and can inject
//! known faults (`faults`) so that blast's accuracy is testable against the truth.
//! For scenario tests it mirrors a chat application's API: `POST /auth/login` issuing bearer
//! tokens, enforced on the `/v1/` endpoints and `/ws` with `AuthConfig::require` (`auth`; a
//! WebSocket is closed with 4401 when its token expires),
//! `GET /v1/conversations` (a small fixed list), the chunked upload API under `/v1/files/`
//! (`files`; multipart chunks read by `multipart`), and `GET /stats/logins` and `GET /stats/uploads` reporting what they saw. With
//! `s3` set it also serves an S3 endpoint (`s3`) on a listener of its own. With `tls` set both
//! listeners speak HTTPS (and `wss://`) instead (`tls`).
//! HTTP is hyper's (well tested, and later issues add WebSocket and S3 on the same server).

pub mod auth;
pub mod faults;
pub mod files;
mod idle;
pub mod misbehave;
pub mod multipart;
pub mod rooms;
pub mod s3;
pub mod tls;
pub mod ws;

use crate::clock::PreciseTimer;
use bytes::Bytes;
use faults::{Faults, Held, HOLD_HEADER};
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
    /// Drop half the WebSocket connections at this time after the start.
    pub ws_drop: Option<ws::DropHalf>,
    /// How broadcasts are laid out for WebSocket subscribers.
    pub ws_layout: rooms::Layout,
    /// Also serve S3 on this address.
    pub s3: Option<(SocketAddr, s3::S3Config)>,
    /// Answer every HTTP request wrongly in this way instead (raw TCP; for fault tests).
    pub misbehave: Option<misbehave::Misbehaviour>,
    /// Serve HTTPS/WSS (and S3 over HTTPS) with this configuration (`tls::server_config`).
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

struct App {
    started: Instant,
    faults: Faults,
    rooms: Arc<rooms::Rooms>,
    next_ws_id: std::sync::atomic::AtomicU64,
    ws_drop: Option<ws::DropHalf>,
    auth: auth::Auth,
    files: files::Files,
}

/// Pending connections the kernel may queue before `accept`.
const LISTEN_BACKLOG: u32 = 4096;

const ACCEPTED: &[u8] = br#"{"status":"accepted"}"#;
const HEALTHY: &[u8] = br#"{"status":"ok"}"#;
const NOT_FOUND: &[u8] = br#"{"error":"not found"}"#;
const BAD_BODY: &[u8] = br#"{"error":"unreadable body"}"#;
const CONVERSATIONS: &[u8] = br#"[{"conversation_id":"conv-1","title":"general","unread":0},{"conversation_id":"conv-2","title":"random","unread":2},{"conversation_id":"conv-3","title":"load-test","unread":5}]"#;

/// A running target: its address, and the thread that runs it (it runs until the process ends).
pub struct Running {
    pub addr: SocketAddr,
    /// The S3 endpoint's address, when one was asked for.
    pub s3_addr: Option<SocketAddr>,
}

/// A listener on `addr`; an error names the address and the `flag` that gave it.
fn listen(addr: SocketAddr, flag: &str) -> std::io::Result<tokio::net::TcpListener> {
    let bound = || -> std::io::Result<tokio::net::TcpListener> {
        let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        socket.listen(LISTEN_BACKLOG)
    };
    bound().map_err(|e| std::io::Error::new(e.kind(), format!("{flag} {addr}: {e}")))
}

/// Binds now (so the caller learns the address and bind errors at once) and serves on a
/// background thread. Bearer tokens are issued but not required.
pub fn start(cfg: &ServeConfig) -> std::io::Result<Running> {
    start_with(cfg, auth::AuthConfig::default())
}

/// `start`, with bearer tokens enforced as `auth` says.
pub fn start_with(cfg: &ServeConfig, auth: auth::AuthConfig) -> std::io::Result<Running> {
    let tls = cfg.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.threads.max(1))
        .thread_name("blast-serve")
        .enable_all()
        .build()?;
    // A deep accept backlog: 10K WebSocket clients connecting at thousands per second overflow
    // the default (128) and wait a full SYN retransmit (1 s).
    let (listener, s3_listener) = {
        let _enter = runtime.enter();
        let s3 = match &cfg.s3 {
            Some((addr, s3cfg)) => Some((listen(*addr, "--s3-listen")?, s3::service(s3cfg))),
            None => None,
        };
        (listen(cfg.listen, "--listen")?, s3)
    };
    let addr = listener.local_addr()?;
    let s3_addr = match &s3_listener {
        Some((l, _)) => Some(l.local_addr()?),
        None => None,
    };
    let app = Arc::new(App {
        started: Instant::now(),
        faults: cfg.faults.clone(),
        rooms: Arc::new(rooms::Rooms::new(cfg.ws_layout)),
        next_ws_id: Default::default(),
        ws_drop: cfg.ws_drop,
        auth: auth::Auth::new(auth),
        files: files::Files::new(cfg.faults.corrupt_chunk),
    });
    let misbehave = cfg.misbehave;
    std::thread::Builder::new().name("blast-serve-accept".into()).spawn(move || {
        if let Some((l, service)) = s3_listener {
            runtime.spawn(s3_accept_loop(l, service, tls.clone()));
        }
        match misbehave {
            Some(kind) => runtime.block_on(misbehave::serve(listener, kind)),
            None => runtime.block_on(accept_loop(listener, app, tls)),
        }
    })?;
    Ok(Running { addr, s3_addr })
}

type Acceptor = Option<tokio_rustls::TlsAcceptor>;

async fn s3_accept_loop(listener: tokio::net::TcpListener, service: s3s::service::S3Service, tls: Acceptor) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        let (service, tls) = (service.clone(), tls.clone());
        tokio::spawn(async move {
            match &tls {
                None => {
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                }
                Some(acceptor) => {
                    let Ok(stream) = acceptor.accept(stream).await else { return };
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                }
            }
        });
    }
}

async fn accept_loop(listener: tokio::net::TcpListener, app: Arc<App>, tls: Acceptor) {
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
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => serve_connection(stream, app).await,
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        serve_connection(stream, app).await;
                    }
                }
            }
        });
    }
}

/// HTTP/1.1 (with WebSocket upgrades) on one accepted connection, plain or TLS; with a
/// keep-alive timeout, closed once idle that long.
async fn serve_connection<IO>(io: IO, app: Arc<App>)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let Some(timeout) = app.faults.keepalive_timeout else {
        let service = service_fn(move |req| handle(req, app.clone()));
        let _ = http1::Builder::new()
            .pipeline_flush(true)
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades()
            .await;
        return;
    };
    let idle = Arc::new(idle::Idle::new());
    let service = {
        let idle = idle.clone();
        service_fn(move |req| {
            let (app, busy) = (app.clone(), idle.busy());
            async move {
                let resp = handle(req, app).await;
                drop(busy);
                resp
            }
        })
    };
    let conn = http1::Builder::new().pipeline_flush(true).serve_connection(TokioIo::new(io), service).with_upgrades();
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        () = idle.expired(timeout) => {}
    }
    // Idle: hyper closes at once (a request that raced in is answered first).
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}

async fn handle(req: Request<Incoming>, app: Arc<App>) -> Result<Response<Full<Bytes>>, Infallible> {
    let arrived = Instant::now();
    // The one check the hot path pays when auth is off.
    if app.auth.required && auth::guarded(req.uri().path()) && !app.auth.allows(req.headers()) {
        files::drain(req.into_body()).await;
        return Ok(auth::unauthorized());
    }
    let (status, body) = match (req.method(), req.uri().path()) {
        (&Method::GET, "/ws") => {
            let expires = match app.auth.required {
                false => None,
                true => match app.auth.upgrade_expiry(req.headers(), req.uri().query()) {
                    Some(expires) => expires,
                    None => return Ok(auth::unauthorized()),
                },
            };
            return Ok(upgrade(req, &app, expires));
        }
        (&Method::POST, "/v1/messages") => {
            if let Ok(body) = req.into_body().collect().await.map(|b| b.to_bytes()) {
                if !app.rooms.is_empty() {
                    let wait = app.faults.broadcast_delay;
                    if wait.is_zero() {
                        fan_out(&app, &body, arrived);
                    } else {
                        let (app, body) = (app.clone(), body.clone());
                        tokio::spawn(async move {
                            PreciseTimer::new().sleep_until(arrived + wait).await;
                            fan_out(&app, &body, arrived);
                        });
                    }
                }
                if !app.faults.is_none() {
                    PreciseTimer::new().sleep_until(app.faults.release_at(app.started, arrived)).await;
                    let mut resp = json(StatusCode::ACCEPTED, Bytes::from_static(ACCEPTED));
                    if let Ok(v) = hyper::header::HeaderValue::from_str(&Held(arrived.elapsed()).header_value()) {
                        resp.headers_mut().insert(HOLD_HEADER, v);
                    }
                    return Ok(resp);
                }
                (StatusCode::ACCEPTED, ACCEPTED)
            } else {
                (StatusCode::BAD_REQUEST, BAD_BODY)
            }
        }
        (&Method::GET, "/health") => (StatusCode::OK, HEALTHY),
        (&Method::GET, "/v1/conversations") => (StatusCode::OK, CONVERSATIONS),
        (&Method::POST, "/auth/login") => return Ok(app.auth.login(req).await),
        (&Method::POST, path) if path.starts_with("/v1/files/") => return Ok(app.files.handle(req).await),
        (&Method::GET, "/stats/logins") => return Ok(app.auth.stats()),
        (&Method::GET, "/stats/uploads") => return Ok(app.files.stats()),
        (&Method::GET, "/stats/broadcasts") => return Ok(json(StatusCode::OK, app.rooms.stats_json())),
        _ => (StatusCode::NOT_FOUND, NOT_FOUND),
    };
    Ok(json(status, Bytes::from_static(body)))
}

/// An answer with a JSON body.
fn json(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body.into()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    resp
}

/// Broadcasts a posted message to its conversation's WebSocket subscribers.
fn fan_out(app: &App, body: &[u8], arrived: Instant) {
    let Ok(text) = std::str::from_utf8(body) else {
        return;
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
        return;
    };
    if let Some(room) = v.get("conversation_id").and_then(|c| c.as_str()) {
        app.rooms.publish(room, text, arrived);
    }
}

/// Answers a WebSocket upgrade with 101 and serves the connection once hyper hands it over,
/// until its token `expires` (if it does).
fn upgrade(mut req: Request<Incoming>, app: &Arc<App>, expires: Option<Instant>) -> Response<Full<Bytes>> {
    let headers = req.headers();
    let is_upgrade = headers
        .get(hyper::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let key = headers.get(hyper::header::SEC_WEBSOCKET_KEY).map(|k| k.as_bytes().to_vec());
    let (true, Some(key)) = (is_upgrade, key) else {
        let mut resp = Response::new(Full::new(Bytes::from_static(br#"{"error":"websocket upgrade required"}"#)));
        *resp.status_mut() = StatusCode::BAD_REQUEST;
        return resp;
    };
    let id = app.next_ws_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let rooms = app.rooms.clone();
    let drop_at = app.ws_drop.map(|d| app.started + d.at).filter(|_| id.is_multiple_of(2));
    let ends = ws::Ends::first(drop_at, expires);
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        if let Ok(upgraded) = on_upgrade.await {
            ws::session(upgraded, id, rooms, ends).await;
        }
    });
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(&key);
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(hyper::header::UPGRADE, hyper::header::HeaderValue::from_static("websocket"));
    h.insert(hyper::header::CONNECTION, hyper::header::HeaderValue::from_static("Upgrade"));
    if let Ok(v) = hyper::header::HeaderValue::from_str(&accept) {
        h.insert(hyper::header::SEC_WEBSOCKET_ACCEPT, v);
    }
    resp
}
