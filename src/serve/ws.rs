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

use crate::http::ws::ws_config;
use crate::serve::rooms::{Outbound, Rooms};
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// Fault: at `at` after the server started, connections with an even id are dropped abruptly.
#[derive(Clone, Copy, Debug)]
pub struct DropHalf {
    pub at: Duration,
}

/// Serves one upgraded connection until either side closes it.
pub async fn session(upgraded: Upgraded, id: u64, rooms: Arc<Rooms>, drop_at: Option<Instant>) {
    let mut ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(ws_config())).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Outbound>();
    let mut joined: Vec<String> = Vec::new();
    let drop_sleep = async move {
        match drop_at {
            Some(at) if id.is_multiple_of(2) => tokio::time::sleep_until(at.into()).await,
            _ => std::future::pending::<()>().await,
        }
    };
    tokio::pin!(drop_sleep);
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
            _ = &mut drop_sleep => {
                // Abrupt: no close frame, as when a server process dies.
                break;
            }
        }
    }
    rooms.leave(&joined, id);
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
