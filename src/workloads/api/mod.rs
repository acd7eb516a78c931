//! `blast api`: HTTP/1.1 keep-alive requests at a fixed arrival rate: one request shape from
//! the flags (POST /v1/messages by default), or a scenario's weighted requests and flows.
//!
//! - `scenario`: what each arrival sends (requests, flows, captures, per-user data).
//! - `raw`: the run as a JSON report carries it (`RawRun`), and shards merged from it.
//! - `ring`: the api on the batched io_uring core (`--io ring`, `engine::ring::Lone`).
//! - `session`: cookies per virtual user and redirects followed (`SessionRules`).
//!
//! Keep-alive: a kept connection is checked before each reuse (`Wire::still_open`: the peer's
//! FIN or RST on the idle socket) and replaced by the engine without an error. Within an
//! iteration (on_start steps, a flow's steps, repeats) a request never goes on a connection
//! the last response closed (`Connection: close`, HTTP/1.0 without keep-alive, a body that
//! ran until the close) or that the peer closed since (one peek at the socket): the wire
//! opens a fresh one first (`Dial`), counted as a reconnect, its time recorded as a connect
//! and left out of the step's latency. A connection that fails after the request was written
//! and before any byte of the answer is `closed_before_response`; with `--retry-idempotent` a
//! GET, HEAD, PUT, DELETE, OPTIONS or TRACE is sent once more on a fresh connection, a POST
//! never.
//!
//! The target URL, the response codec and the connection set-up are `crate::http`'s. This
//! module plugs into the engine through `Workload`/`Connection`; pacing, queueing, recording
//! and the pinned cores are the engine's.

pub mod raw;
pub mod ring;
pub mod scenario;
pub mod session;

use crate::engine::workload::Lane;
use crate::engine::{CallStats, Connection, ErrorKind, Job, StepRecord, Workload};
use crate::http::codec::SessionHeaders;
use crate::http::redirect::Location;
use crate::http::transport::{OpenError, Transport};
use crate::http::{CodecError, ResponseDecoder, SecureError};
use crate::tls::ClientTls;
use crate::workloads::upload::data::DataPool;
use bytes::BytesMut;
use scenario::run::{CoreScenario, Exchange, Keep, Scratch};
use scenario::Scenario;
use session::SessionRules;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Read buffer reserve per connection; grows only for large responses.
const READ_CHUNK: usize = 8 * 1024;

/// The api workload: immutable, shared by every core.
pub struct ApiWorkload {
    dial: Arc<Dial>,
    scenario: Arc<Scenario>,
    /// Random bodies are sliced from here (built once, shared by every core).
    pool: Option<DataPool>,
    /// Longest a step of a flow may take.
    timeout: Duration,
    /// `--retry-idempotent`: a request of an idempotent method whose connection failed before
    /// any byte of the response is sent once more on a fresh connection.
    retry_idempotent: bool,
    /// Cookies and redirects.
    session: Arc<SessionRules>,
}

impl ApiWorkload {
    pub fn new(
        addrs: Vec<SocketAddr>,
        scenario: Scenario,
        tls: Option<(ClientTls, String)>,
        timeout: Duration,
        retry_idempotent: bool,
        session: SessionRules,
    ) -> Self {
        let largest = scenario.largest_random_body();
        let pool = (largest > 0).then(|| DataPool::new(scenario.seed, largest));
        ApiWorkload {
            dial: Arc::new(Dial { addrs, tls }),
            scenario: Arc::new(scenario),
            pool,
            timeout,
            retry_idempotent,
            session: Arc::new(session),
        }
    }
}

impl Workload for ApiWorkload {
    type Conn = ApiConn;
    type Core = CoreScenario;

    fn core(&self, lane: Lane) -> CoreScenario {
        let (scenario, session) = (self.scenario.clone(), self.session.clone());
        CoreScenario::new(scenario, session, self.pool.clone(), lane.core, lane.lane, lane.lanes, self.timeout)
    }

