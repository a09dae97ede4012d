//! The durable queue of pending work: one row per task an execution's state
//! holds pending (`MutableState::pending_tasks`), rewritten in the
//! transaction of every execution write, so the rows are exactly the state's
//! pending work: a task's row goes in the commit that starts, fires or
//! cancels it, and no acknowledgement is ever written separately.
//!
//! The server finds work through three indexes, never by loading runs:
//! a task queue's backlog (workflow and activity tasks, oldest first), the
//! timer queue (timers and delayed activity dispatches, by due time, read
//! window by window) and the transfer queue (work between runs: children,
//! parents, signals and cancels to other workflows; sticky workflow tasks,
//! which need their worker checked).

use chronicle_engine::{
    ActivityTaskDispatch, MutableState, Task, TimerKind, TimerTask, api::enums::v1::TimeoutType, time,
};
use prost::Message;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;

pub(crate) const TABLE: &str = r#"
CREATE TABLE tasks (
    -- No AUTOINCREMENT: it costs a write of sqlite_sequence per commit,
    -- and a reused id (only ever the largest, once deleted) is harmless:
    -- ids order a backlog and page reads, they name nothing.
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

/// A pending task as stored, with the run it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTask {
    /// Insertion order: a queue's backlog is handed out oldest first.
    pub id: i64,
    pub namespace: String,
    pub workflow_id: String,
    pub run_id: String,
    pub task: Task,
}

/// The identity of a task within its run: the same task (a timer whose
/// deadline moved, an activity attempt) keeps its key and its row.
pub fn task_key(task: &Task) -> String {
    match task {
        Task::WorkflowTask { scheduled_event_id, attempt, sticky, .. } => {
            format!("wt:{scheduled_event_id}:{attempt}:{}", u8::from(*sticky))
        }
        Task::ActivityTask(a) => format!("at:{}:{}", a.scheduled_event_id, a.attempt),
        Task::External { initiated_event_id } => format!("ex:{initiated_event_id}"),
        Task::StartChild { initiated_event_id } => format!("sc:{initiated_event_id}"),
        Task::NotifyParent => "np".to_string(),
        Task::ApplyParentClosePolicy { initiated_event_id } => format!("pc:{initiated_event_id}"),
        Task::Timer(t) => match t.kind {
            TimerKind::WorkflowTaskTimeout { scheduled_event_id, attempt } => {
                format!("t:wt:{scheduled_event_id}:{attempt}")
            }
            TimerKind::StickyScheduleToStartTimeout { scheduled_event_id, attempt } => {
                format!("t:st:{scheduled_event_id}:{attempt}")
            }
            TimerKind::ActivityTimeout { scheduled_event_id, attempt, timeout_type } => {
                format!("t:at:{scheduled_event_id}:{attempt}:{}", timeout_type as i32)
            }
            TimerKind::WorkflowRunTimeout => "t:run".to_string(),
            TimerKind::UserTimer { started_event_id } => format!("t:user:{started_event_id}"),
            TimerKind::WorkflowBackoff => "t:backoff".to_string(),
        },
    }
}

/// A task as a row's `record` (the engine's `Task` is not a message).
#[derive(Clone, PartialEq, prost::Message)]
struct TaskRecord {
    #[prost(int32, tag = "1")]
    kind: i32,
    #[prost(string, tag = "2")]
    task_queue: String,
    #[prost(bool, tag = "3")]
    sticky: bool,
    /// Scheduled, initiated or started event id, by kind.
    #[prost(int64, tag = "4")]
    event_id: i64,
    #[prost(int32, tag = "5")]
    attempt: i32,
    /// Visible-at or fire-at time, by kind.
    #[prost(message, optional, tag = "6")]
    at: Option<prost_types::Timestamp>,
    #[prost(int32, tag = "7")]
    timer_kind: i32,
    #[prost(int32, tag = "8")]
    timeout_type: i32,
}

const WORKFLOW_TASK: i32 = 1;
const ACTIVITY_TASK: i32 = 2;
const EXTERNAL: i32 = 3;
const START_CHILD: i32 = 4;
const NOTIFY_PARENT: i32 = 5;
const PARENT_CLOSE_POLICY: i32 = 6;
const TIMER: i32 = 7;

const TIMER_WORKFLOW_TASK: i32 = 1;
const TIMER_STICKY: i32 = 2;
const TIMER_ACTIVITY: i32 = 3;
const TIMER_RUN: i32 = 4;
const TIMER_USER: i32 = 5;
const TIMER_BACKOFF: i32 = 6;

