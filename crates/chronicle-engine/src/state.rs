//! Mutable state of one workflow run: everything the engine needs to decide
//! the next events, persisted (protobuf-encoded) beside the history in the
//! same transaction.

use crate::api::{
    common::v1::{ActivityType, Header, Payloads, Priority, RetryPolicy},
    enums::v1::WorkflowExecutionStatus,
    failure::v1::Failure,
    history::v1::{HistoryEvent, WorkflowExecutionStartedEventAttributes},
    taskqueue::v1::TaskQueue,
};
use crate::shared::Shared;
use prost_types::{Duration, Timestamp};
use std::collections::BTreeMap;

#[derive(Clone, PartialEq, prost::Message)]
pub struct MutableState {
    #[prost(string, tag = "1")]
    pub namespace: String,
    #[prost(string, tag = "2")]
    pub workflow_id: String,
    #[prost(string, tag = "3")]
    pub run_id: String,
    /// The attributes of this run's WorkflowExecutionStarted event.
    #[prost(message, optional, tag = "4")]
    pub started: Option<WorkflowExecutionStartedEventAttributes>,
    #[prost(message, optional, tag = "5")]
    pub start_time: Option<Timestamp>,
    #[prost(enumeration = "WorkflowExecutionStatus", tag = "6")]
    pub status: i32,
    /// Id the next persisted event gets.
    #[prost(int64, tag = "7")]
    pub next_event_id: i64,
    /// WorkflowTaskStarted id of the last completed workflow task, or 0
    /// (`previous_started_event_id` in poll responses).
    #[prost(int64, tag = "8")]
    pub last_completed_wft_started_event_id: i64,
    #[prost(message, optional, tag = "9")]
    pub workflow_task: Option<WorkflowTaskInfo>,
    /// Pending activities by ActivityTaskScheduled event id.
    #[prost(btree_map = "int64, message", tag = "10")]
    pub activities: BTreeMap<i64, Shared<ActivityInfo>>,
    /// Events that arrived while a workflow task was in flight, without ids;
    /// they get ids when that workflow task ends.
    #[prost(message, repeated, tag = "11")]
    pub buffered_events: Vec<HistoryEvent>,
    #[prost(int64, tag = "12")]
    pub history_size_bytes: i64,
    #[prost(message, optional, tag = "13")]
    pub close_time: Option<Timestamp>,
    #[prost(string, tag = "14")]
    pub start_request_id: String,
    /// Incremented by every committed transition; the store commits
    /// conditionally on it.
    #[prost(int64, tag = "15")]
    pub db_version: i64,
    /// Deadline of the workflow run timeout, if any.
    #[prost(message, optional, tag = "16")]
    pub run_expiration_time: Option<Timestamp>,
    /// Deadline of the workflow execution timeout, if any.
    #[prost(message, optional, tag = "17")]
    pub execution_expiration_time: Option<Timestamp>,
    /// Id of the close event once the run is closed.
    #[prost(int64, tag = "18")]
    pub close_event_id: i64,
    /// The worker's own queue for this run's workflow tasks, set by the
    /// last completion's sticky attributes (Temporal's sticky execution).
    #[prost(message, optional, tag = "19")]
    pub sticky_task_queue: Option<TaskQueue>,
    #[prost(message, optional, tag = "20")]
    pub sticky_schedule_to_start_timeout: Option<Duration>,
    /// Pending user timers by timer id.
    #[prost(btree_map = "string, message", tag = "21")]
    pub timers: BTreeMap<String, TimerInfo>,
    /// Signals received by this run (Temporal's per-execution limit).
    #[prost(int64, tag = "22")]
    pub signal_count: i64,
    /// Request ids of the signals received, so a retried signal is not
    /// delivered twice.
    #[prost(string, repeated, tag = "23")]
    pub signal_request_ids: Vec<String>,
    /// A client asked the workflow to cancel (idempotent).
    #[prost(bool, tag = "24")]
    pub cancel_requested: bool,
    /// Updates by id: admitted (waiting for a worker), accepted, completed
    /// (including rejected ones, which leave no event).
    #[prost(btree_map = "string, message", tag = "25")]
    pub updates: BTreeMap<String, UpdateInfo>,
    /// Updates admitted over the run's life (Temporal's per-run limit).
    #[prost(int64, tag = "26")]
    pub update_count: i64,
    #[prost(string, tag = "27")]
    pub namespace_id: String,
    /// Signals and cancel requests this run sent to other workflows, by
    /// their Initiated event id, until the target has them.
    #[prost(btree_map = "int64, message", tag = "28")]
    pub external_requests: BTreeMap<i64, ExternalRequest>,
    /// Child workflows by their StartChildWorkflowExecutionInitiated id:
    /// pending (not yet closed) ones while the run is open; after it closes,
    /// the ones whose parent close policy has yet to be applied.
    #[prost(btree_map = "int64, message", tag = "29")]
    pub children: BTreeMap<i64, ChildInfo>,
    /// Current memo (the start's, merged with ModifyWorkflowProperties).
    #[prost(message, optional, tag = "30")]
    pub memo: Option<crate::api::common::v1::Memo>,
    /// Current search attributes (the start's, merged with upserts).
    #[prost(message, optional, tag = "31")]
    pub search_attributes: Option<crate::api::common::v1::SearchAttributes>,
    /// This run closed and its parent has not yet been told.
    #[prost(bool, tag = "32")]
    pub parent_notification_pending: bool,
    /// The first workflow task waits until then (retry or cron backoff).
    #[prost(message, optional, tag = "33")]
    pub backoff_until: Option<Timestamp>,
    /// The run that continues this one (continue-as-new, retry, cron).
    #[prost(string, tag = "34")]
    pub new_execution_run_id: String,
    /// Where the run could be reset to: the first workflow task each worker
    /// build completed (carried to runs that continue this one).
    #[prost(message, optional, tag = "35")]
    pub auto_reset_points: Option<crate::api::workflow::v1::ResetPoints>,
    /// The start request's summary and details (on the started event too),
    /// for DescribeWorkflowExecution. Runs that continue this one do not
    /// inherit them, as on Temporal.
    #[prost(message, optional, tag = "36")]
    pub start_user_metadata: Option<crate::api::sdk::v1::UserMetadata>,
    /// The run a reset of this one started (DescribeWorkflowExecution's
    /// `reset_run_id`).
    #[prost(string, tag = "37")]
    pub reset_run_id: String,
    /// Set on a run a reset started: when the run it was rebuilt from
    /// started (`start_time` is the reset's time), as Temporal reports.
    #[prost(message, optional, tag = "38")]
    pub original_start_time: Option<Timestamp>,
    /// Set on the run of a standalone activity (`standalone.rs`): a run
    /// whose only work is one activity a client started.
    #[prost(message, optional, tag = "39")]
    pub standalone: Option<StandaloneActivity>,
    /// Worker versioning (`versioning.rs`): the behaviour and version of
    /// the worker that last completed a workflow task, and any override.
    /// None for an unversioned run.
    #[prost(message, optional, tag = "40")]
    pub versioning: Option<crate::api::workflow::v1::WorkflowExecutionVersioningInfo>,
    /// Every version ("name:build") that completed a workflow task of the
    /// run (the TemporalUsedWorkerDeploymentVersions search attribute).
    #[prost(string, repeated, tag = "41")]
    pub used_deployment_versions: Vec<String>,
}

