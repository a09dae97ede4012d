//! Membership and shard leases (PostgreSQL: the backend nodes share):
//! heartbeats, shards taken by one node at a time, leases that run out and
//! move, and the fence: a write under an epoch the shard no longer has
//! changes nothing, even when it races the takeover.

use super::*;
use chronicle_store::{ClusterStore, ExecutionStore, Fence, NodeRecord, SHARDS, shard_of};
use std::time::Duration as StdDuration;

async fn cluster_store(db: &TestDatabase) -> Arc<PostgresStore> {
    PostgresStore::connect(PostgresOptions { url: db.url.clone(), pool_size: 4 }).await.unwrap()
}

fn node(id: &str) -> NodeRecord {
    NodeRecord {
        node_id: id.into(),
        rpc_address: format!("127.0.0.1:7{id}"),
        cluster_address: format!("127.0.0.1:8{id}"),
        started_at: 0,
        heartbeat_at: 0,
    }
}

const LONG: StdDuration = StdDuration::from_secs(60);

/// A workflow id on `shard`.
fn workflow_on(shard: u32) -> String {
    (0..).map(|i| format!("wf-{i}")).find(|wf| shard_of(NS, wf) == shard).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_register_heartbeat_and_leave() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = cluster_store(&db).await;
    store.heartbeat(&node("1")).await.unwrap();
    store.heartbeat(&node("2")).await.unwrap();
    let first = store.cluster_view().await.unwrap();
    assert_eq!(first.nodes.iter().map(|n| n.node_id.as_str()).collect::<Vec<_>>(), ["1", "2"]);
    assert_eq!(first.shards.len(), SHARDS as usize, "every shard has its row");
    assert!(first.shards.iter().all(|s| s.owner.is_none() && s.epoch == 0));
    let one = &first.nodes[0];
    assert_eq!((one.rpc_address.as_str(), one.cluster_address.as_str()), ("127.0.0.1:71", "127.0.0.1:81"));
    assert!(one.started_at > 0 && one.started_at <= one.heartbeat_at && one.heartbeat_at <= first.now);

    tokio::time::sleep(StdDuration::from_millis(20)).await;
    store.heartbeat(&node("1")).await.unwrap();
    let later = store.cluster_view().await.unwrap();
    assert_eq!(later.nodes[0].started_at, one.started_at, "a heartbeat keeps the start");
    assert!(later.nodes[0].heartbeat_at > one.heartbeat_at, "and moves the heartbeat");

    store.acquire_shards("1", &[0, 1, 2], LONG).await.unwrap();
    store.leave("1").await.unwrap();
    let after = store.cluster_view().await.unwrap();
    assert_eq!(after.nodes.iter().map(|n| n.node_id.as_str()).collect::<Vec<_>>(), ["2"]);
    assert!(after.shards[..3].iter().all(|s| s.owner.is_none()), "a node that leaves frees its shards");
    let taken = store.acquire_shards("2", &[0, 1, 2], LONG).await.unwrap();
    assert_eq!(taken.len(), 3, "at once, without waiting out a lease");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_shard_has_one_owner_at_a_time() {
    let Some(db) = TestDatabase::create().await else { return };
    let (a, b) = (cluster_store(&db).await, cluster_store(&db).await);
    let to_a: Vec<u32> = (0..10).collect();
    let taken = a.acquire_shards("a", &to_a, LONG).await.unwrap();
    assert_eq!(taken, to_a.iter().map(|&shard_id| Fence { shard_id, epoch: 1 }).collect::<Vec<_>>());
    let wanted: Vec<u32> = (5..15).collect();
    let by_b = b.acquire_shards("b", &wanted, LONG).await.unwrap();
    assert_eq!(by_b.iter().map(|f| f.shard_id).collect::<Vec<_>>(), (10..15).collect::<Vec<_>>(), "live leases hold");
    assert_eq!(a.renew_shards("a", &taken, LONG).await.unwrap(), to_a, "the owner renews all it holds");
    let view = a.cluster_view().await.unwrap();
    for lease in &view.shards[..15] {
        let owner = if lease.shard_id < 10 { "a" } else { "b" };
        assert_eq!(lease.owner.as_deref(), Some(owner), "shard {}", lease.shard_id);
        assert!(lease.lease_until > view.now + 50_000_000_000, "renewed a minute ahead");
    }

    // Many nodes racing for the same free shards: each shard goes to one.
    let racers: Vec<_> = (0..4)
        .map(|i| {
            let store = a.clone();
            tokio::spawn(async move {
                let ids: Vec<u32> = (100..140).collect();
                store.acquire_shards(&format!("racer-{i}"), &ids, LONG).await.unwrap()
            })
        })
        .collect();
    let mut won = Vec::new();
    for racer in racers {
        won.extend(racer.await.unwrap().into_iter().map(|f| f.shard_id));
    }
    won.sort_unstable();
    assert_eq!(won, (100..140).collect::<Vec<_>>(), "every shard taken exactly once");

    // A handover: released shards are free at once, and the next owner's
    // epoch is higher.
    a.release_shards("a", &taken[..2]).await.unwrap();
    let moved = b.acquire_shards("b", &[0, 1], LONG).await.unwrap();
    assert_eq!(moved, [Fence { shard_id: 0, epoch: 2 }, Fence { shard_id: 1, epoch: 2 }]);
    assert_eq!(a.renew_shards("a", &taken[..3], LONG).await.unwrap(), [2], "the old owner keeps only what it kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_lease_moves_and_the_old_owner_can_no_longer_write() {
    let Some(db) = TestDatabase::create().await else { return };
    let (a, b) = (cluster_store(&db).await, cluster_store(&db).await);
    let shard = 7;
    let workflow_id = workflow_on(shard);
    let old = a.acquire_shards("a", &[shard], LONG).await.unwrap()[0];
    let (mut run, create) = RunDriver::start(NS, &workflow_id, "run-1");
    a.commit_fenced(old, vec![create]).await.unwrap();

    assert!(b.acquire_shards("b", &[shard], LONG).await.unwrap().is_empty(), "not before the lease runs out");
    // The owner's last renewal is a short one, and then it goes quiet.
    assert_eq!(a.renew_shards("a", &[old], StdDuration::from_millis(100)).await.unwrap(), [shard]);
    tokio::time::sleep(StdDuration::from_millis(200)).await;
    let new = b.acquire_shards("b", &[shard], LONG).await.unwrap()[0];
    assert_eq!(new, Fence { shard_id: shard, epoch: old.epoch + 1 });

    // The old owner, not knowing yet: its renewal and its writes fail.
    assert!(a.renew_shards("a", &[old], LONG).await.unwrap().is_empty());
    let signal = run.step(Input::Signal(Default::default()));
    assert_eq!(
        a.commit_fenced(old, vec![signal.clone()]).await,
        Err(StoreError::ShardOwnershipLost { shard_id: shard })
    );
    let stored = b.load_execution(NS, &workflow_id, "run-1").await.unwrap().unwrap();
    assert_eq!(stored.db_version, 1, "nothing of the fenced write landed");
    assert_eq!(b.read_history("run-1", 1, 100).await.unwrap().len(), 2);
    // The new owner writes the same step.
    b.commit_fenced(new, vec![signal]).await.unwrap();
    assert_eq!(b.load_execution(NS, &workflow_id, "run-1").await.unwrap().unwrap().db_version, 2);
    // A released shard takes no write under its last epoch either.
    b.release_shards("b", &[new]).await.unwrap();
    let late = run.step(Input::Signal(Default::default()));
    assert_eq!(b.commit_fenced(new, vec![late]).await, Err(StoreError::ShardOwnershipLost { shard_id: shard }));
}

/// Commits racing a takeover: each lands before it or not at all, and
/// none that starts after the takeover returned lands.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_racing_a_takeover_land_before_it_or_not_at_all() {
    let Some(db) = TestDatabase::create().await else { return };
    let (a, b) = (cluster_store(&db).await, cluster_store(&db).await);
    let shard = 11;
    let workflow_ids: Vec<String> =
        (0..).map(|i| format!("racing-{i}")).filter(|wf| shard_of(NS, wf) == shard).take(8).collect();
    let fence = a.acquire_shards("a", &[shard], StdDuration::from_millis(150)).await.unwrap()[0];
    let taken_over = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = workflow_ids
        .iter()
        .map(|wf| {
            let (a, wf, taken_over) = (a.clone(), wf.clone(), taken_over.clone());
            tokio::spawn(async move {
                let (mut run, create) = RunDriver::start(NS, &wf, &format!("run-{wf}"));
                let mut landed = 0i64;
                let mut write = create;
                loop {
                    let after_takeover = taken_over.load(std::sync::atomic::Ordering::SeqCst);
                    match a.commit_fenced(fence, vec![write]).await {
                        Ok(()) => {
                            assert!(!after_takeover, "a write begun after the takeover landed");
                            landed += 1;
                            write = run.step(Input::Signal(Default::default()));
                        }
                        Err(StoreError::ShardOwnershipLost { .. }) => return (wf, landed),
                        Err(e) => panic!("{e}"),
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(StdDuration::from_millis(250)).await;
    // A row a commit holds is skipped, not waited for: the taker tries
    // again, as the membership loop does every round.
    let new = loop {
        let new = b.acquire_shards("b", &[shard], LONG).await.unwrap();
        if !new.is_empty() {
            break new;
        }
        tokio::time::sleep(StdDuration::from_millis(2)).await;
    };
    taken_over.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(new.len(), 1);
    let mut total = 0;
    for writer in writers {
        let (wf, landed) = writer.await.unwrap();
        let stored = b.load_execution(NS, &wf, &format!("run-{wf}")).await.unwrap();
        assert_eq!(stored.map_or(0, |s| s.db_version), landed, "{wf}: every write reported landed, and only those");
        total += landed;
    }
    assert!(total > 8 * 3, "the writers were busy when the shard moved ({total} writes)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rows_carry_their_shard_and_older_rows_get_theirs_at_connect() {
    let Some(db) = TestDatabase::create().await else { return };
    let store: DynStore = cluster_store(&db).await;
    let (mut run, create) = RunDriver::start(NS, "sharded\0id", "run-s");
    commit1(&store, create).await.unwrap();
    commit1(&store, run.step(run.poll_input())).await.unwrap();
    commit1(&store, run.step(run.complete_input(vec![activity("a")]))).await.unwrap();
    let want = i32::try_from(shard_of(NS, "sharded\0id")).unwrap();
    let client = db.client().await;
    let shards = |table: &'static str| {
        let client = &client;
        async move {
            let rows = client.query(&format!("SELECT shard FROM {table}"), &[]).await.unwrap();
            rows.iter().map(|r| r.get::<_, Option<i32>>(0)).collect::<Vec<_>>()
        }
    };
    assert_eq!(shards("executions").await, [Some(want)]);
    let tasks = shards("tasks").await;
    assert!(!tasks.is_empty() && tasks.iter().all(|s| *s == Some(want)), "{tasks:?}");

    // Rows from before shards existed are filled in when a store connects.
    client.batch_execute("UPDATE executions SET shard = NULL; UPDATE tasks SET shard = NULL").await.unwrap();
    drop(store);
    let _store = cluster_store(&db).await;
    assert_eq!(shards("executions").await, [Some(want)]);
    assert!(shards("tasks").await.iter().all(|s| *s == Some(want)));
}

/// A node reads the timer and transfer queues of its shards only: the same
/// rows, in the same order, as the whole queue has of them, page by page.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queue_reads_of_some_shards_see_exactly_theirs() {
    let Some(db) = TestDatabase::create().await else { return };
    let pg = cluster_store(&db).await;
    let store: DynStore = pg.clone();
    for i in 0..40 {
        let (mut run, create) = RunDriver::start(NS, &format!("timed-{i}"), &format!("timed-run-{i}"));
        commit1(&store, create).await.unwrap();
        commit1(&store, run.step(run.poll_input())).await.unwrap(); // its task's timeout: a timer row
    }
    for i in 0..20 {
        let (wf, run) = (format!("child-{i}"), format!("child-run-{i}"));
        closed_run(&store, NS, &wf, &run, 0, |w| w.state.parent_notification_pending = true).await;
    }
    let mine: Vec<u32> = (0..SHARDS).filter(|s| s % 3 == 0).collect();
    let ours = |t: &chronicle_store::StoredTask| mine.contains(&shard_of(&t.namespace, &t.workflow_id));

    let all_due = store.due_tasks(None, i64::MAX, 1000).await.unwrap();
    let want: Vec<i64> = all_due.iter().filter(|(_, t)| ours(t)).map(|(_, t)| t.id).collect();
    let mut got = Vec::new();
    let mut after = None;
    loop {
        let page = pg.due_tasks_in(&mine, after, i64::MAX, 4).await.unwrap();
        let Some((at, last)) = page.last() else { break };
        after = Some((*at, last.id));
        got.extend(page.iter().map(|(_, t)| t.id));
    }
    assert!(!want.is_empty() && want.len() < all_due.len(), "{} of {}", want.len(), all_due.len());
    assert_eq!(got, want, "timers of these shards, in due order");

    let all_transfer = store.transfer_tasks(0, 1000).await.unwrap();
    let want: Vec<i64> = all_transfer.iter().filter(|t| ours(t)).map(|t| t.id).collect();
    let mut got = Vec::new();
    let mut after = 0;
    loop {
        let page = pg.transfer_tasks_in(&mine, after, 3).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.id;
        got.extend(page.iter().map(|t| t.id));
    }
    assert!(!want.is_empty() && want.len() < all_transfer.len(), "{} of {}", want.len(), all_transfer.len());
    assert_eq!(got, want, "transfer tasks of these shards, by id");
    assert!(pg.due_tasks_in(&[], None, i64::MAX, 10).await.unwrap().is_empty(), "no shard, no rows");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_paused_writer_does_not_stall_the_takeover() {
    let Some(db) = TestDatabase::create().await else { return };
    let store = cluster_store(&db).await;
    let shard = 21;
    let fence = store.acquire_shards("a", &[shard], StdDuration::from_millis(100)).await.unwrap()[0];
    // A node paused mid-commit: its transaction holds the shard's row as a
    // fenced commit does (the same statement), and sends nothing more.
    let paused = db.client().await;
    paused.batch_execute("BEGIN").await.unwrap();
    let fence_sql =
        "SELECT 1 FROM shards CROSS JOIN set_config('idle_in_transaction_session_timeout', '5000', true) AS t
                     WHERE shard_id = $1 AND epoch = $2 AND owner IS NOT NULL FOR SHARE OF shards";
    assert_eq!(paused.execute(fence_sql, &[&(shard as i32), &fence.epoch]).await.unwrap(), 1);
    tokio::time::sleep(StdDuration::from_millis(150)).await; // the lease ran out
    let started = std::time::Instant::now();
    let skipped = store.acquire_shards("b", &[shard, shard + 1], LONG).await.unwrap();
    assert!(started.elapsed() < StdDuration::from_secs(2), "the taker does not wait for the paused writer");
    assert_eq!(skipped.iter().map(|f| f.shard_id).collect::<Vec<_>>(), [shard + 1], "the held row is skipped");
    // The server ends the paused session's transaction after 5 s idle: a
    // later try takes the shard, and the old fence can no longer write.
    let taken = loop {
        let taken = store.acquire_shards("b", &[shard], LONG).await.unwrap();
        if !taken.is_empty() || started.elapsed() > StdDuration::from_secs(15) {
            break taken;
        }
        tokio::time::sleep(StdDuration::from_millis(200)).await;
    };
    assert_eq!(taken.len(), 1, "taken once the paused transaction was ended");
    assert!(started.elapsed() >= StdDuration::from_secs(4), "not before the idle timeout");
    assert!(paused.batch_execute("COMMIT").await.is_err(), "the paused session was ended");
    let (_, create) = RunDriver::start(NS, &workflow_on(shard), "run-paused");
    assert!(matches!(store.commit_fenced(fence, vec![create]).await, Err(StoreError::ShardOwnershipLost { .. })));
}
