//! Handing out work after a commit: tasks to matching, durable timers to
//! the timer loop, queries to workers, and firing timers back into the
//! engine. This is the part a shard owner wraps.

use super::*;

impl History {
    pub(super) async fn timer_loop(me: Weak<History>, timers: Arc<Timers>) {
        loop {
            let due = timers.next_due().await;
            let Some(history) = me.upgrade() else { return };
            for entry in due {
                match entry {
                    Due::Dispatch { key, task } => history.matching.add(key, task),
                    Due::Timer { namespace, workflow_id, run_id, kind } => {
                        if history.cached(&run_id).is_none() {
                            continue; // the run closed; its timers no longer apply
                        }
                        let me = me.clone();
                        tokio::spawn(async move {
                            if let Some(history) = me.upgrade() {
                                history.fire_timer(&namespace, &workflow_id, &run_id, kind).await;
                            }
                        });
                    }
                }
            }
        }
    }

    /// When a protobuf timestamp falls on the monotonic clock.
    /// Deadlines beyond a century are parked there (the server is long gone
    /// by then, and recovery recomputes them anyway).
    pub(super) fn instant_of(&self, at: &prost_types::Timestamp) -> tokio::time::Instant {
        const FAR: std::time::Duration = std::time::Duration::from_secs(100 * 366 * 24 * 3600);
        let delay = time::to_std(&time::since(at, &self.now())).min(FAR);
        tokio::time::Instant::now() + delay
    }

    /// Hands tasks to matching and timers; called only after commit.
    pub(super) fn dispatch(&self, state: &MutableState, tasks: Vec<Task>) {
        for task in tasks {
            let base = MatchTask {
                namespace: state.namespace.clone(),
                workflow_id: state.workflow_id.clone(),
                run_id: state.run_id.clone(),
                ..Default::default()
            };
            match task {
                Task::WorkflowTask { task_queue, sticky, scheduled_event_id, attempt } => {
                    let key = QueueKey { namespace: state.namespace.clone(), name: task_queue, activity: false };
                    if sticky && !self.matching.has_live_poller(&key) {
                        // No worker behind the sticky queue (shut down, or
                        // not seen since this server started): the normal
                        // queue takes the task now.
                        self.sticky_unavailable(MatchTask { scheduled_event_id, attempt, ..base });
                    } else {
                        self.matching.add(key, MatchTask { scheduled_event_id, attempt, ..base });
                    }
                }
                Task::ActivityTask(a) => {
                    let key = QueueKey { namespace: state.namespace.clone(), name: a.task_queue, activity: true };
                    let task = MatchTask { scheduled_event_id: a.scheduled_event_id, attempt: a.attempt, ..base };
                    if time::dur_nanos(&time::since(&a.visible_at, &self.now())) <= 0 {
                        self.matching.add(key, task);
                    } else {
                        self.timers.schedule(self.instant_of(&a.visible_at), Due::Dispatch { key, task });
                    }
                }
                Task::External { initiated_event_id } => {
                    let Some(request) = state.external_requests.get(&initiated_event_id).cloned() else { continue };
                    let me = self.me.clone();
                    tokio::spawn(async move {
                        if let Some(history) = me.upgrade() {
                            history.deliver_external(base, request).await;
                        }
                    });
                }
                Task::StartChild { initiated_event_id } => {
                    let me = self.me.clone();
                    tokio::spawn(async move {
                        if let Some(history) = me.upgrade() {
                            history.start_child(base, initiated_event_id).await;
                        }
                    });
                }
                Task::NotifyParent => {
                    let me = self.me.clone();
                    tokio::spawn(async move {
                        if let Some(history) = me.upgrade() {
                            history.notify_parent(base).await;
                        }
                    });
                }
                Task::ApplyParentClosePolicy { initiated_event_id } => {
                    let me = self.me.clone();
                    tokio::spawn(async move {
                        if let Some(history) = me.upgrade() {
                            history.apply_parent_close_policy(base, initiated_event_id).await;
                        }
                    });
                }
                Task::Timer(timer) => {
                    let due = Due::Timer {
                        namespace: base.namespace,
                        workflow_id: base.workflow_id,
                        run_id: base.run_id,
                        kind: timer.kind,
                    };
                    self.timers.schedule(self.instant_of(&timer.fire_at), due);
                }
            }
        }
    }

    pub(super) fn sticky_unavailable(&self, task: MatchTask) {
        let me = self.me.clone();
        tokio::spawn(async move {
            let Some(history) = me.upgrade() else { return };
            let input =
                Input::StickyWorkerUnavailable { scheduled_event_id: task.scheduled_event_id, attempt: task.attempt };
            if let Err(e) = history.execute(&task.namespace, &task.workflow_id, &task.run_id, input).await {
                // The sticky timeout still moves the task later.
                tracing::debug!(error = %e, run_id = %task.run_id, "could not redirect a sticky workflow task");
            }
        });
    }

    /// A worker shut down: its sticky queue is closed, and the tasks waiting
    /// there move to the normal queue at once.
    pub fn close_sticky_queue(&self, namespace: &str, name: &str) {
        let key = QueueKey { namespace: namespace.to_string(), name: name.to_string(), activity: false };
        for task in self.matching.close(&key) {
            self.sticky_unavailable(task);
        }
    }

    pub(super) async fn fire_timer(&self, namespace: &str, workflow_id: &str, run_id: &str, kind: TimerKind) {
        // Storage hiccups must not lose a timer: retry until it applies or
        // no longer matters.
        loop {
            if self.cached(run_id).is_none() {
                return;
            }
            match self.execute(namespace, workflow_id, run_id, Input::TimerFired(kind)).await {
                Ok(_) | Err(HistoryError::Engine(_)) => return,
                Err(e) => {
                    tracing::warn!(%workflow_id, %run_id, ?kind, error = %e, "timer failed; retrying in 1s");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Routes a registered query (see queries.rs): parked if the run has a
    /// workflow task pending, otherwise sent to a worker now. Decided under
    /// the run's lock, so no workflow task can end in between.
    pub async fn route_query(&self, state: &MutableState, id: u64) {
        if let Some(entry) = self.cached(&state.run_id) {
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
            ..Default::default()
        };
        let sticky = state
            .sticky_task_queue
            .as_ref()
            .map(|q| QueueKey { namespace: state.namespace.clone(), name: q.name.clone(), activity: false })
            .filter(|key| state.is_running() && self.matching.has_live_poller(key));
        let key = sticky.unwrap_or_else(|| QueueKey {
            namespace: state.namespace.clone(),
            name: state.task_queue_name().to_string(),
            activity: false,
        });
        self.matching.add(key, task);
    }
}
