//! A virtual user's cookie jar (RFC 6265, the parts a load test meets): `Set-Cookie` headers
//! stored under the URL of the request they answered, and the `Cookie` header of a later
//! request to a URL written from them.
//!
//! Kept: host-only cookies versus `Domain=` (which must domain-match the request's host; an IP
//! address only matches itself), the default path and `Path=` with path matching, `Max-Age`
//! (which wins over `Expires`), `Expires`, `Secure` (sent over https only), replacement of a
//! cookie of the same name, domain and path, deletion by `Max-Age=0` or a past `Expires`.
//! Left out, as a non-browser client may: the public suffix list, `SameSite`, `HttpOnly`
//! (there are no scripts), and third-party rules. A jar holds at most `MAX_COOKIES` (the
//! oldest goes first).
//!
//! Workload-independent: `blast api` keeps one per virtual user; a WebSocket handshake after a
//! login may take its header from the same jar (`header_for`). Cookie values are secrets: the
//! jar never prints them; `values` lets a caller mask them in what it writes.

use std::time::{Duration, Instant, SystemTime};

/// Most cookies one jar holds.
pub const MAX_COOKIES: usize = 64;
/// Longest `name=value` accepted (RFC 6265 6.1 asks for at least 4096 bytes).
const MAX_PAIR: usize = 4096;

/// The URL a request goes to, as cookies see it.
#[derive(Clone, Copy, Debug)]
pub struct CookieUrl<'a> {
    /// `https://` (a `Secure` cookie is sent only then).
    pub https: bool,
    /// The host without port or brackets (`127.0.0.1`, `::1`, `api.example`).
    pub host: &'a str,
    /// The path, with or without its query (`/v1/me?x=1`).
    pub path: &'a str,
}

/// One stored cookie.
#[derive(Clone, Debug)]
struct Cookie {
    name: String,
    value: String,
    /// Lower-case, without a leading dot.
    domain: String,
    /// No `Domain=`: sent to exactly the host that set it.
    host_only: bool,
    path: String,
    secure: bool,
    /// `None`: a session cookie (kept for the run).
    expires: Option<Instant>,
}

/// The cookies of one virtual user.
#[derive(Clone, Debug, Default)]
pub struct CookieJar {
    /// Longest path first, then oldest first (the order RFC 6265 5.4 asks the header in).
    cookies: Vec<Cookie>,
}

impl CookieJar {
    pub fn new() -> Self {
        CookieJar::default()
    }

    /// No cookie held: a request of this user needs no `Cookie` header (one branch, no work).
    pub fn is_empty(&self) -> bool {
        self.cookies.is_empty()
    }

    /// Forgets every cookie.
    pub fn clear(&mut self) {
        self.cookies.clear();
    }

    /// Stores the cookie of one `Set-Cookie` header value, answered to a request to `url`. A
    /// header that is not a cookie (no `=`, an empty name), or whose `Domain` does not match
    /// the host, is ignored, as a browser ignores it.
    pub fn store(&mut self, set_cookie: &[u8], url: &CookieUrl<'_>) {
        let Ok(text) = std::str::from_utf8(set_cookie) else { return };
        let Some(parsed) = parse(text) else { return };
        let host = url.host.to_ascii_lowercase();
        let (domain, host_only) = match parsed.domain {
            Some(d) if !d.is_empty() => {
                let d = d.trim_start_matches('.').to_ascii_lowercase();
                if !domain_matches(&host, &d) {
                    return;
                }
                (d, false)
            }
            _ => (host, true),
        };
        let path = match parsed.path {
            Some(p) if p.starts_with('/') => p.to_string(),
            _ => default_path(url.path).to_string(),
        };
        let now = Instant::now();
        let expires = match (parsed.max_age, parsed.expires) {
            (Some(secs), _) if secs <= 0 => Some(now),
            (Some(secs), _) => now.checked_add(Duration::from_secs(secs as u64)),
            (None, Some(unix)) => Some(instant_of_unix(unix, now)),
            (None, None) => None,
        };
        let cookie = Cookie {
            name: parsed.name.to_string(),
            value: parsed.value.to_string(),
            domain,
            host_only,
            path,
            secure: parsed.secure,
            expires,
        };
        let same = |c: &Cookie| c.name == cookie.name && c.domain == cookie.domain && c.path == cookie.path;
        let expired = cookie.expires.is_some_and(|e| e <= now);
        match self.cookies.iter().position(same) {
            // Deleted: Max-Age=0 or an Expires in the past.
            Some(i) if expired => {
                self.cookies.remove(i);
            }
            // Replaced in place: it keeps its creation order.
            Some(i) => self.cookies[i] = cookie,
            None if expired => {}
            None => {
                if self.cookies.len() >= MAX_COOKIES {
                    self.cookies.remove(0);
                }
                let at = self.cookies.partition_point(|c| c.path.len() >= cookie.path.len());
                self.cookies.insert(at, cookie);
            }
        }
    }

