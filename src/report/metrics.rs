//! Named figures of a run (`p99`, `errors`, `rate`, `mbps`, ...), the vocabulary that SLAs
//! (`--sla 'p99<200ms,errors<1%'`, `cli::sla`) and `blast compare` (`cli::compare`) speak.
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
    /// How many measurements a latency figure rests on (none for counts and rates); a figure
    /// with 0 samples has no value, whatever `value` says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<u64>,
}

impl Metric {
    pub fn ms(value: f64) -> Self {
        Metric { value, unit: Unit::Ms, higher_is_better: false, samples: None }
    }
    pub fn pct_low(value: f64) -> Self {
        Metric { value, unit: Unit::Pct, higher_is_better: false, samples: None }
    }
    pub fn pct_high(value: f64) -> Self {
        Metric { value, unit: Unit::Pct, higher_is_better: true, samples: None }
    }
    pub fn per_s(value: f64) -> Self {
        Metric { value, unit: Unit::PerS, higher_is_better: true, samples: None }
    }
    pub fn mb_per_s(value: f64) -> Self {
        Metric { value, unit: Unit::MbPerS, higher_is_better: true, samples: None }
    }
    pub fn count_low(value: f64) -> Self {
        Metric { value, unit: Unit::Count, higher_is_better: false, samples: None }
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

/// The latency percentiles as metrics named `p50` ... `max` (and a prefix for others).
pub fn latency(m: &mut Metrics, prefix: &str, p: &crate::report::model::Percentiles) {
    for (name, v) in [
        ("p50", p.p50),
        ("p90", p.p90),
        ("p95", p.p95),
        ("p99", p.p99),
        ("p99.9", p.p99_9),
        ("max", p.max),
        ("mean", p.mean),
    ] {
        m.insert(format!("{prefix}{name}"), Metric { samples: Some(p.count), ..Metric::ms(v) });
    }
}

/// Names of the figures `latency` makes for each prefix, then `extra`: what a workload lists
/// for checking `--sla` before its run.
pub fn names(prefixes: &[&str], extra: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for prefix in prefixes {
        for p in ["p50", "p90", "p95", "p99", "p99.9", "max", "mean"] {
            out.push(format!("{prefix}{p}"));
        }
    }
    out.extend(extra.iter().map(|e| e.to_string()));
    out
}
