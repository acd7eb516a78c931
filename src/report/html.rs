//! `--html FILE`: one self-contained HTML page (inline CSS and SVG, no script, no network):
//! the run's parameters, headline figures, SLA verdicts, charts over time, the latency
//! percentile spectrum, and tables. Each workload's report fills its parts of a `Page`; `page`
//! adds what comes from the measurement model.

use crate::report::model::{Measurements, Percentiles};
use std::fmt::Write as _;

#[derive(Clone, Debug, Default)]
pub struct Page {
    pub title: String,
    pub params: Vec<(String, String)>,
    pub headline: Vec<(String, String)>,
    /// SLA verdicts: (passed, `[PASS] p99: ...` line).
    pub verdicts: Vec<(bool, String)>,
    pub charts: Vec<Chart>,
    pub tables: Vec<Table>,
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// Percentile spectrum: x values are percentiles, drawn on a log scale of 1/(1-q).
    pub spectrum: bool,
}

#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

#[derive(Clone, Debug)]
pub struct Table {
    pub title: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

const COLORS: [&str; 6] = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

impl Chart {
    /// A chart over the run's seconds with one line per named series.
    pub fn over_time(title: &str, y_label: &str, series: Vec<(&str, Vec<(f64, f64)>)>) -> Chart {
        let series = series.into_iter().map(|(name, points)| Series { name: name.into(), points }).collect();
        Chart {
            title: title.into(),
            x_label: "seconds since start".into(),
            y_label: y_label.into(),
            series,
            spectrum: false,
        }
    }
}

/// The whole page: a report's own parts, then from its measurements a latency chart per named
/// row that has seconds, the percentile spectrum, and the latency table first among the tables.
pub fn page(mut page: Page, m: &Measurements) -> Page {
    let t0 = m.started_at_unix.floor();
    for row in m.rows.iter().filter(|row| !row.kind.is_empty()) {
        let named = m.history.iter().filter(|h| h.interval.name == row.name && h.interval.kind == row.kind);
        let seconds: Vec<(f64, &Percentiles)> = named.map(|h| (h.timestamp as f64 - t0, &h.interval.latency)).collect();
        if seconds.is_empty() {
            continue;
        }
        let line = |f: fn(&Percentiles) -> f64| seconds.iter().map(|(x, p)| (*x, f(p))).collect();
        page.charts.push(Chart::over_time(
            &format!("Latency per second: {} {}", row.kind, row.name),
            "ms",
            vec![("p50", line(|p| p.p50)), ("p99", line(|p| p.p99)), ("max", line(|p| p.max))],
        ));
    }
    let spectra = m.latencies.iter().filter(|l| l.spectrum);
    page.charts.push(Chart {
        title: "Latency distribution (percentile spectrum)".into(),
        x_label: "percentile".into(),
        y_label: "ms".into(),
        series: spectra.map(|l| Series { name: l.label.into(), points: l.ms.spectrum().to_vec() }).collect(),
        spectrum: true,
    });
    let header = ["", "count", "p50", "p90", "p95", "p99", "p99.9", "max", "mean"];
    let rows = m.latencies.iter().map(|l| {
        let p = &l.ms;
        let mut r = vec![l.label.to_string(), p.count.to_string()];
        r.extend([p.p50, p.p90, p.p95, p.p99, p.p99_9, p.max, p.mean].iter().map(|v| format!("{v:.3}")));
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
            row.extend([p.p50, p.p95, p.p99, p.max].iter().map(|v| format!("{v:.3}")));
            row
        });
        let by_name =
            Table { title: "By name (ms)".into(), header: header.map(String::from).to_vec(), rows: rows.collect() };
        page.tables.insert(1, by_name);
    }
    page
}

fn nice_max(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * mag >= v {
            return m * mag;
        }
    }
    10.0 * mag
}

