//! The latency heatmap of the HTML page: x the run's seconds, y latency in log-spaced buckets,
//! colour how many events of that second fell in that bucket. Built from the per-second
//! histograms blast keeps (api: corrected latency; ws: delivery; upload: parts), so a tail
//! that only some seconds had, or a second bimodal distribution, shows where percentile lines
//! average it away. Cells carry the class `cell` and a `<title>` with their figures.

use crate::report::chart::{axis_labels, esc, LEFT, TOP, WIDTH};
use crate::report::human::{decimals, ticks, trim};
use hdrhistogram::Histogram;
use std::fmt::Write as _;

/// Bucket edges within a decade: about six a decade, equal steps on a log scale, round numbers.
const MANTISSAS: [f64; 6] = [1.0, 1.5, 2.0, 3.0, 5.0, 7.0];
/// Decades of microseconds covered: 1 µs to 10^10 µs (past the histograms' 1 h bound).
const DECADES: usize = 10;
const BUCKETS: usize = MANTISSAS.len() * DECADES;
const HEIGHT: f64 = 320.0;
const BOTTOM: f64 = 46.0;
/// Room on the right for the colour scale.
const RIGHT: f64 = 110.0;
/// Viridis, dark (few) to bright (many).
const PALETTE: [(f64, f64, f64); 5] =
    [(68.0, 1.0, 84.0), (59.0, 82.0, 139.0), (33.0, 145.0, 140.0), (94.0, 201.0, 98.0), (253.0, 231.0, 37.0)];

/// Lower edge of bucket `i`, µs.
fn edge(i: usize) -> f64 {
    MANTISSAS[i % MANTISSAS.len()] * 10f64.powi((i / MANTISSAS.len()) as i32)
}

/// The bucket a value (µs) falls in.
fn bucket(us: u64) -> usize {
    let v = us.max(1) as f64;
    (0..BUCKETS).rev().find(|&i| edge(i) <= v * (1.0 + 1e-12)).unwrap_or(0)
}

/// One column: a span of the run and its events by bucket.
#[derive(Clone, Debug)]
pub struct Column {
    /// Seconds since the start.
    pub from: f64,
    pub to: f64,
    pub counts: [u64; BUCKETS],
}

#[derive(Clone, Debug)]
pub struct Heatmap {
    pub title: String,
    /// What was measured (`corrected latency`).
    pub what: String,
    pub columns: Vec<Column>,
}

impl Heatmap {
    /// A heatmap of `what` from its histograms (µs) over spans of the run (`from`, `to`,
    /// seconds since the start), decoded one at a time.
    pub fn of<'a>(
        title: &str,
        what: &str,
        spans: impl Iterator<Item = (f64, f64, std::borrow::Cow<'a, Histogram<u64>>)>,
    ) -> Self {
        let columns = spans
            .filter(|(_, _, h)| !h.is_empty())
            .map(|(from, to, h)| {
                let mut counts = [0u64; BUCKETS];
                for v in h.iter_recorded() {
                    counts[bucket(v.value_iterated_to())] += v.count_at_value();
                }
                Column { from, to, counts }
            })
            .collect();
        Heatmap { title: title.into(), what: what.into(), columns }
    }

    /// Cells that hold events.
    pub fn cells(&self) -> usize {
        self.columns.iter().map(|c| c.counts.iter().filter(|&&n| n > 0).count()).sum()
    }
}

