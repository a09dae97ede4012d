//! SQLite: WAL, fsync on commit, one writer thread doing group commit
//! (`writer.rs`), reader threads with their own connections. In memory,
//! reads go through the writer's connection (there is no file to share).

mod executions;
mod keyed;
mod namespaces;
mod retention;
#[cfg(test)]
mod scale_tests;
mod schedules;
mod schema;
mod search_attributes;
mod tasks;
mod visibility_sql;
mod visibility_table;
mod writer;

pub use schema::{memory_schema_status, migrate_file as migrate, migrate_memory, schema_status};

use crate::keyed::{Keyed, KeyedWrite};
use crate::{
    BoxFuture, CustomSearchAttributes, ExecutionStore, ExecutionWrite, ListCursor, NamespaceRecord, NamespaceStore,
    Result, RunCount, RunKey, RunsPage, ScheduleRecord, ScheduleStore, StoreError, StoredTask, TaskStore,
    VisibilityStore, visibility,
};
use chronicle_engine::{MutableState, api::history::v1::HistoryEvent};
use prost::Message;
use rusqlite::Connection;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use writer::{Job, WriteJob};

#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// None: an in-memory database (nothing survives the process).
    pub path: Option<PathBuf>,
    pub readers: usize,
}

pub struct SqliteStore {
    writer: mpsc::Sender<WriteJob>,
    /// Reader pool; absent for in-memory databases, whose reads go through
    /// the writer's connection.
    readers: Option<mpsc::Sender<Job>>,
}

/// A SQLite error as a store error: a database locked past the busy
/// timeout is worth retrying, anything else is a failure.
pub(crate) fn error(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode::{DatabaseBusy, DatabaseLocked};
    match &e {
        rusqlite::Error::SqliteFailure(f, _) if matches!(f.code, DatabaseBusy | DatabaseLocked) => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Internal(e.to_string()),
    }
}

pub(crate) fn decode<M: Message + Default>(bytes: Vec<u8>) -> rusqlite::Result<M> {
    M::decode(bytes.as_slice()).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

fn shut_down() -> StoreError {
    StoreError::Internal("store is shut down".into())
}

impl SqliteStore {
    /// Opens (creating if absent) the database and brings its schema up to
    /// date; a schema newer than this build is refused (SchemaTooNew).
    pub fn open(opts: SqliteOptions) -> Result<Arc<Self>> {
        let path = opts.path.as_deref();
        let mut writer_conn = schema::connect(path).map_err(error)?;
        schema::migrate(&mut writer_conn)?;
        let writer = writer::spawn_writer(writer_conn).map_err(|e| StoreError::Internal(e.to_string()))?;
        let readers = match path {
            Some(path) if opts.readers > 0 => {
                Some(writer::spawn_readers(|| schema::connect(Some(path)), opts.readers)?)
            }
            _ => None,
        };
        Ok(Arc::new(SqliteStore { writer, readers }))
    }

    fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> BoxFuture<'_, Result<T>> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = tx.send(f(conn).map_err(error));
        });
        Box::pin(async move {
            let sent = match &self.readers {
                Some(readers) => readers.send(job).await.is_ok(),
                None => self.writer.send(WriteJob::Read(job)).await.is_ok(),
            };
            if !sent {
                return Err(shut_down());
            }
            rx.await.map_err(|_| StoreError::Internal("store worker stopped".into()))?
        })
    }

    /// Runs `f` on the writer's connection as a job of its own.
    fn alone<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> BoxFuture<'_, Result<T>> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = tx.send(f(conn));
        });
        Box::pin(async move {
            if self.writer.send(WriteJob::Alone(job)).await.is_err() {
                return Err(shut_down());
            }
            rx.await.map_err(|_| StoreError::Internal("store writer stopped".into()))?
        })
    }

    /// Sends a write to the writer's next group commit.
    fn write(&self, job: impl FnOnce(oneshot::Sender<Result<()>>) -> WriteJob) -> BoxFuture<'_, Result<()>> {
        let (tx, rx) = oneshot::channel();
        let job = job(tx);
        Box::pin(async move {
            if self.writer.send(job).await.is_err() {
                return Err(shut_down());
            }
            rx.await.map_err(|_| StoreError::Internal("store writer stopped".into()))?
        })
    }
}

