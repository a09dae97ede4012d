//! ResetWorkflowExecution: a new run rebuilt from a base run's history up to
//! a workflow task (`engine::reset`), committed with the termination of the
//! running current run, as one transaction; the new run becomes current.

use super::*;
use chronicle_engine::api::enums::v1::ResetReapplyExcludeType;
use chronicle_engine::api::history::v1::{HistoryEvent, history_event::Attributes};

/// Most events a reset reads from one run (Temporal's history limit is
/// 51,200 by default).
const HISTORY_READ_MAX: usize = 1_000_000;

/// A validated reset request.
#[derive(Clone, Debug, Default)]
pub struct ResetRequest {
    pub namespace: String,
    pub workflow_id: String,
    /// Empty: the current run.
    pub run_id: String,
    pub workflow_task_finish_event_id: i64,
    pub reason: String,
    pub request_id: String,
    pub exclude: Vec<ResetReapplyExcludeType>,
}

impl History {
    /// Resets a workflow; returns the new run's id (or, for a request id
    /// already served, the run it started). Runs in a task of its own, as
    /// `start` does.
    pub async fn reset(&self, request: ResetRequest) -> Result<String, HistoryError> {
        let me = self.arc()?;
        let hold = self.hold_clock();
        super::commit::detached(async move {
            let mut result = me.try_reset(&request).await;
            // The current run moved on between our reads and our write:
            // decide again from what is stored now.
            for _ in 0..3 {
                match result {
                    Err(HistoryError::Engine(EngineError::WorkflowClosed))
                    | Err(HistoryError::Store(StoreError::Conflict(_))) => result = me.try_reset(&request).await,
                    _ => break,
                }
            }
            drop(hold);
            result
        })
        .await
    }

