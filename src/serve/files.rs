//! The embedded target's chunked upload API, mirroring a chat application's own (not S3):
//!
//! - `POST /v1/files/initiate`, optional JSON `{"filename", "size", "chunk_size",
//!   "total_chunks"}` -> 201 `{"upload_id": ...}`.
//! - `POST /v1/files/{id}/chunks?index=N` (or header `X-Chunk-Index: N`, or
//!   `/v1/files/{id}/chunks/N`, or a multipart field `chunk_index`; none: the next expected
//!   index) with the chunk as body, or as the file part of a `multipart/form-data` body (as a
//!   FastAPI `UploadFile` endpoint takes it; `multipart`) ->
//!   `{"index": N, "received": bytes, "crc32c": ...}`. Chunks must come in order, one at a time
//!   (409 otherwise); with `chunk_size` every chunk but the last has exactly that size, with
//!   `size` they add up to no more than it (400 otherwise); unknown id: 404. The body is streamed,
//!   a multipart one through `multipart::Parser` (the file part hashed as its frames arrive):
//!   only its length and CRC32C are kept, never the data.
//! - `POST /v1/files/{id}/complete` -> `{"upload_id", "chunks", "bytes", "sha256"}` when
//!   every chunk arrived (all `size` bytes, `total_chunks` chunks, when given), else 409; the
//!   SHA-256 is of the object as assembled from its chunks in order (hashed as they stream in).
//!
//! Fault: `corrupt_chunk = n` stores the n-th chunk received with its first byte flipped, so
//! that one upload's SHA-256 is wrong (a client that checks it must notice).
//!
//! `GET /stats/uploads` (served from `mod.rs`) reports the totals, rejections included, so
//! tests can check that every chunk was checked.

use super::auth::error;
use super::multipart::Event;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use sha2::Digest;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Largest initiate body read.
const MAX_INITIATE_BODY: usize = 64 * 1024;

/// Most bytes of a refused body read (and dropped) so that its connection can be kept; past
/// this the connection is closed after the answer.
const MAX_DRAIN: usize = 64 << 20;

/// Longest `chunk_index` field value read.
const MAX_INDEX_FIELD: usize = 64;

#[derive(Default, serde::Deserialize)]
#[serde(default)]
struct Initiate {
    filename: Option<String>,
    size: Option<u64>,
    chunk_size: Option<u64>,
    total_chunks: Option<u64>,
}

struct Upload {
    filename: Option<String>,
    size: Option<u64>,
    chunk_size: Option<u64>,
    total_chunks: Option<u64>,
    /// Chunks accepted so far; also the next expected index.
    chunks: u64,
    bytes: u64,
    /// A chunk shorter than `chunk_size` arrived: it was the last.
    short_seen: bool,
    /// A chunk is being received.
    in_flight: bool,
    /// SHA-256 of the chunks accepted so far, in order.
    sha: sha2::Sha256,
}

#[derive(Default)]
pub struct Files {
    uploads: Mutex<HashMap<String, Upload>>,
    next_id: AtomicU64,
    initiated: AtomicU64,
    completed: AtomicU64,
    chunks: AtomicU64,
    bytes: AtomicU64,
    completed_chunks: AtomicU64,
    completed_bytes: AtomicU64,
    rejected_chunks: AtomicU64,
    rejected_completes: AtomicU64,
    /// Chunks received (accepted or not), for `corrupt_chunk`.
    received: AtomicU64,
    /// The chunk (1-based, of `received`) stored corrupted.
    corrupt_chunk: Option<u64>,
}

/// Resets an upload's `in_flight` if a chunk's request ends early (its connection dropped).
struct InFlight<'a> {
    files: &'a Files,
    id: &'a str,
    armed: bool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.armed {
            if let Some(u) = self.files.uploads().get_mut(self.id) {
                u.in_flight = false;
            }
        }
    }
}

impl Files {
    pub fn new(corrupt_chunk: Option<u64>) -> Self {
        Files { corrupt_chunk, ..Files::default() }
    }

