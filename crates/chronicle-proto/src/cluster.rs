//! The messages of Chronicle's node-to-node service (`clusterservice`),
//! written by hand as prost messages: there is no .proto file to compile,
//! and Temporal's own messages are embedded as they are.
//!
//! Tags are the wire format between nodes of one cluster, which may run
//! different builds during a rolling upgrade: never reuse or renumber a
//! tag, only add new ones.
//!
//! Durations (timeouts) travel as `google.protobuf.Duration`, the type the
//! engine already holds them in; nothing is converted.

use prost_types::Duration;
use temporalio_protos::temporal::api::{
    common::v1::{
        Header, Memo, Payloads, Priority, RetryPolicy, SearchAttributes, WorkerVersionStamp, WorkflowExecution,
    },
    enums::v1::ContinueAsNewInitiator,
    enums::v1::{WorkflowIdConflictPolicy, WorkflowIdReusePolicy},
    failure::v1::Failure,
    sdk::v1::UserMetadata,
    workflow::v1::ResetPoints,
    workflowservice::v1::{PollActivityTaskQueueResponse, PollWorkflowTaskQueueResponse},
};

/// A run: where an input is applied.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RunKey {
    #[prost(string, tag = "1")]
    pub namespace: String,
    #[prost(string, tag = "2")]
    pub workflow_id: String,
    #[prost(string, tag = "3")]
    pub run_id: String,
}

/// A task queue (workflow or activity).
#[derive(Clone, PartialEq, prost::Message)]
pub struct QueueRef {
    #[prost(string, tag = "1")]
    pub namespace: String,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(bool, tag = "3")]
    pub activity: bool,
}

/// A task waiting in a queue: the run and the attempt it is for.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TaskRef {
    #[prost(string, tag = "1")]
    pub namespace: String,
    #[prost(string, tag = "2")]
    pub workflow_id: String,
    #[prost(string, tag = "3")]
    pub run_id: String,
    #[prost(int64, tag = "4")]
    pub scheduled_event_id: i64,
    #[prost(int32, tag = "5")]
    pub attempt: i32,
    /// Non-zero for a query task.
    #[prost(uint64, tag = "6")]
    pub query_id: u64,
    /// The worker deployment version the task is pinned to, or "".
    #[prost(string, tag = "7")]
    pub pinned: String,
}

/// Offers a task to the queue held by the receiving node.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AddTaskRequest {
    #[prost(message, optional, tag = "1")]
    pub queue: Option<QueueRef>,
    #[prost(message, optional, tag = "2")]
    pub task: Option<TaskRef>,
    /// A sticky queue's task: taken only if a worker polls the queue.
    #[prost(bool, tag = "3")]
    pub only_if_polled: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct AddTaskResponse {
    /// The task was refused: `only_if_polled` and nobody polls the queue.
    #[prost(bool, tag = "1")]
    pub no_poller: bool,
}

/// Starts a task matched on one node for a run held by the receiver.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StartTaskRequest {
    #[prost(message, optional, tag = "1")]
    pub task: Option<TaskRef>,
    #[prost(bool, tag = "2")]
    pub activity: bool,
    #[prost(string, tag = "3")]
    pub identity: String,
    #[prost(message, optional, tag = "4")]
    pub worker_version: Option<WorkerVersionStamp>,
    #[prost(message, optional, tag = "5")]
    pub queue: Option<QueueRef>,
}

/// The started task as the poller gets it; all unset when the task was
/// stale (started already, timed out, run closed).
#[derive(Clone, PartialEq, prost::Message)]
pub struct StartTaskResponse {
    #[prost(message, optional, tag = "1")]
    pub workflow: Option<PollWorkflowTaskQueueResponse>,
    #[prost(message, optional, tag = "2")]
    pub activity: Option<PollActivityTaskQueueResponse>,
    #[prost(message, optional, tag = "3")]
    pub error: Option<RemoteError>,
}

/// Applies an input to a run held by the receiver.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ApplyRequest {
    #[prost(message, optional, tag = "1")]
    pub target: Option<RunKey>,
    #[prost(message, optional, tag = "2")]
    pub input: Option<RemoteInput>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ApplyResponse {
    #[prost(message, optional, tag = "1")]
    pub error: Option<RemoteError>,
}

