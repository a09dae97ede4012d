//! Visibility on PostgreSQL: the rows (`crate::visibility::columns`),
//! written in the execution's transaction, and queries compiled by the
//! shared compiler in this dialect: `$N` parameters with explicit types,
//! TRUE/FALSE, and value lists bound as one array each (`= ANY($N)`), so
//! no list meets a parameter limit and no literal is ever spliced.
//!
//! Numbers: attribute values are NUMERIC (integers exact, floats as the
//! shortest decimal that reads back as the same double) and float
//! literals are bound the same way, so comparisons are exact as the
//! evaluator's, but for integers beyond 2^53 against floats (the
//! evaluator rounds the integer to a double first).

use super::connection::{Attempt, Failure};
use super::pipeline::Pipeline;
use super::text::escape;
use crate::visibility::columns::{AttributeRow, Number, RunRow, attribute_rows};
use crate::visibility::compile::{self, Compiled, Compiler, Dialect, Param};
use crate::visibility::query::Query;
use crate::{ListCursor, RunCount, RunsPage, StoreError};
use chronicle_engine::api::workflow::v1::WorkflowExecutionInfo;
use deadpool_postgres::{Object, Transaction};
use prost::Message;
use tokio_postgres::Statement;
use tokio_postgres::types::ToSql;

/// The statements a commit writes visibility rows with.
pub(super) struct Statements {
    upsert: Statement,
    delete_attributes: Statement,
    insert_attributes: Statement,
}

impl Statements {
    pub(super) async fn prepare(tx: &Transaction<'_>) -> Result<Statements, tokio_postgres::Error> {
        let (upsert, delete_attributes, insert_attributes) = tokio::try_join!(
            tx.prepare_cached(
                "INSERT INTO visibility (run_id, namespace, workflow_id, workflow_type, status, start_time,
                     close_time, execution_time, task_queue, parent_workflow_id, parent_run_id, root_workflow_id,
                     root_run_id, history_length, history_size_bytes, state_transition_count, execution_duration,
                     info)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
                 ON CONFLICT (run_id) DO UPDATE SET workflow_type = excluded.workflow_type,
                     status = excluded.status, start_time = excluded.start_time, close_time = excluded.close_time,
                     execution_time = excluded.execution_time, task_queue = excluded.task_queue,
                     parent_workflow_id = excluded.parent_workflow_id, parent_run_id = excluded.parent_run_id,
                     root_workflow_id = excluded.root_workflow_id, root_run_id = excluded.root_run_id,
                     history_length = excluded.history_length, history_size_bytes = excluded.history_size_bytes,
                     state_transition_count = excluded.state_transition_count,
                     execution_duration = excluded.execution_duration, info = excluded.info",
            ),
            tx.prepare_cached(DELETE_ATTRIBUTES),
            tx.prepare_cached(
                "INSERT INTO visibility_attributes
                     (run_id, name, seq, namespace, list, num_value, str_value, time_value, bool_value, word)
                 SELECT $1, a.name, a.seq, $2, a.list, a.num::numeric, a.str, a.time, a.bool, a.word
                 FROM UNNEST($3::text[], $4::int8[], $5::int2[], $6::text[], $7::text[], $8::int8[], $9::int2[],
                     $10::text[]) AS a(name, seq, list, num, str, time, bool, word)",
            ),
        )?;
        Ok(Statements { upsert, delete_attributes, insert_attributes })
    }
}

const DELETE_ATTRIBUTES: &str = "DELETE FROM visibility_attributes WHERE run_id = $1";

/// A run's visibility rows, escaped and ready to bind.
pub(super) struct Rows {
    run: RunRow,
    names: Vec<String>,
    seqs: Vec<i64>,
    lists: Vec<i16>,
    nums: Vec<Option<String>>,
    strs: Vec<Option<String>>,
    times: Vec<Option<i64>>,
    bools: Vec<Option<i16>>,
    words: Vec<Option<String>>,
}

fn escaped(s: Option<String>) -> Option<String> {
    s.map(|s| escape(&s).into_owned())
}

