//! The `batch_operations` table: one row per batch job (namespace, job
//! id), holding its `BatchRecord`; writes conditional on the stored
//! version, as schedules' are.

use super::error as internal;
use crate::{BatchRecord, Missing, Result, StoreError};
use prost::Message;
use rusqlite::{Connection, OptionalExtension, params};

const TABLE: &str = r#"
CREATE TABLE IF NOT EXISTS batch_operations (
    namespace TEXT NOT NULL,
    job_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    record BLOB NOT NULL,
    PRIMARY KEY (namespace, job_id)
) WITHOUT ROWID;
"#;

pub(crate) fn ensure_table(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(TABLE)
}

/// Inserts (`expected_version` 0) or replaces the row at that version.
pub(crate) fn write(tx: &rusqlite::Transaction<'_>, record: &BatchRecord, expected_version: i64) -> Result<()> {
    let (ns, id) = (&record.namespace, &record.job_id);
    let stored: Option<i64> = tx
        .query_row("SELECT version FROM batch_operations WHERE namespace = ?1 AND job_id = ?2", params![ns, id], |r| {
            r.get(0)
        })
        .optional()
        .map_err(internal)?;
    match (stored, expected_version) {
        (Some(_), 0) => return Err(StoreError::BatchExists { namespace: ns.clone(), job_id: id.clone() }),
        (None, 0) => {}
        (None, _) => {
            let missing = Missing::Batch { namespace: ns.clone(), job_id: id.clone() };
            return Err(StoreError::NotFound(missing));
        }
        (Some(v), expected) if v != expected => {
            return Err(StoreError::Conflict(format!("batch operation {id} changed concurrently")));
        }
        (Some(_), _) => {}
    }
    tx.execute(
        "INSERT INTO batch_operations (namespace, job_id, version, record) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (namespace, job_id) DO UPDATE SET version = excluded.version, record = excluded.record",
        params![ns, id, record.version, record.encode_to_vec()],
    )
    .map_err(internal)?;
    Ok(())
}

fn decode(bytes: Vec<u8>) -> rusqlite::Result<BatchRecord> {
    BatchRecord::decode(bytes.as_slice()).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

pub(crate) fn load(conn: &Connection, namespace: &str, job_id: &str) -> rusqlite::Result<Option<BatchRecord>> {
    conn.query_row(
        "SELECT record FROM batch_operations WHERE namespace = ?1 AND job_id = ?2",
        params![namespace, job_id],
        |r| r.get::<_, Vec<u8>>(0),
    )
    .optional()?
    .map(decode)
    .transpose()
}

/// Every job (of one namespace, if given), by namespace then job id.
pub(crate) fn list(conn: &Connection, namespace: Option<&str>) -> rusqlite::Result<Vec<BatchRecord>> {
    let mut stmt = conn
        .prepare("SELECT record FROM batch_operations WHERE ?1 IS NULL OR namespace = ?1 ORDER BY namespace, job_id")?;
    let rows = stmt.query_map(params![namespace], |r| r.get::<_, Vec<u8>>(0))?;
    rows.map(|b| b.and_then(decode)).collect()
}
