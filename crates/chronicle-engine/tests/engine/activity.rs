//! Activity lifecycle: dispatch, start (no event), completion, buffering
//! while a workflow task is in flight, server-side retries and timeouts.

use crate::support::*;
use chronicle_engine::api::{
    command::v1::ScheduleActivityTaskCommandAttributes,
    common::v1::RetryPolicy,
    enums::v1::{EventType, RetryState, TimeoutType},
    failure::v1::{Failure, failure::FailureInfo},
};
use chronicle_engine::{
    ActivityTaskDispatch, EngineError, Input, Outcome, Task, TimerKind, TimerTask, WorkflowTaskCompletion,
};

fn timeout_timer(sched: i64, attempt: i32, timeout_type: TimeoutType) -> Input {
    Input::TimerFired(TimerKind::ActivityTimeout { scheduled_event_id: sched, attempt, timeout_type })
}

fn timeout_type_of(f: &Failure) -> TimeoutType {
    match &f.failure_info {
        Some(FailureInfo::TimeoutFailureInfo(i)) => TimeoutType::try_from(i.timeout_type).unwrap(),
        other => panic!("expected a timeout failure, got {other:?}"),
    }
}

/// A run whose first workflow task (at t=0) scheduled one activity (id 5).
fn run_with_activity(attrs: ScheduleActivityTaskCommandAttributes) -> Run {
    let mut run = Run::new();
    let t = run.first_wft(vec![schedule_activity_with(attrs)]);
    assert_eq!(ids(&t.events), vec![4, 5]);
    run
}

#[test]
fn start_writes_nothing_and_completion_writes_started_completed_and_workflow_task() {
    let mut run = run_with_activity(activity_attrs("a1"));
    run.set_time(3);
    let t = run.start_activity(5);
    assert!(t.events.is_empty(), "ActivityTaskStarted is written with the outcome");
    let Outcome::ActivityTaskStarted(info) = &t.outcome else { panic!("got {:?}", t.outcome) };
    assert_eq!((info.scheduled_event_id, info.attempt), (5, 1));
    assert_eq!(info.started_time, Some(at(3)));
    assert_eq!(info.input, Some(payloads("act-input")));
    let s2c = TimerTask {
        fire_at: at(33),
        kind: TimerKind::ActivityTimeout { scheduled_event_id: 5, attempt: 1, timeout_type: TimeoutType::StartToClose },
    };
    assert_eq!(t.tasks, vec![Task::Timer(s2c.clone())]);
    assert_eq!(run.state.pending_tasks(), vec![Task::Timer(s2c)]);

    // A second dispatch of the same attempt is refused.
    let again = Input::ActivityTaskStarted {
        scheduled_event_id: 5,
        attempt: 1,
        identity: "x".into(),
        request_id: "y".into(),
        worker_version: None,
    };
    assert_eq!(run.apply_err(again), EngineError::ActivityTaskNotFound);

    run.set_time(4);
    let t = run.complete_activity(5, "result");
    assert_eq!(ids(&t.events), vec![6, 7, 8]);
    assert_eq!(
        types(&t.events),
        vec![EventType::ActivityTaskStarted, EventType::ActivityTaskCompleted, EventType::WorkflowTaskScheduled]
    );
    let st = attrs!(t.events[0], ActivityTaskStartedEventAttributes);
    assert_eq!(st.scheduled_event_id, 5);
    assert_eq!(st.attempt, 1);
    assert_eq!(st.identity, "act-worker");
    assert_eq!(st.request_id, "act-poll-5-1");
    assert_eq!(t.events[0].event_time, Some(at(3)), "stamped with when the attempt started");
    let c = attrs!(t.events[1], ActivityTaskCompletedEventAttributes);
    assert_eq!((c.scheduled_event_id, c.started_event_id), (5, 6));
    assert_eq!(c.result, Some(payloads("result")));
    assert_eq!(c.identity, "act-worker");
    assert_eq!(t.events[1].event_time, Some(at(4)));
    assert_eq!(attrs!(t.events[2], WorkflowTaskScheduledEventAttributes).attempt, 1);
    assert_eq!(t.tasks, vec![wft_task(8, 1)]);
    assert!(run.state.activities.is_empty());

    let late = Input::ActivityTaskCompleted { scheduled_event_id: 5, attempt: 1, result: None, identity: "x".into() };
    assert_eq!(run.apply_err(late), EngineError::ActivityTaskNotFound);
}

