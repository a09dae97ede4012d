//! Deleting closed runs, for DeleteWorkflowExecution and for retention.
//! Expired runs are found through an index on the visibility table's close
//! time, not a scan. Every deletion is conditional, in the same statement,
//! on the run being closed with no post-close work left (`active = 0`), so a
//! run the server still has work on is never deleted, whoever asks.

use super::error as internal;
use crate::{Missing, Result, RunKey, StoreError};
use chronicle_engine::api::enums::v1::WorkflowExecutionStatus;
use rusqlite::{Connection, Transaction, params};

const RUNNING: i32 = WorkflowExecutionStatus::Running as i32;

/// Closed runs by namespace and close time: the retention sweep's index.
pub(crate) fn ensure_index(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE INDEX IF NOT EXISTS visibility_by_close ON visibility(namespace, close_time)
         WHERE close_time IS NOT NULL;",
    )
}

const EXPIRED: &str = "SELECT v.workflow_id, v.run_id FROM visibility v JOIN executions e ON e.run_id = v.run_id
     WHERE v.namespace = ?1 AND v.close_time IS NOT NULL AND v.close_time < ?2
         AND e.status != ?3 AND e.active = 0
     ORDER BY v.close_time LIMIT ?4";

/// Up to `limit` deletable runs of `namespace` closed before `closed_before`
/// (Unix nanoseconds), oldest close first.
pub(crate) fn expired(
    conn: &Connection,
    namespace: &str,
    closed_before: i64,
    limit: usize,
) -> rusqlite::Result<Vec<RunKey>> {
    let limit = limit.min(i64::MAX as usize) as i64;
    conn.prepare_cached(EXPIRED)?
        .query_map(params![namespace, closed_before, RUNNING, limit], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

/// What became of one run asked to be deleted.
#[derive(Debug, PartialEq, Eq)]
enum Deleted {
    Yes,
    Absent,
    /// Still running, or closed with post-close work left.
    Active,
}

/// Removes a run and everything keyed by it, if it is closed with no
/// post-close work left; the workflow id's current-run pointer goes too if
/// it named this run.
fn delete_run(tx: &Transaction<'_>, namespace: &str, workflow_id: &str, run_id: &str) -> rusqlite::Result<Deleted> {
    let deleted = tx
        .prepare_cached(
            "DELETE FROM executions WHERE run_id = ?1 AND namespace = ?2 AND workflow_id = ?3
                 AND status != ?4 AND active = 0",
        )?
        .execute(params![run_id, namespace, workflow_id, RUNNING])?;
    if deleted == 0 {
        let exists = tx
            .prepare_cached("SELECT 1 FROM executions WHERE run_id = ?1 AND namespace = ?2 AND workflow_id = ?3")?
            .exists(params![run_id, namespace, workflow_id])?;
        return Ok(if exists { Deleted::Active } else { Deleted::Absent });
    }
    tx.prepare_cached("DELETE FROM history WHERE run_id = ?1")?.execute(params![run_id])?;
    super::visibility_table::delete(tx, run_id)?;
    tx.prepare_cached("DELETE FROM current_executions WHERE namespace = ?1 AND workflow_id = ?2 AND run_id = ?3")?
        .execute(params![namespace, workflow_id, run_id])?;
    // Every table keyed by run id is cleared here, in this transaction, so
    // deleting a run never leaves rows behind (a closed run with no work
    // left has no task rows; cleared anyway).
    super::tasks::delete_run(tx, run_id)?;
    Ok(Deleted::Yes)
}

/// Deletes one run in a transaction of its own (DeleteWorkflowExecution):
/// NotFound if absent, Conflict if the server still has work on it.
pub(crate) fn delete_one(conn: &mut Connection, namespace: &str, workflow_id: &str, run_id: &str) -> Result<()> {
    let tx = conn.transaction().map_err(internal)?;
    match delete_run(&tx, namespace, workflow_id, run_id).map_err(internal)? {
        Deleted::Yes => tx.commit().map_err(internal),
        Deleted::Absent => Err(StoreError::NotFound(Missing::Execution {
            workflow_id: workflow_id.to_string(),
            run_id: run_id.to_string(),
        })),
        Deleted::Active => {
            Err(StoreError::Conflict(format!("workflow execution {workflow_id} (run {run_id}) is still active")))
        }
    }
}

/// Deletes a batch of runs in one transaction, skipping those absent or
/// still active; returns the runs deleted.
pub(crate) fn delete_batch(conn: &mut Connection, namespace: &str, runs: &[RunKey]) -> Result<Vec<RunKey>> {
    let tx = conn.transaction().map_err(internal)?;
    let mut deleted = Vec::with_capacity(runs.len());
    for (workflow_id, run_id) in runs {
        if delete_run(&tx, namespace, workflow_id, run_id).map_err(internal)? == Deleted::Yes {
            deleted.push((workflow_id.clone(), run_id.clone()));
        }
    }
    tx.commit().map_err(internal)?;
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // in tests, a failed unwrap is a failed test

    use super::*;
    use crate::sqlite::{SqliteOptions, SqliteStore};

    /// The sweep's query walks the close-time index: no scan of the
    /// namespace's runs, however many there are.
    #[test]
    fn expired_runs_are_found_through_the_close_time_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chronicle.db");
        drop(SqliteStore::open(SqliteOptions { path: Some(path.clone()), readers: 0 }).unwrap());
        let conn = Connection::open(&path).unwrap();
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {EXPIRED}"))
            .unwrap()
            .query_map(params!["default", 0, RUNNING, 100], |r| r.get(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let plan = plan.join("\n");
        assert!(plan.contains("USING INDEX visibility_by_close"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "ordered by the index, not sorted: {plan}");
        assert!(plan.contains("USING INDEX sqlite_autoindex_executions_1"), "{plan}");
    }
}
