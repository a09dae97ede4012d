//! TLS on the gRPC port with rustls: the server's certificate and key, and
//! optionally a client CA (mutual TLS: a client without a certificate it
//! signed is refused in the handshake). The files are read again when they
//! change, so a renewed certificate is served without a restart; files that
//! no longer load keep the previous configuration (and say why).

use super::reloading::Reloading;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// PEM certificate chain, the server's certificate first.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
    /// PEM certificates of the CAs whose clients are accepted (mTLS).
    pub client_ca: Option<PathBuf>,
}

/// The TLS configuration in force, kept current with its files.
pub struct Tls {
    config: Arc<Reloading<ServerConfig>>,
}

impl Tls {
    pub fn load(files: TlsFiles) -> anyhow::Result<Self> {
        let paths = [Some(&files.cert), Some(&files.key), files.client_ca.as_ref()].into_iter().flatten().cloned();
        let config = Reloading::load("TLS certificates", paths.collect(), move || build(&files))?;
        Ok(Tls { config })
    }

    /// An acceptor with the configuration in force now.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.config.current())
    }
}

/// What a cluster node shows and trusts when it calls another node's
/// cluster port: its own certificate and key, and the CA (`client_ca`)
/// the other nodes' certificates must come from. Read once, at start.
pub fn client_config(files: &TlsFiles) -> anyhow::Result<tonic::transport::ClientTlsConfig> {
    let read = |path: &Path| std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()));
    let ca = files.client_ca.as_deref().ok_or_else(|| anyhow::anyhow!("cluster TLS needs the nodes' CA"))?;
    // Checked as the server side checks them, for the same messages.
    certificates(ca)?;
    certificates(&files.cert)?;
    Ok(tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(read(ca)?))
        .identity(tonic::transport::Identity::from_pem(read(&files.cert)?, read(&files.key)?)))
}

fn certificates(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| anyhow::anyhow!("cannot read certificates from {}: {e}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("invalid PEM certificate in {}: {e}", path.display()))?;
    if certs.is_empty() {
        anyhow::bail!("no PEM certificate in {}", path.display());
    }
    Ok(certs)
}

fn build(files: &TlsFiles) -> anyhow::Result<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = certificates(&files.cert)?;
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| anyhow::anyhow!("cannot read a PEM private key from {}: {e}", files.key.display()))?;
    let builder = ServerConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions()?;
    let builder = match &files.client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in certificates(ca)? {
                roots.add(cert).map_err(|e| anyhow::anyhow!("client CA {}: {e}", ca.display()))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| anyhow::anyhow!("client CA {}: {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| anyhow::anyhow!("certificate {} and key {}: {e}", files.cert.display(), files.key.display()))?;
    // gRPC runs on HTTP/2 only.
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}
