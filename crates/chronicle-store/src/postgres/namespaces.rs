//! Namespaces and their registered search attributes on PostgreSQL. Name
//! clashes are found by the writing statement (ON CONFLICT DO NOTHING),
//! so two nodes registering at once agree on one outcome.

use super::connection::{Attempt, Failure};
use super::decode;
use super::text::{self, escape};
use crate::{CustomSearchAttributes, NamespaceRecord, StoreError};
use chronicle_engine::api::enums::v1::IndexedValueType;
use deadpool_postgres::{GenericClient, Transaction};
use prost::Message;
use std::collections::BTreeMap;

pub(crate) async fn create(tx: &Transaction<'_>, ns: &NamespaceRecord) -> Attempt<()> {
    let insert = tx
        .prepare_cached("INSERT INTO namespaces (name, record) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
        .await?;
    if tx.execute(&insert, &[&escape(&ns.name), &ns.encode_to_vec()]).await? == 0 {
        return Err(Failure::Store(StoreError::NamespaceExists { name: ns.name.clone() }));
    }
    Ok(())
}

pub(crate) async fn update(tx: &Transaction<'_>, ns: &NamespaceRecord) -> Attempt<()> {
    let update = tx.prepare_cached("UPDATE namespaces SET record = $2 WHERE name = $1").await?;
    if tx.execute(&update, &[&escape(&ns.name), &ns.encode_to_vec()]).await? == 0 {
        return Err(Failure::Store(StoreError::NamespaceNotFound { name: ns.name.clone() }));
    }
    Ok(())
}

pub(crate) async fn list(client: &impl GenericClient) -> Attempt<Vec<NamespaceRecord>> {
    let stmt = client.prepare_cached("SELECT record FROM namespaces ORDER BY name").await?;
    client.query(&stmt, &[]).await?.iter().map(|row| decode(row.try_get(0)?)).collect()
}

/// Registers attributes, all or nothing (the transaction rolls back on a
/// type clash).
pub(crate) async fn add_search_attributes(
    tx: &Transaction<'_>,
    (namespace, attributes): &(String, CustomSearchAttributes),
) -> Attempt<()> {
    let ns = escape(namespace);
    let insert = tx
        .prepare_cached(
            "INSERT INTO search_attributes (namespace, name, type) VALUES ($1, $2, $3)
             ON CONFLICT (namespace, name) DO NOTHING",
        )
        .await?;
    let registered = tx.prepare_cached("SELECT type FROM search_attributes WHERE namespace = $1 AND name = $2").await?;
    for (name, ty) in attributes {
        let (n, ty) = (escape(name), *ty as i32);
        if tx.execute(&insert, &[&ns, &n, &ty]).await? == 1 {
            continue;
        }
        // There already: the same type is fine, another is a clash.
        let existing: Option<i32> = tx.query_opt(&registered, &[&ns, &n]).await?.map(|r| r.try_get(0)).transpose()?;
        if existing != Some(ty) {
            return Err(Failure::Store(StoreError::SearchAttributeExists { name: name.clone() }));
        }
    }
    Ok(())
}

/// Unregisters attributes, all or nothing.
pub(crate) async fn remove_search_attributes(
    tx: &Transaction<'_>,
    (namespace, names): &(String, Vec<String>),
) -> Attempt<()> {
    let ns = escape(namespace);
    let delete = tx.prepare_cached("DELETE FROM search_attributes WHERE namespace = $1 AND name = $2").await?;
    for name in names {
        if tx.execute(&delete, &[&ns, &escape(name)]).await? == 0 {
            return Err(Failure::Store(StoreError::SearchAttributeNotFound { name: name.clone() }));
        }
    }
    Ok(())
}

/// Every namespace's registrations.
pub(crate) async fn search_attributes(
    client: &impl GenericClient,
) -> Attempt<BTreeMap<String, CustomSearchAttributes>> {
    let stmt = client.prepare_cached("SELECT namespace, name, type FROM search_attributes").await?;
    let mut all = BTreeMap::<String, CustomSearchAttributes>::new();
    for row in client.query(&stmt, &[]).await? {
        let ty = IndexedValueType::try_from(row.try_get::<_, i32>(2)?).unwrap_or_default();
        all.entry(text::column(&row, 0)?).or_default().insert(text::column(&row, 1)?, ty);
    }
    Ok(all)
}
