//! HAR files (a browser's or a proxy's export): the requests to the target's host, one
//! `[[flow]]` per page in the order they were made (all of them in one flow when the export
//! has no pages). A value a later request sends that an earlier response returned (a token in
//! a JSON body, a `Location`) becomes a capture of that response and `{{var}}` where it is
//! used, so a login's token is fresh in every iteration.

use super::model::{Body, Flow, Item, Profile, Skipped, Step};
use super::Options;
use crate::usage::UsageError;
use serde_json::Value;

/// Request headers blast sets itself or that only describe the recording browser's connection.
const DROP: &[&str] =
    &["host", "content-length", "connection", "accept-encoding", "keep-alive", "upgrade", "te", "transfer-encoding"];

/// A value an earlier response returned: its text, the step and the capture source.
struct Known {
    text: String,
    step: usize,
    source: String,
    var: String,
}

/// Reads a HAR export.
pub fn read(name: &str, doc: &Value, opts: &Options) -> Result<(Profile, Vec<Skipped>), UsageError> {
    let entries = doc["log"]["entries"].as_array().ok_or_else(|| UsageError(format!("{name}: no log.entries")))?;
    let first = entries
        .first()
        .and_then(|e| e["request"]["url"].as_str())
        .ok_or_else(|| UsageError(format!("{name}: no requests")))?;
    let origin = opts.host.clone().map_or_else(|| origin(first), |h| origin(&h));
    let recorded = origin_of_first(entries);
    let mut p = Profile {
        description: format!("Imported by `blast import` from the HAR file {name}"),
        duration: "30s".into(),
        target: origin.clone(),
        target_note: Some(if opts.host.is_some() { "--host".into() } else { "the host of the first request".into() }),
        ..Profile::default()
    };
    p.header.push(format!(
        "Imported by `blast import` from {name} (HAR): one flow per page, in the recorded order; edit freely."
    ));
    p.rate = opts.rate.map_or("1".into(), |r| format!("{r}"));
    p.rate_note.push(if opts.rate.is_some() {
        "rate: given with --rate (page loads per second)".into()
    } else {
        "a recording has no load: 1 page load per second is a placeholder (--rate R)".into()
    });
    let pages: Vec<(String, String)> = doc["log"]["pages"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(|pg| {
                    (pg["id"].as_str().unwrap_or("").to_string(), pg["title"].as_str().unwrap_or("page").to_string())
                })
                .collect()
        })
        .unwrap_or_default();
    let mut groups: Vec<(String, Vec<&Value>)> = Vec::new();
    let mut others = 0usize;
    for e in entries {
        let url = e["request"]["url"].as_str().unwrap_or("");
        if self::origin(url) != recorded {
            others += 1;
            continue;
        }
        let page = e["pageref"].as_str().unwrap_or("");
        let title = pages.iter().find(|(id, _)| id == page).map_or_else(
            || if page.is_empty() { "recording".to_string() } else { page.to_string() },
            |(_, t)| t.clone(),
        );
        match groups.iter_mut().find(|(t, _)| *t == title) {
            Some((_, list)) => list.push(e),
            None => groups.push((title, vec![e])),
        }
    }
    if others > 0 {
        p.header
            .push(format!("{others} requests to other hosts (CDNs, analytics) are left out: blast loads one target."));
    }
    let mut known: Vec<Known> = Vec::new();
    // cookie names an earlier recorded response set: blast's per-user cookie jar sends those
    let mut set_cookies: Vec<String> = Vec::new();
    for (title, list) in groups {
        let mut steps = Vec::new();
        // the step of this flow whose response last set each cookie
        let mut setters: Vec<(String, usize)> = Vec::new();
        for e in list {
            let req = &e["request"];
            let method = req["method"].as_str().unwrap_or("GET").to_uppercase();
            let url = req["url"].as_str().unwrap_or("/");
            let path = path_and_query(url);
            let mut step = Step { method, ..Step::default() };
            step.name = format!("{} {}", step.method, path.split('?').next().unwrap_or(&path));
            step.path = substitute(&path, &mut known, &mut steps);
            for h in req["headers"].as_array().map_or(&[][..], Vec::as_slice) {
                let (Some(k), Some(v)) = (h["name"].as_str(), h["value"].as_str()) else { continue };
                if k.starts_with(':') || DROP.contains(&k.to_ascii_lowercase().as_str()) {
                    continue;
                }
                if step.headers.iter().any(|(h, _)| h.eq_ignore_ascii_case(k)) {
                    continue;
                }
                let v = if k.eq_ignore_ascii_case("cookie") {
                    match cookie_header(v, &set_cookies, &setters, &mut steps, &mut step.comments) {
                        Some(v) => v,
                        None => continue,
                    }
                } else {
                    v.to_string()
                };
                let v = substitute(&v, &mut known, &mut steps);
                if k.eq_ignore_ascii_case("cookie") && !v.contains("{{") {
                    step.comments.push("Cookie as recorded: it came from no response of this recording".into());
                }
                step.headers.push((k.to_string(), v));
            }
            if let Some(text) = req["postData"]["text"].as_str().filter(|t| !t.is_empty()) {
                step.body = Body::Text(substitute(text, &mut known, &mut steps));
            }
            steps.push(step);
            let idx = steps.len() - 1;
            learn(&e["response"], idx, &mut known);
            for c in response_cookies(&e["response"]) {
                setters.retain(|(n, _)| *n != c);
                setters.push((c.clone(), idx));
                if !set_cookies.contains(&c) {
                    set_cookies.push(c);
                }
            }
        }
        if !steps.is_empty() {
            p.items.push(Item::Flow(Flow { name: title, weight: 1, tags: Vec::new(), comments: Vec::new(), steps }));
        }
    }
    if p.items.is_empty() {
        return Err(UsageError(format!("{name}: no request to {origin}")));
    }
    p.unique_names();
    Ok((p, Vec::new()))
}

