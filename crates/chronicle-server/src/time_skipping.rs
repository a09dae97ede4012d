//! Time skipping, as Temporal's test server has it: a clock that runs at
//! the real pace while anything holds it, and otherwise jumps straight to
//! the next deadline (a timer, a timeout, a retry, a schedule's action, a
//! test's sleep).
//!
//! What holds it is one count, as Temporal's "time locking counter":
//! - the test's own locks (`LockTimeSkipping`; a test server starts with
//!   one, so time is real until a test unlocks it);
//! - each workflow task scheduled or running, and each activity from its
//!   scheduling to its end (an activity waiting out a retry backoff only
//!   from the end of the backoff);
//! - work between a deadline and the commit it causes (a fired timer,
//!   a child to start, a parent to tell), and queries on their way.
//!
//! A test may unlock while anything holds the count, not only its own
//! locks (an activity that calls the test environment's `sleep` lets time
//! run past its own heartbeat timeout, as on Temporal's test server); an
//! unlock with nothing held is refused.
//!
//! Every change to these, and every jump, happens under one lock (`gate`),
//! so the skipper never jumps past a deadline scheduled by work it did not
//! see finish. A deadline leaves its source only when the work it causes
//! has taken a hold, so a jump lands on the earliest deadline, never
//! beyond it.

use crate::clock::Clock;
use crate::timers::Timers;
use chronicle_engine::{MutableState, time};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, SystemTime};
use tokio::sync::{Notify, watch};

/// A skipper that missed a wake-up looks again this often.
const RECHECK: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum SkipError {
    #[error("Time skipping is not locked: an unlock must follow a lock (the test server starts locked once).")]
    NotLocked,
    #[error("{0}")]
    InvalidArgument(String),
}

/// What a run adds to the count.
#[derive(Clone, Debug, Default, PartialEq)]
struct RunHold {
    /// Its workflow task, and its activities scheduled or running.
    now: i64,
    /// When each activity waiting out a retry backoff starts holding.
    backoffs: Vec<i64>,
}

impl RunHold {
    fn of(state: &MutableState, now: i64) -> Self {
        if !state.is_running() {
            return RunHold::default();
        }
        let mut hold = RunHold { now: i64::from(state.workflow_task.is_some()), backoffs: Vec::new() };
        for activity in state.activities.values() {
            let ready = activity.current_attempt_scheduled_time.as_ref().map_or(i64::MIN, nanos);
            if activity.started_time.is_some() || ready <= now {
                hold.now += 1;
            } else {
                hold.backoffs.push(ready);
            }
        }
        hold
    }

    fn count(&self, now: i64) -> i64 {
        self.now + self.backoffs.iter().filter(|at| **at <= now).count() as i64
    }
}

#[derive(Default)]
pub(crate) struct Gate {
    /// LockTimeSkipping calls less UnlockTimeSkipping calls (below zero
    /// when a test unlocked what runs held).
    locks: i64,
    /// Work under way between a deadline and its commit.
    working: i64,
    runs: HashMap<String, RunHold>,
    /// Deadlines of tests' Sleep calls: (due, id).
    sleepers: BTreeSet<(i64, u64)>,
    next_sleeper: u64,
    /// The earliest action time of any schedule, as the scheduler last saw.
    schedules: Option<i64>,
    /// Changes to schedules, so a pass that one overtook does not publish.
    schedule_changes: u64,
}

impl Gate {
    /// The time locking count: the clock may jump when it is not positive.
    fn held(&self, now: i64) -> i64 {
        self.locks + self.working + self.runs.values().map(|hold| hold.count(now)).sum::<i64>()
    }
}

pub struct TimeSkipping {
    gate: Mutex<Gate>,
    /// Nanoseconds the clock is ahead of the machine's.
    offset: AtomicI64,
    /// Ticks on every change that may allow a jump.
    changed: Arc<Notify>,
    /// Ticks on every jump (the new offset), for whoever sleeps on the clock.
    jumped: watch::Sender<i64>,
    timers: OnceLock<Weak<Timers>>,
}

impl Clock for TimeSkipping {
    fn now(&self) -> SystemTime {
        let offset = self.offset.load(Ordering::SeqCst);
        SystemTime::now() + Duration::from_nanos(u64::try_from(offset).unwrap_or(0))
    }
}

