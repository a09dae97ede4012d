//! DescribeTaskQueue (the pollers seen lately and the backlog) and
//! ResetStickyTaskQueue.

use super::{Frontend, map_err};
use crate::errors;
use crate::matching::QueueKey;
use chronicle_engine::{
    Input,
    api::{
        enums::v1::{BuildIdTaskReachability, DescribeTaskQueueMode, TaskQueueType},
        taskqueue::v1::{PollerInfo, TaskQueueStats, TaskQueueStatus, TaskQueueTypeInfo, TaskQueueVersionInfo},
        workflowservice::v1::*,
    },
    time,
};
use tonic::Status;

/// What Temporal reports for a poller's rate when it does not rate-limit.
const DEFAULT_POLLER_RATE: f64 = 100_000.0;

impl Frontend {
    pub(super) async fn describe_task_queue(
        &self,
        r: DescribeTaskQueueRequest,
    ) -> Result<DescribeTaskQueueResponse, Status> {
        self.check_namespace(&r.namespace)?;
        let name = r
            .task_queue
            .as_ref()
            .map(|q| q.name.clone())
            .filter(|n| !n.is_empty())
            .ok_or_else(|| errors::invalid("TaskQueue is not set on request."))?;
        if r.api_mode == DescribeTaskQueueMode::Enhanced as i32 {
            return Ok(self.describe_enhanced(&r, name).await);
        }
        let activity = match TaskQueueType::try_from(r.task_queue_type).unwrap_or(TaskQueueType::Unspecified) {
            TaskQueueType::Activity => true,
            TaskQueueType::Workflow | TaskQueueType::Unspecified => false,
            TaskQueueType::Nexus => {
                return Err(Status::unimplemented("Nexus task queues are not implemented by Chronicle yet."));
            }
        };
        let key = QueueKey { namespace: r.namespace.clone(), name, activity };
        let backlog = self.matching.backlog_count(&key).await;
        Ok(DescribeTaskQueueResponse {
            pollers: self.poller_infos(&key),
            stats: r.report_stats.then(|| TaskQueueStats { approximate_backlog_count: backlog, ..Default::default() }),
            task_queue_status: r
                .include_task_queue_status
                .then(|| TaskQueueStatus { backlog_count_hint: backlog, ..Default::default() }),
            ..Default::default()
        })
    }

    fn poller_infos(&self, key: &QueueKey) -> Vec<PollerInfo> {
        self.matching
            .pollers(key)
            .into_iter()
            .map(|(identity, seen)| PollerInfo {
                last_access_time: Some(time::from_system(seen)),
                identity,
                rate_per_second: DEFAULT_POLLER_RATE,
                ..Default::default()
            })
            .collect()
    }

    /// The (deprecated) enhanced mode the temporal CLI asks for: one
    /// "version" (the unversioned one, build id "") with each requested
    /// task queue type's pollers and backlog.
    async fn describe_enhanced(&self, r: &DescribeTaskQueueRequest, name: String) -> DescribeTaskQueueResponse {
        let mut types = r.task_queue_types.clone();
        if types.is_empty() {
            types = vec![TaskQueueType::Workflow as i32, TaskQueueType::Activity as i32];
        }
        let mut types_info = Vec::new();
        for t in types.into_iter().filter(|t| *t != TaskQueueType::Nexus as i32) {
            let key = QueueKey {
                namespace: r.namespace.clone(),
                name: name.clone(),
                activity: t == TaskQueueType::Activity as i32,
            };
            let stats = if r.report_stats {
                Some(TaskQueueStats {
                    approximate_backlog_count: self.matching.backlog_count(&key).await,
                    ..Default::default()
                })
            } else {
                None
            };
            types_info.push((
                t,
                TaskQueueTypeInfo { pollers: if r.report_pollers { self.poller_infos(&key) } else { vec![] }, stats },
            ));
        }
        let reachability = if r.report_task_reachability {
            BuildIdTaskReachability::Reachable
        } else {
            BuildIdTaskReachability::Unspecified
        };
        DescribeTaskQueueResponse {
            versions_info: [(
                String::new(),
                TaskQueueVersionInfo {
                    types_info: types_info.into_iter().collect(),
                    task_reachability: reachability as i32,
                },
            )]
            .into(),
            ..Default::default()
        }
    }

    pub(super) async fn reset_sticky_task_queue(
        &self,
        r: ResetStickyTaskQueueRequest,
    ) -> Result<ResetStickyTaskQueueResponse, Status> {
        let s = self.resolve(&r.namespace, &r.execution).await?;
        self.history.execute(&s.namespace, &s.workflow_id, &s.run_id, Input::ResetSticky).await.map_err(map_err)?;
        Ok(ResetStickyTaskQueueResponse {})
    }
}
