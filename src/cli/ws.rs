//! `blast ws`: flags -> plan -> run -> report.

use super::common::{available_cores, UsageError};
use super::progress::{Deltas, Progress, Rate, Reading};
use crate::http::HttpTarget;
use crate::report::ws::WsSummary;
use crate::units::{parse_count, parse_duration, parse_rate};
use crate::workloads::ws::{self, WsPlan};
use clap::Args;
use std::net::IpAddr;
use std::process::ExitCode;
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
    /// Where probes are POSTed (default: http://<target host>/v1/messages).
    #[arg(long)]
    pub probe_target: Option<String>,
    /// How probes are published: an HTTP POST (http) or a text frame sent on a WebSocket
    /// connection of blast's own that subscribes to nothing (ws).
    #[arg(long, value_enum, default_value = "http")]
    pub probe_via: ProbeViaArg,
    /// Probe frame for --probe-via ws; {{room}}, {{probe_id}} and {{sent_at_us}} are replaced.
    #[arg(
        long,
        default_value = r#"{"type":"publish","conversation_id":"{{room}}","probe_id":{{probe_id}},"sent_at_us":{{sent_at_us}}}"#
    )]
    pub publish: String,
    /// Conversations; connections are spread evenly, so fan-out width is conns/rooms.
    #[arg(long, value_parser = parse_count, default_value = "1")]
    pub rooms: usize,
    /// WebSocket ping interval (0s for none); the pong round trip is recorded.
    #[arg(long, value_parser = parse_duration, default_value = "15s")]
    pub heartbeat: Duration,
    /// Heartbeat as WebSocket ping frames (ws) or {"type":"ping"} text messages (app).
    #[arg(long, value_enum, default_value = "ws")]
    pub heartbeat_mode: HeartbeatMode,
    /// Bearer token sent with the upgrade request (never printed).
    #[arg(long)]
    pub token: Option<String>,
    /// Subscribe message; {{room}} becomes the conversation id.
    #[arg(long, default_value = r#"{"type":"subscribe","conversation_id":"{{room}}"}"#)]
    pub subscribe: String,
    /// JSON pointer to the probe id in a received message.
    #[arg(long, default_value = "/probe_id")]
    pub probe_id_pointer: String,
    /// JSON pointer to the probe's send time (µs since the Unix epoch) in a received message.
    #[arg(long, default_value = "/sent_at_us")]
    pub probe_ts_pointer: String,
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

fn build(a: &WsArgs) -> Result<WsPlan, UsageError> {
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
    if a.rooms > a.conns {
        return Err(format!(
            "--rooms {} is more than --conns {}: some rooms would have no subscriber",
            a.rooms, a.conns
        )
        .into());
    }
    for field in ["{{room}}", "{{probe_id}}", "{{sent_at_us}}"] {
        if a.probe_via == ProbeViaArg::Ws && !a.publish.contains(field) {
            return Err(format!("--publish must contain {field}").into());
        }
    }
    if !a.subscribe.contains("{{room}}") {
        return Err("--subscribe must contain {{room}}".into());
    }
    for p in [&a.probe_id_pointer, &a.probe_ts_pointer] {
        if !p.starts_with('/') {
            return Err(format!("'{p}' is not a JSON pointer (it must start with '/')").into());
        }
    }
    let shard = a.shard.get();
    if a.conns < shard.1 as usize {
        return Err(format!(
            "--conns {} is fewer than the {} shards: every shard needs a connection",
            a.conns, shard.1
        )
        .into());
    }
    let own = crate::engine::shard_share(a.conns as u64, shard) as usize;
    let cores = a.cores.unwrap_or_else(available_cores).min(own);
    let tls = a.tls.client(target.tls || probe_target.tls)?;
    Ok(WsPlan {
        target,
        probe_target,
        probe_via: match a.probe_via {
            ProbeViaArg::Http => ws::ProbeVia::Http,
            ProbeViaArg::Ws => ws::ProbeVia::Ws,
        },
        publish_template: a.publish.clone(),
        conns: a.conns,
        cores,
        connect_rate: a.connect_rate,
        duration: a.duration,
        probe_rate: a.probe_rate,
        heartbeat: (!a.heartbeat.is_zero()).then_some(a.heartbeat),
        app_heartbeat: a.heartbeat_mode == HeartbeatMode::App,
        rooms: a.rooms as u32,
        token: a.token.clone(),
        timeout: a.timeout,
        reconnect: a.reconnect,
        bind: a.bind.clone(),
        subscribe_template: a.subscribe.clone(),
        probe_id_pointer: a.probe_id_pointer.clone(),
        probe_ts_pointer: a.probe_ts_pointer.clone(),
        drain: Duration::from_secs(1),
        pin: !a.out.no_pin,
        shard,
        start_at: a.shard.start_at,
        tls,
    })
}

