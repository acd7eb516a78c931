//! Locust files, read statically with a Python parser (nothing is executed): module constants,
//! `HttpUser`/`FastHttpUser` classes (`host`, `weight`, `wait_time`, `@task(N)`, `tasks = ...`,
//! `@tag`), `on_start` logins, and each task's requests (`locust_task`). Weights of classes and
//! tasks become one exact mix; `wait_time` becomes a suggested `rate` with its arithmetic.

use super::locust_set::{Cx, Folded, Ratio, State};
use super::locust_task::{constant, Class, Source, Task};
use super::locust_value::Val;
use super::model::{Flow, Item, Profile, Skipped, Step};
use super::Options;
use crate::usage::UsageError;
use rustpython_parser::ast::{self, Expr, Stmt};
use rustpython_parser::Parse;
use std::collections::HashMap;

/// What kind of class a class statement defines.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Kind {
    /// `HttpUser` / `FastHttpUser`: `self.client` is Locust's HTTP client.
    Http,
    /// `User`: a client of its own.
    Custom,
    TaskSet,
    Other,
}

/// A task: its function, weight, tags, and the name `self` goes by.
pub struct TaskDef<'a> {
    pub def: &'a ast::StmtFunctionDef,
    pub weight: u64,
    pub tags: Vec<String>,
    pub self_name: String,
}

/// One of a class's tasks: a function or a task set.
pub enum Entry<'a> {
    Func(TaskDef<'a>),
    Set { def: &'a ast::StmtClassDef, weight: u64, line: usize },
}

impl Entry<'_> {
    pub fn name(&self) -> &str {
        match self {
            Entry::Func(t) => t.def.name.as_str(),
            Entry::Set { def, .. } => def.name.as_str(),
        }
    }

    pub fn weight(&self) -> u64 {
        match self {
            Entry::Func(t) => t.weight,
            Entry::Set { weight, .. } => *weight,
        }
    }

    fn add_weight(&mut self, w: u64) {
        match self {
            Entry::Func(t) => t.weight += w,
            Entry::Set { weight, .. } => *weight += w,
        }
    }
}

/// A translated user class.
struct UserClass {
    weight: u64,
    /// Seconds per iteration per user (`wait_time`), when known.
    cycle: Option<(f64, String)>,
    host: Option<String>,
    on_start: Vec<Step>,
    on_start_notes: Vec<String>,
    /// Each task's share of the class's Locust task runs and the items it became.
    tasks: Vec<Folded>,
    users_file: Option<String>,
    timeout: Option<f64>,
}

