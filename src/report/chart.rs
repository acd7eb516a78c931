//! Line charts of the HTML page as inline SVG: figures over the run's seconds and the latency
//! percentile spectrum. Axes are divided in 1-2-5 steps and labelled in the figure's unit
//! (`250 ms`, `12.5K/s`, `400 MB/s`); the legend sits in a row above the plot, clear of the
//! data; every point is marked when there are few. Elements carry classes (`series` with
//! `data-points`, `x-tick`, `y-tick`, `x-label`, `y-label`) that tests read from the DOM.

use crate::report::human::{decimals, si, ticks, trim};
use std::fmt::Write as _;

/// Width and height of a chart's drawing, in CSS pixels (the page is as wide).
pub const WIDTH: f64 = 1320.0;
const HEIGHT: f64 = 300.0;
pub const LEFT: f64 = 84.0;
const RIGHT: f64 = 24.0;
pub const TOP: f64 = 34.0;
const BOTTOM: f64 = 46.0;
/// Series with at most this many points get a marker on each.
const MARKED: usize = 150;

pub const COLORS: [&str; 6] = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];

/// What the y values are, which decides how ticks read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Milliseconds (`0.5 ms`, `250 ms`, `1.5 s`).
    Ms,
    /// Events per second (`950/s`, `12.5K/s`).
    PerSecond,
    /// Bytes per second, decimal (`400 MB/s`).
    BytesPerSecond,
    /// A plain count (`500`, `10K`).
    Count,
}

#[derive(Clone, Debug)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub unit: Unit,
    pub series: Vec<Series>,
    /// Percentile spectrum: x values are percentiles, drawn on a log scale of 1/(1-q).
    pub spectrum: bool,
}

#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

impl Chart {
    /// A chart over the run's seconds (x: seconds since the start) with one line per series.
    pub fn over_time(title: &str, y_label: &str, unit: Unit, series: Vec<(&str, Vec<(f64, f64)>)>) -> Chart {
        let series = series.into_iter().map(|(name, points)| Series { name: name.into(), points }).collect();
        let (title, x_label, y_label) = (title.into(), "seconds since start".into(), y_label.into());
        Chart { title, x_label, y_label, unit, series, spectrum: false }
    }

    /// Points in all series (a gap is none).
    pub fn points(&self) -> usize {
        self.series.iter().map(Series::drawn).sum()
    }
}

/// Seconds further apart than this on a chart over time have a second between them that had
/// no value: the line breaks there instead of joining across it.
const GAP_S: f64 = 1.5;

impl Series {
    /// Points with a value (a `NaN` y is a second without one: a gap).
    pub fn drawn(&self) -> usize {
        self.points.iter().filter(|p| p.1.is_finite()).count()
    }

    /// The runs of points a line joins: split at a gap (a `NaN` y, or over time, a missing
    /// second between two points).
    fn runs(&self, over_time: bool) -> Vec<Vec<(f64, f64)>> {
        let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
        let mut last_x: Option<f64> = None;
        for &(x, y) in &self.points {
            if !y.is_finite() {
                last_x = None;
                continue;
            }
            let apart = last_x.is_some_and(|l| over_time && x - l > GAP_S);
            if last_x.is_none() || apart {
                runs.push(Vec::new());
            }
            if let Some(run) = runs.last_mut() {
                run.push((x, y));
            }
            last_x = Some(x);
        }
        runs
    }
}

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Tick `v` of an axis in `unit` whose ticks are `step` apart and reach `top`.
fn tick_label(v: f64, step: f64, top: f64, unit: Unit) -> String {
    match unit {
        Unit::Ms if top >= 1000.0 => format!("{} s", trim(v / 1000.0, decimals(step / 1000.0))),
        Unit::Ms => format!("{} ms", trim(v, decimals(step))),
        Unit::PerSecond | Unit::Count | Unit::BytesPerSecond => {
            let (scaled_top, suffix) = si(top);
            let div = if top == 0.0 { 1.0 } else { top / scaled_top };
            let n = trim(v / div, decimals(step / div));
            let suffix = if v == 0.0 { "" } else { suffix };
            match unit {
                Unit::PerSecond => format!("{n}{suffix}/s"),
                Unit::BytesPerSecond => format!("{n} {suffix}B/s"),
                _ => format!("{n}{suffix}"),
            }
        }
    }
}

