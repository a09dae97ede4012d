//! In a cluster, a call about a workflow is served by the node holding the
//! workflow's shard, and a poll by the node holding its task queue's: any
//! other node forwards the call there as it came (metadata, deadline and
//! credentials included; the holder checks them again). A forwarded call
//! that finds the shard gone answers UNAVAILABLE, which SDKs retry, and is
//! never forwarded twice. A task matched on one node whose run is held on
//! another is started by that holder.

use super::*;
use crate::cluster::{Holder, node::FORWARDED, queue_shard};
use crate::matching::{MatchTask, QueueKey};
use chronicle_engine::api::common::v1::WorkerVersionStamp;
use chronicle_proto::cluster::{StartTaskRequest, StartTaskResponse};
use chronicle_proto::protos::temporal::api::workflowservice::v1::workflow_service_client::WorkflowServiceClient;
use chronicle_store::shard_of;
use tonic::transport::Channel;

/// Headers of the incoming call that must not travel with it: the
/// forwarding client frames and compresses the message its own way.
const NOT_FORWARDED: &[&str] =
    &["grpc-encoding", "grpc-accept-encoding", "content-type", "te", "user-agent", "content-length"];

/// What a forwarded call is routed by.
pub(super) enum Key<'a> {
    Workflow(&'a str, &'a str),
    Queue(&'a str, &'a str),
    /// A task token: routed by the workflow it names.
    Token(&'a [u8]),
    /// Work done once per cluster (schedules).
    Singleton,
}

/// A forwarded call's failure as its caller sees it: the holder's own
/// answer as it gave it; the caller's own deadline passing on the way is
/// DEADLINE_EXCEEDED, as if the holder had been asked directly; a
/// connection that broke or never came up (the holder died or stopped
/// answering) is UNAVAILABLE, which SDKs retry: by then the shard may
/// have moved.
pub(super) fn failed(address: &str, status: Status) -> Status {
    use std::error::Error as _;
    // Statuses made from a transport failure carry it as their source; an
    // answer the holder gave carries none.
    fn timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
        e.is::<tonic::TimeoutExpired>() || e.source().is_some_and(timed_out)
    }
    match status.source() {
        None => status,
        Some(e) if timed_out(e) => {
            Status::deadline_exceeded(format!("the call's deadline passed while cluster node {address} served it"))
        }
        Some(_) => Status::unavailable(format!("cluster node {address} did not answer ({}); retry", status.message())),
    }
}

impl Frontend {
    /// The node to forward a call to; None to serve it here (no cluster,
    /// the shard is here, or the request is too malformed to route, as an
    /// id missing or past its length limit: the handler then says what is
    /// wrong with it, whatever the shard's state).
    pub(super) fn forward_to<T>(&self, r: &Request<T>, key: Key<'_>) -> Result<Option<Arc<str>>, Status> {
        let Some(node) = self.history.cluster() else { return Ok(None) };
        let routable = |id: &str| !id.is_empty() && id.len() <= chronicle_engine::limits::ID_BYTES_MAX;
        let shard = match key {
            Key::Workflow(namespace, workflow_id) if routable(workflow_id) => shard_of(namespace, workflow_id),
            Key::Queue(namespace, queue) if routable(queue) => queue_shard(namespace, queue),
            Key::Singleton => crate::cluster::node::SINGLETON_SHARD,
            Key::Token(token) => match crate::tokens::TaskToken::decode_any(token) {
                Some(t) => shard_of(&t.namespace, &t.workflow_id),
                None => return Ok(None),
            },
            _ => return Ok(None),
        };
        match node.holder(shard) {
            Holder::Local => Ok(None),
            _ if r.metadata().contains_key(FORWARDED) => {
                Err(Status::unavailable(crate::cluster::Node::not_here(shard)))
            }
            Holder::Remote { address } => Ok(Some(address)),
            Holder::Nobody => Err(Status::unavailable(crate::cluster::Node::not_here(shard))),
        }
    }

    /// A client of the WorkflowService at another node's cluster address.
    pub(super) fn peer(&self, address: &Arc<str>) -> Result<WorkflowServiceClient<Channel>, Status> {
        let node = self.history.cluster().ok_or_else(|| Status::internal("not in a cluster"))?;
        Ok(node.workflow_client(address))
    }

