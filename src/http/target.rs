//! An `http(s)://` target URL (api `--target`, the ws URL and probe target, the S3 endpoint):
//! where to connect and what to put in the request line.

use std::net::{SocketAddr, ToSocketAddrs};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpTarget {
    /// Value of the Host header (host and port as written by the user).
    pub authority: String,
    /// Path and query sent in the request line.
    pub path: String,
    /// Resolved addresses, tried in order.
    pub addrs: Vec<SocketAddr>,
    /// `https://`: TLS to `host`.
    pub tls: bool,
    /// The host alone (no port, no brackets): the name a TLS certificate must carry.
    pub host: String,
}

impl HttpTarget {
    /// Parses `http[s]://host[:port][/path]` (HTTP/1.1, over TLS for https).
    pub fn parse(url: &str) -> Result<Self, String> {
        let (tls, rest) = match url.split_once("://") {
            Some(("http", rest)) => (false, rest),
            Some(("https", rest)) => (true, rest),
            Some((scheme, _)) => {
                return Err(format!("target '{url}': unsupported scheme '{scheme}', expected http:// or https://"))
            }
            None => return Err(format!("target '{url}': expected a URL like http://127.0.0.1:8000/v1/messages")),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() {
            return Err(format!("target '{url}': missing host"));
        }
        if let Some(c) = path.chars().find(|c| c.is_whitespace() || c.is_control()) {
            let what = if c == ' ' { "a space".to_string() } else { format!("the character {c:?}") };
            return Err(format!(
                "target '{url}': the path has {what}, which cannot go in a request line; percent-encode it (a space is %20)"
            ));
        }
        if authority.contains('@') {
            return Err(format!(
                "target '{url}': credentials in the URL are not supported; use -H 'Authorization: ...'"
            ));
        }
        if !authority.starts_with('[') && authority.matches(':').count() > 1 {
            let bracketed = bracketed(authority);
            return Err(format!(
                "target '{url}': an IPv6 address goes in brackets: {}://{bracketed}{path}",
                if tls { "https" } else { "http" }
            ));
        }
        let default_port = if tls { 443 } else { 80 };
        let (host, port) = match authority.rfind(':') {
            Some(i) if has_port(authority) => (&authority[..i], Some(&authority[i + 1..])),
            _ => (authority, None),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        if host.is_empty() {
            return Err(format!("target '{url}': missing host (e.g. http://127.0.0.1:8000/)"));
        }
        let port: u16 = match port {
            None => default_port,
            Some(digits) => match digits.parse() {
                Ok(0) => return Err(format!("target '{url}': port 0 is not a port a server listens on")),
                Ok(p) => p,
                Err(_) => return Err(format!("target '{url}': port '{digits}' is not a port (1-65535)")),
            },
        };
        let with_port = match host.contains(':') {
            true => format!("[{host}]:{port}"),
            false => format!("{host}:{port}"),
        };
        let addrs: Vec<SocketAddr> = with_port
            .to_socket_addrs()
            .map_err(|e| format!("target '{url}': cannot resolve '{authority}': {e}"))?
            .collect();
        if addrs.is_empty() {
            return Err(format!("target '{url}': '{authority}' resolves to no address"));
        }
        Ok(HttpTarget { authority: authority.to_string(), path: path.to_string(), addrs, tls, host })
    }
}

/// A bare IPv6 authority (`::1:8080`, `::1`) with the address in brackets: `[::1]:8080` when
/// what precedes the last colon is an address and what follows it a port, else `[::1]`.
fn bracketed(authority: &str) -> String {
    if let Some((addr, port)) = authority.rsplit_once(':') {
        let is_port = !port.is_empty() && port.chars().all(|c| c.is_ascii_digit());
        if is_port && addr.parse::<std::net::Ipv6Addr>().is_ok() {
            return format!("[{addr}]:{port}");
        }
    }
    format!("[{authority}]")
}

fn has_port(authority: &str) -> bool {
    match authority.rfind(':') {
        // "[::1]" has colons but no port; "[::1]:80", "host:80" and "host:" (empty: refused
        // by the caller) have one.
        Some(i) => !authority.ends_with(']') && authority[i + 1..].chars().all(|c| c.is_ascii_digit()),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_host_port_and_path() {
        let t = HttpTarget::parse("http://127.0.0.1:8000/v1/messages?x=1").expect("valid");
        assert_eq!(t.authority, "127.0.0.1:8000");
        assert_eq!(t.path, "/v1/messages?x=1");
        assert_eq!(t.addrs, vec!["127.0.0.1:8000".parse().expect("addr")]);
        let t = HttpTarget::parse("http://[::1]:9/").expect("valid");
        assert_eq!(t.addrs[0].port(), 9);
        let t = HttpTarget::parse("http://127.0.0.1").expect("valid");
        assert_eq!((t.path.as_str(), t.addrs[0].port(), t.tls), ("/", 80, false));
        let t = HttpTarget::parse("https://localhost/v1").expect("valid");
        assert_eq!((t.addrs[0].port(), t.tls, t.host.as_str()), (443, true, "localhost"));
        let t = HttpTarget::parse("https://[::1]:8443/").expect("valid");
        assert_eq!((t.addrs[0].port(), t.host.as_str()), (8443, "::1"));
    }

    #[test]
    fn rejects_what_it_cannot_speak() {
        for (bad, says) in [
            ("ftp://x/", "unsupported scheme 'ftp'"),
            ("127.0.0.1:80", "expected a URL"),
            ("http:///x", "missing host"),
            ("http://:8080/x", "missing host"),
            ("http://[]:8080/x", "missing host"),
            ("http://127.0.0.1:0/x", "port 0"),
            ("https://[::1]:0/", "port 0"),
            ("http://127.0.0.1:65536/", "not a port"),
            ("http://127.0.0.1:/", "not a port"),
            ("http://u:p@127.0.0.1/", "credentials"),
            ("http://127.0.0.1:8000/v1 messages", "the path has a space"),
            ("http://127.0.0.1:8000/v1\tx", "the character '\\t'"),
            ("http://::1:8080/x", "in brackets: http://[::1]:8080/x"),
            ("https://::1/", "in brackets: https://[::1]/"),
            ("http://fe80::1:2:3/", "in brackets: http://[fe80::1:2]:3/"),
        ] {
            let e = HttpTarget::parse(bad).expect_err(bad);
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