    /// Appends the `Cookie` header's value for a request to `url` (`a=1; b=2`) to `out`; false
    /// (nothing written) when no cookie goes there. Expired cookies are dropped on the way.
    pub fn write_header(&mut self, url: &CookieUrl<'_>, out: &mut Vec<u8>) -> bool {
        if self.cookies.is_empty() {
            return false;
        }
        self.drop_expired();
        let mut any = false;
        for c in self.cookies.iter().filter(|c| c.matches(url)) {
            if any {
                out.extend_from_slice(b"; ");
            }
            out.extend_from_slice(c.name.as_bytes());
            out.push(b'=');
            out.extend_from_slice(c.value.as_bytes());
            any = true;
        }
        any
    }

    /// The `Cookie` header's value for a request to `url`, or `None` when no cookie goes there.
    pub fn header_for(&mut self, url: &CookieUrl<'_>) -> Option<String> {
        let mut out = Vec::new();
        self.write_header(url, &mut out).then(|| String::from_utf8_lossy(&out).into_owned())
    }

    /// The `Cookie` header's value for a request to `url` without changing the jar (expired
    /// cookies are left out, not dropped), or `None` when no cookie goes there.
    pub fn header_now(&self, url: &CookieUrl<'_>) -> Option<String> {
        let now = Instant::now();
        let live = self.cookies.iter().filter(|c| c.expires.is_none_or(|e| e > now) && c.matches(url));
        let pairs: Vec<String> = live.map(|c| format!("{}={}", c.name, c.value)).collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    /// The value of the live cookie called `name` (the one with the longest path when several
    /// domains or paths hold one): what `capture = { sid = "cookie:sid" }` reads.
    pub fn get(&mut self, name: &str) -> Option<&str> {
        self.drop_expired();
        self.cookies.iter().find(|c| c.name == name).map(|c| c.value.as_str())
    }

    /// Every value held, for masking them in an output.
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.cookies.iter().map(|c| c.value.as_str())
    }

    fn drop_expired(&mut self) {
        if self.cookies.iter().any(|c| c.expires.is_some()) {
            let now = Instant::now();
            self.cookies.retain(|c| c.expires.is_none_or(|e| e > now));
        }
    }
}

impl Cookie {
    fn matches(&self, url: &CookieUrl<'_>) -> bool {
        if self.secure && !url.https {
            return false;
        }
        let host_ok = if self.host_only {
            url.host.eq_ignore_ascii_case(&self.domain)
        } else {
            domain_matches(&url.host.to_ascii_lowercase(), &self.domain)
        };
        host_ok && path_matches(url.path, &self.path)
    }
}

/// What one `Set-Cookie` value says.
struct Parsed<'a> {
    name: &'a str,
    value: &'a str,
    domain: Option<&'a str>,
    path: Option<&'a str>,
    secure: bool,
    max_age: Option<i64>,
    expires: Option<i64>,
}

