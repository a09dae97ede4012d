//! User timers: StartTimer / CancelTimer and their events.

use crate::support::*;
use chronicle_engine::{
    EngineError, Input, TimerKind,
    api::enums::v1::{EventType as E, WorkflowTaskFailedCause},
};

#[test]
fn start_timer_writes_timer_started_and_a_durable_timer() {
    let mut run = Run::new();
    let t = run.first_wft(vec![start_timer_named("t1", 5)]);
    assert_eq!(types(&t.events), vec![E::WorkflowTaskCompleted, E::TimerStarted]);
    let started = attrs!(t.events[1], TimerStartedEventAttributes);
    assert_eq!(started.timer_id, "t1");
    assert_eq!(started.start_to_fire_timeout, Some(secs(5)));
    assert_eq!(started.workflow_task_completed_event_id, 4);
    let fire = timers(&t.tasks);
    assert_eq!(fire.len(), 1);
    assert_eq!(fire[0].fire_at, at(5));
    assert_eq!(fire[0].kind, TimerKind::UserTimer { started_event_id: 5 });
    assert!(run.state.pending_tasks().iter().any(|task| matches!(task, chronicle_engine::Task::Timer(t) if t.kind == TimerKind::UserTimer { started_event_id: 5 })));
}

#[test]
fn timer_fires_once_at_its_deadline() {
    let mut run = Run::new();
    run.first_wft(vec![start_timer_named("t1", 5)]);
    run.advance(4);
    assert_eq!(run.apply_err(Input::TimerFired(TimerKind::UserTimer { started_event_id: 5 })), EngineError::StaleTimer);
    run.advance(1);
    let t = run.apply(Input::TimerFired(TimerKind::UserTimer { started_event_id: 5 })).unwrap();
    assert_eq!(types(&t.events), vec![E::TimerFired, E::WorkflowTaskScheduled]);
    let fired = attrs!(t.events[0], TimerFiredEventAttributes);
    assert_eq!((fired.timer_id.as_str(), fired.started_event_id), ("t1", 5));
    assert!(run.state.timers.is_empty());
    assert_eq!(run.apply_err(Input::TimerFired(TimerKind::UserTimer { started_event_id: 5 })), EngineError::StaleTimer);
}

#[test]
fn cancel_timer_writes_timer_canceled_and_the_timer_never_fires() {
    let mut run = Run::new();
    run.first_wft(vec![start_timer_named("t1", 5), schedule_activity("a")]);
    // activity completes -> new workflow task, which cancels the timer
    run.start_activity(6);
    run.complete_activity(6, "done");
    run.poll_wft();
    let t = run.complete_wft(vec![cancel_timer("t1")]);
    let canceled = t.events.iter().find(|e| ty(e) == E::TimerCanceled).expect("TimerCanceled");
    let a = attrs!(canceled, TimerCanceledEventAttributes);
    assert_eq!((a.timer_id.as_str(), a.started_event_id), ("t1", 5));
    assert_eq!(a.identity, "worker");
    run.advance(10);
    assert_eq!(run.apply_err(Input::TimerFired(TimerKind::UserTimer { started_event_id: 5 })), EngineError::StaleTimer);
}

#[test]
fn timer_firing_during_a_workflow_task_is_buffered_and_can_still_be_canceled() {
    let mut run = Run::new();
    run.first_wft(vec![start_timer_named("t1", 5), schedule_activity("a")]);
    run.start_activity(6);
    run.complete_activity(6, "done");
    run.poll_wft();
    run.advance(5);
    let t = run.apply(Input::TimerFired(TimerKind::UserTimer { started_event_id: 5 })).unwrap();
    assert!(t.events.is_empty(), "buffered while the workflow task runs");
    // The worker, not having seen it fire, cancels it: the fired event is dropped.
    let t = run.complete_wft(vec![cancel_timer("t1")]);
    assert!(!types(&t.events).contains(&E::TimerFired));
    assert!(types(&t.events).contains(&E::TimerCanceled));
    assert!(run.state.buffered_events.is_empty());
}

#[test]
fn bad_timer_commands_fail_the_workflow_task() {
    for (commands, message) in [
        (vec![start_timer_named("", 5)], "TimerId is not set"),
        (
            vec![start_timer_named("t", -1)],
            "An invalid StartToFireTimeout is set on StartTimerCommand: negative timer duration. TimerId=t",
        ),
        (vec![start_timer_named("t", 5), start_timer_named("t", 6)], "already in use"),
        (vec![cancel_timer("nope")], "no pending timer"),
    ] {
        let mut run = Run::new();
        run.poll_wft();
        let t = run.complete_wft(commands);
        assert_eq!(types(&t.events)[0], E::WorkflowTaskFailed, "{message}");
        let f = attrs!(t.events[0], WorkflowTaskFailedEventAttributes);
        assert!(
            f.cause == WorkflowTaskFailedCause::BadStartTimerAttributes as i32
                || f.cause == WorkflowTaskFailedCause::BadCancelTimerAttributes as i32
        );
        assert!(f.failure.as_ref().unwrap().message.contains(message), "{:?}", f.failure);
        assert!(run.state.timers.is_empty());
    }
}

