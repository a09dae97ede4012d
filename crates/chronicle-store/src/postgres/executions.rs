//! Runs on PostgreSQL: the conditional write of executions (state, events,
//! tasks, visibility, current-run pointer) in one transaction, and the
//! reads of states and histories.
//!
//! Every condition is part of the statement that writes (UPDATE ... WHERE
//! version = expected; INSERT ... ON CONFLICT DO NOTHING), so it holds
//! under READ COMMITTED: a concurrent writer of the same row makes this
//! statement wait for it and then re-check, and a lost condition changes
//! nothing (the whole transaction rolls back).

use super::connection::{Attempt, Failure};
use super::text::{self, escape};
use super::{decode, tasks, visibility};
use crate::{ExecutionWrite, StoreError};
use chronicle_engine::{MutableState, api::history::v1::HistoryEvent};
use deadpool_postgres::{GenericClient, Transaction};
use prost::Message;

/// Writes every execution of a commit; the first lost condition fails the
/// whole transaction.
pub(crate) async fn commit(tx: &Transaction<'_>, writes: &[ExecutionWrite]) -> Attempt<()> {
    // Rows are locked in run-id order, so two commits of the same runs
    // cannot deadlock each other.
    let mut ordered: Vec<&ExecutionWrite> = writes.iter().collect();
    ordered.sort_by(|a, b| a.state.run_id.cmp(&b.state.run_id));
    for w in ordered {
        write(tx, w).await?;
    }
    Ok(())
}

fn conflict(what: String) -> Failure {
    Failure::Store(StoreError::Conflict(what))
}

async fn write(tx: &Transaction<'_>, w: &ExecutionWrite) -> Attempt<()> {
    let s = &w.state;
    debug_assert!(
        crate::records::contiguous_ending_at(&w.events, s.next_event_id - 1),
        "run {}: events written must be contiguous and end at next_event_id - 1",
        s.run_id
    );
    let (run, ns, wf) = (escape(&s.run_id), escape(&s.namespace), escape(&s.workflow_id));
    let state = s.encode_to_vec();
    let active = s.needs_recovery();
    if w.expected_version == 0 {
        let insert = tx
            .prepare_cached(
                "INSERT INTO executions (run_id, namespace, workflow_id, status, version, state, active)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (run_id) DO NOTHING",
            )
            .await?;
        if tx.execute(&insert, &[&run, &ns, &wf, &s.status, &s.db_version, &state, &active]).await? == 0 {
            return Err(conflict(format!("run {} already exists", s.run_id)));
        }
    } else {
        let update = tx
            .prepare_cached(
                "UPDATE executions SET status = $1, version = $2, state = $3, active = $4
                 WHERE run_id = $5 AND version = $6",
            )
            .await?;
        if tx.execute(&update, &[&s.status, &s.db_version, &state, &active, &run, &w.expected_version]).await? == 0 {
            return Err(conflict(format!("run {} changed concurrently", s.run_id)));
        }
    }
    if w.expected_version == 0 || w.update_visibility {
        visibility::write(tx, &s.namespace, &s.execution_info()).await?;
    }
    tasks::replace(tx, s, w.expected_version == 0).await?;
    if let Some(expected) = &w.set_current {
        let moved = match expected {
            None => {
                let insert = tx
                    .prepare_cached(
                        "INSERT INTO current_executions (namespace, workflow_id, run_id) VALUES ($1, $2, $3)
                         ON CONFLICT (namespace, workflow_id) DO NOTHING",
                    )
                    .await?;
                tx.execute(&insert, &[&ns, &wf, &run]).await? == 0
            }
            Some(previous) => {
                let update = tx
                    .prepare_cached(
                        "UPDATE current_executions SET run_id = $3
                         WHERE namespace = $1 AND workflow_id = $2 AND run_id = $4",
                    )
                    .await?;
                tx.execute(&update, &[&ns, &wf, &run, &escape(previous)]).await? == 0
            }
        };
        if moved {
            return Err(conflict(format!("current run of {} moved", s.workflow_id)));
        }
    }
    if !w.events.is_empty() {
        let ids: Vec<i64> = w.events.iter().map(|e| e.event_id).collect();
        let events: Vec<Vec<u8>> = w.events.iter().map(Message::encode_to_vec).collect();
        let insert = tx
            .prepare_cached(
                "INSERT INTO history (run_id, event_id, event)
                 SELECT $1, e.id, e.event FROM UNNEST($2::int8[], $3::bytea[]) AS e(id, event)",
            )
            .await?;
        // A duplicate event id is a unique violation: a Conflict.
        tx.execute(&insert, &[&run, &ids, &events]).await?;
    }
    Ok(())
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
