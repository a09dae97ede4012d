//! Durable storage behind a narrow trait.
//!
//! One `commit` writes the new events, the new mutable state, the rows of
//! its pending tasks and timers, the current-run pointer and the
//! visibility row of one or more executions in a single transaction,
//! conditional on each execution's `db_version`. It returns only once the
//! transaction is durable.

mod retention;
mod schedules;
mod search_attributes;
mod sqlite;
mod tasks;
pub mod visibility;

pub use retention::RunKey;
pub use sqlite::{SqliteOptions, SqliteStore};
pub use tasks::{StoredTask, task_key};

use chronicle_engine::{
    MutableState,
    api::{enums::v1::IndexedValueType, history::v1::HistoryEvent, workflow::v1::WorkflowExecutionInfo},
};
use std::{collections::BTreeMap, future::Future, pin::Pin};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A conditional write lost: another writer moved the execution or the
    /// current run on.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("already exists: {0}")]
    AlreadyExists(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("storage failure: {0}")]
    Internal(String),
}

/// One execution's part of a commit.
#[derive(Debug, Clone)]
pub struct ExecutionWrite {
    /// The state after the transition (its `db_version` already bumped).
    pub state: MutableState,
    /// The `db_version` the stored row must have; 0 creates the row.
    pub expected_version: i64,
    pub events: Vec<HistoryEvent>,
    /// For a new run: make it the workflow id's current run, provided the
    /// current run is still this one (None: there must be none).
    pub set_current: Option<Option<String>>,
    /// Rewrite the run's visibility record (always done for a new run): set
    /// when a field that lists show changed (`MutableState::visibility_differs`).
    /// Like Temporal's, a running run's record is not rewritten on every
    /// transition, so its history length there is as of the last rewrite.
    pub update_visibility: bool,
}

/// A namespace record.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NamespaceRecord {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub id: String,
    #[prost(string, tag = "3")]
    pub description: String,
    #[prost(string, tag = "4")]
    pub owner_email: String,
    #[prost(message, optional, tag = "5")]
    pub retention: Option<prost_types::Duration>,
    #[prost(btree_map = "string, string", tag = "6")]
    pub data: std::collections::BTreeMap<String, String>,
}

/// A schedule and the scheduler's state for it. `version` is the storage
/// version (bumped on every write); `conflict_token` is the one clients
/// see, bumped only by UpdateSchedule, as Temporal's.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ScheduleRecord {
    #[prost(string, tag = "1")]
    pub namespace: String,
    #[prost(string, tag = "2")]
    pub schedule_id: String,
    #[prost(message, optional, tag = "3")]
    pub schedule: Option<chronicle_engine::api::schedule::v1::Schedule>,
    /// Counters, running workflows, recent actions, create/update time
    /// (future action times are computed when read).
    #[prost(message, optional, tag = "4")]
    pub info: Option<chronicle_engine::api::schedule::v1::ScheduleInfo>,
    #[prost(message, optional, tag = "5")]
    pub memo: Option<chronicle_engine::api::common::v1::Memo>,
    #[prost(message, optional, tag = "6")]
    pub search_attributes: Option<chronicle_engine::api::common::v1::SearchAttributes>,
    #[prost(int64, tag = "7")]
    pub conflict_token: i64,
    /// Action times up to and including this one have been handled.
    #[prost(message, optional, tag = "8")]
    pub processed_until: Option<prost_types::Timestamp>,
    #[prost(int64, tag = "9")]
    pub version: i64,
    #[prost(string, tag = "10")]
    pub create_request_id: String,
    /// Actions waiting for their turn (overlap policies BUFFER_*,
    /// CANCEL_OTHER, TERMINATE_OTHER), oldest first.
    #[prost(message, repeated, tag = "11")]
    pub buffered_actions: Vec<BufferedAction>,
}

/// A schedule action waiting to be taken (Temporal's BufferedStart).
#[derive(Clone, PartialEq, prost::Message)]
pub struct BufferedAction {
    /// The action's nominal time.
    #[prost(message, optional, tag = "1")]
    pub nominal_time: Option<prost_types::Timestamp>,
    /// Unspecified: the schedule's policy, resolved when taken.
    #[prost(enumeration = "chronicle_engine::api::enums::v1::ScheduleOverlapPolicy", tag = "2")]
    pub overlap_policy: i32,
    /// Asked for (trigger, backfill): taken even while paused.
    #[prost(bool, tag = "3")]
    pub manual: bool,
}