impl Rows {
    pub(super) fn of(namespace: &str, info: &WorkflowExecutionInfo) -> Rows {
        let mut run = RunRow::of(namespace, info);
        for text in [&mut run.run_id, &mut run.namespace, &mut run.workflow_id] {
            *text = escape(text).into_owned();
        }
        for text in [
            &mut run.workflow_type,
            &mut run.task_queue,
            &mut run.parent_workflow_id,
            &mut run.parent_run_id,
            &mut run.root_workflow_id,
            &mut run.root_run_id,
        ] {
            *text = escaped(text.take());
        }
        let attributes = attribute_rows(info);
        let mut rows = Rows {
            run,
            names: Vec::with_capacity(attributes.len()),
            seqs: Vec::with_capacity(attributes.len()),
            lists: Vec::with_capacity(attributes.len()),
            nums: Vec::with_capacity(attributes.len()),
            strs: Vec::with_capacity(attributes.len()),
            times: Vec::with_capacity(attributes.len()),
            bools: Vec::with_capacity(attributes.len()),
            words: Vec::with_capacity(attributes.len()),
        };
        for AttributeRow { name, seq, list, num, str, time, bool, word } in attributes {
            rows.names.push(escape(&name).into_owned());
            rows.seqs.push(seq);
            rows.lists.push(i16::from(list));
            rows.nums.push(num.and_then(|n| match n {
                Number::Int(i) => Some(i.to_string()),
                Number::Float(f) => float_text(f),
            }));
            rows.strs.push(escaped(str));
            rows.times.push(time);
            rows.bools.push(bool.map(i16::from));
            rows.words.push(escaped(word));
        }
        rows
    }

    /// Queues the statements that replace the run's rows with these (see
    /// `Pipeline`): the run's row, then its attribute rows, old ones first
    /// out.
    pub(super) fn send<'a>(&'a self, tx: &'a Transaction<'a>, st: &'a Statements, pipeline: &mut Pipeline<'a>) {
        let r = &self.run;
        pipeline.execute(
            tx,
            &st.upsert,
            vec![
                &r.run_id,
                &r.namespace,
                &r.workflow_id,
                &r.workflow_type,
                &r.status,
                &r.start_time,
                &r.close_time,
                &r.execution_time,
                &r.task_queue,
                &r.parent_workflow_id,
                &r.parent_run_id,
                &r.root_workflow_id,
                &r.root_run_id,
                &r.history_length,
                &r.history_size_bytes,
                &r.state_transition_count,
                &r.execution_duration,
                &r.info,
            ],
        );
        pipeline.execute(tx, &st.delete_attributes, vec![&r.run_id]);
        if !self.names.is_empty() {
            pipeline.execute(
                tx,
                &st.insert_attributes,
                vec![
                    &r.run_id,
                    &r.namespace,
                    &self.names,
                    &self.seqs,
                    &self.lists,
                    &self.nums,
                    &self.strs,
                    &self.times,
                    &self.bools,
                    &self.words,
                ],
            );
        }
    }
}

async fn delete_attributes(tx: &Transaction<'_>, escaped_run_id: &str) -> Attempt<()> {
    let delete = tx.prepare_cached(DELETE_ATTRIBUTES).await?;
    tx.execute(&delete, &[&escaped_run_id]).await?;
    Ok(())
}

pub(crate) async fn delete(tx: &Transaction<'_>, run_id: &str) -> Attempt<()> {
    let run = escape(run_id);
    let delete = tx.prepare_cached("DELETE FROM visibility WHERE run_id = $1").await?;
    tx.execute(&delete, &[&run]).await?;
    delete_attributes(tx, &run).await
}

/// A double as NUMERIC text: the shortest decimal that reads back as it
/// (Rust's formatting); None for NaN, which compares with nothing (as the
/// evaluator has it; NUMERIC's NaN would equal itself).
fn float_text(f: f64) -> Option<String> {
    match f {
        f if f.is_nan() => None,
        f if f == f64::INFINITY => Some("Infinity".into()),
        f if f == f64::NEG_INFINITY => Some("-Infinity".into()),
        f => Some(f.to_string()),
    }
}

pub(crate) struct Postgres;

impl Dialect for Postgres {
    fn placeholder(n: usize, param: &Param) -> String {
        match param {
            Param::Text(_) => format!("${n}::text"),
            Param::Int(_) => format!("${n}::int8"),
            Param::Real(_) => format!("${n}::text::numeric"),
            Param::Texts(_) => format!("${n}::text[]"),
            Param::Ints(_) => format!("${n}::int8[]"),
            Param::Reals(_) => format!("${n}::text[]::numeric[]"),
        }
    }

    const TRUE: &'static str = "TRUE";
    const FALSE: &'static str = "FALSE";
    const NO_STATUS: &'static str = "NULL::integer";
    const FILTERED_STATUS_GROUP: &'static str = "v.status";

