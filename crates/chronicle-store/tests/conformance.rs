#![allow(clippy::unwrap_used)] // in tests, a failed unwrap is a failed test
//! Store conformance: every backend must pass these. Each check is a generic
//! async fn over `Arc<dyn Store>`, run on every backend (`suites!` at the
//! bottom: SQLite in a file and in memory, PostgreSQL in a database of the
//! test's own); a new backend adds one line there.

use chronicle_engine::api::workflow::v1::WorkflowExecutionInfo;
use chronicle_engine::api::{
    command::v1::{
        Command, CompleteWorkflowExecutionCommandAttributes, ScheduleActivityTaskCommandAttributes,
        command::Attributes as C,
    },
    common::v1::{ActivityType, Payload, Payloads},
    enums::v1::{CommandType, EventType, IndexedValueType, WorkflowExecutionStatus},
    history::v1::HistoryEvent,
};
use chronicle_engine::{
    Input, MutableState, StartArgs, Task, TimerKind, TimerTask, Transition, WorkflowTaskCompletion, apply, start,
};
use chronicle_store::visibility::Query;
use chronicle_store::{
    BatchRecord, CustomSearchAttributes, DeploymentRecord, ExecutionWrite, ListCursor, Missing, NamespaceRecord,
    PostgresOptions, PostgresStore, ScheduleRecord, SqliteOptions, SqliteStore, Store, StoreError, VisibilityCursor,
};
use prost_types::{Duration, Timestamp};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

#[path = "conformance/cluster.rs"]
mod cluster;
#[path = "support/postgres.rs"]
mod postgres_db;
#[path = "conformance/postgres_only.rs"]
mod postgres_only;
#[path = "conformance/visibility.rs"]
mod visibility;
use postgres_db::TestDatabase;
pub use visibility::*;

type DynStore = Arc<dyn Store>;

const NS: &str = "default";

fn at(secs: i64) -> Timestamp {
    Timestamp { seconds: 1_700_000_000 + secs, nanos: 0 }
}

fn payloads(s: &str) -> Payloads {
    Payloads { payloads: vec![Payload { data: s.as_bytes().to_vec(), ..Default::default() }] }
}

fn ids(events: &[HistoryEvent]) -> Vec<i64> {
    events.iter().map(|e| e.event_id).collect()
}

fn is_conflict<T: std::fmt::Debug>(r: Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::Conflict(_)))
}

/// A run driven through the engine, producing the writes a server would
/// commit.
#[derive(Clone)]
struct RunDriver {
    state: MutableState,
    history: Vec<HistoryEvent>,
    clock: i64,
    /// The run as visibility lists it: as of its last write that updated
    /// visibility (creation, or a visible change).
    listed: WorkflowExecutionInfo,
}

impl RunDriver {
    /// Starts a run; returns it and the creating write (no current-pointer
    /// expectation set: callers choose).
    fn start(namespace: &str, workflow_id: &str, run_id: &str) -> (RunDriver, ExecutionWrite) {
        Self::start_at(namespace, workflow_id, run_id, 0)
    }

    /// Starts a run at `at(secs)`.
    fn start_at(namespace: &str, workflow_id: &str, run_id: &str, secs: i64) -> (RunDriver, ExecutionWrite) {
        Self::start_with(
            StartArgs {
                namespace: namespace.into(),
                workflow_id: workflow_id.into(),
                run_id: run_id.into(),
                workflow_type: "Wf".into(),
                task_queue: "tq".into(),
                request_id: format!("req-{run_id}"),
                ..Default::default()
            },
            secs,
        )
    }

    /// Starts a run as `args` say at `at(secs)`.
    fn start_with(args: StartArgs, secs: i64) -> (RunDriver, ExecutionWrite) {
        let t = start(args, at(secs));
        let write = ExecutionWrite {
            state: t.state.clone(),
            expected_version: 0,
            events: t.events.clone(),
            set_current: Some(None),
            update_visibility: true,
        };
        let listed = t.state.execution_info();
        (RunDriver { state: t.state, history: t.events, clock: secs, listed }, write)
    }

    fn transition(&self, input: Input) -> Transition {
        apply(&self.state, input, at(self.clock)).expect("engine accepts the input")
    }

    /// Applies `input` and returns the conditional write of the result.
    fn step(&mut self, input: Input) -> ExecutionWrite {
        self.clock += 1;
        let t = self.transition(input);
        let write = ExecutionWrite {
            state: t.state.clone(),
            expected_version: self.state.db_version,
            events: t.events.clone(),
            set_current: None,
            update_visibility: self.state.visibility_differs(&t.state),
        };
        if write.update_visibility {
            self.listed = t.state.execution_info();
        }
        self.history.extend(t.events);
        self.state = t.state;
        write
    }

    fn poll_input(&self) -> Input {
        let wt = self.state.workflow_task.as_ref().expect("workflow task pending");
        Input::WorkflowTaskStarted {
            target_version_changed: false,
            routing_revision: 0,
            scheduled_event_id: wt.scheduled_event_id,
            attempt: wt.attempt,
            identity: "worker".into(),
            request_id: format!("poll-{}", wt.scheduled_event_id),
            worker_version: None,
        }
    }

    fn complete_input(&self, commands: Vec<Command>) -> Input {
        let wt = self.state.workflow_task.as_ref().expect("workflow task pending");
        Input::WorkflowTaskCompleted(Box::new(WorkflowTaskCompletion {
            scheduled_event_id: wt.scheduled_event_id,
            attempt: wt.attempt,
            commands,
            identity: "worker".into(),
            ..Default::default()
        }))
    }

    fn terminate_input() -> Input {
        Input::Terminate { reason: "test".into(), details: None, identity: "admin".into() }
    }

    /// The writes of one full cycle: poll, schedule an activity, run it
    /// (6 events: WTStarted, WTCompleted, ATScheduled, ATStarted,
    /// ATCompleted, WTScheduled).
    fn activity_cycle(&mut self, n: usize) -> Vec<ExecutionWrite> {
        let mut writes = vec![self.step(self.poll_input())];
        writes.push(self.step(self.complete_input(vec![activity(&format!("act-{n}"))])));
        let sched = *self.state.activities.keys().next().unwrap();
        writes.push(self.step(Input::ActivityTaskStarted {
            scheduled_event_id: sched,
            attempt: 1,
            identity: "w".into(),
            request_id: format!("a{sched}"),
            worker_version: None,
        }));
        writes.push(self.step(Input::ActivityTaskCompleted {
            scheduled_event_id: sched,
            attempt: 1,
            result: Some(payloads("r")),
            identity: "w".into(),
        }));
        writes
    }

    /// Poll and complete the workflow.
    fn complete_workflow(&mut self) -> Vec<ExecutionWrite> {
        let poll = self.step(self.poll_input());
        let done = self.step(self.complete_input(vec![complete_workflow()]));
        vec![poll, done]
    }
}

fn activity(id: &str) -> Command {
    Command {
        command_type: CommandType::ScheduleActivityTask as i32,
        attributes: Some(C::ScheduleActivityTaskCommandAttributes(ScheduleActivityTaskCommandAttributes {
            activity_id: id.into(),
            activity_type: Some(ActivityType { name: "Act".into() }),
            start_to_close_timeout: Some(Duration { seconds: 30, nanos: 0 }),
            ..Default::default()
        })),
        ..Default::default()
    }
}

fn complete_workflow() -> Command {
    Command {
        command_type: CommandType::CompleteWorkflowExecution as i32,
        attributes: Some(C::CompleteWorkflowExecutionCommandAttributes(CompleteWorkflowExecutionCommandAttributes {
            result: Some(payloads("done")),
        })),
        ..Default::default()
    }
}

async fn commit1(store: &DynStore, w: ExecutionWrite) -> Result<(), StoreError> {
    store.commit(vec![w]).await
}

async fn full_history(store: &DynStore, run_id: &str) -> Vec<HistoryEvent> {
    store.read_history(run_id, 1, usize::MAX).await.unwrap()
}

async fn assert_stored(store: &DynStore, run: &RunDriver) {
    let s = &run.state;
    let loaded = store.load_execution(&s.namespace, &s.workflow_id, &s.run_id).await.unwrap();
    assert_eq!(loaded.as_ref(), Some(s), "stored state of {}", s.run_id);
    assert_eq!(full_history(store, &s.run_id).await, run.history, "stored history of {}", s.run_id);
}

