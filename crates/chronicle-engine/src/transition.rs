//! What goes into the engine and what comes out.

use crate::api::{
    command::v1::Command,
    common::v1::{MeteringMetadata, Payloads, WorkerVersionStamp, WorkflowExecution},
    enums::v1::{TimeoutType, WorkflowTaskFailedCause},
    failure::v1::Failure,
    history::v1::HistoryEvent,
    sdk::v1::WorkflowTaskCompletedMetadata,
};
use crate::state::{ActivityInfo, MutableState};
use prost_types::Timestamp;

/// Something that happens to an existing run.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// A worker polled the workflow task scheduled at `scheduled_event_id`.
    WorkflowTaskStarted {
        scheduled_event_id: i64,
        attempt: i32,
        identity: String,
        request_id: String,
        worker_version: Option<WorkerVersionStamp>,
        /// The run is pinned to a worker deployment version other than the
        /// one its queue routes new work to now (WorkflowTaskStarted's
        /// `target_worker_deployment_version_changed`: the SDK may suggest
        /// continuing as new on the new version).
        target_version_changed: bool,
        /// The revision of the deployment routing that sent an unpinned
        /// task to this worker (0: none did).
        routing_revision: i64,
    },
    WorkflowTaskCompleted(Box<WorkflowTaskCompletion>),
    WorkflowTaskFailed {
        scheduled_event_id: i64,
        attempt: i32,
        cause: WorkflowTaskFailedCause,
        failure: Option<Failure>,
        identity: String,
        binary_checksum: String,
    },
    /// A worker polled the activity task scheduled at `scheduled_event_id`.
    ActivityTaskStarted {
        scheduled_event_id: i64,
        attempt: i32,
        identity: String,
        request_id: String,
        worker_version: Option<WorkerVersionStamp>,
    },
    ActivityTaskCompleted {
        scheduled_event_id: i64,
        attempt: i32,
        result: Option<Payloads>,
        identity: String,
    },
    ActivityTaskFailed {
        scheduled_event_id: i64,
        attempt: i32,
        failure: Option<Failure>,
        last_heartbeat_details: Option<Payloads>,
        identity: String,
    },
    ActivityTaskCanceled {
        scheduled_event_id: i64,
        attempt: i32,
        details: Option<Payloads>,
        identity: String,
    },
    ActivityTaskHeartbeat {
        scheduled_event_id: i64,
        attempt: i32,
        details: Option<Payloads>,
    },
    TimerFired(TimerKind),
    /// Matching found no live poller on the sticky queue of a scheduled
    /// workflow task: stickiness is dropped and the task goes to the normal
    /// queue, without an event (Temporal's StickyWorkerUnavailable).
    StickyWorkerUnavailable {
        scheduled_event_id: i64,
        attempt: i32,
    },
    Terminate {
        reason: String,
        details: Option<Payloads>,
        identity: String,
    },
    Signal(SignalArgs),
    /// RequestCancelWorkflowExecution: the workflow decides what to do.
    RequestCancel {
        reason: String,
        identity: String,
        /// Set when another workflow asked (RequestCancelExternalWorkflowExecution).
        external: Option<(crate::api::common::v1::WorkflowExecution, i64)>,
    },
    /// UpdateWorkflowExecution: admit an update for the next workflow task.
    UpdateAdmit(Box<crate::api::update::v1::Request>),
    /// The outcome of an external signal or cancel request this run sent:
    /// delivered, or the target was not found / closed.
    ExternalRequestDone {
        initiated_event_id: i64,
        delivered: bool,
    },
    /// The server started the child initiated at this event.
    ChildStarted {
        initiated_event_id: i64,
        run_id: String,
    },
    /// The server could not start the child (its id is taken).
    ChildStartFailed {
        initiated_event_id: i64,
        cause: crate::api::enums::v1::StartChildWorkflowExecutionFailedCause,
    },
    /// A child's last run closed (`run_id`: its first run, in case its
    /// start has not been recorded yet).
    ChildClosed {
        initiated_event_id: i64,
        run_id: String,
        closed: ChildClose,
    },
    /// On a closed child: its parent has been told.
    ParentNotified,
    /// ResetStickyTaskQueue: the run's next workflow tasks go to the normal
    /// queue (no event).
    ResetSticky,
    /// UpdateWorkflowExecutionOptions: sets (or with None, unsets) the
    /// run's versioning override; WorkflowExecutionOptionsUpdated if that
    /// changes anything.
    UpdateOptions {
        versioning_override: Option<crate::api::workflow::v1::VersioningOverride>,
        identity: String,
    },
    /// PauseActivity / UnpauseActivity / ResetActivity (no events).
    ActivityControl(Box<Control>),
    /// On a closed parent: the child's close policy has been applied.
    ChildClosePolicyApplied {
        initiated_event_id: i64,
    },
    /// A client's request to a standalone activity (`standalone.rs`).
    Standalone(StandaloneRequest),
}

