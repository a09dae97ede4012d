//! A run's attribute values as queries see them: system attributes from
//! its `WorkflowExecutionInfo`, custom ones from its search attributes
//! (JSON payloads).

use super::query::{Field, System, Value};
use chronicle_engine::api::{common::v1::Payload, enums::v1::IndexedValueType, workflow::v1::WorkflowExecutionInfo};
use chronicle_engine::time;

impl Field {
    /// The attribute's value on a run; None is NULL.
    pub fn value(&self, info: &WorkflowExecutionInfo) -> Option<Value> {
        match self {
            Field::System(s) => system_value(*s, info),
            Field::Custom { name, ty } => info
                .search_attributes
                .as_ref()
                .and_then(|sa| sa.indexed_fields.get(name))
                .and_then(|p| payload_value(p, *ty == IndexedValueType::Datetime)),
        }
    }
}

fn non_empty(s: &str) -> Option<Value> {
    (!s.is_empty()).then(|| Value::Str(s.to_string()))
}

/// Nanoseconds as an i64, saturating (SQL columns hold i64; Unix
/// nanoseconds in i64 reach the year 2262).
pub fn clamp_nanos(n: i128) -> i64 {
    n.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

pub(crate) fn system_value(field: System, info: &WorkflowExecutionInfo) -> Option<Value> {
    let exec = info.execution.as_ref();
    let parent = info.parent_execution.as_ref();
    let root = info.root_execution.as_ref();
    let ts = |t: Option<&prost_types::Timestamp>| t.map(|t| Value::Time(time::ts_nanos(t)));
    match field {
        System::WorkflowId => non_empty(exec.map(|e| e.workflow_id.as_str()).unwrap_or_default()),
        System::RunId => non_empty(exec.map(|e| e.run_id.as_str()).unwrap_or_default()),
        System::WorkflowType => non_empty(info.r#type.as_ref().map(|t| t.name.as_str()).unwrap_or_default()),
        System::ExecutionStatus => Some(Value::Int(info.status as i64)),
        System::StartTime => ts(info.start_time.as_ref()),
        System::CloseTime => ts(info.close_time.as_ref()),
        System::ExecutionTime => ts(info.execution_time.as_ref()),
        System::TaskQueue => non_empty(&info.task_queue),
        System::ParentWorkflowId => parent.and_then(|p| non_empty(&p.workflow_id)),
        System::ParentRunId => parent.and_then(|p| non_empty(&p.run_id)),
        System::RootWorkflowId => root.and_then(|r| non_empty(&r.workflow_id)),
        System::RootRunId => root.and_then(|r| non_empty(&r.run_id)),
        System::HistoryLength => Some(Value::Int(info.history_length)),
        System::HistorySizeBytes => Some(Value::Int(info.history_size_bytes)),
        System::StateTransitionCount => Some(Value::Int(info.state_transition_count)),
        System::ExecutionDuration => {
            info.execution_duration.as_ref().map(|d| Value::Int(time::dur_nanos(d).min(i64::MAX as i128) as i64))
        }
    }
}

/// A search attribute payload as JSON; strings are times when `datetime`
/// (the attribute is registered as Datetime) and they parse as one.
pub(crate) fn payload_value(p: &Payload, datetime: bool) -> Option<Value> {
    let json: serde_json::Value = serde_json::from_slice(&p.data).ok()?;
    json_value(&json, datetime)
}

/// Arrays nested in an array are flattened into it: a keyword list is one
/// level deep, whatever a client upserted.
fn json_value(json: &serde_json::Value, datetime: bool) -> Option<Value> {
    use serde_json::Value as J;
    match json {
        J::Null => None,
        J::Bool(b) => Some(Value::Bool(*b)),
        J::Number(n) => n.as_i64().map(Value::Int).or_else(|| n.as_f64().map(Value::Float)),
        J::String(s) if datetime => parse_datetime(s).map(Value::Time).or_else(|| Some(Value::Str(s.clone()))),
        J::String(s) => Some(Value::Str(s.clone())),
        J::Array(items) => {
            let mut all = Vec::new();
            for item in items.iter().filter_map(|v| json_value(v, datetime)) {
                match item {
                    Value::List(inner) => all.extend(inner),
                    scalar => all.push(scalar),
                }
            }
            Some(Value::List(all))
        }
        J::Object(_) => Some(Value::Str(json.to_string())),
    }
}

/// RFC 3339 with a time and a zone ('2024-05-01T10:00:00Z',
/// '...T12:00:00.5+02:00'), as Go's time.RFC3339Nano.
pub fn parse_datetime(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    let zoned =
        b.last().is_some_and(|c| matches!(c, b'Z' | b'z')) || s.get(19..).is_some_and(|t| t.contains(['+', '-']));
    if b.len() < 20 || !matches!(b[10], b'T' | b't') || !zoned {
        return None;
    }
    s.parse::<prost_types::Timestamp>().ok().map(|t| time::ts_nanos(&t))
}

/// The words of a Text value or literal: Temporal matches Text by words,
/// case-insensitively ('big, WORLD!' matches 'hello big world').
pub fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chronicle_engine::api::common::v1::{SearchAttributes, WorkflowExecution, WorkflowType};

    fn payload(json: &str) -> Payload {
        let mut p = Payload { data: json.as_bytes().to_vec(), ..Default::default() };
        p.metadata.insert("encoding".into(), b"json/plain".to_vec());
        p
    }

    #[test]
    fn datetimes_are_rfc3339() {
        let base = 1_704_067_200i128 * 1_000_000_000; // 2024-01-01T00:00:00Z
        assert_eq!(parse_datetime("2024-01-01T00:00:00Z"), Some(base));
        assert_eq!(parse_datetime("2024-01-01T02:00:00+02:00"), Some(base));
        assert_eq!(parse_datetime("2023-12-31T23:00:00-01:00"), Some(base));
        assert_eq!(parse_datetime("2024-01-01T00:00:00.000000001Z"), Some(base + 1));
        assert_eq!(parse_datetime("2024-01-01t00:00:00.5z"), Some(base + 500_000_000));
        for bad in ["2024-01-01", "2024-01-01 00:00:00", "2024-01-01T00:00:00", "yesterday", "", "2024-13-01T00:00:00Z"]
        {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
        assert_eq!(words("Hello, big-WORLD! 42"), ["hello", "big", "world", "42"]);
        assert!(words(" ,. ").is_empty());
    }

    #[test]
    fn values_of_a_run() {
        use IndexedValueType as T;
        let mut info = WorkflowExecutionInfo {
            execution: Some(WorkflowExecution { workflow_id: "wf".into(), run_id: "run".into() }),
            r#type: Some(WorkflowType { name: "T".into() }),
            status: 2,
            start_time: Some(prost_types::Timestamp { seconds: 10, nanos: 5 }),
            history_length: 7,
            execution_duration: Some(prost_types::Duration { seconds: 1, nanos: 0 }),
            ..Default::default()
        };
        let sa = |name: &str, ty| Field::Custom { name: name.into(), ty };
        let sys = |s: System| Field::System(s);
        assert_eq!(sys(System::WorkflowId).value(&info), Some(Value::Str("wf".into())));
        assert_eq!(sys(System::WorkflowType).value(&info), Some(Value::Str("T".into())));
        assert_eq!(sys(System::ExecutionStatus).value(&info), Some(Value::Int(2)));
        assert_eq!(sys(System::StartTime).value(&info), Some(Value::Time(10_000_000_005)));
        assert_eq!(sys(System::CloseTime).value(&info), None);
        assert_eq!(sys(System::ParentWorkflowId).value(&info), None);
        assert_eq!(sys(System::HistoryLength).value(&info), Some(Value::Int(7)));
        assert_eq!(sys(System::ExecutionDuration).value(&info), Some(Value::Int(1_000_000_000)));
        assert_eq!(sa("Missing", T::Keyword).value(&info), None);

        let fields = [
            ("Kw", payload("\"blue\"")),
            ("Num", payload("42")),
            ("Dbl", payload("2.5")),
            ("Flag", payload("true")),
            ("When", payload("\"2024-01-01T00:00:00Z\"")),
            ("Tags", payload("[\"a\",[\"b\",[\"c\"]],null]")),
            ("Broken", payload("not json")),
        ];
        info.search_attributes =
            Some(SearchAttributes { indexed_fields: fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect() });
        assert_eq!(sa("Kw", T::Keyword).value(&info), Some(Value::Str("blue".into())));
        assert_eq!(sa("Num", T::Int).value(&info), Some(Value::Int(42)));
        assert_eq!(sa("Dbl", T::Double).value(&info), Some(Value::Float(2.5)));
        assert_eq!(sa("Flag", T::Bool).value(&info), Some(Value::Bool(true)));
        assert_eq!(sa("When", T::Datetime).value(&info), Some(Value::Time(1_704_067_200 * 1_000_000_000)));
        // The type is the registered one: the same payload as a Keyword is a string.
        assert_eq!(sa("When", T::Keyword).value(&info), Some(Value::Str("2024-01-01T00:00:00Z".into())));
        let abc = ["a", "b", "c"].map(|s| Value::Str(s.into())).to_vec();
        assert_eq!(sa("Tags", T::KeywordList).value(&info), Some(Value::List(abc)));
        assert_eq!(sa("Broken", T::Keyword).value(&info), None);
    }
}
