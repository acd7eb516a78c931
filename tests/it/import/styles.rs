//! `blast import` on Locust files written the usual ways (tests/data/import): the docs'
//! quickstart, TaskSets nested and interrupting, a SequentialTaskSet checkout, a FastHttpUser
//! with rest(), an e-commerce suite (random ids, json.dumps, on_stop, a LoadTestShape), an API
//! suite with headers built in on_start (and an event hook). Each imports with only what blast
//! truly cannot do listed by line, `blast run --dry-run` accepts it, and three run against a
//! small FastAPI shop (tests/data/import/shop_app.py) that counts what it received: blast's
//! report is the shop's count, exactly; the checkout also runs under real Locust beside it.

use super::{data, dry_run_accepts, fastapi_python, import, items, parse, weight};
use crate::common::*;
use crate::import_side_by_side::{blast_rows, run_locust};
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};

/// The lines `blast import` listed as not translated (`  file:LINE: ...` on stderr).
fn listed(err: &str) -> Vec<usize> {
    err.lines()
        .filter_map(|l| l.trim().split(':').nth(1).filter(|_| l.starts_with("  ")).and_then(|n| n.parse().ok()))
        .collect()
}

/// Every style: the exit code, the lines left out (only what blast cannot do), a profile
/// `blast run` accepts.
#[test]
fn usual_locust_styles_import() {
    let cases: &[(&str, &[usize], &str)] = &[
        ("quickstart.py", &[18], "time.sleep"),
        ("taskset_forum.py", &[], ""),
        ("sequential_checkout.py", &[], ""),
        ("fasthttp_rest.py", &[], ""),
        ("ecommerce.py", &[20, 46], "on_stop"),
        ("api_headers.py", &[7], "event hook"),
        ("nested_taskset.py", &[], ""),
        // a set's own wait_time, a set that never hands back beside others, an on_start on
        // every entry
        ("taskset_edges.py", &[6, 14, 28], "never calls self.interrupt()"),
    ];
    for (file, lines, why) in cases {
        let (code, err, toml, out) = import(file, &[]);
        assert_eq!(listed(&err), *lines, "{file}: {err}\n{toml}");
        assert_eq!(code, if lines.is_empty() { 0 } else { 1 }, "{file}: {err}");
        assert!(err.contains(why), "{file}: {err}");
        assert_eq!(toml.matches("NOT TRANSLATED").count(), lines.len(), "{file}:\n{toml}");
        parse(&toml);
        dry_run_accepts(&out);
    }
}

/// A set that interrupts joins its parent's mix at its weight times t_k / t_interrupt: the
/// forum's 10:3 set picked 2:1 against index, left by a 1-weight stop, is index 1 : view 20 :
/// search 6; a set picked by `@task(3)` on a nested class with `self.user` attributes.
#[test]
fn task_sets_fold_into_one_exact_mix() {
    let (code, err, toml, _) = import("taskset_forum.py", &["--users", "10"]);
    assert_eq!(code, 0, "{err}");
    let t = parse(&toml);
    let reqs = items(&t, "request");
    let w: BTreeMap<&str, i64> = reqs.iter().map(|r| (r["path"].as_str().expect("path"), weight(r))).collect();
    assert_eq!(w, BTreeMap::from([("/", 1), ("/products/7", 20), ("/search?q=lamp", 6)]), "{toml}");
    // the set's on_start runs once per user (the set never hands back)
    assert_eq!(items(&t, "on_start").len(), 1, "{toml}");
    // stop takes no wait of its own: 10 users / between(1, 3) = 5/s
    assert_eq!(t["args"]["rate"].as_str(), Some("5"), "{toml}");

    let (code, err, toml, _) = import("nested_taskset.py", &[]);
    assert_eq!(code, 0, "{err}");
    let t = parse(&toml);
    let w: BTreeMap<&str, i64> =
        items(&t, "request").iter().map(|r| (r["path"].as_str().expect("path"), weight(r))).collect();
    let want = [("/products?category=desks", 6), ("/hello", 3), ("/", 3), ("/search?q=chair", 1)];
    assert_eq!(w, BTreeMap::from(want), "{toml}");
}

