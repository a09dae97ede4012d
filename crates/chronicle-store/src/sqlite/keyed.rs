//! Tables of one protobuf record per (namespace, id) with a storage
//! version: batch jobs (`batch_operations`) and worker deployments
//! (`worker_deployments`). Writes are conditional on the stored version,
//! as schedules' are.

use super::error as internal;
use crate::keyed::{Keyed, KeyedWrite};
use crate::{Result, StoreError};
use rusqlite::{Connection, OptionalExtension, params};

const TABLES: &str = r#"
CREATE TABLE IF NOT EXISTS batch_operations (
    namespace TEXT NOT NULL,
    job_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    record BLOB NOT NULL,
    PRIMARY KEY (namespace, job_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS worker_deployments (
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    record BLOB NOT NULL,
    PRIMARY KEY (namespace, name)
) WITHOUT ROWID;
"#;

pub(crate) fn ensure_tables(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(TABLES)
}

/// Inserts (`expected_version` 0), replaces the row at that version, or
/// deletes it (no record).
pub(crate) fn write(tx: &rusqlite::Transaction<'_>, w: &KeyedWrite) -> Result<()> {
    let (table, key) = (w.kind.table(), w.kind.key_column());
    let stored: Option<i64> = tx
        .query_row(
            &format!("SELECT version FROM {table} WHERE namespace = ?1 AND {key} = ?2"),
            params![w.namespace, w.id],
            |r| r.get(0),
        )
        .optional()
        .map_err(internal)?;
    match (stored, w.expected_version) {
        (Some(_), 0) => return Err(w.kind.exists(&w.namespace, &w.id)),
        (None, 0) => {}
        (None, _) => return Err(StoreError::NotFound(w.kind.missing(&w.namespace, &w.id))),
        (Some(v), expected) if v != expected => return Err(w.kind.conflict(&w.id)),
        (Some(_), _) => {}
    }
    match &w.record {
        Some((version, bytes)) => tx.execute(
            &format!(
                "INSERT INTO {table} (namespace, {key}, version, record) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (namespace, {key}) DO UPDATE SET version = excluded.version, record = excluded.record"
            ),
            params![w.namespace, w.id, version, bytes],
        ),
        None => {
            tx.execute(&format!("DELETE FROM {table} WHERE namespace = ?1 AND {key} = ?2"), params![w.namespace, w.id])
        }
    }
    .map_err(internal)?;
    Ok(())
}

pub(crate) fn load(conn: &Connection, kind: Keyed, namespace: &str, id: &str) -> rusqlite::Result<Option<Vec<u8>>> {
    let (table, key) = (kind.table(), kind.key_column());
    conn.query_row(
        &format!("SELECT record FROM {table} WHERE namespace = ?1 AND {key} = ?2"),
        params![namespace, id],
        |r| r.get::<_, Vec<u8>>(0),
    )
    .optional()
}

/// Every record (of one namespace, if given), by namespace then id.
pub(crate) fn list(conn: &Connection, kind: Keyed, namespace: Option<&str>) -> rusqlite::Result<Vec<Vec<u8>>> {
    let (table, key) = (kind.table(), kind.key_column());
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT record FROM {table} WHERE ?1 IS NULL OR namespace = ?1 ORDER BY namespace, {key}"
    ))?;
    let rows = stmt.query_map(params![namespace], |r| r.get::<_, Vec<u8>>(0))?;
    rows.collect()
}