/// What a standalone activity's run keeps beyond its one pending activity.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StandaloneActivity {
    /// Set when it closed: the result, or the failure and retry state.
    #[prost(message, optional, tag = "1")]
    pub outcome: Option<crate::api::activity::v1::ActivityExecutionOutcome>,
    /// The reason a cancel request gave.
    #[prost(string, tag = "2")]
    pub canceled_reason: String,
    /// The activity as it was when it closed (its input dropped: the
    /// started event has it).
    #[prost(message, optional, tag = "3")]
    pub last: Option<ActivityInfo>,
    #[prost(message, optional, tag = "4")]
    pub last_attempt_complete_time: Option<Timestamp>,
    #[prost(int64, tag = "5")]
    pub total_heartbeat_count: i64,
    #[prost(message, optional, tag = "6")]
    pub start_delay: Option<Duration>,
    /// The request ids of the cancel and terminate requests that took
    /// effect (the same id again is a no-op).
    #[prost(string, tag = "7")]
    pub cancel_request_id: String,
    #[prost(string, tag = "8")]
    pub terminate_request_id: String,
    /// The start's delay (`start_delay` is the current one, which
    /// UpdateActivityExecutionOptions may change).
    #[prost(message, optional, tag = "9")]
    pub original_start_delay: Option<Duration>,
}

/// A child workflow started by a StartChildWorkflowExecution command.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ChildInfo {
    #[prost(int64, tag = "1")]
    pub initiated_event_id: i64,
    /// ChildWorkflowExecutionStarted id; 0 until the child has started.
    #[prost(int64, tag = "2")]
    pub started_event_id: i64,
    #[prost(string, tag = "3")]
    pub workflow_id: String,
    /// Run id of the child's first run, once started.
    #[prost(string, tag = "4")]
    pub run_id: String,
    #[prost(string, tag = "5")]
    pub workflow_type: String,
    #[prost(enumeration = "crate::api::enums::v1::ParentClosePolicy", tag = "6")]
    pub parent_close_policy: i32,
    /// The start command, kept until the child has started.
    #[prost(message, optional, tag = "7")]
    pub command: Option<crate::api::command::v1::StartChildWorkflowExecutionCommandAttributes>,
    /// The parent closed: its close policy remains to be applied.
    #[prost(bool, tag = "8")]
    pub close_policy_pending: bool,
    /// The start command's summary and details, for the child's start.
    #[prost(message, optional, tag = "9")]
    pub user_metadata: Option<crate::api::sdk::v1::UserMetadata>,
}

