//! Worker-facing RPCs: polls hand out tasks (recording them started in the
//! history first), completions feed the engine.

use super::{Frontend, map_err, workflows::check_payloads};
use crate::cluster::Holder;
use crate::errors;
use crate::history::HistoryError;
use crate::matching::{MatchTask, QueueKey};
use crate::queries::QueryAnswer;
use crate::tokens::{HistoryPageToken, TaskToken};
use chronicle_engine::{
    Input, Outcome, WorkflowTaskCompletion,
    api::{
        common::v1::{Payloads, WorkerVersionCapabilities, WorkerVersionStamp, WorkflowExecution, WorkflowType},
        enums::v1::{QueryResultType, TaskQueueKind, TaskQueueType, WorkflowTaskFailedCause},
        failure::v1::Failure,
        history::v1::{History as HistoryProto, HistoryEvent},
        protocol::v1::{Message, message},
        taskqueue::v1::TaskQueue,
        workflowservice::v1::*,
    },
    server_failure,
};
use chronicle_proto::cluster::StartTaskResponse;
use prost::Message as _;
use tokio::time::Instant;
use tonic::Status;

use chronicle_engine::too_big;

/// The activity a completion or heartbeat is for.
pub(super) struct ActivityTarget {
    namespace: String,
    workflow_id: String,
    run_id: String,
    scheduled_event_id: i64,
    attempt: i32,
}

/// Admitted updates as protocol messages for a workflow task: each a
/// Request sequenced just before the task's WorkflowTaskStarted.
fn update_requests(s: &chronicle_engine::MutableState, started_event_id: i64) -> Vec<Message> {
    use chronicle_engine::api::enums::v1::UpdateWorkflowExecutionLifecycleStage as Stage;
    s.updates
        .values()
        .filter(|u| u.stage == Stage::Admitted as i32 && u.admitted_event_id == 0)
        .map(|u| Message {
            id: format!("{}/request", u.update_id),
            protocol_instance_id: u.update_id.clone(),
            sequencing_id: Some(message::SequencingId::EventId(started_event_id - 1)),
            body: u.request.as_ref().map(|r| prost_types::Any {
                type_url: "type.googleapis.com/temporal.api.update.v1.Request".into(),
                value: r.encode_to_vec(),
            }),
        })
        .collect()
}

/// A started workflow task as a worker receives it (from a poll, or with an
/// eager start), without the poll's extras: queries, the backlog hint and a
/// next history page.
fn workflow_task(s: &chronicle_engine::MutableState, events: Vec<HistoryEvent>) -> PollWorkflowTaskQueueResponse {
    let wt = s.workflow_task.clone().unwrap_or_default();
    let token = TaskToken {
        namespace: s.namespace.clone(),
        workflow_id: s.workflow_id.clone(),
        run_id: s.run_id.clone(),
        scheduled_event_id: wt.scheduled_event_id,
        attempt: wt.attempt,
        is_activity: false,
        started_event_id: wt.started_event_id,
        query_id: 0,
    };
    PollWorkflowTaskQueueResponse {
        task_token: token.encode(),
        workflow_execution: Some(WorkflowExecution { workflow_id: s.workflow_id.clone(), run_id: s.run_id.clone() }),
        workflow_type: Some(WorkflowType { name: s.workflow_type_name().to_string() }),
        previous_started_event_id: s.last_completed_wft_started_event_id,
        started_event_id: wt.started_event_id,
        attempt: wt.attempt,
        history: Some(HistoryProto { events }),
        workflow_execution_task_queue: s.started.as_ref().and_then(|a| a.task_queue.clone()),
        scheduled_time: wt.scheduled_time,
        started_time: wt.started_time,
        messages: update_requests(s, wt.started_event_id),
        ..Default::default()
    }
}

