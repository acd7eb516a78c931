//! Performing one iteration on a connection: its steps in order, each recorded under its name,
//! captures taken from responses, per-user values kept per core.
//!
//! A step that fails (no response, or a status of 400 and above, or a capture that is not in
//! the response, or a path a captured value broke: `invalid_path`, not sent) ends its
//! iteration; later iterations are unaffected. A 401 on a step that used a per-user value drops
//! that user's values, so the user's next iteration logs in again. A step whose connection the
//! last response closed goes on a fresh one (the connection's rule, `Exchange`); its connect
//! time is left out of the step's latency.
//!
//! Sessions (`super::super::session`): a request carries its virtual user's cookies (unless it
//! sets its own `Cookie` header), every response's `Set-Cookie` goes into the user's jar, and a
//! redirect is followed within the request: the hops are one request under the step's name,
//! timed from its start to the last answer, whose status is the one checked.

use super::capture::Source;
use super::spec::{Body, Iteration, MultipartPiece, PartData, Repeat, Scenario, Split, SplitTotal, Step};
use crate::engine::rng::SplitMix64;
use crate::engine::{CallStats, ErrorKind, Job, StepRecord};
use crate::http::codec::SessionHeaders;
use crate::http::cookies::{CookieJar, CookieUrl};
use crate::http::redirect::{self, Location};
use crate::template::{SplitValues, Template, Values};
use crate::workloads::api::session::{Route, SessionRules};
use crate::workloads::upload::data::DataPool;
use bytes::Bytes;
use sha2::Digest;
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
    /// The user's cookies, when the user is the scenario's (`CoreScenario::user_jars`).
    jar: CookieJar,
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
    /// Cookies and redirects.
    pub session: Arc<SessionRules>,
    /// The virtual user is the scenario's (per-user data: `users`, a users file, `on_start`,
    /// a login's per-user captures), its jar in `states`; otherwise each connection is one (its jar in
    /// the connection's `Scratch`).
    user_jars: bool,
}

impl CoreScenario {
    /// Core `core` of lane `lane` (`lanes` = cores of every shard).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        scenario: Arc<Scenario>,
        session: Arc<SessionRules>,
        pool: Option<DataPool>,
        core: usize,
        lane: usize,
        lanes: usize,
        timeout: Duration,
    ) -> Self {
        let own_users = scenario.user_count().map_or_else(Vec::new, |n| super::users::lane_users(n, lane, lanes));
        let states = (0..own_users.len().max(1))
            .map(|_| UserState { vars: vec![Vec::new(); scenario.vars.len()], ..UserState::default() })
            .collect();
        let user_jars = scenario.user_count().is_some()
            || !scenario.on_start.is_empty()
            || scenario.vars.iter().any(|v| v.per_user);
        CoreScenario { scenario, own_users, states: RefCell::new(states), pool, core, timeout, session, user_jars }
    }

    /// Each connection its own virtual user and jar (kept in its `Scratch`), whatever the
    /// scenario's users: `blast ws --login`, whose connections log in one by one.
    pub fn per_connection_jars(mut self) -> Self {
        self.user_jars = false;
        self
    }

    /// The local user (index into `own_users`) of this core's `nth` arrival: round robin.
    fn user_of(&self, nth: u64) -> usize {
        (nth % self.own_users.len().max(1) as u64) as usize
    }

    fn user_row(&self, local: usize) -> &[Box<[u8]>] {
        match self.own_users.get(local) {
            Some(&i) => self.row_of(i as u64),
            None => &[],
        }
    }

    /// The users file's row of virtual user `user` (of the whole run): row `user mod rows`.
    pub fn row_of(&self, user: u64) -> &[Box<[u8]>] {
        match &self.scenario.users {
            Some(u) if !u.rows.is_empty() => &u.rows[(user % u.rows.len() as u64) as usize],
            _ => &[],
        }
    }
}

