//! System, cluster and namespace RPCs.

use super::Frontend;
use crate::errors;
use crate::namespaces::{invalid_retention, valid_name};
use chronicle_engine::api::{
    enums::v1::{ArchivalState, NamespaceState},
    namespace::v1::{NamespaceConfig, NamespaceInfo, namespace_info},
    replication::v1::{ClusterReplicationConfig, NamespaceReplicationConfig},
    workflowservice::v1::{get_system_info_response::Capabilities, *},
};
use chronicle_engine::limits;
use chronicle_store::{NamespaceRecord, StoreError};
use tonic::Status;

pub const SERVER_VERSION: &str = env!("CARGO_PKG_VERSION");
const CLUSTER_NAME: &str = "active";
/// Temporal's message for a retention it refuses (negative, or under an hour).
const INVALID_RETENTION: &str = "A valid retention period is not set on request.";

impl Frontend {
    pub(super) fn system_info(&self, _: GetSystemInfoRequest) -> Result<GetSystemInfoResponse, Status> {
        // Only what Chronicle really does: SDK metadata is stored on
        // WorkflowTaskCompleted, failures are stored verbatim, the last
        // heartbeat details of a failed activity are kept, and workers'
        // build-id stamps are recorded as Temporal records them (versioned
        // routing itself, `use_versioning`, is refused as unimplemented).
        // Signal and query headers reach the worker, memo is upserted,
        // schedules run, counts group by status, and eager workflow start
        // follows its dynamic-config switch. Nexus is not built.
        Ok(GetSystemInfoResponse {
            server_version: SERVER_VERSION.to_string(),
            capabilities: Some(Capabilities {
                signal_and_query_header: true,
                sdk_metadata: true,
                encoded_failure_attributes: true,
                activity_failure_include_heartbeat: true,
                internal_error_differentiation: true,
                build_id_based_versioning: true,
                supports_schedules: true,
                upsert_memo: true,
                count_group_by_execution_status: true,
                eager_workflow_start: self.history.limits().eager_workflow_start,
                ..Default::default()
            }),
        })
    }

    pub(super) fn cluster_info(&self, _: GetClusterInfoRequest) -> Result<GetClusterInfoResponse, Status> {
        Ok(GetClusterInfoResponse {
            server_version: SERVER_VERSION.to_string(),
            cluster_id: "chronicle".to_string(),
            cluster_name: CLUSTER_NAME.to_string(),
            history_shard_count: 1,
            persistence_store: "sqlite".to_string(),
            visibility_store: "sqlite".to_string(),
            initial_failover_version: 1,
            failover_version_increment: 10,
            ..Default::default()
        })
    }

    pub(super) async fn register_ns(&self, r: RegisterNamespaceRequest) -> Result<RegisterNamespaceResponse, Status> {
        if !valid_name(&r.namespace) {
            return Err(errors::invalid(format!(
                "Namespace name '{}' is invalid: use 1-{} letters, digits, '-', '_' or '.'.",
                r.namespace,
                limits::NAMESPACE_NAME_BYTES_MAX
            )));
        }
        if r.workflow_execution_retention_period.as_ref().is_some_and(invalid_retention) {
            return Err(errors::invalid(INVALID_RETENTION));
        }
        let record = NamespaceRecord {
            name: r.namespace.clone(),
            id: String::new(),
            description: r.description,
            owner_email: r.owner_email,
            retention: r.workflow_execution_retention_period.filter(|d| d.seconds > 0 || d.nanos > 0),
            data: r.data.into_iter().collect(),
        };
        match self.namespaces.register(record).await {
            Ok(_) => Ok(RegisterNamespaceResponse {}),
            Err(StoreError::NamespaceExists { .. }) => Err(errors::namespace_exists(&r.namespace)),
            Err(e) => Err(errors::from_store(e)),
        }
    }

