//! Visibility queries on SQLite: the dialect (`?N` parameters, 0/1 for
//! truth, long lists bound as one JSON array read by `json_each`) and
//! running the compiled statements.

use crate::visibility::compile::{self, Compiled, Compiler, Dialect, Param};
use crate::visibility::query::Query;
use crate::{ListCursor, RunCount, RunsPage, StoreError};
use chronicle_engine::api::workflow::v1::WorkflowExecutionInfo;
use prost::Message;
use rusqlite::types::{ToSql, ToSqlOutput};
use rusqlite::{Connection, params_from_iter};

/// IN lists longer than this (or once the statement has this many
/// parameters) are bound as one JSON array, so no list meets SQLite's
/// parameter limit (32,766).
const INLINE_IN_MAX: usize = 64;
const INLINE_PARAMS_MAX: usize = 8_000;

pub(crate) struct Sqlite;

impl Dialect for Sqlite {
    fn placeholder(n: usize, _: &Param) -> String {
        format!("?{n}")
    }

    const TRUE: &'static str = "1";
    const FALSE: &'static str = "0";
    const NO_STATUS: &'static str = "NULL";
    const FILTERED_STATUS_GROUP: &'static str = "+v.status";

    fn in_list(c: &mut Compiler<Self>, column: &str, values: Vec<Param>) -> String {
        let finite = values.iter().all(|p| !matches!(p, Param::Real(f) if !f.is_finite()));
        if finite && (values.len() > INLINE_IN_MAX || c.param_count() + values.len() > INLINE_PARAMS_MAX) {
            let array = c.param(Param::Text(json_array(&values)));
            return format!("{column} IN (SELECT value FROM json_each({array}))");
        }
        let list: Vec<String> = values.into_iter().map(|p| c.param(p)).collect();
        format!("{column} IN ({})", list.join(", "))
    }
}

/// Values as one JSON array (lists flattened).
fn json_array(values: &[Param]) -> String {
    let mut json = Vec::with_capacity(values.len());
    for p in values {
        match p {
            Param::Text(s) => json.push(serde_json::Value::from(s.as_str())),
            Param::Int(i) => json.push(serde_json::Value::from(*i)),
            Param::Real(f) => json.push(serde_json::Value::from(*f)),
            Param::Texts(all) => json.extend(all.iter().map(|s| serde_json::Value::from(s.as_str()))),
            Param::Ints(all) => json.extend(all.iter().map(|i| serde_json::Value::from(*i))),
            Param::Reals(all) => json.extend(all.iter().map(|f| serde_json::Value::from(*f))),
        }
    }
    serde_json::Value::Array(json).to_string()
}

impl ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        match self {
            Param::Text(s) => s.to_sql(),
            Param::Int(i) => i.to_sql(),
            Param::Real(f) => f.to_sql(),
            // The SQLite dialect binds no arrays; as JSON if one came.
            Param::Texts(_) | Param::Ints(_) | Param::Reals(_) => {
                Ok(ToSqlOutput::from(json_array(std::slice::from_ref(self))))
            }
        }
    }
}

pub(crate) fn list(
    namespace: &str,
    query: &Query,
    from: Option<&ListCursor>,
    limit: usize,
) -> Result<Compiled, StoreError> {
    compile::list::<Sqlite>(namespace, query, from, limit)
}

pub(crate) fn count(namespace: &str, query: &Query) -> Result<Compiled, StoreError> {
    compile::count::<Sqlite>(namespace, query)
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
    let runs = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(compile::page(runs, ordered, from, limit))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::visibility::{Expr, Field, Op, System, Value};
    use chronicle_engine::api::enums::v1::IndexedValueType;

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
