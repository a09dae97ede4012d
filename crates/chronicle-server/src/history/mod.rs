//! The history service: one writer per run. Loads mutable state (a bounded
//! cache of active runs), applies the pure engine, commits durably (the
//! state's pending tasks are rows of that same commit), and only then hands
//! out the transition's tasks and wakes history watchers.

#[cfg(test)]
mod batch_tests;
mod cache;
mod commit;
mod delete;
mod dispatch;
mod external;
mod family;
mod queues;
mod reset;
mod routing;
mod start;
mod tail;

pub use reset::ResetRequest;
use routing::NoPoller;
pub(crate) use routing::{PEER_CALL_TIMEOUT, match_task, peer_failed, task_ref};

use crate::clock::Clock;
use crate::matching::{MatchTask, Matching, QueueKey};
use crate::queries::Queries;
use crate::time_skipping::TimeSkipping;
use crate::timers::{Due, Timers};
use chronicle_engine::{
    self as engine, EngineError, Input, MutableState, StartArgs, Task, TimerKind, Transition,
    api::enums::v1::WorkflowExecutionStatus, time,
};
use chronicle_store::{ExecutionWrite, Store, StoreError};
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::watch;

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    AlreadyStarted { message: String, start_request_id: String, run_id: String },
    #[error("{0}")]
    InvalidArgument(String),
    /// In a cluster: the run's shard is not this node's (now), or its owner
    /// could not be reached. Worth retrying (UNAVAILABLE).
    #[error("{0}")]
    NotOwner(String),
}

/// A cached open run: its state behind an async lock (one writer), and a
/// watch channel ticking on every commit.
struct RunEntry {
    state: tokio::sync::Mutex<Option<MutableState>>,
    /// Inputs waiting for `state`'s lock, applied as one batch.
    waiting: commit::Waiting,
    /// The run's committed events since its last completed workflow task.
    tail: Mutex<tail::EventTail>,
    changed: watch::Sender<i64>,
    /// The state's encoded size, as last cached or committed.
    size: std::sync::atomic::AtomicUsize,
    /// The run's shard (see `routing`).
    shard: u32,
}

pub struct History {
    store: Arc<dyn Store>,
    limits: engine::Limits,
    clock: Arc<dyn Clock>,
    matching: Arc<Matching>,
    queries: Arc<Queries>,
    timers: Arc<Timers>,
    /// A test server's skipping clock (the same as `clock`), told what
    /// each commit leaves in flight.
    skipping: Option<Arc<TimeSkipping>>,
    runs: Mutex<cache::RunCache>,
    /// Serialises starts of one workflow id.
    workflow_locks: crate::sync::KeyedLocks<(String, String)>,
    /// This node's cluster; None for a server on its own.
    cluster: Option<Arc<crate::cluster::Node>>,
    /// Bumped when shards are gained: the timer queue is read again from
    /// its start for them.
    timer_generation: std::sync::atomic::AtomicU64,
    me: Weak<History>,
}

/// Outcome of a start request.
pub struct Started {
    pub run_id: String,
    pub started: bool,
    /// The run's first workflow task, started for the caller (eager
    /// workflow start).
    pub eager: Option<EagerTask>,
}

impl Started {
    fn plain(run_id: String, started: bool) -> Self {
        Started { run_id, started, eager: None }
    }
}

/// An eagerly started first workflow task: the run's state with the task
/// started, and its history when the start wrote it (a repeated start reads
/// it back).
pub struct EagerTask {
    pub state: MutableState,
    pub events: Option<Vec<chronicle_engine::api::history::v1::HistoryEvent>>,
}

/// How a start treats an existing workflow id.
#[derive(Clone, Copy, Debug)]
pub struct StartPolicies {
    pub reuse: chronicle_engine::api::enums::v1::WorkflowIdReusePolicy,
    pub conflict: chronicle_engine::api::enums::v1::WorkflowIdConflictPolicy,
}

impl HistoryError {
    /// The run is (now) another node's: whatever was being done to it is
    /// its new holder's to do (it finds the work in the store's queues).
    pub fn moved(&self) -> bool {
        matches!(self, HistoryError::NotOwner(_) | HistoryError::Store(StoreError::ShardOwnershipLost { .. }))
    }
}

impl History {
    /// Must be called inside a tokio runtime: it starts the timer loop.
    pub fn new(
        store: Arc<dyn Store>,
        matching: Arc<Matching>,
        limits: engine::Limits,
        clock: Arc<dyn Clock>,
    ) -> Arc<Self> {
        Self::with_skipping(store, matching, limits, clock, None, None)
    }

