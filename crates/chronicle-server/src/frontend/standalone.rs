//! Standalone activities: StartActivityExecution, Describe, Poll, List,
//! Count, RequestCancel, Terminate and Delete, with Temporal's validation
//! and messages.
//!
//! A standalone activity is kept as a run of its own (the engine's
//! `standalone.rs`) under a key of its own: its activity id behind a prefix
//! no workflow id starts with in practice (a control character), so
//! activity ids and workflow ids never meet, and every run service — the
//! id policies, request-id dedupe, the cache, timers, matching, cluster
//! shards, retention — serves it unchanged. Workflow listings leave these
//! runs out, activity listings read only them.

use super::workflows::{check_payloads, check_task_queue_length};
use super::{Frontend, map_err};
use crate::errors;
use crate::history::StartPolicies;
use crate::visibility::{Expr, Field, Query, System, status_name};
use chronicle_engine::api::{
    activity::v1::{ActivityExecutionInfo, ActivityExecutionListInfo},
    command::v1::ScheduleActivityTaskCommandAttributes,
    common::v1::{ActivityType, WorkflowExecution},
    enums::v1::{
        ActivityExecutionStatus, ActivityIdConflictPolicy, ActivityIdReusePolicy, PendingActivityState,
        WorkflowExecutionStatus, WorkflowIdConflictPolicy, WorkflowIdReusePolicy,
    },
    workflow::v1::WorkflowExecutionInfo,
    workflowservice::v1::*,
};
use chronicle_engine::{ActivityInfo, ActivityStart, EngineError, Input, MutableState, StandaloneRequest, StartArgs};
use chronicle_engine::{limits, time};
use prost::Message;
use std::time::Duration;
use tonic::Status;

/// The start of every standalone activity's run key.
pub(crate) const KEY_PREFIX: &str = "\u{1f}activity\u{1f}";

/// The run key of the standalone activity `activity_id`.
pub(crate) fn key(activity_id: &str) -> String {
    format!("{KEY_PREFIX}{activity_id}")
}

/// The activity id a run key holds, if it is a standalone activity's.
pub(crate) fn activity_id(key: &str) -> Option<&str> {
    key.strip_prefix(KEY_PREFIX)
}

/// What a worker's ...ById call is routed by: the workflow it names, or
/// with none, the standalone activity.
pub(super) fn by_id_key(workflow_id: &str, activity_id: &str) -> String {
    match (workflow_id.is_empty(), activity_id.is_empty()) {
        (true, false) => key(activity_id),
        _ => workflow_id.to_string(),
    }
}

/// Temporal caps a Describe or Poll wait at `activity.longPollTimeout`.
const LONG_POLL_MAX: Duration = Duration::from_secs(20);

/// When a Describe or Poll wait gives up: before the caller's deadline (as
/// every long poll), and after `LONG_POLL_MAX` at most.
pub(super) fn long_poll_deadline<T>(r: &tonic::Request<T>) -> tokio::time::Instant {
    crate::longpoll::deadline(r).min(tokio::time::Instant::now() + LONG_POLL_MAX)
}

/// Describe's long-poll token: the run and the state version it saw.
#[derive(Clone, PartialEq, prost::Message)]
struct LongPollToken {
    #[prost(string, tag = "1")]
    run_id: String,
    #[prost(int64, tag = "2")]
    version: i64,
}

fn not_found(activity_id: &str) -> Status {
    errors::not_found(format!("activity not found for ID: {activity_id}"))
}

fn check_activity_id(id: &str) -> Result<(), Status> {
    if id.is_empty() {
        return Err(errors::invalid("activity ID is required"));
    }
    if id.len() > limits::ID_BYTES_MAX {
        return Err(errors::invalid(format!(
            "activity ID exceeds length limit. Length={} Limit={}",
            id.len(),
            limits::ID_BYTES_MAX
        )));
    }
    Ok(())
}

fn check_run_id(run_id: &str) -> Result<(), Status> {
    if !run_id.is_empty() && uuid::Uuid::parse_str(run_id).is_err() {
        return Err(errors::invalid("invalid run id: must be a valid UUID"));
    }
    Ok(())
}

