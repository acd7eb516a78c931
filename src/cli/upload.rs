//! `blast upload`: its flags, checked into a plan (`build`), and what the driver needs to run
//! and report it (`UploadCommand`).

use super::common::{available_cores, check_cores, UsageError};
use super::driver;
use super::metrics_listen::LiveMetrics;
use crate::report::human::bytes;
use crate::report::progress::{LastSecond, Rate, Reading};
use crate::report::upload::UploadSummary;
use crate::units::{parse_count, parse_duration, parse_size};
use crate::workloads::upload::s3::S3Target;
use crate::workloads::upload::{self, UploadPlan, DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY};
use clap::Args;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// S3's limits on multipart uploads.
const MIN_PART: u64 = 5 << 20;
const MAX_PART: u64 = 5 << 30;
const MAX_PARTS: u64 = 10_000;

#[derive(Args, Debug)]
pub struct UploadArgs {
    /// Size of each object: 1G, 100M, ...
    #[arg(long, value_parser = parse_size, default_value = "64M")]
    pub size: u64,
    /// Uploads in flight at once.
    #[arg(long, value_parser = parse_count, default_value = "8")]
    pub parallel: usize,
    /// S3 endpoint (path-style): http://host:port
    #[arg(long, default_value = "http://127.0.0.1:9000")]
    pub target: String,
    #[arg(long, default_value = "blast")]
    pub bucket: String,
    /// Multipart part size (S3: at least 5 MiB, at most 10,000 parts per object).
    #[arg(long, value_parser = parse_size, default_value = "10M")]
    pub part_size: u64,
    /// Parts of one upload in flight at once (each over its own connection).
    #[arg(long, value_parser = parse_count, default_value = "1")]
    pub part_concurrency: usize,
    /// Objects to upload in total (default: --parallel, one per slot; with --duration: no limit).
    #[arg(long, value_parser = parse_count)]
    pub uploads: Option<usize>,
    /// Start no new upload after this long (uploads in flight finish).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    #[arg(long, env = "AWS_ACCESS_KEY_ID", default_value = DEFAULT_ACCESS_KEY, hide_env_values = true)]
    pub access_key: String,
    /// Secret key (never printed).
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", default_value = DEFAULT_SECRET_KEY, hide_env_values = true, hide_default_value = true)]
    pub secret_key: String,
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// Leave the uploaded objects in place (default: delete each after verifying it).
    #[arg(long)]
    pub keep: bool,
    /// Skip the HeadObject size check of each completed object.
    #[arg(long)]
    pub no_verify: bool,
    /// Retries of a request that failed transiently (5xx, SlowDown, connection errors).
    #[arg(long, default_value = "2")]
    pub retries: u32,
    /// Longest one request (a part included) may take.
    #[arg(long, value_parser = parse_duration, default_value = "60s")]
    pub timeout: Duration,
    /// Objective per 10 MiB part (scaled to the part size); slower parts are counted.
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    pub part_objective: Duration,
    /// Object keys: PREFIX000000, PREFIX000001, ... (default: blast-<unix time>/).
    #[arg(long)]
    pub key_prefix: Option<String>,
    /// Seed of the pseudo-random data (the same seed sends the same bytes).
    #[arg(long, default_value = "1")]
    pub seed: u64,
    /// Worker threads, one pinned per core (default: all cores).
    #[arg(long, value_parser = parse_count)]
    pub cores: Option<usize>,
    #[command(flatten)]
    pub shard: super::common::ShardArgs,
    #[command(flatten)]
    pub tls: super::common::TlsArgs,
    #[command(flatten)]
    pub out: super::common::OutputArgs,
    #[command(flatten)]
    pub metrics: super::metrics_listen::MetricsArgs,
}

