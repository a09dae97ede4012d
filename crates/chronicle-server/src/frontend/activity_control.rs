//! PauseActivity, UnpauseActivity, ResetActivity: checked as Temporal's
//! frontend checks them, then one engine input on the run
//! (`engine::activity_control`; no events).

use super::{Frontend, map_err};
use crate::errors;
use chronicle_engine::Input;
use chronicle_engine::activity_control::{Control, Selector};
use chronicle_engine::api::common::v1::WorkflowExecution;
use chronicle_engine::api::workflowservice::v1::{
    PauseActivityExecutionRequest, PauseActivityExecutionResponse, PauseActivityRequest, PauseActivityResponse,
    ResetActivityExecutionRequest, ResetActivityExecutionResponse, ResetActivityRequest, ResetActivityResponse,
    UnpauseActivityExecutionRequest, UnpauseActivityExecutionResponse, UnpauseActivityRequest, UnpauseActivityResponse,
    pause_activity_request, reset_activity_request, unpause_activity_request,
};
use tonic::Status;

const NO_ACTIVITY: &str = "Either Activity.Id or Activity.Type should be set on request.";

impl Frontend {
    pub(super) async fn pause_activities(&self, r: PauseActivityRequest) -> Result<PauseActivityResponse, Status> {
        use pause_activity_request::Activity;
        let activity = match r.activity {
            Some(Activity::Id(id)) => Selector::Id(id),
            Some(Activity::Type(t)) => Selector::Type(t),
            None => return Err(checked(&r.execution).err().unwrap_or_else(|| errors::invalid(NO_ACTIVITY))),
        };
        let control = Control::Pause { activity, identity: r.identity, reason: r.reason };
        self.control_activity(&r.namespace, &r.execution, control).await?;
        Ok(PauseActivityResponse {})
    }

    pub(super) async fn unpause_activities(
        &self,
        r: UnpauseActivityRequest,
    ) -> Result<UnpauseActivityResponse, Status> {
        use unpause_activity_request::Activity;
        let activity = match r.activity {
            Some(Activity::Id(id)) => Selector::Id(id),
            Some(Activity::Type(t)) => Selector::Type(t),
            Some(Activity::UnpauseAll(true)) => Selector::All,
            _ => return Err(checked(&r.execution).err().unwrap_or_else(|| errors::invalid(NO_ACTIVITY))),
        };
        let control = Control::Unpause {
            activity,
            reset_attempts: r.reset_attempts,
            reset_heartbeat: r.reset_heartbeat,
            delay: jittered(r.jitter),
        };
        self.control_activity(&r.namespace, &r.execution, control).await?;
        Ok(UnpauseActivityResponse {})
    }

    pub(super) async fn reset_activities(&self, r: ResetActivityRequest) -> Result<ResetActivityResponse, Status> {
        use reset_activity_request::Activity;
        let activity = match r.activity {
            Some(Activity::Id(id)) => Selector::Id(id),
            Some(Activity::Type(t)) => Selector::Type(t),
            Some(Activity::MatchAll(true)) => Selector::All,
            _ => return Err(checked(&r.execution).err().unwrap_or_else(|| errors::invalid(NO_ACTIVITY))),
        };
        // Options are never changed here (UpdateActivityOptions is not
        // served), so restoring the original ones changes nothing.
        let control = Control::Reset {
            activity,
            reset_heartbeat: r.reset_heartbeat,
            keep_paused: r.keep_paused,
            delay: jittered(r.jitter),
        };
        self.control_activity(&r.namespace, &r.execution, control).await?;
        Ok(ResetActivityResponse {})
    }

    /// The 1.32 API's form (what `temporal activity pause` sends): one
    /// activity of a workflow by id.
    pub(super) async fn pause_activity_execution_of(
        &self,
        r: PauseActivityExecutionRequest,
    ) -> Result<PauseActivityExecutionResponse, Status> {
        let (execution, activity) = execution_activity(&r.workflow_id, &r.run_id, r.activity_id)?;
        let control = Control::Pause { activity, identity: r.identity, reason: r.reason };
        self.control_activity(&r.namespace, &execution, control).await?;
        Ok(PauseActivityExecutionResponse {})
    }

    pub(super) async fn unpause_activity_execution_of(
        &self,
        r: UnpauseActivityExecutionRequest,
    ) -> Result<UnpauseActivityExecutionResponse, Status> {
        let (execution, activity) = execution_activity(&r.workflow_id, &r.run_id, r.activity_id)?;
        let control =
            Control::Unpause { activity, reset_attempts: false, reset_heartbeat: false, delay: jittered(r.jitter) };
        self.control_activity(&r.namespace, &execution, control).await?;
        Ok(UnpauseActivityExecutionResponse {})
    }

    pub(super) async fn reset_activity_execution_of(
        &self,
        r: ResetActivityExecutionRequest,
    ) -> Result<ResetActivityExecutionResponse, Status> {
        let (execution, activity) = execution_activity(&r.workflow_id, &r.run_id, r.activity_id)?;
        let control = Control::Reset {
            activity,
            reset_heartbeat: r.reset_heartbeat,
            keep_paused: r.keep_paused,
            delay: jittered(r.jitter),
        };
        self.control_activity(&r.namespace, &execution, control).await?;
        Ok(ResetActivityExecutionResponse {})
    }

    async fn control_activity(
        &self,
        namespace: &str,
        execution: &Option<WorkflowExecution>,
        control: Control,
    ) -> Result<(), Status> {
        checked(execution)?;
        let s = self.resolve(namespace, execution).await?;
        let input = Input::ActivityControl(Box::new(control));
        self.history.execute(&s.namespace, &s.workflow_id, &s.run_id, input).await.map_err(map_err)?;
        Ok(())
    }
}

/// A workflow's activity by id; no workflow id names a standalone
/// activity, which Chronicle does not run.
fn execution_activity(
    workflow_id: &str,
    run_id: &str,
    activity_id: String,
) -> Result<(Option<WorkflowExecution>, Selector), Status> {
    if workflow_id.is_empty() {
        return Err(Status::unimplemented("standalone activities are not implemented by Chronicle"));
    }
    if activity_id.is_empty() {
        return Err(errors::invalid("ActivityId is not set on request."));
    }
    let execution = WorkflowExecution { workflow_id: workflow_id.to_string(), run_id: run_id.to_string() };
    Ok((Some(execution), Selector::Id(activity_id)))
}

/// The workflow must be named (the first check, as on Temporal).
fn checked(execution: &Option<WorkflowExecution>) -> Result<(), Status> {
    if execution.as_ref().is_none_or(|e| e.workflow_id.is_empty()) {
        return Err(errors::invalid("WorkflowId is not set on request."));
    }
    Ok(())
}

/// A delay drawn uniformly from [0, jitter).
fn jittered(jitter: Option<prost_types::Duration>) -> prost_types::Duration {
    let nanos = jitter.map(|j| chronicle_engine::time::dur_nanos(&j)).unwrap_or(0);
    if nanos <= 0 {
        return prost_types::Duration::default();
    }
    let draw = uuid::Uuid::new_v4().as_u128() % nanos as u128;
    chronicle_engine::time::dur_from_nanos(draw as i128)
}