fn check_request(request_id: &str, identity: &str) -> Result<(), Status> {
    for (what, value) in [("request ID", request_id), ("identity", identity)] {
        if value.len() > limits::ID_BYTES_MAX {
            return Err(errors::invalid(format!(
                "{what} exceeds length limit. Length={} Limit={}",
                value.len(),
                limits::ID_BYTES_MAX
            )));
        }
    }
    Ok(())
}

fn request_id_or_new(request_id: String) -> String {
    if request_id.is_empty() { uuid::Uuid::new_v4().to_string() } else { request_id }
}

/// A workflow status as the activity status it stands for.
fn activity_status(status: i32) -> ActivityExecutionStatus {
    match WorkflowExecutionStatus::try_from(status).unwrap_or_default() {
        WorkflowExecutionStatus::Running => ActivityExecutionStatus::Running,
        WorkflowExecutionStatus::Completed => ActivityExecutionStatus::Completed,
        WorkflowExecutionStatus::Failed => ActivityExecutionStatus::Failed,
        WorkflowExecutionStatus::Canceled => ActivityExecutionStatus::Canceled,
        WorkflowExecutionStatus::Terminated => ActivityExecutionStatus::Terminated,
        WorkflowExecutionStatus::TimedOut => ActivityExecutionStatus::TimedOut,
        _ => ActivityExecutionStatus::Unspecified,
    }
}

/// The activity of a standalone run: pending while it runs, as it ended
/// once closed.
fn activity_of(s: &MutableState) -> Option<&ActivityInfo> {
    s.activities.values().next().map(|a| &**a).or_else(|| s.standalone.as_ref().and_then(|x| x.last.as_ref()))
}

fn run_state(s: &MutableState, a: &ActivityInfo) -> PendingActivityState {
    if !s.is_running() {
        PendingActivityState::Unspecified
    } else if a.paused {
        if a.is_started() { PendingActivityState::PauseRequested } else { PendingActivityState::Paused }
    } else if a.cancel_requested {
        PendingActivityState::CancelRequested
    } else if a.is_started() {
        PendingActivityState::Started
    } else {
        PendingActivityState::Scheduled
    }
}

fn duration_between(from: &prost_types::Timestamp, to: &prost_types::Timestamp) -> prost_types::Duration {
    time::dur_from_nanos((time::ts_nanos(to) - time::ts_nanos(from)).max(0))
}

/// DescribeActivityExecution's view of a standalone run.
fn describe_info(s: &MutableState, heartbeat_details: bool, last_failure: bool) -> ActivityExecutionInfo {
    let a = activity_of(s).cloned().unwrap_or_default();
    let standalone = s.standalone.clone().unwrap_or_default();
    let schedule_time = s.start_time.unwrap_or_default();
    let execution_time = match standalone.start_delay {
        Some(d) => time::add(&schedule_time, &d),
        None => schedule_time,
    };
    let running = s.is_running();
    let backing_off = running && !a.is_started() && a.attempt > 1;
    ActivityExecutionInfo {
        activity_id: activity_id(&s.workflow_id).unwrap_or_default().to_string(),
        run_id: s.run_id.clone(),
        activity_type: a.activity_type.clone(),
        // A paused activity shows so while it runs, as on Temporal.
        status: match running && a.paused {
            true => ActivityExecutionStatus::Paused,
            false => activity_status(s.status),
        } as i32,
        run_state: run_state(s, &a) as i32,
        task_queue: a.task_queue.as_ref().map(|t| t.name.clone()).unwrap_or_default(),
        schedule_to_close_timeout: a.schedule_to_close_timeout,
        schedule_to_start_timeout: a.schedule_to_start_timeout,
        start_to_close_timeout: a.start_to_close_timeout,
        heartbeat_timeout: a.heartbeat_timeout,
        retry_policy: a.retry_policy.clone(),
        heartbeat_details: a.last_heartbeat_details.clone().filter(|_| heartbeat_details),
        last_heartbeat_time: a.last_heartbeat_time,
        last_started_time: a.started_time,
        attempt: a.attempt,
        execution_duration: s.close_time.filter(|_| !running).map(|close| duration_between(&schedule_time, &close)),
        schedule_time: Some(schedule_time),
        expiration_time: a
            .schedule_to_close_timeout
            .filter(|d| time::is_set(Some(d)))
            .map(|d| time::add(&execution_time, &d)),
        close_time: s.close_time.filter(|_| !running),
        last_failure: a.last_failure.clone().filter(|_| last_failure),
        last_worker_identity: if a.started_identity.is_empty() {
            a.last_worker_identity.clone()
        } else {
            a.started_identity.clone()
        },
        current_retry_interval: match (
            backing_off,
            standalone.last_attempt_complete_time,
            a.current_attempt_scheduled_time,
        ) {
            (true, Some(done), Some(next)) => Some(duration_between(&done, &next)),
            _ => None,
        },
        last_attempt_complete_time: standalone.last_attempt_complete_time,
        next_attempt_schedule_time: a.current_attempt_scheduled_time.filter(|_| backing_off),
        priority: a.priority.clone(),
        state_transition_count: s.db_version,
        state_size_bytes: s.history_size_bytes,
        search_attributes: Some(s.search_attributes.clone().unwrap_or_default()),
        header: a.header.clone(),
        user_metadata: s.start_user_metadata.clone(),
        canceled_reason: standalone.canceled_reason.clone(),
        total_heartbeat_count: standalone.total_heartbeat_count,
        start_delay: standalone.start_delay,
        execution_time: Some(execution_time),
        ..Default::default()
    }
}

