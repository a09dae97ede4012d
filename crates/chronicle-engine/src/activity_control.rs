//! Activity controls from outside the workflow (Temporal 1.27+):
//! PauseActivity, UnpauseActivity, ResetActivity. They change pending
//! activities' state only, as on Temporal: no events, no workflow task.

use crate::api::workflow::v1::pending_activity_info::{PauseInfo, pause_info};
use crate::events::Ctx;
use crate::state::ActivityInfo;
use crate::time;
use crate::transition::EngineError;
use prost_types::Duration;

/// Which pending activities a control names.
#[derive(Clone, Debug, PartialEq)]
pub enum Selector {
    Id(String),
    Type(String),
    All,
}

/// One control, with the delay the server drew for it (an unpause or
/// reset hands the next attempt out after a random share of its jitter;
/// the engine draws nothing).
#[derive(Clone, Debug, PartialEq)]
pub enum Control {
    Pause { activity: Selector, identity: String, reason: String },
    Unpause { activity: Selector, reset_attempts: bool, reset_heartbeat: bool, delay: Duration },
    Reset { activity: Selector, reset_heartbeat: bool, keep_paused: bool, delay: Duration },
}

/// Temporal's NotFound for a selection that names no pending activity.
const NOT_FOUND: &str = "Can't find pending activity with such ID. Invalid activityID or activity already completed";

pub(crate) fn apply(ctx: &mut Ctx, control: Control) -> Result<(), EngineError> {
    let selector = match &control {
        Control::Pause { activity, .. } | Control::Unpause { activity, .. } | Control::Reset { activity, .. } => {
            activity
        }
    };
    let ids: Vec<i64> = ctx
        .state
        .activities
        .values()
        .filter(|a| match selector {
            Selector::Id(id) => &a.activity_id == id,
            Selector::Type(t) => a.activity_type.as_ref().is_some_and(|at| &at.name == t),
            Selector::All => true,
        })
        .map(|a| a.scheduled_event_id)
        .collect();
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
