//! Locust files, read statically with a Python parser (nothing is executed): module constants,
//! `HttpUser`/`FastHttpUser` classes (`host`, `weight`, `wait_time`, `@task(N)`, `tasks = ...`,
//! `@tag`), `on_start` logins, and each task's requests (`locust_task`). Weights of classes and
//! tasks become one exact mix; `wait_time` becomes a suggested `rate` with its arithmetic.

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
enum Kind {
    /// `HttpUser` / `FastHttpUser`: `self.client` is Locust's HTTP client.
    Http,
    /// `User`: a client of its own.
    Custom,
    TaskSet,
    Other,
}

/// A task: its function, weight, tags, and the name `self` goes by.
struct TaskDef<'a> {
    def: &'a ast::StmtFunctionDef,
    weight: u64,
    tags: Vec<String>,
    self_name: String,
}

/// A translated user class.
struct UserClass {
    weight: u64,
    /// Seconds per iteration per user (`wait_time`), when known.
    cycle: Option<(f64, String)>,
    host: Option<String>,
    on_start: Vec<Step>,
    on_start_notes: Vec<String>,
    /// (task weight, items it became).
    tasks: Vec<(u64, Vec<Item>)>,
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
            note(line, "on_stop: blast has no step at the end of a user's life");
        }
        skipped.append(&mut base.skipped);
        captured = std::mem::take(&mut base.captured);
        u.users_file = base.users_file.clone();
        u.timeout = base.timeout;
        for t in tasks {
            let mut run = Task::new(&src, &module, Some(&class));
            run.self_name = t.self_name.clone();
            run.attrs = base.attrs.clone();
            run.session_headers = base.session_headers.clone();
            run.captured = std::mem::take(&mut captured);
            run.stmts(&t.def.body);
            captured = std::mem::take(&mut run.captured);
            if run.steps.is_empty() && run.pending.is_empty() {
                run.skip(src.line_of(t.def), "a task without requests");
            }
            skipped.append(&mut run.skipped);
            u.users_file = u.users_file.take().or(run.users_file.take());
            u.timeout = match (u.timeout, run.timeout) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            u.tasks.push((t.weight, items(t.def.name.as_str(), &t.tags, run.steps, run.pending)));
        }
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
        match &u.cycle {
            Some((secs, how)) => {
                rate += share / secs;
                lines.push(format!("{share:.4} users / {secs} s ({how}) = {:.4}/s", share / secs));
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
    // one cycle: every class's task weights scaled to a common total, times the class weight
    let sums: Vec<u64> = users.iter().map(|u| u.tasks.iter().map(|t| t.0).sum::<u64>().max(1)).collect();
    let l = sums.iter().fold(1u64, |a, &b| lcm(a, b));
    let mut weighted: Vec<(u64, Item)> = Vec::new();
    let mut on_start_set = false;
    let mut timeout: Option<f64> = None;
    for (u, sum) in users.into_iter().zip(sums) {
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
        for (w, items) in u.tasks {
            let weight = u.weight.saturating_mul(w).saturating_mul(l / sum);
            for item in items {
                weighted.push((weight, item));
            }
        }
    }
    p.timeout = timeout.map(|t| format!("{}ms", (t * 1000.0).round() as u64));
    let g = weighted.iter().filter(|(_, i)| !matches!(i, Item::Comments(_))).fold(0, |a, (w, _)| gcd(a, *w)).max(1);
    for (w, mut item) in weighted {
        match &mut item {
            Item::Request { weight, .. } => *weight = (w / g).max(1),
            Item::Flow(f) => f.weight = (w / g).max(1),
            Item::Comments(_) => {}
        }
        p.items.push(item);
    }
    p
}

/// The items one task becomes: a `[[request]]` for a single plain request, else a `[[flow]]`.
fn items(func: &str, tags: &[String], mut steps: Vec<Step>, trailing: Vec<String>) -> Vec<Item> {
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

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

fn lcm(a: u64, b: u64) -> u64 {
    (a / gcd(a, b).max(1)).saturating_mul(b)
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

fn base_name(e: &Expr) -> Option<String> {
    match e {
        Expr::Name(n) => Some(n.id.to_string()),
        Expr::Attribute(a) => Some(a.attr.to_string()),
        _ => None,
    }
}

fn kind_of(c: &ast::StmtClassDef, classes: &HashMap<String, &ast::StmtClassDef>) -> Kind {
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
fn chain<'a>(c: &'a ast::StmtClassDef, classes: &HashMap<String, &'a ast::StmtClassDef>) -> Vec<&'a Stmt> {
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

fn class_info<'a>(
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

/// The class's tasks: `@task`/`@task(N)` methods (with `@tag`), or `tasks = [...]`/`{fn: N}`.
fn task_defs<'a>(
    c: &'a ast::StmtClassDef,
    classes: &HashMap<String, &'a ast::StmtClassDef>,
    functions: &HashMap<String, &'a ast::StmtFunctionDef>,
    src: &Source<'_>,
    module: &HashMap<String, Val>,
    class: &Class<'a>,
) -> Result<Vec<TaskDef<'a>>, (usize, String)> {
    let mut out: Vec<TaskDef<'a>> = Vec::new();
    let stmts = chain(c, classes);
    for s in &stmts {
        let Stmt::FunctionDef(f) = s else { continue };
        let mut weight = None;
        let mut tags = Vec::new();
        for d in &f.decorator_list {
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
        if let Some(weight) = weight {
            out.retain(|t| t.def.name != f.name);
            out.push(TaskDef { def: f, weight, tags, self_name: "self".into() });
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
            if let Some(f) = class.methods.get(&n) {
                match out.iter_mut().find(|t| t.def.name.as_str() == n) {
                    Some(t) => t.weight += w,
                    None => out.push(TaskDef { def: f, weight: w, tags: Vec::new(), self_name: "self".into() }),
                }
            } else if let Some(f) = functions.get(&n) {
                let self_name = f.args.args.first().map_or("user".into(), |a| a.def.arg.to_string());
                match out.iter_mut().find(|t| t.def.name.as_str() == n) {
                    Some(t) => t.weight += w,
                    None => out.push(TaskDef { def: f, weight: w, tags: Vec::new(), self_name }),
                }
            } else if classes.contains_key(&n) {
                return Err((line, format!("{n} is a TaskSet: nested task sets are not translated")));
            } else {
                return Err((line, format!("{n} is not a function of this file")));
            }
        }
    }
    Ok(out)
}
