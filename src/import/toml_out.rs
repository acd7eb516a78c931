//! Writes an imported `Profile` as a blast profile: one `[[request]]` or `[[flow]]` per task,
//! one key per line, a flow's steps as `[[flow.steps]]` tables so that each can carry its own
//! comments; formatted for people to edit.

use super::model::{Body, Flow, Item, Part, Profile, Step};
use std::fmt::Write;

/// The profile's text.
pub fn write(p: &Profile) -> String {
    let mut out = String::new();
    comments(&mut out, &p.header);
    let _ = writeln!(out, "description = {}", quote(&p.description));
    out.push_str("workload = \"api\"\n\n[args]\n");
    let _ = match &p.target_note {
        Some(n) => writeln!(out, "target = {}   # {n}", quote(&p.target)),
        None => writeln!(out, "target = {}", quote(&p.target)),
    };
    comments(&mut out, &p.rate_note);
    let _ = writeln!(out, "rate = {}", quote(&p.rate));
    let _ = writeln!(out, "duration = {}", quote(&p.duration));
    if let Some(t) = &p.timeout {
        let _ = writeln!(out, "timeout = {}", quote(t));
    }
    if let Some(n) = p.users {
        let _ = writeln!(out, "users = {n}   # Locust's -u: virtual users, each runs [[on_start]] once");
    }
    if let Some(f) = &p.users_file {
        let _ = writeln!(out, "\n[data]\nusers = {{ file = {} }}   # columns become {{{{user.<column>}}}}", quote(f));
    }
    if !p.on_start_notes.is_empty() {
        out.push('\n');
        comments(&mut out, &p.on_start_notes);
    }
    for s in &p.on_start {
        out.push('\n');
        comments(&mut out, &s.comments);
        out.push_str("[[on_start]]\n");
        step_keys(&mut out, s, None);
    }
    for item in &p.items {
        out.push('\n');
        match item {
            Item::Request { weight, step } => {
                comments(&mut out, &step.comments);
                out.push_str("[[request]]\n");
                step_keys(&mut out, step, Some(*weight));
            }
            Item::Flow(f) => flow(&mut out, f),
            Item::Comments(c) => comments(&mut out, c),
        }
    }
    if !p.trailer.is_empty() {
        out.push('\n');
        comments(&mut out, &p.trailer);
    }
    out
}

fn flow(out: &mut String, f: &Flow) {
    comments(out, &f.comments);
    out.push_str("[[flow]]\n");
    let _ = writeln!(out, "name = {}", quote(&f.name));
    let _ = writeln!(out, "weight = {}", f.weight);
    if !f.tags.is_empty() {
        let _ = writeln!(out, "tags = {}", string_array(&f.tags));
    }
    for s in &f.steps {
        out.push('\n');
        comments(out, &s.comments);
        out.push_str("[[flow.steps]]\n");
        step_keys(out, s, None);
    }
}

fn step_keys(out: &mut String, s: &Step, weight: Option<u64>) {
    let mut kv = |k: &str, v: String| {
        let _ = writeln!(out, "{k} = {v}");
    };
    kv("name", quote(&s.name));
    if let Some(w) = weight {
        kv("weight", w.to_string());
    }
    kv("method", quote(&s.method));
    kv("path", quote(&s.path));
    if !s.headers.is_empty() {
        kv("headers", inline_table(s.headers.iter().map(|(k, v)| (k.as_str(), quote(v)))));
    }
    match &s.body {
        Body::Empty => {}
        Body::Text(t) => kv("body", quote(t)),
        Body::Json(v) => kv("json", v.clone()),
        Body::RandomBytes(n) => kv("body", format!("{{ random_bytes = {} }}", quote(n))),
        Body::File(f) => kv("body", format!("{{ file = {} }}", quote(f))),
    }
    if !s.multipart.is_empty() {
        let parts: Vec<String> = s.multipart.iter().map(part).collect();
        kv("multipart", format!("[\n  {},\n]", parts.join(",\n  ")));
    }
    if !s.capture.is_empty() {
        kv("capture", inline_table(s.capture.iter().map(|(k, v)| (k.as_str(), quote(v)))));
    }
    if s.scope_user {
        kv("scope", quote("user"));
    }
    if let Some(r) = &s.repeat {
        kv("repeat", r.parse::<u64>().map_or_else(|_| quote(r), |n| n.to_string()));
    }
    if let Some((total, chunk)) = &s.split {
        kv("split", format!("{{ total = {}, chunk = {} }}", quote(total), quote(chunk)));
    }
    let mut expect = Vec::new();
    if !s.expect_status.is_empty() {
        let list: Vec<String> = s.expect_status.iter().map(u16::to_string).collect();
        expect.push(("status", format!("[{}]", list.join(", "))));
    }
    if !s.expect_json.is_empty() {
        expect.push(("json", inline_table(s.expect_json.iter().map(|(k, v)| (k.as_str(), quote(v))))));
    }
    if let Some(c) = &s.expect_contains {
        expect.push(("body_contains", quote(c)));
    }
    if !expect.is_empty() {
        kv("expect", inline_table(expect.into_iter()));
    }
    if let Some(slow) = &s.slow {
        kv("slow", quote(slow));
    }
    if !s.tags.is_empty() {
        kv("tags", string_array(&s.tags));
    }
}

