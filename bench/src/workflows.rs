//! The benchmarked workload: one workflow that runs one activity.
#![allow(unreachable_pub)]

use std::time::Duration;
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::{
    ActivityOptions, WorkflowContext, WorkflowResult,
    activities::{ActivityContext, ActivityError},
};

#[workflow]
#[derive(Default)]
pub struct HelloWorkflow;

#[workflow_methods]
impl HelloWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, name: String) -> WorkflowResult<String> {
        let greeting = ctx
            .execute_activity(
                GreetingActivities::greet,
                name,
                ActivityOptions::start_to_close_timeout(Duration::from_secs(10)),
            )
            .await?;
        Ok(greeting)
    }
}

pub struct GreetingActivities;

#[activities]
impl GreetingActivities {
    #[activity]
    pub async fn greet(_ctx: ActivityContext, name: String) -> Result<String, ActivityError> {
        Ok(format!("Hello, {name}!"))
    }
}

/// `n` activities one after another (`--activities n`).
#[workflow]
#[derive(Default)]
pub struct SequentialActivities;

#[workflow_methods]
impl SequentialActivities {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, n: u32) -> WorkflowResult<u32> {
        let mut done = 0;
        for i in 0..n {
            done += ctx
                .execute_activity(
                    StepActivities::step,
                    i,
                    ActivityOptions::start_to_close_timeout(Duration::from_secs(60)),
                )
                .await?
                - i;
        }
        Ok(done)
    }
}

/// `n` activities all at once, scheduled by one workflow task
/// (`--activities n --parallel`).
#[workflow]
#[derive(Default)]
pub struct ParallelActivities;

#[workflow_methods]
impl ParallelActivities {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, n: u32) -> WorkflowResult<u32> {
        let steps = (0..n).map(|i| {
            ctx.execute_activity(
                StepActivities::step,
                i,
                ActivityOptions::start_to_close_timeout(Duration::from_secs(60)),
            )
        });
        let mut done = 0;
        for (i, result) in (0..n).zip(temporalio_sdk::workflows::join_all(steps).await) {
            done += result? - i;
        }
        Ok(done)
    }
}

pub struct StepActivities;

#[activities]
impl StepActivities {
    #[activity]
    pub async fn step(_ctx: ActivityContext, i: u32) -> Result<u32, ActivityError> {
        Ok(i + 1)
    }
}