/// A visibility row of a standalone run as ListActivityExecutions gives it.
fn list_info(info: WorkflowExecutionInfo) -> ActivityExecutionListInfo {
    let execution = info.execution.unwrap_or_default();
    let closed = info.close_time;
    ActivityExecutionListInfo {
        activity_id: activity_id(&execution.workflow_id).unwrap_or_default().to_string(),
        run_id: execution.run_id,
        activity_type: info.r#type.map(|t| ActivityType { name: t.name }),
        schedule_time: info.start_time,
        close_time: closed,
        status: activity_status(info.status) as i32,
        search_attributes: Some(info.search_attributes.unwrap_or_default()),
        task_queue: info.task_queue,
        // Temporal's listing counts transitions once the activity closed.
        state_transition_count: if closed.is_some() { info.state_transition_count } else { 0 },
        // Temporal's listing leaves it out.
        state_size_bytes: 0,
        execution_duration: match (info.start_time, closed) {
            (Some(start), Some(close)) => Some(duration_between(&start, &close)),
            _ => None,
        },
        execution_time: info.execution_time,
    }
}

/// Only standalone activities' runs (`activities`), or none of them.
pub(super) fn scoped(mut query: Query, activities: bool) -> Query {
    let theirs = Expr::StartsWith { field: Field::System(System::WorkflowId), prefix: KEY_PREFIX.to_string() };
    let scope = if activities { theirs } else { Expr::Not(Box::new(theirs)) };
    query.filter = Some(match query.filter.take() {
        Some(filter) => Expr::And(vec![scope, filter]),
        None => scope,
    });
    query
}

impl Frontend {
    /// The standalone activity's run, its latest if `run_id` is empty.
    async fn activity_run(&self, namespace: &str, activity_id: &str, run_id: &str) -> Result<MutableState, Status> {
        self.check_namespace(namespace)?;
        check_activity_id(activity_id)?;
        check_run_id(run_id)?;
        match self.history.load(namespace, &key(activity_id), run_id).await {
            Ok(s) if s.standalone.is_some() => Ok(s),
            Ok(_) => Err(not_found(activity_id)),
            Err(e) => match map_err(e) {
                s if s.code() == tonic::Code::NotFound => Err(not_found(activity_id)),
                s => Err(s),
            },
        }
    }

