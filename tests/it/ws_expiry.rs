//! Tokens that expire while a WebSocket is open: `blast serve --require-auth --token-ttl D`
//! closes such a connection at the expiry with 4401 (seen by a Python client blast did not
//! write, and counted by serve), and a `ws` profile whose login is written inline (`[data]`,
//! `[[on_start]]`, `[upgrade]`) logs every connection in again and keeps every delivery
//! accounted: blast's logins, auth closes and deliveries equal what serve counted.

use crate::common::uvicorn::python;
use crate::common::*;
use std::path::Path;

/// `users.csv` with `n` users `user0..` in `dir`.
fn users(dir: &Path, n: usize) {
    let rows: String = (0..n).map(|i| format!("user{i},pw-{i}\n")).collect();
    std::fs::write(dir.join("users.csv"), format!("name,password\n{rows}")).expect("users.csv");
}

fn n(j: &serde_json::Value, pointer: &str) -> u64 {
    j.pointer(pointer).and_then(|v| v.as_u64()).unwrap_or_else(|| panic!("no count at {pointer} in {j}"))
}

/// Logs in, opens `/ws?token=...`, subscribes and prints the close frame's code and reason.
const CLOSE_CODE: &str = r#"
import json, sys, urllib.request, websocket
addr = sys.argv[1]
req = urllib.request.Request("http://%s/auth/login" % addr, method="POST",
    data=json.dumps({"username": "py", "password": "x"}).encode(), headers={"Content-Type": "application/json"})
token = json.load(urllib.request.urlopen(req))["access_token"]
ws = websocket.create_connection("ws://%s/ws?token=%s" % (addr, token), timeout=15)
ws.send(json.dumps({"type": "subscribe", "conversation_id": "py"}))
while True:
    op, data = ws.recv_data(control_frame=True)
    if op == websocket.ABNF.OPCODE_CLOSE:
        print(int.from_bytes(data[:2], "big"), data[2:].decode())
        break
"#;

/// `blast ws --login FILE` on tokens of 3 s held 4 s: each of 5 connections is closed with
/// 4401 once (a Python client sees the code and reason), logs in again, and blast's logins and
/// auth closes are serve's.
#[test]
fn an_expired_token_closes_the_connection_with_4401_and_blast_logs_in_again() {
    // Shared: exact counts at a low rate; the second expiry (6 s) is 1 s past the run's end.
    let _g = light();
    let server = Server::start(&["--require-auth", "--token-ttl", "3s"]);
    let dir = ReportDir::new("ws-expiry");
    users(&dir.0, 5);
    let file = dir.0.join("login.toml");
    std::fs::write(&file, SERVE_LOGIN).expect("login.toml");
    let script = dir.0.join("close_code.py");
    std::fs::write(&script, CLOSE_CODE).expect("script");
    let client = std::process::Command::new(python())
        .arg(&script)
        .arg(&server.addr)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python");
    let target = server.ws_url();
    let login = file.to_str().expect("path");
    let r = blast(&ws_probe_args(&target, "5", "4s", "0", &["--login", login, "--cores", "1"]));
    let out = client.wait_with_output().expect("python");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.trim(), "4401 token expired", "{stderr}");
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json.as_ref().expect("report");
    let broadcasts = server.json("GET", "/stats/broadcasts", None);
    let logins = server.json("GET", "/stats/logins", None);
    // The Python client's connection and each of blast's 5, once.
    assert_eq!(n(&broadcasts, "/expired_closes"), 6, "{broadcasts}");
    assert_eq!(n(j, "/logins/auth_closes"), 5, "{}", j["logins"]);
    assert_eq!(n(j, "/logins/relogins"), 5, "{}", j["logins"]);
    assert_eq!(n(j, "/logins/ok"), 10, "{}", j["logins"]);
    assert_eq!(n(&logins, "/total"), 11, "blast's 10 and the client's: {logins}");
    for i in 0..5 {
        assert_eq!(n(&logins, &format!("/users/user{i}")), 2, "{logins}");
    }
    assert_eq!(n(j, "/connections/established"), 10, "{}", j["connections"]);
    assert_eq!(n(j, "/connections/dropped"), 0, "{}", j["connections"]);
}

