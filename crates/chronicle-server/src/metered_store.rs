//! The store, measured and traced: every call counts in
//! `persistence_requests`, `persistence_errors` and `persistence_latency`
//! under the operation name Temporal's persistence layer gives it (a
//! commit is `UpdateWorkflowExecution`), and each commit's execution count
//! in `persistence_commit_executions`; traced, each call gets a span of
//! that name (`crate::traces::store_span`). The server wraps whatever
//! store it is given, so every backend is measured the same way.

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
    metrics: bool,
    traces: bool,
}

impl MeteredStore {
    /// `inner` measured (`metrics`), and traced (`traces`: a span per call,
    /// see `crate::traces::store_span`).
    pub fn wrap(inner: Arc<dyn Store>, metrics: bool, traces: bool) -> Arc<dyn Store> {
        Arc::new(MeteredStore { inner, metrics, traces })
    }

    /// Makes the call inside its span (a backend may note the span, e.g.
    /// to link a group commit to the calls it served).
    fn timed<'a, T: Send + 'a>(
        &self,
        operation: &'static str,
        call: impl FnOnce() -> BoxFuture<'a, Result<T>>,
    ) -> BoxFuture<'a, Result<T>> {
        let measured = self.metrics;
        let span = if self.traces { crate::traces::store_span(operation) } else { tracing::Span::none() };
        let call = span.in_scope(call);
        let traced = span.clone();
        Box::pin(tracing::Instrument::instrument(
            async move {
                let began = Instant::now();
                let out = call.await;
                if measured {
                    metrics().record_persistence(operation, out.is_err(), began.elapsed());
                }
                if let Err(e) = &out {
                    crate::traces::store_failed(&traced, e);
                }
                out
            },
            span,
        ))
    }
}

impl ExecutionStore for MeteredStore {
    fn commit(&self, writes: Vec<ExecutionWrite>) -> BoxFuture<'_, Result<()>> {
        if self.metrics {
            metrics().record_commit_size(writes.len());
        }
        self.timed("UpdateWorkflowExecution", || self.inner.commit(writes))
    }
    fn current_run(&self, namespace: &str, workflow_id: &str) -> BoxFuture<'_, Result<Option<String>>> {
        self.timed("GetCurrentExecution", || self.inner.current_run(namespace, workflow_id))
    }
    fn load_execution(
        &self,
        namespace: &str,
        workflow_id: &str,
        run_id: &str,
    ) -> BoxFuture<'_, Result<Option<MutableState>>> {
        self.timed("GetWorkflowExecution", || self.inner.load_execution(namespace, workflow_id, run_id))
    }
    fn load_current_execution(
        &self,
        namespace: &str,
        workflow_id: &str,
    ) -> BoxFuture<'_, Result<Option<MutableState>>> {
        self.timed("GetCurrentWorkflowExecution", || self.inner.load_current_execution(namespace, workflow_id))
    }
    fn read_history(&self, run_id: &str, from_event_id: i64, max: usize) -> BoxFuture<'_, Result<Vec<HistoryEvent>>> {
        self.timed("ReadHistoryBranch", || self.inner.read_history(run_id, from_event_id, max))
    }
    fn delete_execution(&self, namespace: &str, workflow_id: &str, run_id: &str) -> BoxFuture<'_, Result<()>> {
        self.timed("DeleteWorkflowExecution", || self.inner.delete_execution(namespace, workflow_id, run_id))
    }
    fn delete_executions(&self, namespace: &str, runs: Vec<RunKey>) -> BoxFuture<'_, Result<Vec<RunKey>>> {
        self.timed("DeleteWorkflowExecutions", || self.inner.delete_executions(namespace, runs))
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
        self.timed("GetTasks", || self.inner.queued_tasks(namespace, queue, activity, now, limit))
    }
    fn due_tasks(
        &self,
        after: Option<(i64, i64)>,
        until: i64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<(i64, StoredTask)>>> {
        self.timed("GetTimerTasks", || self.inner.due_tasks(after, until, limit))
    }
    fn transfer_tasks(&self, after: i64, limit: usize) -> BoxFuture<'_, Result<Vec<StoredTask>>> {
        self.timed("GetTransferTasks", || self.inner.transfer_tasks(after, limit))
    }
    fn count_queued_tasks(&self, namespace: &str, queue: &str, activity: bool) -> BoxFuture<'_, Result<i64>> {
        self.timed("CountTasks", || self.inner.count_queued_tasks(namespace, queue, activity))
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
        self.timed("ListWorkflowExecutions", || self.inner.list_runs(namespace, query, from, limit))
    }
    fn count_runs(&self, namespace: &str, query: &visibility::Query) -> BoxFuture<'_, Result<RunCount>> {
        self.timed("CountWorkflowExecutions", || self.inner.count_runs(namespace, query))
    }
    fn expired_executions(
        &self,
        namespace: &str,
        closed_before: i64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<RunKey>>> {
        self.timed("ListExpiredExecutions", || self.inner.expired_executions(namespace, closed_before, limit))
    }
}

