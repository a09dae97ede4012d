//! Continue-as-new and workflow retries: the closing run's event, the new
//! run it starts in the same transition, and what the chain carries.

use crate::support::*;
use chronicle_engine::{
    Input, StartArgs, TimerKind,
    api::{
        common::v1::{Memo, RetryPolicy},
        enums::v1::{ContinueAsNewInitiator, EventType as E, RetryState, WorkflowExecutionStatus},
    },
};

#[test]
fn continue_as_new_closes_the_run_and_starts_the_next() {
    let memo = Memo { fields: [("k".to_string(), payloads("v").payloads[0].clone())].into() };
    let (mut run, _) =
        Run::start_with(StartArgs { memo: Some(memo.clone()), execution_timeout: Some(secs(3600)), ..args() });
    let t = run.first_wft(vec![continue_as_new("round-2")]);
    assert_eq!(types(&t.events), vec![E::WorkflowTaskCompleted, E::WorkflowExecutionContinuedAsNew]);
    assert_eq!(run.state.status(), WorkflowExecutionStatus::ContinuedAsNew);
    let a = attrs!(t.events[1], WorkflowExecutionContinuedAsNewEventAttributes);
    let next = t.new_run.clone().expect("the next run");
    assert_eq!(a.new_execution_run_id, next.state.run_id);
    assert_eq!(a.initiator, ContinueAsNewInitiator::Unspecified as i32, "as the command has it");
    assert_eq!(a.workflow_run_timeout, Some(secs(3600)), "the run timeout defaults to the execution timeout");
    assert_eq!(a.task_queue.as_ref().unwrap().name, TQ);
    assert_eq!(run.state.new_execution_run_id, next.state.run_id);
    // The new run: same id, carried input, memo, task queue, chain ids.
    assert_eq!(next.state.workflow_id, "wf-1");
    assert_eq!(types(&next.events), vec![E::WorkflowExecutionStarted, E::WorkflowTaskScheduled]);
    let s = attrs!(next.events[0], WorkflowExecutionStartedEventAttributes);
    assert_eq!(s.continued_execution_run_id, RUN_ID);
    assert_eq!(s.first_execution_run_id, RUN_ID);
    assert_eq!(s.original_execution_run_id, next.state.run_id);
    assert_eq!(s.input, Some(payloads("round-2")));
    assert_eq!(s.memo, Some(memo));
    assert_eq!(s.workflow_type.as_ref().unwrap().name, "MyWorkflow");
    assert_eq!(s.initiator, ContinueAsNewInitiator::Workflow as i32);
    // The execution timeout spans the chain.
    assert_eq!(next.state.execution_expiration_time, run.state.execution_expiration_time);
}

#[test]
fn continue_as_new_with_unseen_events_is_an_unhandled_command() {
    let mut run = Run::new();
    run.poll_wft();
    run.apply(Input::Signal(chronicle_engine::SignalArgs { signal_name: "s".into(), ..Default::default() })).unwrap();
    let t = run.complete_wft(vec![continue_as_new("x")]);
    assert_eq!(types(&t.events)[0], E::WorkflowTaskFailed);
    assert!(t.new_run.is_none());
    assert!(run.state.is_running());
}

fn flaky_policy() -> RetryPolicy {
    RetryPolicy { initial_interval: Some(secs(2)), backoff_coefficient: 2.0, maximum_attempts: 3, ..Default::default() }
}

#[test]
fn a_failed_run_with_a_retry_policy_starts_the_next_attempt_after_backoff() {
    let (mut run, _) = Run::start_with(StartArgs { retry_policy: Some(flaky_policy()), ..args() });
    let t = run.first_wft(vec![fail_workflow("boom")]);
    let a = attrs!(t.events[1], WorkflowExecutionFailedEventAttributes);
    assert_eq!(a.retry_state, RetryState::InProgress as i32);
    let next = t.new_run.expect("a retry");
    assert_eq!(a.new_execution_run_id, next.state.run_id);
    let s = attrs!(next.events[0], WorkflowExecutionStartedEventAttributes);
    assert_eq!(s.attempt, 2);
    assert_eq!(s.initiator, ContinueAsNewInitiator::Retry as i32);
    assert_eq!(s.first_workflow_task_backoff, Some(secs(2)));
    assert_eq!(s.continued_failure.as_ref().unwrap().message, "boom");
    // No workflow task until the backoff ends.
    assert_eq!(types(&next.events), vec![E::WorkflowExecutionStarted]);
    let mut retry = Run { state: next.state.clone(), history: next.events.clone(), now: run.now };
    assert!(retry.state.workflow_task.is_none());
    retry.apply_err(Input::TimerFired(TimerKind::WorkflowBackoff)); // not yet due
    retry.advance(2);
    let t = retry.apply(Input::TimerFired(TimerKind::WorkflowBackoff)).unwrap();
    assert_eq!(types(&t.events), vec![E::WorkflowTaskScheduled]);
    // The third attempt is the last.
    let t = retry.first_wft(vec![fail_workflow("boom")]);
    let s = attrs!(t.new_run.as_ref().unwrap().events[0], WorkflowExecutionStartedEventAttributes);
    assert_eq!((s.attempt, s.first_workflow_task_backoff), (3, Some(secs(4))));
    let mut last = Run { state: t.new_run.as_ref().unwrap().state.clone(), history: vec![], now: retry.now };
    last.advance(4);
    last.apply(Input::TimerFired(TimerKind::WorkflowBackoff)).unwrap();
    let t = last.first_wft(vec![fail_workflow("boom")]);
    let a = attrs!(t.events[1], WorkflowExecutionFailedEventAttributes);
    assert_eq!(a.retry_state, RetryState::MaximumAttemptsReached as i32);
    assert!(t.new_run.is_none() && a.new_execution_run_id.is_empty());
}

