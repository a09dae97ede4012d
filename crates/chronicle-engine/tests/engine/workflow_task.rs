//! Workflow task lifecycle: poll, complete (commands), fail, time out,
//! transient retries.

use crate::support::*;
use chronicle_engine::api::{
    command::v1::ScheduleActivityTaskCommandAttributes,
    common::v1::RetryPolicy,
    enums::v1::{EventType, TimeoutType, WorkflowExecutionStatus, WorkflowTaskFailedCause},
    failure::v1::failure::FailureInfo,
    sdk::v1::WorkflowTaskCompletedMetadata,
    taskqueue::v1::TaskQueue,
};
use chronicle_engine::{
    ActivityTaskDispatch, EngineError, Input, Outcome, Task, TimerKind, TimerTask, default_activity_retry_policy,
};

#[test]
fn poll_writes_workflow_task_started() {
    let mut run = Run::new();
    run.advance(1);
    let t = run
        .apply(Input::WorkflowTaskStarted {
            target_version_changed: false,
            routing_revision: 0,
            scheduled_event_id: 2,
            attempt: 1,
            identity: "worker-a".into(),
            request_id: "req-1".into(),
            worker_version: None,
        })
        .unwrap();

    assert_eq!(ids(&t.events), vec![3]);
    assert_eq!(types(&t.events), vec![EventType::WorkflowTaskStarted]);
    assert_eq!(t.events[0].event_time, Some(at(1)));
    let a = attrs!(t.events[0], WorkflowTaskStartedEventAttributes);
    assert_eq!(a.scheduled_event_id, 2);
    assert_eq!(a.identity, "worker-a");
    assert_eq!(a.request_id, "req-1");

    assert_eq!(t.outcome, Outcome::WorkflowTaskStarted { started_event_id: 3, transient_events: vec![] });
    let timeout =
        TimerTask { fire_at: at(11), kind: TimerKind::WorkflowTaskTimeout { scheduled_event_id: 2, attempt: 1 } };
    assert_eq!(t.tasks, vec![Task::Timer(timeout.clone())]);
    let wt = run.wft();
    assert_eq!((wt.scheduled_event_id, wt.started_event_id, wt.attempt), (2, 3, 1));
    assert_eq!(wt.identity, "worker-a");
    assert_eq!(wt.started_time, Some(at(1)));
    assert_eq!(run.state.pending_tasks(), vec![Task::Timer(timeout)], "a started task is not dispatched again");
}

#[test]
fn starting_a_workflow_task_twice_fails() {
    let mut run = Run::new();
    let again = run.poll_input();
    run.poll_wft();
    assert_eq!(run.apply_err(again), EngineError::WorkflowTaskNotFound);
}

#[test]
fn starting_a_wrong_attempt_or_id_fails() {
    let mut run = Run::new();
    let wrong_attempt = Input::WorkflowTaskStarted {
        target_version_changed: false,
        routing_revision: 0,
        scheduled_event_id: 2,
        attempt: 2,
        identity: "w".into(),
        request_id: "r".into(),
        worker_version: None,
    };
    assert_eq!(run.apply_err(wrong_attempt), EngineError::WorkflowTaskNotFound);
    let wrong_id = Input::WorkflowTaskStarted {
        target_version_changed: false,
        routing_revision: 0,
        scheduled_event_id: 1,
        attempt: 1,
        identity: "w".into(),
        request_id: "r".into(),
        worker_version: None,
    };
    assert_eq!(run.apply_err(wrong_id), EngineError::WorkflowTaskNotFound);
}

#[test]
fn completing_or_failing_an_unstarted_workflow_task_fails() {
    let mut run = Run::new();
    let done = run.completion(vec![]);
    assert_eq!(run.apply_err(Input::WorkflowTaskCompleted(Box::new(done))), EngineError::WorkflowTaskNotFound);
    let fail = run.fail_wft_input();
    assert_eq!(run.apply_err(fail), EngineError::WorkflowTaskNotFound);
}

#[test]
fn completing_with_a_wrong_attempt_fails() {
    let mut run = Run::new();
    run.poll_wft();
    let mut done = run.completion(vec![]);
    done.attempt = 2;
    assert_eq!(run.apply_err(Input::WorkflowTaskCompleted(Box::new(done))), EngineError::WorkflowTaskNotFound);
}

