//! blast's own CPU: each worker thread's user and system time, read with
//! `getrusage(RUSAGE_THREAD)` on the thread itself. The runner gives every core a `CpuMeter`
//! that reads it at the start, at each whole second of the run and when the core ends, so
//! every workload reports what its load cost blast without code of its own.

use std::time::Instant;

/// User and system time a thread has used so far, µs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTime {
    pub user_us: u64,
    pub sys_us: u64,
}

/// The calling thread's CPU time so far (zero where the system cannot tell).
#[cfg(target_os = "linux")]
pub fn thread_cpu() -> CpuTime {
    // SAFETY: an all-zero rusage is a valid value of the plain C struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage; RUSAGE_THREAD reads the calling thread.
    if unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) } != 0 {
        return CpuTime::default();
    }
    let us = |t: libc::timeval| (t.tv_sec.max(0) as u64) * 1_000_000 + t.tv_usec.max(0) as u64;
    CpuTime { user_us: us(ru.ru_utime), sys_us: us(ru.ru_stime) }
}

/// The calling thread's CPU time so far (zero where the system cannot tell).
#[cfg(not(target_os = "linux"))]
pub fn thread_cpu() -> CpuTime {
    CpuTime::default()
}

/// One core's CPU over one interval of the run: user and system time, and the wall time the
/// interval lasted (µs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CpuSample {
    pub user_us: u64,
    pub sys_us: u64,
    pub wall_us: u64,
}

impl CpuSample {
    /// The share of the interval the core was busy (user + system over wall), 0 to 1.
    pub fn busy(&self) -> f64 {
        if self.wall_us == 0 {
            0.0
        } else {
            ((self.user_us + self.sys_us) as f64 / self.wall_us as f64).min(1.0)
        }
    }

    pub fn add(&mut self, o: &CpuSample) {
        self.user_us += o.user_us;
        self.sys_us += o.sys_us;
        self.wall_us += o.wall_us;
    }
}

/// A last interval shorter than this is added to the second before it (a core that ends just
/// after a whole second would otherwise report a sliver of a second with a meaningless share).
const SLIVER_US: u64 = 100_000;

/// Reads one core's CPU on its own thread: `sample` at each whole second of the run, `finish`
/// when the core ends.
pub struct CpuMeter {
    last_at: Instant,
    last: CpuTime,
    seconds: Vec<CpuSample>,
}

impl CpuMeter {
    /// Starts measuring the calling thread now.
    pub fn start() -> Self {
        CpuMeter { last_at: Instant::now(), last: thread_cpu(), seconds: Vec::new() }
    }

    /// Closes the interval since the last reading; returns it.
    pub fn sample(&mut self) -> CpuSample {
        let (now, cpu) = (Instant::now(), thread_cpu());
        let s = CpuSample {
            user_us: cpu.user_us.saturating_sub(self.last.user_us),
            sys_us: cpu.sys_us.saturating_sub(self.last.sys_us),
            wall_us: now.saturating_duration_since(self.last_at).as_micros() as u64,
        };
        (self.last_at, self.last) = (now, cpu);
        self.seconds.push(s);
        s
    }

    /// Closes the last interval and returns every interval in order (a sliver at the end goes
    /// to the interval before it).
    pub fn finish(&mut self) -> Vec<CpuSample> {
        let last = self.sample();
        let mut seconds = std::mem::take(&mut self.seconds);
        if last.wall_us < SLIVER_US && seconds.len() > 1 {
            seconds.pop();
            if let Some(prev) = seconds.last_mut() {
                prev.add(&last);
            }
        }
        seconds
    }
}

/// A run's CPU: per worker core (by index), its intervals in order, interval `i` ending at
/// second `i + 1` of the run (the last one when the core ended). Shards merged (`of_shards`):
/// every shard's cores, shard by shard.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunCpu {
    pub cores: Vec<Vec<CpuSample>>,
    /// How many of `cores` each shard had, in shard order (empty: one run, not merged).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shard_cores: Vec<usize>,
}

