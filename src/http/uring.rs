//! A TCP stream driven by io_uring (tokio-uring): the owned-buffer reads and writes the api
//! hot path needs, shaped like the epoll stream's so the codec above does not know which.
//! Only usable on a worker thread whose runtime is tokio-uring's (`engine::io::on_uring`).

use bytes::BytesMut;
use std::net::SocketAddr;
use tokio_uring::buf::BoundedBuf;

/// Read buffer reserve when the caller's buffer is full.
const READ_RESERVE: usize = 8 * 1024;

/// One connected io_uring socket and the buffer its writes lend to the kernel.
pub struct UringStream {
    stream: tokio_uring::net::TcpStream,
    /// io_uring writes from owned memory: the request is copied here and the buffer comes back
    /// from each write, so it is allocated once per connection.
    out: Vec<u8>,
}

impl UringStream {
    /// Connects to `addr` with `TCP_NODELAY` (requests are small and latency-bound).
    pub async fn connect(addr: SocketAddr) -> std::io::Result<UringStream> {
        let stream = tokio_uring::net::TcpStream::connect(addr).await?;
        let _ = stream.set_nodelay(true);
        Ok(UringStream { stream, out: Vec::new() })
    }

    /// Writes `head` then the parts of `body`, in one write where the socket takes it all.
    pub async fn write_parts(&mut self, head: &[u8], body: &[&[u8]]) -> std::io::Result<()> {
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        out.extend_from_slice(head);
        for part in body {
            out.extend_from_slice(part);
        }
        let (result, out) = self.stream.write_all(out).await;
        self.out = out;
        result
    }

    /// Reads what is available onto the end of `read`; 0 at end of stream. The buffer is lent
    /// to the kernel for the read and given back (if the read is dropped half-way, `read` is
    /// left empty and the connection must not be reused: a call that times out closes it).
    pub async fn read_into(&mut self, read: &mut BytesMut) -> std::io::Result<usize> {
        if read.capacity() == read.len() {
            read.reserve(READ_RESERVE);
        }
        let buf = std::mem::take(read);
        let filled = buf.len();
        let (result, buf) = self.stream.read(buf.slice(filled..)).await;
        *read = buf.into_inner();
        result
    }

    /// Whether the idle socket is still usable, without waiting: one non-blocking peek. End
    /// of stream (the peer's FIN), a reset or bytes nobody asked for make it unusable.
    pub fn still_open(&self) -> bool {
        use std::os::fd::AsRawFd;
        crate::http::idle::socket_idle(self.stream.as_raw_fd())
    }
}
