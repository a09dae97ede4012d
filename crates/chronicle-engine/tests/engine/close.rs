//! Closing a run: complete/fail commands, unhandled-command rejection,
//! terminate, run timeout; closed runs reject everything.

use crate::support::*;
use chronicle_engine::api::enums::v1::{EventType, RetryState, WorkflowExecutionStatus, WorkflowTaskFailedCause};
use chronicle_engine::{EngineError, Input, Outcome, StartArgs, TimerKind};

fn terminate() -> Input {
    Input::Terminate { reason: "stop".into(), details: Some(payloads("why")), identity: "admin".into() }
}

/// Every kind of input a closed run must refuse.
fn assert_closed_rejects_everything(run: &mut Run) {
    assert!(run.state.pending_tasks().is_empty(), "a closed run has no pending work");
    let closed = [
        Input::WorkflowTaskStarted {
            target_version_changed: false,
            routing_revision: 0,
            scheduled_event_id: 2,
            attempt: 1,
            identity: "w".into(),
            request_id: "r".into(),
            worker_version: None,
        },
        Input::ActivityTaskStarted {
            scheduled_event_id: 5,
            attempt: 1,
            identity: "w".into(),
            request_id: "r".into(),
            worker_version: None,
        },
        Input::ActivityTaskCompleted { scheduled_event_id: 5, attempt: 1, result: None, identity: "w".into() },
        Input::ActivityTaskHeartbeat { scheduled_event_id: 5, attempt: 1, details: None },
        terminate(),
    ];
    for input in closed {
        assert_eq!(run.apply_err(input), EngineError::WorkflowClosed);
    }
    for timer in [
        TimerKind::WorkflowRunTimeout,
        TimerKind::WorkflowTaskTimeout { scheduled_event_id: 2, attempt: 1 },
        TimerKind::ActivityTimeout {
            scheduled_event_id: 5,
            attempt: 1,
            timeout_type: chronicle_engine::api::enums::v1::TimeoutType::StartToClose,
        },
    ] {
        assert_eq!(run.apply_err(Input::TimerFired(timer)), EngineError::StaleTimer);
    }
}

#[test]
fn complete_workflow_execution_closes_the_run() {
    let mut run = Run::new();
    run.poll_wft();
    run.advance(2);
    let t = run.complete_wft(vec![complete_workflow("done")]);
    assert_eq!(ids(&t.events), vec![4, 5]);
    assert_eq!(types(&t.events), vec![EventType::WorkflowTaskCompleted, EventType::WorkflowExecutionCompleted]);
    let c = attrs!(t.events[1], WorkflowExecutionCompletedEventAttributes);
    assert_eq!(c.workflow_task_completed_event_id, 4);
    assert_eq!(c.result, Some(payloads("done")));
    assert!(t.tasks.is_empty());
    assert_eq!(run.state.status(), WorkflowExecutionStatus::Completed);
    assert_eq!(run.state.close_event_id, 5);
    assert_eq!(run.state.close_time, Some(at(2)));
    assert_eq!(run.state.workflow_task, None);
    assert_closed_rejects_everything(&mut run);
}

#[test]
fn completing_a_task_of_a_closed_run_is_rejected() {
    let mut run = Run::new();
    run.poll_wft();
    let stale = run.completion(vec![complete_workflow("again")]);
    run.complete_wft(vec![complete_workflow("done")]);
    assert_eq!(run.apply_err(Input::WorkflowTaskCompleted(Box::new(stale))), EngineError::WorkflowClosed);
}

#[test]
fn fail_workflow_execution_closes_the_run() {
    let mut run = Run::new();
    let t = run.first_wft(vec![fail_workflow("bad")]);
    assert_eq!(types(&t.events), vec![EventType::WorkflowTaskCompleted, EventType::WorkflowExecutionFailed]);
    let f = attrs!(t.events[1], WorkflowExecutionFailedEventAttributes);
    assert_eq!(f.failure.as_ref().unwrap().message, "bad");
    assert_eq!(f.workflow_task_completed_event_id, 4);
    assert_eq!(f.retry_state, RetryState::RetryPolicyNotSet as i32);
    assert_eq!(run.state.status(), WorkflowExecutionStatus::Failed);
    assert_eq!(run.state.close_event_id, 5);
}

