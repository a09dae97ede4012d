//! Property test: random input sequences against a started run; the
//! history and state invariants hold after every step.

use crate::support::*;
use chronicle_engine::api::{
    command::v1::{Command, ScheduleActivityTaskCommandAttributes},
    common::v1::RetryPolicy,
    enums::v1::{EventType, TaskQueueKind, TimeoutType, WorkflowTaskFailedCause},
    history::v1::{HistoryEvent, history_event::Attributes as A},
    taskqueue::v1::{StickyExecutionAttributes, TaskQueue},
};
use chronicle_engine::{
    EngineError, Input, MutableState, Outcome, StartArgs, Task, TimerKind, Transition, apply, start,
};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use prost::Message;
use prost_types::Timestamp;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone)]
enum Step {
    Advance(u16),
    PollWft,
    /// Complete the workflow task with up to three activities of the given
    /// shapes.
    CompleteWft {
        shapes: Vec<u8>,
        force: bool,
        sticky: bool,
    },
    CompleteWorkflow,
    FailWorkflow,
    BadCommand,
    FailWft,
    StartActivity(u8),
    CompleteActivity(u8),
    FailActivity(u8, bool),
    Heartbeat(u8),
    FireTimer(u8),
    CancelTimer(u8),
    Signal,
    RequestCancel,
    CancelWorkflow,
    CancelActivity(u8),
    Update,
    AnswerUpdates(bool),
    Terminate,
    StartChild,
    ChildStarted(u8),
    ChildStartFailed(u8),
    ChildClosed(u8, u8),
    ContinueAsNew,
    Marker,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0u16..40).prop_map(Step::Advance),
        12 => Just(Step::PollWft),
        12 => (prop::collection::vec(any::<u8>(), 0..=3), prop::bool::weighted(0.1), prop::bool::weighted(0.3))
            .prop_map(|(shapes, force, sticky)| Step::CompleteWft { shapes, force, sticky }),
        1 => Just(Step::CompleteWorkflow),
        1 => Just(Step::FailWorkflow),
        2 => Just(Step::BadCommand),
        4 => Just(Step::FailWft),
        12 => any::<u8>().prop_map(Step::StartActivity),
        8 => any::<u8>().prop_map(Step::CompleteActivity),
        6 => (any::<u8>(), prop::bool::weighted(0.2)).prop_map(|(i, n)| Step::FailActivity(i, n)),
        2 => any::<u8>().prop_map(Step::Heartbeat),
        10 => any::<u8>().prop_map(Step::FireTimer),
        3 => any::<u8>().prop_map(Step::CancelTimer),
        4 => Just(Step::Signal),
        1 => Just(Step::RequestCancel),
        1 => Just(Step::CancelWorkflow),
        3 => any::<u8>().prop_map(Step::CancelActivity),
        3 => Just(Step::Update),
        4 => any::<bool>().prop_map(Step::AnswerUpdates),
        1 => Just(Step::Terminate),
        4 => Just(Step::StartChild),
        5 => any::<u8>().prop_map(Step::ChildStarted),
        1 => any::<u8>().prop_map(Step::ChildStartFailed),
        4 => (any::<u8>(), any::<u8>()).prop_map(|(i, k)| Step::ChildClosed(i, k)),
        1 => Just(Step::ContinueAsNew),
        2 => Just(Step::Marker),
    ]
}

fn activity_command(id: String, shape: u8) -> Command {
    let base = activity_attrs(&id);
    let a = match shape % 6 {
        0 => base,
        1 => ScheduleActivityTaskCommandAttributes {
            schedule_to_close_timeout: Some(secs(60)),
            start_to_close_timeout: Some(secs(20)),
            ..base
        },
        2 => ScheduleActivityTaskCommandAttributes {
            heartbeat_timeout: Some(secs(10)),
            retry_policy: Some(retry_policy(3)),
            ..base
        },
        3 => ScheduleActivityTaskCommandAttributes { retry_policy: Some(retry_policy(2)), ..base },
        4 => ScheduleActivityTaskCommandAttributes {
            schedule_to_start_timeout: Some(secs(15)),
            retry_policy: Some(retry_policy(1)),
            ..base
        },
        _ => ScheduleActivityTaskCommandAttributes {
            start_to_close_timeout: None,
            schedule_to_close_timeout: Some(secs(45)),
            retry_policy: Some(RetryPolicy { initial_interval: Some(secs(5)), ..retry_policy(0) }),
            ..base
        },
    };
    // Half ask to start at once, for the completing worker (eager dispatch).
    schedule_activity_with(ScheduleActivityTaskCommandAttributes { request_eager_execution: shape / 6 % 2 == 1, ..a })
}

fn later(a: Timestamp, b: Timestamp) -> Timestamp {
    if (b.seconds, b.nanos) > (a.seconds, a.nanos) { b } else { a }
}

fn pick<T: Clone>(items: &[T], i: u8) -> Option<T> {
    if items.is_empty() { None } else { Some(items[i as usize % items.len()].clone()) }
}

struct Sim {
    state: MutableState,
    history: Vec<HistoryEvent>,
    now: Timestamp,
    next_activity: u32,
}

