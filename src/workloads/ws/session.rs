//! One WebSocket connection's life: connect and upgrade, subscribe, heartbeat, receive probes,
//! and (with `--reconnect`) start again when the server drops it.

use crate::engine::ConnectFailure;
use crate::http::cookies::CookieUrl;
use crate::http::ws_upgrade::{upgrade, UpgradeError};
use crate::http::{secure, SecureError};
use crate::tls::Stream;
use crate::workloads::ws::login::{ProbeCredentials, UserLogin, HELD_LONG_ENOUGH, MAX_AUTH_RETRIES};
use crate::workloads::ws::state::{now_us, CoreWs, LIVE_DELIVERED, LIVE_DROPPED, LIVE_FAILED};
use crate::workloads::ws::tally::{Membership, UNCONFIRMED};
use futures_util::{SinkExt, StreamExt};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

type Ws = WebSocketStream<Stream>;

/// Close codes that say the connection's credentials are no longer good: 4401 (the
/// application range's "401"), 1008 (policy violation).
const AUTH_CLOSE: u16 = 4401;
const POLICY_CLOSE: u16 = 1008;

/// Why a connected session ended.
enum End {
    Dropped,
    Stopped,
    /// The server closed the connection for auth (4401, 1008) and `--login` can renew it.
    AuthClosed,
}

/// Runs connection `global` (subscribed to `room`) until the core stops it. With `--login` the
/// connection is virtual user `global`: it logs in before its first upgrade, and again when the
/// server refuses an upgrade (401, 403) or closes it for auth (4401, 1008), then reconnects
/// (with or without `--reconnect`), at most `MAX_AUTH_RETRIES` refusals in a row.
pub async fn run(core: Rc<CoreWs>, global: u64, room: u32) {
    let mut settled = false;
    // The first attempt is over (open or failed): the ramp counts it.
    let mut upgraded = false;
    let mut attempt = 0u32;
    // Failed attempts in a row: each waits twice as long as the one before (a dead target
    // is not hammered), up to RECONNECT_MAX; an established connection starts over.
    let mut failures = 0u32;
    let mut user = UserLogin::default();
    // Auth refusals in a row: upgrades refused, connections closed for auth soon after opening.
    let mut refusals = 0u32;
    // Between an auth close and the next upgrade: the run must not end for want of connections.
    let mut relogging = false;
    loop {
        if core.stopping() {
            break;
        }
        {
            let mut t = core.tally.borrow_mut();
            t.attempted += 1;
            if attempt > 0 {
                t.reconnects += 1;
            }
        }
        attempt += 1;
        let result = connect(&core, global, &mut user, &mut refusals).await;
        if std::mem::take(&mut relogging) {
            core.shared.relogging.fetch_sub(1, Ordering::AcqRel);
        }
        if !upgraded {
            upgraded = true;
            core.upgraded();
        }
        match result {
            Err(reason) => {
                failures += 1;
                core.tally.borrow_mut().fail(&reason);
                core.live.add(core.index, LIVE_FAILED, 1);
                if !settled {
                    settled = true;
                    core.settle();
                }
            }
            Ok((ws, started)) => {
                failures = 0;
                {
                    let mut t = core.tally.borrow_mut();
                    t.established += 1;
                    t.connect.saturating_record(started.elapsed().as_micros().max(1) as u64);
                }
                core.opened();
                let opened = Instant::now();
                let token = core.plan.login.as_ref().and_then(|l| l.token(&user));
                let end = connected(&core, ws, global, room, token, &mut settled).await;
                core.closed();
                match end {
                    End::Stopped => break,
                    // An auth close as the run ends is not the server's drop: nothing follows it.
                    End::AuthClosed if core.stopping() => break,
                    End::AuthClosed => {
                        if opened.elapsed() >= HELD_LONG_ENOUGH {
                            refusals = 0;
                        }
                        refusals += 1;
                        user.valid = false;
                        core.shared.probe_users.remove(global);
                        if refusals <= MAX_AUTH_RETRIES {
                            core.tally.borrow_mut().auth_closes += 1;
                            core.shared.relogging.fetch_add(1, Ordering::AcqRel);
                            relogging = true;
                            continue;
                        }
                        // Refused again and again: the server's drop, and the end of it.
                        core.tally.borrow_mut().dropped += 1;
                        core.live.add(core.index, LIVE_DROPPED, 1);
                        break;
                    }
                    End::Dropped => {
                        core.tally.borrow_mut().dropped += 1;
                        core.live.add(core.index, LIVE_DROPPED, 1);
                    }
                }
            }
        }
        if !core.plan.reconnect || core.stopping() {
            break;
        }
        // Waited in steps of at most the first delay, so that the end of the run is not held up.
        let until = Instant::now() + reconnect_delay(failures);
        while !core.stopping() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            tokio::time::sleep(left.min(RECONNECT_FIRST)).await;
        }
    }
    if relogging {
        core.shared.relogging.fetch_sub(1, Ordering::AcqRel);
    }
    if !upgraded {
        core.upgraded();
    }
    if !settled {
        core.ended_unsettled();
    }
}

