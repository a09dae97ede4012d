//! `chronicle worker deployment ...`: worker deployments and their
//! versions, with the flags of `temporal worker deployment`. Routing
//! changes read the deployment first for its conflict token, as the
//! `temporal` CLI does, so a change made meanwhile is refused, not undone.

use super::connect::{Client, ClientArgs};
use super::payloads;
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use temporalio_protos::temporal::api::{
    common::v1::Payloads,
    deployment::v1::WorkerDeploymentVersion,
    enums::v1::{TaskQueueType, WorkerDeploymentVersionStatus},
    workflowservice::v1::{set_worker_deployment_manager_request::NewManagerIdentity, *},
};

#[derive(Args)]
pub struct WorkerCommand {
    #[command(subcommand)]
    what: WorkerAction,
}

#[derive(Subcommand)]
enum WorkerAction {
    /// Worker deployments: versions, current and ramping version.
    Deployment(Box<DeploymentCommand>),
}

#[derive(Args)]
struct DeploymentCommand {
    #[command(flatten)]
    client: ClientArgs,
    /// Identity recorded as the change's author.
    #[arg(long, global = true, default_value = "chronicle-cli")]
    identity: String,
    #[command(subcommand)]
    action: Action,
}

/// A deployment version: its deployment and build id.
#[derive(Args)]
struct Version {
    #[arg(long)]
    deployment_name: String,
    #[arg(long)]
    build_id: String,
}

impl Version {
    fn message(&self) -> WorkerDeploymentVersion {
        WorkerDeploymentVersion { deployment_name: self.deployment_name.clone(), build_id: self.build_id.clone() }
    }
}

