//! The durable queue of pending work, as every backend keeps it: one row
//! per task an execution's state holds pending
//! (`MutableState::pending_tasks`), rewritten in the transaction of every
//! execution write, so the rows are exactly the state's pending work: a
//! task's row goes in the commit that starts, fires or cancels it, and no
//! acknowledgement is ever written separately.
//!
//! The server finds work through three indexes, never by loading runs:
//! a task queue's backlog (workflow and activity tasks, oldest first), the
//! timer queue (timers and delayed activity dispatches, by due time, read
//! window by window) and the transfer queue (work between runs: children,
//! parents, signals and cancels to other workflows; sticky workflow tasks,
//! which need their worker checked).
//!
//! Task ids and cursors: a row's id is given when it is first inserted and
//! orders a backlog, but it is not a commit order on every backend (on
//! PostgreSQL two transactions take ids from a sequence and may commit in
//! the other order). So a reader may not rely on "nothing below the last
//! id read can still appear", and none does: a backlog read always starts
//! from the oldest row; the timer queue's cursor only walks deadlines
//! committed before its window moved (later commits hand their own
//! deadlines to the window); the transfer queue is read once, at start,
//! for rows committed before the server started (later commits hand out
//! their own work). ARCHITECTURE.md, "Task ids and cursors", has the whole
//! argument.

use chronicle_engine::{ActivityTaskDispatch, Task, TimerKind, TimerTask, api::enums::v1::TimeoutType, time};
use prost::Message;

/// A pending task as stored, with the run it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTask {
    /// Insertion order: a queue's backlog is handed out oldest first.
    pub id: i64,
    pub namespace: String,
    pub workflow_id: String,
    pub run_id: String,
    pub task: Task,
}

/// The identity of a task within its run: the same task (a timer whose
/// deadline moved, an activity attempt) keeps its key and its row.
pub fn task_key(task: &Task) -> String {
    match task {
        Task::WorkflowTask { scheduled_event_id, attempt, sticky, .. } => {
            format!("wt:{scheduled_event_id}:{attempt}:{}", u8::from(*sticky))
        }
        Task::ActivityTask(a) => format!("at:{}:{}", a.scheduled_event_id, a.attempt),
        Task::External { initiated_event_id } => format!("ex:{initiated_event_id}"),
        Task::StartChild { initiated_event_id } => format!("sc:{initiated_event_id}"),
        Task::NotifyParent => "np".to_string(),
        Task::ApplyParentClosePolicy { initiated_event_id } => format!("pc:{initiated_event_id}"),
        Task::Timer(t) => match t.kind {
            TimerKind::WorkflowTaskTimeout { scheduled_event_id, attempt } => {
                format!("t:wt:{scheduled_event_id}:{attempt}")
            }
            TimerKind::StickyScheduleToStartTimeout { scheduled_event_id, attempt } => {
                format!("t:st:{scheduled_event_id}:{attempt}")
            }
            TimerKind::ActivityTimeout { scheduled_event_id, attempt, timeout_type } => {
                format!("t:at:{scheduled_event_id}:{attempt}:{}", timeout_type as i32)
            }
            TimerKind::WorkflowRunTimeout => "t:run".to_string(),
            TimerKind::UserTimer { started_event_id } => format!("t:user:{started_event_id}"),
            TimerKind::WorkflowBackoff => "t:backoff".to_string(),
        },
    }
}

/// A task as a row's `record` (the engine's `Task` is not a message).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TaskRecord {
    #[prost(int32, tag = "1")]
    kind: i32,
    #[prost(string, tag = "2")]
    task_queue: String,
    #[prost(bool, tag = "3")]
    sticky: bool,
    /// Scheduled, initiated or started event id, by kind.
    #[prost(int64, tag = "4")]
    event_id: i64,
    #[prost(int32, tag = "5")]
    attempt: i32,
    /// Visible-at or fire-at time, by kind.
    #[prost(message, optional, tag = "6")]
    at: Option<prost_types::Timestamp>,
    #[prost(int32, tag = "7")]
    timer_kind: i32,
    #[prost(int32, tag = "8")]
    timeout_type: i32,
    /// A workflow or activity task's pinned version (see `Task`).
    #[prost(string, tag = "9")]
    pinned: String,
}

const WORKFLOW_TASK: i32 = 1;
const ACTIVITY_TASK: i32 = 2;
const EXTERNAL: i32 = 3;
const START_CHILD: i32 = 4;
const NOTIFY_PARENT: i32 = 5;
const PARENT_CLOSE_POLICY: i32 = 6;
const TIMER: i32 = 7;

const TIMER_WORKFLOW_TASK: i32 = 1;
const TIMER_STICKY: i32 = 2;
const TIMER_ACTIVITY: i32 = 3;
const TIMER_RUN: i32 = 4;
const TIMER_USER: i32 = 5;
const TIMER_BACKOFF: i32 = 6;

