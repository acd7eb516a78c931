//! The scenario part of a profile: `[data]`, `[[on_start]]`, `[[request]]` and `[[flow]]`, checked into a
//! `Scenario`. Every error names the file, the line and the field, before any request is sent.
//!
//! ```toml
//! [data]
//! users = { file = "users.csv" }       # columns become {{user.<column>}}
//!
//! [[on_start]]                         # once per virtual user (Locust's on_start): log in
//! name = "POST /auth/login"
//! path = "/auth/login"
//! body = '{"username":"{{user.name}}","password":"{{user.password}}"}'
//! capture = { jwt = "/access_token" }   # kept per user until a 401
//!
//! [[request]]
//! name = "POST /v1/messages"
//! weight = 10
//! method = "POST"
//! path = "/v1/messages"
//! headers = { Authorization = "Bearer {{user.token}}" }
//! body = '{"content":"{{random_text 64}}"}'   # or { file = "x.json" }, { random_bytes = "10M" }
//!
//! [[flow]]
//! name = "login, then post"
//! steps = [
//!   { name = "POST /auth/login", method = "POST", path = "/auth/login", body = '...',
//!     capture = { token = "/access_token" }, scope = "user" },
//!   { name = "POST /v1/messages", path = "/v1/messages", headers = { Authorization = "Bearer {{token}}" } },
//! ]
//! ```
//!
//! A step may also have `json = { ... }` (a JSON body, `super::json`), `expect = { status,
//! json, body_contains }` and `slow = "5s"` (checks of the response), `split = { total, chunk }`
//! (a flow step sent once per chunk of the random pool) and `multipart = [ { name, value } |
//! { name, filename, content_type, random_bytes | file | chunk = true } ]`.

use super::capture::{Capture, Source};
use super::users::Users;
use super::{Body, Iteration, MultipartPiece, PartData, Repeat, Row, Scenario, Split, SplitTotal, Step, Var};
use crate::engine::mix::MAX_CYCLE;
use crate::template::{Scope, Template};
use crate::usage::UsageError;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// Methods a step's name may start with to give its method.
const HTTP_METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// Largest `random_bytes` body.
const MAX_RANDOM_BODY: u64 = 1 << 30;

/// `[data]`.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct RawData {
    users: Option<Spanned<RawFile>>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawFile {
    file: String,
}

/// A `[[request]]` or a flow's step.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawRequest {
    name: Option<Spanned<String>>,
    weight: Option<Spanned<i64>>,
    method: Option<Spanned<String>>,
    path: Spanned<String>,
    #[serde(default)]
    headers: BTreeMap<String, Spanned<String>>,
    body: Option<Spanned<toml::Value>>,
    /// A JSON body written as a TOML table (`super::json`).
    json: Option<Spanned<toml::Value>>,
    #[serde(default)]
    capture: BTreeMap<String, Spanned<String>>,
    scope: Option<Spanned<String>>,
    repeat: Option<Spanned<toml::Value>>,
    /// What the response must be (`Expect`).
    expect: Option<Spanned<RawExpect>>,
    /// A response slower than this fails as `slow`.
    slow: Option<Spanned<String>>,
    /// `{ total, chunk }`: the step sent once per chunk.
    split: Option<Spanned<RawSplit>>,
    /// A `multipart/form-data` body.
    multipart: Option<Spanned<Vec<Spanned<RawPart>>>>,
    /// Tags of a `[[request]]` (`--tags`, `--exclude-tags`).
    tags: Option<Spanned<Vec<String>>>,
}

/// `expect = { status = [201], json = { "/sha256" = "{{sent_sha256}}" }, body_contains = "ok" }`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    status: Option<Vec<i64>>,
    #[serde(default)]
    json: BTreeMap<String, String>,
    body_contains: Option<String>,
}

/// `split = { total = "64M", chunk = "10M" }` (`total` may be a template).
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawSplit {
    total: toml::Value,
    chunk: toml::Value,
}

/// A part of a multipart body: a form field (`value`) or a file (`filename`, `content_type`
/// and one of `random_bytes`, `file`, `chunk = true`).
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawPart {
    name: String,
    value: Option<String>,
    filename: Option<String>,
    content_type: Option<String>,
    random_bytes: Option<String>,
    file: Option<String>,
    chunk: Option<bool>,
}

/// A `[[flow]]`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawFlow {
    name: Spanned<String>,
    weight: Option<Spanned<i64>>,
    steps: Spanned<Vec<Spanned<RawRequest>>>,
    /// `--tags`, `--exclude-tags`.
    tags: Option<Spanned<Vec<String>>>,
}

