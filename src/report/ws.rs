//! The report of a `blast ws` run (`WsSummary`): connections, subscriptions, fan-out delivery
//! and heartbeats, as JSON figures, headline lines, and rows `delivery`, `connect`, `heartbeat`;
//! its accounting identities, and whether its delivery figures rest on any evidence (`evidence`).

use crate::civil_time::from_unix_ns;
use crate::engine::cpu::RunCpu;
use crate::engine::recorder::histogram;
use crate::engine::ConnectFailure;
use crate::report::cpu::BlastCpu;
use crate::report::html::{Chart, Heatmap, Page, Unit};
use crate::report::identity::{self, Identity};
use crate::report::metrics::{self, Metric, Metrics};
use crate::report::model::{self, FailureRow, HistoryRow, Latency, Measurements, Percentiles, SeriesSecond, StatRow};
use crate::report::{hdr, text, unix_secs, Report};
use crate::workloads::ws::raw::{RawWs, WsPlanInfo};
use crate::workloads::ws::tally::account;
use crate::workloads::ws::{WsOutcome, WsPlan};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

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

/// `--login`: each connection's HTTP login before its upgrade, and the logins again after an
/// auth refusal.
#[derive(Debug, Serialize)]
pub struct WsLogins {
    /// Where the login went.
    pub target: String,
    /// Logins that succeeded (every connection's first, then the relogins).
    pub ok: u64,
    /// Of those, logins again after a refused upgrade or an auth close.
    pub relogins: u64,
    /// Also of those: logins again of a user an HTTP probe was sent as, after the target
    /// refused the probe (401, 403; the probe was sent again once).
    pub probe_relogins: u64,
    /// Failed logins by reason (`http_401`, `capture_missing`, `connect_refused`, ...).
    pub failed: BTreeMap<String, u64>,
    /// Upgrades refused with 401 or 403 that a new login retried.
    pub upgrades_refused: u64,
    /// Connections the server closed for auth (4401, 1008) that logged in again.
    pub auth_closes: u64,
}

/// Subscriptions, one per established connection (reconnections included).
#[derive(Debug, Serialize)]
pub struct WsSubscriptions {
    /// The `type` of the acknowledgement awaited (`--subscribe-ack`); none: a connection is
    /// subscribed once its subscribe message is written (or from its upgrade, without one).
    pub ack: Option<String>,
    /// Acknowledged (or, with no ack awaited, written).
    pub confirmed: u64,
    /// Never acknowledged: such a connection expects no probe.
    pub unconfirmed: u64,
    /// From the start until every connection was subscribed or had failed.
    pub settled_s: f64,
}

#[derive(Debug, Serialize)]
pub struct WsProbes {
    pub sent: u64,
    pub failed_to_send: u64,
    /// Failed probes by reason (`http_401`, `refused`, `timeout`, `closed`, ...).
    pub failed_by_reason: BTreeMap<String, u64>,
    /// Times the HTTP probe connection was opened again (the target closed it, or it failed).
    pub reconnects: u64,
    pub expected_deliveries: u64,
    pub delivered: u64,
    pub missing: u64,
    pub duplicates: u64,
    /// Receipts of a probe beyond the connections that were subscribed to its room when it
    /// was sent, or of a probe id blast did not send (`UNEXPECTED`).
    pub unexpected: u64,
    pub complete_probes: u64,
    /// Probes sent in the last second before an interruption that had not reached everyone:
    /// only their deliveries that arrived are counted (the rest were cut off, not lost).
    pub cut_off_by_interruption: u64,
    /// Deliveries on their way when the server closed a connection for auth (4401, 1008):
    /// probes sent in the last second before the close that it never received, not expected
    /// (`--login`; a probe sent while a connection logs in again is not expected from it).
    pub cut_off_by_auth_close: u64,
    /// Received text messages that carried no probe (nor a subscription ack or pong).
    pub other_messages: u64,
    /// Probe receipts (each probe's first on a connection) timed from blast's own send instant
    /// of the probe, recognised by its id.
    pub timed_from_send_instant: u64,
    /// Probe receipts timed from the send time the message carries (the probe was sent by another
    /// shard's process, whose send instants are not known here).
    pub timed_from_message_time: u64,
    /// `--probe-ts-unit`'s resolution when deliveries were timed from a coarse message time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_time_resolution: Option<String>,
}

