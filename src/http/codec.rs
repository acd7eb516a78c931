//! A small sans-IO HTTP/1.1 client codec: preformatted request bytes out, responses in.
//!
//! No I/O happens here, so every edge (partial reads, pipelined responses, chunked bodies,
//! garbage) is tested with plain byte slices. Bodies are counted and discarded (a load
//! generator needs the status, the framing and the byte count), except when a scenario step
//! captures from its response: then `keep` holds the body (up to `MAX_KEPT_BODY`) and headers.

use bytes::{Buf, BytesMut};
use std::mem::MaybeUninit;

/// Largest response head accepted (status line and headers).
pub const MAX_HEAD: usize = 64 * 1024;
/// Most headers accepted in one response (more is a head too large). The slots are left
/// uninitialised until parsed, so a generous cap costs nothing per response.
pub const MAX_HEADERS: usize = 256;
/// Longest chunk-size or trailer line accepted.
const MAX_LINE: usize = 4096;

/// Why a response could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecError {
    /// Not HTTP/1.x, or a head httparse rejects.
    BadHead(String),
    /// The head exceeded `MAX_HEAD` or had more than `MAX_HEADERS` headers.
    HeadTooLarge,
    /// A Content-Length or chunk size that is not a number.
    BadLength,
    /// The connection ended in the middle of a response.
    Truncated,
}

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CodecError::BadHead(why) => write!(f, "malformed response head: {why}"),
            CodecError::HeadTooLarge => write!(f, "response head too large"),
            CodecError::BadLength => write!(f, "malformed body length"),
            CodecError::Truncated => write!(f, "connection closed mid-response"),
        }
    }
}

/// A complete response, as far as a load generator cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// The server will close the connection after this response.
    pub close: bool,
    /// Bytes of the whole response, head included.
    pub wire_bytes: u64,
    /// The time the target says it spent on the request (`TARGET_TIME_HEADER`), in µs.
    pub target_us: Option<u64>,
    /// Bytes of the body alone (after chunked framing is removed): Locust's content size.
    pub body_bytes: u64,
}

/// A response header in which a target reports the time it spent on the request itself, in
/// whole microseconds (`blast serve` sends it with every answer it held): what blast measured
/// beyond it is the network's and blast's own, which is what its accuracy is judged on.
pub const TARGET_TIME_HEADER: &str = "x-blast-hold-us";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    /// Fixed-length body, bytes still to come.
    Length(u64),
    /// Chunked: expecting a chunk-size line.
    ChunkSize,
    /// Chunked: bytes of the current chunk still to come.
    ChunkData(u64),
    /// Chunked: the CRLF after a chunk's data.
    ChunkCrlf,
    /// Chunked: trailer lines until an empty one.
    Trailer,
    /// No framing: the body runs until the server closes.
    UntilClose,
}

/// Largest response body kept for captures.
pub const MAX_KEPT_BODY: usize = 1 << 20;

/// The body and headers of the last response, when asked for (`ResponseDecoder::keep`).
#[derive(Debug, Default)]
pub struct Kept {
    pub body: Option<Vec<u8>>,
    /// Header names lower-cased.
    pub headers: Option<Vec<(String, Vec<u8>)>>,
}

/// The headers a session follows (`session`): the cookies a response sets and where a redirect
/// points, of the last response.
#[derive(Debug, Default)]
pub struct SessionHeaders {
    /// Collect them (cookies or redirects are on); off, the decoder looks at neither.
    pub on: bool,
    /// Every `Set-Cookie` value, in order.
    pub set_cookie: Vec<Vec<u8>>,
    /// `Location` of a 3xx response.
    pub location: Option<Vec<u8>>,
}

/// Reads responses one after another from a byte buffer.
#[derive(Debug)]
pub struct ResponseDecoder {
    state: State,
    status: u16,
    close: bool,
    wire_bytes: u64,
    target_us: Option<u64>,
    body_bytes: u64,
    /// The next final response answers a HEAD request (`answers`).
    head_request: bool,
    pub kept: Kept,
    pub session: SessionHeaders,
}

impl Default for ResponseDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ResponseDecoder {
    pub fn new() -> Self {
        ResponseDecoder {
            state: State::Head,
            status: 0,
            close: false,
            wire_bytes: 0,
            target_us: None,
            body_bytes: 0,
            head_request: false,
            kept: Kept::default(),
            session: SessionHeaders::default(),
        }
    }

