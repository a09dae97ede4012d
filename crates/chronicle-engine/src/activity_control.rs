//! Activity controls from outside the workflow (Temporal 1.27+):
//! PauseActivity, UnpauseActivity, ResetActivity. They change pending
//! activities' state only, as on Temporal: no events, no workflow task.

use crate::api::activity::v1::ActivityOptions;
use crate::api::command::v1::ScheduleActivityTaskCommandAttributes;
use crate::api::enums::v1::TaskQueueKind;
use crate::api::taskqueue::v1::TaskQueue;
use crate::api::workflow::v1::pending_activity_info::{PauseInfo, pause_info};
use crate::events::Ctx;
use crate::state::{ActivityInfo, MutableState};
use crate::time;
use crate::transition::EngineError;
use prost_types::Duration;

pub use crate::transition::{Control, Selector};

/// Temporal's NotFound for a selection that names no pending activity.
const NOT_FOUND: &str = "Can't find pending activity with such ID. Invalid activityID or activity already completed";

/// The pending activities a selector names, by scheduled event id.
pub fn select(state: &MutableState, selector: &Selector) -> Vec<i64> {
    state
        .activities
        .values()
        .filter(|a| match selector {
            Selector::Id(id) => &a.activity_id == id,
            Selector::Type(t) => a.activity_type.as_ref().is_some_and(|at| &at.name == t),
            Selector::All => true,
        })
        .map(|a| a.scheduled_event_id)
        .collect()
}

/// An activity's options as UpdateActivityOptions answers them.
pub fn options_of(info: &ActivityInfo) -> ActivityOptions {
    ActivityOptions {
        task_queue: info.task_queue.clone(),
        schedule_to_close_timeout: info.schedule_to_close_timeout,
        schedule_to_start_timeout: info.schedule_to_start_timeout,
        start_to_close_timeout: info.start_to_close_timeout,
        heartbeat_timeout: info.heartbeat_timeout,
        retry_policy: info.retry_policy.clone(),
        priority: info.priority.clone(),
        ..Default::default()
    }
}

pub(crate) fn apply(ctx: &mut Ctx, control: Control) -> Result<(), EngineError> {
    let selector = match &control {
        Control::Pause { activity, .. }
        | Control::Unpause { activity, .. }
        | Control::Reset { activity, .. }
        | Control::UpdateOptions { activity, .. } => activity,
    };
    let ids = select(&ctx.state, selector);
    if ids.is_empty() {
        return Err(EngineError::NotFound(NOT_FOUND.into()));
    }
    for id in ids {
        let Some(mut info) = ctx.state.activities.get(&id).cloned() else { continue };
        let dispatch = match &control {
            Control::Pause { identity, reason, .. } => pause(ctx, &mut info, identity, reason),
            Control::Unpause { reset_attempts, reset_heartbeat, delay, .. } => {
                unpause(ctx, &mut info, *reset_attempts, *reset_heartbeat, delay)
            }
            Control::Reset { reset_heartbeat, keep_paused, delay, .. } => {
                reset(ctx, &mut info, *reset_heartbeat, *keep_paused, delay)
            }
            Control::UpdateOptions { options: asked, paths, originals, .. } => {
                let options = match originals {
                    Some(originals) => originals.get(&id).cloned().unwrap_or_else(|| options_of(&info)),
                    None => merged(options_of(&info), asked, paths)?,
                };
                update(&ctx.state, &mut info, options)?;
                crate::standalone::update_start_delay(ctx, &mut info, originals.is_some(), paths, asked);
                // New deadlines: the attempt's tasks again (older timers
                // find their deadline moved and do nothing).
                ctx.tasks.extend(crate::activity::pending_tasks(&info));
                false
            }
        };
        if dispatch {
            ctx.tasks.extend(crate::activity::dispatch_tasks(&info));
        }
        ctx.state.activities.insert(id, info);
    }
    Ok(())
}

/// Pauses; an already paused activity is left as it is (Temporal's
/// documented no-op). Returns whether an attempt must be handed out.
fn pause(ctx: &Ctx, info: &mut ActivityInfo, identity: &str, reason: &str) -> bool {
    if !info.paused {
        info.paused = true;
        info.pause_info = Some(PauseInfo {
            pause_time: Some(ctx.now),
            paused_by: Some(pause_info::PausedBy::Manual(pause_info::Manual {
                identity: identity.to_string(),
                reason: reason.to_string(),
            })),
        });
    }
    false
}

/// Unpauses (an activity not paused is left as it is): a waiting attempt
/// is handed out after `delay`.
fn unpause(ctx: &Ctx, info: &mut ActivityInfo, reset_attempts: bool, reset_heartbeat: bool, delay: &Duration) -> bool {
    if !info.paused {
        return false;
    }
    info.paused = false;
    info.pause_info = None;
    if info.is_started() {
        if reset_attempts {
            info.activity_reset = true; // the next attempt is attempt 1
        }
        info.reset_heartbeats |= reset_heartbeat;
        return false;
    }
    if reset_attempts {
        info.attempt = 1;
    }
    if reset_heartbeat {
        clear_heartbeat(info);
    }
    info.current_attempt_scheduled_time = Some(time::add(&ctx.now, delay));
    true
}

