//! What the UI asks of a run: signal, query, update, cancel, terminate, reset.
//! Each is a GET that shows what will happen (the confirmation, working
//! without JavaScript) and a POST that does it, which must carry the
//! form's CSRF token (a secret of this process, in every form) and, when
//! the browser sends one, an Origin of this server: another site cannot
//! make a visitor's browser act here. Queries and updates show their
//! answer; the others go back to the run's page.

use super::{layout, page, page_error, status_page};
use crate::frontend::Frontend;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chronicle_engine::api::common::v1::{Payload, Payloads, WorkflowExecution};
use chronicle_engine::api::enums::v1::UpdateWorkflowExecutionLifecycleStage;
use chronicle_engine::api::query::v1::WorkflowQuery;
use chronicle_engine::api::update::v1::{Input as UpdateInput, Meta, Request as UpdateRequest, WaitPolicy, outcome};
use chronicle_engine::api::workflowservice::v1::{
    QueryWorkflowRequest, RequestCancelWorkflowExecutionRequest, ResetWorkflowExecutionRequest,
    SignalWorkflowExecutionRequest, TerminateWorkflowExecutionRequest, UpdateWorkflowExecutionRequest,
};
use chronicle_proto::workflowservice::workflow_service_server::WorkflowService;
use maud::html;
use std::sync::OnceLock;
use tonic::Request;

/// The identity the server's history records for what the UI did.
pub(super) const IDENTITY: &str = "chronicle-web-ui";

/// How long a query or an update waits for the workflow's worker.
const ANSWER_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// This process's CSRF token: random, in every form, required on every POST.
pub fn csrf_token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| uuid::Uuid::new_v4().simple().to_string())
}

#[derive(serde::Deserialize, Default)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    input: String,
    /// Reset: `first` or `last` workflow task, or `event` (then `event_id`).
    #[serde(default)]
    point: String,
    #[serde(default)]
    event_id: String,
}

/// The run an action is about, and where to go back to.
struct Target {
    namespace: String,
    workflow_id: String,
    run_id: String,
}

impl Target {
    fn history(&self) -> String {
        super::history_path(&self.namespace, &self.workflow_id, &self.run_id)
    }

    fn execution(&self) -> Option<WorkflowExecution> {
        Some(WorkflowExecution { workflow_id: self.workflow_id.clone(), run_id: self.run_id.clone() })
    }
}

/// Why a request is refused: its status and message (made a page by
/// `refused`).
pub(super) type Refusal = (StatusCode, String);

pub(super) fn refused((code, message): Refusal) -> Response {
    page_error(code, &message)
}

/// Refuses a POST without this process's token or from another origin.
pub(super) fn check_form(headers: &HeaderMap, csrf: &str) -> Result<(), Refusal> {
    check(headers, &ActionForm { csrf: csrf.to_string(), ..ActionForm::default() })
}

fn check(headers: &HeaderMap, form: &ActionForm) -> Result<(), Refusal> {
    if form.csrf != csrf_token() {
        let why = "The form is stale or came from elsewhere (CSRF token). Reload and try again.";
        return Err((StatusCode::FORBIDDEN, why.into()));
    }
    if let (Some(origin), Some(host)) = (headers.get(header::ORIGIN), headers.get(header::HOST)) {
        let origin = origin.to_str().unwrap_or_default();
        let host = host.to_str().unwrap_or_default();
        if origin.split_once("://").map(|(_, h)| h) != Some(host) {
            return Err((StatusCode::FORBIDDEN, "The form was sent from another site.".into()));
        }
    }
    Ok(())
}

