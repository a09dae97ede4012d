//! SQLite's `tasks` table (see `crate::tasks` for what the rows are): the
//! id is the rowid, given inside the single writer's transaction, so on
//! SQLite ids are also commit order. No AUTOINCREMENT: it costs a write of
//! `sqlite_sequence` per commit, and the only id SQLite reuses is the
//! largest once deleted, which no reader can have passed: ids order a
//! backlog and page reads, they name nothing.

use crate::tasks::{StoredTask, TaskRecord, decode, route, task_key};
use chronicle_engine::MutableState;
use prost::Message;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;

pub(crate) const TABLE: &str = r#"
CREATE TABLE tasks (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    -- The task's identity within its run (`task_key`).
    key TEXT NOT NULL,
    namespace TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    -- Workflow and activity tasks: the task queue to offer it on.
    queue TEXT,
    activity INTEGER NOT NULL DEFAULT 0,
    -- Unix nanoseconds from which a queued task may be handed out.
    visible_at INTEGER NOT NULL DEFAULT 0,
    -- Unix nanoseconds: timers, and activity retries waiting out backoff.
    fire_at INTEGER,
    record BLOB NOT NULL,
    UNIQUE (run_id, key)
);
CREATE INDEX tasks_by_queue ON tasks(namespace, queue, activity, id) WHERE queue IS NOT NULL;
CREATE INDEX tasks_by_time ON tasks(fire_at, id) WHERE fire_at IS NOT NULL;
CREATE INDEX tasks_transfer ON tasks(id) WHERE queue IS NULL AND fire_at IS NULL;
"#;

/// Makes the run's rows its state's pending tasks: rows of tasks no longer
/// pending go, new ones come, changed ones (a moved deadline) are updated
/// in place, keeping their place in line. The difference is worked out
/// here from one indexed read of the run's rows, so a commit writes only
/// the rows that changed (most commits add one task and retire one).
pub(crate) fn replace(conn: &Connection, s: &MutableState, new_run: bool) -> rusqlite::Result<()> {
    let pending = s.pending_tasks();
    let mut stored: HashMap<String, Vec<u8>> = HashMap::new();
    if !new_run {
        let mut read = conn.prepare_cached("SELECT key, record FROM tasks WHERE run_id = ?1")?;
        let rows = read.query_map(params![s.run_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
        for row in rows {
            let (key, record) = row?;
            stored.insert(key, record);
        }
    }
    let mut insert = conn.prepare_cached(
        "INSERT INTO tasks (run_id, key, namespace, workflow_id, queue, activity, visible_at, fire_at, record)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for task in &pending {
        let key = task_key(task);
        let record = TaskRecord::of(task).encode_to_vec();
        let r = route(task);
        match stored.remove(&key) {
            Some(old) if old == record => {}
            Some(_) => {
                conn.prepare_cached(
                    "UPDATE tasks SET queue = ?3, activity = ?4, visible_at = ?5, fire_at = ?6, record = ?7
                     WHERE run_id = ?1 AND key = ?2",
                )?
                .execute(params![
                    s.run_id,
                    key,
                    r.queue.map(|q| q.0),
                    r.queue.is_some_and(|q| q.1),
                    r.visible_at,
                    r.fire_at,
                    record,
                ])?;
            }
            None => {
                insert.execute(params![
                    s.run_id,
                    key,
                    s.namespace,
                    s.workflow_id,
                    r.queue.map(|q| q.0),
                    r.queue.is_some_and(|q| q.1),
                    r.visible_at,
                    r.fire_at,
                    record,
                ])?;
            }
        }
    }
    if !stored.is_empty() {
        let mut delete = conn.prepare_cached("DELETE FROM tasks WHERE run_id = ?1 AND key = ?2")?;
        for key in stored.keys() {
            delete.execute(params![s.run_id, key])?;
        }
    }
    Ok(())
}

pub(crate) fn delete_run(conn: &Connection, run_id: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM tasks WHERE run_id = ?1")?.execute(params![run_id])?;
    Ok(())
}

/// Creates the table if this database predates it, filling it from the
/// executions the server still has work on.
pub(crate) fn ensure_table(conn: &mut Connection) -> rusqlite::Result<()> {
    let exists = conn.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tasks'")?.exists([])?;
    if exists {
        return Ok(());
    }
    let tx = conn.transaction()?;
    tx.execute_batch(TABLE)?;
    let states: Vec<Vec<u8>> = tx
        .prepare("SELECT state FROM executions WHERE active = 1")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for bytes in states {
        let state = MutableState::decode(bytes.as_slice())
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Blob, Box::new(e)))?;
        replace(&tx, &state, true)?;
    }
    tx.commit()
}

