//! A query against a run's `WorkflowExecutionInfo`, with SQL's
//! three-valued logic: a condition on a NULL (absent) attribute, or between
//! values of different types, is unknown, and a run matches only when the
//! whole filter is true (so `CloseTime > x` and `NOT CloseTime > x` both
//! leave out running workflows, as on Temporal). A registered Text
//! attribute matches by words.
//!
//! This is the reference meaning of a query: backends compile queries to
//! their own language (`sql.rs`), and the store conformance tests check
//! them against this evaluator.

use super::query::{Expr, Field, Op, Query, Value};
use super::values::{parse_datetime, words};
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
