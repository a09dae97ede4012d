//! The entry points: a run's start, and everything that happens to an
//! existing run.

use crate::activity;
use crate::api::{
    enums::v1::{TaskQueueKind, WorkflowExecutionStatus},
    history::v1::*,
};
use crate::events::{Ctx, wft_timeout_fire_at};
use crate::limits::Limits;
use crate::state::MutableState;
use crate::time;
use crate::transition::{EngineError, Env, Input, Outcome, Task, TimerKind, TimerTask, Transition};
use crate::workflow_task;
use prost_types::Timestamp;

/// The first transition of a run: WorkflowExecutionStarted and the first
/// workflow task (started for the caller if the start was accepted as
/// eager), or the timer it waits for.
pub fn start(mut args: crate::start::StartArgs, now: Timestamp) -> Transition {
    let activity = args.activity.take();
    let mut ctx = crate::start::begin(args, now, activity.is_some());
    if let Some(activity) = activity {
        crate::standalone::schedule(&mut ctx, *activity);
    }
    if ctx.state.started.as_ref().is_some_and(|s| s.eager_execution_accepted) {
        workflow_task::start_first_eagerly(&mut ctx);
    }
    ctx.finish()
}

/// Applies `input` to `state` at time `now` with the default limits (a run
/// it starts gets the id `<run_id>-next`). For tests and tools.
pub fn apply(state: &MutableState, input: Input, now: Timestamp) -> Result<Transition, EngineError> {
    let env = Env { now, limits: Limits::default(), new_run_id: format!("{}-next", state.run_id) };
    apply_env(state, input, &env)
}

/// Applies `input` to `state`. Pure: the caller persists the returned
/// transition (and its new run, if any) and then hands out its tasks.
pub fn apply_env(state: &MutableState, input: Input, env: &Env) -> Result<Transition, EngineError> {
    if !state.is_running() {
        return apply_closed(state, input, env);
    }
    let transition = apply_running(state, input, env)?;
    Ok(enforce_history_limits(state, transition, env))
}

/// Applies several inputs in order as one transition (one commit): the
/// timers of a run that come due together fire in one transaction, as
/// Temporal's timer queue fires them. An input the engine refuses (a stale
/// timer) is skipped; inputs after the run closes or continues are not
/// applied. Err only if none applied (the last refusal).
pub fn apply_all(state: &MutableState, inputs: Vec<Input>, env: &Env) -> Result<Transition, EngineError> {
    let mut combined: Option<Transition> = None;
    let mut refused = EngineError::WorkflowClosed;
    let mut inputs = inputs.into_iter().peekable();
    while let Some(input) = inputs.next() {
        let current = combined.as_ref().map_or(state, |t| &t.state);
        if combined.as_ref().is_some_and(|t| t.new_run.is_some()) || (combined.is_some() && !current.is_running()) {
            break;
        }
        // User timers due together (thousands, when a workflow started them
        // at once) fire in one step: a step per timer would copy the whole
        // state, its pending timers included, once per timer.
        let applied = match user_timer(&input) {
            Some(first) if current.is_running() => {
                let mut started = vec![first];
                while let Some(next) = inputs.peek().and_then(user_timer) {
                    started.push(next);
                    inputs.next();
                }
                fire_user_timers(current, &started, env)
            }
            _ => apply_env(current, input, env),
        };
        match applied {
            Ok(next) => {
                combined = Some(match combined {
                    None => next,
                    Some(mut all) => {
                        all.events.extend(next.events);
                        all.tasks.extend(next.tasks);
                        all.state = next.state;
                        all.outcome = next.outcome;
                        all.new_run = next.new_run;
                        all
                    }
                });
            }
            Err(e) => refused = e,
        }
    }
    let mut all = combined.ok_or(refused)?;
    // One commit: the version moves on by one, as for any transition.
    all.state.db_version = state.db_version + 1;
    Ok(all)
}