/// RFC 6265 5.2: `name=value` then `; attribute[=value]` pairs, unknown attributes ignored,
/// the last of a repeated attribute winning.
fn parse(text: &str) -> Option<Parsed<'_>> {
    let mut parts = text.split(';');
    let pair = parts.next()?;
    let (name, value) = pair.split_once('=')?;
    let (name, value) = (name.trim(), value.trim());
    let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
    if name.is_empty() || name.len() + value.len() > MAX_PAIR || !name.bytes().chain(value.bytes()).all(cookie_byte) {
        return None;
    }
    let mut p = Parsed { name, value, domain: None, path: None, secure: false, max_age: None, expires: None };
    for attr in parts {
        let (key, val) = attr.split_once('=').map_or((attr.trim(), ""), |(k, v)| (k.trim(), v.trim()));
        match key.to_ascii_lowercase().as_str() {
            "domain" => p.domain = Some(val),
            "path" => p.path = Some(val),
            "secure" => p.secure = true,
            // A Max-Age that is not a number is ignored; a huge one is "for ever".
            "max-age" if !val.is_empty() && val.trim_start_matches('-').bytes().all(|b| b.is_ascii_digit()) => {
                p.max_age = Some(val.parse().unwrap_or(if val.starts_with('-') { i64::MIN } else { i64::MAX }));
            }
            "expires" => p.expires = crate::civil_time::cookie_date(val).or(p.expires),
            _ => {}
        }
    }
    Some(p)
}

/// A byte that may stand in a cookie's name or value as sent back: no control character, no
/// `;` (which would end the pair in the `Cookie` header).
fn cookie_byte(b: u8) -> bool {
    b >= 0x20 && b != 0x7f && b != b';'
}

/// RFC 6265 5.1.3: `host` is `domain`, or ends with `.domain` and is a name (not an address).
fn domain_matches(host: &str, domain: &str) -> bool {
    if host == domain {
        return true;
    }
    let is_address = host.parse::<std::net::IpAddr>().is_ok();
    !is_address
        && host.len() > domain.len()
        && host.ends_with(domain)
        && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
}

