//! Task queues: tasks wait for pollers, pollers wait for tasks. A task is
//! handed straight to a waiting poller when there is one. A queue holds at
//! most `TASK_QUEUE_MEMORY_TASKS_MAX` tasks in memory; every task is also a
//! row in the store's task table (written with the commit that made it),
//! so what does not fit, and everything after a restart, is read from
//! there in pages, oldest first, as pollers drain the queue.

use crate::clock::Clock;
use crate::deployments::routes::{Route, RouteTable};
use chronicle_engine::limits::{
    TASK_HANDED_OUT_FOR, TASK_QUEUE_MEMORY_TASKS_MAX as MEMORY_MAX, TASK_QUEUE_REFILL_BELOW,
};
use chronicle_store::{Store, StoredTask};
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
    /// The worker deployment version ("name:build") whose pollers alone
    /// may take the task, or "" (see deployments/routes.rs).
    pub pinned: String,
}

struct Waiter {
    slot: Mutex<WaiterSlot>,
    notify: Notify,
    /// The poller's worker deployment version; None: unversioned.
    version: Option<String>,
}

#[derive(Default)]
struct WaiterSlot {
    task: Option<MatchTask>,
    closed: bool,
}

impl MatchTask {
    /// Which task this is, for telling a row read from disk from one
    /// already in memory (None for queries, which are never on disk).
    fn ident(&self) -> Option<TaskIdent> {
        (self.query_id == 0).then(|| (self.run_id.clone(), self.scheduled_event_id, self.attempt))
    }

    /// A queued workflow or activity task as read from the store.
    fn from_stored(row: StoredTask) -> Option<Self> {
        let (scheduled_event_id, attempt, pinned) = match row.task {
            chronicle_engine::Task::WorkflowTask { scheduled_event_id, attempt, pinned, .. } => {
                (scheduled_event_id, attempt, pinned)
            }
            chronicle_engine::Task::ActivityTask(a) => (a.scheduled_event_id, a.attempt, a.pinned),
            _ => return None,
        };
        Some(MatchTask {
            namespace: row.namespace,
            workflow_id: row.workflow_id,
            run_id: row.run_id,
            scheduled_event_id,
            attempt,
            query_id: 0,
            pinned,
        })
    }
}

type TaskIdent = (String, i64, i32);

struct Queue {
    tasks: VecDeque<MatchTask>,
    waiters: VecDeque<Arc<Waiter>>,
    /// When a poll last ended here (a poll in progress counts as now).
    last_poll: Option<Instant>,
    /// Who polled lately, and when (DescribeTaskQueue's pollers).
    pollers: HashMap<String, std::time::SystemTime>,
    /// The store may hold tasks that are not in `tasks`: read them before
    /// the queue runs dry. True for a new queue (after a restart, or an
    /// idle queue dropped), and once a task did not fit in memory.
    backlog: bool,
    /// A backlog read is under way.
    reading: bool,
    /// Tasks that did not fit in memory, ever: a read that started before
    /// one was dropped must not clear `backlog`.
    dropped: u64,
    /// Tasks in `tasks` (None) or handed out lately (when): a row read
    /// from the store for one of these is not offered again.
    known: HashMap<TaskIdent, Option<Instant>>,
    /// Set while the queue belongs to a worker deployment: which pollers
    /// may take which task.
    route: Option<Arc<Route>>,
}

impl Default for Queue {
    fn default() -> Self {
        Queue {
            tasks: VecDeque::new(),
            waiters: VecDeque::new(),
            last_poll: None,
            pollers: HashMap::new(),
            backlog: true,
            reading: false,
            dropped: 0,
            known: HashMap::new(),
            route: None,
        }
    }
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
    /// Where backlogs are read from (none in unit tests: memory only).
    store: Option<(Arc<dyn Store>, Arc<dyn Clock>)>,
    /// The queues of worker deployments and their routing.
    routes: Mutex<Arc<RouteTable>>,
}

