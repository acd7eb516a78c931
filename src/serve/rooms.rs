//! Conversation rooms of the embedded target's WebSocket endpoint: who is subscribed where,
//! and fan-out of a published message to every subscriber.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use tokio::sync::mpsc::UnboundedSender;
use tokio_tungstenite::tungstenite::Message;

/// The subscribers of one room: connection id and its outbound queue.
type Members = Vec<(u64, UnboundedSender<Message>)>;

#[derive(Default)]
pub struct Rooms {
    rooms: Mutex<HashMap<String, Members>>,
    /// Subscriptions in all rooms; lets `POST /v1/messages` skip JSON parsing when nobody listens.
    subscriptions: AtomicUsize,
}

impl Rooms {
    pub fn subscribe(&self, room: &str, conn: u64, tx: UnboundedSender<Message>) {
        let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        let members = rooms.entry(room.to_string()).or_default();
        if !members.iter().any(|(id, _)| *id == conn) {
            members.push((conn, tx));
            self.subscriptions.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Removes connection `conn` from every room in `joined`.
    pub fn leave(&self, joined: &[String], conn: u64) {
        let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
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

    /// Sends `text` to every subscriber of `room`; returns how many it was queued for.
    pub fn publish(&self, room: &str, text: &str) -> usize {
        let members: Vec<UnboundedSender<Message>> = {
            let rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
            match rooms.get(room) {
                Some(m) => m.iter().map(|(_, tx)| tx.clone()).collect(),
                None => return 0,
            }
        };
        let msg = Message::text(text.to_string());
        members.iter().filter(|tx| tx.send(msg.clone()).is_ok()).count()
    }
}
