//! Visibility RPCs: ListWorkflowExecutions, ScanWorkflowExecutions,
//! CountWorkflowExecutions, the deprecated ListOpen/ListClosed ones, and
//! GetSearchAttributes. Queries are parsed here (the namespace's
//! registered custom search attributes read as their types) and answered
//! by the store.

use super::Frontend;
use crate::errors;
use crate::visibility::{Expr, Field, Op, Query, System, Value, fields, parse, status_name};
use chronicle_engine::api::{
    common::v1::Payload,
    enums::v1::WorkflowExecutionStatus,
    filter::v1::{StartTimeFilter, WorkflowExecutionFilter},
    workflow::v1::WorkflowExecutionInfo,
    workflowservice::v1::{
        count_workflow_executions_response::AggregationGroup, list_closed_workflow_executions_request as closed,
        list_open_workflow_executions_request as open, *,
    },
};
use chronicle_store::{ListCursor, VisibilityCursor};
use prost::Message;
use tonic::Status;

/// Where the next page starts: after the last run returned (newest-first
/// listings), or at an offset (ORDER BY listings).
#[derive(Clone, PartialEq, prost::Message)]
struct PageToken {
    #[prost(int64, tag = "1")]
    start_time: i64,
    #[prost(string, tag = "2")]
    run_id: String,
    #[prost(uint64, tag = "3")]
    offset: u64,
}

type Page = (Vec<WorkflowExecutionInfo>, Vec<u8>);

fn bad_token() -> Status {
    errors::invalid("Invalid NextPageToken.")
}

/// Group values are Keyword payloads, as Temporal sends them.
fn status_payload(status: i32) -> Payload {
    keyword_payload(status_name(status))
}

pub(super) fn keyword_payload(value: &str) -> Payload {
    Payload {
        metadata: [("encoding".to_string(), b"json/plain".to_vec()), ("type".to_string(), b"Keyword".to_vec())]
            .into_iter()
            .collect(),
        data: serde_json::to_vec(value).unwrap_or_default(),
        ..Default::default()
    }
}

/// `field` within the filter's bounds (each optional).
fn time_range(filter: Option<Expr>, field: System, range: Option<StartTimeFilter>) -> Option<Expr> {
    let range = range.unwrap_or_default();
    let bounds = [(Op::Ge, range.earliest_time), (Op::Le, range.latest_time)];
    bounds.into_iter().fold(filter, |filter, (op, bound)| match bound.filter(|t| t.seconds != 0 || t.nanos != 0) {
        Some(t) => {
            let bound = Expr::system(field, op, Value::Time(chronicle_engine::time::ts_nanos(&t)));
            Some(match filter {
                Some(f) => f.and(bound),
                None => bound,
            })
        }
        None => filter,
    })
}

fn execution_is(filter: Expr, e: WorkflowExecutionFilter) -> Expr {
    let filter = filter.and(Expr::system(System::WorkflowId, Op::Eq, Value::Str(e.workflow_id)));
    if e.run_id.is_empty() { filter } else { filter.and(Expr::system(System::RunId, Op::Eq, Value::Str(e.run_id))) }
}

fn type_is(filter: Expr, name: String) -> Expr {
    filter.and(Expr::system(System::WorkflowType, Op::Eq, Value::Str(name)))
}

impl Frontend {
    /// A workflow listing's query: standalone activities' runs left out.
    fn parse(&self, namespace: &str, query: &str) -> Result<Query, Status> {
        let registered = self.namespaces.search_attributes().get(namespace);
        let query = parse(query, &registered).map_err(|e| errors::invalid(e.to_string()))?;
        Ok(super::standalone::scoped(query, false))
    }

    /// An activity listing's query (`ActivityId`, `ActivityType` for the
    /// run's key and type); the caller scopes it to activities.
    pub(super) fn parse_activities(&self, namespace: &str, query: &str) -> Result<Query, Status> {
        let registered = self.namespaces.search_attributes().get(namespace);
        crate::visibility::parse_activities(query, &registered, super::standalone::KEY_PREFIX)
            .map_err(|e| errors::invalid(e.to_string()))
    }

    pub(super) async fn list_workflows(
        &self,
        r: ListWorkflowExecutionsRequest,
    ) -> Result<ListWorkflowExecutionsResponse, Status> {
        self.check_namespace(&r.namespace)?;
        let query = self.parse(&r.namespace, &r.query)?;
        let (executions, next_page_token) = self.page(&r.namespace, &query, r.page_size, &r.next_page_token).await?;
        Ok(ListWorkflowExecutionsResponse { executions, next_page_token })
    }

    pub(super) async fn scan_workflows(
        &self,
        r: ScanWorkflowExecutionsRequest,
    ) -> Result<ScanWorkflowExecutionsResponse, Status> {
        self.check_namespace(&r.namespace)?;
        let query = self.parse(&r.namespace, &r.query)?;
        let (executions, next_page_token) = self.page(&r.namespace, &query, r.page_size, &r.next_page_token).await?;
        Ok(ScanWorkflowExecutionsResponse { executions, next_page_token })
    }

