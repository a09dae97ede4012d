//! Work between runs of one family: starting a child and recording the
//! outcome on its parent, telling a parent that its child closed, and
//! applying a closed parent's close policy to its children. Each is retried
//! until it has taken effect on both sides; every step is idempotent (the
//! child's start by request id, the parent's records by Initiated event id).

use super::{History, HistoryError, StartPolicies};
use crate::matching::MatchTask;
use chronicle_engine::{
    self as engine, ChildClose, EngineError, Input, MutableState,
    api::{
        common::v1::WorkflowExecution,
        enums::v1::{ParentClosePolicy, StartChildWorkflowExecutionFailedCause, WorkflowIdConflictPolicy},
        history::v1::history_event::Attributes,
    },
};
use std::time::Duration;

const RETRY_DELAY: Duration = Duration::from_secs(1);
const POLICY_REASON: &str = "by parent close policy";
const SYSTEM_IDENTITY: &str = "history-service";
/// Resets of one parent a child's close follows at most.
const RESET_HOPS_MAX: usize = 16;

/// Whether an error means "this step is already done or moot".
fn settled(e: &HistoryError) -> bool {
    matches!(e, HistoryError::Engine(_) | HistoryError::NotFound(_))
}

impl History {
    /// Task::StartChild of the parent run `parent`.
    pub(super) async fn start_child(&self, parent: MatchTask, initiated_event_id: i64) {
        // The child's id and close policy, kept across retries: the parent
        // may close (and forget the child) in between.
        let mut known: Option<(String, i32)> = None;
        while let Err(e) = self.try_start_child(&parent, initiated_event_id, &mut known).await {
            if !self.holds_run(&parent.namespace, &parent.workflow_id) {
                return; // its new holder starts the child
            }
            tracing::warn!(error = %e, run_id = %parent.run_id, "starting a child failed; retrying in 1s");
            tokio::time::sleep(RETRY_DELAY).await;
        }
    }