#[test]
fn complete_with_schedule_activity() {
    let mut run = Run::with_run_timeout(3600);
    run.advance(1);
    run.poll_wft();
    run.advance(1);
    let metadata = WorkflowTaskCompletedMetadata {
        core_used_flags: vec![1, 2],
        sdk_name: "temporal-core".into(),
        sdk_version: "1.0".into(),
        ..Default::default()
    };
    let mut done = run.completion(vec![schedule_activity_with(ScheduleActivityTaskCommandAttributes {
        heartbeat_timeout: Some(secs(60)),
        ..activity_attrs("a1")
    })]);
    done.sdk_metadata = Some(metadata.clone());
    done.binary_checksum = "cs".into();
    let t = run.apply(Input::WorkflowTaskCompleted(Box::new(done))).unwrap();

    assert_eq!(ids(&t.events), vec![4, 5]);
    assert_eq!(types(&t.events), vec![EventType::WorkflowTaskCompleted, EventType::ActivityTaskScheduled]);
    let c = attrs!(t.events[0], WorkflowTaskCompletedEventAttributes);
    assert_eq!((c.scheduled_event_id, c.started_event_id), (2, 3));
    assert_eq!(c.identity, "worker");
    assert_eq!(c.binary_checksum, "cs");
    assert_eq!(c.sdk_metadata, Some(metadata));

    let s = attrs!(t.events[1], ActivityTaskScheduledEventAttributes);
    assert_eq!(s.workflow_task_completed_event_id, 4);
    assert_eq!(s.activity_id, "a1");
    assert_eq!(s.activity_type.as_ref().unwrap().name, "MyActivity");
    assert_eq!(s.task_queue.as_ref().unwrap().name, TQ, "defaults to the workflow's task queue");
    assert_eq!(s.input, Some(payloads("act-input")));
    assert_eq!(s.start_to_close_timeout, Some(secs(30)));
    assert_eq!(s.schedule_to_close_timeout, Some(secs(3600)), "the run timeout");
    assert_eq!(s.schedule_to_start_timeout, Some(secs(3600)), "= schedule_to_close");
    assert_eq!(s.heartbeat_timeout, Some(secs(30)), "capped by start_to_close");
    let policy = s.retry_policy.clone().unwrap();
    assert_eq!(policy, default_activity_retry_policy());
    assert_eq!(policy.initial_interval, Some(secs(1)));
    assert_eq!(policy.backoff_coefficient, 2.0);
    assert_eq!(policy.maximum_interval, Some(secs(100)));
    assert_eq!(policy.maximum_attempts, 0);

    assert!(t.tasks.contains(&Task::ActivityTask(ActivityTaskDispatch {
        task_queue: TQ.into(),
        scheduled_event_id: 5,
        attempt: 1,
        visible_at: at(2),
        pinned: String::new(),
    })));
    assert!(workflow_tasks(&t.tasks).is_empty(), "no new workflow task without new events");

    assert_eq!(run.state.last_completed_wft_started_event_id, 3);
    assert_eq!(run.state.workflow_task, None);
    let info = run.activity(5);
    assert_eq!(info.attempt, 1);
    assert_eq!(info.workflow_task_completed_event_id, 4);
    assert_eq!(info.scheduled_time, Some(at(2)));
}

#[test]
fn activity_timeouts_without_run_timeout() {
    let mut run = Run::new();
    let t = run.first_wft(vec![schedule_activity("a1")]);
    let s = attrs!(t.events[1], ActivityTaskScheduledEventAttributes);
    assert_eq!(s.start_to_close_timeout, Some(secs(30)));
    assert_eq!(s.schedule_to_close_timeout, Some(secs(0)), "no run timeout: unlimited");
    assert_eq!(s.schedule_to_start_timeout, Some(secs(0)), "= schedule_to_close");
    assert_eq!(s.heartbeat_timeout, Some(secs(0)));
    assert!(timers(&t.tasks).is_empty(), "no activity deadlines to watch");
    assert_eq!(activity_dispatches(&t.tasks).len(), 1);
}

#[test]
fn activity_timeouts_from_schedule_to_close_only() {
    let mut run = Run::with_run_timeout(3600);
    let t = run.first_wft(vec![schedule_activity_with(ScheduleActivityTaskCommandAttributes {
        start_to_close_timeout: None,
        schedule_to_close_timeout: Some(secs(100)),
        ..activity_attrs("a1")
    })]);
    let s = attrs!(t.events[1], ActivityTaskScheduledEventAttributes);
    assert_eq!(s.schedule_to_close_timeout, Some(secs(100)));
    assert_eq!(s.schedule_to_start_timeout, Some(secs(100)));
    assert_eq!(s.start_to_close_timeout, Some(secs(100)));
}

