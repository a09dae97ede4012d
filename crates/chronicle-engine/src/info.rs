//! The visibility view of a run (`WorkflowExecutionInfo`), shared by
//! DescribeWorkflowExecution and the list APIs.

use crate::api::{
    common::v1::{WorkflowExecution, WorkflowType},
    workflow::v1::WorkflowExecutionInfo,
};
use crate::state::MutableState;
use crate::time;

impl MutableState {
    /// Whether a field that visibility lists and filters on differs between
    /// two states of a run (status, close time, memo, search attributes).
    pub fn visibility_differs(&self, other: &MutableState) -> bool {
        self.status != other.status
            || self.close_time != other.close_time
            || self.memo != other.memo
            || self.search_attributes != other.search_attributes
    }

    pub fn execution_info(&self) -> WorkflowExecutionInfo {
        let started = self.started.clone().unwrap_or_default();
        let me = WorkflowExecution { workflow_id: self.workflow_id.clone(), run_id: self.run_id.clone() };
        let execution_time = match (self.start_time, started.first_workflow_task_backoff) {
            (Some(t), Some(backoff)) => Some(time::add(&t, &backoff)),
            (t, _) => t,
        };
        WorkflowExecutionInfo {
            execution: Some(me.clone()),
            r#type: Some(WorkflowType { name: self.workflow_type_name().to_string() }),
            start_time: self.start_time,
            close_time: self.close_time,
            status: self.status,
            history_length: self.next_event_id - 1,
            parent_namespace_id: started.parent_workflow_namespace_id.clone(),
            parent_execution: started.parent_workflow_execution.clone(),
            execution_time,
            memo: self.memo.clone().or(started.memo.clone()),
            search_attributes: self.search_attributes.clone().or(started.search_attributes.clone()),
            task_queue: self.task_queue_name().to_string(),
            state_transition_count: self.db_version,
            history_size_bytes: self.history_size_bytes,
            execution_duration: self.close_time.zip(execution_time).map(|(c, st)| time::since(&c, &st)),
            root_execution: Some(started.root_workflow_execution.clone().unwrap_or(me)),
            first_run_id: started.first_execution_run_id.clone(),
            priority: started.priority.clone(),
            auto_reset_points: self.auto_reset_points.clone(),
            worker_deployment_name: self
                .versioning
                .as_ref()
                .and_then(crate::versioning::effective_version)
                .map(|v| v.deployment_name)
                .unwrap_or_default(),
            versioning_info: self.versioning.clone().map(crate::versioning::with_deprecated_fields),
            ..Default::default()
        }
    }
}