impl Sim {
    /// The input a step stands for in the current state, if any; may move
    /// the clock (to a due timer or a backoff's end).
    fn input(&mut self, step: &Step) -> Option<Input> {
        let wt = self.state.workflow_task.clone();
        let wt_started = wt.clone().filter(|w| w.started_event_id > 0);
        let completion = |commands: Vec<Command>, force: bool, sticky: bool| {
            let w = wt_started.clone()?;
            let sticky_attributes = sticky.then(|| StickyExecutionAttributes {
                worker_task_queue: Some(TaskQueue {
                    name: "worker-1-sticky".into(),
                    kind: TaskQueueKind::Sticky as i32,
                    normal_name: TQ.into(),
                }),
                schedule_to_start_timeout: Some(secs(5)),
            });
            Some(Input::WorkflowTaskCompleted(Box::new(chronicle_engine::WorkflowTaskCompletion {
                scheduled_event_id: w.scheduled_event_id,
                attempt: w.attempt,
                commands,
                identity: "worker".into(),
                force_create_new_workflow_task: force,
                sticky_attributes,
                ..Default::default()
            })))
        };
        let activities: Vec<_> = self.state.activities.values().cloned().collect();
        let started_activities: Vec<_> = activities.iter().filter(|a| a.started_time.is_some()).cloned().collect();
        match step {
            Step::Advance(s) => {
                self.now.seconds += *s as i64;
                None
            }
            Step::PollWft => {
                // Exactly what pending_tasks says is dispatchable.
                let task = self.state.pending_tasks().into_iter().find(|t| matches!(t, Task::WorkflowTask { .. }))?;
                let Task::WorkflowTask { scheduled_event_id, attempt, .. } = task else { unreachable!() };
                Some(Input::WorkflowTaskStarted {
                    target_version_changed: false,
                    routing_revision: 0,
                    scheduled_event_id,
                    attempt,
                    identity: "worker".into(),
                    request_id: format!("r{scheduled_event_id}-{attempt}"),
                    worker_version: None,
                })
            }
            Step::CompleteWft { shapes, force, sticky } => {
                let commands = shapes
                    .iter()
                    .map(|s| {
                        self.next_activity += 1;
                        if s % 8 == 6 {
                            // A user timer of 1..=30 s.
                            start_timer_named(&format!("timer-{}", self.next_activity), 1 + (*s as i64 % 30))
                        } else {
                            activity_command(format!("act-{}", self.next_activity), *s)
                        }
                    })
                    .collect();
                completion(commands, *force, *sticky)
            }
            Step::CancelTimer(i) => {
                let ids: Vec<String> = self.state.timers.keys().cloned().collect();
                let id = pick(&ids, *i)?;
                completion(vec![cancel_timer(&id)], false, false)
            }
            Step::Signal => {
                self.next_activity += 1;
                Some(Input::Signal(chronicle_engine::SignalArgs {
                    signal_name: "sig".into(),
                    request_id: format!("sig-{}", self.next_activity),
                    ..Default::default()
                }))
            }
            Step::Update => {
                self.next_activity += 1;
                let id = format!("upd-{}", self.next_activity);
                Some(Input::UpdateAdmit(Box::new(chronicle_engine::api::update::v1::Request {
                    meta: Some(chronicle_engine::api::update::v1::Meta { update_id: id, identity: "c".into() }),
                    input: Some(chronicle_engine::api::update::v1::Input { name: "u".into(), ..Default::default() }),
                    ..Default::default()
                })))
            }
            Step::AnswerUpdates(accept) => {
                use chronicle_engine::api::enums::v1::UpdateWorkflowExecutionLifecycleStage as Stage;
                use chronicle_engine::api::{
                    command::v1 as cmd, protocol::v1::Message as ProtocolMessage, update::v1 as upd,
                };
                use prost::Message as _;
                let admitted: Vec<String> = self
                    .state
                    .updates
                    .values()
                    .filter(|u| u.stage == Stage::Admitted as i32)
                    .map(|u| u.update_id.clone())
                    .collect();
                let mut input = completion(vec![], false, false)?;
                let Input::WorkflowTaskCompleted(done) = &mut input else { return None };
                for id in admitted {
                    let (mid, kind, value) = if *accept {
                        (format!("{id}/accept"), "Acceptance", upd::Acceptance::default().encode_to_vec())
                    } else {
                        (format!("{id}/reject"), "Rejection", upd::Rejection::default().encode_to_vec())
                    };
                    if *accept {
                        done.commands.push(command(
                            chronicle_engine::api::enums::v1::CommandType::ProtocolMessage,
                            cmd::command::Attributes::ProtocolMessageCommandAttributes(
                                cmd::ProtocolMessageCommandAttributes { message_id: mid.clone() },
                            ),
                        ));
                    }
                    done.messages.push(ProtocolMessage {
                        id: mid,
                        protocol_instance_id: id,
                        body: Some(prost_types::Any {
                            type_url: format!("type.googleapis.com/temporal.api.update.v1.{kind}"),
                            value,
                        }),
                        ..Default::default()
                    });
                }
                Some(input)
            }
            Step::RequestCancel => {
                Some(Input::RequestCancel { reason: "cancel".into(), identity: "client".into(), external: None })
            }
            Step::CancelWorkflow => completion(
                vec![command(
                    chronicle_engine::api::enums::v1::CommandType::CancelWorkflowExecution,
                    chronicle_engine::api::command::v1::command::Attributes::CancelWorkflowExecutionCommandAttributes(
                        chronicle_engine::api::command::v1::CancelWorkflowExecutionCommandAttributes { details: None },
                    ),
                )],
                false,
                false,
            ),
            Step::CancelActivity(i) => {
                let ids: Vec<i64> = self.state.activities.keys().copied().collect();
                let id = pick(&ids, *i)?;
                completion(
                    vec![command(
                        chronicle_engine::api::enums::v1::CommandType::RequestCancelActivityTask,
                        chronicle_engine::api::command::v1::command::Attributes::RequestCancelActivityTaskCommandAttributes(
                            chronicle_engine::api::command::v1::RequestCancelActivityTaskCommandAttributes {
                                scheduled_event_id: id,
                            },
                        ),
                    )],
                    false,
                    false,
                )
            }
            Step::CompleteWorkflow => completion(vec![complete_workflow("done")], false, false),
            Step::FailWorkflow => completion(vec![fail_workflow("failed")], false, false),
            Step::BadCommand => completion(vec![unsupported_command()], false, true),
            Step::FailWft => {
                let w = wt_started?;
                Some(Input::WorkflowTaskFailed {
                    scheduled_event_id: w.scheduled_event_id,
                    attempt: w.attempt,
                    cause: WorkflowTaskFailedCause::WorkflowWorkerUnhandledFailure,
                    failure: None,
                    identity: "worker".into(),
                    binary_checksum: String::new(),
                })
            }
            Step::StartActivity(i) => {
                let dispatches: Vec<_> = activity_dispatches(&self.state.pending_tasks());
                let d = pick(&dispatches, *i)?;
                self.now = later(self.now, d.visible_at);
                Some(Input::ActivityTaskStarted {
                    scheduled_event_id: d.scheduled_event_id,
                    attempt: d.attempt,
                    identity: "act-worker".into(),
                    request_id: format!("a{}-{}", d.scheduled_event_id, d.attempt),
                    worker_version: None,
                })
            }
            Step::CompleteActivity(i) => {
                let a = pick(&started_activities, *i)?;
                Some(Input::ActivityTaskCompleted {
                    scheduled_event_id: a.scheduled_event_id,
                    attempt: a.attempt,
                    result: Some(payloads("r")),
                    identity: "act-worker".into(),
                })
            }
            Step::FailActivity(i, non_retryable) => {
                let a = pick(&started_activities, *i)?;
                Some(Input::ActivityTaskFailed {
                    scheduled_event_id: a.scheduled_event_id,
                    attempt: a.attempt,
                    failure: Some(app_failure("boom", "Err", *non_retryable)),
                    last_heartbeat_details: None,
                    identity: "act-worker".into(),
                })
            }
            Step::Heartbeat(i) => {
                let a = pick(&started_activities, *i)?;
                Some(Input::ActivityTaskHeartbeat {
                    scheduled_event_id: a.scheduled_event_id,
                    attempt: a.attempt,
                    details: Some(payloads("hb")),
                })
            }
            Step::FireTimer(i) => {
                // The run timeout ends everything: fire it only rarely.
                let all = timers(&self.state.pending_tasks());
                let others: Vec<_> = all.iter().filter(|t| t.kind != TimerKind::WorkflowRunTimeout).cloned().collect();
                let t = if *i < 8 { pick(&all, *i)? } else { pick(&others, *i)? };
                self.now = later(self.now, t.fire_at);
                Some(Input::TimerFired(t.kind))
            }
            Step::Terminate => {
                Some(Input::Terminate { reason: "random".into(), details: None, identity: "admin".into() })
            }
            Step::StartChild => {
                self.next_activity += 1;
                completion(vec![start_child(&format!("kid-{}", self.next_activity))], false, false)
            }
            Step::ChildStarted(i) | Step::ChildStartFailed(i) => {
                let unstarted: Vec<i64> = self
                    .state
                    .children
                    .values()
                    .filter(|c| c.started_event_id == 0)
                    .map(|c| c.initiated_event_id)
                    .collect();
                let initiated_event_id = pick(&unstarted, *i)?;
                Some(match step {
                    Step::ChildStarted(_) => {
                        Input::ChildStarted { initiated_event_id, run_id: format!("kid-run-{initiated_event_id}") }
                    }
                    _ => Input::ChildStartFailed {
                        initiated_event_id,
                        cause: chronicle_engine::api::enums::v1::StartChildWorkflowExecutionFailedCause::WorkflowAlreadyExists,
                    },
                })
            }
            Step::ChildClosed(i, kind) => {
                use chronicle_engine::ChildClose;
                let ids: Vec<i64> = self.state.children.keys().copied().collect();
                let initiated_event_id = pick(&ids, *i)?;
                let run_id = format!("kid-run-{initiated_event_id}");
                let execution = chronicle_engine::api::common::v1::WorkflowExecution {
                    workflow_id: format!("kid-{initiated_event_id}"),
                    run_id: run_id.clone(),
                };
                let closed = match kind % 5 {
                    0 => ChildClose::Completed { execution, result: Some(payloads("r")) },
                    1 => ChildClose::Failed {
                        execution,
                        failure: Some(Box::new(app_failure("x", "E", true))),
                        retry_state: 0,
                    },
                    2 => ChildClose::Canceled { execution, details: None },
                    3 => ChildClose::Terminated { execution },
                    _ => ChildClose::TimedOut { execution, retry_state: 0 },
                };
                Some(Input::ChildClosed { initiated_event_id, run_id, closed })
            }
            Step::ContinueAsNew => completion(vec![continue_as_new("next")], false, false),
            Step::Marker => completion(
                vec![command(
                    chronicle_engine::api::enums::v1::CommandType::RecordMarker,
                    chronicle_engine::api::command::v1::command::Attributes::RecordMarkerCommandAttributes(
                        chronicle_engine::api::command::v1::RecordMarkerCommandAttributes {
                            marker_name: "core_patch".into(),
                            details: [("data".to_string(), payloads("d"))].into(),
                            ..Default::default()
                        },
                    ),
                )],
                false,
                false,
            ),
        }
    }