/// The started event id of a user timer's firing.
fn user_timer(input: &Input) -> Option<i64> {
    match input {
        Input::TimerFired(TimerKind::UserTimer { started_event_id }) => Some(*started_event_id),
        _ => None,
    }
}

/// Fires the user timers started by `started` (event ids) on a running
/// run, in order, as one transition; stale ones are skipped. Err only if
/// none fired.
fn fire_user_timers(state: &MutableState, started: &[i64], env: &Env) -> Result<Transition, EngineError> {
    let mut ctx = Ctx::with_env(state.clone(), env);
    let mut by_started = crate::timer::by_started_event(&ctx.state);
    let mut fired = 0;
    for id in started {
        if crate::timer::fire_indexed(&mut ctx, &mut by_started, *id).is_ok() {
            fired += 1;
        }
    }
    if fired == 0 {
        return Err(EngineError::StaleTimer);
    }
    Ok(enforce_history_limits(state, ctx.finish(), env))
}

/// A closed run only takes the acknowledgements of its post-close work.
fn apply_closed(state: &MutableState, input: Input, env: &Env) -> Result<Transition, EngineError> {
    let mut ctx = Ctx::with_env(state.clone(), env);
    match input {
        Input::ParentNotified if state.parent_notification_pending => ctx.state.parent_notification_pending = false,
        Input::ChildClosePolicyApplied { initiated_event_id } => {
            crate::child::policy_applied(&mut ctx, initiated_event_id)?;
        }
        Input::TimerFired(_) | Input::ParentNotified => return Err(EngineError::StaleTimer),
        _ => return Err(EngineError::WorkflowClosed),
    }
    Ok(ctx.finish())
}

/// Temporal's hard history limits: a transition that would take a running
/// workflow past them is dropped and the run is terminated instead.
fn enforce_history_limits(before: &MutableState, t: Transition, env: &Env) -> Transition {
    let count = t.state.next_event_id - 1;
    let size = t.state.history_size_bytes;
    let message = if !t.state.is_running() {
        return t;
    } else if count > env.limits.history_events_max {
        "Workflow history count exceeds limit."
    } else if size > env.limits.history_bytes_max {
        "Workflow history size exceeds limit."
    } else {
        return t;
    };
    let mut ctx = Ctx::with_env(before.clone(), env);
    workflow_task::fail_for_force_close(&mut ctx);
    ctx.flush_buffered();
    ctx.add(WorkflowExecutionTerminatedEventAttributes {
        reason: message.to_string(),
        details: None,
        identity: "history-service".to_string(),
    });
    crate::close::close(&mut ctx, WorkflowExecutionStatus::Terminated);
    ctx.outcome = Outcome::HistoryLimitExceeded { message: message.to_string() };
    ctx.finish()
}

