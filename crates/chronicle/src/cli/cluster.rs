//! `chronicle cluster describe`: the nodes of a cluster, the shards each
//! holds and how fresh their heartbeats and leases are, as one node sees
//! them (any node will do).

use super::connect::ConnectArgs;
use chronicle_proto::cluster::DescribeRequest;
use chronicle_proto::clusterservice::cluster_client::ClusterClient;
use clap::{Args, Subcommand, ValueEnum};

#[derive(Subcommand)]
pub enum ClusterCommand {
    /// List the live nodes and the shards each holds.
    Describe(Describe),
}

#[derive(Args)]
pub struct Describe {
    #[command(flatten)]
    connect: ConnectArgs,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value = "text")]
    output: Output,
}

#[derive(Clone, Copy, ValueEnum)]
enum Output {
    Text,
    Json,
}

fn millis(nanos: i64) -> i64 {
    nanos.max(0) / 1_000_000
}

pub async fn run(command: ClusterCommand) -> anyhow::Result<()> {
    let ClusterCommand::Describe(args) = command;
    let (channel, key) = args.connect.connect().await?;
    let mut client = ClusterClient::with_interceptor(channel, key);
    let view = client.describe(DescribeRequest {}).await?.into_inner();
    let now = view.now;
    match args.output {
        Output::Json => {
            let nodes: Vec<_> = view
                .nodes
                .iter()
                .map(|n| {
                    serde_json::json!({
                        "nodeId": n.node_id,
                        "rpcAddress": n.rpc_address,
                        "clusterAddress": n.cluster_address,
                        "live": n.live,
                        "shards": n.shards,
                        "heartbeatAgeMs": millis(now - n.heartbeat_at),
                        "upMs": millis(now - n.started_at),
                    })
                })
                .collect();
            let shards: Vec<_> = view
                .shards
                .iter()
                .map(|s| {
                    serde_json::json!({
                        "shardId": s.shard_id,
                        "owner": s.owner,
                        "epoch": s.epoch,
                        "leaseAgeMs": millis(now - s.acquired_at),
                        "leaseLeftMs": (s.lease_until - now) / 1_000_000,
                    })
                })
                .collect();
            let out = serde_json::json!({ "nodeId": view.node_id, "nodes": nodes, "shards": shards });
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        Output::Text => {
            let unowned = view.shards.iter().filter(|s| s.owner.is_empty() || s.lease_until < now).count();
            println!(
                "Seen from node {} ({} shards, {} without a live lease)",
                view.node_id,
                view.shards.len(),
                unowned
            );
            println!(
                "{:<24} {:<22} {:<22} {:<5} {:>6} {:>12}",
                "NODE", "ADDRESS", "CLUSTER ADDRESS", "LIVE", "SHARDS", "HEARTBEAT"
            );
            for n in &view.nodes {
                println!(
                    "{:<24} {:<22} {:<22} {:<5} {:>6} {:>10}ms",
                    n.node_id,
                    n.rpc_address,
                    n.cluster_address,
                    if n.live { "yes" } else { "no" },
                    n.shards,
                    millis(now - n.heartbeat_at)
                );
            }
        }
    }
    Ok(())
}
