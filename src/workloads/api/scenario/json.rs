//! `json = { ... }` bodies: a TOML table written as JSON, compiled once into a template.
//!
//! Tables, arrays, numbers and booleans keep their type and are fixed text; each string value
//! is a template whose text and placeholder values are JSON-escaped when rendered (a users file
//! value holding `"` or `\` stays valid JSON). A string that is exactly one placeholder written
//! with `=` (`"{{=user.age}}"`, `"{{=random_int 1 9}}"`) is written as a JSON number, or as a
//! JSON string when what it renders is not a number.

use crate::template::{json_escape, Scope, Template};

/// The JSON template of `value` (a table, an array or a scalar).
pub fn compile(value: &toml::Value, scope: Scope<'_>) -> Result<Template, String> {
    let mut parts = Vec::new();
    write(value, scope, &mut parts)?;
    Ok(Template::concat(parts))
}

fn text(s: &str) -> Template {
    Template::literal(s.as_bytes().to_vec())
}

fn quoted(raw: &str) -> Template {
    let mut out = vec![b'"'];
    json_escape(raw.as_bytes(), &mut out);
    out.push(b'"');
    Template::literal(out)
}

fn write(value: &toml::Value, scope: Scope<'_>, out: &mut Vec<Template>) -> Result<(), String> {
    match value {
        toml::Value::String(s) => out.push(string(s, scope)?),
        toml::Value::Integer(n) => out.push(text(&n.to_string())),
        toml::Value::Float(x) => {
            let n = serde_json::Number::from_f64(*x).ok_or_else(|| format!("{x} is not a JSON number"))?;
            out.push(text(&n.to_string()));
        }
        toml::Value::Boolean(b) => out.push(text(if *b { "true" } else { "false" })),
        toml::Value::Datetime(d) => out.push(quoted(&d.to_string())),
        toml::Value::Array(items) => {
            out.push(text("["));
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(text(","));
                }
                write(item, scope, out)?;
            }
            out.push(text("]"));
        }
        toml::Value::Table(table) => {
            out.push(text("{"));
            for (i, (k, v)) in table.iter().enumerate() {
                if i > 0 {
                    out.push(text(","));
                }
                out.push(quoted(k));
                out.push(text(":"));
                write(v, scope, out).map_err(|e| format!("{k}: {e}"))?;
            }
            out.push(text("}"));
        }
    }
    Ok(())
}

/// A string value: `"{{=...}}"` a number, anything else an escaped, quoted template.
fn string(s: &str, scope: Scope<'_>) -> Result<Template, String> {
    let trimmed = s.trim();
    if let Some(inner) = trimmed.strip_prefix("{{=").and_then(|r| r.strip_suffix("}}")) {
        if !inner.contains("{{") && !inner.contains("}}") {
            let t = Template::parse(&format!("{{{{{inner}}}}}"), scope).map_err(|e| e.0)?;
            return t.json_number().ok_or_else(|| format!("'{s}' must be one placeholder"));
        }
    }
    let t = Template::parse(s, scope).map_err(|e| e.0)?;
    Ok(Template::concat(vec![text("\""), t.json_escaped(), text("\"")]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::SplitMix64;
    use crate::template::Values;

    fn render(toml_text: &str, user: &[&str]) -> String {
        let cols = ["name".to_string(), "age".to_string()];
        let doc: toml::Table = toml::from_str(toml_text).expect("toml");
        let t = compile(&doc["json"], Scope { user_columns: Some(&cols), vars: &[] }).expect("compiles");
        let user: Vec<Box<[u8]>> = user.iter().map(|u| u.as_bytes().into()).collect();
        let mut rng = SplitMix64::new(1);
        let mut v = Values {
            seq: 7,
            index: 2,
            core: 0,
            conn: 0,
            user: &user,
            vars: &[],
            rng: &mut rng,
            split: Default::default(),
        };
        let mut out = Vec::new();
        t.render(&mut v, &mut out);
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn strings_are_escaped_and_other_values_keep_their_type() {
        let out = render(
            r#"json = { name = "{{user.name}}-{{seq}}", size = 67108864, ratio = 0.5, ok = true, tags = ["a\"b", 1], nested = { n = "{{=user.age}}" } }"#,
            &["a \"quoted\" back\\slash\nline", "42"],
        );
        let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
        assert_eq!(v["name"], "a \"quoted\" back\\slash\nline-7");
        assert_eq!(v["size"], 67108864);
        assert_eq!(v["ratio"], 0.5);
        assert_eq!(v["ok"], true);
        assert_eq!(v["tags"], serde_json::json!(["a\"b", 1]));
        assert_eq!(v["nested"]["n"], 42);
    }

    #[test]
    fn a_number_placeholder_that_renders_text_stays_valid_json_as_a_string() {
        let out = render(r#"json = { n = "{{=user.age}}", i = "{{=i}}" }"#, &["x", "forty \"two\""]);
        let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
        assert_eq!(v["n"], "forty \"two\"");
        assert_eq!(v["i"], 2);
    }

    #[test]
    fn a_number_form_with_more_than_a_placeholder_is_refused() {
        let doc: toml::Table = toml::from_str(r#"json = { n = "{{=seq}}{{=seq}}" }"#).expect("toml");
        assert!(compile(&doc["json"], Scope::default()).is_err());
    }
}
