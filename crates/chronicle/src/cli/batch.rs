//! Batch operations from the command line, with the `temporal` CLI's
//! habits: `chronicle workflow terminate|cancel|signal|delete --query ...`
//! start one (after a count and a confirmation, or `--yes`), and
//! `chronicle batch describe|list|terminate` follow it.

use super::connect::{Client, ClientArgs};
use anyhow::Context;
use clap::{Args, Subcommand};
use temporalio_protos::temporal::api::{
    common::v1::WorkflowExecution,
    enums::v1::BatchOperationState,
    workflowservice::v1::{
        CountWorkflowExecutionsRequest, DescribeBatchOperationRequest, ListBatchOperationsRequest,
        StartBatchOperationRequest, StopBatchOperationRequest, start_batch_operation_request::Operation,
    },
};

/// One workflow (`--workflow-id`) or every workflow a query matches
/// (`--query`, a batch operation).
#[derive(Args)]
pub(super) struct ManyTarget {
    /// Workflow id.
    #[arg(long, short = 'w', required_unless_present = "query", conflicts_with = "query")]
    pub workflow_id: Option<String>,
    /// Run id (default: the latest run).
    #[arg(long, short = 'r', default_value = "", conflicts_with = "query")]
    pub run_id: String,
    /// A visibility query: the operation runs as a batch over every workflow it matches.
    #[arg(long, short = 'q')]
    pub query: Option<String>,
    /// With --query: start the batch without asking.
    #[arg(long, short = 'y', requires = "query")]
    pub yes: bool,
    /// With --query: operations per second (default: the server's).
    #[arg(long, requires = "query")]
    pub rps: Option<f32>,
}

impl ManyTarget {
    /// The one workflow, when no query is given.
    pub fn execution(&self) -> Option<WorkflowExecution> {
        self.workflow_id.as_ref().map(|w| WorkflowExecution { workflow_id: w.clone(), run_id: self.run_id.clone() })
    }
}

/// Counts, asks (unless `--yes`), starts the batch; prints its job id.
pub(super) async fn start(
    client: &mut Client,
    namespace: &str,
    target: &ManyTarget,
    reason: String,
    operation: Operation,
    json: bool,
) -> anyhow::Result<()> {
    let query = target.query.clone().unwrap_or_default();
    let count = client
        .count_workflow_executions(CountWorkflowExecutionsRequest { namespace: namespace.into(), query: query.clone() })
        .await
        .context("failed counting workflows from query")?
        .into_inner()
        .count;
    if !target.yes {
        super::confirm(&format!("Start batch against approximately {count} workflow(s)?"), json)?;
    }
    let job_id = uuid::Uuid::new_v4().to_string();
    let reason = if reason.is_empty() { "Requested from the chronicle CLI".to_string() } else { reason };
    client
        .start_batch_operation(StartBatchOperationRequest {
            namespace: namespace.into(),
            visibility_query: query,
            job_id: job_id.clone(),
            reason,
            max_operations_per_second: target.rps.unwrap_or(0.0),
            operation: Some(operation),
            ..Default::default()
        })
        .await
        .context("failed starting batch operation")?;
    if json {
        println!("{}", serde_json::json!({ "batchJobId": job_id }));
    } else {
        println!("Started batch for job ID: {job_id}");
    }
    Ok(())
}

#[derive(Args)]
pub struct BatchCommand {
    #[command(flatten)]
    client: ClientArgs,
    #[command(subcommand)]
    action: BatchAction,
}

#[derive(Subcommand)]
enum BatchAction {
    /// A batch job's state and progress.
    Describe {
        #[arg(long)]
        job_id: String,
    },
    /// The namespace's batch jobs, newest first.
    List,
    /// Stop a running batch job (what it did stays done).
    Terminate {
        #[arg(long)]
        job_id: String,
        #[arg(long)]
        reason: String,
    },
}

pub async fn run(cmd: BatchCommand) -> anyhow::Result<()> {
    let mut client = cmd.client.connect.client().await?;
    let ns = cmd.client.namespace.clone();
    let json = cmd.client.json();
    let not_found = |job_id: &str, s: tonic::Status| {
        if s.code() == tonic::Code::NotFound {
            anyhow::anyhow!("could not find Batch Job '{job_id}'")
        } else {
            anyhow::anyhow!(s)
        }
    };
    match cmd.action {
        BatchAction::Describe { job_id } => {
            let r = client
                .describe_batch_operation(DescribeBatchOperationRequest { namespace: ns, job_id: job_id.clone() })
                .await
                .map_err(|s| not_found(&job_id, s))?
                .into_inner();
            if json {
                let value = chronicle_proto::json::to_json(
                    "temporal.api.workflowservice.v1.DescribeBatchOperationResponse",
                    &r,
                )
                .map_err(|e| anyhow::anyhow!("cannot write JSON: {e}"))?;
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                let state = BatchOperationState::try_from(r.state).map(|s| s.as_str_name()).unwrap_or("?");
                println!("  JobId           {}", r.job_id);
                println!("  State           {state}");
                println!("  Reason          {}", r.reason);
                println!("  CompletedCount  {}/{}", r.complete_operation_count, r.total_operation_count);
                println!("  FailureCount    {}/{}", r.failure_operation_count, r.total_operation_count);
            }
        }
        BatchAction::List => {
            let mut token = Vec::new();
            loop {
                let r = client
                    .list_batch_operations(ListBatchOperationsRequest {
                        namespace: ns.clone(),
                        next_page_token: token,
                        ..Default::default()
                    })
                    .await
                    .context("failed to list batch jobs")?
                    .into_inner();
                for info in &r.operation_info {
                    let state = BatchOperationState::try_from(info.state).map(|s| s.as_str_name()).unwrap_or("?");
                    if json {
                        println!("{}", serde_json::json!({ "jobId": info.job_id, "state": state }));
                    } else {
                        println!("{}  {state}", info.job_id);
                    }
                }
                if r.next_page_token.is_empty() {
                    break;
                }
                token = r.next_page_token;
            }
        }
        BatchAction::Terminate { job_id, reason } => {
            client
                .stop_batch_operation(StopBatchOperationRequest {
                    namespace: ns,
                    job_id: job_id.clone(),
                    reason,
                    identity: format!("chronicle-cli@{}", std::process::id()),
                })
                .await
                .map_err(|s| not_found(&job_id, s))?;
            println!("Terminated Batch Job '{job_id}'");
        }
    }
    Ok(())
}
