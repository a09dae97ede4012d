#![allow(clippy::unwrap_used)] // in tests, a failed unwrap is a failed test
//! A call whose caller goes away mid-commit (its RPC cancelled by a
//! deadline or a closed connection) must not leave the server believing
//! something other than what the store holds. The store here lands every
//! commit at once but answers it late, as a database does when the reply
//! to COMMIT is slow: the RPC is cancelled after its commit landed and
//! before the server heard so. The next calls on that run must see the
//! commit (no lost signal, no event written twice or over another).

use chronicle_engine::MutableState;
use chronicle_engine::api::{
    common::v1::{WorkflowExecution, WorkflowType},
    enums::v1::EventType,
    history::v1::HistoryEvent,
    taskqueue::v1::TaskQueue,
    workflowservice::v1::{
        GetWorkflowExecutionHistoryRequest, PollWorkflowTaskQueueRequest, SignalWorkflowExecutionRequest,
        StartWorkflowExecutionRequest,
    },
};
use chronicle_store::{
    BoxFuture, CustomSearchAttributes, ExecutionStore, ExecutionWrite, ListCursor, NamespaceRecord, NamespaceStore,
    Result, RunCount, RunKey, RunsPage, ScheduleRecord, ScheduleStore, SqliteOptions, SqliteStore, Store, StoredTask,
    TaskStore, VisibilityStore, visibility,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use temporalio_protos::temporal::api::workflowservice::v1::workflow_service_client::WorkflowServiceClient;

/// SQLite whose commits land at once and are acknowledged `delay_ms` later.
struct LateAcks {
    inner: Arc<SqliteStore>,
    delay_ms: AtomicU64,
}

impl ExecutionStore for LateAcks {
    fn commit(&self, writes: Vec<ExecutionWrite>) -> BoxFuture<'_, Result<()>> {
        let inner = self.inner.clone();
        let delay = Duration::from_millis(self.delay_ms.load(Ordering::SeqCst));
        Box::pin(async move {
            // Runs to the end whether or not the caller still waits.
            let landed = tokio::spawn(async move { inner.commit(writes).await }).await.unwrap();
            tokio::time::sleep(delay).await;
            landed
        })
    }
    fn current_run(&self, namespace: &str, workflow_id: &str) -> BoxFuture<'_, Result<Option<String>>> {
        self.inner.current_run(namespace, workflow_id)
    }
    fn load_execution(&self, ns: &str, wf: &str, run: &str) -> BoxFuture<'_, Result<Option<MutableState>>> {
        self.inner.load_execution(ns, wf, run)
    }
    fn load_current_execution(&self, ns: &str, wf: &str) -> BoxFuture<'_, Result<Option<MutableState>>> {
        self.inner.load_current_execution(ns, wf)
    }
    fn read_history(&self, run_id: &str, from: i64, max: usize) -> BoxFuture<'_, Result<Vec<HistoryEvent>>> {
        self.inner.read_history(run_id, from, max)
    }
    fn delete_execution(&self, ns: &str, wf: &str, run: &str) -> BoxFuture<'_, Result<()>> {
        self.inner.delete_execution(ns, wf, run)
    }
    fn delete_executions(&self, ns: &str, runs: Vec<RunKey>) -> BoxFuture<'_, Result<Vec<RunKey>>> {
        self.inner.delete_executions(ns, runs)
    }
}

impl TaskStore for LateAcks {
    fn queued_tasks(
        &self,
        ns: &str,
        queue: &str,
        activity: bool,
        now: i64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<StoredTask>>> {
        self.inner.queued_tasks(ns, queue, activity, now, limit)
    }
    fn due_tasks(
        &self,
        after: Option<(i64, i64)>,
        until: i64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<(i64, StoredTask)>>> {
        self.inner.due_tasks(after, until, limit)
    }
    fn transfer_tasks(&self, after: i64, limit: usize) -> BoxFuture<'_, Result<Vec<StoredTask>>> {
        self.inner.transfer_tasks(after, limit)
    }
    fn count_queued_tasks(&self, ns: &str, queue: &str, activity: bool) -> BoxFuture<'_, Result<i64>> {
        self.inner.count_queued_tasks(ns, queue, activity)
    }
}

