//! Signals: WorkflowExecutionSignaled, buffering, dedupe, limits,
//! signal-with-start.

use crate::support::*;
use chronicle_engine::{
    EngineError, Input, SignalArgs, StartArgs,
    api::enums::v1::{EventType as E, WorkflowTaskFailedCause},
};

fn signal(name: &str, request_id: &str) -> Input {
    Input::Signal(SignalArgs {
        signal_name: name.into(),
        input: Some(payloads(name)),
        identity: "client".into(),
        header: None,
        request_id: request_id.into(),
        external_workflow_execution: None,
    })
}

#[test]
fn a_signal_is_written_and_schedules_a_workflow_task() {
    let mut run = Run::new();
    run.first_wft(vec![]); // nothing to do until a signal comes
    let t = run.apply(signal("go", "r1")).unwrap();
    assert_eq!(types(&t.events), vec![E::WorkflowExecutionSignaled, E::WorkflowTaskScheduled]);
    let a = attrs!(t.events[0], WorkflowExecutionSignaledEventAttributes);
    assert_eq!((a.signal_name.as_str(), a.identity.as_str()), ("go", "client"));
    assert_eq!(a.input, Some(payloads("go")));
    // A second signal before the task starts joins the same task.
    let t = run.apply(signal("again", "r2")).unwrap();
    assert_eq!(types(&t.events), vec![E::WorkflowExecutionSignaled]);
}

#[test]
fn signals_during_a_workflow_task_are_buffered_in_order() {
    let mut run = Run::new();
    run.poll_wft();
    for i in 0..100 {
        let t = run.apply(signal(&format!("s{i}"), &format!("r{i}"))).unwrap();
        assert!(t.events.is_empty());
    }
    let t = run.complete_wft(vec![]);
    let names: Vec<String> = t
        .events
        .iter()
        .filter(|e| ty(e) == E::WorkflowExecutionSignaled)
        .map(|e| attrs!(e, WorkflowExecutionSignaledEventAttributes).signal_name.clone())
        .collect();
    assert_eq!(names, (0..100).map(|i| format!("s{i}")).collect::<Vec<_>>());
    assert_eq!(ty(t.events.last().unwrap()), E::WorkflowTaskScheduled);
}

#[test]
fn completing_while_a_signal_is_buffered_is_an_unhandled_command() {
    let mut run = Run::new();
    run.poll_wft();
    run.apply(signal("late", "r1")).unwrap();
    let t = run.complete_wft(vec![complete_workflow("done")]);
    assert_eq!(types(&t.events), vec![E::WorkflowTaskFailed, E::WorkflowExecutionSignaled, E::WorkflowTaskScheduled]);
    let f = attrs!(t.events[0], WorkflowTaskFailedEventAttributes);
    assert_eq!(f.cause, WorkflowTaskFailedCause::UnhandledCommand as i32);
    assert!(run.state.is_running());
}

#[test]
fn a_repeated_request_id_is_delivered_once() {
    let mut run = Run::new();
    run.apply(signal("once", "same")).unwrap();
    let t = run.apply(signal("once", "same")).unwrap();
    assert!(t.events.is_empty());
    assert_eq!(run.history.iter().filter(|e| ty(e) == E::WorkflowExecutionSignaled).count(), 1);
}

#[test]
fn the_signal_limit_is_enforced() {
    let mut run = Run::new();
    run.state.signal_count = 10_000;
    match run.apply_err(signal("one-too-many", "r")) {
        EngineError::InvalidArgument(m) => assert!(m.contains("10000"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn signals_to_a_closed_run_are_refused() {
    let mut run = Run::new();
    run.first_wft(vec![complete_workflow("done")]);
    assert_eq!(run.apply_err(signal("late", "r")), EngineError::WorkflowClosed);
}

#[test]
fn signal_with_start_writes_the_signal_before_the_first_workflow_task() {
    let (run, t) = Run::start_with(StartArgs {
        signal: Some(SignalArgs { signal_name: "hello".into(), request_id: "r".into(), ..Default::default() }),
        ..args()
    });
    assert_eq!(
        types(&t.events),
        vec![E::WorkflowExecutionStarted, E::WorkflowExecutionSignaled, E::WorkflowTaskScheduled]
    );
    assert_eq!(run.state.signal_count, 1);
}
