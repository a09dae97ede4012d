//! Schedules, run natively (Temporal runs each as a system workflow): the
//! records live in the store, and one task per server wakes at the next
//! action time of any schedule and starts its workflows through
//! `History::start`. Every change to a schedule, by that task or by an
//! RPC, happens under one lock, so they never interleave.
//!
//! A start's workflow id and request id are derived from the schedule and
//! the action time, so a crash between the start and recording it repeats
//! the start harmlessly (the request id dedupes it).

pub mod spec;

use crate::history::{History, HistoryError, StartPolicies};
use crate::namespaces::Namespaces;
use chronicle_engine::api::common::v1::{Payload, SearchAttributes, WorkflowExecution};
use chronicle_engine::api::enums::v1::{
    ScheduleOverlapPolicy as Overlap, WorkflowExecutionStatus, WorkflowIdConflictPolicy, WorkflowIdReusePolicy,
};
use chronicle_engine::api::schedule::v1::{ScheduleActionResult, ScheduleInfo, schedule_action};
use chronicle_engine::{StartArgs, time};
use chronicle_store::{ScheduleRecord, Store, StoreError};
use spec::Spec;
use std::sync::{Arc, Weak};
use tokio::sync::{Mutex, MutexGuard, Notify};

/// Temporal's default catch-up window (one year).
const DEFAULT_CATCHUP_SECS: i64 = 365 * 24 * 3600;
/// Recent actions kept per schedule, as Temporal.
const RECENT_ACTIONS: usize = 10;
/// Due times handled per schedule per pass (the rest wait for the next).
const MAX_PER_PASS: usize = 1000;
/// The loop looks again at least this often (clock changes, missed wakes).
const MAX_SLEEP: std::time::Duration = std::time::Duration::from_secs(30);

pub fn now_nanos() -> i128 {
    time::ts_nanos(&time::from_system(std::time::SystemTime::now()))
}

