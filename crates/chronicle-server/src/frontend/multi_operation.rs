//! ExecuteMultiOperation: update-with-start, the one composition Temporal
//! accepts ([Start, Update] on one workflow id). A fresh run is started with
//! the update admitted in the same commit (it rides the first workflow
//! task); with USE_EXISTING a running workflow gets the update instead.
//! Failures carry Temporal's MultiOperationExecutionFailure: the failing
//! operation's own status, the other one Aborted.

use super::updates::{check_update_request, update_ref, wanted};
use super::{Frontend, map_err};
use crate::errors;
use chronicle_engine::api::{
    enums::v1::WorkflowIdConflictPolicy,
    errordetails::v1::{MultiOperationExecutionFailure, multi_operation_execution_failure::OperationStatus},
    failure::v1::MultiOperationExecutionAborted,
    workflowservice::v1::{
        execute_multi_operation_request::operation::Operation as Op,
        execute_multi_operation_response::{Response as OpResponse, response::Response as OpResult},
        *,
    },
};
use prost::{Message, Name};
use tokio::time::Instant;
use tonic::{Code, Status};

const FAILED: &str = "Update-with-Start could not be executed.";
const INVALID: &str = "MultiOperation could not be executed.";

/// One operation's status inside a MultiOperationExecutionFailure, from the
/// gRPC status it would have had on its own.
fn operation_status(status: &Status) -> OperationStatus {
    let details =
        temporalio_protos::google::rpc::Status::decode(status.details()).map(|s| s.details).unwrap_or_default();
    OperationStatus { code: status.code() as i32, message: status.message().to_string(), details }
}

fn aborted() -> OperationStatus {
    OperationStatus {
        code: Code::Aborted as i32,
        message: "Operation was aborted.".into(),
        details: vec![prost_types::Any {
            type_url: MultiOperationExecutionAborted::type_url(),
            value: MultiOperationExecutionAborted {}.encode_to_vec(),
        }],
    }
}

/// The error for a request whose operation `failed_index` failed with
/// `status`; the top-level code is that operation's.
fn failure(message: &str, failed_index: usize, status: Status) -> Status {
    let statuses = (0..2).map(|i| if i == failed_index { operation_status(&status) } else { aborted() }).collect();
    let detail = MultiOperationExecutionFailure { statuses };
    let rpc = temporalio_protos::google::rpc::Status {
        code: status.code() as i32,
        message: message.to_string(),
        details: vec![prost_types::Any {
            type_url: MultiOperationExecutionFailure::type_url(),
            value: detail.encode_to_vec(),
        }],
    };
    Status::with_details(status.code(), message, rpc.encode_to_vec().into())
}

impl Frontend {
    pub(super) async fn execute_multi_operation(
        &self,
        r: ExecuteMultiOperationRequest,
        deadline: Instant,
    ) -> Result<ExecuteMultiOperationResponse, Status> {
        self.check_namespace(&r.namespace)?;
        let mut ops = r.operations.into_iter().map(|o| o.operation);
        let (Some(Some(Op::StartWorkflow(start))), Some(Some(Op::UpdateWorkflow(update))), None) =
            (ops.next(), ops.next(), ops.next())
        else {
            return Err(errors::invalid("Operations have to be exactly [Start, Update]."));
        };
        let workflow_id = start.workflow_id.clone();
        let conflict = WorkflowIdConflictPolicy::try_from(start.workflow_id_conflict_policy)
            .unwrap_or(WorkflowIdConflictPolicy::Unspecified);

        // Each operation validated as on its own, without side effects.
        let start_check = || -> Result<(), Status> {
            if !start.namespace.is_empty() && start.namespace != r.namespace {
                return Err(errors::invalid("Operation namespace did not match request's namespace."));
            }
            if !start.cron_schedule.is_empty() {
                return Err(errors::invalid("CronSchedule is not allowed."));
            }
            if start.request_eager_execution {
                return Err(errors::invalid("RequestEagerExecution is not supported."));
            }
            if start.workflow_start_delay.is_some_and(|d| d.seconds > 0 || d.nanos > 0) {
                return Err(errors::invalid("WorkflowStartDelay is not supported."));
            }
            if conflict == WorkflowIdConflictPolicy::TerminateExisting {
                return Err(errors::invalid(format!(
                    "Invalid WorkflowIDConflictPolicy: {} is not supported for this operation.",
                    conflict.as_str_name()
                )));
            }
            Ok(())
        };
        if let Err(status) = start_check() {
            return Err(failure(INVALID, 0, status));
        }
        let (mut args, mut policies) = self.start_args(start).map_err(|s| failure(INVALID, 0, s))?;
        if conflict == WorkflowIdConflictPolicy::Unspecified {
            policies.conflict = WorkflowIdConflictPolicy::Fail;
        }
        let update_check = || -> Result<chronicle_engine::api::update::v1::Request, Status> {
            if !update.namespace.is_empty() && update.namespace != r.namespace {
                return Err(errors::invalid("Operation namespace did not match request's namespace."));
            }
            if !update.first_execution_run_id.is_empty() {
                return Err(errors::invalid("FirstExecutionRunId is not allowed."));
            }
            let execution = update.workflow_execution.clone().unwrap_or_default();
            if !execution.run_id.is_empty() {
                return Err(errors::invalid("RunId is not allowed."));
            }
            if execution.workflow_id != workflow_id {
                return Err(errors::invalid("WorkflowId is not consistent with previous operation(s)."));
            }
            let request = update.request.clone().ok_or_else(|| errors::invalid("Request is not set on request."))?;
            check_update_request(&request)?;
            Ok(request)
        };
        let request = update_check().map_err(|s| failure(INVALID, 1, s))?;
        let update_id = request.meta.as_ref().map(|m| m.update_id.clone()).unwrap_or_default();

        args.update = Some(Box::new(request));
        let started = match self.history.start(args, policies).await {
            Ok(started) => started,
            // The start's own errors (already started, ...) fail the start;
            // those from delivering the update to a running run fail the update.
            Err(e @ crate::history::HistoryError::AlreadyStarted { .. }) => return Err(failure(FAILED, 0, map_err(e))),
            Err(e @ crate::history::HistoryError::InvalidArgument(_)) => return Err(failure(FAILED, 0, map_err(e))),
            Err(e) => return Err(failure(FAILED, 1, map_err(e))),
        };
        let state = self.history.load(&r.namespace, &workflow_id, &started.run_id).await.map_err(map_err)?;
        let (stage, outcome) = self
            .wait_update(&state, &update_id, true, wanted(&update.wait_policy), deadline)
            .await
            .map_err(|s| failure(FAILED, 1, s))?;
        Ok(ExecuteMultiOperationResponse {
            responses: vec![
                OpResponse {
                    response: Some(OpResult::StartWorkflow(StartWorkflowExecutionResponse {
                        run_id: started.run_id,
                        started: started.started,
                        // The run attached to may have closed already.
                        status: state.status,
                        ..Default::default()
                    })),
                },
                OpResponse {
                    response: Some(OpResult::UpdateWorkflow(UpdateWorkflowExecutionResponse {
                        update_ref: update_ref(&state, &update_id),
                        outcome,
                        stage,
                        ..Default::default()
                    })),
                },
            ],
        })
    }
}
