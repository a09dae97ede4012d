#![allow(clippy::unwrap_used)] // in tests, a failed unwrap is a failed test
//! Membership over this machine's PostgreSQL, three nodes in one process
//! with short timings: the shards spread evenly and disjointly, a node
//! that goes silent loses its shards to the others once its leases run
//! out, a node that joins receives its share, and one that leaves hands
//! its shards over at once.

#[path = "../../chronicle-store/tests/support/postgres.rs"]
mod postgres_db;

use chronicle_server::cluster::{Membership, MembershipOptions, Owned};
use chronicle_store::{ClusterStore, NodeRecord, PostgresOptions, PostgresStore, SHARDS};
use postgres_db::TestDatabase;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

const FAST: MembershipOptions = MembershipOptions {
    tick: Duration::from_millis(100),
    node_ttl: Duration::from_millis(1000),
    lease: Duration::from_millis(1000),
};

struct Node {
    membership: Arc<Membership>,
    stop: watch::Sender<bool>,
    running: tokio::task::JoinHandle<()>,
}

async fn start(db: &TestDatabase, id: &str) -> Node {
    let store: Arc<dyn ClusterStore> =
        PostgresStore::connect(PostgresOptions { url: db.url.clone(), pool_size: 2 }).await.unwrap();
    let me = NodeRecord {
        node_id: id.into(),
        rpc_address: format!("127.0.0.1:{id}"),
        cluster_address: format!("127.0.0.1:{id}"),
        started_at: 0,
        heartbeat_at: 0,
    };
    let membership = Membership::new(store, me, FAST);
    let (stop, stopped) = watch::channel(false);
    let running = tokio::spawn(membership.clone().run(stopped));
    Node { membership, stop, running }
}

fn held(node: &Node) -> Arc<Owned> {
    node.membership.owned().borrow().clone()
}

/// Waits until the nodes hold every shard between them, each once, each
/// within one of an even share; returns the time it took.
async fn settled(nodes: &[&Node]) -> Duration {
    let began = tokio::time::Instant::now();
    loop {
        let sets: Vec<BTreeSet<u32>> = nodes.iter().map(|n| held(n).keys().copied().collect()).collect();
        let total: usize = sets.iter().map(BTreeSet::len).sum();
        let union: BTreeSet<u32> = sets.iter().flatten().copied().collect();
        let share = (SHARDS as usize).div_ceil(nodes.len());
        if total == SHARDS as usize
            && union.len() == total
            && sets.iter().all(|s| s.len() + 1 >= share && s.len() <= share)
        {
            return began.elapsed();
        }
        assert!(
            began.elapsed() < Duration::from_secs(20),
            "not settled: {:?}",
            sets.iter().map(BTreeSet::len).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shards_spread_move_on_death_and_rebalance_on_join_and_leave() {
    let Some(db) = TestDatabase::create().await else { return };
    let a = start(&db, "1001").await;
    let b = start(&db, "1002").await;
    let c = start(&db, "1003").await;
    settled(&[&a, &b, &c]).await;
    assert_eq!(a.membership.ready(), Ok(()), "a node whose rounds go through is ready");

    // Node c goes silent (killed: no leave, no more renewals). Its shards
    // go to a and b once it is seen gone and its leases ran out.
    let c_epochs = held(&c);
    c.running.abort();
    let moved_in = settled(&[&a, &b]).await;
    tokio::time::sleep(FAST.node_ttl).await;
    let not_ready = c.membership.ready().unwrap_err();
    assert!(not_ready.contains("no cluster membership round"), "{not_ready}");
    assert!(moved_in < Duration::from_secs(8), "took {moved_in:?}");
    for node in [&a, &b] {
        for (shard, fence) in held(node).iter() {
            if let Some(old) = c_epochs.get(shard) {
                assert!(fence.epoch > old.epoch, "shard {shard} taken under a new epoch");
            }
        }
    }

    // A node joins (c again, a new life): it receives its share.
    let c = start(&db, "1003").await;
    settled(&[&a, &b, &c]).await;

    // A clean leave hands over at once (no lease to wait out).
    let _ = b.stop.send(true);
    b.running.await.unwrap();
    let handed_over_in = settled(&[&a, &c]).await;
    assert!(handed_over_in < Duration::from_secs(4), "took {handed_over_in:?}");
    eprintln!("a silent node's shards moved in {moved_in:?}; a leaving node's were handed over in {handed_over_in:?}");
    let view = a.membership.last_view().unwrap();
    assert!(view.nodes.iter().all(|n| n.node_id != "1002"), "the leaver is gone from the list");
    for node in [a, c] {
        let _ = node.stop.send(true);
        node.running.await.unwrap();
    }
}
