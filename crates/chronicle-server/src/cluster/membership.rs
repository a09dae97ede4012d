//! This node's place in the cluster: it says it is alive (a heartbeat row),
//! reads who else is, computes the shards it should own (`assignment`),
//! and takes, renews and hands over their leases. What it holds is
//! published as a set of fences (shard and epoch) for the rest of the
//! server to write under.
//!
//! A shard held here is believed only until its lease could have run out:
//! the lease is counted from before the statement that renewed it, so this
//! node lets go no later than the database does. Fencing makes a write
//! under a lost lease fail anyway; letting go early keeps a paused or cut
//! off node from serving what it no longer owns.

use super::assignment::assign;
use chronicle_store::{ClusterStore, ClusterView, Fence, NodeRecord, SHARDS};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

#[derive(Clone, Copy, Debug)]
pub struct MembershipOptions {
    /// How often the node heartbeats, renews and rebalances.
    pub tick: Duration,
    /// A node silent this long is gone: its shards are given to others
    /// (taken once its leases run out).
    pub node_ttl: Duration,
    /// How long a lease runs from each renewal.
    pub lease: Duration,
}

impl Default for MembershipOptions {
    fn default() -> Self {
        // A node killed without a word loses its shards within about
        // `node_ttl` + one tick: about 6 s.
        MembershipOptions {
            tick: Duration::from_secs(1),
            node_ttl: Duration::from_secs(5),
            lease: Duration::from_secs(5),
        }
    }
}

/// The shards this node holds, with the epochs to write under.
pub type Owned = BTreeMap<u32, Fence>;

pub struct Membership {
    store: Arc<dyn ClusterStore>,
    me: NodeRecord,
    options: MembershipOptions,
    owned: watch::Sender<Arc<Owned>>,
    /// Until when each held lease may be believed (this node's clock).
    valid_until: Mutex<BTreeMap<u32, Instant>>,
    /// The last view read, for `cluster describe`.
    view: Mutex<Option<ClusterView>>,
    /// Who holds each shard, by that view (for routing calls).
    routes: Mutex<Arc<Routes>>,
    /// When the last round went through (heartbeat, view, leases).
    last_round: Mutex<Option<Instant>>,
}

/// Each shard's holder by the last view: its node id and cluster address,
/// None when no live node holds it.
pub type Routes = Vec<Option<(Arc<str>, Arc<str>)>>;

impl Membership {
    pub fn new(store: Arc<dyn ClusterStore>, me: NodeRecord, options: MembershipOptions) -> Arc<Membership> {
        Arc::new(Membership {
            store,
            me,
            options,
            owned: watch::channel(Arc::new(Owned::new())).0,
            valid_until: Mutex::new(BTreeMap::new()),
            view: Mutex::new(None),
            routes: Mutex::new(Arc::new(Routes::new())),
            last_round: Mutex::new(None),
        })
    }

    /// Who holds each shard, by the last view read.
    pub fn routes(&self) -> Arc<Routes> {
        crate::sync::lock(&self.routes).clone()
    }

    /// Computes the routes of a view: a shard's owner if that node is live.
    fn remember(&self, view: &ClusterView) {
        let live = self.live_nodes(view);
        let addresses: BTreeMap<&str, Arc<str>> = view
            .nodes
            .iter()
            .filter(|n| live.contains(&n.node_id))
            .map(|n| (n.node_id.as_str(), Arc::from(n.cluster_address.as_str())))
            .collect();
        let routes: Routes = view
            .shards
            .iter()
            .map(|s| {
                let owner = s.owner.as_deref()?;
                addresses.get(owner).map(|address| (Arc::from(owner), address.clone()))
            })
            .collect();
        *crate::sync::lock(&self.routes) = Arc::new(routes);
        *crate::sync::lock(&self.view) = Some(view.clone());
    }

    pub fn node_id(&self) -> &str {
        &self.me.node_id
    }

    /// The shards held now; changes are announced on the receiver.
    pub fn owned(&self) -> watch::Receiver<Arc<Owned>> {
        self.owned.subscribe()
    }

    /// Whether this node takes part in the cluster now: a round went
    /// through lately (others see it live, its leases renew). Else why not.
    pub fn ready(&self) -> Result<(), String> {
        match *crate::sync::lock(&self.last_round) {
            Some(at) if at.elapsed() < self.options.node_ttl => Ok(()),
            Some(at) => Err(format!(
                "no cluster membership round went through for {} ms (the database is unreachable or slow)",
                at.elapsed().as_millis()
            )),
            None => Err("this node has not joined the cluster yet".into()),
        }
    }

    /// The cluster as last read.
    pub fn last_view(&self) -> Option<ClusterView> {
        crate::sync::lock(&self.view).clone()
    }

    fn publish(&self, owned: Owned) {
        self.owned.send_if_modified(|current| {
            if **current == owned {
                return false;
            }
            *current = Arc::new(owned);
            true
        });
    }

    /// Nodes whose heartbeat is recent enough, by the database's clock.
    pub fn live_nodes(&self, view: &ClusterView) -> Vec<String> {
        let ttl = i64::try_from(self.options.node_ttl.as_nanos()).unwrap_or(i64::MAX);
        let mut live: Vec<String> =
            view.nodes.iter().filter(|n| n.heartbeat_at >= view.now - ttl).map(|n| n.node_id.clone()).collect();
        if !live.contains(&self.me.node_id) {
            live.push(self.me.node_id.clone()); // just heartbeated
        }
        live
    }