fn build(a: &UploadArgs) -> Result<UploadPlan, UsageError> {
    if a.part_size > MAX_PART {
        return Err(format!("--part-size {}: S3 parts are at most 5 GiB", bytes(a.part_size)).into());
    }
    if a.part_size < MIN_PART && a.size > a.part_size {
        return Err(format!(
            "--part-size {}: S3 needs parts of at least 5 MiB (only the last part may be smaller)",
            bytes(a.part_size)
        )
        .into());
    }
    let parts = a.size.div_ceil(a.part_size);
    if parts > MAX_PARTS {
        return Err(format!(
            "--size {} in --part-size {} parts makes {parts} parts; S3 allows at most 10,000 (use larger parts)",
            bytes(a.size),
            bytes(a.part_size)
        )
        .into());
    }
    if a.secret_key.is_empty() || a.access_key.is_empty() {
        return Err("--access-key and --secret-key must not be empty".into());
    }
    let tls = a.tls.client(a.target.starts_with("https://"))?;
    let target = S3Target::new(&a.target, &a.bucket, &a.region, &a.access_key, &a.secret_key, tls)?;
    if a.duration.is_some_and(|d| d.is_zero()) {
        return Err("--duration must be greater than 0".into());
    }
    let uploads = match (a.uploads, a.duration) {
        (Some(n), _) => Some(n as u64),
        (None, Some(_)) => None,
        (None, None) => Some(a.parallel as u64),
    };
    let shard = a.shard.get();
    if a.parallel < shard.count as usize || uploads.is_some_and(|n| n < u64::from(shard.count)) {
        return Err(format!(
            "--parallel and --uploads must be at least the {} shards: every shard needs an upload",
            shard.count
        )
        .into());
    }
    let own_parallel = shard.share_of(a.parallel as u64) as usize;
    let part_size_ratio = a.part_size as f64 / (10u64 << 20) as f64;
    // Shards started together share the prefix (their keys never collide: object numbers are
    // global).
    let key_prefix = a.key_prefix.clone().unwrap_or_else(|| {
        let at = a.shard.start_at.unwrap_or_else(SystemTime::now);
        format!("blast-{}/", at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
    });
    Ok(UploadPlan {
        target,
        endpoint: a.target.clone(),
        size: a.size,
        part_size: a.part_size.min(a.size),
        parallel: a.parallel,
        part_concurrency: a.part_concurrency.min(parts as usize),
        uploads,
        duration: a.duration,
        retries: a.retries,
        timeout: a.timeout,
        verify: !a.no_verify,
        keep: a.keep,
        key_prefix,
        seed: a.seed,
        part_objective: a.part_objective.mul_f64(part_size_ratio),
        cores: check_cores(a.cores)?.unwrap_or_else(available_cores).min(own_parallel),
        pin: !a.out.no_pin,
        shard,
        start_at: a.shard.start_at,
    })
}

/// `blast upload` as the driver runs it.
pub struct UploadCommand(pub UploadArgs);

/// An upload run ready to go: the plan and the flags its limits are explained with.
pub struct UploadRun {
    plan: UploadPlan,
    parallel: usize,
    part_concurrency: usize,
}

/// What the upload's live views keep between seconds.
pub struct UploadWatch(LastSecond);

impl driver::Workload for UploadCommand {
    type Run = UploadRun;
    type Live<'a> = crate::engine::live::Live;
    type Watch = UploadWatch;
    type Outcome = upload::UploadOutcome;
    type Summary = UploadSummary;

    fn shared_flags(&self) -> (&super::common::OutputArgs, &super::metrics_listen::MetricsArgs) {
        (&self.0.out, &self.0.metrics)
    }

    fn prepare(&self) -> Result<UploadRun, UsageError> {
        let a = &self.0;
        Ok(UploadRun { plan: build(a)?, parallel: a.parallel, part_concurrency: a.part_concurrency })
    }

    fn metric_names(_run: &UploadRun) -> Vec<String> {
        crate::report::upload::metric_names()
    }

    fn preflight(run: &UploadRun) -> Result<(), UsageError> {
        crate::sys::ensure_fds(run.plan.own_parallel() * run.part_concurrency + 64)
            .map_err(|e| format!("--parallel {} x --part-concurrency {}: {e}", run.parallel, run.part_concurrency))?;
        Ok(())
    }

    fn announce(run: &UploadRun) -> Option<String> {
        let plan = &run.plan;
        Some(format!(
            "blast upload: {} objects of {}, {} at a time, to {} bucket {}",
            plan.uploads.map_or("unlimited".to_string(), |n| n.to_string()),
            crate::report::human::bytes(plan.size),
            plan.own_parallel(),
            plan.endpoint,
            plan.target.bucket.name()
        ))
    }

    fn length(run: &UploadRun) -> Option<Duration> {
        run.plan.duration
    }

    fn watch(_run: &UploadRun) -> UploadWatch {
        UploadWatch(LastSecond::new(1))
    }

    fn second(w: &mut UploadWatch, live: &crate::engine::live::Live, metrics: Option<&mut LiveMetrics>) -> Reading {
        let sum = |i| live.sum(i);
        let counters = [upload::LIVE_BYTES, upload::LIVE_PARTS, upload::LIVE_DONE, upload::LIVE_FAILED].map(sum);
        if let Some(m) = metrics {
            m.upload(counters[0], counters[1], counters[2], counters[3]);
        }
        let bytes = live.sum(upload::LIVE_BYTES);
        let [bytes_per_s] = w.0.per_second(&[bytes])[..] else { return Reading::default() };
        let mb_per_s = bytes_per_s / 1e6;
        Reading {
            rate: Rate { target: None, achieved: mb_per_s, unit: "MB/s" },
            p99_ms: w.0.p99_ms(live),
            errors: vec![("failed uploads".into(), live.sum(upload::LIVE_FAILED))],
            more: Some(format!(
                "{:.2} GB acknowledged, {} parts, {} uploads done",
                bytes as f64 / 1e9,
                live.sum(upload::LIVE_PARTS),
                live.sum(upload::LIVE_DONE)
            )),
            cpu: Some(crate::report::cpu::live_line(&live.cpu(), Some((mb_per_s, "MB")))),
            ..Reading::default()
        }
    }

    fn detail(w: &UploadWatch, _live: &crate::engine::live::Live) -> crate::report::live_view::Detail {
        w.0.detail("Part latency")
    }

    fn execute(
        run: &mut UploadRun,
        stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
        each_second: impl FnMut(&crate::engine::live::Live),
    ) -> Result<upload::UploadOutcome, UsageError> {
        Ok(upload::run(&run.plan, stop, each_second)?)
    }

    fn notice(run: &UploadRun, outcome: &upload::UploadOutcome, _summary: &UploadSummary) -> Option<String> {
        let cause = outcome.stopped.as_ref()?;
        Some(format!("blast upload: stopped at the first S3 call to {}: {cause}", run.plan.endpoint))
    }

    fn summary(run: &UploadRun, outcome: &upload::UploadOutcome) -> UploadSummary {
        UploadSummary::build(&run.plan, outcome)
    }

    fn exit(_run: &UploadRun, outcome: &upload::UploadOutcome, code: ExitCode) -> ExitCode {
        // A run that could not upload anything fails, whatever an SLA says.
        if outcome.stopped.is_some() {
            ExitCode::from(1)
        } else {
            code
        }
    }

    fn merge(shards: &[driver::ShardJson<'_>]) -> Result<UploadSummary, UsageError> {
        Ok(UploadSummary::from_raw(crate::workloads::upload::raw::merge(driver::raws(shards)?)?))
    }

    fn merged_metric_names(_summary: &UploadSummary) -> Vec<String> {
        crate::report::upload::metric_names()
    }
}
