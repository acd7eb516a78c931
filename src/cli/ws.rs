//! `blast ws`: its flags, checked into a plan (`build`), and what the driver needs to run and
//! report it (`WsCommand`).

use super::common::{available_cores, check_cores, UsageError};
use super::driver;
use super::metrics_listen::LiveMetrics;
use crate::http::HttpTarget;
use crate::report::progress::{LastSecond, Rate, Reading};
use crate::report::ws::WsSummary;
use crate::units::{parse_count, parse_duration, parse_rate};
use crate::workloads::ws::format::{ProbeReader, TsUnit, WsTemplate};
use crate::workloads::ws::login_file::{Inline, Source};
use crate::workloads::ws::{self, WsAuth, WsPlan};
use clap::Args;
use std::net::IpAddr;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct WsArgs {
    /// WebSocket connections to open and hold.
    #[arg(long, value_parser = parse_count, default_value = "1000")]
    pub conns: usize,
    /// WebSocket URL.
    #[arg(long, default_value = "ws://127.0.0.1:8000/ws")]
    pub target: String,
    /// Connections opened per second (open-loop).
    #[arg(long, value_parser = parse_rate, default_value = "2000/s")]
    pub connect_rate: f64,
    /// How long connections are held and probed once all are open.
    #[arg(long, value_parser = parse_duration, default_value = "60s")]
    pub duration: Duration,
    /// Latency probes per second (0 for none).
    #[arg(long, value_parser = parse_probe_rate, default_value = "5/s")]
    pub probe_rate: f64,
    /// Where probes are sent (default: http://<target host>/v1/messages).
    #[arg(long)]
    pub probe_target: Option<String>,
    /// How probes are published: an HTTP request (http) or a text frame sent on a WebSocket
    /// connection of blast's own that subscribes to nothing (ws).
    #[arg(long, value_enum, default_value = "http")]
    pub probe_via: ProbeViaArg,
    /// Probe frame for --probe-via ws (a template: {{room}}, {{probe_id}}, {{sent_at_us}},
    /// {{sent_at_ms}}, {{sent_at_s}}, {{sent_at_iso}}, {{token}} and the scenario functions
    /// such as {{uuid}}); it must contain {{probe_id}}.
    #[arg(
        long,
        default_value = r#"{"type":"publish","conversation_id":"{{room}}","probe_id":{{probe_id}},"sent_at_us":{{sent_at_us}}}"#
    )]
    pub publish: String,
    /// Probe request body for --probe-via http (the same template as --publish).
    #[arg(
        long,
        default_value = r#"{"type":"message","conversation_id":"{{room}}","sender_id":"blast-probe","probe_id":{{probe_id}},"sent_at_us":{{sent_at_us}}}"#
    )]
    pub probe_body: String,
    /// HTTP method of probe requests.
    #[arg(long, default_value = "POST")]
    pub probe_method: String,
    /// Extra header on probe requests, 'Name: value' (repeatable); replaces blast's own
    /// Content-Type or Authorization when it names one ({{token}}: with --login, the token of
    /// the user the probe is sent as). Credential values are never printed.
    #[arg(long, value_name = "'NAME: VALUE'")]
    pub probe_header: Vec<String>,
    /// Conversations; connections are spread evenly, so fan-out width is conns/rooms.
    #[arg(long, value_parser = parse_count, default_value = "1")]
    pub rooms: usize,
    /// WebSocket ping interval (0s for none); the pong round trip is recorded.
    #[arg(long, value_parser = parse_duration, default_value = "15s")]
    pub heartbeat: Duration,
    /// Heartbeat as WebSocket ping frames (ws) or {"type":"ping"} text messages (app).
    #[arg(long, value_enum, default_value = "ws")]
    pub heartbeat_mode: HeartbeatMode,
    /// Token for the upgrade (as `Authorization: Bearer`, or with --token-query as a query
    /// parameter) and for probe requests (always as `Authorization: Bearer`). Never printed.
    #[arg(long)]
    pub token: Option<String>,
    /// Put the connection's token in the upgrade URL as ?NAME=TOKEN instead of a header.
    #[arg(long, value_name = "NAME")]
    pub token_query: Option<String>,
    /// One token per line (a JWT per user): connection i uses line i mod N (round robin);
    /// probes use --token, else the first line. Never printed.
    #[arg(long, value_name = "FILE")]
    pub tokens: Option<std::path::PathBuf>,
    /// Log each connection in over HTTP before its upgrade: a file of `[data]`, `[[on_start]]`
    /// steps (as in scenarios; connection i is user i, row i mod rows) and `[upgrade]` (where
    /// the captures go: query, headers, subprotocol; default Authorization: Bearer {{token}}).
    /// A refused upgrade (401, 403) or an auth close (4401, 1008) logs in again and reconnects.
    /// A profile may hold these tables itself instead.
    #[arg(long, value_name = "FILE", conflicts_with = "tokens")]
    pub login: Option<std::path::PathBuf>,
    /// Where --login's requests go (default: http://<target host>, https for wss).
    #[arg(long, value_name = "URL")]
    pub login_target: Option<String>,
    /// Subscribe message sent once connected (a template: {{room}}, {{conn}}, {{token}} and
    /// the scenario functions); '' sends none (the connection receives from its upgrade on).
    #[arg(long, default_value = r#"{"type":"subscribe","conversation_id":"{{room}}"}"#)]
    pub subscribe: String,
    /// The `type` of the server's subscription acknowledgement; a connection expects probes
    /// from its ack on. 'none': from when its subscribe message is written.
    #[arg(long, default_value = "subscribed")]
    pub subscribe_ack: String,
    /// JSON pointer to the probe id in a received message: a number, or a string that ends in
    /// it ("p-17"). Messages without one are counted as other messages.
    #[arg(long, default_value = "/probe_id")]
    pub probe_id_pointer: String,
    /// JSON pointer to the probe's send time in a received message (unit: --probe-ts-unit).
    /// A probe this process sent is timed from its own send instant (matched by id); the
    /// message's time is the fallback, for probes another shard sent. 'none': probes carry no
    /// time.
    #[arg(long, default_value = "/sent_at_us")]
    pub probe_ts_pointer: String,
    /// Unit of the send time at --probe-ts-pointer: us, ms, s (numbers or numeric strings) or
    /// iso8601 (e.g. 2026-01-02T03:04:05.123Z).
    #[arg(long, value_enum, default_value = "us")]
    pub probe_ts_unit: TsUnit,
    /// Reconnect connections the server drops.
    #[arg(long)]
    pub reconnect: bool,
    /// Local source addresses, comma-separated (beyond ~28K connections per address pair the
    /// ephemeral ports run out): 127.0.0.1,127.0.0.2
    #[arg(long, value_delimiter = ',')]
    pub bind: Vec<IpAddr>,
    /// Longest a connect + upgrade (or a probe POST) may take.
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    pub timeout: Duration,
    /// Worker threads, one pinned per core (default: all cores).
    #[arg(long, value_parser = parse_count)]
    pub cores: Option<usize>,
    #[command(flatten)]
    pub shard: super::common::ShardArgs,
    #[command(flatten)]
    pub tls: super::common::TlsArgs,
    #[command(flatten)]
    pub out: super::common::OutputArgs,
    #[command(flatten)]
    pub metrics: super::metrics_listen::MetricsArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ProbeViaArg {
    Http,
    Ws,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum HeartbeatMode {
    Ws,
    App,
}

fn parse_probe_rate(s: &str) -> Result<f64, String> {
    if s.trim() == "0" {
        return Ok(0.0);
    }
    parse_rate(s)
}

/// The plan of `a`, logging in as `inline` says (a profile's own login tables) without --login.
fn build(a: &WsArgs, inline: &Inline) -> Result<WsPlan, UsageError> {
    let http_like = match (a.target.strip_prefix("ws://"), a.target.strip_prefix("wss://")) {
        (Some(rest), _) => format!("http://{rest}"),
        (_, Some(rest)) => format!("https://{rest}"),
        _ => return Err(format!("--target '{}': expected ws://host:port/path or wss://...", a.target).into()),
    };
    let target =
        HttpTarget::parse(&http_like).map_err(|e| e.replace("https://", "wss://").replace("http://", "ws://"))?;
    let scheme = if target.tls { "https" } else { "http" };
    let probe_url = a.probe_target.clone().unwrap_or_else(|| format!("{scheme}://{}/v1/messages", target.authority));
    let probe_target = HttpTarget::parse(&probe_url)?;
    if a.duration.is_zero() {
        return Err("--duration must be greater than 0".into());
    }
    if a.probe_rate > 0.0 && a.probe_rate * a.duration.as_secs_f64() < 1.0 - 1e-9 {
        // Probes are due at k / rate from the start of the hold: under one in the hold, the
        // run would send one the rate does not ask for.
        let shortest = std::time::Duration::from_secs((1.0 / a.probe_rate - 1e-9).ceil() as u64);
        return Err(format!(
            "--probe-rate {} schedules no probe in {}: run at least {} or raise the rate",
            crate::units::rate_text(a.probe_rate),
            crate::units::duration_text(a.duration),
            crate::units::duration_text(shortest)
        )
        .into());
    }
    if a.rooms > a.conns {
        return Err(format!(
            "--rooms {} is more than --conns {}: some rooms would have no subscriber",
            a.rooms, a.conns
        )
        .into());
    }
    let publish = WsTemplate::parse("--publish", &a.publish)?;
    let probe_body = WsTemplate::parse("--probe-body", &a.probe_body)?;
    let probe_template =
        if a.probe_via == ProbeViaArg::Ws { ("--publish", &publish) } else { ("--probe-body", &probe_body) };
    if a.probe_rate > 0.0 && !probe_template.1.uses("probe_id") {
        return Err(
            format!("{} must contain {{{{probe_id}}}}: receivers tell probes apart by it", probe_template.0).into()
        );
    }
    let subscribe = match a.subscribe.trim() {
        "" => None,
        text => Some(WsTemplate::parse("--subscribe", text)?),
    };
    let method = a.probe_method.trim().to_ascii_uppercase();
    if let Some(why) = crate::http::request_rules::method_problem(&method) {
        return Err(format!("--probe-method: {why}").into());
    }
    let probe_headers = ws::plan::probe_headers(&a.probe_header)?;
    let login_source = match &a.login {
        Some(path) => Some(Source::File(path)),
        None => inline.present().then_some(Source::Inline(inline)),
    };
    if login_source.is_none() && a.login_target.is_some() {
        return Err("--login-target needs --login (or a profile's [[on_start]] login)".into());
    }
    if a.login.is_none() && inline.present() && a.tokens.is_some() {
        return Err("--tokens: the profile's [[on_start]] login gives each connection its token; drop one".into());
    }
    let tokens = match &a.tokens {
        Some(path) => ws::plan::read_tokens(path)?,
        None => Vec::new(),
    };
    if let Some(t) = &a.token {
        crate::redact::secret(t);
        if t.is_empty() || t.contains(['\r', '\n']) {
            return Err("--token must be one non-empty line".into());
        }
    }
    if let Some(name) = &a.token_query {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
            return Err(format!("--token-query '{name}': expected a query parameter name such as token").into());
        }
        if a.token.is_none() && tokens.is_empty() && login_source.is_none() {
            return Err("--token-query needs --token, --tokens or --login".into());
        }
    }
    for p in [&a.probe_id_pointer, &a.probe_ts_pointer] {
        if p != "none" && !p.starts_with('/') {
            return Err(format!("'{p}' is not a JSON pointer (it must start with '/')").into());
        }
    }
    if a.probe_id_pointer == "none" {
        return Err("--probe-id-pointer must point at the probe id (probes are told apart by it)".into());
    }
    let reader = ProbeReader {
        id_pointer: a.probe_id_pointer.clone(),
        ts: (a.probe_ts_pointer != "none").then(|| (a.probe_ts_pointer.clone(), a.probe_ts_unit)),
    };
    let shard = a.shard.get();
    if a.conns < shard.count as usize {
        return Err(format!(
            "--conns {} is fewer than the {} shards: every shard needs a connection",
            a.conns, shard.count
        )
        .into());
    }
    let own = shard.share_of(a.conns as u64) as usize;
    let cores = check_cores(a.cores)?.unwrap_or_else(available_cores).min(own);
    let login_url = a.login_target.clone().unwrap_or_else(|| format!("{scheme}://{}", target.authority));
    let login_tls = login_source.is_some() && login_url.starts_with("https://");
    let tls = a.tls.client(target.tls || probe_target.tls || login_tls)?;
    let login = match login_source {
        None => None,
        Some(source) => {
            let to = ws::login_file::LoginTarget {
                url: &login_url,
                tls: tls.clone(),
                // With --login, --token-query names where the captured token goes.
                token_query: a.token_query.as_deref(),
                timeout: a.timeout,
            };
            Some(std::sync::Arc::new(ws::login_file::load(source, to)?))
        }
    };
    // With --login the connections' auth is the login's; --token stays the probes'.
    let query = a.token_query.clone().filter(|_| login.is_none());
    Ok(WsPlan {
        target,
        probe_target,
        probe_via: match a.probe_via {
            ProbeViaArg::Http => ws::ProbeVia::Http,
            ProbeViaArg::Ws => ws::ProbeVia::Ws,
        },
        publish,
        probe_body,
        probe_method: method,
        probe_headers,
        conns: a.conns,
        cores,
        connect_rate: a.connect_rate,
        duration: a.duration,
        probe_rate: a.probe_rate,
        heartbeat: (!a.heartbeat.is_zero()).then_some(a.heartbeat),
        app_heartbeat: a.heartbeat_mode == HeartbeatMode::App,
        rooms: a.rooms as u32,
        auth: WsAuth { token: a.token.clone(), tokens: std::sync::Arc::new(tokens), query },
        timeout: a.timeout,
        reconnect: a.reconnect,
        bind: ws::plan::local_addresses(&a.bind)?,
        subscribe,
        subscribe_ack: (a.subscribe_ack != "none").then(|| a.subscribe_ack.clone()),
        reader,
        drain: Duration::from_secs(1),
        pin: !a.out.no_pin,
        shard,
        start_at: a.shard.start_at,
        tls,
        login,
    })
}

