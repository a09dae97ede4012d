//! Task tokens: opaque to workers, they name the task a completion is for.

use prost::Message;
use tonic::Status;

#[derive(Clone, PartialEq, prost::Message)]
pub struct TaskToken {
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
    #[prost(bool, tag = "6")]
    pub is_activity: bool,
    #[prost(int64, tag = "7")]
    pub started_event_id: i64,
    /// Non-zero for a query task.
    #[prost(uint64, tag = "8")]
    pub query_id: u64,
}

impl TaskToken {
    pub fn encode(&self) -> Vec<u8> {
        self.encode_to_vec()
    }

    /// The token, if it is one (for routing; handlers check it fully).
    pub fn decode_any(bytes: &[u8]) -> Option<Self> {
        TaskToken::decode(bytes).ok().filter(|t| !t.workflow_id.is_empty())
    }

    pub fn decode_for(bytes: &[u8], namespace: &str, activity: bool) -> Result<Self, Status> {
        if bytes.is_empty() {
            return Err(Status::invalid_argument("Task token not set on request."));
        }
        let token =
            TaskToken::decode(bytes).map_err(|_| Status::invalid_argument("Error deserializing task token."))?;
        if token.run_id.is_empty() || token.workflow_id.is_empty() || token.is_activity != activity {
            return Err(Status::invalid_argument("Error deserializing task token."));
        }
        if !namespace.is_empty() && token.namespace != namespace {
            return Err(Status::invalid_argument("Task token does not belong to this namespace."));
        }
        Ok(token)
    }
}

/// Continuation token of GetWorkflowExecutionHistory.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HistoryPageToken {
    #[prost(string, tag = "1")]
    pub run_id: String,
    #[prost(int64, tag = "2")]
    pub next_event_id: i64,
    /// Set when the pages continue a poll response whose workflow task is
    /// transient: the last page ends with that task's virtual events, if
    /// the task (scheduled at this id) is still the one started.
    #[prost(int64, tag = "3")]
    pub transient_task_scheduled_event_id: i64,
}