    fn commit(&mut self, input: &Input, t: Transition) -> Result<(), TestCaseError> {
        let before = &self.state;
        prop_assert_eq!(t.state.db_version, before.db_version + 1, "db_version +1 per transition");
        let expected: Vec<i64> = (before.next_event_id..).take(t.events.len()).collect();
        prop_assert_eq!(ids(&t.events), expected, "ids contiguous from next_event_id");
        if let Outcome::WorkflowTaskStarted { started_event_id, transient_events } = &t.outcome {
            if transient_events.is_empty() {
                prop_assert_eq!(t.events.len(), 1);
                prop_assert_eq!(*started_event_id, t.events[0].event_id);
            } else {
                prop_assert!(t.events.is_empty(), "a transient task start writes nothing");
                prop_assert_eq!(ids(transient_events), vec![t.state.next_event_id, t.state.next_event_id + 1]);
                prop_assert_eq!(*started_event_id, t.state.next_event_id + 1);
            }
        }
        if matches!(input, Input::WorkflowTaskStarted { .. }) {
            let started = matches!(t.outcome, Outcome::WorkflowTaskStarted { .. });
            prop_assert!(started, "poll outcome {:?}", t.outcome);
        }
        // A run that continues this one exists exactly when the close event names it.
        let new_run_named = t.events.last().and_then(|e| match e.attributes.as_ref() {
            Some(A::WorkflowExecutionContinuedAsNewEventAttributes(a)) => Some(a.new_execution_run_id.clone()),
            Some(A::WorkflowExecutionFailedEventAttributes(a)) => Some(a.new_execution_run_id.clone()),
            Some(A::WorkflowExecutionTimedOutEventAttributes(a)) => Some(a.new_execution_run_id.clone()),
            _ => None,
        });
        let new_run_named = new_run_named.filter(|id| !id.is_empty());
        prop_assert_eq!(new_run_named.clone(), t.new_run.as_ref().map(|n| n.state.run_id.clone()));
        if let Some(next) = &t.new_run {
            prop_assert_eq!(ty(&next.events[0]), EventType::WorkflowExecutionStarted);
            prop_assert_eq!(ids(&next.events), (1..=next.events.len() as i64).collect::<Vec<_>>());
            prop_assert_eq!(&next.state.workflow_id, &t.state.workflow_id);
            check_invariants(&next.state, &next.events)?;
        }
        self.history.extend(t.events);
        self.state = t.state;
        check_invariants(&self.state, &self.history)?;
        check_rebuild(&self.state, &self.history)
    }
}