/// What the report calls an unexpected delivery (also in the README).
pub const UNEXPECTED: &str = "unexpected = receipts of a probe by a connection that was not subscribed to its room when it was sent, or of a probe id blast did not send; other messages = received messages that carried no probe";

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
    /// `--login`'s counts (absent without it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logins: Option<WsLogins>,
    pub subscriptions: WsSubscriptions,
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
    /// blast's own CPU (its worker cores, per-thread rusage): per delivered message (per
    /// established connection when none were delivered), each core's busy share, for the run
    /// and second by second. Merged: every shard's cores (absent when a shard's report carries none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blast_cpu: Option<BlastCpu>,
    /// blast's cores were saturated: the figures include its own delay.
    pub generator_bound: bool,
    /// The accounting identities, as checked when the report was built.
    pub identities: Vec<Identity>,
    /// Why the delivery figures rest on no evidence (probes sent and no delivery recognised,
    /// or no subscription confirmed): the delivery SLAs fail and the run exits 1.
    pub no_evidence: Option<String>,
    pub warnings: Vec<String>,
    /// Deliveries per wall-clock second of receipt, with their latency.
    pub timeline: Vec<SeriesSecond>,
    /// The rows every format renders.
    #[serde(skip)]
    pub measurements: Measurements,
    /// Every histogram and record, for exact merging of shards (`blast merge`).
    pub raw: RawWs,
}

impl WsSummary {
    pub fn build(plan: &WsPlan, run: &WsOutcome) -> WsSummary {
        let scheme = if plan.target.tls { "wss" } else { "ws" };
        let target = format!("{scheme}://{}{}", plan.target.authority, plan.target.path);
        let info = WsPlanInfo::of(plan);
        Self::from_raw(RawWs::of(&target, &info, plan.shard, plan.own_conns() as u64, run, crate::sys::peak_rss_mib()))
    }

    /// blast's CPU over the run, and the verdict on it.
    fn judge_cpu(&mut self, cpu: &RunCpu) {
        let unit = match self.probes.delivered {
            0 => ("connection", self.connections.established as f64),
            n => ("message", n as f64),
        };
        self.blast_cpu = BlastCpu::of(cpu, 0, unit, |_| None);
        let v = crate::report::bottleneck::on_cpu(self.blast_cpu.as_ref());
        self.generator_bound = v.generator_bound;
        self.warnings.extend(v.warnings);
    }

