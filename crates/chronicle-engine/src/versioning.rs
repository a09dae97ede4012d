//! Worker versioning: which worker deployment version a run is on, with
//! which behaviour, and the version its tasks are pinned to. A run takes
//! the version and behaviour of the worker that completes each workflow
//! task; a versioning override (at start, or UpdateWorkflowExecutionOptions)
//! takes precedence. Routing by version is the server's (matching); the
//! engine says only which version, if any, a task must go to.

use crate::api::deployment::v1::{WorkerDeploymentOptions, WorkerDeploymentVersion};
use crate::api::enums::v1::{VersioningBehavior, WorkerVersioningMode};
use crate::api::workflow::v1::{
    VersioningOverride, WorkflowExecutionVersioningInfo,
    versioning_override::{Override, PinnedOverrideBehavior},
};
use crate::state::MutableState;

/// "name:build": the form of search attributes, error messages and the
/// server's routing keys.
pub fn version_key(v: &WorkerDeploymentVersion) -> String {
    format!("{}:{}", v.deployment_name, v.build_id)
}

/// "name.build": the form of the API's deprecated string fields.
pub fn version_string(v: &WorkerDeploymentVersion) -> String {
    format!("{}.{}", v.deployment_name, v.build_id)
}

/// Parses "name.build" or "name:build" (split at the first of either).
pub fn parse_version(s: &str) -> Option<WorkerDeploymentVersion> {
    let at = s.find(['.', ':'])?;
    let (name, build) = (&s[..at], &s[at + 1..]);
    (!name.is_empty() && !build.is_empty())
        .then(|| WorkerDeploymentVersion { deployment_name: name.to_string(), build_id: build.to_string() })
}

/// The version a pinned override names: its `pinned.version`, else the
/// deprecated `pinned_version` string.
fn override_pinned_version(o: &VersioningOverride) -> Option<WorkerDeploymentVersion> {
    match &o.r#override {
        Some(Override::Pinned(p)) => p.version.clone(),
        Some(_) => None,
        None if o.behavior == VersioningBehavior::Pinned as i32 => parse_version(&o.pinned_version),
        None => None,
    }
}

/// Whether an override pins (new form or deprecated behaviour).
fn override_pins(o: &VersioningOverride) -> bool {
    match &o.r#override {
        Some(Override::Pinned(_)) => true,
        Some(_) => false,
        None => o.behavior == VersioningBehavior::Pinned as i32,
    }
}

fn override_auto_upgrades(o: &VersioningOverride) -> bool {
    match &o.r#override {
        Some(Override::AutoUpgrade(true)) => true,
        Some(_) => false,
        None => o.behavior == VersioningBehavior::AutoUpgrade as i32,
    }
}

/// The behaviour in effect: the override's, else the one the last
/// completing worker declared.
pub fn effective_behavior(info: &WorkflowExecutionVersioningInfo) -> VersioningBehavior {
    match &info.versioning_override {
        Some(o) if override_pins(o) => VersioningBehavior::Pinned,
        Some(o) if override_auto_upgrades(o) => VersioningBehavior::AutoUpgrade,
        _ => VersioningBehavior::try_from(info.behavior).unwrap_or(VersioningBehavior::Unspecified),
    }
}

/// The version in effect: a pinned override's, else the run's own when it
/// has a behaviour (or an auto-upgrade override).
pub fn effective_version(info: &WorkflowExecutionVersioningInfo) -> Option<WorkerDeploymentVersion> {
    if let Some(v) = info.versioning_override.as_ref().filter(|o| override_pins(o)).and_then(override_pinned_version) {
        return Some(v);
    }
    let has_behavior = info.behavior != VersioningBehavior::Unspecified as i32
        || info.versioning_override.as_ref().is_some_and(override_auto_upgrades);
    has_behavior.then(|| info.deployment_version.clone()).flatten()
}

impl MutableState {
    /// The version ("name:build") this run's workflow and activity tasks
    /// must go to, or "" if they follow their queue's routing.
    pub fn pinned_version(&self) -> String {
        match &self.versioning {
            Some(info) if effective_behavior(info) == VersioningBehavior::Pinned => {
                effective_version(info).map(|v| version_key(&v)).unwrap_or_default()
            }
            _ => String::new(),
        }
    }

    /// The version ("name:build") of the worker that last completed a
    /// workflow task of the run (its sticky worker's), "" if unversioned.
    pub fn last_worker_version_key(&self) -> String {
        self.versioning.as_ref().and_then(|i| i.deployment_version.as_ref()).map(version_key).unwrap_or_default()
    }

    /// The version ("name:build") the run is on, whatever its behaviour;
    /// "" when unversioned.
    pub fn deployment_version_key(&self) -> String {
        self.versioning.as_ref().and_then(effective_version).map(|v| version_key(&v)).unwrap_or_default()
    }
}

