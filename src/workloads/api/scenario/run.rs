//! Performing one iteration on a connection: its steps in order, each recorded under its name,
//! captures taken from responses, per-user values kept per core.
//!
//! A step that fails (no response, or a status of 400 and above, or a capture that is not in
//! the response, or a path a captured value broke: `invalid_path`, not sent) ends its
//! iteration; later iterations are unaffected. A 401 on a step that used a per-user value drops
//! that user's values, so the user's next iteration logs in again. A step whose connection the
//! last response closed goes on a fresh one (the connection's rule, `Exchange`); its connect
//! time is left out of the step's latency.

use super::spec::{Body, Iteration, Repeat, Scenario, Step};
use crate::engine::rng::SplitMix64;
use crate::engine::{CallStats, ErrorKind, Job, StepRecord};
use crate::template::Values;
use crate::workloads::upload::data::DataPool;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Largest response body kept for a JSON pointer capture.
pub const MAX_CAPTURE_BODY: usize = 1 << 20;

/// The state of one virtual user on its core.
#[derive(Default)]
struct UserState {
    /// Per-user variables by slot, valid when `held`.
    vars: Vec<Vec<u8>>,
    held: bool,
    /// Another iteration of this user is running its once-per-user steps (logging in).
    pending: Option<Rc<tokio::sync::Notify>>,
}

/// What the iterations of one core share: its users and their captured values.
pub struct CoreScenario {
    pub scenario: Arc<Scenario>,
    /// The users this core owns, by index into the users file.
    own_users: Vec<usize>,
    states: RefCell<Vec<UserState>>,
    pub pool: Option<DataPool>,
    pub core: usize,
    pub timeout: Duration,
}

impl CoreScenario {
    /// Core `core` of lane `lane` (`lanes` = cores of every shard).
    pub fn new(
        scenario: Arc<Scenario>,
        pool: Option<DataPool>,
        core: usize,
        lane: usize,
        lanes: usize,
        timeout: Duration,
    ) -> Self {
        let own_users = scenario.users.as_ref().map_or_else(Vec::new, |u| u.of_lane(lane, lanes));
        let states = (0..own_users.len().max(1))
            .map(|_| UserState { vars: vec![Vec::new(); scenario.vars.len()], ..UserState::default() })
            .collect();
        CoreScenario { scenario, own_users, states: RefCell::new(states), pool, core, timeout }
    }

    /// The local user (index into `own_users`) of this core's `nth` arrival: round robin.
    fn user_of(&self, nth: u64) -> usize {
        (nth % self.own_users.len().max(1) as u64) as usize
    }

    fn user_row(&self, local: usize) -> &[Box<[u8]>] {
        match (&self.scenario.users, self.own_users.get(local)) {
            (Some(u), Some(&i)) => &u.rows[i],
            _ => &[],
        }
    }
}

/// The I/O an iteration needs from its connection.
pub trait Exchange {
    /// Writes `head` (up to the Content-Length value) then the body, reads one response, on a
    /// fresh connection when the last response closed the one it had (or the peer closed it
    /// since): counted in `stats.reopened`, timed in `stats.connect_time`. `keep` asks for the
    /// response body and headers to be kept for captures.
    fn exchange<'a>(
        &'a mut self,
        head: &'a [u8],
        body: &'a [u8],
        keep: Keep,
        stats: &'a mut CallStats,
    ) -> impl std::future::Future<Output = Result<u16, ErrorKind>> + 'a;

    /// The response kept by the last exchange: its parsed JSON body, its headers.
    fn kept(&self) -> (Option<serde_json::Value>, &[(String, Vec<u8>)]);
}

/// What of a response to keep.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Keep {
    pub body: bool,
    pub headers: bool,
}

/// Buffers an iteration reuses (one set per connection).
#[derive(Default)]
pub struct Scratch {
    head: Vec<u8>,
    body: Vec<u8>,
    vars: Vec<Vec<u8>>,
    value: Vec<u8>,
    pub rng: Option<SplitMix64>,
}

/// Performs the iteration `job.kind` of the scenario. Steps other than a lone request (the
/// user's `on_start`, a flow's steps) go to `steps`, each under its own row.
pub async fn iterate<C: Exchange>(
    core: &CoreScenario,
    conn: &mut C,
    conn_index: usize,
    job: &Job,
    scratch: &mut Scratch,
    stats: &mut CallStats,
    steps: &mut Vec<StepRecord>,
) -> Result<u16, ErrorKind> {
    let Some(it) = core.scenario.iterations.get(job.kind) else { return Err(ErrorKind::Io) };
    if scratch.vars.len() != core.scenario.vars.len() {
        scratch.vars = vec![Vec::new(); core.scenario.vars.len()];
    }
    let rng = scratch
        .rng
        .take()
        .unwrap_or_else(|| SplitMix64::stream(core.scenario.seed, (core.core as u64) << 32 | conn_index as u64));
    let mut cx = Cx {
        core,
        conn,
        conn_index,
        job,
        user: core.user_of(job.nth),
        scratch,
        rng,
        stats,
        steps,
        started: job.intended,
    };
    load_user_vars(core, cx.user, &mut cx.scratch.vars);
    let mut result = Ok(0);
    if !core.scenario.on_start.is_empty() {
        if let Err(stop) = cx.once_per_user(&core.scenario.on_start).await {
            result = Err(stop);
        }
    }
    let result = match result {
        Err(stop) => stop,
        Ok(_) => {
            if it.flow {
                cx.flow(it).await
            } else {
                // One request: the engine records it (and times it out) as the iteration itself.
                let step = &it.steps[0];
                let r = cx.request(step, 0).await;
                cx.after_failure(step, r);
                r
            }
        }
    };
    cx.scratch.rng = Some(cx.rng);
    result
}