    async fn try_start_child(
        &self,
        p: &MatchTask,
        initiated_event_id: i64,
        known: &mut Option<(String, i32)>,
    ) -> Result<(), HistoryError> {
        let parent = match self.load(&p.namespace, &p.workflow_id, &p.run_id).await {
            Ok(state) => state,
            Err(e) if settled(&e) => return Ok(()),
            Err(e) => return Err(e),
        };
        if let Some(c) = parent.children.get(&initiated_event_id) {
            *known = Some((c.workflow_id.clone(), c.parent_close_policy));
        }
        if !parent.is_running() {
            // A closed parent starts nothing; a child an earlier attempt
            // started gets the parent's close policy.
            if let Some((child_id, policy)) = known.clone()
                && let Ok(run) = self.current_run_id(&p.namespace, &child_id).await
            {
                self.enforce_policy(&p.namespace, &child_id, &run, &p.run_id, policy).await?;
            }
            return Ok(());
        }
        let run_id = crate::new_run_id();
        let Some(args) = engine::child_start_args(&parent, initiated_event_id, run_id) else {
            return Ok(()); // already started or failed
        };
        let policy = known.as_ref().map(|(_, policy)| *policy).unwrap_or_default();
        let policies = StartPolicies {
            reuse: engine::child_reuse_policy(&parent, initiated_event_id),
            conflict: WorkflowIdConflictPolicy::Fail,
        };
        let child_id = args.workflow_id.clone();
        let (input, child_run) = match self.start_anywhere(args, policies).await {
            Ok(started) => {
                (Input::ChildStarted { initiated_event_id, run_id: started.run_id.clone() }, Some(started.run_id))
            }
            Err(HistoryError::AlreadyStarted { .. }) => (
                Input::ChildStartFailed {
                    initiated_event_id,
                    cause: StartChildWorkflowExecutionFailedCause::WorkflowAlreadyExists,
                },
                None,
            ),
            Err(e) => return Err(e),
        };
        match self.execute(&p.namespace, &p.workflow_id, &p.run_id, input).await {
            Ok(_) => Ok(()),
            Err(HistoryError::Engine(EngineError::WorkflowClosed)) => {
                // The parent closed while its child was starting; its close
                // policy may have missed the child, so apply it here.
                if let Some(run) = child_run {
                    self.enforce_policy(&p.namespace, &child_id, &run, &p.run_id, policy).await?;
                }
                Ok(())
            }
            Err(e) if settled(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Task::NotifyParent of the closed child run `child`.
    pub(super) async fn notify_parent(&self, child: MatchTask) {
        while let Err(e) = self.try_notify_parent(&child).await {
            if !self.holds_run(&child.namespace, &child.workflow_id) {
                return; // its new holder tells the parent
            }
            tracing::warn!(error = %e, run_id = %child.run_id, "telling a parent failed; retrying in 1s");
            tokio::time::sleep(RETRY_DELAY).await;
        }
    }

    async fn try_notify_parent(&self, c: &MatchTask) -> Result<(), HistoryError> {
        let state = self.load(&c.namespace, &c.workflow_id, &c.run_id).await?;
        if !state.parent_notification_pending {
            return Ok(());
        }
        let started = state.started.clone().unwrap_or_default();
        if let Some(parent) = started.parent_workflow_execution.as_ref() {
            let closed = self.child_close(&state).await?;
            let input = Input::ChildClosed {
                initiated_event_id: started.parent_initiated_event_id,
                run_id: started.first_execution_run_id.clone(),
                closed,
            };
            let ns = if started.parent_workflow_namespace.is_empty() {
                &state.namespace
            } else {
                &started.parent_workflow_namespace
            };
            // A parent reset while this child ran waits in the run the
            // reset started (it keeps the child pending): follow the resets.
            let mut parent_run = parent.run_id.clone();
            for _ in 0..RESET_HOPS_MAX {
                match self.apply_anywhere(ns, &parent.workflow_id, &parent_run, input.clone()).await {
                    Ok(_) => break,
                    Err(e) if settled(&e) => {} // the parent is gone or already knows
                    Err(e) => return Err(e),
                }
                match self.load(ns, &parent.workflow_id, &parent_run).await {
                    Ok(p) if !p.reset_run_id.is_empty() && !p.is_running() => parent_run = p.reset_run_id,
                    _ => break,
                }
            }
        }
        match self.execute(&c.namespace, &c.workflow_id, &c.run_id, Input::ParentNotified).await {
            Ok(_) => Ok(()),
            Err(e) if settled(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// How a closed run ended, from its close event.
    async fn child_close(&self, state: &MutableState) -> Result<ChildClose, HistoryError> {
        let events = self.store.read_history(&state.run_id, state.close_event_id, 1).await?;
        let execution = WorkflowExecution { workflow_id: state.workflow_id.clone(), run_id: state.run_id.clone() };
        let attrs = events.into_iter().next().and_then(|e| e.attributes);
        Ok(match attrs {
            Some(Attributes::WorkflowExecutionCompletedEventAttributes(a)) => {
                ChildClose::Completed { execution, result: a.result }
            }
            Some(Attributes::WorkflowExecutionFailedEventAttributes(a)) => {
                ChildClose::Failed { execution, failure: a.failure.map(Box::new), retry_state: a.retry_state }
            }
            Some(Attributes::WorkflowExecutionCanceledEventAttributes(a)) => {
                ChildClose::Canceled { execution, details: a.details }
            }
            Some(Attributes::WorkflowExecutionTimedOutEventAttributes(a)) => {
                ChildClose::TimedOut { execution, retry_state: a.retry_state }
            }
            _ => ChildClose::Terminated { execution },
        })
    }

    /// Task::ApplyParentClosePolicy of the closed parent run `parent`.
    pub(super) async fn apply_parent_close_policy(&self, parent: MatchTask, initiated_event_id: i64) {
        while let Err(e) = self.try_apply_parent_close_policy(&parent, initiated_event_id).await {
            if !self.holds_run(&parent.namespace, &parent.workflow_id) {
                return; // its new holder applies the policy
            }
            tracing::warn!(error = %e, run_id = %parent.run_id, "parent close policy failed; retrying in 1s");
            tokio::time::sleep(RETRY_DELAY).await;
        }
    }

    async fn try_apply_parent_close_policy(&self, p: &MatchTask, initiated_event_id: i64) -> Result<(), HistoryError> {
        let parent = self.load(&p.namespace, &p.workflow_id, &p.run_id).await?;
        let Some(child) = parent.children.get(&initiated_event_id).filter(|c| c.close_policy_pending).cloned() else {
            return Ok(());
        };
        // A parent terminated by a reset hands its children to the run the
        // reset started, as on Temporal: no close policy applies.
        if !parent.reset_run_id.is_empty() {
            let done = Input::ChildClosePolicyApplied { initiated_event_id };
            return match self.execute(&p.namespace, &p.workflow_id, &p.run_id, done).await {
                Err(e) if !settled(&e) => Err(e),
                _ => Ok(()),
            };
        }
        // Serialised with a start of the child's id on this node
        // (`History::start` holds the same lock): a child still being
        // started is seen here, or its starter sees the parent closed and
        // applies the policy itself. In a cluster the child's start may be
        // on another node; the starter's check of the parent covers that.
        let _held = self.workflow_locks.lock((p.namespace.clone(), child.workflow_id.clone())).await;
        // The child may have continued as new: its current run carries the
        // same parent.
        match self.current_run_id(&p.namespace, &child.workflow_id).await {
            Ok(run) => {
                self.enforce_policy(&p.namespace, &child.workflow_id, &run, &p.run_id, child.parent_close_policy)
                    .await?;
            }
            Err(e) if settled(&e) => {}
            Err(e) => return Err(e),
        }
        let done = Input::ChildClosePolicyApplied { initiated_event_id };
        match self.execute(&p.namespace, &p.workflow_id, &p.run_id, done).await {
            Ok(_) => Ok(()),
            Err(e) if settled(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Terminates or cancels the child's chain from `run_id` on: the run if
    /// it is open and a child of `parent_run_id`, or the run that continued
    /// it (continue-as-new, retry, cron) if it closed meanwhile.
    async fn enforce_policy(
        &self,
        namespace: &str,
        workflow_id: &str,
        run_id: &str,
        parent_run_id: &str,
        policy: i32,
    ) -> Result<(), HistoryError> {
        let input = match ParentClosePolicy::try_from(policy).unwrap_or(ParentClosePolicy::Terminate) {
            ParentClosePolicy::Abandon => return Ok(()),
            ParentClosePolicy::RequestCancel => {
                Input::RequestCancel { reason: POLICY_REASON.into(), identity: SYSTEM_IDENTITY.into(), external: None }
            }
            _ => Input::Terminate { reason: POLICY_REASON.into(), details: None, identity: SYSTEM_IDENTITY.into() },
        };
        let mut run = run_id.to_string();
        // Bounded: a chain cannot move on forever while we chase it.
        for _ in 0..100 {
            let target = match self.load(namespace, workflow_id, &run).await {
                Ok(state) => state,
                Err(e) if settled(&e) => return Ok(()),
                Err(e) => return Err(e),
            };
            let is_child = target
                .started
                .as_ref()
                .and_then(|s| s.parent_workflow_execution.as_ref())
                .is_some_and(|p| p.run_id == parent_run_id);
            if !is_child {
                return Ok(());
            }
            if !target.is_running() {
                if target.new_execution_run_id.is_empty() {
                    return Ok(()); // the chain ended on its own
                }
                run = target.new_execution_run_id.clone();
                continue;
            }
            match self.apply_anywhere(namespace, workflow_id, &run, input.clone()).await {
                Ok(()) => return Ok(()),
                // Closed meanwhile: look again (and follow the chain).
                Err(HistoryError::Engine(EngineError::WorkflowClosed)) => continue,
                Err(e) if settled(&e) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
