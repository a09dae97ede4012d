#![allow(clippy::unwrap_used)] // in tests, a failed unwrap is a failed test
//! End-to-end tests: the official Temporal Rust SDK (client + worker) against a real
//! `chronicle server start-dev` child process.
//!
//! Every test starts its own server on its own temp database file and uses unique task queue
//! and workflow ids. Waiting is always done by polling with a deadline, never fixed sleeps.
//!
//! Set `CHRONICLE_E2E_SDK_LOG` (an EnvFilter string, default `warn`) to see SDK/core logs from
//! the worker threads.

#[path = "sdk_e2e/history.rs"]
mod history;
#[path = "sdk_e2e/security.rs"]
mod security;
#[path = "sdk_e2e/server.rs"]
mod server;
#[path = "sdk_e2e/time_skipping.rs"]
mod time_skipping;
#[path = "sdk_e2e/worker.rs"]
mod worker;
#[path = "sdk_e2e/workflows.rs"]
mod workflows;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use history::{
    assert_gapless, assert_no_duplicate_events, count, describe, event_types, fetch_history, has, last_type,
    wait_for_history,
};
use server::TestServer;
use temporalio_client::{
    Client, NamespacedClient, WorkflowDescribeOptions, WorkflowGetResultOptions, WorkflowStartOptions,
    errors::{WorkflowGetResultError, WorkflowInteractionError, WorkflowStartError},
    tonic::{Code, IntoRequest},
};
use temporalio_common::{WorkflowDefinition, error::IncomingError};
use temporalio_protos::temporal::api::{
    common::v1::{Payload, Payloads, WorkflowType},
    enums::v1::EventType,
    errordetails::v1::WorkflowExecutionAlreadyStartedFailure,
    failure::v1::{Failure, failure::FailureInfo},
    history::v1::{HistoryEvent, history_event::Attributes},
    taskqueue::v1::TaskQueue,
    workflowservice::v1::{DescribeNamespaceRequest, StartWorkflowExecutionRequest},
};
use temporalio_protos::utilities::decode_status_detail;
use temporalio_sdk::WorkerOptions;
use worker::{RunningWorker, await_with_workers, connect, start_worker};
use workflows::{
    CounterWorkflow, FailingActivityWorkflow, GreetActivities, HelloWorkflow, SplitQueueHelloWorkflow, TimerWorkflow,
};

/// Upper bound for a workflow result to arrive once workers are running.
const RESULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Upper bound for an intermediate history state to appear.
const HISTORY_TIMEOUT: Duration = Duration::from_secs(30);
const NS: &str = "default";

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// Options for a worker hosting `HelloWorkflow` and the greet/fail activities on `task_queue`.
fn hello_worker_options(task_queue: String, calls: Arc<AtomicU32>) -> WorkerOptions {
    WorkerOptions::new(task_queue)
        .register_workflow::<HelloWorkflow>()
        .expect("register HelloWorkflow")
        .register_workflow::<FailingActivityWorkflow>()
        .expect("register FailingActivityWorkflow")
        .register_workflow::<TimerWorkflow>()
        .expect("register TimerWorkflow")
        .register_workflow::<CounterWorkflow>()
        .expect("register CounterWorkflow")
        .register_activities(GreetActivities::new(calls))
        .build()
}

/// Workflow-only worker for `SplitQueueHelloWorkflow` (never polls activity tasks).
fn split_workflow_worker_options(task_queue: String) -> WorkerOptions {
    WorkerOptions::new(task_queue)
        .register_workflow::<SplitQueueHelloWorkflow>()
        .expect("register SplitQueueHelloWorkflow")
        .build()
}

/// Activity-only worker (never polls workflow tasks).
fn activity_worker_options(task_queue: String, calls: Arc<AtomicU32>) -> WorkerOptions {
    WorkerOptions::new(task_queue).register_activities(GreetActivities::new(calls)).build()
}

async fn start_hello_worker(server: &TestServer, name: &str, task_queue: &str, calls: Arc<AtomicU32>) -> RunningWorker {
    let tq = task_queue.to_owned();
    start_worker(server.addr(), NS, name, move || hello_worker_options(tq, calls)).await
}

/// Walks a failure and its causes, outermost first.
fn failure_chain(top: &Failure) -> Vec<&Failure> {
    let mut out = vec![top];
    let mut cur = top;
    while let Some(c) = cur.cause.as_deref() {
        out.push(c);
        cur = c;
    }
    out
}

fn describe_failure_chain(top: &Failure) -> String {
    failure_chain(top)
        .iter()
        .map(|f| {
            let kind = match &f.failure_info {
                Some(FailureInfo::ApplicationFailureInfo(_)) => "ApplicationFailure",
                Some(FailureInfo::ActivityFailureInfo(_)) => "ActivityFailure",
                Some(FailureInfo::TimeoutFailureInfo(_)) => "TimeoutFailure",
                Some(FailureInfo::CanceledFailureInfo(_)) => "CanceledFailure",
                Some(FailureInfo::TerminatedFailureInfo(_)) => "TerminatedFailure",
                Some(FailureInfo::ServerFailureInfo(_)) => "ServerFailure",
                Some(_) => "OtherFailure",
                None => "NoFailureInfo",
            };
            format!("{kind}({:?})", f.message)
        })
        .collect::<Vec<_>>()
        .join(" <- ")
}