/// The names of the cookies a response set: its `cookies` list and its `Set-Cookie` headers.
fn response_cookies(resp: &Value) -> Vec<String> {
    let mut out: Vec<String> = resp["cookies"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect();
    for h in resp["headers"].as_array().map_or(&[][..], Vec::as_slice) {
        if h["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case("set-cookie")) {
            // one header per cookie; some exports join several with newlines
            for line in h["value"].as_str().unwrap_or("").lines() {
                if let Some((name, _)) = line.split(';').next().unwrap_or("").split_once('=') {
                    out.push(name.trim().to_string());
                }
            }
        }
    }
    out
}

/// The `Cookie` header to send for a recorded one (None: none, the user's jar sends them).
///
/// A pair no recorded response set is kept as recorded. A pair an earlier response set is the
/// jar's: alone, such pairs are left to the jar. Beside kept pairs (a header of its own stops
/// the jar's being sent, as in requests) each is written `name={{var}}`, captured from the jar
/// (`cookie:name`) at the step of this flow that set it, so the value is the one this user's
/// own response set, never the recorded one. A pair set on another page has no such step:
/// then the whole header is left to the jar and the recorded pairs are not sent (said so).
fn cookie_header(
    header: &str,
    set: &[String],
    setters: &[(String, usize)],
    steps: &mut [Step],
    comments: &mut Vec<String>,
) -> Option<String> {
    let pairs: Vec<(&str, &str)> = header
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| (p.split_once('=').map_or(p, |(n, _)| n).trim(), p))
        .collect();
    let from_jar = |n: &str| set.iter().any(|s| s == n);
    let kept: Vec<&str> = pairs.iter().filter(|(n, _)| !from_jar(n)).map(|(_, p)| *p).collect();
    let jar: Vec<&str> = pairs.iter().filter(|(n, _)| from_jar(n)).map(|(n, _)| *n).collect();
    let they = |n: usize, one: &'static str, many: &'static str| if n == 1 { one } else { many };
    if jar.is_empty() {
        return Some(kept.join("; "));
    }
    let at: Option<Vec<usize>> =
        jar.iter().map(|n| setters.iter().find(|(s, _)| s == n).map(|&(_, step)| step)).collect();
    let (false, Some(at)) = (kept.is_empty(), at) else {
        comments.push(format!(
            "Cookie {} left out: an earlier response set {}, the user's cookie jar sends {}",
            jar.join(", "),
            they(jar.len(), "it", "them"),
            they(jar.len(), "it", "them"),
        ));
        if !kept.is_empty() {
            comments.push(format!(
                "Cookie {} as recorded is not sent: a Cookie header of the step's own would keep the jar's from being sent",
                kept.join("; ")
            ));
        }
        return None;
    };
    let mut vars = Vec::new();
    for (name, &step) in jar.iter().zip(&at) {
        let source = format!("cookie:{name}");
        let s = steps.get_mut(step)?;
        let var = match s.capture.iter().find(|(_, src)| *src == source) {
            Some((v, _)) => v.clone(),
            None => {
                let mut v: String =
                    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
                if v.is_empty() || v.starts_with(|c: char| c.is_ascii_digit()) {
                    v.insert_str(0, "cookie_");
                }
                v = format!("{v}_{}", step + 1);
                while s.capture.iter().any(|(c, _)| *c == v) {
                    v.push_str("_cookie");
                }
                s.capture.push((v.clone(), source));
                v
            }
        };
        vars.push((*name, var));
    }
    comments.push(format!(
        "Cookie {} from this user's jar, as the earlier step's response set {} (captured there); {} as recorded",
        jar.join(", "),
        they(jar.len(), "it", "them"),
        kept.join("; "),
    ));
    let written: Vec<String> = pairs
        .iter()
        .map(|(n, p)| match vars.iter().find(|(v, _)| v == n) {
            Some((_, var)) => format!("{n}={{{{{var}}}}}"),
            None => (*p).to_string(),
        })
        .collect();
    Some(written.join("; "))
}

