//! TLS for `blast serve --tls`: the certificate and key given (`--tls-cert`, `--tls-key`, PEM),
//! or a self-signed certificate for localhost, 127.0.0.1 and ::1 made at start (clients then
//! need `--insecure`, or `--ca-cert` with the file written by `--tls-cert-out`).

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivateKeyDer;
use std::path::Path;
use std::sync::Arc;

/// Where the server's certificate comes from.
#[derive(Clone, Debug)]
pub enum TlsSource {
    /// Made at start; its PEM is written to the path when given.
    SelfSigned { write_cert_to: Option<std::path::PathBuf> },
    /// PEM files.
    Files { cert: std::path::PathBuf, key: std::path::PathBuf },
}

/// The rustls server configuration (HTTP/1.1 by ALPN).
pub fn server_config(source: &TlsSource) -> Result<Arc<rustls::ServerConfig>, String> {
    let (certs, key) = match source {
        TlsSource::SelfSigned { write_cert_to } => {
            let names = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
            let made = rcgen::generate_simple_self_signed(names).map_err(|e| format!("--tls: {e}"))?;
            if let Some(path) = write_cert_to {
                std::fs::write(path, made.cert.pem()).map_err(|e| format!("--tls-cert-out {}: {e}", path.display()))?;
            }
            let key = PrivateKeyDer::try_from(made.signing_key.serialize_der()).map_err(|e| format!("--tls: {e}"))?;
            (vec![made.cert.der().clone()], key)
        }
        TlsSource::Files { cert, key } => {
            let certs = crate::tls::read_certs(cert)?;
            (certs, read_key(key)?)
        }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("--tls-cert/--tls-key: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| format!("--tls-key {}: not a PEM private key: {e}", path.display()))
}
