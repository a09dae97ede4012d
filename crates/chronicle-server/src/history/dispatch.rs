//! Handing out work after a commit: tasks to matching, deadlines within the
//! window to the timer loop, work between runs to its own task, queries to
//! workers, and firing timers back into the engine. Everything here is
//! also a row of the commit (see queues.rs for how rows are read back), so
//! a handout lost to a crash is found again. This is the part a shard
//! owner wraps.

use super::*;
use std::collections::HashMap;

impl History {
    pub(super) async fn timer_loop(me: Weak<History>, timers: Arc<Timers>) {
        loop {
            let (due, work) = timers.next_due().await;
            // Shared by the commits the due entries cause.
            let work = work.map(Arc::new);
            let Some(history) = me.upgrade() else { return };
            // A run's timers due together fire in one commit.
            let mut by_run: HashMap<(String, String, String), Vec<TimerKind>> = HashMap::new();
            for entry in due {
                match entry {
                    Due::Dispatch { key, task } => history.enqueue(key, task),
                    Due::Timer { namespace, workflow_id, run_id, kind } => {
                        by_run.entry((namespace, workflow_id, run_id)).or_default().push(kind);
                    }
                }
            }
            for ((namespace, workflow_id, run_id), kinds) in by_run {
                let me = me.clone();
                let work = work.clone();
                tokio::spawn(async move {
                    if let Some(history) = me.upgrade() {
                        history.fire_timers(&namespace, &workflow_id, &run_id, kinds).await;
                    }
                    drop(work);
                });
            }
        }
    }

    /// Hands tasks to matching and timers; called only after commit. On a
    /// test server this and what the run leaves in flight are one step of
    /// the skipping clock's gate, and work between runs holds the clock.
    pub(super) fn dispatch(&self, state: &MutableState, tasks: Vec<Task>) {
        let mut gate = self.skipping.as_ref().map(|s| (s, s.lock_gate()));
        if let Some((skipping, gate)) = gate.as_mut() {
            skipping.record_run(gate, state);
        }
        for task in tasks {
            if let Task::WorkflowTask { sticky: true, scheduled_event_id, attempt, .. } = task
                && self.moves_version(state)
            {
                // Its sticky worker is on the version the run leaves:
                // the task goes to the normal queue, routed anew.
                let base = MatchTask {
                    namespace: state.namespace.clone(),
                    workflow_id: state.workflow_id.clone(),
                    run_id: state.run_id.clone(),
                    scheduled_event_id,
                    attempt,
                    ..Default::default()
                };
                self.sticky_unavailable(base);
                continue;
            }
            let base = MatchTask {
                namespace: state.namespace.clone(),
                workflow_id: state.workflow_id.clone(),
                run_id: state.run_id.clone(),
                ..Default::default()
            };
            let request = match &task {
                Task::External { initiated_event_id } => state.external_requests.get(initiated_event_id).cloned(),
                _ => None,
            };
            if let Some(work) = self.hand_out(base, task, request) {
                let hold = gate.as_mut().map(|(skipping, gate)| skipping.work_locked(gate));
                tokio::spawn(async move {
                    work.await;
                    drop(hold);
                });
            }
        }
        if let Some((skipping, gate)) = gate {
            drop(gate);
            skipping.poke();
        }
    }

    /// Hands one task of a run out: queued tasks to matching, deadlines to
    /// the timer window; work between runs comes back as a future to run.
    pub(super) fn hand_out(
        &self,
        base: MatchTask,
        task: Task,
        request: Option<engine::ExternalRequest>,
    ) -> Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>> {
        let me = self.me.clone();
        match task {
            Task::WorkflowTask { task_queue, sticky, scheduled_event_id, attempt, pinned } => {
                let key = QueueKey { namespace: base.namespace.clone(), name: task_queue, activity: false };
                let task = MatchTask { scheduled_event_id, attempt, pinned, ..base };
                if sticky {
                    self.enqueue_sticky(key, task, NoPoller::Redirect);
                } else {
                    self.enqueue(key, task);
                }
                None
            }
            Task::ActivityTask(a) => {
                let key = QueueKey { namespace: base.namespace.clone(), name: a.task_queue.clone(), activity: true };
                let at = time::ts_nanos(&a.visible_at);
                let task_key = chronicle_store::task_key(&Task::ActivityTask(a.clone()));
                let task = MatchTask {
                    scheduled_event_id: a.scheduled_event_id,
                    attempt: a.attempt,
                    pinned: a.pinned.clone(),
                    ..base
                };
                if at <= self.clock.nanos() {
                    self.enqueue(key, task);
                } else {
                    // Held if due within the window; else read when it is.
                    self.timers.schedule(saturate(at), task_key, Due::Dispatch { key, task });
                }
                None
            }
            Task::External { .. } => {
                let request = request?;
                Some(Box::pin(async move {
                    if let Some(history) = me.upgrade() {
                        history.deliver_external(base, request).await;
                    }
                }))
            }
            Task::StartChild { initiated_event_id } => Some(Box::pin(async move {
                if let Some(history) = me.upgrade() {
                    history.start_child(base, initiated_event_id).await;
                }
            })),
            Task::NotifyParent => Some(Box::pin(async move {
                if let Some(history) = me.upgrade() {
                    history.notify_parent(base).await;
                }
            })),
            Task::ApplyParentClosePolicy { initiated_event_id } => Some(Box::pin(async move {
                if let Some(history) = me.upgrade() {
                    history.apply_parent_close_policy(base, initiated_event_id).await;
                }
            })),
            Task::Timer(timer) => {
                let task_key = chronicle_store::task_key(&Task::Timer(timer.clone()));
                let due = Due::Timer {
                    namespace: base.namespace,
                    workflow_id: base.workflow_id,
                    run_id: base.run_id,
                    kind: timer.kind,
                };
                self.timers.schedule(saturate(time::ts_nanos(&timer.fire_at)), task_key, due);
                None
            }
        }
    }

