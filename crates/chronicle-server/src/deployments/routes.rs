//! Which pollers of a task queue may take a task, under worker versioning.
//! A queue that belongs to a worker deployment (a version's workers polled
//! it) routes each task to one version, or to unversioned pollers:
//! - a task pinned to a version the queue belongs to goes to that version;
//! - any other task goes to the deployment's ramping version if its
//!   workflow id falls in the ramp (FarmHash Fingerprint32 of the id, as
//!   Temporal, so a workflow lands on the same side every time), else to
//!   the current version; "no version" means unversioned pollers.
//!
//! A queue of no deployment hands any task to any poller. Tasks are routed
//! when they are handed out, not when queued, so a routing change applies
//! to the backlog at once.

use crate::matching::MatchTask;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// A queue's routing, from its deployment's routing config.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Route {
    /// The current version ("name:build"); None: unversioned.
    pub current: Option<String>,
    /// The ramping version, when a ramp is set (None inside: ramping to
    /// unversioned).
    pub ramping: Option<Option<String>>,
    pub ramp_percentage: f32,
    /// The versions whose workers polled this queue.
    pub members: HashSet<String>,
    /// The routing config's revision (each change of current or ramp).
    pub revision: i64,
}

impl Route {
    /// The version a task must go to (None: unversioned pollers).
    pub fn target<'a>(&'a self, task: &'a MatchTask) -> Option<&'a str> {
        if !task.pinned.is_empty() && self.members.contains(&task.pinned) {
            return Some(&task.pinned);
        }
        match &self.ramping {
            Some(ramping) if in_ramp(&task.workflow_id, self.ramp_percentage) => ramping.as_deref(),
            _ => self.current.as_deref(),
        }
    }

    pub fn accepts(&self, task: &MatchTask, poller: Option<&str>) -> bool {
        self.target(task) == poller
    }
}

/// Whether a workflow id falls in a ramp of `percentage`: its fingerprint,
/// scaled to [0, 100), is at most the percentage.
pub fn in_ramp(workflow_id: &str, percentage: f32) -> bool {
    if percentage <= 0.0 {
        return false;
    }
    if percentage >= 100.0 {
        return true;
    }
    let threshold = 100.0 * f64::from(farmhash::fingerprint32(workflow_id.as_bytes())) / 4_294_967_296.0;
    threshold <= f64::from(percentage)
}

/// (namespace, task queue, activity) → route: only queues of a deployment
/// are here.
pub type RouteTable = HashMap<(String, String, bool), Arc<Route>>;

#[cfg(test)]
mod tests {
    use super::*;

    fn task(workflow_id: &str, pinned: &str) -> MatchTask {
        MatchTask { workflow_id: workflow_id.into(), pinned: pinned.into(), ..Default::default() }
    }

    #[test]
    fn pinned_tasks_go_to_their_version_others_to_current_or_ramp() {
        let route = Route {
            current: Some("d:1".into()),
            ramping: None,
            members: ["d:1".to_string(), "d:2".to_string()].into(),
            ..Default::default()
        };
        assert!(route.accepts(&task("a", ""), Some("d:1")));
        assert!(!route.accepts(&task("a", ""), None));
        assert!(route.accepts(&task("a", "d:2"), Some("d:2")));
        assert!(!route.accepts(&task("a", "d:2"), Some("d:1")));
        // Pinned to a version the queue is not in: routed as unpinned.
        assert!(route.accepts(&task("a", "x:9"), Some("d:1")));

        let ramp = |p| Route { ramping: Some(Some("d:2".into())), ramp_percentage: p, ..route.clone() };
        let ids: Vec<String> = (0..1000).map(|i| format!("wf-{i}")).collect();
        let to_ramp = |r: &Route| ids.iter().filter(|id| r.target(&task(id, "")) == Some("d:2")).count();
        assert_eq!(to_ramp(&ramp(0.0)), 0);
        assert_eq!(to_ramp(&ramp(100.0)), 1000);
        let some = to_ramp(&ramp(30.0));
        assert!((220..380).contains(&some), "about 30% ramp: {some}");
        // The same ids stay on the ramp as it grows.
        let r30 = ramp(30.0);
        let r60 = ramp(60.0);
        assert!(
            ids.iter().all(|id| r30.target(&task(id, "")) != Some("d:2") || r60.target(&task(id, "")) == Some("d:2"))
        );
        // Ramping to unversioned.
        let unversioned = Route { ramping: Some(None), ramp_percentage: 100.0, ..route.clone() };
        assert!(unversioned.accepts(&task("a", ""), None));
    }
}
