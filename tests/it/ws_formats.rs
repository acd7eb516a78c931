//! `blast ws` against servers whose message layout is not blast's own: websocat (a WebSocket
//! relay not written here, started by the test), and `blast serve --ws-layout chat` (string ids,
//! millisecond timestamps) with a known broadcast delay.

use crate::common::websocat::Relay;
use crate::common::*;

#[test]
fn websocat_relay_with_string_ids_and_ms_timestamps_delivers_exactly_the_expected() {
    // Shared: exact counts; p50 under 100 ms.
    let _g = light();
    let relay = Relay::start();
    let target = format!("ws://127.0.0.1:{}/", relay.port);
    let r = blast(&ws_probe_args(
        &target,
        "20",
        "2s",
        "10/s",
        &[
            "--connect-rate",
            "1000/s",
            "--probe-via",
            "ws",
            "--subscribe",
            "",
            "--publish",
            r#"{"kind":"chat","msg":{"cid":"probe-{{probe_id}}","ts_ms":{{sent_at_ms}},"nonce":"{{uuid}}"}}"#,
            "--probe-id-pointer",
            "/msg/cid",
            "--probe-ts-pointer",
            "/msg/ts_ms",
            "--probe-ts-unit",
            "ms",
        ],
    ));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json.expect("report");
    assert_eq!(f(&j, "/connections/established"), 20.0);
    // 20 probes to one room of 20: 400 deliveries. The relay also echoes each probe to its
    // publisher, which is no subscriber: counted nowhere (unexpected stays 0).
    assert_eq!(f(&j, "/probes/sent"), 20.0, "{}", r.stdout);
    assert_eq!(f(&j, "/probes/expected_deliveries"), 400.0, "{}", r.stdout);
    assert_eq!(f(&j, "/probes/delivered"), 400.0, "{}", r.stdout);
    assert_eq!(f(&j, "/probes/missing"), 0.0);
    assert_eq!(f(&j, "/probes/unexpected"), 0.0);
    assert_eq!(f(&j, "/probes/duplicates"), 0.0);
    assert_eq!(f(&j, "/delivery_ms/count"), 400.0);
    assert!(f(&j, "/delivery_ms/p50") < 100.0, "{}", r.stdout);
}

#[test]
fn messages_without_a_probe_are_other_messages() {
    // Shared: counts.
    let _g = light();
    let relay = Relay::start();
    let target = format!("ws://127.0.0.1:{}/", relay.port);
    // Each of the 10 connections says hello once; the relay sends every hello to all 10 (and
    // to the publisher): 100 messages that carry no probe, besides the 10 x 10 probes.
    let r = blast(&ws_probe_args(
        &target,
        "10",
        "1s",
        "10/s",
        &[
            "--probe-via",
            "ws",
            "--subscribe",
            r#"{"hello":"conn-{{conn}}"}"#,
            "--subscribe-ack",
            "none",
            "--publish",
            r#"{"id":{{probe_id}},"t":"{{sent_at_iso}}"}"#,
            "--probe-id-pointer",
            "/id",
            "--probe-ts-pointer",
            "/t",
            "--probe-ts-unit",
            "iso8601",
        ],
    ));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json.expect("report");
    assert_eq!(f(&j, "/probes/delivered"), 100.0, "{}", r.stdout);
    assert_eq!(f(&j, "/probes/expected_deliveries"), 100.0, "{}", r.stdout);
    // Hellos sent before a later connection joined do not reach it: at most 100.
    let other = f(&j, "/probes/other_messages");
    assert!((45.0..=100.0).contains(&other), "other {other}\n{}", r.stdout);
    assert!(r.stdout.contains("unexpected = receipts of a probe"), "{}", r.stdout);
}

