//! Queries compiled to SQLite: every literal and attribute name is a bound
//! parameter, never part of the statement's text.
//!
//! SQL's three-valued logic is kept exactly (as `eval.rs` defines it) by
//! compiling each condition for a polarity: "is true" or "is false". AND
//! and OR combine same-polarity parts, NOT flips the polarity, and no
//! compiled part is ever negated by SQL, so an unknown (NULL) part can
//! only make its AND/OR falsy, as unknown does at the top of a WHERE.
//! That also lets a custom attribute's "is true" be an IN over its
//! attribute rows, which SQLite can drive from the (namespace, name,
//! value) indexes.

use super::query::{Expr, Field, Op, OrderBy, Query, System, Value};
use super::table::column;
use super::values::{clamp_nanos, parse_datetime, words};
use crate::{ListCursor, RunCount, RunsPage, StoreError, VisibilityCursor};
use chronicle_engine::api::{enums::v1::IndexedValueType, workflow::v1::WorkflowExecutionInfo};
use prost::Message;
use rusqlite::types::{ToSql, ToSqlOutput};
use rusqlite::{Connection, params_from_iter};
use std::collections::{BTreeSet, HashMap};

/// Filters whose SQL would nest deeper are refused rather than risk the
/// stack or SQLite's expression depth limit (1,000, and a condition on an
/// attribute adds a few levels). The parser's limits (199 levels of
/// parentheses and NOTs) stay far below: chains are balanced, so an
/// n-operand AND or OR is log2(n) levels deep (NOT counts one, for the
/// stack, though it adds no SQL).
const DEPTH_MAX: usize = 900;

/// IN lists longer than this (or once the statement has this many
/// parameters) are bound as one JSON array, so no list meets SQLite's
/// parameter limit (32,766).
const INLINE_IN_MAX: usize = 64;
const INLINE_PARAMS_MAX: usize = 8_000;

/// A bound parameter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Text(String),
    Int(i64),
    Real(f64),
}

impl ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        match self {
            Param::Text(s) => s.to_sql(),
            Param::Int(i) => i.to_sql(),
            Param::Real(f) => f.to_sql(),
        }
    }
}

#[derive(Debug, Hash, PartialEq, Eq)]
enum Key {
    Text(String),
    Int(i64),
    Real(u64),
}

/// A statement and its parameters (`?1` is the namespace).
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    pub sql: String,
    pub params: Vec<Param>,
}

fn too_deep() -> StoreError {
    StoreError::Internal(format!("visibility query nests deeper than {DEPTH_MAX} levels"))
}

/// A statement listing `query`'s runs of `namespace`: at most `limit + 1`
/// (the extra one tells whether there is a next page), from `from`.
pub(crate) fn list(
    namespace: &str,
    query: &Query,
    from: Option<&ListCursor>,
    limit: usize,
) -> Result<Compiled, StoreError> {
    let mut c = Compiler::new(namespace);
    let mut sql = String::from("SELECT v.info FROM visibility v WHERE v.namespace = ?1");
    if let Some(filter) = &query.filter {
        let filter = c.expr(filter, true, 0)?;
        sql += &format!(" AND ({filter})");
    }
    let limit = c.param(Param::Int(i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1)));
    if query.order_by.is_empty() {
        match from {
            Some(ListCursor::After(after)) => {
                let (t, r) = (c.param(Param::Int(after.start_time)), c.param(Param::Text(after.run_id.clone())));
                sql += &format!(" AND (v.start_time, v.run_id) < ({t}, {r})");
            }
            Some(ListCursor::Offset(_)) => return Err(StoreError::Internal("an offset needs an ORDER BY".into())),
            None => {}
        }
        sql += &format!(" ORDER BY v.start_time DESC, v.run_id DESC LIMIT {limit}");
    } else {
        let offset = match from {
            Some(ListCursor::Offset(n)) => i64::try_from(*n).unwrap_or(i64::MAX),
            Some(ListCursor::After(_)) => {
                return Err(StoreError::Internal("a run cursor needs the default order".into()));
            }
            None => 0,
        };
        let keys: Vec<String> = query.order_by.iter().map(|key| c.order_key(key)).collect();
        let offset = c.param(Param::Int(offset));
        sql +=
            &format!(" ORDER BY {}, v.start_time DESC, v.run_id DESC LIMIT {limit} OFFSET {offset}", keys.join(", "));
    }
    Ok(Compiled { sql, params: c.params })
}

