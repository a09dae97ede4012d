//! Start, describe, terminate, and read histories (with long polls).

use super::{Frontend, map_err};
use crate::errors;
use crate::history::{HistoryError, StartPolicies};
use crate::tokens::HistoryPageToken;
use chronicle_engine::limits;
use chronicle_engine::{
    EngineError, Input, MutableState, SignalArgs, StartArgs,
    api::{
        common::v1::{Payloads, WorkflowExecution},
        enums::v1::{
            HistoryEventFilterType, PendingActivityState, PendingWorkflowTaskState, WorkflowIdConflictPolicy,
            WorkflowIdReusePolicy,
        },
        history::v1::History as HistoryProto,
        workflow::v1::{
            PendingActivityInfo, PendingChildExecutionInfo, PendingWorkflowTaskInfo, WorkflowExecutionConfig,
            WorkflowExecutionExtendedInfo,
        },
        workflowservice::v1::*,
    },
    time,
};
use prost::Message;
use tokio::time::Instant;
use tonic::Status;

pub(crate) fn check_payloads(what: &str, p: &Option<Payloads>) -> Result<(), Status> {
    if let Some(p) = p
        && p.encoded_len() > limits::PAYLOAD_BYTES_MAX
    {
        return Err(errors::invalid(format!(
            "{what} size {} bytes exceeds the limit of {} bytes.",
            p.encoded_len(),
            limits::PAYLOAD_BYTES_MAX
        )));
    }
    Ok(())
}

/// Task queue names are ids: at most `limit.maxIDLength` bytes, with
/// Temporal's message.
pub(super) fn check_task_queue_length(name: &str) -> Result<(), Status> {
    if name.len() > limits::ID_BYTES_MAX {
        return Err(errors::invalid("taskQueue length exceeds limit"));
    }
    Ok(())
}

/// Clients pin cancel/terminate to a chain with `first_execution_run_id`.
pub(super) fn check_first_run(s: &MutableState, first_execution_run_id: &str) -> Result<(), Status> {
    let first = s.started.as_ref().map(|a| a.first_execution_run_id.as_str()).unwrap_or_default();
    if !first_execution_run_id.is_empty() && first != first_execution_run_id {
        return Err(errors::not_found("workflow execution not found for the given first execution run ID"));
    }
    Ok(())
}

fn check_signal_name(name: &str) -> Result<(), Status> {
    if name.is_empty() {
        return Err(errors::invalid("SignalName is not set on request."));
    }
    if name.len() > limits::ID_BYTES_MAX {
        return Err(errors::invalid("SignalName length exceeds limit."));
    }
    Ok(())
}

/// Temporal's "An invalid WorkflowRunTimeoutSeconds is set on request.
/// cause: negative duration", for any duration out of protobuf's range.
fn check_duration(what: &str, d: &Option<prost_types::Duration>) -> Result<(), Status> {
    match d.as_ref().and_then(time::dur_invalid) {
        Some(cause) => Err(errors::invalid(format!("An invalid {what}Seconds is set on request. cause: {cause}"))),
        None => Ok(()),
    }
}

impl Frontend {
    /// A history read's page size: the caller's, at most Temporal's cap,
    /// or the configured default.
    fn history_page_size(&self, maximum_page_size: i32) -> usize {
        match usize::try_from(maximum_page_size) {
            Ok(n) if n > 0 => n.min(limits::HISTORY_PAGE_EVENTS_MAX),
            _ => self.history.limits().history_page_events_default,
        }
    }
}

impl Frontend {
    pub(super) async fn start_workflow(
        &self,
        r: StartWorkflowExecutionRequest,
    ) -> Result<StartWorkflowExecutionResponse, Status> {
        let asked_eager = r.request_eager_execution;
        let (args, policies) = self.start_args(r)?;
        let started = self.history.start(args, policies).await.map_err(map_err)?;
        // The run is started whatever happens here: a task that cannot be
        // handed out times out and is retried through its queue.
        let eager_workflow_task = match started.eager {
            Some(task) => match self.eager_workflow_task(task).await {
                Ok(task) => Some(task),
                Err(e) => {
                    tracing::warn!(error = %e, run_id = %started.run_id, "could not hand out the eager workflow task");
                    None
                }
            },
            None => None,
        };
        if asked_eager {
            crate::metrics::metrics().record_eager_start(eager_workflow_task.is_some());
        }
        Ok(StartWorkflowExecutionResponse {
            run_id: started.run_id,
            started: started.started,
            status: chronicle_engine::api::enums::v1::WorkflowExecutionStatus::Running as i32,
            eager_workflow_task,
            ..Default::default()
        })
    }

