//! The run cache: active runs (open, or closed with post-close work) are
//! held here behind their own lock, up to the configured count and bytes;
//! idle ones past that are evicted, least recently used first, and read
//! again on the next miss. And the reads that find a run's state.
//!
//! One writer per run: an entry is evicted only when nothing but the cache
//! holds it (no caller waits on its lock, no watcher is subscribed), under
//! the cache's lock, which is also the only way to a run's entry; so a run
//! never has two live entries.

use super::*;
use prost::Message;
use std::sync::atomic::Ordering;

/// The cached runs, least recently used first.
#[derive(Default)]
pub(super) struct RunCache {
    map: hashlink::LinkedHashMap<String, Arc<RunEntry>>,
    /// Sum of the entries' `size`.
    bytes: usize,
}

/// Entries looked at per eviction pass: busy ones go to the back of the
/// line, so a pass stays short even when many runs are busy (the cache
/// then runs over its size until they settle).
const EVICTION_TRIES: usize = 16;

impl RunCache {
    pub(super) fn len(&self) -> usize {
        self.map.len()
    }

    /// Runs whose entries `which` picks.
    pub(super) fn run_ids_where(&self, which: impl Fn(&RunEntry) -> bool) -> Vec<String> {
        self.map.iter().filter(|(_, e)| which(e)).map(|(id, _)| id.clone()).collect()
    }

    pub(super) fn remove(&mut self, run_id: &str) -> Option<Arc<RunEntry>> {
        let entry = self.map.remove(run_id)?;
        self.bytes = self.bytes.saturating_sub(entry.size.load(Ordering::Relaxed));
        Some(entry)
    }

    fn evict(&mut self, limits: &engine::Limits) {
        let mut tries = EVICTION_TRIES;
        while (self.map.len() > limits.run_cache_runs_max || self.bytes > limits.run_cache_bytes_max) && tries > 0 {
            tries -= 1;
            let Some((run_id, entry)) = self.map.front() else { return };
            if Arc::strong_count(entry) == 1 && entry.changed.receiver_count() == 0 {
                self.bytes = self.bytes.saturating_sub(entry.size.load(Ordering::Relaxed));
                self.map.pop_front();
            } else {
                let run_id = run_id.clone();
                self.map.to_back(&run_id);
            }
        }
    }
}

impl History {
    /// Caches a run unless it already is (a newer copy may have been loaded
    /// in the meantime: see `execute`); returns the cached entry.
    pub(super) fn ensure_entry(&self, run_id: &str, state: MutableState) -> Arc<RunEntry> {
        let mut runs = crate::sync::lock(&self.runs);
        if let Some(entry) = runs.map.to_back(run_id) {
            return entry.clone();
        }
        let size = state.encoded_len();
        let (changed, _) = watch::channel(state.db_version);
        let shard = chronicle_store::shard_of(&state.namespace, &state.workflow_id);
        let entry = Arc::new(RunEntry {
            state: tokio::sync::Mutex::new(Some(state)),
            waiting: Default::default(),
            tail: Default::default(),
            changed,
            size: std::sync::atomic::AtomicUsize::new(size),
            shard,
        });
        runs.map.insert(run_id.to_string(), entry.clone());
        runs.bytes += size;
        runs.evict(&self.limits);
        entry
    }

    /// Drops a run from the cache (closed, deleted, or to be read again).
    pub(super) fn uncache(&self, run_id: &str) {
        crate::sync::lock(&self.runs).remove(run_id);
    }

    /// Notes a cached run's new size after a commit.
    pub(super) fn resize(&self, entry: &Arc<RunEntry>, state: &MutableState) {
        let size = state.encoded_len();
        let old = entry.size.swap(size, Ordering::Relaxed);
        let mut runs = crate::sync::lock(&self.runs);
        if runs.map.get(&state.run_id).is_some_and(|e| Arc::ptr_eq(e, entry)) {
            runs.bytes = runs.bytes.saturating_sub(old) + size;
        }
    }

    /// How many runs are cached now.
    pub fn cached_runs(&self) -> usize {
        crate::sync::lock(&self.runs).len()
    }