// ---------------------------------------------------------------------------
// The conformance checks.
// ---------------------------------------------------------------------------

pub async fn create_run_and_current_pointer(store: DynStore) {
    assert_eq!(store.current_run(NS, "wf").await.unwrap(), None);
    assert_eq!(store.load_execution(NS, "wf", "run-1").await.unwrap(), None);
    assert!(full_history(&store, "run-1").await.is_empty());

    let (run, create) = RunDriver::start(NS, "wf", "run-1");
    assert_eq!(create.state.db_version, 1);
    commit1(&store, create.clone()).await.unwrap();

    assert_eq!(store.current_run(NS, "wf").await.unwrap().as_deref(), Some("run-1"));
    assert_stored(&store, &run).await;
    assert_eq!(ids(&full_history(&store, "run-1").await), vec![1, 2]);
    assert_eq!(store.load_current_execution(NS, "wf").await.unwrap().as_ref(), Some(&run.state));
    assert_eq!(store.load_current_execution(NS, "other-wf").await.unwrap(), None);
    assert_eq!(store.load_current_execution("other-ns", "wf").await.unwrap(), None);

    // The run is addressed by namespace and workflow id too.
    assert_eq!(store.load_execution("other-ns", "wf", "run-1").await.unwrap(), None);
    assert_eq!(store.load_execution(NS, "other-wf", "run-1").await.unwrap(), None);

    // Creating it again (expected version 0) conflicts and changes nothing.
    let again = ExecutionWrite { set_current: None, ..create };
    assert!(is_conflict(commit1(&store, again).await));
    assert_stored(&store, &run).await;

    // Workflow ids are per namespace.
    assert_eq!(store.current_run("other-ns", "wf").await.unwrap(), None);
    let (other, create) = RunDriver::start("other-ns", "wf", "run-2");
    commit1(&store, create).await.unwrap();
    assert_eq!(store.current_run("other-ns", "wf").await.unwrap().as_deref(), Some("run-2"));
    assert_eq!(store.current_run(NS, "wf").await.unwrap().as_deref(), Some("run-1"));
    assert_stored(&store, &other).await;
}

pub async fn conditional_update_wins_and_loses(store: DynStore) {
    let (mut run, create) = RunDriver::start(NS, "wf", "run-1");
    commit1(&store, create).await.unwrap();
    let v1 = run.clone();

    // The winner: expected version 1.
    let poll = run.step(run.poll_input());
    assert_eq!((poll.expected_version, poll.state.db_version), (1, 2));
    commit1(&store, poll).await.unwrap();
    assert_stored(&store, &run).await;

    // A rival transition from the same version 1 (colliding event id 3).
    let mut rival = v1.clone();
    let terminate = rival.step(RunDriver::terminate_input());
    assert_eq!(ids(&terminate.events), vec![3]);
    assert!(is_conflict(commit1(&store, terminate).await));
    assert_stored(&store, &run).await;

    // A stale write whose events would not collide still leaves nothing.
    let mut ahead = run.clone();
    let mut stale = ahead.step(ahead.complete_input(vec![activity("a")]));
    stale.expected_version = 1;
    let stale_ids = ids(&stale.events);
    assert_eq!(stale_ids, vec![4, 5]);
    assert!(is_conflict(commit1(&store, stale).await));
    assert_stored(&store, &run).await;
    assert!(store.read_history("run-1", 4, 10).await.unwrap().is_empty());

    // Updating a run that does not exist conflicts and creates nothing.
    let (ghost, _) = RunDriver::start(NS, "ghost", "run-ghost");
    let mut ghost_write = ghost.clone().step(ghost.poll_input());
    ghost_write.expected_version = 1;
    assert!(is_conflict(commit1(&store, ghost_write).await));
    assert_eq!(store.load_execution(NS, "ghost", "run-ghost").await.unwrap(), None);
    assert!(full_history(&store, "run-ghost").await.is_empty());

    // The winner goes on from version 2.
    let next = run.step(run.complete_input(vec![activity("a")]));
    assert_eq!(next.expected_version, 2);
    commit1(&store, next).await.unwrap();
    assert_stored(&store, &run).await;
}

pub async fn one_commit_is_all_or_nothing(store: DynStore) {
    let (mut a, create_a) = RunDriver::start(NS, "wf-a", "run-a");
    let (mut b, create_b) = RunDriver::start(NS, "wf-b", "run-b");
    store.commit(vec![create_a, create_b]).await.unwrap();
    assert_stored(&store, &a).await;
    assert_stored(&store, &b).await;

    let a_before = a.clone();
    let good = a.step(a.poll_input());
    let mut bad = b.clone().step(b.poll_input());
    bad.expected_version = 7;
    assert!(is_conflict(store.commit(vec![good.clone(), bad]).await));
    assert_stored(&store, &a_before).await;
    assert_stored(&store, &b).await;

    // The good write alone goes through.
    store.commit(vec![good]).await.unwrap();
    assert_stored(&store, &a).await;
    let both = vec![a.step(RunDriver::terminate_input()), b.step(RunDriver::terminate_input())];
    store.commit(both).await.unwrap();
    assert_stored(&store, &a).await;
    assert_stored(&store, &b).await;

    store.commit(vec![]).await.unwrap();
}

pub async fn set_current_with_stale_expectation_conflicts(store: DynStore) {
    let (run1, create1) = RunDriver::start(NS, "wf", "run-1");
    commit1(&store, create1).await.unwrap();

    // "There must be no current run" is stale now.
    let (run2, create2) = RunDriver::start(NS, "wf", "run-2");
    assert!(is_conflict(commit1(&store, create2.clone()).await));
    assert_eq!(store.load_execution(NS, "wf", "run-2").await.unwrap(), None, "the losing run is not created");
    assert!(full_history(&store, "run-2").await.is_empty());
    assert_eq!(store.current_run(NS, "wf").await.unwrap().as_deref(), Some("run-1"));

    // Expecting the wrong current run conflicts too.
    let wrong = ExecutionWrite { set_current: Some(Some("run-0".into())), ..create2.clone() };
    assert!(is_conflict(commit1(&store, wrong).await));
    assert_eq!(store.current_run(NS, "wf").await.unwrap().as_deref(), Some("run-1"));

    // The right expectation moves the pointer.
    let right = ExecutionWrite { set_current: Some(Some("run-1".into())), ..create2 };
    commit1(&store, right).await.unwrap();
    assert_eq!(store.current_run(NS, "wf").await.unwrap().as_deref(), Some("run-2"));
    assert_stored(&store, &run2).await;
    assert_stored(&store, &run1).await;

    // A third run expecting run-1 is now stale.
    let (_, create3) = RunDriver::start(NS, "wf", "run-3");
    let stale = ExecutionWrite { set_current: Some(Some("run-1".into())), ..create3 };
    assert!(is_conflict(commit1(&store, stale).await));
    assert_eq!(store.load_execution(NS, "wf", "run-3").await.unwrap(), None);
    assert_eq!(store.current_run(NS, "wf").await.unwrap().as_deref(), Some("run-2"));

    // A run created without touching the pointer leaves it alone.
    let (_, create4) = RunDriver::start(NS, "wf", "run-4");
    commit1(&store, ExecutionWrite { set_current: None, ..create4 }).await.unwrap();
    assert_eq!(store.current_run(NS, "wf").await.unwrap().as_deref(), Some("run-2"));
    assert!(store.load_execution(NS, "wf", "run-4").await.unwrap().is_some());
}

pub async fn history_ranges_and_paging(store: DynStore) {
    let (mut run, create) = RunDriver::start(NS, "wf", "run-1");
    commit1(&store, create).await.unwrap();
    for n in 0..5 {
        for w in run.activity_cycle(n) {
            commit1(&store, w).await.unwrap();
        }
    }
    assert_eq!(run.history.len(), 32);
    // A neighbour whose events must never show up in run-1's history.
    let (other, create) = RunDriver::start(NS, "wf-2", "run-2");
    commit1(&store, create).await.unwrap();

    let all = full_history(&store, "run-1").await;
    assert_eq!(all, run.history, "events round-trip exactly, in order");
    assert_eq!(ids(&all), (1..=32).collect::<Vec<_>>());

    let range = |from: i64, max: usize| {
        let store = store.clone();
        async move { ids(&store.read_history("run-1", from, max).await.unwrap()) }
    };
    assert_eq!(range(10, 5).await, vec![10, 11, 12, 13, 14]);
    assert_eq!(range(30, 100).await, vec![30, 31, 32]);
    assert_eq!(range(32, 1).await, vec![32]);
    assert_eq!(range(33, 10).await, Vec::<i64>::new());
    assert_eq!(range(0, 3).await, vec![1, 2, 3]);
    assert_eq!(range(1, 0).await, Vec::<i64>::new());

    // Paging: each page starts after the last id of the previous one.
    let mut paged = Vec::new();
    let mut pages = 0;
    let mut from = 1;
    loop {
        let page = store.read_history("run-1", from, 7).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 7);
        pages += 1;
        from = page.last().unwrap().event_id + 1;
        paged.extend(page);
    }
    assert_eq!(pages, 5);
    assert_eq!(paged, all);

    assert_eq!(full_history(&store, "run-2").await, other.history);
    assert!(full_history(&store, "no-such-run").await.is_empty());
}

