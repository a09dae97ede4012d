//! SQLite's visibility tables (`crate::visibility::columns` says what the
//! rows are), written in the transaction of every execution write so
//! listings never lag behind or run ahead of the runs.

use crate::visibility::columns::{AttributeRow, Number, RunRow, attribute_rows};
use chronicle_engine::MutableState;
use chronicle_engine::api::workflow::v1::WorkflowExecutionInfo;
use prost::Message;
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, params};

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

/// Schema version 2: a run's children (the web UI lists them on every
/// run's page), found through an index of child runs only.
pub(crate) fn index_children(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE INDEX IF NOT EXISTS visibility_by_parent
             ON visibility(namespace, parent_workflow_id, parent_run_id, start_time DESC, run_id DESC)
             WHERE parent_workflow_id IS NOT NULL;",
    )
}

pub(crate) fn upsert(conn: &Connection, s: &MutableState) -> rusqlite::Result<()> {
    write(conn, &s.namespace, &s.execution_info())
}

/// Writes the rows of one run (replacing any it had). A run's type, start
/// time, task queue and family never change, so a rewrite sets only what
/// can: SQLite then leaves the indexes on the other columns alone.
pub(crate) fn write(conn: &Connection, namespace: &str, info: &WorkflowExecutionInfo) -> rusqlite::Result<()> {
    let r = RunRow::of(namespace, info);
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
        r.run_id,
        r.namespace,
        r.workflow_id,
        r.workflow_type,
        r.status,
        r.start_time,
        r.close_time,
        r.execution_time,
        r.task_queue,
        r.parent_workflow_id,
        r.parent_run_id,
        r.root_workflow_id,
        r.root_run_id,
        r.history_length,
        r.history_size_bytes,
        r.state_transition_count,
        r.execution_duration,
        r.info,
    ])?;
    delete_attributes(conn, &r.run_id)?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO visibility_attributes
             (run_id, name, seq, namespace, list, num_value, str_value, time_value, bool_value, word)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for AttributeRow { name, seq, list, num, str, time, bool, word } in attribute_rows(info) {
        let num = match num {
            Some(Number::Int(i)) => Sql::Integer(i),
            Some(Number::Float(f)) => Sql::Real(f),
            None => Sql::Null,
        };
        insert.execute(params![r.run_id, name, seq, namespace, list, num, str, time, bool, word])?;
    }
    Ok(())
}

fn delete_attributes(conn: &Connection, run_id: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM visibility_attributes WHERE run_id = ?1")?.execute(params![run_id])?;
    Ok(())
}

pub(crate) fn delete(conn: &Connection, run_id: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM visibility WHERE run_id = ?1")?.execute(params![run_id])?;
    delete_attributes(conn, run_id)
}
