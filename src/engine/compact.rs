//! A recorder kept small: every histogram deflated (HdrHistogram V2 deflate), counters as they
//! are. The run's per-second time series is kept this way, because a full recorder holds five
//! histograms of about 190 KB each (1 µs to 1 hour at 3 significant digits) and a 30-minute
//! soak would otherwise hold 1,800 of them (1.7 GB); deflated, a second takes a few KB. Decoding
//! gives back exactly the recorder that was compacted.
//!
//! The same form is what JSON reports carry (`raw`, histograms as base64), so `blast merge`
//! reads back what the run kept.

use crate::engine::recorder::{BeyondTarget, ErrorKind, Recorder};
use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One histogram, V2-deflate encoded; serialized as base64 text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deflated(Vec<u8>);

impl Deflated {
    pub fn of(h: &Histogram<u64>) -> Self {
        let mut buf = Vec::new();
        // Serializing an in-memory histogram into a Vec cannot fail.
        let _ = V2DeflateSerializer::new().serialize(h, &mut buf);
        Deflated(buf)
    }

    pub fn histogram(&self) -> Result<Histogram<u64>, String> {
        Deserializer::new().deserialize(&mut self.0.as_slice()).map_err(|e| format!("bad histogram: {e:?}"))
    }

    /// Adds the histogram into `into` (whose bounds may differ from the encoded one's).
    pub fn add_into(&self, into: &mut Histogram<u64>) -> Result<(), String> {
        into.add(self.histogram()?).map_err(|e| format!("histogram out of range: {e:?}"))
    }

    pub fn base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.0)
    }

    pub fn from_base64(s: &str) -> Result<Self, String> {
        base64::engine::general_purpose::STANDARD.decode(s).map(Deflated).map_err(|e| format!("bad histogram: {e}"))
    }
}

impl Serialize for Deflated {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.base64())
    }
}

impl<'de> Deserialize<'de> for Deflated {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Deflated::from_base64(&text).map_err(serde::de::Error::custom)
    }
}

/// Serde for a `Histogram<u64>` field as `Deflated` (base64 text):
/// `#[serde(with = "crate::engine::compact::histogram")]`. Read back into the bounds every
/// recorder and tally uses (1 µs to 1 hour), so that merged histograms add.
pub mod histogram {
    use super::Deflated;
    use hdrhistogram::Histogram;
    use serde::{Deserialize, Serialize};

    pub fn serialize<S: serde::Serializer>(h: &Histogram<u64>, s: S) -> Result<S::Ok, S::Error> {
        Deflated::of(h).serialize(s)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Histogram<u64>, D::Error> {
        use serde::de::Error;
        let mut h = crate::engine::recorder::histogram();
        Deflated::deserialize(d)?.add_into(&mut h).map_err(D::Error::custom)?;
        Ok(h)
    }
}

/// A `Recorder` with its histograms deflated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompactRecorder {
    pub latency: Deflated,
    pub service: Deflated,
    pub send_lag: Deflated,
    pub dispatch_lag: Deflated,
    pub connect: Deflated,
    pub sent: u64,
    pub completed: u64,
    /// Status code (0: other) -> count.
    pub codes: BTreeMap<u16, u64>,
    /// Error kind name -> count.
    pub errors: BTreeMap<String, u64>,
    pub connects_ok: u64,
    pub connects_failed: u64,
    /// Absent in reports of earlier versions (read as 0).
    #[serde(default)]
    pub reconnects: u64,
    #[serde(default)]
    pub closed_idle: u64,
    #[serde(default)]
    pub retried: u64,
    pub bytes_out: u64,
    pub bytes_in: u64,
    /// Absent in reports of earlier versions.
    #[serde(default)]
    pub body_in: u64,
    pub queue_peak: u64,
    /// Where each request ended up (absent in reports of earlier versions: all 0).
    #[serde(default)]
    pub accounting: crate::engine::recorder::Accounting,
    /// Per report row (absent in reports without rows).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by_name: Vec<CompactRecorder>,
}

