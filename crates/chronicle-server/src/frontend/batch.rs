//! StartBatchOperation, StopBatchOperation, DescribeBatchOperation,
//! ListBatchOperations: the job records `crate::batch` runs, checked and
//! described as Temporal's frontend does.

use super::Frontend;
use crate::errors;
use chronicle_engine::api::{
    batch::v1::BatchOperationInfo,
    enums::v1::{BatchOperationState, BatchOperationType, ResourceExhaustedCause, ResourceExhaustedScope},
    errordetails::v1::ResourceExhaustedFailure,
    workflowservice::v1::{
        DescribeBatchOperationRequest, DescribeBatchOperationResponse, ListBatchOperationsRequest,
        ListBatchOperationsResponse, StartBatchOperationRequest, StartBatchOperationResponse,
        StopBatchOperationRequest, StopBatchOperationResponse, start_batch_operation_request::Operation,
    },
};
use chronicle_store::{BatchRecord, StoreError};
use tonic::Status;

/// Jobs of one namespace running at once (Temporal's
/// `frontend.MaxConcurrentBatchOperationPerNamespace`).
const CONCURRENT_MAX: usize = 1;

impl Frontend {
    pub(super) async fn start_batch(
        &self,
        r: StartBatchOperationRequest,
    ) -> Result<StartBatchOperationResponse, Status> {
        if r.operation.is_none()
            || r.reason.is_empty()
            || r.namespace.is_empty()
            || (r.visibility_query.is_empty() && r.executions.is_empty())
        {
            return Err(errors::invalid(
                "must provide required parameters: BatchType,Reason,Namespace, AND one of (Query OR Executions OR TargetExecutions)",
            ));
        }
        if r.job_id.is_empty() {
            return Err(errors::invalid("JobId is not set on request."));
        }
        if r.job_id.len() > chronicle_engine::limits::ID_BYTES_MAX {
            return Err(errors::invalid("JobId length exceeds limit."));
        }
        if !r.visibility_query.is_empty() && !r.executions.is_empty() {
            return Err(errors::invalid("batch query and executions are mutually exclusive"));
        }
        match &r.operation {
            Some(Operation::SignalOperation(op)) if op.signal.is_empty() => {
                return Err(errors::invalid("must provide signal name"));
            }
            Some(Operation::ResetOperation(op)) if op.options.as_ref().is_some_and(|o| o.target.is_none()) => {
                return Err(errors::invalid("batch reset missing target"));
            }
            Some(Operation::ResetOperation(op))
                if op.options.is_none() && crate::batch::legacy_target(op).is_none() =>
            {
                let name = chronicle_engine::api::enums::v1::ResetType::try_from(op.reset_type)
                    .map(|t| match t {
                        chronicle_engine::api::enums::v1::ResetType::Unspecified => "Unspecified".to_string(),
                        other => other.as_str_name().to_string(),
                    })
                    .unwrap_or_else(|_| op.reset_type.to_string());
                return Err(errors::invalid(format!("unknown batch reset type {name}")));
            }
            Some(Operation::UnpauseActivitiesOperation(op)) => {
                use chronicle_engine::api::batch::v1::batch_operation_unpause_activities::Activity;
                check_activity_filter(op.activity.as_ref().map(|a| match a {
                    Activity::Type(t) => !t.is_empty(),
                    Activity::MatchAll(all) => *all,
                }))?;
            }
            Some(Operation::ResetActivitiesOperation(op)) => {
                use chronicle_engine::api::batch::v1::batch_operation_reset_activities::Activity;
                check_activity_filter(op.activity.as_ref().map(|a| match a {
                    Activity::Type(t) => !t.is_empty(),
                    Activity::MatchAll(all) => *all,
                }))?;
            }
            Some(Operation::UpdateActivityOptionsOperation(op)) => {
                use chronicle_engine::api::batch::v1::batch_operation_update_activity_options::Activity;
                check_activity_filter(op.activity.as_ref().map(|a| match a {
                    Activity::Type(t) => !t.is_empty(),
                    Activity::MatchAll(all) => *all,
                }))?;
                if op.activity_options.is_some() && op.restore_original {
                    return Err(errors::invalid("cannot set both activity options and restore original"));
                }
            }
            Some(
                Operation::TerminationOperation(_)
                | Operation::CancellationOperation(_)
                | Operation::SignalOperation(_)
                | Operation::DeletionOperation(_)
                | Operation::ResetOperation(_)
                | Operation::UpdateWorkflowOptionsOperation(_),
            ) => {}
            Some(other) => {
                return Err(Status::unimplemented(format!(
                    "batch operation {} is not implemented by Chronicle",
                    operation_type(Some(other)).as_str_name()
                )));
            }
            None => unreachable!("checked above"),
        }
        self.check_namespace(&r.namespace)?;
        let store = self.history.store();
        let jobs = store.list_batches(Some(&r.namespace)).await.map_err(errors::from_store)?;
        if jobs.iter().filter(|j| j.state == BatchOperationState::Running as i32).count() >= CONCURRENT_MAX {
            return Err(errors::resource_exhausted(
                "Max concurrent batch operations is reached",
                ResourceExhaustedFailure {
                    cause: ResourceExhaustedCause::ConcurrentLimit as i32,
                    scope: ResourceExhaustedScope::Namespace as i32,
                },
            ));
        }
        let job = BatchRecord {
            namespace: r.namespace.clone(),
            job_id: r.job_id.clone(),
            version: 1,
            state: BatchOperationState::Running as i32,
            start_time: Some(self.history.now()),
            request: Some(r),
            ..Default::default()
        };
        store.write_batch(job, 0).await.map_err(|e| match e {
            StoreError::BatchExists { job_id, .. } => {
                Status::already_exists(format!("Workflow execution is already running. WorkflowId: {job_id}."))
            }
            e => errors::from_store(e),
        })?;
        self.batches.poke();
        Ok(StartBatchOperationResponse {})
    }

