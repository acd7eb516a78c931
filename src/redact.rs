//! Secrets never reach an output: every text blast prints or writes (terminal summary, JSON,
//! CSV, HTML, hdr log, progress, error lines) passes through `text`, which masks
//!
//! - the values registered with `secret` (a `--token`, the lines of a `--tokens` file, a
//!   credential header's value, an S3 secret key) wherever they appear;
//! - the value of a sensitive query parameter (`token`, `access_token`, `api_key`, `key`,
//!   `password`, `X-Amz-Signature`, ... see `SENSITIVE_PARAMS`) in any URL;
//! - what follows `Bearer ` or `Basic ` (an `Authorization` value).
//!
//! Masked values read `[redacted]`, which needs no escaping in JSON, CSV, HTML or a URL.

use std::borrow::Cow;
use std::sync::RwLock;

/// What a masked value is replaced with.
pub const MASK: &str = "[redacted]";

/// Query parameters whose values are credentials (compared case-insensitively).
pub const SENSITIVE_PARAMS: &[&str] = &[
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "auth",
    "auth_token",
    "api_key",
    "apikey",
    "api-key",
    "key",
    "secret",
    "client_secret",
    "password",
    "passwd",
    "pwd",
    "jwt",
    "session",
    "sessionid",
    "signature",
    "sig",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
];

/// Header names whose values are credentials (compared case-insensitively).
pub const SENSITIVE_HEADERS: &[&str] =
    &["authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key", "x-auth-token"];

/// Registered secrets, longest first (so a secret containing another is masked whole).
static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Shortest value registered as a secret: shorter ones would mask ordinary text.
const MIN_SECRET: usize = 6;

/// Registers `value` as a secret: it is masked wherever it appears in an output.
pub fn secret(value: &str) {
    let value = value.trim();
    if value.len() < MIN_SECRET {
        return;
    }
    let mut s = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    if !s.iter().any(|x| x == value) {
        s.push(value.to_string());
        s.sort_by_key(|x| std::cmp::Reverse(x.len()));
    }
}

/// Registers the value of a `Name: value` header when the name is a credential's.
pub fn header(line: &str) {
    if let Some((name, value)) = line.split_once(':') {
        if is_sensitive_header(name) {
            secret(value);
            // `Bearer abc`: the token alone may also appear (in a query, a message).
            if let Some((_, token)) = value.trim().split_once(' ') {
                secret(token);
            }
        }
    }
}

/// Registers the secrets on a command line: the values of `--token`, `--secret-key` and
/// `--access-key`, and of credential headers given with `--header`, `-H` or `--probe-header`;
/// and the S3 secret key from the environment.
pub fn from_args(args: &[String]) {
    const VALUE_FLAGS: &[&str] = &["--token", "--secret-key"];
    const HEADER_FLAGS: &[&str] = &["--header", "-H", "--probe-header"];
    let mut it = args.iter().peekable();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let is_value = VALUE_FLAGS.contains(&flag);
        let is_header = HEADER_FLAGS.contains(&flag);
        if !is_value && !is_header {
            continue;
        }
        let Some(value) = inline.or_else(|| it.peek().map(|v| v.to_string())) else { continue };
        if is_value {
            secret(&value);
        } else {
            header(&value);
        }
    }
    if let Ok(key) = std::env::var("AWS_SECRET_ACCESS_KEY") {
        secret(&key);
    }
}

pub fn is_sensitive_header(name: &str) -> bool {
    SENSITIVE_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name.trim()))
}

/// `text` with every secret masked.
pub fn text(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    {
        let secrets = SECRETS.read().unwrap_or_else(|e| e.into_inner());
        for s in secrets.iter() {
            if out.contains(s.as_str()) {
                out = Cow::Owned(out.replace(s.as_str(), MASK));
            }
        }
    }
    if let Some(masked) = mask_params(&out) {
        out = Cow::Owned(masked);
    }
    if let Some(masked) = mask_schemes(&out) {
        out = Cow::Owned(masked);
    }
    out
}

