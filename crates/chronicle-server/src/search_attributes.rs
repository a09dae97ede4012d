//! Custom search attributes as Temporal manages them: the names it
//! reserves, its type names, and the per-namespace registry (cached here,
//! persisted in the store, which decides conflicts).

use crate::visibility::fields::{STORED_SYSTEM_ATTRIBUTES, System, system_attributes, type_name};
use chronicle_engine::api::enums::v1::IndexedValueType;
use chronicle_store::{CustomSearchAttributes, Store, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Internal field names Temporal keeps out of search attribute names.
const RESERVED_FIELDS: &[&str] = &["NamespaceId", "Memo", "MemoEncoding", "VisibilityTaskKey"];

/// Temporal reserves every name with this prefix for its own attributes.
const RESERVED_PREFIX: &str = "Temporal";

const TYPES: &[IndexedValueType] = &[
    IndexedValueType::Text,
    IndexedValueType::Keyword,
    IndexedValueType::Int,
    IndexedValueType::Double,
    IndexedValueType::Bool,
    IndexedValueType::Datetime,
    IndexedValueType::KeywordList,
];

pub fn is_reserved(name: &str) -> bool {
    system_attributes().any(|(n, _)| n == name) || RESERVED_FIELDS.contains(&name) || name.starts_with(RESERVED_PREFIX)
}

/// A system attribute (which is defined, so "unable to remove" rather
/// than "doesn't exist").
pub fn is_system(name: &str) -> bool {
    System::ALL.iter().any(|s| s.name() == name) || STORED_SYSTEM_ATTRIBUTES.iter().any(|(n, _)| *n == name)
}

/// A type by Temporal's name ('Keyword', 'keywordlist'; any case), as
/// `temporal server start-dev --search-attribute` reads it.
pub fn parse_type(name: &str) -> Option<IndexedValueType> {
    TYPES.iter().copied().find(|t| type_name(*t).eq_ignore_ascii_case(name))
}

/// Checks one attribute of a registration as Temporal's
/// AddSearchAttributes does; the error is Temporal's message.
pub fn check(name: &str, ty: i32) -> Result<IndexedValueType, String> {
    if is_reserved(name) {
        return Err(format!("Search attribute {name} is reserved by system."));
    }
    match IndexedValueType::try_from(ty) {
        Ok(t) if TYPES.contains(&t) => Ok(t),
        Ok(t) => Err(format!("Unknown search attribute type: {}.", type_name(t))),
        Err(_) => Err(format!("Unknown search attribute type: {ty}.")),
    }
}

/// Registered custom search attributes by namespace.
pub struct Registry {
    store: Arc<dyn Store>,
    by_namespace: RwLock<HashMap<String, CustomSearchAttributes>>,
    /// One change at a time, so the cache follows the store's order.
    changing: tokio::sync::Mutex<()>,
    /// Other cluster nodes, told of changes (namespaces' too).
    announcer: crate::namespaces::Announcer,
}

impl Registry {
    pub async fn load(store: Arc<dyn Store>) -> Result<Self, StoreError> {
        let all = store.search_attributes().await?;
        Ok(Registry {
            store,
            by_namespace: RwLock::new(all.into_iter().collect()),
            changing: Default::default(),
            announcer: Default::default(),
        })
    }

    /// Where changes to namespaces and search attributes are announced.
    pub fn announcer(&self) -> &crate::namespaces::Announcer {
        &self.announcer
    }

    /// Reads the registry again (another cluster node may have changed it).
    pub async fn reload(&self) -> Result<(), StoreError> {
        let _one_at_a_time = self.changing.lock().await;
        let all = self.store.search_attributes().await?;
        *crate::sync::write(&self.by_namespace) = all.into_iter().collect();
        Ok(())
    }

    pub fn get(&self, namespace: &str) -> CustomSearchAttributes {
        crate::sync::read(&self.by_namespace).get(namespace).cloned().unwrap_or_default()
    }

    /// Registers `attributes` (already checked); see `Store::add_search_attributes`.
    pub async fn add(&self, namespace: &str, attributes: CustomSearchAttributes) -> Result<(), StoreError> {
        {
            let _one_at_a_time = self.changing.lock().await;
            self.store.add_search_attributes(namespace, attributes.clone()).await?;
            crate::sync::write(&self.by_namespace).entry(namespace.to_string()).or_default().extend(attributes);
        }
        // Not under the lock: a peer announcing its own change at once
        // would otherwise wait for this one's.
        self.announcer.changed().await;
        Ok(())
    }

    /// Unregisters `names`; see `Store::remove_search_attributes`.
    pub async fn remove(&self, namespace: &str, names: Vec<String>) -> Result<(), StoreError> {
        {
            let _one_at_a_time = self.changing.lock().await;
            self.store.remove_search_attributes(namespace, names.clone()).await?;
            let mut by_namespace = crate::sync::write(&self.by_namespace);
            if let Some(registered) = by_namespace.get_mut(namespace) {
                registered.retain(|name, _| !names.contains(name));
            }
        }
        self.announcer.changed().await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_names_as_temporal_reserves_them() {
        for name in ["WorkflowId", "ExecutionStatus", "BuildIds", "BatcherUser", "Memo", "NamespaceId", "TemporalFoo"] {
            assert!(is_reserved(name), "{name}");
            assert_eq!(
                check(name, IndexedValueType::Keyword as i32),
                Err(format!("Search attribute {name} is reserved by system."))
            );
        }
        for name in ["CustomKeywordField", "workflowid", "MyTemporal", "bad name!"] {
            assert!(!is_reserved(name), "{name}");
        }
        assert!(is_system("BuildIds") && is_system("RunId") && !is_system("Memo") && !is_system("TemporalFoo"));
    }

    #[test]
    fn types_by_name_and_number() {
        assert_eq!(parse_type("KeywordList"), Some(IndexedValueType::KeywordList));
        assert_eq!(parse_type("datetime"), Some(IndexedValueType::Datetime));
        assert_eq!(parse_type("Unspecified"), None);
        assert_eq!(parse_type("Nope"), None);
        assert_eq!(check("Size", IndexedValueType::Int as i32), Ok(IndexedValueType::Int));
        assert_eq!(check("Size", 99), Err("Unknown search attribute type: 99.".into()));
        assert_eq!(check("Size", 0), Err("Unknown search attribute type: Unspecified.".into()));
    }
}
