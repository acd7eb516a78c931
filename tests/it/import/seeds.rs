//! The seed-style suites not covered by `import_side_by_side` (PrismQ, PGGIT, dashboard), each
//! run by real Locust and, imported, by blast against one FastAPI service the test starts
//! (tests/data/import/seeds_app.py), which counts what it served by route, by client library
//! (HttpUser's requests, FastHttpUser's geventhttpclient), by login token and by status.
//!
//! Locust and blast run at once, each against a service of its own (started side by side), so
//! that each service's counts are one tool's alone, as when they ran one after the other
//! against one service reset in between; blast's counts hold however late its sends are (every
//! slot of the schedule is sent and its answer waited for), and Locust's are checked against
//! its own service and its random mix, not against a rate.
//!
//! For each suite: the same endpoints in both reports; no failure and no status the suite
//! does not expect; each tool's own counts equal the service's (Locust's up to the requests in
//! flight when it stopped, at most one per user); one login per user; and the mix:
//! - blast runs whole cycles of its mix on one core, so every count is its profile's weight
//!   times the cycles, exactly;
//! - Locust picks each task at random by weight, independently of timing, so within a user
//!   class a task's count k of n is binomial: it must lie within 5 standard deviations (+1 for
//!   the rounding) of n x its share, which a correct Locust misses about once in 10^6 checks
//!   (about 30 checks a run). Across classes the shares depend on the wait times' start-up
//!   (every user's first task runs at once), so they are not compared in a 3 s run.

use crate::common::*;
use crate::import_side_by_side::{blast_rows, import, n, run_locust, App};
use std::collections::BTreeMap;
use std::path::Path;

type Rows = BTreeMap<String, (u64, u64)>;

/// The service's count for `key` in its `table` (absent = 0).
fn at(stats: &serde_json::Value, table: &str, key: &str) -> u64 {
    stats[table].get(key).and_then(|v| v.as_u64()).unwrap_or(0)
}

/// The sum of a table of counts.
fn total(stats: &serde_json::Value, table: &str) -> u64 {
    stats[table].as_object().map_or(0, |m| m.values().filter_map(|v| v.as_u64()).sum())
}

/// What one suite's side-by-side run gave: the imported profile, Locust's rows and its
/// service's counts, blast's rows and its service's counts.
struct Ran {
    profile: std::path::PathBuf,
    by_locust: serde_json::Value,
    rows: Rows,
    by_blast: serde_json::Value,
}

/// Imports `file` for `users` users (its mix a cycle of `cycle_of`), then runs it by real Locust
/// (`users` users, 3 s) and, imported, by blast (`rate`/s for `secs` s) at once, each against a
/// service of its own; checks the endpoints, no failure, and each tool's counts against its
/// service's (`routes`: report name and the service's route).
fn side_by_side(file: &str, users: u32, routes: &[(&str, &str)], cycle_of: u64, (rate, secs): (u64, u64)) -> Ran {
    let (app, blast_app) = at_once(|| App::start("seeds_app.py"), || App::start("seeds_app.py"));
    let profile = import(file, users, &blast_app.url());
    assert_eq!(cycle(&profile), cycle_of, "{}", std::fs::read_to_string(&profile).unwrap_or_default());
    let ((code, text, locust), (rows, by_blast)) =
        at_once(|| run_locust(file, users, 3, &app.url()), || run_blast(&blast_app, &profile, rate, secs));
    let by_locust = app.take_stats();
    assert_eq!(code, 0, "{text}");
    same_endpoints(&locust, &rows, routes);
    counts_are_the_services("locust", &locust, &by_locust, routes, u64::from(users));
    counts_are_the_services("blast", &rows, &by_blast, routes, 0);
    Ran { profile, by_locust, rows, by_blast }
}

/// Every name a report row has and the route the service counts it under.
fn same_endpoints(locust: &Rows, blast: &Rows, routes: &[(&str, &str)]) {
    let names = |rows: &Rows| rows.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(locust), names(blast), "locust {locust:?}\nblast {blast:?}");
    let mut want: Vec<String> = routes.iter().map(|(name, _)| name.to_string()).collect();
    want.sort();
    assert_eq!(names(blast), want, "{blast:?}");
    assert!(locust.values().all(|(_, failed)| *failed == 0), "locust failures: {locust:?}");
    assert!(blast.values().all(|(_, failed)| *failed == 0), "blast failures: {blast:?}");
}

