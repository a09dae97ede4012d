//! Starting a new run.

use crate::api::{
    common::v1::{Header, Memo, Payloads, Priority, RetryPolicy, SearchAttributes, WorkflowType},
    enums::v1::{TaskQueueKind, WorkflowExecutionStatus},
    history::v1::WorkflowExecutionStartedEventAttributes,
    taskqueue::v1::TaskQueue,
};
use crate::events::{Ctx, run_timeout_timer};
use crate::state::MutableState;
use crate::time;
use crate::transition::Transition;
use prost_types::{Duration, Timestamp};

/// Temporal's default and maximum workflow task timeout.
const DEFAULT_WORKFLOW_TASK_TIMEOUT_SECS: i64 = 10;
const MAX_WORKFLOW_TASK_TIMEOUT_SECS: i64 = 120;

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
        .unwrap_or(time::dur_secs(DEFAULT_WORKFLOW_TASK_TIMEOUT_SECS));
    if time::dur_nanos(&task) > time::dur_nanos(&time::dur_secs(MAX_WORKFLOW_TASK_TIMEOUT_SECS)) {
        task = time::dur_secs(MAX_WORKFLOW_TASK_TIMEOUT_SECS);
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

/// The first transition of a run: WorkflowExecutionStarted and the first
/// WorkflowTaskScheduled.
pub fn start(mut args: StartArgs, now: Timestamp) -> Transition {
    normalize_timeouts(&mut args);
    let expiration = args.execution_timeout.filter(|d| time::is_set(Some(d))).map(|d| time::add(&now, &d));
    let attrs = WorkflowExecutionStartedEventAttributes {
        workflow_type: Some(WorkflowType { name: args.workflow_type.clone() }),
        task_queue: Some(TaskQueue {
            name: args.task_queue.clone(),
            kind: TaskQueueKind::Normal as i32,
            normal_name: String::new(),
        }),
        input: args.input,
        // Unset stays unset, as Temporal writes it.
        workflow_execution_timeout: args.execution_timeout.filter(|d| time::is_set(Some(d))),
        workflow_run_timeout: args.run_timeout.filter(|d| time::is_set(Some(d))),
        workflow_task_timeout: args.task_timeout,
        original_execution_run_id: args.run_id.clone(),
        identity: args.identity,
        first_execution_run_id: args.run_id.clone(),
        retry_policy: args.retry_policy,
        attempt: 1,
        workflow_execution_expiration_time: expiration,
        cron_schedule: args.cron_schedule,
        first_workflow_task_backoff: Some(Duration::default()),
        memo: args.memo,
        search_attributes: args.search_attributes,
        header: args.header,
        workflow_id: args.workflow_id.clone(),
        priority: args.priority,
        ..Default::default()
    };
    let run_expiration_time = args.run_timeout.filter(|d| time::is_set(Some(d))).map(|d| time::add(&now, &d));
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
        ..Default::default()
    };
    let mut ctx = Ctx::new(state, now);
    ctx.add(attrs);
    if let Some(signal) = args.signal {
        crate::signal::record(&mut ctx, signal);
    }
    ctx.schedule_workflow_task(1);
    run_timeout_timer(&mut ctx);
    ctx.finish()
}
