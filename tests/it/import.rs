//! `blast import`: Locust files in the style of the seeds' suites import with nothing left out
//! and the profiles they become are accepted by `blast run --dry-run`; constructs outside the
//! subset are listed by line (exit 1); unreadable input exits 2 with nothing written.

mod har_cookies;
mod seeds;
mod styles;

use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/import").join(name)
}

/// `blast import FILE -o DIR/OUT.toml [extra]`: exit code, stderr, the profile written.
fn import(file: &str, extra: &[&str]) -> (i32, String, String, PathBuf) {
    let dir = temp_path("import");
    std::fs::create_dir_all(&dir).expect("dir");
    let out = dir.join(Path::new(file).with_extension("toml"));
    let src = data(file);
    let mut args = vec!["import".to_string(), src.display().to_string(), "-o".into(), out.display().to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    let o = Command::new(BLAST).args(&args).output().expect("run blast import");
    let toml = std::fs::read_to_string(&out).unwrap_or_default();
    (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stderr).into_owned(), toml, out)
}

/// `blast run PROFILE --dry-run` accepts the profile as written (JSON bodies, multipart,
/// split, checks and tags included).
fn dry_run_accepts(profile: &Path) {
    let (code, err) = blast_plain(&["run", &profile.display().to_string(), "--dry-run"]);
    assert_eq!(code, 0, "dry-run of {}: {err}", profile.display());
}

fn parse(toml: &str) -> toml::Table {
    toml::from_str(toml).unwrap_or_else(|e| panic!("not TOML: {e}\n{toml}"))
}

fn items<'a>(t: &'a toml::Table, kind: &str) -> Vec<&'a toml::Table> {
    t.get(kind).and_then(|v| v.as_array()).map_or_else(Vec::new, |a| a.iter().filter_map(|v| v.as_table()).collect())
}

fn by_name<'a>(list: &[&'a toml::Table], name: &str) -> &'a toml::Table {
    list.iter().copied().find(|r| r["name"].as_str() == Some(name)).unwrap_or_else(|| panic!("no {name}"))
}

fn weight(t: &toml::Table) -> i64 {
    t["weight"].as_integer().expect("weight")
}

/// Every seed-style Locust file: exit 0, nothing untranslated, a profile `blast run` accepts.
#[test]
fn seed_style_locust_files_import_completely() {
    for file in ["chat4all_api.py", "chat4all_upload.py", "prismq_backend.py", "pggit_api.py", "dashboard_api.py"] {
        let (code, err, toml, out) = import(file, &[]);
        assert_eq!(code, 0, "{file}: {err}");
        assert!(err.contains("every construct translated"), "{file}: {err}");
        assert!(!toml.contains("NOT TRANSLATED"), "{file}:\n{toml}");
        parse(&toml);
        dry_run_accepts(&out);
    }
}

/// The README's Chat4All API test: one login per user from the users file, 10:1 post/read,
/// the token on every request, a JSON body with the user's columns.
#[test]
fn chat4all_api_login_and_mix() {
    let (code, err, toml, _) = import("chat4all_api.py", &["--users", "300"]);
    assert_eq!(code, 0, "{err}");
    let t = parse(&toml);
    let users = t["data"]["users"]["file"].as_str().expect("users file");
    assert!(Path::new(users).exists(), "{users}");
    let on_start = items(&t, "on_start");
    assert_eq!(on_start.len(), 1);
    assert_eq!(on_start[0]["path"].as_str(), Some("/auth/login"));
    assert_eq!(on_start[0]["capture"]["token"].as_str(), Some("/access_token"));
    assert_eq!(on_start[0]["json"]["username"].as_str(), Some("{{user.name}}"));
    let req = items(&t, "request");
    let post = by_name(&req, "POST /v1/messages");
    let get = by_name(&req, "GET /v1/conversations");
    assert_eq!((weight(post), weight(get)), (10, 1));
    assert_eq!(post["json"]["content"].as_str(), Some("{{random_text 64}}"));
    assert_eq!(post["json"]["client_ts"].as_str(), Some("{{=now_ms}}"));
    assert_eq!(post["headers"]["Authorization"].as_str(), Some("Bearer {{token}}"));
    assert_eq!(get["path"].as_str(), Some("/v1/conversations?limit=20"));
    // between(1, 2): 300 users / 1.5 s
    assert_eq!(t["args"]["rate"].as_str(), Some("200"));
    assert_eq!(t["args"]["target"].as_str(), Some("http://127.0.0.1:8000"));
}

