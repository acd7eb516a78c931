//! `blast run PROFILE.toml [FLAGS...]`: named load profiles. A profile names the workload, its
//! flags (the same names as on the command line, without `--`) and SLA targets; flags given after
//! the profile override the profile's. Errors name the file, the line and the field.
//!
//! ```toml
//! description = "Chat4All: 10M messages/minute"
//! workload = "api"
//! sla = ["p99<200ms", "errors<1%", "rate>=99%"]
//!
//! [args]
//! rate = "166000"
//! duration = "30s"
//! stages = "10s:0->166000,30s:166000"   # a load shape instead of rate/duration
//! ```
//!
//! SLAs per request name (scenarios) go in the list as `"NAME:p95<100ms"`, or in an `[sla]`
//! table instead: `"GET /v1/conversations" = ["p95<100ms"]`, `Aggregated = ["p99<200ms"]`.
//! A scenario's `[data]`, `[[on_start]]`, `[[request]]` and `[[flow]]` are read by `scenario`;
//! a `ws` profile's login (`[data]`, `[[on_start]]`, `[upgrade]`) by `ws::login_file`.

use super::api::ApiCommand;
use super::command::{Cli, Command, RunArgs};
use super::common::UsageError;
use super::driver;
use super::upload::UploadCommand;
use super::ws::WsCommand;
use clap::error::{ContextKind, ContextValue};
use clap::Parser;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::process::ExitCode;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(untagged)]
enum Sla {
    One(String),
    Many(Vec<String>),
    /// `[sla]` with a list per request name (`Aggregated` for the whole run).
    ByName(BTreeMap<String, SlaList>),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SlaList {
    One(String),
    Many(Vec<String>),
}

impl SlaList {
    fn items(&self) -> Vec<String> {
        match self {
            SlaList::One(s) => s.split(',').map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect(),
            SlaList::Many(v) => v.clone(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Profile {
    workload: Spanned<String>,
    #[allow(dead_code)]
    description: Option<String>,
    sla: Option<Spanned<Sla>>,
    #[serde(default)]
    args: BTreeMap<String, Spanned<toml::Value>>,
    /// A scenario (api): per-user data, weighted requests and flows; a login (ws): per-user
    /// data, `on_start` steps and `upgrade`.
    data: Option<Spanned<crate::workloads::api::scenario::file::RawData>>,
    #[serde(default)]
    on_start: Vec<Spanned<crate::workloads::api::scenario::file::RawRequest>>,
    #[serde(default)]
    request: Vec<Spanned<crate::workloads::api::scenario::file::RawRequest>>,
    #[serde(default)]
    flow: Vec<Spanned<crate::workloads::api::scenario::file::RawFlow>>,
    upgrade: Option<Spanned<crate::workloads::ws::login_file::RawUpgrade>>,
}

const WORKLOADS: [&str; 3] = ["api", "ws", "upload"];

/// A loaded profile: the command line it stands for, and where each field came from.
pub struct Loaded {
    pub argv: Vec<String>,
    /// Field name -> line in the file, for error messages (the fields the command line uses).
    lines: BTreeMap<String, usize>,
    /// The flags given on the command line (`--rate`): errors about them are the user's, not
    /// the profile's.
    flags: Vec<String>,
    file: String,
    /// The profile's scenario tables, or a ws profile's login (empty when it has none).
    pub scenario: crate::workloads::ws::login_file::Inline,
}

impl Loaded {
    /// Points an error at the profile field it is about, when one is named in it.
    fn locate(&self, msg: &str) -> String {
        let names = |flag: &str| {
            msg.match_indices(flag)
                .any(|(i, _)| !msg[i + flag.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-'))
        };
        if self.flags.iter().any(|f| names(f)) {
            return msg.to_string();
        }
        for (key, line) in &self.lines {
            let flag = format!("--{}", key.replace('_', "-"));
            if names(&flag) || (key == "sla" && msg.starts_with("--sla")) {
                return format!("{}:{line}: field '{key}': {msg}", self.file);
            }
        }
        format!("{}: {msg}", self.file)
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Reads `path` and builds the command line, with `overrides` taking precedence.
pub fn load(path: &std::path::Path, overrides: &[String]) -> Result<Loaded, UsageError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{file}: {e}"))?;
    let profile: Profile = toml::from_str(&text).map_err(|e| {
        let line = e.span().map(|s| line_of(&text, s.start));
        let msg = e.message().trim().to_string();
        match line {
            Some(l) => format!("{file}:{l}: {msg}"),
            None => format!("{file}: {msg}"),
        }
    })?;
    let mut lines = BTreeMap::new();
    let tables = crate::workloads::api::scenario::file::ScenarioFile {
        data: profile.data,
        on_start: profile.on_start,
        requests: profile.request,
        flows: profile.flow,
        file: file.clone(),
        text: text.clone(),
    };
    let workload = profile.workload.get_ref().clone();
    let wl_line = line_of(&text, profile.workload.span().start);
    if !WORKLOADS.contains(&workload.as_str()) {
        return Err(format!("{file}:{wl_line}: field 'workload': '{workload}' is not one of api, ws, upload").into());
    }
    let scenario = crate::workloads::ws::login_file::Inline { tables, upgrade: profile.upgrade };
    scenario.check_workload(&workload, profile.workload.span().start)?;
    let flags = flags_of(overrides);
    let overridden = |key: &str| replaced(&workload, key, &flags);
    let mut argv = vec!["blast".to_string(), workload.clone()];
    for (key, value) in &profile.args {
        let line = line_of(&text, value.span().start);
        if !key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_') {
            return Err(format!("{file}:{line}: field '{key}': not a flag name").into());
        }
        let negation = NEGATED.iter().find(|(k, _)| k == key).map(|(_, flag)| *flag);
        if overridden(key) || negation.is_some_and(|n| flags.iter().any(|f| f == n)) {
            continue;
        }
        lines.insert(key.clone(), line);
        let flag = format!("--{}", key.replace('_', "-"));
        let scalar = |v: &toml::Value| -> Result<String, UsageError> {
            match v {
                toml::Value::String(s) => Ok(s.clone()),
                toml::Value::Integer(i) => Ok(i.to_string()),
                toml::Value::Float(f) => Ok(f.to_string()),
                _ => Err(format!("{file}:{line}: field '{key}': expected a string, a number or true/false").into()),
            }
        };
        if let Some(negation) = negation {
            match value.get_ref() {
                toml::Value::Boolean(true) => {}
                toml::Value::Boolean(false) => argv.push(negation.to_string()),
                _ => return Err(format!("{file}:{line}: field '{key}': expected true or false").into()),
            }
            continue;
        }
        match value.get_ref() {
            toml::Value::Boolean(true) => argv.push(flag),
            toml::Value::Boolean(false) => {}
            toml::Value::Array(items) => {
                for item in items {
                    argv.extend([flag.clone(), scalar(item)?]);
                }
            }
            v => argv.extend([flag, scalar(v)?]),
        }
    }
    if let Some(sla) = &profile.sla {
        if !overridden("sla") {
            lines.insert("sla".into(), line_of(&text, sla.span().start));
            let joined = match sla.get_ref() {
                Sla::One(s) => s.clone(),
                Sla::Many(v) => v.join(","),
                Sla::ByName(by_name) => by_name
                    .iter()
                    .flat_map(|(name, list)| {
                        list.items()
                            .into_iter()
                            .map(move |t| if name == "Aggregated" { t } else { format!("{name}:{t}") })
                    })
                    .collect::<Vec<_>>()
                    .join(","),
            };
            argv.extend(["--sla".to_string(), joined]);
        }
    }
    if let Some(line) = lines.get("login").filter(|_| scenario.present()) {
        return Err(
            format!("{file}:{line}: field 'login': the profile logs in with [[on_start]] already; keep one").into()
        );
    }
    argv.extend(overrides.iter().cloned());
    Ok(Loaded { argv, lines, flags, file, scenario })
}

/// The flags named on the command line (`--rate 100`, `--rate=100`): `--rate`.
fn flags_of(overrides: &[String]) -> Vec<String> {
    overrides
        .iter()
        .filter(|o| o.starts_with("--") && o.len() > 2)
        .map(|o| o.split('=').next().unwrap_or(o).to_string())
        .collect()
}

/// `[args]` keys that are on by default: `key = false` is the flag that turns them off.
const NEGATED: &[(&str, &str)] = &[("cookies", "--no-cookies")];

/// Whether the command-line `flags` replace the profile's field `key` of `workload`: the same
/// flag, or one that cannot be used with it (`--rate` replaces `stages`, `--stages` replaces
/// `rate` and `duration`), as the command's own flag definitions say.
fn replaced(workload: &str, key: &str, flags: &[String]) -> bool {
    let long = key.replace('_', "-");
    if flags.iter().any(|f| f[2..] == long) {
        return true;
    }
    let cli = <Cli as clap::CommandFactory>::command();
    let Some(cmd) = cli.find_subcommand(workload) else { return false };
    let by_long = |l: &str| cmd.get_arguments().find(|a| a.get_long() == Some(l));
    let Some(field) = by_long(&long) else { return false };
    flags.iter().filter_map(|f| by_long(&f[2..])).any(|flag| {
        cmd.get_arg_conflicts_with(field).iter().any(|a| a.get_id() == flag.get_id())
            || cmd.get_arg_conflicts_with(flag).iter().any(|a| a.get_id() == field.get_id())
    })
}

/// Parses the profile's command line; errors point into the profile.
pub fn parse(loaded: &Loaded) -> Result<Command, UsageError> {
    let cli = Cli::try_parse_from(&loaded.argv).map_err(|e| {
        let first = super::clap_error_line(&e);
        let about = match e.get(ContextKind::InvalidArg) {
            Some(ContextValue::String(arg)) if !first.contains(arg.as_str()) => format!("{arg}: {first}"),
            _ => first,
        };
        UsageError(loaded.locate(&about))
    })?;
    Ok(cli.command)
}

pub fn run(a: RunArgs) -> Result<ExitCode, UsageError> {
    let mut overrides = a.overrides.clone();
    let dry_run = a.dry_run || overrides.iter().any(|o| o == "--dry-run");
    overrides.retain(|o| o != "--dry-run");
    let mut loaded = load(&a.profile, &overrides)?;
    let command = parse(&loaded)?;
    let inline = std::mem::take(&mut loaded.scenario);
    let located = |e: UsageError| if e.0.starts_with(&loaded.file) { e } else { UsageError(loaded.locate(&e.0)) };
    let scenario = inline.tables.present().then_some(&inline.tables);
    // A profile with scenario or login tables is only run as a profile: the command that runs
    // the same load is `blast run` itself; the flags it stands for follow as a comment.
    let rerun = inline.present().then(|| {
        let mut words = vec!["blast".to_string(), "run".to_string(), a.profile.to_string_lossy().into_owned()];
        words.extend(overrides.iter().cloned());
        words
    });
    let go = |dry_run| Go { dry_run, argv: &loaded.argv, rerun: rerun.as_deref() };
    match command {
        Command::Api(x) => go(dry_run).workload(ApiCommand { args: x, label: None, scenario }),
        Command::Ws(x) => go(dry_run).workload(WsCommand(x, inline)),
        Command::Upload(x) => go(dry_run).workload(UploadCommand(x)),
        _ => Err(UsageError(format!("{}: not a workload", loaded.file))),
    }
    .map_err(located)
}

/// How a profile's workload is taken: checked and printed (`--dry-run`), or run.
struct Go<'a> {
    dry_run: bool,
    argv: &'a [String],
    /// `blast run PROFILE [OVERRIDES]`, when the flags alone do not describe the run.
    rerun: Option<&'a [String]>,
}

impl Go<'_> {
    fn workload<W: driver::Workload>(self, cmd: W) -> Result<ExitCode, UsageError> {
        if !self.dry_run {
            return driver::run(cmd);
        }
        driver::check(&cmd)?;
        match self.rerun {
            Some(rerun) => {
                println!("{}   # {} and the profile's tables", shell_words(rerun), shell_words(self.argv))
            }
            None => println!("{}", shell_words(self.argv)),
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// The command line, quoted for a POSIX shell.
fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|w| {
            if !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=,%".contains(c)) {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