    /// The report of a run's raw measurements (a run's own, or its shards' merged).
    pub fn from_raw(mut raw: RawWs) -> WsSummary {
        raw.tally.resolve();
        let t = &raw.tally;
        let planned = raw.planned;
        let d = account(t);
        let (confirmed, unconfirmed) = t.subscriptions();
        let identities = vec![
            Identity::check("expected deliveries", d.expected, &[("delivered", d.delivered), ("missing", d.missing)]),
            Identity::check(
                "established connections",
                t.established,
                &[("subscriptions confirmed", confirmed), ("unconfirmed", unconfirmed)],
            ),
        ];
        let no_evidence = evidence(&raw, &d, confirmed);
        let mut warnings: Vec<String> = identities.iter().filter_map(Identity::warning).collect();
        warnings.extend(no_evidence.iter().cloned());
        warnings.extend(diagnose(&raw, (confirmed, unconfirmed)));
        if let Some(n) = t.failed.get(ConnectFailure::NoEphemeralPorts.name()) {
            warnings.push(format!("{n} connections failed ({})", ConnectFailure::NoEphemeralPorts.explained()));
        }
        if let Some(&n) = t.failed.get("tls_handshake") {
            warnings.push(crate::report::tls_warning(n));
        }
        if let Some(n) = t.failed.get(ConnectFailure::FdLimit.name()) {
            warnings.push(format!("{n} connections failed ({})", ConnectFailure::FdLimit.explained()));
        }
        if d.missing > 0 && no_evidence.is_none() {
            warnings.push(format!("{} of {} expected deliveries never arrived", d.missing, d.expected));
        }
        if raw.interrupted {
            warnings.push(format!(
                "interrupted after {:.1} s of {:.1} s held: {} probes sent in the last second before the interruption are counted only for the deliveries that arrived",
                raw.hold_secs, raw.plan.duration_s, d.cut_off_probes
            ));
        }
        if t.duplicates > 0 {
            warnings.push(format!("{} probes were delivered more than once to the same connection", t.duplicates));
        }
        let mut s = WsSummary {
            workload: "ws".into(),
            target: raw.target.clone(),
            plan: raw.plan.clone(),
            started_at_unix: unix_secs(from_unix_ns(raw.started_at_unix_ns)),
            ramp_s: raw.ramp_secs,
            hold_s: raw.hold_secs,
            interrupted: raw.interrupted,
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
            logins: raw.plan.login.as_ref().map(|target| WsLogins {
                target: target.clone(),
                ok: t.logins,
                relogins: t.relogins,
                probe_relogins: t.probe_relogins,
                failed: t.login_failed.clone(),
                upgrades_refused: t.upgrades_refused,
                auth_closes: t.auth_closes,
            }),
            subscriptions: WsSubscriptions {
                ack: raw.plan.subscribe_ack.clone(),
                confirmed,
                unconfirmed,
                settled_s: raw.settled_secs,
            },
            connect_ms: Percentiles::of(&t.connect),
            probes: WsProbes {
                sent: t.probes.len() as u64,
                failed_to_send: t.probe_failures,
                failed_by_reason: t.probe_failed.clone(),
                reconnects: t.probe_reconnects,
                cut_off_by_interruption: d.cut_off_probes,
                cut_off_by_auth_close: d.cut_by_auth_close,
                other_messages: t.other_messages,
                expected_deliveries: d.expected,
                delivered: d.delivered,
                missing: d.missing,
                duplicates: t.duplicates,
                unexpected: d.unexpected,
                complete_probes: d.complete_probes,
                timed_from_send_instant: t.timed_from_send,
                timed_from_message_time: t.timed_from_message,
                message_time_resolution: raw.plan.probe_ts_resolution.clone().filter(|_| t.timed_from_message > 0),
            },
            delivery_ms: Percentiles::of(&t.delivery),
            probe_completion_ms: Percentiles::of(&d.completion),
            heartbeats_sent: t.heartbeats_sent,
            heartbeats_answered: t.heartbeats_answered,
            heartbeat_rtt_ms: Percentiles::of(&t.heartbeat_rtt),
            messages_received: t.messages_received,
            peak_rss_mib: raw.peak_rss_mib,
            blast_cpu: None,
            generator_bound: false,
            identities,
            no_evidence,
            warnings,
            timeline: Vec::new(),
            measurements: Measurements::default(),
            raw,
        };
        let t = &s.raw.tally;
        let seconds = t.delivery_per_second.seconds();
        let (timeline, history) =
            model::per_second(seconds, ("WS", "delivery", t.established), histogram(), SeriesSecond::of);
        (s.timeline, s.measurements) = (timeline, s.model(history));
        let cpu = std::mem::take(&mut s.raw.cpu);
        s.judge_cpu(&cpu);
        s.raw.cpu = cpu;
        s
    }

