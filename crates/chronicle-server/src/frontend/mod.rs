//! The WorkflowService frontend: validates each request, maps it onto the
//! history service and matching, and maps errors to gRPC statuses with
//! Temporal's error details. RPCs not listed here answer UNIMPLEMENTED
//! naming themselves (see chronicle-proto's build script).

mod activity_control;
mod batch;
mod deployments;
mod forward;
mod multi_operation;
mod queries;
mod reset;
mod schedules;
mod standalone;
mod system;
mod task_queues;
mod tasks;
mod updates;
mod visibility;
mod workflows;

use crate::errors;
use crate::history::{History, HistoryError};
use crate::matching::Matching;
use crate::namespaces::Namespaces;
use chronicle_engine::MutableState;
use chronicle_engine::api::workflowservice::v1::*;
use chronicle_proto::workflowservice::workflow_service_server::WorkflowService;
use std::sync::Arc;
use tonic::{Request, Response, Status};

#[derive(Clone)]
pub struct Frontend {
    pub(crate) history: Arc<History>,
    pub(crate) matching: Arc<Matching>,
    pub(crate) namespaces: Arc<Namespaces>,
    pub(crate) schedules: Arc<crate::schedules::Scheduler>,
    pub(crate) batches: Arc<crate::batch::Batches>,
    pub(crate) deployments: Arc<crate::deployments::Deployments>,
    /// Turns true when the server stops: long polls answer at once.
    stopping: tokio::sync::watch::Receiver<bool>,
}

type Rpc<T> = Result<Response<T>, Status>;

impl Frontend {
    pub fn new(
        history: Arc<History>,
        matching: Arc<Matching>,
        namespaces: Arc<Namespaces>,
        schedules: Arc<crate::schedules::Scheduler>,
        stopping: tokio::sync::watch::Receiver<bool>,
        deployments: Arc<crate::deployments::Deployments>,
    ) -> Self {
        Frontend { history, matching, namespaces, schedules, batches: Default::default(), deployments, stopping }
    }

    /// Waits until `done` holds for the run, re-reading it after every
    /// commit (subscribed before reading, so none slips between). Returns
    /// the last state read and whether `done` held; false means the
    /// deadline passed or the server is stopping. A run the server has no
    /// work left on (closed) is returned as read.
    pub(crate) async fn wait_for_state(
        &self,
        s: &MutableState,
        deadline: tokio::time::Instant,
        done: impl Fn(&MutableState) -> bool,
    ) -> Result<(MutableState, bool), Status> {
        loop {
            let changed = self.history.watch(&s.namespace, &s.workflow_id, &s.run_id).await.map_err(map_err)?;
            let state = self.history.load(&s.namespace, &s.workflow_id, &s.run_id).await.map_err(map_err)?;
            if done(&state) {
                return Ok((state, true));
            }
            let Some(mut changed) = changed else {
                // Nothing left to happen to the run (closed, or gone).
                return Ok((state, true));
            };
            if self.wait(deadline, changed.changed()).await.is_none() {
                return Ok((state, false));
            }
            // Woken by a commit: read the run before subscribing again, so
            // a run that just closed (no longer cached) is read once, not
            // once to subscribe and once more to read.
            let state = self.history.load(&s.namespace, &s.workflow_id, &s.run_id).await.map_err(map_err)?;
            if done(&state) {
                return Ok((state, true));
            }
        }
    }

    /// Runs a long-poll wait until `deadline`; None at the deadline or when
    /// the server stops (so a graceful shutdown does not wait a minute).
    pub(crate) async fn wait<F: std::future::Future>(&self, deadline: tokio::time::Instant, f: F) -> Option<F::Output> {
        let mut stopping = self.stopping.clone();
        if *stopping.borrow() {
            return None;
        }
        tokio::select! {
            out = tokio::time::timeout_at(deadline, f) => out.ok(),
            _ = stopping.wait_for(|s| *s) => None,
        }
    }

    pub(crate) fn check_namespace(&self, namespace: &str) -> Result<(), Status> {
        if namespace.is_empty() {
            return Err(errors::invalid("Namespace not set on request."));
        }
        if self.namespaces.get(namespace).is_none() {
            return Err(errors::namespace_not_found(namespace));
        }
        Ok(())
    }
}

pub(crate) fn map_err(e: HistoryError) -> Status {
    match e {
        HistoryError::Engine(e) => errors::from_engine(e),
        HistoryError::Store(e) => errors::from_store(e),
        HistoryError::NotFound(m) => errors::not_found(m),
        HistoryError::InvalidArgument(m) => errors::invalid(m),
        HistoryError::NotOwner(m) => Status::unavailable(m),
        HistoryError::AlreadyStarted { message, start_request_id, run_id } => {
            errors::already_started(message, &start_request_id, &run_id)
        }
    }
}