#[test]
fn completing_an_unstarted_or_wrong_attempt_fails() {
    let mut run = run_with_activity(activity_attrs("a1"));
    let complete =
        |attempt| Input::ActivityTaskCompleted { scheduled_event_id: 5, attempt, result: None, identity: "x".into() };
    assert_eq!(run.apply_err(complete(1)), EngineError::ActivityTaskNotFound, "not started");
    run.start_activity(5);
    assert_eq!(run.apply_err(complete(2)), EngineError::ActivityTaskNotFound, "wrong attempt");
    let unknown =
        Input::ActivityTaskCompleted { scheduled_event_id: 4, attempt: 1, result: None, identity: "x".into() };
    assert_eq!(run.apply_err(unknown), EngineError::ActivityTaskNotFound);
}

#[test]
fn cancel_without_request_is_refused() {
    let mut run = run_with_activity(activity_attrs("a1"));
    run.start_activity(5);
    let cancel = Input::ActivityTaskCanceled { scheduled_event_id: 5, attempt: 1, details: None, identity: "x".into() };
    assert_eq!(
        run.apply_err(cancel),
        EngineError::InvalidArgument(
            "unable to mark activity as canceled without activity being request canceled first".into()
        )
    );
}

/// Two activities (5, 6); the first completes (7, 8) and its workflow task
/// (9) is started (10).
fn run_with_workflow_task_in_flight() -> Run {
    let mut run = Run::new();
    let t = run.first_wft(vec![schedule_activity("a"), schedule_activity("b")]);
    assert_eq!(ids(&t.events), vec![4, 5, 6]);
    run.start_activity(5);
    run.start_activity(6);
    let t = run.complete_activity(5, "ra");
    assert_eq!(ids(&t.events), vec![7, 8, 9]);
    run.advance(1);
    let t = run.poll_wft();
    assert_eq!(ids(&t.events), vec![10]);
    run
}

#[test]
fn completion_while_workflow_task_in_flight_is_buffered_and_flushed_after_completion() {
    let mut run = run_with_workflow_task_in_flight();
    run.advance(1);
    let t = run.complete_activity(6, "rb");
    assert!(t.events.is_empty(), "buffered");
    assert!(workflow_tasks(&t.tasks).is_empty());
    assert_eq!(
        types(&run.state.buffered_events),
        vec![EventType::ActivityTaskStarted, EventType::ActivityTaskCompleted]
    );
    assert_eq!(run.state.next_event_id, 11);
    assert!(!run.state.activities.contains_key(&6));

    run.advance(1);
    let t = run.complete_wft(vec![schedule_activity("c")]);
    assert_eq!(ids(&t.events), vec![11, 12, 13, 14, 15]);
    assert_eq!(
        types(&t.events),
        vec![
            EventType::WorkflowTaskCompleted,
            EventType::ActivityTaskScheduled,
            EventType::ActivityTaskStarted,
            EventType::ActivityTaskCompleted,
            EventType::WorkflowTaskScheduled,
        ]
    );
    let c = attrs!(t.events[0], WorkflowTaskCompletedEventAttributes);
    assert_eq!((c.scheduled_event_id, c.started_event_id), (9, 10));
    assert_eq!(attrs!(t.events[1], ActivityTaskScheduledEventAttributes).workflow_task_completed_event_id, 11);
    assert_eq!(attrs!(t.events[2], ActivityTaskStartedEventAttributes).scheduled_event_id, 6);
    let done = attrs!(t.events[3], ActivityTaskCompletedEventAttributes);
    assert_eq!((done.scheduled_event_id, done.started_event_id), (6, 13), "started id fixed up at flush");
    assert_eq!(done.result, Some(payloads("rb")));
    assert_eq!(attrs!(t.events[4], WorkflowTaskScheduledEventAttributes).attempt, 1);
    assert!(run.state.buffered_events.is_empty());
    assert_eq!(run.wft().scheduled_event_id, 15);
    assert!(t.tasks.contains(&wft_task(15, 1)));
}

