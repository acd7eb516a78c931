//! One core's io_uring (`--io ring`): its set-up (deferred task work where the kernel has it,
//! so completions are posted only when the core asks for them), the kernel probe, the sockets
//! registered as fixed files, the provided-buffer ring that multishot receives take their
//! buffers from, and submission: SQEs are queued as the core decides them and go to the kernel
//! together, in the core's one `io_uring_enter` per wake-up.

use io_uring::types::{BufRingEntry, SubmitArgs, Timespec};
use io_uring::{opcode, squeue, types, IoUring};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

/// Size of each provided receive buffer (a response larger than this arrives in several).
pub const BUF_SIZE: usize = 16 * 1024;
/// The buffer group of the provided buffers.
const BGID: u16 = 0;

/// How the core receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvMode {
    /// One multishot receive per connection, its buffers from the provided-buffer ring.
    Multishot,
    /// One receive per read into the connection's own buffer (kernels before 6.0).
    Single,
}

impl RecvMode {
    /// How the core receives, as the plan line says it.
    pub fn describe(self) -> &'static str {
        match self {
            RecvMode::Multishot => "multishot recv, provided buffers, registered sockets",
            RecvMode::Single => "single-shot recv, registered sockets",
        }
    }

    /// The mode `describe` named in `why` (a run's `Io::why`).
    pub fn of(why: &str) -> RecvMode {
        if why.starts_with("multishot") {
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
}

impl Ring {
    /// A ring for `files` sockets with room for `entries` submissions; provided buffers
    /// (`buffers` of them, a power of two) when `mode` is multishot.
    pub fn new(entries: u32, files: u32, mode: RecvMode, buffers: u16) -> io::Result<Ring> {
        let uring = IoUring::builder()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .setup_coop_taskrun()
            .build(entries)
            .or_else(|_| IoUring::builder().setup_coop_taskrun().build(entries))
            .or_else(|_| IoUring::new(entries))?;
        uring.submitter().register_files_sparse(files)?;
        let bufs = match mode {
            RecvMode::Multishot => Some(BufRing::register(&uring, buffers)?),
            RecvMode::Single => None,
        };
        Ok(Ring { uring, mode, bufs })
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

    /// Takes the completions posted so far into `out` (user data, result, flags).
    pub fn reap(&mut self, out: &mut Vec<(u64, i32, u32)>) {
        out.extend(self.uring.completion().map(|c| (c.user_data(), c.result(), c.flags())));
    }

    /// Puts socket `fd` in fixed slot `slot` (-1 empties it).
    pub fn register(&self, slot: u32, fd: RawFd) -> io::Result<()> {
        self.uring.submitter().register_files_update(slot, &[fd]).map(drop)
    }

    /// The bytes of provided buffer `bid` (`len` of them were received into it).
    pub fn buffer(&self, bid: u16, len: usize) -> &[u8] {
        match &self.bufs {
            Some(b) => b.slice(bid, len),
            None => &[],
        }
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
    let mut ring = Ring::new(8, 2, RecvMode::Single, 0).map_err(refused)?;
    let mut p = io_uring::Probe::new();
    ring.uring.submitter().register_probe(&mut p).map_err(refused)?;
    for (code, name) in [(opcode::Send::CODE, "send"), (opcode::Recv::CODE, "recv"), (opcode::Connect::CODE, "connect")]
    {
        if !p.is_supported(code) {
            return Err(format!("the kernel's io_uring has no {name}"));
        }
    }
    drop(ring);
    ring = match Ring::new(8, 2, RecvMode::Multishot, 2) {
        Ok(r) => r,
        Err(_) => return Ok(RecvMode::Single),
    };
    Ok(if multishot_works(&mut ring).unwrap_or(false) { RecvMode::Multishot } else { RecvMode::Single })
}

/// One byte through a socket pair, received by a multishot receive: the kernel takes it
/// (kernels before 6.0 answer EINVAL).
fn multishot_works(ring: &mut Ring) -> io::Result<bool> {
    let (a, b) = std::os::unix::net::UnixStream::pair()?;
    ring.register(0, a.as_raw_fd())?;
    let sqe = opcode::RecvMulti::new(types::Fixed(0), ring.group()).build().user_data(7);
    // SAFETY: a multishot receive points at no memory of ours (its buffers are the ring's).
    unsafe { ring.push(&sqe)? };
    std::io::Write::write_all(&mut &b, b"x")?;
    let mut got = Vec::new();
    for _ in 0..100 {
        ring.enter(Duration::from_millis(10), 1)?;
        ring.reap(&mut got);
        if !got.is_empty() {
            break;
        }
    }
    drop(b);
    let ok = got.first().is_some_and(|&(_, res, flags)| res == 1 && io_uring::cqueue::buffer_select(flags).is_some());
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