/// Forwards the call to the node holding its shard, unless that is here
/// (see `forward`).
macro_rules! route {
    ($self:ident, $r:ident, $key:expr, $method:ident) => {
        if let Some(address) = $self.forward_to(&$r, $key)? {
            return $self.peer(&address)?.$method($self.forwarded($r)).await.map_err(|s| forward::failed(&address, s));
        }
    };
}

/// The workflow id a request names, or "" (served here, where the handler
/// says what is missing).
fn wf(execution: &Option<chronicle_engine::api::common::v1::WorkflowExecution>) -> &str {
    execution.as_ref().map_or("", |e| e.workflow_id.as_str())
}

fn tq(queue: &Option<chronicle_engine::api::taskqueue::v1::TaskQueue>) -> &str {
    queue.as_ref().map_or("", |q| q.name.as_str())
}

/// The workflow an update-with-start is about: its start's.
fn multi_operation_workflow(r: &ExecuteMultiOperationRequest) -> &str {
    use execute_multi_operation_request::operation::Operation;
    r.operations
        .iter()
        .find_map(|o| match &o.operation {
            Some(Operation::StartWorkflow(s)) => Some(s.workflow_id.as_str()),
            Some(Operation::UpdateWorkflow(u)) => Some(wf(&u.workflow_execution)),
            None => None,
        })
        .unwrap_or("")
}