#[test]
fn activity_retry_policy_is_normalized() {
    let mut run = Run::new();
    let t = run.first_wft(vec![schedule_activity_with(ScheduleActivityTaskCommandAttributes {
        retry_policy: Some(RetryPolicy { initial_interval: Some(secs(2)), maximum_attempts: 5, ..Default::default() }),
        task_queue: Some(TaskQueue { name: "other-tq".into(), ..Default::default() }),
        ..activity_attrs("a1")
    })]);
    let s = attrs!(t.events[1], ActivityTaskScheduledEventAttributes);
    let p = s.retry_policy.clone().unwrap();
    assert_eq!(p.initial_interval, Some(secs(2)));
    assert_eq!(p.backoff_coefficient, 2.0);
    assert_eq!(p.maximum_interval, Some(secs(200)), "100 x initial interval");
    assert_eq!(p.maximum_attempts, 5);
    assert_eq!(s.task_queue.as_ref().unwrap().name, "other-tq");
    assert_eq!(activity_dispatches(&t.tasks)[0].task_queue, "other-tq");
}

#[test]
fn invalid_activity_command_fails_the_task_and_writes_nothing_else() {
    for (attrs, needle) in [
        (
            ScheduleActivityTaskCommandAttributes { start_to_close_timeout: None, ..activity_attrs("a1") },
            "StartToClose",
        ),
        (ScheduleActivityTaskCommandAttributes { activity_id: String::new(), ..activity_attrs("a1") }, "ActivityId"),
        (ScheduleActivityTaskCommandAttributes { activity_type: None, ..activity_attrs("a1") }, "ActivityType"),
        (
            ScheduleActivityTaskCommandAttributes {
                retry_policy: Some(RetryPolicy { backoff_coefficient: 0.5, ..Default::default() }),
                ..activity_attrs("a1")
            },
            "BackoffCoefficient",
        ),
    ] {
        let mut run = Run::new();
        run.poll_wft();
        // The first (valid) activity must not be written either.
        let t = run.complete_wft(vec![schedule_activity("ok"), schedule_activity_with(attrs)]);
        assert_eq!(types(&t.events), vec![EventType::WorkflowTaskFailed], "{needle}");
        let f = attrs!(t.events[0], WorkflowTaskFailedEventAttributes);
        assert_eq!(f.cause, WorkflowTaskFailedCause::BadScheduleActivityAttributes as i32);
        let message = &f.failure.as_ref().unwrap().message;
        assert!(message.contains(needle), "{message}");
        assert_eq!(t.outcome, Outcome::WorkflowTaskRejected { message: message.clone() });
        assert!(run.state.activities.is_empty());
    }
}

#[test]
fn duplicate_activity_id_fails_the_task() {
    let mut run = Run::new();
    run.poll_wft();
    let t = run.complete_wft(vec![schedule_activity("dup"), schedule_activity("dup")]);
    let f = attrs!(t.events[0], WorkflowTaskFailedEventAttributes);
    assert_eq!(f.cause, WorkflowTaskFailedCause::BadScheduleActivityAttributes as i32);
    assert!(f.failure.as_ref().unwrap().message.contains("already in use"));
}

#[test]
fn force_create_new_workflow_task_schedules_one() {
    let mut run = Run::new();
    run.poll_wft();
    let mut done = run.completion(vec![]);
    done.force_create_new_workflow_task = true;
    let t = run.apply(Input::WorkflowTaskCompleted(Box::new(done))).unwrap();
    assert_eq!(types(&t.events), vec![EventType::WorkflowTaskCompleted, EventType::WorkflowTaskScheduled]);
    assert_eq!(t.tasks, vec![wft_task(5, 1)]);
}

