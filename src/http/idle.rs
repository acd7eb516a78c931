//! Whether a kept connection's socket is idle: nothing to read, no FIN, no reset. One
//! non-blocking peek, shared by the epoll and io_uring transports.

/// One non-blocking peek at socket `fd`: true when there is nothing to read (it would block).
/// End of stream (the peer's FIN), a reset or bytes nobody asked for make it false.
pub fn socket_idle(fd: std::os::fd::RawFd) -> bool {
    let mut byte = 0u8;
    // SAFETY: `recv` writes at most one byte into `byte`, which outlives the call; `fd` is an
    // open socket of the caller's.
    let n = unsafe { libc::recv(fd, (&mut byte as *mut u8).cast(), 1, libc::MSG_PEEK | libc::MSG_DONTWAIT) };
    n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::WouldBlock
}