/// Invariants every completed hello-style history (one activity) must satisfy, also after a
/// server crash: ids 1..n, no duplicated events, exactly one of each activity event, starts with
/// WorkflowExecutionStarted and ends with WorkflowExecutionCompleted.
fn assert_single_activity_history_ok(events: &[HistoryEvent]) {
    assert_gapless(events);
    assert_no_duplicate_events(events);
    let d = describe(events);
    assert_eq!(
        events.first().map(temporalio_protos::temporal::api::history::v1::HistoryEvent::event_type),
        Some(EventType::WorkflowExecutionStarted),
        "first event: {d}"
    );
    assert_eq!(last_type(events), Some(EventType::WorkflowExecutionCompleted), "last event: {d}");
    for t in [
        EventType::WorkflowExecutionStarted,
        EventType::ActivityTaskScheduled,
        EventType::ActivityTaskStarted,
        EventType::ActivityTaskCompleted,
        EventType::WorkflowExecutionCompleted,
    ] {
        assert_eq!(count(events, t), 1, "expected exactly one {t:?}: {d}");
    }
    let pos = |t: EventType| events.iter().position(|e| e.event_type() == t).unwrap();
    assert!(
        pos(EventType::ActivityTaskScheduled) < pos(EventType::ActivityTaskStarted)
            && pos(EventType::ActivityTaskStarted) < pos(EventType::ActivityTaskCompleted),
        "activity events out of order: {d}"
    );
    // Every WorkflowTaskStarted/Completed refers to an earlier event of the right type.
    let type_of = |id: i64| {
        events
            .iter()
            .find(|e| e.event_id == id)
            .map(temporalio_protos::temporal::api::history::v1::HistoryEvent::event_type)
    };
    for e in events {
        match &e.attributes {
            Some(Attributes::WorkflowTaskStartedEventAttributes(a)) => assert_eq!(
                type_of(a.scheduled_event_id),
                Some(EventType::WorkflowTaskScheduled),
                "event {} scheduled_event_id {}: {d}",
                e.event_id,
                a.scheduled_event_id
            ),
            Some(Attributes::WorkflowTaskCompletedEventAttributes(a)) => assert_eq!(
                type_of(a.started_event_id),
                Some(EventType::WorkflowTaskStarted),
                "event {} started_event_id {}: {d}",
                e.event_id,
                a.started_event_id
            ),
            Some(Attributes::ActivityTaskCompletedEventAttributes(a)) => {
                assert_eq!(
                    type_of(a.scheduled_event_id),
                    Some(EventType::ActivityTaskScheduled),
                    "event {}: {d}",
                    e.event_id
                );
                assert_eq!(
                    type_of(a.started_event_id),
                    Some(EventType::ActivityTaskStarted),
                    "event {}: {d}",
                    e.event_id
                );
            }
            _ => {}
        }
    }
}

fn json_string_payload(s: &str) -> Payload {
    Payload {
        metadata: [("encoding".to_owned(), b"json/plain".to_vec())].into_iter().collect(),
        data: serde_json::to_vec(s).unwrap(),
        ..Default::default()
    }
}

// ------------------------------------------------------------------------------------------------
// 1. hello
// ------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hello_workflow_with_one_activity() {
    let server = TestServer::start().await;
    let client = connect(server.addr(), NS).await;
    let tq = unique("hello");
    let calls = Arc::new(AtomicU32::new(0));
    let w = start_hello_worker(&server, "hello", &tq, calls.clone()).await;

    let handle = client
        .start_workflow(
            HelloWorkflow::run,
            "World".to_owned(),
            WorkflowStartOptions::new(tq.clone(), unique("hello-wf")).build(),
        )
        .await
        .expect("start_workflow");
    assert!(handle.run_id().is_some_and(|r| !r.is_empty()), "empty run id");

    let result = await_with_workers(
        handle.get_result(WorkflowGetResultOptions::default()),
        &[&w],
        RESULT_TIMEOUT,
        "hello workflow result",
    )
    .await
    .expect("get_result");
    assert_eq!(result, "Hello, World!");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "activity executions");
    w.shutdown().await;
}