/// Percentiles on the spectrum's x axis and how they read.
const SPECTRUM_TICKS: [(f64, &str); 6] =
    [(50.0, "50%"), (90.0, "90%"), (99.0, "99%"), (99.9, "99.9%"), (99.99, "99.99%"), (99.999, "max")];

/// The chart as an SVG element as wide as the page.
pub fn svg(chart: &Chart) -> String {
    let (pw, ph) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let xf = |x: f64| if chart.spectrum { (1.0 / (1.0 - x.min(99.999) / 100.0)).log10() } else { x };
    let pts: Vec<(f64, f64)> =
        chart.series.iter().flat_map(|s| s.points.iter().copied()).filter(|p| p.1.is_finite()).collect();
    let (x_step, x_ticks) = if chart.spectrum {
        (0.0, SPECTRUM_TICKS.iter().map(|t| t.0).collect())
    } else {
        let hi = pts.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
        let lo = pts.iter().map(|p| p.0).fold(0.0, f64::min);
        ticks(lo, if hi > lo { hi } else { lo + 1.0 }, 10)
    };
    let (x0, x1) = (xf(x_ticks[0]), xf(*x_ticks.last().unwrap_or(&1.0)));
    let ymax = pts.iter().map(|p| p.1).filter(|v| v.is_finite()).fold(0.0, f64::max);
    let (y_step, y_ticks) = ticks(0.0, if ymax > 0.0 { ymax } else { 1.0 }, 5);
    let ytop = *y_ticks.last().unwrap_or(&1.0);
    let sx = |x: f64| LEFT + (xf(x) - x0) / (x1 - x0) * pw;
    let sy = |y: f64| TOP + ph - (y / ytop) * ph;
    let mut o = String::new();
    let _ = write!(
        o,
        r##"<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" aria-label="{}"><rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#ccc"/>"##,
        esc(&chart.title)
    );
    for &y in &y_ticks {
        let py = sy(y);
        let label = tick_label(y, y_step, ytop, chart.unit);
        let _ = write!(
            o,
            r##"<line x1="{LEFT}" x2="{}" y1="{py:.1}" y2="{py:.1}" stroke="#e4e4e4"/><text class="y-tick" x="{}" y="{:.1}" text-anchor="end" font-size="11">{}</text>"##,
            LEFT + pw,
            LEFT - 6.0,
            py + 4.0,
            esc(&label)
        );
    }
    for &x in &x_ticks {
        let px = sx(x);
        let label = if chart.spectrum {
            SPECTRUM_TICKS.iter().find(|t| t.0 == x).map_or(String::new(), |t| t.1.to_string())
        } else {
            trim(x, decimals(x_step))
        };
        let _ = write!(
            o,
            r##"<line x1="{px:.1}" x2="{px:.1}" y1="{TOP}" y2="{}" stroke="#eee"/><text class="x-tick" x="{px:.1}" y="{}" text-anchor="middle" font-size="11">{}</text>"##,
            TOP + ph,
            TOP + ph + 15.0,
            esc(&label)
        );
    }
    axis_labels(&mut o, &chart.x_label, &chart.y_label, pw, ph);
    let mut legend_x = LEFT;
    for (i, s) in chart.series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let runs = s.runs(!chart.spectrum);
        let _ = write!(
            o,
            r#"<g class="series" data-name="{}" data-points="{}" data-runs="{}">"#,
            esc(&s.name),
            s.drawn(),
            runs.len()
        );
        // One line per run of seconds with values: a gap is not joined across.
        for run in &runs {
            let line: Vec<String> = run.iter().map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y))).collect();
            let _ =
                write!(o, r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#, line.join(" "));
        }
        // Every point is marked when there are few, and a lone point always (a second on its
        // own, or a run shorter than a second: one dot, not an invisible line).
        for run in runs.iter().filter(|r| s.drawn() <= MARKED || r.len() == 1) {
            for &(x, y) in run {
                let _ = write!(o, r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{color}"/>"#, sx(x), sy(y));
            }
        }
        o.push_str("</g>");
        // The legend: a row above the plot.
        let _ = write!(
            o,
            r#"<rect x="{legend_x}" y="{}" width="14" height="4" fill="{color}"/><text class="legend" x="{}" y="{}" font-size="12">{}</text>"#,
            TOP - 16.0,
            legend_x + 19.0,
            TOP - 11.0,
            esc(&s.name)
        );
        legend_x += 34.0 + 7.0 * s.name.chars().count() as f64;
    }
    o.push_str("</svg>");
    o
}

