//! `blast api`: its flags, checked into a plan and a workload (`build`), and what the driver
//! needs to run and report it (`ApiCommand`).

use super::common::{available_cores, UsageError};
use super::driver;
use super::metrics_listen::LiveMetrics;
use crate::engine::shape::Shape;
use crate::engine::steer::Steer;
use crate::engine::{self, Arrival, Plan};
use crate::report::api::ApiSummary;
use crate::report::html::Table;
use crate::report::live_view::Detail;
use crate::report::model::Percentiles;
use crate::report::progress::{Rate, Reading};
use crate::units::{parse_count, parse_duration, parse_rate};
use crate::workloads::api::raw::{NamedRequest, RawPlan};

use crate::engine::mix::Mix;
use crate::http::redirect::Location;
use crate::http::HttpTarget;
use crate::template::{Scope, Template};
use crate::workloads::api::scenario::file::ScenarioFile;
use crate::workloads::api::scenario::{Body, Scenario, Step, DEFAULT_BODY};
use crate::workloads::api::session::{AllowedHost, Followed, SessionRules};
use crate::workloads::api::ApiWorkload;
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The longest `--coalesce` window: beyond it the wake-up batching is not a CPU saving but a
/// different schedule.
const MAX_COALESCE: Duration = Duration::from_millis(100);

pub const DEFAULT_TARGET: &str = "http://127.0.0.1:8000/v1/messages";

/// The most `--redirects` accepted (requests' own limit).
const MAX_REDIRECTS: u32 = 30;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ArrivalArg {
    Constant,
    Poisson,
}

/// `--io`: the I/O backend.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum IoArg {
    /// io_uring where the kernel allows it and the target has cores of its own, else epoll.
    Auto,
    Epoll,
    Uring,
    /// One batched io_uring per core, no tokio (README: --io); else epoll, saying why.
    Ring,
}

