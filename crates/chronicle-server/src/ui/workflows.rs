//! The workflow list (search by id or by Temporal's filter language,
//! quick filters, counts per status, paging) and the namespace list.

use super::{Page, encode, hex, layout, page, status_page, unhex};
use crate::frontend::Frontend;
use crate::visibility::fields::status_name;
use axum::extract::{Path, Query, State};
use axum::response::Redirect;
use chronicle_engine::api::workflow::v1::WorkflowExecutionInfo;
use chronicle_engine::api::workflowservice::v1::{
    CountWorkflowExecutionsRequest, ListNamespacesRequest, ListWorkflowExecutionsRequest,
};
use chronicle_proto::workflowservice::workflow_service_server::WorkflowService;
use maud::html;
use tonic::Request;

/// Rows per page of the list.
const PAGE_SIZE: i32 = 50;

/// Quick filters: the statuses as the filter language names them.
const STATUSES: [&str; 7] = ["Running", "Completed", "Failed", "Canceled", "Terminated", "ContinuedAsNew", "TimedOut"];

#[derive(serde::Deserialize, Default)]
pub struct ListParams {
    /// A workflow id, or a filter in Temporal's language.
    #[serde(default)]
    query: String,
    /// The next page's token (hex).
    #[serde(default)]
    next: String,
    /// Reload the page every few seconds (`on`).
    #[serde(default)]
    refresh: String,
}

pub async fn to_workflows(Path(namespace): Path<String>) -> Redirect {
    Redirect::to(&format!("/namespaces/{}/workflows", encode(&namespace)))
}

/// What the search box holds, as filters to try in turn: a filter in
/// Temporal's language if it looks like one (it has a space or `=`), and
/// a workflow id (`WorkflowId = '...'`) if it does not or, without `=`,
/// if it does not parse as one. Ids may hold any character.
pub fn filters_of(input: &str) -> Vec<String> {
    let input = input.trim();
    if input.is_empty() {
        return vec![String::new()];
    }
    let id = format!("WorkflowId = '{}'", quote(input));
    if input.contains('=') {
        vec![input.to_string()]
    } else if input.contains(char::is_whitespace) {
        vec![input.to_string(), id]
    } else {
        vec![id]
    }
}

/// Text as the inside of a quoted string of Temporal's filter language.
pub fn quote(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\'', "\\'")
}

/// A timestamp as UTC text, to the millisecond.
pub fn time(ts: Option<&prost_types::Timestamp>) -> String {
    let Some(ts) = ts else { return String::new() };
    let nanos = u32::try_from(ts.nanos).unwrap_or(0);
    chrono::DateTime::from_timestamp(ts.seconds, nanos)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string())
        .unwrap_or_default()
}

pub async fn list(
    State(frontend): State<Frontend>,
    Path(namespace): Path<String>,
    Query(p): Query<ListParams>,
) -> Page {
    let Some(token) = unhex(&p.next) else {
        return Err(super::page_error(axum::http::StatusCode::BAD_REQUEST, "The page token is not valid."));
    };
    let mut tried = filters_of(&p.query).into_iter().peekable();
    let (filter, listed) = loop {
        let Some(filter) = tried.next() else { unreachable!("filters_of gives at least one filter") };
        let request = ListWorkflowExecutionsRequest {
            namespace: namespace.clone(),
            page_size: PAGE_SIZE,
            next_page_token: token.clone(),
            query: filter.clone(),
        };
        match frontend.list_workflow_executions(Request::new(request)).await {
            Ok(listed) => break (filter, listed.into_inner()),
            Err(e) if e.code() == tonic::Code::InvalidArgument && tried.peek().is_some() => continue,
            Err(e) => return Err(status_page(&e)),
        }
    };
    let counts = counts(&frontend, &namespace, &filter).await;
    let ns = encode(&namespace);
    let base = format!("/namespaces/{ns}/workflows");
    let live = p.refresh == "on";
    let refresh_link = format!("{base}?query={}{}", encode(&p.query), if live { "" } else { "&refresh=on" });
    Ok(page(layout::refreshing(
        "Workflows",
        Some(&namespace),
        live.then_some(super::workflow::REFRESH_S),
        html! {
            h1 { "Workflows" }
            nav.filters aria-label="page" {
                a href={ (base) "/start-workflow" } { "Start a workflow" }
                a href=(refresh_link) { (if live { "Stop live refresh" } else { "Live refresh" }) }
            }
            form.search method="get" action=(base) role="search" {
                label for="query" { "Search" }
                input #query type="search" name="query" value=(p.query)
                    placeholder="A workflow id, or a filter: WorkflowType = 'Order' AND ExecutionStatus = 'Running'";
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
                p { "No workflows match." }
            } @else {
                div.scroll {
                    table {
                        thead { tr { th { "Status" } th { "Workflow id" } th { "Run id" } th { "Type" } th { "Start" } th { "Close" } } }
                        tbody {
                            @for w in &listed.executions { (row(&namespace, w)) }
                        }
                    }
                }
            }
            div.pager {
                @if !listed.next_page_token.is_empty() {
                    a href={ (base) "?query=" (encode(&p.query)) "&next=" (hex(&listed.next_page_token)) } { "Next page" }
                }
            }
        },
    )))
}

