//! SQLite: WAL, fsync on commit, one writer thread doing group commit
//! (every request waiting when a transaction starts joins it), reader
//! threads with their own connections.

use crate::retention::{self, RunKey};
use crate::schedules;
use crate::search_attributes::{self, Change};
use crate::tasks::{self, StoredTask};
use crate::{
    BoxFuture, CustomSearchAttributes, ExecutionWrite, ListCursor, NamespaceRecord, Result, RunCount, RunsPage,
    ScheduleRecord, Store, StoreError,
    visibility::{self, sql as visibility_sql, table as visibility_table},
};
use chronicle_engine::{MutableState, api::history::v1::HistoryEvent};
use prost::Message;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio::sync::oneshot;

#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// None: an in-memory database (nothing survives the process).
    pub path: Option<PathBuf>,
    pub readers: usize,
}

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

enum WriteJob {
    Commit(Vec<ExecutionWrite>, oneshot::Sender<Result<()>>),
    Namespace(NamespaceRecord, oneshot::Sender<Result<()>>),
    SearchAttributes(Change, oneshot::Sender<Result<()>>),
    Schedule(schedules::Change, oneshot::Sender<Result<()>>),
    /// Replace an existing namespace record.
    UpdateNamespace(NamespaceRecord, oneshot::Sender<Result<()>>),
    Read(Job),
    /// Writes in a transaction of its own, after the group's (deleting runs).
    Alone(Job),
}

/// Requests waiting for the writer (or the readers) at most.
const QUEUED_JOBS_MAX: usize = 4096;

pub struct SqliteStore {
    writer: mpsc::Sender<WriteJob>,
    /// Reader pool; absent for in-memory databases, whose reads go through
    /// the writer's connection.
    readers: Option<mpsc::Sender<Job>>,
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS namespaces (
    name TEXT PRIMARY KEY,
    record BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS executions (
    run_id TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    status INTEGER NOT NULL,
    version INTEGER NOT NULL,
    state BLOB NOT NULL,
    -- 1 while the server has work on the run (MutableState::needs_recovery).
    active INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS executions_by_workflow ON executions(namespace, workflow_id);
CREATE TABLE IF NOT EXISTS current_executions (
    namespace TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    PRIMARY KEY (namespace, workflow_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history (
    run_id TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    event BLOB NOT NULL,
    PRIMARY KEY (run_id, event_id)
) WITHOUT ROWID;
"#;

fn internal(e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(e.to_string())
}

/// Brings a database file written by an earlier version up to `SCHEMA`
/// (and the visibility and search attribute tables).
fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let has_active: bool =
        conn.prepare("SELECT 1 FROM pragma_table_info('executions') WHERE name = 'active'")?.exists([])?;
    if !has_active {
        let running = chronicle_engine::api::enums::v1::WorkflowExecutionStatus::Running as i32;
        conn.execute("ALTER TABLE executions ADD COLUMN active INTEGER NOT NULL DEFAULT 0", [])?;
        conn.execute("UPDATE executions SET active = 1 WHERE status = ?1", params![running])?;
    }
    conn.execute_batch(
        "DROP INDEX IF EXISTS executions_by_status;
         CREATE INDEX IF NOT EXISTS executions_active ON executions(active) WHERE active = 1;",
    )?;
    search_attributes::ensure_table(conn)?;
    schedules::ensure_table(conn)?;
    visibility_table::ensure_tables(conn)?;
    retention::ensure_index(conn)?;
    tasks::ensure_table(conn)
}

fn open(opts: &SqliteOptions) -> rusqlite::Result<Connection> {
    let conn = match &opts.path {
        Some(path) => Connection::open(path)?,
        None => Connection::open_in_memory()?,
    };
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    if opts.path.is_some() {
        // FULL: the WAL is fsynced at every commit, before we acknowledge.
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")?;
    }
    // Statement journals and sorts stay in memory: no temporary file is
    // created, written and unlinked inside a commit.
    conn.execute_batch("PRAGMA temp_store=MEMORY;")?;
    // A commit runs a few dozen distinct statements (executions, history,
    // tasks, visibility): rusqlite's default cache of 16 would re-prepare
    // them on every commit.
    conn.set_prepared_statement_cache_capacity(256);
    Ok(conn)
}

impl SqliteStore {
    pub fn open(opts: SqliteOptions) -> Result<Arc<Self>> {
        let mut writer_conn = open(&opts).map_err(internal)?;
        writer_conn.execute_batch(SCHEMA).map_err(internal)?;
        migrate(&mut writer_conn).map_err(internal)?;
        // Bounded: callers wait for room (backpressure) rather than pile
        // requests up in memory when the disk falls behind.
        let (wtx, wrx) = mpsc::channel::<WriteJob>(QUEUED_JOBS_MAX);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(writer_conn, wrx))
            .map_err(internal)?;
        let readers = if opts.path.is_some() && opts.readers > 0 {
            let (rtx, rrx) = mpsc::channel::<Job>(QUEUED_JOBS_MAX);
            let rrx = Arc::new(Mutex::new(rrx));
            for i in 0..opts.readers {
                let mut conn = open(&opts).map_err(internal)?;
                let rrx = rrx.clone();
                std::thread::Builder::new()
                    .name(format!("sqlite-reader-{i}"))
                    .spawn(move || {
                        loop {
                            let job = match rrx.lock() {
                                Ok(mut rx) => rx.blocking_recv(),
                                Err(_) => return,
                            };
                            match job {
                                Some(job) => job(&mut conn),
                                None => return,
                            }
                        }
                    })
                    .map_err(internal)?;
            }
            Some(rtx)
        } else {
            None
        };
        Ok(Arc::new(SqliteStore { writer: wtx, readers }))
    }

    fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> BoxFuture<'_, Result<T>> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = tx.send(f(conn).map_err(internal));
        });
        Box::pin(async move {
            let sent = match &self.readers {
                Some(readers) => readers.send(job).await.is_ok(),
                None => self.writer.send(WriteJob::Read(job)).await.is_ok(),
            };
            if !sent {
                return Err(StoreError::Internal("store is shut down".into()));
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
            let sent = self.writer.send(WriteJob::Alone(job)).await.is_ok();
            if !sent {
                return Err(StoreError::Internal("store is shut down".into()));
            }
            rx.await.map_err(|_| StoreError::Internal("store writer stopped".into()))?
        })
    }

    fn write(&self, job: WriteJob, rx: oneshot::Receiver<Result<()>>) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let sent = self.writer.send(job).await.is_ok();
            if !sent {
                return Err(StoreError::Internal("store is shut down".into()));
            }
            rx.await.map_err(|_| StoreError::Internal("store writer stopped".into()))?
        })
    }
}

