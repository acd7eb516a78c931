//! One object's upload: CreateMultipartUpload, the parts over the slot's connections,
//! CompleteMultipartUpload, then HeadObject to check the size. Any unrecovered failure (or an
//! interrupt) aborts the multipart upload so that no orphaned parts are left behind.

use crate::workloads::upload::s3::{Lane, Reply};
use crate::workloads::upload::state::{CoreUpload, LIVE_BYTES, LIVE_DONE, LIVE_FAILED, LIVE_PARTS};
use crate::workloads::upload::tally::{Failure, UploadTally, INTERRUPTED};
use base64::Engine as _;
use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

/// Counts into the tally when dropped before `settle`: a future cut before its outcome was
/// recorded (the run's end dropped it), so that nothing started goes uncounted.
struct Unsettled<'a> {
    core: &'a CoreUpload,
    count: fn(&mut UploadTally),
    settled: bool,
}

impl<'a> Unsettled<'a> {
    fn new(core: &'a CoreUpload, count: fn(&mut UploadTally)) -> Self {
        Unsettled { core, count, settled: false }
    }

    fn settle(mut self) {
        self.settled = true;
    }
}

impl Drop for Unsettled<'_> {
    fn drop(&mut self) {
        if !self.settled {
            if let Ok(mut t) = self.core.tally.try_borrow_mut() {
                (self.count)(&mut t);
            }
        }
    }
}

/// Uploads object `index` over `lanes` (at least one) and records the outcome: completed,
/// failed, interrupted, or (cut before any) unfinished.
pub async fn upload(core: &CoreUpload, lanes: &mut [Lane], index: u64) {
    core.tally.borrow_mut().uploads_started += 1;
    let pending = Unsettled::new(core, |t| t.uploads_unfinished += 1);
    upload_object(core, lanes, index).await;
    pending.settle();
}

/// One object's upload from its first request; records exactly one outcome on every path.
async fn upload_object(core: &CoreUpload, lanes: &mut [Lane], index: u64) {
    let plan = &core.plan;
    let key = plan.key(index);
    let started = Instant::now();

    let created = Instant::now();
    let upload_id = match retrying(core, async || lanes[0].create(&key).await).await {
        Ok(id) => id,
        Err(f) => {
            core.tally.borrow_mut().fail(&f.kind);
            if f.kind != INTERRUPTED {
                core.live.add(core.index, LIVE_FAILED, 1);
            }
            return;
        }
    };
    UploadTally::record(&mut core.tally.borrow_mut().create, created.elapsed());

    let parts = plan.parts_per_object();
    let next_part = Cell::new(1u64);
    let etags: RefCell<Vec<String>> = RefCell::new(vec![String::new(); parts as usize]);
    let failed: RefCell<Option<Failure>> = RefCell::new(None);
    let lane_runs =
        lanes.iter_mut().map(|lane| send_parts(core, lane, index, &key, &upload_id, &next_part, &etags, &failed));
    futures_util::future::join_all(lane_runs).await;

    let failure = failed.into_inner().or_else(|| core.stopping().then(|| Failure::new(INTERRUPTED)));
    if let Some(f) = failure {
        give_up(core, &mut lanes[0], &key, &upload_id, &f).await;
        return;
    }
    let etags = etags.into_inner();
    let completing = Instant::now();
    if let Err(f) = retrying(core, async || lanes[0].complete(&key, &upload_id, &etags).await).await {
        give_up(core, &mut lanes[0], &key, &upload_id, &f).await;
        return;
    }
    UploadTally::record(&mut core.tally.borrow_mut().complete, completing.elapsed());

    if plan.verify {
        match retrying(core, async || lanes[0].head(&key).await).await {
            Ok(reply) if reply.content_length == Some(plan.size) => core.tally.borrow_mut().objects_verified += 1,
            Ok(_) => {
                core.tally.borrow_mut().fail("size_mismatch");
                return;
            }
            Err(f) => {
                core.tally.borrow_mut().fail(&format!("verify_{}", f.kind));
                return;
            }
        }
    }
    {
        let mut t = core.tally.borrow_mut();
        t.uploads_ok += 1;
        core.live.add(core.index, LIVE_DONE, 1);
        UploadTally::record(&mut t.object, started.elapsed());
    }
    if !plan.keep && retrying(core, async || lanes[0].delete(&key).await).await.is_ok() {
        core.tally.borrow_mut().objects_deleted += 1;
    }
}

