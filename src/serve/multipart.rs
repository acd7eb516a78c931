//! Reading `multipart/form-data` bodies (RFC 7578) for the upload API as they stream in: the
//! boundary from the `Content-Type`, then a push parser fed the body's frames that reports each
//! part's name and filename and hands its bytes on in place (slices of the frames, never
//! gathered), so a 10 MiB chunk is hashed as it arrives and never held whole.
//!
//! Only the few bytes that may begin a delimiter split across two frames, and a part's headers,
//! are kept between frames.

use hyper::header::{HeaderMap, CONTENT_TYPE};
use memchr::memmem;

/// Longest part header block read.
const MAX_HEAD: usize = 16 * 1024;

/// Longest boundary taken (RFC 2046 allows 70 characters; a little slack).
const MAX_BOUNDARY: usize = 200;

/// What the parser found, in body order.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A part begins (`filename`: a file part).
    Part { name: &'a str, filename: Option<&'a str> },
    /// Bytes of the current part (a part's bytes may come in many pieces).
    Data(&'a [u8]),
    /// The current part ended.
    End,
}

/// The body is not well-formed multipart.
#[derive(Debug, PartialEq, Eq)]
pub struct Malformed;

/// The boundary of a `multipart/form-data` request, `None` for any other body (or a boundary
/// that cannot be one: empty, too long, with CR or LF).
pub fn boundary(headers: &HeaderMap) -> Option<String> {
    let ct = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let (kind, params) = ct.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    let b = params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case("boundary").then(|| v.trim().trim_matches('"').to_string())
    })?;
    let fits = !b.is_empty() && b.len() <= MAX_BOUNDARY && !b.contains(['\r', '\n']);
    fits.then_some(b)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Before the first delimiter (discarded), or in a part's bytes.
    Body,
    /// Just after a delimiter: `--` (the last) or CRLF (a part follows).
    AfterDelimiter,
    /// In a part's header block.
    Head,
    /// After the closing delimiter (the epilogue, discarded).
    Done,
}

/// A push parser: `feed` it the body's frames in order, then `finish`.
pub struct Parser {
    /// `\r\n--boundary`. The body is read as if it began with CRLF, so the first delimiter is
    /// found like the others.
    delimiter: Vec<u8>,
    state: State,
    /// In a part (not the preamble).
    in_part: bool,
    /// `Body`: a proper prefix of the delimiter that ended the last frame (held back: it may
    /// be the delimiter's start); `AfterDelimiter`, `Head`: the bytes read of it so far.
    carry: Vec<u8>,
}

impl Parser {
    pub fn new(boundary: &str) -> Self {
        let delimiter = [b"\r\n--", boundary.as_bytes()].concat();
        // The CRLF the body is read as beginning with: held as if a frame had ended with it.
        Parser { delimiter, state: State::Body, in_part: false, carry: b"\r\n".to_vec() }
    }

