//! Schedules, run natively (Temporal runs each as a system workflow): the
//! records live in the store, and one task per server wakes at the next
//! action time of any schedule and starts its workflows through
//! `History::start`. Every change to a schedule, by that task or by an
//! RPC, happens under that schedule's own lock, so they never interleave;
//! different schedules do not wait for each other.
//!
//! A start's workflow id and request id are derived from the schedule and
//! the action time, so a crash between the start and recording it repeats
//! the start harmlessly (the request id dedupes it).

pub mod spec;

use crate::history::{History, HistoryError, StartPolicies};
use crate::namespaces::Namespaces;
use chronicle_engine::api::common::v1::{Payload, Payloads, SearchAttributes, WorkflowExecution};
use chronicle_engine::api::enums::v1::{
    ScheduleOverlapPolicy as Overlap, WorkflowExecutionStatus, WorkflowIdConflictPolicy, WorkflowIdReusePolicy,
};
use chronicle_engine::api::failure::v1::Failure;
use chronicle_engine::api::history::v1::history_event::Attributes;
use chronicle_engine::api::schedule::v1::{ScheduleActionResult, ScheduleInfo, schedule_action};
use chronicle_engine::limits;
use chronicle_engine::{Continued, Input, MutableState, StartArgs, time};
use chronicle_store::{ScheduleRecord, Store, StoreError};
use spec::Spec;
use std::sync::{Arc, Weak};
use tokio::sync::{Notify, OwnedMutexGuard};

/// The loop looks again at least this often (clock changes, missed wakes).
const MAX_SLEEP: std::time::Duration = std::time::Duration::from_secs(30);
/// While a schedule's workflows run, the loop looks at them this often,
/// so a close is acted on (buffered starts, pause on failure) promptly.
const RUNNING_POLL_NANOS: i128 = 500_000_000;

/// How often a cluster node not running schedules checks whether it
/// should now.
const SINGLETON_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// (namespace, schedule id).
type ScheduleKey = (String, String);

pub struct Scheduler {
    store: Arc<dyn Store>,
    history: Arc<History>,
    namespaces: Arc<Namespaces>,
    /// One lock per schedule, kept while somebody holds it.
    locks: crate::sync::KeyedLocks<ScheduleKey>,
    /// Shared with the loop, which waits on it without holding the scheduler.
    wake: Arc<Notify>,
}

/// Why an action is taken: at its time, or asked for (trigger, backfill),
/// which also runs while paused.
#[derive(Clone, Copy, PartialEq)]
pub enum Reason {
    Scheduled,
    Manual,
}

impl Scheduler {
    /// Starts the schedule loop; it ends when the scheduler is dropped.
    pub fn start(store: Arc<dyn Store>, history: Arc<History>, namespaces: Arc<Namespaces>) -> Arc<Self> {
        let me = Arc::new(Scheduler { store, history, namespaces, locks: Default::default(), wake: Arc::default() });
        tokio::spawn(Self::run(Arc::downgrade(&me)));
        me
    }

    /// Now, from the server's clock, in nanoseconds since the epoch.
    pub fn now_nanos(&self) -> i128 {
        self.history.clock().nanos()
    }

    /// Held by every change to one schedule.
    pub async fn lock(&self, namespace: &str, schedule_id: &str) -> OwnedMutexGuard<()> {
        self.locks.lock((namespace.to_string(), schedule_id.to_string())).await
    }

    /// A schedule's record.
    pub async fn load(&self, namespace: &str, schedule_id: &str) -> Result<Option<ScheduleRecord>, StoreError> {
        self.store.load_schedule(namespace, schedule_id).await
    }

    /// Stores a new schedule; AlreadyExists if the id is taken.
    pub async fn create(&self, rec: ScheduleRecord) -> Result<(), StoreError> {
        self.store.write_schedule(rec, 0).await
    }

    pub async fn delete(&self, namespace: &str, schedule_id: &str) -> Result<(), StoreError> {
        self.store.delete_schedule(namespace, schedule_id).await
    }

    /// Every schedule of a namespace.
    pub async fn list(&self, namespace: &str) -> Result<Vec<ScheduleRecord>, StoreError> {
        self.store.list_schedules(Some(namespace)).await
    }

