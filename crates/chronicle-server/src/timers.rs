//! The timer queue's window in memory: deadlines up to a horizon (a minute
//! or so ahead) wait here and one task sleeps until the earliest; later
//! ones stay on disk (the store's timer queue) until the window reaches
//! them. A closed run's deadlines are dropped at once (`forget_run`).
//! Entries are keyed by due time, run and task key, so a deadline read
//! from disk and the same one handed over by its commit are held once.

use crate::clock::Clock;
use crate::matching::{MatchTask, QueueKey};
use crate::time_skipping::{TimeSkipping, Work};
use chronicle_engine::TimerKind;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

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

/// Due time (Unix nanoseconds), run id, task key.
type EntryKey = (i64, String, String);

struct Entries {
    by_time: BTreeMap<EntryKey, Due>,
    /// The keys of each run's entries, to drop them when the run closes.
    by_run: HashMap<String, Vec<EntryKey>>,
    /// Deadlines up to here are held; later ones are left to the store.
    horizon: i64,
}

impl Entries {
    fn unindex(&mut self, key: &EntryKey) {
        if let Some(keys) = self.by_run.get_mut(&key.1) {
            keys.retain(|k| k != key);
            if keys.is_empty() {
                self.by_run.remove(&key.1);
            }
        }
    }
}

pub struct Timers {
    entries: Mutex<Entries>,
    changed: Notify,
    clock: Arc<dyn Clock>,
    /// A test server's clock: entries leave the window holding it.
    skipping: Option<Arc<TimeSkipping>>,
}

/// A sleeping timer loop looks at the clock again at least this often (the
/// clock may be moved by a test).
const RECHECK: std::time::Duration = std::time::Duration::from_secs(1);