// ------------------------------------------------------------------------------------------------
// 2. activity failure, no retries
// ------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn activity_failure_without_retries_fails_workflow() {
    let server = TestServer::start().await;
    let client = connect(server.addr(), NS).await;
    let tq = unique("actfail");
    let w = start_hello_worker(&server, "actfail", &tq, Arc::default()).await;
    let message = format!("kaboom-{}", uuid::Uuid::new_v4().simple());
    let wf_id = unique("actfail-wf");

    let handle = client
        .start_workflow(
            FailingActivityWorkflow::run,
            message.clone(),
            WorkflowStartOptions::new(tq.clone(), wf_id.clone()).build(),
        )
        .await
        .expect("start_workflow");
    let run_id = handle.run_id().expect("run id").to_owned();

    let err = await_with_workers(
        handle.get_result(WorkflowGetResultOptions::default()),
        &[&w],
        RESULT_TIMEOUT,
        "failing workflow result",
    )
    .await
    .expect_err("workflow should have failed");

    let incoming = match err {
        WorkflowGetResultError::Failed(f) => f,
        other => panic!("expected WorkflowGetResultError::Failed, got {other:?}"),
    };
    let top = incoming.failure();
    let chain = describe_failure_chain(top);
    assert!(
        matches!(*incoming, IncomingError::Activity(_)),
        "top-level workflow failure should be an ActivityFailure: {chain}"
    );
    assert!(
        matches!(top.failure_info, Some(FailureInfo::ActivityFailureInfo(_))),
        "top-level failure_info should be ActivityFailureInfo: {chain}"
    );
    // Normalized-error chain also contains the application failure.
    let mut saw_app = false;
    let mut cur: Option<&IncomingError> = Some(&incoming);
    while let Some(e) = cur {
        if let IncomingError::Application(_) = e
            && e.failure().message.contains(&message)
        {
            saw_app = true;
        }
        cur = e.cause();
    }
    assert!(saw_app, "no ApplicationFailure with {message:?} in cause chain: {chain}");
    assert!(
        failure_chain(top).iter().any(|f| {
            matches!(f.failure_info, Some(FailureInfo::ApplicationFailureInfo(_))) && f.message.contains(&message)
        }),
        "no ApplicationFailure proto with {message:?} in chain: {chain}"
    );

    let events = fetch_history(&client, &wf_id, &run_id).await;
    let d = describe(&events);
    assert_gapless(&events);
    assert_eq!(last_type(&events), Some(EventType::WorkflowExecutionFailed), "last event: {d}");
    let failed_msgs: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.attributes {
            Some(Attributes::ActivityTaskFailedEventAttributes(a)) => {
                Some(a.failure.as_ref().map(|f| f.message.clone()).unwrap_or_default())
            }
            _ => None,
        })
        .collect();
    assert_eq!(failed_msgs.len(), 1, "expected exactly one ActivityTaskFailed (maximum_attempts=1): {d}");
    assert!(
        failed_msgs[0].contains(&message),
        "ActivityTaskFailed failure message {:?} should contain {message:?}",
        failed_msgs[0]
    );
    w.shutdown().await;
}

// ------------------------------------------------------------------------------------------------
// 3. 100 concurrent workflows
// ------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_concurrent_workflows_complete() {
    const N: usize = 100;
    let server = TestServer::start().await;
    let client = connect(server.addr(), NS).await;
    let tq = unique("many");
    let calls = Arc::new(AtomicU32::new(0));
    let w = start_hello_worker(&server, "many", &tq, calls.clone()).await;
    let prefix = unique("many-wf");

    let starts = (0..N).map(|i| {
        let client = client.clone();
        let tq = tq.clone();
        let wf_id = format!("{prefix}-{i}");
        async move {
            client
                .start_workflow(
                    HelloWorkflow::run,
                    format!("n{i}"),
                    WorkflowStartOptions::new(tq, wf_id.clone()).build(),
                )
                .await
                .unwrap_or_else(|e| panic!("start {wf_id}: {e:?}"))
        }
    });
    let handles =
        await_with_workers(futures::future::join_all(starts), &[&w], RESULT_TIMEOUT, "100 workflow starts").await;
    let mut run_ids: Vec<String> = handles.iter().map(|h| h.run_id().expect("run id").to_owned()).collect();
    run_ids.sort();
    run_ids.dedup();
    assert_eq!(run_ids.len(), N, "run ids must be distinct");

    let results = handles.iter().enumerate().map(|(i, h)| async move {
        let r = h
            .get_result(WorkflowGetResultOptions::default())
            .await
            .unwrap_or_else(|e| panic!("result of workflow {i}: {e:?}"));
        (i, r)
    });
    let results =
        await_with_workers(futures::future::join_all(results), &[&w], Duration::from_secs(120), "100 workflow results")
            .await;
    for (i, r) in results {
        assert_eq!(r, format!("Hello, n{i}!"), "workflow {i}");
    }
    assert_eq!(calls.load(Ordering::SeqCst) as usize, N, "activity executions");
    w.shutdown().await;
}