/// `blast ws` as the driver runs it: its flags, and a profile's login tables (empty for none).
pub struct WsCommand(pub WsArgs, pub Inline);

/// What the ws live views keep between seconds: the plan and the last second's counters.
pub struct WsWatch {
    plan: WsPlan,
    last: LastSecond,
}

impl driver::Workload for WsCommand {
    type Run = WsPlan;
    type Live<'a> = crate::engine::live::Live;
    type Watch = WsWatch;
    type Outcome = ws::WsOutcome;
    type Summary = WsSummary;

    fn shared_flags(&self) -> (&super::common::OutputArgs, &super::metrics_listen::MetricsArgs) {
        (&self.0.out, &self.0.metrics)
    }

    fn prepare(&self) -> Result<WsPlan, UsageError> {
        build(&self.0, &self.1)
    }

    fn metric_names(_plan: &WsPlan) -> Vec<String> {
        crate::report::ws::metric_names()
    }

    fn preflight(plan: &WsPlan) -> Result<(), UsageError> {
        // Per connection one socket; plus the probe connection, the runtime and some slack.
        crate::sys::ensure_fds(plan.own_conns() + 64).map_err(|e| format!("--conns {}: {e}", plan.conns))?;
        Ok(())
    }

    fn announce(plan: &WsPlan) -> Option<String> {
        Some(format!(
            "blast ws: opening {} connections at {:.0}/s, then holding them for {:.0}s",
            plan.own_conns(),
            plan.connect_rate,
            plan.duration.as_secs_f64()
        ))
    }

