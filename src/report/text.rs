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

/// The table of named rows (several request names), `Aggregated` last, latency in ms. Every
/// column is as wide as its widest value plus a space, so that no value runs into the next;
/// a name longer than `NAME_MAX` characters is cut with an ellipsis.
fn by_name(o: &mut String, rows: &[crate::report::model::StatRow]) {
    let header = ["by name (ms)", "type", "requests", "failed", "p50", "p95", "p99", "max"];
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|r| {
            let p = &r.latency;
            let [p50, p95, p99, max] = [p.p50, p.p95, p.p99, p.max].map(|v| ms(p, v, 3));
            [cut(&r.name, NAME_MAX), r.kind.clone(), r.requests.to_string(), r.failures.to_string(), p50, p95, p99, max]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |o: &mut String, row: &[&str]| {
        let _ = write!(o, "  {:<w$} {:<t$}", row[0], row[1], w = widths[0], t = widths[1]);
        for (c, w) in row[2..].iter().zip(&widths[2..]) {
            let _ = write!(o, " {c:>w$}");
        }
        o.push('\n');
    };
    o.push('\n');
    line(o, &header);
    for row in &cells {
        line(o, &row.each_ref().map(String::as_str));
    }
}

/// Longest name the by-name table shows whole.
const NAME_MAX: usize = 48;

/// `s`, or its first `max - 1` characters and `…` when longer.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max - 1).chain(['…']).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::StatRow;

    #[test]
    fn wide_values_and_names_never_run_columns_together() {
        // `blast upload --size 256M --parallel 100`: a 10-second object latency.
        let slow = Percentiles {
            count: 100,
            p50: 10_395.647,
            p95: 10_797.055,
            p99: 10_797.055,
            max: 10_797.055,
            ..Percentiles::default()
        };
        let long = "x".repeat(70);
        let rows = [
            StatRow::new("S3", "object upload", (100, 0), &slow, 0.0, 1.0),
            StatRow::new("GET", &long, (1, 0), &slow, 0.0, 1.0),
        ];
        let mut o = String::new();
        by_name(&mut o, &rows);
        let line = o.lines().find(|l| l.contains("object upload")).expect("row");
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            cells,
            ["object", "upload", "S3", "100", "0", "10395.647", "10797.055", "10797.055", "10797.055"],
            "{o}"
        );
        let cut_row = o.lines().find(|l| l.contains('…')).expect("the long name is cut");
        assert_eq!(cut_row.split_whitespace().next().map(|n| n.chars().count()), Some(NAME_MAX), "{o}");
        // Every line is as long as the header: the columns line up.
        let lens: Vec<usize> = o.lines().filter(|l| !l.is_empty()).map(|l| l.chars().count()).collect();
        assert!(lens.windows(2).all(|w| w[0] == w[1]), "{o}");
    }
}