#[test]
fn buffered_events_are_flushed_after_a_workflow_task_failure() {
    let mut run = run_with_workflow_task_in_flight();
    run.complete_activity(6, "rb");
    let t = run.fail_wft();
    assert_eq!(
        types(&t.events),
        vec![
            EventType::WorkflowTaskFailed,
            EventType::ActivityTaskStarted,
            EventType::ActivityTaskCompleted,
            EventType::WorkflowTaskScheduled,
        ]
    );
    assert_eq!(attrs!(t.events[2], ActivityTaskCompletedEventAttributes).started_event_id, 12);
    let wt = run.wft();
    assert_eq!((wt.scheduled_event_id, wt.attempt, wt.transient), (14, 1, false), "new events reset the attempt");
}

#[test]
fn failures_retry_without_events_until_maximum_attempts() {
    let mut run = run_with_activity(ScheduleActivityTaskCommandAttributes {
        retry_policy: Some(retry_policy(3)),
        ..activity_attrs("a1")
    });
    run.set_time(10);
    run.start_activity(5);
    run.set_time(11);
    let t = run.fail_activity(5, app_failure("boom 1", "Err", false));
    assert!(t.events.is_empty(), "retries write no events");
    assert_eq!(
        t.tasks,
        vec![Task::ActivityTask(ActivityTaskDispatch {
            task_queue: TQ.into(),
            scheduled_event_id: 5,
            attempt: 2,
            visible_at: at(12),
            pinned: String::new(),
        })],
        "attempt 2 after the 1 s initial interval"
    );
    let info = run.activity(5);
    assert_eq!(info.attempt, 2);
    assert_eq!(info.started_time, None);
    assert_eq!(info.current_attempt_scheduled_time, Some(at(12)));
    assert_eq!(info.last_failure.as_ref().unwrap().message, "boom 1");
    assert_eq!(info.last_worker_identity, "act-worker");
    assert_eq!(activity_dispatches(&run.state.pending_tasks())[0].visible_at, at(12));

    let stale = Input::ActivityTaskStarted {
        scheduled_event_id: 5,
        attempt: 1,
        identity: "x".into(),
        request_id: "y".into(),
        worker_version: None,
    };
    assert_eq!(run.apply_err(stale), EngineError::ActivityTaskNotFound);

    run.set_time(12);
    run.start_activity(5);
    run.set_time(13);
    let t = run.fail_activity(5, app_failure("boom 2", "Err", false));
    assert!(t.events.is_empty());
    assert_eq!(activity_dispatches(&t.tasks)[0].visible_at, at(15), "backoff doubles");

    run.set_time(15);
    run.start_activity(5);
    run.set_time(16);
    let t = run.fail_activity(5, app_failure("boom 3", "Err", false));
    assert_eq!(ids(&t.events), vec![6, 7, 8]);
    assert_eq!(
        types(&t.events),
        vec![EventType::ActivityTaskStarted, EventType::ActivityTaskFailed, EventType::WorkflowTaskScheduled]
    );
    let st = attrs!(t.events[0], ActivityTaskStartedEventAttributes);
    assert_eq!(st.attempt, 3, "the last attempt");
    assert_eq!(st.last_failure.as_ref().unwrap().message, "boom 2");
    assert_eq!(t.events[0].event_time, Some(at(15)));
    let f = attrs!(t.events[1], ActivityTaskFailedEventAttributes);
    assert_eq!((f.scheduled_event_id, f.started_event_id), (5, 6));
    assert_eq!(f.failure.as_ref().unwrap().message, "boom 3");
    assert_eq!(f.retry_state, RetryState::MaximumAttemptsReached as i32);
    assert_eq!(f.identity, "act-worker");
    assert!(run.state.activities.is_empty());
}