/// Each tool's rows are the service's counts: blast's exactly, Locust's short of them by the
/// requests in flight when it stopped (at most one per user).
fn counts_are_the_services(who: &str, rows: &Rows, stats: &serde_json::Value, routes: &[(&str, &str)], slack: u64) {
    let mut missed = 0;
    for (name, route) in routes {
        let seen = rows.get(*name).map_or(0, |r| r.0);
        let served = at(stats, "served", route);
        assert!(seen <= served && served - seen <= slack, "{who} {name}: {seen} against {served}: {stats}");
        missed += served - seen;
    }
    assert!(missed <= slack, "{who}: {missed} requests served and not counted: {stats}");
    let sent: u64 = rows.values().map(|r| r.0).sum();
    assert_eq!(total(stats, "statuses"), sent + missed, "{who}: every request answered once: {stats}");
    assert_eq!(total(stats, "bad"), 0, "{who}: {stats}");
}

/// blast's counts when it ran `cycles` whole cycles of its profile's mix: each request's and
/// each flow step's weight times the cycles, by name.
fn whole_cycles(profile: &Path, cycles: u64) -> BTreeMap<String, u64> {
    let text = std::fs::read_to_string(profile).expect("profile");
    let t: toml::Table = toml::from_str(&text).expect("TOML");
    let mut want = BTreeMap::new();
    let list = |k: &str| t.get(k).and_then(|v| v.as_array()).cloned().unwrap_or_default();
    for r in list("request") {
        let w = r["weight"].as_integer().expect("weight") as u64;
        *want.entry(r["name"].as_str().expect("name").to_string()).or_insert(0) += w * cycles;
    }
    for f in list("flow") {
        let w = f["weight"].as_integer().expect("weight") as u64;
        for s in f["steps"].as_array().expect("steps") {
            let times = s.get("repeat").and_then(|r| r.as_integer()).unwrap_or(1) as u64;
            *want.entry(s["name"].as_str().expect("name").to_string()).or_insert(0) += w * times * cycles;
        }
    }
    want
}

/// The cycle of a profile's mix: its requests' and flows' weights added up.
fn cycle(profile: &Path) -> u64 {
    let text = std::fs::read_to_string(profile).expect("profile");
    let t: toml::Table = toml::from_str(&text).expect("TOML");
    ["request", "flow"]
        .iter()
        .filter_map(|k| t.get(*k).and_then(|v| v.as_array()))
        .flatten()
        .map(|r| r["weight"].as_integer().expect("weight") as u64)
        .sum()
}

/// `blast run PROFILE` on one core (one lane: whole cycles from the cycle's start) at `rate`
/// for `secs`: its rows (flow rows left out) and the service's counts.
fn run_blast(app: &App, profile: &Path, rate: u64, secs: u64) -> (Rows, serde_json::Value) {
    let (rate, duration) = (rate.to_string(), format!("{secs}s"));
    let run =
        blast(&["run", profile.to_str().expect("path"), "--cores", "1", "--rate", &rate, "--duration", &duration]);
    let stats = app.take_stats();
    assert_eq!(run.code, 0, "{}\n{stats}", run.stderr);
    (blast_rows(&run.json.expect("report")), stats)
}

/// Locust's shares within one user class: each task's count (its first request's) within its
/// binomial spread of the suite's weights (see the module's comment). `tasks`: (what, weight,
/// count).
fn locust_class_mix(class: &str, tasks: &[(&str, u64, u64)], stats: &serde_json::Value) {
    let n: u64 = tasks.iter().map(|t| t.2).sum();
    let w: u64 = tasks.iter().map(|t| t.1).sum();
    assert!(n >= 50, "{class}: only {n} tasks: {stats}");
    for (what, weight, k) in tasks {
        let p = *weight as f64 / w as f64;
        let (mean, spread) = (n as f64 * p, 5.0 * (n as f64 * p * (1.0 - p)).sqrt() + 1.0);
        assert!(
            (*k as f64 - mean).abs() <= spread,
            "{class} {what}: {k} of {n} tasks, {mean:.1} +- {spread:.1}: {stats}"
        );
    }
}

/// The tasks of a class as `locust_class_mix` takes them: each route's count in `table`.
fn by_route<'a>(table: &serde_json::Value, tasks: &[(&'a str, u64)]) -> Vec<(&'a str, u64, u64)> {
    tasks.iter().map(|&(route, w)| (route, w, table.get(route).and_then(|v| v.as_u64()).unwrap_or(0))).collect()
}

