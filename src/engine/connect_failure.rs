//! Why a connection could not be opened, worded once for every workload: the short stable name
//! reports count such failures by (`refused`, `timeout`, ...), the cause in words, and what the
//! user can do about it. `blast api` names the cause of an unreachable target with it (from the
//! recorder's `ErrorKind`); `blast ws` names its failed connections with it (from the I/O error)
//! and its report gives the advice for the commonest.

use crate::engine::ErrorKind;

/// A TCP connect or TLS handshake that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectFailure {
    /// Nothing listens at the address.
    Refused,
    /// No answer within the timeout.
    Timeout,
    /// The TLS handshake failed (untrusted certificate, wrong name, protocol).
    Tls,
    /// The target closed or reset the connection.
    Closed,
    /// No local port left to connect from.
    NoEphemeralPorts,
    /// The process is at its file descriptor limit.
    FdLimit,
    /// Any other I/O error.
    Other,
}

impl ConnectFailure {
    pub const ALL: [ConnectFailure; 7] = [
        ConnectFailure::Refused,
        ConnectFailure::Timeout,
        ConnectFailure::Tls,
        ConnectFailure::Closed,
        ConnectFailure::NoEphemeralPorts,
        ConnectFailure::FdLimit,
        ConnectFailure::Other,
    ];

    /// The failure an I/O error of a connect (or of the handshake after it) is.
    pub fn from_io(e: &std::io::Error) -> ConnectFailure {
        use std::io::ErrorKind as K;
        match (e.kind(), e.raw_os_error()) {
            (K::ConnectionRefused, _) => ConnectFailure::Refused,
            (K::TimedOut, _) => ConnectFailure::Timeout,
            (K::AddrNotAvailable, _) | (_, Some(libc::EADDRNOTAVAIL)) => ConnectFailure::NoEphemeralPorts,
            (_, Some(libc::EMFILE)) | (_, Some(libc::ENFILE)) => ConnectFailure::FdLimit,
            (K::ConnectionReset, _) => ConnectFailure::Closed,
            _ => ConnectFailure::Other,
        }
    }

    /// The failure a connection error the recorder counted is.
    pub fn of_kind(kind: ErrorKind) -> ConnectFailure {
        match kind {
            ErrorKind::ConnectRefused => ConnectFailure::Refused,
            ErrorKind::ConnectTimeout => ConnectFailure::Timeout,
            ErrorKind::Tls => ConnectFailure::Tls,
            ErrorKind::Reset | ErrorKind::ClosedBeforeResponse | ErrorKind::Closed => ConnectFailure::Closed,
            _ => ConnectFailure::Other,
        }
    }

    /// Short stable name, as reports count failures (`failed: {"refused": 10}`).
    pub fn name(self) -> &'static str {
        match self {
            ConnectFailure::Refused => "refused",
            ConnectFailure::Timeout => "timeout",
            ConnectFailure::Tls => "tls_handshake",
            ConnectFailure::Closed => "reset",
            ConnectFailure::NoEphemeralPorts => "no_ephemeral_ports",
            ConnectFailure::FdLimit => "fd_limit",
            ConnectFailure::Other => "io",
        }
    }

    /// The failure a report's name stands for.
    pub fn named(name: &str) -> Option<ConnectFailure> {
        ConnectFailure::ALL.into_iter().find(|f| f.name() == name)
    }

    /// What happened, in words.
    pub fn cause(self) -> &'static str {
        match self {
            ConnectFailure::Refused => "connection refused",
            ConnectFailure::Timeout => "connect timed out",
            ConnectFailure::Tls => "TLS handshake failed",
            ConnectFailure::Closed => "connection closed by the target",
            ConnectFailure::NoEphemeralPorts => "no ephemeral port left",
            ConnectFailure::FdLimit => "at the file descriptor limit",
            ConnectFailure::Other => "connect error",
        }
    }

    /// What the user can do about it.
    pub fn advice(self) -> &'static str {
        match self {
            ConnectFailure::Refused => "is the server listening at --target?",
            ConnectFailure::Timeout => "no answer from the target within --timeout",
            ConnectFailure::Tls => "trust the certificate with --ca-cert, or --insecure",
            ConnectFailure::Closed => "the target closed the connection at once: see its logs",
            ConnectFailure::NoEphemeralPorts => "add source addresses with --bind 127.0.0.1,127.0.0.2,...",
            ConnectFailure::FdLimit => "raise the file descriptor limit (ulimit -n)",
            ConnectFailure::Other => "see the reasons above",
        }
    }

    /// `cause: advice`, the whole explanation in one phrase.
    pub fn explained(self) -> String {
        format!("{}: {}", self.cause(), self.advice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_distinct_and_read_back() {
        for f in ConnectFailure::ALL {
            assert_eq!(ConnectFailure::named(f.name()), Some(f));
        }
        assert_eq!(ConnectFailure::named("http_401"), None);
    }

    #[test]
    fn io_errors_and_recorded_kinds_agree() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(ConnectFailure::from_io(&refused), ConnectFailure::of_kind(ErrorKind::ConnectRefused));
        let fds = std::io::Error::from_raw_os_error(libc::EMFILE);
        assert_eq!(ConnectFailure::from_io(&fds), ConnectFailure::FdLimit);
        assert_eq!(
            ConnectFailure::of_kind(ErrorKind::Tls).explained(),
            "TLS handshake failed: trust the certificate with --ca-cert, or --insecure"
        );
    }
}