impl TimeSkipping {
    /// A skipping clock, locked once (time is real until a test unlocks
    /// it), unless `unlocked`. Its skipper runs until it is dropped.
    pub fn start(unlocked: bool) -> Arc<Self> {
        let me = Arc::new(TimeSkipping {
            gate: Mutex::new(Gate { locks: i64::from(!unlocked), ..Gate::default() }),
            offset: AtomicI64::new(0),
            changed: Arc::default(),
            jumped: watch::channel(0).0,
            timers: OnceLock::new(),
        });
        tokio::spawn(Self::skipper(Arc::downgrade(&me)));
        me
    }

    /// The timer window whose deadlines the clock may jump to.
    pub(crate) fn watch_timers(&self, timers: &Arc<Timers>) {
        let _ = self.timers.set(Arc::downgrade(timers));
    }

    /// A receiver that ticks on every jump of the clock.
    pub(crate) fn jumps(&self) -> watch::Receiver<i64> {
        self.jumped.subscribe()
    }

    pub(crate) fn lock_gate(&self) -> MutexGuard<'_, Gate> {
        crate::sync::lock(&self.gate)
    }

    fn now_nanos(&self) -> i64 {
        i64::try_from(self.nanos()).unwrap_or(i64::MAX)
    }

    pub fn lock(&self) {
        self.lock_gate().locks += 1;
    }

    pub fn unlock(&self) -> Result<(), SkipError> {
        let now = self.now_nanos();
        let mut gate = self.lock_gate();
        if gate.held(now) <= 0 {
            return Err(SkipError::NotLocked);
        }
        gate.locks -= 1;
        drop(gate);
        self.changed.notify_one();
        Ok(())
    }

    /// Returns once the clock has reached `until` (at once if it has):
    /// the clock may jump there when nothing else holds it.
    pub async fn sleep_until(&self, until: i64) {
        let _sleeper = Sleeper { skipping: self, key: self.add_sleeper(until), relock: false };
        self.wait_for(until).await;
    }

    /// `UnlockTimeSkippingWithSleep`: unlocks, returns once the clock has
    /// moved by `duration`, locked again (also if the caller goes away).
    pub async fn unlock_while_sleeping(&self, duration: Duration) -> Result<(), SkipError> {
        let now = self.now_nanos();
        let until = now.saturating_add(i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX));
        let sleeper = {
            let mut gate = self.lock_gate();
            if gate.held(now) <= 0 {
                return Err(SkipError::NotLocked);
            }
            gate.locks -= 1;
            let id = gate.next_sleeper;
            gate.next_sleeper += 1;
            gate.sleepers.insert((until, id));
            (until, id)
        };
        self.changed.notify_one();
        // Locked again in the same step that drops the deadline, so the
        // clock cannot run on past it in between.
        let _sleeper = Sleeper { skipping: self, key: sleeper, relock: true };
        self.wait_for(until).await;
        Ok(())
    }

    fn add_sleeper(&self, until: i64) -> (i64, u64) {
        let mut gate = self.lock_gate();
        let id = gate.next_sleeper;
        gate.next_sleeper += 1;
        gate.sleepers.insert((until, id));
        drop(gate);
        self.changed.notify_one();
        (until, id)
    }

    fn remove_sleeper(&self, sleeper: (i64, u64), relock: bool) {
        let mut gate = self.lock_gate();
        gate.sleepers.remove(&sleeper);
        if relock {
            gate.locks += 1;
        }
        drop(gate);
        self.changed.notify_one();
    }

    async fn wait_for(&self, until: i64) {
        let mut jumps = self.jumps();
        loop {
            let now = self.now_nanos();
            if now >= until {
                return;
            }
            let real = Duration::from_nanos(u64::try_from(until - now).unwrap_or(0));
            tokio::select! {
                _ = tokio::time::sleep(real) => {}
                _ = jumps.changed() => {}
            }
        }
    }

    /// Records whether a run holds the clock after a commit; `gate` is held
    /// by the caller across the commit's handouts.
    pub(crate) fn record_run(&self, gate: &mut Gate, state: &MutableState) {
        let hold = RunHold::of(state, self.now_nanos());
        if hold.now == 0 && hold.backoffs.is_empty() {
            gate.runs.remove(&state.run_id);
        } else {
            gate.runs.insert(state.run_id.clone(), hold);
        }
    }

    /// Tells the skipper that something it looks at changed.
    pub(crate) fn poke(&self) {
        self.changed.notify_one();
    }

    /// Holds the clock until the returned guard is dropped.
    pub fn work(self: &Arc<Self>) -> Work {
        self.lock_gate().working += 1;
        Work(self.clone())
    }

    /// `work` for a caller that holds the gate.
    pub(crate) fn work_locked(self: &Arc<Self>, gate: &mut Gate) -> Work {
        gate.working += 1;
        Work(self.clone())
    }

    /// A schedule was created or changed: the clock is held until a
    /// scheduler pass that began after this has published its next time.
    pub(crate) fn schedules_changed(&self) {
        let mut gate = self.lock_gate();
        gate.schedule_changes += 1;
        gate.schedules = Some(i64::MIN);
    }

    /// How many schedule changes there have been (read before a pass).
    pub(crate) fn schedule_changes(&self) -> u64 {
        self.lock_gate().schedule_changes
    }

    /// The scheduler's next action time, from a pass that began after
    /// `changes` schedule changes; ignored if one came since.
    pub(crate) fn set_schedules_next(&self, next: Option<i64>, changes: u64) {
        let mut gate = self.lock_gate();
        if gate.schedule_changes == changes {
            gate.schedules = next;
        }
        drop(gate);
        self.changed.notify_one();
    }

    async fn skipper(me: Weak<TimeSkipping>) {
        loop {
            let Some(skipping) = me.upgrade() else { return };
            let notify = skipping.changed.clone();
            let changed = notify.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            skipping.try_jump();
            drop(skipping);
            tokio::select! {
                _ = changed => {}
                _ = tokio::time::sleep(RECHECK) => {}
            }
        }
    }

    /// Jumps to the earliest deadline if nothing holds the clock.
    fn try_jump(&self) {
        let gate = self.lock_gate();
        let now = self.now_nanos();
        if gate.held(now) > 0 {
            return;
        }
        let timers = self.timers.get().and_then(Weak::upgrade).and_then(|t| t.earliest());
        let sleepers = gate.sleepers.first().map(|s| s.0);
        let backoffs = gate.runs.values().flat_map(|hold| hold.backoffs.iter().copied()).filter(|at| *at > now).min();
        let Some(next) = [timers, sleepers, gate.schedules, backoffs].into_iter().flatten().min() else { return };
        if next <= now {
            // Due and not yet taken by its work: wait for that.
            return;
        }
        let offset = self.offset.fetch_add(next - now, Ordering::SeqCst) + (next - now);
        drop(gate);
        tracing::debug!(by_nanos = next - now, "time skipped");
        self.jumped.send_replace(offset);
    }
}

