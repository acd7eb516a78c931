//! One Locust function body (a task, `on_start`, a helper it calls) turned into blast steps:
//! statements and expressions are followed statically. Requests become steps; values taken
//! from responses become captures; `for i in range(N)` around a request becomes `repeat` (or
//! `split` when it slices a byte buffer); `catch_response` checks become `expect` and `slow`.
//! What cannot be followed is recorded with its line, never dropped.

use super::locust_value::{brace_format, percent_format, pointer_token, Val};
use super::model::{Body, Part, Skipped, Step};
use rustpython_parser::ast::{self, Constant, Expr, Ranged, Stmt};
use std::collections::HashMap;

/// The source text, for line numbers and the lines quoted in comments.
pub struct Source<'a> {
    pub name: &'a str,
    pub text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Source<'a> {
    pub fn new(name: &'a str, text: &'a str) -> Source<'a> {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Source { name, text, starts }
    }

    /// The 1-based line of a byte offset.
    pub fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset)
    }

    pub fn line_of(&self, node: &impl Ranged) -> usize {
        self.line(node.range().start().to_usize())
    }

    /// The line's text, trimmed.
    pub fn text_of(&self, line: usize) -> String {
        let start = self.starts.get(line.wrapping_sub(1)).copied().unwrap_or(0);
        let end = self.starts.get(line).map_or(self.text.len(), |e| e.saturating_sub(1));
        self.text.get(start..end).unwrap_or("").trim().to_string()
    }
}

/// What a user class offers its functions: class attributes and methods.
pub struct Class<'a> {
    pub name: String,
    pub attrs: HashMap<String, Val>,
    pub methods: HashMap<String, &'a ast::StmtFunctionDef>,
    /// Why `self.client` is not Locust's HTTP client (a `User` subclass, a client set by hand).
    pub custom_client: Option<String>,
}

/// A `for i in range(...)` being translated.
struct Loop {
    var: String,
    /// `repeat`: a count or a template.
    count: Val,
    /// The loop variable's first two values (to read a slice's chunk size).
    probe: (i64, i64),
    /// Requests sent inside it.
    requests: usize,
}

/// Translates function bodies of one user class into steps.
pub struct Task<'a> {
    pub src: &'a Source<'a>,
    pub module: &'a HashMap<String, Val>,
    pub class: Option<&'a Class<'a>>,
    /// The name `self` goes by (a module-level task function's parameter).
    pub self_name: String,
    pub locals: HashMap<String, Val>,
    /// `self.x` set so far (carried from `on_start` to the tasks).
    pub attrs: HashMap<String, Val>,
    /// `self.client.headers[...]`: sent with every later request.
    pub session_headers: Vec<(String, Val)>,
    pub steps: Vec<Step>,
    pub skipped: Vec<Skipped>,
    /// Comments for the next step.
    pub pending: Vec<String>,
    /// The users file a row was taken from.
    pub users_file: Option<String>,
    /// The largest `timeout=` of a request, in seconds.
    pub timeout: Option<f64>,
    /// Capture variable names already used (by any step of the profile) with their source.
    pub captured: Vec<(String, usize, String)>,
    /// `on_start`: captures are per user.
    pub per_user: bool,
    /// The line of the statement being translated.
    line: usize,
    looping: Option<Loop>,
    returned: Option<Val>,
    depth: usize,
}

const MODULES: &[&str] = &[
    "random",
    "math",
    "os",
    "time",
    "uuid",
    "hashlib",
    "string",
    "csv",
    "json",
    "gevent",
    "itertools",
    "logging",
    "datetime",
    "locust",
    "sys",
    "base64",
    "io",
    "secrets",
];