/// One connection attempt of virtual user `global`: with `--login`, a login first when the user
/// holds none; then connect and upgrade (within `--timeout`). An upgrade refused with 401 or
/// 403 logs in again and is tried once more, while `refusals` in a row stay within
/// `MAX_AUTH_RETRIES`. `Ok`: the stream and when its connect began; `Err`: the failure's reason
/// (`login` when the login failed: its own reason is in the tally's `login_failed`).
async fn connect(
    core: &CoreWs,
    global: u64,
    user: &mut UserLogin,
    refusals: &mut u32,
) -> Result<(Ws, Instant), String> {
    loop {
        if core.plan.login.is_some()
            && !user.valid
            && log_in_as(core, global, user, LoginFor::Connection).await.is_err()
        {
            return Err("login".to_string());
        }
        let started = Instant::now();
        // Boxed: the connect and upgrade state (TLS and HTTP handshakes) is several KiB, needed
        // only while connecting; inline it would stay in every held connection's task.
        let result = match tokio::time::timeout(core.plan.timeout, Box::pin(open(core, global, Some(&*user)))).await {
            Ok(r) => r,
            Err(_) => Err(ConnectFailure::Timeout.name().to_string()),
        };
        match result {
            Err(reason)
                if core.plan.login.is_some()
                    && (reason == "http_401" || reason == "http_403")
                    && *refusals < MAX_AUTH_RETRIES
                    && !core.stopping() =>
            {
                *refusals += 1;
                user.valid = false;
                core.shared.probe_users.remove(global);
                core.tally.borrow_mut().upgrades_refused += 1;
            }
            other => return other.map(|ws| (ws, started)),
        }
    }
}

/// The publisher's WebSocket (`--probe-via ws`): with `--login` it logs in as user 0 first.
pub(crate) async fn open_publisher(core: &CoreWs) -> Result<Ws, String> {
    let mut refusals = MAX_AUTH_RETRIES;
    connect(core, 0, &mut UserLogin::default(), &mut refusals).await.map(|(ws, _)| ws)
}

/// The first wait before reconnecting, and the longest.
const RECONNECT_FIRST: Duration = Duration::from_millis(100);
const RECONNECT_MAX: Duration = Duration::from_secs(5);

/// How long a connection waits before it tries again after `failures` failed attempts in a
/// row: 100 ms after a drop, doubling with each failure, at most 5 s.
fn reconnect_delay(failures: u32) -> Duration {
    RECONNECT_FIRST.saturating_mul(1u32 << failures.saturating_sub(1).min(6)).min(RECONNECT_MAX)
}

