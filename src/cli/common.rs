//! What every command shares: the usage error, the TLS, shard and output flags, signal
//! handling and the core count. Commands import this; it imports no command.

use super::sla::{self, Target};
use crate::report::output::{self, OutputPath, Staged};
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
    pub shard: Option<(u32, u32)>,
    /// Start at this wall-clock time, Unix seconds (so that shards begin together).
    #[arg(long, value_parser = units::parse_start_at, value_name = "UNIX_SECONDS")]
    pub start_at: Option<std::time::SystemTime>,
}

impl ShardArgs {
    /// (index, count); (0, 1) for an unsharded run.
    pub fn get(&self) -> (u32, u32) {
        self.shard.unwrap_or((0, 1))
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
    /// Checks everything about the outputs before the run, so that a bad path or SLA fails at
    /// once and not after the run: every file's directory exists and is writable and no two
    /// outputs share a path (no file is created or touched); parses `--sla` against the figures
    /// the workload reports (`metric_names`).
    pub fn check(&self, metric_names: &[String]) -> Result<Option<Vec<Target>>, UsageError> {
        output::check(&self.paths()?)?;
        self.sla_targets(metric_names)
    }

    /// Every file this command will write, with the flag that named it.
    pub fn paths(&self) -> Result<Vec<OutputPath>, UsageError> {
        let mut paths = Vec::new();
        for (flag, path) in [("--html", &self.html), ("--hdr-log", &self.hdr_log), ("--csv", &self.csv)] {
            if path.as_deref() == Some("-") {
                return Err(format!("{flag}: '-' (stdout) is only for --json; give a file").into());
            }
        }
        if let Some(path) = self.json.as_deref().filter(|p| *p != "-") {
            paths.push(OutputPath::new("--json", path));
        }
        if let Some(prefix) = &self.csv {
            paths.extend(crate::report::csv::paths(prefix).into_iter().map(|p| OutputPath::new("--csv", p)));
        }
        if let Some(path) = &self.html {
            paths.push(OutputPath::new("--html", path));
        }
        if let Some(path) = &self.hdr_log {
            paths.push(OutputPath::new("--hdr-log", path));
        }
        Ok(paths)
    }

    /// Whether stdout is the JSON report's (`--json -`): everything else then goes to stderr.
    pub fn json_to_stdout(&self) -> bool {
        self.json.as_deref() == Some("-")
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

    /// Prints the summary and the SLA verdicts (to stderr with `--json -`), writes every
    /// requested file (each to a temporary file, renamed over its path once all are written),
    /// and returns the exit code: 1 when interrupted or an SLA target was missed; without
    /// `--sla`, 1 when anything failed; else 0.
    pub fn finish<R: Report>(&self, report: &R, sla: Option<&[Target]>) -> Result<ExitCode, UsageError> {
        let figures = report.metrics();
        let verdicts = sla.map(|t| sla::evaluate(t, &figures)).unwrap_or_default();
        let mut summary = report.render();
        for v in &verdicts {
            summary.push_str(&format!("  {}\n", v.line));
        }
        // Every output passes through `redact`: no token or credential is printed or written
        // (files through `Staged`, which masks each as it writes it).
        let summary = crate::redact::text(&summary);
        if self.json_to_stdout() {
            eprint!("{summary}");
        } else {
            print!("{summary}");
        }
        let mut staged = Staged::default();
        let mut json_out = None;
        if let Some(path) = &self.json {
            let mut value = serde_json::to_value(report).map_err(|e| format!("--json: {e}"))?;
            if let Some(obj) = value.as_object_mut() {
                obj.insert("metrics".into(), serde_json::to_value(&figures).unwrap_or_default());
                obj.insert("sla".into(), serde_json::to_value(&verdicts).unwrap_or_default());
            }
            let text = json_text(&value).map_err(|e| format!("--json: {e}"))?;
            if path == "-" {
                json_out = Some(text);
            } else {
                staged.write(path.as_ref(), text.as_bytes()).map_err(|e| format!("--json {path}: {e}"))?;
            }
        }
        if let Some(prefix) = &self.csv {
            crate::report::csv::write(&mut staged, prefix, report.measurements(), self.csv_full_history)
                .map_err(|e| format!("--csv {prefix}: {e}"))?;
        }
        if let Some(path) = &self.html {
            let mut page = report.html();
            page.verdicts = verdicts.iter().map(|v| (v.pass, v.line.clone())).collect();
            let html = crate::report::html::render(&page);
            staged.write(path.as_ref(), html.as_bytes()).map_err(|e| format!("--html {path}: {e}"))?;
        }
        if let Some(path) = &self.hdr_log {
            staged
                .write_with(path.as_ref(), |tmp| report.write_hdr_log(&tmp.to_string_lossy()))
                .map_err(|e| format!("--hdr-log {path}: {e}"))?;
        }
        staged.commit().map_err(|e| format!("cannot write the reports: {e}"))?;
        if let Some(text) = json_out {
            print!("{}", crate::redact::text(&text));
        }
        let ok = match sla {
            Some(_) => verdicts.iter().all(|v| v.pass) && !report.interrupted() && report.sound(),
            None => report.clean() && report.sound(),
        };
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

/// A value as pretty JSON, ending in a newline.
pub fn json_text<T: serde::Serialize>(s: &T) -> serde_json::Result<String> {
    Ok(serde_json::to_string_pretty(s)? + "\n")
}

/// Writes a value as pretty JSON to `path` (`-` for stdout) through a temporary file beside it.
pub fn write_json<T: serde::Serialize>(s: &T, path: &str) -> std::io::Result<()> {
    let json = json_text(s).map_err(std::io::Error::other)?;
    if path == "-" {
        print!("{}", crate::redact::text(&json));
        Ok(())
    } else {
        let mut staged = Staged::default();
        staged.write(path.as_ref(), json.as_bytes())?;
        staged.commit()
    }
}