impl TaskRecord {
    fn of(task: &Task) -> Self {
        let r = TaskRecord::default();
        match task {
            Task::WorkflowTask { task_queue, sticky, scheduled_event_id, attempt } => TaskRecord {
                kind: WORKFLOW_TASK,
                task_queue: task_queue.clone(),
                sticky: *sticky,
                event_id: *scheduled_event_id,
                attempt: *attempt,
                ..r
            },
            Task::ActivityTask(a) => TaskRecord {
                kind: ACTIVITY_TASK,
                task_queue: a.task_queue.clone(),
                event_id: a.scheduled_event_id,
                attempt: a.attempt,
                at: Some(a.visible_at),
                ..r
            },
            Task::External { initiated_event_id } => TaskRecord { kind: EXTERNAL, event_id: *initiated_event_id, ..r },
            Task::StartChild { initiated_event_id } => {
                TaskRecord { kind: START_CHILD, event_id: *initiated_event_id, ..r }
            }
            Task::NotifyParent => TaskRecord { kind: NOTIFY_PARENT, ..r },
            Task::ApplyParentClosePolicy { initiated_event_id } => {
                TaskRecord { kind: PARENT_CLOSE_POLICY, event_id: *initiated_event_id, ..r }
            }
            Task::Timer(t) => {
                let (timer_kind, event_id, attempt, timeout_type) = match t.kind {
                    TimerKind::WorkflowTaskTimeout { scheduled_event_id, attempt } => {
                        (TIMER_WORKFLOW_TASK, scheduled_event_id, attempt, 0)
                    }
                    TimerKind::StickyScheduleToStartTimeout { scheduled_event_id, attempt } => {
                        (TIMER_STICKY, scheduled_event_id, attempt, 0)
                    }
                    TimerKind::ActivityTimeout { scheduled_event_id, attempt, timeout_type } => {
                        (TIMER_ACTIVITY, scheduled_event_id, attempt, timeout_type as i32)
                    }
                    TimerKind::WorkflowRunTimeout => (TIMER_RUN, 0, 0, 0),
                    TimerKind::UserTimer { started_event_id } => (TIMER_USER, started_event_id, 0, 0),
                    TimerKind::WorkflowBackoff => (TIMER_BACKOFF, 0, 0, 0),
                };
                TaskRecord { kind: TIMER, event_id, attempt, at: Some(t.fire_at), timer_kind, timeout_type, ..r }
            }
        }
    }

    fn task(self) -> Option<Task> {
        let at = self.at.unwrap_or_default();
        Some(match self.kind {
            WORKFLOW_TASK => Task::WorkflowTask {
                task_queue: self.task_queue,
                sticky: self.sticky,
                scheduled_event_id: self.event_id,
                attempt: self.attempt,
            },
            ACTIVITY_TASK => Task::ActivityTask(ActivityTaskDispatch {
                task_queue: self.task_queue,
                scheduled_event_id: self.event_id,
                attempt: self.attempt,
                visible_at: at,
            }),
            EXTERNAL => Task::External { initiated_event_id: self.event_id },
            START_CHILD => Task::StartChild { initiated_event_id: self.event_id },
            NOTIFY_PARENT => Task::NotifyParent,
            PARENT_CLOSE_POLICY => Task::ApplyParentClosePolicy { initiated_event_id: self.event_id },
            TIMER => {
                let (scheduled_event_id, attempt) = (self.event_id, self.attempt);
                let kind = match self.timer_kind {
                    TIMER_WORKFLOW_TASK => TimerKind::WorkflowTaskTimeout { scheduled_event_id, attempt },
                    TIMER_STICKY => TimerKind::StickyScheduleToStartTimeout { scheduled_event_id, attempt },
                    TIMER_ACTIVITY => TimerKind::ActivityTimeout {
                        scheduled_event_id,
                        attempt,
                        timeout_type: TimeoutType::try_from(self.timeout_type).ok()?,
                    },
                    TIMER_RUN => TimerKind::WorkflowRunTimeout,
                    TIMER_USER => TimerKind::UserTimer { started_event_id: self.event_id },
                    TIMER_BACKOFF => TimerKind::WorkflowBackoff,
                    _ => return None,
                };
                Task::Timer(TimerTask { fire_at: at, kind })
            }
            _ => return None,
        })
    }
}

/// Where a task's row is found: a task queue, the timer queue, or the
/// transfer queue (neither).
struct Route<'a> {
    queue: Option<(&'a str, bool)>,
    visible_at: i64,
    fire_at: Option<i64>,
}

fn nanos(ts: &prost_types::Timestamp) -> i64 {
    time::ts_nanos(ts).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

fn route(task: &Task) -> Route<'_> {
    let none = Route { queue: None, visible_at: 0, fire_at: None };
    match task {
        // A sticky task needs its worker checked before it is offered.
        Task::WorkflowTask { sticky: true, .. } => none,
        Task::WorkflowTask { task_queue, .. } => Route { queue: Some((task_queue, false)), ..none },
        Task::ActivityTask(a) => {
            let visible_at = nanos(&a.visible_at);
            // A retry waits out its backoff on the timer queue; a first
            // attempt is visible from when it was scheduled.
            let fire_at = (a.attempt > 1).then_some(visible_at);
            Route { queue: Some((&a.task_queue, true)), visible_at, fire_at }
        }
        Task::Timer(t) => Route { fire_at: Some(nanos(&t.fire_at)), ..none },
        Task::External { .. } | Task::StartChild { .. } | Task::NotifyParent | Task::ApplyParentClosePolicy { .. } => {
            none
        }
    }
}

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
    let Some(task) = TaskRecord::decode(record.as_slice()).ok().and_then(TaskRecord::task) else {
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