/// The I/O an iteration needs from its connection.
pub trait Exchange {
    /// Writes `head` (up to the Content-Length value) then the body's parts (in one vectored
    /// write where the socket takes it), reads one response, on a fresh connection when the
    /// last response closed the one it had (or the peer closed it since): counted in
    /// `stats.reopened`, timed in `stats.connect_time`. `keep` asks for the response body and
    /// headers to be kept for captures and checks.
    fn exchange<'a>(
        &'a mut self,
        head: &'a [u8],
        body: &'a [&'a [u8]],
        keep: Keep,
        stats: &'a mut CallStats,
    ) -> impl std::future::Future<Output = Result<u16, ErrorKind>> + 'a;

    /// `exchange` on a connection to another host a redirect went to (`to`, at `addrs`),
    /// opened on first use and kept.
    #[allow(clippy::too_many_arguments)]
    fn exchange_at<'a>(
        &'a mut self,
        to: &'a Location,
        addrs: &'a [std::net::SocketAddr],
        head: &'a [u8],
        body: &'a [&'a [u8]],
        keep: Keep,
        stats: &'a mut CallStats,
    ) -> impl std::future::Future<Output = Result<u16, ErrorKind>> + 'a;

    /// The response kept by the last exchange: its parsed JSON body, its headers.
    fn kept(&self) -> (Option<serde_json::Value>, &[(String, Vec<u8>)]);

    /// The body kept by the last exchange, as received (empty when none was kept).
    fn kept_body(&self) -> &[u8];

    /// The cookies and the redirect of the last exchange's response (empty unless the
    /// connection reads them: sessions on).
    fn session(&self) -> &SessionHeaders;
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
    /// A multipart body's pieces: ranges of `body` (rendered text) or file bytes.
    segments: Vec<Segment>,
    /// The chunk bytes this iteration has sent (`{{sent_bytes}}`), their running SHA-256 and
    /// its hex (`{{sent_sha256}}`, empty until a chunk is sent).
    sent_bytes: u64,
    sha: Option<sha2::Sha256>,
    sha_hex: Vec<u8>,
    pub rng: Option<SplitMix64>,
    /// The connection's cookies, when each connection is a virtual user.
    jar: CookieJar,
    /// A `Cookie` header's value being written.
    cookie: Vec<u8>,
    /// The head of a redirect's next request, and of the one it follows.
    hop: Vec<u8>,
    hop_prev: Vec<u8>,
    /// Where the body of the request last sent is (a redirect may send it again).
    sent: Sent,
}

/// Where the body of the request last sent is.
#[derive(Default)]
enum Sent {
    /// After the head in the step's `whole` request.
    #[default]
    Whole,
    /// After the head in `Scratch::head` (empty when the head is all).
    Head,
    /// Apart (a file, the random pool, a chunk).
    Data(Bytes),
    /// A multipart body: `Scratch::segments` over `Scratch::body`.
    Multipart,
}

impl Scratch {
    /// The iteration's variables by slot (`Scenario::vars`), as the last iteration or login
    /// left them.
    pub fn vars(&self) -> &[Vec<u8>] {
        &self.vars
    }

    /// The `Cookie` header this connection's own jar holds for `url` (a virtual user per
    /// connection: `CoreScenario::per_connection_jars`).
    pub fn cookie_header(&self, url: &CookieUrl<'_>) -> Option<String> {
        self.jar.header_now(url)
    }

    /// What the connection's virtual user carries into its next login, run elsewhere (`blast ws
    /// --login`'s probe relogin): its captured variables, its own jar, its random stream; no
    /// buffer.
    pub fn carried(&self) -> Scratch {
        Scratch { vars: self.vars.clone(), jar: self.jar.clone(), rng: self.rng.clone(), ..Scratch::default() }
    }
}

/// A piece of a multipart body as sent.
enum Segment {
    Text(std::ops::Range<usize>),
    Data(Bytes),
}

/// The chunk a split step is sending.
#[derive(Clone, Default)]
struct Chunk {
    offset: u64,
    len: u64,
    chunks: u64,
    data: Option<Bytes>,
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
    scratch.sent_bytes = 0;
    scratch.sha = None;
    scratch.sha_hex.clear();
    let user = core.user_of(job.nth);
    let mut cx = Cx {
        core,
        conn,
        conn_index,
        job,
        user,
        row: core.user_row(user),
        scratch,
        rng,
        stats,
        steps,
        started: job.intended,
        chunk: Chunk::default(),
        user_waited: false,
    };
    load_user_vars(core, cx.user, &mut cx.scratch.vars);
    let mut result = Ok(0);
    if !core.scenario.on_start.is_empty() {
        // The user's login (its own, or one another iteration of the user is running) is the
        // user's wait: the iteration's own request is timed as sent after it.
        let waited_from = Instant::now();
        match cx.once_per_user(&core.scenario.on_start).await {
            Err(stop) => result = Err(stop),
            Ok(_) => cx.stats.sent_at = None,
        }
        if cx.user_waited {
            cx.stats.user_wait = waited_from.elapsed();
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
                let r = cx.check(step, 0, r);
                cx.after_failure(step, r);
                r
            }
        }
    };
    cx.scratch.rng = Some(cx.rng);
    result
}

