//! The history service in a cluster: it serves only the runs of the shards
//! this node holds, writes them under the shard's fence, and reaches the
//! holders of other shards for work between runs (a child to start, a
//! parent to tell, a signal to deliver) and for the task queues it feeds.
//! Without a cluster every shard is here and none of this costs anything.
//!
//! When shards move, what this node remembered of them goes: cached runs
//! (the next holder may change them), its task queues' waiting polls (the
//! workers poll again and reach the new holder); for shards gained, the
//! timer queue is read again from its start and the transfer queue caught
//! up, as at a restart.

use super::*;
use crate::cluster::{Holder, Node, node::queue_shard, wire};
use chronicle_proto::cluster::{AddTaskRequest, ApplyRequest, QueueRef, RunKey, StartRequest, TaskRef};
use chronicle_store::shard_of;
use std::collections::BTreeSet;
use std::time::Duration;

/// How long a call to another node may take before it counts as failed.
pub(crate) const PEER_CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Between tries of handing a task to its queue's node, and how many.
const ENQUEUE_RETRY: Duration = Duration::from_millis(500);
const ENQUEUE_TRIES: u32 = 10;

/// How often task queues held here look at their backlog on disk again
/// (see `Matching::recheck_backlogs`).
const BACKLOG_RECHECK: Duration = Duration::from_secs(3);

fn peer_unavailable(what: &str, e: impl std::fmt::Display) -> HistoryError {
    HistoryError::Store(StoreError::Unavailable(format!("{what}: {e}")))
}

/// A failed call to another node: a transport failure (or the peer's own
/// UNAVAILABLE) is worth retrying; any other status is the peer refusing
/// the call (another build, a bug), reported as it said.
pub(crate) fn peer_failed(address: &str, status: tonic::Status) -> HistoryError {
    use std::error::Error as _;
    if status.source().is_some()
        || matches!(status.code(), tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled)
    {
        return peer_unavailable(address, status.message());
    }
    HistoryError::Store(StoreError::Internal(format!("{address} refused the call: {status}")))
}

/// An error of work on another run (the target) as the work's own run
/// sees it: the target's shard moving is a reason to retry, not a sign
/// that this run's shard moved.
fn target_error(e: HistoryError) -> HistoryError {
    match e {
        e if e.moved() => HistoryError::Store(StoreError::Unavailable(e.to_string())),
        e => e,
    }
}

/// A remote answer's error (see `target_error`).
fn remote_error(e: chronicle_proto::cluster::RemoteError) -> HistoryError {
    target_error(wire::error_from_wire(e))
}

/// Where a sticky queue's task goes when no worker polls that queue.
pub(super) enum NoPoller {
    /// A workflow task: its run records the sticky worker unavailable and
    /// schedules it on the normal queue.
    Redirect,
    /// A query: to this (the normal) queue instead.
    Requeue(QueueKey),
}

impl History {
    /// The cluster this node is part of, if any.
    pub fn cluster(&self) -> Option<&Arc<Node>> {
        self.cluster.as_ref()
    }

    /// Where the runs of a workflow id are served.
    pub fn run_holder(&self, namespace: &str, workflow_id: &str) -> Holder {
        match &self.cluster {
            None => Holder::Local,
            Some(node) => node.holder(shard_of(namespace, workflow_id)),
        }
    }

    /// Whether this node serves the runs of a workflow id now.
    pub fn holds_run(&self, namespace: &str, workflow_id: &str) -> bool {
        self.cluster.as_ref().is_none_or(|node| node.holds(shard_of(namespace, workflow_id)))
    }

    /// Whether the once-per-cluster work (schedules, retention) runs here:
    /// on the holder of `SINGLETON_SHARD`, or on a server on its own.
    /// The store, for records kept beside runs (batch operations).
    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn runs_singletons(&self) -> bool {
        self.cluster.as_ref().is_none_or(|node| node.holds(crate::cluster::node::SINGLETON_SHARD))
    }

    pub(crate) fn not_here(namespace: &str, workflow_id: &str) -> HistoryError {
        HistoryError::NotOwner(Node::not_here(shard_of(namespace, workflow_id)))
    }

    /// Commits writes of one workflow id: in a cluster, under its shard's
    /// fence, so nothing lands once another node took the shard.
    pub(super) async fn commit_writes(&self, writes: Vec<ExecutionWrite>) -> Result<(), StoreError> {
        let Some(node) = &self.cluster else { return self.store.commit(writes).await };
        let Some(first) = writes.first() else { return Ok(()) };
        let shard = shard_of(&first.state.namespace, &first.state.workflow_id);
        let Some(fence) = node.fence(shard) else { return Err(StoreError::ShardOwnershipLost { shard_id: shard }) };
        node.store().commit_fenced(fence, writes).await
    }