fn event_index(history: &[HistoryEvent]) -> HashMap<i64, &HistoryEvent> {
    history.iter().map(|e| (e.event_id, e)).collect()
}

fn is_close(t: EventType) -> bool {
    matches!(
        t,
        EventType::WorkflowExecutionCompleted
            | EventType::WorkflowExecutionFailed
            | EventType::WorkflowExecutionTimedOut
            | EventType::WorkflowExecutionTerminated
            | EventType::WorkflowExecutionCanceled
            | EventType::WorkflowExecutionContinuedAsNew
    )
}

fn check_invariants(state: &MutableState, history: &[HistoryEvent]) -> Result<(), TestCaseError> {
    // Ids: 1..=n, no gaps or duplicates; next_event_id follows.
    let expected: Vec<i64> = (1..=history.len() as i64).collect();
    prop_assert_eq!(ids(history), expected);
    prop_assert_eq!(state.next_event_id, history.len() as i64 + 1);
    prop_assert_eq!(ty(&history[0]), EventType::WorkflowExecutionStarted);

    let by_id = event_index(history);
    let is = |id: i64, t: EventType| by_id.get(&id).is_some_and(|e| ty(e) == t);
    let mut ended_wfts = HashSet::new();
    let mut finished_activities = HashSet::new();
    let mut children_started = HashMap::new();
    let mut children_ended = HashSet::new();
    for (i, e) in history.iter().enumerate() {
        let id = e.event_id;
        let wft_pair = |sched: i64, started: i64| -> Result<(), TestCaseError> {
            prop_assert!(sched < started && started < id, "event {} refs {}/{}", id, sched, started);
            prop_assert!(is(sched, EventType::WorkflowTaskScheduled), "event {} sched {}", id, sched);
            prop_assert!(is(started, EventType::WorkflowTaskStarted), "event {} started {}", id, started);
            let st = attrs!(by_id[&started], WorkflowTaskStartedEventAttributes);
            prop_assert_eq!(st.scheduled_event_id, sched);
            Ok(())
        };
        let activity_pair = |sched: i64, started: i64| -> Result<(), TestCaseError> {
            prop_assert!(sched < id && is(sched, EventType::ActivityTaskScheduled), "event {} sched {}", id, sched);
            prop_assert!(
                started < id && is(started, EventType::ActivityTaskStarted),
                "event {} started {}",
                id,
                started
            );
            let st = attrs!(by_id[&started], ActivityTaskStartedEventAttributes);
            prop_assert_eq!(st.scheduled_event_id, sched);
            Ok(())
        };
        match e.attributes.as_ref().expect("attributes") {
            A::WorkflowTaskStartedEventAttributes(a) => {
                prop_assert!(a.scheduled_event_id < id && is(a.scheduled_event_id, EventType::WorkflowTaskScheduled));
                // Everything else is buffered while a task is in flight: the
                // next event, if any, ends this task.
                if let Some(next) = history.get(i + 1) {
                    let started = match next.attributes.as_ref() {
                        Some(A::WorkflowTaskCompletedEventAttributes(n)) => n.started_event_id,
                        Some(A::WorkflowTaskFailedEventAttributes(n)) => n.started_event_id,
                        Some(A::WorkflowTaskTimedOutEventAttributes(n)) => n.started_event_id,
                        _ => -1,
                    };
                    prop_assert_eq!(started, id, "event after WorkflowTaskStarted {} is {:?}", id, ty(next));
                }
            }
            A::WorkflowTaskCompletedEventAttributes(a) => {
                wft_pair(a.scheduled_event_id, a.started_event_id)?;
                prop_assert!(
                    ended_wfts.insert(a.scheduled_event_id),
                    "workflow task {} ended twice",
                    a.scheduled_event_id
                );
            }
            A::WorkflowTaskFailedEventAttributes(a) => {
                wft_pair(a.scheduled_event_id, a.started_event_id)?;
                prop_assert!(
                    ended_wfts.insert(a.scheduled_event_id),
                    "workflow task {} ended twice",
                    a.scheduled_event_id
                );
            }
            A::WorkflowTaskTimedOutEventAttributes(a) if a.timeout_type == TimeoutType::ScheduleToStart as i32 => {
                // A sticky task nobody picked up: never started.
                prop_assert_eq!(a.started_event_id, 0);
                prop_assert!(is(a.scheduled_event_id, EventType::WorkflowTaskScheduled));
                prop_assert!(
                    ended_wfts.insert(a.scheduled_event_id),
                    "workflow task {} ended twice",
                    a.scheduled_event_id
                );
            }
            A::WorkflowTaskTimedOutEventAttributes(a) => {
                prop_assert_eq!(a.timeout_type, TimeoutType::StartToClose as i32);
                wft_pair(a.scheduled_event_id, a.started_event_id)?;
                prop_assert!(
                    ended_wfts.insert(a.scheduled_event_id),
                    "workflow task {} ended twice",
                    a.scheduled_event_id
                );
            }
            A::ActivityTaskScheduledEventAttributes(a) => {
                prop_assert!(is(a.workflow_task_completed_event_id, EventType::WorkflowTaskCompleted));
            }
            A::ActivityTaskStartedEventAttributes(a) => {
                prop_assert!(a.scheduled_event_id < id && is(a.scheduled_event_id, EventType::ActivityTaskScheduled));
                prop_assert!(a.attempt >= 1);
            }
            A::ActivityTaskCompletedEventAttributes(a) => {
                activity_pair(a.scheduled_event_id, a.started_event_id)?;
                prop_assert!(finished_activities.insert(a.scheduled_event_id));
            }
            A::ActivityTaskFailedEventAttributes(a) => {
                activity_pair(a.scheduled_event_id, a.started_event_id)?;
                prop_assert!(finished_activities.insert(a.scheduled_event_id));
            }
            A::ActivityTaskTimedOutEventAttributes(a) => {
                if a.started_event_id == 0 {
                    prop_assert!(is(a.scheduled_event_id, EventType::ActivityTaskScheduled));
                } else {
                    activity_pair(a.scheduled_event_id, a.started_event_id)?;
                }
                prop_assert!(finished_activities.insert(a.scheduled_event_id));
            }
            A::ChildWorkflowExecutionStartedEventAttributes(a) => {
                prop_assert!(is(a.initiated_event_id, EventType::StartChildWorkflowExecutionInitiated));
                prop_assert!(a.initiated_event_id < id);
                prop_assert!(children_started.insert(a.initiated_event_id, id).is_none(), "child started twice");
            }
            A::StartChildWorkflowExecutionFailedEventAttributes(a) => {
                prop_assert!(is(a.initiated_event_id, EventType::StartChildWorkflowExecutionInitiated));
                prop_assert!(!children_started.contains_key(&a.initiated_event_id));
                prop_assert!(children_ended.insert(a.initiated_event_id), "child ended twice");
            }
            A::ChildWorkflowExecutionCompletedEventAttributes(a) => {
                child_closed(&children_started, &mut children_ended, a.initiated_event_id, a.started_event_id)?;
            }
            A::ChildWorkflowExecutionFailedEventAttributes(a) => {
                child_closed(&children_started, &mut children_ended, a.initiated_event_id, a.started_event_id)?;
            }
            A::ChildWorkflowExecutionCanceledEventAttributes(a) => {
                child_closed(&children_started, &mut children_ended, a.initiated_event_id, a.started_event_id)?;
            }
            A::ChildWorkflowExecutionTerminatedEventAttributes(a) => {
                child_closed(&children_started, &mut children_ended, a.initiated_event_id, a.started_event_id)?;
            }
            A::ChildWorkflowExecutionTimedOutEventAttributes(a) => {
                child_closed(&children_started, &mut children_ended, a.initiated_event_id, a.started_event_id)?;
            }
            _ => {}
        }
        if is_close(ty(e)) {
            prop_assert_eq!(i + 1, history.len(), "nothing follows the close event {}", id);
        }
    }

    // Close bookkeeping.
    let closed = is_close(ty(history.last().unwrap()));
    prop_assert_eq!(closed, !state.is_running());
    if closed {
        prop_assert_eq!(state.close_event_id, history.len() as i64);
        prop_assert!(state.workflow_task.is_none() && state.activities.is_empty());
        // Only post-close work remains: close policies for the children.
        prop_assert!(
            state.pending_tasks().iter().all(|t| matches!(t, Task::ApplyParentClosePolicy { .. })),
            "{:?}",
            state.pending_tasks()
        );
        prop_assert!(state.children.values().all(|c| c.close_policy_pending));
    } else {
        prop_assert_eq!(state.close_event_id, 0);
    }

    // Buffered events only while a workflow task is started; none has an id.
    if !state.buffered_events.is_empty() {
        prop_assert!(state.started_workflow_task().is_some(), "buffered events without a started task");
    }

    // The pending workflow task matches the history.
    if let Some(wt) = &state.workflow_task {
        if wt.transient {
            prop_assert!(wt.attempt > 1 || wt.speculative, "transient tasks are retries or update deliveries");
            prop_assert_eq!(wt.scheduled_event_id, state.next_event_id);
        } else {
            prop_assert!(is(wt.scheduled_event_id, EventType::WorkflowTaskScheduled));
            prop_assert!(!ended_wfts.contains(&wt.scheduled_event_id));
            if wt.started_event_id > 0 {
                prop_assert!(is(wt.started_event_id, EventType::WorkflowTaskStarted));
            }
        }
    }
    // Every pending activity is scheduled and has no outcome yet.
    for (sched, info) in &state.activities {
        prop_assert_eq!(*sched, info.scheduled_event_id);
        prop_assert!(is(*sched, EventType::ActivityTaskScheduled));
        prop_assert!(!finished_activities.contains(sched));
    }

    // Every child in the state is initiated and not yet ended; a started one
    // points at its Started event.
    for (initiated, child) in &state.children {
        prop_assert!(is(*initiated, EventType::StartChildWorkflowExecutionInitiated));
        prop_assert!(!children_ended.contains(initiated));
        if child.started_event_id > 0 {
            prop_assert_eq!(children_started.get(initiated), Some(&child.started_event_id));
        } else if !closed {
            prop_assert!(child.started_event_id == 0 || !state.buffered_events.is_empty());
        }
    }

    // The state survives a protobuf round trip.
    let decoded = MutableState::decode(state.encode_to_vec().as_slice());
    prop_assert_eq!(decoded.as_ref(), Ok(state));
    Ok(())
}