/// Reads a Locust file into a profile and the constructs that were not translated.
pub fn read(name: &str, text: &str, opts: &Options) -> Result<(Profile, Vec<Skipped>), UsageError> {
    let src = Source::new(name, text);
    let suite = ast::Suite::parse(text, name).map_err(|e| {
        UsageError(format!(
            "{name}:{}: not a Python file Locust could load: {}",
            src.line(e.offset.to_usize()),
            e.error
        ))
    })?;
    // module level: constants, imports, classes, functions
    let empty = HashMap::new();
    let mut m = Task::new(&src, &empty, None);
    let mut classes: HashMap<String, &ast::StmtClassDef> = HashMap::new();
    let mut order: Vec<&ast::StmtClassDef> = Vec::new();
    let mut functions: HashMap<String, &ast::StmtFunctionDef> = HashMap::new();
    for s in &suite {
        match s {
            Stmt::Import(i) => {
                for a in &i.names {
                    let full = a.name.to_string();
                    let bound = a
                        .asname
                        .as_ref()
                        .map_or_else(|| full.split('.').next().unwrap_or("").to_string(), |n| n.to_string());
                    let v = if a.asname.is_some() { full } else { bound.clone() };
                    m.locals.insert(bound, Val::Name(v));
                }
            }
            Stmt::ImportFrom(i) => {
                let module = i.module.as_ref().map_or(String::new(), |m| m.to_string());
                for a in &i.names {
                    let bound = a.asname.as_ref().unwrap_or(&a.name).to_string();
                    m.locals.insert(bound, Val::Name(format!("{module}.{}", a.name)));
                }
            }
            Stmt::ClassDef(c) => {
                classes.insert(c.name.to_string(), c);
                order.push(c);
                // task sets nested in a user class (`class Browse(TaskSet)` inside it)
                for n in &c.body {
                    if let Stmt::ClassDef(n) = n {
                        classes.entry(n.name.to_string()).or_insert(n);
                    }
                }
            }
            Stmt::FunctionDef(f) => {
                if f.decorator_list.iter().any(|d| mentions(d, "events")) {
                    let line = src.line_of(f);
                    m.skip(line, "an event hook: blast runs no Python code around the test");
                } else {
                    functions.insert(f.name.to_string(), f);
                }
            }
            Stmt::If(i) if mentions(&i.test, "__name__") => {}
            s => m.stmts(std::slice::from_ref(s)),
        }
    }
    let mut header: Vec<String> = std::mem::take(&mut m.pending);
    let mut skipped = std::mem::take(&mut m.skipped);
    let module = std::mem::take(&mut m.locals);
    let mut captured = Vec::new();

    let mut users: Vec<UserClass> = Vec::new();
    for c in &order {
        let kind = kind_of(c, &classes);
        if c.bases.iter().filter_map(base_name).any(|b| b == "LoadTestShape") {
            let line = src.line_of(*c);
            let s = Skipped {
                line,
                source: src.text_of(line),
                why:
                    "a LoadTestShape: blast's load is a rate; write its steps as --stages (e.g. --stages 30s:10,30s:20)"
                        .into(),
            };
            header.push(s.comment(name));
            skipped.push(s);
            continue;
        }
        if !matches!(kind, Kind::Http | Kind::Custom) || is_abstract(c) {
            continue;
        }
        let class = class_info(c, kind, &classes, &src, &module);
        let mut u = UserClass {
            weight: 1,
            cycle: None,
            host: None,
            on_start: Vec::new(),
            on_start_notes: Vec::new(),
            tasks: Vec::new(),
            users_file: None,
            timeout: None,
        };
        let mut notes: Vec<Skipped> = Vec::new();
        let mut note = |line: usize, why: &str| {
            notes.push(Skipped { line, source: src.text_of(line), why: why.into() });
        };
        for s in chain(c, &classes) {
            let Stmt::Assign(a) = s else { continue };
            let [Expr::Name(t)] = a.targets.as_slice() else { continue };
            let line = src.line_of(s);
            match t.id.as_str() {
                "host" => match m_eval(&src, &module, &class, &a.value) {
                    Val::Str(h) => u.host = Some(h),
                    _ => note(line, "a host known only at run time"),
                },
                "weight" => match m_eval(&src, &module, &class, &a.value).int() {
                    Some(w) if w >= 1 => u.weight = w as u64,
                    _ => note(line, "a class weight that is not a whole number of at least 1"),
                },
                "fixed_count" => note(line, "fixed_count: blast gives every iteration to the mix by weight"),
                "wait_time" => match wait_time(&a.value, &src, &module, &class) {
                    Ok(w) => u.cycle = Some(w),
                    Err(why) => note(line, &why),
                },
                _ => {}
            }
        }
        for s in chain(c, &classes) {
            if let Stmt::FunctionDef(f) = s {
                if f.name.as_str() == "wait_time" {
                    note(src.line_of(s), "a wait_time method: its pacing cannot be computed before the run");
                }
            }
        }
        let tasks = match task_defs(c, &classes, &functions, &src, &module, &class) {
            Ok(t) => t,
            Err((line, why)) => {
                note(line, &why);
                Vec::new()
            }
        };
        // on_start: its state (captures, attributes, headers) is what every task starts from
        let mut base = Task::new(&src, &module, Some(&class));
        base.captured = std::mem::take(&mut captured);
        if let Some(def) = class.methods.get("on_start") {
            base.per_user = true;
            base.stmts(&def.body);
            u.on_start = std::mem::take(&mut base.steps);
            u.on_start_notes = std::mem::take(&mut base.pending);
        }
        if let Some(def) = class.methods.get("on_stop") {
            let line = src.line_of(*def);
            note(line, "on_stop: blast has no step at the end of a user's life (a logout is not sent)");
        }
        skipped.append(&mut base.skipped);
        captured = std::mem::take(&mut base.captured);
        u.users_file = base.users_file.clone();
        u.timeout = base.timeout;
        let cx = Cx { src: &src, module: &module, classes: &classes, functions: &functions };
        let mut state = State {
            attrs: base.attrs.clone(),
            session_headers: base.session_headers.clone(),
            captured: std::mem::take(&mut captured),
            skipped: Vec::new(),
            on_start: Vec::new(),
            on_start_notes: Vec::new(),
            users_file: u.users_file.take(),
            timeout: u.timeout,
        };
        let alone = tasks.len() == 1;
        for t in tasks {
            match t {
                Entry::Func(t) => {
                    let items = cx.func(&class, &t, &mut state);
                    u.tasks.push(Folded { w: Ratio::int(t.weight), tasks: 1, items });
                }
                Entry::Set { def, weight, line } => {
                    for f in cx.set(def, line, &class, alone, &mut state, 0) {
                        u.tasks.push(Folded { w: f.w.times(Ratio::int(weight)), ..f });
                    }
                }
            }
        }
        captured = std::mem::take(&mut state.captured);
        skipped.append(&mut state.skipped);
        u.on_start.append(&mut state.on_start);
        u.on_start_notes.append(&mut state.on_start_notes);
        u.users_file = state.users_file;
        u.timeout = state.timeout;
        for n in &notes {
            header.push(n.comment(name));
        }
        skipped.extend(notes);
        users.push(u);
    }
    if users.is_empty() {
        return Err(UsageError(format!("{name}: no HttpUser or FastHttpUser class: nothing to import")));
    }
    let mut p = profile(name, users, &mut skipped, opts);
    p.header.splice(0..0, header);
    p.unique_names();
    skipped.sort_by_key(|s| s.line);
    Ok((p, skipped))
}