    /// Reads the next frame of the body, reporting what it holds to `on`.
    pub fn feed(&mut self, mut data: &[u8], on: &mut impl FnMut(Event<'_>)) -> Result<(), Malformed> {
        while !data.is_empty() {
            data = match self.state {
                State::Done => return Ok(()),
                State::Body if self.carry.is_empty() => self.body(data, on),
                State::Body => self.held(data, on),
                State::AfterDelimiter => self.after_delimiter(data)?,
                State::Head => self.head(data, on)?,
            };
        }
        Ok(())
    }

    /// The body ended: it must have ended with the closing delimiter.
    pub fn finish(&self) -> Result<(), Malformed> {
        if self.state == State::Done {
            Ok(())
        } else {
            Err(Malformed)
        }
    }

    /// A part's bytes up to the delimiter, or up to what may begin one at the frame's end.
    fn body<'d>(&mut self, data: &'d [u8], on: &mut impl FnMut(Event<'_>)) -> &'d [u8] {
        if let Some(at) = memmem::find(data, &self.delimiter) {
            self.data(&data[..at], on);
            return self.delimited(&data[at + self.delimiter.len()..], on);
        }
        let keep = self.partial_at_end(data);
        let (now, held) = data.split_at(data.len() - keep);
        self.data(now, on);
        self.carry.extend_from_slice(held);
        &[]
    }

    /// Goes on from a held delimiter prefix: either the frame completes the delimiter, or the
    /// held bytes were data after all.
    fn held<'d>(&mut self, data: &'d [u8], on: &mut impl FnMut(Event<'_>)) -> &'d [u8] {
        let k = self.carry.len();
        let take = (self.delimiter.len() - k).min(data.len());
        if data[..take] != self.delimiter[k..k + take] {
            // The delimiter has CR only at its start, so no later byte of the held prefix can
            // begin one: all of it is data.
            let held = std::mem::take(&mut self.carry);
            self.data(&held, on);
            self.carry = held;
            self.carry.clear();
            return data;
        }
        self.carry.extend_from_slice(&data[..take]);
        if self.carry.len() < self.delimiter.len() {
            return &data[take..];
        }
        self.carry.clear();
        self.delimited(&data[take..], on)
    }

    /// After a whole delimiter: the part (if any) ended.
    fn delimited<'d>(&mut self, rest: &'d [u8], on: &mut impl FnMut(Event<'_>)) -> &'d [u8] {
        if std::mem::take(&mut self.in_part) {
            on(Event::End);
        }
        self.state = State::AfterDelimiter;
        rest
    }

    /// `--` closes the body, CRLF opens a part; spaces or tabs before the CRLF are transport
    /// padding (RFC 2046) and skipped.
    fn after_delimiter<'d>(&mut self, data: &'d [u8]) -> Result<&'d [u8], Malformed> {
        let data = match self.carry.is_empty() {
            true => &data[data.iter().take_while(|b| matches!(b, b' ' | b'\t')).count()..],
            false => data,
        };
        let take = (2 - self.carry.len()).min(data.len());
        self.carry.extend_from_slice(&data[..take]);
        if self.carry.len() < 2 {
            return Ok(&data[take..]);
        }
        match &self.carry[..] {
            b"--" => {
                self.state = State::Done;
                self.carry.clear();
            }
            // The CRLF stays: a part with no header lines ends its block at once (`\r\n\r\n`).
            b"\r\n" => self.state = State::Head,
            _ => return Err(Malformed),
        }
        Ok(&data[take..])
    }

    /// A part's header block, up to its blank line.
    fn head<'d>(&mut self, data: &'d [u8], on: &mut impl FnMut(Event<'_>)) -> Result<&'d [u8], Malformed> {
        let before = self.carry.len();
        let take = data.len().min(512);
        self.carry.extend_from_slice(&data[..take]);
        let from = before.saturating_sub(3);
        let found = memmem::find(&self.carry[from..], b"\r\n\r\n").map(|i| i + from);
        if found.unwrap_or(self.carry.len()) > MAX_HEAD {
            return Err(Malformed);
        }
        let Some(at) = found else {
            return Ok(&data[take..]);
        };
        let used = at + 4 - before;
        let head = std::str::from_utf8(&self.carry[2.min(at)..at]).map_err(|_| Malformed)?;
        let disposition = head
            .split("\r\n")
            .find_map(|line| line.split_once(':').filter(|(k, _)| k.trim().eq_ignore_ascii_case("content-disposition")))
            .ok_or(Malformed)?
            .1;
        let name = param(disposition, "name").ok_or(Malformed)?;
        on(Event::Part { name: &name, filename: param(disposition, "filename").as_deref() });
        self.in_part = true;
        self.carry.clear();
        self.state = State::Body;
        Ok(&data[used..])
    }

    fn data(&self, bytes: &[u8], on: &mut impl FnMut(Event<'_>)) {
        if self.in_part && !bytes.is_empty() {
            on(Event::Data(bytes));
        }
    }

    /// The length of the longest end of `data` that is a proper prefix of the delimiter (it
    /// starts at the last CR: the delimiter has CR only at its start).
    fn partial_at_end(&self, data: &[u8]) -> usize {
        let window = data.len().min(self.delimiter.len() - 1);
        let tail = &data[data.len() - window..];
        match memchr::memrchr(b'\r', tail) {
            Some(i) if self.delimiter.starts_with(&tail[i..]) => window - i,
            _ => 0,
        }
    }
}

/// The value of `key="value"` (or `key=value`) in a `Content-Disposition`, quoted pairs
/// (`\"`, `\\`) decoded; a `;` inside quotes does not end it.
fn param(disposition: &str, key: &str) -> Option<String> {
    let mut rest = disposition.split_once(';')?.1;
    loop {
        let (k, after) = rest.split_once('=')?;
        let after = after.trim_start();
        let (value, next) = match after.strip_prefix('"') {
            Some(quoted) => {
                let mut value = String::new();
                let mut chars = quoted.char_indices();
                let end = loop {
                    match chars.next()? {
                        (i, '"') => break i + 1,
                        (_, '\\') => value.push(chars.next()?.1),
                        (_, c) => value.push(c),
                    }
                };
                (value, &quoted[end..])
            }
            None => {
                let end = after.find(';').unwrap_or(after.len());
                (after[..end].trim().to_string(), &after[end..])
            }
        };
        if k.trim().eq_ignore_ascii_case(key) {
            return Some(value);
        }
        rest = next.split_once(';')?.1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A part as read: name, filename, bytes.
    type Read = (String, Option<String>, Vec<u8>);

    /// The parts of `body` fed in pieces of `step` bytes.
    fn read(body: &[u8], boundary: &str, step: usize) -> Result<Vec<Read>, Malformed> {
        let mut parser = Parser::new(boundary);
        let mut parts: Vec<Read> = Vec::new();
        let mut open = false;
        for piece in body.chunks(step) {
            parser.feed(piece, &mut |e| match e {
                Event::Part { name, filename } => {
                    assert!(!open, "a part began inside another");
                    open = true;
                    parts.push((name.to_string(), filename.map(str::to_string), Vec::new()));
                }
                Event::Data(d) => parts.last_mut().expect("data in a part").2.extend_from_slice(d),
                Event::End => {
                    assert!(open, "an end without a part");
                    open = false;
                }
            })?;
        }
        parser.finish()?;
        assert!(!open, "the last part never ended");
        Ok(parts)
    }

    const BODY: &[u8] = b"preamble\r\n--B\r\nContent-Disposition: form-data; name=\"chunk_index\"\r\n\r\n3\r\n--B\r\nContent-Disposition: form-data; name=\"chunk\"; filename=\"c;\\\"x\\\".bin\"\r\nContent-Type: application/octet-stream\r\n\r\n\r\n--X\x00\xff\r\n-\r\r\n--\r\n--B--\r\nepilogue";

    #[test]
    fn padding_after_a_boundary_is_skipped_however_the_body_is_cut() {
        let body = b"--B \t\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--B--  \r\n";
        for step in 1..=body.len() {
            let parts = read(body, "B", step).expect("padding is allowed");
            assert_eq!(parts.len(), 1, "step {step}");
            assert_eq!((parts[0].0.as_str(), &parts[0].2[..]), ("a", &b"1"[..]), "step {step}");
        }
        assert!(read(b"--B x\r\n\r\n--B--", "B", 64).is_err(), "only spaces and tabs are padding");
    }

    #[test]
    fn fields_and_files_are_read_with_their_bytes_however_the_body_is_cut() {
        for step in 1..=BODY.len() {
            let parts = read(BODY, "B", step).expect("well-formed");
            assert_eq!(parts.len(), 2, "step {step}");
            assert_eq!((parts[0].0.as_str(), &parts[0].2[..]), ("chunk_index", &b"3"[..]), "step {step}");
            assert_eq!(parts[0].1, None);
            assert_eq!((parts[1].0.as_str(), parts[1].1.as_deref()), ("chunk", Some("c;\"x\".bin")), "step {step}");
            assert_eq!(parts[1].2, b"\r\n--X\x00\xff\r\n-\r\r\n--", "step {step}");
        }
    }

    #[test]
    fn a_body_starting_with_its_delimiter_and_empty_parts_are_read() {
        let body = b"--b1\r\nContent-Disposition: form-data; name=e\r\n\r\n\r\n--b1\r\nContent-Disposition: form-data; name=\"f\"; filename=\"\"\r\n\r\nxy\r\n--b1--";
        for step in 1..=body.len() {
            let parts = read(body, "b1", step).expect("well-formed");
            assert_eq!(parts, vec![("e".into(), None, vec![]), ("f".into(), Some(String::new()), b"xy".to_vec())]);
        }
    }

    #[test]
    fn broken_bodies_are_malformed() {
        let no_end = b"--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno end";
        let no_name = b"--B\r\nContent-Disposition: form-data\r\n\r\nx\r\n--B--";
        let no_head_end = b"--B\r\nContent-Disposition: form-data; name=\"a\"\r\nx\r\n--B--";
        let bad_after = b"--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--Bxy";
        let no_headers = b"--B\r\n\r\nx\r\n--B--";
        for body in [&no_end[..], no_name, no_head_end, bad_after, no_headers, b"", b"--A--"] {
            assert_eq!(read(body, "B", 3), Err(Malformed), "{}", String::from_utf8_lossy(body));
        }
        let disposition = &b"--B\r\nContent-Disposition: form-data; name=\"a\"\r\nX: "[..];
        let huge = [disposition, &vec![b'a'; MAX_HEAD + 10], b"\r\n\r\nx\r\n--B--"].concat();
        assert_eq!(read(&huge, "B", 4096), Err(Malformed));
    }

    #[test]
    fn a_frame_holds_back_only_what_may_begin_a_delimiter() {
        let mut parser = Parser::new("BOUND");
        let head = b"--BOUND\r\nContent-Disposition: form-data; name=\"f\"; filename=\"f\"\r\n\r\n";
        let mut got = Vec::new();
        let mut on = |e: Event<'_>| {
            if let Event::Data(d) = e {
                got.push(d.len());
            }
        };
        parser.feed(head, &mut on).expect("head");
        parser.feed(b"0123456789\r\n--BOU", &mut on).expect("data");
        parser.feed(b"x\r", &mut on).expect("data");
        assert_eq!(got, vec![10, 7, 1]);
        assert_eq!(parser.carry, b"\r");
    }

    #[test]
    fn params_read_quoted_and_bare_values() {
        let d = "form-data; name=\"a;b\"; filename=\"x\\\\y\"; other=1";
        assert_eq!(param(d, "name").as_deref(), Some("a;b"));
        assert_eq!(param(d, "filename").as_deref(), Some("x\\y"));
        assert_eq!(param(d, "other").as_deref(), Some("1"));
        assert_eq!(param(d, "missing"), None);
        assert_eq!(param("form-data; filename=\"f\"", "name"), None);
    }
}