    async fn try_reset(&self, r: &ResetRequest) -> Result<String, HistoryError> {
        let _held = self.workflow_locks.lock((r.namespace.clone(), r.workflow_id.clone())).await;
        let current = self
            .current_state(&r.namespace, &r.workflow_id)
            .await?
            .ok_or_else(|| HistoryError::NotFound(format!("workflow not found for ID: {}", r.workflow_id)))?;
        if !r.request_id.is_empty() && current.start_request_id == r.request_id && current.original_start_time.is_some()
        {
            return Ok(current.run_id); // this reset was done already
        }
        let base = if r.run_id.is_empty() || r.run_id == current.run_id {
            current.clone()
        } else {
            self.load(&r.namespace, &r.workflow_id, &r.run_id).await?
        };
        let finish = r.workflow_task_finish_event_id;
        if finish <= 1 || finish >= base.next_event_id {
            return Err(HistoryError::InvalidArgument(
                "Workflow task finish ID must be > 1 && <= workflow last event ID.".into(),
            ));
        }
        let mut base_events = self.read_history(&base.run_id, 1, HISTORY_READ_MAX).await?;
        let base_last = base_events.last().map_or(0, |e| e.event_id);
        let mut later_events = base_events.split_off((finish - 1) as usize);
        let (chain, chain_last) = self.continued_runs_events(&base, &current).await?;
        later_events.extend(chain);
        let new_run_id = crate::new_run_id();
        let now = self.now();

        // The running current run is terminated in the same commit. What it
        // holds beyond the events read (a signal since, buffered ones its
        // termination writes) goes to the new run too: the read must be
        // its whole history, and its termination's events are applied
        // again after the rest.
        let mut writes = Vec::new();
        let mut terminated: Option<(Arc<RunEntry>, Transition)> = None;
        if current.is_running() {
            let entry = self.active_entry(&current.namespace, &current.workflow_id, &current.run_id).await?;
            let state = entry.state.lock().await.clone().ok_or(EngineError::WorkflowClosed)?;
            let read_last = if current.run_id == base.run_id { base_last } else { chain_last };
            // (0: the chain of runs read did not reach the current run.)
            if read_last != 0 && state.next_event_id - 1 != read_last {
                return Err(StoreError::Conflict("the run moved on while its history was read".into()).into());
            }
            let input = Input::Terminate {
                reason: r.reason.clone(),
                details: None,
                identity: engine::RESETTER_IDENTITY.into(),
            };
            let mut t = engine::apply(&state, input, now)?;
            if state.run_id == base.run_id {
                t.state.reset_run_id = new_run_id.clone();
            }
            later_events.extend(t.events.iter().cloned());
            writes.push(ExecutionWrite {
                state: t.state.clone(),
                expected_version: state.db_version,
                events: t.events.clone(),
                set_current: None,
                update_visibility: true,
            });
            terminated = Some((entry, t));
        }
        let args = engine::ResetArgs {
            namespace: base.namespace.clone(),
            namespace_id: base.namespace_id.clone(),
            workflow_id: base.workflow_id.clone(),
            base_run_id: base.run_id.clone(),
            new_run_id: new_run_id.clone(),
            base_events,
            workflow_task_finish_event_id: finish,
            later_events,
            exclude: r.exclude.clone(),
            reason: r.reason.clone(),
            request_id: r.request_id.clone(),
        };
        let new_run = engine::reset(args, now).map_err(HistoryError::InvalidArgument)?;
        // A closed base records the run that replaced it, unless the server
        // still has work on it (its cached copy is the one to change).
        let base_written = terminated.as_ref().is_some_and(|(_, t)| t.state.run_id == base.run_id);
        if !base_written && !base.needs_recovery() {
            let mut state = base.clone();
            state.reset_run_id = new_run_id.clone();
            state.db_version += 1;
            writes.push(ExecutionWrite {
                state,
                expected_version: base.db_version,
                events: Vec::new(),
                set_current: None,
                update_visibility: false,
            });
        }
        writes.push(ExecutionWrite {
            state: new_run.state.clone(),
            expected_version: 0,
            events: new_run.events.clone(),
            set_current: Some(Some(current.run_id.clone())),
            update_visibility: true,
        });
        self.commit_writes(writes).await?;
        if let Some((entry, t)) = terminated {
            let mut guard = entry.state.lock().await;
            self.after_commit(&entry, &mut guard, &t);
        }
        self.open_new_run(&new_run);
        Ok(new_run_id)
    }

    /// The events of the runs that continued `base` up to the current run,
    /// in order: what a reset of an earlier run applies again after its
    /// own later events; and the id of the current run's last event read
    /// (0 if the chain did not reach it).
    async fn continued_runs_events(
        &self,
        base: &MutableState,
        current: &MutableState,
    ) -> Result<(Vec<HistoryEvent>, i64), HistoryError> {
        let mut events = Vec::new();
        let mut current_last = 0;
        let mut next = base.new_execution_run_id.clone();
        let mut seen = 0;
        while !next.is_empty() && base.run_id != current.run_id && seen < 1000 {
            seen += 1;
            let run = self.read_history(&next, 1, HISTORY_READ_MAX).await?;
            // Continue-as-new, a retry, a cron chain's next run.
            let following = run.last().and_then(|e| match &e.attributes {
                Some(Attributes::WorkflowExecutionContinuedAsNewEventAttributes(a)) => {
                    Some(a.new_execution_run_id.clone())
                }
                Some(Attributes::WorkflowExecutionCompletedEventAttributes(a)) => Some(a.new_execution_run_id.clone()),
                Some(Attributes::WorkflowExecutionFailedEventAttributes(a)) => Some(a.new_execution_run_id.clone()),
                Some(Attributes::WorkflowExecutionTimedOutEventAttributes(a)) => Some(a.new_execution_run_id.clone()),
                _ => None,
            });
            let last = next == current.run_id;
            if last {
                current_last = run.last().map_or(0, |e| e.event_id);
            }
            events.extend(run);
            next = if last { String::new() } else { following.unwrap_or_default() };
        }
        Ok((events, current_last))
    }
}
