//! The visibility tables' rows, the same on every SQL backend:
//!
//! `visibility`: one row per run, its `WorkflowExecutionInfo` (what list
//! APIs return) and a column per system attribute queries filter on
//! (empty strings stored as NULL, as queries see them), indexed for the
//! common filters under the default order (start time, run id, newest
//! first).
//!
//! `visibility_attributes`: the run's custom search attribute values, one
//! row per value (a keyword list: one per element, or one marker row when
//! empty; a string also gets one row per distinct word, for Text
//! matching). A side table rather than a column per attribute because
//! attributes are registered at run time and typed at query time: each
//! row keeps the value in the column of its JSON type (a string also as
//! the time it spells, if it is one), so a query reads an attribute as
//! its current registered type without rewriting rows, and each column
//! has a partial index on (namespace, name, value).

use super::query::{System, Value};
use super::values::{self, clamp_nanos, parse_datetime, words};
use chronicle_engine::api::workflow::v1::WorkflowExecutionInfo;
use chronicle_engine::time;
use prost::Message;
use std::collections::BTreeSet;

/// The column of a system attribute in `visibility`.
pub(crate) fn column(field: System) -> &'static str {
    match field {
        System::WorkflowId => "workflow_id",
        System::WorkflowType => "workflow_type",
        System::RunId => "run_id",
        System::ExecutionStatus => "status",
        System::StartTime => "start_time",
        System::CloseTime => "close_time",
        System::ExecutionTime => "execution_time",
        System::TaskQueue => "task_queue",
        System::ParentWorkflowId => "parent_workflow_id",
        System::ParentRunId => "parent_run_id",
        System::RootWorkflowId => "root_workflow_id",
        System::RootRunId => "root_run_id",
        System::HistoryLength => "history_length",
        System::HistorySizeBytes => "history_size_bytes",
        System::StateTransitionCount => "state_transition_count",
        System::ExecutionDuration => "execution_duration",
    }
}

/// Unix nanoseconds of a timestamp; the ordering key of listings.
pub(crate) fn nanos(ts: Option<&prost_types::Timestamp>) -> Option<i64> {
    ts.map(|t| clamp_nanos(time::ts_nanos(t)))
}

/// A run's row of `visibility`, column by column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RunRow {
    pub run_id: String,
    pub namespace: String,
    pub workflow_id: String,
    pub workflow_type: Option<String>,
    pub status: i32,
    /// Times and durations in Unix nanoseconds.
    pub start_time: i64,
    pub close_time: Option<i64>,
    pub execution_time: Option<i64>,
    pub task_queue: Option<String>,
    pub parent_workflow_id: Option<String>,
    pub parent_run_id: Option<String>,
    pub root_workflow_id: Option<String>,
    pub root_run_id: Option<String>,
    pub history_length: i64,
    pub history_size_bytes: i64,
    pub state_transition_count: i64,
    pub execution_duration: Option<i64>,
    /// The encoded `WorkflowExecutionInfo`.
    pub info: Vec<u8>,
}

impl RunRow {
    pub(crate) fn of(namespace: &str, info: &WorkflowExecutionInfo) -> RunRow {
        let exec = info.execution.clone().unwrap_or_default();
        let text = |s: System| match values::system_value(s, info) {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        };
        let int = |s: System| match values::system_value(s, info) {
            Some(Value::Int(i)) => Some(i),
            Some(Value::Time(t)) => Some(clamp_nanos(t)),
            _ => None,
        };
        RunRow {
            run_id: exec.run_id,
            namespace: namespace.to_string(),
            workflow_id: exec.workflow_id,
            workflow_type: text(System::WorkflowType),
            status: info.status,
            start_time: nanos(info.start_time.as_ref()).unwrap_or(0),
            close_time: int(System::CloseTime),
            execution_time: int(System::ExecutionTime),
            task_queue: text(System::TaskQueue),
            parent_workflow_id: text(System::ParentWorkflowId),
            parent_run_id: text(System::ParentRunId),
            root_workflow_id: text(System::RootWorkflowId),
            root_run_id: text(System::RootRunId),
            history_length: info.history_length,
            history_size_bytes: info.history_size_bytes,
            state_transition_count: info.state_transition_count,
            execution_duration: int(System::ExecutionDuration),
            info: info.encode_to_vec(),
        }
    }
}

/// A number as JSON had it: integers stay exact.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Number {
    Int(i64),
    Float(f64),
}

/// One row of `visibility_attributes`. At most one value column is set,
/// except that a string spelling an RFC 3339 time sets `str` and `time`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AttributeRow {
    pub name: String,
    pub seq: i64,
    /// An element of a keyword list (or the marker of an empty one).
    pub list: bool,
    pub num: Option<Number>,
    pub str: Option<String>,
    pub time: Option<i64>,
    pub bool: Option<bool>,
    /// A word of a (non-list) string, lower-cased.
    pub word: Option<String>,
}

/// The attribute rows of a run (see the module comment).
pub(crate) fn attribute_rows(info: &WorkflowExecutionInfo) -> Vec<AttributeRow> {
    let Some(attributes) = &info.search_attributes else { return Vec::new() };
    let mut all = Vec::new();
    for (name, payload) in &attributes.indexed_fields {
        for (seq, (list, value, word)) in value_rows(values::payload_value(payload, false)).into_iter().enumerate() {
            let (num, str, bool) = match value {
                Some(Value::Int(i)) => (Some(Number::Int(i)), None, None),
                Some(Value::Float(f)) => (Some(Number::Float(f)), None, None),
                Some(Value::Str(s)) => (None, Some(s), None),
                Some(Value::Bool(b)) => (None, None, Some(b)),
                _ => (None, None, None),
            };
            let time = str.as_deref().and_then(parse_datetime).map(clamp_nanos);
            all.push(AttributeRow { name: name.clone(), seq: seq as i64, list, num, str, time, bool, word });
        }
    }
    all
}

/// (list, value, word) of each row of one attribute's value.
fn value_rows(value: Option<Value>) -> Vec<(bool, Option<Value>, Option<String>)> {
    match value {
        None => Vec::new(),
        Some(Value::List(items)) if items.is_empty() => vec![(true, None, None)],
        Some(Value::List(items)) => items.into_iter().map(|v| (true, Some(v), None)).collect(),
        Some(Value::Str(s)) => {
            let distinct: BTreeSet<String> = words(&s).into_iter().collect();
            std::iter::once((false, Some(Value::Str(s)), None))
                .chain(distinct.into_iter().map(|w| (false, None, Some(w))))
                .collect()
        }
        scalar => vec![(false, scalar, None)],
    }
}
