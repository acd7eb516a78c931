//! `blast api`: HTTP/1.1 keep-alive requests at a fixed arrival rate: one request shape from
//! the flags (POST /v1/messages by default), or a scenario's weighted requests and flows.
//!
//! - `scenario`: what each arrival sends (requests, flows, captures, per-user data).
//!
//! The target URL, the response codec and the connection set-up are `crate::http`'s. This
//! module plugs into the engine through `Workload`/`Connection`; pacing, queueing, recording
//! and the pinned cores are the engine's.

pub mod scenario;

use crate::engine::workload::Lane;
use crate::engine::{CallStats, Connection, ErrorKind, Job, StepRecord, Workload};
use crate::http::{secure, CodecError, ResponseDecoder, SecureError};
use crate::tls::{ClientTls, Stream};
use crate::workloads::upload::data::DataPool;
use bytes::BytesMut;
use scenario::run::{CoreScenario, Exchange, Keep, Scratch};
use scenario::Scenario;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Read buffer reserve per connection; grows only for large responses.
const READ_CHUNK: usize = 8 * 1024;

/// The api workload: immutable, shared by every core.
pub struct ApiWorkload {
    addrs: Vec<SocketAddr>,
    scenario: Arc<Scenario>,
    /// Random bodies are sliced from here (built once, shared by every core).
    pool: Option<DataPool>,
    /// `https://`: the TLS client and the name the certificate must carry.
    tls: Option<(ClientTls, String)>,
    /// Longest a step of a flow may take.
    timeout: Duration,
}

impl ApiWorkload {
    pub fn new(
        addrs: Vec<SocketAddr>,
        scenario: Scenario,
        tls: Option<(ClientTls, String)>,
        timeout: Duration,
    ) -> Self {
        let largest = scenario.largest_random_body();
        let pool = (largest > 0).then(|| DataPool::new(scenario.seed, largest));
        ApiWorkload { addrs, scenario: Arc::new(scenario), pool, tls, timeout }
    }
}

impl Workload for ApiWorkload {
    type Conn = ApiConn;
    type Core = CoreScenario;

    fn core(&self, lane: Lane) -> CoreScenario {
        CoreScenario::new(self.scenario.clone(), self.pool.clone(), lane.core, lane.lane, lane.lanes, self.timeout)
    }

    fn timed_as_whole(&self, kind: usize) -> bool {
        self.scenario.iterations.get(kind).is_none_or(|i| !i.flow)
    }

    async fn connect(&self, core: &Rc<CoreScenario>, conn: usize) -> Result<ApiConn, ErrorKind> {
        let mut last = ErrorKind::ConnectOther;
        for addr in &self.addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    let tls = self.tls.as_ref().map(|(tls, host)| (tls, host.as_str()));
                    let stream = secure(stream, tls).await.map_err(|e| match e {
                        SecureError::Tls(_) => ErrorKind::Tls,
                        SecureError::Io(e) => ErrorKind::from_io(&e),
                    })?;
                    return Ok(ApiConn {
                        wire: Wire {
                            stream,
                            read: BytesMut::with_capacity(READ_CHUNK),
                            decoder: ResponseDecoder::new(),
                            open: true,
                        },
                        core: core.clone(),
                        scratch: Scratch::default(),
                        index: conn,
                    });
                }
                Err(e) => {
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

/// One keep-alive connection: its stream and read state.
pub struct Wire {
    stream: Stream,
    read: BytesMut,
    decoder: ResponseDecoder,
    open: bool,
}

impl Exchange for Wire {
    async fn exchange<'a>(
        &'a mut self,
        head: &'a [u8],
        body: &'a [u8],
        keep: Keep,
        stats: &'a mut CallStats,
    ) -> Result<u16, ErrorKind> {
        let result = self.round_trip(head, body, keep, stats).await;
        if result.is_err() {
            self.open = false;
        }
        result
    }

    fn kept(&self) -> (Option<serde_json::Value>, &[(String, Vec<u8>)]) {
        let body = self.decoder.kept.body.as_deref().and_then(|b| serde_json::from_slice(b).ok());
        (body, self.decoder.kept.headers.as_deref().unwrap_or(&[]))
    }
}

impl Wire {
    async fn round_trip(
        &mut self,
        head: &[u8],
        body: &[u8],
        keep: Keep,
        stats: &mut CallStats,
    ) -> Result<u16, ErrorKind> {
        if keep.body || keep.headers || self.decoder.kept.body.is_some() || self.decoder.kept.headers.is_some() {
            self.decoder.keep(keep.body, keep.headers);
        }
        stats.sent_at = Some(Instant::now());
        self.stream.write_all(head).await.map_err(|e| ErrorKind::from_io(&e))?;
        if !body.is_empty() {
            self.stream.write_all(body).await.map_err(|e| ErrorKind::from_io(&e))?;
        }
        stats.bytes_out = (head.len() + body.len()) as u64;
        loop {
            if let Some(r) = self.decoder.decode(&mut self.read).map_err(codec_error)? {
                (stats.bytes_in, stats.body_in) = (r.wire_bytes, r.body_bytes);
                self.open = !r.close;
                return Ok(r.status);
            }
            if self.read.capacity() - self.read.len() < READ_CHUNK / 2 {
                self.read.reserve(READ_CHUNK);
            }
            let n = self.stream.read_buf(&mut self.read).await.map_err(|e| ErrorKind::from_io(&e))?;
            if n == 0 {
                self.open = false;
                return match self.decoder.decode_eof(&mut self.read).map_err(codec_error)? {
                    Some(r) => {
                        (stats.bytes_in, stats.body_in) = (r.wire_bytes, r.body_bytes);
                        Ok(r.status)
                    }
                    None => Err(ErrorKind::Closed),
                };
            }
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
}