impl RunCpu {
    /// The shards' CPU (in shard order) as one run's: their cores one after the other.
    pub fn of_shards(shards: impl IntoIterator<Item = RunCpu>) -> RunCpu {
        let mut merged = RunCpu::default();
        for s in shards {
            merged.shard_cores.push(s.cores.len());
            merged.cores.extend(s.cores);
        }
        merged
    }

    /// Seconds that some core measured.
    pub fn seconds(&self) -> usize {
        self.cores.iter().map(Vec::len).max().unwrap_or(0)
    }

    /// Each core's interval `i` (an empty sample for a core that had ended).
    pub fn second(&self, i: usize) -> impl Iterator<Item = CpuSample> + '_ {
        self.cores.iter().map(move |c| c.get(i).copied().unwrap_or_default())
    }

    /// Each core's intervals from `from` on, summed.
    pub fn per_core_from(&self, from: usize) -> Vec<CpuSample> {
        self.cores
            .iter()
            .map(|c| {
                let mut sum = CpuSample::default();
                c.iter().skip(from).for_each(|s| sum.add(s));
                sum
            })
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.cores.iter().all(Vec::is_empty)
    }
}

impl RunCpu {
    /// blast's CPU of a merged run from each shard's (shard, CPU): every shard's cores, shard by
    /// shard, so that the seconds and the work add up and each core's busy share stays its own
    /// machine's; none when a shard's report carries no CPU (a report of an earlier version).
    pub fn of_shard_reports<'a>(shards: impl Iterator<Item = (crate::engine::Shard, &'a RunCpu)>) -> RunCpu {
        let mut by_shard: Vec<(crate::engine::Shard, &RunCpu)> = shards.collect();
        if by_shard.iter().any(|(_, cpu)| cpu.is_empty()) {
            return RunCpu::default();
        }
        by_shard.sort_by_key(|(s, _)| s.index);
        RunCpu::of_shards(by_shard.into_iter().map(|(_, cpu)| cpu.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_thread_reads_as_busy_and_an_idle_one_as_idle() {
        let mut meter = CpuMeter::start();
        let spin_until = Instant::now() + std::time::Duration::from_millis(150);
        let mut x = 0u64;
        while Instant::now() < spin_until {
            x = x.wrapping_mul(31).wrapping_add(std::hint::black_box(7));
        }
        std::hint::black_box(x);
        let busy = meter.sample();
        std::thread::sleep(std::time::Duration::from_millis(150));
        let idle = meter.sample();
        // The spin ran on this thread for its whole wall time, unless the machine took the
        // core away for a while; sleeping costs next to nothing.
        assert!(busy.user_us + busy.sys_us > 0, "{busy:?}");
        assert!(busy.busy() > idle.busy(), "{busy:?} {idle:?}");
        assert!(idle.busy() < 0.2, "{idle:?}");
        assert!(busy.wall_us >= 150_000);
    }

    #[test]
    fn a_sliver_at_the_end_joins_the_second_before() {
        let mut meter = CpuMeter::start();
        std::thread::sleep(std::time::Duration::from_millis(120));
        meter.sample();
        std::thread::sleep(std::time::Duration::from_millis(120));
        meter.sample();
        let seconds = meter.finish();
        assert_eq!(seconds.len(), 2, "{seconds:?}");
        assert!(seconds[1].wall_us >= 120_000);
        let run = RunCpu {
            cores: vec![seconds, vec![CpuSample { user_us: 5, sys_us: 1, wall_us: 10 }]],
            ..RunCpu::default()
        };
        assert_eq!(run.seconds(), 2);
        assert_eq!(run.second(1).nth(1), Some(CpuSample::default()));
        assert_eq!(run.per_core_from(0)[1].user_us, 5);
        assert_eq!(run.per_core_from(1)[1], CpuSample::default());
    }
}
