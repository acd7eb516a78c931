//! The report of a `blast ws` run: connections, fan-out delivery and heartbeats.

use crate::report::csv::{FailureRow, HistoryRow, StatRow};
use crate::report::html::{self, Chart, Page, Series};
use crate::report::metrics::{self, Metric, Metrics};
use crate::report::raw::ws::{MergedWs, RawWs};
use crate::report::series::{per_second, SeriesSecond};
use crate::report::summary::Percentiles;
use crate::workloads::ws::tally::account;
use crate::workloads::ws::{WsOutcome, WsPlan};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;

#[derive(Debug, Serialize)]
pub struct WsConnections {
    pub planned: usize,
    pub attempted: u64,
    pub established: u64,
    pub failed: BTreeMap<String, u64>,
    /// Established connections that the server closed or lost mid-run.
    pub dropped: u64,
    pub reconnects: u64,
    pub open_peak: u64,
    /// established / planned, in percent.
    pub success_pct: f64,
}

#[derive(Debug, Serialize)]
pub struct WsProbes {
    pub sent: u64,
    pub failed_to_send: u64,
    pub expected_deliveries: u64,
    pub delivered: u64,
    pub missing: u64,
    pub duplicates: u64,
    pub unexpected: u64,
    pub complete_probes: u64,
}

#[derive(Debug, Serialize)]
pub struct WsSummary {
    pub workload: String,
    pub target: String,
    pub plan: WsPlanInfo,
    pub started_at_unix: f64,
    pub ramp_s: f64,
    pub hold_s: f64,
    pub interrupted: bool,
    pub connections: WsConnections,
    pub connect_ms: Percentiles,
    pub probes: WsProbes,
    /// Per recipient: probe send until this subscriber received it.
    pub delivery_ms: Percentiles,
    /// Per probe: send until the last expected subscriber received it.
    pub probe_completion_ms: Percentiles,
    pub heartbeats_sent: u64,
    pub heartbeats_answered: u64,
    pub heartbeat_rtt_ms: Percentiles,
    pub messages_received: u64,
    /// Peak resident memory of the blast process, MiB.
    pub peak_rss_mib: f64,
    pub warnings: Vec<String>,
    /// Deliveries per wall-clock second of receipt, with their latency.
    pub timeline: Vec<SeriesSecond>,
    /// The same with cumulative figures, for `_stats_history.csv`.
    #[serde(skip)]
    pub history: Vec<HistoryRow>,
    /// Every histogram and record, for exact merging of shards (`blast merge`).
    pub raw: RawWs,
}

/// The plan as reports show it; `conns` is the whole run's even in a shard's report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WsPlanInfo {
    pub conns: usize,
    pub cores: usize,
    pub connect_rate: f64,
    pub duration_s: f64,
    pub probe_rate: f64,
    pub rooms: u32,
    pub heartbeat_s: Option<f64>,
    /// `I/N` when this run is one shard of a larger one.
    pub shard: Option<String>,
}

impl WsPlanInfo {
    pub fn of(plan: &WsPlan) -> Self {
        WsPlanInfo {
            conns: plan.conns,
            cores: plan.cores,
            connect_rate: plan.connect_rate,
            duration_s: plan.duration.as_secs_f64(),
            probe_rate: plan.probe_rate,
            rooms: plan.rooms,
            heartbeat_s: plan.heartbeat.map(|h| h.as_secs_f64()),
            shard: (plan.shard.1 > 1).then(|| format!("{}/{}", plan.shard.0, plan.shard.1)),
        }
    }
}

impl WsSummary {
    pub fn build(plan: &WsPlan, run: &WsOutcome) -> WsSummary {
        let scheme = if plan.target.tls { "wss" } else { "ws" };
        let target = format!("{scheme}://{}{}", plan.target.authority, plan.target.path);
        let info = WsPlanInfo::of(plan);
        let raw = RawWs::of(&target, &info, plan.shard, plan.own_conns() as u64, run, crate::sys::peak_rss_mib());
        Self::from_raw(raw, run)
    }

