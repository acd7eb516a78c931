//! OpenAPI 3 documents (JSON or YAML, e.g. FastAPI's `/openapi.json`): one `[[request]]` per
//! operation, equal weights, named `METHOD /path/{param}` as the document writes it. Path
//! parameters become templates (an example when the document gives one), required query
//! parameters are filled in, and a JSON body is built from the schema (examples, defaults,
//! enums, formats; `$ref`, `allOf`, `anyOf`/`oneOf` followed).

use super::model::{Body, Item, Profile, Skipped, Step};
use super::Options;
use crate::usage::UsageError;
use serde_json::{Map, Value};

const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// Reads an OpenAPI 3 document.
pub fn read(name: &str, doc: &Value, opts: &Options) -> Result<(Profile, Vec<Skipped>), UsageError> {
    let version = doc["openapi"].as_str().unwrap_or("");
    if !version.starts_with('3') {
        return Err(UsageError(format!("{name}: openapi '{version}': blast imports OpenAPI 3 documents")));
    }
    let paths = doc["paths"].as_object().ok_or_else(|| UsageError(format!("{name}: no paths")))?;
    let title = doc["info"]["title"].as_str().unwrap_or("API");
    let server = doc["servers"][0]["url"].as_str().filter(|u| u.starts_with("http"));
    let mut p = Profile {
        description: format!("Imported by `blast import` from the OpenAPI document {name} ({title})"),
        duration: "30s".into(),
        ..Profile::default()
    };
    p.header.push(format!("Imported by `blast import` from {name} (OpenAPI {version}): one request per operation, equal weights; edit freely."));
    (p.target, p.target_note) = match (&opts.host, server) {
        (Some(h), _) => (h.clone(), Some("--host".into())),
        (None, Some(s)) => (origin(s), Some("the document's first server".into())),
        (None, None) => {
            ("http://127.0.0.1:8000".into(), Some("no absolute server URL in the document: set --host or edit".into()))
        }
    };
    // a server URL's path is a prefix of every operation's path
    let prefix = server.map(path_of).unwrap_or_default();
    p.rate = opts.rate.map_or("10".into(), |r| format!("{r}"));
    p.rate_note.push(if opts.rate.is_some() {
        "rate: given with --rate".into()
    } else {
        "an OpenAPI document has no load: 10/s is a placeholder (--rate R)".into()
    });
    if doc["components"]["securitySchemes"].as_object().is_some_and(|s| !s.is_empty()) {
        p.header.push("The API declares security schemes: add -H 'Authorization: Bearer ...' to blast run, or an [[on_start]] login.".into());
    }
    let mut skipped = Vec::new();
    for (path, item) in paths {
        let Some(item) = item.as_object() else { continue };
        let shared = item.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default();
        for m in METHODS {
            let Some(op) = item.get(*m) else { continue };
            let mut step =
                Step { name: format!("{} {path}", m.to_uppercase()), method: m.to_uppercase(), ..Step::default() };
            let mut params = shared.clone();
            params.extend(op["parameters"].as_array().cloned().unwrap_or_default());
            let mut url = format!("{prefix}{path}");
            let mut query = Vec::new();
            for param in &params {
                let param = resolve(doc, param);
                let (Some(pname), Some(loc)) = (param["name"].as_str(), param["in"].as_str()) else { continue };
                let value = param_value(doc, param);
                match loc {
                    "path" => url = url.replace(&format!("{{{pname}}}"), &value),
                    "query" if param["required"].as_bool() == Some(true) => query.push(format!("{pname}={value}")),
                    "header" if param["required"].as_bool() == Some(true) => {
                        step.headers.push((pname.to_string(), value))
                    }
                    _ => {}
                }
            }
            if !query.is_empty() {
                url = format!("{url}?{}", query.join("&"));
            }
            step.path = url;
            if let Some(content) = resolve(doc, &op["requestBody"])["content"].as_object() {
                if let Some(json) = content.iter().find(|(k, _)| k.contains("json")).map(|(_, v)| v) {
                    let example = json.get("example").cloned().unwrap_or_else(|| example(doc, &json["schema"], 0));
                    step.body = Body::Text(example.to_string());
                    step.headers.push(("Content-Type".into(), "application/json".into()));
                } else if let Some((kind, _)) = content.iter().next() {
                    let s = Skipped {
                        line: 0,
                        source: format!("{} {path}: request body {kind}", m.to_uppercase()),
                        why: "only JSON bodies are built from a schema".into(),
                    };
                    step.comments.push(s.comment(name));
                    skipped.push(s);
                }
            }
            if let Some(summary) = op["summary"].as_str() {
                step.comments.insert(0, summary.to_string());
            }
            p.items.push(Item::Request { weight: 1, step: Box::new(step) });
        }
    }
    if p.items.is_empty() {
        return Err(UsageError(format!("{name}: no operations under paths")));
    }
    p.unique_names();
    Ok((p, skipped))
}