/// Validates the flags, `--sla` included, without running (`blast run --dry-run`).
pub fn check(args: &WsArgs) -> Result<(), UsageError> {
    build(args)?;
    args.out.sla_targets(&crate::report::ws::metric_names()).map(|_| ())
}

pub fn run(args: WsArgs) -> Result<ExitCode, UsageError> {
    let plan = build(&args)?;
    // Per connection one socket; plus the probe connection, the runtime and some slack.
    crate::sys::ensure_fds(plan.own_conns() + 64).map_err(|e| format!("--conns {}: {e}", args.conns))?;
    let sla = args.out.check(&crate::report::ws::metric_names())?;
    let stop = super::common::stop_on_signals();
    if !args.out.quiet {
        eprintln!(
            "blast ws: opening {} connections at {:.0}/s, then holding them for {:.0}s",
            plan.own_conns(),
            plan.connect_rate,
            plan.duration.as_secs_f64()
        );
    }
    let ramp = std::time::Duration::from_secs_f64(plan.own_conns() as f64 / plan.connect_rate.max(1e-9));
    let mut progress = Progress::new(args.out.quiet, Some(ramp + plan.duration));
    let (mut deltas, mut latencies) = (Deltas::new(2), Default::default());
    let outcome = ws::run(&plan, stop, |live| {
        let (open, failed) = (live.sum(ws::LIVE_OPEN), live.sum(ws::LIVE_FAILED));
        let delivered = live.sum(ws::LIVE_DELIVERED);
        // Connections settled (open, failed or dropped since) and deliveries, per second.
        let settled = open + failed + live.sum(ws::LIVE_DROPPED);
        let [connects, deliveries] = deltas.per_second(&[settled, delivered])[..] else { return };
        let ramping = settled < plan.own_conns() as u64;
        let now = live.latencies();
        let last_second = now.since(&latencies);
        latencies = now;
        let rate = if ramping {
            Rate { target: Some(plan.connect_rate), achieved: connects, unit: "conn/s" }
        } else {
            Rate { target: None, achieved: deliveries, unit: "deliveries/s" }
        };
        let cpu_unit = if ramping { (connects, "conn") } else { (deliveries, "msg") };
        progress.update(&Reading {
            phase: Some(if ramping { "ramp" } else { "hold" }),
            rate,
            p99_ms: last_second.quantile_us(0.99).map(|us| us as f64 / 1000.0),
            errors: vec![("failed connects".into(), failed), ("dropped".into(), live.sum(ws::LIVE_DROPPED))],
            more: Some(format!("open {open} of {}, delivered {delivered}", plan.own_conns())),
            cpu: Some(crate::report::cpu::live_line(&live.cpu(), Some(cpu_unit))),
            ..Reading::default()
        })
    })?;
    progress.finish();
    let summary = WsSummary::build(&plan, &outcome);
    args.out.write_hdr_log(&summary)?;
    args.out.finish(&summary, sla.as_deref())
}