/// A worker's sticky queue is polled by name like any other; tasks land
/// there only for runs that worker completed last (see history.rs).
/// A started activity attempt as a worker receives it, from a poll or
/// eagerly with its workflow task's completion.
fn activity_task(
    s: &chronicle_engine::MutableState,
    a: &chronicle_engine::ActivityInfo,
) -> PollActivityTaskQueueResponse {
    let token = TaskToken {
        namespace: s.namespace.clone(),
        workflow_id: s.workflow_id.clone(),
        run_id: s.run_id.clone(),
        scheduled_event_id: a.scheduled_event_id,
        attempt: a.attempt,
        is_activity: true,
        started_event_id: 0,
        query_id: 0,
    };
    // A standalone activity names its own run, and no workflow.
    let standalone = s.standalone.is_some();
    PollActivityTaskQueueResponse {
        task_token: token.encode(),
        workflow_namespace: s.namespace.clone(),
        workflow_type: (!standalone).then(|| WorkflowType { name: s.workflow_type_name().to_string() }),
        workflow_execution: (!standalone)
            .then(|| WorkflowExecution { workflow_id: s.workflow_id.clone(), run_id: s.run_id.clone() }),
        activity_run_id: if standalone { s.run_id.clone() } else { String::new() },
        activity_type: a.activity_type.clone(),
        activity_id: a.activity_id.clone(),
        header: a.header.clone(),
        input: a.input.clone(),
        heartbeat_details: a.last_heartbeat_details.clone(),
        scheduled_time: a.scheduled_time,
        current_attempt_scheduled_time: a.current_attempt_scheduled_time,
        started_time: a.started_time,
        attempt: a.attempt,
        schedule_to_close_timeout: a.schedule_to_close_timeout,
        start_to_close_timeout: a.start_to_close_timeout,
        heartbeat_timeout: a.heartbeat_timeout,
        retry_policy: a.retry_policy.clone(),
        priority: a.priority.clone(),
        ..Default::default()
    }
}

fn queue_name(tq: &Option<TaskQueue>) -> Result<String, Status> {
    let tq = tq
        .as_ref()
        .filter(|t| !t.name.is_empty())
        .ok_or_else(|| errors::invalid("TaskQueue is not set on request."))?;
    super::workflows::check_task_queue_length(&tq.name)?;
    Ok(tq.name.clone())
}

const USE_VERSIONING_REFUSED: &str =
    "Worker versioning with build-id sets (use_versioning) is not implemented by Chronicle; use worker deployments.";

/// The stamp Temporal records for a poller: its build id. The versioning of
/// build-id sets (`use_versioning` without deployment options) is not
/// built, and refused rather than ignored; worker deployments are
/// (`deployment_options`, deployments/mod.rs).
fn version_stamp(
    caps: &Option<WorkerVersionCapabilities>,
    deployment: Option<&chronicle_engine::api::deployment::v1::WorkerDeploymentOptions>,
) -> Result<Option<WorkerVersionStamp>, Status> {
    use chronicle_engine::api::enums::v1::WorkerVersioningMode;
    // A worker of a deployment version is known by that version instead.
    if deployment.is_some_and(|d| d.worker_versioning_mode == WorkerVersioningMode::Versioned as i32) {
        return Ok(None);
    }
    match caps {
        Some(c) if c.use_versioning && deployment.is_none() => Err(Status::unimplemented(USE_VERSIONING_REFUSED)),
        Some(c) => Ok(Some(WorkerVersionStamp { build_id: c.build_id.clone(), use_versioning: false })),
        None => Ok(None),
    }
}

