//! The `chronicle` binary.

mod cli;
mod config;
mod db;
mod dynamic_config;

use anyhow::Context;
use chronicle_server::{NamespaceSpec, Server, ServerOptions};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use config::{FileConfig, LogFormat};
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
    Server(Box<ServerCommand>),
    /// Start, signal, query, cancel, terminate and inspect workflows.
    Workflow(Box<cli::workflow::WorkflowCommand>),
    /// Create, upgrade and inspect the database schema.
    #[command(subcommand)]
    Db(db::DbCommand),
    /// API keys for a server's --auth-keys file.
    #[command(subcommand)]
    Auth(cli::auth::AuthCommand),
    /// Inspect a cluster of nodes.
    #[command(subcommand)]
    Cluster(cli::cluster::ClusterCommand),
    /// Follow and stop batch operations (`workflow terminate --query ...`).
    Batch(Box<cli::batch::BatchCommand>),
    /// Standalone activities: start, wait for, inspect, cancel, terminate.
    Activity(Box<cli::activity::ActivityCommand>),
    /// Workers: deployments and their versions (`worker deployment ...`).
    Worker(Box<cli::deployment::WorkerCommand>),
}

#[derive(Subcommand)]
enum ServerCommand {
    /// Start a development server on an embedded SQLite database.
    StartDev(StartDev),
    /// Start a server on PostgreSQL or SQLite, configured by a TOML file,
    /// environment variables and flags (flags win, then the environment).
    Start(Start),
}

#[derive(Args)]
struct Start {
    /// TOML configuration file (keys: docs/config.md).
    #[arg(long, env = "CHRONICLE_CONFIG")]
    config: Option<PathBuf>,
    /// postgres://USER@HOST:PORT/DB or sqlite:///path/file.db.
    #[arg(long, env = "CHRONICLE_DATABASE_URL")]
    database_url: Option<String>,
    /// SQLite file (instead of --database-url).
    #[arg(long, short = 'f')]
    db_filename: Option<PathBuf>,
    /// IP address to bind [default: 127.0.0.1].
    #[arg(long, env = "CHRONICLE_IP")]
    ip: Option<String>,
    /// gRPC port, 0 picks a free one [default: 7233].
    #[arg(long, short = 'p', env = "CHRONICLE_PORT")]
    port: Option<u16>,
    /// PostgreSQL connections in the pool [default: 16].
    #[arg(long, env = "CHRONICLE_POOL_SIZE")]
    pool_size: Option<usize>,
    /// Serve the web UI on this port, same address [default: no UI].
    #[arg(long, env = "CHRONICLE_UI_PORT", value_name = "PORT")]
    ui_port: Option<u16>,
    /// The web UI's base path, for a proxy that serves it under one
    /// (`/temporal`) [default: /].
    #[arg(long, env = "CHRONICLE_UI_PUBLIC_PATH", value_name = "PATH")]
    ui_public_path: Option<String>,
    /// Namespaces to create at start if absent (repeatable); `default`
    /// always exists.
    #[arg(long = "namespace", short = 'n')]
    namespaces: Vec<String>,
    /// Log level: error, warn, info, debug or trace [default: info].
    #[arg(long, env = "CHRONICLE_LOG_LEVEL")]
    log_level: Option<String>,
    /// Log format [default: text].
    #[arg(long, env = "CHRONICLE_LOG_FORMAT", value_enum)]
    log_format: Option<LogFormat>,
    /// Dynamic config KEY=VALUE (repeatable), added to the file's.
    #[arg(long = "dynamic-config-value")]
    dynamic_config_values: Vec<String>,
    /// Custom search attribute KEY=TYPE (repeatable), added to the file's.
    #[arg(long = "search-attribute", value_name = "KEY=TYPE")]
    search_attributes: Vec<String>,
    /// Port serving Prometheus metrics at /metrics, on the same address
    /// [default: none].
    #[arg(long, env = "CHRONICLE_METRICS_PORT", value_name = "PORT")]
    metrics_port: Option<u16>,
    /// Largest request accepted, in bytes; larger ones are refused
    /// ResourceExhausted [default: 4194304, Temporal's].
    #[arg(long, env = "CHRONICLE_MAX_REQUEST_BYTES", value_name = "BYTES")]
    max_request_bytes: Option<usize>,
    /// Export OpenTelemetry traces over OTLP/gRPC to this collector, e.g.
    /// http://127.0.0.1:4317 [default: none; or OTEL_TRACES_EXPORTER=otlp].
    #[arg(long, env = "CHRONICLE_OTLP_ENDPOINT", value_name = "URL")]
    otlp_endpoint: Option<String>,
    /// Be a node of a cluster: other nodes on the same PostgreSQL database
    /// reach this one on this port (same address as --port) [default: no
    /// cluster].
    #[arg(long, env = "CHRONICLE_CLUSTER_PORT", value_name = "PORT")]
    cluster_port: Option<u16>,
    /// This node's name in the cluster; a restarted node with the same
    /// name takes its shards back at once [default: IP:CLUSTER_PORT].
    #[arg(long, env = "CHRONICLE_NODE_ID", value_name = "ID")]
    node_id: Option<String>,
    /// PEM certificate chain this node serves its cluster port with and
    /// shows to the nodes it calls (mutual TLS between nodes; needs
    /// --cluster-tls-key and --cluster-tls-ca).
    #[arg(long, env = "CHRONICLE_CLUSTER_TLS_CERT", value_name = "FILE")]
    cluster_tls_cert: Option<PathBuf>,
    /// PEM private key of --cluster-tls-cert.
    #[arg(long, env = "CHRONICLE_CLUSTER_TLS_KEY", value_name = "FILE")]
    cluster_tls_key: Option<PathBuf>,
    /// PEM CA certificate that signed every node's cluster certificate:
    /// peers are verified against it both ways.
    #[arg(long, env = "CHRONICLE_CLUSTER_TLS_CA", value_name = "FILE")]
    cluster_tls_ca: Option<PathBuf>,
    #[command(flatten)]
    security: SecurityArgs,
}

