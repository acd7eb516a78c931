//! `blast ws --login`: every connection logs in over HTTP before its upgrade (a scenario's
//! `[[on_start]]` steps, per user from a users file), its token goes in the upgrade's query,
//! and it logs in again when the upgrade is refused (403) or the server closes it for an
//! expired token (4401). The server is a FastAPI app under uvicorn (Starlette's WebSocket over
//! wsproto) that issues short-lived tokens and counts what it saw; blast's report must agree.

use crate::common::uvicorn::Uvicorn;
use crate::common::*;
use std::path::PathBuf;

/// Logins issue `tok-N-USER`, valid `TOKEN_TTL` seconds, and the cookie `sid=sid-TOKEN`; each
/// login is counted by the `sid` it carried: none, the user's latest, an older one. `/ws?token=`
/// accepts a live token (with `REJECT_FIRST=1`, refuses each user's first token, closing before
/// accept: HTTP 403), acknowledges a subscribe whose `auth` is the same token, and closes with
/// 4401 when the token expires. `POST /v1/messages` (Bearer of a live token; with
/// `PROBE_REJECT_FIRST=1`, of any token but the user's first) fans a message out to a room.
const APP: &str = r#"
import asyncio, itertools, os, time
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from pydantic import BaseModel

TTL = float(os.environ.get("TOKEN_TTL", "60"))
REJECT_FIRST = os.environ.get("REJECT_FIRST") == "1"
PROBE_REJECT_FIRST = os.environ.get("PROBE_REJECT_FIRST") == "1"
app = FastAPI()
tokens = {}
seq = itertools.count(1)
stats = {"logins": 0, "bad_logins": 0, "accepted": 0, "rejected": 0, "expired_closes": 0,
         "users": {}, "tokens_accepted": [], "subscribed": 0, "subscribe_token_mismatch": 0,
         "messages": 0, "sent": 0, "cookie_matches": 0, "cookie_wrong": 0,
         "login_no_sid": 0, "login_latest_sid": 0, "login_older_sid": 0,
         "probes_refused": 0, "probe_cookie_matches": 0, "probe_cookie_wrong": 0}
first_token_seen = set()
first_token = {}
last_sid = {}
rooms = {}

class Login(BaseModel):
    username: str
    password: str

@app.post("/auth/login")
def login(body: Login, request: Request):
    if body.password != "pw-" + body.username:
        stats["bad_logins"] += 1
        return JSONResponse({"detail": "bad credentials"}, status_code=401)
    stats["logins"] += 1
    stats["users"][body.username] = stats["users"].get(body.username, 0) + 1
    # A browser's login again carries the session cookie of the user's last login.
    sid = request.cookies.get("sid")
    if sid is None:
        stats["login_no_sid"] += 1
    elif sid == last_sid.get(body.username):
        stats["login_latest_sid"] += 1
    else:
        stats["login_older_sid"] += 1
    tok = "tok-%d-%s" % (next(seq), body.username)
    tokens[tok] = (body.username, time.monotonic() + TTL)
    first_token.setdefault(body.username, tok)
    last_sid[body.username] = "sid-" + tok
    # A session cookie too, as cookie-session apps set: the upgrade must carry the user's own.
    response = JSONResponse({"access_token": tok, "token_type": "bearer"})
    response.set_cookie("sid", "sid-" + tok, httponly=True, path="/")
    return response

def live(tok):
    entry = tokens.get(tok)
    return entry is not None and entry[1] > time.monotonic()

