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
        if authority.contains('@') {
            return Err(format!(
                "target '{url}': credentials in the URL are not supported; use -H 'Authorization: ...'"
            ));
        }
        let default_port = if tls { 443 } else { 80 };
        let with_port = if has_port(authority) { authority.to_string() } else { format!("{authority}:{default_port}") };
        let host = match authority.rfind(':') {
            Some(i) if has_port(authority) => &authority[..i],
            _ => authority,
        };
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
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

fn has_port(authority: &str) -> bool {
    match authority.rfind(':') {
        // "[::1]" has colons but no port; "[::1]:80" and "host:80" have one.
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
        for bad in ["ftp://x/", "127.0.0.1:80", "http:///x", "http://u:p@127.0.0.1/"] {
            assert!(HttpTarget::parse(bad).is_err(), "{bad}");
        }
    }
}
