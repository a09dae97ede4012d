//! The storage API, split by concern. A backend implements each part;
//! `Store` is all of them, so the server holds one `Arc<dyn Store>` and
//! calls any part (with that part's trait in scope).

use crate::{
    BatchRecord, BoxFuture, CustomSearchAttributes, DeploymentRecord, ExecutionWrite, ListCursor, NamespaceRecord,
    Result, RunCount, RunKey, RunsPage, ScheduleRecord, StoredTask, visibility,
};
use chronicle_engine::{MutableState, api::history::v1::HistoryEvent};
use std::collections::BTreeMap;

/// Runs: their states, histories and current-run pointers.
pub trait ExecutionStore: Send + Sync + 'static {
    /// Writes one or more executions in one transaction (see
    /// `ExecutionWrite`), conditional on each one's `db_version` and
    /// current-run expectation: if one condition fails nothing is written
    /// and the answer is Conflict. Returns once the transaction is durable.
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

    /// Deletes a run: its state, history, visibility record and, if it is
    /// the workflow id's current run, that pointer. Only a run that is
    /// closed with no post-close work left (checked in the deleting
    /// transaction): Conflict if the server still has work on it, NotFound
    /// if absent.
    fn delete_execution(&self, namespace: &str, workflow_id: &str, run_id: &str) -> BoxFuture<'_, Result<()>>;

    /// Deletes runs of `namespace` as `delete_execution` does, all in one
    /// transaction of their own; runs absent or still active are skipped.
    /// Returns the runs deleted. Callers keep batches small.
    fn delete_executions(&self, namespace: &str, runs: Vec<RunKey>) -> BoxFuture<'_, Result<Vec<RunKey>>>;
}

/// The durable queues: each run's pending tasks, written with its state.
pub trait TaskStore: Send + Sync + 'static {
    /// A task queue's backlog: up to `limit` workflow (`activity` false) or
    /// activity tasks of `queue` visible at `now` (Unix nanoseconds),
    /// oldest first. Rows are the pending tasks of the states last written.
    /// No cursor: every read starts from the oldest task.
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
    /// The cursor may pass a row whose transaction commits later (task ids
    /// need not be in commit order): ARCHITECTURE.md, "Task ids and
    /// cursors", says why the server never misses one.
    fn due_tasks(
        &self,
        after: Option<(i64, i64)>,
        until: i64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<(i64, StoredTask)>>>;

    /// The transfer queue: up to `limit` tasks between runs (and sticky
    /// workflow tasks) with ids above `after`, by id (the same caveat as
    /// `due_tasks`).
    fn transfer_tasks(&self, after: i64, limit: usize) -> BoxFuture<'_, Result<Vec<StoredTask>>>;

    /// How many tasks a task queue holds.
    fn count_queued_tasks(&self, namespace: &str, queue: &str, activity: bool) -> BoxFuture<'_, Result<i64>>;
}

/// Listing and counting runs, and finding the ones retention may delete.
pub trait VisibilityStore: Send + Sync + 'static {
    /// Up to `limit` runs of `namespace` (as of their last commit that
    /// updated visibility) matching `query`, in its order, continuing at
    /// `from`; the page says where the next one starts.
    fn list_runs(
        &self,
        namespace: &str,
        query: &visibility::Query,
        from: Option<ListCursor>,
        limit: usize,
    ) -> BoxFuture<'_, Result<RunsPage>>;

    /// How many runs of `namespace` match `query`, and how many per status
    /// if it groups by ExecutionStatus.
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
}

