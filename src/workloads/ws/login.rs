//! `blast ws --login FILE`: each connection is a virtual user that logs in over HTTP before its
//! upgrade, and logs in again when the server refuses the upgrade (401, 403) or closes the
//! connection for auth (4401, 1008). The login is a scenario's `[[on_start]]` steps, compiled
//! and run by `api::scenario` (templates, `json`, captures, `expect`); what they capture fills
//! the upgrade (`Upgrade`: query parameters, headers, subprotocol), `{{token}}` in
//! `--subscribe`, and the HTTP probes sent as the user (`ProbeCredentials`). Connection `g` is virtual user `g`: the users file's row `g mod rows`.
//!
//! Cookies: each connection is a virtual user with a jar of its own (in its `UserLogin`'s
//! scratch), filled from every response of its login (redirects followed as in `blast api`)
//! and sent with its upgrade request (`WsLogin::upgrade_request`), as a browser's would be.
//! A login again starts from the user's last one (its jar, its captures): the connection's
//! own, or the newer one a probe relogin of the same user left in `ProbeUsers`
//! (`session::log_in_as`, the one way both log a user in).

use crate::engine::rng::SplitMix64;
use crate::http::cookies::CookieUrl;
use crate::template::{SplitValues, Template, Values};
use crate::workloads::api::scenario::run::{self, CoreScenario, Scratch};
use crate::workloads::api::scenario::Scenario;
use crate::workloads::api::session::SessionRules;
use crate::workloads::api::{Dial, Wire};
use crate::workloads::upload::data::DataPool;
use std::sync::Arc;
use std::time::Duration;

/// Most logins in a row that the server refuses straight away (an upgrade refused, or a
/// connection closed for auth within `HELD_LONG_ENOUGH` of its upgrade): then the connection
/// gives up, counted as failed by the server's answer.
pub const MAX_AUTH_RETRIES: u32 = 3;

/// A connection closed for auth after this long was accepted with its token: logging in again
/// starts a new count of refusals.
pub const HELD_LONG_ENOUGH: Duration = Duration::from_secs(1);

/// Where a login's captures go in the upgrade request (templates over the captured variables
/// and the users file's columns).
#[derive(Clone, Debug, Default)]
pub struct Upgrade {
    /// Query parameters appended to the target's path (values URL-encoded).
    pub query: Vec<(String, Template)>,
    /// Request headers.
    pub headers: Vec<(String, Template)>,
    /// `Sec-WebSocket-Protocol`.
    pub subprotocol: Option<Template>,
}

/// A compiled login: the scenario holding its `on_start` steps, where it goes, and what the
/// upgrade carries.
pub struct WsLogin {
    pub scenario: Arc<Scenario>,
    pub dial: Arc<Dial>,
    /// The login target as given (reports show it).
    pub target: String,
    pub upgrade: Upgrade,
    /// The slot of a captured variable named `token`: `{{token}}` in `--subscribe`.
    pub token_slot: Option<usize>,
    /// Longest one step of the login may take (`--timeout`).
    pub timeout: Duration,
    /// Random bodies of the login's steps, if any.
    pub pool: Option<DataPool>,
    /// Cookies kept per connection and redirects followed, as `blast api`'s defaults.
    pub session: Arc<SessionRules>,
}

impl std::fmt::Debug for WsLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsLogin").field("target", &self.target).field("steps", &self.scenario.on_start.len()).finish()
    }
}

/// What an HTTP probe sent as one user carries (`WsLogin::probe_credentials`).
#[derive(Debug)]
pub struct ProbeCredentials {
    /// The virtual user (connection) whose login these are.
    pub user: u64,
    /// Its captured `token`: `{{token}}` in the probe's body and `--probe-header`s.
    pub token: Option<String>,
    /// Request headers, before the `--probe-header`s (which replace one of the same name).
    pub headers: Vec<(String, String)>,
}

/// One virtual user's login state: what its last login captured, its cookies.
#[derive(Default)]
pub struct UserLogin {
    scratch: Scratch,
    /// The captures are there and not known to be refused.
    pub valid: bool,
    /// Logins this user has done (the first, then relogins).
    pub logins: u64,
}

impl UserLogin {
    /// A copy that a login of the same user elsewhere starts from (`ProbeUsers` keeps it): the
    /// captures, the jar, the random stream and the count of logins; not known to be valid.
    pub fn carried(&self) -> UserLogin {
        UserLogin { scratch: self.scratch.carried(), valid: false, logins: self.logins }
    }
}

impl WsLogin {
    /// The per-core state the login steps run with (built on the core's thread).
    pub fn core(&self, core: usize) -> CoreScenario {
        CoreScenario::new(self.scenario.clone(), self.session.clone(), self.pool.clone(), core, 0, 1, self.timeout)
            .per_connection_jars()
    }

