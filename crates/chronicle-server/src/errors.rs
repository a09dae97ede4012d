//! gRPC statuses with the Temporal error details SDKs decode.

use chronicle_engine::EngineError;
use chronicle_engine::api::errordetails::v1::{
    NamespaceAlreadyExistsFailure, NamespaceNotFoundFailure, NotFoundFailure, WorkflowExecutionAlreadyStartedFailure,
};
use chronicle_store::{Missing, StoreError};
use prost::{Message, Name};
use temporalio_protos::google::rpc::Status as RpcStatus;
use tonic::{Code, Status};

fn with_detail<M: Message + Name>(code: Code, message: String, detail: M) -> Status {
    let status = RpcStatus {
        code: code as i32,
        message: message.clone(),
        details: vec![prost_types::Any { type_url: M::type_url(), value: detail.encode_to_vec() }],
    };
    Status::with_details(code, message, status.encode_to_vec().into())
}

pub fn invalid(message: impl Into<String>) -> Status {
    Status::invalid_argument(message.into())
}

pub fn not_found(message: impl Into<String>) -> Status {
    with_detail(
        Code::NotFound,
        message.into(),
        NotFoundFailure { current_cluster: "active".into(), active_cluster: "active".into() },
    )
}

pub fn namespace_not_found(namespace: &str) -> Status {
    with_detail(
        Code::NotFound,
        format!("Namespace {namespace} is not found."),
        NamespaceNotFoundFailure { namespace: namespace.to_string() },
    )
}

pub fn namespace_exists(namespace: &str) -> Status {
    with_detail(Code::AlreadyExists, format!("Namespace {namespace} already exists."), NamespaceAlreadyExistsFailure {})
}

pub fn already_started(message: String, start_request_id: &str, run_id: &str) -> Status {
    with_detail(
        Code::AlreadyExists,
        message,
        WorkflowExecutionAlreadyStartedFailure {
            start_request_id: start_request_id.to_string(),
            run_id: run_id.to_string(),
            ..Default::default()
        },
    )
}

/// A standalone activity's id is taken and the id policies keep it so.
pub fn activity_already_started(start_request_id: &str, run_id: &str) -> Status {
    with_detail(
        Code::AlreadyExists,
        "activity execution already started".into(),
        chronicle_engine::api::errordetails::v1::ActivityExecutionAlreadyStartedFailure {
            start_request_id: start_request_id.to_string(),
            run_id: run_id.to_string(),
        },
    )
}

/// Temporal's WorkflowNotReady: the request needs a workflow task that has
/// not been scheduled yet (e.g. a query during a cron or retry backoff).
pub fn workflow_not_ready(message: impl Into<String>) -> Status {
    with_detail(
        Code::FailedPrecondition,
        message.into(),
        chronicle_engine::api::errordetails::v1::WorkflowNotReadyFailure {},
    )
}

/// A query handler failed: InvalidArgument with QueryFailedFailure, which
/// SDKs turn into their query-failed error.
pub fn query_failed(message: String, detail: chronicle_engine::api::errordetails::v1::QueryFailedFailure) -> Status {
    with_detail(Code::InvalidArgument, message, detail)
}

/// Temporal's ErrWorkflowClosing: the run is being replaced by a new one
/// (continue-as-new, retry, cron) and the request did not reach it; SDK
/// clients retry ResourceExhausted, and the retry lands on the new run.
pub fn workflow_closing() -> Status {
    use chronicle_engine::api::enums::v1::{ResourceExhaustedCause, ResourceExhaustedScope};
    with_detail(
        Code::ResourceExhausted,
        "workflow operation can not be applied because workflow is closing".into(),
        chronicle_engine::api::errordetails::v1::ResourceExhaustedFailure {
            cause: ResourceExhaustedCause::BusyWorkflow as i32,
            scope: ResourceExhaustedScope::Namespace as i32,
        },
    )
}

/// A store error as the status clients see, with Temporal's wording; the
/// store reports kinds, the words are chosen here.
pub fn from_store(e: StoreError) -> Status {
    match e {
        StoreError::Conflict(m) => Status::aborted(format!("concurrent update, retry: {m}")),
        StoreError::NamespaceExists { name } => Status::already_exists(format!("Namespace {name} already exists.")),
        StoreError::NamespaceNotFound { name } => not_found(format!("Namespace {name} is not found.")),
        StoreError::SearchAttributeExists { name } => Status::already_exists(search_attribute_exists(&name)),
        StoreError::SearchAttributeNotFound { name } => not_found(format!("Search attribute {name} doesn't exist.")),
        StoreError::ScheduleExists { schedule_id, .. } => {
            Status::already_exists(format!("schedule {schedule_id} already exists"))
        }
        StoreError::BatchExists { job_id, .. } => {
            Status::already_exists(format!("batch operation {job_id} already exists"))
        }
        StoreError::DeploymentExists { name, .. } => {
            Status::already_exists(format!("worker deployment {name} already exists"))
        }
        StoreError::NotFound(missing) => not_found(missing_message(&missing)),
        // Unavailable: SDKs retry. A failure inside the store is answered
        // the same way, as it always was: the next try may well succeed.
        StoreError::Unavailable(m) | StoreError::Internal(m) => {
            Status::unavailable(format!("storage unavailable: {m}"))
        }
        // The shard moved to another node: the call is worth sending again
        // (it reaches the new owner), as Temporal's frontend retries it.
        e @ StoreError::ShardOwnershipLost { .. } => Status::unavailable(format!("shard ownership lost: {e}")),
        e @ (StoreError::SchemaTooNew { .. } | StoreError::InvalidUrl(_)) => {
            Status::unavailable(format!("storage unavailable: {e}"))
        }
    }
}