impl ExecutionStore for SqliteStore {
    fn commit(&self, writes: Vec<ExecutionWrite>) -> BoxFuture<'_, Result<()>> {
        self.write(|tx| WriteJob::Commit(writes, tx, crate::observe::caller_span()))
    }

    fn current_run(&self, namespace: &str, workflow_id: &str) -> BoxFuture<'_, Result<Option<String>>> {
        let (ns, id) = (namespace.to_string(), workflow_id.to_string());
        self.read(move |conn| executions::current_run(conn, &ns, &id))
    }

    fn load_execution(
        &self,
        namespace: &str,
        workflow_id: &str,
        run_id: &str,
    ) -> BoxFuture<'_, Result<Option<MutableState>>> {
        let (ns, id, run) = (namespace.to_string(), workflow_id.to_string(), run_id.to_string());
        self.read(move |conn| executions::load(conn, &ns, &id, &run))
    }

    fn load_current_execution(
        &self,
        namespace: &str,
        workflow_id: &str,
    ) -> BoxFuture<'_, Result<Option<MutableState>>> {
        let (ns, id) = (namespace.to_string(), workflow_id.to_string());
        self.read(move |conn| executions::load_current(conn, &ns, &id))
    }

    fn read_history(&self, run_id: &str, from_event_id: i64, max: usize) -> BoxFuture<'_, Result<Vec<HistoryEvent>>> {
        let run = run_id.to_string();
        self.read(move |conn| executions::read_history(conn, &run, from_event_id, max))
    }

    fn delete_execution(&self, namespace: &str, workflow_id: &str, run_id: &str) -> BoxFuture<'_, Result<()>> {
        let (ns, id, run) = (namespace.to_string(), workflow_id.to_string(), run_id.to_string());
        self.alone(move |conn| retention::delete_one(conn, &ns, &id, &run))
    }

    fn delete_executions(&self, namespace: &str, runs: Vec<RunKey>) -> BoxFuture<'_, Result<Vec<RunKey>>> {
        let ns = namespace.to_string();
        self.alone(move |conn| retention::delete_batch(conn, &ns, &runs))
    }
}

impl TaskStore for SqliteStore {
    fn queued_tasks(
        &self,
        namespace: &str,
        queue: &str,
        activity: bool,
        now: i64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<StoredTask>>> {
        let (ns, q) = (namespace.to_string(), queue.to_string());
        self.read(move |conn| tasks::queued(conn, &ns, &q, activity, now, limit))
    }

    fn due_tasks(
        &self,
        after: Option<(i64, i64)>,
        until: i64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<(i64, StoredTask)>>> {
        self.read(move |conn| tasks::due(conn, after, until, limit))
    }

    fn transfer_tasks(&self, after: i64, limit: usize) -> BoxFuture<'_, Result<Vec<StoredTask>>> {
        self.read(move |conn| tasks::transfer(conn, after, limit))
    }

    fn count_queued_tasks(&self, namespace: &str, queue: &str, activity: bool) -> BoxFuture<'_, Result<i64>> {
        let (ns, q) = (namespace.to_string(), queue.to_string());
        self.read(move |conn| tasks::count_queued(conn, &ns, &q, activity))
    }
}

impl VisibilityStore for SqliteStore {
    fn list_runs(
        &self,
        namespace: &str,
        query: &visibility::Query,
        from: Option<ListCursor>,
        limit: usize,
    ) -> BoxFuture<'_, Result<RunsPage>> {
        let statement = match visibility_sql::list(namespace, query, from.as_ref(), limit) {
            Ok(s) => s,
            Err(e) => return Box::pin(async move { Err(e) }),
        };
        let ordered = !query.order_by.is_empty();
        self.read(move |conn| visibility_sql::page(conn, &statement, ordered, from.as_ref(), limit))
    }

    fn count_runs(&self, namespace: &str, query: &visibility::Query) -> BoxFuture<'_, Result<RunCount>> {
        let statement = match visibility_sql::count(namespace, query) {
            Ok(s) => s,
            Err(e) => return Box::pin(async move { Err(e) }),
        };
        let grouped = query.group_by.is_some();
        self.read(move |conn| visibility_sql::run_count(conn, &statement, grouped))
    }

    fn expired_executions(
        &self,
        namespace: &str,
        closed_before: i64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<RunKey>>> {
        let ns = namespace.to_string();
        self.read(move |conn| retention::expired(conn, &ns, closed_before, limit))
    }
}

impl NamespaceStore for SqliteStore {
    fn create_namespace(&self, ns: NamespaceRecord) -> BoxFuture<'_, Result<()>> {
        self.write(|tx| WriteJob::Namespace(ns, tx))
    }

    fn list_namespaces(&self) -> BoxFuture<'_, Result<Vec<NamespaceRecord>>> {
        self.read(|conn| namespaces::list(conn))
    }

    fn update_namespace(&self, ns: NamespaceRecord) -> BoxFuture<'_, Result<()>> {
        self.write(|tx| WriteJob::UpdateNamespace(ns, tx))
    }

    fn add_search_attributes(&self, namespace: &str, attributes: CustomSearchAttributes) -> BoxFuture<'_, Result<()>> {
        let change = search_attributes::Change::Add { namespace: namespace.to_string(), attributes };
        self.write(|tx| WriteJob::SearchAttributes(change, tx))
    }

    fn remove_search_attributes(&self, namespace: &str, names: Vec<String>) -> BoxFuture<'_, Result<()>> {
        let change = search_attributes::Change::Remove { namespace: namespace.to_string(), names };
        self.write(|tx| WriteJob::SearchAttributes(change, tx))
    }

    fn search_attributes(&self) -> BoxFuture<'_, Result<BTreeMap<String, CustomSearchAttributes>>> {
        self.read(|conn| search_attributes::all(conn))
    }
}