/// Back to attempt 1: at once for a waiting attempt (after `delay`;
/// unpaused unless `keep_paused`), after the running one ends for a
/// running attempt (its heartbeats say so; paused or not, it stays so).
fn reset(ctx: &Ctx, info: &mut ActivityInfo, reset_heartbeat: bool, keep_paused: bool, delay: &Duration) -> bool {
    if info.is_started() {
        info.activity_reset = true;
        info.reset_heartbeats |= reset_heartbeat;
        return false;
    }
    info.attempt = 1;
    if reset_heartbeat {
        clear_heartbeat(info);
    }
    if info.paused && keep_paused {
        return false;
    }
    info.paused = false;
    info.pause_info = None;
    info.current_attempt_scheduled_time = Some(time::add(&ctx.now, delay));
    true
}

fn clear_heartbeat(info: &mut ActivityInfo) {
    info.last_heartbeat_details = None;
    info.last_heartbeat_time = None;
}

/// `paths` of `update` over `current`: Temporal's recognised field-mask
/// paths; others are ignored, as on Temporal.
fn merged(
    mut current: ActivityOptions,
    update: &ActivityOptions,
    paths: &[String],
) -> Result<ActivityOptions, EngineError> {
    let missing = |what: &str| EngineError::InvalidArgument(format!("{what} is not provided"));
    for path in paths {
        match path.as_str() {
            "taskQueue.name" => {
                let queue = update.task_queue.as_ref().ok_or_else(|| missing("TaskQueue"))?;
                current.task_queue = Some(TaskQueue {
                    name: queue.name.clone(),
                    kind: TaskQueueKind::Normal as i32,
                    normal_name: String::new(),
                });
            }
            "scheduleToCloseTimeout" => current.schedule_to_close_timeout = update.schedule_to_close_timeout,
            "scheduleToStartTimeout" => current.schedule_to_start_timeout = update.schedule_to_start_timeout,
            "startToCloseTimeout" => current.start_to_close_timeout = update.start_to_close_timeout,
            "heartbeatTimeout" => current.heartbeat_timeout = update.heartbeat_timeout,
            "priority" => current.priority = update.priority.clone(),
            "priority.priorityKey" | "priority.fairnessKey" | "priority.fairnessWeight" => {
                let from = update.priority.as_ref().ok_or_else(|| missing("Priority"))?;
                let to = current.priority.get_or_insert_with(Default::default);
                match path.as_str() {
                    "priority.priorityKey" => to.priority_key = from.priority_key,
                    "priority.fairnessKey" => to.fairness_key = from.fairness_key.clone(),
                    _ => to.fairness_weight = from.fairness_weight,
                }
            }
            "retryPolicy" => current.retry_policy = update.retry_policy.clone(),
            "retryPolicy.initialInterval"
            | "retryPolicy.backoffCoefficient"
            | "retryPolicy.maximumInterval"
            | "retryPolicy.maximumAttempts" => {
                let from = update.retry_policy.as_ref().ok_or_else(|| missing("RetryPolicy"))?;
                let to = current.retry_policy.get_or_insert_with(Default::default);
                match path.as_str() {
                    "retryPolicy.initialInterval" => to.initial_interval = from.initial_interval,
                    "retryPolicy.backoffCoefficient" => to.backoff_coefficient = from.backoff_coefficient,
                    "retryPolicy.maximumInterval" => to.maximum_interval = from.maximum_interval,
                    _ => to.maximum_attempts = from.maximum_attempts,
                }
            }
            _ => {}
        }
    }
    Ok(current)
}

/// Writes `options` on the activity, checked and completed as a
/// ScheduleActivityTask command's are.
fn update(state: &MutableState, info: &mut ActivityInfo, options: ActivityOptions) -> Result<(), EngineError> {
    let command = ScheduleActivityTaskCommandAttributes {
        activity_id: info.activity_id.clone(),
        activity_type: info.activity_type.clone(),
        task_queue: options.task_queue.clone(),
        schedule_to_close_timeout: options.schedule_to_close_timeout,
        schedule_to_start_timeout: options.schedule_to_start_timeout,
        start_to_close_timeout: options.start_to_close_timeout,
        heartbeat_timeout: options.heartbeat_timeout,
        retry_policy: options.retry_policy.clone(),
        ..Default::default()
    };
    crate::activity::validate_schedule(state, &command).map_err(|r| EngineError::InvalidArgument(r.message))?;
    let (s2close, s2start, s2c, heartbeat) =
        crate::activity::timeouts(state, &command).expect("validated: a timeout is set");
    let retry_policy =
        crate::retry::normalize_retry_policy(options.retry_policy).map_err(EngineError::InvalidArgument)?;
    if let Some(queue) = options.task_queue.filter(|q| !q.name.is_empty()) {
        info.task_queue = Some(queue);
    }
    info.schedule_to_close_timeout = Some(s2close);
    info.schedule_to_start_timeout = Some(s2start);
    info.start_to_close_timeout = Some(s2c);
    info.heartbeat_timeout = Some(heartbeat);
    info.retry_policy = Some(retry_policy);
    info.priority = options.priority;
    Ok(())
}

pub use crate::pause_info::PAUSE_INFO_ATTRIBUTE;
