//! A validated `blast ws` run (`WsPlan`): targets, connections, ramp, probes, auth, shards;
//! the messages it sends; and the checks of flag values that read files or the system
//! (`--tokens`, `--bind`) or parse a list (`--probe-header`).

use crate::engine::rng::SplitMix64;
use crate::http::HttpTarget;
use crate::usage::UsageError;
use crate::workloads::ws::format::{ProbeReader, WsTemplate, WsValues};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How probes reach the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeVia {
    /// An HTTP request (`--probe-method`, `--probe-body`) to `--probe-target`.
    Http,
    /// A text frame (`--publish` template) on a dedicated WebSocket connection.
    Ws,
}

/// How connections and probes authenticate.
#[derive(Clone, Debug, Default)]
pub struct WsAuth {
    /// `--token`: every connection's (unless `tokens`) and the probes'.
    pub token: Option<String>,
    /// `--tokens FILE`: connection `g` uses line `g mod len`.
    pub tokens: Arc<Vec<String>>,
    /// `--token-query NAME`: the upgrade carries the token as `?NAME=...`, not as a header.
    pub query: Option<String>,
}

impl WsAuth {
    /// The token of connection `global`.
    pub fn for_conn(&self, global: u64) -> Option<&str> {
        if self.tokens.is_empty() {
            self.token.as_deref()
        } else {
            Some(&self.tokens[(global % self.tokens.len() as u64) as usize])
        }
    }

    /// The credentials given, without their values: what the advice on a refused upgrade names.
    pub fn describe(&self) -> Option<String> {
        let given = match (&self.token, self.tokens.len()) {
            (None, 0) => return None,
            (Some(_), 0) => "--token".to_string(),
            (None, n) => format!("--tokens FILE ({n} {})", plural(n)),
            (Some(_), n) => format!("--tokens FILE ({n} {}; --token for the probes)", plural(n)),
        };
        Some(match &self.query {
            Some(name) => format!("{given} in the upgrade's query as ?{name}="),
            None => format!("{given} as Authorization: Bearer"),
        })
    }

    /// The probes' token: `--token`, else the first of `--tokens`.
    pub fn for_probes(&self) -> Option<&str> {
        self.token.as_deref().or(self.tokens.first().map(String::as_str))
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        "token"
    } else {
        "tokens"
    }
}

/// A validated `blast ws` run.
#[derive(Clone, Debug)]
pub struct WsPlan {
    /// ws://host:port/path, parsed like an HTTP target.
    pub target: HttpTarget,
    /// Where probes are sent (with `probe_via` Http).
    pub probe_target: HttpTarget,
    pub probe_via: ProbeVia,
    /// Probe frame for `probe_via` Ws.
    pub publish: WsTemplate,
    /// Probe request body for `probe_via` Http.
    pub probe_body: WsTemplate,
    pub probe_method: String,
    /// Extra probe request headers (`--probe-header`), as given.
    pub probe_headers: Vec<(String, String)>,
    pub conns: usize,
    pub cores: usize,
    pub connect_rate: f64,
    /// How long connections are held (and probed) once all are open.
    pub duration: Duration,
    pub probe_rate: f64,
    pub heartbeat: Option<Duration>,
    /// Heartbeat with `{"type":"ping"}` text frames instead of WebSocket pings.
    pub app_heartbeat: bool,
    pub rooms: u32,
    pub auth: WsAuth,
    pub timeout: Duration,
    pub reconnect: bool,
    pub bind: Vec<IpAddr>,
    /// Subscribe message (none: the connection is a member from its upgrade).
    pub subscribe: Option<WsTemplate>,
    /// The `type` of the server's subscription acknowledgement; `None`: a connection is a
    /// member once its subscribe message is written.
    pub subscribe_ack: Option<String>,
    /// How received messages are read as probes.
    pub reader: ProbeReader,
    /// After the last probe, how long deliveries may still arrive.
    pub drain: Duration,
    pub pin: bool,
    /// Shard `.0` of `.1` (`--shard I/N`): this process opens connection `g` of the run when
    /// `g mod N == I`; shard 0 alone publishes the probes.
    pub shard: crate::engine::Shard,
    /// Wall-clock start (`--start-at`), so that shards begin together.
    pub start_at: Option<SystemTime>,
    /// For `wss://` targets (and an https:// probe target).
    pub tls: Option<crate::tls::ClientTls>,
    /// `--login FILE`: each connection logs in over HTTP before its upgrade.
    pub login: Option<Arc<crate::workloads::ws::login::WsLogin>>,
}

impl WsPlan {
    pub fn room_name(&self, room: u32) -> String {
        format!("room-{room}")
    }

