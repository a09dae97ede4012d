//! `chronicle workflow ...`: drive workflows by hand, with the flags of the
//! `temporal` CLI.

use super::connect::Client;
use super::payloads;
use anyhow::bail;
use clap::{Args, Subcommand, ValueEnum};
use temporalio_protos::temporal::api::{
    batch::v1::{BatchOperationCancellation, BatchOperationDeletion, BatchOperationSignal, BatchOperationTermination},
    common::v1::{WorkflowExecution, WorkflowType},
    enums::v1::UpdateWorkflowExecutionLifecycleStage as Stage,
    enums::v1::{EventType, HistoryEventFilterType, WorkflowExecutionStatus},
    history::v1::history_event::Attributes,
    query::v1::WorkflowQuery,
    taskqueue::v1::TaskQueue,
    update::v1::{Input as UpdateInput, Meta, Request as UpdateRequest, WaitPolicy, outcome},
    workflowservice::v1::{start_batch_operation_request::Operation, *},
};

#[derive(Args)]
pub struct WorkflowCommand {
    #[command(flatten)]
    connect: super::connect::ConnectArgs,
    /// Namespace.
    #[arg(long, short = 'n', global = true, default_value = "default", env = "TEMPORAL_NAMESPACE")]
    namespace: String,
    /// Output format.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Output::Text)]
    output: Output,
    #[command(subcommand)]
    action: Action,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Text,
    Json,
}

#[derive(Args)]
pub(super) struct Target {
    /// Workflow id.
    #[arg(long, short = 'w')]
    pub(super) workflow_id: String,
    /// Run id (default: the latest run).
    #[arg(long, short = 'r', default_value = "")]
    pub(super) run_id: String,
}

#[derive(Subcommand)]
enum Action {
    /// Start a workflow.
    Start {
        /// Workflow type name.
        #[arg(long)]
        r#type: String,
        #[arg(long, short = 't')]
        task_queue: String,
        /// Workflow id (default: a new UUID).
        #[arg(long, short = 'w')]
        workflow_id: Option<String>,
        /// Input as JSON; repeat for several arguments.
        #[arg(long, short = 'i')]
        input: Vec<String>,
    },
    /// Send a signal (to one workflow, or with --query to every match).
    Signal {
        #[command(flatten)]
        target: super::batch::ManyTarget,
        /// Signal name.
        #[arg(long)]
        name: String,
        #[arg(long, short = 'i')]
        input: Vec<String>,
    },
    /// Query a workflow.
    Query {
        #[command(flatten)]
        target: Target,
        /// Query type.
        #[arg(long)]
        name: String,
        #[arg(long, short = 'i')]
        input: Vec<String>,
    },
    /// Send an update and wait for its result.
    Update {
        #[command(flatten)]
        target: Target,
        /// Update name.
        #[arg(long)]
        name: String,
        #[arg(long, short = 'i')]
        input: Vec<String>,
        /// Update id (default: a new UUID).
        #[arg(long)]
        update_id: Option<String>,
    },
    /// Request cancellation (of one workflow, or with --query of every match).
    Cancel {
        #[command(flatten)]
        target: super::batch::ManyTarget,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Terminate a workflow (or with --query every match).
    Terminate {
        #[command(flatten)]
        target: super::batch::ManyTarget,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Delete a workflow execution (a running one is terminated first; with --query every match).
    Delete {
        #[command(flatten)]
        target: super::batch::ManyTarget,
    },
    /// Wait for a workflow's result.
    Result {
        #[command(flatten)]
        target: Target,
    },
    /// Show a workflow's status.
    Describe {
        #[command(flatten)]
        target: Target,
    },
    /// Reset a workflow to a workflow task: a new run continues from there.
    Reset(super::reset::ResetArgs),
    /// Show a workflow's event history.
    Show {
        #[command(flatten)]
        target: Target,
    },
}

pub(super) fn execution(t: &Target) -> Option<WorkflowExecution> {
    Some(WorkflowExecution { workflow_id: t.workflow_id.clone(), run_id: t.run_id.clone() })
}

fn print(output: Output, json: serde_json::Value, text: String) {
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&json).unwrap_or_default()),
        Output::Text => println!("{text}"),
    }
}