/// Starts a run on a shard held by the receiver.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StartRequest {
    #[prost(message, optional, tag = "1")]
    pub args: Option<RemoteStartArgs>,
    #[prost(enumeration = "WorkflowIdReusePolicy", tag = "2")]
    pub reuse_policy: i32,
    #[prost(enumeration = "WorkflowIdConflictPolicy", tag = "3")]
    pub conflict_policy: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StartResponse {
    #[prost(string, tag = "1")]
    pub run_id: String,
    /// False when the start found the run already there (a repeated
    /// request, or the conflict policy's existing run).
    #[prost(bool, tag = "2")]
    pub started: bool,
    #[prost(message, optional, tag = "3")]
    pub error: Option<RemoteError>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct DescribeRequest {}

/// The cluster as the answering node last read it.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DescribeResponse {
    #[prost(string, tag = "1")]
    pub node_id: String,
    /// The database's clock at the read, as the other times.
    #[prost(int64, tag = "2")]
    pub now: i64,
    #[prost(message, repeated, tag = "3")]
    pub nodes: Vec<NodeInfo>,
    #[prost(message, repeated, tag = "4")]
    pub shards: Vec<ShardInfo>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct NodeInfo {
    #[prost(string, tag = "1")]
    pub node_id: String,
    #[prost(string, tag = "2")]
    pub rpc_address: String,
    #[prost(string, tag = "3")]
    pub cluster_address: String,
    #[prost(int64, tag = "4")]
    pub started_at: i64,
    #[prost(int64, tag = "5")]
    pub heartbeat_at: i64,
    #[prost(bool, tag = "6")]
    pub live: bool,
    /// Shards it holds under an unexpired lease.
    #[prost(uint32, tag = "7")]
    pub shards: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ShardInfo {
    #[prost(uint32, tag = "1")]
    pub shard_id: u32,
    /// Empty when nobody holds it.
    #[prost(string, tag = "2")]
    pub owner: String,
    #[prost(int64, tag = "3")]
    pub epoch: i64,
    #[prost(int64, tag = "4")]
    pub lease_until: i64,
    #[prost(int64, tag = "5")]
    pub acquired_at: i64,
}

/// A failure of the work asked for (not of the call itself, which is a
/// gRPC status): the history service's error, by kind, so the caller
/// handles it as if the work had failed locally.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RemoteError {
    #[prost(enumeration = "ErrorKind", tag = "1")]
    pub kind: i32,
    #[prost(string, tag = "2")]
    pub message: String,
    /// `AlreadyStarted` only.
    #[prost(string, tag = "3")]
    pub start_request_id: String,
    /// `AlreadyStarted` only.
    #[prost(string, tag = "4")]
    pub run_id: String,
}

/// What a `RemoteError` is: the engine's errors one to one, then the
/// history service's and the store's that matter to a caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ErrorKind {
    /// Unknown to this build (a newer peer's kind): treated as retryable.
    Unspecified = 0,
    WorkflowClosed = 1,
    WorkflowTaskNotFound = 2,
    ActivityTaskNotFound = 3,
    StaleTimer = 4,
    EngineInvalidArgument = 5,
    EngineFailedPrecondition = 6,
    EngineLimitExceeded = 7,
    NotFound = 8,
    AlreadyStarted = 9,
    InvalidArgument = 10,
    Unavailable = 11,
    Internal = 12,
    NotOwner = 13,
    Conflict = 14,
}

/// An engine input sent to the node holding its run: only the inputs one
/// run sends another (work between runs) and those a client call makes.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RemoteInput {
    #[prost(oneof = "remote_input::Kind", tags = "1, 2, 3, 4, 5, 6, 7")]
    pub kind: Option<remote_input::Kind>,
}