/// A statement counting `query`'s runs of `namespace`, per status if it
/// groups by ExecutionStatus: rows of (status or NULL, count).
pub(crate) fn count(namespace: &str, query: &Query) -> Result<Compiled, StoreError> {
    let mut c = Compiler::new(namespace);
    let group = query.group_by.is_some();
    let mut sql = format!(
        "SELECT {}, COUNT(*) FROM visibility v WHERE v.namespace = ?1",
        if group { "v.status" } else { "NULL" }
    );
    if let Some(filter) = &query.filter {
        let filter = c.expr(filter, true, 0)?;
        sql += &format!(" AND ({filter})");
    }
    if group {
        sql += " GROUP BY v.status ORDER BY v.status";
    }
    Ok(Compiled { sql, params: c.params })
}

/// Runs a `list` statement: `limit` runs and where the next page starts.
pub(crate) fn page(
    conn: &Connection,
    statement: &Compiled,
    ordered: bool,
    from: Option<&ListCursor>,
    limit: usize,
) -> rusqlite::Result<RunsPage> {
    let mut stmt = conn.prepare_cached(&statement.sql)?;
    let rows = stmt.query_map(params_from_iter(&statement.params), |r| {
        let bytes: Vec<u8> = r.get(0)?;
        WorkflowExecutionInfo::decode(bytes.as_slice())
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Blob, Box::new(e)))
    })?;
    let mut runs = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    if runs.len() <= limit {
        return Ok(RunsPage { runs, next: None });
    }
    runs.truncate(limit);
    let next = if !ordered {
        runs.last().map(|last| ListCursor::After(VisibilityCursor::after(last)))
    } else {
        let skipped = match from {
            Some(ListCursor::Offset(n)) => *n,
            _ => 0,
        };
        Some(ListCursor::Offset(skipped.saturating_add(limit as u64)))
    };
    Ok(RunsPage { runs, next })
}

/// Runs a `count` statement.
pub(crate) fn run_count(conn: &Connection, statement: &Compiled, grouped: bool) -> rusqlite::Result<RunCount> {
    let mut stmt = conn.prepare_cached(&statement.sql)?;
    let rows = stmt
        .query_map(params_from_iter(&statement.params), |r| Ok((r.get::<_, Option<i32>>(0)?, r.get::<_, i64>(1)?)))?;
    let mut result = RunCount::default();
    for row in rows {
        let (status, n) = row?;
        result.count += n;
        if let (Some(status), true) = (status, grouped) {
            result.groups.push((status, n));
        }
    }
    Ok(result)
}

/// A row column, and an extra condition on the row.
type Place = (&'static str, Option<&'static str>);

/// Where a custom attribute's value may sit for a literal: the column, an
/// extra condition on the row, and the literal as bound.
struct Alt {
    column: &'static str,
    extra: Option<&'static str>,
    param: Param,
}

/// The row columns a literal compares with on an attribute of type `ty`
/// (see `eval::order`): strings with strings (a Datetime attribute's
/// strings are times when they parse), numbers with numbers (an Int also
/// with a time, as nanoseconds), bools with bools, times with times.
fn alternatives(ty: IndexedValueType, literal: &Value) -> Vec<Alt> {
    let datetime = ty == IndexedValueType::Datetime;
    let timed = datetime || ty == IndexedValueType::Unspecified;
    let alt = |column, extra, param| Alt { column, extra, param };
    match literal {
        Value::Str(s) if datetime => {
            let mut alts = vec![alt("str_value", Some("time_value IS NULL"), Param::Text(s.clone()))];
            alts.extend(parse_datetime(s).map(|t| alt("time_value", None, Param::Int(clamp_nanos(t)))));
            alts
        }
        Value::Str(s) => vec![alt("str_value", None, Param::Text(s.clone()))],
        Value::Int(i) if timed => vec![alt("num_value", None, Param::Int(*i)), alt("time_value", None, Param::Int(*i))],
        Value::Int(i) => vec![alt("num_value", None, Param::Int(*i))],
        Value::Float(f) => vec![alt("num_value", None, Param::Real(*f))],
        Value::Bool(b) => vec![alt("bool_value", None, Param::Int(i64::from(*b)))],
        Value::Time(t) if timed => vec![alt("time_value", None, Param::Int(clamp_nanos(*t)))],
        Value::Time(_) | Value::List(_) => Vec::new(),
    }
}

