//! Numbers as people read them: sizes in binary units (`64 MiB`), rates and counts with a
//! decimal suffix (`12.5K/s`), and the 1-2-5 steps chart axes are divided into.

/// A size in bytes with a binary unit: `512 B`, `5 MiB`, `1.5 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut unit = "B";
    for u in UNITS {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    format!("{} {unit}", trim(v, 1))
}

/// A count with a decimal suffix: `950`, `12.5K`, `3M`.
pub fn count(v: f64) -> String {
    let (scaled, suffix) = si(v);
    format!("{}{suffix}", trim(scaled, 1))
}

/// A rate per second: `12.5K/s`.
pub fn rate(v: f64) -> String {
    format!("{}/s", count(v))
}

/// Bytes per second in decimal units, as throughput is quoted: `415.8 MB/s`.
pub fn bytes_rate(v: f64) -> String {
    let (scaled, suffix) = si(v);
    format!("{} {suffix}B/s", trim(scaled, 1))
}

/// `v` divided by its decimal scale and the scale's suffix (`K`, `M`, `G`, `T`).
pub fn si(v: f64) -> (f64, &'static str) {
    scale_of(v.abs()).map_or((v, ""), |(div, s)| (v / div, s))
}

fn scale_of(v: f64) -> Option<(f64, &'static str)> {
    [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")].into_iter().find(|(div, _)| v >= *div)
}

/// `v` with at most `decimals` decimals, trailing zeros dropped.
pub fn trim(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { &s };
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// Evenly spaced ticks covering `lo..=hi`, about `target` of them, spaced 1, 2 or 5 times a
/// power of ten: (step, ticks from a multiple of step at or below `lo` to one at or above `hi`).
pub fn ticks(lo: f64, hi: f64, target: usize) -> (f64, Vec<f64>) {
    let (lo, hi) =
        if lo.is_finite() && hi.is_finite() && hi > lo { (lo, hi) } else { (lo.min(0.0), lo.max(0.0) + 1.0) };
    let raw = (hi - lo) / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * mag).find(|s| *s >= raw * 0.999).unwrap_or(10.0 * mag);
    let first = (lo / step).floor() as i64;
    let last = (hi / step - 1e-9).ceil() as i64;
    (step, (first..=last.max(first + 1)).map(|i| i as f64 * step).collect())
}

/// Decimals that tell ticks `step` apart: 0 for whole steps, 1 for 0.5, 2 for 0.05, ...
pub fn decimals(step: f64) -> usize {
    if step >= 1.0 || step <= 0.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_rates_and_counts_read_like_a_person_writes_them() {
        assert_eq!(bytes(67_108_864), "64 MiB");
        assert_eq!(bytes(5 << 20), "5 MiB");
        assert_eq!(bytes(1536 << 20), "1.5 GiB");
        assert_eq!(bytes(100), "100 B");
        assert_eq!(rate(12_500.0), "12.5K/s");
        assert_eq!(rate(950.0), "950/s");
        assert_eq!(count(3_000_000.0), "3M");
        assert_eq!(bytes_rate(415.8e6), "415.8 MB/s");
        assert_eq!(trim(2.50, 2), "2.5");
        assert_eq!(trim(-0.0001, 2), "0");
    }

    #[test]
    fn ticks_step_by_one_two_or_five() {
        for (lo, hi) in [(0.0, 4.2), (0.0, 1875.0), (0.0, 2.6), (0.0, 0.37), (3.0, 97.0), (0.0, 1.0), (0.0, 123_456.0)]
        {
            let (step, t) = ticks(lo, hi, 5);
            let m = step / 10f64.powf(step.log10().floor());
            assert!([1.0, 2.0, 5.0].iter().any(|x| (m - x).abs() < 1e-9), "{lo}..{hi}: step {step}");
            assert!(t[0] <= lo && *t.last().expect("ticks") >= hi, "{lo}..{hi}: {t:?}");
            assert!((3..=12).contains(&t.len()), "{lo}..{hi}: {t:?}");
        }
        assert_eq!(ticks(0.0, 4.2, 5).1, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(decimals(0.5), 1);
        assert_eq!(decimals(0.05), 2);
        assert_eq!(decimals(20.0), 0);
    }
}