    /// Rows `delivery` (also `Aggregated`), `connect` and `heartbeat`; deliveries per second
    /// (a run without any has one whole-run row).
    fn model(&self, mut history: Vec<HistoryRow>) -> Measurements {
        let (p, c) = (&self.probes, &self.connections);
        let secs = self.hold_s.max(1e-9);
        let row = |name, counts, latency, secs| StatRow::new("WS", name, counts, latency, 0.0, secs);
        let delivery = row("delivery", (p.delivered + p.missing, p.missing + p.duplicates), &self.delivery_ms, secs);
        let failed_conns = c.failed.values().sum::<u64>() + c.dropped;
        let unanswered = self.heartbeats_sent.saturating_sub(self.heartbeats_answered);
        // Heartbeat rows only when heartbeats ran (`--heartbeat 0s`, or a run shorter than one).
        let heartbeats = self.heartbeats_sent > 0;
        // Each row with the identity its counts satisfy: deliveries, then connections.
        let identity = |i: usize| self.identities.get(i).cloned().into_iter().collect::<Vec<_>>();
        let delivery = StatRow { identities: identity(0), ..delivery };
        let connect = row("connect", (c.attempted, failed_conns), &self.connect_ms, self.ramp_s.max(1e-9));
        let mut rows = vec![delivery.clone(), StatRow { identities: identity(1), ..connect }];
        if heartbeats {
            rows.push(row("heartbeat", (self.heartbeats_sent, unanswered), &self.heartbeat_rtt_ms, secs));
        }
        rows.push(delivery.aggregated());
        if history.is_empty() {
            history = HistoryRow::whole_run(&delivery, self.started_at_unix as u64, c.open_peak);
        }
        let mut failures: Vec<FailureRow> =
            c.failed.iter().map(|(k, &n)| FailureRow::new("WS", "connect", k, n)).collect();
        failures.extend(p.failed_by_reason.iter().map(|(k, &n)| FailureRow::new("WS", "probe", k, n)));
        for (name, error, n) in [
            ("connect", "dropped by the server", c.dropped),
            ("delivery", "missing", p.missing),
            ("delivery", "duplicate", p.duplicates),
            ("run", "interrupted", u64::from(self.interrupted)),
        ] {
            if n > 0 {
                failures.push(FailureRow::new("WS", name, error, n));
            }
        }
        let mut latencies = vec![
            Latency::new("delivery (per recipient)", Some(""), true, &self.delivery_ms),
            Latency::new("probe completion", Some("completion_"), true, &self.probe_completion_ms),
            Latency::new("connect + upgrade", Some("connect_"), true, &self.connect_ms),
        ];
        if heartbeats {
            latencies.push(Latency::new("heartbeat rtt", Some("heartbeat_"), false, &self.heartbeat_rtt_ms));
        }
        let clock = crate::report::model::Clock::WallSeconds { end_s: self.ramp_s + self.hold_s };
        Measurements { rows, history, failures, latencies, started_at_unix: self.started_at_unix, clock }
    }
}

impl Report for WsSummary {
    fn title(&self) -> String {
        let interrupted = if self.interrupted { " (interrupted)" } else { "" };
        format!("blast ws -> {}{interrupted}", self.target)
    }

    fn measurements(&self) -> &Measurements {
        &self.measurements
    }