/// A namespace's registered custom search attributes: name → type.
pub type CustomSearchAttributes = BTreeMap<String, IndexedValueType>;

/// Where a visibility listing stopped: the last run returned. Listings go
/// newest first, by start time, then run id, both descending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisibilityCursor {
    /// Unix nanoseconds.
    pub start_time: i64,
    pub run_id: String,
}

impl VisibilityCursor {
    /// The cursor just past `info` in a listing.
    pub fn after(info: &WorkflowExecutionInfo) -> Self {
        VisibilityCursor {
            start_time: visibility::table::nanos(info.start_time.as_ref()).unwrap_or(0),
            run_id: info.execution.as_ref().map(|e| e.run_id.clone()).unwrap_or_default(),
        }
    }
}

/// Where a visibility listing continues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListCursor {
    /// The default order: after this run.
    After(VisibilityCursor),
    /// An ORDER BY: past this many runs.
    Offset(u64),
}

/// A page of a visibility listing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunsPage {
    pub runs: Vec<WorkflowExecutionInfo>,
    /// None on the last page.
    pub next: Option<ListCursor>,
}

/// A visibility count.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunCount {
    pub count: i64,
    /// (status, count), by status, when the query groups by
    /// ExecutionStatus; statuses no run has are absent.
    pub groups: Vec<(i32, i64)>,
}

/// Summary of a run for listing and recovery.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionRow {
    pub state: MutableState,
}