/// The cluster port's mutual TLS: all three files or none.
fn cluster_tls(
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    ca: Option<PathBuf>,
) -> anyhow::Result<Option<chronicle_server::security::tls::TlsFiles>> {
    match (cert, key, ca) {
        (None, None, None) => Ok(None),
        (Some(cert), Some(key), Some(ca)) => {
            Ok(Some(chronicle_server::security::tls::TlsFiles { cert, key, client_ca: Some(ca) }))
        }
        _ => anyhow::bail!(
            "cluster TLS needs all of --cluster-tls-cert, --cluster-tls-key and --cluster-tls-ca (nodes verify each other)"
        ),
    }
}

/// TLS and API keys (docs/config.md, README "Running in production").
#[derive(Args)]
struct SecurityArgs {
    /// PEM certificate chain to serve TLS with (needs --tls-key).
    #[arg(long, value_name = "FILE", env = "CHRONICLE_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", env = "CHRONICLE_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// PEM CA certificates: clients must present a certificate one of them
    /// signed (mutual TLS).
    #[arg(long, value_name = "FILE", env = "CHRONICLE_TLS_CLIENT_CA")]
    tls_client_ca: Option<PathBuf>,
    /// API key file, lines `NAME NAMESPACE ROLE SHA256HEX` (see `chronicle
    /// auth key create`); every call then needs `authorization: Bearer KEY`.
    /// Re-read when it changes.
    #[arg(long, value_name = "FILE", env = "CHRONICLE_AUTH_KEYS")]
    auth_keys: Option<PathBuf>,
}