    /// The report of a merged sharded run.
    pub fn merged(m: MergedWs) -> WsSummary {
        let raw = RawWs::of(&m.target, &m.plan, (0, 1), m.planned, &m.outcome, m.peak_rss_mib);
        Self::from_raw(raw, &m.outcome)
    }

    fn from_raw(raw: RawWs, run: &WsOutcome) -> WsSummary {
        let t = &run.tally;
        let planned = raw.planned;
        let (timeline, history) = per_second(&t.delivery_per_second, "WS", "delivery", t.established);
        let d = account(t);
        let mut warnings = Vec::new();
        if let Some(n) = t.failed.get("no_ephemeral_ports") {
            warnings.push(format!("{n} connections failed for lack of ephemeral ports: add source addresses with --bind 127.0.0.1,127.0.0.2,..."));
        }
        if let Some(&n) = t.failed.get("tls_handshake") {
            warnings.push(crate::report::tls_warning(n));
        }
        if let Some(n) = t.failed.get("fd_limit") {
            warnings.push(format!("{n} connections failed at the file descriptor limit (ulimit -n)"));
        }
        if d.missing > 0 {
            warnings.push(format!("{} of {} expected deliveries never arrived", d.missing, d.expected));
        }
        if t.duplicates > 0 {
            warnings.push(format!("{} probes were delivered more than once to the same connection", t.duplicates));
        }
        WsSummary {
            workload: "ws".into(),
            target: raw.target.clone(),
            plan: raw.plan.clone(),
            started_at_unix: run.started_at.duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64()),
            ramp_s: run.ramp_secs,
            hold_s: run.hold_secs,
            interrupted: run.interrupted,
            connections: WsConnections {
                planned: planned as usize,
                attempted: t.attempted,
                established: t.established,
                failed: t.failed.clone(),
                dropped: t.dropped,
                reconnects: t.reconnects,
                open_peak: t.open_peak,
                success_pct: 100.0 * t.established.min(planned) as f64 / planned.max(1) as f64,
            },
            connect_ms: Percentiles::of(&t.connect),
            probes: WsProbes {
                sent: t.probes.len() as u64,
                failed_to_send: t.probe_failures,
                expected_deliveries: d.expected,
                delivered: d.delivered,
                missing: d.missing,
                duplicates: t.duplicates,
                unexpected: d.unexpected,
                complete_probes: d.complete_probes,
            },
            delivery_ms: Percentiles::of(&t.delivery),
            probe_completion_ms: Percentiles::of(&d.completion),
            heartbeats_sent: t.heartbeats_sent,
            heartbeats_answered: t.heartbeats_answered,
            heartbeat_rtt_ms: Percentiles::of(&t.heartbeat_rtt),
            messages_received: t.messages_received,
            peak_rss_mib: raw.peak_rss_mib,
            warnings,
            timeline,
            history,
            raw,
        }
    }
}

impl crate::report::Report for WsSummary {
    /// Every planned connection held to the end, every probe delivered exactly once.
    fn clean(&self) -> bool {
        let c = &self.connections;
        let p = &self.probes;
        !self.interrupted
            && c.failed.is_empty()
            && c.dropped == 0
            && c.established >= c.planned as u64
            && p.missing == 0
            && p.duplicates == 0
            && p.failed_to_send == 0
    }

