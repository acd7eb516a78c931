//! The S3 calls `blast upload` makes, over one HTTP/1.1 keep-alive connection (hyper; parts are
//! megabytes, so the client's per-request cost does not matter). Requests are SigV4-presigned
//! by `rusty-s3` (path-style URLs, UNSIGNED-PAYLOAD); part checksums travel as a signed
//! `x-amz-checksum-crc32c` header.

use crate::http::{secure, SecureError};
use crate::workloads::upload::tally::Failure;
use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rusty_s3::actions::{
    AbortMultipartUpload, CompleteMultipartUpload, CreateBucket, CreateMultipartUpload, DeleteObject, HeadBucket,
    HeadObject, S3Action, UploadPart,
};
use rusty_s3::{Bucket, Credentials, UrlStyle};
use std::cell::Cell;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// How long presigned URLs stay valid: longer than any single request may take.
const PRESIGN_VALID: Duration = Duration::from_secs(3600);
/// Body chunk handed to the socket at a time.
const CHUNK: usize = 256 << 10;

/// Where and as whom blast uploads.
#[derive(Clone)]
pub struct S3Target {
    pub bucket: Bucket,
    pub credentials: Credentials,
    pub addr: SocketAddr,
    /// `Host` header value (the URL's authority).
    pub host: String,
    /// For an https:// endpoint: the TLS client and the name its certificate must carry.
    pub tls: Option<(crate::tls::ClientTls, String)>,
}

impl std::fmt::Debug for S3Target {
    // Deliberately without the credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S3Target({}, bucket {})", self.host, self.bucket.name())
    }
}

impl S3Target {
    /// `tls` is used when the endpoint is https://.
    pub fn new(
        endpoint: &str,
        bucket: &str,
        region: &str,
        key: &str,
        secret: &str,
        tls: Option<crate::tls::ClientTls>,
    ) -> Result<Self, String> {
        check_bucket_name(bucket)?;
        let parsed = crate::http::HttpTarget::parse(endpoint)?;
        if parsed.path != "/" {
            return Err(format!("--target '{endpoint}': give the endpoint only (http://host:port), not a path"));
        }
        let url: url::Url = endpoint.parse().map_err(|e| format!("--target '{endpoint}': {e}"))?;
        let (addr, authority) = (parsed.addrs[0], parsed.authority);
        let tls = if parsed.tls {
            Some((tls.ok_or("an https:// endpoint needs the TLS client")?, parsed.host))
        } else {
            None
        };
        let bucket = Bucket::new(url, UrlStyle::Path, bucket.to_string(), region.to_string())
            .map_err(|e| format!("--bucket '{bucket}': {e}"))?;
        Ok(S3Target { bucket, credentials: Credentials::new(key, secret), addr, host: authority, tls })
    }
}

/// S3's rules for a bucket name (the general-purpose buckets' rules, which MinIO and the other
/// S3 stores follow): 3 to 63 characters of lowercase letters, digits, dots and hyphens, a
/// letter or digit at each end, no two dots in a row, not an IPv4 address. Checked before
/// anything is sent, so a bad name is the user's error (exit 2), not a failed run.
pub fn check_bucket_name(name: &str) -> Result<(), String> {
    let why = if !(3..=63).contains(&name.len()) {
        Some("3 to 63 characters")
    } else if let Some(c) =
        name.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-'))
    {
        return Err(format!(
            "--bucket '{name}': {c:?} is not allowed in a bucket name (lowercase letters, digits, '.' and '-' only)"
        ));
    } else if !name.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !name.ends_with(|c: char| c.is_ascii_alphanumeric())
    {
        Some("a letter or digit at the start and the end")
    } else if name.contains("..") {
        Some("no two dots in a row")
    } else if name.parse::<std::net::Ipv4Addr>().is_ok() {
        Some("not an IP address")
    } else {
        None
    };
    match why {
        Some(rule) => Err(format!("--bucket '{name}': a bucket name must have {rule}")),
        None => Ok(()),
    }
}

/// A response: status, the headers blast reads, the (small) body, and when its head arrived.
pub struct Reply {
    pub status: u16,
    /// When the last byte of the request body was handed to the connection.
    pub body_sent_at: Instant,
    pub etag: Option<String>,
    pub crc32c: Option<String>,
    pub content_length: Option<u64>,
    pub body: Bytes,
    pub head_at: Instant,
}

/// One keep-alive connection to the S3 endpoint, reopened after an error.
pub struct Lane {
    target: S3Target,
    sender: Option<SendRequest<PartBody>>,
    /// Bytes sent per second since the run began (shared with the core's tally).
    timeline: Rc<Timeline>,
}

