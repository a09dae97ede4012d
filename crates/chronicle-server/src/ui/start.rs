//! Start a workflow from the UI: its id, type, task queue and JSON input,
//! behind the same CSRF token as every action.

use super::actions::{IDENTITY, check_form, csrf_token};
use super::{encode, layout, page, page_error, status_page};
use crate::frontend::Frontend;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Redirect, Response};
use chronicle_engine::api::common::v1::WorkflowType;
use chronicle_engine::api::taskqueue::v1::TaskQueue;
use chronicle_engine::api::workflowservice::v1::StartWorkflowExecutionRequest;
use chronicle_proto::workflowservice::workflow_service_server::WorkflowService;
use maud::html;
use tonic::Request;

#[derive(serde::Deserialize, Default)]
pub struct StartForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    workflow_id: String,
    #[serde(default)]
    workflow_type: String,
    #[serde(default)]
    task_queue: String,
    #[serde(default)]
    input: String,
}

pub async fn form(Path(namespace): Path<String>) -> super::Page {
    let action = format!("/namespaces/{}/workflows/start-workflow", encode(&namespace));
    Ok(page(layout::page(
        "Start a workflow",
        Some(&namespace),
        html! {
            h1 { "Start a workflow" }
            form method="post" action=(action) {
                input type="hidden" name="csrf" value=(csrf_token());
                p { label for="workflow_id" { "Workflow id" } br;
                    input #workflow_id name="workflow_id" size="60" value=(uuid::Uuid::new_v4()) required; }
                p { label for="workflow_type" { "Workflow type" } br; input #workflow_type name="workflow_type" size="60" required; }
                p { label for="task_queue" { "Task queue" } br; input #task_queue name="task_queue" size="60" required; }
                p { label for="input" { "Input (JSON, one value; empty for none)" } br;
                    textarea #input name="input" rows="6" cols="60" {} }
                p { button type="submit" { "Start" } }
            }
        },
    )))
}

/// Starts the workflow, then opens its run.
pub async fn start(
    State(frontend): State<Frontend>,
    Path(namespace): Path<String>,
    headers: HeaderMap,
    Form(form): Form<StartForm>,
) -> Result<Redirect, Response> {
    check_form(&headers, &form.csrf).map_err(super::actions::refused)?;
    let (workflow_id, workflow_type, task_queue) =
        (form.workflow_id.trim(), form.workflow_type.trim(), form.task_queue.trim());
    if workflow_id.is_empty() || workflow_type.is_empty() || task_queue.is_empty() {
        return Err(page_error(StatusCode::BAD_REQUEST, "A workflow id, a workflow type and a task queue are needed."));
    }
    let input = super::actions::json_input(&form.input).map_err(super::actions::refused)?;
    let request = StartWorkflowExecutionRequest {
        namespace: namespace.clone(),
        workflow_id: workflow_id.to_string(),
        workflow_type: Some(WorkflowType { name: workflow_type.to_string() }),
        task_queue: Some(TaskQueue { name: task_queue.to_string(), ..Default::default() }),
        input,
        identity: IDENTITY.to_string(),
        request_id: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    };
    let started =
        frontend.start_workflow_execution(Request::new(request)).await.map_err(|s| status_page(&s))?.into_inner();
    Ok(Redirect::to(&super::history_path(&namespace, workflow_id, &started.run_id)))
}
