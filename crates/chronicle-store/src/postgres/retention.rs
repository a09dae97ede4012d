//! Deleting closed runs on PostgreSQL, for DeleteWorkflowExecution and
//! retention: as on SQLite, each deletion is conditional, in the deleting
//! statement, on the run being closed with no post-close work left, and
//! expired runs are found through the close-time index.

use super::connection::{Attempt, Failure};
use super::text::{self, escape};
use super::{tasks, visibility};
use crate::{Missing, RunKey, StoreError};
use chronicle_engine::api::enums::v1::WorkflowExecutionStatus;
use deadpool_postgres::{GenericClient, Transaction};

const RUNNING: i32 = WorkflowExecutionStatus::Running as i32;

/// Expired runs, oldest close first, through `visibility_by_close`.
pub(super) const EXPIRED: &str =
    "SELECT v.workflow_id, v.run_id FROM visibility v JOIN executions e ON e.run_id = v.run_id
     WHERE v.namespace = $1 AND v.close_time IS NOT NULL AND v.close_time < $2 AND e.status <> $3 AND NOT e.active
     ORDER BY v.close_time LIMIT $4";

/// Up to `limit` deletable runs of `namespace` closed before
/// `closed_before` (Unix nanoseconds), oldest close first.
pub(crate) async fn expired(
    client: &impl GenericClient,
    (namespace, closed_before, limit): &(String, i64, usize),
) -> Attempt<Vec<RunKey>> {
    let stmt = client.prepare_cached(EXPIRED).await?;
    let limit = i64::try_from(*limit).unwrap_or(i64::MAX);
    let rows = client.query(&stmt, &[&escape(namespace), closed_before, &RUNNING, &limit]).await?;
    rows.iter().map(|r| Ok((text::column(r, 0)?, text::column(r, 1)?))).collect()
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
async fn delete_run(tx: &Transaction<'_>, namespace: &str, workflow_id: &str, run_id: &str) -> Attempt<Deleted> {
    let (ns, wf, run) = (escape(namespace), escape(workflow_id), escape(run_id));
    let delete = tx
        .prepare_cached(
            "DELETE FROM executions WHERE run_id = $1 AND namespace = $2 AND workflow_id = $3
                 AND status <> $4 AND NOT active",
        )
        .await?;
    if tx.execute(&delete, &[&run, &ns, &wf, &RUNNING]).await? == 0 {
        let exists = tx
            .prepare_cached("SELECT 1 FROM executions WHERE run_id = $1 AND namespace = $2 AND workflow_id = $3")
            .await?;
        let found = tx.query_opt(&exists, &[&run, &ns, &wf]).await?.is_some();
        return Ok(if found { Deleted::Active } else { Deleted::Absent });
    }
    let history = tx.prepare_cached("DELETE FROM history WHERE run_id = $1").await?;
    tx.execute(&history, &[&run]).await?;
    visibility::delete(tx, run_id).await?;
    let current = tx
        .prepare_cached("DELETE FROM current_executions WHERE namespace = $1 AND workflow_id = $2 AND run_id = $3")
        .await?;
    tx.execute(&current, &[&ns, &wf, &run]).await?;
    // Every table keyed by run id is cleared here, in this transaction.
    tasks::delete_run(tx, run_id).await?;
    Ok(Deleted::Yes)
}

/// Deletes one run (DeleteWorkflowExecution): NotFound if absent, Conflict
/// if the server still has work on it.
pub(crate) async fn delete_one(
    tx: &Transaction<'_>,
    (namespace, workflow_id, run_id): &(String, String, String),
) -> Attempt<()> {
    match delete_run(tx, namespace, workflow_id, run_id).await? {
        Deleted::Yes => Ok(()),
        Deleted::Absent => Err(Failure::Store(StoreError::NotFound(Missing::Execution {
            workflow_id: workflow_id.clone(),
            run_id: run_id.clone(),
        }))),
        Deleted::Active => Err(Failure::Store(StoreError::Conflict(format!(
            "workflow execution {workflow_id} (run {run_id}) is still active"
        )))),
    }
}

/// Deletes a batch of runs in one transaction, skipping those absent or
/// still active; returns the runs deleted.
pub(crate) async fn delete_batch(
    tx: &Transaction<'_>,
    (namespace, runs): &(String, Vec<RunKey>),
) -> Attempt<Vec<RunKey>> {
    let mut deleted = Vec::with_capacity(runs.len());
    for (workflow_id, run_id) in runs {
        if delete_run(tx, namespace, workflow_id, run_id).await? == Deleted::Yes {
            deleted.push((workflow_id.clone(), run_id.clone()));
        }
    }
    Ok(deleted)
}
