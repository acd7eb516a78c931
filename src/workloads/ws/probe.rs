//! The probe publisher: at `--probe-rate`, publish a message carrying a probe id and its send
//! time to a conversation (an HTTP request, or with `--probe-via ws` a text frame from a
//! connection of its own that subscribes to nothing); every subscriber that receives it records
//! the delivery. Probes the target refuses are counted by reason (`http_401`, `refused`, ...).
//!
//! An HTTP probe connection is kept alive between probes, and opened again (counted as a probe
//! reconnect, before the probe's send time is taken) when the last answer closed it
//! (`Connection: close`, HTTP/1.0, a body until the close), when the target closed it since,
//! or after a failure. A publisher WebSocket (`--probe-via ws`) the target closed is opened
//! again the same way (with `--login`, after a new login).
//!
//! With `--login`, HTTP probes are sent as the logged-in users in turn (`probe_users`), each
//! with its user's credentials (`WsLogin::probe_credentials`); a probe the target refuses with
//! 401 or 403 makes that user log in again (a probe relogin) and is sent once more.

use crate::clock::PreciseTimer;
use crate::engine::pacer::{Arrival, Pacer};
use crate::http::ResponseDecoder;
use crate::tls::Stream;
use crate::workloads::ws::login::{ProbeCredentials, UserLogin};
use crate::workloads::ws::plan::{ProbeVia, WsPlan};
use crate::workloads::ws::session::{self, LoginFor};
use crate::workloads::ws::state::{now_us, CoreWs};
use crate::workloads::ws::tally::ProbeSent;
use bytes::BytesMut;
use futures_util::{FutureExt, SinkExt, StreamExt};
use std::sync::Arc;
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

/// The publisher's connection, and whether one was opened before (opening another is a
/// reconnect).
#[derive(Default)]
struct Link {
    channel: Option<Channel>,
    opened: bool,
}

/// Sends probes due from `start` for `length`, round-robin over the rooms (and, with `--login`
/// and HTTP probes, over the logged-in users). Called once the subscriptions are acknowledged
/// (which may be some way into the hold): a probe whose next one is already due by then is
/// skipped, never sent late in a burst.
pub async fn publish(core: &CoreWs, start: Instant, length: Duration) {
    let plan = &core.plan;
    let mut pacer = Pacer::new(plan.probe_rate, 1, 0, Arrival::Constant, 0, length.as_nanos() as u64);
    let mut timer = PreciseTimer::new();
    let mut link = Link::default();
    let waited = Instant::now().saturating_duration_since(start);
    let interval = Duration::from_secs_f64(1.0 / plan.probe_rate);
    // The next probe is sent as the first logged-in user from this one on.
    let mut next_user = 0u64;
    while let Some(slot) = pacer.next_slot() {
        if core.stopping() || core.none_open() {
            break;
        }
        if Duration::from_nanos(slot.offset_ns) + interval <= waited {
            continue;
        }
        timer.sleep_until(start + Duration::from_nanos(slot.offset_ns)).await;
        if core.stopping() || core.none_open() {
            break;
        }
        let room = (slot.seq % plan.rooms as u64) as u32;
        let user = if plan.probes_as_users() {
            let Some(user) = core.shared.probe_users.next_from(next_user) else {
                core.tally.borrow_mut().probe_failed("no_logged_in_user");
                continue;
            };
            next_user = user.user + 1;
            Some(user)
        } else {
            None
        };
        let mut result = attempt(core, &mut link, room, slot.seq, user.as_deref()).await;
        // The user's credentials refused (expired): it logs in again, and the probe is sent
        // once more with what that login captured.
        if let (Err(reason), Some(user)) = (&result, &user) {
            if reason == "http_401" || reason == "http_403" {
                if let Some(fresh) = log_in_again(core, user.user).await {
                    result = attempt(core, &mut link, room, slot.seq, Some(&fresh)).await;
                }
            }
        }
        match result {
            Ok(sent) => core.tally.borrow_mut().probes.push(sent),
            Err(reason) => core.tally.borrow_mut().probe_failed(&reason),
        }
    }
    if let Some(Channel::Ws(mut ws)) = link.channel {
        let _ = tokio::time::timeout(Duration::from_millis(200), SinkExt::close(&mut ws)).await;
    }
}

/// Sends probe `id` to `room` (as `user`, with `--login` and HTTP probes) on the link, opened
/// first when it is not (or no longer) open; `Err(reason)` when it was not sent or the target
/// refused it.
async fn attempt(
    core: &CoreWs,
    link: &mut Link,
    room: u32,
    id: u64,
    user: Option<&ProbeCredentials>,
) -> Result<ProbeSent, String> {
    let plan = &core.plan;
    // A kept HTTP connection the target closed (or wrote to unasked) since the last probe is
    // not written to: the probe would be lost. Nor a publisher WebSocket the target closed (a
    // token that expired: the next opens with a new login).
    let closed = match &mut link.channel {
        Some(Channel::Http(stream, buf)) => !buf.is_empty() || !crate::http::transport::stream_still_open_now(stream),
        Some(Channel::Ws(ws)) => !drained(ws),
        None => false,
    };
    if closed {
        link.channel = None;
    }
    let ch = match link.channel.take() {
        Some(ch) => ch,
        None => {
            let ch = match tokio::time::timeout(plan.timeout, open(core)).await {
                Ok(r) => r?,
                Err(_) => return Err("timeout".to_string()),
            };
            if std::mem::replace(&mut link.opened, true) {
                core.tally.borrow_mut().probe_reconnects += 1;
            }
            ch
        }
    };
    let ch = link.channel.insert(ch);
    let sent_us = now_us();
    let token = user.and_then(|u| u.token.as_deref());
    let message = plan.probe_message(room, id, sent_us, token, &mut core.rng.borrow_mut());
    core.shared.sending(id, sent_us);
    let result = match tokio::time::timeout(plan.timeout, send(plan, ch, &message, user)).await {
        Ok(r) => r,
        Err(_) => Err("timeout".to_string()),
    };
    match result {
        Ok(keep) => {
            if !keep {
                link.channel = None;
            }
            Ok(ProbeSent { id, room, sent_us })
        }
        Err(reason) => {
            // A refused request (4xx/5xx) leaves the connection usable; anything else not.
            if !reason.starts_with("http_") {
                link.channel = None;
            }
            Err(reason)
        }
    }
}