/// One connection's share of the parts: takes the next part number until none is left or
/// another lane failed.
#[allow(clippy::too_many_arguments)]
async fn send_parts(
    core: &CoreUpload,
    lane: &mut Lane,
    index: u64,
    key: &str,
    upload_id: &str,
    next_part: &Cell<u64>,
    etags: &RefCell<Vec<String>>,
    failed: &RefCell<Option<Failure>>,
) {
    let plan = &core.plan;
    let parts = plan.parts_per_object();
    loop {
        if failed.borrow().is_some() || core.stopping() {
            return;
        }
        let number = next_part.get();
        if number > parts {
            return;
        }
        next_part.set(number + 1);
        let len = (plan.size - (number - 1) * plan.part_size).min(plan.part_size);
        let data = core.pool.part(index, number as u32, len as usize);
        let hashing = Instant::now();
        let crc = base64::engine::general_purpose::STANDARD
            .encode(core.pool.part_crc32c(index, number as u32, len as usize).to_be_bytes());
        core.tally.borrow_mut().checksum_time += hashing.elapsed();

        let mut sent_at = Instant::now();
        core.tally.borrow_mut().parts_started += 1;
        let pending = Unsettled::new(core, |t| t.parts_unfinished += 1);
        let result = retrying(core, async || {
            sent_at = Instant::now();
            lane.upload_part(key, upload_id, number as u16, data.clone(), &crc).await
        })
        .await
        .and_then(|reply| check_part(&reply, &crc).map(|etag| (reply, etag)));
        pending.settle();
        let mut t = core.tally.borrow_mut();
        match result {
            Ok((reply, etag)) => {
                let took = sent_at.elapsed();
                UploadTally::record(&mut t.part, took);
                t.part_per_second.record(crate::engine::series::unix_second_now(), took.as_micros() as u64);
                UploadTally::record(&mut t.part_ttfb, reply.head_at.saturating_duration_since(reply.body_sent_at));
                let objective = plan.part_objective.mul_f64(len as f64 / plan.part_size as f64);
                if took > objective {
                    t.parts_over_objective += 1;
                }
                t.parts_ok += 1;
                t.bytes_acked += len;
                core.live.add(core.index, LIVE_BYTES, len);
                core.live.add(core.index, LIVE_PARTS, 1);
                core.live.record_latency(core.index, took.as_micros() as u64);
                etags.borrow_mut()[number as usize - 1] = etag;
            }
            Err(f) => {
                t.parts_failed += 1;
                failed.borrow_mut().get_or_insert(f);
                return;
            }
        }
    }
}

/// A part's reply must carry an ETag, and the checksum the server computed (when it echoes
/// one) must be the one blast sent.
fn check_part(reply: &Reply, crc: &str) -> Result<String, Failure> {
    let etag = reply.etag.as_deref().map(|e| e.trim_matches('"')).unwrap_or_default();
    if etag.is_empty() {
        return Err(Failure::new("missing_etag"));
    }
    if reply.crc32c.as_deref().is_some_and(|echoed| echoed != crc) {
        return Err(Failure::new("checksum_mismatch"));
    }
    Ok(format!("\"{etag}\""))
}

/// Records a failed upload and aborts its multipart upload.
async fn give_up(core: &CoreUpload, lane: &mut Lane, key: &str, upload_id: &str, f: &Failure) {
    core.tally.borrow_mut().fail(&f.kind);
    if f.kind != INTERRUPTED {
        core.live.add(core.index, LIVE_FAILED, 1);
    }
    let limit = if core.stopping() { GRACE } else { core.plan.timeout };
    let aborted = tokio::time::timeout(limit, lane.abort(key, upload_id)).await;
    let mut t = core.tally.borrow_mut();
    match aborted {
        Ok(Ok(_)) => t.aborted += 1,
        _ => t.abort_failed += 1,
    }
}

/// After Ctrl-C / SIGTERM, requests in flight get this long to finish before they are cut.
const GRACE: Duration = Duration::from_secs(2);

/// Resolves `GRACE` after the run was interrupted.
async fn interrupted_past_grace(core: &CoreUpload) {
    while !core.stopping() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(GRACE).await;
}

/// Runs a request with the per-request timeout, retrying transient failures up to `--retries`
/// times with exponential backoff (retries are counted).
async fn retrying<T>(core: &CoreUpload, mut call: impl AsyncFnMut() -> Result<T, Failure>) -> Result<T, Failure> {
    let mut attempt = 0u32;
    loop {
        let result = tokio::select! {
            r = tokio::time::timeout(core.plan.timeout, call()) => r.unwrap_or_else(|_| Err(Failure::timeout())),
            _ = interrupted_past_grace(core) => Err(Failure::new(INTERRUPTED)),
        };
        match result {
            Err(f) if f.transient && attempt < core.plan.retries && !core.stopping() => {
                attempt += 1;
                core.tally.borrow_mut().retries += 1;
                tokio::time::sleep(Duration::from_millis(50 << attempt.min(5))).await;
            }
            other => return other,
        }
    }
}