fn label(v: f64) -> String {
    if v >= 100.0 || v == v.round() {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

fn svg(chart: &Chart) -> String {
    let (w, h, left, right, top, bottom) = (760.0, 260.0, 70.0, 20.0, 20.0, 45.0);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let xf = |x: f64| if chart.spectrum { (1.0 / (1.0 - x / 100.0)).log10() } else { x };
    let pts: Vec<(f64, f64)> = chart.series.iter().flat_map(|s| s.points.iter().copied()).collect();
    let (x0, x1) = if chart.spectrum {
        (xf(50.0), xf(99.999))
    } else {
        let lo = pts.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
        let hi = pts.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
        if lo.is_finite() && hi > lo {
            (lo, hi)
        } else {
            (0.0, 1.0)
        }
    };
    let ymax = nice_max(pts.iter().map(|p| p.1).fold(0.0, f64::max) * 1.05);
    let sx = |x: f64| left + (xf(x) - x0) / (x1 - x0) * pw;
    let sy = |y: f64| top + ph - (y / ymax) * ph;
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{}">"#,
        esc(&chart.title)
    );
    let _ = write!(o, r##"<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#ccc"/>"##);
    for i in 0..=4 {
        let y = ymax * i as f64 / 4.0;
        let py = sy(y);
        let _ = write!(
            o,
            r##"<line x1="{left}" x2="{}" y1="{py}" y2="{py}" stroke="#e4e4e4"/><text x="{}" y="{}" text-anchor="end" font-size="11">{}</text>"##,
            left + pw,
            left - 6.0,
            py + 4.0,
            label(y)
        );
    }
    let xticks: Vec<(f64, String)> = if chart.spectrum {
        [(50.0, "50%"), (90.0, "90%"), (99.0, "99%"), (99.9, "99.9%"), (99.99, "99.99%"), (99.999, "max")]
            .iter()
            .map(|(x, l)| (*x, l.to_string()))
            .collect()
    } else {
        (0..=5).map(|i| x0 + (x1 - x0) * i as f64 / 5.0).map(|x| (x, label(x))).collect()
    };
    for (x, l) in xticks {
        let px = sx(x);
        let _ = write!(
            o,
            r##"<line x1="{px}" x2="{px}" y1="{top}" y2="{}" stroke="#eee"/><text x="{px}" y="{}" text-anchor="middle" font-size="11">{}</text>"##,
            top + ph,
            top + ph + 15.0,
            esc(&l)
        );
    }
    let _ = write!(
        o,
        r#"<text x="{}" y="{}" text-anchor="middle" font-size="12">{}</text>"#,
        left + pw / 2.0,
        h - 6.0,
        esc(&chart.x_label)
    );
    let _ = write!(
        o,
        r#"<text x="14" y="{}" text-anchor="middle" font-size="12" transform="rotate(-90 14 {})">{}</text>"#,
        top + ph / 2.0,
        top + ph / 2.0,
        esc(&chart.y_label)
    );
    for (i, s) in chart.series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let line: Vec<String> = s.points.iter().map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y))).collect();
        let _ = write!(o, r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#, line.join(" "));
        if s.points.len() == 1 {
            let (x, y) = s.points[0];
            let _ = write!(o, r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{color}"/>"#, sx(x), sy(y));
        }
        let ly = top + 14.0 + 16.0 * i as f64;
        let _ = write!(
            o,
            r#"<rect x="{}" y="{}" width="12" height="3" fill="{color}"/><text x="{}" y="{}" font-size="11">{}</text>"#,
            left + 10.0,
            ly - 4.0,
            left + 26.0,
            ly,
            esc(&s.name)
        );
    }
    o.push_str("</svg>");
    o
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
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{}</title><style>
body{{font-family:system-ui,sans-serif;margin:24px auto;max-width:820px;color:#222}}
h1{{font-size:22px}}h2{{font-size:16px;margin-top:28px}}
table{{border-collapse:collapse;font-size:13px;margin:6px 0}}td,th{{border:1px solid #ddd;padding:3px 8px;text-align:right}}
td:first-child,th:first-child{{text-align:left}}.kv td{{text-align:left}}
.pass{{color:#1a7f37;font-weight:600}}.fail{{color:#cf222e;font-weight:600}}.warn{{color:#9a6700}}
.figs{{display:flex;flex-wrap:wrap;gap:10px}}.fig{{border:1px solid #ddd;border-radius:6px;padding:8px 12px}}.fig b{{display:block;font-size:20px}}
</style></head><body><h1 id="blast-report">{}</h1>"#,
        esc(&page.title),
        esc(&page.title)
    );
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
    for c in &page.charts {
        let _ = write!(o, "<h2>{}</h2>{}", esc(&c.title), svg(c));
    }
    for t in &page.tables {
        o.push_str(&table(t));
    }
    o.push_str(r#"<h2>Run parameters</h2><table class="kv">"#);
    for (k, v) in &page.params {
        let _ = write!(o, "<tr><td>{}</td><td>{}</td></tr>", esc(k), esc(v));
    }
    o.push_str("</table></body></html>\n");
    o
}