fn status_name(status: i32) -> String {
    WorkflowExecutionStatus::try_from(status)
        .map(|s| s.as_str_name().trim_start_matches("WORKFLOW_EXECUTION_STATUS_").to_string())
        .unwrap_or_else(|_| status.to_string())
}

fn event_name(event_type: i32) -> String {
    EventType::try_from(event_type)
        .map(|t| {
            t.as_str_name()
                .trim_start_matches("EVENT_TYPE_")
                .split('_')
                .map(|w| w[..1].to_string() + &w[1..].to_lowercase())
                .collect()
        })
        .unwrap_or_else(|_| event_type.to_string())
}

pub async fn run(cmd: WorkflowCommand) -> anyhow::Result<()> {
    let mut client = cmd.connect.client().await?;
    let ns = cmd.namespace.clone();
    let identity = format!("chronicle-cli@{}", std::process::id());
    let json = cmd.output == Output::Json;
    match cmd.action {
        Action::Start { r#type, task_queue, workflow_id, input } => {
            let workflow_id = workflow_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            let r = client
                .start_workflow_execution(StartWorkflowExecutionRequest {
                    namespace: ns,
                    workflow_id: workflow_id.clone(),
                    workflow_type: Some(WorkflowType { name: r#type }),
                    task_queue: Some(TaskQueue { name: task_queue, ..Default::default() }),
                    input: payloads::from_json_args(&input)?,
                    identity,
                    request_id: uuid::Uuid::new_v4().to_string(),
                    ..Default::default()
                })
                .await?
                .into_inner();
            print(
                cmd.output,
                serde_json::json!({ "workflowId": workflow_id, "runId": r.run_id }),
                format!("Started workflow\n  WorkflowId  {workflow_id}\n  RunId       {}", r.run_id),
            );
        }
        Action::Signal { target, name, input } if target.query.is_some() => {
            let op = BatchOperationSignal {
                signal: name,
                input: payloads::from_json_args(&input)?,
                identity,
                ..Default::default()
            };
            super::batch::start(&mut client, &ns, &target, String::new(), Operation::SignalOperation(op), json).await?;
        }
        Action::Signal { target, name, input } => {
            client
                .signal_workflow_execution(SignalWorkflowExecutionRequest {
                    namespace: ns,
                    workflow_execution: target.execution(),
                    signal_name: name,
                    input: payloads::from_json_args(&input)?,
                    identity,
                    request_id: uuid::Uuid::new_v4().to_string(),
                    ..Default::default()
                })
                .await?;
            print(cmd.output, serde_json::json!({ "signaled": true }), "Signal sent".into());
        }
        Action::Query { target, name, input } => {
            let r = client
                .query_workflow(QueryWorkflowRequest {
                    namespace: ns,
                    execution: execution(&target),
                    query: Some(WorkflowQuery {
                        query_type: name,
                        query_args: payloads::from_json_args(&input)?,
                        header: None,
                    }),
                    ..Default::default()
                })
                .await?
                .into_inner();
            if let Some(rejected) = r.query_rejected {
                bail!("query rejected: workflow status is {}", status_name(rejected.status));
            }
            let result = payloads::to_json(r.query_result.as_ref());
            print(cmd.output, serde_json::json!({ "queryResult": result }), format!("Query result\n  {result}"));
        }
        Action::Update { target, name, input, update_id } => {
            let update_id = update_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            let request = UpdateWorkflowExecutionRequest {
                namespace: ns,
                workflow_execution: execution(&target),
                wait_policy: Some(WaitPolicy { lifecycle_stage: Stage::Completed as i32 }),
                request: Some(UpdateRequest {
                    meta: Some(Meta { update_id: update_id.clone(), identity }),
                    input: Some(UpdateInput { header: None, name, args: payloads::from_json_args(&input)? }),
                    ..Default::default()
                }),
                ..Default::default()
            };
            // Re-sent until completed: the server answers each call before its deadline.
            let outcome = loop {
                let r = client.update_workflow_execution(request.clone()).await?.into_inner();
                if let Some(outcome) = r.outcome {
                    break outcome;
                }
            };
            match outcome.value {
                Some(outcome::Value::Success(result)) => {
                    let result = payloads::to_json(Some(&result));
                    print(
                        cmd.output,
                        serde_json::json!({ "updateId": update_id, "result": result }),
                        format!("Update result\n  UpdateId  {update_id}\n  Result    {result}"),
                    );
                }
                Some(outcome::Value::Failure(f)) => bail!("update failed: {}", f.message),
                None => bail!("update returned no outcome"),
            }
        }
        Action::Cancel { target, reason } if target.query.is_some() => {
            let op = Operation::CancellationOperation(BatchOperationCancellation { identity });
            super::batch::start(&mut client, &ns, &target, reason, op, json).await?;
        }
        Action::Cancel { target, reason } => {
            client
                .request_cancel_workflow_execution(RequestCancelWorkflowExecutionRequest {
                    namespace: ns,
                    workflow_execution: target.execution(),
                    identity,
                    request_id: uuid::Uuid::new_v4().to_string(),
                    reason,
                    ..Default::default()
                })
                .await?;
            print(cmd.output, serde_json::json!({ "cancelRequested": true }), "Cancellation requested".into());
        }
        Action::Terminate { target, reason } if target.query.is_some() => {
            let op = Operation::TerminationOperation(BatchOperationTermination { identity, ..Default::default() });
            super::batch::start(&mut client, &ns, &target, reason, op, json).await?;
        }
        Action::Terminate { target, reason } => {
            client
                .terminate_workflow_execution(TerminateWorkflowExecutionRequest {
                    namespace: ns,
                    workflow_execution: target.execution(),
                    reason,
                    identity,
                    ..Default::default()
                })
                .await?;
            print(cmd.output, serde_json::json!({ "terminated": true }), "Workflow terminated".into());
        }
        Action::Delete { target } if target.query.is_some() => {
            let op = Operation::DeletionOperation(BatchOperationDeletion { identity });
            super::batch::start(&mut client, &ns, &target, String::new(), op, json).await?;
        }
        Action::Delete { target } => {
            client
                .delete_workflow_execution(DeleteWorkflowExecutionRequest {
                    namespace: ns,
                    workflow_execution: target.execution(),
                })
                .await?;
            print(cmd.output, serde_json::json!({ "deleted": true }), "Workflow deleted".into());
        }
        Action::Result { target } => result(&mut client, ns, target, cmd.output).await?,
        Action::Describe { target } => {
            let r = client
                .describe_workflow_execution(DescribeWorkflowExecutionRequest {
                    namespace: ns.clone(),
                    execution: execution(&target),
                })
                .await?
                .into_inner();
            let info = r.workflow_execution_info.unwrap_or_default();
            let exec = info.execution.clone().unwrap_or_default();
            let family = family(&mut client, &ns, &exec).await?;
            let parent = info.parent_execution.clone().unwrap_or_default();
            let root = info.root_execution.clone().unwrap_or_default();
            let json = serde_json::json!({
                "workflowId": exec.workflow_id,
                "runId": exec.run_id,
                "type": info.r#type.as_ref().map(|t| t.name.clone()).unwrap_or_default(),
                "status": status_name(info.status),
                "taskQueue": info.task_queue,
                "historyLength": info.history_length,
                "pendingActivities": r.pending_activities.len(),
                "firstRunId": info.first_run_id,
                "parent": (!parent.workflow_id.is_empty())
                    .then(|| serde_json::json!({ "workflowId": parent.workflow_id, "runId": parent.run_id })),
                "root": serde_json::json!({ "workflowId": root.workflow_id, "runId": root.run_id }),
                "pendingChildren": r.pending_children.iter().map(|c| serde_json::json!({
                    "workflowId": c.workflow_id, "runId": c.run_id, "type": c.workflow_type_name,
                })).collect::<Vec<_>>(),
                "children": family.children.iter().map(Listed::to_json).collect::<Vec<_>>(),
                "runs": family.runs.iter().map(Listed::to_json).collect::<Vec<_>>(),
            });
            let mut text = format!(
                "WorkflowId        {}\nRunId             {}\nType              {}\nStatus            {}\nTaskQueue         {}\nHistoryLength     {}\nPendingActivities {}",
                exec.workflow_id,
                exec.run_id,
                json["type"].as_str().unwrap_or_default(),
                json["status"].as_str().unwrap_or_default(),
                info.task_queue,
                info.history_length,
                r.pending_activities.len(),
            );
            if !parent.workflow_id.is_empty() {
                text.push_str(&format!("\nParent            {} ({})", parent.workflow_id, parent.run_id));
            }
            if !root.workflow_id.is_empty() && root.run_id != exec.run_id {
                text.push_str(&format!("\nRoot              {} ({})", root.workflow_id, root.run_id));
            }
            if !family.children.is_empty() {
                text.push_str(&format!("\nChildren ({}):", family.children.len()));
                for c in &family.children {
                    text.push_str(&format!("\n  {:<12} {}  {}  {}", c.status, c.workflow_id, c.run_id, c.r#type));
                }
            }
            if family.runs.len() > 1 {
                text.push_str(&format!("\nRuns of {} (newest first):", exec.workflow_id));
                for run in &family.runs {
                    let me = if run.run_id == exec.run_id { "  <- this run" } else { "" };
                    text.push_str(&format!("\n  {:<16} {}{me}", run.status, run.run_id));
                }
            }
            print(cmd.output, json, text);
        }
        Action::Reset(args) => {
            let (run_id, event_id, run_id_new) = super::reset::reset(&mut client, &ns, &identity, args).await?;
            print(
                cmd.output,
                serde_json::json!({ "runId": run_id_new }),
                format!("Resetting workflow (run {run_id}) to event ID {event_id}\n  New RunId  {run_id_new}"),
            );
        }
        Action::Show { target } => {
            let events = history(&mut client, &ns, execution(&target)).await?;
            let mut text = format!("{:>5}  {:<30}  Type", "ID", "Time");
            for e in &events {
                // RFC 3339, as the temporal CLI prints event times.
                let time = e.event_time.map(|t| t.to_string()).unwrap_or_default();
                text.push_str(&format!("\n{:>5}  {time:<30}  {}", e.event_id, event_name(e.event_type)));
            }
            // The whole history as protobuf JSON, as `temporal workflow show
            // -o json` writes it (an SDK replayer reads it back).
            let history = temporalio_protos::temporal::api::history::v1::History { events };
            let json = chronicle_proto::json::to_json("temporal.api.history.v1.History", &history)
                .map_err(|e| anyhow::anyhow!("cannot write the history as JSON: {e}"))?;
            print(cmd.output, json, text);
        }
    }
    Ok(())
}

/// A run's whole history, page by page.
pub(super) async fn history(
    client: &mut Client,
    namespace: &str,
    execution: Option<WorkflowExecution>,
) -> anyhow::Result<Vec<temporalio_protos::temporal::api::history::v1::HistoryEvent>> {
    let mut token = Vec::new();
    let mut events = Vec::new();
    loop {
        let r = client
            .get_workflow_execution_history(GetWorkflowExecutionHistoryRequest {
                namespace: namespace.to_string(),
                execution: execution.clone(),
                next_page_token: token,
                ..Default::default()
            })
            .await?
            .into_inner();
        events.extend(r.history.map(|h| h.events).unwrap_or_default());
        if r.next_page_token.is_empty() {
            return Ok(events);
        }
        token = r.next_page_token;
    }
}

/// Waits for the close event (following continue-as-new and retries) and
/// prints the result or the failure; a failed workflow is an error exit.
async fn result(client: &mut Client, namespace: String, mut target: Target, output: Output) -> anyhow::Result<()> {
    loop {
        let r = client
            .get_workflow_execution_history(GetWorkflowExecutionHistoryRequest {
                namespace: namespace.clone(),
                execution: execution(&target),
                wait_new_event: true,
                history_event_filter_type: HistoryEventFilterType::CloseEvent as i32,
                ..Default::default()
            })
            .await?
            .into_inner();
        let Some(event) = r.history.and_then(|h| h.events.into_iter().next()) else { continue };
        match event.attributes {
            Some(Attributes::WorkflowExecutionCompletedEventAttributes(a)) => {
                if !a.new_execution_run_id.is_empty() {
                    target.run_id = a.new_execution_run_id;
                    continue;
                }
                let result = payloads::to_json(a.result.as_ref());
                print(
                    output,
                    serde_json::json!({ "status": "COMPLETED", "result": result }),
                    format!("Result\n  Status  COMPLETED\n  Result  {result}"),
                );
                return Ok(());
            }
            Some(Attributes::WorkflowExecutionContinuedAsNewEventAttributes(a)) => {
                target.run_id = a.new_execution_run_id;
            }
            Some(Attributes::WorkflowExecutionFailedEventAttributes(a)) if !a.new_execution_run_id.is_empty() => {
                target.run_id = a.new_execution_run_id;
            }
            Some(Attributes::WorkflowExecutionFailedEventAttributes(a)) => {
                bail!("workflow failed: {}", a.failure.map(|f| f.message).unwrap_or_default())
            }
            Some(Attributes::WorkflowExecutionCanceledEventAttributes(_)) => bail!("workflow canceled"),
            Some(Attributes::WorkflowExecutionTerminatedEventAttributes(a)) => {
                bail!("workflow terminated: {}", a.reason)
            }
            Some(Attributes::WorkflowExecutionTimedOutEventAttributes(_)) => bail!("workflow timed out"),
            _ => bail!("unexpected close event {}", event_name(event.event_type)),
        }
    }
}

/// A run as listed by visibility.
struct Listed {
    workflow_id: String,
    run_id: String,
    r#type: String,
    status: String,
}

impl Listed {
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "workflowId": self.workflow_id, "runId": self.run_id, "type": self.r#type, "status": self.status,
        })
    }
}

/// The family of a run: its children (every run whose parent it is) and
/// the runs of its workflow id (the continue-as-new and retry chain).
struct Family {
    children: Vec<Listed>,
    runs: Vec<Listed>,
}

async fn family(client: &mut Client, ns: &str, exec: &WorkflowExecution) -> anyhow::Result<Family> {
    let quote = |s: &str| s.replace('\'', "\\'");
    let children = list(
        client,
        ns,
        format!("ParentWorkflowId = '{}' AND ParentRunId = '{}'", quote(&exec.workflow_id), quote(&exec.run_id)),
    )
    .await?;
    let runs = list(client, ns, format!("WorkflowId = '{}'", quote(&exec.workflow_id))).await?;
    Ok(Family { children, runs })
}

async fn list(client: &mut Client, ns: &str, query: String) -> anyhow::Result<Vec<Listed>> {
    let mut out = Vec::new();
    let mut token = Vec::new();
    loop {
        let r = client
            .list_workflow_executions(ListWorkflowExecutionsRequest {
                namespace: ns.to_string(),
                page_size: 1000,
                next_page_token: token,
                query: query.clone(),
            })
            .await?
            .into_inner();
        for info in r.executions {
            let exec = info.execution.unwrap_or_default();
            out.push(Listed {
                workflow_id: exec.workflow_id,
                run_id: exec.run_id,
                r#type: info.r#type.map(|t| t.name).unwrap_or_default(),
                status: status_name(info.status),
            });
        }
        if r.next_page_token.is_empty() {
            return Ok(out);
        }
        token = r.next_page_token;
    }
}
