//! Building a transition: writing events with ids, buffering them while a
//! workflow task is in flight, scheduling workflow tasks.

use crate::api::{
    enums::v1::{EventType, TaskQueueKind},
    history::v1::{history_event::Attributes, *},
    taskqueue::v1::TaskQueue,
};
use crate::limits::Limits;
use crate::state::{MutableState, WorkflowTaskInfo};
use crate::time;
use crate::transition::{Env, Outcome, Task, TimerKind, TimerTask, Transition};
use prost::Message;
use prost_types::Timestamp;

/// A transition under construction.
pub(crate) struct Ctx {
    pub state: MutableState,
    pub events: Vec<HistoryEvent>,
    pub tasks: Vec<Task>,
    pub now: Timestamp,
    pub outcome: Outcome,
    /// A command produced an event the workflow must see (e.g. an activity
    /// canceled before it started): schedule a workflow task after them.
    pub wake_workflow: bool,
    pub limits: Limits,
    /// Run id for a run this transition starts (continue-as-new, retry).
    pub new_run_id: String,
    pub new_run: Option<Box<Transition>>,
    /// Activities a workflow task completion may start eagerly: who asked
    /// (identity, request id), and those started so far.
    pub eager: Option<EagerStarts>,
    /// The input state's `next_event_id`: this transition's events start there.
    first_event_id: i64,
}

/// Activities started at once for the worker completing a workflow task.
#[derive(Default)]
pub(crate) struct EagerStarts {
    pub identity: String,
    pub request_id: String,
    /// The completing worker's build, as its poll would have stamped it.
    pub worker_version: Option<crate::api::common::v1::WorkerVersionStamp>,
    pub scheduled_event_ids: Vec<i64>,
}

impl Ctx {
    pub fn new(state: MutableState, now: Timestamp) -> Self {
        Ctx {
            first_event_id: state.next_event_id,
            state,
            events: Vec::new(),
            tasks: Vec::new(),
            now,
            outcome: Outcome::None,
            wake_workflow: false,
            limits: Limits::default(),
            new_run_id: String::new(),
            new_run: None,
            eager: None,
        }
    }

    pub fn with_env(state: MutableState, env: &Env) -> Self {
        let mut ctx = Ctx::new(state, env.now);
        ctx.limits = env.limits.clone();
        ctx.new_run_id = env.new_run_id.clone();
        ctx
    }

    pub fn finish(mut self) -> Transition {
        crate::pause_info::sync_pause_info(&mut self.state);
        crate::versioning::sync_search_attributes(&mut self.state);
        self.debug_assert_invariants();
        self.state.db_version += 1;
        crate::versioning::stamp(&self.state, &mut self.tasks);
        Transition {
            state: self.state,
            events: self.events,
            tasks: self.tasks,
            outcome: self.outcome,
            new_run: self.new_run,
        }
    }

    /// What every transition must keep, whichever path built it (checked in
    /// debug builds only; O(events)).
    fn debug_assert_invariants(&self) {
        debug_assert!(
            self.events.iter().zip(self.first_event_id..).all(|(e, id)| e.event_id == id),
            "events must have contiguous ids from the input's next_event_id {}: {:?}",
            self.first_event_id,
            self.events.iter().map(|e| e.event_id).collect::<Vec<_>>()
        );
        debug_assert_eq!(
            self.state.next_event_id,
            self.first_event_id + self.events.len() as i64,
            "next_event_id must follow the last event written"
        );
        debug_assert!(
            self.state.buffered_events.is_empty() || self.state.started_workflow_task().is_some(),
            "events are buffered only while a workflow task is started"
        );
    }

    /// Writes an event now, with the next id.
    pub fn add(&mut self, attrs: impl Into<Attributes>) -> i64 {
        let event = new_event(0, self.now, attrs.into());
        self.append(event)
    }

    /// Puts summary and details on the `index`th event of this transition
    /// (counted in the history size like the rest of the event).
    pub fn set_user_metadata(&mut self, index: usize, metadata: crate::api::sdk::v1::UserMetadata) {
        if let Some(event) = self.events.get_mut(index) {
            let before = event.encoded_len();
            event.user_metadata = Some(metadata);
            self.state.history_size_bytes += (event.encoded_len() - before) as i64;
        }
    }

    fn append(&mut self, mut event: HistoryEvent) -> i64 {
        let id = self.state.next_event_id;
        event.event_id = id;
        event.task_id = id;
        self.state.next_event_id += 1;
        self.state.history_size_bytes += event.encoded_len() as i64;
        self.events.push(event);
        id
    }

