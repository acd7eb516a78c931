//! The terminal summary.

use crate::report::summary::{Percentiles, Summary};
use std::fmt::Write;

pub fn render(s: &Summary) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "blast {} -> {}", s.workload, s.target);
    let rate = match &s.plan.stages {
        Some(stages) => format!("stages {stages} (peak {:.0} req/s)", s.plan.rate),
        None => format!("{:.0} req/s", s.plan.rate),
    };
    let _ = writeln!(
        o,
        "  plan      {rate} {} for {:.1}s (+{:.1}s warm-up), {} cores, {} connections, wake-ups coalesced to {:.0} us",
        serde_json::to_value(s.plan.arrival).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
        s.plan.duration_s,
        s.plan.warmup_s,
        s.plan.cores,
        s.plan.conns,
        s.plan.coalesce_us
    );
    let _ = writeln!(
        o,
        "  requests  {} scheduled, {} sent, {} completed, {} ok, {} failed",
        s.requests.scheduled, s.requests.sent, s.requests.completed, s.requests.ok, s.requests.failed
    );
    let _ = writeln!(
        o,
        "  rate      achieved {:.1} req/s ({:.2}% of schedule), throughput {:.1} resp/s over {:.2}s",
        s.achieved_rate,
        s.rate_ratio * 100.0,
        s.throughput_rps,
        s.measured_s
    );
    let codes: Vec<String> = s.status_codes.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    let _ = writeln!(o, "  status    {}", if codes.is_empty() { "none".into() } else { codes.join(", ") });
    let errors: Vec<String> = s.errors.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    let _ = writeln!(o, "  errors    {}", if errors.is_empty() { "none".into() } else { errors.join(", ") });
    let _ = writeln!(
        o,
        "  conns     {} opened, {} failed, queue peak {} per core",
        s.connections.opened, s.connections.failed, s.queue_peak
    );
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "  {:<22}{:>9}{:>9}{:>9}{:>9}{:>9}{:>9}{:>10}",
        "latency (ms)", "p50", "p90", "p95", "p99", "p99.9", "max", "mean"
    );
    row(&mut o, "corrected (intended)", &s.latency_ms);
    row(&mut o, "uncorrected (sent)", &s.service_ms);
    row(&mut o, "send lag", &s.send_lag_ms);
    row(&mut o, "pacer lag", &s.dispatch_lag_ms);
    row(&mut o, "connect", &s.connect_ms);
    let _ = writeln!(
        o,
        "  corrected latency counts from when each request was due; uncorrected counts from when it was sent and hides waiting (coordinated omission)."
    );
    for w in &s.warnings {
        let _ = writeln!(o, "  warning: {w}");
    }
    o
}

fn row(o: &mut String, name: &str, p: &Percentiles) {
    let _ = writeln!(
        o,
        "  {:<22}{:>9.3}{:>9.3}{:>9.3}{:>9.3}{:>9.3}{:>9.3}{:>10.3}",
        name, p.p50, p.p90, p.p95, p.p99, p.p99_9, p.max, p.mean
    );
}

/// The latency table and warnings that close the ws and upload summaries: a header, one row
/// per histogram (p50 to max, `width` wide with `decimals`), then a line per warning.
pub fn latency_table_and_warnings(
    o: &mut String,
    rows: &[(&str, &Percentiles)],
    width: usize,
    decimals: usize,
    warnings: &[String],
) {
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "  {:<24}{:>w$}{:>w$}{:>w$}{:>w$}{:>w$}{:>w$}",
        "latency (ms)",
        "p50",
        "p90",
        "p95",
        "p99",
        "p99.9",
        "max",
        w = width
    );
    for (name, q) in rows {
        let _ = writeln!(
            o,
            "  {:<24}{:>w$.d$}{:>w$.d$}{:>w$.d$}{:>w$.d$}{:>w$.d$}{:>w$.d$}",
            name,
            q.p50,
            q.p90,
            q.p95,
            q.p99,
            q.p99_9,
            q.max,
            w = width,
            d = decimals
        );
    }
    for w in warnings {
        let _ = writeln!(o, "  warning: {w}");
    }
}
