//! A validated scenario: its report rows, iterations (a request, or a flow's steps), weights,
//! users, captured variables and `on_start` steps. Built by `scenario::file` from a profile (or
//! from `blast api`'s flags: one request), run by `run`.

use super::capture::Capture;
use super::users::Users;
use crate::template::Template;
use bytes::Bytes;

/// Default body of `blast api`: a chat message in its connection's conversation, with
/// sequence number and send timestamp so the target (or a later pipeline) can correlate and
/// time it.
pub const DEFAULT_BODY: &str = r#"{"conversation_id":"conv-{{core}}-{{conn}}","sender_id":"blast","content":"load test message {{seq}}","seq":{{seq}},"sent_at_us":{{ts}}}"#;

/// A report row: a request or step name and its type (the method, or `flow`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub name: String,
    /// The CSV's `Type`: the HTTP method of the requests under this name, or `flow`.
    pub kind: String,
}

/// A request body.
#[derive(Clone, Debug)]
pub enum Body {
    Empty,
    /// Rendered per request.
    Template(Template),
    /// Sent as is (a file); shared, never copied per request.
    Fixed(Bytes),
    /// This many bytes sliced from the seeded random pool (zero-copy).
    Random(usize),
    /// The step's `split` chunk (a slice of the random pool, zero-copy).
    Chunk,
    /// `multipart/form-data`: rendered framing and fields around zero-copy file bytes.
    Multipart(Multipart),
}

/// A `multipart/form-data` body: its boundary and its pieces in order (the framing and the
/// form fields are templates; file bytes are written from where they are, never copied).
#[derive(Clone, Debug)]
pub struct Multipart {
    pub boundary: String,
    pub pieces: Vec<MultipartPiece>,
}

/// A piece of a multipart body.
#[derive(Clone, Debug)]
pub enum MultipartPiece {
    /// Boundaries, part headers and field values.
    Text(Template),
    /// A file part's bytes.
    Data(PartData),
}

/// Where a file part's bytes come from.
#[derive(Clone, Debug)]
pub enum PartData {
    /// This many bytes of the seeded random pool.
    Random(usize),
    /// A file, read once.
    Fixed(Bytes),
    /// The step's `split` chunk.
    Chunk,
}

/// `split = { total, chunk }`: the step sends `total` bytes as ceil(total / chunk) requests of
/// `chunk` bytes, the last one the remainder.
#[derive(Clone, Debug)]
pub struct Split {
    pub total: SplitTotal,
    pub chunk: u64,
}

/// A split's total size: fixed, or a template rendered per iteration (`{{user.size}}`) and
/// read as a size (`67108864`, `64M`).
#[derive(Clone, Debug)]
pub enum SplitTotal {
    Bytes(u64),
    Template(Template),
}

/// What a response must be for its request to succeed (besides a status below 400).
#[derive(Clone, Debug, Default)]
pub struct Expect {
    /// The statuses accepted (all below 400); `None`: any status below 400. Another status
    /// below 400 fails as `expect_status`.
    pub status: Option<Vec<u16>>,
    /// JSON pointers of the response body and the value each must equal (a template; a value
    /// that is not a JSON string is compared as its JSON text). A mismatch fails as
    /// `expect_body`.
    pub json: Vec<(String, Template)>,
    /// Text the response body must contain (`expect_body` otherwise).
    pub body_contains: Option<Template>,
    /// A response that took longer than this (from when the request could start) fails as
    /// `slow`.
    pub slow: Option<std::time::Duration>,
}

impl Expect {
    /// Whether the response body must be kept to check it.
    pub fn needs_body(&self) -> bool {
        !self.json.is_empty() || self.body_contains.is_some()
    }
}

/// How often a step runs in one iteration.
#[derive(Clone, Debug)]
pub enum Repeat {
    Times(u64),
    /// A template rendered per iteration (e.g. `{{user.chunks}}`); not a number fails the step.
    Template(Template),
}

/// One request of an iteration.
#[derive(Clone, Debug)]
pub struct Step {
    /// Its report row.
    pub row: usize,
    pub method: String,
    /// The start of the request line, `METHOD path`, rendered per request (unless the whole
    /// request is fixed: `whole`).
    pub line: Template,
    /// The path renders a captured value, which may hold a space or a control character: the
    /// rendered path is checked before each request (`valid_path`). Every other placeholder's
    /// values are known before the run and checked there (`scenario::file`).
    pub check_path: bool,
    /// The rest of the request line and the headers, up to the `Content-Length` value.
    pub head: Template,
    pub body: Body,
    pub captures: Vec<Capture>,
    pub repeat: Repeat,
    /// The whole request, when nothing in it varies (a head without placeholders and an
    /// empty, literal or small fixed body): made once here, sent as is, in one write.
    pub whole: Option<Bytes>,
    /// What the response must be.
    pub expect: Expect,
    /// `split`: the step is sent once per chunk of a total size.
    pub split: Option<Split>,
    /// The step sets its own `Cookie` header: the user's jar is not sent with it (as requests
    /// leaves an explicit `Cookie` header alone).
    pub cookie_header: bool,
}