    /// Starts the workflow if it is not running, and signals it either way.
    pub(super) async fn signal_with_start(
        &self,
        r: SignalWithStartWorkflowExecutionRequest,
    ) -> Result<SignalWithStartWorkflowExecutionResponse, Status> {
        check_signal_name(&r.signal_name)?;
        check_payloads("Signal input", &r.signal_input)?;
        if r.workflow_id_conflict_policy == WorkflowIdConflictPolicy::Fail as i32 {
            return Err(errors::invalid(
                "SignalWithStartWorkflowExecution does not support WorkflowIdConflictPolicy FAIL: use USE_EXISTING or TERMINATE_EXISTING.",
            ));
        }
        let signal = SignalArgs {
            signal_name: r.signal_name,
            input: r.signal_input,
            identity: r.identity.clone(),
            header: r.header.clone(),
            request_id: r.request_id.clone(),
            external_workflow_execution: None,
        };
        let start = StartWorkflowExecutionRequest {
            namespace: r.namespace,
            workflow_id: r.workflow_id,
            workflow_type: r.workflow_type,
            task_queue: r.task_queue,
            input: r.input,
            workflow_execution_timeout: r.workflow_execution_timeout,
            workflow_run_timeout: r.workflow_run_timeout,
            workflow_task_timeout: r.workflow_task_timeout,
            identity: r.identity,
            request_id: r.request_id,
            workflow_id_reuse_policy: r.workflow_id_reuse_policy,
            workflow_id_conflict_policy: r.workflow_id_conflict_policy,
            retry_policy: r.retry_policy,
            cron_schedule: r.cron_schedule,
            memo: r.memo,
            search_attributes: r.search_attributes,
            header: r.header,
            workflow_start_delay: r.workflow_start_delay,
            user_metadata: r.user_metadata,
            priority: r.priority,
            ..Default::default()
        };
        let (mut args, mut policies) = self.start_args(start)?;
        args.signal = Some(signal);
        if policies.conflict == WorkflowIdConflictPolicy::Unspecified {
            policies.conflict = WorkflowIdConflictPolicy::UseExisting;
        }
        let started = self.history.start(args, policies).await.map_err(map_err)?;
        Ok(SignalWithStartWorkflowExecutionResponse {
            run_id: started.run_id,
            started: started.started,
            ..Default::default()
        })
    }

    pub(super) async fn signal_workflow(
        &self,
        r: SignalWorkflowExecutionRequest,
    ) -> Result<SignalWorkflowExecutionResponse, Status> {
        check_signal_name(&r.signal_name)?;
        check_payloads("Signal input", &r.input)?;
        let s = self.resolve(&r.namespace, &r.workflow_execution).await?;
        let signal = SignalArgs {
            signal_name: r.signal_name,
            input: r.input,
            identity: r.identity,
            header: r.header,
            request_id: r.request_id.clone(),
            external_workflow_execution: None,
        };
        match self.history.execute(&s.namespace, &s.workflow_id, &s.run_id, Input::Signal(signal)).await {
            Ok(_) => {}
            // A retry of a signal that was applied before the run closed (its
            // answer lost, e.g. with a node that died): answered as delivered,
            // as Temporal checks the request id before the run's status.
            Err(HistoryError::Engine(EngineError::WorkflowClosed))
                if !r.request_id.is_empty() && self.signal_was_applied(&s, &r.request_id).await => {}
            Err(e) => return Err(map_err(e)),
        }
        Ok(SignalWorkflowExecutionResponse::default())
    }

    async fn signal_was_applied(&self, s: &MutableState, request_id: &str) -> bool {
        let run = self.history.load(&s.namespace, &s.workflow_id, &s.run_id).await;
        run.is_ok_and(|state| state.signal_request_ids.iter().any(|id| id == request_id))
    }

