//! One core's io_uring (`--io ring`): its set-up (deferred task work where the kernel has it,
//! so completions are posted only when the core asks for them), the kernel probe, the sockets
//! registered as fixed files, the provided-buffer ring that multishot receives take their
//! buffers from, and submission: SQEs are queued as the core decides them and go to the kernel
//! together, in the core's one `io_uring_enter` per wake-up. Where the kernel has them, the
//! receives are multishot `recvmsg`s that bring each read's kernel receive time
//! (`SO_TIMESTAMPNS`): a response is timed when its last segment arrived, however late the
//! core takes the completion, so the core need not wake for each one.

use io_uring::types::{BufRingEntry, SubmitArgs, Timespec};
use io_uring::{opcode, squeue, types, IoUring};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

/// Size of each provided receive buffer (a response larger than this arrives in several).
pub const BUF_SIZE: usize = 16 * 1024;
/// The buffer group of the provided buffers.
const BGID: u16 = 0;

/// How the core receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvMode {
    /// One multishot `recvmsg` per connection, its buffers from the provided-buffer ring, each
    /// read with the kernel's receive time of its last segment.
    Stamped,
    /// One multishot receive per connection, its buffers from the provided-buffer ring.
    Multishot,
    /// One receive per read into the connection's own buffer (kernels before 6.0).
    Single,
}

impl RecvMode {
    /// How the core receives, as the plan line says it.
    pub fn describe(self) -> &'static str {
        match self {
            RecvMode::Stamped => "multishot recv, provided buffers, registered sockets, kernel receive times",
            RecvMode::Multishot => "multishot recv, provided buffers, registered sockets",
            RecvMode::Single => "single-shot recv, registered sockets",
        }
    }

    /// The mode `describe` named in `why` (a run's `Io::why`).
    pub fn of(why: &str) -> RecvMode {
        if why.contains(RecvMode::Stamped.describe()) {
            RecvMode::Stamped
        } else if why.contains(RecvMode::Multishot.describe()) {
            RecvMode::Multishot
        } else {
            RecvMode::Single
        }
    }
}

/// The ring of one core.
pub struct Ring {
    uring: IoUring,
    pub mode: RecvMode,
    bufs: Option<BufRing>,
    /// Completions are posted only when the core asks (deferred task work): a wait for more
    /// completions than will come sleeps until its timeout, without a wake-up per completion.
    pub deferred: bool,
    /// The `recvmsg` header of stamped receives (room for the receive time), read by the
    /// kernel when a receive is armed.
    msg: Box<libc::msghdr>,
}

/// Room for one `SCM_TIMESTAMPNS` control message.
const STAMP_SPACE: u32 = 32;

impl Ring {
    /// A ring for `files` sockets with room for `entries` submissions; provided buffers
    /// (`buffers` of them, a power of two) when `mode` is multishot.
    pub fn new(entries: u32, files: u32, mode: RecvMode, buffers: u16) -> io::Result<Ring> {
        let deferred =
            IoUring::builder().setup_single_issuer().setup_defer_taskrun().setup_coop_taskrun().build(entries);
        let deferred_ok = deferred.is_ok();
        let uring = deferred
            .or_else(|_| IoUring::builder().setup_coop_taskrun().build(entries))
            .or_else(|_| IoUring::new(entries))?;
        uring.submitter().register_files_sparse(files)?;
        let bufs = match mode {
            RecvMode::Stamped | RecvMode::Multishot => Some(BufRing::register(&uring, buffers)?),
            RecvMode::Single => None,
        };
        // SAFETY: an all-zero msghdr is a valid value (no name, no payload vectors).
        let mut msg: Box<libc::msghdr> = Box::new(unsafe { std::mem::zeroed() });
        msg.msg_controllen = STAMP_SPACE as _;
        Ok(Ring { uring, mode, bufs, deferred: deferred_ok, msg })
    }

    /// Queues `sqe`, handing the queue to the kernel first when it is full.
    ///
    /// # Safety
    /// Whatever `sqe` points to (buffers, addresses) must stay valid until its completion.
    pub unsafe fn push(&mut self, sqe: &squeue::Entry) -> io::Result<()> {
        loop {
            // SAFETY: the caller keeps what the entry points to alive until it completes.
            if unsafe { self.uring.submission().push(sqe) }.is_ok() {
                return Ok(());
            }
            self.uring.submit()?;
        }
    }