fn color(t: f64) -> String {
    let x = t.clamp(0.0, 1.0) * (PALETTE.len() - 1) as f64;
    let i = (x.floor() as usize).min(PALETTE.len() - 2);
    let f = x - i as f64;
    let (a, b) = (PALETTE[i], PALETTE[i + 1]);
    let mix = |p: f64, q: f64| (p + (q - p) * f).round() as u8;
    format!("#{:02x}{:02x}{:02x}", mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Latency `us` as a label: `0.15 ms`, `20 ms`, `1.5 s`.
fn latency_label(us: f64) -> String {
    if us >= 1e6 {
        format!("{} s", trim(us / 1e6, 2))
    } else {
        format!("{} ms", trim(us / 1e3, 3))
    }
}

/// The heatmap as an SVG element as wide as the page; nothing when no second has events.
pub fn svg(map: &Heatmap) -> String {
    let occupied = |i: usize| map.columns.iter().any(|c| c.counts[i] > 0);
    let (Some(lo), Some(hi)) = ((0..BUCKETS).find(|&i| occupied(i)), (0..BUCKETS).rev().find(|&i| occupied(i))) else {
        return String::new();
    };
    let rows = hi - lo + 1;
    let (pw, ph) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let row_h = ph / rows as f64;
    let first = map.columns.iter().map(|c| c.from).fold(f64::INFINITY, f64::min).min(0.0);
    let last = map.columns.iter().map(|c| c.to).fold(f64::NEG_INFINITY, f64::max);
    let (x_step, x_ticks) = ticks(first, last.max(first + 0.1), 10);
    let (x0, x1) = (x_ticks[0], *x_ticks.last().unwrap_or(&1.0));
    let sx = |x: f64| LEFT + (x - x0) / (x1 - x0) * pw;
    let max = map.columns.iter().flat_map(|c| c.counts.iter()).copied().max().unwrap_or(1).max(1);
    let shade = |n: u64| color((n as f64).ln_1p() / (max as f64).ln_1p());
    let mut o = String::new();
    let _ = write!(
        o,
        r##"<svg class="heatmap" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" aria-label="{}"><rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="#f4f4f4" stroke="#ccc"/>"##,
        esc(&map.title)
    );
    for c in &map.columns {
        let (x, w) = (sx(c.from), (sx(c.to) - sx(c.from)).max(1.0));
        for (i, &n) in c.counts.iter().enumerate().filter(|&(i, &n)| n > 0 && (lo..=hi).contains(&i)) {
            let y = TOP + ph - (i - lo + 1) as f64 * row_h;
            let span = format!("{} to {}", latency_label(edge(i)), latency_label(edge(i + 1)));
            let _ = write!(
                o,
                r#"<rect class="cell" x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{row_h:.1}" fill="{}"><title>{}-{} s: {n} at {span}</title></rect>"#,
                shade(n),
                trim(c.from, 2),
                trim(c.to, 2)
            );
        }
    }
    // y: the bucket edges that are 1, 2 or 5 times a power of ten; where fewer than two fall in
    // a narrow range (a run whose latencies fill two buckets), its bottom and top edges too.
    let mut edges: Vec<usize> =
        (lo..=hi + 1).filter(|&i| [1.0, 2.0, 5.0].contains(&MANTISSAS[i % MANTISSAS.len()])).collect();
    if edges.len() < 2 {
        edges.extend([lo, hi + 1]);
        edges.sort_unstable();
        edges.dedup();
    }
    for i in edges {
        let y = TOP + ph - (i - lo) as f64 * row_h;
        let _ = write!(
            o,
            r##"<line x1="{}" x2="{LEFT}" y1="{y:.1}" y2="{y:.1}" stroke="#888"/><text class="y-tick" x="{}" y="{:.1}" text-anchor="end" font-size="11">{}</text>"##,
            LEFT - 4.0,
            LEFT - 6.0,
            y + 4.0,
            latency_label(edge(i))
        );
    }
    for &x in &x_ticks {
        let _ = write!(
            o,
            r##"<line x1="{px:.1}" x2="{px:.1}" y1="{}" y2="{}" stroke="#888"/><text class="x-tick" x="{px:.1}" y="{}" text-anchor="middle" font-size="11">{}</text>"##,
            TOP + ph,
            TOP + ph + 4.0,
            TOP + ph + 15.0,
            trim(x, decimals(x_step)),
            px = sx(x)
        );
    }
    axis_labels(&mut o, "seconds since start", &format!("{} (log scale)", map.what), pw, ph);
    // The colour scale: few at the bottom, the most in one cell at the top.
    let (sx0, steps) = (LEFT + pw + 24.0, 20);
    for k in 0..steps {
        let t = k as f64 / (steps - 1) as f64;
        let y = TOP + ph - (k + 1) as f64 * ph / steps as f64;
        let _ = write!(
            o,
            r#"<rect x="{sx0}" y="{y:.1}" width="16" height="{:.1}" fill="{}"/>"#,
            ph / steps as f64 + 0.5,
            color(t)
        );
    }
    for (y, label) in [(TOP + ph, "1".to_string()), (TOP + 8.0, max.to_string())] {
        let _ = write!(o, r#"<text class="legend" x="{}" y="{y:.1}" font-size="11">{label}</text>"#, sx0 + 22.0);
    }
    let _ = write!(o, r#"<text class="legend" x="{sx0}" y="{}" font-size="11">count</text>"#, TOP - 8.0);
    o.push_str("</svg>");
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::recorder::histogram;
    use std::borrow::Cow;

    #[test]
    fn each_second_counts_its_events_in_log_buckets() {
        let (mut a, mut b) = (histogram(), histogram());
        for _ in 0..90 {
            a.record(1_200).expect("record"); // 1.2 ms
        }
        a.record(250_000).expect("record"); // 250 ms: a lone slow one
        b.record(1_100).expect("record");
        let map = Heatmap::of("h", "latency", [(0.0, 1.0, Cow::Owned(a)), (1.0, 2.0, Cow::Owned(b))].into_iter());
        assert_eq!(map.columns.len(), 2);
        assert_eq!(map.columns[0].counts[bucket(1_000)], 90);
        assert_eq!(map.columns[0].counts[bucket(200_000)], 1);
        assert_eq!(map.columns[0].counts.iter().sum::<u64>(), 91);
        assert_eq!(map.cells(), 3);
        let s = svg(&map);
        assert_eq!(s.matches(r#"class="cell""#).count(), 3);
        assert!(s.contains(">1 ms<") && s.contains(">200 ms<"), "{s}");
        assert_eq!(bucket(1), 0);
        assert_eq!(bucket(2_999), bucket(2_000));
        assert_eq!(bucket(3_000), bucket(2_000) + 1);
    }

    #[test]
    fn a_narrow_range_still_has_two_labelled_edges() {
        // 1.8 ms and 2.5 ms: two buckets, between which only the 2 ms edge is 1-2-5.
        let mut h = histogram();
        h.record(1_800).expect("record");
        h.record(2_500).expect("record");
        let s = svg(&Heatmap::of("h", "latency", std::iter::once((0.0, 0.01, Cow::Owned(h)))));
        assert!(s.matches(r#"class="y-tick""#).count() >= 2, "{s}");
    }
}
