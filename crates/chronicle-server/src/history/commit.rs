//! Applying an input to a run: the pure engine, the durable commit (and
//! what to believe when a commit reports an error), then the transition's
//! tasks and the watchers.

use super::*;

/// Runs `work` to its end in a task of its own, whether or not the caller
/// still waits for the answer; a panic in it is the caller's, and so is its
/// span (traces show its commits inside the call).
pub(super) async fn detached<T: Send + 'static>(
    work: impl std::future::Future<Output = Result<T, HistoryError>> + Send + 'static,
) -> Result<T, HistoryError> {
    match tokio::spawn(tracing::Instrument::in_current_span(work)).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(StoreError::Unavailable("the server is stopping".into()).into()),
    }
}

/// Tries of one input when commits lose to a stale cached copy.
const COMMIT_ATTEMPTS: usize = 3;

/// Inputs one commit takes at most, so one batch cannot hold a run's lock
/// for long.
const BATCH_MAX: usize = 64;

/// A transition after which the batch ends: the inputs after it see the
/// run as committed (continued as a new run, or over its history limit).
fn ends_batch(t: &Transition) -> bool {
    t.new_run.is_some() || matches!(t.outcome, engine::Outcome::HistoryLimitExceeded { .. })
}

/// How an input changes a run: the pure engine, applied again if the
/// commit loses to a stale copy.
type Apply = Box<dyn Fn(&MutableState, &engine::Env) -> Result<Transition, EngineError> + Send>;

/// An input waiting for its run's lock, and who waits for its answer.
pub(super) struct Queued {
    namespace: String,
    workflow_id: String,
    apply: Apply,
    reply: tokio::sync::oneshot::Sender<Result<Transition, HistoryError>>,
}

impl Queued {
    fn answer(self, result: Result<Transition, HistoryError>) {
        let _ = self.reply.send(result); // a caller gone away has nobody to tell
    }
}

/// The inputs waiting for a run's lock, in arrival order.
#[derive(Default)]
pub(super) struct Waiting(Mutex<std::collections::VecDeque<Queued>>);

impl Waiting {
    fn push(&self, queued: Queued) {
        crate::sync::lock(&self.0).push_back(queued);
    }

    /// The next batch; None if nothing waits.
    fn take(&self) -> Option<Vec<Queued>> {
        let mut queue = crate::sync::lock(&self.0);
        let n = queue.len().min(BATCH_MAX);
        (n > 0).then(|| queue.drain(..n).collect())
    }

    /// Inputs a batch did not apply, first in line again, in their order.
    fn put_back(&self, inputs: Vec<Queued>) {
        let mut queue = crate::sync::lock(&self.0);
        for q in inputs.into_iter().rev() {
            queue.push_front(q);
        }
    }
}

impl History {
    /// Applies `input` to an open run and commits it.
    pub async fn execute(
        &self,
        namespace: &str,
        workflow_id: &str,
        run_id: &str,
        input: Input,
    ) -> Result<Transition, HistoryError> {
        self.execute_with(namespace, workflow_id, run_id, move |state, env| {
            engine::apply_env(state, input.clone(), env)
        })
        .await
    }

    /// Applies several inputs to an open run as one commit (see
    /// `engine::apply_all`).
    pub async fn execute_all(
        &self,
        namespace: &str,
        workflow_id: &str,
        run_id: &str,
        inputs: Vec<Input>,
    ) -> Result<Transition, HistoryError> {
        self.execute_with(namespace, workflow_id, run_id, move |state, env| {
            engine::apply_all(state, inputs.clone(), env)
        })
        .await
    }

    /// Runs `apply` on the run and commits it in a task of its own, so that
    /// the caller going away (a cancelled RPC) cannot stop it between the
    /// commit and what must follow it: a commit that may have landed is
    /// reflected in the cache and its tasks handed out, whoever waits.
    async fn execute_with(
        &self,
        namespace: &str,
        workflow_id: &str,
        run_id: &str,
        apply: impl Fn(&MutableState, &engine::Env) -> Result<Transition, EngineError> + Send + 'static,
    ) -> Result<Transition, HistoryError> {
        let me = self.arc()?;
        let (namespace, workflow_id, run_id) = (namespace.to_string(), workflow_id.to_string(), run_id.to_string());
        let hold = self.hold_clock();
        detached(async move {
            let transition = me.execute_locked(&namespace, &workflow_id, &run_id, apply).await;
            drop(hold);
            transition
        })
        .await
    }

    /// On a test server, holds the clock while a change is made (as
    /// Temporal's test server does around every update), so no jump lands
    /// between its "now" and the holds its commit records.
    pub(super) fn hold_clock(&self) -> Option<crate::time_skipping::Work> {
        self.skipping.as_ref().map(TimeSkipping::work)
    }

    /// The history service itself, for work that outlives its caller.
    pub(super) fn arc(&self) -> Result<Arc<History>, HistoryError> {
        self.me.upgrade().ok_or_else(|| StoreError::Unavailable("the server is stopping".into()).into())
    }