// ------------------------------------------------------------------------------------------------
// 4. duplicate start: AlreadyStarted; same request_id is idempotent
// ------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn duplicate_start_already_started_and_request_id_dedup() {
    let server = TestServer::start().await;
    let client = connect(server.addr(), NS).await;
    // No worker: the workflows stay Running (first workflow task never picked up).
    let tq = unique("dup");
    let wf_id = unique("dup-wf");

    let first = client
        .start_workflow(
            HelloWorkflow::run,
            "one".to_owned(),
            WorkflowStartOptions::new(tq.clone(), wf_id.clone()).build(),
        )
        .await
        .expect("first start");
    let first_run = first.run_id().expect("run id").to_owned();

    // Same workflow id, new (client-generated) request id, first run still running.
    let err = client
        .start_workflow(
            HelloWorkflow::run,
            "two".to_owned(),
            WorkflowStartOptions::new(tq.clone(), wf_id.clone()).build(),
        )
        .await
        .err()
        .expect("second start with same workflow id must fail");
    match err {
        WorkflowStartError::AlreadyStarted { run_id, source } => {
            assert_eq!(source.code(), Code::AlreadyExists, "status: {source:?}");
            assert_eq!(
                run_id.as_deref(),
                Some(first_run.as_str()),
                "WorkflowExecutionAlreadyStartedFailure detail should carry the running run id \
                 (status: {source:?})"
            );
        }
        other => panic!("expected WorkflowStartError::AlreadyStarted, got {other:?}"),
    }

    // Raw StartWorkflowExecution with a fixed request_id, twice: same run id both times.
    let wf_id2 = unique("dup-raw-wf");
    let request_id = uuid::Uuid::new_v4().to_string();
    let make_req = |request_id: &str| StartWorkflowExecutionRequest {
        namespace: client.namespace(),
        workflow_id: wf_id2.clone(),
        workflow_type: Some(WorkflowType { name: HelloWorkflow::run.name().to_owned() }),
        task_queue: Some(TaskQueue { name: tq.clone(), ..Default::default() }),
        input: Some(Payloads { payloads: vec![json_string_payload("raw")] }),
        identity: "chronicle-e2e-raw".to_owned(),
        request_id: request_id.to_owned(),
        ..Default::default()
    };
    let mut raw = client.connection().workflow_service();
    let r1 =
        raw.start_workflow_execution(make_req(&request_id).into_request()).await.expect("raw start #1").into_inner();
    assert!(!r1.run_id.is_empty(), "raw start #1 returned empty run id");
    let r2 = raw
        .start_workflow_execution(make_req(&request_id).into_request())
        .await
        .expect("raw start #2 with the same request_id must succeed (idempotent)")
        .into_inner();
    assert_eq!(r2.run_id, r1.run_id, "same request_id must return the same run id");

    // A different request_id for that id is rejected, pointing at the same run.
    let status = raw
        .start_workflow_execution(make_req(&uuid::Uuid::new_v4().to_string()).into_request())
        .await
        .expect_err("raw start with new request_id must fail");
    assert_eq!(status.code(), Code::AlreadyExists, "status: {status:?}");
    let detail = decode_status_detail::<WorkflowExecutionAlreadyStartedFailure>(status.details())
        .unwrap_or_else(|| panic!("ALREADY_EXISTS without WorkflowExecutionAlreadyStartedFailure detail: {status:?}"));
    assert_eq!(detail.run_id, r1.run_id, "detail run id");

    // Dedup did not create a second run / second start event.
    let events = fetch_history(&client, &wf_id2, &r1.run_id).await;
    assert_eq!(count(&events, EventType::WorkflowExecutionStarted), 1, "{}", describe(&events));
    assert_gapless(&events);
}

// ------------------------------------------------------------------------------------------------
// 5. unknown namespace
// ------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unknown_namespace_is_not_found() {
    let server = TestServer::start().await;
    let client: Client = connect(server.addr(), "does-not-exist").await;

    let err = client
        .start_workflow(
            HelloWorkflow::run,
            "x".to_owned(),
            WorkflowStartOptions::new(unique("nons"), unique("nons-wf")).build(),
        )
        .await
        .err()
        .expect("start in unknown namespace must fail");
    match &err {
        WorkflowStartError::Rpc(status) => {
            assert_eq!(status.code(), Code::NotFound, "status: {status:?}");
        }
        other => panic!("expected WorkflowStartError::Rpc(NotFound), got {other:?}"),
    }

    let err = client
        .get_workflow_handle::<HelloWorkflow>("nons-any")
        .describe(WorkflowDescribeOptions::default())
        .await
        .expect_err("describe in unknown namespace must fail");
    assert!(
        matches!(err, WorkflowInteractionError::NotFound(_)),
        "expected WorkflowInteractionError::NotFound, got {err:?}"
    );

    let mut raw = client.connection().workflow_service();
    let status = raw
        .describe_namespace(
            DescribeNamespaceRequest { namespace: "does-not-exist".to_owned(), ..Default::default() }.into_request(),
        )
        .await
        .expect_err("DescribeNamespace(does-not-exist) must fail");
    assert_eq!(status.code(), Code::NotFound, "status: {status:?}");

    // Sanity: the default namespace does exist.
    raw.describe_namespace(DescribeNamespaceRequest { namespace: NS.to_owned(), ..Default::default() }.into_request())
        .await
        .expect("DescribeNamespace(default)");
}

