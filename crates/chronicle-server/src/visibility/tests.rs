//! Queries as written, parsed, and answered both by the reference
//! evaluator and by the SQLite store (which compiles them to SQL): each
//! check asserts the two agree with the expected runs.

use super::{Query, QueryError, parse};
use chronicle_engine::MutableState;
use chronicle_engine::api::common::v1::{Payload, SearchAttributes, WorkflowExecution, WorkflowType};
use chronicle_engine::api::enums::v1::IndexedValueType;
use chronicle_engine::api::history::v1::WorkflowExecutionStartedEventAttributes;
use chronicle_engine::api::taskqueue::v1::TaskQueue;
use chronicle_engine::api::workflow::v1::WorkflowExecutionInfo;
use chronicle_store::{
    CustomSearchAttributes, ExecutionStore, ExecutionWrite, SqliteOptions, SqliteStore, VisibilityStore,
};
use prost_types::Timestamp;
use std::sync::Arc;

const NS: &str = "default";

/// 2024-01-01T00:00:00Z plus `secs`.
fn at(secs: i64) -> Option<Timestamp> {
    Some(Timestamp { seconds: 1_704_067_200 + secs, nanos: 0 })
}

fn attrs(fields: &[(&str, &str)]) -> Option<SearchAttributes> {
    let json = |data: &str| Payload {
        metadata: [("encoding".to_string(), b"json/plain".to_vec())].into_iter().collect(),
        data: data.as_bytes().to_vec(),
        ..Default::default()
    };
    Some(SearchAttributes { indexed_fields: fields.iter().map(|(k, v)| (k.to_string(), json(v))).collect() })
}