impl<'a> Task<'a> {
    pub fn new(src: &'a Source<'a>, module: &'a HashMap<String, Val>, class: Option<&'a Class<'a>>) -> Task<'a> {
        Task {
            src,
            module,
            class,
            self_name: "self".into(),
            locals: HashMap::new(),
            attrs: HashMap::new(),
            session_headers: Vec::new(),
            steps: Vec::new(),
            skipped: Vec::new(),
            pending: Vec::new(),
            users_file: None,
            timeout: None,
            captured: Vec::new(),
            per_user: false,
            line: 0,
            looping: None,
            returned: None,
            depth: 0,
        }
    }

    /// Records a construct that is not translated, with a comment at its place.
    pub fn skip(&mut self, line: usize, why: impl Into<String>) {
        let why = why.into();
        if self.skipped.iter().any(|s| s.line == line) {
            return;
        }
        let s = Skipped { line, source: self.src.text_of(line), why };
        self.pending.push(s.comment(self.src.name));
        self.skipped.push(s);
    }

    /// Ready for the next function body of the same run: its locals and return are gone, what
    /// it set on `self` and its steps stay.
    pub fn begin(&mut self) {
        self.locals.clear();
        self.returned = None;
    }

    // ---------------------------------------------------------------- statements

    pub fn stmts(&mut self, body: &[Stmt]) {
        for s in body {
            if self.returned.is_some() {
                break;
            }
            self.stmt(s);
        }
    }

    fn stmt(&mut self, s: &Stmt) {
        let line = self.src.line_of(s);
        self.line = line;
        if matches!(s, Stmt::Expr(_) | Stmt::Assign(_)) && self.src.text_of(line).contains("gevent.") {
            return self.skip(line, "a gevent call: greenlets and gevent sleeps run Python code blast does not run");
        }
        match s {
            Stmt::Expr(e) => {
                if matches!(&*e.value, Expr::Constant(c) if matches!(c.value, Constant::Str(_))) {
                    return; // a docstring
                }
                if let Val::Unknown(why) = self.expr(&e.value) {
                    self.skip(line, why);
                }
            }
            Stmt::Assign(a) => {
                let v = self.expr(&a.value);
                for t in &a.targets {
                    self.assign(t, v.clone());
                }
            }
            Stmt::AnnAssign(a) => {
                if let Some(value) = &a.value {
                    let v = self.expr(value);
                    self.assign(&a.target, v);
                }
            }
            Stmt::AugAssign(a) => {
                let why = format!("changed at line {line} ({})", self.src.text_of(line));
                self.assign(&a.target, Val::Unknown(why));
            }
            Stmt::With(w) => {
                for item in &w.items {
                    let v = self.expr(&item.context_expr);
                    if let Val::Unknown(why) = &v {
                        self.skip(line, why.clone());
                    }
                    if let Some(target) = &item.optional_vars {
                        self.assign(target, v);
                    }
                }
                self.stmts(&w.body);
            }
            Stmt::If(i) => self.if_stmt(i, line),
            Stmt::For(f) => self.for_stmt(f, line),
            Stmt::While(_) => {
                self.skip(line, "a while loop: a blast step runs once, or a fixed number of times with repeat")
            }
            Stmt::Try(t) => {
                self.stmts(&t.body);
                for h in &t.handlers {
                    let ast::ExceptHandler::ExceptHandler(h) = h;
                    let l = self.src.line_of(h);
                    self.skip(l, "an except handler: blast counts the error as a failure and ends the iteration");
                }
                self.stmts(&t.orelse);
                self.stmts(&t.finalbody);
            }
            Stmt::Return(r) => {
                let v = r.value.as_ref().map_or(Val::None, |v| self.expr(v));
                self.returned = Some(v);
            }
            Stmt::Assert(a) => {
                let resp = self.response_in(&a.test);
                match resp {
                    Some(i) => {
                        if let Err(why) = self.success_cond(i, &a.test) {
                            self.skip(line, why);
                        }
                    }
                    None => self.skip(line, "an assert on a value known only at run time"),
                }
            }
            Stmt::Pass(_) | Stmt::Import(_) | Stmt::ImportFrom(_) | Stmt::Global(_) | Stmt::Nonlocal(_) => {}
            Stmt::Raise(_) => self.skip(line, "raise: blast has no way to stop a user or fail on purpose"),
            Stmt::Break(_) | Stmt::Continue(_) => self.skip(line, "break/continue inside a loop"),
            _ => self.skip(line, "a statement blast has no equivalent for"),
        }
    }

    fn assign(&mut self, target: &Expr, v: Val) {
        match target {
            Expr::Name(n) => {
                let v = self.bind(n.id.as_str(), v);
                self.locals.insert(n.id.to_string(), v);
            }
            Expr::Attribute(a) if self.is_self(&a.value) => {
                if a.attr.as_str() == "client" {
                    let why = format!("a custom client (self.client set at line {})", self.line);
                    self.attrs.insert("client".into(), Val::Unknown(why.clone()));
                    self.skip(self.line, why);
                    return;
                }
                let v = self.bind(a.attr.as_str(), v);
                self.attrs.insert(a.attr.to_string(), v);
            }
            Expr::Subscript(s) if self.is_client_headers(&s.value) => match self.expr(&s.slice) {
                Val::Str(k) => self.set_header(k, v),
                _ => self.skip(self.line, "a header name known only at run time"),
            },
            Expr::Tuple(t) => match v {
                Val::List(items) if items.len() == t.elts.len() => {
                    for (e, v) in t.elts.iter().zip(items) {
                        self.assign(e, v);
                    }
                }
                _ => {
                    let why = format!("unpacked at line {} from {}", self.line, v.kind());
                    for e in &t.elts {
                        self.assign(e, Val::Unknown(why.clone()));
                    }
                }
            },
            _ => self.skip(self.line, "an assignment blast cannot follow"),
        }
    }

    fn set_header(&mut self, k: String, v: Val) {
        self.session_headers.retain(|(h, _)| !h.eq_ignore_ascii_case(&k));
        self.session_headers.push((k, v));
    }

    /// A value taken from a response becomes a capture of that response's step, named after
    /// the variable it was stored in; the name then stands for `{{var}}`.
    fn bind(&mut self, name: &str, v: Val) -> Val {
        match v {
            Val::Field(step, source) if !source.is_empty() && source != "header:" => {
                let var = self.capture(step, &source, name);
                Val::Tmpl(format!("{{{{{var}}}}}"))
            }
            v => v,
        }
    }

    /// A response value used inside another value (`"Bearer " + r.json()["token"]`) is captured
    /// under the name of its last pointer token.
    fn settle(&mut self, v: Val) -> Val {
        match v {
            Val::Field(step, source) if !source.is_empty() && source != "header:" => {
                let name = source.rsplit(['/', ':']).next().unwrap_or("value").replace('-', "_").to_lowercase();
                let var = self.capture(step, &source, &name);
                Val::Tmpl(format!("{{{{{var}}}}}"))
            }
            v => v,
        }
    }

    fn capture(&mut self, step: usize, source: &str, name: &str) -> String {
        if let Some((v, _, _)) = self.captured.iter().find(|(_, s, src)| *s == step && src == source) {
            return v.clone();
        }
        let mut base: String =
            name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
        if base.is_empty() || base.starts_with(|c: char| c.is_ascii_digit()) {
            base.insert_str(0, "v_");
        }
        if ["seq", "i", "user", "core", "conn", "offset", "len", "chunks"].contains(&base.as_str()) {
            base.push_str("_value");
        }
        let mut var = base.clone();
        let mut n = 2;
        while self.captured.iter().any(|(v, _, _)| *v == var) {
            var = format!("{base}_{n}");
            n += 1;
        }
        self.captured.push((var.clone(), step, source.to_string()));
        if let Some(s) = self.steps.get_mut(step) {
            s.capture.push((var.clone(), source.to_string()));
        }
        var
    }

    fn if_stmt(&mut self, i: &ast::StmtIf, line: usize) {
        if let Some(resp) = self.response_in(&i.test) {
            if let Err(why) = self.check_chain(resp, i) {
                self.skip(line, why);
            }
            return;
        }
        match self.expr(&i.test).truth() {
            Some(true) => self.stmts(&i.body),
            Some(false) => self.stmts(&i.orelse),
            None => self.skip(
                line,
                "an if on a value known only at run time (a random or data-dependent branch): use weights instead",
            ),
        }
    }

    fn for_stmt(&mut self, f: &ast::StmtFor, line: usize) {
        if !f.orelse.is_empty() {
            return self.skip(line, "a for loop with an else clause");
        }
        let Expr::Name(var) = &*f.target else {
            return self.skip(line, "a for loop with more than one variable");
        };
        if let Some(range) = self.range_args(&f.iter) {
            if self.looping.is_some() {
                return self.skip(line, "a loop inside a loop: blast repeats one step");
            }
            let (start, stop, step) = match range {
                Ok(r) => r,
                Err(why) => return self.skip(line, why),
            };
            let count = match (&stop, start, step) {
                (Val::Int(stop), start, step) if step > 0 => Val::Int(((stop - start).max(0) + step - 1) / step),
                (Val::Num(t) | Val::Tmpl(t), 0, 1) => Val::Tmpl(t.clone()),
                _ => return self.skip(line, "a loop count known only at run time"),
            };
            if matches!(count, Val::Int(0)) {
                return;
            }
            let index = match (start, step) {
                (0, 1) => Val::Num("{{i}}".into()),
                (0, _) => Val::Num("{{offset}}".into()),
                _ => Val::Unknown(format!("the loop variable of line {line} (a range not starting at 0)")),
            };
            let saved = self.locals.insert(var.id.to_string(), index);
            self.looping = Some(Loop { var: var.id.to_string(), count, probe: (start, start + step), requests: 0 });
            self.stmts(&f.body);
            let l = self.looping.take();
            restore(&mut self.locals, var.id.as_str(), saved);
            match l.map_or(0, |l| l.requests) {
                0 => self.skip(line, "a loop without requests"),
                1 => {}
                _ => self.skip(
                    line,
                    "a loop around several requests: blast repeats one step at a time (A A B B, not A B A B)",
                ),
            }
            return;
        }
        match self.expr(&f.iter) {
            Val::List(items) if items.len() <= 100 => {
                let saved = self.locals.get(var.id.as_str()).cloned();
                for item in items {
                    self.locals.insert(var.id.to_string(), item);
                    self.stmts(&f.body);
                }
                restore(&mut self.locals, var.id.as_str(), saved);
            }
            _ => self.skip(line, "a for loop over values known only at run time"),
        }
    }

    /// `range(stop)`, `range(start, stop)`, `range(start, stop, step)`: start and step must be
    /// known, stop may be a template.
    #[allow(clippy::type_complexity)]
    fn range_args(&mut self, e: &Expr) -> Option<Result<(i64, Val, i64), String>> {
        let Expr::Call(c) = e else { return None };
        let Expr::Name(n) = &*c.func else { return None };
        if n.id.as_str() != "range" {
            return None;
        }
        let args: Vec<Val> = c.args.iter().map(|a| self.expr(a)).collect();
        let known = |v: &Val| v.int().ok_or_else(|| format!("a range bound known only at run time ({})", v.kind()));
        Some(match args.as_slice() {
            [stop] => Ok((0, stop.clone(), 1)),
            [start, stop] => known(start).map(|s| (s, stop.clone(), 1)),
            [start, stop, step] => known(start).and_then(|s| Ok((s, stop.clone(), known(step)?))),
            _ => Err("range() with these arguments".into()),
        })
    }

    // ---------------------------------------------------------------- response checks

    /// The step of the response a condition looks at (`r.status_code`, `r.json()[...]`).
    fn response_in(&mut self, e: &Expr) -> Option<usize> {
        let mut found = None;
        walk(e, &mut |x| {
            if let Expr::Name(n) = x {
                if let Some(Val::Resp(i)) = self.locals.get(n.id.as_str()) {
                    found = Some(*i);
                }
            }
        });
        found
    }

    /// An `if`/`elif`/`else` chain about a response: failure branches say what must not be,
    /// success branches what must be; statements in success branches are translated.
    fn check_chain(&mut self, resp: usize, i: &ast::StmtIf) -> Result<(), String> {
        match branch_kind(&i.body) {
            Branch::Failure => {
                let conds: Vec<&Expr> = match &*i.test {
                    Expr::BoolOp(b) if b.op == ast::BoolOp::Or => b.values.iter().collect(),
                    t => vec![t],
                };
                for c in conds {
                    self.failure_cond(resp, c)?;
                }
            }
            Branch::Success | Branch::Other => {
                self.success_cond(resp, &i.test)?;
                self.stmts(&i.body);
            }
        }
        match i.orelse.as_slice() {
            [] => Ok(()),
            [Stmt::If(elif)] => {
                self.line = self.src.line_of(elif);
                self.check_chain(resp, elif)
            }
            rest => match branch_kind(rest) {
                Branch::Failure | Branch::Success => Ok(()),
                Branch::Other => {
                    if branch_kind(&i.body) == Branch::Failure {
                        self.stmts(rest);
                        Ok(())
                    } else {
                        Err("an else branch that does more than mark the response".into())
                    }
                }
            },
        }
    }

    /// A condition under which the response fails.
    fn failure_cond(&mut self, resp: usize, c: &Expr) -> Result<(), String> {
        let Expr::Compare(cmp) = c else {
            return Err("a failure condition other than a comparison".into());
        };
        let ([op], [right]) = (cmp.ops.as_slice(), cmp.comparators.as_slice()) else {
            return Err("a chained comparison".into());
        };
        use ast::CmpOp as O;
        if is_status(&cmp.left) {
            let r = self.expr(right);
            return match (op, &r) {
                (O::NotEq, Val::Int(n)) => self.expect_status(resp, vec![*n]),
                (O::NotIn, Val::List(l)) => self.expect_status(resp, l.iter().filter_map(Val::int).collect()),
                (O::GtE, Val::Int(400)) | (O::Gt, Val::Int(399)) => Ok(()),
                _ => Err("a status condition blast cannot express (expect lists the statuses that pass)".into()),
            };
        }
        if let Some(scale) = elapsed_seconds(&cmp.left) {
            let limit = match right {
                Expr::Call(t) if dotted(&t.func).is_some_and(|d| d.ends_with("timedelta")) => {
                    let mut secs = 0.0;
                    for k in &t.keywords {
                        let v = self.expr(&k.value).float().ok_or("a timedelta known only at run time")?;
                        secs += v * match k.arg.as_ref().map(|a| a.as_str()) {
                            Some("seconds") => 1.0,
                            Some("milliseconds") => 0.001,
                            Some("minutes") => 60.0,
                            _ => return Err("a timedelta unit blast does not read".into()),
                        };
                    }
                    secs
                }
                r => self.expr(r).float().ok_or("a time limit known only at run time")? * scale,
            };
            if !matches!(op, O::Gt | O::GtE) || limit <= 0.0 {
                return Err("an elapsed-time condition other than elapsed > limit".into());
            }
            self.steps[resp].slow = Some(seconds_text(limit));
            return Ok(());
        }
        if is_text(right) && matches!(op, O::NotIn) {
            let needle = self.expr(&cmp.left).text()?;
            self.steps[resp].expect_contains = Some(needle);
            return Ok(());
        }
        let left = self.expr(&cmp.left);
        let r = self.expr(right);
        match (op, left, r) {
            (O::NotEq, Val::Field(i, p), want) | (O::NotEq, want, Val::Field(i, p))
                if i == resp && p.starts_with('/') =>
            {
                let w = want.text()?;
                self.check_sent_sha(&w)?;
                self.steps[resp].expect_json.push((p, w));
                Ok(())
            }
            _ => {
                Err("a response check blast cannot express (expect: status, JSON pointer equals, body contains)".into())
            }
        }
    }

    /// A condition under which the response succeeds.
    fn success_cond(&mut self, resp: usize, c: &Expr) -> Result<(), String> {
        if let Expr::BoolOp(b) = c {
            if b.op == ast::BoolOp::And {
                for v in &b.values {
                    self.success_cond(resp, v)?;
                }
                return Ok(());
            }
        }
        let Expr::Compare(cmp) = c else {
            if let Expr::Attribute(a) = c {
                if a.attr.as_str() == "ok" {
                    return Ok(());
                }
            }
            return Err("a success condition other than a comparison".into());
        };
        let ([op], [right]) = (cmp.ops.as_slice(), cmp.comparators.as_slice()) else {
            return Err("a chained comparison".into());
        };
        use ast::CmpOp as O;
        if is_status(&cmp.left) {
            let r = self.expr(right);
            return match (op, &r) {
                (O::Eq, Val::Int(n)) => self.expect_status(resp, vec![*n]),
                (O::In, Val::List(l)) => self.expect_status(resp, l.iter().filter_map(Val::int).collect()),
                (O::Lt, Val::Int(400)) | (O::LtE, Val::Int(399)) => Ok(()),
                _ => Err("a status condition blast cannot express".into()),
            };
        }
        if is_text(right) && matches!(op, O::In) {
            let needle = self.expr(&cmp.left).text()?;
            self.steps[resp].expect_contains = Some(needle);
            return Ok(());
        }
        let left = self.expr(&cmp.left);
        let r = self.expr(right);
        match (op, left, r) {
            (O::Eq, Val::Field(i, p), want) | (O::Eq, want, Val::Field(i, p)) if i == resp && p.starts_with('/') => {
                let w = want.text()?;
                self.check_sent_sha(&w)?;
                self.steps[resp].expect_json.push((p, w));
                Ok(())
            }
            _ => Err("a response check blast cannot express".into()),
        }
    }

    fn expect_status(&mut self, resp: usize, list: Vec<i64>) -> Result<(), String> {
        if list.is_empty() || list.iter().any(|s| !(100..400).contains(s)) {
            return Err("expected statuses of 400 and above: blast always counts them as failures".into());
        }
        let step = &mut self.steps[resp];
        step.expect_status = list.iter().map(|&s| s as u16).collect();
        Ok(())
    }

    /// `{{sent_sha256}}` exists only after a step that sent split chunks.
    fn check_sent_sha(&self, text: &str) -> Result<(), String> {
        if text.contains("{{sent_sha256}}") && !self.steps.iter().any(|s| s.split.is_some()) {
            return Err("a SHA-256 of bytes that were not sent as split chunks".into());
        }
        Ok(())
    }

    // ---------------------------------------------------------------- expressions

    fn is_self(&self, e: &Expr) -> bool {
        matches!(e, Expr::Name(n) if n.id.as_str() == self.self_name)
    }

    /// `self`, or `self.user` / `self.parent` inside a task set (one namespace, statically).
    fn is_selfish(&self, e: &Expr) -> bool {
        self.is_self(e)
            || matches!(e, Expr::Attribute(a) if matches!(a.attr.as_str(), "user" | "parent") && self.is_self(&a.value))
    }

    fn is_client(&self, e: &Expr) -> bool {
        matches!(e, Expr::Attribute(a) if a.attr.as_str() == "client" && self.is_selfish(&a.value))
    }

    fn is_client_headers(&self, e: &Expr) -> bool {
        matches!(e, Expr::Attribute(a) if a.attr.as_str() == "headers" && self.is_client(&a.value))
    }

    pub fn expr(&mut self, e: &Expr) -> Val {
        match e {
            Expr::Constant(c) => constant(&c.value),
            Expr::Name(n) => self.name(n.id.as_str()),
            Expr::Attribute(a) => self.attribute(a),
            Expr::Subscript(s) => self.subscript(s),
            Expr::Call(c) => self.call(c),
            Expr::JoinedStr(j) => {
                let mut out = String::new();
                let mut literal = true;
                for v in &j.values {
                    let part = match v {
                        Expr::Constant(c) => constant(&c.value),
                        Expr::FormattedValue(f) if f.format_spec.is_none() => {
                            let v = self.expr(&f.value);
                            self.settle(v)
                        }
                        Expr::FormattedValue(_) => return Val::Unknown("an f-string format spec".into()),
                        other => self.expr(other),
                    };
                    literal &= !matches!(part, Val::Tmpl(_) | Val::Num(_) | Val::Sha);
                    match part.text() {
                        Ok(t) => out.push_str(&t),
                        Err(why) => return Val::Unknown(why),
                    }
                }
                if literal {
                    Val::Str(out)
                } else {
                    Val::Tmpl(out)
                }
            }
            Expr::BinOp(b) => {
                let l = self.expr(&b.left);
                let l = self.settle(l);
                let r = self.expr(&b.right);
                let r = self.settle(r);
                binop(b.op, l, r, &b.left)
            }
            Expr::UnaryOp(u) => match (u.op, self.expr(&u.operand)) {
                (ast::UnaryOp::Not, v) => v.truth().map_or_else(unknown_cond, |t| Val::Bool(!t)),
                (ast::UnaryOp::USub, Val::Int(n)) => Val::Int(-n),
                (ast::UnaryOp::USub, Val::Float(x)) => Val::Float(-x),
                _ => unknown_cond(),
            },
            Expr::BoolOp(b) => {
                let vals: Vec<Option<bool>> = b.values.iter().map(|v| self.expr(v).truth()).collect();
                match (b.op, vals.iter().all(Option::is_some)) {
                    (ast::BoolOp::And, true) => Val::Bool(vals.iter().all(|v| *v == Some(true))),
                    (ast::BoolOp::Or, true) => Val::Bool(vals.contains(&Some(true))),
                    _ => unknown_cond(),
                }
            }
            Expr::Compare(c) => {
                let ([op], [right]) = (c.ops.as_slice(), c.comparators.as_slice()) else { return unknown_cond() };
                let l = self.expr(&c.left);
                let r = self.expr(right);
                compare(*op, &l, &r)
            }
            Expr::IfExp(i) => match self.expr(&i.test).truth() {
                Some(true) => self.expr(&i.body),
                Some(false) => self.expr(&i.orelse),
                None => unknown_cond(),
            },
            Expr::Dict(d) => {
                let mut pairs = Vec::new();
                for (k, v) in d.keys.iter().zip(&d.values) {
                    let Some(k) = k else { return Val::Unknown("a ** in a dict".into()) };
                    let key = match self.expr(k) {
                        Val::Str(s) => s,
                        Val::Int(n) => n.to_string(),
                        _ => return Val::Unknown("a dict key known only at run time".into()),
                    };
                    let v = self.expr(v);
                    let v = self.settle(v);
                    pairs.push((key, v));
                }
                Val::Dict(pairs)
            }
            Expr::List(l) => Val::List(self.exprs(&l.elts)),
            Expr::Tuple(t) => Val::List(self.exprs(&t.elts)),
            Expr::ListComp(c) => match c.generators.as_slice() {
                [g] if g.ifs.is_empty() => match self.expr(&g.iter) {
                    Val::Users(f) if matches!((&*c.elt, &g.target), (Expr::Name(a), Expr::Name(b)) if a.id == b.id) => {
                        Val::Users(f)
                    }
                    _ => Val::Unknown("a list comprehension".into()),
                },
                _ => Val::Unknown("a list comprehension".into()),
            },
            Expr::Lambda(_) => Val::Unknown("a lambda".into()),
            _ => Val::Unknown("an expression blast cannot follow".into()),
        }
    }

    /// Values of a list's items or a call's arguments, response values captured.
    fn exprs(&mut self, es: &[Expr]) -> Vec<Val> {
        let mut out = Vec::with_capacity(es.len());
        for e in es {
            let v = self.expr(e);
            out.push(self.settle(v));
        }
        out
    }

    fn name(&mut self, id: &str) -> Val {
        if let Some(v) = self.locals.get(id).or_else(|| self.module.get(id)) {
            return v.clone();
        }
        match id {
            _ if id == self.self_name => Val::Name("self".into()),
            "__file__" => Val::Str(self.src.name.to_string()),
            "True" => Val::Bool(true),
            "False" => Val::Bool(false),
            _ if MODULES.contains(&id) || BUILTINS.contains(&id) => Val::Name(id.into()),
            _ => Val::Unknown(format!("'{id}' is not known before the run")),
        }
    }

    fn attribute(&mut self, a: &ast::ExprAttribute) -> Val {
        let attr = a.attr.as_str();
        if self.is_selfish(&a.value) {
            if let Some(v) = self.attrs.get(attr).or_else(|| self.class.and_then(|c| c.attrs.get(attr))) {
                return v.clone();
            }
            return match attr {
                "client" => match self.class.and_then(|c| c.custom_client.clone()) {
                    Some(why) => Val::Unknown(why),
                    None => Val::Name("self.client".into()),
                },
                "host" => Val::Unknown("self.host".into()),
                _ if self.class.is_some_and(|c| c.methods.contains_key(attr)) => Val::Name(format!("self.{attr}")),
                _ => Val::Unknown(format!("self.{attr} is not set before it is used")),
            };
        }
        match self.expr(&a.value) {
            Val::Name(base) => {
                let full = format!("{base}.{attr}");
                match full.as_str() {
                    "string.ascii_letters" => Val::Str("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".into()),
                    "string.ascii_lowercase" => Val::Str("abcdefghijklmnopqrstuvwxyz".into()),
                    "string.ascii_uppercase" => Val::Str("ABCDEFGHIJKLMNOPQRSTUVWXYZ".into()),
                    "string.digits" => Val::Str("0123456789".into()),
                    "self.client.headers" => Val::Name(full),
                    _ => Val::Name(full),
                }
            }
            Val::Resp(i) => match attr {
                "headers" => Val::Field(i, "header:".into()),
                // FastHttpUser's rest(): the parsed JSON body
                "js" => Val::Field(i, String::new()),
                "status_code" | "text" | "content" | "elapsed" | "ok" => {
                    Val::Unknown(format!("the response's {attr} outside a check blast reads"))
                }
                _ => Val::Unknown(format!("the response's {attr}")),
            },
            Val::Tmpl(t) if t == "{{uuid}}" && attr == "hex" => Val::Tmpl(t),
            Val::Unknown(why) => Val::Unknown(why),
            v => Val::Unknown(format!("the attribute .{attr} of {}", v.kind())),
        }
    }

    fn subscript(&mut self, s: &ast::ExprSubscript) -> Val {
        let base = self.expr(&s.value);
        if let Expr::Slice(sl) = &*s.slice {
            return self.slice(base, sl);
        }
        let key = self.expr(&s.slice);
        index(base, key, &mut self.users_file)
    }

    /// `data[a:b]` of random bytes: inside a range loop, the chunk the loop sends.
    fn slice(&mut self, base: Val, sl: &ast::ExprSlice) -> Val {
        let Val::Bytes(total) = base else { return Val::Unknown(format!("a slice of {}", base.kind())) };
        if sl.step.is_some() {
            return Val::Unknown("a slice with a step".into());
        }
        let Some(l) = &self.looping else {
            let lo = sl.lower.as_ref().map_or(Val::Int(0), |e| self.expr(e)).int();
            let hi = sl.upper.as_ref().map_or(Val::Int(total as i64), |e| self.expr(e)).int();
            return match (lo, hi) {
                (Some(lo), Some(hi)) if hi > lo => Val::Bytes((hi.min(total as i64) - lo.max(0)).max(0) as u64),
                _ => Val::Unknown("a slice known only at run time".into()),
            };
        };
        let (var, probe) = (l.var.clone(), l.probe);
        let mut at = |k: i64, e: &Option<Box<Expr>>, default: i64| -> Option<i64> {
            let saved = self.locals.insert(var.clone(), Val::Int(k));
            let v = e.as_ref().map_or(Some(default), |e| self.expr(e).int());
            restore(&mut self.locals, &var, saved);
            v
        };
        let lo0 = at(probe.0, &sl.lower, 0);
        let hi0 = at(probe.0, &sl.upper, total as i64);
        let lo1 = at(probe.1, &sl.lower, 0);
        match (lo0, hi0, lo1) {
            (Some(0), Some(hi), Some(lo1)) if hi > 0 && lo1 == hi => Val::Chunk(total, hi as u64),
            _ => Val::Unknown("a slice that is not consecutive chunks of one size (data[i*C:(i+1)*C])".into()),
        }
    }

    fn call(&mut self, c: &ast::ExprCall) -> Val {
        // self.client.<method>(...) and self.client.headers.update(...)
        if let Expr::Attribute(f) = &*c.func {
            if self.is_client(&f.value) {
                if let Some(Val::Unknown(why)) = self.attrs.get("client") {
                    return Val::Unknown(why.clone());
                }
                if let Some(why) = self.class.and_then(|k| k.custom_client.clone()) {
                    return Val::Unknown(why);
                }
                let m = f.attr.as_str();
                return match m {
                    "get" | "post" | "put" | "patch" | "delete" | "head" | "options" => {
                        self.request(m.to_uppercase(), &c.args, &c.keywords)
                    }
                    "request" => match c.args.first().map(|a| self.expr(a)) {
                        Some(Val::Str(method)) => self.request(method.to_uppercase(), &c.args[1..], &c.keywords),
                        _ => Val::Unknown("client.request with a method known only at run time".into()),
                    },
                    _ => Val::Unknown(format!("self.client.{m}()")),
                };
            }
            // FastHttpUser's `with self.rest(method, url, json=...) as resp`
            let own_rest = self.class.is_some_and(|k| k.methods.contains_key("rest"));
            if self.is_selfish(&f.value) && f.attr.as_str() == "rest" && !own_rest {
                return match c.args.first().map(|a| self.expr(a)) {
                    Some(Val::Str(method)) => self.request(method.to_uppercase(), &c.args[1..], &c.keywords),
                    _ => Val::Unknown("rest() with a method known only at run time".into()),
                };
            }
            if self.is_client_headers(&f.value) && f.attr.as_str() == "update" {
                return match c.args.first().map(|a| self.expr(a)) {
                    Some(Val::Dict(pairs)) => {
                        for (k, v) in pairs {
                            self.set_header(k, v);
                        }
                        Val::None
                    }
                    _ => Val::Unknown("headers.update with values known only at run time".into()),
                };
            }
        }
        let args = self.exprs(&c.args);
        let mut kw: Vec<(String, Val)> = Vec::new();
        for k in &c.keywords {
            if let Some(a) = &k.arg {
                let v = self.expr(&k.value);
                let v = self.settle(v);
                kw.push((a.to_string(), v));
            }
        }
        match &*c.func {
            // leaving a task set: folded into the mix's weights (locust_set)
            Expr::Attribute(f) if self.is_self(&f.value) && f.attr.as_str() == "interrupt" => Val::None,
            Expr::Attribute(f) if self.is_self(&f.value) => match self.attribute(f) {
                Val::Name(n) if n.starts_with("self.") => self.method(&n[5..], c),
                Val::Unknown(why) => Val::Unknown(why),
                v => Val::Unknown(format!("a call of self.{} ({})", f.attr, v.kind())),
            },
            Expr::Attribute(f) => match self.expr(&f.value) {
                Val::Name(n) => builtin(&format!("{n}.{}", f.attr), args, &kw, &mut self.users_file),
                Val::Unknown(why) => Val::Unknown(why),
                base => {
                    let kind = base.kind();
                    method_of(base, f.attr.as_str(), args, &kw, &mut self.users_file)
                        .unwrap_or_else(|| Val::Unknown(format!("the method .{}() of {kind}", f.attr)))
                }
            },
            func => match self.expr(func) {
                Val::Name(n) => builtin(&n, args, &kw, &mut self.users_file),
                Val::Unknown(why) => Val::Unknown(why),
                v => Val::Unknown(format!("a call of {}", v.kind())),
            },
        }
    }

    /// A call of another method of the class: translated in place (its requests are steps of
    /// the calling task), its return value returned.
    fn method(&mut self, name: &str, c: &ast::ExprCall) -> Val {
        let Some(def) = self.class.and_then(|k| k.methods.get(name)).copied() else {
            return Val::Unknown(format!("self.{name}()"));
        };
        if self.depth > 8 {
            return Val::Unknown(format!("self.{name}() calls itself"));
        }
        let mut locals = HashMap::new();
        let params: Vec<&str> = def.args.args.iter().skip(1).map(|a| a.def.arg.as_str()).collect();
        for (p, a) in params.iter().zip(&c.args) {
            let v = self.expr(a);
            locals.insert(p.to_string(), v);
        }
        for k in &c.keywords {
            if let Some(a) = &k.arg {
                let v = self.expr(&k.value);
                locals.insert(a.to_string(), v);
            }
        }
        for a in def.args.args.iter().skip(1) {
            if let (false, Some(d)) = (locals.contains_key(a.def.arg.as_str()), &a.default) {
                let v = self.expr(d);
                locals.insert(a.def.arg.to_string(), v);
            }
        }
        let saved = std::mem::replace(&mut self.locals, locals);
        let line = self.line;
        self.depth += 1;
        self.stmts(&def.body);
        self.depth -= 1;
        self.line = line;
        self.locals = saved;
        self.returned.take().unwrap_or(Val::None)
    }

    /// `self.client.<method>(url, ...)`: a step.
    fn request(&mut self, method: String, args: &[Expr], kws: &[ast::Keyword]) -> Val {
        let mut kw: Vec<(String, &Expr)> = Vec::new();
        for k in kws {
            match &k.arg {
                Some(a) => kw.push((a.to_string(), &k.value)),
                None => return Val::Unknown("**kwargs in a request".into()),
            }
        }
        let url_expr = args.first().or_else(|| kw.iter().find(|(k, _)| k == "url").map(|(_, e)| *e));
        let url = match url_expr {
            Some(u) => {
                let v = self.expr(u);
                self.settle(v)
            }
            _ => return Val::Unknown("a request without a URL".into()),
        };
        let mut path = match url.text() {
            Ok(p) => p,
            Err(why) => return Val::Unknown(format!("the URL: {why}")),
        };
        if let Some(rest) = path.strip_prefix("http://").or_else(|| path.strip_prefix("https://")) {
            path = rest.find('/').map_or("/".into(), |i| rest[i..].to_string());
        }
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        let mut step = Step { method, ..Step::default() };
        let mut form: Vec<(String, Val)> = Vec::new();
        let mut files: Option<Val> = None;
        let mut explicit_headers: Vec<(String, Val)> = Vec::new();
        let mut split: Option<(u64, u64)> = None;
        let mut json_text: Option<String> = None;
        for (k, e) in &kw {
            let v = self.expr(e);
            let v = self.settle(v);
            let r: Result<(), String> = match k.as_str() {
                "url" | "catch_response" | "stream" => Ok(()),
                "allow_redirects" if v == Val::Bool(false) => Ok(()),
                "name" => v.text().map(|t| step.name = t),
                "params" => match v {
                    Val::Dict(pairs) => query(&pairs).map(|q| {
                        path.push(if path.contains('?') { '&' } else { '?' });
                        path.push_str(&q);
                    }),
                    _ => Err("params= known only at run time".into()),
                },
                "headers" => match v {
                    Val::Dict(pairs) => {
                        explicit_headers = pairs;
                        Ok(())
                    }
                    _ => Err("headers= known only at run time".into()),
                },
                "json" => v.json().map(|j| step.body = Body::Json(j)),
                "data" => match v {
                    Val::Dict(pairs) => {
                        form = pairs;
                        Ok(())
                    }
                    Val::Bytes(n) => {
                        step.body = Body::RandomBytes(size_text(n));
                        Ok(())
                    }
                    Val::Chunk(total, chunk) => {
                        split = Some((total, chunk));
                        Ok(())
                    }
                    Val::File(p) => {
                        step.body = Body::File(p);
                        Ok(())
                    }
                    Val::JsonDoc(j) => {
                        json_text = Some(j);
                        Ok(())
                    }
                    v => v.text().map(|t| step.body = Body::Text(t)),
                },
                "files" => {
                    files = Some(v);
                    Ok(())
                }
                "timeout" => match v.float() {
                    Some(t) => {
                        self.timeout = Some(self.timeout.map_or(t, |m: f64| m.max(t)));
                        Ok(())
                    }
                    None => Err("a timeout known only at run time".into()),
                },
                other => Err(format!("{other}= has no blast equivalent")),
            };
            if let Err(why) = r {
                let line = self.line;
                self.skip(line, format!("{k}=: {why}"));
            }
        }
        // multipart: the form fields first, then the files (as requests sends them)
        if let Some(files) = files {
            let parts = match multipart(&form, files) {
                Ok(p) => p,
                Err(why) => return Val::Unknown(format!("files=: {why}")),
            };
            for (p, sp) in parts {
                if sp.is_some() {
                    split = sp;
                }
                step.multipart.push(p);
            }
        } else if !form.is_empty() {
            match query(&form) {
                Ok(q) => {
                    step.body = Body::Text(q);
                    explicit_headers
                        .push(("Content-Type".into(), Val::Str("application/x-www-form-urlencoded".into())));
                }
                Err(why) => return Val::Unknown(format!("data=: {why}")),
            }
        }
        let mut headers: Vec<(String, Val)> = self.session_headers.clone();
        for (k, v) in explicit_headers {
            headers.retain(|(h, _)| !h.eq_ignore_ascii_case(&k));
            headers.push((k, v));
        }
        if let Some(j) = json_text {
            // data=json.dumps(d) with a JSON Content-Type is json=d; without one requests sends
            // no Content-Type, which blast's json = would add
            let typed = headers
                .iter()
                .any(|(h, v)| h.eq_ignore_ascii_case("content-type") && matches!(v, Val::Str(t) if t.contains("json")));
            if !typed {
                return Val::Unknown("data=json.dumps(...) without a JSON Content-Type header".into());
            }
            step.body = Body::Json(j);
        }
        for (k, v) in headers {
            match v.text() {
                Ok(t) => step.headers.push((k, t)),
                Err(why) => return Val::Unknown(format!("the header {k}: {why}")),
            }
        }
        step.path = path;
        if step.name.is_empty() {
            step.name = step.path.clone();
        }
        if let Some(l) = &mut self.looping {
            l.requests += 1;
            match split {
                Some((total, chunk)) => {
                    if let Val::Int(n) = l.count {
                        if n as u64 != total.div_ceil(chunk) {
                            let line = self.line;
                            self.skip(
                                line,
                                format!("the loop runs {n} times but sends {total} bytes in chunks of {chunk}"),
                            );
                        }
                    }
                    step.split = Some((size_text(total), size_text(chunk)));
                }
                None => step.repeat = Some(l.count.text().unwrap_or_default()),
            }
        } else if split.is_some() {
            return Val::Unknown("a chunk outside a loop".into());
        }
        step.comments = std::mem::take(&mut self.pending);
        self.steps.push(step);
        Val::Resp(self.steps.len() - 1)
    }
}

fn restore(locals: &mut HashMap<String, Val>, var: &str, saved: Option<Val>) {
    match saved {
        Some(v) => locals.insert(var.to_string(), v),
        None => locals.remove(var),
    };
}

fn unknown_cond() -> Val {
    Val::Unknown("a condition known only at run time".into())
}

#[derive(PartialEq)]
enum Branch {
    Failure,
    Success,
    Other,
}

/// What a branch of a response check does: calls `.failure(...)`, only `.success()`, or more.
fn branch_kind(body: &[Stmt]) -> Branch {
    let calls = |name: &str| {
        body.iter().any(|s| {
            matches!(s, Stmt::Expr(e) if matches!(&*e.value, Expr::Call(c) if matches!(&*c.func, Expr::Attribute(a) if a.attr.as_str() == name)))
        })
    };
    if calls("failure") {
        Branch::Failure
    } else if calls("success") && body.len() == 1 {
        Branch::Success
    } else {
        Branch::Other
    }
}

/// Visits an expression and its sub-expressions (those a condition is made of).
fn walk(e: &Expr, f: &mut impl FnMut(&Expr)) {
    f(e);
    match e {
        Expr::Attribute(a) => walk(&a.value, f),
        Expr::Call(c) => {
            walk(&c.func, f);
            c.args.iter().for_each(|a| walk(a, f));
        }
        Expr::Subscript(s) => walk(&s.value, f),
        Expr::Compare(c) => {
            walk(&c.left, f);
            c.comparators.iter().for_each(|a| walk(a, f));
        }
        Expr::BoolOp(b) => b.values.iter().for_each(|a| walk(a, f)),
        Expr::UnaryOp(u) => walk(&u.operand, f),
        _ => {}
    }
}

fn is_status(e: &Expr) -> bool {
    matches!(e, Expr::Attribute(a) if a.attr.as_str() == "status_code")
}

/// `r.text` on the right of an `in`.
fn is_text(right: &Expr) -> bool {
    matches!(right, Expr::Attribute(a) if a.attr.as_str() == "text")
}

/// `r.elapsed.total_seconds()` (factor 1) or `r.elapsed.total_seconds() * 1000` (factor 0.001
/// to turn the limit into seconds); `r.elapsed` compared with a timedelta.
fn elapsed_seconds(e: &Expr) -> Option<f64> {
    match e {
        Expr::Attribute(a) if a.attr.as_str() == "elapsed" => Some(1.0),
        Expr::Call(c) => match &*c.func {
            Expr::Attribute(a) if a.attr.as_str() == "total_seconds" => elapsed_seconds(&a.value),
            _ => None,
        },
        Expr::BinOp(b) if b.op == ast::Operator::Mult => {
            let k = match &*b.right {
                Expr::Constant(c) => constant(&c.value).float()?,
                _ => return None,
            };
            elapsed_seconds(&b.left).map(|s| s / k)
        }
        _ => None,
    }
}

/// The dotted name of a function (`requests.get`, `datetime.timedelta`).
fn dotted(e: &Expr) -> Option<String> {
    match e {
        Expr::Name(n) => Some(n.id.to_string()),
        Expr::Attribute(a) => dotted(&a.value).map(|b| format!("{b}.{}", a.attr)),
        _ => None,
    }
}

/// `5s`, `1500ms`.
fn seconds_text(s: f64) -> String {
    if s.fract() == 0.0 {
        format!("{}s", s as u64)
    } else {
        format!("{}ms", (s * 1000.0).round() as u64)
    }
}

/// A byte count as blast writes sizes: `10M` when exact, else the number.
pub fn size_text(n: u64) -> String {
    for (unit, k) in [("G", 1u64 << 30), ("M", 1 << 20), ("K", 1 << 10)] {
        if n >= k && n.is_multiple_of(k) {
            return format!("{}{unit}", n / k);
        }
    }
    n.to_string()
}

pub fn constant(c: &Constant) -> Val {
    match c {
        Constant::None => Val::None,
        Constant::Bool(b) => Val::Bool(*b),
        Constant::Str(s) => Val::Str(s.clone()),
        Constant::Bytes(b) => Val::Str(String::from_utf8_lossy(b).into_owned()),
        Constant::Int(n) => n.to_string().parse().map_or_else(|_| Val::Unknown("a huge integer".into()), Val::Int),
        Constant::Float(x) => Val::Float(*x),
        Constant::Tuple(items) => Val::List(items.iter().map(constant).collect()),
        _ => Val::Unknown("a complex number or ...".into()),
    }
}

fn binop(op: ast::Operator, l: Val, r: Val, left: &Expr) -> Val {
    use ast::Operator as O;
    if let (Val::Unknown(why), _) | (_, Val::Unknown(why)) = (&l, &r) {
        return Val::Unknown(why.clone());
    }
    match (op, &l, &r) {
        (O::Add, Val::Int(a), Val::Int(b)) => Val::Int(a.saturating_add(*b)),
        (O::Sub, Val::Int(a), Val::Int(b)) => Val::Int(a.saturating_sub(*b)),
        (O::Mult, Val::Int(a), Val::Int(b)) => Val::Int(a.saturating_mul(*b)),
        (O::FloorDiv, Val::Int(a), Val::Int(b)) if *b != 0 => Val::Int(a.div_euclid(*b)),
        (O::Mod, Val::Int(a), Val::Int(b)) if *b != 0 => Val::Int(a.rem_euclid(*b)),
        (O::Pow, Val::Int(a), Val::Int(b)) if (0..63).contains(b) => Val::Int(a.saturating_pow(*b as u32)),
        (O::Mult, Val::Time(k), x) | (O::Mult, x, Val::Time(k)) if x.float().is_some() => {
            Val::Time(k * x.float().unwrap_or(1.0))
        }
        (O::Add | O::Sub | O::Mult | O::Div, a, b) if a.float().is_some() && b.float().is_some() => {
            let (a, b) = (a.float().unwrap_or(0.0), b.float().unwrap_or(0.0));
            Val::Float(match op {
                O::Add => a + b,
                O::Sub => a - b,
                O::Mult => a * b,
                _ if b == 0.0 => return Val::Unknown("a division by zero".into()),
                _ => a / b,
            })
        }
        (O::Mult, Val::Str(s), Val::Int(n)) if matches!(left, Expr::Constant(c) if matches!(c.value, Constant::Bytes(_))) => {
            Val::Bytes((s.len() as i64 * n).max(0) as u64)
        }
        (O::Mult, Val::Str(s), Val::Int(n)) if s.len() as i64 * n <= 1 << 20 => {
            Val::Str(s.repeat((*n).max(0) as usize))
        }
        (O::Add, Val::List(a), Val::List(b)) => Val::List(a.iter().chain(b).cloned().collect()),
        (O::Add, a, b) if is_texty(a) && is_texty(b) => {
            let t = format!("{}{}", a.text().unwrap_or_default(), b.text().unwrap_or_default());
            if matches!((a, b), (Val::Str(_), Val::Str(_))) {
                Val::Str(t)
            } else {
                Val::Tmpl(t)
            }
        }
        (O::Mod, Val::Str(fmt), args) => {
            let args = match args {
                Val::List(v) => v.clone(),
                v => vec![v.clone()],
            };
            match percent_format(fmt, &args) {
                Ok(t) if args.iter().all(|a| !matches!(a, Val::Tmpl(_) | Val::Num(_))) => Val::Str(t),
                Ok(t) => Val::Tmpl(t),
                Err(why) => Val::Unknown(why),
            }
        }
        _ => Val::Unknown(format!("{} {op:?} {}", l.kind(), r.kind())),
    }
}

fn is_texty(v: &Val) -> bool {
    matches!(v, Val::Str(_) | Val::Tmpl(_) | Val::Num(_))
}

fn compare(op: ast::CmpOp, l: &Val, r: &Val) -> Val {
    use ast::CmpOp as O;
    let known = |v: &Val| matches!(v, Val::Str(_) | Val::Int(_) | Val::Float(_) | Val::Bool(_) | Val::None);
    if !known(l) || !known(r) {
        return unknown_cond();
    }
    let ord = match (l.float(), r.float()) {
        (Some(a), Some(b)) => a.partial_cmp(&b),
        _ => None,
    };
    use std::cmp::Ordering as Ord;
    Val::Bool(match op {
        O::Eq | O::Is => l == r,
        O::NotEq | O::IsNot => l != r,
        O::Lt => ord == Some(Ord::Less),
        O::LtE => matches!(ord, Some(Ord::Less | Ord::Equal)),
        O::Gt => ord == Some(Ord::Greater),
        O::GtE => matches!(ord, Some(Ord::Greater | Ord::Equal)),
        _ => return unknown_cond(),
    })
}

/// `base[key]`.
fn index(base: Val, key: Val, users_file: &mut Option<String>) -> Val {
    match (base, key) {
        (Val::Dict(pairs), Val::Str(k)) => {
            pairs.into_iter().find(|(p, _)| *p == k).map_or_else(|| Val::Unknown(format!("no key '{k}'")), |(_, v)| v)
        }
        (Val::List(items), Val::Int(i)) => {
            let n = items.len() as i64;
            let i = if i < 0 { n + i } else { i };
            items.into_iter().nth(i.max(0) as usize).unwrap_or_else(|| Val::Unknown("an index out of range".into()))
        }
        (Val::Field(step, p), Val::Str(k)) if p == "header:" => Val::Field(step, format!("header:{k}")),
        (Val::Field(step, p), Val::Str(k)) if !p.starts_with("header:") => {
            Val::Field(step, format!("{p}/{}", pointer_token(&k)))
        }
        (Val::Field(step, p), Val::Int(i)) if !p.starts_with("header:") && i >= 0 => {
            Val::Field(step, format!("{p}/{i}"))
        }
        (Val::UserRow, Val::Str(col)) => Val::Tmpl(format!("{{{{user.{col}}}}}")),
        (Val::Users(f), _) => {
            *users_file = Some(f);
            Val::Unknown("a fixed row of the users file (every user takes its own row in blast)".into())
        }
        (Val::Unknown(why), _) | (_, Val::Unknown(why)) => Val::Unknown(why),
        (b, k) => Val::Unknown(format!("{}[{}]", b.kind(), k.kind())),
    }
}

const BUILTINS: &[&str] = &[
    "str",
    "int",
    "float",
    "len",
    "list",
    "open",
    "next",
    "iter",
    "print",
    "min",
    "max",
    "round",
    "dict",
    "tuple",
    "bytes",
    "bytearray",
    "range",
    "uuid4",
    "randint",
    "choice",
    "urandom",
    "sha256",
];

/// A call of a function of Python or of a module the file imported.
fn builtin(name: &str, args: Vec<Val>, kw: &[(String, Val)], users_file: &mut Option<String>) -> Val {
    let arg = |i: usize| args.get(i).cloned().unwrap_or(Val::Unknown(format!("{name}() without arguments")));
    let short = name.rsplit('.').next().unwrap_or(name);
    let kwarg = |k: &str| kw.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    // int(time.time()), round(time.time() * 1000), ...: a send-time placeholder (round's
    // rounds to the nearest unit; round(x, ndigits) is a float, not one of them)
    if let ("int" | "round" | "math.floor", [clock]) = (name, args.as_slice()) {
        if let Some(clock) = clock.whole_time(name == "round") {
            return clock;
        }
    }
    match name {
        "print" => Val::None,
        n if n.starts_with("logging.") || n.starts_with("logger.") || n.starts_with("log.") => Val::None,
        "str" => match arg(0) {
            Val::Num(t) => Val::Tmpl(t),
            v @ (Val::Str(_) | Val::Tmpl(_) | Val::Sha) => v,
            v => v.text().map_or_else(Val::Unknown, Val::Str),
        },
        "int" => match arg(0) {
            Val::Float(x) => Val::Int(x.trunc() as i64),
            Val::Str(s) => s.trim().parse().map_or_else(|_| Val::Unknown(format!("int('{s}')")), Val::Int),
            v @ (Val::Int(_) | Val::Num(_)) => v,
            Val::Tmpl(t) => Val::Num(t),
            v => Val::Unknown(format!("int() of {}", v.kind())),
        },
        "float" => match arg(0) {
            v @ (Val::Float(_) | Val::Int(_)) => Val::Float(v.float().unwrap_or(0.0)),
            v => Val::Unknown(format!("float() of {}", v.kind())),
        },
        "len" => match arg(0) {
            Val::Str(s) => Val::Int(s.len() as i64),
            Val::Bytes(n) => Val::Int(n as i64),
            Val::List(l) => Val::Int(l.len() as i64),
            v => Val::Unknown(format!("len() of {}", v.kind())),
        },
        "min" | "max" => {
            let v: Option<Vec<i64>> = args.iter().map(Val::int).collect();
            match v {
                Some(v) if !v.is_empty() => {
                    Val::Int(if name == "min" { v.iter().min() } else { v.iter().max() }.copied().unwrap_or(0))
                }
                _ => Val::Unknown(format!("{name}() of values known only at run time")),
            }
        }
        "round" => arg(0).float().map_or(Val::Unknown("round()".into()), |x| Val::Int(x.round_ties_even() as i64)),
        "list" | "tuple" | "iter" | "itertools.cycle" => match arg(0) {
            v @ (Val::Users(_) | Val::List(_)) => v,
            v => Val::Unknown(format!("{name}() of {}", v.kind())),
        },
        "next" => match arg(0) {
            Val::Users(f) => {
                *users_file = Some(f);
                Val::UserRow
            }
            v => Val::Unknown(format!("next() of {}", v.kind())),
        },
        "open" => arg(0).text().map_or_else(Val::Unknown, Val::File),
        "csv.DictReader" => match arg(0) {
            Val::File(f) => Val::Users(f),
            v => Val::Unknown(format!("csv.DictReader of {}", v.kind())),
        },
        "csv.reader" => Val::Unknown("csv.reader rows have no column names: read users with csv.DictReader".into()),
        "math.ceil" => arg(0).float().map_or(Val::Unknown("math.ceil()".into()), |x| Val::Int(x.ceil() as i64)),
        "math.floor" => arg(0).float().map_or(Val::Unknown("math.floor()".into()), |x| Val::Int(x.floor() as i64)),
        "os.urandom" | "random.randbytes" | "secrets.token_bytes" | "urandom" | "bytearray" | "bytes" => {
            match arg(0).int() {
                Some(n) if n > 0 => Val::Bytes(n as u64),
                _ => Val::Unknown(format!("{name}() of a size known only at run time")),
            }
        }
        "hashlib.sha256" | "sha256" => match args.first() {
            None => Val::Hasher,
            Some(Val::Bytes(_)) => Val::Hasher,
            Some(v) => Val::Unknown(format!("sha256 of {}", v.kind())),
        },
        "random.randint" | "randint" | "random.randrange" => match (arg(0).int(), arg(1).int()) {
            (Some(a), Some(b)) => {
                let b = if short == "randrange" { b - 1 } else { b };
                Val::Num(format!("{{{{random_int {a} {b}}}}}"))
            }
            _ => Val::Unknown(format!("{name}() with bounds known only at run time")),
        },
        "random.choice" | "choice" => match arg(0) {
            Val::List(items) if !items.is_empty() => {
                let texts: Option<Vec<String>> =
                    items.iter().map(|v| v.text().ok().filter(|t| !t.contains([',', '{', '}']))).collect();
                match texts {
                    Some(t) if items.iter().all(|v| matches!(v, Val::Str(_) | Val::Int(_))) => {
                        Val::Tmpl(format!("{{{{pick {}}}}}", t.join(",")))
                    }
                    _ => Val::Unknown("random.choice of values blast cannot pick from".into()),
                }
            }
            Val::Users(f) => {
                *users_file = Some(f);
                Val::UserRow
            }
            v => Val::Unknown(format!("random.choice of {}", v.kind())),
        },
        "random.choices" => match kwarg("k").and_then(|k| k.int()) {
            Some(k) if k > 0 && matches!(arg(0), Val::Str(_)) => Val::RandChars(k as u64),
            _ => Val::Unknown("random.choices".into()),
        },
        "uuid.uuid4" | "uuid4" => Val::Tmpl("{{uuid}}".into()),
        "time.time" => Val::Time(1.0),
        "time.time_ns" => Val::Unknown("time.time_ns()".into()),
        "random.random" | "random.uniform" => Val::Unknown(format!("{name}(): a random number")),
        "time.sleep" => Val::Unknown("time.sleep inside a task: blast has no pause inside an iteration".into()),
        n if n.starts_with("gevent.") => {
            Val::Unknown(format!("{n}(): gevent calls (greenlets, sleeps) run Python code blast does not run"))
        }
        "json.dumps" => match arg(0) {
            v @ (Val::Dict(_) | Val::List(_)) => v.json().map_or_else(Val::Unknown, Val::JsonDoc),
            v => Val::Unknown(format!("json.dumps of {}", v.kind())),
        },
        _ => Val::Unknown(format!("{name}()")),
    }
}

/// A method of a value (`str.format`, `r.json()`, `dict.get`).
fn method_of(base: Val, m: &str, args: Vec<Val>, kw: &[(String, Val)], users_file: &mut Option<String>) -> Option<Val> {
    Some(match (base, m) {
        (Val::Str(s), "format") => match brace_format(&s, &args, kw) {
            Ok(t) if args.iter().chain(kw.iter().map(|(_, v)| v)).any(|a| matches!(a, Val::Tmpl(_) | Val::Num(_))) => {
                Val::Tmpl(t)
            }
            Ok(t) => Val::Str(t),
            Err(why) => Val::Unknown(why),
        },
        (Val::Str(s), "lower") => Val::Str(s.to_lowercase()),
        (Val::Str(s), "upper") => Val::Str(s.to_uppercase()),
        (Val::Str(s), "strip") => Val::Str(s.trim().to_string()),
        (Val::Str(s), "encode") => Val::Str(s),
        (Val::Str(sep), "join") => match args.into_iter().next()? {
            Val::RandChars(n) if sep.is_empty() => Val::Tmpl(format!("{{{{random_text {n}}}}}")),
            Val::List(items) => {
                let t: Result<Vec<String>, String> = items.iter().map(Val::text).collect();
                match t {
                    Ok(t) => Val::Str(t.join(&sep)),
                    Err(why) => Val::Unknown(why),
                }
            }
            v => Val::Unknown(format!("join of {}", v.kind())),
        },
        (Val::Resp(i), "json") => Val::Field(i, String::new()),
        (Val::Resp(_), "raise_for_status" | "success") => Val::None,
        (Val::Resp(_), "failure") => Val::Unknown("r.failure(...) that is not part of a check blast reads".into()),
        (Val::Field(i, p), "get") => match args.into_iter().next()? {
            Val::Str(k) if p == "header:" => Val::Field(i, format!("header:{k}")),
            Val::Str(k) => Val::Field(i, format!("{p}/{}", pointer_token(&k))),
            v => Val::Unknown(format!(".get of {}", v.kind())),
        },
        (d @ Val::Dict(_), "get") => {
            let k = args.first()?.clone();
            match index(d, k, users_file) {
                Val::Unknown(_) => args.get(1).cloned().unwrap_or(Val::None),
                v => v,
            }
        }
        (Val::Dict(d), "copy") => Val::Dict(d),
        (Val::UserRow, "get") => match args.into_iter().next()? {
            Val::Str(col) => Val::Tmpl(format!("{{{{user.{col}}}}}")),
            v => Val::Unknown(format!(".get of {}", v.kind())),
        },
        (Val::Users(f), "pop") => {
            *users_file = Some(f);
            Val::UserRow
        }
        (Val::Hasher, "update") => Val::None,
        (Val::Hasher, "hexdigest") => Val::Sha,
        (Val::File(_), "read") => {
            Val::Unknown("the contents of a file read at run time: use files= or data=open(...)".into())
        }
        (Val::Unknown(why), _) => Val::Unknown(why),
        _ => return None,
    })
}

/// `a=1&b=x` from a dict (literal text percent-encoded, templates as they are).
fn query(pairs: &[(String, Val)]) -> Result<String, String> {
    let mut out = Vec::new();
    for (k, v) in pairs {
        let t = match v {
            Val::Str(s) => encode(s),
            v => v.text()?,
        };
        out.push(format!("{}={t}", encode(k)));
    }
    Ok(out.join("&"))
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `files={...}` (and `data={...}` beside it) as multipart parts; a chunk part carries the split.
#[allow(clippy::type_complexity)]
fn multipart(form: &[(String, Val)], files: Val) -> Result<Vec<(Part, Option<(u64, u64)>)>, String> {
    let mut parts = Vec::new();
    for (k, v) in form {
        parts.push((Part { name: k.clone(), value: Some(v.text()?), ..Part::default() }, None));
    }
    let Val::Dict(files) = files else { return Err(format!("files= of {}", files.kind())) };
    for (name, v) in files {
        let (filename, content, ctype) = match v {
            Val::List(items) => {
                let mut it = items.into_iter();
                let filename = it.next().ok_or("an empty file tuple")?;
                let content = it.next().ok_or("a file tuple without content")?;
                (Some(filename.text()?), content, it.next().map(|c| c.text()).transpose()?)
            }
            v => (None, v, None),
        };
        let mut p = Part { name, filename, content_type: ctype, ..Part::default() };
        let mut split = None;
        match content {
            Val::Chunk(total, chunk) => {
                p.chunk = true;
                split = Some((total, chunk));
            }
            Val::Bytes(n) => p.random_bytes = Some(size_text(n)),
            Val::File(f) => {
                if p.filename.is_none() {
                    p.filename = Some(f.rsplit('/').next().unwrap_or(&f).to_string());
                }
                p.file = Some(f);
            }
            v => p.value = Some(v.text()?),
        }
        parts.push((p, split));
    }
    Ok(parts)
}