/// The worker versioning search attributes Temporal keeps: the run's
/// deployment, version ("name:build") and behaviour ("Pinned",
/// "AutoUpgrade"), absent while unversioned, and every version that
/// completed one of its workflow tasks.
pub(crate) fn sync_search_attributes(state: &mut MutableState) {
    use crate::system_attributes::{keyword, keyword_list, set};
    let version = state.versioning.as_ref().and_then(effective_version);
    let behavior = match state.versioning.as_ref().map(effective_behavior) {
        Some(VersioningBehavior::Pinned) => Some("Pinned"),
        Some(VersioningBehavior::AutoUpgrade) => Some("AutoUpgrade"),
        _ => None,
    };
    set(state, "TemporalWorkerDeployment", version.as_ref().map(|v| keyword(&v.deployment_name)));
    set(state, "TemporalWorkerDeploymentVersion", version.as_ref().map(|v| keyword(&version_key(v))));
    set(state, "TemporalWorkflowVersioningBehavior", behavior.map(keyword));
    let used = (!state.used_deployment_versions.is_empty()).then(|| keyword_list(&state.used_deployment_versions));
    set(state, "TemporalUsedWorkerDeploymentVersions", used);
}

/// Marks the run's workflow and activity tasks with the version they are
/// pinned to, as the run stands at the end of a transition (a completion
/// may pin the run after its commands scheduled activities).
pub(crate) fn stamp(state: &MutableState, tasks: &mut [crate::transition::Task]) {
    use crate::transition::Task;
    let pinned = state.pinned_version();
    for task in tasks {
        match task {
            Task::WorkflowTask { pinned: p, .. } => p.clone_from(&pinned),
            Task::ActivityTask(a) => a.pinned.clone_from(&pinned),
            _ => {}
        }
    }
}

/// An override in its current form only (the pinned or auto-upgrade
/// choice, without the deprecated behaviour, version string and
/// deployment), as Temporal keeps it: two requests meaning the same
/// override compare equal.
pub fn normalize_override(o: VersioningOverride) -> VersioningOverride {
    use crate::api::workflow::v1::versioning_override::PinnedOverride;
    let choice = match o.r#override {
        Some(choice) => Some(choice),
        None if o.behavior == VersioningBehavior::Pinned as i32 => Some(Override::Pinned(PinnedOverride {
            behavior: PinnedOverrideBehavior::Pinned as i32,
            version: parse_version(&o.pinned_version).or_else(|| {
                o.deployment.map(|d| WorkerDeploymentVersion { deployment_name: d.series_name, build_id: d.build_id })
            }),
        })),
        None if o.behavior == VersioningBehavior::AutoUpgrade as i32 => Some(Override::AutoUpgrade(true)),
        None => None,
    };
    VersioningOverride { r#override: choice, ..Default::default() }
}

/// Versioning info as DescribeWorkflowExecution shows it: the override
/// also in its deprecated fields (behaviour, "name.build"), for readers
/// of the older API, as Temporal fills them.
pub fn with_deprecated_fields(mut info: WorkflowExecutionVersioningInfo) -> WorkflowExecutionVersioningInfo {
    if let Some(o) = info.versioning_override.as_mut() {
        match &o.r#override {
            Some(Override::Pinned(p)) => {
                o.behavior = VersioningBehavior::Pinned as i32;
                o.pinned_version = p.version.as_ref().map(version_string).unwrap_or_default();
            }
            Some(Override::AutoUpgrade(true)) => o.behavior = VersioningBehavior::AutoUpgrade as i32,
            _ => {}
        }
    }
    info
}

/// A start's override, checked as Temporal checks it.
pub fn validate_override(o: &VersioningOverride) -> Result<(), String> {
    match &o.r#override {
        Some(Override::Pinned(p)) => {
            if p.behavior == PinnedOverrideBehavior::Unspecified as i32 {
                return Err("must specify pinned override behavior if override is pinned.".into());
            }
            if p.version.as_ref().is_none_or(|v| v.deployment_name.is_empty() || v.build_id.is_empty()) {
                return Err("must provide version if override is pinned.".into());
            }
            Ok(())
        }
        Some(_) => Ok(()),
        None if o.behavior == VersioningBehavior::Pinned as i32 => {
            if parse_version(&o.pinned_version).is_none() && o.deployment.is_none() {
                return Err("must provide deployment (deprecated) or pinned version if behavior is 'PINNED'".into());
            }
            Ok(())
        }
        None if o.behavior == VersioningBehavior::Unspecified as i32 => Err("override behavior is required".into()),
        None => Ok(()),
    }
}

/// What a workflow task completion says of its worker: the behaviour it
/// declared and its version, both only if it is a versioned worker (an
/// unversioned one's behaviour is ignored, as Temporal does).
pub(crate) struct Completed {
    pub behavior: i32,
    pub version: Option<WorkerDeploymentVersion>,
    /// The routing revision that sent the task to this worker (0: none).
    pub routing_revision: i64,
}