fn run(id: &str, ty: &str, status: i32, start: i64, close: Option<i64>) -> MutableState {
    MutableState {
        namespace: NS.into(),
        workflow_id: id.into(),
        run_id: format!("run-{id}"),
        status,
        start_time: at(start),
        close_time: close.and_then(at),
        next_event_id: start * 10 + 1,
        started: Some(WorkflowExecutionStartedEventAttributes {
            workflow_type: Some(WorkflowType { name: ty.into() }),
            task_queue: Some(TaskQueue { name: "tq".into(), ..Default::default() }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Newest first, as listings go.
fn runs() -> Vec<MutableState> {
    let mut order1 = run("order-1", "Order", 1, 1, None);
    order1.search_attributes = attrs(&[
        ("Color", "\"blue\""),
        ("Size", "5"),
        ("Price", "9.5"),
        ("Vip", "true"),
        ("Due", "\"2024-06-01T00:00:00Z\""),
        ("Tags", "[\"a\",\"b\"]"),
        ("Note", "\"Hello big World\""),
        ("Plain", "\"2024-06-01T00:00:00Z\""),
    ]);
    let mut order2 = run("order-2", "Order", 2, 2, Some(5));
    let parent = WorkflowExecution { workflow_id: "parent".into(), run_id: "run-parent".into() };
    if let Some(started) = order2.started.as_mut() {
        started.parent_workflow_execution = Some(parent.clone());
        started.root_workflow_execution = Some(parent);
    }
    order2.search_attributes = attrs(&[("Color", "\"red\""), ("Size", "12"), ("Tags", "[]")]);
    let invoice = run("invoice-1", "Invoice", 5, 3, Some(4));
    vec![invoice, order2, order1]
}

fn registered() -> CustomSearchAttributes {
    use IndexedValueType as T;
    [
        ("Color", T::Keyword),
        ("Size", T::Int),
        ("Price", T::Double),
        ("Vip", T::Bool),
        ("Due", T::Datetime),
        ("Tags", T::KeywordList),
        ("Note", T::Text),
        // A Datetime whose payloads carry no type.
        ("Plain", T::Datetime),
    ]
    .into_iter()
    .map(|(n, t)| (n.to_string(), t))
    .collect()
}

fn id(info: &WorkflowExecutionInfo) -> String {
    info.execution.as_ref().map(|e| e.workflow_id.clone()).unwrap_or_default()
}

struct Fixture {
    infos: Vec<WorkflowExecutionInfo>,
    store: Arc<SqliteStore>,
}

impl Fixture {
    async fn new() -> Fixture {
        let store = SqliteStore::open(SqliteOptions { path: None, readers: 0 }).expect("store");
        let states = runs();
        let writes = states
            .iter()
            .map(|s| ExecutionWrite {
                state: s.clone(),
                expected_version: 0,
                events: Vec::new(),
                set_current: None,
                update_visibility: true,
            })
            .collect();
        store.commit(writes).await.expect("commit");
        Fixture { infos: states.iter().map(MutableState::execution_info).collect(), store }
    }

    fn parse(q: &str) -> Query {
        parse(q, &registered()).unwrap_or_else(|e| panic!("{q}: {e}"))
    }

    /// The runs `q` lists: by the evaluator (sorted stably by its ORDER
    /// BY), and by the store, which must agree.
    async fn listed(&self, q: &str) -> Vec<String> {
        let query = Self::parse(q);
        let mut matching: Vec<&WorkflowExecutionInfo> = self.infos.iter().filter(|i| query.matches(i)).collect();
        matching.sort_by(|a, b| query.compare(a, b));
        let expected: Vec<String> = matching.into_iter().map(id).collect();
        let page = self.store.list_runs(NS, &query, None, 100).await.unwrap_or_else(|e| panic!("{q}: {e}"));
        assert_eq!(page.runs.iter().map(id).collect::<Vec<_>>(), expected, "{q}: SQL against the evaluator");
        let count = self.store.count_runs(NS, &query).await.unwrap_or_else(|e| panic!("{q}: {e}"));
        assert_eq!(count.count, expected.len() as i64, "{q}: count");
        expected
    }

    async fn check(&self, q: &str, expected: &[&str]) {
        assert_eq!(self.listed(q).await, expected, "{q}");
    }
}

fn error(q: &str) -> QueryError {
    match parse(q, &registered()) {
        Ok(parsed) => panic!("{q} parsed as {parsed:?}"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn keywords_and_statuses() {
    let f = Fixture::new().await;
    f.check("", &["invoice-1", "order-2", "order-1"]).await;
    f.check("WorkflowId = 'order-1'", &["order-1"]).await;
    f.check("WorkflowId != 'order-1'", &["invoice-1", "order-2"]).await;
    f.check("WorkflowType = 'Order'", &["order-2", "order-1"]).await;
    f.check("RunId = 'run-order-2'", &["order-2"]).await;
    f.check("WorkflowId > 'order-1'", &["order-2"]).await;
    f.check("WorkflowId STARTS_WITH 'order-'", &["order-2", "order-1"]).await;
    f.check("WorkflowId NOT STARTS_WITH 'order-'", &["invoice-1"]).await;
    f.check("WorkflowId IN ('order-1', 'invoice-1', 'nope')", &["invoice-1", "order-1"]).await;
    f.check("WorkflowId NOT IN ('order-1')", &["invoice-1", "order-2"]).await;
    f.check("WorkflowId BETWEEN 'order-1' AND 'order-2'", &["order-2", "order-1"]).await;
    f.check("TaskQueue = 'tq'", &["invoice-1", "order-2", "order-1"]).await;
    f.check("ExecutionStatus = 'Running'", &["order-1"]).await;
    f.check("ExecutionStatus = 'WORKFLOW_EXECUTION_STATUS_COMPLETED'", &["order-2"]).await;
    f.check("ExecutionStatus != 'Running'", &["invoice-1", "order-2"]).await;
    f.check("ExecutionStatus IN ('Terminated', 'Completed')", &["invoice-1", "order-2"]).await;
    f.check("ExecutionStatus = 5", &["invoice-1"]).await;
    f.check("ExecutionStatus > 'Running'", &["invoice-1", "order-2"]).await;
}

#[tokio::test]
async fn boolean_logic() {
    let f = Fixture::new().await;
    f.check("WorkflowType = 'Order' AND ExecutionStatus = 'Running'", &["order-1"]).await;
    f.check("WorkflowId = 'order-1' OR WorkflowType = 'Invoice'", &["invoice-1", "order-1"]).await;
    f.check("WorkflowType = 'Order' AND (WorkflowId = 'order-2' OR ExecutionStatus = 'Terminated')", &["order-2"])
        .await;
    f.check("NOT WorkflowType = 'Order'", &["invoice-1"]).await;
    f.check("NOT (WorkflowType = 'Order' OR WorkflowId = 'invoice-1')", &[]).await;
    f.check("WorkflowId = 'x' OR WorkflowId = 'y' OR RunId = 'run-invoice-1'", &["invoice-1"]).await;
}

#[tokio::test]
async fn times_numbers_and_nulls() {
    let f = Fixture::new().await;
    f.check("StartTime > '2024-01-01T00:00:01Z'", &["invoice-1", "order-2"]).await;
    f.check("StartTime >= '2024-01-01T01:00:01+01:00'", &["invoice-1", "order-2", "order-1"]).await;
    f.check("StartTime BETWEEN '2024-01-01T00:00:02Z' AND '2024-01-01T00:00:02Z'", &["order-2"]).await;
    f.check("StartTime < 1704067202000000000", &["order-1"]).await;
    f.check("ExecutionTime <= '2024-01-01T00:00:01Z'", &["order-1"]).await;
    f.check("CloseTime IS NULL", &["order-1"]).await;
    f.check("CloseTime IS NOT NULL", &["invoice-1", "order-2"]).await;
    // A condition on NULL is unknown, and so is its negation.
    f.check("CloseTime < '2024-01-01T00:00:05Z'", &["invoice-1"]).await;
    f.check("NOT CloseTime < '2024-01-01T00:00:05Z'", &["order-2"]).await;
    f.check("CloseTime < '2024-01-01T00:00:05Z' OR ExecutionStatus = 'Running'", &["invoice-1", "order-1"]).await;
    f.check("NOT (CloseTime < '2024-01-01T00:00:05Z' OR ExecutionStatus = 'Running')", &["order-2"]).await;
    f.check("NOT (CloseTime < '2024-01-01T00:00:05Z' AND ExecutionStatus = 'Terminated')", &["order-2", "order-1"])
        .await;
    f.check("ExecutionDuration > '2s'", &["order-2"]).await;
    f.check("ExecutionDuration >= 1000000000", &["invoice-1", "order-2"]).await;
    f.check("HistoryLength > 10", &["invoice-1", "order-2"]).await;
    f.check("HistoryLength < 15.5", &["order-1"]).await;
    f.check("ParentWorkflowId = 'parent'", &["order-2"]).await;
    f.check("ParentWorkflowId IS NULL", &["invoice-1", "order-1"]).await;
    f.check("ParentRunId = 'run-parent'", &["order-2"]).await;
    f.check("RootWorkflowId = 'order-1'", &["order-1"]).await;
    f.check("RootRunId = 'run-parent'", &["order-2"]).await;
}

#[tokio::test]
async fn custom_search_attributes() {
    let f = Fixture::new().await;
    f.check("Color = 'blue'", &["order-1"]).await;
    f.check("Color != 'blue'", &["order-2"]).await;
    f.check("Color IS NULL", &["invoice-1"]).await;
    f.check("Color IN ('red', 'green')", &["order-2"]).await;
    f.check("Color NOT IN ('red', 'green')", &["order-1"]).await;
    f.check("Color STARTS_WITH 'bl'", &["order-1"]).await;
    f.check("Color NOT STARTS_WITH 'bl'", &["order-2"]).await;
    f.check("Size > 6", &["order-2"]).await;
    f.check("NOT Size > 6", &["order-1"]).await;
    f.check("Size BETWEEN 1 AND 5", &["order-1"]).await;
    f.check("Size NOT BETWEEN 1 AND 5", &["order-2"]).await;
    f.check("Size = 5.0", &["order-1"]).await;
    f.check("Price < 10", &["order-1"]).await;
    f.check("Vip = true", &["order-1"]).await;
    f.check("Vip != false", &["order-1"]).await;
    f.check("Due > '2024-05-01T00:00:00Z'", &["order-1"]).await;
    f.check("Due < '2024-05-01T00:00:00Z'", &[]).await;
    f.check("NOT Due < '2024-05-01T00:00:00Z'", &["order-1"]).await;
    // A keyword list: a condition holds if it holds for an element; an
    // empty list is set (not NULL) and has no element that is anything.
    f.check("Tags = 'a'", &["order-1"]).await;
    f.check("Tags IN ('b', 'z')", &["order-1"]).await;
    f.check("Tags NOT IN ('b', 'z')", &["order-2"]).await;
    f.check("Tags != 'a'", &["order-2"]).await;
    f.check("Tags != 'z'", &["order-2", "order-1"]).await;
    f.check("NOT Tags = 'z'", &["order-2", "order-1"]).await;
    f.check("Tags IS NULL", &["invoice-1"]).await;
    f.check("Tags IS NOT NULL", &["order-2", "order-1"]).await;
    f.check("Color = 'blue' OR Size = 12", &["order-2", "order-1"]).await;
    f.check("NOT (Color = 'blue' OR Size = 12)", &[]).await;
    assert_eq!(
        error("Size = '5'").0,
        "invalid expression: invalid value type for search attribute Size of type Int: \"5\" (type: string)"
    );
    assert_eq!(error("Nobody = 'x'").0, "invalid search attribute: Nobody");
    assert_eq!(error("Nobody IS NULL").0, "invalid search attribute: Nobody");
}

#[tokio::test]
async fn text_and_registered_types() {
    let f = Fixture::new().await;
    // Text: every word of the literal, in any case and order.
    f.check("Note = 'world'", &["order-1"]).await;
    f.check("Note = 'hello, WORLD!'", &["order-1"]).await;
    f.check("Note = 'world big'", &["order-1"]).await;
    f.check("Note = 'hel'", &[]).await;
    f.check("Note = 'hello moon'", &[]).await;
    f.check("Note != 'moon'", &["order-1"]).await;
    f.check("Note != 'world'", &[]).await;
    f.check("NOT Note = 'hello moon'", &["order-1"]).await;
    f.check("Note IS NULL", &["invoice-1", "order-2"]).await;
    // Datetime by registration, though the payload has no type.
    f.check("Plain > '2024-05-01T00:00:00Z'", &["order-1"]).await;
    f.check("Plain < 1", &[]).await;
}

#[tokio::test]
async fn order_by() {
    let f = Fixture::new().await;
    assert_eq!(f.listed("ORDER BY StartTime").await, ["order-1", "order-2", "invoice-1"]);
    assert_eq!(f.listed("ORDER BY StartTime DESC").await, ["invoice-1", "order-2", "order-1"]);
    assert_eq!(f.listed("ORDER BY CloseTime DESC").await, ["order-2", "invoice-1", "order-1"], "NULLs last");
    assert_eq!(f.listed("ORDER BY CloseTime ASC").await, ["invoice-1", "order-2", "order-1"], "NULLs last");
    assert_eq!(f.listed("ORDER BY WorkflowType, WorkflowId DESC").await, ["invoice-1", "order-2", "order-1"]);
    assert_eq!(f.listed("ORDER BY Size DESC").await, ["order-2", "order-1", "invoice-1"]);
    assert_eq!(f.listed("ORDER BY Color").await, ["order-1", "order-2", "invoice-1"]);
    assert_eq!(f.listed("ORDER BY Tags").await, ["order-2", "order-1", "invoice-1"], "lists by presence only");
    assert_eq!(f.listed("WorkflowType = 'Order' ORDER BY Due DESC").await, ["order-1", "order-2"]);
}

/// The largest queries the parser accepts run in SQLite too (its
/// expression depth and parameter limits are not reached).
#[tokio::test]
async fn what_the_parser_accepts_sqlite_runs() {
    let f = Fixture::new().await;
    let nested = |n: usize, open: &str, close: &str| format!("{}Color = 'blue'{}", open.repeat(n), close.repeat(n));
    let values: Vec<String> = (0..10_000).map(|i| format!("'v{i}'")).collect();
    for q in [
        nested(199, "(", ")"),
        nested(199, "(Size > 1 OR Vip = true AND ", ")"),
        nested(99, "(Tags = 'a' OR NOT ", ")"),
        nested(99, "NOT (Note = 'world' AND ", ")"),
        vec!["Color = 'blue'"; 995].join(" OR "),
        vec!["Color = 'blue' AND Size = 5"; 994].join(" OR "),
        format!("Color IN ({}) OR WorkflowId IN ({})", values.join(", "), values.join(", ")),
    ] {
        let query = Fixture::parse(&q);
        let expected = f.infos.iter().filter(|i| query.matches(i)).count();
        let page = f.store.list_runs(NS, &query, None, 100).await.unwrap_or_else(|e| panic!("{e}: {q:.200}"));
        assert_eq!(page.runs.len(), expected, "{q:.200}");
    }
}
