//! Performing one iteration on a connection: its steps in order, each recorded under its name,
//! captures taken from responses, per-user values kept per core.
//!
//! A step that fails (no response, or a status of 400 and above, or a capture that is not in
//! the response) ends its iteration; later iterations are unaffected. A 401 on a step that used
//! a per-user value drops that user's values, so the user's next iteration logs in again.

use super::{Body, Iteration, Repeat, Scenario, Step};
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
    /// Writes `head` (up to the Content-Length value) then the body, reads one response.
    /// `keep` asks for the response body and headers to be kept for captures.
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

/// Performs the iteration `job.kind` of the scenario; steps of a flow go to `steps`.
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
    let user = core.user_of(job.nth);
    if scratch.vars.len() != core.scenario.vars.len() {
        scratch.vars = vec![Vec::new(); core.scenario.vars.len()];
    }
    let mut rng = scratch
        .rng
        .take()
        .unwrap_or_else(|| SplitMix64::stream(core.scenario.seed, (core.core as u64) << 32 | conn_index as u64));
    let result = if it.flow {
        flow(core, conn, conn_index, job, it, user, scratch, &mut rng, stats, steps).await
    } else {
        // One request: the engine records it (and times it out) as the iteration itself.
        let step = &it.steps[0];
        load_user_vars(core, user, &mut scratch.vars);
        request(core, conn, conn_index, job, step, 0, user, scratch, &mut rng, stats).await
    };
    scratch.rng = Some(rng);
    result
}

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

#[allow(clippy::too_many_arguments)]
async fn flow<C: Exchange>(
    core: &CoreScenario,
    conn: &mut C,
    conn_index: usize,
    job: &Job,
    it: &Iteration,
    user: usize,
    scratch: &mut Scratch,
    rng: &mut SplitMix64,
    stats: &mut CallStats,
    steps: &mut Vec<StepRecord>,
) -> Result<u16, ErrorKind> {
    let mut started = job.intended;
    let mut status = 0;
    load_user_vars(core, user, &mut scratch.vars);
    for step in &it.steps {
        let once = step.once_per_user();
        if once {
            // Log in once per user: skip while the user holds the values; wait while another
            // iteration of the same user is logging in.
            loop {
                let waiting = {
                    let mut states = core.states.borrow_mut();
                    let s = &mut states[user];
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
                    None => break,
                    Some(n) => {
                        n.notified().await;
                        started = Instant::now();
                    }
                }
            }
            if core.states.borrow()[user].held {
                load_user_vars(core, user, &mut scratch.vars);
                continue;
            }
        }
        let times = match repeat_count(core, step, job, user, scratch, rng) {
            Some(n) => n,
            None => {
                steps.push(StepRecord::failed(step.row, started, Instant::now(), ErrorKind::Malformed));
                finish_once(core, user, once, false, &scratch.vars);
                return Err(ErrorKind::Malformed);
            }
        };
        for i in 0..times {
            let mut step_stats = CallStats::default();
            let exchanged = tokio::time::timeout(
                core.timeout,
                request(core, conn, conn_index, job, step, i, user, scratch, rng, &mut step_stats),
            )
            .await
            .unwrap_or(Err(ErrorKind::Timeout));
            let mut result = exchanged;
            if let Ok(code) = result {
                if code < 400 && !capture(core, conn, step, scratch) {
                    result = Err(ErrorKind::CaptureMissing);
                }
            }
            let done = Instant::now();
            stats.sent_at = stats.sent_at.or(step_stats.sent_at);
            stats.bytes_out += step_stats.bytes_out;
            stats.bytes_in += step_stats.bytes_in;
            steps.push(StepRecord {
                row: step.row,
                started,
                sent_at: step_stats.sent_at,
                done,
                result,
                bytes_out: step_stats.bytes_out,
                bytes_in: step_stats.bytes_in,
            });
            started = done;
            match result {
                Ok(code) if code < 400 => status = code,
                other => {
                    if other == Ok(401) && uses_user_vars(core, step) {
                        let mut states = core.states.borrow_mut();
                        states[user].held = false;
                    }
                    finish_once(core, user, once, false, &scratch.vars);
                    return other;
                }
            }
        }
        finish_once(core, user, once, true, &scratch.vars);
    }
    Ok(status)
}