/// The flags that scale the shipped profile `chat4all-ws-login` to the two tests below (on
/// tokens of 7 s): held 10 s, 10 probes/s, no heartbeat, one core, and an SLA that holds
/// however busy the machine.
fn scaled(target: &str) -> [&str; 12] {
    [
        "--target",
        target,
        "--duration",
        "10s",
        "--probe-rate",
        "10/s",
        "--heartbeat",
        "0s",
        "--cores",
        "1",
        "--sla",
        "success>99%",
    ]
}

/// The shipped profile `chat4all-ws-login` (1,000 connections in 10 rooms, each logged in by
/// the profile's own `[[on_start]]` as its row of `profiles/data/users.csv`, the token in the
/// upgrade's query by its `[upgrade]`; probes published as frames on a WebSocket of blast's own,
/// whose login expires too) on `blast serve --require-auth --token-ttl 7s` held 10 s: serve closes
/// each with 4401 once (7 s after its login, during the ramp's second or in the hold's first 7 s;
/// the next expiry, 14 s after the ramp at the earliest, is past the end), it logs in again and
/// resubscribes; every delivery serve wrote is one blast counted, and none is missing: probes on
/// their way at a close are accounted as cut off by it, and probes sent while a connection
/// logged in again are not expected from it.
#[test]
fn a_ws_profile_with_an_inline_login_survives_token_expiry_with_every_delivery_counted() {
    // Shared: exact counts judged against serve's, at 10 probes/s; timing only in the TTL's
    // margins. The hold (--duration) begins once every connection is up, each logged in during
    // the ramp of R s before it: the first expiries come in the hold's first 7 s (3 s before its
    // end for the relogins), the second ones 14 - R s into the hold at the earliest, past its
    // 10 s end for a ramp of 1 s where 4 s would still hold. (With tokens of 10 s held 14 s this
    // took 4 s more for the same counts; 10 probes/s, not 5, keep 60 probes or more sent.)
    let _g = moderate();
    let server = Server::start(&["--require-auth", "--token-ttl", "7s"]);
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/profiles/chat4all-ws-login.toml");
    let target = server.ws_url();
    // Scaled to the test: 10 s, no heartbeat, one core; an SLA that holds however busy the machine.
    let r = blast(&[&["run", file][..], &scaled(&target)[..]].concat());
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json.as_ref().expect("report");
    let broadcasts = server.json("GET", "/stats/broadcasts", None);
    let logins = server.json("GET", "/stats/logins", None);
    let (l, c, p) = (&j["logins"], &j["connections"], &j["probes"]);
    // Every connection: one login, one 4401 close, one login again, one more connection.
    assert_eq!(n(l, "/auth_closes"), 1000, "{l}");
    assert_eq!(n(l, "/relogins"), 1000, "{l}");
    assert_eq!(n(l, "/upgrades_refused"), 0, "{l}");
    assert!(l["failed"].as_object().is_some_and(|m| m.is_empty()), "{l}");
    assert_eq!((n(c, "/established"), n(c, "/dropped")), (2000, 0), "{c}");
    assert!(c["failed"].as_object().is_some_and(|m| m.is_empty()), "{c}");
    // The publisher logs in as user 0 each time it opens (its reopenings are probe reconnects).
    let publisher = 1 + n(p, "/reconnects");
    assert_eq!(n(l, "/ok"), 2000 + publisher, "{l}");
    assert_eq!(n(&logins, "/total"), n(l, "/ok"), "{logins}\n{l}");
    for i in 1..1000 {
        assert_eq!(n(&logins, &format!("/users/user{i:05}")), 2, "user{i:05}: {logins}");
    }
    assert_eq!(n(&logins, "/users/user00000"), 2 + publisher, "{logins}");
    // serve's 4401 closes: blast's auth closes and the publisher's, which expired once.
    assert!(publisher >= 2, "the publisher's token expired too: {p}");
    assert_eq!(n(&broadcasts, "/expired_closes"), 1000 + publisher - 1, "{broadcasts}\n{p}");
    // Deliveries: all sent, each written by serve received and expected, none missing.
    assert!(n(p, "/sent") >= 60, "{p}");
    assert_eq!(n(p, "/failed_to_send"), 0, "{p}");
    assert_eq!(n(p, "/delivered"), n(&broadcasts, "/deliveries"), "{p}\n{broadcasts}");
    assert_eq!(n(p, "/expected_deliveries"), n(p, "/delivered"), "{p}");
    assert_eq!((n(p, "/missing"), n(p, "/unexpected"), n(p, "/duplicates")), (0, 0, 0), "{p}");
    // The deliveries of the probes sent while connections were open: at most one per probe and
    // connection in its room (100), less those missed while logging in again and those cut off.
    assert!(n(p, "/delivered") + n(p, "/cut_off_by_auth_close") <= n(p, "/sent") * 100, "{p}");
    assert!(n(p, "/delivered") >= n(p, "/sent") * 100 / 2, "most probes reach all 100 in their room: {p}");
    assert!(r.stdout.contains("closed for auth 1000"), "{}", r.stdout);
}

