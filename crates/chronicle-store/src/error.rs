//! What can go wrong in a store, as kinds the server maps to gRPC statuses
//! (with Temporal's wording, which lives in the server, not here).

/// A store operation's failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A conditional write lost: another writer moved the execution, the
    /// current run or the schedule on, or a run to delete still has work.
    /// The text says which, for logs; nothing was changed.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("namespace {name} already exists")]
    NamespaceExists { name: String },
    #[error("namespace {name} not found")]
    NamespaceNotFound { name: String },
    /// Registered already, with another type.
    #[error("search attribute {name} already exists")]
    SearchAttributeExists { name: String },
    #[error("search attribute {name} not found")]
    SearchAttributeNotFound { name: String },
    #[error("schedule {schedule_id} already exists in namespace {namespace}")]
    ScheduleExists { namespace: String, schedule_id: String },
    #[error("batch operation {job_id} already exists in namespace {namespace}")]
    BatchExists { namespace: String, job_id: String },
    #[error("worker deployment {name} already exists in namespace {namespace}")]
    DeploymentExists { namespace: String, name: String },
    #[error("not found: {0}")]
    NotFound(Missing),
    /// The database cannot be reached or the connection was lost: worth
    /// retrying (the server answers UNAVAILABLE, which SDKs retry). A write
    /// that fails so may or may not have landed.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A database URL that cannot be used; the text says why and what
    /// would do.
    #[error("{0}")]
    InvalidUrl(String),
    /// The database was set up by a newer Chronicle.
    #[error(
        "the database schema is at version {found}, newer than this Chronicle knows (version {supported}): \
         upgrade Chronicle"
    )]
    SchemaTooNew { found: u32, supported: u32 },
    /// A fenced write (`ClusterStore::commit_fenced`) under an epoch the
    /// shard no longer has: another node owns it now. Nothing was written.
    #[error("shard {shard_id} is owned by another node now")]
    ShardOwnershipLost { shard_id: u32 },
    #[error("storage failure: {0}")]
    Internal(String),
}

/// What a `StoreError::NotFound` did not find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    Execution { workflow_id: String, run_id: String },
    Schedule { namespace: String, schedule_id: String },
    Batch { namespace: String, job_id: String },
    Deployment { namespace: String, name: String },
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Missing::Execution { workflow_id, run_id } => write!(f, "workflow execution {workflow_id} (run {run_id})"),
            Missing::Schedule { namespace, schedule_id } => {
                write!(f, "schedule {schedule_id} in namespace {namespace}")
            }
            Missing::Batch { namespace, job_id } => {
                write!(f, "batch operation {job_id} in namespace {namespace}")
            }
            Missing::Deployment { namespace, name } => {
                write!(f, "worker deployment {name} in namespace {namespace}")
            }
        }
    }
}
