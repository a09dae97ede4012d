#![allow(deprecated)] // the reapply type and the CANCEL_REQUEST exclusion are deprecated but still sent
//! `chronicle workflow reset`: the `temporal workflow reset` flags; the
//! reset point found from the run's history (or its auto-reset points for
//! `--type BuildId`), then ResetWorkflowExecution.

use super::connect::Client;
use super::workflow::{Target, execution, history};
use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use temporalio_protos::temporal::api::{
    common::v1::WorkflowExecution,
    enums::v1::{EventType, ResetReapplyExcludeType, ResetReapplyType},
    history::v1::{HistoryEvent, history_event::Attributes},
    workflowservice::v1::{DescribeWorkflowExecutionRequest, ResetWorkflowExecutionRequest},
};

#[derive(Args)]
pub(super) struct ResetArgs {
    #[command(flatten)]
    target: Target,
    /// The event to reset to: a WorkflowTaskCompleted, WorkflowTaskFailed or
    /// WorkflowTaskTimedOut (or a WorkflowTaskStarted) event id.
    #[arg(long, short = 'e')]
    event_id: Option<i64>,
    /// Where to reset to instead of an event id.
    #[arg(long, short = 't', value_enum)]
    r#type: Option<ResetType>,
    /// With `--type BuildId`: the first workflow task this build completed.
    #[arg(long)]
    build_id: Option<String>,
    /// Why (recorded on the events the reset writes).
    #[arg(long)]
    reason: String,
    /// Events after the reset point not to apply again (repeatable).
    #[arg(long, value_enum)]
    reapply_exclude: Vec<ReapplyExclude>,
    /// Deprecated: which events after the point to apply again.
    #[arg(long, value_enum)]
    reapply_type: Option<ReapplyType>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ResetType {
    #[value(name = "FirstWorkflowTask")]
    FirstWorkflowTask,
    #[value(name = "LastWorkflowTask")]
    LastWorkflowTask,
    #[value(name = "LastContinuedAsNew")]
    LastContinuedAsNew,
    #[value(name = "BuildId")]
    BuildId,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ReapplyExclude {
    #[value(name = "All")]
    All,
    #[value(name = "Signal")]
    Signal,
    #[value(name = "Update")]
    Update,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ReapplyType {
    #[value(name = "All")]
    All,
    #[value(name = "Signal")]
    Signal,
    #[value(name = "None")]
    None,
}

/// Resets; returns the base run, the event id and the new run.
pub(super) async fn reset(
    client: &mut Client,
    namespace: &str,
    identity: &str,
    args: ResetArgs,
) -> anyhow::Result<(String, i64, String)> {
    if args.reapply_type.is_some_and(|t| t != ReapplyType::All) && !args.reapply_exclude.is_empty() {
        bail!("--reapply-type cannot be used with --reapply-exclude. Use --reapply-exclude");
    }
    let (base, event_id) = match (args.r#type, args.event_id) {
        (None, Some(id)) if id > 0 => (args.target.run_id.clone(), id),
        (Some(t), _) => reset_point(client, namespace, &args.target, t, args.build_id.as_deref()).await?,
        _ => bail!("must specify either valid event id or reset type"),
    };
    let mut exclude: Vec<i32> = Vec::new();
    for e in &args.reapply_exclude {
        match e {
            ReapplyExclude::All => exclude.extend([
                ResetReapplyExcludeType::Signal as i32,
                ResetReapplyExcludeType::Update as i32,
                ResetReapplyExcludeType::Nexus as i32,
                ResetReapplyExcludeType::CancelRequest as i32,
            ]),
            ReapplyExclude::Signal => exclude.push(ResetReapplyExcludeType::Signal as i32),
            ReapplyExclude::Update => exclude.push(ResetReapplyExcludeType::Update as i32),
        }
    }
    let reapply_type = match args.reapply_type {
        None | Some(ReapplyType::All) => ResetReapplyType::AllEligible,
        Some(ReapplyType::Signal) => ResetReapplyType::Signal,
        Some(ReapplyType::None) => ResetReapplyType::None,
    };
    let r = client
        .reset_workflow_execution(ResetWorkflowExecutionRequest {
            namespace: namespace.to_string(),
            workflow_execution: Some(WorkflowExecution {
                workflow_id: args.target.workflow_id.clone(),
                run_id: base.clone(),
            }),
            reason: args.reason,
            workflow_task_finish_event_id: event_id,
            request_id: uuid::Uuid::new_v4().to_string(),
            reset_reapply_type: reapply_type as i32,
            reset_reapply_exclude_types: exclude,
            identity: identity.to_string(),
            ..Default::default()
        })
        .await?
        .into_inner();
    Ok((base, event_id, r.run_id))
}

/// The run and event a `--type` names.
async fn reset_point(
    client: &mut Client,
    namespace: &str,
    target: &Target,
    t: ResetType,
    build_id: Option<&str>,
) -> anyhow::Result<(String, i64)> {
    let run_id = target.run_id.clone();
    match t {
        ResetType::FirstWorkflowTask => {
            let events = history(client, namespace, execution(target)).await?;
            Ok((run_id, workflow_task(&events, false)?))
        }
        ResetType::LastWorkflowTask => {
            let events = history(client, namespace, execution(target)).await?;
            Ok((run_id, workflow_task(&events, true)?))
        }
        ResetType::LastContinuedAsNew => {
            let events = history(client, namespace, execution(target)).await?;
            let previous = match events.first().and_then(|e| e.attributes.as_ref()) {
                Some(Attributes::WorkflowExecutionStartedEventAttributes(a)) => a.continued_execution_run_id.clone(),
                _ => String::new(),
            };
            if previous.is_empty() {
                bail!("cannot use LastContinuedAsNew for workflow; workflow was not continued from another");
            }
            let exec = WorkflowExecution { workflow_id: target.workflow_id.clone(), run_id: previous.clone() };
            let events = history(client, namespace, Some(exec)).await?;
            let last = events.iter().rev().find(|e| e.event_type == EventType::WorkflowTaskCompleted as i32);
            let id = last.context("unable to find WorkflowTaskCompleted event for previous execution")?.event_id;
            Ok((previous, id))
        }
        ResetType::BuildId => {
            let Some(build_id) = build_id.filter(|b| !b.is_empty()) else {
                bail!("must specify build Id for BuildId based reset")
            };
            let r = client
                .describe_workflow_execution(DescribeWorkflowExecutionRequest {
                    namespace: namespace.to_string(),
                    execution: execution(target),
                })
                .await?
                .into_inner();
            let info = r.workflow_execution_info.unwrap_or_default();
            let points = info.auto_reset_points.map(|p| p.points).unwrap_or_default();
            let point = points
                .into_iter()
                .find(|p| p.build_id == build_id)
                .with_context(|| format!("no reset point for build id {build_id}"))?;
            if !point.resettable {
                bail!("Reset point for {build_id} is not resettable");
            }
            Ok((point.run_id, point.first_workflow_task_completed_id))
        }
    }
}

/// Where `--type FirstWorkflowTask` / `LastWorkflowTask` resets.
fn workflow_task(events: &[HistoryEvent], last: bool) -> anyhow::Result<i64> {
    chronicle_engine::workflow_task_point(events, last).context("unable to find any scheduled or completed task")
}
