//! PostgreSQL: the same tables and meaning as SQLite, for a database
//! shared over the network. Each call runs on a pooled connection
//! (`connection.rs`); each write is one transaction whose conditions are
//! part of its statements, retried whole on serialization failures and
//! deadlocks. A commit returns after PostgreSQL's COMMIT, which with
//! `synchronous_commit` on (the default, never changed here) means the
//! WAL is flushed. Migrations are versioned (`migrations.rs`) and applied
//! at connect.

mod cluster;
mod connection;
mod executions;
mod keyed;
mod migrations;
mod namespaces;
mod pipeline;
#[cfg(test)]
mod plan_tests;
mod retention;
#[cfg(test)]
mod retry_tests;
mod schedules;
mod tasks;
/// A database per test (shared with the integration tests).
#[cfg(test)]
#[path = "../../tests/support/postgres.rs"]
mod test_database;
mod text;
mod visibility;

pub(crate) use connection::config;
pub use migrations::{migrate, schema_status};

use crate::cluster::{ClusterStore, ClusterView, Fence, NodeRecord};
use crate::keyed::{Keyed, KeyedWrite};
use crate::{
    BoxFuture, CustomSearchAttributes, ExecutionStore, ExecutionWrite, ListCursor, NamespaceRecord, NamespaceStore,
    Result, RunCount, RunKey, RunsPage, ScheduleRecord, ScheduleStore, StoreError, StoredTask, TaskStore,
    VisibilityStore,
};
use chronicle_engine::{MutableState, api::history::v1::HistoryEvent};
use connection::{Attempt, Db, Failure};
use prost::Message;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Clone)]
pub struct PostgresOptions {
    /// `postgres://user:password@host:5432/database` (libpq's URL syntax;
    /// `connect_timeout=`, `options=-c search_path=...` and the like).
    pub url: String,
    /// Connections at most; callers beyond them wait for one.
    pub pool_size: usize,
}

/// Never shows the password.
impl std::fmt::Debug for PostgresOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresOptions")
            .field("url", &crate::url::redact(&self.url))
            .field("pool_size", &self.pool_size)
            .finish()
    }
}

pub struct PostgresStore {
    db: Db,
}

/// A message from a BYTEA column.
fn decode<M: prost::Message + Default>(bytes: &[u8]) -> Attempt<M> {
    M::decode(bytes).map_err(|e| Failure::Store(StoreError::Internal(format!("cannot decode a stored record: {e}"))))
}

impl PostgresStore {
    /// Connects, applies pending migrations (refusing a schema newer than
    /// this build: SchemaTooNew) and keeps a pool of up to `pool_size`
    /// connections. Unavailable if the database cannot be reached.
    pub async fn connect(options: PostgresOptions) -> Result<Arc<PostgresStore>> {
        let db = Db::new(&options.url, options.pool_size)?;
        {
            let mut client = db.get().await?;
            migrations::apply(&mut client).await?;
            warn_if_commits_are_not_durable(&client).await;
        }
        let store = PostgresStore { db };
        store.backfill_shards().await?;
        Ok(Arc::new(store))
    }
}

impl PostgresStore {
    /// A second handle on a database `connect` opened already, with a pool
    /// of its own (e.g. a cluster node's membership connections): no
    /// schema work, and no connection until the first statement.
    pub fn attach(options: PostgresOptions) -> Result<Arc<PostgresStore>> {
        Ok(Arc::new(PostgresStore { db: Db::new(&options.url, options.pool_size)? }))
    }

    /// Gives rows written before shards existed (schema 1) their shard.
    async fn backfill_shards(&self) -> Result<()> {
        for table in ["executions", "tasks"] {
            while self.db.transaction(&table, |tx, table| Box::pin(cluster::backfill_shards(tx, table))).await? > 0 {}
        }
        Ok(())
    }
}

/// Chronicle acknowledges a commit once COMMIT returns: with
/// `synchronous_commit` off, a crash of the database can lose it. Never
/// changed here (a DBA may want `remote_apply`); said once, at start.
async fn warn_if_commits_are_not_durable(client: &tokio_postgres::Client) {
    let setting = client.query_one("SHOW synchronous_commit", &[]).await.and_then(|row| row.try_get::<_, String>(0));
    if let Ok(setting) = setting
        && setting == "off"
    {
        tracing::warn!(
            "PostgreSQL synchronous_commit is off: commits Chronicle acknowledges can be lost if the database \
             crashes; turn it on for this database or role"
        );
    }
}

fn ready<T: Send + 'static>(result: Result<T>) -> BoxFuture<'static, Result<T>> {
    Box::pin(async move { result })
}

