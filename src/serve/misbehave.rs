//! A deliberately broken HTTP target (`blast serve --misbehave KIND`), for the fault suite: it
//! speaks raw TCP, reads each request's head and answers it wrongly in one known way, so that
//! tests can check that blast counts the failure by kind, neither panics nor hangs, and ends on
//! time with its report.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One way of answering wrongly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Misbehaviour {
    /// Bytes that are not HTTP at all.
    Garbage,
    /// A response head promising 1,000 body bytes, 5 of them, then close.
    Truncated,
    /// A status line followed by 200 KB of headers, never ending the head.
    HugeHeaders,
    /// A valid response written one byte every 100 ms.
    Slow,
    /// Close the connection with a TCP reset (SO_LINGER 0) instead of answering.
    Reset,
    /// Close the connection cleanly without answering.
    Close,
    /// Accept, read, never answer.
    Silent,
}

/// Serves `listener` with `kind` until the process ends.
pub async fn serve(listener: TcpListener, kind: Misbehaviour) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        tokio::spawn(async move {
            let _ = connection(stream, kind).await;
        });
    }
}

/// Reads until the end of a request head (bodies are small and read along with it).
async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.drain(..end + 4);
            return Ok(true);
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(false);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn connection(mut stream: TcpStream, kind: Misbehaviour) -> std::io::Result<()> {
    let mut buf = Vec::new();
    while read_request(&mut stream, &mut buf).await? {
        match kind {
            Misbehaviour::Garbage => stream.write_all(b"\x00\xff\x13garbage, not HTTP\r\n\r\n").await?,
            Misbehaviour::Truncated => {
                stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nshort").await?;
                return Ok(());
            }
            Misbehaviour::HugeHeaders => {
                stream.write_all(b"HTTP/1.1 200 OK\r\n").await?;
                let line = format!("X-Filler: {}\r\n", "x".repeat(1000));
                for _ in 0..200 {
                    stream.write_all(line.as_bytes()).await?;
                }
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            Misbehaviour::Slow => {
                for b in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" {
                    stream.write_all(&[*b]).await?;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            Misbehaviour::Reset => {
                let std = stream.into_std()?;
                socket_linger_zero(&std);
                drop(std);
                return Ok(());
            }
            Misbehaviour::Close => return Ok(()),
            Misbehaviour::Silent => tokio::time::sleep(Duration::from_secs(3600)).await,
        }
    }
    Ok(())
}

/// SO_LINGER with a zero timeout: closing sends RST instead of FIN.
fn socket_linger_zero(s: &std::net::TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: a valid socket descriptor and a correctly sized option value.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}
