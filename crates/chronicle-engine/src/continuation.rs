//! Runs that continue another in the same transaction: continue-as-new
//! (the workflow's command) and workflow retries (a failed or timed-out run
//! whose retry policy allows another attempt). The closing run names the new
//! one (`new_execution_run_id`) and the new run carries the chain:
//! first run id, parent, root, execution deadline, memo, search attributes.

use crate::api::{
    command::v1::ContinueAsNewWorkflowExecutionCommandAttributes as Command,
    common::v1::Payloads,
    enums::v1::{ContinueAsNewInitiator, RetryState, TaskQueueKind, TimeoutType, WorkflowTaskFailedCause as Cause},
    failure::v1::{Failure, TimeoutFailureInfo, failure::FailureInfo},
    history::v1::*,
    taskqueue::v1::TaskQueue,
};
use crate::events::Ctx;
use crate::limits::ID_BYTES_MAX;
use crate::payload::too_big;
use crate::rejection::Rejection;
use crate::start::{Continued, ParentInfo, StartArgs};
use crate::state::MutableState;
use crate::time;
use prost_types::Duration;

pub(crate) fn validate(a: &Command) -> Result<(), Rejection> {
    let bad = |m: String| Err(Rejection { cause: Cause::BadContinueAsNewAttributes, message: m });
    if a.workflow_type.as_ref().is_some_and(|t| t.name.len() > ID_BYTES_MAX) {
        return bad(format!("WorkflowType exceeds length limit of {ID_BYTES_MAX}."));
    }
    for (name, d) in [
        ("WorkflowRunTimeout", &a.workflow_run_timeout),
        ("WorkflowTaskTimeout", &a.workflow_task_timeout),
        ("BackoffStartInterval", &a.backoff_start_interval),
    ] {
        if let Some(cause) = d.as_ref().and_then(time::dur_invalid) {
            return bad(format!("Invalid {name} on ContinueAsNewWorkflowExecutionCommand: {cause}."));
        }
    }
    if a.retry_policy.is_some()
        && let Err(m) = crate::retry::normalize_retry_policy(a.retry_policy.clone())
    {
        return bad(m);
    }
    if !a.cron_schedule.is_empty()
        && let Err(m) = crate::cron::validate(&a.cron_schedule)
    {
        return bad(m);
    }
    if too_big(&a.input) {
        return bad("ContinueAsNewWorkflowExecutionCommand input exceeds the 2 MiB size limit.".into());
    }
    Ok(())
}

/// The run's own start parameters, as a base for the run that continues it.
fn base_args(state: &MutableState, new_run_id: &str) -> StartArgs {
    let s = state.started.clone().unwrap_or_default();
    StartArgs {
        namespace: state.namespace.clone(),
        namespace_id: state.namespace_id.clone(),
        workflow_id: state.workflow_id.clone(),
        run_id: new_run_id.to_string(),
        workflow_type: state.workflow_type_name().to_string(),
        task_queue: state.task_queue_name().to_string(),
        input: s.input,
        execution_timeout: s.workflow_execution_timeout,
        run_timeout: s.workflow_run_timeout,
        task_timeout: s.workflow_task_timeout,
        // Temporal records no identity on a run the server started.
        identity: String::new(),
        request_id: new_run_id.to_string(),
        retry_policy: s.retry_policy,
        memo: state.memo.clone().or(s.memo),
        search_attributes: state.search_attributes.clone().or(s.search_attributes),
        header: s.header,
        priority: s.priority,
        cron_schedule: s.cron_schedule,
        signal: None,
        parent: s.parent_workflow_execution.map(|execution| ParentInfo {
            namespace: s.parent_workflow_namespace,
            namespace_id: s.parent_workflow_namespace_id,
            execution,
            initiated_event_id: s.parent_initiated_event_id,
        }),
        root_execution: s.root_workflow_execution,
        continued: Some(Continued {
            previous_run_id: state.run_id.clone(),
            first_execution_run_id: s.first_execution_run_id,
            initiator: ContinueAsNewInitiator::Workflow,
            attempt: 1,
            failure: None,
            last_completion_result: None,
            backoff: None,
            execution_expiration_time: state.execution_expiration_time,
            reset_points: state.auto_reset_points.clone(),
        }),
        update: None,
        // Not carried to the next run, as on Temporal.
        user_metadata: None,
        eager: false,
        activity: None,
        versioning_override: None,
    }
}