/// A SignalExternalWorkflowExecution or RequestCancelExternalWorkflowExecution
/// on its way to the target.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ExternalRequest {
    #[prost(int64, tag = "1")]
    pub initiated_event_id: i64,
    #[prost(string, tag = "2")]
    pub workflow_id: String,
    #[prost(string, tag = "3")]
    pub run_id: String,
    /// Empty for a cancel request.
    #[prost(string, tag = "4")]
    pub signal_name: String,
    #[prost(message, optional, tag = "5")]
    pub input: Option<crate::api::common::v1::Payloads>,
    #[prost(message, optional, tag = "6")]
    pub header: Option<crate::api::common::v1::Header>,
    #[prost(string, tag = "7")]
    pub control: String,
    #[prost(string, tag = "8")]
    pub reason: String,
    #[prost(bool, tag = "9")]
    pub is_cancel: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct UpdateInfo {
    #[prost(string, tag = "1")]
    pub update_id: String,
    #[prost(message, optional, tag = "2")]
    pub request: Option<crate::api::update::v1::Request>,
    #[prost(enumeration = "crate::api::enums::v1::UpdateWorkflowExecutionLifecycleStage", tag = "3")]
    pub stage: i32,
    #[prost(int64, tag = "4")]
    pub accepted_event_id: i64,
    #[prost(message, optional, tag = "5")]
    pub outcome: Option<crate::api::update::v1::Outcome>,
    /// Completed by the run's close, not by the workflow (its outcome is
    /// Temporal's AcceptedUpdateCompletedWorkflow failure, with no event).
    #[prost(bool, tag = "6")]
    pub completed_by_close: bool,
    /// Its WorkflowExecutionUpdateAdmitted event (a reset applied it
    /// again): the SDKs read the request from history, so no protocol
    /// message carries it.
    #[prost(int64, tag = "7")]
    pub admitted_event_id: i64,
}