pub mod remote_input {
    use super::{Payloads, RemoteChildClose, RemoteSignal, WorkflowExecution};
    use temporalio_protos::temporal::api::enums::v1::StartChildWorkflowExecutionFailedCause;

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Kind {
        #[prost(message, tag = "1")]
        ChildStarted(ChildStarted),
        #[prost(message, tag = "2")]
        ChildStartFailed(ChildStartFailed),
        #[prost(message, tag = "3")]
        ChildClosed(ChildClosed),
        #[prost(message, tag = "4")]
        Signal(RemoteSignal),
        #[prost(message, tag = "5")]
        RequestCancel(RequestCancel),
        #[prost(message, tag = "6")]
        Terminate(Terminate),
        #[prost(message, tag = "7")]
        StickyWorkerUnavailable(StickyWorkerUnavailable),
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ChildStarted {
        #[prost(int64, tag = "1")]
        pub initiated_event_id: i64,
        #[prost(string, tag = "2")]
        pub run_id: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ChildStartFailed {
        #[prost(int64, tag = "1")]
        pub initiated_event_id: i64,
        #[prost(enumeration = "StartChildWorkflowExecutionFailedCause", tag = "2")]
        pub cause: i32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ChildClosed {
        #[prost(int64, tag = "1")]
        pub initiated_event_id: i64,
        #[prost(string, tag = "2")]
        pub run_id: String,
        #[prost(message, optional, tag = "3")]
        pub closed: Option<RemoteChildClose>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct RequestCancel {
        #[prost(string, tag = "1")]
        pub reason: String,
        #[prost(string, tag = "2")]
        pub identity: String,
        /// Set when another workflow asked.
        #[prost(message, optional, tag = "3")]
        pub external: Option<ExternalCancel>,
    }

    /// The workflow that asked for a cancel, and its initiating event.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExternalCancel {
        #[prost(message, optional, tag = "1")]
        pub execution: Option<WorkflowExecution>,
        #[prost(int64, tag = "2")]
        pub initiated_event_id: i64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Terminate {
        #[prost(string, tag = "1")]
        pub reason: String,
        #[prost(message, optional, tag = "2")]
        pub details: Option<Payloads>,
        #[prost(string, tag = "3")]
        pub identity: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct StickyWorkerUnavailable {
        #[prost(int64, tag = "1")]
        pub scheduled_event_id: i64,
        #[prost(int32, tag = "2")]
        pub attempt: i32,
    }
}

/// A signal (the engine's `SignalArgs`): an input, or part of a
/// signal-with-start.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RemoteSignal {
    #[prost(string, tag = "1")]
    pub signal_name: String,
    #[prost(message, optional, tag = "2")]
    pub input: Option<Payloads>,
    #[prost(string, tag = "3")]
    pub identity: String,
    #[prost(message, optional, tag = "4")]
    pub header: Option<Header>,
    #[prost(string, tag = "5")]
    pub request_id: String,
    #[prost(message, optional, tag = "6")]
    pub external_workflow_execution: Option<WorkflowExecution>,
}

/// How a child workflow ended (the engine's `ChildClose`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct RemoteChildClose {
    #[prost(oneof = "remote_child_close::Kind", tags = "1, 2, 3, 4, 5")]
    pub kind: Option<remote_child_close::Kind>,
}

pub mod remote_child_close {
    use super::{Payloads, WorkflowExecution};
    use temporalio_protos::temporal::api::{enums::v1::RetryState, failure::v1::Failure};

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Kind {
        #[prost(message, tag = "1")]
        Completed(Completed),
        #[prost(message, tag = "2")]
        Failed(Failed),
        #[prost(message, tag = "3")]
        Canceled(Canceled),
        #[prost(message, tag = "4")]
        Terminated(Terminated),
        #[prost(message, tag = "5")]
        TimedOut(TimedOut),
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Completed {
        #[prost(message, optional, tag = "1")]
        pub execution: Option<WorkflowExecution>,
        #[prost(message, optional, tag = "2")]
        pub result: Option<Payloads>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Failed {
        #[prost(message, optional, tag = "1")]
        pub execution: Option<WorkflowExecution>,
        /// Boxed as the engine holds it (a failure is large).
        #[prost(message, optional, boxed, tag = "2")]
        pub failure: Option<Box<Failure>>,
        #[prost(enumeration = "RetryState", tag = "3")]
        pub retry_state: i32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Canceled {
        #[prost(message, optional, tag = "1")]
        pub execution: Option<WorkflowExecution>,
        #[prost(message, optional, tag = "2")]
        pub details: Option<Payloads>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Terminated {
        #[prost(message, optional, tag = "1")]
        pub execution: Option<WorkflowExecution>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TimedOut {
        #[prost(message, optional, tag = "1")]
        pub execution: Option<WorkflowExecution>,
        #[prost(enumeration = "RetryState", tag = "2")]
        pub retry_state: i32,
    }
}

/// A start request (the engine's `StartArgs`) for a shard held by another
/// node. Update-with-start never crosses nodes (it runs on the node holding
/// the workflow already), so it has no field here; `continued` carries
/// what a schedule's next run inherits (its last result or failure).
#[derive(Clone, PartialEq, prost::Message)]
pub struct RemoteStartArgs {
    #[prost(string, tag = "1")]
    pub namespace: String,
    #[prost(string, tag = "2")]
    pub namespace_id: String,
    #[prost(string, tag = "3")]
    pub workflow_id: String,
    #[prost(string, tag = "4")]
    pub run_id: String,
    #[prost(string, tag = "5")]
    pub workflow_type: String,
    #[prost(string, tag = "6")]
    pub task_queue: String,
    #[prost(message, optional, tag = "7")]
    pub input: Option<Payloads>,
    #[prost(message, optional, tag = "8")]
    pub execution_timeout: Option<Duration>,
    #[prost(message, optional, tag = "9")]
    pub run_timeout: Option<Duration>,
    #[prost(message, optional, tag = "10")]
    pub task_timeout: Option<Duration>,
    #[prost(string, tag = "11")]
    pub identity: String,
    #[prost(string, tag = "12")]
    pub request_id: String,
    #[prost(message, optional, tag = "13")]
    pub retry_policy: Option<RetryPolicy>,
    #[prost(message, optional, tag = "14")]
    pub memo: Option<Memo>,
    #[prost(message, optional, tag = "15")]
    pub search_attributes: Option<SearchAttributes>,
    #[prost(message, optional, tag = "16")]
    pub header: Option<Header>,
    #[prost(message, optional, tag = "17")]
    pub priority: Option<Priority>,
    #[prost(string, tag = "18")]
    pub cron_schedule: String,
    #[prost(message, optional, tag = "19")]
    pub signal: Option<RemoteSignal>,
    #[prost(message, optional, tag = "20")]
    pub parent: Option<RemoteParent>,
    #[prost(message, optional, tag = "21")]
    pub root_execution: Option<WorkflowExecution>,
    #[prost(message, optional, tag = "22")]
    pub user_metadata: Option<UserMetadata>,
    #[prost(bool, tag = "23")]
    pub eager: bool,
    #[prost(message, optional, tag = "24")]
    pub continued: Option<RemoteContinued>,
    #[prost(message, optional, tag = "25")]
    pub versioning_override: Option<temporalio_protos::temporal::api::workflow::v1::VersioningOverride>,
}

/// What a run continuing another inherits (the engine's `Continued`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct RemoteContinued {
    #[prost(string, tag = "1")]
    pub previous_run_id: String,
    #[prost(string, tag = "2")]
    pub first_execution_run_id: String,
    #[prost(enumeration = "ContinueAsNewInitiator", tag = "3")]
    pub initiator: i32,
    #[prost(int32, tag = "4")]
    pub attempt: i32,
    #[prost(message, optional, tag = "5")]
    pub failure: Option<Failure>,
    #[prost(message, optional, tag = "6")]
    pub last_completion_result: Option<Payloads>,
    #[prost(message, optional, tag = "7")]
    pub backoff: Option<Duration>,
    #[prost(message, optional, tag = "8")]
    pub execution_expiration_time: Option<prost_types::Timestamp>,
    #[prost(message, optional, tag = "9")]
    pub reset_points: Option<ResetPoints>,
}

/// The parent of a child workflow (the engine's `ParentInfo`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct RemoteParent {
    #[prost(string, tag = "1")]
    pub namespace: String,
    #[prost(string, tag = "2")]
    pub namespace_id: String,
    #[prost(message, optional, tag = "3")]
    pub execution: Option<WorkflowExecution>,
    #[prost(int64, tag = "4")]
    pub initiated_event_id: i64,
}

/// Read namespaces and search attributes again: another node changed them.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RefreshRequest {}

#[derive(Clone, PartialEq, prost::Message)]
pub struct RefreshResponse {}