/// Temporal's NotFound message for a worker deployment.
pub fn deployment_not_found(name: &str) -> String {
    format!("no Worker Deployment found with name '{name}'; does your Worker Deployment have pollers?")
}

/// Temporal's message for a search attribute registered with another type.
pub fn search_attribute_exists(name: &str) -> String {
    format!("Search attribute {name} already exists.")
}

/// Temporal's not-found message for what a store did not find.
pub fn missing_message(missing: &Missing) -> String {
    match missing {
        Missing::Execution { workflow_id, run_id } => {
            format!("workflow execution not found for workflow ID: {workflow_id}, run ID: {run_id}")
        }
        Missing::Schedule { schedule_id, .. } => format!("schedule {schedule_id} not found"),
        Missing::Batch { job_id, .. } => format!("batch operation {job_id} not found"),
        Missing::Deployment { name, .. } => deployment_not_found(name),
    }
}

pub fn from_engine(e: EngineError) -> Status {
    match e {
        EngineError::WorkflowClosed => not_found("workflow execution already completed"),
        EngineError::WorkflowTaskNotFound => not_found("Workflow task not found."),
        // Temporal's ErrActivityTaskNotFound.
        EngineError::ActivityTaskNotFound => {
            not_found("invalid activityID or activity already timed out or invoking workflow is completed")
        }
        EngineError::StaleTimer => Status::internal("stale timer"),
        EngineError::InvalidArgument(m) => Status::invalid_argument(m),
        EngineError::NotFound(m) => not_found(m),
        EngineError::FailedPrecondition(m) => Status::failed_precondition(m),
        EngineError::LimitExceeded(m) => with_detail(
            Code::ResourceExhausted,
            m,
            chronicle_engine::api::errordetails::v1::ResourceExhaustedFailure {
                cause: chronicle_engine::api::enums::v1::ResourceExhaustedCause::ConcurrentLimit as i32,
                ..Default::default()
            },
        ),
    }
}

/// Temporal's PermissionDenied ("Request unauthorized.", with a
/// PermissionDeniedFailure detail): the caller is known but not allowed.
pub fn unauthorized() -> Status {
    with_detail(
        Code::PermissionDenied,
        "Request unauthorized.".into(),
        chronicle_engine::api::errordetails::v1::PermissionDeniedFailure { reason: String::new() },
    )
}

/// ResourceExhausted with Temporal's detail (cause and scope), which SDKs
/// read to back off and retry.
pub fn resource_exhausted(
    message: &str,
    detail: chronicle_engine::api::errordetails::v1::ResourceExhaustedFailure,
) -> Status {
    with_detail(Code::ResourceExhausted, message.to_string(), detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The store reports kinds; clients see Temporal's words, as before
    /// the store stopped writing them.
    #[test]
    fn store_errors_keep_their_wording() {
        let execution = Missing::Execution { workflow_id: "wf".into(), run_id: "run".into() };
        let schedule = Missing::Schedule { namespace: "ns".into(), schedule_id: "s1".into() };
        let cases = [
            (StoreError::NamespaceExists { name: "ns".into() }, Code::AlreadyExists, "Namespace ns already exists."),
            (StoreError::NamespaceNotFound { name: "ns".into() }, Code::NotFound, "Namespace ns is not found."),
            (
                StoreError::SearchAttributeExists { name: "Color".into() },
                Code::AlreadyExists,
                "Search attribute Color already exists.",
            ),
            (
                StoreError::SearchAttributeNotFound { name: "Color".into() },
                Code::NotFound,
                "Search attribute Color doesn't exist.",
            ),
            (
                StoreError::ScheduleExists { namespace: "ns".into(), schedule_id: "s1".into() },
                Code::AlreadyExists,
                "schedule s1 already exists",
            ),
            (StoreError::NotFound(schedule), Code::NotFound, "schedule s1 not found"),
            (
                StoreError::NotFound(execution),
                Code::NotFound,
                "workflow execution not found for workflow ID: wf, run ID: run",
            ),
            (StoreError::Conflict("run r moved".into()), Code::Aborted, "concurrent update, retry: run r moved"),
            (StoreError::Unavailable("lost".into()), Code::Unavailable, "storage unavailable: lost"),
            (StoreError::Internal("disk".into()), Code::Unavailable, "storage unavailable: disk"),
        ];
        for (error, code, message) in cases {
            let status = from_store(error);
            assert_eq!((status.code(), status.message()), (code, message));
        }
    }
}
