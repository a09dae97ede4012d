//! Worker versioning in the engine: a versioned worker's completion records
//! its version and behaviour (an unversioned one's behaviour is ignored);
//! a pinned run's tasks carry its version, an auto-upgrade run's do not;
//! an override beats the worker's behaviour, writes one event that asks
//! for no workflow task, and the history rebuilds to the same state.

use crate::support::*;
use chronicle_engine::api::{
    deployment::v1::{WorkerDeploymentOptions, WorkerDeploymentVersion},
    enums::v1::{EventType, VersioningBehavior, WorkerVersioningMode},
    history::v1::history_event::Attributes,
    workflow::v1::{
        VersioningOverride,
        versioning_override::{Override, PinnedOverride, PinnedOverrideBehavior},
    },
};
use chronicle_engine::{Input, StartArgs, Task};

fn worker(build_id: &str, mode: WorkerVersioningMode) -> WorkerDeploymentOptions {
    WorkerDeploymentOptions {
        deployment_name: "dep".into(),
        build_id: build_id.into(),
        worker_versioning_mode: mode as i32,
    }
}

fn complete_as(
    run: &mut Run,
    behavior: VersioningBehavior,
    options: WorkerDeploymentOptions,
    commands: Vec<chronicle_engine::api::command::v1::Command>,
) -> chronicle_engine::Transition {
    run.poll_wft();
    let mut done = run.completion(commands);
    done.versioning_behavior = behavior as i32;
    done.deployment_options = Some(options);
    run.apply(Input::WorkflowTaskCompleted(Box::new(done))).unwrap()
}

fn pin(build_id: &str) -> VersioningOverride {
    VersioningOverride {
        r#override: Some(Override::Pinned(PinnedOverride {
            behavior: PinnedOverrideBehavior::Pinned as i32,
            version: Some(WorkerDeploymentVersion { deployment_name: "dep".into(), build_id: build_id.into() }),
        })),
        ..Default::default()
    }
}

