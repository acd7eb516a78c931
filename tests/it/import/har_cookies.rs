//! A HAR export whose requests carry cookies earlier recorded responses set
//! (tests/data/import/cookies.har: a consent cookie a script set, a session from the login, a
//! csrftoken from the cart), imported and run against the shop it was recorded on
//! (tests/data/import/cookie_shop_app.py), which ties each session to the connection whose
//! login set it: every virtual user (a connection: the profile has no users) must send the
//! session its own login set and the csrftoken its own cart set, never the recorded values.

use super::import;
use crate::common::*;
use crate::import_side_by_side::{blast_rows, n, App};

#[test]
fn har_cookies_are_each_users_own_against_the_shop() {
    // Shared: exact counts judged against the shop's.
    let _g = moderate();
    let app = App::start("cookie_shop_app.py");
    let (code, err, toml, profile) = import("cookies.har", &["--host", &app.url()]);
    assert_eq!(code, 0, "{err}");
    assert!(!toml.contains("recorded\""), "no recorded session or csrftoken is sent:\n{toml}");
    let run = blast(&["run", profile.to_str().expect("path"), "--rate", "20", "--duration", "2s"]);
    let shop = app.take_stats();
    assert_eq!(run.code, 0, "{}\n{shop}\n{toml}", run.stderr);
    let rows = blast_rows(&run.json.expect("report"));
    // 40 page loads, every step of each answered 200
    for name in ["GET /", "POST /login", "GET /cart", "POST /cart/items"] {
        assert_eq!(rows.get(name), Some(&(40, 0)), "{name}: {rows:?}\n{shop}");
    }
    for why in ["consent_missing", "no_session", "recorded_value", "unknown_session", "another_users_session"] {
        assert_eq!(n(&shop, why), 0, "{why}: {shop}\n{toml}");
    }
    assert_eq!(n(&shop, "csrf_mismatch") + n(&shop, "bad_login") + n(&shop, "bad_item"), 0, "{shop}");
    // one session per login, each used by the cart and the item of its own page load, once
    assert_eq!((n(&shop, "logins"), n(&shop, "carts"), n(&shop, "items")), (40, 40, 40), "{shop}");
    assert_eq!(n(&shop, "sessions_carted_once"), 40, "{shop}");
}
