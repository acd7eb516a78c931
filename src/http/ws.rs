//! The WebSocket protocol settings shared by the ws workload (client) and `blast serve`
//! (server), so that both ends agree on frame and buffer limits.

use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Small buffers: the target holds 10K connections, and so does the generator.
pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(1024).write_buffer_size(0).max_message_size(Some(1 << 20))
}