/// The chunked upload: initiate (201, captures the id), 64 MiB in 10 MiB multipart chunks
/// (slow over 5 s), complete checked against the SHA-256 of the bytes sent.
#[test]
fn chat4all_upload_becomes_split_multipart_flow() {
    let (code, err, toml, _) = import("chat4all_upload.py", &[]);
    assert_eq!(code, 0, "{err}");
    let t = parse(&toml);
    let flows = items(&t, "flow");
    assert_eq!(flows.len(), 1);
    let steps: Vec<&toml::Table> =
        flows[0]["steps"].as_array().expect("steps").iter().filter_map(|s| s.as_table()).collect();
    assert_eq!(steps.len(), 3, "{toml}");
    assert_eq!(steps[0]["capture"]["upload_id"].as_str(), Some("/upload_id"));
    assert_eq!(steps[0]["expect"]["status"].as_array().map(Vec::len), Some(1));
    assert_eq!(steps[0]["json"]["size"].as_integer(), Some(64 << 20));
    assert_eq!(steps[1]["path"].as_str(), Some("/v1/files/{{upload_id}}/chunks"));
    assert_eq!(steps[1]["split"]["total"].as_str(), Some("64M"));
    assert_eq!(steps[1]["split"]["chunk"].as_str(), Some("10M"));
    assert_eq!(steps[1]["slow"].as_str(), Some("5s"));
    let parts = steps[1]["multipart"].as_array().expect("multipart");
    assert_eq!(parts[0]["value"].as_str(), Some("{{i}}"));
    assert_eq!(parts[1]["chunk"].as_bool(), Some(true));
    assert_eq!(parts[1]["filename"].as_str(), Some("chunk-{{i}}.bin"));
    assert_eq!(steps[2]["expect"]["json"]["/sha256"].as_str(), Some("{{sent_sha256}}"));
    let statuses: Vec<i64> =
        steps[2]["expect"]["status"].as_array().expect("status").iter().filter_map(|s| s.as_integer()).collect();
    assert_eq!(statuses, [200, 201]);
    assert!(steps.iter().all(|s| s["headers"]["Authorization"].as_str() == Some("Bearer {{access_token}}")));
}

/// Two user classes (weights 3 and 1) with their own task weights and wait times become one
/// exact mix, each class's share being its tasks per second (as in Locust's steady state); a
/// task calling several endpoints in order becomes a flow passing the id on.
#[test]
fn prismq_classes_and_tasks_make_one_mix() {
    let (code, err, toml, _) = import("prismq_backend.py", &[]);
    assert_eq!(code, 0, "{err}");
    let t = parse(&toml);
    let req = items(&t, "request");
    let modules = by_name(&req, "GET /modules");
    let polls: Vec<&&toml::Table> = req.iter().filter(|r| r["name"].as_str() == Some("GET /runs")).collect();
    assert_eq!(polls.len(), 2, "one row per class's task");
    // 3 users per 2 s (between(1, 3)) against 1 per 0.75 s (between(0.5, 1)); within them
    // 5/18 (get_modules) and 10/17 (poll_runs): (3/2 * 5/18) / (1/0.75 * 10/17) = 17/32
    let poll = polls.iter().map(|r| weight(r)).max().expect("poll");
    assert_eq!(weight(modules) * 32, poll * 17, "{toml}");
    let flow = by_name(&items(&t, "flow"), "launch_and_follow");
    let steps = flow["steps"].as_array().expect("steps");
    assert_eq!(steps[0]["capture"]["run_id"].as_str(), Some("/run_id"));
    assert_eq!(steps[2]["path"].as_str(), Some("/api/v1/runs/{{run_id}}/logs?tail=100"));
    assert_eq!(steps[0]["json"]["parameters"]["max_results"].as_integer(), Some(10));
    assert_eq!(
        by_name(&req, "GET /modules/{id}/config")["path"].as_str(),
        Some("/api/v1/modules/youtube-shorts/config")
    );
    assert_eq!(by_name(&req, "GET /system/stats")["path"].as_str(), Some("/api/v1/system/stats"));
}