/// TCP connect (from a `--bind` address if given) and WebSocket upgrade, carrying the user's
/// login (`--login`) or the token of `--token`/`--tokens`.
async fn open(core: &CoreWs, global: u64, user: Option<&UserLogin>) -> Result<Ws, String> {
    let plan = &core.plan;
    let addr = plan.target.addrs[global as usize % plan.target.addrs.len()];
    let socket = if addr.is_ipv4() { TcpSocket::new_v4() } else { TcpSocket::new_v6() }.map_err(|e| io_reason(&e))?;
    if !plan.bind.is_empty() {
        let ip = plan.bind[global as usize % plan.bind.len()];
        socket.bind(std::net::SocketAddr::new(ip, 0)).map_err(|e| io_reason(&e))?;
    }
    let stream = socket.connect(addr).await.map_err(|e| io_reason(&e))?;
    let tls = plan.tls.as_ref().filter(|_| plan.target.tls).map(|tls| (tls, plan.target.host.as_str()));
    let stream = secure(stream, tls).await.map_err(|e| match e {
        SecureError::Tls(_) => ConnectFailure::Tls.name().to_string(),
        SecureError::Io(e) => io_reason(&e),
    })?;
    let (path, owned) = match (&plan.login, &core.login, user) {
        // The one place the upgrade request is made from a login (a cookie jar joins here).
        (Some(login), Some(state), Some(user)) => {
            let url = crate::http::cookies::CookieUrl {
                https: plan.target.tls,
                host: &plan.target.host,
                path: &plan.target.path,
            };
            login.upgrade_request(state, global, user, &url, &mut core.rng.borrow_mut())
        }
        _ => token_request(plan, global),
    };
    let headers: Vec<(&str, &str)> = owned.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    match upgrade(stream, &plan.target.authority, &path, &headers).await {
        Ok(ws) => Ok(ws),
        Err(UpgradeError::Status(code)) => Err(format!("http_{code}")),
        Err(UpgradeError::Io(e)) => Err(io_reason(&e)),
        Err(UpgradeError::Protocol(_)) => Err("handshake".to_string()),
    }
}

/// The upgrade's path and headers with the token of `--token` or `--tokens` (in the query with
/// `--token-query`, else as `Authorization: Bearer`).
fn token_request(plan: &crate::workloads::ws::WsPlan, global: u64) -> (String, Vec<(String, String)>) {
    let token = plan.auth.for_conn(global);
    let mut path = plan.target.path.clone();
    if let (Some(name), Some(token)) = (&plan.auth.query, token) {
        let sep = if path.contains('?') { '&' } else { '?' };
        let value: String = url::form_urlencoded::byte_serialize(token.as_bytes()).collect();
        path.push_str(&format!("{sep}{name}={value}"));
    }
    let bearer = token.filter(|_| plan.auth.query.is_none()).map(|t| format!("Bearer {t}"));
    (path, bearer.into_iter().map(|b| ("Authorization".to_string(), b)).collect())
}

/// The short, stable name of a connection failure (`ConnectFailure`), as reports count it.
pub(crate) fn io_reason(e: &std::io::Error) -> String {
    ConnectFailure::from_io(e).name().to_string()
}

async fn connected(
    core: &CoreWs,
    mut ws: Ws,
    global: u64,
    room: u32,
    login_token: Option<&str>,
    settled: &mut bool,
) -> End {
    // One membership per established connection, recorded before anything is awaited: it is
    // unconfirmed until the subscribe is written (and acknowledged, when an ack is awaited).
    let membership = {
        let mut t = core.tally.borrow_mut();
        t.memberships.push(Membership { room, from: UNCONFIRMED, ..Membership::default() });
        t.memberships.len() - 1
    };
    let leave = |core: &CoreWs| core.tally.borrow_mut().memberships[membership].to = Some(now_us());
    let subscribe = core.plan.subscribe_message(global, room, login_token, &mut core.rng.borrow_mut());
    let sent = subscribe.is_some();
    if let Some(subscribe) = subscribe {
        if ws.send(Message::text(subscribe)).await.is_err() {
            leave(core);
            return End::Dropped;
        }
    }
    // Without an acknowledgement to wait for, the connection is a member from now on.
    if !sent || core.plan.subscribe_ack.is_none() {
        core.tally.borrow_mut().memberships[membership].from = now_us();
        if !*settled {
            *settled = true;
            core.settle();
        }
    }
    let mut seen = Seen::default();
    let beat = core.plan.heartbeat.unwrap_or(Duration::from_secs(3600));
    let mut heartbeat = tokio::time::interval_at((Instant::now() + beat).into(), beat);
    let mut stop = core.stop_rx.clone();
    let epoch = core.epoch;
    // App-level heartbeat: when the last {"type":"ping"} left (its pong carries no timestamp).
    let mut app_ping: Option<Instant> = None;
    loop {
        tokio::select! {
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(text))) => {
                    let received = now_us();
                    core.tally.borrow_mut().messages_received += 1;
                    if let Some(sent) = app_ping.take_if(|_| is_pong(text.as_str())) {
                        let mut t = core.tally.borrow_mut();
                        t.heartbeats_answered += 1;
                        t.heartbeat_rtt.saturating_record(sent.elapsed().as_micros().max(1) as u64);
                        continue;
                    }
                    on_text(core, text.as_str(), received, membership, &mut seen, settled);
                }
                Some(Ok(Message::Pong(payload))) => {
                    if let Ok(b) = <[u8; 8]>::try_from(payload.as_ref()) {
                        let sent = u64::from_be_bytes(b);
                        let now = epoch.elapsed().as_micros() as u64;
                        let mut t = core.tally.borrow_mut();
                        t.heartbeats_answered += 1;
                        t.heartbeat_rtt.saturating_record(now.saturating_sub(sent).max(1));
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    leave(core);
                    let code = frame.map(|f| u16::from(f.code));
                    let auth = core.plan.login.is_some() && matches!(code, Some(AUTH_CLOSE | POLICY_CLOSE));
                    core.tally.borrow_mut().memberships[membership].auth_closed = auth;
                    return if auth { End::AuthClosed } else { End::Dropped };
                }
                None | Some(Err(_)) => {
                    leave(core);
                    return End::Dropped;
                }
                Some(Ok(_)) => {}
            },
            _ = heartbeat.tick(), if core.plan.heartbeat.is_some() => {
                let now = epoch.elapsed().as_micros() as u64;
                core.tally.borrow_mut().heartbeats_sent += 1;
                let ping = if core.plan.app_heartbeat {
                    app_ping = Some(Instant::now());
                    Message::text(r#"{"type":"ping"}"#)
                } else {
                    Message::Ping(now.to_be_bytes().to_vec().into())
                };
                if ws.send(ping).await.is_err() {
                    leave(core);
                    return End::Dropped;
                }
            }
            _ = stop.changed() => {
                leave(core);
                let _ = tokio::time::timeout(Duration::from_millis(500), ws.close(None)).await;
                return End::Stopped;
            }
        }
    }
}

