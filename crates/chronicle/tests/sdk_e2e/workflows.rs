//! Workflow and activity definitions used by the SDK end-to-end tests.
#![allow(unreachable_pub)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};
use temporalio_common::RetryPolicy;
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::{
    ActivityOptions, ApplicationFailure, WorkflowContext, WorkflowResult,
    activities::{ActivityContext, ActivityError},
};

/// Calls `GreetActivities::greet` once (start_to_close 10 s) and returns its result.
#[workflow]
#[derive(Default)]
pub struct HelloWorkflow;

#[workflow_methods]
impl HelloWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, name: String) -> WorkflowResult<String> {
        let greeting = ctx
            .execute_activity(
                GreetActivities::greet,
                name,
                ActivityOptions::start_to_close_timeout(Duration::from_secs(10)),
            )
            .await?;
        Ok(greeting)
    }
}

/// Same as [`HelloWorkflow`] but the activity is scheduled on the task queue given as the
/// second input element, so workflow and activity workers can be run independently.
/// Input: `(name, activity_task_queue)`.
#[workflow]
#[derive(Default)]
pub struct SplitQueueHelloWorkflow;

#[workflow_methods]
impl SplitQueueHelloWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, input: (String, String)) -> WorkflowResult<String> {
        let (name, activity_task_queue) = input;
        let greeting = ctx
            .execute_activity(
                GreetActivities::greet,
                name,
                ActivityOptions::with_start_to_close_timeout(Duration::from_secs(10))
                    .task_queue(activity_task_queue)
                    .build(),
            )
            .await?;
        Ok(greeting)
    }
}

/// Calls `GreetActivities::fail_with(message)` with `maximum_attempts = 1` and propagates its
/// error, so the workflow fails.
#[workflow]
#[derive(Default)]
pub struct FailingActivityWorkflow;

#[workflow_methods]
impl FailingActivityWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, message: String) -> WorkflowResult<String> {
        let out = ctx
            .execute_activity(
                GreetActivities::fail_with,
                message,
                ActivityOptions::with_start_to_close_timeout(Duration::from_secs(10))
                    .retry_policy(RetryPolicy::builder().maximum_attempts(1).build())
                    .build(),
            )
            .await?;
        Ok(out)
    }
}

/// Activities; `calls` counts executions of `greet` (shared with the test).
#[derive(Default)]
pub struct GreetActivities {
    pub calls: Arc<AtomicU32>,
}

impl GreetActivities {
    pub fn new(calls: Arc<AtomicU32>) -> Self {
        Self { calls }
    }
}

#[activities]
impl GreetActivities {
    #[activity]
    pub async fn greet(self: Arc<Self>, _ctx: ActivityContext, name: String) -> Result<String, ActivityError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(format!("Hello, {name}!"))
    }

    /// Always fails with a (retryable) application failure carrying `message`.
    #[activity]
    pub async fn fail_with(_ctx: ActivityContext, message: String) -> Result<String, ActivityError> {
        Err(ActivityError::application(ApplicationFailure::new(message)))
    }
}

/// Sleeps `millis` on a durable timer, and also starts and cancels a long
/// timer (TimerStarted + TimerCanceled); returns "slept".
#[workflow]
#[derive(Default)]
pub struct TimerWorkflow;

#[workflow_methods]
impl TimerWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, millis: u64) -> WorkflowResult<String> {
        use temporalio_sdk::{CancellableFuture, TimerResult};
        // Both timers start in the first workflow task; the long one is
        // canceled in the next, after the short one fired.
        let long = ctx.timer(Duration::from_secs(600));
        ctx.timer(Duration::from_millis(millis)).await;
        long.cancel();
        assert_eq!(long.await, TimerResult::Cancelled);
        Ok("slept".to_string())
    }
}

/// Adds up `increment` signals until the total reaches the input.
#[workflow]
#[derive(Default)]
pub struct CounterWorkflow {
    total: i32,
    seen: Vec<i32>,
}

#[workflow_methods]
impl CounterWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, target: i32) -> WorkflowResult<Vec<i32>> {
        ctx.wait_condition(|s| s.total >= target).await?;
        Ok(ctx.state(|s| s.seen.clone()))
    }

    #[signal]
    pub fn increment(&mut self, _ctx: &mut temporalio_sdk::SyncWorkflowContext<Self>, amount: i32) {
        self.total += amount;
        self.seen.push(amount);
    }

    #[query]
    pub fn total(&self, _ctx: &temporalio_sdk::WorkflowContextView) -> i32 {
        self.total
    }

    #[update_validator(set_total)]
    fn validate_set_total(
        &self,
        _ctx: &temporalio_sdk::WorkflowContextView,
        value: &i32,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if *value < 0 { Err("total must not be negative".into()) } else { Ok(()) }
    }

    /// Sets the total; returns the previous one.
    #[update]
    pub fn set_total(&mut self, _ctx: &mut temporalio_sdk::SyncWorkflowContext<Self>, value: i32) -> i32 {
        std::mem::replace(&mut self.total, value)
    }
}

