//! Worker deployment RPCs: describe and list deployments and versions, set
//! the current and ramping version, delete, version metadata, the manager
//! identity; and UpdateWorkflowExecutionOptions (a run's versioning
//! override). Rules and messages are Temporal's (its deployment workflow's
//! checks, in its order).

use super::{Frontend, map_err};
use crate::deployments::{Change, UNVERSIONED, add_version, check_names, conflict_token};
use crate::errors;
use chronicle_engine::Input;
use chronicle_engine::api::deployment::v1::{
    RoutingConfig, VersionDrainageInfo, WorkerDeploymentInfo, WorkerDeploymentVersion, WorkerDeploymentVersionInfo,
    worker_deployment_info::WorkerDeploymentVersionSummary,
};
use chronicle_engine::api::enums::v1::{
    RoutingConfigUpdateState, VersionDrainageStatus, WorkerDeploymentVersionStatus,
};
use chronicle_engine::api::workflowservice::v1::{list_worker_deployments_response::WorkerDeploymentSummary, *};
use chronicle_engine::versioning::{parse_version, version_key, version_string};
use chronicle_store::DeploymentRecord;
use prost_types::Timestamp;
use tonic::Status;

fn conflict_mismatch() -> Status {
    Status::failed_precondition("conflict token mismatch")
}

fn version_not_found(build_id: &str, name: &str) -> Status {
    errors::not_found(format!("build ID '{build_id}' not found in Worker Deployment '{name}'"))
}

fn manager_mismatch(manager: &str, identity: &str) -> Status {
    Status::failed_precondition(format!(
        "ManagerIdentity '{manager}' is set and does not match user identity '{identity}'; to proceed, set your own \
         identity as the ManagerIdentity, remove the ManagerIdentity, or wait for the other client to do so"
    ))
}

fn check_manager(record: &DeploymentRecord, identity: &str) -> Result<(), Status> {
    let manager = record.info.as_ref().map(|i| i.manager_identity.as_str()).unwrap_or_default();
    if !manager.is_empty() && manager != identity {
        return Err(manager_mismatch(manager, identity));
    }
    Ok(())
}

fn check_token(record: &DeploymentRecord, token: &[u8]) -> Result<(), Status> {
    if !token.is_empty() && token != record.conflict_token.as_slice() {
        return Err(conflict_mismatch());
    }
    Ok(())
}

/// A request's version: the message, else the deprecated string.
fn requested_version(
    message: &Option<WorkerDeploymentVersion>,
    deprecated: &str,
) -> Result<WorkerDeploymentVersion, Status> {
    if let Some(v) = message.as_ref().filter(|v| !v.deployment_name.is_empty() || !v.build_id.is_empty()) {
        return Ok(v.clone());
    }
    parse_version(deprecated).ok_or_else(|| {
        errors::invalid(format!(
            "invalid version string {deprecated:?}, expected format is \"<deployment_name>.<build_id>\""
        ))
    })
}

fn routing(record: &DeploymentRecord) -> RoutingConfig {
    record.info.as_ref().and_then(|i| i.routing_config.clone()).unwrap_or_default()
}

fn routing_mut(record: &mut DeploymentRecord) -> &mut RoutingConfig {
    record.info.get_or_insert_with(Default::default).routing_config.get_or_insert_with(Default::default)
}

fn string_of(v: &Option<WorkerDeploymentVersion>) -> String {
    v.as_ref().map(version_string).unwrap_or_else(|| UNVERSIONED.to_string())
}

/// A version leaves current or ramping: it drains.
fn deactivate(record: &mut DeploymentRecord, v: &WorkerDeploymentVersion, now: Timestamp) {
    let info = add_version(record, v, now);
    info.status = WorkerDeploymentVersionStatus::Draining as i32;
    info.current_since_time = None;
    info.ramping_since_time = None;
    info.ramp_percentage = 0.0;
    info.routing_changed_time = Some(now);
    info.last_deactivation_time = Some(now);
    info.drainage_info = Some(VersionDrainageInfo {
        status: VersionDrainageStatus::Draining as i32,
        last_changed_time: Some(now),
        last_checked_time: Some(now),
    });
}

