//! Namespace registry: cached in memory, persisted in the store, with each
//! namespace's registered custom search attributes.

use crate::search_attributes;
use chronicle_store::{NamespaceRecord, Store, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

pub struct Namespaces {
    store: Arc<dyn Store>,
    by_name: RwLock<HashMap<String, NamespaceRecord>>,
    search_attributes: search_attributes::Registry,
}

/// Temporal's default retention for the dev server's namespaces.
pub const DEFAULT_RETENTION_SECS: i64 = 24 * 3600;

/// The shortest retention Temporal's dev server accepts (a shorter one is
/// "not a valid retention period").
pub const MIN_RETENTION_SECS: i64 = 3600;

/// Whether a retention given on a request is refused: negative, or set
/// but shorter than the minimum. Zero means "not set", as in Temporal's
/// other durations.
pub fn invalid_retention(d: &prost_types::Duration) -> bool {
    let nanos = chronicle_engine::time::dur_nanos(d);
    nanos < 0 || (nanos > 0 && nanos < MIN_RETENTION_SECS as i128 * 1_000_000_000)
}

pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= chronicle_engine::limits::NAMESPACE_NAME_BYTES_MAX
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A namespace the configuration asks for at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceSpec {
    pub name: String,
    /// None: Temporal's default for a new namespace, and an existing one's
    /// retention is left as it is.
    pub retention: Option<std::time::Duration>,
    pub description: Option<String>,
}

impl NamespaceSpec {
    pub fn named(name: impl Into<String>) -> Self {
        NamespaceSpec { name: name.into(), retention: None, description: None }
    }
}

impl Namespaces {
    /// Loads the registry and makes sure the namespaces `ensure` names (plus
    /// `default`) exist; an existing one whose configured retention or
    /// description differs is updated to the configuration's.
    pub async fn load(store: Arc<dyn Store>, ensure: &[NamespaceSpec]) -> Result<Self, StoreError> {
        let registry = search_attributes::Registry::load(store.clone()).await?;
        let ns = Namespaces { store, by_name: RwLock::new(HashMap::new()), search_attributes: registry };
        ns.reload().await?;
        let default = NamespaceSpec::named("default");
        for spec in std::iter::once(&default).chain(ensure) {
            let retention = spec
                .retention
                .map(|d| prost_types::Duration { seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX), nanos: 0 });
            match ns.get(&spec.name) {
                None => {
                    let record = NamespaceRecord {
                        name: spec.name.clone(),
                        retention,
                        description: spec.description.clone().unwrap_or_default(),
                        ..Default::default()
                    };
                    match ns.register(record).await {
                        Ok(_) | Err(StoreError::NamespaceExists { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
                Some(mut existing) => {
                    let mut changed = false;
                    if retention.is_some() && existing.retention != retention {
                        existing.retention = retention;
                        changed = true;
                    }
                    if let Some(description) = &spec.description
                        && &existing.description != description
                    {
                        existing.description.clone_from(description);
                        changed = true;
                    }
                    if changed {
                        tracing::info!(namespace = %spec.name, "namespace updated to the configuration");
                        ns.update(existing).await?;
                    }
                }
            }
        }
        Ok(ns)
    }

    /// Custom search attributes registered per namespace.
    pub fn search_attributes(&self) -> &search_attributes::Registry {
        &self.search_attributes
    }

    async fn reload(&self) -> Result<(), StoreError> {
        let all = self.store.list_namespaces().await?;
        let mut map = crate::sync::write(&self.by_name);
        for ns in all {
            map.insert(ns.name.clone(), ns);
        }
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<NamespaceRecord> {
        crate::sync::read(&self.by_name).get(name).cloned()
    }

    pub fn list(&self) -> Vec<NamespaceRecord> {
        let mut all: Vec<_> = crate::sync::read(&self.by_name).values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Replaces a namespace's record (UpdateNamespace).
    pub async fn update(&self, ns: NamespaceRecord) -> Result<NamespaceRecord, StoreError> {
        self.store.update_namespace(ns.clone()).await?;
        crate::sync::write(&self.by_name).insert(ns.name.clone(), ns.clone());
        Ok(ns)
    }

    pub async fn register(&self, mut ns: NamespaceRecord) -> Result<NamespaceRecord, StoreError> {
        if ns.id.is_empty() {
            ns.id = uuid::Uuid::new_v4().to_string();
        }
        if ns.retention.is_none() {
            ns.retention = Some(prost_types::Duration { seconds: DEFAULT_RETENTION_SECS, nanos: 0 });
        }
        self.store.create_namespace(ns.clone()).await?;
        crate::sync::write(&self.by_name).insert(ns.name.clone(), ns.clone());
        Ok(ns)
    }
}
