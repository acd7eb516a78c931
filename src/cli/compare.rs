//! `blast compare`: flags -> two reports -> deltas and an exit code.

use super::common::UsageError;
use crate::report::compare;
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
    let (wb, base) = compare::load(&a.baseline)?;
    let (wc, cur) = compare::load(&a.current)?;
    if wb != wc {
        return Err(format!("cannot compare a '{wb}' run with a '{wc}' run").into());
    }
    let names = (!a.metrics.is_empty()).then_some(a.metrics.as_slice());
    let deltas = compare::compare(&base, &cur, names, a.max_regression)?;
    println!("blast compare ({wb}): {} -> {}", a.baseline, a.current);
    print!("{}", compare::render(&deltas, a.max_regression));
    let regressions = deltas.iter().filter(|d| d.regression).count();
    println!(
        "  {}",
        if regressions == 0 { "PASS: no regression".to_string() } else { format!("FAIL: {regressions} regression(s)") }
    );
    if let Some(path) = &a.json {
        crate::report::write_json(&deltas, path).map_err(|e| format!("--json {path}: {e}"))?;
    }
    Ok(if regressions == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