    /// Queues the input at the run and waits for the run's lock; whoever
    /// holds the lock takes every input waiting by then and commits them
    /// together (`commit_batch`). A run busy with many callers at once (a
    /// thousand activities completing) so commits its state once per
    /// batch, not once per input; one caller alone commits at once.
    async fn execute_locked(
        &self,
        namespace: &str,
        workflow_id: &str,
        run_id: &str,
        apply: impl Fn(&MutableState, &engine::Env) -> Result<Transition, EngineError> + Send + 'static,
    ) -> Result<Transition, HistoryError> {
        let entry = {
            let first = self.active_entry(namespace, workflow_id, run_id).await?;
            let emptied = first.state.lock().await.is_none();
            // Dropped from the cache while we waited (closed, or left to be
            // reloaded after a storage error): look once more.
            if emptied { self.active_entry(namespace, workflow_id, run_id).await? } else { first }
        };
        let (reply, mut answer) = tokio::sync::oneshot::channel();
        entry.waiting.push(Queued {
            namespace: namespace.to_string(),
            workflow_id: workflow_id.to_string(),
            apply: Box::new(apply),
            reply,
        });
        let mut guard = entry.state.lock().await;
        // An earlier holder may have answered ours already; a batch may
        // also end before it (the run closed in it, or the batch is full).
        // Every holder answers or puts back all it took before it lets go,
        // so ours is answered or waiting.
        loop {
            match answer.try_recv() {
                Ok(result) => return result,
                Err(tokio::sync::oneshot::error::TryRecvError::Closed) => break,
                Err(tokio::sync::oneshot::error::TryRecvError::Empty) => {}
            }
            let Some(batch) = entry.waiting.take() else { break };
            self.commit_batch(&entry, &mut guard, batch).await;
        }
        Err(StoreError::Unavailable("the server is stopping".into()).into())
    }

    /// Applies a batch of queued inputs in order, each to the state the
    /// previous one left, and commits what they did as one write; then
    /// answers each caller with its own transition. An input the engine
    /// refuses is answered with its error and changes nothing. Inputs
    /// after one that closes or continues the run go back to the queue:
    /// they see the run as committed, as if they had come one by one.
    async fn commit_batch(&self, entry: &Arc<RunEntry>, guard: &mut Option<MutableState>, batch: Vec<Queued>) {
        let mut attempts = 0;
        let (mut results, cached_version) = loop {
            let Some(state) = guard.as_ref() else {
                for q in batch {
                    q.answer(Err(EngineError::WorkflowClosed.into()));
                }
                return;
            };
            let mut results: Vec<Option<Result<Transition, HistoryError>>> = Vec::with_capacity(batch.len());
            let mut last: Option<usize> = None;
            for q in &batch {
                let before = last.and_then(|i| results[i].as_ref()).and_then(|r| r.as_ref().ok());
                let on = before.map_or(state, |t| &t.state);
                let verdict = if before.is_some_and(|t| ends_batch(t) || !t.state.is_running()) {
                    None // to the next batch
                } else if on.namespace != q.namespace || on.workflow_id != q.workflow_id {
                    Some(Err(not_found(&q.workflow_id, &on.run_id)))
                } else {
                    let env =
                        engine::Env { now: self.now(), limits: self.limits.clone(), new_run_id: crate::new_run_id() };
                    Some((q.apply)(on, &env).map_err(HistoryError::from))
                };
                if matches!(verdict, Some(Ok(_))) {
                    last = Some(results.len());
                }
                results.push(verdict);
            }
            let Some(last) = last else { break (results, state.db_version) };
            let Some(Some(Ok(final_t))) = results.get(last) else { unreachable!("the last applied input succeeded") };
            let cached_version = state.db_version;
            let mut final_state = final_t.state.clone();
            // One commit: the version moves on by one, as for any transition.
            final_state.db_version = cached_version + 1;
            let mut writes = vec![ExecutionWrite {
                state: final_state.clone(),
                expected_version: cached_version,
                events: results.iter().flatten().flatten().flat_map(|t| t.events.iter().cloned()).collect(),
                set_current: None,
                update_visibility: state.visibility_differs(&final_state),
            }];
            if let Some(next) = &final_t.new_run {
                writes.push(ExecutionWrite {
                    state: next.state.clone(),
                    expected_version: 0,
                    events: next.events.clone(),
                    set_current: Some(Some(state.run_id.clone())),
                    update_visibility: true,
                });
            }
            self.warn_on_history_size(state, &final_state);
            let Err(e) = self.commit_writes(writes).await else { break (results, cached_version) };
            // An error may hide a commit that landed: ask the store. The
            // version alone does not tell: another writer's commit from
            // the same version has it too (our copy was stale); the state
            // written is ours only if it is the state we wrote.
            let run_id = state.run_id.clone();
            match self.store.load_execution(&state.namespace, &state.workflow_id, &run_id).await {
                Ok(Some(stored)) if stored == final_state => {
                    tracing::warn!(error = %e, %run_id, "the commit landed despite the error");
                    break (results, cached_version);
                }
                Ok(stored) => {
                    // It did not: keep the stored copy (None: the run is gone).
                    if stored.is_none() {
                        self.uncache(&run_id);
                    }
                    // A lost condition with a newer stored run: our copy was
                    // read before a commit through an entry since evicted.
                    // Nothing landed, so the inputs apply again, to the
                    // stored state, as Temporal's history retries on a lost
                    // condition.
                    let stale = matches!(e, StoreError::Conflict(_))
                        && stored.as_ref().is_some_and(|s| s.db_version != cached_version);
                    *guard = stored;
                    attempts += 1;
                    if stale && attempts < COMMIT_ATTEMPTS {
                        continue;
                    }
                }
                Err(_) => {
                    // Unknown: drop the cached copy; the next call reloads it.
                    *guard = None;
                    self.uncache(&run_id);
                }
            }
            let mut later = Vec::new();
            for (q, result) in batch.into_iter().zip(results) {
                match result {
                    Some(Ok(_)) => q.answer(Err(e.clone().into())),
                    Some(Err(refused)) => q.answer(Err(refused)),
                    None => later.push(q),
                }
            }
            entry.waiting.put_back(later);
            return;
        };
        for t in results.iter_mut().flatten().flatten() {
            t.state.db_version = cached_version + 1;
        }
        let committed: Vec<&Transition> = results.iter().flatten().flatten().collect();
        let combined;
        let all = match committed.as_slice() {
            [] => None,
            [one] => Some(*one),
            [.., last] => {
                combined = Transition {
                    state: last.state.clone(),
                    events: committed.iter().flat_map(|t| t.events.iter().cloned()).collect(),
                    tasks: committed.iter().flat_map(|t| t.tasks.iter().cloned()).collect(),
                    // The one outcome the cache acts on: a workflow task started.
                    outcome: committed
                        .iter()
                        .rev()
                        .map(|t| &t.outcome)
                        .find(|o| matches!(o, engine::Outcome::WorkflowTaskStarted { .. }))
                        .unwrap_or(&last.outcome)
                        .clone(),
                    new_run: None,
                };
                Some(&combined)
            }
        };
        if let Some(all) = all {
            self.after_commit(entry, guard, all);
        }
        if let Some(next) = committed.last().and_then(|t| t.new_run.as_ref()) {
            self.open_new_run(next);
        }
        let mut later = Vec::new();
        for (q, result) in batch.into_iter().zip(results) {
            match result {
                Some(Ok(t)) => {
                    let answer = match &t.outcome {
                        engine::Outcome::HistoryLimitExceeded { message } => {
                            Err(HistoryError::InvalidArgument(message.clone()))
                        }
                        _ => Ok(t),
                    };
                    q.answer(answer);
                }
                Some(Err(refused)) => q.answer(Err(refused)),
                None => later.push(q),
            }
        }
        entry.waiting.put_back(later);
    }