impl VisibilityStore for LateAcks {
    fn list_runs(
        &self,
        ns: &str,
        query: &visibility::Query,
        from: Option<ListCursor>,
        limit: usize,
    ) -> BoxFuture<'_, Result<RunsPage>> {
        self.inner.list_runs(ns, query, from, limit)
    }
    fn count_runs(&self, ns: &str, query: &visibility::Query) -> BoxFuture<'_, Result<RunCount>> {
        self.inner.count_runs(ns, query)
    }
    fn expired_executions(&self, ns: &str, closed_before: i64, limit: usize) -> BoxFuture<'_, Result<Vec<RunKey>>> {
        self.inner.expired_executions(ns, closed_before, limit)
    }
}

impl NamespaceStore for LateAcks {
    fn create_namespace(&self, ns: NamespaceRecord) -> BoxFuture<'_, Result<()>> {
        self.inner.create_namespace(ns)
    }
    fn list_namespaces(&self) -> BoxFuture<'_, Result<Vec<NamespaceRecord>>> {
        self.inner.list_namespaces()
    }
    fn update_namespace(&self, ns: NamespaceRecord) -> BoxFuture<'_, Result<()>> {
        self.inner.update_namespace(ns)
    }
    fn add_search_attributes(&self, ns: &str, attributes: CustomSearchAttributes) -> BoxFuture<'_, Result<()>> {
        self.inner.add_search_attributes(ns, attributes)
    }
    fn remove_search_attributes(&self, ns: &str, names: Vec<String>) -> BoxFuture<'_, Result<()>> {
        self.inner.remove_search_attributes(ns, names)
    }
    fn search_attributes(&self) -> BoxFuture<'_, Result<BTreeMap<String, CustomSearchAttributes>>> {
        self.inner.search_attributes()
    }
}

impl ScheduleStore for LateAcks {
    fn write_schedule(&self, record: ScheduleRecord, expected_version: i64) -> BoxFuture<'_, Result<()>> {
        self.inner.write_schedule(record, expected_version)
    }
    fn delete_schedule(&self, ns: &str, schedule_id: &str) -> BoxFuture<'_, Result<()>> {
        self.inner.delete_schedule(ns, schedule_id)
    }
    fn load_schedule(&self, ns: &str, schedule_id: &str) -> BoxFuture<'_, Result<Option<ScheduleRecord>>> {
        self.inner.load_schedule(ns, schedule_id)
    }
    fn list_schedules(&self, ns: Option<&str>) -> BoxFuture<'_, Result<Vec<ScheduleRecord>>> {
        self.inner.list_schedules(ns)
    }
}

impl chronicle_store::BatchStore for LateAcks {
    fn write_batch(&self, record: chronicle_store::BatchRecord, expected_version: i64) -> BoxFuture<'_, Result<()>> {
        self.inner.write_batch(record, expected_version)
    }
    fn load_batch(&self, ns: &str, job_id: &str) -> BoxFuture<'_, Result<Option<chronicle_store::BatchRecord>>> {
        self.inner.load_batch(ns, job_id)
    }
    fn list_batches(&self, ns: Option<&str>) -> BoxFuture<'_, Result<Vec<chronicle_store::BatchRecord>>> {
        self.inner.list_batches(ns)
    }
}

impl chronicle_store::DeploymentStore for LateAcks {
    fn write_deployment(
        &self,
        record: chronicle_store::DeploymentRecord,
        expected_version: i64,
    ) -> BoxFuture<'_, Result<()>> {
        self.inner.write_deployment(record, expected_version)
    }
    fn delete_deployment(&self, ns: &str, name: &str, expected_version: i64) -> BoxFuture<'_, Result<()>> {
        self.inner.delete_deployment(ns, name, expected_version)
    }
    fn load_deployment(
        &self,
        ns: &str,
        name: &str,
    ) -> BoxFuture<'_, Result<Option<chronicle_store::DeploymentRecord>>> {
        self.inner.load_deployment(ns, name)
    }
    fn list_deployments(&self, ns: Option<&str>) -> BoxFuture<'_, Result<Vec<chronicle_store::DeploymentRecord>>> {
        self.inner.list_deployments(ns)
    }
}

