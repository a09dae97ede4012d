//! SQLite's schema: the tables, bringing an older database file up to
//! them, and its version in `PRAGMA user_version` (0: a file written
//! before versions were kept, or a new one).

use super::{error, keyed, retention, schedules, search_attributes, tasks, visibility_table};
use crate::schema::{MigrationReport, SchemaMigration, SchemaStatus, pending_after};
use crate::{Result, StoreError};
use rusqlite::{Connection, OpenFlags, params};
use std::path::Path;

/// Every schema version, oldest first. Version 1 is the layout as it was
/// when versions began to be kept; opening any older file brings it there.
pub(crate) const MIGRATIONS: &[SchemaMigration] = &[
    SchemaMigration { version: 1, name: "0001_init" },
    SchemaMigration { version: 2, name: "0002_visibility_by_parent" },
];

fn latest() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
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

/// Opens a connection: WAL and fsync at every commit for a file.
pub(crate) fn connect(path: Option<&Path>) -> rusqlite::Result<Connection> {
    let conn = match path {
        Some(path) => Connection::open(path)?,
        None => Connection::open_in_memory()?,
    };
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    if path.is_some() {
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

fn user_version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Brings the database to the latest version; refuses one newer than
/// this build knows. Returns the versions applied.
pub(crate) fn migrate(conn: &mut Connection) -> Result<Vec<SchemaMigration>> {
    let current = user_version(conn).map_err(error)?;
    if current > latest() {
        return Err(StoreError::SchemaTooNew { found: current, supported: latest() });
    }
    let pending = pending_after(MIGRATIONS, current);
    for m in &pending {
        match m.version {
            1 => initial_layout(conn).map_err(error)?,
            2 => visibility_table::index_children(conn).map_err(error)?,
            v => return Err(StoreError::Internal(format!("no SQLite migration to version {v}"))),
        }
        // Each step is idempotent: a crash before this line repeats it.
        conn.pragma_update(None, "user_version", m.version).map_err(error)?;
    }
    Ok(pending)
}

/// Version 1: the tables as they are now, from nothing or from any layout
/// an earlier Chronicle wrote (each step checks what is there).
fn initial_layout(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.execute_batch(SCHEMA)?;
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
    keyed::ensure_tables(conn)?;
    visibility_table::ensure_tables(conn)?;
    retention::ensure_index(conn)?;
    tasks::ensure_table(conn)
}

/// `chronicle db migrate` on a file: creates it if absent.
pub fn migrate_file(path: &Path) -> Result<MigrationReport> {
    let mut conn = connect(Some(path)).map_err(error)?;
    let applied = migrate(&mut conn)?;
    Ok(MigrationReport { applied, current: user_version(&conn).map_err(error)? })
}

/// An in-memory database starts empty each time: migrating one applies
/// everything to a database that is then gone.
pub fn migrate_memory() -> Result<MigrationReport> {
    let mut conn = connect(None).map_err(error)?;
    let applied = migrate(&mut conn)?;
    Ok(MigrationReport { applied, current: latest() })
}

/// The status of a database file, read only; an absent file is at 0.
pub fn schema_status(path: &Path) -> Result<SchemaStatus> {
    let current = if path.exists() {
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(error)?;
        user_version(&conn).map_err(error)?
    } else {
        0
    };
    Ok(status(current))
}

/// An in-memory database is empty until opened.
pub fn memory_schema_status() -> SchemaStatus {
    status(0)
}

fn status(current: u32) -> SchemaStatus {
    SchemaStatus { current, latest: latest(), pending: pending_after(MIGRATIONS, current) }
}