#[test]
fn schedule_then_complete_in_one_task_closes_with_no_pending_activity() {
    let mut run = Run::new();
    let t = run.first_wft(vec![schedule_activity("a1"), complete_workflow("done")]);
    assert_eq!(
        types(&t.events),
        vec![EventType::WorkflowTaskCompleted, EventType::ActivityTaskScheduled, EventType::WorkflowExecutionCompleted]
    );
    assert_eq!(run.state.close_event_id, 6);
    assert!(run.state.activities.is_empty());
    assert_closed_rejects_everything(&mut run);
}

#[test]
fn close_command_while_events_are_buffered_is_an_unhandled_command() {
    let mut run = Run::new();
    run.first_wft(vec![schedule_activity("a"), schedule_activity("b")]); // 4, 5, 6
    run.start_activity(5);
    run.start_activity(6);
    run.complete_activity(5, "ra"); // 7, 8, 9
    run.poll_wft(); // 10
    run.complete_activity(6, "rb"); // buffered
    assert_eq!(run.state.buffered_events.len(), 2);

    let t = run.complete_wft(vec![complete_workflow("done")]);
    assert_eq!(t.outcome, Outcome::WorkflowTaskRejected { message: "UnhandledCommand".into() });
    assert_eq!(ids(&t.events), vec![11, 12, 13, 14]);
    assert_eq!(
        types(&t.events),
        vec![
            EventType::WorkflowTaskFailed,
            EventType::ActivityTaskStarted,
            EventType::ActivityTaskCompleted,
            EventType::WorkflowTaskScheduled,
        ]
    );
    let f = attrs!(t.events[0], WorkflowTaskFailedEventAttributes);
    assert_eq!((f.scheduled_event_id, f.started_event_id), (9, 10));
    assert_eq!(f.cause, WorkflowTaskFailedCause::UnhandledCommand as i32);
    assert_eq!(attrs!(t.events[2], ActivityTaskCompletedEventAttributes).started_event_id, 12);
    assert_eq!(attrs!(t.events[3], WorkflowTaskScheduledEventAttributes).attempt, 1);
    assert_eq!(run.state.status(), WorkflowExecutionStatus::Running);
    let wt = run.wft();
    assert_eq!((wt.scheduled_event_id, wt.attempt, wt.transient), (14, 1, false));
    assert!(run.state.buffered_events.is_empty());

    // The worker, having seen the new events, may now complete.
    run.poll_wft();
    let t = run.complete_wft(vec![complete_workflow("done")]);
    assert_eq!(types(&t.events), vec![EventType::WorkflowTaskCompleted, EventType::WorkflowExecutionCompleted]);
}

#[test]
fn terminate_with_a_started_workflow_task() {
    let mut run = Run::new();
    run.poll_wft();
    run.advance(3);
    let t = run.apply(terminate()).unwrap();
    assert_eq!(ids(&t.events), vec![4, 5]);
    assert_eq!(types(&t.events), vec![EventType::WorkflowTaskFailed, EventType::WorkflowExecutionTerminated]);
    let f = attrs!(t.events[0], WorkflowTaskFailedEventAttributes);
    assert_eq!((f.scheduled_event_id, f.started_event_id), (2, 3));
    assert_eq!(f.cause, WorkflowTaskFailedCause::ForceCloseCommand as i32);
    let term = attrs!(t.events[1], WorkflowExecutionTerminatedEventAttributes);
    assert_eq!(term.reason, "stop");
    assert_eq!(term.identity, "admin");
    assert_eq!(term.details, Some(payloads("why")));
    assert!(t.tasks.is_empty());
    assert_eq!(run.state.status(), WorkflowExecutionStatus::Terminated);
    assert_eq!(run.state.close_event_id, 5);
    assert_eq!(run.state.close_time, Some(at(3)));
    assert_closed_rejects_everything(&mut run);
}