    /// Validates a start request (shared by start and signal-with-start).
    pub(super) fn start_args(&self, r: StartWorkflowExecutionRequest) -> Result<(StartArgs, StartPolicies), Status> {
        self.check_namespace(&r.namespace)?;
        if r.workflow_id.is_empty() {
            return Err(errors::invalid("WorkflowId is not set on request."));
        }
        if r.workflow_id.len() > limits::ID_BYTES_MAX {
            return Err(errors::invalid("WorkflowId length exceeds limit."));
        }
        let workflow_type = r.workflow_type.as_ref().map(|t| t.name.clone()).unwrap_or_default();
        if workflow_type.is_empty() {
            return Err(errors::invalid("WorkflowType is not set on request."));
        }
        if workflow_type.len() > limits::ID_BYTES_MAX {
            return Err(errors::invalid("WorkflowType length exceeds limit."));
        }
        let task_queue = r.task_queue.as_ref().map(|t| t.name.clone()).unwrap_or_default();
        if task_queue.is_empty() {
            return Err(errors::invalid("TaskQueue is not set on request."));
        }
        check_task_queue_length(&task_queue)?;
        if r.request_id.len() > limits::ID_BYTES_MAX {
            return Err(errors::invalid("RequestId length exceeds limit."));
        }
        check_duration("WorkflowExecutionTimeout", &r.workflow_execution_timeout)?;
        check_duration("WorkflowRunTimeout", &r.workflow_run_timeout)?;
        check_duration("WorkflowTaskTimeout", &r.workflow_task_timeout)?;
        check_payloads("Workflow input", &r.input)?;
        if !r.cron_schedule.is_empty() {
            chronicle_engine::validate_cron_schedule(&r.cron_schedule).map_err(errors::invalid)?;
            if r.workflow_start_delay.as_ref().is_some_and(|d| time::dur_nanos(d) > 0) {
                return Err(errors::invalid("CronSchedule and WorkflowStartDelay may not be used together."));
            }
        }
        check_duration("WorkflowStartDelay", &r.workflow_start_delay)?;
        if let Some(o) = &r.versioning_override {
            chronicle_engine::versioning::validate_override(o).map_err(errors::invalid)?;
        }
        let retry_policy = match r.retry_policy {
            Some(p) => Some(chronicle_engine::normalize_retry_policy(Some(p)).map_err(errors::invalid)?),
            None => None,
        };
        let reuse = WorkflowIdReusePolicy::try_from(r.workflow_id_reuse_policy)
            .map_err(|_| errors::invalid("Unknown WorkflowIdReusePolicy."))?;
        let conflict = WorkflowIdConflictPolicy::try_from(r.workflow_id_conflict_policy)
            .map_err(|_| errors::invalid("Unknown WorkflowIdConflictPolicy."))?;
        if reuse == WorkflowIdReusePolicy::TerminateIfRunning && conflict != WorkflowIdConflictPolicy::Unspecified {
            return Err(errors::invalid(
                "Invalid WorkflowIDReusePolicy: WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING cannot be used together with a WorkflowIDConflictPolicy.",
            ));
        }
        let namespace_id = self.namespaces.get(&r.namespace).map(|n| n.id).unwrap_or_default();
        let args = StartArgs {
            signal: None,
            namespace_id,
            namespace: r.namespace,
            workflow_id: r.workflow_id,
            run_id: crate::new_run_id(),
            workflow_type,
            task_queue,
            input: r.input,
            execution_timeout: r.workflow_execution_timeout,
            run_timeout: r.workflow_run_timeout,
            task_timeout: r.workflow_task_timeout,
            identity: r.identity,
            request_id: if r.request_id.is_empty() { uuid::Uuid::new_v4().to_string() } else { r.request_id },
            retry_policy,
            memo: r.memo,
            search_attributes: r.search_attributes,
            header: r.header,
            priority: r.priority,
            cron_schedule: r.cron_schedule,
            // A start delay is the first workflow task's backoff.
            continued: r
                .workflow_start_delay
                .filter(|d| time::dur_nanos(d) > 0)
                .map(|d| chronicle_engine::Continued { backoff: Some(d), ..Default::default() }),
            parent: None,
            root_execution: None,
            update: None,
            user_metadata: r.user_metadata,
            eager: r.request_eager_execution && self.history.limits().eager_workflow_start,
            activity: None,
            versioning_override: r.versioning_override,
        };
        Ok((args, StartPolicies { reuse, conflict }))
    }