    pub(super) async fn start_activity_execution_of(
        &self,
        r: StartActivityExecutionRequest,
    ) -> Result<StartActivityExecutionResponse, Status> {
        self.check_namespace(&r.namespace)?;
        let task_queue = r.task_queue.as_ref().map(|t| t.name.clone()).unwrap_or_default();
        if task_queue.is_empty() {
            return Err(errors::invalid("TaskQueue is not set on request."));
        }
        check_task_queue_length(&task_queue)?;
        if r.activity_id.is_empty() {
            return Err(errors::invalid("activityId is not set"));
        }
        let activity_type = r.activity_type.as_ref().map(|t| t.name.clone()).unwrap_or_default();
        if activity_type.is_empty() {
            return Err(errors::invalid("activityType is not set"));
        }
        for (what, value) in [("activityId", &r.activity_id), ("activityType", &activity_type)] {
            if value.len() > limits::ID_BYTES_MAX {
                return Err(errors::invalid(format!(
                    "{what} exceeds length limit. Length={} Limit={}",
                    value.len(),
                    limits::ID_BYTES_MAX
                )));
            }
        }
        let retry_policy = chronicle_engine::normalize_retry_policy(r.retry_policy.clone()).map_err(errors::invalid)?;
        for (name, d) in [
            ("ScheduleToCloseTimeout", &r.schedule_to_close_timeout),
            ("ScheduleToStartTimeout", &r.schedule_to_start_timeout),
            ("StartToCloseTimeout", &r.start_to_close_timeout),
            ("HeartbeatTimeout", &r.heartbeat_timeout),
            ("StartDelay", &r.start_delay),
        ] {
            if let Some(cause) = d.as_ref().and_then(time::dur_invalid) {
                return Err(errors::invalid(format!("invalid {name}: {cause}")));
            }
        }
        let set = |d: &Option<prost_types::Duration>| d.as_ref().is_some_and(|d| time::dur_nanos(d) > 0);
        if !set(&r.schedule_to_close_timeout) && !set(&r.start_to_close_timeout) {
            return Err(errors::invalid(format!(
                "a valid StartToCloseTimeout or ScheduleToCloseTimeout must be set on the activity. ActivityId={} ActivityType={}",
                r.activity_id, activity_type
            )));
        }
        check_request(&r.request_id, &r.identity)?;
        check_payloads("input", &r.input).map_err(|_| errors::invalid("input exceeds length limit"))?;
        let reuse = match ActivityIdReusePolicy::try_from(r.id_reuse_policy) {
            Ok(ActivityIdReusePolicy::Unspecified | ActivityIdReusePolicy::AllowDuplicate) => {
                WorkflowIdReusePolicy::AllowDuplicate
            }
            Ok(ActivityIdReusePolicy::AllowDuplicateFailedOnly) => WorkflowIdReusePolicy::AllowDuplicateFailedOnly,
            Ok(ActivityIdReusePolicy::RejectDuplicate) => WorkflowIdReusePolicy::RejectDuplicate,
            Err(_) => return Err(errors::invalid(format!("unsupported ID reuse policy: {}", r.id_reuse_policy))),
        };
        let conflict = match ActivityIdConflictPolicy::try_from(r.id_conflict_policy) {
            Ok(ActivityIdConflictPolicy::Unspecified | ActivityIdConflictPolicy::Fail) => {
                WorkflowIdConflictPolicy::Fail
            }
            Ok(ActivityIdConflictPolicy::UseExisting) => WorkflowIdConflictPolicy::UseExisting,
            Err(_) => {
                return Err(errors::invalid(format!("unsupported ID conflict policy: {}", r.id_conflict_policy)));
            }
        };
        let attrs = ScheduleActivityTaskCommandAttributes {
            activity_id: r.activity_id.clone(),
            activity_type: r.activity_type.clone(),
            task_queue: r.task_queue.clone(),
            header: r.header.clone(),
            input: r.input.clone(),
            schedule_to_close_timeout: r.schedule_to_close_timeout,
            schedule_to_start_timeout: r.schedule_to_start_timeout,
            start_to_close_timeout: r.start_to_close_timeout,
            heartbeat_timeout: r.heartbeat_timeout,
            retry_policy: Some(retry_policy),
            priority: r.priority.clone(),
            ..Default::default()
        };
        let run_id = crate::new_run_id();
        let args = StartArgs {
            namespace_id: self.namespaces.get(&r.namespace).map(|n| n.id).unwrap_or_default(),
            namespace: r.namespace.clone(),
            workflow_id: key(&r.activity_id),
            run_id: run_id.clone(),
            workflow_type: activity_type,
            task_queue,
            input: r.input,
            identity: r.identity,
            request_id: request_id_or_new(r.request_id),
            search_attributes: r.search_attributes,
            header: r.header,
            priority: r.priority,
            user_metadata: r.user_metadata,
            activity: Some(Box::new(ActivityStart { attrs, start_delay: r.start_delay })),
            versioning_override: None,
            ..Default::default()
        };
        let started = match self.history.start(args, StartPolicies { reuse, conflict }).await {
            Ok(started) => started,
            Err(crate::history::HistoryError::AlreadyStarted { start_request_id, run_id, .. }) => {
                return Err(errors::activity_already_started(&start_request_id, &run_id));
            }
            Err(e) => return Err(map_err(e)),
        };
        // A repeated request id, or USE_EXISTING, names the run there is.
        let created = started.started && started.run_id == run_id;
        Ok(StartActivityExecutionResponse { run_id: started.run_id, started: created, ..Default::default() })
    }

