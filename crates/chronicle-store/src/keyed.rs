//! Records kept one per (namespace, id) with a storage version, written
//! conditionally: batch jobs and worker deployments. Both backends keep
//! each kind in a table of its own (`sqlite/keyed.rs`, `postgres/keyed.rs`).

use crate::{Missing, StoreError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Keyed {
    Batch,
    Deployment,
}

impl Keyed {
    pub(crate) fn table(self) -> &'static str {
        match self {
            Keyed::Batch => "batch_operations",
            Keyed::Deployment => "worker_deployments",
        }
    }

    pub(crate) fn key_column(self) -> &'static str {
        match self {
            Keyed::Batch => "job_id",
            Keyed::Deployment => "name",
        }
    }

    pub(crate) fn exists(self, namespace: &str, id: &str) -> StoreError {
        let (namespace, id) = (namespace.to_string(), id.to_string());
        match self {
            Keyed::Batch => StoreError::BatchExists { namespace, job_id: id },
            Keyed::Deployment => StoreError::DeploymentExists { namespace, name: id },
        }
    }

    pub(crate) fn missing(self, namespace: &str, id: &str) -> Missing {
        let (namespace, id) = (namespace.to_string(), id.to_string());
        match self {
            Keyed::Batch => Missing::Batch { namespace, job_id: id },
            Keyed::Deployment => Missing::Deployment { namespace, name: id },
        }
    }

    pub(crate) fn conflict(self, id: &str) -> StoreError {
        let what = match self {
            Keyed::Batch => "batch operation",
            Keyed::Deployment => "worker deployment",
        };
        StoreError::Conflict(format!("{what} {id} changed concurrently"))
    }
}

/// One conditional write: `expected_version` 0 inserts; otherwise the
/// stored row must be at that version, and is replaced by `record`
/// (its new version and bytes) or, with none, deleted.
#[derive(Clone, Debug)]
pub(crate) struct KeyedWrite {
    pub kind: Keyed,
    pub namespace: String,
    pub id: String,
    pub expected_version: i64,
    pub record: Option<(i64, Vec<u8>)>,
}