/// The scenario tables of a profile, as read.
#[derive(Debug, Default)]
pub struct ScenarioFile {
    pub data: Option<Spanned<RawData>>,
    /// Steps every virtual user runs once first (a login); their captures are per user.
    pub on_start: Vec<Spanned<RawRequest>>,
    pub requests: Vec<Spanned<RawRequest>>,
    pub flows: Vec<Spanned<RawFlow>>,
    /// The profile's path (errors) and text (line numbers).
    pub file: String,
    pub text: String,
}

impl ScenarioFile {
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty() && self.flows.is_empty()
    }

    /// The profile has scenario tables at all.
    pub fn present(&self) -> bool {
        !self.is_empty() || self.data.is_some() || !self.on_start.is_empty()
    }

    fn at(&self, offset: usize, field: &str, msg: impl std::fmt::Display) -> UsageError {
        let line = self.text[..offset.min(self.text.len())].matches('\n').count() + 1;
        UsageError(format!("{}:{line}: field '{field}': {msg}", self.file))
    }

    fn dir(&self) -> PathBuf {
        Path::new(&self.file).parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    }

    /// Checks everything and builds the scenario for a target at `authority` (host:port).
    /// `extra` headers (`-H`) go on every request that does not set them itself.
    pub fn build(&self, authority: &str, seed: u64, extra: &[(String, String)]) -> Result<Scenario, UsageError> {
        if self.is_empty() {
            let at = self
                .data
                .as_ref()
                .map(|d| d.span().start)
                .or(self.on_start.first().map(|s| s.span().start))
                .unwrap_or(0);
            return Err(self.at(at, "request", "a scenario needs [[request]] or [[flow]] tables"));
        }
        self.compile(authority, seed, extra)
    }

    /// Checks and builds a login alone (`blast ws --login`): `[data]` and `[[on_start]]` steps
    /// to a target at `authority`, which every virtual user (a WebSocket connection) runs
    /// before its upgrade; no `[[request]]` or `[[flow]]`.
    pub fn build_login(&self, authority: &str, seed: u64) -> Result<Scenario, UsageError> {
        if let Some(r) = self.requests.first() {
            return Err(self.at(r.span().start, "request", "a login has [[on_start]] steps, no [[request]]"));
        }
        if let Some(f) = self.flows.first() {
            return Err(self.at(f.span().start, "flow", "a login has [[on_start]] steps, no [[flow]]"));
        }
        if self.on_start.is_empty() {
            let at = self.data.as_ref().map_or(0, |d| d.span().start);
            return Err(self.at(at, "on_start", "a login needs [[on_start]] steps (the login request)"));
        }
        self.compile(authority, seed, &[])
    }

    /// A line-located error at byte `offset` of the file (for tables read beside these).
    pub fn error_at(&self, offset: usize, field: &str, msg: impl std::fmt::Display) -> UsageError {
        self.at(offset, field, msg)
    }

    fn compile(&self, authority: &str, seed: u64, extra: &[(String, String)]) -> Result<Scenario, UsageError> {
        let users = self.users()?;
        let (rows, vars, iterations, weights, on_start) = self.iterations(users.as_ref(), authority, extra)?;
        let hash_sent = iterations
            .iter()
            .flat_map(|i: &Iteration| &i.steps)
            .chain(&on_start)
            .flat_map(Step::templates)
            .any(Template::uses_sent_sha256);
        Ok(Scenario {
            rows,
            iterations,
            weights,
            users,
            virtual_users: None,
            vars,
            on_start,
            seed,
            hash_sent,
            mismatches: Default::default(),
            selection: None,
        })
    }

    #[allow(clippy::type_complexity)]
    fn iterations(
        &self,
        users: Option<&Users>,
        authority: &str,
        extra: &[(String, String)],
    ) -> Result<(Vec<Row>, Vec<Var>, Vec<Iteration>, Vec<u64>, Vec<Step>), UsageError> {
        let columns = users.map(|u| u.columns.as_slice());
        let user_rows = users.map_or(&[][..], |u| u.rows.as_slice());
        let mut b = Builder { file: self, authority, columns, user_rows, extra, rows: Vec::new(), vars: Vec::new() };
        // on_start first: what it captures is known to every request and flow.
        let mut on_start = Vec::new();
        let mut user_vars: Vec<String> = Vec::new();
        for s in &self.on_start {
            let raw = s.get_ref();
            for (field, given) in [
                ("weight", raw.weight.is_some()),
                ("repeat", raw.repeat.is_some()),
                ("split", raw.split.is_some()),
                ("tags", raw.tags.is_some()),
            ] {
                if given {
                    return Err(self.at(
                        s.span().start,
                        field,
                        "on_start steps run once per user: no weight, no repeat, no split, no tags",
                    ));
                }
            }
            if let Some(sc) = raw.scope.as_ref().filter(|sc| sc.get_ref() != "user") {
                return Err(self.at(sc.span().start, "scope", "on_start captures are per user"));
            }
            let step = b.step_scoped(raw, &user_vars, true)?;
            for c in &step.captures {
                user_vars.push(b.vars[c.slot].name.clone());
            }
            on_start.push(step);
        }
        let mut iterations = Vec::new();
        let mut weights = Vec::new();
        for r in &self.requests {
            let raw = r.get_ref();
            if let Some((_, c)) = raw.capture.iter().next() {
                return Err(self.at(c.span().start, "capture", "captures belong to the steps of a [[flow]]"));
            }
            if let Some(rep) = &raw.repeat {
                return Err(self.at(rep.span().start, "repeat", "repeat belongs to the steps of a [[flow]]"));
            }
            if let Some(split) = &raw.split {
                return Err(self.at(split.span().start, "split", "split belongs to the steps of a [[flow]]"));
            }
            weights.push(b.weight(raw.weight.as_ref(), r.span().start)?);
            let tags = self.tags(raw.tags.as_ref())?;
            let step = b.step(raw, &user_vars)?;
            iterations.push(Iteration { row: step.row, steps: vec![step], flow: false, tags });
        }
        for f in &self.flows {
            let raw = f.get_ref();
            weights.push(b.weight(raw.weight.as_ref(), f.span().start)?);
            if raw.steps.get_ref().is_empty() {
                return Err(self.at(raw.steps.span().start, "steps", "a flow needs at least one step"));
            }
            let row = b.row(raw.name.get_ref(), "flow", raw.name.span().start)?;
            let mut known: Vec<String> = user_vars.clone();
            let mut steps = Vec::new();
            for s in raw.steps.get_ref() {
                if let Some(w) = &s.get_ref().weight {
                    return Err(self.at(w.span().start, "weight", "a step has no weight: the flow's weight counts"));
                }
                if let Some(t) = &s.get_ref().tags {
                    return Err(self.at(t.span().start, "tags", "a step has no tags: the flow's tags count"));
                }
                let step = b.step(s.get_ref(), &known)?;
                for c in &step.captures {
                    known.push(b.vars[c.slot].name.clone());
                }
                steps.push(step);
            }
            let tags = self.tags(raw.tags.as_ref())?;
            iterations.push(Iteration { row, steps, flow: true, tags });
        }
        let total: u64 = weights.iter().sum();
        if total > MAX_CYCLE {
            return Err(self.at(0, "weight", format!("the weights add up to {total}; at most {MAX_CYCLE}")));
        }
        Ok((b.rows, b.vars, iterations, weights, on_start))
    }

    /// `tags = [...]`: names without spaces or commas (they are listed in `--tags a,b`).
    fn tags(&self, tags: Option<&Spanned<Vec<String>>>) -> Result<Vec<String>, UsageError> {
        let Some(tags) = tags else { return Ok(Vec::new()) };
        for t in tags.get_ref() {
            if t.is_empty() || t.contains(|c: char| c == ',' || c.is_whitespace()) {
                return Err(self.at(tags.span().start, "tags", format!("'{t}' is not a tag (no spaces or commas)")));
            }
        }
        Ok(tags.get_ref().clone())
    }

    fn users(&self) -> Result<Option<Users>, UsageError> {
        let Some(file) = self.data.as_ref().and_then(|d| d.get_ref().users.as_ref()) else { return Ok(None) };
        let path = self.dir().join(&file.get_ref().file);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| self.at(file.span().start, "users", format!("{}: {e}", path.display())))?;
        Users::parse(&text)
            .map(Some)
            .map_err(|e| self.at(file.span().start, "users", format!("{}: {e}", path.display())))
    }
}