#[test]
fn non_retryable_application_failure_fails_at_once() {
    let mut run = run_with_activity(activity_attrs("a1"));
    run.start_activity(5);
    let t = run.fail_activity(5, app_failure("fatal", "Err", true));
    assert_eq!(
        types(&t.events),
        vec![EventType::ActivityTaskStarted, EventType::ActivityTaskFailed, EventType::WorkflowTaskScheduled]
    );
    assert_eq!(attrs!(t.events[0], ActivityTaskStartedEventAttributes).attempt, 1);
    let f = attrs!(t.events[1], ActivityTaskFailedEventAttributes);
    assert_eq!(f.retry_state, RetryState::NonRetryableFailure as i32);
    assert_eq!(f.started_event_id, 6);
}

#[test]
fn non_retryable_error_types_match_by_type() {
    let mut run = run_with_activity(ScheduleActivityTaskCommandAttributes {
        retry_policy: Some(RetryPolicy { non_retryable_error_types: vec!["Fatal".into()], ..retry_policy(0) }),
        ..activity_attrs("a1")
    });
    run.start_activity(5);
    let t = run.fail_activity(5, app_failure("other", "Other", false));
    assert!(t.events.is_empty(), "a type not listed is retried");
    run.set_time(1);
    run.start_activity(5);
    let t = run.fail_activity(5, app_failure("fatal", "Fatal", false));
    assert_eq!(types(&t.events)[..2], [EventType::ActivityTaskStarted, EventType::ActivityTaskFailed]);
    assert_eq!(attrs!(t.events[0], ActivityTaskStartedEventAttributes).attempt, 2);
    assert_eq!(
        attrs!(t.events[1], ActivityTaskFailedEventAttributes).retry_state,
        RetryState::NonRetryableFailure as i32
    );
}

#[test]
fn start_to_close_timeout_retries_then_times_out() {
    let mut run = run_with_activity(ScheduleActivityTaskCommandAttributes {
        retry_policy: Some(retry_policy(2)),
        ..activity_attrs("a1")
    });
    run.set_time(10);
    run.start_activity(5);
    let timer1 = timeout_timer(5, 1, TimeoutType::StartToClose);
    run.set_time(40);
    let t = run.apply(timer1.clone()).unwrap();
    assert!(t.events.is_empty(), "retried");
    let info = run.activity(5);
    assert_eq!(info.attempt, 2);
    assert_eq!(info.current_attempt_scheduled_time, Some(at(41)));
    assert_eq!(timeout_type_of(info.last_failure.as_ref().unwrap()), TimeoutType::StartToClose);
    assert_eq!(run.apply_err(timer1), EngineError::StaleTimer);

    run.set_time(41);
    run.start_activity(5);
    run.set_time(71);
    let t = run.apply(timeout_timer(5, 2, TimeoutType::StartToClose)).unwrap();
    assert_eq!(ids(&t.events), vec![6, 7, 8]);
    assert_eq!(
        types(&t.events),
        vec![EventType::ActivityTaskStarted, EventType::ActivityTaskTimedOut, EventType::WorkflowTaskScheduled]
    );
    assert_eq!(attrs!(t.events[0], ActivityTaskStartedEventAttributes).attempt, 2);
    assert_eq!(t.events[0].event_time, Some(at(41)));
    let to = attrs!(t.events[1], ActivityTaskTimedOutEventAttributes);
    assert_eq!((to.scheduled_event_id, to.started_event_id), (5, 6));
    assert_eq!(to.retry_state, RetryState::MaximumAttemptsReached as i32);
    let failure = to.failure.as_ref().unwrap();
    assert_eq!(timeout_type_of(failure), TimeoutType::StartToClose);
    assert_eq!(timeout_type_of(failure.cause.as_ref().expect("last failure as cause")), TimeoutType::StartToClose);
}

#[test]
fn retry_past_schedule_to_close_deadline_times_out() {
    // Deadline at 40; after the start-to-close timeout at 30 the next attempt
    // would be at 50.
    let mut run = run_with_activity(ScheduleActivityTaskCommandAttributes {
        schedule_to_close_timeout: Some(secs(40)),
        retry_policy: Some(RetryPolicy { initial_interval: Some(secs(20)), ..retry_policy(0) }),
        ..activity_attrs("a1")
    });
    run.start_activity(5);
    run.set_time(30);
    let t = run.apply(timeout_timer(5, 1, TimeoutType::StartToClose)).unwrap();
    assert_eq!(
        types(&t.events),
        vec![EventType::ActivityTaskStarted, EventType::ActivityTaskTimedOut, EventType::WorkflowTaskScheduled]
    );
    let to = attrs!(t.events[1], ActivityTaskTimedOutEventAttributes);
    assert_eq!(to.retry_state, RetryState::Timeout as i32);
    assert_eq!(to.started_event_id, 6);
}