/// RequestCancelActivityExecution / TerminateActivityExecution: the
/// request id makes a repeated request a no-op.
#[derive(Clone, Debug, PartialEq)]
pub enum StandaloneRequest {
    Cancel { reason: String, identity: String, request_id: String },
    Terminate { reason: String, identity: String, request_id: String },
}

/// How a child workflow ended, as its parent records it.
#[derive(Clone, Debug, PartialEq)]
pub enum ChildClose {
    Completed { execution: WorkflowExecution, result: Option<Payloads> },
    Failed { execution: WorkflowExecution, failure: Option<Box<Failure>>, retry_state: i32 },
    Canceled { execution: WorkflowExecution, details: Option<Payloads> },
    Terminated { execution: WorkflowExecution },
    TimedOut { execution: WorkflowExecution, retry_state: i32 },
}

/// Everything an input is applied with besides the state: the time, the
/// limits, and a fresh run id should the input start a new run
/// (continue-as-new, workflow retry).
#[derive(Clone, Debug, PartialEq)]
pub struct Env {
    pub now: Timestamp,
    pub limits: crate::limits::Limits,
    pub new_run_id: String,
}

/// A signal sent to a run (SignalWorkflowExecution, SignalWithStart).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SignalArgs {
    pub signal_name: String,
    pub input: Option<Payloads>,
    pub identity: String,
    pub header: Option<crate::api::common::v1::Header>,
    /// Dedupe key; empty means none.
    pub request_id: String,
    /// Set when another workflow sent it (SignalExternalWorkflowExecution).
    pub external_workflow_execution: Option<crate::api::common::v1::WorkflowExecution>,
}

/// A RespondWorkflowTaskCompleted, reduced to what the engine needs.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct WorkflowTaskCompletion {
    pub scheduled_event_id: i64,
    pub attempt: i32,
    pub commands: Vec<Command>,
    pub identity: String,
    pub binary_checksum: String,
    pub sdk_metadata: Option<WorkflowTaskCompletedMetadata>,
    pub metering_metadata: Option<MeteringMetadata>,
    pub worker_version: Option<WorkerVersionStamp>,
    pub force_create_new_workflow_task: bool,
    pub sticky_attributes: Option<crate::api::taskqueue::v1::StickyExecutionAttributes>,
    /// Protocol messages (update acceptances, rejections, responses).
    pub messages: Vec<crate::api::protocol::v1::Message>,
    /// Recorded as the request id of activities this completion starts
    /// eagerly (`Limits::eager_activities`).
    pub request_id: String,
    /// The behaviour the worker declared for the workflow, and the
    /// worker's deployment (versioning.rs).
    pub versioning_behavior: i32,
    pub deployment_options: Option<crate::api::deployment::v1::WorkerDeploymentOptions>,
}

/// Work the server must do once the transition is durable.
#[derive(Clone, Debug, PartialEq)]
pub enum Task {
    /// Offer the workflow task to pollers of `task_queue`.
    /// `sticky`: the queue is a worker's sticky queue.
    WorkflowTask {
        task_queue: String,
        sticky: bool,
        scheduled_event_id: i64,
        attempt: i32,
        /// The version ("name:build") whose pollers alone may take it, or
        /// "" (`MutableState::pinned_version`).
        pinned: String,
    },
    /// Offer the activity task to pollers of `task_queue` from `visible_at`
    /// on (later than now during retry backoff).
    ActivityTask(ActivityTaskDispatch),
    /// Deliver the external signal or cancel request initiated at this event.
    External {
        initiated_event_id: i64,
    },
    /// Start the child workflow initiated at this event.
    StartChild {
        initiated_event_id: i64,
    },
    /// This run closed: tell its parent (then `Input::ParentNotified`).
    NotifyParent,
    /// This run closed: apply the parent close policy to the child
    /// initiated at this event (then `Input::ChildClosePolicyApplied`).
    ApplyParentClosePolicy {
        initiated_event_id: i64,
    },
    Timer(TimerTask),
}