    /// The call as it goes on: its metadata (deadline, credentials, trace
    /// context) and message, marked as forwarded by this node.
    pub(super) fn forwarded<T>(&self, r: Request<T>) -> Request<T> {
        let (mut metadata, _, message) = r.into_parts();
        for header in NOT_FORWARDED {
            metadata.remove(*header);
        }
        // The forwarding node's id if it is header text; the mark is what
        // matters (no second forward), so never leave it out.
        let by = self.history.cluster().and_then(|node| node.id().parse().ok());
        metadata.insert(FORWARDED, by.unwrap_or_else(|| tonic::metadata::MetadataValue::from_static("node")));
        Request::from_parts(metadata, Default::default(), message)
    }

    /// Starts a task matched here on the node holding its run; Ok(None)
    /// when the task is stale (started already, timed out, run closed).
    pub(super) async fn start_remotely(
        &self,
        address: &Arc<str>,
        key: &QueueKey,
        task: &MatchTask,
        identity: &str,
        worker_version: Option<WorkerVersionStamp>,
    ) -> Result<StartTaskResponse, HistoryError> {
        let node = self.history.cluster().ok_or_else(|| HistoryError::NotOwner("not in a cluster".into()))?;
        let request = StartTaskRequest {
            task: Some(crate::history::task_ref(task)),
            activity: key.activity,
            identity: identity.to_string(),
            worker_version,
            queue: Some(chronicle_proto::cluster::QueueRef {
                namespace: key.namespace.clone(),
                name: key.name.clone(),
                activity: key.activity,
            }),
        };
        let mut request = Request::new(request);
        request.set_timeout(crate::history::PEER_CALL_TIMEOUT);
        let answer = node
            .cluster_client(address)
            .start_task(request)
            .await
            .map_err(|e| crate::history::peer_failed(address, e))?;
        let answer = answer.into_inner();
        match answer.error {
            Some(e) => Err(crate::cluster::wire::error_from_wire(e)),
            None => Ok(answer),
        }
    }

    /// Serves StartTask for a task whose run is held here.
    pub(crate) async fn start_task_here(&self, r: StartTaskRequest) -> Result<StartTaskResponse, HistoryError> {
        let task = crate::history::match_task(r.task.unwrap_or_default());
        if !self.history.holds_run(&task.namespace, &task.workflow_id) {
            return Err(crate::history::History::not_here(&task.namespace, &task.workflow_id));
        }
        let queue = r.queue.unwrap_or_default();
        let key = QueueKey { namespace: queue.namespace, name: queue.name, activity: r.activity };
        let stale = |e: &HistoryError| matches!(e, HistoryError::Engine(_));
        if task.query_id != 0 {
            let workflow = self.query_task(&task).await;
            return Ok(StartTaskResponse { workflow, ..Default::default() });
        }
        if r.activity {
            return match self.start_activity_task(&task, &r.identity, r.worker_version).await {
                Ok(a) => Ok(StartTaskResponse { activity: Some(a), ..Default::default() }),
                Err(e) if stale(&e) => Ok(StartTaskResponse::default()),
                Err(e) => Err(e),
            };
        }
        match self.start_workflow_task(&key, &task, &r.identity, r.worker_version).await {
            Ok(w) => Ok(StartTaskResponse { workflow: Some(w), ..Default::default() }),
            Err(e) if stale(&e) => Ok(StartTaskResponse::default()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forwarded_call_fails_as_the_holder_or_the_deadline_says() {
        let answer = failed("n2", Status::not_found("no such workflow"));
        assert_eq!(answer.code(), tonic::Code::NotFound);
        let timed_out = failed("n2", Status::from_error(Box::new(tonic::TimeoutExpired(()))));
        assert_eq!(timed_out.code(), tonic::Code::DeadlineExceeded, "{timed_out:?}");
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let broken = failed("n2", Status::from_error(Box::new(tonic::ConnectError(Box::new(refused)))));
        assert_eq!(broken.code(), tonic::Code::Unavailable, "{broken:?}");
    }
}