/// A test's sleep deadline, dropped (and the lock it lent given back)
/// when the sleep ends or its caller goes away: a deadline left behind
/// would stop the clock at it for good.
struct Sleeper<'a> {
    skipping: &'a TimeSkipping,
    key: (i64, u64),
    relock: bool,
}

impl Drop for Sleeper<'_> {
    fn drop(&mut self) {
        self.skipping.remove_sleeper(self.key, self.relock);
    }
}

/// A hold on the clock while work caused by a deadline runs.
pub struct Work(Arc<TimeSkipping>);

impl Drop for Work {
    fn drop(&mut self) {
        self.0.lock_gate().working -= 1;
        self.0.changed.notify_one();
    }
}

fn nanos(ts: &prost_types::Timestamp) -> i64 {
    i64::try_from(time::ts_nanos(ts)).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_test_server_starts_locked_and_an_unbalanced_unlock_fails() {
        let skipping = TimeSkipping::start(false);
        assert!(skipping.unlock().is_ok());
        assert!(matches!(skipping.unlock(), Err(SkipError::NotLocked)));
        assert!(matches!(skipping.unlock_while_sleeping(Duration::from_secs(1)).await, Err(SkipError::NotLocked)));
        assert_eq!(skipping.lock_gate().locks, 0, "a failed unlock changes nothing");
    }

    #[tokio::test]
    async fn unlocked_sleep_jumps_and_locks_again() {
        let skipping = TimeSkipping::start(false);
        let before = skipping.now_nanos();
        let began = std::time::Instant::now();
        skipping.unlock_while_sleeping(Duration::from_secs(86_400)).await.unwrap();
        let moved = skipping.now_nanos() - before;
        assert!(moved >= 86_400_000_000_000, "the clock moved a day: {moved}");
        assert!(began.elapsed() < Duration::from_secs(5), "without waiting a day");
        assert_eq!(skipping.lock_gate().locks, 1, "locked again");
    }

    #[tokio::test]
    async fn a_sleep_whose_caller_went_away_leaves_no_deadline() {
        let skipping = TimeSkipping::start(true);
        let far = skipping.now_nanos() + 3_600_000_000_000;
        let gone = tokio::time::timeout(Duration::from_millis(1), async {
            skipping.lock();
            skipping.sleep_until(far).await;
        });
        let _ = gone.await;
        assert!(skipping.lock_gate().sleepers.is_empty());
    }

    #[tokio::test]
    async fn a_locked_clock_runs_at_the_real_pace() {
        let skipping = TimeSkipping::start(false);
        let before = skipping.now_nanos();
        skipping.sleep_until(before + 50_000_000).await;
        let moved = skipping.now_nanos() - before;
        assert!((50_000_000..5_000_000_000).contains(&moved), "{moved}");
        assert!(skipping.lock_gate().sleepers.is_empty());
    }

    #[tokio::test]
    async fn a_busy_run_or_work_holds_the_clock() {
        let skipping = TimeSkipping::start(true);
        let mut state = MutableState {
            run_id: "r".into(),
            status: chronicle_engine::api::enums::v1::WorkflowExecutionStatus::Running as i32,
            workflow_task: Some(Default::default()),
            ..Default::default()
        };
        skipping.record_run(&mut skipping.lock_gate(), &state);
        let work = skipping.work();
        let before = skipping.now_nanos();
        let sleeping =
            tokio::time::timeout(Duration::from_millis(300), skipping.sleep_until(before + 3_600_000_000_000));
        assert!(sleeping.await.is_err(), "held: no jump");
        drop(work);
        state.workflow_task = None;
        skipping.record_run(&mut skipping.lock_gate(), &state);
        let sleeping = tokio::time::timeout(Duration::from_secs(5), skipping.sleep_until(before + 3_600_000_000_000));
        assert!(sleeping.await.is_ok(), "released: the clock jumps");
    }

    #[tokio::test]
    async fn a_test_may_unlock_what_a_run_holds() {
        // As an activity calling the test environment's sleep: the test's
        // own lock is already released (it waits on a result).
        let skipping = TimeSkipping::start(true);
        let mut state = MutableState {
            run_id: "r".into(),
            status: chronicle_engine::api::enums::v1::WorkflowExecutionStatus::Running as i32,
            ..Default::default()
        };
        state.activities.insert(5, chronicle_engine::ActivityInfo::default().into());
        skipping.record_run(&mut skipping.lock_gate(), &state);
        let before = skipping.now_nanos();
        let sleeping = tokio::time::timeout(Duration::from_secs(5), skipping.unlock_while_sleeping(DAY));
        assert!(sleeping.await.is_ok(), "unlocked against the activity's hold: the clock jumps");
        assert!(skipping.now_nanos() - before >= 86_400_000_000_000);
        assert_eq!(skipping.lock_gate().locks, 0, "given back");
        state.activities.clear();
        skipping.record_run(&mut skipping.lock_gate(), &state);
        assert!(matches!(skipping.unlock(), Err(SkipError::NotLocked)), "nothing held now");
    }

    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn an_activity_in_backoff_holds_from_its_end() {
        let at = |s: i64| prost_types::Timestamp { seconds: s, nanos: 0 };
        let mut state = MutableState {
            status: chronicle_engine::api::enums::v1::WorkflowExecutionStatus::Running as i32,
            ..Default::default()
        };
        state.activities.insert(
            5,
            chronicle_engine::ActivityInfo { current_attempt_scheduled_time: Some(at(100)), ..Default::default() }
                .into(),
        );
        let hold = RunHold::of(&state, 50_000_000_000);
        assert_eq!(hold, RunHold { now: 0, backoffs: vec![100_000_000_000] });
        assert_eq!(hold.count(99_000_000_000), 0);
        assert_eq!(hold.count(100_000_000_000), 1);
        assert_eq!(RunHold::of(&state, 100_000_000_000).now, 1);
    }
}