/// A SequentialTaskSet is one flow of its tasks in order, `@task(2)` twice in a row, values a
/// task stores on `self` captured for the next; its on_start is the user's.
#[test]
fn sequential_task_set_becomes_one_flow() {
    let (code, err, toml, _) = import("sequential_checkout.py", &["--users", "3"]);
    assert_eq!(code, 0, "{err}");
    let t = parse(&toml);
    let flows = items(&t, "flow");
    assert_eq!(flows.len(), 1, "{toml}");
    let steps: Vec<&str> =
        flows[0]["steps"].as_array().expect("steps").iter().map(|s| s["name"].as_str().expect("name")).collect();
    assert_eq!(
        steps,
        [
            "/products?category={{pick lamps,desks,chairs}}",
            "/products/[id]",
            "/products/[id]",
            "/cart/items",
            "/checkout/[cart]",
            "/orders/[id]"
        ],
        "{toml}"
    );
    assert!(toml.contains("path = \"/checkout/{{cart_id}}\"") && toml.contains("path = \"/orders/{{order_id}}\""));
    assert!(toml.contains("expect = { status = [201] }"), "{toml}");
    assert_eq!(items(&t, "on_start").len(), 1, "{toml}");
    // six waits of 0.5 s per pass: 3 users / 3 s = 1 flow/s
    assert_eq!(t["args"]["rate"].as_str(), Some("1"), "{toml}");
}

/// Value expressions: rest() and resp.js, client.request, json.dumps with a JSON Content-Type,
/// "+" concatenation, str(uuid4()), random ids, params=, headers kept on self.
#[test]
fn common_value_expressions_translate() {
    let (_, err, toml, _) = import("fasthttp_rest.py", &[]);
    assert!(err.contains("every construct translated"), "{err}");
    for want in [
        "path = \"/api/items?limit=5\"",
        "json = { name = \"widget\", tags = [\"new\"] }",
        "capture = { item_id = \"/id\" }",
        "method = \"DELETE\"",
        "path = \"/api/items/{{item_id}}\"",
        "Authorization = \"Bearer {{token}}\"",
    ] {
        assert!(toml.contains(want), "{want}:\n{toml}");
    }
    let (_, _, toml, _) = import("ecommerce.py", &[]);
    for want in [
        "path = \"/products?category={{pick lamps,desks,chairs,rugs}}&page={{random_int 1 5}}\"",
        "path = \"/products/{{random_int 1 100}}\"",
        "json = { product_id = \"{{=random_int 1 100}}\", quantity = 1 }",
        "path = \"/cart/{{cart}}\"",
        "X-Request-Id = \"{{uuid}}\"",
        "expect = { status = [200] }",
        "LoadTestShape",
        "--stages",
    ] {
        assert!(toml.contains(want), "{want}:\n{toml}");
    }
    let (_, _, toml, _) = import("api_headers.py", &[]);
    for want in ["path = \"/api/items?limit=3\"", "capture = { first = \"/items/0/id\" }", "Bearer {{token}}"] {
        assert!(toml.contains(want), "{want}:\n{toml}");
    }
}

/// The shop on a free port, killed on drop.
struct Shop {
    child: Child,
    addr: String,
}

impl Shop {
    fn start() -> Shop {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
        let child = Command::new(fastapi_python())
            .arg(data("shop_app.py"))
            .arg(port.to_string())
            .stdout(Stdio::null())
            .spawn()
            .expect("start the shop");
        let shop = Shop { child, addr: format!("127.0.0.1:{port}") };
        // Polled every 10 ms, 15 s in all: the shop is used as soon as it listens.
        for _ in 0..1500 {
            if std::net::TcpStream::connect(&shop.addr).is_ok() {
                return shop;
            }
            wait_ms(10);
        }
        panic!("the shop did not listen on {}", shop.addr);
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What the shop counted since the last reset ("METHOD /route", "status N", logins), then
    /// a reset.
    fn take(&self) -> BTreeMap<String, u64> {
        let stats = http_json(&self.addr, "GET", "/stats", None);
        http_json(&self.addr, "POST", "/stats/reset", None);
        let map = stats.as_object().expect("stats");
        map.iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0))).collect()
    }
}

