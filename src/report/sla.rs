//! `--sla 'p99<200ms,errors<1%'`: targets parsed from the flag, checked against the figures a
//! workload reports (before the run) and evaluated against a run's figures (after it). The
//! figures themselves are the report's (`report::metrics`).

use crate::report::metrics::{self, Metric, Metrics, Unit};
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

/// The unit a target's value was written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Written {
    /// `ms`, `s` or `us`.
    Time,
    /// `%`.
    Percent,
    /// A plain number: the figure's own unit.
    Plain,
}

/// One SLA target, e.g. `p99<200ms`.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub metric: String,
    op: Op,
    /// In the metric's unit (ms, percent, per second, count).
    pub value: f64,
    written: Written,
    pub text: String,
}

/// The outcome of one target.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub target: String,
    /// The figure; null when it rests on no sample.
    pub actual: Option<f64>,
    /// How many measurements the figure rests on (null for a figure that does not say).
    pub samples: Option<u64>,
    pub pass: bool,
    /// `[PASS] p99: 145.2 ms < 200 ms target (1200 responses)`, `[FAIL] p99: no responses
    /// (target < 200 ms)`.
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
        let before = raw[..at].trim_end();
        if before.ends_with(['=', '!']) {
            // `p99=>50ms`, `p99!<1`: a comparison blast does not have.
            let from = before.len() - 1;
            let op: String =
                raw[from..].chars().filter(|c| !c.is_whitespace()).take_while(|c| "=!<>".contains(*c)).collect();
            return Err(format!("SLA target '{raw}': '{op}' is not a comparison: use <, <=, > or >= (e.g. p99<=50ms)"));
        }
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
        let (num, scale, written) = if let Some(n) = v.strip_suffix("ms") {
            (n, 1.0, Written::Time)
        } else if let Some(n) = v.strip_suffix("us") {
            (n, 1e-3, Written::Time)
        } else if let Some(n) = v.strip_suffix('s') {
            (n, 1e3, Written::Time)
        } else if let Some(n) = v.strip_suffix('%') {
            (n, 1.0, Written::Percent)
        } else {
            (v, 1.0, Written::Plain)
        };
        let value: f64 = num.trim().parse().map_err(|_| format!("SLA target '{raw}': '{v}' is not a number"))?;
        if !value.is_finite() || value < 0.0 {
            return Err(format!("SLA target '{raw}': the value must be a number of at least 0"));
        }
        out.push(Target { metric, op, value: value * scale, written, text: raw.to_string() });
    }
    if out.is_empty() {
        return Err("--sla is empty".into());
    }
    Ok(out)
}

/// Checks that every target names a figure the workload reports, in a unit that fits it
/// (before the run starts).
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
        check_unit(t)?;
    }
    Ok(())
}

/// A latency takes a time (or a plain number of ms), a percentage a `%` (or a plain number),
/// the others a plain number.
fn check_unit(t: &Target) -> Result<(), String> {
    let Some(unit) = metrics::unit_of(&t.metric) else { return Ok(()) };
    let takes = match (unit, t.written) {
        (_, Written::Plain) | (Unit::Ms, Written::Time) | (Unit::Pct, Written::Percent) => return Ok(()),
        (Unit::Ms, _) => "is a latency: give it in ms, s or us (e.g. p99<200ms)",
        (Unit::Pct, _) => "is a percentage: give it with % (e.g. errors<1%)",
        (Unit::PerS, _) => "is a rate in requests/s: give a plain number (e.g. rps>1000)",
        (Unit::MbPerS, _) => "is a throughput in MB/s: give a plain number (e.g. mbps>200)",
        (Unit::Count, _) => "is a count: give a plain number (e.g. drops<1)",
    };
    Err(format!("SLA target '{}': {} {takes}", t.text, t.metric))
}