impl Frontend {
    pub(super) async fn poll_workflow_task(
        &self,
        r: PollWorkflowTaskQueueRequest,
        deadline: Instant,
    ) -> Result<PollWorkflowTaskQueueResponse, Status> {
        self.check_namespace(&r.namespace)?;
        let name = queue_name(&r.task_queue)?;
        let stamp = version_stamp(&r.worker_version_capabilities, r.deployment_options.as_ref())?;
        let sticky = r.task_queue.as_ref().is_some_and(|q| q.kind == TaskQueueKind::Sticky as i32);
        let version = self
            .deployments
            .poller_version(&r.namespace, r.deployment_options.as_ref(), &name, TaskQueueType::Workflow, sticky)
            .await?;
        let key = QueueKey { namespace: r.namespace.clone(), name, activity: false };
        self.matching.record_poller(&key, &r.identity);
        while let Some(Some(task)) = self.wait(deadline, self.matching.poll_as(&key, deadline, version.clone())).await {
            if let Holder::Remote { address } = self.history.run_holder(&task.namespace, &task.workflow_id) {
                match self.start_remotely(&address, &key, &task, &r.identity, stamp.clone()).await {
                    Ok(StartTaskResponse { workflow: Some(response), .. }) => {
                        return Ok(PollWorkflowTaskQueueResponse {
                            backlog_count_hint: self.matching.backlog(&key),
                            ..response
                        });
                    }
                    Ok(_) => continue, // stale, or a query whose caller gave up
                    Err(e) => {
                        tracing::warn!(error = %e, run_id = %task.run_id, "could not start a workflow task on its run's node");
                        self.matching.release(&key, &task);
                        continue;
                    }
                }
            }
            if task.query_id != 0 {
                match self.query_task(&task).await {
                    Some(response) => return Ok(response),
                    None => continue, // its caller gave up
                }
            }
            match self.start_workflow_task(&key, &task, &r.identity, stamp.clone()).await {
                Ok(response) => return Ok(response),
                Err(HistoryError::Engine(_)) => continue, // stale task: already started, timed out or closed
                Err(e) => {
                    tracing::warn!(error = %e, run_id = %task.run_id, "could not start workflow task");
                    self.matching.release(&key, &task);
                    continue;
                }
            }
        }
        Ok(Default::default())
    }

    pub(super) async fn start_workflow_task(
        &self,
        key: &QueueKey,
        task: &MatchTask,
        identity: &str,
        worker_version: Option<WorkerVersionStamp>,
    ) -> Result<PollWorkflowTaskQueueResponse, HistoryError> {
        let input = Input::WorkflowTaskStarted {
            target_version_changed: self.target_version_changed(task).await,
            // The routing revision that sent an unpinned task here (kept
            // as the run's once a completion says which version it is on).
            routing_revision: if task.pinned.is_empty() { self.matching.route_revision(key) } else { 0 },
            scheduled_event_id: task.scheduled_event_id,
            attempt: task.attempt,
            identity: identity.to_string(),
            request_id: uuid::Uuid::new_v4().to_string(),
            worker_version,
        };
        let t = self.history.execute(&task.namespace, &task.workflow_id, &task.run_id, input).await?;
        let Outcome::WorkflowTaskStarted { started_event_id, transient_events } = t.outcome else {
            unreachable!("WorkflowTaskStarted yields its outcome");
        };
        let s = &t.state;
        let queries = self
            .history
            .queries()
            .attached(&s.run_id, started_event_id)
            .into_iter()
            .map(|(id, q)| (id.to_string(), q))
            .collect();
        let wt = s.workflow_task.clone().unwrap_or_default();
        // On a sticky queue the worker holds the run: it gets only the events
        // after the last task it completed, as Temporal sends them (a worker
        // that evicted the run fetches the rest itself).
        let sticky = wt.task_queue.as_ref().is_some_and(|q| q.kind == TaskQueueKind::Sticky as i32);
        let first_event_id = if sticky { s.last_completed_wft_started_event_id + 1 } else { 1 };
        // A long history comes in pages: the first here, the rest through
        // GetWorkflowExecutionHistory with the token; the transient task's
        // virtual events end the last page.
        let page = self.history.limits().poll_history_events_max;
        let mut events = self.history.read_recent(&s.run_id, first_event_id, s.next_event_id - 1, page).await?;
        let last_read = events.last().map_or(first_event_id - 1, |e| e.event_id);
        let next_page_token = if last_read < s.next_event_id - 1 {
            HistoryPageToken {
                run_id: s.run_id.clone(),
                next_event_id: last_read + 1,
                transient_task_scheduled_event_id: if transient_events.is_empty() { 0 } else { wt.scheduled_event_id },
            }
            .encode_to_vec()
        } else {
            events.extend(transient_events);
            Vec::new()
        };
        Ok(PollWorkflowTaskQueueResponse {
            backlog_count_hint: self.matching.backlog(key),
            next_page_token,
            queries,
            ..workflow_task(s, events)
        })
    }