    fn headline(&self) -> Vec<(&'static str, String)> {
        let (c, p, plan) = (&self.connections, &self.probes, &self.plan);
        let shard = plan.shard.as_ref().map_or(String::new(), |shard| {
            let here = c.planned;
            format!(
                "; shard {shard}: {here} connections here (deliveries are accounted over all shards by `blast merge`)"
            )
        });
        // Rates as written (`30/min`, `10/h`): under 1/s a whole-number /s would read 0/s.
        let (rate, rooms, secs) = (crate::units::rate_text(plan.connect_rate), plan.rooms, plan.duration_s);
        let probes = if plan.probe_rate > 0.0 { crate::units::rate_text(plan.probe_rate) } else { "0/s".into() };
        let (failed, dropped, reconnects, peak) = (text::counts(&c.failed), c.dropped, c.reconnects, c.open_peak);
        let (hb_sent, hb_answered, received) = (self.heartbeats_sent, self.heartbeats_answered, self.messages_received);
        let mut lines = vec![
            ("plan", format!("{} connections over {} cores at {rate}, {rooms} rooms, probes {probes} for {secs:.1}s{shard}", plan.conns, plan.cores)),
            ("connections", format!("{} established of {} ({:.2}%) in {:.2}s, {} attempts, failed: {failed}, dropped {dropped}, reconnects {reconnects}, peak open {peak}", c.established, c.planned, c.success_pct, self.ramp_s, c.attempted)),
            ("probes", format!("{} sent ({} failed{}{}), deliveries {}/{} expected, missing {}, duplicates {}, unexpected {}, complete probes {}", p.sent, p.failed_to_send, failed_reasons(&p.failed_by_reason), probe_reconnects(p.reconnects), p.delivered, p.expected_deliveries, p.missing, p.duplicates, p.unexpected, p.complete_probes)),
            ("subscribed", subscribed_line(&self.subscriptions)),
            ("timed", timed_line(p)),
            ("identities", identity::lines(&self.identities)),
            ("heartbeats", format!("{hb_sent} sent, {hb_answered} answered; {received} messages received ({} other); peak RSS {:.1} MiB", p.other_messages, self.peak_rss_mib)),
            ("terms", UNEXPECTED.to_string()),
        ];
        if let Some(l) = &self.logins {
            let failed = if l.failed.is_empty() { "none".to_string() } else { text::counts(&l.failed) };
            let line = format!(
                "{} ok ({} relogins{}) at {}, failed: {failed}; upgrades refused {}, closed for auth {} (each logged in again; {} deliveries on their way at the close not expected)",
                l.ok, l.relogins, probe_relogins(l.probe_relogins), l.target, l.upgrades_refused, l.auth_closes, p.cut_off_by_auth_close
            );
            lines.insert(2, ("logins", line));
        }
        if let Some(cpu) = &self.blast_cpu {
            lines.push(("blast cpu", cpu.line()));
        }
        lines
    }

    fn layout(&self) -> text::Layout {
        text::Layout { key: 12, label: 24, width: 9, decimals: 3, mean: false, note: None }
    }

    fn warnings(&self) -> &[String] {
        &self.warnings
    }

    fn warn(&mut self, line: String) {
        self.warnings.push(line);
    }

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

    fn interrupted(&self) -> bool {
        self.interrupted
    }

    fn sound(&self) -> bool {
        self.no_evidence.is_none() && self.identities.iter().all(|i| i.holds)
    }

    fn figures(&self, m: &mut Metrics) {
        let p = &self.probes;
        let errors = if p.expected_deliveries == 0 {
            0.0
        } else {
            100.0 * (p.missing + p.duplicates) as f64 / p.expected_deliveries as f64
        };
        let c = &self.connections;
        m.insert("errors".into(), Metric::pct_low(errors).over(p.expected_deliveries, "deliveries expected"));
        m.insert("success".into(), Metric::pct_high(c.success_pct).over(c.planned as u64, "connections planned"));
        m.insert("drops".into(), Metric::count_low(c.dropped as f64).over(c.established, "connections established"));
        if self.no_evidence.is_some() {
            // Whatever was timed, nothing shows that a probe reached a subscriber: every
            // delivery figure rests on no evidence, and its SLA fails.
            for name in metrics::names(&["", "completion_"], &["errors"]) {
                if let Some(metric) = m.get_mut(&name) {
                    *metric = metric.over(0, NO_DELIVERIES);
                }
            }
        }
    }

