//! Deleting closed runs, by DeleteWorkflowExecution and by retention, one
//! path for both: the store deletes a run only if it is closed with no
//! post-close work left (checked in the deleting statement), and the cache
//! then forgets it, so no later read or task finds it.

use super::*;

/// One retention batch: how many expired runs were found, how many deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Expired {
    pub found: usize,
    pub deleted: usize,
}

impl History {
    /// Deletes a closed run with no post-close work left.
    pub async fn delete(&self, namespace: &str, workflow_id: &str, run_id: &str) -> Result<(), HistoryError> {
        if let Some(entry) = self.cached(run_id)
            && entry.state.lock().await.as_ref().is_some_and(MutableState::needs_recovery)
        {
            return Err(EngineError::FailedPrecondition("the run still has work in progress".into()).into());
        }
        self.store.delete_execution(namespace, workflow_id, run_id).await.map_err(store_not_found)?;
        self.forget_deleted(run_id).await;
        Ok(())
    }

    /// Deletes up to `limit` runs of `namespace` closed before
    /// `closed_before` (Unix nanoseconds), oldest first, in one store
    /// transaction.
    pub async fn delete_expired(
        &self,
        namespace: &str,
        closed_before: i64,
        limit: usize,
    ) -> Result<Expired, HistoryError> {
        let runs = self.store.expired_executions(namespace, closed_before, limit).await?;
        let found = runs.len();
        if found == 0 {
            return Ok(Expired::default());
        }
        let deleted = self.store.delete_executions(namespace, runs).await?;
        for (_, run_id) in &deleted {
            self.forget_deleted(run_id).await;
        }
        Ok(Expired { found, deleted: deleted.len() })
    }

    /// Drops every trace of a deleted run from memory. A closed run is not
    /// normally cached, but a stale copy read before it closed may have
    /// been: emptied, it makes a waiting writer look again and find nothing.
    async fn forget_deleted(&self, run_id: &str) {
        let entry = crate::sync::lock(&self.runs).remove(run_id);
        self.timers.forget_run(run_id);
        if let Some(entry) = entry {
            *entry.state.lock().await = None;
        }
    }
}