#[test]
fn failure_whose_retry_is_past_the_deadline_fails_with_timeout() {
    let mut run = run_with_activity(ScheduleActivityTaskCommandAttributes {
        schedule_to_close_timeout: Some(secs(40)),
        retry_policy: Some(RetryPolicy { initial_interval: Some(secs(20)), ..retry_policy(0) }),
        ..activity_attrs("a1")
    });
    run.start_activity(5);
    run.set_time(25);
    let t = run.fail_activity(5, app_failure("boom", "Err", false));
    let f = attrs!(t.events[1], ActivityTaskFailedEventAttributes);
    assert_eq!(f.retry_state, RetryState::Timeout as i32);
}

#[test]
fn schedule_to_close_during_backoff_times_out_without_started_event() {
    let mut run = run_with_activity(ScheduleActivityTaskCommandAttributes {
        schedule_to_close_timeout: Some(secs(40)),
        retry_policy: Some(RetryPolicy { initial_interval: Some(secs(5)), ..retry_policy(0) }),
        ..activity_attrs("a1")
    });
    run.start_activity(5);
    run.set_time(1);
    run.fail_activity(5, app_failure("boom", "Err", false));
    assert_eq!(run.activity(5).attempt, 2);
    run.set_time(40);
    let t = run.apply(timeout_timer(5, 1, TimeoutType::ScheduleToClose)).unwrap();
    assert_eq!(types(&t.events), vec![EventType::ActivityTaskTimedOut, EventType::WorkflowTaskScheduled]);
    let to = attrs!(t.events[0], ActivityTaskTimedOutEventAttributes);
    assert_eq!(to.started_event_id, 0);
    assert_eq!(to.retry_state, RetryState::Timeout as i32);
    let failure = to.failure.as_ref().unwrap();
    assert_eq!(timeout_type_of(failure), TimeoutType::ScheduleToClose);
    assert_eq!(failure.cause.as_ref().unwrap().message, "boom");
}

#[test]
fn schedule_to_close_while_started_times_out_with_timeout_retry_state() {
    let mut run = run_with_activity(ScheduleActivityTaskCommandAttributes {
        schedule_to_close_timeout: Some(secs(40)),
        ..activity_attrs("a1")
    });
    run.set_time(20);
    run.start_activity(5);
    run.set_time(40);
    let t = run.apply(timeout_timer(5, 1, TimeoutType::ScheduleToClose)).unwrap();
    assert_eq!(
        types(&t.events),
        vec![EventType::ActivityTaskStarted, EventType::ActivityTaskTimedOut, EventType::WorkflowTaskScheduled]
    );
    let to = attrs!(t.events[1], ActivityTaskTimedOutEventAttributes);
    assert_eq!(timeout_type_of(to.failure.as_ref().unwrap()), TimeoutType::ScheduleToClose);
    assert_eq!(to.retry_state, RetryState::Timeout as i32);
}

#[test]
fn schedule_to_start_timeout() {
    let mut run = run_with_activity(ScheduleActivityTaskCommandAttributes {
        schedule_to_start_timeout: Some(secs(5)),
        ..activity_attrs("a1")
    });
    let timer = timeout_timer(5, 1, TimeoutType::ScheduleToStart);
    run.set_time(5);
    let t = run.apply(timer).unwrap();
    assert_eq!(types(&t.events), vec![EventType::ActivityTaskTimedOut, EventType::WorkflowTaskScheduled]);
    let to = attrs!(t.events[0], ActivityTaskTimedOutEventAttributes);
    assert_eq!(to.started_event_id, 0);
    assert_eq!(timeout_type_of(to.failure.as_ref().unwrap()), TimeoutType::ScheduleToStart);
}

