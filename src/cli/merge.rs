//! `blast merge SHARD.json...`: the shards of one run (`--shard I/N` of `blast api`, `ws` or
//! `upload`) merged into the report a single run would have written: terminal, JSON, CSV,
//! HTML, SLAs.

use super::common::UsageError;
use crate::report::raw;
use crate::report::ws::WsSummary;
use crate::report::{api::ApiSummary, upload::UploadSummary};
use clap::Args;
use serde::de::DeserializeOwned;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The shards' JSON reports (written with --json).
    #[arg(required = true, num_args = 1..)]
    pub reports: Vec<String>,
    #[command(flatten)]
    pub out: super::common::OutputArgs,
}

/// One shard's report: its workload name, the whole JSON, and the path (for errors).
struct ShardReport {
    path: String,
    workload: String,
    json: serde_json::Value,
}

impl ShardReport {
    fn read(path: &str) -> Result<Self, UsageError> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{path}: not JSON: {e}"))?;
        let workload = match json.get("workload").and_then(|w| w.as_str()) {
            Some("api" | "demo") => "api",
            Some(w @ ("ws" | "upload")) => w,
            _ => return Err(format!("{path}: not a blast api, ws or upload report").into()),
        };
        Ok(ShardReport { path: path.to_string(), workload: workload.to_string(), json })
    }

    fn text(&self, key: &str) -> String {
        self.json.get(key).and_then(|v| v.as_str()).unwrap_or_default().to_string()
    }

    /// The raw measurements every report carries (`raw`).
    fn raw<T: DeserializeOwned>(&self) -> Result<T, UsageError> {
        let path = &self.path;
        let raw = self.json.get("raw").cloned().ok_or_else(|| format!("{path}: no \"raw\" measurements"))?;
        Ok(serde_json::from_value(raw).map_err(|e| format!("{path}: bad \"raw\": {e}"))?)
    }
}

pub fn run(a: MergeArgs) -> Result<ExitCode, UsageError> {
    let reports = a.reports.iter().map(|p| ShardReport::read(p)).collect::<Result<Vec<_>, _>>()?;
    let first = reports.first().ok_or("no reports given")?;
    if let Some(other) = reports.iter().find(|r| r.workload != first.workload) {
        return Err(format!(
            "{} is from blast {}, {} from blast {}: merge the shards of one run",
            first.path, first.workload, other.path, other.workload
        )
        .into());
    }
    match first.workload.as_str() {
        "ws" => {
            let merged = raw::ws::merge(raws(&reports)?)?;
            let sla = a.out.check(&crate::report::ws::metric_names())?;
            a.out.finish(&WsSummary::from_raw(merged), sla.as_deref())
        }
        "upload" => {
            let merged = raw::upload::merge(raws(&reports)?)?;
            let sla = a.out.check(&crate::report::upload::metric_names())?;
            a.out.finish(&UploadSummary::from_raw(merged), sla.as_deref())
        }
        _ => {
            let (plan, outcome, names) = raw::api::merge(&raws(&reports)?)?;
            let sla = a.out.check(&crate::report::api::metric_names(&names))?;
            let summary = ApiSummary::build(
                &first.text("workload"),
                &first.text("target"),
                &first.text("method"),
                &plan,
                &outcome,
                &names,
            );
            a.out.finish(&summary, sla.as_deref())
        }
    }
}

fn raws<T: DeserializeOwned>(reports: &[ShardReport]) -> Result<Vec<T>, UsageError> {
    reports.iter().map(|r| r.raw()).collect()
}
