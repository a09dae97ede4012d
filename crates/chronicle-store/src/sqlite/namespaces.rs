//! The `namespaces` table on SQLite: one encoded `NamespaceRecord` per name.

use super::{decode, error};
use crate::{NamespaceRecord, Result, StoreError};
use prost::Message;
use rusqlite::{Connection, params};

pub(crate) fn insert(tx: &rusqlite::Transaction<'_>, ns: &NamespaceRecord) -> Result<()> {
    let inserted = tx
        .execute(
            "INSERT OR IGNORE INTO namespaces (name, record) VALUES (?1, ?2)",
            params![ns.name, ns.encode_to_vec()],
        )
        .map_err(error)?;
    if inserted == 0 {
        return Err(StoreError::NamespaceExists { name: ns.name.clone() });
    }
    Ok(())
}

pub(crate) fn update(tx: &rusqlite::Transaction<'_>, ns: &NamespaceRecord) -> Result<()> {
    let updated = tx
        .execute("UPDATE namespaces SET record = ?2 WHERE name = ?1", params![ns.name, ns.encode_to_vec()])
        .map_err(error)?;
    if updated == 0 {
        return Err(StoreError::NamespaceNotFound { name: ns.name.clone() });
    }
    Ok(())
}

pub(crate) fn list(conn: &Connection) -> rusqlite::Result<Vec<NamespaceRecord>> {
    let mut stmt = conn.prepare("SELECT record FROM namespaces ORDER BY name")?;
    let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
    rows.map(|b| b.and_then(decode)).collect()
}
