//! Locust files, read statically with a Python parser (nothing is executed): module constants,
//! `HttpUser`/`FastHttpUser` classes (`host`, `weight`, `wait_time`, `@task(N)`, `tasks = ...`,
//! `@tag`), `on_start` logins, and each task's requests (`locust_task`). Weights of classes and
//! tasks become one exact mix; `wait_time` becomes a suggested `rate` with its arithmetic.

use super::locust_class::{base_name, chain, class_info, is_abstract, kind_of, m_eval, mentions, task_defs, wait_time};
use super::locust_class::{Entry, Kind};
use super::locust_set::{Cx, Folded, Ratio, State};
use super::locust_task::{Source, Task};
use super::locust_value::Val;
use super::model::{Item, Profile, Skipped, Step};
use super::Options;
use crate::usage::UsageError;
use rustpython_parser::ast::{self, Expr, Stmt};
use rustpython_parser::Parse;
use std::collections::HashMap;

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
    // one cycle: every class's task shares (exact fractions) times the class's iterations per
    // second when every class's wait_time is known (Locust's steady state: a class whose users
    // wait longer sends less per user), else times the class weight (its share of the users)
    let paced = users.iter().all(|u| u.cycle.is_some());
    if paced && users.len() > 1 {
        p.rate_note.push("the mix: each class's tasks in proportion to its tasks/s above".into());
    }
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
        // per unit of task weight: users / (seconds per Locust task x tasks per unit), or users
        // / the weights of the tasks that send
        let per_unit = match u.cycle {
            Some((secs, _)) if paced => {
                let all = u.tasks.iter().fold(Ratio::ZERO, |a, f| a.plus(f.w.times(Ratio::int(f.tasks))));
                Ratio::int(u.weight).over(Ratio::approx(secs).times(all))
            }
            _ => Ratio::int(u.weight).over(sending),
        };
        for f in u.tasks {
            let weight = if sending.num == 0 { Ratio::int(1) } else { per_unit.times(f.w) };
            for item in f.items {
                weighted.push((weight, item));
            }
        }
    }
    p.timeout = timeout.map(|t| format!("{}ms", (t * 1000.0).round() as u64));
    let real = || weighted.iter().filter(|(_, i)| !matches!(i, Item::Comments(_)));
    let l = real().fold(1u128, |a, (w, _)| lcm128(a, w.den));
    let g = real().fold(0u128, |a, (w, _)| gcd128(a, w.num * (l / w.den))).max(1);
    let mut weights: Vec<u64> =
        weighted.iter().map(|(w, _)| u64::try_from(w.num * (l / w.den) / g).unwrap_or(u64::MAX).max(1)).collect();
    let total: u128 = weighted
        .iter()
        .zip(&weights)
        .filter(|((_, i), _)| !matches!(i, Item::Comments(_)))
        .map(|(_, &w)| u128::from(w))
        .sum();
    if total > u128::from(MAX_WEIGHTS) {
        // a cycle longer than `blast run` takes: the same shares to 1 part in MAX_WEIGHTS
        for w in &mut weights {
            *w = ((u128::from(*w) * u128::from(MAX_WEIGHTS) + total / 2) / total).max(1) as u64;
        }
        p.rate_note.push(format!("the weights are rounded: exact, they add up to {total}"));
    }
    for ((_, mut item), w) in weighted.into_iter().zip(weights) {
        match &mut item {
            Item::Request { weight, .. } => *weight = w,
            Item::Flow(f) => f.weight = w,
            Item::Comments(_) => {}
        }
        p.items.push(item);
    }
    p
}

/// The most the weights may add up to (a cycle of `blast run`'s mix is at most a million).
const MAX_WEIGHTS: u64 = 100_000;

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

#[cfg(test)]
mod tests {
    use super::*;

    fn import(text: &str) -> (toml::Table, Vec<Skipped>) {
        let opts = Options { host: None, rate: None, users: 10, output: None };
        let (p, skipped) = read("t.py", text, &opts).expect("a Locust file");
        let toml = super::super::toml_out::write(&p);
        (toml::from_str(&toml).unwrap_or_else(|e| panic!("{e}\n{toml}")), skipped)
    }