#[test]
fn schedule_to_start_timer_after_start_is_stale() {
    let mut run = run_with_activity(ScheduleActivityTaskCommandAttributes {
        schedule_to_start_timeout: Some(secs(5)),
        ..activity_attrs("a1")
    });
    run.start_activity(5);
    run.set_time(5);
    assert_eq!(run.apply_err(timeout_timer(5, 1, TimeoutType::ScheduleToStart)), EngineError::StaleTimer);
}

fn heartbeat_run(max_attempts: i32) -> Run {
    run_with_activity(ScheduleActivityTaskCommandAttributes {
        start_to_close_timeout: Some(secs(60)),
        heartbeat_timeout: Some(secs(10)),
        retry_policy: Some(retry_policy(max_attempts)),
        ..activity_attrs("a1")
    })
}

#[test]
fn heartbeat_returns_outcome_and_pushes_the_timeout() {
    let mut run = heartbeat_run(1);
    let t = run.start_activity(5);
    let hb = |s| TimerTask {
        fire_at: at(s),
        kind: TimerKind::ActivityTimeout { scheduled_event_id: 5, attempt: 1, timeout_type: TimeoutType::Heartbeat },
    };
    assert!(t.tasks.contains(&Task::Timer(hb(10))));

    run.set_time(5);
    let t = run
        .apply(Input::ActivityTaskHeartbeat { scheduled_event_id: 5, attempt: 1, details: Some(payloads("progress")) })
        .unwrap();
    assert_eq!(t.outcome, Outcome::Heartbeat { cancel_requested: false, paused: false, reset: false });
    assert!(t.events.is_empty());
    assert_eq!(t.tasks, vec![Task::Timer(hb(15))]);
    assert_eq!(run.activity(5).last_heartbeat_time, Some(at(5)));
    assert!(run.state.pending_tasks().contains(&Task::Timer(hb(15))));

    // The first heartbeat timer is stale: a heartbeat came in since.
    run.set_time(10);
    assert_eq!(run.apply_err(timeout_timer(5, 1, TimeoutType::Heartbeat)), EngineError::StaleTimer);

    run.set_time(15);
    let t = run.apply(timeout_timer(5, 1, TimeoutType::Heartbeat)).unwrap();
    assert_eq!(
        types(&t.events),
        vec![EventType::ActivityTaskStarted, EventType::ActivityTaskTimedOut, EventType::WorkflowTaskScheduled]
    );
    let to = attrs!(t.events[1], ActivityTaskTimedOutEventAttributes);
    assert_eq!(to.retry_state, RetryState::MaximumAttemptsReached as i32);
    let failure = to.failure.as_ref().unwrap();
    let Some(FailureInfo::TimeoutFailureInfo(info)) = &failure.failure_info else { panic!("{failure:?}") };
    assert_eq!(info.timeout_type, TimeoutType::Heartbeat as i32);
    assert_eq!(info.last_heartbeat_details, Some(payloads("progress")));
}

#[test]
fn heartbeat_timeout_without_any_heartbeat_retries() {
    let mut run = heartbeat_run(0);
    run.start_activity(5);
    run.set_time(10);
    let t = run.apply(timeout_timer(5, 1, TimeoutType::Heartbeat)).unwrap();
    assert!(t.events.is_empty(), "heartbeat timeouts are retryable");
    let info = run.activity(5);
    assert_eq!(info.attempt, 2);
    assert_eq!(info.current_attempt_scheduled_time, Some(at(11)));
    assert_eq!(timeout_type_of(info.last_failure.as_ref().unwrap()), TimeoutType::Heartbeat);
}

#[test]
fn heartbeat_of_an_unstarted_activity_fails() {
    let mut run = heartbeat_run(0);
    let hb = Input::ActivityTaskHeartbeat { scheduled_event_id: 5, attempt: 1, details: None };
    assert_eq!(run.apply_err(hb), EngineError::ActivityTaskNotFound);
}

fn eager(id: &str) -> ScheduleActivityTaskCommandAttributes {
    ScheduleActivityTaskCommandAttributes {
        request_eager_execution: true,
        schedule_to_close_timeout: Some(secs(100)),
        ..activity_attrs(id)
    }
}

