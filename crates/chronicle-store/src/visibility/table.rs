//! SQLite's visibility tables, written in the transaction of every
//! execution write so listings never lag behind or run ahead of the runs.
//!
//! `visibility`: one row per run, its `WorkflowExecutionInfo` (what list
//! APIs return) and a column per system attribute queries filter on
//! (empty strings stored as NULL, as queries see them), indexed for the
//! common filters under the default order (start time, run id, newest
//! first).
//!
//! `visibility_attributes`: the run's custom search attribute values, one
//! row per value (a keyword list: one per element, or one marker row when
//! empty; a string also gets one row per distinct word, for Text
//! matching). A side table rather than a column per attribute because
//! attributes are registered at run time and typed at query time: each
//! row keeps the value in the column of its JSON type (a string also as
//! the time it spells, if it is one), so a query reads an attribute as
//! its current registered type without rewriting rows, and each column
//! has a partial index on (namespace, name, value).

use super::query::{System, Value};
use super::values::{self, clamp_nanos, parse_datetime, words};
use chronicle_engine::api::workflow::v1::WorkflowExecutionInfo;
use chronicle_engine::{MutableState, time};
use prost::Message;
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, params};
use std::collections::BTreeSet;

const TABLES: &str = r#"
CREATE TABLE visibility (
    run_id TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    workflow_type TEXT,
    status INTEGER NOT NULL,
    -- Times and durations in Unix nanoseconds.
    start_time INTEGER NOT NULL,
    close_time INTEGER,
    execution_time INTEGER,
    task_queue TEXT,
    parent_workflow_id TEXT,
    parent_run_id TEXT,
    root_workflow_id TEXT,
    root_run_id TEXT,
    history_length INTEGER NOT NULL,
    history_size_bytes INTEGER NOT NULL,
    state_transition_count INTEGER NOT NULL,
    execution_duration INTEGER,
    info BLOB NOT NULL
);
-- The default order, and the common filters under it. Type and status
-- together serve the usual "runs of type X that are running" page
-- without a sort; status alone serves Count GROUP BY ExecutionStatus.
CREATE INDEX visibility_by_start ON visibility(namespace, start_time DESC, run_id DESC);
CREATE INDEX visibility_by_status ON visibility(namespace, status, start_time DESC, run_id DESC);
CREATE INDEX visibility_by_type ON visibility(namespace, workflow_type, start_time DESC, run_id DESC);
CREATE INDEX visibility_by_type_status
    ON visibility(namespace, workflow_type, status, start_time DESC, run_id DESC);
CREATE INDEX visibility_by_workflow_id ON visibility(namespace, workflow_id, start_time DESC, run_id DESC);
CREATE INDEX visibility_by_task_queue ON visibility(namespace, task_queue, start_time DESC, run_id DESC);
CREATE INDEX visibility_by_close ON visibility(namespace, close_time DESC, run_id DESC);

CREATE TABLE visibility_attributes (
    run_id TEXT NOT NULL,
    name TEXT NOT NULL,
    seq INTEGER NOT NULL,
    namespace TEXT NOT NULL,
    -- 1: an element of a keyword list (or the marker of an empty one).
    list INTEGER NOT NULL,
    -- At most one of the value columns is set, but a string that spells
    -- an RFC 3339 time sets both str_value and time_value.
    num_value NUMERIC,
    str_value TEXT,
    time_value INTEGER,
    bool_value INTEGER,
    -- A word of a (non-list) string, lower-cased.
    word TEXT,
    PRIMARY KEY (run_id, name, seq)
) WITHOUT ROWID;
CREATE INDEX visibility_attributes_num ON visibility_attributes(namespace, name, num_value)
    WHERE num_value IS NOT NULL;
CREATE INDEX visibility_attributes_str ON visibility_attributes(namespace, name, str_value)
    WHERE str_value IS NOT NULL;
CREATE INDEX visibility_attributes_time ON visibility_attributes(namespace, name, time_value)
    WHERE time_value IS NOT NULL;
CREATE INDEX visibility_attributes_bool ON visibility_attributes(namespace, name, bool_value)
    WHERE bool_value IS NOT NULL;
CREATE INDEX visibility_attributes_word ON visibility_attributes(namespace, name, word)
    WHERE word IS NOT NULL;
"#;

/// The column of a system attribute in `visibility`.
pub(crate) fn column(field: System) -> &'static str {
    match field {
        System::WorkflowId => "workflow_id",
        System::WorkflowType => "workflow_type",
        System::RunId => "run_id",
        System::ExecutionStatus => "status",
        System::StartTime => "start_time",
        System::CloseTime => "close_time",
        System::ExecutionTime => "execution_time",
        System::TaskQueue => "task_queue",
        System::ParentWorkflowId => "parent_workflow_id",
        System::ParentRunId => "parent_run_id",
        System::RootWorkflowId => "root_workflow_id",
        System::RootRunId => "root_run_id",
        System::HistoryLength => "history_length",
        System::HistorySizeBytes => "history_size_bytes",
        System::StateTransitionCount => "state_transition_count",
        System::ExecutionDuration => "execution_duration",
    }
}

/// Unix nanoseconds of a timestamp; the ordering key of listings.
pub(crate) fn nanos(ts: Option<&prost_types::Timestamp>) -> Option<i64> {
    ts.map(|t| clamp_nanos(time::ts_nanos(t)))
}

