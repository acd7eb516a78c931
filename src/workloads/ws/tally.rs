//! What one core measured of its WebSocket connections, and the exact delivery accounting
//! done when the cores' tallies are merged.

use crate::engine::recorder::{histogram, MAX_TRACKABLE_US};
use crate::engine::series::{LevelSeries, SecondSeries};
use hdrhistogram::Histogram;
use std::collections::{BTreeMap, HashMap, HashSet};

/// A probe the publisher sent and the target accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProbeSent {
    pub id: u64,
    pub room: u32,
    /// Wall-clock send time, microseconds since the Unix epoch.
    pub sent_us: u64,
}

/// `Membership::from` of a subscription whose ack never came.
pub const UNCONFIRMED: u64 = u64::MAX;

/// When one connection was subscribed to its room (wall-clock µs; `UNCONFIRMED` when its ack
/// never came); `to` is `None` while open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Membership {
    pub room: u32,
    pub from: u64,
    pub to: Option<u64>,
    /// The first probe id the connection received: a probe sent before the ack came (while the
    /// ack was on its way) is expected from it, if it is this one or a later one of its room.
    #[serde(default)]
    pub first_probe: Option<u64>,
    /// The largest probe id the connection received.
    #[serde(default)]
    pub last_probe: Option<u64>,
    /// It ended with the server's auth close (4401, 1008; `--login` then logs in again): probes
    /// of its room sent in the last `CUT_OFF_US` before the close that it never received were
    /// cut off by the close (`Deliveries::cut_by_auth_close`), not lost by the target.
    #[serde(default)]
    pub auth_closed: bool,
}

impl Membership {
    /// Whether the connection was subscribed when probe `p` was sent: from its ack (or, when it
    /// was acknowledged, from the first probe it received, which the server published after it
    /// had subscribed the connection: a room's probes arrive in the order of their ids) until it
    /// closed.
    fn covers(&self, p: &ProbeSent) -> bool {
        let early = self.from != UNCONFIRMED && self.first_probe.is_some_and(|first| p.id >= first);
        (self.from <= p.sent_us || early) && self.to.is_none_or(|to| to > p.sent_us)
    }

    /// Whether probe `p` (covered) was cut off by the connection's auth close: sent within
    /// `CUT_OFF_US` before it, and not received (a room's probes arrive in the order of their
    /// ids, so every one after the last received was not).
    fn cut_by_auth_close(&self, p: &ProbeSent) -> bool {
        self.auth_closed
            && self.to.is_some_and(|to| p.sent_us.saturating_add(CUT_OFF_US) >= to)
            && self.last_probe.is_none_or(|last| p.id > last)
    }
}

