#![allow(clippy::unwrap_used)] // in tests, a failed unwrap is a failed test
//! The durable queues: tasks written by a commit and never handed out (the
//! process died in between) are found again after a restart, from disk,
//! without loading every run: more workflow tasks than a queue holds in
//! memory are each handed out exactly once, a timer due soon fires, and an
//! activity task waits for its poller.

use chronicle_engine::{
    Input, MutableState, StartArgs, WorkflowTaskCompletion,
    api::{
        command::v1::{
            Command, ScheduleActivityTaskCommandAttributes, StartTimerCommandAttributes, command::Attributes as C,
        },
        common::v1::ActivityType,
        enums::v1::CommandType,
        history::v1::HistoryEvent,
        taskqueue::v1::TaskQueue,
        workflowservice::v1::{PollActivityTaskQueueRequest, PollWorkflowTaskQueueRequest},
    },
    apply, start, time,
};
use chronicle_store::{ExecutionWrite, SqliteOptions, SqliteStore, Store};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use temporalio_protos::temporal::api::workflowservice::v1::workflow_service_client::WorkflowServiceClient;

fn now() -> prost_types::Timestamp {
    time::from_system(std::time::SystemTime::now())
}

fn args(workflow_id: &str, queue: &str) -> StartArgs {
    StartArgs {
        namespace: "default".into(),
        workflow_id: workflow_id.into(),
        run_id: format!("run-{workflow_id}"),
        workflow_type: "W".into(),
        task_queue: queue.into(),
        request_id: format!("req-{workflow_id}"),
        // Longer than the test: no task times out and comes back.
        task_timeout: Some(time::dur_secs(120)),
        ..Default::default()
    }
}

fn write(mut state: MutableState, events: Vec<HistoryEvent>) -> ExecutionWrite {
    state.db_version = 1;
    ExecutionWrite { state, expected_version: 0, events, set_current: Some(None), update_visibility: true }
}

/// A run whose first workflow task completed with `command`.
fn run_with(workflow_id: &str, queue: &str, command: Command) -> ExecutionWrite {
    let t = start(args(workflow_id, queue), now());
    let mut events = t.events;
    let wt = t.state.workflow_task.clone().unwrap();
    let started = Input::WorkflowTaskStarted {
        target_version_changed: false,
        routing_revision: 0,
        scheduled_event_id: wt.scheduled_event_id,
        attempt: 1,
        identity: "w".into(),
        request_id: "r".into(),
        worker_version: None,
    };
    let s = apply(&t.state, started, now()).unwrap();
    events.extend(s.events);
    let completed = Input::WorkflowTaskCompleted(Box::new(WorkflowTaskCompletion {
        scheduled_event_id: wt.scheduled_event_id,
        attempt: 1,
        commands: vec![command],
        identity: "w".into(),
        ..Default::default()
    }));
    let c = apply(&s.state, completed, now()).unwrap();
    events.extend(c.events);
    write(c.state, events)
}

const RUNS: usize = 1500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_written_but_never_handed_out_are_found_after_a_restart() {
    let dir = tempfile_dir();
    let store: Arc<dyn Store> =
        SqliteStore::open(SqliteOptions { path: Some(dir.join("db.sqlite")), readers: 2 }).unwrap();
    for chunk in 0..RUNS / 500 {
        let writes = (chunk * 500..(chunk + 1) * 500)
            .map(|i| {
                let t = start(args(&format!("wf-{i}"), "tq"), now());
                write(t.state, t.events)
            })
            .collect();
        store.commit(writes).await.unwrap();
    }
    let timer = Command {
        command_type: CommandType::StartTimer as i32,
        attributes: Some(C::StartTimerCommandAttributes(StartTimerCommandAttributes {
            timer_id: "t".into(),
            start_to_fire_timeout: Some(time::dur_secs(1)),
        })),
        ..Default::default()
    };
    let activity = Command {
        command_type: CommandType::ScheduleActivityTask as i32,
        attributes: Some(C::ScheduleActivityTaskCommandAttributes(ScheduleActivityTaskCommandAttributes {
            activity_id: "a".into(),
            activity_type: Some(ActivityType { name: "A".into() }),
            task_queue: Some(TaskQueue { name: "atq".into(), ..Default::default() }),
            start_to_close_timeout: Some(time::dur_secs(30)),
            ..Default::default()
        })),
        ..Default::default()
    };
    store
        .commit(vec![run_with("timer-wf", "timer-tq", timer), run_with("activity-wf", "tq2", activity)])
        .await
        .unwrap();
    drop(store);

    // "Restart": a new store and server over the same file.
    let store: Arc<dyn Store> =
        SqliteStore::open(SqliteOptions { path: Some(dir.join("db.sqlite")), readers: 2 }).unwrap();
    let server = chronicle_server::Server::build(store, Default::default()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(listener, async move {
        let _ = stopped.await;
    }));
    let mut client = WorkflowServiceClient::connect(format!("http://{addr}")).await.unwrap();

    let poll = |queue: &str| PollWorkflowTaskQueueRequest {
        namespace: "default".into(),
        task_queue: Some(TaskQueue { name: queue.into(), ..Default::default() }),
        identity: "test".into(),
        ..Default::default()
    };
    let mut seen = BTreeSet::new();
    while seen.len() < RUNS {
        let task = client.poll_workflow_task_queue(poll("tq")).await.unwrap().into_inner();
        let id = task.workflow_execution.unwrap().workflow_id;
        assert!(seen.insert(id.clone()), "{id} handed out twice");
    }
    // Nothing more: the next poll waits out its deadline empty.
    let mut last = tonic::Request::new(poll("tq"));
    last.set_timeout(Duration::from_secs(2));
    let empty = client.poll_workflow_task_queue(last).await.unwrap().into_inner();
    assert!(empty.task_token.is_empty(), "every task was handed out once");

    // The timer, due a second after it was written, fired: its run's next
    // workflow task is waiting.
    let fired = client.poll_workflow_task_queue(poll("timer-tq")).await.unwrap().into_inner();
    assert_eq!(fired.workflow_execution.unwrap().workflow_id, "timer-wf");
    let activity = client
        .poll_activity_task_queue(PollActivityTaskQueueRequest {
            namespace: "default".into(),
            task_queue: Some(TaskQueue { name: "atq".into(), ..Default::default() }),
            identity: "test".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(activity.workflow_execution.unwrap().workflow_id, "activity-wf");
    let _ = stop.send(());
    let _ = serving.await;
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("chronicle-queues-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