    pub(super) async fn stop_batch(&self, r: StopBatchOperationRequest) -> Result<StopBatchOperationResponse, Status> {
        check_job(&r.job_id, &r.namespace)?;
        if r.reason.is_empty() {
            return Err(errors::invalid("Reason is not set on request."));
        }
        let store = self.history.store();
        for _ in 0..8 {
            let mut job = self.load_batch(&r.namespace, &r.job_id).await?;
            if job.state != BatchOperationState::Running as i32 {
                return Err(errors::not_found("workflow execution already completed"));
            }
            let expected = job.version;
            job.version += 1;
            job.state = BatchOperationState::Failed as i32;
            job.close_time = Some(self.history.now());
            job.reason = r.reason.clone();
            match store.write_batch(job, expected).await {
                Ok(()) => return Ok(StopBatchOperationResponse {}),
                Err(StoreError::Conflict(_)) => continue, // the job wrote progress: again
                Err(e) => return Err(errors::from_store(e)),
            }
        }
        Err(Status::aborted("the batch operation kept changing; retry the stop"))
    }

    pub(super) async fn describe_batch(
        &self,
        r: DescribeBatchOperationRequest,
    ) -> Result<DescribeBatchOperationResponse, Status> {
        check_job(&r.job_id, &r.namespace)?;
        let job = self.load_batch(&r.namespace, &r.job_id).await?;
        let request = job.request.clone().unwrap_or_default();
        let completed = job.state == BatchOperationState::Completed as i32;
        Ok(DescribeBatchOperationResponse {
            operation_type: operation_type(request.operation.as_ref()) as i32,
            job_id: job.job_id.clone(),
            state: job.state,
            start_time: job.start_time,
            close_time: job.close_time,
            // Once done, what was done; before, the estimate made at start.
            total_operation_count: if completed {
                job.complete_operation_count + job.failure_operation_count
            } else {
                job.total_operation_count
            },
            complete_operation_count: job.complete_operation_count,
            failure_operation_count: job.failure_operation_count,
            identity: identity(&request),
            reason: request.reason,
            query: request.visibility_query,
            ..Default::default()
        })
    }