fn row(namespace: &str, w: &WorkflowExecutionInfo) -> maud::Markup {
    let execution = w.execution.clone().unwrap_or_default();
    let status = status_name(w.status);
    let link = super::history_path(namespace, &execution.workflow_id, &execution.run_id);
    let ns = encode(namespace);
    html! {
        tr {
            td class={ "status status-" (status) } { (status) }
            td.id { a href=(link) { (execution.workflow_id) } }
            td.mono { (execution.run_id) }
            td { @if let Some(t) = w.r#type.as_ref().filter(|t| !t.name.is_empty()) {
                // A quick filter: the runs of this type.
                a href={ "/namespaces/" (ns) "/workflows?query=" (encode(&format!("WorkflowType = '{}'", quote(&t.name)))) }
                    title="Workflows of this type" { (t.name) }
            } }
            td.mono { (time(w.start_time.as_ref())) }
            td.mono { (time(w.close_time.as_ref())) }
        }
    }
}

/// Workflows per status for `filter` (none when the filter sorts, which a
/// count cannot).
async fn counts(frontend: &Frontend, namespace: &str, filter: &str) -> Vec<(String, i64)> {
    let Some(query) = by_status(filter) else { return Vec::new() };
    let request = CountWorkflowExecutionsRequest { namespace: namespace.to_string(), query };
    let Ok(counted) = frontend.count_workflow_executions(Request::new(request)).await else { return Vec::new() };
    status_counts(counted.into_inner().groups.iter().map(|g| (g.group_values.first(), g.count)))
}

/// A list filter counted per status; None for one that orders (a grouped
/// count cannot).
pub(super) fn by_status(filter: &str) -> Option<String> {
    (!filter.to_ascii_lowercase().contains("order by"))
        .then(|| format!("{filter} GROUP BY ExecutionStatus").trim().to_string())
}

/// The (status, count) pairs of a count grouped by ExecutionStatus.
pub(super) fn status_counts<'a>(
    groups: impl Iterator<Item = (Option<&'a chronicle_engine::api::common::v1::Payload>, i64)>,
) -> Vec<(String, i64)> {
    groups.filter_map(|(value, count)| Some((serde_json::from_slice(&value?.data).ok()?, count))).collect()
}

pub async fn namespaces(State(frontend): State<Frontend>) -> Page {
    let request = ListNamespacesRequest { page_size: 1000, ..Default::default() };
    let listed = frontend.list_namespaces(Request::new(request)).await.map_err(|s| status_page(&s))?.into_inner();
    Ok(page(layout::page(
        "Namespaces",
        None,
        html! {
            h1 { "Namespaces" }
            ul {
                @for ns in &listed.namespaces {
                    @if let Some(info) = &ns.namespace_info {
                        li { a href={ "/namespaces/" (encode(&info.name)) "/workflows" } { (info.name) } }
                    }
                }
            }
        },
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_id_searches_that_id_and_a_filter_stays_a_filter() {
        assert_eq!(filters_of(" order-42 "), ["WorkflowId = 'order-42'"]);
        assert_eq!(filters_of("<b>it's(1)</b>"), ["WorkflowId = '<b>it\\'s(1)</b>'"]);
        assert_eq!(filters_of("WorkflowType = 'Order'"), ["WorkflowType = 'Order'"]);
        assert_eq!(
            filters_of("ExecutionStatus IN ('Running')"),
            ["ExecutionStatus IN ('Running')", "WorkflowId = 'ExecutionStatus IN (\\'Running\\')'"]
        );
        assert_eq!(filters_of(""), [""]);
    }
}