    fn timed_as_whole(&self, kind: usize) -> bool {
        self.scenario.iterations.get(kind).is_none_or(|i| !i.flow)
    }

    async fn connect(&self, core: &Rc<CoreScenario>, conn: usize) -> Result<ApiConn, ErrorKind> {
        let stream = self.dial.open().await?;
        Ok(ApiConn {
            wire: Wire::new(stream, self.dial.clone(), self.retry_idempotent, self.session.on()),
            core: core.clone(),
            scratch: Scratch::default(),
            index: conn,
        })
    }
}

/// How a connection to the target is opened: each resolved address in turn, then TLS when
/// the target is `https`.
pub struct Dial {
    addrs: Vec<SocketAddr>,
    /// `https://`: the TLS client and the name the certificate must carry.
    tls: Option<(ClientTls, String)>,
}

impl Dial {
    /// Connections to `addrs` (each in turn), over TLS to the named host when given.
    pub fn new(addrs: Vec<SocketAddr>, tls: Option<(ClientTls, String)>) -> Dial {
        Dial { addrs, tls }
    }

    /// Opens a connection: the first address that answers; the failure's kind otherwise.
    pub async fn open(&self) -> Result<Transport, ErrorKind> {
        let mut last = ErrorKind::ConnectOther;
        for addr in &self.addrs {
            let tls = self.tls.as_ref().map(|(tls, host)| (tls, host.as_str()));
            match Transport::open(*addr, tls).await {
                Ok(stream) => {
                    return Ok(stream);
                }
                Err(OpenError::Secure(SecureError::Tls(_))) => return Err(ErrorKind::Tls),
                Err(OpenError::Secure(SecureError::Io(e))) => return Err(ErrorKind::from_io(&e)),
                Err(OpenError::Connect(e)) => {
                    last = match e.kind() {
                        std::io::ErrorKind::ConnectionRefused => ErrorKind::ConnectRefused,
                        std::io::ErrorKind::TimedOut => ErrorKind::ConnectTimeout,
                        _ => ErrorKind::ConnectOther,
                    }
                }
            }
        }
        Err(last)
    }
}

/// Methods a request may be repeated with (RFC 9110 9.2.2): the server's state is the same
/// after two as after one.
fn idempotent(head: &[u8]) -> bool {
    let method = head.split(|&b| b == b' ').next().unwrap_or_default();
    [&b"GET"[..], b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"TRACE"].contains(&method)
}

/// One keep-alive connection: its stream and read state, and how to open it again (after a
/// response that closed it, or for a retry).
pub struct Wire {
    stream: Transport,
    read: BytesMut,
    decoder: ResponseDecoder,
    /// False once the last response said the server closes (or the stream failed).
    open: bool,
    /// The stream was just opened, or the engine checked it before this call
    /// (`still_open`): the next exchange need not look at the socket again.
    checked: bool,
    dial: Arc<Dial>,
    retry_idempotent: bool,
    /// Connections to the other hosts redirects went to (`--allow-host`), kept for the next.
    others: Vec<(Location, Box<Wire>)>,
    /// The last exchange went to `others[i]`: its response is the one kept.
    last_other: Option<usize>,
}

/// Most connections to other hosts a connection keeps for redirects.
const MAX_OTHERS: usize = 4;

