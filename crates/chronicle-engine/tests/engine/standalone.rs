//! Standalone activities: a run whose only work is one activity. Its
//! outcome closes the run; a client's cancel and terminate reach the
//! activity; the run takes nothing a workflow would.

use crate::support::*;
use chronicle_engine::api::{
    activity::v1::activity_execution_outcome::Value,
    enums::v1::{EventType, RetryState, TimeoutType, WorkflowExecutionStatus},
    failure::v1::failure::FailureInfo,
};
use chronicle_engine::{ActivityStart, EngineError, Input, SignalArgs, StandaloneRequest, StartArgs, Task, TimerKind};

/// A standalone activity (scheduled at event 2) on queue "tq".
fn standalone(start_delay: Option<i64>) -> Run {
    let mut attrs = activity_attrs("a1");
    attrs.retry_policy = Some(retry_policy(3));
    let args = StartArgs {
        workflow_id: "\u{1f}activity\u{1f}a1".into(),
        workflow_type: "Act".into(),
        activity: Some(Box::new(ActivityStart { attrs, start_delay: start_delay.map(secs) })),
        ..args()
    };
    let (run, t) = Run::start_with(args);
    assert_eq!(types(&t.events), vec![EventType::WorkflowExecutionStarted, EventType::ActivityTaskScheduled]);
    assert!(run.state.workflow_task.is_none(), "no workflow task: there is no workflow");
    assert!(run.state.standalone.is_some());
    run
}

fn outcome(run: &Run) -> Value {
    run.state.standalone.as_ref().and_then(|s| s.outcome.clone()).and_then(|o| o.value).expect("closed with an outcome")
}

fn cancel(request_id: &str) -> Input {
    Input::Standalone(StandaloneRequest::Cancel {
        reason: "why".into(),
        identity: "cli".into(),
        request_id: request_id.into(),
    })
}

#[test]
fn retries_then_completion_close_the_run_with_the_result() {
    let mut run = standalone(None);
    assert_eq!(activity_dispatches(&run.state.pending_tasks()).len(), 1);
    run.start_activity(2);
    let t = run.fail_activity(2, app_failure("boom", "E", false));
    assert!(t.events.is_empty(), "a retry writes nothing");
    assert_eq!(run.activity(2).attempt, 2);
    run.set_time(5);
    run.start_activity(2);
    let t = run.complete_activity(2, "done");
    assert_eq!(
        types(&t.events),
        vec![EventType::ActivityTaskStarted, EventType::ActivityTaskCompleted, EventType::WorkflowExecutionCompleted]
    );
    assert_eq!(run.state.status(), WorkflowExecutionStatus::Completed);
    assert_eq!(run.state.close_event_id, run.state.next_event_id - 1);
    assert_eq!(outcome(&run), Value::Result(payloads("done")));
    let s = run.state.standalone.clone().unwrap();
    assert_eq!(s.last.map(|a| a.attempt), Some(2), "describe shows the last attempt");
    assert!(t.tasks.iter().all(|task| !matches!(task, Task::WorkflowTask { .. })));
}

#[test]
fn a_final_failure_is_the_outcome_as_the_worker_sent_it() {
    let mut run = standalone(None);
    run.start_activity(2);
    run.fail_activity(2, app_failure("fatal", "F", true));
    assert_eq!(run.state.status(), WorkflowExecutionStatus::Failed);
    let Value::Failure(f) = outcome(&run) else { panic!("a failure") };
    assert_eq!(f.message, "fatal");
    let o = run.state.standalone.as_ref().unwrap().outcome.clone().unwrap();
    assert_eq!(o.retry_state(), RetryState::NonRetryableFailure);
}

#[test]
fn a_schedule_to_start_timeout_times_the_run_out() {
    let mut run = standalone(None);
    let s2s = run.activity(2).schedule_to_start_timeout.unwrap();
    run.advance(s2s.seconds + 1);
    run.apply(Input::TimerFired(TimerKind::ActivityTimeout {
        scheduled_event_id: 2,
        attempt: 1,
        timeout_type: TimeoutType::ScheduleToStart,
    }))
    .unwrap();
    assert_eq!(run.state.status(), WorkflowExecutionStatus::TimedOut);
    let Value::Failure(f) = outcome(&run) else { panic!("a failure") };
    assert_eq!(f.message, "activity ScheduleToStart timeout");
    assert!(f.source.is_empty(), "the activity's own failure, not a workflow's view of it");
}

