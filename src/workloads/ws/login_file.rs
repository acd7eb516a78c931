//! The file `blast ws --login FILE` reads, compiled into a `WsLogin`: a scenario's `[data]` and
//! `[[on_start]]` tables (checked by the scenario compiler, `api::scenario::file`), and
//! `[upgrade]`, where the captures go. A `ws` profile may hold the same tables itself
//! (`Inline`, read with the profile) instead of `login = "FILE"`. Every error names the file,
//! the line and the field.
//!
//! ```toml
//! [data]
//! users = { file = "users.csv" }          # connection g logs in as row g mod rows
//!
//! [[on_start]]
//! name = "POST /auth/login"
//! path = "/auth/login"
//! json = { username = "{{user.name}}", password = "{{user.password}}" }
//! capture = { token = "/access_token" }
//!
//! [upgrade]                               # default: Authorization: Bearer {{token}}
//! query = { token = "{{token}}" }         # ?token=... (URL-encoded)
//! headers = { "X-User" = "{{user.name}}" }
//! subprotocol = "{{token}}"               # Sec-WebSocket-Protocol
//! ```

use super::login::{Upgrade, WsLogin};
use crate::http::redirect::Location;
use crate::http::HttpTarget;
use crate::template::{Scope, Template};
use crate::usage::UsageError;
use crate::workloads::api::scenario::file::{RawData, RawRequest, ScenarioFile};
use crate::workloads::api::session::{Followed, SessionRules};
use crate::workloads::api::Dial;
use crate::workloads::upload::data::DataPool;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Redirects a login step follows (Locust's and `blast api`'s default).
const LOGIN_REDIRECTS: u32 = 10;
use std::sync::Arc;
use std::time::Duration;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginDoc {
    data: Option<Spanned<RawData>>,
    #[serde(default)]
    on_start: Vec<Spanned<RawRequest>>,
    upgrade: Option<Spanned<RawUpgrade>>,
}

/// `[upgrade]`: templates over the login's captures and the users file's columns.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawUpgrade {
    #[serde(default)]
    query: BTreeMap<String, String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    subprotocol: Option<String>,
}

/// Headers the upgrade sets itself.
const OWN_HEADERS: [&str; 6] =
    ["host", "connection", "upgrade", "sec-websocket-key", "sec-websocket-version", "sec-websocket-protocol"];

/// What the login needs besides its file.
pub struct LoginTarget<'a> {
    /// Where the login's requests go (`--login-target`, default: the WebSocket target's host).
    pub url: &'a str,
    pub tls: Option<crate::tls::ClientTls>,
    /// `--token-query NAME`: without `[upgrade]`, the captured token goes in the query.
    pub token_query: Option<&'a str>,
    pub timeout: Duration,
}

/// A login written in a `ws` profile: its `[data]` and `[[on_start]]` tables (the profile's
/// scenario tables, no `[[request]]` or `[[flow]]`) and its `[upgrade]`.
#[derive(Debug, Default)]
pub struct Inline {
    pub tables: ScenarioFile,
    pub upgrade: Option<Spanned<RawUpgrade>>,
}

impl Inline {
    /// The profile has login tables at all.
    pub fn present(&self) -> bool {
        self.tables.present() || self.upgrade.is_some()
    }

    /// The profile's tables are all of a kind its `workload` (at byte `workload_at`) reads: an
    /// api profile's scenario, a ws profile's login, none for upload.
    pub fn check_workload(&self, workload: &str, workload_at: usize) -> Result<(), UsageError> {
        let t = &self.tables;
        let ws_only = "a login's, for workload = \"ws\"";
        let api_only = "for workload = \"api\" (a ws profile's login is [data], [[on_start]], [upgrade])";
        let misplaced = match workload {
            "api" => self.upgrade.as_ref().map(|u| (u.span().start, "upgrade", ws_only)),
            "ws" => t.requests.first().map(|r| (r.span().start, "request", api_only)),
            _ if self.present() => Some((
                workload_at,
                "workload",
                "[data], [[on_start]], [[request]], [[flow]] and [upgrade] are for workload = \"api\" or \"ws\"",
            )),
            _ => None,
        };
        let misplaced =
            misplaced.or(t.flows.first().filter(|_| workload == "ws").map(|f| (f.span().start, "flow", api_only)));
        match misplaced {
            Some((at, field, msg)) => Err(t.error_at(at, field, msg)),
            None => Ok(()),
        }
    }
}

