//! The records a store keeps and hands back, the same for every backend.

use crate::visibility;
use chronicle_engine::{
    MutableState,
    api::{enums::v1::IndexedValueType, history::v1::HistoryEvent, workflow::v1::WorkflowExecutionInfo},
};
use std::collections::BTreeMap;

/// A run: (workflow id, run id).
pub type RunKey = (String, String);

/// One execution's part of a commit.
#[derive(Debug, Clone)]
pub struct ExecutionWrite {
    /// The state after the transition (its `db_version` already bumped).
    pub state: MutableState,
    /// The `db_version` the stored row must have; 0 creates the row.
    pub expected_version: i64,
    pub events: Vec<HistoryEvent>,
    /// For a new run: make it the workflow id's current run, provided the
    /// current run is still this one (None: there must be none).
    pub set_current: Option<Option<String>>,
    /// Rewrite the run's visibility record (always done for a new run): set
    /// when a field that lists show changed (`MutableState::visibility_differs`).
    /// Like Temporal's, a running run's record is not rewritten on every
    /// transition, so its history length there is as of the last rewrite.
    pub update_visibility: bool,
}

/// A namespace record.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NamespaceRecord {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub id: String,
    #[prost(string, tag = "3")]
    pub description: String,
    #[prost(string, tag = "4")]
    pub owner_email: String,
    #[prost(message, optional, tag = "5")]
    pub retention: Option<prost_types::Duration>,
    #[prost(btree_map = "string, string", tag = "6")]
    pub data: std::collections::BTreeMap<String, String>,
}

/// A schedule and the scheduler's state for it. `version` is the storage
/// version (bumped on every write); `conflict_token` is the one clients
/// see, bumped only by UpdateSchedule, as Temporal's.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ScheduleRecord {
    #[prost(string, tag = "1")]
    pub namespace: String,
    #[prost(string, tag = "2")]
    pub schedule_id: String,
    #[prost(message, optional, tag = "3")]
    pub schedule: Option<chronicle_engine::api::schedule::v1::Schedule>,
    /// Counters, running workflows, recent actions, create/update time
    /// (future action times are computed when read).
    #[prost(message, optional, tag = "4")]
    pub info: Option<chronicle_engine::api::schedule::v1::ScheduleInfo>,
    #[prost(message, optional, tag = "5")]
    pub memo: Option<chronicle_engine::api::common::v1::Memo>,
    #[prost(message, optional, tag = "6")]
    pub search_attributes: Option<chronicle_engine::api::common::v1::SearchAttributes>,
    #[prost(int64, tag = "7")]
    pub conflict_token: i64,
    /// Action times up to and including this one have been handled.
    #[prost(message, optional, tag = "8")]
    pub processed_until: Option<prost_types::Timestamp>,
    #[prost(int64, tag = "9")]
    pub version: i64,
    #[prost(string, tag = "10")]
    pub create_request_id: String,
    /// Actions waiting for their turn (overlap policies BUFFER_*,
    /// CANCEL_OTHER, TERMINATE_OTHER), oldest first.
    #[prost(message, repeated, tag = "11")]
    pub buffered_actions: Vec<BufferedAction>,
}

/// A schedule action waiting to be taken (Temporal's BufferedStart).
#[derive(Clone, PartialEq, prost::Message)]
pub struct BufferedAction {
    /// The action's nominal time.
    #[prost(message, optional, tag = "1")]
    pub nominal_time: Option<prost_types::Timestamp>,
    /// Unspecified: the schedule's policy, resolved when taken.
    #[prost(enumeration = "chronicle_engine::api::enums::v1::ScheduleOverlapPolicy", tag = "2")]
    pub overlap_policy: i32,
    /// Asked for (trigger, backfill): taken even while paused.
    #[prost(bool, tag = "3")]
    pub manual: bool,
}

/// A namespace's registered custom search attributes: name → type.
pub type CustomSearchAttributes = BTreeMap<String, IndexedValueType>;