impl Drop for Shop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Imports `file` for `users` users against the shop and runs it for `secs`: blast's rows
/// (ok, failed) and the shop's counts.
fn run_import(
    shop: &Shop,
    file: &str,
    users: u32,
    extra: &[&str],
) -> (BTreeMap<String, (u64, u64)>, BTreeMap<String, u64>) {
    let mut args = vec!["--users".to_string(), users.to_string(), "--host".into(), shop.url()];
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, err, toml, out) = import(file, &args);
    assert!(code <= 1, "{err}");
    let run = blast(&["run", out.to_str().expect("p"), "--duration", "3s"]);
    let counts = shop.take();
    assert_eq!(run.code, 0, "{}\n{toml}\n{counts:?}", run.stderr);
    (blast_rows(&run.json.expect("report")), counts)
}

/// blast's report is the shop's count, name by name (route of each name given).
fn same_counts(rows: &BTreeMap<String, (u64, u64)>, counts: &BTreeMap<String, u64>, routes: &[(&str, &str)]) {
    for (name, route) in routes {
        let ok = rows.get(*name).map_or(0, |r| r.0);
        let sum: u64 = routes.iter().filter(|(_, r)| r == route).map(|(n, _)| rows.get(*n).map_or(0, |r| r.0)).sum();
        assert!(ok > 0, "{name}: {rows:?}");
        assert_eq!(counts.get(*route).copied().unwrap_or(0), sum, "{route}: {rows:?}\n{counts:?}");
    }
    assert!(rows.values().all(|r| r.1 == 0), "failures: {rows:?}");
    let sent: u64 = rows.values().map(|r| r.0).sum();
    let errors: u64 =
        counts.iter().filter(|(k, _)| k.starts_with("status 4") || k.starts_with("status 5")).map(|(_, v)| v).sum();
    assert_eq!(errors, 0, "{counts:?}");
    let total: u64 = counts.iter().filter(|(k, _)| k.starts_with("status ")).map(|(_, v)| v).sum();
    assert_eq!(total, sent, "every request blast counted, the shop counted: {rows:?}\n{counts:?}");
}

/// The forum TaskSets and the API suite run against the shop: blast's counts are the shop's,
/// one login per user, the folded mix whole (each core runs the cycle from its own offset).
#[test]
fn imported_task_sets_and_api_suite_run_against_the_shop() {
    // Shared: exact counts judged against the shop's.
    let _g = moderate();
    let shop = Shop::start();

    // forum: index 1 : view 20 : search 6 at 9/s for 3 s = 27 tasks, one cycle
    let (rows, counts) = run_import(&shop, "taskset_forum.py", 3, &["--rate", "9"]);
    same_counts(
        &rows,
        &counts,
        &[
            ("/login", "POST /login"),
            ("/", "GET /"),
            ("/products/[id]", "GET /products/{pid}"),
            ("/search?q=lamp", "GET /search"),
        ],
    );
    assert_eq!(counts["logins"], 3, "one login per user: {counts:?}");
    // each core runs the cycle from its own offset: whole, within a step per core
    let got = [counts["GET /"], counts["GET /products/{pid}"], counts["GET /search"]];
    assert_eq!(got.iter().sum::<u64>(), 27, "{counts:?}");
    for (g, want) in got.iter().zip([1u64, 20, 6]) {
        assert!(g.abs_diff(want) <= 2, "{got:?} against 1:20:6");
    }

    // API: login, headers kept on self, an id captured from a list; 4:1 at 10/s for 3 s
    let (rows, counts) = run_import(&shop, "api_headers.py", 2, &["--rate", "10"]);
    same_counts(
        &rows,
        &counts,
        &[
            ("/login", "POST /login"),
            ("/api/items?limit=3", "GET /api/items"),
            ("/api/items/[id]", "GET /api/items/{item_id}"),
            ("/api/items", "POST /api/items"),
        ],
    );
    assert_eq!(counts["logins"], 2, "{counts:?}");
    let (creates, lists) = (counts["POST /api/items"], counts["GET /api/items"]);
    assert_eq!(creates + lists, 30, "30 iterations: {counts:?}");
    assert!(creates.abs_diff(6) <= 2, "1 in 5 a create: {counts:?}");
    assert_eq!(counts["GET /api/items/{item_id}"], lists, "{counts:?}");
}

