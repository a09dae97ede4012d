#![allow(clippy::unwrap_used)] // in tests, a failed unwrap is a failed test
//! Recovery: a closed parent's pending close policy must reach its running
//! child even when the child comes late in the store (thousands of runs in
//! between). The policy is a row of the transfer queue, read at start; the
//! child is not cached then and is read on demand, so it is never mistaken
//! for a closed one.
#![allow(deprecated)]

use chronicle_engine::{
    Input, MutableState, StartArgs, Transition, WorkflowTaskCompletion,
    api::{
        command::v1::{Command, StartChildWorkflowExecutionCommandAttributes, command::Attributes as C},
        common::v1::WorkflowType,
        enums::v1::{CommandType, WorkflowExecutionStatus},
    },
    apply, child_start_args, start,
};
use chronicle_store::{ExecutionWrite, SqliteOptions, SqliteStore, Store};
use prost_types::Timestamp;
use std::sync::Arc;

fn now() -> Timestamp {
    chronicle_engine::time::from_system(std::time::SystemTime::now())
}

fn args(workflow_id: &str, run_id: &str) -> StartArgs {
    StartArgs {
        namespace: "default".into(),
        workflow_id: workflow_id.into(),
        run_id: run_id.into(),
        workflow_type: "W".into(),
        task_queue: "tq".into(),
        request_id: format!("req-{run_id}"),
        ..Default::default()
    }
}

fn step(
    state: &MutableState,
    input: Input,
    events: &mut Vec<chronicle_engine::api::history::v1::HistoryEvent>,
) -> MutableState {
    let t: Transition = apply(state, input, now()).expect("engine input");
    events.extend(t.events);
    t.state
}

fn write(state: MutableState, events: Vec<chronicle_engine::api::history::v1::HistoryEvent>) -> ExecutionWrite {
    let mut state = state;
    state.db_version = 1;
    ExecutionWrite { state, expected_version: 0, events, set_current: Some(None), update_visibility: true }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_parents_policy_reaches_a_child_recovered_after_it() {
    let dir = std::env::temp_dir().join(format!("chronicle-recovery-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store: Arc<dyn Store> =
        SqliteStore::open(SqliteOptions { path: Some(dir.join("db.sqlite")), readers: 2 }).unwrap();

    // Parent: starts child "kid" (TERMINATE policy), records its start, is terminated.
    let t = start(args("parent", "parent-run"), now());
    let mut events = t.events;
    let mut p = t.state;
    let wt = p.workflow_task.clone().unwrap();
    p = step(
        &p,
        Input::WorkflowTaskStarted {
            target_version_changed: false,
            routing_revision: 0,
            scheduled_event_id: wt.scheduled_event_id,
            attempt: 1,
            identity: "w".into(),
            request_id: "r".into(),
            worker_version: None,
        },
        &mut events,
    );
    let cmd = Command {
        command_type: CommandType::StartChildWorkflowExecution as i32,
        attributes: Some(C::StartChildWorkflowExecutionCommandAttributes(
            StartChildWorkflowExecutionCommandAttributes {
                workflow_id: "kid".into(),
                workflow_type: Some(WorkflowType { name: "Kid".into() }),
                ..Default::default()
            },
        )),
        ..Default::default()
    };
    p = step(
        &p,
        Input::WorkflowTaskCompleted(Box::new(WorkflowTaskCompletion {
            scheduled_event_id: wt.scheduled_event_id,
            attempt: 1,
            commands: vec![cmd],
            identity: "w".into(),
            ..Default::default()
        })),
        &mut events,
    );
    let initiated = *p.children.keys().next().unwrap();
    let kid = start(child_start_args(&p, initiated, "kid-run".into()).unwrap(), now());
    p = step(&p, Input::ChildStarted { initiated_event_id: initiated, run_id: "kid-run".into() }, &mut events);
    p = step(&p, Input::Terminate { reason: "r".into(), details: None, identity: "i".into() }, &mut events);
    assert!(p.children.values().all(|c| c.close_policy_pending));

    // Recovery order is insertion (rowid) order: parent, fillers, child.
    store.commit(vec![write(p, events)]).await.unwrap();
    for chunk in 0..6 {
        let writes = (chunk * 500..(chunk + 1) * 500)
            .map(|i| {
                let f = start(args(&format!("filler-{i}"), &format!("filler-run-{i}")), now());
                write(f.state, f.events)
            })
            .collect();
        store.commit(writes).await.unwrap();
    }
    store.commit(vec![write(kid.state, kid.events)]).await.unwrap();

    let _server = chronicle_server::Server::build(store.clone(), Default::default()).await.unwrap();
    let mut kid_status = WorkflowExecutionStatus::Running;
    for _ in 0..100 {
        let kid = store.load_execution("default", "kid", "kid-run").await.unwrap().unwrap();
        kid_status = kid.status();
        let parent = store.load_execution("default", "parent", "parent-run").await.unwrap().unwrap();
        if kid_status == WorkflowExecutionStatus::Terminated && !parent.needs_recovery() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(kid_status, WorkflowExecutionStatus::Terminated, "the parent close policy reached the child");
    let parent = store.load_execution("default", "parent", "parent-run").await.unwrap().unwrap();
    assert!(!parent.needs_recovery(), "and was acknowledged");
    let _ = std::fs::remove_dir_all(&dir);
}
