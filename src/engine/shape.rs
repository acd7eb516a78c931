//! Load shapes: the arrival rate as a piecewise-linear function of time (`--stages`), for
//! ramps, holds, steps and spikes.
//!
//! A shape is read through its cumulative count `N(t)`: the number of requests due by time `t`
//! (the integral of the rate). Global slot `i` is due at `N⁻¹(i)`; Poisson arrivals draw their
//! gaps in count space and map them the same way (time rescaling), so every shape works with
//! both arrival kinds. Pure functions, no clock.
//!
//! Syntax: stages separated by commas, each `DURATION:RATE` (hold) or `DURATION:FROM->TO`
//! (linear ramp), e.g. `10s:0->1000,30s:1000,5s:5000,30s:1000` (ramp up, hold, spike, hold).

use std::time::Duration;

/// One stage: `rate_from` at its start, `rate_to` at its end, linear in between.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    pub duration: Duration,
    pub rate_from: f64,
    pub rate_to: f64,
}

#[derive(Clone, Debug, PartialEq)]
struct Segment {
    start_s: f64,
    len_s: f64,
    r0: f64,
    r1: f64,
    /// Requests due before this segment.
    n0: f64,
}

impl Segment {
    fn count(&self) -> f64 {
        (self.r0 + self.r1) / 2.0 * self.len_s
    }

    /// Requests due in the first `t` seconds of the segment.
    fn count_within(&self, t: f64) -> f64 {
        let slope = (self.r1 - self.r0) / self.len_s;
        self.r0 * t + slope * t * t / 2.0
    }

    /// Seconds into the segment at which `x` requests of it are due (`0 <= x <= count()`):
    /// the root of `slope/2 t² + r0 t - x = 0`, written so that it holds for any slope.
    fn time_within(&self, x: f64) -> f64 {
        if x <= 0.0 {
            return 0.0;
        }
        let a = (self.r1 - self.r0) / self.len_s / 2.0;
        let disc = (self.r0 * self.r0 + 4.0 * a * x).max(0.0);
        let denom = self.r0 + disc.sqrt();
        if denom <= 0.0 {
            return self.len_s;
        }
        (2.0 * x / denom).min(self.len_s)
    }
}

/// A validated load shape.
#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    segments: Vec<Segment>,
}

impl Shape {
    pub fn new(stages: &[Stage]) -> Result<Shape, String> {
        if stages.is_empty() {
            return Err("a load shape needs at least one stage".into());
        }
        let mut segments = Vec::with_capacity(stages.len());
        let (mut start_s, mut n0) = (0.0, 0.0);
        for (i, s) in stages.iter().enumerate() {
            if s.duration.is_zero() {
                return Err(format!("stage {}: duration must be greater than 0", i + 1));
            }
            for r in [s.rate_from, s.rate_to] {
                if !(0.0..=1e9).contains(&r) || !r.is_finite() {
                    return Err(format!("stage {}: rate {r} must be between 0 and 1e9 per second", i + 1));
                }
            }
            let seg = Segment { start_s, len_s: s.duration.as_secs_f64(), r0: s.rate_from, r1: s.rate_to, n0 };
            start_s += seg.len_s;
            n0 += seg.count();
            segments.push(seg);
        }
        if n0 < 1.0 {
            return Err("the stages schedule no request at all".into());
        }
        Ok(Shape { segments })
    }