    /// Keeps the next response's body and/or headers in `kept` (cleared now).
    pub fn keep(&mut self, body: bool, headers: bool) {
        self.kept.body = body.then(Vec::new);
        self.kept.headers = headers.then(Vec::new);
    }

    /// Whether the next response answers a HEAD request (`request`, the bytes sent, starts with
    /// its method): such a response has no body, whatever its `Content-Length` or
    /// `Transfer-Encoding` say (RFC 9112, section 6.3), and most servers send the length the GET
    /// would have had. Set before each request; an interim (1xx) response keeps it for the final
    /// one, whose end starts the decoder afresh (`finish`).
    pub fn answers(&mut self, request: &[u8]) {
        self.head_request = request.starts_with(b"HEAD ");
    }

    /// Consumes what it can from `buf`. Returns a response once one is complete; bytes after it
    /// (a pipelined next response) stay in `buf`.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Response>, CodecError> {
        loop {
            match self.state {
                State::Head => {
                    if !self.decode_head(buf)? {
                        return Ok(None);
                    }
                }
                State::Length(0) => return Ok(Some(self.finish())),
                State::Length(left) => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let n = left.min(buf.len() as u64);
                    self.consume(buf, n as usize);
                    self.state = State::Length(left - n);
                }
                State::ChunkSize => {
                    let Some(line_end) = find_crlf(buf)? else {
                        return Ok(None);
                    };
                    let size = match httparse::parse_chunk_size(&buf[..line_end + 2]) {
                        Ok(httparse::Status::Complete((_, size))) => size,
                        _ => return Err(CodecError::BadLength),
                    };
                    self.consume(buf, line_end + 2);
                    self.state = if size == 0 { State::Trailer } else { State::ChunkData(size) };
                }
                State::ChunkData(left) => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let n = left.min(buf.len() as u64);
                    self.consume(buf, n as usize);
                    self.state = if n == left { State::ChunkCrlf } else { State::ChunkData(left - n) };
                }
                State::ChunkCrlf => {
                    if buf.len() < 2 {
                        return Ok(None);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(CodecError::BadLength);
                    }
                    self.consume(buf, 2);
                    self.state = State::ChunkSize;
                }
                State::Trailer => {
                    let Some(line_end) = find_crlf(buf)? else {
                        return Ok(None);
                    };
                    self.consume(buf, line_end + 2);
                    if line_end == 0 {
                        return Ok(Some(self.finish()));
                    }
                }
                State::UntilClose => {
                    let n = buf.len();
                    self.consume(buf, n);
                    return Ok(None);
                }
            }
        }
    }

    /// The peer closed the connection: completes a body that runs until close, otherwise a
    /// response in progress is truncated. `Ok(None)` when nothing was in progress.
    pub fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Response>, CodecError> {
        if let Some(r) = self.decode(buf)? {
            return Ok(Some(r));
        }
        match self.state {
            State::UntilClose => Ok(Some(self.finish())),
            State::Head if buf.is_empty() && self.wire_bytes == 0 => Ok(None),
            _ => Err(CodecError::Truncated),
        }
    }

    fn consume(&mut self, buf: &mut BytesMut, n: usize) {
        if matches!(self.state, State::Length(_) | State::ChunkData(_) | State::UntilClose) {
            self.body_bytes += n as u64;
            if let Some(body) = &mut self.kept.body {
                let room = MAX_KEPT_BODY.saturating_sub(body.len()).min(n);
                body.extend_from_slice(&buf[..room]);
            }
        }
        buf.advance(n);
        self.wire_bytes += n as u64;
    }

    fn finish(&mut self) -> Response {
        let (status, close, wire_bytes, body_bytes) = (self.status, self.close, self.wire_bytes, self.body_bytes);
        let r = Response { status, close, wire_bytes, body_bytes, target_us: self.target_us };
        let kept = std::mem::take(&mut self.kept);
        let session = std::mem::take(&mut self.session);
        *self = ResponseDecoder::new();
        self.kept = kept;
        self.session = session;
        r
    }

    /// Parses a complete head if there is one; returns false when more bytes are needed.
    fn decode_head(&mut self, buf: &mut BytesMut) -> Result<bool, CodecError> {
        // Left uninitialised: httparse writes the headers it finds (filling 100 empty ones
        // first was 3.2 KB of stores per response).
        let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut []);
        // A folded header line (obsolete, RFC 9112 5.2) is taken as one value, as a user agent
        // must: refusing it counted a server's valid answers as malformed.
        let parsed = httparse::ParserConfig::default()
            .allow_obsolete_multiline_headers_in_responses(true)
            .parse_response_with_uninit_headers(&mut resp, buf, &mut headers);
        let head_len = match parsed {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => {
                if buf.len() > MAX_HEAD {
                    return Err(CodecError::HeadTooLarge);
                }
                return Ok(false);
            }
            Err(httparse::Error::TooManyHeaders) => return Err(CodecError::HeadTooLarge),
            Err(e) => return Err(CodecError::BadHead(e.to_string())),
        };
        if head_len > MAX_HEAD {
            return Err(CodecError::HeadTooLarge);
        }
        let status = resp.code.unwrap_or(0);
        // httparse takes any three digits; below 100 is no HTTP status (found by fuzzing: a
        // "020" answer was counted neither ok nor failed).
        if status < 100 {
            return Err(CodecError::BadHead(format!("status code {status:03} is not an HTTP status")));
        }
        let http10 = resp.version == Some(0);
        // `close` in any Connection line ends the connection (RFC 9112 9.6), whatever another
        // line says; `keep-alive` keeps an HTTP/1.0 one open when no line says `close`.
        let (mut said_close, mut said_keep_alive) = (false, false);
        let mut length: Option<u64> = None;
        let mut chunked = false;
        let mut target_us = None;
        let session = self.session.on;
        if session {
            self.session.set_cookie.clear();
            self.session.location = None;
        }
        for h in resp.headers.iter() {
            if h.name.eq_ignore_ascii_case("content-length") {
                let v = std::str::from_utf8(h.value).map_err(|_| CodecError::BadLength)?;
                let n: u64 = v.trim().parse().map_err(|_| CodecError::BadLength)?;
                if length.is_some_and(|prev| prev != n) {
                    return Err(CodecError::BadLength);
                }
                length = Some(n);
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = last_token_is(h.value, b"chunked");
            } else if h.name.eq_ignore_ascii_case("connection") {
                said_close |= contains_token(h.value, b"close");
                said_keep_alive |= contains_token(h.value, b"keep-alive");
            } else if h.name.eq_ignore_ascii_case(TARGET_TIME_HEADER) {
                target_us = std::str::from_utf8(h.value).ok().and_then(|v| v.trim().parse().ok());
            } else if session && h.name.eq_ignore_ascii_case("set-cookie") {
                self.session.set_cookie.push(h.value.to_vec());
            } else if session && (300..400).contains(&status) && h.name.eq_ignore_ascii_case("location") {
                self.session.location = Some(h.value.to_vec());
            }
        }
        let close = said_close || (http10 && !said_keep_alive);
        if let Some(kept) = &mut self.kept.headers {
            kept.clear();
            kept.extend(resp.headers.iter().map(|h| (h.name.to_ascii_lowercase(), h.value.to_vec())));
        }
        self.consume(buf, head_len);
        self.status = status;
        self.close = close;
        self.target_us = target_us;
        self.state = if (100..200).contains(&status) && status != 101 {
            // Interim response (100 Continue, 103 Early Hints): the real one follows.
            self.wire_bytes = 0;
            State::Head
        } else if status == 204 || status == 304 || (100..200).contains(&status) || self.head_request {
            State::Length(0)
        } else if chunked {
            State::ChunkSize
        } else if let Some(n) = length {
            State::Length(n)
        } else {
            self.close = true;
            State::UntilClose
        };
        Ok(true)
    }
}