#[test]
fn serve_chat_layout_measures_a_20ms_broadcast_delay_within_3ms() {
    // Exclusive: delivery p50 within 3 ms of the server's.
    let _g = exclusive();
    let server = Server::start(&["--broadcast-delay", "20ms", "--ws-layout", "chat"]);
    let target = server.ws_url();
    let r = blast(&ws_probe_args(
        &target,
        "50",
        "3s",
        "10/s",
        &[
            "--probe-body",
            r#"{"conversation_id":"{{room}}","client_msg_id":"c-{{probe_id}}","sent_at":{{sent_at_ms}},"body":"hi"}"#,
            "--probe-id-pointer",
            "/data/client_msg_id",
            "--probe-ts-pointer",
            "/data/sent_at",
            "--probe-ts-unit",
            "ms",
        ],
    ));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json.expect("report");
    assert_eq!(f(&j, "/probes/sent"), 30.0, "{}", r.stdout);
    assert_eq!(f(&j, "/probes/delivered"), 1500.0, "{}", r.stdout);
    assert_eq!(f(&j, "/probes/delivered"), f(&j, "/probes/expected_deliveries"));
    // The server holds each message 20 ms. Judged against what the server says it did (from
    // the message's arrival to the frame written on each subscriber, its scheduling delays on a
    // busy machine included): blast adds the POST's way in, the frame's way back and the ms
    // timestamp's truncation (up to 1 ms), within 3 ms in all.
    let p50 = f(&j, "/delivery_ms/p50");
    let served = server.json("GET", "/stats/broadcasts", None);
    let server_p50 = served["server_ms"]["p50"].as_f64().expect("server p50");
    assert_eq!(served["deliveries"], 1500);
    assert!(server_p50 >= 20.0, "the server held {server_p50} ms");
    assert!(p50 >= 20.0 && p50 >= server_p50 - 0.1, "delivery p50 {p50} ms, server {server_p50} ms\n{}", r.stdout);
    assert!(p50 - server_p50 <= 3.0, "delivery p50 {p50} ms, server {server_p50} ms\n{}", r.stdout);
}

#[test]
fn probes_timed_by_blast_when_messages_carry_no_timestamp() {
    // Exclusive: delivery p50 within 3 ms of the server's.
    let _g = exclusive();
    let server = Server::start(&["--broadcast-delay", "20ms", "--ws-layout", "chat"]);
    let target = server.ws_url();
    let r = blast(&ws_probe_args(
        &target,
        "20",
        "2s",
        "10/s",
        &[
            "--probe-body",
            r#"{"conversation_id":"{{room}}","client_msg_id":"{{probe_id}}"}"#,
            "--probe-id-pointer",
            "/data/client_msg_id",
            "--probe-ts-pointer",
            "none",
        ],
    ));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json.expect("report");
    assert_eq!(f(&j, "/probes/delivered"), 400.0, "{}", r.stdout);
    assert_eq!(f(&j, "/delivery_ms/count"), 400.0, "{}", r.stdout);
    // Timed from blast's own send time (µs): against the server's own figure, as above.
    let p50 = f(&j, "/delivery_ms/p50");
    let server_p50 = server.json("GET", "/stats/broadcasts", None)["server_ms"]["p50"].as_f64().expect("server p50");
    assert!(p50 >= server_p50 - 0.1 && p50 - server_p50 <= 3.0, "delivery p50 {p50} ms, server {server_p50} ms");
}

#[test]
fn a_wrong_pointer_is_diagnosed_with_a_received_message() {
    // Shared: a diagnosis, text.
    let _g = light();
    let server = Server::start(&[]);
    let target = server.ws_url();
    let r = blast(&ws_probe_args(&target, "10", "1s", "10/s", &["--probe-id-pointer", "/message/id"]));
    assert_eq!(r.code, 1, "{}", r.stdout);
    let j = r.json.expect("report");
    assert_eq!(f(&j, "/probes/delivered"), 0.0);
    assert_eq!(f(&j, "/probes/other_messages"), 100.0, "{}", r.stdout);
    let warnings = j["warnings"].to_string();
    assert!(warnings.contains("--probe-id-pointer /message/id"), "{warnings}");
    assert!(warnings.contains("probe_id"), "a received message is shown: {warnings}");
}
