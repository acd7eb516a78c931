//! No green `blast ws` run without evidence (issue 23): a run whose subscriptions were never
//! confirmed, or that sent probes and recognised no delivery, fails its delivery SLAs ("no
//! deliveries recognised"), quotes what the server sent instead, exits 1, and does so within
//! its duration + 3 s; its accounting identities are checked and shown in text and JSON, and a
//! broken one (a shard's report that lost results) is a warning and exit 1; deliveries of probes
//! blast sent are timed from its own send instant, a coarse message time is stated with its
//! resolution; refused credentials get advice naming what was given and what the server said.
//! Against `blast serve` (its modes and its own counters) and websocat, a relay not written here.

use crate::common::websocat::Relay;
use crate::common::*;
use serde_json::Value;

use std::process::{Child, Command};
use std::time::Instant;

/// Runs blast and times it: (result, seconds it took).
fn timed(args: &[&str]) -> (Run, f64) {
    let started = Instant::now();
    let r = blast(args);
    (r, started.elapsed().as_secs_f64())
}

/// Every identity in the report holds, and the text shows each.
fn assert_identities_hold(j: &Value, stdout: &str) {
    let ids = j["identities"].as_array().expect("identities in the JSON");
    let figures: Vec<&str> = ids.iter().filter_map(|i| i["figure"].as_str()).collect();
    assert_eq!(figures, ["expected deliveries", "established connections"], "{}", j["identities"]);
    for i in ids {
        assert_eq!(i["holds"], true, "{i}");
        let parts: u64 = i["parts"].as_array().expect("parts").iter().map(|p| p[1].as_u64().expect("n")).sum();
        assert_eq!(Some(parts), i["value"].as_u64(), "{i}");
    }
    let line = stdout.lines().find(|l| l.trim_start().starts_with("identities")).expect("identities line");
    let expected = f(j, "/probes/expected_deliveries");
    assert!(line.contains(&format!("expected deliveries {expected} = delivered")), "{line}");
    assert!(line.contains("established connections"), "{line}");
}

/// The verdict of SLA `target` in the JSON report.
fn verdict<'a>(j: &'a Value, target: &str) -> &'a Value {
    j["sla"].as_array().expect("sla").iter().find(|v| v["target"] == target).unwrap_or_else(|| panic!("{}", j["sla"]))
}

