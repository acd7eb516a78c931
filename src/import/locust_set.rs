//! Locust's task sets folded into blast's one mix. A `TaskSet` picks its tasks by weight until
//! one calls `self.interrupt()` and hands control back to its parent: per visit, task k runs
//! t_k / t_int times on average (t_int: the weights of the tasks that interrupt), so the set's
//! tasks join the parent's mix at the set's weight times t_k / t_int, exactly; a task that only
//! interrupts sends nothing and just takes a turn. A set that never interrupts keeps the user
//! for good: its tasks share the set's weight (t_k / t), its `on_start` runs once per user.
//! A `SequentialTaskSet` runs its tasks in order (`@task(N)` N times in a row): one `[[flow]]`
//! of their requests, up to and with the task that interrupts.

use super::locust_class::{base_name, class_info, kind_of, task_defs, Entry, Kind, TaskDef};
use super::locust_task::{Class, Source, Task};
use super::locust_value::Val;
use super::model::{Flow, Item, Skipped, Step};
use rustpython_parser::ast::{self, Ranged};
use std::collections::HashMap;

/// An exact fraction (weights folded through nested sets).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ratio {
    pub num: u128,
    pub den: u128,
}

impl Ratio {
    pub const ZERO: Ratio = Ratio { num: 0, den: 1 };

    pub fn int(n: u64) -> Ratio {
        Ratio { num: u128::from(n), den: 1 }
    }

    fn new(num: u128, den: u128) -> Ratio {
        let g = gcd(num, den).max(1);
        Ratio { num: num / g, den: (den / g).max(1) }
    }

    pub fn times(self, o: Ratio) -> Ratio {
        Ratio::new(self.num.saturating_mul(o.num), self.den.saturating_mul(o.den))
    }

    pub fn over(self, o: Ratio) -> Ratio {
        Ratio::new(self.num.saturating_mul(o.den), self.den.saturating_mul(o.num.max(1)))
    }

    pub fn plus(self, o: Ratio) -> Ratio {
        Ratio::new(
            self.num.saturating_mul(o.den).saturating_add(o.num.saturating_mul(self.den)),
            self.den.saturating_mul(o.den),
        )
    }

    pub fn float(self) -> f64 {
        self.num as f64 / self.den as f64
    }

    /// `x` (> 0) as a fraction: exact when its denominator is at most 1000 (wait times are
    /// written as decimals, 0.75, or as 1 / throughput), else to the millionth.
    pub fn approx(x: f64) -> Ratio {
        for den in 1..=1000u32 {
            let scaled = x * f64::from(den);
            if scaled >= 1.0 && (scaled - scaled.round()).abs() < 1e-9 * f64::from(den) {
                return Ratio::new(scaled.round() as u128, u128::from(den));
            }
        }
        Ratio::new((x * 1e6).round().max(1.0) as u128, 1_000_000)
    }
}

fn gcd(a: u128, b: u128) -> u128 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// A task's share of its user class's Locust task runs, the Locust waits one blast iteration of
/// it stands for (a sequence's flow: several; a task that interrupts: none, Locust goes on at
/// once), and the items it became (none: it only interrupts).
pub struct Folded {
    pub w: Ratio,
    pub tasks: u64,
    pub items: Vec<Item>,
}

/// What the translation of one user class carries from task to task.
pub struct State {
    /// `self.x` after `on_start`.
    pub attrs: HashMap<String, Val>,
    pub session_headers: Vec<(String, Val)>,
    pub captured: Vec<(String, usize, String)>,
    pub skipped: Vec<Skipped>,
    /// Steps of task sets' `on_start` run once per user.
    pub on_start: Vec<Step>,
    pub on_start_notes: Vec<String>,
    pub users_file: Option<String>,
    pub timeout: Option<f64>,
}