/// Bytes handed to the socket per second of the run (one core's).
pub struct Timeline {
    pub start: Instant,
    pub bytes: std::cell::RefCell<Vec<u64>>,
}

impl Timeline {
    fn add(&self, n: u64) {
        let s = self.start.elapsed().as_secs() as usize;
        let mut b = self.bytes.borrow_mut();
        if b.len() <= s {
            b.resize(s + 1, 0);
        }
        b[s] += n;
    }
}

impl Lane {
    pub fn new(target: S3Target, timeline: Rc<Timeline>) -> Self {
        Lane { target, sender: None, timeline }
    }

    async fn sender(&mut self) -> Result<&mut SendRequest<PartBody>, Failure> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let stream = tokio::net::TcpStream::connect(self.target.addr).await.map_err(|e| Failure::io(&e))?;
            let tls = self.target.tls.as_ref().map(|(tls, host)| (tls, host.as_str()));
            let stream = secure(stream, tls).await.map_err(|e| match e {
                SecureError::Tls(_) => Failure::new("tls_handshake"),
                SecureError::Io(e) => Failure::io(&e),
            })?;
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|_| Failure::new("handshake"))?;
            tokio::task::spawn_local(async move {
                let _ = conn.await;
            });
            self.sender = Some(sender);
        }
        self.sender.as_mut().ok_or_else(|| Failure::new("io"))
    }

    /// Sends one request; the connection is dropped on any transport error. `part_data`
    /// bodies count in the throughput timeline (not the small XML bodies of other calls).
    async fn send(
        &mut self,
        method: &str,
        url: url::Url,
        headers: &[(&str, String)],
        body: Bytes,
        part_data: bool,
    ) -> Result<Reply, Failure> {
        let result = self.try_send(method, url, headers, body, part_data).await;
        if result.is_err() {
            self.sender = None;
        }
        result
    }

    async fn try_send(
        &mut self,
        method: &str,
        url: url::Url,
        headers: &[(&str, String)],
        body: Bytes,
        part_data: bool,
    ) -> Result<Reply, Failure> {
        let path_and_query = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path_and_query)
            .header("host", &self.target.host)
            .header("content-length", body.len());
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let timeline = part_data.then(|| self.timeline.clone());
        let done: Rc<Cell<Option<Instant>>> = Rc::default();
        let req =
            req.body(PartBody { rest: body, timeline, done: done.clone() }).map_err(|_| Failure::new("bad_request"))?;
        let sender = self.sender().await?;
        let resp = sender.send_request(req).await.map_err(|e| Failure::hyper(&e))?;
        let head_at = Instant::now();
        let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let etag = header("etag");
        let crc32c = header("x-amz-checksum-crc32c");
        let content_length = header("content-length").and_then(|v| v.parse().ok());
        let status = resp.status().as_u16();
        let body = collect(resp.into_body()).await?;
        let body_sent_at = done.get().unwrap_or(head_at).min(head_at);
        Ok(Reply { status, body_sent_at, etag, crc32c, content_length, body, head_at })
    }

    pub async fn create_bucket(&mut self) -> Result<Reply, Failure> {
        let t = self.target.clone();
        let url = CreateBucket::new(&t.bucket, &t.credentials).sign(PRESIGN_VALID);
        ok(self.send("PUT", url, &[], Bytes::new(), false).await?)
    }

    pub async fn head_bucket(&mut self) -> Result<Reply, Failure> {
        let t = self.target.clone();
        let url = HeadBucket::new(&t.bucket, Some(&t.credentials)).sign(PRESIGN_VALID);
        ok(self.send("HEAD", url, &[], Bytes::new(), false).await?)
    }

    pub async fn create(&mut self, key: &str) -> Result<String, Failure> {
        let t = self.target.clone();
        let url = CreateMultipartUpload::new(&t.bucket, Some(&t.credentials), key).sign(PRESIGN_VALID);
        let reply = ok(self.send("POST", url, &[], Bytes::new(), false).await?)?;
        let text = std::str::from_utf8(&reply.body).map_err(|_| Failure::new("bad_response"))?;
        let parsed = CreateMultipartUpload::parse_response(text).map_err(|_| Failure::new("bad_response"))?;
        Ok(parsed.upload_id().to_string())
    }

    /// Uploads one part with its CRC32C (base64) and returns the reply (the caller checks it).
    pub async fn upload_part(
        &mut self,
        key: &str,
        upload_id: &str,
        number: u16,
        data: Bytes,
        crc32c_b64: &str,
    ) -> Result<Reply, Failure> {
        let t = self.target.clone();
        let mut action = UploadPart::new(&t.bucket, Some(&t.credentials), key, number, upload_id);
        action.headers_mut().insert("x-amz-checksum-crc32c", crc32c_b64.to_string());
        let url = action.sign(PRESIGN_VALID);
        let headers = [("x-amz-checksum-crc32c", crc32c_b64.to_string())];
        ok(self.send("PUT", url, &headers, data, true).await?)
    }

    pub async fn complete(&mut self, key: &str, upload_id: &str, etags: &[String]) -> Result<Reply, Failure> {
        let t = self.target.clone();
        let action = CompleteMultipartUpload::new(
            &t.bucket,
            Some(&t.credentials),
            key,
            upload_id,
            etags.iter().map(|e| e.as_str()),
        );
        let url = action.sign(PRESIGN_VALID);
        let body = action.body();
        let reply = ok(self.send("POST", url, &[], Bytes::from(body), false).await?)?;
        // S3 may answer 200 and still put an error in the body of a CompleteMultipartUpload.
        if let Some(code) = s3_error_code(&reply.body) {
            return Err(Failure::new(&format!("s3_{code}")));
        }
        Ok(reply)
    }

    pub async fn head(&mut self, key: &str) -> Result<Reply, Failure> {
        let t = self.target.clone();
        let url = HeadObject::new(&t.bucket, Some(&t.credentials), key).sign(PRESIGN_VALID);
        ok(self.send("HEAD", url, &[], Bytes::new(), false).await?)
    }

    pub async fn delete(&mut self, key: &str) -> Result<Reply, Failure> {
        let t = self.target.clone();
        let url = DeleteObject::new(&t.bucket, Some(&t.credentials), key).sign(PRESIGN_VALID);
        ok(self.send("DELETE", url, &[], Bytes::new(), false).await?)
    }

    pub async fn abort(&mut self, key: &str, upload_id: &str) -> Result<Reply, Failure> {
        let t = self.target.clone();
        let url = AbortMultipartUpload::new(&t.bucket, Some(&t.credentials), key, upload_id).sign(PRESIGN_VALID);
        ok(self.send("DELETE", url, &[], Bytes::new(), false).await?)
    }
}

