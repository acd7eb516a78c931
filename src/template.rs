//! Request templates: `{{...}}` placeholders parsed once, rendered per request into a reused
//! buffer without allocating.
//!
//! Used for scenario paths, headers and bodies and for `--body-template`. A template is parsed
//! against a `Scope` that says which user columns and captured variables exist, so a typo is a
//! parse error (exit 2 before any request), never a literal `{{...}}` on the wire.
//!
//! | placeholder | value |
//! |---|---|
//! | `{{seq}}` | the arrival's global sequence number |
//! | `{{i}}` | a repeated step's index (0-based) |
//! | `{{core}}`, `{{conn}}` | the worker core, the connection within it |
//! | `{{ts}}`, `{{now_us}}` | send time, µs since the Unix epoch |
//! | `{{now_ms}}` | send time, ms since the Unix epoch |
//! | `{{now_s}}` | send time, whole seconds since the Unix epoch (Python's `int(time.time())`) |
//! | `{{now_s_round}}`, `{{now_ms_round}}`, `{{now_us_round}}` | send time rounded to the nearest second, ms, µs (Python's `round(time.time())`, `round(time.time() * 1000)`, ...; a tie to the even one) |
//! | `{{uuid}}` | a random UUID (v4) |
//! | `{{random_int A B}}` | a uniform integer in A..=B |
//! | `{{random_text N}}` | N random characters from `[A-Za-z0-9 -]` (JSON-safe) |
//! | `{{pick a,b,c}}` | one of the listed values |
//! | `{{user.COLUMN}}` | the virtual user's value in the users file |
//! | `{{NAME}}` | a variable captured by an earlier step |
//! | `{{offset}}`, `{{len}}`, `{{chunks}}` | a `split` step's chunk: its offset and length, the number of chunks |
//! | `{{sent_bytes}}`, `{{sent_sha256}}` | the chunk bytes this iteration has sent: count, SHA-256 (hex) |
//!
//! In a `json = { ... }` body every string value is a template whose text and placeholder
//! values are JSON-escaped (`Template::json_escaped`); a string that is exactly one placeholder
//! written `{{=NAME}}` is written as a JSON number instead (`Template::json_number`).

use crate::engine::rng::SplitMix64;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// The placeholders a template may use (for error messages).
pub const PLACEHOLDERS: &str = "{{seq}}, {{i}}, {{core}}, {{conn}}, {{ts}}, {{now_s}}, {{now_ms}}, {{now_us}}, {{now_s_round}}, {{now_ms_round}}, {{now_us_round}}, {{uuid}}, \
{{offset}}, {{len}}, {{chunks}}, {{sent_bytes}}, {{sent_sha256}}, {{random_int A B}}, {{random_text N}}, {{pick a,b,c}}, {{user.COLUMN}}, captured variables";

/// Characters of `{{random_text N}}`: 64 of them, so one random bit sextet picks one; none
/// needs escaping in JSON, a URL path or a header.
const TEXT_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 -";

/// Longest `{{random_text N}}`.
const MAX_TEXT: usize = 1 << 20;

/// Whether `b` may be part of a URL path in a request line: not a space (it would end the
/// path) and no control character (CR, LF, ... would break the request).
pub fn path_byte(b: u8) -> bool {
    b > b' ' && b != 0x7f
}