#[derive(Subcommand)]
enum Action {
    /// Every deployment of the namespace.
    List,
    /// A deployment: its routing and versions.
    Describe {
        #[arg(long, short = 'd')]
        name: String,
    },
    /// Delete a deployment that has no versions left.
    Delete {
        #[arg(long, short = 'd')]
        name: String,
    },
    /// A version: its status, task queues and metadata.
    DescribeVersion(Version),
    /// Delete a version that is neither current nor ramping, and has no pollers.
    DeleteVersion {
        #[command(flatten)]
        version: Version,
        /// Delete it even while workflows are pinned to it.
        #[arg(long)]
        skip_drainage: bool,
    },
    /// Make a version current (no --build-id: unversioned workers).
    SetCurrentVersion {
        #[arg(long)]
        deployment_name: String,
        #[arg(long, default_value = "")]
        build_id: String,
        /// Also when task queues of the current version would be left behind.
        #[arg(long)]
        ignore_missing_task_queues: bool,
        /// Also for a version no worker has polled yet.
        #[arg(long)]
        allow_no_pollers: bool,
        /// Accepted for the `temporal` CLI's habit; nothing is asked.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Ramp a share of new and auto-upgrade workflows to a version.
    SetRampingVersion {
        #[arg(long)]
        deployment_name: String,
        #[arg(long, default_value = "")]
        build_id: String,
        /// Share of workflows, 0 to 100.
        #[arg(long, default_value_t = 0.0)]
        percentage: f32,
        /// Remove the ramp.
        #[arg(long)]
        delete: bool,
        #[arg(long)]
        ignore_missing_task_queues: bool,
        #[arg(long)]
        allow_no_pollers: bool,
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Set or remove a version's metadata entries.
    UpdateMetadataVersion {
        #[command(flatten)]
        version: Version,
        /// KEY=JSON; repeat for several.
        #[arg(long)]
        metadata: Vec<String>,
        /// Keys to remove.
        #[arg(long)]
        remove_entries: Vec<String>,
    },
    /// The one identity allowed to change the deployment's routing.
    #[command(subcommand)]
    ManagerIdentity(Manager),
}

#[derive(Subcommand)]
enum Manager {
    Set {
        #[arg(long)]
        deployment_name: String,
        #[arg(long, conflicts_with = "self_", required_unless_present = "self_")]
        manager_identity: Option<String>,
        /// This CLI's identity.
        #[arg(long = "self")]
        self_: bool,
    },
    Unset {
        #[arg(long)]
        deployment_name: String,
    },
}

fn status_name(status: i32) -> &'static str {
    match WorkerDeploymentVersionStatus::try_from(status).unwrap_or(WorkerDeploymentVersionStatus::Unspecified) {
        WorkerDeploymentVersionStatus::Inactive => "Inactive",
        WorkerDeploymentVersionStatus::Current => "Current",
        WorkerDeploymentVersionStatus::Ramping => "Ramping",
        WorkerDeploymentVersionStatus::Draining => "Draining",
        WorkerDeploymentVersionStatus::Drained => "Drained",
        _ => "Unspecified",
    }
}

fn build_of(v: &Option<WorkerDeploymentVersion>) -> String {
    v.as_ref().map(|v| v.build_id.clone()).unwrap_or_else(|| "(unversioned)".into())
}

/// The deployment's conflict token (empty if it does not exist yet).
async fn conflict_token(client: &mut Client, namespace: &str, name: &str) -> anyhow::Result<Vec<u8>> {
    let r = client
        .describe_worker_deployment(DescribeWorkerDeploymentRequest {
            namespace: namespace.into(),
            deployment_name: name.into(),
        })
        .await;
    match r {
        Ok(r) => Ok(r.into_inner().conflict_token),
        Err(s) if s.code() == tonic::Code::NotFound => Ok(Vec::new()),
        Err(s) => Err(s).context("failed to describe the deployment"),
    }
}

pub async fn run(cmd: WorkerCommand) -> anyhow::Result<()> {
    let WorkerAction::Deployment(cmd) = cmd.what;
    let DeploymentCommand { client, identity, action } = *cmd;
    let json = client.json();
    let ns = client.namespace;
    let mut client = client.connect.client().await?;
    match action {
        Action::List => {
            let mut token = Vec::new();
            let mut all = Vec::new();
            loop {
                let r = client
                    .list_worker_deployments(ListWorkerDeploymentsRequest {
                        namespace: ns.clone(),
                        page_size: 0,
                        next_page_token: token,
                    })
                    .await?
                    .into_inner();
                all.extend(r.worker_deployments);
                if r.next_page_token.is_empty() {
                    break;
                }
                token = r.next_page_token;
            }
            if json {
                let r = ListWorkerDeploymentsResponse { worker_deployments: all, next_page_token: Vec::new() };
                return super::print_json("temporal.api.workflowservice.v1.ListWorkerDeploymentsResponse", &r);
            }
            println!("{:<30} {:<20} {:<20} {:>6}", "Name", "Current", "Ramping", "Ramp%");
            for d in all {
                let routing = d.routing_config.unwrap_or_default();
                let ramping =
                    if routing.ramping_deployment_version.is_none() && routing.ramping_version_percentage == 0.0 {
                        String::new()
                    } else {
                        build_of(&routing.ramping_deployment_version)
                    };
                println!(
                    "{:<30} {:<20} {:<20} {:>6}",
                    d.name,
                    build_of(&routing.current_deployment_version),
                    ramping,
                    routing.ramping_version_percentage
                );
            }
        }
        Action::Describe { name } => {
            let r = client
                .describe_worker_deployment(DescribeWorkerDeploymentRequest { namespace: ns, deployment_name: name })
                .await?
                .into_inner();
            if json {
                return super::print_json("temporal.api.workflowservice.v1.DescribeWorkerDeploymentResponse", &r);
            }
            let info = r.worker_deployment_info.unwrap_or_default();
            let routing = info.routing_config.unwrap_or_default();
            println!("Name              {}", info.name);
            println!("CurrentVersion    {}", build_of(&routing.current_deployment_version));
            if routing.ramping_deployment_version.is_some() || routing.ramping_version_percentage > 0.0 {
                println!(
                    "RampingVersion    {} ({}%)",
                    build_of(&routing.ramping_deployment_version),
                    routing.ramping_version_percentage
                );
            }
            if !info.manager_identity.is_empty() {
                println!("ManagerIdentity   {}", info.manager_identity);
            }
            println!("LastModifiedBy    {}", info.last_modifier_identity);
            println!("Versions:");
            for v in info.version_summaries {
                println!("  {:<20} {}", build_of(&v.deployment_version), status_name(v.status));
            }
        }
        Action::Delete { name } => {
            client
                .delete_worker_deployment(DeleteWorkerDeploymentRequest {
                    namespace: ns,
                    deployment_name: name.clone(),
                    identity,
                })
                .await?;
            println!("Deleted worker deployment {name}");
        }
        Action::DescribeVersion(version) => {
            let r = client
                .describe_worker_deployment_version(DescribeWorkerDeploymentVersionRequest {
                    namespace: ns,
                    deployment_version: Some(version.message()),
                    ..Default::default()
                })
                .await?
                .into_inner();
            if json {
                return super::print_json(
                    "temporal.api.workflowservice.v1.DescribeWorkerDeploymentVersionResponse",
                    &r,
                );
            }
            let info = r.worker_deployment_version_info.unwrap_or_default();
            println!("DeploymentName  {}", version.deployment_name);
            println!("BuildId         {}", version.build_id);
            println!("Status          {}", status_name(info.status));
            if info.ramp_percentage > 0.0 {
                println!("RampPercentage  {}", info.ramp_percentage);
            }
            println!("TaskQueues:");
            for tq in r.version_task_queues {
                let kind = if tq.r#type == TaskQueueType::Activity as i32 { "activity" } else { "workflow" };
                println!("  {:<40} {kind}", tq.name);
            }
            for (key, value) in info.metadata.map(|m| m.entries).unwrap_or_default() {
                println!("Metadata  {key} = {}", payloads::to_json(Some(&Payloads { payloads: vec![value] })));
            }
        }
        Action::DeleteVersion { version, skip_drainage } => {
            client
                .delete_worker_deployment_version(DeleteWorkerDeploymentVersionRequest {
                    namespace: ns,
                    deployment_version: Some(version.message()),
                    skip_drainage,
                    identity,
                    ..Default::default()
                })
                .await?;
            println!("Deleted version {} of worker deployment {}", version.build_id, version.deployment_name);
        }
        Action::SetCurrentVersion {
            deployment_name, build_id, ignore_missing_task_queues, allow_no_pollers, ..
        } => {
            let conflict_token = conflict_token(&mut client, &ns, &deployment_name).await?;
            let r = client
                .set_worker_deployment_current_version(SetWorkerDeploymentCurrentVersionRequest {
                    namespace: ns,
                    deployment_name: deployment_name.clone(),
                    build_id: build_id.clone(),
                    conflict_token,
                    identity,
                    ignore_missing_task_queues,
                    allow_no_pollers,
                    ..Default::default()
                })
                .await?
                .into_inner();
            #[allow(deprecated)] // the previous version is answered only in the deprecated field
            let previous = build_of(&r.previous_deployment_version);
            println!(
                "Current version of {deployment_name} set to {} (was {previous})",
                build_of(&version(&deployment_name, &build_id))
            );
        }
        Action::SetRampingVersion {
            deployment_name,
            build_id,
            percentage,
            delete,
            ignore_missing_task_queues,
            allow_no_pollers,
            ..
        } => {
            if !(0.0..=100.0).contains(&percentage) {
                bail!("--percentage must be between 0 and 100");
            }
            let (build_id, percentage) = if delete { (String::new(), 0.0) } else { (build_id, percentage) };
            let conflict_token = conflict_token(&mut client, &ns, &deployment_name).await?;
            client
                .set_worker_deployment_ramping_version(SetWorkerDeploymentRampingVersionRequest {
                    namespace: ns,
                    deployment_name: deployment_name.clone(),
                    build_id: build_id.clone(),
                    percentage,
                    conflict_token,
                    identity,
                    ignore_missing_task_queues,
                    allow_no_pollers,
                    ..Default::default()
                })
                .await?;
            if delete {
                println!("Ramp of {deployment_name} removed");
            } else {
                println!(
                    "Ramping version of {deployment_name} set to {} at {percentage}%",
                    build_of(&version(&deployment_name, &build_id))
                );
            }
        }
        Action::UpdateMetadataVersion { version, metadata, remove_entries } => {
            let mut upsert_entries = std::collections::HashMap::new();
            for entry in metadata {
                let (key, value) =
                    entry.split_once('=').with_context(|| format!("--metadata {entry}: expected KEY=JSON"))?;
                let value: serde_json::Value = serde_json::from_str(value)
                    .with_context(|| format!("--metadata {entry}: the value is not JSON"))?;
                upsert_entries.insert(key.to_string(), payloads::json_payload(&value));
            }
            let r = client
                .update_worker_deployment_version_metadata(UpdateWorkerDeploymentVersionMetadataRequest {
                    namespace: ns,
                    deployment_version: Some(version.message()),
                    upsert_entries,
                    remove_entries,
                    identity,
                    ..Default::default()
                })
                .await?
                .into_inner();
            if json {
                return super::print_json(
                    "temporal.api.workflowservice.v1.UpdateWorkerDeploymentVersionMetadataResponse",
                    &r,
                );
            }
            println!("Metadata of version {} updated", version.build_id);
        }
        Action::ManagerIdentity(manager) => {
            let (deployment_name, new_manager) = match manager {
                Manager::Set { deployment_name, manager_identity: Some(m), .. } => {
                    (deployment_name, NewManagerIdentity::ManagerIdentity(m))
                }
                Manager::Set { deployment_name, .. } => (deployment_name, NewManagerIdentity::Self_(true)),
                Manager::Unset { deployment_name } => {
                    (deployment_name, NewManagerIdentity::ManagerIdentity(String::new()))
                }
            };
            let conflict_token = conflict_token(&mut client, &ns, &deployment_name).await?;
            client
                .set_worker_deployment_manager(SetWorkerDeploymentManagerRequest {
                    namespace: ns,
                    deployment_name: deployment_name.clone(),
                    conflict_token,
                    identity,
                    new_manager_identity: Some(new_manager),
                })
                .await?;
            println!("Manager identity of {deployment_name} updated");
        }
    }
    Ok(())
}

fn version(deployment_name: &str, build_id: &str) -> Option<WorkerDeploymentVersion> {
    (!build_id.is_empty()).then(|| WorkerDeploymentVersion {
        deployment_name: deployment_name.to_string(),
        build_id: build_id.to_string(),
    })
}
