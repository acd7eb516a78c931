//! blast's own CPU in reports (`BlastCpu`, JSON `blast_cpu`): its worker cores' user and system
//! time per unit of work (a request, a delivered message, a MB), each core's busy share and the
//! busiest core's, for the run and second by second; the headline line every format shows and
//! the live progress line's figure.

use crate::engine::cpu::{CpuSample, RunCpu};
use serde::Serialize;

/// Shortest stretch of run (s) whose cores' busy share is judged.
pub const MIN_JUDGED_S: f64 = 0.5;

/// blast's own CPU over a run.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BlastCpu {
    /// What the per-unit figures are per: `request`, `message`, `connection` or `MB`.
    pub unit: &'static str,
    /// Units of work done in the seconds measured.
    pub units: f64,
    /// CPU per unit, µs: user, system, and both.
    pub user_us_per_unit: f64,
    pub sys_us_per_unit: f64,
    pub us_per_unit: f64,
    /// CPU time of all worker cores, seconds.
    pub user_s: f64,
    pub sys_s: f64,
    /// Wall time the figures cover (from the end of warm-up until the cores ended), seconds.
    pub wall_s: f64,
    /// Each worker core's busy share (user + system over wall time), percent.
    pub core_busy_pct: Vec<f64>,
    /// A merged run's `core_busy_pct`, shard by shard (absent for one run).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub core_busy_pct_by_shard: Vec<Vec<f64>>,
    /// The busiest core's share, percent.
    pub busiest_core_pct: f64,
    /// Second by second since the start (warm-up included).
    pub timeline: Vec<CpuSecond>,
}

/// blast's CPU in one second of the run.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CpuSecond {
    /// Seconds since the start; this row covers (second-1, second].
    pub second: u64,
    /// CPU per unit of the work done in this second, µs (absent when there was none).
    pub user_us_per_unit: Option<f64>,
    pub sys_us_per_unit: Option<f64>,
    pub core_busy_pct: Vec<f64>,
    pub busiest_core_pct: f64,
}

