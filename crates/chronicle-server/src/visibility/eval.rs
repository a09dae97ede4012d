//! A query against a run's `WorkflowExecutionInfo`, with SQL's
//! three-valued logic: a condition on a NULL (absent) attribute, or between
//! values of different types, is unknown, and a run matches only when the
//! whole filter is true (so `CloseTime > x` and `NOT CloseTime > x` both
//! leave out running workflows, as on Temporal). A registered Text
//! attribute matches by words.

use super::fields::{Field, Value, parse_datetime, words};
use super::query::{Expr, Op, Query};
use chronicle_engine::api::{enums::v1::IndexedValueType, workflow::v1::WorkflowExecutionInfo};
use std::cmp::Ordering;

impl Query {
    pub fn matches(&self, info: &WorkflowExecutionInfo) -> bool {
        self.filter.as_ref().is_none_or(|f| eval(f, info) == Some(true))
    }

    /// The ORDER BY order of two runs (NULLs last); runs it does not tell
    /// apart compare equal, so a stable sort keeps them newest first.
    pub fn compare(&self, a: &WorkflowExecutionInfo, b: &WorkflowExecutionInfo) -> Ordering {
        for key in &self.order_by {
            let ord = match (key.field.value(a), key.field.value(b)) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(x), Some(y)) => {
                    let ord = order(&x, &y).unwrap_or(Ordering::Equal);
                    if key.descending { ord.reverse() } else { ord }
                }
            };
            if ord.is_ne() {
                return ord;
            }
        }
        Ordering::Equal
    }
}

fn eval(expr: &Expr, info: &WorkflowExecutionInfo) -> Option<bool> {
    match expr {
        // SQL's three-valued AND / OR: a false (true) operand decides,
        // else any unknown makes the whole unknown.
        Expr::And(all) => {
            let mut result = Some(true);
            for e in all {
                match eval(e, info) {
                    Some(false) => return Some(false),
                    None => result = None,
                    Some(true) => {}
                }
            }
            result
        }
        Expr::Or(any) => {
            let mut result = Some(false);
            for e in any {
                match eval(e, info) {
                    Some(true) => return Some(true),
                    None => result = None,
                    Some(false) => {}
                }
            }
            result
        }
        Expr::Not(e) => eval(e, info).map(|b| !b),
        Expr::Compare { field, op, value } if is_text(field) => {
            let matched = text_match(&field.value(info)?, value)?;
            Some(if *op == Op::Ne { !matched } else { matched })
        }
        Expr::Compare { field, op, value } => compare(&field.value(info)?, *op, value),
        Expr::In { field, values } => {
            let actual = field.value(info)?;
            Some(values.iter().any(|v| compare(&actual, Op::Eq, v) == Some(true)))
        }
        Expr::Between { field, low, high } => {
            let actual = field.value(info)?;
            Some(any(&actual, |x| {
                order(x, low).is_some_and(Ordering::is_ge) && order(x, high).is_some_and(Ordering::is_le)
            }))
        }
        Expr::StartsWith { field, prefix } => {
            let actual = field.value(info)?;
            Some(any(&actual, |x| matches!(x, Value::Str(s) if s.starts_with(prefix.as_str()))))
        }
        Expr::IsNull { field } => Some(field.value(info).is_none()),
    }
}

fn is_text(field: &Field) -> bool {
    field.custom_type() == Some(IndexedValueType::Text)
}

/// Every word of the literal is a word of the value (unknown if the value
/// is not a string).
fn text_match(actual: &Value, literal: &Value) -> Option<bool> {
    let (Value::Str(actual), Value::Str(literal)) = (actual, literal) else { return None };
    let have = words(actual);
    Some(words(literal).iter().all(|w| have.contains(w)))
}

/// A condition on a keyword list holds if it holds for one element.
fn any(actual: &Value, f: impl Fn(&Value) -> bool) -> bool {
    match actual {
        Value::List(items) => items.iter().any(f),
        v => f(v),
    }
}

