//! One core of a `--io ring` run, in phases like the epoll core's (`engine::core::run_core`):
//! open the connections, wait at the shared start, then one loop until the schedule and the
//! drain are over. Each turn of the loop: queue every due slot (the pacer, with the epoll
//! core's accounting), give queued jobs to free connections (render, queue the send), close
//! the second when one has passed, hand every queued submission to the kernel and wait for
//! completions until the next due slot (one `io_uring_enter`), then take the completions in
//! one batch, timed by one clock read, and record what they end.
//!
//! Every operation's user data names its connection, its kind and the connection's generation:
//! a connection that is closed (timeout, a response that closes it, the peer's close) takes a
//! new generation, and completions of the old one only release what they held. A connection's
//! buffers are reused only once none of its operations is in the kernel.

use super::uring::{RecvMode, Ring, BUF_SIZE};
use super::{Answer, Lone};
use crate::engine::core::{
    account_queued, cut, last_second, not_sent, record_call, row_of_kind, Call, CoreTally, Ends, Snapshot,
    QUEUED_PER_CLOCK_READ, STOP_POLL,
};
use crate::engine::pacer::Pacer;
use crate::engine::plan::Plan;
use crate::engine::queue::JobQueue;
use crate::engine::recorder::{ErrorKind, Recorder};
use crate::engine::runner::Core;
use crate::engine::workload::{CallStats, Job, Lane};
use bytes::BytesMut;
use io_uring::{cqueue, opcode, types};
use std::collections::VecDeque;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Read buffer reserve per connection; grows only for large responses.
const READ_CHUNK: usize = 8 * 1024;
/// Longest the end of a run waits for the kernel to give back every connection's operations.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

const OP_CONNECT: u64 = 1;
const OP_SEND: u64 = 2;
const OP_RECV: u64 = 3;
const OP_CANCEL: u64 = 4;

/// An operation's user data: connection, kind, generation.
fn user_data(slot: usize, op: u64, gen: u32) -> u64 {
    slot as u64 & 0xffff_ffff | op << 32 | (u64::from(gen) & 0xff_ffff) << 40
}

fn parts(ud: u64) -> (usize, u64, u32) {
    ((ud & 0xffff_ffff) as usize, (ud >> 32) & 0xff, (ud >> 40) as u32)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// No socket: the next job opens one.
    Free,
    /// Opening a socket, with a job waiting for it.
    Connecting,
    /// Open, no job.
    Idle,
    /// A job's request sent or being sent, its response awaited.
    Busy,
    /// Shut down; waiting for the kernel to give back its operations.
    Closing,
}

/// One connection of the core.
struct Slot<C> {
    proto: C,
    sock: Option<OwnedFd>,
    state: State,
    gen: u32,
    /// Operations in the kernel that point at this slot (its socket, its buffers).
    ops: u32,
    /// Deadlines pushed for it: a deadline counts only for the latest.
    calls: u64,
    /// The request being sent and how much of it has left.
    out: Vec<u8>,
    sent: usize,
    read: BytesMut,
    /// Single-shot receives land here (empty with multishot).
    inbuf: Box<[u8]>,
    job: Option<Job>,
    stats: CallStats,
    /// A byte of the answer arrived.
    answered: bool,
    /// When the call (or the connect) began.
    started: Instant,
    /// Where the socket connects (kept for the kernel until the connect completes).
    addr: (libc::sockaddr_storage, libc::socklen_t),
}

/// A core's state, all on its own thread.
struct Engine<'w, W: Lone> {
    w: &'w W,
    core: W::Core,
    ring: Ring,
    slots: Vec<Slot<W::Conn>>,
    /// Open connections without a job, and connections without a socket.
    idle: Vec<usize>,
    free: Vec<usize>,
    queue: JobQueue,
    /// (deadline, connection, call): every call and connect times out after the same span,
    /// so they are in order.
    deadlines: VecDeque<(Instant, usize, u64)>,
    timeout: Duration,
    recorder: Recorder,
    ends: Ends,
    named: bool,
    kind_rows: Arc<Vec<usize>>,
    measure_from: Instant,
    /// Jobs taken by a connection and not yet recorded.
    inflight: usize,
    done: Vec<(u64, i32, u32)>,
    /// Sends queued since the last `io_uring_enter`: their completions (posted at once, as the
    /// kernel takes the bytes) are no reason to wake, so the wait is for one completion more.
    sends_queued: usize,
    /// Where connections reopen.
    target: SocketAddr,
}