/// Runs the scenario's `on_start` steps (a login) for virtual user `user` of the whole run
/// (the users file's row `user mod rows`) on `conn`, outside the arrivals: `blast ws` logs each
/// connection in before its upgrade. What they capture is left in `scratch` (`Scratch::vars`);
/// each request is recorded in `steps` under its row. `Err` holds the failure that ended the
/// login: a status of 400 and above, or the kind of the failure.
pub async fn log_in<C: Exchange>(
    core: &CoreScenario,
    conn: &mut C,
    user: u64,
    seq: u64,
    scratch: &mut Scratch,
    steps: &mut Vec<StepRecord>,
) -> Outcome {
    if scratch.vars.len() != core.scenario.vars.len() {
        scratch.vars = vec![Vec::new(); core.scenario.vars.len()];
    }
    let rng = scratch.rng.take().unwrap_or_else(|| SplitMix64::stream(core.scenario.seed, user));
    scratch.sent_bytes = 0;
    scratch.sha = None;
    scratch.sha_hex.clear();
    let job = Job { seq, intended: Instant::now(), kind: 0, nth: 0 };
    let mut stats = CallStats::default();
    let mut cx = Cx {
        core,
        conn,
        conn_index: user as usize,
        job: &job,
        user: 0,
        row: core.row_of(user),
        scratch,
        rng,
        stats: &mut stats,
        steps,
        started: job.intended,
        chunk: Chunk::default(),
        user_waited: false,
    };
    let mut result = Ok(0);
    for step in &core.scenario.on_start {
        match cx.step(step).await {
            Ok(code) => result = Ok(code),
            Err(stop) => {
                result = stop;
                break;
            }
        }
    }
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
    /// Its row of the users file (`{{user.<column>}}`).
    row: &'a [Box<[u8]>],
    scratch: &'a mut Scratch,
    rng: SplitMix64,
    stats: &'a mut CallStats,
    steps: &'a mut Vec<StepRecord>,
    /// When the next step may start: the intended time, then each step's end.
    started: Instant,
    /// The chunk being sent by a split step.
    chunk: Chunk,
    /// The iteration waited for its user: ran the user's login, or waited for another
    /// iteration running it.
    user_waited: bool,
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
                    self.user_waited = true;
                    n.notified().await;
                    self.started = Instant::now();
                }
            }
        }
        self.user_waited = true;
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
        let counted = match &step.split {
            Some(split) => self.split_total(split).map(|total| (total.div_ceil(split.chunk), total)),
            None => self.repeat_count(step).map(|n| (n, 0)),
        };
        let Some((times, total)) = counted else {
            self.steps.push(StepRecord::failed(step.row, self.started, Instant::now(), ErrorKind::Malformed));
            return Err(Err(ErrorKind::Malformed));
        };
        let mut status = 0;
        for i in 0..times {
            if let Some(split) = &step.split {
                let offset = i * split.chunk;
                let len = split.chunk.min(total - offset);
                let data = self.core.pool.as_ref().map(|p| p.part(self.job.seq, (i % 10_000) as u32 + 1, len as usize));
                self.chunk = Chunk { offset, len, chunks: times, data };
            }
            let timeout = self.core.timeout;
            let stats;
            // The chunk is hashed for `{{sent_sha256}}` beside its request, not after it.
            let hashing = self.chunk_to_hash(step);
            // The step is timed to its answer: hashing that outlasts it is the client's own work.
            let (mut result, done, hashed) = {
                let saved = std::mem::take(self.stats);
                let request = async {
                    let r = tokio::time::timeout(timeout, self.request(step, i)).await;
                    (r, Instant::now())
                };
                let ((r, done), hashed) = tokio::join!(request, hash_alongside(hashing));
                stats = std::mem::replace(self.stats, saved);
                (r.unwrap_or(Err(ErrorKind::Timeout)), done, hashed)
            };
            if step.split.is_some() {
                self.sent_chunk(hashed);
            }
            let answered = match result {
                Ok(code) if code < 400 => Some(code),
                _ => None,
            };
            result = self.check(step, i, result);
            // A response that failed a check (capture, expect, slow) was still answered: its
            // status counts among the responses, and the step among the failures.
            let answered = answered.filter(|_| result.is_err());
            self.stats.sent_at = self.stats.sent_at.or(stats.sent_at);
            self.stats.bytes_out += stats.bytes_out;
            self.stats.bytes_in += stats.bytes_in;
            self.stats.body_in += stats.body_in;
            self.stats.reopened += stats.reopened;
            self.stats.connect_time += stats.connect_time;
            self.stats.retried |= stats.retried;
            // A connection the step had to open (the last response closed the previous one) is
            // timed as a connect, not as the step: its latency starts after it.
            let started = (self.started + stats.connect_time).min(done);
            let record = StepRecord::of(step.row, started, done, result, &stats);
            self.steps.push(answered.map_or(record, |code| record.answered(code)));
            // The next step starts once this one's checks (and its chunk's hash) are done.
            self.started = Instant::now();
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
                self.render_value(t, 0);
                std::str::from_utf8(&self.scratch.value).ok()?.trim().parse().ok()
            }
        }
    }

    /// A split's total size this iteration (a template must render a size: `67108864`, `64M`).
    fn split_total(&mut self, split: &Split) -> Option<u64> {
        match &split.total {
            SplitTotal::Bytes(n) => Some(*n),
            SplitTotal::Template(t) => {
                self.render_value(t, 0);
                crate::units::parse_size(std::str::from_utf8(&self.scratch.value).ok()?.trim()).ok()
            }
        }
    }

    /// Renders `t` (repetition `index`) into `scratch.value`.
    fn render_value(&mut self, t: &Template, index: u64) {
        let s = &mut *self.scratch;
        s.value.clear();
        let chunk = &self.chunk;
        let mut v = Values {
            seq: self.job.seq,
            index,
            core: self.core.core,
            conn: self.conn_index,
            user: self.row,
            vars: &s.vars,
            rng: &mut self.rng,
            split: SplitValues {
                offset: chunk.offset,
                len: chunk.len,
                chunks: chunk.chunks,
                sent_bytes: s.sent_bytes,
                sent_sha256: &s.sha_hex,
            },
        };
        t.render(&mut v, &mut s.value);
    }

    /// The running SHA-256 and the chunk to add to it while a split step's request goes out,
    /// when a template uses `{{sent_sha256}}`.
    fn chunk_to_hash(&self, step: &Step) -> Option<(sha2::Sha256, Bytes)> {
        if step.split.is_none() || !self.core.scenario.hash_sent {
            return None;
        }
        let data = self.chunk.data.clone()?;
        Some((self.scratch.sha.clone().unwrap_or_default(), data))
    }

    /// Counts the chunk just sent into `{{sent_bytes}}` and its hash (`chunk_to_hash`, hashed
    /// beside the request) into `{{sent_sha256}}`. Only now: the chunk's own request rendered
    /// the hash of the chunks before it.
    fn sent_chunk(&mut self, hashed: Option<sha2::Sha256>) {
        let s = &mut *self.scratch;
        s.sent_bytes += self.chunk.len;
        let Some(sha) = hashed else { return };
        let digest = sha.clone().finalize();
        s.sha = Some(sha);
        s.sha_hex.clear();
        for b in digest.iter() {
            s.sha_hex.extend_from_slice(format!("{b:02x}").as_bytes());
        }
    }

    /// The outcome of a request once its response is checked: a status below 400 must be one
    /// `expect.status` lists, the captures must be there, the body must pass `expect`, and the
    /// response must not be `slow`. The first value that failed a check is kept per row.
    fn check(&mut self, step: &Step, index: u64, result: Outcome) -> Outcome {
        let Ok(code) = result else { return result };
        if code >= 400 {
            return result;
        }
        expect_status(&self.core.scenario, step, code)?;
        if !self.capture(step) {
            return Err(ErrorKind::CaptureMissing);
        }
        if let Some(detail) = self.body_mismatch(step, index) {
            let core = self.core;
            core.scenario.mismatches.note(step.row, "expect_body", || self.conceal(detail));
            return Err(ErrorKind::ExpectBody);
        }
        within_slow(&self.core.scenario, step, self.started)?;
        Ok(code)
    }

    /// What in the kept response body fails the step's `expect` (the first pointer whose value
    /// differs, or the text it lacks), or `None`.
    fn body_mismatch(&mut self, step: &Step, index: u64) -> Option<String> {
        if !step.expect.needs_body() {
            return None;
        }
        let json = if step.expect.json.is_empty() { None } else { self.conn.kept().0 };
        for (pointer, want) in &step.expect.json {
            self.render_value(want, index);
            let want = &self.scratch.value;
            let got = json.as_ref().and_then(|j| j.pointer(pointer));
            let same = match got {
                Some(serde_json::Value::String(s)) => s.as_bytes() == want.as_slice(),
                Some(v) => v.to_string().as_bytes() == want.as_slice(),
                None => false,
            };
            if !same {
                let got = got.map_or_else(|| "nothing".to_string(), |v| short(&v.to_string()));
                return Some(format!("{pointer}: got {got}, expected {}", short(&String::from_utf8_lossy(want))));
            }
        }
        if let Some(t) = &step.expect.body_contains {
            self.render_value(t, index);
            let needle = &self.scratch.value;
            let body = self.conn.kept_body();
            if !needle.is_empty() && !body.windows(needle.len()).any(|w| w == needle.as_slice()) {
                return Some(format!("the body lacks {}", short(&String::from_utf8_lossy(needle))));
            }
        }
        None
    }

    /// Takes the step's captures from the response into the iteration's variables. False
    /// when one is missing.
    fn capture(&mut self, step: &Step) -> bool {
        if step.captures.is_empty() {
            return true;
        }
        let (body, headers) = self.conn.kept();
        for c in &step.captures {
            let found = match &c.source {
                Source::Cookie(name) => {
                    let value = &mut self.scratch.value;
                    value.clear();
                    with_jar(self.core, self.user, &mut self.scratch.jar, |jar| {
                        jar.get(name).map(|v| value.extend_from_slice(v.as_bytes())).is_some()
                    })
                }
                source => super::capture::extract(source, body.as_ref(), headers, &mut self.scratch.value),
            };
            if !found {
                return false;
            }
            let slot = &mut self.scratch.vars[c.slot];
            slot.clear();
            slot.extend_from_slice(&self.scratch.value);
        }
        true
    }

    /// Performs one request of a step (repetition `index`) as its user's session does: with
    /// the user's cookies, the answer's cookies kept, its redirects followed.
    async fn request(&mut self, step: &Step, index: u64) -> Result<u16, ErrorKind> {
        let status = self.send(step, index).await?;
        let rules = &*self.core.session;
        if !rules.on() {
            return Ok(status);
        }
        store_cookies(self.core, self.user, step, self.scratch, self.conn.session());
        if rules.redirects == 0 || !redirect::is_redirect(status) {
            return Ok(status);
        }
        self.follow(step, status).await
    }

    /// Follows the redirect `status` answered, hop after hop, on this connection (the target)
    /// or another allowed host's; the last answer's status is the request's.
    async fn follow(&mut self, step: &Step, mut status: u16) -> Result<u16, ErrorKind> {
        let rules = &*self.core.session;
        let keep = Keep { body: step.needs_body(), headers: step.needs_headers() };
        let mut prev = std::mem::take(&mut self.scratch.hop_prev);
        let mut hop = std::mem::take(&mut self.scratch.hop);
        let mut cookie = std::mem::take(&mut self.scratch.cookie);
        let first = sent_head(step, self.scratch);
        let head_end = first.windows(4).position(|w| w == b"\r\n\r\n").map_or(first.len(), |i| i + 4);
        prev.clear();
        prev.extend_from_slice(&first[..head_end]);
        let path = String::from_utf8_lossy(request_path(&prev)).into_owned();
        let mut url = Location { path, ..rules.target.clone() };
        let mut method = step.method.clone();
        let mut with_body = true;
        let mut hops = 0;
        let result = loop {
            if !redirect::is_redirect(status) {
                break Ok(status);
            }
            if hops == rules.redirects {
                break Err(ErrorKind::TooManyRedirects);
            }
            // A 3xx without a Location is an answer (as requests takes it).
            let Some(location) = self.conn.session().location.as_deref() else { break Ok(status) };
            let Some(to) = url.resolve(location) else { break Err(ErrorKind::RedirectOffTarget) };
            let Some(route) = rules.route(&to) else { break Err(ErrorKind::RedirectOffTarget) };
            let (next, again) = redirect::next_method(status, &method);
            method = next.to_string();
            with_body &= again;
            cookie.clear();
            let to_url = CookieUrl { https: to.https, host: &to.host, path: &to.path };
            let cookies = rules.cookies
                && !step.cookie_header
                && with_jar(self.core, self.user, &mut self.scratch.jar, |jar| jar.write_header(&to_url, &mut cookie));
            let parts = if with_body { sent_body(step, self.scratch) } else { Vec::new() };
            let body_len = with_body.then(|| parts.iter().map(|p| p.len()).sum());
            let cookie_value = cookies.then_some(cookie.as_slice());
            redirect::hop_head(&prev, &method, &to, body_len, cookie_value, to.host != url.host, &mut hop);
            let mut stats = CallStats::default();
            let answered = match &route {
                Route::Same => self.conn.exchange(&hop, &parts, keep, &mut stats).await,
                Route::Other(addrs) => self.conn.exchange_at(&to, addrs, &hop, &parts, keep, &mut stats).await,
            };
            hops += 1;
            let total = &mut *self.stats;
            total.bytes_out += stats.bytes_out;
            total.bytes_in += stats.bytes_in;
            total.body_in = stats.body_in;
            total.reopened += stats.reopened;
            total.connect_time += stats.connect_time;
            total.retried |= stats.retried;
            // The target's own time was of one hop, not of the chain.
            total.target_time = None;
            match answered {
                Ok(code) => status = code,
                Err(kind) => break Err(kind),
            }
            if rules.cookies && !self.conn.session().set_cookie.is_empty() {
                let to_url = CookieUrl { https: to.https, host: &to.host, path: &to.path };
                let conn = &*self.conn;
                with_jar(self.core, self.user, &mut self.scratch.jar, |jar| store(jar, conn.session(), &to_url));
            }
            url = to;
            std::mem::swap(&mut prev, &mut hop);
        };
        rules.followed.add(step.row, hops as u64);
        (self.scratch.hop_prev, self.scratch.hop, self.scratch.cookie) = (prev, hop, cookie);
        result
    }

    /// Renders and sends one request of a step (repetition `index`) with its user's cookies.
    async fn send(&mut self, step: &Step, index: u64) -> Result<u16, ErrorKind> {
        let keep = Keep { body: step.needs_body(), headers: step.needs_headers() };
        let cookies = self.core.session.cookies && !step.cookie_header;
        if let Some(whole) = &step.whole {
            if !cookies || self.jar_empty() {
                self.scratch.sent = Sent::Whole;
                return self.conn.exchange(whole, &[], keep, self.stats).await;
            }
        }
        let who = Who { core: self.core, user: self.user, row: self.row, seq: self.job.seq, conn: self.conn_index };
        render_step(&who, step, index, cookies, self.scratch, &mut self.rng, &self.chunk)?;
        let stats = &mut *self.stats;
        let scratch = &*self.scratch;
        match &scratch.sent {
            Sent::Data(data) => self.conn.exchange(&scratch.head, &[&data[..]], keep, stats).await,
            Sent::Multipart => {
                let parts = multipart_parts(scratch);
                self.conn.exchange(&scratch.head, &parts, keep, stats).await
            }
            Sent::Whole | Sent::Head => self.conn.exchange(&scratch.head, &[], keep, stats).await,
        }
    }

    /// The user holds no cookie (one branch for a connection's own jar).
    fn jar_empty(&mut self) -> bool {
        with_jar(self.core, self.user, &mut self.scratch.jar, |jar| jar.is_empty())
    }

    /// `text` with the user's cookie values and the values captured from cookies masked (they
    /// are secrets; a check's detail may quote them).
    fn conceal(&mut self, text: String) -> String {
        let mut secrets: Vec<String> =
            with_jar(self.core, self.user, &mut self.scratch.jar, |jar| jar.values().map(str::to_string).collect());
        let scenario = &self.core.scenario;
        let steps = scenario.iterations.iter().flat_map(|i| &i.steps).chain(&scenario.on_start);
        for c in steps.flat_map(|s| &s.captures).filter(|c| matches!(c.source, Source::Cookie(_))) {
            secrets.push(String::from_utf8_lossy(&self.scratch.vars[c.slot]).into_owned());
        }
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        let mut text = text;
        for s in secrets.iter().filter(|s| s.len() >= 4) {
            text = text.replace(s.as_str(), crate::redact::MASK);
        }
        text
    }
}