pub struct Scheduler {
    pub(crate) store: Arc<dyn Store>,
    history: Arc<History>,
    namespaces: Arc<Namespaces>,
    lock: Mutex<()>,
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
        let me = Arc::new(Scheduler { store, history, namespaces, lock: Mutex::new(()), wake: Arc::default() });
        tokio::spawn(Self::run(Arc::downgrade(&me)));
        me
    }

    /// Held by every change to any schedule.
    pub async fn lock(&self) -> MutexGuard<'_, ()> {
        self.lock.lock().await
    }

    /// Makes the loop re-read schedules now (after a create or an edit).
    pub fn poke(&self) {
        self.wake.notify_one();
    }

    async fn run(me: Weak<Scheduler>) {
        loop {
            let Some(scheduler) = me.upgrade() else { return };
            let next = match scheduler.pass().await {
                Ok(next) => next,
                Err(e) => {
                    tracing::warn!(error = %e, "schedules: pass failed; retrying in 1s");
                    Some(now_nanos() + 1_000_000_000)
                }
            };
            let sleep = next
                .map(|n| std::time::Duration::from_nanos((n - now_nanos()).clamp(0, u64::MAX as i128) as u64))
                .unwrap_or(MAX_SLEEP)
                .min(MAX_SLEEP);
            let wake = scheduler.wake.clone();
            drop(scheduler);
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = wake.notified() => {}
            }
        }
    }

    /// Takes every due action; returns the earliest next action time.
    async fn pass(&self) -> Result<Option<i128>, StoreError> {
        let _held = self.lock().await;
        let now = now_nanos();
        let mut earliest: Option<i128> = None;
        for mut rec in self.store.list_schedules(None).await? {
            let before = rec.clone();
            let spec = Spec::new(rec.schedule.as_ref().and_then(|s| s.spec.as_ref()).unwrap_or(&Default::default()));
            self.catch_up(&mut rec, &spec, now).await;
            if rec != before {
                self.save(&mut rec).await?;
            }
            let from = rec.processed_until.as_ref().map(spec::to_nanos).unwrap_or(now);
            if let Some(next) = spec.next_after(from) {
                earliest = Some(earliest.map_or(next, |e| e.min(next)));
            }
        }
        Ok(earliest)
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
            .unwrap_or(DEFAULT_CATCHUP_SECS as i128 * 1_000_000_000);
        for t in spec.times(from, Some(now), MAX_PER_PASS) {
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

    /// Drops running workflows that have closed, recording their final
    /// status on the recent actions that started them.
    pub async fn refresh_running(&self, rec: &mut ScheduleRecord) {
        let running = std::mem::take(&mut info(rec).running_workflows);
        for wf in running {
            let status = match self.history.load(&rec.namespace, &wf.workflow_id, &wf.run_id).await {
                Ok(s) => s.status(),
                Err(HistoryError::NotFound(_)) => WorkflowExecutionStatus::Unspecified,
                Err(_) => WorkflowExecutionStatus::Running, // look again later
            };
            if status == WorkflowExecutionStatus::Running {
                info(rec).running_workflows.push(wf);
                continue;
            }
            for a in &mut info(rec).recent_actions {
                if a.start_workflow_result.as_ref().is_some_and(|r| r.run_id == wf.run_id) {
                    a.start_workflow_status = status as i32;
                }
            }
        }
    }

    /// Takes one action at nominal time `at`, honouring pause, the
    /// remaining-actions limit and the overlap policy (`overlap` overrides
    /// the schedule's). SKIP is the default; BUFFER_*, CANCEL_OTHER and
    /// TERMINATE_OTHER are treated as SKIP; ALLOW_ALL always starts.
    pub async fn act(&self, rec: &mut ScheduleRecord, at: i128, reason: Reason, overlap: Option<Overlap>) {
        let Some(schedule) = rec.schedule.clone() else { return };
        let state = schedule.state.clone().unwrap_or_default();
        if reason == Reason::Scheduled && state.paused {
            return;
        }
        if state.limited_actions && state.remaining_actions <= 0 {
            return;
        }
        let policies = schedule.policies.unwrap_or_default();
        let overlap = overlap.filter(|o| *o != Overlap::Unspecified).unwrap_or(policies.overlap_policy());
        self.refresh_running(rec).await;
        if overlap != Overlap::AllowAll && !info(rec).running_workflows.is_empty() {
            info(rec).overlap_skipped += 1;
            return;
        }
        let Some(schedule_action::Action::StartWorkflow(wf)) = schedule.action.and_then(|a| a.action) else { return };
        let workflow_id = if policies.keep_original_workflow_id {
            wf.workflow_id.clone()
        } else {
            format!("{}-{}", wf.workflow_id, spec::id_suffix(at))
        };
        let mut search_attributes = wf.search_attributes.clone().unwrap_or_default();
        scheduled_by(&mut search_attributes, &rec.schedule_id, at);
        let args = StartArgs {
            signal: None,
            namespace_id: self.namespaces.get(&rec.namespace).map(|n| n.id).unwrap_or_default(),
            namespace: rec.namespace.clone(),
            workflow_id: workflow_id.clone(),
            run_id: uuid::Uuid::new_v4().to_string(),
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
            continued: None,
            parent: None,
            root_execution: None,
            update: None,
        };
        let reuse = match WorkflowIdReusePolicy::try_from(wf.workflow_id_reuse_policy) {
            Ok(WorkflowIdReusePolicy::Unspecified) | Err(_) => WorkflowIdReusePolicy::AllowDuplicate,
            Ok(p) => p,
        };
        let policies = StartPolicies { reuse, conflict: WorkflowIdConflictPolicy::Fail };
        let started = match self.history.start(args, policies).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(schedule_id = %rec.schedule_id, %workflow_id, error = %e, "schedule: start failed");
                return;
            }
        };
        let execution = WorkflowExecution { workflow_id, run_id: started.run_id };
        if let Some(state) = rec.schedule.as_mut().and_then(|s| s.state.as_mut())
            && state.limited_actions
        {
            state.remaining_actions -= 1;
        }
        let info = info(rec);
        info.action_count += 1;
        info.running_workflows.push(execution.clone());
        info.recent_actions.push(ScheduleActionResult {
            schedule_time: Some(spec::from_nanos(at)),
            actual_time: Some(time::from_system(std::time::SystemTime::now())),
            start_workflow_result: Some(execution),
            start_workflow_status: WorkflowExecutionStatus::Running as i32,
        });
        let excess = info.recent_actions.len().saturating_sub(RECENT_ACTIONS);
        info.recent_actions.drain(..excess);
    }
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