    pub(super) async fn resolve(
        &self,
        namespace: &str,
        execution: &Option<WorkflowExecution>,
    ) -> Result<MutableState, Status> {
        self.check_namespace(namespace)?;
        let execution = execution.as_ref().ok_or_else(|| errors::invalid("Execution is not set on request."))?;
        if execution.workflow_id.is_empty() {
            return Err(errors::invalid("WorkflowId is not set on request."));
        }
        if !execution.run_id.is_empty() && uuid::Uuid::parse_str(&execution.run_id).is_err() {
            return Err(errors::invalid("Invalid RunId."));
        }
        self.history.load(namespace, &execution.workflow_id, &execution.run_id).await.map_err(map_err)
    }

    pub(super) async fn describe_workflow(
        &self,
        r: DescribeWorkflowExecutionRequest,
    ) -> Result<DescribeWorkflowExecutionResponse, Status> {
        let s = self.resolve(&r.namespace, &r.execution).await?;
        Ok(describe(&s))
    }

    pub(super) async fn request_cancel_workflow(
        &self,
        r: RequestCancelWorkflowExecutionRequest,
    ) -> Result<RequestCancelWorkflowExecutionResponse, Status> {
        let s = self.resolve(&r.namespace, &r.workflow_execution).await?;
        check_first_run(&s, &r.first_execution_run_id)?;
        let input = Input::RequestCancel { reason: r.reason, identity: r.identity, external: None };
        self.history.execute(&s.namespace, &s.workflow_id, &s.run_id, input).await.map_err(map_err)?;
        Ok(RequestCancelWorkflowExecutionResponse {})
    }

    pub(super) async fn terminate_workflow(
        &self,
        r: TerminateWorkflowExecutionRequest,
    ) -> Result<TerminateWorkflowExecutionResponse, Status> {
        check_payloads("Termination details", &r.details)?;
        let s = self.resolve(&r.namespace, &r.workflow_execution).await?;
        check_first_run(&s, &r.first_execution_run_id)?;
        let input = Input::Terminate { reason: r.reason, details: r.details, identity: r.identity };
        self.history.execute(&s.namespace, &s.workflow_id, &s.run_id, input).await.map_err(map_err)?;
        Ok(TerminateWorkflowExecutionResponse {})
    }

    /// DeleteWorkflowExecution: a running run is terminated first; the run
    /// is deleted once its post-close work (telling its parent, applying
    /// its children's close policies) is done.
    pub(super) async fn delete_workflow(
        &self,
        r: DeleteWorkflowExecutionRequest,
    ) -> Result<DeleteWorkflowExecutionResponse, Status> {
        self.delete_run(&r.namespace, r.workflow_execution, "Delete workflow execution").await?;
        Ok(DeleteWorkflowExecutionResponse {})
    }

    /// Deletes a run, terminating it first (with `reason`) if it runs.
    pub(super) async fn delete_run(
        &self,
        namespace: &str,
        execution: Option<WorkflowExecution>,
        reason: &str,
    ) -> Result<(), Status> {
        let s = self.resolve(namespace, &execution).await?;
        if s.is_running() {
            let input =
                chronicle_engine::Input::Terminate { reason: reason.into(), details: None, identity: String::new() };
            match self.history.execute(&s.namespace, &s.workflow_id, &s.run_id, input).await {
                Ok(_) | Err(HistoryError::Engine(chronicle_engine::EngineError::WorkflowClosed)) => {}
                Err(e) => return Err(map_err(e)),
            }
        }
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        let (latest, done) = self.wait_for_state(&s, deadline, |st| !st.needs_recovery()).await?;
        if !done {
            return Err(Status::unavailable("the run's post-close work is still in progress; retry the delete"));
        }
        self.history.delete(&latest.namespace, &latest.workflow_id, &latest.run_id).await.map_err(map_err)
    }