    /// Writes an event that the workflow must react to: buffered while a
    /// workflow task is in flight, otherwise written and a workflow task
    /// scheduled if none is.
    /// A retried (transient) workflow task that is not yet started is
    /// dropped first: its virtual ids would collide with the new event, and a
    /// fresh, persisted task is scheduled after it.
    pub fn add_for_workflow(&mut self, attrs: impl Into<Attributes>) {
        self.add_for_workflow_id(attrs);
    }

    /// `add_for_workflow`, returning the event's id (None while buffered).
    pub fn add_for_workflow_id(&mut self, attrs: impl Into<Attributes>) -> Option<i64> {
        let id = self.add_or_buffer(attrs);
        if id.is_some() {
            self.schedule_workflow_task(1);
        }
        id
    }

    /// Writes an event without scheduling a workflow task: buffered while
    /// one is in flight (returns None), otherwise written (returns its id).
    pub fn add_or_buffer(&mut self, attrs: impl Into<Attributes>) -> Option<i64> {
        if self.state.started_workflow_task().is_some() {
            self.state.buffered_events.push(new_event(0, self.now, attrs.into()));
            return None;
        }
        if self.state.workflow_task.as_ref().is_some_and(|wt| wt.transient) {
            self.state.workflow_task = None;
        }
        Some(self.add(attrs))
    }

    /// Gives buffered events their ids, and points references between them
    /// (an activity outcome to its Started event) at the ids they got.
    /// Returns whether there were any.
    pub fn flush_buffered(&mut self) -> bool {
        let buffered = std::mem::take(&mut self.state.buffered_events);
        // Even an event the workflow's code never sees asks for a workflow
        // task when it was buffered, as on Temporal.
        let any = !buffered.is_empty();
        let mut started_ids = std::collections::HashMap::new();
        let mut child_started_ids = std::collections::HashMap::new();
        for mut event in buffered {
            use Attributes as A;
            match event.attributes.as_mut() {
                Some(A::ChildWorkflowExecutionCompletedEventAttributes(a)) => {
                    fix_started(&child_started_ids, a.initiated_event_id, &mut a.started_event_id);
                }
                Some(A::ChildWorkflowExecutionFailedEventAttributes(a)) => {
                    fix_started(&child_started_ids, a.initiated_event_id, &mut a.started_event_id);
                }
                Some(A::ChildWorkflowExecutionCanceledEventAttributes(a)) => {
                    fix_started(&child_started_ids, a.initiated_event_id, &mut a.started_event_id);
                }
                Some(A::ChildWorkflowExecutionTerminatedEventAttributes(a)) => {
                    fix_started(&child_started_ids, a.initiated_event_id, &mut a.started_event_id);
                }
                Some(A::ChildWorkflowExecutionTimedOutEventAttributes(a)) => {
                    fix_started(&child_started_ids, a.initiated_event_id, &mut a.started_event_id);
                }
                Some(A::ActivityTaskCompletedEventAttributes(a)) => {
                    fix_started(&started_ids, a.scheduled_event_id, &mut a.started_event_id);
                }
                Some(A::ActivityTaskFailedEventAttributes(a)) => {
                    fix_started(&started_ids, a.scheduled_event_id, &mut a.started_event_id);
                }
                Some(A::ActivityTaskTimedOutEventAttributes(a)) => {
                    fix_started(&started_ids, a.scheduled_event_id, &mut a.started_event_id);
                }
                Some(A::ActivityTaskCanceledEventAttributes(a)) => {
                    fix_started(&started_ids, a.scheduled_event_id, &mut a.started_event_id);
                }
                _ => {}
            }
            let scheduled = match event.attributes.as_ref() {
                Some(A::ActivityTaskStartedEventAttributes(a)) => Some(a.scheduled_event_id),
                _ => None,
            };
            let child_initiated = match event.attributes.as_ref() {
                Some(A::ChildWorkflowExecutionStartedEventAttributes(a)) => Some(a.initiated_event_id),
                _ => None,
            };
            let id = self.append(event);
            if let Some(scheduled) = scheduled {
                started_ids.insert(scheduled, id);
            }
            if let Some(initiated) = child_initiated {
                child_started_ids.insert(initiated, id);
                if let Some(child) = self.state.children.get_mut(&initiated) {
                    child.started_event_id = id;
                }
            }
        }
        any
    }

    /// Schedules a workflow task unless one is pending. Attempts > 1 are
    /// transient: no event until the task completes.
    pub fn schedule_workflow_task(&mut self, attempt: i32) {
        self.schedule_workflow_task_of(attempt, false);
    }