/// Starts one `SleepyChildWorkflow` per item in parallel (ids `<parent id>-<i>`),
/// each sleeping `millis`; returns the children's results in input order.
#[workflow]
#[derive(Default)]
pub struct FanOutWorkflow;

#[workflow_methods]
impl FanOutWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, input: (Vec<String>, u64)) -> WorkflowResult<Vec<String>> {
        let (items, millis) = input;
        let parent_id = ctx.workflow_id().to_string();
        let mut started = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            let opts = temporalio_sdk::ChildWorkflowOptions::builder().workflow_id(format!("{parent_id}-{i}")).build();
            started.push(ctx.start_child_workflow(SleepyChildWorkflow::run, (item, millis), opts).await?);
        }
        let results =
            futures::future::join_all(started.into_iter().map(temporalio_sdk::StartedChildWorkflow::result)).await;
        Ok(results.into_iter().collect::<Result<Vec<_>, _>>()?)
    }
}

/// Sleeps `millis` on a timer, then returns the item upper-cased.
#[workflow]
#[derive(Default)]
pub struct SleepyChildWorkflow;

#[workflow_methods]
impl SleepyChildWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, input: (String, u64)) -> WorkflowResult<String> {
        ctx.timer(Duration::from_millis(input.1)).await;
        Ok(input.0.to_uppercase())
    }
}

/// Counts up to `target`, one run per step: each run sleeps `millis` and
/// continues as new with `(done + 1, target, millis)`; returns `done`.
#[workflow]
#[derive(Default)]
pub struct CountingContinueWorkflow;

#[workflow_methods]
impl CountingContinueWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, input: (u32, u32, u64)) -> WorkflowResult<u32> {
        let (done, target, millis) = input;
        if done >= target {
            return Ok(done);
        }
        ctx.timer(Duration::from_millis(millis)).await;
        ctx.continue_as_new((done + 1, target, millis), temporalio_sdk::ContinueAsNewOptions::default())?;
        unreachable!("continue_as_new always ends the run")
    }
}

/// Runs `AttemptActivities::fails_once` with a one-week retry backoff;
/// returns the attempt that succeeded (2).
#[workflow]
#[derive(Default)]
pub struct WeeklyRetryWorkflow;

#[workflow_methods]
impl WeeklyRetryWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, _input: ()) -> WorkflowResult<u32> {
        let attempt = ctx
            .execute_activity(
                AttemptActivities::fails_once,
                (),
                ActivityOptions::with_start_to_close_timeout(Duration::from_secs(30))
                    .retry_policy(
                        RetryPolicy::builder()
                            .initial_interval(Duration::from_secs(7 * 86_400))
                            .maximum_attempts(3)
                            .build(),
                    )
                    .build(),
            )
            .await?;
        Ok(attempt)
    }
}

/// Returns at once (run on a cron schedule).
#[workflow]
#[derive(Default)]
pub struct TickWorkflow;

#[workflow_methods]
impl TickWorkflow {
    #[run]
    pub async fn run(_ctx: &mut WorkflowContext<Self>, _input: ()) -> WorkflowResult<String> {
        Ok("tick".to_string())
    }
}

/// Starts a `SleepyChildWorkflow` sleeping a day under a one-hour
/// execution timeout; returns whether the child finished.
#[workflow]
#[derive(Default)]
pub struct ParentOfSlowChildWorkflow;

#[workflow_methods]
impl ParentOfSlowChildWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, _input: ()) -> WorkflowResult<String> {
        let opts = temporalio_sdk::ChildWorkflowOptions::builder()
            .workflow_id(format!("{}-child", ctx.workflow_id()))
            .execution_timeout(Duration::from_secs(3600))
            .build();
        let child = ctx.start_child_workflow(SleepyChildWorkflow::run, ("x".to_string(), 86_400_000), opts).await?;
        Ok(match child.result().await {
            Ok(_) => "child finished".to_string(),
            Err(_) => "child did not finish".to_string(),
        })
    }
}

/// An activity that fails its first attempt and returns the attempt after.
pub struct AttemptActivities;

#[activities]
impl AttemptActivities {
    #[activity]
    pub async fn fails_once(ctx: ActivityContext, _input: ()) -> Result<u32, ActivityError> {
        let attempt = ctx.info().attempt;
        if attempt == 1 {
            return Err(ActivityError::application(ApplicationFailure::new("first attempt fails")));
        }
        Ok(attempt)
    }
}
