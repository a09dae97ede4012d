//! `start`: WorkflowExecutionStarted + the first WorkflowTaskScheduled.

use crate::support::*;
use chronicle_engine::api::enums::v1::{EventType, TaskQueueKind, WorkflowExecutionStatus};
use chronicle_engine::{Outcome, StartArgs, TimerKind, TimerTask, start};

#[test]
fn start_writes_started_and_first_workflow_task() {
    let t = start(StartArgs { input: Some(payloads("in")), ..args() }, at(0));

    assert_eq!(ids(&t.events), vec![1, 2]);
    assert_eq!(types(&t.events), vec![EventType::WorkflowExecutionStarted, EventType::WorkflowTaskScheduled]);
    for e in &t.events {
        assert_eq!(e.event_time, Some(at(0)));
        assert_eq!(e.task_id, e.event_id);
    }

    let started = attrs!(t.events[0], WorkflowExecutionStartedEventAttributes);
    assert_eq!(started.attempt, 1);
    assert_eq!(started.original_execution_run_id, RUN_ID);
    assert_eq!(started.first_execution_run_id, RUN_ID);
    assert_eq!(started.workflow_task_timeout, Some(secs(10)), "defaulted to 10 s");
    assert_eq!(started.workflow_type.as_ref().unwrap().name, "MyWorkflow");
    assert_eq!(started.task_queue.as_ref().unwrap().name, TQ);
    assert_eq!(started.task_queue.as_ref().unwrap().kind, TaskQueueKind::Normal as i32);
    assert_eq!(started.identity, "client");
    assert_eq!(started.workflow_id, "wf-1");
    assert_eq!(started.input, Some(payloads("in")));
    assert_eq!(started.workflow_execution_expiration_time, None);

    let scheduled = attrs!(t.events[1], WorkflowTaskScheduledEventAttributes);
    assert_eq!(scheduled.attempt, 1);
    assert_eq!(scheduled.start_to_close_timeout, Some(secs(10)));
    assert_eq!(scheduled.task_queue.as_ref().unwrap().name, TQ);

    assert_eq!(t.tasks, vec![wft_task(2, 1)]);
    assert_eq!(t.outcome, Outcome::None);

    let s = &t.state;
    assert_eq!(s.next_event_id, 3);
    assert_eq!(s.db_version, 1);
    assert_eq!(s.status(), WorkflowExecutionStatus::Running);
    assert_eq!(s.start_time, Some(at(0)));
    assert_eq!(s.start_request_id, "start-req");
    assert_eq!(s.run_expiration_time, None);
    assert_eq!(s.last_completed_wft_started_event_id, 0);
    let wt = s.workflow_task.as_ref().unwrap();
    assert_eq!((wt.scheduled_event_id, wt.started_event_id, wt.attempt, wt.transient), (2, 0, 1, false));
    assert_eq!(s.pending_tasks(), t.tasks, "pending work is a function of the state");
}

#[test]
fn explicit_workflow_task_timeout_is_kept() {
    let t = start(StartArgs { task_timeout: Some(secs(20)), ..args() }, at(0));
    let started = attrs!(t.events[0], WorkflowExecutionStartedEventAttributes);
    assert_eq!(started.workflow_task_timeout, Some(secs(20)));
}

#[test]
fn workflow_task_timeout_is_capped_at_120s() {
    let t = start(StartArgs { task_timeout: Some(secs(600)), ..args() }, at(0));
    let started = attrs!(t.events[0], WorkflowExecutionStartedEventAttributes);
    assert_eq!(started.workflow_task_timeout, Some(secs(120)));
    let scheduled = attrs!(t.events[1], WorkflowTaskScheduledEventAttributes);
    assert_eq!(scheduled.start_to_close_timeout, Some(secs(120)));
}

#[test]
fn workflow_task_timeout_is_capped_by_run_timeout() {
    let t = start(StartArgs { run_timeout: Some(secs(5)), ..args() }, at(0));
    let started = attrs!(t.events[0], WorkflowExecutionStartedEventAttributes);
    assert_eq!(started.workflow_task_timeout, Some(secs(5)));
    assert_eq!(started.workflow_run_timeout, Some(secs(5)));
    assert_eq!(t.state.run_expiration_time, Some(at(5)));
    assert_eq!(workflow_tasks(&t.tasks).len(), 1, "exactly one workflow task");
    assert_eq!(timers(&t.tasks), vec![TimerTask { fire_at: at(5), kind: TimerKind::WorkflowRunTimeout }]);
}

