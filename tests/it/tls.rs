//! TLS end to end: `blast serve --tls` (rustls) and the generators over https:// and wss://,
//! with the server's certificate trusted through --ca-cert, refused when it is not trusted, and
//! accepted with --insecure.

use crate::common::*;

/// A `blast serve --tls` with its self-signed certificate written to a PEM file.
fn tls_server(extra: &[&str]) -> (Server, String) {
    let cert = temp_path("cert.pem").to_string_lossy().to_string();
    let mut args = vec!["--tls-cert-out", cert.as_str()];
    args.extend_from_slice(extra);
    (Server::start(&args), cert)
}

#[test]
fn api_over_https_trusts_only_what_it_is_told_to() {
    // Shared: exact counts at 500/s.
    let _g = light();
    let (server, cert) = tls_server(&[]);
    let url = format!("https://localhost:{}/v1/messages", server.addr.rsplit(':').next().expect("port"));
    let base = ["api", "--target", url.as_str(), "--rate", "500", "--duration", "1s", "--cores", "1", "--conns", "4"];
    let mut trusted = base.to_vec();
    trusted.extend(["--ca-cert", cert.as_str()]);
    let r = blast(&trusted);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json.expect("report");
    assert_eq!(f(&j, "/requests/ok"), 500.0);
    assert_eq!(j["target"], url.as_str());
    // The same target without trusting its certificate: every connection fails the handshake
    // before the start, so the run stops there, says why on stderr (one line) and still
    // reports, with the advice to give --ca-cert.
    let r = blast(&base);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let j = r.json.expect("report");
    assert_eq!(f(&j, "/requests/sent"), 0.0);
    assert_eq!(f(&j, "/connections/failed_at_start"), 4.0, "{j}");
    assert!(r.stderr.contains("TLS handshake failed"), "{}", r.stderr);
    assert!(r.stdout.contains("--ca-cert"), "{}", r.stdout);
    // --insecure accepts it (test targets with throwaway certificates).
    let mut insecure = base.to_vec();
    insecure.push("--insecure");
    let r = blast(&insecure);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let _ = std::fs::remove_file(&cert);
}

#[test]
fn ws_over_wss_delivers_every_probe() {
    // Shared: exact counts.
    let _g = light();
    let (server, cert) = tls_server(&[]);
    let url = format!("wss://localhost:{}/ws", server.addr.rsplit(':').next().expect("port"));
    let r = blast(&[
        "ws",
        "--target",
        &url,
        "--ca-cert",
        &cert,
        "--conns",
        "200",
        "--rooms",
        "4",
        "--duration",
        "2s",
        "--probe-rate",
        "20",
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json.expect("report");
    assert_eq!(f(&j, "/connections/established"), 200.0);
    let probes = f(&j, "/probes/sent");
    assert!(probes >= 39.0, "{probes}");
    assert_eq!(f(&j, "/probes/delivered"), probes * 50.0);
    assert_eq!(f(&j, "/probes/expected_deliveries"), probes * 50.0);
    let _ = std::fs::remove_file(&cert);
}

#[test]
fn upload_over_https_completes_and_verifies() {
    // Shared: exact counts.
    let _g = shared();
    let (server, cert) = tls_server(&["--s3-listen", "127.0.0.1:0"]);
    let s3 = server.s3.clone().expect("s3 address").replace("127.0.0.1", "localhost");
    let r = blast(&["upload", "--target", &s3, "--ca-cert", &cert, "--size", "16M", "--parallel", "2"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json.expect("report");
    assert_eq!(f(&j, "/uploads/completed"), 2.0);
    assert_eq!(f(&j, "/uploads/verified"), 2.0);
    assert_eq!(f(&j, "/bytes_acked"), 2.0 * 16.0 * 1048576.0);
    let _ = std::fs::remove_file(&cert);
}

#[test]
fn serve_takes_a_given_certificate_and_rejects_a_bad_key() {
    // Shared: exact counts at 200/s.
    let _g = moderate();
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
    let (cert, key) = (temp_path("given-cert.pem"), temp_path("given-key.pem"));
    std::fs::write(&cert, made.cert.pem()).expect("cert");
    std::fs::write(&key, made.signing_key.serialize_pem()).expect("key");
    let (cert_s, key_s) = (cert.to_string_lossy().to_string(), key.to_string_lossy().to_string());
    let server = Server::start(&["--tls-cert", &cert_s, "--tls-key", &key_s]);
    let url = format!("https://localhost:{}/v1/messages", server.addr.rsplit(':').next().expect("port"));
    let r =
        blast(&["api", "--target", &url, "--ca-cert", &cert_s, "--rate", "200", "--duration", "1s", "--cores", "1"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    // A key file that is not a key: one line, exit 2, no panic.
    let (code, err) = blast_plain(&["serve", "--listen", "127.0.0.1:0", "--tls-cert", &cert_s, "--tls-key", &cert_s]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--tls-key") && err.lines().count() == 1, "{err}");
    // A --ca-cert that is not a certificate: the same.
    let (code, err) = blast_plain(&["api", "--target", &url, "--rate", "10", "--ca-cert", &key_s]);
    assert_eq!(code, 2, "{err}");
    assert!(err.lines().count() == 1 && !err.contains("panicked"), "{err}");
    let _ = (std::fs::remove_file(&cert), std::fs::remove_file(&key));
}