    pub(super) async fn describe_ns(&self, r: DescribeNamespaceRequest) -> Result<DescribeNamespaceResponse, Status> {
        let found = if !r.namespace.is_empty() {
            self.namespaces
                .get_fresh(&r.namespace)
                .await
                .map_err(errors::from_store)?
                .ok_or_else(|| errors::namespace_not_found(&r.namespace))?
        } else if !r.id.is_empty() {
            self.namespaces
                .list()
                .into_iter()
                .find(|n| n.id == r.id)
                .ok_or_else(|| errors::not_found(format!("Namespace with id {} is not found.", r.id)))?
        } else {
            return Err(errors::invalid("Namespace not set on request."));
        };
        Ok(describe(found, self.history.limits().eager_workflow_start))
    }

    /// UpdateNamespace: description, owner, data (merged) and retention.
    pub(super) async fn update_ns(&self, r: UpdateNamespaceRequest) -> Result<UpdateNamespaceResponse, Status> {
        let mut ns = self.namespaces.get(&r.namespace).ok_or_else(|| errors::namespace_not_found(&r.namespace))?;
        if let Some(info) = r.update_info {
            if !info.description.is_empty() {
                ns.description = info.description;
            }
            if !info.owner_email.is_empty() {
                ns.owner_email = info.owner_email;
            }
            ns.data.extend(info.data);
        }
        if let Some(d) = r.config.and_then(|c| c.workflow_execution_retention_ttl) {
            if invalid_retention(&d) {
                return Err(errors::invalid(INVALID_RETENTION));
            }
            if d.seconds > 0 || d.nanos > 0 {
                ns.retention = Some(d);
            }
        }
        if r.promote_namespace || r.replication_config.is_some() {
            return Err(Status::unimplemented("Namespace replication is not implemented by Chronicle."));
        }
        let ns = self.namespaces.update(ns).await.map_err(errors::from_store)?;
        let d = describe(ns, self.history.limits().eager_workflow_start);
        Ok(UpdateNamespaceResponse {
            namespace_info: d.namespace_info,
            config: d.config,
            replication_config: d.replication_config,
            failover_version: 0,
            is_global_namespace: false,
        })
    }

    pub(super) fn list_ns(&self, r: ListNamespacesRequest) -> Result<ListNamespacesResponse, Status> {
        let page_size = if r.page_size <= 0 { limits::NAMESPACE_PAGE_DEFAULT } else { r.page_size as usize };
        let start: usize = if r.next_page_token.is_empty() {
            0
        } else {
            std::str::from_utf8(&r.next_page_token)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| errors::invalid("Invalid next_page_token."))?
        };
        let all = self.namespaces.list();
        let eager = self.history.limits().eager_workflow_start;
        let end = (start + page_size).min(all.len());
        let namespaces = all.get(start..end).unwrap_or_default().iter().map(|ns| describe(ns.clone(), eager)).collect();
        let next_page_token = if end < all.len() { end.to_string().into_bytes() } else { Vec::new() };
        Ok(ListNamespacesResponse { namespaces, next_page_token })
    }
}

/// A namespace as DescribeNamespace shows it; its capabilities tell SDKs
/// what they may ask of it (updates are always on).
fn describe(ns: NamespaceRecord, eager_workflow_start: bool) -> DescribeNamespaceResponse {
    DescribeNamespaceResponse {
        namespace_info: Some(NamespaceInfo {
            name: ns.name,
            state: NamespaceState::Registered as i32,
            description: ns.description,
            owner_email: ns.owner_email,
            data: ns.data.into_iter().collect(),
            id: ns.id,
            capabilities: Some(namespace_info::Capabilities {
                eager_workflow_start,
                sync_update: true,
                async_update: true,
                ..Default::default()
            }),
            ..Default::default()
        }),
        config: Some(NamespaceConfig {
            workflow_execution_retention_ttl: ns.retention,
            history_archival_state: ArchivalState::Disabled as i32,
            visibility_archival_state: ArchivalState::Disabled as i32,
            ..Default::default()
        }),
        replication_config: Some(NamespaceReplicationConfig {
            active_cluster_name: CLUSTER_NAME.to_string(),
            clusters: vec![ClusterReplicationConfig { cluster_name: CLUSTER_NAME.to_string(), ..Default::default() }],
            state: 0,
        }),
        ..Default::default()
    }
}