fn pinned_of(tasks: &[Task]) -> Vec<String> {
    tasks
        .iter()
        .filter_map(|t| match t {
            Task::WorkflowTask { pinned, .. } => Some(pinned.clone()),
            Task::ActivityTask(a) => Some(a.pinned.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_pinned_completion_pins_the_runs_tasks_and_is_recorded() {
    let mut run = Run::new();
    let t = complete_as(
        &mut run,
        VersioningBehavior::Pinned,
        worker("1.0", WorkerVersioningMode::Versioned),
        vec![schedule_activity("a")],
    );
    let Some(Attributes::WorkflowTaskCompletedEventAttributes(a)) = &t.events[0].attributes else { panic!() };
    assert_eq!(a.versioning_behavior, VersioningBehavior::Pinned as i32);
    assert_eq!(a.worker_deployment_name, "dep");
    assert_eq!(a.deployment_version.as_ref().unwrap().build_id, "1.0");
    // The activity the completion scheduled goes to 1.0 only.
    assert_eq!(pinned_of(&t.tasks), ["dep:1.0"]);
    assert_eq!(pinned_of(&run.state.pending_tasks()), ["dep:1.0"]);
    let info = run.state.execution_info();
    assert_eq!(info.worker_deployment_name, "dep");
    assert_eq!(info.versioning_info.as_ref().unwrap().version, "dep.1.0");
    assert_eq!(run.state.used_deployment_versions, ["dep:1.0"]);
}

#[test]
fn auto_upgrade_runs_follow_routing_and_unversioned_workers_do_not_count() {
    let mut run = Run::new();
    let t = complete_as(
        &mut run,
        VersioningBehavior::AutoUpgrade,
        worker("1.0", WorkerVersioningMode::Versioned),
        vec![schedule_activity("a")],
    );
    assert_eq!(pinned_of(&t.tasks), [""]);
    assert_eq!(run.state.deployment_version_key(), "dep:1.0");
    // An unversioned worker's declared behaviour is ignored, as Temporal does.
    let mut run = Run::new();
    let t = complete_as(
        &mut run,
        VersioningBehavior::Pinned,
        worker("1.0", WorkerVersioningMode::Unversioned),
        vec![schedule_activity("a")],
    );
    let Some(Attributes::WorkflowTaskCompletedEventAttributes(a)) = &t.events[0].attributes else { panic!() };
    assert_eq!((a.versioning_behavior, a.deployment_version.clone()), (0, None));
    assert_eq!(pinned_of(&t.tasks), [""]);
    assert_eq!(run.state.versioning, None);
}

#[test]
fn an_override_pins_writes_one_event_and_no_workflow_task() {
    let mut run = Run::new();
    complete_as(&mut run, VersioningBehavior::AutoUpgrade, worker("2.0", WorkerVersioningMode::Versioned), vec![]);
    let update =
        |o: Option<VersioningOverride>| Input::UpdateOptions { versioning_override: o, identity: "cli".into() };
    let t = run.apply(update(Some(pin("1.0")))).unwrap();
    assert_eq!(types(&t.events), [EventType::WorkflowExecutionOptionsUpdated]);
    assert!(t.events[0].worker_may_ignore, "SDKs skip it");
    assert!(run.state.workflow_task.is_none(), "no workflow task for it");
    assert_eq!(run.state.pinned_version(), "dep:1.0");
    // The deprecated form of the same override changes nothing.
    let deprecated = VersioningOverride {
        behavior: VersioningBehavior::Pinned as i32,
        pinned_version: "dep.1.0".into(),
        ..Default::default()
    };
    assert!(run.apply(update(Some(deprecated))).unwrap().events.is_empty());
    // A signal's task is pinned.
    let signal = chronicle_engine::SignalArgs { signal_name: "go".into(), ..Default::default() };
    let t = run.apply(Input::Signal(signal)).unwrap();
    assert_eq!(pinned_of(&t.tasks), ["dep:1.0"]);
    // While the task is in flight the event waits for its completion.
    run.poll_wft();
    assert!(run.apply(update(None)).unwrap().events.is_empty());
    let t = run.complete_wft(vec![]);
    // Buffered, it asks for a workflow task when it is written, as on Temporal.
    assert_eq!(
        types(&t.events),
        [
            EventType::WorkflowTaskCompleted,
            EventType::WorkflowExecutionOptionsUpdated,
            EventType::WorkflowTaskScheduled
        ]
    );
    let Some(Attributes::WorkflowExecutionOptionsUpdatedEventAttributes(a)) = &t.events[1].attributes else { panic!() };
    assert!(a.unset_versioning_override && a.versioning_override.is_none());
    assert_eq!(run.state.pinned_version(), "", "back to auto-upgrade");
    check_rebuilds(&run);
}

#[test]
fn a_start_override_is_on_the_started_event_and_rebuilds() {
    let (mut run, t) = Run::start_with(StartArgs { versioning_override: Some(pin("1.0")), ..args() });
    let Some(Attributes::WorkflowExecutionStartedEventAttributes(a)) = &t.events[0].attributes else { panic!() };
    assert_eq!(a.versioning_override, Some(pin("1.0")));
    assert_eq!(pinned_of(&t.tasks), ["dep:1.0"]);
    complete_as(&mut run, VersioningBehavior::AutoUpgrade, worker("1.0", WorkerVersioningMode::Versioned), vec![]);
    assert_eq!(run.state.pinned_version(), "dep:1.0", "the override beats the worker's behaviour");
    check_rebuilds(&run);
}

fn check_rebuilds(run: &Run) {
    let args = chronicle_engine::RebuildArgs {
        namespace: run.state.namespace.clone(),
        namespace_id: run.state.namespace_id.clone(),
        workflow_id: run.state.workflow_id.clone(),
        run_id: run.state.run_id.clone(),
        start_request_id: run.state.start_request_id.clone(),
        now: at(0),
    };
    let rebuilt = chronicle_engine::rebuild(&run.history, &args).unwrap();
    assert_eq!(rebuilt.versioning, run.state.versioning);
    assert_eq!(rebuilt.used_deployment_versions, run.state.used_deployment_versions);
}