    fn uploads(&self) -> MutexGuard<'_, HashMap<String, Upload>> {
        self.uploads.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Any `POST /v1/files/...`.
    pub async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = req.uri().path().strip_prefix("/v1/files/").unwrap_or_default();
        if path == "initiate" {
            return self.initiate(req).await;
        }
        let (id, rest) = path.split_once('/').unwrap_or((path, ""));
        let id = id.to_owned();
        match rest {
            "complete" => {
                drain(req.into_body()).await;
                self.complete(&id)
            }
            "chunks" => {
                let index = chunk_index(&req);
                match super::multipart::boundary(req.headers()) {
                    Some(boundary) => self.multipart_chunk(&id, index, &boundary, req.into_body()).await,
                    None => self.chunk(&id, index, req.into_body()).await,
                }
            }
            _ => match rest.strip_prefix("chunks/") {
                Some(n) => {
                    let index = n.parse::<u64>().map(Some).map_err(|_| ());
                    self.chunk(&id, index, req.into_body()).await
                }
                None => {
                    drain(req.into_body()).await;
                    error(StatusCode::NOT_FOUND, "not found")
                }
            },
        }
    }

    async fn initiate(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let body = match Limited::new(req.into_body(), MAX_INITIATE_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return error(StatusCode::BAD_REQUEST, "unreadable or too large initiate body"),
        };
        let init: Initiate = if body.iter().all(u8::is_ascii_whitespace) {
            Initiate::default()
        } else {
            match serde_json::from_slice(&body) {
                Ok(i) => i,
                Err(e) => return error(StatusCode::BAD_REQUEST, &format!("bad initiate body: {e}")),
            }
        };
        if init.chunk_size == Some(0) || init.total_chunks == Some(0) {
            return error(StatusCode::BAD_REQUEST, "chunk_size and total_chunks must be at least 1");
        }
        let n = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let id = format!("upl-{n:016x}");
        let upload = Upload {
            filename: init.filename,
            size: init.size,
            chunk_size: init.chunk_size,
            total_chunks: init.total_chunks,
            chunks: 0,
            bytes: 0,
            short_seen: false,
            in_flight: false,
            sha: sha2::Sha256::new(),
        };
        self.uploads().insert(id.clone(), upload);
        self.initiated.fetch_add(1, Ordering::Relaxed);
        super::json(StatusCode::CREATED, serde_json::json!({ "upload_id": id }).to_string())
    }

    /// A chunk sent as the file part of a `multipart/form-data` body, hashed as it streams in
    /// (never held whole); its index from the query, the header or the `chunk_index` field.
    /// The upload is reserved when the file part begins, with the index known by then (none:
    /// the next expected); a `chunk_index` field after the file part must name that index.
    async fn multipart_chunk(
        &self,
        id: &str,
        index: Result<Option<u64>, ()>,
        boundary: &str,
        mut body: Incoming,
    ) -> Response<Full<Bytes>> {
        let mut parser = super::multipart::Parser::new(boundary);
        let mut r = Receiving {
            files: self,
            id,
            index,
            part: Current::Other,
            field: None,
            file: None,
            refused: None,
            over: false,
        };
        let mut parsed = Ok(());
        let mut broken = false;
        while parsed.is_ok() && r.refused.is_none() && !r.over {
            match body.frame().await {
                None => break,
                Some(Err(_)) => {
                    broken = true;
                    break;
                }
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        parsed = parser.feed(&data, &mut |e| r.on(e));
                    }
                }
            }
        }
        if parsed.is_err() || r.refused.is_some() || r.over {
            drain(body).await;
        }
        let ended = if broken {
            Err("unreadable multipart body")
        } else {
            parsed.and_then(|()| parser.finish()).map_err(|_| "malformed multipart body")
        };
        let refused = r.refused.take();
        let Some(mut file) = r.file.take() else {
            self.rejected_chunks.fetch_add(1, Ordering::Relaxed);
            return match (refused, ended) {
                (Some(resp), _) => resp,
                (None, Err(msg)) => error(StatusCode::BAD_REQUEST, msg),
                (None, Ok(())) => error(StatusCode::UNPROCESSABLE_ENTITY, "no file part in the multipart body"),
            };
        };
        file.guard.armed = false;
        let late = match (r.index, r.field.take()) {
            (Ok(None), Some(v)) if file.implicit => Some(field_index(&v)),
            _ => None,
        };
        let read = match (ended, late) {
            _ if r.over => {
                Err((StatusCode::BAD_REQUEST, format!("chunk {} has more than {} bytes", file.index, file.limit.max())))
            }
            (Err(msg), _) => Err((StatusCode::BAD_REQUEST, msg.to_string())),
            (Ok(()), Some(Err(()))) => Err((StatusCode::BAD_REQUEST, "chunk index must be a whole number".into())),
            (Ok(()), Some(Ok(n))) if n != file.index => {
                Err((StatusCode::CONFLICT, format!("chunk {n} out of order: expected chunk {}", file.index)))
            }
            _ => Ok((file.len, file.crc, file.sha)),
        };
        self.accept(id, file.index, file.limit, read)
    }

    /// Whether the chunk now received is the one to store corrupted.
    fn corrupt_next(&self) -> bool {
        let n = self.received.fetch_add(1, Ordering::Relaxed) + 1;
        self.corrupt_chunk == Some(n)
    }

    async fn chunk(&self, id: &str, index: Result<Option<u64>, ()>, body: Incoming) -> Response<Full<Bytes>> {
        let reserved = match index {
            Err(()) => Err(error(StatusCode::BAD_REQUEST, "chunk index must be a whole number")),
            Ok(index) => self.reserve(id, index),
        };
        let (index, limit, sha) = match reserved {
            Ok(r) => r,
            Err(resp) => {
                self.rejected_chunks.fetch_add(1, Ordering::Relaxed);
                drain(body).await;
                return resp;
            }
        };
        let mut guard = InFlight { files: self, id, armed: true };
        let corrupt = self.corrupt_next();
        let read = count(body, sha, corrupt).await;
        guard.armed = false;
        self.accept(id, index, limit, read.ok_or((StatusCode::BAD_REQUEST, "unreadable chunk body".to_string())))
    }

    /// Accepts chunk `index` of `id` as read (`Err`: the answer for a body that broke off or
    /// was refused) if it has the length `limit` allows: its bytes and the object's SHA-256 so
    /// far are kept.
    fn accept(
        &self,
        id: &str,
        index: u64,
        limit: Limit,
        read: Result<(u64, u32, sha2::Sha256), (StatusCode, String)>,
    ) -> Response<Full<Bytes>> {
        let mut uploads = self.uploads();
        let Some(u) = uploads.get_mut(id) else {
            self.rejected_chunks.fetch_add(1, Ordering::Relaxed);
            return error(StatusCode::NOT_FOUND, "unknown upload_id");
        };
        u.in_flight = false;
        let checked = match read {
            Err(answer) => Err(answer),
            Ok((0, ..)) => Err((StatusCode::BAD_REQUEST, format!("chunk {index} is empty"))),
            Ok((len, crc, sha)) => match limit {
                Limit::Exactly(want) if len != want => {
                    Err((StatusCode::BAD_REQUEST, format!("chunk {index} has {len} bytes, expected {want}")))
                }
                Limit::AtMost(max) if len > max => {
                    Err((StatusCode::BAD_REQUEST, format!("chunk {index} has {len} bytes, at most {max} allowed")))
                }
                _ => Ok((len, crc, sha)),
            },
        };
        let (len, crc, sha) = match checked {
            Ok(c) => c,
            Err((status, msg)) => {
                self.rejected_chunks.fetch_add(1, Ordering::Relaxed);
                return error(status, &msg);
            }
        };
        u.chunks += 1;
        u.bytes += len;
        u.sha = sha;
        if u.chunk_size.is_some_and(|c| len < c) {
            u.short_seen = true;
        }
        drop(uploads);
        self.chunks.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(len, Ordering::Relaxed);
        let body = serde_json::json!({ "index": index, "received": len, "crc32c": format!("{crc:08x}") });
        super::json(StatusCode::OK, body.to_string())
    }

    /// Checks that chunk `index` (None: the next) of upload `id` may come now, and marks the
    /// upload busy; returns the index, the allowed length and the object's SHA-256 so far (to
    /// go on with).
    #[allow(clippy::result_large_err)]
    fn reserve(&self, id: &str, index: Option<u64>) -> Result<(u64, Limit, sha2::Sha256), Response<Full<Bytes>>> {
        let mut uploads = self.uploads();
        let Some(u) = uploads.get_mut(id) else {
            return Err(error(StatusCode::NOT_FOUND, "unknown upload_id"));
        };
        let conflict = |msg: String| Err(error(StatusCode::CONFLICT, &msg));
        if u.in_flight {
            return conflict(format!("chunk {} of this upload is still being received", u.chunks));
        }
        let expected = u.chunks;
        let index = index.unwrap_or(expected);
        if index != expected {
            return conflict(format!("chunk {index} out of order: expected chunk {expected}"));
        }
        if u.short_seen {
            return conflict(format!("chunk {index} after the last (short) chunk {}", expected - 1));
        }
        if u.total_chunks.is_some_and(|t| index >= t) {
            return conflict(format!("chunk {index} beyond total_chunks {}", u.total_chunks.unwrap_or_default()));
        }
        let remaining = u.size.map(|s| s.saturating_sub(u.bytes));
        if remaining == Some(0) {
            return conflict(format!("chunk {index} after all {} bytes arrived", u.bytes));
        }
        let limit = match (u.chunk_size, remaining) {
            (Some(c), Some(r)) => Limit::Exactly(c.min(r)),
            (Some(c), None) => Limit::AtMost(c),
            (None, Some(r)) => Limit::AtMost(r),
            (None, None) => Limit::AtMost(u64::MAX),
        };
        u.in_flight = true;
        Ok((index, limit, u.sha.clone()))
    }

    fn complete(&self, id: &str) -> Response<Full<Bytes>> {
        let mut uploads = self.uploads();
        let Some(u) = uploads.get(id) else {
            drop(uploads);
            self.rejected_completes.fetch_add(1, Ordering::Relaxed);
            return error(StatusCode::NOT_FOUND, "unknown upload_id");
        };
        let missing = if u.in_flight {
            Some(format!("chunk {} is still being received", u.chunks))
        } else if u.chunks == 0 {
            Some("no chunk arrived".to_string())
        } else if let Some(size) = u.size.filter(|s| *s != u.bytes) {
            Some(format!("{} of {size} bytes arrived ({} chunks)", u.bytes, u.chunks))
        } else {
            u.total_chunks.filter(|t| *t != u.chunks).map(|total| format!("{} of {total} chunks arrived", u.chunks))
        };
        if let Some(msg) = missing {
            drop(uploads);
            self.rejected_completes.fetch_add(1, Ordering::Relaxed);
            return error(StatusCode::CONFLICT, &msg);
        }
        let Some(u) = uploads.remove(id) else {
            return error(StatusCode::NOT_FOUND, "unknown upload_id");
        };
        drop(uploads);
        self.completed.fetch_add(1, Ordering::Relaxed);
        self.completed_chunks.fetch_add(u.chunks, Ordering::Relaxed);
        self.completed_bytes.fetch_add(u.bytes, Ordering::Relaxed);
        let sha256: String = u.sha.finalize().iter().map(|b| format!("{b:02x}")).collect();
        let body = serde_json::json!({
            "upload_id": id,
            "filename": u.filename,
            "chunks": u.chunks,
            "bytes": u.bytes,
            "sha256": sha256,
        });
        super::json(StatusCode::OK, body.to_string())
    }

    /// `GET /stats/uploads`.
    pub fn stats(&self) -> Response<Full<Bytes>> {
        let open = self.uploads().len();
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let body = serde_json::json!({
            "initiated": get(&self.initiated),
            "completed": get(&self.completed),
            "open": open,
            "chunks": get(&self.chunks),
            "bytes": get(&self.bytes),
            "completed_chunks": get(&self.completed_chunks),
            "completed_bytes": get(&self.completed_bytes),
            "rejected_chunks": get(&self.rejected_chunks),
            "rejected_completes": get(&self.rejected_completes),
        });
        super::json(StatusCode::OK, body.to_string())
    }
}

