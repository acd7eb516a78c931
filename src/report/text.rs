//! The terminal summary: the report's title and headline lines (name, text), then one latency table row per
//! named latency of the model, then the warnings. A latency nothing was measured for shows `-`,
//! never 0; with none measured at all (every connection failed), the table is one line saying so.

use crate::report::model::{Measurements, Percentiles};
use std::fmt::Write;

/// How a workload's latency table is laid out: label and column widths, decimals, whether it
/// has a mean column, and a note printed under it.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// Width of the headline lines' names.
    pub key: usize,
    pub label: usize,
    pub width: usize,
    pub decimals: usize,
    pub mean: bool,
    pub note: Option<&'static str>,
}

/// What the latency table says when nothing was measured.
pub const NO_RESPONSES: &str = "no responses: no latency was measured";

/// A figure of `p` with `d` decimals, or `-` when `p` rests on nothing.
pub fn ms(p: &Percentiles, v: f64, d: usize) -> String {
    if p.count == 0 {
        "-".into()
    } else {
        format!("{v:.d$}")
    }
}

/// `a: 1, b: 2`, or `none`.
pub fn counts<'a, V: std::fmt::Display + 'a>(items: impl IntoIterator<Item = (&'a String, V)>) -> String {
    let all: Vec<String> = items.into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
    if all.is_empty() {
        "none".into()
    } else {
        all.join(", ")
    }
}

/// `headline`: (name, text) lines under the title.
pub fn render(
    title: &str,
    headline: &[(&str, String)],
    layout: Layout,
    m: &Measurements,
    warnings: &[String],
) -> String {
    let Layout { key, label, width: w, decimals: d, mean, note } = layout;
    let mut o = format!("{title}\n");
    for (name, text) in headline {
        let _ = writeln!(o, "  {name:<key$}{text}");
    }
    o.push('\n');
    if m.latencies.iter().all(|l| l.ms.count == 0) {
        let _ = writeln!(o, "  {:<label$}{NO_RESPONSES}", "latency (ms)");
    } else {
        let _ = write!(o, "  {:<label$}", "latency (ms)");
        for h in ["p50", "p90", "p95", "p99", "p99.9", "max"] {
            let _ = write!(o, "{h:>w$}");
        }
        let _ = writeln!(o, "{}", if mean { format!("{:>1$}", "mean", w + 1) } else { String::new() });
        for l in &m.latencies {
            let q = &l.ms;
            let _ = write!(o, "  {:<label$}", l.label);
            for v in [q.p50, q.p90, q.p95, q.p99, q.p99_9, q.max] {
                let _ = write!(o, "{:>w$}", ms(q, v, d));
            }
            let _ = writeln!(o, "{}", if mean { format!("{:>1$}", ms(q, q.mean, d), w + 1) } else { String::new() });
        }
        if let Some(note) = note {
            let _ = writeln!(o, "  {note}");
        }
    }
    if m.rows.len() > 2 {
        by_name(&mut o, &m.rows);
    }
    for w in warnings {
        let _ = writeln!(o, "  warning: {w}");
    }
    o
}

/// The table of named rows (several request names), `Aggregated` last, latency in ms.
fn by_name(o: &mut String, rows: &[crate::report::model::StatRow]) {
    let n = rows.iter().map(|r| r.name.chars().count()).max().unwrap_or(0).clamp(10, 48);
    let _ = writeln!(
        o,
        "\n  {:<n$} {:<6}{:>9}{:>8}{:>9}{:>9}{:>9}{:>9}",
        "by name (ms)", "type", "requests", "failed", "p50", "p95", "p99", "max"
    );
    for r in rows {
        let p = &r.latency;
        let [p50, p95, p99, max] = [p.p50, p.p95, p.p99, p.max].map(|v| ms(p, v, 3));
        let _ = writeln!(
            o,
            "  {:<n$} {:<6}{:>9}{:>8}{p50:>9}{p95:>9}{p99:>9}{max:>9}",
            r.name, r.kind, r.requests, r.failures
        );
    }
}
