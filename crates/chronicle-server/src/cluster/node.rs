//! This node in its cluster, as the rest of the server asks about it: is a
//! shard held here (and under which fence), who holds it otherwise, and a
//! client to reach that node. Workflows live on the shard of their
//! namespace and id; task queues on the shard of their namespace and name
//! (`queue_shard`), so polls and the tasks they wait for meet on one node.

use super::membership::{Membership, Owned};
use chronicle_proto::clusterservice::cluster_client::ClusterClient;
use chronicle_proto::protos::temporal::api::workflowservice::v1::workflow_service_client::WorkflowServiceClient;
use chronicle_store::{ClusterStore, Fence, shard_of};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

/// Metadata a forwarded call carries (the forwarding node's id): the
/// receiver serves it or says UNAVAILABLE, never forwards it again.
pub const FORWARDED: &str = "x-chronicle-forwarded";

/// The shard whose holder runs the work done once per cluster: schedules
/// (and the calls that change them) and retention.
pub const SINGLETON_SHARD: u32 = 0;

/// Where a shard is served.
#[derive(Clone, Debug)]
pub enum Holder {
    /// Here (`Node::fence` gives the epoch to write under).
    Local,
    /// At another node's cluster address.
    Remote { address: Arc<str> },
    /// Nobody known (moving, or the cluster is starting): retry.
    Nobody,
}

/// The shard of a task queue. Not stored anywhere, so free to change; kept
/// apart from workflow ids by a prefix no workflow id is likely to have.
pub fn queue_shard(namespace: &str, queue: &str) -> u32 {
    shard_of(namespace, &format!("\u{0}task-queue\u{0}{queue}"))
}

pub struct Node {
    membership: Arc<Membership>,
    owned: watch::Receiver<Arc<Owned>>,
    store: Arc<dyn ClusterStore>,
    channels: Mutex<HashMap<Arc<str>, Channel>>,
    /// Mutual TLS to the other nodes' cluster ports, if they serve it.
    tls: Option<ClientTlsConfig>,
}

impl Node {
    pub fn new(membership: Arc<Membership>, store: Arc<dyn ClusterStore>, tls: Option<ClientTlsConfig>) -> Arc<Node> {
        Arc::new(Node { owned: membership.owned(), membership, store, channels: Mutex::default(), tls })
    }

    pub fn id(&self) -> &str {
        self.membership.node_id()
    }

    pub fn membership(&self) -> &Arc<Membership> {
        &self.membership
    }

    pub fn store(&self) -> &Arc<dyn ClusterStore> {
        &self.store
    }

    /// Announces every change of the shards held here.
    pub fn owned_changes(&self) -> watch::Receiver<Arc<Owned>> {
        self.membership.owned()
    }

    /// The fence to write `shard` under, if it is held here.
    pub fn fence(&self, shard: u32) -> Option<Fence> {
        self.owned.borrow().get(&shard).copied()
    }

    /// Whether `shard` is held here now.
    pub fn holds(&self, shard: u32) -> bool {
        self.owned.borrow().contains_key(&shard)
    }

    pub fn holder(&self, shard: u32) -> Holder {
        if self.holds(shard) {
            return Holder::Local;
        }
        match self.membership.routes().get(shard as usize).cloned().flatten() {
            Some((node_id, _)) if &*node_id == self.id() => Holder::Nobody, // let go since the view
            Some((_, address)) => Holder::Remote { address },
            None => Holder::Nobody,
        }
    }

    /// A channel to a node's cluster address (one per address, reused;
    /// connected on first use and again after a failure).
    pub fn channel(&self, address: &Arc<str>) -> Channel {
        let mut channels = crate::sync::lock(&self.channels);
        if let Some(channel) = channels.get(address) {
            return channel.clone();
        }
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        // The peer is verified against the cluster CA, by the host of its
        // cluster address (its certificate names that IP or DNS name).
        let endpoint = Endpoint::from_shared(format!("{scheme}://{address}"))
            .and_then(|endpoint| match &self.tls {
                Some(tls) => endpoint.tls_config(tls.clone()),
                None => Ok(endpoint),
            })
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, node = %address, "not a cluster address this node can call");
                Endpoint::from_static("http://127.0.0.1:1")
            })
            .connect_timeout(std::time::Duration::from_secs(2))
            .tcp_nodelay(true)
            // A peer that stops answering (paused, cut off) fails its
            // calls within seconds, so they are retried at the shard's
            // next holder instead of hanging.
            .http2_keep_alive_interval(std::time::Duration::from_secs(2))
            .keep_alive_while_idle(true)
            .keep_alive_timeout(std::time::Duration::from_secs(2));
        let channel = endpoint.connect_lazy();
        channels.insert(address.clone(), channel.clone());
        channel
    }

    pub fn cluster_client(&self, address: &Arc<str>) -> ClusterClient<Channel> {
        ClusterClient::new(self.channel(address))
    }

    pub fn workflow_client(&self, address: &Arc<str>) -> WorkflowServiceClient<Channel> {
        WorkflowServiceClient::new(self.channel(address))
            .max_decoding_message_size(chronicle_engine::limits::GRPC_RESPONSE_BYTES_MAX)
            .max_encoding_message_size(usize::MAX)
    }

    /// Tells every other live node to read namespaces, search attributes
    /// and worker deployments again (see `namespaces::Announcer`), each
    /// within a second or not at all.
    pub fn announcer(self: &Arc<Self>) -> crate::namespaces::Announce {
        let me = Arc::downgrade(self);
        Box::new(move || {
            let me = me.clone();
            Box::pin(async move {
                let Some(node) = me.upgrade() else { return };
                let Some(view) = node.membership.last_view() else { return };
                let live = node.membership.live_nodes(&view);
                let calls = view.nodes.iter().filter(|n| n.node_id != node.id() && live.contains(&n.node_id)).map(
                    |n| {
                        let mut client = node.cluster_client(&Arc::from(n.cluster_address.as_str()));
                        async move {
                            let mut request = tonic::Request::new(chronicle_proto::cluster::RefreshRequest {});
                            request.set_timeout(std::time::Duration::from_secs(1));
                            if let Err(e) = client.refresh(request).await {
                                tracing::info!(error = %e, "a node could not be told of a change; it reads it within 2 s");
                            }
                        }
                    },
                );
                futures::future::join_all(calls).await;
            })
        })
    }

    /// The message of a call that reached a node not holding its shard.
    pub fn not_here(shard: u32) -> String {
        format!("shard {shard} is moving between cluster nodes; retry")
    }
}