impl UpdateInfo {
    /// Completed by the workflow, with a WorkflowExecutionUpdateCompleted
    /// event: the outcome Temporal keeps in history and hands to anyone who
    /// asks for this update id later, even after the run closed.
    pub fn completed_in_history(&self) -> bool {
        self.stage == crate::api::enums::v1::UpdateWorkflowExecutionLifecycleStage::Completed as i32
            && self.accepted_event_id != 0
            && !self.completed_by_close
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TimerInfo {
    #[prost(string, tag = "1")]
    pub timer_id: String,
    #[prost(int64, tag = "2")]
    pub started_event_id: i64,
    #[prost(message, optional, tag = "3")]
    pub fire_at: Option<Timestamp>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct WorkflowTaskInfo {
    #[prost(int64, tag = "1")]
    pub scheduled_event_id: i64,
    /// 0 until a worker picks the task up.
    #[prost(int64, tag = "2")]
    pub started_event_id: i64,
    #[prost(int32, tag = "3")]
    pub attempt: i32,
    #[prost(message, optional, tag = "4")]
    pub scheduled_time: Option<Timestamp>,
    #[prost(message, optional, tag = "5")]
    pub started_time: Option<Timestamp>,
    #[prost(message, optional, tag = "6")]
    pub task_queue: Option<TaskQueue>,
    #[prost(message, optional, tag = "7")]
    pub start_to_close_timeout: Option<Duration>,
    #[prost(string, tag = "8")]
    pub identity: String,
    #[prost(string, tag = "9")]
    pub request_id: String,
    /// A retry (attempt > 1) whose Scheduled/Started events are not written
    /// until it completes, as Temporal does.
    #[prost(bool, tag = "10")]
    pub transient: bool,
    /// Scheduled only to deliver updates: like a transient task its events
    /// are written only if it ends with something to record, so a rejected
    /// update leaves no trace in the history (Temporal's speculative task).
    #[prost(bool, tag = "11")]
    pub speculative: bool,
    /// What WorkflowTaskStarted said: continue-as-new suggested, and why.
    #[prost(bool, tag = "12")]
    pub suggest_continue_as_new: bool,
    #[prost(enumeration = "crate::api::enums::v1::SuggestContinueAsNewReason", repeated, tag = "13")]
    pub suggest_continue_as_new_reasons: Vec<i32>,
    /// ... and that the run's pinned version is not its target any more.
    #[prost(bool, tag = "14")]
    pub target_version_changed: bool,
    /// The deployment routing revision that sent the task (0: none).
    #[prost(int64, tag = "15")]
    pub routing_revision: i64,
}

impl WorkflowTaskInfo {
    pub fn is_started(&self) -> bool {
        self.started_event_id > 0
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ActivityInfo {
    #[prost(int64, tag = "1")]
    pub scheduled_event_id: i64,
    #[prost(string, tag = "2")]
    pub activity_id: String,
    #[prost(message, optional, tag = "3")]
    pub activity_type: Option<ActivityType>,
    #[prost(message, optional, tag = "4")]
    pub task_queue: Option<TaskQueue>,
    #[prost(message, optional, tag = "5")]
    pub header: Option<Header>,
    #[prost(message, optional, tag = "6")]
    pub input: Option<Payloads>,
    #[prost(message, optional, tag = "7")]
    pub schedule_to_close_timeout: Option<Duration>,
    #[prost(message, optional, tag = "8")]
    pub schedule_to_start_timeout: Option<Duration>,
    #[prost(message, optional, tag = "9")]
    pub start_to_close_timeout: Option<Duration>,
    #[prost(message, optional, tag = "10")]
    pub heartbeat_timeout: Option<Duration>,
    #[prost(message, optional, tag = "11")]
    pub retry_policy: Option<RetryPolicy>,
    #[prost(int32, tag = "12")]
    pub attempt: i32,
    #[prost(message, optional, tag = "13")]
    pub scheduled_time: Option<Timestamp>,
    /// When the current attempt becomes dispatchable (after retry backoff).
    #[prost(message, optional, tag = "14")]
    pub current_attempt_scheduled_time: Option<Timestamp>,
    /// Set while an attempt runs on a worker.
    #[prost(message, optional, tag = "15")]
    pub started_time: Option<Timestamp>,
    #[prost(string, tag = "16")]
    pub started_identity: String,
    #[prost(string, tag = "17")]
    pub started_request_id: String,
    #[prost(message, optional, tag = "18")]
    pub last_heartbeat_details: Option<Payloads>,
    #[prost(message, optional, tag = "19")]
    pub last_heartbeat_time: Option<Timestamp>,
    #[prost(message, optional, tag = "20")]
    pub last_failure: Option<Failure>,
    #[prost(bool, tag = "21")]
    pub cancel_requested: bool,
    #[prost(int64, tag = "22")]
    pub workflow_task_completed_event_id: i64,
    #[prost(message, optional, tag = "23")]
    pub priority: Option<Priority>,
    #[prost(string, tag = "24")]
    pub last_worker_identity: String,
    /// Version stamp of the worker running the current attempt.
    #[prost(message, optional, tag = "25")]
    pub started_worker_version: Option<crate::api::common::v1::WorkerVersionStamp>,
    /// Id of the ActivityTaskCancelRequested event, once cancel was asked.
    #[prost(int64, tag = "26")]
    pub cancel_requested_event_id: i64,
    /// PauseActivity: no attempt is handed out until unpaused; a running
    /// one goes on (its heartbeats tell it), and one that fails is not
    /// retried meanwhile.
    #[prost(bool, tag = "27")]
    pub paused: bool,
    #[prost(message, optional, tag = "28")]
    pub pause_info: Option<crate::api::workflow::v1::pending_activity_info::PauseInfo>,
    /// ResetActivity while an attempt ran: its heartbeats tell it, and the
    /// next attempt is attempt 1.
    #[prost(bool, tag = "29")]
    pub activity_reset: bool,
    /// With that reset: the next attempt starts without heartbeat details.
    #[prost(bool, tag = "30")]
    pub reset_heartbeats: bool,
}

impl ActivityInfo {
    pub fn is_started(&self) -> bool {
        self.started_time.is_some()
    }
}

impl MutableState {
    pub fn is_running(&self) -> bool {
        self.status() == WorkflowExecutionStatus::Running
    }

    pub fn task_queue_name(&self) -> &str {
        self.started.as_ref().and_then(|s| s.task_queue.as_ref()).map(|t| t.name.as_str()).unwrap_or_default()
    }

    pub fn workflow_type_name(&self) -> &str {
        self.started.as_ref().and_then(|s| s.workflow_type.as_ref()).map(|t| t.name.as_str()).unwrap_or_default()
    }

    /// Whether the server must keep working on this run: it is open, or it
    /// closed with its parent still to be told or close policies still to
    /// apply to its children. Recovery loads exactly these runs.
    pub fn needs_recovery(&self) -> bool {
        self.is_running() || self.parent_notification_pending || self.children.values().any(|c| c.close_policy_pending)
    }

    /// The workflow task currently in flight on a worker, if any.
    pub fn started_workflow_task(&self) -> Option<&WorkflowTaskInfo> {
        self.workflow_task.as_ref().filter(|wt| wt.is_started())
    }
}
