//! The probe publisher: at `--probe-rate`, POST a message carrying a probe id and its send time
//! to a conversation; every subscriber that receives it records the delivery.

use crate::clock::PreciseTimer;
use crate::engine::pacer::{Arrival, Pacer};
use crate::workloads::api::codec::ResponseDecoder;
use crate::workloads::ws::tally::ProbeSent;
use crate::workloads::ws::{now_us, CoreWs};
use bytes::BytesMut;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends probes from `start` for `length`, round-robin over the rooms.
pub async fn publish(core: &CoreWs, start: Instant, length: Duration) {
    let plan = &core.plan;
    let mut pacer = Pacer::new(plan.probe_rate, 1, 0, Arrival::Constant, 0, length.as_nanos() as u64);
    let mut timer = PreciseTimer::new();
    let mut conn: Option<(TcpStream, BytesMut)> = None;
    while let Some(slot) = pacer.next_slot() {
        if core.stopping() {
            return;
        }
        timer.sleep_until(start + Duration::from_nanos(slot.offset_ns)).await;
        let room = (slot.seq % plan.rooms as u64) as u32;
        if conn.is_none() {
            conn = match TcpStream::connect(plan.probe_target.addrs[0]).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    Some((s, BytesMut::with_capacity(4096)))
                }
                Err(_) => None,
            };
        }
        let Some((stream, buf)) = conn.as_mut() else {
            core.tally.borrow_mut().probe_failures += 1;
            continue;
        };
        let sent_us = now_us();
        let body = format!(
            r#"{{"type":"message","conversation_id":"{}","sender_id":"blast-probe","probe_id":{},"sent_at_us":{sent_us}}}"#,
            plan.room_name(room),
            slot.seq
        );
        let request = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            plan.probe_target.path,
            plan.probe_target.authority,
            body.len()
        );
        let ok = tokio::time::timeout(plan.timeout, exchange(stream, buf, request.as_bytes())).await;
        match ok {
            Ok(Ok(status)) if (200..300).contains(&status) => {
                core.tally.borrow_mut().probes.push(ProbeSent { id: slot.seq, room, sent_us });
            }
            _ => {
                core.tally.borrow_mut().probe_failures += 1;
                conn = None;
            }
        }
    }
}

async fn exchange(stream: &mut TcpStream, buf: &mut BytesMut, request: &[u8]) -> std::io::Result<u16> {
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