impl ExecutionStore for PostgresStore {
    fn commit(&self, writes: Vec<ExecutionWrite>) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            if writes.is_empty() {
                return Ok(());
            }
            let commit = executions::Commit { fence: None, writes };
            self.db.transaction(&commit, |tx, commit| Box::pin(executions::commit(tx, commit))).await
        })
    }

    fn current_run(&self, namespace: &str, workflow_id: &str) -> BoxFuture<'_, Result<Option<String>>> {
        let key = (namespace.to_string(), workflow_id.to_string());
        Box::pin(async move {
            self.db.read(&key, |client, (ns, wf)| Box::pin(executions::current_run(client, ns, wf))).await
        })
    }

    fn load_execution(
        &self,
        namespace: &str,
        workflow_id: &str,
        run_id: &str,
    ) -> BoxFuture<'_, Result<Option<MutableState>>> {
        let key = (namespace.to_string(), workflow_id.to_string(), run_id.to_string());
        Box::pin(async move {
            self.db.read(&key, |client, (ns, wf, run)| Box::pin(executions::load(client, ns, wf, run))).await
        })
    }

    fn load_current_execution(
        &self,
        namespace: &str,
        workflow_id: &str,
    ) -> BoxFuture<'_, Result<Option<MutableState>>> {
        let key = (namespace.to_string(), workflow_id.to_string());
        Box::pin(async move {
            self.db.read(&key, |client, (ns, wf)| Box::pin(executions::load_current(client, ns, wf))).await
        })
    }

    fn read_history(&self, run_id: &str, from_event_id: i64, max: usize) -> BoxFuture<'_, Result<Vec<HistoryEvent>>> {
        let key = (run_id.to_string(), from_event_id, max);
        Box::pin(async move {
            self.db
                .read(&key, |client, (run, from, max)| Box::pin(executions::read_history(client, run, *from, *max)))
                .await
        })
    }

    fn delete_execution(&self, namespace: &str, workflow_id: &str, run_id: &str) -> BoxFuture<'_, Result<()>> {
        let key = (namespace.to_string(), workflow_id.to_string(), run_id.to_string());
        Box::pin(async move { self.db.transaction(&key, |tx, key| Box::pin(retention::delete_one(tx, key))).await })
    }

    fn delete_executions(&self, namespace: &str, runs: Vec<RunKey>) -> BoxFuture<'_, Result<Vec<RunKey>>> {
        let batch = (namespace.to_string(), runs);
        Box::pin(
            async move { self.db.transaction(&batch, |tx, batch| Box::pin(retention::delete_batch(tx, batch))).await },
        )
    }
}

impl ClusterStore for PostgresStore {
    fn heartbeat(&self, node: &NodeRecord) -> BoxFuture<'_, Result<()>> {
        let node = node.clone();
        Box::pin(async move { self.db.transaction(&node, |tx, node| Box::pin(cluster::heartbeat(tx, node))).await })
    }

    fn leave(&self, node_id: &str) -> BoxFuture<'_, Result<()>> {
        let node = node_id.to_string();
        Box::pin(async move { self.db.transaction(&node, |tx, node| Box::pin(cluster::leave(tx, node))).await })
    }

    fn cluster_view(&self) -> BoxFuture<'_, Result<ClusterView>> {
        Box::pin(async move { self.db.read(&(), |client, ()| Box::pin(cluster::view(client))).await })
    }

    fn acquire_shards(
        &self,
        node_id: &str,
        shard_ids: &[u32],
        lease: std::time::Duration,
    ) -> BoxFuture<'_, Result<Vec<Fence>>> {
        let ask = (node_id.to_string(), shard_ids.to_vec(), lease);
        Box::pin(async move { self.db.transaction(&ask, |tx, ask| Box::pin(cluster::acquire(tx, ask))).await })
    }

    fn renew_shards(
        &self,
        node_id: &str,
        held: &[Fence],
        lease: std::time::Duration,
    ) -> BoxFuture<'_, Result<Vec<u32>>> {
        let ask = (node_id.to_string(), held.to_vec(), lease);
        Box::pin(async move { self.db.transaction(&ask, |tx, ask| Box::pin(cluster::renew(tx, ask))).await })
    }

    fn release_shards(&self, node_id: &str, held: &[Fence]) -> BoxFuture<'_, Result<()>> {
        let ask = (node_id.to_string(), held.to_vec());
        Box::pin(async move { self.db.transaction(&ask, |tx, ask| Box::pin(cluster::release(tx, ask))).await })
    }

    fn due_tasks_in(
        &self,
        shards: &[u32],
        after: Option<(i64, i64)>,
        until: i64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<(i64, StoredTask)>>> {
        let key = (after, until, limit, Some(cluster::shard_ids(shards)));
        Box::pin(async move { self.db.read(&key, |client, key| Box::pin(tasks::due(client, key))).await })
    }

    fn transfer_tasks_in(&self, shards: &[u32], after: i64, limit: usize) -> BoxFuture<'_, Result<Vec<StoredTask>>> {
        let key = (after, limit, Some(cluster::shard_ids(shards)));
        Box::pin(async move { self.db.read(&key, |client, key| Box::pin(tasks::transfer(client, key))).await })
    }

    fn commit_fenced(&self, fence: Fence, writes: Vec<ExecutionWrite>) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let commit = executions::Commit { fence: Some(fence), writes };
            self.db.transaction(&commit, |tx, commit| Box::pin(executions::commit(tx, commit))).await
        })
    }
}

