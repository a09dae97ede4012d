//! Membership and shard leases on PostgreSQL (`crate::cluster` says what
//! they mean). Every time is read from the database's clock in the
//! statement that uses it, so nodes with skewed clocks agree on who is
//! alive and whose lease ran out.

use super::connection::Attempt;
use super::text::{self, escape};
use crate::cluster::{ClusterView, Fence, NodeRecord, SHARDS, ShardLease, shard_of};
use deadpool_postgres::{GenericClient, Transaction};
use std::time::Duration;

/// The database's clock, Unix nanoseconds (PostgreSQL and its
/// distributed kin all have `clock_timestamp()` and `EXTRACT(EPOCH ...)`).
const NOW: &str = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000000)::BIGINT";

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// A shard id as the `shard` columns hold it (an id past `i32` matches
/// no row).
pub(super) fn column(shard_id: u32) -> i32 {
    i32::try_from(shard_id).unwrap_or(i32::MAX)
}

/// The `shard` column of a run's rows.
pub(super) fn run_column(namespace: &str, workflow_id: &str) -> i32 {
    column(shard_of(namespace, workflow_id))
}

/// Shard ids as the `shard` columns hold them.
pub(crate) fn shard_ids(shard_ids: &[u32]) -> Vec<i32> {
    shard_ids.iter().filter(|id| **id < SHARDS).map(|id| column(*id)).collect()
}

fn fence(row: &tokio_postgres::Row) -> Attempt<Fence> {
    let shard: i32 = row.try_get(0)?;
    Ok(Fence { shard_id: u32::try_from(shard).unwrap_or(0), epoch: row.try_get(1)? })
}

/// Has the server end this transaction should it sit idle for 5 s: a node
/// paused (SIGSTOP) or cut off between a statement and COMMIT must not keep
/// the rows it locked (its shards' rows, in a renewal) from the node taking
/// its shards over. Fenced commits set the same in their fence statement.
async fn bound_idle(tx: &Transaction<'_>) -> Attempt<()> {
    let stmt = tx.prepare_cached("SELECT set_config('idle_in_transaction_session_timeout', '5000', true)").await?;
    tx.execute(&stmt, &[]).await?;
    Ok(())
}

pub(crate) async fn heartbeat(tx: &Transaction<'_>, node: &NodeRecord) -> Attempt<()> {
    bound_idle(tx).await?;
    let sql = format!(
        "INSERT INTO cluster_nodes (node_id, rpc_address, cluster_address, started_at, heartbeat_at)
         VALUES ($1, $2, $3, {NOW}, {NOW})
         ON CONFLICT (node_id) DO UPDATE SET rpc_address = excluded.rpc_address,
             cluster_address = excluded.cluster_address, heartbeat_at = excluded.heartbeat_at"
    );
    let stmt = tx.prepare_cached(&sql).await?;
    tx.execute(&stmt, &[&escape(&node.node_id), &node.rpc_address, &node.cluster_address]).await?;
    Ok(())
}

pub(crate) async fn leave(tx: &Transaction<'_>, node_id: &str) -> Attempt<()> {
    bound_idle(tx).await?;
    let node = escape(node_id);
    let free = tx.prepare_cached("UPDATE shards SET owner = NULL, lease_until = 0 WHERE owner = $1").await?;
    tx.execute(&free, &[&node]).await?;
    let gone = tx.prepare_cached("DELETE FROM cluster_nodes WHERE node_id = $1").await?;
    tx.execute(&gone, &[&node]).await?;
    Ok(())
}

pub(crate) async fn view(client: &impl GenericClient) -> Attempt<ClusterView> {
    let now: i64 = client.query_one(&format!("SELECT {NOW}"), &[]).await?.try_get(0)?;
    let nodes = client
        .query(
            "SELECT node_id, rpc_address, cluster_address, started_at, heartbeat_at FROM cluster_nodes ORDER BY node_id",
            &[],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(NodeRecord {
                node_id: text::column(r, 0)?,
                rpc_address: r.try_get(1)?,
                cluster_address: r.try_get(2)?,
                started_at: r.try_get(3)?,
                heartbeat_at: r.try_get(4)?,
            })
        })
        .collect::<Attempt<Vec<_>>>()?;
    let shards = client
        .query("SELECT shard_id, owner, epoch, lease_until, acquired_at FROM shards ORDER BY shard_id", &[])
        .await?
        .iter()
        .map(|r| {
            let shard: i32 = r.try_get(0)?;
            let owner: Option<String> = r.try_get(1)?;
            Ok(ShardLease {
                shard_id: u32::try_from(shard).unwrap_or(0),
                owner: owner.map(|o| text::unescape(&o)),
                epoch: r.try_get(2)?,
                lease_until: r.try_get(3)?,
                acquired_at: r.try_get(4)?,
            })
        })
        .collect::<Attempt<Vec<_>>>()?;
    Ok(ClusterView { now, nodes, shards })
}

