//! `blast compare BASELINE.json CURRENT.json`: flags -> two runs' JSON reports -> per-figure
//! deltas and a verdict on regressions (the seeds' baseline comparison, on exact figures) and an
//! exit code. It reads the `metrics` that reports wrote; it renders no report of its own.

use super::common::UsageError;
use crate::report::metrics::{Metric, Metrics};
use clap::Args;
use std::fmt::Write as _;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// The baseline run's JSON report (from --json).
    pub baseline: String,
    /// The run to check against it.
    pub current: String,
    /// Largest change for the worse that is not a regression, e.g. 10%.
    #[arg(long, default_value = "10%", value_parser = parse_pct)]
    pub max_regression: f64,
    /// Figures to compare, comma-separated (default: p50,p90,p95,p99,errors,success,rate,rps,mbps where present).
    #[arg(long, value_delimiter = ',')]
    pub metrics: Vec<String>,
    /// Write the deltas as JSON to this file ('-' for stdout).
    #[arg(long)]
    pub json: Option<String>,
}

fn parse_pct(s: &str) -> Result<f64, String> {
    let v: f64 = s.trim().trim_end_matches('%').parse().map_err(|_| format!("'{s}' is not a percentage"))?;
    if !(0.0..=1000.0).contains(&v) {
        return Err(format!("'{s}' must be between 0% and 1000%"));
    }
    Ok(v)
}

pub fn run(a: CompareArgs) -> Result<ExitCode, UsageError> {
    let (wb, base) = load(&a.baseline)?;
    let (wc, cur) = load(&a.current)?;
    if wb != wc {
        return Err(format!("cannot compare a '{wb}' run with a '{wc}' run").into());
    }
    let names = (!a.metrics.is_empty()).then_some(a.metrics.as_slice());
    let deltas = compare(&base, &cur, names, a.max_regression)?;
    println!("blast compare ({wb}): {} -> {}", a.baseline, a.current);
    print!("{}", render(&deltas, a.max_regression));
    let regressions = deltas.iter().filter(|d| d.regression).count();
    println!(
        "  {}",
        if regressions == 0 { "PASS: no regression".to_string() } else { format!("FAIL: {regressions} regression(s)") }
    );
    if let Some(path) = &a.json {
        super::common::write_json(&deltas, path).map_err(|e| format!("--json {path}: {e}"))?;
    }
    Ok(if regressions == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Figures compared when none are named: the stable ones (not max, which one outlier moves).
pub const DEFAULT_METRICS: &[&str] = &["p50", "p90", "p95", "p99", "errors", "success", "rate", "rps", "mbps"];

/// One compared figure.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Delta {
    pub metric: String,
    pub baseline: f64,
    pub current: f64,
    /// Relative change in percent (positive: larger).
    pub change_pct: f64,
    pub regression: bool,
}

/// The `workload` and `metrics` of a report written with `--json`.
pub fn load(path: &str) -> Result<(String, Metrics), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{path}: not JSON: {e}"))?;
    let workload = v.get("workload").and_then(|w| w.as_str()).unwrap_or("unknown").to_string();
    let metrics =
        v.get("metrics").cloned().ok_or_else(|| format!("{path}: no \"metrics\" (was it written by blast --json?)"))?;
    let metrics: Metrics = serde_json::from_value(metrics).map_err(|e| format!("{path}: bad \"metrics\": {e}"))?;
    Ok((workload, metrics))
}

/// Compares `names` (or the defaults present in both) with a tolerance in percent.
pub fn compare(
    base: &Metrics,
    cur: &Metrics,
    names: Option<&[String]>,
    max_regression_pct: f64,
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
            let change_pct = if b.value == 0.0 {
                if c.value == 0.0 {
                    0.0
                } else {
                    f64::INFINITY.copysign(c.value)
                }
            } else {
                (c.value - b.value) / b.value.abs() * 100.0
            };
            let worse = if b.higher_is_better { -change_pct } else { change_pct };
            Delta {
                metric: name,
                baseline: b.value,
                current: c.value,
                change_pct,
                regression: worse > max_regression_pct,
            }
        })
        .collect())
}

pub fn render(deltas: &[Delta], max_regression_pct: f64) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "  {:<14}{:>14}{:>14}{:>10}  verdict (regression beyond {max_regression_pct}%)",
        "metric", "baseline", "current", "change"
    );
    for d in deltas {
        let change = if d.change_pct.is_finite() { format!("{:+.1}%", d.change_pct) } else { "new".to_string() };
        let _ = writeln!(
            o,
            "  {:<14}{:>14.3}{:>14.3}{:>10}  {}",
            d.metric,
            d.baseline,
            d.current,
            change,
            if d.regression { "REGRESSION" } else { "ok" }
        );
    }
    o
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
        let d = compare(&metrics(100.0, 100.0, 0.0), &metrics(115.0, 95.0, 0.0), None, 10.0).expect("comparable");
        let by: std::collections::HashMap<_, _> = d.iter().map(|d| (d.metric.as_str(), d)).collect();
        assert!(by["p99"].regression, "p99 +15% is worse than 10%");
        assert!(!by["rate"].regression, "rate -5% is within 10%");
        assert!(!by["errors"].regression);
        let d = compare(&metrics(100.0, 100.0, 0.0), &metrics(80.0, 100.0, 0.5), None, 10.0).expect("comparable");
        let by: std::collections::HashMap<_, _> = d.iter().map(|d| (d.metric.as_str(), d)).collect();
        assert!(!by["p99"].regression, "faster is not a regression");
        assert!(by["errors"].regression, "errors appearing from 0 is one");
        assert!(compare(&metrics(1.0, 1.0, 0.0), &metrics(1.0, 1.0, 0.0), Some(&["p42".into()]), 10.0).is_err());
    }
}