    /// Applies an input to a run wherever its shard is held: here through
    /// `execute`, elsewhere by asking that node (only the inputs of work
    /// between runs travel; see `wire`).
    pub async fn apply_anywhere(
        &self,
        namespace: &str,
        workflow_id: &str,
        run_id: &str,
        input: Input,
    ) -> Result<(), HistoryError> {
        let (node, address) = match (&self.cluster, self.run_holder(namespace, workflow_id)) {
            (Some(node), Holder::Remote { address }) => (node, address),
            (_, Holder::Nobody) => return Err(peer_unavailable("no node holds the run's shard now", "retry")),
            _ => {
                let applied = self.execute(namespace, workflow_id, run_id, input).await;
                return applied.map(drop).map_err(target_error);
            }
        };
        let input = wire::input_to_wire(&input)
            .ok_or_else(|| HistoryError::InvalidArgument("this input is not sent between nodes".into()))?;
        let request = ApplyRequest {
            target: Some(RunKey {
                namespace: namespace.to_string(),
                workflow_id: workflow_id.to_string(),
                run_id: run_id.to_string(),
            }),
            input: Some(input),
        };
        let mut request = tonic::Request::new(request);
        request.set_timeout(PEER_CALL_TIMEOUT);
        let answer = node.cluster_client(&address).apply(request).await.map_err(|e| peer_failed(&address, e))?;
        match answer.into_inner().error {
            Some(e) => Err(remote_error(e)),
            None => Ok(()),
        }
    }

    /// Starts a run wherever its shard is held (a child, a schedule's
    /// action). The eager first task is only ever for a local start.
    pub async fn start_anywhere(&self, args: StartArgs, policies: StartPolicies) -> Result<Started, HistoryError> {
        let (node, address) = match (&self.cluster, self.run_holder(&args.namespace, &args.workflow_id)) {
            (Some(node), Holder::Remote { address }) => (node, address),
            (_, Holder::Nobody) => return Err(peer_unavailable("no node holds the workflow's shard now", "retry")),
            _ => return self.start(args, policies).await.map_err(target_error),
        };
        let wire_args = wire::start_args_to_wire(&args)
            .ok_or_else(|| HistoryError::InvalidArgument("this start is not sent between nodes".into()))?;
        let mut request = tonic::Request::new(StartRequest {
            args: Some(wire_args),
            reuse_policy: policies.reuse as i32,
            conflict_policy: policies.conflict as i32,
        });
        request.set_timeout(PEER_CALL_TIMEOUT);
        let answer = node.cluster_client(&address).start(request).await.map_err(|e| peer_failed(&address, e))?;
        let answer = answer.into_inner();
        match answer.error {
            Some(e) => Err(remote_error(e)),
            None => Ok(Started::plain(answer.run_id, answer.started)),
        }
    }

    /// Offers a task to its queue: here, or at the node holding the
    /// queue's shard (retried for a few seconds while this node holds the
    /// run). The task is a row of its run's commit already: a hand-over
    /// that does not get through only leaves it to the queue holder's next
    /// look at its backlog (`BACKLOG_RECHECK`).
    pub(super) fn enqueue(&self, key: QueueKey, task: MatchTask) {
        self.enqueue_to(key, task, None);
    }

    /// Offers a task to a sticky queue, which takes it only if a worker
    /// polls it (asked of the queue's node, as Temporal's matching answers
    /// StickyWorkerUnavailable); otherwise `fallback` says where it goes.
    pub(super) fn enqueue_sticky(&self, key: QueueKey, task: MatchTask, fallback: NoPoller) {
        self.enqueue_to(key, task, Some(fallback));
    }

    fn enqueue_to(&self, key: QueueKey, task: MatchTask, fallback: Option<NoPoller>) {
        let Some(node) = &self.cluster else { return self.add_here(key, task, fallback) };
        let queue = queue_shard(&key.namespace, &key.name);
        if node.holds(queue) {
            return self.add_here(key, task, fallback);
        }
        let me = self.me.clone();
        tokio::spawn(async move {
            let mut tries = 0u32;
            loop {
                let Some(history) = me.upgrade() else { return };
                let Some(node) = history.cluster.clone() else { return };
                if node.holds(queue) {
                    return history.add_here(key, task, fallback);
                }
                // A query waits in memory at the run's node only: it
                // travels while the run is here. A task's row stays on disk
                // if the run moved: its new node's queues read it.
                if !history.holds_run(&task.namespace, &task.workflow_id) {
                    return;
                }
                if tries >= ENQUEUE_TRIES {
                    return;
                }
                if let Holder::Remote { address } = node.holder(queue) {
                    let request = AddTaskRequest {
                        queue: Some(QueueRef {
                            namespace: key.namespace.clone(),
                            name: key.name.clone(),
                            activity: key.activity,
                        }),
                        task: Some(task_ref(&task)),
                        only_if_polled: fallback.is_some(),
                    };
                    let mut request = tonic::Request::new(request);
                    request.set_timeout(PEER_CALL_TIMEOUT);
                    match node.cluster_client(&address).add_task(request).await {
                        Ok(answer) => {
                            if let Some(fallback) = fallback.filter(|_| answer.into_inner().no_poller) {
                                history.no_poller(task, fallback);
                            }
                            return;
                        }
                        Err(e) if tries.is_multiple_of(20) => {
                            tracing::warn!(error = %e, node = %address, queue = %key.name, "could not hand a task to its queue's node; retrying");
                        }
                        Err(_) => {}
                    }
                }
                tries += 1;
                drop(history);
                tokio::time::sleep(ENQUEUE_RETRY).await;
            }
        });
    }

