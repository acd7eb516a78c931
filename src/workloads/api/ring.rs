//! `blast api` on the batched ring (`--io ring`, `engine::ring`): the engine moves the bytes,
//! this module renders each arrival's request (the scenario's own rendering, `render_lone`),
//! parses responses (the epoll path's `ResponseDecoder`), keeps cookies and makes the request's
//! checks that need no kept response. What the ring cannot run (TLS, flows, a login, captures,
//! body checks, `--retry-idempotent`) is named by [`ApiWorkload::ring_unsupported`]: the run
//! goes on epoll and the plan line says why.

use super::scenario::run::{judge_lone, keep_cookies_lone, render_lone, CoreScenario, Scratch};
use super::ApiWorkload;
use crate::engine::io::Io;
use crate::engine::ring::{Answer, Lone};
use crate::engine::run::Progress;
use crate::engine::workload::{Job, Lane, Workload};
use crate::engine::ErrorKind;
use crate::engine::{Plan, RunOutcome, StartError};
use crate::http::{CodecError, ResponseDecoder};
use bytes::BytesMut;
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One connection's protocol state on the ring.
pub struct RingConn {
    decoder: ResponseDecoder,
    scratch: Scratch,
    index: usize,
}

impl ApiWorkload {
    /// Why this run cannot go on the ring, if it cannot.
    pub fn ring_unsupported(&self) -> Option<&'static str> {
        let s = &*self.scenario;
        if self.dial.tls.is_some() {
            Some("TLS runs on epoll")
        } else if !s.on_start.is_empty() {
            Some("a scenario's on_start runs on epoll")
        } else if s.iterations.iter().any(|i| i.flow || i.steps.len() != 1) {
            Some("flows run on epoll")
        } else if s
            .iterations
            .iter()
            .flat_map(|i| &i.steps)
            .any(|st| !st.captures.is_empty() || st.needs_body() || st.needs_headers() || st.split.is_some())
        {
            Some("captures and body checks run on epoll")
        } else if self.retry_idempotent {
            Some("--retry-idempotent runs on epoll")
        } else {
            None
        }
    }

    /// What the ring does differently, for the plan line: redirects are answers there.
    pub fn ring_note(&self) -> Option<&'static str> {
        (self.session.redirects > 0).then_some("redirects not followed: a 3xx is the answer")
    }

    /// The backend of a run that asked for the ring (`asked`), or `otherwise`: the ring when
    /// this run can go there and the kernel allows it (the plan line says how it receives and
    /// what it does differently), else epoll saying why.
    ///
    /// `--io auto` (`otherwise` is auto's choice) takes the ring when the run goes there
    /// exactly as on epoll (nothing the ring runs differently: no redirect to follow) and the
    /// kernel times its receives: measured on one client core against nginx (bench/RESULTS.md,
    /// "Issue 27", session 10), it costs 0.63x epoll's CPU per request at 20,000/s (p99 0.39
    /// vs 0.36 ms), 0.65x at 50,000/s (p99 0.62 vs 1.39 ms) and 0.67x at wrk's maximum, where
    /// the ring that wakes for every response (no receive times) costs more than epoll at
    /// 20,000/s.
    pub fn ring_io(&self, asked: bool, otherwise: Io) -> Io {
        if !asked {
            return self.auto_ring(otherwise);
        }
        crate::engine::io::choose_ring(self.ring_unsupported(), || {
            crate::engine::ring::probe().map(|how| match self.ring_note() {
                Some(note) => format!("{how}; {note}"),
                None => how,
            })
        })
    }
}

impl ApiWorkload {
    /// `--io auto`'s last look (see `ring_io`): the ring when this run goes there as it would
    /// on epoll and the kernel gives receive times, else `chosen` (saying so when redirects
    /// alone kept the ring out).
    fn auto_ring(&self, chosen: Io) -> Io {
        if !chosen.why.starts_with("auto:") || chosen.uring || self.ring_unsupported().is_some() {
            return chosen;
        }
        let stamped = crate::engine::ring::uring::RecvMode::Stamped.describe();
        match crate::engine::ring::probe() {
            Ok(how) if how == stamped && self.ring_note().is_some() => Io {
                why: format!("{}; the ring does not follow redirects: --redirects 0 lets auto take it", chosen.why),
                ..chosen
            },
            Ok(how) if how == stamped => Io {
                uring: false,
                ring: true,
                why: format!(
                    "auto: {how}; measured cheaper per request than epoll, with a wake-up per window, not per response"
                ),
            },
            _ => chosen,
        }
    }
}

/// Runs `plan` on the backend it names: the ring's cores (`--io ring`) or the engine's
/// tokio cores (epoll, tokio-uring).
pub fn run(
    plan: &Plan,
    workload: ApiWorkload,
    stop: Arc<AtomicBool>,
    progress: impl FnMut(&Progress<'_>),
) -> Result<RunOutcome, StartError> {
    if plan.io.ring {
        crate::engine::run::run_ring(plan, workload, stop, progress)
    } else {
        crate::engine::run(plan, workload, stop, progress)
    }
}

fn codec_error(e: CodecError) -> ErrorKind {
    match e {
        CodecError::Truncated => ErrorKind::Closed,
        _ => ErrorKind::Malformed,
    }
}

impl Lone for ApiWorkload {
    type Core = CoreScenario;
    type Conn = RingConn;

    fn ring_core(&self, lane: Lane) -> CoreScenario {
        Workload::core(self, lane)
    }

    fn addrs(&self) -> &[SocketAddr] {
        &self.dial.addrs
    }

    fn ring_conn(&self, _core: &CoreScenario, index: usize) -> RingConn {
        let mut decoder = ResponseDecoder::new();
        decoder.session.on = self.session.cookies;
        RingConn { decoder, scratch: Scratch::default(), index }
    }

    fn render(&self, core: &CoreScenario, conn: &mut RingConn, job: &Job, out: &mut Vec<u8>) -> Result<(), ErrorKind> {
        let start = out.len();
        render_lone(core, job, conn.index, &mut conn.scratch, out)?;
        conn.decoder.answers(&out[start..]);
        Ok(())
    }

    fn answer(&self, conn: &mut RingConn, read: &mut BytesMut, eof: bool) -> Result<Option<Answer>, ErrorKind> {
        let decoded = if eof { conn.decoder.decode_eof(read) } else { conn.decoder.decode(read) };
        Ok(decoded.map_err(codec_error)?.map(|r| Answer {
            status: r.status,
            close: r.close,
            bytes_in: r.wire_bytes,
            body_in: r.body_bytes,
            target_time: r.target_us.map(Duration::from_micros),
        }))
    }

    fn fresh(&self, conn: &mut RingConn) {
        let session = std::mem::take(&mut conn.decoder.session);
        conn.decoder = ResponseDecoder::new();
        conn.decoder.session = session;
    }

    fn judge(
        &self,
        core: &CoreScenario,
        conn: &mut RingConn,
        job: &Job,
        answer: &Answer,
        started: Instant,
    ) -> Result<u16, ErrorKind> {
        keep_cookies_lone(core, job, &mut conn.scratch, &conn.decoder.session);
        judge_lone(core, job.kind, answer.status, started)
    }
}