impl SecurityArgs {
    /// These flags over the config file's `[tls]` and `[auth]`.
    fn resolve(self, file: &FileConfig) -> anyhow::Result<chronicle_server::security::Security> {
        let cert = self.tls_cert.or_else(|| file.tls.cert.clone());
        let key = self.tls_key.or_else(|| file.tls.key.clone());
        let client_ca = self.tls_client_ca.or_else(|| file.tls.client_ca.clone());
        let tls = match (cert, key) {
            (Some(cert), Some(key)) => Some(chronicle_server::security::tls::TlsFiles { cert, key, client_ca }),
            (None, None) if client_ca.is_none() => None,
            (None, None) => anyhow::bail!("--tls-client-ca needs --tls-cert and --tls-key"),
            (Some(_), None) => anyhow::bail!("--tls-cert needs --tls-key"),
            (None, Some(_)) => anyhow::bail!("--tls-key needs --tls-cert"),
        };
        Ok(chronicle_server::security::Security {
            tls,
            auth_keys: self.auth_keys.or_else(|| file.auth.keys_file.clone()),
        })
    }
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
    /// Log format: text (or pretty) or json.
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// SQLite reader connections.
    #[arg(long, default_value_t = 2, hide = true)]
    readers: usize,
    /// No web UI.
    #[arg(long)]
    headless: bool,
    /// Web UI port [default: the gRPC port + 1000; a free one with --port 0].
    #[arg(long, value_name = "PORT")]
    ui_port: Option<u16>,
    /// Web UI address [default: --ip].
    #[arg(long, value_name = "IP")]
    ui_ip: Option<String>,
    /// The web UI's base path, for a proxy that serves it under one
    /// (`/temporal`: pages at `/temporal/namespaces/...`) [default: /].
    #[arg(long, value_name = "PATH")]
    ui_public_path: Option<String>,
    #[arg(long, value_name = "PATH")]
    ui_asset_path: Option<String>,
    #[arg(long, value_name = "URL")]
    ui_codec_endpoint: Option<String>,
    /// Temporal's HTTP API port (not served by Chronicle yet).
    #[arg(long, value_name = "PORT")]
    http_port: Option<u16>,
    /// Port serving Prometheus metrics at /metrics, on the same address.
    #[arg(long, value_name = "PORT")]
    metrics_port: Option<u16>,
    /// SQLite pragma as KEY=VALUE (repeatable; Chronicle sets its own and
    /// ignores these).
    #[arg(long = "sqlite-pragma", value_name = "KEY=VALUE")]
    sqlite_pragmas: Vec<String>,
    /// Print the server configuration at start (accepted, ignored).
    #[arg(long)]
    log_config: bool,
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
    /// Largest request accepted, in bytes [default: 4194304, Temporal's].
    #[arg(long, value_name = "BYTES")]
    max_request_bytes: Option<usize>,
    /// Export OpenTelemetry traces over OTLP/gRPC to this collector, e.g.
    /// http://127.0.0.1:4317 [default: none; or OTEL_TRACES_EXPORTER=otlp].
    #[arg(long, value_name = "URL")]
    otlp_endpoint: Option<String>,
    #[command(flatten)]
    security: SecurityArgs,
}

fn main() -> anyhow::Result<()> {
    // `workflow list` and `workflow count` join the derived `workflow` command.
    let matches = cli::list::augment(Cli::command()).get_matches_from(cli::list::table_is_text(std::env::args_os()));
    if let Some(cmd) = cli::list::from_matches(&matches)? {
        return client(cli::list::run(cmd));
    }
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match cli.command {
        Command::Server(server) => match *server {
            ServerCommand::StartDev(args) => exit_on_error(start_dev(args)),
            ServerCommand::Start(args) => exit_on_error(start(args)),
        },
        Command::Workflow(cmd) => client(cli::workflow::run(*cmd)),
        Command::Db(cmd) => db::run(cmd),
        Command::Auth(cmd) => exit_on_error(cli::auth::run(cmd)),
        Command::Cluster(cmd) => client(cli::cluster::run(cmd)),
        Command::Batch(cmd) => client(cli::batch::run(*cmd)),
        Command::Activity(cmd) => client(cli::activity::run(*cmd)),
        Command::Worker(cmd) => client(cli::deployment::run(*cmd)),
    }
}