pub(crate) fn completed_by(behavior: i32, options: Option<&WorkerDeploymentOptions>) -> Completed {
    match options.filter(|o| o.worker_versioning_mode == WorkerVersioningMode::Versioned as i32) {
        Some(o) => Completed {
            behavior,
            version: Some(WorkerDeploymentVersion {
                deployment_name: o.deployment_name.clone(),
                build_id: o.build_id.clone(),
            }),
            routing_revision: 0,
        },
        None => Completed { behavior: VersioningBehavior::Unspecified as i32, version: None, routing_revision: 0 },
    }
}

/// Applies a completion to the run: its behaviour and version (cleared by
/// an unversioned worker), the versions it has used.
pub(crate) fn apply_completed(state: &mut MutableState, done: &Completed) {
    let had_override = state.versioning.as_ref().and_then(|i| i.versioning_override.clone());
    if done.behavior == VersioningBehavior::Unspecified as i32 && had_override.is_none() {
        state.versioning = None;
    } else {
        let info = state.versioning.get_or_insert_with(Default::default);
        if done.behavior == VersioningBehavior::Unspecified as i32 {
            info.behavior = 0;
            info.deployment_version = None;
            info.version.clear();
        } else {
            info.behavior = done.behavior;
            info.deployment_version = done.version.clone();
            info.version = done.version.as_ref().map(version_string).unwrap_or_default();
            if done.routing_revision > 0 {
                info.revision_number = done.routing_revision;
            }
        }
    }
    if let Some(v) = &done.version {
        let key = version_key(v);
        if !state.used_deployment_versions.contains(&key) {
            state.used_deployment_versions.push(key);
        }
    }
}

/// A completion as its event recorded it (rebuilding a run from history).
pub(crate) fn apply_completed_event(
    state: &mut MutableState,
    a: &crate::api::history::v1::WorkflowTaskCompletedEventAttributes,
) {
    let version = a.deployment_version.clone().filter(|_| a.versioning_behavior != 0);
    apply_completed(state, &Completed { behavior: a.versioning_behavior, version, routing_revision: 0 });
}

/// Sets a run's override (None unsets it); true if anything changed.
pub(crate) fn set_override(state: &mut MutableState, o: Option<VersioningOverride>) -> bool {
    let o = o.map(normalize_override);
    let current = state.versioning.as_ref().and_then(|i| i.versioning_override.clone());
    if current == o {
        return false;
    }
    let info = state.versioning.get_or_insert_with(Default::default);
    info.versioning_override = o;
    if *info == WorkflowExecutionVersioningInfo::default() {
        state.versioning = None;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(name: &str, build: &str) -> WorkerDeploymentVersion {
        WorkerDeploymentVersion { deployment_name: name.into(), build_id: build.into() }
    }

    #[test]
    fn version_strings_parse_either_delimiter() {
        assert_eq!(parse_version("dep.b1"), Some(v("dep", "b1")));
        assert_eq!(parse_version("dep:b1.2"), Some(v("dep", "b1.2")));
        assert_eq!(parse_version("dep"), None);
        assert_eq!(parse_version("__unversioned__"), None);
        assert_eq!(version_key(&v("d", "b")), "d:b");
        assert_eq!(version_string(&v("d", "b")), "d.b");
    }

    #[test]
    fn an_override_beats_the_workers_behavior() {
        let mut s = MutableState::default();
        let versioned = WorkerDeploymentOptions {
            deployment_name: "d".into(),
            build_id: "1".into(),
            worker_versioning_mode: WorkerVersioningMode::Versioned as i32,
        };
        apply_completed(&mut s, &completed_by(VersioningBehavior::AutoUpgrade as i32, Some(&versioned)));
        assert_eq!(s.pinned_version(), "");
        assert_eq!(s.deployment_version_key(), "d:1");
        apply_completed(&mut s, &completed_by(VersioningBehavior::Pinned as i32, Some(&versioned)));
        assert_eq!(s.pinned_version(), "d:1");
        let pin2 = VersioningOverride {
            r#override: Some(Override::Pinned(crate::api::workflow::v1::versioning_override::PinnedOverride {
                behavior: PinnedOverrideBehavior::Pinned as i32,
                version: Some(v("d", "2")),
            })),
            ..Default::default()
        };
        assert!(set_override(&mut s, Some(pin2.clone())));
        assert!(!set_override(&mut s, Some(pin2)));
        assert_eq!(s.pinned_version(), "d:2");
        assert!(set_override(&mut s, None));
        assert_eq!(s.pinned_version(), "d:1");
        // An unversioned worker's behaviour does not count.
        let unversioned =
            WorkerDeploymentOptions { worker_versioning_mode: WorkerVersioningMode::Unversioned as i32, ..versioned };
        apply_completed(&mut s, &completed_by(VersioningBehavior::Pinned as i32, Some(&unversioned)));
        assert_eq!(s.versioning, None);
        assert_eq!(s.used_deployment_versions, ["d:1"]);
    }
}
