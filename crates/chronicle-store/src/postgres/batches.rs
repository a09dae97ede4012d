//! The `batch_operations` table on PostgreSQL: writes conditional on the
//! stored version, in the writing statement.

use super::connection::{Attempt, Failure};
use super::decode;
use super::text::escape;
use crate::{BatchRecord, Missing, StoreError};
use deadpool_postgres::{GenericClient, Transaction};
use prost::Message;

/// Inserts (`expected_version` 0) or replaces the row at that version.
pub(crate) async fn write(tx: &Transaction<'_>, (record, expected_version): &(BatchRecord, i64)) -> Attempt<()> {
    let (ns, id) = (escape(&record.namespace), escape(&record.job_id));
    let bytes = record.encode_to_vec();
    if *expected_version == 0 {
        let insert = tx
            .prepare_cached(
                "INSERT INTO batch_operations (namespace, job_id, version, record) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (namespace, job_id) DO NOTHING",
            )
            .await?;
        if tx.execute(&insert, &[&ns, &id, &record.version, &bytes]).await? == 0 {
            return Err(Failure::Store(StoreError::BatchExists {
                namespace: record.namespace.clone(),
                job_id: record.job_id.clone(),
            }));
        }
        return Ok(());
    }
    let update = tx
        .prepare_cached(
            "UPDATE batch_operations SET version = $3, record = $4 WHERE namespace = $1 AND job_id = $2 AND version = $5",
        )
        .await?;
    if tx.execute(&update, &[&ns, &id, &record.version, &bytes, expected_version]).await? == 1 {
        return Ok(());
    }
    let stored = tx.prepare_cached("SELECT 1 FROM batch_operations WHERE namespace = $1 AND job_id = $2").await?;
    if tx.query_opt(&stored, &[&ns, &id]).await?.is_none() {
        let missing = Missing::Batch { namespace: record.namespace.clone(), job_id: record.job_id.clone() };
        return Err(Failure::Store(StoreError::NotFound(missing)));
    }
    Err(Failure::Store(StoreError::Conflict(format!("batch operation {} changed concurrently", record.job_id))))
}

pub(crate) async fn load(
    client: &impl GenericClient,
    (namespace, job_id): &(String, String),
) -> Attempt<Option<BatchRecord>> {
    let stmt =
        client.prepare_cached("SELECT record FROM batch_operations WHERE namespace = $1 AND job_id = $2").await?;
    let row = client.query_opt(&stmt, &[&escape(namespace), &escape(job_id)]).await?;
    row.map(|row| decode(row.try_get(0)?)).transpose()
}

/// Every job (of one namespace, if given), by namespace then job id.
pub(crate) async fn list(client: &impl GenericClient, namespace: &Option<String>) -> Attempt<Vec<BatchRecord>> {
    let stmt = client
        .prepare_cached(
            "SELECT record FROM batch_operations WHERE $1::text IS NULL OR namespace = $1::text
             ORDER BY namespace, job_id",
        )
        .await?;
    let ns = namespace.as_deref().map(escape);
    client.query(&stmt, &[&ns]).await?.iter().map(|row| decode(row.try_get(0)?)).collect()
}