/// A ws profile's login tables: mistakes are one `file:line: field` line, exit 2, nothing sent.
#[test]
fn bad_inline_logins_exit_2_with_file_line_and_field() {
    let dir = ReportDir::new("ws-inline-usage");
    let head = "workload = \"ws\"\n[args]\ntarget = \"ws://127.0.0.1:9/ws\"\nconns = 1\nduration = \"1s\"\n";
    let check = |name: &str, tail: &str, want: &str| {
        let file = dir.0.join(name);
        std::fs::write(&file, format!("{head}{tail}")).expect("write");
        let (code, stderr) = blast_plain(&["run", file.to_str().expect("path")]);
        assert_eq!(code, 2, "{name}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{name}: {stderr}");
        assert!(stderr.contains(&format!("{}{want}", file.display())), "{name}: {stderr}");
    };
    let on_start = "[[on_start]]\npath = \"/auth/login\"\ncapture = { token = \"/t\" }\n";
    check("request.toml", &format!("{on_start}[[request]]\npath = \"/b\"\n"), ":9: field 'request'");
    check(
        "upgrade-var.toml",
        &format!("{on_start}[upgrade]\nquery = {{ token = \"{{{{jwt}}}}\" }}\n"),
        ":9: field 'upgrade'",
    );
    check("no-steps.toml", "[upgrade]\nquery = { token = \"x\" }\n", ":1: field 'on_start'");
    check("twice.toml", &format!("login = \"login.toml\"\n{on_start}"), ":6: field 'login'");
    check("tokens.toml", &format!("tokens = \"tokens.txt\"\n{on_start}"), ":6: field 'tokens'");
    let api = dir.0.join("api.toml");
    std::fs::write(&api, "workload = \"api\"\n[[request]]\npath = \"/\"\n[upgrade]\nquery = { t = \"x\" }\n")
        .expect("write");
    let (code, stderr) = blast_plain(&["run", api.to_str().expect("path")]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(&format!("{}:4: field 'upgrade'", api.display())), "{stderr}");
}

