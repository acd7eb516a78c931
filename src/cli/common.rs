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
        if let Some(path) = &self.ca_cert {
            std::fs::metadata(path).map_err(|e| format!("--ca-cert {}: {e}", path.display()))?;
        }
        if !tls {
            let given: Vec<&str> = [(self.ca_cert.is_some(), "--ca-cert"), (self.insecure, "--insecure")]
                .into_iter()
                .filter_map(|(on, flag)| on.then_some(flag))
                .collect();
            if !given.is_empty() {
                let (verb, them) = if given.len() == 1 { ("applies", "it is") } else { ("apply", "they are") };
                eprintln!(
                    "blast: note: {} only {verb} to https:// and wss:// targets; this target is plain, so {them} ignored",
                    given.join(" and ")
                );
            }
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
    #[arg(long, value_parser = str::parse::<crate::engine::Shard>, value_name = "I/N")]
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
/// one ends the process at once (exit 130), saying that no report was written.
pub fn stop_on_signals() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    use std::sync::atomic::Ordering;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let flag = stop.clone();
        // SAFETY: the handler only swaps an atomic, write(2)s a static message and _exit(2)s:
        // all async-signal-safe.
        let _ = unsafe {
            signal_hook::low_level::register(sig, move || {
                if flag.swap(true, Ordering::SeqCst) {
                    const SAID: &[u8] = b"\nblast: interrupted again: exiting now; the reports were not written\n";
                    libc::write(2, SAID.as_ptr().cast(), SAID.len());
                    libc::_exit(130);
                }
            })
        };
    }
    stop
}

/// `--cores N` checked against the cores this process may run on: one pinned worker per core,
/// so more workers than cores would be a run that is not what it says.
pub fn check_cores(cores: Option<usize>) -> Result<Option<usize>, UsageError> {
    let available = available_cores();
    match cores {
        Some(c) if c > available => Err(format!(
            "--cores {c}: blast may run on {available} core{} here (one pinned worker per core)",
            if available == 1 { "" } else { "s" }
        )
        .into()),
        _ => Ok(cores),
    }
}

/// Cores this process may run on.
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `9464`, `:9464`, `localhost:9464` (loopback), or `IP:PORT`.
pub fn parse_listen(s: &str) -> Result<std::net::SocketAddr, String> {
    let t = s.trim();
    let bad = || format!("'{s}' is not a listen address (try 127.0.0.1:9464 or :9464)");
    let port_only = t.strip_prefix(':').unwrap_or(t);
    if let Ok(port) = port_only.parse::<u16>() {
        return Ok(std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), port));
    }
    if let Some(port) = t.strip_prefix("localhost:") {
        return Ok(std::net::SocketAddr::new(
            std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            port.parse().map_err(|_| bad())?,
        ));
    }
    t.parse::<std::net::SocketAddr>().map_err(|_| bad())
}
