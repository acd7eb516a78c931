//! Two runs compared figure by figure (`blast compare`): the `metrics` each JSON report wrote,
//! per-figure deltas with a direction (a higher p99 is worse, a higher success is better), a
//! noise floor per unit and a tolerance; the table that shows them. The flags and the exit code
//! are `cli::compare`'s.

use crate::report::metrics::{Metric, Metrics, Unit};
use std::fmt::Write as _;

/// The floor of each unit: 0.1 ms for latencies unless given, none for the others.
pub fn floors(given: &[(Unit, f64)]) -> impl Fn(Unit) -> f64 + '_ {
    move |unit| {
        given.iter().rev().find(|(u, _)| *u == unit).map(|(_, v)| *v).unwrap_or(if unit == Unit::Ms {
            DEFAULT_MS_FLOOR
        } else {
            0.0
        })
    }
}

/// Latency changes under this many milliseconds are noise by default.
pub const DEFAULT_MS_FLOOR: f64 = 0.1;

/// Figures compared when none are named: the stable ones (not max, which one outlier moves).
pub const DEFAULT_METRICS: &[&str] = &["p50", "p90", "p95", "p99", "errors", "success", "rate", "rps", "mbps"];

/// One compared figure.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Delta {
    pub metric: String,
    pub unit: Unit,
    /// None: the figure has no samples in that run (no successful response).
    pub baseline: Option<f64>,
    pub current: Option<f64>,
    /// Relative change in percent (positive: larger); none when a side has no value or the
    /// baseline is 0.
    pub change_pct: Option<f64>,
    /// Changes smaller than this (in `unit`) are noise.
    pub floor: f64,
    pub regression: bool,
    /// `ok`, `noise` (under the floor), `regression`, or `no samples`.
    pub verdict: &'static str,
}

/// What `blast compare` reads of a report written with `--json`.
pub struct Compared {
    pub workload: String,
    pub metrics: Metrics,
    /// The run was interrupted (Ctrl-C, Stop, a dead target): its figures cover part of it.
    pub interrupted: bool,
}

/// The `workload`, `metrics` and `interrupted` of a report written with `--json`.
pub fn load(path: &str) -> Result<Compared, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{path}: not JSON: {e}"))?;
    let workload = v.get("workload").and_then(|w| w.as_str()).unwrap_or("unknown").to_string();
    let metrics =
        v.get("metrics").cloned().ok_or_else(|| format!("{path}: no \"metrics\" (was it written by blast --json?)"))?;
    let metrics: Metrics = serde_json::from_value(metrics).map_err(|e| format!("{path}: bad \"metrics\": {e}"))?;
    let interrupted = v.get("interrupted").and_then(|i| i.as_bool()).unwrap_or(false);
    Ok(Compared { workload, metrics, interrupted })
}

/// A figure's value, or none when it rests on no samples.
fn value(m: &Metric) -> Option<f64> {
    (m.samples != Some(0)).then_some(m.value)
}

/// Compares `names` (or the defaults present in both) with a tolerance in percent; a change
/// smaller than its unit's `floor` is noise, and a figure with no samples is worse than any
/// value.
pub fn compare(
    base: &Metrics,
    cur: &Metrics,
    names: Option<&[String]>,
    max_regression_pct: f64,
    floor: impl Fn(Unit) -> f64,
) -> Result<Vec<Delta>, String> {
    let chosen: Vec<String> = match names {
        Some(n) => {
            for name in n {
                if !base.contains_key(name) || !cur.contains_key(name) {
                    return Err(format!("metric '{name}' is not in both reports"));
                }
            }
            n.to_vec()
        }
        None => DEFAULT_METRICS
            .iter()
            .filter(|m| base.contains_key(**m) && cur.contains_key(**m))
            .map(|m| m.to_string())
            .collect(),
    };
    if chosen.is_empty() {
        return Err("the reports have no figure in common".into());
    }
    Ok(chosen
        .into_iter()
        .map(|name| {
            let (b, c): (Metric, Metric) = (base[&name], cur[&name]);
            let floor = floor(b.unit);
            let (baseline, current) = (value(&b), value(&c));
            let (change_pct, regression, verdict) = match (baseline, current) {
                (Some(bv), Some(cv)) => {
                    let change_pct = if bv == 0.0 {
                        if cv == 0.0 {
                            Some(0.0)
                        } else {
                            None
                        }
                    } else {
                        Some((cv - bv) / bv.abs() * 100.0)
                    };
                    let worse_by = if b.higher_is_better { bv - cv } else { cv - bv };
                    let worse_pct = change_pct.map_or(f64::INFINITY, |p| if b.higher_is_better { -p } else { p });
                    if worse_by > 0.0 && worse_by < floor {
                        (change_pct, false, "noise")
                    } else if worse_by > 0.0 && worse_pct > max_regression_pct {
                        (change_pct, true, "regression")
                    } else {
                        (change_pct, false, "ok")
                    }
                }
                // The current run has no value where the baseline had one: worse than any.
                (Some(_), None) => (None, true, "no samples"),
                (None, Some(_)) => (None, false, "ok"),
                (None, None) => (None, false, "no samples"),
            };
            Delta { metric: name, unit: b.unit, baseline, current, change_pct, floor, regression, verdict }
        })
        .collect())
}