/// Why a template was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError(pub String);

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A part of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(Box<[u8]>),
    Seq,
    Index,
    Core,
    Conn,
    NowUs,
    NowMs,
    NowS,
    /// The send time rounded to the nearest multiple of this many nanoseconds.
    NowRound(u64),
    Uuid,
    RandomInt {
        lo: i64,
        span: u64,
    },
    RandomText(usize),
    Pick(Box<[Box<[u8]>]>),
    /// Column of the users file.
    User(usize),
    /// Captured variable, by slot.
    Var(usize),
    /// A split step's chunk: its offset, length, and the number of chunks.
    Offset,
    Len,
    Chunks,
    /// The chunk bytes this iteration has sent so far: their count and SHA-256 (hex).
    SentBytes,
    SentSha256,
    /// The inner placeholder, JSON-escaped (a string value of a `json = { ... }` body).
    Escaped(Box<Piece>),
    /// The inner placeholder as the inside of a quoted header parameter (`quoted_escaped`).
    Quoted(Box<Piece>),
    /// The inner placeholder as a JSON number (`"{{=...}}"` in a `json` body); a value that is
    /// not a JSON number is sent as a JSON string instead, so the body stays valid JSON.
    Number(Box<Piece>),
}

/// What names a template may refer to.
#[derive(Clone, Copy, Debug, Default)]
pub struct Scope<'a> {
    /// Columns of the users file (`{{user.<column>}}`); `None` when there is no users file.
    pub user_columns: Option<&'a [String]>,
    /// Variables captured before this template is rendered, by slot.
    pub vars: &'a [String],
}

/// Values a template is rendered with.
pub struct Values<'a> {
    pub seq: u64,
    /// A repeated step's index.
    pub index: u64,
    pub core: usize,
    pub conn: usize,
    /// The virtual user's row (by column).
    pub user: &'a [Box<[u8]>],
    /// Captured variables by slot (empty when not captured).
    pub vars: &'a [Vec<u8>],
    pub rng: &'a mut SplitMix64,
    /// A split step's chunk and what the iteration has sent of its chunks.
    pub split: SplitValues<'a>,
}

/// The values of `{{offset}}`, `{{len}}`, `{{chunks}}`, `{{sent_bytes}}` and
/// `{{sent_sha256}}`: zero (and the SHA-256 of nothing) outside a split iteration.
#[derive(Clone, Copy, Debug, Default)]
pub struct SplitValues<'a> {
    pub offset: u64,
    pub len: u64,
    pub chunks: u64,
    pub sent_bytes: u64,
    /// Lower-case hex; empty means nothing was sent.
    pub sent_sha256: &'a [u8],
}