/// The characters of a template outside its `{{...}}` placeholders (an unclosed one is the
/// template parser's error, reported when it is parsed).
fn outside_placeholders(text: &str) -> impl Iterator<Item = char> + '_ {
    let mut inside = false;
    let mut chars = text.chars().peekable();
    std::iter::from_fn(move || loop {
        let c = chars.next()?;
        match (inside, c) {
            (false, '{') if chars.peek() == Some(&'{') => {
                chars.next();
                inside = true;
            }
            (true, '}') if chars.peek() == Some(&'}') => {
                chars.next();
                inside = false;
            }
            (true, _) => {}
            (false, c) => return Some(c),
        }
    })
}

struct Builder<'a> {
    file: &'a ScenarioFile,
    authority: &'a str,
    columns: Option<&'a [String]>,
    /// The users file's values by column, checked where a path renders them.
    user_rows: &'a [Vec<Box<[u8]>>],
    extra: &'a [(String, String)],
    rows: Vec<Row>,
    vars: Vec<Var>,
}

impl Builder<'_> {
    fn weight(&self, w: Option<&Spanned<i64>>, at: usize) -> Result<u64, UsageError> {
        match w {
            None => Ok(1),
            Some(w) if *w.get_ref() >= 1 && (*w.get_ref() as u64) <= MAX_CYCLE => Ok(*w.get_ref() as u64),
            Some(w) => Err(self.file.at(
                w.span().start.max(at),
                "weight",
                format!("{} is not a weight (1 to {MAX_CYCLE})", w.get_ref()),
            )),
        }
    }

    /// The row of `name`: one row per name, whatever its type (a name reused by requests of
    /// another method or by a flow is refused, so that a row never mixes two kinds).
    fn row(&mut self, name: &str, kind: &str, at: usize) -> Result<usize, UsageError> {
        if name.trim().is_empty() || name.contains(['\r', '\n']) {
            return Err(self.file.at(at, "name", "a name must be one non-empty line"));
        }
        if name == "Aggregated" {
            return Err(self.file.at(at, "name", "'Aggregated' is the name of the total row"));
        }
        match self.rows.iter().position(|r| r.name == name) {
            Some(i) if self.rows[i].kind == kind => Ok(i),
            Some(i) => Err(self.file.at(
                at,
                "name",
                format!("'{name}' is already a {} row; give this one another name", self.rows[i].kind),
            )),
            None => {
                self.rows.push(Row { name: name.to_string(), kind: kind.to_string() });
                Ok(self.rows.len() - 1)
            }
        }
    }

    /// Variable names visible to a step: the slots of `known`, others masked so that a
    /// template's slot is the global one.
    fn scope_names(&self, known: &[String]) -> Vec<String> {
        self.vars.iter().map(|v| if known.contains(&v.name) { v.name.clone() } else { String::from("\0") }).collect()
    }

    fn template(&self, text: &str, known: &[String], at: usize, field: &str) -> Result<Template, UsageError> {
        let names = self.scope_names(known);
        Template::parse(text, Scope { user_columns: self.columns, vars: &names })
            .map_err(|e| self.file.at(at, field, e))
    }

    fn step(&mut self, raw: &RawRequest, known: &[String]) -> Result<Step, UsageError> {
        self.step_scoped(raw, known, false)
    }

    /// A step; `user_scope` makes its captures per user whatever its `scope` says.
    fn step_scoped(&mut self, raw: &RawRequest, known: &[String], user_scope: bool) -> Result<Step, UsageError> {
        let f = self.file;
        let path = raw.path.get_ref();
        // The path's own text is checked here; what its placeholders render, where it is known
        // before the run, once the template is parsed (`{{random_int 1 20}}` holds a space,
        // its rendering none).
        if !path.starts_with('/') || outside_placeholders(path).any(|c| c.is_whitespace() || c.is_control()) {
            return Err(f.at(
                raw.path.span().start,
                "path",
                format!("'{path}' must start with '/' and have no spaces"),
            ));
        }
        let body = match (&raw.body, &raw.json) {
            (Some(_), Some(j)) => {
                return Err(f.at(j.span().start, "json", "a request has a body or a json body, not both"))
            }
            _ if raw.multipart.is_some() => {
                let m = raw.multipart.as_ref().map_or(0, |m| m.span().start);
                if raw.body.is_some() || raw.json.is_some() {
                    return Err(f.at(m, "multipart", "a request has one body: body, json or multipart"));
                }
                if raw.headers.keys().any(|k| k.eq_ignore_ascii_case("content-type")) {
                    return Err(f.at(m, "headers", "a multipart body sets its own Content-Type (with the boundary)"));
                }
                self.multipart(raw, known)?
            }
            (None, None) if raw.split.is_some() => Body::Chunk,
            (_, Some(j)) => {
                let names = self.scope_names(known);
                let scope = Scope { user_columns: self.columns, vars: &names };
                Body::Template(super::json::compile(j.get_ref(), scope).map_err(|e| f.at(j.span().start, "json", e))?)
            }
            (_, None) => self.body(raw.body.as_ref(), known)?,
        };
        let method = match &raw.method {
            Some(m) => {
                let v = m.get_ref().trim();
                if let Some(why) = crate::http::request_rules::method_problem(v) {
                    return Err(f.at(m.span().start, "method", why));
                }
                v.to_string()
            }
            // A name that starts with a method says it ("POST /v1/files/{id}/complete").
            None => match raw.name.as_ref().and_then(|n| n.get_ref().split_once(' ')) {
                Some((m, _)) if HTTP_METHODS.contains(&m) => m.to_string(),
                _ if matches!(body, Body::Empty) => "GET".to_string(),
                _ => "POST".to_string(),
            },
        };
        let (name, name_at) = match &raw.name {
            Some(n) => (n.get_ref().clone(), n.span().start),
            None => (path.clone(), raw.path.span().start),
        };
        let row = self.row(&name, &method, name_at)?;
        let path = self.template(path, known, raw.path.span().start, "path")?;
        path.check_path(self.user_rows).map_err(|e| f.at(raw.path.span().start, "path", e))?;
        let mut headers = Vec::new();
        for (k, v) in &raw.headers {
            let at = v.span().start;
            if !crate::http::request_rules::is_header_name(k) || v.get_ref().contains(['\r', '\n']) {
                return Err(f.at(at, "headers", format!("'{k}' is not a valid HTTP header")));
            }
            if crate::http::request_rules::set_by_blast(k) {
                return Err(f.at(at, "headers", format!("'{k}' is set by blast")));
            }
            headers.push((k.clone(), self.template(v.get_ref(), known, at, "headers")?));
        }
        for (k, v) in self.extra {
            if !raw.headers.keys().any(|h| h.eq_ignore_ascii_case(k)) {
                headers.push((k.clone(), Template::literal(v.clone().into_bytes())));
            }
        }
        let mut step = Step::new(row, &method, path, headers, body, self.authority);
        let per_user = match &raw.scope {
            None => user_scope,
            Some(s) => match s.get_ref().as_str() {
                "user" => true,
                "iteration" => false,
                other => return Err(f.at(s.span().start, "scope", format!("'{other}' is not one of user, iteration"))),
            },
        };
        if raw.scope.is_some() && raw.capture.is_empty() {
            let at = raw.scope.as_ref().map_or(0, |s| s.span().start);
            return Err(f.at(at, "scope", "scope applies to captures; this step captures nothing"));
        }
        for (name, spec) in &raw.capture {
            let at = spec.span().start;
            if !crate::template::is_identifier(name) {
                return Err(f.at(at, "capture", format!("'{name}' is not a variable name (letters, digits, _)")));
            }
            let source = Source::parse(spec.get_ref()).map_err(|e| f.at(at, "capture", e))?;
            let slot = match self.vars.iter().position(|v| &v.name == name) {
                Some(i) if self.vars[i].per_user != per_user => {
                    return Err(f.at(
                        at,
                        "capture",
                        format!("'{name}' is captured per user elsewhere and per iteration here"),
                    ))
                }
                Some(i) => i,
                None => {
                    self.vars.push(Var { name: name.clone(), per_user });
                    self.vars.len() - 1
                }
            };
            step.captures.push(Capture { slot, source, per_user });
        }
        self.checks(raw, known, &mut step)?;
        if let Some(rep) = &raw.repeat {
            let at = rep.span().start;
            step.repeat = match rep.get_ref() {
                toml::Value::Integer(n) if *n >= 1 => Repeat::Times(*n as u64),
                toml::Value::String(t) => Repeat::Template(self.template(t, known, at, "repeat")?),
                _ => {
                    return Err(f.at(
                        at,
                        "repeat",
                        "expected a count of at least 1, or a template such as \"{{user.chunks}}\"",
                    ))
                }
            };
            if step.once_per_user() {
                return Err(f.at(at, "repeat", "a step that captures per user runs once per user and cannot repeat"));
            }
        }
        Ok(step)
    }

    /// `expect`, `slow` and `split`, into `step`.
    fn checks(&self, raw: &RawRequest, known: &[String], step: &mut Step) -> Result<(), UsageError> {
        let f = self.file;
        if let Some(e) = &raw.expect {
            let at = e.span().start;
            let e = e.get_ref();
            if let Some(status) = &e.status {
                if status.is_empty() || status.iter().any(|s| !(100..400).contains(s)) {
                    return Err(f.at(
                        at,
                        "expect",
                        "status: expected a list of statuses from 100 to 399 (400 and above always fail)",
                    ));
                }
                step.expect.status = Some(status.iter().map(|&s| s as u16).collect());
            }
            for (pointer, want) in &e.json {
                if !valid_pointer(pointer) {
                    return Err(f.at(
                        at,
                        "expect",
                        format!("json: '{pointer}' is not a JSON pointer (\"/field\", \"/items/0/id\")"),
                    ));
                }
                step.expect.json.push((pointer.clone(), self.template(want, known, at, "expect")?));
            }
            if let Some(text) = &e.body_contains {
                if text.is_empty() {
                    return Err(f.at(at, "expect", "body_contains: expected some text"));
                }
                step.expect.body_contains = Some(self.template(text, known, at, "expect")?);
            }
        }
        if let Some(slow) = &raw.slow {
            let d = crate::units::parse_duration(slow.get_ref()).map_err(|e| f.at(slow.span().start, "slow", e))?;
            if d.is_zero() {
                return Err(f.at(slow.span().start, "slow", "must be greater than 0"));
            }
            step.expect.slow = Some(d);
        }
        let chunk_parts = match &step.body {
            Body::Multipart(m) => {
                m.pieces.iter().filter(|p| matches!(p, MultipartPiece::Data(PartData::Chunk))).count()
            }
            Body::Chunk => 1,
            _ => 0,
        };
        match &raw.split {
            None if chunk_parts > 0 => {
                let at = raw.multipart.as_ref().map_or(0, |m| m.span().start);
                Err(f.at(at, "multipart", "a part with chunk = true needs the step's split = { total, chunk }"))
            }
            None => Ok(()),
            Some(split) => {
                let at = split.span().start;
                if chunk_parts == 0 {
                    return Err(f.at(
                        at,
                        "split",
                        "split has no chunk destination: leave out body, or mark a multipart part chunk = true",
                    ));
                }
                if raw.repeat.is_some() {
                    return Err(f.at(at, "split", "a step has split or repeat, not both"));
                }
                let size = |v: &toml::Value, what: &str| -> Result<Option<u64>, UsageError> {
                    match v {
                        toml::Value::Integer(n) if *n >= 0 => Ok(Some(*n as u64)),
                        toml::Value::String(t) if t.contains("{{") => Ok(None),
                        toml::Value::String(t) => {
                            crate::units::parse_size(t).map(Some).map_err(|e| f.at(at, "split", format!("{what}: {e}")))
                        }
                        _ => Err(f.at(at, "split", format!("{what}: expected a size such as \"10M\""))),
                    }
                };
                let chunk = match size(&split.get_ref().chunk, "chunk")? {
                    Some(n) if (1..=MAX_RANDOM_BODY).contains(&n) => n,
                    _ => return Err(f.at(at, "split", "chunk: expected a size from 1 byte to 1G")),
                };
                let total = match (size(&split.get_ref().total, "total")?, &split.get_ref().total) {
                    (Some(n), _) => SplitTotal::Bytes(n),
                    (None, toml::Value::String(t)) => SplitTotal::Template(self.template(t, known, at, "split")?),
                    (None, _) => return Err(f.at(at, "split", "total: expected a size or a template")),
                };
                step.split = Some(Split { total, chunk });
                Ok(())
            }
        }
    }

    /// A `multipart = [...]` body: a boundary of the step's own, each part's framing and
    /// value as templates, file bytes as zero-copy data.
    fn multipart(&self, raw: &RawRequest, known: &[String]) -> Result<Body, UsageError> {
        let f = self.file;
        let Some(parts) = &raw.multipart else { return Ok(Body::Empty) };
        if parts.get_ref().is_empty() {
            return Err(f.at(parts.span().start, "multipart", "expected at least one part"));
        }
        // Unique per step and never in random data by chance (120 random bits).
        let mut rng = crate::engine::rng::SplitMix64::new(parts.span().start as u64 ^ 0x6d75_6c74_6970_6172);
        let boundary = format!("blast-{:016x}{:016x}", rng.next_u64(), rng.next_u64());
        let mut pieces: Vec<MultipartPiece> = Vec::new();
        let mut text: Vec<Template> = Vec::new();
        let mut chunks = 0;
        for part in parts.get_ref() {
            let at = part.span().start;
            let p = part.get_ref();
            let quoted_ok = |s: &str| !s.contains(['"', '\r', '\n']);
            if p.name.is_empty() || !quoted_ok(&p.name) {
                return Err(f.at(at, "multipart", format!("'{}' is not a part name (no quotes, one line)", p.name)));
            }
            let sources = [p.value.is_some(), p.random_bytes.is_some(), p.file.is_some(), p.chunk == Some(true)];
            if sources.iter().filter(|&&b| b).count() != 1 {
                return Err(f.at(
                    at,
                    "multipart",
                    format!("part '{}': give exactly one of value, random_bytes, file, chunk = true", p.name),
                ));
            }
            text.push(Template::literal(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"", p.name).into_bytes(),
            ));
            if let Some(name) = &p.filename {
                // Escaped as it renders: a `"`, `\` or line break from a users file or a
                // capture cannot end the parameter or the header.
                text.push(Template::literal(b"; filename=\"".to_vec()));
                text.push(self.template(name, known, at, "multipart")?.quoted_escaped());
                text.push(Template::literal(b"\"".to_vec()));
            } else if p.value.is_none() {
                return Err(f.at(at, "multipart", format!("part '{}': a file part needs a filename", p.name)));
            }
            text.push(Template::literal(b"\r\n".to_vec()));
            if let Some(ct) = &p.content_type {
                if ct.is_empty() || ct.contains(['\r', '\n']) {
                    return Err(f.at(at, "multipart", "content_type: one non-empty line"));
                }
                text.push(Template::literal(format!("Content-Type: {ct}\r\n").into_bytes()));
            }
            text.push(Template::literal(b"\r\n".to_vec()));
            let data = if let Some(v) = &p.value {
                text.push(self.template(v, known, at, "multipart")?);
                None
            } else if let Some(size) = &p.random_bytes {
                let n =
                    crate::units::parse_size(size).map_err(|e| f.at(at, "multipart", format!("random_bytes: {e}")))?;
                if n == 0 || n > MAX_RANDOM_BODY {
                    return Err(f.at(at, "multipart", format!("random_bytes must be from 1 byte to 1G, not {size}")));
                }
                Some(PartData::Random(n as usize))
            } else if let Some(file) = &p.file {
                let path = f.dir().join(file);
                let bytes =
                    std::fs::read(&path).map_err(|e| f.at(at, "multipart", format!("{}: {e}", path.display())))?;
                Some(PartData::Fixed(bytes.into()))
            } else {
                chunks += 1;
                if chunks > 1 {
                    return Err(f.at(at, "multipart", "only one part may be the step's chunk"));
                }
                Some(PartData::Chunk)
            };
            if let Some(data) = data {
                pieces.push(MultipartPiece::Text(Template::concat(std::mem::take(&mut text))));
                pieces.push(MultipartPiece::Data(data));
            }
            text.push(Template::literal(b"\r\n".to_vec()));
        }
        text.push(Template::literal(format!("--{boundary}--\r\n").into_bytes()));
        pieces.push(MultipartPiece::Text(Template::concat(text)));
        Ok(Body::Multipart(super::Multipart { boundary, pieces }))
    }

    fn body(&self, raw: Option<&Spanned<toml::Value>>, known: &[String]) -> Result<Body, UsageError> {
        let f = self.file;
        let Some(raw) = raw else { return Ok(Body::Empty) };
        let at = raw.span().start;
        let expected = "expected a string (a template), { file = \"PATH\" } or { random_bytes = \"10M\" }";
        match raw.get_ref() {
            toml::Value::String(t) => {
                let t = self.template(t, known, at, "body")?;
                Ok(match t.as_literal() {
                    Some(b"") => Body::Empty,
                    _ => Body::Template(t),
                })
            }
            toml::Value::Table(t) if t.len() == 1 => match t.iter().next() {
                Some((k, toml::Value::String(v))) if k == "file" => {
                    let path = f.dir().join(v);
                    let bytes =
                        std::fs::read(&path).map_err(|e| f.at(at, "body", format!("{}: {e}", path.display())))?;
                    Ok(Body::Fixed(bytes.into()))
                }
                Some((k, toml::Value::String(v))) if k == "random_bytes" => {
                    let n = crate::units::parse_size(v).map_err(|e| f.at(at, "body", format!("random_bytes: {e}")))?;
                    if n == 0 || n > MAX_RANDOM_BODY {
                        return Err(f.at(at, "body", format!("random_bytes must be from 1 byte to 1G, not {v}")));
                    }
                    Ok(Body::Random(n as usize))
                }
                _ => Err(f.at(at, "body", expected)),
            },
            _ => Err(f.at(at, "body", expected)),
        }
    }
}

