//! Turning a connected TCP stream into an HTTP connection: `TCP_NODELAY` (requests are small
//! and latency-bound) and, for `https`/`wss`, the TLS handshake.

use crate::tls::{ClientTls, Stream};
use tokio::net::TcpStream;

/// Why a connection could not be made ready.
#[derive(Debug)]
pub enum SecureError {
    /// The TLS handshake itself failed (certificate, protocol).
    Tls(std::io::Error),
    /// The transport failed during the handshake.
    Io(std::io::Error),
}

/// Sets `TCP_NODELAY` and, with `tls` (the client and the name the certificate must carry),
/// runs the TLS handshake.
pub async fn secure(stream: TcpStream, tls: Option<(&ClientTls, &str)>) -> Result<Stream, SecureError> {
    let _ = stream.set_nodelay(true);
    match tls {
        None => Ok(Stream::Plain(stream)),
        Some((tls, host)) => tls.connect(host, stream).await.map_err(|e| {
            if crate::tls::is_handshake_error(&e) {
                SecureError::Tls(e)
            } else {
                SecureError::Io(e)
            }
        }),
    }
}