    /// One `= ANY(array)` per type of value.
    fn in_list(c: &mut Compiler<Self>, column: &str, values: Vec<Param>) -> String {
        let (mut texts, mut ints, mut reals) = (Vec::new(), Vec::new(), Vec::new());
        for value in values {
            match value {
                Param::Text(s) => texts.push(s),
                Param::Int(i) => ints.push(i),
                Param::Real(f) if !f.is_nan() => reals.push(f),
                Param::Texts(s) => texts.extend(s),
                Param::Ints(i) => ints.extend(i),
                Param::Reals(f) => reals.extend(f.into_iter().filter(|f| !f.is_nan())),
                Param::Real(_) => {}
            }
        }
        let mut any = Vec::new();
        if !texts.is_empty() {
            any.push(format!("{column} = ANY({})", c.param(Param::Texts(texts))));
        }
        if !ints.is_empty() {
            any.push(format!("{column} = ANY({})", c.param(Param::Ints(ints))));
        }
        if !reals.is_empty() {
            any.push(format!("{column} = ANY({})", c.param(Param::Reals(reals))));
        }
        match any.len() {
            // Only NaNs: equal to nothing, yet NULL for a NULL column, as
            // a list of values would be.
            0 => format!("(CASE WHEN {column} IS NULL THEN NULL ELSE FALSE END)"),
            1 => any.remove(0),
            _ => format!("({})", any.join(" OR ")),
        }
    }
}

/// A parameter as bound: texts escaped, floats as NUMERIC text.
pub(super) fn bound(param: &Param) -> Box<dyn ToSql + Sync + Send> {
    let texts = |all: &[String]| all.iter().map(|s| escape(s).into_owned()).collect::<Vec<_>>();
    match param {
        Param::Text(s) => Box::new(escape(s).into_owned()),
        Param::Int(i) => Box::new(*i),
        Param::Real(f) => Box::new(float_text(*f)),
        Param::Texts(all) => Box::new(texts(all)),
        Param::Ints(all) => Box::new(all.clone()),
        Param::Reals(all) => Box::new(all.iter().filter_map(|f| float_text(*f)).collect::<Vec<_>>()),
    }
}

/// Runs a compiled statement. Not a cached prepared statement: filters
/// vary without bound, and each connection's cache would grow with them.
async fn query(client: &Object, statement: &Compiled) -> Attempt<Vec<tokio_postgres::Row>> {
    let params: Vec<Box<dyn ToSql + Sync + Send>> = statement.params.iter().map(bound).collect();
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
    Ok(client.query(statement.sql.as_str(), &refs).await?)
}

/// A listing's statement, its order, where it starts and its page size.
pub(crate) struct Listing {
    pub statement: Compiled,
    pub ordered: bool,
    pub from: Option<ListCursor>,
    pub limit: usize,
}

pub(crate) fn listing(
    namespace: &str,
    query: &Query,
    from: Option<ListCursor>,
    limit: usize,
) -> Result<Listing, StoreError> {
    let statement = compile::list::<Postgres>(namespace, query, from.as_ref(), limit)?;
    Ok(Listing { statement, ordered: !query.order_by.is_empty(), from, limit })
}

pub(crate) async fn page(client: &Object, listing: &Listing) -> Attempt<RunsPage> {
    let rows = query(client, &listing.statement).await?;
    let runs = rows
        .iter()
        .map(|row| {
            WorkflowExecutionInfo::decode(row.try_get::<_, &[u8]>(0)?)
                .map_err(|e| Failure::Store(StoreError::Internal(format!("a visibility record: {e}"))))
        })
        .collect::<Attempt<Vec<_>>>()?;
    Ok(compile::page(runs, listing.ordered, listing.from.as_ref(), listing.limit))
}

/// A count's statement, and whether it groups by status.
pub(crate) fn counting(namespace: &str, query: &Query) -> Result<(Compiled, bool), StoreError> {
    Ok((compile::count::<Postgres>(namespace, query)?, query.group_by.is_some()))
}

pub(crate) async fn count(client: &Object, (statement, grouped): &(Compiled, bool)) -> Attempt<RunCount> {
    let mut result = RunCount::default();
    for row in query(client, statement).await? {
        let (status, n): (Option<i32>, i64) = (row.try_get(0)?, row.try_get(1)?);
        result.count += n;
        if let (Some(status), true) = (status, *grouped) {
            result.groups.push((status, n));
        }
    }
    Ok(result)
}