/// Masks a file in place (an output another module wrote); a missing file is left alone.
pub fn file(path: &std::path::Path) -> std::io::Result<()> {
    let Ok(content) = std::fs::read_to_string(path) else { return Ok(()) };
    if let Cow::Owned(masked) = text(&content) {
        std::fs::write(path, masked)?;
    }
    Ok(())
}

/// Ends a query parameter's value.
fn ends_value(c: char) -> bool {
    matches!(c, '&' | '#' | '"' | '\'' | '<' | '>' | ' ' | '\t' | '\r' | '\n' | '\\' | ',' | ';' | ')' | ']' | '}')
}

/// Copies `text` with chosen values replaced by `MASK`: the one loop both maskers share.
struct Masking<'a> {
    text: &'a str,
    out: String,
    /// Bytes of `text` already copied to `out`.
    done: usize,
}

impl<'a> Masking<'a> {
    fn new(text: &'a str) -> Self {
        Masking { text, out: String::new(), done: 0 }
    }

    /// Masks the value that starts at byte `start` and runs to `ends_value` (or the end); an
    /// empty or already masked value is left. Returns where the value ends.
    fn value_at(&mut self, start: usize) -> usize {
        let text = self.text;
        let len = text[start..].find(ends_value).unwrap_or(text.len() - start);
        if len > 0 && &text[start..start + len] != MASK {
            self.out.push_str(&text[self.done..start]);
            self.out.push_str(MASK);
            self.done = start + len;
        }
        start + len
    }

    /// The masked text; `None` when nothing was masked.
    fn finish(mut self) -> Option<String> {
        (self.done > 0).then(|| {
            self.out.push_str(&self.text[self.done..]);
            self.out
        })
    }
}

/// Masks `?name=value` / `&name=value` for sensitive names; `None` when nothing was masked.
fn mask_params(text: &str) -> Option<String> {
    let mut m = Masking::new(text);
    for (i, &b) in text.as_bytes().iter().enumerate() {
        if (b != b'?' && b != b'&') || i < m.done {
            continue;
        }
        let rest = &text[i + 1..];
        let Some(eq) = rest.find('=') else { continue };
        let name = &rest[..eq];
        if name.is_empty() || name.len() > 40 || name.contains(ends_value) {
            continue;
        }
        let name = name.strip_prefix("amp;").unwrap_or(name); // `&amp;` in HTML
        if SENSITIVE_PARAMS.iter().any(|p| p.eq_ignore_ascii_case(name)) {
            m.value_at(i + 1 + eq + 1);
        }
    }
    m.finish()
}

/// Masks the credential after `Bearer ` or `Basic `; `None` when there was none.
fn mask_schemes(text: &str) -> Option<String> {
    let once = mask_after(text, "bearer ");
    let t = once.as_deref().unwrap_or(text);
    mask_after(t, "basic ").or(once)
}

/// Masks the word after each (case-insensitive) `prefix`.
fn mask_after(text: &str, prefix: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let mut m = Masking::new(text);
    let mut from = 0;
    while let Some(at) = lower[from..].find(prefix) {
        from = m.value_at(from + at + prefix.len());
    }
    m.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_masked_by_name() {
        let t = text("ws://h:1/ws?room=a&token=abc.def&x=1 and /p?X-Amz-Signature=ff00&api_key=k\"");
        assert_eq!(t, "ws://h:1/ws?room=a&token=[redacted]&x=1 and /p?X-Amz-Signature=[redacted]&api_key=[redacted]\"");
        assert_eq!(text("/a?monkey=1&keys=2"), "/a?monkey=1&keys=2");
    }

    #[test]
    fn bearer_values_and_registered_secrets_are_masked() {
        assert_eq!(text("Authorization: Bearer eyJ.x.y, next"), "Authorization: Bearer [redacted], next");
        secret("s3cr3t-value-in-a-file");
        assert_eq!(
            text("got s3cr3t-value-in-a-file twice: s3cr3t-value-in-a-file"),
            "got [redacted] twice: [redacted]"
        );
        header("X-Api-Key: k-123456");
        assert_eq!(text("{\"k\":\"k-123456\"}"), "{\"k\":\"[redacted]\"}");
        assert!(matches!(text("nothing here"), Cow::Borrowed(_)));
    }
}
