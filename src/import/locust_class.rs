//! What a Locust class statement is, read statically: its kind (an `HttpUser`, a custom
//! `User`, a `TaskSet`), the attributes and `wait_time` along its chain of base classes, its
//! tasks with their weights and tags (`@task(N)`, `tasks = [...]`/`{...}`, `@tag`). `locust`
//! reads users with it, `locust_set` task sets.

use super::locust_task::{constant, Class, Source, Task};
use super::locust_value::Val;
use rustpython_parser::ast::{self, Expr, Stmt};
use std::collections::HashMap;

/// Evaluates a class-level expression.
pub fn m_eval(src: &Source<'_>, module: &HashMap<String, Val>, class: &Class<'_>, e: &Expr) -> Val {
    Task::new(src, module, Some(class)).expr(e)
}
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

/// Whether an expression mentions a name (`events.test_start`, `__name__`).
pub fn mentions(e: &Expr, name: &str) -> bool {
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

pub fn is_abstract(c: &ast::StmtClassDef) -> bool {
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
pub fn wait_time(
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
