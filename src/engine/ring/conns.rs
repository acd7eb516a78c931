//! The connections of one ring core (`Engine`): each a slot with its socket (a fixed file),
//! its buffers and its job; what the core hands the kernel for them (connect, send, receive,
//! cancel) and what it makes of the completions: a response parsed, judged and recorded, a
//! connection closed and released once none of its operations is in the kernel any more.
//!
//! Every operation's user data names its connection, its kind and the connection's generation:
//! a connection that is closed (timeout, a response that closes it, the peer's close) takes a
//! new generation, and completions of the old one only release what they held. A connection's
//! buffers are reused only once none of its operations is in the kernel.
//!
//! Time: a batch of completions is timed by one clock read, except stamped receives (the
//! kernel's receive time of the read's last segment, `uring::RecvMode::Stamped`): a response
//! ends when its last byte arrived, not when the core took it.

use super::sock::{before_response, connect_error, os_error, set_nodelay, set_rx_stamps, sockaddr, tcp_socket};
use super::uring::{realtime_ns, RecvMode, Ring, BUF_SIZE};
use super::{Answer, Lone};
use crate::engine::core::{cut, not_sent, record_call, row_of_kind, Call, Ends};
use crate::engine::queue::JobQueue;
use crate::engine::recorder::{ErrorKind, Recorder};
use crate::engine::workload::{CallStats, Job};
use bytes::BytesMut;
use io_uring::{cqueue, opcode, types};
use std::collections::VecDeque;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Read buffer reserve per connection; grows only for large responses.
const READ_CHUNK: usize = 8 * 1024;
/// How long the core wakes for each response after a read without its receive time (and
/// from the start, while the kernel turns receive times on).
pub(super) const UNSTAMPED_HOLD: Duration = Duration::from_millis(100);
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
pub(super) struct Slot<C> {
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
    /// Part of a response is in, the rest is awaited (counted in `Engine::partial`).
    partial: bool,
    /// When the call (or the connect) began.
    started: Instant,
    /// Where the socket connects (kept for the kernel until the connect completes).
    addr: (libc::sockaddr_storage, libc::socklen_t),
}

/// A core's state, all on its own thread.
pub(super) struct Engine<'w, W: Lone> {
    pub(super) w: &'w W,
    pub(super) core: W::Core,
    pub(super) ring: Ring,
    pub(super) slots: Vec<Slot<W::Conn>>,
    /// Open connections without a job, and connections without a socket.
    pub(super) idle: Vec<usize>,
    pub(super) free: Vec<usize>,
    pub(super) queue: JobQueue,
    /// (deadline, connection, call): every call and connect times out after the same span,
    /// so they are in order.
    pub(super) deadlines: VecDeque<(Instant, usize, u64)>,
    pub(super) timeout: Duration,
    pub(super) recorder: Recorder,
    pub(super) ends: Ends,
    pub(super) named: bool,
    pub(super) kind_rows: Arc<Vec<usize>>,
    pub(super) measure_from: Instant,
    /// Jobs taken by a connection and not yet recorded.
    pub(super) inflight: usize,
    pub(super) done: Vec<(u64, i32, u32)>,
    /// Sends queued since the last `io_uring_enter`: their completions (posted at once, as the
    /// kernel takes the bytes) are no reason to wake, so the wait is for one completion more.
    pub(super) sends_queued: usize,
    /// Connects in the kernel (their completions time the connect and release a waiting job).
    pub(super) connecting: usize,
    /// Until then the core wakes for each response: a read came without its receive time
    /// (the kernel turns receive times on a moment after the first socket asks) and was
    /// timed by the clock read after the wait.
    pub(super) unstamped_until: Option<Instant>,
    /// Connections with part of a response in and the rest awaited.
    pub(super) partial: usize,
    /// Where connections reopen.
    pub(super) target: SocketAddr,
}

