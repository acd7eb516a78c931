//! Who the bottleneck was, from a run's figures: "generator-bound" when blast's own cores were
//! saturated or its pacer fell behind, "target-bound" when every connection was busy and the
//! target's service time rose (or was too long for the connections) while blast had CPU to
//! spare; both when both hold. Each finding is a warning that says what to do.

/// A worker core busy at least this share of the run is saturated.
pub const SATURATED: f64 = 0.90;
/// Service time that grew by this factor from the first measured second to the slowest rose.
pub const SERVICE_ROSE: f64 = 1.5;

/// Requests waited for a connection: every connection was busy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Waiting {
    /// Most requests that waited at once on one core.
    pub queue_peak: u64,
    /// Send lag p99, ms (how long requests waited).
    pub send_lag_p99_ms: f64,
}

/// The target's service time over the run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Service {
    /// Median service time of the first measured second with responses, and of the slowest second, ms.
    pub first_p50_ms: f64,
    pub peak_p50_ms: f64,
    /// Mean service time over the run, ms.
    pub mean_ms: f64,
    /// Requests per second asked for, and the connections they had.
    pub rate: f64,
    pub conns: usize,
}

impl Service {
    /// Connections the rate needs at the mean service time (Little's law).
    pub fn conns_needed(&self) -> f64 {
        self.rate * self.mean_ms / 1000.0
    }

    fn rose(&self) -> bool {
        self.first_p50_ms > 0.0 && self.peak_p50_ms >= self.first_p50_ms * SERVICE_ROSE
    }

    /// The service time rose, or was too long for the connections to carry the rate.
    fn slow(&self) -> bool {
        self.rose() || self.conns_needed() > self.conns as f64
    }
}

/// The figures a verdict rests on; a workload gives those it has.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Signals {
    /// Busiest worker core's busy share over the run, 0 to 1 (`None`: not measured).
    pub busiest_core: Option<f64>,
    /// Pacer lag p99 and the lag past which the pacer fell behind, ms.
    pub pacer_lag_ms: Option<(f64, f64)>,
    /// Requests waited for a busy connection (`None`: they never did).
    pub waiting: Option<Waiting>,
    pub service: Option<Service>,
}

/// Who the bottleneck of a run was.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bottleneck {
    pub generator_bound: bool,
    pub target_bound: bool,
    /// The warnings that say so and what to do, in that order.
    pub warnings: Vec<String>,
}

/// The bottleneck of a run whose only signal is blast's CPU (ws, upload: no pacer of requests).
pub fn on_cpu(cpu: Option<&crate::report::cpu::BlastCpu>) -> Bottleneck {
    find(&Signals { busiest_core: cpu.and_then(|c| c.busiest_share()), ..Signals::default() })
}