/// The confirmation page of `action` on a run.
pub async fn confirm(
    Path((namespace, workflow_id, run_id, action)): Path<(String, String, String, String)>,
) -> super::Page {
    let target = Target { namespace, workflow_id, run_id };
    let (title, fields) = match action.as_str() {
        "signal" => ("Signal", named_input("Signal name")),
        "query" => ("Query", named_input("Query type (e.g. __stack_trace)")),
        "update" => ("Update", named_input("Update name")),
        "cancel" => ("Request cancellation of", html! { p { "The workflow is asked to cancel; it decides how." } }),
        "terminate" => (
            "Terminate",
            html! {
                p { "The run ends at once, without running any more workflow code." }
                p { label for="reason" { "Reason" } br; input #reason name="reason" size="60"; }
            },
        ),
        "reset" => (
            "Reset",
            html! {
                p { "A new run continues from a workflow task of this one; a running run is terminated. \
                     Signals and updates sent after that point are applied again." }
                p {
                    label { input type="radio" name="point" value="first" checked; " First workflow task" } br;
                    label { input type="radio" name="point" value="last"; " Last workflow task" } br;
                    label { input type="radio" name="point" value="event"; " Event id " }
                    input name="event_id" size="8" inputmode="numeric";
                }
                p { label for="reason" { "Reason" } br; input #reason name="reason" size="60" required; }
            },
        ),
        _ => return Err(page_error(StatusCode::NOT_FOUND, "No such action.")),
    };
    Ok(page(layout::page(
        title,
        Some(&target.namespace),
        html! {
            h1 { (title) " " code { (target.workflow_id) } "?" }
            p { "Run " code { (target.run_id) } }
            form method="post" action={ (target.history().trim_end_matches("/history")) "/" (action) } {
                input type="hidden" name="csrf" value=(csrf_token());
                (fields)
                p {
                    button type="submit" { "Confirm: " (action) }
                    " "
                    a href=(target.history()) { "Back" }
                }
            }
        },
    )))
}

/// Does `action` on a run, then back to its history (or, for a query or
/// an update, shows the answer).
pub async fn act(
    State(frontend): State<Frontend>,
    Path((namespace, workflow_id, run_id, action)): Path<(String, String, String, String)>,
    headers: HeaderMap,
    Form(form): Form<ActionForm>,
) -> Result<Response, Response> {
    check(&headers, &form).map_err(refused)?;
    let target = Target { namespace, workflow_id, run_id };
    let request_id = uuid::Uuid::new_v4().to_string();
    let done = match action.as_str() {
        "query" | "update" => return answer(&frontend, &target, &action, &form).await,
        "signal" => {
            if form.name.trim().is_empty() {
                return Err(page_error(StatusCode::BAD_REQUEST, "A signal needs a name."));
            }
            let input = json_input(&form.input).map_err(refused)?;
            let request = SignalWorkflowExecutionRequest {
                namespace: target.namespace.clone(),
                workflow_execution: target.execution(),
                signal_name: form.name.trim().to_string(),
                input,
                identity: IDENTITY.to_string(),
                request_id,
                ..Default::default()
            };
            frontend.signal_workflow_execution(Request::new(request)).await.map(|_| ())
        }
        "cancel" => {
            let request = RequestCancelWorkflowExecutionRequest {
                namespace: target.namespace.clone(),
                workflow_execution: target.execution(),
                identity: IDENTITY.to_string(),
                request_id,
                reason: form.reason.clone(),
                ..Default::default()
            };
            frontend.request_cancel_workflow_execution(Request::new(request)).await.map(|_| ())
        }
        "reset" => return reset(&frontend, &target, &form, request_id).await,
        "terminate" => {
            let request = TerminateWorkflowExecutionRequest {
                namespace: target.namespace.clone(),
                workflow_execution: target.execution(),
                reason: form.reason.clone(),
                identity: IDENTITY.to_string(),
                ..Default::default()
            };
            frontend.terminate_workflow_execution(Request::new(request)).await.map(|_| ())
        }
        _ => return Err(page_error(StatusCode::NOT_FOUND, "No such action.")),
    };
    done.map_err(|s| status_page(&s))?;
    Ok(Redirect::to(&target.history()).into_response())
}

/// Resets the run to the chosen workflow task, then shows the new run.
async fn reset(
    frontend: &Frontend,
    target: &Target,
    form: &ActionForm,
    request_id: String,
) -> Result<Response, Response> {
    let event_id = match form.point.as_str() {
        "event" => form
            .event_id
            .trim()
            .parse::<i64>()
            .map_err(|_| page_error(StatusCode::BAD_REQUEST, "The event id is not a number."))?,
        which => {
            let events = frontend
                .history
                .read_history(&target.run_id, 1, 1_000_000)
                .await
                .map_err(|e| status_page(&crate::frontend::map_err(e)))?;
            chronicle_engine::workflow_task_point(&events, which == "last")
                .ok_or_else(|| page_error(StatusCode::BAD_REQUEST, "The run has no workflow task to reset to."))?
        }
    };
    let request = ResetWorkflowExecutionRequest {
        namespace: target.namespace.clone(),
        workflow_execution: target.execution(),
        reason: form.reason.clone(),
        workflow_task_finish_event_id: event_id,
        request_id,
        identity: IDENTITY.to_string(),
        ..Default::default()
    };
    let run_id = match frontend.reset_workflow_execution(Request::new(request)).await {
        Ok(r) => r.into_inner().run_id,
        Err(e) => return Err(status_page(&e)),
    };
    Ok(Redirect::to(&super::history_path(&target.namespace, &target.workflow_id, &run_id)).into_response())
}

/// The name and JSON input fields of a signal, query or update.
fn named_input(label: &str) -> maud::Markup {
    html! {
        p { label for="name" { (label) } br; input #name name="name" required; }
        p { label for="input" { "Input (JSON, one value; empty for none)" } br;
            textarea #input name="input" rows="6" cols="60" {} }
    }
}

/// Runs a query or an update and shows what the workflow answered.
async fn answer(frontend: &Frontend, target: &Target, action: &str, form: &ActionForm) -> Result<Response, Response> {
    let name = form.name.trim();
    if name.is_empty() {
        return Err(page_error(StatusCode::BAD_REQUEST, &format!("A {action} needs a name.")));
    }
    let input = json_input(&form.input).map_err(refused)?;
    let answered: Result<Option<Payloads>, String> = if action == "query" {
        let mut request = Request::new(QueryWorkflowRequest {
            namespace: target.namespace.clone(),
            execution: target.execution(),
            query: Some(WorkflowQuery { query_type: name.to_string(), query_args: input, ..Default::default() }),
            ..Default::default()
        });
        request.set_timeout(ANSWER_WAIT);
        match frontend.query_workflow(request).await {
            Ok(r) => match r.into_inner() {
                r if r.query_rejected.is_some() => Err("the workflow rejected the query (its status)".to_string()),
                r => Ok(r.query_result),
            },
            Err(e) => return Err(status_page(&e)),
        }
    } else {
        let mut request = Request::new(UpdateWorkflowExecutionRequest {
            namespace: target.namespace.clone(),
            workflow_execution: target.execution(),
            wait_policy: Some(WaitPolicy { lifecycle_stage: UpdateWorkflowExecutionLifecycleStage::Completed as i32 }),
            request: Some(UpdateRequest {
                meta: Some(Meta { update_id: uuid::Uuid::new_v4().to_string(), identity: IDENTITY.to_string() }),
                input: Some(UpdateInput { name: name.to_string(), args: input, ..Default::default() }),
                ..Default::default()
            }),
            ..Default::default()
        });
        request.set_timeout(ANSWER_WAIT);
        match frontend.update_workflow_execution(request).await {
            Ok(r) => match r.into_inner().outcome.and_then(|o| o.value) {
                Some(outcome::Value::Success(payloads)) => Ok(Some(payloads)),
                Some(outcome::Value::Failure(failure)) => Err(failure.message),
                None => Err("the update was accepted but has no outcome yet".to_string()),
            },
            Err(e) => return Err(status_page(&e)),
        }
    };
    let title = if action == "query" { "Query" } else { "Update" };
    Ok(page(layout::page(
        title,
        Some(&target.namespace),
        html! {
            h1 { (title) " " code { (name) } " of " code { (target.workflow_id) } }
            @match &answered {
                Ok(payloads) => { h2 { "Answer" } (super::workflow::payloads_text(payloads.as_ref())) }
                Err(message) => { h2 { "Failed" } p.error { (message) } }
            }
            p { a href=(target.history()) { "Back to the run" } }
        },
    ))
    .into_response())
}

/// The form's JSON text as one payload (none when empty).
pub(super) fn json_input(text: &str) -> Result<Option<Payloads>, Refusal> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| (StatusCode::BAD_REQUEST, format!("The input is not JSON: {e}")))?;
    let payload = Payload {
        metadata: [("encoding".to_string(), b"json/plain".to_vec())].into_iter().collect(),
        data: serde_json::to_vec(&value).unwrap_or_default(),
        ..Default::default()
    };
    Ok(Some(Payloads { payloads: vec![payload] }))
}
