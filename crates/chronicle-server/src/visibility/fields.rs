//! Search attributes as queries name them: Temporal's system attributes
//! and the namespace's registered custom ones, and literals read as their
//! types.

use super::QueryError;
use chronicle_engine::api::enums::v1::{IndexedValueType, WorkflowExecutionStatus};
use chronicle_store::CustomSearchAttributes;
pub use chronicle_store::visibility::{Field, Kind, System, Value, parse_datetime, words};

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

/// The attribute `name` names: a system one, or a registered custom one
/// (as on Temporal, a name nobody registered is an error, and so is a
/// known name in the wrong case).
pub fn resolve(name: &str, registered: &CustomSearchAttributes) -> Result<Field, QueryError> {
    if let Some(s) = System::ALL.iter().find(|s| s.name() == name) {
        return Ok(Field::System(*s));
    }
    let stored = STORED_SYSTEM_ATTRIBUTES.iter().find(|(n, _)| *n == name).map(|(_, ty)| ty);
    match registered.get(name).or(stored) {
        Some(ty) => Ok(Field::Custom { name: name.to_string(), ty: *ty }),
        None => Err(QueryError(format!("invalid search attribute: {name}"))),
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

/// A standalone activity's status as Temporal names it ('Running').
pub fn activity_status_name(status: i32) -> &'static str {
    use chronicle_engine::api::enums::v1::ActivityExecutionStatus;
    match ActivityExecutionStatus::try_from(status).unwrap_or_default() {
        ActivityExecutionStatus::Running => "Running",
        ActivityExecutionStatus::Completed => "Completed",
        ActivityExecutionStatus::Failed => "Failed",
        ActivityExecutionStatus::Canceled => "Canceled",
        ActivityExecutionStatus::Terminated => "Terminated",
        ActivityExecutionStatus::TimedOut => "TimedOut",
        ActivityExecutionStatus::Paused => "Paused",
        ActivityExecutionStatus::Unspecified => "Unspecified",
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
        let parse = |name: &str| resolve(name, &registered);
        let custom = |name: &str, ty| Field::Custom { name: name.into(), ty };
        assert_eq!(parse("WorkflowId").unwrap(), Field::System(System::WorkflowId));
        assert_eq!(parse("Color").unwrap(), custom("Color", IndexedValueType::Keyword));
        assert_eq!(parse("BuildIds").unwrap(), custom("BuildIds", IndexedValueType::KeywordList));
        // Temporal's messages: no registration, no attribute; names are case-sensitive.
        for unknown in ["CustomKeywordField", "workflowid", "COLOR", "buildids"] {
            assert_eq!(parse(unknown).unwrap_err().0, format!("invalid search attribute: {unknown}"));
        }
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
}
