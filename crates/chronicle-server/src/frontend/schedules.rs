//! Schedule RPCs: Create/Describe/Update/Patch/Delete/List and
//! ListScheduleMatchingTimes, over the native scheduler (`crate::schedules`).
//! Validation and messages follow Temporal's frontend.

use super::Frontend;
use crate::errors;
use crate::schedules::{Reason, info, spec};
use chronicle_engine::api::enums::v1::{ScheduleOverlapPolicy as Overlap, TaskQueueKind};
use chronicle_engine::api::schedule::v1::{
    Schedule, ScheduleListEntry, ScheduleListInfo, SchedulePatch, ScheduleState, schedule_action,
};
use chronicle_engine::api::workflowservice::v1::*;
use chronicle_engine::limits;
use chronicle_engine::time;
use chronicle_store::{ScheduleRecord, StoreError};
use tonic::Status;

fn token(rec: &ScheduleRecord) -> Vec<u8> {
    rec.conflict_token.to_be_bytes().to_vec()
}

/// Temporal names the scheduler workflow in its not-found message.
fn not_found(schedule_id: &str) -> Status {
    errors::not_found(format!("workflow not found for ID: temporal-sys-scheduler:{schedule_id}"))
}

fn store_err(e: StoreError) -> Status {
    errors::from_store(e)
}

/// Checks a schedule and returns it with its spec in canonical form and
/// Temporal's default policies filled in.
fn check_schedule(schedule: Option<Schedule>) -> Result<Schedule, Status> {
    let mut s = schedule.ok_or_else(|| errors::invalid("Schedule is not set on request."))?;
    let Some(schedule_action::Action::StartWorkflow(wf)) = s.action.as_ref().and_then(|a| a.action.as_ref()) else {
        return Err(errors::invalid("Schedule action is not set on request."));
    };
    if wf.workflow_id.is_empty() {
        return Err(errors::invalid("WorkflowId is not set on request."));
    }
    if wf.workflow_id.len() > limits::ID_BYTES_MAX {
        return Err(errors::invalid("WorkflowId length exceeds limit."));
    }
    if wf.workflow_type.as_ref().is_none_or(|t| t.name.is_empty()) {
        return Err(errors::invalid("WorkflowType is not set on request."));
    }
    if wf.task_queue.as_ref().is_none_or(|q| q.name.is_empty()) {
        return Err(errors::invalid("TaskQueue is not set on request."));
    }
    // Temporal describes the action's task queue as a normal one.
    if let Some(schedule_action::Action::StartWorkflow(wf)) = s.action.as_mut().and_then(|a| a.action.as_mut())
        && let Some(queue) = wf.task_queue.as_mut()
        && queue.kind == TaskQueueKind::Unspecified as i32
    {
        queue.kind = TaskQueueKind::Normal as i32;
    }
    s.spec = Some(spec::canonicalize(&s.spec.unwrap_or_default()).map_err(errors::invalid)?);
    let policies = s.policies.get_or_insert_default();
    if policies.overlap_policy == Overlap::Unspecified as i32 {
        policies.overlap_policy = Overlap::Skip as i32;
    }
    if policies.catchup_window.as_ref().is_none_or(|w| time::dur_nanos(w) <= 0) {
        policies.catchup_window = Some(time::dur_secs(limits::SCHEDULE_CATCHUP_WINDOW_SECS_DEFAULT));
    }
    s.state.get_or_insert_default();
    Ok(s)
}

fn spec_of(rec: &ScheduleRecord) -> spec::Spec {
    spec::Spec::new(rec.schedule.as_ref().and_then(|s| s.spec.as_ref()).unwrap_or(&Default::default()))
}

/// The next `n` action times from now (fewer if the actions are limited).
fn future_times(rec: &ScheduleRecord, n: usize, now: i128) -> Vec<prost_types::Timestamp> {
    let state = rec.schedule.as_ref().and_then(|s| s.state.clone()).unwrap_or_default();
    let n = if state.limited_actions { n.min(state.remaining_actions.max(0) as usize) } else { n };
    let from = rec.processed_until.as_ref().map(spec::to_nanos).unwrap_or(i128::MIN).max(now);
    spec_of(rec).times(from, None, n).into_iter().map(spec::from_nanos).collect()
}

impl Frontend {
    fn check_schedule_id(&self, namespace: &str, schedule_id: &str) -> Result<(), Status> {
        self.check_namespace(namespace)?;
        if schedule_id.is_empty() {
            return Err(errors::invalid("ScheduleId is not set on request."));
        }
        if schedule_id.len() > limits::ID_BYTES_MAX {
            return Err(errors::invalid("ScheduleId length exceeds limit."));
        }
        Ok(())
    }

    async fn load_schedule(&self, namespace: &str, schedule_id: &str) -> Result<ScheduleRecord, Status> {
        self.schedules.load(namespace, schedule_id).await.map_err(store_err)?.ok_or_else(|| not_found(schedule_id))
    }

