//! The S3 error-code extraction of `blast upload` against arbitrary response bodies: no panic,
//! and a code, when found, is plain alphanumeric (it becomes a report key).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(code) = blast::workloads::upload::s3::s3_error_code(data) {
        assert!(code.chars().all(|c| c.is_ascii_alphanumeric()));
    }
});
