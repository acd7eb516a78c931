//! The message formats of `blast ws`: the subscribe, publish and probe-body templates (the
//! scenario template engine, `crate::template`, with the ws values below as variables), and how
//! a received message's probe id and send time are read (`ProbeReader`).
//!
//! | placeholder | value |
//! |---|---|
//! | `{{room}}` | the conversation (`room-N`) |
//! | `{{conn}}` | the connection's index in the run (subscribe) |
//! | `{{token}}` | the connection's token (`--token` or its line of `--tokens`) |
//! | `{{probe_id}}` | the probe's number (a string id is e.g. `"p-{{probe_id}}"`) |
//! | `{{sent_at_us}}`, `{{sent_at_ms}}` | send time since the Unix epoch, integer µs / ms |
//! | `{{sent_at_s}}` | send time in seconds, with six decimals |
//! | `{{sent_at_iso}}` | send time as ISO 8601 UTC, µs precision (`2026-01-02T03:04:05.123456Z`) |
//!
//! plus the scenario functions (`{{uuid}}`, `{{random_int A B}}`, `{{now_ms}}`, ...).

use crate::civil_time::{iso8601, parse_iso8601_us};
use crate::engine::rng::SplitMix64;
use crate::template::{Scope, Template, Values};
use serde_json::Value;

/// The ws values a template may use, by variable slot (`{{conn}}` is the engine's own).
const VARS: [&str; 7] = ["room", "probe_id", "sent_at_us", "sent_at_ms", "sent_at_s", "sent_at_iso", "token"];

/// A parsed ws template.
#[derive(Clone, Debug)]
pub struct WsTemplate {
    template: Template,
    /// The variable slots it reads.
    uses: [bool; VARS.len()],
}

/// What a ws template is rendered with.
#[derive(Default)]
pub struct WsValues<'a> {
    pub room: &'a str,
    pub conn: u64,
    pub token: &'a str,
    pub probe_id: u64,
    pub sent_us: u64,
}

impl WsTemplate {
    /// Parses `text` for flag `flag` (named in the error).
    pub fn parse(flag: &str, text: &str) -> Result<WsTemplate, String> {
        let vars: Vec<String> = VARS.iter().map(|v| v.to_string()).collect();
        let template = Template::parse(text, Scope { user_columns: None, vars: &vars }).map_err(|e| {
            format!("{flag}: {e}; blast ws also knows {{{{room}}}}, {{{{conn}}}}, {{{{token}}}}, {{{{probe_id}}}}, {{{{sent_at_us}}}}, {{{{sent_at_ms}}}}, {{{{sent_at_s}}}}, {{{{sent_at_iso}}}}")
        })?;
        let mut uses = [false; VARS.len()];
        for slot in template.vars_used() {
            uses[slot] = true;
        }
        Ok(WsTemplate { template, uses })
    }

    /// Whether it reads `{{name}}` (one of the ws values).
    pub fn uses(&self, name: &str) -> bool {
        VARS.iter().position(|v| *v == name).is_some_and(|i| self.uses[i])
    }

    pub fn render(&self, v: &WsValues<'_>, rng: &mut SplitMix64) -> String {
        let text = |i: usize| -> Vec<u8> {
            if !self.uses[i] {
                return Vec::new();
            }
            match i {
                0 => v.room.as_bytes().to_vec(),
                1 => v.probe_id.to_string().into_bytes(),
                2 => v.sent_us.to_string().into_bytes(),
                3 => (v.sent_us / 1000).to_string().into_bytes(),
                4 => format!("{}.{:06}", v.sent_us / 1_000_000, v.sent_us % 1_000_000).into_bytes(),
                5 => iso8601(v.sent_us).into_bytes(),
                _ => v.token.as_bytes().to_vec(),
            }
        };
        let vars: Vec<Vec<u8>> = (0..VARS.len()).map(text).collect();
        let mut values = Values {
            seq: v.probe_id.max(v.conn),
            index: 0,
            core: 0,
            conn: v.conn as usize,
            user: &[],
            vars: &vars,
            rng,
            split: Default::default(),
        };
        let mut out = Vec::with_capacity(128);
        self.template.render(&mut values, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// The unit of the send time a probe carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TsUnit {
    Us,
    Ms,
    S,
    Iso8601,
}

impl TsUnit {
    /// How finely a send time in this unit tells the instant, when coarser than the µs blast
    /// measures in (a time cut to it makes each latency read longer, by up to that much).
    pub fn coarse_resolution(self) -> Option<&'static str> {
        match self {
            TsUnit::Us => None,
            TsUnit::Ms => Some("1 ms"),
            TsUnit::S => Some("the decimals the server writes, 1 s without any"),
            TsUnit::Iso8601 => Some("the fraction of a second the server writes, 1 s without any"),
        }
    }
}

/// How a received message is read as a probe.
#[derive(Clone, Debug)]
pub struct ProbeReader {
    /// JSON pointer to the probe id (a number, or a string ending in the number).
    pub id_pointer: String,
    /// JSON pointer to the send time, and its unit; `None`: blast's own send time is used.
    pub ts: Option<(String, TsUnit)>,
}

/// A probe read from a message: its id and, when the message carries it, its send time (µs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeSeen {
    pub id: u64,
    pub sent_us: Option<u64>,
}

