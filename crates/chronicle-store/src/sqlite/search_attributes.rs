//! The `search_attributes` table: custom search attributes registered per
//! namespace (name → `IndexedValueType`), as Temporal's OperatorService
//! manages them. Runs keep their values in their own search attributes;
//! this only records the type queries read them as.

use super::error as internal;
use crate::{CustomSearchAttributes, Result, StoreError};
use chronicle_engine::api::enums::v1::IndexedValueType;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::BTreeMap;

const TABLE: &str = r#"
CREATE TABLE IF NOT EXISTS search_attributes (
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    -- IndexedValueType
    type INTEGER NOT NULL,
    PRIMARY KEY (namespace, name)
) WITHOUT ROWID;
"#;

/// A registration change, applied in the writer's transaction.
#[derive(Debug)]
pub(crate) enum Change {
    Add { namespace: String, attributes: CustomSearchAttributes },
    Remove { namespace: String, names: Vec<String> },
}

pub(crate) fn ensure_table(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(TABLE)
}

/// Applies `change` (the caller's savepoint makes it all or nothing).
pub(crate) fn apply(tx: &rusqlite::Transaction<'_>, change: &Change) -> Result<()> {
    match change {
        Change::Add { namespace, attributes } => {
            for (name, ty) in attributes {
                let existing: Option<i32> = tx
                    .prepare_cached("SELECT type FROM search_attributes WHERE namespace = ?1 AND name = ?2")
                    .and_then(|mut s| s.query_row(params![namespace, name], |r| r.get(0)).optional())
                    .map_err(internal)?;
                match existing {
                    Some(t) if t == *ty as i32 => {}
                    Some(_) => {
                        return Err(StoreError::SearchAttributeExists { name: name.clone() });
                    }
                    None => {
                        tx.prepare_cached("INSERT INTO search_attributes (namespace, name, type) VALUES (?1, ?2, ?3)")
                            .and_then(|mut s| s.execute(params![namespace, name, *ty as i32]))
                            .map_err(internal)?;
                    }
                }
            }
        }
        Change::Remove { namespace, names } => {
            for name in names {
                let deleted = tx
                    .prepare_cached("DELETE FROM search_attributes WHERE namespace = ?1 AND name = ?2")
                    .and_then(|mut s| s.execute(params![namespace, name]))
                    .map_err(internal)?;
                if deleted == 0 {
                    return Err(StoreError::SearchAttributeNotFound { name: name.clone() });
                }
            }
        }
    }
    Ok(())
}

/// Every namespace's registrations.
pub(crate) fn all(conn: &Connection) -> rusqlite::Result<BTreeMap<String, CustomSearchAttributes>> {
    let mut stmt = conn.prepare("SELECT namespace, name, type FROM search_attributes")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i32>(2)?)))?;
    let mut all = BTreeMap::<String, CustomSearchAttributes>::new();
    for row in rows {
        let (namespace, name, ty) = row?;
        all.entry(namespace).or_default().insert(name, IndexedValueType::try_from(ty).unwrap_or_default());
    }
    Ok(all)
}
