//! Sticky execution: after a completion naming the worker's own queue, the
//! next workflow task goes there, with a schedule-to-start deadline.

use crate::support::*;
use chronicle_engine::api::{
    enums::v1::{EventType, TaskQueueKind, TimeoutType},
    taskqueue::v1::{StickyExecutionAttributes, TaskQueue},
};
use chronicle_engine::{EngineError, Input, Task, TimerKind, TimerTask};

const STICKY: &str = "worker-1-sticky";

fn sticky_attributes() -> StickyExecutionAttributes {
    StickyExecutionAttributes {
        worker_task_queue: Some(TaskQueue {
            name: STICKY.into(),
            kind: TaskQueueKind::Sticky as i32,
            normal_name: String::new(),
        }),
        schedule_to_start_timeout: Some(secs(5)),
    }
}

/// First task completes sticky with an activity (5); the activity's
/// completion at t=10 schedules workflow task 8 on the sticky queue.
fn sticky_run() -> (Run, chronicle_engine::Transition) {
    let mut run = Run::new();
    run.poll_wft();
    let mut done = run.completion(vec![schedule_activity("a1")]);
    done.sticky_attributes = Some(sticky_attributes());
    run.apply(Input::WorkflowTaskCompleted(Box::new(done))).unwrap();
    run.start_activity(5);
    run.set_time(10);
    let t = run.complete_activity(5, "r");
    (run, t)
}

#[test]
fn next_workflow_task_goes_to_the_sticky_queue() {
    let (run, t) = sticky_run();
    assert_eq!(ids(&t.events), vec![6, 7, 8]);
    let scheduled = attrs!(t.events[2], WorkflowTaskScheduledEventAttributes);
    let queue = scheduled.task_queue.as_ref().unwrap();
    assert_eq!(queue.name, STICKY);
    assert_eq!(queue.kind, TaskQueueKind::Sticky as i32);
    assert_eq!(queue.normal_name, TQ, "the normal queue is filled in");
    let dispatch = Task::WorkflowTask {
        task_queue: STICKY.into(),
        sticky: true,
        scheduled_event_id: 8,
        attempt: 1,
        pinned: String::new(),
    };
    let deadline = TimerTask {
        fire_at: at(15),
        kind: TimerKind::StickyScheduleToStartTimeout { scheduled_event_id: 8, attempt: 1 },
    };
    assert!(t.tasks.contains(&dispatch));
    assert!(t.tasks.contains(&Task::Timer(deadline.clone())));
    let pending = run.state.pending_tasks();
    assert!(pending.contains(&dispatch) && pending.contains(&Task::Timer(deadline)), "{pending:?}");
}

#[test]
fn sticky_schedule_to_start_timeout_moves_the_task_to_the_normal_queue() {
    let (mut run, _) = sticky_run();
    let timer = Input::TimerFired(TimerKind::StickyScheduleToStartTimeout { scheduled_event_id: 8, attempt: 1 });
    run.set_time(15);
    let t = run.apply(timer.clone()).unwrap();
    assert_eq!(ids(&t.events), vec![9, 10]);
    assert_eq!(types(&t.events), vec![EventType::WorkflowTaskTimedOut, EventType::WorkflowTaskScheduled]);
    let to = attrs!(t.events[0], WorkflowTaskTimedOutEventAttributes);
    assert_eq!((to.scheduled_event_id, to.started_event_id), (8, 0));
    assert_eq!(to.timeout_type, TimeoutType::ScheduleToStart as i32);
    let scheduled = attrs!(t.events[1], WorkflowTaskScheduledEventAttributes);
    assert_eq!(scheduled.attempt, 1);
    assert_eq!(scheduled.task_queue.as_ref().unwrap().name, TQ);
    assert_eq!(t.tasks, vec![wft_task(10, 1)]);
    assert_eq!(run.state.sticky_task_queue, None);
    assert_eq!(run.apply_err(timer), EngineError::StaleTimer);
}

#[test]
fn sticky_timer_after_the_task_started_is_stale() {
    let (mut run, _) = sticky_run();
    run.poll_wft();
    run.set_time(15);
    let timer = Input::TimerFired(TimerKind::StickyScheduleToStartTimeout { scheduled_event_id: 8, attempt: 1 });
    assert_eq!(run.apply_err(timer), EngineError::StaleTimer);
}

#[test]
fn failure_on_a_sticky_queue_retries_as_attempt_one_on_the_normal_queue() {
    let (mut run, _) = sticky_run();
    run.poll_wft(); // 9
    let t = run.fail_wft();
    assert_eq!(types(&t.events), vec![EventType::WorkflowTaskFailed, EventType::WorkflowTaskScheduled]);
    let wt = run.wft();
    assert_eq!((wt.scheduled_event_id, wt.attempt, wt.transient), (11, 1, false));
    assert_eq!(wt.task_queue.as_ref().unwrap().name, TQ);
    assert_eq!(run.state.sticky_task_queue, None);
    // The next failure is an ordinary retry.
    run.poll_wft();
    run.fail_wft();
    let wt = run.wft();
    assert_eq!((wt.attempt, wt.transient), (2, true));
}

#[test]
fn completion_without_sticky_attributes_clears_stickiness() {
    let (mut run, _) = sticky_run();
    run.poll_wft();
    let mut done = run.completion(vec![]);
    done.force_create_new_workflow_task = true;
    let t = run.apply(Input::WorkflowTaskCompleted(Box::new(done))).unwrap();
    assert_eq!(run.state.sticky_task_queue, None);
    assert!(t.tasks.contains(&wft_task(11, 1)), "{:?}", t.tasks);
}