    /// GetWorkflowExecutionHistoryReverse: newest events first, paged down.
    pub(super) async fn workflow_history_reverse(
        &self,
        r: GetWorkflowExecutionHistoryReverseRequest,
    ) -> Result<GetWorkflowExecutionHistoryReverseResponse, Status> {
        let (execution, token) = history_page(&r.execution, &r.next_page_token)?;
        let state = self.resolve(&r.namespace, &execution).await?;
        let page_size = self.history_page_size(r.maximum_page_size);
        // The token holds the first id not yet returned, counting down.
        let below = token.map(|t| t.next_event_id).unwrap_or(state.next_event_id).min(state.next_event_id);
        let from = (below - page_size as i64).max(1);
        let mut events = if below > 1 {
            self.history.read_history(&state.run_id, from, (below - from) as usize).await.map_err(map_err)?
        } else {
            Vec::new()
        };
        events.reverse();
        let next_page_token = if from > 1 {
            HistoryPageToken { run_id: state.run_id.clone(), next_event_id: from, ..Default::default() }.encode_to_vec()
        } else {
            Vec::new()
        };
        Ok(GetWorkflowExecutionHistoryReverseResponse { history: Some(HistoryProto { events }), next_page_token })
    }

    pub(super) async fn workflow_history(
        &self,
        r: GetWorkflowExecutionHistoryRequest,
        deadline: Instant,
    ) -> Result<GetWorkflowExecutionHistoryResponse, Status> {
        let (execution, token) = history_page(&r.execution, &r.next_page_token)?;
        let mut state = self.resolve(&r.namespace, &execution).await?;
        let close_only = r.history_event_filter_type == HistoryEventFilterType::CloseEvent as i32;
        let page_size = self.history_page_size(r.maximum_page_size);
        let from = token.as_ref().map(|t| t.next_event_id).unwrap_or(1).max(1);
        let transient_task = token.as_ref().map_or(0, |t| t.transient_task_scheduled_event_id);
        // Long poll: wait for the close event, or for events past `from`.
        if r.wait_new_event {
            let ready =
                |s: &MutableState| if close_only { !s.is_running() } else { s.next_event_id > from || !s.is_running() };
            let (latest, ready) = self.wait_for_state(&state, deadline, ready).await?;
            if !ready {
                // Nothing yet: an empty page with a token to come back with.
                let token = HistoryPageToken {
                    run_id: latest.run_id.clone(),
                    next_event_id: from,
                    transient_task_scheduled_event_id: transient_task,
                };
                return Ok(GetWorkflowExecutionHistoryResponse {
                    history: Some(HistoryProto { events: vec![] }),
                    next_page_token: token.encode_to_vec(),
                    ..Default::default()
                });
            }
            state = latest;
        }
        if close_only {
            let events = if state.is_running() {
                vec![]
            } else {
                self.history.read_history(&state.run_id, state.close_event_id, 1).await.map_err(map_err)?
            };
            return Ok(GetWorkflowExecutionHistoryResponse {
                history: Some(HistoryProto { events }),
                ..Default::default()
            });
        }
        let mut events = self.history.read_history(&state.run_id, from, page_size).await.map_err(map_err)?;
        let next = events.last().map(|e| e.event_id + 1).unwrap_or(from);
        let more = next < state.next_event_id || (r.wait_new_event && state.is_running());
        let next_page_token = if more {
            HistoryPageToken {
                run_id: state.run_id.clone(),
                next_event_id: next,
                transient_task_scheduled_event_id: transient_task,
            }
            .encode_to_vec()
        } else {
            // The last page of a poll response's history: its transient
            // workflow task's events, if that task is still the one started.
            if transient_task != 0
                && state.started_workflow_task().is_some_and(|wt| wt.scheduled_event_id == transient_task)
            {
                events.extend(chronicle_engine::started_task_transient_events(&state));
            }
            Vec::new()
        };
        Ok(GetWorkflowExecutionHistoryResponse {
            history: Some(HistoryProto { events }),
            next_page_token,
            ..Default::default()
        })
    }
}