    /// Makes the loop re-read schedules now (after a create or an edit).
    pub fn poke(&self) {
        // A skipping clock waits for the loop to see the change.
        if let Some(skipping) = self.history.skipping() {
            skipping.schedules_changed();
        }
        self.wake.notify_one();
    }

    async fn run(me: Weak<Scheduler>) {
        let mut jumps = me.upgrade().and_then(|s| s.history.skipping().map(|s| s.jumps()));
        loop {
            let Some(scheduler) = me.upgrade() else { return };
            let changes = scheduler.history.skipping().map(|s| s.schedule_changes());
            // Once per cluster: on the node holding the singletons' shard;
            // the others look again soon, to take over when it moves.
            if !scheduler.history.runs_singletons() {
                drop(scheduler);
                tokio::time::sleep(SINGLETON_CHECK).await;
                continue;
            }
            let (next, running) = match scheduler.pass().await {
                Ok(next) => next,
                Err(e) => {
                    tracing::warn!(error = %e, "schedules: pass failed; retrying in 1s");
                    (Some(scheduler.now_nanos() + 1_000_000_000), false)
                }
            };
            if let (Some(skipping), Some(changes)) = (scheduler.history.skipping(), changes) {
                skipping.set_schedules_next(next.map(|n| i64::try_from(n).unwrap_or(i64::MAX)), changes);
            }
            let now = scheduler.now_nanos();
            let poll = now + RUNNING_POLL_NANOS;
            let next = if running { Some(next.map_or(poll, |n| n.min(poll))) } else { next };
            let sleep = next
                .map(|n| std::time::Duration::from_nanos((n - now).clamp(0, u64::MAX as i128) as u64))
                .unwrap_or(MAX_SLEEP)
                .min(MAX_SLEEP);
            let wake = scheduler.wake.clone();
            drop(scheduler);
            let jumped = async {
                let changed = match jumps.as_mut() {
                    Some(jumps) => jumps.changed().await.is_ok(),
                    None => false,
                };
                if !changed {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = wake.notified() => {}
                _ = jumped => {}
            }
        }
    }

    /// Notices closed workflows, takes buffered and due actions; returns
    /// the earliest next action time, and whether any schedule has
    /// workflows running (the loop then looks again soon).
    async fn pass(&self) -> Result<(Option<i128>, bool), StoreError> {
        let now = self.now_nanos();
        let mut earliest: Option<i128> = None;
        let mut running = false;
        let mut soonest = |t: i128| earliest = Some(earliest.map_or(t, |e: i128| e.min(t)));
        for listed in self.store.list_schedules(None).await? {
            let _held = self.lock(&listed.namespace, &listed.schedule_id).await;
            // Read again under its lock: an RPC may have changed or deleted
            // it since the listing.
            let Some(mut rec) = self.store.load_schedule(&listed.namespace, &listed.schedule_id).await? else {
                continue;
            };
            let before = rec.clone();
            let spec = Spec::new(rec.schedule.as_ref().and_then(|s| s.spec.as_ref()).unwrap_or(&Default::default()));
            self.refresh(&mut rec).await;
            self.catch_up(&mut rec, &spec, now).await;
            if rec != before {
                self.save(&mut rec).await?;
            }
            let from = rec.processed_until.as_ref().map(spec::to_nanos).unwrap_or(now);
            if let Some(next) = spec.next_after(from) {
                soonest(next);
            }
            if rec.info.as_ref().is_some_and(|i| !i.running_workflows.is_empty()) {
                running = true;
            }
        }
        Ok((earliest, running))
    }

    /// Handles the action times due by `now`: those older than the
    /// catch-up window are counted as missed, the rest are taken.
    async fn catch_up(&self, rec: &mut ScheduleRecord, spec: &Spec, now: i128) {
        let from = rec.processed_until.as_ref().map(spec::to_nanos).unwrap_or(now);
        let window = rec
            .schedule
            .as_ref()
            .and_then(|s| s.policies.as_ref())
            .and_then(|p| p.catchup_window.as_ref())
            .map(time::dur_nanos)
            .filter(|w| *w > 0)
            .unwrap_or(limits::SCHEDULE_CATCHUP_WINDOW_SECS_DEFAULT as i128 * 1_000_000_000);
        for t in spec.times(from, Some(now), limits::SCHEDULE_ACTIONS_PER_PASS_MAX) {
            if now - t > window {
                info(rec).missed_catchup_window += 1;
            } else {
                self.act(rec, t, Reason::Scheduled, None).await;
            }
            rec.processed_until = Some(spec::from_nanos(t));
        }
    }

    /// Writes a changed record (conditional on its stored version).
    pub async fn save(&self, rec: &mut ScheduleRecord) -> Result<(), StoreError> {
        let expected = rec.version;
        rec.version += 1;
        let saved = self.store.write_schedule(rec.clone(), expected).await;
        if saved.is_err() {
            rec.version = expected;
        }
        saved
    }

    /// Looks at the running workflows and handles those that have closed:
    /// records their final status on the recent actions that started them
    /// and, under `pause_on_failure`, pauses the schedule when one failed or
    /// timed out (with Temporal's notes). A run that continued as new (or
    /// was retried, or is a cron run) is followed to the chain's current
    /// run, as Temporal's watcher does. Returns whether any closed.
    pub async fn refresh_running(&self, rec: &mut ScheduleRecord) -> bool {
        let Some(running) = rec.info.as_mut().map(|i| std::mem::take(&mut i.running_workflows)) else { return false };
        let mut closed_any = false;
        for wf in running {
            let state = match self.history.load(&rec.namespace, &wf.workflow_id, &wf.run_id).await {
                Ok(s) => Some(self.chain_end(&rec.namespace, s).await),
                Err(HistoryError::NotFound(_)) => None,
                Err(_) => {
                    info(rec).running_workflows.push(wf); // look again later
                    continue;
                }
            };
            let status =
                state.as_ref().map_or(WorkflowExecutionStatus::Unspecified, chronicle_engine::MutableState::status);
            if status == WorkflowExecutionStatus::Running {
                info(rec).running_workflows.push(wf);
                continue;
            }
            closed_any = true;
            if let Some(a) = info(rec).recent_actions.iter_mut().rev().find(|a| {
                a.start_workflow_result.as_ref().is_some_and(|r| r.workflow_id == wf.workflow_id)
                    && a.start_workflow_status == WorkflowExecutionStatus::Running as i32
            }) {
                a.start_workflow_status = status as i32;
            }
            let pause_on_failure =
                rec.schedule.as_ref().and_then(|s| s.policies.as_ref()).is_some_and(|p| p.pause_on_failure);
            if pause_on_failure && matches!(status, WorkflowExecutionStatus::Failed | WorkflowExecutionStatus::TimedOut)
            {
                let notes = match status {
                    WorkflowExecutionStatus::Failed => {
                        let message = match &state {
                            Some(s) => self.failure_message(s).await,
                            None => String::new(),
                        };
                        format!("paused due to workflow failure: {}: {message}", wf.workflow_id)
                    }
                    _ => format!("paused due to workflow timeout: {}", wf.workflow_id),
                };
                let state = rec.schedule.get_or_insert_default().state.get_or_insert_default();
                if !state.paused {
                    state.paused = true;
                    state.notes = notes;
                }
            }
        }
        closed_any
    }

    /// The current run of `state`'s chain (continue-as-new, retries, cron)
    /// if `state` closed and the chain went on; `state` otherwise.
    async fn chain_end(&self, namespace: &str, state: MutableState) -> MutableState {
        if state.status() == WorkflowExecutionStatus::Running {
            return state;
        }
        let first = |s: &MutableState| s.started.as_ref().map(|a| a.first_execution_run_id.clone()).unwrap_or_default();
        match self.history.load(namespace, &state.workflow_id, "").await {
            Ok(current)
                if current.run_id != state.run_id && !first(&state).is_empty() && first(&current) == first(&state) =>
            {
                current
            }
            _ => state,
        }
    }

    /// A closed run's result (if it completed) or failure (if it failed),
    /// from its close event.
    async fn outcome(&self, state: &MutableState) -> (Option<Payloads>, Option<Failure>) {
        let events = self.history.read_history(&state.run_id, state.close_event_id, 1).await.unwrap_or_default();
        match events.into_iter().next().and_then(|e| e.attributes) {
            Some(Attributes::WorkflowExecutionCompletedEventAttributes(a)) => (a.result, None),
            Some(Attributes::WorkflowExecutionFailedEventAttributes(a)) => (None, a.failure),
            _ => (None, None),
        }
    }

    async fn failure_message(&self, state: &MutableState) -> String {
        self.outcome(state).await.1.map(|f| f.message).unwrap_or_default()
    }

    /// What Temporal passes to a scheduled run: the last completed run's
    /// result, and the failure of a run that failed since. Found from the
    /// recent actions (Temporal keeps them in the scheduler's state), so
    /// only the last ten actions are looked at.
    async fn previous_outcome(&self, rec: &ScheduleRecord) -> (Option<Payloads>, Option<Failure>) {
        let mut failure = None;
        let actions = rec.info.as_ref().map(|i| i.recent_actions.clone()).unwrap_or_default();
        for a in actions.iter().rev() {
            let completed = a.start_workflow_status == WorkflowExecutionStatus::Completed as i32;
            if !completed && a.start_workflow_status != WorkflowExecutionStatus::Failed as i32 {
                continue;
            }
            let Some(r) = &a.start_workflow_result else { continue };
            let Ok(state) = self.history.load(&rec.namespace, &r.workflow_id, &r.run_id).await else { continue };
            let state = self.chain_end(&rec.namespace, state).await;
            let (result, failed) = self.outcome(&state).await;
            if completed {
                return (result, failure);
            }
            failure = failure.or(failed);
        }
        (None, failure)
    }

    /// Refreshes the running workflows and, if that leaves room, takes
    /// buffered actions (describe and the loop call it).
    pub async fn refresh(&self, rec: &mut ScheduleRecord) {
        let closed = self.refresh_running(rec).await;
        let idle = rec.info.as_ref().is_none_or(|i| i.running_workflows.is_empty());
        if (closed || idle) && !read_buffer(rec).is_empty() {
            self.process_buffer(rec).await;
        }
    }

    /// Temporal's `canTakeScheduledAction`: manual actions always may; a
    /// scheduled one not while paused, nor beyond the remaining actions
    /// (which `decrement` counts down).
    fn can_take(rec: &mut ScheduleRecord, manual: bool, decrement: bool) -> bool {
        if manual {
            return true;
        }
        let Some(state) = rec.schedule.as_mut().and_then(|s| s.state.as_mut()) else { return true };
        if state.paused {
            return false;
        }
        if !state.limited_actions {
            return true;
        }
        if state.remaining_actions > 0 {
            if decrement {
                state.remaining_actions -= 1;
            }
            return true;
        }
        false
    }

    /// Takes one action at nominal time `at` (`overlap` overrides the
    /// schedule's policy for it): as Temporal, it joins the buffer (unless
    /// paused, out of actions, or the buffer is full), then the buffer is
    /// processed under the overlap policies.
    pub async fn act(&self, rec: &mut ScheduleRecord, at: i128, reason: Reason, overlap: Option<Overlap>) {
        let manual = reason == Reason::Manual;
        if !Self::can_take(rec, manual, false) {
            return;
        }
        let mut buffer = read_buffer(rec);
        if buffer.len() >= limits::SCHEDULE_BUFFERED_ACTIONS_MAX {
            info(rec).buffer_dropped += 1;
            return;
        }
        buffer.push(Buffered { at, overlap: overlap.unwrap_or(Overlap::Unspecified), manual });
        write_buffer(rec, &buffer);
        self.refresh_running(rec).await;
        self.process_buffer(rec).await;
    }

    /// Temporal's `processBuffer`: starts what the overlap policies allow
    /// now, keeps the rest buffered, and cancels or terminates the running
    /// workflows when a CANCEL_OTHER or TERMINATE_OTHER action waits for
    /// them (a termination closes them at once, so the waiting action
    /// starts in the same pass).
    async fn process_buffer(&self, rec: &mut ScheduleRecord) {
        for _ in 0..3 {
            let buffer = read_buffer(rec);
            if buffer.is_empty() {
                return;
            }
            let policy = rec
                .schedule
                .as_ref()
                .and_then(|s| s.policies.as_ref())
                .map(chronicle_engine::api::schedule::v1::SchedulePolicies::overlap_policy)
                .unwrap_or_default();
            let running = rec.info.as_ref().is_some_and(|i| !i.running_workflows.is_empty());
            let plan = plan(&buffer, running, policy);
            write_buffer(rec, &plan.new_buffer);
            info(rec).overlap_skipped += plan.overlap_skipped;
            for b in plan.overlapping.iter().chain(plan.non_overlapping.iter()) {
                if Self::can_take(rec, b.manual, true) {
                    self.start_workflow(rec, b.at).await;
                }
            }
            if !plan.need_terminate && !plan.need_cancel {
                return;
            }
            let running = rec.info.as_ref().map(|i| i.running_workflows.clone()).unwrap_or_default();
            for wf in running {
                let identity = "temporal-scheduler".to_string();
                let input = if plan.need_terminate {
                    Input::Terminate { reason: "terminated by schedule overlap policy".into(), details: None, identity }
                } else {
                    Input::RequestCancel {
                        reason: "cancelled by schedule overlap policy".into(),
                        identity,
                        external: None,
                    }
                };
                if let Err(e) = self.history.apply_anywhere(&rec.namespace, &wf.workflow_id, &wf.run_id, input).await {
                    tracing::debug!(schedule_id = %rec.schedule_id, workflow_id = %wf.workflow_id, error = %e, "schedule: overlap cancel/terminate");
                }
            }
            if !plan.need_terminate || !self.refresh_running(rec).await {
                return;
            }
        }
    }

    /// Starts the schedule's workflow for nominal time `at`.
    async fn start_workflow(&self, rec: &mut ScheduleRecord, at: i128) {
        let Some(schedule) = rec.schedule.clone() else { return };
        let policies = schedule.policies.unwrap_or_default();
        let Some(schedule_action::Action::StartWorkflow(wf)) = schedule.action.and_then(|a| a.action) else { return };
        let workflow_id = if policies.keep_original_workflow_id {
            wf.workflow_id.clone()
        } else {
            format!("{}-{}", wf.workflow_id, spec::id_suffix(at))
        };
        let (last_completion_result, failure) = self.previous_outcome(rec).await;
        let continued = (last_completion_result.is_some() || failure.is_some()).then(|| Continued {
            last_completion_result,
            failure,
            ..Default::default()
        });
        let mut search_attributes = wf.search_attributes.clone().unwrap_or_default();
        scheduled_by(&mut search_attributes, &rec.schedule_id, at);
        let args = StartArgs {
            signal: None,
            namespace_id: self.namespaces.get(&rec.namespace).map(|n| n.id).unwrap_or_default(),
            namespace: rec.namespace.clone(),
            workflow_id: workflow_id.clone(),
            run_id: crate::new_run_id(),
            workflow_type: wf.workflow_type.map(|t| t.name).unwrap_or_default(),
            task_queue: wf.task_queue.map(|q| q.name).unwrap_or_default(),
            input: wf.input,
            execution_timeout: wf.workflow_execution_timeout,
            run_timeout: wf.workflow_run_timeout,
            task_timeout: wf.workflow_task_timeout,
            identity: "temporal-scheduler".into(),
            request_id: format!("schedule:{}:{}:{at}", rec.namespace, rec.schedule_id),
            retry_policy: wf.retry_policy,
            memo: wf.memo,
            search_attributes: Some(search_attributes),
            header: wf.header,
            priority: wf.priority,
            cron_schedule: wf.cron_schedule,
            continued,
            parent: None,
            root_execution: None,
            update: None,
            user_metadata: wf.user_metadata,
            eager: false,
            activity: None,
            versioning_override: None,
        };
        let reuse = match WorkflowIdReusePolicy::try_from(wf.workflow_id_reuse_policy) {
            Ok(WorkflowIdReusePolicy::Unspecified) | Err(_) => WorkflowIdReusePolicy::AllowDuplicate,
            Ok(p) => p,
        };
        let policies = StartPolicies { reuse, conflict: WorkflowIdConflictPolicy::Fail };
        let started = match self.history.start_anywhere(args, policies).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(schedule_id = %rec.schedule_id, %workflow_id, error = %e, "schedule: start failed");
                return;
            }
        };
        crate::metrics::metrics().record_schedule_action();
        let execution = WorkflowExecution { workflow_id, run_id: started.run_id };
        let info = info(rec);
        info.action_count += 1;
        info.running_workflows.push(execution.clone());
        info.recent_actions.push(ScheduleActionResult {
            schedule_time: Some(spec::from_nanos(at)),
            actual_time: Some(self.history.now()),
            start_workflow_result: Some(execution),
            start_workflow_status: WorkflowExecutionStatus::Running as i32,
        });
        let excess = info.recent_actions.len().saturating_sub(limits::SCHEDULE_RECENT_ACTIONS_MAX);
        info.recent_actions.drain(..excess);
    }
}