/// A figure with its unit, or `no samples`.
fn shown(v: Option<f64>, unit: Unit) -> String {
    match v {
        Some(v) => {
            let s = format!("{v:.3}");
            format!("{}{}", s.trim_end_matches('0').trim_end_matches('.'), unit.suffix())
        }
        None => "no samples".to_string(),
    }
}

pub fn render(deltas: &[Delta], max_regression_pct: f64) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "  {:<14}{:>16}{:>16}{:>10}  verdict (regression beyond {max_regression_pct}%)",
        "metric", "baseline", "current", "change"
    );
    for d in deltas {
        let change = match d.change_pct {
            Some(p) => format!("{p:+.1}%"),
            None if d.baseline.is_some() && d.current.is_some() => "new".to_string(),
            None => "-".to_string(),
        };
        let verdict = match d.verdict {
            "noise" => format!("ok (noise: under {})", shown(Some(d.floor), d.unit)),
            "regression" => "REGRESSION".to_string(),
            "no samples" if d.regression => "REGRESSION (no samples)".to_string(),
            v => v.to_string(),
        };
        let _ = writeln!(
            o,
            "  {:<14}{:>16}{:>16}{:>10}  {verdict}",
            d.metric,
            shown(d.baseline, d.unit),
            shown(d.current, d.unit),
            change
        );
    }
    o
}

/// The comparison as the terminal shows it: heading, table, and the PASS/FAIL line.
pub fn summary(workload: &str, baseline: &str, current: &str, deltas: &[Delta], max_regression_pct: f64) -> String {
    let regressions = deltas.iter().filter(|d| d.regression).count();
    let mut text = format!("blast compare ({workload}): {baseline} -> {current}\n");
    text.push_str(&render(deltas, max_regression_pct));
    let _ = writeln!(
        text,
        "  {}",
        if regressions == 0 { "PASS: no regression".to_string() } else { format!("FAIL: {regressions} regression(s)") }
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(p99: f64, rate: f64, errors: f64) -> Metrics {
        let mut m = Metrics::new();
        m.insert("p99".into(), Metric::ms(p99));
        m.insert("rate".into(), Metric::pct_high(rate));
        m.insert("errors".into(), Metric::pct_low(errors));
        m
    }

    #[test]
    fn direction_decides_what_a_regression_is() {
        let d = compare(&metrics(100.0, 100.0, 0.0), &metrics(115.0, 95.0, 0.0), None, 10.0, floors(&[]))
            .expect("comparable");
        let by: std::collections::HashMap<_, _> = d.iter().map(|d| (d.metric.as_str(), d)).collect();
        assert!(by["p99"].regression, "p99 +15% is worse than 10%");
        assert!(!by["rate"].regression, "rate -5% is within 10%");
        assert!(!by["errors"].regression);
        let d = compare(&metrics(100.0, 100.0, 0.0), &metrics(80.0, 100.0, 0.5), None, 10.0, floors(&[]))
            .expect("comparable");
        let by: std::collections::HashMap<_, _> = d.iter().map(|d| (d.metric.as_str(), d)).collect();
        assert!(!by["p99"].regression, "faster is not a regression");
        assert!(by["errors"].regression, "errors appearing from 0 is one");
        assert!(compare(&metrics(1.0, 1.0, 0.0), &metrics(1.0, 1.0, 0.0), Some(&["p42".into()]), 10.0, floors(&[]))
            .is_err());
    }

    #[test]
    fn sub_floor_changes_are_noise_and_no_samples_is_worst() {
        let d = compare(&metrics(0.145, 100.0, 0.0), &metrics(0.197, 100.0, 0.0), None, 10.0, floors(&[]))
            .expect("comparable");
        assert_eq!((d[0].verdict, d[0].regression), ("noise", false), "0.052 ms is under the 0.1 ms floor");
        let strict = [(Unit::Ms, 0.01)];
        let d = compare(&metrics(0.145, 100.0, 0.0), &metrics(0.197, 100.0, 0.0), None, 10.0, floors(&strict))
            .expect("comparable");
        assert!(d[0].regression, "with --min-delta 0.01ms it is a regression");
        let mut dead = metrics(0.0, 0.0, 100.0);
        dead.insert("p99".into(), Metric { samples: Some(0), ..Metric::ms(0.0) });
        let mut alive = metrics(50.0, 100.0, 0.0);
        alive.insert("p99".into(), Metric { samples: Some(1000), ..Metric::ms(50.0) });
        let d = compare(&alive, &dead, Some(&["p99".into()]), 10.0, floors(&[])).expect("comparable");
        assert_eq!((d[0].current, d[0].regression), (None, true), "no samples is worse than 50 ms");
        let d = compare(&dead, &alive, Some(&["p99".into()]), 10.0, floors(&[])).expect("comparable");
        assert!(!d[0].regression, "any value is better than no samples");
    }
}
