//! The byte stream under the api workload's connections: epoll (tokio) by default, io_uring
//! (tokio-uring) when built with `--features uring` and run with `--io uring` on a kernel that
//! allows it. The codec above does not know which.

use bytes::BytesMut;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub enum Stream {
    Epoll(tokio::net::TcpStream),
    #[cfg(feature = "uring")]
    Uring {
        stream: tokio_uring::net::TcpStream,
        /// io_uring reads into owned buffers; this one is lent to each read and kept.
        buf: Vec<u8>,
    },
}

impl Stream {
    /// Connects with the transport of the calling thread's runtime.
    pub async fn connect(addr: SocketAddr) -> std::io::Result<Stream> {
        #[cfg(feature = "uring")]
        if crate::engine::threads::on_uring() {
            let stream = tokio_uring::net::TcpStream::connect(addr).await?;
            let _ = stream.set_nodelay(true);
            return Ok(Stream::Uring { stream, buf: Vec::with_capacity(8192) });
        }
        let stream = tokio::net::TcpStream::connect(addr).await?;
        let _ = stream.set_nodelay(true);
        Ok(Stream::Epoll(stream))
    }

    /// Writes all of `out` (io_uring borrows it for the write and gives it back).
    pub async fn write_all(&mut self, out: &mut Vec<u8>) -> std::io::Result<()> {
        match self {
            Stream::Epoll(s) => s.write_all(out).await,
            #[cfg(feature = "uring")]
            Stream::Uring { stream, .. } => {
                let (result, buf) = stream.write_all(std::mem::take(out)).await;
                *out = buf;
                result
            }
        }
    }

    /// Reads what is available into `read`; 0 at end of stream.
    pub async fn read_into(&mut self, read: &mut BytesMut) -> std::io::Result<usize> {
        match self {
            Stream::Epoll(s) => s.read_buf(read).await,
            #[cfg(feature = "uring")]
            Stream::Uring { stream, buf } => {
                let mut owned = std::mem::take(buf);
                owned.clear();
                let (result, owned) = stream.read(owned).await;
                if let Ok(n) = result {
                    read.extend_from_slice(&owned[..n]);
                }
                *buf = owned;
                result
            }
        }
    }
}
