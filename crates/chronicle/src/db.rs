//! Opening the store a database URL names, and `chronicle db migrate` /
//! `chronicle db status`.

use crate::config::{self, FileConfig};
use anyhow::Context;
use chronicle_store::{Store, StoreUrl};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;

/// The URL of a store kept in memory (`start-dev --in-memory`).
pub const MEMORY_URL: &str = "sqlite::memory:";

/// PostgreSQL connections per server when nothing says otherwise.
pub const DEFAULT_POOL_SIZE: usize = 16;

/// A cluster node's connections for heartbeats and lease renewals, apart
/// from the pool (a round uses one at a time; one more for a slow one).
pub const MEMBERSHIP_POOL_SIZE: usize = 2;

/// An open store and how to tell the user where its data is.
pub struct Opened {
    pub store: Arc<dyn Store>,
    /// Membership and leases, on a database several nodes can share.
    pub cluster: Option<Arc<dyn chronicle_store::ClusterStore>>,
    pub description: String,
}

/// Opens (creating or migrating the schema) the store `url` names.
/// `pool_size`: PostgreSQL connections; `sqlite_readers`: SQLite's.
pub async fn open(url: &str, pool_size: usize, sqlite_readers: usize) -> anyhow::Result<Opened> {
    let url = chronicle_store::parse_url(url)?;
    let (connections, description) = match &url {
        StoreUrl::Postgres(_) => (pool_size, format!("PostgreSQL at {url}")),
        StoreUrl::Sqlite(path) => {
            (sqlite_readers, std::path::absolute(path).unwrap_or_else(|_| path.clone()).display().to_string())
        }
        StoreUrl::SqliteMemory => (0, "memory (lost on exit)".to_string()),
    };
    let (store, cluster) = chronicle_store::open_shared(&url, connections)
        .await
        .with_context(|| format!("cannot open the database {url}"))?;
    Ok(Opened { store, cluster, description })
}

/// Heartbeats and lease renewals' own connections (`MEMBERSHIP_POOL_SIZE`)
/// to the PostgreSQL database `open` opened already.
pub fn membership_connections(url: &str) -> anyhow::Result<Arc<dyn chronicle_store::ClusterStore>> {
    match chronicle_store::parse_url(url)? {
        StoreUrl::Postgres(url) => Ok(chronicle_store::PostgresStore::attach(chronicle_store::PostgresOptions {
            url,
            pool_size: MEMBERSHIP_POOL_SIZE,
        })?),
        _ => {
            anyhow::bail!("--cluster-port needs a PostgreSQL database (--database-url postgres://...): nodes share it")
        }
    }
}

#[derive(Subcommand)]
pub enum DbCommand {
    /// Create the schema or apply the migrations it lacks.
    Migrate(Target),
    /// Show the schema version and the migrations not applied yet.
    Status(Target),
}

#[derive(Args)]
pub struct Target {
    /// postgres://USER@HOST:PORT/DB or sqlite:///path/file.db.
    #[arg(long, env = "CHRONICLE_DATABASE_URL")]
    database_url: Option<String>,
    /// SQLite file (instead of --database-url).
    #[arg(long, short = 'f')]
    db_filename: Option<PathBuf>,
    /// TOML configuration file holding persistence.database_url.
    #[arg(long, env = "CHRONICLE_CONFIG")]
    config: Option<PathBuf>,
}

impl Target {
    fn url(&self) -> anyhow::Result<StoreUrl> {
        let file = match &self.config {
            Some(path) => FileConfig::read(path)?,
            None => FileConfig::default(),
        };
        let url = config::database_url(self.database_url.as_deref(), self.db_filename.as_deref(), &file)?;
        Ok(chronicle_store::parse_url(&url)?)
    }
}

pub fn run(command: DbCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let outcome: anyhow::Result<()> = runtime.block_on(async {
        match command {
            DbCommand::Migrate(target) => {
                let url = target.url()?;
                let report = chronicle_store::migrate(&url).await.with_context(|| format!("migrating {url} failed"))?;
                if report.applied.is_empty() {
                    println!("Schema is up to date (version {}).", report.current);
                } else {
                    for migration in &report.applied {
                        println!("Applied {}", migration.name);
                    }
                    println!("Schema is at version {}.", report.current);
                }
                Ok(())
            }
            DbCommand::Status(target) => {
                let url = target.url()?;
                let status = chronicle_store::schema_status(&url).await.with_context(|| format!("reading {url}"))?;
                println!("Database: {url}");
                println!("Schema version: {} (this Chronicle knows up to {})", status.current, status.latest);
                if status.current > status.latest {
                    println!("The schema is newer than this Chronicle: upgrade Chronicle.");
                } else if status.pending.is_empty() {
                    println!("Up to date.");
                } else {
                    println!("Pending migrations (apply with `chronicle db migrate`):");
                    for migration in &status.pending {
                        println!("  {}", migration.name);
                    }
                }
                Ok(())
            }
        }
    });
    if let Err(e) = outcome {
        eprintln!("Error: {e:#}");
        std::process::exit(1);
    }
    Ok(())
}
