//! Queries compiled to SQL, for every SQL backend: a `Dialect` says how a
//! backend spells parameters, truth values and long value lists; the rest
//! is shared. Every literal and attribute name is a bound parameter, never
//! part of the statement's text.
//!
//! SQL's three-valued logic is kept exactly (as `eval.rs` defines it) by
//! compiling each condition for a polarity: "is true" or "is false". AND
//! and OR combine same-polarity parts, NOT flips the polarity, and no
//! compiled part is ever negated by SQL, so an unknown (NULL) part can
//! only make its AND/OR falsy, as unknown does at the top of a WHERE.
//! That also lets a custom attribute's "is true" be an IN over its
//! attribute rows, which the database can drive from the (namespace, name,
//! value) indexes.
//!
//! The tables are the ones `columns.rs` describes; both backends declare
//! `list` and `bool_value` as 0/1 integers, so conditions on them read the
//! same.

use super::columns::column;
use super::query::{Expr, Field, Op, OrderBy, Query, System, Value};
use super::values::{clamp_nanos, parse_datetime, words};
use crate::{ListCursor, RunsPage, StoreError, VisibilityCursor};
use chronicle_engine::api::{enums::v1::IndexedValueType, workflow::v1::WorkflowExecutionInfo};
use std::collections::{BTreeSet, HashMap};
use std::marker::PhantomData;

/// Filters whose SQL would nest deeper are refused rather than risk the
/// stack or the database's expression depth limit (SQLite's is 1,000, and
/// a condition on an attribute adds a few levels). The parser's limits
/// (199 levels of parentheses and NOTs) stay far below: chains are
/// balanced, so an n-operand AND or OR is log2(n) levels deep (NOT counts
/// one, for the stack, though it adds no SQL).
const DEPTH_MAX: usize = 900;

/// A bound parameter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Text(String),
    Int(i64),
    Real(f64),
    /// Lists of one type, bound as one array (PostgreSQL).
    Texts(Vec<String>),
    Ints(Vec<i64>),
    Reals(Vec<f64>),
}

#[derive(Debug, Hash, PartialEq, Eq)]
enum Key {
    Text(String),
    Int(i64),
    Real(u64),
}

/// How a backend spells what differs between SQL dialects.
pub(crate) trait Dialect: Sized {
    /// Parameter `n` (from 1) holding `param`, as the statement names it.
    fn placeholder(n: usize, param: &Param) -> String;
    const TRUE: &'static str;
    const FALSE: &'static str;
    /// The status column of an ungrouped count: a NULL integer.
    const NO_STATUS: &'static str;
    /// The grouping key of a filtered count per status. SQLite's planner
    /// (without statistics) would rather read the status index in order
    /// than use a selective filter's index (a count for one workflow id
    /// read every run), so there the key hides the index from it (`+`).
    const FILTERED_STATUS_GROUP: &'static str;
    /// `column` is one of `values` (at least one): inline parameters, or
    /// lists bound as one parameter each.
    fn in_list(c: &mut Compiler<Self>, column: &str, values: Vec<Param>) -> String;
}

/// A statement and its parameters (the first is the namespace).
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    pub sql: String,
    pub params: Vec<Param>,
}

fn too_deep() -> StoreError {
    StoreError::Internal(format!("visibility query nests deeper than {DEPTH_MAX} levels"))
}