    pub(super) async fn describe_activity_execution_of(
        &self,
        r: DescribeActivityExecutionRequest,
        deadline: tokio::time::Instant,
    ) -> Result<DescribeActivityExecutionResponse, Status> {
        self.check_namespace(&r.namespace)?;
        check_activity_id(&r.activity_id)?;
        if !r.long_poll_token.is_empty() && r.run_id.is_empty() {
            return Err(errors::invalid("run id is required when long poll token is provided"));
        }
        let mut s = self.activity_run(&r.namespace, &r.activity_id, &r.run_id).await?;
        if !r.long_poll_token.is_empty() {
            let token = LongPollToken::decode(r.long_poll_token.as_slice())
                .map_err(|_| errors::invalid("invalid long poll token"))?;
            if token.run_id != s.run_id {
                return Err(errors::invalid("long poll token does not match execution"));
            }
            let (latest, changed) = self.wait_for_state(&s, deadline, |st| st.db_version != token.version).await?;
            if !changed || latest.db_version == token.version {
                // Nothing changed in time: an empty answer, asked again.
                return Ok(DescribeActivityExecutionResponse::default());
            }
            s = latest;
        }
        let info = describe_info(&s, r.include_heartbeat_details, r.include_last_failure);
        let outcome = s.standalone.as_ref().and_then(|x| x.outcome.clone()).filter(|_| r.include_outcome);
        let input = s.started.as_ref().and_then(|st| st.input.clone()).filter(|_| r.include_input);
        let long_poll_token = LongPollToken { run_id: s.run_id.clone(), version: s.db_version }.encode_to_vec();
        Ok(DescribeActivityExecutionResponse {
            run_id: s.run_id.clone(),
            info: Some(info),
            input,
            outcome,
            long_poll_token,
            ..Default::default()
        })
    }

    pub(super) async fn poll_activity_execution_of(
        &self,
        r: PollActivityExecutionRequest,
        deadline: tokio::time::Instant,
    ) -> Result<PollActivityExecutionResponse, Status> {
        let s = self.activity_run(&r.namespace, &r.activity_id, &r.run_id).await?;
        let (s, _) = self.wait_for_state(&s, deadline, |st| !st.is_running()).await?;
        if s.is_running() {
            // Still running at the deadline: an empty answer, asked again.
            return Ok(PollActivityExecutionResponse::default());
        }
        let outcome = s.standalone.as_ref().and_then(|x| x.outcome.clone());
        Ok(PollActivityExecutionResponse { run_id: s.run_id, outcome })
    }

    pub(super) async fn list_activity_executions_of(
        &self,
        r: ListActivityExecutionsRequest,
    ) -> Result<ListActivityExecutionsResponse, Status> {
        self.check_namespace(&r.namespace)?;
        let query = scoped(self.parse_activities(&r.namespace, &r.query)?, true);
        let (runs, next_page_token) = self.page(&r.namespace, &query, r.page_size, &r.next_page_token).await?;
        Ok(ListActivityExecutionsResponse { executions: runs.into_iter().map(list_info).collect(), next_page_token })
    }

