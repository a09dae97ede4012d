#![allow(clippy::unwrap_used)] // in tests, a failed unwrap is a failed test
//! The gRPC surface driven directly (no SDK): request validation, error
//! codes and Temporal error details, workflow-task timeouts and transient
//! retries, unsupported commands, long-poll deadlines.

#[path = "sdk_e2e/server.rs"]
#[allow(dead_code)]
mod server;

use prost::Message;
use server::TestServer;
use std::time::{Duration, Instant};
use temporalio_protos::google::rpc::Status as RpcStatus;
use temporalio_protos::temporal::api::{
    command::v1::{
        Command, CompleteWorkflowExecutionCommandAttributes, ScheduleNexusOperationCommandAttributes, command,
    },
    common::v1::{Payload, Payloads, WorkflowExecution, WorkflowType},
    enums::v1::{CommandType, EventType, HistoryEventFilterType, WorkflowTaskFailedCause},
    errordetails::v1::{
        ActivityExecutionAlreadyStartedFailure, NamespaceNotFoundFailure, WorkflowExecutionAlreadyStartedFailure,
    },
    history::v1::{HistoryEvent, history_event::Attributes},
    taskqueue::v1::TaskQueue,
    workflowservice::v1::{workflow_service_client::WorkflowServiceClient, *},
};
use tonic::{Code, Request, transport::Channel};

type Client = WorkflowServiceClient<Channel>;

async fn client(server: &TestServer) -> Client {
    let channel = Channel::from_shared(format!("http://{}", server.addr())).unwrap().connect().await.unwrap();
    WorkflowServiceClient::new(channel)
        .send_compressed(tonic::codec::CompressionEncoding::Gzip)
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
}

fn start_request(id: &str, queue: &str) -> StartWorkflowExecutionRequest {
    StartWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_id: id.into(),
        workflow_type: Some(WorkflowType { name: "RawWorkflow".into() }),
        task_queue: Some(TaskQueue { name: queue.into(), ..Default::default() }),
        request_id: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    }
}

fn poll_request(queue: &str) -> Request<PollWorkflowTaskQueueRequest> {
    let mut r = Request::new(PollWorkflowTaskQueueRequest {
        namespace: "default".into(),
        task_queue: Some(TaskQueue { name: queue.into(), ..Default::default() }),
        identity: "raw-test".into(),
        ..Default::default()
    });
    r.set_timeout(Duration::from_secs(10));
    r
}