    pub(super) async fn list_batches(
        &self,
        r: ListBatchOperationsRequest,
    ) -> Result<ListBatchOperationsResponse, Status> {
        if r.namespace.is_empty() {
            return Err(errors::invalid("Namespace is not set on request."));
        }
        self.check_namespace(&r.namespace)?;
        let mut jobs = self.history.store().list_batches(Some(&r.namespace)).await.map_err(errors::from_store)?;
        // Newest first, as visibility orders the jobs on Temporal.
        jobs.sort_by(|a, b| {
            let key = |j: &BatchRecord| j.start_time.map(|t| (t.seconds, t.nanos)).unwrap_or_default();
            key(b).cmp(&key(a)).then_with(|| a.job_id.cmp(&b.job_id))
        });
        let max = crate::batch::PAGE_SIZE as usize;
        let size = if r.page_size <= 0 { max } else { (r.page_size as usize).min(max) };
        let from = if r.next_page_token.is_empty() {
            0
        } else {
            std::str::from_utf8(&r.next_page_token)
                .ok()
                .and_then(|t| t.parse::<usize>().ok())
                .ok_or_else(|| errors::invalid("Invalid NextPageToken."))?
        };
        let page: Vec<_> = jobs.iter().skip(from).take(size).collect();
        let next = from + page.len();
        Ok(ListBatchOperationsResponse {
            operation_info: page
                .into_iter()
                .map(|j| BatchOperationInfo {
                    job_id: j.job_id.clone(),
                    state: j.state,
                    start_time: j.start_time,
                    close_time: j.close_time,
                    operation_type: operation_type(j.request.as_ref().and_then(|r| r.operation.as_ref())) as i32,
                })
                .collect(),
            next_page_token: if next < jobs.len() { next.to_string().into_bytes() } else { Vec::new() },
        })
    }

    async fn load_batch(&self, namespace: &str, job_id: &str) -> Result<BatchRecord, Status> {
        self.check_namespace(namespace)?;
        self.history
            .store()
            .load_batch(namespace, job_id)
            .await
            .map_err(errors::from_store)?
            .ok_or_else(|| errors::not_found(format!("workflow not found for ID: {job_id}")))
    }
}

/// An activity batch names its activities by type or all of them
/// (`Some(named)`: the filter is there and names something).
fn check_activity_filter(filter: Option<bool>) -> Result<(), Status> {
    match filter {
        None => Err(errors::invalid("must provide ActivityType or MatchAll")),
        Some(false) => Err(errors::invalid("Either activity type must be set, or match all should be set to true")),
        Some(true) => Ok(()),
    }
}

fn check_job(job_id: &str, namespace: &str) -> Result<(), Status> {
    if job_id.is_empty() {
        return Err(errors::invalid("JobId is not set on request."));
    }
    if namespace.is_empty() {
        return Err(errors::invalid("Namespace is not set on request."));
    }
    Ok(())
}

/// The type as Temporal 1.32 reports it.
fn operation_type(operation: Option<&Operation>) -> BatchOperationType {
    match operation {
        Some(Operation::TerminationOperation(_)) => BatchOperationType::TerminateWorkflow,
        Some(Operation::CancellationOperation(_)) => BatchOperationType::CancelWorkflow,
        Some(Operation::SignalOperation(_)) => BatchOperationType::SignalWorkflow,
        Some(Operation::DeletionOperation(_)) => BatchOperationType::DeleteWorkflow,
        Some(Operation::ResetOperation(_)) => BatchOperationType::ResetWorkflow,
        Some(Operation::UpdateWorkflowOptionsOperation(_)) => BatchOperationType::UpdateExecutionOptions,
        Some(Operation::UnpauseActivitiesOperation(_)) => BatchOperationType::UnpauseActivity,
        Some(Operation::ResetActivitiesOperation(_)) => BatchOperationType::ResetActivity,
        Some(Operation::UpdateActivityOptionsOperation(_)) => BatchOperationType::UpdateActivityOptions,
        _ => BatchOperationType::Unspecified,
    }
}

fn identity(r: &StartBatchOperationRequest) -> String {
    match &r.operation {
        Some(Operation::TerminationOperation(op)) => op.identity.clone(),
        Some(Operation::CancellationOperation(op)) => op.identity.clone(),
        Some(Operation::SignalOperation(op)) => op.identity.clone(),
        Some(Operation::DeletionOperation(op)) => op.identity.clone(),
        Some(Operation::ResetOperation(op)) => op.identity.clone(),
        Some(Operation::UnpauseActivitiesOperation(op)) => op.identity.clone(),
        Some(Operation::ResetActivitiesOperation(op)) => op.identity.clone(),
        Some(Operation::UpdateActivityOptionsOperation(op)) => op.identity.clone(),
        Some(Operation::UpdateWorkflowOptionsOperation(op)) => op.identity.clone(),
        _ => String::new(),
    }
}
