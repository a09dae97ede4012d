//! User timers: StartTimer / CancelTimer commands, TimerStarted, TimerFired,
//! TimerCanceled.

use crate::api::{command::v1::*, history::v1::*};
use crate::events::Ctx;
use crate::state::TimerInfo;
use crate::time;
use crate::transition::{EngineError, TimerKind};

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
pub(crate) fn fired_unseen(state: &crate::state::MutableState, timer_id: &str) -> bool {
    buffered_fired_index(state, timer_id).is_some()
}

fn buffered_fired_index(state: &crate::state::MutableState, timer_id: &str) -> Option<usize> {
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

pub(crate) fn fired(ctx: &mut Ctx, started_event_id: i64) -> Result<(), EngineError> {
    let timer = ctx
        .state
        .timers
        .values()
        .find(|t| t.started_event_id == started_event_id)
        .cloned()
        .ok_or(EngineError::StaleTimer)?;
    if timer.fire_at.is_some_and(|at| time::ts_nanos(&at) > time::ts_nanos(&ctx.now)) {
        return Err(EngineError::StaleTimer);
    }
    ctx.state.timers.remove(&timer.timer_id);
    ctx.add_for_workflow(TimerFiredEventAttributes { timer_id: timer.timer_id, started_event_id });
    Ok(())
}
