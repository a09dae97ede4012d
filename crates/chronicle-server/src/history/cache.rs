//! The run cache: every active run (open, or closed with post-close work)
//! is held here behind its own lock, filled by recovery, on start and on
//! demand; and the reads that find a run's state.

use super::*;

impl History {
    /// Loads every open run and hands out its pending tasks and timers.
    pub async fn recover(&self) -> Result<usize, StoreError> {
        let open = self.store.open_executions().await?;
        let count = open.len();
        // Every run is cached before any task is handed out: a task for one
        // run (a close policy, a signal) must find its target open.
        for state in &open {
            self.ensure_entry(&state.run_id, state.clone());
        }
        for state in open {
            let tasks = state.pending_tasks();
            self.dispatch(&state, tasks);
        }
        Ok(count)
    }

    /// Caches a run unless it already is (a newer copy may have been loaded
    /// in the meantime: see `execute`); returns the cached entry.
    pub(super) fn ensure_entry(&self, run_id: &str, state: MutableState) -> Arc<RunEntry> {
        self.ensure_entry_inserted(run_id, state).0
    }

    /// `ensure_entry`, also saying whether this call inserted it.
    pub(super) fn ensure_entry_inserted(&self, run_id: &str, state: MutableState) -> (Arc<RunEntry>, bool) {
        let mut runs = crate::sync::lock(&self.runs);
        let mut inserted = false;
        let entry = runs
            .entry(run_id.to_string())
            .or_insert_with(|| {
                inserted = true;
                let (changed, _) = watch::channel(state.db_version);
                Arc::new(RunEntry { state: tokio::sync::Mutex::new(Some(state)), changed })
            })
            .clone();
        (entry, inserted)
    }

    /// The cached entry of a run, loading it if the store says the server
    /// still has work on it: a run committed a moment ago (a continued run,
    /// a new start) may not be cached yet when another task reaches it.
    pub(super) async fn active_entry(
        &self,
        namespace: &str,
        workflow_id: &str,
        run_id: &str,
    ) -> Result<Arc<RunEntry>, HistoryError> {
        if let Some(entry) = self.cached(run_id) {
            return Ok(entry);
        }
        match self.store.load_execution(namespace, workflow_id, run_id).await? {
            Some(state) if state.needs_recovery() => Ok(self.cache_active(state)),
            Some(_) => Err(EngineError::WorkflowClosed.into()),
            None => Err(not_found(workflow_id, run_id)),
        }
    }

    /// Caches an active run read from the store; if this call cached it, its
    /// pending work is handed out as recovery does (again, maybe: a task that
    /// no longer applies is refused by the engine).
    pub(super) fn cache_active(&self, state: MutableState) -> Arc<RunEntry> {
        let (entry, inserted) = self.ensure_entry_inserted(&state.run_id, state.clone());
        if inserted {
            self.dispatch(&state, state.pending_tasks());
        }
        entry
    }

    pub(super) fn cached(&self, run_id: &str) -> Option<Arc<RunEntry>> {
        crate::sync::lock(&self.runs).get(run_id).cloned()
    }

    /// The state of a run (empty `run_id`: the current run): cached if
    /// open, otherwise from the store.
    pub async fn load(&self, namespace: &str, workflow_id: &str, run_id: &str) -> Result<MutableState, HistoryError> {
        if run_id.is_empty() {
            return self
                .current_state(namespace, workflow_id)
                .await?
                .ok_or_else(|| HistoryError::NotFound(format!("workflow not found for ID: {workflow_id}")));
        }
        if let Some(entry) = self.cached(run_id)
            && let Some(state) = entry.state.lock().await.clone()
            && state.namespace == namespace
            && state.workflow_id == workflow_id
        {
            return Ok(state);
        }
        let state = self
            .store
            .load_execution(namespace, workflow_id, run_id)
            .await?
            .ok_or_else(|| not_found(workflow_id, run_id))?;
        self.freshest(state).await
    }

    /// The current run's state, from one store read (the cached copy when
    /// the run is cached).
    pub(super) async fn current_state(
        &self,
        namespace: &str,
        workflow_id: &str,
    ) -> Result<Option<MutableState>, HistoryError> {
        let Some(stored) = self.store.load_current_execution(namespace, workflow_id).await? else {
            return Ok(None);
        };
        if let Some(entry) = self.cached(&stored.run_id)
            && let Some(state) = entry.state.lock().await.clone()
        {
            return Ok(Some(state));
        }
        if !stored.needs_recovery() {
            return Ok(Some(stored)); // closed, nothing left to do: final
        }
        // Active in our read but not cached now: the read may predate a
        // commit that closed the run and took it out of the cache. Read it
        // again after the cache miss (as `load` does), never cache the
        // older copy.
        let Some(again) = self.store.load_execution(namespace, workflow_id, &stored.run_id).await? else {
            return Ok(None);
        };
        self.freshest(again).await.map(Some)
    }

    /// A state just read from the store. An active run committed a moment
    /// ago and not cached yet is cached now, and the answer is the freshest
    /// copy (it may have moved on, or closed, meanwhile).
    async fn freshest(&self, state: MutableState) -> Result<MutableState, HistoryError> {
        if !state.needs_recovery() {
            return Ok(state);
        }
        let (namespace, workflow_id, run_id) =
            (state.namespace.clone(), state.workflow_id.clone(), state.run_id.clone());
        let entry = self.cache_active(state);
        if let Some(cached) = entry.state.lock().await.clone() {
            return Ok(cached);
        }
        self.store
            .load_execution(&namespace, &workflow_id, &run_id)
            .await?
            .ok_or_else(|| not_found(&workflow_id, &run_id))
    }

    pub async fn current_run_id(&self, namespace: &str, workflow_id: &str) -> Result<String, HistoryError> {
        self.store
            .current_run(namespace, workflow_id)
            .await?
            .ok_or_else(|| HistoryError::NotFound(format!("workflow not found for ID: {workflow_id}")))
    }
}