/// An iteration's result: the status the engine records, or why it failed.
type Outcome = Result<u16, ErrorKind>;

/// Copies the user's held per-user values into the iteration's variables.
fn load_user_vars(core: &CoreScenario, user: usize, vars: &mut [Vec<u8>]) {
    let states = core.states.borrow();
    let Some(s) = states.get(user) else { return };
    if !s.held {
        return;
    }
    for (slot, v) in core.scenario.vars.iter().enumerate() {
        if v.per_user {
            vars[slot].clear();
            vars[slot].extend_from_slice(&s.vars[slot]);
        }
    }
}

/// One iteration in progress.
struct Cx<'a, C> {
    core: &'a CoreScenario,
    conn: &'a mut C,
    conn_index: usize,
    job: &'a Job,
    /// The virtual user (index into the core's own users).
    user: usize,
    scratch: &'a mut Scratch,
    rng: SplitMix64,
    stats: &'a mut CallStats,
    steps: &'a mut Vec<StepRecord>,
    /// When the next step may start: the intended time, then each step's end.
    started: Instant,
}

impl<C: Exchange> Cx<'_, C> {
    /// The steps of a flow in order; the first failure ends the iteration.
    async fn flow(&mut self, it: &Iteration) -> Outcome {
        let mut status = 0;
        for step in &it.steps {
            let done = if step.once_per_user() {
                self.once_per_user(std::slice::from_ref(step)).await
            } else {
                self.step(step).await
            };
            match done {
                Ok(s) => status = s,
                Err(stop) => return stop,
            }
        }
        Ok(status)
    }

    /// Runs `group` (a login: steps whose captures are per user) once per user: skipped while
    /// the user holds the values, waited for while another iteration of the same user runs it.
    /// `Err` holds the outcome that ends the iteration.
    async fn once_per_user(&mut self, group: &[Step]) -> Result<u16, Outcome> {
        let core = self.core;
        loop {
            let waiting = {
                let mut states = core.states.borrow_mut();
                let s = &mut states[self.user];
                if s.held {
                    None
                } else if let Some(n) = &s.pending {
                    Some(n.clone())
                } else {
                    s.pending = Some(Rc::new(tokio::sync::Notify::new()));
                    break;
                }
            };
            match waiting {
                None => {
                    load_user_vars(core, self.user, &mut self.scratch.vars);
                    return Ok(0);
                }
                Some(n) => {
                    n.notified().await;
                    self.started = Instant::now();
                }
            }
        }
        let mut result = Ok(0);
        for step in group {
            result = self.step(step).await;
            if result.is_err() {
                break;
            }
        }
        let mut states = core.states.borrow_mut();
        let s = &mut states[self.user];
        if result.is_ok() {
            for (slot, v) in core.scenario.vars.iter().enumerate() {
                if v.per_user {
                    s.vars[slot].clear();
                    s.vars[slot].extend_from_slice(&self.scratch.vars[slot]);
                }
            }
            s.held = true;
        }
        if let Some(n) = s.pending.take() {
            n.notify_waiters();
        }
        result
    }

    /// One step of a flow, `repeat` times, each request recorded under the step's row.
    /// `Ok(status)` of the last request, or `Err` with the outcome that ends the iteration.
    async fn step(&mut self, step: &Step) -> Result<u16, Outcome> {
        let Some(times) = self.repeat_count(step) else {
            self.steps.push(StepRecord::failed(step.row, self.started, Instant::now(), ErrorKind::Malformed));
            return Err(Err(ErrorKind::Malformed));
        };
        let mut status = 0;
        for i in 0..times {
            let timeout = self.core.timeout;
            let stats;
            let mut result = {
                let saved = std::mem::take(self.stats);
                let r = tokio::time::timeout(timeout, self.request(step, i)).await.unwrap_or(Err(ErrorKind::Timeout));
                stats = std::mem::replace(self.stats, saved);
                r
            };
            if let Ok(code) = result {
                if code < 400 && !self.capture(step) {
                    result = Err(ErrorKind::CaptureMissing);
                }
            }
            let done = Instant::now();
            self.stats.sent_at = self.stats.sent_at.or(stats.sent_at);
            self.stats.bytes_out += stats.bytes_out;
            self.stats.bytes_in += stats.bytes_in;
            self.stats.body_in += stats.body_in;
            self.stats.reopened += stats.reopened;
            self.stats.connect_time += stats.connect_time;
            self.stats.retried |= stats.retried;
            self.steps.push(StepRecord {
                row: step.row,
                // A connection the step had to open (the last response closed the previous
                // one) is timed as a connect, not as the step: its latency starts after it.
                started: (self.started + stats.connect_time).min(done),
                sent_at: stats.sent_at,
                done,
                result,
                bytes_out: stats.bytes_out,
                bytes_in: stats.bytes_in,
                body_in: stats.body_in,
            });
            self.started = done;
            match result {
                Ok(code) if code < 400 => status = code,
                Ok(code) => {
                    self.after_failure(step, Ok(code));
                    return Err(Ok(code));
                }
                Err(kind) => return Err(Err(kind)),
            }
        }
        Ok(status)
    }

    /// A 401 on a request that used per-user values (a token) drops them: the user logs in
    /// again on its next iteration.
    fn after_failure(&self, step: &Step, result: Outcome) {
        if result == Ok(401) && uses_user_vars(self.core, step) {
            self.core.states.borrow_mut()[self.user].held = false;
        }
    }

    fn repeat_count(&mut self, step: &Step) -> Option<u64> {
        match &step.repeat {
            Repeat::Times(n) => Some(*n),
            Repeat::Template(t) => {
                let s = &mut *self.scratch;
                s.value.clear();
                let mut v = Values {
                    seq: self.job.seq,
                    index: 0,
                    core: self.core.core,
                    conn: self.conn_index,
                    user: self.core.user_row(self.user),
                    vars: &s.vars,
                    rng: &mut self.rng,
                };
                t.render(&mut v, &mut s.value);
                std::str::from_utf8(&s.value).ok()?.trim().parse().ok()
            }
        }
    }

    /// Takes the step's captures from the response into the iteration's variables. False
    /// when one is missing.
    fn capture(&mut self, step: &Step) -> bool {
        if step.captures.is_empty() {
            return true;
        }
        let (body, headers) = self.conn.kept();
        for c in &step.captures {
            if !super::capture::extract(&c.source, body.as_ref(), headers, &mut self.scratch.value) {
                return false;
            }
            let slot = &mut self.scratch.vars[c.slot];
            slot.clear();
            slot.extend_from_slice(&self.scratch.value);
        }
        true
    }

    /// Renders and performs one request of a step (repetition `index`).
    async fn request(&mut self, step: &Step, index: u64) -> Result<u16, ErrorKind> {
        let keep = Keep { body: step.needs_body(), headers: step.needs_headers() };
        if let Some(whole) = &step.whole {
            return self.conn.exchange(whole, &[], keep, self.stats).await;
        }
        let core = self.core;
        let Scratch { head, body, vars, .. } = &mut *self.scratch;
        let mut values = Values {
            seq: self.job.seq,
            index,
            core: core.core,
            conn: self.conn_index,
            user: core.user_row(self.user),
            vars,
            rng: &mut self.rng,
        };
        head.clear();
        step.line.render(&mut values, head);
        if step.check_path && !step.valid_path(head) {
            return Err(ErrorKind::InvalidPath);
        }
        step.head.render(&mut values, head);
        let mut num = itoa::Buffer::new();
        let stats = &mut *self.stats;
        match &step.body {
            Body::Empty => {
                head.extend_from_slice(b"0\r\n\r\n");
                self.conn.exchange(head, &[], keep, stats).await
            }
            Body::Template(t) => {
                body.clear();
                t.render(&mut values, body);
                head.extend_from_slice(num.format(body.len()).as_bytes());
                head.extend_from_slice(b"\r\n\r\n");
                head.extend_from_slice(body);
                self.conn.exchange(head, &[], keep, stats).await
            }
            Body::Fixed(bytes) => {
                head.extend_from_slice(num.format(bytes.len()).as_bytes());
                head.extend_from_slice(b"\r\n\r\n");
                self.conn.exchange(head, bytes, keep, stats).await
            }
            Body::Random(len) => {
                let Some(pool) = &core.pool else { return Err(ErrorKind::Io) };
                // Every request of the run gets its own slice: the global sequence and the index.
                let data = pool.part(self.job.seq, (index % 10_000) as u32 + 1, *len);
                head.extend_from_slice(num.format(data.len()).as_bytes());
                head.extend_from_slice(b"\r\n\r\n");
                self.conn.exchange(head, &data, keep, stats).await
            }
        }
    }
}

fn uses_user_vars(core: &CoreScenario, step: &Step) -> bool {
    let used = |t: &crate::template::Template| t.vars_used().any(|slot| core.scenario.vars[slot].per_user);
    used(&step.line) || used(&step.head) || matches!(&step.body, Body::Template(t) if used(t))
}