/// The history rebuilds to the state the engine keeps, as far as the
/// history tells it (`rebuild`'s doc says what it does not).
fn check_rebuild(state: &MutableState, history: &[HistoryEvent]) -> Result<(), TestCaseError> {
    if !state.is_running() || !state.buffered_events.is_empty() {
        return Ok(()); // buffered events are not history yet
    }
    let rebuilt = chronicle_engine::rebuild(history, &rebuild_args(state));
    prop_assert!(rebuilt.is_ok(), "the history does not rebuild: {:?}", rebuilt.err());
    let rebuilt = rebuilt.unwrap();
    prop_assert_eq!(history_view(&rebuilt), history_view(state));
    Ok(())
}

fn rebuild_args(state: &MutableState) -> chronicle_engine::RebuildArgs {
    chronicle_engine::RebuildArgs {
        namespace: state.namespace.clone(),
        namespace_id: state.namespace_id.clone(),
        workflow_id: state.workflow_id.clone(),
        run_id: state.run_id.clone(),
        start_request_id: state.start_request_id.clone(),
        now: at(0),
    }
}

/// What of a running run's state its history determines.
fn history_view(s: &MutableState) -> MutableState {
    use chronicle_engine::{ActivityInfo, ChildInfo, WorkflowTaskInfo};
    let mut v = s.clone();
    v.db_version = 0;
    v.sticky_task_queue = None;
    v.sticky_schedule_to_start_timeout = None;
    v.signal_request_ids.clear();
    v.update_count = 0;
    v.start_request_id.clear();
    v.workflow_task =
        s.workflow_task.as_ref().filter(|wt| !wt.transient && !wt.speculative).map(|wt| WorkflowTaskInfo {
            scheduled_event_id: wt.scheduled_event_id,
            started_event_id: wt.started_event_id,
            attempt: wt.attempt,
            task_queue: wt.task_queue.clone(),
            start_to_close_timeout: wt.start_to_close_timeout,
            ..Default::default()
        });
    for info in v.activities.values_mut() {
        let a: &ActivityInfo = info;
        *info = ActivityInfo {
            scheduled_event_id: a.scheduled_event_id,
            activity_id: a.activity_id.clone(),
            activity_type: a.activity_type.clone(),
            task_queue: a.task_queue.clone(),
            header: a.header.clone(),
            input: a.input.clone(),
            schedule_to_close_timeout: a.schedule_to_close_timeout,
            schedule_to_start_timeout: a.schedule_to_start_timeout,
            start_to_close_timeout: a.start_to_close_timeout,
            heartbeat_timeout: a.heartbeat_timeout,
            retry_policy: a.retry_policy.clone(),
            scheduled_time: a.scheduled_time,
            cancel_requested: a.cancel_requested,
            cancel_requested_event_id: a.cancel_requested_event_id,
            workflow_task_completed_event_id: a.workflow_task_completed_event_id,
            priority: a.priority.clone(),
            ..Default::default()
        }
        .into();
    }
    for child in v.children.values_mut() {
        *child = ChildInfo {
            initiated_event_id: child.initiated_event_id,
            started_event_id: child.started_event_id,
            workflow_id: child.workflow_id.clone(),
            run_id: child.run_id.clone(),
            workflow_type: child.workflow_type.clone(),
            parent_close_policy: child.parent_close_policy,
            ..Default::default()
        };
    }
    v.updates.retain(|_, u| u.accepted_event_id != 0);
    for u in v.updates.values_mut() {
        u.request = None;
        u.outcome = None;
    }
    if let Some(points) = v.auto_reset_points.as_mut() {
        for p in &mut points.points {
            p.create_time = None;
            p.expire_time = None;
        }
    }
    v
}