/// Per-core counters and histograms. Owned by one core; merged at the end. Serialized whole
/// (histograms deflated) as the `raw` of a JSON report, for `blast merge`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct WsTally {
    #[serde(with = "crate::engine::compact::histogram")]
    pub connect: Histogram<u64>,
    /// Per recipient: receive time minus probe send time.
    #[serde(with = "crate::engine::compact::histogram")]
    pub delivery: Histogram<u64>,
    /// The same, per wall-clock second of receipt.
    pub delivery_per_second: SecondSeries,
    /// WebSocket ping to pong.
    #[serde(with = "crate::engine::compact::histogram")]
    pub heartbeat_rtt: Histogram<u64>,
    pub attempted: u64,
    pub established: u64,
    /// Failed connection attempts by reason (`refused`, `timeout`, `http_403`, ...).
    pub failed: BTreeMap<String, u64>,
    /// Established connections the server closed or lost before the end.
    pub dropped: u64,
    pub reconnects: u64,
    /// `--login`: logins that succeeded (every connection's first, then the relogins).
    #[serde(default)]
    pub logins: u64,
    /// Of those, logins again after the server refused the upgrade (401, 403) or closed the
    /// connection for auth (4401, 1008).
    #[serde(default)]
    pub relogins: u64,
    /// Logins again of a user whose credentials an HTTP probe found refused (401, 403); the
    /// probe was then sent again once. Not in `relogins` (those are the connections').
    #[serde(default)]
    pub probe_relogins: u64,
    /// Failed logins by reason (`http_401`, `capture_missing`, `connect_refused`, ...).
    #[serde(default)]
    pub login_failed: BTreeMap<String, u64>,
    /// Upgrades refused with 401 or 403 that a new login then retried (not failed connections).
    #[serde(default)]
    pub upgrades_refused: u64,
    /// Connections the server closed for auth (4401, 1008) that then logged in again (not
    /// dropped connections).
    #[serde(default)]
    pub auth_closes: u64,
    pub heartbeats_sent: u64,
    pub heartbeats_answered: u64,
    pub messages_received: u64,
    /// The same probe received twice on one connection.
    pub duplicates: u64,
    /// Deliveries per probe id, and the slowest of them (µs).
    pub per_probe: HashMap<u64, (u64, u64)>,
    pub memberships: Vec<Membership>,
    /// Probes sent (only the publishing core has any) and those the target refused.
    pub probes: Vec<ProbeSent>,
    pub probe_failures: u64,
    /// Failed probes by reason (`http_401`, `refused`, `timeout`, `closed`, ...).
    #[serde(default)]
    pub probe_failed: BTreeMap<String, u64>,
    /// Times the HTTP probe connection was opened again (the target closed it, or it failed).
    #[serde(default)]
    pub probe_reconnects: u64,
    /// Most connections open at once (summed over cores).
    pub open_peak: u64,
    /// Connections open, per wall-clock second (absent from reports of earlier versions).
    #[serde(default)]
    pub open_per_second: LevelSeries,
    /// Text messages that were neither a probe, a subscription ack nor a heartbeat answer.
    #[serde(default)]
    pub other_messages: u64,
    /// The first such message (truncated), to show when no probe was recognised.
    #[serde(default)]
    pub sample_other: Option<String>,
    /// The first distinct messages (truncated, at most `SAMPLES`) that carried no probe and
    /// came after the first probe was sent: probes blast could not read, most likely.
    #[serde(default)]
    pub unread_after_probes: Vec<String>,
    /// Of those, the first that contain the number of a probe sent before they came (as a
    /// whole run of digits): probes blast could not read, surely (a welcome or a join message
    /// sent before the probes is not among them).
    #[serde(default)]
    pub unread_with_probe_id: Vec<String>,
    /// The first distinct messages (truncated, at most `SAMPLES`) a connection received while
    /// its subscription ack was awaited: what the server answered instead of the ack blast
    /// looks for.
    #[serde(default)]
    pub while_awaiting_ack: Vec<String>,
    /// Probe receipts timed from blast's own send instant of the probe (recognised by its id).
    #[serde(default)]
    pub timed_from_send: u64,
    /// Probe receipts timed from the send time the message carries (`--probe-ts-pointer`): the
    /// probe was sent by another process (a shard), so its send instant is not known here.
    #[serde(default)]
    pub timed_from_message: u64,
    /// Probes received without a send time (`--probe-ts-pointer none`): (id, received µs),
    /// timed against the publisher's send times once the probes are known (`resolve`).
    #[serde(default)]
    pub receipts: Vec<(u64, u64)>,
    /// When the run was interrupted (Unix µs): probes sent in the last `CUT_OFF_US` before it
    /// are not expected to have reached everyone.
    #[serde(default)]
    pub interrupted_us: Option<u64>,
}

/// Longest text kept of a message that carried no probe.
pub const SAMPLE_CHARS: usize = 300;

/// Most messages kept of each kind of sample.
pub const SAMPLES: usize = 3;

/// `text` cut to `SAMPLE_CHARS`.
fn sample(text: &str) -> String {
    let mut sample: String = text.chars().take(SAMPLE_CHARS).collect();
    if sample.len() < text.len() {
        sample.push_str("...");
    }
    sample
}

/// Adds `text` to `samples` unless it is there or they are full.
fn keep(samples: &mut Vec<String>, text: String) {
    if samples.len() < SAMPLES && !samples.contains(&text) {
        samples.push(text);
    }
}

/// With an interrupted run, probes sent this long before the interruption (µs) may still have
/// been in flight: their missing deliveries are not the target's.
pub const CUT_OFF_US: u64 = 1_000_000;

