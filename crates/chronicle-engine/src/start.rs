//! Starting a new run.

use crate::api::{
    common::v1::{Header, Memo, Payloads, Priority, RetryPolicy, SearchAttributes, WorkflowExecution, WorkflowType},
    enums::v1::{ContinueAsNewInitiator, TaskQueueKind, WorkflowExecutionStatus},
    failure::v1::Failure,
    history::v1::WorkflowExecutionStartedEventAttributes,
    taskqueue::v1::TaskQueue,
};
use crate::events::{Ctx, run_timeout_timer};
use crate::state::MutableState;
use crate::time;
use crate::transition::TimerKind;
use prost_types::{Duration, Timestamp};

/// Temporal's default and maximum workflow task timeout.
use crate::limits::{WORKFLOW_TASK_TIMEOUT_SECS_DEFAULT, WORKFLOW_TASK_TIMEOUT_SECS_MAX};

/// A validated start request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StartArgs {
    pub namespace: String,
    pub namespace_id: String,
    pub workflow_id: String,
    pub run_id: String,
    pub workflow_type: String,
    pub task_queue: String,
    pub input: Option<Payloads>,
    pub execution_timeout: Option<Duration>,
    pub run_timeout: Option<Duration>,
    pub task_timeout: Option<Duration>,
    pub identity: String,
    pub request_id: String,
    pub retry_policy: Option<RetryPolicy>,
    pub memo: Option<Memo>,
    pub search_attributes: Option<SearchAttributes>,
    pub header: Option<Header>,
    pub priority: Option<Priority>,
    pub cron_schedule: String,
    /// SignalWithStart: delivered right after WorkflowExecutionStarted.
    pub signal: Option<crate::transition::SignalArgs>,
    /// Set when a parent workflow starts this run as its child (and carried
    /// along the child's continue-as-new chain).
    pub parent: Option<ParentInfo>,
    /// The top of the parent chain; None for a top-level workflow.
    pub root_execution: Option<WorkflowExecution>,
    /// For a run that continues another (continue-as-new, retry).
    pub continued: Option<Continued>,
    /// Update-with-start: admitted with the start, delivered on the first
    /// workflow task.
    pub update: Option<Box<crate::api::update::v1::Request>>,
    /// Summary and details (StartWorkflowExecution, or a child's start
    /// command); written on the started event.
    pub user_metadata: Option<crate::api::sdk::v1::UserMetadata>,
    /// StartWorkflowExecution asked for its first workflow task in the
    /// response (`request_eager_execution`). Accepted unless the task waits
    /// (a start delay, a cron schedule) or the run is a child: then the task
    /// goes through its queue as usual.
    pub eager: bool,
    /// A standalone activity's run: the activity is scheduled instead of a
    /// first workflow task.
    pub activity: Option<Box<ActivityStart>>,
    /// A versioning override from the start request (on the started
    /// event, and the run's until changed).
    pub versioning_override: Option<crate::api::workflow::v1::VersioningOverride>,
}

/// What a standalone activity's start adds to a run's start.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ActivityStart {
    /// The activity as a ScheduleActivityTask command would give it (its
    /// timeouts and retry policy already checked by the caller).
    pub attrs: crate::api::command::v1::ScheduleActivityTaskCommandAttributes,
    /// The first attempt waits this long (`start_delay`); retries do not.
    pub start_delay: Option<Duration>,
}

/// The parent of a child workflow.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParentInfo {
    pub namespace: String,
    pub namespace_id: String,
    pub execution: WorkflowExecution,
    pub initiated_event_id: i64,
}

/// What a run continuing another inherits from it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Continued {
    pub previous_run_id: String,
    pub first_execution_run_id: String,
    pub initiator: ContinueAsNewInitiator,
    pub attempt: i32,
    pub failure: Option<Failure>,
    pub last_completion_result: Option<Payloads>,
    /// The first workflow task waits this long (retry backoff).
    pub backoff: Option<Duration>,
    /// The execution timeout spans the whole chain.
    pub execution_expiration_time: Option<Timestamp>,
    /// The previous run's auto-reset points.
    pub reset_points: Option<crate::api::workflow::v1::ResetPoints>,
}

