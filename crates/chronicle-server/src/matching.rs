//! Task queues: tasks wait for pollers, pollers wait for tasks. A task is
//! handed straight to a waiting poller when there is one. Queues live in
//! memory; they are refilled from the store's mutable states on start.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use tokio::time::Instant;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct QueueKey {
    pub namespace: String,
    pub name: String,
    pub activity: bool,
}

/// A reference to a task in an execution's mutable state, or a query.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MatchTask {
    pub namespace: String,
    pub workflow_id: String,
    pub run_id: String,
    pub scheduled_event_id: i64,
    pub attempt: i32,
    /// Non-zero: a query task (see queries.rs) rather than a workflow task.
    pub query_id: u64,
}

struct Waiter {
    slot: Mutex<WaiterSlot>,
    notify: Notify,
}

#[derive(Default)]
struct WaiterSlot {
    task: Option<MatchTask>,
    closed: bool,
}

#[derive(Default)]
struct Queue {
    tasks: VecDeque<MatchTask>,
    waiters: VecDeque<Arc<Waiter>>,
    /// When a poll last ended here (a poll in progress counts as now).
    last_poll: Option<Instant>,
    /// Who polled lately, and when (DescribeTaskQueue's pollers).
    pollers: HashMap<String, std::time::SystemTime>,
}

/// Pollers not seen for this long are no longer listed (as Temporal).
const POLLER_LISTED_FOR: std::time::Duration = std::time::Duration::from_secs(300);

/// A sticky queue with no poll for this long has no worker behind it
/// (Temporal's sticky poller unavailable window).
const STICKY_POLLER_WINDOW: std::time::Duration = std::time::Duration::from_secs(10);

/// How often idle queues are looked for (on the next add or poll).
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

#[derive(Default)]
pub struct Matching {
    queues: Mutex<HashMap<QueueKey, Queue>>,
    /// Sticky queues of workers that shut down, and when.
    closed: Mutex<HashMap<QueueKey, Instant>>,
    last_sweep: Mutex<Option<Instant>>,
}

impl Queue {
    /// Nothing waits here and nobody polled lately: the entry can go (it
    /// comes back with the next task or poll).
    fn idle(&self) -> bool {
        let now = std::time::SystemTime::now();
        self.tasks.is_empty()
            && self.waiters.is_empty()
            && self.last_poll.is_none_or(|t| t.elapsed() >= POLLER_LISTED_FOR)
            && self.pollers.values().all(|seen| now.duration_since(*seen).unwrap_or_default() >= POLLER_LISTED_FOR)
    }
}

impl Matching {
    /// Drops idle queues and old marks of closed sticky queues, at most
    /// once per `SWEEP_EVERY`: memory follows the queues in use, not every
    /// queue (one sticky queue per worker process) ever polled.
    fn sweep(&self, queues: &mut HashMap<QueueKey, Queue>) {
        {
            let mut last = crate::sync::lock(&self.last_sweep);
            if last.is_some_and(|t| t.elapsed() < SWEEP_EVERY) {
                return;
            }
            *last = Some(Instant::now());
        }
        queues.retain(|_, q| !q.idle());
        // A closed mark outlives any late poll of the worker that shut down.
        crate::sync::lock(&self.closed).retain(|_, at| at.elapsed() < POLLER_LISTED_FOR);
    }

    pub fn add(&self, key: QueueKey, mut task: MatchTask) {
        let mut queues = crate::sync::lock(&self.queues);
        self.sweep(&mut queues);
        let queue = queues.entry(key).or_default();
        while let Some(waiter) = queue.waiters.pop_front() {
            let mut slot = crate::sync::lock(&waiter.slot);
            if slot.closed {
                continue;
            }
            slot.task = Some(std::mem::take(&mut task));
            drop(slot);
            waiter.notify.notify_one();
            return;
        }
        queue.tasks.push_back(task);
    }

    /// Waits for a task until `deadline`. Cancel-safe: a task handed to a
    /// poller that went away goes back to the front of the queue.
    pub async fn poll(self: &Arc<Self>, key: &QueueKey, deadline: Instant) -> Option<MatchTask> {
        let waiter = {
            let mut queues = crate::sync::lock(&self.queues);
            self.sweep(&mut queues);
            let queue = queues.entry(key.clone()).or_default();
            queue.last_poll = Some(Instant::now());
            if let Some(task) = queue.tasks.pop_front() {
                return Some(task);
            }
            let waiter = Arc::new(Waiter { slot: Mutex::new(WaiterSlot::default()), notify: Notify::new() });
            queue.waiters.push_back(waiter.clone());
            waiter
        };
        let guard = WaiterGuard { matching: self.clone(), key: key.clone(), waiter };
        let _ = tokio::time::timeout_at(deadline, guard.waiter.notify.notified()).await;
        guard.finish()
    }