/// Evaluates a class-level expression.
fn m_eval(src: &Source<'_>, module: &HashMap<String, Val>, class: &Class<'_>, e: &Expr) -> Val {
    Task::new(src, module, Some(class)).expr(e)
}

/// The profile of the translated classes: one mix of every class's tasks, the first class's
/// `on_start`, a rate from the wait times.
fn profile(name: &str, users: Vec<UserClass>, skipped: &mut Vec<Skipped>, opts: &Options) -> Profile {
    let mut p = Profile {
        description: format!("Imported by `blast import` from the Locust file {name}"),
        duration: "30s".into(),
        ..Profile::default()
    };
    p.header.push(format!("Imported by `blast import` from {name} (Locust); edit freely."));
    // target
    let host = users.iter().find_map(|u| u.host.clone());
    (p.target, p.target_note) = match (&opts.host, host) {
        (Some(h), _) => (h.clone(), Some("--host".into())),
        (None, Some(h)) => (h, Some("the class's host".into())),
        (None, None) => ("http://127.0.0.1:8000".into(), Some("no host in the file: set --host or edit".into())),
    };
    p.target = origin(&p.target);
    p.users = Some(opts.users);
    // rate: users split over classes by weight, each iterating once per cycle
    let class_total: u64 = users.iter().map(|u| u.weight).sum();
    let n = opts.users as f64;
    let mut rate = 0.0;
    let mut lines = Vec::new();
    let mut known = true;
    for u in &users {
        let share = n * u.weight as f64 / class_total as f64;
        // Locust waits per blast iteration: a sequence's flow waits after each task, a task
        // that interrupts does not wait
        let all = u.tasks.iter().fold(Ratio::ZERO, |a, f| a.plus(f.w.times(Ratio::int(f.tasks))));
        let sending = u.tasks.iter().filter(|f| !f.items.is_empty()).fold(Ratio::ZERO, |a, f| a.plus(f.w));
        let per_iter = if sending.num == 0 { 1.0 } else { all.over(sending).float() };
        match &u.cycle {
            Some((secs, how)) => {
                let secs = secs * per_iter;
                rate += share / secs;
                let how = if (per_iter - 1.0).abs() > 1e-9 {
                    format!("{how}, times {} Locust waits per iteration", trim_float(per_iter))
                } else {
                    how.clone()
                };
                lines.push(format!("{share:.4} users / {} s ({how}) = {:.4}/s", trim_float(secs), share / secs));
            }
            None => known = false,
        }
    }
    p.rate_note
        .push("Locust's load is users / (response time + wait time); blast fixes the arrival rate instead.".into());
    match opts.rate {
        Some(r) => {
            p.rate = trim_float(r);
            p.rate_note.push("rate: given with --rate".into());
        }
        None if known && rate > 0.0 => {
            p.rate = trim_float(rate);
            p.rate_note.push(format!("rate for {} users (--users), response time not counted:", opts.users));
            p.rate_note.extend(lines.into_iter().map(|l| format!("  {l}")));
        }
        None => {
            p.rate = "100".into();
            p.rate_note.push("no wait_time to compute a rate from: 100/s is a placeholder (--rate R)".into());
        }
    }
    // one cycle: every class's task shares (exact fractions) times the class weight
    let mut weighted: Vec<(Ratio, Item)> = Vec::new();
    let mut on_start_set = false;
    let mut timeout: Option<f64> = None;
    for u in users {
        if !u.on_start.is_empty() || !u.on_start_notes.is_empty() {
            if on_start_set {
                let first = u.on_start.first().map(|s| s.name.clone()).unwrap_or_default();
                let s = Skipped {
                    line: 0,
                    source: format!("on_start of a second user class ({first})"),
                    why: "blast has one on_start for all users".into(),
                };
                p.on_start_notes.push(s.comment(name));
                skipped.push(s);
            } else {
                p.on_start = u.on_start;
                p.on_start_notes = u.on_start_notes;
                on_start_set = true;
            }
        }
        p.users_file = p.users_file.take().or(u.users_file);
        timeout = match (timeout, u.timeout) {
            (Some(a), Some(b)) => Some(f64::max(a, b)),
            (a, b) => a.or(b),
        };
        let sending = u.tasks.iter().filter(|f| !f.items.is_empty()).fold(Ratio::ZERO, |a, f| a.plus(f.w));
        for f in u.tasks {
            let weight = if sending.num == 0 { Ratio::int(1) } else { Ratio::int(u.weight).times(f.w).over(sending) };
            for item in f.items {
                weighted.push((weight, item));
            }
        }
    }
    p.timeout = timeout.map(|t| format!("{}ms", (t * 1000.0).round() as u64));
    let real = || weighted.iter().filter(|(_, i)| !matches!(i, Item::Comments(_)));
    let l = real().fold(1u128, |a, (w, _)| lcm128(a, w.den));
    let g = real().fold(0u128, |a, (w, _)| gcd128(a, w.num * (l / w.den))).max(1);
    for (w, mut item) in weighted {
        let w = u64::try_from(w.num * (l / w.den) / g).unwrap_or(u64::MAX).max(1);
        match &mut item {
            Item::Request { weight, .. } => *weight = w,
            Item::Flow(f) => f.weight = w,
            Item::Comments(_) => {}
        }
        p.items.push(item);
    }
    p
}

