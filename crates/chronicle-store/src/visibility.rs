//! The visibility table: one row per run holding its `WorkflowExecutionInfo`
//! (what list APIs return), upserted in the transaction of every execution
//! write so listings never lag behind or run ahead of the runs themselves.

use crate::VisibilityCursor;
use chronicle_engine::{MutableState, api::workflow::v1::WorkflowExecutionInfo, time};
use prost::Message;
use rusqlite::{Connection, params};

const TABLE: &str = r#"
CREATE TABLE visibility (
    run_id TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    workflow_type TEXT NOT NULL,
    status INTEGER NOT NULL,
    -- Unix nanoseconds.
    start_time INTEGER NOT NULL,
    close_time INTEGER,
    info BLOB NOT NULL
);
CREATE INDEX visibility_by_start ON visibility(namespace, start_time DESC, run_id DESC);
"#;

/// Unix nanoseconds of a timestamp; the ordering key of listings.
pub(crate) fn nanos(ts: Option<&prost_types::Timestamp>) -> Option<i64> {
    ts.map(|t| time::ts_nanos(t).clamp(i64::MIN as i128, i64::MAX as i128) as i64)
}

/// Creates the table if this database predates it, filling it from the
/// stored executions.
pub(crate) fn ensure_table(conn: &mut Connection) -> rusqlite::Result<()> {
    let exists = conn.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'visibility'")?.exists([])?;
    if exists {
        return Ok(());
    }
    let tx = conn.transaction()?;
    tx.execute_batch(TABLE)?;
    let states: Vec<Vec<u8>> =
        tx.prepare("SELECT state FROM executions")?.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    for bytes in states {
        let state = MutableState::decode(bytes.as_slice())
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Blob, Box::new(e)))?;
        upsert(&tx, &state)?;
    }
    tx.commit()
}

pub(crate) fn upsert(conn: &Connection, s: &MutableState) -> rusqlite::Result<()> {
    let info = s.execution_info();
    let workflow_type = info.r#type.as_ref().map(|t| t.name.as_str()).unwrap_or_default();
    conn.prepare_cached(
        "INSERT INTO visibility (run_id, namespace, workflow_id, workflow_type, status, start_time, close_time, info)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (run_id) DO UPDATE SET workflow_type = excluded.workflow_type, status = excluded.status,
             start_time = excluded.start_time, close_time = excluded.close_time, info = excluded.info",
    )?
    .execute(params![
        s.run_id,
        s.namespace,
        s.workflow_id,
        workflow_type,
        s.status,
        nanos(info.start_time.as_ref()).unwrap_or(0),
        nanos(info.close_time.as_ref()),
        info.encode_to_vec(),
    ])?;
    Ok(())
}

pub(crate) fn delete(conn: &Connection, run_id: &str) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM visibility WHERE run_id = ?1", params![run_id])?;
    Ok(())
}

/// Up to `limit` runs of `namespace` after `after`, newest first.
pub(crate) fn page(
    conn: &Connection,
    namespace: &str,
    after: Option<&VisibilityCursor>,
    limit: usize,
) -> rusqlite::Result<Vec<WorkflowExecutionInfo>> {
    let limit = limit.min(i64::MAX as usize) as i64;
    let decode = |r: &rusqlite::Row<'_>| {
        let bytes: Vec<u8> = r.get(0)?;
        WorkflowExecutionInfo::decode(bytes.as_slice())
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Blob, Box::new(e)))
    };
    match after {
        None => conn
            .prepare_cached(
                "SELECT info FROM visibility WHERE namespace = ?1 ORDER BY start_time DESC, run_id DESC LIMIT ?2",
            )?
            .query_map(params![namespace, limit], decode)?
            .collect(),
        Some(c) => conn
            .prepare_cached(
                "SELECT info FROM visibility
                 WHERE namespace = ?1 AND (start_time < ?2 OR (start_time = ?2 AND run_id < ?3))
                 ORDER BY start_time DESC, run_id DESC LIMIT ?4",
            )?
            .query_map(params![namespace, c.start_time, c.run_id, limit], decode)?
            .collect(),
    }
}