    /// One round: heartbeat, read the cluster, renew what is held, hand
    /// over what is no longer ours, take what is. A storage error ends the
    /// round early; leases that could have run out meanwhile are let go.
    pub async fn tick(&self) -> chronicle_store::Result<()> {
        // A round that hangs (a database that stopped answering) must not
        // keep this node believing leases it can no longer renew: it ends
        // about when the leases renewed a tick ago could run out.
        let bound = self.options.lease.saturating_sub(self.options.tick).max(self.options.tick);
        let began = Instant::now();
        let result = match tokio::time::timeout(bound, self.round()).await {
            Ok(result) => result,
            Err(_) => Err(chronicle_store::StoreError::Unavailable("a cluster membership round timed out".into())),
        };
        // A slow round is how a node comes to lose its leases: say so
        // before it happens.
        let took = began.elapsed();
        if took > self.options.tick * 2 {
            tracing::warn!(took_ms = took.as_millis() as u64, "a cluster membership round was slow");
        }
        self.forget_expired();
        if result.is_ok() {
            *crate::sync::lock(&self.last_round) = Some(Instant::now());
        }
        result
    }

    async fn round(&self) -> chronicle_store::Result<()> {
        let lease = self.options.lease;
        self.store.heartbeat(&self.me).await?;
        let view = self.store.cluster_view().await?;
        self.remember(&view);
        let desired: BTreeSet<u32> = assign(&self.live_nodes(&view), SHARDS)
            .into_iter()
            .filter(|(_, owner)| *owner == self.me.node_id)
            .map(|(shard, _)| shard)
            .collect();
        let mut owned = (**self.owned.borrow()).clone();

        // Renew what is held; what did not renew was lost.
        let held: Vec<Fence> = owned.values().copied().collect();
        if !held.is_empty() {
            let before = Instant::now();
            let renewed: BTreeSet<u32> =
                self.store.renew_shards(&self.me.node_id, &held, lease).await?.into_iter().collect();
            if renewed.len() < held.len() {
                tracing::warn!(
                    lost = held.len() - renewed.len(),
                    held = held.len(),
                    "shard leases taken over by another node (this one was silent too long): let go"
                );
            }
            owned.retain(|shard, _| renewed.contains(shard));
            let mut valid = crate::sync::lock(&self.valid_until);
            valid.retain(|shard, _| renewed.contains(shard));
            for shard in &renewed {
                valid.insert(*shard, before + lease);
            }
        }

        // Hand over what another live node should own: let go here first,
        // then free the lease so that node takes it at once.
        let leaving: Vec<Fence> = owned.values().filter(|f| !desired.contains(&f.shard_id)).copied().collect();
        if !leaving.is_empty() {
            for f in &leaving {
                owned.remove(&f.shard_id);
            }
            self.publish(owned.clone());
            crate::sync::lock(&self.valid_until).retain(|shard, _| owned.contains_key(shard));
            self.store.release_shards(&self.me.node_id, &leaving).await?;
        }

        // Take what should be ours and is free, expired, or a former
        // life's of this node.
        let free = |shard: u32| {
            view.shards.get(shard as usize).is_some_and(|s| {
                s.owner.is_none() || s.owner.as_deref() == Some(self.me.node_id.as_str()) || s.lease_until < view.now
            })
        };
        let wanted: Vec<u32> = desired.iter().copied().filter(|s| !owned.contains_key(s) && free(*s)).collect();
        if !wanted.is_empty() {
            let before = Instant::now();
            let taken = self.store.acquire_shards(&self.me.node_id, &wanted, lease).await?;
            let mut valid = crate::sync::lock(&self.valid_until);
            for fence in taken {
                valid.insert(fence.shard_id, before + lease);
                owned.insert(fence.shard_id, fence);
            }
        }
        self.publish(owned);
        Ok(())
    }

    /// Lets go of leases that may have run out (no renewal got through).
    fn forget_expired(&self) {
        let now = Instant::now();
        let mut valid = crate::sync::lock(&self.valid_until);
        let expired: Vec<u32> = valid.iter().filter(|(_, until)| **until <= now).map(|(s, _)| *s).collect();
        if expired.is_empty() {
            return;
        }
        for shard in &expired {
            valid.remove(shard);
        }
        drop(valid);
        let mut owned = (**self.owned.borrow()).clone();
        owned.retain(|shard, _| !expired.contains(shard));
        tracing::warn!(shards = expired.len(), "shard leases could not be renewed in time: let go");
        self.publish(owned);
    }

    /// Ticks until `stop` turns true, then leaves the cluster (its shards
    /// free at once for the others).
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        loop {
            if let Err(e) = self.tick().await {
                tracing::warn!(error = %e, "cluster membership round failed; trying again");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.options.tick) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
        self.publish(Owned::new());
        if let Err(e) = self.store.leave(&self.me.node_id).await {
            tracing::warn!(error = %e, "could not leave the cluster cleanly; others take its shards when the leases run out");
        }
    }
}