impl ProbeReader {
    /// The probe `v` carries, if any.
    pub fn read(&self, v: &Value) -> Option<ProbeSeen> {
        let id = probe_id(v.pointer(&self.id_pointer)?)?;
        match &self.ts {
            None => Some(ProbeSeen { id, sent_us: None }),
            Some((pointer, unit)) => Some(ProbeSeen { id, sent_us: Some(timestamp_us(v.pointer(pointer)?, *unit)?) }),
        }
    }

    /// The pointers in use, for messages to the user.
    pub fn describe(&self) -> String {
        match &self.ts {
            Some((p, unit)) => format!(
                "--probe-id-pointer {} --probe-ts-pointer {p} --probe-ts-unit {}",
                self.id_pointer,
                format!("{unit:?}").to_lowercase()
            ),
            None => format!("--probe-id-pointer {} --probe-ts-pointer none", self.id_pointer),
        }
    }
}

/// A probe id: a non-negative integer, or a string whose last run of digits is the number
/// (`"17"`, `"p-17"`, `"blast-probe-17"`).
pub fn probe_id(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => {
            let end = s.rfind(|c: char| c.is_ascii_digit())? + 1;
            let start = s[..end].rfind(|c: char| !c.is_ascii_digit()).map_or(0, |i| i + 1);
            s[start..end].parse().ok()
        }
        _ => None,
    }
}

/// A send time in `unit` (a number, or a numeric string; ISO 8601 as a string) as Unix µs.
pub fn timestamp_us(v: &Value, unit: TsUnit) -> Option<u64> {
    let number = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) if unit != TsUnit::Iso8601 => s.trim().parse::<f64>().ok(),
        Value::String(s) => return parse_iso8601_us(s),
        _ => None,
    }?;
    if !number.is_finite() || number < 0.0 {
        return None;
    }
    let us = match unit {
        TsUnit::Us => number,
        TsUnit::Ms => number * 1e3,
        TsUnit::S => number * 1e6,
        TsUnit::Iso8601 => return None,
    };
    // Integers in µs and ms are exact; seconds as floats are rounded to the µs.
    Some(match (unit, v.as_u64()) {
        (TsUnit::Us, Some(n)) => n,
        (TsUnit::Ms, Some(n)) => n.saturating_mul(1000),
        _ => us.round() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_and_timestamps_in_every_form() {
        assert_eq!(probe_id(&json!(17)), Some(17));
        assert_eq!(probe_id(&json!("p-17")), Some(17));
        assert_eq!(probe_id(&json!("17")), Some(17));
        assert_eq!(probe_id(&json!("none")), None);
        assert_eq!(probe_id(&json!(-1)), None);
        assert_eq!(timestamp_us(&json!(1500), TsUnit::Ms), Some(1_500_000));
        assert_eq!(timestamp_us(&json!("1500"), TsUnit::Ms), Some(1_500_000));
        assert_eq!(timestamp_us(&json!(1.5), TsUnit::S), Some(1_500_000));
        assert_eq!(timestamp_us(&json!(7), TsUnit::Us), Some(7));
        assert_eq!(timestamp_us(&json!("1970-01-01T00:00:01Z"), TsUnit::Iso8601), Some(1_000_000));
    }

    #[test]
    fn templates_render_ws_values_and_scenario_functions() {
        let t = WsTemplate::parse(
            "--publish",
            r#"{"id":"p-{{probe_id}}","ms":{{sent_at_ms}},"s":{{sent_at_s}},"r":"{{room}}","u":"{{uuid}}"}"#,
        )
        .expect("valid");
        assert!(t.uses("probe_id") && !t.uses("token"));
        let mut rng = SplitMix64::new(1);
        let out = t
            .render(&WsValues { room: "room-2", probe_id: 9, sent_us: 1_000_001_500, ..WsValues::default() }, &mut rng);
        let v: Value = serde_json::from_str(&out).expect("json");
        assert_eq!(v["id"], "p-9");
        assert_eq!(v["ms"], 1_000_001);
        assert_eq!(v["s"], 1000.0015);
        assert_eq!(v["r"], "room-2");
        assert_eq!(v["u"].as_str().map(str::len), Some(36));
        assert!(WsTemplate::parse("--publish", "{{nope}}").expect_err("unknown").contains("{{sent_at_ms}}"));
    }
}