    fn requests(t: &toml::Table) -> Vec<&toml::Table> {
        t["request"].as_array().expect("requests").iter().filter_map(|r| r.as_table()).collect()
    }

    /// `int(time.time())` and its kin are send-time placeholders (`round()`'s rounding to the
    /// nearest unit, as Python's); a bare `time.time()` (a float) is listed with the way to
    /// write it.
    #[test]
    fn whole_clock_readings_become_placeholders() {
        let (t, skipped) = import(
            r#"
import math, time
from locust import HttpUser, constant, task

class U(HttpUser):
    wait_time = constant(1)

    @task
    def stamp(self):
        self.client.post(f"/e?at={int(time.time())}", name="stamp", json={
            "s": int(time.time()), "r": round(time.time()), "f": math.floor(time.time()),
            "ms": round(time.time() * 1000), "us": int(time.time() * 1000000),
            "ur": round(time.time() * 1e6), "fms": math.floor(time.time() * 1000), "half": round(2.5)})

    @task
    def float_time(self):
        self.client.post("/f", name="float", json={"ts": time.time()})
"#,
        );
        let stamp = requests(&t).into_iter().find(|r| r["name"].as_str() == Some("stamp")).expect("stamp");
        assert_eq!(stamp["path"].as_str(), Some("/e?at={{now_s}}"));
        let json = stamp["json"].as_table().expect("json");
        for (k, want) in [
            ("s", "{{=now_s}}"),
            ("r", "{{=now_s_round}}"),
            ("f", "{{=now_s}}"),
            ("ms", "{{=now_ms_round}}"),
            ("us", "{{=now_us}}"),
            ("ur", "{{=now_us_round}}"),
            ("fms", "{{=now_ms}}"),
        ] {
            assert_eq!(json[k].as_str(), Some(want), "{k}: {json:?}");
        }
        // Python rounds a tie to the even one: round(2.5) == 2
        assert_eq!(json["half"].as_integer(), Some(2), "{json:?}");
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert!(skipped[0].why.contains("int(time.time())"), "{skipped:?}");
    }

    /// Classes with different wait times share the mix by their tasks per second, as in
    /// Locust's steady state; without a known wait time for every class, by class weight.
    #[test]
    fn classes_share_the_mix_by_their_task_rate() {
        let two = |fast: &str, slow: &str| {
            format!(
                "from locust import HttpUser, between, constant, constant_throughput, task\n\n\
                 class Fast(HttpUser):\n    {fast}\n\n    @task\n    def a(self):\n        self.client.get(\"/a\")\n\n\
                 class Slow(HttpUser):\n    weight = 2\n    {slow}\n\n    @task(3)\n    def b(self):\n        self.client.get(\"/b\")\n\n    \
                 @task\n    def c(self):\n        self.client.get(\"/c\")\n"
            )
        };
        let weights = |text: &str| -> Vec<i64> {
            let (t, skipped) = import(text);
            assert!(skipped.iter().all(|s| s.why.contains("constant(0)")), "{skipped:?}");
            requests(&t).iter().map(|r| r["weight"].as_integer().expect("weight")).collect()
        };
        // 1 user at 3 tasks/s against 2 users at one task per 4 s (0.5/s: b 3/8, c 1/8)
        assert_eq!(weights(&two("wait_time = constant_throughput(3)", "wait_time = between(3, 5)")), [24, 3, 1]);
        // equal waits: the class weights alone (1 against 2, within it 3:1)
        assert_eq!(weights(&two("wait_time = constant(1)", "wait_time = constant(1)")), [2, 3, 1]);
        // a class runs back to back (constant(0)): its rate is unknown, the class weights decide
        assert_eq!(weights(&two("wait_time = constant(0)", "wait_time = constant(1)")), [2, 3, 1]);
    }
}
