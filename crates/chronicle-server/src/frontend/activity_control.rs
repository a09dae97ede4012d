//! PauseActivity, UnpauseActivity, ResetActivity: checked as Temporal's
//! frontend checks them, then one engine input on the run
//! (`engine::activity_control`; no events).

use super::{Frontend, map_err};
use crate::errors;
use chronicle_engine::Input;
use chronicle_engine::activity_control::{Control, Selector};
use chronicle_engine::api::activity::v1::ActivityOptions;
use chronicle_engine::api::common::v1::WorkflowExecution;
use chronicle_engine::api::workflowservice::v1::{
    PauseActivityExecutionRequest, PauseActivityExecutionResponse, PauseActivityRequest, PauseActivityResponse,
    ResetActivityExecutionRequest, ResetActivityExecutionResponse, ResetActivityRequest, ResetActivityResponse,
    UnpauseActivityExecutionRequest, UnpauseActivityExecutionResponse, UnpauseActivityRequest, UnpauseActivityResponse,
    pause_activity_request, reset_activity_request, unpause_activity_request,
};
use chronicle_engine::api::workflowservice::v1::{
    UpdateActivityExecutionOptionsRequest, UpdateActivityExecutionOptionsResponse, UpdateActivityOptionsRequest,
    UpdateActivityOptionsResponse, update_activity_options_request,
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
        if r.restore_original_options {
            self.restore_before_reset(&r.namespace, &r.execution, &activity).await?;
        }
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
        if r.restore_original_options {
            self.restore_before_reset(&r.namespace, &execution, &activity).await?;
        }
        let control = Control::Reset {
            activity,
            reset_heartbeat: r.reset_heartbeat,
            keep_paused: r.keep_paused,
            delay: jittered(r.jitter),
        };
        self.control_activity(&r.namespace, &execution, control).await?;
        Ok(ResetActivityExecutionResponse {})
    }

    pub(super) async fn update_activity_options_of(
        &self,
        r: UpdateActivityOptionsRequest,
    ) -> Result<UpdateActivityOptionsResponse, Status> {
        use update_activity_options_request::Activity;
        let activity = match r.activity {
            Some(Activity::Id(id)) => Selector::Id(id),
            Some(Activity::Type(t)) => Selector::Type(t),
            Some(Activity::MatchAll(true)) => Selector::All,
            _ => return Err(checked(&r.execution).err().unwrap_or_else(|| errors::invalid(NO_ACTIVITY))),
        };
        let paths = r.update_mask.map(|m| m.paths);
        let activity_options = self
            .update_options(&r.namespace, &r.execution, activity, r.activity_options, paths, r.restore_original)
            .await?;
        Ok(UpdateActivityOptionsResponse { activity_options })
    }

    pub(super) async fn update_activity_execution_options_of(
        &self,
        r: UpdateActivityExecutionOptionsRequest,
    ) -> Result<UpdateActivityExecutionOptionsResponse, Status> {
        let (execution, activity) = execution_activity(&r.workflow_id, &r.run_id, r.activity_id)?;
        let paths = r.update_mask.map(|m| m.paths);
        let activity_options = self
            .update_options(&r.namespace, &execution, activity, r.activity_options, paths, r.restore_original)
            .await?;
        Ok(UpdateActivityExecutionOptionsResponse { activity_options })
    }

    /// UpdateActivityOptions, checked as Temporal checks it; answers the
    /// options of the last activity changed.
    async fn update_options(
        &self,
        namespace: &str,
        execution: &Option<WorkflowExecution>,
        activity: Selector,
        options: Option<ActivityOptions>,
        paths: Option<Vec<String>>,
        restore_original: bool,
    ) -> Result<Option<ActivityOptions>, Status> {
        checked(execution)?;
        if restore_original && paths.as_ref().is_some_and(|p| !p.is_empty()) {
            return Err(errors::invalid("Both UpdateMask and RestoreOriginal are provided"));
        }
        let s = self.resolve(namespace, execution).await?;
        let originals = if restore_original { Some(self.original_options(&s, &activity).await?) } else { None };
        let options = match (originals.is_some(), options) {
            (true, options) => options.unwrap_or_default(),
            (false, Some(options)) => options,
            (false, None) => return Err(errors::invalid("ActivityOptions are not provided")),
        };
        let paths = match (originals.is_some(), paths) {
            (true, _) => Vec::new(),
            (false, Some(paths)) => paths.iter().map(|p| camel_path(p)).collect(),
            (false, None) => return Err(errors::invalid("UpdateMask is not provided")),
        };
        let control =
            Control::UpdateOptions { activity: activity.clone(), options: Box::new(options), paths, originals };
        let t = self.control_on(&s, control).await?;
        let last = chronicle_engine::activity_control::select(&t.state, &activity).last().copied();
        let start_delay = t.state.standalone.as_ref().and_then(|s| s.start_delay);
        Ok(last
            .and_then(|id| t.state.activities.get(&id))
            .map(|info| ActivityOptions { start_delay, ..chronicle_engine::activity_control::options_of(info) }))
    }

    /// Each selected activity's options as its ActivityTaskScheduled event
    /// has them.
    async fn original_options(
        &self,
        s: &chronicle_engine::MutableState,
        activity: &Selector,
    ) -> Result<std::collections::BTreeMap<i64, ActivityOptions>, Status> {
        use chronicle_engine::api::history::v1::history_event::Attributes;
        let mut originals = std::collections::BTreeMap::new();
        for id in chronicle_engine::activity_control::select(s, activity) {
            let events = self.history.read_history(&s.run_id, id, 1).await.map_err(map_err)?;
            let Some(Attributes::ActivityTaskScheduledEventAttributes(a)) =
                events.into_iter().next().and_then(|e| e.attributes)
            else {
                return Err(errors::invalid(format!("ActivityTaskScheduledEvent not found, {id}")));
            };
            let options = ActivityOptions {
                task_queue: a.task_queue,
                schedule_to_close_timeout: a.schedule_to_close_timeout,
                schedule_to_start_timeout: a.schedule_to_start_timeout,
                start_to_close_timeout: a.start_to_close_timeout,
                heartbeat_timeout: a.heartbeat_timeout,
                retry_policy: a.retry_policy,
                priority: a.priority,
                ..Default::default()
            };
            originals.insert(id, options);
        }
        Ok(originals)
    }

    /// ResetActivity's `restore_original_options`: the options first.
    async fn restore_before_reset(
        &self,
        namespace: &str,
        execution: &Option<WorkflowExecution>,
        activity: &Selector,
    ) -> Result<(), Status> {
        checked(execution)?;
        let s = self.resolve(namespace, execution).await?;
        let originals = self.original_options(&s, activity).await?;
        let control = Control::UpdateOptions {
            activity: activity.clone(),
            options: Box::default(),
            paths: Vec::new(),
            originals: Some(originals),
        };
        self.control_on(&s, control).await.map(drop)
    }

    async fn control_activity(
        &self,
        namespace: &str,
        execution: &Option<WorkflowExecution>,
        control: Control,
    ) -> Result<(), Status> {
        checked(execution)?;
        let s = self.resolve(namespace, execution).await?;
        self.control_on(&s, control).await.map(drop)
    }

    async fn control_on(
        &self,
        s: &chronicle_engine::MutableState,
        control: Control,
    ) -> Result<chronicle_engine::Transition, Status> {
        let input = Input::ActivityControl(Box::new(control));
        self.history.execute(&s.namespace, &s.workflow_id, &s.run_id, input).await.map_err(map_err)
    }
}