/// Where a login is written.
pub enum Source<'a> {
    /// `--login FILE`.
    File(&'a Path),
    /// The profile's own tables.
    Inline(&'a Inline),
}

/// Reads and checks the login (nothing is sent).
pub fn load(source: Source<'_>, to: LoginTarget<'_>) -> Result<WsLogin, UsageError> {
    match source {
        Source::File(path) => {
            let (tables, upgrade) = read(path)?;
            compile(&tables, upgrade.as_ref(), to)
        }
        Source::Inline(inline) => compile(&inline.tables, inline.upgrade.as_ref(), to),
    }
}

/// The tables of the login file `path`.
fn read(path: &Path) -> Result<(ScenarioFile, Option<Spanned<RawUpgrade>>), UsageError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("--login {file}: {e}"))?;
    let doc: LoginDoc = toml::from_str(&text).map_err(|e| {
        let line = e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        let msg = e.message().trim().to_string();
        match line {
            Some(l) => format!("{file}:{l}: {msg}"),
            None => format!("{file}: {msg}"),
        }
    })?;
    let tables =
        ScenarioFile { data: doc.data, on_start: doc.on_start, requests: Vec::new(), flows: Vec::new(), file, text };
    Ok((tables, doc.upgrade))
}

/// Checks and compiles a login's tables `sf` and `[upgrade]`.
fn compile(
    sf: &ScenarioFile,
    upgrade: Option<&Spanned<RawUpgrade>>,
    to: LoginTarget<'_>,
) -> Result<WsLogin, UsageError> {
    let target = HttpTarget::parse(to.url).map_err(|e| format!("--login-target: {e}"))?;
    let scenario = sf.build_login(&target.authority, 1)?;
    let names: Vec<String> = scenario.vars.iter().map(|v| v.name.clone()).collect();
    let columns = scenario.users.as_ref().map(|u| u.columns.as_slice());
    let scope = || Scope { user_columns: columns, vars: &names };
    let token_slot = names.iter().position(|n| n == "token");
    let upgrade = match upgrade {
        Some(raw) => {
            let at = raw.span().start;
            let raw = raw.get_ref();
            let template = |t: &str| Template::parse(t, scope()).map_err(|e| sf.error_at(at, "upgrade", e));
            let mut up = Upgrade::default();
            for (name, value) in &raw.query {
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
                    return Err(sf.error_at(at, "upgrade", format!("query: '{name}' is not a parameter name")));
                }
                up.query.push((name.clone(), template(value)?));
            }
            for (name, value) in &raw.headers {
                if !crate::http::request_rules::is_header_name(name) || value.contains(['\r', '\n']) {
                    return Err(sf.error_at(at, "upgrade", format!("headers: '{name}' is not a valid HTTP header")));
                }
                if OWN_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name)) {
                    return Err(sf.error_at(
                        at,
                        "upgrade",
                        format!("headers: '{name}' is set by the upgrade (a subprotocol goes in subprotocol)"),
                    ));
                }
                up.headers.push((name.clone(), template(value)?));
            }
            if let Some(p) = &raw.subprotocol {
                if p.trim().is_empty() || p.contains(['\r', '\n']) {
                    return Err(sf.error_at(at, "upgrade", "subprotocol: one non-empty line"));
                }
                up.subprotocol = Some(template(p)?);
            }
            if up.query.is_empty() && up.headers.is_empty() && up.subprotocol.is_none() {
                return Err(sf.error_at(at, "upgrade", "expected query, headers or subprotocol"));
            }
            up
        }
        None if token_slot.is_some() => {
            let token = Template::parse("{{token}}", scope()).map_err(|e| UsageError(e.to_string()))?;
            match to.token_query {
                Some(name) => Upgrade { query: vec![(name.to_string(), token)], ..Upgrade::default() },
                None => {
                    let bearer = Template::concat(vec![Template::literal(b"Bearer ".to_vec()), token]);
                    Upgrade { headers: vec![("Authorization".to_string(), bearer)], ..Upgrade::default() }
                }
            }
        }
        None => {
            return Err(sf.error_at(
                0,
                "upgrade",
                "the login captures no 'token': say in [upgrade] where its captures go (query, headers, subprotocol)",
            ))
        }
    };
    let largest = scenario.largest_random_body();
    let pool = (largest > 0).then(|| DataPool::new(scenario.seed, largest));
    let tls = to.tls.filter(|_| target.tls).map(|tls| (tls, target.host.clone()));
    // Cookies per connection and redirects followed, as `blast api`'s defaults.
    let port = target.addrs.first().map_or(if target.tls { 443 } else { 80 }, |a| a.port());
    let session = SessionRules {
        cookies: true,
        redirects: LOGIN_REDIRECTS,
        target: Location::of(target.tls, &target.host, port, "/"),
        allowed: Vec::new(),
        followed: Arc::new(Followed::new(scenario.rows.len())),
    };
    Ok(WsLogin {
        scenario: Arc::new(scenario),
        dial: Arc::new(Dial::new(target.addrs.clone(), tls)),
        target: to.url.to_string(),
        upgrade,
        token_slot,
        timeout: to.timeout,
        pool,
        session: Arc::new(session),
    })
}
