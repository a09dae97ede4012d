//! Test harness: a run driven through the engine with an explicit clock,
//! every persisted event collected, plus command and failure builders.

#![allow(dead_code)]

use chronicle_engine::api::{
    command::v1::{
        CancelTimerCommandAttributes, Command, CompleteWorkflowExecutionCommandAttributes,
        FailWorkflowExecutionCommandAttributes, ScheduleActivityTaskCommandAttributes,
        ScheduleNexusOperationCommandAttributes, StartTimerCommandAttributes, command::Attributes as C,
    },
    common::v1::{ActivityType, Payload, Payloads, RetryPolicy},
    enums::v1::{CommandType, EventType, WorkflowTaskFailedCause},
    failure::v1::{ApplicationFailureInfo, Failure, failure::FailureInfo},
    history::v1::HistoryEvent,
};
use chronicle_engine::{
    ActivityInfo, EngineError, Input, MutableState, StartArgs, Task, TimerKind, Transition, WorkflowTaskCompletion,
    WorkflowTaskInfo, apply, start,
};
use prost_types::{Duration, Timestamp};

/// The fixed base of every test clock.
pub const T0: i64 = 1_700_000_000;

/// `T0 + secs`.
pub fn at(secs: i64) -> Timestamp {
    Timestamp { seconds: T0 + secs, nanos: 0 }
}

pub fn secs(s: i64) -> Duration {
    Duration { seconds: s, nanos: 0 }
}

pub const TQ: &str = "tq";
pub const RUN_ID: &str = "run-1";

pub fn args() -> StartArgs {
    StartArgs {
        namespace: "default".into(),
        workflow_id: "wf-1".into(),
        run_id: RUN_ID.into(),
        workflow_type: "MyWorkflow".into(),
        task_queue: TQ.into(),
        identity: "client".into(),
        request_id: "start-req".into(),
        ..Default::default()
    }
}

pub fn payloads(s: &str) -> Payloads {
    Payloads {
        payloads: vec![Payload {
            metadata: Default::default(),
            data: s.as_bytes().to_vec(),
            external_payloads: Default::default(),
        }],
    }
}

/// Extracts one attributes variant from an event, panicking otherwise.
#[macro_export]
macro_rules! attrs {
    ($event:expr, $variant:ident) => {
        match $event.attributes.as_ref() {
            Some(chronicle_engine::api::history::v1::history_event::Attributes::$variant(a)) => a,
            other => panic!("expected {}, got {:?}", stringify!($variant), other),
        }
    };
}

pub fn ty(e: &HistoryEvent) -> EventType {
    EventType::try_from(e.event_type).unwrap_or(EventType::Unspecified)
}

pub fn types(events: &[HistoryEvent]) -> Vec<EventType> {
    events.iter().map(ty).collect()
}

pub fn ids(events: &[HistoryEvent]) -> Vec<i64> {
    events.iter().map(|e| e.event_id).collect()
}

/// A run plus its clock and the whole persisted history.
pub struct Run {
    pub state: MutableState,
    pub history: Vec<HistoryEvent>,
    pub now: Timestamp,
}

impl Run {
    pub fn start_with(args: StartArgs) -> (Run, Transition) {
        let t = start(args, at(0));
        let run = Run { state: t.state.clone(), history: t.events.clone(), now: at(0) };
        (run, t)
    }

    pub fn new() -> Run {
        Run::start_with(args()).0
    }

    pub fn with_run_timeout(s: i64) -> Run {
        Run::start_with(StartArgs { run_timeout: Some(secs(s)), ..args() }).0
    }

    pub fn advance(&mut self, s: i64) {
        self.now = Timestamp { seconds: self.now.seconds + s, nanos: self.now.nanos };
    }

    pub fn set_time(&mut self, secs_since_t0: i64) {
        self.now = at(secs_since_t0);
    }

    /// Applies an input at the current time; on success the transition is
    /// "committed" (events appended, state replaced) after checking the
    /// id and version contract of every transition.
    pub fn apply(&mut self, input: Input) -> Result<Transition, EngineError> {
        let t = apply(&self.state, input, self.now)?;
        assert_eq!(t.state.db_version, self.state.db_version + 1, "db_version bumps by one");
        let expected: Vec<i64> = (self.state.next_event_id..).take(t.events.len()).collect();
        assert_eq!(ids(&t.events), expected, "events get contiguous ids from next_event_id");
        assert_eq!(t.state.next_event_id, self.state.next_event_id + t.events.len() as i64);
        self.history.extend(t.events.iter().cloned());
        self.state = t.state.clone();
        Ok(t)
    }

