//! The HTTP/1.1 response decoder against arbitrary bytes, fed in arbitrary pieces (the first
//! byte picks the split points): it must never panic, never loop, and never report more bytes
//! consumed than it was given.
#![no_main]

use blast::http::ResponseDecoder;
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, input)) = data.split_first() else { return };
    let piece = (split as usize % 64) + 1;
    let mut decoder = ResponseDecoder::new();
    let mut buf = BytesMut::new();
    let mut consumed: u64 = 0;
    for chunk in input.chunks(piece) {
        buf.extend_from_slice(chunk);
        // Decode every complete response in the buffer; stop at the first error, as blast does.
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(r)) => {
                    consumed += r.wire_bytes;
                    assert!(consumed <= input.len() as u64, "decoded more bytes than were read");
                    assert!((100..=999).contains(&r.status), "status {}", r.status);
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});
