//! Durable timers, in memory: one task sleeps until the earliest deadline.
//! Entries are small, so a stale timer (its task already moved on) costs
//! little until it comes due and the engine ignores it; a closed run's
//! deadlines are dropped at once (`forget_run`). Durability comes from the
//! mutable state: recovery re-adds every pending deadline.

use crate::matching::{MatchTask, QueueKey};
use chronicle_engine::TimerKind;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::Notify;
use tokio::time::Instant;

pub enum Due {
    /// Apply `TimerFired(kind)` to a run.
    Timer { namespace: String, workflow_id: String, run_id: String, kind: TimerKind },
    /// Offer an activity task whose retry backoff has elapsed.
    Dispatch { key: QueueKey, task: MatchTask },
}

impl Due {
    fn run_id(&self) -> &str {
        match self {
            Due::Timer { run_id, .. } => run_id,
            Due::Dispatch { task, .. } => &task.run_id,
        }
    }
}

#[derive(Default)]
struct Entries {
    by_time: BTreeMap<(Instant, u64), Due>,
    /// The keys of each run's entries, to drop them when the run closes.
    by_run: HashMap<String, Vec<(Instant, u64)>>,
}

impl Entries {
    fn unindex(&mut self, key: (Instant, u64), run_id: &str) {
        if let Some(keys) = self.by_run.get_mut(run_id) {
            keys.retain(|k| *k != key);
            if keys.is_empty() {
                self.by_run.remove(run_id);
            }
        }
    }
}

#[derive(Default)]
pub struct Timers {
    entries: Mutex<Entries>,
    seq: AtomicU64,
    changed: Notify,
}

impl Timers {
    pub fn schedule(&self, at: Instant, due: Due) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let mut entries = crate::sync::lock(&self.entries);
        let earliest = entries.by_time.keys().next().is_none_or(|(first, _)| at < *first);
        entries.by_run.entry(due.run_id().to_string()).or_default().push((at, seq));
        entries.by_time.insert((at, seq), due);
        drop(entries);
        if earliest {
            self.changed.notify_one();
        }
    }

    /// Waits for the next due entries and returns them, earliest first.
    pub async fn next_due(&self) -> Vec<Due> {
        loop {
            let next = crate::sync::lock(&self.entries).by_time.keys().next().map(|(at, _)| *at);
            match next {
                Some(at) if at <= Instant::now() => {
                    let now = Instant::now();
                    let mut entries = crate::sync::lock(&self.entries);
                    let later = entries.by_time.split_off(&(now, u64::MAX));
                    let due = std::mem::replace(&mut entries.by_time, later);
                    for (key, d) in &due {
                        entries.unindex(*key, d.run_id());
                    }
                    return due.into_values().collect();
                }
                Some(at) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(at) => {}
                        _ = self.changed.notified() => {}
                    }
                }
                None => self.changed.notified().await,
            }
        }
    }

    /// Drops every deadline of a run (it closed: none applies any more).
    pub fn forget_run(&self, run_id: &str) {
        let mut entries = crate::sync::lock(&self.entries);
        for key in entries.by_run.remove(run_id).unwrap_or_default() {
            entries.by_time.remove(&key);
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        crate::sync::lock(&self.entries).by_time.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn timer(run: &str) -> Due {
        Due::Timer {
            namespace: "ns".into(),
            workflow_id: "wf".into(),
            run_id: run.into(),
            kind: TimerKind::WorkflowRunTimeout,
        }
    }

    fn run_of(d: &Due) -> &str {
        match d {
            Due::Timer { run_id, .. } => run_id,
            Due::Dispatch { .. } => "",
        }
    }

    #[tokio::test(start_paused = true)]
    async fn fires_in_deadline_order_and_wakes_for_earlier_ones() {
        let timers = std::sync::Arc::new(Timers::default());
        let now = Instant::now();
        timers.schedule(now + Duration::from_secs(10), timer("late"));
        let t = timers.clone();
        let waiter = tokio::spawn(async move { t.next_due().await });
        tokio::time::sleep(Duration::from_millis(1)).await;
        timers.schedule(now + Duration::from_secs(1), timer("early"));
        let due = waiter.await.unwrap();
        assert_eq!(due.iter().map(run_of).collect::<Vec<_>>(), vec!["early"]);
        assert!(Instant::now() >= now + Duration::from_secs(1));
        let due = timers.next_due().await;
        assert_eq!(due.iter().map(run_of).collect::<Vec<_>>(), vec!["late"]);
        assert_eq!(timers.len(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_closed_runs_deadlines_go_at_once() {
        let timers = Timers::default();
        let now = Instant::now();
        timers.schedule(now + Duration::from_secs(5), timer("closed"));
        timers.schedule(now + Duration::from_secs(6), timer("closed"));
        timers.schedule(now + Duration::from_secs(7), timer("open"));
        timers.forget_run("closed");
        assert_eq!(timers.len(), 1);
        let due = timers.next_due().await;
        assert_eq!(due.iter().map(run_of).collect::<Vec<_>>(), vec!["open"]);
        assert!(crate::sync::lock(&timers.entries).by_run.is_empty(), "the index empties with the map");
    }
}
