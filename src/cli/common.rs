//! What every command shares: the usage error, the TLS, shard and output flags, signal
//! handling and the core count. Commands import this; it imports no command.

use crate::report::sla::{self, Target};
use crate::report::write::{self, Destinations};
use crate::report::Report;
use crate::units;
use clap::Args;
use std::process::ExitCode;

pub use crate::usage::UsageError;

/// How https:// and wss:// targets are trusted.
#[derive(Args, Debug, Clone, Default)]
pub struct TlsArgs {
    /// Trust this CA or self-signed certificate (PEM) for https:// and wss:// targets, besides
    /// the built-in Mozilla roots.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<std::path::PathBuf>,
    /// Do not verify the target's TLS certificate (self-signed test targets); the handshake's
    /// signatures are still checked.
    #[arg(long)]
    pub insecure: bool,
}

impl TlsArgs {
    /// The TLS client when the target needs one (`tls`), checked now so that a bad --ca-cert
    /// fails before the run.
    pub fn client(&self, tls: bool) -> Result<Option<crate::tls::ClientTls>, UsageError> {
        if !tls {
            return Ok(None);
        }
        Ok(Some(crate::tls::ClientTls::new(self.ca_cert.as_deref(), self.insecure)?))
    }
}

/// Running one run as N processes (machines): each takes its share, `blast merge` joins them.
#[derive(Args, Debug, Clone, Default)]
pub struct ShardArgs {
    /// Run shard I (from 0) of N: this process takes every N-th request, connection or upload
    /// of the run's schedule, so N processes (machines) reproduce one run; merge their --json
    /// reports with `blast merge`.
    #[arg(long, value_parser = units::parse_shard, value_name = "I/N")]
    pub shard: Option<crate::engine::Shard>,
    /// Start at this wall-clock time, Unix seconds (so that shards begin together).
    #[arg(long, value_parser = units::parse_start_at, value_name = "UNIX_SECONDS")]
    pub start_at: Option<std::time::SystemTime>,
}

impl ShardArgs {
    /// This process's shard; the whole run when unsharded.
    pub fn get(&self) -> crate::engine::Shard {
        self.shard.unwrap_or_default()
    }
}

/// Flags every workload shares: where the report goes, progress, pinning.
#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// Write the results as JSON to this file ('-' for stdout: the text summary then goes to
    /// stderr, so that stdout is only JSON).
    #[arg(long, value_name = "FILE")]
    pub json: Option<String>,
    /// Locust-compatible CSV files: PREFIX_stats.csv, PREFIX_stats_history.csv,
    /// PREFIX_failures.csv, PREFIX_exceptions.csv.
    #[arg(long, value_name = "PREFIX")]
    pub csv: Option<String>,
    /// With --csv: every request name's row in PREFIX_stats_history.csv each second, not only
    /// Aggregated (Locust's flag).
    #[arg(long, requires = "csv")]
    pub csv_full_history: bool,
    /// A self-contained HTML report (charts, percentile spectrum, tables).
    #[arg(long, value_name = "FILE")]
    pub html: Option<String>,
    /// Latency histograms as an HdrHistogram interval log.
    #[arg(long, value_name = "FILE")]
    pub hdr_log: Option<String>,
    /// Targets checked at the end, e.g. 'p99<200ms,errors<1%,rate>=99%': a PASS/FAIL line each,
    /// exit 1 when one is missed.
    #[arg(long)]
    pub sla: Option<String>,
    /// No live progress lines.
    #[arg(long, short)]
    pub quiet: bool,
    /// Do not pin worker threads to cores.
    #[arg(long)]
    pub no_pin: bool,
}

impl OutputArgs {
    /// Where the reports go.
    pub fn destinations(&self) -> Destinations {
        Destinations {
            json: self.json.clone(),
            csv: self.csv.clone(),
            csv_full_history: self.csv_full_history,
            html: self.html.clone(),
            hdr_log: self.hdr_log.clone(),
        }
    }

    /// Checks everything about the outputs before the run, so that a bad path or SLA fails at
    /// once and not after the run: the report paths (`Destinations::check`) and `--sla` against
    /// the figures the workload reports (`metric_names`).
    pub fn check(&self, metric_names: &[String]) -> Result<Option<Vec<Target>>, UsageError> {
        self.destinations().check()?;
        self.sla_targets(metric_names)
    }

    /// Whether stdout is the JSON report's (`--json -`): everything else then goes to stderr.
    pub fn json_to_stdout(&self) -> bool {
        self.destinations().json_to_stdout()
    }

    /// Parses `--sla` against the figures the workload reports (no files touched).
    pub fn sla_targets(&self, metric_names: &[String]) -> Result<Option<Vec<Target>>, UsageError> {
        match &self.sla {
            Some(spec) => {
                let targets = sla::parse_sla(spec).map_err(|e| format!("--sla: {e}"))?;
                sla::check_names(&targets, metric_names).map_err(|e| format!("--sla: {e}"))?;
                Ok(Some(targets))
            }
            None => Ok(None),
        }
    }

    /// Writes the reports (`report::write`) and returns the exit code: 1 when interrupted or
    /// an SLA target was missed; without `--sla`, 1 when anything failed; else 0.
    pub fn finish<R: Report>(&self, report: &R, sla: Option<&[Target]>) -> Result<ExitCode, UsageError> {
        let ok = write::write(report, &self.destinations(), sla)?;
        Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
    }
}

/// A flag that the first Ctrl-C or SIGTERM sets (the run then stops and reports); a second
/// one ends the process at once.
pub fn stop_on_signals() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register_conditional_shutdown(sig, 130, stop.clone());
        let _ = signal_hook::flag::register(sig, stop.clone());
    }
    stop
}

/// Cores this process may run on.
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
