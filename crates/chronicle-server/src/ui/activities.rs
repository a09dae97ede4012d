//! Standalone activities (started without a workflow): the list (search by
//! id or filter, counts per status, paging) and an activity's page (its
//! state, timeouts, last failure, input and outcome).

use super::workflow::payloads_text;
use super::workflows::{quote, time};
use super::{Page, encode, hex, layout, page, status_page, unhex};
use crate::frontend::Frontend;
use axum::extract::{Path, Query, State};
use chronicle_engine::api::activity::v1::{ActivityExecutionListInfo, activity_execution_outcome};
use chronicle_engine::api::enums::v1::PendingActivityState;
use chronicle_engine::api::workflowservice::v1::{
    CountActivityExecutionsRequest, DescribeActivityExecutionRequest, ListActivityExecutionsRequest,
};
use chronicle_proto::workflowservice::workflow_service_server::WorkflowService;
use maud::{Markup, html};
use tonic::Request;

const PAGE_SIZE: i32 = 50;

const STATUSES: [&str; 6] = ["Running", "Completed", "Failed", "Canceled", "Terminated", "TimedOut"];

#[derive(serde::Deserialize, Default)]
pub struct ListParams {
    /// An activity id, or a filter in Temporal's language.
    #[serde(default)]
    query: String,
    #[serde(default)]
    next: String,
}

/// A plain id searches that id; anything with `=` or a space is a filter.
fn filter_of(input: &str) -> String {
    let input = input.trim();
    if input.is_empty() || input.contains('=') || input.contains(char::is_whitespace) {
        input.to_string()
    } else {
        format!("ActivityId = '{}'", quote(input))
    }
}

fn activity_path(namespace: &str, activity_id: &str, run_id: &str) -> String {
    format!("/namespaces/{}/activities/{}/{}", encode(namespace), encode(activity_id), encode(run_id))
}

pub async fn list(
    State(frontend): State<Frontend>,
    Path(namespace): Path<String>,
    Query(p): Query<ListParams>,
) -> Page {
    let Some(token) = unhex(&p.next) else {
        return Err(super::page_error(axum::http::StatusCode::BAD_REQUEST, "The page token is not valid."));
    };
    let filter = filter_of(&p.query);
    let request = ListActivityExecutionsRequest {
        namespace: namespace.clone(),
        page_size: PAGE_SIZE,
        next_page_token: token,
        query: filter.clone(),
    };
    let listed = frontend.list_activity_executions(Request::new(request)).await.map_err(|s| status_page(&s))?;
    let listed = listed.into_inner();
    let counts = counts(&frontend, &namespace, &filter).await;
    let base = format!("/namespaces/{}/activities", encode(&namespace));
    Ok(page(layout::page(
        "Standalone activities",
        Some(&namespace),
        html! {
            h1 { "Standalone activities" }
            form.search method="get" action=(base) role="search" {
                label for="query" { "Search" }
                input #query type="search" name="query" value=(p.query)
                    placeholder="An activity id, or a filter: ActivityType = 'Charge' AND ExecutionStatus = 'Running'";
                button type="submit" { "Search" }
            }
            nav.filters aria-label="filters" {
                a href=(base) { "All" }
                @for status in STATUSES {
                    a href={ (base) "?query=" (encode(&format!("ExecutionStatus = '{status}'"))) } {
                        (status)
                        @if let Some(n) = counts.iter().find(|(s, _)| s == status).map(|(_, n)| n) { " (" (n) ")" }
                    }
                }
            }
            @if listed.executions.is_empty() {
                p { "No standalone activities match." }
            } @else {
                div.scroll { table {
                    thead { tr { th { "Status" } th { "Activity id" } th { "Run id" } th { "Type" } th { "Task queue" } th { "Scheduled" } th { "Closed" } } }
                    tbody { @for a in &listed.executions { (row(&namespace, a)) } }
                } }
            }
            div.pager {
                @if !listed.next_page_token.is_empty() {
                    a href={ (base) "?query=" (encode(&p.query)) "&next=" (hex(&listed.next_page_token)) } { "Next page" }
                }
            }
        },
    )))
}

fn row(namespace: &str, a: &ActivityExecutionListInfo) -> Markup {
    let status = crate::visibility::fields::activity_status_name(a.status);
    html! {
        tr {
            td class={ "status status-" (status) } { (status) }
            td.id { a href=(activity_path(namespace, &a.activity_id, &a.run_id)) { (a.activity_id) } }
            td.mono { (a.run_id) }
            td { (a.activity_type.as_ref().map(|t| t.name.as_str()).unwrap_or_default()) }
            td { a href={ "/namespaces/" (encode(namespace)) "/task-queues/" (encode(&a.task_queue)) } { (a.task_queue) } }
            td.mono { (time(a.schedule_time.as_ref())) }
            td.mono { (time(a.close_time.as_ref())) }
        }
    }
}