impl Exchange for Wire {
    async fn exchange<'a>(
        &'a mut self,
        head: &'a [u8],
        body: &'a [&'a [u8]],
        keep: Keep,
        stats: &'a mut CallStats,
    ) -> Result<u16, ErrorKind> {
        self.last_other = None;
        // A step after a response that closed the connection, or after a close seen since,
        // goes on a fresh one: never a request on a connection the server is closing.
        let checked = std::mem::take(&mut self.checked);
        if !self.open || !(checked || self.read.is_empty() && self.stream.still_open_now()) {
            self.reopen(stats).await?;
        }
        let mut result = self.round_trip(head, body, keep, stats).await;
        // The connection failed before any byte of the answer (most often a keep-alive
        // connection the server closed just as the request went out): the request may or may
        // not have been processed, so only an idempotent one is sent again, once, and only
        // when asked. A POST is never repeated behind the user's back.
        let retry = result == Err(ErrorKind::ClosedBeforeResponse) && self.retry_idempotent && idempotent(head);
        if retry && self.reopen(stats).await.is_ok() {
            stats.retried = true;
            result = self.round_trip(head, body, keep, stats).await;
        }
        if result.is_err() {
            self.open = false;
        }
        result
    }

    async fn exchange_at<'a>(
        &'a mut self,
        to: &'a Location,
        addrs: &'a [SocketAddr],
        head: &'a [u8],
        body: &'a [&'a [u8]],
        keep: Keep,
        stats: &'a mut CallStats,
    ) -> Result<u16, ErrorKind> {
        let i = match self.others.iter().position(|(at, _)| at.same_origin(to)) {
            Some(i) => i,
            None => {
                // https elsewhere needs the target's TLS client (an https target).
                let tls = match (to.https, &self.dial.tls) {
                    (false, _) => None,
                    (true, Some((client, _))) => Some((client.clone(), to.host.clone())),
                    (true, None) => return Err(ErrorKind::RedirectOffTarget),
                };
                let dial = Arc::new(Dial { addrs: addrs.to_vec(), tls });
                let stream = Box::pin(dial.open()).await?;
                if self.others.len() >= MAX_OTHERS {
                    self.others.remove(0);
                }
                let wire = Wire::new(stream, dial, self.retry_idempotent, self.decoder.session.on);
                self.others.push((to.clone(), Box::new(wire)));
                self.others.len() - 1
            }
        };
        self.last_other = Some(i);
        Box::pin(self.others[i].1.exchange(head, body, keep, stats)).await
    }

    fn kept(&self) -> (Option<serde_json::Value>, &[(String, Vec<u8>)]) {
        let d = &self.answered().decoder;
        let body = d.kept.body.as_deref().and_then(|b| serde_json::from_slice(b).ok());
        (body, d.kept.headers.as_deref().unwrap_or(&[]))
    }

    fn kept_body(&self) -> &[u8] {
        self.answered().decoder.kept.body.as_deref().unwrap_or(&[])
    }

    fn session(&self) -> &SessionHeaders {
        &self.answered().decoder.session
    }
}

impl Wire {
    /// A keep-alive connection on `stream`, opened again through `dial` when it closes;
    /// `session`: its responses' cookies and redirects are read.
    pub fn new(stream: Transport, dial: Arc<Dial>, retry_idempotent: bool, session: bool) -> Self {
        let mut decoder = ResponseDecoder::new();
        decoder.session.on = session;
        Wire {
            stream,
            read: BytesMut::with_capacity(READ_CHUNK),
            decoder,
            open: true,
            checked: true,
            dial,
            retry_idempotent,
            others: Vec::new(),
            last_other: None,
        }
    }

    /// The connection the last exchange went on (this one, or another host's).
    fn answered(&self) -> &Wire {
        match self.last_other.and_then(|i| self.others.get(i)) {
            Some((_, w)) => w,
            None => self,
        }
    }

    /// Continues on a fresh connection: counted in `stats.reopened`, its time (TCP and TLS) in
    /// `stats.connect_time`. A connection that cannot be opened fails the request with the
    /// connect's kind (`connect_refused`, ...).
    async fn reopen(&mut self, stats: &mut CallStats) -> Result<(), ErrorKind> {
        let started = Instant::now();
        // Boxed: opening a stream (a TLS handshake's state included) is a future of ~2 KB,
        // and unboxed it would size every request's future, which is moved (copied whole)
        // when the engine wraps it in its timeout. A reconnect opens a socket anyway.
        let opened = Box::pin(self.dial.open()).await;
        stats.connect_time += started.elapsed();
        self.open = false;
        self.replace_stream(opened?);
        stats.reopened += 1;
        Ok(())
    }