/// SHA-256 of no bytes, what `{{sent_sha256}}` is before any chunk was sent.
const EMPTY_SHA256: &[u8] = b"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// A template, parsed once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Parses `text`; every placeholder must be known in `scope`.
    pub fn parse(text: &str, scope: Scope<'_>) -> Result<Self, TemplateError> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            let Some(close) = rest[open..].find("}}") else {
                let at = text.len() - rest.len() + open;
                return Err(TemplateError(format!("unclosed '{{{{' at byte {at}")));
            };
            if open > 0 {
                pieces.push(Piece::Text(rest.as_bytes()[..open].into()));
            }
            pieces.push(placeholder(rest[open + 2..open + close].trim(), scope)?);
            rest = &rest[open + close + 2..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.as_bytes().into()));
        }
        Ok(Template { pieces })
    }

    /// A template that is only this text.
    pub fn literal(bytes: Vec<u8>) -> Self {
        Template { pieces: if bytes.is_empty() { Vec::new() } else { vec![Piece::Text(bytes.into())] } }
    }

    /// The templates one after another (adjacent text merged, so a template without
    /// placeholders renders as one copy).
    pub fn concat(parts: Vec<Template>) -> Self {
        let mut pieces: Vec<Piece> = Vec::new();
        for piece in parts.into_iter().flat_map(|t| t.pieces) {
            match (pieces.last_mut(), piece) {
                (Some(Piece::Text(a)), Piece::Text(b)) => *a = [&a[..], &b[..]].concat().into(),
                (_, p) => pieces.push(p),
            }
        }
        Template { pieces }
    }

    /// The text, when the template has no placeholder.
    pub fn as_literal(&self) -> Option<&[u8]> {
        match self.pieces.as_slice() {
            [] => Some(b""),
            [Piece::Text(t)] => Some(t),
            _ => None,
        }
    }

    /// Variable slots the template reads.
    pub fn vars_used(&self) -> impl Iterator<Item = usize> + '_ {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Var(s) => Some(*s),
            _ => None,
        })
    }

    /// Whether `{{sent_sha256}}` is used (the chunks sent must then be hashed).
    pub fn uses_sent_sha256(&self) -> bool {
        self.pieces.iter().any(|p| {
            matches!(p, Piece::SentSha256)
                || matches!(p, Piece::Escaped(i) | Piece::Number(i) | Piece::Quoted(i) if matches!(**i, Piece::SentSha256))
        })
    }

    /// Checks, before the run, what this template renders into a URL path: its text, `{{pick}}`
    /// choices, `{{random_text N}}` (it renders spaces) and `{{user.COLUMN}}` values in
    /// `users` (rows by column) must hold no space and no control character (`path_byte`).
    /// Captured variables are known only per request: `Ok(true)` when there is one, so the
    /// rendered path must be checked before each request.
    pub fn check_path(&self, users: &[Vec<Box<[u8]>>]) -> Result<bool, TemplateError> {
        let bad = |v: &[u8]| !v.iter().all(|&b| path_byte(b));
        let show = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
        let mut per_request = false;
        for p in &self.pieces {
            match p {
                Piece::Text(t) if bad(t) => {
                    return Err(TemplateError(format!("'{}' has a space or a control character", show(t))));
                }
                Piece::RandomText(_) => {
                    return Err(TemplateError(
                        "{{random_text N}} renders spaces, which a path cannot hold: use {{uuid}} or {{random_int A B}}"
                            .into(),
                    ));
                }
                Piece::Pick(choices) => {
                    if let Some(c) = choices.iter().find(|c| bad(c)) {
                        return Err(TemplateError(format!(
                            "{{{{pick}}}} choice '{}' has a space or a control character, which a path cannot hold",
                            show(c)
                        )));
                    }
                }
                Piece::User(col) => {
                    let hit = users.iter().enumerate().find(|(_, row)| row.get(*col).is_some_and(|v| bad(v)));
                    if let Some((i, row)) = hit {
                        return Err(TemplateError(format!(
                            "user {} of the users file has '{}' in the column this path uses: a space or a control character, which a path cannot hold",
                            i + 1,
                            show(&row[*col])
                        )));
                    }
                }
                Piece::Var(_) => per_request = true,
                _ => {}
            }
        }
        Ok(per_request)
    }

    /// Appends the rendered template to `out`.
    pub fn render(&self, v: &mut Values<'_>, out: &mut Vec<u8>) {
        self.render_at(v, None, out);
    }

    /// `render` with the send time `now` (ns since the Unix epoch), read from the clock on
    /// first use when `None`.
    fn render_at(&self, v: &mut Values<'_>, mut now: Option<u64>, out: &mut Vec<u8>) {
        for p in &self.pieces {
            render_piece(p, v, &mut now, out);
        }
    }

    /// This template as the inside of a JSON string: its text escaped now, every placeholder's
    /// value escaped when rendered (a `"` or `\` in a users file stays valid JSON).
    pub fn json_escaped(self) -> Template {
        self.escaped_with(json_escape, Piece::Escaped)
    }

    /// This template as the inside of a quoted header parameter (a multipart part's
    /// `filename="..."`): its text escaped now, every placeholder's value when rendered
    /// (`quote_escape`).
    pub fn quoted_escaped(self) -> Template {
        self.escaped_with(quote_escape, Piece::Quoted)
    }

    /// The text pieces escaped by `escape` now, every other piece wrapped by `wrap` (which
    /// escapes its value the same way when rendered).
    fn escaped_with(self, escape: fn(&[u8], &mut Vec<u8>), wrap: fn(Box<Piece>) -> Piece) -> Template {
        let pieces = self
            .pieces
            .into_iter()
            .map(|p| match p {
                Piece::Text(t) => {
                    let mut e = Vec::with_capacity(t.len());
                    escape(&t, &mut e);
                    Piece::Text(e.into())
                }
                p => wrap(Box::new(p)),
            })
            .collect();
        Template { pieces }
    }

    /// A template that is exactly one placeholder, rendered as a JSON number (a string value
    /// that renders as something else is written as a JSON string). `None` when the template
    /// is not one placeholder.
    pub fn json_number(self) -> Option<Template> {
        match <[Piece; 1]>::try_from(self.pieces) {
            Ok([p]) if !matches!(p, Piece::Text(_)) => Some(Template { pieces: vec![Piece::Number(Box::new(p))] }),
            _ => None,
        }
    }
}