/// Creates the tables if this database predates them, or rebuilds them
/// if it has an older layout (one row per run with fewer columns, no
/// attribute rows), filling them from the stored executions.
pub(crate) fn ensure_tables(conn: &mut Connection) -> rusqlite::Result<()> {
    let current =
        conn.prepare("SELECT 1 FROM pragma_table_info('visibility') WHERE name = 'execution_duration'")?.exists([])?
            && conn.prepare("SELECT 1 FROM sqlite_master WHERE name = 'visibility_attributes'")?.exists([])?;
    if current {
        return Ok(());
    }
    let tx = conn.transaction()?;
    tx.execute_batch("DROP TABLE IF EXISTS visibility; DROP TABLE IF EXISTS visibility_attributes;")?;
    tx.execute_batch(TABLES)?;
    {
        let mut states = tx.prepare("SELECT state FROM executions")?;
        let mut rows = states.query([])?;
        while let Some(row) = rows.next()? {
            let bytes: Vec<u8> = row.get(0)?;
            let state = MutableState::decode(bytes.as_slice())
                .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Blob, Box::new(e)))?;
            upsert(&tx, &state)?;
        }
    }
    tx.commit()
}

pub(crate) fn upsert(conn: &Connection, s: &MutableState) -> rusqlite::Result<()> {
    write(conn, &s.namespace, &s.execution_info())
}

/// Writes the rows of one run (replacing any it had). A run's type, start
/// time, task queue and family never change, so a rewrite sets only what
/// can: SQLite then leaves the indexes on the other columns alone.
pub(crate) fn write(conn: &Connection, namespace: &str, info: &WorkflowExecutionInfo) -> rusqlite::Result<()> {
    let exec = info.execution.clone().unwrap_or_default();
    let value = |s: System| match values::system_value(s, info) {
        Some(Value::Str(s)) => Sql::Text(s),
        Some(Value::Int(i)) => Sql::Integer(i),
        Some(Value::Time(t)) => Sql::Integer(clamp_nanos(t)),
        _ => Sql::Null,
    };
    conn.prepare_cached(
        "INSERT INTO visibility (run_id, namespace, workflow_id, workflow_type, status, start_time,
             close_time, execution_time, task_queue, parent_workflow_id, parent_run_id, root_workflow_id,
             root_run_id, history_length, history_size_bytes, state_transition_count, execution_duration, info)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)
         ON CONFLICT (run_id) DO UPDATE SET status = excluded.status, close_time = excluded.close_time,
             execution_time = excluded.execution_time,
             history_length = excluded.history_length, history_size_bytes = excluded.history_size_bytes,
             state_transition_count = excluded.state_transition_count,
             execution_duration = excluded.execution_duration, info = excluded.info",
    )?
    .execute(params![
        exec.run_id,
        namespace,
        exec.workflow_id,
        value(System::WorkflowType),
        info.status,
        nanos(info.start_time.as_ref()).unwrap_or(0),
        value(System::CloseTime),
        value(System::ExecutionTime),
        value(System::TaskQueue),
        value(System::ParentWorkflowId),
        value(System::ParentRunId),
        value(System::RootWorkflowId),
        value(System::RootRunId),
        info.history_length,
        info.history_size_bytes,
        info.state_transition_count,
        value(System::ExecutionDuration),
        info.encode_to_vec(),
    ])?;
    delete_attributes(conn, &exec.run_id)?;
    let Some(attributes) = &info.search_attributes else { return Ok(()) };
    let mut insert = conn.prepare_cached(
        "INSERT INTO visibility_attributes
             (run_id, name, seq, namespace, list, num_value, str_value, time_value, bool_value, word)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for (name, payload) in &attributes.indexed_fields {
        for (seq, row) in rows(values::payload_value(payload, false)).into_iter().enumerate() {
            let seq = seq as i64;
            let (num, str, bool) = match row.value {
                Some(Value::Int(i)) => (Sql::Integer(i), None, None),
                Some(Value::Float(f)) => (Sql::Real(f), None, None),
                Some(Value::Str(s)) => (Sql::Null, Some(s), None),
                Some(Value::Bool(b)) => (Sql::Null, None, Some(b)),
                _ => (Sql::Null, None, None),
            };
            let time = str.as_deref().and_then(parse_datetime).map(clamp_nanos);
            insert.execute(params![exec.run_id, name, seq, namespace, row.list, num, str, time, bool, row.word])?;
        }
    }
    Ok(())
}

struct Row {
    list: bool,
    value: Option<Value>,
    word: Option<String>,
}

/// The attribute rows of one value (see the module comment).
fn rows(value: Option<Value>) -> Vec<Row> {
    match value {
        None => Vec::new(),
        Some(Value::List(items)) if items.is_empty() => vec![Row { list: true, value: None, word: None }],
        Some(Value::List(items)) => items.into_iter().map(|v| Row { list: true, value: Some(v), word: None }).collect(),
        Some(Value::Str(s)) => {
            let distinct: BTreeSet<String> = words(&s).into_iter().collect();
            let words = distinct.into_iter().map(|w| Row { list: false, value: None, word: Some(w) });
            std::iter::once(Row { list: false, value: Some(Value::Str(s)), word: None }).chain(words).collect()
        }
        scalar => vec![Row { list: false, value: scalar, word: None }],
    }
}

fn delete_attributes(conn: &Connection, run_id: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM visibility_attributes WHERE run_id = ?1")?.execute(params![run_id])?;
    Ok(())
}

pub(crate) fn delete(conn: &Connection, run_id: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM visibility WHERE run_id = ?1")?.execute(params![run_id])?;
    delete_attributes(conn, run_id)
}
