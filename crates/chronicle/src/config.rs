//! `chronicle server start`'s configuration. Three layers, each overriding
//! the one before: the TOML file (`--config`), environment variables
//! (`CHRONICLE_*`), flags. Every key is documented in `docs/config.md`.

use anyhow::{Context, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use chronicle_server::NamespaceSpec;

/// The file, as written. Every section and key is optional; unknown keys
/// are refused so a typo does not silently fall back to a default.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub server: ServerSection,
    #[serde(default)]
    pub persistence: PersistenceSection,
    #[serde(default)]
    pub log: LogSection,
    #[serde(default)]
    pub tls: TlsSection,
    #[serde(default)]
    pub auth: AuthSection,
    #[serde(default)]
    pub traces: TracesSection,
    #[serde(default)]
    pub cluster: ClusterSection,
    /// Namespaces created at start if absent, with their retention.
    #[serde(default, rename = "namespace")]
    pub namespaces: Vec<NamespaceSection>,
    /// Custom search attributes registered in every namespace at start:
    /// name = type (Text, Keyword, Int, Double, Bool, Datetime, KeywordList).
    #[serde(default)]
    pub search_attributes: BTreeMap<String, String>,
    /// Temporal dynamic-config keys and values, as `--dynamic-config-value`.
    #[serde(default)]
    pub dynamic_config: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    pub ip: Option<String>,
    pub port: Option<u16>,
    /// Port serving Prometheus metrics at /metrics.
    pub metrics_port: Option<u16>,
    /// Port serving the web UI.
    pub ui_port: Option<u16>,
    /// The web UI's base path behind a proxy (`/temporal`).
    pub ui_public_path: Option<String>,
    /// Largest request accepted, in bytes.
    pub max_request_bytes: Option<usize>,
}

#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PersistenceSection {
    /// `postgres://user@host:port/db` or `sqlite:///path/file.db`.
    pub database_url: Option<String>,
    /// PostgreSQL connections in the pool.
    pub pool_size: Option<usize>,
    /// SQLite reader connections.
    pub sqlite_readers: Option<usize>,
}

/// TLS on the gRPC port, as `--tls-cert`, `--tls-key`, `--tls-client-ca`.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub client_ca: Option<PathBuf>,
}

/// API keys, as `--auth-keys`.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    pub keys_file: Option<PathBuf>,
}

/// Being a node of a cluster, as `--cluster-port` and `--node-id`.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClusterSection {
    /// Port for node-to-node traffic, on the server's address.
    pub port: Option<u16>,
    /// This node's name in the cluster [default: its cluster address].
    pub node_id: Option<String>,
    /// Mutual TLS between nodes, as `--cluster-tls-cert`, `--cluster-tls-key`
    /// and `--cluster-tls-ca`.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub tls_ca: Option<PathBuf>,
}

/// OpenTelemetry traces, as `--otlp-endpoint`.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TracesSection {
    pub otlp_endpoint: Option<String>,
}

#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    pub level: Option<String>,
    pub format: Option<LogFormat>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (`pretty`, as the `temporal` CLI calls it).
    #[default]
    #[serde(alias = "pretty")]
    #[value(alias = "pretty")]
    Text,
    Json,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NamespaceSection {
    pub name: String,
    /// How long closed workflows are kept, e.g. "72h", "30d".
    pub retention: Option<String>,
    pub description: Option<String>,
}

impl FileConfig {
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read the config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
    }

    /// The dynamic-config entries as `KEY=JSON`, the form the flag takes.
    pub fn dynamic_config_flags(&self) -> anyhow::Result<Vec<String>> {
        self.dynamic_config
            .iter()
            .map(|(key, value)| {
                let json = serde_json::to_string(value)
                    .with_context(|| format!("dynamic_config.{key}: cannot be read as a value"))?;
                Ok(format!("{key}={json}"))
            })
            .collect()
    }

    /// The search attributes as `KEY=TYPE`, the form the flag takes.
    pub fn search_attribute_flags(&self) -> Vec<String> {
        self.search_attributes.iter().map(|(name, ty)| format!("{name}={ty}")).collect()
    }
}

impl NamespaceSection {
    pub fn spec(&self) -> anyhow::Result<NamespaceSpec> {
        let retention = match &self.retention {
            Some(text) => Some(
                parse_duration(text).with_context(|| format!("namespace {}: invalid retention {text:?}", self.name))?,
            ),
            None => None,
        };
        if let Some(d) = retention
            && d.as_secs() < chronicle_server::MIN_RETENTION_SECS as u64
        {
            bail!(
                "namespace {}: retention {:?} is shorter than the minimum of {}h",
                self.name,
                self.retention.as_deref().unwrap_or_default(),
                chronicle_server::MIN_RETENTION_SECS / 3600
            );
        }
        Ok(NamespaceSpec { name: self.name.clone(), retention, description: self.description.clone() })
    }
}