impl Default for WsTally {
    fn default() -> Self {
        WsTally {
            connect: histogram(),
            delivery: histogram(),
            delivery_per_second: SecondSeries::default(),
            heartbeat_rtt: histogram(),
            attempted: 0,
            established: 0,
            failed: BTreeMap::new(),
            dropped: 0,
            reconnects: 0,
            logins: 0,
            relogins: 0,
            probe_relogins: 0,
            login_failed: BTreeMap::new(),
            upgrades_refused: 0,
            auth_closes: 0,
            heartbeats_sent: 0,
            heartbeats_answered: 0,
            messages_received: 0,
            duplicates: 0,
            per_probe: HashMap::new(),
            memberships: Vec::new(),
            probes: Vec::new(),
            probe_failures: 0,
            probe_failed: BTreeMap::new(),
            probe_reconnects: 0,
            open_peak: 0,
            open_per_second: LevelSeries::default(),
            other_messages: 0,
            sample_other: None,
            unread_after_probes: Vec::new(),
            unread_with_probe_id: Vec::new(),
            while_awaiting_ack: Vec::new(),
            timed_from_send: 0,
            timed_from_message: 0,
            receipts: Vec::new(),
            interrupted_us: None,
        }
    }
}

impl WsTally {
    pub fn fail(&mut self, reason: &str) {
        *self.failed.entry(reason.to_string()).or_default() += 1;
    }

    /// A probe could not be published, for `reason`.
    pub fn probe_failed(&mut self, reason: &str) {
        self.probe_failures += 1;
        *self.probe_failed.entry(reason.to_string()).or_default() += 1;
    }

    /// A text message that carried no probe; `after_probes`: it came after the first probe
    /// was sent; `with_probe_id`: it contains the number of a probe sent before it came.
    pub fn other(&mut self, text: &str, after_probes: bool, with_probe_id: impl FnOnce() -> bool) {
        self.other_messages += 1;
        if self.sample_other.is_none() {
            self.sample_other = Some(sample(text));
        }
        if after_probes && self.unread_after_probes.len() < SAMPLES {
            keep(&mut self.unread_after_probes, sample(text));
        }
        if after_probes && self.unread_with_probe_id.len() < SAMPLES && with_probe_id() {
            keep(&mut self.unread_with_probe_id, sample(text));
        }
    }

    /// A connection received `text` while it awaited its subscription ack, and it was none.
    pub fn awaiting_ack(&mut self, text: &str) {
        if self.while_awaiting_ack.len() < SAMPLES {
            keep(&mut self.while_awaiting_ack, sample(text));
        }
    }

    /// Times the receipts that carried no send time against the probes' send times (the
    /// publisher's, merged in by now); receipts of probes not sent here stay for `blast merge`.
    pub fn resolve(&mut self) {
        if self.receipts.is_empty() || self.probes.is_empty() {
            return;
        }
        let sent: HashMap<u64, u64> = self.probes.iter().map(|p| (p.id, p.sent_us)).collect();
        for (id, received) in std::mem::take(&mut self.receipts) {
            match sent.get(&id) {
                Some(&at) => {
                    self.timed_from_send += 1;
                    self.delivered(id, received, received.saturating_sub(at));
                }
                None => {
                    let e = self.per_probe.entry(id).or_default();
                    e.0 += 1;
                }
            }
        }
    }

    /// Established connections whose subscription was confirmed (acknowledged, or no ack
    /// awaited) and those whose was not: one membership per established connection.
    pub fn subscriptions(&self) -> (u64, u64) {
        let confirmed = self.memberships.iter().filter(|m| m.from != UNCONFIRMED).count() as u64;
        (confirmed, self.memberships.len() as u64 - confirmed)
    }

    /// Probe `probe` arrived at `received_us` (Unix µs), `latency_us` after it was sent.
    pub fn delivered(&mut self, probe: u64, received_us: u64, latency_us: u64) {
        self.delivery.saturating_record(latency_us.clamp(1, MAX_TRACKABLE_US));
        self.delivery_per_second.record(received_us / 1_000_000, latency_us);
        let e = self.per_probe.entry(probe).or_default();
        e.0 += 1;
        e.1 = e.1.max(latency_us);
    }

