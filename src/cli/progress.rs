//! Live progress on stderr: on a terminal an indicatif bar (elapsed / total and the current
//! figures), otherwise one plain line every few seconds (logs, CI). `--quiet` silences both.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Plain lines this far apart when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

pub struct Progress {
    bar: Option<ProgressBar>,
    plain: bool,
    started: Instant,
    last_plain: Option<Instant>,
}

impl Progress {
    /// `total`: the planned length of the run, when known.
    pub fn new(quiet: bool, total: Option<Duration>) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let bar = (!quiet && terminal).then(|| {
            let len = total.map_or(0, |t| t.as_secs().max(1));
            let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr_with_hz(4));
            let template = if total.is_some() {
                "{elapsed_precise} [{bar:30}] {pos}/{len}s {msg}"
            } else {
                "{elapsed_precise} {spinner} {msg}"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        Progress { bar, plain: !quiet && !terminal, started: Instant::now(), last_plain: None }
    }

    /// Reports the current state (`message`: rates, interval p99, errors, connections).
    pub fn update(&mut self, message: &str) {
        let message = crate::redact::text(message);
        let elapsed = self.started.elapsed();
        if let Some(bar) = &self.bar {
            bar.set_position(elapsed.as_secs());
            bar.set_message(message.to_string());
        } else if self.plain && self.last_plain.is_none_or(|t| t.elapsed() >= PLAIN_EVERY) {
            self.last_plain = Some(Instant::now());
            eprintln!("[{:>5.0}s] {message}", elapsed.as_secs_f64());
        }
    }

    /// Removes the bar before the summary is printed.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
