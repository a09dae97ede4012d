//! TLS on the gRPC port with rustls: the server's certificate and key, and
//! optionally a client CA (mutual TLS: a client without a certificate it
//! signed is refused in the handshake). The files are read again when they
//! change, so a renewed certificate is served without a restart; files that
//! no longer load keep the previous configuration (and say why).

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

/// How often the certificate files are looked at for changes.
pub const RELOAD_EVERY: Duration = Duration::from_secs(1);

#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// PEM certificate chain, the server's certificate first.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
    /// PEM certificates of the CAs whose clients are accepted (mTLS).
    pub client_ca: Option<PathBuf>,
}

type Stamps = Vec<Option<(SystemTime, u64)>>;

/// The TLS configuration in force, kept current with its files.
pub struct Tls {
    files: TlsFiles,
    config: RwLock<Arc<ServerConfig>>,
    seen: Mutex<Stamps>,
}

impl Tls {
    pub fn load(files: TlsFiles) -> anyhow::Result<Arc<Self>> {
        let seen = stamps(&files);
        let config = build(&files)?;
        Ok(Arc::new(Tls { files, config: RwLock::new(Arc::new(config)), seen: Mutex::new(seen) }))
    }

    pub fn requires_client_certificates(&self) -> bool {
        self.files.client_ca.is_some()
    }

    /// An acceptor with the configuration in force now.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.config.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone())
    }

    /// Re-reads the files every `RELOAD_EVERY` while `self` is in use.
    pub fn watch(self: &Arc<Self>) {
        let tls = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(RELOAD_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                let Some(tls) = tls.upgrade() else { return };
                tls.reload_if_changed();
            }
        });
    }

    pub fn reload_if_changed(&self) {
        let now = stamps(&self.files);
        {
            let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if *seen == now {
                return;
            }
            *seen = now;
        }
        match build(&self.files) {
            Ok(config) => {
                *self.config.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(config);
                tracing::info!(cert = %self.files.cert.display(), "TLS certificates reloaded");
            }
            Err(e) => tracing::error!("TLS certificates not reloaded, the previous ones stay in force: {e:#}"),
        }
    }
}

fn stamps(files: &TlsFiles) -> Stamps {
    [Some(&files.cert), Some(&files.key), files.client_ca.as_ref()]
        .into_iter()
        .flatten()
        .map(|path| std::fs::metadata(path).ok().and_then(|m| Some((m.modified().ok()?, m.len()))))
        .collect()
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