/// A system column's literal, if the two compare (see `eval::order`).
fn system_param(field: System, literal: &Value) -> Option<Param> {
    use super::query::Kind;
    match (field.kind(), literal) {
        (Kind::Keyword, Value::Str(s)) => Some(Param::Text(s.clone())),
        (Kind::Status | Kind::Int | Kind::Duration, Value::Int(i)) => Some(Param::Int(*i)),
        (Kind::Status | Kind::Int | Kind::Duration, Value::Float(f)) => Some(Param::Real(*f)),
        (Kind::Datetime, Value::Time(t)) => Some(Param::Int(clamp_nanos(*t))),
        (Kind::Datetime, Value::Int(i)) => Some(Param::Int(*i)),
        (Kind::Datetime, Value::Str(s)) => parse_datetime(s).map(|t| Param::Int(clamp_nanos(t))),
        _ => None,
    }
}

fn sql_op(op: Op) -> &'static str {
    match op {
        Op::Eq => "=",
        Op::Ne => "<>",
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Gt => ">",
        Op::Ge => ">=",
    }
}

/// The operator that holds exactly when `op` does not, between two
/// non-NULL values of one type.
fn negated(op: Op) -> Op {
    match op {
        Op::Eq => Op::Ne,
        Op::Ne => Op::Eq,
        Op::Lt => Op::Ge,
        Op::Le => Op::Gt,
        Op::Gt => Op::Le,
        Op::Ge => Op::Lt,
    }
}

/// The least string greater than every string starting with `prefix`
/// (None: there is none), so `s >= prefix AND s < successor` is a prefix
/// match an index can serve (UTF-8 sorts bytewise as code points do).
fn successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = (last as u32 + 1..=char::MAX as u32).find_map(char::from_u32) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

struct Compiler {
    params: Vec<Param>,
    numbers: HashMap<Key, usize>,
}

impl Compiler {
    fn new(namespace: &str) -> Compiler {
        let mut c = Compiler { params: Vec::new(), numbers: HashMap::new() };
        c.param(Param::Text(namespace.to_string()));
        c
    }

    /// `?N` bound to `p` (an equal parameter bound before is reused).
    fn param(&mut self, p: Param) -> String {
        let key = match &p {
            Param::Text(s) => Key::Text(s.clone()),
            Param::Int(i) => Key::Int(*i),
            Param::Real(f) => Key::Real(f.to_bits()),
        };
        let next = self.params.len() + 1;
        let n = *self.numbers.entry(key).or_insert(next);
        if n == next {
            self.params.push(p);
        }
        format!("?{n}")
    }

    /// `e` compiled to hold when `e` is true (`want`) or false: never
    /// true otherwise (it may be NULL instead of false).
    fn expr(&mut self, e: &Expr, want: bool, depth: usize) -> Result<String, StoreError> {
        if depth > DEPTH_MAX {
            return Err(too_deep());
        }
        Ok(match e {
            Expr::And(all) => self.chain(all, if want { "AND" } else { "OR" }, want, depth)?,
            Expr::Or(any) => self.chain(any, if want { "OR" } else { "AND" }, want, depth)?,
            Expr::Not(inner) => self.expr(inner, !want, depth + 1)?,
            atom => match atom_field(atom) {
                Some(Field::System(s)) => self.system(*s, atom, want),
                Some(Field::Custom { name, ty }) => self.custom(name, *ty, atom, want),
                None => "0".to_string(),
            },
        })
    }

