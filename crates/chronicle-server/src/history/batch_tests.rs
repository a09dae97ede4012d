//! Inputs that reach one run at once are committed in batches
//! (`commit::execute_locked`): each caller still gets its own answer, and
//! the history is what one-by-one application would have written.

#![allow(clippy::unwrap_used)] // in tests, a failed unwrap is a failed test

use super::*;
use chronicle_engine::api::enums::v1::EventType;
use chronicle_engine::{SignalArgs, start};
use chronicle_store::{SqliteOptions, SqliteStore};

async fn history_with_run(workflow_id: &str) -> (Arc<History>, Arc<dyn Store>) {
    let store: Arc<dyn Store> = SqliteStore::open(SqliteOptions { path: None, readers: 1 }).unwrap();
    let args = StartArgs {
        namespace: "default".into(),
        workflow_id: workflow_id.into(),
        run_id: format!("{workflow_id}-run"),
        workflow_type: "W".into(),
        task_queue: "tq".into(),
        request_id: "req".into(),
        ..Default::default()
    };
    let t = start(args, time::from_system(std::time::SystemTime::now()));
    let mut state = t.state;
    state.db_version = 1;
    let write = ExecutionWrite {
        state,
        expected_version: 0,
        events: t.events,
        set_current: Some(None),
        update_visibility: true,
    };
    store.commit(vec![write]).await.unwrap();
    let matching = Arc::new(Matching::default());
    let history = History::new(store.clone(), matching, Default::default(), Arc::new(crate::clock::SystemClock));
    // Cached before the test's calls, so they all take the same path to
    // the run's queue and queue in the order they were spawned.
    history.load("default", workflow_id, &format!("{workflow_id}-run")).await.unwrap();
    (history, store)
}

fn signal(i: usize) -> Input {
    Input::Signal(SignalArgs { signal_name: format!("s{i}"), request_id: format!("r{i}"), ..Default::default() })
}

async fn event_types(store: &Arc<dyn Store>, run_id: &str) -> Vec<(i64, EventType, String)> {
    let events = store.read_history(run_id, 1, 10_000).await.unwrap();
    events
        .into_iter()
        .map(|e| {
            let name = match &e.attributes {
                Some(chronicle_engine::api::history::v1::history_event::Attributes::WorkflowExecutionSignaledEventAttributes(a)) => {
                    a.signal_name.clone()
                }
                _ => String::new(),
            };
            (e.event_id, e.event_type(), name)
        })
        .collect()
}

/// 200 signals sent at once: every caller is answered OK, the history has
/// all 200 in the order they were queued with contiguous ids, and far
/// fewer commits than signals were made (each commit moves the version by
/// one).
#[tokio::test]
async fn concurrent_inputs_commit_together_and_each_is_answered() {
    let (history, store) = history_with_run("many").await;
    let calls: Vec<_> = (0..200)
        .map(|i| {
            let history = history.clone();
            tokio::spawn(async move { history.execute("default", "many", "many-run", signal(i)).await })
        })
        .collect();
    for call in calls {
        let t = call.await.unwrap().unwrap();
        assert_eq!(t.events.len(), 1, "each caller gets its own events");
    }
    let state = store.load_execution("default", "many", "many-run").await.unwrap().unwrap();
    assert_eq!(state.signal_count, 200);
    // How many queue behind one commit depends on the scheduler; far
    // fewer than one commit per signal in any case (one by one: 200).
    assert!(state.db_version - 1 < 100, "200 signals took {} commits", state.db_version - 1);
    let events = event_types(&store, "many-run").await;
    let signals: Vec<_> = events.iter().filter(|(_, t, _)| *t == EventType::WorkflowExecutionSignaled).collect();
    assert_eq!(signals.len(), 200);
    let ids: Vec<i64> = events.iter().map(|(id, _, _)| *id).collect();
    assert_eq!(ids, (1..=events.len() as i64).collect::<Vec<_>>(), "ids are contiguous");
    let mut names: Vec<_> = signals.iter().map(|(_, _, n)| n.clone()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 200, "each signal once");
}

/// In one batch: an input the engine refuses gets its own error and
/// changes nothing; inputs after a terminate are answered as they would
/// be one by one (the run is closed), and those before it are in the
/// history.
#[tokio::test]
async fn a_refused_input_and_a_close_inside_a_batch() {
    let (history, store) = history_with_run("mixed").await;
    let refused =
        Input::ActivityTaskCompleted { scheduled_event_id: 999, attempt: 1, result: None, identity: "w".into() };
    let terminate = Input::Terminate { reason: "stop".into(), details: None, identity: "t".into() };
    let inputs = vec![signal(0), refused, signal(1), terminate, signal(2), signal(3)];
    let calls: Vec<_> = inputs
        .into_iter()
        .map(|input| {
            let history = history.clone();
            tokio::spawn(async move { history.execute("default", "mixed", "mixed-run", input).await })
        })
        .collect();
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.unwrap());
    }
    assert!(answers[0].is_ok() && answers[2].is_ok() && answers[3].is_ok(), "{answers:?}");
    assert!(matches!(answers[1], Err(HistoryError::Engine(EngineError::ActivityTaskNotFound))), "{:?}", answers[1]);
    for late in &answers[4..] {
        assert!(matches!(late, Err(HistoryError::Engine(EngineError::WorkflowClosed))), "{late:?}");
    }
    let state = store.load_execution("default", "mixed", "mixed-run").await.unwrap().unwrap();
    assert!(!state.is_running());
    let events = event_types(&store, "mixed-run").await;
    let names: Vec<_> = events
        .iter()
        .filter(|(_, t, _)| *t == EventType::WorkflowExecutionSignaled)
        .map(|(_, _, n)| n.as_str())
        .collect();
    assert_eq!(names, ["s0", "s1"]);
    assert_eq!(events.last().unwrap().1, EventType::WorkflowExecutionTerminated);
}
