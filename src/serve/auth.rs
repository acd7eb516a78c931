//! The embedded target's login and bearer tokens, mirroring a chat API's auth:
//! `POST /auth/login` with `{"username": ..., "password": ...}` issues an opaque token
//! (`tok-<username>-<n>`, unique per login; any password is accepted) and counts logins per
//! username for `GET /stats/logins`, so tests can check that a client logs in once per user.
//!
//! With `require` set (`--require-auth`) the application endpoints (`guarded`) need
//! `Authorization: Bearer <token>` with a token this server issued, younger than `ttl` when one
//! is set; otherwise they answer 401 `{"detail":"Not authenticated"}`. A WebSocket opened with a
//! token is closed with 4401 when the token expires (`upgrade_expiry`, `ws::session`). Without
//! `require` tokens are issued and counted but neither kept nor checked, so the hot path costs
//! nothing.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{HeaderMap, Request, Response, StatusCode};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

/// Largest login body read.
const MAX_LOGIN_BODY: usize = 64 * 1024;
/// Longest username part of a token (the counter keeps tokens unique anyway).
const MAX_TOKEN_NAME: usize = 32;
/// With a TTL, expired tokens are dropped every this many logins.
const PRUNE_EVERY: u64 = 4096;

pub const NOT_AUTHENTICATED: &[u8] = br#"{"detail":"Not authenticated"}"#;

/// Whether and how bearer tokens are enforced.
#[derive(Clone, Copy, Debug, Default)]
pub struct AuthConfig {
    /// Enforce bearer tokens on the `guarded` endpoints.
    pub require: bool,
    /// Tokens older than this are refused (default: never expire).
    pub ttl: Option<Duration>,
}

#[derive(Default)]
pub struct Auth {
    /// Copied out of the config: the one branch the hot path takes when auth is off.
    pub required: bool,
    ttl: Option<Duration>,
    /// Issued tokens (kept only when `required`).
    tokens: RwLock<HashMap<Box<str>, Issued>>,
    /// Requests `allows` let through with tokens since dropped as expired, by token name.
    retired: Mutex<HashMap<String, u64>>,
    /// Logins per username.
    logins: Mutex<HashMap<String, u64>>,
    issued: AtomicU64,
    unauthorized: AtomicU64,
}

/// An issued token: when, and how many requests `allows` let through with it.
struct Issued {
    at: Instant,
    used: AtomicU64,
}

#[derive(serde::Deserialize)]
struct Login {
    username: String,
    password: String,
}

/// Whether `path` needs a token under `--require-auth` (`/auth/login`, `/health` and `/stats/*`
/// never do; `/ws` is checked by `upgrade_expiry`).
pub fn guarded(path: &str) -> bool {
    path == "/v1/messages" || path == "/v1/conversations" || path.starts_with("/v1/files/")
}

impl Auth {
    pub fn new(cfg: AuthConfig) -> Auth {
        Auth { required: cfg.require, ttl: cfg.ttl, ..Auth::default() }
    }

