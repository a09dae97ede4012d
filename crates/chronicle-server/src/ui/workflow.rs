//! One workflow run: its summary, pending work, and its event history,
//! paged from the newest end (a long history opens at once: one page is
//! read, not the whole), with each event's details and a download of the
//! whole history as JSON (the format `temporal workflow show -o json`
//! writes).

use super::workflows::time;
use super::{Page, encode, hex, history_path, layout, page, status_page, unhex};
use crate::frontend::Frontend;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chronicle_engine::api::common::v1::{Payloads, WorkflowExecution};
use chronicle_engine::api::enums::v1::EventType;
use chronicle_engine::api::history::v1::{History, HistoryEvent};
use chronicle_engine::api::workflowservice::v1::{
    DescribeWorkflowExecutionRequest, DescribeWorkflowExecutionResponse, GetWorkflowExecutionHistoryRequest,
    GetWorkflowExecutionHistoryReverseRequest,
};
use chronicle_proto::workflowservice::workflow_service_server::WorkflowService;
use maud::{Markup, html};
use tonic::Request;

/// Events per page of the history table.
const EVENTS_PER_PAGE: i32 = 100;

/// Payload text shown inline; past it, a preview and the download.
const PREVIEW_BYTES: usize = 4096;

#[derive(serde::Deserialize, Default)]
pub struct HistoryParams {
    /// The token of the page of older events (hex).
    #[serde(default)]
    older: String,
    /// Only events of this type on the page (e.g. `ActivityTaskScheduled`).
    #[serde(default)]
    r#type: String,
    /// Reload the page every few seconds (`on`).
    #[serde(default)]
    refresh: String,
}

/// Seconds between reloads of a page with live refresh on.
pub(super) const REFRESH_S: u32 = 5;

fn execution(workflow_id: &str, run_id: &str) -> Option<WorkflowExecution> {
    Some(WorkflowExecution { workflow_id: workflow_id.to_string(), run_id: run_id.to_string() })
}

async fn describe(
    frontend: &Frontend,
    namespace: &str,
    workflow_id: &str,
    run_id: &str,
) -> Result<DescribeWorkflowExecutionResponse, Response> {
    let request = DescribeWorkflowExecutionRequest {
        namespace: namespace.to_string(),
        execution: execution(workflow_id, run_id),
    };
    Ok(frontend.describe_workflow_execution(Request::new(request)).await.map_err(|s| status_page(&s))?.into_inner())
}

/// The latest run of a workflow id.
pub async fn latest(
    State(frontend): State<Frontend>,
    Path((namespace, workflow_id)): Path<(String, String)>,
) -> Result<Redirect, Response> {
    let described = describe(&frontend, &namespace, &workflow_id, "").await?;
    let run_id = described.workflow_execution_info.and_then(|i| i.execution).map(|e| e.run_id).unwrap_or_default();
    Ok(Redirect::to(&history_path(&namespace, &workflow_id, &run_id)))
}

pub async fn to_history(Path((namespace, workflow_id, run_id)): Path<(String, String, String)>) -> Redirect {
    Redirect::to(&history_path(&namespace, &workflow_id, &run_id))
}

/// An event's type without its prefix: `WorkflowExecutionStarted`.
fn event_name(event: &HistoryEvent) -> String {
    let name = EventType::try_from(event.event_type).map(|t| t.as_str_name()).unwrap_or("EVENT_TYPE_UNSPECIFIED");
    name.trim_start_matches("EVENT_TYPE_")
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_string() + &c.as_str().to_ascii_lowercase()).unwrap_or_default()
        })
        .collect()
}

/// Event JSON shown inline; past it, a preview (the download has it all).
const EVENT_JSON_PREVIEW_CHARS: usize = 16 * 1024;

/// An event as protobuf JSON, pretty-printed (its attributes, payloads as
/// base64 as Temporal writes them); a huge one cut to a preview, so a page
/// of events with megabyte payloads stays small.
fn event_json(event: &HistoryEvent) -> String {
    let json = chronicle_proto::json::to_json("temporal.api.history.v1.HistoryEvent", event)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| "(this event could not be shown as JSON)".to_string());
    if json.len() <= EVENT_JSON_PREVIEW_CHARS {
        return json;
    }
    let preview: String = json.chars().take(EVENT_JSON_PREVIEW_CHARS).collect();
    format!("{preview}\n… ({} bytes in all: the whole is in the JSON download)", json.len())
}