    /// Whether a run its worker declared Pinned is on another version than
    /// the one its queue routes new work to now (WorkflowTaskStarted says
    /// so, as Temporal's does; a run pinned by an override is not told).
    /// Only a pinned task needs its run read for this.
    async fn target_version_changed(&self, task: &MatchTask) -> bool {
        use chronicle_engine::api::enums::v1::VersioningBehavior;
        if task.pinned.is_empty() {
            return false;
        }
        let Ok(state) = self.history.load(&task.namespace, &task.workflow_id, &task.run_id).await else { return false };
        if state.versioning.as_ref().is_none_or(|v| v.behavior != VersioningBehavior::Pinned as i32) {
            return false;
        }
        let normal =
            QueueKey { namespace: state.namespace.clone(), name: state.task_queue_name().to_string(), activity: false };
        let probe = MatchTask { workflow_id: state.workflow_id.clone(), ..Default::default() };
        self.matching
            .route_target(&normal, &probe)
            .is_some_and(|target| target.as_deref() != Some(task.pinned.as_str()))
    }

    /// The workflow task an eager start hands its caller, with the history
    /// the start wrote (or, for a repeated start, read back).
    pub(super) async fn eager_workflow_task(
        &self,
        task: crate::history::EagerTask,
    ) -> Result<PollWorkflowTaskQueueResponse, HistoryError> {
        let s = &task.state;
        let started_event_id = s.workflow_task.as_ref().map_or(0, |wt| wt.started_event_id);
        let mut events = match task.events {
            Some(events) => events,
            None => self.history.read_history(&s.run_id, 1, started_event_id as usize).await?,
        };
        events.retain(|e| e.event_id <= started_event_id);
        Ok(workflow_task(s, events))
    }

    pub(super) async fn workflow_task_completed(
        &self,
        r: RespondWorkflowTaskCompletedRequest,
    ) -> Result<RespondWorkflowTaskCompletedResponse, Status> {
        let token = TaskToken::decode_for(&r.task_token, &r.namespace, false)?;
        self.check_namespace(&token.namespace)?;
        if r.worker_version_stamp.as_ref().is_some_and(|s| s.use_versioning) && r.deployment_options.is_none() {
            return Err(Status::unimplemented(USE_VERSIONING_REFUSED));
        }
        // Answers to queries that rode on this task.
        for (id, result) in r.query_results {
            let Ok(id) = id.parse::<u64>() else { continue };
            let answer = if result.result_type == QueryResultType::Answered as i32 {
                QueryAnswer::Answered(result.answer)
            } else {
                QueryAnswer::Failed { message: result.error_message, failure: result.failure.map(Box::new) }
            };
            self.history.queries().answer(id, answer);
        }
        let done = WorkflowTaskCompletion {
            scheduled_event_id: token.scheduled_event_id,
            attempt: token.attempt,
            commands: r.commands,
            identity: r.identity,
            binary_checksum: r.binary_checksum,
            sdk_metadata: r.sdk_metadata,
            metering_metadata: r.metering_metadata,
            worker_version: r.worker_version_stamp,
            force_create_new_workflow_task: r.force_create_new_workflow_task,
            sticky_attributes: r.sticky_attributes,
            messages: r.messages,
            request_id: uuid::Uuid::new_v4().to_string(),
            versioning_behavior: r.versioning_behavior,
            deployment_options: r.deployment_options,
        };
        let input = Input::WorkflowTaskCompleted(Box::new(done));
        let t =
            self.history.execute(&token.namespace, &token.workflow_id, &token.run_id, input).await.map_err(map_err)?;
        match t.outcome {
            Outcome::WorkflowTaskRejected { message } => Err(errors::invalid(message)),
            Outcome::WorkflowTaskDiscarded { reset_history_event_id } => {
                Ok(RespondWorkflowTaskCompletedResponse { reset_history_event_id, ..Default::default() })
            }
            Outcome::EagerActivitiesStarted(started) => {
                crate::metrics::metrics().record_eager_activities(started.len());
                Ok(RespondWorkflowTaskCompletedResponse {
                    activity_tasks: started.iter().map(|a| activity_task(&t.state, a)).collect(),
                    ..Default::default()
                })
            }
            _ => Ok(Default::default()),
        }
    }