    pub(super) async fn create_schedule(&self, r: CreateScheduleRequest) -> Result<CreateScheduleResponse, Status> {
        self.check_schedule_id(&r.namespace, &r.schedule_id)?;
        let schedule = check_schedule(r.schedule)?;
        let now = self.schedules.now_nanos();
        let mut rec = ScheduleRecord {
            namespace: r.namespace.clone(),
            schedule_id: r.schedule_id.clone(),
            schedule: Some(schedule),
            memo: r.memo,
            search_attributes: r.search_attributes,
            conflict_token: 1,
            processed_until: Some(spec::from_nanos(now)),
            version: 1,
            create_request_id: r.request_id.clone(),
            ..Default::default()
        };
        info(&mut rec).create_time = Some(spec::from_nanos(now));
        let _held = self.schedules.lock(&r.namespace, &r.schedule_id).await;
        if let Some(existing) = self.schedules.load(&r.namespace, &r.schedule_id).await.map_err(store_err)? {
            // A retried create (same request id) succeeds again.
            if !r.request_id.is_empty() && existing.create_request_id == r.request_id {
                return Ok(CreateScheduleResponse { conflict_token: token(&existing) });
            }
            return Err(errors::already_started(
                "schedule with this ID is already registered".into(),
                &existing.create_request_id,
                "",
            ));
        }
        if let Some(patch) = r.initial_patch {
            self.apply_patch(&mut rec, patch).await?;
        }
        self.schedules.create(rec.clone()).await.map_err(store_err)?;
        self.schedules.poke();
        Ok(CreateScheduleResponse { conflict_token: token(&rec) })
    }

    pub(super) async fn describe_schedule(
        &self,
        r: DescribeScheduleRequest,
    ) -> Result<DescribeScheduleResponse, Status> {
        self.check_schedule_id(&r.namespace, &r.schedule_id)?;
        let _held = self.schedules.lock(&r.namespace, &r.schedule_id).await;
        let mut rec = self.load_schedule(&r.namespace, &r.schedule_id).await?;
        let before = rec.clone();
        self.schedules.refresh(&mut rec).await;
        if rec != before {
            self.schedules.save(&mut rec).await.map_err(store_err)?;
        }
        let mut info = rec.info.clone().unwrap_or_default();
        info.future_action_times =
            future_times(&rec, limits::SCHEDULE_FUTURE_TIMES_DESCRIBE, self.schedules.now_nanos());
        Ok(DescribeScheduleResponse {
            conflict_token: token(&rec),
            schedule: rec.schedule,
            info: Some(info),
            memo: rec.memo,
            search_attributes: rec.search_attributes,
        })
    }

    pub(super) async fn update_schedule(&self, r: UpdateScheduleRequest) -> Result<UpdateScheduleResponse, Status> {
        self.check_schedule_id(&r.namespace, &r.schedule_id)?;
        let schedule = check_schedule(r.schedule)?;
        let _held = self.schedules.lock(&r.namespace, &r.schedule_id).await;
        let mut rec = self.load_schedule(&r.namespace, &r.schedule_id).await?;
        if !r.conflict_token.is_empty() && r.conflict_token != token(&rec) {
            return Err(Status::failed_precondition(
                "The schedule was changed since the conflict token was read: describe it again and retry.",
            ));
        }
        rec.schedule = Some(schedule);
        if r.search_attributes.is_some() {
            rec.search_attributes = r.search_attributes;
        }
        if r.memo.is_some() {
            rec.memo = r.memo;
        }
        rec.conflict_token += 1;
        let now = self.schedules.now_nanos();
        info(&mut rec).update_time = Some(spec::from_nanos(now));
        // The new spec applies from now on: no catch-up under it.
        let processed = rec.processed_until.as_ref().map(spec::to_nanos).unwrap_or(now).max(now);
        rec.processed_until = Some(spec::from_nanos(processed));
        self.schedules.save(&mut rec).await.map_err(store_err)?;
        self.schedules.poke();
        Ok(UpdateScheduleResponse::default())
    }

    pub(super) async fn patch_schedule(&self, r: PatchScheduleRequest) -> Result<PatchScheduleResponse, Status> {
        self.check_schedule_id(&r.namespace, &r.schedule_id)?;
        let patch = r.patch.ok_or_else(|| errors::invalid("Patch is not set on request."))?;
        let _held = self.schedules.lock(&r.namespace, &r.schedule_id).await;
        let mut rec = self.load_schedule(&r.namespace, &r.schedule_id).await?;
        self.apply_patch(&mut rec, patch).await?;
        self.schedules.save(&mut rec).await.map_err(store_err)?;
        self.schedules.poke();
        Ok(PatchScheduleResponse::default())
    }