    fn samples_of(&self, prefix: &str) -> &'static str {
        match prefix {
            "completion_" => "probes completed",
            "connect_" => "connections",
            "heartbeat_" => "heartbeats",
            _ => "deliveries",
        }
    }

    /// Connect and heartbeat for the whole run, then deliveries second by second.
    fn write_hdr_log(&self, path: &str) -> std::io::Result<()> {
        let (t, start) = (&self.raw.tally, from_unix_ns(self.raw.started_at_unix_ns));
        let whole = Duration::from_secs_f64(self.raw.ramp_secs + self.raw.hold_secs);
        // A heartbeat interval only when heartbeats ran: an empty one is a histogram of nothing.
        let heartbeat = (self.heartbeats_sent > 0).then_some(("heartbeat", &t.heartbeat_rtt));
        let whole_run = [("connect", &t.connect)].into_iter().chain(heartbeat);
        let intervals = hdr::whole_run(whole_run, whole).chain(hdr::series("delivery", &t.delivery_per_second, start));
        hdr::write(path, start, "ws", intervals)
    }

    /// Deliveries and open connections per second (each second drawn at its end, the first
    /// and last partial ones over the part of them the run covered), and the delivery heatmap.
    fn page(&self) -> Page {
        let (p, c) = (&self.probes, &self.connections);
        let (t0, end) = (self.started_at_unix, self.ramp_s + self.hold_s);
        // Wall-clock second `unix` on the run's clock (seconds since the start), the last one
        // ending with the run: the clock of every chart and heatmap of the page.
        let span =
            |unix: u64| ((unix as f64 - t0).max(0.0), (unix as f64 + 1.0 - t0).min(end.max(unix as f64 - t0 + 0.05)));
        // A rate over the part of its second the run covered (the last ends with the hold).
        let rate = |unix: u64, n: u64| {
            let (from, to) = span(unix);
            (to.min(end.max(from + 0.25)), n as f64 / seconds((from, to.min(end.max(from + 0.25)))))
        };
        let delivered = self.timeline.iter().map(|s| rate(s.unix, s.count)).collect();
        let open = self.raw.tally.open_per_second.peaks().into_iter().map(|(s, n)| (span(s).1, n as f64)).collect();
        let seconds_of = self.raw.tally.delivery_per_second.seconds();
        let spans = seconds_of.map(|(s, h)| (span(s).0, span(s).1, std::borrow::Cow::Owned(h)));
        let heatmap = Heatmap::of("Delivery latency heatmap (per second)", "delivery latency", spans);
        Page {
            headline: vec![
                ("connections".into(), format!("{} / {}", c.established, c.planned)),
                ("deliveries".into(), format!("{} / {}", p.delivered, p.expected_deliveries)),
                ("delivery p99".into(), format!("{:.2} ms", self.delivery_ms.p99)),
                ("probe completion p99".into(), format!("{:.2} ms", self.probe_completion_ms.p99)),
                ("dropped".into(), c.dropped.to_string()),
            ],
            charts: vec![
                Chart::over_time(
                    "Deliveries per second",
                    "deliveries/s",
                    Unit::PerSecond,
                    vec![("delivered", delivered)],
                ),
                Chart::over_time(
                    "Open connections",
                    "connections",
                    Unit::Count,
                    vec![("open (most in the second)", open)],
                ),
            ],
            heatmaps: vec![heatmap],
            ..Page::default()
        }
    }
}

/// Length of a span of the run in seconds (a partial second's rate is over its own length).
fn seconds((from, to): (f64, f64)) -> f64 {
    (to - from).max(1e-3)
}

/// ": http_401 25" after the failed count when probes failed.
fn failed_reasons(by: &BTreeMap<String, u64>) -> String {
    if by.is_empty() {
        String::new()
    } else {
        format!(": {}", text::counts(by))
    }
}

/// ", 3 reconnects" after the failures when the probe connection was opened again.
fn probe_reconnects(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(", {n} reconnects")
    }
}

fn probe_relogins(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(", {n} after a refused probe")
    }
}