/// A server that cannot start says why in one message (with its causes)
/// and exits 1: no backtrace for a wrong URL or a missing database.
fn exit_on_error(outcome: anyhow::Result<()>) -> anyhow::Result<()> {
    if let Err(e) = outcome {
        eprintln!("Error: {e:#}");
        std::process::exit(1);
    }
    Ok(())
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

/// What `start-dev` accepts for compatibility with `temporal server
/// start-dev` (the SDKs' ephemeral servers pass these) but does not do yet,
/// one line each.
fn not_served(args: &StartDev) -> Vec<String> {
    let mut notes = Vec::new();
    let ui = [
        args.ui_asset_path.as_ref().map(|p| format!("--ui-asset-path {p}")),
        args.ui_codec_endpoint.as_ref().map(|u| format!("--ui-codec-endpoint {u}")),
    ];
    let ui: Vec<String> = ui.into_iter().flatten().collect();
    if !args.headless && !ui.is_empty() {
        notes.push(format!("{}: not served by Chronicle's web UI yet; ignored", ui.join(", ")));
    }
    if let Some(port) = args.http_port {
        notes.push(format!("--http-port {port}: Chronicle does not serve Temporal's HTTP API yet; ignored"));
    }
    if !args.sqlite_pragmas.is_empty() {
        notes.push(format!(
            "--sqlite-pragma {}: Chronicle sets its own SQLite pragmas; ignored",
            args.sqlite_pragmas.join(", ")
        ));
    }
    notes
}

fn start_dev(args: StartDev) -> anyhow::Result<()> {
    let database_url = if args.in_memory { db::MEMORY_URL.to_string() } else { config::sqlite_url(&args.db_filename) };
    let notes = not_served(&args);
    let security = args.security.resolve(&FileConfig::default())?;
    // As `temporal server start-dev`: a UI unless --headless, by default
    // on the gRPC port + 1000 (taken if free: see `serve`).
    let ui = (!args.headless).then(|| UiListen {
        ip: args.ui_ip.clone().unwrap_or_else(|| args.ip.clone()),
        port: args.ui_port.unwrap_or(if args.port == 0 { 0 } else { args.port.saturating_add(1000) }),
        chosen: args.ui_port.is_some(),
        public_path: args.ui_public_path.clone().unwrap_or_default(),
    });
    run_server(Launch {
        ui,
        ip: args.ip,
        port: args.port,
        database_url,
        pool_size: db::DEFAULT_POOL_SIZE,
        sqlite_readers: args.readers,
        namespaces: args.namespaces.into_iter().map(NamespaceSpec::named).collect(),
        log_level: args.log_level,
        log_format: args.log_format,
        dynamic_config_values: args.dynamic_config_values,
        search_attributes: args.search_attributes,
        metrics_port: args.metrics_port,
        max_request_bytes: args.max_request_bytes,
        traces: chronicle_server::traces::Destination::choose(args.otlp_endpoint),
        security,
        cluster_port: None,
        node_id: None,
        cluster_tls: None,
        notes,
    })
}

fn start(args: Start) -> anyhow::Result<()> {
    let file = match &args.config {
        Some(path) => FileConfig::read(path)?,
        None => FileConfig::default(),
    };
    let database_url = config::database_url(args.database_url.as_deref(), args.db_filename.as_deref(), &file)?;
    let mut namespaces =
        file.namespaces.iter().map(config::NamespaceSection::spec).collect::<anyhow::Result<Vec<_>>>()?;
    for name in args.namespaces {
        if !namespaces.iter().any(|n| n.name == name) {
            namespaces.push(NamespaceSpec::named(name));
        }
    }
    let mut dynamic_config_values = file.dynamic_config_flags()?;
    dynamic_config_values.extend(args.dynamic_config_values);
    let mut search_attributes = file.search_attribute_flags();
    search_attributes.extend(args.search_attributes);
    let security = args.security.resolve(&file)?;
    let ip = args.ip.or(file.server.ip).unwrap_or_else(|| "127.0.0.1".to_string());
    let ui = args.ui_port.or(file.server.ui_port).map(|port| UiListen {
        ip: ip.clone(),
        port,
        chosen: true,
        public_path: args.ui_public_path.clone().or(file.server.ui_public_path.clone()).unwrap_or_default(),
    });
    run_server(Launch {
        ui,
        ip,
        port: args.port.or(file.server.port).unwrap_or(7233),
        database_url,
        pool_size: args.pool_size.or(file.persistence.pool_size).unwrap_or(db::DEFAULT_POOL_SIZE),
        sqlite_readers: file.persistence.sqlite_readers.unwrap_or(2),
        namespaces,
        log_level: args.log_level.or(file.log.level).unwrap_or_else(|| "info".to_string()),
        log_format: args.log_format.or(file.log.format).unwrap_or_default(),
        dynamic_config_values,
        search_attributes,
        metrics_port: args.metrics_port.or(file.server.metrics_port),
        max_request_bytes: args.max_request_bytes.or(file.server.max_request_bytes),
        traces: chronicle_server::traces::Destination::choose(args.otlp_endpoint.or(file.traces.otlp_endpoint)),
        security,
        cluster_port: args.cluster_port.or(file.cluster.port),
        node_id: args.node_id.or(file.cluster.node_id),
        cluster_tls: cluster_tls(
            args.cluster_tls_cert.or(file.cluster.tls_cert),
            args.cluster_tls_key.or(file.cluster.tls_key),
            args.cluster_tls_ca.or(file.cluster.tls_ca),
        )?,
        notes: Vec::new(),
    })
}

/// Where the web UI listens.
struct UiListen {
    ip: String,
    port: u16,
    /// Asked for: a port that cannot be bound fails the start (a default
    /// one is skipped with a warning).
    chosen: bool,
    /// The path the UI is served under (empty: the root).
    public_path: String,
}

/// Everything a server process needs, however it was configured.
struct Launch {
    /// The web UI, if served.
    ui: Option<UiListen>,
    ip: String,
    port: u16,
    database_url: String,
    pool_size: usize,
    sqlite_readers: usize,
    namespaces: Vec<NamespaceSpec>,
    log_level: String,
    log_format: LogFormat,
    dynamic_config_values: Vec<String>,
    search_attributes: Vec<String>,
    metrics_port: Option<u16>,
    max_request_bytes: Option<usize>,
    /// Where OpenTelemetry traces go, if anywhere.
    traces: Option<chronicle_server::traces::Destination>,
    security: chronicle_server::security::Security,
    /// Node-to-node port, for a cluster node.
    cluster_port: Option<u16>,
    node_id: Option<String>,
    cluster_tls: Option<chronicle_server::security::tls::TlsFiles>,
    /// Warnings to log once logging is set up.
    notes: Vec<String>,
}

/// Logs to stderr at `level` in `format`, and spans to the OTLP exporter
/// if there is one (the logs never show the exporter's spans).
fn init_logging(
    level: &str,
    format: LogFormat,
    exporter: Option<&chronicle_server::traces::Exporter>,
) -> anyhow::Result<()> {
    use tracing_subscriber::{Layer, layer::SubscriberExt, util::SubscriberInitExt};
    let filter = tracing_subscriber::EnvFilter::try_new(level).with_context(|| format!("invalid log level {level}"))?;
    let filter = filter.add_directive(format!("{}=off", chronicle_server::traces::TARGET).parse()?);
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = match format {
        LogFormat::Text => logs.with_filter(filter).boxed(),
        LogFormat::Json => logs.json().with_filter(filter).boxed(),
    };
    tracing_subscriber::registry()
        .with(logs)
        .with(exporter.map(chronicle_server::traces::Exporter::layer))
        .try_init()?;
    Ok(())
}

fn run_server(launch: Launch) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    // The exporter's channel lives on the runtime.
    let exporter = {
        let _inside = runtime.enter();
        launch.traces.as_ref().map(chronicle_server::traces::Exporter::start).transpose()?
    };
    init_logging(&launch.log_level, launch.log_format, exporter.as_ref())?;
    for note in &launch.notes {
        tracing::warn!("{note}");
    }
    let dynamic = dynamic_config::parse(&launch.dynamic_config_values)?;
    let search_attributes = search_attributes(&launch.search_attributes)?;
    let served = runtime.block_on(serve(launch, dynamic, search_attributes, exporter.is_some()));
    if let Some(exporter) = exporter {
        // Exporting needs the runtime's threads: shut down beside them.
        let _inside = runtime.enter();
        exporter.shutdown();
    }
    served
}