    /// A new run just committed (continued, started, reset): cached, its
    /// watchers told, its tasks handed out.
    pub(super) fn open_new_run(&self, t: &Transition) {
        let entry = self.ensure_entry(&t.state.run_id, t.state.clone());
        entry.changed.send_replace(t.state.db_version);
        self.dispatch(&t.state, t.tasks.clone());
    }

    /// Temporal's warning threshold: logged once, when a run crosses it.
    pub(super) fn warn_on_history_size(&self, before: &MutableState, after: &MutableState) {
        let l = &self.limits;
        let crossed = |b: i64, a: i64, limit: i64| b <= limit && a > limit;
        if crossed(before.next_event_id - 1, after.next_event_id - 1, l.history_events_warn)
            || crossed(before.history_size_bytes, after.history_size_bytes, l.history_bytes_warn)
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

    pub(super) fn after_commit(&self, entry: &Arc<RunEntry>, guard: &mut Option<MutableState>, t: &Transition) {
        let open = t.state.is_running();
        if !open {
            crate::metrics::metrics().record_closes(&t.events);
        }
        // A closed run stays cached while it has post-close work (telling
        // its parent, applying close policies to its children).
        let keep = t.state.needs_recovery();
        *guard = if keep { Some(t.state.clone()) } else { None };
        if keep {
            self.resize(entry, &t.state);
            crate::sync::lock(&entry.tail).extend(&t.events, t.state.last_completed_wft_started_event_id);
        } else {
            self.uncache(&t.state.run_id);
        }
        entry.changed.send_replace(t.state.db_version);
        self.dispatch(&t.state, t.tasks.clone());
        if !open {
            // No deadline of a closed run applies any more.
            self.timers.forget_run(&t.state.run_id);
        }
        if let chronicle_engine::Outcome::WorkflowTaskStarted { started_event_id, .. } = &t.outcome {
            self.queries.attach(&t.state.run_id, *started_event_id);
        }
        let started = t.state.started_workflow_task().map(|wt| wt.started_event_id);
        let pending = open && t.state.workflow_task.is_some();
        for id in self.queries.settle(&t.state.run_id, started, pending) {
            self.dispatch_query(&t.state, id);
        }
    }
}