/// A probe sent as `user` was refused (401, 403): the user logs in again (a login of its own,
/// from the user's last login, as its connection's relogin; counted in the logins and as a
/// probe relogin) and its new credentials replace the refused ones; `None` when that login
/// failed (counted by reason; the user is left out until its connection logs in again).
async fn log_in_again(core: &CoreWs, user: u64) -> Option<Arc<ProbeCredentials>> {
    session::log_in_as(core, user, &mut UserLogin::default(), LoginFor::Probe).await.ok().flatten()
}

async fn open(core: &CoreWs) -> Result<Channel, String> {
    match core.plan.probe_via {
        ProbeVia::Http => {
            let target = &core.plan.probe_target;
            let s = TcpStream::connect(target.addrs[0]).await.map_err(|e| session::io_reason(&e))?;
            let tls = core.plan.tls.as_ref().filter(|_| target.tls).map(|tls| (tls, target.host.as_str()));
            let s = crate::http::secure(s, tls).await.map_err(|e| match e {
                crate::http::SecureError::Tls(_) => crate::engine::ConnectFailure::Tls.name().to_string(),
                crate::http::SecureError::Io(e) => session::io_reason(&e),
            })?;
            Ok(Channel::Http(s, BytesMut::with_capacity(4096)))
        }
        // Opened like connection 0 (its token, its query), but it subscribes to nothing.
        ProbeVia::Ws => session::open_publisher(core).await.map(|ws| Channel::Ws(Box::new(ws))),
    }
}

/// The probe request: method, path, Host, then the content type, the credentials (`user`'s
/// with `--login`, else `--token` as a bearer token) and the `--probe-header`s (a header given
/// there replaces blast's own of the same name; `{{token}}` in one is `user`'s token).
pub fn request(plan: &WsPlan, body: &str, user: Option<&ProbeCredentials>) -> String {
    let given = |name: &str| plan.probe_headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let target = &plan.probe_target;
    let mut r = format!("{} {} HTTP/1.1\r\nHost: {}\r\n", plan.probe_method, target.path, target.authority);
    if !given("content-type") {
        r.push_str("Content-Type: application/json\r\n");
    }
    match user {
        Some(user) => {
            for (name, value) in user.headers.iter().filter(|(n, _)| !given(n)) {
                r.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        None => {
            if let Some(token) = plan.auth.for_probes().filter(|_| !given("authorization")) {
                r.push_str(&format!("Authorization: Bearer {token}\r\n"));
            }
        }
    }
    let token = user.and_then(|u| u.token.as_deref());
    for (name, value) in &plan.probe_headers {
        match token {
            Some(token) => r.push_str(&format!("{name}: {}\r\n", value.replace("{{token}}", token))),
            None => r.push_str(&format!("{name}: {value}\r\n")),
        }
    }
    r.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    r
}

/// Publishes one probe; `Err(reason)` when the target did not accept it. `Ok(false)`: accepted,
/// and the answer closed the connection.
async fn send(plan: &WsPlan, ch: &mut Channel, message: &str, user: Option<&ProbeCredentials>) -> Result<bool, String> {
    match ch {
        Channel::Http(stream, buf) => {
            let (status, close) =
                exchange(stream, buf, request(plan, message, user).as_bytes()).await.map_err(|e| {
                    if e.kind() == std::io::ErrorKind::UnexpectedEof {
                        "closed".to_string()
                    } else {
                        session::io_reason(&e)
                    }
                })?;
            if (200..300).contains(&status) {
                Ok(!close)
            } else {
                Err(format!("http_{status}"))
            }
        }
        Channel::Ws(ws) => {
            ws.send(Message::text(message.to_string())).await.map_err(|_| "closed".to_string())?;
            Ok(true)
        }
    }
}

/// Reads and drops whatever the server sent the publisher WebSocket (an echo of its own frames),
/// so that it never backs up (the publisher is no subscriber); false when the server closed it.
fn drained(ws: &mut WebSocketStream<Stream>) -> bool {
    while let Some(msg) = ws.next().now_or_never() {
        match msg {
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return false,
            Some(Ok(_)) => {}
        }
    }
    true
}

/// Writes `request`, reads its answer: the status, and whether the answer closes the
/// connection.
async fn exchange(stream: &mut Stream, buf: &mut BytesMut, request: &[u8]) -> std::io::Result<(u16, bool)> {
    stream.write_all(request).await?;
    let mut decoder = ResponseDecoder::new();
    decoder.answers(request);
    loop {
        match decoder.decode(buf) {
            Ok(Some(r)) => return Ok((r.status, r.close)),
            Ok(None) => {}
            Err(e) => return Err(std::io::Error::other(e.to_string())),
        }
        buf.reserve(4096);
        if stream.read_buf(buf).await? == 0 {
            // A body that runs until the close ends here.
            return match decoder.decode_eof(buf) {
                Ok(Some(r)) => Ok((r.status, true)),
                _ => Err(std::io::ErrorKind::UnexpectedEof.into()),
            };
        }
    }
}