    fn render(&self) -> String {
        let mut o = String::new();
        let c = &self.connections;
        let p = &self.probes;
        let _ = writeln!(o, "blast ws -> {}", self.target);
        let _ = writeln!(
            o,
            "  plan        {} connections over {} cores at {:.0}/s, {} rooms, probes {}/s for {:.1}s{}",
            self.plan.conns,
            self.plan.cores,
            self.plan.connect_rate,
            self.plan.rooms,
            self.plan.probe_rate,
            self.plan.duration_s,
            match &self.plan.shard {
                Some(shard) => format!(
                    "; shard {shard}: {} connections here (deliveries are accounted over all shards by `blast merge`)",
                    c.planned
                ),
                None => String::new(),
            }
        );
        let failed: Vec<String> = c.failed.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        let _ = writeln!(
            o,
            "  connections {} established of {} ({:.2}%) in {:.2}s, {} attempts, failed: {}, dropped {}, reconnects {}, peak open {}",
            c.established,
            c.planned,
            c.success_pct,
            self.ramp_s,
            c.attempted,
            if failed.is_empty() { "none".into() } else { failed.join(", ") },
            c.dropped,
            c.reconnects,
            c.open_peak
        );
        let _ = writeln!(
            o,
            "  probes      {} sent ({} failed), deliveries {}/{} expected, missing {}, duplicates {}, unexpected {}, complete probes {}",
            p.sent, p.failed_to_send, p.delivered, p.expected_deliveries, p.missing, p.duplicates, p.unexpected, p.complete_probes
        );
        let _ = writeln!(
            o,
            "  heartbeats  {} sent, {} answered; {} messages received; peak RSS {:.1} MiB",
            self.heartbeats_sent, self.heartbeats_answered, self.messages_received, self.peak_rss_mib
        );
        let rows = [
            ("delivery (per recipient)", &self.delivery_ms),
            ("probe completion", &self.probe_completion_ms),
            ("connect + upgrade", &self.connect_ms),
            ("heartbeat rtt", &self.heartbeat_rtt_ms),
        ];
        crate::report::text::latency_table_and_warnings(&mut o, &rows, 9, 3, &self.warnings);
        o
    }

    fn interrupted(&self) -> bool {
        self.interrupted
    }

    fn metrics(&self) -> Metrics {
        let mut m = Metrics::new();
        metrics::latency(&mut m, "", &self.delivery_ms);
        metrics::latency(&mut m, "completion_", &self.probe_completion_ms);
        metrics::latency(&mut m, "connect_", &self.connect_ms);
        metrics::latency(&mut m, "heartbeat_", &self.heartbeat_rtt_ms);
        let p = &self.probes;
        let errors = if p.expected_deliveries == 0 {
            0.0
        } else {
            100.0 * (p.missing + p.duplicates) as f64 / p.expected_deliveries as f64
        };
        m.insert("errors".into(), Metric::pct_low(errors));
        m.insert("success".into(), Metric::pct_high(self.connections.success_pct));
        m.insert("drops".into(), Metric::count_low(self.connections.dropped as f64));
        m
    }

    fn stats(&self) -> Vec<StatRow> {
        let p = &self.probes;
        let c = &self.connections;
        let secs = self.hold_s.max(1e-9);
        let failed_conns: u64 = c.failed.values().sum();
        let delivery = StatRow {
            kind: "WS".into(),
            name: "delivery".into(),
            requests: p.delivered + p.missing,
            failures: p.missing + p.duplicates,
            latency: self.delivery_ms.clone(),
            avg_content_size: 0.0,
            secs,
        };
        vec![
            delivery.clone(),
            StatRow {
                name: "connect".into(),
                requests: c.attempted,
                failures: failed_conns + c.dropped,
                latency: self.connect_ms.clone(),
                secs: self.ramp_s.max(1e-9),
                ..delivery.clone()
            },
            StatRow {
                name: "heartbeat".into(),
                requests: self.heartbeats_sent,
                failures: self.heartbeats_sent.saturating_sub(self.heartbeats_answered),
                latency: self.heartbeat_rtt_ms.clone(),
                ..delivery.clone()
            },
            StatRow { kind: String::new(), name: "Aggregated".into(), ..delivery },
        ]
    }

    /// Deliveries per second (received in it, latency of those), and cumulative; a run without
    /// deliveries has one whole-run row.
    fn history(&self) -> Vec<HistoryRow> {
        if !self.history.is_empty() {
            return self.history.clone();
        }
        let row = self.stats().remove(0);
        vec![HistoryRow {
            timestamp: self.started_at_unix as u64,
            users: self.connections.open_peak,
            interval: row.clone(),
            total: row,
        }]
    }

