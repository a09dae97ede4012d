//! Durable timers, in memory: one task sleeps until the earliest deadline.
//! Entries are small, so a stale timer (its task already moved on) costs
//! little until it comes due and the engine ignores it. Durability comes
//! from the mutable state: recovery re-adds every pending deadline.

use crate::matching::{MatchTask, QueueKey};
use chronicle_engine::TimerKind;
use std::collections::BTreeMap;
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

#[derive(Default)]
pub struct Timers {
    entries: Mutex<BTreeMap<(Instant, u64), Due>>,
    seq: AtomicU64,
    changed: Notify,
}

impl Timers {
    pub fn schedule(&self, at: Instant, due: Due) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let mut entries = crate::sync::lock(&self.entries);
        let earliest = entries.keys().next().is_none_or(|(first, _)| at < *first);
        entries.insert((at, seq), due);
        drop(entries);
        if earliest {
            self.changed.notify_one();
        }
    }

    /// Waits for the next due entries and returns them, earliest first.
    pub async fn next_due(&self) -> Vec<Due> {
        loop {
            let next = crate::sync::lock(&self.entries).keys().next().map(|(at, _)| *at);
            match next {
                Some(at) if at <= Instant::now() => {
                    let now = Instant::now();
                    let mut entries = crate::sync::lock(&self.entries);
                    let later = entries.split_off(&(now, u64::MAX));
                    let due = std::mem::replace(&mut *entries, later);
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

    #[cfg(test)]
    pub fn len(&self) -> usize {
        crate::sync::lock(&self.entries).len()
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
}
