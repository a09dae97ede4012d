//! Search attributes: Temporal's system attributes, read from a run's
//! `WorkflowExecutionInfo`, and custom ones, read from its search
//! attributes (JSON payloads) as their registered type; and the typed
//! values a query compares.

use super::QueryError;
use chronicle_engine::api::{
    common::v1::Payload,
    enums::v1::{IndexedValueType, WorkflowExecutionStatus},
    workflow::v1::WorkflowExecutionInfo,
};
use chronicle_engine::time;
use chronicle_store::CustomSearchAttributes;

/// A literal of a query, or the value of a run's attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Unix nanoseconds.
    Time(i128),
    /// A keyword list: a condition holds if it holds for one of its elements.
    List(Vec<Value>),
}

/// How a system attribute's literals are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Keyword,
    Datetime,
    Int,
    /// ExecutionStatus: a keyword naming the status ('Running'), compared
    /// as the enum's number, as Temporal's SQL visibility does.
    Status,
    /// ExecutionDuration: nanoseconds, or a duration string ('1h30m').
    Duration,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Keyword | Kind::Status => "Keyword",
            Kind::Datetime => "Datetime",
            Kind::Int | Kind::Duration => "Int",
        }
    }

    /// The type GetSearchAttributes reports.
    pub fn indexed_type(self) -> IndexedValueType {
        match self {
            Kind::Keyword | Kind::Status => IndexedValueType::Keyword,
            Kind::Datetime => IndexedValueType::Datetime,
            Kind::Int | Kind::Duration => IndexedValueType::Int,
        }
    }
}

macro_rules! system_attributes {
    ($($variant:ident: $kind:ident),* $(,)?) => {
        /// System attributes backed by `WorkflowExecutionInfo` fields.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum System { $($variant),* }

        impl System {
            pub const ALL: &[System] = &[$(System::$variant),*];

            pub fn name(self) -> &'static str {
                match self { $(System::$variant => stringify!($variant)),* }
            }

            pub fn kind(self) -> Kind {
                match self { $(System::$variant => Kind::$kind),* }
            }
        }
    };
}

system_attributes! {
    WorkflowId: Keyword,
    WorkflowType: Keyword,
    RunId: Keyword,
    ExecutionStatus: Status,
    StartTime: Datetime,
    CloseTime: Datetime,
    ExecutionTime: Datetime,
    TaskQueue: Keyword,
    ParentWorkflowId: Keyword,
    ParentRunId: Keyword,
    RootWorkflowId: Keyword,
    RootRunId: Keyword,
    HistoryLength: Int,
    HistorySizeBytes: Int,
    StateTransitionCount: Int,
    ExecutionDuration: Duration,
}

/// Temporal's other system attributes: kept in a run's search attributes
/// (by SDKs or the server), so read like custom ones.
pub const STORED_SYSTEM_ATTRIBUTES: &[(&str, IndexedValueType)] = &[
    ("BatcherNamespace", IndexedValueType::Keyword),
    ("BatcherUser", IndexedValueType::Keyword),
    ("BinaryChecksums", IndexedValueType::KeywordList),
    ("BuildIds", IndexedValueType::KeywordList),
    ("TemporalChangeVersion", IndexedValueType::KeywordList),
    ("TemporalExternalPayloadCount", IndexedValueType::Int),
    ("TemporalExternalPayloadSizeBytes", IndexedValueType::Int),
    ("TemporalNamespaceDivision", IndexedValueType::Keyword),
    ("TemporalPauseInfo", IndexedValueType::KeywordList),
    ("TemporalReportedProblems", IndexedValueType::KeywordList),
    ("TemporalSchedulePaused", IndexedValueType::Bool),
    ("TemporalScheduledById", IndexedValueType::Keyword),
    ("TemporalScheduledStartTime", IndexedValueType::Datetime),
    ("TemporalUsedWorkerDeploymentVersions", IndexedValueType::KeywordList),
    ("TemporalWorkerDeployment", IndexedValueType::Keyword),
    ("TemporalWorkerDeploymentVersion", IndexedValueType::Keyword),
    ("TemporalWorkflowVersioningBehavior", IndexedValueType::Keyword),
];