/// Closed runs stay readable, and no work of theirs is left in any queue.
pub async fn closed_runs_stay_readable_without_work(store: DynStore) {
    let (mut running, c1) = RunDriver::start(NS, "wf-running", "run-running");
    let (mut completed, c2) = RunDriver::start(NS, "wf-completed", "run-completed");
    let (mut terminated, c3) = RunDriver::start(NS, "wf-terminated", "run-terminated");
    store.commit(vec![c1, c2, c3]).await.unwrap();
    for w in completed.complete_workflow() {
        commit1(&store, w).await.unwrap();
    }
    commit1(&store, terminated.step(RunDriver::terminate_input())).await.unwrap();
    commit1(&store, running.step(running.poll_input())).await.unwrap();
    assert_eq!(completed.state.status(), WorkflowExecutionStatus::Completed);
    assert_eq!(terminated.state.status(), WorkflowExecutionStatus::Terminated);

    // Only the running run has work: its started workflow task's timeout.
    assert_eq!(pending_runs(&store).await, ["run-running"]);

    commit1(&store, running.step(RunDriver::terminate_input())).await.unwrap();
    assert!(pending_runs(&store).await.is_empty());
    // Closed runs stay readable.
    assert_stored(&store, &running).await;
    assert_stored(&store, &completed).await;
    assert_stored(&store, &terminated).await;
    assert_eq!(
        full_history(&store, "run-completed").await.last().map(|e| e.event_type),
        Some(EventType::WorkflowExecutionCompleted as i32)
    );
}

/// The runs with a row in any queue (task queue "tq", timers, transfer).
async fn pending_runs(store: &DynStore) -> Vec<String> {
    let mut runs = BTreeSet::new();
    for activity in [false, true] {
        runs.extend(
            store.queued_tasks(NS, "tq", activity, i64::MAX, 10_000).await.unwrap().into_iter().map(|t| t.run_id),
        );
    }
    runs.extend(store.due_tasks(None, i64::MAX, 10_000).await.unwrap().into_iter().map(|(_, t)| t.run_id));
    runs.extend(store.transfer_tasks(0, 10_000).await.unwrap().into_iter().map(|t| t.run_id));
    runs.into_iter().collect()
}

async fn all_runs(store: &DynStore, namespace: &str) -> Vec<WorkflowExecutionInfo> {
    store.list_runs(namespace, &Query::default(), None, usize::MAX).await.unwrap().runs
}

fn run_ids(infos: &[WorkflowExecutionInfo]) -> Vec<String> {
    infos.iter().map(|i| i.execution.as_ref().unwrap().run_id.clone()).collect()
}

pub async fn visibility_lists_runs_newest_first(store: DynStore) {
    assert!(all_runs(&store, NS).await.is_empty());
    let mut runs = Vec::new();
    let mut writes = Vec::new();
    // run-b and run-d start at the same time: the larger run id comes first.
    for (wf, run, secs) in [("wf-a", "run-a", 10), ("wf-b", "run-b", 30), ("wf-c", "run-c", 20), ("wf-d", "run-d", 30)]
    {
        let (driver, create) = RunDriver::start_at(NS, wf, run, secs);
        runs.push(driver);
        writes.push(create);
    }
    store.commit(writes).await.unwrap();
    let (other, create) = RunDriver::start_at("other-ns", "wf-e", "run-e", 40);
    commit1(&store, create).await.unwrap();

    let listed = all_runs(&store, NS).await;
    assert_eq!(run_ids(&listed), ["run-d", "run-b", "run-c", "run-a"]);
    for info in &listed {
        let run = runs.iter().find(|r| Some(&r.state.run_id) == info.execution.as_ref().map(|e| &e.run_id)).unwrap();
        assert_eq!(info, &run.listed, "the run's WorkflowExecutionInfo");
    }
    assert_eq!(all_runs(&store, "other-ns").await, vec![other.listed.clone()]);
    assert!(all_runs(&store, "no-such-ns").await.is_empty());
    let everything = Query::default();
    assert!(store.list_runs(NS, &everything, None, 0).await.unwrap().runs.is_empty());

    // Paging: each page continues after the last run of the previous one.
    let mut paged = Vec::new();
    let mut from = None;
    loop {
        let page = store.list_runs(NS, &everything, from, 3).await.unwrap();
        assert!(page.runs.len() <= 3);
        paged.extend(page.runs);
        match page.next {
            Some(next) => from = Some(next),
            None => break,
        }
    }
    assert_eq!(paged, listed);
    let tie = VisibilityCursor { start_time: VisibilityCursor::after(&listed[0]).start_time, run_id: "run-c".into() };
    let page = store.list_runs(NS, &everything, Some(ListCursor::After(tie)), 10).await.unwrap();
    assert_eq!((run_ids(&page.runs), page.next), (vec!["run-b".into(), "run-c".into(), "run-a".into()], None));
}

pub async fn visibility_follows_visible_changes(store: DynStore) {
    let (mut done, create) = RunDriver::start_at(NS, "wf-done", "run-done", 1);
    commit1(&store, create).await.unwrap();
    let (mut killed, create) = RunDriver::start_at(NS, "wf-killed", "run-killed", 2);
    commit1(&store, create).await.unwrap();
    for w in done.complete_workflow() {
        commit1(&store, w).await.unwrap();
    }
    commit1(&store, killed.step(RunDriver::terminate_input())).await.unwrap();

    let listed = all_runs(&store, NS).await;
    assert_eq!(listed, vec![killed.listed.clone(), done.listed.clone()]);
    assert_eq!(listed[1].status, WorkflowExecutionStatus::Completed as i32);
    assert_eq!(listed[1].history_length, done.history.len() as i64);
    assert!(listed[1].close_time.is_some());
    assert_eq!(listed[0].status, WorkflowExecutionStatus::Terminated as i32);

    // A write that loses changes nothing, its run's row included.
    let (mut running, create) = RunDriver::start_at(NS, "wf-running", "run-running", 3);
    commit1(&store, create).await.unwrap();
    let mut stale = running.clone().step(RunDriver::terminate_input());
    stale.expected_version = 7;
    assert!(is_conflict(commit1(&store, stale).await));
    let (_, losing_create) = RunDriver::start_at(NS, "wf-running", "run-loser", 4);
    assert!(is_conflict(commit1(&store, losing_create).await));
    let listed = all_runs(&store, NS).await;
    assert_eq!(run_ids(&listed), ["run-running", "run-killed", "run-done"]);
    assert_eq!(listed[0], running.listed);
    assert_eq!(listed[0].status, WorkflowExecutionStatus::Running as i32);

    // A step that changes nothing visible leaves the record as it was.
    let before = running.listed.clone();
    let poll = running.step(running.poll_input());
    assert!(!poll.update_visibility);
    commit1(&store, poll).await.unwrap();
    assert_eq!(all_runs(&store, NS).await[0], before);
    assert_ne!(running.state.execution_info(), before, "the state moved on (history length, ...)");
}