#[derive(Args, Debug)]
pub struct ApiArgs {
    /// Arrival rate: 166000, 166k, 10M/min, 2000/s, 0.5, 1/min, 10/h. Rates under 1/s are
    /// accepted and paced exactly (10/h: one request every 6m, the first at the start); a
    /// --duration shorter than one gap between requests is refused (exit 2).
    #[arg(long, value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// Measured duration after warm-up (default 30s).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Load shape instead of --rate/--duration: stages DURATION:RATE (hold) or
    /// DURATION:FROM->TO (ramp), e.g. 10s:0->1000,30s:1000,5s:5000,30s:1000.
    #[arg(long, conflicts_with_all = ["rate", "duration"])]
    pub stages: Option<String>,
    /// URL to send to (default http://127.0.0.1:8000/v1/messages).
    #[arg(long)]
    pub target: Option<String>,
    /// Keep-alive connections in total, spread over the cores.
    #[arg(long, value_parser = parse_count, default_value = "100")]
    pub conns: usize,
    /// Worker threads, one pinned per core (default: all cores).
    #[arg(long, value_parser = parse_count)]
    pub cores: Option<usize>,
    /// Requests are sent but not recorded for this long first.
    #[arg(long, value_parser = parse_duration, default_value = "0s")]
    pub warmup: Duration,
    /// Extra request header, 'Name: value' (repeatable).
    #[arg(short = 'H', long = "header")]
    pub headers: Vec<String>,
    /// Request body from a file, sent unchanged.
    #[arg(long, conflicts_with = "body_template")]
    pub body: Option<PathBuf>,
    /// Body with placeholders {{seq}}, {{ts}}, {{core}}, {{conn}} (default: a chat message JSON for
    /// POST, PUT and PATCH; no body for other methods).
    #[arg(long)]
    pub body_template: Option<String>,
    /// HTTP method.
    #[arg(long, default_value = "POST")]
    pub method: String,
    /// Longest a connect or a request may take.
    #[arg(long, value_parser = parse_duration, default_value = "2s")]
    pub timeout: Duration,
    /// Spacing of arrivals.
    #[arg(long, value_enum, default_value = "constant")]
    pub arrival: ArrivalArg,
    /// Seed of the Poisson arrival generator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Wake at most once per this window per core and send every request due by then: far fewer
    /// wake-ups (half the CPU at 20K/s), each request at most this late, and that lag is
    /// measured and counted in corrected latency. 0 wakes for every request.
    #[arg(long, value_parser = parse_duration, default_value = "200us")]
    pub coalesce: Duration,
    /// I/O backend. auto: io_uring when the kernel allows it, the target is plain http, and at
    /// least 2 of the machine's cores are left beside blast's for the target; else epoll.
    /// uring: io_uring, or epoll with a warning saying why the kernel refused it. ring: one
    /// batched io_uring per core, no tokio (plain http, lone requests; else epoll, saying why).
    #[arg(long, value_enum, default_value = "auto")]
    pub io: IoArg,
    #[command(flatten)]
    pub shard: super::common::ShardArgs,
    #[command(flatten)]
    pub tls: super::common::TlsArgs,
    /// Send a GET, HEAD, PUT, DELETE, OPTIONS or TRACE request once more, on a fresh
    /// connection, when its connection failed after it was written and before any byte of the
    /// answer (closed_before_response). Other methods (POST) are never sent twice.
    #[arg(long)]
    pub retry_idempotent: bool,
    /// Keep no cookies: by default each virtual user (each connection without a scenario's
    /// users) keeps the cookies its responses set and sends them back, as Locust's users do.
    /// In a profile: cookies = false.
    #[arg(long)]
    pub no_cookies: bool,
    /// Follow at most this many redirects (301, 302, 303, 307, 308) per request, timed as
    /// one request under its name; 0: a 3xx is the answer.
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=MAX_REDIRECTS as i64), default_value = "10")]
    pub redirects: u32,
    /// A host a redirect may go to besides the target (HOST or HOST:PORT, repeatable); a
    /// redirect elsewhere fails as redirect_off_target.
    #[arg(long = "allow-host")]
    pub allow_hosts: Vec<String>,
    /// Scenario: this many virtual users (user u takes row u mod rows of the users file; each
    /// logs in once). Default: one per row.
    #[arg(long, value_parser = parse_count)]
    pub users: Option<usize>,
    /// Scenario: run only the requests and flows with one of these tags (a,b).
    #[arg(long, value_delimiter = ',')]
    pub tags: Vec<String>,
    /// Scenario: leave out the requests and flows with one of these tags (a,b).
    #[arg(long, value_delimiter = ',')]
    pub exclude_tags: Vec<String>,
    /// Requests that may wait for a busy connection (in total) before new ones are dropped.
    #[arg(long, value_parser = parse_count, default_value = "1000000")]
    pub max_queue: usize,
    /// With --web: the highest rate the page may set (default 10 times --rate, or the stages'
    /// peak).
    #[arg(long, value_parser = parse_rate, requires = "web")]
    pub max_rate: Option<f64>,
    #[command(flatten)]
    pub out: super::common::OutputArgs,
    #[command(flatten)]
    pub metrics: super::metrics_listen::MetricsArgs,
}

struct Built {
    /// What each report row is (the scenario's names).
    names: Vec<NamedRequest>,
    plan: Plan,
    target: HttpTarget,
    workload: Option<ApiWorkload>,
    /// The first value each row's checks failed on (for the failures CSV).
    mismatches: std::sync::Arc<crate::workloads::api::scenario::spec::Mismatches>,
    /// What `--tags`/`--exclude-tags` chose, for the plan line.
    selection: Option<String>,
    /// Redirects followed per row (for the JSON report).
    followed: std::sync::Arc<Followed>,
}

/// The one request `blast api`'s flags describe.
fn single_request(a: &ApiArgs, target: &HttpTarget, headers: &[(String, String)]) -> Result<Scenario, UsageError> {
    let method = a.method.trim();
    if let Some(why) = crate::http::request_rules::method_problem(method) {
        return Err(format!("--method: {why}").into());
    }
    let body = match (&a.body, &a.body_template) {
        (Some(path), _) => {
            Body::Fixed(std::fs::read(path).map_err(|e| format!("--body {}: {e}", path.display()))?.into())
        }
        (None, Some(t)) => {
            Body::Template(Template::parse(t, Scope::default()).map_err(|e| format!("--body-template: {e}"))?)
        }
        // The chat message for the methods that carry content; a GET, HEAD, DELETE or OPTIONS
        // sends none unless given one (as Locust's `self.client.get(...)` sends none).
        (None, None) if matches!(method, "POST" | "PUT" | "PATCH") => {
            Body::Template(Template::parse(DEFAULT_BODY, Scope::default()).map_err(|e| e.0)?)
        }
        (None, None) => Body::Empty,
    };
    let headers = headers.iter().map(|(k, v)| (k.clone(), Template::literal(v.clone().into_bytes()))).collect();
    let step =
        Step::new(0, method, Template::literal(target.path.clone().into_bytes()), headers, body, &target.authority);
    Ok(Scenario::single(&target.path, step))
}