/// `#/components/...` references followed (up to a depth).
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    let mut v = v;
    for _ in 0..16 {
        match v.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) {
            Some(ptr) => v = doc.pointer(ptr).unwrap_or(&Value::Null),
            None => break,
        }
    }
    v
}

/// A parameter's value: its example, else one fitting its schema (no spaces: it may be a path).
fn param_value(doc: &Value, param: &Value) -> String {
    let schema = resolve(doc, &param["schema"]);
    match param.get("example").cloned().unwrap_or_else(|| example(doc, schema, 0)) {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

/// An example value for a schema: `example`, `examples`, `default`, the first enum value, or
/// one built from the type and format.
fn example(doc: &Value, schema: &Value, depth: usize) -> Value {
    let s = resolve(doc, schema);
    if depth > 8 {
        return Value::Null;
    }
    if let Some(e) = s.get("example").or_else(|| s["examples"].get(0)).or_else(|| s.get("default")) {
        return e.clone();
    }
    if let Some(e) = s["enum"].get(0).or_else(|| s.get("const")) {
        return e.clone();
    }
    if let Some(all) = s["allOf"].as_array() {
        let mut merged = Map::new();
        for part in all {
            if let Value::Object(o) = example(doc, part, depth + 1) {
                merged.extend(o);
            }
        }
        return Value::Object(merged);
    }
    if let Some(any) = s["anyOf"].as_array().or_else(|| s["oneOf"].as_array()) {
        let first = any.iter().find(|v| resolve(doc, v)["type"].as_str() != Some("null"));
        return first.map_or(Value::Null, |v| example(doc, v, depth + 1));
    }
    match s["type"].as_str() {
        Some("object") | None if s.get("properties").is_some() => {
            let mut o = Map::new();
            if let Some(props) = s["properties"].as_object() {
                for (k, v) in props {
                    let e = example(doc, v, depth + 1);
                    if !e.is_null() {
                        o.insert(k.clone(), e);
                    }
                }
            }
            Value::Object(o)
        }
        Some("object") => Value::Object(Map::new()),
        Some("array") => {
            Value::Array(vec![example(doc, &s["items"], depth + 1)].into_iter().filter(|v| !v.is_null()).collect())
        }
        Some("integer") => Value::from(s["minimum"].as_i64().unwrap_or(1)),
        Some("number") => Value::from(s["minimum"].as_f64().unwrap_or(1.5)),
        Some("boolean") => Value::Bool(true),
        Some("string") => Value::String(
            match s["format"].as_str() {
                Some("uuid") => "{{uuid}}",
                Some("date-time") => "2025-01-01T00:00:00Z",
                Some("date") => "2025-01-01",
                Some("email") => "user{{seq}}@example.com",
                Some("uri" | "url") => "http://127.0.0.1/",
                _ => "string",
            }
            .into(),
        ),
        _ => Value::Null,
    }
}

fn origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    format!("{scheme}://{}", rest.split('/').next().unwrap_or(rest))
}

fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map_or(String::new(), |i| rest[i..].trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_follow_refs_and_prefer_given_values() {
        let doc: Value = serde_json::json!({
            "components": {"schemas": {
                "Msg": {"type": "object", "required": ["text"], "properties": {
                    "text": {"type": "string", "example": "hi"},
                    "id": {"type": "string", "format": "uuid"},
                    "n": {"type": "integer", "minimum": 5},
                    "kind": {"enum": ["a", "b"]},
                    "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": null},
                    "tags": {"type": "array", "items": {"type": "string"}},
                }}
            }}
        });
        let e = example(&doc, &serde_json::json!({"$ref": "#/components/schemas/Msg"}), 0);
        assert_eq!(e["text"], "hi");
        assert_eq!(e["id"], "{{uuid}}");
        assert_eq!(e["n"], 5);
        assert_eq!(e["kind"], "a");
        assert!(e.get("note").is_none(), "a null default is left out: {e}");
        assert_eq!(e["tags"], serde_json::json!(["string"]));
    }
}
