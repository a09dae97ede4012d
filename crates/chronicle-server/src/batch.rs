//! Batch operations (StartBatchOperation): a job applies one operation
//! (terminate, cancel, signal, delete, reset, update options; unpause, reset or update the
//! options of activities) to every workflow a visibility query matches, in
//! the background, a page at a time. The job's
//! record (`chronicle_store::BatchRecord`) holds where it stands; it is
//! written after every page, so a job a restart interrupts goes on from the
//! page it was in (its operations are idempotent but a signal, which may be
//! sent again for that page, as on Temporal). In a cluster, jobs run on the
//! node holding the singletons' shard.

use crate::frontend::Frontend;
use chronicle_engine::api::{
    common::v1::{ResetOptions, WorkflowExecution, reset_options::Target},
    enums::v1::BatchOperationState,
    workflowservice::v1::{
        CountWorkflowExecutionsRequest, DeleteWorkflowExecutionRequest, ListWorkflowExecutionsRequest,
        RequestCancelWorkflowExecutionRequest, ResetActivityRequest, ResetWorkflowExecutionRequest,
        SignalWorkflowExecutionRequest, StartBatchOperationRequest, TerminateWorkflowExecutionRequest,
        UnpauseActivityRequest, UpdateActivityOptionsRequest, UpdateWorkflowExecutionOptionsRequest,
        start_batch_operation_request::Operation,
    },
};
use chronicle_proto::workflowservice::workflow_service_server::WorkflowService;
use chronicle_store::{BatchRecord, StoreError};
use futures::StreamExt;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tonic::{Code, Request, Status};

/// Workflows read per page (Temporal's batcher page).
pub const PAGE_SIZE: i32 = 1000;
/// Operations in flight at once (Temporal's `worker.batcherConcurrency`).
const CONCURRENCY: usize = 5;
/// Operations per second when the request names none (`worker.batcherRPS`).
pub const DEFAULT_RPS: f32 = 50.0;
/// The fastest pace a request may ask for.
const MAX_RPS: f32 = 10_000.0;
/// Tries of one operation that fails with a retryable error.
const ATTEMPTS: usize = 5;
/// How often a node not running jobs, or with none to run, looks again.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Jobs running on this node, and the wake-up for a new one.
#[derive(Default)]
pub struct Batches {
    running: Mutex<HashSet<(String, String)>>,
    wake: tokio::sync::Notify,
}

impl Batches {
    /// A job was stored: run it now.
    pub fn poke(&self) {
        self.wake.notify_one();
    }

    /// Runs stored jobs until the server stops (its `stopping` sender
    /// drops or turns true).
    pub fn start(frontend: Frontend, mut stopping: tokio::sync::watch::Receiver<bool>) {
        tokio::spawn(async move {
            loop {
                if frontend.history.runs_singletons() {
                    frontend.batches.resume(&frontend).await;
                }
                tokio::select! {
                    _ = frontend.batches.wake.notified() => {}
                    _ = tokio::time::sleep(CHECK_EVERY) => {}
                    changed = stopping.changed() => if changed.is_err() || *stopping.borrow() { return },
                }
            }
        });
    }

    /// Starts a task for every running job not yet running here.
    async fn resume(&self, frontend: &Frontend) {
        let jobs = match frontend.history.store().list_batches(None).await {
            Ok(jobs) => jobs,
            Err(e) => return tracing::warn!(error = %e, "batch operations: listing jobs failed"),
        };
        for job in jobs.into_iter().filter(|j| j.state == BatchOperationState::Running as i32) {
            let key = (job.namespace.clone(), job.job_id.clone());
            if !crate::sync::lock(&self.running).insert(key.clone()) {
                continue;
            }
            let frontend = frontend.clone();
            tokio::spawn(async move {
                let job_id = job.job_id.clone();
                if let Err(e) = run(&frontend, job).await {
                    tracing::warn!(error = %e, %job_id, "batch operation paused; it goes on at the next look");
                }
                crate::sync::lock(&frontend.batches.running).remove(&key);
            });
        }
    }
}