@app.websocket("/ws")
async def ws(websocket: WebSocket):
    tok = websocket.query_params.get("token", "")
    refuse = not live(tok)
    if not refuse and REJECT_FIRST:
        user = tokens[tok][0]
        if user not in first_token_seen:
            first_token_seen.add(user)
            refuse = True
    if refuse:
        stats["rejected"] += 1
        await websocket.close(code=1008)
        return
    await websocket.accept()
    stats["accepted"] += 1
    sid = websocket.cookies.get("sid", "")
    if sid.startswith("sid-tok-") and sid.rsplit("-", 1)[-1] == tokens[tok][0]:
        stats["cookie_matches"] += 1
    else:
        stats["cookie_wrong"] += 1
    stats["tokens_accepted"].append(tok)
    room = None
    async def expire():
        await asyncio.sleep(max(0.0, tokens[tok][1] - time.monotonic()))
        stats["expired_closes"] += 1
        await websocket.close(code=4401)
    timer = asyncio.create_task(expire())
    try:
        while True:
            msg = await websocket.receive_json()
            if msg.get("type") == "subscribe":
                if msg.get("auth") != tok:
                    stats["subscribe_token_mismatch"] += 1
                    continue
                room = msg["conversation_id"]
                rooms.setdefault(room, set()).add(websocket)
                stats["subscribed"] += 1
                await websocket.send_json({"type": "subscribed"})
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        timer.cancel()
        if room is not None:
            rooms[room].discard(websocket)

@app.post("/v1/messages")
async def message(request: Request):
    auth = request.headers.get("authorization", "")
    tok = auth[7:] if auth.startswith("Bearer ") else ""
    if PROBE_REJECT_FIRST:
        ok = tok in tokens and tok != first_token.get(tokens[tok][0])
    else:
        ok = live(tok)
    if not ok:
        stats["probes_refused"] += 1
        return JSONResponse({"detail": "no token"}, status_code=401)
    # The user's cookie of the login whose token the probe carries.
    if request.cookies.get("sid") == "sid-" + tok:
        stats["probe_cookie_matches"] += 1
    else:
        stats["probe_cookie_wrong"] += 1
    body = await request.json()
    stats["messages"] += 1
    for w in list(rooms.get(body["conversation_id"], ())):
        try:
            await w.send_json(body)
            stats["sent"] += 1
        except Exception:
            pass
    return JSONResponse({"ok": True}, status_code=201)

@app.get("/stats")
def get_stats():
    return stats
"#;

/// 10 users `user0..user9` (password `pw-userN`) and the login file: the token captured from
/// the login goes in the upgrade's query.
fn login_file(dir: &ReportDir) -> PathBuf {
    let users: String = std::iter::once("name,password\n".to_string())
        .chain((0..10).map(|i| format!("user{i},pw-user{i}\n")))
        .collect();
    std::fs::write(dir.0.join("users.csv"), users).expect("users.csv");
    let file = dir.0.join("login.toml");
    std::fs::write(&file, format!("{SERVE_LOGIN}\n[upgrade]\nquery = {{ token = \"{{{{token}}}}\" }}\n"))
        .expect("login.toml");
    file
}

/// The subscribe message carries the connection's own token, which the app checks.
const SUBSCRIBE: &str = r#"{"type":"subscribe","conversation_id":"{{room}}","auth":"{{token}}"}"#;