// ------------------------------------------------------------------------------------------------
// 6. exact history shape of hello
// ------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hello_history_shape() {
    let server = TestServer::start().await;
    let client = connect(server.addr(), NS).await;
    let tq = unique("shape");
    let w = start_hello_worker(&server, "shape", &tq, Arc::default()).await;
    let wf_id = unique("shape-wf");

    let handle = client
        .start_workflow(
            HelloWorkflow::run,
            "Shape".to_owned(),
            WorkflowStartOptions::new(tq.clone(), wf_id.clone()).build(),
        )
        .await
        .expect("start_workflow");
    let run_id = handle.run_id().expect("run id").to_owned();
    let result = await_with_workers(
        handle.get_result(WorkflowGetResultOptions::default()),
        &[&w],
        RESULT_TIMEOUT,
        "hello workflow result",
    )
    .await
    .expect("get_result");
    assert_eq!(result, "Hello, Shape!");

    let events = fetch_history(&client, &wf_id, &run_id).await;
    use EventType::*;
    let expected = vec![
        WorkflowExecutionStarted,
        WorkflowTaskScheduled,
        WorkflowTaskStarted,
        WorkflowTaskCompleted,
        ActivityTaskScheduled,
        ActivityTaskStarted,
        ActivityTaskCompleted,
        WorkflowTaskScheduled,
        WorkflowTaskStarted,
        WorkflowTaskCompleted,
        WorkflowExecutionCompleted,
    ];
    assert_eq!(event_types(&events), expected, "history: {}", describe(&events));
    let ids: Vec<i64> = events.iter().map(|e| e.event_id).collect();
    assert_eq!(ids, (1..=11).collect::<Vec<i64>>());
    assert_single_activity_history_ok(&events);
    w.shutdown().await;
}

// ------------------------------------------------------------------------------------------------
// 7./8. crash safety: SIGKILL with the activity scheduled, and after it completed
// ------------------------------------------------------------------------------------------------

/// A `SplitQueueHelloWorkflow` whose activity runs on its own queue, so the
/// tests decide when workflow and activity workers run.
struct SplitRun {
    tq: String,
    act_tq: String,
    wf_id: String,
    run_id: String,
}

/// Starts the workflow with a workflow-only worker, waits until its activity
/// is scheduled, and stops that worker.
async fn schedule_split_activity(server: &TestServer, client: &Client, label: &str, name: &str) -> SplitRun {
    let tq = unique(label);
    let run =
        SplitRun { act_tq: format!("{tq}-act"), wf_id: unique(&format!("{label}-wf")), tq, run_id: String::new() };
    let tq_c = run.tq.clone();
    let wf_worker =
        start_worker(server.addr(), NS, &format!("{label}-wf-1"), move || split_workflow_worker_options(tq_c)).await;
    let handle = client
        .start_workflow(
            SplitQueueHelloWorkflow::run,
            (name.to_owned(), run.act_tq.clone()),
            WorkflowStartOptions::new(run.tq.clone(), run.wf_id.clone()).build(),
        )
        .await
        .expect("start_workflow");
    let run = SplitRun { run_id: handle.run_id().expect("run id").to_owned(), ..run };
    wait_for_history(client, &run.wf_id, &run.run_id, HISTORY_TIMEOUT, "ActivityTaskScheduled", |ev| {
        has(ev, EventType::ActivityTaskScheduled)
    })
    .await;
    wf_worker.shutdown().await;
    run
}

async fn start_activity_worker(
    server: &TestServer,
    run: &SplitRun,
    name: &str,
    calls: &Arc<AtomicU32>,
) -> RunningWorker {
    let (act_tq, calls) = (run.act_tq.clone(), calls.clone());
    start_worker(server.addr(), NS, name, move || activity_worker_options(act_tq, calls)).await
}

/// SIGKILLs and restarts the server; what was there before is still there.
async fn crash_and_restart(
    server: &mut TestServer,
    run: &SplitRun,
    before: &[HistoryEvent],
) -> (Client, Vec<HistoryEvent>) {
    assert!(!server.on_sqlite() || server.db_path().exists(), "db file {} missing", server.db_path().display());
    server.restart().await;
    let client = connect(server.addr(), NS).await;
    let after = fetch_history(&client, &run.wf_id, &run.run_id).await;
    assert!(
        after.len() >= before.len() && event_types(&after[..before.len()]) == event_types(before),
        "history changed across crash: before {} after {}",
        describe(before),
        describe(&after)
    );
    assert_gapless(&after);
    (client, after)
}