    /// Closes a queue nobody will poll again; returns the tasks it held.
    pub fn close(&self, key: &QueueKey) -> Vec<MatchTask> {
        crate::sync::lock(&self.closed).insert(key.clone(), Instant::now());
        let mut queues = crate::sync::lock(&self.queues);
        queues.remove(key).map(|q| q.tasks.into_iter().collect()).unwrap_or_default()
    }

    /// Whether a worker is behind a sticky queue: someone is polling it or
    /// did recently, and it was not closed by ShutdownWorker.
    pub fn has_live_poller(&self, key: &QueueKey) -> bool {
        if crate::sync::lock(&self.closed).contains_key(key) {
            return false;
        }
        let queues = crate::sync::lock(&self.queues);
        queues
            .get(key)
            .is_some_and(|q| !q.waiters.is_empty() || q.last_poll.is_some_and(|t| t.elapsed() < STICKY_POLLER_WINDOW))
    }

    /// Notes that `identity` polls the queue now.
    pub fn record_poller(&self, key: &QueueKey, identity: &str) {
        let mut queues = crate::sync::lock(&self.queues);
        let queue = queues.entry(key.clone()).or_default();
        queue.pollers.insert(identity.to_string(), std::time::SystemTime::now());
    }

    /// The queue's recent pollers, most recent first.
    pub fn pollers(&self, key: &QueueKey) -> Vec<(String, std::time::SystemTime)> {
        let mut queues = crate::sync::lock(&self.queues);
        let Some(queue) = queues.get_mut(key) else { return Vec::new() };
        let now = std::time::SystemTime::now();
        queue.pollers.retain(|_, seen| now.duration_since(*seen).unwrap_or_default() < POLLER_LISTED_FOR);
        let mut out: Vec<_> = queue.pollers.iter().map(|(id, seen)| (id.clone(), *seen)).collect();
        out.sort_by_key(|p| std::cmp::Reverse(p.1));
        out
    }

    /// Tasks waiting in a queue (backlog hint for pollers).
    pub fn backlog(&self, key: &QueueKey) -> i64 {
        crate::sync::lock(&self.queues).get(key).map(|q| q.tasks.len() as i64).unwrap_or(0)
    }

    fn requeue_front(&self, key: QueueKey, task: MatchTask) {
        let mut queues = crate::sync::lock(&self.queues);
        queues.entry(key).or_default().tasks.push_front(task);
    }
}

struct WaiterGuard {
    matching: Arc<Matching>,
    key: QueueKey,
    waiter: Arc<Waiter>,
}

impl WaiterGuard {
    fn close(&self) -> Option<MatchTask> {
        let mut slot = crate::sync::lock(&self.waiter.slot);
        slot.closed = true;
        slot.task.take()
    }

    /// Takes the handed task, if any; the Drop that follows finds none.
    fn finish(self) -> Option<MatchTask> {
        self.close()
    }
}

impl Drop for WaiterGuard {
    fn drop(&mut self) {
        if let Some(task) = self.close() {
            self.matching.requeue_front(self.key.clone(), task);
        }
        // Forget this waiter so idle queues do not accumulate closed ones.
        let mut queues = crate::sync::lock(&self.matching.queues);
        if let Some(queue) = queues.get_mut(&self.key) {
            queue.waiters.retain(|w| !Arc::ptr_eq(w, &self.waiter));
            queue.last_poll = Some(Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> QueueKey {
        QueueKey { namespace: "ns".into(), name: name.into(), activity: false }
    }

    #[tokio::test(start_paused = true)]
    async fn idle_queues_and_closed_marks_go_away() {
        let matching = Arc::new(Matching::default());
        // A sticky queue polled once, then its worker shut down; a queue
        // polled once and left; a queue holding a task.
        let soon = Instant::now() + std::time::Duration::from_millis(10);
        assert!(matching.poll(&key("sticky"), soon).await.is_none());
        matching.close(&key("sticky"));
        assert!(matching.poll(&key("left"), soon).await.is_none());
        matching.add(key("busy"), MatchTask { run_id: "r".into(), ..Default::default() });
        assert_eq!(crate::sync::lock(&matching.queues).len(), 2);

        tokio::time::advance(POLLER_LISTED_FOR + SWEEP_EVERY).await;
        matching.add(key("other"), MatchTask::default());
        let queues = crate::sync::lock(&matching.queues);
        let mut names: Vec<_> = queues.keys().map(|k| k.name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["busy", "other"], "the idle queue went, the one with a task stayed");
        assert!(crate::sync::lock(&matching.closed).is_empty());
        drop(queues);
        assert!(!matching.has_live_poller(&key("sticky")));
    }
}
