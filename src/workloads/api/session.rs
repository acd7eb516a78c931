//! What a virtual user's session does besides sending its requests, as a Locust `HttpUser`'s
//! does: a cookie jar per user (`crate::http::cookies`) filled from every response and sent on
//! the user's later requests, and redirects followed (`crate::http::redirect`) within the
//! target (or the hosts `--allow-host` names).
//!
//! Who the virtual user is: with per-user data (`users`, a users file, `[[on_start]]`, a login
//! whose captures are per user) the scenario's user, whose jar its iterations on the core share; otherwise
//! each connection (plain `blast api`: one default user per connection).

use crate::http::redirect::Location;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// How sessions behave in a run (the same for every core).
#[derive(Clone, Debug)]
pub struct SessionRules {
    /// Keep a cookie jar per virtual user (`--no-cookies`: off).
    pub cookies: bool,
    /// Most redirects followed per request (`--redirects N`; 0: none, a 3xx is the answer).
    pub redirects: u32,
    /// The target's scheme, host and port (its path unused): a redirect there stays on the
    /// request's connection.
    pub target: Location,
    /// Other hosts a redirect may go to (`--allow-host`).
    pub allowed: Vec<AllowedHost>,
    /// Redirects followed per report row (warm-up included).
    pub followed: Arc<Followed>,
}

impl SessionRules {
    /// Cookies and redirects off (the rules of a run that asked for neither).
    pub fn off(target: Location) -> Self {
        SessionRules { cookies: false, redirects: 0, target, allowed: Vec::new(), followed: Arc::new(Followed::new(0)) }
    }

    /// The decoder must look at `Set-Cookie` and `Location`.
    pub fn on(&self) -> bool {
        self.cookies || self.redirects > 0
    }

    /// Where a redirect to `to` goes: `Same` (the target: the request's connection), `Other`
    /// (an allowed host, reached at these addresses), or `None`: off the target
    /// (`redirect_off_target`).
    pub fn route(&self, to: &Location) -> Option<Route> {
        if to.same_origin(&self.target) {
            return Some(Route::Same);
        }
        let allowed = self.allowed.iter().find(|a| a.host == to.host && a.port.is_none_or(|p| p == to.port))?;
        Some(Route::Other(allowed.ips.iter().map(|ip| SocketAddr::new(*ip, to.port)).collect()))
    }
}

/// Where a redirect goes.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    Same,
    Other(Vec<SocketAddr>),
}

/// A host `--allow-host` names: `HOST` (any port) or `HOST:PORT`, resolved before the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedHost {
    /// Lower-case, no brackets.
    pub host: String,
    pub port: Option<u16>,
    pub ips: Vec<IpAddr>,
}

impl AllowedHost {
    /// Parses and resolves `127.0.0.2`, `localhost:9000`, `[::1]:8080`.
    pub fn parse(spec: &str) -> Result<AllowedHost, String> {
        let bad = || format!("--allow-host '{spec}': expected HOST or HOST:PORT (e.g. 127.0.0.2:9000)");
        let spec = spec.trim();
        let (host, port) = if let Some(rest) = spec.strip_prefix('[') {
            let (h, after) = rest.split_once(']').ok_or_else(bad)?;
            (h, after.strip_prefix(':'))
        } else if spec.matches(':').count() == 1 {
            let (h, p) = spec.split_once(':').ok_or_else(bad)?;
            (h, Some(p))
        } else {
            (spec, None)
        };
        if host.is_empty() || host.contains(['/', '@', ' ']) {
            return Err(bad());
        }
        let port = match port {
            None => None,
            Some(p) => Some(p.parse::<u16>().ok().filter(|&p| p != 0).ok_or_else(bad)?),
        };
        let ips: Vec<IpAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => std::net::ToSocketAddrs::to_socket_addrs(&(host, port.unwrap_or(80)))
                .map_err(|e| format!("--allow-host '{spec}': cannot resolve '{host}': {e}"))?
                .map(|a| a.ip())
                .collect(),
        };
        if ips.is_empty() {
            return Err(format!("--allow-host '{spec}': '{host}' resolves to no address"));
        }
        Ok(AllowedHost { host: host.to_ascii_lowercase(), port, ips })
    }
}

/// Redirects followed, per report row.
#[derive(Debug, Default)]
pub struct Followed(Vec<AtomicU64>);

impl Followed {
    /// Counters for `rows` report rows.
    pub fn new(rows: usize) -> Self {
        Followed((0..rows).map(|_| AtomicU64::new(0)).collect())
    }

    /// Counts `hops` followed by a request of `row`.
    pub fn add(&self, row: usize, hops: u64) {
        if let Some(n) = self.0.get(row) {
            n.fetch_add(hops, Ordering::Relaxed);
        }
    }

    /// Hops per row.
    pub fn per_row(&self) -> Vec<u64> {
        self.0.iter().map(|n| n.load(Ordering::Relaxed)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(allowed: &[&str]) -> SessionRules {
        let mut r = SessionRules::off(Location::of(false, "127.0.0.1", 8000, "/"));
        r.allowed = allowed.iter().map(|a| AllowedHost::parse(a).expect(a)).collect();
        r
    }

    #[test]
    fn redirects_stay_on_the_target_unless_a_host_is_allowed() {
        let base = Location::of(false, "127.0.0.1", 8000, "/x");
        let to = |url: &str| base.resolve(url.as_bytes()).expect(url);
        let none = rules(&[]);
        assert_eq!(none.route(&to("/me")), Some(Route::Same));
        assert_eq!(none.route(&to("http://127.0.0.1:8001/me")), None, "another port is another origin");
        assert_eq!(none.route(&to("https://127.0.0.1:8000/me")), None, "another scheme too");
        let some = rules(&["127.0.0.2", "[::1]:9000"]);
        let addr = |s: &str| s.parse::<SocketAddr>().expect(s);
        assert_eq!(some.route(&to("http://127.0.0.2:7/a")), Some(Route::Other(vec![addr("127.0.0.2:7")])));
        assert_eq!(some.route(&to("http://[::1]:9000/a")), Some(Route::Other(vec![addr("[::1]:9000")])));
        assert_eq!(some.route(&to("http://[::1]:9001/a")), None);
        assert_eq!(some.route(&to("http://example.invalid/a")), None);
    }

    #[test]
    fn allowed_hosts_are_checked() {
        for bad in ["", ":80", "127.0.0.1:0", "127.0.0.1:x", "http://127.0.0.1/", "[::1"] {
            assert!(AllowedHost::parse(bad).is_err(), "{bad}");
        }
        let a = AllowedHost::parse("LOCALHOST:9000").expect("localhost");
        assert_eq!((a.host.as_str(), a.port), ("localhost", Some(9000)));
        assert!(a.ips.iter().all(|ip| ip.is_loopback()));
    }

    #[test]
    fn hops_are_counted_per_row() {
        let f = Followed::new(3);
        f.add(2, 1);
        f.add(2, 2);
        f.add(0, 1);
        f.add(3, 1); // no such row
        assert_eq!(f.per_row(), vec![1, 0, 3]);
    }
}