fn apply_running(state: &MutableState, mut input: Input, env: &Env) -> Result<Transition, EngineError> {
    crate::failure::bound_input(&mut input);
    let mut ctx = Ctx::with_env(state.clone(), env);
    if state.standalone.is_some() && !crate::standalone::shared_input(&input) {
        crate::standalone::apply(&mut ctx, input)?;
        return Ok(ctx.finish());
    }
    match input {
        Input::WorkflowTaskStarted {
            scheduled_event_id,
            attempt,
            identity,
            request_id,
            worker_version,
            target_version_changed,
            routing_revision,
        } => {
            let poll =
                workflow_task::Poll { identity, request_id, worker_version, target_version_changed, routing_revision };
            workflow_task::started(&mut ctx, scheduled_event_id, attempt, poll)?;
        }
        Input::WorkflowTaskCompleted(done) => workflow_task::completed(&mut ctx, *done)?,
        Input::WorkflowTaskFailed { scheduled_event_id, attempt, cause, failure, identity, binary_checksum } => {
            workflow_task::failed(&mut ctx, scheduled_event_id, attempt, cause, failure, identity, binary_checksum)?;
        }
        Input::ActivityTaskStarted { scheduled_event_id, attempt, identity, request_id, worker_version } => {
            activity::started(&mut ctx, scheduled_event_id, attempt, identity, request_id, worker_version)?;
        }
        Input::ActivityTaskCompleted { scheduled_event_id, attempt, result, identity } => {
            activity::completed(&mut ctx, scheduled_event_id, attempt, result, identity)?;
        }
        Input::ActivityTaskFailed { scheduled_event_id, attempt, failure, last_heartbeat_details, identity } => {
            activity::failed(&mut ctx, scheduled_event_id, attempt, failure, last_heartbeat_details, identity)?;
        }
        Input::ActivityTaskCanceled { scheduled_event_id, attempt, details, identity } => {
            activity::canceled(&mut ctx, scheduled_event_id, attempt, details, identity)?;
        }
        Input::ActivityTaskHeartbeat { scheduled_event_id, attempt, details } => {
            activity::heartbeat(&mut ctx, scheduled_event_id, attempt, details)?;
        }
        Input::TimerFired(kind) => timer_fired(&mut ctx, kind)?,
        Input::Signal(args) => crate::signal::signal(&mut ctx, args)?,
        Input::UpdateAdmit(request) => crate::update::admit(&mut ctx, *request)?,
        Input::RequestCancel { reason, identity, external } => {
            // Idempotent, as on Temporal: a second request changes nothing.
            if !ctx.state.cancel_requested {
                ctx.state.cancel_requested = true;
                let (external_workflow_execution, external_initiated_event_id) = match external {
                    Some((execution, id)) => (Some(execution), id),
                    None => (None, 0),
                };
                ctx.add_for_workflow(WorkflowExecutionCancelRequestedEventAttributes {
                    cause: reason,
                    identity,
                    external_workflow_execution,
                    external_initiated_event_id,
                });
            }
        }
        Input::ExternalRequestDone { initiated_event_id, delivered } => {
            crate::external::done(&mut ctx, initiated_event_id, delivered)?;
        }
        Input::ChildStarted { initiated_event_id, run_id } => {
            crate::child::started(&mut ctx, initiated_event_id, run_id)?;
        }
        Input::ChildStartFailed { initiated_event_id, cause } => {
            crate::child::start_failed(&mut ctx, initiated_event_id, cause)?;
        }
        Input::ChildClosed { initiated_event_id, run_id, closed } => {
            crate::child::closed(&mut ctx, initiated_event_id, run_id, closed)?;
        }
        Input::ParentNotified | Input::ChildClosePolicyApplied { .. } => return Err(EngineError::StaleTimer),
        Input::Standalone(_) => return Err(EngineError::NotFound("activity execution not found".into())),
        Input::ActivityControl(control) => crate::activity_control::apply(&mut ctx, *control)?,
        Input::UpdateOptions { versioning_override, identity } => {
            crate::options::update(&mut ctx, versioning_override, identity);
        }
        Input::ResetSticky => {
            ctx.state.sticky_task_queue = None;
            ctx.state.sticky_schedule_to_start_timeout = None;
        }
        Input::StickyWorkerUnavailable { scheduled_event_id, attempt } => {
            workflow_task::sticky_unavailable(&mut ctx, scheduled_event_id, attempt)?;
        }
        Input::Terminate { reason, details, identity } => {
            workflow_task::fail_for_force_close(&mut ctx);
            ctx.flush_buffered();
            ctx.add(WorkflowExecutionTerminatedEventAttributes { reason, details, identity });
            crate::close::close(&mut ctx, WorkflowExecutionStatus::Terminated);
        }
    }
    Ok(ctx.finish())
}