    pub(super) async fn count_workflows(
        &self,
        r: CountWorkflowExecutionsRequest,
    ) -> Result<CountWorkflowExecutionsResponse, Status> {
        self.check_namespace(&r.namespace)?;
        let query = self.parse(&r.namespace, &r.query)?;
        let counted = self.history.count_runs(&r.namespace, &query).await.map_err(super::map_err)?;
        let groups = counted
            .groups
            .into_iter()
            .map(|(status, count)| AggregationGroup { group_values: vec![status_payload(status)], count })
            .collect();
        Ok(CountWorkflowExecutionsResponse { count: counted.count, groups })
    }

    pub(super) async fn list_open_workflows(
        &self,
        r: ListOpenWorkflowExecutionsRequest,
    ) -> Result<ListOpenWorkflowExecutionsResponse, Status> {
        self.check_namespace(&r.namespace)?;
        let running = Value::Int(WorkflowExecutionStatus::Running as i64);
        let mut filter = Expr::system(System::ExecutionStatus, Op::Eq, running);
        filter = match r.filters {
            Some(open::Filters::ExecutionFilter(e)) => execution_is(filter, e),
            Some(open::Filters::TypeFilter(t)) => type_is(filter, t.name),
            None => filter,
        };
        let query =
            Query { filter: time_range(Some(filter), System::StartTime, r.start_time_filter), ..Default::default() };
        let (executions, next_page_token) =
            self.page(&r.namespace, &query, r.maximum_page_size, &r.next_page_token).await?;
        Ok(ListOpenWorkflowExecutionsResponse { executions, next_page_token })
    }

    /// Temporal applies the time filter of closed listings to close times.
    pub(super) async fn list_closed_workflows(
        &self,
        r: ListClosedWorkflowExecutionsRequest,
    ) -> Result<ListClosedWorkflowExecutionsResponse, Status> {
        self.check_namespace(&r.namespace)?;
        let open_run = Expr::IsNull { field: Field::System(System::CloseTime) };
        let mut filter = Expr::Not(Box::new(open_run));
        filter = match r.filters {
            Some(closed::Filters::ExecutionFilter(e)) => execution_is(filter, e),
            Some(closed::Filters::TypeFilter(t)) => type_is(filter, t.name),
            Some(closed::Filters::StatusFilter(s)) => {
                filter.and(Expr::system(System::ExecutionStatus, Op::Eq, Value::Int(s.status as i64)))
            }
            None => filter,
        };
        let query =
            Query { filter: time_range(Some(filter), System::CloseTime, r.start_time_filter), ..Default::default() };
        let (executions, next_page_token) =
            self.page(&r.namespace, &query, r.maximum_page_size, &r.next_page_token).await?;
        Ok(ListClosedWorkflowExecutionsResponse { executions, next_page_token })
    }

    /// Temporal's system search attributes and the namespace's registered
    /// custom ones, with their types. The request names no namespace:
    /// callers that send Temporal's `temporal-namespace` header get theirs,
    /// others `default`'s.
    pub(super) fn search_attributes(&self, metadata: &tonic::metadata::MetadataMap) -> GetSearchAttributesResponse {
        let namespace = metadata.get("temporal-namespace").and_then(|v| v.to_str().ok()).unwrap_or("default");
        let system = fields::system_attributes().map(|(name, ty)| (name.to_string(), ty as i32));
        let custom = self.namespaces.search_attributes().get(namespace).into_iter().map(|(n, ty)| (n, ty as i32));
        GetSearchAttributesResponse { keys: system.chain(custom).collect() }
    }

    /// One page of the runs matching `query`; the token is empty on the
    /// last page.
    pub(super) async fn page(
        &self,
        namespace: &str,
        query: &Query,
        page_size: i32,
        token: &[u8],
    ) -> Result<Page, Status> {
        let max = self.history.limits().list_page_runs_max;
        let page_size = match usize::try_from(page_size) {
            Ok(n) if n > 0 => n.min(max),
            _ => max,
        };
        let from = match (token.is_empty(), query.order_by.is_empty()) {
            (true, _) => None,
            (false, default_order) => {
                let t = PageToken::decode(token).map_err(|_| bad_token())?;
                match (default_order, t.run_id.is_empty(), t.offset) {
                    (true, false, _) => {
                        Some(ListCursor::After(VisibilityCursor { start_time: t.start_time, run_id: t.run_id }))
                    }
                    (false, _, offset) if offset > 0 => Some(ListCursor::Offset(offset)),
                    _ => return Err(bad_token()),
                }
            }
        };
        let page = self.history.list_runs(namespace, query, from, page_size).await.map_err(super::map_err)?;
        let next = match page.next {
            None => Vec::new(),
            Some(ListCursor::After(c)) => {
                PageToken { start_time: c.start_time, run_id: c.run_id, offset: 0 }.encode_to_vec()
            }
            Some(ListCursor::Offset(offset)) => PageToken { offset, ..Default::default() }.encode_to_vec(),
        };
        Ok((page.runs, next))
    }
}