/// RFC 6265 5.1.4: the directory of the request's path (`/a/b` -> `/a`, `/a` -> `/`).
fn default_path(path: &str) -> &str {
    let path = path.split(['?', '#']).next().unwrap_or("");
    if !path.starts_with('/') {
        return "/";
    }
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// RFC 6265 5.1.4: the cookie's path is the request's path, or a prefix of it ending at a `/`.
fn path_matches(request: &str, cookie: &str) -> bool {
    let request = request.split(['?', '#']).next().unwrap_or("");
    let request = if request.is_empty() { "/" } else { request };
    request == cookie
        || request.starts_with(cookie) && (cookie.ends_with('/') || request.as_bytes().get(cookie.len()) == Some(&b'/'))
}

/// The monotonic instant of a Unix time, read against the wall clock now.
fn instant_of_unix(unix: i64, now: Instant) -> Instant {
    let wall = crate::civil_time::unix_ns(SystemTime::now()) as i128;
    let ahead = unix as i128 * 1_000_000_000 - wall;
    if ahead <= 0 {
        return now;
    }
    now.checked_add(Duration::from_nanos(ahead.min(u64::MAX as i128) as u64))
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 86_400))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url<'a>(host: &'a str, path: &'a str) -> CookieUrl<'a> {
        CookieUrl { https: false, host, path }
    }

    fn header(jar: &mut CookieJar, u: CookieUrl<'_>) -> String {
        jar.header_for(&u).unwrap_or_default()
    }

    #[test]
    fn a_session_cookie_goes_back_to_the_host_and_paths_under_it() {
        let mut jar = CookieJar::new();
        jar.store(b"sid=abc123; HttpOnly; Path=/", &url("127.0.0.1", "/login"));
        assert_eq!(header(&mut jar, url("127.0.0.1", "/me?x=1")), "sid=abc123");
        // Host-only: not another host, not even a subdomain.
        assert_eq!(jar.header_for(&url("127.0.0.2", "/me")), None);
        assert_eq!(jar.get("sid"), Some("abc123"));
    }

    #[test]
    fn path_matching_and_the_default_path() {
        let mut jar = CookieJar::new();
        // No Path: the directory of /api/login, /api.
        jar.store(b"a=1", &url("h", "/api/login"));
        jar.store(b"b=2; Path=/api/v2", &url("h", "/"));
        // (request path, header sent)
        for (path, want) in [
            ("/api", "a=1"),
            ("/api/x", "a=1"),
            ("/api/v2/x", "b=2; a=1"), // longer path first
            ("/apix", ""),             // not a directory of it
            ("/api/v2x", "a=1"),
            ("/", ""),
        ] {
            assert_eq!(header(&mut jar, url("h", path)), want, "{path}");
        }
    }

    #[test]
    fn domain_cookies_reach_subdomains_but_not_other_hosts() {
        let mut jar = CookieJar::new();
        jar.store(b"d=1; Domain=.example.test", &url("www.example.test", "/"));
        jar.store(b"x=1; Domain=other.test", &url("www.example.test", "/")); // not its domain: ignored
        jar.store(b"ip=1; Domain=0.0.1", &url("127.0.0.1", "/")); // an address matches itself only
        assert_eq!(header(&mut jar, url("api.example.test", "/")), "d=1");
        assert_eq!(header(&mut jar, url("example.test", "/")), "d=1");
        assert_eq!(header(&mut jar, url("badexample.test", "/")), "");
        assert_eq!(header(&mut jar, url("other.test", "/")), "");
        assert_eq!(header(&mut jar, url("127.0.0.1", "/")), "");
    }

    #[test]
    fn secure_cookies_only_over_https() {
        let mut jar = CookieJar::new();
        jar.store(b"s=1; Secure", &url("h", "/"));
        assert_eq!(header(&mut jar, url("h", "/")), "");
        assert_eq!(header(&mut jar, CookieUrl { https: true, host: "h", path: "/" }), "s=1");
    }

    #[test]
    fn replacement_deletion_and_expiry() {
        let mut jar = CookieJar::new();
        let u = url("h", "/");
        jar.store(b"a=1", &u);
        jar.store(b"b=2", &u);
        jar.store(b"a=3", &u);
        assert_eq!(header(&mut jar, u), "a=3; b=2", "replaced in place");
        jar.store(b"a=gone; Max-Age=0", &u);
        assert_eq!(header(&mut jar, u), "b=2");
        jar.store(b"b=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT", &u);
        assert!(jar.is_empty());
        // Max-Age wins over Expires.
        jar.store(b"c=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=100", &u);
        jar.store(b"d=1; Expires=Fri, 01 Jan 2100 00:00:00 GMT", &u);
        assert_eq!(header(&mut jar, u), "c=1; d=1");
        // Same name on another path is another cookie.
        jar.store(b"c=2; Path=/x", &u);
        assert_eq!(header(&mut jar, url("h", "/x/y")), "c=2; c=1; d=1");
    }

    #[test]
    fn a_short_max_age_expires() {
        let mut jar = CookieJar::new();
        let u = url("h", "/");
        jar.store(b"t=1; Max-Age=1", &u);
        assert_eq!(header(&mut jar, u), "t=1");
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(jar.header_for(&u), None);
        assert!(jar.is_empty());
    }

    #[test]
    fn what_is_not_a_cookie_is_ignored() {
        let mut jar = CookieJar::new();
        let u = url("h", "/");
        for bad in [&b"novalue"[..], b"=v", b"a=\x01", b"\xff=1"] {
            jar.store(bad, &u);
        }
        assert!(jar.is_empty());
        jar.store(b" q = \"quoted\" ; max-age=junk", &u);
        assert_eq!(header(&mut jar, u), "q=quoted");
    }

    #[test]
    fn a_full_jar_drops_its_oldest() {
        let mut jar = CookieJar::new();
        let u = url("h", "/");
        for i in 0..=MAX_COOKIES {
            jar.store(format!("c{i}=1").as_bytes(), &u);
        }
        let h = header(&mut jar, u);
        assert!(!h.starts_with("c0=") && h.ends_with(&format!("c{MAX_COOKIES}=1")), "{h}");
    }
}
