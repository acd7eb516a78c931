//! Following an HTTP redirect as Python's requests (and so Locust) does: which statuses are
//! redirects, the method and body of the next request, where its `Location` points (absolute
//! or relative to the URL that answered) and the head of the request sent there.
//!
//! Method rules, as requests' `rebuild_method` has them: 302 and 303 turn anything but HEAD into
//! a GET, 301 turns a POST into a GET; 307 and 308 keep method and body, and every other
//! redirect drops the body (and its Content-Type), whatever the method.

/// Whether `status` is a redirect that is followed: 301, 302, 303, 307, 308.
pub fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// The method of the request after a `status` answered one of `method`, and whether it carries
/// the body again.
pub fn next_method(status: u16, method: &str) -> (&str, bool) {
    // requests' `rebuild_method`, then its body rule: only 307 and 308 send the body again.
    let after = match status {
        302 | 303 if method != "HEAD" => "GET",
        301 if method == "POST" => "GET",
        _ => method,
    };
    (after, matches!(status, 307 | 308))
}

/// An absolute URL a redirect points to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub https: bool,
    /// `host:port` as the Host header carries it (the port always written).
    pub authority: String,
    /// The host alone, lower-case, no brackets.
    pub host: String,
    pub port: u16,
    /// Path and query (`/me?x=1`), never empty; the fragment dropped.
    pub path: String,
}

impl Location {
    /// The URL of a request to `authority` (as the target was written) and `path`.
    pub fn of(https: bool, host: &str, port: u16, path: &str) -> Location {
        let host = host.to_ascii_lowercase();
        Location { https, authority: authority(&host, port), host, port, path: path.to_string() }
    }

    /// Same scheme, host and port: the same connection may carry it.
    pub fn same_origin(&self, other: &Location) -> bool {
        self.https == other.https && self.host == other.host && self.port == other.port
    }

    /// `value` (a `Location` header) resolved against `self`, the URL that answered: absolute
    /// (`http://h:1/x`), scheme-relative (`//h/x`), absolute path (`/x`) or relative path
    /// (`x`, `../x`, `?q`). `None`: not an http(s) URL, or a path that cannot go in a request
    /// line (a space, a control character).
    pub fn resolve(&self, value: &[u8]) -> Option<Location> {
        let value = std::str::from_utf8(value).ok()?.trim();
        let value = value.split('#').next().unwrap_or("");
        if value.is_empty() || value.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return None;
        }
        let lower = value.get(..8).unwrap_or(value).to_ascii_lowercase();
        let (https, rest) = if lower.starts_with("http://") {
            (false, &value[7..])
        } else if lower.starts_with("https://") {
            (true, &value[8..])
        } else if let Some(rest) = value.strip_prefix("//") {
            (self.https, rest)
        } else if value.contains("://") || value.split(['/', '?']).next().is_some_and(|s| s.contains(':')) {
            // Another scheme (ftp:, javascript:): nothing to follow.
            return None;
        } else {
            let path = if value.starts_with('/') {
                normalize(value)
            } else if value.starts_with('?') {
                format!("{}{value}", self.path.split('?').next().unwrap_or("/"))
            } else {
                let base = self.path.split('?').next().unwrap_or("/");
                let dir = &base[..base.rfind('/').map_or(0, |i| i + 1)];
                normalize(&format!("{}{value}", if dir.is_empty() { "/" } else { dir }))
            };
            return Some(Location { path, ..self.clone() });
        };
        let (auth, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if auth.is_empty() || auth.contains('@') {
            return None;
        }
        let (host, port) = split_authority(auth, if https { 443 } else { 80 })?;
        let path = if path.starts_with('?') { format!("/{path}") } else { normalize(path) };
        Some(Location { https, authority: authority(&host, port), host, port, path })
    }
}

/// `host:port`, an IPv6 address in brackets.
fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// `h`, `h:1`, `[::1]`, `[::1]:1` into a lower-case host and a port.
fn split_authority(auth: &str, default_port: u16) -> Option<(String, u16)> {
    let (host, port) = if let Some(rest) = auth.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match auth.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (auth, None),
        }
    };
    let port = match port {
        None | Some("") => default_port,
        Some(p) => p.parse().ok().filter(|&p| p != 0)?,
    };
    (!host.is_empty()).then(|| (host.to_ascii_lowercase(), port))
}

