//! Runs on PostgreSQL: the conditional write of executions (state, events,
//! tasks, visibility, current-run pointer) in one transaction, and the
//! reads of states and histories.
//!
//! Every condition is part of the statement that writes (UPDATE ... WHERE
//! version = expected; INSERT ... ON CONFLICT DO NOTHING), so it holds
//! under READ COMMITTED: a concurrent writer of the same row makes this
//! statement wait for it and then re-check, and a lost condition changes
//! nothing (the whole transaction rolls back). The statements of a commit
//! are pipelined (`Pipeline`): BEGIN, the statements, COMMIT are three
//! round trips however many rows a commit writes; conditions are checked
//! once all have answered.

use super::connection::{Attempt, Failure};
use super::pipeline::Pipeline;
use super::text::{self, escape};
use super::{cluster, decode, tasks, visibility};
use crate::{ExecutionWrite, Fence, StoreError};
use chronicle_engine::{MutableState, api::history::v1::HistoryEvent};
use deadpool_postgres::{GenericClient, Transaction};
use prost::Message;
use tokio_postgres::Statement;

/// Every statement an execution write may need, prepared (once per
/// connection: later commits find them in its cache).
struct Statements {
    fence: Statement,
    insert_execution: Statement,
    update_execution: Statement,
    insert_current: Statement,
    move_current: Statement,
    insert_history: Statement,
    visibility: visibility::Statements,
    tasks: tasks::Statements,
}

impl Statements {
    async fn prepare(tx: &Transaction<'_>) -> Result<Statements, tokio_postgres::Error> {
        let (
            fence,
            insert_execution,
            update_execution,
            insert_current,
            move_current,
            insert_history,
            visibility,
            tasks,
        ) = tokio::try_join!(
            // Taken first and held to COMMIT: an acquisition of the shard
            // (an UPDATE of its row) waits for this commit, and this
            // commit, if it comes second, sees the new epoch. The same
            // statement has the server end this transaction should it sit
            // idle for 5 s (a node paused or cut off mid-commit): the row it
            // holds must not keep the shard from its next holder for long.
            tx.prepare_cached(
                "SELECT 1 FROM shards CROSS JOIN set_config('idle_in_transaction_session_timeout', '5000', true) AS t
                 WHERE shard_id = $1 AND epoch = $2 AND owner IS NOT NULL FOR SHARE OF shards"
            ),
            tx.prepare_cached(
                "INSERT INTO executions (run_id, namespace, workflow_id, status, version, state, active, shard)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (run_id) DO NOTHING",
            ),
            tx.prepare_cached(
                "UPDATE executions SET status = $1, version = $2, state = $3, active = $4
                 WHERE run_id = $5 AND version = $6",
            ),
            tx.prepare_cached(
                "INSERT INTO current_executions (namespace, workflow_id, run_id) VALUES ($1, $2, $3)
                 ON CONFLICT (namespace, workflow_id) DO NOTHING",
            ),
            tx.prepare_cached(
                "UPDATE current_executions SET run_id = $3 WHERE namespace = $1 AND workflow_id = $2 AND run_id = $4",
            ),
            tx.prepare_cached(
                "INSERT INTO history (run_id, event_id, event)
                 SELECT $1, e.id, e.event FROM UNNEST($2::int8[], $3::bytea[]) AS e(id, event)",
            ),
            visibility::Statements::prepare(tx),
            tasks::Statements::prepare(tx),
        )?;
        Ok(Statements {
            fence,
            insert_execution,
            update_execution,
            insert_current,
            move_current,
            insert_history,
            visibility,
            tasks,
        })
    }
}

/// One execution's write, escaped and encoded, ready to bind.
struct Write<'w> {
    w: &'w ExecutionWrite,
    run: String,
    namespace: String,
    workflow_id: String,
    shard: i32,
    state: Vec<u8>,
    active: bool,
    visibility: Option<visibility::Rows>,
    tasks: tasks::Rows,
    previous_current: Option<String>,
    event_ids: Vec<i64>,
    events: Vec<Vec<u8>>,
}