/// Largest fixed body (a `--body` file) made part of a step's `whole` request.
const MAX_WHOLE_BODY: usize = 64 * 1024;

/// The request bytes a step sends every time, when it has no placeholder: exactly what
/// rendering would write (the head, the Content-Length value, a blank line, the body).
fn whole_request(line: &Template, head: &Template, body: &Body) -> Option<Bytes> {
    let (line, head) = (line.as_literal()?, head.as_literal()?);
    let body: &[u8] = match body {
        Body::Empty => b"",
        Body::Template(t) => t.as_literal()?,
        Body::Fixed(bytes) if bytes.len() <= MAX_WHOLE_BODY => bytes,
        Body::Fixed(_) | Body::Random(_) | Body::Chunk | Body::Multipart(_) => return None,
    };
    let mut whole = [line, head].concat();
    whole.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
    whole.extend_from_slice(b"\r\n\r\n");
    whole.extend_from_slice(body);
    Some(whole.into())
}

impl Step {
    /// A step of `method` to `path` on the target `authority` (host:port).
    pub fn new(
        row: usize,
        method: &str,
        path: Template,
        headers: Vec<(String, Template)>,
        body: Body,
        authority: &str,
    ) -> Step {
        let has = |n: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
        let check_path = path.vars_used().next().is_some();
        let cookie_header = has("cookie");
        let line = Template::concat(vec![Template::literal(format!("{method} ").into_bytes()), path]);
        let mut head = Vec::new();
        let mut fixed = format!(" HTTP/1.1\r\nHost: {authority}\r\n");
        if !matches!(body, Body::Empty) && !has("content-type") {
            match &body {
                Body::Template(_) => fixed.push_str("Content-Type: application/json\r\n"),
                Body::Multipart(m) => {
                    fixed.push_str(&format!("Content-Type: multipart/form-data; boundary={}\r\n", m.boundary))
                }
                _ => fixed.push_str("Content-Type: application/octet-stream\r\n"),
            }
        }
        if !has("user-agent") {
            fixed.push_str(concat!("User-Agent: blast/", env!("CARGO_PKG_VERSION"), "\r\n"));
        }
        head.push(Template::literal(fixed.into_bytes()));
        for (name, value) in headers {
            head.push(Template::literal(format!("{name}: ").into_bytes()));
            head.push(value);
            head.push(Template::literal(b"\r\n".to_vec()));
        }
        head.push(Template::literal(b"Content-Length: ".to_vec()));
        let head = Template::concat(head);
        let whole = whole_request(&line, &head, &body);
        Step {
            row,
            method: method.to_string(),
            line,
            check_path,
            head,
            body,
            captures: Vec::new(),
            repeat: Repeat::Times(1),
            whole,
            expect: Expect::default(),
            split: None,
            cookie_header,
        }
    }

    /// Whether `line` (this step's rendered `METHOD path`) has a path that may go on the
    /// wire: no space and no control character, which would end or break the request line.
    pub fn valid_path(&self, line: &[u8]) -> bool {
        line.get(self.method.len() + 1..).is_some_and(|path| path.iter().all(|&b| crate::template::path_byte(b)))
    }

    /// A step whose captures are all per-user runs once per user and is then skipped while the
    /// user holds the values (a login).
    pub fn once_per_user(&self) -> bool {
        !self.captures.is_empty() && self.captures.iter().all(|c| c.per_user)
    }

    /// The response body is needed (a JSON pointer capture, a check of the body).
    pub fn needs_body(&self) -> bool {
        self.captures.iter().any(|c| c.source.needs_body()) || self.expect.needs_body()
    }