/// `.` and `..` segments of a path removed (RFC 3986 5.2.4), the query kept.
fn normalize(path: &str) -> String {
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    for (i, s) in segments.iter().enumerate() {
        match *s {
            "." => {
                if i == last {
                    out.push("");
                }
            }
            ".." => {
                out.pop();
                if i == last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let mut p = format!("/{}", out.join("/"));
    if let Some(q) = query {
        p.push('?');
        p.push_str(q);
    }
    p
}

/// The head of the request that follows a redirect, written into `out` (cleared first): the
/// request line to `to`, then the headers of the request that was answered (`previous`, its
/// head as sent, up to the blank line) except those the hop replaces: `Host` (`to`'s),
/// `Content-Length` (written last, with `body_len` when the body goes again), `Content-Type`
/// and other body headers when it does not, `Cookie` when the jar writes its own (`cookie`),
/// and `Authorization` when the host changes (requests drops it there too). Ends with
/// `Content-Length: N\r\n\r\n`.
pub fn hop_head(
    previous: &[u8],
    method: &str,
    to: &Location,
    body_len: Option<usize>,
    cookie: Option<&[u8]>,
    host_changed: bool,
    out: &mut Vec<u8>,
) {
    out.clear();
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(to.path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(to.authority.as_bytes());
    out.extend_from_slice(b"\r\n");
    let end = previous.windows(4).position(|w| w == b"\r\n\r\n").map_or(previous.len(), |i| i + 2);
    for line in previous[..end].split(|&b| b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let name = line.split(|&b| b == b':').next().unwrap_or_default().trim_ascii();
        let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
        let dropped = is("host")
            || is("content-length")
            || is("transfer-encoding")
            || (body_len.is_none() && (is("content-type") || is("content-encoding")))
            || (cookie.is_some() && is("cookie"))
            || (host_changed && is("authorization"));
        if !dropped {
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
    }
    if let Some(cookie) = cookie {
        out.extend_from_slice(b"Cookie: ");
        out.extend_from_slice(cookie);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Content-Length: ");
    out.extend_from_slice(itoa::Buffer::new().format(body_len.unwrap_or(0)).as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_after_each_redirect() {
        // (status, method sent, method after, body again)
        for (status, method, after, body) in [
            (303, "POST", "GET", false),
            (303, "PUT", "GET", false),
            (303, "HEAD", "HEAD", false), // requests keeps HEAD on a 303, and drops any body
            (301, "POST", "GET", false),
            (302, "POST", "GET", false),
            (301, "PUT", "PUT", false), // only a POST turns into a GET; the body goes all the same
            (302, "PUT", "GET", false), // a 302 turns anything but HEAD into a GET
            (302, "HEAD", "HEAD", false),
            (302, "GET", "GET", false),
            (307, "POST", "POST", true),
            (308, "PUT", "PUT", true),
        ] {
            assert_eq!(next_method(status, method), (after, body), "{status} {method}");
        }
        assert!([301, 302, 303, 307, 308].into_iter().all(is_redirect));
        assert!(![200, 300, 304, 305, 306, 400].into_iter().any(is_redirect));
    }

    #[test]
    fn locations_resolve_against_the_url_that_answered() {
        let base = Location::of(false, "127.0.0.1", 8000, "/a/b/c?x=1");
        // (Location, resolved authority, resolved path)
        for (value, auth, path) in [
            ("/me", "127.0.0.1:8000", "/me"),
            ("me", "127.0.0.1:8000", "/a/b/me"),
            ("../me?y=2#frag", "127.0.0.1:8000", "/a/me?y=2"),
            ("./", "127.0.0.1:8000", "/a/b/"),
            ("?q=1", "127.0.0.1:8000", "/a/b/c?q=1"),
            ("http://127.0.0.1:8000/x", "127.0.0.1:8000", "/x"),
            ("HTTP://LOCALHOST:9/x/../y", "localhost:9", "/y"),
            ("//127.0.0.2/z", "127.0.0.2:80", "/z"),
            ("http://[::1]:81", "[::1]:81", "/"),
            ("https://h?q", "h:443", "/?q"),
        ] {
            let got = base.resolve(value.as_bytes()).unwrap_or_else(|| panic!("{value}"));
            assert_eq!((got.authority.as_str(), got.path.as_str()), (auth, path), "{value}");
        }
        for bad in ["", "ftp://h/x", "javascript:alert(1)", "/a b", "http://u@h/", "http://h:0/", "http:///x"] {
            assert_eq!(base.resolve(bad.as_bytes()), None, "{bad}");
        }
        let https = base.resolve(b"https://127.0.0.1:8000/").expect("https");
        assert!(https.https && !https.same_origin(&base));
        assert!(base.resolve(b"/x").expect("same").same_origin(&base));
    }

    #[test]
    fn the_hop_keeps_the_headers_it_may_and_replaces_the_rest() {
        let previous = b"POST /login HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nContent-Type: application/json\r\nUser-Agent: blast\r\nAuthorization: Bearer t\r\nCookie: a=1\r\nContent-Length: 7\r\n\r\n{\"a\":1}";
        let to = Location::of(false, "127.0.0.1", 8000, "/me");
        let mut out = Vec::new();
        hop_head(previous, "GET", &to, None, Some(b"sid=s1"), false, &mut out);
        let want = "GET /me HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: blast\r\nAuthorization: Bearer t\r\nCookie: sid=s1\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(String::from_utf8_lossy(&out), want);
        let other = Location::of(false, "127.0.0.2", 9000, "/x");
        hop_head(previous, "POST", &other, Some(7), None, true, &mut out);
        let want = "POST /x HTTP/1.1\r\nHost: 127.0.0.2:9000\r\nContent-Type: application/json\r\nUser-Agent: blast\r\nCookie: a=1\r\nContent-Length: 7\r\n\r\n";
        assert_eq!(String::from_utf8_lossy(&out), want);
    }
}
