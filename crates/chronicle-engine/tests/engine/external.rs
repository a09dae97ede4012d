//! Signals and cancel requests to other workflows.

use crate::support::*;
use chronicle_engine::{
    Input, Task,
    api::{
        command::v1::{
            RequestCancelExternalWorkflowExecutionCommandAttributes, SignalExternalWorkflowExecutionCommandAttributes,
            command::Attributes as C,
        },
        common::v1::WorkflowExecution,
        enums::v1::{CommandType, EventType as E, SignalExternalWorkflowExecutionFailedCause},
    },
};

fn signal_external(workflow_id: &str) -> chronicle_engine::api::command::v1::Command {
    command(
        CommandType::SignalExternalWorkflowExecution,
        C::SignalExternalWorkflowExecutionCommandAttributes(SignalExternalWorkflowExecutionCommandAttributes {
            execution: Some(WorkflowExecution { workflow_id: workflow_id.into(), run_id: String::new() }),
            signal_name: "ping".into(),
            input: Some(payloads("hi")),
            ..Default::default()
        }),
    )
}

fn cancel_external(workflow_id: &str) -> chronicle_engine::api::command::v1::Command {
    command(
        CommandType::RequestCancelExternalWorkflowExecution,
        C::RequestCancelExternalWorkflowExecutionCommandAttributes(
            RequestCancelExternalWorkflowExecutionCommandAttributes {
                workflow_id: workflow_id.into(),
                reason: "enough".into(),
                ..Default::default()
            },
        ),
    )
}

#[test]
fn signal_external_is_initiated_then_recorded_as_signaled() {
    let mut run = Run::new();
    let t = run.first_wft(vec![signal_external("other")]);
    assert_eq!(types(&t.events), vec![E::WorkflowTaskCompleted, E::SignalExternalWorkflowExecutionInitiated]);
    assert!(t.tasks.contains(&Task::External { initiated_event_id: 5 }));
    assert!(run.state.pending_tasks().contains(&Task::External { initiated_event_id: 5 }), "recovered after a crash");
    let t = run.apply(Input::ExternalRequestDone { initiated_event_id: 5, delivered: true }).unwrap();
    assert_eq!(types(&t.events), vec![E::ExternalWorkflowExecutionSignaled, E::WorkflowTaskScheduled]);
    let a = attrs!(t.events[0], ExternalWorkflowExecutionSignaledEventAttributes);
    assert_eq!(a.initiated_event_id, 5);
    assert_eq!(a.workflow_execution.as_ref().unwrap().workflow_id, "other");
    assert!(run.state.external_requests.is_empty());
}

#[test]
fn a_missing_target_fails_the_signal_and_the_cancel() {
    let mut run = Run::new();
    run.first_wft(vec![signal_external("nobody"), cancel_external("nobody")]);
    let t = run.apply(Input::ExternalRequestDone { initiated_event_id: 5, delivered: false }).unwrap();
    let f = attrs!(t.events[0], SignalExternalWorkflowExecutionFailedEventAttributes);
    assert_eq!(f.cause, SignalExternalWorkflowExecutionFailedCause::ExternalWorkflowExecutionNotFound as i32);
    let t = run.apply(Input::ExternalRequestDone { initiated_event_id: 6, delivered: false }).unwrap();
    assert_eq!(ty(&t.events[0]), E::RequestCancelExternalWorkflowExecutionFailed);
}

#[test]
fn bad_external_commands_fail_the_workflow_task() {
    let mut run = Run::new();
    run.poll_wft();
    let t = run.complete_wft(vec![signal_external("")]);
    assert_eq!(ty(&t.events[0]), E::WorkflowTaskFailed);
}
