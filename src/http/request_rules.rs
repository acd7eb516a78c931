//! What a request blast sends may say, checked where a user writes one (`blast api` flags, a
//! scenario file): the method, a header's name, and the headers blast writes itself.

/// Why `method` cannot be sent, if it cannot: it must be an upper-case token, and not CONNECT
/// (blast speaks to the origin; a CONNECT asks a proxy for a tunnel, whose 2xx answer has no
/// body and turns the connection into raw bytes).
pub fn method_problem(method: &str) -> Option<String> {
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        Some(format!("'{method}' is not an HTTP method (e.g. POST, GET)"))
    } else if method == "CONNECT" {
        Some("CONNECT opens a proxy tunnel, which blast does not load-test (send the requests to the origin)".into())
    } else {
        None
    }
}

/// Whether `name` is a header name (an HTTP token: letters, digits and ``!#$%&'*+-.^_`|~``).
pub fn is_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Whether blast writes header `name` itself (the framing and the authority), so that a user's
/// own would contradict it: Host, Content-Length, Transfer-Encoding.
pub fn set_by_blast(name: &str) -> bool {
    ["host", "content-length", "transfer-encoding"].iter().any(|h| name.eq_ignore_ascii_case(h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_and_headers_a_user_may_write() {
        assert_eq!(method_problem("POST"), None);
        assert_eq!(method_problem("PROPFIND"), None);
        for bad in ["", "post", "GE T", "CONNECT"] {
            assert!(method_problem(bad).is_some(), "{bad}");
        }
        for own in ["Host", "content-length", "Transfer-Encoding"] {
            assert!(set_by_blast(own), "{own}");
        }
        assert!(!set_by_blast("Content-Type"));
        assert!(is_header_name("X-Request-Id") && is_header_name("a!#$%&'*+-.^_`|~9"));
        for bad in ["", "Bad Header", "X:Y", "X\u{e9}"] {
            assert!(!is_header_name(bad), "{bad}");
        }
    }
}