/// The task table holds exactly each run's pending work, found through the
/// task-queue, timer and transfer indexes.
pub async fn task_rows_follow_pending_work(store: DynStore) {
    let queued = |activity: bool| {
        let store = store.clone();
        async move { store.queued_tasks(NS, "tq", activity, i64::MAX, 100).await.unwrap() }
    };
    let due = || {
        let store = store.clone();
        async move { store.due_tasks(None, i64::MAX, 100).await.unwrap() }
    };
    let (mut a, w1) = RunDriver::start(NS, "wf-a", "run-a");
    let (mut b, w2) = RunDriver::start(NS, "wf-b", "run-b");
    commit1(&store, w1).await.unwrap();
    commit1(&store, w2).await.unwrap();
    let rows = queued(false).await;
    assert_eq!(rows.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(), ["run-a", "run-b"], "oldest first");
    assert!(matches!(rows[0].task, Task::WorkflowTask { scheduled_event_id: 2, attempt: 1, sticky: false, .. }));
    assert_eq!((rows[0].namespace.as_str(), rows[0].workflow_id.as_str()), (NS, "wf-a"));
    assert_eq!(store.count_queued_tasks(NS, "tq", false).await.unwrap(), 2);
    assert!(store.queued_tasks(NS, "tq", false, i64::MAX, 1).await.unwrap().len() == 1, "limited");
    assert!(store.queued_tasks(NS, "other", false, i64::MAX, 100).await.unwrap().is_empty());
    assert!(store.transfer_tasks(0, 100).await.unwrap().is_empty());

    // Started: the queued row goes, the start-to-close deadline comes.
    commit1(&store, a.step(a.poll_input())).await.unwrap();
    assert_eq!(queued(false).await.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(), ["run-b"]);
    let timers = due().await;
    assert_eq!(timers.len(), 1);
    assert!(matches!(
        &timers[0].1.task,
        Task::Timer(TimerTask { kind: TimerKind::WorkflowTaskTimeout { scheduled_event_id: 2, .. }, .. })
    ));
    assert_eq!(timers[0].0, (at(a.clock).seconds + 10) * 1_000_000_000, "due at start + 10 s");
    assert!(store.due_tasks(None, timers[0].0 - 1, 100).await.unwrap().is_empty(), "not due before");
    assert!(store.due_tasks(Some((timers[0].0, timers[0].1.id)), i64::MAX, 100).await.unwrap().is_empty());

    // Completed with an activity: an activity task, no timer.
    commit1(&store, a.step(a.complete_input(vec![activity("x")]))).await.unwrap();
    assert!(due().await.is_empty());
    let activities = queued(true).await;
    assert_eq!(activities.len(), 1);
    assert!(matches!(&activities[0].task, Task::ActivityTask(d) if d.attempt == 1));
    assert!(store.queued_tasks(NS, "tq", true, 0, 100).await.unwrap().is_empty(), "not visible before scheduled");

    // Closed: nothing of the run is left.
    commit1(&store, a.step(RunDriver::terminate_input())).await.unwrap();
    assert!(queued(true).await.is_empty() && due().await.is_empty());
    assert_eq!(queued(false).await.len(), 1);

    commit1(&store, b.step(RunDriver::terminate_input())).await.unwrap();
    assert!(queued(false).await.is_empty());
    assert_eq!(store.count_queued_tasks(NS, "tq", false).await.unwrap(), 0);
}

pub async fn delete_removes_a_run_entirely(store: DynStore) {
    let (mut first, create) = RunDriver::start_at(NS, "wf-del", "run-a", 1);
    commit1(&store, create).await.unwrap();
    for w in first.complete_workflow() {
        commit1(&store, w).await.unwrap();
    }
    let (mut second, create) = RunDriver::start_at(NS, "wf-del", "run-b", 2);
    commit1(&store, ExecutionWrite { set_current: Some(Some("run-a".into())), ..create }).await.unwrap();
    // A running run is not deleted (the server still has work on it).
    assert!(is_conflict(store.delete_execution(NS, "wf-del", "run-b").await));
    assert_stored(&store, &second).await;
    // Deleting an older run keeps the current pointer on the newer one.
    store.delete_execution(NS, "wf-del", "run-a").await.unwrap();
    assert_eq!(store.load_execution(NS, "wf-del", "run-a").await.unwrap(), None);
    assert!(store.read_history("run-a", 1, 100).await.unwrap().is_empty());
    assert_eq!(run_ids(&all_runs(&store, NS).await), ["run-b"]);
    assert_eq!(store.current_run(NS, "wf-del").await.unwrap().as_deref(), Some("run-b"));
    // Deleting the current run removes the pointer; a second delete is NotFound.
    for w in second.complete_workflow() {
        commit1(&store, w).await.unwrap();
    }
    store.delete_execution(NS, "wf-del", "run-b").await.unwrap();
    assert_eq!(store.current_run(NS, "wf-del").await.unwrap(), None);
    assert!(all_runs(&store, NS).await.is_empty());
    assert!(matches!(
        store.delete_execution(NS, "wf-del", "run-b").await,
        Err(StoreError::NotFound(Missing::Execution { workflow_id, run_id })) if workflow_id == "wf-del" && run_id == "run-b"
    ));
}

fn key(workflow_id: &str, run_id: &str) -> (String, String) {
    (workflow_id.to_string(), run_id.to_string())
}

fn nanos(ts: Timestamp) -> i64 {
    chronicle_engine::time::ts_nanos(&ts) as i64
}

/// Starts a run at `at(secs)` and completes it at `at(secs + 2)`; the last
/// write is handed to `last` before it is committed.
async fn closed_run(
    store: &DynStore,
    namespace: &str,
    workflow_id: &str,
    run_id: &str,
    secs: i64,
    last: impl FnOnce(&mut ExecutionWrite),
) -> RunDriver {
    let (mut run, create) = RunDriver::start_at(namespace, workflow_id, run_id, secs);
    commit1(store, create).await.unwrap();
    let mut writes = run.complete_workflow();
    if let Some(w) = writes.last_mut() {
        last(w);
        run.state = w.state.clone();
    }
    store.commit(writes).await.unwrap();
    run
}

pub async fn retention_finds_expired_runs_and_deletes_in_batches(store: DynStore) {
    // Five runs closed at at(2), at(12), ... at(42); one still running; one
    // closed at at(2) with its parent still to be told; one closed at
    // at(102); one closed at at(2) in another namespace.
    let mut old = Vec::new();
    for i in 0..5 {
        let run = closed_run(&store, NS, &format!("old-{i}"), &format!("old-run-{i}"), i * 10, |_| {}).await;
        old.push(run);
    }
    let (open, create) = RunDriver::start_at(NS, "open", "open-run", 0);
    commit1(&store, create).await.unwrap();
    let mut pending =
        closed_run(&store, NS, "pending", "pending-run", 0, |w| w.state.parent_notification_pending = true).await;
    assert!(pending.state.needs_recovery() && !pending.state.is_running());
    closed_run(&store, NS, "late", "late-run", 100, |_| {}).await;
    closed_run(&store, "other-ns", "old-0", "other-run", 0, |_| {}).await;
    let old_keys: Vec<_> = old.iter().map(|r| key(&r.state.workflow_id, &r.state.run_id)).collect();

    // Oldest close first; open, pending, late and other namespaces' runs left out.
    let cutoff = nanos(at(50));
    assert_eq!(store.expired_executions(NS, cutoff, 100).await.unwrap(), old_keys);
    assert_eq!(store.expired_executions(NS, cutoff, 2).await.unwrap(), old_keys[..2]);
    // Closed strictly before the cutoff.
    assert!(store.expired_executions(NS, nanos(at(2)), 10).await.unwrap().is_empty());
    assert_eq!(store.expired_executions(NS, nanos(at(2)) + 1, 10).await.unwrap(), old_keys[..1]);

    // A batch deletes what may go and skips the rest (running, post-close
    // work left, absent).
    let mut batch = old_keys[..3].to_vec();
    batch.extend([key("open", "open-run"), key("pending", "pending-run"), key("nobody", "no-run")]);
    assert_eq!(store.delete_executions(NS, batch).await.unwrap(), old_keys[..3]);
    for (workflow_id, run_id) in &old_keys[..3] {
        assert_eq!(store.load_execution(NS, workflow_id, run_id).await.unwrap(), None);
        assert!(store.read_history(run_id, 1, 100).await.unwrap().is_empty());
        assert_eq!(store.current_run(NS, workflow_id).await.unwrap(), None);
    }
    assert_stored(&store, &open).await;
    assert_stored(&store, &pending).await;
    assert_eq!(store.current_run(NS, "open").await.unwrap().as_deref(), Some("open-run"));
    assert_eq!(run_ids(&all_runs(&store, NS).await), ["late-run", "old-run-4", "old-run-3", "pending-run", "open-run"]);
    // The next batch starts where this one stopped.
    assert_eq!(store.expired_executions(NS, cutoff, 100).await.unwrap(), old_keys[3..]);

    // Once its post-close work is done, the pending run expires too.
    let mut notified = pending.state.clone();
    notified.parent_notification_pending = false;
    notified.db_version += 1;
    let expected_version = pending.state.db_version;
    pending.state = notified.clone();
    let done = ExecutionWrite {
        state: notified,
        expected_version,
        events: vec![],
        set_current: None,
        update_visibility: false,
    };
    commit1(&store, done).await.unwrap();
    let rest = [vec![key("pending", "pending-run")], old_keys[3..].to_vec()].concat();
    assert_eq!(store.expired_executions(NS, cutoff, 100).await.unwrap(), rest);
    assert_eq!(store.delete_executions(NS, rest.clone()).await.unwrap(), rest);
    assert!(store.expired_executions(NS, cutoff, 100).await.unwrap().is_empty());
    assert_eq!(run_ids(&all_runs(&store, NS).await), ["late-run", "open-run"]);
    // Another namespace's runs are its own.
    assert_eq!(store.expired_executions("other-ns", cutoff, 100).await.unwrap(), [key("old-0", "other-run")]);
    assert!(store.delete_executions(NS, vec![key("old-0", "other-run")]).await.unwrap().is_empty());
}