/// A version becomes current or ramping.
fn activate(info: &mut WorkerDeploymentVersionInfo, status: WorkerDeploymentVersionStatus, now: Timestamp) {
    info.status = status as i32;
    info.routing_changed_time = Some(now);
    info.first_activation_time.get_or_insert(now);
    info.last_deactivation_time = None;
    info.drainage_info = None;
}

fn summary(v: &WorkerDeploymentVersionInfo) -> WorkerDeploymentVersionSummary {
    WorkerDeploymentVersionSummary {
        version: v.version.clone(),
        status: v.status,
        deployment_version: v.deployment_version.clone(),
        create_time: v.create_time,
        drainage_status: v.drainage_info.as_ref().map_or(0, |d| d.status),
        drainage_info: v.drainage_info,
        current_since_time: v.current_since_time,
        ramping_since_time: v.ramping_since_time,
        routing_update_time: v.routing_changed_time,
        first_activation_time: v.first_activation_time,
        last_current_time: v.last_current_time,
        last_deactivation_time: v.last_deactivation_time,
        ..Default::default()
    }
}

/// A deployment as DescribeWorkerDeployment shows it: versions newest first.
fn deployment_info(record: &DeploymentRecord) -> WorkerDeploymentInfo {
    let mut versions: Vec<&WorkerDeploymentVersionInfo> = record.versions.iter().collect();
    versions.sort_by_key(|v| std::cmp::Reverse(v.create_time.map(|t| (t.seconds, t.nanos))));
    WorkerDeploymentInfo {
        version_summaries: versions.into_iter().map(summary).collect(),
        routing_config_update_state: RoutingConfigUpdateState::Completed as i32,
        ..record.info.clone().unwrap_or_default()
    }
}

fn find<'a>(record: &'a DeploymentRecord, v: &WorkerDeploymentVersion) -> Option<&'a WorkerDeploymentVersionInfo> {
    record.versions.iter().find(|i| i.deployment_version.as_ref() == Some(v))
}

fn version_of(name: &str, build_id: &str) -> Option<WorkerDeploymentVersion> {
    (!build_id.is_empty())
        .then(|| WorkerDeploymentVersion { deployment_name: name.to_string(), build_id: build_id.to_string() })
}

impl Frontend {
    pub(super) async fn describe_deployment(
        &self,
        r: DescribeWorkerDeploymentRequest,
    ) -> Result<DescribeWorkerDeploymentResponse, Status> {
        self.check_namespace(&r.namespace)?;
        if r.deployment_name.is_empty() {
            return Err(errors::invalid("DeploymentName cannot be empty"));
        }
        let record = self
            .deployments
            .load(&r.namespace, &r.deployment_name)
            .await?
            .ok_or_else(|| errors::not_found(errors::deployment_not_found(&r.deployment_name)))?;
        Ok(DescribeWorkerDeploymentResponse {
            conflict_token: record.conflict_token.clone(),
            worker_deployment_info: Some(deployment_info(&record)),
        })
    }

    pub(super) async fn list_deployments(
        &self,
        r: ListWorkerDeploymentsRequest,
    ) -> Result<ListWorkerDeploymentsResponse, Status> {
        self.check_namespace(&r.namespace)?;
        let all = self.deployments.list(&r.namespace);
        let from = if r.next_page_token.is_empty() {
            0
        } else {
            std::str::from_utf8(&r.next_page_token)
                .ok()
                .and_then(|s| s.parse::<usize>().ok())
                .ok_or_else(|| errors::invalid("Invalid NextPageToken."))?
        };
        let size = if r.page_size <= 0 { 1000 } else { r.page_size as usize };
        let page: Vec<WorkerDeploymentSummary> = all
            .iter()
            .skip(from)
            .take(size)
            .map(|record| {
                let info = deployment_info(record);
                let routing = routing(record);
                let find_summary = |v: &Option<WorkerDeploymentVersion>| {
                    v.as_ref().and_then(|v| {
                        info.version_summaries.iter().find(|s| s.deployment_version.as_ref() == Some(v)).cloned()
                    })
                };
                WorkerDeploymentSummary {
                    name: record.name.clone(),
                    create_time: info.create_time,
                    latest_version_summary: info.version_summaries.first().cloned(),
                    current_version_summary: find_summary(&routing.current_deployment_version),
                    ramping_version_summary: find_summary(&routing.ramping_deployment_version),
                    routing_config: Some(routing),
                }
            })
            .collect();
        let next = from + page.len();
        Ok(ListWorkerDeploymentsResponse {
            next_page_token: if next < all.len() { next.to_string().into_bytes() } else { Vec::new() },
            worker_deployments: page,
        })
    }

