//! `--hdr-log FILE`: the run's histograms as a standard HdrHistogram interval log (the format of
//! the Java `HistogramLogWriter`), readable by HdrHistogram's own tools (`HistogramLogProcessor`,
//! HdrHistogramVisualizer) and by the Rust crate's `IntervalLogIterator`. Values are
//! microseconds; the log's MaxValueDivisor (1000) makes its max column milliseconds.

use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::Histogram;
use std::borrow::Cow;
use std::io::Write;
use std::time::{Duration, SystemTime};

/// One histogram of the log: what (`tag`), from when (since the run's start) and for how long.
pub struct Interval<'a> {
    pub tag: &'a str,
    pub start: Duration,
    pub length: Duration,
    /// Borrowed, or decoded just for the log (a run's per-second series is kept compacted).
    pub histogram: Cow<'a, Histogram<u64>>,
}

/// One interval each, from the start for `length`: histograms kept for the whole run only.
pub fn whole_run<'a>(
    histograms: impl IntoIterator<Item = (&'a str, &'a Histogram<u64>)> + 'a,
    length: Duration,
) -> impl Iterator<Item = Interval<'a>> + 'a {
    histograms.into_iter().map(move |(tag, h)| Interval {
        tag,
        start: Duration::ZERO,
        length,
        histogram: Cow::Borrowed(h),
    })
}

/// One interval per wall-clock second of a `SecondSeries` (ws deliveries, upload parts), placed
/// relative to the run's start and decoded one at a time.
pub fn series<'a>(
    tag: &'a str,
    series: &'a crate::engine::series::SecondSeries,
    started_at: SystemTime,
) -> impl Iterator<Item = Interval<'a>> + 'a {
    let t0 = started_at.duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    series.seconds().map(move |(unix, h)| Interval {
        tag,
        start: Duration::from_secs_f64((unix as f64 - t0).max(0.0)),
        length: Duration::from_secs(1),
        histogram: Cow::Owned(h),
    })
}

/// Writes the intervals (ordered by start) to `path`, taking one at a time.
pub fn write<'a>(
    path: &str,
    started_at: SystemTime,
    what: &str,
    intervals: impl IntoIterator<Item = Interval<'a>>,
) -> std::io::Result<()> {
    let mut out = Vec::new();
    {
        let mut serializer = V2DeflateSerializer::new();
        let mut log = IntervalLogWriterBuilder::new()
            .add_comment(&format!("blast {what}: latency histograms, values in microseconds"))
            .with_start_time(started_at)
            .with_base_time(started_at)
            .with_max_value_divisor(1000.0)
            .begin_log_with(&mut out, &mut serializer)?;
        log.write_comment("\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"")?;
        for i in intervals {
            log.write_histogram(&i.histogram, i.start, i.length, Tag::new(i.tag))
                .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        }
    }
    let mut f = std::fs::File::create(path)?;
    f.write_all(&out)
}
