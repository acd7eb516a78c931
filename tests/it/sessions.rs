//! Sessions as Locust users get them (issue 30): a cookie jar per virtual user and redirects
//! followed, run by the real binary against servers that are not blast's: a FastAPI app under
//! uvicorn with cookie sessions (`set_cookie`, `RedirectResponse`), which counts what it saw,
//! and nginx (`return 301`, its access log) for plain `blast api`. Every check compares blast's
//! report with the server's own counts.

use crate::common::*;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The app: `POST /login` answers `303 -> /me` with `Set-Cookie: sid=...; HttpOnly; Path=/`;
/// `/me` is 401 without a valid sid and records which user each sid belongs to; `/mine?user=`
/// records whether the sid carried is that user's; `/old` is `301 -> /me`; `/short` sets a
/// cookie with `Max-Age=1` and `/probe` records whether it came back and how old it was;
/// `/chain/N` redirects N times, each hop held 100 ms; `/away` points off the target.
const APP: &str = r#"
import asyncio, itertools, secrets, time
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse

app = FastAPI()
sessions = {}
ids = itertools.count(1)
stats = {"logins": 0, "me_ok": 0, "me_denied": 0, "old": 0, "mine_ok": 0, "mine_wrong": 0,
         "mine_none": 0, "chain_hits": 0, "short_sets": 0, "probes": [], "public": 0, "sids": []}
short = {}

@app.post("/login")
async def login(request: Request):
    body = await request.json()
    sid = "sid-%d-%s" % (next(ids), secrets.token_hex(8))
    sessions[sid] = body["user"]
    stats["logins"] += 1
    stats["sids"].append(sid)
    r = RedirectResponse("/me", status_code=303)
    r.set_cookie("sid", sid, httponly=True, path="/")
    return r

@app.get("/me")
def me(request: Request):
    sid = request.cookies.get("sid")
    if sid not in sessions:
        stats["me_denied"] += 1
        return JSONResponse({"error": "no session"}, status_code=401)
    stats["me_ok"] += 1
    return {"user": sessions[sid], "sid": sid}

@app.get("/mine")
def mine(user: str, request: Request):
    sid = request.cookies.get("sid")
    if sid is None:
        stats["mine_none"] += 1
        return JSONResponse({"error": "no session"}, status_code=401)
    if sessions.get(sid) != user:
        stats["mine_wrong"] += 1
        return JSONResponse({"error": "another user's session"}, status_code=403)
    stats["mine_ok"] += 1
    return {"user": user}

@app.get("/old")
def old():
    stats["old"] += 1
    return RedirectResponse("/me", status_code=301)

@app.get("/short")
def set_short():
    stats["short_sets"] += 1
    value = "t%d" % stats["short_sets"]
    short[value] = time.monotonic()
    r = JSONResponse({"set": value})
    r.set_cookie("tmp", value, max_age=1, path="/")
    return r

@app.get("/probe")
def probe(request: Request):
    value = request.cookies.get("tmp")
    last = max(short.values()) if short else time.monotonic()
    stats["probes"].append({"has": value is not None, "age": time.monotonic() - short.get(value, last)})
    return {"ok": True}

@app.get("/chain/{n}")
async def chain(n: int):
    stats["chain_hits"] += 1
    await asyncio.sleep(0.1)
    if n == 0:
        return {"end": True}
    return RedirectResponse("/chain/%d" % (n - 1), status_code=302)

@app.get("/away")
def away(request: Request):
    port = request.url.port
    return RedirectResponse("http://localhost:%d/public" % port, status_code=302)

@app.get("/public")
def public():
    stats["public"] += 1
    return {"public": True}

@app.get("/stats")
def get_stats():
    return stats
"#;

