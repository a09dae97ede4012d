//! `chronicle activity ...`: standalone activities (started without a
//! workflow), with the flags of `temporal activity`.

use super::connect::{Client, ClientArgs};
use super::payloads;
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use temporalio_protos::temporal::api::{
    activity::v1::{ActivityExecutionOutcome, activity_execution_outcome},
    common::v1::{ActivityType, RetryPolicy},
    enums::v1::{ActivityIdConflictPolicy, ActivityIdReusePolicy},
    taskqueue::v1::TaskQueue,
    workflowservice::v1::*,
};

#[derive(Args)]
pub struct ActivityCommand {
    #[command(flatten)]
    client: ClientArgs,
    #[command(subcommand)]
    action: Action,
}

/// One activity: its id, and a run (default: the latest).
#[derive(Args)]
struct Target {
    #[arg(long, short = 'a')]
    activity_id: String,
    #[arg(long, short = 'r', default_value = "")]
    run_id: String,
}

#[derive(Args)]
struct StartArgs {
    #[arg(long, short = 'a')]
    activity_id: String,
    /// Activity type name.
    #[arg(long)]
    r#type: String,
    #[arg(long, short = 't')]
    task_queue: String,
    /// Input as JSON; repeat for several arguments.
    #[arg(long, short = 'i')]
    input: Vec<String>,
    #[arg(long)]
    schedule_to_close_timeout: Option<String>,
    #[arg(long)]
    schedule_to_start_timeout: Option<String>,
    #[arg(long)]
    start_to_close_timeout: Option<String>,
    #[arg(long)]
    heartbeat_timeout: Option<String>,
    #[arg(long)]
    retry_initial_interval: Option<String>,
    #[arg(long)]
    retry_maximum_interval: Option<String>,
    #[arg(long)]
    retry_backoff_coefficient: Option<f64>,
    #[arg(long)]
    retry_maximum_attempts: Option<i32>,
    /// AllowDuplicate, AllowDuplicateFailedOnly or RejectDuplicate.
    #[arg(long)]
    id_reuse_policy: Option<String>,
    /// Fail or UseExisting.
    #[arg(long)]
    id_conflict_policy: Option<String>,
}

