//! Child workflows: the parent's events, the start request the server
//! makes, close notifications, and parent close policies.

use crate::support::*;
use chronicle_engine::{
    ChildClose, Input, StartArgs, Task,
    api::{
        command::v1::StartChildWorkflowExecutionCommandAttributes as ChildAttrs,
        common::v1::{WorkflowExecution, WorkflowType},
        enums::v1::{
            EventType as E, ParentClosePolicy, StartChildWorkflowExecutionFailedCause, WorkflowExecutionStatus,
            WorkflowTaskFailedCause,
        },
    },
    child_request_id, child_start_args,
};

fn exec(id: &str, run: &str) -> WorkflowExecution {
    WorkflowExecution { workflow_id: id.into(), run_id: run.into() }
}

#[test]
fn start_child_is_initiated_with_temporal_defaults() {
    let mut run = Run::new();
    let t = run.first_wft(vec![start_child("kid")]);
    assert_eq!(types(&t.events), vec![E::WorkflowTaskCompleted, E::StartChildWorkflowExecutionInitiated]);
    let a = attrs!(t.events[1], StartChildWorkflowExecutionInitiatedEventAttributes);
    assert_eq!(a.workflow_id, "kid");
    assert_eq!(a.namespace, "default");
    assert_eq!(a.task_queue.as_ref().unwrap().name, TQ, "the parent's task queue by default");
    assert_eq!(a.parent_close_policy, ParentClosePolicy::Terminate as i32);
    assert_eq!(a.workflow_task_timeout, Some(secs(10)));
    assert_eq!(a.workflow_task_completed_event_id, 4);
    assert!(t.tasks.contains(&Task::StartChild { initiated_event_id: 5 }));
    assert!(run.state.pending_tasks().contains(&Task::StartChild { initiated_event_id: 5 }), "recovered after a crash");
}

#[test]
fn the_child_start_request_names_its_parent_and_root() {
    let mut run = Run::new();
    run.first_wft(vec![start_child("kid")]);
    let args = child_start_args(&run.state, 5, "kid-run".into()).expect("child to start");
    assert_eq!(args.workflow_id, "kid");
    assert_eq!(args.workflow_type, "ChildWorkflow");
    assert_eq!(args.task_queue, TQ);
    assert_eq!(args.request_id, child_request_id(RUN_ID, 5), "stable across retries");
    let parent = args.parent.clone().unwrap();
    assert_eq!(parent.execution, exec("wf-1", RUN_ID));
    assert_eq!(parent.initiated_event_id, 5);
    assert_eq!(args.root_execution, Some(exec("wf-1", RUN_ID)));
    // The child's first event records them.
    let (child, _) = Run::start_with(StartArgs { ..args });
    let started = attrs!(child.history[0], WorkflowExecutionStartedEventAttributes);
    assert_eq!(started.parent_workflow_execution, Some(exec("wf-1", RUN_ID)));
    assert_eq!(started.parent_initiated_event_id, 5);
    assert_eq!(started.root_workflow_execution, Some(exec("wf-1", RUN_ID)));
}

#[test]
fn child_started_then_completed() {
    let mut run = Run::new();
    run.first_wft(vec![start_child("kid")]);
    let t = run.apply(Input::ChildStarted { initiated_event_id: 5, run_id: "kid-run".into() }).unwrap();
    assert_eq!(types(&t.events), vec![E::ChildWorkflowExecutionStarted, E::WorkflowTaskScheduled]);
    assert_eq!(child_start_args(&run.state, 5, "x".into()), None, "started once");
    // A repeated start outcome changes nothing.
    run.apply_err(Input::ChildStarted { initiated_event_id: 5, run_id: "kid-run".into() });
    run.poll_wft();
    run.complete_wft(vec![]);
    let closed = ChildClose::Completed { execution: exec("kid", "kid-run"), result: Some(payloads("done")) };
    let t = run.apply(Input::ChildClosed { initiated_event_id: 5, run_id: "kid-run".into(), closed }).unwrap();
    assert_eq!(types(&t.events), vec![E::ChildWorkflowExecutionCompleted, E::WorkflowTaskScheduled]);
    let a = attrs!(t.events[0], ChildWorkflowExecutionCompletedEventAttributes);
    assert_eq!((a.initiated_event_id, a.started_event_id), (5, 6));
    assert_eq!(a.workflow_type, Some(WorkflowType { name: "ChildWorkflow".into() }));
    assert!(run.state.children.is_empty());
    // The notification is idempotent.
    let again = ChildClose::Terminated { execution: exec("kid", "kid-run") };
    run.apply_err(Input::ChildClosed { initiated_event_id: 5, run_id: "kid-run".into(), closed: again });
}