    /// The templates of the request and its checks.
    pub fn templates(&self) -> impl Iterator<Item = &Template> {
        let body: Vec<&Template> = match &self.body {
            Body::Template(t) => vec![t],
            Body::Multipart(m) => m
                .pieces
                .iter()
                .filter_map(|p| match p {
                    MultipartPiece::Text(t) => Some(t),
                    MultipartPiece::Data(_) => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let total = match &self.split {
            Some(Split { total: SplitTotal::Template(t), .. }) => Some(t),
            _ => None,
        };
        std::iter::once(&self.line)
            .chain(std::iter::once(&self.head))
            .chain(body)
            .chain(total)
            .chain(self.expect.json.iter().map(|(_, t)| t))
            .chain(self.expect.body_contains.as_ref())
    }

    /// Largest slice of the random pool one request of this step sends.
    pub fn largest_random(&self) -> usize {
        let chunk = self.split.as_ref().map_or(0, |s| s.chunk as usize);
        match &self.body {
            Body::Random(n) => *n,
            Body::Chunk => chunk,
            Body::Multipart(m) => m
                .pieces
                .iter()
                .map(|p| match p {
                    MultipartPiece::Data(PartData::Random(n)) => *n,
                    MultipartPiece::Data(PartData::Chunk) => chunk,
                    _ => 0,
                })
                .max()
                .unwrap_or(0),
            _ => 0,
        }
    }

    /// Response headers are needed.
    pub fn needs_headers(&self) -> bool {
        self.captures.iter().any(|c| matches!(c.source, super::capture::Source::Header(_)))
    }
}

/// What one arrival performs.
#[derive(Clone, Debug)]
pub struct Iteration {
    /// The row the whole iteration is recorded under (the request's, or the flow's).
    pub row: usize,
    pub steps: Vec<Step>,
    pub flow: bool,
    /// `tags = [...]` of the request or flow (`--tags`, `--exclude-tags`).
    pub tags: Vec<String>,
}

/// A captured variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Var {
    pub name: String,
    pub per_user: bool,
}

/// A validated scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub rows: Vec<Row>,
    pub iterations: Vec<Iteration>,
    /// Weight of each iteration (same order).
    pub weights: Vec<u64>,
    pub users: Option<Users>,
    /// `users = N`: this many virtual users, user `u` taking row `u mod rows` of the users
    /// file; `None`: one per row.
    pub virtual_users: Option<usize>,
    /// Captured variables by slot.
    pub vars: Vec<Var>,
    /// Steps each virtual user runs once before its first iteration (Locust's `on_start`, a
    /// login), and again after a 401 dropped its values; their captures are per user.
    pub on_start: Vec<Step>,
    /// Seed of template randomness and of the random body pool.
    pub seed: u64,
    /// Some template uses `{{sent_sha256}}`: the chunks sent are hashed as they go.
    pub hash_sent: bool,
    /// The first mismatching value of each row's failed checks, for the failures CSV.
    pub mismatches: std::sync::Arc<Mismatches>,
    /// What `--tags`/`--exclude-tags` chose, for the plan line (`select_tags`).
    pub selection: Option<String>,
}

/// The first value that failed a check (`expect_status`, `expect_body`, `slow`), per row and
/// kind: written into the failures CSV's `Error` so that a failed run says what came back.
#[derive(Debug, Default)]
pub struct Mismatches(std::sync::Mutex<Vec<(usize, &'static str, String)>>);

impl Mismatches {
    /// Keeps `detail()` when it is the first failure of `kind` on `row` (made only then).
    pub fn note(&self, row: usize, kind: &'static str, detail: impl FnOnce() -> String) {
        let Ok(mut seen) = self.0.lock() else { return };
        if !seen.iter().any(|(r, k, _)| *r == row && *k == kind) {
            seen.push((row, kind, detail()));
        }
    }

    /// Every first mismatch: (row, kind, value).
    pub fn take(&self) -> Vec<(usize, &'static str, String)> {
        self.0.lock().map(|mut s| std::mem::take(&mut *s)).unwrap_or_default()
    }
}

impl Scenario {
    /// One request, as `blast api`'s flags describe it.
    pub fn single(name: &str, step: Step) -> Scenario {
        let method = step.method.clone();
        Scenario {
            rows: vec![Row { name: name.to_string(), kind: method }],
            iterations: vec![Iteration { row: 0, steps: vec![step], flow: false, tags: Vec::new() }],
            weights: vec![1],
            users: None,
            virtual_users: None,
            vars: Vec::new(),
            on_start: Vec::new(),
            seed: 1,
            hash_sent: false,
            mismatches: Default::default(),
            selection: None,
        }
    }

    /// Largest random body, for sizing the pool.
    pub fn largest_random_body(&self) -> usize {
        self.iterations.iter().flat_map(|i| &i.steps).chain(&self.on_start).map(Step::largest_random).max().unwrap_or(0)
    }

    /// How many virtual users there are: `users = N`, else one per row of the users file.
    pub fn user_count(&self) -> Option<usize> {
        self.virtual_users.or(self.users.as_ref().map(|u| u.rows.len()))
    }

    /// Keeps the requests and flows `--tags` chooses (any of them; all when empty) and
    /// `--exclude-tags` does not; the weights of those kept are the mix. A tag no request or
    /// flow has, or a choice that leaves nothing, is refused.
    pub fn select_tags(&mut self, tags: &[String], exclude: &[String]) -> Result<(), String> {
        let known: std::collections::BTreeSet<&String> = self.iterations.iter().flat_map(|i| &i.tags).collect();
        for (flag, list) in [("--tags", tags), ("--exclude-tags", exclude)] {
            if let Some(t) = list.iter().find(|t| !known.contains(t)) {
                let known: Vec<&str> = known.iter().map(|s| s.as_str()).collect();
                return Err(format!(
                    "{flag}: no request or flow has the tag '{t}' (tags: {})",
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                ));
            }
        }
        if tags.is_empty() && exclude.is_empty() {
            return Ok(());
        }
        let keep = |i: &Iteration| {
            (tags.is_empty() || i.tags.iter().any(|t| tags.contains(t))) && !i.tags.iter().any(|t| exclude.contains(t))
        };
        let of = self.iterations.len();
        let kept: Vec<(Iteration, u64)> =
            self.iterations.drain(..).zip(self.weights.drain(..)).filter(|(i, _)| keep(i)).collect();
        if kept.is_empty() {
            return Err("--tags and --exclude-tags leave no request or flow to run".to_string());
        }
        let ran: Vec<&str> = kept.iter().map(|(i, _)| self.rows[i.row].name.as_str()).collect();
        let mut chose = Vec::new();
        if !tags.is_empty() {
            chose.push(format!("--tags {}", tags.join(",")));
        }
        if !exclude.is_empty() {
            chose.push(format!("--exclude-tags {}", exclude.join(",")));
        }
        self.selection = Some(format!("{}: {} of {of} ran: {}", chose.join(" "), ran.len(), ran.join(", ")));
        (self.iterations, self.weights) = kept.into_iter().unzip();
        Ok(())
    }

    /// What each report row is: its name and kind, whether it is a flow, and the share of the
    /// iterations the mix plans for it.
    pub fn named_requests(&self) -> Vec<crate::workloads::api::raw::NamedRequest> {
        let flows = self.flow_rows();
        let total: u64 = self.weights.iter().sum();
        let rows = self.rows.iter().enumerate();
        rows.map(|(i, row)| {
            let weight: u64 =
                self.iterations.iter().zip(&self.weights).filter(|(it, _)| it.row == i).map(|(_, w)| w).sum();
            crate::workloads::api::raw::NamedRequest {
                name: row.name.clone(),
                kind: row.kind.clone(),
                flow: flows[i],
                planned_share: (weight > 0).then(|| weight as f64 / total.max(1) as f64),
            }
        })
        .collect()
    }

    /// Rows that are flows (left out of `Aggregated`, which counts requests).
    pub fn flow_rows(&self) -> Vec<bool> {
        let mut flows = vec![false; self.rows.len()];
        for i in &self.iterations {
            if i.flow {
                flows[i.row] = true;
            }
        }
        flows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Scope;

    fn step(body: Body, headers: Vec<(String, Template)>) -> Step {
        Step::new(0, "POST", Template::literal(b"/v1/x".to_vec()), headers, body, "127.0.0.1:8080")
    }

    fn head(content_type: &str) -> String {
        let agent = concat!("User-Agent: blast/", env!("CARGO_PKG_VERSION"));
        format!("POST /v1/x HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n{content_type}{agent}\r\nContent-Length: ")
    }

    #[test]
    fn a_request_without_placeholders_is_made_once_with_the_bytes_rendering_writes() {
        let literal = Template::parse(r#"{"a":1}"#, Scope::default()).expect("template");
        let whole = step(Body::Template(literal), Vec::new()).whole.expect("fixed");
        let json = head("Content-Type: application/json\r\n");
        assert_eq!(whole, format!("{json}7\r\n\r\n{{\"a\":1}}").into_bytes());

        let whole = step(Body::Empty, Vec::new()).whole.expect("fixed");
        assert_eq!(whole, format!("{}0\r\n\r\n", head("")).into_bytes());

        let whole = step(Body::Fixed(Bytes::from_static(b"abc")), Vec::new()).whole.expect("fixed");
        let octets = head("Content-Type: application/octet-stream\r\n");
        assert_eq!(whole, format!("{octets}3\r\n\r\nabc").into_bytes());
    }

    #[test]
    fn a_request_with_a_placeholder_or_a_large_or_random_body_is_rendered_per_request() {
        let dynamic = Template::parse(DEFAULT_BODY, Scope::default()).expect("template");
        assert!(step(Body::Template(dynamic), Vec::new()).whole.is_none());
        let header = Template::parse("{{seq}}", Scope::default()).expect("template");
        assert!(step(Body::Empty, vec![("X-Seq".to_string(), header)]).whole.is_none());
        assert!(step(Body::Fixed(Bytes::from(vec![b'x'; MAX_WHOLE_BODY + 1])), Vec::new()).whole.is_none());
        assert!(step(Body::Random(10), Vec::new()).whole.is_none());
    }
}