/// Ends a once-per-user step: stores the user's values (on success) and wakes the iterations
/// of the same user that waited for it.
fn finish_once(core: &CoreScenario, user: usize, once: bool, ok: bool, vars: &[Vec<u8>]) {
    if !once {
        return;
    }
    let mut states = core.states.borrow_mut();
    let s = &mut states[user];
    if ok {
        for (slot, v) in core.scenario.vars.iter().enumerate() {
            if v.per_user {
                s.vars[slot].clear();
                s.vars[slot].extend_from_slice(&vars[slot]);
            }
        }
        s.held = true;
    }
    if let Some(n) = s.pending.take() {
        n.notify_waiters();
    }
}

fn uses_user_vars(core: &CoreScenario, step: &Step) -> bool {
    let used = |t: &crate::template::Template| t.vars_used().any(|slot| core.scenario.vars[slot].per_user);
    used(&step.head) || matches!(&step.body, Body::Template(t) if used(t))
}

fn repeat_count(
    core: &CoreScenario,
    step: &Step,
    job: &Job,
    user: usize,
    scratch: &mut Scratch,
    rng: &mut SplitMix64,
) -> Option<u64> {
    match &step.repeat {
        Repeat::Times(n) => Some(*n),
        Repeat::Template(t) => {
            scratch.value.clear();
            let mut v = Values {
                seq: job.seq,
                index: 0,
                core: core.core,
                conn: 0,
                user: core.user_row(user),
                vars: &scratch.vars,
                rng,
            };
            t.render(&mut v, &mut scratch.value);
            std::str::from_utf8(&scratch.value).ok()?.trim().parse().ok()
        }
    }
}

/// Renders and performs one request of a step (repetition `index`).
#[allow(clippy::too_many_arguments)]
async fn request<C: Exchange>(
    core: &CoreScenario,
    conn: &mut C,
    conn_index: usize,
    job: &Job,
    step: &Step,
    index: u64,
    user: usize,
    scratch: &mut Scratch,
    rng: &mut SplitMix64,
    stats: &mut CallStats,
) -> Result<u16, ErrorKind> {
    let Scratch { head, body, vars, .. } = scratch;
    let mut values =
        Values { seq: job.seq, index, core: core.core, conn: conn_index, user: core.user_row(user), vars, rng };
    head.clear();
    step.head.render(&mut values, head);
    let keep = Keep { body: step.needs_body(), headers: step.needs_headers() };
    let mut num = itoa::Buffer::new();
    match &step.body {
        Body::Empty => {
            head.extend_from_slice(b"0\r\n\r\n");
            conn.exchange(head, &[], keep, stats).await
        }
        Body::Template(t) => {
            body.clear();
            t.render(&mut values, body);
            head.extend_from_slice(num.format(body.len()).as_bytes());
            head.extend_from_slice(b"\r\n\r\n");
            head.extend_from_slice(body);
            conn.exchange(head, &[], keep, stats).await
        }
        Body::Fixed(bytes) => {
            head.extend_from_slice(num.format(bytes.len()).as_bytes());
            head.extend_from_slice(b"\r\n\r\n");
            conn.exchange(head, bytes, keep, stats).await
        }
        Body::Random(len) => {
            let Some(pool) = &core.pool else { return Err(ErrorKind::Io) };
            // Every request of the run gets its own slice: the global sequence and the index.
            let data = pool.part(job.seq, (index % 10_000) as u32 + 1, *len);
            head.extend_from_slice(num.format(data.len()).as_bytes());
            head.extend_from_slice(b"\r\n\r\n");
            conn.exchange(head, &data, keep, stats).await
        }
    }
}

/// Takes the step's captures from the response into the iteration's variables. False when one
/// is missing.
fn capture<C: Exchange>(core: &CoreScenario, conn: &C, step: &Step, scratch: &mut Scratch) -> bool {
    if step.captures.is_empty() {
        return true;
    }
    let (body, headers) = conn.kept();
    for c in &step.captures {
        if !super::capture::extract(&c.source, body.as_ref(), headers, &mut scratch.value) {
            return false;
        }
        let slot = &mut scratch.vars[c.slot];
        slot.clear();
        slot.extend_from_slice(&scratch.value);
    }
    let _ = core;
    true
}