/// Namespaces and the custom search attributes registered in them.
pub trait NamespaceStore: Send + Sync + 'static {
    /// Inserts a namespace; NamespaceExists if the name is taken.
    fn create_namespace(&self, ns: NamespaceRecord) -> BoxFuture<'_, Result<()>>;

    /// Every namespace, by name.
    fn list_namespaces(&self) -> BoxFuture<'_, Result<Vec<NamespaceRecord>>>;

    /// Replaces a namespace record; NamespaceNotFound if there is none by
    /// that name.
    fn update_namespace(&self, ns: NamespaceRecord) -> BoxFuture<'_, Result<()>>;

    /// Registers custom search attributes in `namespace`, all or nothing: a
    /// name registered with the same type stays as it is; one registered
    /// with another type fails the call (SearchAttributeExists) and nothing
    /// changes.
    fn add_search_attributes(&self, namespace: &str, attributes: CustomSearchAttributes) -> BoxFuture<'_, Result<()>>;

    /// Unregisters custom search attributes, all or nothing: a name not
    /// registered fails the call (SearchAttributeNotFound) and nothing
    /// changes.
    fn remove_search_attributes(&self, namespace: &str, names: Vec<String>) -> BoxFuture<'_, Result<()>>;

    /// Every namespace's registered custom search attributes (namespaces
    /// with none are absent).
    fn search_attributes(&self) -> BoxFuture<'_, Result<BTreeMap<String, CustomSearchAttributes>>>;
}

/// Schedules and the scheduler's state for each.
pub trait ScheduleStore: Send + Sync + 'static {
    /// Writes a schedule: `expected_version` 0 inserts it (ScheduleExists
    /// if the id is taken); otherwise the stored row must be at that
    /// version (NotFound if absent, Conflict if it moved on). The caller
    /// sets `record.version` to the new version.
    fn write_schedule(&self, record: ScheduleRecord, expected_version: i64) -> BoxFuture<'_, Result<()>>;

    /// Deletes a schedule; NotFound if absent.
    fn delete_schedule(&self, namespace: &str, schedule_id: &str) -> BoxFuture<'_, Result<()>>;

    fn load_schedule(&self, namespace: &str, schedule_id: &str) -> BoxFuture<'_, Result<Option<ScheduleRecord>>>;

    /// Every schedule (of `namespace`, if given), by namespace then id.
    fn list_schedules(&self, namespace: Option<&str>) -> BoxFuture<'_, Result<Vec<ScheduleRecord>>>;
}

/// Batch operations: one record per job, kept after it ends.
pub trait BatchStore: Send + Sync + 'static {
    /// Writes a job: `expected_version` 0 inserts it (BatchExists if the
    /// id is taken); otherwise the stored row must be at that version
    /// (NotFound if absent, Conflict if it moved on). The caller sets
    /// `record.version` to the new version.
    fn write_batch(&self, record: BatchRecord, expected_version: i64) -> BoxFuture<'_, Result<()>>;

    fn load_batch(&self, namespace: &str, job_id: &str) -> BoxFuture<'_, Result<Option<BatchRecord>>>;

    /// Every job (of `namespace`, if given), by namespace then job id.
    fn list_batches(&self, namespace: Option<&str>) -> BoxFuture<'_, Result<Vec<BatchRecord>>>;
}

/// Worker deployments: one record per deployment, with its versions.
pub trait DeploymentStore: Send + Sync + 'static {
    /// Writes a deployment: `expected_version` 0 inserts it
    /// (DeploymentExists if the name is taken); otherwise the stored row
    /// must be at that version (NotFound if absent, Conflict if it moved
    /// on). The caller sets `record.version` to the new version.
    fn write_deployment(&self, record: DeploymentRecord, expected_version: i64) -> BoxFuture<'_, Result<()>>;

    /// Deletes a deployment stored at `expected_version` (NotFound if
    /// absent, Conflict if it moved on).
    fn delete_deployment(&self, namespace: &str, name: &str, expected_version: i64) -> BoxFuture<'_, Result<()>>;

    fn load_deployment(&self, namespace: &str, name: &str) -> BoxFuture<'_, Result<Option<DeploymentRecord>>>;

    /// Every deployment (of `namespace`, if given), by namespace then name.
    fn list_deployments(&self, namespace: Option<&str>) -> BoxFuture<'_, Result<Vec<DeploymentRecord>>>;
}

/// A whole store: every part. Implemented for anything implementing them
/// all, so `Arc<dyn Store>` is what the server holds.
pub trait Store:
    ExecutionStore + TaskStore + VisibilityStore + NamespaceStore + ScheduleStore + BatchStore + DeploymentStore
{
}

impl<T: ExecutionStore + TaskStore + VisibilityStore + NamespaceStore + ScheduleStore + BatchStore + DeploymentStore>
    Store for T
{
}