/// A statement listing `query`'s runs of `namespace` (rows of one column,
/// the encoded `WorkflowExecutionInfo`): at most `limit + 1` (the extra
/// one tells whether there is a next page), from `from`.
pub(crate) fn list<D: Dialect>(
    namespace: &str,
    query: &Query,
    from: Option<&ListCursor>,
    limit: usize,
) -> Result<Compiled, StoreError> {
    let mut c = Compiler::<D>::new(namespace);
    let mut sql = format!("SELECT v.info FROM visibility v WHERE v.namespace = {}", c.namespace());
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
pub(crate) fn count<D: Dialect>(namespace: &str, query: &Query) -> Result<Compiled, StoreError> {
    let mut c = Compiler::<D>::new(namespace);
    let group = query.group_by.is_some();
    let mut sql = format!(
        "SELECT {}, COUNT(*) FROM visibility v WHERE v.namespace = {}",
        if group { "v.status" } else { D::NO_STATUS },
        c.namespace()
    );
    if let Some(filter) = &query.filter {
        let filter = c.expr(filter, true, 0)?;
        sql += &format!(" AND ({filter})");
    }
    if group {
        let key = if query.filter.is_some() { D::FILTERED_STATUS_GROUP } else { "v.status" };
        sql += &format!(" GROUP BY {key} ORDER BY {key}");
    }
    Ok(Compiled { sql, params: c.params })
}

/// The page a `list` statement's rows make: at most `limit` runs, and
/// where the next page starts if the statement found more.
pub(crate) fn page(
    mut runs: Vec<WorkflowExecutionInfo>,
    ordered: bool,
    from: Option<&ListCursor>,
    limit: usize,
) -> RunsPage {
    if runs.len() <= limit {
        return RunsPage { runs, next: None };
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
    RunsPage { runs, next }
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

pub(crate) struct Compiler<D> {
    params: Vec<Param>,
    numbers: HashMap<Key, usize>,
    dialect: PhantomData<D>,
}

impl<D: Dialect> Compiler<D> {
    fn new(namespace: &str) -> Compiler<D> {
        let mut c = Compiler { params: Vec::new(), numbers: HashMap::new(), dialect: PhantomData };
        c.param(Param::Text(namespace.to_string()));
        c
    }

    /// The namespace's parameter (always the first).
    fn namespace(&self) -> String {
        D::placeholder(1, &self.params[0])
    }

    /// How many parameters the statement has so far.
    pub(crate) fn param_count(&self) -> usize {
        self.params.len()
    }

    /// A placeholder bound to `p` (an equal scalar bound before is reused).
    pub(crate) fn param(&mut self, p: Param) -> String {
        let key = match &p {
            Param::Text(s) => Some(Key::Text(s.clone())),
            Param::Int(i) => Some(Key::Int(*i)),
            Param::Real(f) => Some(Key::Real(f.to_bits())),
            Param::Texts(_) | Param::Ints(_) | Param::Reals(_) => None,
        };
        let next = self.params.len() + 1;
        let n = match key {
            Some(key) => *self.numbers.entry(key).or_insert(next),
            None => next,
        };
        let placeholder = D::placeholder(n, &p);
        if n == next {
            self.params.push(p);
        }
        placeholder
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
                None => D::FALSE.to_string(),
            },
        })
    }

    /// Operands joined as a balanced tree, so a long chain stays shallow
    /// for the database's parser.
    fn chain(&mut self, items: &[Expr], joiner: &str, want: bool, depth: usize) -> Result<String, StoreError> {
        match items {
            [] => Ok(if joiner == "AND" { D::TRUE } else { D::FALSE }.to_string()),
            [one] => self.expr(one, want, depth),
            _ => {
                let (left, right) = items.split_at(items.len() / 2);
                let left = self.chain(left, joiner, want, depth + 1)?;
                let right = self.chain(right, joiner, want, depth + 1)?;
                Ok(format!("({left} {joiner} {right})"))
            }
        }
    }

    /// `column IN (...)` for bound values, as the dialect binds lists.
    fn in_list(&mut self, column: &str, values: Vec<Param>) -> String {
        D::in_list(self, column, values)
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
                None => D::FALSE.into(),
            },
            Expr::In { values, .. } => {
                let params: Vec<Param> = values.iter().filter_map(|v| system_param(field, v)).collect();
                match (params.is_empty(), want) {
                    (true, true) => D::FALSE.into(),
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
                _ if want => D::FALSE.into(),
                _ => present,
            },
            Expr::StartsWith { prefix, .. } if field.kind() == super::query::Kind::Keyword => {
                if prefix.is_empty() {
                    return if want { present } else { D::FALSE.into() };
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
                    D::FALSE.into()
                } else {
                    present
                }
            }
            Expr::IsNull { .. } if want => format!("{col} IS NULL"),
            _ => present,
        }
    }

    /// The run has a row of attribute `name` meeting `cond`: a membership
    /// the database can drive from an attribute index.
    fn member(&mut self, name: &str, cond: &str) -> String {
        let (ns, name) = (self.namespace(), self.param(Param::Text(name.to_string())));
        format!(
            "v.run_id IN (SELECT run_id FROM visibility_attributes WHERE namespace = {ns} AND name = {name} \
             AND ({cond}))"
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
            (None, true) => D::FALSE.into(),
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
            Expr::And(_) | Expr::Or(_) | Expr::Not(_) => D::FALSE.into(),
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
        let Value::Str(literal) = literal else { return D::FALSE.into() };
        let is_str = "list = 0 AND str_value IS NOT NULL";
        let wanted: BTreeSet<String> = words(literal).into_iter().collect();
        if wanted.is_empty() {
            return if want { self.member(name, is_str) } else { D::FALSE.into() };
        }
        let (ns, n) = (self.namespace(), self.param(Param::Text(name.to_string())));
        let count = self.param(Param::Int(wanted.len() as i64));
        let list = self.in_list("word", wanted.into_iter().map(Param::Text).collect());
        let all_words = format!(
            "SELECT run_id FROM visibility_attributes WHERE namespace = {ns} AND name = {n} AND {list}
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
}