#[tonic::async_trait]
impl WorkflowService for Frontend {
    async fn get_system_info(&self, r: Request<GetSystemInfoRequest>) -> Rpc<GetSystemInfoResponse> {
        self.system_info(r.into_inner()).map(Response::new)
    }
    async fn get_cluster_info(&self, r: Request<GetClusterInfoRequest>) -> Rpc<GetClusterInfoResponse> {
        self.cluster_info(r.into_inner()).map(Response::new)
    }
    async fn register_namespace(&self, r: Request<RegisterNamespaceRequest>) -> Rpc<RegisterNamespaceResponse> {
        self.register_ns(r.into_inner()).await.map(Response::new)
    }
    async fn describe_namespace(&self, r: Request<DescribeNamespaceRequest>) -> Rpc<DescribeNamespaceResponse> {
        self.describe_ns(r.into_inner()).await.map(Response::new)
    }
    async fn list_namespaces(&self, r: Request<ListNamespacesRequest>) -> Rpc<ListNamespacesResponse> {
        self.list_ns(r.into_inner()).map(Response::new)
    }
    async fn start_workflow_execution(
        &self,
        r: Request<StartWorkflowExecutionRequest>,
    ) -> Rpc<StartWorkflowExecutionResponse> {
        route!(
            self,
            r,
            forward::Key::Workflow(&r.get_ref().namespace, &r.get_ref().workflow_id),
            start_workflow_execution
        );
        self.start_workflow(r.into_inner()).await.map(Response::new)
    }
    async fn describe_workflow_execution(
        &self,
        r: Request<DescribeWorkflowExecutionRequest>,
    ) -> Rpc<DescribeWorkflowExecutionResponse> {
        route!(
            self,
            r,
            forward::Key::Workflow(&r.get_ref().namespace, wf(&r.get_ref().execution)),
            describe_workflow_execution
        );
        self.describe_workflow(r.into_inner()).await.map(Response::new)
    }
    async fn get_workflow_execution_history(
        &self,
        r: Request<GetWorkflowExecutionHistoryRequest>,
    ) -> Rpc<GetWorkflowExecutionHistoryResponse> {
        route!(
            self,
            r,
            forward::Key::Workflow(&r.get_ref().namespace, wf(&r.get_ref().execution)),
            get_workflow_execution_history
        );
        let deadline = crate::longpoll::deadline(&r);
        self.workflow_history(r.into_inner(), deadline).await.map(Response::new)
    }
    async fn request_cancel_workflow_execution(
        &self,
        r: Request<RequestCancelWorkflowExecutionRequest>,
    ) -> Rpc<RequestCancelWorkflowExecutionResponse> {
        route!(
            self,
            r,
            forward::Key::Workflow(&r.get_ref().namespace, wf(&r.get_ref().workflow_execution)),
            request_cancel_workflow_execution
        );
        self.request_cancel_workflow(r.into_inner()).await.map(Response::new)
    }
    async fn terminate_workflow_execution(
        &self,
        r: Request<TerminateWorkflowExecutionRequest>,
    ) -> Rpc<TerminateWorkflowExecutionResponse> {
        route!(
            self,
            r,
            forward::Key::Workflow(&r.get_ref().namespace, wf(&r.get_ref().workflow_execution)),
            terminate_workflow_execution
        );
        self.terminate_workflow(r.into_inner()).await.map(Response::new)
    }
    async fn pause_activity(&self, r: Request<PauseActivityRequest>) -> Rpc<PauseActivityResponse> {
        route!(self, r, forward::Key::Workflow(&r.get_ref().namespace, wf(&r.get_ref().execution)), pause_activity);
        self.pause_activities(r.into_inner()).await.map(Response::new)
    }
    async fn unpause_activity(&self, r: Request<UnpauseActivityRequest>) -> Rpc<UnpauseActivityResponse> {
        route!(self, r, forward::Key::Workflow(&r.get_ref().namespace, wf(&r.get_ref().execution)), unpause_activity);
        self.unpause_activities(r.into_inner()).await.map(Response::new)
    }
    async fn reset_activity(&self, r: Request<ResetActivityRequest>) -> Rpc<ResetActivityResponse> {
        route!(self, r, forward::Key::Workflow(&r.get_ref().namespace, wf(&r.get_ref().execution)), reset_activity);
        self.reset_activities(r.into_inner()).await.map(Response::new)
    }
    async fn pause_activity_execution(
        &self,
        r: Request<PauseActivityExecutionRequest>,
    ) -> Rpc<PauseActivityExecutionResponse> {
        let key = standalone::by_id_key(&r.get_ref().workflow_id, &r.get_ref().activity_id);
        route!(self, r, forward::Key::Workflow(&r.get_ref().namespace, &key), pause_activity_execution);
        self.pause_activity_execution_of(r.into_inner()).await.map(Response::new)
    }
    async fn unpause_activity_execution(
        &self,
        r: Request<UnpauseActivityExecutionRequest>,
    ) -> Rpc<UnpauseActivityExecutionResponse> {
        let key = standalone::by_id_key(&r.get_ref().workflow_id, &r.get_ref().activity_id);
        route!(self, r, forward::Key::Workflow(&r.get_ref().namespace, &key), unpause_activity_execution);
        self.unpause_activity_execution_of(r.into_inner()).await.map(Response::new)
    }
    async fn reset_activity_execution(
        &self,
        r: Request<ResetActivityExecutionRequest>,
    ) -> Rpc<ResetActivityExecutionResponse> {
        let key = standalone::by_id_key(&r.get_ref().workflow_id, &r.get_ref().activity_id);
        route!(self, r, forward::Key::Workflow(&r.get_ref().namespace, &key), reset_activity_execution);
        self.reset_activity_execution_of(r.into_inner()).await.map(Response::new)
    }
    async fn update_activity_options(
        &self,
        r: Request<UpdateActivityOptionsRequest>,
    ) -> Rpc<UpdateActivityOptionsResponse> {
        route!(
            self,
            r,
            forward::Key::Workflow(&r.get_ref().namespace, wf(&r.get_ref().execution)),
            update_activity_options
        );
        self.update_activity_options_of(r.into_inner()).await.map(Response::new)
    }
    async fn update_activity_execution_options(
        &self,
        r: Request<UpdateActivityExecutionOptionsRequest>,
    ) -> Rpc<UpdateActivityExecutionOptionsResponse> {
        let key = standalone::by_id_key(&r.get_ref().workflow_id, &r.get_ref().activity_id);
        route!(self, r, forward::Key::Workflow(&r.get_ref().namespace, &key), update_activity_execution_options);
        self.update_activity_execution_options_of(r.into_inner()).await.map(Response::new)
    }
    async fn start_activity_execution(
        &self,
        r: Request<StartActivityExecutionRequest>,
    ) -> Rpc<StartActivityExecutionResponse> {
        let key = standalone::key(&r.get_ref().activity_id);
        route!(self, r, forward::Key::Workflow(&r.get_ref().namespace, &key), start_activity_execution);
        self.start_activity_execution_of(r.into_inner()).await.map(Response::new)
    }
    async fn describe_activity_execution(
        &self,
        r: Request<DescribeActivityExecutionRequest>,
    ) -> Rpc<DescribeActivityExecutionResponse> {
        let key = standalone::key(&r.get_ref().activity_id);
        route!(self, r, forward::Key::Workflow(&r.get_ref().namespace, &key), describe_activity_execution);
        let deadline = standalone::long_poll_deadline(&r);
        self.describe_activity_execution_of(r.into_inner(), deadline).await.map(Response::new)
    }
    async fn poll_activity_execution(
        &self,
        r: Request<PollActivityExecutionRequest>,
    ) -> Rpc<PollActivityExecutionResponse> {
        let key = standalone::key(&r.get_ref().activity_id);
        route!(self, r, forward::Key::Workflow(&r.get_ref().namespace, &key), poll_activity_execution);
        let deadline = standalone::long_poll_deadline(&r);
        self.poll_activity_execution_of(r.into_inner(), deadline).await.map(Response::new)
    }
    async fn list_activity_executions(
        &self,
        r: Request<ListActivityExecutionsRequest>,
    ) -> Rpc<ListActivityExecutionsResponse> {
        self.list_activity_executions_of(r.into_inner()).await.map(Response::new)
    }
    async fn count_activity_executions(
        &self,
        r: Request<CountActivityExecutionsRequest>,
    ) -> Rpc<CountActivityExecutionsResponse> {
        self.count_activity_executions_of(r.into_inner()).await.map(Response::new)
    }
    async fn request_cancel_activity_execution(
        &self,
        r: Request<RequestCancelActivityExecutionRequest>,
    ) -> Rpc<RequestCancelActivityExecutionResponse> {
        let key = standalone::key(&r.get_ref().activity_id);
        route!(self, r, forward::Key::Workflow(&r.get_ref().namespace, &key), request_cancel_activity_execution);
        self.request_cancel_activity_execution_of(r.into_inner()).await.map(Response::new)
    }
    async fn terminate_activity_execution(
        &self,
        r: Request<TerminateActivityExecutionRequest>,
    ) -> Rpc<TerminateActivityExecutionResponse> {
        let key = standalone::key(&r.get_ref().activity_id);
        route!(self, r, forward::Key::Workflow(&r.get_ref().namespace, &key), terminate_activity_execution);
        self.terminate_activity_execution_of(r.into_inner()).await.map(Response::new)
    }
    async fn delete_activity_execution(
        &self,
        r: Request<DeleteActivityExecutionRequest>,
    ) -> Rpc<DeleteActivityExecutionResponse> {
        let key = standalone::key(&r.get_ref().activity_id);
        route!(self, r, forward::Key::Workflow(&r.get_ref().namespace, &key), delete_activity_execution);
        self.delete_activity_execution_of(r.into_inner()).await.map(Response::new)
    }
    async fn start_batch_operation(&self, r: Request<StartBatchOperationRequest>) -> Rpc<StartBatchOperationResponse> {
        self.start_batch(r.into_inner()).await.map(Response::new)
    }
    async fn stop_batch_operation(&self, r: Request<StopBatchOperationRequest>) -> Rpc<StopBatchOperationResponse> {
        self.stop_batch(r.into_inner()).await.map(Response::new)
    }
    async fn describe_batch_operation(
        &self,
        r: Request<DescribeBatchOperationRequest>,
    ) -> Rpc<DescribeBatchOperationResponse> {
        self.describe_batch(r.into_inner()).await.map(Response::new)
    }
    async fn list_batch_operations(&self, r: Request<ListBatchOperationsRequest>) -> Rpc<ListBatchOperationsResponse> {
        self.list_batches(r.into_inner()).await.map(Response::new)
    }
    async fn describe_worker_deployment(
        &self,
        r: Request<DescribeWorkerDeploymentRequest>,
    ) -> Rpc<DescribeWorkerDeploymentResponse> {
        self.describe_deployment(r.into_inner()).await.map(Response::new)
    }
    async fn list_worker_deployments(
        &self,
        r: Request<ListWorkerDeploymentsRequest>,
    ) -> Rpc<ListWorkerDeploymentsResponse> {
        self.list_deployments(r.into_inner()).await.map(Response::new)
    }
    async fn delete_worker_deployment(
        &self,
        r: Request<DeleteWorkerDeploymentRequest>,
    ) -> Rpc<DeleteWorkerDeploymentResponse> {
        self.delete_deployment(r.into_inner()).await.map(Response::new)
    }
    async fn set_worker_deployment_current_version(
        &self,
        r: Request<SetWorkerDeploymentCurrentVersionRequest>,
    ) -> Rpc<SetWorkerDeploymentCurrentVersionResponse> {
        self.set_current_version(r.into_inner()).await.map(Response::new)
    }
    async fn set_worker_deployment_ramping_version(
        &self,
        r: Request<SetWorkerDeploymentRampingVersionRequest>,
    ) -> Rpc<SetWorkerDeploymentRampingVersionResponse> {
        self.set_ramping_version(r.into_inner()).await.map(Response::new)
    }
    async fn describe_worker_deployment_version(
        &self,
        r: Request<DescribeWorkerDeploymentVersionRequest>,
    ) -> Rpc<DescribeWorkerDeploymentVersionResponse> {
        self.describe_deployment_version(r.into_inner()).await.map(Response::new)
    }
    async fn delete_worker_deployment_version(
        &self,
        r: Request<DeleteWorkerDeploymentVersionRequest>,
    ) -> Rpc<DeleteWorkerDeploymentVersionResponse> {
        self.delete_deployment_version(r.into_inner()).await.map(Response::new)
    }
    async fn update_worker_deployment_version_metadata(
        &self,
        r: Request<UpdateWorkerDeploymentVersionMetadataRequest>,
    ) -> Rpc<UpdateWorkerDeploymentVersionMetadataResponse> {
        self.update_version_metadata(r.into_inner()).await.map(Response::new)
    }
    async fn set_worker_deployment_manager(
        &self,
        r: Request<SetWorkerDeploymentManagerRequest>,
    ) -> Rpc<SetWorkerDeploymentManagerResponse> {
        self.set_manager(r.into_inner()).await.map(Response::new)
    }
    async fn update_workflow_execution_options(
        &self,
        r: Request<UpdateWorkflowExecutionOptionsRequest>,
    ) -> Rpc<UpdateWorkflowExecutionOptionsResponse> {
        route!(
            self,
            r,
            forward::Key::Workflow(&r.get_ref().namespace, wf(&r.get_ref().workflow_execution)),
            update_workflow_execution_options
        );
        self.update_workflow_options(r.into_inner()).await.map(Response::new)
    }
    async fn reset_workflow_execution(
        &self,
        r: Request<ResetWorkflowExecutionRequest>,
    ) -> Rpc<ResetWorkflowExecutionResponse> {
        route!(
            self,
            r,
            forward::Key::Workflow(&r.get_ref().namespace, wf(&r.get_ref().workflow_execution)),
            reset_workflow_execution
        );
        self.reset_workflow(r.into_inner()).await.map(Response::new)
    }
    async fn poll_workflow_task_queue(
        &self,
        r: Request<PollWorkflowTaskQueueRequest>,
    ) -> Rpc<PollWorkflowTaskQueueResponse> {
        route!(
            self,
            r,
            forward::Key::Queue(&r.get_ref().namespace, tq(&r.get_ref().task_queue)),
            poll_workflow_task_queue
        );
        let deadline = crate::longpoll::deadline(&r);
        self.poll_workflow_task(r.into_inner(), deadline).await.map(Response::new)
    }
    async fn respond_workflow_task_completed(
        &self,
        r: Request<RespondWorkflowTaskCompletedRequest>,
    ) -> Rpc<RespondWorkflowTaskCompletedResponse> {
        route!(self, r, forward::Key::Token(&r.get_ref().task_token), respond_workflow_task_completed);
        self.workflow_task_completed(r.into_inner()).await.map(Response::new)
    }
    async fn respond_workflow_task_failed(
        &self,
        r: Request<RespondWorkflowTaskFailedRequest>,
    ) -> Rpc<RespondWorkflowTaskFailedResponse> {
        route!(self, r, forward::Key::Token(&r.get_ref().task_token), respond_workflow_task_failed);
        self.workflow_task_failed(r.into_inner()).await.map(Response::new)
    }
    async fn poll_activity_task_queue(
        &self,
        r: Request<PollActivityTaskQueueRequest>,
    ) -> Rpc<PollActivityTaskQueueResponse> {
        route!(
            self,
            r,
            forward::Key::Queue(&r.get_ref().namespace, tq(&r.get_ref().task_queue)),
            poll_activity_task_queue
        );
        let deadline = crate::longpoll::deadline(&r);
        self.poll_activity_task(r.into_inner(), deadline).await.map(Response::new)
    }
    async fn respond_activity_task_completed(
        &self,
        r: Request<RespondActivityTaskCompletedRequest>,
    ) -> Rpc<RespondActivityTaskCompletedResponse> {
        route!(self, r, forward::Key::Token(&r.get_ref().task_token), respond_activity_task_completed);
        let r = r.into_inner();
        let target = self.activity_by_token(&r.namespace, &r.task_token)?;
        self.activity_completed(target, r.result, r.identity).await?;
        Ok(Response::new(Default::default()))
    }
    async fn respond_activity_task_completed_by_id(
        &self,
        r: Request<RespondActivityTaskCompletedByIdRequest>,
    ) -> Rpc<RespondActivityTaskCompletedByIdResponse> {
        let key = standalone::by_id_key(&r.get_ref().workflow_id, &r.get_ref().activity_id);
        route!(self, r, forward::Key::Workflow(&r.get_ref().namespace, &key), respond_activity_task_completed_by_id);
        let r = r.into_inner();
        let target = self.activity_by_id(&r.namespace, &r.workflow_id, &r.run_id, &r.activity_id).await?;
        self.activity_completed(target, r.result, r.identity).await?;
        Ok(Response::new(Default::default()))
    }
    async fn respond_activity_task_failed(
        &self,
        r: Request<RespondActivityTaskFailedRequest>,
    ) -> Rpc<RespondActivityTaskFailedResponse> {
        route!(self, r, forward::Key::Token(&r.get_ref().task_token), respond_activity_task_failed);
        let r = r.into_inner();
        let target = self.activity_by_token(&r.namespace, &r.task_token)?;
        self.activity_failed(target, r.failure, r.last_heartbeat_details, r.identity).await?;
        Ok(Response::new(Default::default()))
    }
    async fn respond_activity_task_failed_by_id(
        &self,
        r: Request<RespondActivityTaskFailedByIdRequest>,
    ) -> Rpc<RespondActivityTaskFailedByIdResponse> {
        let key = standalone::by_id_key(&r.get_ref().workflow_id, &r.get_ref().activity_id);
        route!(self, r, forward::Key::Workflow(&r.get_ref().namespace, &key), respond_activity_task_failed_by_id);
        let r = r.into_inner();
        let target = self.activity_by_id(&r.namespace, &r.workflow_id, &r.run_id, &r.activity_id).await?;
        self.activity_failed(target, r.failure, r.last_heartbeat_details, r.identity).await?;
        Ok(Response::new(Default::default()))
    }
    async fn respond_activity_task_canceled(
        &self,
        r: Request<RespondActivityTaskCanceledRequest>,
    ) -> Rpc<RespondActivityTaskCanceledResponse> {
        route!(self, r, forward::Key::Token(&r.get_ref().task_token), respond_activity_task_canceled);
        let r = r.into_inner();
        let target = self.activity_by_token(&r.namespace, &r.task_token)?;
        self.activity_canceled(target, r.details, r.identity).await?;
        Ok(Response::new(Default::default()))
    }
    async fn respond_activity_task_canceled_by_id(
        &self,
        r: Request<RespondActivityTaskCanceledByIdRequest>,
    ) -> Rpc<RespondActivityTaskCanceledByIdResponse> {
        let key = standalone::by_id_key(&r.get_ref().workflow_id, &r.get_ref().activity_id);
        route!(self, r, forward::Key::Workflow(&r.get_ref().namespace, &key), respond_activity_task_canceled_by_id);
        let r = r.into_inner();
        let target = self.activity_by_id(&r.namespace, &r.workflow_id, &r.run_id, &r.activity_id).await?;
        self.activity_canceled(target, r.details, r.identity).await?;
        Ok(Response::new(Default::default()))
    }
    async fn record_activity_task_heartbeat(
        &self,
        r: Request<RecordActivityTaskHeartbeatRequest>,
    ) -> Rpc<RecordActivityTaskHeartbeatResponse> {
        route!(self, r, forward::Key::Token(&r.get_ref().task_token), record_activity_task_heartbeat);
        let r = r.into_inner();
        let target = self.activity_by_token(&r.namespace, &r.task_token)?;
        let (cancel_requested, activity_paused, activity_reset) = self.activity_heartbeat(target, r.details).await?;
        Ok(Response::new(RecordActivityTaskHeartbeatResponse { cancel_requested, activity_paused, activity_reset }))
    }
    async fn record_activity_task_heartbeat_by_id(
        &self,
        r: Request<RecordActivityTaskHeartbeatByIdRequest>,
    ) -> Rpc<RecordActivityTaskHeartbeatByIdResponse> {
        let key = standalone::by_id_key(&r.get_ref().workflow_id, &r.get_ref().activity_id);
        route!(self, r, forward::Key::Workflow(&r.get_ref().namespace, &key), record_activity_task_heartbeat_by_id);
        let r = r.into_inner();
        let target = self.activity_by_id(&r.namespace, &r.workflow_id, &r.run_id, &r.activity_id).await?;
        let (cancel_requested, activity_paused, activity_reset) = self.activity_heartbeat(target, r.details).await?;
        Ok(Response::new(RecordActivityTaskHeartbeatByIdResponse { cancel_requested, activity_paused, activity_reset }))
    }
    async fn signal_workflow_execution(
        &self,
        r: Request<SignalWorkflowExecutionRequest>,
    ) -> Rpc<SignalWorkflowExecutionResponse> {
        route!(
            self,
            r,
            forward::Key::Workflow(&r.get_ref().namespace, wf(&r.get_ref().workflow_execution)),
            signal_workflow_execution
        );
        self.signal_workflow(r.into_inner()).await.map(Response::new)
    }
    async fn signal_with_start_workflow_execution(
        &self,
        r: Request<SignalWithStartWorkflowExecutionRequest>,
    ) -> Rpc<SignalWithStartWorkflowExecutionResponse> {
        route!(
            self,
            r,
            forward::Key::Workflow(&r.get_ref().namespace, &r.get_ref().workflow_id),
            signal_with_start_workflow_execution
        );
        self.signal_with_start(r.into_inner()).await.map(Response::new)
    }
    async fn query_workflow(&self, r: Request<QueryWorkflowRequest>) -> Rpc<QueryWorkflowResponse> {
        route!(self, r, forward::Key::Workflow(&r.get_ref().namespace, wf(&r.get_ref().execution)), query_workflow);
        let deadline = crate::longpoll::wait_past_caller(&r, chronicle_engine::limits::QUERY_WAIT_MAX);
        self.query(r.into_inner(), deadline).await.map(Response::new)
    }
    async fn respond_query_task_completed(
        &self,
        r: Request<RespondQueryTaskCompletedRequest>,
    ) -> Rpc<RespondQueryTaskCompletedResponse> {
        route!(self, r, forward::Key::Token(&r.get_ref().task_token), respond_query_task_completed);
        self.query_completed(r.into_inner()).map(Response::new)
    }
    async fn delete_workflow_execution(
        &self,
        r: Request<DeleteWorkflowExecutionRequest>,
    ) -> Rpc<DeleteWorkflowExecutionResponse> {
        route!(
            self,
            r,
            forward::Key::Workflow(&r.get_ref().namespace, wf(&r.get_ref().workflow_execution)),
            delete_workflow_execution
        );
        self.delete_workflow(r.into_inner()).await.map(Response::new)
    }
    async fn update_namespace(&self, r: Request<UpdateNamespaceRequest>) -> Rpc<UpdateNamespaceResponse> {
        self.update_ns(r.into_inner()).await.map(Response::new)
    }
    async fn describe_task_queue(&self, r: Request<DescribeTaskQueueRequest>) -> Rpc<DescribeTaskQueueResponse> {
        route!(self, r, forward::Key::Queue(&r.get_ref().namespace, tq(&r.get_ref().task_queue)), describe_task_queue);
        self.describe_task_queue(r.into_inner()).await.map(Response::new)
    }
    async fn reset_sticky_task_queue(
        &self,
        r: Request<ResetStickyTaskQueueRequest>,
    ) -> Rpc<ResetStickyTaskQueueResponse> {
        route!(
            self,
            r,
            forward::Key::Workflow(&r.get_ref().namespace, wf(&r.get_ref().execution)),
            reset_sticky_task_queue
        );
        self.reset_sticky_task_queue(r.into_inner()).await.map(Response::new)
    }
    async fn record_worker_heartbeat(
        &self,
        r: Request<RecordWorkerHeartbeatRequest>,
    ) -> Rpc<RecordWorkerHeartbeatResponse> {
        // Worker heartbeats feed Temporal's worker listing, which Chronicle
        // does not keep yet: acknowledged and dropped.
        self.check_namespace(&r.get_ref().namespace)?;
        Ok(Response::new(RecordWorkerHeartbeatResponse::default()))
    }
    async fn get_workflow_execution_history_reverse(
        &self,
        r: Request<GetWorkflowExecutionHistoryReverseRequest>,
    ) -> Rpc<GetWorkflowExecutionHistoryReverseResponse> {
        route!(
            self,
            r,
            forward::Key::Workflow(&r.get_ref().namespace, wf(&r.get_ref().execution)),
            get_workflow_execution_history_reverse
        );
        self.workflow_history_reverse(r.into_inner()).await.map(Response::new)
    }
    async fn execute_multi_operation(
        &self,
        r: Request<ExecuteMultiOperationRequest>,
    ) -> Rpc<ExecuteMultiOperationResponse> {
        route!(
            self,
            r,
            forward::Key::Workflow(&r.get_ref().namespace, multi_operation_workflow(r.get_ref())),
            execute_multi_operation
        );
        let deadline = crate::longpoll::wait_past_caller(&r, chronicle_engine::limits::UPDATE_WAIT_MAX);
        self.execute_multi_operation(r.into_inner(), deadline).await.map(Response::new)
    }
    async fn update_workflow_execution(
        &self,
        r: Request<UpdateWorkflowExecutionRequest>,
    ) -> Rpc<UpdateWorkflowExecutionResponse> {
        route!(
            self,
            r,
            forward::Key::Workflow(&r.get_ref().namespace, wf(&r.get_ref().workflow_execution)),
            update_workflow_execution
        );
        let deadline = crate::longpoll::wait_past_caller(&r, chronicle_engine::limits::UPDATE_WAIT_MAX);
        self.update_workflow(r.into_inner(), deadline).await.map(Response::new)
    }
    async fn poll_workflow_execution_update(
        &self,
        r: Request<PollWorkflowExecutionUpdateRequest>,
    ) -> Rpc<PollWorkflowExecutionUpdateResponse> {
        route!(
            self,
            r,
            forward::Key::Workflow(
                &r.get_ref().namespace,
                r.get_ref().update_ref.as_ref().map_or("", |u| wf(&u.workflow_execution))
            ),
            poll_workflow_execution_update
        );
        let deadline = crate::longpoll::wait_past_caller(&r, chronicle_engine::limits::UPDATE_WAIT_MAX);
        self.poll_update(r.into_inner(), deadline).await.map(Response::new)
    }
    async fn list_workflow_executions(
        &self,
        r: Request<ListWorkflowExecutionsRequest>,
    ) -> Rpc<ListWorkflowExecutionsResponse> {
        self.list_workflows(r.into_inner()).await.map(Response::new)
    }
    async fn scan_workflow_executions(
        &self,
        r: Request<ScanWorkflowExecutionsRequest>,
    ) -> Rpc<ScanWorkflowExecutionsResponse> {
        self.scan_workflows(r.into_inner()).await.map(Response::new)
    }
    async fn count_workflow_executions(
        &self,
        r: Request<CountWorkflowExecutionsRequest>,
    ) -> Rpc<CountWorkflowExecutionsResponse> {
        self.count_workflows(r.into_inner()).await.map(Response::new)
    }
    async fn list_open_workflow_executions(
        &self,
        r: Request<ListOpenWorkflowExecutionsRequest>,
    ) -> Rpc<ListOpenWorkflowExecutionsResponse> {
        self.list_open_workflows(r.into_inner()).await.map(Response::new)
    }
    async fn list_closed_workflow_executions(
        &self,
        r: Request<ListClosedWorkflowExecutionsRequest>,
    ) -> Rpc<ListClosedWorkflowExecutionsResponse> {
        self.list_closed_workflows(r.into_inner()).await.map(Response::new)
    }
    async fn get_search_attributes(&self, r: Request<GetSearchAttributesRequest>) -> Rpc<GetSearchAttributesResponse> {
        Ok(Response::new(self.search_attributes(r.metadata())))
    }
    async fn create_schedule(&self, r: Request<CreateScheduleRequest>) -> Rpc<CreateScheduleResponse> {
        route!(self, r, forward::Key::Singleton, create_schedule);
        self.create_schedule(r.into_inner()).await.map(Response::new)
    }
    async fn describe_schedule(&self, r: Request<DescribeScheduleRequest>) -> Rpc<DescribeScheduleResponse> {
        route!(self, r, forward::Key::Singleton, describe_schedule);
        self.describe_schedule(r.into_inner()).await.map(Response::new)
    }
    async fn update_schedule(&self, r: Request<UpdateScheduleRequest>) -> Rpc<UpdateScheduleResponse> {
        route!(self, r, forward::Key::Singleton, update_schedule);
        self.update_schedule(r.into_inner()).await.map(Response::new)
    }
    async fn patch_schedule(&self, r: Request<PatchScheduleRequest>) -> Rpc<PatchScheduleResponse> {
        route!(self, r, forward::Key::Singleton, patch_schedule);
        self.patch_schedule(r.into_inner()).await.map(Response::new)
    }
    async fn delete_schedule(&self, r: Request<DeleteScheduleRequest>) -> Rpc<DeleteScheduleResponse> {
        route!(self, r, forward::Key::Singleton, delete_schedule);
        self.delete_schedule(r.into_inner()).await.map(Response::new)
    }
    async fn list_schedules(&self, r: Request<ListSchedulesRequest>) -> Rpc<ListSchedulesResponse> {
        route!(self, r, forward::Key::Singleton, list_schedules);
        self.list_schedules(r.into_inner()).await.map(Response::new)
    }
    async fn list_schedule_matching_times(
        &self,
        r: Request<ListScheduleMatchingTimesRequest>,
    ) -> Rpc<ListScheduleMatchingTimesResponse> {
        route!(self, r, forward::Key::Singleton, list_schedule_matching_times);
        self.list_schedule_matching_times(r.into_inner()).await.map(Response::new)
    }
    async fn shutdown_worker(&self, r: Request<ShutdownWorkerRequest>) -> Rpc<ShutdownWorkerResponse> {
        route!(self, r, forward::Key::Queue(&r.get_ref().namespace, &r.get_ref().sticky_task_queue), shutdown_worker);
        let r = r.into_inner();
        self.check_namespace(&r.namespace)?;
        if !r.sticky_task_queue.is_empty() {
            self.history.close_sticky_queue(&r.namespace, &r.sticky_task_queue);
        }
        Ok(Response::new(Default::default()))
    }
}