    pub fn merge(&mut self, o: WsTally) {
        let _ = self.connect.add(&o.connect);
        let _ = self.delivery.add(&o.delivery);
        self.delivery_per_second.merge(o.delivery_per_second);
        let _ = self.heartbeat_rtt.add(&o.heartbeat_rtt);
        self.attempted += o.attempted;
        self.established += o.established;
        for (k, v) in o.failed {
            *self.failed.entry(k).or_default() += v;
        }
        self.dropped += o.dropped;
        self.reconnects += o.reconnects;
        self.logins += o.logins;
        self.relogins += o.relogins;
        self.probe_relogins += o.probe_relogins;
        for (k, n) in o.login_failed {
            *self.login_failed.entry(k).or_default() += n;
        }
        self.upgrades_refused += o.upgrades_refused;
        self.auth_closes += o.auth_closes;
        self.heartbeats_sent += o.heartbeats_sent;
        self.heartbeats_answered += o.heartbeats_answered;
        self.messages_received += o.messages_received;
        self.duplicates += o.duplicates;
        for (id, (n, max)) in o.per_probe {
            let e = self.per_probe.entry(id).or_default();
            e.0 += n;
            e.1 = e.1.max(max);
        }
        self.memberships.extend(o.memberships);
        self.probes.extend(o.probes);
        self.probe_failures += o.probe_failures;
        for (k, v) in o.probe_failed {
            *self.probe_failed.entry(k).or_default() += v;
        }
        self.probe_reconnects += o.probe_reconnects;
        self.open_peak += o.open_peak;
        self.open_per_second.merge(&o.open_per_second);
        self.other_messages += o.other_messages;
        if self.sample_other.is_none() {
            self.sample_other = o.sample_other;
        }
        for text in o.unread_after_probes {
            keep(&mut self.unread_after_probes, text);
        }
        for text in o.unread_with_probe_id {
            keep(&mut self.unread_with_probe_id, text);
        }
        for text in o.while_awaiting_ack {
            keep(&mut self.while_awaiting_ack, text);
        }
        self.timed_from_send += o.timed_from_send;
        self.timed_from_message += o.timed_from_message;
        self.receipts.extend(o.receipts);
        self.interrupted_us = match (self.interrupted_us, o.interrupted_us) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// Delivery accounting over all cores, exact: each probe is expected by every connection that
/// was subscribed to its room when it was sent.
#[derive(Debug)]
pub struct Deliveries {
    pub expected: u64,
    pub delivered: u64,
    pub missing: u64,
    /// Receipts of probes the publisher does not know (refused ones) or beyond the expected
    /// subscribers (connections that were not subscribed when the probe was sent).
    pub unexpected: u64,
    /// Probes sent in the last second before an interruption: only their deliveries that
    /// arrived are expected (the rest were cut off by the interruption, not lost by the target).
    pub cut_off_probes: u64,
    /// Deliveries not expected because the server closed the connection for auth (4401, 1008)
    /// while the probe was on its way: sent within `CUT_OFF_US` before the close, not received
    /// (a probe sent while a connection was logging in again is not expected from it at all).
    pub cut_by_auth_close: u64,
    /// Probes every expected subscriber received.
    pub complete_probes: u64,
    /// Per complete probe: from its send until the last subscriber had it.
    pub completion: Histogram<u64>,
}

pub fn account(t: &WsTally) -> Deliveries {
    let mut by_room: HashMap<u32, Vec<&Membership>> = HashMap::new();
    for m in &t.memberships {
        by_room.entry(m.room).or_default().push(m);
    }
    let mut d = Deliveries {
        expected: 0,
        delivered: 0,
        missing: 0,
        unexpected: 0,
        cut_off_probes: 0,
        cut_by_auth_close: 0,
        complete_probes: 0,
        completion: histogram(),
    };
    let cut_off_from = t.interrupted_us.map(|at| at.saturating_sub(CUT_OFF_US));
    let mut known = HashSet::new();
    for p in &t.probes {
        known.insert(p.id);
        let (mut expected, mut cut_by_close) = (0, 0);
        for m in by_room.get(&p.room).into_iter().flatten().filter(|m| m.covers(p)) {
            if m.cut_by_auth_close(p) {
                cut_by_close += 1;
            } else {
                expected += 1;
            }
        }
        d.cut_by_auth_close += cut_by_close;
        let (got, slowest) = t.per_probe.get(&p.id).copied().unwrap_or((0, 0));
        let cut = cut_off_from.is_some_and(|from| p.sent_us >= from) && got < expected;
        let expected = if cut {
            d.cut_off_probes += 1;
            got
        } else {
            expected
        };
        d.expected += expected;
        d.delivered += got.min(expected);
        d.missing += expected.saturating_sub(got);
        d.unexpected += got.saturating_sub(expected);
        if !cut && got >= expected && expected > 0 {
            d.complete_probes += 1;
            d.completion.saturating_record(slowest.clamp(1, MAX_TRACKABLE_US));
        }
    }
    for (id, (n, _)) in &t.per_probe {
        if !known.contains(id) {
            d.unexpected += n;
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(room: u32, from: u64, to: Option<u64>) -> Membership {
        Membership { room, from, to, ..Membership::default() }
    }

    #[test]
    fn expected_counts_follow_membership_in_time() {
        let mut t = WsTally {
            memberships: vec![
                member(0, 100, None),
                member(0, 100, Some(150)), // dropped before probe 2
                member(1, 100, None),
                member(0, 300, None), // joined after probe 2
            ],
            probes: vec![ProbeSent { id: 1, room: 0, sent_us: 120 }, ProbeSent { id: 2, room: 0, sent_us: 200 }],
            ..WsTally::default()
        };
        t.delivered(1, 0, 10);
        t.delivered(1, 0, 30);
        t.delivered(2, 0, 5);
        t.delivered(9, 0, 5); // unknown probe
        let d = account(&t);
        assert_eq!((d.expected, d.delivered, d.missing, d.unexpected), (3, 3, 0, 1));
        assert_eq!(d.complete_probes, 2);
        assert_eq!(d.completion.max(), 30);
    }

    #[test]
    fn missing_deliveries_are_counted() {
        let mut t = WsTally {
            memberships: vec![member(0, 0, None); 3],
            probes: vec![ProbeSent { id: 1, room: 0, sent_us: 10 }],
            ..WsTally::default()
        };
        t.delivered(1, 0, 7);
        let d = account(&t);
        assert_eq!((d.expected, d.delivered, d.missing, d.complete_probes), (3, 1, 2, 0));
    }

    #[test]
    fn probes_on_their_way_at_an_auth_close_are_cut_off_not_missing() {
        let closed = |last| Membership { auth_closed: true, last_probe: last, ..member(0, 0, Some(2_000_000)) };
        let mut t = WsTally {
            memberships: vec![closed(Some(1)), closed(None), member(0, 0, None)],
            probes: vec![
                ProbeSent { id: 1, room: 0, sent_us: 500_000 },
                ProbeSent { id: 2, room: 0, sent_us: 1_500_000 },
                ProbeSent { id: 3, room: 0, sent_us: 2_500_000 },
            ],
            ..WsTally::default()
        };
        // Probe 1 (sent 1.5 s before the closes): the first closed connection and the open one
        // have it; the second closed one lost it. Probe 2 (0.5 s before): only the open one.
        // Probe 3: after the closes, expected from the open one only.
        for (id, n) in [(1, 2), (2, 1), (3, 1)] {
            for _ in 0..n {
                t.delivered(id, 0, 5);
            }
        }
        let d = account(&t);
        assert_eq!((d.expected, d.delivered, d.missing, d.cut_by_auth_close), (5, 4, 1, 2));
    }

    #[test]
    fn a_probe_sent_while_the_ack_was_on_its_way_and_received_is_expected() {
        // Acknowledged at 1,000 µs; probe 2 was sent at 900 µs and received (the server had
        // subscribed the connection before it sent the ack); probe 1 (800 µs) was not.
        let joined = Membership { first_probe: Some(2), last_probe: Some(3), ..member(0, 1_000, None) };
        let mut t = WsTally {
            memberships: vec![joined],
            probes: vec![
                ProbeSent { id: 1, room: 0, sent_us: 800 },
                ProbeSent { id: 2, room: 0, sent_us: 900 },
                ProbeSent { id: 3, room: 0, sent_us: 1_100 },
            ],
            ..WsTally::default()
        };
        t.delivered(2, 0, 5);
        t.delivered(3, 0, 5);
        let d = account(&t);
        assert_eq!((d.expected, d.delivered, d.missing, d.unexpected), (2, 2, 0, 0));
        // Never acknowledged: nothing is expected from it, whatever it received.
        t.memberships[0].from = UNCONFIRMED;
        let d = account(&t);
        assert_eq!((d.expected, d.unexpected), (0, 2));
    }
}