    /// Applies an input that must fail, and checks it changed nothing.
    pub fn apply_err(&mut self, input: Input) -> EngineError {
        let before = self.state.clone();
        let err = apply(&self.state, input, self.now).expect_err("input should be rejected");
        assert_eq!(self.state, before);
        err
    }

    pub fn event(&self, id: i64) -> &HistoryEvent {
        let e = &self.history[(id - 1) as usize];
        assert_eq!(e.event_id, id);
        e
    }

    pub fn wft(&self) -> WorkflowTaskInfo {
        self.state.workflow_task.clone().expect("a workflow task is pending")
    }

    pub fn activity(&self, scheduled_event_id: i64) -> ActivityInfo {
        self.state.activities.get(&scheduled_event_id).map(|a| ActivityInfo::clone(a)).expect("activity pending")
    }

    pub fn poll_input(&self) -> Input {
        let wt = self.wft();
        Input::WorkflowTaskStarted {
            target_version_changed: false,
            routing_revision: 0,
            scheduled_event_id: wt.scheduled_event_id,
            attempt: wt.attempt,
            identity: "worker".into(),
            request_id: format!("poll-{}-{}", wt.scheduled_event_id, wt.attempt),
            worker_version: None,
        }
    }

    pub fn poll_wft(&mut self) -> Transition {
        let input = self.poll_input();
        self.apply(input).expect("poll workflow task")
    }

    pub fn completion(&self, commands: Vec<Command>) -> WorkflowTaskCompletion {
        let wt = self.wft();
        WorkflowTaskCompletion {
            scheduled_event_id: wt.scheduled_event_id,
            attempt: wt.attempt,
            commands,
            identity: "worker".into(),
            ..Default::default()
        }
    }

    pub fn complete_wft(&mut self, commands: Vec<Command>) -> Transition {
        let done = self.completion(commands);
        self.apply(Input::WorkflowTaskCompleted(Box::new(done))).expect("complete workflow task")
    }

    pub fn fail_wft_input(&self) -> Input {
        let wt = self.wft();
        Input::WorkflowTaskFailed {
            scheduled_event_id: wt.scheduled_event_id,
            attempt: wt.attempt,
            cause: WorkflowTaskFailedCause::WorkflowWorkerUnhandledFailure,
            failure: Some(Failure { message: "workflow panicked".into(), ..Default::default() }),
            identity: "worker".into(),
            binary_checksum: "bin".into(),
        }
    }

    pub fn fail_wft(&mut self) -> Transition {
        let input = self.fail_wft_input();
        self.apply(input).expect("fail workflow task")
    }

    pub fn wft_timeout_timer(&self) -> Input {
        let wt = self.wft();
        Input::TimerFired(TimerKind::WorkflowTaskTimeout {
            scheduled_event_id: wt.scheduled_event_id,
            attempt: wt.attempt,
        })
    }

    pub fn start_activity(&mut self, sched: i64) -> Transition {
        let attempt = self.activity(sched).attempt;
        self.apply(Input::ActivityTaskStarted {
            scheduled_event_id: sched,
            attempt,
            identity: "act-worker".into(),
            request_id: format!("act-poll-{sched}-{attempt}"),
            worker_version: None,
        })
        .expect("start activity")
    }

    pub fn complete_activity(&mut self, sched: i64, result: &str) -> Transition {
        let attempt = self.activity(sched).attempt;
        self.apply(Input::ActivityTaskCompleted {
            scheduled_event_id: sched,
            attempt,
            result: Some(payloads(result)),
            identity: "act-worker".into(),
        })
        .expect("complete activity")
    }

    pub fn fail_activity(&mut self, sched: i64, failure: Failure) -> Transition {
        let attempt = self.activity(sched).attempt;
        self.apply(Input::ActivityTaskFailed {
            scheduled_event_id: sched,
            attempt,
            failure: Some(failure),
            last_heartbeat_details: None,
            identity: "act-worker".into(),
        })
        .expect("fail activity")
    }

    /// Polls the first workflow task and completes it with `commands`.
    pub fn first_wft(&mut self, commands: Vec<Command>) -> Transition {
        self.poll_wft();
        self.complete_wft(commands)
    }
}

pub fn command(command_type: CommandType, attrs: C) -> Command {
    Command { command_type: command_type as i32, attributes: Some(attrs), ..Default::default() }
}

pub fn activity_attrs(id: &str) -> ScheduleActivityTaskCommandAttributes {
    ScheduleActivityTaskCommandAttributes {
        activity_id: id.into(),
        activity_type: Some(ActivityType { name: "MyActivity".into() }),
        input: Some(payloads("act-input")),
        start_to_close_timeout: Some(secs(30)),
        ..Default::default()
    }
}