    pub(super) async fn set_current_version(
        &self,
        r: SetWorkerDeploymentCurrentVersionRequest,
    ) -> Result<SetWorkerDeploymentCurrentVersionResponse, Status> {
        self.check_namespace(&r.namespace)?;
        let name = r.deployment_name.clone();
        if name.is_empty() {
            return Err(errors::invalid("DeploymentName cannot be empty"));
        }
        let build_id = if r.build_id.is_empty() && !r.version.is_empty() && r.version != UNVERSIONED {
            let v = parse_version(&r.version).filter(|v| v.deployment_name == name).ok_or_else(|| {
                errors::invalid(format!(
                    "invalid version string '{}' does not match deployment name '{name}'",
                    r.version
                ))
            })?;
            v.build_id
        } else {
            r.build_id.clone()
        };
        let target = version_of(&name, &build_id);
        if let Some(v) = &target {
            check_names(&v.deployment_name, &v.build_id)?;
        }
        let stranded =
            if r.ignore_missing_task_queues { false } else { self.strands_tasks(&r.namespace, &name, &target).await };
        self.deployments
            .modify(&r.namespace, &name, r.allow_no_pollers, |record, now| {
                let routing = routing(record);
                let previous = routing.current_deployment_version.clone();
                let last_modifier = record.info.as_ref().map(|i| i.last_modifier_identity.clone()).unwrap_or_default();
                if previous == target && last_modifier == r.identity && !record.versions.is_empty() {
                    return Ok(Change::Keep(SetWorkerDeploymentCurrentVersionResponse {
                        conflict_token: record.conflict_token.clone(),
                        previous_version: string_of(&target),
                        previous_deployment_version: target.clone(),
                    }));
                }
                check_token(record, &r.conflict_token)?;
                if let Some(v) = &target
                    && find(record, v).is_none()
                    && !r.allow_no_pollers
                {
                    return Err(version_not_found(&v.build_id, &name));
                }
                check_manager(record, &r.identity)?;
                if stranded {
                    return Err(Status::failed_precondition(format!(
                        "proposed current version '{}' is missing active task queues from the current version; these \
                         would become unversioned if it is set as the current version",
                        target.as_ref().map(version_key).unwrap_or_default()
                    )));
                }
                if let Some(old) = previous.as_ref().filter(|old| Some(*old) != target.as_ref()) {
                    deactivate(record, old, now);
                }
                let ramping_is_target =
                    routing.ramping_deployment_version.is_some() && routing.ramping_deployment_version == target;
                if let Some(v) = &target {
                    let info = add_version(record, v, now);
                    activate(info, WorkerDeploymentVersionStatus::Current, now);
                    info.current_since_time = Some(now);
                    info.ramping_since_time = None;
                    info.ramp_percentage = 0.0;
                }
                let config = routing_mut(record);
                config.current_deployment_version = target.clone();
                config.current_version = string_of(&target);
                config.current_version_changed_time = Some(now);
                if ramping_is_target {
                    config.ramping_deployment_version = None;
                    config.ramping_version.clear();
                    config.ramping_version_percentage = 0.0;
                    config.ramping_version_changed_time = Some(now);
                    config.ramping_version_percentage_changed_time = Some(now);
                }
                config.revision_number += 1;
                let info = record.info.get_or_insert_with(Default::default);
                info.last_modifier_identity = r.identity.clone();
                record.conflict_token = conflict_token(&now);
                Ok(Change::Write(SetWorkerDeploymentCurrentVersionResponse {
                    conflict_token: record.conflict_token.clone(),
                    previous_version: string_of(&previous),
                    previous_deployment_version: previous,
                }))
            })
            .await
    }