#[test]
fn terminate_with_a_scheduled_workflow_task_writes_only_terminated() {
    let mut run = Run::new();
    let t = run.apply(terminate()).unwrap();
    assert_eq!(ids(&t.events), vec![3]);
    assert_eq!(types(&t.events), vec![EventType::WorkflowExecutionTerminated]);
    assert_eq!(run.state.close_event_id, 3);
}

#[test]
fn terminate_with_a_started_transient_task_persists_it_first() {
    let mut run = Run::new();
    run.poll_wft();
    run.fail_wft(); // 4; transient attempt 2 at 5
    run.poll_wft();
    let t = run.apply(terminate()).unwrap();
    assert_eq!(ids(&t.events), vec![5, 6, 7, 8]);
    assert_eq!(
        types(&t.events),
        vec![
            EventType::WorkflowTaskScheduled,
            EventType::WorkflowTaskStarted,
            EventType::WorkflowTaskFailed,
            EventType::WorkflowExecutionTerminated,
        ]
    );
    let f = attrs!(t.events[2], WorkflowTaskFailedEventAttributes);
    assert_eq!((f.scheduled_event_id, f.started_event_id), (5, 6));
}

#[test]
fn terminate_flushes_buffered_events_first() {
    let mut run = Run::new();
    run.first_wft(vec![schedule_activity("a"), schedule_activity("b")]);
    run.start_activity(5);
    run.start_activity(6);
    run.complete_activity(5, "ra"); // 7, 8, 9
    run.poll_wft(); // 10
    run.complete_activity(6, "rb");
    let t = run.apply(terminate()).unwrap();
    assert_eq!(
        types(&t.events),
        vec![
            EventType::WorkflowTaskFailed,
            EventType::ActivityTaskStarted,
            EventType::ActivityTaskCompleted,
            EventType::WorkflowExecutionTerminated,
        ]
    );
    assert_eq!(attrs!(t.events[2], ActivityTaskCompletedEventAttributes).started_event_id, 12);
    assert_eq!(run.state.close_event_id, 14);
    assert!(run.state.buffered_events.is_empty());
}

#[test]
fn run_timeout_times_the_run_out() {
    let (mut run, t) = Run::start_with(StartArgs { run_timeout: Some(secs(100)), ..args() });
    assert!(timers(&t.tasks).iter().any(|t| t.kind == TimerKind::WorkflowRunTimeout && t.fire_at == at(100)));
    run.poll_wft();

    run.set_time(50);
    assert_eq!(run.apply_err(Input::TimerFired(TimerKind::WorkflowRunTimeout)), EngineError::StaleTimer, "not due");

    run.set_time(100);
    let t = run.apply(Input::TimerFired(TimerKind::WorkflowRunTimeout)).unwrap();
    assert_eq!(ids(&t.events), vec![4, 5]);
    assert_eq!(types(&t.events), vec![EventType::WorkflowTaskFailed, EventType::WorkflowExecutionTimedOut]);
    assert_eq!(
        attrs!(t.events[0], WorkflowTaskFailedEventAttributes).cause,
        WorkflowTaskFailedCause::ForceCloseCommand as i32
    );
    // Without a retry policy (and the execution itself not expired), as Temporal.
    assert_eq!(
        attrs!(t.events[1], WorkflowExecutionTimedOutEventAttributes).retry_state,
        RetryState::RetryPolicyNotSet as i32
    );
    assert_eq!(run.state.status(), WorkflowExecutionStatus::TimedOut);
    assert_eq!(run.state.close_event_id, 5);
    assert_closed_rejects_everything(&mut run);
}

#[test]
fn run_timeout_without_a_started_task() {
    let mut run = Run::with_run_timeout(100);
    run.set_time(100);
    let t = run.apply(Input::TimerFired(TimerKind::WorkflowRunTimeout)).unwrap();
    assert_eq!(types(&t.events), vec![EventType::WorkflowExecutionTimedOut]);
    assert_eq!(run.state.close_event_id, 3);
}

#[test]
fn run_timeout_timer_of_a_run_without_timeout_is_stale() {
    let mut run = Run::new();
    run.set_time(1_000_000);
    assert_eq!(run.apply_err(Input::TimerFired(TimerKind::WorkflowRunTimeout)), EngineError::StaleTimer);
}
