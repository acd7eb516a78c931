//! `blast serve`: flags for the embedded target.

use super::common::UsageError;
use crate::serve::auth::AuthConfig;
use crate::serve::faults::{Faults, Stall};
use crate::serve::s3::S3Config;
use crate::serve::tls::TlsSource;
use crate::serve::{start_with, ServeConfig};
use crate::units::{parse_count, parse_duration};
use clap::Args;
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,
    /// Worker threads (default: all cores).
    #[arg(long, value_parser = parse_count)]
    pub threads: Option<usize>,
    /// Fixed latency added to every POST /v1/messages answer, e.g. 10ms.
    #[arg(long, value_parser = parse_duration)]
    pub delay: Option<Duration>,
    /// Stall periodically: every this long, answer nothing for --stall-for.
    #[arg(long, value_parser = parse_duration, requires = "stall_for")]
    pub stall_every: Option<Duration>,
    /// Length of each stall.
    #[arg(long, value_parser = parse_duration, requires = "stall_every")]
    pub stall_for: Option<Duration>,
    /// Fault: this long after the start, drop every other WebSocket connection abruptly.
    #[arg(long, value_parser = parse_duration)]
    pub ws_drop_half_at: Option<Duration>,
    /// How broadcasts reach WebSocket subscribers: as posted (blast), or as a chat service
    /// lays them out (chat): {"event":"message.created","data":{"id":"srv-N",
    /// "conversation_id":...,"client_msg_id":"<the posted string>","sent_at":<the posted ms>}}.
    #[arg(long, value_enum, default_value = "blast")]
    pub ws_layout: crate::serve::rooms::Layout,
    /// Also serve an S3 endpoint (the multipart calls of `blast upload`; data is checked and
    /// discarded) on this address, e.g. 127.0.0.1:9000.
    #[arg(long)]
    pub s3_listen: Option<SocketAddr>,
    /// Access key the S3 endpoint accepts.
    #[arg(long, env = "AWS_ACCESS_KEY_ID", default_value = crate::workloads::upload::DEFAULT_ACCESS_KEY, hide_env_values = true)]
    pub access_key: String,
    /// Secret key the S3 endpoint accepts (never printed).
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", default_value = crate::workloads::upload::DEFAULT_SECRET_KEY, hide_env_values = true, hide_default_value = true)]
    pub secret_key: String,
    /// Known delay before each posted message is broadcast to its WebSocket subscribers.
    #[arg(long, value_parser = parse_duration)]
    pub broadcast_delay: Option<Duration>,
    /// Known delay added to every S3 UploadPart answer (after the part was read).
    #[arg(long, value_parser = parse_duration)]
    pub s3_part_delay: Option<Duration>,
    /// Fault: answer every n-th S3 UploadPart with 503 SlowDown.
    #[arg(long, value_parser = parse_count)]
    pub s3_fail_every_part: Option<usize>,
    /// Fault target: answer every HTTP request wrongly in this one way (raw TCP).
    #[arg(long, value_enum)]
    pub misbehave: Option<crate::serve::misbehave::Misbehaviour>,
    /// Serve HTTPS and wss:// (and S3 over HTTPS) with a self-signed certificate for localhost,
    /// 127.0.0.1 and ::1 (clients: --insecure, or --ca-cert with the file from --tls-cert-out),
    /// or with --tls-cert and --tls-key.
    #[arg(long)]
    pub tls: bool,
    /// Certificate chain (PEM) to serve TLS with; implies --tls.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// Private key (PEM) of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Write the self-signed certificate (PEM) here, for clients' --ca-cert.
    #[arg(long, conflicts_with = "tls_cert")]
    pub tls_cert_out: Option<std::path::PathBuf>,
    /// Require `Authorization: Bearer <token>` (a token from POST /auth/login) on
    /// POST /v1/messages, GET /v1/conversations and /v1/files/..., and on the /ws upgrade
    /// (there also as ?token= or ?access_token=); 401 otherwise.
    #[arg(long)]
    pub require_auth: bool,
    /// With --require-auth: tokens older than this are refused with 401, e.g. 2s (default: never
    /// expire).
    #[arg(long, value_parser = parse_duration, requires = "require_auth")]
    pub token_ttl: Option<Duration>,
    /// Close a keep-alive connection once it has been idle this long, e.g. 1s, as most servers
    /// do (default: never).
    #[arg(long, value_parser = parse_duration)]
    pub keepalive_timeout: Option<Duration>,
    /// Fault: the upload API stores the n-th chunk it receives (1-based, over the whole run)
    /// with its first byte flipped, so that upload's SHA-256 from `complete` is wrong.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub corrupt_chunk: Option<u64>,
    /// Stop by itself after this long (default: run until interrupted).
    #[arg(long, value_parser = parse_duration)]
    pub exit_after: Option<Duration>,
}

pub fn run(args: ServeArgs) -> Result<ExitCode, UsageError> {
    let stall = match (args.stall_every, args.stall_for) {
        (Some(every), Some(length)) => {
            if length.is_zero() || length >= every {
                return Err("--stall-for must be greater than 0 and shorter than --stall-every".into());
            }
            Some(Stall { every, length })
        }
        _ => None,
    };
    if args.keepalive_timeout.is_some_and(|t| t.is_zero()) {
        return Err("--keepalive-timeout must be greater than 0".into());
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsSource::Files { cert: cert.clone(), key: key.clone() }),
        _ if args.tls || args.tls_cert_out.is_some() => {
            Some(TlsSource::SelfSigned { write_cert_to: args.tls_cert_out.clone() })
        }
        _ => None,
    };
    let tls = tls.as_ref().map(crate::serve::tls::server_config).transpose()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let cfg = ServeConfig {
        tls,
        listen: args.listen,
        threads: args.threads.unwrap_or_else(super::common::available_cores),
        faults: Faults {
            delay: args.delay.unwrap_or_default(),
            stall,
            broadcast_delay: args.broadcast_delay.unwrap_or_default(),
            keepalive_timeout: args.keepalive_timeout,
            corrupt_chunk: args.corrupt_chunk,
        },
        ws_drop: args.ws_drop_half_at.map(|at| crate::serve::ws::DropHalf { at }),
        ws_layout: args.ws_layout,
        misbehave: args.misbehave,
        s3: args.s3_listen.map(|addr| {
            let s3 = S3Config {
                access_key: args.access_key.clone(),
                secret_key: args.secret_key.clone(),
                fail_every_part: args.s3_fail_every_part.unwrap_or(0) as u64,
                part_delay: args.s3_part_delay.unwrap_or_default(),
            };
            (addr, s3)
        }),
    };
    crate::sys::raise_fds_to_hard();
    let auth = AuthConfig { require: args.require_auth, ttl: args.token_ttl };
    let running = start_with(&cfg, auth).map_err(|e| format!("cannot listen: {e}"))?;
    println!("blast serve listening on {scheme}://{}", running.addr);
    if let Some(s3) = running.s3_addr {
        println!("blast serve S3 endpoint on {scheme}://{s3}");
    }
    let _ = std::io::stdout().flush();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register(sig, stop.clone());
    }
    let started = std::time::Instant::now();
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        if args.exit_after.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(ExitCode::SUCCESS)
}
