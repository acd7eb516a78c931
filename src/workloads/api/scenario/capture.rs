//! Captures: a value of a step's response that later steps use as `{{name}}`.
//!
//! `"/access_token"` is a JSON pointer (RFC 6901) into the response body; `"header:Location"`
//! takes a response header; `"cookie:sid"` the user's cookie (from its jar, once the response's
//! `Set-Cookie` headers are in it). A string is captured without its quotes, a number or a boolean as
//! written; an object or an array as its JSON text.

/// Where a captured value comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A JSON pointer into the body.
    Pointer(String),
    /// A response header, lower-cased.
    Header(String),
    /// A cookie of the user's jar, by name (read by the runner, not by `extract`).
    Cookie(String),
}

impl Source {
    /// Parses `/a/b` (JSON pointer), `header:Name` or `cookie:name`.
    pub fn parse(spec: &str) -> Result<Source, String> {
        if let Some(name) = spec.strip_prefix("cookie:") {
            let name = name.trim();
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && !b"=;,\"".contains(&b)) {
                return Err(format!("'{spec}': expected cookie:name"));
            }
            return Ok(Source::Cookie(name.to_string()));
        }
        if let Some(name) = spec.strip_prefix("header:") {
            let name = name.trim();
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)) {
                return Err(format!("'{spec}': expected header:Name"));
            }
            return Ok(Source::Header(name.to_ascii_lowercase()));
        }
        if !(spec.is_empty() || spec.starts_with('/')) {
            return Err(format!(
                "'{spec}' is not a JSON pointer (it starts with '/', e.g. \"/access_token\"), header:Name nor cookie:name"
            ));
        }
        // RFC 6901: '~' must be followed by 0 or 1.
        let mut chars = spec.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
                return Err(format!("'{spec}' is not a valid JSON pointer ('~' must be followed by 0 or 1)"));
            }
        }
        Ok(Source::Pointer(spec.to_string()))
    }

    pub fn needs_body(&self) -> bool {
        matches!(self, Source::Pointer(_))
    }
}

/// One capture of a step.
#[derive(Clone, Debug)]
pub struct Capture {
    /// The variable's slot.
    pub slot: usize,
    pub source: Source,
    /// Kept per virtual user across iterations (`scope = "user"`), not per iteration.
    pub per_user: bool,
}

/// The value `source` names in a response, written into `out` (cleared first). False when the
/// response has no such value.
pub fn extract(
    source: &Source,
    body: Option<&serde_json::Value>,
    headers: &[(String, Vec<u8>)],
    out: &mut Vec<u8>,
) -> bool {
    out.clear();
    match source {
        Source::Header(name) => match headers.iter().find(|(n, _)| n == name) {
            Some((_, v)) => {
                out.extend_from_slice(v);
                true
            }
            None => false,
        },
        Source::Cookie(_) => false,
        Source::Pointer(p) => match body.and_then(|b| b.pointer(p)) {
            None | Some(serde_json::Value::Null) => false,
            Some(serde_json::Value::String(s)) => {
                out.extend_from_slice(s.as_bytes());
                true
            }
            Some(v) => {
                out.extend_from_slice(v.to_string().as_bytes());
                true
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_and_headers() {
        let body: serde_json::Value = serde_json::json!({"access_token": "abc", "n": 5, "deep": {"id": [7]}});
        let headers = vec![("location".to_string(), b"/v1/files/9".to_vec())];
        let mut out = Vec::new();
        let get =
            |spec: &str, out: &mut Vec<u8>| extract(&Source::parse(spec).expect(spec), Some(&body), &headers, out);
        assert!(get("/access_token", &mut out));
        assert_eq!(out, b"abc");
        assert!(get("/n", &mut out));
        assert_eq!(out, b"5");
        assert!(get("/deep/id/0", &mut out));
        assert_eq!(out, b"7");
        assert!(get("header:Location", &mut out));
        assert_eq!(out, b"/v1/files/9");
        assert!(!get("/missing", &mut out));
        assert!(!get("header:etag", &mut out));
    }

    #[test]
    fn malformed_specs_are_refused() {
        assert!(Source::parse("access_token").is_err());
        assert!(Source::parse("/a~2").is_err());
        assert!(Source::parse("header:").is_err());
        assert!(Source::parse("cookie:").is_err());
        assert_eq!(Source::parse("cookie:sid"), Ok(Source::Cookie("sid".to_string())));
        assert!(Source::parse("/a~1b").is_ok());
    }
}
