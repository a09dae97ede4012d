//! Runs on SQLite: the conditional write of one execution (state, events,
//! tasks, visibility, current-run pointer) inside the writer's group
//! transaction, and the reads of states and histories.

use super::{decode, error, tasks, visibility_table};
use crate::{ExecutionWrite, Result, StoreError};
use chronicle_engine::{MutableState, api::history::v1::HistoryEvent};
use prost::Message;
use rusqlite::{Connection, OptionalExtension, params};

/// Writes one execution; Conflict (and the caller's savepoint undoes
/// everything) if its version or current-run expectation is stale.
pub(crate) fn write(tx: &rusqlite::Transaction<'_>, w: &ExecutionWrite) -> Result<()> {
    let s = &w.state;
    debug_assert!(
        crate::records::contiguous_ending_at(&w.events, s.next_event_id - 1),
        "run {}: events written must be contiguous and end at next_event_id - 1",
        s.run_id
    );
    if w.expected_version == 0 {
        let inserted = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO executions (run_id, namespace, workflow_id, status, version, state, active)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut insert| {
                insert.execute(params![
                    s.run_id,
                    s.namespace,
                    s.workflow_id,
                    s.status,
                    s.db_version,
                    s.encode_to_vec(),
                    s.needs_recovery()
                ])
            })
            .map_err(error)?;
        if inserted == 0 {
            return Err(StoreError::Conflict(format!("run {} already exists", s.run_id)));
        }
    } else {
        let updated = tx
            .prepare_cached(
                "UPDATE executions SET status = ?1, version = ?2, state = ?3, active = ?4
                 WHERE run_id = ?5 AND version = ?6",
            )
            .and_then(|mut update| {
                update.execute(params![
                    s.status,
                    s.db_version,
                    s.encode_to_vec(),
                    s.needs_recovery(),
                    s.run_id,
                    w.expected_version
                ])
            })
            .map_err(error)?;
        if updated == 0 {
            return Err(StoreError::Conflict(format!("run {} changed concurrently", s.run_id)));
        }
    }
    if w.expected_version == 0 || w.update_visibility {
        visibility_table::upsert(tx, s).map_err(error)?;
    }
    tasks::replace(tx, s, w.expected_version == 0).map_err(error)?;
    if let Some(expected_current) = &w.set_current {
        let current: Option<String> = tx
            .prepare_cached("SELECT run_id FROM current_executions WHERE namespace = ?1 AND workflow_id = ?2")
            .and_then(|mut select| select.query_row(params![s.namespace, s.workflow_id], |r| r.get(0)).optional())
            .map_err(error)?;
        if &current != expected_current {
            return Err(StoreError::Conflict(format!("current run of {} moved", s.workflow_id)));
        }
        tx.prepare_cached(
            "INSERT INTO current_executions (namespace, workflow_id, run_id) VALUES (?1, ?2, ?3)
             ON CONFLICT (namespace, workflow_id) DO UPDATE SET run_id = excluded.run_id",
        )
        .and_then(|mut upsert| upsert.execute(params![s.namespace, s.workflow_id, s.run_id]))
        .map_err(error)?;
    }
    let mut insert =
        tx.prepare_cached("INSERT INTO history (run_id, event_id, event) VALUES (?1, ?2, ?3)").map_err(error)?;
    for event in &w.events {
        insert
            .execute(params![s.run_id, event.event_id, event.encode_to_vec()])
            .map_err(|e| StoreError::Conflict(format!("event {} of run {}: {e}", event.event_id, s.run_id)))?;
    }
    Ok(())
}

pub(crate) fn current_run(conn: &Connection, namespace: &str, workflow_id: &str) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT run_id FROM current_executions WHERE namespace = ?1 AND workflow_id = ?2")?
        .query_row(params![namespace, workflow_id], |r| r.get(0))
        .optional()
}

pub(crate) fn load(
    conn: &Connection,
    namespace: &str,
    workflow_id: &str,
    run_id: &str,
) -> rusqlite::Result<Option<MutableState>> {
    let bytes: Option<Vec<u8>> = conn
        .prepare_cached("SELECT state FROM executions WHERE run_id = ?1 AND namespace = ?2 AND workflow_id = ?3")?
        .query_row(params![run_id, namespace, workflow_id], |r| r.get(0))
        .optional()?;
    bytes.map(decode).transpose()
}

pub(crate) fn load_current(
    conn: &Connection,
    namespace: &str,
    workflow_id: &str,
) -> rusqlite::Result<Option<MutableState>> {
    let bytes: Option<Vec<u8>> = conn
        .prepare_cached(
            "SELECT e.state FROM current_executions c JOIN executions e ON e.run_id = c.run_id
             WHERE c.namespace = ?1 AND c.workflow_id = ?2",
        )?
        .query_row(params![namespace, workflow_id], |r| r.get(0))
        .optional()?;
    bytes.map(decode).transpose()
}

pub(crate) fn read_history(
    conn: &Connection,
    run_id: &str,
    from_event_id: i64,
    max: usize,
) -> rusqlite::Result<Vec<HistoryEvent>> {
    let mut stmt = conn
        .prepare_cached("SELECT event FROM history WHERE run_id = ?1 AND event_id >= ?2 ORDER BY event_id LIMIT ?3")?;
    let max = i64::try_from(max).unwrap_or(i64::MAX);
    let rows = stmt.query_map(params![run_id, from_event_id, max], |r| r.get::<_, Vec<u8>>(0))?;
    let events: Vec<HistoryEvent> = rows.map(|b| b.and_then(decode)).collect::<rusqlite::Result<_>>()?;
    debug_assert!(
        events.first().is_none_or(|e| e.event_id == from_event_id.max(1))
            && events.windows(2).all(|w| w[1].event_id == w[0].event_id + 1),
        "history of {run_id} read from {from_event_id} has a gap"
    );
    Ok(events)
}