/// A workflow's activity by id; no workflow id names a standalone
/// activity (its own run).
fn execution_activity(
    workflow_id: &str,
    run_id: &str,
    activity_id: String,
) -> Result<(Option<WorkflowExecution>, Selector), Status> {
    if activity_id.is_empty() {
        return Err(errors::invalid("ActivityId is not set on request."));
    }
    let workflow_id = super::standalone::by_id_key(workflow_id, &activity_id);
    let execution = WorkflowExecution { workflow_id, run_id: run_id.to_string() };
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

/// A field-mask path as Temporal compares it: each segment lowerCamel
/// (`retry_policy.maximum_attempts` is `retryPolicy.maximumAttempts`).
fn camel_path(path: &str) -> String {
    path.split('.')
        .map(|segment| {
            let mut out = String::new();
            let mut upper = false;
            for c in segment.chars() {
                if c == '_' {
                    upper = true;
                } else if upper {
                    out.extend(c.to_uppercase());
                    upper = false;
                } else {
                    out.push(c);
                }
            }
            out
        })
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    #[test]
    fn mask_paths_are_compared_in_lower_camel() {
        assert_eq!(super::camel_path("retry_policy.maximum_attempts"), "retryPolicy.maximumAttempts");
        assert_eq!(super::camel_path("startToCloseTimeout"), "startToCloseTimeout");
        assert_eq!(super::camel_path("task_queue.name"), "taskQueue.name");
    }
}
