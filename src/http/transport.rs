//! The byte stream under an HTTP connection: epoll (tokio, plain or TLS) or io_uring (plain,
//! on a worker thread whose runtime drives io_uring). `open` picks the one the calling thread's
//! runtime drives; the codec above reads and writes through `Transport` and knows neither.

use crate::http::conn::{secure, SecureError};
use crate::http::uring::UringStream;
use crate::tls::{ClientTls, Stream};
use bytes::BytesMut;
use std::io::IoSlice;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Waker};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

/// A connected stream, ready for HTTP.
pub enum Transport {
    Epoll(Stream),
    Uring(UringStream),
}

/// Why a connection could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// The TCP connect failed.
    Connect(std::io::Error),
    /// The connection was made but could not be made ready (TLS).
    Secure(SecureError),
}

impl Transport {
    /// Connects to `addr` and, with `tls`, runs the handshake. On a thread whose runtime drives
    /// io_uring a plain connection is an io_uring socket; TLS always runs on epoll.
    pub async fn open(addr: SocketAddr, tls: Option<(&ClientTls, &str)>) -> Result<Transport, OpenError> {
        if tls.is_none() && crate::engine::io::on_uring() {
            return UringStream::connect(addr).await.map(Transport::Uring).map_err(OpenError::Connect);
        }
        let stream = TcpStream::connect(addr).await.map_err(OpenError::Connect)?;
        secure(stream, tls).await.map(Transport::Epoll).map_err(OpenError::Secure)
    }

    /// Writes `head` then `body` (which may be empty), in one system call where the socket takes
    /// them both.
    /// The body may come in parts (a multipart body: framing around file bytes), each written
    /// from where it is.
    pub async fn write_parts(&mut self, head: &[u8], body: &[&[u8]]) -> std::io::Result<()> {
        match self {
            Transport::Epoll(s) => match body {
                [] => write_both(s, head, &[]).await,
                [one] => write_both(s, head, one).await,
                many => write_many(s, std::iter::once(head).chain(many.iter().copied()).collect()).await,
            },
            Transport::Uring(s) => s.write_parts(head, body).await,
        }
    }

    /// Reads what is available onto the end of `read`; 0 at end of stream.
    pub async fn read_into(&mut self, read: &mut BytesMut) -> std::io::Result<usize> {
        match self {
            Transport::Epoll(s) => s.read_buf(read).await,
            Transport::Uring(s) => s.read_into(read).await,
        }
    }

    /// Whether the kept-alive stream is still usable, without waiting: the peer's FIN or RST
    /// on an idle socket, or bytes nobody asked for, make it unusable. On epoll a socket with
    /// nothing to read costs no system call (tokio knows it is not readable), so a FIN that
    /// arrived since the runtime last polled is seen on the next check.
    pub fn still_open(&mut self) -> bool {
        match self {
            Transport::Epoll(s) => nothing_to_read(s),
            Transport::Uring(s) => s.still_open(),
        }
    }

    /// `still_open`, asked of the kernel now (one non-blocking peek): a FIN that arrived an
    /// instant ago is seen too. Between the steps of an iteration, where the next request
    /// follows the last response at once.
    pub fn still_open_now(&mut self) -> bool {
        match self {
            Transport::Epoll(s) => stream_still_open_now(s),
            Transport::Uring(s) => s.still_open(),
        }
    }
}

/// Whether an idle epoll stream is still usable, asked of the kernel now: nothing buffered
/// (TLS included) and the socket neither closed, reset nor holding unasked-for bytes.
pub fn stream_still_open_now(s: &mut Stream) -> bool {
    use std::os::fd::AsRawFd;
    nothing_to_read(s) && crate::http::idle::socket_idle(s.as_raw_fd())
}

/// Polls `s` once without waiting. Pending: nothing to read, open. Ready: end of stream, bytes
/// or an error.
fn nothing_to_read(s: &mut Stream) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    let mut scratch = [0u8; 64];
    let mut buf = ReadBuf::new(&mut scratch);
    Pin::new(s).poll_read(&mut cx, &mut buf).is_pending()
}

/// Writes `head` and `body` with vectored writes (one `writev` for both when the socket takes
/// them), then whatever is left. A request with a body rendered apart from its head (a random or
/// large body) would otherwise cost two `send`s.
async fn write_both<W: AsyncWrite + Unpin>(s: &mut W, mut head: &[u8], mut body: &[u8]) -> std::io::Result<()> {
    while !head.is_empty() {
        let n = s.write_vectored(&[IoSlice::new(head), IoSlice::new(body)]).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        if n < head.len() {
            head = &head[n..];
        } else {
            body = &body[n - head.len()..];
            head = &[];
        }
    }
    if !body.is_empty() {
        s.write_all(body).await?;
    }
    Ok(())
}

/// Writes `parts` in order with vectored writes (up to 64 parts a call).
async fn write_many<W: AsyncWrite + Unpin>(s: &mut W, mut parts: Vec<&[u8]>) -> std::io::Result<()> {
    let mut first = 0;
    while first < parts.len() {
        if parts[first].is_empty() {
            first += 1;
            continue;
        }
        let slices: Vec<IoSlice<'_>> = parts[first..].iter().take(64).map(|p| IoSlice::new(p)).collect();
        let mut n = s.write_vectored(&slices).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        while n > 0 && first < parts.len() {
            let len = parts[first].len();
            if n >= len {
                n -= len;
                first += 1;
            } else {
                parts[first] = &parts[first][n..];
                n = 0;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    /// Head and body arrive whole and in order, also when the peer takes them a few bytes at a
    /// time (partial vectored writes).
    #[test]
    fn head_and_body_arrive_whole_through_partial_writes() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let head = b"POST /x HTTP/1.1\r\nContent-Length: 300\r\n\r\n".to_vec();
            let body: Vec<u8> = (0..300u32).map(|i| (i % 251) as u8).collect();
            // A pipe of 7 bytes: every write is partial.
            let (mut a, mut b) = tokio::io::duplex(7);
            let expected = [head.clone(), body.clone()].concat();
            let reader = async move {
                let mut got = Vec::new();
                b.read_to_end(&mut got).await.expect("read");
                got
            };
            let writer = async move {
                write_both(&mut a, &head, &body).await.expect("write");
                drop(a);
            };
            let (got, ()) = tokio::join!(reader, writer);
            assert_eq!(got, expected);
        });
    }
}