pub(crate) fn continue_as_new(ctx: &mut Ctx, a: Command, completed_id: i64) {
    let new_run_id = ctx.new_run_id.clone();
    let mut args = base_args(&ctx.state, &new_run_id);
    if let Some(t) = a.workflow_type.as_ref().filter(|t| !t.name.is_empty()) {
        args.workflow_type = t.name.clone();
    }
    if let Some(q) = a.task_queue.as_ref().filter(|q| !q.name.is_empty()) {
        args.task_queue = q.name.clone();
    }
    args.input = a.input.clone();
    if time::is_set(a.workflow_run_timeout.as_ref()) {
        args.run_timeout = a.workflow_run_timeout;
    }
    if time::is_set(a.workflow_task_timeout.as_ref()) {
        args.task_timeout = a.workflow_task_timeout;
    }
    if a.retry_policy.is_some() {
        args.retry_policy = a.retry_policy.clone().and_then(|p| crate::retry::normalize_retry_policy(Some(p)).ok());
    }
    if a.memo.is_some() {
        args.memo = a.memo.clone();
    }
    if !a.cron_schedule.is_empty() {
        args.cron_schedule = a.cron_schedule.clone();
    }
    if a.search_attributes.is_some() {
        args.search_attributes = a.search_attributes.clone();
    }
    args.header = a.header.clone();
    let initiator = ContinueAsNewInitiator::try_from(a.initiator)
        .ok()
        .filter(|i| *i != ContinueAsNewInitiator::Unspecified)
        .unwrap_or(ContinueAsNewInitiator::Workflow);
    let backoff = a.backoff_start_interval.filter(|d| time::dur_nanos(d) > 0);
    if let Some(c) = args.continued.as_mut() {
        c.initiator = initiator;
        c.failure = a.failure.clone();
        c.last_completion_result = a.last_completion_result.clone();
        c.backoff = backoff;
    }
    crate::start::normalize_timeouts(&mut args);
    ctx.add(WorkflowExecutionContinuedAsNewEventAttributes {
        new_execution_run_id: new_run_id.clone(),
        workflow_type: Some(crate::api::common::v1::WorkflowType { name: args.workflow_type.clone() }),
        task_queue: Some(TaskQueue {
            name: args.task_queue.clone(),
            kind: TaskQueueKind::Normal as i32,
            normal_name: String::new(),
        }),
        input: a.input,
        workflow_run_timeout: Some(args.run_timeout.unwrap_or_default()),
        workflow_task_timeout: args.task_timeout,
        workflow_task_completed_event_id: completed_id,
        backoff_start_interval: backoff,
        // As the command has it (SDKs leave it unset); the new run says WORKFLOW.
        initiator: a.initiator,
        inherit_build_id: a.inherit_build_id,
        failure: a.failure,
        last_completion_result: a.last_completion_result,
        header: a.header,
        memo: args.memo.clone(),
        search_attributes: args.search_attributes.clone(),
        ..Default::default()
    });
    start_next_run(ctx, args, crate::api::enums::v1::WorkflowExecutionStatus::ContinuedAsNew);
}

fn start_next_run(ctx: &mut Ctx, mut args: StartArgs, status: crate::api::enums::v1::WorkflowExecutionStatus) {
    if let Some(points) = args.continued.as_mut().and_then(|c| c.reset_points.as_mut()) {
        crate::reset_points::expire(points, &ctx.state.run_id, &ctx.now);
    }
    ctx.state.new_execution_run_id = args.run_id.clone();
    crate::close::close(ctx, status);
    let mut next = crate::start::begin(args, ctx.now, false).finish();
    next.state.namespace_id = ctx.state.namespace_id.clone();
    ctx.new_run = Some(Box::new(next));
}

/// Whether the run's retry policy allows another attempt after `failure`:
/// the backoff before it, or the retry state to record.
fn retry_delay(state: &MutableState, failure: &Failure, now: &prost_types::Timestamp) -> Result<Duration, RetryState> {
    let started = state.started.as_ref();
    let Some(policy) = started.and_then(|s| s.retry_policy.clone()) else {
        return Err(RetryState::RetryPolicyNotSet);
    };
    let attempt = started.map(|s| s.attempt).unwrap_or(1).max(1);
    crate::retry::next_retry_delay(&policy, attempt, failure, now, state.execution_expiration_time.as_ref())
}

