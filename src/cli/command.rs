//! The commands and their flags: what `blast` parses (also from a profile, by `run`).

use crate::cli::{api, compare, import, merge, serve, upload, ws};
use crate::units;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "blast", version, about = "Open-loop, thread-per-core load generator", long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// POST requests to an HTTP API at a fixed arrival rate.
    Api(api::ApiArgs),
    /// Hold many WebSocket connections and measure broadcast delivery to every subscriber.
    Ws(ws::WsArgs),
    /// Concurrent S3 multipart uploads, checksummed and verified.
    Upload(upload::UploadArgs),
    /// Run the embedded target (POST /v1/messages, GET /health, /ws, and S3 with --s3-listen).
    Serve(serve::ServeArgs),
    /// Run a named load profile (TOML): blast run profiles/smoke.toml [FLAGS that override it].
    Run(RunArgs),
    /// Merge the JSON reports of a sharded run (--shard I/N) into one exact report.
    Merge(merge::MergeArgs),
    /// Compare two runs' JSON reports; exit 1 on a regression.
    Compare(compare::CompareArgs),
    /// Turn a Locust file, a HAR export or an OpenAPI 3 document into a profile for `blast run`.
    Import(import::ImportArgs),
    /// Start the embedded target and run `blast api` against it (defaults: 20000 req/s for 10s).
    Demo(DemoArgs),
    /// Print shell completions: blast completions bash|zsh|fish (install line in the README).
    Completions(CompletionsArgs),
    /// Print the man page (roff): blast man > ~/.local/share/man/man1/blast.1
    Man,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    #[command(flatten)]
    pub api: api::ApiArgs,
    /// Worker threads of the embedded target (default: all cores).
    #[arg(long, value_parser = units::parse_count)]
    pub serve_threads: Option<usize>,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The profile, e.g. profiles/smoke.toml.
    pub profile: PathBuf,
    /// Check the profile (and the overrides) and print the command it stands for, without running.
    #[arg(long)]
    pub dry_run: bool,
    /// Flags that override the profile's, e.g. --target http://127.0.0.1:9000 --duration 10s.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub overrides: Vec<String>,
}

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell, e.g. `blast completions bash > ~/.local/share/bash-completion/completions/blast`.
    pub shell: clap_complete::Shell,
}