#[test]
fn unsupported_command_fails_the_task_and_the_retry_is_transient() {
    let mut run = Run::new();
    run.advance(1);
    run.poll_wft();
    run.advance(1);
    let t = run.complete_wft(vec![unsupported_command()]);

    let message = "ScheduleNexusOperation command is not supported by Chronicle yet.".to_string();
    assert_eq!(ids(&t.events), vec![4]);
    let f = attrs!(t.events[0], WorkflowTaskFailedEventAttributes);
    assert_eq!((f.scheduled_event_id, f.started_event_id), (2, 3));
    assert_eq!(f.cause, WorkflowTaskFailedCause::BadScheduleNexusOperationAttributes as i32);
    let failure = f.failure.as_ref().unwrap();
    assert_eq!(failure.message, message);
    assert!(matches!(failure.failure_info, Some(FailureInfo::ServerFailureInfo(_))));
    assert_eq!(t.outcome, Outcome::WorkflowTaskRejected { message });

    // Attempt 2 is transient: no event, scheduled at the next id.
    let wt = run.wft();
    assert_eq!((wt.scheduled_event_id, wt.attempt, wt.transient, wt.started_event_id), (5, 2, true, 0));
    assert_eq!(run.state.next_event_id, 5);
    assert_eq!(t.tasks, vec![wft_task(5, 2)]);

    // Starting it writes nothing but shows the worker the would-be events.
    run.advance(1);
    let t = run.poll_wft();
    assert!(t.events.is_empty());
    assert_eq!(run.state.next_event_id, 5);
    let Outcome::WorkflowTaskStarted { started_event_id, transient_events } = t.outcome else {
        panic!("expected WorkflowTaskStarted, got {:?}", t.outcome)
    };
    assert_eq!(started_event_id, 6);
    assert_eq!(ids(&transient_events), vec![5, 6]);
    assert_eq!(types(&transient_events), vec![EventType::WorkflowTaskScheduled, EventType::WorkflowTaskStarted]);
    assert_eq!(attrs!(transient_events[0], WorkflowTaskScheduledEventAttributes).attempt, 2);
    assert_eq!(attrs!(transient_events[1], WorkflowTaskStartedEventAttributes).scheduled_event_id, 5);
    assert_eq!(transient_events[1].event_time, Some(at(3)));
    assert_eq!(
        t.tasks,
        vec![Task::Timer(TimerTask {
            fire_at: at(13),
            kind: TimerKind::WorkflowTaskTimeout { scheduled_event_id: 5, attempt: 2 }
        })]
    );

    // Completing it persists Scheduled/Started (as shown), then Completed.
    let t = run.complete_wft(vec![]);
    assert_eq!(ids(&t.events), vec![5, 6, 7]);
    assert_eq!(
        types(&t.events),
        vec![EventType::WorkflowTaskScheduled, EventType::WorkflowTaskStarted, EventType::WorkflowTaskCompleted]
    );
    assert_eq!(t.events[..2], transient_events[..], "the worker saw exactly what is persisted");
    let c = attrs!(t.events[2], WorkflowTaskCompletedEventAttributes);
    assert_eq!((c.scheduled_event_id, c.started_event_id), (5, 6));
    assert_eq!(run.state.last_completed_wft_started_event_id, 6);
    assert_eq!(run.state.workflow_task, None);
}

#[test]
fn worker_failure_writes_failed_event_and_schedules_transient_retry() {
    let mut run = Run::new();
    run.poll_wft();
    let t = run.fail_wft();
    assert_eq!(types(&t.events), vec![EventType::WorkflowTaskFailed]);
    let f = attrs!(t.events[0], WorkflowTaskFailedEventAttributes);
    assert_eq!((f.scheduled_event_id, f.started_event_id), (2, 3));
    assert_eq!(f.cause, WorkflowTaskFailedCause::WorkflowWorkerUnhandledFailure as i32);
    assert_eq!(f.failure.as_ref().unwrap().message, "workflow panicked");
    assert_eq!(f.identity, "worker");
    assert_eq!(f.binary_checksum, "bin");
    assert_eq!(t.outcome, Outcome::None);
    let wt = run.wft();
    assert_eq!((wt.scheduled_event_id, wt.attempt, wt.transient), (5, 2, true));
}

#[test]
fn workflow_task_timeout_then_transient_retries() {
    let mut run = Run::new();
    run.poll_wft();
    let timer = run.wft_timeout_timer();
    run.advance(10);
    let t = run.apply(timer.clone()).unwrap();
    assert_eq!(ids(&t.events), vec![4]);
    let to = attrs!(t.events[0], WorkflowTaskTimedOutEventAttributes);
    assert_eq!((to.scheduled_event_id, to.started_event_id), (2, 3));
    assert_eq!(to.timeout_type, TimeoutType::StartToClose as i32);
    let wt = run.wft();
    assert_eq!((wt.scheduled_event_id, wt.attempt, wt.transient), (5, 2, true));
    assert_eq!(t.tasks, vec![wft_task(5, 2)]);

    // The same timer again, and the new attempt's timer before it started.
    assert_eq!(run.apply_err(timer), EngineError::StaleTimer);
    let early = run.wft_timeout_timer();
    assert_eq!(run.apply_err(early), EngineError::StaleTimer);

    // A transient attempt that fails or times out writes nothing.
    run.poll_wft();
    let t = run.fail_wft();
    assert!(t.events.is_empty());
    let wt = run.wft();
    assert_eq!((wt.scheduled_event_id, wt.attempt, wt.transient), (5, 3, true));

    run.poll_wft();
    let timer = run.wft_timeout_timer();
    run.advance(10);
    let t = run.apply(timer).unwrap();
    assert!(t.events.is_empty());
    let wt = run.wft();
    assert_eq!((wt.scheduled_event_id, wt.attempt, wt.transient), (5, 4, true));
    assert_eq!(run.state.next_event_id, 5);
    assert_eq!(run.history.len(), 4);
}

