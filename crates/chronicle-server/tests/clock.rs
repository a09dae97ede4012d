#![allow(clippy::unwrap_used)] // in tests, a failed unwrap is a failed test
//! The clock seam: every "now" of the server comes from the clock it is
//! built with. A run whose run timeout is a minute away on the machine's
//! clock times out at once on a server whose clock reads an hour later, and
//! its close is stamped with that clock's time.

use chronicle_engine::{StartArgs, api::enums::v1::WorkflowExecutionStatus, start, time};
use chronicle_server::clock::Clock;
use chronicle_store::{ExecutionWrite, SqliteOptions, SqliteStore, Store};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

struct FixedClock(SystemTime);

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        self.0
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_and_events_follow_the_servers_clock() {
    let store: Arc<dyn Store> = SqliteStore::open(SqliteOptions { path: None, readers: 1 }).unwrap();
    let args = StartArgs {
        namespace: "default".into(),
        workflow_id: "wf".into(),
        run_id: "run".into(),
        workflow_type: "W".into(),
        task_queue: "tq".into(),
        request_id: "req".into(),
        run_timeout: Some(time::dur_secs(60)),
        ..Default::default()
    };
    let t = start(args, time::from_system(SystemTime::now()));
    let mut state = t.state;
    state.db_version = 1;
    store
        .commit(vec![ExecutionWrite {
            state,
            expected_version: 0,
            events: t.events,
            set_current: Some(None),
            update_visibility: true,
        }])
        .await
        .unwrap();

    let later = SystemTime::now() + Duration::from_secs(3600);
    let _server =
        chronicle_server::Server::build_with_clock(store.clone(), Default::default(), Arc::new(FixedClock(later)))
            .await
            .unwrap();
    let mut status = WorkflowExecutionStatus::Running;
    for _ in 0..50 {
        status = store.load_execution("default", "wf", "run").await.unwrap().unwrap().status();
        if status != WorkflowExecutionStatus::Running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, WorkflowExecutionStatus::TimedOut, "the run timeout was due on the server's clock");
    let events = store.read_history("run", 1, 100).await.unwrap();
    let closed = events.last().unwrap();
    assert_eq!(closed.event_time, Some(time::from_system(later)), "stamped with the server's clock");
}