/// Bytes hashed between two yields by `hash_alongside` (about 0.15 ms with SHA-NI).
const HASH_SLICE: usize = 256 * 1024;

/// `sha` updated with the chunk, a slice at a time with a yield between, joined with the
/// request that sends it on the connection's task: the client's hashing overlaps the write and
/// the server's work on the chunk instead of following the response, and the thread's other
/// connections keep their turns (10 MiB in one go would hold them ~6 ms).
async fn hash_alongside(hashing: Option<(sha2::Sha256, Bytes)>) -> Option<sha2::Sha256> {
    let (mut sha, data) = hashing?;
    for piece in data.chunks(HASH_SLICE) {
        sha.update(piece);
        tokio::task::yield_now().await;
    }
    Some(sha)
}

/// Runs `f` on the jar of `user` of `core`, or on the connection's own (`own`) when each
/// connection is a virtual user.
fn with_jar<R>(core: &CoreScenario, user: usize, own: &mut CookieJar, f: impl FnOnce(&mut CookieJar) -> R) -> R {
    if !core.user_jars {
        return f(own);
    }
    let mut states = core.states.borrow_mut();
    match states.get_mut(user) {
        Some(s) => f(&mut s.jar),
        None => f(own),
    }
}

/// Stores every cookie a response set, answered to a request to `url`.
fn store(jar: &mut CookieJar, answer: &SessionHeaders, url: &CookieUrl<'_>) {
    for value in &answer.set_cookie {
        jar.store(value, url);
    }
}

