//! `blast merge SHARD.json...`: the shards of one `blast api` run (`--shard I/N`) merged into
//! the report a single run would have written: terminal, JSON, CSV, HTML, SLAs.

use super::UsageError;
use crate::report::raw::{self, RawRun};
use crate::report::Summary;
use clap::Args;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The shards' JSON reports (written with --json).
    #[arg(required = true, num_args = 1..)]
    pub reports: Vec<String>,
    #[command(flatten)]
    pub out: super::OutputArgs,
}

pub fn run(a: MergeArgs) -> Result<ExitCode, UsageError> {
    let mut shards = Vec::new();
    let mut first: Option<serde_json::Value> = None;
    for path in &a.reports {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{path}: not JSON: {e}"))?;
        let raw = v
            .get("raw")
            .cloned()
            .ok_or_else(|| format!("{path}: no \"raw\" measurements (only blast api reports merge)"))?;
        let raw: RawRun = serde_json::from_value(raw).map_err(|e| format!("{path}: bad \"raw\": {e}"))?;
        shards.push(raw);
        first.get_or_insert(v);
    }
    let first = first.ok_or("no reports given")?;
    let text = |k: &str| first.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
    let (plan, outcome) = raw::merge(&shards)?;
    let sla = a.out.check(&crate::report::api::metric_names())?;
    let mut summary = Summary::build(&text("workload"), &text("target"), &plan, &outcome);
    summary.method = text("method");
    a.out.finish(&summary, sla.as_deref())
}