impl TaskStore for PostgresStore {
    fn queued_tasks(
        &self,
        namespace: &str,
        queue: &str,
        activity: bool,
        now: i64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<StoredTask>>> {
        let key = (namespace.to_string(), queue.to_string(), activity, now, limit);
        Box::pin(async move { self.db.read(&key, |client, key| Box::pin(tasks::queued(client, key))).await })
    }

    fn due_tasks(
        &self,
        after: Option<(i64, i64)>,
        until: i64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<(i64, StoredTask)>>> {
        let key = (after, until, limit, None);
        Box::pin(async move { self.db.read(&key, |client, key| Box::pin(tasks::due(client, key))).await })
    }

    fn transfer_tasks(&self, after: i64, limit: usize) -> BoxFuture<'_, Result<Vec<StoredTask>>> {
        let key = (after, limit, None);
        Box::pin(async move { self.db.read(&key, |client, key| Box::pin(tasks::transfer(client, key))).await })
    }

    fn count_queued_tasks(&self, namespace: &str, queue: &str, activity: bool) -> BoxFuture<'_, Result<i64>> {
        let key = (namespace.to_string(), queue.to_string(), activity);
        Box::pin(async move { self.db.read(&key, |client, key| Box::pin(tasks::count_queued(client, key))).await })
    }
}

impl VisibilityStore for PostgresStore {
    fn list_runs(
        &self,
        namespace: &str,
        query: &crate::visibility::Query,
        from: Option<ListCursor>,
        limit: usize,
    ) -> BoxFuture<'_, Result<RunsPage>> {
        let listing = match visibility::listing(namespace, query, from, limit) {
            Ok(listing) => listing,
            Err(e) => return ready(Err(e)),
        };
        Box::pin(async move { self.db.read(&listing, |client, l| Box::pin(visibility::page(client, l))).await })
    }

    fn count_runs(&self, namespace: &str, query: &crate::visibility::Query) -> BoxFuture<'_, Result<RunCount>> {
        let counting = match visibility::counting(namespace, query) {
            Ok(counting) => counting,
            Err(e) => return ready(Err(e)),
        };
        Box::pin(async move { self.db.read(&counting, |client, c| Box::pin(visibility::count(client, c))).await })
    }

    fn expired_executions(
        &self,
        namespace: &str,
        closed_before: i64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<RunKey>>> {
        let key = (namespace.to_string(), closed_before, limit);
        Box::pin(async move { self.db.read(&key, |client, key| Box::pin(retention::expired(client, key))).await })
    }
}

impl NamespaceStore for PostgresStore {
    fn create_namespace(&self, ns: NamespaceRecord) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move { self.db.transaction(&ns, |tx, ns| Box::pin(namespaces::create(tx, ns))).await })
    }

    fn list_namespaces(&self) -> BoxFuture<'_, Result<Vec<NamespaceRecord>>> {
        Box::pin(async move { self.db.read(&(), |client, ()| Box::pin(namespaces::list(client))).await })
    }

    fn update_namespace(&self, ns: NamespaceRecord) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move { self.db.transaction(&ns, |tx, ns| Box::pin(namespaces::update(tx, ns))).await })
    }

    fn add_search_attributes(&self, namespace: &str, attributes: CustomSearchAttributes) -> BoxFuture<'_, Result<()>> {
        let change = (namespace.to_string(), attributes);
        Box::pin(async move {
            self.db.transaction(&change, |tx, change| Box::pin(namespaces::add_search_attributes(tx, change))).await
        })
    }

    fn remove_search_attributes(&self, namespace: &str, names: Vec<String>) -> BoxFuture<'_, Result<()>> {
        let change = (namespace.to_string(), names);
        Box::pin(async move {
            self.db.transaction(&change, |tx, change| Box::pin(namespaces::remove_search_attributes(tx, change))).await
        })
    }

    fn search_attributes(&self) -> BoxFuture<'_, Result<BTreeMap<String, CustomSearchAttributes>>> {
        Box::pin(async move { self.db.read(&(), |client, ()| Box::pin(namespaces::search_attributes(client))).await })
    }
}

