//! The advanced workflow patterns of `examples/README.md` with the Temporal Rust SDK: child
//! workflows, continue-as-new, dynamic selection (a child started by type name) and a saga.
//!
//! `cargo run -p chronicle-examples -- --address 127.0.0.1:7233` runs one worker (all workflows
//! and activities, on a fresh task queue) and each pattern against it, printing one
//! `  result: <json>` line per pattern. Exits non-zero if any pattern fails.

use std::{str::FromStr, time::Duration};

use clap::Parser;
use futures::{StreamExt, future::join_all};
use serde::{Deserialize, Serialize};
use temporalio_client::{
    Client, ClientOptions, Connection, ConnectionOptions, Url, WorkflowGetResultOptions, WorkflowListOptions,
    WorkflowStartOptions, errors::WorkflowGetResultError,
};
use temporalio_common::{
    RetryPolicy, WorkflowDefinition,
    error::IncomingError,
    telemetry::{Logger, TelemetryOptions},
};
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::{
    ActivityExecutionError, ActivityOptions, ApplicationFailure, ChildWorkflowOptions, ContinueAsNewOptions, Worker,
    WorkerOptions, WorkflowContext, WorkflowResult,
    activities::{ActivityContext, ActivityError},
    runtime::{Runtime, RuntimeOptions},
};

#[derive(Parser)]
#[command(about = "Runs the advanced workflow pattern examples against a Temporal frontend (e.g. Chronicle)")]
struct Args {
    #[arg(long, default_value = "127.0.0.1:7233")]
    address: String,
    #[arg(long, default_value = "default")]
    namespace: String,
}

// ------------------------------------------------------------------------------------------------
// Child workflows: fan out one child per item, gather the results in input order.
// ------------------------------------------------------------------------------------------------

#[derive(Serialize, Deserialize, Debug)]
pub struct ItemResult {
    item: String,
    result: String,
    workflow_id: String,
}

#[workflow]
#[derive(Default)]
pub struct ProcessItemWorkflow;

#[workflow_methods]
impl ProcessItemWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, item: String) -> WorkflowResult<ItemResult> {
        Ok(ItemResult { result: item.to_uppercase(), item, workflow_id: ctx.workflow_id().to_owned() })
    }
}

#[workflow]
#[derive(Default)]
pub struct ParentWorkflow;

#[workflow_methods]
impl ParentWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, items: Vec<String>) -> WorkflowResult<Vec<ItemResult>> {
        let mut results = Vec::new();
        for item in items {
            // Scoped by the parent's id: child ids are unique among running workflows, so a bare
            // `process-{item}` would collide between two parents processing the same item.
            let id = format!("{}-process-{item}", ctx.workflow_id());
            // Awaiting the start (not the result) keeps the children running in parallel.
            let child = ctx.start_child_workflow(ProcessItemWorkflow::run, item, ChildWorkflowOptions::workflow_id(id));
            results.push(child.await?.result());
        }
        // join_all keeps the input order.
        Ok(join_all(results).await.into_iter().collect::<Result<_, _>>()?)
    }
}

// ------------------------------------------------------------------------------------------------
// Continue-as-new: process batches; every `max_iterations` batches start a fresh run with the state.
// ------------------------------------------------------------------------------------------------

#[derive(Serialize, Deserialize, Debug)]
pub struct WorkflowState {
    total_batches: u32,
    current_batch: u32,
    max_iterations: u32,
}

impl WorkflowState {
    fn is_complete(&self) -> bool {
        self.current_batch >= self.total_batches
    }
    fn advance(&mut self) {
        self.current_batch += 1;
    }
}

#[workflow]
#[derive(Default)]
pub struct LongRunningWorkflow;

#[workflow_methods]
impl LongRunningWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, mut state: WorkflowState) -> WorkflowResult<WorkflowState> {
        let mut iteration = 0;
        while !state.is_complete() {
            ctx.execute_activity(
                ExampleActivities::process_batch,
                state.current_batch,
                ActivityOptions::start_to_close_timeout(Duration::from_secs(300)),
            )
            .await?;
            state.advance();
            iteration += 1;
            if iteration >= state.max_iterations {
                // continue_as_new only ever returns the termination that ends this run.
                let Err(continue_as_new) = ctx.continue_as_new(state, ContinueAsNewOptions::default());
                return Err(continue_as_new);
            }
        }
        Ok(state)
    }
}

// ------------------------------------------------------------------------------------------------
// Dynamic selection: the child's workflow type is chosen at runtime and started by name.
// ------------------------------------------------------------------------------------------------

