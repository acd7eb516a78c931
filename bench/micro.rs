//! Micro-benchmarks of the hot paths (criterion): request encoding, template expansion, response decoding,
//! recording a response into the histograms, the pacer, and (off the hot path, on the reporter
//! thread once a second) compacting a second of the time series; for the multipart upload flow
//! (issue 24) the per-request rendering of its JSON body and of a chunk's head and multipart
//! framing, and the SHA-256 of a 10 MiB chunk (`{{sent_sha256}}`). Run with
//! `cargo bench --features bench --bench micro` (the feature brings criterion in, so that the
//! test build never compiles it); results in bench/RESULTS.md.

use blast::engine::compact::CompactRecorder;
use blast::engine::pacer::{Arrival, Pacer};
use blast::engine::recorder::Recorder;
use blast::engine::rng::SplitMix64;
use blast::http::ResponseDecoder;
use blast::template::{Scope, Template, Values};
use blast::workloads::api::scenario::{Body, Step, DEFAULT_BODY};
use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sha2::Digest;
use std::hint::black_box;
use std::time::Duration;

/// The values a request renders with: `(seq, index)`, `(core, conn)`, the user's row and the
/// captured variables.
fn values<'a>(
    (seq, index): (u64, u64),
    (core, conn): (usize, usize),
    user: &'a [Box<[u8]>],
    vars: &'a [Vec<u8>],
    rng: &'a mut SplitMix64,
) -> Values<'a> {
    Values { seq, index, core, conn, user, vars, rng, split: Default::default() }
}

fn encode(c: &mut Criterion) {
    let body = Template::parse(DEFAULT_BODY, Scope::default()).expect("template");
    let headers = vec![("Authorization".to_string(), Template::literal(b"Bearer x".to_vec()))];
    let step = Step::new(
        0,
        "POST",
        Template::literal(b"/v1/messages".to_vec()),
        headers,
        Body::Template(body.clone()),
        "127.0.0.1:8000",
    );
    let (mut head, mut scratch) = (Vec::with_capacity(512), Vec::with_capacity(512));
    let mut rng = SplitMix64::new(1);
    let mut g = c.benchmark_group("request");
    g.throughput(Throughput::Elements(1));
    let mut seq = 0u64;
    g.bench_function("encode (template body, 4 placeholders)", |b| {
        b.iter(|| {
            seq += 1;
            let mut v = values((seq, 0), (1, 7), &[], &[], &mut rng);
            head.clear();
            scratch.clear();
            step.head.render(&mut v, &mut head);
            body.render(&mut v, &mut scratch);
            head.extend_from_slice(itoa::Buffer::new().format(scratch.len()).as_bytes());
            head.extend_from_slice(b"\r\n\r\n");
            head.extend_from_slice(&scratch);
            black_box(head.len())
        })
    });
    g.finish();

    // The scenario example's body: a user column, 64 random characters, the time in ms.
    let columns = ["name".to_string(), "conversation".to_string()];
    let t = Template::parse(
        r#"{"conversation_id":"{{user.conversation}}","content":"{{random_text 64}}","client_ts":{{now_ms}}}"#,
        Scope { user_columns: Some(&columns), vars: &[] },
    )
    .expect("template");
    let user: Vec<Box<[u8]>> = vec![b"user-1".as_slice().into(), b"conv-42".as_slice().into()];
    let mut out = Vec::with_capacity(256);
    let mut g = c.benchmark_group("template");
    g.throughput(Throughput::Elements(1));
    g.bench_function("expand scenario example body", |b| {
        b.iter(|| {
            out.clear();
            let mut v = values((1, 0), (0, 0), &user, &[], &mut rng);
            t.render(&mut v, &mut out);
            black_box(out.len())
        })
    });
    g.finish();
}

