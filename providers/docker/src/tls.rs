//! TLS to an engine the way the docker CLI does it: a CA to check the engine's certificate
//! against (or, with `--tls` alone, no check), a client certificate and key to show it.
//!
//! Errors name the file they come from: a user with three PEM files and a refusal needs to
//! know which of them to replace.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{self, CryptoProvider};
use tokio_rustls::rustls::{self, ClientConfig, DigitallySignedStruct, RootCertStore};

/// What TLS to use with an engine, as the docker CLI's flags, environment and contexts give it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    /// Check the engine's certificate (`--tlsverify`, `DOCKER_TLS_VERIFY`, a context without
    /// `SkipTLSVerify`); `false` is `--tls` alone: encrypted, the engine not authenticated.
    pub verify: bool,
    /// The CA to check against; without one, the system's trusted roots.
    pub ca: Option<PathBuf>,
    /// The client certificate and its key (both or neither).
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS: cannot read {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("TLS: {path} holds no usable {what}")]
    Empty { path: String, what: &'static str },
    #[error("TLS: {0}")]
    Config(String),
}

impl TlsSettings {
    /// The files named, for messages: `ca=/…/ca.pem cert=/…/cert.pem`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.verify {
            parts.push("no verification".to_string());
        }
        for (label, path) in [("ca", &self.ca), ("cert", &self.cert), ("key", &self.key)] {
            if let Some(path) = path {
                parts.push(format!("{label}={}", path.display()));
            }
        }
        parts.join(" ")
    }

    /// The rustls client configuration: read once, when the engine is first connected.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, TlsError> {
        let provider = Arc::new(crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|error| TlsError::Config(error.to_string()))?;
        let builder = if self.verify {
            builder.with_root_certificates(self.roots()?)
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
        };
        let config = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => builder
                .with_client_auth_cert(certificates(cert)?, private_key(key)?)
                .map_err(|error| {
                    TlsError::Config(format!("{} and {}: {error}", cert.display(), key.display()))
                })?,
            (None, None) => builder.with_no_client_auth(),
            (Some(path), None) | (None, Some(path)) => {
                return Err(TlsError::Config(format!(
                    "{} is given without its pair (a client certificate needs its key)",
                    path.display()
                )))
            }
        };
        Ok(Arc::new(config))
    }

    fn roots(&self) -> Result<RootCertStore, TlsError> {
        let mut roots = RootCertStore::empty();
        match &self.ca {
            Some(ca) => {
                let (added, _) = roots.add_parsable_certificates(certificates(ca)?);
                if added == 0 {
                    return Err(TlsError::Empty {
                        path: ca.display().to_string(),
                        what: "CA certificate",
                    });
                }
            }
            None => {
                // The system's roots: an engine behind a certificate from a public CA.
                let native = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(native.certs);
            }
        }
        Ok(roots)
    }

    /// A failed handshake or read in words that name the file to look at: the CA when the
    /// engine's certificate was not accepted, the client certificate when the engine refused
    /// ours (with TLS 1.3 that refusal arrives on the first read, after the handshake).
    pub fn explain(&self, error: std::io::Error) -> std::io::Error {
        match self.words_for(&error) {
            Some(text) => std::io::Error::new(error.kind(), text),
            None => error,
        }
    }

    /// `explain`'s words for a TLS error; `None` for any other error.
    pub fn words_for(&self, error: &std::io::Error) -> Option<String> {
        let tls = error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())?;
        Some(match tls {
            rustls::Error::InvalidCertificate(reason) => format!(
                "TLS: the engine's certificate is not accepted ({reason:?}) checked against {}",
                self.ca
                    .as_deref()
                    .map_or("the system's trusted roots".to_string(), |ca| ca
                        .display()
                        .to_string())
            ),
            rustls::Error::AlertReceived(alert) => match &self.cert {
                Some(cert) => format!(
                    "TLS: the engine refused the client certificate {} ({alert:?})",
                    cert.display()
                ),
                None => format!(
                    "TLS: the engine refused the connection ({alert:?}): it may want a client certificate (--tlscert/--tlskey or cert.pem and key.pem in DOCKER_CERT_PATH)"
                ),
            },
            other => format!("TLS: {other}"),
        })
    }
}

/// The name the engine's certificate must carry: the host of its address (an IP address or
/// a DNS name).
pub fn server_name(address: &str) -> Result<ServerName<'static>, TlsError> {
    let host = match address.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|byte| byte.is_ascii_digit()) => host,
        _ => address,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string())
        .map_err(|error| TlsError::Config(format!("{host:?} is not a host name: {error}")))
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|error| TlsError::Unreadable {
        path: path.display().to_string(),
        reason: error.to_string(),
    })
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(path)?;
    let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|error| TlsError::Unreadable {
            path: path.display().to_string(),
            reason: error.to_string(),
        })?;
    if certificates.is_empty() {
        return Err(TlsError::Empty {
            path: path.display().to_string(),
            what: "certificate",
        });
    }
    Ok(certificates)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read(path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|_| TlsError::Empty {
        path: path.display().to_string(),
        what: "private key",
    })
}

/// `--tls` without `--tlsverify`: the docker CLI encrypts but does not check who answers.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_from_addresses() {
        assert!(matches!(
            server_name("127.0.0.1:2376").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("engine.example:2376").unwrap(),
            ServerName::DnsName(_)
        ));
        assert!(matches!(
            server_name("[::1]:2376").unwrap(),
            ServerName::IpAddress(_)
        ));
    }

    #[test]
    fn missing_and_empty_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("ca.pem");
        let settings = TlsSettings {
            verify: true,
            ca: Some(missing.clone()),
            cert: None,
            key: None,
        };
        let error = settings.client_config().unwrap_err().to_string();
        assert!(error.contains(&missing.display().to_string()), "{error}");
        std::fs::write(&missing, "not a certificate\n").unwrap();
        let error = settings.client_config().unwrap_err().to_string();
        assert!(error.contains(&missing.display().to_string()), "{error}");
        assert!(!error.contains('\n'));
    }
}