    pub(super) async fn count_activity_executions_of(
        &self,
        r: CountActivityExecutionsRequest,
    ) -> Result<CountActivityExecutionsResponse, Status> {
        use count_activity_executions_response::AggregationGroup;
        self.check_namespace(&r.namespace)?;
        let query = scoped(self.parse_activities(&r.namespace, &r.query)?, true);
        let counted = self.history.count_runs(&r.namespace, &query).await.map_err(map_err)?;
        let groups = counted
            .groups
            .into_iter()
            .map(|(status, count)| AggregationGroup {
                group_values: vec![super::visibility::keyword_payload(status_name(status))],
                count,
            })
            .collect();
        Ok(CountActivityExecutionsResponse { count: counted.count, groups })
    }

    pub(super) async fn request_cancel_activity_execution_of(
        &self,
        r: RequestCancelActivityExecutionRequest,
    ) -> Result<RequestCancelActivityExecutionResponse, Status> {
        check_request(&r.request_id, &r.identity)?;
        let s = self.activity_run(&r.namespace, &r.activity_id, &r.run_id).await?;
        let request_id = request_id_or_new(r.request_id);
        if !s.is_running() {
            return Err(closed_error(&s));
        }
        let input = Input::Standalone(StandaloneRequest::Cancel { reason: r.reason, identity: r.identity, request_id });
        self.standalone_input(&s, input).await?;
        Ok(RequestCancelActivityExecutionResponse {})
    }

    pub(super) async fn terminate_activity_execution_of(
        &self,
        r: TerminateActivityExecutionRequest,
    ) -> Result<TerminateActivityExecutionResponse, Status> {
        check_request(&r.request_id, &r.identity)?;
        let s = self.activity_run(&r.namespace, &r.activity_id, &r.run_id).await?;
        let request_id = request_id_or_new(r.request_id);
        if !s.is_running() {
            let terminated_by = s.standalone.as_ref().map(|x| x.terminate_request_id.as_str()).unwrap_or_default();
            return match s.status() {
                WorkflowExecutionStatus::Terminated if terminated_by == request_id => {
                    Ok(TerminateActivityExecutionResponse {})
                }
                WorkflowExecutionStatus::Terminated => {
                    Err(Status::failed_precondition(format!("already terminated with request ID {terminated_by}")))
                }
                _ => Err(closed_error(&s)),
            };
        }
        let input =
            Input::Standalone(StandaloneRequest::Terminate { reason: r.reason, identity: r.identity, request_id });
        self.standalone_input(&s, input).await?;
        Ok(TerminateActivityExecutionResponse {})
    }

    pub(super) async fn delete_activity_execution_of(
        &self,
        r: DeleteActivityExecutionRequest,
    ) -> Result<DeleteActivityExecutionResponse, Status> {
        let s = self.activity_run(&r.namespace, &r.activity_id, &r.run_id).await?;
        let execution = WorkflowExecution { workflow_id: s.workflow_id.clone(), run_id: s.run_id.clone() };
        self.delete_run(&r.namespace, Some(execution), "Delete activity execution").await?;
        Ok(DeleteActivityExecutionResponse {})
    }

    async fn standalone_input(&self, s: &MutableState, input: Input) -> Result<(), Status> {
        match self.history.execute(&s.namespace, &s.workflow_id, &s.run_id, input).await {
            Ok(_) => Ok(()),
            // Closed since it was read.
            Err(crate::history::HistoryError::Engine(EngineError::WorkflowClosed)) => {
                let latest = self.history.load(&s.namespace, &s.workflow_id, &s.run_id).await.map_err(map_err)?;
                Err(closed_error(&latest))
            }
            Err(e) => Err(map_err(e)),
        }
    }
}

/// A request that needs a running activity, to a closed one.
fn closed_error(s: &MutableState) -> Status {
    Status::failed_precondition(format!("activity is in terminal state {}", status_name(s.status)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_hold_activity_ids_apart_from_workflow_ids() {
        assert_eq!(activity_id(&key("a-1")), Some("a-1"));
        assert_eq!(activity_id("a-1"), None);
        assert_eq!(by_id_key("", "a-1"), key("a-1"));
        assert_eq!(by_id_key("wf", "a-1"), "wf");
        assert_eq!(by_id_key("", ""), "");
    }
}