/// Warnings that say why a measurement could not be made and what to do.
fn diagnose(raw: &RawWs, (confirmed, unconfirmed): (u64, u64)) -> Vec<String> {
    let (t, plan) = (&raw.tally, &raw.plan);
    let mut w = Vec::new();
    if let Some(line) = all_failed(raw) {
        w.push(line);
    } else if t.established > 0 && t.dropped >= t.established && !plan.reconnect && !raw.interrupted {
        w.push(format!(
            "every connection was dropped by the server ({} of {}): the run ended after {:.1} s of {:.1} s held; add --reconnect to reconnect them",
            t.dropped, t.established, raw.hold_secs, plan.duration_s
        ));
    }
    if let Some(ack) = plan.subscribe_ack.as_ref().filter(|_| confirmed > 0 && unconfirmed > 0) {
        w.push(format!(
            "{unconfirmed} of {} subscriptions were never confirmed (no message whose \"type\" is \"{ack}\" came): those connections expected no probe",
            confirmed + unconfirmed
        ));
    }
    for (reason, n) in &t.probe_failed {
        let advice = match reason.as_str() {
            "http_401" | "http_403" if plan.login.is_some() => {
                "refused as the users even after a new login: probes carry the login's [upgrade] headers, or an Authorization header from a capture named 'token'"
            }
            "http_401" | "http_403" => "probe requests need auth: --probe-header 'Authorization: ...' or --token",
            "no_logged_in_user" => "no user's login had succeeded when the probe was due (see the logins line)",
            "http_404" | "http_405" => "check --probe-target and --probe-method",
            "http_400" | "http_415" | "http_422" => "the target refused the probe body: check --probe-body",
            "refused" => "nothing listens at the probe target: check --probe-target",
            "timeout" => "the probe target did not answer within --timeout",
            "closed" | "reset" => "the target closed the probe connection",
            "tls_handshake" => "the probe target's certificate was not trusted: --ca-cert or --insecure",
            r if r.starts_with("http_5") => "the target failed on the probe: see its logs",
            _ => "see the probe target's logs",
        };
        w.push(format!("{n} probes failed ({reason}): {advice}"));
    }
    w
}

/// What the delivery figures' SLA lines say when they rest on no evidence.
pub const NO_DELIVERIES: &str = "deliveries recognised";

/// Why the run's delivery figures rest on no evidence, if they do: no subscription was
/// confirmed (an ack was awaited and none recognised), or probes were sent and no delivery was
/// recognised. Quotes what the server sent instead, and what blast looked for.
fn evidence(raw: &RawWs, d: &crate::workloads::ws::tally::Deliveries, confirmed: u64) -> Option<String> {
    let (t, plan) = (&raw.tally, &raw.plan);
    let quote = |samples: &[String]| -> String {
        samples.iter().map(|m| format!("`{}`", crate::redact::text(m))).collect::<Vec<_>>().join(", ")
    };
    if let Some(ack) = plan.subscribe_ack.as_ref().filter(|_| t.established > 0 && confirmed == 0) {
        let sent = if t.while_awaiting_ack.is_empty() {
            "the server sent nothing after the subscribe messages: check --subscribe (the server may not know it)"
                .to_string()
        } else {
            format!("the server sent instead: {}", quote(&t.while_awaiting_ack))
        };
        let receipts = match d.unexpected {
            0 => String::new(),
            n => format!("; {n} probe receipts came on these connections and count as unexpected"),
        };
        return Some(format!(
            "no deliveries recognised: none of the {} subscriptions was confirmed: blast waited for a message whose \"type\" is \"{ack}\" (--subscribe-ack {ack}) and {sent}{receipts}; set --subscribe-ack to the type the server answers with, or 'none' to count a connection subscribed once its subscribe is written",
            t.established
        ));
    }
    if t.probes.is_empty() || d.delivered > 0 {
        return None;
    }
    let reader = plan.probe_reader.clone().unwrap_or_else(|| "the probe pointers".to_string());
    let seen = if !t.unread_with_probe_id.is_empty() {
        format!("messages that came with a probe's number in them: {}", quote(&t.unread_with_probe_id))
    } else if !t.unread_after_probes.is_empty() {
        format!("the first messages that came after the probes began: {}", quote(&t.unread_after_probes))
    } else if d.unexpected > 0 {
        format!(
            "{} probe receipts came, none on a connection subscribed to the probe's room when it was sent",
            d.unexpected
        )
    } else {
        "no message came after the probes began: check that the server broadcasts to the room --subscribe joins, and --probe-target".to_string()
    };
    Some(format!(
        "no deliveries recognised: {} probes were sent and no message was read as one with {reader}; {seen}",
        t.probes.len()
    ))
}