    /// Whether making `target` current would leave tasks behind: a task
    /// queue of the current version that `target`'s workers do not poll
    /// still has tasks waiting (Temporal's "active task queues": with a
    /// backlog; Chronicle does not count add rates).
    async fn strands_tasks(&self, namespace: &str, name: &str, target: &Option<WorkerDeploymentVersion>) -> bool {
        let (Some(record), Some(target)) = (self.deployments.get(namespace, name), target) else { return false };
        let current = routing(&record).current_deployment_version;
        let (Some(old), Some(new)) = (current.and_then(|v| find(&record, &v).cloned()), find(&record, target)) else {
            return false;
        };
        for tq in old.task_queue_infos.iter().filter(|tq| !new.task_queue_infos.contains(tq)) {
            let activity = tq.r#type == chronicle_engine::api::enums::v1::TaskQueueType::Activity as i32;
            let key = crate::matching::QueueKey { namespace: namespace.to_string(), name: tq.name.clone(), activity };
            if self.matching.backlog_count(&key).await > 0 {
                return true;
            }
        }
        false
    }

    pub(super) async fn set_ramping_version(
        &self,
        r: SetWorkerDeploymentRampingVersionRequest,
    ) -> Result<SetWorkerDeploymentRampingVersionResponse, Status> {
        self.check_namespace(&r.namespace)?;
        let name = r.deployment_name.clone();
        if name.is_empty() {
            return Err(errors::invalid("DeploymentName cannot be empty"));
        }
        if !(0.0..=100.0).contains(&r.percentage) {
            return Err(errors::invalid(format!("Percentage must be between 0 and 100, got {}", r.percentage)));
        }
        let build_id = if r.build_id.is_empty() && !r.version.is_empty() && r.version != UNVERSIONED {
            parse_version(&r.version).map(|v| v.build_id).unwrap_or_default()
        } else {
            r.build_id.clone()
        };
        let target = version_of(&name, &build_id);
        // An unversioned target at 0% unsets the ramp.
        let unset = target.is_none() && r.percentage == 0.0;
        self.deployments
            .modify(&r.namespace, &name, r.allow_no_pollers, |record, now| {
                let routing = routing(record);
                let previous = routing.ramping_deployment_version.clone();
                let was_ramping = previous.is_some() || routing.ramping_version_percentage > 0.0;
                let previous_version = if was_ramping { string_of(&previous) } else { String::new() };
                let last_modifier = record.info.as_ref().map(|i| i.last_modifier_identity.clone()).unwrap_or_default();
                let same = if unset {
                    !was_ramping
                } else {
                    was_ramping && previous == target && routing.ramping_version_percentage == r.percentage
                };
                if same && last_modifier == r.identity {
                    return Ok(Change::Keep(SetWorkerDeploymentRampingVersionResponse {
                        conflict_token: record.conflict_token.clone(),
                        previous_version: if unset { String::new() } else { string_of(&target) },
                        previous_deployment_version: target.clone(),
                        previous_percentage: r.percentage,
                    }));
                }
                check_token(record, &r.conflict_token)?;
                if !unset && target == routing.current_deployment_version {
                    return Err(Status::failed_precondition(format!(
                        "requested ramping version {} is already current",
                        string_of(&target)
                    )));
                }
                if let Some(v) = &target
                    && find(record, v).is_none()
                    && !r.allow_no_pollers
                {
                    return Err(version_not_found(&v.build_id, &name));
                }
                check_manager(record, &r.identity)?;
                if let Some(old) = previous.as_ref().filter(|old| unset || Some(*old) != target.as_ref()) {
                    deactivate(record, old, now);
                }
                if let Some(v) = target.as_ref().filter(|_| !unset) {
                    let changed = previous.as_ref() != Some(v);
                    let info = add_version(record, v, now);
                    activate(info, WorkerDeploymentVersionStatus::Ramping, now);
                    if changed || info.ramping_since_time.is_none() {
                        info.ramping_since_time = Some(now);
                    }
                    info.ramp_percentage = r.percentage;
                }
                let config = routing_mut(record);
                if unset {
                    config.ramping_deployment_version = None;
                    config.ramping_version.clear();
                    config.ramping_version_percentage = 0.0;
                } else {
                    if previous != target || !was_ramping {
                        config.ramping_version_changed_time = Some(now);
                    }
                    config.ramping_deployment_version = target.clone();
                    config.ramping_version = string_of(&target);
                    config.ramping_version_percentage = r.percentage;
                }
                config.ramping_version_percentage_changed_time = Some(now);
                config.revision_number += 1;
                let previous_percentage = routing.ramping_version_percentage;
                let info = record.info.get_or_insert_with(Default::default);
                info.last_modifier_identity = r.identity.clone();
                record.conflict_token = conflict_token(&now);
                Ok(Change::Write(SetWorkerDeploymentRampingVersionResponse {
                    conflict_token: record.conflict_token.clone(),
                    previous_version,
                    previous_deployment_version: previous,
                    previous_percentage,
                }))
            })
            .await
    }

