//! Batch jobs and worker deployments on PostgreSQL (`crate::keyed`):
//! writes conditional on the stored version, in the writing statement.

use super::connection::{Attempt, Failure};
use super::text::escape;
use crate::StoreError;
use crate::keyed::{Keyed, KeyedWrite};
use deadpool_postgres::{GenericClient, Transaction};

/// Inserts (`expected_version` 0), replaces the row at that version, or
/// deletes it (no record).
pub(crate) async fn write(tx: &Transaction<'_>, w: &KeyedWrite) -> Attempt<()> {
    let (table, key) = (w.kind.table(), w.kind.key_column());
    let (ns, id) = (escape(&w.namespace), escape(&w.id));
    if w.expected_version == 0 {
        let Some((version, bytes)) = &w.record else { return Ok(()) };
        let insert = tx
            .prepare_cached(&format!(
                "INSERT INTO {table} (namespace, {key}, version, record) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (namespace, {key}) DO NOTHING"
            ))
            .await?;
        if tx.execute(&insert, &[&ns, &id, version, bytes]).await? == 0 {
            return Err(Failure::Store(w.kind.exists(&w.namespace, &w.id)));
        }
        return Ok(());
    }
    let changed = match &w.record {
        Some((version, bytes)) => {
            let update = tx
                .prepare_cached(&format!(
                    "UPDATE {table} SET version = $3, record = $4 WHERE namespace = $1 AND {key} = $2 AND version = $5"
                ))
                .await?;
            tx.execute(&update, &[&ns, &id, version, bytes, &w.expected_version]).await?
        }
        None => {
            let delete = tx
                .prepare_cached(&format!("DELETE FROM {table} WHERE namespace = $1 AND {key} = $2 AND version = $3"))
                .await?;
            tx.execute(&delete, &[&ns, &id, &w.expected_version]).await?
        }
    };
    if changed == 1 {
        return Ok(());
    }
    let stored = tx.prepare_cached(&format!("SELECT 1 FROM {table} WHERE namespace = $1 AND {key} = $2")).await?;
    if tx.query_opt(&stored, &[&ns, &id]).await?.is_none() {
        return Err(Failure::Store(StoreError::NotFound(w.kind.missing(&w.namespace, &w.id))));
    }
    Err(Failure::Store(w.kind.conflict(&w.id)))
}

pub(crate) async fn load(
    client: &impl GenericClient,
    (kind, namespace, id): &(Keyed, String, String),
) -> Attempt<Option<Vec<u8>>> {
    let (table, key) = (kind.table(), kind.key_column());
    let stmt =
        client.prepare_cached(&format!("SELECT record FROM {table} WHERE namespace = $1 AND {key} = $2")).await?;
    let row = client.query_opt(&stmt, &[&escape(namespace), &escape(id)]).await?;
    Ok(row.map(|row| row.try_get(0)).transpose()?)
}

/// Every record (of one namespace, if given), by namespace then id.
pub(crate) async fn list(
    client: &impl GenericClient,
    (kind, namespace): &(Keyed, Option<String>),
) -> Attempt<Vec<Vec<u8>>> {
    let (table, key) = (kind.table(), kind.key_column());
    let stmt = client
        .prepare_cached(&format!(
            "SELECT record FROM {table} WHERE $1::text IS NULL OR namespace = $1::text ORDER BY namespace, {key}"
        ))
        .await?;
    let ns = namespace.as_deref().map(escape);
    client.query(&stmt, &[&ns]).await?.iter().map(|row| Ok(row.try_get(0)?)).collect()
}