/// Every system attribute and its type, as Temporal lists them (the
/// `WorkflowExecutionInfo` fields, then the stored ones).
pub fn system_attributes() -> impl Iterator<Item = (&'static str, IndexedValueType)> {
    let fields = System::ALL.iter().map(|s| (s.name(), s.kind().indexed_type()));
    fields.chain(STORED_SYSTEM_ATTRIBUTES.iter().copied())
}

/// Temporal's name of a search attribute type ('Keyword', 'KeywordList').
pub fn type_name(ty: IndexedValueType) -> &'static str {
    match ty {
        IndexedValueType::Unspecified => "Unspecified",
        IndexedValueType::Text => "Text",
        IndexedValueType::Keyword => "Keyword",
        IndexedValueType::Int => "Int",
        IndexedValueType::Double => "Double",
        IndexedValueType::Bool => "Bool",
        IndexedValueType::Datetime => "Datetime",
        IndexedValueType::KeywordList => "KeywordList",
    }
}

/// An attribute a query names.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    System(System),
    /// Looked up in the run's search attributes; absent means NULL. `ty`
    /// is the registered (or stored system) type; None: not registered,
    /// so literals are taken as written and values as their payloads say.
    Custom {
        name: String,
        ty: Option<IndexedValueType>,
    },
}

impl Field {
    /// Unregistered custom attributes are accepted (Chronicle does not
    /// require registration), except a known name in the wrong case, which
    /// is a typo rather than an attribute nobody has set.
    pub fn parse(name: &str, registered: &CustomSearchAttributes) -> Result<Field, QueryError> {
        if let Some(s) = System::ALL.iter().find(|s| s.name() == name) {
            return Ok(Field::System(*s));
        }
        let stored = STORED_SYSTEM_ATTRIBUTES.iter().find(|(n, _)| *n == name).map(|(_, ty)| ty);
        if let Some(ty) = registered.get(name).or(stored) {
            return Ok(Field::Custom { name: name.to_string(), ty: Some(*ty) });
        }
        let mut known = system_attributes().map(|(n, _)| n).chain(registered.keys().map(String::as_str));
        match known.find(|n| n.eq_ignore_ascii_case(name)) {
            Some(n) => Err(QueryError(format!("invalid search attribute: {name} (did you mean {n}?)"))),
            None => Ok(Field::Custom { name: name.to_string(), ty: None }),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Field::System(s) => s.name(),
            Field::Custom { name, .. } => name,
        }
    }

    /// The registered type of a custom attribute.
    pub fn custom_type(&self) -> Option<IndexedValueType> {
        match self {
            Field::Custom { ty, .. } => *ty,
            Field::System(_) => None,
        }
    }

    /// The attribute's value on a run; None is NULL.
    pub fn value(&self, info: &WorkflowExecutionInfo) -> Option<Value> {
        match self {
            Field::System(s) => system_value(*s, info),
            Field::Custom { name, ty } => info
                .search_attributes
                .as_ref()
                .and_then(|sa| sa.indexed_fields.get(name))
                .and_then(|p| payload_value(p, *ty)),
        }
    }
}

fn non_empty(s: &str) -> Option<Value> {
    (!s.is_empty()).then(|| Value::Str(s.to_string()))
}