/// A multipart chunk being received: the part being read, the index field, and once the
/// upload is reserved (at the file part) the chunk's running length, CRC32C and hash.
struct Receiving<'a> {
    files: &'a Files,
    id: &'a str,
    /// The index from the query or the header.
    index: Result<Option<u64>, ()>,
    part: Current,
    /// The `chunk_index` (or `index`) field's value, once read.
    field: Option<Vec<u8>>,
    file: Option<FilePart<'a>>,
    /// The answer when the chunk was refused at its file part (unknown id, out of order).
    refused: Option<Response<Full<Bytes>>>,
    /// The file part went past the most bytes the chunk may have: reading stops there.
    over: bool,
}

/// What the part being read is to the upload.
enum Current {
    Field(Vec<u8>),
    File,
    Other,
}

/// The file part (the chunk) as read so far.
struct FilePart<'a> {
    index: u64,
    /// No index was known at the file part: the next expected was taken.
    implicit: bool,
    limit: Limit,
    len: u64,
    crc: u32,
    sha: sha2::Sha256,
    /// The next bytes start the chunk stored corrupted.
    corrupt: bool,
    guard: InFlight<'a>,
}

impl Receiving<'_> {
    fn on(&mut self, event: Event<'_>) {
        match event {
            Event::Part { name, filename } => {
                self.part = match filename {
                    Some(_) if self.file.is_none() && self.refused.is_none() => self.start_file(),
                    None if self.field.is_none() && matches!(name, "chunk_index" | "index") => {
                        Current::Field(Vec::new())
                    }
                    _ => Current::Other,
                }
            }
            Event::Data(data) => match (&mut self.part, &mut self.file) {
                (Current::File, Some(f)) => {
                    f.crc = crc32c::crc32c_append(f.crc, data);
                    f.len += data.len() as u64;
                    hash(&mut f.sha, data, f.corrupt);
                    f.corrupt = false;
                    // Longer than the chunk may be: refused now, not read to its end.
                    if f.len > f.limit.max() {
                        self.over = true;
                    }
                }
                (Current::Field(v), _) => {
                    let room = (MAX_INDEX_FIELD + 1).saturating_sub(v.len());
                    v.extend_from_slice(&data[..data.len().min(room)]);
                }
                _ => {}
            },
            Event::End => {
                if let Current::Field(v) = std::mem::replace(&mut self.part, Current::Other) {
                    self.field = Some(v);
                }
            }
        }
    }

    /// The file part begins: the upload is reserved for it with the index known now.
    fn start_file(&mut self) -> Current {
        let given = match (self.index, &self.field) {
            (Ok(None), Some(v)) => field_index(v).map(Some),
            (index, _) => index,
        };
        let Ok(given) = given else {
            self.refused = Some(error(StatusCode::BAD_REQUEST, "chunk index must be a whole number"));
            return Current::Other;
        };
        match self.files.reserve(self.id, given) {
            Ok((index, limit, sha)) => {
                let guard = InFlight { files: self.files, id: self.id, armed: true };
                let corrupt = self.files.corrupt_next();
                let implicit = given.is_none();
                self.file = Some(FilePart { index, implicit, limit, len: 0, crc: 0, sha, corrupt, guard });
                Current::File
            }
            Err(resp) => {
                self.refused = Some(resp);
                Current::Other
            }
        }
    }
}

