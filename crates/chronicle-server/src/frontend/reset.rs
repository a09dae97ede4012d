//! ResetWorkflowExecution: the request checked as Temporal's frontend checks
//! it, then `History::reset`.

use super::{Frontend, map_err};
use crate::errors;
use crate::history::ResetRequest;
use chronicle_engine::api::enums::v1::{ResetReapplyExcludeType as Exclude, ResetReapplyType};
use chronicle_engine::api::workflowservice::v1::{ResetWorkflowExecutionRequest, ResetWorkflowExecutionResponse};
use chronicle_engine::limits;
use tonic::Status;

impl Frontend {
    pub(super) async fn reset_workflow(
        &self,
        r: ResetWorkflowExecutionRequest,
    ) -> Result<ResetWorkflowExecutionResponse, Status> {
        self.check_namespace(&r.namespace)?;
        if r.request_id.is_empty() {
            return Err(errors::invalid("RequestId is not set on request."));
        }
        if r.request_id.len() > limits::ID_BYTES_MAX {
            return Err(errors::invalid("RequestId length exceeds limit."));
        }
        let execution =
            r.workflow_execution.as_ref().ok_or_else(|| errors::invalid("Execution is not set on request."))?;
        if execution.workflow_id.is_empty() {
            return Err(errors::invalid("WorkflowId is not set on request."));
        }
        if !execution.run_id.is_empty() && uuid::Uuid::parse_str(&execution.run_id).is_err() {
            return Err(errors::invalid("Invalid RunId."));
        }
        let exclude = exclude_types(&r)?;
        if let Some(op) = r.post_reset_operations.first() {
            use chronicle_engine::api::workflow::v1::post_reset_operation::Variant;
            let name = match &op.variant {
                Some(Variant::SignalWorkflow(_)) => "*workflowpb.PostResetOperation_SignalWorkflow",
                Some(Variant::UpdateWorkflowOptions(_)) => "*workflowpb.PostResetOperation_UpdateWorkflowOptions",
                None => "<nil>",
            };
            return Err(errors::invalid(format!("unsupported post reset operation: {name}")));
        }
        let request = ResetRequest {
            namespace: r.namespace.clone(),
            workflow_id: execution.workflow_id.clone(),
            run_id: execution.run_id.clone(),
            workflow_task_finish_event_id: r.workflow_task_finish_event_id,
            reason: r.reason.clone(),
            request_id: r.request_id.clone(),
            exclude,
        };
        let run_id = self.history.reset(request).await.map_err(map_err)?;
        Ok(ResetWorkflowExecutionResponse { run_id })
    }
}

/// What is not applied again after the reset point: the deprecated reapply
/// type (unset means everything eligible, as Temporal 1.32 defaults it),
/// plus the excluded types.
fn exclude_types(r: &ResetWorkflowExecutionRequest) -> Result<Vec<Exclude>, Status> {
    let mut exclude = match ResetReapplyType::try_from(r.reset_reapply_type) {
        Ok(ResetReapplyType::Unspecified | ResetReapplyType::AllEligible) => vec![],
        Ok(ResetReapplyType::Signal) => vec![Exclude::Update],
        Ok(ResetReapplyType::None) => vec![Exclude::Signal, Exclude::Update],
        Err(_) => return Err(Status::internal(format!("unknown reset reapply type: {}", r.reset_reapply_type))),
    };
    for t in &r.reset_reapply_exclude_types {
        match Exclude::try_from(*t) {
            Ok(Exclude::Unspecified) => {}
            Ok(t) => exclude.push(t),
            Err(_) => return Err(errors::invalid(format!("unknown reset reapply exclude type: {t}"))),
        }
    }
    Ok(exclude)
}
