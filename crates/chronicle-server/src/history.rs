//! The history service: one writer per run. Loads mutable state (cached for
//! every open run), applies the pure engine, commits durably, and only then
//! hands out the transition's tasks and wakes history watchers.

mod family;

use crate::matching::{MatchTask, Matching, QueueKey};
use crate::queries::Queries;
use crate::timers::{Due, Timers};
use chronicle_engine::{
    self as engine, EngineError, Input, MutableState, StartArgs, Task, TimerKind, Transition,
    api::enums::v1::WorkflowExecutionStatus, time,
};
use chronicle_store::{ExecutionWrite, Store, StoreError};
use std::collections::HashMap;
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
}

/// Serialises starts of one workflow id; dropped when nobody holds it.
type WorkflowLock = Weak<tokio::sync::Mutex<()>>;

/// A cached open run: its state behind an async lock (one writer), and a
/// watch channel ticking on every commit.
struct RunEntry {
    state: tokio::sync::Mutex<Option<MutableState>>,
    changed: watch::Sender<i64>,
}

pub struct History {
    store: Arc<dyn Store>,
    limits: engine::Limits,
    matching: Arc<Matching>,
    queries: Arc<Queries>,
    timers: Arc<Timers>,
    runs: Mutex<HashMap<String, Arc<RunEntry>>>,
    workflow_locks: Mutex<HashMap<(String, String), WorkflowLock>>,
    me: Weak<History>,
}

/// Outcome of a start request.
pub struct Started {
    pub run_id: String,
    pub started: bool,
}

/// How a start treats an existing workflow id.
#[derive(Clone, Copy, Debug)]
pub struct StartPolicies {
    pub reuse: chronicle_engine::api::enums::v1::WorkflowIdReusePolicy,
    pub conflict: chronicle_engine::api::enums::v1::WorkflowIdConflictPolicy,
}

fn now() -> prost_types::Timestamp {
    time::from_system(std::time::SystemTime::now())
}

impl History {
    /// Must be called inside a tokio runtime: it starts the timer loop.
    pub fn new(store: Arc<dyn Store>, matching: Arc<Matching>, limits: engine::Limits) -> Arc<Self> {
        let timers = Arc::new(Timers::default());
        let history = Arc::new_cyclic(|me| History {
            store,
            limits,
            matching,
            queries: Arc::default(),
            timers: timers.clone(),
            runs: Mutex::new(HashMap::new()),
            workflow_locks: Mutex::new(HashMap::new()),
            me: me.clone(),
        });
        tokio::spawn(Self::timer_loop(Arc::downgrade(&history), timers));
        history
    }

    async fn timer_loop(me: Weak<History>, timers: Arc<Timers>) {
        loop {
            let due = timers.next_due().await;
            let Some(history) = me.upgrade() else { return };
            for entry in due {
                match entry {
                    Due::Dispatch { key, task } => history.matching.add(key, task),
                    Due::Timer { namespace, workflow_id, run_id, kind } => {
                        if history.cached(&run_id).is_none() {
                            continue; // the run closed; its timers no longer apply
                        }
                        let me = me.clone();
                        tokio::spawn(async move {
                            if let Some(history) = me.upgrade() {
                                history.fire_timer(&namespace, &workflow_id, &run_id, kind).await;
                            }
                        });
                    }
                }
            }
        }
    }