impl<'w> Write<'w> {
    fn of(w: &'w ExecutionWrite) -> Write<'w> {
        let s = &w.state;
        debug_assert!(
            crate::records::contiguous_ending_at(&w.events, s.next_event_id - 1),
            "run {}: events written must be contiguous and end at next_event_id - 1",
            s.run_id
        );
        let new_run = w.expected_version == 0;
        let shard = cluster::run_column(&s.namespace, &s.workflow_id);
        Write {
            w,
            run: escape(&s.run_id).into_owned(),
            namespace: escape(&s.namespace).into_owned(),
            workflow_id: escape(&s.workflow_id).into_owned(),
            shard,
            state: s.encode_to_vec(),
            active: s.needs_recovery(),
            visibility: (new_run || w.update_visibility)
                .then(|| visibility::Rows::of(&s.namespace, &s.execution_info())),
            tasks: tasks::Rows::of(s, new_run, shard),
            previous_current: w.set_current.clone().flatten().map(|p| escape(&p).into_owned()),
            event_ids: w.events.iter().map(|e| e.event_id).collect(),
            events: w.events.iter().map(Message::encode_to_vec).collect(),
        }
    }

    /// Queues the write's statements: first the conditional write of the
    /// execution row (so writers of one run queue on its lock before they
    /// touch anything else of it), then visibility, tasks, the current-run
    /// pointer and the events. Returns the indexes of the conditional
    /// statements: the row's, and the pointer's if it moves.
    fn send<'a>(
        &'a self,
        tx: &'a Transaction<'a>,
        st: &'a Statements,
        pipeline: &mut Pipeline<'a>,
    ) -> (usize, Option<usize>) {
        let s = &self.w.state;
        let row = if self.w.expected_version == 0 {
            pipeline.execute(
                tx,
                &st.insert_execution,
                vec![
                    &self.run,
                    &self.namespace,
                    &self.workflow_id,
                    &s.status,
                    &s.db_version,
                    &self.state,
                    &self.active,
                    &self.shard,
                ],
            )
        } else {
            pipeline.execute(
                tx,
                &st.update_execution,
                vec![&s.status, &s.db_version, &self.state, &self.active, &self.run, &self.w.expected_version],
            )
        };
        if let Some(rows) = &self.visibility {
            rows.send(tx, &st.visibility, pipeline);
        }
        self.tasks.send(tx, &st.tasks, pipeline);
        let current = match (&self.w.set_current, &self.previous_current) {
            (None, _) => None,
            (Some(None), _) => {
                Some(pipeline.execute(tx, &st.insert_current, vec![&self.namespace, &self.workflow_id, &self.run]))
            }
            (Some(Some(_)), previous) => Some(pipeline.execute(
                tx,
                &st.move_current,
                vec![&self.namespace, &self.workflow_id, &self.run, previous],
            )),
        };
        if !self.events.is_empty() {
            // A duplicate event id is a unique violation: a Conflict.
            pipeline.execute(tx, &st.insert_history, vec![&self.run, &self.event_ids, &self.events]);
        }
        (row, current)
    }

    /// The Conflict this write's counts show, if a condition was lost.
    fn lost(&self, counts: &[Option<u64>], (row, current): (usize, Option<usize>)) -> Option<StoreError> {
        let s = &self.w.state;
        if counts[row] == Some(0) {
            return Some(StoreError::Conflict(if self.w.expected_version == 0 {
                format!("run {} already exists", s.run_id)
            } else {
                format!("run {} changed concurrently", s.run_id)
            }));
        }
        if current.is_some_and(|i| counts[i] == Some(0)) {
            return Some(StoreError::Conflict(format!("current run of {} moved", s.workflow_id)));
        }
        None
    }
}

/// A commit: its writes, and the shard epoch they are made under (a
/// cluster node's) or None (a server alone on its database).
pub(crate) struct Commit {
    pub(crate) fence: Option<Fence>,
    pub(crate) writes: Vec<ExecutionWrite>,
}