fn pct(s: &CpuSample) -> f64 {
    round1(s.busy() * 100.0)
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn per(us: u64, units: f64) -> f64 {
    if units > 0.0 {
        us as f64 / units
    } else {
        0.0
    }
}

impl BlastCpu {
    /// The figures of `cpu` from second `from` (0-based: the first second after warm-up) on;
    /// `units`: the work done in those seconds, in `unit`s; `per_second(i)`: the work done in
    /// second `i`, where known. `None` when nothing was measured (a merged run).
    pub fn of(
        cpu: &RunCpu,
        from: usize,
        (unit, units): (&'static str, f64),
        per_second: impl Fn(usize) -> Option<f64>,
    ) -> Option<BlastCpu> {
        if cpu.is_empty() {
            return None;
        }
        let cores = cpu.per_core_from(from);
        let mut all = CpuSample::default();
        cores.iter().for_each(|c| all.add(c));
        let wall_us = cores.iter().map(|c| c.wall_us).max().unwrap_or(0);
        let core_busy_pct: Vec<f64> = cores.iter().map(pct).collect();
        let timeline = (0..cpu.seconds())
            .map(|i| {
                let second: Vec<CpuSample> = cpu.second(i).collect();
                let (user, sys) = (second.iter().map(|s| s.user_us).sum(), second.iter().map(|s| s.sys_us).sum());
                let done = per_second(i).filter(|&n| n > 0.0);
                let core_busy_pct: Vec<f64> = second.iter().map(pct).collect();
                CpuSecond {
                    second: i as u64 + 1,
                    user_us_per_unit: done.map(|n| per(user, n)),
                    sys_us_per_unit: done.map(|n| per(sys, n)),
                    busiest_core_pct: core_busy_pct.iter().copied().fold(0.0, f64::max),
                    core_busy_pct,
                }
            })
            .collect();
        let mut rest = core_busy_pct.as_slice();
        let core_busy_pct_by_shard = cpu
            .shard_cores
            .iter()
            .map(|&n| {
                let (shard, after) = rest.split_at(n.min(rest.len()));
                rest = after;
                shard.to_vec()
            })
            .collect();
        Some(BlastCpu {
            unit,
            core_busy_pct_by_shard,
            units,
            user_us_per_unit: per(all.user_us, units),
            sys_us_per_unit: per(all.sys_us, units),
            us_per_unit: per(all.user_us + all.sys_us, units),
            user_s: all.user_us as f64 / 1e6,
            sys_s: all.sys_us as f64 / 1e6,
            wall_s: wall_us as f64 / 1e6,
            busiest_core_pct: core_busy_pct.iter().copied().fold(0.0, f64::max),
            core_busy_pct,
            timeline,
        })
    }

    /// The busiest core's busy share (0..1), when the run was long enough for a share to mean
    /// something: over a sliver of a second (a run that stopped at the start) it is noise.
    pub fn busiest_share(&self) -> Option<f64> {
        (self.wall_s >= MIN_JUDGED_S).then_some(self.busiest_core_pct / 100.0)
    }

    /// The headline line: `9.8 us/request (2.1 user + 7.7 sys), busiest core 43% busy (cores 43, 12)`.
    pub fn line(&self) -> String {
        let list = |pcts: &[f64]| pcts.iter().map(|p| format!("{p:.0}")).collect::<Vec<_>>().join(", ");
        let cores = match self.core_busy_pct_by_shard.as_slice() {
            [] => list(&self.core_busy_pct),
            shards => {
                let each = shards.iter().enumerate().map(|(i, s)| format!("shard {i}: {}", list(s)));
                each.collect::<Vec<_>>().join("; ")
            }
        };
        let per = if self.units > 0.0 {
            format!(
                "{:.1} us/{} ({:.1} user + {:.1} sys), ",
                self.us_per_unit, self.unit, self.user_us_per_unit, self.sys_us_per_unit
            )
        } else {
            String::new()
        };
        if self.wall_s < MIN_JUDGED_S {
            return format!(
                "{per}{:.2} s user + {:.2} s sys over {:.2} s (too short to judge how busy the cores were)",
                self.user_s, self.sys_s, self.wall_s
            );
        }
        format!(
            "{per}{:.2} s user + {:.2} s sys over {:.1} s, busiest core {:.0}% busy (cores % busy: {})",
            self.user_s, self.sys_s, self.wall_s, self.busiest_core_pct, cores
        )
    }
}

/// The live progress figure from each core's last second: `cpu 38% (busiest core 41%)`, and
/// with `units` done in that second, the CPU per unit; `cpu -` before the first second is measured.
pub fn live_line(cores: &[CpuSample], units: Option<(f64, &str)>) -> String {
    let measured: Vec<&CpuSample> = cores.iter().filter(|s| s.wall_us > 0).collect();
    if measured.is_empty() {
        return "cpu -".into();
    }
    let mean = measured.iter().map(|s| s.busy()).sum::<f64>() / measured.len() as f64 * 100.0;
    let busiest = measured.iter().map(|s| s.busy()).fold(0.0, f64::max) * 100.0;
    let mut line = format!("cpu {mean:.0}% (busiest core {busiest:.0}%)");
    if let Some((n, unit)) = units.filter(|(n, _)| *n > 0.0) {
        // Each core's last interval is about a second: CPU per second over work per second.
        let cpu_per_s: f64 =
            measured.iter().map(|s| (s.user_us + s.sys_us) as f64 / (s.wall_us as f64 / 1e6)).sum::<f64>();
        line.push_str(&format!(", {:.1} us/{unit}", cpu_per_s / n));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(user_us: u64, sys_us: u64) -> CpuSample {
        CpuSample { user_us, sys_us, wall_us: 1_000_000 }
    }

    #[test]
    fn a_run_that_stopped_at_the_start_has_no_busy_share_to_judge() {
        let mut b = BlastCpu {
            unit: "request",
            units: 0.0,
            user_us_per_unit: 0.0,
            sys_us_per_unit: 0.0,
            us_per_unit: 0.0,
            user_s: 0.0,
            sys_s: 0.0,
            wall_s: 0.0002,
            core_busy_pct: vec![90.0, 48.0],
            core_busy_pct_by_shard: Vec::new(),
            busiest_core_pct: 90.0,
            timeline: Vec::new(),
        };
        assert_eq!(b.busiest_share(), None);
        assert!(b.line().contains("too short to judge"), "{}", b.line());
        b.wall_s = 2.0;
        assert_eq!(b.busiest_share(), Some(0.9));
    }

    #[test]
    fn figures_cover_the_measured_seconds_and_name_the_busiest_core() {
        // Two cores, three seconds; the first second is warm-up.
        let cpu = RunCpu {
            cores: vec![vec![s(900_000, 0), s(300_000, 600_000), s(200_000, 100_000)], vec![s(1, 1); 3]],
            ..RunCpu::default()
        };
        let b = BlastCpu::of(&cpu, 1, ("request", 1000.0), |i| Some([10.0, 600.0, 400.0][i])).expect("measured");
        assert!((b.user_us_per_unit - 500.002).abs() < 1e-9, "{}", b.user_us_per_unit);
        assert!((b.sys_us_per_unit - 700.002).abs() < 1e-9, "{}", b.sys_us_per_unit);
        assert_eq!(b.wall_s, 2.0);
        assert_eq!(b.core_busy_pct, vec![60.0, 0.0]);
        assert_eq!(b.busiest_core_pct, 60.0);
        assert_eq!(b.timeline.len(), 3);
        assert_eq!(b.timeline[0].busiest_core_pct, 90.0);
        assert_eq!(b.timeline[1].busiest_core_pct, 90.0);
        assert_eq!(b.timeline[1].user_us_per_unit, Some(300_001.0 / 600.0));
        assert!(b.line().starts_with("1200.0 us/request (500.0 user + 700.0 sys)"), "{}", b.line());
        assert!(b.line().contains("busiest core 60% busy (cores % busy: 60, 0)"), "{}", b.line());
        assert_eq!(BlastCpu::of(&RunCpu::default(), 0, ("request", 1.0), |_| None), None);
        // Two shards merged: the seconds and the work add, each shard's cores are listed apart.
        let merged = RunCpu::of_shards([cpu.clone(), cpu]);
        let m = BlastCpu::of(&merged, 1, ("request", 2000.0), |_| None).expect("measured");
        assert_eq!((m.user_s, m.sys_s), (2.0 * b.user_s, 2.0 * b.sys_s));
        assert_eq!(m.us_per_unit, b.us_per_unit);
        assert_eq!(m.core_busy_pct_by_shard, vec![vec![60.0, 0.0], vec![60.0, 0.0]]);
        assert!(m.line().contains("(cores % busy: shard 0: 60, 0; shard 1: 60, 0)"), "{}", m.line());
    }

    #[test]
    fn the_live_figure_reads_each_cores_last_second() {
        assert_eq!(live_line(&[CpuSample::default()], None), "cpu -");
        let line = live_line(&[s(300_000, 100_000), s(100_000, 0)], Some((1000.0, "req")));
        assert_eq!(line, "cpu 25% (busiest core 40%), 500.0 us/req");
    }
}
