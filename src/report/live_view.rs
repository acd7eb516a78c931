//! What the `--web` page shows while a run goes on: the once-a-second figures every workload
//! hands the progress line (achieved vs target rate, p99, errors, blast's CPU), and where the
//! workload has them its latency percentiles per second (corrected and uncorrected), heatmap
//! columns and per-name table, kept second by second and turned into the same `html::Page`
//! (charts, heatmap, tables) the HTML report is drawn from.

use crate::report::heatmap::{Column, Heatmap};
use crate::report::html::{Chart, Page, Table, Unit};
use crate::report::model::Percentiles;
use hdrhistogram::Histogram;

/// One second as every workload reports it (the progress line's reading).
#[derive(Clone, Debug, Default)]
pub struct Second {
    /// Seconds since the start (the end of the second).
    pub second: u64,
    pub phase: Option<&'static str>,
    /// What the plan asked for in that second (none for closed-loop work).
    pub target: Option<f64>,
    pub achieved: f64,
    /// `req/s`, `conn/s`, `MB/s`, ...
    pub unit: &'static str,
    pub p99_ms: Option<f64>,
    /// Errors so far by kind.
    pub errors: Vec<(String, u64)>,
    /// Workload figures besides (open connections, ...).
    pub more: Option<String>,
    /// blast's own CPU (`report::cpu::live_line`).
    pub cpu: Option<String>,
}

/// What a workload adds to its second where it has it.
#[derive(Clone, Debug, Default)]
pub struct Detail {
    /// What the latency is where it is not a request's ("Delivery latency", "Part latency"):
    /// its charts and heatmap are titled with it and there is no uncorrected chart.
    pub label: Option<&'static str>,
    /// Latency of the second: corrected (from the intended time) and uncorrected (from the send).
    pub corrected: Option<Percentiles>,
    pub uncorrected: Option<Percentiles>,
    /// The second's corrected latency by heatmap bucket.
    pub heat: Option<Column>,
    /// The run so far by name (the Locust statistics tab).
    pub names: Option<Table>,
}

impl Detail {
    /// The heatmap column of one second's histogram (µs), `second` counted from 1.
    pub fn column(second: u64, h: &Histogram<u64>) -> Option<Column> {
        let span = (second as f64 - 1.0, second as f64, std::borrow::Cow::Borrowed(h));
        Heatmap::of("", "", std::iter::once(span)).columns.pop()
    }
}

/// The run so far, second by second.
#[derive(Debug, Default)]
pub struct LiveView {
    pub title: String,
    seconds: Vec<Second>,
    corrected: Vec<(f64, Percentiles)>,
    uncorrected: Vec<(f64, Percentiles)>,
    heat: Vec<Column>,
    names: Option<Table>,
    label: Option<&'static str>,
    /// Lines shown as warnings (controls applied, refused, ...).
    pub notes: Vec<String>,
}

impl LiveView {
    pub fn new(title: &str) -> Self {
        LiveView { title: title.into(), ..LiveView::default() }
    }

    /// Adds one second.
    pub fn push(&mut self, s: Second, d: Detail) {
        let x = s.second as f64;
        if let Some(p) = d.corrected.filter(|p| p.count > 0) {
            self.corrected.push((x, p));
        }
        if let Some(p) = d.uncorrected.filter(|p| p.count > 0) {
            self.uncorrected.push((x, p));
        }
        self.heat.extend(d.heat);
        self.label = self.label.or(d.label);
        if d.names.is_some() {
            self.names = d.names;
        }
        self.seconds.push(s);
    }

    /// The seconds so far.
    pub fn seconds(&self) -> &[Second] {
        &self.seconds
    }