#[derive(Serialize, Deserialize, Debug)]
pub struct Request {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    payload: String,
}

#[derive(Serialize, Deserialize, Debug)]
pub struct Routed {
    handled_by: String,
    payload: String,
}

/// A workflow type known only by its name at runtime (input and output types are ours).
struct WorkflowByName(String);

impl WorkflowDefinition for WorkflowByName {
    type Input = String;
    type Output = Routed;
    fn name(&self) -> &str {
        &self.0
    }
}

#[workflow]
#[derive(Default)]
pub struct DispatcherWorkflow;

#[workflow_methods]
impl DispatcherWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, request: Request) -> WorkflowResult<Routed> {
        let workflow_type = match request.kind.as_str() {
            "order" => "OrderWorkflow",
            "refund" => "RefundWorkflow",
            "subscription" => "SubscriptionWorkflow",
            _ => "DefaultWorkflow",
        };
        let options = ChildWorkflowOptions::workflow_id(format!("dynamic-{}", request.id));
        let child =
            ctx.start_child_workflow(WorkflowByName(workflow_type.to_owned()), request.payload, options).await?;
        Ok(child.result().await?)
    }
}

/// The routing targets. temporalio-sdk 1.1 has no dynamic (catch-all) workflows, so unlike the
/// Python example, "DefaultWorkflow" is an ordinary workflow registered under that name.
macro_rules! routed_workflows {
    ($($name:ident),*) => {$(
        #[workflow]
        #[derive(Default)]
        pub struct $name;

        #[workflow_methods]
        impl $name {
            #[run]
            pub async fn run(_ctx: &mut WorkflowContext<Self>, payload: String) -> WorkflowResult<Routed> {
                Ok(Routed { handled_by: stringify!($name).to_owned(), payload })
            }
        }
    )*};
}
routed_workflows!(OrderWorkflow, RefundWorkflow, SubscriptionWorkflow, DefaultWorkflow);

// ------------------------------------------------------------------------------------------------
// Saga: each step's compensation is registered before the step; on a failure they run in reverse.
// ------------------------------------------------------------------------------------------------

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct BookingRequest {
    trip_id: String,
    car_class: String,
}

#[derive(Serialize, Deserialize, Debug)]
pub struct SagaOutcome {
    booked: Vec<String>,
    compensated: Vec<String>,
    error: String,
}

#[derive(Clone, Copy)]
enum Undo {
    Flight,
    Hotel,
    Car,
}

#[workflow]
#[derive(Default)]
pub struct BookingSagaWorkflow;

#[workflow_methods]
impl BookingSagaWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, req: BookingRequest) -> WorkflowResult<Vec<String>> {
        // Retries quickly so the flaky hotel step (fails twice) succeeds on attempt 3 in ~0.3 s.
        let opts = || {
            ActivityOptions::with_start_to_close_timeout(Duration::from_secs(10))
                .retry_policy(
                    RetryPolicy::builder().initial_interval(Duration::from_millis(100)).maximum_attempts(5).build(),
                )
                .build()
        };
        let (mut undo, mut booked) = (Vec::new(), Vec::new());
        let steps: Result<(), ActivityExecutionError> = async {
            // Registered before the step: a step can take effect and still fail to report back.
            undo.push(Undo::Flight);
            booked.push(ctx.execute_activity(ExampleActivities::reserve_flight, req.clone(), opts()).await?);
            undo.push(Undo::Hotel);
            booked.push(ctx.execute_activity(ExampleActivities::reserve_hotel, req.clone(), opts()).await?);
            undo.push(Undo::Car);
            booked.push(ctx.execute_activity(ExampleActivities::reserve_car, req.clone(), opts()).await?);
            Ok(())
        }
        .await;
        let Err(err) = steps else { return Ok(booked) };

        let mut compensated = Vec::new();
        for step in undo.into_iter().rev() {
            let r = req.clone();
            compensated.push(match step {
                Undo::Flight => ctx.execute_activity(ExampleActivities::cancel_flight, r, opts()).await?,
                Undo::Hotel => ctx.execute_activity(ExampleActivities::cancel_hotel, r, opts()).await?,
                Undo::Car => ctx.execute_activity(ExampleActivities::cancel_car, r, opts()).await?,
            });
        }
        let error = err.cause().map_or_else(|| err.to_string(), |c| c.failure().message.clone());
        let message = format!("booking {} failed: {error}; compensated: {}", req.trip_id, compensated.join(", "));
        // Non-retryable, so a workflow retry policy would not rerun the saga.
        Err(ApplicationFailure::builder(message)
            .type_name("BookingFailed".to_owned())
            .non_retryable(true)
            .details(SagaOutcome { booked, compensated, error })
            .build()
            .into())
    }
}

