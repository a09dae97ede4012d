//! The `schedules` table: one row per schedule (namespace, id), holding
//! its `ScheduleRecord` (the Schedule proto and the scheduler's state).
//! Writes are conditional on the stored version, as executions' are, so a
//! frontend update and the scheduler's own bookkeeping never overwrite
//! each other silently.

use super::error as internal;
use crate::{Missing, Result, ScheduleRecord, StoreError};
use prost::Message;
use rusqlite::{Connection, OptionalExtension, params};

const TABLE: &str = r#"
CREATE TABLE IF NOT EXISTS schedules (
    namespace TEXT NOT NULL,
    schedule_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    record BLOB NOT NULL,
    PRIMARY KEY (namespace, schedule_id)
) WITHOUT ROWID;
"#;

/// A schedule change, applied in the writer's transaction.
#[derive(Debug)]
pub(crate) enum Change {
    /// Insert (`expected_version` 0) or replace the row at that version.
    Write {
        record: Box<ScheduleRecord>,
        expected_version: i64,
    },
    Delete {
        namespace: String,
        schedule_id: String,
    },
}

pub(crate) fn ensure_table(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(TABLE)
}

pub(crate) fn apply(tx: &rusqlite::Transaction<'_>, change: &Change) -> Result<()> {
    match change {
        Change::Write { record, expected_version } => {
            let (ns, id) = (&record.namespace, &record.schedule_id);
            let stored: Option<i64> = tx
                .query_row(
                    "SELECT version FROM schedules WHERE namespace = ?1 AND schedule_id = ?2",
                    params![ns, id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(internal)?;
            match (stored, *expected_version) {
                (Some(_), 0) => {
                    return Err(StoreError::ScheduleExists { namespace: ns.clone(), schedule_id: id.clone() });
                }
                (None, 0) => {}
                (None, _) => return Err(missing(ns, id)),
                (Some(v), expected) if v != expected => {
                    return Err(StoreError::Conflict(format!("schedule {id} changed concurrently")));
                }
                (Some(_), _) => {}
            }
            tx.execute(
                "INSERT INTO schedules (namespace, schedule_id, version, record) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (namespace, schedule_id) DO UPDATE SET version = excluded.version, record = excluded.record",
                params![ns, id, record.version, record.encode_to_vec()],
            )
            .map_err(internal)?;
        }
        Change::Delete { namespace, schedule_id } => {
            let deleted = tx
                .execute(
                    "DELETE FROM schedules WHERE namespace = ?1 AND schedule_id = ?2",
                    params![namespace, schedule_id],
                )
                .map_err(internal)?;
            if deleted == 0 {
                return Err(missing(namespace, schedule_id));
            }
        }
    }
    Ok(())
}

fn missing(namespace: &str, schedule_id: &str) -> StoreError {
    StoreError::NotFound(Missing::Schedule { namespace: namespace.to_string(), schedule_id: schedule_id.to_string() })
}

fn decode(bytes: Vec<u8>) -> rusqlite::Result<ScheduleRecord> {
    ScheduleRecord::decode(bytes.as_slice()).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

pub(crate) fn load(conn: &Connection, namespace: &str, schedule_id: &str) -> rusqlite::Result<Option<ScheduleRecord>> {
    conn.query_row(
        "SELECT record FROM schedules WHERE namespace = ?1 AND schedule_id = ?2",
        params![namespace, schedule_id],
        |r| r.get::<_, Vec<u8>>(0),
    )
    .optional()?
    .map(decode)
    .transpose()
}

/// Every schedule (of one namespace, if given), by namespace then id.
pub(crate) fn list(conn: &Connection, namespace: Option<&str>) -> rusqlite::Result<Vec<ScheduleRecord>> {
    let mut stmt = conn
        .prepare("SELECT record FROM schedules WHERE ?1 IS NULL OR namespace = ?1 ORDER BY namespace, schedule_id")?;
    let rows = stmt.query_map(params![namespace], |r| r.get::<_, Vec<u8>>(0))?;
    rows.map(|b| b.and_then(decode)).collect()
}
