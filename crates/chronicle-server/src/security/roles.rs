//! Roles and the rules that decide a call, after Temporal's default
//! authorizer: read-only calls need `reader`, other namespace calls
//! `worker`, operator and namespace-management calls `admin`; a grant in
//! namespace `*` holds in every namespace and for calls that name none.
//! (One difference: Temporal lets a system-wide writer call operator APIs;
//! here only `admin` may.)

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Describe, list, count, query, read histories.
    Reader,
    /// Also start, signal, cancel, terminate, update workflows, manage
    /// schedules, poll and complete tasks (Temporal's writer and worker).
    Worker,
    /// Also operator calls and namespace management.
    Admin,
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "reader" => Ok(Role::Reader),
            "worker" => Ok(Role::Worker),
            "admin" => Ok(Role::Admin),
            other => Err(format!("unknown role {other:?}: expected reader, worker or admin")),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Reader => "reader",
            Role::Worker => "worker",
            Role::Admin => "admin",
        })
    }
}

/// What a credential grants: a role in every namespace (`*`) and roles in
/// named ones; the higher applies.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Claims {
    pub system: Option<Role>,
    pub namespaces: HashMap<String, Role>,
}

impl Claims {
    pub fn all(role: Role) -> Self {
        Claims { system: Some(role), namespaces: HashMap::new() }
    }

    pub fn grant(&mut self, namespace: &str, role: Role) {
        if namespace == "*" {
            self.system = self.system.max(Some(role));
        } else {
            let held = self.namespaces.entry(namespace.to_string()).or_insert(role);
            *held = (*held).max(role);
        }
    }

    /// The role that holds in `namespace`.
    pub fn role_in(&self, namespace: &str) -> Option<Role> {
        self.system.max(self.namespaces.get(namespace).copied())
    }
}

/// Calls anyone may make, with or without credentials (health checks).
pub fn is_open(service: &str, method: &str) -> bool {
    service == "WorkflowService" && method == "GetSystemInfo"
}

/// Temporal's read-only namespace calls.
fn is_read_only_namespace_call(method: &str) -> bool {
    matches!(
        method,
        "DescribeNamespace"
            | "GetWorkflowExecutionHistory"
            | "GetWorkflowExecutionHistoryReverse"
            | "ListOpenWorkflowExecutions"
            | "ListClosedWorkflowExecutions"
            | "ListWorkflowExecutions"
            | "ListArchivedWorkflowExecutions"
            | "ScanWorkflowExecutions"
            | "CountWorkflowExecutions"
            | "QueryWorkflow"
            | "DescribeWorkflowExecution"
            | "DescribeTaskQueue"
            | "ListTaskQueuePartitions"
            | "DescribeSchedule"
            | "ListSchedules"
            | "ListScheduleMatchingTimes"
            | "DescribeBatchOperation"
            | "ListBatchOperations"
    )
}

/// Temporal's read-only calls that name no namespace.
fn is_read_only_global_call(method: &str) -> bool {
    matches!(method, "ListNamespaces" | "GetSearchAttributes" | "GetClusterInfo")
}

/// Calls that change the server's set-up rather than workflows.
fn is_admin_call(service: &str, method: &str) -> bool {
    service != "WorkflowService"
        || matches!(method, "RegisterNamespace" | "UpdateNamespace" | "DeprecateNamespace" | "DeleteNamespace")
}

/// Whether `claims` allow `service/method` on `namespace` (None or empty:
/// the call names no namespace, and only a `*` grant can allow it).
pub fn allows(claims: &Claims, service: &str, method: &str, namespace: Option<&str>) -> bool {
    if is_open(service, method) {
        return true;
    }
    let read_only = is_read_only_namespace_call(method) || is_read_only_global_call(method);
    let needed = if is_admin_call(service, method) {
        Role::Admin
    } else if read_only {
        Role::Reader
    } else {
        Role::Worker
    };
    let held = match namespace.filter(|n| !n.is_empty()) {
        Some(namespace) => claims.role_in(namespace),
        None => claims.system,
    };
    held.is_some_and(|role| role >= needed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(grants: &[(&str, Role)]) -> Claims {
        let mut c = Claims::default();
        for (ns, role) in grants {
            c.grant(ns, *role);
        }
        c
    }

    const WF: &str = "WorkflowService";
    const OP: &str = "OperatorService";

    #[test]
    fn a_namespace_worker_works_there_and_nowhere_else() {
        let c = claims(&[("a", Role::Worker)]);
        for method in [
            "StartWorkflowExecution",
            "SignalWorkflowExecution",
            "PollWorkflowTaskQueue",
            "QueryWorkflow",
            "ListWorkflowExecutions",
            "DescribeNamespace",
        ] {
            assert!(allows(&c, WF, method, Some("a")), "{method} in a");
            assert!(!allows(&c, WF, method, Some("b")), "{method} in b");
        }
        assert!(!allows(&c, OP, "AddSearchAttributes", Some("a")), "operator calls need admin");
        assert!(!allows(&c, WF, "UpdateNamespace", Some("a")), "namespace management needs admin");
        assert!(!allows(&c, WF, "ListNamespaces", None), "calls naming no namespace need a * grant");
        assert!(!allows(&c, WF, "RespondActivityTaskCompleted", Some("")), "an empty namespace is none");
        assert!(allows(&c, WF, "GetSystemInfo", None), "health checks are open");
    }

    #[test]
    fn a_reader_only_reads() {
        let c = claims(&[("a", Role::Reader)]);
        assert!(allows(&c, WF, "DescribeWorkflowExecution", Some("a")));
        assert!(allows(&c, WF, "GetWorkflowExecutionHistory", Some("a")));
        assert!(!allows(&c, WF, "StartWorkflowExecution", Some("a")));
        assert!(!allows(&c, WF, "PollActivityTaskQueue", Some("a")));
        assert!(!allows(&c, WF, "TerminateWorkflowExecution", Some("a")));
    }

    #[test]
    fn star_grants_hold_everywhere_and_admin_alone_operates() {
        let reader = claims(&[("*", Role::Reader)]);
        assert!(allows(&reader, WF, "ListNamespaces", None));
        assert!(allows(&reader, WF, "CountWorkflowExecutions", Some("any")));
        assert!(!allows(&reader, WF, "StartWorkflowExecution", Some("any")));
        let worker = claims(&[("*", Role::Worker)]);
        assert!(allows(&worker, WF, "StartWorkflowExecution", Some("any")));
        assert!(!allows(&worker, OP, "ListSearchAttributes", Some("any")));
        let admin = claims(&[("*", Role::Admin)]);
        assert!(allows(&admin, OP, "ListSearchAttributes", Some("any")));
        assert!(allows(&admin, OP, "ListClusters", None));
        assert!(allows(&admin, WF, "RegisterNamespace", Some("new")));
    }

    #[test]
    fn the_higher_grant_applies() {
        let c = claims(&[("a", Role::Admin), ("*", Role::Reader), ("a", Role::Reader)]);
        assert_eq!(c.role_in("a"), Some(Role::Admin));
        assert_eq!(c.role_in("b"), Some(Role::Reader));
        assert!(allows(&c, OP, "AddSearchAttributes", Some("a")));
        assert!(!allows(&c, OP, "AddSearchAttributes", Some("b")));
    }

    #[test]
    fn no_claims_allow_nothing_but_health() {
        let c = Claims::default();
        assert!(!allows(&c, WF, "DescribeNamespace", Some("default")));
        assert!(allows(&c, WF, "GetSystemInfo", None));
    }
}