/// Evaluates the targets against a run's figures. A figure that rests on no sample (a
/// percentile of no response, an error rate of nothing sent) fails whatever the target.
pub fn evaluate(targets: &[Target], metrics: &Metrics) -> Vec<Verdict> {
    targets
        .iter()
        .map(|t| {
            let m = metrics.get(&t.metric).copied().unwrap_or(Metric::count_low(f64::NAN));
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
            let of = if m.of.is_empty() { "samples" } else { m.of };
            if m.is_empty() {
                let line = format!("[FAIL] {shown}: no {of} (target {sign} {})", m.show(t.value));
                return Verdict { target: t.text.clone(), actual: None, samples: Some(0), pass: false, line };
            }
            let pass = match t.op {
                Op::Lt => m.value < t.value,
                Op::Le => m.value <= t.value,
                Op::Gt => m.value > t.value,
                Op::Ge => m.value >= t.value,
            };
            let rests_on = m.samples.map(|n| format!(" ({n} {of})")).unwrap_or_default();
            let line = format!(
                "[{}] {}: {} {sign} {} target{rests_on}",
                if pass { "PASS" } else { "FAIL" },
                shown,
                m.show(m.value),
                m.show(t.value)
            );
            let actual = Some(m.value).filter(|v| v.is_finite());
            Verdict { target: t.text.clone(), actual, samples: m.samples, pass, line }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sla_operator_error_names_the_operators() {
        for (spec, op) in [("p99=>50ms", "=>"), ("p99 !< 5", "!<"), ("errors=<1%", "=<")] {
            let err = parse_sla(spec).expect_err(spec);
            assert!(err.contains(&format!("'{op}' is not a comparison: use <, <=, > or >=")), "{spec}: {err}");
        }
        for no_comparison in ["p99=50ms", "p99 != 5"] {
            assert!(parse_sla(no_comparison).expect_err(no_comparison).contains("METRIC<=VALUE"));
        }
    }

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
    fn a_figure_with_no_samples_fails_and_every_line_says_what_it_rests_on() {
        let mut m = Metrics::new();
        m.insert("p99".into(), Metric::ms(0.0).over(0, "responses"));
        m.insert("errors".into(), Metric::pct_low(0.0).over(1200, "requests"));
        let v = evaluate(&parse_sla("p99<50ms,errors<1%,p99>=0ms").expect("valid"), &m);
        assert_eq!(v[0].line, "[FAIL] p99: no responses (target < 50 ms)");
        assert_eq!((v[0].pass, v[0].actual, v[0].samples), (false, None, Some(0)));
        assert_eq!(v[1].line, "[PASS] errors: 0% < 1% target (1200 requests)");
        assert_eq!(v[1].samples, Some(1200));
        assert!(!v[2].pass, "no target passes on no samples, however loose");
    }

    #[test]
    fn every_figure_a_workload_reports_has_a_known_unit() {
        let all = [
            crate::report::api::metric_names(&[]),
            crate::report::ws::metric_names(),
            crate::report::upload::metric_names(),
        ];
        for name in all.iter().flatten() {
            assert!(metrics::unit_of(name).is_some(), "{name} has no unit: SLA units go unchecked");
        }
    }

    #[test]
    fn units_must_fit_the_figure() {
        let known: Vec<String> =
            ["p99", "service_p99", "errors", "rps", "mbps", "drops", "GET /x:p95"].map(String::from).to_vec();
        for ok in
            ["p99<5ms", "p99<0.5s", "p99<200", "service_p99<900us", "errors<5%", "errors<5", "rps>10", "GET /x:p95<1s"]
        {
            assert_eq!(check_names(&parse_sla(ok).expect("parses"), &known), Ok(()), "{ok}");
        }
        for (bad, says) in [
            ("p99<5%", "p99 is a latency: give it in ms, s or us"),
            ("errors<5ms", "errors is a percentage: give it with %"),
            ("rps>5%", "rps is a rate in requests/s"),
            ("mbps>2s", "mbps is a throughput in MB/s"),
            ("drops<1%", "drops is a count"),
            ("GET /x:p95<1%", "GET /x:p95 is a latency"),
        ] {
            let e = check_names(&parse_sla(bad).expect("parses"), &known).expect_err(bad);
            assert!(e.contains(says) && e.contains(bad) && !e.contains('\n'), "{bad}: {e}");
        }
    }

    #[test]
    fn per_name_targets_keep_the_name_commas_included() {
        let t = parse_sla("GET /v1/Conversations:P95<100ms, login, then post:p99<2s,errors<1%").expect("valid");
        let names: Vec<&str> = t.iter().map(|t| t.metric.as_str()).collect();
        assert_eq!(names, ["GET /v1/Conversations:p95", "login, then post:p99", "errors"]);
        assert_eq!(t[1].value, 2000.0);
    }
}