pub fn schedule_activity_with(a: ScheduleActivityTaskCommandAttributes) -> Command {
    command(CommandType::ScheduleActivityTask, C::ScheduleActivityTaskCommandAttributes(a))
}

/// An activity with only a 30 s start-to-close timeout.
pub fn schedule_activity(id: &str) -> Command {
    schedule_activity_with(activity_attrs(id))
}

pub fn retry_policy(max_attempts: i32) -> RetryPolicy {
    RetryPolicy {
        initial_interval: Some(secs(1)),
        backoff_coefficient: 2.0,
        maximum_interval: Some(secs(100)),
        maximum_attempts: max_attempts,
        non_retryable_error_types: vec![],
    }
}

pub fn complete_workflow(result: &str) -> Command {
    command(
        CommandType::CompleteWorkflowExecution,
        C::CompleteWorkflowExecutionCommandAttributes(CompleteWorkflowExecutionCommandAttributes {
            result: Some(payloads(result)),
        }),
    )
}

pub fn fail_workflow(message: &str) -> Command {
    command(
        CommandType::FailWorkflowExecution,
        C::FailWorkflowExecutionCommandAttributes(FailWorkflowExecutionCommandAttributes {
            failure: Some(Failure { message: message.into(), ..Default::default() }),
        }),
    )
}

pub fn start_timer() -> Command {
    start_timer_named("t1", 5)
}

pub fn start_timer_named(id: &str, seconds: i64) -> Command {
    command(
        CommandType::StartTimer,
        C::StartTimerCommandAttributes(StartTimerCommandAttributes {
            timer_id: id.into(),
            start_to_fire_timeout: Some(secs(seconds)),
        }),
    )
}

pub fn cancel_timer(id: &str) -> Command {
    command(
        CommandType::CancelTimer,
        C::CancelTimerCommandAttributes(CancelTimerCommandAttributes { timer_id: id.into() }),
    )
}

/// A command Chronicle does not support yet (fails the workflow task).
pub fn unsupported_command() -> Command {
    command(
        CommandType::ScheduleNexusOperation,
        C::ScheduleNexusOperationCommandAttributes(ScheduleNexusOperationCommandAttributes {
            endpoint: "e".into(),
            service: "s".into(),
            operation: "o".into(),
            ..Default::default()
        }),
    )
}

pub fn app_failure(message: &str, error_type: &str, non_retryable: bool) -> Failure {
    Failure {
        message: message.into(),
        source: "test".into(),
        failure_info: Some(FailureInfo::ApplicationFailureInfo(ApplicationFailureInfo {
            r#type: error_type.into(),
            non_retryable,
            ..Default::default()
        })),
        ..Default::default()
    }
}

pub fn workflow_tasks(tasks: &[Task]) -> Vec<&Task> {
    tasks.iter().filter(|t| matches!(t, Task::WorkflowTask { .. })).collect()
}

pub fn timers(tasks: &[Task]) -> Vec<chronicle_engine::TimerTask> {
    tasks
        .iter()
        .filter_map(|t| match t {
            Task::Timer(t) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

pub fn activity_dispatches(tasks: &[Task]) -> Vec<chronicle_engine::ActivityTaskDispatch> {
    tasks
        .iter()
        .filter_map(|t| match t {
            Task::ActivityTask(d) => Some(d.clone()),
            _ => None,
        })
        .collect()
}

/// The dispatch of a workflow task on the run's normal queue.
pub fn wft_task(scheduled_event_id: i64, attempt: i32) -> Task {
    Task::WorkflowTask { task_queue: TQ.into(), sticky: false, scheduled_event_id, attempt, pinned: String::new() }
}

pub fn start_child(workflow_id: &str) -> Command {
    start_child_with(chronicle_engine::api::command::v1::StartChildWorkflowExecutionCommandAttributes {
        workflow_id: workflow_id.into(),
        workflow_type: Some(chronicle_engine::api::common::v1::WorkflowType { name: "ChildWorkflow".into() }),
        input: Some(payloads("child-input")),
        ..Default::default()
    })
}

pub fn start_child_with(
    a: chronicle_engine::api::command::v1::StartChildWorkflowExecutionCommandAttributes,
) -> Command {
    command(CommandType::StartChildWorkflowExecution, C::StartChildWorkflowExecutionCommandAttributes(a))
}

pub fn continue_as_new(input: &str) -> Command {
    command(
        CommandType::ContinueAsNewWorkflowExecution,
        C::ContinueAsNewWorkflowExecutionCommandAttributes(
            chronicle_engine::api::command::v1::ContinueAsNewWorkflowExecutionCommandAttributes {
                input: Some(payloads(input)),
                ..Default::default()
            },
        ),
    )
}