#[test]
fn timeout_timer_of_a_completed_workflow_task_is_stale() {
    let mut run = Run::new();
    run.poll_wft();
    let timer = run.wft_timeout_timer();
    run.complete_wft(vec![schedule_activity("a1")]);
    run.advance(10);
    assert_eq!(run.apply_err(timer), EngineError::StaleTimer);
}

#[test]
fn new_events_reset_a_transient_attempt_to_one() {
    let mut run = Run::new();
    run.poll_wft();
    let mut done = run.completion(vec![schedule_activity("a1")]);
    done.force_create_new_workflow_task = true;
    let t = run.apply(Input::WorkflowTaskCompleted(Box::new(done))).unwrap();
    assert_eq!(ids(&t.events), vec![4, 5, 6]);
    run.start_activity(5);
    run.poll_wft(); // 7
    run.fail_wft(); // 8, then transient attempt 2 at 9
    assert_eq!(run.wft().attempt, 2);
    let t = run.complete_activity(5, "r");
    assert_eq!(ids(&t.events), vec![9, 10, 11]);
    assert_eq!(
        types(&t.events),
        vec![EventType::ActivityTaskStarted, EventType::ActivityTaskCompleted, EventType::WorkflowTaskScheduled]
    );
    assert_eq!(attrs!(t.events[2], WorkflowTaskScheduledEventAttributes).attempt, 1);
    let wt = run.wft();
    assert_eq!((wt.scheduled_event_id, wt.attempt, wt.transient), (11, 1, false));
    assert_eq!(t.tasks, vec![wft_task(11, 1)]);
}

#[test]
fn close_command_must_be_last() {
    let mut run = Run::new();
    run.poll_wft();
    let t = run.complete_wft(vec![complete_workflow("done"), schedule_activity("a1")]);
    assert_eq!(types(&t.events), vec![EventType::WorkflowTaskFailed]);
    let f = attrs!(t.events[0], WorkflowTaskFailedEventAttributes);
    assert_eq!(f.cause, WorkflowTaskFailedCause::BadCompleteWorkflowExecutionAttributes as i32);
    assert_eq!(
        t.outcome,
        Outcome::WorkflowTaskRejected {
            message: "invalid command sequence: CompleteWorkflowExecution must be the last command.".into()
        }
    );
    assert_eq!(run.state.status(), WorkflowExecutionStatus::Running);
}

#[test]
fn repeated_failures_get_more_time_per_attempt() {
    // Temporal's backoff: from attempt 4 on, 5 s doubling on top of the
    // workflow task timeout (10 s), at most 10 min extra.
    let mut run = Run::new();
    let mut timeouts = Vec::new();
    for _ in 0..6 {
        run.poll_wft();
        timeouts.push(run.wft().start_to_close_timeout.unwrap().seconds);
        run.fail_wft();
    }
    assert_eq!(timeouts, vec![10, 10, 10, 15, 20, 30]);
    assert_eq!(run.wft().attempt, 7);
}

#[test]
fn rejected_completion_of_a_transient_attempt_writes_nothing() {
    let mut run = Run::new();
    run.poll_wft();
    run.complete_wft(vec![unsupported_command()]); // 4: WorkflowTaskFailed; transient attempt 2 at 5
    run.poll_wft();
    let t = run.complete_wft(vec![unsupported_command()]);
    assert_eq!(
        t.outcome,
        Outcome::WorkflowTaskRejected {
            message: "ScheduleNexusOperation command is not supported by Chronicle yet.".into()
        }
    );
    assert!(t.events.is_empty(), "wrote {:?}", types(&t.events));
    let wt = run.wft();
    assert_eq!((wt.scheduled_event_id, wt.attempt, wt.transient), (5, 3, true));
}
