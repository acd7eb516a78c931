//! HTTP pieces shared by the generators (api, ws probes and handshakes, upload) and, for the
//! WebSocket settings, the embedded target. Nothing here knows a workload.
//!
//! - `target`: an `http(s)://` URL parsed and resolved.
//! - `codec`: the sans-IO HTTP/1.1 response decoder.
//! - `conn`: a connected TCP stream made ready for HTTP (no Nagle, TLS when asked).
//! - `cookies`: a virtual user's cookie jar (`Set-Cookie` in, `Cookie` out).
//! - `redirect`: following a 3xx as requests does (method, `Location`, the next head).
//! - `request_rules`: the methods and headers a user may write into a request.
//! - `ws`: the WebSocket protocol settings both sides use.
//! - `ws_upgrade`: the client side of the WebSocket opening handshake.
//! - `transport`: the stream under an HTTP connection, epoll or io_uring (`uring`); `idle`:
//!   whether a kept connection's socket is idle (one peek).

pub mod codec;
pub mod conn;
pub mod cookies;
pub mod idle;
pub mod redirect;
pub mod request_rules;
pub mod target;
pub mod transport;
pub mod uring;
pub mod ws;
pub mod ws_upgrade;

pub use codec::{CodecError, ResponseDecoder};
pub use conn::{secure, SecureError};
pub use target::HttpTarget;
