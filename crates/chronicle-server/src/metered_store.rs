//! The store, measured: every call counts in `persistence_requests`,
//! `persistence_errors` and `persistence_latency` under the operation
//! name Temporal's persistence layer gives it (a commit is
//! `UpdateWorkflowExecution`), and each commit's execution count in
//! `persistence_commit_executions`. The server wraps whatever store it is
//! given, so every backend is measured the same way.

use crate::metrics::metrics;
use chronicle_engine::{MutableState, api::history::v1::HistoryEvent};
use chronicle_store::{
    BoxFuture, CustomSearchAttributes, ExecutionStore, ExecutionWrite, ListCursor, NamespaceRecord, NamespaceStore,
    Result, RunCount, RunKey, RunsPage, ScheduleRecord, ScheduleStore, Store, StoredTask, TaskStore, VisibilityStore,
    visibility,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

pub struct MeteredStore {
    inner: Arc<dyn Store>,
}

impl MeteredStore {
    pub fn wrap(inner: Arc<dyn Store>) -> Arc<dyn Store> {
        Arc::new(MeteredStore { inner })
    }
}

fn timed<'a, T: Send + 'a>(operation: &'static str, call: BoxFuture<'a, Result<T>>) -> BoxFuture<'a, Result<T>> {
    Box::pin(async move {
        let began = Instant::now();
        let out = call.await;
        metrics().record_persistence(operation, out.is_err(), began.elapsed());
        out
    })
}

impl ExecutionStore for MeteredStore {
    fn commit(&self, writes: Vec<ExecutionWrite>) -> BoxFuture<'_, Result<()>> {
        metrics().record_commit_size(writes.len());
        timed("UpdateWorkflowExecution", self.inner.commit(writes))
    }
    fn current_run(&self, namespace: &str, workflow_id: &str) -> BoxFuture<'_, Result<Option<String>>> {
        timed("GetCurrentExecution", self.inner.current_run(namespace, workflow_id))
    }
    fn load_execution(
        &self,
        namespace: &str,
        workflow_id: &str,
        run_id: &str,
    ) -> BoxFuture<'_, Result<Option<MutableState>>> {
        timed("GetWorkflowExecution", self.inner.load_execution(namespace, workflow_id, run_id))
    }
    fn load_current_execution(
        &self,
        namespace: &str,
        workflow_id: &str,
    ) -> BoxFuture<'_, Result<Option<MutableState>>> {
        timed("GetCurrentWorkflowExecution", self.inner.load_current_execution(namespace, workflow_id))
    }
    fn read_history(&self, run_id: &str, from_event_id: i64, max: usize) -> BoxFuture<'_, Result<Vec<HistoryEvent>>> {
        timed("ReadHistoryBranch", self.inner.read_history(run_id, from_event_id, max))
    }
    fn delete_execution(&self, namespace: &str, workflow_id: &str, run_id: &str) -> BoxFuture<'_, Result<()>> {
        timed("DeleteWorkflowExecution", self.inner.delete_execution(namespace, workflow_id, run_id))
    }
    fn delete_executions(&self, namespace: &str, runs: Vec<RunKey>) -> BoxFuture<'_, Result<Vec<RunKey>>> {
        timed("DeleteWorkflowExecutions", self.inner.delete_executions(namespace, runs))
    }
}

impl TaskStore for MeteredStore {
    fn queued_tasks(
        &self,
        namespace: &str,
        queue: &str,
        activity: bool,
        now: i64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<StoredTask>>> {
        timed("GetTasks", self.inner.queued_tasks(namespace, queue, activity, now, limit))
    }
    fn due_tasks(
        &self,
        after: Option<(i64, i64)>,
        until: i64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<(i64, StoredTask)>>> {
        timed("GetTimerTasks", self.inner.due_tasks(after, until, limit))
    }
    fn transfer_tasks(&self, after: i64, limit: usize) -> BoxFuture<'_, Result<Vec<StoredTask>>> {
        timed("GetTransferTasks", self.inner.transfer_tasks(after, limit))
    }
    fn count_queued_tasks(&self, namespace: &str, queue: &str, activity: bool) -> BoxFuture<'_, Result<i64>> {
        timed("CountTasks", self.inner.count_queued_tasks(namespace, queue, activity))
    }
}

impl VisibilityStore for MeteredStore {
    fn list_runs(
        &self,
        namespace: &str,
        query: &visibility::Query,
        from: Option<ListCursor>,
        limit: usize,
    ) -> BoxFuture<'_, Result<RunsPage>> {
        timed("ListWorkflowExecutions", self.inner.list_runs(namespace, query, from, limit))
    }
    fn count_runs(&self, namespace: &str, query: &visibility::Query) -> BoxFuture<'_, Result<RunCount>> {
        timed("CountWorkflowExecutions", self.inner.count_runs(namespace, query))
    }
    fn expired_executions(
        &self,
        namespace: &str,
        closed_before: i64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<RunKey>>> {
        timed("ListExpiredExecutions", self.inner.expired_executions(namespace, closed_before, limit))
    }
}

impl NamespaceStore for MeteredStore {
    fn create_namespace(&self, ns: NamespaceRecord) -> BoxFuture<'_, Result<()>> {
        timed("CreateNamespace", self.inner.create_namespace(ns))
    }
    fn list_namespaces(&self) -> BoxFuture<'_, Result<Vec<NamespaceRecord>>> {
        timed("ListNamespaces", self.inner.list_namespaces())
    }
    fn update_namespace(&self, ns: NamespaceRecord) -> BoxFuture<'_, Result<()>> {
        timed("UpdateNamespace", self.inner.update_namespace(ns))
    }
    fn add_search_attributes(&self, namespace: &str, attributes: CustomSearchAttributes) -> BoxFuture<'_, Result<()>> {
        timed("AddSearchAttributes", self.inner.add_search_attributes(namespace, attributes))
    }
    fn remove_search_attributes(&self, namespace: &str, names: Vec<String>) -> BoxFuture<'_, Result<()>> {
        timed("RemoveSearchAttributes", self.inner.remove_search_attributes(namespace, names))
    }
    fn search_attributes(&self) -> BoxFuture<'_, Result<BTreeMap<String, CustomSearchAttributes>>> {
        timed("GetSearchAttributes", self.inner.search_attributes())
    }
}

impl ScheduleStore for MeteredStore {
    fn write_schedule(&self, record: ScheduleRecord, expected_version: i64) -> BoxFuture<'_, Result<()>> {
        timed("WriteSchedule", self.inner.write_schedule(record, expected_version))
    }
    fn delete_schedule(&self, namespace: &str, schedule_id: &str) -> BoxFuture<'_, Result<()>> {
        timed("DeleteSchedule", self.inner.delete_schedule(namespace, schedule_id))
    }
    fn load_schedule(&self, namespace: &str, schedule_id: &str) -> BoxFuture<'_, Result<Option<ScheduleRecord>>> {
        timed("GetSchedule", self.inner.load_schedule(namespace, schedule_id))
    }
    fn list_schedules(&self, namespace: Option<&str>) -> BoxFuture<'_, Result<Vec<ScheduleRecord>>> {
        timed("ListSchedules", self.inner.list_schedules(namespace))
    }
}