#[test]
fn without_a_retry_policy_a_failure_is_final() {
    let mut run = Run::new();
    let t = run.first_wft(vec![fail_workflow("boom")]);
    let a = attrs!(t.events[1], WorkflowExecutionFailedEventAttributes);
    assert_eq!(a.retry_state, RetryState::RetryPolicyNotSet as i32);
    assert!(t.new_run.is_none());
}

#[test]
fn suggest_continue_as_new_flips_at_the_threshold() {
    let limits = chronicle_engine::Limits { history_events_suggest_continue_as_new: 10, ..Default::default() };
    let mut run = Run::new();
    let mut seen = Vec::new();
    for _ in 0..4 {
        let env = chronicle_engine::Env { now: run.now, limits: limits.clone(), new_run_id: "n".into() };
        let t = chronicle_engine::apply_env(&run.state, run.poll_input(), &env).unwrap();
        run.history.extend(t.events.iter().cloned());
        run.state = t.state;
        let e = run.history.last().unwrap().clone();
        let a = attrs!(e, WorkflowTaskStartedEventAttributes);
        seen.push((e.event_id, a.suggest_continue_as_new));
        run.complete_wft(vec![start_timer_named(&format!("t{}", e.event_id), 1)]);
        let timer = run.state.timers.values().next().unwrap().started_event_id;
        run.apply(Input::TimerFired(TimerKind::UserTimer { started_event_id: timer })).ok();
        run.advance(1);
        run.apply(Input::TimerFired(TimerKind::UserTimer { started_event_id: timer })).unwrap();
    }
    for (id, suggested) in seen {
        assert_eq!(suggested, id >= 10, "WorkflowTaskStarted {id}");
    }
}

#[test]
fn the_history_count_limit_terminates_instead() {
    let limits = chronicle_engine::Limits { history_events_max: 5, ..Default::default() };
    let mut run = Run::new();
    run.poll_wft();
    let env = chronicle_engine::Env { now: run.now, limits, new_run_id: "n".into() };
    let done = run.completion(vec![start_timer_named("a", 5), start_timer_named("b", 5)]);
    let t = chronicle_engine::apply_env(&run.state, Input::WorkflowTaskCompleted(Box::new(done)), &env).unwrap();
    assert_eq!(types(&t.events), vec![E::WorkflowTaskFailed, E::WorkflowExecutionTerminated]);
    let a = attrs!(t.events[1], WorkflowExecutionTerminatedEventAttributes);
    assert_eq!(a.reason, "Workflow history count exceeds limit.");
    assert_eq!(a.identity, "history-service");
    assert!(matches!(t.outcome, chronicle_engine::Outcome::HistoryLimitExceeded { .. }));
    assert_eq!(t.state.status(), WorkflowExecutionStatus::Terminated);
}

#[test]
fn many_updates_suggest_continue_as_new() {
    use chronicle_engine::api::enums::v1::SuggestContinueAsNewReason as Reason;
    let mut run = Run::new();
    // 90% of the per-run update limit (2000) admitted so far.
    run.state.update_count = 1799;
    let t = run.poll_wft();
    let a = attrs!(t.events[0], WorkflowTaskStartedEventAttributes);
    assert!(!a.suggest_continue_as_new);
    run.complete_wft(vec![]);
    run.state.update_count = 1800;
    run.apply(Input::Signal(chronicle_engine::SignalArgs { signal_name: "s".into(), ..Default::default() })).unwrap();
    let t = run.poll_wft();
    let a = attrs!(t.events[0], WorkflowTaskStartedEventAttributes);
    assert!(a.suggest_continue_as_new);
    assert_eq!(a.suggest_continue_as_new_reasons, vec![Reason::TooManyUpdates as i32]);
}