/// The SequentialTaskSet checkout run by real Locust and by its import against one shop: the
/// same routes in the same proportions (a pass: 1 browse, 2 views, 1 cart, 1 checkout, 1 order),
/// one login per user, no failure; blast's counts are the shop's and whole passes.
#[test]
fn sequential_checkout_matches_locust_on_one_shop() {
    // Exclusive: real Locust (a Python process busy on a core) beside blast. Both run at once,
    // each against a shop of its own: each shop's counts are one tool's alone, as when they
    // ran one after the other against one shop reset in between (blast's passes are whole
    // however late its sends are; Locust's are checked for order, not rate).
    let _g = exclusive();
    let (shop, blast_shop) = at_once(Shop::start, Shop::start);
    let ((code, text, locust_rows), (rows, by_blast)) = at_once(
        || run_locust("sequential_checkout.py", 3, 5, &shop.url()),
        || run_import(&blast_shop, "sequential_checkout.py", 3, &["--rate", "2"]),
    );
    let by_locust = shop.take();
    assert_eq!(code, 0, "{text}");

    let routes = [
        "POST /login",
        "GET /products",
        "GET /products/{pid}",
        "POST /cart/items",
        "POST /checkout/{cart_id}",
        "GET /orders/{order_id}",
    ];
    assert!(locust_rows.values().all(|r| r.1 == 0), "{locust_rows:?}");
    for (who, c) in [("locust", &by_locust), ("blast", &by_blast)] {
        assert_eq!(c.get("logins"), Some(&3), "{who}: {c:?}");
        for r in routes {
            assert!(c.get(r).copied().unwrap_or(0) > 0, "{who} {r}: {c:?}");
        }
        let errors: u64 =
            c.iter().filter(|(k, _)| k.starts_with("status 4") || k.starts_with("status 5")).map(|(_, v)| v).sum();
        assert_eq!(errors, 0, "{who}: {c:?}");
        // in order: each user's pass is browse, view, view, cart, checkout, order
        let n = |r: &str| c.get(r).copied().unwrap_or(0);
        let browse = n("GET /products");
        assert!(n("GET /products/{pid}") <= 2 * browse && n("GET /products/{pid}") + 6 >= 2 * browse, "{who}: {c:?}");
        assert!(n("POST /cart/items") <= browse && n("POST /cart/items") + 3 >= browse, "{who}: {c:?}");
        assert!(n("POST /checkout/{cart_id}") <= n("POST /cart/items"), "{who}: {c:?}");
        assert!(n("GET /orders/{order_id}") <= n("POST /checkout/{cart_id}"), "{who}: {c:?}");
    }
    // blast: 2 passes/s for 3 s, whole, and its rows are the shop's counts
    same_counts(
        &rows,
        &by_blast,
        &[
            ("/login", "POST /login"),
            ("/products/[id]", "GET /products/{pid}"),
            ("/cart/items", "POST /cart/items"),
            ("/checkout/[cart]", "POST /checkout/{cart_id}"),
            ("/orders/[id]", "GET /orders/{order_id}"),
            ("/products?category={{pick lamps,desks,chairs}}", "GET /products"),
        ],
    );
    for (r, want) in
        [("GET /products", 6), ("GET /products/{pid}", 12), ("POST /cart/items", 6), ("GET /orders/{order_id}", 6)]
    {
        assert_eq!(by_blast[r], want, "{r}: {by_blast:?}");
    }
}