    /// Whether the request carries `Authorization: Bearer <token>` with a live issued token.
    /// Counts refusals.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let ok = headers.get(hyper::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(bearer).is_some_and(
            |token| {
                let tokens = self.tokens.read().unwrap_or_else(|e| e.into_inner());
                let live = tokens.get(token).filter(|t| self.ttl.is_none_or(|ttl| t.at.elapsed() < ttl));
                live.inspect(|t| {
                    t.used.fetch_add(1, Ordering::Relaxed);
                })
                .is_some()
            },
        );
        if !ok {
            self.unauthorized.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }

    /// Whether a WebSocket upgrade carries a live issued token, as `Authorization: Bearer` or
    /// as the `token` or `access_token` query parameter (browsers cannot set headers on a
    /// WebSocket): `None` when it does not (counted as a refusal), else when its token expires
    /// (`Some(None)`: never, without a TTL), the instant `ws::session` closes it with 4401.
    pub fn upgrade_expiry(&self, headers: &HeaderMap, query: Option<&str>) -> Option<Option<Instant>> {
        let header = headers.get(hyper::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(bearer);
        let issued = header.and_then(|t| self.issued(t)).or_else(|| {
            url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()).find_map(|(k, v)| {
                if k == "token" || k == "access_token" {
                    self.issued(&v)
                } else {
                    None
                }
            })
        });
        if issued.is_none() {
            self.unauthorized.fetch_add(1, Ordering::Relaxed);
        }
        issued.map(|at| self.ttl.map(|ttl| at + ttl))
    }

    /// When `token` was issued, if this server issued it and it has not expired.
    fn issued(&self, token: &str) -> Option<Instant> {
        let tokens = self.tokens.read().unwrap_or_else(|e| e.into_inner());
        tokens.get(token).map(|t| t.at).filter(|at| self.ttl.is_none_or(|ttl| at.elapsed() < ttl))
    }

    /// `POST /auth/login`.
    pub async fn login(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let body = match Limited::new(req.into_body(), MAX_LOGIN_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return error(StatusCode::BAD_REQUEST, "unreadable or too large login body"),
        };
        let login: Login = match serde_json::from_slice(&body) {
            Ok(l) => l,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!("login body must be {{\"username\": ..., \"password\": ...}}: {e}"),
                )
            }
        };
        let _ = login.password;
        if login.username.is_empty() {
            return error(StatusCode::BAD_REQUEST, "username must not be empty");
        }
        let n = self.issued.fetch_add(1, Ordering::Relaxed) + 1;
        let token = token_for(&login.username, n);
        if self.required {
            let mut tokens = self.tokens.write().unwrap_or_else(|e| e.into_inner());
            if let Some(ttl) = self.ttl.filter(|_| n.is_multiple_of(PRUNE_EVERY)) {
                let mut retired = self.retired.lock().unwrap_or_else(|e| e.into_inner());
                tokens.retain(|token, t| {
                    let live = t.at.elapsed() < ttl;
                    if !live {
                        *retired.entry(token_name(token).to_string()).or_default() += t.used.load(Ordering::Relaxed);
                    }
                    live
                });
            }
            tokens.insert(token.clone().into_boxed_str(), Issued { at: Instant::now(), used: AtomicU64::new(0) });
        }
        {
            let mut logins = self.logins.lock().unwrap_or_else(|e| e.into_inner());
            match logins.get_mut(&login.username) {
                Some(count) => *count += 1,
                None => {
                    logins.insert(login.username, 1);
                }
            }
        }
        let body = serde_json::json!({ "access_token": token, "token_type": "bearer" });
        super::json(StatusCode::OK, body.to_string())
    }

    /// `GET /stats/logins`: `{"total": N, "users": {"alice": 1, ...}, "unauthorized": N,
    /// "authorized": {"alice": 5, ...}}`; `authorized`: the requests to guarded endpoints let
    /// through, by the username in their token (as the token holds it: at most 32 characters,
    /// others than letters, digits, `.` and `_` written `_`; with `--require-auth` only).
    pub fn stats(&self) -> Response<Full<Bytes>> {
        let users: BTreeMap<String, u64> = {
            let logins = self.logins.lock().unwrap_or_else(|e| e.into_inner());
            logins.iter().map(|(k, v)| (k.clone(), *v)).collect()
        };
        let mut authorized: BTreeMap<String, u64> = {
            let retired = self.retired.lock().unwrap_or_else(|e| e.into_inner());
            retired.iter().map(|(k, v)| (k.clone(), *v)).collect()
        };
        for (token, t) in self.tokens.read().unwrap_or_else(|e| e.into_inner()).iter() {
            let used = t.used.load(Ordering::Relaxed);
            if used > 0 {
                *authorized.entry(token_name(token).to_string()).or_default() += used;
            }
        }
        let body = serde_json::json!({
            "total": users.values().sum::<u64>(),
            "users": users,
            "unauthorized": self.unauthorized.load(Ordering::Relaxed),
            "authorized": authorized,
        });
        super::json(StatusCode::OK, body.to_string())
    }
}

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// `tok-<username>-<n>`, the username reduced to characters that are safe in a header.
fn token_for(username: &str, n: u64) -> String {
    let name: String = username
        .chars()
        .take(MAX_TOKEN_NAME)
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '_' { c } else { '_' })
        .collect();
    format!("tok-{name}-{n}")
}

/// The username part of a token of `token_for` (`alice` of `tok-alice-7`).
fn token_name(token: &str) -> &str {
    let rest = token.strip_prefix("tok-").unwrap_or(token);
    rest.rsplit_once('-').map_or(rest, |(name, _)| name)
}

/// 401 `{"detail":"Not authenticated"}` with `WWW-Authenticate: Bearer`.
pub fn unauthorized() -> Response<Full<Bytes>> {
    let mut resp = super::json(StatusCode::UNAUTHORIZED, Bytes::from_static(NOT_AUTHENTICATED));
    resp.headers_mut().insert(hyper::header::WWW_AUTHENTICATE, hyper::header::HeaderValue::from_static("Bearer"));
    resp
}

/// A JSON error answer `{"error": msg}`.
pub fn error(status: StatusCode, msg: &str) -> Response<Full<Bytes>> {
    super::json(status, serde_json::json!({ "error": msg }).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_header_safe_and_unique() {
        assert_eq!(token_for("alice", 1), "tok-alice-1");
        assert_eq!(token_for("a b\r\n\u{e9}", 7), "tok-a_b___-7");
        assert_ne!(token_for("x", 1), token_for("x", 2));
        assert_eq!(token_name(&token_for("user-7", 12)), "user_7");
        assert_eq!(token_name(&token_for("a_b", 3)), "a_b");
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer"), None);
        assert_eq!(bearer("Bearer "), None);
    }
}