// ------------------------------------------------------------------------------------------------
// Activities
// ------------------------------------------------------------------------------------------------

pub struct ExampleActivities;

#[activities]
impl ExampleActivities {
    #[activity]
    pub async fn process_batch(_ctx: ActivityContext, _batch: u32) -> Result<(), ActivityError> {
        Ok(())
    }

    #[activity]
    pub async fn reserve_flight(_ctx: ActivityContext, req: BookingRequest) -> Result<String, ActivityError> {
        Ok(format!("flight for {}", req.trip_id))
    }

    /// Fails with a retryable error on attempts 1 and 2; the retry policy gets it to attempt 3.
    #[activity]
    pub async fn reserve_hotel(ctx: ActivityContext, req: BookingRequest) -> Result<String, ActivityError> {
        let attempt = ctx.info().attempt;
        if attempt < 3 {
            return Err(ActivityError::application(ApplicationFailure::new(format!(
                "hotel service unavailable (attempt {attempt})"
            ))));
        }
        Ok(format!("hotel for {} (succeeded on attempt {attempt})", req.trip_id))
    }

    #[activity]
    pub async fn reserve_car(_ctx: ActivityContext, req: BookingRequest) -> Result<String, ActivityError> {
        if req.car_class == "unavailable" {
            // Retrying will not help: non-retryable stops the retry policy at once.
            return Err(ActivityError::application(ApplicationFailure::non_retryable(format!(
                "no {} car for {}",
                req.car_class, req.trip_id
            ))));
        }
        Ok(format!("car for {}", req.trip_id))
    }

    #[activity]
    pub async fn cancel_flight(_ctx: ActivityContext, _req: BookingRequest) -> Result<String, ActivityError> {
        Ok("cancel_flight".to_owned())
    }

    #[activity]
    pub async fn cancel_hotel(_ctx: ActivityContext, _req: BookingRequest) -> Result<String, ActivityError> {
        Ok("cancel_hotel".to_owned())
    }

    #[activity]
    pub async fn cancel_car(_ctx: ActivityContext, _req: BookingRequest) -> Result<String, ActivityError> {
        Ok("cancel_car".to_owned())
    }
}

// ------------------------------------------------------------------------------------------------
// Client side: one function per pattern, each returning its result as JSON.
// ------------------------------------------------------------------------------------------------

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

async fn child_workflows(client: &Client, tq: &str) -> anyhow::Result<serde_json::Value> {
    let items = vec!["apple".to_owned(), "banana".to_owned(), "cherry".to_owned()];
    let opts = WorkflowStartOptions::new(tq.to_owned(), unique("parent")).build();
    let handle = client.start_workflow(ParentWorkflow::run, items, opts).await?;
    Ok(serde_json::to_value(handle.get_result(WorkflowGetResultOptions::default()).await?)?)
}

async fn continue_as_new(client: &Client, tq: &str) -> anyhow::Result<serde_json::Value> {
    let id = unique("long-running");
    let state = WorkflowState { total_batches: 23, current_batch: 0, max_iterations: 5 };
    let handle =
        client.start_workflow(LongRunningWorkflow::run, state, WorkflowStartOptions::new(tq, &id).build()).await?;
    // get_result follows the chain of continued runs to the last one.
    let state = handle.get_result(WorkflowGetResultOptions::default()).await?;

    // Every run of the chain shares the workflow id; visibility lists them all (newest first).
    let mut runs = Vec::new();
    let mut list = client.list_workflows(format!("WorkflowId = '{id}'"), WorkflowListOptions::default());
    while let Some(run) = list.next().await {
        let run = run?;
        runs.push((run.start_time(), run.run_id().to_owned(), format!("{:?}", run.status())));
    }
    runs.sort();
    for (i, (_, run_id, status)) in runs.iter().enumerate() {
        println!("  run {}: {run_id} {status}", i + 1);
    }
    let runs: Vec<_> =
        runs.into_iter().map(|(_, run_id, status)| serde_json::json!({"run_id": run_id, "status": status})).collect();
    Ok(serde_json::json!({"workflow_id": id, "state": state, "runs": runs}))
}