/// Temporal's timeout rules: a run timeout defaults to (and is capped by)
/// the execution timeout; the task timeout defaults to 10 s, is capped at
/// 120 s and by the run timeout.
pub fn normalize_timeouts(args: &mut StartArgs) {
    let exec = args.execution_timeout.filter(|d| time::is_set(Some(d)));
    let mut run = args.run_timeout.filter(|d| time::is_set(Some(d)));
    if let Some(exec) = exec {
        run = Some(match run {
            Some(r) if time::dur_nanos(&r) < time::dur_nanos(&exec) => r,
            _ => exec,
        });
    }
    let mut task = args
        .task_timeout
        .filter(|d| time::is_set(Some(d)))
        .unwrap_or(time::dur_secs(WORKFLOW_TASK_TIMEOUT_SECS_DEFAULT));
    if time::dur_nanos(&task) > time::dur_nanos(&time::dur_secs(WORKFLOW_TASK_TIMEOUT_SECS_MAX)) {
        task = time::dur_secs(WORKFLOW_TASK_TIMEOUT_SECS_MAX);
    }
    if let Some(run) = run
        && time::dur_nanos(&task) > time::dur_nanos(&run)
    {
        task = run;
    }
    args.execution_timeout = Some(exec.unwrap_or_default());
    args.run_timeout = Some(run.unwrap_or_default());
    args.task_timeout = Some(task);
}