impl TaskRecord {
    pub(crate) fn of(task: &Task) -> Self {
        let r = TaskRecord::default();
        match task {
            Task::WorkflowTask { task_queue, sticky, scheduled_event_id, attempt, pinned } => TaskRecord {
                kind: WORKFLOW_TASK,
                task_queue: task_queue.clone(),
                sticky: *sticky,
                event_id: *scheduled_event_id,
                attempt: *attempt,
                pinned: pinned.clone(),
                ..r
            },
            Task::ActivityTask(a) => TaskRecord {
                kind: ACTIVITY_TASK,
                task_queue: a.task_queue.clone(),
                event_id: a.scheduled_event_id,
                attempt: a.attempt,
                at: Some(a.visible_at),
                pinned: a.pinned.clone(),
                ..r
            },
            Task::External { initiated_event_id } => TaskRecord { kind: EXTERNAL, event_id: *initiated_event_id, ..r },
            Task::StartChild { initiated_event_id } => {
                TaskRecord { kind: START_CHILD, event_id: *initiated_event_id, ..r }
            }
            Task::NotifyParent => TaskRecord { kind: NOTIFY_PARENT, ..r },
            Task::ApplyParentClosePolicy { initiated_event_id } => {
                TaskRecord { kind: PARENT_CLOSE_POLICY, event_id: *initiated_event_id, ..r }
            }
            Task::Timer(t) => {
                let (timer_kind, event_id, attempt, timeout_type) = match t.kind {
                    TimerKind::WorkflowTaskTimeout { scheduled_event_id, attempt } => {
                        (TIMER_WORKFLOW_TASK, scheduled_event_id, attempt, 0)
                    }
                    TimerKind::StickyScheduleToStartTimeout { scheduled_event_id, attempt } => {
                        (TIMER_STICKY, scheduled_event_id, attempt, 0)
                    }
                    TimerKind::ActivityTimeout { scheduled_event_id, attempt, timeout_type } => {
                        (TIMER_ACTIVITY, scheduled_event_id, attempt, timeout_type as i32)
                    }
                    TimerKind::WorkflowRunTimeout => (TIMER_RUN, 0, 0, 0),
                    TimerKind::UserTimer { started_event_id } => (TIMER_USER, started_event_id, 0, 0),
                    TimerKind::WorkflowBackoff => (TIMER_BACKOFF, 0, 0, 0),
                };
                TaskRecord { kind: TIMER, event_id, attempt, at: Some(t.fire_at), timer_kind, timeout_type, ..r }
            }
        }
    }

    fn task(self) -> Option<Task> {
        let at = self.at.unwrap_or_default();
        Some(match self.kind {
            WORKFLOW_TASK => Task::WorkflowTask {
                task_queue: self.task_queue,
                sticky: self.sticky,
                scheduled_event_id: self.event_id,
                attempt: self.attempt,
                pinned: self.pinned,
            },
            ACTIVITY_TASK => Task::ActivityTask(ActivityTaskDispatch {
                task_queue: self.task_queue,
                scheduled_event_id: self.event_id,
                attempt: self.attempt,
                visible_at: at,
                pinned: self.pinned,
            }),
            EXTERNAL => Task::External { initiated_event_id: self.event_id },
            START_CHILD => Task::StartChild { initiated_event_id: self.event_id },
            NOTIFY_PARENT => Task::NotifyParent,
            PARENT_CLOSE_POLICY => Task::ApplyParentClosePolicy { initiated_event_id: self.event_id },
            TIMER => {
                let (scheduled_event_id, attempt) = (self.event_id, self.attempt);
                let kind = match self.timer_kind {
                    TIMER_WORKFLOW_TASK => TimerKind::WorkflowTaskTimeout { scheduled_event_id, attempt },
                    TIMER_STICKY => TimerKind::StickyScheduleToStartTimeout { scheduled_event_id, attempt },
                    TIMER_ACTIVITY => TimerKind::ActivityTimeout {
                        scheduled_event_id,
                        attempt,
                        timeout_type: TimeoutType::try_from(self.timeout_type).ok()?,
                    },
                    TIMER_RUN => TimerKind::WorkflowRunTimeout,
                    TIMER_USER => TimerKind::UserTimer { started_event_id: self.event_id },
                    TIMER_BACKOFF => TimerKind::WorkflowBackoff,
                    _ => return None,
                };
                Task::Timer(TimerTask { fire_at: at, kind })
            }
            _ => return None,
        })
    }
}

/// Where a task's row is found: a task queue, the timer queue, or the
/// transfer queue (neither).
pub(crate) struct Route<'a> {
    /// (task queue, activity).
    pub queue: Option<(&'a str, bool)>,
    pub visible_at: i64,
    pub fire_at: Option<i64>,
}

fn nanos(ts: &prost_types::Timestamp) -> i64 {
    time::ts_nanos(ts).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

pub(crate) fn route(task: &Task) -> Route<'_> {
    let none = Route { queue: None, visible_at: 0, fire_at: None };
    match task {
        // A sticky task needs its worker checked before it is offered.
        Task::WorkflowTask { sticky: true, .. } => none,
        Task::WorkflowTask { task_queue, .. } => Route { queue: Some((task_queue, false)), ..none },
        Task::ActivityTask(a) => {
            let visible_at = nanos(&a.visible_at);
            // A retry waits out its backoff on the timer queue; a first
            // attempt is visible from when it was scheduled.
            let fire_at = (a.attempt > 1).then_some(visible_at);
            Route { queue: Some((&a.task_queue, true)), visible_at, fire_at }
        }
        Task::Timer(t) => Route { fire_at: Some(nanos(&t.fire_at)), ..none },
        Task::External { .. } | Task::StartChild { .. } | Task::NotifyParent | Task::ApplyParentClosePolicy { .. } => {
            none
        }
    }
}

/// The task a row's `record` holds; None if written by a later version
/// (not ours to run).
pub(crate) fn decode(record: &[u8]) -> Option<Task> {
    TaskRecord::decode(record).ok().and_then(TaskRecord::task)
}
