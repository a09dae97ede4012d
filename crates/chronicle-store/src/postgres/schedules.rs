//! The `schedules` table on PostgreSQL: writes conditional on the stored
//! version, in the writing statement.

use super::connection::{Attempt, Failure};
use super::decode;
use super::text::escape;
use crate::{Missing, ScheduleRecord, StoreError};
use deadpool_postgres::{GenericClient, Transaction};
use prost::Message;

fn missing(namespace: &str, schedule_id: &str) -> Failure {
    Failure::Store(StoreError::NotFound(Missing::Schedule {
        namespace: namespace.to_string(),
        schedule_id: schedule_id.to_string(),
    }))
}

/// Inserts (`expected_version` 0) or replaces the row at that version.
pub(crate) async fn write(tx: &Transaction<'_>, (record, expected_version): &(ScheduleRecord, i64)) -> Attempt<()> {
    let (ns, id) = (escape(&record.namespace), escape(&record.schedule_id));
    let bytes = record.encode_to_vec();
    if *expected_version == 0 {
        let insert = tx
            .prepare_cached(
                "INSERT INTO schedules (namespace, schedule_id, version, record) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (namespace, schedule_id) DO NOTHING",
            )
            .await?;
        if tx.execute(&insert, &[&ns, &id, &record.version, &bytes]).await? == 0 {
            return Err(Failure::Store(StoreError::ScheduleExists {
                namespace: record.namespace.clone(),
                schedule_id: record.schedule_id.clone(),
            }));
        }
        return Ok(());
    }
    let update = tx
        .prepare_cached(
            "UPDATE schedules SET version = $3, record = $4 WHERE namespace = $1 AND schedule_id = $2 AND version = $5",
        )
        .await?;
    if tx.execute(&update, &[&ns, &id, &record.version, &bytes, expected_version]).await? == 1 {
        return Ok(());
    }
    let stored = tx.prepare_cached("SELECT 1 FROM schedules WHERE namespace = $1 AND schedule_id = $2").await?;
    if tx.query_opt(&stored, &[&ns, &id]).await?.is_none() {
        return Err(missing(&record.namespace, &record.schedule_id));
    }
    Err(Failure::Store(StoreError::Conflict(format!("schedule {} changed concurrently", record.schedule_id))))
}

pub(crate) async fn delete(tx: &Transaction<'_>, (namespace, schedule_id): &(String, String)) -> Attempt<()> {
    let delete = tx.prepare_cached("DELETE FROM schedules WHERE namespace = $1 AND schedule_id = $2").await?;
    if tx.execute(&delete, &[&escape(namespace), &escape(schedule_id)]).await? == 0 {
        return Err(missing(namespace, schedule_id));
    }
    Ok(())
}

pub(crate) async fn load(
    client: &impl GenericClient,
    (namespace, schedule_id): &(String, String),
) -> Attempt<Option<ScheduleRecord>> {
    let stmt = client.prepare_cached("SELECT record FROM schedules WHERE namespace = $1 AND schedule_id = $2").await?;
    let row = client.query_opt(&stmt, &[&escape(namespace), &escape(schedule_id)]).await?;
    row.map(|row| decode(row.try_get(0)?)).transpose()
}

/// Every schedule (of one namespace, if given), by namespace then id.
pub(crate) async fn list(client: &impl GenericClient, namespace: &Option<String>) -> Attempt<Vec<ScheduleRecord>> {
    let stmt = client
        .prepare_cached(
            "SELECT record FROM schedules WHERE $1::text IS NULL OR namespace = $1::text
             ORDER BY namespace, schedule_id",
        )
        .await?;
    let ns = namespace.as_deref().map(escape);
    client.query(&stmt, &[&ns]).await?.iter().map(|row| decode(row.try_get(0)?)).collect()
}