/// Payloads as text: JSON ones as themselves, others as their encoding and
/// size; a long one cut to a preview.
pub(super) fn payloads_text(payloads: Option<&Payloads>) -> Markup {
    let Some(payloads) = payloads.filter(|p| !p.payloads.is_empty()) else { return html! { "—" } };
    html! {
        @for p in &payloads.payloads {
            @let encoding = p.metadata.get("encoding").map(|e| String::from_utf8_lossy(e).to_string()).unwrap_or_default();
            @if encoding == "json/plain" && std::str::from_utf8(&p.data).is_ok() {
                @let text = String::from_utf8_lossy(&p.data);
                @if text.len() > PREVIEW_BYTES {
                    pre { (text.chars().take(PREVIEW_BYTES).collect::<String>()) "…" }
                    p { "(" (text.len()) " bytes: the whole is in the JSON download)" }
                } @else {
                    pre { (text) }
                }
            } @else {
                p { code { (if encoding.is_empty() { "no encoding" } else { encoding.as_str() }) } " payload, " (p.data.len()) " bytes" }
            }
        }
    }
}

pub async fn history(
    State(frontend): State<Frontend>,
    Path((namespace, workflow_id, run_id)): Path<(String, String, String)>,
    Query(p): Query<HistoryParams>,
) -> Page {
    let Some(token) = unhex(&p.older) else {
        return Err(super::page_error(StatusCode::BAD_REQUEST, "The page token is not valid."));
    };
    let described = describe(&frontend, &namespace, &workflow_id, &run_id).await?;
    let request = GetWorkflowExecutionHistoryReverseRequest {
        namespace: namespace.clone(),
        execution: execution(&workflow_id, &run_id),
        maximum_page_size: EVENTS_PER_PAGE,
        next_page_token: token,
    };
    let events = frontend
        .get_workflow_execution_history_reverse(Request::new(request))
        .await
        .map_err(|s| status_page(&s))?
        .into_inner();
    let info = described.workflow_execution_info.clone().unwrap_or_default();
    let run_id = info.execution.as_ref().map(|e| e.run_id.clone()).unwrap_or(run_id);
    let status = crate::visibility::fields::status_name(info.status);
    let ns = encode(&namespace);
    let here = history_path(&namespace, &workflow_id, &run_id);
    let shown: Vec<&HistoryEvent> = events
        .history
        .as_ref()
        .map(|h| h.events.iter().filter(|e| p.r#type.is_empty() || event_name(e) == p.r#type).collect())
        .unwrap_or_default();
    let config = described.execution_config.clone().unwrap_or_default();
    let newest = p.older.is_empty().then(|| events.history.as_ref().and_then(|h| h.events.first())).flatten();
    let (first, last) = ends(&frontend, &namespace, &workflow_id, &run_id, newest).await;
    let family = family(&frontend, &namespace, &workflow_id, &run_id, first.as_ref(), last.as_ref()).await;
    let live = p.refresh == "on";
    let refresh_link = format!("{here}?type={}{}", encode(&p.r#type), if live { "" } else { "&refresh=on" });
    let actions = here.trim_end_matches("/history");
    Ok(page(layout::refreshing(
        &workflow_id,
        Some(&namespace),
        live.then_some(REFRESH_S),
        html! {
            h1 { "Workflow " code { (workflow_id) } }
            dl.summary {
                dt { "Status" } dd class={ "status status-" (status) } { (status) }
                dt { "Type" } dd { (info.r#type.as_ref().map(|t| t.name.as_str()).unwrap_or_default()) }
                dt { "Run id" } dd.mono { (run_id) }
                dt { "Task queue" }
                dd { @if let Some(q) = &config.task_queue {
                    a href={ "/namespaces/" (ns) "/task-queues/" (encode(&q.name)) } { (q.name) }
                } }
                dt { "Start" } dd { (time(info.start_time.as_ref())) }
                dt { "Close" } dd { (time(info.close_time.as_ref())) }
                @if info.close_time.is_some() { dt { "Took" } dd { (took(info.start_time.as_ref(), info.close_time.as_ref())) } }
                (outcome(first.as_ref(), last.as_ref()))
                dt { "History" } dd { (info.history_length) " events" }
                @if let Some(parent) = &info.parent_execution {
                    dt { "Parent" }
                    dd { a href=(history_path(&namespace, &parent.workflow_id, &parent.run_id)) { (parent.workflow_id) } }
                }
                @if let Some(fields) = info.search_attributes.as_ref().map(|s| &s.indexed_fields).filter(|f| !f.is_empty()) {
                    dt { "Search attributes" }
                    dd { @for (name, value) in fields { code { (name) } " = " (String::from_utf8_lossy(&value.data)) br; } }
                }
                @if let Some(fields) = info.memo.as_ref().map(|m| &m.fields).filter(|f| !f.is_empty()) {
                    dt { "Memo" }
                    dd { @for (name, value) in fields { code { (name) } " = " (String::from_utf8_lossy(&value.data)) br; } }
                }
            }
            nav.filters aria-label="actions" {
                @if status == "Running" {
                    a href={ (actions) "/signal" } { "Signal" }
                    a href={ (actions) "/update" } { "Update" }
                }
                a href={ (actions) "/query" } { "Query" }
                @if status == "Running" {
                    a href={ (actions) "/cancel" } { "Request cancellation" }
                    a href={ (actions) "/terminate" } { "Terminate" }
                    a href={ (actions) "/call-stack" } { "Call stack" }
                }
                a href={ (actions) "/reset" } { "Reset" }
                a href=(refresh_link) { (if live { "Stop live refresh" } else { "Live refresh" }) }
            }
            (family)
            @if !described.pending_activities.is_empty() {
                h2 { "Pending activities" }
                div.scroll { table {
                    thead { tr { th { "Activity id" } th { "Type" } th { "State" } th { "Attempt" } th { "Last failure" } th { "Last heartbeat" } } }
                    tbody { @for a in &described.pending_activities { tr {
                        td.mono { (a.activity_id) }
                        td { (a.activity_type.as_ref().map(|t| t.name.as_str()).unwrap_or_default()) }
                        td { (a.state().as_str_name().trim_start_matches("PENDING_ACTIVITY_STATE_")) }
                        td { (a.attempt) }
                        td { (a.last_failure.as_ref().map(|f| f.message.as_str()).unwrap_or_default()) }
                        td { (time(a.last_heartbeat_time.as_ref())) }
                    } } }
                } }
            }
            @if !described.pending_children.is_empty() {
                h2 { "Pending children" }
                ul { @for c in &described.pending_children {
                    li { a href=(history_path(&namespace, &c.workflow_id, &c.run_id)) { (c.workflow_id) } " (" (c.workflow_type_name) ")" }
                } }
            }
            h2 { "Event history" }
            p {
                a href={ (here) ".json" } download { "Download the whole history (JSON)" }
            }
            (timeline(&shown))
            form.search method="get" action=(here) {
                label for="type" { "Event type" }
                input #type name="type" value=(p.r#type) placeholder="e.g. ActivityTaskScheduled";
                button type="submit" { "Filter this page" }
            }
            div.scroll { table {
                thead { tr { th { "Id" } th { "Time" } th { "Type" } th { "Details" } } }
                tbody { @for e in &shown { tr id={ "event-" (e.event_id) } {
                    td { (e.event_id) }
                    td.mono { (time(e.event_time.as_ref())) }
                    td { (event_name(e)) }
                    td { (details(e)) }
                } } }
            } }
            div.pager {
                @if !events.next_page_token.is_empty() {
                    a href={ (here) "?older=" (hex(&events.next_page_token)) "&type=" (encode(&p.r#type)) } { "Older events" }
                }
            }
        },
    )))
}

/// A run's first and last events: where it came from (and its input),
/// where it went (and its result or failure). The last is on the newest
/// page of the history when that page is shown.
async fn ends(
    frontend: &Frontend,
    namespace: &str,
    workflow_id: &str,
    run_id: &str,
    newest: Option<&HistoryEvent>,
) -> (Option<HistoryEvent>, Option<HistoryEvent>) {
    let first = frontend
        .get_workflow_execution_history(Request::new(GetWorkflowExecutionHistoryRequest {
            namespace: namespace.to_string(),
            execution: execution(workflow_id, run_id),
            maximum_page_size: 1,
            ..Default::default()
        }))
        .await
        .ok()
        .and_then(|r| r.into_inner().history)
        .and_then(|h| h.events.into_iter().next());
    let last = match newest {
        Some(event) => Some(event.clone()),
        None => {
            let request = GetWorkflowExecutionHistoryReverseRequest {
                namespace: namespace.to_string(),
                execution: execution(workflow_id, run_id),
                maximum_page_size: 1,
                next_page_token: Vec::new(),
            };
            let page = frontend.get_workflow_execution_history_reverse(Request::new(request)).await.ok();
            page.and_then(|p| p.into_inner().history).and_then(|h| h.events.into_iter().next())
        }
    };
    (first, last)
}

/// The run's input and, once closed, its result or failure and how long
/// it took.
fn outcome(first: Option<&HistoryEvent>, last: Option<&HistoryEvent>) -> Markup {
    use chronicle_engine::api::history::v1::history_event::Attributes::*;
    let input = match first.and_then(|e| e.attributes.as_ref()) {
        Some(WorkflowExecutionStartedEventAttributes(a)) => a.input.as_ref(),
        _ => None,
    };
    let failure = |f: Option<&chronicle_engine::api::failure::v1::Failure>| {
        html! { p.error { (f.map(|f| f.message.as_str()).unwrap_or_default()) } }
    };
    let (label, shown) = match last.and_then(|e| e.attributes.as_ref()) {
        Some(WorkflowExecutionCompletedEventAttributes(a)) => ("Result", payloads_text(a.result.as_ref())),
        Some(WorkflowExecutionFailedEventAttributes(a)) => ("Failure", failure(a.failure.as_ref())),
        Some(WorkflowExecutionTerminatedEventAttributes(a)) => ("Terminated", html! { (a.reason) }),
        Some(WorkflowExecutionCanceledEventAttributes(a)) => ("Canceled", payloads_text(a.details.as_ref())),
        _ => ("", html! {}),
    };
    html! {
        dt { "Input" } dd { (payloads_text(input)) }
        @if !label.is_empty() { dt { (label) } dd { (shown) } }
    }
}

/// How long from `start` to `close`, as `1h 2m 3.004s`.
fn took(start: Option<&prost_types::Timestamp>, close: Option<&prost_types::Timestamp>) -> String {
    let (Some(start), Some(close)) = (start, close) else { return String::new() };
    let millis = (close.seconds - start.seconds) * 1000 + i64::from(close.nanos - start.nanos) / 1_000_000;
    let (h, m, s) = (millis / 3_600_000, millis / 60_000 % 60, millis % 60_000);
    let seconds = format!("{}.{:03}s", s / 1000, s % 1000);
    match (h, m) {
        (0, 0) => seconds,
        (0, m) => format!("{m}m {seconds}"),
        (h, m) => format!("{h}h {m}m {seconds}"),
    }
}

/// The run's family, each a link: the run it continued from and the one
/// that continued it (continue-as-new, retries, cron) and its children
/// (from visibility, so closed ones too). Its parent is in the summary.
async fn family(
    frontend: &Frontend,
    namespace: &str,
    workflow_id: &str,
    run_id: &str,
    first: Option<&HistoryEvent>,
    last: Option<&HistoryEvent>,
) -> Markup {
    use chronicle_engine::api::history::v1::history_event::Attributes::*;
    use chronicle_engine::api::workflowservice::v1::ListWorkflowExecutionsRequest;
    let ns = encode(namespace);
    let link = |wid: &str, rid: &str, text: &str| {
        html! { a href=(history_path(namespace, wid, rid)) { (text) } }
    };
    let previous = match first.and_then(|e| e.attributes.as_ref()) {
        Some(WorkflowExecutionStartedEventAttributes(a)) => {
            Some(a.continued_execution_run_id.clone()).filter(|r| !r.is_empty())
        }
        _ => None,
    };
    let next = match last.and_then(|e| e.attributes.as_ref()) {
        Some(WorkflowExecutionContinuedAsNewEventAttributes(a)) => Some(a.new_execution_run_id.clone()),
        Some(WorkflowExecutionCompletedEventAttributes(a)) => Some(a.new_execution_run_id.clone()),
        Some(WorkflowExecutionFailedEventAttributes(a)) => Some(a.new_execution_run_id.clone()),
        Some(WorkflowExecutionTimedOutEventAttributes(a)) => Some(a.new_execution_run_id.clone()),
        _ => None,
    }
    .filter(|r| !r.is_empty());
    let children_query = format!(
        "ParentWorkflowId = '{}' AND ParentRunId = '{}'",
        super::workflows::quote(workflow_id),
        super::workflows::quote(run_id)
    );
    let children = frontend
        .list_workflow_executions(Request::new(ListWorkflowExecutionsRequest {
            namespace: namespace.to_string(),
            page_size: FAMILY_CHILDREN_SHOWN,
            query: children_query.clone(),
            ..Default::default()
        }))
        .await
        .map(tonic::Response::into_inner)
        .unwrap_or_default();
    if previous.is_none() && next.is_none() && children.executions.is_empty() {
        return html! {};
    }
    html! {
        h2 { "Family" }
        dl.summary {
            @if let Some(previous) = &previous { dt { "Continued from" } dd.mono { (link(workflow_id, previous, previous)) } }
            @if let Some(next) = &next { dt { "Continued as" } dd.mono { (link(workflow_id, next, next)) } }
            @if !children.executions.is_empty() {
                dt { "Children" }
                dd {
                    @for c in &children.executions {
                        @let e = c.execution.clone().unwrap_or_default();
                        (link(&e.workflow_id, &e.run_id, &e.workflow_id)) " "
                        span class={ "status status-" (crate::visibility::fields::status_name(c.status)) } {
                            (crate::visibility::fields::status_name(c.status))
                        }
                        br;
                    }
                    @if !children.next_page_token.is_empty() {
                        a href={ "/namespaces/" (ns) "/workflows?query=" (encode(&children_query)) } { "All children" }
                    }
                }
            }
        }
    }
}

/// Children listed on a run's page; past it, a link to the whole list.
const FAMILY_CHILDREN_SHOWN: i32 = 20;

/// What kind of work an event is part of, for the timeline's colours.
fn category(name: &str) -> &'static str {
    const KINDS: [(&str, &str); 8] = [
        ("WorkflowTask", "task"),
        ("ActivityTask", "activity"),
        ("Timer", "timer"),
        ("WorkflowExecutionSignaled", "message"),
        ("WorkflowExecutionUpdate", "message"),
        ("ChildWorkflow", "child"),
        ("StartChildWorkflow", "child"),
        ("WorkflowExecution", "workflow"),
    ];
    KINDS.iter().find(|(prefix, _)| name.starts_with(prefix)).map_or("other", |(_, kind)| kind)
}

/// The page's events as a compact strip, oldest on the left, one mark per
/// event coloured by its kind, each a link to its row (the rows are the
/// keyboard's way in: the marks are skipped by Tab).
fn timeline(events: &[&HistoryEvent]) -> Markup {
    html! {
        div.timeline role="img" aria-label="timeline of the events on this page" {
            @for e in events.iter().rev() {
                @let name = event_name(e);
                a class={ "tl tl-" (category(&name)) } href={ "#event-" (e.event_id) } tabindex="-1"
                    title={ (e.event_id) " " (name) } {}
            }
        }
        p.legend {
            @for kind in ["workflow", "task", "activity", "timer", "message", "child", "other"] {
                span class={ "tl tl-" (kind) } {} " " (kind) " "
            }
        }
    }
}

/// What an event says, in brief, with its whole JSON one click away.
fn details(e: &HistoryEvent) -> Markup {
    use chronicle_engine::api::history::v1::history_event::Attributes::*;
    let brief = match &e.attributes {
        Some(WorkflowExecutionStartedEventAttributes(a)) => Some(payloads_text(a.input.as_ref())),
        Some(WorkflowExecutionCompletedEventAttributes(a)) => Some(payloads_text(a.result.as_ref())),
        Some(ActivityTaskCompletedEventAttributes(a)) => Some(payloads_text(a.result.as_ref())),
        Some(ActivityTaskScheduledEventAttributes(a)) => Some(payloads_text(a.input.as_ref())),
        Some(WorkflowExecutionSignaledEventAttributes(a)) => {
            Some(html! { code { (a.signal_name) } (payloads_text(a.input.as_ref())) })
        }
        Some(WorkflowExecutionFailedEventAttributes(a)) => {
            a.failure.as_ref().map(|f| html! { p.error { (f.message) } })
        }
        Some(ActivityTaskFailedEventAttributes(a)) => a.failure.as_ref().map(|f| html! { p.error { (f.message) } }),
        _ => None,
    };
    html! {
        @if let Some(brief) = brief { (brief) }
        details { summary { "JSON" } pre { (event_json(e)) } }
    }
}

/// The whole history as JSON, as a download.
pub async fn download(
    State(frontend): State<Frontend>,
    Path((namespace, workflow_id, run_id)): Path<(String, String, String)>,
) -> Result<Response, Response> {
    let mut history = History::default();
    let mut token = Vec::new();
    loop {
        let request = GetWorkflowExecutionHistoryRequest {
            namespace: namespace.clone(),
            execution: execution(&workflow_id, &run_id),
            next_page_token: token,
            ..Default::default()
        };
        let page = frontend
            .get_workflow_execution_history(Request::new(request))
            .await
            .map_err(|s| status_page(&s))?
            .into_inner();
        history.events.extend(page.history.map(|h| h.events).unwrap_or_default());
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let json = chronicle_proto::json::to_json("temporal.api.history.v1.History", &history)
        .map_err(|e| super::page_error(StatusCode::INTERNAL_SERVER_ERROR, &e))?;
    let body = serde_json::to_string_pretty(&json).unwrap_or_default();
    let name: String =
        workflow_id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}.json\"")),
        ],
        body,
    )
        .into_response())
}

/// How long the call stack page waits for a worker to answer.
const STACK_TRACE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The run's call stack, as its worker reports it (the `__stack_trace`
/// query every SDK answers); a run no worker holds says so.
pub async fn call_stack(
    State(frontend): State<Frontend>,
    Path((namespace, workflow_id, run_id)): Path<(String, String, String)>,
) -> Page {
    use chronicle_engine::api::query::v1::WorkflowQuery;
    use chronicle_engine::api::workflowservice::v1::QueryWorkflowRequest;
    let mut request = Request::new(QueryWorkflowRequest {
        namespace: namespace.clone(),
        execution: execution(&workflow_id, &run_id),
        query: Some(WorkflowQuery { query_type: "__stack_trace".into(), ..Default::default() }),
        ..Default::default()
    });
    request.set_timeout(STACK_TRACE_WAIT);
    let answer = frontend.query_workflow(request).await;
    let here = history_path(&namespace, &workflow_id, &run_id);
    Ok(page(layout::page(
        "Call stack",
        Some(&namespace),
        html! {
            h1 { "Call stack of " code { (workflow_id) } }
            @match &answer {
                Ok(answer) => {
                    @let text: Vec<String> = answer.get_ref().query_result.iter().flat_map(|p| &p.payloads)
                        .map(|p| serde_json::from_slice::<String>(&p.data).unwrap_or_else(|_| String::from_utf8_lossy(&p.data).into_owned()))
                        .collect();
                    pre { (text.join("\n")) }
                }
                Err(e) => p.error { "No call stack: " (e.message()) " (a worker must be running the workflow's task queue)" }
            }
            p { a href=(here) { "Back to the history" } }
        },
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_event_is_shown_as_a_preview() {
        use chronicle_engine::api::history::v1::{WorkflowExecutionSignaledEventAttributes, history_event::Attributes};
        let payload = chronicle_engine::api::common::v1::Payload { data: vec![7; 1 << 20], ..Default::default() };
        let event = HistoryEvent {
            event_type: EventType::WorkflowExecutionSignaled as i32,
            attributes: Some(Attributes::WorkflowExecutionSignaledEventAttributes(
                WorkflowExecutionSignaledEventAttributes {
                    input: Some(Payloads { payloads: vec![payload] }),
                    ..Default::default()
                },
            )),
            ..Default::default()
        };
        let shown = event_json(&event);
        assert!(shown.len() < EVENT_JSON_PREVIEW_CHARS + 200, "{}", shown.len());
        assert!(shown.ends_with("the whole is in the JSON download)"));
    }

    #[test]
    fn event_names_read_as_temporal_writes_them() {
        let e = HistoryEvent { event_type: EventType::ActivityTaskScheduled as i32, ..Default::default() };
        assert_eq!(event_name(&e), "ActivityTaskScheduled");
    }
}