/// PrismQ: two user classes (3:1, HttpUser and FastHttpUser) with their own weights and wait
/// times, a flow passing a run id on, `params=`, `%` and `.format` paths.
#[test]
fn prismq_matches_locust_on_one_service() {
    // Exclusive: real Locust (a Python process busy on a core) beside blast, both at once.
    let _g = exclusive();
    const USERS: u32 = 200;
    let routes = [
        ("GET /modules", "GET /api/v1/modules"),
        ("GET /runs", "GET /api/v1/runs"),
        ("GET /modules/{id}/config", "GET /api/v1/modules/{id}/config"),
        ("/health", "GET /health"),
        ("GET /system/stats", "GET /api/v1/system/stats"),
        ("POST /modules/{id}/run", "POST /api/v1/modules/{id}/run"),
        ("GET /runs/{id}", "GET /api/v1/runs/{id}"),
        ("GET /runs/{id}/logs", "GET /api/v1/runs/{id}/logs"),
        ("PUT /modules/{id}/config", "PUT /api/v1/modules/{id}/config"),
    ];
    // the classes' tasks per second make a cycle of 578 (see tests/it/import.rs): one cycle,
    // at 289/s for 2 s
    let Ran { profile, by_locust, rows, by_blast } = side_by_side("prismq_backend.py", USERS, &routes, 578, (289, 2));
    for (name, want) in whole_cycles(&profile, 1) {
        assert_eq!(rows.get(&name).map(|r| r.0), Some(want), "blast {name}: {rows:?}");
    }
    assert_eq!(total(&by_blast, "statuses"), at(&by_blast, "statuses", "200"), "{by_blast}");
    // the flow: every run blast launched was read and its logs fetched, with the id returned
    let launched = at(&by_blast, "served", "POST /api/v1/modules/{id}/run");
    assert_eq!(at(&by_blast, "served", "GET /api/v1/runs/{id}/logs"), launched, "{by_blast}");
    // Locust: only 200s, every class's mix within its spread, a flow cut at most once per user
    assert_eq!(total(&by_locust, "statuses"), at(&by_locust, "statuses", "200"), "{by_locust}");
    let requests = [
        ("GET /api/v1/modules", 5),
        ("GET /api/v1/runs", 4),
        ("GET /api/v1/modules/{id}/config", 3),
        ("GET /health", 2),
        ("GET /api/v1/system/stats", 2),
        ("POST /api/v1/modules/{id}/run", 1),
        ("PUT /api/v1/modules/{id}/config", 1),
    ];
    locust_class_mix("PrismQUser", &by_route(&by_locust["by_agent"]["python-requests"], &requests), &by_locust);
    let poller = [("GET /api/v1/runs", 10), ("GET /api/v1/system/stats", 5), ("GET /health", 2)];
    locust_class_mix("DashboardPoller", &by_route(&by_locust["by_agent"]["gevent"], &poller), &by_locust);
    let (runs, logs) = (
        at(&by_locust, "served", "POST /api/v1/modules/{id}/run"),
        at(&by_locust, "served", "GET /api/v1/runs/{id}/logs"),
    );
    assert!(logs <= runs && runs - logs <= u64::from(USERS), "{by_locust}");
}

/// PGGIT: `tasks = {fn: 2}` beside `@task`s, tags, catch_response checks (201, a body that
/// must say "alerts"), a webhook id passed on, a `range(3)` loop, and a helper building the
/// headers with a fresh X-Request-Id for every request.
#[test]
fn pggit_matches_locust_on_one_service() {
    // Exclusive: real Locust (a Python process busy on a core) beside blast, both at once.
    let _g = exclusive();
    const USERS: u32 = 50;
    let routes = [
        ("GET /api/v1/branches", "GET /api/v1/branches"),
        ("GET /api/v1/commits", "GET /api/v1/commits"),
        ("POST /api/v1/webhooks", "POST /api/v1/webhooks"),
        ("POST /api/v1/webhooks/{id}/test", "POST /api/v1/webhooks/{id}/test"),
        ("GET /api/v1/alerts", "GET /api/v1/alerts"),
        ("GET /api/v1/repos", "GET /api/v1/repos"),
    ];
    // constant_throughput(2) x 50 users: 100 tasks/s, 30 cycles of 10 in 3 s
    let Ran { profile, by_locust, rows, by_blast } = side_by_side("pggit_api.py", USERS, &routes, 10, (100, 3));
    for (name, want) in whole_cycles(&profile, 30) {
        assert_eq!(rows.get(&name).map(|r| r.0), Some(want), "blast {name}: {rows:?}");
    }
    for (who, stats) in [("locust", &by_locust), ("blast", &by_blast)] {
        // a fresh X-Request-Id on every request, the bearer on every one (no refusal)
        let served = total(stats, "served");
        assert_eq!(n(stats, "distinct_request_ids"), served, "{who}: {stats}");
        // the webhook's 201, checked by both
        assert_eq!(at(stats, "statuses", "201"), at(stats, "served", "POST /api/v1/webhooks"), "{who}: {stats}");
        assert_eq!(at(stats, "statuses", "201") + at(stats, "statuses", "200"), total(stats, "statuses"), "{who}");
    }
    // blast: whole flows (a test for every webhook, pages 0, 1, 2 of every repo visit)
    let hooks = at(&by_blast, "served", "POST /api/v1/webhooks");
    assert_eq!(at(&by_blast, "served", "POST /api/v1/webhooks/{id}/test"), hooks, "{by_blast}");
    let pages = [at(&by_blast, "pages", "0"), at(&by_blast, "pages", "1"), at(&by_blast, "pages", "2")];
    assert_eq!(pages, [30, 30, 30], "{by_blast}");
    // Locust: the mix within its spread; a flow cut at most once per user
    let tasks = [
        ("GET /api/v1/commits", 4),
        ("POST /api/v1/webhooks", 2),
        ("GET /api/v1/alerts", 1),
        ("GET /api/v1/branches", 2),
    ];
    let mut mix = by_route(&by_locust["served"], &tasks);
    mix.push(("repo_page", 1, at(&by_locust, "pages", "0")));
    locust_class_mix("PggitUser", &mix, &by_locust);
    let pages = [at(&by_locust, "pages", "0"), at(&by_locust, "pages", "1"), at(&by_locust, "pages", "2")];
    assert!(pages[0] >= pages[1] && pages[1] >= pages[2] && pages[0] - pages[2] <= u64::from(USERS), "{by_locust}");
    let (made, fired) = (
        at(&by_locust, "served", "POST /api/v1/webhooks"),
        at(&by_locust, "served", "POST /api/v1/webhooks/{id}/test"),
    );
    assert!(fired <= made && made - fired <= u64::from(USERS), "{by_locust}");
}