    fn failures(&self) -> Vec<FailureRow> {
        let mut rows: Vec<FailureRow> = self
            .connections
            .failed
            .iter()
            .map(|(k, &n)| FailureRow { method: "WS".into(), name: "connect".into(), error: k.clone(), occurrences: n })
            .collect();
        for (name, error, n) in [
            ("connect", "dropped by the server", self.connections.dropped),
            ("delivery", "missing", self.probes.missing),
            ("delivery", "duplicate", self.probes.duplicates),
            ("probe", "publish failed", self.probes.failed_to_send),
        ] {
            if n > 0 {
                rows.push(FailureRow { method: "WS".into(), name: name.into(), error: error.into(), occurrences: n });
            }
        }
        rows
    }

    fn page(&self) -> Page {
        let p = &self.probes;
        let t0 = self.started_at_unix.floor();
        let per_s = |f: &dyn Fn(&SeriesSecond) -> f64| -> Vec<(f64, f64)> {
            self.timeline.iter().map(|s| (s.unix as f64 - t0, f(s))).collect()
        };
        Page {
            title: format!("blast ws -> {}", self.target),
            headline: vec![
                ("connections".into(), format!("{} / {}", self.connections.established, self.connections.planned)),
                ("deliveries".into(), format!("{} / {}", p.delivered, p.expected_deliveries)),
                ("delivery p99".into(), format!("{:.2} ms", self.delivery_ms.p99)),
                ("probe completion p99".into(), format!("{:.2} ms", self.probe_completion_ms.p99)),
                ("dropped".into(), self.connections.dropped.to_string()),
            ],
            charts: vec![
                Chart {
                    title: "Deliveries per second".into(),
                    x_label: "seconds since start".into(),
                    y_label: "deliveries/s".into(),
                    series: vec![Series { name: "delivered".into(), points: per_s(&|s| s.count as f64) }],
                    spectrum: false,
                },
                Chart {
                    title: "Delivery latency per second (per recipient)".into(),
                    x_label: "seconds since start".into(),
                    y_label: "ms".into(),
                    series: vec![
                        Series { name: "p50".into(), points: per_s(&|s| s.latency_ms.p50) },
                        Series { name: "p99".into(), points: per_s(&|s| s.latency_ms.p99) },
                        Series { name: "max".into(), points: per_s(&|s| s.latency_ms.max) },
                    ],
                    spectrum: false,
                },
                Chart {
                    title: "Latency distribution (percentile spectrum)".into(),
                    x_label: "percentile".into(),
                    y_label: "ms".into(),
                    series: vec![
                        Series { name: "delivery (per recipient)".into(), points: html::spectrum(&self.delivery_ms) },
                        Series { name: "probe completion".into(), points: html::spectrum(&self.probe_completion_ms) },
                        Series { name: "connect + upgrade".into(), points: html::spectrum(&self.connect_ms) },
                    ],
                    spectrum: true,
                },
            ],
            tables: vec![html::latency_table(
                "Latency (ms)",
                &[
                    ("delivery (per recipient)", &self.delivery_ms),
                    ("probe completion", &self.probe_completion_ms),
                    ("connect + upgrade", &self.connect_ms),
                    ("heartbeat rtt", &self.heartbeat_rtt_ms),
                ],
            )],
            params: vec![
                ("target".into(), self.target.clone()),
                (
                    "connections".into(),
                    format!("{} at {}/s over {} cores", self.plan.conns, self.plan.connect_rate, self.plan.cores),
                ),
                ("rooms".into(), self.plan.rooms.to_string()),
                ("probes".into(), format!("{}/s for {} s", self.plan.probe_rate, self.plan.duration_s)),
            ],
            warnings: self.warnings.clone(),
            verdicts: Vec::new(),
        }
    }
}

/// Figures `blast ws` reports, for checking `--sla` names before a run.
pub fn metric_names() -> Vec<String> {
    metrics::names(&["", "completion_", "connect_", "heartbeat_"], &["errors", "success", "drops"])
}
