//! Visibility RPCs: ListWorkflowExecutions, ScanWorkflowExecutions,
//! CountWorkflowExecutions, the deprecated ListOpen/ListClosed ones, and
//! GetSearchAttributes. The store lists a namespace's runs newest first;
//! queries are evaluated here, in memory, reading the namespace's
//! registered custom search attributes as their types.

use super::Frontend;
use crate::errors;
use crate::visibility::{Expr, Field, Op, Query, System, Value, fields, status_name};
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
use chronicle_engine::limits;
use chronicle_store::VisibilityCursor;
use prost::Message;
use std::collections::BTreeMap;
use tonic::Status;

/// Where the next page starts: after the last run returned (newest-first
/// listings), or at an offset (ORDER BY listings, sorted in memory).
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
    Payload {
        metadata: [("encoding".to_string(), b"json/plain".to_vec()), ("type".to_string(), b"Keyword".to_vec())]
            .into_iter()
            .collect(),
        data: serde_json::to_vec(status_name(status)).unwrap_or_default(),
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
    fn parse(&self, namespace: &str, query: &str) -> Result<Query, Status> {
        let registered = self.namespaces.search_attributes().get(namespace);
        Query::parse(query, &registered).map_err(|e| errors::invalid(e.to_string()))
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
        let mut count = 0;
        let mut by_status = BTreeMap::<i32, i64>::new();
        self.scan(&r.namespace, None, |info| {
            if query.matches(&info) {
                count += 1;
                *by_status.entry(info.status).or_default() += 1;
            }
            true
        })
        .await?;
        let groups = match query.group_by {
            Some(_) => by_status
                .into_iter()
                .map(|(status, count)| AggregationGroup { group_values: vec![status_payload(status)], count })
                .collect(),
            None => Vec::new(),
        };
        Ok(CountWorkflowExecutionsResponse { count, groups })
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
    async fn page(&self, namespace: &str, query: &Query, page_size: i32, token: &[u8]) -> Result<Page, Status> {
        let max = self.history.limits().list_page_runs_max;
        let page_size = match usize::try_from(page_size) {
            Ok(n) if n > 0 => n.min(max),
            _ => max,
        };
        let token = if token.is_empty() { None } else { Some(PageToken::decode(token).map_err(|_| bad_token())?) };
        if !query.order_by.is_empty() {
            return self.sorted_page(namespace, query, page_size, token).await;
        }
        let after = match token {
            Some(t) if t.run_id.is_empty() => return Err(bad_token()),
            Some(t) => Some(VisibilityCursor { start_time: t.start_time, run_id: t.run_id }),
            None => None,
        };
        // One match past the page tells whether there is a next page.
        let mut page = Vec::new();
        self.scan(namespace, after, |info| {
            if query.matches(&info) {
                page.push(info);
            }
            page.len() <= page_size
        })
        .await?;
        if page.len() <= page_size {
            return Ok((page, Vec::new()));
        }
        page.truncate(page_size);
        let Some(last) = page.last().map(VisibilityCursor::after) else {
            return Ok((page, Vec::new()));
        };
        let next = PageToken { start_time: last.start_time, run_id: last.run_id, offset: 0 }.encode_to_vec();
        Ok((page, next))
    }

    /// ORDER BY: every match, sorted, paged by offset.
    async fn sorted_page(
        &self,
        namespace: &str,
        query: &Query,
        page_size: usize,
        token: Option<PageToken>,
    ) -> Result<Page, Status> {
        let offset = match token {
            Some(t) if t.offset == 0 => return Err(bad_token()),
            Some(t) => t.offset as usize,
            None => 0,
        };
        let mut all = Vec::new();
        self.scan(namespace, None, |info| {
            if query.matches(&info) {
                all.push(info);
            }
            true
        })
        .await?;
        all.sort_by(|a, b| query.compare(a, b));
        let start = offset.min(all.len());
        let end = start.saturating_add(page_size).min(all.len());
        let next = if end < all.len() {
            PageToken { offset: end as u64, ..Default::default() }.encode_to_vec()
        } else {
            Vec::new()
        };
        Ok((all.drain(start..end).collect(), next))
    }

    /// Feeds `f` the namespace's runs after `after`, newest first, until it
    /// returns false or there are no more.
    async fn scan(
        &self,
        namespace: &str,
        mut after: Option<VisibilityCursor>,
        mut f: impl FnMut(WorkflowExecutionInfo) -> bool,
    ) -> Result<(), Status> {
        loop {
            let batch = self
                .history
                .list_runs(namespace, after.take(), limits::LIST_SCAN_BATCH_RUNS)
                .await
                .map_err(super::map_err)?;
            let last_batch = batch.len() < limits::LIST_SCAN_BATCH_RUNS;
            after = batch.last().map(VisibilityCursor::after);
            for info in batch {
                if !f(info) {
                    return Ok(());
                }
            }
            if last_batch {
                return Ok(());
            }
        }
    }
}