/// Dashboard: a login in `on_start` whose token goes on the session's headers, a loop over a
/// module-level list of widgets (names from an f-string), and an export whose Location header
/// the next request sends back.
#[test]
fn dashboard_matches_locust_on_one_service() {
    // Exclusive: real Locust (a Python process busy on a core) beside blast, both at once.
    let _g = exclusive();
    const USERS: u32 = 60;
    let routes = [
        ("POST /auth/login", "POST /auth/login"),
        ("GET /v1/dashboards/{id}", "GET /v1/dashboards/{id}"),
        ("GET /widgets/revenue", "GET /v1/dashboards/{id}/widgets/revenue"),
        ("GET /widgets/signups", "GET /v1/dashboards/{id}/widgets/signups"),
        ("GET /widgets/churn", "GET /v1/dashboards/{id}/widgets/churn"),
        ("/v1/dashboards/42/export", "POST /v1/dashboards/{id}/export"),
        ("GET /v1/exports/status", "GET /v1/exports/status"),
    ];
    // constant_pacing(2) x 60 users: 30 tasks/s, 9 cycles of 10 in 3 s (every user has one)
    let Ran { profile, by_locust, rows, by_blast } = side_by_side("dashboard_api.py", USERS, &routes, 10, (30, 3));
    let mut want = whole_cycles(&profile, 9);
    want.insert("POST /auth/login".into(), u64::from(USERS));
    for (name, want) in want {
        assert_eq!(rows.get(&name).map(|r| r.0), Some(want), "blast {name}: {rows:?}");
    }
    for (who, stats) in [("locust", &by_locust), ("blast", &by_blast)] {
        // one login per user, and each user's requests carry the token its own login got:
        // every token issued is used, none twice over by another user's requests
        assert_eq!(n(stats, "logins"), u64::from(USERS), "{who}: {stats}");
        assert_eq!(stats["by_token"].as_object().map(|m| m.len()), Some(USERS as usize), "{who}: {stats}");
        let exports = at(stats, "served", "POST /v1/dashboards/{id}/export");
        assert_eq!(at(stats, "statuses", "202"), exports, "{who}: {stats}");
        assert_eq!(at(stats, "statuses", "202") + at(stats, "statuses", "200"), total(stats, "statuses"), "{who}");
    }
    // blast: whole flows, every export's status fetched with the job its Location named
    let widgets = ["revenue", "signups", "churn"]
        .map(|w| at(&by_blast, "served", &format!("GET /v1/dashboards/{{id}}/widgets/{w}")));
    assert_eq!(widgets, [27, 27, 27], "{by_blast}");
    assert_eq!(at(&by_blast, "served", "GET /v1/exports/status"), 9, "{by_blast}");
    // Locust: the mix within its spread, flows cut at most once per user
    let tasks = [
        ("GET /v1/dashboards/{id}", 6),
        ("GET /v1/dashboards/{id}/widgets/revenue", 3),
        ("POST /v1/dashboards/{id}/export", 1),
    ];
    locust_class_mix("DashboardUser", &by_route(&by_locust["served"], &tasks), &by_locust);
    let w = ["revenue", "signups", "churn"]
        .map(|w| at(&by_locust, "served", &format!("GET /v1/dashboards/{{id}}/widgets/{w}")));
    assert!(w[0] >= w[1] && w[1] >= w[2] && w[0] - w[2] <= u64::from(USERS), "{by_locust}");
}