    pub(super) async fn workflow_task_failed(
        &self,
        r: RespondWorkflowTaskFailedRequest,
    ) -> Result<RespondWorkflowTaskFailedResponse, Status> {
        let token = TaskToken::decode_for(&r.task_token, &r.namespace, false)?;
        self.check_namespace(&token.namespace)?;
        let cause = WorkflowTaskFailedCause::try_from(r.cause).unwrap_or(WorkflowTaskFailedCause::Unspecified);
        let failure = if too_big(&r.failure) {
            Some(server_failure("WorkflowTaskFailed failure exceeds size limit."))
        } else {
            r.failure
        };
        let input = Input::WorkflowTaskFailed {
            scheduled_event_id: token.scheduled_event_id,
            attempt: token.attempt,
            cause,
            failure,
            identity: r.identity,
            binary_checksum: r.binary_checksum,
        };
        self.history.execute(&token.namespace, &token.workflow_id, &token.run_id, input).await.map_err(map_err)?;
        Ok(Default::default())
    }

    pub(super) async fn poll_activity_task(
        &self,
        r: PollActivityTaskQueueRequest,
        deadline: Instant,
    ) -> Result<PollActivityTaskQueueResponse, Status> {
        self.check_namespace(&r.namespace)?;
        let name = queue_name(&r.task_queue)?;
        let stamp = version_stamp(&r.worker_version_capabilities, r.deployment_options.as_ref())?;
        let version = self
            .deployments
            .poller_version(&r.namespace, r.deployment_options.as_ref(), &name, TaskQueueType::Activity, false)
            .await?;
        let key = QueueKey { namespace: r.namespace.clone(), name, activity: true };
        self.matching.record_poller(&key, &r.identity);
        while let Some(Some(task)) = self.wait(deadline, self.matching.poll_as(&key, deadline, version.clone())).await {
            let started = match self.history.run_holder(&task.namespace, &task.workflow_id) {
                Holder::Remote { address } => self
                    .start_remotely(&address, &key, &task, &r.identity, stamp.clone())
                    .await
                    .map(|answer| answer.activity),
                _ => self.start_activity_task(&task, &r.identity, stamp.clone()).await.map(Some),
            };
            match started {
                Ok(Some(response)) => return Ok(response),
                Ok(None) | Err(HistoryError::Engine(_)) => continue, // stale
                Err(e) => {
                    tracing::warn!(error = %e, run_id = %task.run_id, "could not start activity task");
                    self.matching.release(&key, &task);
                    continue;
                }
            }
        }
        Ok(Default::default())
    }

    /// Records an activity task's start and builds the poller's answer.
    pub(super) async fn start_activity_task(
        &self,
        task: &MatchTask,
        identity: &str,
        worker_version: Option<WorkerVersionStamp>,
    ) -> Result<PollActivityTaskQueueResponse, HistoryError> {
        let input = Input::ActivityTaskStarted {
            scheduled_event_id: task.scheduled_event_id,
            attempt: task.attempt,
            identity: identity.to_string(),
            request_id: uuid::Uuid::new_v4().to_string(),
            worker_version,
        };
        let t = self.history.execute(&task.namespace, &task.workflow_id, &task.run_id, input).await?;
        let Outcome::ActivityTaskStarted(a) = t.outcome else {
            unreachable!("ActivityTaskStarted yields its outcome");
        };
        Ok(activity_task(&t.state, &a))
    }

    pub(super) fn activity_by_token(&self, namespace: &str, token: &[u8]) -> Result<ActivityTarget, Status> {
        let token = TaskToken::decode_for(token, namespace, true)?;
        self.check_namespace(&token.namespace)?;
        Ok(ActivityTarget {
            namespace: token.namespace,
            workflow_id: token.workflow_id,
            run_id: token.run_id,
            scheduled_event_id: token.scheduled_event_id,
            attempt: token.attempt,
        })
    }