/// The run and position a history page token names (the token's run
/// replaces the request's), or none for the first page.
fn history_page(
    execution: &Option<WorkflowExecution>,
    token: &[u8],
) -> Result<(Option<WorkflowExecution>, Option<HistoryPageToken>), Status> {
    let mut execution = execution.clone();
    if token.is_empty() {
        return Ok((execution, None));
    }
    let t = HistoryPageToken::decode(token).map_err(|_| errors::invalid("Invalid NextPageToken."))?;
    if let Some(e) = execution.as_mut() {
        e.run_id = t.run_id.clone();
    }
    Ok((execution, Some(t)))
}

fn describe(s: &MutableState) -> DescribeWorkflowExecutionResponse {
    let started = s.started.clone().unwrap_or_default();
    let pending_activities = s
        .activities
        .values()
        .map(|a| PendingActivityInfo {
            activity_id: a.activity_id.clone(),
            activity_type: a.activity_type.clone(),
            state: if a.cancel_requested {
                PendingActivityState::CancelRequested
            } else if a.paused && a.is_started() {
                PendingActivityState::PauseRequested
            } else if a.paused {
                PendingActivityState::Paused
            } else if a.is_started() {
                PendingActivityState::Started
            } else {
                PendingActivityState::Scheduled
            } as i32,
            paused: a.paused,
            pause_info: a.pause_info.clone(),
            activity_options: Some(chronicle_engine::activity_control::options_of(a)),
            heartbeat_details: a.last_heartbeat_details.clone(),
            last_heartbeat_time: a.last_heartbeat_time,
            last_started_time: a.started_time,
            attempt: a.attempt,
            maximum_attempts: a.retry_policy.as_ref().map(|p| p.maximum_attempts).unwrap_or(0),
            scheduled_time: a.current_attempt_scheduled_time,
            expiration_time: a
                .schedule_to_close_timeout
                .filter(|d| time::is_set(Some(d)))
                .zip(a.scheduled_time)
                .map(|(d, t)| time::add(&t, &d)),
            last_failure: a.last_failure.clone(),
            last_worker_identity: if a.started_identity.is_empty() {
                a.last_worker_identity.clone()
            } else {
                a.started_identity.clone()
            },
            priority: a.priority.clone(),
            ..Default::default()
        })
        .collect();
    let pending_workflow_task = s.workflow_task.as_ref().map(|wt| PendingWorkflowTaskInfo {
        state: if wt.is_started() { PendingWorkflowTaskState::Started } else { PendingWorkflowTaskState::Scheduled }
            as i32,
        scheduled_time: wt.scheduled_time,
        original_scheduled_time: wt.scheduled_time,
        started_time: wt.started_time,
        attempt: wt.attempt,
    });
    DescribeWorkflowExecutionResponse {
        execution_config: Some(WorkflowExecutionConfig {
            task_queue: started.task_queue.clone(),
            workflow_execution_timeout: started.workflow_execution_timeout,
            workflow_run_timeout: started.workflow_run_timeout,
            default_workflow_task_timeout: started.workflow_task_timeout,
            user_metadata: s.start_user_metadata.clone(),
        }),
        workflow_execution_info: Some(s.execution_info()),
        pending_activities,
        pending_workflow_task,
        pending_children: s
            .children
            .values()
            .filter(|_| s.is_running())
            .map(|c| PendingChildExecutionInfo {
                workflow_id: c.workflow_id.clone(),
                run_id: c.run_id.clone(),
                workflow_type_name: c.workflow_type.clone(),
                initiated_id: c.initiated_event_id,
                parent_close_policy: c.parent_close_policy,
            })
            .collect(),
        workflow_extended_info: Some(WorkflowExecutionExtendedInfo {
            execution_expiration_time: s.execution_expiration_time,
            run_expiration_time: s.run_expiration_time,
            cancel_requested: s.cancel_requested,
            // A reset run started at the reset; its history began earlier.
            last_reset_time: s.original_start_time.and(s.start_time),
            original_start_time: s.original_start_time.or(s.start_time),
            reset_run_id: s.reset_run_id.clone(),
            ..Default::default()
        }),
        ..Default::default()
    }
}