impl NamespaceStore for MeteredStore {
    fn create_namespace(&self, ns: NamespaceRecord) -> BoxFuture<'_, Result<()>> {
        self.timed("CreateNamespace", || self.inner.create_namespace(ns))
    }
    fn list_namespaces(&self) -> BoxFuture<'_, Result<Vec<NamespaceRecord>>> {
        self.timed("ListNamespaces", || self.inner.list_namespaces())
    }
    fn update_namespace(&self, ns: NamespaceRecord) -> BoxFuture<'_, Result<()>> {
        self.timed("UpdateNamespace", || self.inner.update_namespace(ns))
    }
    fn add_search_attributes(&self, namespace: &str, attributes: CustomSearchAttributes) -> BoxFuture<'_, Result<()>> {
        self.timed("AddSearchAttributes", || self.inner.add_search_attributes(namespace, attributes))
    }
    fn remove_search_attributes(&self, namespace: &str, names: Vec<String>) -> BoxFuture<'_, Result<()>> {
        self.timed("RemoveSearchAttributes", || self.inner.remove_search_attributes(namespace, names))
    }
    fn search_attributes(&self) -> BoxFuture<'_, Result<BTreeMap<String, CustomSearchAttributes>>> {
        self.timed("GetSearchAttributes", || self.inner.search_attributes())
    }
}

impl chronicle_store::BatchStore for MeteredStore {
    fn write_batch(&self, record: chronicle_store::BatchRecord, expected_version: i64) -> BoxFuture<'_, Result<()>> {
        self.timed("WriteBatchOperation", || self.inner.write_batch(record, expected_version))
    }
    fn load_batch(&self, namespace: &str, job_id: &str) -> BoxFuture<'_, Result<Option<chronicle_store::BatchRecord>>> {
        self.timed("GetBatchOperation", || self.inner.load_batch(namespace, job_id))
    }
    fn list_batches(&self, namespace: Option<&str>) -> BoxFuture<'_, Result<Vec<chronicle_store::BatchRecord>>> {
        self.timed("ListBatchOperations", || self.inner.list_batches(namespace))
    }
}

impl chronicle_store::DeploymentStore for MeteredStore {
    fn write_deployment(
        &self,
        record: chronicle_store::DeploymentRecord,
        expected_version: i64,
    ) -> BoxFuture<'_, Result<()>> {
        self.timed("WriteWorkerDeployment", || self.inner.write_deployment(record, expected_version))
    }
    fn delete_deployment(&self, namespace: &str, name: &str, expected_version: i64) -> BoxFuture<'_, Result<()>> {
        self.timed("DeleteWorkerDeployment", || self.inner.delete_deployment(namespace, name, expected_version))
    }
    fn load_deployment(
        &self,
        namespace: &str,
        name: &str,
    ) -> BoxFuture<'_, Result<Option<chronicle_store::DeploymentRecord>>> {
        self.timed("GetWorkerDeployment", || self.inner.load_deployment(namespace, name))
    }
    fn list_deployments(
        &self,
        namespace: Option<&str>,
    ) -> BoxFuture<'_, Result<Vec<chronicle_store::DeploymentRecord>>> {
        self.timed("ListWorkerDeployments", || self.inner.list_deployments(namespace))
    }
}

impl ScheduleStore for MeteredStore {
    fn write_schedule(&self, record: ScheduleRecord, expected_version: i64) -> BoxFuture<'_, Result<()>> {
        self.timed("WriteSchedule", || self.inner.write_schedule(record, expected_version))
    }
    fn delete_schedule(&self, namespace: &str, schedule_id: &str) -> BoxFuture<'_, Result<()>> {
        self.timed("DeleteSchedule", || self.inner.delete_schedule(namespace, schedule_id))
    }
    fn load_schedule(&self, namespace: &str, schedule_id: &str) -> BoxFuture<'_, Result<Option<ScheduleRecord>>> {
        self.timed("GetSchedule", || self.inner.load_schedule(namespace, schedule_id))
    }
    fn list_schedules(&self, namespace: Option<&str>) -> BoxFuture<'_, Result<Vec<ScheduleRecord>>> {
        self.timed("ListSchedules", || self.inner.list_schedules(namespace))
    }
}
