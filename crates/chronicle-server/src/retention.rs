//! Retention: a closed run (its history, state, current-run pointer and
//! visibility record) is deleted once its namespace's retention has passed
//! since it closed. A background task sweeps every namespace soon after
//! start and then every minute, deleting expired runs in small batches (one
//! store transaction each) with a pause between them, so live commits on
//! the store's single writer interleave with a large backlog.
//!
//! The retention applied is the namespace's as of the sweep. Temporal
//! instead fixes each run's deletion time when it closes (a timer task at
//! close time + retention as of then), so an UpdateNamespace there changes
//! only runs that close afterwards. Here runs are found through an index on
//! close time, with no per-run deletion time stored; a changed retention
//! applies to runs already closed as well (shortening it deletes them
//! sooner, lengthening it keeps them longer).

use crate::history::History;
use crate::namespaces::{DEFAULT_RETENTION_SECS, Namespaces};
use chronicle_engine::time;
use chronicle_store::NamespaceRecord;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// The first sweep, soon after start (recovery is done by then).
const FIRST_SWEEP_AFTER: Duration = Duration::from_secs(1);
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// Runs deleted per store transaction.
pub(crate) const BATCH: usize = 100;
/// Between batches: queued live commits get the writer.
const BATCH_PAUSE: Duration = Duration::from_millis(10);

/// What one sweep did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sweep {
    pub deleted: usize,
    /// Store transactions that deleted at least one run.
    pub batches: usize,
}

/// Starts the background sweeps; they stop once the history service is gone.
pub(crate) fn start(history: &Arc<History>, namespaces: Arc<Namespaces>) {
    let history = Arc::downgrade(history);
    tokio::spawn(async move {
        tokio::time::sleep(FIRST_SWEEP_AFTER).await;
        while sweep_once(&history, &namespaces).await {
            tokio::time::sleep(SWEEP_EVERY).await;
        }
    });
}

/// False once the history service is gone.
async fn sweep_once(history: &Weak<History>, namespaces: &Namespaces) -> bool {
    let Some(history) = history.upgrade() else { return false };
    // Once per cluster: on the node holding the singletons' shard.
    if !history.runs_singletons() {
        return true;
    }
    let done = sweep(&history, namespaces).await;
    if done.deleted > 0 {
        tracing::info!(deleted = done.deleted, batches = done.batches, "deleted runs past their retention");
    }
    true
}

/// Deletes every run past its namespace's retention, as of the server's clock.
pub(crate) async fn sweep(history: &History, namespaces: &Namespaces) -> Sweep {
    let now = history.clock().nanos();
    let mut done = Sweep::default();
    for ns in namespaces.list() {
        let closed_before = (now - retention_nanos(&ns)).clamp(i64::MIN as i128, i64::MAX as i128) as i64;
        loop {
            let batch = match history.delete_expired(&ns.name, closed_before, BATCH).await {
                Ok(batch) => batch,
                Err(e) => {
                    tracing::warn!(error = %e, namespace = %ns.name, "retention: deleting expired runs failed");
                    break;
                }
            };
            done.deleted += batch.deleted;
            done.batches += usize::from(batch.deleted > 0);
            // A short batch was the last; one that deleted nothing would
            // find the same runs again.
            if batch.found < BATCH || batch.deleted == 0 {
                break;
            }
            tokio::time::sleep(BATCH_PAUSE).await;
        }
    }
    done
}

fn retention_nanos(ns: &NamespaceRecord) -> i128 {
    match &ns.retention {
        Some(d) if time::is_set(Some(d)) => time::dur_nanos(d),
        _ => time::dur_nanos(&time::dur_secs(DEFAULT_RETENTION_SECS)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // in tests, a failed unwrap is a failed test

    use super::*;
    use crate::clock::Clock;
    use chronicle_engine::{Input, SignalArgs, StartArgs, apply, start};
    use chronicle_store::{ExecutionWrite, SqliteOptions, SqliteStore, Store};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Instant, SystemTime};

    struct FixedClock(SystemTime);

    impl Clock for FixedClock {
        fn now(&self) -> SystemTime {
            self.0
        }
    }

    fn args(workflow_id: &str) -> StartArgs {
        StartArgs {
            namespace: "default".into(),
            workflow_id: workflow_id.into(),
            run_id: format!("{workflow_id}-run"),
            workflow_type: "W".into(),
            task_queue: "tq".into(),
            request_id: format!("req-{workflow_id}"),
            ..Default::default()
        }
    }

    /// A run started and, if `close`, terminated at `at`, as one write.
    fn run(workflow_id: &str, at: SystemTime, close: bool) -> ExecutionWrite {
        let at = time::from_system(at);
        let t = start(args(workflow_id), at);
        let (mut state, mut events) = (t.state, t.events);
        if close {
            let input = Input::Terminate { reason: "done".into(), details: None, identity: "test".into() };
            let closed = apply(&state, input, at).unwrap();
            state = closed.state;
            events.extend(closed.events);
        }
        state.db_version = 1;
        ExecutionWrite { state, expected_version: 0, events, set_current: Some(None), update_visibility: true }
    }

    /// 250 expired runs go in three transactions of at most 100, and a run
    /// that is being signalled all along keeps committing in between.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_backlog_goes_in_batches_while_live_commits_land() {
        let dir = std::env::temp_dir().join(format!("chronicle-retention-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store: Arc<dyn Store> =
            SqliteStore::open(SqliteOptions { path: Some(dir.join("db.sqlite")), readers: 2 }).unwrap();
        let now = SystemTime::now();
        let two_days_ago = now - Duration::from_secs(2 * 24 * 3600);
        let mut writes: Vec<_> = (0..250).map(|i| run(&format!("old-{i}"), two_days_ago, true)).collect();
        writes.push(run("recent", now - Duration::from_secs(3600), true));
        writes.push(run("live", two_days_ago, false));
        store.commit(writes).await.unwrap();

        let matching = Arc::new(crate::matching::Matching::default());
        let history = History::new(store.clone(), matching, Default::default(), Arc::new(FixedClock(now)));

        let namespaces = Namespaces::load(store.clone(), &[]).await.unwrap();

        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let signaller = tokio::spawn({
            let (history, stop, acked) = (history.clone(), stop.clone(), acked.clone());
            async move {
                while !stop.load(Ordering::Relaxed) {
                    let signal = SignalArgs { signal_name: "tick".into(), ..Default::default() };
                    history.execute("default", "live", "live-run", Input::Signal(signal)).await.unwrap();
                    acked.lock().unwrap().push(Instant::now());
                }
            }
        });
        tokio::time::sleep(Duration::from_millis(50)).await; // the signaller is going
        let began = Instant::now();
        let done = sweep(&history, &namespaces).await;
        let ended = Instant::now();
        stop.store(true, Ordering::Relaxed);
        signaller.await.unwrap();

        assert_eq!(done, Sweep { deleted: 250, batches: 3 });
        let during = acked.lock().unwrap().iter().filter(|t| **t > began && **t < ended).count();
        assert!(during > 0, "live commits landed while the backlog was deleted");
        for i in [0, 99, 100, 249] {
            let id = format!("old-{i}");
            assert_eq!(store.load_execution("default", &id, &format!("{id}-run")).await.unwrap(), None);
        }
        assert!(store.load_execution("default", "recent", "recent-run").await.unwrap().is_some());
        assert!(store.load_execution("default", "live", "live-run").await.unwrap().unwrap().is_running());
        assert_eq!(sweep(&history, &namespaces).await, Sweep::default(), "nothing left to delete");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