async fn dynamic_selection(client: &Client, tq: &str) -> anyhow::Result<serde_json::Value> {
    let kinds = ["order", "refund", "subscription", "gift-card"];
    let results = join_all(kinds.iter().map(|kind| async move {
        let request = Request { id: unique(kind), kind: kind.to_string(), payload: format!("{kind} #42") };
        let opts = WorkflowStartOptions::new(tq, format!("dispatcher-{}", request.id)).build();
        let handle = client.start_workflow(DispatcherWorkflow::run, request, opts).await?;
        anyhow::Ok((kind.to_string(), handle.get_result(WorkflowGetResultOptions::default()).await?))
    }))
    .await;
    let map: serde_json::Map<_, _> =
        results.into_iter().map(|r| r.map(|(k, v)| (k, serde_json::json!(v)))).collect::<Result<_, _>>()?;
    Ok(map.into())
}

async fn saga(client: &Client, tq: &str) -> anyhow::Result<serde_json::Value> {
    let req = BookingRequest { trip_id: unique("trip"), car_class: "unavailable".to_owned() };
    let opts = WorkflowStartOptions::new(tq, &req.trip_id).build();
    let handle = client.start_workflow(BookingSagaWorkflow::run, req, opts).await?;
    match handle.get_result(WorkflowGetResultOptions::default()).await {
        Ok(booked) => Ok(serde_json::json!({ "booked": booked })),
        Err(WorkflowGetResultError::Failed(err)) => match *err {
            IncomingError::Application(f) if f.type_name() == Some("BookingFailed") => {
                println!("  workflow failed as expected: {}", f.failure().map_or("", |f| &f.message));
                Ok(serde_json::to_value(f.details::<SagaOutcome>()?)?)
            }
            other => anyhow::bail!("unexpected failure: {other:?}"),
        },
        Err(e) => Err(e.into()),
    }
}

async fn connect(args: &Args) -> anyhow::Result<Client> {
    let url = Url::from_str(&format!("http://{}", args.address))?;
    let conn =
        Connection::connect(ConnectionOptions::new(url).identity("chronicle-examples".to_owned()).build()).await?;
    Ok(Client::new(conn, ClientOptions::new(args.namespace.clone()).build())?)
}

fn worker_options(task_queue: &str) -> anyhow::Result<WorkerOptions> {
    Ok(WorkerOptions::new(task_queue)
        .register_workflow::<ParentWorkflow>()?
        .register_workflow::<ProcessItemWorkflow>()?
        .register_workflow::<LongRunningWorkflow>()?
        .register_workflow::<DispatcherWorkflow>()?
        .register_workflow::<OrderWorkflow>()?
        .register_workflow::<RefundWorkflow>()?
        .register_workflow::<SubscriptionWorkflow>()?
        .register_workflow::<DefaultWorkflow>()?
        .register_workflow::<BookingSagaWorkflow>()?
        .register_activities(ExampleActivities)
        .build())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = connect(&args).await?;
    // SDK logs: errors only unless RUST_LOG says otherwise (the saga's activity failures are expected).
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "error".to_owned());
    let telemetry = TelemetryOptions::builder().logging(Logger::Console { filter, format: None }).build();
    let runtime_options = RuntimeOptions::builder().telemetry_options(telemetry).build().map_err(anyhow::Error::msg)?;
    let runtime = Runtime::from_current_tokio(runtime_options)?;
    let task_queue = unique("examples-rust");
    let mut worker = Worker::new(&runtime, client.clone(), worker_options(&task_queue)?)?;
    let shutdown = worker.shutdown_handle();

    // Worker::run is !Send, so it shares this task with the examples instead of being spawned.
    let examples = async {
        let mut failed = Vec::new();
        for name in ["child_workflows", "continue_as_new", "dynamic_selection", "saga"] {
            println!("== {name}");
            let result = tokio::time::timeout(Duration::from_secs(120), async {
                match name {
                    "child_workflows" => child_workflows(&client, &task_queue).await,
                    "continue_as_new" => continue_as_new(&client, &task_queue).await,
                    "dynamic_selection" => dynamic_selection(&client, &task_queue).await,
                    _ => saga(&client, &task_queue).await,
                }
            })
            .await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("timed out after 120 s")));
            match result {
                Ok(value) => println!("  result: {value}\n  ok"),
                Err(e) => {
                    println!("  error: {e:#}\nFAILED {name}");
                    failed.push(name);
                }
            }
        }
        shutdown();
        failed
    };
    let (run, failed) = tokio::join!(worker.run(), examples);
    run?;
    println!("\n{}/4 examples passed", 4 - failed.len());
    if !failed.is_empty() {
        anyhow::bail!("failed: {failed:?}");
    }
    Ok(())
}