    pub(super) async fn describe_deployment_version(
        &self,
        r: DescribeWorkerDeploymentVersionRequest,
    ) -> Result<DescribeWorkerDeploymentVersionResponse, Status> {
        self.check_namespace(&r.namespace)?;
        let v = requested_version(&r.deployment_version, &r.version)?;
        let record = self
            .deployments
            .load(&r.namespace, &v.deployment_name)
            .await?
            .ok_or_else(|| errors::not_found("Worker Deployment Version not found"))?;
        let info = find(&record, &v).cloned().ok_or_else(|| version_not_found(&v.build_id, &v.deployment_name))?;
        let version_task_queues = info
            .task_queue_infos
            .iter()
            .map(|t| describe_worker_deployment_version_response::VersionTaskQueue {
                name: t.name.clone(),
                r#type: t.r#type,
                ..Default::default()
            })
            .collect();
        Ok(DescribeWorkerDeploymentVersionResponse { worker_deployment_version_info: Some(info), version_task_queues })
    }

    pub(super) async fn delete_deployment_version(
        &self,
        r: DeleteWorkerDeploymentVersionRequest,
    ) -> Result<DeleteWorkerDeploymentVersionResponse, Status> {
        self.check_namespace(&r.namespace)?;
        let v = requested_version(&r.deployment_version, &r.version)?;
        if self.deployments.get(&r.namespace, &v.deployment_name).is_none()
            && self.deployments.load(&r.namespace, &v.deployment_name).await?.is_none()
        {
            return Ok(Default::default());
        }
        let has_pollers = self.deployments.has_pollers(&r.namespace, &v);
        let key = version_key(&v);
        let result = self
            .deployments
            .modify(&r.namespace, &v.deployment_name, false, |record, _now| {
                let Some(info) = find(record, &v) else { return Ok(Change::Keep(())) };
                let routing = routing(record);
                if routing.current_deployment_version.as_ref() == Some(&v)
                    || routing.ramping_deployment_version.as_ref() == Some(&v)
                {
                    return Err(Status::failed_precondition(format!(
                        "version '{key}' cannot be deleted since it is current or ramping"
                    )));
                }
                let draining =
                    info.drainage_info.as_ref().is_some_and(|d| d.status == VersionDrainageStatus::Draining as i32);
                if draining && !r.skip_drainage {
                    return Err(Status::failed_precondition(format!(
                        "version '{key}' cannot be deleted since it is draining"
                    )));
                }
                if has_pollers {
                    return Err(Status::failed_precondition(format!(
                        "version '{key}' cannot be deleted since it has active pollers"
                    )));
                }
                check_manager(record, &r.identity)?;
                record.versions.retain(|i| i.deployment_version.as_ref() != Some(&v));
                Ok(Change::Write(()))
            })
            .await;
        match result {
            Err(e) if e.code() == tonic::Code::NotFound => Ok(Default::default()),
            other => other.map(|()| Default::default()),
        }
    }

    pub(super) async fn delete_deployment(
        &self,
        r: DeleteWorkerDeploymentRequest,
    ) -> Result<DeleteWorkerDeploymentResponse, Status> {
        self.check_namespace(&r.namespace)?;
        let Some(record) = self.deployments.load(&r.namespace, &r.deployment_name).await? else {
            return Ok(Default::default());
        };
        if !record.versions.is_empty() {
            return Err(Status::failed_precondition("deployment has versions, can't be deleted"));
        }
        self.deployments.delete(&r.namespace, &r.deployment_name, record.version).await?;
        Ok(Default::default())
    }