fn child_closed(
    started: &HashMap<i64, i64>,
    ended: &mut HashSet<i64>,
    initiated: i64,
    started_event_id: i64,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(started.get(&initiated), Some(&started_event_id), "child close refs its Started event");
    prop_assert!(ended.insert(initiated), "child {} ended twice", initiated);
    Ok(())
}

fn start_args() -> impl Strategy<Value = StartArgs> {
    (prop::option::of(100i64..3000), prop::option::of(1i64..200), any::<bool>()).prop_map(|(run, task, eager)| {
        StartArgs { run_timeout: run.map(secs), task_timeout: task.map(secs), eager, ..args() }
    })
}

/// What the random runs reached, to check the generator exercises the
/// interesting paths and not just the happy one.
#[derive(Default)]
struct Coverage {
    event_types: HashSet<EventType>,
    transient_persisted: usize,
    buffered: usize,
    retries: usize,
    sticky_dispatches: usize,
    steps_applied: usize,
}

fn run_case(args: StartArgs, steps: Vec<Step>, cov: &RefCell<Coverage>) -> Result<(), TestCaseError> {
    let t = start(args, at(0));
    prop_assert_eq!(t.state.db_version, 1);
    let mut sim = Sim { state: t.state, history: t.events, now: at(0), next_activity: 0 };
    check_invariants(&sim.state, &sim.history)?;
    for step in &steps {
        let Some(input) = sim.input(step) else { continue };
        let result = apply(&sim.state, input.clone(), sim.now);
        if !sim.state.is_running() {
            prop_assert!(result.is_err(), "a closed run accepted {:?}", input);
            continue;
        }
        match result {
            Ok(t) => {
                let mut c = cov.borrow_mut();
                c.steps_applied += 1;
                let attempts_before: i32 = sim.state.activities.values().map(|a| a.attempt).sum();
                let attempts_after: i32 = t.state.activities.values().map(|a| a.attempt).sum();
                if attempts_after > attempts_before {
                    c.retries += 1;
                }
                c.sticky_dispatches +=
                    t.tasks.iter().filter(|t| matches!(t, Task::WorkflowTask { sticky: true, .. })).count();
                for e in &t.events {
                    c.event_types.insert(ty(e));
                    if let Some(A::WorkflowTaskScheduledEventAttributes(a)) = e.attributes.as_ref()
                        && a.attempt > 1
                    {
                        c.transient_persisted += 1;
                    }
                }
                if !t.state.buffered_events.is_empty() {
                    c.buffered += 1;
                }
                drop(c);
                sim.commit(&input, t)?;
            }
            Err(e) => {
                // Tasks the state itself lists as dispatchable must be
                // accepted; timers may be stale.
                let allowed = matches!(input, Input::TimerFired(_)) && e == EngineError::StaleTimer;
                prop_assert!(allowed, "{:?} rejected: {:?}", input, e);
            }
        }
    }
    check_resets(&sim.state, &sim.history)
}