/// An action waiting to be taken (Temporal's BufferedStart): its nominal
/// time, its overlap policy (Unspecified: the schedule's, resolved when
/// the buffer is processed), and whether it was asked for (trigger,
/// backfill), which runs while paused.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Buffered {
    pub at: i128,
    pub overlap: Overlap,
    pub manual: bool,
}

fn read_buffer(rec: &ScheduleRecord) -> Vec<Buffered> {
    rec.buffered_actions
        .iter()
        .map(|b| Buffered {
            at: b.nominal_time.as_ref().map(spec::to_nanos).unwrap_or_default(),
            overlap: Overlap::try_from(b.overlap_policy).unwrap_or(Overlap::Unspecified),
            manual: b.manual,
        })
        .collect()
}

fn write_buffer(rec: &mut ScheduleRecord, buffer: &[Buffered]) {
    rec.buffered_actions = buffer
        .iter()
        .map(|b| chronicle_store::BufferedAction {
            nominal_time: Some(spec::from_nanos(b.at)),
            overlap_policy: b.overlap as i32,
            manual: b.manual,
        })
        .collect();
    info(rec).buffer_size = buffer.len() as i64;
}

/// What to do with the buffer (Temporal's ProcessBufferResult).
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// ALLOW_ALL actions: all start now.
    pub overlapping: Vec<Buffered>,
    /// The one other action that starts now, if nothing runs.
    pub non_overlapping: Option<Buffered>,
    pub new_buffer: Vec<Buffered>,
    pub need_cancel: bool,
    pub need_terminate: bool,
    pub overlap_skipped: i64,
}