fn system_value(field: System, info: &WorkflowExecutionInfo) -> Option<Value> {
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

/// A search attribute payload (JSON; the registered type, or else its
/// `type` metadata when SDKs set it, tells a Datetime from a string).
fn payload_value(p: &Payload, ty: Option<IndexedValueType>) -> Option<Value> {
    let json: serde_json::Value = serde_json::from_slice(&p.data).ok()?;
    let datetime = match ty {
        Some(ty) => ty == IndexedValueType::Datetime,
        None => p.metadata.get("type").is_some_and(|t| t.as_slice() == b"Datetime"),
    };
    json_value(&json, datetime)
}

fn json_value(json: &serde_json::Value, datetime: bool) -> Option<Value> {
    use serde_json::Value as J;
    match json {
        J::Null => None,
        J::Bool(b) => Some(Value::Bool(*b)),
        J::Number(n) => n.as_i64().map(Value::Int).or_else(|| n.as_f64().map(Value::Float)),
        J::String(s) if datetime => parse_datetime(s).map(Value::Time).or_else(|| Some(Value::Str(s.clone()))),
        J::String(s) => Some(Value::Str(s.clone())),
        J::Array(items) => Some(Value::List(items.iter().filter_map(|v| json_value(v, datetime)).collect())),
        J::Object(_) => Some(Value::Str(json.to_string())),
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Str(s) => format!("{s:?} (type: string)"),
        Value::Int(i) => format!("{i} (type: int64)"),
        Value::Float(f) => format!("{f} (type: float64)"),
        Value::Bool(b) => format!("{b} (type: bool)"),
        Value::Time(t) => format!("{t} (type: datetime)"),
        Value::List(_) => "a list".to_string(),
    }
}

fn wrong_type(name: &str, type_name: &str, v: &Value) -> QueryError {
    QueryError(format!(
        "invalid expression: invalid value type for search attribute {name} of type {type_name}: {}",
        describe(v)
    ))
}

fn bad_datetime(s: &str) -> QueryError {
    QueryError(format!("invalid expression: unable to parse datetime '{s}'"))
}

/// A literal read as the system attribute's type.
pub fn convert(field: System, literal: Value) -> Result<Value, QueryError> {
    match (field.kind(), literal) {
        (Kind::Keyword, v @ Value::Str(_)) => Ok(v),
        (Kind::Status, Value::Str(s)) => parse_status(&s)
            .map(|n| Value::Int(n as i64))
            .ok_or_else(|| QueryError(format!("invalid expression: invalid ExecutionStatus value '{s}'"))),
        (Kind::Status, v @ Value::Int(_)) => Ok(v),
        (Kind::Datetime, Value::Str(s)) => parse_datetime(&s).map(Value::Time).ok_or_else(|| bad_datetime(&s)),
        (Kind::Datetime, Value::Int(n)) => Ok(Value::Time(n as i128)),
        (Kind::Int | Kind::Duration, v @ (Value::Int(_) | Value::Float(_))) => Ok(v),
        (Kind::Duration, Value::Str(s)) => parse_duration(&s)
            .map(|n| Value::Int(n.min(i64::MAX as i128) as i64))
            .ok_or_else(|| QueryError(format!("invalid expression: invalid duration '{s}'"))),
        (_, v) => Err(wrong_type(field.name(), field.kind().name(), &v)),
    }
}

/// A literal read as a custom attribute's registered type (Temporal takes
/// a float for an Int and compares numerically).
pub fn convert_custom(name: &str, ty: IndexedValueType, literal: Value) -> Result<Value, QueryError> {
    use IndexedValueType as T;
    match (ty, literal) {
        (T::Keyword | T::Text | T::KeywordList, v @ Value::Str(_)) => Ok(v),
        (T::Int | T::Double, v @ (Value::Int(_) | Value::Float(_))) => Ok(v),
        (T::Bool, v @ Value::Bool(_)) => Ok(v),
        (T::Datetime, Value::Str(s)) => parse_datetime(&s).map(Value::Time).ok_or_else(|| bad_datetime(&s)),
        (T::Datetime, Value::Int(n)) => Ok(Value::Time(n as i128)),
        (T::Unspecified, v) => Ok(v),
        (_, v) => Err(wrong_type(name, type_name(ty), &v)),
    }
}

/// The words of a Text value or literal: Temporal matches Text by words,
/// case-insensitively ('big, WORLD!' matches 'hello big world').
pub fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

/// The status names queries use and CountWorkflowExecutions groups by.
pub fn status_name(status: i32) -> &'static str {
    match WorkflowExecutionStatus::try_from(status).unwrap_or_default() {
        WorkflowExecutionStatus::Unspecified => "Unspecified",
        WorkflowExecutionStatus::Running => "Running",
        WorkflowExecutionStatus::Completed => "Completed",
        WorkflowExecutionStatus::Failed => "Failed",
        WorkflowExecutionStatus::Canceled => "Canceled",
        WorkflowExecutionStatus::Terminated => "Terminated",
        WorkflowExecutionStatus::ContinuedAsNew => "ContinuedAsNew",
        WorkflowExecutionStatus::TimedOut => "TimedOut",
        WorkflowExecutionStatus::Paused => "Paused",
    }
}

