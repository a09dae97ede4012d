-- A run's children (ParentWorkflowId = ... AND ParentRunId = ..., as the
-- web UI lists them on every run's page): only child runs are indexed.
CREATE INDEX visibility_by_parent ON visibility (namespace, parent_workflow_id, parent_run_id, start_time DESC, run_id DESC)
    WHERE parent_workflow_id IS NOT NULL;