#[test]
fn zero_length_timers_fire_in_a_later_transaction() {
    let mut run = Run::new();
    let t = run.first_wft(vec![start_timer_named("t0", 0)]);
    assert_eq!(types(&t.events), vec![E::WorkflowTaskCompleted, E::TimerStarted]);
    let started_event_id = t.events[1].event_id;
    let fire = timers(&t.tasks);
    assert_eq!(fire.len(), 1);
    assert_eq!(fire[0].fire_at, run.now, "due at once");
    let t = run.apply(Input::TimerFired(TimerKind::UserTimer { started_event_id })).unwrap();
    assert_eq!(types(&t.events), vec![E::TimerFired, E::WorkflowTaskScheduled]);
}

#[test]
fn start_and_cancel_in_the_same_task() {
    let mut run = Run::new();
    let t = run.first_wft(vec![start_timer_named("t1", 5), cancel_timer("t1")]);
    assert_eq!(types(&t.events), vec![E::WorkflowTaskCompleted, E::TimerStarted, E::TimerCanceled]);
    assert!(run.state.timers.is_empty());
}

#[test]
fn closing_the_run_drops_its_timers() {
    let mut run = Run::new();
    run.first_wft(vec![start_timer_named("t1", 5), schedule_activity("a")]);
    run.start_activity(6);
    run.complete_activity(6, "done");
    run.poll_wft();
    run.complete_wft(vec![complete_workflow("ok")]);
    assert!(run.state.timers.is_empty());
    run.advance(10);
    assert_eq!(run.apply_err(Input::TimerFired(TimerKind::UserTimer { started_event_id: 5 })), EngineError::StaleTimer);
}

#[test]
fn timers_due_together_fire_in_one_transition_skipping_stale_ones() {
    let mut run = Run::new();
    run.first_wft(vec![start_timer_named("t1", 5), start_timer_named("t2", 6)]);
    run.advance(6);
    let fire = |started_event_id| Input::TimerFired(TimerKind::UserTimer { started_event_id });
    let env = chronicle_engine::Env { now: run.now, limits: Default::default(), new_run_id: "next".into() };
    let inputs = vec![fire(5), fire(5), fire(99), fire(6)];
    let t = chronicle_engine::apply_all(&run.state, inputs, &env).unwrap();
    assert_eq!(types(&t.events), vec![E::TimerFired, E::WorkflowTaskScheduled, E::TimerFired]);
    assert_eq!(t.state.db_version, run.state.db_version + 1, "one commit");
    let ids: Vec<i64> = t.events.iter().map(|e| e.event_id).collect();
    assert_eq!(ids, (run.state.next_event_id..).take(3).collect::<Vec<_>>());
    assert!(t.state.timers.is_empty());
    let none = chronicle_engine::apply_all(&t.state, vec![fire(5)], &env);
    assert_eq!(none.unwrap_err(), EngineError::StaleTimer, "nothing applied: the refusal");
}

#[test]
fn thousands_of_timers_fire_together_as_they_would_one_by_one() {
    let mut run = Run::new();
    let names: Vec<String> = (0..2000).map(|n| format!("t{n}")).collect();
    let t = run.first_wft(names.iter().map(|n| start_timer_named(n, 5)).collect());
    let started: Vec<i64> =
        t.events.iter().filter(|e| e.event_type == E::TimerStarted as i32).map(|e| e.event_id).collect();
    run.advance(6);
    let fire = |started_event_id| Input::TimerFired(TimerKind::UserTimer { started_event_id });
    let env = chronicle_engine::Env { now: run.now, limits: Default::default(), new_run_id: "next".into() };
    // A signal between the timers: they fire in two groups around it.
    let mut inputs: Vec<Input> = started.iter().map(|id| fire(*id)).collect();
    inputs.insert(1000, Input::Signal(chronicle_engine::SignalArgs { signal_name: "s".into(), ..Default::default() }));
    let together = chronicle_engine::apply_all(&run.state, inputs.clone(), &env).unwrap();
    let mut one_by_one = run.state.clone();
    let mut events = Vec::new();
    for input in inputs {
        let t = chronicle_engine::apply_env(&one_by_one, input, &env).unwrap();
        events.extend(t.events);
        one_by_one = t.state;
    }
    one_by_one.db_version = run.state.db_version + 1;
    assert_eq!(together.events, events);
    assert_eq!(together.state, one_by_one);
    assert!(together.state.timers.is_empty());
}