/// The first transition of a run, before it is finished: WorkflowExecutionStarted
/// and the first WorkflowTaskScheduled (or the backoff timer). Whether an
/// eager start is accepted is decided here and written on the started event;
/// `apply::start` then starts the task.
/// `standalone`: the run is a standalone activity's (`StartArgs::activity`,
/// which the caller has taken to schedule it): no workflow task.
pub(crate) fn begin(mut args: StartArgs, now: Timestamp, standalone: bool) -> Ctx {
    normalize_timeouts(&mut args);
    let is_continuation = args.continued.as_ref().is_some_and(|c| !c.previous_run_id.is_empty());
    let continued = args.continued.take().unwrap_or_default();
    let expiration = continued
        .execution_expiration_time
        .or_else(|| args.execution_timeout.filter(|d| time::is_set(Some(d))).map(|d| time::add(&now, &d)));
    // A cron workflow's first run waits for the schedule's first time.
    let cron_first = (!is_continuation && !args.cron_schedule.is_empty())
        .then(|| crate::cron::backoff(&args.cron_schedule, &now, &now))
        .flatten();
    let backoff = continued.backoff.or(cron_first).filter(|d| time::dur_nanos(d) > 0);
    let first_execution_run_id = if continued.first_execution_run_id.is_empty() {
        args.run_id.clone()
    } else {
        continued.first_execution_run_id.clone()
    };
    let parent = args.parent.take();
    let eager = args.eager && backoff.is_none() && parent.is_none() && !is_continuation;
    let continued_as_new =
        !continued.previous_run_id.is_empty() && continued.initiator == ContinueAsNewInitiator::Workflow;
    let attrs = WorkflowExecutionStartedEventAttributes {
        workflow_type: Some(WorkflowType { name: args.workflow_type.clone() }),
        parent_workflow_namespace: parent.as_ref().map(|p| p.namespace.clone()).unwrap_or_default(),
        parent_workflow_namespace_id: parent.as_ref().map(|p| p.namespace_id.clone()).unwrap_or_default(),
        parent_workflow_execution: parent.as_ref().map(|p| p.execution.clone()),
        parent_initiated_event_id: parent.as_ref().map(|p| p.initiated_event_id).unwrap_or_default(),
        task_queue: Some(TaskQueue {
            name: args.task_queue.clone(),
            kind: TaskQueueKind::Normal as i32,
            normal_name: String::new(),
        }),
        input: args.input,
        // Unset stays unset, as Temporal writes it.
        workflow_execution_timeout: args.execution_timeout.filter(|d| time::is_set(Some(d))),
        workflow_run_timeout: if continued_as_new || parent.is_some() {
            // Temporal writes the unset run timeout of a continued run or a
            // child as zero.
            Some(args.run_timeout.unwrap_or_default())
        } else {
            args.run_timeout.filter(|d| time::is_set(Some(d)))
        },
        workflow_task_timeout: args.task_timeout,
        continued_execution_run_id: continued.previous_run_id.clone(),
        initiator: if continued.previous_run_id.is_empty() { 0 } else { continued.initiator as i32 },
        continued_failure: continued.failure,
        last_completion_result: continued.last_completion_result,
        original_execution_run_id: args.run_id.clone(),
        identity: args.identity,
        first_execution_run_id,
        retry_policy: args.retry_policy,
        attempt: continued.attempt.max(1),
        workflow_execution_expiration_time: expiration,
        cron_schedule: args.cron_schedule,
        // Temporal leaves it unset on a run continued without a backoff.
        first_workflow_task_backoff: match (backoff, continued.previous_run_id.is_empty()) {
            (Some(b), _) => Some(b),
            (None, true) => Some(Duration::default()),
            (None, false) => None,
        },
        prev_auto_reset_points: continued.reset_points.clone(),
        memo: args.memo,
        search_attributes: args.search_attributes,
        header: args.header,
        workflow_id: args.workflow_id.clone(),
        root_workflow_execution: args.root_execution.or_else(|| parent.as_ref().map(|p| p.execution.clone())),
        priority: args.priority,
        eager_execution_accepted: eager,
        versioning_override: args.versioning_override.clone().map(crate::versioning::normalize_override),
        ..Default::default()
    };
    let run_expiration_time = args.run_timeout.filter(|d| time::is_set(Some(d))).map(|d| {
        let from = backoff.map(|b| time::add(&now, &b)).unwrap_or(now);
        let run_deadline = time::add(&from, &d);
        // The run never outlives the execution timeout.
        match expiration {
            Some(e) if time::ts_nanos(&e) < time::ts_nanos(&run_deadline) => e,
            _ => run_deadline,
        }
    });
    let state = MutableState {
        namespace: args.namespace,
        namespace_id: args.namespace_id,
        workflow_id: args.workflow_id,
        run_id: args.run_id,
        started: Some(attrs.clone()),
        start_time: Some(now),
        status: WorkflowExecutionStatus::Running as i32,
        next_event_id: 1,
        start_request_id: args.request_id,
        run_expiration_time,
        execution_expiration_time: expiration,
        backoff_until: backoff.map(|b| time::add(&now, &b)),
        start_user_metadata: args.user_metadata.clone(),
        auto_reset_points: crate::reset_points::rolled_over(continued.reset_points, &now),
        versioning: args.versioning_override.map(|o| crate::api::workflow::v1::WorkflowExecutionVersioningInfo {
            versioning_override: Some(crate::versioning::normalize_override(o)),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut ctx = Ctx::new(state, now);
    ctx.add(attrs);
    if let Some(metadata) = args.user_metadata {
        ctx.set_user_metadata(0, metadata);
    }
    if let Some(signal) = args.signal {
        crate::signal::record(&mut ctx, signal);
    }
    // A standalone activity's run has no workflow task (`apply::start`
    // schedules its activity).
    match (standalone, ctx.state.backoff_until) {
        (true, _) => {}
        (false, Some(at)) => ctx.timer(at, TimerKind::WorkflowBackoff),
        (false, None) => ctx.schedule_workflow_task(1),
    }
    if let Some(update) = args.update {
        // A fresh run is far from the update limits: admission cannot fail.
        let _ = crate::update::admit(&mut ctx, *update);
    }
    run_timeout_timer(&mut ctx);
    ctx
}