    /// Operands joined as a balanced tree, so a long chain stays shallow
    /// for SQLite's parser.
    fn chain(&mut self, items: &[Expr], joiner: &str, want: bool, depth: usize) -> Result<String, StoreError> {
        match items {
            [] => Ok(if joiner == "AND" { "1" } else { "0" }.to_string()),
            [one] => self.expr(one, want, depth),
            _ => {
                let (left, right) = items.split_at(items.len() / 2);
                let left = self.chain(left, joiner, want, depth + 1)?;
                let right = self.chain(right, joiner, want, depth + 1)?;
                Ok(format!("({left} {joiner} {right})"))
            }
        }
    }

    /// `column IN (...)` for bound values, inline or as one JSON array.
    fn in_list(&mut self, column: &str, values: Vec<Param>) -> String {
        let finite = values.iter().all(|p| !matches!(p, Param::Real(f) if !f.is_finite()));
        if finite && (values.len() > INLINE_IN_MAX || self.params.len() + values.len() > INLINE_PARAMS_MAX) {
            let json: Vec<serde_json::Value> = values
                .into_iter()
                .map(|p| match p {
                    Param::Text(s) => serde_json::Value::from(s),
                    Param::Int(i) => serde_json::Value::from(i),
                    Param::Real(f) => serde_json::Value::from(f),
                })
                .collect();
            let array = self.param(Param::Text(serde_json::Value::Array(json).to_string()));
            return format!("{column} IN (SELECT value FROM json_each({array}))");
        }
        let list: Vec<String> = values.into_iter().map(|p| self.param(p)).collect();
        format!("{column} IN ({})", list.join(", "))
    }

    fn system(&mut self, field: System, atom: &Expr, want: bool) -> String {
        let col = format!("v.{}", column(field));
        let present = format!("{col} IS NOT NULL");
        match atom {
            Expr::Compare { op, value, .. } => match system_param(field, value) {
                Some(p) => {
                    let op = if want { *op } else { negated(*op) };
                    format!("{col} {} {}", sql_op(op), self.param(p))
                }
                None => "0".into(),
            },
            Expr::In { values, .. } => {
                let params: Vec<Param> = values.iter().filter_map(|v| system_param(field, v)).collect();
                match (params.is_empty(), want) {
                    (true, true) => "0".into(),
                    (true, false) => present,
                    (false, true) => self.in_list(&col, params),
                    (false, false) => format!("NOT {}", self.in_list(&col, params)),
                }
            }
            Expr::Between { low, high, .. } => match (system_param(field, low), system_param(field, high)) {
                (Some(lo), Some(hi)) => {
                    let (lo, hi) = (self.param(lo), self.param(hi));
                    format!("{col} {}BETWEEN {lo} AND {hi}", if want { "" } else { "NOT " })
                }
                _ if want => "0".into(),
                _ => present,
            },
            Expr::StartsWith { prefix, .. } if field.kind() == super::query::Kind::Keyword => {
                if prefix.is_empty() {
                    return if want { present } else { "0".into() };
                }
                let from = self.param(Param::Text(prefix.clone()));
                match (successor(prefix), want) {
                    (Some(to), true) => format!("({col} >= {from} AND {col} < {})", self.param(Param::Text(to))),
                    (Some(to), false) => format!("({col} < {from} OR {col} >= {})", self.param(Param::Text(to))),
                    (None, true) => format!("{col} >= {from}"),
                    (None, false) => format!("{col} < {from}"),
                }
            }
            // No other system attribute holds strings.
            Expr::StartsWith { .. } => {
                if want {
                    "0".into()
                } else {
                    present
                }
            }
            Expr::IsNull { .. } if want => format!("{col} IS NULL"),
            _ => present,
        }
    }

    /// The run has a row of attribute `name` meeting `cond`: a membership
    /// SQLite can drive from an attribute index.
    fn member(&mut self, name: &str, cond: &str) -> String {
        let name = self.param(Param::Text(name.to_string()));
        format!(
            "v.run_id IN (SELECT run_id FROM visibility_attributes WHERE namespace = ?1 AND name = {name} AND ({cond}))"
        )
    }