    /// The page of the run so far.
    pub fn page(&self) -> Page {
        let Some(last) = self.seconds.last() else {
            let headline = vec![("state".into(), "starting".into())];
            return Page { title: self.title.clone(), headline, ..Page::default() };
        };
        let unit = last.unit;
        let mut headline = vec![
            ("elapsed".into(), format!("{} s", last.second)),
            (format!("achieved {unit}"), format!("{:.0}", last.achieved)),
        ];
        if let Some(t) = last.target {
            headline.push((format!("target {unit}"), format!("{t:.0}")));
        }
        headline.push(("p99 (last second)".into(), last.p99_ms.map_or("-".into(), |p| format!("{p:.2} ms"))));
        headline.push(("errors".into(), last.errors.iter().map(|(_, n)| n).sum::<u64>().to_string()));
        if let Some(phase) = last.phase {
            headline.push(("phase".into(), phase.into()));
        }
        let x = |s: &Second| s.second as f64;
        let mut rate = vec![("achieved", self.seconds.iter().map(|s| (x(s), s.achieved)).collect())];
        let targets: Vec<(f64, f64)> = self.seconds.iter().filter_map(|s| Some((x(s), s.target?))).collect();
        if !targets.is_empty() {
            rate.push(("target", targets));
        }
        // MB/s are already a rate: plain numbers on the axis, as the upload report draws them.
        let (y, scale) = match unit {
            "" => ("per second", Unit::PerSecond),
            "MB/s" => ("MB/s (10^6 bytes)", Unit::Count),
            u => (u, Unit::PerSecond),
        };
        let mut charts = vec![Chart::over_time("Achieved vs target rate", y, scale, rate)];
        let latency = [("corrected", &self.corrected), ("uncorrected", &self.uncorrected)];
        for (what, points) in latency.into_iter().take(if self.label.is_some() { 1 } else { 2 }) {
            let line = |f: fn(&Percentiles) -> f64| points.iter().map(|(x, p)| (*x, f(p))).collect();
            let title = match self.label {
                Some(l) => format!("{l} per second"),
                None => format!("Latency per second ({what})"),
            };
            charts.push(Chart::over_time(
                &title,
                "latency",
                Unit::Ms,
                vec![
                    ("p50", line(|p| p.p50)),
                    ("p90", line(|p| p.p90)),
                    ("p99", line(|p| p.p99)),
                    ("max", line(|p| p.max)),
                ],
            ));
        }
        if self.corrected.is_empty() {
            let p99: Vec<(f64, f64)> = self.seconds.iter().filter_map(|s| Some((x(s), s.p99_ms?))).collect();
            charts.push(Chart::over_time("p99 per second", "latency", Unit::Ms, vec![("p99", p99)]));
        }
        let (title, what) = match self.label {
            Some(l) => (format!("{l} heatmap"), l.to_lowercase()),
            None => ("Latency heatmap (corrected)".into(), "corrected latency".into()),
        };
        let heatmaps = vec![Heatmap { title, what, columns: self.heat.clone() }];
        let mut tables = Vec::new();
        tables.extend(self.names.clone());
        let mut errors: Vec<Vec<String>> = last.errors.iter().map(|(k, n)| vec![k.clone(), n.to_string()]).collect();
        errors.sort_by(|a, b| a[0].cmp(&b[0]));
        tables.push(Table { title: "Errors by kind".into(), header: vec!["".into(), "count".into()], rows: errors });
        tables.push(self.recent());
        let mut params = Vec::new();
        if let Some(more) = &last.more {
            params.push(("now".into(), more.clone()));
        }
        if let Some(cpu) = &last.cpu {
            params.push(("blast's CPU".into(), cpu.clone()));
        }
        Page {
            title: self.title.clone(),
            params,
            headline,
            charts,
            heatmaps,
            tables,
            warnings: self.notes.clone(),
            ..Page::default()
        }
    }
}

impl LiveView {
    /// The last seconds as a table, newest first.
    fn recent(&self) -> Table {
        let header = ["second", "target", "achieved", "p99 (ms)"].map(String::from).to_vec();
        let rows = self.seconds.iter().rev().take(RECENT).map(|s| {
            let target = s.target.map_or("-".into(), |t| format!("{t:.0}"));
            let p99 = s.p99_ms.map_or("-".into(), |p| format!("{p:.2}"));
            vec![s.second.to_string(), target, format!("{:.0}", s.achieved), p99]
        });
        Table {
            title: format!("Last seconds ({})", self.seconds.last().map_or("", |s| s.unit)),
            header,
            rows: rows.collect(),
        }
    }
}

/// Seconds the table of the last seconds shows.
const RECENT: usize = 10;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_become_chart_points_and_headline_figures() {
        let mut v = LiveView::new("blast api -> http://x");
        let mut h = crate::engine::recorder::histogram();
        h.record(2_000).expect("record");
        for (n, achieved) in [(1, 900.0), (2, 1000.0)] {
            let s = Second { second: n, target: Some(1000.0), achieved, unit: "req/s", ..Second::default() };
            let d = Detail { corrected: Some(Percentiles::of(&h)), heat: Detail::column(n, &h), ..Detail::default() };
            v.push(s, d);
        }
        let page = v.page();
        let rate = &page.charts[0];
        assert_eq!(rate.series[0].points, vec![(1.0, 900.0), (2.0, 1000.0)]);
        assert_eq!(rate.series[1].points, vec![(1.0, 1000.0), (2.0, 1000.0)]);
        assert_eq!(page.heatmaps[0].columns.len(), 2);
        assert!(page.headline.iter().any(|(k, v)| k == "achieved req/s" && v == "1000"), "{:?}", page.headline);
        assert!(matches!(rate.unit, Unit::PerSecond) && rate.y_label == "req/s");
    }

    #[test]
    fn megabytes_per_second_are_drawn_as_plain_numbers() {
        let mut v = LiveView::new("blast upload");
        v.push(Second { second: 1, achieved: 5252.0, unit: "MB/s", ..Second::default() }, Detail::default());
        let rate = &v.page().charts[0];
        assert!(matches!(rate.unit, Unit::Count), "{:?}", rate.unit);
        assert_eq!(rate.y_label, "MB/s (10^6 bytes)");
    }
}