/// What a response returned that a later request may send back: JSON string values of at
/// least 8 characters (tokens, ids), `Location`.
fn learn(resp: &Value, step: usize, known: &mut Vec<Known>) {
    for h in resp["headers"].as_array().map_or(&[][..], Vec::as_slice) {
        if h["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case("location")) {
            if let Some(v) = h["value"].as_str().filter(|v| v.len() >= 8) {
                known.push(Known {
                    text: v.to_string(),
                    step,
                    source: "header:Location".into(),
                    var: "location".into(),
                });
            }
        }
    }
    let Some(text) = resp["content"]["text"].as_str() else { return };
    let Ok(body) = serde_json::from_str::<Value>(text) else { return };
    let mut found = Vec::new();
    walk(&body, String::new(), &mut found);
    for (ptr, v) in found {
        if !known.iter().any(|k| k.text == v) {
            let var = ptr.rsplit('/').next().unwrap_or("value").to_string();
            known.push(Known { text: v, step, source: ptr, var });
        }
    }
}

fn walk(v: &Value, ptr: String, out: &mut Vec<(String, String)>) {
    match v {
        Value::String(s) if s.len() >= 8 && !s.contains(char::is_whitespace) => out.push((ptr, s.clone())),
        Value::Object(o) => {
            o.iter().for_each(|(k, v)| walk(v, format!("{ptr}/{}", k.replace('~', "~0").replace('/', "~1")), out))
        }
        Value::Array(a) => a.iter().enumerate().take(20).for_each(|(i, v)| walk(v, format!("{ptr}/{i}"), out)),
        _ => {}
    }
}

/// `text` with each value an earlier response returned replaced by its capture variable
/// (the capture is added to that response's step the first time).
fn substitute(text: &str, known: &mut [Known], steps: &mut [Step]) -> String {
    let mut out = text.to_string();
    let mut order: Vec<usize> = (0..known.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(known[i].text.len()));
    for i in order {
        if !out.contains(&known[i].text) {
            continue;
        }
        let Some(step) = steps.get_mut(known[i].step) else { continue };
        if !step.capture.iter().any(|(_, s)| *s == known[i].source) {
            let mut var: String =
                known[i].var.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
            if var.is_empty() || var.starts_with(|c: char| c.is_ascii_digit()) {
                var.insert_str(0, "v_");
            }
            var = format!("{var}_{}", known[i].step + 1);
            known[i].var = var.clone();
            step.capture.push((var, known[i].source.clone()));
        }
        out = out.replace(&known[i].text, &format!("{{{{{}}}}}", known[i].var));
    }
    out
}

