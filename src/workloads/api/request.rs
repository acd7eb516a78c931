//! Preformatted request bytes: a fixed head, then a body rendered per request.
//!
//! Everything that does not change between requests (request line, Host, headers) is encoded
//! once. Per request only the body's variable parts and the Content-Length digits are written,
//! into a buffer the connection reuses.

use std::fmt;

/// A part of a body template.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(Vec<u8>),
    /// `{{seq}}`: the request's global sequence number.
    Seq,
    /// `{{ts}}`: send time, microseconds since the Unix epoch.
    Ts,
    /// `{{core}}`: the worker core that sends the request.
    Core,
    /// `{{conn}}`: the connection number within its core.
    Conn,
}

/// The placeholders a body template may use.
pub const PLACEHOLDERS: &str = "{{seq}}, {{ts}}, {{core}}, {{conn}}";

/// Default body: a chat message in its connection's conversation, with sequence number and
/// send timestamp so the target (or a later pipeline) can correlate and time it.
pub const DEFAULT_TEMPLATE: &str = r#"{"conversation_id":"conv-{{core}}-{{conn}}","sender_id":"blast","content":"load test message {{seq}}","seq":{{seq}},"sent_at_us":{{ts}}}"#;

#[derive(Debug, PartialEq, Eq)]
pub struct TemplateError(pub String);

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A body with placeholders, parsed once.
#[derive(Clone, Debug)]
pub struct BodyTemplate {
    pieces: Vec<Piece>,
}

impl BodyTemplate {
    /// Parses `{{name}}` placeholders; anything else is literal text.
    pub fn parse(template: &str) -> Result<Self, TemplateError> {
        let mut pieces = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find("{{") {
            let Some(close) = rest[open..].find("}}") else {
                return Err(TemplateError(format!(
                    "unclosed '{{{{' in body template at byte {}",
                    template.len() - rest.len() + open
                )));
            };
            if open > 0 {
                pieces.push(Piece::Text(rest.as_bytes()[..open].to_vec()));
            }
            let name = rest[open + 2..open + close].trim();
            pieces.push(match name {
                "seq" => Piece::Seq,
                "ts" => Piece::Ts,
                "core" => Piece::Core,
                "conn" => Piece::Conn,
                other => {
                    return Err(TemplateError(format!(
                        "unknown placeholder '{{{{{other}}}}}' in body template (known: {PLACEHOLDERS})"
                    )))
                }
            });
            rest = &rest[open + close + 2..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.as_bytes().to_vec()));
        }
        Ok(BodyTemplate { pieces })
    }

    /// A body that never changes (from `--body FILE`).
    pub fn fixed(body: Vec<u8>) -> Self {
        BodyTemplate { pieces: vec![Piece::Text(body)] }
    }

    pub fn render(&self, v: &Vars, out: &mut Vec<u8>) {
        let mut num = itoa::Buffer::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.extend_from_slice(t),
                Piece::Seq => out.extend_from_slice(num.format(v.seq).as_bytes()),
                Piece::Ts => out.extend_from_slice(num.format(v.ts_us).as_bytes()),
                Piece::Core => out.extend_from_slice(num.format(v.core).as_bytes()),
                Piece::Conn => out.extend_from_slice(num.format(v.conn).as_bytes()),
            }
        }
    }
}

/// Values substituted into a body.
#[derive(Clone, Copy, Debug, Default)]
pub struct Vars {
    pub seq: u64,
    pub ts_us: u64,
    pub core: usize,
    pub conn: usize,
}

/// Request line and headers, encoded once.
#[derive(Clone, Debug)]
pub struct RequestTemplate {
    /// Everything up to and including "Content-Length: ".
    head: Vec<u8>,
    body: BodyTemplate,
}

impl RequestTemplate {
    /// `headers` are `(name, value)` pairs already validated by the caller.
    pub fn new(method: &str, path: &str, host: &str, headers: &[(String, String)], body: BodyTemplate) -> Self {
        let mut head = Vec::with_capacity(256);
        head.extend_from_slice(format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n").as_bytes());
        let has = |n: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
        if !has("content-type") {
            head.extend_from_slice(b"Content-Type: application/json\r\n");
        }
        if !has("user-agent") {
            head.extend_from_slice(concat!("User-Agent: blast/", env!("CARGO_PKG_VERSION"), "\r\n").as_bytes());
        }
        for (k, v) in headers {
            head.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
        head.extend_from_slice(b"Content-Length: ");
        RequestTemplate { head, body }
    }

    /// Writes one complete request into `out` (cleared first); `scratch` holds the body.
    pub fn encode(&self, v: &Vars, scratch: &mut Vec<u8>, out: &mut Vec<u8>) {
        scratch.clear();
        self.body.render(v, scratch);
        out.clear();
        out.extend_from_slice(&self.head);
        out.extend_from_slice(itoa::Buffer::new().format(scratch.len()).as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(scratch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_placeholders() {
        let t = BodyTemplate::parse(r#"{"s":{{seq}},"t":{{ ts }},"c":"{{core}}-{{conn}}"}"#).expect("valid");
        let mut out = Vec::new();
        t.render(&Vars { seq: 7, ts_us: 99, core: 1, conn: 3 }, &mut out);
        assert_eq!(out, br#"{"s":7,"t":99,"c":"1-3"}"#);
    }

    #[test]
    fn rejects_unknown_and_unclosed_placeholders() {
        assert!(BodyTemplate::parse("{{nope}}").unwrap_err().0.contains("unknown placeholder '{{nope}}'"));
        assert!(BodyTemplate::parse("abc {{seq").unwrap_err().0.contains("unclosed"));
    }

    #[test]
    fn default_template_renders_valid_json() {
        let t = BodyTemplate::parse(DEFAULT_TEMPLATE).expect("valid");
        let mut out = Vec::new();
        t.render(&Vars { seq: 12, ts_us: 1_700_000_000_000_000, core: 0, conn: 5 }, &mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(v["seq"], 12);
        assert_eq!(v["conversation_id"], "conv-0-5");
    }

    #[test]
    fn request_has_exact_content_length() {
        let t = RequestTemplate::new(
            "POST",
            "/v1/messages",
            "127.0.0.1:8000",
            &[("Authorization".into(), "Bearer x".into())],
            BodyTemplate::parse("{{seq}}").expect("valid"),
        );
        let (mut scratch, mut out) = (Vec::new(), Vec::new());
        t.encode(&Vars { seq: 12345, ..Vars::default() }, &mut scratch, &mut out);
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut req = httparse::Request::new(&mut headers);
        let n = match req.parse(&out) {
            Ok(httparse::Status::Complete(n)) => n,
            other => panic!("not a complete request: {other:?}"),
        };
        assert_eq!(req.method, Some("POST"));
        let cl = req.headers.iter().find(|h| h.name == "Content-Length").expect("content-length");
        assert_eq!(cl.value, b"5");
        assert_eq!(&out[n..], b"12345");
        assert!(req.headers.iter().any(|h| h.name == "Authorization"));
    }
}
