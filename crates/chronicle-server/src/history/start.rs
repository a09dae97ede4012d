//! Starting a run: request-id dedupe, the id reuse and conflict policies,
//! update-with-start attaching to an update the current run has; one start
//! per workflow id at a time.

use super::*;

/// WorkflowExecutionStarted, WorkflowTaskScheduled, WorkflowTaskStarted: an
/// eagerly started first task.
const FIRST_TASK_STARTED_EVENT_ID: i64 = 3;

impl History {
    /// Starts a run, honouring request-id dedupe and the id reuse and
    /// conflict policies. Runs in a task of its own, as `execute` does: a
    /// caller that goes away cannot stop it between its commit and the
    /// hand-out of the new run's first tasks.
    pub async fn start(&self, args: StartArgs, policies: StartPolicies) -> Result<Started, HistoryError> {
        let me = self.arc()?;
        let hold = self.hold_clock();
        super::commit::detached(async move {
            let started = me.start_detached(args, policies).await;
            drop(hold);
            started
        })
        .await
    }

    async fn start_detached(&self, args: StartArgs, policies: StartPolicies) -> Result<Started, HistoryError> {
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

    pub(super) async fn try_start(&self, args: StartArgs, policies: StartPolicies) -> Result<Started, HistoryError> {
        use chronicle_engine::api::enums::v1::{WorkflowIdConflictPolicy as Conflict, WorkflowIdReusePolicy as Reuse};
        let _held = self.workflow_locks.lock((args.namespace.clone(), args.workflow_id.clone())).await;
        // One read: the current run's state (the write below is conditional
        // on it still being current).
        let current = self.current_state(&args.namespace, &args.workflow_id).await?;
        let current_id = current.as_ref().map(|c| c.run_id.clone());
        let mut writes = Vec::new();
        let mut terminated: Option<(Arc<RunEntry>, Transition)> = None;
        if let Some(current) = current {
            // Update-with-start whose update the current run already has:
            // in flight in a running run, or completed by the workflow (the
            // outcome is in history, even after the run closed): the caller
            // attaches to it, whatever the id policies, as on Temporal. One
            // the run's close left unfinished does not count: the id
            // policies decide, and a new run takes the update.
            let update_id = args.update.as_ref().and_then(|u| u.meta.as_ref()).map(|m| m.update_id.as_str());
            if let Some(existing) = update_id.and_then(|id| current.updates.get(id))
                && (current.is_running() || existing.completed_in_history())
            {
                return Ok(Started::plain(current.run_id, false));
            }
            if !args.request_id.is_empty() && current.start_request_id == args.request_id {
                // A repeated start: its update (if new) goes to the run it started.
                if let Some(update) = args.update
                    && current.is_running()
                {
                    self.execute(&current.namespace, &current.workflow_id, &current.run_id, Input::UpdateAdmit(update))
                        .await?;
                }
                // A repeated eager start gets the first task again while
                // it is still the eagerly started one, as on Temporal;
                // once it timed out the queue has it.
                let first_task_open = current
                    .workflow_task
                    .as_ref()
                    .is_some_and(|wt| wt.started_event_id == FIRST_TASK_STARTED_EVENT_ID && wt.attempt == 1);
                let eager = (args.eager && current.is_running() && first_task_open)
                    .then(|| EagerTask { state: current.clone(), events: None });
                return Ok(Started { run_id: current.run_id, started: true, eager });
            }
            // A parent's retried start of its child: the child may have moved
            // on (retry, continue-as-new, cron) to a run with another request
            // id, but it names the same parent and Initiated event.
            if let (Some(parent), Some(started)) = (&args.parent, current.started.as_ref())
                && started.parent_workflow_execution.as_ref() == Some(&parent.execution)
                && started.parent_initiated_event_id == parent.initiated_event_id
            {
                return Ok(Started::plain(started.first_execution_run_id.clone(), true));
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
                        return Ok(Started::plain(current.run_id, false));
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
                let entry = self.active_entry(&current.namespace, &current.workflow_id, &current.run_id).await?;
                let state = entry.state.lock().await.clone().ok_or(EngineError::WorkflowClosed)?;
                let t = engine::apply(
                    &state,
                    Input::Terminate {
                        reason: "terminated by a new start of the same workflow id".into(),
                        details: None,
                        identity: args.identity.clone(),
                    },
                    self.now(),
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
        let t = engine::start(args, self.now());
        writes.push(ExecutionWrite {
            state: t.state.clone(),
            expected_version: 0,
            events: t.events.clone(),
            set_current: Some(current_id),
            update_visibility: true,
        });
        self.commit_writes(writes).await?;
        if let Some((entry, term)) = terminated {
            let mut guard = entry.state.lock().await;
            self.after_commit(&entry, &mut guard, &term);
        }
        self.open_new_run(&t);
        let eager_started = t.state.workflow_task.as_ref().is_some_and(chronicle_engine::WorkflowTaskInfo::is_started);
        let eager = eager_started.then(|| EagerTask { state: t.state.clone(), events: Some(t.events) });
        Ok(Started { run_id: t.state.run_id, started: true, eager })
    }
}