fn build(a: &ApiArgs, scenario: Option<&ScenarioFile>) -> Result<Built, UsageError> {
    let shape = match &a.stages {
        Some(spec) => Some(std::sync::Arc::new(Shape::parse(spec).map_err(|e| format!("--stages: {e}"))?)),
        None => None,
    };
    let (rate, duration) = match &shape {
        Some(s) => {
            if a.warmup >= s.duration() {
                return Err("--warmup must be shorter than the stages".into());
            }
            (s.peak_rate(), s.duration() - a.warmup)
        }
        None => (
            a.rate.ok_or("--rate is required (e.g. --rate 166000 or --rate 10M/min), or give --stages")?,
            a.duration.unwrap_or(Duration::from_secs(30)),
        ),
    };
    if duration.is_zero() {
        return Err("--duration must be greater than 0".into());
    }
    if a.timeout.is_zero() {
        return Err("--timeout must be greater than 0".into());
    }
    let shards = a.shard.get().count as f64;
    let url = a.target.clone().unwrap_or_else(|| DEFAULT_TARGET.to_string());
    let target = HttpTarget::parse(&url)?;
    if shape.is_none() && rate / shards * duration.as_secs_f64() < 1.0 - 1e-9 {
        let shortest = Duration::from_secs((shards / rate - 1e-9).ceil() as u64);
        return Err(format!(
            "--rate {} schedules no request in {}: run at least {} or raise the rate",
            crate::units::rate_as_written(rate),
            crate::units::duration_text(duration),
            crate::units::duration_text(shortest)
        )
        .into());
    }
    if a.coalesce > MAX_COALESCE {
        return Err(format!(
            "--coalesce {}: at most {}ms (every request may be sent up to this late)",
            crate::units::duration_text(a.coalesce),
            MAX_COALESCE.as_millis()
        )
        .into());
    }
    let cores = match super::common::check_cores(a.cores)? {
        Some(c) => {
            if (c as f64) > rate / shards {
                return Err(
                    format!("--rate {rate} is lower than --cores {c}: every core needs at least 1 request/s").into()
                );
            }
            if c > a.conns {
                return Err(
                    format!("--conns {} is lower than --cores {c}: every core needs a connection", a.conns).into()
                );
            }
            c
        }
        None => available_cores().min(a.conns).min(((rate / shards).floor() as usize).max(1)),
    };
    let headers = a.headers.iter().map(|h| parse_header(h)).collect::<Result<Vec<_>, _>>()?;
    let scenario = match scenario {
        Some(file) => {
            for (given, flag) in [(a.body.is_some(), "--body"), (a.body_template.is_some(), "--body-template")] {
                if given {
                    return Err(format!("{flag} does not apply to a scenario: each request says its own body").into());
                }
            }
            let mut s = file.build(&target.authority, a.seed, &headers)?;
            s.virtual_users = a.users;
            s.select_tags(&a.tags, &a.exclude_tags)?;
            s
        }
        None => {
            let scenario_only = [
                (a.users.is_some(), "--users"),
                (!a.tags.is_empty(), "--tags"),
                (!a.exclude_tags.is_empty(), "--exclude-tags"),
            ];
            if let Some((_, flag)) = scenario_only.iter().find(|(given, _)| *given) {
                return Err(format!("{flag} applies to a scenario (blast run FILE.toml)").into());
            }
            single_request(a, &target, &headers)?
        }
    };
    let plan = Plan {
        rate,
        shape,
        stages_spec: a.stages.clone(),
        duration,
        warmup: a.warmup,
        arrival: match a.arrival {
            ArrivalArg::Constant => Arrival::Constant,
            ArrivalArg::Poisson => Arrival::Poisson,
        },
        seed: a.seed,
        cores,
        conns: a.conns,
        max_queue: a.max_queue,
        timeout: a.timeout,
        grace: Duration::from_secs(1),
        pin: !a.out.no_pin,
        shard: a.shard.get(),
        coalesce: a.coalesce,
        start_at: a.shard.start_at,
        io: engine::io::choose(
            match a.io {
                IoArg::Auto => engine::io::IoAsk::Auto,
                IoArg::Epoll | IoArg::Ring => engine::io::IoAsk::Epoll,
                IoArg::Uring => engine::io::IoAsk::Uring,
            },
            cores,
            target.tls.then_some("TLS runs on epoll"),
        ),
        mix: std::sync::Arc::new(Mix::new(&scenario.weights)),
        kind_rows: std::sync::Arc::new(scenario.iterations.iter().map(|i| i.row).collect()),
        rows: scenario.rows.len(),
        steer: None,
    };
    let plan = Plan { steer: steer(a, &plan)?, ..plan };
    let tls = a.tls.client(target.tls)?.map(|c| (c, target.host.clone()));
    let names = scenario.named_requests();
    let mismatches = scenario.mismatches.clone();
    let selection = scenario.selection.clone();
    let session = session_rules(a, &target, scenario.rows.len())?;
    let followed = session.followed.clone();
    let workload = ApiWorkload::new(target.addrs.clone(), scenario, tls, a.timeout, a.retry_idempotent, session);
    let plan = Plan { io: workload.ring_io(matches!(a.io, IoArg::Ring), plan.io), ..plan };
    Ok(Built { names, plan, target, workload: Some(workload), mismatches, selection, followed })
}

