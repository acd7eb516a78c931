//! The command line: parses flags, builds the engine's plan and the workload, runs, reports,
//! and maps the result to an exit code. No measuring happens here.
//!
//! - `command`: the commands and their flags (`Cli`); `common`: what every command shares.
//! - `driver`: the one skeleton every workload command runs through (limits, signals, progress,
//!   live metrics, SLA, reports, exit code).
//! - `api`, `ws`, `upload`: each workload's flags and its `driver::Workload`.
//! - `serve`, `run` (`profile`), `merge`, `compare`, `import`: one per command.
//! - `docs`: `completions` and `man`, generated from the flags' definitions.
//! - `metrics_listen`: `--metrics-listen`, live Prometheus metrics during a run;
//!   `web`: `--web`, the live page with its controls.
//!
//! Exit codes: 0 clean run, 1 the run had failures (errors, 4xx/5xx, interrupted),
//! 2 bad input or configuration.

pub mod api;
pub mod command;
pub mod common;
pub mod compare;
pub mod docs;
pub mod driver;
pub mod import;
pub mod merge;
pub mod metrics_listen;
pub mod profile;
pub mod serve;
pub mod upload;
pub mod web;
pub mod ws;

use clap::Parser;
use std::process::ExitCode;

pub use command::{Cli, Command, DemoArgs};
pub use common::{available_cores, stop_on_signals, OutputArgs, ShardArgs, TlsArgs, UsageError};

/// Parses the process arguments and runs the command.
pub fn main() -> ExitCode {
    crate::redact::from_args(&std::env::args().collect::<Vec<_>>());
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind as K;
            if matches!(e.kind(), K::DisplayHelp | K::DisplayVersion | K::DisplayHelpOnMissingArgumentOrSubcommand) {
                let _ = e.print();
                return if e.kind() == K::DisplayHelpOnMissingArgumentOrSubcommand {
                    ExitCode::from(2)
                } else {
                    ExitCode::SUCCESS
                };
            }
            eprintln!("blast: {}", crate::redact::text(&clap_error_line(&e)));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Api(args) => driver::run(api::ApiCommand::new(args)),
        Command::Ws(args) => driver::run(ws::WsCommand(args, Default::default())),
        Command::Upload(args) => driver::run(upload::UploadCommand(args)),
        Command::Compare(args) => compare::run(args),
        Command::Run(args) => profile::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Demo(args) => demo(args),
        Command::Import(args) => import::run(args),
        Command::Completions(args) => docs::completions(args),
        Command::Man => docs::man(),
    };
    match result {
        Ok(code) => code,
        Err(UsageError(msg)) => {
            eprintln!("blast: {}", crate::redact::text(&msg));
            ExitCode::from(2)
        }
    }
}

/// A clap error as one line: the message with what it lists (the missing arguments, the
/// possible values), without the usage and the `--help` hint.
pub fn clap_error_line(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    let mut parts = Vec::new();
    for line in rendered.lines().map(str::trim) {
        if line.starts_with("Usage:") || line.starts_with("For more information") {
            break;
        }
        if !line.is_empty() && !line.starts_with("tip:") {
            parts.push(line.trim_start_matches("error: "));
        }
    }
    match parts.split_first() {
        Some((first, [])) => first.to_string(),
        Some((first, rest)) if first.ends_with(':') => format!("{first} {}", rest.join(", ")),
        Some((first, rest)) => format!("{first} {}", rest.join(" ")),
        None => "invalid arguments".to_string(),
    }
}

fn demo(mut args: DemoArgs) -> Result<ExitCode, UsageError> {
    if args.api.target.is_some() {
        return Err("demo starts its own target; use `blast api --target ...` for another one".into());
    }
    // Everything the user gave is checked before the target starts.
    args.api.out.destinations().check()?;
    let cfg = crate::serve::ServeConfig {
        listen: "127.0.0.1:0".parse().map_err(|_| "bad listen address")?,
        threads: args.serve_threads.unwrap_or_else(available_cores),
        faults: Default::default(),
        ws_drop: None,
        ws_layout: Default::default(),
        s3: None,
        misbehave: None,
        tls: None,
    };
    let running = crate::serve::start(&cfg).map_err(|e| format!("cannot start the embedded target: {e}"))?;
    eprintln!("blast demo: embedded target listening on http://{}", running.addr);
    args.api.target = Some(format!("http://{}/v1/messages", running.addr));
    args.api.rate.get_or_insert(20_000.0);
    args.api.duration.get_or_insert(std::time::Duration::from_secs(10));
    driver::run(api::ApiCommand { args: args.api, label: Some("demo"), scenario: None })
}