    pub(super) async fn activity_by_id(
        &self,
        namespace: &str,
        workflow_id: &str,
        run_id: &str,
        activity_id: &str,
    ) -> Result<ActivityTarget, Status> {
        self.check_namespace(namespace)?;
        if activity_id.is_empty() {
            return Err(errors::invalid("ActivityId is not set on request."));
        }
        // No workflow id: a standalone activity (its run id, if given).
        let workflow_id = super::standalone::by_id_key(workflow_id, activity_id);
        if workflow_id.len() > chronicle_engine::limits::ID_BYTES_MAX + super::standalone::KEY_PREFIX.len() {
            return Err(errors::invalid("WorkflowId length exceeds limit."));
        }
        let s = self.history.load(namespace, &workflow_id, run_id).await.map_err(map_err)?;
        if !s.is_running() {
            return Err(errors::not_found("workflow execution already completed"));
        }
        let a = s
            .activities
            .values()
            .find(|a| a.activity_id == activity_id)
            .ok_or_else(|| {
                errors::not_found(format!(
                    "cannot find pending activity with ActivityID {activity_id}, check workflow execution history for more details"
                ))
            })?;
        Ok(ActivityTarget {
            namespace: s.namespace.clone(),
            workflow_id: s.workflow_id.clone(),
            run_id: s.run_id.clone(),
            scheduled_event_id: a.scheduled_event_id,
            attempt: a.attempt,
        })
    }

    async fn on_activity(&self, t: &ActivityTarget, input: Input) -> Result<chronicle_engine::Transition, Status> {
        self.history.execute(&t.namespace, &t.workflow_id, &t.run_id, input).await.map_err(map_err)
    }

    pub(super) async fn activity_completed(
        &self,
        t: ActivityTarget,
        result: Option<Payloads>,
        identity: String,
    ) -> Result<(), Status> {
        // As Temporal: an oversized result fails the activity instead.
        if check_payloads("Activity result", &result).is_err() {
            let failure = server_failure("ActivityTaskCompleted result exceeds size limit.");
            return self.activity_failed(t, Some(failure), None, identity).await;
        }
        let input = Input::ActivityTaskCompleted {
            scheduled_event_id: t.scheduled_event_id,
            attempt: t.attempt,
            result,
            identity,
        };
        self.on_activity(&t, input).await.map(|_| ())
    }

    pub(super) async fn activity_failed(
        &self,
        t: ActivityTarget,
        failure: Option<Failure>,
        last_heartbeat_details: Option<Payloads>,
        identity: String,
    ) -> Result<(), Status> {
        let failure = if too_big(&failure) {
            Some(server_failure("ActivityTaskFailed failure exceeds size limit."))
        } else {
            failure
        };
        let details = if too_big(&last_heartbeat_details) { None } else { last_heartbeat_details };
        let input = Input::ActivityTaskFailed {
            scheduled_event_id: t.scheduled_event_id,
            attempt: t.attempt,
            failure,
            last_heartbeat_details: details,
            identity,
        };
        self.on_activity(&t, input).await.map(|_| ())
    }

    pub(super) async fn activity_canceled(
        &self,
        t: ActivityTarget,
        details: Option<Payloads>,
        identity: String,
    ) -> Result<(), Status> {
        check_payloads("Cancellation details", &details)?;
        let input = Input::ActivityTaskCanceled {
            scheduled_event_id: t.scheduled_event_id,
            attempt: t.attempt,
            details,
            identity,
        };
        self.on_activity(&t, input).await.map(|_| ())
    }

    pub(super) async fn activity_heartbeat(
        &self,
        t: ActivityTarget,
        details: Option<Payloads>,
    ) -> Result<(bool, bool, bool), Status> {
        check_payloads("Heartbeat details", &details)?;
        let input =
            Input::ActivityTaskHeartbeat { scheduled_event_id: t.scheduled_event_id, attempt: t.attempt, details };
        let t = self.on_activity(&t, input).await?;
        // Cancel requested, paused, reset: what the answer tells the activity.
        Ok(match t.outcome {
            Outcome::Heartbeat { cancel_requested, paused, reset } => (cancel_requested, paused, reset),
            _ => (false, false, false),
        })
    }
}