/// Runs a fresh workflow worker (plus `others`) to the result and checks the
/// final history.
async fn finish_split_run(
    server: &TestServer,
    client: &Client,
    run: &SplitRun,
    others: &[&RunningWorker],
    expected: &str,
) {
    let tq = run.tq.clone();
    let wf_worker = start_worker(server.addr(), NS, "after-restart", move || split_workflow_worker_options(tq)).await;
    let mut workers = vec![&wf_worker];
    workers.extend_from_slice(others);
    let result = await_with_workers(
        client
            .get_workflow_handle::<SplitQueueHelloWorkflow>(run.wf_id.clone())
            .get_result(WorkflowGetResultOptions::default()),
        &workers,
        RESULT_TIMEOUT,
        "workflow result after restart",
    )
    .await
    .expect("get_result after restart");
    assert_eq!(result, expected);
    let events = fetch_history(client, &run.wf_id, &run.run_id).await;
    eprintln!("final history after crash: {}", describe(&events));
    assert_single_activity_history_ok(&events);
    // The same 11 events Temporal writes: after the restart the task meant for
    // the old worker's sticky queue goes to the normal queue without a timeout.
    assert_eq!(events.len(), 11, "history: {}", describe(&events));
    wf_worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crash_after_activity_scheduled_then_complete_after_restart() {
    let mut server = TestServer::start().await;
    let client = connect(server.addr(), NS).await;
    // Nobody polls the activity queue before the crash.
    let run = schedule_split_activity(&server, &client, "crash-a", "CrashA").await;
    let before = fetch_history(&client, &run.wf_id, &run.run_id).await;

    let (client, after) = crash_and_restart(&mut server, &run, &before).await;
    assert!(!has(&after, EventType::ActivityTaskStarted), "activity cannot have started: {}", describe(&after));

    let calls = Arc::new(AtomicU32::new(0));
    let act_worker = start_activity_worker(&server, &run, "crash-a-act", &calls).await;
    finish_split_run(&server, &client, &run, &[&act_worker], "Hello, CrashA!").await;
    assert_eq!(calls.load(Ordering::SeqCst), 1, "activity executions");
    act_worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crash_after_activity_completed_then_complete_after_restart() {
    let mut server = TestServer::start().await;
    let client = connect(server.addr(), NS).await;
    let run = schedule_split_activity(&server, &client, "crash-b", "CrashB").await;

    // The activity runs; the workflow task that follows stays unprocessed.
    let calls = Arc::new(AtomicU32::new(0));
    let act_worker = start_activity_worker(&server, &run, "crash-b-act", &calls).await;
    let before = wait_for_history(
        &client,
        &run.wf_id,
        &run.run_id,
        HISTORY_TIMEOUT,
        "ActivityTaskCompleted followed by WorkflowTaskScheduled as last event",
        |ev| has(ev, EventType::ActivityTaskCompleted) && last_type(ev) == Some(EventType::WorkflowTaskScheduled),
    )
    .await;
    act_worker.shutdown().await;
    assert_eq!(calls.load(Ordering::SeqCst), 1, "activity executions before crash");

    let (client, after) = crash_and_restart(&mut server, &run, &before).await;
    assert_eq!(count(&after, EventType::ActivityTaskCompleted), 1, "{}", describe(&after));

    finish_split_run(&server, &client, &run, &[], "Hello, CrashB!").await;
    assert_eq!(calls.load(Ordering::SeqCst), 1, "activity must not re-run");
}

// ------------------------------------------------------------------------------------------------
// Timers
// ------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn timer_fires_after_its_duration_and_cancel_is_recorded() {
    let server = TestServer::start().await;
    let client = connect(server.addr(), NS).await;
    let tq = unique("timer");
    let w = start_hello_worker(&server, "timer", &tq, Arc::default()).await;
    let wf_id = unique("timer-wf");
    let began = std::time::Instant::now();
    let handle = client
        .start_workflow(TimerWorkflow::run, 1000u64, WorkflowStartOptions::new(tq.clone(), wf_id.clone()).build())
        .await
        .expect("start_workflow");
    let run_id = handle.run_id().unwrap_or_default().to_string();
    let result = await_with_workers(
        handle.get_result(WorkflowGetResultOptions::default()),
        &[&w],
        RESULT_TIMEOUT,
        "timer workflow result",
    )
    .await
    .expect("get_result");
    assert_eq!(result, "slept");
    assert!(began.elapsed() >= Duration::from_secs(1), "a 1 s timer fired after {:?}", began.elapsed());
    let events = fetch_history(&client, &wf_id, &run_id).await;
    assert_gapless(&events);
    assert_eq!(count(&events, EventType::TimerStarted), 2, "{}", describe(&events));
    assert_eq!(count(&events, EventType::TimerCanceled), 1, "{}", describe(&events));
    assert_eq!(count(&events, EventType::TimerFired), 1, "{}", describe(&events));
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn timer_survives_a_server_kill() {
    let mut server = TestServer::start().await;
    let client = connect(server.addr(), NS).await;
    let tq = unique("timer-kill");
    let w = start_hello_worker(&server, "timer-kill-1", &tq, Arc::default()).await;
    let wf_id = unique("timer-kill-wf");
    let handle = client
        .start_workflow(TimerWorkflow::run, 2000u64, WorkflowStartOptions::new(tq.clone(), wf_id.clone()).build())
        .await
        .expect("start_workflow");
    let run_id = handle.run_id().unwrap_or_default().to_string();
    wait_for_history(&client, &wf_id, &run_id, HISTORY_TIMEOUT, "the 2 s timer started", |ev| {
        count(ev, EventType::TimerStarted) == 2
    })
    .await;
    w.shutdown().await;
    server.kill();
    tokio::time::sleep(Duration::from_millis(2500)).await; // the timer comes due while the server is down
    server.restart().await;

    let client = connect(server.addr(), NS).await;
    let w = start_hello_worker(&server, "timer-kill-2", &tq, Arc::default()).await;
    let result = await_with_workers(
        client.get_workflow_handle::<TimerWorkflow>(wf_id.clone()).get_result(WorkflowGetResultOptions::default()),
        &[&w],
        RESULT_TIMEOUT,
        "timer workflow result after restart",
    )
    .await
    .expect("get_result after restart");
    assert_eq!(result, "slept");
    let events = fetch_history(&client, &wf_id, &run_id).await;
    assert_gapless(&events);
    assert_no_duplicate_events(&events);
    assert_eq!(count(&events, EventType::TimerFired), 1, "fires exactly once: {}", describe(&events));
    w.shutdown().await;
}

// ------------------------------------------------------------------------------------------------
// Signals
// ------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn signals_are_delivered_in_order_and_queries_see_them() {
    use temporalio_client::WorkflowSignalOptions;
    let server = TestServer::start().await;
    let client = connect(server.addr(), NS).await;
    let tq = unique("signals");
    let w = start_hello_worker(&server, "signals", &tq, Arc::default()).await;
    let wf_id = unique("counter-wf");
    let handle = client
        .start_workflow(CounterWorkflow::run, 55i32, WorkflowStartOptions::new(tq.clone(), wf_id.clone()).build())
        .await
        .expect("start_workflow");
    for amount in 1..=9 {
        handle.signal(CounterWorkflow::increment, amount, WorkflowSignalOptions::default()).await.expect("signal");
    }
    // A query on the running workflow sees every signal sent before it.
    let total = handle
        .query(CounterWorkflow::total, (), temporalio_client::WorkflowQueryOptions::default())
        .await
        .expect("query");
    assert_eq!(total, 45);
    handle.signal(CounterWorkflow::increment, 10, WorkflowSignalOptions::default()).await.expect("signal");
    let result = await_with_workers(
        handle.get_result(WorkflowGetResultOptions::default()),
        &[&w],
        RESULT_TIMEOUT,
        "counter workflow result",
    )
    .await
    .expect("get_result");
    assert_eq!(result, (1..=10).collect::<Vec<i32>>());
    let events = fetch_history(&client, &wf_id, handle.run_id().unwrap_or_default()).await;
    assert_gapless(&events);
    assert_eq!(count(&events, EventType::WorkflowExecutionSignaled), 10, "{}", describe(&events));
    // A closed workflow is queried too: a worker replays it.
    let total = handle
        .query(CounterWorkflow::total, (), temporalio_client::WorkflowQueryOptions::default())
        .await
        .expect("query after close");
    assert_eq!(total, 55);
    w.shutdown().await;
}

// ------------------------------------------------------------------------------------------------
// Updates
// ------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn updates_accepted_and_rejected() {
    use temporalio_client::{WorkflowExecuteUpdateOptions, WorkflowSignalOptions};
    let server = TestServer::start().await;
    let client = connect(server.addr(), NS).await;
    let tq = unique("updates");
    let w = start_hello_worker(&server, "updates", &tq, Arc::default()).await;
    let wf_id = unique("update-wf");
    let handle = client
        .start_workflow(CounterWorkflow::run, 100i32, WorkflowStartOptions::new(tq.clone(), wf_id.clone()).build())
        .await
        .expect("start_workflow");
    let previous = handle
        .execute_update(CounterWorkflow::set_total, 40, WorkflowExecuteUpdateOptions::default())
        .await
        .expect("accepted update");
    assert_eq!(previous, 0);
    let history_len = fetch_history(&client, &wf_id, handle.run_id().unwrap_or_default()).await.len();
    let rejected = handle.execute_update(CounterWorkflow::set_total, -1, WorkflowExecuteUpdateOptions::default()).await;
    assert!(rejected.is_err(), "the validator rejects a negative total");
    let after = fetch_history(&client, &wf_id, handle.run_id().unwrap_or_default()).await;
    assert_eq!(after.len(), history_len, "a rejected update writes no events: {}", describe(&after));
    handle.signal(CounterWorkflow::increment, 60, WorkflowSignalOptions::default()).await.expect("signal");
    let result = await_with_workers(
        handle.get_result(WorkflowGetResultOptions::default()),
        &[&w],
        RESULT_TIMEOUT,
        "counter workflow result",
    )
    .await
    .expect("get_result");
    assert_eq!(result, vec![60]);
    let events = fetch_history(&client, &wf_id, handle.run_id().unwrap_or_default()).await;
    assert_gapless(&events);
    assert_eq!(count(&events, EventType::WorkflowExecutionUpdateAccepted), 1, "{}", describe(&events));
    assert_eq!(count(&events, EventType::WorkflowExecutionUpdateCompleted), 1, "{}", describe(&events));
    w.shutdown().await;
}