    pub(super) async fn update_version_metadata(
        &self,
        r: UpdateWorkerDeploymentVersionMetadataRequest,
    ) -> Result<UpdateWorkerDeploymentVersionMetadataResponse, Status> {
        self.check_namespace(&r.namespace)?;
        let v = requested_version(&r.deployment_version, &r.version)?;
        self.deployments
            .modify(&r.namespace, &v.deployment_name, false, |record, _now| {
                let name = record.name.clone();
                let info = record
                    .versions
                    .iter_mut()
                    .find(|i| i.deployment_version.as_ref() == Some(&v))
                    .ok_or_else(|| version_not_found(&v.build_id, &name))?;
                let metadata = info.metadata.get_or_insert_with(Default::default);
                for (k, p) in &r.upsert_entries {
                    metadata.entries.insert(k.clone(), p.clone());
                }
                for k in &r.remove_entries {
                    metadata.entries.remove(k);
                }
                Ok(Change::Write(UpdateWorkerDeploymentVersionMetadataResponse { metadata: Some(metadata.clone()) }))
            })
            .await
    }

    pub(super) async fn set_manager(
        &self,
        r: SetWorkerDeploymentManagerRequest,
    ) -> Result<SetWorkerDeploymentManagerResponse, Status> {
        use set_worker_deployment_manager_request::NewManagerIdentity;
        self.check_namespace(&r.namespace)?;
        let manager = match &r.new_manager_identity {
            Some(NewManagerIdentity::Self_(true)) => r.identity.clone(),
            Some(NewManagerIdentity::ManagerIdentity(m)) => m.clone(),
            _ => String::new(),
        };
        self.deployments
            .modify(&r.namespace, &r.deployment_name, false, |record, now| {
                let info = record.info.clone().unwrap_or_default();
                if info.manager_identity == manager && info.last_modifier_identity == r.identity {
                    return Ok(Change::Keep(SetWorkerDeploymentManagerResponse {
                        conflict_token: record.conflict_token.clone(),
                        previous_manager_identity: manager.clone(),
                    }));
                }
                check_token(record, &r.conflict_token)?;
                let info = record.info.get_or_insert_with(Default::default);
                let previous = std::mem::replace(&mut info.manager_identity, manager.clone());
                info.last_modifier_identity = r.identity.clone();
                record.conflict_token = conflict_token(&now);
                Ok(Change::Write(SetWorkerDeploymentManagerResponse {
                    conflict_token: record.conflict_token.clone(),
                    previous_manager_identity: previous,
                }))
            })
            .await
    }

    /// UpdateWorkflowExecutionOptions: the versioning override (the one
    /// option of the mask Chronicle keeps).
    pub(super) async fn update_workflow_options(
        &self,
        r: UpdateWorkflowExecutionOptionsRequest,
    ) -> Result<UpdateWorkflowExecutionOptionsResponse, Status> {
        self.check_namespace(&r.namespace)?;
        let execution = r.workflow_execution.clone().unwrap_or_default();
        if execution.workflow_id.is_empty() {
            return Err(errors::invalid("WorkflowId is not set on request."));
        }
        let paths = r.update_mask.as_ref().map(|m| m.paths.clone()).unwrap_or_default();
        if paths.is_empty() {
            return Err(errors::invalid("UpdateMask is not set on request."));
        }
        let mut set_override = false;
        for path in &paths {
            match path.as_str() {
                "versioning_override" | "versioningOverride" => set_override = true,
                other => {
                    return Err(errors::invalid(format!(
                        "error applying update_options: unsupported path {other:?} in update mask"
                    )));
                }
            }
        }
        let options = r.workflow_execution_options.clone().unwrap_or_default();
        if let Some(o) = &options.versioning_override {
            chronicle_engine::versioning::validate_override(o).map_err(errors::invalid)?;
        }
        let run_id = if execution.run_id.is_empty() {
            self.history.current_run_id(&r.namespace, &execution.workflow_id).await.map_err(map_err)?
        } else {
            execution.run_id.clone()
        };
        let state = if set_override {
            let input = Input::UpdateOptions { versioning_override: options.versioning_override, identity: r.identity };
            self.history.execute(&r.namespace, &execution.workflow_id, &run_id, input).await.map_err(map_err)?.state
        } else {
            self.history.load(&r.namespace, &execution.workflow_id, &run_id).await.map_err(map_err)?
        };
        Ok(UpdateWorkflowExecutionOptionsResponse {
            workflow_execution_options: Some(chronicle_engine::api::workflow::v1::WorkflowExecutionOptions {
                versioning_override: state.versioning.and_then(|v| v.versioning_override),
                ..Default::default()
            }),
            update_time: Some(self.history.clock().timestamp()),
        })
    }
}
