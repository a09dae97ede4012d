//! What a node serves other nodes on its cluster port: tasks for the queues
//! it holds, starts of tasks and inputs for the runs it holds, starts of
//! runs on its shards; and `Describe` (also on the client port, for
//! `chronicle cluster describe`). Everything else a node asks of another
//! is a forwarded WorkflowService call, served on the same port.

use super::wire;
use crate::frontend::Frontend;
use crate::history::StartPolicies;
use crate::security::Guard;
use chronicle_engine::api::enums::v1::{WorkflowIdConflictPolicy, WorkflowIdReusePolicy};
use chronicle_proto::cluster::*;
use chronicle_proto::clusterservice::cluster_server::Cluster;
use chronicle_proto::guard::{Admission, Call};
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub(crate) struct ClusterService {
    frontend: Frontend,
    /// On the client port: only `Describe` is served, and it passes the
    /// checks every client call passes (with API keys on, an admin key:
    /// it shows the cluster's layout).
    client_port: Option<Arc<Guard>>,
}

impl ClusterService {
    /// The node-to-node service of the cluster port.
    pub(crate) fn for_peers(frontend: Frontend) -> Self {
        ClusterService { frontend, client_port: None }
    }

    /// `Describe` on the client port, behind `guard`.
    pub(crate) fn for_clients(frontend: Frontend, guard: Arc<Guard>) -> Self {
        ClusterService { frontend, client_port: Some(guard) }
    }

    fn peers_only(&self) -> Result<(), Status> {
        if self.client_port.is_some() {
            return Err(Status::permission_denied("node-to-node calls are served on the cluster port only"));
        }
        Ok(())
    }
}

#[tonic::async_trait]
impl Cluster for ClusterService {
    async fn describe(&self, r: Request<DescribeRequest>) -> Result<Response<DescribeResponse>, Status> {
        if let Some(guard) = &self.client_port {
            let call = Call {
                service: "ClusterService",
                method: "Describe",
                namespace: None,
                identity: None,
                workflow: None,
                metadata: r.metadata(),
                extensions: r.extensions(),
                message: r.get_ref(),
            };
            let _admitted = guard.admit(&call)?;
        }
        let Some(node) = self.frontend.history.cluster() else {
            return Err(Status::failed_precondition("this server is not part of a cluster (no --cluster-port)"));
        };
        let membership = node.membership();
        let Some(view) = membership.last_view() else {
            return Err(Status::unavailable("this node has not read the cluster yet; retry"));
        };
        let live = membership.live_nodes(&view);
        let nodes = view
            .nodes
            .iter()
            .map(|n| NodeInfo {
                node_id: n.node_id.clone(),
                rpc_address: n.rpc_address.clone(),
                cluster_address: n.cluster_address.clone(),
                started_at: n.started_at,
                heartbeat_at: n.heartbeat_at,
                live: live.contains(&n.node_id),
                shards: view
                    .shards
                    .iter()
                    .filter(|s| s.owner.as_deref() == Some(n.node_id.as_str()) && s.lease_until >= view.now)
                    .count() as u32,
            })
            .collect();
        let shards = view
            .shards
            .iter()
            .map(|s| ShardInfo {
                shard_id: s.shard_id,
                owner: s.owner.clone().unwrap_or_default(),
                epoch: s.epoch,
                lease_until: s.lease_until,
                acquired_at: s.acquired_at,
            })
            .collect();
        Ok(Response::new(DescribeResponse { node_id: node.id().to_string(), now: view.now, nodes, shards }))
    }

    async fn add_task(&self, r: Request<AddTaskRequest>) -> Result<Response<AddTaskResponse>, Status> {
        self.peers_only()?;
        let r = r.into_inner();
        let queue = r.queue.unwrap_or_default();
        let node = self.frontend.history.cluster().ok_or_else(|| Status::failed_precondition("not in a cluster"))?;
        let shard = super::queue_shard(&queue.namespace, &queue.name);
        if !node.holds(shard) {
            return Err(Status::unavailable(super::Node::not_here(shard)));
        }
        let key = crate::matching::QueueKey { namespace: queue.namespace, name: queue.name, activity: queue.activity };
        let task = crate::history::match_task(r.task.unwrap_or_default());
        let no_poller = if r.only_if_polled {
            self.frontend.matching.add_if_polled(key, task).is_err()
        } else {
            self.frontend.matching.add(key, task);
            false
        };
        Ok(Response::new(AddTaskResponse { no_poller }))
    }

    async fn start_task(&self, r: Request<StartTaskRequest>) -> Result<Response<StartTaskResponse>, Status> {
        self.peers_only()?;
        let answer = match self.frontend.start_task_here(r.into_inner()).await {
            Ok(answer) => answer,
            Err(e) => StartTaskResponse { error: Some(wire::error_to_wire(&e)), ..Default::default() },
        };
        Ok(Response::new(answer))
    }

    async fn apply(&self, r: Request<ApplyRequest>) -> Result<Response<ApplyResponse>, Status> {
        self.peers_only()?;
        let r = r.into_inner();
        let target = r.target.unwrap_or_default();
        let input = wire::input_from_wire(r.input.unwrap_or_default()).map_err(Status::invalid_argument)?;
        let history = &self.frontend.history;
        let outcome = if history.holds_run(&target.namespace, &target.workflow_id) {
            history.execute(&target.namespace, &target.workflow_id, &target.run_id, input).await.map(drop)
        } else {
            Err(crate::history::History::not_here(&target.namespace, &target.workflow_id))
        };
        Ok(Response::new(ApplyResponse { error: outcome.err().as_ref().map(wire::error_to_wire) }))
    }

    async fn refresh(&self, _: Request<RefreshRequest>) -> Result<Response<RefreshResponse>, Status> {
        self.peers_only()?;
        self.frontend.namespaces.refresh().await.map_err(crate::errors::from_store)?;
        self.frontend.deployments.refresh().await;
        Ok(Response::new(RefreshResponse {}))
    }

    async fn start(&self, r: Request<StartRequest>) -> Result<Response<StartResponse>, Status> {
        self.peers_only()?;
        let r = r.into_inner();
        let args = wire::start_args_from_wire(r.args.unwrap_or_default()).map_err(Status::invalid_argument)?;
        let policies = StartPolicies {
            reuse: WorkflowIdReusePolicy::try_from(r.reuse_policy).unwrap_or(WorkflowIdReusePolicy::AllowDuplicate),
            conflict: WorkflowIdConflictPolicy::try_from(r.conflict_policy).unwrap_or(WorkflowIdConflictPolicy::Fail),
        };
        let history = &self.frontend.history;
        let outcome = if history.holds_run(&args.namespace, &args.workflow_id) {
            history.start(args, policies).await
        } else {
            Err(crate::history::History::not_here(&args.namespace, &args.workflow_id))
        };
        Ok(Response::new(match outcome {
            Ok(started) => StartResponse { run_id: started.run_id, started: started.started, error: None },
            Err(e) => StartResponse { error: Some(wire::error_to_wire(&e)), ..Default::default() },
        }))
    }
}