/// Runs one core to completion on the current thread (see the module). `recycled` brings
/// emptied recorders back from the reporter; `opened_anywhere` counts the connections every
/// core opened before the start.
pub async fn run_core<W: Lone>(
    core: Core<Snapshot>,
    plan: Plan,
    workload: Arc<W>,
    recycled: Receiver<Recorder>,
    opened_anywhere: Arc<AtomicUsize>,
) -> CoreTally {
    let index = core.index;
    let sink = core.updates();
    let lane = Lane {
        core: index,
        lane: plan.shard.index as usize * plan.cores + index,
        lanes: plan.cores * plan.shard.count.max(1) as usize,
    };
    let rows = if plan.rows > 1 { plan.rows } else { 0 };
    let conns = plan.conns_on(index);
    let mode = RecvMode::of(&plan.io.why);
    let entries = (conns as u32 * 4).clamp(256, 32_768).next_power_of_two();
    let buffers = (conns as u32 * 2).clamp(64, 4096).next_power_of_two() as u16;
    let mut pre = Recorder::with_rows(rows);
    let ring = match Ring::new(entries, conns.max(1) as u32, mode, buffers) {
        Ok(r) => r,
        Err(e) => {
            // Nothing can be sent from this core: its connections count as failed.
            let _ = core.start();
            let _ = sink.send(Snapshot { core: index, second: 1, recorder: pre, last: true });
            eprintln!("blast: core {index} could not set up its io_uring ({e})");
            return CoreTally {
                preconnect_failed: conns as u64,
                preconnect_error: Some(ErrorKind::Io),
                ..CoreTally::default()
            };
        }
    };
    let w = &*workload;
    let shared = w.ring_core(lane);
    let mut e = Engine {
        w,
        slots: Vec::with_capacity(conns),
        core: shared,
        ring,
        idle: Vec::with_capacity(conns),
        free: Vec::with_capacity(conns),
        queue: JobQueue::new(conns, plan.queue_per_core()),
        deadlines: VecDeque::with_capacity(conns * 2),
        timeout: plan.timeout,
        recorder: Recorder::new(),
        ends: Ends::default(),
        named: rows > 0,
        kind_rows: plan.kind_rows.clone(),
        measure_from: Instant::now(),
        inflight: 0,
        done: Vec::with_capacity(entries as usize * 2),
        sends_queued: 0,
        target: w.addrs().first().copied().unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0))),
    };
    let (failed, error) = e.preconnect(conns, &mut pre);
    crate::clock::tighten_timer_slack();
    let mut spares = vec![Recorder::with_rows(rows), Recorder::with_rows(rows)];
    opened_anywhere.fetch_add(e.idle.len(), Ordering::Relaxed);

    let Some(start) = core.start() else {
        e.close_all();
        return CoreTally { preconnect_failed: failed, preconnect_error: error, ..CoreTally::default() };
    };
    if opened_anywhere.load(Ordering::Relaxed) == 0 {
        e.close_all();
        let _ = sink.send(Snapshot { core: index, second: 1, recorder: pre, last: true });
        return CoreTally {
            preconnect_failed: failed,
            preconnect_error: error,
            unreachable: true,
            ..CoreTally::default()
        };
    }
    e.recorder = pre;
    e.measure_from = start + plan.warmup;
    let end_ns = (plan.warmup + plan.duration).as_nanos() as u64;
    let stop = core.stop_flag().clone();

    let mut pacer = Pacer::new(plan.rate, plan.cores, index, plan.arrival, plan.seed, end_ns)
        .shaped(plan.shape.clone())
        .sharded(plan.shard);
    let mut next = pacer.next_slot();
    let mut seen = 0u64;
    if let Some(steer) = plan.steer.as_deref() {
        steer.started(start);
    }
    let mut nth = 0u64;
    let mut second = 1u64;
    let mut yield_at: Option<Instant> = None;
    let mut now = Instant::now();
    let mut last_wake = now;
    let mut stopped_at: Option<Instant> = None;
    // Set once the schedule is over (ran out or stopped): the drain's deadline.
    let mut drain_until: Option<Instant> = None;
    let cut_span = plan.grace.min(plan.timeout);
    loop {
        if drain_until.is_none() && stop.load(Ordering::Relaxed) {
            stopped_at = Some(now);
            next = None;
        }
        // Pace: every slot due by now, with a clock read every few (a backlog's lag stays
        // exact), each queued or dropped as the epoll core does.
        let mut queued_since_read = 0u32;
        while let Some(slot) = next {
            let due = start + Duration::from_nanos(slot.offset_ns);
            if due > now || queued_since_read >= QUEUED_PER_CLOCK_READ {
                now = Instant::now();
                queued_since_read = 0;
                if let Some(steer) = plan.steer.as_deref() {
                    let v = steer.version();
                    if v != seen {
                        seen = v;
                        next = pacer.adopt(steer.shape(), next);
                        continue;
                    }
                }
            }
            if due > now {
                break;
            }
            queued_since_read += 1;
            let job = Job { seq: slot.seq, intended: due, kind: plan.mix.pick(lane.lane as u64, nth), nth };
            nth += 1;
            let measured = due >= e.measure_from;
            let row = if e.named { Some(row_of_kind(&e.kind_rows, job.kind)) } else { None };
            let depth = e.queue.push(job).ok();
            account_queued(&mut e.recorder, measured, row, depth, now - due);
            next = pacer.next_slot();
        }
        if next.is_none() && drain_until.is_none() {
            drain_until = Some(now + if stopped_at.is_some() { cut_span } else { plan.timeout });
        }
        e.dispatch(now);
        e.expire(now);
        // The second: the recorder goes to the reporter, a fresh one takes its place.
        if now >= start + Duration::from_secs(second) {
            spares.extend(recycled.try_iter());
            let fresh = spares.pop().unwrap_or_else(|| Recorder::with_rows(rows));
            let recorder = std::mem::replace(&mut e.recorder, fresh);
            let _ = sink.send(Snapshot { core: index, second, recorder, last: false });
            second += 1;
            // The runner's once-a-second CPU reading is a tokio timer: let it run (tokio's
            // timers round up to the millisecond).
            yield_at = Some(now + Duration::from_millis(2));
        }
        if yield_at.is_some_and(|at| now >= at) {
            yield_at = None;
            // Twice: the first lets the runtime fire the timer, the second lets its task run.
            tokio::task::yield_now().await;
            tokio::task::yield_now().await;
        }
        if let Some(until) = drain_until {
            if stop.load(Ordering::Relaxed) && stopped_at.is_none() {
                // Interrupted during the drain: in-flight requests get the grace period.
                drain_until = Some(until.min(now + cut_span));
                stopped_at = Some(now);
            }
            if (e.inflight == 0 && e.queue.is_empty()) || now >= until {
                break;
            }
        }
        // Wait for completions until the next thing due: a slot (at most once per coalescing
        // window), the second, a deadline, the stop flag's next look.
        let mut wake = (start + Duration::from_secs(second)).min(now + STOP_POLL);
        if let Some(slot) = next {
            let due = start + Duration::from_nanos(slot.offset_ns);
            wake = wake.min(due.max(last_wake + plan.coalesce));
        }
        if let Some(&(at, _, _)) = e.deadlines.front() {
            wake = wake.min(at);
        }
        for at in [yield_at, drain_until].into_iter().flatten() {
            wake = wake.min(at);
        }
        let want = std::mem::take(&mut e.sends_queued) + 1;
        if let Err(err) = e.ring.enter(wake.saturating_duration_since(now), want) {
            eprintln!("blast: core {index}: io_uring_enter failed ({err}); the core stops");
            stopped_at.get_or_insert(now);
            break;
        }
        now = Instant::now();
        last_wake = now;
        e.complete(now);
    }

    // Whatever the drain did not finish is unfinished: calls in flight, jobs still queued.
    let mut recorder = std::mem::take(&mut e.recorder);
    e.settle_unfinished(&mut recorder);
    e.close_all();
    let second = last_second(second, stopped_at.map(|at| at.saturating_duration_since(start)), end_ns);
    let _ = sink.send(Snapshot { core: index, second, recorder, last: true });
    CoreTally {
        stopped_at,
        preconnect_failed: failed,
        preconnect_error: error,
        last_send: e.ends.last_send,
        last_done: e.ends.last_done,
        unreachable: false,
    }
}