/// Tags, catch_response checks, a module-level task function in `tasks = {fn: N}`, a helper
/// method returning headers, a range loop as `repeat`.
#[test]
fn pggit_tags_checks_and_loops() {
    let (code, err, toml, _) = import("pggit_api.py", &[]);
    assert_eq!(code, 0, "{err}");
    let t = parse(&toml);
    let req = items(&t, "request");
    let commits = by_name(&req, "GET /api/v1/commits");
    assert_eq!(commits["tags"].as_array().map(|a| a[0].as_str()), Some(Some("rest_endpoints")));
    assert_eq!(commits["expect"]["status"].as_array().map(|a| a[0].as_integer()), Some(Some(200)));
    assert_eq!(commits["headers"]["X-Request-Id"].as_str(), Some("{{uuid}}"));
    let alerts = by_name(&req, "GET /api/v1/alerts");
    assert_eq!(alerts["expect"]["body_contains"].as_str(), Some("alerts"));
    assert_eq!(alerts["slow"].as_str(), Some("500ms"));
    assert_eq!(weight(by_name(&req, "GET /api/v1/branches")), 2);
    let flows = items(&t, "flow");
    let hook = by_name(&flows, "create_and_fire_webhook");
    assert_eq!(hook["tags"].as_array().map(|a| a[0].as_str()), Some(Some("webhooks")));
    let pages = by_name(&flows, "repo_page");
    assert_eq!(pages["steps"][0]["repeat"].as_integer(), Some(3));
    assert_eq!(pages["steps"][0]["path"].as_str(), Some("/api/v1/repos?page={{i}}"));
    // constant_throughput(2) for 100 users
    assert_eq!(t["args"]["rate"].as_str(), Some("200"));
}

/// A while loop with a random branch, gevent calls and a custom client: each listed by line
/// on stderr and as a comment at its place; what could be translated still runs.
#[test]
fn constructs_outside_the_subset_are_listed_by_line() {
    let (code, err, toml, out) = import("unsupported.py", &[]);
    assert_eq!(code, 1, "{err}");
    for (line, what) in [(28, "while"), (35, "gevent"), (36, "gevent"), (43, "custom client"), (47, "custom client")] {
        let at = format!("unsupported.py:{line}:");
        let hit = err.lines().find(|l| l.contains(&at)).unwrap_or_else(|| panic!("{at} not listed: {err}"));
        assert!(hit.contains(what), "{hit}");
        assert!(toml.contains(&format!("# NOT TRANSLATED {}", data("unsupported.py").display())), "{toml}");
    }
    assert!(err.contains("5 constructs not translated"), "{err}");
    let t = parse(&toml);
    assert_eq!(items(&t, "request").len(), 1, "{toml}");
    dry_run_accepts(&out);
}

