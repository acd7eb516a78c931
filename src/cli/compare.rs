//! `blast compare BASELINE.json CURRENT.json`: the flags, then `report::compare` (per-figure
//! deltas and a verdict on regressions, the seeds' baseline comparison on exact figures) and an
//! exit code.

use super::common::UsageError;
use crate::report::compare::{compare, floors, load, summary};
use crate::report::metrics::Unit;
use clap::Args;
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
    /// Changes smaller than this, in a figure's unit, are noise and never a regression,
    /// comma-separated per unit, e.g. 0.5ms,0.1%,5/s,1MB/s (default: 0.1ms; other units none).
    #[arg(long, value_delimiter = ',', value_parser = parse_floor, value_name = "DELTA")]
    pub min_delta: Vec<(Unit, f64)>,
    /// Figures to compare, comma-separated (default: p50,p90,p95,p99,errors,success,rate,rps,mbps where present).
    #[arg(long, value_delimiter = ',')]
    pub metrics: Vec<String>,
    /// Write the deltas as JSON to this file ('-' for stdout: the table then goes to stderr).
    #[arg(long, value_name = "FILE")]
    pub json: Option<String>,
}

fn parse_pct(s: &str) -> Result<f64, String> {
    let v: f64 = s.trim().trim_end_matches('%').parse().map_err(|_| format!("'{s}' is not a percentage"))?;
    if !(0.0..=1000.0).contains(&v) {
        return Err(format!("'{s}' must be between 0% and 1000%"));
    }
    Ok(v)
}

/// `0.5ms`, `200us`, `1s`, `0.1%`, `5/s`, `1MB/s` or a plain count: (unit, floor in that unit).
fn parse_floor(s: &str) -> Result<(Unit, f64), String> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let v: f64 = num.parse().map_err(|_| format!("'{s}' is not a number with a unit (e.g. 0.5ms, 0.1%, 5/s)"))?;
    let (unit, scale) = match unit.trim() {
        "ms" => (Unit::Ms, 1.0),
        "us" | "µs" => (Unit::Ms, 1e-3),
        "s" => (Unit::Ms, 1e3),
        "%" => (Unit::Pct, 1.0),
        "/s" => (Unit::PerS, 1.0),
        "MB/s" => (Unit::MbPerS, 1.0),
        "" => (Unit::Count, 1.0),
        other => return Err(format!("'{s}': unknown unit '{other}' (possible: ms, us, s, %, /s, MB/s, none)")),
    };
    Ok((unit, v * scale))
}

pub fn run(a: CompareArgs) -> Result<ExitCode, UsageError> {
    let base = load(&a.baseline)?;
    let cur = load(&a.current)?;
    let (wb, wc) = (&base.workload, &cur.workload);
    if wb != wc {
        return Err(format!("cannot compare a '{wb}' run with a '{wc}' run").into());
    }
    if let Some(path) = a.json.as_deref().filter(|p| *p != "-") {
        crate::report::output::check(&[crate::report::output::OutputPath::new("--json", path)])?;
    }
    let names = (!a.metrics.is_empty()).then_some(a.metrics.as_slice());
    let deltas = compare(&base.metrics, &cur.metrics, names, a.max_regression, floors(&a.min_delta))?;
    let mut regressions = deltas.iter().filter(|d| d.regression).count();
    let mut text = summary(wb, &a.baseline, &a.current, &deltas, a.max_regression);
    // An interrupted run measured part of what it planned: it cannot pass as the current run,
    // and as a baseline it is said.
    if cur.interrupted {
        regressions += 1;
        text.push_str("  FAIL: the current run was interrupted: its figures cover only part of the run\n");
    }
    if base.interrupted {
        text.push_str("  note: the baseline run was interrupted: its figures cover only part of the run\n");
    }
    if a.json.as_deref() == Some("-") {
        eprint!("{text}");
    } else {
        print!("{text}");
    }
    if let Some(path) = &a.json {
        crate::report::write::write_json(&deltas, path).map_err(|e| format!("--json {path}: {e}"))?;
    }
    Ok(if regressions == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floors_take_a_unit() {
        assert_eq!(parse_floor("200us").expect("floor"), (Unit::Ms, 0.2));
        assert!(parse_floor("3 parsecs").is_err());
    }
}