/// Who sends a request: the core, the virtual user (and its users-file row), the arrival's
/// sequence number and the connection.
struct Who<'a> {
    core: &'a CoreScenario,
    user: usize,
    row: &'a [Box<[u8]>],
    seq: u64,
    conn: usize,
}

/// Renders request `index` of `step` into `scratch`: its head in `scratch.head`, its body
/// where `scratch.sent` says (after the head, apart, or a multipart's segments). With
/// `cookies`, the user's jar adds its `Cookie` header.
fn render_step(
    who: &Who<'_>,
    step: &Step,
    index: u64,
    cookies: bool,
    scratch: &mut Scratch,
    rng: &mut SplitMix64,
    chunk: &Chunk,
) -> Result<(), ErrorKind> {
    let core = who.core;
    let Scratch { head, body, vars, segments, sent_bytes, sha_hex, jar, cookie, sent, .. } = scratch;
    let mut values = Values {
        seq: who.seq,
        index,
        core: core.core,
        conn: who.conn,
        user: who.row,
        vars,
        rng,
        split: SplitValues {
            offset: chunk.offset,
            len: chunk.len,
            chunks: chunk.chunks,
            sent_bytes: *sent_bytes,
            sent_sha256: sha_hex,
        },
    };
    head.clear();
    step.line.render(&mut values, head);
    if step.check_path && !step.valid_path(head) {
        return Err(ErrorKind::InvalidPath);
    }
    let line = head.len();
    step.head.render(&mut values, head);
    if cookies {
        // The head ends with `Content-Length: `: the Cookie header goes before it.
        let path = std::str::from_utf8(head.get(step.method.len() + 1..line).unwrap_or(b"/")).unwrap_or("/");
        let rules = &core.session;
        let url = CookieUrl { https: rules.target.https, host: &rules.target.host, path };
        cookie.clear();
        if with_jar(core, who.user, jar, |jar| jar.write_header(&url, cookie)) {
            const LENGTH: &[u8] = b"Content-Length: ";
            head.truncate(head.len() - LENGTH.len());
            head.extend_from_slice(b"Cookie: ");
            head.extend_from_slice(cookie);
            head.extend_from_slice(b"\r\n");
            head.extend_from_slice(LENGTH);
        }
    }
    let mut num = itoa::Buffer::new();
    let data = match &step.body {
        Body::Empty => {
            head.extend_from_slice(b"0\r\n\r\n");
            *sent = Sent::Head;
            return Ok(());
        }
        Body::Template(t) => {
            *sent = Sent::Head;
            body.clear();
            t.render(&mut values, body);
            head.extend_from_slice(num.format(body.len()).as_bytes());
            head.extend_from_slice(b"\r\n\r\n");
            head.extend_from_slice(body);
            return Ok(());
        }
        Body::Multipart(m) => {
            body.clear();
            segments.clear();
            let mut len = 0;
            for (n, piece) in m.pieces.iter().enumerate() {
                let segment = match piece {
                    MultipartPiece::Text(t) => {
                        let start = body.len();
                        t.render(&mut values, body);
                        len += body.len() - start;
                        Segment::Text(start..body.len())
                    }
                    MultipartPiece::Data(PartData::Fixed(bytes)) => Segment::Data(bytes.clone()),
                    MultipartPiece::Data(PartData::Chunk) => Segment::Data(chunk.data.clone().ok_or(ErrorKind::Io)?),
                    MultipartPiece::Data(PartData::Random(len)) => {
                        let pool = core.pool.as_ref().ok_or(ErrorKind::Io)?;
                        // Each file part of each request its own slice.
                        let part = ((index * 16 + n as u64) % 10_000) as u32 + 1;
                        Segment::Data(pool.part(who.seq, part, *len))
                    }
                };
                if let Segment::Data(d) = &segment {
                    len += d.len();
                }
                segments.push(segment);
            }
            head.extend_from_slice(num.format(len).as_bytes());
            head.extend_from_slice(b"\r\n\r\n");
            *sent = Sent::Multipart;
            return Ok(());
        }
        Body::Fixed(bytes) => bytes.clone(),
        Body::Chunk => chunk.data.clone().ok_or(ErrorKind::Io)?,
        Body::Random(len) => {
            let Some(pool) = &core.pool else { return Err(ErrorKind::Io) };
            // Every request of the run gets its own slice: the global sequence and the index.
            pool.part(who.seq, (index % 10_000) as u32 + 1, *len)
        }
    };
    head.extend_from_slice(num.format(data.len()).as_bytes());
    head.extend_from_slice(b"\r\n\r\n");
    *sent = Sent::Data(data);
    Ok(())
}

