//! `blast import FILE [-o scenario.toml] [--host URL] [--rate R] [--users N]`: flags, then
//! `crate::import`. Exit 0 when everything was translated, 1 when some constructs were not
//! (each is a comment in the output and listed on stderr), 2 when the input cannot be read.

use super::common::UsageError;
use crate::units;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// A Locust file (.py), a HAR export (.har, JSON) or an OpenAPI 3 document (JSON or YAML).
    pub file: PathBuf,
    /// Where to write the profile (default: stdout).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// The target (http://host:port) instead of the file's host.
    #[arg(long)]
    pub host: Option<String>,
    /// The arrival rate instead of the one computed from Locust's wait_time.
    #[arg(long, value_parser = units::parse_rate)]
    pub rate: Option<f64>,
    /// Locust's `-u`: the virtual users the profile runs (`users = N`; each runs `on_start`
    /// once) and the suggested rate is computed for.
    #[arg(long, default_value = "100", value_parser = units::parse_count)]
    pub users: usize,
}

pub fn run(args: ImportArgs) -> Result<ExitCode, UsageError> {
    let opts = crate::import::Options {
        host: args.host,
        rate: args.rate,
        users: args.users.max(1) as u64,
        output: args.output.clone(),
    };
    let out = crate::import::import(&args.file, &opts)?;
    match &args.output {
        Some(path) => std::fs::write(path, &out.toml).map_err(|e| format!("{}: {e}", path.display()))?,
        None => print!("{}", out.toml),
    }
    eprintln!("blast import: {}: {}", out.source, out.summary);
    for s in &out.skipped {
        eprintln!("  {}:{}: {}  ({})", out.source, s.line, s.source, s.why);
    }
    Ok(ExitCode::from(if out.skipped.is_empty() { 0 } else { 1 }))
}
