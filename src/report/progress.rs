//! Live progress on stderr, one layout for every workload: elapsed / total, target vs achieved
//! rate, p99 of the last second, errors by their top kinds, blast's own CPU. On a terminal an
//! indicatif bar; otherwise a plain line every second, every 5 s past the first minute (logs,
//! CI). `--quiet` silences both.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Plain lines this far apart when stderr is not a terminal: every second in the first minute,
/// then every 5 s.
const PLAIN_FIRST: Duration = Duration::from_secs(1);
const PLAIN_LATER: Duration = Duration::from_secs(5);
const FIRST_MINUTE: Duration = Duration::from_secs(60);
/// Readings come about a second apart; one a little early still gets its line.
const EARLY: Duration = Duration::from_millis(150);
/// Error kinds named on the line, most frequent first.
const TOP_KINDS: usize = 2;

/// A rate of the last second and what it should have been.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rate {
    /// What the plan asked for (none for closed-loop work, e.g. uploads).
    pub target: Option<f64>,
    pub achieved: f64,
    /// `req/s`, `conn/s`, `MB/s`, ...
    pub unit: &'static str,
}

/// What a workload shows once a second.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reading {
    /// Time since the start, when the workload knows it better than the display's own clock.
    pub elapsed: Option<Duration>,
    /// `warm-up`, `ramp`, `hold`, ...
    pub phase: Option<&'static str>,
    pub rate: Rate,
    /// p99 of the last second, ms (none when nothing completed in it).
    pub p99_ms: Option<f64>,
    /// Errors so far by kind (any order).
    pub errors: Vec<(String, u64)>,
    /// Workload figures besides (open connections, ...).
    pub more: Option<String>,
    /// blast's own CPU (`report::cpu::live_line`).
    pub cpu: Option<String>,
}

impl Reading {
    /// The figures, without the elapsed time: `rate 998/1000 req/s, p99 3.21 ms, errors 5
    /// (timeout 3, refused 2), ... | cpu 12% (busiest core 15%)`.
    pub fn figures(&self) -> String {
        let r = &self.rate;
        let mut line = match r.target {
            Some(t) => format!("rate {}/{} {}", rate(r.achieved), rate(t), r.unit),
            None => format!("rate {} {}", rate(r.achieved), r.unit),
        };
        match self.p99_ms {
            Some(p99) => line.push_str(&format!(", p99 {p99:.2} ms")),
            None => line.push_str(", p99 -"),
        }
        line.push_str(&format!(", {}", errors(&self.errors)));
        if let Some(more) = &self.more {
            line.push_str(&format!(", {more}"));
        }
        if let Some(phase) = self.phase {
            line.push_str(&format!(" ({phase})"));
        }
        if let Some(cpu) = &self.cpu {
            line.push_str(&format!(" | {cpu}"));
        }
        line
    }

    /// The plain line: `[   12s/30s] ` and the figures. Past the planned length the run is
    /// draining (answers still coming in, connections closing): the time stops at the plan's
    /// and the line says so, never `[7s/6s]`.
    pub fn line(&self, elapsed: Duration, total: Option<Duration>) -> String {
        let over = total.is_some_and(|t| elapsed.as_secs_f64().round() > t.as_secs_f64().round());
        let shown = match total {
            Some(t) if over => t,
            _ => elapsed,
        };
        let at = format!("{}s", shown.as_secs_f64().round() as u64);
        let of = total.map_or(String::new(), |t| format!("/{}s", t.as_secs_f64().round() as u64));
        let draining = if over { " (draining)" } else { "" };
        format!("[{:>11}] {}{draining}", format!("{at}{of}"), self.figures())
    }
}

/// A rate as it reads best: `12.5`, `998`, `12.3K`.
fn rate(v: f64) -> String {
    if v >= 100_000.0 {
        format!("{:.1}K", v / 1000.0)
    } else if v >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// `errors 0`, or `errors 5 (timeout 3, refused 2)`: the total and the top kinds.
fn errors(kinds: &[(String, u64)]) -> String {
    let mut kinds: Vec<&(String, u64)> = kinds.iter().filter(|(_, n)| *n > 0).collect();
    kinds.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let total: u64 = kinds.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return "errors 0".into();
    }
    let top: Vec<String> = kinds.iter().take(TOP_KINDS).map(|(k, n)| format!("{k} {n}")).collect();
    let rest = if kinds.len() > TOP_KINDS { ", ..." } else { "" };
    format!("errors {total} ({}{rest})", top.join(", "))
}

/// Per-second rates of counters that only grow, from one reading to the next.
pub struct Deltas {
    last_at: Instant,
    last: Vec<u64>,
}

impl Deltas {
    pub fn new(n: usize) -> Self {
        Deltas { last_at: Instant::now(), last: vec![0; n] }
    }

    /// Each counter's growth per second since the last call.
    pub fn per_second(&mut self, now: &[u64]) -> Vec<f64> {
        let secs = self.last_at.elapsed().as_secs_f64().max(1e-3);
        self.last_at = Instant::now();
        let rates = now.iter().zip(&self.last).map(|(n, l)| n.saturating_sub(*l) as f64 / secs).collect();
        self.last = now.to_vec();
        rates
    }
}

/// The counters and latencies of the live counters' previous second: what a ws or upload
/// progress line shows per second.
pub struct LastSecond {
    deltas: Deltas,
    latencies: crate::engine::live::LatencyCounts,
    /// The latencies of the last second read (`p99_ms`), and how many seconds were read.
    interval: crate::engine::live::LatencyCounts,
    seconds: u64,
}