pub async fn namespaces_update(store: DynStore) {
    store.create_namespace(namespace("ns-u", "before")).await.unwrap();
    store.update_namespace(namespace("ns-u", "after")).await.unwrap();
    assert_eq!(store.list_namespaces().await.unwrap(), vec![namespace("ns-u", "after")]);
    assert!(matches!(
        store.update_namespace(namespace("nobody", "x")).await,
        Err(StoreError::NamespaceNotFound { name }) if name == "nobody"
    ));
}

fn namespace(name: &str, description: &str) -> NamespaceRecord {
    NamespaceRecord {
        name: name.into(),
        id: format!("id-{name}"),
        description: description.into(),
        owner_email: "owner@example.com".into(),
        retention: Some(Duration { seconds: 72 * 3600, nanos: 0 }),
        data: BTreeMap::from([("k".to_string(), "v".to_string())]),
    }
}

pub async fn namespaces_create_conflict_and_list(store: DynStore) {
    assert!(store.list_namespaces().await.unwrap().is_empty());
    let b = namespace("b-ns", "first");
    store.create_namespace(b.clone()).await.unwrap();
    let a = namespace("a-ns", "");
    store.create_namespace(a.clone()).await.unwrap();

    let dup = store.create_namespace(namespace("b-ns", "second")).await;
    assert_eq!(dup, Err(StoreError::NamespaceExists { name: "b-ns".into() }));

    assert_eq!(store.list_namespaces().await.unwrap(), vec![a, b], "sorted by name, the original kept");
}

fn attributes(pairs: &[(&str, IndexedValueType)]) -> CustomSearchAttributes {
    pairs.iter().map(|(name, ty)| (name.to_string(), *ty)).collect()
}

pub async fn search_attributes_register_per_namespace(store: DynStore) {
    use IndexedValueType::{Bool, Int, Keyword, KeywordList};
    assert!(store.search_attributes().await.unwrap().is_empty());
    store.add_search_attributes("a-ns", attributes(&[("Color", Keyword), ("Size", Int)])).await.unwrap();
    // The same name with the same type: nothing to do.
    store.add_search_attributes("a-ns", attributes(&[("Color", Keyword)])).await.unwrap();
    // Another type: refused as a whole (Tags is not added either).
    let clash = store.add_search_attributes("a-ns", attributes(&[("Tags", KeywordList), ("Size", Bool)])).await;
    assert_eq!(clash, Err(StoreError::SearchAttributeExists { name: "Size".into() }));
    // Names are per namespace.
    store.add_search_attributes("b-ns", attributes(&[("Size", Bool)])).await.unwrap();
    let all = store.search_attributes().await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all["a-ns"], attributes(&[("Color", Keyword), ("Size", Int)]));
    assert_eq!(all["b-ns"], attributes(&[("Size", Bool)]));

    // Removing an unknown name is refused as a whole (Color stays).
    let missing = store.remove_search_attributes("a-ns", vec!["Color".into(), "Nope".into()]).await;
    assert_eq!(missing, Err(StoreError::SearchAttributeNotFound { name: "Nope".into() }));
    let missing = store.remove_search_attributes("c-ns", vec!["Size".into()]).await;
    assert_eq!(missing, Err(StoreError::SearchAttributeNotFound { name: "Size".into() }));
    store.remove_search_attributes("a-ns", vec!["Color".into(), "Size".into()]).await.unwrap();
    let all = store.search_attributes().await.unwrap();
    assert_eq!(all.keys().collect::<Vec<_>>(), ["b-ns"], "a namespace with none left is absent");
    // Once removed, the name can come back with another type.
    store.add_search_attributes("a-ns", attributes(&[("Size", Keyword)])).await.unwrap();
    assert_eq!(store.search_attributes().await.unwrap()["a-ns"], attributes(&[("Size", Keyword)]));
}

/// Registrations racing on one name with different types: one type wins,
/// every caller asking for it succeeds, the others get SearchAttributeExists.
pub async fn search_attributes_racers_agree_on_one_type(store: DynStore) {
    let mut handles = Vec::new();
    for i in 0..16 {
        let store = store.clone();
        let ty = if i % 2 == 0 { IndexedValueType::Int } else { IndexedValueType::Keyword };
        handles.push(tokio::spawn(async move {
            (ty, store.add_search_attributes(NS, attributes(&[("Race", ty), (&format!("Own{i}"), ty)])).await)
        }));
    }
    let mut outcomes = Vec::new();
    for h in handles {
        outcomes.push(h.await.unwrap());
    }
    let registered = store.search_attributes().await.unwrap()[NS]["Race"];
    for (ty, result) in &outcomes {
        if *ty == registered {
            assert_eq!(result, &Ok(()));
        } else {
            assert_eq!(result, &Err(StoreError::SearchAttributeExists { name: "Race".into() }));
        }
    }
    assert_eq!(store.search_attributes().await.unwrap()[NS].len(), 1 + 8, "the losers added nothing");
}

pub async fn concurrent_commits_all_land(store: DynStore) {
    const RUNS: usize = 200;
    let mut handles = Vec::new();
    for i in 0..RUNS {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let (mut run, create) = RunDriver::start(NS, &format!("wf-{i}"), &format!("run-{i}"));
            store.commit(vec![create]).await.unwrap();
            for w in run.activity_cycle(0) {
                store.commit(vec![w]).await.unwrap();
            }
            run
        }));
    }
    // Namespaces created concurrently with the runs.
    let mut ns_handles = Vec::new();
    for i in 0..20 {
        let store = store.clone();
        ns_handles
            .push(tokio::spawn(async move { store.create_namespace(namespace(&format!("ns-{i:02}"), "")).await }));
    }
    let mut runs = Vec::new();
    for h in handles {
        runs.push(h.await.unwrap());
    }
    for h in ns_handles {
        h.await.unwrap().unwrap();
    }

    for run in &runs {
        assert_stored(&store, run).await;
        let s = &run.state;
        assert_eq!(store.current_run(NS, &s.workflow_id).await.unwrap().as_deref(), Some(s.run_id.as_str()));
    }
    // Each run waits on its next workflow task, in the queue's backlog.
    let queued: BTreeSet<String> =
        store.queued_tasks(NS, "tq", false, i64::MAX, 10_000).await.unwrap().into_iter().map(|t| t.run_id).collect();
    assert_eq!(queued, runs.iter().map(|r| r.state.run_id.clone()).collect::<BTreeSet<_>>());
    assert_eq!(pending_runs(&store).await.len(), RUNS);
    assert_eq!(store.list_namespaces().await.unwrap().len(), 20);
}

