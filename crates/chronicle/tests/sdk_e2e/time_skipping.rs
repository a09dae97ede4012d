//! `chronicle-testing` with the official Rust SDK: an in-process server
//! whose clock skips, so workflows that wait a day, a week, a month or an
//! hour end in moments of wall time.

use super::history::fetch_history;
use super::workflows::{
    AttemptActivities, ParentOfSlowChildWorkflow, SleepyChildWorkflow, TickWorkflow, WeeklyRetryWorkflow,
};
use chronicle_testing::{TestServer, TestWorker};
use std::time::{Duration, Instant, SystemTime};
use temporalio_client::{WorkflowGetResultOptions, WorkflowStartOptions};
use temporalio_protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_sdk::WorkerOptions;

/// The bound for each of these workflows under time skipping.
const WALL_BOUND: Duration = Duration::from_secs(2);
const DAY: Duration = Duration::from_secs(86_400);

fn options(task_queue: &str) -> WorkerOptions {
    WorkerOptions::new(task_queue.to_string())
        .register_workflow::<WeeklyRetryWorkflow>()
        .expect("register")
        .register_workflow::<TickWorkflow>()
        .expect("register")
        .register_workflow::<ParentOfSlowChildWorkflow>()
        .expect("register")
        .register_workflow::<SleepyChildWorkflow>()
        .expect("register")
        .register_activities(AttemptActivities)
        .build()
}

fn elapsed_on(server: &TestServer, since: SystemTime) -> Duration {
    server.now().duration_since(since).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflows_that_wait_days_weeks_months_and_hours_end_at_once() {
    let server = TestServer::start().await.expect("test server");
    // Before any run exists, only the server's own lock holds the clock.
    // (Later, a run's task may hold it too, and a test may unlock that.)
    assert!(server.unlock_time_skipping().is_ok() && server.unlock_time_skipping().is_err(), "locked exactly once");
    server.lock_time_skipping();
    let queue = super::unique("skip");
    let q = queue.clone();
    let worker = TestWorker::start(&server, move || options(&q)).await.expect("worker");
    let client = server.client().await.expect("client");

    // A one-day timer.
    let began = (Instant::now(), server.now());
    let handle = client
        .start_workflow(
            SleepyChildWorkflow::run,
            ("day".to_string(), 86_400_000),
            WorkflowStartOptions::new(queue.clone(), super::unique("day")).build(),
        )
        .await
        .expect("start");
    let result =
        server.with_time_skipping(handle.get_result(WorkflowGetResultOptions::default())).await.expect("result");
    assert_eq!(result, "DAY");
    assert!(began.0.elapsed() < WALL_BOUND, "a day took {:?}", began.0.elapsed());
    assert!(elapsed_on(&server, began.1) >= DAY);

    // A one-week retry backoff.
    let began = Instant::now();
    let handle = client
        .start_workflow(
            WeeklyRetryWorkflow::run,
            (),
            WorkflowStartOptions::new(queue.clone(), super::unique("week")).build(),
        )
        .await
        .expect("start");
    let attempt =
        server.with_time_skipping(handle.get_result(WorkflowGetResultOptions::default())).await.expect("result");
    assert_eq!(attempt, 2);
    assert!(began.elapsed() < WALL_BOUND, "a week's backoff took {:?}", began.elapsed());

    // A child with a one-hour execution timeout that would sleep a day.
    let began = Instant::now();
    let parent_id = super::unique("parent");
    let handle = client
        .start_workflow(
            ParentOfSlowChildWorkflow::run,
            (),
            WorkflowStartOptions::new(queue.clone(), parent_id.clone()).build(),
        )
        .await
        .expect("start");
    let result =
        server.with_time_skipping(handle.get_result(WorkflowGetResultOptions::default())).await.expect("result");
    assert_eq!(result, "child did not finish");
    assert!(began.elapsed() < WALL_BOUND, "the child's hour took {:?}", began.elapsed());
    let child = fetch_history(&client, &format!("{parent_id}-child"), "").await;
    assert!(
        matches!(
            child.last().and_then(|e| e.attributes.as_ref()),
            Some(Attributes::WorkflowExecutionTimedOutEventAttributes(_))
        ),
        "the child timed out"
    );

    // A monthly cron: two months skipped by the test's own sleep.
    let cron_id = super::unique("cron");
    let handle = client
        .start_workflow(
            TickWorkflow::run,
            (),
            WorkflowStartOptions::new(queue.clone(), cron_id.clone()).cron_schedule("0 0 1 * *".to_string()).build(),
        )
        .await
        .expect("start");
    let first_run = handle.run_id().unwrap_or_default().to_string();
    let began = Instant::now();
    server.sleep(Duration::from_secs(63 * 86_400)).await.expect("sleep");
    assert!(began.elapsed() < WALL_BOUND, "two months took {:?}", began.elapsed());
    let mut run = first_run;
    for month in 0..2 {
        let events = fetch_history(&client, &cron_id, &run).await;
        match events.last().and_then(|e| e.attributes.clone()) {
            Some(Attributes::WorkflowExecutionCompletedEventAttributes(a)) => run = a.new_execution_run_id,
            other => panic!("cron run {month} ended with {other:?}"),
        }
    }

    // Time is locked again: it runs at the real pace.
    let before = server.now();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let moved = elapsed_on(&server, before);
    assert!(moved >= Duration::from_millis(200) && moved < Duration::from_secs(30), "{moved:?}");

    worker.shutdown().await.expect("worker shutdown");
    server.shutdown().await.expect("server shutdown");
}