pub trait Store: Send + Sync + 'static {
    fn commit(&self, writes: Vec<ExecutionWrite>) -> BoxFuture<'_, Result<()>>;

    /// The current run id of a workflow id.
    fn current_run(&self, namespace: &str, workflow_id: &str) -> BoxFuture<'_, Result<Option<String>>>;

    fn load_execution(
        &self,
        namespace: &str,
        workflow_id: &str,
        run_id: &str,
    ) -> BoxFuture<'_, Result<Option<MutableState>>>;

    /// The state of a workflow id's current run, in one read.
    fn load_current_execution(&self, namespace: &str, workflow_id: &str)
    -> BoxFuture<'_, Result<Option<MutableState>>>;

    /// Events with `from_event_id <= id`, at most `max` of them, in order.
    fn read_history(&self, run_id: &str, from_event_id: i64, max: usize) -> BoxFuture<'_, Result<Vec<HistoryEvent>>>;

    /// Every execution the server still has work on
    /// (`MutableState::needs_recovery`): recovery rebuilds queues and timers.
    fn open_executions(&self) -> BoxFuture<'_, Result<Vec<MutableState>>>;

    /// Inserts a namespace; AlreadyExists if the name is taken.
    fn create_namespace(&self, ns: NamespaceRecord) -> BoxFuture<'_, Result<()>>;

    fn list_namespaces(&self) -> BoxFuture<'_, Result<Vec<NamespaceRecord>>>;

    /// Replaces a namespace record; NotFound if there is none by that name.
    fn update_namespace(&self, ns: NamespaceRecord) -> BoxFuture<'_, Result<()>>;

    /// Deletes a run: its state, history, visibility record and, if it is
    /// the workflow id's current run, that pointer. Only a run that is
    /// closed with no post-close work left (checked in the deleting
    /// transaction): Conflict if the server still has work on it, NotFound
    /// if absent.
    fn delete_execution(&self, namespace: &str, workflow_id: &str, run_id: &str) -> BoxFuture<'_, Result<()>>;

    /// Registers custom search attributes in `namespace`, all or nothing: a
    /// name registered with the same type stays as it is; one registered
    /// with another type fails the call (AlreadyExists, "Search attribute X
    /// already exists.") and nothing changes.
    fn add_search_attributes(&self, namespace: &str, attributes: CustomSearchAttributes) -> BoxFuture<'_, Result<()>>;

    /// Unregisters custom search attributes, all or nothing: a name not
    /// registered fails the call (NotFound, "Search attribute X doesn't
    /// exist.") and nothing changes.
    fn remove_search_attributes(&self, namespace: &str, names: Vec<String>) -> BoxFuture<'_, Result<()>>;

    /// Every namespace's registered custom search attributes (namespaces
    /// with none are absent).
    fn search_attributes(&self) -> BoxFuture<'_, Result<BTreeMap<String, CustomSearchAttributes>>>;

    /// Writes a schedule: `expected_version` 0 inserts it (AlreadyExists if
    /// the id is taken); otherwise the stored row must be at that version
    /// (NotFound if absent, Conflict if it moved on). The caller sets
    /// `record.version` to the new version.
    fn write_schedule(&self, record: ScheduleRecord, expected_version: i64) -> BoxFuture<'_, Result<()>>;

    /// Deletes a schedule; NotFound if absent.
    fn delete_schedule(&self, namespace: &str, schedule_id: &str) -> BoxFuture<'_, Result<()>>;

    fn load_schedule(&self, namespace: &str, schedule_id: &str) -> BoxFuture<'_, Result<Option<ScheduleRecord>>>;

    /// Every schedule (of `namespace`, if given), by namespace then id.
    fn list_schedules(&self, namespace: Option<&str>) -> BoxFuture<'_, Result<Vec<ScheduleRecord>>>;

    /// A task queue's backlog: up to `limit` workflow (`activity` false) or
    /// activity tasks of `queue` visible at `now` (Unix nanoseconds),
    /// oldest first. Rows are the pending tasks of the states last written.
    fn queued_tasks(
        &self,
        namespace: &str,
        queue: &str,
        activity: bool,
        now: i64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<StoredTask>>>;

    /// The timer queue: up to `limit` timers (and activity retries waiting
    /// out their backoff) due after `after` (due time, task id) and no
    /// later than `until`, by due time then id, each with its due time.
    fn due_tasks(
        &self,
        after: Option<(i64, i64)>,
        until: i64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<(i64, StoredTask)>>>;

    /// The transfer queue: up to `limit` tasks between runs (and sticky
    /// workflow tasks) with ids above `after`, by id.
    fn transfer_tasks(&self, after: i64, limit: usize) -> BoxFuture<'_, Result<Vec<StoredTask>>>;

    /// How many tasks a task queue holds.
    fn count_queued_tasks(&self, namespace: &str, queue: &str, activity: bool) -> BoxFuture<'_, Result<i64>>;

    /// Visibility: up to `limit` runs of `namespace` (as of their last
    /// commit that updated visibility) matching `query`, in its order,
    /// continuing at `from`; the page says where the next one starts.
    fn list_runs(
        &self,
        namespace: &str,
        query: &visibility::Query,
        from: Option<ListCursor>,
        limit: usize,
    ) -> BoxFuture<'_, Result<RunsPage>>;

    /// Visibility: how many runs of `namespace` match `query`, and how many
    /// per status if it groups by ExecutionStatus.
    fn count_runs(&self, namespace: &str, query: &visibility::Query) -> BoxFuture<'_, Result<RunCount>>;

    /// Retention: up to `limit` runs of `namespace` that closed before
    /// `closed_before` (Unix nanoseconds) and have no post-close work left,
    /// oldest close first, found through an index on close time.
    fn expired_executions(
        &self,
        namespace: &str,
        closed_before: i64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<RunKey>>>;

    /// Deletes runs of `namespace` as `delete_execution` does, all in one
    /// transaction of their own; runs absent or still active are skipped.
    /// Returns the runs deleted. Callers keep batches small (the store has
    /// one writer).
    fn delete_executions(&self, namespace: &str, runs: Vec<RunKey>) -> BoxFuture<'_, Result<Vec<RunKey>>>;
}

/// Whether `events` have contiguous ids ending at `last` (true when empty):
/// a commit's events continue the run's history exactly.
pub(crate) fn contiguous_ending_at(events: &[HistoryEvent], last: i64) -> bool {
    events.last().is_none_or(|e| e.event_id == last) && events.windows(2).all(|w| w[1].event_id == w[0].event_id + 1)
}