/// Appends one piece; `now` caches the send time (ns since the Unix epoch) so that every clock
/// placeholder of a request shows the same instant.
fn render_piece(p: &Piece, v: &mut Values<'_>, now: &mut Option<u64>, out: &mut Vec<u8>) {
    let mut num = itoa::Buffer::new();
    let mut now_ns =
        || *now.get_or_insert_with(|| SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64));
    match p {
        Piece::Text(t) => out.extend_from_slice(t),
        Piece::Seq => out.extend_from_slice(num.format(v.seq).as_bytes()),
        Piece::Index => out.extend_from_slice(num.format(v.index).as_bytes()),
        Piece::Core => out.extend_from_slice(num.format(v.core).as_bytes()),
        Piece::Conn => out.extend_from_slice(num.format(v.conn).as_bytes()),
        Piece::NowUs => out.extend_from_slice(num.format(now_ns() / 1000).as_bytes()),
        Piece::NowMs => out.extend_from_slice(num.format(now_ns() / 1_000_000).as_bytes()),
        Piece::NowS => out.extend_from_slice(num.format(now_ns() / 1_000_000_000).as_bytes()),
        Piece::NowRound(unit) => out.extend_from_slice(num.format(round_half_even(now_ns(), *unit)).as_bytes()),
        Piece::Uuid => uuid(v.rng, out),
        Piece::RandomInt { lo, span } => {
            let off = if *span == u64::MAX { v.rng.next_u64() } else { v.rng.next_u64() % (span + 1) };
            out.extend_from_slice(num.format(lo.wrapping_add(off as i64)).as_bytes());
        }
        Piece::RandomText(n) => random_text(v.rng, *n, out),
        Piece::Pick(choices) => {
            let i = (v.rng.next_u64() % choices.len() as u64) as usize;
            out.extend_from_slice(&choices[i]);
        }
        Piece::User(col) => out.extend_from_slice(v.user.get(*col).map_or(&[][..], |c| c)),
        Piece::Var(slot) => out.extend_from_slice(v.vars.get(*slot).map_or(&[][..], |c| c)),
        Piece::Offset => out.extend_from_slice(num.format(v.split.offset).as_bytes()),
        Piece::Len => out.extend_from_slice(num.format(v.split.len).as_bytes()),
        Piece::Chunks => out.extend_from_slice(num.format(v.split.chunks).as_bytes()),
        Piece::SentBytes => out.extend_from_slice(num.format(v.split.sent_bytes).as_bytes()),
        Piece::SentSha256 => {
            out.extend_from_slice(if v.split.sent_sha256.is_empty() { EMPTY_SHA256 } else { v.split.sent_sha256 })
        }
        Piece::Escaped(inner) => {
            let start = out.len();
            render_piece(inner, v, now, out);
            if out[start..].iter().any(|&b| needs_escape(b)) {
                let raw = out.split_off(start);
                json_escape(&raw, out);
            }
        }
        Piece::Quoted(inner) => {
            let start = out.len();
            render_piece(inner, v, now, out);
            if out[start..].iter().any(|&b| matches!(b, b'"' | b'\\' | b'\r' | b'\n')) {
                let raw = out.split_off(start);
                quote_escape(&raw, out);
            }
        }
        Piece::Number(inner) => {
            let start = out.len();
            render_piece(inner, v, now, out);
            if serde_json::from_slice::<serde_json::Number>(&out[start..]).is_err() {
                let raw = out.split_off(start);
                out.push(b'"');
                json_escape(&raw, out);
                out.push(b'"');
            }
        }
    }
}

