//! Reading `multipart/form-data` bodies (RFC 7578) for the upload API: the boundary from the
//! `Content-Type`, then each part's name, filename and bytes (borrowed from the body).

use hyper::header::{HeaderMap, CONTENT_TYPE};
use memchr::memmem;

/// A part of a multipart body.
#[derive(Debug)]
pub struct Part<'a> {
    pub name: String,
    pub filename: Option<String>,
    pub data: &'a [u8],
}

/// The boundary of a `multipart/form-data` request, `None` for any other body.
pub fn boundary(headers: &HeaderMap) -> Option<String> {
    let ct = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let (kind, params) = ct.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case("boundary").then(|| v.trim().trim_matches('"').to_string())
    })
}

/// The parts of `body`; `None` when it is not a well-formed multipart body.
pub fn parse<'a>(body: &'a [u8], boundary: &str) -> Option<Vec<Part<'a>>> {
    let delimiter = format!("--{boundary}");
    let next = format!("\r\n--{boundary}");
    let mut rest = &body[memmem::find(body, delimiter.as_bytes())? + delimiter.len()..];
    let mut parts = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Some(parts);
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let head_end = memmem::find(rest, b"\r\n\r\n")?;
        let head = std::str::from_utf8(&rest[..head_end]).ok()?;
        rest = &rest[head_end + 4..];
        let end = memmem::find(rest, next.as_bytes())?;
        let disposition = head
            .split("\r\n")
            .find_map(|line| {
                line.split_once(':').filter(|(k, _)| k.trim().eq_ignore_ascii_case("content-disposition"))
            })?
            .1;
        parts.push(Part {
            name: param(disposition, "name")?,
            filename: param(disposition, "filename"),
            data: &rest[..end],
        });
        rest = &rest[end + next.len()..];
    }
}

/// The value of `key="value"` in a `Content-Disposition`.
fn param(disposition: &str, key: &str) -> Option<String> {
    disposition.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_files_are_read_with_their_bytes() {
        let body = b"--B\r\nContent-Disposition: form-data; name=\"chunk_index\"\r\n\r\n3\r\n--B\r\nContent-Disposition: form-data; name=\"chunk\"; filename=\"c.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n\r\n--X\x00\xff\r\n--B--\r\n";
        let parts = parse(body, "B").expect("well-formed");
        assert_eq!(parts.len(), 2);
        assert_eq!((parts[0].name.as_str(), parts[0].data), ("chunk_index", &b"3"[..]));
        assert_eq!(parts[1].filename.as_deref(), Some("c.bin"));
        assert_eq!(parts[1].data, b"\r\n--X\x00\xff");
        assert!(parse(b"--B\r\nno end", "B").is_none());
    }
}