impl Timers {
    #[cfg(test)]
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::with_skipping(clock, None)
    }

    /// Under time skipping every deadline is held (the clock may reach any
    /// of them at once) and each jump wakes the loop.
    pub fn with_skipping(clock: Arc<dyn Clock>, skipping: Option<Arc<TimeSkipping>>) -> Self {
        let horizon = if skipping.is_some() { i64::MAX } else { i64::MIN };
        let entries = Entries { by_time: BTreeMap::new(), by_run: HashMap::new(), horizon };
        Timers { entries: Mutex::new(entries), changed: Notify::new(), clock, skipping }
    }

    /// The earliest deadline held.
    pub fn earliest(&self) -> Option<i64> {
        crate::sync::lock(&self.entries).by_time.keys().next().map(|k| k.0)
    }

    /// Holds a deadline if it falls within the window; false if it is
    /// beyond (the timer-queue reader brings it in later).
    pub fn schedule(&self, at: i64, task_key: String, due: Due) -> bool {
        let mut entries = crate::sync::lock(&self.entries);
        if at > entries.horizon {
            return false;
        }
        let key = (at, due.run_id().to_string(), task_key);
        if entries.by_time.contains_key(&key) {
            return true;
        }
        let earliest = entries.by_time.keys().next().is_none_or(|first| key < *first);
        entries.by_run.entry(key.1.clone()).or_default().push(key.clone());
        entries.by_time.insert(key, due);
        drop(entries);
        if earliest {
            self.changed.notify_one();
            if let Some(skipping) = &self.skipping {
                skipping.poke();
            }
        }
        true
    }

    /// Moves the window's end to `until` (never back); returns the old end.
    /// Set before the store is read, so a deadline committed meanwhile is
    /// either read or held when its commit hands it over.
    pub fn extend_horizon(&self, until: i64) -> i64 {
        let mut entries = crate::sync::lock(&self.entries);
        let old = entries.horizon;
        entries.horizon = old.max(until);
        old
    }

    /// Waits for the next due entries and returns them, earliest first,
    /// with the hold on a skipping clock their work keeps until it is done.
    pub async fn next_due(&self) -> (Vec<Due>, Option<Work>) {
        let mut jumps = self.skipping.as_ref().map(|s| s.jumps());
        // A jump wakes the loop; without a skipping clock (or once it is
        // gone) nothing does.
        let jumped = async |jumps: &mut Option<tokio::sync::watch::Receiver<i64>>| {
            let changed = match jumps {
                Some(jumps) => jumps.changed().await.is_ok(),
                None => false,
            };
            if !changed {
                std::future::pending::<()>().await;
            }
        };
        loop {
            let next = self.earliest();
            let now = i64::try_from(self.clock.nanos()).unwrap_or(i64::MAX);
            match next {
                Some(at) if at <= now => {
                    // The hold is taken before the entries leave, under the
                    // gate the skipper looks through.
                    let mut gate = self.skipping.as_ref().map(|s| (s, s.lock_gate()));
                    let work = gate.as_mut().map(|(s, gate)| s.work_locked(gate));
                    let mut entries = crate::sync::lock(&self.entries);
                    let later = entries.by_time.split_off(&(now.saturating_add(1), String::new(), String::new()));
                    let due = std::mem::replace(&mut entries.by_time, later);
                    for key in due.keys() {
                        entries.unindex(key);
                    }
                    return (due.into_values().collect(), work);
                }
                Some(at) => {
                    let wait = std::time::Duration::from_nanos(u64::try_from(at - now).unwrap_or(0)).min(RECHECK);
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = self.changed.notified() => {}
                        _ = jumped(&mut jumps) => {}
                    }
                }
                None => {
                    tokio::select! {
                        _ = self.changed.notified() => {}
                        _ = jumped(&mut jumps) => {}
                    }
                }
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

    /// Deadlines held in the window.
    pub fn len(&self) -> usize {
        crate::sync::lock(&self.entries).by_time.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A wall clock that moves with tokio's (paused) clock.
    struct TokioClock(std::time::SystemTime, tokio::time::Instant);

    impl Clock for TokioClock {
        fn now(&self) -> std::time::SystemTime {
            self.0 + self.1.elapsed()
        }
    }

    fn timers() -> Arc<Timers> {
        let clock = Arc::new(TokioClock(std::time::SystemTime::now(), tokio::time::Instant::now()));
        let timers = Timers::new(clock);
        timers.extend_horizon(i64::MAX);
        Arc::new(timers)
    }

    fn at(timers: &Timers, after: Duration) -> i64 {
        i64::try_from(timers.clock.nanos()).unwrap() + i64::try_from(after.as_nanos()).unwrap()
    }

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
        let timers = timers();
        let start = tokio::time::Instant::now();
        timers.schedule(at(&timers, Duration::from_secs(10)), "k".into(), timer("late"));
        let t = timers.clone();
        let waiter = tokio::spawn(async move { t.next_due().await });
        tokio::time::sleep(Duration::from_millis(1)).await;
        timers.schedule(at(&timers, Duration::from_secs(1)), "k".into(), timer("early"));
        let due = waiter.await.unwrap().0;
        assert_eq!(due.iter().map(run_of).collect::<Vec<_>>(), vec!["early"]);
        assert!(start.elapsed() >= Duration::from_secs(1));
        let due = timers.next_due().await.0;
        assert_eq!(due.iter().map(run_of).collect::<Vec<_>>(), vec!["late"]);
        assert_eq!(timers.len(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_closed_runs_deadlines_go_at_once() {
        let timers = timers();
        timers.schedule(at(&timers, Duration::from_secs(5)), "a".into(), timer("closed"));
        timers.schedule(at(&timers, Duration::from_secs(6)), "b".into(), timer("closed"));
        timers.schedule(at(&timers, Duration::from_secs(7)), "a".into(), timer("open"));
        timers.forget_run("closed");
        assert_eq!(timers.len(), 1);
        let due = timers.next_due().await.0;
        assert_eq!(due.iter().map(run_of).collect::<Vec<_>>(), vec!["open"]);
        assert!(crate::sync::lock(&timers.entries).by_run.is_empty(), "the index empties with the map");
    }

    #[tokio::test(start_paused = true)]
    async fn only_the_window_is_held_and_a_deadline_is_held_once() {
        let clock = Arc::new(TokioClock(std::time::SystemTime::now(), tokio::time::Instant::now()));
        let timers = Timers::new(clock);
        let soon = at(&timers, Duration::from_secs(5));
        let later = at(&timers, Duration::from_secs(120));
        timers.extend_horizon(at(&timers, Duration::from_secs(60)));
        assert!(timers.schedule(soon, "k".into(), timer("r")));
        assert!(timers.schedule(soon, "k".into(), timer("r")), "the same deadline again");
        assert!(!timers.schedule(later, "k2".into(), timer("r")), "beyond the window: left to the store");
        assert_eq!(timers.len(), 1);
        timers.extend_horizon(later);
        assert!(timers.schedule(later, "k2".into(), timer("r")));
        assert_eq!(timers.len(), 2);
    }
}