fn compare(actual: &Value, op: Op, literal: &Value) -> Option<bool> {
    if op == Op::Ne {
        // On a keyword list: none of its elements is the literal.
        return compare(actual, Op::Eq, literal).map(|b| !b);
    }
    if let Value::List(items) = actual {
        return Some(items.iter().any(|x| compare(x, op, literal) == Some(true)));
    }
    let ord = order(actual, literal)?;
    Some(match op {
        Op::Eq => ord.is_eq(),
        Op::Lt => ord.is_lt(),
        Op::Le => ord.is_le(),
        Op::Gt => ord.is_gt(),
        Op::Ge => ord.is_ge(),
        Op::Ne => ord.is_ne(),
    })
}

fn as_f64(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        _ => f64::NAN,
    }
}

/// None when the two are not comparable (different types).
fn order(a: &Value, b: &Value) -> Option<Ordering> {
    use Value::*;
    match (a, b) {
        (Str(x), Str(y)) => Some(x.cmp(y)),
        (Int(x), Int(y)) => Some(x.cmp(y)),
        (Int(_) | Float(_), Int(_) | Float(_)) => as_f64(a).partial_cmp(&as_f64(b)),
        (Bool(x), Bool(y)) => Some(x.cmp(y)),
        (Time(x), Time(y)) => Some(x.cmp(y)),
        // A Datetime custom attribute against a literal: RFC 3339 or nanoseconds.
        (Time(x), Int(y)) => Some(x.cmp(&(*y as i128))),
        (Time(x), Str(y)) => parse_datetime(y).map(|y| x.cmp(&y)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::visibility::Query;
    use chronicle_engine::api::common::v1::{Payload, SearchAttributes, WorkflowExecution, WorkflowType};
    use chronicle_engine::api::enums::v1::IndexedValueType;
    use chronicle_engine::api::workflow::v1::WorkflowExecutionInfo;
    use chronicle_store::CustomSearchAttributes;
    use prost_types::{Duration, Timestamp};

    /// 2024-01-01T00:00:00Z plus `secs`.
    fn at(secs: i64) -> Option<Timestamp> {
        Some(Timestamp { seconds: 1_704_067_200 + secs, nanos: 0 })
    }

    fn attr(json: &str, ty: &str) -> Payload {
        Payload {
            metadata: [("encoding".to_string(), b"json/plain".to_vec()), ("type".to_string(), ty.as_bytes().to_vec())]
                .into_iter()
                .collect(),
            data: json.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    fn run(id: &str, ty: &str, status: i32, start: i64, close: Option<i64>) -> WorkflowExecutionInfo {
        let me = WorkflowExecution { workflow_id: id.into(), run_id: format!("run-{id}") };
        WorkflowExecutionInfo {
            execution: Some(me.clone()),
            r#type: Some(WorkflowType { name: ty.into() }),
            status,
            start_time: at(start),
            execution_time: at(start),
            close_time: close.and_then(at),
            execution_duration: close.map(|c| Duration { seconds: c - start, nanos: 0 }),
            task_queue: "tq".into(),
            history_length: start * 10,
            root_execution: Some(me),
            ..Default::default()
        }
    }

    /// Newest first, as the store lists them.
    fn runs() -> Vec<WorkflowExecutionInfo> {
        let mut order1 = run("order-1", "Order", 1, 1, None);
        order1.search_attributes = Some(SearchAttributes {
            indexed_fields: [
                ("Color".to_string(), attr("\"blue\"", "Keyword")),
                ("Size".to_string(), attr("5", "Int")),
                ("Price".to_string(), attr("9.5", "Double")),
                ("Vip".to_string(), attr("true", "Bool")),
                ("Due".to_string(), attr("\"2024-06-01T00:00:00Z\"", "Datetime")),
                ("Tags".to_string(), attr("[\"a\",\"b\"]", "KeywordList")),
                ("Note".to_string(), attr("\"Hello big World\"", "Text")),
                ("Plain".to_string(), attr("\"2024-06-01T00:00:00Z\"", "Keyword")),
            ]
            .into_iter()
            .collect(),
        });
        let mut order2 = run("order-2", "Order", 2, 2, Some(5));
        order2.parent_execution = Some(WorkflowExecution { workflow_id: "parent".into(), run_id: "run-parent".into() });
        order2.root_execution = order2.parent_execution.clone();
        order2.search_attributes = Some(SearchAttributes {
            indexed_fields: [
                ("Color".to_string(), attr("\"red\"", "Keyword")),
                ("Size".to_string(), attr("12", "Int")),
            ]
            .into_iter()
            .collect(),
        });
        let invoice = run("invoice-1", "Invoice", 5, 3, Some(4));
        vec![invoice, order2, order1]
    }

    /// Note is registered as Text, Plain as Datetime; the others are not
    /// registered.
    fn registered() -> CustomSearchAttributes {
        [("Note".to_string(), IndexedValueType::Text), ("Plain".to_string(), IndexedValueType::Datetime)].into()
    }

    fn matching(q: &str) -> Vec<String> {
        let query = Query::parse(q, &registered()).unwrap_or_else(|e| panic!("{q}: {e}"));
        runs().iter().filter(|r| query.matches(r)).map(|r| r.execution.as_ref().unwrap().workflow_id.clone()).collect()
    }

    #[track_caller]
    fn check(q: &str, expected: &[&str]) {
        assert_eq!(matching(q), expected, "{q}");
    }

    #[test]
    fn keywords_and_statuses() {
        check("", &["invoice-1", "order-2", "order-1"]);
        check("WorkflowId = 'order-1'", &["order-1"]);
        check("WorkflowId != 'order-1'", &["invoice-1", "order-2"]);
        check("WorkflowType = 'Order'", &["order-2", "order-1"]);
        check("RunId = 'run-order-2'", &["order-2"]);
        check("WorkflowId > 'order-1'", &["order-2"]);
        check("WorkflowId STARTS_WITH 'order-'", &["order-2", "order-1"]);
        check("WorkflowId NOT STARTS_WITH 'order-'", &["invoice-1"]);
        check("WorkflowId IN ('order-1', 'invoice-1', 'nope')", &["invoice-1", "order-1"]);
        check("WorkflowId NOT IN ('order-1')", &["invoice-1", "order-2"]);
        check("WorkflowId BETWEEN 'order-1' AND 'order-2'", &["order-2", "order-1"]);
        check("TaskQueue = 'tq'", &["invoice-1", "order-2", "order-1"]);
        check("ExecutionStatus = 'Running'", &["order-1"]);
        check("ExecutionStatus = 'WORKFLOW_EXECUTION_STATUS_COMPLETED'", &["order-2"]);
        check("ExecutionStatus != 'Running'", &["invoice-1", "order-2"]);
        check("ExecutionStatus IN ('Terminated', 'Completed')", &["invoice-1", "order-2"]);
        check("ExecutionStatus = 5", &["invoice-1"]);
        check("ExecutionStatus > 'Running'", &["invoice-1", "order-2"]);
    }

    #[test]
    fn boolean_logic() {
        check("WorkflowType = 'Order' AND ExecutionStatus = 'Running'", &["order-1"]);
        check("WorkflowId = 'order-1' OR WorkflowType = 'Invoice'", &["invoice-1", "order-1"]);
        check("WorkflowType = 'Order' AND (WorkflowId = 'order-2' OR ExecutionStatus = 'Terminated')", &["order-2"]);
        check("NOT WorkflowType = 'Order'", &["invoice-1"]);
        check("NOT (WorkflowType = 'Order' OR WorkflowId = 'invoice-1')", &[]);
        check("WorkflowId = 'x' OR WorkflowId = 'y' OR RunId = 'run-invoice-1'", &["invoice-1"]);
    }

    #[test]
    fn times_numbers_and_nulls() {
        check("StartTime > '2024-01-01T00:00:01Z'", &["invoice-1", "order-2"]);
        check("StartTime >= '2024-01-01T01:00:01+01:00'", &["invoice-1", "order-2", "order-1"]);
        check("StartTime BETWEEN '2024-01-01T00:00:02Z' AND '2024-01-01T00:00:02Z'", &["order-2"]);
        check("StartTime < 1704067202000000000", &["order-1"]);
        check("ExecutionTime <= '2024-01-01T00:00:01Z'", &["order-1"]);
        check("CloseTime IS NULL", &["order-1"]);
        check("CloseTime IS NOT NULL", &["invoice-1", "order-2"]);
        // A condition on NULL is unknown, and so is its negation.
        check("CloseTime < '2024-01-01T00:00:05Z'", &["invoice-1"]);
        check("NOT CloseTime < '2024-01-01T00:00:05Z'", &["order-2"]);
        check("CloseTime < '2024-01-01T00:00:05Z' OR ExecutionStatus = 'Running'", &["invoice-1", "order-1"]);
        check("ExecutionDuration > '2s'", &["order-2"]);
        check("ExecutionDuration >= 1000000000", &["invoice-1", "order-2"]);
        check("HistoryLength > 10", &["invoice-1", "order-2"]);
        check("HistoryLength < 15.5", &["order-1"]);
        check("ParentWorkflowId = 'parent'", &["order-2"]);
        check("ParentWorkflowId IS NULL", &["invoice-1", "order-1"]);
        check("ParentRunId = 'run-parent'", &["order-2"]);
        check("RootWorkflowId = 'order-1'", &["order-1"]);
        check("RootRunId = 'run-parent'", &["order-2"]);
    }

    #[test]
    fn custom_search_attributes() {
        check("Color = 'blue'", &["order-1"]);
        check("Color != 'blue'", &["order-2"]);
        check("Color IS NULL", &["invoice-1"]);
        check("Color IN ('red', 'green')", &["order-2"]);
        check("Color STARTS_WITH 'bl'", &["order-1"]);
        check("Size > 6", &["order-2"]);
        check("Size BETWEEN 1 AND 5", &["order-1"]);
        check("Size = 5.0", &["order-1"]);
        check("Size = '5'", &[]);
        check("Price < 10", &["order-1"]);
        check("Vip = true", &["order-1"]);
        check("Vip != false", &["order-1"]);
        check("Due > '2024-05-01T00:00:00Z'", &["order-1"]);
        check("Due < '2024-05-01T00:00:00Z'", &[]);
        check("Tags = 'a'", &["order-1"]);
        check("Tags IN ('b', 'z')", &["order-1"]);
        check("Tags != 'a'", &[]);
        check("Tags != 'z'", &["order-1"]);
        check("Tags STARTS_WITH 'b'", &["order-1"]);
        check("Nobody = 'x'", &[]);
        check("Nobody IS NULL", &["invoice-1", "order-2", "order-1"]);
    }

    #[test]
    fn registered_types() {
        // Text: every word of the literal, in any case and order.
        check("Note = 'world'", &["order-1"]);
        check("Note = 'hello, WORLD!'", &["order-1"]);
        check("Note = 'world big'", &["order-1"]);
        check("Note = 'hel'", &[]);
        check("Note = 'hello moon'", &[]);
        check("Note != 'moon'", &["order-1"]);
        check("Note != 'world'", &[]);
        check("Note IS NULL", &["invoice-1", "order-2"]);
        // Datetime by registration, though the payload says Keyword.
        check("Plain > '2024-05-01T00:00:00Z'", &["order-1"]);
        check("Plain < 1", &[]);
    }

    #[test]
    fn order_by() {
        let sorted = |q: &str| {
            let query = Query::parse(q, &registered()).unwrap();
            let mut all = runs();
            all.sort_by(|a, b| query.compare(a, b));
            all.iter().map(|r| r.execution.as_ref().unwrap().workflow_id.clone()).collect::<Vec<_>>()
        };
        assert_eq!(sorted("ORDER BY StartTime"), ["order-1", "order-2", "invoice-1"]);
        assert_eq!(sorted("ORDER BY StartTime DESC"), ["invoice-1", "order-2", "order-1"]);
        assert_eq!(sorted("ORDER BY CloseTime DESC"), ["order-2", "invoice-1", "order-1"], "NULLs last");
        assert_eq!(sorted("ORDER BY CloseTime ASC"), ["invoice-1", "order-2", "order-1"], "NULLs last");
        assert_eq!(sorted("ORDER BY WorkflowType, WorkflowId DESC"), ["invoice-1", "order-2", "order-1"]);
        assert_eq!(sorted("ORDER BY Size DESC"), ["order-2", "order-1", "invoice-1"]);
    }
}
