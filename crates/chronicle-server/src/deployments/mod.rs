//! Worker deployments (worker versioning): each deployment's versions, the
//! task queues each version's workers poll, and the deployment's routing
//! (current and ramping version). A version is registered by the first
//! poll of one of its workers; routing changes come from the deployment
//! RPCs (`frontend/deployments.rs`). Records live in the store
//! (`DeploymentStore`), written conditionally on their version; each node
//! keeps a copy, re-read every `REFRESH_EVERY` (another node may have
//! changed one), from which matching's route table is built (`routes.rs`).

pub mod routes;

use crate::clock::Clock;
use crate::errors;
use crate::matching::Matching;
use chronicle_engine::api::deployment::v1::{
    RoutingConfig, WorkerDeploymentInfo, WorkerDeploymentOptions, WorkerDeploymentVersion, WorkerDeploymentVersionInfo,
    worker_deployment_version_info::VersionTaskQueueInfo,
};
use chronicle_engine::api::enums::v1::{
    TaskQueueType, VersionDrainageStatus, WorkerDeploymentVersionStatus, WorkerVersioningMode,
};
use chronicle_engine::versioning::{version_key, version_string};
use chronicle_store::{DeploymentRecord, Store, StoreError};
use routes::{Route, RouteTable};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use tonic::Status;

/// How often a node re-reads every deployment (changes made on another
/// node reach its queues within this).
const REFRESH_EVERY: Duration = Duration::from_secs(2);

/// Conditional writes retried this often on a conflict before giving up.
const WRITE_TRIES: usize = 10;

/// The deprecated API's name for "no version".
pub const UNVERSIONED: &str = "__unversioned__";

type Key = (String, String);

pub struct Deployments {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    matching: Arc<Matching>,
    /// Drainage checks and how long pollers count (`Limits`).
    drainage_grace: Duration,
    drainage_refresh: Duration,
    pollers_seen_for: Duration,
    records: Mutex<HashMap<Key, DeploymentRecord>>,
    /// (namespace, "name:build") → last poll by one of its workers.
    polled: Mutex<HashMap<Key, Instant>>,
    /// In a cluster: tells the other nodes to read the records again after
    /// a change, so their queues route by it before the change is answered.
    announcer: crate::namespaces::Announcer,
}

/// What a change to a record decided: write it (and answer), or leave it.
pub enum Change<T> {
    Write(T),
    Keep(T),
}

