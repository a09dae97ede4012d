#![allow(deprecated)] // Temporal still writes several deprecated event fields.
//! The pure history engine.
//!
//! `apply(state, input, now) -> Transition`: no I/O, no clock, no randomness.
//! Every Temporal rule about event ids, which event follows which, when a
//! workflow task is scheduled, buffering while a workflow task is in flight,
//! retry arithmetic and timeouts lives here, so it can be tested with plain
//! unit and property tests.
//!
//! Pending work ("tasks": dispatch to a task queue, durable timers) is a pure
//! function of the mutable state (`MutableState::pending_tasks`), so storing
//! the state stores the tasks in the same transaction, and recovery after a
//! crash is recomputation.

mod activity;
pub mod activity_control;
mod apply;
mod child;
mod close;
mod close_commands;
mod commands;
mod continuation;
mod cron;
mod events;
mod external;
mod failure;
mod info;
pub mod limits;
mod marker;
mod options;
mod pause_info;
mod payload;
mod properties;
mod rebuild;
mod rejection;
mod reset;
mod reset_points;
mod retry;
mod shared;
mod signal;
mod standalone;
mod standalone_outcome;
mod start;
mod state;
mod system_attributes;
pub mod time;
mod timer;
mod transition;
mod update;
pub mod versioning;
mod workflow_task;

pub use apply::{apply, apply_all, apply_env, start};
pub use child::{child_request_id, reuse_policy as child_reuse_policy, start_args as child_start_args};
pub use cron::validate as validate_cron_schedule;
pub use events::started_task_transient_events;
pub use failure::bound_failure;
pub use limits::Limits;
pub use payload::too_big;
pub use rebuild::{RebuildArgs, rebuild};
pub use reset::{RESET_IDENTITY, RESETTER_IDENTITY, ResetArgs, reset, workflow_task_point};
pub use retry::{default_activity_retry_policy, next_retry_delay, normalize_retry_policy};
pub use shared::Shared;
pub use start::{ActivityStart, Continued, ParentInfo, StartArgs};
pub use state::{
    ActivityInfo, ChildInfo, ExternalRequest, MutableState, StandaloneActivity, TimerInfo, UpdateInfo, WorkflowTaskInfo,
};
pub use transition::{
    ActivityTaskDispatch, ChildClose, EngineError, Env, Input, Outcome, SignalArgs, StandaloneRequest, Task, TimerKind,
    TimerTask, Transition, WorkflowTaskCompletion,
};
pub use workflow_task::server_failure;

pub use temporalio_protos::temporal::api;