/// Cookies and redirects as the flags set them.
fn session_rules(a: &ApiArgs, target: &HttpTarget, rows: usize) -> Result<SessionRules, UsageError> {
    let port = target.addrs.first().map_or(if target.tls { 443 } else { 80 }, |a| a.port());
    let redirects = a.redirects;
    if redirects == 0 && !a.allow_hosts.is_empty() {
        return Err("--allow-host names where redirects may go, but --redirects 0 follows none".into());
    }
    Ok(SessionRules {
        cookies: !a.no_cookies,
        redirects,
        target: Location::of(target.tls, &target.host, port, "/"),
        allowed: a.allow_hosts.iter().map(|h| AllowedHost::parse(h)).collect::<Result<_, _>>()?,
        followed: std::sync::Arc::new(Followed::new(rows)),
    })
}

/// With `--web`, the rate the page may set (`Plan::steerable`).
fn steer(a: &ApiArgs, plan: &Plan) -> Result<Option<std::sync::Arc<Steer>>, UsageError> {
    match a.metrics.web.web {
        None => Ok(None),
        Some(_) => Ok(Some(std::sync::Arc::new(plan.steerable(a.max_rate)?))),
    }
}

impl super::web::Steer for Steer {
    fn set_rate(&self, rate: f64) -> Result<String, String> {
        let from = self.set(rate)?;
        Ok(format!("rate set to {} from second {from}", crate::units::rate_text(rate)))
    }
}

/// `Name: value` with a valid token name and no line breaks.
fn parse_header(h: &str) -> Result<(String, String), UsageError> {
    let (name, value) = h.split_once(':').ok_or_else(|| format!("header '{h}' must look like 'Name: value'"))?;
    let name = name.trim();
    if !crate::http::request_rules::is_header_name(name) || value.contains(['\r', '\n']) {
        return Err(format!("header '{}' is not a valid HTTP header", redact_header(h)).into());
    }
    if crate::http::request_rules::set_by_blast(name) {
        return Err(format!("header '{name}' is set by blast").into());
    }
    Ok((name.to_string(), value.trim().to_string()))
}

/// Header text safe to print: the value of credentials is never shown.
fn redact_header(h: &str) -> String {
    match h.split_once(':') {
        Some((n, _)) => format!("{}: <redacted>", n.trim()),
        None => "<redacted>".to_string(),
    }
}

