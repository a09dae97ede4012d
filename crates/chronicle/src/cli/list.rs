//! `chronicle workflow list` and `chronicle workflow count`: visibility
//! queries, printed as the `temporal` CLI prints them. They hook into the
//! `workflow` command (and its global `--address`, `--namespace`,
//! `--output`) from `main`.

use clap::{ArgMatches, FromArgMatches, Subcommand};
use temporalio_protos::temporal::api::{
    common::v1::Payload,
    enums::v1::WorkflowExecutionStatus,
    workflow::v1::WorkflowExecutionInfo,
    workflowservice::v1::{CountWorkflowExecutionsRequest, ListWorkflowExecutionsRequest},
};

/// Largest page asked of the server.
const PAGE_SIZE: usize = 100;

#[derive(Subcommand)]
enum Visibility {
    /// List workflow executions, newest first.
    List {
        /// Filter, in Temporal's list filter syntax
        /// (e.g. "WorkflowType = 'Order' AND ExecutionStatus = 'Running'").
        #[arg(long, short = 'q', default_value = "")]
        query: String,
        /// List at most this many.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Count workflow executions (add "GROUP BY ExecutionStatus" for counts per status).
    Count {
        #[arg(long, short = 'q', default_value = "")]
        query: String,
    },
}

pub struct Command {
    connect: super::connect::ConnectArgs,
    namespace: String,
    json: bool,
    action: Visibility,
}

/// Adds `list` and `count` to the `workflow` command.
pub fn augment(cli: clap::Command) -> clap::Command {
    cli.mut_subcommand("workflow", Visibility::augment_subcommands)
}

/// `--output table` is the `temporal` CLI's name for the text output.
pub fn table_is_text(args: impl Iterator<Item = std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut after_output = false;
    args.map(|arg| {
        let table = arg == "table" && after_output;
        after_output = arg == "-o" || arg == "--output";
        match arg.to_str() {
            _ if table => "text".into(),
            Some("--output=table") => "--output=text".into(),
            _ => arg,
        }
    })
    .collect()
}

/// The list or count command, if that is what was asked for.
pub fn from_matches(matches: &ArgMatches) -> anyhow::Result<Option<Command>> {
    let Some(workflow) = matches.subcommand_matches("workflow") else { return Ok(None) };
    if !matches!(workflow.subcommand_name(), Some("list" | "count")) {
        return Ok(None);
    }
    let action = Visibility::from_arg_matches(workflow)?;
    let global = |id: &str| -> String {
        workflow
            .get_raw(id)
            .and_then(|mut values| values.next())
            .map(|v| v.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    Ok(Some(Command {
        connect: super::connect::ConnectArgs::from_arg_matches(workflow)?,
        namespace: global("namespace"),
        json: global("output") == "json",
        action,
    }))
}

pub async fn run(cmd: Command) -> anyhow::Result<()> {
    let mut client = cmd.connect.client().await?;
    match cmd.action {
        Visibility::List { query, limit } => {
            let limit = limit.unwrap_or(usize::MAX);
            let mut runs = Vec::new();
            let mut token = Vec::new();
            while runs.len() < limit {
                let r = client
                    .list_workflow_executions(ListWorkflowExecutionsRequest {
                        namespace: cmd.namespace.clone(),
                        page_size: (limit - runs.len()).min(PAGE_SIZE) as i32,
                        next_page_token: token,
                        query: query.clone(),
                    })
                    .await?
                    .into_inner();
                runs.extend(r.executions);
                if r.next_page_token.is_empty() {
                    break;
                }
                token = r.next_page_token;
            }
            runs.truncate(limit);
            if cmd.json {
                let json: Vec<serde_json::Value> = runs.iter().map(run_json).collect();
                println!("{}", serde_json::to_string_pretty(&json)?);
            } else {
                print!("{}", table(&runs));
            }
        }
        Visibility::Count { query } => {
            let r = client
                .count_workflow_executions(CountWorkflowExecutionsRequest { namespace: cmd.namespace, query })
                .await?
                .into_inner();
            let groups: Vec<(Vec<String>, i64)> =
                r.groups.iter().map(|g| (g.group_values.iter().map(payload_text).collect(), g.count)).collect();
            if cmd.json {
                let groups: Vec<_> = groups
                    .iter()
                    .map(|(values, count)| serde_json::json!({"groupValues": values, "count": count}))
                    .collect();
                let mut json = serde_json::json!({ "count": r.count });
                if !groups.is_empty() {
                    json["groups"] = groups.into();
                }
                println!("{}", serde_json::to_string_pretty(&json)?);
            } else {
                println!("Total: {}", r.count);
                for (values, count) in groups {
                    println!("Group total: {count}, values: {}", values.join(", "));
                }
            }
        }
    }
    Ok(())
}

/// 'Running', 'ContinuedAsNew': as the `temporal` CLI shows statuses.
fn status_name(status: i32) -> String {
    WorkflowExecutionStatus::try_from(status)
        .map(|s| {
            s.as_str_name()
                .trim_start_matches("WORKFLOW_EXECUTION_STATUS_")
                .split('_')
                .map(|w| w[..1].to_string() + &w[1..].to_lowercase())
                .collect()
        })
        .unwrap_or_else(|_| status.to_string())
}

/// The start time, RFC 3339 to the second.
fn start_time(info: &WorkflowExecutionInfo) -> String {
    info.start_time
        .map(|mut t| {
            t.nanos = 0;
            t.to_string()
        })
        .unwrap_or_default()
}

fn run_json(info: &WorkflowExecutionInfo) -> serde_json::Value {
    let exec = info.execution.clone().unwrap_or_default();
    serde_json::json!({
        "workflowId": exec.workflow_id,
        "runId": exec.run_id,
        "type": info.r#type.as_ref().map(|t| t.name.as_str()).unwrap_or_default(),
        "status": status_name(info.status),
        "startTime": info.start_time.map(|t| t.to_string()),
        "closeTime": info.close_time.map(|t| t.to_string()),
        "taskQueue": info.task_queue,
        "historyLength": info.history_length,
    })
}

fn table(runs: &[WorkflowExecutionInfo]) -> String {
    let rows: Vec<[String; 4]> = runs
        .iter()
        .map(|info| {
            [
                status_name(info.status),
                info.execution.as_ref().map(|e| e.workflow_id.clone()).unwrap_or_default(),
                info.r#type.as_ref().map(|t| t.name.clone()).unwrap_or_default(),
                start_time(info),
            ]
        })
        .collect();
    let header = ["Status", "WorkflowId", "Type", "StartTime"].map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row.iter().zip(widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// A group value: JSON payloads as their text.
fn payload_text(p: &Payload) -> String {
    match serde_json::from_slice::<serde_json::Value>(&p.data) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::from_utf8_lossy(&p.data).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use temporalio_protos::temporal::api::common::v1::{WorkflowExecution, WorkflowType};

    #[test]
    fn statuses_as_the_temporal_cli_shows_them() {
        assert_eq!(status_name(1), "Running");
        assert_eq!(status_name(6), "ContinuedAsNew");
        assert_eq!(status_name(7), "TimedOut");
    }

    #[test]
    fn table_columns_line_up() {
        let run = |id: &str, status: i32| WorkflowExecutionInfo {
            execution: Some(WorkflowExecution { workflow_id: id.into(), run_id: "r".into() }),
            r#type: Some(WorkflowType { name: "Greeter".into() }),
            status,
            start_time: Some(prost_types::Timestamp { seconds: 1_704_067_200, nanos: 5 }),
            ..Default::default()
        };
        assert_eq!(
            table(&[run("a-long-workflow-id", 5), run("b", 1)]),
            "Status      WorkflowId          Type     StartTime\n\
             Terminated  a-long-workflow-id  Greeter  2024-01-01T00:00:00Z\n\
             Running     b                   Greeter  2024-01-01T00:00:00Z\n"
        );
    }

    #[test]
    fn output_table_means_text() {
        let args = ["chronicle", "workflow", "list", "-o", "table", "--query", "table", "--output=table"];
        let rewritten = table_is_text(args.iter().map(Into::into));
        assert_eq!(rewritten, ["chronicle", "workflow", "list", "-o", "text", "--query", "table", "--output=text"]);
    }
}
