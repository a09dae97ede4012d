//! Schema versions, for both backends: what a database is at, what this
//! build would apply, and opening a store by URL (which applies them).
//! `chronicle db status` and `chronicle db migrate` are these functions.

use crate::{PostgresOptions, PostgresStore, Result, SqliteOptions, SqliteStore, Store, StoreUrl, postgres, sqlite};
use std::sync::Arc;

/// One schema version a backend knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaMigration {
    pub version: u32,
    /// e.g. `0001_init`.
    pub name: &'static str,
}

/// Where a database's schema stands, without changing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatus {
    /// 0: nothing applied yet (an empty database).
    pub current: u32,
    /// The newest version this build knows.
    pub latest: u32,
    /// What `migrate` would apply, oldest first. Empty when `current` is
    /// newer than `latest` too: then this build refuses the database.
    pub pending: Vec<SchemaMigration>,
}

/// What a `migrate` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// Applied by this call, oldest first (empty: it was up to date).
    pub applied: Vec<SchemaMigration>,
    /// The version the database is at now.
    pub current: u32,
}

/// The migrations of `known` after `current`.
pub(crate) fn pending_after(known: &[SchemaMigration], current: u32) -> Vec<SchemaMigration> {
    known.iter().filter(|m| m.version > current).copied().collect()
}

/// Applies pending migrations (PostgreSQL: each in its own transaction,
/// under a lock, so concurrent callers apply each once).
pub async fn migrate(url: &StoreUrl) -> Result<MigrationReport> {
    match url {
        StoreUrl::Postgres(url) => postgres::migrate(url).await,
        StoreUrl::Sqlite(path) => sqlite::migrate(path),
        StoreUrl::SqliteMemory => sqlite::migrate_memory(),
    }
}

/// The schema's status, changing nothing (an absent SQLite file is not
/// created).
pub async fn schema_status(url: &StoreUrl) -> Result<SchemaStatus> {
    match url {
        StoreUrl::Postgres(url) => postgres::schema_status(url).await,
        StoreUrl::Sqlite(path) => sqlite::schema_status(path),
        StoreUrl::SqliteMemory => Ok(sqlite::memory_schema_status()),
    }
}

/// Opens the store at `url`, applying pending migrations. `connections`:
/// SQLite reader connections, or the PostgreSQL pool's size.
pub async fn open(url: &StoreUrl, connections: usize) -> Result<Arc<dyn Store>> {
    Ok(open_shared(url, connections).await?.0)
}

/// `open`, with the membership and leases of the database when several
/// nodes can share it (PostgreSQL).
pub async fn open_shared(
    url: &StoreUrl,
    connections: usize,
) -> Result<(Arc<dyn Store>, Option<Arc<dyn crate::ClusterStore>>)> {
    Ok(match url {
        StoreUrl::Postgres(url) => {
            let store = PostgresStore::connect(PostgresOptions { url: url.clone(), pool_size: connections }).await?;
            (store.clone(), Some(store))
        }
        StoreUrl::Sqlite(path) => {
            (SqliteStore::open(SqliteOptions { path: Some(path.clone()), readers: connections })?, None)
        }
        StoreUrl::SqliteMemory => (SqliteStore::open(SqliteOptions { path: None, readers: 0 })?, None),
    })
}