/// The items one task becomes: a `[[request]]` for a single plain request, else a `[[flow]]`.
pub fn items(func: &str, tags: &[String], mut steps: Vec<Step>, trailing: Vec<String>) -> Vec<Item> {
    let mut out = Vec::new();
    if steps.len() == 1 && !steps[0].needs_flow() {
        let mut step = steps.remove(0);
        step.tags = tags.to_vec();
        out.push(Item::Request { weight: 1, step: Box::new(step) });
    } else if !steps.is_empty() {
        out.push(Item::Flow(Flow {
            name: func.to_string(),
            weight: 1,
            tags: tags.to_vec(),
            comments: Vec::new(),
            steps,
        }));
    }
    if !trailing.is_empty() {
        out.push(Item::Comments(trailing));
    }
    out
}

/// `http://host:port` of a URL (Locust's host may carry a path, blast's target does not).
fn origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let host = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{host}")
}

fn trim_float(x: f64) -> String {
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn gcd128(a: u128, b: u128) -> u128 {
    if b == 0 {
        a
    } else {
        gcd128(b, a % b)
    }
}

fn lcm128(a: u128, b: u128) -> u128 {
    (a / gcd128(a, b).max(1)).saturating_mul(b)
}

/// Whether an expression mentions a name (`events.test_start`, `__name__`).
fn mentions(e: &Expr, name: &str) -> bool {
    match e {
        Expr::Name(n) => n.id.as_str() == name,
        Expr::Attribute(a) => mentions(&a.value, name),
        Expr::Call(c) => mentions(&c.func, name),
        Expr::Compare(c) => mentions(&c.left, name) || c.comparators.iter().any(|x| mentions(x, name)),
        _ => false,
    }
}

pub fn base_name(e: &Expr) -> Option<String> {
    match e {
        Expr::Name(n) => Some(n.id.to_string()),
        Expr::Attribute(a) => Some(a.attr.to_string()),
        _ => None,
    }
}

pub fn kind_of(c: &ast::StmtClassDef, classes: &HashMap<String, &ast::StmtClassDef>) -> Kind {
    kind_depth(c, classes, 0)
}

fn kind_depth(c: &ast::StmtClassDef, classes: &HashMap<String, &ast::StmtClassDef>, depth: usize) -> Kind {
    for b in c.bases.iter().filter_map(base_name) {
        let k = match b.as_str() {
            "HttpUser" | "FastHttpUser" => Kind::Http,
            "User" => Kind::Custom,
            "TaskSet" | "SequentialTaskSet" => Kind::TaskSet,
            other => match classes.get(other) {
                Some(parent) if depth < 16 && parent.name != c.name => kind_depth(parent, classes, depth + 1),
                _ => Kind::Other,
            },
        };
        if k != Kind::Other {
            return k;
        }
    }
    Kind::Other
}

fn is_abstract(c: &ast::StmtClassDef) -> bool {
    c.body.iter().any(|s| {
        matches!(s, Stmt::Assign(a) if matches!(a.targets.as_slice(), [Expr::Name(n)] if n.id.as_str() == "abstract")
            && matches!(&*a.value, Expr::Constant(k) if constant(&k.value) == Val::Bool(true)))
    })
}

/// The class's statements, its parents' in the file first.
pub fn chain<'a>(c: &'a ast::StmtClassDef, classes: &HashMap<String, &'a ast::StmtClassDef>) -> Vec<&'a Stmt> {
    let mut out = Vec::new();
    let mut seen = vec![c.name.to_string()];
    fn parents<'a>(
        c: &'a ast::StmtClassDef,
        classes: &HashMap<String, &'a ast::StmtClassDef>,
        seen: &mut Vec<String>,
        out: &mut Vec<&'a Stmt>,
    ) {
        for b in c.bases.iter().filter_map(base_name) {
            if let Some(p) = classes.get(&b) {
                if !seen.contains(&b) {
                    seen.push(b);
                    parents(p, classes, seen, out);
                }
            }
        }
        out.extend(c.body.iter());
    }
    parents(c, classes, &mut seen, &mut out);
    out
}