/// A duration as Temporal's config and CLI write them: a number and a unit
/// (`ms`, `s`, `m`, `h`, `d`), possibly several (`1h30m`).
pub fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    if text.is_empty() {
        bail!("empty duration");
    }
    let mut total_ms = 0u64;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            bail!("expected a number followed by ms, s, m, h or d");
        }
        let n: u64 = rest[..digits].parse().context("number too large")?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let ms = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => bail!("missing unit after {n}: use ms, s, m, h or d"),
            other => bail!("unknown unit {other:?}: use ms, s, m, h or d"),
        };
        total_ms = n.checked_mul(ms).and_then(|v| total_ms.checked_add(v)).context("duration too large")?;
        rest = &rest[unit_len..];
    }
    Ok(Duration::from_millis(total_ms))
}

/// Where the data lives, resolved from `--database-url`, `--db-filename`
/// or the file.
pub fn database_url(flag_url: Option<&str>, flag_file: Option<&Path>, file: &FileConfig) -> anyhow::Result<String> {
    // An empty CHRONICLE_DATABASE_URL counts as unset.
    match (flag_url.filter(|u| !u.is_empty()), flag_file) {
        (Some(_), Some(_)) => bail!("give either --database-url or --db-filename, not both"),
        (Some(url), None) => Ok(url.to_string()),
        (None, Some(path)) => Ok(sqlite_url(path)),
        (None, None) => file.persistence.database_url.clone().context(
            "no database configured: give --database-url (or CHRONICLE_DATABASE_URL), --db-filename, \
             or persistence.database_url in the --config file",
        ),
    }
}

/// `sqlite:///abs/path` for a file path (relative paths made absolute, so
/// the URL means the same file wherever it is printed).
pub fn sqlite_url(path: &Path) -> String {
    let path: PathBuf = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    format!("sqlite://{}", path.display())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // in tests, a failed unwrap is a failed test

    use super::*;

    #[test]
    fn reads_every_section() {
        let file: FileConfig = toml::from_str(
            r#"
            [server]
            ip = "0.0.0.0"
            port = 7300

            [persistence]
            database_url = "postgres://postgres@127.0.0.1:5432/chronicle"
            pool_size = 20

            [log]
            level = "debug"
            format = "json"

            [[namespace]]
            name = "orders"
            retention = "30d"

            [search_attributes]
            CustomerId = "Keyword"

            [dynamic_config]
            "limit.historyCount.error" = 60000
            "frontend.enableUpdateWorkflowExecution" = true
            "#,
        )
        .unwrap();
        assert_eq!(file.server.port, Some(7300));
        assert_eq!(file.persistence.pool_size, Some(20));
        assert_eq!(file.log.format, Some(LogFormat::Json));
        assert_eq!(file.namespaces[0].spec().unwrap().retention, Some(Duration::from_secs(30 * 86_400)));
        assert_eq!(file.search_attribute_flags(), vec!["CustomerId=Keyword"]);
        assert_eq!(
            file.dynamic_config_flags().unwrap(),
            vec!["frontend.enableUpdateWorkflowExecution=true", "limit.historyCount.error=60000"]
        );
    }

    #[test]
    fn refuses_unknown_keys() {
        let err = toml::from_str::<FileConfig>("[persistence]\ndatabase_uri = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("database_uri"), "{err}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("72h").unwrap(), Duration::from_secs(72 * 3600));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1s500ms").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("72").is_err());
        assert!(parse_duration("3w").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("h").is_err());
    }

    #[test]
    fn database_from_flags_or_file() {
        let mut file = FileConfig::default();
        assert!(database_url(None, None, &file).unwrap_err().to_string().contains("no database configured"));
        file.persistence.database_url = Some("postgres://a@b/c".into());
        assert_eq!(database_url(None, None, &file).unwrap(), "postgres://a@b/c");
        assert_eq!(database_url(Some("postgres://x@y/z"), None, &file).unwrap(), "postgres://x@y/z");
        assert_eq!(database_url(None, Some(Path::new("/tmp/c.db")), &file).unwrap(), "sqlite:///tmp/c.db");
        assert!(database_url(Some("a"), Some(Path::new("b")), &file).is_err());
    }
}
