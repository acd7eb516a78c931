//! `--sla 'p99<200ms,errors<1%'`: targets parsed from the flag, checked against the figures a
//! workload reports (before the run) and evaluated against a run's figures (after it). The
//! figures themselves are the report's (`report::metrics`).

use crate::report::metrics::{Metric, Metrics};
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

/// One SLA target, e.g. `p99<200ms`.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub metric: String,
    op: Op,
    /// In the metric's unit (ms, percent, per second, count).
    pub value: f64,
    pub text: String,
}

/// The outcome of one target.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub target: String,
    pub actual: f64,
    pub pass: bool,
    /// `[PASS] p99: 145.2 ms < 200 ms`.
    pub line: String,
}

/// The targets of a spec, split at commas; a comma inside a request name (a part with no
/// comparison) joins the part to the next one.
fn split_targets(spec: &str) -> Vec<String> {
    let (mut out, mut pending) = (Vec::new(), String::new());
    for part in spec.split(',') {
        if !pending.is_empty() {
            pending.push(',');
        }
        pending.push_str(part);
        if part.contains(['<', '>']) || part.trim().is_empty() {
            out.push(std::mem::take(&mut pending).trim().to_string());
        }
    }
    out.push(pending.trim().to_string());
    out.into_iter().filter(|t| !t.is_empty()).collect()
}

/// Parses `p99<200ms,errors<1%,rate>=99%`. Latencies take ms, s or us; percentages a `%`.
/// `NAME:FIGURE` is a figure of one request name (`GET /v1/conversations:p95<100ms`).
pub fn parse_sla(spec: &str) -> Result<Vec<Target>, String> {
    let mut out = Vec::new();
    for raw in split_targets(spec) {
        let raw = raw.as_str();
        let bad = || format!("SLA target '{raw}': expected METRIC<VALUE, METRIC<=VALUE, METRIC>VALUE or METRIC>=VALUE");
        let at = raw.find(['<', '>']).ok_or_else(bad)?;
        let metric = match raw[..at].trim().rsplit_once(':') {
            Some((name, figure)) => format!("{}:{}", name.trim(), figure.trim().to_ascii_lowercase()),
            None => raw[..at].trim().to_ascii_lowercase(),
        };
        let rest = &raw[at..];
        let (op, value) = if let Some(v) = rest.strip_prefix("<=") {
            (Op::Le, v)
        } else if let Some(v) = rest.strip_prefix(">=") {
            (Op::Ge, v)
        } else if let Some(v) = rest.strip_prefix('<') {
            (Op::Lt, v)
        } else if let Some(v) = rest.strip_prefix('>') {
            (Op::Gt, v)
        } else {
            return Err(bad());
        };
        if metric.is_empty() {
            return Err(bad());
        }
        let v = value.trim();
        let (num, scale) = if let Some(n) = v.strip_suffix("ms") {
            (n, 1.0)
        } else if let Some(n) = v.strip_suffix("us") {
            (n, 1e-3)
        } else if let Some(n) = v.strip_suffix('s') {
            (n, 1e3)
        } else if let Some(n) = v.strip_suffix('%') {
            (n, 1.0)
        } else {
            (v, 1.0)
        };
        let value: f64 = num.trim().parse().map_err(|_| format!("SLA target '{raw}': '{v}' is not a number"))?;
        if !value.is_finite() || value < 0.0 {
            return Err(format!("SLA target '{raw}': the value must be a number of at least 0"));
        }
        out.push(Target { metric, op, value: value * scale, text: raw.to_string() });
    }
    if out.is_empty() {
        return Err("--sla is empty".into());
    }
    Ok(out)
}

/// Checks that every target names a figure the workload reports (before the run starts).
pub fn check_names(targets: &[Target], known: &[String]) -> Result<(), String> {
    for t in targets {
        if let Some((name, _)) = t.metric.rsplit_once(':').filter(|_| !known.contains(&t.metric)) {
            let mut names: Vec<&str> = known.iter().filter_map(|k| k.rsplit_once(':').map(|(n, _)| n)).collect();
            names.dedup();
            if !names.contains(&name) {
                let have =
                    if names.is_empty() { "this run has one, give no name".to_string() } else { names.join(", ") };
                return Err(format!("SLA target '{}': no request named '{name}' ({have})", t.text));
            }
        }
        if !known.contains(&t.metric) {
            return Err(format!(
                "SLA target '{}': unknown metric '{}'; this workload has: {}",
                t.text,
                t.metric,
                known.join(", ")
            ));
        }
    }
    Ok(())
}

/// Evaluates the targets against a run's figures.
pub fn evaluate(targets: &[Target], metrics: &Metrics) -> Vec<Verdict> {
    targets
        .iter()
        .map(|t| {
            let m = metrics.get(&t.metric).copied().unwrap_or(Metric::count_low(f64::NAN));
            let pass = match t.op {
                Op::Lt => m.value < t.value,
                Op::Le => m.value <= t.value,
                Op::Gt => m.value > t.value,
                Op::Ge => m.value >= t.value,
            };
            let sign = match t.op {
                Op::Lt => "<",
                Op::Le => "<=",
                Op::Gt => ">",
                Op::Ge => ">=",
            };
            let shown = match t.metric.rsplit_once(':') {
                Some((name, figure)) => format!("{name}: {figure}"),
                None => t.metric.clone(),
            };
            let line = format!(
                "[{}] {}: {} {sign} {} target",
                if pass { "PASS" } else { "FAIL" },
                shown,
                m.show(m.value),
                m.show(t.value)
            );
            Verdict { target: t.text.clone(), actual: m.value, pass, line }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets_with_units() {
        let t = parse_sla("p99<200ms, errors<1%,rate>=99%, p50<=0.5s, max<900us, mbps>200").expect("valid");
        let values: Vec<f64> = t.iter().map(|t| t.value).collect();
        assert_eq!(values, vec![200.0, 1.0, 99.0, 500.0, 0.9, 200.0]);
        for bad in ["", "p99", "p99=200ms", "<200ms", "p99<fast", "p99<-1ms"] {
            assert!(parse_sla(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn verdicts_pass_and_fail_on_the_boundary() {
        let mut m = Metrics::new();
        m.insert("p99".into(), Metric::ms(200.0));
        m.insert("errors".into(), Metric::pct_low(0.5));
        let v = evaluate(&parse_sla("p99<200ms,p99<=200ms,errors<1%").expect("valid"), &m);
        assert_eq!(v.iter().map(|v| v.pass).collect::<Vec<_>>(), vec![false, true, true]);
        assert_eq!(v[0].line, "[FAIL] p99: 200 ms < 200 ms target");
        assert_eq!(v[2].line, "[PASS] errors: 0.5% < 1% target");
        assert!(check_names(&parse_sla("p42<1ms").expect("valid"), &["p99".into()]).is_err());
    }

    #[test]
    fn per_name_targets_keep_the_name_commas_included() {
        let t = parse_sla("GET /v1/Conversations:P95<100ms, login, then post:p99<2s,errors<1%").expect("valid");
        let names: Vec<&str> = t.iter().map(|t| t.metric.as_str()).collect();
        assert_eq!(names, ["GET /v1/Conversations:p95", "login, then post:p99", "errors"]);
        assert_eq!(t[1].value, 2000.0);
    }
}
