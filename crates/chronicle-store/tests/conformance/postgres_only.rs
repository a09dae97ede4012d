//! What only PostgreSQL has: versioned migrations shared by nodes, a
//! database several stores write at once, and a server that may be away.

use super::*;
use chronicle_store::{SchemaMigration, SchemaStatus, StoreUrl, parse_url};

const INIT: SchemaMigration = SchemaMigration { version: 1, name: "0001_init" };
const CLUSTER: SchemaMigration = SchemaMigration { version: 2, name: "0002_cluster" };
const BY_PARENT: SchemaMigration = SchemaMigration { version: 3, name: "0003_visibility_by_parent" };
const BATCHES: SchemaMigration = SchemaMigration { version: 4, name: "0004_batch_operations" };
const DEPLOYMENTS: SchemaMigration = SchemaMigration { version: 5, name: "0005_worker_deployments" };

fn connect(url: &str) -> impl Future<Output = Result<Arc<PostgresStore>, StoreError>> {
    PostgresStore::connect(PostgresOptions { url: url.to_string(), pool_size: 4 })
}

async fn tables(db: &TestDatabase) -> BTreeSet<String> {
    let rows = db
        .client()
        .await
        .query("SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'", &[])
        .await
        .unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn migrations_are_versioned_and_applied_once() {
    let Some(db) = TestDatabase::create().await else { return };
    let url = parse_url(&db.url).unwrap();
    assert!(matches!(&url, StoreUrl::Postgres(u) if *u == db.url));
    let empty = chronicle_store::schema_status(&url).await.unwrap();
    assert_eq!(
        empty,
        SchemaStatus { current: 0, latest: 5, pending: vec![INIT, CLUSTER, BY_PARENT, BATCHES, DEPLOYMENTS] }
    );
    assert!(tables(&db).await.is_empty(), "status changes nothing");

    // Nodes starting together: the advisory lock lets one apply each
    // version; the others find it recorded.
    let racers: Vec<_> = (0..4)
        .map(|_| {
            let url = db.url.clone();
            tokio::spawn(async move { chronicle_store::postgres::migrate(&url).await })
        })
        .collect();
    let mut applied = Vec::new();
    for racer in racers {
        let report = racer.await.unwrap().unwrap();
        assert_eq!(report.current, 5);
        applied.extend(report.applied);
    }
    assert_eq!(applied, [INIT, CLUSTER, BY_PARENT, BATCHES, DEPLOYMENTS], "applied exactly once");
    let up_to_date = chronicle_store::schema_status(&url).await.unwrap();
    assert_eq!(up_to_date, SchemaStatus { current: 5, latest: 5, pending: vec![] });

    // Again, and through connect: nothing to do, nothing lost.
    let store: DynStore = connect(&db.url).await.unwrap();
    store.create_namespace(namespace("kept", "")).await.unwrap();
    assert!(chronicle_store::migrate(&url).await.unwrap().applied.is_empty());
    drop(store);
    let store = chronicle_store::open(&url, 2).await.unwrap();
    assert_eq!(store.list_namespaces().await.unwrap(), vec![namespace("kept", "")]);
    let recorded = db.client().await.query("SELECT version, name FROM schema_version", &[]).await.unwrap();
    let recorded: Vec<(i32, String)> = recorded.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        recorded,
        [
            (1, "0001_init".to_string()),
            (2, "0002_cluster".to_string()),
            (3, "0003_visibility_by_parent".to_string()),
            (4, "0004_batch_operations".to_string()),
            (5, "0005_worker_deployments".to_string())
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_newer_schema_is_refused() {
    let Some(db) = TestDatabase::create().await else { return };
    chronicle_store::postgres::migrate(&db.url).await.unwrap();
    db.client().await.batch_execute("INSERT INTO schema_version VALUES (7, '0007_future', 0)").await.unwrap();
    let refused = connect(&db.url).await.err().unwrap();
    assert_eq!(refused, StoreError::SchemaTooNew { found: 7, supported: 5 });
    let message = refused.to_string();
    assert!(message.contains("version 7") && message.contains("version 5") && message.contains("upgrade Chronicle"));
    assert_eq!(chronicle_store::postgres::migrate(&db.url).await, Err(refused));
    let status = chronicle_store::postgres::schema_status(&db.url).await.unwrap();
    assert_eq!(status, SchemaStatus { current: 7, latest: 5, pending: vec![] });
}

/// A migration that fails half way leaves nothing of itself: PostgreSQL's
/// DDL is transactional.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_migration_leaves_nothing() {
    let Some(db) = TestDatabase::create().await else { return };
    // A table of that name, made by someone else: 0001_init fails on it
    // after creating the tables before it.
    db.client().await.batch_execute("CREATE TABLE visibility (x INT)").await.unwrap();
    let failed = connect(&db.url).await.err().unwrap();
    assert!(matches!(&failed, StoreError::Internal(m) if m.contains("migration 0001_init failed")), "{failed}");
    assert_eq!(tables(&db).await, BTreeSet::from(["visibility".to_string()]), "no table of the migration is left");
    let status = chronicle_store::postgres::schema_status(&db.url).await.unwrap();
    assert_eq!((status.current, status.pending), (0, vec![INIT, CLUSTER, BY_PARENT, BATCHES, DEPLOYMENTS]));
}

/// Two servers' stores on one database race on one run: exactly one commit
/// lands whole, the others get Conflict and leave nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_race_on_one_run() {
    let Some(db) = TestDatabase::create().await else { return };
    let stores: [DynStore; 2] = [connect(&db.url).await.unwrap(), connect(&db.url).await.unwrap()];
    for round in 0..5 {
        let workflow_id = format!("wf-{round}");
        let (run, create) = RunDriver::start(NS, &workflow_id, &format!("run-{round}"));
        commit1(&stores[0], create).await.unwrap();
        let mut racers = Vec::new();
        for i in 0..16 {
            let store = stores[i % 2].clone();
            let mut racer = run.clone();
            let write = racer.step(Input::WorkflowTaskStarted {
                target_version_changed: false,
                routing_revision: 0,
                scheduled_event_id: 2,
                attempt: 1,
                identity: format!("worker-{i}"),
                request_id: format!("req-{i}"),
                worker_version: None,
            });
            // A second run of the workflow in the same commit: it lands or
            // is absent together with the first.
            let (_, mut second) =
                RunDriver::start(NS, &format!("{workflow_id}-child-{i}"), &format!("child-{round}-{i}"));
            second.set_current = Some(None);
            racers.push(tokio::spawn(async move { (racer, store.commit(vec![write, second]).await) }));
        }
        let mut winners = Vec::new();
        for racer in racers {
            let (racer, result) = racer.await.unwrap();
            match result {
                Ok(()) => winners.push(racer),
                Err(StoreError::Conflict(_)) => {}
                Err(e) => panic!("round {round}: {e}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: exactly one wins");
        for store in &stores {
            assert_stored(store, &winners[0]).await;
        }
        let prefix = format!("child-{round}-");
        let children =
            run_ids(&all_runs(&stores[1], NS).await).into_iter().filter(|id| id.starts_with(&prefix)).count();
        assert_eq!(children, 1, "round {round}: only the winner's second run exists");
    }
}

/// A database whose default isolation is SERIALIZABLE: the store's
/// transactions still run READ COMMITTED (what their conditions are made
/// for), so unrelated runs do not fail each other, and racers end as
/// under the default.
/// A store whose transactions run SERIALIZABLE, in a database of its own.
async fn serializable_store() -> Option<(TestDatabase, DynStore)> {
    let db = TestDatabase::create().await?;
    let separator = if db.url.contains('?') { '&' } else { '?' };
    let url = format!("{}{separator}options=-c%20default_transaction_isolation%3Dserializable", db.url);
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let level: String = client.query_one("SHOW transaction_isolation", &[]).await.unwrap().get(0);
    assert_eq!(level, "serializable");
    let store = connect(&url).await.unwrap();
    Some((db, store))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_serializable_default_changes_nothing() {
    let Some((_racers, store)) = serializable_store().await else { return };
    concurrent_racers_exactly_one_wins(store).await;
    let Some((_attributes, store)) = serializable_store().await else { return };
    search_attributes_racers_agree_on_one_type(store).await;
    let Some((_schedules, store)) = serializable_store().await else { return };
    schedules_racers_exactly_one_wins(store).await;
    let Some((_commits, store)) = serializable_store().await else { return };
    concurrent_commits_all_land(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_closed_port_is_unavailable() {
    let started = std::time::Instant::now();
    let refused = connect("postgres://postgres:secret@127.0.0.1:1/chronicle").await.err().unwrap();
    let StoreError::Unavailable(message) = &refused else { panic!("{refused:?}") };
    assert!(message.contains("127.0.0.1:1") && message.contains("database chronicle"), "{message}");
    assert!(!message.contains("secret"), "{message}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
    let status = chronicle_store::postgres::schema_status("postgres://postgres@127.0.0.1:1/chronicle").await;
    assert!(matches!(status, Err(StoreError::Unavailable(_))), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wrong_database_name_says_so() {
    // Only to learn where the server is (and to skip with the others).
    let Some(db) = TestDatabase::create().await else { return };
    let url = db.url.replace(&db.name, "chronicle_no_such_database");
    let refused = connect(&url).await.err().unwrap();
    let message = refused.to_string();
    assert!(message.contains(r#"database "chronicle_no_such_database" does not exist"#), "{message}");
    let status = chronicle_store::postgres::schema_status(&url).await.err().unwrap();
    assert!(status.to_string().contains("does not exist"), "{status}");
}

/// TLS is not built in yet: a URL requiring it is refused up front, saying
/// so, rather than failing at the handshake.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_url_requiring_tls_is_refused_clearly() {
    let refused = connect("postgres://postgres:pw@127.0.0.1:5432/chronicle?sslmode=require").await.err().unwrap();
    let StoreError::InvalidUrl(message) = &refused else { panic!("{refused:?}") };
    assert!(message.contains("sslmode=require") && message.contains("does not support"), "{message}");
    assert!(!message.contains(":pw@"), "{message}");
}

/// Connections the server ends (a restart, a failover, an idle timeout)
/// are replaced: reads and transactions that find theirs closed run again
/// on a new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connections_ended_by_the_server_are_replaced() {
    let Some(db) = TestDatabase::create().await else { return };
    let store: DynStore = connect(&db.url).await.unwrap();
    let (mut run, create) = RunDriver::start(NS, "wf", "run-1");
    commit1(&store, create).await.unwrap();
    let admin = db.client().await;
    for _ in 0..3 {
        let ended = admin
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = current_database() AND application_name = 'chronicle'",
                &[],
            )
            .await
            .unwrap();
        assert!(!ended.is_empty());
        let write = run.step(Input::Signal(chronicle_engine::SignalArgs {
            signal_name: "poke".into(),
            identity: "test".into(),
            ..Default::default()
        }));
        commit1(&store, write).await.unwrap();
        assert_stored(&store, &run).await;
    }
}
