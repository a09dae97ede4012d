//! Versioned migrations (`migrations/NNNN_name.sql`), recorded in
//! `schema_version`. Each is applied in its own transaction holding a
//! transaction-scoped advisory lock: nodes starting together take turns
//! (the second finds the version recorded and skips it), and a migration
//! interrupted half way leaves nothing (PostgreSQL's DDL is
//! transactional). A database at a version newer than this build knows is
//! refused: an older binary must not write a schema it does not know.

use super::connection::{self, error};
use crate::schema::{MigrationReport, SchemaMigration, SchemaStatus, pending_after};
use crate::{Result, StoreError};

/// Every migration, oldest first, with its SQL.
const MIGRATIONS: &[(SchemaMigration, &str)] = &[
    (SchemaMigration { version: 1, name: "0001_init" }, include_str!("migrations/0001_init.sql")),
    (SchemaMigration { version: 2, name: "0002_cluster" }, include_str!("migrations/0002_cluster.sql")),
    (
        SchemaMigration { version: 3, name: "0003_visibility_by_parent" },
        include_str!("migrations/0003_visibility_by_parent.sql"),
    ),
    (
        SchemaMigration { version: 4, name: "0004_batch_operations" },
        include_str!("migrations/0004_batch_operations.sql"),
    ),
    (
        SchemaMigration { version: 5, name: "0005_worker_deployments" },
        include_str!("migrations/0005_worker_deployments.sql"),
    ),
];

/// The advisory lock migrations hold ("chronicl" in ASCII): one key per
/// database, shared by every Chronicle pointed at it.
const LOCK: i64 = 0x6368_726f_6e69_636c;

const VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    -- Unix nanoseconds.
    applied_at BIGINT NOT NULL
)";

fn known() -> Vec<SchemaMigration> {
    MIGRATIONS.iter().map(|(m, _)| *m).collect()
}

pub(crate) fn latest() -> u32 {
    MIGRATIONS.last().map_or(0, |(m, _)| m.version)
}

/// The version recorded (0 if none: an empty database).
async fn current(client: &impl tokio_postgres::GenericClient) -> Result<u32> {
    let exists: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM information_schema.tables
                 WHERE table_schema = current_schema() AND table_name = 'schema_version')",
            &[],
        )
        .await
        .and_then(|row| row.try_get(0))
        .map_err(error)?;
    if !exists {
        return Ok(0);
    }
    let version: i32 = client
        .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[])
        .await
        .and_then(|row| row.try_get(0))
        .map_err(error)?;
    Ok(u32::try_from(version).unwrap_or(0))
}

fn too_new(found: u32) -> Result<()> {
    if found > latest() {
        return Err(StoreError::SchemaTooNew { found, supported: latest() });
    }
    Ok(())
}

/// Applies what is pending; returns what this call applied.
pub(crate) async fn apply(client: &mut tokio_postgres::Client) -> Result<Vec<SchemaMigration>> {
    let before = current(client).await?;
    too_new(before)?;
    let mut applied = Vec::new();
    for (migration, sql) in MIGRATIONS.iter().filter(|(m, _)| m.version > before) {
        let tx = client.transaction().await.map_err(error)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK]).await.map_err(error)?;
        tx.batch_execute(VERSION_TABLE).await.map_err(error)?;
        // Read again under the lock: another node may have been first.
        let now = current(&tx).await?;
        too_new(now)?;
        if now >= migration.version {
            tx.commit().await.map_err(error)?;
            continue;
        }
        tx.batch_execute(sql).await.map_err(|e| {
            StoreError::Internal(format!("migration {} failed, nothing of it applied: {}", migration.name, error(e)))
        })?;
        let version = i32::try_from(migration.version).unwrap_or(i32::MAX);
        let at = i64::try_from(std::time::SystemTime::UNIX_EPOCH.elapsed().unwrap_or_default().as_nanos())
            .unwrap_or(i64::MAX);
        tx.execute(
            "INSERT INTO schema_version (version, name, applied_at) VALUES ($1, $2, $3)",
            &[&version, &migration.name, &at],
        )
        .await
        .map_err(error)?;
        tx.commit().await.map_err(error)?;
        tracing::info!(migration = migration.name, "applied a PostgreSQL schema migration");
        applied.push(*migration);
    }
    Ok(applied)
}

/// `chronicle db migrate`: applies pending migrations.
pub async fn migrate(url: &str) -> Result<MigrationReport> {
    let mut client = connection::connect(url).await?;
    let applied = apply(&mut client).await?;
    Ok(MigrationReport { applied, current: current(&client).await? })
}

/// `chronicle db status`: where the schema stands, changing nothing.
pub async fn schema_status(url: &str) -> Result<SchemaStatus> {
    let client = connection::connect(url).await?;
    let current = current(&client).await?;
    Ok(SchemaStatus { current, latest: latest(), pending: pending_after(&known(), current) })
}