    /// `new`; with `skipping`, a test server's history whose clock is it.
    pub fn with_skipping(
        store: Arc<dyn Store>,
        matching: Arc<Matching>,
        limits: engine::Limits,
        clock: Arc<dyn Clock>,
        skipping: Option<Arc<TimeSkipping>>,
        cluster: Option<Arc<crate::cluster::Node>>,
    ) -> Arc<Self> {
        let timers = Arc::new(Timers::with_skipping(clock.clone(), skipping.clone()));
        if let Some(skipping) = &skipping {
            skipping.watch_timers(&timers);
        }
        let history = Arc::new_cyclic(|me| History {
            store,
            limits,
            clock,
            matching,
            queries: Arc::default(),
            timers: timers.clone(),
            skipping,
            runs: Mutex::default(),
            workflow_locks: Default::default(),
            cluster,
            timer_generation: Default::default(),
            me: me.clone(),
        });
        tokio::spawn(Self::timer_loop(Arc::downgrade(&history), timers));
        history
    }

    /// The clock every "now" of the server comes from.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The skipping clock of a test server.
    pub fn skipping(&self) -> Option<&Arc<TimeSkipping>> {
        self.skipping.as_ref()
    }

    /// Now, as events are stamped.
    pub fn now(&self) -> prost_types::Timestamp {
        self.clock.timestamp()
    }

    /// The limits in force (Temporal's defaults, or as configured).
    pub fn limits(&self) -> &engine::Limits {
        &self.limits
    }

    /// Events of a run from `from_event_id` on, at most `max` of them.
    pub async fn read_history(
        &self,
        run_id: &str,
        from_event_id: i64,
        max: usize,
    ) -> Result<Vec<chronicle_engine::api::history::v1::HistoryEvent>, HistoryError> {
        Ok(self.store.read_history(run_id, from_event_id, max).await?)
    }

    /// Events `from..=to` of a run (at most `max`): from the cached run's
    /// tail when it holds them all (a sticky workflow task's), otherwise
    /// from the store, which may return events after `to` too.
    pub async fn read_recent(
        &self,
        run_id: &str,
        from: i64,
        to: i64,
        max: usize,
    ) -> Result<Vec<chronicle_engine::api::history::v1::HistoryEvent>, HistoryError> {
        let fits = usize::try_from(to - from + 1).is_ok_and(|n| n <= max);
        if fits
            && let Some(entry) = self.cached(run_id)
            && let Some(events) = crate::sync::lock(&entry.tail).range(from, to)
        {
            return Ok(events);
        }
        self.read_history(run_id, from, max).await
    }

    /// A page of the runs a visibility query matches (see Store::list_runs).
    pub async fn list_runs(
        &self,
        namespace: &str,
        query: &chronicle_store::visibility::Query,
        from: Option<chronicle_store::ListCursor>,
        limit: usize,
    ) -> Result<chronicle_store::RunsPage, HistoryError> {
        Ok(self.store.list_runs(namespace, query, from, limit).await?)
    }

    /// How many runs a visibility query matches (see Store::count_runs).
    pub async fn count_runs(
        &self,
        namespace: &str,
        query: &chronicle_store::visibility::Query,
    ) -> Result<chronicle_store::RunCount, HistoryError> {
        Ok(self.store.count_runs(namespace, query).await?)
    }

    /// Timers and timeouts held in the timer window (a metrics sample).
    pub fn timers_pending(&self) -> usize {
        self.timers.len()
    }

    pub fn queries(&self) -> &Arc<Queries> {
        &self.queries
    }

    /// Subscribes to commits of a run (caching it); None if the server has
    /// no work left on it (closed, or gone). In a cluster, a run whose
    /// shard is not (or no longer) here is an error: its holder is the one
    /// to wait at.
    pub async fn watch(
        &self,
        namespace: &str,
        workflow_id: &str,
        run_id: &str,
    ) -> Result<Option<watch::Receiver<i64>>, HistoryError> {
        match self.active_entry(namespace, workflow_id, run_id).await {
            Ok(entry) => Ok(Some(entry.changed.subscribe())),
            Err(e) if e.moved() => Err(e),
            Err(_) => Ok(None),
        }
    }
}

fn store_not_found(e: StoreError) -> HistoryError {
    match e {
        StoreError::NotFound(missing) => HistoryError::NotFound(crate::errors::missing_message(&missing)),
        e => e.into(),
    }
}

fn not_found(workflow_id: &str, run_id: &str) -> HistoryError {
    HistoryError::NotFound(format!("workflow execution not found for workflow ID: {workflow_id}, run ID: {run_id}"))
}
