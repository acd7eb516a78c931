//! `blast import`: turns a team's existing load test into a blast profile (TOML) that
//! `blast run` runs unchanged. Readers, chosen by content:
//!
//! - `locust` (with `locust_set`, `locust_task` and `locust_value`): a Locust file, read statically with a
//!   Python parser; nothing is executed.
//! - `har`: a browser's HAR export: one flow per page, values from earlier responses captured.
//! - `openapi`: an OpenAPI 3 document (JSON or YAML): one request per operation with an
//!   example body built from its schema.
//!
//! Each reader builds a `model::Profile`; `toml_out` writes it. What a reader cannot translate
//! is never dropped: it is written as a comment at its place and listed in the summary, and the
//! import's exit code is 1 (0 when all was translated, 2 when the input cannot be read).

pub mod har;
pub mod locust;
pub mod locust_class;
pub mod locust_set;
pub mod locust_task;
pub mod locust_value;
pub mod model;
pub mod openapi;
pub mod toml_out;

use crate::usage::UsageError;
use model::Skipped;
use std::path::{Path, PathBuf};

/// What the command line says besides the input.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--host`: the target instead of the file's.
    pub host: Option<String>,
    /// `--rate`: the rate instead of the one computed from wait times.
    pub rate: Option<f64>,
    /// `--users`: Locust users the suggested rate is computed for.
    pub users: u64,
    /// Where the profile will be written (relative paths in it are made relative to it).
    pub output: Option<PathBuf>,
}

/// An imported profile.
#[derive(Debug)]
pub struct Imported {
    pub toml: String,
    /// "12 requests, 2 flows, 1 on_start translated; ..."
    pub summary: String,
    pub skipped: Vec<Skipped>,
    /// The input's name, for the `file:line` of skipped constructs.
    pub source: String,
}

/// Reads `path`, picks the reader by content and builds the profile.
pub fn import(path: &Path, opts: &Options) -> Result<Imported, UsageError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| UsageError(format!("{name}: {e}")))?;
    if let Some(h) = &opts.host {
        if !(h.starts_with("http://") || h.starts_with("https://")) {
            return Err(UsageError(format!("--host '{h}': expected http://host:port or https://host:port")));
        }
    }
    let trimmed = text.trim_start();
    let yaml = matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"));
    let (mut profile, skipped) = if trimmed.starts_with('{') {
        let doc: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| UsageError(format!("{name}: not valid JSON: {e}")))?;
        structured(&name, doc, opts)?
    } else if yaml || trimmed.starts_with("openapi:") {
        let doc: serde_json::Value =
            serde_yaml::from_str(&text).map_err(|e| UsageError(format!("{name}: not valid YAML: {e}")))?;
        structured(&name, doc, opts)?
    } else {
        locust::read(&name, &text, opts)?
    };
    if let Some(users) = &profile.users_file {
        profile.users_file = Some(relative_to_output(path, users, opts.output.as_deref()));
    }
    let c = profile.counts();
    let mut summary = format!(
        "{} request{}, {} flow{}, {} on_start translated",
        c.requests,
        plural(c.requests),
        c.flows,
        plural(c.flows),
        c.on_start
    );
    if skipped.is_empty() {
        summary.push_str("; every construct translated");
    } else {
        let list: Vec<String> = skipped.iter().map(|s| format!("{name}:{}", s.line)).collect();
        summary.push_str(&format!(
            "; {} construct{} not translated: {}",
            skipped.len(),
            plural(skipped.len()),
            list.join(", ")
        ));
    }
    Ok(Imported { toml: toml_out::write(&profile), summary, skipped, source: name })
}

fn structured(
    name: &str,
    doc: serde_json::Value,
    opts: &Options,
) -> Result<(model::Profile, Vec<Skipped>), UsageError> {
    if doc.get("log").is_some_and(|l| l.get("entries").is_some()) {
        har::read(name, &doc, opts)
    } else if doc.get("openapi").is_some() {
        openapi::read(name, &doc, opts)
    } else if doc.get("swagger").is_some() {
        Err(UsageError(format!("{name}: a Swagger 2 document; blast imports OpenAPI 3 (convert it first)")))
    } else {
        Err(UsageError(format!("{name}: neither a HAR file (log.entries) nor an OpenAPI 3 document (openapi)")))
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// A path the source names relative to itself, as the written profile must name it: relative
/// to the output's folder when the source's folder is the same, else absolute.
fn relative_to_output(source: &Path, file: &str, output: Option<&Path>) -> String {
    let f = Path::new(file);
    if f.is_absolute() {
        return file.to_string();
    }
    let src_dir = source.parent().unwrap_or(Path::new(""));
    let out_dir = output.and_then(Path::parent).unwrap_or(Path::new(""));
    let canon = |p: &Path| std::fs::canonicalize(if p.as_os_str().is_empty() { Path::new(".") } else { p }).ok();
    if canon(src_dir).is_some() && canon(src_dir) == canon(out_dir) {
        return file.to_string();
    }
    let joined = src_dir.join(f);
    std::fs::canonicalize(&joined).unwrap_or(joined).display().to_string()
}