fn writer_loop(mut conn: Connection, mut rx: mpsc::Receiver<WriteJob>) {
    while let Some(first) = rx.blocking_recv() {
        let mut group = vec![first];
        while group.len() < chronicle_engine::limits::COMMIT_GROUP_WRITES_MAX {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let mut reads = Vec::new();
        let mut writes = Vec::new();
        let mut alone = Vec::new();
        for job in group {
            match job {
                WriteJob::Read(job) => reads.push(job),
                WriteJob::Alone(job) => alone.push(job),
                other => writes.push(other),
            }
        }
        for job in reads {
            job(&mut conn);
        }
        if !writes.is_empty() {
            commit_group(&mut conn, writes);
        }
        // After the group: live commits waiting with a deletion go first.
        for job in alone {
            job(&mut conn);
        }
    }
}

/// One transaction for the whole group; each request in its own savepoint
/// so a lost condition fails only that request.
fn commit_group(conn: &mut Connection, jobs: Vec<WriteJob>) {
    let mut results: Vec<(oneshot::Sender<Result<()>>, Result<()>)> = Vec::with_capacity(jobs.len());
    let tx = match conn.transaction() {
        Ok(tx) => tx,
        Err(e) => {
            for job in jobs {
                reply(job, Err(internal(&e)));
            }
            return;
        }
    };
    for job in jobs {
        let (reply_to, outcome) = match job {
            WriteJob::Commit(writes, reply_to) => {
                (reply_to, in_savepoint(&tx, |sp| writes.iter().try_for_each(|w| write_execution(sp, w))))
            }
            WriteJob::Namespace(ns, reply_to) => (reply_to, in_savepoint(&tx, |sp| insert_namespace(sp, &ns))),
            WriteJob::SearchAttributes(change, reply_to) => {
                (reply_to, in_savepoint(&tx, |sp| search_attributes::apply(sp, &change)))
            }
            WriteJob::UpdateNamespace(ns, reply_to) => (reply_to, in_savepoint(&tx, |sp| update_namespace(sp, &ns))),
            WriteJob::Schedule(change, reply_to) => (reply_to, in_savepoint(&tx, |sp| schedules::apply(sp, &change))),
            WriteJob::Read(_) | WriteJob::Alone(_) => unreachable!("split off before committing"),
        };
        results.push((reply_to, outcome));
    }
    match tx.commit() {
        Ok(()) => {
            for (reply_to, outcome) in results {
                let _ = reply_to.send(outcome);
            }
        }
        Err(e) => {
            for (reply_to, _) in results {
                let _ = reply_to.send(Err(internal(&e)));
            }
        }
    }
}

fn reply(job: WriteJob, outcome: Result<()>) {
    match job {
        WriteJob::Commit(_, r)
        | WriteJob::Namespace(_, r)
        | WriteJob::SearchAttributes(_, r)
        | WriteJob::Schedule(_, r)
        | WriteJob::UpdateNamespace(_, r) => {
            let _ = r.send(outcome);
        }
        WriteJob::Read(_) | WriteJob::Alone(_) => {}
    }
}

fn in_savepoint(
    tx: &rusqlite::Transaction<'_>,
    f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<()>,
) -> Result<()> {
    tx.execute_batch("SAVEPOINT req").map_err(internal)?;
    match f(tx) {
        Ok(()) => tx.execute_batch("RELEASE req").map_err(internal),
        Err(e) => {
            tx.execute_batch("ROLLBACK TO req; RELEASE req").map_err(internal)?;
            Err(e)
        }
    }
}

fn write_execution(tx: &rusqlite::Transaction<'_>, w: &ExecutionWrite) -> Result<()> {
    let s = &w.state;
    debug_assert!(
        crate::contiguous_ending_at(&w.events, s.next_event_id - 1),
        "run {}: events written must be contiguous and end at next_event_id - 1",
        s.run_id
    );
    if w.expected_version == 0 {
        let inserted = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO executions (run_id, namespace, workflow_id, status, version, state, active)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut insert| {
                insert.execute(params![
                    s.run_id,
                    s.namespace,
                    s.workflow_id,
                    s.status,
                    s.db_version,
                    s.encode_to_vec(),
                    s.needs_recovery()
                ])
            })
            .map_err(internal)?;
        if inserted == 0 {
            return Err(StoreError::Conflict(format!("run {} already exists", s.run_id)));
        }
    } else {
        let updated = tx
            .prepare_cached(
                "UPDATE executions SET status = ?1, version = ?2, state = ?3, active = ?4
                 WHERE run_id = ?5 AND version = ?6",
            )
            .and_then(|mut update| {
                update.execute(params![
                    s.status,
                    s.db_version,
                    s.encode_to_vec(),
                    s.needs_recovery(),
                    s.run_id,
                    w.expected_version
                ])
            })
            .map_err(internal)?;
        if updated == 0 {
            return Err(StoreError::Conflict(format!("run {} changed concurrently", s.run_id)));
        }
    }
    if w.expected_version == 0 || w.update_visibility {
        visibility_table::upsert(tx, s).map_err(internal)?;
    }
    tasks::replace(tx, s, w.expected_version == 0).map_err(internal)?;
    if let Some(expected_current) = &w.set_current {
        let current: Option<String> = tx
            .query_row(
                "SELECT run_id FROM current_executions WHERE namespace = ?1 AND workflow_id = ?2",
                params![s.namespace, s.workflow_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(internal)?;
        if &current != expected_current {
            return Err(StoreError::Conflict(format!("current run of {} moved", s.workflow_id)));
        }
        tx.execute(
            "INSERT INTO current_executions (namespace, workflow_id, run_id) VALUES (?1, ?2, ?3)
             ON CONFLICT (namespace, workflow_id) DO UPDATE SET run_id = excluded.run_id",
            params![s.namespace, s.workflow_id, s.run_id],
        )
        .map_err(internal)?;
    }
    let mut insert =
        tx.prepare_cached("INSERT INTO history (run_id, event_id, event) VALUES (?1, ?2, ?3)").map_err(internal)?;
    for event in &w.events {
        insert
            .execute(params![s.run_id, event.event_id, event.encode_to_vec()])
            .map_err(|e| StoreError::Conflict(format!("event {} of run {}: {e}", event.event_id, s.run_id)))?;
    }
    Ok(())
}

fn insert_namespace(tx: &rusqlite::Transaction<'_>, ns: &NamespaceRecord) -> Result<()> {
    let inserted = tx
        .execute(
            "INSERT OR IGNORE INTO namespaces (name, record) VALUES (?1, ?2)",
            params![ns.name, ns.encode_to_vec()],
        )
        .map_err(internal)?;
    if inserted == 0 {
        return Err(StoreError::AlreadyExists(format!("Namespace {} already exists.", ns.name)));
    }
    Ok(())
}

fn update_namespace(tx: &rusqlite::Transaction<'_>, ns: &NamespaceRecord) -> Result<()> {
    let updated = tx
        .execute("UPDATE namespaces SET record = ?2 WHERE name = ?1", params![ns.name, ns.encode_to_vec()])
        .map_err(internal)?;
    if updated == 0 {
        return Err(StoreError::NotFound(format!("Namespace {} is not found.", ns.name)));
    }
    Ok(())
}

fn decode<M: Message + Default>(bytes: Vec<u8>) -> rusqlite::Result<M> {
    M::decode(bytes.as_slice()).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

impl Store for SqliteStore {
    fn commit(&self, writes: Vec<ExecutionWrite>) -> BoxFuture<'_, Result<()>> {
        let (tx, rx) = oneshot::channel();
        self.write(WriteJob::Commit(writes, tx), rx)
    }

    fn current_run(&self, namespace: &str, workflow_id: &str) -> BoxFuture<'_, Result<Option<String>>> {
        let (ns, id) = (namespace.to_string(), workflow_id.to_string());
        self.read(move |conn| {
            conn.prepare_cached("SELECT run_id FROM current_executions WHERE namespace = ?1 AND workflow_id = ?2")?
                .query_row(params![ns, id], |r| r.get(0))
                .optional()
        })
    }

    fn load_execution(
        &self,
        namespace: &str,
        workflow_id: &str,
        run_id: &str,
    ) -> BoxFuture<'_, Result<Option<MutableState>>> {
        let (ns, id, run) = (namespace.to_string(), workflow_id.to_string(), run_id.to_string());
        self.read(move |conn| {
            let bytes: Option<Vec<u8>> = conn
                .prepare_cached(
                    "SELECT state FROM executions WHERE run_id = ?1 AND namespace = ?2 AND workflow_id = ?3",
                )?
                .query_row(params![run, ns, id], |r| r.get(0))
                .optional()?;
            bytes.map(decode).transpose()
        })
    }

    fn load_current_execution(
        &self,
        namespace: &str,
        workflow_id: &str,
    ) -> BoxFuture<'_, Result<Option<MutableState>>> {
        let (ns, id) = (namespace.to_string(), workflow_id.to_string());
        self.read(move |conn| {
            let bytes: Option<Vec<u8>> = conn
                .prepare_cached(
                    "SELECT e.state FROM current_executions c JOIN executions e ON e.run_id = c.run_id
                     WHERE c.namespace = ?1 AND c.workflow_id = ?2",
                )?
                .query_row(params![ns, id], |r| r.get(0))
                .optional()?;
            bytes.map(decode).transpose()
        })
    }

    fn read_history(&self, run_id: &str, from_event_id: i64, max: usize) -> BoxFuture<'_, Result<Vec<HistoryEvent>>> {
        let run = run_id.to_string();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT event FROM history WHERE run_id = ?1 AND event_id >= ?2 ORDER BY event_id LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![run, from_event_id, max as i64], |r| r.get::<_, Vec<u8>>(0))?;
            let events: Vec<HistoryEvent> = rows.map(|b| b.and_then(decode)).collect::<rusqlite::Result<_>>()?;
            debug_assert!(
                events.first().is_none_or(|e| e.event_id == from_event_id.max(1))
                    && events.windows(2).all(|w| w[1].event_id == w[0].event_id + 1),
                "history of {run} read from {from_event_id} has a gap"
            );
            Ok(events)
        })
    }

    fn open_executions(&self) -> BoxFuture<'_, Result<Vec<MutableState>>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare("SELECT state FROM executions WHERE active = 1")?;
            let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
            rows.map(|b| b.and_then(decode)).collect()
        })
    }

    fn create_namespace(&self, ns: NamespaceRecord) -> BoxFuture<'_, Result<()>> {
        let (tx, rx) = oneshot::channel();
        self.write(WriteJob::Namespace(ns, tx), rx)
    }

    fn list_namespaces(&self) -> BoxFuture<'_, Result<Vec<NamespaceRecord>>> {
        self.read(|conn| {
            let mut stmt = conn.prepare("SELECT record FROM namespaces ORDER BY name")?;
            let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
            rows.map(|b| b.and_then(decode)).collect()
        })
    }

    fn update_namespace(&self, ns: NamespaceRecord) -> BoxFuture<'_, Result<()>> {
        let (tx, rx) = oneshot::channel();
        self.write(WriteJob::UpdateNamespace(ns, tx), rx)
    }

    fn delete_execution(&self, namespace: &str, workflow_id: &str, run_id: &str) -> BoxFuture<'_, Result<()>> {
        let (ns, id, run) = (namespace.to_string(), workflow_id.to_string(), run_id.to_string());
        self.alone(move |conn| retention::delete_one(conn, &ns, &id, &run))
    }

    fn add_search_attributes(&self, namespace: &str, attributes: CustomSearchAttributes) -> BoxFuture<'_, Result<()>> {
        let (tx, rx) = oneshot::channel();
        let change = Change::Add { namespace: namespace.to_string(), attributes };
        self.write(WriteJob::SearchAttributes(change, tx), rx)
    }

    fn remove_search_attributes(&self, namespace: &str, names: Vec<String>) -> BoxFuture<'_, Result<()>> {
        let (tx, rx) = oneshot::channel();
        let change = Change::Remove { namespace: namespace.to_string(), names };
        self.write(WriteJob::SearchAttributes(change, tx), rx)
    }

    fn search_attributes(&self) -> BoxFuture<'_, Result<BTreeMap<String, CustomSearchAttributes>>> {
        self.read(|conn| search_attributes::all(conn))
    }

    fn write_schedule(&self, record: ScheduleRecord, expected_version: i64) -> BoxFuture<'_, Result<()>> {
        let (tx, rx) = oneshot::channel();
        self.write(WriteJob::Schedule(schedules::Change::Write { record: Box::new(record), expected_version }, tx), rx)
    }

    fn delete_schedule(&self, namespace: &str, schedule_id: &str) -> BoxFuture<'_, Result<()>> {
        let (tx, rx) = oneshot::channel();
        let change =
            schedules::Change::Delete { namespace: namespace.to_string(), schedule_id: schedule_id.to_string() };
        self.write(WriteJob::Schedule(change, tx), rx)
    }

    fn load_schedule(&self, namespace: &str, schedule_id: &str) -> BoxFuture<'_, Result<Option<ScheduleRecord>>> {
        let (ns, id) = (namespace.to_string(), schedule_id.to_string());
        self.read(move |conn| schedules::load(conn, &ns, &id))
    }

    fn list_schedules(&self, namespace: Option<&str>) -> BoxFuture<'_, Result<Vec<ScheduleRecord>>> {
        let ns = namespace.map(str::to_string);
        self.read(move |conn| schedules::list(conn, ns.as_deref()))
    }

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

    fn delete_executions(&self, namespace: &str, runs: Vec<RunKey>) -> BoxFuture<'_, Result<Vec<RunKey>>> {
        let ns = namespace.to_string();
        self.alone(move |conn| retention::delete_batch(conn, &ns, &runs))
    }
}