/// The query a job reads: operations that act on running workflows only
/// see those, as on Temporal; delete and reset see every run.
pub fn adjusted_query(request: &StartBatchOperationRequest) -> String {
    use chronicle_engine::api::batch::v1::batch_operation_unpause_activities::Activity;
    let mut filters = vec![];
    if !request.visibility_query.trim().is_empty() {
        filters.push(request.visibility_query.clone());
    }
    match &request.operation {
        Some(Operation::DeletionOperation(_) | Operation::ResetOperation(_)) => {}
        // Only runs with such an activity paused (TemporalPauseInfo).
        Some(Operation::UnpauseActivitiesOperation(op)) => {
            filters.push("ExecutionStatus='Running'".into());
            filters.push(match &op.activity {
                Some(Activity::Type(t)) => {
                    format!(
                        "TemporalPauseInfo = 'property:activityType={}'",
                        t.replace('\\', "\\\\").replace('\'', "\\'")
                    )
                }
                _ => "TemporalPauseInfo IS NOT NULL".into(),
            });
        }
        _ => filters.push("ExecutionStatus='Running'".into()),
    }
    match filters.as_slice() {
        [only] => only.clone(),
        _ => filters.iter().map(|f| format!("({f})")).collect::<Vec<_>>().join(" AND "),
    }
}

