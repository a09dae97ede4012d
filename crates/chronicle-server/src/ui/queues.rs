//! A task queue: its workers polling lately and its backlog, for
//! workflow and activity tasks.

use super::workflows::time;
use super::{Page, layout, page, status_page};
use crate::frontend::Frontend;
use axum::extract::{Path, State};
use chronicle_engine::api::enums::v1::TaskQueueType;
use chronicle_engine::api::taskqueue::v1::TaskQueue;
use chronicle_engine::api::workflowservice::v1::DescribeTaskQueueRequest;
use chronicle_proto::workflowservice::workflow_service_server::WorkflowService;
use maud::html;
use tonic::Request;

pub async fn task_queue(State(frontend): State<Frontend>, Path((namespace, queue)): Path<(String, String)>) -> Page {
    let mut kinds = Vec::new();
    for (label, kind) in [("Workflow tasks", TaskQueueType::Workflow), ("Activity tasks", TaskQueueType::Activity)] {
        let request = DescribeTaskQueueRequest {
            namespace: namespace.clone(),
            task_queue: Some(TaskQueue { name: queue.clone(), ..Default::default() }),
            task_queue_type: kind as i32,
            report_stats: true,
            ..Default::default()
        };
        let described =
            frontend.describe_task_queue(Request::new(request)).await.map_err(|s| status_page(&s))?.into_inner();
        kinds.push((label, described));
    }
    Ok(page(layout::page(
        &queue,
        Some(&namespace),
        html! {
            h1 { "Task queue " code { (queue) } }
            @for (label, described) in &kinds {
                h2 { (label) }
                p { "Backlog: " (described.stats.as_ref().map_or(0, |s| s.approximate_backlog_count)) " tasks" }
                @if described.pollers.is_empty() {
                    p { "No worker polled lately." }
                } @else {
                    div.scroll { table {
                        thead { tr { th { "Worker identity" } th { "Last poll" } } }
                        tbody { @for p in &described.pollers { tr {
                            td.mono { (p.identity) }
                            td.mono { (time(p.last_access_time.as_ref())) }
                        } } }
                    } }
                }
            }
        },
    )))
}