fn origin_of_first(entries: &[Value]) -> String {
    origin(entries.first().and_then(|e| e["request"]["url"].as_str()).unwrap_or(""))
}

fn origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    format!("{scheme}://{}", rest.split('/').next().unwrap_or(rest))
}

fn path_and_query(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let p = rest.find('/').map_or("/", |i| &rest[i..]);
    p.split('#').next().unwrap_or(p).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shop() -> Profile {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/import/cookies.har");
        let text = std::fs::read_to_string(path).expect("the test HAR file");
        let doc: Value = serde_json::from_str(&text).expect("JSON");
        let opts = Options { host: None, rate: None, users: 1, output: None };
        read("cookies.har", &doc, &opts).expect("a HAR").0
    }

    fn cookie(step: &Step) -> Option<&str> {
        step.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("cookie")).map(|(_, v)| v.as_str())
    }

    /// Cookie pairs an earlier response set (by `response.cookies` or a `Set-Cookie` header) are
    /// left to the cookie jar; pairs no response set are kept as recorded.
    #[test]
    fn cookies_set_by_earlier_responses_are_left_to_the_jar() {
        let p = shop();
        let [Item::Flow(f)] = p.items.as_slice() else { panic!("one flow: {:?}", p.items) };
        let steps = &f.steps;
        assert_eq!(steps.len(), 4);
        // nothing set consent=yes: kept, with the recorded-cookie comment
        assert_eq!(cookie(&steps[0]), Some("consent=yes"));
        assert!(steps[0].comments.iter().any(|c| c.contains("came from no response")));
        assert_eq!(cookie(&steps[1]), Some("consent=yes"));
        // session came from the login's response.cookies: beside consent (a header of the
        // step's own, so the jar's is not sent) it is the value this user's login set, taken
        // from the jar after the login, not the recorded one
        assert_eq!(cookie(&steps[2]), Some("consent=yes; session={{session_2}}"));
        assert_eq!(steps[1].capture, [("session_2".to_string(), "cookie:session".to_string())]);
        assert!(steps[2].comments.iter().any(|c| c.contains("Cookie session from this user's jar")));
        // both pairs set earlier (one by a Set-Cookie header only): the header goes
        assert_eq!(cookie(&steps[3]), None, "{:?}", steps[3].headers);
        assert!(steps[3].comments.iter().any(|c| c.contains("Cookie session, csrftoken left out")));
        assert!(steps[3].headers.iter().any(|(k, v)| k == "Content-Type" && v == "application/json"));
    }

    /// A cookie set on an earlier page has no step of its flow to capture it at: the header is
    /// left to the jar, and the recorded pairs that would have been kept are said not sent.
    #[test]
    fn a_cookie_set_on_another_page_is_left_to_the_jar() {
        let entry = |page: &str, path: &str, cookie: Option<&str>, sets: Option<&str>| {
            let req_headers =
                cookie.map_or(serde_json::json!([]), |c| serde_json::json!([{"name": "Cookie", "value": c}]));
            let resp_headers =
                sets.map_or(serde_json::json!([]), |c| serde_json::json!([{"name": "Set-Cookie", "value": c}]));
            serde_json::json!({"pageref": page,
                "request": {"method": "GET", "url": format!("http://127.0.0.1:8000{path}"), "headers": req_headers},
                "response": {"status": 200, "headers": resp_headers, "cookies": []}})
        };
        let doc = serde_json::json!({"log": {"pages": [{"id": "a", "title": "A"}, {"id": "b", "title": "B"}],
            "entries": [entry("a", "/login", None, Some("sid=recorded; Path=/")),
                        entry("b", "/me", Some("theme=dark; sid=recorded"), None)]}});
        let opts = Options { host: None, rate: None, users: 1, output: None };
        let p = read("pages.har", &doc, &opts).expect("a HAR").0;
        let [Item::Flow(_), Item::Flow(b)] = p.items.as_slice() else { panic!("two flows: {:?}", p.items) };
        assert_eq!(cookie(&b.steps[0]), None, "{:?}", b.steps[0].headers);
        assert!(b.steps[0].comments.iter().any(|c| c.contains("Cookie sid left out")));
        assert!(b.steps[0].comments.iter().any(|c| c.contains("theme=dark as recorded is not sent")));
    }
}