    /// The cached entry of a run, loading it if the store says the server
    /// still has work on it. The entry is claimed (cached, its lock held)
    /// before the store is read, so concurrent callers wait for this one
    /// read and no copy older than the stored one is ever cached.
    pub(super) async fn active_entry(
        &self,
        namespace: &str,
        workflow_id: &str,
        run_id: &str,
    ) -> Result<Arc<RunEntry>, HistoryError> {
        if let Some(entry) = self.cached(run_id) {
            crate::metrics::metrics().record_cache_lookup(true);
            return Ok(entry);
        }
        crate::metrics::metrics().record_cache_lookup(false);
        // Only the runs of shards held here are cached (and changed).
        if !self.holds_run(namespace, workflow_id) {
            return Err(Self::not_here(namespace, workflow_id));
        }
        let entry = Arc::new(RunEntry {
            state: tokio::sync::Mutex::new(None),
            waiting: Default::default(),
            tail: Default::default(),
            changed: watch::channel(0).0,
            size: std::sync::atomic::AtomicUsize::new(0),
            shard: chronicle_store::shard_of(namespace, workflow_id),
        });
        let Ok(mut guard) = entry.state.try_lock() else {
            return Err(HistoryError::NotFound(format!("run {run_id} is busy"))); // a fresh lock is free
        };
        {
            let mut runs = crate::sync::lock(&self.runs);
            if let Some(existing) = runs.map.to_back(run_id) {
                return Ok(existing.clone());
            }
            runs.map.insert(run_id.to_string(), entry.clone());
            runs.evict(&self.limits);
        }
        let loaded = self.store.load_execution(namespace, workflow_id, run_id).await;
        let outcome = match loaded {
            Ok(Some(state)) if state.needs_recovery() => {
                entry.changed.send_replace(state.db_version);
                self.resize(&entry, &state);
                *guard = Some(state);
                Ok(())
            }
            Ok(Some(_)) => Err(EngineError::WorkflowClosed.into()),
            Ok(None) => Err(not_found(workflow_id, run_id)),
            Err(e) => Err(e.into()),
        };
        drop(guard);
        match outcome {
            Ok(()) => Ok(entry),
            Err(e) => {
                // Left empty: waiters look again (and read the store).
                let mut runs = crate::sync::lock(&self.runs);
                if runs.map.get(run_id).is_some_and(|e| Arc::ptr_eq(e, &entry)) {
                    runs.remove(run_id);
                }
                Err(e)
            }
        }
    }

    /// The cached entry of a run, if it is cached (marked as just used).
    pub(super) fn cached(&self, run_id: &str) -> Option<Arc<RunEntry>> {
        crate::sync::lock(&self.runs).map.to_back(run_id).cloned()
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

    /// A state just read from the store. An active run (committed a moment
    /// ago, or evicted) is cached now and the answer is the cached copy,
    /// read again under the claim: it may have moved on, or closed.
    async fn freshest(&self, state: MutableState) -> Result<MutableState, HistoryError> {
        // Another node's run: what its holder committed is what is stored.
        if !state.needs_recovery() || !self.holds_run(&state.namespace, &state.workflow_id) {
            return Ok(state);
        }
        match self.active_entry(&state.namespace, &state.workflow_id, &state.run_id).await {
            Ok(entry) => {
                if let Some(cached) = entry.state.lock().await.clone() {
                    return Ok(cached);
                }
            }
            Err(HistoryError::Engine(EngineError::WorkflowClosed)) => {}
            Err(e) => return Err(e),
        }
        self.store
            .load_execution(&state.namespace, &state.workflow_id, &state.run_id)
            .await?
            .ok_or_else(|| not_found(&state.workflow_id, &state.run_id))
    }

    pub async fn current_run_id(&self, namespace: &str, workflow_id: &str) -> Result<String, HistoryError> {
        self.store
            .current_run(namespace, workflow_id)
            .await?
            .ok_or_else(|| HistoryError::NotFound(format!("workflow not found for ID: {workflow_id}")))
    }
}