    /// A workflow task that only delivers updates (see WorkflowTaskInfo).
    pub fn schedule_speculative_workflow_task(&mut self) {
        self.schedule_workflow_task_of(1, true);
    }

    fn schedule_workflow_task_of(&mut self, attempt: i32, speculative: bool) {
        // During a retry backoff the first workflow task waits for its timer;
        // events that arrive meanwhile are seen by it.
        if self.state.workflow_task.is_some() || !self.state.is_running() || self.state.backoff_until.is_some() {
            return;
        }
        let transient = attempt > 1 || speculative;
        // Retries always go to the normal queue: failures clear stickiness.
        let sticky = self.state.sticky_task_queue.clone().filter(|_| attempt == 1);
        let task_queue = sticky.clone().unwrap_or_else(|| TaskQueue {
            name: self.state.task_queue_name().to_string(),
            kind: TaskQueueKind::Normal as i32,
            normal_name: String::new(),
        });
        let start_to_close_timeout = Some(workflow_task_timeout(&self.state, attempt));
        let scheduled_event_id = if transient {
            self.state.next_event_id
        } else {
            self.add(WorkflowTaskScheduledEventAttributes {
                task_queue: Some(task_queue.clone()),
                start_to_close_timeout,
                attempt,
            })
        };
        self.state.workflow_task = Some(WorkflowTaskInfo {
            scheduled_event_id,
            started_event_id: 0,
            attempt,
            scheduled_time: Some(self.now),
            started_time: None,
            task_queue: Some(task_queue.clone()),
            start_to_close_timeout,
            identity: String::new(),
            request_id: String::new(),
            transient,
            speculative,
            ..Default::default()
        });
        if sticky.is_some() {
            let timeout = self.state.sticky_schedule_to_start_timeout.filter(|d| time::is_set(Some(d)));
            let timeout = timeout.unwrap_or(time::dur_secs(crate::limits::STICKY_SCHEDULE_TO_START_SECS_DEFAULT));
            self.timer(
                time::add(&self.now, &timeout),
                TimerKind::StickyScheduleToStartTimeout { scheduled_event_id, attempt },
            );
        }
        self.tasks.push(Task::WorkflowTask {
            task_queue: task_queue.name,
            sticky: sticky.is_some(),
            scheduled_event_id,
            attempt,
            pinned: String::new(), // stamped by `finish`
        });
    }

    pub fn timer(&mut self, fire_at: Timestamp, kind: TimerKind) {
        self.tasks.push(Task::Timer(TimerTask { fire_at, kind }));
    }

    /// Ends the current workflow task (already recorded as completed, failed
    /// or timed out), flushes buffered events and schedules the next task
    /// with `next_attempt`, or attempt 1 if new events arrived meanwhile.
    pub fn after_workflow_task_ended(&mut self, next_attempt: Option<i32>) {
        self.state.workflow_task = None;
        let flushed = self.flush_buffered();
        if flushed {
            self.schedule_workflow_task(1);
        } else if let Some(attempt) = next_attempt {
            self.schedule_workflow_task(attempt);
        }
    }

    /// Writes the Scheduled and Started events of a transient workflow task,
    /// which become real once it ends with an event of its own.
    pub fn persist_transient_workflow_task(
        &mut self,
        identity: &str,
        worker_version: Option<&crate::api::common::v1::WorkerVersionStamp>,
    ) {
        let Some(mut wt) = self.state.workflow_task.clone().filter(|wt| wt.transient) else { return };
        // As Temporal: the Started event names whoever ended the task.
        wt.identity = identity.to_string();
        for mut event in transient_workflow_task_events(&self.state, &wt) {
            if let Some(Attributes::WorkflowTaskStartedEventAttributes(a)) = event.attributes.as_mut() {
                a.worker_version = worker_version.cloned();
            }
            self.append(event);
        }
        if let Some(wt) = self.state.workflow_task.as_mut() {
            wt.transient = false;
            wt.speculative = false;
        }
    }
}

/// After this many attempts a failing workflow task gets more time per
/// attempt (Temporal's backoff: 5 s doubling, at most 10 min extra).
const WFT_BACKOFF_MIN_ATTEMPTS: i32 = 3;
const WFT_BACKOFF_INITIAL_SECS: i64 = 5;
const WFT_BACKOFF_MAX_SECS: i64 = 600;