#[derive(Subcommand)]
enum Action {
    /// Start a standalone activity.
    Start(StartArgs),
    /// Start a standalone activity and wait for its result.
    Execute(StartArgs),
    /// Wait for a standalone activity's result.
    Result(Target),
    /// Show a standalone activity.
    Describe(Target),
    /// List standalone activities (newest first).
    List {
        #[arg(long, short = 'q', default_value = "")]
        query: String,
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Count standalone activities.
    Count {
        #[arg(long, short = 'q', default_value = "")]
        query: String,
    },
    /// Request cancellation (its worker learns of it by heartbeating).
    Cancel {
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// End it now; its worker is not told.
    Terminate {
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Delete it (a running one is terminated first).
    Delete {
        #[command(flatten)]
        target: Target,
        /// Delete without asking.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

type Duration = prost_types::Duration;

fn duration(flag: &str, value: &Option<String>) -> anyhow::Result<Option<Duration>> {
    let Some(text) = value else { return Ok(None) };
    let d = crate::config::parse_duration(text).with_context(|| format!("invalid --{flag} {text:?}"))?;
    Ok(Some(chronicle_engine::time::dur_from_nanos(d.as_nanos() as i128)))
}

fn start_request(namespace: &str, a: StartArgs) -> anyhow::Result<StartActivityExecutionRequest> {
    let reuse = match a.id_reuse_policy.as_deref() {
        None => ActivityIdReusePolicy::Unspecified,
        Some("AllowDuplicate") => ActivityIdReusePolicy::AllowDuplicate,
        Some("AllowDuplicateFailedOnly") => ActivityIdReusePolicy::AllowDuplicateFailedOnly,
        Some("RejectDuplicate") => ActivityIdReusePolicy::RejectDuplicate,
        Some(other) => {
            bail!("invalid --id-reuse-policy {other:?}: AllowDuplicate, AllowDuplicateFailedOnly or RejectDuplicate")
        }
    };
    let conflict = match a.id_conflict_policy.as_deref() {
        None => ActivityIdConflictPolicy::Unspecified,
        Some("Fail") => ActivityIdConflictPolicy::Fail,
        Some("UseExisting") => ActivityIdConflictPolicy::UseExisting,
        Some(other) => bail!("invalid --id-conflict-policy {other:?}: Fail or UseExisting"),
    };
    let retry_set = a.retry_initial_interval.is_some()
        || a.retry_maximum_interval.is_some()
        || a.retry_backoff_coefficient.is_some()
        || a.retry_maximum_attempts.is_some();
    let retry_policy = retry_set
        .then(|| -> anyhow::Result<RetryPolicy> {
            Ok(RetryPolicy {
                initial_interval: duration("retry-initial-interval", &a.retry_initial_interval)?,
                maximum_interval: duration("retry-maximum-interval", &a.retry_maximum_interval)?,
                backoff_coefficient: a.retry_backoff_coefficient.unwrap_or_default(),
                maximum_attempts: a.retry_maximum_attempts.unwrap_or_default(),
                non_retryable_error_types: Vec::new(),
            })
        })
        .transpose()?;
    Ok(StartActivityExecutionRequest {
        namespace: namespace.into(),
        identity: format!("chronicle-cli@{}", std::process::id()),
        request_id: uuid::Uuid::new_v4().to_string(),
        activity_id: a.activity_id,
        activity_type: Some(ActivityType { name: a.r#type }),
        task_queue: Some(TaskQueue { name: a.task_queue, ..Default::default() }),
        schedule_to_close_timeout: duration("schedule-to-close-timeout", &a.schedule_to_close_timeout)?,
        schedule_to_start_timeout: duration("schedule-to-start-timeout", &a.schedule_to_start_timeout)?,
        start_to_close_timeout: duration("start-to-close-timeout", &a.start_to_close_timeout)?,
        heartbeat_timeout: duration("heartbeat-timeout", &a.heartbeat_timeout)?,
        retry_policy,
        input: payloads::from_json_args(&a.input)?,
        id_reuse_policy: reuse as i32,
        id_conflict_policy: conflict as i32,
        ..Default::default()
    })
}

fn not_found(activity_id: &str) -> impl Fn(tonic::Status) -> anyhow::Error + '_ {
    move |s| {
        if s.code() == tonic::Code::NotFound {
            anyhow::anyhow!("activity not found: {activity_id}")
        } else {
            anyhow::anyhow!(s)
        }
    }
}

/// Polls until the activity has an outcome; prints it; an error if it did
/// not complete.
async fn result(client: &mut Client, namespace: &str, target: Target, json: bool) -> anyhow::Result<()> {
    let outcome = loop {
        let r = client
            .poll_activity_execution(PollActivityExecutionRequest {
                namespace: namespace.into(),
                activity_id: target.activity_id.clone(),
                run_id: target.run_id.clone(),
            })
            .await
            .map_err(not_found(&target.activity_id))?
            .into_inner();
        // An empty answer: still running at the server's long-poll limit.
        if let Some(outcome) = r.outcome {
            break (r.run_id, outcome);
        }
    };
    let (run_id, ActivityExecutionOutcome { value, .. }) = outcome;
    match value {
        Some(activity_execution_outcome::Value::Result(result)) => {
            let result = payloads::to_json(Some(&result));
            if json {
                let out = serde_json::json!({ "activityId": target.activity_id, "runId": run_id, "status": "COMPLETED", "result": result });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("Status  COMPLETED\nResult  {result}");
            }
            Ok(())
        }
        Some(activity_execution_outcome::Value::Failure(failure)) => {
            if json {
                let out = serde_json::json!({ "activityId": target.activity_id, "runId": run_id, "status": "FAILED", "failure": failure.message });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("Status   FAILED\nFailure  {}", failure.message);
            }
            bail!("activity failed")
        }
        None => bail!("the server gave an outcome with neither a result nor a failure"),
    }
}

pub async fn run(cmd: ActivityCommand) -> anyhow::Result<()> {
    let mut client = cmd.client.connect.client().await?;
    let ns = cmd.client.namespace.clone();
    let json = cmd.client.json();
    match cmd.action {
        Action::Start(args) => {
            let id = args.activity_id.clone();
            let r = client.start_activity_execution(start_request(&ns, args)?).await?.into_inner();
            if json {
                println!("{}", serde_json::json!({ "activityId": id, "runId": r.run_id, "namespace": ns }));
            } else {
                println!("Running execution:\n  ActivityId  {id}\n  RunId       {}\n  Namespace   {ns}", r.run_id);
            }
        }
        Action::Execute(args) => {
            let id = args.activity_id.clone();
            let r = client.start_activity_execution(start_request(&ns, args)?).await?.into_inner();
            result(&mut client, &ns, Target { activity_id: id, run_id: r.run_id }, json).await?;
        }
        Action::Result(target) => result(&mut client, &ns, target, json).await?,
        Action::Describe(target) => {
            let r = client
                .describe_activity_execution(DescribeActivityExecutionRequest {
                    namespace: ns,
                    activity_id: target.activity_id.clone(),
                    run_id: target.run_id,
                    include_input: true,
                    include_outcome: true,
                    include_heartbeat_details: true,
                    include_last_failure: true,
                    ..Default::default()
                })
                .await
                .map_err(not_found(&target.activity_id))?
                .into_inner();
            if json {
                return super::print_json("temporal.api.workflowservice.v1.DescribeActivityExecutionResponse", &r);
            }
            let info = r.info.unwrap_or_default();
            println!("ActivityId    {}", info.activity_id);
            println!("RunId         {}", info.run_id);
            println!("Type          {}", info.activity_type.map(|t| t.name).unwrap_or_default());
            println!("Status        {}", chronicle_server::activity_status_name(info.status));
            println!("TaskQueue     {}", info.task_queue);
            println!("Attempt       {}", info.attempt);
            if !info.canceled_reason.is_empty() {
                println!("CancelReason  {}", info.canceled_reason);
            }
            if let Some(failure) = info.last_failure {
                println!("LastFailure   {}", failure.message);
            }
        }
        Action::List { query, limit } => {
            let mut token = Vec::new();
            let mut shown = 0;
            'pages: loop {
                let r = client
                    .list_activity_executions(ListActivityExecutionsRequest {
                        namespace: ns.clone(),
                        query: query.clone(),
                        next_page_token: token,
                        ..Default::default()
                    })
                    .await?
                    .into_inner();
                for a in &r.executions {
                    if limit.is_some_and(|l| shown >= l) {
                        break 'pages;
                    }
                    shown += 1;
                    let ty = a.activity_type.as_ref().map(|t| t.name.as_str()).unwrap_or_default();
                    if json {
                        let out = serde_json::json!({
                            "activityId": a.activity_id, "runId": a.run_id, "type": ty, "status": chronicle_server::activity_status_name(a.status),
                        });
                        println!("{out}");
                    } else {
                        println!(
                            "{:<10}  {}  {ty}  {}",
                            chronicle_server::activity_status_name(a.status),
                            a.activity_id,
                            a.run_id
                        );
                    }
                }
                if r.next_page_token.is_empty() {
                    break;
                }
                token = r.next_page_token;
            }
        }
        Action::Count { query } => {
            let r = client
                .count_activity_executions(CountActivityExecutionsRequest { namespace: ns, query })
                .await?
                .into_inner();
            if json {
                println!("{}", serde_json::json!({ "count": r.count }));
            } else {
                println!("Total: {}", r.count);
                for g in &r.groups {
                    let values: Vec<_> =
                        g.group_values.iter().map(|p| String::from_utf8_lossy(&p.data).to_string()).collect();
                    println!("  {}: {}", values.join(", "), g.count);
                }
            }
        }
        Action::Cancel { target, reason } => {
            client
                .request_cancel_activity_execution(RequestCancelActivityExecutionRequest {
                    namespace: ns,
                    activity_id: target.activity_id.clone(),
                    run_id: target.run_id,
                    identity: format!("chronicle-cli@{}", std::process::id()),
                    request_id: uuid::Uuid::new_v4().to_string(),
                    reason,
                })
                .await
                .map_err(not_found(&target.activity_id))?;
            println!("Cancellation requested");
        }
        Action::Terminate { target, reason } => {
            let reason = if reason.is_empty() { "Requested from the chronicle CLI".to_string() } else { reason };
            client
                .terminate_activity_execution(TerminateActivityExecutionRequest {
                    namespace: ns,
                    activity_id: target.activity_id.clone(),
                    run_id: target.run_id,
                    identity: format!("chronicle-cli@{}", std::process::id()),
                    request_id: uuid::Uuid::new_v4().to_string(),
                    reason,
                })
                .await
                .map_err(not_found(&target.activity_id))?;
            println!("Activity terminated");
        }
        Action::Delete { target, yes } => {
            if !yes {
                super::confirm(&format!("Delete Standalone Activity {:?}?", target.activity_id), json)?;
            }
            client
                .delete_activity_execution(DeleteActivityExecutionRequest {
                    namespace: ns,
                    activity_id: target.activity_id.clone(),
                    run_id: target.run_id,
                })
                .await
                .map_err(not_found(&target.activity_id))?;
            println!("Deleted execution: {}", target.activity_id);
        }
    }
    Ok(())
}