pub(crate) async fn acquire(
    tx: &Transaction<'_>,
    (node_id, wanted, lease): &(String, Vec<u32>, Duration),
) -> Attempt<Vec<Fence>> {
    // Rows locked by another transaction are skipped, not waited for: a
    // commit in flight holds its shard's row (`commit_fenced`), and a node
    // paused mid-commit must not stall the node taking its shards (the
    // server ends its idle transaction; the shard is taken next round).
    // Rows taken are locked, then checked, so of two nodes taking one free
    // shard, the second finds it taken.
    let sql = format!(
        "UPDATE shards SET owner = $1, epoch = epoch + 1, lease_until = {NOW} + $3, acquired_at = {NOW}
         WHERE shard_id IN (
             SELECT shard_id FROM shards
             WHERE shard_id = ANY($2::int4[]) AND (owner IS NULL OR owner = $1 OR lease_until < {NOW})
             FOR UPDATE SKIP LOCKED)
         RETURNING shard_id, epoch"
    );
    bound_idle(tx).await?;
    let stmt = tx.prepare_cached(&sql).await?;
    let rows = tx.query(&stmt, &[&escape(node_id), &shard_ids(wanted), &nanos(*lease)]).await?;
    let mut taken = rows.iter().map(fence).collect::<Attempt<Vec<_>>>()?;
    taken.sort();
    Ok(taken)
}

fn held_columns(held: &[Fence]) -> (Vec<i32>, Vec<i64>) {
    held.iter().map(|f| (column(f.shard_id), f.epoch)).unzip()
}

pub(crate) async fn renew(
    tx: &Transaction<'_>,
    (node_id, held, lease): &(String, Vec<Fence>, Duration),
) -> Attempt<Vec<u32>> {
    let (shards, epochs) = held_columns(held);
    let sql = format!(
        "UPDATE shards SET lease_until = {NOW} + $4
         FROM UNNEST($2::int4[], $3::int8[]) AS h(shard_id, epoch)
         WHERE shards.shard_id = h.shard_id AND shards.epoch = h.epoch AND shards.owner = $1
         RETURNING shards.shard_id"
    );
    bound_idle(tx).await?;
    let stmt = tx.prepare_cached(&sql).await?;
    let rows = tx.query(&stmt, &[&escape(node_id), &shards, &epochs, &nanos(*lease)]).await?;
    let mut renewed =
        rows.iter().map(|r| Ok(u32::try_from(r.try_get::<_, i32>(0)?).unwrap_or(0))).collect::<Attempt<Vec<_>>>()?;
    renewed.sort_unstable();
    Ok(renewed)
}

pub(crate) async fn release(tx: &Transaction<'_>, (node_id, held): &(String, Vec<Fence>)) -> Attempt<()> {
    let (shards, epochs) = held_columns(held);
    bound_idle(tx).await?;
    let stmt = tx
        .prepare_cached(
            "UPDATE shards SET owner = NULL, lease_until = 0
             FROM UNNEST($2::int4[], $3::int8[]) AS h(shard_id, epoch)
             WHERE shards.shard_id = h.shard_id AND shards.epoch = h.epoch AND shards.owner = $1",
        )
        .await?;
    tx.execute(&stmt, &[&escape(node_id), &shards, &epochs]).await?;
    Ok(())
}

/// Workflow ids of `table` with rows that have no shard yet (through the
/// `*_without_shard` index).
pub(super) fn unsharded(table: &str) -> String {
    format!("SELECT DISTINCT namespace, workflow_id FROM {table} WHERE shard IS NULL LIMIT 500")
}

/// Rows written before shards existed get theirs, a batch of workflow ids
/// at a time; returns how many workflow ids were filled in.
pub(crate) async fn backfill_shards(tx: &Transaction<'_>, table: &&'static str) -> Attempt<usize> {
    let rows = tx.query(&unsharded(table), &[]).await?;
    let mut namespaces = Vec::with_capacity(rows.len());
    let mut workflow_ids = Vec::with_capacity(rows.len());
    let mut shards = Vec::with_capacity(rows.len());
    for row in &rows {
        let (namespace, workflow_id) = (text::column(row, 0)?, text::column(row, 1)?);
        shards.push(run_column(&namespace, &workflow_id));
        namespaces.push(escape(&namespace).into_owned());
        workflow_ids.push(escape(&workflow_id).into_owned());
    }
    if !rows.is_empty() {
        let fill = format!(
            "UPDATE {table} SET shard = s.shard FROM UNNEST($1::text[], $2::text[], $3::int4[]) AS s(ns, wf, shard)
             WHERE {table}.namespace = s.ns AND {table}.workflow_id = s.wf AND {table}.shard IS NULL"
        );
        tx.execute(&fill, &[&namespaces, &workflow_ids, &shards]).await?;
    }
    Ok(rows.len())
}
