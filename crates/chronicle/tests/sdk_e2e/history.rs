//! History helpers built on the client's raw `WorkflowService` gRPC access.

use std::time::{Duration, Instant};
use temporalio_client::{Client, NamespacedClient, grpc::WorkflowService, tonic::IntoRequest};
use temporalio_protos::temporal::api::{
    common::v1::WorkflowExecution,
    enums::v1::{EventType, HistoryEventFilterType},
    history::v1::HistoryEvent,
    workflowservice::v1::GetWorkflowExecutionHistoryRequest,
};

/// Fetches the full history of `workflow_id`/`run_id` (all pages) via GetWorkflowExecutionHistory.
pub async fn try_fetch_history(
    client: &Client,
    workflow_id: &str,
    run_id: &str,
) -> Result<Vec<HistoryEvent>, tonic::Status> {
    // `Client` implements `WorkflowService` itself (with the SDK's retry behaviour);
    // `client.connection().workflow_service()` would give the un-retried raw client.
    let mut svc = client.clone();
    let mut events = Vec::new();
    let mut next_page_token = Vec::new();
    loop {
        let req = GetWorkflowExecutionHistoryRequest {
            namespace: client.namespace(),
            execution: Some(WorkflowExecution { workflow_id: workflow_id.to_owned(), run_id: run_id.to_owned() }),
            maximum_page_size: 0,
            next_page_token,
            wait_new_event: false,
            history_event_filter_type: HistoryEventFilterType::AllEvent as i32,
            skip_archival: true,
        };
        let resp = WorkflowService::get_workflow_execution_history(&mut svc, req.into_request()).await?.into_inner();
        if let Some(h) = resp.history {
            events.extend(h.events);
        }
        if resp.next_page_token.is_empty() {
            return Ok(events);
        }
        next_page_token = resp.next_page_token;
    }
}

pub async fn fetch_history(client: &Client, workflow_id: &str, run_id: &str) -> Vec<HistoryEvent> {
    try_fetch_history(client, workflow_id, run_id)
        .await
        .unwrap_or_else(|e| panic!("GetWorkflowExecutionHistory({workflow_id}/{run_id}) failed: {e}"))
}

/// Polls the history (every 100 ms) until `pred` holds, panicking after `timeout` with the last
/// seen event types.
pub async fn wait_for_history(
    client: &Client,
    workflow_id: &str,
    run_id: &str,
    timeout: Duration,
    what: &str,
    pred: impl Fn(&[HistoryEvent]) -> bool,
) -> Vec<HistoryEvent> {
    let deadline = Instant::now() + timeout;
    let mut last: Result<Vec<HistoryEvent>, tonic::Status>;
    loop {
        last = try_fetch_history(client, workflow_id, run_id).await;
        if let Ok(events) = &last
            && pred(events)
        {
            return last.unwrap();
        }
        if Instant::now() >= deadline {
            let seen = match &last {
                Ok(events) => describe(events),
                Err(e) => format!("error: {e}"),
            };
            panic!("timed out after {timeout:?} waiting for history: {what}; last seen: {seen}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn event_types(events: &[HistoryEvent]) -> Vec<EventType> {
    events.iter().map(temporalio_protos::temporal::api::history::v1::HistoryEvent::event_type).collect()
}

/// `[id:Type, ...]` for assertion messages.
pub fn describe(events: &[HistoryEvent]) -> String {
    let parts: Vec<String> = events.iter().map(|e| format!("{}:{:?}", e.event_id, e.event_type())).collect();
    format!("[{}]", parts.join(", "))
}

pub fn count(events: &[HistoryEvent], t: EventType) -> usize {
    events.iter().filter(|e| e.event_type() == t).count()
}

pub fn has(events: &[HistoryEvent], t: EventType) -> bool {
    count(events, t) > 0
}

pub fn last_type(events: &[HistoryEvent]) -> Option<EventType> {
    events.last().map(temporalio_protos::temporal::api::history::v1::HistoryEvent::event_type)
}

/// Event ids are exactly 1..=n in order.
pub fn assert_gapless(events: &[HistoryEvent]) {
    assert!(!events.is_empty(), "history is empty");
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.event_id, i as i64 + 1, "event ids not contiguous from 1 at index {i}: {}", describe(events));
    }
}

/// No event is repeated: two events equal in everything except id/time/task id are duplicates.
/// WorkflowTaskScheduled is skipped (two legitimately distinct ones can have identical
/// attributes: same queue, attempt 1).
pub fn assert_no_duplicate_events(events: &[HistoryEvent]) {
    let normalized: Vec<(i64, HistoryEvent)> = events
        .iter()
        .filter(|e| e.event_type() != EventType::WorkflowTaskScheduled)
        .map(|e| {
            let mut n = e.clone();
            n.event_id = 0;
            n.event_time = None;
            n.task_id = 0;
            (e.event_id, n)
        })
        .collect();
    for (i, (id_a, a)) in normalized.iter().enumerate() {
        for (id_b, b) in &normalized[i + 1..] {
            assert!(a != b, "duplicate events {id_a} and {id_b} ({:?}): {}", a.event_type(), describe(events));
        }
    }
}
