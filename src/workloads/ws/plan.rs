//! A validated `blast ws` run (`WsPlan`): targets, connections, ramp, probes, shards; and
//! the messages it sends.

use crate::http::HttpTarget;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

/// How probes reach the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeVia {
    /// `POST` the probe to `--probe-target`.
    Http,
    /// Send the probe as a text frame (`--publish` template) on a dedicated WebSocket connection.
    Ws,
}

/// A validated `blast ws` run.
#[derive(Clone, Debug)]
pub struct WsPlan {
    /// ws://host:port/path, parsed like an HTTP target.
    pub target: HttpTarget,
    /// Where probes are POSTed (with `probe_via` Http).
    pub probe_target: HttpTarget,
    pub probe_via: ProbeVia,
    /// Probe frame for `probe_via` Ws: `{{room}}`, `{{probe_id}}`, `{{sent_at_us}}` are replaced.
    pub publish_template: String,
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
    pub token: Option<String>,
    pub timeout: Duration,
    pub reconnect: bool,
    pub bind: Vec<IpAddr>,
    /// Subscribe message; `{{room}}` is replaced by the conversation id.
    pub subscribe_template: String,
    pub probe_id_pointer: String,
    pub probe_ts_pointer: String,
    /// After the last probe, how long deliveries may still arrive.
    pub drain: Duration,
    pub pin: bool,
    /// Shard `.0` of `.1` (`--shard I/N`): this process opens connection `g` of the run when
    /// `g mod N == I`; shard 0 alone publishes the probes.
    pub shard: (u32, u32),
    /// Wall-clock start (`--start-at`), so that shards begin together.
    pub start_at: Option<SystemTime>,
    /// For `wss://` targets (and an https:// probe target).
    pub tls: Option<crate::tls::ClientTls>,
}

impl WsPlan {
    pub fn room_name(&self, room: u32) -> String {
        format!("room-{room}")
    }

    pub fn subscribe_message(&self, room: u32) -> String {
        self.subscribe_template.replace("{{room}}", &self.room_name(room))
    }

    pub fn publish_message(&self, room: u32, probe_id: u64, sent_us: u64) -> String {
        self.publish_template
            .replace("{{room}}", &self.room_name(room))
            .replace("{{probe_id}}", &probe_id.to_string())
            .replace("{{sent_at_us}}", &sent_us.to_string())
    }

    /// Connections this process opens (its shard's share of `conns`).
    pub fn own_conns(&self) -> usize {
        crate::engine::shard_share(self.conns as u64, self.shard) as usize
    }

    pub fn conns_on(&self, core: usize) -> usize {
        let own = self.own_conns();
        crate::engine::spread(own, self.cores, core)
    }

    /// This process publishes the probes (the only shard, or shard 0 of several).
    pub fn publishes(&self) -> bool {
        self.shard.0 == 0 && self.probe_rate > 0.0
    }

    /// How much longer than `duration` this process holds its connections: a shard that does
    /// not publish stays subscribed long enough for every probe of shard 0 to reach it, since
    /// shards' ramps may settle up to `timeout + 1s` apart.
    pub fn linger(&self) -> Duration {
        if self.shard.0 == 0 {
            Duration::ZERO
        } else {
            self.timeout + Duration::from_secs(1)
        }
    }
}