    /// The same as a check of one run (a primary key probe).
    fn exists(&mut self, name: &str, cond: Option<&str>) -> String {
        let name = self.param(Param::Text(name.to_string()));
        let cond = cond.map(|c| format!(" AND ({c})")).unwrap_or_default();
        format!("EXISTS (SELECT 1 FROM visibility_attributes WHERE run_id = v.run_id AND name = {name}{cond})")
    }

    /// True: a row meets `hits`; false: the attribute is set (a row meets
    /// `known`, if given) and no row meets `hits`.
    fn any_row(&mut self, name: &str, hits: Option<String>, known: Option<&str>, want: bool) -> String {
        match (hits, want) {
            (Some(hits), true) => self.member(name, &hits),
            (None, true) => "0".into(),
            (Some(hits), false) => {
                let known = self.exists(name, known);
                format!("({known} AND NOT {})", self.exists(name, Some(&hits)))
            }
            (None, false) => self.exists(name, known),
        }
    }

    fn custom(&mut self, name: &str, ty: IndexedValueType, atom: &Expr, want: bool) -> String {
        match atom {
            Expr::Compare { op, value, .. } if ty == IndexedValueType::Text => {
                self.text(name, value, want == (*op != Op::Ne))
            }
            // Not equal: the negation of equal, on a list too (no element is it).
            Expr::Compare { op: Op::Ne, value, .. } => self.compare(name, ty, Op::Eq, value, !want),
            Expr::Compare { op, value, .. } => self.compare(name, ty, *op, value, want),
            Expr::In { values, .. } => {
                let mut by_column: Vec<(Place, Vec<Param>)> = Vec::new();
                for alt in values.iter().flat_map(|v| alternatives(ty, v)) {
                    let key = (alt.column, alt.extra);
                    match by_column.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, params)) => params.push(alt.param),
                        None => by_column.push((key, vec![alt.param])),
                    }
                }
                let hits: Vec<String> = by_column
                    .into_iter()
                    .map(|((column, extra), params)| with_extra(self.in_list(column, params), extra))
                    .collect();
                self.any_row(name, or(hits), None, want)
            }
            Expr::Between { low, high, .. } => {
                let highs = alternatives(ty, high);
                let mut hits = Vec::new();
                for lo in alternatives(ty, low) {
                    for hi in highs.iter().filter(|hi| hi.column == lo.column && hi.extra == lo.extra) {
                        let (from, to) = (self.param(lo.param.clone()), self.param(hi.param.clone()));
                        hits.push(with_extra(format!("{} BETWEEN {from} AND {to}", lo.column), lo.extra));
                    }
                }
                self.any_row(name, or(hits), None, want)
            }
            Expr::StartsWith { prefix, .. } => {
                let mut hit = match successor(prefix) {
                    _ if prefix.is_empty() => "str_value IS NOT NULL".to_string(),
                    Some(to) => {
                        let (from, to) = (self.param(Param::Text(prefix.clone())), self.param(Param::Text(to)));
                        format!("str_value >= {from} AND str_value < {to}")
                    }
                    None => format!("str_value >= {}", self.param(Param::Text(prefix.clone()))),
                };
                if ty == IndexedValueType::Datetime {
                    hit += " AND time_value IS NULL";
                }
                self.any_row(name, Some(hit), None, want)
            }
            Expr::IsNull { .. } => {
                let set = self.exists(name, None);
                if want { format!("NOT {set}") } else { set }
            }
            Expr::And(_) | Expr::Or(_) | Expr::Not(_) => "0".into(),
        }
    }

    /// `op` (not !=): true if a value (an element, for a list) compares so;
    /// false if none does and the value is a list or a comparable scalar.
    fn compare(&mut self, name: &str, ty: IndexedValueType, op: Op, value: &Value, want: bool) -> String {
        let alts = alternatives(ty, value);
        let known: Vec<String> =
            alts.iter().map(|a| with_extra(format!("{} IS NOT NULL", a.column), a.extra)).collect();
        let known = or(std::iter::once("list = 1".to_string()).chain(known).collect());
        let hits: Vec<String> = alts
            .into_iter()
            .map(|a| {
                let p = self.param(a.param);
                with_extra(format!("{} {} {p}", a.column, sql_op(op)), a.extra)
            })
            .collect();
        self.any_row(name, or(hits), known.as_deref(), want)
    }

    /// Text: every word of the literal is a word of the (string, not list)
    /// value, in any case and order.
    fn text(&mut self, name: &str, literal: &Value, want: bool) -> String {
        let Value::Str(literal) = literal else { return "0".into() };
        let is_str = "list = 0 AND str_value IS NOT NULL";
        let wanted: BTreeSet<String> = words(literal).into_iter().collect();
        if wanted.is_empty() {
            return if want { self.member(name, is_str) } else { "0".into() };
        }
        let n = self.param(Param::Text(name.to_string()));
        let count = self.param(Param::Int(wanted.len() as i64));
        let list = self.in_list("word", wanted.into_iter().map(Param::Text).collect());
        let all_words = format!(
            "SELECT run_id FROM visibility_attributes WHERE namespace = ?1 AND name = {n} AND {list}
             GROUP BY run_id HAVING COUNT(*) = {count}"
        );
        if want {
            format!("v.run_id IN ({all_words})")
        } else {
            format!("({} AND v.run_id NOT IN ({all_words}))", self.exists(name, Some(is_str)))
        }
    }

    /// An ORDER BY key: NULLs (absent, or not of the attribute's type)
    /// last in either direction, as `eval` orders them.
    fn order_key(&mut self, key: &OrderBy) -> String {
        let dir = if key.descending { "DESC" } else { "ASC" };
        match &key.field {
            Field::System(s) => {
                let col = format!("v.{}", column(*s));
                format!("{col} IS NULL, {col} {dir}")
            }
            Field::Custom { name, ty } => {
                let absent = format!("NOT {}", self.exists(name, None));
                let column = match ty {
                    IndexedValueType::Int | IndexedValueType::Double => "num_value",
                    IndexedValueType::Datetime => "time_value",
                    IndexedValueType::Bool => "bool_value",
                    // A list orders by presence only: lists do not compare.
                    IndexedValueType::KeywordList => return absent,
                    _ => "str_value",
                };
                let n = self.param(Param::Text(name.clone()));
                let value = format!(
                    "(SELECT {column} FROM visibility_attributes WHERE run_id = v.run_id AND name = {n} AND seq = 0
                     AND list = 0)"
                );
                format!("{absent}, {value} IS NULL, {value} {dir}")
            }
        }
    }
}