#[test]
fn a_child_that_closes_before_its_start_is_recorded_gets_both_events() {
    let mut run = Run::new();
    run.first_wft(vec![start_child("kid")]);
    let closed = ChildClose::Failed { execution: exec("kid", "kid-run"), failure: None, retry_state: 0 };
    let t = run.apply(Input::ChildClosed { initiated_event_id: 5, run_id: "kid-run".into(), closed }).unwrap();
    assert_eq!(
        types(&t.events),
        vec![E::ChildWorkflowExecutionStarted, E::ChildWorkflowExecutionFailed, E::WorkflowTaskScheduled],
        "Temporal's order: both events, then one workflow task"
    );
    let a = attrs!(t.events[1], ChildWorkflowExecutionFailedEventAttributes);
    assert_eq!(a.started_event_id, 6);
    // The late start outcome is stale.
    run.apply_err(Input::ChildStarted { initiated_event_id: 5, run_id: "kid-run".into() });
}

#[test]
fn child_events_while_a_task_is_in_flight_are_buffered_with_fixed_references() {
    let mut run = Run::new();
    run.first_wft(vec![start_child("kid")]);
    run.apply(Input::Signal(chronicle_engine::SignalArgs { signal_name: "s".into(), ..Default::default() })).unwrap();
    run.poll_wft();
    // The child starts and finishes while the task is in flight.
    let t = run.apply(Input::ChildStarted { initiated_event_id: 5, run_id: "kid-run".into() }).unwrap();
    assert!(t.events.is_empty(), "buffered while the task runs");
    let closed = ChildClose::Completed { execution: exec("kid", "kid-run"), result: None };
    let t = run.apply(Input::ChildClosed { initiated_event_id: 5, run_id: "kid-run".into(), closed }).unwrap();
    assert!(t.events.is_empty(), "buffered while the task runs");
    let t = run.complete_wft(vec![]);
    assert_eq!(
        types(&t.events),
        vec![
            E::WorkflowTaskCompleted,
            E::ChildWorkflowExecutionStarted,
            E::ChildWorkflowExecutionCompleted,
            E::WorkflowTaskScheduled
        ]
    );
    let started_id = t.events[1].event_id;
    let a = attrs!(t.events[2], ChildWorkflowExecutionCompletedEventAttributes);
    assert_eq!(a.started_event_id, started_id, "fixed up at flush");
    assert!(run.state.children.is_empty());
}

#[test]
fn a_taken_id_fails_the_start() {
    let mut run = Run::new();
    run.first_wft(vec![start_child("kid")]);
    let t = run
        .apply(Input::ChildStartFailed {
            initiated_event_id: 5,
            cause: StartChildWorkflowExecutionFailedCause::WorkflowAlreadyExists,
        })
        .unwrap();
    assert_eq!(types(&t.events), vec![E::StartChildWorkflowExecutionFailed, E::WorkflowTaskScheduled]);
    let a = attrs!(t.events[0], StartChildWorkflowExecutionFailedEventAttributes);
    assert_eq!(a.cause, StartChildWorkflowExecutionFailedCause::WorkflowAlreadyExists as i32);
    assert_eq!((a.initiated_event_id, a.workflow_id.as_str()), (5, "kid"));
    assert!(run.state.children.is_empty());
}

#[test]
fn invalid_child_options_fail_the_workflow_task() {
    for (attrs, needle) in [
        (ChildAttrs { workflow_id: String::new(), ..child_attrs() }, "WorkflowId"),
        (ChildAttrs { workflow_type: None, ..child_attrs() }, "WorkflowType"),
        (ChildAttrs { workflow_run_timeout: Some(secs(-1)), ..child_attrs() }, "WorkflowRunTimeout"),
        (ChildAttrs { namespace: "elsewhere".into(), ..child_attrs() }, "namespace"),
    ] {
        let mut run = Run::new();
        let t = run.first_wft(vec![start_child_with(attrs)]);
        assert_eq!(types(&t.events), vec![E::WorkflowTaskFailed]);
        let a = attrs!(t.events[0], WorkflowTaskFailedEventAttributes);
        assert_eq!(a.cause, WorkflowTaskFailedCause::BadStartChildExecutionAttributes as i32);
        assert!(a.failure.as_ref().unwrap().message.contains(needle), "{:?}", a.failure);
        assert!(run.state.children.is_empty());
    }
}

