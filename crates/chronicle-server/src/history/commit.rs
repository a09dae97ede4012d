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

    async fn execute_locked(
        &self,
        namespace: &str,
        workflow_id: &str,
        run_id: &str,
        apply: impl Fn(&MutableState, &engine::Env) -> Result<Transition, EngineError>,
    ) -> Result<Transition, HistoryError> {
        let entry = {
            let first = self.active_entry(namespace, workflow_id, run_id).await?;
            let emptied = first.state.lock().await.is_none();
            // Dropped from the cache while we waited (closed, or left to be
            // reloaded after a storage error): look once more.
            if emptied { self.active_entry(namespace, workflow_id, run_id).await? } else { first }
        };
        let mut guard = entry.state.lock().await;
        let mut attempts = 0;
        let transition = loop {
            let Some(state) = guard.as_ref() else {
                return Err(EngineError::WorkflowClosed.into());
            };
            if state.namespace != namespace || state.workflow_id != workflow_id {
                return Err(not_found(workflow_id, run_id));
            }
            let env = engine::Env { now: self.now(), limits: self.limits.clone(), new_run_id: crate::new_run_id() };
            let transition = apply(state, &env)?;
            let cached_version = state.db_version;
            let mut writes = vec![ExecutionWrite {
                state: transition.state.clone(),
                expected_version: cached_version,
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
            let Err(e) = self.commit_writes(writes).await else { break transition };
            // An error may hide a commit that landed: ask the store. The
            // version alone does not tell: another writer's commit from
            // the same version has it too (our copy was stale); the state
            // written is ours only if it is the state we wrote.
            match self.store.load_execution(namespace, workflow_id, run_id).await {
                Ok(Some(stored)) if stored == transition.state => {
                    tracing::warn!(error = %e, %run_id, "the commit landed despite the error");
                    break transition;
                }
                Ok(stored) => {
                    // It did not: keep the stored copy (None: the run is gone).
                    if stored.is_none() {
                        self.uncache(run_id);
                    }
                    // A lost condition with a newer stored run: our copy was
                    // read before a commit through an entry since evicted.
                    // Nothing landed, so the input applies again, to the
                    // stored state, as Temporal's history retries on a lost
                    // condition.
                    let stale = matches!(e, StoreError::Conflict(_))
                        && stored.as_ref().is_some_and(|s| s.db_version != cached_version);
                    *guard = stored;
                    attempts += 1;
                    if stale && attempts < COMMIT_ATTEMPTS {
                        continue;
                    }
                    return Err(e.into());
                }
                Err(_) => {
                    // Unknown: drop the cached copy; the next call reloads it.
                    *guard = None;
                    self.uncache(run_id);
                    return Err(e.into());
                }
            }
        };
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
