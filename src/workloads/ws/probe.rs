//! The probe publisher: at `--probe-rate`, publish a message carrying a probe id and its send
//! time to a conversation (an HTTP POST, or with `--probe-via ws` a text frame from a connection
//! of its own that subscribes to nothing); every subscriber that receives it records the delivery.

use crate::clock::PreciseTimer;
use crate::engine::pacer::{Arrival, Pacer};
use crate::http::ResponseDecoder;
use crate::tls::Stream;
use crate::workloads::ws::plan::{ProbeVia, WsPlan};
use crate::workloads::ws::session;
use crate::workloads::ws::state::{now_us, CoreWs};
use crate::workloads::ws::tally::ProbeSent;
use bytes::BytesMut;
use futures_util::{SinkExt, StreamExt};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// A connection probes go out on, opened lazily and again after a failure.
enum Channel {
    Http(Stream, BytesMut),
    Ws(Box<WebSocketStream<Stream>>),
}

/// Sends probes from `start` for `length`, round-robin over the rooms.
pub async fn publish(core: &CoreWs, start: Instant, length: Duration) {
    let plan = &core.plan;
    let mut pacer = Pacer::new(plan.probe_rate, 1, 0, Arrival::Constant, 0, length.as_nanos() as u64);
    let mut timer = PreciseTimer::new();
    let mut channel: Option<Channel> = None;
    while let Some(slot) = pacer.next_slot() {
        if core.stopping() {
            return;
        }
        timer.sleep_until(start + Duration::from_nanos(slot.offset_ns)).await;
        let room = (slot.seq % plan.rooms as u64) as u32;
        if channel.is_none() {
            channel = tokio::time::timeout(plan.timeout, open(core)).await.ok().flatten();
        }
        let Some(ch) = channel.as_mut() else {
            core.tally.borrow_mut().probe_failures += 1;
            continue;
        };
        let sent_us = now_us();
        let ok = tokio::time::timeout(plan.timeout, send(plan, ch, room, slot.seq, sent_us)).await;
        if let Ok(true) = ok {
            core.tally.borrow_mut().probes.push(ProbeSent { id: slot.seq, room, sent_us });
        } else {
            core.tally.borrow_mut().probe_failures += 1;
            channel = None;
        }
    }
    if let Some(Channel::Ws(mut ws)) = channel {
        let _ = tokio::time::timeout(Duration::from_millis(200), SinkExt::close(&mut ws)).await;
    }
}

async fn open(core: &CoreWs) -> Option<Channel> {
    match core.plan.probe_via {
        ProbeVia::Http => {
            let target = &core.plan.probe_target;
            let s = TcpStream::connect(target.addrs[0]).await.ok()?;
            let tls = core.plan.tls.as_ref().filter(|_| target.tls).map(|tls| (tls, target.host.as_str()));
            let s = crate::http::secure(s, tls).await.ok()?;
            Some(Channel::Http(s, BytesMut::with_capacity(4096)))
        }
        ProbeVia::Ws => session::open(core, 0).await.ok().map(|ws| Channel::Ws(Box::new(ws))),
    }
}

/// Publishes one probe; true when the target accepted it (2xx, or the frame was written).
async fn send(plan: &WsPlan, ch: &mut Channel, room: u32, id: u64, sent_us: u64) -> bool {
    match ch {
        Channel::Http(stream, buf) => {
            let body = format!(
                r#"{{"type":"message","conversation_id":"{}","sender_id":"blast-probe","probe_id":{id},"sent_at_us":{sent_us}}}"#,
                plan.room_name(room),
            );
            let request = format!(
                "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                plan.probe_target.path,
                plan.probe_target.authority,
                body.len()
            );
            matches!(exchange(stream, buf, request.as_bytes()).await, Ok(s) if (200..300).contains(&s))
        }
        Channel::Ws(ws) => {
            // Nothing is expected back on this connection; read what is there (pings, acks)
            // without waiting so that tungstenite answers pings and its buffer stays small.
            while let Some(Some(msg)) = futures_util::FutureExt::now_or_never(ws.next()) {
                if msg.is_err() {
                    return false;
                }
            }
            let frame = plan.publish_message(room, id, sent_us);
            ws.send(Message::text(frame)).await.is_ok()
        }
    }
}

async fn exchange(stream: &mut Stream, buf: &mut BytesMut, request: &[u8]) -> std::io::Result<u16> {
    stream.write_all(request).await?;
    let mut decoder = ResponseDecoder::new();
    loop {
        match decoder.decode(buf) {
            Ok(Some(r)) => return Ok(r.status),
            Ok(None) => {}
            Err(e) => return Err(std::io::Error::other(e.to_string())),
        }
        buf.reserve(4096);
        if stream.read_buf(buf).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
}