/// A reset to any point of the history gives a run whose history keeps
/// every invariant and rebuilds to its state; a point with no workflow task
/// in flight is refused.
fn check_resets(state: &MutableState, history: &[HistoryEvent]) -> Result<(), TestCaseError> {
    for finish in 2..=history.len() as i64 {
        let args = chronicle_engine::ResetArgs {
            namespace: state.namespace.clone(),
            namespace_id: state.namespace_id.clone(),
            workflow_id: state.workflow_id.clone(),
            base_run_id: state.run_id.clone(),
            new_run_id: "reset-run".into(),
            base_events: history[..finish as usize - 1].to_vec(),
            workflow_task_finish_event_id: finish,
            later_events: history[finish as usize - 1..].to_vec(),
            exclude: vec![],
            reason: "reset".into(),
            request_id: "reset-request".into(),
        };
        let in_flight = matches!(
            ty(&history[finish as usize - 2]),
            EventType::WorkflowTaskScheduled | EventType::WorkflowTaskStarted
        );
        let t = match chronicle_engine::reset(args, at(10_000)) {
            Ok(t) => t,
            Err(message) => {
                prop_assert!(!in_flight, "reset to {} refused: {}", finish, message);
                prop_assert!(message.starts_with("Can only reset workflow"), "{}", message);
                continue;
            }
        };
        prop_assert_eq!(&t.events[..finish as usize - 1], &history[..finish as usize - 1]);
        let failed = t.events.iter().find(|e| ty(e) == EventType::WorkflowTaskFailed && e.event_id >= finish - 1);
        prop_assert!(failed.is_some(), "no WorkflowTaskFailed after the point");
        prop_assert_eq!(ty(t.events.last().unwrap()), EventType::WorkflowTaskScheduled);
        prop_assert_eq!(t.state.run_id.as_str(), "reset-run");
        check_invariants(&t.state, &t.events)?;
        // A reset run starts at the reset: its clocks are not its history's.
        let mut state = t.state.clone();
        let rebuilt = chronicle_engine::rebuild(&t.events, &rebuild_args(&state));
        prop_assert!(rebuilt.is_ok(), "the reset run's history does not rebuild: {:?}", rebuilt.err());
        let mut rebuilt = rebuilt.unwrap();
        for s in [&mut state, &mut rebuilt] {
            s.start_time = None;
            s.original_start_time = None;
            s.run_expiration_time = None;
            s.execution_expiration_time = None;
            for info in s.activities.values_mut() {
                info.scheduled_time = None;
            }
        }
        prop_assert_eq!(history_view(&rebuilt), history_view(&state));
    }
    Ok(())
}