/// 'Running' or 'WORKFLOW_EXECUTION_STATUS_RUNNING', as Temporal accepts
/// (case-sensitive: 'running' is rejected there too).
pub fn parse_status(s: &str) -> Option<i32> {
    if let Some(status) = WorkflowExecutionStatus::from_str_name(s) {
        return Some(status as i32);
    }
    (1..=8).find(|n| status_name(*n) == s)
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

/// Nanoseconds of a duration: Go's syntax ('1h30m', '1.5s', '300ms',
/// also 'd' for days) or 'hh:mm:ss[.fff]'.
pub fn parse_duration(s: &str) -> Option<i128> {
    if let Some((h, rest)) = s.split_once(':') {
        let (m, sec) = rest.split_once(':')?;
        let secs: f64 = sec.parse().ok().filter(|v: &f64| v.is_finite() && *v >= 0.0)?;
        let whole = |x: &str| x.bytes().all(|c| c.is_ascii_digit()).then(|| x.parse::<i128>().ok()).flatten();
        return Some((whole(h)? * 3600 + whole(m)? * 60) * 1_000_000_000 + (secs * 1e9).round() as i128);
    }
    let (negative, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    match rest {
        "" => return None,
        "0" => return Some(0),
        _ => {}
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "d" => 86400e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * scale;
    }
    let nanos = total.round() as i128;
    Some(if negative { -nanos } else { nanos })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chronicle_engine::api::common::v1::{SearchAttributes, WorkflowExecution, WorkflowType};

    #[test]
    fn statuses_by_name() {
        assert_eq!(parse_status("Running"), Some(1));
        assert_eq!(parse_status("ContinuedAsNew"), Some(6));
        assert_eq!(parse_status("TimedOut"), Some(7));
        assert_eq!(parse_status("WORKFLOW_EXECUTION_STATUS_TERMINATED"), Some(5));
        assert_eq!(parse_status("running"), None);
        assert_eq!(parse_status("Bogus"), None);
        for n in 1..=7 {
            assert_eq!(parse_status(status_name(n)), Some(n));
        }
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
    }

    #[test]
    fn durations_as_go_writes_them() {
        const S: i128 = 1_000_000_000;
        assert_eq!(parse_duration("1h30m"), Some(5400 * S));
        assert_eq!(parse_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_duration("300ms"), Some(300_000_000));
        assert_eq!(parse_duration("2us"), Some(2_000));
        assert_eq!(parse_duration("7ns"), Some(7));
        assert_eq!(parse_duration("1d"), Some(86400 * S));
        assert_eq!(parse_duration("-2m"), Some(-120 * S));
        assert_eq!(parse_duration("0"), Some(0));
        assert_eq!(parse_duration("01:02:03"), Some(3723 * S));
        assert_eq!(parse_duration("00:00:01.25"), Some(1_250_000_000));
        for bad in ["", "1", "h", "1x", "1h-1m", "a:b:c", "1:2"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn field_names() {
        let registered = CustomSearchAttributes::from([("Color".to_string(), IndexedValueType::Keyword)]);
        let parse = |name: &str| Field::parse(name, &registered);
        let custom = |name: &str, ty| Field::Custom { name: name.into(), ty };
        assert_eq!(parse("WorkflowId").unwrap(), Field::System(System::WorkflowId));
        assert_eq!(parse("CustomKeywordField").unwrap(), custom("CustomKeywordField", None));
        assert_eq!(parse("Color").unwrap(), custom("Color", Some(IndexedValueType::Keyword)));
        assert_eq!(parse("BuildIds").unwrap(), custom("BuildIds", Some(IndexedValueType::KeywordList)));
        let err = parse("workflowid").unwrap_err();
        assert_eq!(err.0, "invalid search attribute: workflowid (did you mean WorkflowId?)");
        assert_eq!(parse("COLOR").unwrap_err().0, "invalid search attribute: COLOR (did you mean Color?)");
        assert_eq!(parse("buildids").unwrap_err().0, "invalid search attribute: buildids (did you mean BuildIds?)");
        assert_eq!(system_attributes().count(), 33, "as Temporal 1.32 lists them");
    }

    #[test]
    fn literals_take_the_registered_type() {
        use IndexedValueType as T;
        let conv = |ty, v| convert_custom("Attr", ty, v);
        assert_eq!(conv(T::Keyword, Value::Str("a".into())), Ok(Value::Str("a".into())));
        assert_eq!(conv(T::Text, Value::Str("a b".into())), Ok(Value::Str("a b".into())));
        assert_eq!(conv(T::KeywordList, Value::Str("a".into())), Ok(Value::Str("a".into())));
        assert_eq!(conv(T::Int, Value::Float(42.0)), Ok(Value::Float(42.0)));
        assert_eq!(conv(T::Double, Value::Int(2)), Ok(Value::Int(2)));
        assert_eq!(conv(T::Bool, Value::Bool(false)), Ok(Value::Bool(false)));
        assert_eq!(
            conv(T::Datetime, Value::Str("2024-01-01T00:00:00Z".into())),
            Ok(Value::Time(1_704_067_200_000_000_000))
        );
        assert_eq!(conv(T::Datetime, Value::Int(7)), Ok(Value::Time(7)));
        assert_eq!(
            conv(T::Int, Value::Str("42".into())).unwrap_err().0,
            "invalid expression: invalid value type for search attribute Attr of type Int: \"42\" (type: string)"
        );
        assert_eq!(
            conv(T::KeywordList, Value::Int(5)).unwrap_err().0,
            "invalid expression: invalid value type for search attribute Attr of type KeywordList: 5 (type: int64)"
        );
        assert!(conv(T::Bool, Value::Str("true".into())).unwrap_err().0.contains("of type Bool"));
        assert!(conv(T::Double, Value::Bool(true)).unwrap_err().0.contains("of type Double"));
        assert_eq!(
            conv(T::Datetime, Value::Str("2024-01-01".into())).unwrap_err().0,
            "invalid expression: unable to parse datetime '2024-01-01'"
        );
        assert_eq!(words("Hello, big-WORLD! 42"), ["hello", "big", "world", "42"]);
        assert!(words(" ,. ").is_empty());
    }

    #[test]
    fn literals_take_the_attribute_type() {
        assert_eq!(convert(System::WorkflowId, Value::Str("a".into())), Ok(Value::Str("a".into())));
        assert_eq!(
            convert(System::WorkflowId, Value::Int(5)).unwrap_err().0,
            "invalid expression: invalid value type for search attribute WorkflowId of type Keyword: 5 (type: int64)"
        );
        assert_eq!(
            convert(System::HistoryLength, Value::Str("abc".into())).unwrap_err().0,
            "invalid expression: invalid value type for search attribute HistoryLength of type Int: \"abc\" (type: string)"
        );
        assert_eq!(convert(System::HistoryLength, Value::Float(1.5)), Ok(Value::Float(1.5)));
        assert_eq!(convert(System::ExecutionStatus, Value::Str("Failed".into())), Ok(Value::Int(3)));
        assert_eq!(convert(System::ExecutionStatus, Value::Int(1)), Ok(Value::Int(1)));
        assert_eq!(
            convert(System::ExecutionStatus, Value::Str("running".into())).unwrap_err().0,
            "invalid expression: invalid ExecutionStatus value 'running'"
        );
        assert_eq!(convert(System::StartTime, Value::Int(5)), Ok(Value::Time(5)));
        assert_eq!(
            convert(System::StartTime, Value::Str("2030-01-01".into())).unwrap_err().0,
            "invalid expression: unable to parse datetime '2030-01-01'"
        );
        assert!(convert(System::StartTime, Value::Bool(true)).is_err());
        assert_eq!(convert(System::ExecutionDuration, Value::Str("1m".into())), Ok(Value::Int(60_000_000_000)));
        assert!(convert(System::ExecutionDuration, Value::Str("soon".into())).is_err());
    }

    fn payload(json: &str, ty: Option<&str>) -> Payload {
        let mut p = Payload { data: json.as_bytes().to_vec(), ..Default::default() };
        p.metadata.insert("encoding".into(), b"json/plain".to_vec());
        if let Some(ty) = ty {
            p.metadata.insert("type".into(), ty.as_bytes().to_vec());
        }
        p
    }

    #[test]
    fn values_of_a_run() {
        let mut info = WorkflowExecutionInfo {
            execution: Some(WorkflowExecution { workflow_id: "wf".into(), run_id: "run".into() }),
            r#type: Some(WorkflowType { name: "T".into() }),
            status: 2,
            start_time: Some(prost_types::Timestamp { seconds: 10, nanos: 5 }),
            history_length: 7,
            execution_duration: Some(prost_types::Duration { seconds: 1, nanos: 0 }),
            ..Default::default()
        };
        let sa = |name: &str| Field::Custom { name: name.into(), ty: None };
        let sys = |s: System| Field::System(s);
        assert_eq!(sys(System::WorkflowId).value(&info), Some(Value::Str("wf".into())));
        assert_eq!(sys(System::WorkflowType).value(&info), Some(Value::Str("T".into())));
        assert_eq!(sys(System::ExecutionStatus).value(&info), Some(Value::Int(2)));
        assert_eq!(sys(System::StartTime).value(&info), Some(Value::Time(10_000_000_005)));
        assert_eq!(sys(System::CloseTime).value(&info), None);
        assert_eq!(sys(System::ParentWorkflowId).value(&info), None);
        assert_eq!(sys(System::HistoryLength).value(&info), Some(Value::Int(7)));
        assert_eq!(sys(System::ExecutionDuration).value(&info), Some(Value::Int(1_000_000_000)));
        assert_eq!(sa("Missing").value(&info), None);

        let fields = [
            ("Kw", payload("\"blue\"", Some("Keyword"))),
            ("Num", payload("42", Some("Int"))),
            ("Dbl", payload("2.5", None)),
            ("Flag", payload("true", Some("Bool"))),
            ("When", payload("\"2024-01-01T00:00:00Z\"", Some("Datetime"))),
            ("Tags", payload("[\"a\",\"b\"]", Some("KeywordList"))),
            ("Broken", payload("not json", None)),
        ];
        info.search_attributes =
            Some(SearchAttributes { indexed_fields: fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect() });
        assert_eq!(sa("Kw").value(&info), Some(Value::Str("blue".into())));
        assert_eq!(sa("Num").value(&info), Some(Value::Int(42)));
        assert_eq!(sa("Dbl").value(&info), Some(Value::Float(2.5)));
        assert_eq!(sa("Flag").value(&info), Some(Value::Bool(true)));
        assert_eq!(sa("When").value(&info), Some(Value::Time(1_704_067_200 * 1_000_000_000)));
        assert_eq!(sa("Tags").value(&info), Some(Value::List(vec![Value::Str("a".into()), Value::Str("b".into())])));
        assert_eq!(sa("Broken").value(&info), None);

        // A registered Datetime is read as one even without the metadata.
        let fields = info.search_attributes.as_mut().unwrap();
        fields.indexed_fields.insert("Due".into(), payload("\"2024-01-01T00:00:00Z\"", None));
        assert_eq!(sa("Due").value(&info), Some(Value::Str("2024-01-01T00:00:00Z".into())));
        let due = Field::Custom { name: "Due".into(), ty: Some(IndexedValueType::Datetime) };
        assert_eq!(due.value(&info), Some(Value::Time(1_704_067_200 * 1_000_000_000)));
    }
}