/// The start-to-close timeout of a workflow task attempt.
pub(crate) fn workflow_task_timeout(state: &MutableState, attempt: i32) -> prost_types::Duration {
    let base = state.started.as_ref().and_then(|s| s.workflow_task_timeout).unwrap_or_default();
    if attempt <= WFT_BACKOFF_MIN_ATTEMPTS {
        return base;
    }
    let exp = (attempt - WFT_BACKOFF_MIN_ATTEMPTS - 1).min(20) as u32;
    let extra = (WFT_BACKOFF_INITIAL_SECS.saturating_mul(1i64 << exp)).min(WFT_BACKOFF_MAX_SECS);
    time::dur_from_nanos(time::dur_nanos(&base) + time::dur_nanos(&time::dur_secs(extra)))
}

/// Placeholder for a reference to a buffered event (Temporal's value).
pub const BUFFERED_EVENT_ID: i64 = -123;

fn fix_started(started_ids: &std::collections::HashMap<i64, i64>, scheduled: i64, started: &mut i64) {
    if *started == BUFFERED_EVENT_ID
        && let Some(id) = started_ids.get(&scheduled)
    {
        *started = *id;
    }
}

pub(crate) fn new_event(id: i64, time: Timestamp, attrs: Attributes) -> HistoryEvent {
    let event_type = event_type(&attrs);
    HistoryEvent {
        event_id: id,
        event_time: Some(time),
        event_type: event_type as i32,
        task_id: id,
        attributes: Some(attrs),
        // Not for the workflow's code: SDKs skip it (as Temporal marks it).
        worker_may_ignore: event_type == EventType::WorkflowExecutionOptionsUpdated,
        ..Default::default()
    }
}

/// The Scheduled and Started events of a transient workflow task, with the
/// ids they will get when persisted.
/// The virtual events of the run's started workflow task, if it is
/// transient (or speculative): a poll response's history ends with them,
/// and so does the last page when the worker pages that history.
pub fn started_task_transient_events(state: &MutableState) -> Vec<HistoryEvent> {
    match state.started_workflow_task() {
        Some(wt) if wt.transient => transient_workflow_task_events(state, wt),
        _ => Vec::new(),
    }
}

pub(crate) fn transient_workflow_task_events(state: &MutableState, wt: &WorkflowTaskInfo) -> Vec<HistoryEvent> {
    let mut events = vec![new_event(
        wt.scheduled_event_id,
        wt.scheduled_time.unwrap_or_default(),
        WorkflowTaskScheduledEventAttributes {
            task_queue: wt.task_queue.clone(),
            start_to_close_timeout: wt.start_to_close_timeout,
            attempt: wt.attempt,
        }
        .into(),
    )];
    if wt.is_started() {
        events.push(new_event(
            wt.started_event_id,
            wt.started_time.unwrap_or_default(),
            WorkflowTaskStartedEventAttributes {
                scheduled_event_id: wt.scheduled_event_id,
                identity: wt.identity.clone(),
                request_id: wt.request_id.clone(),
                history_size_bytes: state.history_size_bytes,
                suggest_continue_as_new: wt.suggest_continue_as_new,
                suggest_continue_as_new_reasons: wt.suggest_continue_as_new_reasons.clone(),
                target_worker_deployment_version_changed: wt.target_version_changed,
                ..Default::default()
            }
            .into(),
        ));
    }
    events
}