async fn counts(frontend: &Frontend, namespace: &str, filter: &str) -> Vec<(String, i64)> {
    let Some(query) = super::workflows::by_status(filter) else { return Vec::new() };
    let request = CountActivityExecutionsRequest { namespace: namespace.to_string(), query };
    let Ok(counted) = frontend.count_activity_executions(Request::new(request)).await else { return Vec::new() };
    super::workflows::status_counts(counted.into_inner().groups.iter().map(|g| (g.group_values.first(), g.count)))
}

/// The latest run of an activity id.
pub async fn latest(State(frontend): State<Frontend>, Path((namespace, activity_id)): Path<(String, String)>) -> Page {
    activity_page(frontend, namespace, activity_id, String::new()).await
}

pub async fn activity(
    State(frontend): State<Frontend>,
    Path((namespace, activity_id, run_id)): Path<(String, String, String)>,
) -> Page {
    activity_page(frontend, namespace, activity_id, run_id).await
}

fn duration(d: Option<&prost_types::Duration>) -> String {
    match d.filter(|d| d.seconds != 0 || d.nanos != 0) {
        Some(d) => format!("{}s", d.seconds as f64 + f64::from(d.nanos) / 1e9),
        None => String::new(),
    }
}

async fn activity_page(frontend: Frontend, namespace: String, activity_id: String, run_id: String) -> Page {
    let request = DescribeActivityExecutionRequest {
        namespace: namespace.clone(),
        activity_id: activity_id.clone(),
        run_id,
        include_input: true,
        include_outcome: true,
        include_heartbeat_details: true,
        include_last_failure: true,
        ..Default::default()
    };
    let described = frontend.describe_activity_execution(Request::new(request)).await.map_err(|s| status_page(&s))?;
    let described = described.into_inner();
    let info = described.info.unwrap_or_default();
    let status = crate::visibility::fields::activity_status_name(info.status);
    let run_state = PendingActivityState::try_from(info.run_state)
        .ok()
        .filter(|s| *s != PendingActivityState::Unspecified)
        .map(|s| s.as_str_name().trim_start_matches("PENDING_ACTIVITY_STATE_").to_lowercase());
    let outcome = described.outcome.and_then(|o| o.value);
    Ok(page(layout::page(
        &activity_id,
        Some(&namespace),
        html! {
            h1 { "Activity " code { (activity_id) } }
            dl.summary {
                dt { "Status" } dd class={ "status status-" (status) } { (status) @if let Some(s) = run_state { " (" (s) ")" } }
                dt { "Run id" } dd.mono { (info.run_id) }
                dt { "Type" } dd { (info.activity_type.as_ref().map(|t| t.name.as_str()).unwrap_or_default()) }
                dt { "Task queue" } dd { a href={ "/namespaces/" (encode(&namespace)) "/task-queues/" (encode(&info.task_queue)) } { (info.task_queue) } }
                dt { "Attempt" } dd { (info.attempt) }
                dt { "Scheduled" } dd.mono { (time(info.schedule_time.as_ref())) }
                dt { "Closed" } dd.mono { (time(info.close_time.as_ref())) }
                dt { "Schedule-to-close timeout" } dd { (duration(info.schedule_to_close_timeout.as_ref())) }
                dt { "Start-to-close timeout" } dd { (duration(info.start_to_close_timeout.as_ref())) }
                dt { "Heartbeat timeout" } dd { (duration(info.heartbeat_timeout.as_ref())) }
                dt { "Last worker" } dd.mono { (info.last_worker_identity) }
                dt { "Last heartbeat" } dd.mono { (time(info.last_heartbeat_time.as_ref())) }
                @if !info.canceled_reason.is_empty() { dt { "Cancel reason" } dd { (info.canceled_reason) } }
                @if let Some(f) = &info.last_failure { dt { "Last failure" } dd { p.error { (f.message) } } }
                dt { "Input" } dd { (payloads_text(described.input.as_ref())) }
                dt { "Heartbeat details" } dd { (payloads_text(info.heartbeat_details.as_ref())) }
                @match &outcome {
                    Some(activity_execution_outcome::Value::Result(r)) => { dt { "Result" } dd { (payloads_text(Some(r))) } }
                    Some(activity_execution_outcome::Value::Failure(f)) => { dt { "Failure" } dd { p.error { (f.message) } } }
                    None => {}
                }
            }
            p { a href={ "/namespaces/" (encode(&namespace)) "/activities" } { "All standalone activities" } }
        },
    )))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_plain_id_searches_that_activity() {
        assert_eq!(super::filter_of("charge-1"), "ActivityId = 'charge-1'");
        assert_eq!(super::filter_of("it's"), "ActivityId = 'it\\'s'");
        assert_eq!(super::filter_of("ActivityType = 'Charge'"), "ActivityType = 'Charge'");
        assert_eq!(super::filter_of(" "), "");
    }
}