impl Deployments {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        matching: Arc<Matching>,
        limits: &chronicle_engine::Limits,
    ) -> Arc<Self> {
        let ms = |n: i64| Duration::from_millis(u64::try_from(n).unwrap_or(0));
        Arc::new(Deployments {
            store,
            clock,
            matching,
            drainage_grace: ms(limits.version_drainage_grace_ms),
            drainage_refresh: ms(limits.version_drainage_refresh_ms),
            pollers_seen_for: ms(limits.poller_history_ttl_ms),
            records: Default::default(),
            polled: Default::default(),
            announcer: Default::default(),
        })
    }

    /// Reads every deployment now, and again every `REFRESH_EVERY`.
    pub async fn start(self: &Arc<Self>) {
        self.refresh().await;
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(REFRESH_EVERY).await;
                let Some(me) = me.upgrade() else { return };
                me.refresh().await;
                me.check_drainage().await;
            }
        });
    }

    pub fn announcer(&self) -> &crate::namespaces::Announcer {
        &self.announcer
    }

    /// Reads every deployment again and routes by what it read.
    pub async fn refresh(&self) {
        match self.store.list_deployments(None).await {
            Ok(all) => {
                let mut records = crate::sync::lock(&self.records);
                let mut read: HashMap<Key, DeploymentRecord> =
                    all.into_iter().map(|r| ((r.namespace.clone(), r.name.clone()), r)).collect();
                // A write of this node that landed after the read began wins.
                for (key, held) in records.drain() {
                    if read.get(&key).is_some_and(|r| r.version < held.version) {
                        read.insert(key, held);
                    }
                }
                *records = read;
                drop(records);
                self.publish_routes();
            }
            Err(e) => tracing::warn!(error = %e, "could not read worker deployments"),
        }
    }

    /// Rebuilds matching's route table from the records held.
    fn publish_routes(&self) {
        let records = crate::sync::lock(&self.records);
        let mut table = RouteTable::new();
        for record in records.values() {
            let routing = record.info.as_ref().and_then(|i| i.routing_config.clone()).unwrap_or_default();
            let current = routing.current_deployment_version.as_ref().map(version_key);
            let ramping = (routing.ramping_deployment_version.is_some() || routing.ramping_version_percentage > 0.0)
                .then(|| routing.ramping_deployment_version.as_ref().map(version_key));
            for version in &record.versions {
                let Some(v) = &version.deployment_version else { continue };
                for tq in &version.task_queue_infos {
                    let activity = tq.r#type == TaskQueueType::Activity as i32;
                    let key = (record.namespace.clone(), tq.name.clone(), activity);
                    let route = table.entry(key).or_insert_with(|| {
                        Arc::new(Route {
                            current: current.clone(),
                            ramping: ramping.clone(),
                            ramp_percentage: routing.ramping_version_percentage,
                            revision: routing.revision_number,
                            ..Default::default()
                        })
                    });
                    Arc::make_mut(route).members.insert(version_key(v));
                }
            }
        }
        drop(records);
        self.matching.set_routes(table);
    }

    /// A deployment as held (None: no such deployment).
    pub fn get(&self, namespace: &str, name: &str) -> Option<DeploymentRecord> {
        crate::sync::lock(&self.records).get(&(namespace.to_string(), name.to_string())).cloned()
    }

    /// Every deployment of a namespace, by name.
    pub fn list(&self, namespace: &str) -> Vec<DeploymentRecord> {
        let records = crate::sync::lock(&self.records);
        let mut out: Vec<_> = records.values().filter(|r| r.namespace == namespace).cloned().collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Reads a deployment from the store (the copy held may be stale).
    pub async fn load(&self, namespace: &str, name: &str) -> Result<Option<DeploymentRecord>, Status> {
        let record = self.store.load_deployment(namespace, name).await.map_err(errors::from_store)?;
        let key = (namespace.to_string(), name.to_string());
        let mut records = crate::sync::lock(&self.records);
        match &record {
            Some(r) => records.insert(key, r.clone()),
            None => records.remove(&key),
        };
        Ok(record)
    }

    /// Read-modify-write of one deployment, retried on conflicts: `change`
    /// sees the stored record (a new, empty one when absent if `create`;
    /// else NotFound) and the time, and says whether to write it.
    pub async fn modify<T>(
        &self,
        namespace: &str,
        name: &str,
        create: bool,
        mut change: impl FnMut(&mut DeploymentRecord, prost_types::Timestamp) -> Result<Change<T>, Status>,
    ) -> Result<T, Status> {
        for _ in 0..WRITE_TRIES {
            let now = self.clock.timestamp();
            let stored = self.load(namespace, name).await?;
            let expected = stored.as_ref().map_or(0, |r| r.version);
            let mut record = match stored {
                Some(r) => r,
                None if create => new_record(namespace, name, now),
                None => return Err(errors::not_found(errors::deployment_not_found(name))),
            };
            let answer = match change(&mut record, now)? {
                Change::Keep(answer) => return Ok(answer),
                Change::Write(answer) => answer,
            };
            record.version = expected + 1;
            match self.store.write_deployment(record.clone(), expected).await {
                Ok(()) => {
                    crate::sync::lock(&self.records).insert((namespace.to_string(), name.to_string()), record);
                    self.publish_routes();
                    self.announcer.changed().await;
                    return Ok(answer);
                }
                Err(StoreError::Conflict(_) | StoreError::DeploymentExists { .. }) => continue,
                Err(e) => return Err(errors::from_store(e)),
            }
        }
        Err(Status::resource_exhausted(format!(
            "too many requests issued to Worker Deployment '{name}'. Please try again later"
        )))
    }

    /// Deletes a deployment as read at `version`.
    pub async fn delete(&self, namespace: &str, name: &str, version: i64) -> Result<(), Status> {
        self.store.delete_deployment(namespace, name, version).await.map_err(errors::from_store)?;
        crate::sync::lock(&self.records).remove(&(namespace.to_string(), name.to_string()));
        self.publish_routes();
        self.announcer.changed().await;
        Ok(())
    }

    /// A worker's poll: its version ("name:build"), or None if it is
    /// unversioned; a versioned worker's first poll of a queue registers
    /// the version (and the deployment) with the queue.
    pub async fn poller_version(
        &self,
        namespace: &str,
        options: Option<&WorkerDeploymentOptions>,
        queue: &str,
        kind: TaskQueueType,
        sticky: bool,
    ) -> Result<Option<String>, Status> {
        let Some(o) = options.filter(|o| o.worker_versioning_mode == WorkerVersioningMode::Versioned as i32) else {
            return Ok(None);
        };
        check_version(o)?;
        let version =
            WorkerDeploymentVersion { deployment_name: o.deployment_name.clone(), build_id: o.build_id.clone() };
        let key = version_key(&version);
        crate::sync::lock(&self.polled).insert((namespace.to_string(), key.clone()), Instant::now());
        if sticky || self.registered(namespace, &version, queue, kind) {
            return Ok(Some(key));
        }
        self.modify(namespace, &o.deployment_name, true, |record, now| {
            let info = add_version(record, &version, now);
            let known = info.task_queue_infos.iter().any(|t| t.name == queue && t.r#type == kind as i32);
            if known {
                return Ok(Change::Keep(()));
            }
            info.task_queue_infos.push(VersionTaskQueueInfo { name: queue.to_string(), r#type: kind as i32 });
            Ok(Change::Write(()))
        })
        .await?;
        Ok(Some(key))
    }

    fn registered(&self, namespace: &str, version: &WorkerDeploymentVersion, queue: &str, kind: TaskQueueType) -> bool {
        let records = crate::sync::lock(&self.records);
        records.get(&(namespace.to_string(), version.deployment_name.clone())).is_some_and(|r| {
            r.versions.iter().any(|v| {
                v.deployment_version.as_ref() == Some(version)
                    && v.task_queue_infos.iter().any(|t| t.name == queue && t.r#type == kind as i32)
            })
        })
    }

    /// Whether a version's workers polled lately (`matching.PollerHistoryTTL`).
    pub fn has_pollers(&self, namespace: &str, version: &WorkerDeploymentVersion) -> bool {
        crate::sync::lock(&self.polled)
            .get(&(namespace.to_string(), version_key(version)))
            .is_some_and(|at| at.elapsed() < self.pollers_seen_for)
    }

    /// Draining versions whose check is due: a version no running workflow
    /// is pinned to any more is drained (as Temporal counts them, through
    /// visibility); otherwise the check is noted and comes again after
    /// `drainage_refresh`.
    async fn check_drainage(&self) {
        let now = self.clock.timestamp();
        let due: Vec<(String, String, WorkerDeploymentVersion)> = crate::sync::lock(&self.records)
            .values()
            .flat_map(|r| {
                r.versions
                    .iter()
                    .filter(|v| self.drainage_due(v, &now))
                    .filter_map(|v| Some((r.namespace.clone(), r.name.clone(), v.deployment_version.clone()?)))
            })
            .collect();
        for (namespace, name, version) in due {
            let query = format!(
                "TemporalWorkerDeploymentVersion = '{}' AND TemporalWorkflowVersioningBehavior = 'Pinned' AND ExecutionStatus = 'Running'",
                version_key(&version).replace('\'', "''")
            );
            let Ok(query) = crate::visibility::parse(&query, &Default::default()) else { continue };
            let pinned = match self.store.count_runs(&namespace, &query).await {
                Ok(count) => count.count,
                Err(e) => {
                    tracing::warn!(error = %e, "could not count a draining version's workflows");
                    continue;
                }
            };
            let checked = self
                .modify(&namespace, &name, false, |record, now| {
                    let grace = self.drainage_grace;
                    let refresh = self.drainage_refresh;
                    let Some(info) =
                        record.versions.iter_mut().find(|v| v.deployment_version.as_ref() == Some(&version))
                    else {
                        return Ok(Change::Keep(()));
                    };
                    if !due_at(info, &now, grace, refresh) {
                        return Ok(Change::Keep(()));
                    }
                    let drainage = info.drainage_info.get_or_insert_with(Default::default);
                    drainage.last_checked_time = Some(now);
                    if pinned == 0 {
                        drainage.status = VersionDrainageStatus::Drained as i32;
                        drainage.last_changed_time = Some(now);
                        info.status = WorkerDeploymentVersionStatus::Drained as i32;
                    }
                    Ok(Change::Write(()))
                })
                .await;
            if let Err(e) = checked {
                tracing::debug!(error = %e, "could not note a drainage check");
            }
        }
    }

    fn drainage_due(&self, v: &WorkerDeploymentVersionInfo, now: &prost_types::Timestamp) -> bool {
        due_at(v, now, self.drainage_grace, self.drainage_refresh)
    }
}

/// Whether a draining version's check is due: `grace` after it stopped
/// being current or ramping, then every `refresh`.
fn due_at(v: &WorkerDeploymentVersionInfo, now: &prost_types::Timestamp, grace: Duration, refresh: Duration) -> bool {
    let Some(drainage) = v.drainage_info.as_ref().filter(|d| d.status == VersionDrainageStatus::Draining as i32) else {
        return false;
    };
    let elapsed = |t: Option<prost_types::Timestamp>| {
        t.map(|t| chronicle_engine::time::since(now, &t)).map_or(Duration::MAX, |d| {
            Duration::new(u64::try_from(d.seconds).unwrap_or(0), u32::try_from(d.nanos).unwrap_or(0))
        })
    };
    let since_change = elapsed(drainage.last_changed_time);
    let since_check = elapsed(drainage.last_checked_time);
    since_change >= grace && (since_check >= refresh || drainage.last_checked_time == drainage.last_changed_time)
}

fn new_record(namespace: &str, name: &str, now: prost_types::Timestamp) -> DeploymentRecord {
    DeploymentRecord {
        namespace: namespace.to_string(),
        name: name.to_string(),
        version: 0,
        info: Some(WorkerDeploymentInfo {
            name: name.to_string(),
            create_time: Some(now),
            routing_config: Some(RoutingConfig { current_version: UNVERSIONED.to_string(), ..Default::default() }),
            ..Default::default()
        }),
        versions: Vec::new(),
        conflict_token: conflict_token(&now),
    }
}

/// A new conflict token: the time of the change.
pub fn conflict_token(now: &prost_types::Timestamp) -> Vec<u8> {
    let mut token = now.seconds.to_be_bytes().to_vec();
    token.extend(now.nanos.to_be_bytes());
    token
}

/// The version's entry in the record, added (inactive) if absent.
pub fn add_version<'a>(
    record: &'a mut DeploymentRecord,
    version: &WorkerDeploymentVersion,
    now: prost_types::Timestamp,
) -> &'a mut WorkerDeploymentVersionInfo {
    let at = match record.versions.iter().position(|v| v.deployment_version.as_ref() == Some(version)) {
        Some(at) => at,
        None => {
            record.versions.push(WorkerDeploymentVersionInfo {
                version: version_string(version),
                status: WorkerDeploymentVersionStatus::Inactive as i32,
                deployment_version: Some(version.clone()),
                create_time: Some(now),
                ..Default::default()
            });
            record.versions.len() - 1
        }
    };
    &mut record.versions[at]
}

/// A versioned worker's deployment and build id, checked as Temporal does.
fn check_version(o: &WorkerDeploymentOptions) -> Result<(), Status> {
    if o.deployment_name.is_empty() {
        return Err(errors::invalid("versioned worker must have deployment name"));
    }
    if o.build_id.is_empty() {
        return Err(errors::invalid("versioned worker must have build id"));
    }
    check_names(&o.deployment_name, &o.build_id)
}

/// Deployment names and build ids as Temporal allows them.
pub fn check_names(name: &str, build_id: &str) -> Result<(), Status> {
    if name.contains('.') || name.contains(':') {
        return Err(errors::invalid("deployment name cannot contain ':' or '.'"));
    }
    for (what, value) in [("WorkerDeploymentName", name), ("BuildID", build_id)] {
        if value.starts_with("__") {
            return Err(errors::invalid(format!("{what} cannot start with '__'")));
        }
        if value.len() > (chronicle_engine::limits::ID_BYTES_MAX - 39) / 2 {
            return Err(errors::invalid(format!("size of {what} larger than the maximum allowed")));
        }
    }
    Ok(())
}