    /// When a protobuf timestamp falls on the monotonic clock.
    /// Deadlines beyond a century are parked there (the server is long gone
    /// by then, and recovery recomputes them anyway).
    fn instant_of(at: &prost_types::Timestamp) -> tokio::time::Instant {
        const FAR: std::time::Duration = std::time::Duration::from_secs(100 * 366 * 24 * 3600);
        let delay = time::to_std(&time::since(at, &now())).min(FAR);
        tokio::time::Instant::now() + delay
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn queries(&self) -> &Arc<Queries> {
        &self.queries
    }

    /// Routes a registered query (see queries.rs): parked if the run has a
    /// workflow task pending, otherwise sent to a worker now. Decided under
    /// the run's lock, so no workflow task can end in between.
    pub async fn route_query(&self, state: &MutableState, id: u64) {
        if let Some(entry) = self.cached(&state.run_id) {
            let guard = entry.state.lock().await;
            if let Some(current) = guard.as_ref().filter(|s| s.workflow_task.is_some()) {
                self.queries.park(&current.run_id, id);
                return;
            }
            drop(guard);
        }
        self.dispatch_query(state, id);
    }

    /// Sends a query task to the run's sticky queue if its worker is there,
    /// otherwise to the normal queue.
    fn dispatch_query(&self, state: &MutableState, query_id: u64) {
        let task = MatchTask {
            namespace: state.namespace.clone(),
            workflow_id: state.workflow_id.clone(),
            run_id: state.run_id.clone(),
            query_id,
            ..Default::default()
        };
        let sticky = state
            .sticky_task_queue
            .as_ref()
            .map(|q| QueueKey { namespace: state.namespace.clone(), name: q.name.clone(), activity: false })
            .filter(|key| state.is_running() && self.matching.has_live_poller(key));
        let key = sticky.unwrap_or_else(|| QueueKey {
            namespace: state.namespace.clone(),
            name: state.task_queue_name().to_string(),
            activity: false,
        });
        self.matching.add(key, task);
    }

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
    fn ensure_entry(&self, run_id: &str, state: MutableState) -> Arc<RunEntry> {
        self.ensure_entry_inserted(run_id, state).0
    }

    /// `ensure_entry`, also saying whether this call inserted it.
    fn ensure_entry_inserted(&self, run_id: &str, state: MutableState) -> (Arc<RunEntry>, bool) {
        let mut runs = self.runs.lock().unwrap();
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
    async fn active_entry(
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
    fn cache_active(&self, state: MutableState) -> Arc<RunEntry> {
        let (entry, inserted) = self.ensure_entry_inserted(&state.run_id, state.clone());
        if inserted {
            self.dispatch(&state, state.pending_tasks());
        }
        entry
    }

    fn cached(&self, run_id: &str) -> Option<Arc<RunEntry>> {
        self.runs.lock().unwrap().get(run_id).cloned()
    }

    /// The state of a run: cached if open, otherwise from the store.
    pub async fn load(&self, namespace: &str, workflow_id: &str, run_id: &str) -> Result<MutableState, HistoryError> {
        let run_id =
            if run_id.is_empty() { self.current_run_id(namespace, workflow_id).await? } else { run_id.to_string() };
        if let Some(entry) = self.cached(&run_id)
            && let Some(state) = entry.state.lock().await.clone()
            && state.namespace == namespace
            && state.workflow_id == workflow_id
        {
            return Ok(state);
        }
        let state = self
            .store
            .load_execution(namespace, workflow_id, &run_id)
            .await?
            .ok_or_else(|| not_found(workflow_id, &run_id))?;
        if state.needs_recovery() {
            // Committed a moment ago and not cached yet: cache it now, and
            // answer with the freshest copy (it may have closed meanwhile).
            let entry = self.cache_active(state);
            if let Some(cached) = entry.state.lock().await.clone() {
                return Ok(cached);
            }
            return self
                .store
                .load_execution(namespace, workflow_id, &run_id)
                .await?
                .ok_or_else(|| not_found(workflow_id, &run_id));
        }
        Ok(state)
    }

    pub async fn current_run_id(&self, namespace: &str, workflow_id: &str) -> Result<String, HistoryError> {
        self.store
            .current_run(namespace, workflow_id)
            .await?
            .ok_or_else(|| HistoryError::NotFound(format!("workflow not found for ID: {workflow_id}")))
    }

    /// Deletes a closed run (see Store::delete_execution).
    pub async fn delete(&self, namespace: &str, workflow_id: &str, run_id: &str) -> Result<(), HistoryError> {
        if let Some(entry) = self.cached(run_id) {
            // Hold the run's lock so no commit lands in between.
            let mut guard = entry.state.lock().await;
            if guard.as_ref().is_some_and(|s| s.needs_recovery()) {
                return Err(EngineError::FailedPrecondition("the run still has work in progress".into()).into());
            }
            self.store.delete_execution(namespace, workflow_id, run_id).await.map_err(store_not_found)?;
            *guard = None;
            self.runs.lock().unwrap().remove(run_id);
            return Ok(());
        }
        self.store.delete_execution(namespace, workflow_id, run_id).await.map_err(store_not_found)
    }

    /// Subscribes to commits of a run; None if the run is not open here.
    pub fn watch(&self, run_id: &str) -> Option<watch::Receiver<i64>> {
        self.cached(run_id).map(|e| e.changed.subscribe())
    }

    /// Applies `input` to an open run and commits it.
    pub async fn execute(
        &self,
        namespace: &str,
        workflow_id: &str,
        run_id: &str,
        input: Input,
    ) -> Result<Transition, HistoryError> {
        let entry = {
            let first = self.active_entry(namespace, workflow_id, run_id).await?;
            let emptied = first.state.lock().await.is_none();
            // Dropped from the cache while we waited (closed, or left to be
            // reloaded after a storage error): look once more.
            if emptied { self.active_entry(namespace, workflow_id, run_id).await? } else { first }
        };
        let mut guard = entry.state.lock().await;
        let Some(state) = guard.as_ref() else {
            return Err(EngineError::WorkflowClosed.into());
        };
        if state.namespace != namespace || state.workflow_id != workflow_id {
            return Err(not_found(workflow_id, run_id));
        }
        let env = engine::Env { now: now(), limits: self.limits.clone(), new_run_id: crate::new_run_id() };
        let transition = engine::apply_env(state, input, &env)?;
        let mut writes = vec![ExecutionWrite {
            state: transition.state.clone(),
            expected_version: state.db_version,
            events: transition.events.clone(),
            set_current: None,
            update_visibility: state.visibility_differs(&transition.state),
        }];
        if let Some(next) = &transition.new_run {
            writes.push(ExecutionWrite {
                state: next.state.clone(),
                expected_version: 0,
                events: next.events.clone(),
                set_current: Some(Some(state.run_id.clone())),
                update_visibility: true,
            });
        }
        self.warn_on_history_size(state, &transition.state);
        if let Err(e) = self.store.commit(writes).await {
            // An error may hide a commit that landed: ask the store.
            match self.store.load_execution(namespace, workflow_id, run_id).await {
                Ok(Some(stored)) if stored.db_version == transition.state.db_version => {
                    tracing::warn!(error = %e, %run_id, "the commit landed despite the error");
                }
                Ok(stored) => {
                    // It did not: keep the stored copy (None: the run is gone).
                    if stored.is_none() {
                        self.runs.lock().unwrap().remove(run_id);
                    }
                    *guard = stored;
                    return Err(e.into());
                }
                Err(_) => {
                    // Unknown: drop the cached copy; the next call reloads it.
                    *guard = None;
                    self.runs.lock().unwrap().remove(run_id);
                    return Err(e.into());
                }
            }
        }
        self.after_commit(&entry, &mut guard, &transition);
        if let Some(next) = &transition.new_run {
            let entry = self.ensure_entry(&next.state.run_id, next.state.clone());
            entry.changed.send_replace(next.state.db_version);
            self.dispatch(&next.state, next.tasks.clone());
        }
        if let engine::Outcome::HistoryLimitExceeded { message } = &transition.outcome {
            return Err(HistoryError::InvalidArgument(message.clone()));
        }
        Ok(transition)
    }

    /// Temporal's warning threshold: logged once, when a run crosses it.
    fn warn_on_history_size(&self, before: &MutableState, after: &MutableState) {
        let l = &self.limits;
        let crossed = |b: i64, a: i64, limit: i64| b <= limit && a > limit;
        if crossed(before.next_event_id - 1, after.next_event_id - 1, l.history_count_warn)
            || crossed(before.history_size_bytes, after.history_size_bytes, l.history_size_warn)
        {
            tracing::warn!(
                workflow_id = %after.workflow_id,
                run_id = %after.run_id,
                events = after.next_event_id - 1,
                bytes = after.history_size_bytes,
                "history size exceeds warn limit"
            );
        }
    }

    fn after_commit(&self, entry: &RunEntry, guard: &mut Option<MutableState>, t: &Transition) {
        let open = t.state.is_running();
        // A closed run stays cached while it has post-close work (telling
        // its parent, applying close policies to its children).
        let keep = t.state.needs_recovery();
        *guard = if keep { Some(t.state.clone()) } else { None };
        if !keep {
            self.runs.lock().unwrap().remove(&t.state.run_id);
        }
        entry.changed.send_replace(t.state.db_version);
        self.dispatch(&t.state, t.tasks.clone());
        if let chronicle_engine::Outcome::WorkflowTaskStarted { started_event_id, .. } = &t.outcome {
            self.queries.attach(&t.state.run_id, *started_event_id);
        }
        let started = t.state.started_workflow_task().map(|wt| wt.started_event_id);
        let pending = open && t.state.workflow_task.is_some();
        for id in self.queries.settle(&t.state.run_id, started, pending) {
            self.dispatch_query(&t.state, id);
        }
    }

    /// Hands tasks to matching and timers; called only after commit.
    fn dispatch(&self, state: &MutableState, tasks: Vec<Task>) {
        for task in tasks {
            let base = MatchTask {
                namespace: state.namespace.clone(),
                workflow_id: state.workflow_id.clone(),
                run_id: state.run_id.clone(),
                ..Default::default()
            };
            match task {
                Task::WorkflowTask { task_queue, sticky, scheduled_event_id, attempt } => {
                    let key = QueueKey { namespace: state.namespace.clone(), name: task_queue, activity: false };
                    if sticky && !self.matching.has_live_poller(&key) {
                        // No worker behind the sticky queue (shut down, or
                        // not seen since this server started): the normal
                        // queue takes the task now.
                        self.sticky_unavailable(MatchTask { scheduled_event_id, attempt, ..base });
                    } else {
                        self.matching.add(key, MatchTask { scheduled_event_id, attempt, ..base });
                    }
                }
                Task::ActivityTask(a) => {
                    let key = QueueKey { namespace: state.namespace.clone(), name: a.task_queue, activity: true };
                    let task = MatchTask { scheduled_event_id: a.scheduled_event_id, attempt: a.attempt, ..base };
                    if time::dur_nanos(&time::since(&a.visible_at, &now())) <= 0 {
                        self.matching.add(key, task);
                    } else {
                        self.timers.schedule(Self::instant_of(&a.visible_at), Due::Dispatch { key, task });
                    }
                }
                Task::External { initiated_event_id } => {
                    let Some(request) = state.external_requests.get(&initiated_event_id).cloned() else { continue };
                    let me = self.me.clone();
                    tokio::spawn(async move {
                        if let Some(history) = me.upgrade() {
                            history.deliver_external(base, request).await;
                        }
                    });
                }
                Task::StartChild { initiated_event_id } => {
                    let me = self.me.clone();
                    tokio::spawn(async move {
                        if let Some(history) = me.upgrade() {
                            history.start_child(base, initiated_event_id).await;
                        }
                    });
                }
                Task::NotifyParent => {
                    let me = self.me.clone();
                    tokio::spawn(async move {
                        if let Some(history) = me.upgrade() {
                            history.notify_parent(base).await;
                        }
                    });
                }
                Task::ApplyParentClosePolicy { initiated_event_id } => {
                    let me = self.me.clone();
                    tokio::spawn(async move {
                        if let Some(history) = me.upgrade() {
                            history.apply_parent_close_policy(base, initiated_event_id).await;
                        }
                    });
                }
                Task::Timer(timer) => {
                    let due = Due::Timer {
                        namespace: base.namespace,
                        workflow_id: base.workflow_id,
                        run_id: base.run_id,
                        kind: timer.kind,
                    };
                    self.timers.schedule(Self::instant_of(&timer.fire_at), due);
                }
            }
        }
    }

    fn sticky_unavailable(&self, task: MatchTask) {
        let me = self.me.clone();
        tokio::spawn(async move {
            let Some(history) = me.upgrade() else { return };
            let input =
                Input::StickyWorkerUnavailable { scheduled_event_id: task.scheduled_event_id, attempt: task.attempt };
            if let Err(e) = history.execute(&task.namespace, &task.workflow_id, &task.run_id, input).await {
                // The sticky timeout still moves the task later.
                tracing::debug!(error = %e, run_id = %task.run_id, "could not redirect a sticky workflow task");
            }
        });
    }

    /// A worker shut down: its sticky queue is closed, and the tasks waiting
    /// there move to the normal queue at once.
    pub fn close_sticky_queue(&self, namespace: &str, name: &str) {
        let key = QueueKey { namespace: namespace.to_string(), name: name.to_string(), activity: false };
        for task in self.matching.close(&key) {
            self.sticky_unavailable(task);
        }
    }

    /// Delivers a run's external signal or cancel request to its target,
    /// then records the outcome on the sender. Retried until both are
    /// committed; the target dedupes a repeated signal by request id.
    async fn deliver_external(&self, source: MatchTask, request: chronicle_engine::ExternalRequest) {
        use chronicle_engine::{SignalArgs, api::common::v1::WorkflowExecution};
        let sender = WorkflowExecution { workflow_id: source.workflow_id.clone(), run_id: source.run_id.clone() };
        loop {
            let target = match self.load(&source.namespace, &request.workflow_id, &request.run_id).await {
                Ok(state) => Some(state),
                Err(HistoryError::NotFound(_)) => None,
                Err(e) => {
                    tracing::warn!(error = %e, "external request: target lookup failed; retrying in 1s");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    continue;
                }
            };
            let delivered = match target.filter(|t| t.is_running()) {
                None => false,
                Some(t) => {
                    let input = if request.is_cancel {
                        Input::RequestCancel {
                            reason: request.reason.clone(),
                            identity: String::new(),
                            external: Some((sender.clone(), request.initiated_event_id)),
                        }
                    } else {
                        Input::Signal(SignalArgs {
                            signal_name: request.signal_name.clone(),
                            input: request.input.clone(),
                            identity: String::new(),
                            header: request.header.clone(),
                            request_id: format!("{}:{}", source.run_id, request.initiated_event_id),
                            external_workflow_execution: Some(sender.clone()),
                        })
                    };
                    match self.execute(&t.namespace, &t.workflow_id, &t.run_id, input).await {
                        Ok(_) => true,
                        Err(HistoryError::Engine(EngineError::WorkflowClosed)) => false,
                        Err(e) => {
                            tracing::warn!(error = %e, "external request: delivery failed; retrying in 1s");
                            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                            continue;
                        }
                    }
                }
            };
            let done = Input::ExternalRequestDone { initiated_event_id: request.initiated_event_id, delivered };
            match self.execute(&source.namespace, &source.workflow_id, &source.run_id, done).await {
                Ok(_) | Err(HistoryError::Engine(_)) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "external request: recording the outcome failed; retrying in 1s");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    }

    async fn fire_timer(&self, namespace: &str, workflow_id: &str, run_id: &str, kind: TimerKind) {
        // Storage hiccups must not lose a timer: retry until it applies or
        // no longer matters.
        loop {
            if self.cached(run_id).is_none() {
                return;
            }
            match self.execute(namespace, workflow_id, run_id, Input::TimerFired(kind)).await {
                Ok(_) | Err(HistoryError::Engine(_)) => return,
                Err(e) => {
                    tracing::warn!(%workflow_id, %run_id, ?kind, error = %e, "timer failed; retrying in 1s");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    }

    fn workflow_lock(&self, namespace: &str, workflow_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.workflow_locks.lock().unwrap();
        let key = (namespace.to_string(), workflow_id.to_string());
        if let Some(lock) = locks.get(&key).and_then(Weak::upgrade) {
            return lock;
        }
        locks.retain(|_, w| w.strong_count() > 0);
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        locks.insert(key, Arc::downgrade(&lock));
        lock
    }

    /// Starts a run, honouring request-id dedupe and the id reuse and
    /// conflict policies.
    pub async fn start(&self, args: StartArgs, policies: StartPolicies) -> Result<Started, HistoryError> {
        // The current run may close (continue as new) or move on between our
        // read and our write; then the decision is made again.
        for _ in 0..4 {
            match self.try_start(args.clone(), policies).await {
                Err(HistoryError::Engine(EngineError::WorkflowClosed))
                | Err(HistoryError::Store(StoreError::Conflict(_))) => continue,
                other => return other,
            }
        }
        self.try_start(args, policies).await
    }

    async fn try_start(&self, args: StartArgs, policies: StartPolicies) -> Result<Started, HistoryError> {
        use chronicle_engine::api::enums::v1::{
            UpdateWorkflowExecutionLifecycleStage as UpdateStage, WorkflowIdConflictPolicy as Conflict,
            WorkflowIdReusePolicy as Reuse,
        };
        let lock = self.workflow_lock(&args.namespace, &args.workflow_id);
        let _held = lock.lock().await;
        let current_id = self.store.current_run(&args.namespace, &args.workflow_id).await?;
        let mut writes = Vec::new();
        let mut terminated: Option<(Arc<RunEntry>, Transition)> = None;
        if let Some(current_id) = &current_id {
            let current = self.load(&args.namespace, &args.workflow_id, current_id).await?;
            // Update-with-start whose update the current run already has:
            // completed (running or closed), or in flight: the caller attaches
            // to it, whatever the id policies, as on Temporal.
            let update_id = args.update.as_ref().and_then(|u| u.meta.as_ref()).map(|m| m.update_id.as_str());
            if let Some(existing) = update_id.and_then(|id| current.updates.get(id))
                && (current.is_running() || existing.stage == UpdateStage::Completed as i32)
            {
                return Ok(Started { run_id: current.run_id, started: false });
            }
            if !args.request_id.is_empty() && current.start_request_id == args.request_id {
                // A repeated start: its update (if new) goes to the run it started.
                if let Some(update) = args.update
                    && current.is_running()
                {
                    self.execute(&current.namespace, &current.workflow_id, &current.run_id, Input::UpdateAdmit(update))
                        .await?;
                }
                return Ok(Started { run_id: current.run_id, started: true });
            }
            // A parent's retried start of its child: the child may have moved
            // on (retry, continue-as-new, cron) to a run with another request
            // id, but it names the same parent and Initiated event.
            if let (Some(parent), Some(started)) = (&args.parent, current.started.as_ref())
                && started.parent_workflow_execution.as_ref() == Some(&parent.execution)
                && started.parent_initiated_event_id == parent.initiated_event_id
            {
                return Ok(Started { run_id: started.first_execution_run_id.clone(), started: true });
            }
            let already = |message: String| HistoryError::AlreadyStarted {
                message,
                start_request_id: current.start_request_id.clone(),
                run_id: current.run_id.clone(),
            };
            if current.is_running() {
                let terminate = match (policies.conflict, policies.reuse) {
                    (Conflict::UseExisting, _) => {
                        // Signal-with-start and update-with-start deliver
                        // to the running run.
                        let (ns, wf, run) = (&current.namespace, &current.workflow_id, &current.run_id);
                        if let Some(signal) = args.signal {
                            self.execute(ns, wf, run, Input::Signal(signal)).await?;
                        }
                        if let Some(update) = args.update {
                            let known =
                                update.meta.as_ref().is_some_and(|m| current.updates.contains_key(&m.update_id));
                            if !known {
                                self.execute(ns, wf, run, Input::UpdateAdmit(update)).await?;
                            }
                        }
                        return Ok(Started { run_id: current.run_id, started: false });
                    }
                    (Conflict::TerminateExisting, _) | (_, Reuse::TerminateIfRunning) => true,
                    _ => false,
                };
                if !terminate {
                    return Err(already(format!(
                        "Workflow execution is already running. WorkflowId: {}, RunId: {}.",
                        current.workflow_id, current.run_id
                    )));
                }
                let entry =
                    self.cached(&current.run_id).ok_or_else(|| not_found(&current.workflow_id, &current.run_id))?;
                let state = entry.state.lock().await.clone().ok_or(EngineError::WorkflowClosed)?;
                let t = engine::apply(
                    &state,
                    Input::Terminate {
                        reason: "terminated by a new start of the same workflow id".into(),
                        details: None,
                        identity: args.identity.clone(),
                    },
                    now(),
                )?;
                writes.push(ExecutionWrite {
                    state: t.state.clone(),
                    expected_version: state.db_version,
                    events: t.events.clone(),
                    set_current: None,
                    update_visibility: true,
                });
                terminated = Some((entry, t));
            } else {
                let status = current.status();
                let failed = !matches!(status, WorkflowExecutionStatus::Completed);
                match policies.reuse {
                    Reuse::RejectDuplicate => {
                        return Err(already(format!(
                            "Workflow execution already finished. WorkflowId: {}, RunId: {}. Workflow Id reuse policy: reject duplicate workflow Id.",
                            current.workflow_id, current.run_id
                        )));
                    }
                    Reuse::AllowDuplicateFailedOnly if !failed => {
                        return Err(already(format!(
                            "Workflow execution already finished successfully. WorkflowId: {}, RunId: {}. Workflow Id reuse policy: allow duplicate workflow Id if last run failed.",
                            current.workflow_id, current.run_id
                        )));
                    }
                    _ => {}
                }
            }
        }
        let t = engine::start(args, now());
        writes.push(ExecutionWrite {
            state: t.state.clone(),
            expected_version: 0,
            events: t.events.clone(),
            set_current: Some(current_id),
            update_visibility: true,
        });
        self.store.commit(writes).await?;
        if let Some((entry, term)) = terminated {
            let mut guard = entry.state.lock().await;
            self.after_commit(&entry, &mut guard, &term);
        }
        let entry = self.ensure_entry(&t.state.run_id, t.state.clone());
        entry.changed.send_replace(t.state.db_version);
        self.dispatch(&t.state, t.tasks.clone());
        Ok(Started { run_id: t.state.run_id, started: true })
    }
}

fn store_not_found(e: StoreError) -> HistoryError {
    match e {
        StoreError::NotFound(m) => HistoryError::NotFound(m),
        e => e.into(),
    }
}

fn not_found(workflow_id: &str, run_id: &str) -> HistoryError {
    HistoryError::NotFound(format!("workflow execution not found for workflow ID: {workflow_id}, run ID: {run_id}"))
}