#[test]
fn a_cron_workflow_waits_for_its_schedule_and_continues_after_each_close() {
    // T0 = 2023-11-14T22:13:20Z; the next */5 minute is 22:15:00, 100 s later.
    let (mut run, t) = Run::start_with(StartArgs { cron_schedule: "*/5 * * * *".into(), ..args() });
    assert_eq!(types(&t.events), vec![E::WorkflowExecutionStarted], "no workflow task before the first time");
    let s = attrs!(t.events[0], WorkflowExecutionStartedEventAttributes);
    assert_eq!(s.first_workflow_task_backoff, Some(secs(100)));
    run.advance(100);
    run.apply(Input::TimerFired(TimerKind::WorkflowBackoff)).unwrap();
    run.advance(20);
    let t = run.first_wft(vec![complete_workflow("r1")]);
    let done = attrs!(t.events[1], WorkflowExecutionCompletedEventAttributes);
    let next = t.new_run.expect("the next cron run");
    assert_eq!(done.new_execution_run_id, next.state.run_id);
    assert_eq!(run.state.status(), WorkflowExecutionStatus::Completed);
    let s = attrs!(next.events[0], WorkflowExecutionStartedEventAttributes);
    assert_eq!(s.initiator, ContinueAsNewInitiator::CronSchedule as i32);
    assert_eq!(s.first_workflow_task_backoff, Some(secs(280)), "until 22:20:00");
    assert_eq!(s.last_completion_result, Some(payloads("r1")));
    assert_eq!(s.cron_schedule, "*/5 * * * *");
    // A terminated run ends the chain.
    let mut last = Run { state: next.state.clone(), history: next.events.clone(), now: run.now };
    let t = last.apply(Input::Terminate { reason: "r".into(), details: None, identity: "i".into() }).unwrap();
    assert!(t.new_run.is_none());
}

#[test]
fn a_run_timeout_records_what_the_retry_policy_says() {
    use chronicle_engine::api::enums::v1::RetryState;
    let policy = RetryPolicy { maximum_attempts: 1, ..retry_policy(1) };
    let (mut run, _) = Run::start_with(StartArgs { run_timeout: Some(secs(60)), retry_policy: Some(policy), ..args() });
    run.set_time(60);
    let t = run.apply(Input::TimerFired(TimerKind::WorkflowRunTimeout)).unwrap();
    let a = attrs!(t.events.last().unwrap(), WorkflowExecutionTimedOutEventAttributes);
    assert_eq!(a.retry_state, RetryState::MaximumAttemptsReached as i32);
    // Once the execution timeout itself has passed: TIMEOUT.
    let (mut run, _) = Run::start_with(StartArgs { execution_timeout: Some(secs(60)), ..args() });
    run.set_time(60);
    let t = run.apply(Input::TimerFired(TimerKind::WorkflowRunTimeout)).unwrap();
    let a = attrs!(t.events.last().unwrap(), WorkflowExecutionTimedOutEventAttributes);
    assert_eq!(a.retry_state, RetryState::Timeout as i32);
}

#[test]
fn a_retried_cron_run_keeps_the_last_completion_result() {
    let (mut run, _) = Run::start_with(StartArgs {
        cron_schedule: "@every 60s".into(),
        retry_policy: Some(retry_policy(3)),
        ..args()
    });
    run.set_time(60);
    run.apply(Input::TimerFired(TimerKind::WorkflowBackoff)).unwrap();
    let t = run.first_wft(vec![complete_workflow("first-result")]);
    let next = t.new_run.expect("next cron run");
    let mut second = Run { state: next.state.clone(), history: next.events.clone(), now: run.now };
    second.set_time(120);
    second.apply(Input::TimerFired(TimerKind::WorkflowBackoff)).unwrap();
    let t = second.first_wft(vec![fail_workflow("boom")]);
    let retry = t.new_run.expect("a retry");
    let s = attrs!(retry.events[0], WorkflowExecutionStartedEventAttributes);
    assert_eq!(s.initiator, ContinueAsNewInitiator::Retry as i32);
    assert_eq!(s.last_completion_result, Some(payloads("first-result")), "kept across the retry");
}

#[test]
fn a_huge_every_interval_is_refused() {
    let spec = format!("@every {}h", "9".repeat(41));
    assert!(chronicle_engine::validate_cron_schedule(&spec).is_err());
}