/// Temporal's ProcessBuffer: which buffered actions start now, which stay
/// buffered, which are skipped, given whether a workflow of the schedule
/// is running and the schedule's overlap policy.
pub fn plan(buffer: &[Buffered], running: bool, policy: Overlap) -> Plan {
    let mut p = Plan::default();
    for b in buffer {
        let overlap = match b.overlap {
            Overlap::Unspecified => policy,
            o => o,
        };
        let overlap = if overlap == Overlap::Unspecified { Overlap::Skip } else { overlap };
        if overlap == Overlap::AllowAll {
            p.overlapping.push(*b);
            continue;
        }
        if !running && p.non_overlapping.is_none() {
            p.non_overlapping = Some(*b);
            continue;
        }
        match overlap {
            Overlap::BufferOne if p.new_buffer.is_empty() => p.new_buffer.push(*b),
            Overlap::BufferAll => p.new_buffer.push(*b),
            Overlap::CancelOther | Overlap::TerminateOther if running => {
                if overlap == Overlap::CancelOther {
                    p.need_cancel = true;
                } else {
                    p.need_terminate = true;
                }
                p.new_buffer.push(*b);
            }
            // Not running yet: it replaces the one about to start.
            Overlap::CancelOther | Overlap::TerminateOther => p.non_overlapping = Some(*b),
            _ => p.overlap_skipped += 1,
        }
    }
    if p.need_cancel || p.need_terminate {
        p.overlapping.clear();
    }
    p
}