/// `blast api` (and `demo`, and a profile's scenario) as the driver runs it.
pub struct ApiCommand<'a> {
    pub args: ApiArgs,
    /// What reports call the run (`demo`); `api` when none.
    pub label: Option<&'static str>,
    /// A profile's scenario; none: the one request the flags describe.
    pub scenario: Option<&'a ScenarioFile>,
}

impl<'a> ApiCommand<'a> {
    pub fn new(args: ApiArgs) -> Self {
        ApiCommand { args, label: None, scenario: None }
    }
}

/// An api run ready to go.
pub struct ApiRun {
    built: Built,
    /// Taken by the run (the engine owns it while it runs).
    workload: Option<ApiWorkload>,
    label: &'static str,
    url: String,
    method: String,
    conns: usize,
}

/// What the api's live views keep between seconds.
pub struct ApiWatch {
    names: Vec<NamedRequest>,
    plan: Plan,
}

impl driver::Workload for ApiCommand<'_> {
    type Run = ApiRun;
    type Live<'a> = engine::run::Progress<'a>;
    type Watch = ApiWatch;
    type Outcome = engine::RunOutcome;
    type Summary = ApiSummary;

    fn shared_flags(&self) -> (&super::common::OutputArgs, &super::metrics_listen::MetricsArgs) {
        (&self.args.out, &self.args.metrics)
    }

    fn prepare(&self) -> Result<ApiRun, UsageError> {
        let mut built = build(&self.args, self.scenario)?;
        let t = &built.target;
        let url = format!("{}://{}{}", if t.tls { "https" } else { "http" }, t.authority, t.path);
        let workload = built.workload.take();
        Ok(ApiRun {
            built,
            workload,
            label: self.label.unwrap_or("api"),
            url,
            method: self.args.method.trim().to_string(),
            conns: self.args.conns,
        })
    }

    fn metric_names(run: &ApiRun) -> Vec<String> {
        crate::report::api::metric_names(&run.built.names)
    }

    fn preflight(run: &ApiRun) -> Result<(), UsageError> {
        crate::sys::ensure_fds(run.conns + 64).map_err(UsageError)
    }

    fn title(run: &ApiRun) -> String {
        format!("blast {} -> {}", run.label, run.url)
    }

    fn detail(w: &ApiWatch, p: &engine::run::Progress<'_>) -> Detail {
        let i = p.interval;
        let header = ["type", "name", "requests", "failures", "p50", "p95", "p99", "max"].map(String::from).to_vec();
        let rows = w.names.iter().enumerate().map(|(n, name)| {
            let r = p.total.by_row(n);
            let l = Percentiles::of(&r.latency);
            let mut row = vec![name.kind.clone(), name.name.clone(), (r.completed + r.total_errors()).to_string()];
            row.push(r.failed().to_string());
            row.extend([l.p50, l.p95, l.p99, l.max].map(|v| format!("{v:.3}")));
            row
        });
        Detail {
            corrected: Some(Percentiles::of(&i.latency)),
            uncorrected: Some(Percentiles::of(&i.service)),
            heat: Detail::column(p.second, &i.latency),
            names: Some(Table { title: "By name, the run so far (ms)".into(), header, rows: rows.collect() }),
            label: None,
        }
    }

    fn steer(run: &ApiRun) -> Option<std::sync::Arc<dyn super::web::Steer>> {
        run.built.plan.steer.clone().map(|s| s as std::sync::Arc<dyn super::web::Steer>)
    }

    fn ran(run: &mut ApiRun) {
        let plan = &mut run.built.plan;
        let Some(steer) = &plan.steer else { return };
        if steer.changes().is_empty() {
            return;
        }
        // Each rate set is a stage of the plan the report shows.
        let shape = steer.shape();
        plan.rate = shape.peak_rate();
        plan.stages_spec = Some(shape.spec());
        plan.shape = Some(shape);
    }

    fn length(run: &ApiRun) -> Option<Duration> {
        Some(run.built.plan.warmup + run.built.plan.duration)
    }

    fn watch(run: &ApiRun) -> ApiWatch {
        ApiWatch { names: run.built.names.clone(), plan: run.built.plan.clone() }
    }

    fn second(w: &mut ApiWatch, p: &engine::run::Progress<'_>, metrics: Option<&mut LiveMetrics>) -> Reading {
        if let Some(steer) = &w.plan.steer {
            // The schedule as the page set it.
            w.plan.shape = Some(steer.shape());
        }
        let plan = &w.plan;
        if let Some(m) = metrics {
            m.api(&w.names, plan, p);
        }
        let warmup_s = plan.warmup.as_secs();
        let end_s = (plan.warmup + plan.duration).as_secs_f64().ceil() as u64;
        let (i, second) = (p.interval, p.second as f64);
        let failed_codes =
            p.total.status_codes().into_iter().filter(|(c, _)| c.parse::<u16>().map_or(true, |c| c >= 400));
        let errors = p.total.error_counts().into_iter().chain(failed_codes.map(|(c, n)| (format!("HTTP {c}"), n)));
        // A scenario with flows or on_start paces iterations (a request or a whole flow each).
        let (unit, per) = match crate::report::api::two_units(&w.names) {
            true => ("iterations/s", "iteration"),
            false => ("req/s", "req"),
        };
        // Warm-up is counted apart from the measured figures: its own rate while it lasts.
        let warming = p.second <= warmup_s;
        let sent = if warming { i.accounting.warmup_sent } else { i.sent };
        Reading {
            elapsed: Some(std::time::Duration::from_secs(p.second)),
            phase: if warming { Some("warm-up") } else { (p.second > end_s).then_some("drain") },
            rate: Rate { target: Some(plan.scheduled_between(second - 1.0, second)), achieved: sent as f64, unit },
            p99_ms: (!i.latency.is_empty()).then(|| i.latency.value_at_quantile(0.99) as f64 / 1000.0),
            errors: errors.collect(),
            more: (i.queue_peak > 0).then(|| format!("queue peak {}", i.queue_peak)),
            cpu: Some(crate::report::cpu::live_line(&p.live.cpu(), Some((sent as f64, per)))),
        }
    }

    fn execute(
        run: &mut ApiRun,
        stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
        each_second: impl FnMut(&engine::run::Progress<'_>),
    ) -> Result<engine::RunOutcome, UsageError> {
        let workload = run.workload.take().ok_or("the api run was already started")?;
        Ok(crate::workloads::api::ring::run(&run.built.plan, workload, stop, each_second).map_err(|e| e.0)?)
    }

    fn summary(run: &ApiRun, outcome: &engine::RunOutcome) -> ApiSummary {
        let plan = RawPlan { tags: run.built.selection.clone(), ..RawPlan::of(&run.built.plan) };
        let mut summary = ApiSummary::build(run.label, &run.url, &run.method, &plan, outcome, &run.built.names);
        summary.note_first_values(&run.built.names, run.built.mismatches.take());
        summary.note_redirects(&run.built.followed.per_row());
        summary
    }

    fn exit(run: &ApiRun, outcome: &engine::RunOutcome, code: ExitCode) -> ExitCode {
        if !outcome.unreachable {
            return code;
        }
        let cause = outcome.preconnect_error.map_or(engine::ConnectFailure::Other, engine::ConnectFailure::of_kind);
        let cause = cause.explained();
        let url = crate::redact::text(&run.url);
        eprintln!("blast: cannot reach {url}: every connection failed before the start ({cause}); nothing was sent");
        ExitCode::from(1)
    }

    fn merge(shards: &[driver::ShardJson<'_>]) -> Result<ApiSummary, UsageError> {
        let (plan, outcome, names) = crate::workloads::api::raw::merge(&driver::raws(shards)?)?;
        let first = shards.first().ok_or("no reports given")?;
        Ok(ApiSummary::build(
            &first.text("workload"),
            &first.text("target"),
            &first.text("method"),
            &plan,
            &outcome,
            &names,
        ))
    }

    fn merged_metric_names(summary: &ApiSummary) -> Vec<String> {
        crate::report::api::metric_names(&summary.raw.names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_validated_and_never_echoed() {
        assert_eq!(parse_header("Authorization: Bearer x").expect("ok"), ("Authorization".into(), "Bearer x".into()));
        let err = parse_header("Bad Name: secret-token").expect_err("bad");
        assert!(!err.0.contains("secret-token"), "{}", err.0);
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("Host: x").is_err());
    }
}
