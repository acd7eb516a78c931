//! The embedded target's `/ws` endpoint: subscribe to conversations, receive every message
//! POSTed to them, answer app-level pings; WebSocket pings are answered by tungstenite.
//!
//! Protocol (JSON text frames):
//! - client `{"type":"subscribe","conversation_id":"room-1"}` -> server `{"type":"subscribed","conversation_id":"room-1"}`
//! - client `{"type":"ping"}` -> server `{"type":"pong"}`
//! - client `{"type":"publish","conversation_id":...}` -> the frame is broadcast to the room
//! - `POST /v1/messages` with a `conversation_id` -> the body is broadcast to that room.
//!
//! Each frame written to a subscriber is timed from its message's arrival (`Rooms::written`).
//! A connection opened with a token that expires is closed at the expiry with 4401
//! (`close_expired`), counted in `GET /stats/broadcasts` as `expired_closes`.

use crate::http::ws::ws_config;
use crate::serve::rooms::{Outbound, Rooms};
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// Fault: at `at` after the server started, connections with an even id are dropped abruptly.
#[derive(Clone, Copy, Debug)]
pub struct DropHalf {
    pub at: Duration,
}

/// Close code of a connection whose token expired (the application range's "401").
pub const EXPIRED_CLOSE: u16 = 4401;

/// How long an expired connection waits for the client's answering close.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// What ends a connection at a set instant, if anything does.
#[derive(Clone, Copy, Debug)]
pub enum Ends {
    Never,
    /// The drop fault: abruptly, no close frame, as when a server process dies.
    Dropped(Instant),
    /// Its token expires: a close frame 4401 "token expired".
    Expires(Instant),
}

impl Ends {
    /// Whichever comes first of a drop at `drop_at` and the token's expiry at `expires`.
    pub fn first(drop_at: Option<Instant>, expires: Option<Instant>) -> Ends {
        match (drop_at, expires) {
            (Some(d), Some(e)) if e < d => Ends::Expires(e),
            (Some(d), _) => Ends::Dropped(d),
            (None, Some(e)) => Ends::Expires(e),
            (None, None) => Ends::Never,
        }
    }
}

/// Serves one upgraded connection until either side closes it, or until `ends` says.
pub async fn session(upgraded: Upgraded, id: u64, rooms: Arc<Rooms>, ends: Ends) {
    let mut ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(ws_config())).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Outbound>();
    let mut joined: Vec<String> = Vec::new();
    // One timer whatever ends the connection: without a fault or a TTL it never fires.
    let deadline = async move {
        match ends {
            Ends::Dropped(at) | Ends::Expires(at) => tokio::time::sleep_until(at.into()).await,
            Ends::Never => std::future::pending::<()>().await,
        }
    };
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            incoming = ws.next() => {
                let Some(Ok(msg)) = incoming else { break };
                let Message::Text(text) = msg else { continue };
                if let Some(reply) = on_client_text(text.as_str(), id, &rooms, &tx, &mut joined) {
                    if ws.send(Message::text(reply)).await.is_err() { break; }
                }
            }
            out = rx.recv() => {
                let Some((arrived, msg)) = out else { break };
                if ws.send(msg).await.is_err() { break; }
                rooms.written(arrived);
            }
            _ = &mut deadline => {
                if matches!(ends, Ends::Expires(_)) {
                    close_expired(&mut ws, &mut rx, id, &rooms, &mut joined).await;
                }
                break;
            }
        }
    }
    rooms.leave(&joined, id);
}

/// Closes a connection whose token expired, as chat services do: it leaves its rooms first,
/// then every message queued for it before that is written, then the close frame 4401 "token
/// expired" (counted); so a message published before the close is delivered, and none after.
/// Until the client answers the close (at most `CLOSE_WAIT`), what it published before it saw
/// the close is still broadcast.
async fn close_expired(
    ws: &mut WebSocketStream<TokioIo<Upgraded>>,
    rx: &mut Inbox,
    id: u64,
    rooms: &Rooms,
    joined: &mut Vec<String>,
) {
    rooms.leave(joined, id);
    joined.clear();
    rx.close();
    while let Ok((arrived, msg)) = rx.try_recv() {
        if ws.send(msg).await.is_err() {
            return;
        }
        rooms.written(arrived);
    }
    let frame = CloseFrame { code: CloseCode::from(EXPIRED_CLOSE), reason: "token expired".into() };
    if ws.send(Message::Close(Some(frame))).await.is_err() {
        return;
    }
    rooms.expired_closed();
    let answered = async {
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Text(text) = msg {
                publish_only(text.as_str(), rooms);
            }
        }
    };
    let _ = tokio::time::timeout(CLOSE_WAIT, answered).await;
}

/// The queue of frames for one connection.
type Inbox = tokio::sync::mpsc::UnboundedReceiver<Outbound>;

/// Broadcasts `text` if it is a `{"type":"publish","conversation_id":...}` frame; any other
/// frame of a closing connection is ignored.
fn publish_only(text: &str, rooms: &Rooms) {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else { return };
    let room = v.get("conversation_id").and_then(|c| c.as_str()).unwrap_or_default();
    if v.get("type").and_then(|t| t.as_str()) == Some("publish") && !room.is_empty() {
        rooms.publish(room, text, Instant::now());
    }
}

/// Handles one text frame from a client; returns the reply to send, if any.
fn on_client_text(
    text: &str,
    id: u64,
    rooms: &Rooms,
    tx: &tokio::sync::mpsc::UnboundedSender<Outbound>,
    joined: &mut Vec<String>,
) -> Option<String> {
    let v = serde_json::from_str::<serde_json::Value>(text).ok()?;
    let room = v.get("conversation_id").and_then(|c| c.as_str()).unwrap_or_default();
    match v.get("type").and_then(|t| t.as_str()) {
        Some("subscribe") if !room.is_empty() => {
            rooms.subscribe(room, id, tx.clone());
            joined.push(room.to_string());
            Some(serde_json::json!({"type": "subscribed", "conversation_id": room}).to_string())
        }
        Some("ping") => Some(r#"{"type":"pong"}"#.to_string()),
        Some("publish") if !room.is_empty() => {
            rooms.publish(room, text, Instant::now());
            None
        }
        _ => None,
    }
}