/// The same profile with HTTP probes (`--probe-via http`, `POST /v1/messages`): each probe is
/// sent as the next logged-in user with its own bearer token, so probes go on past the expiry
/// (a probe refused because its user's token expired makes that user log in again and is sent
/// once more). Every probe is one serve let through, each as a different user (about 100 probes
/// over 1,000 users in turn); blast's logins, the connections' and the probes', are serve's.
#[test]
fn http_probes_of_a_login_run_are_sent_as_the_users_in_turn_past_the_expiry() {
    // Shared: exact counts judged against serve's, at 10 probes/s, as the test above (the same
    // tokens of 7 s held 10 s).
    let _g = moderate();
    let server = Server::start(&["--require-auth", "--token-ttl", "7s"]);
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/profiles/chat4all-ws-login.toml");
    let target = server.ws_url();
    let r = blast(&[&["run", file, "--probe-via", "http"][..], &scaled(&target)[..]].concat());
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json.as_ref().expect("report");
    let broadcasts = server.json("GET", "/stats/broadcasts", None);
    let logins = server.json("GET", "/stats/logins", None);
    let (l, p) = (&j["logins"], &j["probes"]);
    assert_eq!((n(l, "/auth_closes"), n(l, "/relogins"), n(l, "/upgrades_refused")), (1000, 1000, 0), "{l}");
    assert!(l["failed"].as_object().is_some_and(|m| m.is_empty()), "{l}");
    // Logins: each connection's two, and one per probe its user's expired token had refused.
    let again = n(l, "/probe_relogins");
    assert_eq!(n(l, "/ok"), 2000 + again, "{l}");
    assert_eq!(n(&logins, "/total"), n(l, "/ok"), "{logins}\n{l}");
    // serve refused exactly those probes (and nothing else): each retry was let through.
    assert_eq!(n(&logins, "/unauthorized"), again, "{logins}\n{l}");
    // Every probe sent, past the expiry too, and let through by serve, each as another user.
    let sent = n(p, "/sent");
    assert!(sent >= 60, "{p}");
    assert_eq!(n(p, "/failed_to_send"), 0, "{p}");
    let authorized = logins["authorized"].as_object().expect("authorized");
    let through: u64 = authorized.values().filter_map(|v| v.as_u64()).sum();
    assert_eq!(through, sent, "serve let through every probe blast sent: {logins}\n{p}");
    assert_eq!(authorized.len() as u64, sent, "one probe per user in turn: {logins}");
    // Every delivery serve wrote counted and expected; none missing.
    assert_eq!(n(p, "/delivered"), n(&broadcasts, "/deliveries"), "{p}\n{broadcasts}");
    assert_eq!(n(p, "/expected_deliveries"), n(p, "/delivered"), "{p}");
    assert_eq!((n(p, "/missing"), n(p, "/unexpected"), n(p, "/duplicates")), (0, 0, 0), "{p}");
    assert!(n(p, "/delivered") >= sent * 100 / 2, "most probes reach all 100 in their room: {p}");
}

/// A probe refused (401) makes its user log in again and is sent once more, and only once: with
/// a login whose captures give the probes no credentials serve accepts (the token only in the
/// upgrade's query, not captured as `token`), every probe is refused twice, each after one new
/// login of its user, and fails as `http_401`; serve counts the same.
#[test]
fn a_refused_http_probe_logs_its_user_in_again_and_is_retried_once() {
    let _g = light();
    let server = Server::start(&["--require-auth"]);
    let dir = ReportDir::new("ws-probe-relogin");
    users(&dir.0, 2);
    let file = dir.0.join("login.toml");
    let login = SERVE_LOGIN.replace("capture = { token =", "capture = { jwt =")
        + "[upgrade]\nquery = { token = \"{{jwt}}\" }\n";
    std::fs::write(&file, login).expect("login.toml");
    let target = server.ws_url();
    let path = file.to_str().expect("path");
    let r = blast(&ws_probe_args(&target, "2", "2s", "5", &["--login", path, "--cores", "1"]));
    let j = r.json.as_ref().unwrap_or_else(|| panic!("no report: {}{}", r.stdout, r.stderr));
    let logins = server.json("GET", "/stats/logins", None);
    let (l, p) = (&j["logins"], &j["probes"]);
    let refused = n(p, "/failed_by_reason/http_401");
    assert!(refused >= 5, "{p}");
    assert_eq!((n(p, "/sent"), n(p, "/failed_to_send")), (0, refused), "{p}");
    assert_eq!(n(l, "/probe_relogins"), refused, "one login again per refused probe: {l}");
    assert_eq!(n(l, "/ok"), 2 + refused, "{l}");
    assert_eq!(n(&logins, "/total"), n(l, "/ok"), "{logins}\n{l}");
    assert_eq!(n(&logins, "/unauthorized"), 2 * refused, "each probe sent twice: {logins}");
    // The users in turn: each logged in once for its connection and again for half the probes
    // (rounded down for one of them).
    for u in ["user0", "user1"] {
        assert!(n(&logins, &format!("/users/{u}")) > refused / 2, "{logins}");
    }
}