/// Binds the ports, opens the store, and serves until SIGTERM or Ctrl-C.
async fn serve(
    launch: Launch,
    dynamic: dynamic_config::DynamicConfig,
    search_attributes: chronicle_store::CustomSearchAttributes,
    traces: bool,
) -> anyhow::Result<()> {
    let mut launch = launch;
    let launch_ui = launch.ui.take();
    let addr = format!("{}:{}", launch.ip, launch.port);
    let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    if !is_loopback(&launch.ip) && launch.security.is_open() {
        tracing::warn!(
            "listening on {addr} with no authentication: anyone who can reach it can do anything \
             (see --auth-keys and --tls-client-ca)"
        );
    }
    let metrics = match launch.metrics_port {
        Some(port) => {
            let addr = format!("{}:{port}", launch.ip);
            let listener = tokio::net::TcpListener::bind(&addr)
                .await
                .with_context(|| format!("cannot listen for metrics on {addr}"))?;
            Some(listener)
        }
        None => None,
    };
    let opened = db::open(&launch.database_url, launch.pool_size, launch.sqlite_readers).await?;
    if let Some(warning) = dynamic.ignored_warning() {
        tracing::warn!("{warning}");
    }
    let tls = launch.security.tls.as_ref().map(|tls| match tls.client_ca {
        Some(_) => "Chronicle gRPC serves TLS only, to clients with a certificate from the client CA",
        None => "Chronicle gRPC serves TLS only",
    });
    let local = listener.local_addr()?;
    let cluster = match launch.cluster_port {
        None if launch.cluster_tls.is_some() => {
            anyhow::bail!("--cluster-tls-cert/--cluster-tls-key/--cluster-tls-ca need --cluster-port")
        }
        None => None,
        Some(port) => {
            let node = NodeSpec {
                ip: &launch.ip,
                port,
                node_id: launch.node_id.clone(),
                rpc: local,
                database_url: &launch.database_url,
                tls: launch.cluster_tls.clone(),
            };
            Some(cluster_node(node, &opened).await?)
        }
    };
    let options = ServerOptions {
        namespaces: launch.namespaces,
        limits: dynamic.limits,
        search_attributes,
        security: launch.security,
        max_request_bytes: launch.max_request_bytes,
        metrics: launch.metrics_port.is_some(),
        traces,
        cluster: cluster.as_ref().map(|(options, _)| options.clone()),
    };
    let server = Server::build(opened.store, options).await?;
    say(&format!("Chronicle data in {}", opened.description));
    // Before the address line, which tools wait for as "ready".
    if let Some(tls) = tls {
        say(tls);
    }
    if let Some((options, listener)) = cluster {
        say(&format!(
            "Chronicle cluster listening on {} as node {}",
            options.node.cluster_address, options.node.node_id
        ));
        if options.tls.is_some() {
            say("Chronicle cluster port serves mutual TLS only, to nodes with a certificate from the cluster CA");
        } else if !is_loopback(&launch.ip) {
            tracing::warn!(
                "node-to-node traffic on the cluster port is not encrypted or authenticated: \
                 use --cluster-tls-cert, --cluster-tls-key and --cluster-tls-ca off a trusted network"
            );
        }
        let serving = server.serve_cluster_port(listener);
        tokio::spawn(async move {
            if let Err(e) = serving.await {
                tracing::error!(error = %e, "the cluster port stopped");
            }
        });
    }
    // The web UI's line comes before the gRPC one, which tools wait for
    // as the sign that the server is up.
    if let Some(ui) = &launch_ui {
        let addr = format!("{}:{}", ui.ip, ui.port);
        match tokio::net::TcpListener::bind(&addr).await {
            Ok(listener) => {
                match server.serve_ui(listener, &ui.public_path) {
                    Ok((serving, url)) => {
                        say(&format!("Chronicle UI at {url}"));
                        tokio::spawn(async move {
                            if let Err(e) = serving.await {
                                tracing::error!(error = %e, "the web UI stopped");
                            }
                        });
                    }
                    // A port or a path asked for and not usable fails the start.
                    Err(e) if ui.chosen || !ui.public_path.is_empty() => return Err(e),
                    Err(e) => tracing::warn!("no web UI: {e:#}"),
                }
            }
            Err(e) if ui.chosen => return Err(e).with_context(|| format!("cannot listen for the web UI on {addr}")),
            Err(e) => tracing::warn!("no web UI: cannot listen on {addr} ({e}); --ui-port picks another port"),
        }
    }
    say(&format!("Chronicle gRPC listening on {local}"));
    if let Some(listener) = metrics {
        say(&format!("Chronicle metrics on http://{}/metrics", listener.local_addr()?));
        let health = server.health();
        tokio::spawn(async move {
            if let Err(e) = chronicle_server::metrics::serve(listener, health, std::future::pending()).await {
                tracing::error!(error = %e, "the metrics endpoint stopped");
            }
        });
    }
    server.serve(listener, shutdown_signal()).await?;
    say("Chronicle stopped");
    Ok(())
}