/// Appends `raw` as the inside of a quoted header parameter (RFC 7578 section 4.2, a
/// multipart part's `filename`): `"` and `\` as quoted pairs (`\"`, `\\`), which multipart
/// parsers (python-multipart, Go's mime) decode back; CR and LF percent-encoded as
/// browsers send them (`%0D`, `%0A`: a raw line break would end the header); other bytes, UTF-8
/// included, as they are (RFC 7578 section 5.1.3).
pub fn quote_escape(raw: &[u8], out: &mut Vec<u8>) {
    for &b in raw {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\r' => out.extend_from_slice(b"%0D"),
            b'\n' => out.extend_from_slice(b"%0A"),
            b => out.push(b),
        }
    }
}

/// A byte JSON does not allow as is inside a string.
fn needs_escape(b: u8) -> bool {
    b == b'"' || b == b'\\' || b < 0x20
}

/// Appends `raw` escaped for the inside of a JSON string (RFC 8259 section 7).
pub fn json_escape(raw: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in raw {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b if b < 0x20 => {
                out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]])
            }
            b => out.push(b),
        }
    }
}

fn placeholder(name: &str, scope: Scope<'_>) -> Result<Piece, TemplateError> {
    let (func, args) = match name.split_once(char::is_whitespace) {
        Some((f, a)) => (f, a.trim()),
        None => (name, ""),
    };
    let no_args = |p: Piece| {
        if args.is_empty() {
            Ok(p)
        } else {
            Err(TemplateError(format!("'{{{{{func}}}}}' takes no arguments")))
        }
    };
    match func {
        "seq" => no_args(Piece::Seq),
        "i" => no_args(Piece::Index),
        "core" => no_args(Piece::Core),
        "conn" => no_args(Piece::Conn),
        "ts" | "now_us" => no_args(Piece::NowUs),
        "now_ms" => no_args(Piece::NowMs),
        "now_s" => no_args(Piece::NowS),
        "now_s_round" => no_args(Piece::NowRound(1_000_000_000)),
        "now_ms_round" => no_args(Piece::NowRound(1_000_000)),
        "now_us_round" => no_args(Piece::NowRound(1_000)),
        "uuid" => no_args(Piece::Uuid),
        "offset" => no_args(Piece::Offset),
        "len" => no_args(Piece::Len),
        "chunks" => no_args(Piece::Chunks),
        "sent_bytes" => no_args(Piece::SentBytes),
        "sent_sha256" => no_args(Piece::SentSha256),
        "random_int" => {
            let bad = || TemplateError(format!("'{{{{{name}}}}}': expected {{{{random_int A B}}}} with integers A <= B"));
            let mut it = args.split_whitespace();
            let (Some(a), Some(b), None) = (it.next(), it.next(), it.next()) else { return Err(bad()) };
            let (lo, hi): (i64, i64) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
            if lo > hi {
                return Err(bad());
            }
            Ok(Piece::RandomInt { lo, span: hi.wrapping_sub(lo) as u64 })
        }
        "random_text" => match args.parse::<usize>() {
            Ok(n) if (1..=MAX_TEXT).contains(&n) => Ok(Piece::RandomText(n)),
            _ => Err(TemplateError(format!("'{{{{{name}}}}}': expected {{{{random_text N}}}} with N from 1 to {MAX_TEXT}"))),
        },
        "pick" => {
            let choices: Vec<Box<[u8]>> = args.split(',').map(|c| c.trim().as_bytes().into()).collect();
            if args.is_empty() || choices.iter().any(|c| c.is_empty()) {
                return Err(TemplateError(format!("'{{{{{name}}}}}': expected {{{{pick a,b,c}}}} with non-empty values")));
            }
            Ok(Piece::Pick(choices.into()))
        }
        _ if func.starts_with("user.") && args.is_empty() => {
            let column = &func["user.".len()..];
            let Some(columns) = scope.user_columns else {
                return Err(TemplateError(format!("'{{{{{func}}}}}' needs a users file ([data] users = {{ file = \"users.csv\" }})")));
            };
            match columns.iter().position(|c| c == column) {
                Some(i) => Ok(Piece::User(i)),
                None => Err(TemplateError(format!(
                    "'{{{{{func}}}}}': the users file has no column '{column}' (columns: {})",
                    columns.join(", ")
                ))),
            }
        }
        _ if args.is_empty() && is_identifier(func) => match scope.vars.iter().position(|v| v == func) {
            Some(slot) => Ok(Piece::Var(slot)),
            None => Err(TemplateError(format!(
                "'{{{{{func}}}}}' is neither a template function nor a variable captured by an earlier step (known: {PLACEHOLDERS})"
            ))),
        },
        _ => Err(TemplateError(format!("unknown template function '{{{{{name}}}}}' (known: {PLACEHOLDERS})"))),
    }
}

