//! Namespace registry: cached in memory, persisted in the store, with each
//! namespace's registered custom search attributes.

use crate::search_attributes;
use chronicle_store::{NamespaceRecord, Store, StoreError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

/// Tells the other nodes of a cluster to read namespaces and search
/// attributes again, awaited before a change is answered: a namespace
/// registered or an attribute added through one node is known to all of
/// them when the caller hears back (none is told twice; a node that cannot
/// be reached reads them within its periodic refresh anyway).
pub type Announce = Box<dyn Fn() -> crate::BoxFuture<()> + Send + Sync>;

/// Where changes are announced; empty for a server on its own.
#[derive(Default)]
pub struct Announcer(OnceLock<Announce>);

impl Announcer {
    pub fn set(&self, announce: Announce) {
        let _ = self.0.set(announce);
    }

    pub async fn changed(&self) {
        if let Some(announce) = self.0.get() {
            announce().await;
        }
    }
}

pub struct Namespaces {
    store: Arc<dyn Store>,
    by_name: RwLock<HashMap<String, NamespaceRecord>>,
    search_attributes: search_attributes::Registry,
    /// Set on cluster nodes: a name not cached is read from the store
    /// before it is called unknown (another node may have just made it).
    read_through: AtomicBool,
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
        let ns = Namespaces {
            store,
            by_name: RwLock::new(HashMap::new()),
            search_attributes: registry,
            read_through: AtomicBool::new(false),
        };
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
                        Ok(_) => {}
                        // Another node of a cluster starting at the same
                        // time registered it first: read its record now,
                        // not at the next refresh.
                        Err(StoreError::NamespaceExists { .. }) => ns.reload().await?,
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

    /// Reads namespaces and their search attributes again every `period`
    /// (other cluster nodes register and change them too), as Temporal's
    /// namespace cache refreshes.
    pub fn refresh_every(self: &Arc<Self>, period: std::time::Duration) {
        self.read_through.store(true, Ordering::Relaxed);
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(period).await;
                let Some(namespaces) = me.upgrade() else { return };
                if let Err(e) = namespaces.reload().await {
                    tracing::warn!(error = %e, "could not refresh namespaces");
                }
                if let Err(e) = namespaces.search_attributes.reload().await {
                    tracing::warn!(error = %e, "could not refresh search attributes");
                }
            }
        });
    }

    /// Reads namespaces and search attributes again now (another node
    /// changed them).
    pub async fn refresh(&self) -> Result<(), StoreError> {
        self.reload().await?;
        self.search_attributes.reload().await
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

    /// Like `get`, but on a cluster node a name not cached is looked up in
    /// the store first, as Temporal's namespace registry reads through on a
    /// miss: a worker's first DescribeNamespace may reach a node before its
    /// refresh has seen the namespace.
    pub async fn get_fresh(&self, name: &str) -> Result<Option<NamespaceRecord>, StoreError> {
        if let Some(found) = self.get(name) {
            return Ok(Some(found));
        }
        if !self.read_through.load(Ordering::Relaxed) {
            return Ok(None);
        }
        self.reload().await?;
        Ok(self.get(name))
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
        self.search_attributes.announcer().changed().await;
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
        self.search_attributes.announcer().changed().await;
        Ok(ns)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // in tests, a failed unwrap is a failed test

    use super::*;
    use chronicle_store::{SqliteOptions, SqliteStore};

    /// Two nodes' registries over one store: a namespace one of them
    /// registers is found by the other's read-through at once, before any
    /// periodic refresh; a server alone never reads through.
    #[tokio::test]
    async fn a_cluster_node_reads_a_namespace_it_has_not_cached_yet() {
        let store: Arc<dyn Store> = SqliteStore::open(SqliteOptions { path: None, readers: 1 }).unwrap();
        let a = Namespaces::load(store.clone(), &[]).await.unwrap();
        let b = Arc::new(Namespaces::load(store, &[]).await.unwrap());
        assert!(b.get("default").is_some(), "the second loader sees the first one's default");
        a.register(NamespaceRecord { name: "orders".into(), ..Default::default() }).await.unwrap();
        assert!(b.get("orders").is_none());
        assert!(b.get_fresh("orders").await.unwrap().is_none(), "no read-through off a cluster");
        b.refresh_every(std::time::Duration::from_secs(3600));
        let found = b.get_fresh("orders").await.unwrap().unwrap();
        assert_eq!(found.retention.unwrap().seconds, DEFAULT_RETENTION_SECS);
        assert!(b.get("orders").is_some(), "cached from then on");
        assert!(b.get_fresh("missing").await.unwrap().is_none());
    }
}