fn child_attrs() -> ChildAttrs {
    ChildAttrs {
        workflow_id: "kid".into(),
        workflow_type: Some(WorkflowType { name: "ChildWorkflow".into() }),
        ..Default::default()
    }
}

#[test]
fn the_pending_children_limit_is_enforced() {
    let mut run = Run::new();
    let env = chronicle_engine::Env {
        now: run.now,
        limits: chronicle_engine::Limits { pending_children_max: 2, ..Default::default() },
        new_run_id: "next".into(),
    };
    run.poll_wft();
    let done = run.completion(vec![start_child("a"), start_child("b"), start_child("c")]);
    let t = chronicle_engine::apply_env(&run.state, Input::WorkflowTaskCompleted(Box::new(done)), &env).unwrap();
    let a = attrs!(t.events[0], WorkflowTaskFailedEventAttributes);
    assert_eq!(a.cause, WorkflowTaskFailedCause::PendingChildWorkflowsLimitExceeded as i32);
}

#[test]
fn parent_close_applies_policies_and_keeps_post_close_work() {
    let mut run = Run::new();
    let abandon = ChildAttrs {
        workflow_id: "abandoned".into(),
        parent_close_policy: ParentClosePolicy::Abandon as i32,
        ..child_attrs()
    };
    let cancel = ChildAttrs {
        workflow_id: "canceled".into(),
        parent_close_policy: ParentClosePolicy::RequestCancel as i32,
        ..child_attrs()
    };
    run.first_wft(vec![start_child("terminated"), start_child_with(abandon), start_child_with(cancel)]);
    let t = run.apply(Input::Terminate { reason: "r".into(), details: None, identity: "i".into() }).unwrap();
    assert_eq!(run.state.status(), WorkflowExecutionStatus::Terminated);
    let policy_tasks: Vec<_> =
        t.tasks.iter().filter(|t| matches!(t, Task::ApplyParentClosePolicy { .. })).cloned().collect();
    assert_eq!(policy_tasks.len(), 2, "abandoned children are let go");
    assert!(run.state.needs_recovery());
    assert_eq!(run.state.pending_tasks(), policy_tasks, "recovered after a crash");
    // Acknowledging each policy finishes the post-close work, without events.
    for task in policy_tasks {
        let Task::ApplyParentClosePolicy { initiated_event_id } = task else { unreachable!() };
        let t = run.apply(Input::ChildClosePolicyApplied { initiated_event_id }).unwrap();
        assert!(t.events.is_empty());
    }
    assert!(!run.state.needs_recovery());
    // Other inputs on the closed run are refused.
    run.apply_err(Input::ChildStarted { initiated_event_id: 5, run_id: "x".into() });
}

#[test]
fn a_closing_child_notifies_its_parent_once() {
    let mut run = Run::new();
    run.first_wft(vec![start_child("kid")]);
    let args = child_start_args(&run.state, 5, "kid-run".into()).unwrap();
    let (mut child, _) = Run::start_with(args);
    let t = child.first_wft(vec![complete_workflow("ok")]);
    assert!(t.tasks.contains(&Task::NotifyParent));
    assert!(child.state.needs_recovery() && child.state.pending_tasks() == vec![Task::NotifyParent]);
    child.apply(Input::ParentNotified).unwrap();
    assert!(!child.state.needs_recovery());
    child.apply_err(Input::ParentNotified);
}

#[test]
fn a_child_that_continues_as_new_notifies_only_at_the_end() {
    let mut run = Run::new();
    run.first_wft(vec![start_child("kid")]);
    let args = child_start_args(&run.state, 5, "kid-run".into()).unwrap();
    let (mut child, _) = Run::start_with(args);
    let t = child.first_wft(vec![continue_as_new("again")]);
    assert!(!t.tasks.contains(&Task::NotifyParent));
    let next = t.new_run.expect("a new run");
    let started = attrs!(next.events[0], WorkflowExecutionStartedEventAttributes);
    assert_eq!(started.parent_workflow_execution, Some(exec("wf-1", RUN_ID)), "the chain keeps its parent");
    assert_eq!(started.parent_initiated_event_id, 5);
}