fn activity_timer(sched: i64, at_secs: i64, timeout_type: TimeoutType) -> Task {
    Task::Timer(TimerTask {
        fire_at: at(at_secs),
        kind: TimerKind::ActivityTimeout { scheduled_event_id: sched, attempt: 1, timeout_type },
    })
}

#[test]
fn an_eager_activity_starts_with_the_completion_and_goes_to_no_queue() {
    let mut run = Run::new();
    run.poll_wft();
    run.set_time(2);
    let done = WorkflowTaskCompletion {
        request_id: "completion-1".into(),
        ..run.completion(vec![schedule_activity_with(eager("a1")), schedule_activity("a2")])
    };
    let t = run.apply(Input::WorkflowTaskCompleted(Box::new(done))).unwrap();
    assert_eq!(
        types(&t.events),
        vec![EventType::WorkflowTaskCompleted, EventType::ActivityTaskScheduled, EventType::ActivityTaskScheduled]
    );
    let Outcome::EagerActivitiesStarted(started) = &t.outcome else { panic!("got {:?}", t.outcome) };
    assert_eq!(started.len(), 1, "only the activity that asked");
    let a = &started[0];
    assert_eq!((a.scheduled_event_id, a.attempt, a.activity_id.as_str()), (5, 1, "a1"));
    assert_eq!(a.started_time, Some(at(2)));
    assert_eq!((a.started_identity.as_str(), a.started_request_id.as_str()), ("worker", "completion-1"));
    // To no queue, no schedule-to-start timer; the other activity goes to its queue.
    let a1_tasks: Vec<&Task> = t
        .tasks
        .iter()
        .filter(|task| match task {
            Task::ActivityTask(d) => d.scheduled_event_id == 5,
            Task::Timer(TimerTask { kind: TimerKind::ActivityTimeout { scheduled_event_id, .. }, .. }) => {
                *scheduled_event_id == 5
            }
            _ => false,
        })
        .collect();
    assert_eq!(
        a1_tasks,
        vec![&activity_timer(5, 102, TimeoutType::ScheduleToClose), &activity_timer(5, 32, TimeoutType::StartToClose)]
    );
    assert!(t.tasks.iter().any(|task| matches!(task, Task::ActivityTask(d) if d.scheduled_event_id == 6)));
    assert!(run.activity(5).is_started() && !run.activity(6).is_started());

    // Its outcome writes ActivityTaskStarted for the completing worker.
    run.set_time(4);
    let t = run.complete_activity(5, "done");
    assert_eq!(types(&t.events)[..2], [EventType::ActivityTaskStarted, EventType::ActivityTaskCompleted]);
    let st = attrs!(t.events[0], ActivityTaskStartedEventAttributes);
    assert_eq!((st.scheduled_event_id, st.attempt, st.identity.as_str()), (5, 1, "worker"));
    assert_eq!(st.request_id, "completion-1");
    assert_eq!(t.events[0].event_time, Some(at(2)));
}

#[test]
fn no_eager_activity_when_turned_off_or_when_the_workflow_closes_in_the_task() {
    let mut run = Run::new();
    run.poll_wft();
    let done = run.completion(vec![schedule_activity_with(eager("a1"))]);
    let env = chronicle_engine::Env {
        now: run.now,
        limits: chronicle_engine::Limits { eager_activities: false, ..Default::default() },
        new_run_id: "next".into(),
    };
    let t = chronicle_engine::apply_env(&run.state, Input::WorkflowTaskCompleted(Box::new(done)), &env).unwrap();
    assert_eq!(t.outcome, Outcome::None);
    assert!(t.tasks.iter().any(|task| matches!(task, Task::ActivityTask(d) if d.scheduled_event_id == 5)));

    let t = run.complete_wft(vec![schedule_activity_with(eager("a1")), complete_workflow("bye")]);
    assert_eq!(t.outcome, Outcome::None, "the workflow closed in the task: nothing to hand out");
    assert!(!t.tasks.iter().any(|task| matches!(task, Task::ActivityTask(_))));
}

mod controls {
    //! PauseActivity / UnpauseActivity / ResetActivity: state only.
    use super::*;
    use chronicle_engine::activity_control::{Control, Selector};

    fn control(c: Control) -> Input {
        Input::ActivityControl(Box::new(c))
    }

