#![allow(clippy::unwrap_used)] // in tests, a failed unwrap is a failed test
//! Retention, end to end over gRPC with a driven clock: runs closed longer
//! ago than their namespace's retention (as it is now, after an
//! UpdateNamespace) are deleted by the background sweep soon after start,
//! and are then gone from describe, history, list and count; open runs and
//! runs closed recently stay.

use chronicle_server::clock::Clock;
use chronicle_store::{SqliteOptions, SqliteStore, Store};
use prost_types::Duration as ProtoDuration;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use temporalio_protos::temporal::api::{
    common::v1::{WorkflowExecution, WorkflowType},
    namespace::v1::NamespaceConfig,
    taskqueue::v1::TaskQueue,
    workflowservice::v1::{workflow_service_client::WorkflowServiceClient, *},
};
use tonic::{Code, transport::Channel};

type Client = WorkflowServiceClient<Channel>;

/// A clock the test moves forward.
struct DrivenClock(Mutex<SystemTime>);

impl DrivenClock {
    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for DrivenClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap()
    }
}

struct Running {
    client: Client,
    stop: tokio::sync::oneshot::Sender<()>,
    served: tokio::task::JoinHandle<()>,
}

async fn serve(store: Arc<dyn Store>, clock: Arc<DrivenClock>) -> Running {
    let server = chronicle_server::Server::build_with_clock(store, Default::default(), clock).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(async move {
        server
            .serve(listener, async move {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    let channel = Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    Running { client: WorkflowServiceClient::new(channel), stop, served }
}

fn hours(h: i64) -> ProtoDuration {
    ProtoDuration { seconds: h * 3600, nanos: 0 }
}

fn execution(workflow_id: &str, run_id: &str) -> Option<WorkflowExecution> {
    Some(WorkflowExecution { workflow_id: workflow_id.into(), run_id: run_id.into() })
}

async fn start(c: &mut Client, namespace: &str, workflow_id: &str) -> String {
    let r = StartWorkflowExecutionRequest {
        namespace: namespace.into(),
        workflow_id: workflow_id.into(),
        workflow_type: Some(WorkflowType { name: "Retained".into() }),
        task_queue: Some(TaskQueue { name: "retention".into(), ..Default::default() }),
        request_id: format!("{namespace}-{workflow_id}"),
        ..Default::default()
    };
    c.start_workflow_execution(r).await.unwrap().into_inner().run_id
}

async fn terminate(c: &mut Client, namespace: &str, workflow_id: &str) {
    let r = TerminateWorkflowExecutionRequest {
        namespace: namespace.into(),
        workflow_execution: execution(workflow_id, ""),
        reason: "done".into(),
        ..Default::default()
    };
    c.terminate_workflow_execution(r).await.unwrap();
}

async fn describe(c: &mut Client, namespace: &str, workflow_id: &str, run_id: &str) -> Result<(), tonic::Status> {
    let r = DescribeWorkflowExecutionRequest { namespace: namespace.into(), execution: execution(workflow_id, run_id) };
    c.describe_workflow_execution(r).await.map(|_| ())
}

async fn listed(c: &mut Client, namespace: &str) -> BTreeSet<String> {
    let r = ListWorkflowExecutionsRequest { namespace: namespace.into(), ..Default::default() };
    let runs = c.list_workflow_executions(r).await.unwrap().into_inner().executions;
    runs.into_iter().map(|info| info.execution.unwrap().workflow_id).collect()
}

async fn count(c: &mut Client, namespace: &str) -> i64 {
    let r = CountWorkflowExecutionsRequest { namespace: namespace.into(), ..Default::default() };
    c.count_workflow_executions(r).await.unwrap().into_inner().count
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(ToString::to_string).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_runs_are_deleted_after_their_namespaces_retention() {
    let dir = std::env::temp_dir().join(format!("chronicle-retention-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store: Arc<dyn Store> =
        SqliteStore::open(SqliteOptions { path: Some(dir.join("db.sqlite")), readers: 2 }).unwrap();
    let clock = Arc::new(DrivenClock(Mutex::new(SystemTime::now())));

    // Day 0: "default" keeps closed runs 24 hours, "brief" 48 (an hour
    // later, 1: the current retention is what counts).
    let Running { mut client, stop, served } = serve(store.clone(), clock.clone()).await;
    let c = &mut client;
    let register = |retention| RegisterNamespaceRequest {
        namespace: "brief".into(),
        workflow_execution_retention_period: Some(retention),
        ..Default::default()
    };
    let too_short = c.register_namespace(register(ProtoDuration { seconds: 59 * 60, nanos: 0 })).await.unwrap_err();
    assert_eq!(too_short.code(), Code::InvalidArgument);
    assert_eq!(too_short.message(), "A valid retention period is not set on request.");
    c.register_namespace(register(hours(48))).await.unwrap();
    let mut runs = std::collections::BTreeMap::new();
    for (ns, id) in [
        ("default", "done-1"),
        ("default", "done-2"),
        ("default", "open"),
        ("default", "recent"),
        ("brief", "b-done"),
        ("brief", "b-later"),
        ("brief", "b-open"),
        ("brief", "b-recent"),
    ] {
        runs.insert(id, (ns, start(c, ns, id).await));
    }
    terminate(c, "default", "done-1").await;
    terminate(c, "default", "done-2").await;
    terminate(c, "brief", "b-done").await;
    clock.advance(Duration::from_secs(2 * 3600));
    terminate(c, "brief", "b-later").await;
    let update = UpdateNamespaceRequest {
        namespace: "brief".into(),
        config: Some(NamespaceConfig { workflow_execution_retention_ttl: Some(hours(1)), ..Default::default() }),
        ..Default::default()
    };
    c.update_namespace(update).await.unwrap();
    // A day and a half hour after day 0: two more runs close.
    clock.advance(Duration::from_secs(22 * 3600 + 1800));
    terminate(c, "default", "recent").await;
    terminate(c, "brief", "b-recent").await;
    assert_eq!(count(c, "default").await, 4);
    let _ = stop.send(());
    served.await.unwrap();

    // A server started now sweeps soon after start.
    let Running { mut client, stop, served } = serve(store.clone(), clock.clone()).await;
    let c = &mut client;
    let gone = ["done-1", "done-2", "b-done", "b-later"];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    for id in gone {
        let (ns, run_id) = &runs[id];
        loop {
            match describe(c, ns, id, run_id).await {
                Err(e) if e.code() == Code::NotFound => {
                    assert_eq!(
                        e.message(),
                        format!("workflow execution not found for workflow ID: {id}, run ID: {run_id}")
                    );
                    break;
                }
                Ok(()) => assert!(tokio::time::Instant::now() < deadline, "{id} still there after 20 s"),
                Err(e) => panic!("describe {id}: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(describe(c, ns, id, "").await.unwrap_err().code(), Code::NotFound);
        let history = GetWorkflowExecutionHistoryRequest {
            namespace: ns.to_string(),
            execution: execution(id, run_id),
            ..Default::default()
        };
        assert_eq!(c.get_workflow_execution_history(history).await.unwrap_err().code(), Code::NotFound);
    }
    // Open runs, and runs closed less than their retention ago, stay.
    for id in ["open", "recent", "b-open", "b-recent"] {
        let (ns, run_id) = &runs[id];
        describe(c, ns, id, run_id).await.unwrap();
    }
    assert_eq!(listed(c, "default").await, set(&["open", "recent"]));
    assert_eq!(listed(c, "brief").await, set(&["b-open", "b-recent"]));
    assert_eq!(count(c, "default").await, 2);
    assert_eq!(count(c, "brief").await, 2);
    // A deleted workflow id can be started afresh.
    assert_ne!(start(c, "default", "done-1").await, runs["done-1"].1);
    let _ = stop.send(());
    served.await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
