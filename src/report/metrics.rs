//! Named figures of a run (`p99`, `errors`, `rate`, `mbps`, ...), the vocabulary that SLAs
//! (`--sla 'p99<200ms,errors<1%'`, `report::sla`) and `blast compare` (`report::compare`) speak.
//! Each workload's report says which figures it has; every figure knows its unit and whether
//! higher is better.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// Milliseconds.
    Ms,
    /// Percent (0-100).
    Pct,
    /// Requests per second.
    PerS,
    /// Megabytes (10^6 B) per second.
    MbPerS,
    /// A plain count.
    Count,
}

impl Unit {
    pub fn suffix(self) -> &'static str {
        match self {
            Unit::Ms => " ms",
            Unit::Pct => "%",
            Unit::PerS => "/s",
            Unit::MbPerS => " MB/s",
            Unit::Count => "",
        }
    }
}

/// One figure.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    pub value: f64,
    pub unit: Unit,
    pub higher_is_better: bool,
    /// How many measurements the figure rests on (responses for a percentile, requests sent for
    /// an error rate, ...); 0 means it rests on none and its value means nothing. Absent in
    /// reports written before blast counted them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<u64>,
    /// What the samples are, for people: "responses", "uploads started" (not in JSON).
    #[serde(skip)]
    pub of: &'static str,
}

impl Metric {
    fn new(value: f64, unit: Unit, higher_is_better: bool) -> Self {
        Metric { value, unit, higher_is_better, samples: None, of: "" }
    }
    pub fn ms(value: f64) -> Self {
        Metric::new(value, Unit::Ms, false)
    }
    pub fn pct_low(value: f64) -> Self {
        Metric::new(value, Unit::Pct, false)
    }
    pub fn pct_high(value: f64) -> Self {
        Metric::new(value, Unit::Pct, true)
    }
    pub fn per_s(value: f64) -> Self {
        Metric::new(value, Unit::PerS, true)
    }
    pub fn mb_per_s(value: f64) -> Self {
        Metric::new(value, Unit::MbPerS, true)
    }
    pub fn count_low(value: f64) -> Self {
        Metric::new(value, Unit::Count, false)
    }

    /// The figure rests on `n` measurements of what `of` names ("responses", "uploads started").
    pub fn over(self, n: u64, of: &'static str) -> Self {
        Metric { samples: Some(n), of, ..self }
    }

    /// The figure rests on no measurement at all (a percentile of an empty histogram, an error
    /// rate of nothing sent): its value means nothing.
    pub fn is_empty(&self) -> bool {
        self.samples == Some(0)
    }

    pub fn show(&self, v: f64) -> String {
        format!("{}{}", trim(v), self.unit.suffix())
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" {
        "0".into()
    } else {
        s.to_string()
    }
}

pub type Metrics = BTreeMap<String, Metric>;

/// The latency percentiles as metrics named `p50` ... `max` (and a prefix for others), each
/// resting on the histogram's count of what `of` names.
pub fn latency(m: &mut Metrics, prefix: &str, p: &crate::report::model::Percentiles, of: &'static str) {
    for (name, v) in [
        ("p50", p.p50),
        ("p90", p.p90),
        ("p95", p.p95),
        ("p99", p.p99),
        ("p99.9", p.p99_9),
        ("max", p.max),
        ("mean", p.mean),
    ] {
        m.insert(format!("{prefix}{name}"), Metric::ms(v).over(p.count, of));
    }
}

/// The unit a figure is in, from its name (`p99`, `service_p99`, `NAME:errors`, `mbps`), for
/// checking an SLA's units before the run; `None` for a name this vocabulary does not know.
pub fn unit_of(figure: &str) -> Option<Unit> {
    let figure = figure.rsplit_once(':').map_or(figure, |(_, f)| f);
    if LATENCY.iter().any(|p| figure.ends_with(p)) {
        return Some(Unit::Ms);
    }
    match figure {
        "errors" | "success" | "rate" | "share" | "slow_parts" => Some(Unit::Pct),
        "rps" => Some(Unit::PerS),
        "mbps" => Some(Unit::MbPerS),
        "drops" => Some(Unit::Count),
        _ => None,
    }
}

/// The latency figures of one histogram.
const LATENCY: [&str; 7] = ["p50", "p90", "p95", "p99", "p99.9", "max", "mean"];

/// Names of the figures `latency` makes for each prefix, then `extra`: what a workload lists
/// for checking `--sla` before its run.
pub fn names(prefixes: &[&str], extra: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for prefix in prefixes {
        for p in LATENCY {
            out.push(format!("{prefix}{p}"));
        }
    }
    out.extend(extra.iter().map(|e| e.to_string()));
    out
}