/// An app-level heartbeat answer: `{"type":"pong"}`.
fn is_pong(text: &str) -> bool {
    text.contains("\"pong\"")
        && serde_json::from_str::<serde_json::Value>(text)
            .is_ok_and(|v| v.get("type").and_then(|t| t.as_str()) == Some("pong"))
}

/// Probe ids a connection has received (to count duplicates): a bitset up to the run's last
/// probe id; a larger id is no probe of this run.
#[derive(Default)]
struct Seen(Vec<u64>);

impl Seen {
    /// Marks `id`; false when it was already marked.
    fn insert(&mut self, id: u64) -> bool {
        let (word, bit) = ((id / 64) as usize, id % 64);
        if self.0.len() <= word {
            self.0.resize(word + 1, 0);
        }
        let new = self.0[word] & (1 << bit) == 0;
        self.0[word] |= 1 << bit;
        new
    }
}

/// A text frame: the subscription ack, a probe to account for, or another message.
fn on_text(core: &CoreWs, text: &str, received_us: u64, membership: usize, seen: &mut Seen, settled: &mut bool) {
    let awaiting_ack = core.tally.borrow().memberships[membership].from == UNCONFIRMED;
    let after_probes = core.shared.probing_at(received_us);
    let with_probe_id = || carries_sent_probe_id(core, text, received_us);
    let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
        let mut t = core.tally.borrow_mut();
        t.other(text, after_probes, with_probe_id);
        if awaiting_ack {
            t.awaiting_ack(text);
        }
        return;
    };
    let ack = core.plan.subscribe_ack.as_deref();
    if ack.is_some() && v.get("type").and_then(|t| t.as_str()) == ack {
        if awaiting_ack {
            core.tally.borrow_mut().memberships[membership].from = received_us;
        }
        if !*settled {
            *settled = true;
            core.settle();
        }
        return;
    }
    let probe = core.plan.reader.read(&v).filter(|p| p.id <= core.max_probe_id);
    let mut t = core.tally.borrow_mut();
    if awaiting_ack && probe.is_none() {
        t.awaiting_ack(text);
    }
    let Some(probe) = probe else {
        t.other(text, after_probes, with_probe_id);
        return;
    };
    if !seen.insert(probe.id) {
        t.duplicates += 1;
        return;
    }
    // Only a probe of the connection's own room tells when it joined or stopped receiving it
    // (probe `id` was published to room `id % rooms`): one of another room that the target
    // wrongly delivered must not move those points.
    let m = &mut t.memberships[membership];
    if probe.id % u64::from(core.plan.rooms.max(1)) == u64::from(m.room) {
        m.first_probe = Some(m.first_probe.map_or(probe.id, |f| f.min(probe.id)));
        m.last_probe = Some(m.last_probe.map_or(probe.id, |l| l.max(probe.id)));
    }
    // Timed from blast's own send instant when this process sent the probe; from the time the
    // message carries when another process (a shard) did; else once the run ends (`resolve`,
    // against the publisher's record): the live line then has no latency for it.
    let sent = match (core.shared.sent_at(probe.id), probe.sent_us) {
        (Some(at), _) => {
            t.timed_from_send += 1;
            Some(at)
        }
        (None, Some(at)) => {
            t.timed_from_message += 1;
            Some(at)
        }
        (None, None) => None,
    };
    match sent {
        Some(sent) => {
            t.delivered(probe.id, received_us, received_us.saturating_sub(sent));
            core.live.record_latency(core.index, received_us.saturating_sub(sent));
        }
        None => t.receipts.push((probe.id, received_us)),
    }
    core.live.add(core.index, LIVE_DELIVERED, 1);
}

