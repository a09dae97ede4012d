//! The `chronicle` binary.

mod cli;
mod dynamic_config;

use anyhow::Context;
use chronicle_server::{Server, ServerOptions};
use chronicle_store::{SqliteOptions, SqliteStore};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "chronicle", version, about = "A durable workflow server that speaks Temporal's gRPC API")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    #[command(subcommand)]
    Server(ServerCommand),
    /// Start, signal, query, cancel, terminate and inspect workflows.
    Workflow(cli::workflow::WorkflowCommand),
}

#[derive(Subcommand)]
enum ServerCommand {
    /// Start a development server on an embedded SQLite database.
    StartDev(StartDev),
}

#[derive(Args)]
struct StartDev {
    /// IP address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    ip: String,
    /// gRPC port (0 picks a free one).
    #[arg(long, short = 'p', default_value_t = 7233)]
    port: u16,
    /// SQLite file holding all data; created if absent.
    #[arg(long, short = 'f', default_value = "chronicle.db")]
    db_filename: PathBuf,
    /// Keep everything in memory: nothing survives the process
    /// (`--db-filename` is then ignored).
    #[arg(long)]
    in_memory: bool,
    /// Namespaces to create at start (repeatable); `default` always exists.
    #[arg(long = "namespace", short = 'n')]
    namespaces: Vec<String>,
    /// Log level: error, warn, info, debug or trace.
    #[arg(long, default_value = "info")]
    log_level: String,
    /// SQLite reader connections.
    #[arg(long, default_value_t = 2, hide = true)]
    readers: usize,
    /// Dynamic config, as KEY=VALUE with Temporal's key names and a JSON
    /// value (repeatable), e.g. limit.historyCount.suggestContinueAsNew=4096;
    /// keys Chronicle does not apply are accepted with a warning.
    #[arg(long = "dynamic-config-value")]
    dynamic_config_values: Vec<String>,
    /// Register a custom search attribute as KEY=TYPE in every namespace
    /// created at start (repeatable); TYPE is one of Text, Keyword, Int,
    /// Double, Bool, Datetime, KeywordList.
    #[arg(long = "search-attribute", value_name = "KEY=TYPE")]
    search_attributes: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    // `workflow list` and `workflow count` join the derived `workflow` command.
    let matches = cli::list::augment(Cli::command()).get_matches_from(cli::list::table_is_text(std::env::args_os()));
    if let Some(cmd) = cli::list::from_matches(&matches)? {
        return client(cli::list::run(cmd));
    }
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match cli.command {
        Command::Server(ServerCommand::StartDev(args)) => start_dev(args),
        Command::Workflow(cmd) => client(cli::workflow::run(cmd)),
    }
}

/// Runs a client command; a failure is a user-facing message, not a backtrace.
fn client(command: impl std::future::Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    if let Err(e) = runtime.block_on(command) {
        match e.downcast_ref::<tonic::Status>() {
            Some(status) => eprintln!("Error: {:?}: {}", status.code(), status.message()),
            None => eprintln!("Error: {e:#}"),
        }
        std::process::exit(1);
    }
    Ok(())
}

fn start_dev(args: StartDev) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log_level)
        .with_context(|| format!("invalid --log-level {}", args.log_level))?;
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let addr = format!("{}:{}", args.ip, args.port);
        let listener =
            tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("cannot listen on {addr}"))?;
        let path = (!args.in_memory).then(|| args.db_filename.clone());
        let store = SqliteStore::open(SqliteOptions { path: path.clone(), readers: args.readers })
            .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
        let dynamic = dynamic_config::parse(&args.dynamic_config_values)?;
        if let Some(warning) = dynamic.ignored_warning() {
            tracing::warn!("{warning}");
        }
        let limits = dynamic.limits;
        let search_attributes = search_attributes(&args.search_attributes)?;
        let options = ServerOptions { namespaces: args.namespaces, limits, search_attributes };
        let server = Server::build(store, options).await?;
        let local = listener.local_addr()?;
        match &path {
            Some(p) => say(&format!("Chronicle data in {}", std::path::absolute(p).unwrap_or(p.clone()).display())),
            None => say("Chronicle data in memory (lost on exit)"),
        }
        say(&format!("Chronicle gRPC listening on {local}"));
        server.serve(listener, shutdown_signal()).await?;
        say("Chronicle stopped");
        Ok(())
    })
}

/// `--search-attribute KEY=TYPE` flags, with `temporal server start-dev`'s
/// messages; a name given twice must have one type.
fn search_attributes(flags: &[String]) -> anyhow::Result<chronicle_store::CustomSearchAttributes> {
    let mut attributes = chronicle_store::CustomSearchAttributes::new();
    for flag in flags {
        let (name, ty) = flag
            .split_once('=')
            .with_context(|| format!("invalid search attributes: missing expected '=' in {flag:?}"))?;
        let ty = chronicle_server::search_attributes::parse_type(ty)
            .with_context(|| format!("invalid search attribute value type {ty:?}"))?;
        if attributes.insert(name.to_string(), ty).is_some_and(|earlier| earlier != ty) {
            anyhow::bail!("search attribute {name:?} is given two types");
        }
    }
    Ok(attributes)
}

/// Prints a status line; a closed stdout (the parent went away) is no
/// reason to fail.
fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|_| out.flush());
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