/// A multipart body's parts as sent, in order.
fn multipart_parts(scratch: &Scratch) -> Vec<&[u8]> {
    scratch
        .segments
        .iter()
        .map(|s| match s {
            Segment::Text(r) => &scratch.body[r.clone()],
            Segment::Data(d) => &d[..],
        })
        .collect()
}

/// Appends the request of arrival `job` (an iteration that is one request) to
/// `out` as it goes on the wire: what `iterate` would send, for a core that writes the bytes
/// itself (`--io ring`). `conn_index`: the connection's number on its core.
pub fn render_lone(
    core: &CoreScenario,
    job: &Job,
    conn_index: usize,
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) -> Result<(), ErrorKind> {
    let Some(step) = core.scenario.iterations.get(job.kind).and_then(|it| it.steps.first()) else {
        return Err(ErrorKind::Io);
    };
    let user = core.user_of(job.nth);
    let cookies = core.session.cookies && !step.cookie_header;
    if let Some(whole) = &step.whole {
        if !cookies || with_jar(core, user, &mut scratch.jar, |jar| jar.is_empty()) {
            scratch.sent = Sent::Whole;
            out.extend_from_slice(whole);
            return Ok(());
        }
    }
    if scratch.vars.len() != core.scenario.vars.len() {
        scratch.vars = vec![Vec::new(); core.scenario.vars.len()];
    }
    let mut rng = scratch
        .rng
        .take()
        .unwrap_or_else(|| SplitMix64::stream(core.scenario.seed, (core.core as u64) << 32 | conn_index as u64));
    load_user_vars(core, user, &mut scratch.vars);
    let who = Who { core, user, row: core.user_row(user), seq: job.seq, conn: conn_index };
    let rendered = render_step(&who, step, 0, cookies, scratch, &mut rng, &Chunk::default());
    scratch.rng = Some(rng);
    rendered?;
    out.extend_from_slice(&scratch.head);
    match &scratch.sent {
        Sent::Data(d) => out.extend_from_slice(d),
        Sent::Multipart => {
            for s in &scratch.segments {
                out.extend_from_slice(match s {
                    Segment::Text(r) => &scratch.body[r.clone()],
                    Segment::Data(d) => &d[..],
                });
            }
        }
        Sent::Whole | Sent::Head => {}
    }
    Ok(())
}

