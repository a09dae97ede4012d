//! Durable storage behind a narrow API, split by concern (`store.rs`):
//! executions, tasks, visibility, namespaces, schedules. Two backends
//! implement all of it: SQLite (`sqlite/`) and PostgreSQL (`postgres/`).
//!
//! One `commit` writes the new events, the new mutable state, the rows of
//! its pending tasks and timers, the current-run pointer and the
//! visibility rows of one or more executions in a single transaction,
//! conditional on each execution's `db_version`. It returns only once the
//! transaction is durable.

pub mod cluster;
mod error;
mod keyed;
pub mod observe;
mod records;
mod schema;
mod store;
mod tasks;
mod url;

pub mod postgres;
pub mod sqlite;
pub mod visibility;

pub use cluster::{ClusterStore, ClusterView, Fence, NodeRecord, SHARDS, ShardLease, shard_of};
pub use error::{Missing, StoreError};
pub use postgres::{PostgresOptions, PostgresStore};
pub use records::{
    BatchRecord, BufferedAction, CustomSearchAttributes, DeploymentRecord, ExecutionWrite, ListCursor, NamespaceRecord,
    RunCount, RunKey, RunsPage, ScheduleRecord, VisibilityCursor,
};
pub use schema::{MigrationReport, SchemaMigration, SchemaStatus, migrate, open, open_shared, schema_status};
pub use sqlite::{SqliteOptions, SqliteStore};
pub use store::{
    BatchStore, DeploymentStore, ExecutionStore, NamespaceStore, ScheduleStore, Store, TaskStore, VisibilityStore,
};
pub use tasks::{StoredTask, task_key};
pub use url::{StoreUrl, parse_url};

use std::{future::Future, pin::Pin};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
pub type Result<T> = std::result::Result<T, StoreError>;