    /// Adds a task to a queue this node holds (or a server alone), unless
    /// it is for a sticky queue nobody polls.
    fn add_here(&self, key: QueueKey, task: MatchTask, fallback: Option<NoPoller>) {
        match fallback {
            None => self.matching.add(key, task),
            Some(fallback) => {
                if let Err(task) = self.matching.add_if_polled(key, task) {
                    self.no_poller(task, fallback);
                }
            }
        }
    }

    /// A sticky queue's task that no worker would take: a workflow task is
    /// moved by its run to the normal queue (no worker behind the sticky
    /// queue: shut down, or not seen since this server started), a query
    /// goes to the normal queue as it is.
    fn no_poller(&self, task: MatchTask, fallback: NoPoller) {
        match fallback {
            NoPoller::Redirect => self.sticky_unavailable(task),
            NoPoller::Requeue(normal) => self.enqueue(normal, task),
        }
    }

    /// Follows the shards this node holds: forgets what it knew of shards
    /// that moved either way, and reads the queues of shards gained.
    pub(super) fn follow_shards(self: &Arc<Self>) {
        let Some(node) = self.cluster.clone() else { return };
        let matching = Arc::downgrade(&self.matching);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(BACKLOG_RECHECK).await;
                let Some(matching) = matching.upgrade() else { return };
                matching.recheck_backlogs();
            }
        });
        let me = self.me.clone();
        let mut owned = node.owned_changes();
        tokio::spawn(async move {
            let mut held: BTreeSet<u32> = BTreeSet::new();
            loop {
                let now: BTreeSet<u32> = owned.borrow_and_update().keys().copied().collect();
                let gained: Vec<u32> = now.difference(&held).copied().collect();
                let moved: BTreeSet<u32> = now.symmetric_difference(&held).copied().collect();
                held = now;
                if !moved.is_empty() {
                    let Some(history) = me.upgrade() else { return };
                    history.forget_shards(&moved);
                    if !gained.is_empty() {
                        tracing::info!(shards = gained.len(), held = held.len(), "shards taken");
                        history.timer_generation.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                        tokio::spawn(Self::catch_up_transfer_queue(me.clone(), Some(gained)));
                    }
                }
                if owned.changed().await.is_err() {
                    return;
                }
            }
        });
    }

    /// Drops cached runs and task queues of shards that moved.
    fn forget_shards(&self, moved: &BTreeSet<u32>) {
        let dropped: Vec<(String, Arc<RunEntry>)> = {
            let mut runs = crate::sync::lock(&self.runs);
            let ids = runs.run_ids_where(|entry| moved.contains(&entry.shard));
            ids.into_iter().filter_map(|id| runs.remove(&id).map(|entry| (id, entry))).collect()
        };
        for (run_id, entry) in dropped {
            self.timers.forget_run(&run_id);
            // Emptied, so a writer waiting on it looks the run up again
            // (and finds it is not here); one holding it now finishes first.
            tokio::spawn(async move { *entry.state.lock().await = None });
        }
        let queries = self.matching.forget_queues(|k| moved.contains(&queue_shard(&k.namespace, &k.name)));
        if queries > 0 {
            tracing::info!(queries, "queries waiting in queues that moved were dropped (their callers time out)");
        }
    }

    /// The shards whose timer and transfer queues this node reads: all of
    /// them without a cluster (None).
    pub(super) fn shards_read(&self) -> Option<Vec<u32>> {
        self.cluster.as_ref().map(|node| node.owned_changes().borrow().keys().copied().collect())
    }
}

pub(crate) fn task_ref(task: &MatchTask) -> TaskRef {
    TaskRef {
        namespace: task.namespace.clone(),
        workflow_id: task.workflow_id.clone(),
        run_id: task.run_id.clone(),
        scheduled_event_id: task.scheduled_event_id,
        attempt: task.attempt,
        query_id: task.query_id,
        pinned: task.pinned.clone(),
    }
}

pub(crate) fn match_task(task: TaskRef) -> MatchTask {
    MatchTask {
        namespace: task.namespace,
        workflow_id: task.workflow_id,
        run_id: task.run_id,
        scheduled_event_id: task.scheduled_event_id,
        attempt: task.attempt,
        query_id: task.query_id,
        pinned: task.pinned,
    }
}