    /// Hands every queued submission to the kernel and waits up to `wait` for `want`
    /// completions (no wait when zero): one `io_uring_enter`.
    pub fn enter(&mut self, wait: Duration, want: usize) -> io::Result<()> {
        let ts = Timespec::new().sec(wait.as_secs()).nsec(wait.subsec_nanos());
        let args = SubmitArgs::new().timespec(&ts);
        match self.uring.submitter().submit_with_args(want.max(1), &args) {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME | libc::EINTR | libc::EBUSY)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// A wait for this many completions ends only at its timeout, unless the completion queue
    /// fills (a larger count is not capped by every kernel: one answers at once).
    pub fn cq_capacity(&mut self) -> usize {
        self.uring.completion().capacity()
    }

    /// Takes the completions posted so far into `out` (user data, result, flags).
    pub fn reap(&mut self, out: &mut Vec<(u64, i32, u32)>) {
        out.extend(self.uring.completion().map(|c| (c.user_data(), c.result(), c.flags())));
    }

    /// Puts socket `fd` in fixed slot `slot` (-1 empties it).
    pub fn register(&self, slot: u32, fd: RawFd) -> io::Result<()> {
        self.uring.submitter().register_files_update(slot, &[fd]).map(drop)
    }

    /// What a receive put in provided buffer `bid` (`len` bytes of it were written): the
    /// payload, and with stamped receives the kernel's receive time of its last segment
    /// (`CLOCK_REALTIME`, nanoseconds) when the kernel gave one.
    pub fn payload_and_stamp(&self, bid: u16, len: usize) -> (&[u8], Option<u64>) {
        let Some(b) = &self.bufs else { return (&[], None) };
        let bytes = b.slice(bid, len);
        if self.mode != RecvMode::Stamped {
            return (bytes, None);
        }
        match types::RecvMsgOut::parse(bytes, &self.msg) {
            // The payload is the last of what the read wrote (after header, name and control);
            // it is sliced from `bytes` because `payload_data` borrows the parsed header.
            Ok(out) => {
                let n = out.payload_data().len().min(bytes.len());
                (&bytes[bytes.len() - n..], receive_time(out.control_data()))
            }
            Err(()) => (&[], None),
        }
    }

    /// The header stamped receives are armed with.
    pub fn msghdr(&self) -> *const libc::msghdr {
        &*self.msg
    }

    /// Gives provided buffer `bid` back to the kernel (published with the next `publish`).
    pub fn recycle(&mut self, bid: u16) {
        if let Some(b) = &mut self.bufs {
            b.add(bid);
        }
    }

    /// Publishes the buffers given back since the last call.
    pub fn publish(&mut self) {
        if let Some(b) = &mut self.bufs {
            b.publish();
        }
    }

    /// The group provided buffers are taken from.
    pub fn group(&self) -> u16 {
        BGID
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        if self.bufs.is_some() {
            let _ = self.uring.submitter().unregister_buf_ring(BGID);
        }
    }
}

/// The `SCM_TIMESTAMPNS` time among the control messages `control`, in nanoseconds.
fn receive_time(control: &[u8]) -> Option<u64> {
    const HEAD: usize = std::mem::size_of::<libc::cmsghdr>();
    let mut at = 0;
    while at + HEAD <= control.len() {
        // SAFETY: HEAD bytes are in bounds; read unaligned (the buffer is byte-addressed).
        let head: libc::cmsghdr = unsafe { std::ptr::read_unaligned(control[at..].as_ptr() as *const libc::cmsghdr) };
        let len = head.cmsg_len as usize;
        if len < HEAD || at + len > control.len() {
            return None;
        }
        if head.cmsg_level == libc::SOL_SOCKET && head.cmsg_type == libc::SCM_TIMESTAMPNS && len >= HEAD + 16 {
            let data = &control[at + HEAD..at + HEAD + 16];
            let sec = i64::from_ne_bytes(data[..8].try_into().ok()?);
            let nsec = i64::from_ne_bytes(data[8..].try_into().ok()?);
            return u64::try_from(sec).ok()?.checked_mul(1_000_000_000)?.checked_add(u64::try_from(nsec).ok()?);
        }
        at += (len + 7) & !7;
    }
    None
}

/// `CLOCK_REALTIME` now, in nanoseconds (the clock of the kernel's receive times).
pub fn realtime_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    (ts.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(ts.tv_nsec as u64)
}

/// The provided-buffer ring: `n` entries the kernel takes receive buffers from, and the memory
/// behind them.
struct BufRing {
    entries: *mut BufRingEntry,
    layout: std::alloc::Layout,
    mem: Box<[u8]>,
    n: u16,
    tail: u16,
}

impl BufRing {
    fn register(uring: &IoUring, n: u16) -> io::Result<BufRing> {
        let layout = std::alloc::Layout::from_size_align(n as usize * std::mem::size_of::<BufRingEntry>(), 4096)
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: the layout is non-zero sized (n > 0 is checked by the kernel's register; a
        // zero n would fail there and the memory is freed by Drop).
        let entries = unsafe { std::alloc::alloc_zeroed(layout) } as *mut BufRingEntry;
        if entries.is_null() || n == 0 || !n.is_power_of_two() {
            return Err(io::Error::from(io::ErrorKind::OutOfMemory));
        }
        let mut ring =
            BufRing { entries, layout, mem: vec![0u8; n as usize * BUF_SIZE].into_boxed_slice(), n, tail: 0 };
        // SAFETY: the entries stay allocated until Drop, which runs after the ring unregisters
        // them (Ring's Drop, then its fields).
        unsafe { uring.submitter().register_buf_ring(entries as u64, n, BGID)? };
        for bid in 0..n {
            ring.add(bid);
        }
        ring.publish();
        Ok(ring)
    }

    fn slice(&self, bid: u16, len: usize) -> &[u8] {
        let start = bid as usize * BUF_SIZE;
        &self.mem[start..start + len.min(BUF_SIZE)]
    }

    fn add(&mut self, bid: u16) {
        let i = (self.tail & (self.n - 1)) as usize;
        let addr = self.mem.as_ptr() as u64 + bid as u64 * BUF_SIZE as u64;
        // SAFETY: i < n, within the allocation.
        let e = unsafe { &mut *self.entries.add(i) };
        e.set_addr(addr);
        e.set_len(BUF_SIZE as u32);
        e.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    fn publish(&mut self) {
        // SAFETY: the tail field of the first entry, shared with the kernel; written with a
        // release store so the entries before it are visible first.
        unsafe {
            let tail = BufRingEntry::tail(self.entries) as *const AtomicU16;
            (*tail).store(self.tail, Ordering::Release);
        }
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // SAFETY: allocated in `register` with this layout.
        unsafe { std::alloc::dealloc(self.entries as *mut u8, self.layout) };
    }
}

/// Whether this kernel runs the ring, and how it receives: `Ok` names the way (multishot
/// receives with provided buffers, or single-shot where multishot is refused); `Err` says why
/// the kernel refuses io_uring (or a container's seccomp policy, or
/// `kernel.io_uring_disabled`).
pub fn probe() -> Result<RecvMode, String> {
    let refused = |e: io::Error| format!("the kernel refused io_uring ({e})");
    let ring = Ring::new(8, 2, RecvMode::Single, 0).map_err(refused)?;
    let mut p = io_uring::Probe::new();
    ring.uring.submitter().register_probe(&mut p).map_err(refused)?;
    for (code, name) in [(opcode::Send::CODE, "send"), (opcode::Recv::CODE, "recv"), (opcode::Connect::CODE, "connect")]
    {
        if !p.is_supported(code) {
            return Err(format!("the kernel's io_uring has no {name}"));
        }
    }
    drop(ring);
    for mode in [RecvMode::Stamped, RecvMode::Multishot] {
        let works = Ring::new(8, 2, mode, 2).and_then(|mut ring| multishot_works(&mut ring));
        if works.unwrap_or(false) {
            return Ok(mode);
        }
    }
    Ok(RecvMode::Single)
}

/// One byte through a connected pair, received by a multishot receive: the kernel takes it
/// (kernels before 6.0 answer EINVAL). Stamped (`ring.mode`): a multishot `recvmsg` on a TCP
/// loopback pair with `SO_TIMESTAMPNS`, which must bring the byte's receive time.
fn multishot_works(ring: &mut Ring) -> io::Result<bool> {
    let stamped = ring.mode == RecvMode::Stamped;
    let (a, b): (OwnedFd, OwnedFd) = if stamped {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        let a = std::net::TcpStream::connect(listener.local_addr()?)?;
        let (b, _) = listener.accept()?;
        super::sock::set_rx_stamps(&a);
        (a.into(), b.into())
    } else {
        let (a, b) = std::os::unix::net::UnixStream::pair()?;
        (a.into(), b.into())
    };
    ring.register(0, a.as_raw_fd())?;
    let sqe = if stamped {
        opcode::RecvMsgMulti::new(types::Fixed(0), ring.msghdr(), ring.group()).build()
    } else {
        opcode::RecvMulti::new(types::Fixed(0), ring.group()).build()
    };
    // SAFETY: a multishot receive points at no memory of ours but the ring's header and buffers.
    unsafe { ring.push(&sqe.user_data(7))? };
    // A byte at a time until one arrives with its receive time: the kernel turns receive
    // times on a moment after the first socket asks (deferred work), so the first bytes of a
    // process may come without one.
    let mut got = Vec::new();
    let mut ok = false;
    let until = std::time::Instant::now() + Duration::from_millis(300);
    while std::time::Instant::now() < until {
        // SAFETY: one byte from a buffer we own, to a descriptor we own.
        if unsafe { libc::write(b.as_raw_fd(), b"x".as_ptr() as *const libc::c_void, 1) } != 1 {
            return Err(io::Error::last_os_error());
        }
        got.clear();
        for _ in 0..100 {
            ring.enter(Duration::from_millis(10), 1)?;
            ring.reap(&mut got);
            if !got.is_empty() {
                break;
            }
        }
        ok = got.iter().any(|&(_, res, flags)| {
            let Some(bid) = io_uring::cqueue::buffer_select(flags) else { return false };
            let (payload, at) = ring.payload_and_stamp(bid, res.max(0) as usize);
            payload == b"x" && (!stamped || at.is_some())
        });
        for bid in got.iter().filter_map(|&(_, _, flags)| io_uring::cqueue::buffer_select(flags)) {
            ring.recycle(bid);
        }
        ring.publish();
        // Done: stamped, not asked to be, nothing came (no multishot here), or the receive ended.
        if ok || !stamped || got.is_empty() || !got.iter().all(|&(_, _, f)| io_uring::cqueue::more(f)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(b);
    // The receive ends with the socket's close; wait for it so nothing is left in flight.
    ring.register(0, -1)?;
    drop(a);
    for _ in 0..100 {
        if got.iter().any(|&(_, _, f)| !io_uring::cqueue::more(f)) {
            break;
        }
        ring.enter(Duration::from_millis(10), 1)?;
        ring.reap(&mut got);
    }
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmsg(level: i32, kind: i32, data: &[u8]) -> Vec<u8> {
        let len = std::mem::size_of::<libc::cmsghdr>() + data.len();
        let mut out = Vec::new();
        out.extend_from_slice(&(len as libc::size_t).to_ne_bytes());
        out.extend_from_slice(&level.to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(data);
        out.resize((len + 7) & !7, 0);
        out
    }

    fn timespec(sec: i64, nsec: i64) -> Vec<u8> {
        [sec.to_ne_bytes(), nsec.to_ne_bytes()].concat()
    }

    #[test]
    fn the_receive_time_is_read_from_its_control_message() {
        let stamp = cmsg(libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS, &timespec(1_700_000_000, 123_456_789));
        assert_eq!(receive_time(&stamp), Some(1_700_000_000_123_456_789));
        // After another message, it is still found; alone, another message is not a time.
        let other = cmsg(libc::IPPROTO_IP, libc::IP_TOS, &[7, 0, 0, 0]);
        assert_eq!(receive_time(&[other.clone(), stamp].concat()), Some(1_700_000_000_123_456_789));
        assert_eq!(receive_time(&other), None);
        assert_eq!(receive_time(&[]), None);
        // A truncated or lying header is no time, and no panic.
        let mut short = cmsg(libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS, &timespec(1, 2));
        short.truncate(20);
        assert_eq!(receive_time(&short), None);
        let mut long = cmsg(libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS, &timespec(1, 2));
        long[..8].copy_from_slice(&(4096usize).to_ne_bytes());
        assert_eq!(receive_time(&long), None);
        // A negative time (a clock before 1970) is none either.
        assert_eq!(receive_time(&cmsg(libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS, &timespec(-1, 0))), None);
    }
}