fn decode(c: &mut Criterion) {
    let response = b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: 21\r\ndate: Wed, 25 Nov 2026 15:00:00 GMT\r\n\r\n{\"status\":\"accepted\"}";
    let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n15\r\n{\"status\":\"accepted\"}\r\n0\r\n\r\n";
    let mut g = c.benchmark_group("response");
    g.throughput(Throughput::Elements(1));
    for (name, bytes) in [("decode content-length", &response[..]), ("decode chunked", &chunked[..])] {
        let mut decoder = ResponseDecoder::new();
        let mut buf = BytesMut::with_capacity(4096);
        g.bench_function(name, |b| {
            b.iter(|| {
                buf.extend_from_slice(bytes);
                black_box(decoder.decode(&mut buf).expect("valid").expect("complete"))
            })
        });
    }
    g.finish();
}

fn record(c: &mut Criterion) {
    let mut r = Recorder::new();
    let mut g = c.benchmark_group("recorder");
    g.throughput(Throughput::Elements(1));
    let mut i = 0u64;
    g.bench_function("record sent + response (3 histograms)", |b| {
        b.iter(|| {
            i = i.wrapping_add(7919);
            let lat = Duration::from_micros(50 + i % 5000);
            r.record_sent(Duration::from_micros(i % 100), 180);
            r.record_response(202, lat, lat / 2, 120);
        })
    });
    g.finish();
}

fn pace(c: &mut Criterion) {
    let mut g = c.benchmark_group("pacer");
    g.throughput(Throughput::Elements(1));
    for (name, arrival) in [("next slot, constant", Arrival::Constant), ("next slot, poisson", Arrival::Poisson)] {
        let mut p = Pacer::new(166_000.0, 2, 0, arrival, 1, u64::MAX);
        g.bench_function(name, |b| b.iter(|| black_box(p.next_slot())));
    }
    g.finish();
}

/// A busy second (50,000 responses over 5 ms of latencies) deflated and expanded again.
fn compact(c: &mut Criterion) {
    let mut r = Recorder::new();
    for i in 0..50_000u64 {
        let lat = Duration::from_micros(50 + (i * 7919) % 5000);
        r.record_sent(Duration::from_micros(i % 100), 180);
        r.record_response(202, lat, lat / 2, 120);
    }
    let mut g = c.benchmark_group("timeline");
    g.bench_function("compact one busy second (5 histograms)", |b| b.iter(|| black_box(CompactRecorder::of(&r))));
    let compacted = CompactRecorder::of(&r);
    g.bench_function("expand one busy second", |b| b.iter(|| black_box(compacted.expand_own())));
    g.finish();
}

/// The upload flow's per-request rendering (the issue's example): `initiate`'s `json = { ... }`
/// body, and a chunk request's line, head and multipart framing (the chunk's bytes are not
/// rendered: they go out from the pool); and the SHA-256 of one 10 MiB chunk.
fn upload_flow(c: &mut Criterion) {
    let columns = ["name".to_string(), "token".to_string()];
    let vars = ["upload_id".to_string()];
    let scope = Scope { user_columns: Some(&columns), vars: &vars };
    let json: toml::Value =
        toml::from_str(r#"v = { filename = "{{user.name}}-{{seq}}.bin", size = 67108864, chunk_size = 10485760 }"#)
            .expect("toml");
    let json = blast::workloads::api::scenario::json::compile(&json["v"], scope).expect("json");
    let line = Template::parse("POST /v1/files/{{upload_id}}/chunks", scope).expect("line");
    let head = Template::parse(
        " HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nAuthorization: Bearer {{user.token}}\r\nContent-Type: multipart/form-data; boundary=blast-0123456789abcdef\r\nContent-Length: ",
        scope,
    )
    .expect("head");
    let framing = [
        "--blast-0123456789abcdef\r\nContent-Disposition: form-data; name=\"chunk_index\"\r\n\r\n{{i}}\r\n--blast-0123456789abcdef\r\nContent-Disposition: form-data; name=\"chunk\"; filename=\"chunk-{{i}}.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n",
        "\r\n--blast-0123456789abcdef--\r\n",
    ]
    .map(|t| Template::parse(t, scope).expect("framing"));
    let user: Vec<Box<[u8]>> =
        vec![b"user-\"1\\".as_slice().into(), b"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig".as_slice().into()];
    let captured = vec![b"upl-000000000000002a".to_vec()];
    let mut rng = SplitMix64::new(1);
    let mut out = Vec::with_capacity(1024);
    let mut g = c.benchmark_group("upload flow");
    g.throughput(Throughput::Elements(1));
    let mut seq = 0u64;
    g.bench_function("render initiate JSON body (2 placeholders, escaped)", |b| {
        b.iter(|| {
            seq += 1;
            out.clear();
            let mut v = values((seq, 0), (0, 0), &user, &captured, &mut rng);
            json.render(&mut v, &mut out);
            black_box(out.len())
        })
    });
    g.bench_function("render chunk request line, head and multipart framing", |b| {
        b.iter(|| {
            seq += 1;
            out.clear();
            let mut v = values((7, seq % 103), (0, 0), &user, &captured, &mut rng);
            line.render(&mut v, &mut out);
            head.render(&mut v, &mut out);
            framing.iter().for_each(|t| t.render(&mut v, &mut out));
            black_box(out.len())
        })
    });
    g.finish();
    let pool = blast::workloads::upload::data::DataPool::new(1, 10 << 20);
    let chunk = pool.part(3, 1, 10 << 20);
    let mut g = c.benchmark_group("upload flow");
    g.throughput(Throughput::Bytes(chunk.len() as u64));
    g.sample_size(20);
    g.bench_function("sha256 of a 10 MiB chunk (sha2, SHA-NI when the CPU has it)", |b| {
        b.iter(|| black_box(sha2::Sha256::digest(&chunk[..])))
    });
    g.finish();
}

criterion_group!(benches, encode, decode, record, pace, compact, upload_flow);
criterion_main!(benches);
