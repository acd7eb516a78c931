//! Writing a finished run's reports: the terminal summary with the SLA verdicts, and every file
//! asked for (JSON with its `metrics` and `sla`, Locust CSV, HTML, HdrHistogram log), each staged
//! beside its path and renamed into place once all are written (`output::Staged`). Every output
//! passes through `redact`. The command line says where (`Destinations`); this module owns how.

use crate::report::output::{self, OutputPath, Staged};
use crate::report::sla::{self, Target};
use crate::report::Report;

/// Where a run's reports go: what `--json`, `--csv`, `--html` and `--hdr-log` named.
#[derive(Clone, Debug, Default)]
pub struct Destinations {
    /// `-` for stdout (the text summary then goes to stderr).
    pub json: Option<String>,
    /// Locust's files: PREFIX_stats.csv, PREFIX_stats_history.csv, ...
    pub csv: Option<String>,
    /// Every name's row in the history each second, not only Aggregated.
    pub csv_full_history: bool,
    pub html: Option<String>,
    pub hdr_log: Option<String>,
}

impl Destinations {
    /// Every file that will be written, with the flag that named it.
    pub fn paths(&self) -> Result<Vec<OutputPath>, String> {
        let mut paths = Vec::new();
        for (flag, path) in [("--html", &self.html), ("--hdr-log", &self.hdr_log), ("--csv", &self.csv)] {
            if path.as_deref() == Some("-") {
                return Err(format!("{flag}: '-' (stdout) is only for --json; give a file"));
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

    /// Checks every path before the run: directories exist and are writable, no two outputs
    /// share a path (no file is created or touched).
    pub fn check(&self) -> Result<(), String> {
        output::check(&self.paths()?)
    }
}

/// Prints the summary and the SLA verdicts (to stderr with `--json -`) and writes every
/// requested file. Returns whether the run passes: without targets, `report.clean()`; with
/// them, every target met and the run not interrupted.
pub fn write<R: Report>(report: &R, to: &Destinations, targets: Option<&[Target]>) -> Result<bool, String> {
    let figures = report.metrics();
    let verdicts = targets.map(|t| sla::evaluate(t, &figures)).unwrap_or_default();
    let mut summary = report.render();
    for v in &verdicts {
        summary.push_str(&format!("  {}\n", v.line));
    }
    // Every output passes through `redact`: no token or credential is printed or written
    // (files through `Staged`, which masks each as it writes it).
    let summary = crate::redact::text(&summary);
    if to.json_to_stdout() {
        eprint!("{summary}");
    } else {
        print!("{summary}");
    }
    let mut staged = Staged::default();
    let mut json_out = None;
    if let Some(path) = &to.json {
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
    if let Some(prefix) = &to.csv {
        crate::report::csv::write(&mut staged, prefix, report.measurements(), to.csv_full_history)
            .map_err(|e| format!("--csv {prefix}: {e}"))?;
    }
    if let Some(path) = &to.html {
        let mut page = report.html();
        page.verdicts = verdicts.iter().map(|v| (v.pass, v.line.clone())).collect();
        let html = crate::report::html::render(&page);
        staged.write(path.as_ref(), html.as_bytes()).map_err(|e| format!("--html {path}: {e}"))?;
    }
    if let Some(path) = &to.hdr_log {
        staged
            .write_with(path.as_ref(), |tmp| report.write_hdr_log(&tmp.to_string_lossy()))
            .map_err(|e| format!("--hdr-log {path}: {e}"))?;
    }
    staged.commit().map_err(|e| format!("cannot write the reports: {e}"))?;
    if let Some(text) = json_out {
        print!("{}", crate::redact::text(&text));
    }
    let passed = match targets {
        Some(_) => verdicts.iter().all(|v| v.pass) && !report.interrupted(),
        None => report.clean(),
    };
    Ok(passed && report.accounts_hold())
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