impl State {
    fn absorb(&mut self, run: &mut Task<'_>) {
        self.captured = std::mem::take(&mut run.captured);
        self.skipped.append(&mut run.skipped);
        self.users_file = self.users_file.take().or(run.users_file.take());
        self.timeout = match (self.timeout, run.timeout) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    fn skip(&mut self, src: &Source<'_>, line: usize, why: impl Into<String>) {
        let s = Skipped { line, source: src.text_of(line), why: why.into() };
        self.on_start_notes.push(s.comment(src.name));
        self.skipped.push(s);
    }
}

/// The file's parts a task set's translation reads.
pub struct Cx<'a> {
    pub src: &'a Source<'a>,
    pub module: &'a HashMap<String, Val>,
    pub classes: &'a HashMap<String, &'a ast::StmtClassDef>,
    pub functions: &'a HashMap<String, &'a ast::StmtFunctionDef>,
}

impl<'a> Cx<'a> {
    /// A task function: the items its requests become.
    pub fn func(&self, class: &Class<'_>, t: &TaskDef<'_>, state: &mut State) -> Vec<Item> {
        let mut run = Task::new(self.src, self.module, Some(class));
        run.self_name = t.self_name.clone();
        run.attrs = state.attrs.clone();
        run.session_headers = state.session_headers.clone();
        run.captured = std::mem::take(&mut state.captured);
        run.stmts(&t.def.body);
        if run.steps.is_empty() && run.pending.is_empty() && !self.interrupts(t.def) {
            run.skip(self.src.line_of(t.def), "a task without requests");
        }
        state.absorb(&mut run);
        items(t.def.name.as_str(), &t.tags, run.steps, run.pending)
    }

    /// Whether a task function calls `self.interrupt()`.
    fn interrupts(&self, def: &ast::StmtFunctionDef) -> bool {
        let r = def.range();
        self.src.text.get(r.start().to_usize()..r.end().to_usize()).is_some_and(|t| t.contains(".interrupt("))
    }

