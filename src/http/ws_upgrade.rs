//! The client side of the WebSocket opening handshake (RFC 6455 §4.1): the upgrade request
//! written, the `101 Switching Protocols` answer read and checked, and the stream handed to
//! tokio-tungstenite with whatever frames arrived behind the answer.
//!
//! It is ours rather than tungstenite's because of memory: tungstenite's handshake holds two
//! 4 KiB buffers and a parsed `http::Response` per connection while it is under way, and at
//! 10,000 connections opened at 10,000/s against a slow target thousands are under way at once
//! (blast's peak RSS rose from 81 to 98 MiB when the machine was busy). This one reads into one
//! small buffer that grows only for a long answer.

use crate::http::ws::ws_config;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;

/// The longest upgrade answer (status line and headers) read before giving up.
const MAX_ANSWER: usize = 16 * 1024;
/// Headers parsed in the answer.
const MAX_HEADERS: usize = 64;

/// Why an upgrade failed.
#[derive(Debug)]
pub enum UpgradeError {
    /// The server answered with another status than 101.
    Status(u16),
    /// The connection failed while upgrading.
    Io(std::io::Error),
    /// The answer was not a valid upgrade (names what was wrong).
    Protocol(&'static str),
}

impl From<std::io::Error> for UpgradeError {
    fn from(e: std::io::Error) -> Self {
        UpgradeError::Io(e)
    }
}

/// Upgrades `stream` (connected, TLS already done for wss) to a WebSocket: `GET path` with
/// `Host: authority` and the extra `headers`.
pub async fn upgrade<S>(
    mut stream: S,
    authority: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<WebSocketStream<S>, UpgradeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let key = generate_key();
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n"
    );
    for (name, value) in headers {
        if name.contains(['\r', '\n', ':']) || value.contains(['\r', '\n']) {
            return Err(UpgradeError::Protocol("header with a line break"));
        }
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;
    stream.flush().await?;
    drop(request);

    let mut buf: Vec<u8> = Vec::with_capacity(512);
    let head_len = loop {
        if buf.len() == buf.capacity() {
            if buf.len() >= MAX_ANSWER {
                return Err(UpgradeError::Protocol("upgrade answer too long"));
            }
            buf.reserve(buf.len());
        }
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(UpgradeError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        // httparse finds the end of the head (CRLF or, from lenient servers, bare LF lines).
        if let Some(end) = check_answer(&buf, &key)? {
            break end;
        }
    };
    let tail = buf.split_off(head_len);
    drop(buf);
    Ok(WebSocketStream::from_partially_read(stream, tail, Role::Client, Some(ws_config())).await)
}

/// Checks an upgrade answer read so far: `None` while its head is incomplete; once it is all
/// there, its length if it says status 101, `Upgrade: websocket`, `Connection: upgrade` and the
/// `Sec-WebSocket-Accept` that `key` calls for. The head is parsed once per read, not again to
/// check it.
fn check_answer(buf: &[u8], key: &str) -> Result<Option<usize>, UpgradeError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut answer = httparse::Response::new(&mut slots);
    let head_len = match answer.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(UpgradeError::Protocol("malformed upgrade answer")),
    };
    let code = answer.code.unwrap_or(0);
    if code != 101 {
        return Err(UpgradeError::Status(code));
    }
    let header = |name: &str| {
        answer
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
    };
    if !header("upgrade").is_some_and(|v| v.trim().eq_ignore_ascii_case("websocket")) {
        return Err(UpgradeError::Protocol("101 without Upgrade: websocket"));
    }
    // A list header may come as several lines.
    let upgrade_listed = answer
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("connection"))
        .filter_map(|h| std::str::from_utf8(h.value).ok())
        .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("upgrade")));
    if !upgrade_listed {
        return Err(UpgradeError::Protocol("101 without Connection: upgrade"));
    }
    if header("sec-websocket-accept").map(str::trim) != Some(derive_accept_key(key.as_bytes()).as_str()) {
        return Err(UpgradeError::Protocol("wrong Sec-WebSocket-Accept"));
    }
    Ok(Some(head_len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: &str, headers: &str) -> Vec<u8> {
        format!("HTTP/1.1 {status}\r\n{headers}\r\n").into_bytes()
    }

    #[test]
    fn a_proper_answer_passes_and_every_missing_part_is_named() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        // RFC 6455's own example of a key and its accept value.
        let accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
        let ok = format!("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n");
        assert!(matches!(check_answer(&answer("101 Switching Protocols", &ok), key), Ok(Some(_))));
        let lower =
            format!("upgrade: WebSocket\r\nconnection: keep-alive, upgrade\r\nsec-websocket-accept: {accept}\r\n");
        assert!(matches!(check_answer(&answer("101 Switching Protocols", &lower), key), Ok(Some(_))));
        assert!(matches!(
            check_answer(&answer("403 Forbidden", "Content-Length: 0\r\n"), key),
            Err(UpgradeError::Status(403))
        ));
        let no_upgrade = format!("Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n");
        assert!(matches!(
            check_answer(&answer("101 Switching Protocols", &no_upgrade), key),
            Err(UpgradeError::Protocol(_))
        ));
        let wrong = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAA\r\n";
        assert!(matches!(check_answer(&answer("101 Switching Protocols", wrong), key), Err(UpgradeError::Protocol(_))));
        assert!(matches!(check_answer(b"garbage\r\n\r\n", key), Err(UpgradeError::Protocol(_))));
        let split = format!(
            "Upgrade: websocket\r\nConnection: keep-alive\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n"
        );
        assert!(matches!(check_answer(&answer("101 Switching Protocols", &split), key), Ok(Some(_))));
        let bare_lf = format!("HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Accept: {accept}\n\nframe");
        assert_eq!(check_answer(bare_lf.as_bytes(), key).ok().flatten(), Some(bare_lf.len() - "frame".len()));
        assert!(matches!(check_answer(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: web", key), Ok(None)));
    }

    /// Frames the server sends in the same write as its 101 answer are not lost.
    #[test]
    fn frames_behind_the_answer_are_kept() {
        use futures_util::StreamExt;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let (client, mut server) = tokio::io::duplex(4096);
            let serve = async move {
                let mut request = Vec::new();
                while !request.ends_with(b"\r\n\r\n") {
                    let mut byte = [0u8; 1];
                    server.read_exact(&mut byte).await.expect("request byte");
                    request.push(byte[0]);
                }
                let text = String::from_utf8(request).expect("ascii request");
                let key = text.lines().find_map(|l| l.strip_prefix("Sec-WebSocket-Key: ")).expect("key").trim().to_string();
                let mut answer = format!(
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
                    derive_accept_key(key.as_bytes())
                )
                .into_bytes();
                answer.extend_from_slice(&[0x81, 5]); // one unmasked text frame, "hello"
                answer.extend_from_slice(b"hello");
                server.write_all(&answer).await.expect("answer");
                server
            };
            let (ws, _server) = tokio::join!(upgrade(client, "example.test", "/ws", &[("Authorization", "Bearer t")]), serve);
            let mut ws = ws.expect("upgraded");
            let next = tokio::time::timeout(std::time::Duration::from_secs(2), ws.next()).await;
            let first = next.expect("the frame behind the answer, not lost").expect("a message").expect("valid frame");
            assert_eq!(first.into_text().expect("text").as_str(), "hello");
        });
    }
}