/// A 2xx reply, or the failure it stands for: `auth_<Code>` for 403 (wrong keys, clock skew),
/// `s3_<Code>` for other S3 errors, `http_<status>` when the body names no code.
fn ok(reply: Reply) -> Result<Reply, Failure> {
    if (200..300).contains(&reply.status) {
        return Ok(reply);
    }
    let code = s3_error_code(&reply.body);
    let kind = match (reply.status, code) {
        (403, Some(c)) => format!("auth_{c}"),
        (403, None) => "auth_403".to_string(),
        (_, Some(c)) => format!("s3_{c}"),
        (s, None) => format!("http_{s}"),
    };
    let mut f = Failure::new(&kind);
    f.transient = reply.status >= 500 || kind == "s3_SlowDown";
    Err(f)
}

/// The `<Code>` of an S3 error body.
pub fn s3_error_code(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    if !text.contains("<Error>") {
        return None;
    }
    let start = text.find("<Code>")? + "<Code>".len();
    let end = start + text[start..].find("</Code>")?;
    let code = &text[start..end];
    code.chars().all(|c| c.is_ascii_alphanumeric()).then(|| code.to_string())
}

async fn collect(mut body: Incoming) -> Result<Bytes, Failure> {
    use http_body_util::BodyExt;
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Failure::hyper(&e))?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > 1 << 20 {
                return Err(Failure::new("bad_response"));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(out))
}

/// A request body: zero-copy slices of the data pool, handed over in chunks so that the
/// throughput timeline follows the bytes as they go out.
pub struct PartBody {
    rest: Bytes,
    timeline: Option<Rc<Timeline>>,
    done: Rc<Cell<Option<Instant>>>,
}

impl Body for PartBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.rest.is_empty() {
            if self.done.get().is_none() {
                self.done.set(Some(Instant::now()));
            }
            return Poll::Ready(None);
        }
        let n = self.rest.len().min(CHUNK);
        let chunk = self.rest.split_to(n);
        if let Some(t) = &self.timeline {
            t.add(n as u64);
        }
        if self.rest.is_empty() {
            self.done.set(Some(Instant::now()));
        }
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.rest.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_s3_rules() {
        for good in ["blast", "blast-bench", "a.b-c", "123"] {
            assert!(check_bucket_name(good).is_ok(), "{good}");
        }
        for (bad, says) in [
            ("Bad_Bucket!", "'B' is not allowed"),
            ("ab", "3 to 63"),
            ("-abc", "at the start and the end"),
            ("a..b", "two dots"),
            ("10.0.0.1", "IP address"),
        ] {
            let e = check_bucket_name(bad).expect_err(bad);
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