impl Queue {
    /// Nothing waits here and nobody polled lately: the entry can go (it
    /// comes back with the next task or poll).
    fn idle(&self) -> bool {
        let now = std::time::SystemTime::now();
        self.tasks.is_empty()
            && !self.reading
            && self.waiters.is_empty()
            && self.last_poll.is_none_or(|t| t.elapsed() >= POLLER_LISTED_FOR)
            && self.pollers.values().all(|seen| now.duration_since(*seen).unwrap_or_default() >= POLLER_LISTED_FOR)
    }
}

impl Queue {
    fn accepts(&self, task: &MatchTask, poller: Option<&str>) -> bool {
        self.route.as_ref().is_none_or(|r| r.accepts(task, poller))
    }

    /// Hands a task to the first poller still waiting that may take it, or
    /// keeps it.
    fn offer(&mut self, mut task: MatchTask) {
        while let Some(at) = self.waiters.iter().position(|w| self.accepts(&task, w.version.as_deref())) {
            let Some(waiter) = self.waiters.remove(at) else { break };
            let mut slot = crate::sync::lock(&waiter.slot);
            if slot.closed {
                continue;
            }
            if let Some(ident) = task.ident() {
                self.known.insert(ident, Some(Instant::now()));
            }
            slot.task = Some(std::mem::take(&mut task));
            drop(slot);
            waiter.notify.notify_one();
            return;
        }
        if let Some(ident) = task.ident() {
            self.known.insert(ident, None);
        }
        self.tasks.push_back(task);
    }

    /// The next task a poller may take, noted as handed out.
    fn take(&mut self, poller: Option<&str>) -> Option<MatchTask> {
        let at = match &self.route {
            None => 0,
            Some(route) => self.tasks.iter().position(|t| route.accepts(t, poller))?,
        };
        let task = self.tasks.remove(at)?;
        if let Some(ident) = task.ident() {
            self.known.insert(ident, Some(Instant::now()));
        }
        Some(task)
    }

    /// Forgets tasks handed out long enough ago that their start has
    /// removed their row (or they are worth offering again).
    fn forget_handed_out(&mut self) {
        self.known.retain(|_, handed| handed.is_none_or(|t| t.elapsed() < TASK_HANDED_OUT_FOR));
    }

    fn needs_read(&self) -> bool {
        self.backlog && !self.reading && self.tasks.len() < TASK_QUEUE_REFILL_BELOW
    }
}

impl Matching {
    /// Matching whose queues read their backlogs from `store`.
    pub fn with_store(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Matching { store: Some((store, clock)), ..Default::default() }
    }