fn signal(name: &str) -> SignalWorkflowExecutionRequest {
    SignalWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_execution: Some(WorkflowExecution { workflow_id: "wf".into(), run_id: String::new() }),
        signal_name: name.into(),
        identity: "test".into(),
        request_id: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    }
}

type Client = WorkflowServiceClient<tonic::transport::Channel>;

/// A server over `LateAcks`, its client, and what stops it.
async fn serve() -> (Arc<LateAcks>, Client, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let inner = SqliteStore::open(SqliteOptions { path: None, readers: 1 }).unwrap();
    let store = Arc::new(LateAcks { inner, delay_ms: AtomicU64::new(0) });
    let server = chronicle_server::Server::build(store.clone() as Arc<dyn Store>, Default::default()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(async move {
        let _ = server
            .serve(listener, async move {
                let _ = stopped.await;
            })
            .await;
    });
    let client = WorkflowServiceClient::connect(format!("http://{addr}")).await.unwrap();
    (store, client, stop, serving)
}

fn start_request() -> tonic::Request<StartWorkflowExecutionRequest> {
    tonic::Request::new(StartWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_id: "wf".into(),
        workflow_type: Some(WorkflowType { name: "W".into() }),
        task_queue: Some(TaskQueue { name: "tq".into(), ..Default::default() }),
        request_id: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_cancelled_after_its_commit_landed_is_not_lost_or_overwritten() {
    let (store, mut client, stop, serving) = serve().await;
    client.start_workflow_execution(start_request()).await.unwrap();

    // The first signal's commit lands, its answer comes after the caller's
    // deadline: the RPC is cancelled in between.
    store.delay_ms.store(1000, Ordering::SeqCst);
    let mut first = tonic::Request::new(signal("first"));
    first.set_timeout(Duration::from_millis(200));
    let cancelled = client.signal_workflow_execution(first).await;
    assert!(cancelled.is_err(), "the caller gave up before the commit was acknowledged");
    store.delay_ms.store(0, Ordering::SeqCst);

    // Later calls build on the landed commit.
    client.signal_workflow_execution(signal("second")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    client.signal_workflow_execution(signal("third")).await.unwrap();

    let history = client
        .get_workflow_execution_history(GetWorkflowExecutionHistoryRequest {
            namespace: "default".into(),
            execution: Some(WorkflowExecution { workflow_id: "wf".into(), run_id: String::new() }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let events = history.history.unwrap().events;
    assert_eq!(
        events.iter().map(|e| e.event_id).collect::<Vec<_>>(),
        (1..=events.len() as i64).collect::<Vec<_>>(),
        "event ids are contiguous"
    );
    let signals: Vec<String> = events
        .iter()
        .filter(|e| e.event_type == EventType::WorkflowExecutionSignaled as i32)
        .filter_map(|e| match &e.attributes {
            Some(
                chronicle_engine::api::history::v1::history_event::Attributes::WorkflowExecutionSignaledEventAttributes(
                    a,
                ),
            ) => Some(a.signal_name.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(signals, ["first", "second", "third"], "every signal acknowledged or landed is in history, once");
    let _ = stop.send(());
    let _ = serving.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_cancelled_after_its_commit_landed_still_hands_out_its_first_task() {
    let (store, mut client, stop, serving) = serve().await;
    // A worker already waits (its queue's backlog was read before the
    // start): only the start's own hand-out can reach it.
    let mut poll = tonic::Request::new(PollWorkflowTaskQueueRequest {
        namespace: "default".into(),
        task_queue: Some(TaskQueue { name: "tq".into(), ..Default::default() }),
        identity: "test".into(),
        ..Default::default()
    });
    poll.set_timeout(Duration::from_secs(5));
    let mut poller = client.clone();
    let polled = tokio::spawn(async move { poller.poll_workflow_task_queue(poll).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    store.delay_ms.store(1000, Ordering::SeqCst);
    let mut start = start_request();
    start.set_timeout(Duration::from_millis(200));
    assert!(client.start_workflow_execution(start).await.is_err(), "the caller gave up");
    store.delay_ms.store(0, Ordering::SeqCst);
    let task = polled.await.unwrap().unwrap().into_inner();
    assert_eq!(task.workflow_execution.map(|e| e.workflow_id).as_deref(), Some("wf"), "the first workflow task");
    let _ = stop.send(());
    let _ = serving.await;
}
