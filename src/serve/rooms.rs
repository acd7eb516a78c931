//! Conversation rooms of the embedded target's WebSocket endpoint: who is subscribed where,
//! fan-out of a published message to every subscriber, laid out as `Layout` says, and what the
//! server measured of it (`GET /stats/broadcasts`: from a message's arrival to its frame written
//! on each subscriber's socket, so tests judge a client's delivery figures against it).

use hdrhistogram::Histogram;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Instant;
use tokio::sync::mpsc::UnboundedSender;
use tokio_tungstenite::tungstenite::Message;

/// A frame for a subscriber and when the message it carries arrived at the server.
pub type Outbound = (Instant, Message);

/// The subscribers of one room: connection id and its outbound queue.
type Members = Vec<(u64, UnboundedSender<Outbound>)>;

/// How a published message reaches the subscribers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Layout {
    /// As it was posted or published.
    #[default]
    Blast,
    /// As a chat service stamps and forwards it: `{"event":"message.created","data":{"id":
    /// "srv-N","conversation_id":ROOM,"client_msg_id":STRING,"sent_at":MS}}`, the client's
    /// `client_msg_id` (made a string) and `sent_at` (ms) copied from what it posted.
    Chat,
}

pub struct Rooms {
    /// Written by subscribe and leave; read by publish, which queues a message to every member
    /// while it holds the lock: once `leave` returns, nothing more is queued to that connection.
    rooms: RwLock<HashMap<String, Members>>,
    /// Subscriptions in all rooms; lets `POST /v1/messages` skip JSON parsing when nobody listens.
    subscriptions: AtomicUsize,
    layout: Layout,
    /// Messages laid out as `Chat` so far (their server ids).
    stamped: AtomicU64,
    /// Per delivery, µs from the message's arrival to its frame written to the subscriber.
    served: Mutex<Histogram<u64>>,
    /// Connections closed with 4401 because their token expired.
    expired_closes: AtomicU64,
}

impl Default for Rooms {
    fn default() -> Self {
        Rooms::new(Layout::Blast)
    }
}

impl Rooms {
    pub fn new(layout: Layout) -> Rooms {
        Rooms {
            rooms: RwLock::default(),
            subscriptions: AtomicUsize::new(0),
            layout,
            stamped: AtomicU64::new(0),
            served: Mutex::new(Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("constant bounds are valid")),
            expired_closes: AtomicU64::new(0),
        }
    }

    /// A frame of a message that arrived at `arrived` was written to a subscriber.
    pub fn written(&self, arrived: Instant) {
        let us = (arrived.elapsed().as_micros() as u64).max(1);
        self.served.lock().unwrap_or_else(|e| e.into_inner()).saturating_record(us);
    }

    /// A connection was closed with 4401 because its token expired.
    pub fn expired_closed(&self) {
        self.expired_closes.fetch_add(1, Ordering::Relaxed);
    }

    /// `GET /stats/broadcasts`: deliveries written and their time in the server (ms), and the
    /// connections closed for an expired token (`expired_closes`).
    pub fn stats_json(&self) -> String {
        let h = self.served.lock().unwrap_or_else(|e| e.into_inner());
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        serde_json::json!({
            "deliveries": h.len(),
            "expired_closes": self.expired_closes.load(Ordering::Relaxed),
            "server_ms": {"p50": ms(0.5), "p90": ms(0.9), "p99": ms(0.99), "max": h.max() as f64 / 1000.0},
        })
        .to_string()
    }

    /// `text` (a JSON message) as the subscribers of `room` receive it.
    fn lay_out(&self, room: &str, text: &str) -> String {
        match self.layout {
            Layout::Blast => text.to_string(),
            Layout::Chat => {
                let v = serde_json::from_str::<serde_json::Value>(text).unwrap_or_default();
                let client_id = match v.get("client_msg_id") {
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                let id = self.stamped.fetch_add(1, Ordering::Relaxed) + 1;
                serde_json::json!({"event": "message.created", "data": {
                    "id": format!("srv-{id}"),
                    "conversation_id": room,
                    "client_msg_id": client_id,
                    "sent_at": v.get("sent_at").cloned().unwrap_or_default(),
                    "body": v.get("body").cloned().unwrap_or_default(),
                }})
                .to_string()
            }
        }
    }

    pub fn subscribe(&self, room: &str, conn: u64, tx: UnboundedSender<Outbound>) {
        let mut rooms = self.rooms.write().unwrap_or_else(|e| e.into_inner());
        let members = rooms.entry(room.to_string()).or_default();
        if !members.iter().any(|(id, _)| *id == conn) {
            members.push((conn, tx));
            self.subscriptions.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Removes connection `conn` from every room in `joined`: no message is queued to it after.
    pub fn leave(&self, joined: &[String], conn: u64) {
        if joined.is_empty() {
            return;
        }
        let mut rooms = self.rooms.write().unwrap_or_else(|e| e.into_inner());
        for room in joined {
            if let Some(members) = rooms.get_mut(room) {
                let before = members.len();
                members.retain(|(id, _)| *id != conn);
                self.subscriptions.fetch_sub(before - members.len(), Ordering::Relaxed);
                if members.is_empty() {
                    rooms.remove(room);
                }
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.subscriptions.load(Ordering::Relaxed) == 0
    }

    /// Sends `text` (arrived at `arrived`) to every subscriber of `room`; returns how many it
    /// was queued for. Laid out and queued under one read lock (publishers do not wait for each
    /// other, and a connection that left gets nothing).
    pub fn publish(&self, room: &str, text: &str, arrived: Instant) -> usize {
        let rooms = self.rooms.read().unwrap_or_else(|e| e.into_inner());
        let Some(members) = rooms.get(room) else { return 0 };
        let msg = Message::text(self.lay_out(room, text));
        members.iter().filter(|(_, tx)| tx.send((arrived, msg.clone())).is_ok()).count()
    }
}
