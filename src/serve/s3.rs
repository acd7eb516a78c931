//! The embedded target's S3 endpoint: the multipart calls `blast upload` makes, on `s3s`
//! (which parses S3 requests and verifies SigV4, presigned URLs included). Part data is
//! streamed, its CRC32C checked against `x-amz-checksum-crc32c` (and its MD5 against
//! `Content-MD5` when sent) and discarded; only sizes are kept, so 100 GB fit on any machine.
//!
//! Fault injection for tests: `fail_every_part = n` answers every n-th UploadPart with
//! 503 SlowDown (after reading its body); `part_delay` delays every UploadPart answer.

use async_trait::async_trait;
use base64::Engine as _;
use futures_util::StreamExt;
use md5::Digest;
use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result, S3};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Credentials and faults of the S3 endpoint.
#[derive(Clone, Debug)]
pub struct S3Config {
    pub access_key: String,
    pub secret_key: String,
    /// Answer every n-th UploadPart with 503 SlowDown (0: never).
    pub fail_every_part: u64,
    /// Added to every UploadPart answer, after its body was read.
    pub part_delay: std::time::Duration,
}

/// Builds the hyper service for the endpoint.
pub fn service(cfg: &S3Config) -> s3s::service::S3Service {
    let mut b = s3s::service::S3ServiceBuilder::new(DiscardingS3 {
        state: Mutex::default(),
        parts_seen: AtomicU64::new(0),
        fail_every_part: cfg.fail_every_part,
        part_delay: cfg.part_delay,
    });
    b.set_auth(s3s::auth::SimpleAuth::from_single(cfg.access_key.clone(), cfg.secret_key.clone()));
    b.build()
}

struct Upload {
    bucket: String,
    key: String,
    /// Part number -> (size, ETag).
    parts: BTreeMap<i32, (u64, String)>,
}

#[derive(Default)]
struct State {
    next_id: u64,
    uploads: HashMap<String, Upload>,
    /// (bucket, key) -> (size, ETag) of completed objects.
    objects: HashMap<(String, String), (u64, String)>,
}

struct DiscardingS3 {
    state: Mutex<State>,
    parts_seen: AtomicU64,
    fail_every_part: u64,
    part_delay: std::time::Duration,
}

impl DiscardingS3 {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl S3 for DiscardingS3 {
    async fn create_bucket(&self, _req: S3Request<CreateBucketInput>) -> S3Result<S3Response<CreateBucketOutput>> {
        Ok(S3Response::new(CreateBucketOutput::default()))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let input = req.input;
        let mut st = self.state();
        st.next_id += 1;
        let id = format!("blast-{:016x}", st.next_id);
        st.uploads.insert(
            id.clone(),
            Upload { bucket: input.bucket.clone(), key: input.key.clone(), parts: BTreeMap::new() },
        );
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(id),
            ..Default::default()
        }))
    }

    async fn upload_part(&self, req: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
        let input = req.input;
        let n = self.parts_seen.fetch_add(1, Ordering::Relaxed) + 1;
        let inject = self.fail_every_part > 0 && n.is_multiple_of(self.fail_every_part);
        if !self.state().uploads.contains_key(&input.upload_id) {
            return Err(s3_error!(NoSuchUpload));
        }
        let mut body = input.body.ok_or_else(|| s3_error!(IncompleteBody))?;
        let mut crc = 0u32;
        let mut md5 = input.content_md5.as_ref().map(|_| md5::Md5::new());
        let mut size = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|_| s3_error!(IncompleteBody))?;
            crc = crc32c::crc32c_append(crc, &chunk);
            if let Some(h) = md5.as_mut() {
                h.update(&chunk);
            }
            size += chunk.len() as u64;
        }
        if !self.part_delay.is_zero() {
            let at = std::time::Instant::now() + self.part_delay;
            crate::clock::PreciseTimer::new().sleep_until(at).await;
        }
        if inject {
            // After reading the body, so that the client sees the answer and not a reset.
            return Err(s3_error!(SlowDown, "injected fault: every {}th part", self.fail_every_part));
        }
        let crc_b64 = base64::engine::general_purpose::STANDARD.encode(crc.to_be_bytes());
        if let Some(expected) = &input.checksum_crc32c {
            if *expected != crc_b64 {
                return Err(s3_error!(
                    BadDigest,
                    "x-amz-checksum-crc32c {expected} does not match the data ({crc_b64})"
                ));
            }
        }
        if let (Some(expected), Some(h)) = (&input.content_md5, md5) {
            let got = base64::engine::general_purpose::STANDARD.encode(h.finalize());
            if *expected != got {
                return Err(s3_error!(BadDigest, "Content-MD5 does not match the data"));
            }
        }
        let etag = format!("{crc:08x}{size:016x}");
        let mut st = self.state();
        let upload = st.uploads.get_mut(&input.upload_id).ok_or_else(|| s3_error!(NoSuchUpload))?;
        upload.parts.insert(input.part_number, (size, etag.clone()));
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(ETag::Strong(etag)),
            checksum_crc32c: Some(crc_b64),
            ..Default::default()
        }))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let input = req.input;
        let listed = input.multipart_upload.and_then(|m| m.parts).unwrap_or_default();
        let mut st = self.state();
        let upload = st.uploads.get(&input.upload_id).ok_or_else(|| s3_error!(NoSuchUpload))?;
        let mut size = 0u64;
        let mut previous = 0;
        for part in &listed {
            let number = part.part_number.unwrap_or_default();
            if number <= previous {
                return Err(s3_error!(InvalidPartOrder));
            }
            previous = number;
            let Some((part_size, etag)) = upload.parts.get(&number) else {
                return Err(s3_error!(InvalidPart, "part {number} was not uploaded"));
            };
            if part.e_tag.as_ref().map(|e| e.value()) != Some(etag.as_str()) {
                return Err(s3_error!(InvalidPart, "part {number}: ETag does not match"));
            }
            size += part_size;
        }
        if listed.is_empty() {
            return Err(s3_error!(MalformedXML, "no parts listed"));
        }
        let (bucket, key) = (upload.bucket.clone(), upload.key.clone());
        st.uploads.remove(&input.upload_id);
        let etag = format!("{:016x}-{}", size, listed.len());
        st.objects.insert((bucket.clone(), key.clone()), (size, etag.clone()));
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(bucket),
            key: Some(key),
            e_tag: Some(ETag::Strong(etag)),
            ..Default::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        match self.state().uploads.remove(&req.input.upload_id) {
            Some(_) => Ok(S3Response::new(AbortMultipartUploadOutput::default())),
            None => Err(s3_error!(NoSuchUpload)),
        }
    }

    async fn head_object(&self, req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
        let input = req.input;
        let st = self.state();
        let Some((size, etag)) = st.objects.get(&(input.bucket, input.key)) else {
            return Err(s3_error!(NoSuchKey));
        };
        Ok(S3Response::new(HeadObjectOutput {
            content_length: Some(*size as i64),
            e_tag: Some(ETag::Strong(etag.clone())),
            ..Default::default()
        }))
    }

    async fn delete_object(&self, req: S3Request<DeleteObjectInput>) -> S3Result<S3Response<DeleteObjectOutput>> {
        let input = req.input;
        self.state().objects.remove(&(input.bucket, input.key));
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }
}