/// Runs a job from where its record stands to its end, or until it is
/// stopped or taken over (its record moved on).
async fn run(frontend: &Frontend, mut job: BatchRecord) -> Result<(), Status> {
    let request = job.request.clone().unwrap_or_default();
    let namespace = job.namespace.clone();
    let query = adjusted_query(&request);
    // NaN, zero or less: the default; and at most MAX_RPS (an interval of
    // zero would not be a pace at all).
    let asked = request.max_operations_per_second;
    let rps = if asked > 0.0 { asked.min(MAX_RPS) } else { DEFAULT_RPS };
    let ticks = Arc::new(tokio::sync::Mutex::new(tokio::time::interval(Duration::from_secs_f32(1.0 / rps))));
    if job.total_operation_count == 0 && job.next_page_token.is_empty() && !job.pages_done {
        job.total_operation_count = if request.executions.is_empty() {
            let count = CountWorkflowExecutionsRequest { namespace: namespace.clone(), query: query.clone() };
            match frontend.count_workflow_executions(Request::new(count)).await {
                Ok(count) => count.into_inner().count,
                // A query that cannot run fails the job, as on Temporal.
                Err(s) if s.code() == Code::InvalidArgument => return finish(frontend, job, Some(s.message())).await,
                Err(s) => return Err(s),
            }
        } else {
            request.executions.len() as i64
        };
        save(frontend, &mut job).await?;
    }
    while !job.pages_done {
        if !frontend.history.runs_singletons() {
            return Ok(()); // the node holding the singletons goes on
        }
        let (executions, next) = if request.executions.is_empty() {
            let list = ListWorkflowExecutionsRequest {
                namespace: namespace.clone(),
                page_size: PAGE_SIZE,
                next_page_token: job.next_page_token.clone(),
                query: query.clone(),
            };
            match frontend.list_workflow_executions(Request::new(list)).await {
                Ok(page) => {
                    let page = page.into_inner();
                    let runs = page.executions.into_iter().filter_map(|e| e.execution).collect::<Vec<_>>();
                    (runs, page.next_page_token)
                }
                Err(s) if s.code() == Code::InvalidArgument => return finish(frontend, job, Some(s.message())).await,
                Err(s) => return Err(s),
            }
        } else {
            (request.executions.clone(), Vec::new())
        };
        let outcomes = futures::stream::iter(executions)
            .map(|execution| {
                let (frontend, request, ticks) = (frontend.clone(), request.clone(), ticks.clone());
                async move {
                    for attempt in 1..=ATTEMPTS {
                        ticks.lock().await.tick().await;
                        match apply(&frontend, &request, execution.clone()).await {
                            Ok(()) => return true,
                            // Gone or closed already: nothing left to do.
                            Err(s) if s.code() == Code::NotFound => return true,
                            Err(s) if retryable(&s) && attempt < ATTEMPTS => continue,
                            Err(_) => return false,
                        }
                    }
                    false
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect::<Vec<bool>>()
            .await;
        job.complete_operation_count += outcomes.iter().filter(|ok| **ok).count() as i64;
        job.failure_operation_count += outcomes.iter().filter(|ok| !**ok).count() as i64;
        job.next_page_token = next;
        if job.next_page_token.is_empty() {
            return finish(frontend, job, None).await;
        }
        save(frontend, &mut job).await?;
    }
    Ok(())
}

fn retryable(s: &Status) -> bool {
    matches!(s.code(), Code::Unavailable | Code::Aborted | Code::ResourceExhausted | Code::DeadlineExceeded)
}

/// The job's end: completed (every page done) or failed (its query is bad).
async fn finish(frontend: &Frontend, mut job: BatchRecord, failure: Option<&str>) -> Result<(), Status> {
    job.pages_done = true;
    job.state = if failure.is_some() { BatchOperationState::Failed } else { BatchOperationState::Completed } as i32;
    if let Some(why) = failure {
        job.reason = why.to_string();
    }
    job.close_time = Some(frontend.history.now());
    save(frontend, &mut job).await
}

/// Writes the job's progress; a record moved on (stopped, or run by
/// another node) ends this run of it.
async fn save(frontend: &Frontend, job: &mut BatchRecord) -> Result<(), Status> {
    let expected = job.version;
    job.version += 1;
    match frontend.history.store().write_batch(job.clone(), expected).await {
        Ok(()) => Ok(()),
        Err(StoreError::Conflict(_)) => Err(Status::aborted("the batch operation was stopped or taken over")),
        Err(e) => Err(crate::errors::from_store(e)),
    }
}

/// One workflow's operation, through the service as a client's call goes
/// (validated, and forwarded in a cluster).
async fn apply(
    frontend: &Frontend,
    request: &StartBatchOperationRequest,
    execution: WorkflowExecution,
) -> Result<(), Status> {
    let namespace = request.namespace.clone();
    let target = execution.clone();
    let execution = Some(execution);
    match request.operation.clone() {
        Some(Operation::TerminationOperation(op)) => {
            let r = TerminateWorkflowExecutionRequest {
                namespace,
                workflow_execution: execution,
                reason: request.reason.clone(),
                details: op.details,
                identity: op.identity,
                ..Default::default()
            };
            frontend.terminate_workflow_execution(Request::new(r)).await.map(drop)
        }
        Some(Operation::CancellationOperation(op)) => {
            let r = RequestCancelWorkflowExecutionRequest {
                namespace,
                workflow_execution: execution,
                identity: op.identity,
                request_id: uuid::Uuid::new_v4().to_string(),
                reason: request.reason.clone(),
                ..Default::default()
            };
            frontend.request_cancel_workflow_execution(Request::new(r)).await.map(drop)
        }
        Some(Operation::SignalOperation(op)) => {
            let r = SignalWorkflowExecutionRequest {
                namespace,
                workflow_execution: execution,
                signal_name: op.signal,
                input: op.input,
                identity: op.identity,
                header: op.header,
                request_id: uuid::Uuid::new_v4().to_string(),
                ..Default::default()
            };
            frontend.signal_workflow_execution(Request::new(r)).await.map(drop)
        }
        Some(Operation::DeletionOperation(_)) => {
            let r = DeleteWorkflowExecutionRequest { namespace, workflow_execution: execution };
            frontend.delete_workflow_execution(Request::new(r)).await.map(drop)
        }
        Some(Operation::ResetOperation(op)) => {
            let execution = target;
            let options = match op.options.clone() {
                Some(options) => options,
                None => ResetOptions { target: legacy_target(&op), ..Default::default() },
            };
            let event_id = reset_point(frontend, &namespace, &execution, &options).await?;
            #[allow(deprecated)] // the reapply type still chooses what is applied again
            let r = ResetWorkflowExecutionRequest {
                namespace,
                workflow_execution: Some(execution),
                reason: request.reason.clone(),
                workflow_task_finish_event_id: event_id,
                request_id: uuid::Uuid::new_v4().to_string(),
                reset_reapply_type: options.reset_reapply_type,
                reset_reapply_exclude_types: options.reset_reapply_exclude_types,
                identity: op.identity,
                ..Default::default()
            };
            frontend.reset_workflow_execution(Request::new(r)).await.map(drop)
        }
        Some(Operation::UnpauseActivitiesOperation(op)) => {
            use chronicle_engine::api::batch::v1::batch_operation_unpause_activities::Activity as By;
            use chronicle_engine::api::workflowservice::v1::unpause_activity_request::Activity;
            let r = UnpauseActivityRequest {
                namespace,
                execution,
                identity: op.identity,
                reset_attempts: op.reset_attempts,
                reset_heartbeat: op.reset_heartbeat,
                jitter: op.jitter,
                activity: op.activity.map(|a| match a {
                    By::Type(t) => Activity::Type(t),
                    By::MatchAll(all) => Activity::UnpauseAll(all),
                }),
            };
            frontend.unpause_activity(Request::new(r)).await.map(drop)
        }
        Some(Operation::ResetActivitiesOperation(op)) => {
            use chronicle_engine::api::batch::v1::batch_operation_reset_activities::Activity as By;
            use chronicle_engine::api::workflowservice::v1::reset_activity_request::Activity;
            let r = ResetActivityRequest {
                namespace,
                execution,
                identity: op.identity,
                reset_heartbeat: op.reset_heartbeat,
                keep_paused: op.keep_paused,
                jitter: op.jitter,
                restore_original_options: op.restore_original_options,
                activity: op.activity.map(|a| match a {
                    By::Type(t) => Activity::Type(t),
                    By::MatchAll(all) => Activity::MatchAll(all),
                }),
            };
            frontend.reset_activity(Request::new(r)).await.map(drop)
        }
        Some(Operation::UpdateActivityOptionsOperation(op)) => {
            use chronicle_engine::api::batch::v1::batch_operation_update_activity_options::Activity as By;
            use chronicle_engine::api::workflowservice::v1::update_activity_options_request::Activity;
            let r = UpdateActivityOptionsRequest {
                namespace,
                execution,
                identity: op.identity,
                activity_options: op.activity_options,
                update_mask: op.update_mask,
                restore_original: op.restore_original,
                activity: op.activity.map(|a| match a {
                    By::Type(t) => Activity::Type(t),
                    By::MatchAll(all) => Activity::MatchAll(all),
                }),
            };
            frontend.update_activity_options(Request::new(r)).await.map(drop)
        }
        Some(Operation::UpdateWorkflowOptionsOperation(op)) => {
            let r = UpdateWorkflowExecutionOptionsRequest {
                namespace,
                workflow_execution: execution,
                workflow_execution_options: op.workflow_execution_options,
                update_mask: op.update_mask,
                identity: op.identity,
            };
            frontend.update_workflow_execution_options(Request::new(r)).await.map(drop)
        }
        _ => Err(Status::invalid_argument("not supported batch type")),
    }
}

/// The target the deprecated `reset_type` names, if any.
#[allow(deprecated)]
pub fn legacy_target(op: &chronicle_engine::api::batch::v1::BatchOperationReset) -> Option<Target> {
    use chronicle_engine::api::enums::v1::ResetType;
    match ResetType::try_from(op.reset_type) {
        Ok(ResetType::FirstWorkflowTask) => Some(Target::FirstWorkflowTask(())),
        Ok(ResetType::LastWorkflowTask) => Some(Target::LastWorkflowTask(())),
        _ => None,
    }
}

/// The event a batch reset goes to, found as the `temporal` CLI finds it.
async fn reset_point(
    frontend: &Frontend,
    namespace: &str,
    execution: &WorkflowExecution,
    options: &ResetOptions,
) -> Result<i64, Status> {
    let state = frontend
        .history
        .load(namespace, &execution.workflow_id, &execution.run_id)
        .await
        .map_err(crate::frontend::map_err)?;
    let target = options.target.clone().ok_or_else(|| Status::invalid_argument("batch reset missing target"))?;
    if let Target::WorkflowTaskId(id) = target {
        return Ok(id);
    }
    if let Target::BuildId(build_id) = &target {
        let points = state.auto_reset_points.map(|p| p.points).unwrap_or_default();
        let point = points.into_iter().find(|p| &p.build_id == build_id && p.run_id == state.run_id);
        return point
            .map(|p| p.first_workflow_task_completed_id)
            .ok_or_else(|| Status::failed_precondition(format!("no reset point for build id {build_id}")));
    }
    let events = frontend.history.read_history(&state.run_id, 1, 1_000_000).await.map_err(crate::frontend::map_err)?;
    let last = matches!(target, Target::LastWorkflowTask(_));
    chronicle_engine::workflow_task_point(&events, last)
        .ok_or_else(|| Status::failed_precondition("unable to find any scheduled or completed task"))
}