fn part(p: &Part) -> String {
    let mut kv: Vec<(&str, String)> = vec![("name", quote(&p.name))];
    if let Some(v) = &p.value {
        kv.push(("value", quote(v)));
    }
    if let Some(v) = &p.filename {
        kv.push(("filename", quote(v)));
    }
    if let Some(v) = &p.content_type {
        kv.push(("content_type", quote(v)));
    }
    if let Some(v) = &p.random_bytes {
        kv.push(("random_bytes", quote(v)));
    }
    if let Some(v) = &p.file {
        kv.push(("file", quote(v)));
    }
    if p.chunk {
        kv.push(("chunk", "true".into()));
    }
    inline_table(kv.into_iter())
}

fn comments(out: &mut String, lines: &[String]) {
    for l in lines {
        for part in l.lines() {
            let _ = writeln!(out, "# {part}");
        }
    }
}

/// `{ a = 1, "b c" = "x" }` from keys and written values.
fn inline_table<'a>(pairs: impl Iterator<Item = (&'a str, String)>) -> String {
    let items: Vec<String> = pairs.map(|(k, v)| format!("{} = {v}", key(k))).collect();
    if items.is_empty() {
        "{}".into()
    } else {
        format!("{{ {} }}", items.join(", "))
    }
}

fn string_array(items: &[String]) -> String {
    let v: Vec<String> = items.iter().map(|s| quote(s)).collect();
    format!("[{}]", v.join(", "))
}

/// A TOML value written inline.
pub fn value(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => quote(s),
        toml::Value::Integer(n) => n.to_string(),
        toml::Value::Float(x) if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e15 => format!("{x:.1}"),
        toml::Value::Float(x) => x.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::Array(a) => format!("[{}]", a.iter().map(value).collect::<Vec<_>>().join(", ")),
        toml::Value::Table(t) => inline_table(t.iter().map(|(k, v)| (k.as_str(), value(v)))),
    }
}

/// A bare key when it can be one, else a quoted key.
pub fn key(k: &str) -> String {
    if !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        k.to_string()
    } else {
        quote(k)
    }
}

/// A TOML string: a literal string ('...', no escapes, easiest to read for JSON) when the text
/// allows one, else a basic string with escapes.
pub fn quote(s: &str) -> String {
    if !s.contains(['\'', '\n', '\r']) && !s.chars().any(char::is_control) && s.contains('"') {
        return format!("'{s}'");
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_keys_read_back_as_written() {
        for s in ["plain", r#"{"a":"b"}"#, "it's", "tab\there", "back\\slash", "line\nbreak", "both ' and \""] {
            let doc = format!("k = {}\n", quote(s));
            let v: toml::Table = toml::from_str(&doc).expect("valid TOML");
            assert_eq!(v["k"].as_str(), Some(s), "{doc}");
        }
        let t: toml::Value =
            toml::from_str(r#"v = { "/sha256" = "x", a-b = [1, 2.5, true], n = { m = 1.0 } }"#).expect("toml");
        let doc = format!("v = {}\n", value(&t["v"]));
        let back: toml::Value = toml::from_str(&doc).expect("valid TOML");
        assert_eq!(back, t, "{doc}");
    }
}