/// A failure of the connection before any byte of the answer: the peer's close or reset is
/// `ClosedBeforeResponse`, anything else keeps its kind.
fn before_response(kind: ErrorKind) -> ErrorKind {
    match kind {
        ErrorKind::Closed | ErrorKind::Reset => ErrorKind::ClosedBeforeResponse,
        kind => kind,
    }
}

fn os_error(res: i32) -> ErrorKind {
    ErrorKind::from_io(&std::io::Error::from_raw_os_error(-res))
}

fn connect_error(res: i32) -> ErrorKind {
    match -res {
        libc::ECONNREFUSED => ErrorKind::ConnectRefused,
        libc::ETIMEDOUT | libc::ECANCELED => ErrorKind::ConnectTimeout,
        _ => ErrorKind::ConnectOther,
    }
}

/// `addr` as the kernel takes it.
fn sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: an all-zero sockaddr_storage is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes(a.ip().octets()) },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than sockaddr_in and suitably aligned.
            unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in, sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr { s6_addr: a.ip().octets() },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: as above, for sockaddr_in6.
            unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in6, sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// A fresh TCP socket for `addr` with `TCP_NODELAY` (requests are small and latency-bound).
fn tcp_socket(addr: SocketAddr) -> std::io::Result<OwnedFd> {
    let family = if addr.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 };
    // SAFETY: socket(2) has no memory preconditions; a non-negative result is ours.
    let fd = unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    set_nodelay(&fd);
    Ok(fd)
}