pub fn class_info<'a>(
    c: &'a ast::StmtClassDef,
    kind: Kind,
    classes: &HashMap<String, &'a ast::StmtClassDef>,
    src: &Source<'_>,
    module: &HashMap<String, Val>,
) -> Class<'a> {
    let mut class = Class {
        name: c.name.to_string(),
        attrs: HashMap::new(),
        methods: HashMap::new(),
        custom_client: (kind == Kind::Custom)
            .then(|| format!("a custom client (class {} is a User, not an HttpUser, line {})", c.name, src.line_of(c))),
    };
    for s in chain(c, classes) {
        match s {
            Stmt::FunctionDef(f) => {
                class.methods.insert(f.name.to_string(), f);
            }
            Stmt::Assign(a) => {
                if let [Expr::Name(t)] = a.targets.as_slice() {
                    if !["tasks", "wait_time"].contains(&t.id.as_str()) {
                        let v = Task::new(src, module, Some(&class)).expr(&a.value);
                        class.attrs.insert(t.id.to_string(), v);
                    }
                }
            }
            _ => {}
        }
    }
    class
}

/// `wait_time = between(a, b)` and the others: seconds per iteration per user, and how.
fn wait_time(
    e: &Expr,
    src: &Source<'_>,
    module: &HashMap<String, Val>,
    class: &Class<'_>,
) -> Result<(f64, String), String> {
    let Expr::Call(c) = e else {
        return Err("a wait_time other than between/constant/constant_pacing/constant_throughput".into());
    };
    let f = base_name(&c.func).unwrap_or_default();
    let args: Vec<Option<f64>> = c.args.iter().map(|a| m_eval(src, module, class, a).float()).collect();
    let bad = || format!("{f}() with values known only at run time");
    match (f.as_str(), args.as_slice()) {
        ("between", [Some(a), Some(b)]) if a + b > 0.0 => {
            Ok(((a + b) / 2.0, format!("between({a}, {b}): mean wait {}", (a + b) / 2.0)))
        }
        ("constant", [Some(a)]) if *a > 0.0 => Ok((*a, format!("constant({a})"))),
        ("constant_pacing", [Some(a)]) if *a > 0.0 => Ok((*a, format!("constant_pacing({a}): one task every {a} s"))),
        ("constant_throughput", [Some(t)]) if *t > 0.0 => {
            Ok((1.0 / t, format!("constant_throughput({t}): {t} tasks/s")))
        }
        ("constant", [Some(_)]) => {
            Err("constant(0): Locust runs tasks back to back, the rate depends on response times".into())
        }
        ("between" | "constant" | "constant_pacing" | "constant_throughput", _) => Err(bad()),
        _ => Err(format!("wait_time = {f}(...): not one of between, constant, constant_pacing, constant_throughput")),
    }
}