    /// Reads a queue's backlog from the store, page by page, until the
    /// queue holds enough or the store has nothing more for it.
    async fn read_backlog(self: Arc<Self>, key: QueueKey) {
        let Some((store, clock)) = self.store.clone() else { return };
        loop {
            let dropped = crate::sync::lock(&self.queues).get(&key).map_or(0, |q| q.dropped);
            let now = i64::try_from(clock.nanos()).unwrap_or(i64::MAX);
            let rows = store.queued_tasks(&key.namespace, &key.name, key.activity, now, MEMORY_MAX).await;
            let mut queues = crate::sync::lock(&self.queues);
            let queue = self.queue(&mut queues, &key);
            let rows = match rows {
                Ok(rows) => rows,
                Err(e) => {
                    // The next poll tries again.
                    tracing::warn!(error = %e, queue = %key.name, "could not read a task queue's backlog");
                    queue.reading = false;
                    return;
                }
            };
            queue.forget_handed_out();
            let mut complete = rows.len() < MEMORY_MAX;
            let mut added = 0;
            for task in rows.into_iter().filter_map(MatchTask::from_stored) {
                if task.ident().is_some_and(|i| queue.known.contains_key(&i)) {
                    continue;
                }
                if queue.tasks.len() >= MEMORY_MAX {
                    complete = false;
                    break;
                }
                queue.offer(task);
                added += 1;
            }
            if complete && queue.dropped == dropped {
                queue.backlog = false;
            }
            if !(queue.backlog && added > 0 && queue.tasks.len() < TASK_QUEUE_REFILL_BELOW) {
                queue.reading = false;
                return;
            }
        }
    }

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
        for queue in queues.values_mut() {
            queue.forget_handed_out();
        }
        queues.retain(|_, q| !q.idle());
        // A closed mark outlives any late poll of the worker that shut down.
        crate::sync::lock(&self.closed).retain(|_, at| at.elapsed() < POLLER_LISTED_FOR);
    }

    /// A queue's entry, made (with its route) if absent.
    fn queue<'a>(&self, queues: &'a mut HashMap<QueueKey, Queue>, key: &QueueKey) -> &'a mut Queue {
        queues.entry(key.clone()).or_insert_with(|| Queue { route: self.route_of(key), ..Default::default() })
    }

    fn route_of(&self, key: &QueueKey) -> Option<Arc<Route>> {
        let routes = crate::sync::lock(&self.routes).clone();
        // Asked on every workflow task start: no key is built while no
        // queue belongs to a deployment.
        if routes.is_empty() {
            return None;
        }
        routes.get(&(key.namespace.clone(), key.name.clone(), key.activity)).cloned()
    }

    /// Takes a new route table (deployments/mod.rs): each queue whose
    /// route changed offers its tasks again, to the pollers now eligible.
    pub fn set_routes(&self, table: RouteTable) {
        let table = Arc::new(table);
        {
            let mut routes = crate::sync::lock(&self.routes);
            if **routes == *table {
                return; // the periodic re-read found nothing new
            }
            *routes = table.clone();
        }
        let mut queues = crate::sync::lock(&self.queues);
        for (key, queue) in queues.iter_mut() {
            let route = table.get(&(key.namespace.clone(), key.name.clone(), key.activity)).cloned();
            if route == queue.route {
                continue;
            }
            queue.route = route;
            for task in std::mem::take(&mut queue.tasks) {
                queue.offer(task);
            }
        }
    }

    /// Where a task of a deployment's queue goes now (the version, None
    /// for unversioned pollers); None if the queue is in no deployment.
    pub fn route_target(&self, key: &QueueKey, task: &MatchTask) -> Option<Option<String>> {
        self.route_of(key).map(|r| r.target(task).map(str::to_string))
    }

    /// The revision of a deployment queue's routing (0 for other queues).
    pub fn route_revision(&self, key: &QueueKey) -> i64 {
        self.route_of(key).map_or(0, |r| r.revision)
    }

    /// Offers a task just committed (or come due). A full queue leaves it
    /// on disk, where its backlog read finds it.
    pub fn add(&self, key: QueueKey, task: MatchTask) {
        let mut queues = crate::sync::lock(&self.queues);
        self.sweep(&mut queues);
        let queue = self.queue(&mut queues, &key);
        if let Some(ident) = task.ident() {
            // Already waiting here (read from disk first). One handed out
            // before is offered again: a speculative workflow task (an
            // update's) reuses its predecessor's event id and attempt.
            if queue.known.get(&ident).is_some_and(Option::is_none) {
                return;
            }
            if queue.tasks.len() >= MEMORY_MAX && self.store.is_some() {
                queue.backlog = true;
                queue.dropped += 1;
                return;
            }
        }
        queue.offer(task);
    }

    /// Waits for a task until `deadline`. Cancel-safe: a task handed to a
    /// poller that went away goes back to the front of the queue.
    pub async fn poll(self: &Arc<Self>, key: &QueueKey, deadline: Instant) -> Option<MatchTask> {
        self.poll_as(key, deadline, None).await
    }

    /// `poll` for a worker of a deployment version ("name:build"), or an
    /// unversioned one (None): it gets only the tasks routed to it.
    pub async fn poll_as(
        self: &Arc<Self>,
        key: &QueueKey,
        deadline: Instant,
        version: Option<String>,
    ) -> Option<MatchTask> {
        let waiter = {
            let mut queues = crate::sync::lock(&self.queues);
            self.sweep(&mut queues);
            let queue = self.queue(&mut queues, key);
            queue.last_poll = Some(Instant::now());
            if self.store.is_some() && queue.needs_read() {
                queue.reading = true;
                tokio::spawn(self.clone().read_backlog(key.clone()));
            }
            if let Some(task) = queue.take(version.as_deref()) {
                crate::metrics::metrics().record_poll(key.activity, true);
                return Some(task);
            }
            let waiter = Arc::new(Waiter { slot: Mutex::new(WaiterSlot::default()), notify: Notify::new(), version });
            queue.waiters.push_back(waiter.clone());
            waiter
        };
        let guard = WaiterGuard { matching: self.clone(), key: key.clone(), waiter };
        let _ = tokio::time::timeout_at(deadline, guard.waiter.notify.notified()).await;
        let task = guard.finish();
        crate::metrics::metrics().record_poll(key.activity, task.is_some());
        task
    }

    /// Tasks held in memory in all queues (a sample for the metrics).
    pub fn tasks_in_memory(&self) -> usize {
        crate::sync::lock(&self.queues).values().map(|q| q.tasks.len()).sum()
    }

    /// Closes a queue nobody will poll again; returns the tasks it held.
    pub fn close(&self, key: &QueueKey) -> Vec<MatchTask> {
        crate::sync::lock(&self.closed).insert(key.clone(), Instant::now());
        let mut queues = crate::sync::lock(&self.queues);
        let tasks: Vec<MatchTask> = queues.remove(key).map(|q| q.tasks.into_iter().collect()).unwrap_or_default();
        // Polls that come anyway start a fresh queue, which reads the store.
        tasks
    }

    /// Looks at every queue's backlog in the store again: at once for
    /// queues with polls waiting, at the next poll for the others. In a
    /// cluster a task's run and its queue may be on two nodes, and a node
    /// that dies between its commit and handing the task over leaves the
    /// task only on disk: this finds it.
    pub fn recheck_backlogs(self: &Arc<Self>) {
        if self.store.is_none() {
            return;
        }
        let mut queues = crate::sync::lock(&self.queues);
        for (key, queue) in queues.iter_mut() {
            queue.backlog = true;
            if !queue.waiters.is_empty() && queue.needs_read() {
                queue.reading = true;
                tokio::spawn(self.clone().read_backlog(key.clone()));
            }
        }
    }

    /// A task handed out whose start failed for a reason other than the
    /// task itself (its run's node did not answer, or its shard moved):
    /// it counts as handed out for one more second only, after which a
    /// read of the queue's backlog (at the latest `recheck_backlogs`)
    /// offers it again, rather than after `TASK_HANDED_OUT_FOR`.
    pub fn release(&self, key: &QueueKey, task: &MatchTask) {
        const RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(1);
        let mut queues = crate::sync::lock(&self.queues);
        if let Some(queue) = queues.get_mut(key)
            && let Some(ident) = task.ident()
        {
            let handed = Instant::now().checked_sub(TASK_HANDED_OUT_FOR.saturating_sub(RETRY_AFTER));
            queue.known.insert(ident, Some(handed.unwrap_or_else(Instant::now)));
            queue.backlog = true;
        }
    }

    /// Forgets the queues `which` picks (their shard moved to or from this
    /// node): waiting polls answer empty at once, so workers poll again
    /// and reach the queue's holder; a queue used again starts fresh and
    /// reads its backlog from the store. Returns the query tasks dropped
    /// (the only tasks not also on disk).
    pub fn forget_queues(&self, which: impl Fn(&QueueKey) -> bool) -> usize {
        let mut queues = crate::sync::lock(&self.queues);
        let keys: Vec<QueueKey> = queues.keys().filter(|k| which(k)).cloned().collect();
        let mut queries = 0;
        for key in keys {
            let Some(queue) = queues.remove(&key) else { continue };
            queries += queue.tasks.iter().filter(|t| t.query_id != 0).count();
            for waiter in queue.waiters {
                crate::sync::lock(&waiter.slot).closed = true;
                waiter.notify.notify_one();
            }
        }
        queries
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

    /// Adds a sticky queue's task only if a worker is behind the queue
    /// (`has_live_poller`); otherwise gives it back (Temporal's matching
    /// answers StickyWorkerUnavailable).
    pub fn add_if_polled(&self, key: QueueKey, task: MatchTask) -> Result<(), MatchTask> {
        if !self.has_live_poller(&key) {
            return Err(task);
        }
        self.add(key, task);
        Ok(())
    }

    /// Notes that `identity` polls the queue now.
    pub fn record_poller(&self, key: &QueueKey, identity: &str) {
        let mut queues = crate::sync::lock(&self.queues);
        let queue = self.queue(&mut queues, key);
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

    /// Tasks waiting in a queue, counted in the store (memory holds only
    /// the head of a long backlog).
    pub async fn backlog_count(&self, key: &QueueKey) -> i64 {
        match &self.store {
            Some((store, _)) => store
                .count_queued_tasks(&key.namespace, &key.name, key.activity)
                .await
                .unwrap_or_else(|_| self.backlog(key)),
            None => self.backlog(key),
        }
    }

    fn requeue_front(&self, key: QueueKey, task: MatchTask) {
        let mut queues = crate::sync::lock(&self.queues);
        let queue = self.queue(&mut queues, &key);
        if let Some(ident) = task.ident() {
            queue.known.insert(ident, None);
        }
        queue.tasks.push_front(task);
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

    fn versioned(workflow_id: &str, pinned: &str) -> MatchTask {
        MatchTask {
            run_id: workflow_id.into(),
            workflow_id: workflow_id.into(),
            pinned: pinned.into(),
            ..Default::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_deployments_queue_hands_each_task_to_its_versions_pollers_only() {
        let matching = Arc::new(Matching::default());
        let soon = || Instant::now() + std::time::Duration::from_millis(10);
        let route = |current: &str| Route {
            current: Some(current.to_string()),
            members: ["d:1".to_string(), "d:2".to_string()].into(),
            ..Default::default()
        };
        let table =
            |current: &str| RouteTable::from([(("ns".to_string(), "q".to_string(), false), Arc::new(route(current)))]);
        matching.set_routes(table("d:1"));
        matching.add(key("q"), versioned("pinned-to-2", "d:2"));
        matching.add(key("q"), versioned("unpinned", ""));
        // An unversioned poller gets nothing; 2.0's gets only its pinned task.
        assert!(matching.poll_as(&key("q"), soon(), None).await.is_none());
        let got = matching.poll_as(&key("q"), soon(), Some("d:2".into())).await.unwrap();
        assert_eq!(got.workflow_id, "pinned-to-2");
        assert!(matching.poll_as(&key("q"), soon(), Some("d:2".into())).await.is_none());
        // A routing change re-offers the backlog: a 2.0 poller waiting gets it.
        let waiting = tokio::spawn({
            let matching = matching.clone();
            async move {
                matching
                    .poll_as(&key("q"), Instant::now() + std::time::Duration::from_secs(5), Some("d:2".into()))
                    .await
            }
        });
        tokio::task::yield_now().await;
        matching.set_routes(table("d:2"));
        assert_eq!(waiting.await.unwrap().unwrap().workflow_id, "unpinned");
        // A queue of no deployment hands anything to anyone.
        matching.add(key("free"), versioned("any", "d:9"));
        assert!(matching.poll_as(&key("free"), soon(), None).await.is_some());
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
