//! Micro-benchmarks of the hot paths (criterion): request encoding, response decoding,
//! recording a response into the histograms, the pacer, and (off the hot path, on the reporter
//! thread once a second) compacting a second of the time series. Run with
//! `cargo bench --bench micro`; results in bench/RESULTS.md.

use blast::engine::compact::CompactRecorder;
use blast::engine::pacer::{Arrival, Pacer};
use blast::engine::recorder::Recorder;
use blast::http::ResponseDecoder;
use blast::workloads::api::request::{BodyTemplate, RequestTemplate, Vars, DEFAULT_TEMPLATE};
use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;

fn encode(c: &mut Criterion) {
    let body = BodyTemplate::parse(DEFAULT_TEMPLATE).expect("template");
    let headers = vec![("Authorization".to_string(), "Bearer x".to_string())];
    let t = RequestTemplate::new("POST", "/v1/messages", "127.0.0.1:8000", &headers, body);
    let (mut scratch, mut out) = (Vec::with_capacity(512), Vec::with_capacity(512));
    let mut g = c.benchmark_group("request");
    g.throughput(Throughput::Elements(1));
    let mut seq = 0u64;
    g.bench_function("encode (template body, 4 placeholders)", |b| {
        b.iter(|| {
            seq += 1;
            out.clear();
            t.encode(&Vars { seq, ts_us: 1_764_000_000_000_000 + seq, core: 1, conn: 7 }, &mut scratch, &mut out);
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

criterion_group!(benches, encode, decode, record, pace, compact);
criterion_main!(benches);