#[derive(Clone, Debug, PartialEq)]
pub struct ActivityTaskDispatch {
    pub task_queue: String,
    pub scheduled_event_id: i64,
    pub attempt: i32,
    pub visible_at: Timestamp,
    /// As `Task::WorkflowTask`'s.
    pub pinned: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TimerTask {
    pub fire_at: Timestamp,
    pub kind: TimerKind,
}

/// A durable timer; stale ones (their task already moved on) are ignored by
/// the engine when they fire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimerKind {
    WorkflowTaskTimeout {
        scheduled_event_id: i64,
        attempt: i32,
    },
    /// Nobody took a task from a sticky queue in time: move it to the
    /// normal queue.
    StickyScheduleToStartTimeout {
        scheduled_event_id: i64,
        attempt: i32,
    },
    ActivityTimeout {
        scheduled_event_id: i64,
        attempt: i32,
        timeout_type: TimeoutType,
    },
    WorkflowRunTimeout,
    /// A workflow's timer (StartTimer command), by its TimerStarted id.
    UserTimer {
        started_event_id: i64,
    },
    /// The first workflow task of a retried (or delayed) run may start.
    WorkflowBackoff,
}

/// The result of one input: new events (contiguous ids from the old
/// `next_event_id`), the new state, and the tasks to hand out after commit.
#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    pub state: MutableState,
    pub events: Vec<HistoryEvent>,
    pub tasks: Vec<Task>,
    pub outcome: Outcome,
    /// The run that continues this one (continue-as-new, workflow retry),
    /// committed in the same transaction.
    pub new_run: Option<Box<Transition>>,
}

/// What the caller of an input gets back beyond the events.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Outcome {
    #[default]
    None,
    /// A workflow task was handed to a worker. `transient_events` are the
    /// not-yet-persisted Scheduled/Started of a retried task, to be appended
    /// to the history the worker sees.
    WorkflowTaskStarted {
        started_event_id: i64,
        transient_events: Vec<HistoryEvent>,
    },
    /// The workflow task was failed by the server (bad command, unhandled
    /// events); the worker is told with InvalidArgument and this message.
    WorkflowTaskRejected {
        message: String,
    },
    /// A speculative workflow task was dropped without events; the worker
    /// must rewind to this WorkflowTaskStarted id (its view included the
    /// task's virtual events, whose ids later events will reuse).
    WorkflowTaskDiscarded {
        reset_history_event_id: i64,
    },
    ActivityTaskStarted(Box<ActivityInfo>),
    /// The workflow task completed and started these activities at once,
    /// for the worker that completed it (eager dispatch: they were asked
    /// for with `request_eager_execution` and go to no task queue).
    EagerActivitiesStarted(Vec<ActivityInfo>),
    /// What a heartbeat's answer tells the activity: cancel, paused, or
    /// reset (ResetActivity while it ran).
    Heartbeat {
        cancel_requested: bool,
        paused: bool,
        reset: bool,
    },
    /// The input would have taken the history past its limit: the run was
    /// terminated instead and the input dropped (the caller gets this error).
    HistoryLimitExceeded {
        message: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("workflow execution already completed")]
    WorkflowClosed,
    #[error("Workflow task not found.")]
    WorkflowTaskNotFound,
    #[error("Activity task not found.")]
    ActivityTaskNotFound,
    /// A timer that no longer applies; nothing to do.
    #[error("stale timer")]
    StaleTimer,
    #[error("{0}")]
    InvalidArgument(String),
    /// Something an outside request names is not there (NotFound).
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    FailedPrecondition(String),
    /// A per-execution limit (e.g. updates in flight); retry later.
    #[error("{0}")]
    LimitExceeded(String),
}

/// Which pending activities a control names.
#[derive(Clone, Debug, PartialEq)]
pub enum Selector {
    Id(String),
    Type(String),
    All,
}

/// One control, with the delay the server drew for it (an unpause or
/// reset hands the next attempt out after a random share of its jitter;
/// the engine draws nothing).
#[derive(Clone, Debug, PartialEq)]
pub enum Control {
    Pause {
        activity: Selector,
        identity: String,
        reason: String,
    },
    Unpause {
        activity: Selector,
        reset_attempts: bool,
        reset_heartbeat: bool,
        delay: prost_types::Duration,
    },
    Reset {
        activity: Selector,
        reset_heartbeat: bool,
        keep_paused: bool,
        delay: prost_types::Duration,
    },
    /// UpdateActivityOptions: the `paths` (Temporal's field-mask paths,
    /// lowerCamel) of `options` over each activity's; or, with
    /// `originals`, each activity's options as its schedule set them.
    UpdateOptions {
        activity: Selector,
        options: Box<crate::api::activity::v1::ActivityOptions>,
        paths: Vec<String>,
        originals: Option<std::collections::BTreeMap<i64, crate::api::activity::v1::ActivityOptions>>,
    },
}