/// Many writers race on one run from the same version: exactly one wins,
/// and the losers (folded into the same group commits) leave no trace and
/// do not fail the winner.
pub async fn concurrent_racers_exactly_one_wins(store: DynStore) {
    let (mut run, create) = RunDriver::start(NS, "wf", "run-1");
    commit1(&store, create).await.unwrap();
    let base = run.clone();

    const RACERS: usize = 32;
    let mut handles = Vec::new();
    for i in 0..RACERS {
        let store = store.clone();
        let mut racer = base.clone();
        let write = racer.step(Input::WorkflowTaskStarted {
            target_version_changed: false,
            routing_revision: 0,
            scheduled_event_id: 2,
            attempt: 1,
            identity: format!("worker-{i}"),
            request_id: format!("req-{i}"),
            worker_version: None,
        });
        handles.push(tokio::spawn(async move { (i, racer, store.commit(vec![write]).await) }));
    }
    let mut winners = Vec::new();
    for h in handles {
        let (i, racer, result) = h.await.unwrap();
        match result {
            Ok(()) => winners.push((i, racer)),
            Err(StoreError::Conflict(_)) => {}
            Err(e) => panic!("racer {i}: {e}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one racer wins");
    let (_, winner) = winners.pop().unwrap();
    assert_stored(&store, &winner).await;
    run = winner;
    let started = &full_history(&store, "run-1").await[2];
    assert_eq!(started.event_type, EventType::WorkflowTaskStarted as i32);
    assert_eq!(run.history.len(), 3);
}

/// Everything acknowledged survives dropping the store and reopening it.
pub async fn durable_across_reopen(open: impl AsyncFn() -> DynStore) {
    let store = open().await;
    store.create_namespace(namespace("default", "durable")).await.unwrap();
    let registered = attributes(&[("Color", IndexedValueType::Keyword), ("When", IndexedValueType::Datetime)]);
    store.add_search_attributes(NS, registered.clone()).await.unwrap();
    store.write_schedule(schedule(NS, "sched", 1, "kept"), 0).await.unwrap();
    let (mut running, create) = RunDriver::start(NS, "wf-1", "run-1");
    commit1(&store, create).await.unwrap();
    for w in running.activity_cycle(0) {
        commit1(&store, w).await.unwrap();
    }
    let (mut done, create) = RunDriver::start(NS, "wf-2", "run-2");
    commit1(&store, create).await.unwrap();
    for w in done.complete_workflow() {
        commit1(&store, w).await.unwrap();
    }
    drop(store);

    let store = open().await;
    assert_stored(&store, &running).await;
    assert_stored(&store, &done).await;
    assert_eq!(store.current_run(NS, "wf-1").await.unwrap().as_deref(), Some("run-1"));
    assert_eq!(store.current_run(NS, "wf-2").await.unwrap().as_deref(), Some("run-2"));
    assert_eq!(pending_runs(&store).await, ["run-1"]);
    assert_eq!(store.list_namespaces().await.unwrap(), vec![namespace("default", "durable")]);
    assert_eq!(store.search_attributes().await.unwrap(), BTreeMap::from([(NS.to_string(), registered)]));
    assert_eq!(store.list_schedules(None).await.unwrap(), vec![schedule(NS, "sched", 1, "kept")]);

    // Conditional writes continue from the stored versions.
    let mut stale = running.clone().step(running.poll_input());
    stale.expected_version = 1;
    assert!(is_conflict(commit1(&store, stale).await));
    commit1(&store, running.step(running.poll_input())).await.unwrap();
    drop(store);

    let store = open().await;
    assert_stored(&store, &running).await;
    assert_eq!(all_runs(&store, NS).await, vec![done.listed.clone(), running.listed.clone()]);
}

fn schedule(namespace: &str, id: &str, version: i64, notes: &str) -> ScheduleRecord {
    use chronicle_engine::api::schedule::v1::{Schedule, ScheduleState};
    ScheduleRecord {
        namespace: namespace.into(),
        schedule_id: id.into(),
        schedule: Some(Schedule {
            state: Some(ScheduleState { notes: notes.into(), ..Default::default() }),
            ..Default::default()
        }),
        version,
        conflict_token: 1,
        processed_until: Some(at(version)),
        ..Default::default()
    }
}

pub async fn schedules_create_conditional_update_delete(store: DynStore) {
    store.write_schedule(schedule(NS, "s1", 1, "first"), 0).await.unwrap();
    assert_eq!(
        store.write_schedule(schedule(NS, "s1", 1, "again"), 0).await,
        Err(StoreError::ScheduleExists { namespace: NS.into(), schedule_id: "s1".into() })
    );
    // Same id in another namespace is another schedule.
    store.write_schedule(schedule("other", "s1", 1, "elsewhere"), 0).await.unwrap();
    assert_eq!(store.load_schedule(NS, "s1").await.unwrap(), Some(schedule(NS, "s1", 1, "first")));

    store.write_schedule(schedule(NS, "s1", 2, "second"), 1).await.unwrap();
    assert!(is_conflict(store.write_schedule(schedule(NS, "s1", 3, "stale"), 1).await), "a stale version loses");
    assert_eq!(store.load_schedule(NS, "s1").await.unwrap(), Some(schedule(NS, "s1", 2, "second")));
    let missing =
        |id: &str| Err(StoreError::NotFound(Missing::Schedule { namespace: NS.into(), schedule_id: id.into() }));
    assert_eq!(store.write_schedule(schedule(NS, "nope", 2, ""), 1).await, missing("nope"));

    store.write_schedule(schedule(NS, "s0", 1, "zero"), 0).await.unwrap();
    let ids = |v: Vec<ScheduleRecord>| {
        v.into_iter().map(|r| format!("{}/{}", r.namespace, r.schedule_id)).collect::<Vec<_>>()
    };
    assert_eq!(ids(store.list_schedules(Some(NS)).await.unwrap()), ["default/s0", "default/s1"]);
    assert_eq!(ids(store.list_schedules(None).await.unwrap()), ["default/s0", "default/s1", "other/s1"]);

    store.delete_schedule(NS, "s1").await.unwrap();
    assert_eq!(store.delete_schedule(NS, "s1").await, missing("s1"));
    assert_eq!(store.load_schedule(NS, "s1").await.unwrap(), None);
    assert_eq!(store.load_schedule("other", "s1").await.unwrap(), Some(schedule("other", "s1", 1, "elsewhere")));
    // A deleted id can be created again.
    store.write_schedule(schedule(NS, "s1", 1, "reborn"), 0).await.unwrap();
}

pub async fn schedules_racers_exactly_one_wins(store: DynStore) {
    store.write_schedule(schedule(NS, "race", 1, "start"), 0).await.unwrap();
    let racers = (0..8).map(|i| {
        let store = store.clone();
        tokio::spawn(async move { store.write_schedule(schedule(NS, "race", 2, &format!("r{i}")), 1).await })
    });
    let mut wins = 0;
    for r in racers {
        match r.await.unwrap() {
            Ok(()) => wins += 1,
            Err(e) => assert!(matches!(e, StoreError::Conflict(_)), "{e:?}"),
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(store.load_schedule(NS, "race").await.unwrap().unwrap().version, 2);
}

fn batch(namespace: &str, id: &str, version: i64, completed: i64) -> BatchRecord {
    BatchRecord {
        namespace: namespace.into(),
        job_id: id.into(),
        version,
        complete_operation_count: completed,
        start_time: Some(at(1)),
        ..Default::default()
    }
}

pub async fn batches_create_conditional_update_list(store: DynStore) {
    store.write_batch(batch(NS, "b1", 1, 0), 0).await.unwrap();
    assert_eq!(
        store.write_batch(batch(NS, "b1", 1, 0), 0).await,
        Err(StoreError::BatchExists { namespace: NS.into(), job_id: "b1".into() })
    );
    store.write_batch(batch("other", "b1", 1, 7), 0).await.unwrap();
    store.write_batch(batch(NS, "b1", 2, 5), 1).await.unwrap();
    assert!(is_conflict(store.write_batch(batch(NS, "b1", 3, 6), 1).await), "a stale version loses");
    assert_eq!(store.load_batch(NS, "b1").await.unwrap(), Some(batch(NS, "b1", 2, 5)));
    assert_eq!(store.load_batch(NS, "nope").await.unwrap(), None);
    assert_eq!(
        store.write_batch(batch(NS, "nope", 2, 0), 1).await,
        Err(StoreError::NotFound(Missing::Batch { namespace: NS.into(), job_id: "nope".into() }))
    );
    store.write_batch(batch(NS, "b0", 1, 0), 0).await.unwrap();
    let ids = |v: Vec<BatchRecord>| v.into_iter().map(|r| format!("{}/{}", r.namespace, r.job_id)).collect::<Vec<_>>();
    assert_eq!(ids(store.list_batches(Some(NS)).await.unwrap()), ["default/b0", "default/b1"]);
    assert_eq!(ids(store.list_batches(None).await.unwrap()), ["default/b0", "default/b1", "other/b1"]);
}

fn deployment(namespace: &str, name: &str, version: i64, build_ids: &[&str]) -> DeploymentRecord {
    use chronicle_engine::api::deployment::v1::{WorkerDeploymentVersion, WorkerDeploymentVersionInfo};
    DeploymentRecord {
        namespace: namespace.into(),
        name: name.into(),
        version,
        versions: build_ids
            .iter()
            .map(|b| WorkerDeploymentVersionInfo {
                deployment_version: Some(WorkerDeploymentVersion {
                    deployment_name: name.into(),
                    build_id: b.to_string(),
                }),
                create_time: Some(at(1)),
                ..Default::default()
            })
            .collect(),
        conflict_token: version.to_be_bytes().to_vec(),
        ..Default::default()
    }
}

pub async fn deployments_create_conditional_update_delete_list(store: DynStore) {
    store.write_deployment(deployment(NS, "d1", 1, &["v1"]), 0).await.unwrap();
    assert_eq!(
        store.write_deployment(deployment(NS, "d1", 1, &[]), 0).await,
        Err(StoreError::DeploymentExists { namespace: NS.into(), name: "d1".into() })
    );
    store.write_deployment(deployment("other", "d1", 1, &[]), 0).await.unwrap();
    store.write_deployment(deployment(NS, "d1", 2, &["v1", "v2"]), 1).await.unwrap();
    assert!(is_conflict(store.write_deployment(deployment(NS, "d1", 3, &[]), 1).await), "a stale version loses");
    assert_eq!(store.load_deployment(NS, "d1").await.unwrap(), Some(deployment(NS, "d1", 2, &["v1", "v2"])));
    assert_eq!(store.load_deployment(NS, "nope").await.unwrap(), None);
    let missing = || Err(StoreError::NotFound(Missing::Deployment { namespace: NS.into(), name: "nope".into() }));
    assert_eq!(store.write_deployment(deployment(NS, "nope", 2, &[]), 1).await, missing());
    assert_eq!(store.delete_deployment(NS, "nope", 1).await, missing());
    store.write_deployment(deployment(NS, "d0", 1, &[]), 0).await.unwrap();
    let names =
        |v: Vec<DeploymentRecord>| v.into_iter().map(|r| format!("{}/{}", r.namespace, r.name)).collect::<Vec<_>>();
    assert_eq!(names(store.list_deployments(Some(NS)).await.unwrap()), ["default/d0", "default/d1"]);
    assert_eq!(names(store.list_deployments(None).await.unwrap()), ["default/d0", "default/d1", "other/d1"]);
    // A delete is conditional too; the name is free again afterwards.
    assert!(is_conflict(store.delete_deployment(NS, "d1", 1).await), "a stale version loses");
    store.delete_deployment(NS, "d1", 2).await.unwrap();
    assert_eq!(store.load_deployment(NS, "d1").await.unwrap(), None);
    store.write_deployment(deployment(NS, "d1", 1, &[]), 0).await.unwrap();
}

/// Names and values with NUL and U+0001 (which PostgreSQL text cannot
/// hold as they are) come back as written, stay distinct, and sort and
/// match by prefix as Rust compares them.
pub async fn control_characters_round_trip(store: DynStore) {
    use chronicle_engine::api::common::v1::SearchAttributes;
    use chronicle_store::visibility::{Expr, Field, Op, OrderBy, Value};
    let ns = "ns\0\u{1}x";
    let values = ["a", "a\0", "a\0\0", "a\u{1}", "a\u{1}\u{1}", "a\u{2}", "ab"];
    let mut runs = Vec::new();
    for (i, value) in values.iter().enumerate() {
        let json =
            format!("\"{}\"", value.replace('\0', "\\u0000").replace('\u{1}', "\\u0001").replace('\u{2}', "\\u0002"));
        let attribute = Payload { data: json.into_bytes(), ..Default::default() };
        let (mut run, create) = RunDriver::start_with(
            StartArgs {
                namespace: ns.into(),
                workflow_id: format!("wf\0{i}\u{1}"),
                run_id: format!("run\u{1}{i}\0"),
                workflow_type: "Wf\0".into(),
                task_queue: "tq\u{1}\0".into(),
                request_id: format!("req-{i}"),
                search_attributes: Some(SearchAttributes {
                    indexed_fields: [("K\u{1}w".to_string(), attribute)].into_iter().collect(),
                }),
                ..Default::default()
            },
            i as i64,
        );
        commit1(&store, create).await.unwrap();
        assert_eq!(store.current_run(ns, &run.state.workflow_id).await.unwrap(), Some(run.state.run_id.clone()));
        assert_stored(&store, &run).await;
        let queued = store.queued_tasks(ns, "tq\u{1}\0", false, i64::MAX, 100).await.unwrap();
        let last = queued.last().unwrap();
        assert_eq!(
            (&last.namespace, &last.workflow_id, &last.run_id),
            (&run.state.namespace, &run.state.workflow_id, &run.state.run_id)
        );
        if i % 2 == 0 {
            commit1(&store, run.step(RunDriver::terminate_input())).await.unwrap();
        }
        runs.push(run);
    }
    assert!(store.queued_tasks(ns, "tq\u{1}", false, i64::MAX, 100).await.unwrap().is_empty());
    assert!(store.queued_tasks("ns\0\u{1}", "tq\u{1}\0", false, i64::MAX, 100).await.unwrap().is_empty());

    let kw = || Field::Custom { name: "K\u{1}w".into(), ty: IndexedValueType::Keyword };
    let listed = |filter: Expr, order_by: Vec<OrderBy>| {
        let store = store.clone();
        async move {
            let query = Query { filter: Some(filter), order_by, ..Default::default() };
            run_ids(&store.list_runs(ns, &query, None, 100).await.unwrap().runs)
        }
    };
    for (i, value) in values.iter().enumerate() {
        let eq = Expr::Compare { field: kw(), op: Op::Eq, value: Value::Str(value.to_string()) };
        assert_eq!(listed(eq, vec![]).await, [runs[i].state.run_id.clone()], "{value:?}");
        let matching: Vec<String> = values
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, v)| v.starts_with(value))
            .map(|(j, _)| runs[j].state.run_id.clone())
            .collect();
        let prefix = Expr::StartsWith { field: kw(), prefix: value.to_string() };
        assert_eq!(listed(prefix, vec![]).await, matching, "prefix {value:?}");
    }
    let present = Expr::Not(Box::new(Expr::IsNull { field: kw() }));
    let ascending = vec![OrderBy { field: kw(), descending: false }];
    let in_order: Vec<String> = runs.iter().map(|r| r.state.run_id.clone()).collect();
    assert_eq!(listed(present, ascending).await, in_order, "values sort as Rust sorts them");

    let closed: Vec<(String, String)> =
        runs.iter().step_by(2).map(|r| key(&r.state.workflow_id, &r.state.run_id)).collect();
    let expired = store.expired_executions(ns, i64::MAX, 100).await.unwrap();
    assert_eq!(expired.iter().collect::<BTreeSet<_>>(), closed.iter().collect::<BTreeSet<_>>());
    assert_eq!(store.delete_executions(ns, expired).await.unwrap().len(), closed.len());
    for r in runs.iter().step_by(2) {
        assert_eq!(store.load_execution(ns, &r.state.workflow_id, &r.state.run_id).await.unwrap(), None);
    }

    let registered = attributes(&[("K\u{1}w", IndexedValueType::Keyword), ("K\0w", IndexedValueType::Int)]);
    store.add_search_attributes(ns, registered.clone()).await.unwrap();
    assert_eq!(store.search_attributes().await.unwrap(), BTreeMap::from([(ns.to_string(), registered)]));
    store.write_schedule(schedule(ns, "s\0\u{1}", 1, "\0"), 0).await.unwrap();
    assert_eq!(store.list_schedules(Some(ns)).await.unwrap(), vec![schedule(ns, "s\0\u{1}", 1, "\0")]);
    assert_eq!(store.load_schedule(ns, "s\0").await.unwrap(), None);
    store.create_namespace(namespace(ns, "\0")).await.unwrap();
    store.create_namespace(namespace("ns\0\u{1}", "")).await.unwrap();
    assert_eq!(store.list_namespaces().await.unwrap(), vec![namespace("ns\0\u{1}", ""), namespace(ns, "\0")]);
}

// ---------------------------------------------------------------------------
// The backends: SQLite in a temp file (WAL, reader pool) and in memory, and
// PostgreSQL in a database of the test's own.
// ---------------------------------------------------------------------------

/// A store under test and what must outlive it (its directory or its
/// database, dropped after the store: fields drop in order).
struct Backend {
    store: DynStore,
    _home: Box<dyn std::any::Any + Send>,
}

fn sqlite_at(dir: &tempfile::TempDir) -> DynStore {
    SqliteStore::open(SqliteOptions { path: Some(dir.path().join("chronicle.db")), readers: 4 }).unwrap()
}

async fn sqlite_file() -> Option<Backend> {
    let dir = tempfile::tempdir().unwrap();
    Some(Backend { store: sqlite_at(&dir), _home: Box::new(dir) })
}

async fn sqlite_memory() -> Option<Backend> {
    Some(Backend { store: SqliteStore::open(SqliteOptions { path: None, readers: 0 }).unwrap(), _home: Box::new(()) })
}

async fn postgres_at(db: &TestDatabase) -> DynStore {
    PostgresStore::connect(PostgresOptions { url: db.url.clone(), pool_size: 8 }).await.unwrap()
}

/// None when PostgreSQL tests are skipped (`CHRONICLE_SKIP_POSTGRES=1`).
async fn postgres() -> Option<Backend> {
    let db = TestDatabase::create().await?;
    Some(Backend { store: postgres_at(&db).await, _home: Box::new(db) })
}

macro_rules! suite {
    ($backend:ident, $open:path; $($check:ident),* $(,)?) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $check() {
                    let Some(backend) = $open().await else { return };
                    super::$check(backend.store.clone()).await;
                }
            )*
        }
    };
}