fn atom_field(atom: &Expr) -> Option<&Field> {
    match atom {
        Expr::Compare { field, .. }
        | Expr::In { field, .. }
        | Expr::Between { field, .. }
        | Expr::StartsWith { field, .. }
        | Expr::IsNull { field } => Some(field),
        Expr::And(_) | Expr::Or(_) | Expr::Not(_) => None,
    }
}

fn with_extra(cond: String, extra: Option<&str>) -> String {
    match extra {
        Some(extra) => format!("({cond} AND {extra})"),
        None => cond,
    }
}

fn or(parts: Vec<String>) -> Option<String> {
    match parts.len() {
        0 => None,
        1 => parts.into_iter().next(),
        _ => Some(format!("({})", parts.join(" OR "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_successors() {
        assert_eq!(successor("abc").as_deref(), Some("abd"));
        assert_eq!(successor("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(successor("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(successor("\u{10FFFF}"), None);
        assert_eq!(successor(""), None);
    }

    #[test]
    fn literals_are_parameters() {
        let hostile = "x'); DROP TABLE visibility; --";
        let query = Query {
            filter: Some(Expr::system(System::WorkflowId, Op::Eq, Value::Str(hostile.into())).and(Expr::Compare {
                field: Field::Custom { name: "Evil'Name".into(), ty: IndexedValueType::Keyword },
                op: Op::Eq,
                value: Value::Str(hostile.into()),
            })),
            ..Default::default()
        };
        let c = list("ns'", &query, None, 10).unwrap_or_else(|e| panic!("{e}"));
        assert!(!c.sql.contains("DROP") && !c.sql.contains("Evil") && !c.sql.contains("ns'"), "{}", c.sql);
        // The literal is bound once though used twice.
        assert_eq!(c.params.iter().filter(|p| **p == Param::Text(hostile.into())).count(), 1);
    }
}