    fn length(plan: &WsPlan) -> Option<Duration> {
        Some(ramp_of(plan) + plan.duration)
    }

    fn watch(plan: &WsPlan) -> WsWatch {
        WsWatch { plan: plan.clone(), last: LastSecond::new(2) }
    }

    fn second(w: &mut WsWatch, live: &crate::engine::live::Live, metrics: Option<&mut LiveMetrics>) -> Reading {
        let sum = |i| live.sum(i);
        if let Some(m) = metrics {
            m.ws(sum(ws::LIVE_OPEN), sum(ws::LIVE_DELIVERED), sum(ws::LIVE_DROPPED), sum(ws::LIVE_FAILED));
        }
        let (open, failed) = (live.sum(ws::LIVE_OPEN), live.sum(ws::LIVE_FAILED));
        let delivered = live.sum(ws::LIVE_DELIVERED);
        // Connections settled (open, failed or dropped since) and deliveries, per second.
        let settled = open + failed + live.sum(ws::LIVE_DROPPED);
        let [connects, deliveries] = w.last.per_second(&[settled, delivered])[..] else { return Reading::default() };
        let ramping = settled < w.plan.own_conns() as u64;
        let rate = if ramping {
            Rate { target: Some(w.plan.connect_rate), achieved: connects, unit: "conn/s" }
        } else {
            Rate { target: None, achieved: deliveries, unit: "deliveries/s" }
        };
        let cpu_unit = if ramping { (connects, "conn") } else { (deliveries, "msg") };
        Reading {
            phase: Some(if ramping { "ramp" } else { "hold" }),
            rate,
            p99_ms: w.last.p99_ms(live),
            errors: vec![("failed connects".into(), failed), ("dropped".into(), live.sum(ws::LIVE_DROPPED))],
            more: Some(format!("open {open} of {}, delivered {delivered}", w.plan.own_conns())),
            cpu: Some(crate::report::cpu::live_line(&live.cpu(), Some(cpu_unit))),
            ..Reading::default()
        }
    }