    /// Parses `10s:0->1000,30s:1000`.
    pub fn parse(spec: &str) -> Result<Shape, String> {
        let mut stages = Vec::new();
        for (i, part) in spec.split(',').map(str::trim).filter(|p| !p.is_empty()).enumerate() {
            let bad = || format!("stage {} '{part}': expected DURATION:RATE or DURATION:FROM->TO", i + 1);
            let (d, r) = part.split_once(':').ok_or_else(bad)?;
            let duration = crate::units::parse_duration(d).map_err(|e| format!("stage {}: {e}", i + 1))?;
            let rate = |s: &str| -> Result<f64, String> {
                let s = s.trim();
                if s == "0" {
                    return Ok(0.0);
                }
                crate::units::parse_rate(s).map_err(|e| format!("stage {}: {e}", i + 1))
            };
            let (rate_from, rate_to) = match r.split_once("->") {
                Some((a, b)) => (rate(a)?, rate(b)?),
                None => (rate(r)?, rate(r)?),
            };
            stages.push(Stage { duration, rate_from, rate_to });
        }
        Shape::new(&stages)
    }

    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.segments.iter().map(|s| s.len_s).sum())
    }

    pub fn peak_rate(&self) -> f64 {
        self.segments.iter().map(|s| s.r0.max(s.r1)).fold(0.0, f64::max)
    }

    /// Requests due by `t` seconds after the start.
    pub fn count_at(&self, t: f64) -> f64 {
        let mut n = 0.0;
        for s in &self.segments {
            if t <= s.start_s {
                break;
            }
            n = s.n0 + s.count_within((t - s.start_s).min(s.len_s));
        }
        n
    }

    /// Rate at `t` seconds (for reports).
    pub fn rate_at(&self, t: f64) -> f64 {
        for s in &self.segments {
            if t < s.start_s + s.len_s {
                let f = ((t - s.start_s) / s.len_s).clamp(0.0, 1.0);
                return s.r0 + (s.r1 - s.r0) * f;
            }
        }
        self.segments.last().map_or(0.0, |s| s.r1)
    }

    /// The same shape up to `at_s` seconds, then `rate` held until `end_s` (a rate set while
    /// the run goes on): the requests due before `at_s` are the same in both.
    pub fn hold_from(&self, at_s: f64, rate: f64, end_s: f64) -> Result<Shape, String> {
        let mut stages = Vec::new();
        for s in self.segments.iter().take_while(|s| s.start_s < at_s) {
            let len = s.len_s.min(at_s - s.start_s);
            let to = self.rate_at(s.start_s + len - 1e-12 * len.max(1.0));
            let to = if len >= s.len_s { s.r1 } else { to };
            stages.push(Stage { duration: Duration::from_secs_f64(len), rate_from: s.r0, rate_to: to });
        }
        if end_s > at_s {
            stages.push(Stage { duration: Duration::from_secs_f64(end_s - at_s), rate_from: rate, rate_to: rate });
        }
        Shape::new(&stages)
    }

    /// The shape in `--stages` notation (`10s:0->1000,30s:1000`).
    pub fn spec(&self) -> String {
        let rate = |r: f64| crate::units::significant(r, 6);
        let stage = |s: &Segment| {
            let d = crate::units::duration_text(Duration::from_secs_f64(s.len_s));
            match s.r0 == s.r1 {
                true => format!("{d}:{}", rate(s.r0)),
                false => format!("{d}:{}->{}", rate(s.r0), rate(s.r1)),
            }
        };
        self.segments.iter().map(stage).collect::<Vec<_>>().join(",")
    }

    /// Nanoseconds after the start at which the `x`-th request (counting from 0) is due, or
    /// `None` when the shape ends first.
    pub fn offset_ns(&self, x: f64) -> Option<u64> {
        for s in &self.segments {
            let count = s.count();
            if x < s.n0 + count {
                let t = s.start_s + s.time_within(x - s.n0);
                return Some((t * 1e9) as u64);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stages_and_counts_requests() {
        let s = Shape::parse("10s:0->1000, 30s:1000, 5s:5000").expect("valid");
        assert_eq!(s.duration(), Duration::from_secs(45));
        assert_eq!(s.peak_rate(), 5000.0);
        // Ramp 0->1000 over 10 s: 5,000; hold: 30,000; spike: 25,000.
        assert!((s.count_at(10.0) - 5000.0).abs() < 1e-6);
        assert!((s.count_at(40.0) - 35_000.0).abs() < 1e-6);
        assert!((s.count_at(45.0) - 60_000.0).abs() < 1e-6);
        assert!((s.count_at(100.0) - 60_000.0).abs() < 1e-6);
        assert_eq!(s.rate_at(5.0), 500.0);
        for bad in ["", "10s", "10x:5", "10s:-1", "0s:10", "10s:0"] {
            assert!(Shape::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_rate_held_from_a_second_keeps_what_came_before() {
        let s = Shape::parse("10s:0->1000,10s:1000").expect("valid");
        let h = s.hold_from(5.0, 2000.0, 20.0).expect("valid");
        assert_eq!(h.spec(), "5s:0->500,15s:2000");
        assert!((h.count_at(5.0) - s.count_at(5.0)).abs() < 1e-6);
        assert!((h.count_at(20.0) - (s.count_at(5.0) + 30_000.0)).abs() < 1e-6);
        let flat = Shape::parse("30s:1000").expect("valid").hold_from(12.0, 500.0, 30.0).expect("valid");
        assert_eq!(flat.spec(), "12s:1000,18s:500");
        assert_eq!(Shape::parse(&flat.spec()).expect("reads back"), flat);
    }

    #[test]
    fn offsets_invert_the_count() {
        let s = Shape::parse("10s:0->1000,30s:1000,5s:1000->200").expect("valid");
        for x in [0.0, 1.0, 17.5, 4999.0, 5000.0, 20_000.0, 35_000.0, 36_000.0, 37_999.0] {
            let ns = s.offset_ns(x).expect("inside the shape");
            let back = s.count_at(ns as f64 / 1e9);
            assert!((back - x).abs() < 1e-3 * x.max(1.0), "x {x} -> {ns} ns -> {back}");
        }
        assert_eq!(s.offset_ns(38_000.0), None);
        // Ramp from 0: request 5000 (the first of the hold) is due at 10 s, request 1250 at 5 s.
        assert_eq!(s.offset_ns(1250.0), Some(5_000_000_000));
    }
}