/// Every check, on every backend.
macro_rules! suites {
    ($($check:ident),* $(,)?) => {
        suite!(sqlite_file_store, super::sqlite_file; $($check),*);
        suite!(sqlite_memory_store, super::sqlite_memory; $($check),*);
        suite!(postgres_store, super::postgres; $($check),*);
    };
}

suites!(
    create_run_and_current_pointer,
    conditional_update_wins_and_loses,
    one_commit_is_all_or_nothing,
    set_current_with_stale_expectation_conflicts,
    history_ranges_and_paging,
    closed_runs_stay_readable_without_work,
    namespaces_create_conflict_and_list,
    search_attributes_register_per_namespace,
    search_attributes_racers_agree_on_one_type,
    concurrent_commits_all_land,
    concurrent_racers_exactly_one_wins,
    visibility_lists_runs_newest_first,
    visibility_follows_visible_changes,
    visibility_queries_agree_with_the_evaluator,
    visibility_orders_and_pages_as_the_evaluator,
    visibility_literals_are_bound_not_spliced,
    visibility_rows_follow_deletes,
    delete_removes_a_run_entirely,
    task_rows_follow_pending_work,
    retention_finds_expired_runs_and_deletes_in_batches,
    namespaces_update,
    schedules_create_conditional_update_delete,
    schedules_racers_exactly_one_wins,
    batches_create_conditional_update_list,
    deployments_create_conditional_update_delete_list,
    control_characters_round_trip,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_file_store_durable_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    durable_across_reopen(async || sqlite_at(&dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_store_durable_across_reopen() {
    let Some(db) = TestDatabase::create().await else { return };
    durable_across_reopen(async || postgres_at(&db).await).await;
}

/// A database written before the visibility tables existed, or with the
/// first layout (fewer columns, no attribute rows), gets them rebuilt
/// from the stored executions when opened.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_file_store_backfills_visibility() {
    use chronicle_engine::api::common::v1::SearchAttributes;
    use chronicle_store::visibility::{Expr, Field, Op, Value};
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_at(&dir);
    let (mut done, create) = RunDriver::start_at(NS, "wf-1", "run-1", 1);
    commit1(&store, create).await.unwrap();
    for w in done.complete_workflow() {
        commit1(&store, w).await.unwrap();
    }
    let blue = Payload { data: b"\"blue\"".to_vec(), ..Default::default() };
    let (running, create) = RunDriver::start_with(
        StartArgs {
            namespace: NS.into(),
            workflow_id: "wf-2".into(),
            run_id: "run-2".into(),
            workflow_type: "Wf".into(),
            task_queue: "tq".into(),
            search_attributes: Some(SearchAttributes { indexed_fields: [("Color".to_string(), blue)].into() }),
            ..Default::default()
        },
        2,
    );
    commit1(&store, create).await.unwrap();
    drop(store);
    let blue = Query {
        filter: Some(Expr::Compare {
            field: Field::Custom { name: "Color".into(), ty: IndexedValueType::Keyword },
            op: Op::Eq,
            value: Value::Str("blue".into()),
        }),
        ..Default::default()
    };

    let first_layout = "DROP TABLE visibility; DROP TABLE visibility_attributes;
        CREATE TABLE visibility (run_id TEXT PRIMARY KEY, namespace TEXT NOT NULL, workflow_id TEXT NOT NULL,
            workflow_type TEXT NOT NULL, status INTEGER NOT NULL, start_time INTEGER NOT NULL, close_time INTEGER,
            info BLOB NOT NULL);
        CREATE INDEX visibility_by_start ON visibility(namespace, start_time DESC, run_id DESC);";
    for before in ["DROP TABLE visibility; DROP TABLE visibility_attributes;", first_layout] {
        let conn = rusqlite::Connection::open(dir.path().join("chronicle.db")).unwrap();
        // Written before schema versions were kept: user_version 0.
        conn.execute_batch(&format!("{before} PRAGMA user_version = 0;")).unwrap();
        drop(conn);
        let store = sqlite_at(&dir);
        assert_eq!(all_runs(&store, NS).await, vec![running.listed.clone(), done.listed.clone()]);
        let found = store.list_runs(NS, &blue, None, 10).await.unwrap();
        assert_eq!(run_ids(&found.runs), ["run-2"]);
    }
}

/// A deleted run leaves no attribute rows behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_delete_removes_attribute_rows() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_at(&dir);
    visibility_rows_follow_deletes(store.clone()).await;
    let conn = rusqlite::Connection::open(dir.path().join("chronicle.db")).unwrap();
    let rows: i64 = conn.query_row("SELECT COUNT(*) FROM visibility_attributes", [], |r| r.get(0)).unwrap();
    assert_eq!(rows, 0);
}

/// SQLite keeps its schema version in `PRAGMA user_version`: status reads
/// it without creating anything, opening applies what is pending, and a
/// file from a newer Chronicle is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_schema_versions() {
    use chronicle_store::{SchemaMigration, SchemaStatus, StoreUrl, parse_url};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chronicle.db");
    let url = parse_url(&format!("sqlite://{}", path.display())).unwrap();
    assert_eq!(url, StoreUrl::Sqlite(path.clone()));
    let init = SchemaMigration { version: 1, name: "0001_init" };
    let by_parent = SchemaMigration { version: 2, name: "0002_visibility_by_parent" };
    let status = chronicle_store::schema_status(&url).await.unwrap();
    assert_eq!(status, SchemaStatus { current: 0, latest: 2, pending: vec![init, by_parent] });
    assert!(!path.exists(), "status creates nothing");

    let report = chronicle_store::migrate(&url).await.unwrap();
    assert_eq!((report.applied, report.current), (vec![init, by_parent], 2));
    assert!(chronicle_store::migrate(&url).await.unwrap().applied.is_empty());
    let store = chronicle_store::open(&url, 2).await.unwrap();
    store.create_namespace(namespace("kept", "")).await.unwrap();
    drop(store);
    let status = chronicle_store::schema_status(&url).await.unwrap();
    assert_eq!(status, SchemaStatus { current: 2, latest: 2, pending: vec![] });
    let indexed: bool = rusqlite::Connection::open(&path)
        .unwrap()
        .prepare("SELECT 1 FROM sqlite_master WHERE name = 'visibility_by_parent'")
        .unwrap()
        .exists([])
        .unwrap();
    assert!(indexed, "version 2 indexes child runs");

    rusqlite::Connection::open(&path).unwrap().execute_batch("PRAGMA user_version = 9;").unwrap();
    let refused = SqliteStore::open(SqliteOptions { path: Some(path.clone()), readers: 1 }).err().unwrap();
    assert_eq!(refused, StoreError::SchemaTooNew { found: 9, supported: 2 });
    assert_eq!(chronicle_store::schema_status(&url).await.unwrap().current, 9);

    let memory = chronicle_store::open(&StoreUrl::SqliteMemory, 0).await.unwrap();
    assert!(memory.list_namespaces().await.unwrap().is_empty());
}