    pub(super) fn sticky_unavailable(&self, task: MatchTask) {
        let me = self.me.clone();
        tokio::spawn(async move {
            let Some(history) = me.upgrade() else { return };
            let input =
                Input::StickyWorkerUnavailable { scheduled_event_id: task.scheduled_event_id, attempt: task.attempt };
            if let Err(e) = history.apply_anywhere(&task.namespace, &task.workflow_id, &task.run_id, input).await {
                // The sticky timeout still moves the task later.
                tracing::debug!(error = %e, run_id = %task.run_id, "could not redirect a sticky workflow task");
            }
        });
    }

    /// Whether a run's tasks are routed to another worker deployment
    /// version (or to unversioned workers) than that of the worker that
    /// completed its last task: an auto-upgrade run moves to a new current
    /// version, an override pins it elsewhere; its sticky worker must not
    /// take its next task.
    fn moves_version(&self, state: &MutableState) -> bool {
        let normal =
            QueueKey { namespace: state.namespace.clone(), name: state.task_queue_name().to_string(), activity: false };
        let probe =
            MatchTask { workflow_id: state.workflow_id.clone(), pinned: state.pinned_version(), ..Default::default() };
        self.matching
            .route_target(&normal, &probe)
            .is_some_and(|target| target.unwrap_or_default() != state.last_worker_version_key())
    }

    /// A worker shut down: its sticky queue is closed, and the tasks waiting
    /// there move to the normal queue at once.
    pub fn close_sticky_queue(&self, namespace: &str, name: &str) {
        let key = QueueKey { namespace: namespace.to_string(), name: name.to_string(), activity: false };
        for task in self.matching.close(&key) {
            self.sticky_unavailable(task);
        }
    }

    pub(super) async fn fire_timers(&self, namespace: &str, workflow_id: &str, run_id: &str, kinds: Vec<TimerKind>) {
        // Storage hiccups must not lose a timer: retry until they apply or
        // no longer matter (the run closed or is gone).
        loop {
            let inputs = kinds.iter().map(|k| Input::TimerFired(*k)).collect();
            match self.execute_all(namespace, workflow_id, run_id, inputs).await {
                Ok(_) | Err(HistoryError::Engine(_) | HistoryError::NotFound(_)) => return,
                // The shard moved: its new holder fires them.
                Err(e) if e.moved() => return,
                Err(e) => {
                    tracing::warn!(%workflow_id, %run_id, ?kinds, error = %e, "timers failed; retrying in 1s");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Routes a registered query (see queries.rs): parked if the run has a
    /// workflow task pending, otherwise sent to a worker now. Decided under
    /// the run's lock, so no workflow task can end in between.
    pub async fn route_query(&self, state: &MutableState, id: u64) {
        if let Ok(entry) = self.active_entry(&state.namespace, &state.workflow_id, &state.run_id).await {
            let guard = entry.state.lock().await;
            if let Some(current) = guard.as_ref().filter(|s| s.workflow_task.is_some()) {
                self.queries.park(&current.run_id, id);
                return;
            }
            drop(guard);
        }
        self.dispatch_query(state, id);
    }

    /// Sends a query task to the run's sticky queue if its worker is there,
    /// otherwise to the normal queue.
    pub(super) fn dispatch_query(&self, state: &MutableState, query_id: u64) {
        let task = MatchTask {
            namespace: state.namespace.clone(),
            workflow_id: state.workflow_id.clone(),
            run_id: state.run_id.clone(),
            query_id,
            pinned: state.pinned_version(),
            ..Default::default()
        };
        let normal =
            QueueKey { namespace: state.namespace.clone(), name: state.task_queue_name().to_string(), activity: false };
        match state.sticky_task_queue.as_ref().filter(|_| state.is_running()) {
            Some(sticky) => {
                let key = QueueKey { namespace: state.namespace.clone(), name: sticky.name.clone(), activity: false };
                self.enqueue_sticky(key, task, NoPoller::Requeue(normal));
            }
            None => self.enqueue(normal, task),
        }
    }
}

/// Unix nanoseconds as the timer window keys them.
fn saturate(nanos: i128) -> i64 {
    i64::try_from(nanos).unwrap_or(if nanos < 0 { i64::MIN } else { i64::MAX })
}