const COLUMNS: &str = "id, namespace, workflow_id, run_id, record";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Option<StoredTask>> {
    let record: Vec<u8> = r.get(4)?;
    let Some(task) = decode(&record) else {
        // Written by a later version: not ours to run.
        return Ok(None);
    };
    Ok(Some(StoredTask { id: r.get(0)?, namespace: r.get(1)?, workflow_id: r.get(2)?, run_id: r.get(3)?, task }))
}

fn collect(rows: impl Iterator<Item = rusqlite::Result<Option<StoredTask>>>) -> rusqlite::Result<Vec<StoredTask>> {
    rows.filter_map(Result::transpose).collect()
}

/// Up to `limit` tasks of a task queue visible at `now`, oldest first.
pub(crate) fn queued(
    conn: &Connection,
    namespace: &str,
    queue: &str,
    activity: bool,
    now: i64,
    limit: usize,
) -> rusqlite::Result<Vec<StoredTask>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM tasks WHERE namespace = ?1 AND queue = ?2 AND activity = ?3 AND visible_at <= ?4
         ORDER BY id LIMIT ?5"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    collect(stmt.query_map(params![namespace, queue, activity, now, limit as i64], row)?)
}

/// Up to `limit` timer-queue tasks due after `after` (due time, id) and no
/// later than `until`, by due time.
pub(crate) fn due(
    conn: &Connection,
    after: Option<(i64, i64)>,
    until: i64,
    limit: usize,
) -> rusqlite::Result<Vec<(i64, StoredTask)>> {
    let (at, id) = after.unwrap_or((i64::MIN, i64::MIN));
    let sql = format!(
        "SELECT {COLUMNS}, fire_at FROM tasks
         WHERE fire_at IS NOT NULL AND (fire_at > ?1 OR (fire_at = ?1 AND id > ?2)) AND fire_at <= ?3
         ORDER BY fire_at, id LIMIT ?4"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![at, id, until, limit as i64], |r| Ok(row(r)?.map(|t| (r.get(5).ok(), t))))?;
    rows.filter_map(Result::transpose)
        .map(|r| r.map(|(fire_at, t): (Option<i64>, StoredTask)| (fire_at.unwrap_or(until), t)))
        .collect()
}

/// Up to `limit` transfer-queue tasks with ids above `after`.
pub(crate) fn transfer(conn: &Connection, after: i64, limit: usize) -> rusqlite::Result<Vec<StoredTask>> {
    let sql =
        format!("SELECT {COLUMNS} FROM tasks WHERE queue IS NULL AND fire_at IS NULL AND id > ?1 ORDER BY id LIMIT ?2");
    let mut stmt = conn.prepare_cached(&sql)?;
    collect(stmt.query_map(params![after, limit as i64], row)?)
}

/// How many tasks wait in a task queue (DescribeTaskQueue's backlog).
pub(crate) fn count_queued(conn: &Connection, namespace: &str, queue: &str, activity: bool) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT COUNT(*) FROM tasks WHERE namespace = ?1 AND queue = ?2 AND activity = ?3")?
        .query_row(params![namespace, queue, activity], |r| r.get(0))
        .optional()
        .map(Option::unwrap_or_default)
}