/// Where a visibility listing stopped: the last run returned. Listings go
/// newest first, by start time, then run id, both descending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisibilityCursor {
    /// Unix nanoseconds.
    pub start_time: i64,
    pub run_id: String,
}

impl VisibilityCursor {
    /// The cursor just past `info` in a listing.
    pub fn after(info: &WorkflowExecutionInfo) -> Self {
        VisibilityCursor {
            start_time: visibility::columns::nanos(info.start_time.as_ref()).unwrap_or(0),
            run_id: info.execution.as_ref().map(|e| e.run_id.clone()).unwrap_or_default(),
        }
    }
}

/// Where a visibility listing continues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListCursor {
    /// The default order: after this run.
    After(VisibilityCursor),
    /// An ORDER BY: past this many runs.
    Offset(u64),
}

/// A page of a visibility listing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunsPage {
    pub runs: Vec<WorkflowExecutionInfo>,
    /// None on the last page.
    pub next: Option<ListCursor>,
}

/// A visibility count.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunCount {
    pub count: i64,
    /// (status, count), by status, when the query groups by
    /// ExecutionStatus; statuses no run has are absent.
    pub groups: Vec<(i32, i64)>,
}

/// Whether `events` have contiguous ids ending at `last` (true when empty):
/// a commit's events continue the run's history exactly.
pub(crate) fn contiguous_ending_at(events: &[HistoryEvent], last: i64) -> bool {
    events.last().is_none_or(|e| e.event_id == last) && events.windows(2).all(|w| w[1].event_id == w[0].event_id + 1)
}

/// A batch operation (StartBatchOperation): the request, where it stands
/// and how far it got. `version` is the storage version, bumped on every
/// write.
#[derive(Clone, PartialEq, prost::Message)]
pub struct BatchRecord {
    #[prost(string, tag = "1")]
    pub namespace: String,
    #[prost(string, tag = "2")]
    pub job_id: String,
    #[prost(int64, tag = "3")]
    pub version: i64,
    #[prost(message, optional, tag = "4")]
    pub request: Option<chronicle_engine::api::workflowservice::v1::StartBatchOperationRequest>,
    #[prost(enumeration = "chronicle_engine::api::enums::v1::BatchOperationState", tag = "5")]
    pub state: i32,
    #[prost(message, optional, tag = "6")]
    pub start_time: Option<prost_types::Timestamp>,
    #[prost(message, optional, tag = "7")]
    pub close_time: Option<prost_types::Timestamp>,
    #[prost(int64, tag = "8")]
    pub total_operation_count: i64,
    #[prost(int64, tag = "9")]
    pub complete_operation_count: i64,
    #[prost(int64, tag = "10")]
    pub failure_operation_count: i64,
    /// Why the job failed or was stopped.
    #[prost(string, tag = "11")]
    pub reason: String,
    /// The visibility page the job reads next (empty before the first).
    #[prost(bytes = "vec", tag = "12")]
    pub next_page_token: Vec<u8>,
    /// Set once every page has been read.
    #[prost(bool, tag = "13")]
    pub pages_done: bool,
}

/// A worker deployment: its versions (each with its task queues, status
/// times and metadata) and its routing. `version` is the storage version,
/// bumped on every write; `info.version_summaries` is left empty (it is
/// derived from `versions` when read).
#[derive(Clone, PartialEq, prost::Message)]
pub struct DeploymentRecord {
    #[prost(string, tag = "1")]
    pub namespace: String,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(int64, tag = "3")]
    pub version: i64,
    #[prost(message, optional, tag = "4")]
    pub info: Option<chronicle_engine::api::deployment::v1::WorkerDeploymentInfo>,
    #[prost(message, repeated, tag = "5")]
    pub versions: Vec<chronicle_engine::api::deployment::v1::WorkerDeploymentVersionInfo>,
    /// Changes with every routing change (SetCurrent/SetRamping answer it;
    /// a caller passing an old one is refused).
    #[prost(bytes = "vec", tag = "6")]
    pub conflict_token: Vec<u8>,
}
