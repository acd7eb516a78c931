//! `--html FILE`: one self-contained HTML page (inline CSS and SVG, no script, no network):
//! the run's parameters, headline figures, SLA verdicts, charts over time, the latency
//! percentile spectrum, and tables. Each workload's report fills its parts of a `Page`; `page`
//! adds what comes from the measurement model.

use crate::report::chart::{esc, svg};
pub use crate::report::chart::{Chart, Series, Unit};
pub use crate::report::heatmap::Heatmap;
use crate::report::model::{Measurements, Percentiles};
use crate::report::text;
use std::fmt::Write as _;

#[derive(Clone, Debug, Default)]
pub struct Page {
    pub title: String,
    pub params: Vec<(String, String)>,
    pub headline: Vec<(String, String)>,
    /// SLA verdicts: (passed, `[PASS] p99: ...` line).
    pub verdicts: Vec<(bool, String)>,
    pub charts: Vec<Chart>,
    /// Latency heatmaps, drawn after the charts.
    pub heatmaps: Vec<Heatmap>,
    pub tables: Vec<Table>,
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Table {
    pub title: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// The whole page: a report's own parts, then from its measurements a latency chart per named
/// row that has seconds, the percentile spectrum, and the latency table first among the tables.
pub fn page(mut page: Page, m: &Measurements) -> Page {
    for row in m.rows.iter().filter(|row| !row.kind.is_empty()) {
        let named = m.history.iter().filter(|h| h.interval.name == row.name && h.interval.kind == row.kind);
        // On the run's one clock; a second without samples is a gap (no latency), not 0 ms.
        let seconds: Vec<(f64, &Percentiles)> =
            named.map(|h| (m.second_end(h.timestamp), &h.interval.latency)).collect();
        if seconds.iter().all(|(_, p)| p.count == 0) {
            continue;
        }
        let line = |f: fn(&Percentiles) -> f64| {
            seconds.iter().map(|(x, p)| (*x, if p.count == 0 { f64::NAN } else { f(p) })).collect()
        };
        page.charts.push(Chart::over_time(
            &format!("Latency per second: {}", method_and_name(&row.kind, &row.name)),
            "latency",
            Unit::Ms,
            vec![("p50", line(|p| p.p50)), ("p99", line(|p| p.p99)), ("max", line(|p| p.max))],
        ));
    }
    // Only what was measured: an empty histogram's zeros are no latency.
    let spectra: Vec<Series> = m
        .latencies
        .iter()
        .filter(|l| l.spectrum && l.ms.count > 0)
        .map(|l| Series { name: l.label.into(), points: l.ms.spectrum().to_vec() })
        .collect();
    if !spectra.is_empty() {
        page.charts.push(Chart {
            title: "Latency distribution (percentile spectrum)".into(),
            x_label: "percentile".into(),
            y_label: "latency".into(),
            unit: Unit::Ms,
            series: spectra,
            spectrum: true,
        });
    }
    let header = ["", "count", "p50", "p90", "p95", "p99", "p99.9", "max", "mean"];
    let rows = m.latencies.iter().map(|l| {
        let p = &l.ms;
        let mut r = vec![l.label.to_string(), p.count.to_string()];
        r.extend([p.p50, p.p90, p.p95, p.p99, p.p99_9, p.max, p.mean].map(|v| text::ms(p, v, 3)));
        r
    });
    let latency =
        Table { title: "Latency (ms)".into(), header: header.map(String::from).to_vec(), rows: rows.collect() };
    page.tables.insert(0, latency);
    if m.rows.len() > 2 {
        let header = ["type", "name", "requests", "failures", "p50", "p95", "p99", "max"];
        let rows = m.rows.iter().map(|r| {
            let p = &r.latency;
            let mut row = vec![r.kind.clone(), r.name.clone(), r.requests.to_string(), r.failures.to_string()];
            row.extend([p.p50, p.p95, p.p99, p.max].map(|v| text::ms(p, v, 3)));
            row
        });
        let by_name =
            Table { title: "By name (ms)".into(), header: header.map(String::from).to_vec(), rows: rows.collect() };
        page.tables.insert(1, by_name);
    }
    page
}

fn table(t: &Table) -> String {
    let mut o = format!("<h2>{}</h2><table><thead><tr>", esc(&t.title));
    for h in &t.header {
        let _ = write!(o, "<th>{}</th>", esc(h));
    }
    o.push_str("</tr></thead><tbody>");
    for r in &t.rows {
        o.push_str("<tr>");
        for c in r {
            let _ = write!(o, "<td>{}</td>", esc(c));
        }
        o.push_str("</tr>");
    }
    o.push_str("</tbody></table>");
    o
}

pub fn render(page: &Page) -> String {
    let mut o = head(&page.title);
    o.push_str(&body(page));
    o.push_str("</body></html>\n");
    o
}

/// The document up to and including `<body>`: the title and the page's style.
pub fn head(title: &str) -> String {
    format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{}</title><style>
body{{font-family:system-ui,sans-serif;margin:24px auto;max-width:1360px;padding:0 20px;color:#222}}
h1{{font-size:22px}}h2{{font-size:16px;margin-top:28px}}
table{{border-collapse:collapse;font-size:13px;margin:6px 0}}td,th{{border:1px solid #ddd;padding:3px 8px;text-align:right}}
td:first-child,th:first-child{{text-align:left}}.kv td{{text-align:left}}
.pass{{color:#1a7f37;font-weight:600}}.fail{{color:#cf222e;font-weight:600}}.warn{{color:#9a6700}}
.figs{{display:flex;flex-wrap:wrap;gap:10px}}.fig{{border:1px solid #ddd;border-radius:6px;padding:8px 12px}}.fig b{{display:block;font-size:20px}}
</style></head><body>"#,
        esc(title)
    )
}

/// What the page shows, between `<body>` and `</body>` (the live page swaps it each second).
pub fn body(page: &Page) -> String {
    let mut o = format!(r#"<h1 id="blast-report">{}</h1>"#, esc(&page.title));
    o.push_str(r#"<div class="figs">"#);
    for (k, v) in &page.headline {
        let _ = write!(o, r#"<div class="fig"><b>{}</b>{}</div>"#, esc(v), esc(k));
    }
    o.push_str("</div>");
    if !page.verdicts.is_empty() {
        o.push_str("<h2>SLA</h2><ul>");
        for (pass, line) in &page.verdicts {
            let class = if *pass { "pass" } else { "fail" };
            let _ = write!(o, r#"<li class="{class}">{}</li>"#, esc(line));
        }
        o.push_str("</ul>");
    }
    for w in &page.warnings {
        let _ = write!(o, r#"<p class="warn">warning: {}</p>"#, esc(w));
    }
    for c in page.charts.iter().filter(|c| c.points() > 0) {
        let _ = write!(o, "<h2>{}</h2>{}", esc(&c.title), svg(c));
    }
    for h in page.heatmaps.iter().filter(|h| h.cells() > 0) {
        let _ = write!(o, "<h2>{}</h2>{}", esc(&h.title), crate::report::heatmap::svg(h));
    }
    for t in &page.tables {
        o.push_str(&table(t));
    }
    o.push_str(r#"<h2>Run parameters</h2><table class="kv">"#);
    for (k, v) in &page.params {
        let _ = write!(o, "<tr><td>{}</td><td>{}</td></tr>", esc(k), esc(v));
    }
    o.push_str("</table>");
    o
}

/// A row as a heading names it: `POST /v1/messages`, without the method twice when the name
/// already starts with it (`GET /v1/conversations`, not `GET GET /v1/conversations`).
fn method_and_name(kind: &str, name: &str) -> String {
    let said = name.strip_prefix(kind).is_some_and(|rest| rest.starts_with(' '));
    if said || kind.is_empty() {
        name.to_string()
    } else {
        format!("{kind} {name}")
    }
}

#[cfg(test)]
mod heading_tests {
    #[test]
    fn chart_headings_do_not_repeat_the_method() {
        assert_eq!(super::method_and_name("POST", "POST /v1/messages"), "POST /v1/messages");
        assert_eq!(super::method_and_name("GET", "/v1/conversations"), "GET /v1/conversations");
        assert_eq!(super::method_and_name("flow", "login, then post"), "flow login, then post");
        assert_eq!(super::method_and_name("GET", "GETTER"), "GET GETTER");
    }
}

#[cfg(test)]
mod clock_tests {
    use crate::report::model::{Clock, HistoryRow, Measurements, Percentiles, StatRow};

    #[test]
    fn a_second_without_samples_is_a_gap_in_the_latency_chart() {
        let p = Percentiles { count: 5, p50: 2.0, p99: 3.0, max: 4.0, ..Percentiles::default() };
        let row = |n: u64| {
            let latency = if n == 0 { Percentiles::default() } else { p.clone() };
            StatRow::new("GET", "/x", (n, 0), &latency, 0.0, 1.0)
        };
        // Seconds 1 and 3 had answers, second 2 none.
        let history = [(101, 5), (102, 0), (103, 5)]
            .map(|(t, n)| HistoryRow { timestamp: t, users: 1, interval: row(n), total: row(n) })
            .to_vec();
        let rows = vec![row(10), row(10).aggregated()];
        let m = Measurements {
            rows,
            history,
            started_at_unix: 100.0,
            clock: Clock::RunSeconds { end_s: 2.5 },
            ..Default::default()
        };
        let page = super::page(super::Page::default(), &m);
        let chart = page.charts.iter().find(|c| c.title == "Latency per second: GET /x").expect("chart");
        let p50 = &chart.series[0];
        assert_eq!(p50.points.iter().map(|p| p.0).collect::<Vec<_>>(), [1.0, 2.0, 2.5], "the run's clock");
        assert!(p50.points[1].1.is_nan(), "no latency in the empty second: {:?}", p50.points);
        let svg = crate::report::chart::svg(chart);
        assert!(svg.contains(r#"data-points="2" data-runs="2""#), "{svg}");
    }
}