    /// Connection `global`'s subscribe message, if one is sent; `{{token}}` is `login_token`
    /// (what its login captured), else its token of `--token` or `--tokens`.
    pub fn subscribe_message(
        &self,
        global: u64,
        room: u32,
        login_token: Option<&str>,
        rng: &mut SplitMix64,
    ) -> Option<String> {
        let t = self.subscribe.as_ref()?;
        let room = self.room_name(room);
        let token = login_token.or(self.auth.for_conn(global)).unwrap_or_default();
        Some(t.render(&WsValues { room: &room, conn: global, token, probe_id: 0, sent_us: 0 }, rng))
    }

    /// A probe's frame (`Ws`) or request body (`Http`); `{{token}}` is `login_token` (the
    /// captured token of the user the probe is sent as), else the probes' `--token`.
    pub fn probe_message(
        &self,
        room: u32,
        probe_id: u64,
        sent_us: u64,
        login_token: Option<&str>,
        rng: &mut SplitMix64,
    ) -> String {
        let room = self.room_name(room);
        let token = login_token.or(self.auth.for_probes()).unwrap_or_default();
        let t = if self.probe_via == ProbeVia::Ws { &self.publish } else { &self.probe_body };
        t.render(&WsValues { room: &room, conn: 0, token, probe_id, sent_us }, rng)
    }

    /// HTTP probes are sent as the logged-in users (`--login`, and this process publishes).
    pub fn probes_as_users(&self) -> bool {
        self.login.is_some() && self.probe_via == ProbeVia::Http && self.publishes()
    }

    /// Connections this process opens (its shard's share of `conns`).
    pub fn own_conns(&self) -> usize {
        self.shard.share_of(self.conns as u64) as usize
    }

    pub fn conns_on(&self, core: usize) -> usize {
        let own = self.own_conns();
        crate::engine::spread(own, self.cores, core)
    }

    /// This process publishes the probes (the only shard, or shard 0 of several).
    pub fn publishes(&self) -> bool {
        self.shard.index == 0 && self.probe_rate > 0.0
    }

    /// The largest probe id of the run: a larger one read from a message is not a probe.
    pub fn max_probe_id(&self) -> u64 {
        (self.probe_rate * self.duration.as_secs_f64()).ceil() as u64 + 1
    }

    /// How long into the hold the probes wait for subscriptions still unacknowledged: the
    /// wait is part of the hold (never added to the run), and at most half of it, so that a
    /// server whose ack blast does not recognise still gets probes, and shows what it answers.
    pub fn ack_wait(&self) -> Duration {
        self.timeout.min(self.duration / 2)
    }

    /// How much longer than `duration` this process holds its connections: a shard that does
    /// not publish stays subscribed long enough for every probe of shard 0 to reach it, since
    /// shards' ramps may settle up to `timeout + 1s` apart.
    pub fn linger(&self) -> Duration {
        if self.shard.index == 0 {
            Duration::ZERO
        } else {
            self.timeout + Duration::from_secs(1)
        }
    }
}

/// The tokens of `--tokens FILE`: one a line, blank lines and `#` comments skipped; each is
/// registered as a secret (never printed).
pub fn read_tokens(path: &std::path::Path) -> Result<Vec<String>, UsageError> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("--tokens {}: {e}", path.display()))?;
    let tokens: Vec<String> =
        text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(String::from).collect();
    for t in &tokens {
        crate::redact::secret(t);
    }
    if tokens.is_empty() {
        return Err(format!("--tokens {}: no token in the file (one a line)", path.display()).into());
    }
    Ok(tokens)
}

/// `--bind` addresses, each checked to be one of this machine's (a socket binds to it), so that
/// a mistyped address is refused before the run rather than failing every connect.
pub fn local_addresses(bind: &[IpAddr]) -> Result<Vec<IpAddr>, UsageError> {
    for ip in bind {
        if let Err(e) = std::net::TcpListener::bind((*ip, 0)) {
            let why = if e.kind() == std::io::ErrorKind::AddrNotAvailable {
                "it is not an address of this machine".to_string()
            } else {
                e.to_string()
            };
            return Err(format!("--bind {ip}: {why} (give local source addresses, e.g. 127.0.0.2)").into());
        }
    }
    Ok(bind.to_vec())
}

/// The `--probe-header 'Name: value'`s, checked: (name, value) pairs.
pub fn probe_headers(given: &[String]) -> Result<Vec<(String, String)>, UsageError> {
    let mut probe_headers = Vec::new();
    for h in given {
        let Some((name, value)) = h.split_once(':') else {
            return Err(format!("--probe-header '{}': expected 'Name: value'", crate::redact::text(h)).into());
        };
        let name = name.trim();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(format!("--probe-header '{}': '{name}' is not a header name", crate::redact::text(h)).into());
        }
        if value.contains(['\r', '\n']) {
            return Err(format!("--probe-header {name}: the value must be one line").into());
        }
        if crate::http::request_rules::set_by_blast(name) {
            return Err(format!("--probe-header {name}: set by blast").into());
        }
        probe_headers.push((name.to_string(), value.trim().to_string()));
    }
    Ok(probe_headers)
}
