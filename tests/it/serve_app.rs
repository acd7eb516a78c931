//! `blast serve`'s chat application API (login and bearer tokens, conversations, the chunked
//! upload API, the stats endpoints), against the real binary started as a separate process and
//! spoken to with raw HTTP/1.1.

use crate::common::*;
use serde_json::Value;
use sha2::Digest;
use std::io::{Read, Write};
use std::net::TcpStream;

/// One request on a fresh connection (`Connection: close`): status and body.
fn request(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(head.as_bytes()).expect("write head");
    s.write_all(body).expect("write body");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read answer");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("bad answer {text:?}"));
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"))
}

fn get(addr: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    request(addr, "GET", path, headers, b"")
}

fn post(addr: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    request(addr, "POST", path, headers, body)
}

fn login(addr: &str, user: &str) -> String {
    let body = format!(r#"{{"username":"{user}","password":"secret"}}"#);
    let (status, answer) = post(addr, "/auth/login", &[("Content-Type", "application/json")], body.as_bytes());
    assert_eq!(status, 200, "{answer}");
    let v = json(&answer);
    assert_eq!(v["token_type"], "bearer", "{answer}");
    v["access_token"].as_str().unwrap_or_else(|| panic!("no access_token in {answer}")).to_string()
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

const MESSAGE: &[u8] = br#"{"conversation_id":"conv-1","content":"hi"}"#;

#[test]
fn login_issues_unique_tokens_and_counts_logins_per_user() {
    let server = Server::start(&[]);
    let a = &server.addr;
    let t1 = login(a, "alice");
    let t2 = login(a, "alice");
    let t3 = login(a, "bob");
    assert!(t1 != t2 && t2 != t3 && t1 != t3, "{t1} {t2} {t3}");
    for bad in [&b""[..], b"{", b"[]", br#"{"username":"x"}"#, br#"{"username":3,"password":"p"}"#] {
        let (status, body) = post(a, "/auth/login", &[], bad);
        assert_eq!(status, 400, "{:?}: {body}", String::from_utf8_lossy(bad));
        assert!(json(&body)["error"].is_string(), "{body}");
    }
    let (status, body) = get(a, "/stats/logins", &[]);
    assert_eq!(status, 200);
    let v = json(&body);
    assert_eq!(v["users"], serde_json::json!({"alice": 2, "bob": 1}), "{body}");
    assert_eq!(v["total"], 3, "{body}");
    // Without --require-auth nothing needs a token, as before.
    assert_eq!(post(a, "/v1/messages", &[], MESSAGE).0, 202);
    let (status, body) = get(a, "/v1/conversations?limit=20", &[]);
    assert_eq!(status, 200);
    let list = json(&body);
    assert!(list.as_array().is_some_and(|l| !l.is_empty()), "{body}");
    assert_eq!(get(a, "/health", &[]).0, 200);
}

#[test]
fn require_auth_answers_401_without_a_valid_token() {
    let server = Server::start(&["--require-auth"]);
    let a = &server.addr;
    let (status, body) = post(a, "/v1/messages", &[], MESSAGE);
    assert_eq!((status, json(&body)), (401, serde_json::json!({"detail": "Not authenticated"})));
    let (status, _) = post(a, "/v1/messages", &[("Authorization", "Bearer tok-nobody-1")], MESSAGE);
    assert_eq!(status, 401);
    assert_eq!(post(a, "/v1/messages", &[("Authorization", "Basic abc")], MESSAGE).0, 401);
    assert_eq!(get(a, "/v1/conversations?limit=20", &[]).0, 401);
    assert_eq!(post(a, "/v1/files/initiate", &[], b"{}").0, 401);

    let token = login(a, "carol");
    let auth = bearer(&token);
    let (status, body) = post(a, "/v1/messages", &[("Authorization", &auth)], MESSAGE);
    assert_eq!(status, 202, "{body}");
    let (status, body) = get(a, "/v1/conversations?limit=20", &[("Authorization", &auth)]);
    assert_eq!(status, 200, "{body}");
    assert!(json(&body).as_array().is_some_and(|l| !l.is_empty()), "{body}");
    // Never guarded.
    assert_eq!(get(a, "/health", &[]).0, 200);
    let (status, body) = get(a, "/stats/logins", &[]);
    assert_eq!(status, 200);
    let v = json(&body);
    assert_eq!(v["users"], serde_json::json!({"carol": 1}), "{body}");
    assert_eq!(v["unauthorized"], 5, "{body}");
}

#[test]
fn expired_tokens_get_401_until_the_client_logs_in_again() {
    // Exclusive: timed, the first request must come within the token's 1 s.
    let _g = exclusive();
    let server = Server::start(&["--require-auth", "--token-ttl", "1s"]);
    let a = &server.addr;
    let old = bearer(&login(a, "dave"));
    assert_eq!(post(a, "/v1/messages", &[("Authorization", &old)], MESSAGE).0, 202);
    wait_ms(1300);
    assert_eq!(post(a, "/v1/messages", &[("Authorization", &old)], MESSAGE).0, 401);
    let new = bearer(&login(a, "dave"));
    assert_eq!(post(a, "/v1/messages", &[("Authorization", &new)], MESSAGE).0, 202);
    let (_, body) = get(a, "/stats/logins", &[]);
    assert_eq!(json(&body)["users"]["dave"], 2, "{body}");
}

fn stats(addr: &str) -> Value {
    let (status, body) = get(addr, "/stats/uploads", &[]);
    assert_eq!(status, 200);
    json(&body)
}

fn initiate(addr: &str, auth: &[(&str, &str)], body: &str) -> String {
    let (status, answer) = post(addr, "/v1/files/initiate", auth, body.as_bytes());
    assert_eq!(status, 201, "{answer}");
    json(&answer)["upload_id"].as_str().unwrap_or_else(|| panic!("no upload_id in {answer}")).to_string()
}

#[test]
fn upload_of_three_chunks_is_checked_and_completed() {
    let server = Server::start(&["--require-auth"]);
    let a = &server.addr;
    let token = bearer(&login(a, "erin"));
    let auth = [("Authorization", token.as_str())];
    const CHUNK: usize = 64 * 1024;
    let size = 2 * CHUNK + 1000;
    let id = initiate(a, &auth, &format!(r#"{{"filename":"a.bin","size":{size},"chunk_size":{CHUNK}}}"#));
    let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    // Index by query, by header, and implied (the next expected).
    let (status, body) = post(a, &format!("/v1/files/{id}/chunks?index=0"), &auth, &data[..CHUNK]);
    assert_eq!(status, 200, "{body}");
    let v = json(&body);
    assert_eq!((v["index"].as_u64(), v["received"].as_u64()), (Some(0), Some(CHUNK as u64)), "{body}");
    let with_index = [auth[0], ("X-Chunk-Index", "1")];
    let (status, body) = post(a, &format!("/v1/files/{id}/chunks"), &with_index, &data[CHUNK..2 * CHUNK]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["index"], 1);
    let (status, body) = post(a, &format!("/v1/files/{id}/chunks"), &auth, &data[2 * CHUNK..]);
    assert_eq!(status, 200, "{body}");
    let v = json(&body);
    assert_eq!((v["index"].as_u64(), v["received"].as_u64()), (Some(2), Some(1000)), "{body}");
    let (status, body) = post(a, &format!("/v1/files/{id}/complete"), &auth, b"");
    assert_eq!(status, 200, "{body}");
    let v = json(&body);
    assert_eq!(
        (v["upload_id"].as_str(), v["chunks"].as_u64(), v["bytes"].as_u64()),
        (Some(&*id), Some(3), Some(size as u64))
    );
    let s = stats(a);
    assert_eq!((s["completed"].as_u64(), s["completed_chunks"].as_u64()), (Some(1), Some(3)), "{s}");
    assert_eq!(s["completed_bytes"].as_u64(), Some(size as u64), "{s}");
    assert_eq!((s["rejected_chunks"].as_u64(), s["open"].as_u64()), (Some(0), Some(0)), "{s}");
    // Without the token even the upload API is refused.
    assert_eq!(post(a, &format!("/v1/files/{id}/complete"), &[], b"").0, 401);
}

#[test]
fn upload_rejects_out_of_order_wrong_size_unknown_and_incomplete() {
    let server = Server::start(&[]);
    let a = &server.addr;
    let id = initiate(a, &[], r#"{"size":3000,"chunk_size":1000}"#);
    let chunk = vec![7u8; 1000];
    let url = |i: usize| format!("/v1/files/{id}/chunks?index={i}");
    let (status, body) = post(a, &url(1), &[], &chunk);
    assert_eq!(status, 409, "out of order: {body}");
    assert!(json(&body)["error"].as_str().is_some_and(|e| e.contains("order")), "{body}");
    assert_eq!(post(a, &url(0), &[], &chunk[..999]).0, 400, "short non-last chunk");
    assert_eq!(post(a, &url(0), &[], &chunk).0, 200);
    assert_eq!(post(a, &url(0), &[], &chunk).0, 409, "repeated chunk");
    assert_eq!(post(a, &url(1), &[], &chunk).0, 200);
    assert_eq!(post(a, &format!("/v1/files/{id}/chunks?index=x"), &[], &chunk).0, 400);
    assert_eq!(post(a, "/v1/files/upl-nope/chunks?index=0", &[], &chunk).0, 404);
    // Chunk 2 is missing.
    let (status, body) = post(a, &format!("/v1/files/{id}/complete"), &[], b"");
    assert_eq!(status, 409, "{body}");
    assert_eq!(post(a, "/v1/files/upl-nope/complete", &[], b"").0, 404);
    assert_eq!(post(a, "/v1/files/initiate", &[], b"{not json").0, 400);
    assert_eq!(post(a, "/v1/files/initiate", &[], br#"{"chunk_size":0}"#).0, 400);
    let s = stats(a);
    assert_eq!(s["rejected_chunks"].as_u64(), Some(5), "{s}");
    assert_eq!(s["rejected_completes"].as_u64(), Some(2), "{s}");
    assert_eq!((s["completed"].as_u64(), s["chunks"].as_u64(), s["open"].as_u64()), (Some(0), Some(2), Some(1)), "{s}");
    // The missing chunk arrives; then it completes, and nothing more is accepted.
    assert_eq!(post(a, &url(2), &[], &chunk).0, 200);
    let (status, body) = post(a, &format!("/v1/files/{id}/complete"), &[], b"");
    assert_eq!(status, 200, "{body}");
    assert_eq!((json(&body)["chunks"].as_u64(), json(&body)["bytes"].as_u64()), (Some(3), Some(3000)));
    assert_eq!(post(a, &url(3), &[], &chunk).0, 404);
    let s = stats(a);
    assert_eq!((s["completed"].as_u64(), s["completed_bytes"].as_u64()), (Some(1), Some(3000)), "{s}");
    assert_eq!(get(a, "/health", &[]).0, 200, "bad input never takes the server down");
}

#[test]
fn upload_without_declared_sizes_takes_any_chunks_and_keeps_the_connection() {
    let server = Server::start(&[]);
    let a = &server.addr;
    let id = initiate(a, &[], "");
    // Keep-alive: a rejected chunk is read to its end, so the next request on the connection works.
    let mut s = TcpStream::connect(a.as_str()).expect("connect");
    let chunk = vec![1u8; 5000];
    for index in [3, 0, 1] {
        let head = format!(
            "POST /v1/files/{id}/chunks/{index} HTTP/1.1\r\nHost: {a}\r\nContent-Length: {}\r\n\r\n",
            chunk.len()
        );
        s.write_all(head.as_bytes()).expect("write");
        s.write_all(&chunk).expect("write");
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).expect("read");
        let text = String::from_utf8_lossy(&buf[..n]);
        let want = if index == 3 { "HTTP/1.1 409" } else { "HTTP/1.1 200" };
        assert!(text.starts_with(want), "chunk {index}: {text}");
    }
    drop(s);
    let (status, body) = post(a, &format!("/v1/files/{id}/complete"), &[], b"");
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["bytes"].as_u64(), Some(10_000));
}

/// A multipart body: `fields` as form fields, then (when given) a file part, then `after`.
fn form(boundary: &str, fields: &[(&str, &str)], file: Option<&[u8]>, after: &[(&str, &str)]) -> Vec<u8> {
    let mut b = Vec::new();
    let field = |b: &mut Vec<u8>, (k, v): &(&str, &str)| {
        let part = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n");
        b.extend_from_slice(part.as_bytes());
    };
    fields.iter().for_each(|f| field(&mut b, f));
    if let Some(data) = file {
        let head = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"chunk\"; filename=\"c;\\\"1\\\".bin\"\r\nContent-Type: application/octet-stream\r\n\r\n");
        b.extend_from_slice(head.as_bytes());
        b.extend_from_slice(data);
        b.extend_from_slice(b"\r\n");
    }
    after.iter().for_each(|f| field(&mut b, f));
    b.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    b
}

/// Multipart chunks are read as they stream in: the index as a field before or after the file
/// part (a late one must name the chunk it came with), file bytes that look like the boundary's
/// start, bodies far larger than a frame; the object's SHA-256 is that of the bytes sent, and
/// malformed, fileless or refused bodies are rejected and counted without losing the connection.
#[test]
fn multipart_chunks_are_streamed_checked_and_hashed() {
    // Shared: exact counts, no timing.
    let _g = light();
    let server = Server::start(&[]);
    let a = &server.addr;
    const CHUNK: usize = 300_000;
    let size = 3 * CHUNK - 500;
    let id = initiate(a, &[], &format!(r#"{{"size":{size},"chunk_size":{CHUNK}}}"#));
    let boundary = "blastBOUNDARY7";
    // Bytes with the delimiter's beginning in them (`\r\n--blastBOUND`), never all of it.
    let mut data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    for at in (1000..size - 100).step_by(70_001) {
        data[at..at + 16].copy_from_slice(b"\r\n--blastBOUNDA\r");
    }
    let ct = format!("multipart/form-data; boundary=\"{boundary}\"");
    let h = [("Content-Type", ct.as_str())];
    let url = format!("/v1/files/{id}/chunks");
    let chunk = |i: usize| &data[i * CHUNK..size.min((i + 1) * CHUNK)];
    let (status, body) = post(a, &url, &h, &form(boundary, &[("chunk_index", "0")], Some(chunk(0)), &[]));
    assert_eq!((status, json(&body)["received"].as_u64()), (200, Some(CHUNK as u64)), "{body}");
    let (status, body) = post(a, &url, &h, &form(boundary, &[], Some(chunk(1)), &[("chunk_index", "1")]));
    assert_eq!((status, json(&body)["index"].as_u64()), (200, Some(1)), "late index field: {body}");
    // Rejected: a late index naming another chunk, a wrong early one, no file, no closing line,
    // an unknown upload.
    let (status, body) = post(a, &url, &h, &form(boundary, &[], Some(chunk(2)), &[("chunk_index", "5")]));
    assert_eq!(status, 409, "{body}");
    assert_eq!(post(a, &url, &h, &form(boundary, &[("chunk_index", "x")], Some(chunk(2)), &[])).0, 400);
    assert_eq!(post(a, &url, &h, &form(boundary, &[("chunk_index", "2")], None, &[])).0, 422);
    let cut = form(boundary, &[], Some(chunk(2)), &[]);
    assert_eq!(post(a, &url, &h, &cut[..cut.len() - 10]).0, 400, "no closing delimiter");
    // Keep-alive: a refused chunk's body is read to its end; the next request works.
    let mut s = TcpStream::connect(a.as_str()).expect("connect");
    for (path, want) in [("/v1/files/upl-nope/chunks".to_string(), "HTTP/1.1 404"), (url.clone(), "HTTP/1.1 200")] {
        let body = form(boundary, &[], Some(chunk(2)), &[]);
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {a}\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).expect("write");
        s.write_all(&body).expect("write");
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).expect("read");
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(text.starts_with(want), "{path}: {text}");
    }
    drop(s);
    let (status, body) = post(a, &format!("/v1/files/{id}/complete"), &[], b"");
    assert_eq!(status, 200, "{body}");
    let v = json(&body);
    let want: String = sha2::Sha256::digest(&data).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!((v["chunks"].as_u64(), v["bytes"].as_u64()), (Some(3), Some(size as u64)), "{body}");
    assert_eq!(v["sha256"].as_str(), Some(want.as_str()), "{body}");
    let s = stats(a);
    assert_eq!((s["rejected_chunks"].as_u64(), s["completed_chunks"].as_u64()), (Some(5), Some(3)), "{s}");
    assert_eq!(s["open"].as_u64(), Some(0), "{s}");
}