/// `n / unit` rounded to the nearest whole number, a tie to the even one (Python's `round()`).
fn round_half_even(n: u64, unit: u64) -> u64 {
    let (q, r) = (n / unit, n % unit);
    // r < unit: 2 r does not overflow for any unit below 2^63.
    match (2 * r).cmp(&unit) {
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => q + (q & 1),
        std::cmp::Ordering::Less => q,
    }
}

/// A name a capture may bind: letters, digits and `_`, not starting with a digit.
pub fn is_identifier(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn random_text(rng: &mut SplitMix64, n: usize, out: &mut Vec<u8>) {
    // Ten characters per 64-bit draw, written in place (no per-byte capacity check).
    let start = out.len();
    out.resize(start + n, 0);
    for chunk in out[start..].chunks_mut(10) {
        let mut bits = rng.next_u64();
        for b in chunk {
            *b = TEXT_ALPHABET[(bits & 63) as usize];
            bits >>= 6;
        }
    }
}

fn uuid(rng: &mut SplitMix64, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let (a, b) = (rng.next_u64(), rng.next_u64());
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&a.to_le_bytes());
    bytes[8..].copy_from_slice(&b.to_le_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    for (i, byte) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push(b'-');
        }
        out.push(HEX[(byte >> 4) as usize]);
        out.push(HEX[(byte & 15) as usize]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(t: &Template, user: &[Box<[u8]>], vars: &[Vec<u8>]) -> String {
        let mut rng = SplitMix64::new(1);
        let mut v =
            Values { seq: 7, index: 3, core: 1, conn: 2, user, vars, rng: &mut rng, split: SplitValues::default() };
        let mut out = Vec::new();
        t.render(&mut v, &mut out);
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn renders_every_placeholder() {
        let cols = ["name".to_string(), "token".to_string()];
        let vars = ["upload_id".to_string()];
        let scope = Scope { user_columns: Some(&cols), vars: &vars };
        let t = Template::parse(
            "{{seq}}/{{i}}/{{core}}/{{conn}}/{{user.token}}/{{ upload_id }}/{{random_int 5 5}}/{{pick x}}",
            scope,
        )
        .expect("valid");
        let user: Vec<Box<[u8]>> = vec![b"ann".as_slice().into(), b"T1".as_slice().into()];
        assert_eq!(render(&t, &user, &[b"u-9".to_vec()]), "7/3/1/2/T1/u-9/5/x");
    }

    #[test]
    fn a_quoted_parameter_escapes_its_text_and_what_placeholders_render() {
        let cols = ["name".to_string()];
        let scope = Scope { user_columns: Some(&cols), vars: &[] };
        let t = Template::parse("a\"b {{user.name}}-{{i}}.bin", scope).expect("valid").quoted_escaped();
        let user: Vec<Box<[u8]>> = vec!["x\\y\"z\r\ncaf\u{e9}".as_bytes().into()];
        assert_eq!(render(&t, &user, &[]), "a\\\"b x\\\\y\\\"z%0D%0Acaf\u{e9}-3.bin");
    }

    #[test]
    fn random_values_have_their_shape() {
        let t = Template::parse("{{random_text 64}}|{{uuid}}|{{random_int -3 3}}|{{now_ms}}", Scope::default())
            .expect("valid");
        let s = render(&t, &[], &[]);
        let parts: Vec<&str> = s.split('|').collect();
        assert_eq!(parts[0].len(), 64);
        assert!(parts[0].bytes().all(|b| TEXT_ALPHABET.contains(&b)));
        assert_eq!(parts[1].len(), 36);
        assert_eq!(&parts[1][14..15], "4");
        let n: i64 = parts[2].parse().expect("int");
        assert!((-3..=3).contains(&n));
        let ms: u64 = parts[3].parse().expect("ms");
        assert!(ms > 1_600_000_000_000);
    }

    #[test]
    fn clock_placeholders_show_one_instant_in_their_units() {
        let t = Template::parse("{{now_s}}|{{now_ms}}|{{now_us}}", Scope::default()).expect("valid");
        let before = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs();
        let s = render(&t, &[], &[]);
        let after = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs();
        let n: Vec<u64> = s.split('|').map(|p| p.parse().expect("a whole number")).collect();
        assert!((before..=after).contains(&n[0]), "{s}");
        // the same send time, truncated: seconds, milliseconds, microseconds
        assert_eq!(n[1] / 1000, n[0], "{s}");
        assert_eq!(n[2] / 1000, n[1], "{s}");
        assert!(Template::parse("{{now_s 3}}", Scope::default()).expect_err("args").0.contains("takes no arguments"));
    }

    /// `{{now_s}}`, `{{now_ms}}`, `{{now_us}}` truncate (`int(time.time())`); their `_round`
    /// kin round to the nearest unit as Python's `round()` does, a tie to the even one.
    #[test]
    fn rounding_clock_placeholders_round_to_the_nearest_unit() {
        let t = Template::parse(
            "{{now_s}}|{{now_s_round}}|{{now_ms}}|{{now_ms_round}}|{{now_us}}|{{now_us_round}}",
            Scope::default(),
        )
        .expect("valid");
        let at = |ns: u64| {
            let mut rng = SplitMix64::new(1);
            let mut v = Values {
                seq: 0,
                index: 0,
                core: 0,
                conn: 0,
                user: &[],
                vars: &[],
                rng: &mut rng,
                split: SplitValues::default(),
            };
            let mut out = Vec::new();
            t.render_at(&mut v, Some(ns), &mut out);
            String::from_utf8(out).expect("utf-8")
        };
        // x.7 s, x.0007 ms...: a fraction of .5 and more reads one unit later when rounded
        assert_eq!(
            at(1_700_000_000_798_765_678),
            "1700000000|1700000001|1700000000798|1700000000799|1700000000798765|1700000000798766"
        );
        // below .5: rounding is truncation
        assert_eq!(
            at(1_700_000_000_499_499_499),
            "1700000000|1700000000|1700000000499|1700000000499|1700000000499499|1700000000499499"
        );
        // exactly .5: to the even one, as round(1700000000.5) == 1700000000 and round(1700000001.5) == 1700000002
        assert_eq!(at(1_700_000_000_500_000_000).split('|').nth(1), Some("1700000000"));
        assert_eq!(at(1_700_000_001_500_000_000).split('|').nth(1), Some("1700000002"));
        assert_eq!(at(1_700_000_000_000_500_000).split('|').nth(3), Some("1700000000000"));
        assert_eq!(at(1_700_000_000_001_500_000).split('|').nth(3), Some("1700000000002"));
        assert_eq!(at(1_700_000_000_000_001_500).split('|').nth(5), Some("1700000000000002"));
        // one instant for every clock placeholder of a render, read from the clock
        let s = render(&t, &[], &[]);
        let n: Vec<u64> = s.split('|').map(|p| p.parse().expect("a whole number")).collect();
        assert!(n[1] == n[0] || n[1] == n[0] + 1, "{s}");
        assert!(n[3] == n[2] || n[3] == n[2] + 1, "{s}");
        assert_eq!(n[2] / 1000, n[0], "{s}");
        assert!(Template::parse("{{now_ms_round 1}}", Scope::default())
            .expect_err("args")
            .0
            .contains("takes no arguments"));
    }

    #[test]
    fn refuses_unknown_names_with_the_reason() {
        let cols = ["name".to_string()];
        let scope = Scope { user_columns: Some(&cols), vars: &[] };
        let err = |s: &str| Template::parse(s, scope).expect_err(s).0;
        assert!(err("{{nope}}").contains("neither a template function nor a variable"));
        assert!(err("{{user.token}}").contains("no column 'token'"));
        assert!(err("{{random_int 5 1}}").contains("random_int"));
        assert!(err("{{random_text x}}").contains("random_text"));
        assert!(err("{{pick }}").contains("pick"));
        assert!(err("{{frobnicate 3}}").contains("unknown template function"));
        assert!(err("a {{seq").contains("unclosed"));
        assert!(Template::parse("{{user.name}}", Scope::default()).expect_err("no users").0.contains("users file"));
    }

    #[test]
    fn a_path_is_checked_before_the_run_where_its_values_are_known() {
        let cols = ["id".to_string()];
        let vars = ["run".to_string()];
        let scope = Scope { user_columns: Some(&cols), vars: &vars };
        let users: Vec<Vec<Box<[u8]>>> = vec![vec![b"u-1".as_slice().into()], vec![b"u 2".as_slice().into()]];
        let check = |s: &str, users: &[Vec<Box<[u8]>>]| Template::parse(s, scope).expect(s).check_path(users);
        // Functions with arguments render no space: nothing to check per request.
        assert_eq!(check("/m/{{random_int 1 20}}/{{pick a,b}}/{{uuid}}/{{seq}}", &[]), Ok(false));
        assert_eq!(check("/u/{{user.id}}", &users[..1]), Ok(false));
        // A captured value is known only when the request is made.
        assert_eq!(check("/runs/{{run}}/logs", &[]), Ok(true));
        // Values known before the run that would put a space into the path.
        assert!(check("/u/{{user.id}}", &users).expect_err("space").0.contains("user 2"));
        assert!(check("/p/{{pick a b,c}}", &[]).expect_err("space").0.contains("'a b'"));
        assert!(check("/t/{{random_text 8}}", &[]).expect_err("space").0.contains("random_text"));
        // The bytes a request line cannot hold in its path: a space, CR, LF, any control byte.
        for bad in [&b"/a b"[..], b"/a\r", b"/a\nX", b"/a\x01", b"/a\x7f", b"/a\tb"] {
            assert!(Template::literal(bad.to_vec()).check_path(&[]).is_err(), "{bad:?}");
        }
        assert_eq!(Template::literal(b"/a/%20/~b?c=d&e=f#g".to_vec()).check_path(&[]), Ok(false));
    }

    #[test]
    fn literal_templates_are_known_as_such() {
        let t = Template::parse("plain", Scope::default()).expect("valid");
        assert_eq!(t.as_literal(), Some(&b"plain"[..]));
        assert_eq!(Template::parse("{{seq}}", Scope::default()).expect("valid").as_literal(), None);
    }
}
