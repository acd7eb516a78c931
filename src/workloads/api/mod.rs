//! `blast api`: HTTP/1.1 keep-alive requests (POST /v1/messages by default) at a fixed rate.
//!
//! - `request`: preformatted request bytes and body templates.
//!
//! The target URL, the response codec and the connection set-up are `crate::http`'s. This
//! module plugs into the engine through `Workload`/`Connection`; pacing, queueing, recording
//! and the pinned cores are the engine's.

pub mod request;

use crate::engine::{CallStats, Connection, ErrorKind, Job, Workload};
use crate::http::{secure, CodecError, ResponseDecoder, SecureError};
use crate::tls::{ClientTls, Stream};
use bytes::BytesMut;
use request::{RequestTemplate, Vars};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Read buffer reserve per connection; grows only for large responses.
const READ_CHUNK: usize = 8 * 1024;

/// The api workload: immutable, shared by every core.
pub struct ApiWorkload {
    addrs: Vec<SocketAddr>,
    request: Arc<RequestTemplate>,
    /// `https://`: the TLS client and the name the certificate must carry.
    tls: Option<(ClientTls, String)>,
}

impl ApiWorkload {
    pub fn new(addrs: Vec<SocketAddr>, request: RequestTemplate, tls: Option<(ClientTls, String)>) -> Self {
        ApiWorkload { addrs, request: Arc::new(request), tls }
    }
}

impl Workload for ApiWorkload {
    type Conn = ApiConn;

    async fn connect(&self, core: usize, conn: usize) -> Result<ApiConn, ErrorKind> {
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
                        stream,
                        request: self.request.clone(),
                        read: BytesMut::with_capacity(READ_CHUNK),
                        decoder: ResponseDecoder::new(),
                        out: Vec::with_capacity(512),
                        scratch: Vec::with_capacity(256),
                        vars: Vars { core, conn, ..Vars::default() },
                        open: true,
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

/// One keep-alive connection with its reusable buffers.
pub struct ApiConn {
    stream: Stream,
    request: Arc<RequestTemplate>,
    read: BytesMut,
    decoder: ResponseDecoder,
    /// The encoded request, reused.
    out: Vec<u8>,
    /// The rendered body, reused.
    scratch: Vec<u8>,
    vars: Vars,
    open: bool,
}

impl ApiConn {
    async fn exchange(&mut self, job: &Job, stats: &mut CallStats) -> Result<u16, ErrorKind> {
        self.vars.seq = job.seq;
        self.vars.ts_us = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64);
        self.request.encode(&self.vars, &mut self.scratch, &mut self.out);
        stats.sent_at = Some(Instant::now());
        self.stream.write_all(&self.out).await.map_err(|e| ErrorKind::from_io(&e))?;
        stats.bytes_out = self.out.len() as u64;
        loop {
            if let Some(r) = self.decoder.decode(&mut self.read).map_err(codec_error)? {
                stats.bytes_in = r.wire_bytes;
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
                        stats.bytes_in = r.wire_bytes;
                        Ok(r.status)
                    }
                    None => Err(ErrorKind::Closed),
                };
            }
        }
    }
}

fn codec_error(e: CodecError) -> ErrorKind {
    match e {
        CodecError::Truncated => ErrorKind::Closed,
        _ => ErrorKind::Malformed,
    }
}

impl Connection for ApiConn {
    async fn call<'a>(&'a mut self, job: &'a Job, stats: &'a mut CallStats) -> Result<u16, ErrorKind> {
        let result = self.exchange(job, stats).await;
        if result.is_err() {
            self.open = false;
        }
        result
    }

    fn reusable(&self) -> bool {
        self.open
    }
}