#[test]
fn random_inputs_keep_history_invariants() {
    let mut runner = TestRunner::new(ProptestConfig { cases: 400, ..ProptestConfig::default() });
    let cov = RefCell::new(Coverage::default());
    let strategy = (start_args(), prop::collection::vec(step(), 1..100));
    if let Err(e) = runner.run(&strategy, |(args, steps)| run_case(args, steps, &cov)) {
        panic!("{e}");
    }
    let cov = cov.into_inner();
    eprintln!(
        "coverage: {} steps, {} event types, {} transient persisted, {} buffered, {} retries, {} sticky dispatches",
        cov.steps_applied,
        cov.event_types.len(),
        cov.transient_persisted,
        cov.buffered,
        cov.retries,
        cov.sticky_dispatches
    );
    for t in [
        EventType::WorkflowTaskCompleted,
        EventType::WorkflowTaskFailed,
        EventType::WorkflowTaskTimedOut,
        EventType::ActivityTaskCompleted,
        EventType::ActivityTaskFailed,
        EventType::ActivityTaskTimedOut,
        EventType::WorkflowExecutionCompleted,
        EventType::WorkflowExecutionFailed,
        EventType::WorkflowExecutionTerminated,
        EventType::WorkflowExecutionTimedOut,
    ] {
        assert!(cov.event_types.contains(&t), "no random run reached {t:?}");
    }
    assert!(cov.transient_persisted > 0, "no transient workflow task was persisted");
    assert!(cov.buffered > 0, "no event was ever buffered");
    assert!(cov.retries > 0, "no activity was retried");
    assert!(cov.sticky_dispatches > 0, "no sticky dispatch");
    assert!(cov.steps_applied > 400 * 5, "too few steps applied: {}", cov.steps_applied);
}