    fn pause() -> Input {
        control(Control::Pause { activity: Selector::Id("a1".into()), identity: "op".into(), reason: "why".into() })
    }

    fn unpause(reset_attempts: bool) -> Input {
        control(Control::Unpause {
            activity: Selector::Type("MyActivity".into()),
            reset_attempts,
            reset_heartbeat: false,
            delay: secs(0),
        })
    }

    fn retrying() -> ScheduleActivityTaskCommandAttributes {
        ScheduleActivityTaskCommandAttributes { retry_policy: Some(retry_policy(10)), ..activity_attrs("a1") }
    }

    #[test]
    fn a_paused_activity_is_handed_to_nobody_until_unpaused() {
        let mut run = run_with_activity(retrying());
        let t = run.apply(pause()).unwrap();
        assert!(t.events.is_empty(), "no events, as on Temporal");
        assert!(activity_dispatches(&run.state.pending_tasks()).is_empty());
        let info = run.activity(5);
        assert!(info.paused);
        let start = Input::ActivityTaskStarted {
            scheduled_event_id: 5,
            attempt: 1,
            identity: "w".into(),
            request_id: "r".into(),
            worker_version: None,
        };
        assert_eq!(run.apply_err(start), EngineError::ActivityTaskNotFound, "a stale dispatch is refused");
        // Pausing again changes nothing.
        assert!(run.apply(pause()).unwrap().events.is_empty());
        let t = run.apply(unpause(false)).unwrap();
        assert_eq!(activity_dispatches(&t.tasks).len(), 1);
        assert!(!run.activity(5).paused && run.activity(5).pause_info.is_none());
        assert_eq!(activity_dispatches(&run.state.pending_tasks()).len(), 1);
    }

    #[test]
    fn a_failure_while_paused_takes_the_next_attempt_but_dispatches_nothing() {
        let mut run = run_with_activity(retrying());
        run.start_activity(5);
        run.apply(pause()).unwrap();
        let hb = run.apply(Input::ActivityTaskHeartbeat { scheduled_event_id: 5, attempt: 1, details: None }).unwrap();
        assert_eq!(hb.outcome, Outcome::Heartbeat { cancel_requested: false, paused: true, reset: false });
        let t = run.fail_activity(5, app_failure("boom", "E", false));
        assert!(t.events.is_empty(), "retried (no event)");
        assert_eq!(run.activity(5).attempt, 2);
        assert!(activity_dispatches(&run.state.pending_tasks()).is_empty());
        let t = run.apply(unpause(true)).unwrap();
        let dispatched = activity_dispatches(&t.tasks);
        assert_eq!((dispatched.len(), dispatched[0].attempt), (1, 1), "reset_attempts: attempt 1 again");
    }

    #[test]
    fn a_reset_running_attempt_keeps_its_token_and_retries_at_attempt_one() {
        let mut run = run_with_activity(retrying());
        run.start_activity(5);
        run.fail_activity(5, app_failure("boom", "E", false));
        run.start_activity(5);
        assert_eq!(run.activity(5).attempt, 2);
        let reset = control(Control::Reset {
            activity: Selector::All,
            reset_heartbeat: true,
            keep_paused: false,
            delay: secs(0),
        });
        run.apply(reset).unwrap();
        assert_eq!(run.activity(5).attempt, 2, "the running attempt's token still holds");
        let hb = run.apply(Input::ActivityTaskHeartbeat { scheduled_event_id: 5, attempt: 2, details: None }).unwrap();
        assert_eq!(hb.outcome, Outcome::Heartbeat { cancel_requested: false, paused: false, reset: true });
        run.fail_activity(5, app_failure("boom", "E", false));
        assert_eq!(run.activity(5).attempt, 1);
        assert!(!run.activity(5).activity_reset);
    }

    #[test]
    fn a_selection_of_nothing_is_not_found() {
        let mut run = run_with_activity(retrying());
        let none = control(Control::Pause {
            activity: Selector::Id("nope".into()),
            identity: String::new(),
            reason: String::new(),
        });
        assert!(matches!(run.apply_err(none), EngineError::NotFound(_)));
        assert!(!run.activity(5).paused);
    }
}