async fn history(c: &mut Client, id: &str) -> Vec<HistoryEvent> {
    let r = c
        .get_workflow_execution_history(GetWorkflowExecutionHistoryRequest {
            namespace: "default".into(),
            execution: Some(WorkflowExecution { workflow_id: id.into(), run_id: String::new() }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    r.history.unwrap().events
}

fn types(events: &[HistoryEvent]) -> Vec<EventType> {
    events.iter().map(|e| EventType::try_from(e.event_type).unwrap()).collect()
}

fn detail<M: Message + Default>(status: &tonic::Status) -> M {
    let rpc = RpcStatus::decode(status.details()).expect("grpc-status-details-bin present");
    M::decode(rpc.details.first().expect("one detail").value.as_slice()).unwrap()
}

fn complete_command() -> Command {
    Command {
        command_type: CommandType::CompleteWorkflowExecution as i32,
        attributes: Some(command::Attributes::CompleteWorkflowExecutionCommandAttributes(
            CompleteWorkflowExecutionCommandAttributes { result: None },
        )),
        ..Default::default()
    }
}

#[tokio::test]
async fn system_info_and_namespaces() {
    let server = TestServer::start_with_namespaces(&["extra"]).await;
    let mut c = client(&server).await;
    let info = c.get_system_info(GetSystemInfoRequest {}).await.unwrap().into_inner();
    assert!(info.capabilities.unwrap().sdk_metadata);

    let d = c
        .describe_namespace(DescribeNamespaceRequest { namespace: "extra".into(), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(d.into_inner().namespace_info.unwrap().name, "extra");

    let reg = |name: &str| RegisterNamespaceRequest { namespace: name.into(), ..Default::default() };
    c.register_namespace(reg("fresh")).await.unwrap();
    assert_eq!(c.register_namespace(reg("fresh")).await.unwrap_err().code(), Code::AlreadyExists);
    assert_eq!(c.register_namespace(reg("bad name!")).await.unwrap_err().code(), Code::InvalidArgument);

    let names: Vec<String> = c
        .list_namespaces(ListNamespacesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .namespaces
        .into_iter()
        .map(|n| n.namespace_info.unwrap().name)
        .collect();
    for n in ["default", "extra", "fresh"] {
        assert!(names.contains(&n.to_string()), "{names:?}");
    }

    let err = c
        .describe_namespace(DescribeNamespaceRequest { namespace: "nope".into(), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(detail::<NamespaceNotFoundFailure>(&err).namespace, "nope");
}

#[tokio::test]
async fn malformed_requests_are_rejected() {
    let server = TestServer::start().await;
    let mut c = client(&server).await;

    let mut r = start_request("", "q");
    assert_eq!(c.start_workflow_execution(r.clone()).await.unwrap_err().code(), Code::InvalidArgument);
    r.workflow_id = "w".into();
    r.workflow_type = None;
    let err = c.start_workflow_execution(r.clone()).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("WorkflowType"), "{}", err.message());
    r.workflow_type = Some(WorkflowType { name: "T".into() });
    r.task_queue = None;
    assert_eq!(c.start_workflow_execution(r.clone()).await.unwrap_err().code(), Code::InvalidArgument);

    let mut big = start_request("big", "q");
    big.input = Some(Payloads { payloads: vec![Payload { data: vec![7; 2 * 1024 * 1024 + 1], ..Default::default() }] });
    let err = c.start_workflow_execution(big).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("exceeds"), "{}", err.message());

    let mut other_ns = start_request("w", "q");
    other_ns.namespace = "missing".into();
    let err = c.start_workflow_execution(other_ns).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(detail::<NamespaceNotFoundFailure>(&err).namespace, "missing");

    let err = c
        .describe_workflow_execution(DescribeWorkflowExecutionRequest {
            namespace: "default".into(),
            execution: Some(WorkflowExecution { workflow_id: "never-started".into(), run_id: String::new() }),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    let err = c
        .respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest {
            namespace: "default".into(),
            task_token: b"not a token".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    let err = c
        .respond_activity_task_completed(RespondActivityTaskCompletedRequest {
            namespace: "default".into(),
            task_token: vec![],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    let err = c.list_workflow_executions(ListWorkflowExecutionsRequest::default()).await.unwrap_err();
    assert_eq!((err.code(), err.message()), (Code::InvalidArgument, "Namespace not set on request."));

    // Not built yet: UNIMPLEMENTED, naming the RPC.
    let err = c
        .get_worker_versioning_rules(GetWorkerVersioningRulesRequest {
            namespace: "default".into(),
            task_queue: "q".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
    assert!(err.message().contains("GetWorkerVersioningRules"), "{}", err.message());
}

#[tokio::test]
async fn start_dedupe_and_conflicts() {
    let server = TestServer::start().await;
    let mut c = client(&server).await;
    let first = start_request("dup", "q");
    let run = c.start_workflow_execution(first.clone()).await.unwrap().into_inner().run_id;
    // Same request id: the same run, not an error.
    let again = c.start_workflow_execution(first.clone()).await.unwrap().into_inner();
    assert_eq!(again.run_id, run);
    // New request id: AlreadyStarted with the running run's id in the detail.
    let err = c.start_workflow_execution(start_request("dup", "q")).await.unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    let d: WorkflowExecutionAlreadyStartedFailure = detail(&err);
    assert_eq!(d.run_id, run);
    assert_eq!(d.start_request_id, first.request_id);
    // USE_EXISTING returns the running run.
    let mut use_existing = start_request("dup", "q");
    use_existing.workflow_id_conflict_policy =
        temporalio_protos::temporal::api::enums::v1::WorkflowIdConflictPolicy::UseExisting as i32;
    let r = c.start_workflow_execution(use_existing).await.unwrap().into_inner();
    assert_eq!(r.run_id, run);
    assert!(!r.started);
    // TERMINATE_EXISTING terminates it and starts a new run.
    let mut terminate = start_request("dup", "q");
    terminate.workflow_id_conflict_policy =
        temporalio_protos::temporal::api::enums::v1::WorkflowIdConflictPolicy::TerminateExisting as i32;
    let new_run = c.start_workflow_execution(terminate).await.unwrap().into_inner().run_id;
    assert_ne!(new_run, run);
    let old = c
        .get_workflow_execution_history(GetWorkflowExecutionHistoryRequest {
            namespace: "default".into(),
            execution: Some(WorkflowExecution { workflow_id: "dup".into(), run_id: run.clone() }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .history
        .unwrap()
        .events;
    assert_eq!(types(&old).last(), Some(&EventType::WorkflowExecutionTerminated));
    // REJECT_DUPLICATE on a closed run.
    c.terminate_workflow_execution(TerminateWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_execution: Some(WorkflowExecution { workflow_id: "dup".into(), run_id: String::new() }),
        reason: "test".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut reject = start_request("dup", "q");
    reject.workflow_id_reuse_policy =
        temporalio_protos::temporal::api::enums::v1::WorkflowIdReusePolicy::RejectDuplicate as i32;
    assert_eq!(c.start_workflow_execution(reject).await.unwrap_err().code(), Code::AlreadyExists);
}

fn start_activity_request(id: &str) -> StartActivityExecutionRequest {
    StartActivityExecutionRequest {
        namespace: "default".into(),
        activity_id: id.into(),
        activity_type: Some(temporalio_protos::temporal::api::common::v1::ActivityType { name: "RawActivity".into() }),
        task_queue: Some(TaskQueue { name: "raw-activities".into(), ..Default::default() }),
        start_to_close_timeout: Some(prost_types::Duration { seconds: 30, nanos: 0 }),
        request_id: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    }
}

/// Standalone activities: every RPC checks its request; an id taken is
/// AlreadyExists with Temporal's detail; an activity and a workflow with
/// the same id are two things, each listed only where it belongs.
#[tokio::test]
async fn standalone_activities_are_checked_and_kept_apart() {
    let server = TestServer::start().await;
    let mut c = client(&server).await;
    let invalid = Code::InvalidArgument;
    assert_eq!(c.start_activity_execution(StartActivityExecutionRequest::default()).await.unwrap_err().code(), invalid);
    let describe = DescribeActivityExecutionRequest { namespace: "default".into(), ..Default::default() };
    assert_eq!(c.describe_activity_execution(describe).await.unwrap_err().code(), invalid);
    let poll = PollActivityExecutionRequest { namespace: "default".into(), ..Default::default() };
    assert_eq!(c.poll_activity_execution(poll).await.unwrap_err().code(), invalid);
    let cancel = RequestCancelActivityExecutionRequest { namespace: "default".into(), ..Default::default() };
    assert_eq!(c.request_cancel_activity_execution(cancel).await.unwrap_err().code(), invalid);
    let terminate = TerminateActivityExecutionRequest { namespace: "default".into(), ..Default::default() };
    assert_eq!(c.terminate_activity_execution(terminate).await.unwrap_err().code(), invalid);
    let delete = DeleteActivityExecutionRequest { namespace: "default".into(), ..Default::default() };
    assert_eq!(c.delete_activity_execution(delete).await.unwrap_err().code(), invalid);
    let list =
        ListActivityExecutionsRequest { namespace: "default".into(), query: "Nobody = 1".into(), ..Default::default() };
    assert_eq!(c.list_activity_executions(list).await.unwrap_err().code(), invalid);
    let count = CountActivityExecutionsRequest { namespace: "nowhere".into(), ..Default::default() };
    assert_eq!(c.count_activity_executions(count).await.unwrap_err().code(), Code::NotFound);

    let first = start_activity_request("same");
    let activity_run = c.start_activity_execution(first.clone()).await.unwrap().into_inner();
    assert!(activity_run.started);
    let err = c.start_activity_execution(start_activity_request("same")).await.unwrap_err();
    assert_eq!((err.code(), err.message()), (Code::AlreadyExists, "activity execution already started"));
    let d: ActivityExecutionAlreadyStartedFailure = detail(&err);
    assert_eq!(
        (d.run_id.as_str(), d.start_request_id.as_str()),
        (activity_run.run_id.as_str(), first.request_id.as_str())
    );
    // A workflow may have the same id: another thing altogether.
    let workflow_run = c.start_workflow_execution(start_request("same", "q")).await.unwrap().into_inner();
    assert!(workflow_run.started);
    let listed = c
        .list_workflow_executions(ListWorkflowExecutionsRequest { namespace: "default".into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .executions;
    let runs: Vec<_> = listed.iter().map(|e| e.execution.clone().unwrap().run_id).collect();
    assert_eq!(runs, vec![workflow_run.run_id.clone()]);
    let activities = c
        .list_activity_executions(ListActivityExecutionsRequest { namespace: "default".into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .executions;
    assert_eq!(
        activities.iter().map(|a| (a.activity_id.as_str(), a.run_id.as_str())).collect::<Vec<_>>(),
        vec![("same", activity_run.run_id.as_str())]
    );
    // Terminating the activity leaves the workflow running.
    let terminate = TerminateActivityExecutionRequest {
        namespace: "default".into(),
        activity_id: "same".into(),
        reason: "done".into(),
        ..Default::default()
    };
    c.terminate_activity_execution(terminate).await.unwrap();
    let workflow = c
        .describe_workflow_execution(DescribeWorkflowExecutionRequest {
            namespace: "default".into(),
            execution: Some(WorkflowExecution { workflow_id: "same".into(), run_id: String::new() }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(workflow.workflow_execution_info.unwrap().status, 1, "still running");
}

#[tokio::test]
async fn workflow_task_timeout_then_transient_retry() {
    let server = TestServer::start().await;
    let mut c = client(&server).await;
    let mut r = start_request("wft-timeout", "tq-timeout");
    r.workflow_task_timeout = Some(prost_types::Duration { seconds: 1, nanos: 0 });
    c.start_workflow_execution(r).await.unwrap();

    let task = c.poll_workflow_task_queue(poll_request("tq-timeout")).await.unwrap().into_inner();
    assert_eq!(task.attempt, 1);
    assert_eq!(task.started_event_id, 3);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    // Too late: the task timed out.
    let err = c
        .respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest {
            namespace: "default".into(),
            task_token: task.task_token.clone(),
            commands: vec![complete_command()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");

    // Attempt 2 is transient: its Scheduled/Started ride on the poll response only.
    let retry = c.poll_workflow_task_queue(poll_request("tq-timeout")).await.unwrap().into_inner();
    assert_eq!(retry.attempt, 2);
    let events = retry.history.unwrap().events;
    assert_eq!(
        types(&events),
        vec![
            EventType::WorkflowExecutionStarted,
            EventType::WorkflowTaskScheduled,
            EventType::WorkflowTaskStarted,
            EventType::WorkflowTaskTimedOut,
            EventType::WorkflowTaskScheduled,
            EventType::WorkflowTaskStarted,
        ]
    );
    assert_eq!(events.iter().map(|e| e.event_id).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(types(&history(&mut c, "wft-timeout").await).len(), 4, "transient events are not persisted");

    c.respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest {
        namespace: "default".into(),
        task_token: retry.task_token,
        commands: vec![complete_command()],
        ..Default::default()
    })
    .await
    .unwrap();
    let events = history(&mut c, "wft-timeout").await;
    assert_eq!(
        types(&events)[4..],
        [
            EventType::WorkflowTaskScheduled,
            EventType::WorkflowTaskStarted,
            EventType::WorkflowTaskCompleted,
            EventType::WorkflowExecutionCompleted
        ]
    );
    let Some(Attributes::WorkflowTaskScheduledEventAttributes(a)) = &events[4].attributes else { panic!() };
    assert_eq!(a.attempt, 2);
}

#[tokio::test]
async fn unsupported_command_fails_the_workflow_task() {
    let server = TestServer::start().await;
    let mut c = client(&server).await;
    c.start_workflow_execution(start_request("bad-command", "tq-bad")).await.unwrap();
    let task = c.poll_workflow_task_queue(poll_request("tq-bad")).await.unwrap().into_inner();
    let nexus = Command {
        command_type: CommandType::ScheduleNexusOperation as i32,
        attributes: Some(command::Attributes::ScheduleNexusOperationCommandAttributes(
            ScheduleNexusOperationCommandAttributes {
                endpoint: "e".into(),
                service: "s".into(),
                operation: "o".into(),
                ..Default::default()
            },
        )),
        ..Default::default()
    };
    let err = c
        .respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest {
            namespace: "default".into(),
            task_token: task.task_token,
            commands: vec![nexus],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("ScheduleNexusOperation"), "{}", err.message());
    let events = history(&mut c, "bad-command").await;
    let last = events.last().unwrap();
    let Some(Attributes::WorkflowTaskFailedEventAttributes(a)) = &last.attributes else { panic!("{last:?}") };
    assert_eq!(a.cause, WorkflowTaskFailedCause::BadScheduleNexusOperationAttributes as i32);
    assert!(a.failure.as_ref().unwrap().message.contains("ScheduleNexusOperation"));
}

#[tokio::test]
async fn long_polls_answer_before_the_deadline() {
    let server = TestServer::start().await;
    let mut c = client(&server).await;
    c.start_workflow_execution(start_request("waiting", "tq-nobody")).await.unwrap();
    let mut r = Request::new(GetWorkflowExecutionHistoryRequest {
        namespace: "default".into(),
        execution: Some(WorkflowExecution { workflow_id: "waiting".into(), run_id: String::new() }),
        wait_new_event: true,
        history_event_filter_type: HistoryEventFilterType::CloseEvent as i32,
        ..Default::default()
    });
    r.set_timeout(Duration::from_secs(3));
    let began = Instant::now();
    let resp = c.get_workflow_execution_history(r).await.unwrap().into_inner();
    assert!(began.elapsed() < Duration::from_secs(3));
    assert!(resp.history.unwrap().events.is_empty());
    assert!(!resp.next_page_token.is_empty(), "a token to poll again with");

    // An empty poll on a queue with no work, answered before the deadline.
    let mut poll = poll_request("tq-empty");
    poll.set_timeout(Duration::from_secs(3));
    let began = Instant::now();
    let resp = c.poll_workflow_task_queue(poll).await.unwrap().into_inner();
    assert!(began.elapsed() < Duration::from_secs(3));
    assert!(resp.task_token.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_answers_open_polls_and_exits_promptly() {
    let mut server = TestServer::start().await;
    let mut c = client(&server).await;
    let poll = tokio::spawn(async move {
        let mut r = poll_request("tq-stop");
        r.set_timeout(Duration::from_secs(60));
        let began = Instant::now();
        let resp = c.poll_workflow_task_queue(r).await;
        (resp, began.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let exited = tokio::task::block_in_place(|| server.terminate(Duration::from_secs(10)));
    let took = exited.expect("server exits after SIGTERM");
    assert!(took < Duration::from_secs(5), "exit took {took:?}");
    let (resp, waited) = poll.await.unwrap();
    assert!(waited < Duration::from_secs(5), "poll held {waited:?}");
    // Either an empty poll response or a closed connection, never a task.
    if let Ok(resp) = resp {
        assert!(resp.into_inner().task_token.is_empty());
    }
}

fn schedule_activity_command(start_to_close_secs: i64) -> Command {
    use temporalio_protos::temporal::api::{
        command::v1::ScheduleActivityTaskCommandAttributes,
        common::v1::{ActivityType, RetryPolicy},
    };
    Command {
        command_type: CommandType::ScheduleActivityTask as i32,
        attributes: Some(command::Attributes::ScheduleActivityTaskCommandAttributes(
            ScheduleActivityTaskCommandAttributes {
                activity_id: "1".into(),
                activity_type: Some(ActivityType { name: "Slow".into() }),
                start_to_close_timeout: Some(prost_types::Duration { seconds: start_to_close_secs, nanos: 0 }),
                retry_policy: Some(RetryPolicy { maximum_attempts: 1, ..Default::default() }),
                ..Default::default()
            },
        )),
        ..Default::default()
    }
}

/// Timers are durable: an activity whose start-to-close deadline passes
/// while the server is down times out once after the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_timeout_survives_a_server_kill() {
    let mut server = TestServer::start().await;
    let mut c = client(&server).await;
    c.start_workflow_execution(start_request("durable-timer", "tq-durable")).await.unwrap();
    let task = c.poll_workflow_task_queue(poll_request("tq-durable")).await.unwrap().into_inner();
    c.respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest {
        namespace: "default".into(),
        task_token: task.task_token,
        commands: vec![schedule_activity_command(1)],
        ..Default::default()
    })
    .await
    .unwrap();
    let mut poll = Request::new(PollActivityTaskQueueRequest {
        namespace: "default".into(),
        task_queue: Some(TaskQueue { name: "tq-durable".into(), ..Default::default() }),
        identity: "slow-worker".into(),
        ..Default::default()
    });
    poll.set_timeout(Duration::from_secs(10));
    let activity = c.poll_activity_task_queue(poll).await.unwrap().into_inner();
    assert!(!activity.task_token.is_empty());

    server.kill();
    tokio::time::sleep(Duration::from_millis(1500)).await; // the deadline passes while down
    server.restart().await;
    let mut c = client(&server).await;

    let deadline = Instant::now() + Duration::from_secs(10);
    let events = loop {
        let events = history(&mut c, "durable-timer").await;
        if types(&events).contains(&EventType::ActivityTaskTimedOut) {
            break events;
        }
        assert!(Instant::now() < deadline, "no timeout after restart: {:?}", types(&events));
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        types(&events)[4..],
        [
            EventType::ActivityTaskScheduled,
            EventType::ActivityTaskStarted,
            EventType::ActivityTaskTimedOut,
            EventType::WorkflowTaskScheduled
        ]
    );
    // The late completion is refused: the task timed out.
    let err = c
        .respond_activity_task_completed(RespondActivityTaskCompletedRequest {
            namespace: "default".into(),
            task_token: activity.task_token,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test]
async fn bad_signals_are_rejected() {
    let server = TestServer::start().await;
    let mut c = client(&server).await;
    c.start_workflow_execution(start_request("sig-target", "tq-sig")).await.unwrap();
    let signal = |name: &str, id: &str, data: usize| SignalWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_execution: Some(WorkflowExecution { workflow_id: id.into(), run_id: String::new() }),
        signal_name: name.into(),
        input: Some(Payloads { payloads: vec![Payload { data: vec![1; data], ..Default::default() }] }),
        request_id: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    };
    assert_eq!(
        c.signal_workflow_execution(signal("", "sig-target", 1)).await.unwrap_err().code(),
        Code::InvalidArgument
    );
    let big = c.signal_workflow_execution(signal("s", "sig-target", 2 * 1024 * 1024 + 1)).await.unwrap_err();
    assert_eq!(big.code(), Code::InvalidArgument);
    assert_eq!(c.signal_workflow_execution(signal("s", "nobody", 1)).await.unwrap_err().code(), Code::NotFound);
    // A retried signal (same request id) is delivered once.
    let once = signal("s", "sig-target", 1);
    c.signal_workflow_execution(once.clone()).await.unwrap();
    c.signal_workflow_execution(once.clone()).await.unwrap();
    let events = history(&mut c, "sig-target").await;
    assert_eq!(types(&events).iter().filter(|t| **t == EventType::WorkflowExecutionSignaled).count(), 1);
    // Once the run closed, a retry of a delivered signal still succeeds (as
    // Temporal checks the request id first); a new signal does not.
    c.terminate_workflow_execution(TerminateWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_execution: Some(WorkflowExecution { workflow_id: "sig-target".into(), run_id: String::new() }),
        ..Default::default()
    })
    .await
    .unwrap();
    c.signal_workflow_execution(once).await.unwrap();
    let late = c.signal_workflow_execution(signal("s", "sig-target", 1)).await.unwrap_err();
    assert_eq!((late.code(), late.message()), (Code::NotFound, "workflow execution already completed"));
    // Signal-with-start refuses the FAIL conflict policy.
    let sws = SignalWithStartWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_id: "sig-target".into(),
        workflow_type: Some(WorkflowType { name: "RawWorkflow".into() }),
        task_queue: Some(TaskQueue { name: "tq-sig".into(), ..Default::default() }),
        signal_name: "s".into(),
        workflow_id_conflict_policy: temporalio_protos::temporal::api::enums::v1::WorkflowIdConflictPolicy::Fail as i32,
        ..Default::default()
    };
    assert_eq!(c.signal_with_start_workflow_execution(sws).await.unwrap_err().code(), Code::InvalidArgument);
}

#[tokio::test]
async fn cancel_requests_for_unknown_or_closed_workflows_are_not_found() {
    let server = TestServer::start().await;
    let mut c = client(&server).await;
    let cancel = |id: &str| RequestCancelWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_execution: Some(WorkflowExecution { workflow_id: id.into(), run_id: String::new() }),
        request_id: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    };
    assert_eq!(c.request_cancel_workflow_execution(cancel("nobody")).await.unwrap_err().code(), Code::NotFound);
    c.start_workflow_execution(start_request("to-cancel", "tq-cancel")).await.unwrap();
    c.request_cancel_workflow_execution(cancel("to-cancel")).await.unwrap();
    c.request_cancel_workflow_execution(cancel("to-cancel")).await.unwrap(); // idempotent
    let events = history(&mut c, "to-cancel").await;
    assert_eq!(types(&events).iter().filter(|t| **t == EventType::WorkflowExecutionCancelRequested).count(), 1);
    c.terminate_workflow_execution(TerminateWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_execution: Some(WorkflowExecution { workflow_id: "to-cancel".into(), run_id: String::new() }),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(c.request_cancel_workflow_execution(cancel("to-cancel")).await.unwrap_err().code(), Code::NotFound);
}

#[tokio::test]
async fn bad_queries_are_rejected() {
    use temporalio_protos::temporal::api::query::v1::WorkflowQuery;
    let server = TestServer::start().await;
    let mut c = client(&server).await;
    c.start_workflow_execution(start_request("query-target", "tq-query")).await.unwrap();
    let query = |id: &str, query_type: &str| QueryWorkflowRequest {
        namespace: "default".into(),
        execution: Some(WorkflowExecution { workflow_id: id.into(), run_id: String::new() }),
        query: Some(WorkflowQuery { query_type: query_type.into(), ..Default::default() }),
        ..Default::default()
    };
    assert_eq!(c.query_workflow(query("query-target", "")).await.unwrap_err().code(), Code::InvalidArgument);
    assert_eq!(c.query_workflow(query("nobody", "q")).await.unwrap_err().code(), Code::NotFound);
    // Nobody polls the queue: the server holds the query until the caller
    // gives up (its own timeout, as on Temporal), not before.
    let mut r = Request::new(query("query-target", "q"));
    r.set_timeout(Duration::from_secs(2));
    let asked = Instant::now();
    let err = c.query_workflow(r).await.unwrap_err();
    assert!(matches!(err.code(), Code::Cancelled | Code::DeadlineExceeded), "{err:?}");
    assert!(asked.elapsed() >= Duration::from_secs(2), "answered after {:?}", asked.elapsed());
    // An answer for a query nobody waits for.
    let token = {
        // A token for a query id that was never issued (encoded like Chronicle's tokens).
        let t = RespondQueryTaskCompletedRequest {
            namespace: "default".into(),
            task_token: b"garbage".to_vec(),
            completed_type: 1,
            ..Default::default()
        };
        c.respond_query_task_completed(t).await.unwrap_err()
    };
    assert_eq!(token.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn bad_updates_are_rejected() {
    use temporalio_protos::temporal::api::update::v1::{
        Input as UpdateInput, Meta, Request as UpdateRequest, UpdateRef,
    };
    let server = TestServer::start().await;
    let mut c = client(&server).await;
    c.start_workflow_execution(start_request("update-target", "tq-update")).await.unwrap();
    let update = |id: &str, update_id: &str, name: &str| UpdateWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_execution: Some(WorkflowExecution { workflow_id: id.into(), run_id: String::new() }),
        request: Some(UpdateRequest {
            meta: Some(Meta { update_id: update_id.into(), identity: "t".into() }),
            input: Some(UpdateInput { name: name.into(), ..Default::default() }),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(
        c.update_workflow_execution(update("update-target", "", "u")).await.unwrap_err().code(),
        Code::InvalidArgument
    );
    assert_eq!(
        c.update_workflow_execution(update("update-target", "u1", "")).await.unwrap_err().code(),
        Code::InvalidArgument
    );
    assert_eq!(c.update_workflow_execution(update("nobody", "u1", "u")).await.unwrap_err().code(), Code::NotFound);
    let poll = |update_id: &str| PollWorkflowExecutionUpdateRequest {
        namespace: "default".into(),
        update_ref: Some(UpdateRef {
            workflow_execution: Some(WorkflowExecution { workflow_id: "update-target".into(), run_id: String::new() }),
            update_id: update_id.into(),
        }),
        ..Default::default()
    };
    let never = c.poll_workflow_execution_update(poll("never-sent")).await.unwrap_err();
    assert_eq!(never.code(), Code::NotFound);
    // Admitted with no worker: the call waits for acceptance until the
    // caller gives up (an early empty answer would only be asked again).
    let mut r = Request::new(UpdateWorkflowExecutionRequest {
        wait_policy: Some(temporalio_protos::temporal::api::update::v1::WaitPolicy {
            lifecycle_stage:
                temporalio_protos::temporal::api::enums::v1::UpdateWorkflowExecutionLifecycleStage::Accepted as i32,
        }),
        ..update("update-target", "u1", "u")
    });
    r.set_timeout(Duration::from_secs(2));
    let asked = Instant::now();
    let err = c.update_workflow_execution(r).await.unwrap_err();
    assert!(matches!(err.code(), Code::Cancelled | Code::DeadlineExceeded), "{err:?}");
    assert!(asked.elapsed() >= Duration::from_secs(2), "answered after {:?}", asked.elapsed());
    // A poll with no wait policy answers at once with the stage reached.
    let resp = c.poll_workflow_execution_update(poll("u1")).await.unwrap().into_inner();
    assert_eq!(
        resp.stage,
        temporalio_protos::temporal::api::enums::v1::UpdateWorkflowExecutionLifecycleStage::Admitted as i32
    );
    assert!(resp.outcome.is_none());
}

#[tokio::test]
async fn visibility_lists_counts_and_pages() {
    use temporalio_protos::temporal::api::operatorservice::v1::{
        AddSearchAttributesRequest, operator_service_client::OperatorServiceClient,
    };
    use temporalio_protos::temporal::api::{
        common::v1::SearchAttributes,
        enums::v1::IndexedValueType,
        filter::v1::{StatusFilter, WorkflowExecutionFilter},
        workflow::v1::WorkflowExecutionInfo,
        workflowservice::v1::{
            list_closed_workflow_executions_request as closed, list_open_workflow_executions_request as open,
        },
    };
    let mut server = TestServer::start().await;
    let mut c = client(&server).await;
    // Queries name registered attributes only, as on Temporal.
    let channel = Channel::from_shared(format!("http://{}", server.addr())).unwrap().connect().await.unwrap();
    OperatorServiceClient::new(channel)
        .add_search_attributes(AddSearchAttributesRequest {
            namespace: "default".into(),
            search_attributes: [("CustomKeywordField".to_string(), IndexedValueType::Keyword as i32)].into(),
        })
        .await
        .unwrap();
    let list = |query: &str, page_size: i32, token: Vec<u8>| ListWorkflowExecutionsRequest {
        namespace: "default".into(),
        page_size,
        next_page_token: token,
        query: query.into(),
    };
    let ids = |infos: &[WorkflowExecutionInfo]| -> Vec<String> {
        infos.iter().map(|i| i.execution.as_ref().unwrap().workflow_id.clone()).collect()
    };

    // Started in this order, so listed in the reverse one.
    let mut runs = Vec::new();
    for (id, ty) in
        [("vis-a-0", "VisA"), ("vis-b-0", "VisB"), ("vis-a-1", "VisA"), ("vis-a-2", "VisA"), ("vis-b-1", "VisB")]
    {
        let mut r = start_request(id, "vis-q");
        r.workflow_type = Some(WorkflowType { name: ty.into() });
        if id == "vis-b-1" {
            let blue = Payload {
                metadata: [("encoding".to_string(), b"json/plain".to_vec()), ("type".to_string(), b"Keyword".to_vec())]
                    .into_iter()
                    .collect(),
                data: b"\"blue\"".to_vec(),
                ..Default::default()
            };
            r.search_attributes = Some(SearchAttributes {
                indexed_fields: [("CustomKeywordField".to_string(), blue)].into_iter().collect(),
            });
        }
        runs.push(c.start_workflow_execution(r).await.unwrap().into_inner().run_id);
    }
    c.terminate_workflow_execution(TerminateWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_execution: Some(WorkflowExecution { workflow_id: "vis-a-1".into(), run_id: String::new() }),
        reason: "test".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let newest_first = ["vis-b-1", "vis-a-2", "vis-a-1", "vis-b-0", "vis-a-0"];

    // Paging: 2 + 2 + 1, the last page with an empty token.
    let mut seen = Vec::new();
    let mut token = Vec::new();
    let mut pages = 0;
    loop {
        let r = c.list_workflow_executions(list("", 2, token)).await.unwrap().into_inner();
        pages += 1;
        seen.extend(ids(&r.executions));
        if r.next_page_token.is_empty() {
            break;
        }
        token = r.next_page_token;
    }
    assert_eq!((seen, pages), (newest_first.map(String::from).to_vec(), 3));
    let all = c.list_workflow_executions(list("", 0, vec![])).await.unwrap().into_inner();
    assert_eq!(ids(&all.executions), newest_first);
    assert!(all.next_page_token.is_empty());
    let a0 = all.executions.last().unwrap();
    assert_eq!(a0.execution.as_ref().unwrap().run_id, runs[0]);
    assert_eq!(a0.r#type.as_ref().unwrap().name, "VisA");
    assert_eq!(a0.task_queue, "vis-q");
    assert!(a0.start_time.is_some() && a0.close_time.is_none());

    let query = |q: &'static str| {
        let mut c = c.clone();
        async move { ids(&c.list_workflow_executions(list(q, 0, vec![])).await.unwrap().into_inner().executions) }
    };
    assert_eq!(query("WorkflowType = 'VisA' AND ExecutionStatus = 'Running'").await, ["vis-a-2", "vis-a-0"]);
    assert_eq!(query("ExecutionStatus = 'Terminated'").await, ["vis-a-1"]);
    assert_eq!(
        query("WorkflowId = 'vis-b-0' OR (WorkflowType = 'VisA' AND CloseTime IS NOT NULL)").await,
        ["vis-a-1", "vis-b-0"]
    );
    assert_eq!(query("WorkflowId STARTS_WITH 'vis-b' ORDER BY WorkflowId").await, ["vis-b-0", "vis-b-1"]);
    assert_eq!(query("CustomKeywordField = 'blue'").await, ["vis-b-1"]);
    let by_run = format!("RunId = '{}'", runs[3]);
    let r = c.list_workflow_executions(list(&by_run, 0, vec![])).await.unwrap().into_inner();
    assert_eq!(ids(&r.executions), ["vis-a-2"]);

    // Count, and count per status with Temporal's Keyword payloads.
    let count = |q: &str| CountWorkflowExecutionsRequest { namespace: "default".into(), query: q.into() };
    assert_eq!(c.count_workflow_executions(count("")).await.unwrap().into_inner().count, 5);
    assert_eq!(c.count_workflow_executions(count("WorkflowType = 'VisB'")).await.unwrap().into_inner().count, 2);
    let grouped = c.count_workflow_executions(count("GROUP BY ExecutionStatus")).await.unwrap().into_inner();
    assert_eq!(grouped.count, 5);
    let groups: Vec<(String, i64)> = grouped
        .groups
        .iter()
        .map(|g| {
            let value = &g.group_values[0];
            assert_eq!(value.metadata["encoding"], b"json/plain");
            assert_eq!(value.metadata["type"], b"Keyword");
            (String::from_utf8(value.data.clone()).unwrap(), g.count)
        })
        .collect();
    assert_eq!(groups, [("\"Running\"".to_string(), 4), ("\"Terminated\"".to_string(), 1)]);

    // Errors: bad queries, page tokens and namespaces.
    for bad in ["WorkflowId = ", "ExecutionStatus = 'running'", "StartTime > 'yesterday'", "GROUP BY WorkflowType"] {
        let err = c.list_workflow_executions(list(bad, 0, vec![])).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{bad}");
        assert!(err.message().starts_with("invalid query: "), "{bad}: {}", err.message());
        let err = c.count_workflow_executions(count(bad)).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{bad}");
    }
    let err = c.list_workflow_executions(list("", 0, b"garbage".to_vec())).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let mut other = list("", 0, vec![]);
    other.namespace = "nope".into();
    let err = c.list_workflow_executions(other).await.unwrap_err();
    assert_eq!((err.code(), detail::<NamespaceNotFoundFailure>(&err).namespace), (Code::NotFound, "nope".to_string()));

    // Scan is List; the deprecated open and closed listings filter too.
    let scan = ScanWorkflowExecutionsRequest {
        namespace: "default".into(),
        page_size: 3,
        query: "WorkflowType = 'VisA'".into(),
        ..Default::default()
    };
    let r = c.scan_workflow_executions(scan).await.unwrap().into_inner();
    assert_eq!(ids(&r.executions), ["vis-a-2", "vis-a-1", "vis-a-0"]);
    let open_runs = c
        .list_open_workflow_executions(ListOpenWorkflowExecutionsRequest {
            namespace: "default".into(),
            filters: Some(open::Filters::TypeFilter(
                temporalio_protos::temporal::api::filter::v1::WorkflowTypeFilter { name: "VisA".into() },
            )),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ids(&open_runs.executions), ["vis-a-2", "vis-a-0"]);
    let closed_runs = c
        .list_closed_workflow_executions(ListClosedWorkflowExecutionsRequest {
            namespace: "default".into(),
            filters: Some(closed::Filters::StatusFilter(StatusFilter { status: 5 })),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ids(&closed_runs.executions), ["vis-a-1"]);
    let by_id = c
        .list_closed_workflow_executions(ListClosedWorkflowExecutionsRequest {
            namespace: "default".into(),
            filters: Some(closed::Filters::ExecutionFilter(WorkflowExecutionFilter {
                workflow_id: "vis-a-0".into(),
                run_id: String::new(),
            })),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(by_id.executions.is_empty());

    let keys = c.get_search_attributes(GetSearchAttributesRequest {}).await.unwrap().into_inner().keys;
    assert_eq!(keys["WorkflowId"], IndexedValueType::Keyword as i32);
    assert_eq!(keys["ExecutionStatus"], IndexedValueType::Keyword as i32);
    assert_eq!(keys["StartTime"], IndexedValueType::Datetime as i32);
    assert_eq!(keys["HistoryLength"], IndexedValueType::Int as i32);

    // Visibility is durable: the same listing after a crash.
    server.restart().await;
    let mut c = client(&server).await;
    let r = c.list_workflow_executions(list("", 0, vec![])).await.unwrap().into_inner();
    assert_eq!(ids(&r.executions), newest_first);
}

#[tokio::test]
async fn bad_update_with_start_requests_are_rejected() {
    use temporalio_protos::temporal::api::{
        enums::v1::WorkflowIdConflictPolicy,
        errordetails::v1::MultiOperationExecutionFailure,
        update::v1::{Input as UpdateInput, Meta, Request as UpdateRequest},
        workflowservice::v1::execute_multi_operation_request::{Operation, operation::Operation as Op},
    };
    let server = TestServer::start().await;
    let mut c = client(&server).await;
    let start = |id: &str| Operation {
        operation: Some(Op::StartWorkflow(StartWorkflowExecutionRequest {
            workflow_id_conflict_policy: WorkflowIdConflictPolicy::Fail as i32,
            ..start_request(id, "tq-uws")
        })),
    };
    let update = |id: &str| Operation {
        operation: Some(Op::UpdateWorkflow(UpdateWorkflowExecutionRequest {
            namespace: "default".into(),
            workflow_execution: Some(WorkflowExecution { workflow_id: id.into(), run_id: String::new() }),
            request: Some(UpdateRequest {
                meta: Some(Meta { update_id: "u1".into(), identity: "t".into() }),
                input: Some(UpdateInput { name: "u".into(), ..Default::default() }),
                ..Default::default()
            }),
            ..Default::default()
        })),
    };
    let multi = |operations: Vec<Operation>| ExecuteMultiOperationRequest {
        namespace: "default".into(),
        operations,
        ..Default::default()
    };
    // Only [Start, Update] is a valid composition.
    let err = c.execute_multi_operation(multi(vec![update("w"), start("w")])).await.unwrap_err();
    assert_eq!((err.code(), err.message()), (Code::InvalidArgument, "Operations have to be exactly [Start, Update]."));
    let err = c.execute_multi_operation(multi(vec![start("w")])).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    // Different workflow ids: the update fails, the start is aborted.
    let err = c.execute_multi_operation(multi(vec![start("w"), update("other")])).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let failure: MultiOperationExecutionFailure = detail(&err);
    let codes: Vec<i32> = failure.statuses.iter().map(|s| s.code).collect();
    assert_eq!(codes, vec![Code::Aborted as i32, Code::InvalidArgument as i32]);
    assert_eq!(failure.statuses[1].message, "WorkflowId is not consistent with previous operation(s).");
    // Nothing was started.
    let err = c
        .describe_workflow_execution(DescribeWorkflowExecutionRequest {
            namespace: "default".into(),
            execution: Some(WorkflowExecution { workflow_id: "w".into(), run_id: String::new() }),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    // A running workflow with FAIL: AlreadyExists, the start's own detail inside.
    c.start_workflow_execution(start_request("taken", "tq-uws")).await.unwrap();
    let err = c.execute_multi_operation(multi(vec![start("taken"), update("taken")])).await.unwrap_err();
    assert_eq!((err.code(), err.message()), (Code::AlreadyExists, "Update-with-Start could not be executed."));
    let failure: MultiOperationExecutionFailure = detail(&err);
    assert_eq!(failure.statuses[0].code, Code::AlreadyExists as i32);
    assert!(failure.statuses[0].details[0].type_url.ends_with("WorkflowExecutionAlreadyStartedFailure"));
    assert_eq!(failure.statuses[1].code, Code::Aborted as i32);
}

#[tokio::test]
async fn operator_search_attributes() {
    use temporalio_protos::temporal::api::{
        common::v1::SearchAttributes,
        enums::v1::IndexedValueType as T,
        operatorservice::v1::{operator_service_client::OperatorServiceClient, *},
    };
    let mut server = TestServer::start_with_namespaces(&["other"]).await;
    let operator = |server: &TestServer| {
        let addr = format!("http://{}", server.addr());
        async move { OperatorServiceClient::new(Channel::from_shared(addr).unwrap().connect().await.unwrap()) }
    };
    let mut op = operator(&server).await;
    let mut c = client(&server).await;
    let add = |namespace: &str, attrs: &[(&str, i32)]| AddSearchAttributesRequest {
        namespace: namespace.into(),
        search_attributes: attrs.iter().map(|(n, t)| (n.to_string(), *t)).collect(),
    };
    let remove = |namespace: &str, names: &[&str]| RemoveSearchAttributesRequest {
        namespace: namespace.into(),
        search_attributes: names.iter().map(std::string::ToString::to_string).collect(),
    };
    let listed = |namespace: &str| ListSearchAttributesRequest { namespace: namespace.into() };

    // Nothing registered yet; the system attributes as Temporal lists them.
    let r = op.list_search_attributes(listed("default")).await.unwrap().into_inner();
    assert!(r.custom_attributes.is_empty() && r.storage_schema.is_empty());
    assert_eq!(r.system_attributes.len(), 33);
    assert_eq!(r.system_attributes["WorkflowId"], T::Keyword as i32);
    assert_eq!(r.system_attributes["BuildIds"], T::KeywordList as i32);
    assert_eq!(r.system_attributes["TemporalSchedulePaused"], T::Bool as i32);

    let registered = [("Color", T::Keyword as i32), ("Size", T::Int as i32), ("Due", T::Datetime as i32)];
    op.add_search_attributes(add("default", &registered)).await.unwrap();
    op.add_search_attributes(add("default", &[("Note", T::Text as i32)])).await.unwrap();
    // The same name and type again: nothing to do.
    op.add_search_attributes(add("default", &[("Color", T::Keyword as i32)])).await.unwrap();

    // Refusals, with Temporal's codes and messages.
    let refused = |r: Result<tonic::Response<AddSearchAttributesResponse>, tonic::Status>| r.unwrap_err();
    let e = refused(op.add_search_attributes(add("default", &[("Color", T::Int as i32)])).await);
    assert_eq!((e.code(), e.message()), (Code::AlreadyExists, "Search attribute Color already exists."));
    let e = refused(op.add_search_attributes(add("default", &[("WorkflowId", T::Keyword as i32)])).await);
    assert_eq!((e.code(), e.message()), (Code::InvalidArgument, "Search attribute WorkflowId is reserved by system."));
    let e = refused(op.add_search_attributes(add("default", &[("TemporalMine", T::Keyword as i32)])).await);
    assert_eq!(e.message(), "Search attribute TemporalMine is reserved by system.");
    let e = refused(op.add_search_attributes(add("default", &[("Odd", 99)])).await);
    assert_eq!((e.code(), e.message()), (Code::InvalidArgument, "Unknown search attribute type: 99."));
    let e = refused(op.add_search_attributes(add("default", &[])).await);
    assert_eq!((e.code(), e.message()), (Code::InvalidArgument, "SearchAttributes are not set on request."));
    let e = refused(op.add_search_attributes(add("", &[("Odd", T::Bool as i32)])).await);
    assert_eq!((e.code(), e.message()), (Code::InvalidArgument, "Namespace is not set on request."));
    let e = refused(op.add_search_attributes(add("nope", &[("Odd", T::Bool as i32)])).await);
    assert_eq!((e.code(), e.message()), (Code::NotFound, "Namespace nope is not found."));
    assert_eq!(detail::<NamespaceNotFoundFailure>(&e).namespace, "nope");
    let e = op.list_search_attributes(listed("")).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);

    // Per namespace: `other` has none of them.
    let custom = |r: ListSearchAttributesResponse| {
        let mut all: Vec<(String, i32)> = r.custom_attributes.into_iter().collect();
        all.sort();
        all
    };
    let expected = |pairs: &[(&str, T)]| pairs.iter().map(|(n, t)| (n.to_string(), *t as i32)).collect::<Vec<_>>();
    let r = op.list_search_attributes(listed("default")).await.unwrap().into_inner();
    assert_eq!(
        custom(r),
        expected(&[("Color", T::Keyword), ("Due", T::Datetime), ("Note", T::Text), ("Size", T::Int)])
    );
    assert!(op.list_search_attributes(listed("other")).await.unwrap().into_inner().custom_attributes.is_empty());

    // GetSearchAttributes: `default`'s, or those of the namespace in Temporal's header.
    let keys = c.get_search_attributes(GetSearchAttributesRequest {}).await.unwrap().into_inner().keys;
    assert_eq!((keys["Color"], keys["WorkflowId"]), (T::Keyword as i32, T::Keyword as i32));
    let mut r = Request::new(GetSearchAttributesRequest {});
    r.metadata_mut().insert("temporal-namespace", "other".parse().unwrap());
    let keys = c.get_search_attributes(r).await.unwrap().into_inner().keys;
    assert!(!keys.contains_key("Color") && keys.contains_key("WorkflowId"));

    // Queries read registered attributes as their types: a payload without
    // type metadata is still a Datetime, a string literal is no Int.
    let json = |data: &str| Payload {
        metadata: [("encoding".to_string(), b"json/plain".to_vec())].into_iter().collect(),
        data: data.as_bytes().to_vec(),
        ..Default::default()
    };
    let mut start = start_request("sa-1", "sa-q");
    start.search_attributes = Some(SearchAttributes {
        indexed_fields: [
            ("Size", json("5")),
            ("Due", json("\"2024-06-01T00:00:00Z\"")),
            ("Note", json("\"Big Red Box\"")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
    });
    c.start_workflow_execution(start).await.unwrap();
    let count = |query: &str| {
        let mut c = c.clone();
        let request = CountWorkflowExecutionsRequest { namespace: "default".into(), query: query.into() };
        async move { c.count_workflow_executions(request).await.map(|r| r.into_inner().count) }
    };
    assert_eq!(count("Size >= 5").await.unwrap(), 1);
    assert_eq!(count("Due > '2024-01-01T00:00:00Z'").await.unwrap(), 1);
    assert_eq!(count("Note = 'red box'").await.unwrap(), 1);
    assert_eq!(count("Note = 'red fox'").await.unwrap(), 0);
    let e = count("Size = '5'").await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(
        e.message(),
        "invalid query: invalid expression: invalid value type for search attribute Size of type Int: \"5\" (type: string)"
    );
    let e = count("Note > 'a'").await.unwrap_err();
    assert!(e.message().contains("operator '>' not supported for Text type search attribute 'Note'"), "{e:?}");
    // Unregistered names are refused with Temporal's message.
    let e = count("Unregistered = 'x'").await.unwrap_err();
    assert_eq!(
        (e.code(), e.message()),
        (Code::InvalidArgument, "invalid query: invalid search attribute: Unregistered")
    );

    // Removal.
    let e = op.remove_search_attributes(remove("default", &["Nope"])).await.unwrap_err();
    assert_eq!((e.code(), e.message()), (Code::NotFound, "Search attribute Nope doesn't exist."));
    let e = op.remove_search_attributes(remove("default", &["WorkflowId"])).await.unwrap_err();
    assert_eq!(
        (e.code(), e.message()),
        (Code::InvalidArgument, "Unable to remove non-custom search attributes: WorkflowId.")
    );
    let e = op.remove_search_attributes(remove("default", &[])).await.unwrap_err();
    assert_eq!(e.message(), "SearchAttributes are not set on request.");
    op.remove_search_attributes(remove("default", &["Size"])).await.unwrap();
    // No longer registered: no longer a name queries know.
    let e = count("Size = 5").await.unwrap_err();
    assert_eq!((e.code(), e.message()), (Code::InvalidArgument, "invalid query: invalid search attribute: Size"));

    // Other OperatorService RPCs name themselves.
    let e = op.delete_namespace(DeleteNamespaceRequest { namespace: "other".into(), ..Default::default() }).await;
    let e = e.unwrap_err();
    assert_eq!(
        (e.code(), e.message()),
        (Code::Unimplemented, "OperatorService/DeleteNamespace is not implemented by Chronicle")
    );

    // Registrations are durable.
    server.restart().await;
    let mut op = operator(&server).await;
    let r = op.list_search_attributes(listed("default")).await.unwrap().into_inner();
    assert_eq!(custom(r), expected(&[("Color", T::Keyword), ("Due", T::Datetime), ("Note", T::Text)]));
}

#[tokio::test]
async fn huge_timeouts_mean_the_far_future() {
    let server = TestServer::start().await;
    let mut c = client(&server).await;
    let huge = prost_types::Duration { seconds: i64::MAX, nanos: 0 };
    c.start_workflow_execution(StartWorkflowExecutionRequest {
        workflow_execution_timeout: Some(huge),
        workflow_run_timeout: Some(huge),
        ..start_request("huge-timeout", "tq-huge")
    })
    .await
    .unwrap();
    // The run must neither time out at once (a wrapped-around deadline) nor
    // crash the server.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let d = c
        .describe_workflow_execution(DescribeWorkflowExecutionRequest {
            namespace: "default".into(),
            execution: Some(WorkflowExecution { workflow_id: "huge-timeout".into(), run_id: String::new() }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        d.workflow_execution_info.unwrap().status,
        temporalio_protos::temporal::api::enums::v1::WorkflowExecutionStatus::Running as i32
    );
    let task = c.poll_workflow_task_queue(poll_request("tq-huge")).await.unwrap().into_inner();
    assert!(!task.task_token.is_empty());
}

/// Inputs shaped to exhaust a stack: deeply nested, long repeated or long
/// chained visibility queries, and failures with deep cause chains. None
/// may take the server down or leave a run unreadable after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_inputs_are_refused_or_bounded() {
    use temporalio_protos::temporal::api::{command::v1::FailWorkflowExecutionCommandAttributes, failure::v1::Failure};
    let mut server = TestServer::start().await;
    let mut c = client(&server).await;
    let list =
        |query: String| ListWorkflowExecutionsRequest { namespace: "default".into(), query, ..Default::default() };

    let deep = format!("{}WorkflowId = 'a'{}", "(".repeat(2000), ")".repeat(2000));
    let err = c.list_workflow_executions(list(deep)).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("max nesting level reached"), "{}", err.message());

    // Limits as Temporal's: 200 NOTs nest too deep, an OR of 10,000 terms
    // is too deep a tree, and a 2 MB query is too long.
    for (query, message) in [
        (format!("{}WorkflowId = 'a'", "NOT ".repeat(10_000)), "max nesting level reached"),
        (vec!["WorkflowId = 'a'"; 10_000].join(" OR "), "max ast depth reached"),
        (vec!["WorkflowId = 'a'"; 100_000].join(" OR "), "bytes allowed"),
    ] {
        let err = c.list_workflow_executions(list(query)).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        assert!(err.message().contains(message), "{}", err.message());
    }
    c.list_workflow_executions(list(vec!["WorkflowId = 'a'"; 995].join(" OR "))).await.unwrap();

    // A failure nested 95 causes deep (the request decoder allows 100).
    let mut failure = Failure { message: "level 95".into(), ..Default::default() };
    for level in (1..95).rev() {
        failure = Failure { message: format!("level {level}"), cause: Some(Box::new(failure)), ..Default::default() };
    }
    c.start_workflow_execution(start_request("deep-failure", "tq-deep")).await.unwrap();
    let task = c.poll_workflow_task_queue(poll_request("tq-deep")).await.unwrap().into_inner();
    c.respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest {
        namespace: "default".into(),
        task_token: task.task_token,
        commands: vec![Command {
            command_type: CommandType::FailWorkflowExecution as i32,
            attributes: Some(command::Attributes::FailWorkflowExecutionCommandAttributes(
                FailWorkflowExecutionCommandAttributes { failure: Some(failure) },
            )),
            ..Default::default()
        }],
        ..Default::default()
    })
    .await
    .unwrap();

    server.restart().await;
    let mut c = client(&server).await;
    let events = history(&mut c, "deep-failure").await;
    let Some(Attributes::WorkflowExecutionFailedEventAttributes(failed)) = &events.last().unwrap().attributes else {
        panic!("{:?}", types(&events));
    };
    let mut depth = 0;
    let mut f = failed.failure.as_ref();
    while let Some(x) = f {
        depth += 1;
        f = x.cause.as_deref();
    }
    assert_eq!(depth, 32, "the cause chain is cut at 32 levels");
    let described = c
        .describe_workflow_execution(DescribeWorkflowExecutionRequest {
            namespace: "default".into(),
            execution: Some(WorkflowExecution { workflow_id: "deep-failure".into(), run_id: String::new() }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(described.workflow_execution_info.unwrap().status, 3 /* FAILED */);
}

/// Bytes that are not the method's request message are the caller's
/// fault: InvalidArgument (tonic's codec would say Internal), and the
/// server keeps serving.
#[tokio::test]
async fn undecodable_requests_are_invalid_argument() {
    let server = TestServer::start().await;
    let channel = Channel::from_shared(format!("http://{}", server.addr())).unwrap().connect().await.unwrap();
    let mut raw = tonic::client::Grpc::new(channel);
    raw.ready().await.unwrap();
    // Field 1 of StartWorkflowExecutionRequest is a string; a Duration
    // writes it as a varint, which no StartWorkflowExecutionRequest decodes.
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(
        "/temporal.api.workflowservice.v1.WorkflowService/StartWorkflowExecution",
    );
    let codec = tonic_prost::ProstCodec::<prost_types::Duration, StartWorkflowExecutionResponse>::default();
    let status = raw
        .unary(Request::new(prost_types::Duration { seconds: 5, nanos: 0 }), path, codec)
        .await
        .expect_err("undecodable");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().starts_with("failed to decode Protobuf message"), "{status:?}");
    let mut c = client(&server).await;
    c.get_system_info(GetSystemInfoRequest::default()).await.expect("still serving");
}

/// Worker deployment requests Temporal refuses are refused, with its
/// messages, and change nothing.
#[tokio::test]
#[allow(deprecated)] // the older clients' form of a version ("name.build") is checked too
async fn worker_deployment_requests_are_checked() {
    use temporalio_protos::temporal::api::{
        deployment::v1::{WorkerDeploymentOptions, WorkerDeploymentVersion},
        enums::v1::WorkerVersioningMode,
    };
    let server = TestServer::start().await;
    let mut c = client(&server).await;
    let refused = |e: tonic::Status| (e.code(), e.message().to_string());
    let ns = || "default".to_string();

    // A versioned poll names its deployment and build, without '.' or ':'.
    let poll = |name: &str, build: &str| PollActivityTaskQueueRequest {
        namespace: ns(),
        task_queue: Some(TaskQueue { name: "q".into(), ..Default::default() }),
        deployment_options: Some(WorkerDeploymentOptions {
            deployment_name: name.into(),
            build_id: build.into(),
            worker_versioning_mode: WorkerVersioningMode::Versioned as i32,
        }),
        ..Default::default()
    };
    let cases = [
        (poll("", "1"), "versioned worker must have deployment name"),
        (poll("d", ""), "versioned worker must have build id"),
        (poll("d.x", "1"), "deployment name cannot contain ':' or '.'"),
        (poll("d", "__1"), "BuildID cannot start with '__'"),
    ];
    for (request, message) in cases {
        let err = c.poll_activity_task_queue(request).await.unwrap_err();
        assert_eq!(refused(err), (Code::InvalidArgument, message.to_string()));
    }
    let list = ListWorkerDeploymentsRequest { namespace: ns(), ..Default::default() };
    assert!(
        c.list_worker_deployments(list).await.unwrap().into_inner().worker_deployments.is_empty(),
        "none registered"
    );

    let describe = DescribeWorkerDeploymentRequest { namespace: ns(), deployment_name: "nope".into() };
    assert_eq!(
        refused(c.describe_worker_deployment(describe).await.unwrap_err()),
        (
            Code::NotFound,
            "no Worker Deployment found with name 'nope'; does your Worker Deployment have pollers?".into()
        )
    );
    let version =
        DescribeWorkerDeploymentVersionRequest { namespace: ns(), version: "no-dot".into(), ..Default::default() };
    assert_eq!(c.describe_worker_deployment_version(version).await.unwrap_err().code(), Code::InvalidArgument);
    let ramp = SetWorkerDeploymentRampingVersionRequest {
        namespace: ns(),
        deployment_name: "d".into(),
        build_id: "1".into(),
        percentage: 101.0,
        ..Default::default()
    };
    assert_eq!(c.set_worker_deployment_ramping_version(ramp).await.unwrap_err().code(), Code::InvalidArgument);
    let current = SetWorkerDeploymentCurrentVersionRequest {
        namespace: ns(),
        deployment_name: "nope".into(),
        build_id: "1".into(),
        ..Default::default()
    };
    assert_eq!(c.set_worker_deployment_current_version(current).await.unwrap_err().code(), Code::NotFound);
    // Deleting what is not there succeeds, as on Temporal.
    let delete =
        DeleteWorkerDeploymentRequest { namespace: ns(), deployment_name: "nope".into(), identity: "t".into() };
    c.delete_worker_deployment(delete).await.unwrap();
    let delete_version = DeleteWorkerDeploymentVersionRequest {
        namespace: ns(),
        deployment_version: Some(WorkerDeploymentVersion { deployment_name: "nope".into(), build_id: "1".into() }),
        ..Default::default()
    };
    c.delete_worker_deployment_version(delete_version).await.unwrap();

    // UpdateWorkflowExecutionOptions: a mask, known paths, a complete pin.
    c.start_workflow_execution(start_request("opts", "q")).await.unwrap();
    let options = |paths: &[&str], o: Option<temporalio_protos::temporal::api::workflow::v1::VersioningOverride>| {
        UpdateWorkflowExecutionOptionsRequest {
            namespace: ns(),
            workflow_execution: Some(WorkflowExecution { workflow_id: "opts".into(), run_id: String::new() }),
            workflow_execution_options: Some(
                temporalio_protos::temporal::api::workflow::v1::WorkflowExecutionOptions {
                    versioning_override: o,
                    ..Default::default()
                },
            ),
            update_mask: Some(prost_types::FieldMask { paths: paths.iter().map(ToString::to_string).collect() }),
            identity: "t".into(),
        }
    };
    use temporalio_protos::temporal::api::workflow::v1::{VersioningOverride, versioning_override};
    let pin_without_version = VersioningOverride {
        r#override: Some(versioning_override::Override::Pinned(versioning_override::PinnedOverride {
            behavior: versioning_override::PinnedOverrideBehavior::Pinned as i32,
            version: None,
        })),
        ..Default::default()
    };
    assert_eq!(
        c.update_workflow_execution_options(options(&[], None)).await.unwrap_err().code(),
        Code::InvalidArgument
    );
    assert_eq!(
        c.update_workflow_execution_options(options(&["nonsense"], None)).await.unwrap_err().code(),
        Code::InvalidArgument
    );
    assert_eq!(
        refused(
            c.update_workflow_execution_options(options(&["versioning_override"], Some(pin_without_version)))
                .await
                .unwrap_err()
        ),
        (Code::InvalidArgument, "must provide version if override is pinned.".into())
    );
    // Unsetting an override the run does not have changes nothing.
    let unchanged = c.update_workflow_execution_options(options(&["versioning_override"], None)).await.unwrap();
    assert_eq!(unchanged.into_inner().workflow_execution_options.unwrap().versioning_override, None);
    let history = GetWorkflowExecutionHistoryRequest {
        namespace: ns(),
        execution: Some(WorkflowExecution { workflow_id: "opts".into(), run_id: String::new() }),
        ..Default::default()
    };
    let events = c.get_workflow_execution_history(history).await.unwrap().into_inner().history.unwrap().events;
    assert!(events.iter().all(|e| e.event_type != EventType::WorkflowExecutionOptionsUpdated as i32));
}