/// Writes every execution of a commit, all statements in one pipeline;
/// the first lost condition fails the whole transaction.
pub(crate) async fn commit(tx: &Transaction<'_>, commit: &Commit) -> Attempt<()> {
    let st = Statements::prepare(tx).await?;
    let fence = commit.fence.map(|f| (f, cluster::column(f.shard_id)));
    let writes = &commit.writes;
    // Rows are locked in run-id order, so two commits of the same runs
    // cannot deadlock each other.
    let mut writes: Vec<Write<'_>> = writes.iter().map(Write::of).collect();
    writes.sort_by(|a, b| a.w.state.run_id.cmp(&b.w.state.run_id));
    let mut pipeline = Pipeline::default();
    let fenced = fence.as_ref().map(|(f, shard)| pipeline.execute(tx, &st.fence, vec![shard, &f.epoch]));
    let conditions: Vec<_> = writes.iter().map(|w| w.send(tx, &st, &mut pipeline)).collect();
    let (counts, failed) = pipeline.run().await;
    if let (Some(i), Some((f, _))) = (fenced, fence)
        && counts[i] == Some(0)
    {
        return Err(Failure::Store(StoreError::ShardOwnershipLost { shard_id: f.shard_id }));
    }
    if let Some(lost) = writes.iter().zip(conditions).find_map(|(w, c)| w.lost(&counts, c)) {
        return Err(Failure::Store(lost));
    }
    match failed {
        Some(e) => Err(Failure::Db(e)),
        None => Ok(()),
    }
}

pub(crate) async fn current_run(
    client: &impl GenericClient,
    namespace: &str,
    workflow_id: &str,
) -> Attempt<Option<String>> {
    let stmt = client
        .prepare_cached("SELECT run_id FROM current_executions WHERE namespace = $1 AND workflow_id = $2")
        .await?;
    match client.query_opt(&stmt, &[&escape(namespace), &escape(workflow_id)]).await? {
        Some(row) => Ok(Some(text::column(&row, 0)?)),
        None => Ok(None),
    }
}

pub(crate) async fn load(
    client: &impl GenericClient,
    namespace: &str,
    workflow_id: &str,
    run_id: &str,
) -> Attempt<Option<MutableState>> {
    let stmt = client
        .prepare_cached("SELECT state FROM executions WHERE run_id = $1 AND namespace = $2 AND workflow_id = $3")
        .await?;
    let row = client.query_opt(&stmt, &[&escape(run_id), &escape(namespace), &escape(workflow_id)]).await?;
    row.map(|row| decode(row.try_get(0)?)).transpose()
}

pub(crate) async fn load_current(
    client: &impl GenericClient,
    namespace: &str,
    workflow_id: &str,
) -> Attempt<Option<MutableState>> {
    let stmt = client
        .prepare_cached(
            "SELECT e.state FROM current_executions c JOIN executions e ON e.run_id = c.run_id
             WHERE c.namespace = $1 AND c.workflow_id = $2",
        )
        .await?;
    let row = client.query_opt(&stmt, &[&escape(namespace), &escape(workflow_id)]).await?;
    row.map(|row| decode(row.try_get(0)?)).transpose()
}

pub(crate) async fn read_history(
    client: &impl GenericClient,
    run_id: &str,
    from_event_id: i64,
    max: usize,
) -> Attempt<Vec<HistoryEvent>> {
    let stmt = client
        .prepare_cached("SELECT event FROM history WHERE run_id = $1 AND event_id >= $2 ORDER BY event_id LIMIT $3")
        .await?;
    let max = i64::try_from(max).unwrap_or(i64::MAX);
    let rows = client.query(&stmt, &[&escape(run_id), &from_event_id, &max]).await?;
    let events: Vec<HistoryEvent> = rows.iter().map(|row| decode(row.try_get(0)?)).collect::<Attempt<_>>()?;
    debug_assert!(
        events.first().is_none_or(|e| e.event_id == from_event_id.max(1))
            && events.windows(2).all(|w| w[1].event_id == w[0].event_id + 1),
        "history of {run_id} read from {from_event_id} has a gap"
    );
    Ok(events)
}