pub fn event_type(attrs: &Attributes) -> EventType {
    use Attributes as A;
    match attrs {
        A::WorkflowExecutionStartedEventAttributes(_) => EventType::WorkflowExecutionStarted,
        A::WorkflowExecutionCompletedEventAttributes(_) => EventType::WorkflowExecutionCompleted,
        A::WorkflowExecutionFailedEventAttributes(_) => EventType::WorkflowExecutionFailed,
        A::WorkflowExecutionTimedOutEventAttributes(_) => EventType::WorkflowExecutionTimedOut,
        A::WorkflowExecutionTerminatedEventAttributes(_) => EventType::WorkflowExecutionTerminated,
        A::WorkflowExecutionCanceledEventAttributes(_) => EventType::WorkflowExecutionCanceled,
        A::WorkflowExecutionContinuedAsNewEventAttributes(_) => EventType::WorkflowExecutionContinuedAsNew,
        A::WorkflowTaskScheduledEventAttributes(_) => EventType::WorkflowTaskScheduled,
        A::WorkflowTaskStartedEventAttributes(_) => EventType::WorkflowTaskStarted,
        A::WorkflowTaskCompletedEventAttributes(_) => EventType::WorkflowTaskCompleted,
        A::WorkflowTaskTimedOutEventAttributes(_) => EventType::WorkflowTaskTimedOut,
        A::WorkflowTaskFailedEventAttributes(_) => EventType::WorkflowTaskFailed,
        A::ActivityTaskScheduledEventAttributes(_) => EventType::ActivityTaskScheduled,
        A::ActivityTaskStartedEventAttributes(_) => EventType::ActivityTaskStarted,
        A::ActivityTaskCompletedEventAttributes(_) => EventType::ActivityTaskCompleted,
        A::ActivityTaskFailedEventAttributes(_) => EventType::ActivityTaskFailed,
        A::ActivityTaskTimedOutEventAttributes(_) => EventType::ActivityTaskTimedOut,
        A::ActivityTaskCancelRequestedEventAttributes(_) => EventType::ActivityTaskCancelRequested,
        A::ActivityTaskCanceledEventAttributes(_) => EventType::ActivityTaskCanceled,
        A::WorkflowExecutionSignaledEventAttributes(_) => EventType::WorkflowExecutionSignaled,
        A::WorkflowExecutionCancelRequestedEventAttributes(_) => EventType::WorkflowExecutionCancelRequested,
        A::SignalExternalWorkflowExecutionInitiatedEventAttributes(_) => {
            EventType::SignalExternalWorkflowExecutionInitiated
        }
        A::SignalExternalWorkflowExecutionFailedEventAttributes(_) => EventType::SignalExternalWorkflowExecutionFailed,
        A::ExternalWorkflowExecutionSignaledEventAttributes(_) => EventType::ExternalWorkflowExecutionSignaled,
        A::RequestCancelExternalWorkflowExecutionInitiatedEventAttributes(_) => {
            EventType::RequestCancelExternalWorkflowExecutionInitiated
        }
        A::RequestCancelExternalWorkflowExecutionFailedEventAttributes(_) => {
            EventType::RequestCancelExternalWorkflowExecutionFailed
        }
        A::ExternalWorkflowExecutionCancelRequestedEventAttributes(_) => {
            EventType::ExternalWorkflowExecutionCancelRequested
        }
        A::TimerStartedEventAttributes(_) => EventType::TimerStarted,
        A::WorkflowExecutionUpdateAcceptedEventAttributes(_) => EventType::WorkflowExecutionUpdateAccepted,
        A::WorkflowExecutionUpdateCompletedEventAttributes(_) => EventType::WorkflowExecutionUpdateCompleted,
        A::TimerFiredEventAttributes(_) => EventType::TimerFired,
        A::TimerCanceledEventAttributes(_) => EventType::TimerCanceled,
        A::MarkerRecordedEventAttributes(_) => EventType::MarkerRecorded,
        A::UpsertWorkflowSearchAttributesEventAttributes(_) => EventType::UpsertWorkflowSearchAttributes,
        A::WorkflowPropertiesModifiedEventAttributes(_) => EventType::WorkflowPropertiesModified,
        A::WorkflowExecutionOptionsUpdatedEventAttributes(_) => EventType::WorkflowExecutionOptionsUpdated,
        A::StartChildWorkflowExecutionInitiatedEventAttributes(_) => EventType::StartChildWorkflowExecutionInitiated,
        A::StartChildWorkflowExecutionFailedEventAttributes(_) => EventType::StartChildWorkflowExecutionFailed,
        A::ChildWorkflowExecutionStartedEventAttributes(_) => EventType::ChildWorkflowExecutionStarted,
        A::ChildWorkflowExecutionCompletedEventAttributes(_) => EventType::ChildWorkflowExecutionCompleted,
        A::ChildWorkflowExecutionFailedEventAttributes(_) => EventType::ChildWorkflowExecutionFailed,
        A::ChildWorkflowExecutionCanceledEventAttributes(_) => EventType::ChildWorkflowExecutionCanceled,
        A::ChildWorkflowExecutionTimedOutEventAttributes(_) => EventType::ChildWorkflowExecutionTimedOut,
        A::ChildWorkflowExecutionTerminatedEventAttributes(_) => EventType::ChildWorkflowExecutionTerminated,
        _ => EventType::Unspecified,
    }
}

pub(crate) fn run_timeout_timer(ctx: &mut Ctx) {
    if let Some(deadline) = ctx.state.run_expiration_time {
        ctx.timer(deadline, TimerKind::WorkflowRunTimeout);
    }
}

pub(crate) fn wft_timeout_fire_at(wt: &WorkflowTaskInfo) -> Option<Timestamp> {
    let started = wt.started_time.as_ref()?;
    let timeout = wt.start_to_close_timeout.as_ref().filter(|d| time::is_set(Some(d)))?;
    Some(time::add(started, timeout))
}
