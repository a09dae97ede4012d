//! Cancellation: of the workflow (requested by a client, decided by the
//! workflow) and of activities (RequestCancelActivityTask).

use crate::support::*;
use chronicle_engine::{
    Input, Outcome,
    api::{
        command::v1::{CancelWorkflowExecutionCommandAttributes, RequestCancelActivityTaskCommandAttributes},
        enums::v1::{CommandType, EventType as E, WorkflowExecutionStatus, WorkflowTaskFailedCause},
    },
};

fn request_cancel() -> Input {
    Input::RequestCancel { reason: "stop please".into(), identity: "client".into(), external: None }
}

fn cancel_workflow() -> chronicle_engine::api::command::v1::Command {
    command(
        CommandType::CancelWorkflowExecution,
        chronicle_engine::api::command::v1::command::Attributes::CancelWorkflowExecutionCommandAttributes(
            CancelWorkflowExecutionCommandAttributes { details: Some(payloads("bye")) },
        ),
    )
}

fn cancel_activity(scheduled_event_id: i64) -> chronicle_engine::api::command::v1::Command {
    command(
        CommandType::RequestCancelActivityTask,
        chronicle_engine::api::command::v1::command::Attributes::RequestCancelActivityTaskCommandAttributes(
            RequestCancelActivityTaskCommandAttributes { scheduled_event_id },
        ),
    )
}

#[test]
fn cancel_request_is_written_once_and_the_workflow_decides() {
    let mut run = Run::new();
    run.first_wft(vec![start_timer_named("sleep", 60)]);
    let t = run.apply(request_cancel()).unwrap();
    assert_eq!(types(&t.events), vec![E::WorkflowExecutionCancelRequested, E::WorkflowTaskScheduled]);
    let a = attrs!(t.events[0], WorkflowExecutionCancelRequestedEventAttributes);
    assert_eq!((a.cause.as_str(), a.identity.as_str()), ("stop please", "client"));
    let again = run.apply(request_cancel()).unwrap();
    assert!(again.events.is_empty(), "idempotent");
    run.poll_wft();
    let t = run.complete_wft(vec![cancel_timer("sleep"), cancel_workflow()]);
    assert_eq!(types(&t.events), vec![E::WorkflowTaskCompleted, E::TimerCanceled, E::WorkflowExecutionCanceled]);
    assert_eq!(run.state.status(), WorkflowExecutionStatus::Canceled);
    let c = attrs!(t.events[2], WorkflowExecutionCanceledEventAttributes);
    assert_eq!(c.details, Some(payloads("bye")));
}

#[test]
fn canceling_an_activity_no_worker_holds_cancels_it_at_once() {
    let mut run = Run::new();
    run.first_wft(vec![schedule_activity("a")]); // 5: ActivityTaskScheduled
    run.apply(Input::Signal(chronicle_engine::SignalArgs { signal_name: "s".into(), ..Default::default() })).unwrap();
    run.poll_wft();
    let t = run.complete_wft(vec![cancel_activity(5)]);
    assert_eq!(
        types(&t.events),
        vec![
            E::WorkflowTaskCompleted,
            E::ActivityTaskCancelRequested,
            E::ActivityTaskCanceled,
            E::WorkflowTaskScheduled
        ]
    );
    let c = attrs!(t.events[2], ActivityTaskCanceledEventAttributes);
    assert_eq!((c.scheduled_event_id, c.started_event_id), (5, 0));
    assert_eq!(c.latest_cancel_requested_event_id, t.events[1].event_id);
    assert!(run.state.activities.is_empty());
}

#[test]
fn a_running_activity_learns_of_the_cancel_by_heartbeat_and_reports_it() {
    let mut run = Run::new();
    run.first_wft(vec![schedule_activity("a")]);
    run.start_activity(5);
    run.apply(Input::Signal(chronicle_engine::SignalArgs { signal_name: "s".into(), ..Default::default() })).unwrap();
    run.poll_wft();
    let t = run.complete_wft(vec![cancel_activity(5)]);
    assert_eq!(types(&t.events), vec![E::WorkflowTaskCompleted, E::ActivityTaskCancelRequested]);
    let requested_id = t.events[1].event_id;
    let attempt = run.activity(5).attempt;
    let hb = run.apply(Input::ActivityTaskHeartbeat { scheduled_event_id: 5, attempt, details: None }).unwrap();
    assert_eq!(hb.outcome, Outcome::Heartbeat { cancel_requested: true, paused: false, reset: false });
    let t = run
        .apply(Input::ActivityTaskCanceled {
            scheduled_event_id: 5,
            attempt,
            details: Some(payloads("stopped")),
            identity: "act-worker".into(),
        })
        .unwrap();
    assert_eq!(types(&t.events), vec![E::ActivityTaskStarted, E::ActivityTaskCanceled, E::WorkflowTaskScheduled]);
    let c = attrs!(t.events[1], ActivityTaskCanceledEventAttributes);
    assert_eq!(c.latest_cancel_requested_event_id, requested_id);
    assert_eq!(c.started_event_id, t.events[0].event_id);
}

#[test]
fn canceling_an_unknown_activity_fails_the_workflow_task() {
    let mut run = Run::new();
    run.poll_wft();
    let t = run.complete_wft(vec![cancel_activity(99)]);
    let f = attrs!(t.events[0], WorkflowTaskFailedEventAttributes);
    assert_eq!(f.cause, WorkflowTaskFailedCause::BadRequestCancelActivityAttributes as i32);
}

#[test]
fn cancel_workflow_while_a_signal_is_buffered_is_an_unhandled_command() {
    let mut run = Run::new();
    run.poll_wft();
    run.apply(Input::Signal(chronicle_engine::SignalArgs { signal_name: "s".into(), ..Default::default() })).unwrap();
    let t = run.complete_wft(vec![cancel_workflow()]);
    let f = attrs!(t.events[0], WorkflowTaskFailedEventAttributes);
    assert_eq!(f.cause, WorkflowTaskFailedCause::UnhandledCommand as i32);
    assert!(run.state.is_running());
}

#[test]
fn a_failure_after_a_cancel_request_is_not_retried() {
    let mut run = Run::new();
    run.first_wft(vec![schedule_activity("a")]);
    run.start_activity(5);
    run.apply(Input::Signal(chronicle_engine::SignalArgs { signal_name: "s".into(), ..Default::default() })).unwrap();
    run.poll_wft();
    run.complete_wft(vec![cancel_activity(5)]);
    // The default policy retries, but the workflow asked the activity to end.
    let t = run.fail_activity(5, app_failure("boom", "Boom", false));
    assert_eq!(types(&t.events), vec![E::ActivityTaskStarted, E::ActivityTaskFailed, E::WorkflowTaskScheduled]);
    let f = attrs!(t.events[1], ActivityTaskFailedEventAttributes);
    assert_eq!(f.retry_state, chronicle_engine::api::enums::v1::RetryState::CancelRequested as i32);
}
