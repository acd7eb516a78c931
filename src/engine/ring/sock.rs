//! The sockets of the ring core: TCP sockets opened for the kernel to connect (the address as
//! the kernel takes it, `TCP_NODELAY`), and the kernel's error numbers as the recorder's kinds.

use crate::engine::recorder::ErrorKind;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A failure of the connection before any byte of the answer: the peer's close or reset is
/// `ClosedBeforeResponse`, anything else keeps its kind.
pub(super) fn before_response(kind: ErrorKind) -> ErrorKind {
    match kind {
        ErrorKind::Closed | ErrorKind::Reset => ErrorKind::ClosedBeforeResponse,
        kind => kind,
    }
}

pub(super) fn os_error(res: i32) -> ErrorKind {
    ErrorKind::from_io(&std::io::Error::from_raw_os_error(-res))
}

pub(super) fn connect_error(res: i32) -> ErrorKind {
    match -res {
        libc::ECONNREFUSED => ErrorKind::ConnectRefused,
        libc::ETIMEDOUT | libc::ECANCELED => ErrorKind::ConnectTimeout,
        _ => ErrorKind::ConnectOther,
    }
}

/// `addr` as the kernel takes it.
pub(super) fn sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
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

/// A fresh TCP socket for `addr` (its options are set by the core: `conns::Engine::tune`).
pub(super) fn tcp_socket(addr: SocketAddr) -> std::io::Result<OwnedFd> {
    let family = if addr.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 };
    // SAFETY: socket(2) has no memory preconditions; a non-negative result is ours.
    let fd = unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `TCP_NODELAY`: requests are small and latency-bound.
pub(super) fn set_nodelay(fd: &impl AsRawFd) {
    switch_on(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY);
}

/// Asks the kernel for each read's receive time (`SO_TIMESTAMPNS`, stamped receives). A
/// refusal needs no handling here: its reads come without a time, and the core then times
/// them by its clock and wakes for each response (`conns`).
pub(super) fn set_rx_stamps(fd: &impl AsRawFd) {
    switch_on(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS);
}

/// Sets the boolean socket option `level`/`name` on `fd`.
fn switch_on(fd: &impl AsRawFd, level: libc::c_int, name: libc::c_int) {
    let one: libc::c_int = 1;
    // SAFETY: the option value is a c_int that outlives the call.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            &one as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
}
