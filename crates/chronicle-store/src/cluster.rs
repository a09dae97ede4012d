//! What nodes of one cluster share through the database: who is alive
//! (membership rows with heartbeats) and who owns which shard (a lease row
//! per shard carrying an epoch, Temporal's range id). Every execution a
//! shard holds is written only under that shard's current epoch
//! (`ClusterStore::commit_fenced`), so a node that lost a shard (paused,
//! partitioned, slow) can never write to it again, even before it knows.
//!
//! Times here are the database's clock (Unix nanoseconds): leases expire
//! and nodes go quiet by one clock whatever the nodes' clocks say.

use crate::{BoxFuture, ExecutionWrite, Result, StoredTask};
use std::time::Duration;

/// Shards of a database, fixed forever (rows made by the schema): an
/// execution's shard follows from its namespace and workflow id alone, so
/// every run of one workflow id lives on one shard.
pub const SHARDS: u32 = 256;

/// The shard of a workflow id: FNV-1a (64-bit) over the namespace, a 0xFF
/// byte (never in UTF-8, so no two pairs run together) and the workflow id,
/// modulo `SHARDS`. Never change it: stored rows carry its answer.
pub fn shard_of(namespace: &str, workflow_id: &str) -> u32 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    for byte in namespace.bytes().chain([0xFF]).chain(workflow_id.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(PRIME);
    }
    u32::try_from(hash % u64::from(SHARDS)).unwrap_or(0)
}

/// The right to write one shard: its id and the epoch its owner holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fence {
    pub shard_id: u32,
    pub epoch: i64,
}

/// A node as the database knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRecord {
    pub node_id: String,
    /// Where clients reach it (host:port of the gRPC frontend).
    pub rpc_address: String,
    /// Where other nodes reach it (host:port of the cluster listener).
    pub cluster_address: String,
    /// When it first registered, and when it last said it is alive
    /// (the database's clock; filled in by the store).
    pub started_at: i64,
    pub heartbeat_at: i64,
}

/// A shard's lease row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardLease {
    pub shard_id: u32,
    /// None: free (never taken, or released).
    pub owner: Option<String>,
    /// Bumped by every acquisition: writes under an older one are refused.
    pub epoch: i64,
    /// The owner's right ends here unless renewed (the database's clock).
    pub lease_until: i64,
    /// When the current owner took it.
    pub acquired_at: i64,
}

/// A view of the cluster at one instant of the database's clock.
#[derive(Debug, Clone, Default)]
pub struct ClusterView {
    /// The database's clock when read (Unix nanoseconds).
    pub now: i64,
    pub nodes: Vec<NodeRecord>,
    pub shards: Vec<ShardLease>,
}

/// Membership and shard leases, for backends shared by several nodes.
pub trait ClusterStore: Send + Sync + 'static {
    /// Registers `node` or says it is still alive; `started_at` and
    /// `heartbeat_at` are set from the database's clock.
    fn heartbeat(&self, node: &NodeRecord) -> BoxFuture<'_, Result<()>>;

    /// Removes a node and frees every shard it owns (a clean shutdown).
    fn leave(&self, node_id: &str) -> BoxFuture<'_, Result<()>>;

    /// Nodes and shard leases as they are now.
    fn cluster_view(&self) -> BoxFuture<'_, Result<ClusterView>>;

    /// Takes each of `shard_ids` for `node_id` that is free, whose lease
    /// has run out, or whose owner is `node_id` in a former life (a
    /// restart): its epoch goes up by one and its lease runs `lease` from
    /// now. Returns the shards taken, with their new epochs; the others
    /// are someone else's.
    fn acquire_shards(&self, node_id: &str, shard_ids: &[u32], lease: Duration) -> BoxFuture<'_, Result<Vec<Fence>>>;

    /// Extends the leases `node_id` still holds at the given epochs to
    /// `lease` from now; returns the shards renewed (the others were lost).
    fn renew_shards(&self, node_id: &str, held: &[Fence], lease: Duration) -> BoxFuture<'_, Result<Vec<u32>>>;

    /// Frees shards held at the given epochs (a handover): another node may
    /// take them at once.
    fn release_shards(&self, node_id: &str, held: &[Fence]) -> BoxFuture<'_, Result<()>>;

    /// `TaskStore::due_tasks`, of `shards` only.
    fn due_tasks_in(
        &self,
        shards: &[u32],
        after: Option<(i64, i64)>,
        until: i64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<(i64, StoredTask)>>>;

    /// `TaskStore::transfer_tasks`, of `shards` only.
    fn transfer_tasks_in(&self, shards: &[u32], after: i64, limit: usize) -> BoxFuture<'_, Result<Vec<StoredTask>>>;

    /// `ExecutionStore::commit`, provided `fence` is still the shard's
    /// owner and epoch when it commits: otherwise nothing is written and
    /// the answer is `ShardOwnershipLost`. A commit in flight when another
    /// node takes the shard either lands before the takeover or not at all.
    fn commit_fenced(&self, fence: Fence, writes: Vec<ExecutionWrite>) -> BoxFuture<'_, Result<()>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_spread() {
        // Pinned: stored rows carry these answers (the same as any FNV-1a).
        let pinned = [
            shard_of("default", "wf-1"),
            shard_of("default", ""),
            shard_of("", "default"),
            shard_of("default", "hello"),
        ];
        assert_eq!(pinned, [72, 179, 51, 241]);
        assert_ne!(shard_of("ab", "c"), shard_of("a", "bc"), "the separator keeps pairs apart");
        let mut counts = vec![0u32; SHARDS as usize];
        for i in 0..(SHARDS * 100) {
            counts[shard_of("default", &format!("workflow-{i}")) as usize] += 1;
        }
        let (min, max) = (counts.iter().min().copied().unwrap_or(0), counts.iter().max().copied().unwrap_or(0));
        assert!(min >= 50 && max <= 160, "about 100 ids per shard, got {min}..{max}");
    }
}