/// "every connection failed before the start (http_401 20): ...; advice" when none was
/// established (and the run was not interrupted): the report's warning and the line `blast ws`
/// prints at once.
pub fn all_failed(raw: &RawWs) -> Option<String> {
    let t = &raw.tally;
    (t.established == 0 && t.attempted > 0 && !raw.interrupted).then(|| {
        format!(
            "every connection failed before the start ({}): the run stopped at once; {}",
            text::counts(&t.failed),
            connect_advice(&t.failed, raw.plan.auth.as_deref())
        )
    })
}

/// What to do about connections that all failed, by their commonest reason: a failed connect
/// or handshake as `ConnectFailure` words it, or the upgrade's HTTP answer, naming the
/// credentials given (`auth`, as `WsAuth::describe` names them) when the server refused them.
pub fn connect_advice(failed: &BTreeMap<String, u64>, auth: Option<&str>) -> String {
    let top = failed.iter().max_by_key(|(_, n)| **n).map(|(r, _)| r.as_str()).unwrap_or("");
    if let Some(f) = ConnectFailure::named(top) {
        return f.advice().to_string();
    }
    match (top, auth) {
        ("http_401" | "http_403", None) => {
            "the upgrade needs auth: --token (header), --token-query NAME or --tokens FILE".to_string()
        }
        ("http_401" | "http_403", Some(given)) => format!(
            "the server answered {} to the upgrade although {given} was given: the tokens may have expired, be for another service, or belong elsewhere (header or --token-query NAME)",
            top.replace('_', " ").to_uppercase()
        ),
        ("http_404", _) => "no WebSocket endpoint at --target's path".to_string(),
        ("login", _) => "the login failed (the logins line says why): check the --login file and --login-target".to_string(),
        _ => ConnectFailure::Other.advice().to_string(),
    }
}

/// `20 confirmed (ack "type":"subscribed"), 0 never confirmed, the last 0.01s after the start`.
fn subscribed_line(s: &WsSubscriptions) -> String {
    let ack = match &s.ack {
        Some(ack) => format!("ack \"type\":\"{ack}\""),
        None => "no ack awaited".to_string(),
    };
    let last = if s.confirmed > 0 { format!(", the last {:.2}s after the start", s.settled_s) } else { String::new() };
    format!("{} confirmed ({ack}), {} never confirmed{last}", s.confirmed, s.unconfirmed)
}

/// How the probes received were timed: from blast's send instant, or from the message's time
/// (with a coarse unit's resolution).
fn timed_line(p: &WsProbes) -> String {
    let mut line = format!(
        "{} receipts from blast's send instant (probe matched by id), {} from the time in the message",
        p.timed_from_send_instant, p.timed_from_message_time
    );
    if let Some(r) = &p.message_time_resolution {
        line.push_str(&format!(" (--probe-ts-unit resolution {r}: each of those reads up to that much longer)"));
    }
    line
}

/// Figures `blast ws` reports, for checking `--sla` names before a run.
pub fn metric_names() -> Vec<String> {
    metrics::names(&["", "completion_", "connect_", "heartbeat_"], &["errors", "success", "drops"])
}
