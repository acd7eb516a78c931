//! Turns a run's merged measurements into reports.
//!
//! - `summary`: the figures, computed once (`Summary`); every format renders it.
//! - `text`: the terminal summary.
//! - `ws`, `upload`: the reports of `blast ws` and `blast upload` runs.
//! - JSON is `Summary` serialized with serde_json (`write_json`).

pub mod summary;
pub mod text;
pub mod upload;
pub mod ws;

pub use summary::Summary;

/// Writes the summary as pretty JSON to `path` (`-` for stdout).
pub fn write_json<T: serde::Serialize>(s: &T, path: &str) -> std::io::Result<()> {
    let json = serde_json::to_string_pretty(s).map_err(std::io::Error::other)?;
    if path == "-" {
        println!("{json}");
        Ok(())
    } else {
        std::fs::write(path, json + "\n")
    }
}