/// The x axis label under the plot and the y axis label along its left side (`pw` x `ph`: the
/// plot's size).
pub fn axis_labels(o: &mut String, x_label: &str, y_label: &str, pw: f64, ph: f64) {
    let _ = write!(
        o,
        r#"<text class="x-label" x="{}" y="{}" text-anchor="middle" font-size="12">{}</text><text class="y-label" x="14" y="{}" text-anchor="middle" font-size="12" transform="rotate(-90 14 {})">{}</text>"#,
        LEFT + pw / 2.0,
        TOP + ph + 36.0,
        esc(x_label),
        TOP + ph / 2.0,
        TOP + ph / 2.0,
        esc(y_label)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_read_in_the_unit_of_the_figure() {
        assert_eq!(tick_label(12_500.0, 500.0, 15_000.0, Unit::PerSecond), "12.5K/s");
        assert_eq!(tick_label(400e6, 100e6, 500e6, Unit::BytesPerSecond), "400 MB/s");
        assert_eq!(tick_label(0.5, 0.5, 2.0, Unit::Ms), "0.5 ms");
        assert_eq!(tick_label(1500.0, 500.0, 2000.0, Unit::Ms), "1.5 s");
        assert_eq!(tick_label(0.0, 500.0, 2000.0, Unit::Count), "0");
    }

    #[test]
    fn a_second_without_a_value_is_a_gap_not_a_zero_or_a_join() {
        // Seconds 1, 2, (3 had no samples: NaN), 4, then 7 after two missing seconds.
        let points = vec![(1.0, 5.0), (2.0, 6.0), (3.0, f64::NAN), (4.0, 7.0), (7.0, 8.0)];
        let c = Chart::over_time("t", "latency", Unit::Ms, vec![("p99", points)]);
        let s = svg(&c);
        assert_eq!(s.matches("<polyline").count(), 3, "{s}");
        assert!(s.contains(r#"data-points="4""#) && s.contains(r#"data-runs="3""#), "{s}");
        assert!(!s.contains("NaN"), "{s}");
        // The y axis is from the values only.
        assert!(s.contains(">8 ms<"), "{s}");
    }

    #[test]
    fn a_chart_marks_its_points_and_keeps_the_legend_above_the_plot() {
        let c = Chart::over_time("t", "requests/s", Unit::PerSecond, vec![("sent", vec![(1.0, 5.0), (2.0, 2600.0)])]);
        let s = svg(&c);
        assert_eq!(s.matches("<circle").count(), 2);
        assert!(s.contains(r#"data-points="2""#));
        assert!(s.contains(">3K/s<"), "{s}");
        // The legend text sits above the plot's top edge.
        let y: f64 = s
            .split(r#"class="legend" x=""#)
            .nth(1)
            .and_then(|r| r.split("y=\"").nth(1))
            .and_then(|r| r.split('"').next())
            .and_then(|v| v.parse().ok())
            .expect("legend y");
        assert!(y < TOP);
    }
}