/// Whether `text` contains, as a whole run of digits, the number of a probe this process sent
/// before `received_us`: a message that most likely carried that probe in a form blast could
/// not read.
fn carries_sent_probe_id(core: &CoreWs, text: &str, received_us: u64) -> bool {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|run| !run.is_empty() && run.len() <= 19)
        .filter_map(|run| run.parse::<u64>().ok())
        .any(|id| core.shared.sent_at(id).is_some_and(|at| at <= received_us))
}

/// Why a user logs in, for the tally: its connection (the first login, then relogins), or a
/// probe sent as it that the target refused (a probe relogin).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LoginFor {
    Connection,
    Probe,
}

/// Logs virtual user `user` in (`--login`), the one way a connection and the probe publisher
/// do: from its last login, `state` or the newer one a login of the user elsewhere left in
/// `ProbeUsers` (its jar, its captures, its count of logins), so that a login again carries
/// what the earlier ones set, and leaves in `state` what this one set. Counted (`why`), and
/// shared for the HTTP probes: `Ok` holds the user's new probe credentials (none without HTTP
/// probes). `Err`: why it failed (counted; no probe is sent as the user until it logs in).
pub(crate) async fn log_in_as(
    core: &CoreWs,
    user: u64,
    state: &mut UserLogin,
    why: LoginFor,
) -> Result<Option<Arc<ProbeCredentials>>, String> {
    let (Some(login), Some(scenario)) = (&core.plan.login, &core.login) else { return Ok(None) };
    if let Some(newer) = core.shared.probe_users.login_newer_than(user, state.logins) {
        *state = newer;
    }
    let again = state.logins > 0;
    match login.log_in(scenario, user, state).await {
        Ok(()) => {
            let mut t = core.tally.borrow_mut();
            t.logins += 1;
            match why {
                LoginFor::Connection => t.relogins += u64::from(again),
                LoginFor::Probe => t.probe_relogins += 1,
            }
            drop(t);
            Ok(share_login(core, user, state))
        }
        Err(reason) => {
            *core.tally.borrow_mut().login_failed.entry(reason.clone()).or_default() += 1;
            core.shared.probe_users.remove(user);
            Err(reason)
        }
    }
}

/// User `user`'s login `state` succeeded: HTTP probes may be sent as it from now on, with the
/// credentials returned, and its next login elsewhere starts from `state`.
fn share_login(core: &CoreWs, user: u64, state: &UserLogin) -> Option<Arc<ProbeCredentials>> {
    if !core.plan.probes_as_users() {
        return None;
    }
    let (login, scenario) = (core.plan.login.as_ref()?, core.login.as_ref()?);
    let t = &core.plan.probe_target;
    let url = CookieUrl { https: t.tls, host: &t.host, path: &t.path };
    let c = login.probe_credentials(scenario, user, state, &url, &mut core.rng.borrow_mut());
    Some(core.shared.probe_users.set(c, state.carried()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_reconnect_backs_off_from_a_dead_target() {
        assert_eq!(reconnect_delay(0), Duration::from_millis(100), "after a drop");
        assert_eq!(reconnect_delay(1), Duration::from_millis(100));
        assert_eq!(reconnect_delay(3), Duration::from_millis(400));
        assert_eq!(reconnect_delay(40), Duration::from_secs(5));
    }
}
