//! QueryWorkflow and RespondQueryTaskCompleted: a query goes to a worker as
//! a legacy query task (started_event_id 0) on the run's sticky queue when
//! its worker is there, otherwise on the normal queue; closed runs are
//! queried too (the worker replays them).

use super::{Frontend, workflows::check_payloads};
use crate::errors;
use crate::matching::MatchTask;
use crate::queries::QueryAnswer;
use crate::tokens::TaskToken;
use chronicle_engine::api::{
    common::v1::{WorkflowExecution, WorkflowType},
    enums::v1::{QueryRejectCondition, QueryResultType, WorkflowExecutionStatus},
    errordetails::v1::QueryFailedFailure,
    history::v1::History as HistoryProto,
    query::v1::QueryRejected,
    workflowservice::v1::*,
};
use chronicle_engine::limits;
use tokio::time::Instant;
use tonic::Status;

impl Frontend {
    pub(super) async fn query(
        &self,
        r: QueryWorkflowRequest,
        deadline: Instant,
    ) -> Result<QueryWorkflowResponse, Status> {
        let query = r.query.ok_or_else(|| errors::invalid("Query is not set on request."))?;
        if query.query_type.is_empty() {
            return Err(errors::invalid("QueryType is not set on request."));
        }
        check_payloads("Query arguments", &query.query_args)?;
        let mut s = self.resolve(&r.namespace, &r.execution).await?;
        if s.is_running()
            && let Some(until) = s.backoff_until
        {
            // No workflow task yet (cron or retry backoff, start delay): as
            // Temporal, wait for the first one only if it comes in time.
            let wait = chronicle_engine::time::to_std(&chronicle_engine::time::since(&until, &self.history.now()));
            if Instant::now() + wait >= deadline {
                return Err(errors::workflow_not_ready("Workflow task is not scheduled yet."));
            }
            let ready = |st: &chronicle_engine::MutableState| st.backoff_until.is_none() || !st.is_running();
            s = self.wait_for_state(&s, deadline, ready).await?.0;
        }
        // A query on its way to a worker holds a skipping clock, as a
        // workflow task would.
        let _hold = self.history.skipping().map(crate::time_skipping::TimeSkipping::work);
        let status = s.status();
        let condition = QueryRejectCondition::try_from(r.query_reject_condition).unwrap_or(QueryRejectCondition::None);
        let rejected = match condition {
            QueryRejectCondition::NotOpen => status != WorkflowExecutionStatus::Running,
            QueryRejectCondition::NotCompletedCleanly => {
                !matches!(status, WorkflowExecutionStatus::Running | WorkflowExecutionStatus::Completed)
            }
            _ => false,
        };
        if rejected {
            return Ok(QueryWorkflowResponse {
                query_rejected: Some(QueryRejected { status: status as i32 }),
                ..Default::default()
            });
        }
        let mut registration = self.history.queries().register(query);
        self.history.route_query(&s, registration.id).await;
        match self.wait(deadline, &mut registration.answer).await {
            Some(Ok(QueryAnswer::Answered(result))) => {
                Ok(QueryWorkflowResponse { query_result: result, ..Default::default() })
            }
            Some(Ok(QueryAnswer::Failed { message, failure })) => {
                Err(errors::query_failed(message, QueryFailedFailure { failure: failure.map(|f| *f) }))
            }
            _ => Err(Status::deadline_exceeded(format!(
                "query was not answered in time: no worker answered it on task queue {}",
                s.task_queue_name()
            ))),
        }
    }

    /// The poll response for a query task, or None if its caller is gone.
    pub(super) async fn query_task(&self, task: &MatchTask) -> Option<PollWorkflowTaskQueueResponse> {
        let query = self.history.queries().get(task.query_id)?;
        let s = self.history.load(&task.namespace, &task.workflow_id, &task.run_id).await.ok()?;
        let events = self.history.read_history(&s.run_id, 1, limits::QUERY_TASK_HISTORY_EVENTS_MAX).await.ok()?;
        let token = TaskToken {
            namespace: s.namespace.clone(),
            workflow_id: s.workflow_id.clone(),
            run_id: s.run_id.clone(),
            query_id: task.query_id,
            ..Default::default()
        };
        Some(PollWorkflowTaskQueueResponse {
            task_token: token.encode(),
            workflow_execution: Some(WorkflowExecution {
                workflow_id: s.workflow_id.clone(),
                run_id: s.run_id.clone(),
            }),
            workflow_type: Some(WorkflowType { name: s.workflow_type_name().to_string() }),
            previous_started_event_id: s.last_completed_wft_started_event_id,
            started_event_id: 0,
            attempt: 1,
            history: Some(HistoryProto { events }),
            query: Some(query),
            workflow_execution_task_queue: s.started.as_ref().and_then(|a| a.task_queue.clone()),
            ..Default::default()
        })
    }

    pub(super) fn query_completed(
        &self,
        r: RespondQueryTaskCompletedRequest,
    ) -> Result<RespondQueryTaskCompletedResponse, Status> {
        let token = TaskToken::decode_for(&r.task_token, &r.namespace, false)?;
        if token.query_id == 0 {
            return Err(errors::invalid("Task token is not a query task token."));
        }
        let answer = match QueryResultType::try_from(r.completed_type) {
            Ok(QueryResultType::Answered) => {
                check_payloads("Query result", &r.query_result)?;
                QueryAnswer::Answered(r.query_result)
            }
            Ok(QueryResultType::Failed) => {
                QueryAnswer::Failed { message: r.error_message, failure: r.failure.map(Box::new) }
            }
            _ => return Err(errors::invalid("CompletedType must be ANSWERED or FAILED.")),
        };
        if !self.history.queries().answer(token.query_id, answer) {
            return Err(errors::not_found("Query task not found: its caller is gone or it timed out."));
        }
        Ok(RespondQueryTaskCompletedResponse::default())
    }
}