// ------------------------------------------------------------------------------------------------
// Children and continue-as-new across a server kill
// ------------------------------------------------------------------------------------------------

fn family_worker_options(task_queue: String) -> WorkerOptions {
    WorkerOptions::new(task_queue)
        .register_workflow::<workflows::FanOutWorkflow>()
        .expect("register FanOutWorkflow")
        .register_workflow::<workflows::SleepyChildWorkflow>()
        .expect("register SleepyChildWorkflow")
        .register_workflow::<workflows::CountingContinueWorkflow>()
        .expect("register CountingContinueWorkflow")
        .build()
}

async fn start_family_worker(server: &TestServer, name: &str, task_queue: &str) -> RunningWorker {
    let tq = task_queue.to_owned();
    start_worker(server.addr(), NS, name, move || family_worker_options(tq)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn children_complete_exactly_once_across_a_server_kill() {
    let mut server = TestServer::start().await;
    let client = connect(server.addr(), NS).await;
    let tq = unique("children-kill");
    let w = start_family_worker(&server, "children-kill-1", &tq).await;
    let wf_id = unique("fan-out");
    let items: Vec<String> = (0..10).map(|i| format!("item-{i}")).collect();
    let handle = client
        .start_workflow(
            workflows::FanOutWorkflow::run,
            (items.clone(), 1500u64),
            WorkflowStartOptions::new(tq.clone(), wf_id.clone()).build(),
        )
        .await
        .expect("start_workflow");
    let run_id = handle.run_id().unwrap_or_default().to_string();
    // Kill while every child runs (its timer pending).
    wait_for_history(&client, &wf_id, &run_id, HISTORY_TIMEOUT, "10 children started", |ev| {
        count(ev, EventType::ChildWorkflowExecutionStarted) == 10
    })
    .await;
    w.shutdown().await;
    server.kill();
    server.restart().await;

    let client = connect(server.addr(), NS).await;
    let w = start_family_worker(&server, "children-kill-2", &tq).await;
    let result = await_with_workers(
        client
            .get_workflow_handle::<workflows::FanOutWorkflow>(wf_id.clone())
            .get_result(WorkflowGetResultOptions::default()),
        &[&w],
        RESULT_TIMEOUT,
        "fan-out result after restart",
    )
    .await
    .expect("get_result after restart");
    assert_eq!(result, items.iter().map(|i| i.to_uppercase()).collect::<Vec<_>>());
    let events = fetch_history(&client, &wf_id, &run_id).await;
    assert_gapless(&events);
    assert_no_duplicate_events(&events);
    for t in [
        EventType::StartChildWorkflowExecutionInitiated,
        EventType::ChildWorkflowExecutionStarted,
        EventType::ChildWorkflowExecutionCompleted,
    ] {
        assert_eq!(count(&events, t), 10, "{t:?} once per child: {}", describe(&events));
    }
    // Each child ran once: one run, one start, one completion.
    for i in 0..10 {
        let child = fetch_history(&client, &format!("{wf_id}-{i}"), "").await;
        assert_eq!(count(&child, EventType::WorkflowExecutionStarted), 1, "{}", describe(&child));
        assert_eq!(count(&child, EventType::WorkflowExecutionCompleted), 1, "{}", describe(&child));
        let Some(Attributes::WorkflowExecutionStartedEventAttributes(a)) = &child[0].attributes else {
            panic!("first event is not WorkflowExecutionStarted")
        };
        assert_eq!(a.parent_workflow_execution.as_ref().map(|p| p.run_id.as_str()), Some(run_id.as_str()));
    }
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn continue_as_new_chain_survives_a_server_kill() {
    let mut server = TestServer::start().await;
    let client = connect(server.addr(), NS).await;
    let tq = unique("can-kill");
    let w = start_family_worker(&server, "can-kill-1", &tq).await;
    let wf_id = unique("counting");
    let handle = client
        .start_workflow(
            workflows::CountingContinueWorkflow::run,
            (0u32, 6u32, 300u64),
            WorkflowStartOptions::new(tq.clone(), wf_id.clone()).build(),
        )
        .await
        .expect("start_workflow");
    let first_run = handle.run_id().unwrap_or_default().to_string();
    // Kill once the chain is under way: the first run continued as new.
    wait_for_history(&client, &wf_id, &first_run, HISTORY_TIMEOUT, "first run continued as new", |ev| {
        last_type(ev) == Some(EventType::WorkflowExecutionContinuedAsNew)
    })
    .await;
    w.shutdown().await;
    server.kill();
    server.restart().await;

    let client = connect(server.addr(), NS).await;
    let w = start_family_worker(&server, "can-kill-2", &tq).await;
    let result = await_with_workers(
        client
            .get_workflow_handle::<workflows::CountingContinueWorkflow>(wf_id.clone())
            .get_result(WorkflowGetResultOptions::default()),
        &[&w],
        RESULT_TIMEOUT,
        "chain result after restart",
    )
    .await
    .expect("get_result after restart");
    assert_eq!(result, 6);
    // Follow the chain from the first run: 7 runs (done = 0..=6), each
    // continued exactly once, the last completed.
    let mut run = first_run.clone();
    let mut runs = 0;
    loop {
        let events = fetch_history(&client, &wf_id, &run).await;
        assert_gapless(&events);
        assert_no_duplicate_events(&events);
        let Some(Attributes::WorkflowExecutionStartedEventAttributes(started)) = &events[0].attributes else {
            panic!("first event is not WorkflowExecutionStarted")
        };
        assert_eq!(started.first_execution_run_id, first_run);
        runs += 1;
        match events.last().and_then(|e| e.attributes.clone()) {
            Some(Attributes::WorkflowExecutionContinuedAsNewEventAttributes(a)) => run = a.new_execution_run_id,
            Some(Attributes::WorkflowExecutionCompletedEventAttributes(_)) => break,
            other => panic!("run {run} ended with {other:?}"),
        }
    }
    assert_eq!(runs, 7);
    w.shutdown().await;
}