impl<W: Lone> Engine<'_, W> {
    /// Opens the core's connections before the clock starts (each address in turn), records
    /// their connect times in `rec` and arms their receives. Returns the failures and the first
    /// error.
    pub(super) fn preconnect(&mut self, conns: usize, rec: &mut Recorder) -> (u64, Option<ErrorKind>) {
        let (mut failed, mut error) = (0, None);
        let mut target = None;
        let multishot = self.ring.mode != RecvMode::Single;
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
                partial: false,
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
                    self.tune(&fd);
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
    unsafe fn push(&mut self, i: usize, sqe: io_uring::squeue::Entry) -> bool {
        // SAFETY: the caller's promise.
        let pushed = unsafe { self.ring.push(&sqe) }.is_ok();
        if pushed {
            self.slots[i].ops += 1;
        }
        pushed
    }

    /// Whether the core may sleep through responses (for at most one coalescing window, the
    /// caller's bound): their reads carry the kernel's receive time (nothing is timed by when
    /// the core wakes), the kernel posts completions only when asked (no wake-up each), no job
    /// waits for a connection, no connect is in the kernel (a connect is timed by its
    /// completion) and no response has begun without ending. A sleeping core does not read its
    /// sockets, and a server may wait for that: a response sent in parts (Nagle holds the
    /// second part until the first is acknowledged, which a read hastens) or larger than the
    /// receive window. So once part of a response is in, the core wakes for each completion
    /// until it ends: such a response waits at most one window for its first read.
    pub(super) fn sleeps_through_responses(&self, now: Instant) -> bool {
        self.ring.mode == RecvMode::Stamped
            && self.ring.deferred
            && self.queue.is_empty()
            && self.connecting == 0
            && self.partial == 0
            && self.unstamped_until.is_none_or(|until| now >= until)
    }

    /// Marks connection `i`'s response as begun and not ended (`on`), or not.
    fn set_partial(&mut self, i: usize, on: bool) {
        let s = &mut self.slots[i];
        if s.partial != on {
            s.partial = on;
            if on {
                self.partial += 1;
            } else {
                self.partial -= 1;
            }
        }
    }

    /// Sets what every socket of the core has: `TCP_NODELAY`, and the receive times when the
    /// core's receives are stamped.
    fn tune(&self, fd: &OwnedFd) {
        set_nodelay(fd);
        if self.ring.mode == RecvMode::Stamped {
            set_rx_stamps(fd);
        }
    }

    fn arm_recv(&mut self, i: usize) {
        let s = &mut self.slots[i];
        let ud = user_data(i, OP_RECV, s.gen);
        let sqe = match self.ring.mode {
            RecvMode::Stamped => {
                opcode::RecvMsgMulti::new(types::Fixed(i as u32), self.ring.msghdr(), self.ring.group()).build()
            }
            RecvMode::Multishot => opcode::RecvMulti::new(types::Fixed(i as u32), self.ring.group()).build(),
            RecvMode::Single => {
                opcode::Recv::new(types::Fixed(i as u32), s.inbuf.as_mut_ptr(), s.inbuf.len() as u32).build()
            }
        };
        // SAFETY: a single-shot receive writes into the slot's `inbuf`, which is not touched
        // (nor freed: slots live until `close_all` has waited for every operation) meanwhile;
        // a stamped one reads the ring's header, which lives as long as the ring.
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
    pub(super) fn dispatch(&mut self, now: Instant) {
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
        self.tune(&fd);
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
        if unsafe { self.push(i, sqe) } {
            self.connecting += 1;
        }
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
        self.set_partial(i, false);
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
        self.set_partial(i, false);
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
    pub(super) fn expire(&mut self, now: Instant) {
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

    /// Takes every completion the kernel posted and acts on it; `now` times them all but
    /// stamped receives, which end when the kernel received their bytes: `real_now` is the
    /// receive times' clock (`uring::realtime_ns`) read with `now`, and a time `age` before it
    /// is `now - age`.
    pub(super) fn complete(&mut self, now: Instant, real_now: u64) {
        let mut done = std::mem::take(&mut self.done);
        done.clear();
        self.ring.reap(&mut done);
        for &(ud, mut res, flags) in &done {
            let (i, op, gen) = parts(ud);
            if op == OP_CANCEL || i >= self.slots.len() {
                continue;
            }
            if op == OP_CONNECT {
                self.connecting = self.connecting.saturating_sub(1);
            }
            let more = cqueue::more(flags);
            // A provided buffer's bytes, copied out and the buffer given back.
            let bid = cqueue::buffer_select(flags);
            let s = &mut self.slots[i];
            if !more {
                s.ops = s.ops.saturating_sub(1);
            }
            let current = gen == s.gen & 0xff_ffff && s.state != State::Closing;
            let mut at = now;
            if op == OP_RECV && res > 0 {
                let (got, stamp) = match bid {
                    Some(b) => self.ring.payload_and_stamp(b, res as usize),
                    None => (&s.inbuf[..(res as usize).min(s.inbuf.len())], None),
                };
                if self.ring.mode == RecvMode::Stamped {
                    // A stamped completion's length counts the recvmsg header and the control
                    // message too: from here on `res` is the payload's length, as a plain
                    // receive's is (0 with no MORE flag: the peer closed).
                    res = got.len() as i32;
                    match stamp {
                        Some(stamp) => {
                            // Never before the call began (a clock stepped back), never after now.
                            let age = Duration::from_nanos(real_now.saturating_sub(stamp));
                            at = now.checked_sub(age).unwrap_or(now).max(s.started);
                        }
                        None if !got.is_empty() => self.unstamped_until = Some(now + UNSTAMPED_HOLD),
                        None => {}
                    }
                }
                if current {
                    if s.read.capacity() - s.read.len() < got.len() {
                        s.read.reserve(got.len().max(READ_CHUNK));
                    }
                    s.read.extend_from_slice(got);
                }
            }
            if let Some(b) = bid {
                self.ring.recycle(b);
            }
            if op == OP_RECV && res == 0 && more {
                // A stamped read that brought nothing but control data: not the peer's close.
                continue;
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
                OP_RECV => self.received(i, res, more, at),
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
            Ok(None) => self.set_partial(i, true),
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
    pub(super) fn settle_unfinished(&mut self, rec: &mut Recorder) {
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
    pub(super) fn close_all(&mut self) {
        for i in 0..self.slots.len() {
            self.slots[i].job = None;
            self.close(i);
        }
        let until = Instant::now() + CLOSE_WAIT;
        while self.slots.iter().any(|s| s.ops > 0) && Instant::now() < until {
            if self.ring.enter(Duration::from_millis(10), 1).is_err() {
                break;
            }
            self.complete(Instant::now(), realtime_ns());
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