/// `@task`/`@task(N)` and `@tag(...)` of a function or a nested task set: its weight (None when
/// it is no task) and tags.
fn decorators(
    list: &[Expr],
    src: &Source<'_>,
    module: &HashMap<String, Val>,
    class: &Class<'_>,
) -> Result<(Option<u64>, Vec<String>), (usize, String)> {
    let mut weight = None;
    let mut tags = Vec::new();
    for d in list {
        let name = base_name(match d {
            Expr::Call(c) => &c.func,
            d => d,
        });
        match (name.as_deref(), d) {
            (Some("task"), Expr::Call(call)) => {
                let w = call.args.first().map_or(Some(1), |a| m_eval(src, module, class, a).int());
                match w {
                    Some(w) if w >= 1 => weight = Some(w as u64),
                    _ => return Err((src.line_of(d), "a task weight known only at run time".into())),
                }
            }
            (Some("task"), _) => weight = Some(1),
            (Some("tag"), Expr::Call(call)) => {
                for a in &call.args {
                    match m_eval(src, module, class, a) {
                        Val::Str(t) => tags.push(t),
                        _ => return Err((src.line_of(d), "a tag known only at run time".into())),
                    }
                }
            }
            _ => {}
        }
    }
    Ok((weight, tags))
}

/// The class's tasks in Locust's order: `@task`/`@task(N)` methods (with `@tag`) and task
/// sets, or `tasks = [...]`/`{fn: N}` of functions and task sets.
pub fn task_defs<'a>(
    c: &'a ast::StmtClassDef,
    classes: &HashMap<String, &'a ast::StmtClassDef>,
    functions: &HashMap<String, &'a ast::StmtFunctionDef>,
    src: &Source<'_>,
    module: &HashMap<String, Val>,
    class: &Class<'a>,
) -> Result<Vec<Entry<'a>>, (usize, String)> {
    let mut out: Vec<Entry<'a>> = Vec::new();
    let stmts = chain(c, classes);
    for s in &stmts {
        match s {
            Stmt::FunctionDef(f) => {
                if let (Some(weight), tags) = decorators(&f.decorator_list, src, module, class)? {
                    out.retain(|t| t.name() != f.name.as_str());
                    out.push(Entry::Func(TaskDef { def: f, weight, tags, self_name: "self".into() }));
                }
            }
            Stmt::ClassDef(k) if kind_of(k, classes) == Kind::TaskSet => {
                if let (Some(weight), _) = decorators(&k.decorator_list, src, module, class)? {
                    out.retain(|t| t.name() != k.name.as_str());
                    out.push(Entry::Set { def: k, weight, line: src.line_of(*s) });
                }
            }
            _ => {}
        }
    }
    for s in &stmts {
        let Stmt::Assign(a) = s else { continue };
        if !matches!(a.targets.as_slice(), [Expr::Name(t)] if t.id.as_str() == "tasks") {
            continue;
        }
        let line = src.line_of(*s);
        let entries: Vec<(&Expr, u64)> = match &*a.value {
            Expr::List(l) => l.elts.iter().map(|e| (e, 1)).collect(),
            Expr::Tuple(l) => l.elts.iter().map(|e| (e, 1)).collect(),
            Expr::Dict(d) => {
                let mut v = Vec::new();
                for (k, w) in d.keys.iter().zip(&d.values) {
                    let w = m_eval(src, module, class, w).int().filter(|w| *w >= 1);
                    match (k, w) {
                        (Some(k), Some(w)) => v.push((k, w as u64)),
                        _ => return Err((line, "a tasks dict with weights known only at run time".into())),
                    }
                }
                v
            }
            _ => return Err((line, "tasks = ... that is not a list or a dict".into())),
        };
        for (e, w) in entries {
            let Some(n) = base_name(e) else { return Err((line, "a task that is not a function name".into())) };
            if let Some(t) = out.iter_mut().find(|t| t.name() == n) {
                t.add_weight(w);
            } else if let Some(f) = class.methods.get(&n) {
                out.push(Entry::Func(TaskDef { def: f, weight: w, tags: Vec::new(), self_name: "self".into() }));
            } else if let Some(f) = functions.get(&n) {
                let self_name = f.args.args.first().map_or("user".into(), |a| a.def.arg.to_string());
                out.push(Entry::Func(TaskDef { def: f, weight: w, tags: Vec::new(), self_name }));
            } else if let Some(k) = classes.get(&n).filter(|k| kind_of(k, classes) == Kind::TaskSet) {
                out.push(Entry::Set { def: k, weight: w, line });
            } else if classes.contains_key(&n) {
                return Err((line, format!("{n} is neither a TaskSet nor a function")));
            } else {
                return Err((line, format!("{n} is not a function of this file")));
            }
        }
    }
    Ok(out)
}
