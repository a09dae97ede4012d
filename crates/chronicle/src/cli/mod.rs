//! Client commands (the `temporal` CLI's habits).

pub mod activity;
pub mod auth;
pub mod batch;
pub mod cluster;
pub mod connect;
pub mod deployment;
pub mod list;
mod payloads;
mod reset;
pub mod workflow;

/// Asks `question` and waits for a yes, as the `temporal` CLI does; with
/// JSON output (no one to ask) a caller must pass `--yes` instead.
fn confirm(question: &str, json: bool) -> anyhow::Result<()> {
    if json {
        anyhow::bail!("must bypass prompts when using JSON output");
    }
    print!("{question} y/N ");
    std::io::Write::flush(&mut std::io::stdout())?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if !matches!(answer.trim().to_lowercase().as_str(), "y" | "yes") {
        anyhow::bail!("user denied confirmation");
    }
    Ok(())
}

/// Prints a response as the `temporal` CLI's `-o json` does (protobuf JSON).
fn print_json(type_name: &str, message: &impl prost::Message) -> anyhow::Result<()> {
    let value =
        chronicle_proto::json::to_json(type_name, message).map_err(|e| anyhow::anyhow!("cannot write JSON: {e}"))?;
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(())
}