impl CompactRecorder {
    pub fn of(r: &Recorder) -> Self {
        CompactRecorder {
            latency: Deflated::of(&r.latency),
            service: Deflated::of(&r.service),
            send_lag: Deflated::of(&r.send_lag),
            dispatch_lag: Deflated::of(&r.dispatch_lag),
            connect: Deflated::of(&r.connect),
            sent: r.sent,
            completed: r.completed,
            codes: r.codes.iter().enumerate().filter(|(_, &n)| n > 0).map(|(c, &n)| (c as u16, n)).collect(),
            errors: ErrorKind::ALL
                .iter()
                .filter(|k| r.errors_of(**k) > 0)
                .map(|k| (k.name().to_string(), r.errors_of(*k)))
                .collect(),
            connects_ok: r.connects_ok,
            connects_failed: r.connects_failed,
            reconnects: r.reconnects,
            closed_idle: r.closed_idle,
            retried: r.retried,
            bytes_out: r.bytes_out,
            bytes_in: r.bytes_in,
            body_in: r.body_in,
            queue_peak: r.queue_peak,
            accounting: r.accounting,
            by_name: r.by_name.iter().map(CompactRecorder::of).collect(),
        }
    }

    /// The full recorder again (fails only on a corrupted or foreign encoding).
    pub fn expand(&self) -> Result<Recorder, String> {
        let mut r = Recorder::new();
        for (into, from) in [
            (&mut r.latency, &self.latency),
            (&mut r.service, &self.service),
            (&mut r.send_lag, &self.send_lag),
            (&mut r.dispatch_lag, &self.dispatch_lag),
            (&mut r.connect, &self.connect),
        ] {
            from.add_into(into)?;
        }
        r.sent = self.sent;
        r.completed = self.completed;
        for (&code, &n) in &self.codes {
            let slot = r.codes.get_mut(code as usize).ok_or_else(|| format!("bad status code {code}"))?;
            *slot += n;
        }
        for (name, &n) in &self.errors {
            let kind =
                ErrorKind::ALL.iter().find(|k| k.name() == name).ok_or_else(|| format!("unknown error kind {name}"))?;
            r.record_errors(*kind, n);
        }
        r.connects_ok = self.connects_ok;
        r.connects_failed = self.connects_failed;
        r.reconnects = self.reconnects;
        r.closed_idle = self.closed_idle;
        r.retried = self.retried;
        r.bytes_out = self.bytes_out;
        r.bytes_in = self.bytes_in;
        r.body_in = self.body_in;
        r.queue_peak = self.queue_peak;
        r.accounting = self.accounting;
        r.by_name = self.by_name.iter().map(CompactRecorder::expand).collect::<Result<_, _>>()?;
        Ok(r)
    }

    /// Expands a recorder this process compacted itself (its encoding is known to be valid).
    pub fn expand_own(&self) -> Recorder {
        self.expand().unwrap_or_default()
    }
}

/// `BeyondTarget` with its histograms deflated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompactBeyondTarget {
    pub service: Deflated,
    pub latency: Deflated,
}

impl CompactBeyondTarget {
    pub fn of(b: &BeyondTarget) -> Self {
        CompactBeyondTarget { service: Deflated::of(&b.service), latency: Deflated::of(&b.latency) }
    }

    /// The histograms again (fails only on a corrupted or foreign encoding).
    pub fn expand(&self) -> Result<BeyondTarget, String> {
        let mut b = BeyondTarget::default();
        self.service.add_into(&mut b.service)?;
        self.latency.add_into(&mut b.latency)?;
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn compacting_loses_nothing_and_is_small() {
        let mut r = Recorder::new();
        for i in 0..5_000u64 {
            let d = Duration::from_micros(100 + i * 7 % 9_000);
            r.record_sent(Duration::from_micros(i % 50), 120);
            r.record_response(if i % 100 == 0 { 503 } else { 200 }, d, d / 2, 60);
        }
        r.record_error(ErrorKind::Timeout);
        r.record_connect(Duration::from_millis(1), true);
        let c = CompactRecorder::of(&r);
        let back = c.expand().expect("expands");
        assert_eq!(back.latency, r.latency);
        assert_eq!(back.service, r.service);
        assert_eq!(back.send_lag, r.send_lag);
        assert_eq!((back.sent, back.completed, back.codes_in(500, 599)), (5_000, 5_000, 50));
        assert_eq!(back.errors_of(ErrorKind::Timeout), 1);
        // A JSON round trip keeps it as it was.
        let json = serde_json::to_string(&c).expect("serializes");
        let again: CompactRecorder = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(again, c);
        // Five deflated histograms of a busy second: kilobytes, not the ~1 MB of a recorder.
        let bytes: usize =
            [&c.latency, &c.service, &c.send_lag, &c.dispatch_lag, &c.connect].iter().map(|d| d.0.len()).sum();
        assert!(bytes < 64 * 1024, "{bytes} bytes");
    }

    #[test]
    fn corrupted_encodings_are_errors() {
        assert!(Deflated::from_base64("###").is_err());
        assert!(Deflated(vec![1, 2, 3]).histogram().is_err());
    }
}