    /// Pause/unpause (with notes), trigger now, backfill: the caller holds
    /// the scheduler lock and saves the record.
    async fn apply_patch(&self, rec: &mut ScheduleRecord, patch: SchedulePatch) -> Result<(), Status> {
        let now = self.schedules.now_nanos();
        let set_state = |rec: &mut ScheduleRecord, paused: bool, notes: String| {
            let state: &mut ScheduleState = rec.schedule.get_or_insert_default().state.get_or_insert_default();
            state.paused = paused;
            state.notes = notes;
        };
        if !patch.pause.is_empty() {
            set_state(rec, true, patch.pause);
        }
        if !patch.unpause.is_empty() {
            set_state(rec, false, patch.unpause);
        }
        if let Some(trigger) = patch.trigger_immediately {
            let at = trigger.scheduled_time.as_ref().map(spec::to_nanos).unwrap_or(now);
            self.schedules.act(rec, at, Reason::Manual, Some(trigger.overlap_policy())).await;
        }
        for backfill in patch.backfill_request {
            let (Some(start), Some(end)) = (&backfill.start_time, &backfill.end_time) else {
                return Err(errors::invalid("Backfill request needs a start time and an end time."));
            };
            let times = spec_of(rec).times(
                spec::to_nanos(start) - 1,
                Some(spec::to_nanos(end)),
                limits::SCHEDULE_MATCHING_TIMES_MAX,
            );
            for t in times {
                self.schedules.act(rec, t, Reason::Manual, Some(backfill.overlap_policy())).await;
            }
        }
        Ok(())
    }

    pub(super) async fn delete_schedule(&self, r: DeleteScheduleRequest) -> Result<DeleteScheduleResponse, Status> {
        self.check_schedule_id(&r.namespace, &r.schedule_id)?;
        let _held = self.schedules.lock(&r.namespace, &r.schedule_id).await;
        match self.schedules.delete(&r.namespace, &r.schedule_id).await {
            Ok(()) => Ok(DeleteScheduleResponse::default()),
            Err(StoreError::NotFound(_)) => Err(not_found(&r.schedule_id)),
            Err(e) => Err(store_err(e)),
        }
    }

    /// Pages by schedule id; the page token is the last id returned.
    /// Visibility queries over schedules are not supported yet.
    pub(super) async fn list_schedules(&self, r: ListSchedulesRequest) -> Result<ListSchedulesResponse, Status> {
        self.check_namespace(&r.namespace)?;
        if !r.query.trim().is_empty() {
            return Err(errors::invalid("Chronicle does not filter schedules by query yet: list them all."));
        }
        let size = if r.maximum_page_size <= 0 { limits::SCHEDULE_PAGE_DEFAULT } else { r.maximum_page_size as usize };
        let after = String::from_utf8(r.next_page_token).map_err(|_| errors::invalid("Invalid NextPageToken."))?;
        let all = self.schedules.list(&r.namespace).await.map_err(store_err)?;
        let mut rest = all.into_iter().filter(|s| after.is_empty() || s.schedule_id > after).peekable();
        let mut schedules = Vec::new();
        while schedules.len() < size
            && let Some(rec) = rest.next()
        {
            let schedule = rec.schedule.clone().unwrap_or_default();
            let state = schedule.state.clone().unwrap_or_default();
            let workflow_type = match schedule.action.and_then(|a| a.action) {
                Some(schedule_action::Action::StartWorkflow(wf)) => wf.workflow_type,
                None => None,
            };
            let mut recent = rec.info.as_ref().map(|i| i.recent_actions.clone()).unwrap_or_default();
            recent.drain(..recent.len().saturating_sub(limits::SCHEDULE_FUTURE_TIMES_LIST));
            schedules.push(ScheduleListEntry {
                schedule_id: rec.schedule_id.clone(),
                memo: rec.memo.clone(),
                search_attributes: rec.search_attributes.clone(),
                info: Some(ScheduleListInfo {
                    spec: schedule.spec,
                    workflow_type,
                    notes: state.notes,
                    paused: state.paused,
                    recent_actions: recent,
                    future_action_times: future_times(
                        &rec,
                        limits::SCHEDULE_FUTURE_TIMES_LIST,
                        self.schedules.now_nanos(),
                    ),
                    state_size_bytes: 0,
                }),
            });
        }
        let next_page_token = match (rest.peek(), schedules.last()) {
            (Some(_), Some(last)) => last.schedule_id.clone().into_bytes(),
            _ => vec![],
        };
        Ok(ListSchedulesResponse { schedules, next_page_token })
    }

    pub(super) async fn list_schedule_matching_times(
        &self,
        r: ListScheduleMatchingTimesRequest,
    ) -> Result<ListScheduleMatchingTimesResponse, Status> {
        self.check_schedule_id(&r.namespace, &r.schedule_id)?;
        let (Some(start), Some(end)) = (&r.start_time, &r.end_time) else {
            return Err(errors::invalid("StartTime and EndTime are required."));
        };
        let rec = self.load_schedule(&r.namespace, &r.schedule_id).await?;
        let times = spec_of(&rec).times(
            spec::to_nanos(start) - 1,
            Some(spec::to_nanos(end)),
            limits::SCHEDULE_MATCHING_TIMES_MAX,
        );
        Ok(ListScheduleMatchingTimesResponse { start_time: times.into_iter().map(spec::from_nanos).collect() })
    }
}
