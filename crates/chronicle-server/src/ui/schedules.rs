//! The namespace's schedules: the list, one schedule's spec, action,
//! recent and upcoming runs, and pause / unpause / trigger / delete, each
//! confirmed and sent with the CSRF token every action carries.

use super::actions::{IDENTITY, check_form, csrf_token};
use super::workflows::time;
use super::{Page, encode, layout, page, page_error, status_page};
use crate::frontend::Frontend;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Redirect, Response};
use chronicle_engine::api::schedule::v1::{SchedulePatch, TriggerImmediatelyRequest, schedule_action};
use chronicle_engine::api::workflowservice::v1::{
    DeleteScheduleRequest, DescribeScheduleRequest, ListSchedulesRequest, PatchScheduleRequest,
};
use chronicle_proto::workflowservice::workflow_service_server::WorkflowService;
use maud::{Markup, html};
use tonic::Request;

pub async fn schedules(State(frontend): State<Frontend>, Path(namespace): Path<String>) -> Page {
    let request = ListSchedulesRequest { namespace: namespace.clone(), maximum_page_size: 1000, ..Default::default() };
    let listed = frontend.list_schedules(Request::new(request)).await.map_err(|s| status_page(&s))?.into_inner();
    let ns = encode(&namespace);
    Ok(page(layout::page(
        "Schedules",
        Some(&namespace),
        html! {
            h1 { "Schedules" }
            @if listed.schedules.is_empty() {
                p { "No schedules." }
            } @else {
                div.scroll { table {
                    thead { tr { th { "Schedule id" } th { "Workflow type" } th { "State" } th { "Next run" } th { "Last runs" } } }
                    tbody { @for s in &listed.schedules {
                        @let info = s.info.clone().unwrap_or_default();
                        tr {
                            td.id { a href={ "/namespaces/" (ns) "/schedules/" (encode(&s.schedule_id)) } { (s.schedule_id) } }
                            td { (info.workflow_type.as_ref().map(|t| t.name.as_str()).unwrap_or_default()) }
                            td { (if info.paused { "Paused" } else { "Active" }) }
                            td.mono { (time(info.future_action_times.first())) }
                            td { @for a in info.recent_actions.iter().rev().take(3) {
                                @if let Some(run) = &a.start_workflow_result {
                                    (run_link(&namespace, &run.workflow_id, &run.run_id, &time(a.actual_time.as_ref())))
                                    br;
                                }
                            } }
                        }
                    } }
                } }
            }
        },
    )))
}

fn run_link(namespace: &str, workflow_id: &str, run_id: &str, text: &str) -> Markup {
    html! { a href=(super::history_path(namespace, workflow_id, run_id)) { (text) } }
}

/// A duration as Temporal's CLI writes it: `1h`, `90s`, `1.5s`.
fn duration(d: Option<&prost_types::Duration>) -> String {
    let Some(d) = d else { return "0s".into() };
    let seconds = d.seconds as f64 + f64::from(d.nanos) / 1e9;
    if d.nanos == 0 && d.seconds % 3600 == 0 && d.seconds > 0 {
        format!("{}h", d.seconds / 3600)
    } else if d.nanos == 0 && d.seconds % 60 == 0 && d.seconds > 0 {
        format!("{}m", d.seconds / 60)
    } else {
        format!("{seconds}s")
    }
}