#[test]
fn an_ack_blast_does_not_recognise_fails_the_delivery_slas_quoting_the_servers_answer() {
    // Shared: verdicts and text.
    let _g = light();
    let server = Server::start(&[]);
    let target = server.ws_url();
    // blast serve acknowledges with {"type":"subscribed"}; blast waits for "bogus".
    let (r, secs) = timed(&ws_probe_args(
        &target,
        "20",
        "2s",
        "5/s",
        &["--subscribe-ack", "bogus", "--sla", "p99<100ms,success>99%"],
    ));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(secs < 2.0 + 3.0, "a 2 s run took {secs:.1} s: the ack wait must be part of the hold");
    let j = r.json.expect("report");
    assert_eq!(f(&j, "/subscriptions/confirmed"), 0.0, "{}", r.stdout);
    assert_eq!(f(&j, "/subscriptions/unconfirmed"), 20.0, "{}", r.stdout);
    assert_eq!(j["subscriptions"]["ack"], "bogus");
    // The probes still went out (half-way into the hold at the latest) and the server delivered
    // them: blast counts every one it received, none as a delivery it expected.
    let served = server.json("GET", "/stats/broadcasts", None);
    assert!(f(&j, "/probes/sent") >= 4.0, "{}", r.stdout);
    assert_eq!(Some(f(&j, "/probes/unexpected") as u64), served["deliveries"].as_u64(), "{served}\n{}", r.stdout);
    assert_eq!(f(&j, "/probes/expected_deliveries"), 0.0);
    let why = j["no_evidence"].as_str().expect("no evidence");
    assert!(why.starts_with("no deliveries recognised"), "{why}");
    assert!(why.contains("--subscribe-ack bogus"), "{why}");
    assert!(why.contains(r#""type":"subscribed""#), "quotes the server's ack: {why}");
    assert!(r.stdout.contains(&format!("warning: {why}")), "{}", r.stdout);
    let p99 = verdict(&j, "p99<100ms");
    assert_eq!(p99["pass"], false, "{p99}");
    assert!(r.stdout.contains("[FAIL] p99: no deliveries recognised"), "{}", r.stdout);
    assert_eq!(verdict(&j, "success>99%")["pass"], true, "connections were fine");
    assert_identities_hold(&j, &r.stdout);
}

#[test]
fn a_third_party_relay_whose_ack_never_comes_fails_quoting_what_it_relayed() {
    // Shared: verdicts and text.
    let _g = light();
    let relay = Relay::start();
    // websocat acknowledges nothing: it relays each join to everyone, so what the connections
    // get while they wait for "joined" is the joins themselves.
    let (r, secs) = timed(&ws_probe_args(
        &relay.url(),
        "10",
        "1s",
        "10/s",
        &[
            "--probe-via",
            "ws",
            "--subscribe",
            r#"{"type":"join","room":"{{room}}"}"#,
            "--subscribe-ack",
            "joined",
            "--publish",
            r#"{"probe_id":{{probe_id}},"sent_at_us":{{sent_at_us}}}"#,
            "--sla",
            "p99<100ms",
        ],
    ));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(secs < 1.0 + 3.0, "a 1 s run took {secs:.1} s");
    let j = r.json.expect("report");
    assert_eq!(f(&j, "/subscriptions/confirmed"), 0.0, "{}", r.stdout);
    assert_eq!(f(&j, "/subscriptions/unconfirmed"), 10.0, "{}", r.stdout);
    let why = j["no_evidence"].as_str().expect("no evidence");
    assert!(why.contains(r#"{"type":"join","room":"room-0"}"#), "quotes what the relay sent: {why}");
    assert!(why.contains("--subscribe-ack joined"), "{why}");
    assert_eq!(verdict(&j, "p99<100ms")["pass"], false);
    assert_identities_hold(&j, &r.stdout);
}

#[test]
fn unreadable_probes_through_a_third_party_relay_fail_quoting_a_probe_not_a_hello() {
    // Shared: verdicts and text.
    let _g = light();
    let relay = Relay::start();
    // Each connection says hello on connect (relayed to all: the welcome-like chatter), then the
    // probes come as {"kind":"chat","msg":{"cid":"probe-N",...}}; blast looks at /msg/id.
    let (r, secs) = timed(&ws_probe_args(
        &relay.url(),
        "10",
        "2s",
        "10/s",
        &[
            "--connect-rate",
            "100/s",
            "--probe-via",
            "ws",
            "--subscribe",
            r#"{"hello":"conn-{{conn}}"}"#,
            "--subscribe-ack",
            "none",
            "--publish",
            r#"{"kind":"chat","msg":{"cid":"probe-{{probe_id}}","ts_ms":{{sent_at_ms}}}}"#,
            "--probe-id-pointer",
            "/msg/id",
            "--probe-ts-pointer",
            "/msg/ts_ms",
            "--probe-ts-unit",
            "ms",
            "--sla",
            "p99<100ms,errors<1%",
        ],
    ));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(secs < 2.0 + 3.0, "a 2 s run took {secs:.1} s");
    let j = r.json.expect("report");
    assert_eq!(f(&j, "/subscriptions/confirmed"), 10.0, "{}", r.stdout);
    assert_eq!(f(&j, "/probes/sent"), 20.0, "{}", r.stdout);
    assert_eq!(f(&j, "/probes/delivered"), 0.0);
    assert_eq!(f(&j, "/probes/expected_deliveries"), 200.0);
    assert_eq!(f(&j, "/probes/missing"), 200.0);
    let why = j["no_evidence"].as_str().expect("no evidence");
    assert!(why.contains("20 probes were sent"), "{why}");
    assert!(why.contains("--probe-id-pointer /msg/id"), "names what blast looked for: {why}");
    assert!(why.contains(r#"{"kind":"chat","msg":{"cid":"probe-"#), "quotes a probe: {why}");
    assert!(!why.contains("hello"), "quotes a probe, not the hellos: {why}");
    for sla in ["p99<100ms", "errors<1%"] {
        let v = verdict(&j, sla);
        assert_eq!(v["pass"], false, "{v}");
        assert!(v["samples"] == 0, "{v}");
    }
    assert!(r.stdout.contains("[FAIL] errors: no deliveries recognised"), "{}", r.stdout);
    assert_identities_hold(&j, &r.stdout);
}

#[test]
fn the_readmes_token_in_the_query_example_against_serve_require_auth_is_not_green() {
    // Shared: verdicts and text.
    let _g = light();
    let server = Server::start(&["--require-auth"]);
    let login = |user: &str| {
        let v = server.json("POST", "/auth/login", Some(&format!(r#"{{"username":"{user}","password":"pw"}}"#)));
        v["access_token"].as_str().expect("token").to_string()
    };
    let dir = ReportDir::new("readme-query");
    let tokens = dir.path("users.jwt");
    std::fs::write(&tokens, format!("{}\n{}\n", login("u1"), login("u2"))).expect("tokens");
    let service = login("service");
    let target = server.ws_url();
    // The README's command, shortened to 20 connections for 2 s: the upgrades pass, but blast
    // serve knows no "join" action, so no subscription is ever acknowledged.
    let (r, secs) = timed(&ws_probe_args(
        &target,
        "20",
        "2s",
        "5/s",
        &[
            "--tokens",
            &tokens,
            "--token-query",
            "token",
            "--token",
            &service,
            "--subscribe",
            r#"{"action":"join","room":"{{room}}","user":{{conn}}}"#,
            "--subscribe-ack",
            "joined",
            "--probe-body",
            r#"{"room":"{{room}}","id":"{{probe_id}}","body":"{{random_text 40}}"}"#,
            "--probe-id-pointer",
            "/message/id",
            "--probe-ts-pointer",
            "none",
        ],
    ));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(secs < 2.0 + 3.0, "a 2 s run took {secs:.1} s");
    let j = r.json.expect("report");
    assert_eq!(f(&j, "/connections/established"), 20.0, "{}", r.stdout);
    assert_eq!(f(&j, "/messages_received"), 0.0, "{}", r.stdout);
    assert_eq!(server.json("GET", "/stats/broadcasts", None)["deliveries"], 0);
    let why = j["no_evidence"].as_str().expect("no evidence");
    assert!(why.contains("--subscribe-ack joined"), "{why}");
    assert!(why.contains("the server sent nothing after the subscribe"), "{why}");
    assert_identities_hold(&j, &r.stdout);
}

#[test]
fn refused_tokens_get_advice_naming_what_was_given_and_what_the_server_answered() {
    // Shared: verdicts and text.
    let _g = light();
    let server = Server::start(&["--require-auth"]);
    let dir = ReportDir::new("expired");
    let tokens = dir.path("users.jwt");
    std::fs::write(&tokens, "tok-expired-1\ntok-expired-2\n").expect("tokens");
    let target = server.ws_url();
    let r = blast(&ws_probe_args(&target, "10", "2s", "5/s", &["--tokens", &tokens, "--token-query", "token"]));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let j = r.json.expect("report");
    assert_eq!(f(&j, "/connections/failed/http_401"), 10.0, "{}", r.stdout);
    let line = r.stderr.lines().find(|l| l.contains("every connection failed")).expect("the fail-fast line");
    for part in ["answered HTTP 401", "--tokens FILE (2 tokens)", "?token="] {
        assert!(line.contains(part), "{part}: {line}");
    }
    assert!(!line.contains("the upgrade needs auth"), "a token was given: {line}");
    assert!(j["warnings"].to_string().contains("--tokens FILE (2 tokens)"), "{}", j["warnings"]);
    // Without any credential, the advice says which to give.
    let r = blast(&ws_probe_args(&target, "10", "2s", "5/s", &[]));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("the upgrade needs auth: --token"), "{}", r.stderr);
}

/// `blast ws --shard I/2` against `target`, both shards starting on the same second. A timeout
/// of 2 s (not 5 s), as tests/it/shards.rs's ws shards: shard 1 lingers a timeout and a second
/// after its hold for shard 0's last probes, which arrive within milliseconds here.
fn shard(target: &str, i: u32, start_at: &str, json: &std::path::Path, extra: &[&str]) -> Child {
    let shard = format!("{i}/2");
    let own = ["--shard", &shard, "--start-at", start_at, "--timeout", "2s"];
    let mut args = ws_probe_args(target, "20", "2s", "10/s", &own);
    args.extend_from_slice(extra);
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    spawn_blast(&args, json)
}

#[test]
fn probes_sent_here_are_timed_from_blasts_instant_and_a_coarse_message_time_is_stated() {
    // Shared: exact counts against the server.
    let _g = light();
    let server = Server::start(&["--ws-layout", "chat", "--broadcast-delay", "5ms"]);
    let target = server.ws_url();
    let chat = [
        "--probe-body",
        r#"{"conversation_id":"{{room}}","client_msg_id":"c-{{probe_id}}","sent_at":{{sent_at_ms}}}"#,
        "--probe-id-pointer",
        "/data/client_msg_id",
        "--probe-ts-pointer",
        "/data/sent_at",
        "--probe-ts-unit",
        "ms",
    ];
    // Two shards on a server of their own, started first: they wait 2 to 3 s for their start
    // time, in which the one-process run below is made (against the first server).
    let two = Server::start(&["--ws-layout", "chat", "--broadcast-delay", "5ms"]);
    let two_target = two.ws_url();
    let dir = ReportDir::new("shards");
    let paths = [dir.0.join("s0.json"), dir.0.join("s1.json")];
    let start_at =
        (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() + 2).to_string();
    let children: Vec<Child> = (0..2).map(|i| shard(&two_target, i, &start_at, &paths[i as usize], &chat)).collect();

    // One process: it sent every probe, so every delivery is timed from its send instant and
    // the message's millisecond time is not used (nor stated).
    let r = blast(&ws_probe_args(&target, "20", "2s", "10/s", &chat));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json.expect("report");
    assert_eq!(f(&j, "/probes/delivered"), 400.0, "{}", r.stdout);
    assert_eq!(j["probes"]["delivered"], server.json("GET", "/stats/broadcasts", None)["deliveries"]);
    assert_eq!(f(&j, "/probes/timed_from_send_instant"), 400.0, "{}", r.stdout);
    assert_eq!(f(&j, "/probes/timed_from_message_time"), 0.0);
    assert!(j["probes"].get("message_time_resolution").is_none(), "{}", j["probes"]);
    assert!(!r.stdout.contains("resolution"), "{}", r.stdout);
    assert_identities_hold(&j, &r.stdout);

    // Two shards: shard 1's connections receive probes shard 0 sent, whose send instants only
    // the message's millisecond time tells: its report says so, with the resolution.
    let server = two;
    for c in children {
        let out = c.wait_with_output().expect("shard");
        assert!(out.status.code().is_some(), "{}", String::from_utf8_lossy(&out.stdout));
    }
    let (a, b) = (read_json(&paths[0]), read_json(&paths[1]));
    assert_eq!(f(&b, "/probes/sent"), 0.0, "only shard 0 publishes");
    assert_eq!(f(&b, "/probes/timed_from_send_instant"), 0.0, "{b}");
    assert_eq!(f(&b, "/probes/timed_from_message_time"), 200.0, "{}", b["probes"]);
    assert_eq!(b["probes"]["message_time_resolution"], "1 ms");
    assert_eq!(f(&a, "/probes/timed_from_send_instant"), 200.0, "{}", a["probes"]);
    let total = dir.path("total.json");
    let merge = Command::new(BLAST)
        .args(["merge", &paths[0].to_string_lossy(), &paths[1].to_string_lossy(), "--json", &total])
        .output()
        .expect("merge");
    let text = String::from_utf8_lossy(&merge.stdout);
    assert_eq!(merge.status.code(), Some(0), "{text}");
    let t = read_json(&total);
    assert_eq!(f(&t, "/probes/delivered"), 400.0, "{text}");
    assert_eq!(t["probes"]["delivered"], server.json("GET", "/stats/broadcasts", None)["deliveries"]);
    assert_eq!(f(&t, "/probes/timed_from_send_instant"), 200.0);
    assert_eq!(f(&t, "/probes/timed_from_message_time"), 200.0);
    assert!(text.contains("200 from the time in the message (--probe-ts-unit resolution 1 ms"), "{text}");
    assert_identities_hold(&t, &text);

    // A shard's report that lost results (half its memberships gone): the merge's identity
    // does not hold, a warning names the figure, and the merge exits 1.
    let mut lost = b.clone();
    let memberships = lost["raw"]["tally"]["memberships"].as_array_mut().expect("memberships");
    memberships.truncate(5);
    let lost_path = dir.path("s1-lost.json");
    std::fs::write(&lost_path, lost.to_string()).expect("write");
    let merge = Command::new(BLAST)
        .args(["merge", &paths[0].to_string_lossy(), &lost_path, "--json", &total])
        .output()
        .expect("merge");
    let text = String::from_utf8_lossy(&merge.stdout);
    assert_eq!(merge.status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "accounting identity broken: established connections 20 != subscriptions confirmed 15 + unconfirmed 0"
        ),
        "{text}"
    );
    let t = read_json(&total);
    let broken: Vec<&Value> = t["identities"].as_array().expect("ids").iter().filter(|i| i["holds"] == false).collect();
    assert_eq!(broken.len(), 1, "{}", t["identities"]);
    assert_eq!(broken[0]["figure"], "established connections");
}

/// Paths that end a run early, each checked for its identities: an interruption (SIGINT), a
/// target that dies mid-run, a target that accepts and never answers the upgrade.
#[test]
fn identities_hold_on_every_path_that_ends_a_run_early() {
    // Shared: identities; "gave up" is 4 s for a 1 s timeout.
    let _g = light();
    // SIGINT 2 s into a 30 s run, probes in flight (each delivered 200 ms late).
    let server = Server::start(&["--broadcast-delay", "200ms"]);
    let dir = ReportDir::new("early");
    let json = dir.0.join("sigint.json");
    let target = server.ws_url();
    let child = spawn_blast(&ws_probe_args(&target, "20", "30s", "10/s", &[]), &json);
    wait_ms(2000);
    // SAFETY: sending a signal to a child we own.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let r = finish(child.wait_with_output().expect("wait"), &json);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let j = r.json.expect("report");
    assert_eq!(j["interrupted"], true);
    assert!(f(&j, "/probes/delivered") > 0.0, "{}", r.stdout);
    assert!(j["no_evidence"].is_null(), "{}", j["no_evidence"]);
    assert_identities_hold(&j, &r.stdout);
    drop(server);

    // The target dies 1.5 s into a 30 s run: every connection dropped.
    let mut server = Server::start(&[]);
    let target = server.ws_url();
    let json = dir.0.join("dead.json");
    let child = spawn_blast(&ws_probe_args(&target, "20", "30s", "10/s", &[]), &json);
    wait_ms(1500);
    server.kill();
    let r = finish(child.wait_with_output().expect("wait"), &json);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let j = r.json.expect("report");
    assert_eq!(f(&j, "/connections/dropped"), 20.0, "{}", r.stdout);
    assert_identities_hold(&j, &r.stdout);

    // A listener that accepts and never answers: every upgrade times out, nothing established.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let target = format!("ws://{}/ws", silent.local_addr().expect("addr"));
    let (r, secs) = timed(&ws_probe_args(&target, "10", "30s", "10/s", &["--timeout", "1s"]));
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(secs < 1.0 + 3.0, "gave up after {secs:.1} s");
    let j = r.json.expect("report");
    assert_eq!(f(&j, "/connections/failed/timeout"), 10.0, "{}", r.stdout);
    assert_eq!(f(&j, "/probes/sent"), 0.0);
    assert_identities_hold(&j, &r.stdout);
}