fn timer_fired(ctx: &mut Ctx, kind: TimerKind) -> Result<(), EngineError> {
    match kind {
        TimerKind::WorkflowTaskTimeout { scheduled_event_id, attempt } => {
            workflow_task::timed_out(ctx, scheduled_event_id, attempt)
        }
        TimerKind::UserTimer { started_event_id } => crate::timer::fired(ctx, started_event_id),
        TimerKind::StickyScheduleToStartTimeout { scheduled_event_id, attempt } => {
            workflow_task::sticky_timed_out(ctx, scheduled_event_id, attempt)
        }
        TimerKind::ActivityTimeout { scheduled_event_id, attempt, timeout_type } => {
            activity::timed_out(ctx, scheduled_event_id, attempt, timeout_type)
        }
        TimerKind::WorkflowRunTimeout => {
            let due = ctx.state.run_expiration_time.ok_or(EngineError::StaleTimer)?;
            if time::ts_nanos(&due) > time::ts_nanos(&ctx.now) {
                return Err(EngineError::StaleTimer);
            }
            workflow_task::fail_for_force_close(ctx);
            ctx.flush_buffered();
            let failure = crate::continuation::run_timeout_failure();
            let next = crate::continuation::AfterFailure::decide(&ctx.state, &failure, &ctx.now);
            // As Temporal: what the retry policy says (NOT_SET without one),
            // TIMEOUT only once the execution itself has expired.
            let expired =
                ctx.state.execution_expiration_time.is_some_and(|e| time::ts_nanos(&e) <= time::ts_nanos(&ctx.now));
            let retry_state = if expired && !matches!(next, crate::continuation::AfterFailure::Retry(_)) {
                crate::api::enums::v1::RetryState::Timeout
            } else {
                next.retry_state()
            };
            ctx.add(WorkflowExecutionTimedOutEventAttributes {
                retry_state: retry_state as i32,
                new_execution_run_id: next.new_run_id(&ctx.new_run_id),
            });
            next.carry_out(ctx, failure, WorkflowExecutionStatus::TimedOut);
            Ok(())
        }
        TimerKind::WorkflowBackoff => {
            let due = ctx.state.backoff_until.ok_or(EngineError::StaleTimer)?;
            if time::ts_nanos(&due) > time::ts_nanos(&ctx.now) {
                return Err(EngineError::StaleTimer);
            }
            ctx.state.backoff_until = None;
            ctx.schedule_workflow_task(1);
            Ok(())
        }
    }
}

