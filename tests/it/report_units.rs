//! Unit tests of the report's public pieces: the Locust CSV rows and the HdrHistogram log.

use blast::report::csv::stats_csv;
use blast::report::hdr::{write, Interval};
use blast::report::model::{Percentiles, StatRow};
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;
use std::borrow::Cow;
use std::time::{Duration, SystemTime};

#[test]
fn stats_rows_line_up_with_the_header() {
    let h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("hist");
    let row = StatRow {
        kind: "POST".into(),
        name: "/v1/messages, quoted".into(),
        requests: 10,
        failures: 1,
        latency: Percentiles::of(&h),
        avg_content_size: 21.0,
        secs: 2.0,
        accounts: None,
        identities: Vec::new(),
    };
    let csv = stats_csv(&[row]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[1].starts_with("POST,\"/v1/messages, quoted\",10,1,"));
    // Same number of fields as the header once the quoted comma is accounted for.
    assert_eq!(lines[0].split(',').count() + 1, lines[1].split(',').count());
    // Failure Rate, then the accounts' columns and the identities, empty for a row that keeps none.
    assert!(lines[1].ends_with(",0.1,,,,,,,,,"), "{}", lines[1]);
}

#[test]
fn written_logs_read_back_to_the_same_histograms() {
    let mut a = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("hist");
    let mut b = a.clone();
    for v in [100u64, 250, 1_000, 52_000] {
        a.record(v).expect("in range");
        b.record(v * 3).expect("in range");
    }
    let path = std::env::temp_dir().join(format!("blast-hdr-{}.hlog", std::process::id()));
    let path = path.to_string_lossy().to_string();
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let intervals = [
        Interval {
            tag: "latency",
            start: Duration::ZERO,
            length: Duration::from_secs(1),
            histogram: Cow::Borrowed(&a),
        },
        Interval {
            tag: "latency",
            start: Duration::from_secs(1),
            length: Duration::from_secs(1),
            histogram: Cow::Borrowed(&b),
        },
    ];
    write(&path, start, "test", intervals).expect("written");
    let bytes = std::fs::read(&path).expect("read");
    let _ = std::fs::remove_file(&path);
    let mut read = Vec::new();
    for entry in IntervalLogIterator::new(&bytes) {
        if let LogEntry::Interval(h) = entry.expect("valid entry") {
            assert_eq!(h.tag().map(|t| t.as_str()), Some("latency"));
            let raw = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, h.encoded_histogram())
                .expect("base64");
            let hist: Histogram<u64> = Deserializer::new().deserialize(&mut raw.as_slice()).expect("histogram");
            read.push((h.start_timestamp(), hist));
        }
    }
    assert_eq!(read.len(), 2);
    assert_eq!(read[0].1, a);
    assert_eq!(read[1].1, b);
    assert_eq!(read[1].0, Duration::from_secs(1));
}