pub async fn schedule(
    State(frontend): State<Frontend>,
    Path((namespace, schedule_id)): Path<(String, String)>,
) -> Page {
    let request = DescribeScheduleRequest { namespace: namespace.clone(), schedule_id: schedule_id.clone() };
    let described = frontend.describe_schedule(Request::new(request)).await.map_err(|s| status_page(&s))?.into_inner();
    let ns = encode(&namespace);
    let here = format!("/namespaces/{ns}/schedules/{}", encode(&schedule_id));
    let schedule = described.schedule.unwrap_or_default();
    let spec = schedule.spec.unwrap_or_default();
    let state = schedule.state.unwrap_or_default();
    let info = described.info.unwrap_or_default();
    let start = match schedule.action.and_then(|a| a.action) {
        Some(schedule_action::Action::StartWorkflow(start)) => Some(start),
        _ => None,
    };
    let spec_json = chronicle_proto::json::to_json("temporal.api.schedule.v1.ScheduleSpec", &spec)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_default();
    Ok(page(layout::page(
        &schedule_id,
        Some(&namespace),
        html! {
            h1 { "Schedule " code { (schedule_id) } }
            dl.summary {
                dt { "State" } dd { (if state.paused { "Paused" } else { "Active" }) }
                @if !state.notes.is_empty() { dt { "Note" } dd { (state.notes) } }
                @if state.limited_actions { dt { "Actions left" } dd { (state.remaining_actions) } }
                @if let Some(start) = &start {
                    dt { "Workflow type" } dd { (start.workflow_type.as_ref().map(|t| t.name.as_str()).unwrap_or_default()) }
                    dt { "Workflow id" } dd.mono { (start.workflow_id) }
                    dt { "Task queue" } dd { @if let Some(q) = &start.task_queue {
                        a href={ "/namespaces/" (ns) "/task-queues/" (encode(&q.name)) } { (q.name) }
                    } }
                }
                dt { "Every" } dd { @for i in &spec.interval { (duration(i.interval.as_ref()))
                    @if i.phase.is_some() { " (offset " (duration(i.phase.as_ref())) ")" } br; } }
                @if !spec.cron_string.is_empty() { dt { "Cron" } dd.mono { @for c in &spec.cron_string { (c) br; } } }
                @if !spec.timezone_name.is_empty() { dt { "Time zone" } dd { (spec.timezone_name) } }
                dt { "Actions taken" } dd { (info.action_count) }
                dt { "Created" } dd.mono { (time(info.create_time.as_ref())) }
            }
            nav.filters aria-label="actions" {
                @if state.paused { a href={ (here) "/unpause" } { "Unpause" } } @else { a href={ (here) "/pause" } { "Pause" } }
                a href={ (here) "/trigger" } { "Trigger now" }
                a href={ (here) "/delete" } { "Delete" }
            }
            h2 { "Spec" }
            pre { (spec_json) }
            h2 { "Running" }
            @if info.running_workflows.is_empty() { p { "None." } }
            ul { @for w in &info.running_workflows { li { (run_link(&namespace, &w.workflow_id, &w.run_id, &w.workflow_id)) } } }
            h2 { "Recent actions" }
            @if info.recent_actions.is_empty() { p { "None yet." } }
            ul { @for a in info.recent_actions.iter().rev() {
                li { (time(a.schedule_time.as_ref()))
                    @if let Some(run) = &a.start_workflow_result { " → " (run_link(&namespace, &run.workflow_id, &run.run_id, &run.workflow_id)) }
                }
            } }
            h2 { "Upcoming" }
            ul { @for t in &info.future_action_times { li.mono { (time(Some(t))) } } }
        },
    )))
}

#[derive(serde::Deserialize, Default)]
pub struct ScheduleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    note: String,
}

/// What a schedule action does, in a sentence (None: no such action).
fn describe_action(action: &str) -> Option<&'static str> {
    Some(match action {
        "pause" => "No more workflows start until it is unpaused.",
        "unpause" => "Workflows start again as the spec says.",
        "trigger" => "One workflow starts now, as if the spec said so.",
        "delete" => "The schedule is removed; workflows it started keep running.",
        _ => return None,
    })
}

pub async fn confirm(Path((namespace, schedule_id, action)): Path<(String, String, String)>) -> Page {
    let Some(what) = describe_action(&action) else { return Err(page_error(StatusCode::NOT_FOUND, "No such action.")) };
    let here = format!("/namespaces/{}/schedules/{}", encode(&namespace), encode(&schedule_id));
    Ok(page(layout::page(
        &action,
        Some(&namespace),
        html! {
            h1 { (action) " schedule " code { (schedule_id) } "?" }
            p { (what) }
            form method="post" action={ (here) "/" (action) } {
                input type="hidden" name="csrf" value=(csrf_token());
                @if action == "pause" || action == "unpause" {
                    p { label for="note" { "Note" } br; input #note name="note" size="60"; }
                }
                p { button type="submit" { "Confirm: " (action) } " " a href=(here) { "Back" } }
            }
        },
    )))
}

pub async fn act(
    State(frontend): State<Frontend>,
    Path((namespace, schedule_id, action)): Path<(String, String, String)>,
    headers: HeaderMap,
    Form(form): Form<ScheduleForm>,
) -> Result<Redirect, Response> {
    check_form(&headers, &form.csrf).map_err(super::actions::refused)?;
    let note = if form.note.trim().is_empty() { format!("{action}d from the web UI") } else { form.note.clone() };
    let patch = match action.as_str() {
        "pause" => SchedulePatch { pause: note, ..Default::default() },
        "unpause" => SchedulePatch { unpause: note, ..Default::default() },
        "trigger" => {
            SchedulePatch { trigger_immediately: Some(TriggerImmediatelyRequest::default()), ..Default::default() }
        }
        "delete" => {
            let request =
                DeleteScheduleRequest { namespace: namespace.clone(), schedule_id, identity: IDENTITY.to_string() };
            frontend.delete_schedule(Request::new(request)).await.map_err(|s| status_page(&s))?;
            return Ok(Redirect::to(&format!("/namespaces/{}/schedules", encode(&namespace))));
        }
        _ => return Err(page_error(StatusCode::NOT_FOUND, "No such action.")),
    };
    let request = PatchScheduleRequest {
        namespace: namespace.clone(),
        schedule_id: schedule_id.clone(),
        patch: Some(patch),
        identity: IDENTITY.to_string(),
        request_id: uuid::Uuid::new_v4().to_string(),
    };
    frontend.patch_schedule(Request::new(request)).await.map_err(|s| status_page(&s))?;
    Ok(Redirect::to(&format!("/namespaces/{}/schedules/{}", encode(&namespace), encode(&schedule_id))))
}
