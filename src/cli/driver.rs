//! The one skeleton every workload command runs through (`run`): flags to a checked run, the
//! OS limits it needs, `--sla` and the report paths checked before anything is sent, signals,
//! the announcement, the live progress line, `--metrics-listen` and `--web` once a second, the summary
//! and report files, the exit code. `check` is `blast run --dry-run`; `merged` is `blast merge`
//! of one workload. A workload command says only what is its own
//! (`Workload`); adding one is an impl of it and an arm in `Command` and in `cli::merge`.

use super::common::{stop_on_signals, OutputArgs, UsageError};
use super::metrics_listen::{LiveMetrics, MetricsArgs};
use super::web::Steer;
use crate::report::live_view::Detail;
use crate::report::progress::{Progress, Reading};
use crate::report::Report;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// What a workload command brings to the driver.
pub trait Workload {
    /// A run checked and ready: the plan and what it runs with.
    type Run;
    /// What the run hands over once a second.
    type Live<'a>;
    /// What the live views keep from one second to the next.
    type Watch;
    type Outcome;
    type Summary: Report;

    /// The flags every workload has: the reports' (`--json`, `--sla`, `-q`, ...) and
    /// `--metrics-listen`.
    fn shared_flags(&self) -> (&OutputArgs, &MetricsArgs);
    /// Flags to a checked run, without side effects (`--dry-run` stops here).
    fn prepare(&self) -> Result<Self::Run, UsageError>;
    /// The figures `--sla` may name.
    fn metric_names(run: &Self::Run) -> Vec<String>;
    /// What the OS must allow before anything starts (descriptors).
    fn preflight(run: &Self::Run) -> Result<(), UsageError>;
    /// The line that says what is about to happen, if the workload has one.
    fn announce(_run: &Self::Run) -> Option<String> {
        None
    }
    /// What the live page (`--web`) calls the run.
    fn title(run: &Self::Run) -> String {
        Self::announce(run).unwrap_or_else(|| "blast".into())
    }
    /// The rate control the live page's set-rate uses, for workloads with a rate to set.
    fn steer(_run: &Self::Run) -> Option<std::sync::Arc<dyn Steer>> {
        None
    }
    /// What the live page shows of a second beyond the progress reading (latency per second,
    /// heatmap column, per-name table), where the workload has it.
    fn detail(_watch: &Self::Watch, _live: &Self::Live<'_>) -> Detail {
        Detail::default()
    }
    /// The run's plan as it ran, after the run (a rate set from the page is a stage of it).
    fn ran(_run: &mut Self::Run) {}
    /// How long the run is expected to take (the progress line's `[elapsed/length]`).
    fn length(run: &Self::Run) -> Option<Duration>;
    fn watch(run: &Self::Run) -> Self::Watch;
    /// One second of the run: `--metrics-listen` updated, the progress line's reading.
    fn second(watch: &mut Self::Watch, live: &Self::Live<'_>, metrics: Option<&mut LiveMetrics>) -> Reading;
    /// Runs to the end, or until `stop`; `each_second` gets what the run hands over.
    fn execute(
        run: &mut Self::Run,
        stop: Arc<AtomicBool>,
        each_second: impl FnMut(&Self::Live<'_>),
    ) -> Result<Self::Outcome, UsageError>;
    fn summary(run: &Self::Run, outcome: &Self::Outcome) -> Self::Summary;
    /// A line said before the reports (why a run stopped early).
    fn notice(_run: &Self::Run, _outcome: &Self::Outcome, _summary: &Self::Summary) -> Option<String> {
        None
    }
    /// The exit code, given the reports' (`code`): a run that could not measure anything fails
    /// whatever an SLA says.
    fn exit(_run: &Self::Run, _outcome: &Self::Outcome, code: ExitCode) -> ExitCode {
        code
    }
    /// Shard reports of this workload merged into one run's summary (`blast merge`).
    fn merge(shards: &[ShardJson<'_>]) -> Result<Self::Summary, UsageError>;
    /// The figures `--sla` may name in a merged run.
    fn merged_metric_names(summary: &Self::Summary) -> Vec<String>;
}

/// Runs a workload command from its flags to its exit code.
pub fn run<W: Workload>(cmd: W) -> Result<ExitCode, UsageError> {
    let mut run = cmd.prepare()?;
    W::preflight(&run)?;
    let (out, metrics) = cmd.shared_flags();
    let sla = out.check(&W::metric_names(&run))?;
    let stop = stop_on_signals();
    if !out.quiet {
        if let Some(line) = W::announce(&run) {
            eprintln!("{line}");
        }
    }
    let mut progress = Progress::new(out.quiet, W::length(&run));
    let mut web = metrics.web.start(&W::title(&run), stop.clone(), W::steer(&run))?;
    let mut metrics = metrics.start()?;
    let mut watch = W::watch(&run);
    let outcome = W::execute(&mut run, stop, |live| {
        let reading = W::second(&mut watch, live, metrics.as_mut());
        if let Some(web) = web.as_mut() {
            web.second(&reading, W::detail(&watch, live));
        }
        progress.update(&reading);
    })?;
    progress.finish();
    W::ran(&mut run);
    let mut summary = W::summary(&run, &outcome);
    if let Some(line) = W::notice(&run, &outcome, &summary) {
        eprintln!("{}", crate::redact::text(&line));
    }
    if web.as_ref().is_some_and(|w| w.stopped_here()) {
        eprintln!("blast: {}", super::web::STOPPED);
        summary.warn(super::web::STOPPED.into());
    }
    let code = out.finish(&summary, sla.as_deref())?;
    if let Some(web) = web {
        let mut page = summary.html();
        if let Some(targets) = sla.as_deref() {
            let verdicts = crate::report::sla::evaluate(targets, &summary.metrics());
            page.verdicts = verdicts.into_iter().map(|v| (v.pass, v.line)).collect();
        }
        let files = out.destinations().paths().unwrap_or_default();
        web.finish(&page, files.into_iter().map(|p| p.path.to_string_lossy().into_owned()).collect());
    }
    Ok(W::exit(&run, &outcome, code))
}

/// Checks the flags, `--sla` included, without running (`blast run --dry-run`).
pub fn check<W: Workload>(cmd: &W) -> Result<(), UsageError> {
    let run = cmd.prepare()?;
    cmd.shared_flags().0.sla_targets(&W::metric_names(&run)).map(|_| ())
}

/// One shard's JSON report and where it was read from (for errors).
pub struct ShardJson<'a> {
    pub path: &'a str,
    pub json: &'a serde_json::Value,
}

impl ShardJson<'_> {
    /// The raw measurements every report carries (`raw`).
    pub fn raw<T: serde::de::DeserializeOwned>(&self) -> Result<T, UsageError> {
        let path = self.path;
        let raw = self.json.get("raw").cloned().ok_or_else(|| format!("{path}: no \"raw\" measurements"))?;
        Ok(serde_json::from_value(raw).map_err(|e| format!("{path}: bad \"raw\": {e}"))?)
    }

    /// A text field of the report (`workload`, `target`, `method`).
    pub fn text(&self, key: &str) -> String {
        self.json.get(key).and_then(|v| v.as_str()).unwrap_or_default().to_string()
    }
}

/// Every shard's raw measurements.
pub fn raws<T: serde::de::DeserializeOwned>(shards: &[ShardJson<'_>]) -> Result<Vec<T>, UsageError> {
    shards.iter().map(|s| s.raw()).collect()
}

/// `blast merge` of one workload: its shards merged, reported as a single run would be.
pub fn merged<W: Workload>(shards: &[ShardJson<'_>], out: &OutputArgs) -> Result<ExitCode, UsageError> {
    let summary = W::merge(shards)?;
    let sla = out.check(&W::merged_metric_names(&summary))?;
    out.finish(&summary, sla.as_deref())
}
