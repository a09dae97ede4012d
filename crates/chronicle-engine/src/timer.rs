//! User timers: StartTimer / CancelTimer commands, TimerStarted, TimerFired,
//! TimerCanceled.

use crate::api::{command::v1::*, enums::v1::WorkflowTaskFailedCause as Cause, history::v1::*};
use crate::events::Ctx;
use crate::limits::ID_BYTES_MAX;
use crate::rejection::{Rejection, reject};
use crate::state::{MutableState, TimerInfo};
use crate::time;
use crate::transition::{EngineError, TimerKind};

/// StartTimer on its own (duplicate ids are the dispatcher's).
pub(crate) fn validate_start(a: &StartTimerCommandAttributes) -> Result<(), Rejection> {
    let bad = |m: String| reject(Cause::BadStartTimerAttributes, m);
    if a.timer_id.is_empty() {
        return bad("TimerId is not set on StartTimerCommand.".into());
    }
    if a.timer_id.len() > ID_BYTES_MAX {
        return bad(format!("TimerId exceeds length limit of {ID_BYTES_MAX}."));
    }
    // Zero (or unset) fires at once, in a later transaction, as on
    // Temporal since 1.22; only a negative duration is bad.
    if a.start_to_fire_timeout.as_ref().is_some_and(|d| d.seconds < 0 || d.nanos < 0) {
        return bad(format!(
            "An invalid StartToFireTimeout is set on StartTimerCommand: negative timer duration. TimerId={}",
            a.timer_id
        ));
    }
    if let Some(cause) = a.start_to_fire_timeout.as_ref().and_then(crate::time::dur_invalid) {
        return bad(format!(
            "An invalid StartToFireTimeout is set on StartTimerCommand: {cause}. TimerId={}",
            a.timer_id
        ));
    }
    Ok(())
}

/// CancelTimer. `pending`: the timer is pending after the commands before
/// this one (the dispatcher tracks starts and cancels in order).
pub(crate) fn validate_cancel(
    state: &MutableState,
    a: &CancelTimerCommandAttributes,
    pending: bool,
) -> Result<(), Rejection> {
    let fired_unseen = !state.timers.contains_key(&a.timer_id) && fired_unseen(state, &a.timer_id);
    let known = pending || fired_unseen;
    if a.timer_id.is_empty() {
        return reject(Cause::BadCancelTimerAttributes, "TimerId is not set on CancelTimerCommand.");
    }
    if !known {
        return reject(
            Cause::BadCancelTimerAttributes,
            format!("CancelTimer: no pending timer with ID '{}'.", a.timer_id),
        );
    }
    Ok(())
}

pub(crate) fn start(ctx: &mut Ctx, a: StartTimerCommandAttributes, completed_id: i64) {
    let timeout = a.start_to_fire_timeout.unwrap_or_default();
    let started_event_id = ctx.add(TimerStartedEventAttributes {
        timer_id: a.timer_id.clone(),
        start_to_fire_timeout: Some(timeout),
        workflow_task_completed_event_id: completed_id,
    });
    let fire_at = time::add(&ctx.now, &timeout);
    ctx.timer(fire_at, TimerKind::UserTimer { started_event_id });
    ctx.state
        .timers
        .insert(a.timer_id.clone(), TimerInfo { timer_id: a.timer_id, started_event_id, fire_at: Some(fire_at) });
}

/// Cancels a pending timer, or one whose TimerFired is still buffered (the
/// workflow never saw it fire): that event is dropped, as on Temporal.
pub(crate) fn cancel(ctx: &mut Ctx, a: CancelTimerCommandAttributes, completed_id: i64, identity: &str) {
    let started_event_id = match ctx.state.timers.remove(&a.timer_id) {
        Some(timer) => timer.started_event_id,
        None => take_buffered_fired(ctx, &a.timer_id).unwrap_or_default(),
    };
    ctx.add(TimerCanceledEventAttributes {
        timer_id: a.timer_id,
        started_event_id,
        workflow_task_completed_event_id: completed_id,
        identity: identity.to_string(),
    });
}

/// Whether `timer_id` fired while the workflow task was in flight, so the
/// workflow has not seen it yet and may still cancel it.
fn fired_unseen(state: &MutableState, timer_id: &str) -> bool {
    buffered_fired_index(state, timer_id).is_some()
}

fn buffered_fired_index(state: &MutableState, timer_id: &str) -> Option<usize> {
    state.buffered_events.iter().position(|e| {
        matches!(&e.attributes, Some(history_event::Attributes::TimerFiredEventAttributes(f)) if f.timer_id == timer_id)
    })
}

fn take_buffered_fired(ctx: &mut Ctx, timer_id: &str) -> Option<i64> {
    let index = buffered_fired_index(&ctx.state, timer_id)?;
    match ctx.state.buffered_events.remove(index).attributes {
        Some(history_event::Attributes::TimerFiredEventAttributes(f)) => Some(f.started_event_id),
        _ => None,
    }
}

/// The run's pending user timers by their started event id.
pub(crate) fn by_started_event(state: &MutableState) -> std::collections::HashMap<i64, String> {
    state.timers.values().map(|t| (t.started_event_id, t.timer_id.clone())).collect()
}

/// Fires the user timer started by event `started_event_id`, found
/// through `by_started` (kept up to date, so many can fire in one step).
pub(crate) fn fire_indexed(
    ctx: &mut Ctx,
    by_started: &mut std::collections::HashMap<i64, String>,
    started_event_id: i64,
) -> Result<(), EngineError> {
    let timer_id = by_started.get(&started_event_id).ok_or(EngineError::StaleTimer)?;
    let timer = ctx.state.timers.get(timer_id).ok_or(EngineError::StaleTimer)?;
    if timer.fire_at.is_some_and(|at| time::ts_nanos(&at) > time::ts_nanos(&ctx.now)) {
        return Err(EngineError::StaleTimer);
    }
    let timer_id = by_started.remove(&started_event_id).unwrap_or_default();
    ctx.state.timers.remove(&timer_id);
    ctx.add_for_workflow(TimerFiredEventAttributes { timer_id, started_event_id });
    Ok(())
}

pub(crate) fn fired(ctx: &mut Ctx, started_event_id: i64) -> Result<(), EngineError> {
    let mut by_started = by_started_event(&ctx.state);
    fire_indexed(ctx, &mut by_started, started_event_id)
}