/// The outcome of a response with status `code` to a lone request of iteration `kind`, its
/// call begun at `started`: the checks `iterate` makes that need no kept response (`expect`
/// status, `slow`). For `--io ring`, which runs only requests without captures or body checks.
pub fn judge_lone(core: &CoreScenario, kind: usize, code: u16, started: Instant) -> Result<u16, ErrorKind> {
    let Some(step) = core.scenario.iterations.get(kind).and_then(|it| it.steps.first()) else {
        return Ok(code);
    };
    if code >= 400 {
        return Ok(code);
    }
    expect_status(&core.scenario, step, code)?;
    within_slow(&core.scenario, step, started)?;
    Ok(code)
}

/// Stores the cookies `answer` set (the response to `step`'s request last sent from `scratch`)
/// in `user`'s jar, when cookies are kept.
fn store_cookies(core: &CoreScenario, user: usize, step: &Step, scratch: &mut Scratch, answer: &SessionHeaders) {
    let rules = &*core.session;
    if !rules.cookies || answer.set_cookie.is_empty() {
        return;
    }
    let sent: &[u8] = match (&scratch.sent, &step.whole) {
        (Sent::Whole, Some(whole)) => whole,
        _ => &scratch.head,
    };
    let path = std::str::from_utf8(request_path(sent)).unwrap_or("/");
    let url = CookieUrl { https: rules.target.https, host: &rules.target.host, path };
    with_jar(core, user, &mut scratch.jar, |jar| store(jar, answer, &url));
}