    fn detail(w: &WsWatch, _live: &crate::engine::live::Live) -> crate::report::live_view::Detail {
        w.last.detail("Delivery latency")
    }

    fn execute(
        plan: &mut WsPlan,
        stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
        each_second: impl FnMut(&crate::engine::live::Live),
    ) -> Result<ws::WsOutcome, UsageError> {
        Ok(ws::run(plan, stop, each_second)?)
    }

    fn notice(_plan: &WsPlan, _outcome: &ws::WsOutcome, summary: &WsSummary) -> Option<String> {
        // Fail fast: the run stopped at the end of the ramp; the report says the same.
        crate::report::ws::all_failed(&summary.raw).map(|line| format!("blast ws: {line}"))
    }

    fn summary(plan: &WsPlan, outcome: &ws::WsOutcome) -> WsSummary {
        WsSummary::build(plan, outcome)
    }

    fn merge(shards: &[driver::ShardJson<'_>]) -> Result<WsSummary, UsageError> {
        Ok(WsSummary::from_raw(crate::workloads::ws::raw::merge(driver::raws(shards)?)?))
    }

    fn merged_metric_names(_summary: &WsSummary) -> Vec<String> {
        crate::report::ws::metric_names()
    }
}

/// How long opening every connection takes at the connect rate.
fn ramp_of(plan: &WsPlan) -> Duration {
    Duration::from_secs_f64(plan.own_conns() as f64 / plan.connect_rate.max(1e-9))
}