/// Input that cannot be read: one line on stderr, exit 2, no profile written.
#[test]
fn unreadable_input_exits_2_and_writes_nothing() {
    let dir = temp_path("import-bad");
    std::fs::create_dir_all(&dir).expect("dir");
    let syntax = dir.join("broken.py");
    std::fs::write(&syntax, "from locust import HttpUser\n\nclass A(HttpUser):\n    def x(self)\n        pass\n")
        .expect("w");
    let no_user = dir.join("plain.py");
    std::fs::write(&no_user, "print('hello')\n").expect("w");
    let swagger = dir.join("swagger.json");
    std::fs::write(&swagger, r#"{"swagger": "2.0", "paths": {}}"#).expect("w");
    let missing = dir.join("missing.py");
    let out = dir.join("out.toml");
    let good = data("chat4all_api.py");
    for (file, extra, says) in [
        (&syntax, vec![], "broken.py:4:"),
        (&no_user, vec![], "no HttpUser"),
        (&swagger, vec![], "Swagger 2"),
        (&missing, vec![], "missing.py"),
        (&good, vec!["--host", "localhost:8000"], "--host"),
    ] {
        let mut args = vec!["import", file.to_str().expect("path"), "-o", out.to_str().expect("path")];
        args.extend(extra);
        let (code, err) = blast_plain(&args);
        assert_eq!(code, 2, "{}: {err}", file.display());
        assert!(err.contains(says) && err.trim().lines().count() == 1, "{}: {err}", file.display());
        assert!(!out.exists(), "{} wrote a profile", file.display());
    }
}

/// A HAR export: one flow per page, the other host's request left out, the recorded token
/// replaced by a capture of the login's answer. Run against `blast serve --require-auth`
/// (where the recorded token is refused), every iteration logs in and is let in.
#[test]
fn har_page_becomes_a_flow_with_a_fresh_token() {
    // Shared: exact counts at 20/s.
    let _g = light();
    let mut server = Server::start(&["--require-auth"]);
    let (code, err, toml, out) = import("chat.har", &["--host", &server.url()]);
    assert_eq!(code, 0, "{err}");
    let t = parse(&toml);
    let flows = items(&t, "flow");
    assert_eq!(flows.len(), 1, "{toml}");
    let steps = flows[0]["steps"].as_array().expect("steps");
    let names: Vec<&str> = steps.iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(names, ["POST /auth/login", "GET /v1/conversations", "POST /v1/messages"]);
    let var = steps[0]["capture"].as_table().and_then(|c| c.keys().next().cloned()).expect("a capture");
    assert_eq!(steps[0]["capture"][&var].as_str(), Some("/access_token"));
    assert_eq!(steps[1]["headers"]["Authorization"].as_str(), Some(format!("Bearer {{{{{var}}}}}").as_str()));
    assert!(!toml.contains("recorded-token") && !toml.contains("cdn.example.com"), "{toml}");
    let run = blast(&["run", out.to_str().expect("path"), "--rate", "20", "--duration", "1s"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json.expect("report");
    let flows_done = report["names"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["name"] == "Chat4All - conversations"))
        .map(|r| {
            assert_eq!(f(r, "/requests/ok"), f(r, "/requests/sent"), "{r}");
            f(r, "/requests/ok")
        })
        .expect("the flow's row");
    let logins = server.json("GET", "/stats/logins", None);
    assert_eq!(logins["total"].as_f64(), Some(flows_done), "{logins}");
    assert_eq!(logins["unauthorized"].as_u64(), Some(0), "{logins}");
    assert!(flows_done >= 15.0, "{flows_done}");
    server.kill();
}

/// A Python with FastAPI and uvicorn: `BLAST_TEST_PYTHON` (set by .ci/run), else CI's venv.
fn fastapi_python() -> String {
    // Checked once per test process: the import is a Python start-up, most of a second.
    static CHECKED: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    CHECKED
        .get_or_init(|| {
            let venv =
                std::env::var("HOME").map(|h| format!("{h}/.cache/blast-ci/venv/bin/python")).unwrap_or_default();
            let py = std::env::var("BLAST_TEST_PYTHON").unwrap_or(venv);
            let ok =
                Command::new(&py).args(["-c", "import fastapi, uvicorn"]).output().is_ok_and(|o| o.status.success());
            assert!(ok, "{py} lacks fastapi/uvicorn: `bash .ci/run` installs them (or set BLAST_TEST_PYTHON)");
            py
        })
        .clone()
}

/// The OpenAPI document FastAPI serves for a small app: every operation imported with an
/// example body the app's own validation accepts (no 422), path parameters filled in.
#[test]
fn fastapi_openapi_document_imports_and_runs() {
    // Shared: exact counts at 50/s against the app.
    let _g = shared();
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let addr = format!("127.0.0.1:{port}");
    let mut app = Command::new(fastapi_python())
        .arg(data("openapi_app.py"))
        .arg(port.to_string())
        .spawn()
        .expect("start the FastAPI app");
    let mut doc = None;
    // Polled every 10 ms, 10 s in all: the app is used as soon as it listens.
    for _ in 0..1000 {
        if std::net::TcpStream::connect(&addr).is_ok() {
            doc = Some(http_json(&addr, "GET", "/openapi.json", None));
            break;
        }
        wait_ms(10);
    }
    let doc = doc.expect("the app answered");
    let dir = temp_path("openapi");
    std::fs::create_dir_all(&dir).expect("dir");
    let spec = dir.join("openapi.json");
    std::fs::write(&spec, doc.to_string()).expect("write");
    let out = dir.join("api.toml");
    let url = format!("http://{addr}");
    let (code, err) =
        blast_plain(&["import", spec.to_str().expect("p"), "-o", out.to_str().expect("p"), "--host", &url]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("5 requests"), "{err}");
    let toml = std::fs::read_to_string(&out).expect("profile");
    let t = parse(&toml);
    let req = items(&t, "request");
    let get = by_name(&req, "GET /v1/conversations/{conversation_id}/messages");
    assert!(get["path"].as_str().is_some_and(|p| p.contains("{{uuid}}")), "{toml}");
    let run = blast(&["run", out.to_str().expect("p"), "--rate", "50", "--duration", "1s"]);
    let counts = http_json(&addr, "GET", "/counts", None);
    let _ = app.kill();
    let _ = app.wait();
    assert_eq!(run.code, 0, "{}\n{toml}", run.stderr);
    let report = run.json.expect("report");
    for name in [
        "POST /auth/login",
        "POST /v1/messages",
        "GET /v1/conversations",
        "GET /v1/conversations/{conversation_id}/messages",
        "DELETE /v1/messages/{message_id}",
    ] {
        let sent = report["names"]
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["name"] == name))
            .map(|r| {
                assert_eq!(f(r, "/requests/ok"), f(r, "/requests/sent"), "{r}");
                f(r, "/requests/ok")
            })
            .unwrap_or_else(|| panic!("no row {name}"));
        assert!(sent >= 5.0, "{name}: {sent}");
        assert_eq!(counts[name].as_f64(), Some(sent), "{name}: the app counted {counts}");
    }
}