/// Finds the bottleneck from the run's figures.
pub fn find(s: &Signals) -> Bottleneck {
    let saturated = s.busiest_core.filter(|&b| b >= SATURATED);
    let behind = s.pacer_lag_ms.filter(|(lag, limit)| lag > limit);
    let generator_bound = saturated.is_some() || behind.is_some();
    let slow = s.service.filter(Service::slow);
    let target_bound = saturated.is_none() && s.waiting.is_some() && slow.is_some();
    let mut warnings = Vec::new();
    if generator_bound {
        let mut why = Vec::new();
        if let Some(b) = saturated {
            why.push(format!("its busiest core was {:.0}% busy", b * 100.0));
        }
        if let Some((lag, limit)) = behind {
            why.push(format!("its pacer queued requests late (pacer lag p99 {lag:.2} ms > {limit:.2} ms)"));
        }
        let todo = match (saturated, s.busiest_core) {
            (None, Some(b)) => format!(
                " while its busiest core was only {:.0}% busy: other processes (the target?) took the CPU it runs on. Run the target on other cores or another machine, or give blast cores of its own.",
                b * 100.0
            ),
            _ => ", so the figures include blast's own delay. Give blast more --cores (or fewer --conns per core), lower --rate, or run the target on other cores or another machine.".into(),
        };
        let busy_conns = if saturated.is_some() && s.waiting.is_some() {
            " Connections looked busy because blast could not serve them: more --conns will not help."
        } else {
            ""
        };
        warnings.push(format!("generator-bound: {}{todo}{busy_conns}", why.join(" and ")));
    }
    match (s.waiting, slow) {
        (Some(wait), Some(svc)) if target_bound => {
            let spare = s
                .busiest_core
                .map_or(String::new(), |b| format!(" while blast's busiest core was {:.0}% busy", b * 100.0));
            let service = if svc.rose() {
                format!("service time rose from p50 {:.2} ms to {:.2} ms", svc.first_p50_ms, svc.peak_p50_ms)
            } else {
                format!(
                    "a service time of {:.2} ms at {:.0} req/s needs about {:.0} connections, {} were open",
                    svc.mean_ms,
                    svc.rate,
                    svc.conns_needed().ceil(),
                    svc.conns
                )
            };
            warnings.push(format!(
                "target-bound: all connections were busy (up to {} requests waited per core, send lag p99 {:.2} ms){spare}; {service}. The target is the bottleneck and the latency is the target's: raise --conns only if the target should take more concurrency, else lower --rate.",
                wait.queue_peak, wait.send_lag_p99_ms
            ));
        }
        (Some(wait), _) if saturated.is_none() => {
            warnings.push(format!(
                "all connections were busy at times: up to {} requests waited for one (send lag p99 {:.2} ms, counted in latency); raise --conns if the target should take more concurrency",
                wait.queue_peak, wait.send_lag_p99_ms
            ));
        }
        _ => {}
    }
    Bottleneck { generator_bound, target_bound, warnings }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAITING: Waiting = Waiting { queue_peak: 40, send_lag_p99_ms: 180.0 };
    /// 20 ms a request at 400 req/s needs 8 connections; 2 were open.
    const FIXED_DELAY: Service =
        Service { first_p50_ms: 20.1, peak_p50_ms: 20.3, mean_ms: 20.2, rate: 400.0, conns: 2 };

    fn judged(busiest: f64, lag: f64, waiting: Option<Waiting>, service: Service) -> Bottleneck {
        find(&Signals { busiest_core: Some(busiest), pacer_lag_ms: Some((lag, 1.0)), waiting, service: Some(service) })
    }

    #[test]
    fn busy_connections_and_a_slow_target_with_cpu_to_spare_are_target_bound() {
        let v = judged(0.05, 0.1, Some(WAITING), FIXED_DELAY);
        assert!(v.target_bound && !v.generator_bound, "{v:?}");
        assert_eq!(v.warnings.len(), 1);
        assert!(v.warnings[0].starts_with("target-bound:"), "{}", v.warnings[0]);
        assert!(v.warnings[0].contains("needs about 9 connections, 2 were open"), "{}", v.warnings[0]);
        // A service time that rose is said so.
        let rising = Service { first_p50_ms: 2.0, peak_p50_ms: 40.0, mean_ms: 1.0, rate: 100.0, conns: 50 };
        let v = judged(0.30, 0.1, Some(WAITING), rising);
        assert!(v.target_bound && v.warnings[0].contains("rose from p50 2.00 ms to 40.00 ms"), "{v:?}");
    }

    #[test]
    fn a_saturated_core_is_generator_bound_and_not_advised_more_connections() {
        let v = judged(0.97, 0.3, Some(WAITING), FIXED_DELAY);
        assert!(v.generator_bound && !v.target_bound, "{v:?}");
        assert_eq!(v.warnings.len(), 1, "{v:?}");
        assert!(v.warnings[0].contains("busiest core was 97% busy"), "{}", v.warnings[0]);
        assert!(v.warnings[0].contains("more --conns will not help"), "{}", v.warnings[0]);
        assert!(!v.warnings[0].contains("raise --conns"));
    }

    #[test]
    fn a_late_pacer_and_a_slow_target_are_both_said() {
        // The case: pacer lag 2.3 ms, the queue peaked, the target saturated.
        let rising = Service { first_p50_ms: 3.0, peak_p50_ms: 700.0, mean_ms: 300.0, rate: 4000.0, conns: 100 };
        let v = judged(0.60, 2.3, Some(Waiting { queue_peak: 1485, send_lag_p99_ms: 740.0 }), rising);
        assert!(v.generator_bound && v.target_bound, "{v:?}");
        assert_eq!(v.warnings.len(), 2);
        assert!(v.warnings[0].starts_with("generator-bound:") && v.warnings[0].contains("pacer lag p99 2.30 ms"));
        assert!(v.warnings[0].contains("only 60% busy: other processes"), "{}", v.warnings[0]);
        assert!(v.warnings[1].starts_with("target-bound:") && v.warnings[1].contains("latency is the target's"));
    }

    #[test]
    fn waiting_without_a_slow_target_is_only_noted_and_a_quiet_run_has_no_verdict() {
        let quick = Service { first_p50_ms: 1.0, peak_p50_ms: 1.1, mean_ms: 1.0, rate: 100.0, conns: 10 };
        let v = judged(0.2, 0.1, Some(WAITING), quick);
        assert!(!v.generator_bound && !v.target_bound);
        assert!(v.warnings[0].starts_with("all connections were busy at times"), "{v:?}");
        assert_eq!(judged(0.2, 0.1, None, FIXED_DELAY), Bottleneck::default());
        // Not measured (a merged run): only the pacer speaks for blast.
        let v = find(&Signals { waiting: Some(WAITING), service: Some(FIXED_DELAY), ..Signals::default() });
        assert!(v.target_bound && !v.generator_bound && !v.warnings[0].contains("blast's busiest core"), "{v:?}");
    }
}
