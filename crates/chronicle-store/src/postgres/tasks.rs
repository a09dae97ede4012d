//! PostgreSQL's `tasks` table (`crate::tasks` says what the rows are).
//!
//! Ids come from an identity sequence when a row is first inserted, so
//! they are not commit order: two transactions may take ids 5 and 6 and
//! commit 6 first. No reader here depends on commit order: a backlog read
//! starts from the oldest row every time, and the two cursored reads (the
//! timer and transfer queues) only pass rows whose commits the server
//! hands out itself (ARCHITECTURE.md, "Task ids and cursors").

use super::connection::Attempt;
use super::pipeline::Pipeline;
use super::text::{self, escape};
use crate::tasks::{StoredTask, TaskRecord, decode, route, task_key};
use chronicle_engine::MutableState;
use deadpool_postgres::{GenericClient, Transaction};
use prost::Message;
use std::collections::HashSet;
use tokio_postgres::Statement;

/// The statements a commit writes task rows with.
pub(super) struct Statements {
    delete_stale: Statement,
    upsert: Statement,
}

impl Statements {
    pub(super) async fn prepare(tx: &Transaction<'_>) -> Result<Statements, tokio_postgres::Error> {
        let (delete_stale, upsert) = tokio::try_join!(
            tx.prepare_cached("DELETE FROM tasks WHERE run_id = $1 AND NOT (key = ANY($2::text[]))"),
            tx.prepare_cached(
                "INSERT INTO tasks (run_id, key, namespace, workflow_id, queue, activity, visible_at, fire_at, record, shard)
                 SELECT $1, t.key, $2, $3, t.queue, t.activity, t.visible_at, t.fire_at, t.record, $10
                 FROM UNNEST($4::text[], $5::text[], $6::bool[], $7::int8[], $8::int8[], $9::bytea[])
                     AS t(key, queue, activity, visible_at, fire_at, record)
                 ON CONFLICT (run_id, key) DO UPDATE SET queue = excluded.queue, activity = excluded.activity,
                     visible_at = excluded.visible_at, fire_at = excluded.fire_at, record = excluded.record
                 WHERE tasks.record IS DISTINCT FROM excluded.record",
            ),
        )?;
        Ok(Statements { delete_stale, upsert })
    }
}

/// A run's task rows as its state has them, ready to bind: the rows of
/// tasks no longer pending go, new ones come, changed ones (a moved
/// deadline) are updated in place, keeping their id (their place in line).
pub(super) struct Rows {
    run_id: String,
    namespace: String,
    workflow_id: String,
    shard: i32,
    /// A new run has no rows to remove.
    new_run: bool,
    keys: Vec<String>,
    queues: Vec<Option<String>>,
    activities: Vec<bool>,
    visible: Vec<i64>,
    fire: Vec<Option<i64>>,
    records: Vec<Vec<u8>>,
}

impl Rows {
    pub(super) fn of(s: &MutableState, new_run: bool, shard: i32) -> Rows {
        let pending = s.pending_tasks();
        let mut rows = Rows {
            run_id: escape(&s.run_id).into_owned(),
            namespace: escape(&s.namespace).into_owned(),
            workflow_id: escape(&s.workflow_id).into_owned(),
            shard,
            new_run,
            keys: Vec::with_capacity(pending.len()),
            queues: Vec::with_capacity(pending.len()),
            activities: Vec::with_capacity(pending.len()),
            visible: Vec::with_capacity(pending.len()),
            fire: Vec::with_capacity(pending.len()),
            records: Vec::with_capacity(pending.len()),
        };
        // One row per key (an upsert may not touch a row twice).
        let mut seen = HashSet::new();
        for task in &pending {
            let key = escape(&task_key(task)).into_owned();
            if !seen.insert(key.clone()) {
                continue;
            }
            let r = route(task);
            rows.keys.push(key);
            rows.queues.push(r.queue.map(|q| escape(q.0).into_owned()));
            rows.activities.push(r.queue.is_some_and(|q| q.1));
            rows.visible.push(r.visible_at);
            rows.fire.push(r.fire_at);
            rows.records.push(TaskRecord::of(task).encode_to_vec());
        }
        rows
    }

    /// Queues the statements that write these rows (see `Pipeline`).
    pub(super) fn send<'a>(&'a self, tx: &'a Transaction<'a>, st: &'a Statements, pipeline: &mut Pipeline<'a>) {
        if !self.new_run {
            pipeline.execute(tx, &st.delete_stale, vec![&self.run_id, &self.keys]);
        }
        if !self.keys.is_empty() {
            pipeline.execute(
                tx,
                &st.upsert,
                vec![
                    &self.run_id,
                    &self.namespace,
                    &self.workflow_id,
                    &self.keys,
                    &self.queues,
                    &self.activities,
                    &self.visible,
                    &self.fire,
                    &self.records,
                    &self.shard,
                ],
            );
        }
    }
}

