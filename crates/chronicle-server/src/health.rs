//! Whether this server can take work, for load balancers and orchestrators
//! (`GET /health/live` and `GET /health/ready` next to `/metrics`): a node
//! of a cluster is ready while its membership rounds go through (others
//! see it live and its leases renew); any server stops being ready once it
//! begins to stop.

use crate::cluster::Node;
use std::sync::Arc;
use tokio::sync::watch;

#[derive(Clone)]
pub struct Health {
    node: Option<Arc<Node>>,
    stopping: watch::Receiver<bool>,
}

impl Health {
    pub(crate) fn new(node: Option<Arc<Node>>, stopping: watch::Receiver<bool>) -> Self {
        Health { node, stopping }
    }

    /// Ok, or why not.
    pub fn ready(&self) -> Result<(), String> {
        if *self.stopping.borrow() {
            return Err("stopping".into());
        }
        match &self.node {
            Some(node) => node.membership().ready(),
            None => Ok(()),
        }
    }
}