impl LastSecond {
    /// Watches `n` counters.
    pub fn new(n: usize) -> Self {
        LastSecond { deltas: Deltas::new(n), latencies: Default::default(), interval: Default::default(), seconds: 0 }
    }

    /// Each counter's growth per second since the last call.
    pub fn per_second(&mut self, now: &[u64]) -> Vec<f64> {
        self.deltas.per_second(now)
    }

    /// The p99 of the latencies recorded since the last call, in ms.
    pub fn p99_ms(&mut self, live: &crate::engine::live::Live) -> Option<f64> {
        let now = live.latencies();
        self.interval = now.since(&self.latencies);
        self.latencies = now;
        self.seconds += 1;
        self.interval.quantile_us(0.99).map(|us| us as f64 / 1000.0)
    }

    /// The live page's latency figures of the second `p99_ms` last read (`label`: what the
    /// latency is, e.g. "Delivery latency"): its percentiles and heatmap column, from the live
    /// counters' buckets (each value at most 12.5% above the one measured; the report's figures
    /// come from the exact histograms).
    pub fn detail(&self, label: &'static str) -> crate::report::live_view::Detail {
        use crate::report::live_view::Detail;
        let h = self.interval.histogram();
        Detail {
            label: Some(label),
            corrected: Some(crate::report::model::Percentiles::of(&h)),
            heat: if h.is_empty() { None } else { Detail::column(self.seconds, &h) },
            ..Detail::default()
        }
    }
}

pub struct Progress {
    bar: Option<ProgressBar>,
    plain: bool,
    started: Instant,
    total: Option<Duration>,
    last_plain: Option<Duration>,
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
        Progress { bar, plain: !quiet && !terminal, started: Instant::now(), total, last_plain: None }
    }

    /// Shows a reading (called about once a second).
    pub fn update(&mut self, reading: &Reading) {
        let elapsed = reading.elapsed.unwrap_or_else(|| self.started.elapsed());
        if let Some(bar) = &self.bar {
            let draining = self.total.is_some_and(|t| elapsed.as_secs() > t.as_secs().max(1));
            let len = self.total.map_or(u64::MAX, |t| t.as_secs().max(1));
            bar.set_position(elapsed.as_secs().min(len));
            let figures = reading.figures() + if draining { " (draining)" } else { "" };
            bar.set_message(crate::redact::text(&figures).into_owned());
        } else if self.plain && due(self.last_plain, elapsed) {
            self.last_plain = Some(elapsed);
            eprintln!("{}", crate::redact::text(&reading.line(elapsed, self.total)));
        }
    }

    /// Removes the bar before the summary is printed.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A plain line is due at `elapsed` after one at `last`: a second apart in the first minute,
/// 5 s apart after it.
fn due(last: Option<Duration>, elapsed: Duration) -> bool {
    let every = if elapsed <= FIRST_MINUTE { PLAIN_FIRST } else { PLAIN_LATER };
    last.is_none_or(|l| elapsed + EARLY >= l + every)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_come_every_second_then_every_five_past_the_first_minute() {
        let mut last = None;
        let mut printed = Vec::new();
        // Readings a second apart, a little late or early as the run's ticks are.
        for s in 1..=80u64 {
            let at = Duration::from_millis(s * 1000 + [3, 0, 40, 90][s as usize % 4]) - Duration::from_millis(60);
            if due(last, at) {
                last = Some(at);
                printed.push(at.as_secs_f64().round() as u64);
            }
        }
        let expected: Vec<u64> = (1..=60).chain([65, 70, 75, 80]).collect();
        assert_eq!(printed, expected);
    }

    #[test]
    fn one_layout_names_rate_p99_top_errors_and_cpu() {
        let r = Reading {
            rate: Rate { target: Some(1000.0), achieved: 998.0, unit: "req/s" },
            p99_ms: Some(3.214),
            errors: vec![("refused".into(), 2), ("timeout".into(), 3), ("HTTP 500".into(), 1), ("none".into(), 0)],
            cpu: Some("cpu 12% (busiest core 15%)".into()),
            phase: Some("warm-up"),
            ..Reading::default()
        };
        assert_eq!(
            r.line(Duration::from_millis(11_900), Some(Duration::from_secs(30))),
            "[    12s/30s] rate 998/1000 req/s, p99 3.21 ms, errors 6 (timeout 3, refused 2, ...) (warm-up) | cpu 12% (busiest core 15%)"
        );
        let upload = Reading { rate: Rate { target: None, achieved: 412.25, unit: "MB/s" }, ..Reading::default() };
        assert_eq!(upload.line(Duration::from_secs(2), None), "[         2s] rate 412 MB/s, p99 -, errors 0");
        // Past the plan (ws waits for the last deliveries and closes): capped, and said.
        let drain = Reading { rate: Rate { target: Some(0.0), achieved: 0.0, unit: "conn/s" }, ..Reading::default() };
        let line = drain.line(Duration::from_millis(7_100), Some(Duration::from_secs(6)));
        assert!(line.starts_with("[      6s/6s] ") && line.ends_with(" (draining)"), "{line}");
        assert!(!drain.line(Duration::from_millis(6_200), Some(Duration::from_secs(6))).contains("draining"));
        assert_eq!(rate(12.5), "12.5");
        assert_eq!(rate(166_000.0), "166.0K");
    }
}