impl SqliteStore {
    fn write_keyed(
        &self,
        kind: Keyed,
        record: Option<(i64, Vec<u8>)>,
        key: (&str, &str),
        expected_version: i64,
    ) -> BoxFuture<'_, Result<()>> {
        let write = KeyedWrite { kind, namespace: key.0.to_string(), id: key.1.to_string(), expected_version, record };
        self.write(|tx| WriteJob::Keyed(Box::new(write), tx))
    }

    fn load_keyed<M: prost::Message + Default + 'static>(
        &self,
        kind: Keyed,
        namespace: &str,
        id: &str,
    ) -> BoxFuture<'_, Result<Option<M>>> {
        let (ns, id) = (namespace.to_string(), id.to_string());
        self.read(move |conn| keyed::load(conn, kind, &ns, &id)?.map(decode).transpose())
    }

    fn list_keyed<M: prost::Message + Default + 'static>(
        &self,
        kind: Keyed,
        namespace: Option<&str>,
    ) -> BoxFuture<'_, Result<Vec<M>>> {
        let ns = namespace.map(str::to_string);
        self.read(move |conn| keyed::list(conn, kind, ns.as_deref())?.into_iter().map(decode).collect())
    }
}

impl crate::BatchStore for SqliteStore {
    fn write_batch(&self, record: crate::BatchRecord, expected_version: i64) -> BoxFuture<'_, Result<()>> {
        let bytes = (record.version, record.encode_to_vec());
        self.write_keyed(Keyed::Batch, Some(bytes), (&record.namespace, &record.job_id), expected_version)
    }

    fn load_batch(&self, namespace: &str, job_id: &str) -> BoxFuture<'_, Result<Option<crate::BatchRecord>>> {
        self.load_keyed(Keyed::Batch, namespace, job_id)
    }

    fn list_batches(&self, namespace: Option<&str>) -> BoxFuture<'_, Result<Vec<crate::BatchRecord>>> {
        self.list_keyed(Keyed::Batch, namespace)
    }
}

impl crate::DeploymentStore for SqliteStore {
    fn write_deployment(&self, record: crate::DeploymentRecord, expected_version: i64) -> BoxFuture<'_, Result<()>> {
        let bytes = (record.version, record.encode_to_vec());
        self.write_keyed(Keyed::Deployment, Some(bytes), (&record.namespace, &record.name), expected_version)
    }

    fn delete_deployment(&self, namespace: &str, name: &str, expected_version: i64) -> BoxFuture<'_, Result<()>> {
        self.write_keyed(Keyed::Deployment, None, (namespace, name), expected_version)
    }

    fn load_deployment(&self, namespace: &str, name: &str) -> BoxFuture<'_, Result<Option<crate::DeploymentRecord>>> {
        self.load_keyed(Keyed::Deployment, namespace, name)
    }

    fn list_deployments(&self, namespace: Option<&str>) -> BoxFuture<'_, Result<Vec<crate::DeploymentRecord>>> {
        self.list_keyed(Keyed::Deployment, namespace)
    }
}

impl ScheduleStore for SqliteStore {
    fn write_schedule(&self, record: ScheduleRecord, expected_version: i64) -> BoxFuture<'_, Result<()>> {
        let change = schedules::Change::Write { record: Box::new(record), expected_version };
        self.write(|tx| WriteJob::Schedule(change, tx))
    }

    fn delete_schedule(&self, namespace: &str, schedule_id: &str) -> BoxFuture<'_, Result<()>> {
        let change =
            schedules::Change::Delete { namespace: namespace.to_string(), schedule_id: schedule_id.to_string() };
        self.write(|tx| WriteJob::Schedule(change, tx))
    }

    fn load_schedule(&self, namespace: &str, schedule_id: &str) -> BoxFuture<'_, Result<Option<ScheduleRecord>>> {
        let (ns, id) = (namespace.to_string(), schedule_id.to_string());
        self.read(move |conn| schedules::load(conn, &ns, &id))
    }

    fn list_schedules(&self, namespace: Option<&str>) -> BoxFuture<'_, Result<Vec<ScheduleRecord>>> {
        let ns = namespace.map(str::to_string);
        self.read(move |conn| schedules::list(conn, ns.as_deref()))
    }
}