#[test]
fn run_timeout_defaults_to_and_is_capped_by_execution_timeout() {
    let cases = [(None, Some(60)), (Some(120), Some(60)), (Some(30), Some(30))];
    for (run, expected) in cases {
        let t = start(StartArgs { execution_timeout: Some(secs(60)), run_timeout: run.map(secs), ..args() }, at(0));
        let started = attrs!(t.events[0], WorkflowExecutionStartedEventAttributes);
        assert_eq!(started.workflow_run_timeout, expected.map(secs), "run timeout {run:?}");
        assert_eq!(started.workflow_execution_timeout, Some(secs(60)));
        assert_eq!(started.workflow_execution_expiration_time, Some(at(60)));
        assert_eq!(t.state.run_expiration_time, expected.map(at));
    }
}

fn eager() -> StartArgs {
    StartArgs { eager: true, ..args() }
}

#[test]
fn eager_start_starts_the_first_workflow_task_in_the_same_batch() {
    let t = start(eager(), at(0));
    assert_eq!(
        types(&t.events),
        vec![EventType::WorkflowExecutionStarted, EventType::WorkflowTaskScheduled, EventType::WorkflowTaskStarted]
    );
    assert!(attrs!(t.events[0], WorkflowExecutionStartedEventAttributes).eager_execution_accepted);
    // Started for the caller: the start's identity and request id.
    let started = attrs!(t.events[2], WorkflowTaskStartedEventAttributes);
    assert_eq!((started.scheduled_event_id, started.identity.as_str()), (2, "client"));
    assert_eq!(started.request_id, "start-req");
    assert_eq!(started.history_size_bytes, 0, "nothing is stored before the batch, as on Temporal");
    let size: usize = t.events.iter().map(prost::Message::encoded_len).sum();
    assert_eq!(t.state.history_size_bytes, size as i64);
    assert!(t.events.iter().all(|e| e.event_time == Some(at(0))));
    // Never queued; its start-to-close timeout runs.
    let timeout =
        TimerTask { fire_at: at(10), kind: TimerKind::WorkflowTaskTimeout { scheduled_event_id: 2, attempt: 1 } };
    assert_eq!(t.tasks, vec![chronicle_engine::Task::Timer(timeout)]);
    assert_eq!(t.outcome, Outcome::WorkflowTaskStarted { started_event_id: 3, transient_events: vec![] });
    let wt = t.state.workflow_task.as_ref().unwrap();
    assert_eq!((wt.scheduled_event_id, wt.started_event_id, wt.attempt), (2, 3, 1));
    assert_eq!(wt.started_time, Some(at(0)));
    assert_eq!(t.state.next_event_id, 4);
    assert_eq!(t.state.pending_tasks(), t.tasks, "pending work is a function of the state");
}

#[test]
fn an_eager_task_is_completed_like_a_polled_one() {
    let (mut run, _) = Run::start_with(eager());
    let t = run.complete_wft(vec![complete_workflow("done")]);
    assert_eq!(types(&t.events), vec![EventType::WorkflowTaskCompleted, EventType::WorkflowExecutionCompleted]);
    assert_eq!(attrs!(t.events[0], WorkflowTaskCompletedEventAttributes).started_event_id, 3);
    assert_eq!(run.state.status(), WorkflowExecutionStatus::Completed);
}

#[test]
fn an_eager_task_that_times_out_is_retried_through_its_queue() {
    let (mut run, _) = Run::start_with(eager());
    run.set_time(10);
    let input = run.wft_timeout_timer();
    let t = run.apply(input).unwrap();
    assert_eq!(types(&t.events), vec![EventType::WorkflowTaskTimedOut]);
    // The retry is transient (attempt 2) and goes to the normal queue.
    assert_eq!(t.tasks, vec![wft_task(5, 2)]);
}

#[test]
fn eager_start_is_declined_when_the_first_task_waits() {
    // A start delay, a cron schedule: the task is due later, through the queue.
    let delayed = StartArgs {
        continued: Some(chronicle_engine::Continued { backoff: Some(secs(30)), ..Default::default() }),
        ..eager()
    };
    let cron = StartArgs { cron_schedule: "0 0 1 1 *".into(), ..eager() };
    for args in [delayed, cron] {
        let t = start(args, at(0));
        assert_eq!(types(&t.events), vec![EventType::WorkflowExecutionStarted]);
        assert!(!attrs!(t.events[0], WorkflowExecutionStartedEventAttributes).eager_execution_accepted);
        assert!(t.state.workflow_task.is_none());
    }
}

#[test]
fn a_child_is_never_started_eagerly() {
    let parent = chronicle_engine::ParentInfo {
        namespace: "default".into(),
        execution: chronicle_engine::api::common::v1::WorkflowExecution { workflow_id: "p".into(), run_id: "r".into() },
        initiated_event_id: 5,
        ..Default::default()
    };
    let t = start(StartArgs { parent: Some(parent), ..eager() }, at(0));
    assert_eq!(types(&t.events), vec![EventType::WorkflowExecutionStarted, EventType::WorkflowTaskScheduled]);
    assert_eq!(t.tasks.first(), Some(&wft_task(2, 1)));
}