    /// Logs virtual user `user` in on a connection of its own, closed after: the captures are
    /// kept in `state`. `Err` names why it failed: the status (`http_401`) or the kind of the
    /// failure (`connect_refused`, `timeout`, `capture_missing`, ...).
    pub async fn log_in(&self, core: &CoreScenario, user: u64, state: &mut UserLogin) -> Result<(), String> {
        state.valid = false;
        let steps = self.scenario.on_start.len() as u32 + 1;
        let seq = user << 20 | (state.logins & 0xf_ffff);
        let attempt = async {
            let stream = self.dial.open().await.map_err(|k| k.name().to_string())?;
            let mut wire = Wire::new(stream, self.dial.clone(), false, self.session.on());
            let mut records = Vec::new();
            match run::log_in(core, &mut wire, user, seq, &mut state.scratch, &mut records).await {
                Ok(code) if code < 400 => Ok(()),
                Ok(code) => Err(format!("http_{code}")),
                Err(kind) => Err(kind.name().to_string()),
            }
        };
        tokio::time::timeout(self.timeout * steps, attempt).await.unwrap_or_else(|_| Err("timeout".to_string()))?;
        state.valid = true;
        state.logins += 1;
        Ok(())
    }

    /// Renders `t` for user `user` from its last login (its captures, its users file row).
    fn render(
        &self,
        t: &Template,
        core: &CoreScenario,
        user: u64,
        state: &UserLogin,
        rng: &mut SplitMix64,
        out: &mut Vec<u8>,
    ) -> String {
        out.clear();
        let mut v = Values {
            seq: user,
            index: 0,
            core: core.core,
            conn: user as usize,
            user: core.row_of(user),
            vars: state.scratch.vars(),
            rng,
            split: SplitValues::default(),
        };
        t.render(&mut v, out);
        String::from_utf8_lossy(out).into_owned()
    }

    /// The upgrade's path (the target's, with the query parameters) and headers for user `user`
    /// from its last login.
    pub fn upgrade_request(
        &self,
        core: &CoreScenario,
        user: u64,
        state: &UserLogin,
        target: &CookieUrl<'_>,
        rng: &mut SplitMix64,
    ) -> (String, Vec<(String, String)>) {
        let mut out = Vec::new();
        let mut path = target.path.to_string();
        for (name, value) in &self.upgrade.query {
            let value = self.render(value, core, user, state, rng, &mut out);
            let sep = if path.contains('?') { '&' } else { '?' };
            let value: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
            path.push_str(&format!("{sep}{name}={value}"));
        }
        let mut headers = self.upgrade_headers(core, user, state, rng, &mut out);
        if let Some(p) = &self.upgrade.subprotocol {
            headers.push(("Sec-WebSocket-Protocol".to_string(), self.render(p, core, user, state, rng, &mut out)));
        }
        if let Some(cookie) = state.scratch.cookie_header(target) {
            headers.push(("Cookie".to_string(), cookie));
        }
        (path, headers)
    }

    /// The `[upgrade]` table's headers rendered for user `user` (`out`: the render's buffer).
    fn upgrade_headers(
        &self,
        core: &CoreScenario,
        user: u64,
        state: &UserLogin,
        rng: &mut SplitMix64,
        out: &mut Vec<u8>,
    ) -> Vec<(String, String)> {
        let rendered = self.upgrade.headers.iter();
        rendered.map(|(name, value)| (name.clone(), self.render(value, core, user, state, rng, out))).collect()
    }

    /// What an HTTP probe sent as user `user` carries from its last login: the `[upgrade]`'s
    /// headers, `Authorization: Bearer {{token}}` when the login captures a `token` and those
    /// headers hold no `Authorization`, and the user's cookies for the probe target `target`.
    pub fn probe_credentials(
        &self,
        core: &CoreScenario,
        user: u64,
        state: &UserLogin,
        target: &CookieUrl<'_>,
        rng: &mut SplitMix64,
    ) -> ProbeCredentials {
        let mut out = Vec::new();
        let mut headers = self.upgrade_headers(core, user, state, rng, &mut out);
        let token = self.token(state).map(str::to_string);
        if let Some(t) =
            token.as_ref().filter(|_| !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("authorization")))
        {
            headers.push(("Authorization".to_string(), format!("Bearer {t}")));
        }
        if let Some(cookie) = state.scratch.cookie_header(target) {
            headers.push(("Cookie".to_string(), cookie));
        }
        ProbeCredentials { user, token, headers }
    }

    /// The user's captured `token`, for `{{token}}` in `--subscribe`.
    pub fn token<'a>(&self, state: &'a UserLogin) -> Option<&'a str> {
        let slot = self.token_slot?;
        std::str::from_utf8(state.scratch.vars().get(slot)?).ok()
    }
}