fn n(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// Long-lived tokens: 20 connections, 20 logins (connection i as user i mod 10), each
/// upgrade with its own token; probes (authenticated with a token fetched by the test) reach
/// every subscriber.
#[test]
fn each_connection_logs_in_as_its_user_and_upgrades_with_its_token() {
    // Shared: exact counts judged against the app's.
    let _g = moderate();
    let dir = ReportDir::new("ws-login");
    let app = Uvicorn::start(&dir.0, APP, &[]);
    let file = login_file(&dir);
    let probe_token = app_login(&app, "user0");
    let target = format!("ws://{}/ws", app.addr);
    let args = ws_probe_args(&target, "20", "2s", "5/s", &["--rooms", "2", "--connect-rate", "200/s"]);
    let login = file.to_str().expect("path");
    let extra = ["--login", login, "--subscribe", SUBSCRIBE, "--token", &probe_token, "--cores", "1"];
    let r = blast(&[&args[..], &extra[..]].concat());
    let j = r.json.as_ref().expect("report");
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let stats = app.json("GET", "/stats");
    // One login by the test, one per connection.
    assert_eq!(n(&stats["logins"]) - 1, n(&j["logins"]["ok"]), "{stats}\n{}", j["logins"]);
    assert_eq!(n(&j["logins"]["ok"]), 20);
    assert_eq!(n(&j["logins"]["relogins"]), 0);
    assert_eq!(n(&stats["accepted"]), n(&j["connections"]["established"]));
    // Each upgrade carried the session cookie its own login set (a jar per connection).
    assert_eq!(n(&stats["cookie_matches"]), n(&stats["accepted"]), "{stats}");
    assert_eq!(n(&stats["cookie_wrong"]), 0, "{stats}");
    assert_eq!(n(&j["connections"]["established"]), 20);
    assert_eq!(n(&stats["subscribed"]), 20, "{stats}");
    assert_eq!(n(&stats["subscribe_token_mismatch"]), 0, "{stats}");
    // Token rotation: every user logged in (user0 once more, by the test), every upgrade its own token.
    for i in 0..10 {
        let want = if i == 0 { 3 } else { 2 };
        assert_eq!(n(&stats["users"][format!("user{i}")]), want, "{stats}");
    }
    let accepted: Vec<&str> =
        stats["tokens_accepted"].as_array().expect("tokens").iter().filter_map(|t| t.as_str()).collect();
    let distinct: std::collections::BTreeSet<&str> = accepted.iter().copied().collect();
    assert_eq!(distinct.len(), 20, "{accepted:?}");
    // Probes: 10 to 2 rooms of 10, every delivery counted, as many as the app sent.
    assert_eq!(f(j, "/probes/sent"), 10.0, "{}", r.stdout);
    assert_eq!(f(j, "/probes/delivered"), 100.0, "{}", r.stdout);
    assert_eq!(n(&stats["sent"]), 100, "{stats}");
    for t in &accepted {
        assert!(!r.stdout.contains(t) && !r.stderr.contains(t), "a token was printed");
    }
}

/// Tokens live 1.5 s in a 4 s hold and each user's first token is refused at the upgrade
/// (403): every connection logs in again after the refusal and after each 4401 close, and
/// blast's logins, refusals and accepted connections equal the app's counts.
#[test]
fn refused_upgrades_and_expired_tokens_log_in_again_counted_as_the_server_counted() {
    // Exclusive: tokens expire on a timer the relogins race.
    let _g = exclusive();
    let dir = ReportDir::new("ws-relogin");
    let app = Uvicorn::start(&dir.0, APP, &[("TOKEN_TTL", "1.5"), ("REJECT_FIRST", "1")]);
    let file = login_file(&dir);
    let target = format!("ws://{}/ws", app.addr);
    let args = ws_probe_args(&target, "20", "4s", "0", &["--rooms", "2", "--connect-rate", "200/s"]);
    let login = file.to_str().expect("path");
    let r = blast(&[&args[..], &["--login", login, "--subscribe", SUBSCRIBE, "--cores", "1"][..]].concat());
    let j = r.json.as_ref().expect("report");
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let stats = app.json("GET", "/stats");
    let l = &j["logins"];
    assert_eq!(n(&l["ok"]), n(&stats["logins"]), "{stats}\n{l}");
    assert!(l["failed"].as_object().is_some_and(|m| m.is_empty()), "{l}");
    assert_eq!(n(&l["upgrades_refused"]), n(&stats["rejected"]), "{stats}\n{l}");
    assert_eq!(n(&stats["rejected"]), 10, "each user's first token: {stats}");
    assert_eq!(n(&j["connections"]["established"]), n(&stats["accepted"]), "{stats}\n{}", j["connections"]);
    assert_eq!(n(&j["connections"]["dropped"]), 0, "{}", j["connections"]);
    assert!(j["connections"]["failed"].as_object().is_some_and(|m| m.is_empty()), "{}", j["connections"]);
    // Each connection: one login, one after the refusal (the 10 first), one per expiry.
    assert_eq!(n(&l["ok"]), 20 + n(&l["relogins"]), "{l}");
    assert_eq!(n(&l["relogins"]), 10 + n(&l["auth_closes"]), "{l}");
    // 4 s with tokens of 1.5 s: at least two expiries per connection, each answered with a
    // login and a new connection; the app may close a few more as blast closes at the end.
    assert!(n(&l["auth_closes"]) >= 40, "{l}");
    let closes = n(&stats["expired_closes"]);
    assert!(closes >= n(&l["auth_closes"]) && closes <= n(&l["auth_closes"]) + 20, "{stats}\n{l}");
    assert_eq!(n(&j["connections"]["established"]), 20 + n(&l["auth_closes"]), "{}", j["connections"]);
    assert_eq!(n(&stats["subscribe_token_mismatch"]), 0, "{stats}");
}

/// A probe refused as its user (each user's first token is refused for probes) logs the user in
/// again from the user's last login, as its connection's relogin does: the login carries the
/// session cookie the user's connection login set, the probes after it carry the cookie of the
/// login whose token they carry, and the connection's own relogin at its token's expiry (4 s)
/// starts from the probe's relogin, carrying its cookie. The app counts every login by the
/// cookie it carried: none only for each user's first.
#[test]
fn a_probe_relogin_starts_from_the_users_last_login_and_its_connection_from_the_probes() {
    // Shared: exact counts judged against the app's; the probe relogins (in the first second
    // of probes) have 4 s before the connections' tokens expire.
    let _g = light();
    let dir = ReportDir::new("ws-probe-relogin-jar");
    let app = Uvicorn::start(&dir.0, APP, &[("TOKEN_TTL", "4"), ("PROBE_REJECT_FIRST", "1")]);
    let file = login_file(&dir);
    let target = format!("ws://{}/ws", app.addr);
    let args = ws_probe_args(&target, "2", "5s", "5/s", &["--rooms", "1", "--timeout", "10s"]);
    let login = file.to_str().expect("path");
    let r = blast(&[&args[..], &["--login", login, "--subscribe", SUBSCRIBE, "--cores", "1"][..]].concat());
    let j = r.json.as_ref().unwrap_or_else(|| panic!("no report: {}{}", r.stdout, r.stderr));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let stats = app.json("GET", "/stats");
    let (l, p) = (&j["logins"], &j["probes"]);
    assert!(l["failed"].as_object().is_some_and(|m| m.is_empty()), "{l}");
    // Each user: its connection's login, one probe relogin (its first probe refused), one
    // relogin of its connection at the 4401 close.
    assert_eq!(n(&l["probe_relogins"]), 2, "{l}\n{stats}");
    assert_eq!(n(&stats["probes_refused"]), 2, "{stats}");
    assert_eq!((n(&l["auth_closes"]), n(&l["relogins"])), (2, 2), "{l}");
    assert_eq!(n(&l["ok"]), 6, "{l}");
    assert_eq!(n(&stats["logins"]), 6, "{stats}");
    // Only the first login of each user came without its session cookie; every later one
    // carried the cookie of the user's latest login, whichever path made that login.
    assert_eq!(n(&stats["login_no_sid"]), 2, "{stats}");
    assert_eq!(n(&stats["login_older_sid"]), 0, "{stats}");
    assert_eq!(n(&stats["login_latest_sid"]), 4, "{stats}");
    // Every probe the app let through carried the cookie its token's login set.
    assert!(n(&p["sent"]) >= 10, "{p}");
    assert_eq!(n(&p["failed_to_send"]), 0, "{p}");
    assert_eq!(n(&stats["probe_cookie_matches"]), n(&p["sent"]), "{stats}\n{p}");
    assert_eq!(n(&stats["probe_cookie_wrong"]), 0, "{stats}");
    assert_eq!(n(&stats["cookie_wrong"]), 0, "each upgrade its user's cookie: {stats}");
}

/// Wrong passwords: every login fails (401), the connections fail as `login` with the
/// reason in the logins, the run exits 1 at once with advice, and nothing is upgraded.
#[test]
fn a_login_that_fails_fails_its_connection_with_the_reason() {
    // Shared: errors and exit code.
    let _g = shared();
    let dir = ReportDir::new("ws-login-bad");
    let app = Uvicorn::start(&dir.0, APP, &[]);
    let file = login_file(&dir);
    std::fs::write(dir.0.join("users.csv"), "name,password\nuser0,wrong\nuser1,wrong\n").expect("users");
    let target = format!("ws://{}/ws", app.addr);
    let login = file.to_str().expect("path");
    // A slow answer on a busy machine is not what this tests: the refusal is.
    let r = blast(&ws_probe_args(&target, "4", "3s", "0", &["--login", login, "--cores", "1", "--timeout", "10s"]));
    let j = r.json.as_ref().expect("report");
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert_eq!(j["logins"]["failed"]["http_401"].as_u64(), Some(4), "{}", j["logins"]);
    assert_eq!(j["connections"]["failed"]["login"].as_u64(), Some(4), "{}", j["connections"]);
    let stats = app.json("GET", "/stats");
    assert_eq!((n(&stats["bad_logins"]), n(&stats["accepted"]), n(&stats["rejected"])), (4, 0, 0), "{stats}");
    assert!(r.stderr.contains("the login failed"), "{}", r.stderr);
}

/// A login file's mistakes: one `file:line: field` line, exit 2, nothing sent.
#[test]
fn bad_login_files_exit_2_with_file_line_and_field() {
    let dir = ReportDir::new("ws-login-usage");
    let check = |name: &str, text: &str, want: &str| {
        let file = dir.0.join(name);
        std::fs::write(&file, text).expect("write");
        let path = file.to_str().expect("path");
        let (code, stderr) = blast_plain(&[
            "ws",
            "--target",
            "ws://127.0.0.1:9/ws",
            "--conns",
            "1",
            "--duration",
            "1s",
            "--login",
            path,
        ]);
        assert_eq!(code, 2, "{name}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{name}: {stderr}");
        assert!(stderr.contains(want), "{name}: {stderr}");
    };
    check("none.toml", "[data]\n", "field 'on_start'");
    check(
        "notoken.toml",
        "[[on_start]]\npath = \"/auth/login\"\ncapture = { jwt = \"/access_token\" }\n",
        "field 'upgrade': the login captures no 'token'",
    );
    check(
        "unknown.toml",
        "[[on_start]]\npath = \"/auth/login\"\ncapture = { token = \"/t\" }\n[upgrade]\nquery = { token = \"{{jwt}}\" }\n",
        ":4: field 'upgrade'",
    );
    check(
        "request.toml",
        "[[on_start]]\npath = \"/a\"\ncapture = { token = \"/t\" }\n\n[[request]]\npath = \"/b\"\n",
        "unknown field `request`",
    );
    check(
        "own.toml",
        "[[on_start]]\npath = \"/a\"\ncapture = { token = \"/t\" }\n[upgrade]\nheaders = { Upgrade = \"x\" }\n",
        "set by the upgrade",
    );
}

/// A token from the app's login, for the probes.
fn app_login(app: &Uvicorn, user: &str) -> String {
    let body = format!(r#"{{"username":"{user}","password":"pw-{user}"}}"#);
    let v = http_json(&app.addr, "POST", "/auth/login", Some(&body));
    v["access_token"].as_str().unwrap_or_else(|| panic!("no token in {v}")).to_string()
}