#[test]
fn cancel_before_a_worker_holds_it_cancels_at_once() {
    let mut run = standalone(None);
    let t = run.apply(cancel("c1")).unwrap();
    assert_eq!(
        types(&t.events),
        vec![
            EventType::ActivityTaskCancelRequested,
            EventType::ActivityTaskCanceled,
            EventType::WorkflowExecutionCanceled
        ]
    );
    assert_eq!(run.state.status(), WorkflowExecutionStatus::Canceled);
    let Value::Failure(f) = outcome(&run) else { panic!("a failure") };
    let Some(FailureInfo::CanceledFailureInfo(info)) = f.failure_info else { panic!("canceled") };
    assert_eq!(info.identity, "cli");
    assert_eq!(info.details.unwrap().payloads[0].data, b"\"why\"");
    assert_eq!(run.state.standalone.as_ref().unwrap().canceled_reason, "why");
}

#[test]
fn cancel_of_a_running_one_waits_for_its_worker() {
    let mut run = standalone(None);
    run.start_activity(2);
    // Canceled is an answer to a cancel request only.
    let early = Input::ActivityTaskCanceled { scheduled_event_id: 2, attempt: 1, details: None, identity: "w".into() };
    assert_eq!(run.apply_err(early), EngineError::FailedPrecondition("invalid transition from Started".into()));
    run.apply(cancel("c1")).unwrap();
    assert!(run.state.is_running());
    assert!(run.activity(2).cancel_requested);
    // The same request again is a no-op; another is refused.
    run.apply(cancel("c1")).unwrap();
    assert!(matches!(run.apply_err(cancel("c2")), EngineError::FailedPrecondition(m) if m.contains("c1")));
    // A failure now is final: no retry after a cancel request.
    run.fail_activity(2, app_failure("late", "E", false));
    assert_eq!(run.state.status(), WorkflowExecutionStatus::Failed);
}

#[test]
fn terminate_closes_it_with_the_reason() {
    let mut run = standalone(None);
    run.start_activity(2);
    run.apply(Input::Standalone(StandaloneRequest::Terminate {
        reason: "stop".into(),
        identity: "op".into(),
        request_id: "t1".into(),
    }))
    .unwrap();
    assert_eq!(run.state.status(), WorkflowExecutionStatus::Terminated);
    let Value::Failure(f) = outcome(&run) else { panic!("a failure") };
    assert_eq!(f.message, "stop");
    assert!(matches!(f.failure_info, Some(FailureInfo::TerminatedFailureInfo(_))));
    assert_eq!(run.state.standalone.as_ref().unwrap().terminate_request_id, "t1");
    // The worker's late answer names nothing.
    let late = Input::ActivityTaskCompleted { scheduled_event_id: 2, attempt: 1, result: None, identity: "w".into() };
    assert_eq!(run.apply_err(late), EngineError::WorkflowClosed);
}

#[test]
fn the_run_takes_nothing_a_workflow_would() {
    let mut run = standalone(None);
    let signal = Input::Signal(SignalArgs { signal_name: "s".into(), ..Default::default() });
    assert!(matches!(run.apply_err(signal), EngineError::NotFound(_)));
    let cancel_workflow = Input::RequestCancel { reason: "r".into(), identity: "i".into(), external: None };
    assert!(matches!(run.apply_err(cancel_workflow), EngineError::NotFound(_)));
    // And a workflow's run takes no standalone request.
    let mut workflow = Run::new();
    assert!(matches!(workflow.apply_err(cancel("c")), EngineError::NotFound(_)));
}

#[test]
fn a_start_delay_holds_the_first_attempt_back() {
    let run = standalone(Some(30));
    let dispatches = activity_dispatches(&run.state.pending_tasks());
    assert_eq!(dispatches.len(), 1);
    assert_eq!(dispatches[0].visible_at, at(30));
    assert_eq!(run.state.standalone.as_ref().unwrap().start_delay, Some(secs(30)));
}