/// Starts the next attempt of a failed or timed-out run (its close event
/// already written with retry state IN_PROGRESS and `new_run_id`).
fn retry(ctx: &mut Ctx, failure: Failure, backoff: Duration, status: crate::api::enums::v1::WorkflowExecutionStatus) {
    let new_run_id = ctx.new_run_id.clone();
    let mut args = base_args(&ctx.state, &new_run_id);
    let attempt = ctx.state.started.as_ref().map(|s| s.attempt).unwrap_or(1).max(1) + 1;
    if let Some(c) = args.continued.as_mut() {
        c.initiator = ContinueAsNewInitiator::Retry;
        c.attempt = attempt;
        c.failure = Some(failure);
        c.backoff = Some(backoff);
        // A cron chain's last successful result survives a failed attempt.
        c.last_completion_result = ctx.state.started.as_ref().and_then(|s| s.last_completion_result.clone());
    }
    start_next_run(ctx, args, status);
}

/// The failure a run timeout stands for, for retry decisions and the
/// retried run's `continued_failure`.
pub(crate) fn run_timeout_failure() -> Failure {
    Failure {
        message: "workflow timeout".into(),
        failure_info: Some(FailureInfo::TimeoutFailureInfo(TimeoutFailureInfo {
            timeout_type: TimeoutType::StartToClose as i32,
            last_heartbeat_details: None::<Payloads>,
        })),
        ..Default::default()
    }
}

/// The wait before a cron workflow's next run, if the run has a schedule and
/// the next time falls within the chain's execution timeout.
pub(crate) fn cron_backoff(state: &MutableState, now: &prost_types::Timestamp) -> Option<Duration> {
    let started = state.started.as_ref()?;
    if started.cron_schedule.is_empty() {
        return None;
    }
    // Measured from when this run's first workflow task could start.
    let start = state.execution_info().execution_time.unwrap_or(*now);
    let backoff = crate::cron::backoff(&started.cron_schedule, &start, now)?;
    if let Some(deadline) = state.execution_expiration_time
        && time::ts_nanos(&time::add(now, &backoff)) >= time::ts_nanos(&deadline)
    {
        return None;
    }
    Some(backoff)
}

/// Starts a cron workflow's next run (the close event already written with
/// `new_run_id`): same input, initiator CRON_SCHEDULE, the last result or
/// failure carried.
pub(crate) fn next_cron_run(
    ctx: &mut Ctx,
    backoff: Duration,
    result: Option<Payloads>,
    failure: Option<Failure>,
    status: crate::api::enums::v1::WorkflowExecutionStatus,
) {
    let new_run_id = ctx.new_run_id.clone();
    let mut args = base_args(&ctx.state, &new_run_id);
    if let Some(c) = args.continued.as_mut() {
        c.initiator = ContinueAsNewInitiator::CronSchedule;
        c.backoff = Some(backoff);
        // The last successful result stays available to later runs.
        c.last_completion_result =
            result.or_else(|| ctx.state.started.as_ref().and_then(|s| s.last_completion_result.clone()));
        c.failure = failure;
    }
    start_next_run(ctx, args, status);
}

/// What follows a failed or timed-out run: a retry (its policy allows one),
/// else the cron chain's next run, else nothing; with the retry state its
/// close event records.
pub(crate) enum AfterFailure {
    Retry(Duration),
    Cron(Duration, RetryState),
    Close(RetryState),
}

impl AfterFailure {
    pub(crate) fn decide(state: &MutableState, failure: &Failure, now: &prost_types::Timestamp) -> Self {
        match retry_delay(state, failure, now) {
            Ok(backoff) => AfterFailure::Retry(backoff),
            // A cron workflow whose retries are exhausted waits for its next time.
            Err(retry_state) => match cron_backoff(state, now) {
                Some(backoff) => AfterFailure::Cron(backoff, retry_state),
                None => AfterFailure::Close(retry_state),
            },
        }
    }

    pub(crate) fn retry_state(&self) -> RetryState {
        match self {
            AfterFailure::Retry(_) => RetryState::InProgress,
            AfterFailure::Cron(_, state) | AfterFailure::Close(state) => *state,
        }
    }

    /// The close event's `new_execution_run_id`.
    pub(crate) fn new_run_id(&self, new_run_id: &str) -> String {
        match self {
            AfterFailure::Close(_) => String::new(),
            _ => new_run_id.to_string(),
        }
    }

    /// Closes the run with `status` (its close event already written) and
    /// starts whatever follows.
    pub(crate) fn carry_out(
        self,
        ctx: &mut Ctx,
        failure: Failure,
        status: crate::api::enums::v1::WorkflowExecutionStatus,
    ) {
        match self {
            AfterFailure::Retry(backoff) => retry(ctx, failure, backoff, status),
            AfterFailure::Cron(backoff, _) => next_cron_run(ctx, backoff, None, Some(failure), status),
            AfterFailure::Close(_) => crate::close::close(ctx, status),
        }
    }
}