/// A JSON pointer (RFC 6901): empty (the whole document) or `/`-separated tokens whose `~` is
/// `~0` or `~1`.
fn valid_pointer(p: &str) -> bool {
    (p.is_empty() || p.starts_with('/'))
        && p.split('~').skip(1).all(|after| after.starts_with('0') || after.starts_with('1'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Scenario, String> {
        #[derive(Deserialize)]
        struct Doc {
            data: Option<Spanned<RawData>>,
            #[serde(default)]
            on_start: Vec<Spanned<RawRequest>>,
            #[serde(default)]
            request: Vec<Spanned<RawRequest>>,
            #[serde(default)]
            flow: Vec<Spanned<RawFlow>>,
        }
        let doc: Doc = toml::from_str(text).map_err(|e| e.to_string())?;
        let f = ScenarioFile {
            data: doc.data,
            on_start: doc.on_start,
            requests: doc.request,
            flows: doc.flow,
            file: "s.toml".into(),
            text: text.into(),
        };
        f.build("127.0.0.1:8000", 1, &[]).map_err(|e| e.0)
    }

    #[test]
    fn mix_and_flow_build_rows_and_slots() {
        let s = load(
            r#"
[[request]]
name = "POST /v1/messages"
weight = 10
path = "/v1/messages"
body = '{"c":"{{random_text 8}}"}'

[[request]]
path = "/v1/conversations?limit=20"

[[flow]]
name = "login, then post"
steps = [
  { name = "POST /auth/login", method = "POST", path = "/auth/login", body = '{}', capture = { token = "/access_token" }, scope = "user" },
  { name = "POST /v1/messages", path = "/v1/messages", headers = { Authorization = "Bearer {{token}}" }, body = 'x' },
]
"#,
        )
        .expect("valid");
        assert_eq!(s.weights, vec![10, 1, 1]);
        let names: Vec<&str> = s.rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["POST /v1/messages", "/v1/conversations?limit=20", "login, then post", "POST /auth/login"]);
        assert_eq!(s.rows[1].kind, "GET");
        assert_eq!(s.rows[2].kind, "flow");
        assert_eq!(s.vars, vec![Var { name: "token".into(), per_user: true }]);
        assert!(s.iterations[2].steps[0].once_per_user());
        assert_eq!(s.iterations[2].steps[1].row, 0);
    }

    #[test]
    fn errors_name_line_and_field() {
        let err = |t: &str| load(t).expect_err(t);
        assert!(err("[[request]]\npath = \"/a\"\nweight = 0\n").starts_with("s.toml:3: field 'weight'"));
        assert!(err("[[request]]\npath = \"/a\"\nbody = '{{nope}}'\n").starts_with("s.toml:3: field 'body'"));
        let e = err("[[flow]]\nname = \"f\"\nsteps = [\n { path = \"/a\", headers = { A = \"{{token}}\" } },\n { path = \"/b\", capture = { token = \"/t\" } },\n]\n");
        assert!(e.starts_with("s.toml:4: field 'headers'") && e.contains("captured by an earlier step"), "{e}");
        assert!(err("[[request]]\npath = \"/a\"\nbody = '{{user.name}}'\n").contains("users file"));
        assert!(err("[[flow]]\nname = \"f\"\nsteps = [{ path = \"/a\", capture = { t = \"access\" } }]\n")
            .contains("JSON pointer"));
        assert!(err("[[request]]\npath = \"a\"\n").contains("field 'path'"));
        assert!(err("[[request]]\npath = \"/a\"\ncolour = 1\n").contains("colour"));
    }

    #[test]
    fn a_path_is_judged_by_what_it_renders_not_by_its_placeholders() {
        // Placeholders with arguments hold spaces; what they render holds none.
        let s = load("[[request]]\npath = \"/api/modules/m-{{random_int 1 20}}/{{ pick a,b }}/config\"\n")
            .expect("a path with function arguments");
        assert!(!s.iterations[0].steps[0].check_path);
        assert_eq!(s.rows[0].name, "/api/modules/m-{{random_int 1 20}}/{{ pick a,b }}/config");
        // A captured value is checked per request.
        let flow = "[[flow]]\nname = \"f\"\nsteps = [\n { path = \"/a\", capture = { run = \"/id\" } },\n { path = \"/runs/{{run}}\" },\n]\n";
        assert!(load(flow).expect("flow").iterations[0].steps[1].check_path);
        // A literal space, a tab, or a space a placeholder would render: the file's line.
        let err = |t: &str| load(t).expect_err(t);
        let e = err("[[request]]\nname = \"x\"\npath = \"/a b/{{seq}}\"\n");
        assert!(e.starts_with("s.toml:3: field 'path'") && e.contains("no spaces"), "{e}");
        assert!(err("[[request]]\npath = \"/a\\tb\"\n").starts_with("s.toml:2: field 'path'"));
        let e = err("[[request]]\npath = \"/a/{{pick x y,z}}\"\n");
        assert!(e.starts_with("s.toml:2: field 'path'") && e.contains("'x y'"), "{e}");
        let e = err("[[request]]\npath = \"/a/{{random_text 5}}\"\n");
        assert!(e.starts_with("s.toml:2: field 'path'") && e.contains("random_text"), "{e}");
    }
}