pub fn info(rec: &mut ScheduleRecord) -> &mut ScheduleInfo {
    rec.info.get_or_insert_default()
}

/// The search attributes Temporal sets on a scheduled workflow.
fn scheduled_by(sa: &mut SearchAttributes, schedule_id: &str, at: i128) {
    let json = |value: String, ty: &str| Payload {
        metadata: [("encoding".to_string(), b"json/plain".to_vec()), ("type".to_string(), ty.as_bytes().to_vec())]
            .into(),
        data: value.into_bytes(),
        ..Default::default()
    };
    sa.indexed_fields.insert("TemporalScheduledById".into(), json(format!("{schedule_id:?}"), "Keyword"));
    sa.indexed_fields
        .insert("TemporalScheduledStartTime".into(), json(format!("{:?}", spec::id_suffix(at)), "Datetime"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(at: i128, overlap: Overlap) -> Buffered {
        Buffered { at, overlap, manual: false }
    }

    #[test]
    fn idle_starts_the_first_and_applies_the_policy_to_the_rest() {
        let buffer = [b(1, Overlap::Unspecified), b(2, Overlap::Unspecified), b(3, Overlap::Unspecified)];
        let p = plan(&buffer, false, Overlap::BufferOne);
        assert_eq!(p.non_overlapping, Some(buffer[0]));
        assert_eq!(p.new_buffer, vec![buffer[1]]);
        assert_eq!(p.overlap_skipped, 1);
        let p = plan(&buffer, false, Overlap::Skip);
        assert_eq!((p.non_overlapping, p.new_buffer.len(), p.overlap_skipped), (Some(buffer[0]), 0, 2));
        let p = plan(&buffer, false, Overlap::BufferAll);
        assert_eq!(p.new_buffer, vec![buffer[1], buffer[2]]);
    }

    #[test]
    fn running_buffers_or_skips() {
        let buffer = [b(1, Overlap::Unspecified), b(2, Overlap::Unspecified)];
        let p = plan(&buffer, true, Overlap::BufferOne);
        assert_eq!((p.non_overlapping, p.new_buffer.clone(), p.overlap_skipped), (None, vec![buffer[0]], 1));
        let p = plan(&buffer, true, Overlap::BufferAll);
        assert_eq!(p.new_buffer, buffer.to_vec());
        let p = plan(&buffer, true, Overlap::Unspecified);
        assert_eq!((p.new_buffer.len(), p.overlap_skipped), (0, 2));
    }

    #[test]
    fn cancel_and_terminate_other() {
        let buffer = [b(1, Overlap::Unspecified)];
        let p = plan(&buffer, true, Overlap::TerminateOther);
        assert!(p.need_terminate && !p.need_cancel && p.non_overlapping.is_none());
        assert_eq!(p.new_buffer, buffer.to_vec());
        let p = plan(&buffer, true, Overlap::CancelOther);
        assert!(p.need_cancel && !p.need_terminate);
        // Nothing running: the later one replaces the one about to start.
        let p = plan(&[b(1, Overlap::Unspecified), b(2, Overlap::Unspecified)], false, Overlap::CancelOther);
        assert_eq!(
            (p.non_overlapping, p.new_buffer.len(), p.need_cancel),
            (Some(b(2, Overlap::Unspecified)), 0, false)
        );
    }

    #[test]
    fn allow_all_and_overrides() {
        // A per-action policy (trigger, backfill) wins over the schedule's.
        let buffer = [b(1, Overlap::AllowAll), b(2, Overlap::AllowAll), b(3, Overlap::BufferOne)];
        let p = plan(&buffer, true, Overlap::Skip);
        assert_eq!(p.overlapping, vec![buffer[0], buffer[1]]);
        assert_eq!(p.new_buffer, vec![buffer[2]]);
        // A pending termination starts no overlapping ones.
        let p = plan(&[b(1, Overlap::AllowAll), b(2, Overlap::TerminateOther)], true, Overlap::Skip);
        assert!(p.overlapping.is_empty() && p.need_terminate);
    }

    #[test]
    fn buffer_round_trips_through_the_record() {
        let mut rec = ScheduleRecord::default();
        let buffer = [
            Buffered { at: 1_700_000_000_123_456_789, overlap: Overlap::TerminateOther, manual: true },
            b(5, Overlap::Unspecified),
        ];
        write_buffer(&mut rec, &buffer);
        assert_eq!(read_buffer(&rec), buffer.to_vec());
        assert_eq!(rec.info.unwrap().buffer_size, 2);
    }
}