/// How this process is to be a cluster node.
struct NodeSpec<'a> {
    ip: &'a str,
    port: u16,
    node_id: Option<String>,
    /// The client port, bound already.
    rpc: std::net::SocketAddr,
    database_url: &'a str,
    tls: Option<chronicle_server::security::tls::TlsFiles>,
}

/// Binds the cluster port and describes this node to the others.
async fn cluster_node(
    spec: NodeSpec<'_>,
    opened: &db::Opened,
) -> anyhow::Result<(chronicle_server::ClusterOptions, tokio::net::TcpListener)> {
    let NodeSpec { ip, port, node_id, rpc, database_url, tls } = spec;
    let Some(store) = opened.cluster.clone() else {
        anyhow::bail!("--cluster-port needs a PostgreSQL database (--database-url postgres://...): nodes share it");
    };
    let membership_store = db::membership_connections(database_url)?;
    let addr = format!("{ip}:{port}");
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen for the cluster on {addr}"))?;
    let cluster_address = listener.local_addr()?.to_string();
    if listener.local_addr()?.ip().is_unspecified() {
        anyhow::bail!("--cluster-port needs --ip to be an address other nodes can reach, not {ip}");
    }
    let node = chronicle_store::NodeRecord {
        node_id: node_id.unwrap_or_else(|| cluster_address.clone()),
        rpc_address: rpc.to_string(),
        cluster_address,
        started_at: 0,
        heartbeat_at: 0,
    };
    let options =
        chronicle_server::ClusterOptions { store, membership_store, node, membership: Default::default(), tls };
    Ok((options, listener))
}

fn is_loopback(ip: &str) -> bool {
    ip == "localhost" || ip.parse::<std::net::IpAddr>().is_ok_and(|a| a.is_loopback())
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