/// [`store_cookies`] for the lone request of arrival `job` that `render_lone` rendered.
pub fn keep_cookies_lone(core: &CoreScenario, job: &Job, scratch: &mut Scratch, answer: &SessionHeaders) {
    if let Some(step) = core.scenario.iterations.get(job.kind).and_then(|it| it.steps.first()) {
        store_cookies(core, core.user_of(job.nth), step, scratch, answer);
    }
}

/// A status below 400 must be one the step's `expect.status` lists.
fn expect_status(scenario: &Scenario, step: &Step, code: u16) -> Result<(), ErrorKind> {
    if let Some(set) = &step.expect.status {
        if !set.contains(&code) {
            scenario.mismatches.note(step.row, "expect_status", || format!("got {code}, expected {set:?}"));
            return Err(ErrorKind::ExpectStatus);
        }
    }
    Ok(())
}

/// A response must not come later than the step's `slow` limit after `started`.
fn within_slow(scenario: &Scenario, step: &Step, started: Instant) -> Result<(), ErrorKind> {
    if let Some(limit) = step.expect.slow {
        let took = started.elapsed();
        if took > limit {
            let detail = || format!("took {:.0} ms, limit {:.0} ms", ms(took), ms(limit));
            scenario.mismatches.note(step.row, "slow", detail);
            return Err(ErrorKind::Slow);
        }
    }
    Ok(())
}

/// The request last sent, as written (its head, and its body when the body went with it).
fn sent_head<'s>(step: &'s Step, scratch: &'s Scratch) -> &'s [u8] {
    match (&scratch.sent, &step.whole) {
        (Sent::Whole, Some(whole)) => whole,
        _ => &scratch.head,
    }
}

/// The body of the request last sent, in parts (a redirect that keeps the body sends it again).
fn sent_body<'s>(step: &'s Step, scratch: &'s Scratch) -> Vec<&'s [u8]> {
    let after_head = |bytes: &'s [u8]| -> Vec<&'s [u8]> {
        match bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            Some(i) if i + 4 < bytes.len() => vec![&bytes[i + 4..]],
            _ => Vec::new(),
        }
    };
    match &scratch.sent {
        Sent::Whole | Sent::Head => after_head(sent_head(step, scratch)),
        Sent::Data(data) => vec![&data[..]],
        Sent::Multipart => multipart_parts(scratch),
    }
}

/// The path of a request line (`GET /me HTTP/1.1` -> `/me`).
fn request_path(head: &[u8]) -> &[u8] {
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    line.split(|&b| b == b' ').nth(1).unwrap_or(b"/")
}

/// Milliseconds of `d`.
fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `text`, cut to 80 characters for a report.
fn short(text: &str) -> String {
    match text.char_indices().nth(80) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_string(),
    }
}

fn uses_user_vars(core: &CoreScenario, step: &Step) -> bool {
    let used = |t: &crate::template::Template| t.vars_used().any(|slot| core.scenario.vars[slot].per_user);
    step.templates().any(used)
}
