//! How client commands reach a server: address, TLS and an API key, with
//! the `temporal` CLI's flag and environment names.

use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use temporalio_protos::temporal::api::workflowservice::v1::workflow_service_client::WorkflowServiceClient;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

#[derive(Args, Clone, Debug)]
pub struct ConnectArgs {
    /// Server address, host:port.
    #[arg(long, global = true, default_value = "127.0.0.1:7233", env = "TEMPORAL_ADDRESS")]
    pub address: String,
    /// API key, sent as `authorization: Bearer KEY`.
    #[arg(long, global = true, env = "TEMPORAL_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Connect over TLS (implied by the other --tls-* flags).
    #[arg(long, global = true, env = "TEMPORAL_TLS")]
    tls: bool,
    /// PEM CA certificate to verify the server with (default: the system's).
    #[arg(long, global = true, env = "TEMPORAL_TLS_CA_PATH", value_name = "FILE")]
    tls_ca_path: Option<PathBuf>,
    /// PEM client certificate, for mutual TLS.
    #[arg(long, global = true, env = "TEMPORAL_TLS_CERT_PATH", value_name = "FILE")]
    tls_cert_path: Option<PathBuf>,
    /// PEM private key of --tls-cert-path.
    #[arg(long, global = true, env = "TEMPORAL_TLS_KEY_PATH", value_name = "FILE")]
    tls_key_path: Option<PathBuf>,
    /// The name the server's certificate must carry (default: the host).
    #[arg(long, global = true, env = "TEMPORAL_TLS_SERVER_NAME")]
    tls_server_name: Option<String>,
}

/// What the activity, batch and worker deployment commands take besides
/// their own flags: the server, the namespace and the output format.
#[derive(Args)]
pub struct ClientArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Namespace.
    #[arg(long, short = 'n', global = true, default_value = "default", env = "TEMPORAL_NAMESPACE")]
    pub namespace: String,
    /// Output format: text or json.
    #[arg(long, short = 'o', global = true, default_value = "text")]
    pub output: String,
}

impl ClientArgs {
    pub fn json(&self) -> bool {
        self.output == "json"
    }
}

/// Adds the API key to every call.
#[derive(Clone)]
pub struct ApiKey(Option<MetadataValue<Ascii>>);

impl tonic::service::Interceptor for ApiKey {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request.metadata_mut().insert("authorization", value.clone());
        }
        Ok(request)
    }
}

pub type Client = WorkflowServiceClient<InterceptedService<Channel, ApiKey>>;

impl ConnectArgs {
    fn uses_tls(&self) -> bool {
        self.tls
            || self.tls_ca_path.is_some()
            || self.tls_cert_path.is_some()
            || self.tls_key_path.is_some()
            || self.tls_server_name.is_some()
    }

    fn tls_config(&self) -> anyhow::Result<ClientTlsConfig> {
        let read = |path: &PathBuf| std::fs::read(path).with_context(|| format!("cannot read {}", path.display()));
        let mut config = match &self.tls_ca_path {
            Some(ca) => ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read(ca)?)),
            None => ClientTlsConfig::new().with_native_roots(),
        };
        match (&self.tls_cert_path, &self.tls_key_path) {
            (Some(cert), Some(key)) => config = config.identity(Identity::from_pem(read(cert)?, read(key)?)),
            (None, None) => {}
            _ => anyhow::bail!("--tls-cert-path and --tls-key-path go together"),
        }
        if let Some(name) = &self.tls_server_name {
            config = config.domain_name(name.clone());
        }
        Ok(config)
    }

    pub async fn client(&self) -> anyhow::Result<Client> {
        let (channel, key) = self.connect().await?;
        Ok(WorkflowServiceClient::with_interceptor(channel, key))
    }

    /// A connection to the server, and the key every call carries.
    pub async fn connect(&self) -> anyhow::Result<(Channel, ApiKey)> {
        let tls = self.uses_tls();
        let endpoint = if self.address.contains("://") {
            self.address.clone()
        } else {
            format!("{}://{}", if tls { "https" } else { "http" }, self.address)
        };
        let mut endpoint = Channel::from_shared(endpoint)?;
        if tls {
            endpoint = endpoint.tls_config(self.tls_config()?)?;
        }
        let channel = endpoint.connect().await.with_context(|| format!("cannot connect to {}", self.address))?;
        let key = match &self.api_key {
            Some(key) => Some(format!("Bearer {key}").parse().context("the API key is not valid header text")?),
            None => None,
        };
        Ok((channel, ApiKey(key)))
    }
}
