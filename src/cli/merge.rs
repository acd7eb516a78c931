//! `blast merge SHARD.json...`: the shards of one run (`--shard I/N` of `blast api`, `ws` or
//! `upload`) merged into the report a single run would have written: terminal, JSON, CSV,
//! HTML, SLAs. Each report carries its raw measurements (`workloads::*::raw`); the workload
//! named in the first report reads them back and merges them (`driver::Workload::merge`), and the
//! driver writes the outputs as for a live run (`driver::merged`).

use super::api::ApiCommand;
use super::common::UsageError;
use super::driver;
use super::upload::UploadCommand;
use super::ws::WsCommand;
use clap::Args;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The shards' JSON reports (written with --json).
    #[arg(required = true, num_args = 1..)]
    pub reports: Vec<String>,
    #[command(flatten)]
    pub out: super::common::OutputArgs,
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
    let jsons: Vec<driver::ShardJson> =
        reports.iter().map(|r| driver::ShardJson { path: &r.path, json: &r.json }).collect();
    match first.workload.as_str() {
        "ws" => driver::merged::<WsCommand>(&jsons, &a.out),
        "upload" => driver::merged::<UploadCommand>(&jsons, &a.out),
        _ => driver::merged::<ApiCommand<'_>>(&jsons, &a.out),
    }
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
}