/// The app under uvicorn, killed when dropped.
struct App {
    child: Child,
    addr: String,
    _dir: ReportDir,
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl App {
    fn start() -> App {
        let python = std::env::var("BLAST_TEST_PYTHON").unwrap_or_else(|_| {
            let venv = std::env::var("HOME").unwrap_or_default() + "/.cache/blast-ci/venv/bin/python";
            assert!(Path::new(&venv).exists(), "BLAST_TEST_PYTHON is not set: run the tests through .ci/run");
            venv
        });
        let dir = ReportDir::new("sessions-app");
        std::fs::write(dir.0.join("app.py"), APP).expect("app.py");
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let child = Command::new(python)
            .args(["-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--log-level", "warning"])
            .current_dir(&dir.0)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start uvicorn");
        let app = App { child, addr: format!("127.0.0.1:{port}"), _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(&app.addr).is_err() {
            assert!(Instant::now() < deadline, "uvicorn did not start on {}", app.addr);
            wait_ms(10);
        }
        app
    }

    fn stats(&self) -> serde_json::Value {
        http_json(&self.addr, "GET", "/stats", None)
    }

    /// Writes `body` (with `TARGET` replaced) as a profile in `dir`, with a users file of
    /// `users` names.
    fn profile(&self, dir: &ReportDir, body: &str, users: usize) -> String {
        let names: String = (0..users).map(|u| format!("user{u}\n")).collect();
        std::fs::write(dir.0.join("users.csv"), format!("name\n{names}")).expect("users");
        let path = dir.0.join("profile.toml");
        std::fs::write(&path, body.replace("TARGET", &format!("http://{}", self.addr))).expect("profile");
        path.to_string_lossy().into_owned()
    }
}

fn row<'a>(j: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    j["names"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["name"] == name))
        .unwrap_or_else(|| panic!("no row {name} in {}", j["names"]))
}

fn n(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// The issue's suite: each user logs in (303 -> /me, the cookie set on the 303), then `/me`
/// and `/old` (301 -> /me).
const SUITE: &str = r#"workload = "api"
[args]
target = "TARGET"
rate = 40
duration = "2s"
conns = 4
cores = 1
users = 5
timeout = "5s"
[data]
users = { file = "users.csv" }
[[on_start]]
name = "POST /login"
method = "POST"
path = "/login"
json = { user = "{{user.name}}" }
[[request]]
name = "GET /me"
path = "/me"
weight = 2
[[request]]
name = "GET /old"
path = "/old"
weight = 1
[[request]]
name = "GET /mine"
path = "/mine?user={{user.name}}"
weight = 1
"#;

/// Every authenticated request succeeds, each with its own user's session; the redirects are
/// followed and counted once under their names.
#[test]
fn logins_cookies_and_redirects_as_locust_users_have_them() {
    // Shared: exact counts judged against the app's.
    let _g = moderate();
    let app = App::start();
    let dir = ReportDir::new("sessions-suite");
    let profile = app.profile(&dir, SUITE, 5);
    let csv = dir.path("run");
    let r = blast(&["run", &profile, "--csv", &csv]);
    let j = r.json.clone().unwrap_or_else(|| panic!("no report: {}{}", r.stdout, r.stderr));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let s = app.stats();
    let (me, old, mine, login) =
        (row(&j, "GET /me"), row(&j, "GET /old"), row(&j, "GET /mine"), row(&j, "POST /login"));
    let sent = |r: &serde_json::Value| n(&r["requests"]["sent"]);
    assert_eq!(n(&j["requests"]["failed"]), 0, "{}", j["errors"]);
    assert_eq!(sent(login), 5, "one login per user");
    assert_eq!(n(&s["logins"]), 5, "{s}");
    // Every /me the server answered was authenticated: direct, through /old, after each login.
    assert_eq!(n(&s["me_denied"]), 0, "{s}");
    assert_eq!(n(&s["me_ok"]), sent(me) + sent(old) + sent(login), "{s}");
    assert_eq!(n(&s["old"]), sent(old), "{s}");
    // Each user sent its own session, never another's.
    assert_eq!((n(&s["mine_wrong"]), n(&s["mine_none"])), (0, 0), "{s}");
    assert_eq!(n(&s["mine_ok"]), sent(mine), "{s}");
    assert!(sent(me) > 0 && sent(old) > 0 && sent(mine) > 0, "{}", j["names"]);
    // A redirect is one request under its name, with the final status; the hops are counted.
    assert_eq!(n(&old["status_codes"]["200"]), sent(old), "{}", old["status_codes"]);
    assert_eq!(n(&login["status_codes"]["200"]), 5, "{}", login["status_codes"]);
    assert_eq!(n(&old["redirects"]), sent(old));
    assert_eq!(n(&login["redirects"]), 5);
    assert!(me.get("redirects").is_none(), "{me}");
    assert_eq!(n(&j["redirects_followed"]), sent(old) + 5);
    // The session ids are secrets: in no output.
    let mut outputs = vec![r.stdout.clone(), r.stderr.clone(), j.to_string()];
    for f in std::fs::read_dir(&dir.0).expect("dir").flatten() {
        outputs.push(std::fs::read_to_string(f.path()).unwrap_or_default());
    }
    for sid in s["sids"].as_array().expect("sids") {
        let sid = sid.as_str().expect("sid");
        assert!(outputs.iter().all(|o| !o.contains(sid)), "{sid} printed");
    }
}

/// `--no-cookies` (and `cookies = false`): no session goes back, so every `/me` is refused as the
/// app says; `--redirects 0` (and `redirects = 0`): a 301 is the answer, not followed.
#[test]
fn no_cookies_and_no_redirects_behave_as_documented() {
    // Shared: statuses and counts.
    let _g = moderate();
    let app = App::start();
    let dir = ReportDir::new("sessions-off");
    let suite = SUITE.replace("users = 5\n", "users = 5\ncookies = false\n");
    let profile = app.profile(&dir, &suite, 5);
    let r = blast(&["run", &profile, "--duration", "1s"]);
    let j = r.json.clone().unwrap_or_else(|| panic!("no report: {}{}", r.stdout, r.stderr));
    assert_eq!(r.code, 1, "the 401s are failures: {}{}", r.stdout, r.stderr);
    let s = app.stats();
    let (me, old) = (row(&j, "GET /me"), row(&j, "GET /old"));
    assert_eq!(n(&s["me_ok"]), 0, "{s}");
    assert_eq!(n(&me["status_codes"]["401"]), n(&me["requests"]["sent"]), "{}", me["status_codes"]);
    // The redirect itself is still followed, to a 401.
    assert_eq!(n(&old["status_codes"]["401"]), n(&old["requests"]["sent"]));

    let before = app.stats();
    let profile = app.profile(&dir, &SUITE.replace("users = 5\n", "users = 5\nredirects = 0\n"), 5);
    let r = blast(&["run", &profile, "--duration", "1s"]);
    let j = r.json.clone().unwrap_or_else(|| panic!("no report: {}{}", r.stdout, r.stderr));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let s = app.stats();
    let (me, old, login) = (row(&j, "GET /me"), row(&j, "GET /old"), row(&j, "POST /login"));
    // The 303 and the 301 are the answers: the app saw no /me after them.
    assert_eq!(n(&login["status_codes"]["303"]), 5, "{}", login["status_codes"]);
    assert_eq!(n(&old["status_codes"]["301"]), n(&old["requests"]["sent"]), "{}", old["status_codes"]);
    let me_seen = n(&s["me_ok"]) + n(&s["me_denied"]) - n(&before["me_ok"]) - n(&before["me_denied"]);
    assert_eq!(me_seen, n(&me["requests"]["sent"]), "{s}");
    // The cookie of the 303 was kept all the same: /me is authenticated.
    assert_eq!(n(&s["me_denied"]), n(&before["me_denied"]), "{s}");
    assert!(j.get("redirects_followed").is_none());
}

/// A cookie with `Max-Age=1` goes back while it lives and never after.
#[test]
fn an_expired_cookie_is_not_sent() {
    // Exclusive: a cookie's Max-Age=1 against the run's seconds.
    let _g = exclusive();
    let app = App::start();
    let dir = ReportDir::new("sessions-expiry");
    let toml = r#"workload = "api"
[args]
target = "TARGET"
rate = 8
duration = "3s"
conns = 1
cores = 1
users = 1
[[on_start]]
name = "GET /short"
path = "/short"
[[request]]
name = "GET /probe"
path = "/probe"
"#;
    let profile = app.profile(&dir, toml, 1);
    let r = blast(&["run", &profile]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let s = app.stats();
    assert_eq!(n(&s["short_sets"]), 1, "{s}");
    let probes = s["probes"].as_array().expect("probes");
    let age = |p: &serde_json::Value| p["age"].as_f64().expect("age");
    // Well inside its second it is sent, well after it never (margins for a busy machine).
    let young: Vec<_> = probes.iter().filter(|p| age(p) < 0.7).collect();
    let old: Vec<_> = probes.iter().filter(|p| age(p) > 1.3).collect();
    assert!(!young.is_empty() && young.iter().all(|p| p["has"] == true), "{s}");
    assert!(old.len() >= 5 && old.iter().all(|p| p["has"] == false), "{s}");
}

/// A chain of 3 redirects, each hop held 100 ms by the app: one request under its name whose
/// latency is the whole chain's (4 answers), the hops in the JSON, the app's hits 4 per request.
#[test]
fn a_redirect_chain_is_one_request_with_its_full_latency() {
    // Shared: a lower bound on latency, which no load breaks.
    let _g = moderate();
    let app = App::start();
    let target = format!("http://{}/chain/3", app.addr);
    let args = ["api", "--target", &target, "--method", "GET", "--rate", "4", "--duration", "1s"];
    let r = blast(&[&args[..], &["--conns", "4", "--cores", "1", "--timeout", "5s"]].concat());
    let j = r.json.clone().unwrap_or_else(|| panic!("no report: {}{}", r.stdout, r.stderr));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let sent = n(&j["requests"]["sent"]);
    assert_eq!(sent, 4);
    assert_eq!(n(&j["status_codes"]["200"]), 4, "{}", j["status_codes"]);
    assert_eq!(n(&app.stats()["chain_hits"]), 4 * sent);
    assert_eq!(n(&j["redirects_followed"]), 3 * sent);
    // Four hops of at least 100 ms each (the app's sleep), timed from the intended send.
    let min = j["latency_ms"]["min"].as_f64().expect("latency");
    assert!(min >= 400.0, "{}", j["latency_ms"]);

    // Past --redirects the request fails, as requests' TooManyRedirects.
    let r = blast(&[&args[..], &["--redirects", "2", "--cores", "1"]].concat());
    let j = r.json.clone().unwrap_or_else(|| panic!("no report: {}{}", r.stdout, r.stderr));
    assert_eq!(r.code, 1);
    assert_eq!(n(&j["errors"]["too_many_redirects"]), 4, "{}", j["errors"]);
}

/// A redirect to another host fails as `redirect_off_target`, unless `--allow-host` names it.
#[test]
fn a_redirect_off_the_target_is_followed_only_to_an_allowed_host() {
    // Shared: errors and counts.
    let _g = moderate();
    let app = App::start();
    let target = format!("http://{}/away", app.addr);
    let args = ["api", "--target", &target, "--method", "GET", "--rate", "4", "--duration", "1s", "--cores", "1"];
    let r = blast(&args);
    let j = r.json.clone().unwrap_or_else(|| panic!("no report: {}{}", r.stdout, r.stderr));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert_eq!(n(&j["errors"]["redirect_off_target"]), 4, "{}", j["errors"]);
    assert_eq!(n(&app.stats()["public"]), 0);
    let port = app.addr.rsplit_once(':').expect("port").1;
    let r = blast(&[&args[..], &["--allow-host", &format!("localhost:{port}")]].concat());
    let j = r.json.clone().unwrap_or_else(|| panic!("no report: {}{}", r.stdout, r.stderr));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(n(&j["status_codes"]["200"]), 4, "{}", j["status_codes"]);
    assert_eq!(n(&app.stats()["public"]), 4);
    let (code, err) = blast_plain(&[&args[..], &["--allow-host", "http://x/"]].concat());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--allow-host"), "{err}");
}

/// A cookie captured with `cookie:sid` is a value like any other, and masked where a check's
/// detail would quote it.
#[test]
fn a_captured_cookie_is_used_and_never_printed() {
    // Shared: counts and outputs.
    let _g = shared();
    let app = App::start();
    let dir = ReportDir::new("sessions-capture");
    let toml = r#"workload = "api"
[args]
target = "TARGET"
rate = 4
duration = "1s"
cores = 1
# The checks are what is tested, not timing: a slow answer on a busy machine is not a failure.
timeout = "10s"
[[flow]]
name = "login and check"
steps = [
  { name = "POST /login", method = "POST", path = "/login", json = { user = "ann" }, capture = { sid = "cookie:sid" } },
  { name = "GET /me", path = "/me", expect = { json = { "/sid" = "{{sid}}" } } },
  { name = "GET /me wrong", path = "/me", expect = { json = { "/sid" = "not-{{sid}}" } } },
]
"#;
    let profile = app.profile(&dir, toml, 1);
    let csv = dir.path("run");
    let r = blast(&["run", &profile, "--csv", &csv]);
    let j = r.json.clone().unwrap_or_else(|| panic!("no report: {}{}", r.stdout, r.stderr));
    assert_eq!(r.code, 1, "the last step fails its check: {}{}", r.stdout, r.stderr);
    assert_eq!(n(&row(&j, "POST /login")["requests"]["completed"]), 4, "{}", r.stdout);
    assert_eq!(n(&row(&j, "GET /me")["requests"]["completed"]), 4, "{}", r.stdout);
    assert_eq!(n(&row(&j, "GET /me")["requests"]["failed"]), 0, "the captured sid is the one the app has");
    assert_eq!(n(&row(&j, "GET /me wrong")["errors"]["expect_body"]), 4, "{}", row(&j, "GET /me wrong"));
    let failures = std::fs::read_to_string(format!("{csv}_failures.csv")).expect("failures csv");
    assert!(failures.contains("[redacted]"), "{failures}");
    for sid in app.stats()["sids"].as_array().expect("sids") {
        let sid = sid.as_str().expect("sid");
        assert!(!failures.contains(sid) && !r.stdout.contains(sid) && !j.to_string().contains(sid), "{sid}");
    }
}

/// nginx as the target of plain `blast api`: `return 301` followed on the connection, and a
/// cookie nginx sets on the 301 (its connection number) sent back on that connection only.
#[test]
fn plain_api_follows_nginx_redirects_with_a_jar_per_connection() {
    // Shared: exact counts judged against nginx's log.
    let _g = light();
    let dir = ReportDir::new("sessions-nginx");
    let d = dir.0.display();
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
    let conf = format!(
        r#"daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 256; }}
http {{
    log_format blast '$connection $request_uri "$http_cookie"';
    access_log {d}/access.log blast;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location = /old {{ add_header Set-Cookie "visit=c$connection; Path=/"; return 301 /new; }}
        location = /new {{ return 200 "ok"; }}
    }}
}}
"#
    );
    std::fs::write(dir.0.join("nginx.conf"), conf).expect("conf");
    let nginx = std::env::var("BLAST_TEST_NGINX").unwrap_or_else(|_| "/usr/sbin/nginx".into());
    let mut child = Command::new(nginx)
        .arg("-p")
        .arg(&dir.0)
        .arg("-e")
        .arg(dir.0.join("error.log"))
        .arg("-c")
        .arg(dir.0.join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn nginx");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nginx not listening");
        wait_ms(20);
    }
    let target = format!("http://127.0.0.1:{port}/old");
    let r =
        blast(&["api", "--target", &target, "--method", "GET", "--rate", "100", "--duration", "1s", "--conns", "4"]);
    let log = std::fs::read_to_string(dir.0.join("access.log")).unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    let j = r.json.clone().unwrap_or_else(|| panic!("no report: {}{}", r.stdout, r.stderr));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(n(&j["requests"]["sent"]), 100);
    assert_eq!(n(&j["status_codes"]["200"]), 100, "{}", j["status_codes"]);
    assert_eq!(n(&j["redirects_followed"]), 100);
    let lines: Vec<(&str, &str, &str)> = log
        .lines()
        .map(|l| {
            let mut f = l.splitn(3, ' ');
            let (c, uri, cookie) = (f.next().unwrap_or(""), f.next().unwrap_or(""), f.next().unwrap_or(""));
            (c, uri, cookie.trim_matches('"'))
        })
        .collect();
    assert_eq!(lines.iter().filter(|l| l.1 == "/old").count(), 100, "{log}");
    assert_eq!(lines.iter().filter(|l| l.1 == "/new").count(), 100, "{log}");
    // Every /new carries the cookie its own connection's 301 set (an intermediate hop's), and
    // no request carries another connection's.
    for (conn, uri, cookie) in &lines {
        let own = format!("visit=c{conn}");
        if *uri == "/new" {
            assert_eq!(*cookie, own, "{log}");
        } else {
            assert!(*cookie == "-" || *cookie == own, "{log}");
        }
    }
}