impl MutableState {
    /// Every task this state implies: what recovery hands to matching and
    /// the timer service after a restart. Stale entries are harmless: the
    /// engine ignores timers and dispatches that no longer apply.
    pub fn pending_tasks(&self) -> Vec<Task> {
        let mut tasks = Vec::new();
        if !self.is_running() {
            if self.parent_notification_pending {
                tasks.push(Task::NotifyParent);
            }
            for child in self.children.values().filter(|c| c.close_policy_pending) {
                tasks.push(Task::ApplyParentClosePolicy { initiated_event_id: child.initiated_event_id });
            }
            return tasks;
        }
        for child in self.children.values().filter(|c| c.started_event_id == 0) {
            tasks.push(Task::StartChild { initiated_event_id: child.initiated_event_id });
        }
        if let Some(at) = self.backoff_until {
            tasks.push(Task::Timer(TimerTask { fire_at: at, kind: TimerKind::WorkflowBackoff }));
        }
        if let Some(wt) = &self.workflow_task {
            if wt.is_started() {
                if let Some(fire_at) = wft_timeout_fire_at(wt) {
                    tasks.push(Task::Timer(TimerTask {
                        fire_at,
                        kind: TimerKind::WorkflowTaskTimeout {
                            scheduled_event_id: wt.scheduled_event_id,
                            attempt: wt.attempt,
                        },
                    }));
                }
            } else {
                let sticky = wt.task_queue.as_ref().is_some_and(|t| t.kind == TaskQueueKind::Sticky as i32);
                tasks.push(Task::WorkflowTask {
                    task_queue: wt.task_queue.as_ref().map(|t| t.name.clone()).unwrap_or_default(),
                    sticky,
                    scheduled_event_id: wt.scheduled_event_id,
                    attempt: wt.attempt,
                    pinned: String::new(), // stamped below
                });
                if sticky {
                    // The worker may be gone: the sticky deadline still stands.
                    let timeout = self
                        .sticky_schedule_to_start_timeout
                        .filter(|d| time::is_set(Some(d)))
                        .unwrap_or(time::dur_secs(crate::limits::STICKY_SCHEDULE_TO_START_SECS_DEFAULT));
                    let since = wt.scheduled_time.unwrap_or_default();
                    tasks.push(Task::Timer(TimerTask {
                        fire_at: time::add(&since, &timeout),
                        kind: TimerKind::StickyScheduleToStartTimeout {
                            scheduled_event_id: wt.scheduled_event_id,
                            attempt: wt.attempt,
                        },
                    }));
                }
            }
        }
        for info in self.activities.values() {
            tasks.extend(activity::pending_tasks(info));
        }
        for initiated_event_id in self.external_requests.keys() {
            tasks.push(Task::External { initiated_event_id: *initiated_event_id });
        }
        for timer in self.timers.values() {
            tasks.push(Task::Timer(TimerTask {
                fire_at: timer.fire_at.unwrap_or_default(),
                kind: TimerKind::UserTimer { started_event_id: timer.started_event_id },
            }));
        }
        if let Some(deadline) = self.run_expiration_time {
            tasks.push(Task::Timer(TimerTask { fire_at: deadline, kind: TimerKind::WorkflowRunTimeout }));
        }
        debug_assert!(self.holds_all(&tasks), "a pending task refers to something the state does not hold: {tasks:?}");
        crate::versioning::stamp(self, &mut tasks);
        tasks
    }

    /// Whether every task refers to something this state holds (the current
    /// workflow task, a pending activity attempt, timer, child or request),
    /// so recovery never hands out work for nothing.
    fn holds_all(&self, tasks: &[Task]) -> bool {
        let workflow_task = |scheduled_event_id: i64, attempt: i32| {
            self.workflow_task
                .as_ref()
                .is_some_and(|wt| wt.scheduled_event_id == scheduled_event_id && wt.attempt == attempt)
        };
        let activity = |scheduled_event_id: i64, attempt: i32| {
            self.activities.get(&scheduled_event_id).is_some_and(|a| a.attempt == attempt)
        };
        let timers: std::collections::BTreeSet<i64> = self.timers.values().map(|t| t.started_event_id).collect();
        tasks.iter().all(|task| match task {
            Task::WorkflowTask { scheduled_event_id, attempt, .. } => workflow_task(*scheduled_event_id, *attempt),
            Task::ActivityTask(d) => activity(d.scheduled_event_id, d.attempt),
            Task::External { initiated_event_id } => self.external_requests.contains_key(initiated_event_id),
            Task::StartChild { initiated_event_id } => {
                self.children.get(initiated_event_id).is_some_and(|c| c.started_event_id == 0)
            }
            Task::NotifyParent => self.parent_notification_pending,
            Task::ApplyParentClosePolicy { initiated_event_id } => {
                self.children.get(initiated_event_id).is_some_and(|c| c.close_policy_pending)
            }
            Task::Timer(t) => match t.kind {
                TimerKind::WorkflowTaskTimeout { scheduled_event_id, attempt }
                | TimerKind::StickyScheduleToStartTimeout { scheduled_event_id, attempt } => {
                    workflow_task(scheduled_event_id, attempt)
                }
                TimerKind::ActivityTimeout { scheduled_event_id, attempt, .. } => activity(scheduled_event_id, attempt),
                TimerKind::WorkflowRunTimeout => self.run_expiration_time.is_some(),
                TimerKind::UserTimer { started_event_id } => timers.contains(&started_event_id),
                TimerKind::WorkflowBackoff => self.backoff_until.is_some(),
            },
        })
    }
}