pub(crate) async fn delete_run(tx: &Transaction<'_>, run_id: &str) -> Attempt<()> {
    let delete = tx.prepare_cached("DELETE FROM tasks WHERE run_id = $1").await?;
    tx.execute(&delete, &[&escape(run_id)]).await?;
    Ok(())
}

/// The statements of the three queues; `row` reads their first five
/// columns.
pub(super) const QUEUED: &str = "SELECT id, namespace, workflow_id, run_id, record FROM tasks
     WHERE namespace = $1 AND queue = $2 AND activity = $3 AND visible_at <= $4 ORDER BY id LIMIT $5";
pub(super) const DUE: &str = "SELECT id, namespace, workflow_id, run_id, record, fire_at FROM tasks
     WHERE fire_at IS NOT NULL AND (fire_at, id) > ($1, $2) AND fire_at <= $3 ORDER BY fire_at, id LIMIT $4";
pub(super) const TRANSFER: &str = "SELECT id, namespace, workflow_id, run_id, record FROM tasks
     WHERE queue IS NULL AND fire_at IS NULL AND id > $1 ORDER BY id LIMIT $2";
/// The timer and transfer queues of some shards (a cluster node's).
pub(super) const DUE_IN: &str = "SELECT id, namespace, workflow_id, run_id, record, fire_at FROM tasks
     WHERE shard = ANY($5::int4[]) AND fire_at IS NOT NULL AND (fire_at, id) > ($1, $2) AND fire_at <= $3
     ORDER BY fire_at, id LIMIT $4";
pub(super) const TRANSFER_IN: &str = "SELECT id, namespace, workflow_id, run_id, record FROM tasks
     WHERE shard = ANY($3::int4[]) AND queue IS NULL AND fire_at IS NULL AND id > $1 ORDER BY id LIMIT $2";

/// A row of a queue's statement; None if written by a later version (not ours to run).
fn row(r: &tokio_postgres::Row) -> Attempt<Option<StoredTask>> {
    let Some(task) = decode(r.try_get(4)?) else { return Ok(None) };
    Ok(Some(StoredTask {
        id: r.try_get(0)?,
        namespace: text::column(r, 1)?,
        workflow_id: text::column(r, 2)?,
        run_id: text::column(r, 3)?,
        task,
    }))
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Up to `limit` tasks of a task queue visible at `now`, oldest first.
pub(crate) async fn queued(
    client: &impl GenericClient,
    (namespace, queue, activity, now, max): &(String, String, bool, i64, usize),
) -> Attempt<Vec<StoredTask>> {
    let stmt = client.prepare_cached(QUEUED).await?;
    let rows = client.query(&stmt, &[&escape(namespace), &escape(queue), activity, now, &limit(*max)]).await?;
    rows.iter().filter_map(|r| row(r).transpose()).collect()
}

/// Which shards a queue read covers: all, or a cluster node's.
pub(crate) type Shards = Option<Vec<i32>>;

/// Up to `limit` timer-queue tasks due after `after` (due time, id) and no
/// later than `until`, by due time, of `shards`.
pub(crate) async fn due(
    client: &impl GenericClient,
    (after, until, max, shards): &(Option<(i64, i64)>, i64, usize, Shards),
) -> Attempt<Vec<(i64, StoredTask)>> {
    let (at, id) = after.unwrap_or((i64::MIN, i64::MIN));
    let rows = match shards {
        None => client.query(&client.prepare_cached(DUE).await?, &[&at, &id, until, &limit(*max)]).await?,
        Some(shards) => {
            client.query(&client.prepare_cached(DUE_IN).await?, &[&at, &id, until, &limit(*max), shards]).await?
        }
    };
    let mut due = Vec::with_capacity(rows.len());
    for r in &rows {
        if let Some(task) = row(r)? {
            due.push((r.try_get::<_, Option<i64>>(5)?.unwrap_or(*until), task));
        }
    }
    Ok(due)
}

/// Up to `limit` transfer-queue tasks of `shards` with ids above `after`.
pub(crate) async fn transfer(
    client: &impl GenericClient,
    (after, max, shards): &(i64, usize, Shards),
) -> Attempt<Vec<StoredTask>> {
    let rows = match shards {
        None => client.query(&client.prepare_cached(TRANSFER).await?, &[after, &limit(*max)]).await?,
        Some(shards) => {
            client.query(&client.prepare_cached(TRANSFER_IN).await?, &[after, &limit(*max), shards]).await?
        }
    };
    rows.iter().filter_map(|r| row(r).transpose()).collect()
}

/// How many tasks wait in a task queue (DescribeTaskQueue's backlog).
pub(crate) async fn count_queued(
    client: &impl GenericClient,
    (namespace, queue, activity): &(String, String, bool),
) -> Attempt<i64> {
    let stmt = client
        .prepare_cached("SELECT COUNT(*) FROM tasks WHERE namespace = $1 AND queue = $2 AND activity = $3")
        .await?;
    Ok(client.query_one(&stmt, &[&escape(namespace), &escape(queue), activity]).await?.try_get(0)?)
}