/// A `chunk_index` field's value as a number.
fn field_index(v: &[u8]) -> Result<u64, ()> {
    std::str::from_utf8(v).ok().and_then(|v| v.trim().parse().ok()).ok_or(())
}

/// How long the chunk now expected may be.
#[derive(Clone, Copy)]
enum Limit {
    Exactly(u64),
    AtMost(u64),
}

impl Limit {
    /// The most bytes the chunk may have.
    fn max(self) -> u64 {
        match self {
            Limit::Exactly(n) | Limit::AtMost(n) => n,
        }
    }
}

/// The chunk index of `?index=N` or `X-Chunk-Index: N`; `Ok(None)` when neither is given.
fn chunk_index(req: &Request<Incoming>) -> Result<Option<u64>, ()> {
    let from_query = req
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("index=").or_else(|| (kv == "index").then_some(""))));
    let raw = match from_query {
        Some(v) => Some(v),
        None => match req.headers().get("x-chunk-index") {
            Some(h) => Some(h.to_str().map_err(|_| ())?),
            None => None,
        },
    };
    raw.map(|v| v.trim().parse::<u64>().map_err(|_| ())).transpose()
}

/// Streams a body through, keeping only its length, CRC32C and the object's SHA-256 with it
/// (`corrupt`: its first byte flipped); None if it broke off.
async fn count(mut body: Incoming, mut sha: sha2::Sha256, mut corrupt: bool) -> Option<(u64, u32, sha2::Sha256)> {
    let (mut len, mut crc) = (0u64, 0u32);
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.ok()?.into_data() {
            crc = crc32c::crc32c_append(crc, &data);
            len += data.len() as u64;
            hash(&mut sha, &data, corrupt);
            corrupt &= data.is_empty();
        }
    }
    Some((len, crc, sha))
}

/// Adds `data` to the object's hash; `corrupt`: with its first byte flipped.
fn hash(sha: &mut sha2::Sha256, data: &[u8], corrupt: bool) {
    match data.split_first() {
        Some((first, rest)) if corrupt => {
            sha.update([first ^ 0xff]);
            sha.update(rest);
        }
        _ => sha.update(data),
    }
}

/// Reads and discards a body (up to `MAX_DRAIN`), so that the connection stays usable after an
/// early answer.
pub async fn drain(mut body: Incoming) {
    let mut left = MAX_DRAIN;
    while let Some(Ok(frame)) = body.frame().await {
        left = left.saturating_sub(frame.data_ref().map_or(0, |d| d.len()));
        if left == 0 {
            // The connection closes after the answer rather than read on.
            break;
        }
    }
}
