//! The first S3 call of a run: CreateBucket (then HeadBucket when creating is denied). Either
//! the bucket is there and the keys work, or the run stops at once with the cause in one line
//! (connection refused, TLS, SignatureDoesNotMatch, InvalidBucketName, AccessDenied, ...)
//! instead of starting uploads that can only fail.

use crate::workloads::upload::plan::UploadPlan;
use crate::workloads::upload::s3::{Lane, Timeline};
use crate::workloads::upload::tally::Failure;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Why the run stopped before its first upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stop {
    /// The failure kind (`refused`, `auth_SignatureDoesNotMatch`, `s3_InvalidBucketName`).
    pub kind: String,
    /// One line for people, naming the cause and what to check.
    pub cause: String,
}

/// Makes sure the bucket exists and the keys work: `Ok("created" | "exists" | kind)` to go on
/// (a server error that may pass or a server without CreateBucket goes on, as before), `Err`
/// to stop.
pub fn check(plan: &UploadPlan) -> Result<String, Stop> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Stop { kind: "runtime".into(), cause: format!("cannot start a runtime: {e}") })?;
    let local = tokio::task::LocalSet::new();
    let timeline = Rc::new(Timeline { start: Instant::now(), bytes: Default::default() });
    let mut lane = Lane::new(plan.target.clone(), timeline);
    let (timeout, retries) = (plan.timeout, plan.retries);
    let bucket = plan.target.bucket.name().to_string();
    let outcome = local.block_on(&rt, async move {
        let mut attempt = 0;
        let created = loop {
            let r =
                tokio::time::timeout(timeout, lane.create_bucket()).await.unwrap_or_else(|_| Err(Failure::timeout()));
            match r {
                Err(f) if f.transient && f.kind != "refused" && attempt < retries => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(50 << attempt.min(5))).await;
                }
                other => break other,
            }
        };
        match created {
            Err(f) if f.kind == "auth_AccessDenied" => {
                // Creating may be denied to keys that may still upload into an existing bucket.
                match tokio::time::timeout(timeout, lane.head_bucket()).await {
                    Ok(Ok(_)) => Ok("exists".to_string()),
                    _ => Err(f),
                }
            }
            Err(f) if f.kind.contains("BucketAlreadyOwnedByYou") || f.kind.contains("BucketAlreadyExists") => {
                Ok("exists".to_string())
            }
            Err(f) => Err(f),
            Ok(_) => Ok("created".to_string()),
        }
    });
    match outcome {
        Ok(status) => Ok(status),
        Err(f) => match cause(&f, plan, &bucket) {
            Some(cause) => Err(Stop { kind: f.kind, cause }),
            None => Ok(f.kind),
        },
    }
}

/// The line naming why the first call failed, or `None` for a failure that does not doom the
/// run (a 5xx or SlowDown past its retries, a server that does not implement CreateBucket).
fn cause(f: &Failure, plan: &UploadPlan, bucket: &str) -> Option<String> {
    let (addr, host) = (plan.target.addr, &plan.target.host);
    let kind = f.kind.as_str();
    let code = kind.strip_prefix("auth_").or_else(|| kind.strip_prefix("s3_")).unwrap_or(kind);
    Some(match kind {
        "refused" => format!("connection refused by {addr}: is the S3 server running at {host}?"),
        "timeout" => format!("no answer from {addr} within --timeout {:?}", plan.timeout),
        "tls_handshake" => format!("TLS handshake with {host} failed: check --ca-cert (or --insecure)"),
        "reset" | "closed_early" | "io" | "handshake" => format!("the connection to {addr} failed ({kind})"),
        "bad_response" => format!("{addr} does not answer like an S3 server (bad response)"),
        "auth_SignatureDoesNotMatch" => "SignatureDoesNotMatch: the server rejected the request's signature: check --secret-key (or AWS_SECRET_ACCESS_KEY) and --region".into(),
        "auth_InvalidAccessKeyId" => "InvalidAccessKeyId: the server does not know this access key: check --access-key (or AWS_ACCESS_KEY_ID)".into(),
        "auth_AccessDenied" => format!("AccessDenied: these keys may neither create nor read bucket '{bucket}'"),
        "s3_InvalidBucketName" => format!("InvalidBucketName: '{bucket}' is not a valid bucket name (3-63 lowercase letters, digits, dots and hyphens)"),
        "s3_NoSuchBucket" => format!("NoSuchBucket: bucket '{bucket}' does not exist and was not created"),
        _ if kind.starts_with("auth_") => format!("{code}: authentication failed: check --access-key/--secret-key and --region"),
        "s3_NotImplemented" | "s3_MethodNotAllowed" | "http_405" | "http_501" => return None,
        _ if f.transient => return None,
        _ => format!("{code}: the server refused CreateBucket for bucket '{bucket}'"),
    })
}