fn set_nodelay(fd: &impl AsRawFd) {
    let one: libc::c_int = 1;
    // SAFETY: the option value is a c_int that outlives the call.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            &one as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
}

impl<W: Lone> Engine<'_, W> {
    /// Opens the core's connections before the clock starts (each address in turn), records
    /// their connect times in `rec` and arms their receives. Returns the failures and the first
    /// error.
    fn preconnect(&mut self, conns: usize, rec: &mut Recorder) -> (u64, Option<ErrorKind>) {
        let (mut failed, mut error) = (0, None);
        let mut target = None;
        let multishot = self.ring.mode == RecvMode::Multishot;
        for i in 0..conns {
            let proto = self.w.ring_conn(&self.core, i);
            let inbuf = if multishot { Box::default() } else { vec![0u8; BUF_SIZE].into_boxed_slice() };
            let now = Instant::now();
            self.slots.push(Slot {
                proto,
                sock: None,
                state: State::Free,
                gen: 0,
                ops: 0,
                calls: 0,
                out: Vec::new(),
                sent: 0,
                read: BytesMut::with_capacity(READ_CHUNK),
                inbuf,
                job: None,
                stats: CallStats::default(),
                answered: false,
                started: now,
                addr: sockaddr(self.target),
            });
            let mut last = ErrorKind::ConnectOther;
            let mut opened = None;
            for &addr in self.w.addrs() {
                match TcpStream::connect_timeout(&addr, self.timeout) {
                    Ok(s) => {
                        opened = Some((s, addr));
                        break;
                    }
                    Err(e) => {
                        last = match e.kind() {
                            std::io::ErrorKind::ConnectionRefused => ErrorKind::ConnectRefused,
                            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => ErrorKind::ConnectTimeout,
                            _ => ErrorKind::ConnectOther,
                        }
                    }
                }
            }
            let took = now.elapsed();
            match opened.map(|(s, addr)| (OwnedFd::from(s), addr)) {
                Some((fd, addr)) if self.ring.register(i as u32, fd.as_raw_fd()).is_ok() => {
                    rec.record_connect(took, true);
                    set_nodelay(&fd);
                    target.get_or_insert(addr);
                    self.slots[i].sock = Some(fd);
                    self.slots[i].state = State::Idle;
                    self.arm_recv(i);
                    self.idle.push(i);
                }
                _ => {
                    rec.record_connect(took, false);
                    failed += 1;
                    error.get_or_insert(last);
                    self.free.push(i);
                }
            }
        }
        if let Some(t) = target {
            self.target = t;
            let addr = sockaddr(t);
            self.slots.iter_mut().for_each(|s| s.addr = addr);
        }
        (failed, error)
    }

    /// Queues `sqe` for connection `i`, counted as one of its operations.
    ///
    /// # Safety
    /// What the entry points to belongs to slot `i` and stays put while `ops` counts it.
    unsafe fn push(&mut self, i: usize, sqe: io_uring::squeue::Entry) {
        // SAFETY: the caller's promise.
        if unsafe { self.ring.push(&sqe) }.is_ok() {
            self.slots[i].ops += 1;
        }
    }

    fn arm_recv(&mut self, i: usize) {
        let s = &mut self.slots[i];
        let ud = user_data(i, OP_RECV, s.gen);
        let sqe = match self.ring.mode {
            RecvMode::Multishot => opcode::RecvMulti::new(types::Fixed(i as u32), self.ring.group()).build(),
            RecvMode::Single => {
                opcode::Recv::new(types::Fixed(i as u32), s.inbuf.as_mut_ptr(), s.inbuf.len() as u32).build()
            }
        };
        // SAFETY: a single-shot receive writes into the slot's `inbuf`, which is not touched
        // (nor freed: slots live until `close_all` has waited for every operation) meanwhile.
        unsafe { self.push(i, sqe.user_data(ud)) };
    }

    fn push_send(&mut self, i: usize) {
        let s = &mut self.slots[i];
        let rest = &s.out[s.sent..];
        let sqe = opcode::Send::new(types::Fixed(i as u32), rest.as_ptr(), rest.len() as u32)
            .flags(libc::MSG_NOSIGNAL)
            .build()
            .user_data(user_data(i, OP_SEND, s.gen));
        // SAFETY: `out` is not written to while the slot is busy (it is rendered only into an
        // idle slot, and a slot is reused only once its operations are back).
        unsafe { self.push(i, sqe) };
        self.sends_queued += 1;
    }

    /// Gives queued jobs to idle connections (sent now) and to connections without a socket
    /// (opened first).
    fn dispatch(&mut self, now: Instant) {
        while !self.queue.is_empty() {
            let Some(i) = self.idle.pop().or_else(|| self.free.pop()) else { return };
            let Some(job) = self.queue.pop() else { return };
            self.inflight += 1;
            let s = &mut self.slots[i];
            s.job = Some(job);
            s.stats = CallStats::default();
            s.answered = false;
            s.started = now;
            if s.state == State::Free {
                self.open(i, now);
            } else {
                self.send(i, now);
            }
        }
    }

    /// Renders the slot's job and queues its send.
    fn send(&mut self, i: usize, now: Instant) {
        let s = &mut self.slots[i];
        let Some(job) = s.job else { return };
        s.out.clear();
        s.sent = 0;
        s.started = now;
        if let Err(kind) = self.w.render(&self.core, &mut s.proto, &job, &mut s.out) {
            self.finish(i, Err(kind), now);
            self.slots[i].state = State::Idle;
            self.idle.push(i);
            return;
        }
        s.stats.sent_at = Some(now);
        s.stats.bytes_out = s.out.len() as u64;
        s.state = State::Busy;
        s.calls += 1;
        self.deadlines.push_back((now + self.timeout, i, s.calls));
        self.push_send(i);
    }

    /// Opens a socket for slot `i` (its job waits for it).
    fn open(&mut self, i: usize, now: Instant) {
        let fd = match tcp_socket(self.target) {
            Ok(fd) if self.ring.register(i as u32, fd.as_raw_fd()).is_ok() => fd,
            _ => {
                self.recorder.record_connect(Duration::ZERO, false);
                return self.fail_connect(i, ErrorKind::ConnectOther, now);
            }
        };
        let s = &mut self.slots[i];
        s.sock = Some(fd);
        s.state = State::Connecting;
        s.calls += 1;
        self.deadlines.push_back((now + self.timeout, i, s.calls));
        let addr = &s.addr;
        let sqe = opcode::Connect::new(types::Fixed(i as u32), &addr.0 as *const _ as *const libc::sockaddr, addr.1)
            .build()
            .user_data(user_data(i, OP_CONNECT, s.gen));
        // SAFETY: the address lives in the slot, unchanged until the connect completes.
        unsafe { self.push(i, sqe) };
    }

    /// The slot's connect failed: its job is not sent.
    fn fail_connect(&mut self, i: usize, kind: ErrorKind, _now: Instant) {
        if let Some(job) = self.slots[i].job.take() {
            self.inflight -= 1;
            if job.intended >= self.measure_from {
                not_sent(&mut self.recorder, self.named, row_of_kind(&self.kind_rows, job.kind), kind);
            }
        }
        if self.slots[i].state == State::Free {
            // No socket was made: the slot is free again at once.
            self.free.push(i);
        } else {
            self.close(i);
        }
    }

    /// Records the slot's call as ended at `done` with `result`.
    fn finish(&mut self, i: usize, result: Result<u16, ErrorKind>, done: Instant) {
        let s = &mut self.slots[i];
        let Some(job) = s.job.take() else { return };
        self.inflight -= 1;
        let call = Call {
            row: row_of_kind(&self.kind_rows, job.kind),
            named: self.named,
            measured: job.intended >= self.measure_from,
            job: &job,
        };
        self.ends = record_call(&mut self.recorder, &call, done, result, &s.stats, &[], self.ends);
    }

    /// Shuts slot `i`'s socket down; its operations come back, then it is free.
    fn close(&mut self, i: usize) {
        let s = &mut self.slots[i];
        if let Some(p) = self.idle.iter().position(|&x| x == i) {
            self.idle.swap_remove(p);
        }
        match s.state {
            State::Free | State::Closing => return,
            State::Connecting => {
                let target = user_data(i, OP_CONNECT, s.gen);
                let sqe = opcode::AsyncCancel::new(target).build().user_data(user_data(i, OP_CANCEL, s.gen));
                // SAFETY: a cancel points at no memory.
                let _ = unsafe { self.ring.push(&sqe) };
            }
            _ => {}
        }
        let s = &mut self.slots[i];
        s.state = State::Closing;
        s.gen = s.gen.wrapping_add(1);
        if let Some(fd) = &s.sock {
            // SAFETY: shutdown(2) on a descriptor we own; pending receives end with it.
            unsafe { libc::shutdown(fd.as_raw_fd(), libc::SHUT_RDWR) };
        }
        if s.ops == 0 {
            self.release(i);
        }
    }

    /// A closed slot whose operations are all back: its socket goes, it takes jobs again.
    fn release(&mut self, i: usize) {
        let _ = self.ring.register(i as u32, -1);
        let s = &mut self.slots[i];
        s.sock = None;
        s.read.clear();
        s.state = State::Free;
        self.w.fresh(&mut s.proto);
        self.free.push(i);
    }

    /// Calls and connects past their deadline fail with a timeout. Deadlines of calls that
    /// ended go as soon as they are first in line (calls mostly end in the order they began),
    /// so the line holds about the calls in flight, not every call of the last timeout.
    fn expire(&mut self, now: Instant) {
        while let Some(&(at, i, call)) = self.deadlines.front() {
            let s = &self.slots[i];
            let live = s.calls == call && matches!(s.state, State::Busy | State::Connecting);
            if live && at > now {
                return;
            }
            self.deadlines.pop_front();
            if !live {
                continue;
            }
            match self.slots[i].state {
                State::Busy => {
                    self.finish(i, Err(ErrorKind::Timeout), now);
                    self.close(i);
                }
                State::Connecting => {
                    let took = now - self.slots[i].started;
                    self.recorder.record_connect(took, false);
                    self.fail_connect(i, ErrorKind::ConnectTimeout, now);
                }
                _ => {}
            }
        }
    }

    /// Takes every completion the kernel posted and acts on it; `now` times them all.
    fn complete(&mut self, now: Instant) {
        let mut done = std::mem::take(&mut self.done);
        done.clear();
        self.ring.reap(&mut done);
        for &(ud, res, flags) in &done {
            let (i, op, gen) = parts(ud);
            if op == OP_CANCEL || i >= self.slots.len() {
                continue;
            }
            let more = cqueue::more(flags);
            // A provided buffer's bytes, copied out and the buffer given back.
            let bid = cqueue::buffer_select(flags);
            let s = &mut self.slots[i];
            if !more {
                s.ops = s.ops.saturating_sub(1);
            }
            let current = gen == s.gen & 0xff_ffff && s.state != State::Closing;
            if op == OP_RECV && res > 0 && current {
                let got = match (self.ring.mode, bid) {
                    (RecvMode::Multishot, Some(b)) => self.ring.buffer(b, res as usize),
                    _ => &s.inbuf[..(res as usize).min(s.inbuf.len())],
                };
                if s.read.capacity() - s.read.len() < got.len() {
                    s.read.reserve(got.len().max(READ_CHUNK));
                }
                s.read.extend_from_slice(got);
            }
            if let Some(b) = bid {
                self.ring.recycle(b);
            }
            if !current {
                if self.slots[i].state == State::Closing && self.slots[i].ops == 0 {
                    self.release(i);
                }
                continue;
            }
            match op {
                OP_CONNECT => self.connected(i, res, now),
                OP_SEND => self.sent(i, res, now),
                OP_RECV => self.received(i, res, more, now),
                _ => {}
            }
            if self.slots[i].state == State::Closing && self.slots[i].ops == 0 {
                self.release(i);
            }
        }
        self.ring.publish();
        self.done = done;
    }

    fn connected(&mut self, i: usize, res: i32, now: Instant) {
        let took = now - self.slots[i].started;
        if res < 0 {
            self.recorder.record_connect(took, false);
            return self.fail_connect(i, connect_error(res), now);
        }
        self.recorder.record_connect(took, true);
        self.recorder.reconnects += 1;
        self.slots[i].state = State::Idle;
        self.arm_recv(i);
        self.send(i, now);
    }

    fn sent(&mut self, i: usize, res: i32, now: Instant) {
        if self.slots[i].state != State::Busy {
            return;
        }
        if res < 0 {
            self.finish(i, Err(before_response(os_error(res))), now);
            return self.close(i);
        }
        let s = &mut self.slots[i];
        s.sent += res as usize;
        if s.sent < s.out.len() && res > 0 {
            self.push_send(i);
        }
    }

    fn received(&mut self, i: usize, res: i32, more: bool, now: Instant) {
        let s = &mut self.slots[i];
        if res == -libc::ENOBUFS {
            // Every provided buffer was in use: receive again (they are given back each turn).
            if !more {
                self.arm_recv(i);
            }
            return;
        }
        if res < 0 {
            let kind = if s.answered { os_error(res) } else { before_response(os_error(res)) };
            if s.state == State::Busy {
                self.finish(i, Err(kind), now);
            } else {
                self.recorder.closed_idle += 1;
            }
            return self.close(i);
        }
        if res == 0 {
            return self.ended(i, now);
        }
        if !more {
            self.arm_recv(i);
        }
        let s = &mut self.slots[i];
        if s.state != State::Busy {
            // Bytes nobody asked for on an idle connection: it is not reused (as epoll's
            // `still_open` rules), and no request failed.
            self.recorder.closed_idle += 1;
            return self.close(i);
        }
        s.answered = true;
        match self.w.answer(&mut s.proto, &mut s.read, false) {
            Ok(Some(a)) => self.answered(i, a, now),
            Ok(None) => {}
            Err(kind) => {
                self.finish(i, Err(kind), now);
                self.close(i);
            }
        }
    }

    /// The peer closed: a response that runs to the close ends here, else the call fails.
    fn ended(&mut self, i: usize, now: Instant) {
        let s = &mut self.slots[i];
        if s.state != State::Busy {
            self.recorder.closed_idle += 1;
            return self.close(i);
        }
        let answered = s.answered;
        let result = match self.w.answer(&mut s.proto, &mut s.read, true) {
            Ok(Some(a)) => {
                let mut a = a;
                a.close = true;
                return self.answered(i, a, now);
            }
            Ok(None) if answered => Err(ErrorKind::Closed),
            Ok(None) => Err(ErrorKind::ClosedBeforeResponse),
            Err(kind) => Err(kind),
        };
        self.finish(i, result, now);
        self.close(i);
    }

    /// A whole response to the slot's job: judged, recorded; the connection kept unless it
    /// closes or holds bytes nobody asked for.
    fn answered(&mut self, i: usize, a: Answer, now: Instant) {
        let s = &mut self.slots[i];
        let Some(job) = s.job else { return };
        s.stats.bytes_in = a.bytes_in;
        s.stats.body_in = a.body_in;
        s.stats.target_time = a.target_time;
        let result = self.w.judge(&self.core, &mut s.proto, &job, &a, s.started);
        let keep = result.is_ok() && !a.close && s.read.is_empty() && s.sent >= s.out.len();
        self.finish(i, result, now);
        if keep {
            self.slots[i].state = State::Idle;
            self.idle.push(i);
        } else {
            self.close(i);
        }
    }

    /// The run's end: calls still in flight and jobs still queued are unfinished.
    fn settle_unfinished(&mut self, rec: &mut Recorder) {
        for s in &mut self.slots {
            let Some(job) = s.job.take() else { continue };
            if job.intended < self.measure_from {
                continue;
            }
            if let Some(sent) = s.stats.sent_at {
                self.ends.last_send = Some(self.ends.last_send.map_or(sent, |l| l.max(sent)));
            }
            cut(rec, self.named, row_of_kind(&self.kind_rows, job.kind), &s.stats);
        }
        self.inflight = 0;
        while let Some(job) = self.queue.pop() {
            if job.intended >= self.measure_from {
                not_sent(rec, self.named, row_of_kind(&self.kind_rows, job.kind), ErrorKind::Unfinished);
            }
        }
    }

    /// Closes every connection and waits (a bounded time) for the kernel to give back every
    /// operation, so that no buffer is freed under it.
    fn close_all(&mut self) {
        for i in 0..self.slots.len() {
            self.slots[i].job = None;
            self.close(i);
        }
        let until = Instant::now() + CLOSE_WAIT;
        while self.slots.iter().any(|s| s.ops > 0) && Instant::now() < until {
            if self.ring.enter(Duration::from_millis(10), 1).is_err() {
                break;
            }
            self.complete(Instant::now());
        }
        if self.slots.iter().any(|s| s.ops > 0) {
            // The kernel still holds buffers of ours: they are leaked, not freed under it.
            std::mem::forget(std::mem::take(&mut self.slots));
        }
    }
}

impl<W: Lone> Drop for Engine<'_, W> {
    fn drop(&mut self) {
        // A core that ends any other way than through `close_all` (a panic) leaks its buffers
        // rather than free them under the kernel.
        if self.slots.iter().any(|s| s.ops > 0) {
            std::mem::forget(std::mem::take(&mut self.slots));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_data_names_connection_kind_and_generation() {
        let ud = user_data(70_000, OP_RECV, 0x0123_4567);
        assert_eq!(parts(ud), (70_000, OP_RECV, 0x23_4567));
        assert_eq!(parts(user_data(0, OP_SEND, 0)), (0, OP_SEND, 0));
    }
}