/// Position of the first CRLF, erroring when a line grows past `MAX_LINE`.
fn find_crlf(buf: &[u8]) -> Result<Option<usize>, CodecError> {
    match buf.windows(2).position(|w| w == b"\r\n") {
        Some(p) if p <= MAX_LINE => Ok(Some(p)),
        Some(_) => Err(CodecError::HeadTooLarge),
        None if buf.len() > MAX_LINE => Err(CodecError::HeadTooLarge),
        None => Ok(None),
    }
}

fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(|t| t.trim_ascii())
}

fn contains_token(value: &[u8], token: &[u8]) -> bool {
    tokens(value).any(|t| t.eq_ignore_ascii_case(token))
}

fn last_token_is(value: &[u8], token: &[u8]) -> bool {
    tokens(value).last().is_some_and(|t| t.eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8], step: usize) -> Result<Vec<Response>, CodecError> {
        let mut d = ResponseDecoder::new();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for piece in input.chunks(step.max(1)) {
            buf.extend_from_slice(piece);
            while let Some(r) = d.decode(&mut buf)? {
                out.push(r);
            }
        }
        if let Some(r) = d.decode_eof(&mut buf)? {
            out.push(r);
        }
        Ok(out)
    }

    const SIMPLE: &[u8] = b"HTTP/1.1 202 Accepted\r\nContent-Length: 5\r\n\r\nhello";

    #[test]
    fn status_codes_below_100_are_malformed() {
        let mut d = ResponseDecoder::new();
        let mut buf = BytesMut::from(&b"HTTP/1.1 020 Odd\r\nContent-Length: 0\r\n\r\n"[..]);
        assert!(matches!(d.decode(&mut buf), Err(CodecError::BadHead(_))));
    }

    #[test]
    fn content_length_at_every_split() {
        for step in 1..=SIMPLE.len() {
            let got = decode_all(SIMPLE, step).expect("valid");
            assert_eq!(
                got,
                vec![Response {
                    status: 202,
                    close: false,
                    wire_bytes: SIMPLE.len() as u64,
                    body_bytes: 5,
                    target_us: None
                }],
                "step {step}"
            );
        }
    }

    #[test]
    fn a_head_requests_answer_has_no_body_whatever_its_length_says() {
        // What nginx sends for HEAD of a 17-byte file, then the next response on the connection.
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 17\r\n\r\n";
        let interim = b"HTTP/1.1 100 Continue\r\n\r\n";
        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
        for (answer, wire) in [(&head[..], head.len()), (&chunked[..], chunked.len())] {
            let mut d = ResponseDecoder::new();
            let mut input: Vec<u8> = interim.to_vec();
            input.extend_from_slice(answer);
            input.extend_from_slice(SIMPLE);
            let mut buf = BytesMut::from(&input[..]);
            d.answers(b"HEAD /index.html HTTP/1.1\r\nhost: x\r\n\r\n");
            let r = d.decode(&mut buf).expect("valid").expect("the HEAD's answer, complete at its head");
            assert_eq!((r.status, r.body_bytes, r.wire_bytes), (200, 0, wire as u64));
            assert_eq!(&buf[..], SIMPLE, "the next response is left whole");
            // The next request is a GET: its answer's length counts again.
            d.answers(b"GET / HTTP/1.1\r\n\r\n");
            let r = d.decode(&mut buf).expect("valid").expect("complete");
            assert_eq!((r.status, r.body_bytes), (202, 5));
        }
        // A method that merely starts with the letters is not HEAD.
        let mut d = ResponseDecoder::new();
        d.answers(b"HEADER / HTTP/1.1\r\n\r\n");
        let mut buf = BytesMut::from(SIMPLE);
        assert_eq!(d.decode(&mut buf).expect("valid").map(|r| r.body_bytes), Some(5));
    }

    #[test]
    fn pipelined_responses_are_split_exactly() {
        let mut input = SIMPLE.to_vec();
        input.extend_from_slice(b"HTTP/1.1 500 Oops\r\ncontent-length: 0\r\n\r\n");
        input.extend_from_slice(b"HTTP/1.1 204 No Content\r\n\r\n");
        for step in [1, 3, 7, input.len()] {
            let got = decode_all(&input, step).expect("valid");
            let codes: Vec<u16> = got.iter().map(|r| r.status).collect();
            assert_eq!(codes, vec![202, 500, 204], "step {step}");
        }
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let input = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: yes\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";
        for step in 1..=input.len() {
            let got = decode_all(input, step).expect("valid");
            assert_eq!(got.len(), 2, "step {step}");
            assert_eq!(got[0].status, 200);
            assert_eq!(got[1].status, 201);
        }
    }

    #[test]
    fn connection_close_and_http10() {
        let got = decode_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 4).expect("valid");
        assert!(got[0].close);
        let got = decode_all(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 4).expect("valid");
        assert!(got[0].close);
        let got =
            decode_all(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", 4).expect("valid");
        assert!(!got[0].close);
    }

    #[test]
    fn body_until_close() {
        let got = decode_all(b"HTTP/1.1 200 OK\r\n\r\nsome bytes", 3).expect("valid");
        assert_eq!(got.len(), 1);
        assert!(got[0].close);
    }

    #[test]
    fn the_target_time_header_is_read_and_bad_values_ignored() {
        let got = decode_all(b"HTTP/1.1 202 Accepted\r\nX-Blast-Hold-Us: 10042\r\nContent-Length: 0\r\n\r\nHTTP/1.1 202 Accepted\r\nx-blast-hold-us: soon\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 3)
            .expect("valid");
        let times: Vec<Option<u64>> = got.iter().map(|r| r.target_us).collect();
        assert_eq!(times, vec![Some(10042), None, None]);
    }

    #[test]
    fn interim_responses_are_skipped() {
        let got = decode_all(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok", 5)
            .expect("valid");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].status, 202);
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        let cases: &[&[u8]] = &[
            b"garbage garbage\r\n\r\n",
            b"HTTP/1.1 abc OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXX",
            b"\x00\x01\x02\xff\r\n\r\n",
        ];
        for (i, case) in cases.iter().enumerate() {
            assert!(decode_all(case, 1).is_err(), "case {i} should fail");
            assert!(decode_all(case, case.len()).is_err(), "case {i} should fail whole");
        }
    }

    #[test]
    fn truncated_responses_are_reported() {
        assert_eq!(decode_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 2), Err(CodecError::Truncated));
        assert_eq!(decode_all(b"HTTP/1.1 200 OK\r\nContent-Le", 2), Err(CodecError::Truncated));
        assert_eq!(decode_all(b"", 1), Ok(vec![]));
    }

    #[test]
    fn huge_heads_are_refused() {
        let mut input = b"HTTP/1.1 200 OK\r\n".to_vec();
        while input.len() <= MAX_HEAD {
            input.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        assert_eq!(decode_all(&input, 1000), Err(CodecError::HeadTooLarge));
        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..(MAX_HEADERS + 1) {
            many.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(decode_all(&many, many.len()), Err(CodecError::HeadTooLarge));
    }

    #[test]
    fn close_in_any_connection_line_closes() {
        let one = |head: &str| {
            let input = format!("{head}Content-Length: 2\r\n\r\nok");
            let got = decode_all(input.as_bytes(), 3).expect("valid");
            assert_eq!(got.len(), 1, "{head}");
            got[0].close
        };
        assert!(one("HTTP/1.1 200 OK\r\nConnection: close\r\nConnection: keep-alive\r\n"));
        assert!(one("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nConnection: close\r\n"));
        assert!(one("HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\n"));
        assert!(!one("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n"));
        assert!(!one("HTTP/1.1 200 OK\r\n"));
        assert!(one("HTTP/1.0 200 OK\r\n"));
        assert!(!one("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"));
        assert!(one("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nConnection: close\r\n"));
    }

    #[test]
    fn a_folded_header_line_is_one_value_not_a_malformed_head() {
        let input = b"HTTP/1.1 200 OK\r\nX-Long: a\r\n b\r\nContent-Length: 2\r\n\r\nok";
        let got = decode_all(input, 5).expect("valid");
        assert_eq!((got[0].status, got[0].body_bytes), (200, 2));
    }

    #[test]
    fn a_head_of_many_short_headers_is_taken() {
        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..150 {
            many.extend_from_slice(format!("Set-Cookie: c{i}=v\r\n").as_bytes());
        }
        many.extend_from_slice(b"Content-Length: 0\r\n\r\n");
        assert_eq!(decode_all(&many, 512).expect("valid")[0].status, 200);
    }

    #[test]
    fn keeps_body_and_headers_when_asked() {
        let mut d = ResponseDecoder::new();
        d.keep(true, true);
        let mut buf = BytesMut::from(
            &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Id: 7\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n"[..],
        );
        let r = d.decode(&mut buf).expect("ok").expect("complete");
        assert_eq!(r.status, 200);
        assert_eq!(d.kept.body.as_deref(), Some(&b"{\"a\":1}"[..]));
        assert_eq!(d.kept.headers.as_ref().map(|h| h.iter().any(|(n, v)| n == "x-id" && v == b"7")), Some(true));
        d.keep(false, false);
        let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"[..]);
        assert!(d.decode(&mut buf).expect("ok").is_some());
        assert!(d.kept.body.is_none());
    }
}
