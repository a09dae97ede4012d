//! Reading the durable queues back, as Temporal's timer and transfer queue
//! processors do: the server serves at once on start and never loads every
//! active run. Task queues read their own backlog (matching.rs); here:
//!
//! - the timer queue, window by window: every `TIMER_READ_EVERY` the window
//!   moves to now + `TIMER_WINDOW` and the deadlines it gained are read in
//!   pages and held in memory (overdue ones, after a restart, fire at once);
//! - the transfer queue, once at start: work between runs that a crash
//!   interrupted (children to start, parents to tell, signals and cancels
//!   to deliver, close policies) and sticky workflow tasks, in pages, a
//!   bounded number at a time. After start every such task is handed out by
//!   its own commit; running one twice is harmless (the engine refuses
//!   what no longer applies).

use super::*;
use chronicle_engine::limits::{TASK_READ_PAGE, TIMER_READ_EVERY, TIMER_WINDOW, TRANSFER_STARTUP_CONCURRENCY};
use chronicle_store::StoredTask;

impl History {
    /// Starts the timer-queue reader and the transfer-queue catch-up.
    pub fn start_queues(self: &Arc<Self>) {
        tokio::spawn(Self::read_timer_queue(self.me.clone()));
        if self.cluster.is_some() {
            // Shards are read as they are taken (`routing`).
            self.follow_shards();
        } else {
            tokio::spawn(Self::catch_up_transfer_queue(self.me.clone(), None));
        }
    }

    async fn read_timer_queue(me: Weak<History>) {
        // The last row read: (due time, id).
        let mut after: Option<(i64, i64)> = None;
        let mut generation = 0;
        loop {
            {
                let Some(history) = me.upgrade() else { return };
                // Shards gained since the last round: read from the start.
                let now_generation = history.timer_generation.load(std::sync::atomic::Ordering::Acquire);
                if now_generation != generation {
                    generation = now_generation;
                    after = None;
                }
                let shards = history.shards_read();
                let window = i128::try_from(TIMER_WINDOW.as_nanos()).unwrap_or(i128::MAX);
                let until = i64::try_from(history.clock.nanos().saturating_add(window)).unwrap_or(i64::MAX);
                // First the window, then the read: a deadline committed in
                // between is held by its commit or read here (or both: the
                // window holds it once).
                history.timers.extend_horizon(until);
                loop {
                    let rows = match (&shards, history.cluster()) {
                        (Some(shards), Some(node)) => {
                            node.store().due_tasks_in(shards, after, until, TASK_READ_PAGE).await
                        }
                        _ => history.store.due_tasks(after, until, TASK_READ_PAGE).await,
                    };
                    match rows {
                        Ok(rows) => {
                            let full = rows.len() == TASK_READ_PAGE;
                            for (at, row) in rows {
                                after = Some((at, row.id));
                                history.hand_out_stored(row);
                            }
                            if !full {
                                break;
                            }
                        }
                        Err(e) => {
                            // Read again from the same row next round.
                            tracing::warn!(error = %e, "could not read the timer queue");
                            break;
                        }
                    }
                }
            }
            tokio::time::sleep(TIMER_READ_EVERY).await;
        }
    }

    /// Runs the transfer queue's work (of `shards`, or all) once.
    pub(super) async fn catch_up_transfer_queue(me: Weak<History>, shards: Option<Vec<u32>>) {
        let mut after = 0;
        let mut running = tokio::task::JoinSet::new();
        loop {
            let Some(history) = me.upgrade() else { return };
            let rows = match (&shards, history.cluster()) {
                (Some(shards), Some(node)) => node.store().transfer_tasks_in(shards, after, TASK_READ_PAGE).await,
                _ => history.store.transfer_tasks(after, TASK_READ_PAGE).await,
            };
            let rows = match rows {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the transfer queue; retrying in 1s");
                    drop(history);
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    continue;
                }
            };
            let full = rows.len() == TASK_READ_PAGE;
            for row in rows {
                after = row.id;
                while running.len() >= TRANSFER_STARTUP_CONCURRENCY {
                    running.join_next().await;
                }
                let history = history.clone();
                running.spawn(async move {
                    if let Some(work) = history.transfer_work(row).await {
                        work.await;
                    }
                });
            }
            if !full {
                break;
            }
        }
        while running.join_next().await.is_some() {}
    }

    /// Hands a row of the timer queue out as its commit would have.
    fn hand_out_stored(&self, row: StoredTask) {
        let base = MatchTask {
            namespace: row.namespace,
            workflow_id: row.workflow_id,
            run_id: row.run_id,
            ..Default::default()
        };
        if let Some(work) = self.hand_out(base, row.task, None) {
            tokio::spawn(work);
        }
    }

    /// The work of a transfer-queue row (a signal or cancel to deliver
    /// needs the request, held in the run's state).
    async fn transfer_work(
        &self,
        row: StoredTask,
    ) -> Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>> {
        let request = match &row.task {
            Task::External { initiated_event_id } => {
                let state = self.load(&row.namespace, &row.workflow_id, &row.run_id).await.ok()?;
                Some(state.external_requests.get(initiated_event_id)?.clone())
            }
            _ => None,
        };
        let base = MatchTask {
            namespace: row.namespace,
            workflow_id: row.workflow_id,
            run_id: row.run_id,
            ..Default::default()
        };
        self.hand_out(base, row.task, request)
    }
}