impl PostgresStore {
    fn write_keyed(&self, write: KeyedWrite) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move { self.db.transaction(&write, |tx, write| Box::pin(keyed::write(tx, write))).await })
    }

    fn load_keyed<M: prost::Message + Default>(
        &self,
        kind: Keyed,
        namespace: &str,
        id: &str,
    ) -> BoxFuture<'_, Result<Option<M>>> {
        let key = (kind, namespace.to_string(), id.to_string());
        Box::pin(async move {
            let bytes = self.db.read(&key, |client, key| Box::pin(keyed::load(client, key))).await?;
            bytes.map(|b| decode(&b).map_err(Failure::into_store)).transpose()
        })
    }

    fn list_keyed<M: prost::Message + Default>(
        &self,
        kind: Keyed,
        namespace: Option<&str>,
    ) -> BoxFuture<'_, Result<Vec<M>>> {
        let key = (kind, namespace.map(str::to_string));
        Box::pin(async move {
            let rows = self.db.read(&key, |client, key| Box::pin(keyed::list(client, key))).await?;
            rows.iter().map(|b| decode(b).map_err(Failure::into_store)).collect()
        })
    }
}

fn keyed_write(
    kind: Keyed,
    (namespace, id): (&str, &str),
    expected_version: i64,
    record: Option<(i64, Vec<u8>)>,
) -> KeyedWrite {
    KeyedWrite { kind, namespace: namespace.to_string(), id: id.to_string(), expected_version, record }
}

impl crate::BatchStore for PostgresStore {
    fn write_batch(&self, record: crate::BatchRecord, expected_version: i64) -> BoxFuture<'_, Result<()>> {
        let bytes = Some((record.version, record.encode_to_vec()));
        self.write_keyed(keyed_write(Keyed::Batch, (&record.namespace, &record.job_id), expected_version, bytes))
    }

    fn load_batch(&self, namespace: &str, job_id: &str) -> BoxFuture<'_, Result<Option<crate::BatchRecord>>> {
        self.load_keyed(Keyed::Batch, namespace, job_id)
    }

    fn list_batches(&self, namespace: Option<&str>) -> BoxFuture<'_, Result<Vec<crate::BatchRecord>>> {
        self.list_keyed(Keyed::Batch, namespace)
    }
}

impl crate::DeploymentStore for PostgresStore {
    fn write_deployment(&self, record: crate::DeploymentRecord, expected_version: i64) -> BoxFuture<'_, Result<()>> {
        let bytes = Some((record.version, record.encode_to_vec()));
        self.write_keyed(keyed_write(Keyed::Deployment, (&record.namespace, &record.name), expected_version, bytes))
    }

    fn delete_deployment(&self, namespace: &str, name: &str, expected_version: i64) -> BoxFuture<'_, Result<()>> {
        self.write_keyed(keyed_write(Keyed::Deployment, (namespace, name), expected_version, None))
    }

    fn load_deployment(&self, namespace: &str, name: &str) -> BoxFuture<'_, Result<Option<crate::DeploymentRecord>>> {
        self.load_keyed(Keyed::Deployment, namespace, name)
    }

    fn list_deployments(&self, namespace: Option<&str>) -> BoxFuture<'_, Result<Vec<crate::DeploymentRecord>>> {
        self.list_keyed(Keyed::Deployment, namespace)
    }
}

impl ScheduleStore for PostgresStore {
    fn write_schedule(&self, record: ScheduleRecord, expected_version: i64) -> BoxFuture<'_, Result<()>> {
        let write = (record, expected_version);
        Box::pin(async move { self.db.transaction(&write, |tx, write| Box::pin(schedules::write(tx, write))).await })
    }

    fn delete_schedule(&self, namespace: &str, schedule_id: &str) -> BoxFuture<'_, Result<()>> {
        let key = (namespace.to_string(), schedule_id.to_string());
        Box::pin(async move { self.db.transaction(&key, |tx, key| Box::pin(schedules::delete(tx, key))).await })
    }

    fn load_schedule(&self, namespace: &str, schedule_id: &str) -> BoxFuture<'_, Result<Option<ScheduleRecord>>> {
        let key = (namespace.to_string(), schedule_id.to_string());
        Box::pin(async move { self.db.read(&key, |client, key| Box::pin(schedules::load(client, key))).await })
    }

    fn list_schedules(&self, namespace: Option<&str>) -> BoxFuture<'_, Result<Vec<ScheduleRecord>>> {
        let ns = namespace.map(str::to_string);
        Box::pin(async move { self.db.read(&ns, |client, ns| Box::pin(schedules::list(client, ns))).await })
    }
}