    /// A task set: its tasks with their shares per visit of the set. `alone`: the set is its
    /// parent's only task (a set that never interrupts then loses nothing of the parent's mix).
    pub fn set(
        &self,
        def: &'a ast::StmtClassDef,
        line: usize,
        user: &Class<'_>,
        alone: bool,
        state: &mut State,
        depth: usize,
    ) -> Vec<Folded> {
        if depth > 8 {
            state.skip(self.src, line, format!("{}: task sets nested too deep", def.name));
            return Vec::new();
        }
        let mut class = class_info(def, Kind::TaskSet, self.classes, self.src, self.module);
        for (k, v) in &user.attrs {
            class.attrs.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let entries = match task_defs(def, self.classes, self.functions, self.src, self.module, &class) {
            Ok(e) => e,
            Err((l, why)) => {
                state.skip(self.src, l, why);
                return Vec::new();
            }
        };
        if entries.is_empty() {
            state.skip(self.src, line, format!("{}: a task set without tasks", def.name));
            return Vec::new();
        }
        let interrupting: u64 = entries
            .iter()
            .filter_map(|e| match e {
                Entry::Func(t) if self.interrupts(t.def) => Some(t.weight),
                _ => None,
            })
            .sum();
        if interrupting == 0 && !alone {
            state.skip(
                self.src,
                line,
                format!(
                    "{} never calls self.interrupt(): a Locust user that picks it stays in it for good; \
                     blast keeps mixing it with the other tasks by weight",
                    def.name
                ),
            );
        }
        // inside the set, `self.x` is the set's: what it sets stays inside
        let saved = (state.attrs.clone(), state.session_headers.clone());
        let on_start = class.methods.get("on_start").copied();
        for st in &def.body {
            let own_wait = match st {
                ast::Stmt::Assign(a) => {
                    matches!(a.targets.as_slice(), [ast::Expr::Name(n)] if n.id.as_str() == "wait_time")
                }
                ast::Stmt::FunctionDef(f) => f.name.as_str() == "wait_time",
                _ => false,
            };
            if own_wait {
                let why = "a task set's own wait_time: the suggested rate uses the user class's";
                state.skip(self.src, self.src.line_of(st), why);
            }
        }
        if let Some(d) = class.methods.get("on_stop") {
            state.skip(self.src, self.src.line_of(*d), "on_stop of a task set: blast has no step when it is left");
        }
        let out = if is_sequential(def, self.classes, 0) {
            self.sequence(def, &class, &entries, on_start, interrupting > 0, state)
        } else {
            if let Some(d) = on_start {
                if interrupting > 0 {
                    let why = "on_start of a task set that interrupts runs on every entry: blast has no step for that";
                    state.skip(self.src, self.src.line_of(d), why);
                } else {
                    self.once_per_user(&class, d, state);
                }
            }
            let total: u64 = entries.iter().map(Entry::weight).sum();
            let per_visit = Ratio::int(if interrupting > 0 { interrupting } else { total });
            let mut out = Vec::new();
            let alone = entries.len() == 1;
            for e in &entries {
                let share = Ratio::int(e.weight()).over(per_visit);
                match e {
                    Entry::Func(t) => {
                        let items = self.func(&class, t, state);
                        // an interrupting task hands back before its wait: no turn of its own
                        let tasks = u64::from(!self.interrupts(t.def));
                        out.push(Folded { w: share, tasks, items });
                    }
                    Entry::Set { def, line, .. } => {
                        for f in self.set(def, *line, &class, alone, state, depth + 1) {
                            out.push(Folded { w: f.w.times(share), ..f });
                        }
                    }
                }
            }
            out
        };
        (state.attrs, state.session_headers) = saved;
        out
    }

    /// A set's `on_start` that runs once per user: its steps join the user's `[[on_start]]`,
    /// what it sets is seen by the set's tasks.
    fn once_per_user(&self, class: &Class<'_>, d: &ast::StmtFunctionDef, state: &mut State) {
        let mut run = Task::new(self.src, self.module, Some(class));
        run.attrs = state.attrs.clone();
        run.session_headers = state.session_headers.clone();
        run.captured = std::mem::take(&mut state.captured);
        run.per_user = true;
        run.stmts(&d.body);
        state.absorb(&mut run);
        state.on_start.append(&mut run.steps);
        state.on_start_notes.append(&mut run.pending);
        state.attrs = std::mem::take(&mut run.attrs);
        state.session_headers = std::mem::take(&mut run.session_headers);
    }

    /// A `SequentialTaskSet`: one flow of its tasks in order.
    fn sequence(
        &self,
        def: &ast::StmtClassDef,
        class: &Class<'_>,
        entries: &[Entry<'_>],
        on_start: Option<&ast::StmtFunctionDef>,
        interrupts: bool,
        state: &mut State,
    ) -> Vec<Folded> {
        if let (Some(d), false) = (on_start, interrupts) {
            self.once_per_user(class, d, state);
        }
        let mut run = Task::new(self.src, self.module, Some(class));
        run.attrs = state.attrs.clone();
        run.session_headers = state.session_headers.clone();
        run.captured = std::mem::take(&mut state.captured);
        if let (Some(d), true) = (on_start, interrupts) {
            // left and entered again: on_start opens every pass
            run.stmts(&d.body);
            run.begin();
        }
        let mut count = 0u64;
        'tasks: for e in entries {
            match e {
                Entry::Func(t) if t.weight <= 100 => {
                    for _ in 0..t.weight {
                        run.self_name = t.self_name.clone();
                        run.stmts(&t.def.body);
                        run.begin();
                        if self.interrupts(t.def) {
                            break 'tasks;
                        }
                        count += 1;
                    }
                }
                Entry::Func(t) => {
                    run.skip(self.src.line_of(t.def), "a task repeated more than 100 times in a sequence");
                }
                Entry::Set { line, def, .. } => {
                    run.skip(*line, format!("{}: a task set inside a SequentialTaskSet", def.name));
                }
            }
        }
        state.absorb(&mut run);
        let items = items(def.name.as_str(), &[], run.steps, run.pending);
        vec![Folded { w: Ratio::int(1), tasks: count.max(1), items }]
    }
}

/// Whether a class is a `SequentialTaskSet` (directly or through its parents in the file).
fn is_sequential(c: &ast::StmtClassDef, classes: &HashMap<String, &ast::StmtClassDef>, depth: usize) -> bool {
    c.bases.iter().filter_map(base_name).any(|b| {
        b == "SequentialTaskSet"
            || (depth < 16
                && b != c.name.as_str()
                && classes
                    .get(&b)
                    .is_some_and(|p| kind_of(p, classes) == Kind::TaskSet && is_sequential(p, classes, depth + 1)))
    })
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