    /// Continues on a freshly opened stream (what was read on the old one is dropped).
    fn replace_stream(&mut self, stream: Transport) {
        self.stream = stream;
        self.read.clear();
        let kept = std::mem::take(&mut self.decoder.kept);
        let session = std::mem::take(&mut self.decoder.session);
        self.decoder = ResponseDecoder::new();
        self.decoder.kept = kept;
        self.decoder.session = session;
        self.open = true;
    }

    /// Whether the kept-alive stream is still usable, without waiting: the peer's FIN or RST
    /// on an idle socket, or bytes nobody asked for, make it unusable. A socket with nothing
    /// to read costs no system call (tokio knows it is not readable).
    fn still_open(&mut self) -> bool {
        if !self.open || !self.read.is_empty() {
            return false;
        }
        self.open = self.stream.still_open();
        self.checked = self.open;
        self.open
    }

    async fn round_trip(
        &mut self,
        head: &[u8],
        body: &[&[u8]],
        keep: Keep,
        stats: &mut CallStats,
    ) -> Result<u16, ErrorKind> {
        if keep.body || keep.headers || self.decoder.kept.body.is_some() || self.decoder.kept.headers.is_some() {
            self.decoder.keep(keep.body, keep.headers);
        }
        self.decoder.answers(head);
        stats.sent_at = Some(Instant::now());
        self.stream.write_parts(head, body).await.map_err(|e| before_response(&e))?;
        stats.bytes_out = (head.len() + body.iter().map(|b| b.len()).sum::<usize>()) as u64;
        // Whether any byte of the answer has arrived.
        let mut answered = !self.read.is_empty();
        loop {
            if let Some(r) = self.decoder.decode(&mut self.read).map_err(codec_error)? {
                (stats.bytes_in, stats.body_in) = (r.wire_bytes, r.body_bytes);
                stats.target_time = r.target_us.map(Duration::from_micros);
                self.open = !r.close;
                return Ok(r.status);
            }
            if self.read.capacity() - self.read.len() < READ_CHUNK / 2 {
                self.read.reserve(READ_CHUNK);
            }
            let n = match self.stream.read_into(&mut self.read).await {
                Ok(n) => n,
                Err(e) if answered => return Err(ErrorKind::from_io(&e)),
                Err(e) => return Err(before_response(&e)),
            };
            if n == 0 {
                self.open = false;
                return match self.decoder.decode_eof(&mut self.read).map_err(codec_error)? {
                    Some(r) => {
                        (stats.bytes_in, stats.body_in) = (r.wire_bytes, r.body_bytes);
                        Ok(r.status)
                    }
                    None if answered => Err(ErrorKind::Closed),
                    None => Err(ErrorKind::ClosedBeforeResponse),
                };
            }
            answered = true;
        }
    }
}

/// One connection with the iteration buffers it reuses.
pub struct ApiConn {
    wire: Wire,
    core: Rc<CoreScenario>,
    scratch: Scratch,
    index: usize,
}

/// A failure of the connection before any byte of the answer: the peer's close or reset is
/// `ClosedBeforeResponse`, anything else keeps its kind.
fn before_response(e: &std::io::Error) -> ErrorKind {
    match ErrorKind::from_io(e) {
        ErrorKind::Closed | ErrorKind::Reset => ErrorKind::ClosedBeforeResponse,
        kind => kind,
    }
}

fn codec_error(e: CodecError) -> ErrorKind {
    match e {
        CodecError::Truncated => ErrorKind::Closed,
        _ => ErrorKind::Malformed,
    }
}

impl Connection for ApiConn {
    async fn call<'a>(
        &'a mut self,
        job: &'a Job,
        stats: &'a mut CallStats,
        steps: &'a mut Vec<StepRecord>,
    ) -> Result<u16, ErrorKind> {
        let result =
            scenario::run::iterate(&self.core, &mut self.wire, self.index, job, &mut self.scratch, stats, steps).await;
        if result.is_err() {
            self.wire.open = false;
        }
        result
    }

    fn reusable(&self) -> bool {
        self.wire.open
    }

    fn still_open(&mut self) -> bool {
        self.wire.still_open()
    }
}
