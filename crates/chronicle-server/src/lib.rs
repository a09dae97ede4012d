#![allow(deprecated)] // Temporal still reads several deprecated request fields.
//! Chronicle's server: the Temporal WorkflowService and OperatorService
//! frontends, the history service (one writer per run, the pure engine,
//! durable commits), matching (task queues with long polls) and durable
//! timers.

mod batch;
pub mod clock;
pub mod cluster;
mod deployments;
mod errors;
mod frontend;
pub mod health;
mod history;
mod listen;
mod longpoll;
mod matching;
mod metered_store;
pub mod metrics;
mod namespaces;
mod operator;
mod queries;
mod retention;
mod schedules;
pub mod search_attributes;
pub mod security;
mod sync;
mod test_service;
mod throttle;
pub mod time_skipping;
mod timers;
mod tokens;
pub mod traces;
mod ui;
mod visibility;

pub use frontend::Frontend;
pub use visibility::fields::activity_status_name;

use chronicle_proto::{
    clusterservice::cluster_server::ClusterServer, operatorservice::operator_service_server::OperatorServiceServer,
    testservice::test_service_server::TestServiceServer,
    workflowservice::workflow_service_server::WorkflowServiceServer,
};
use chronicle_store::Store;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use tonic::codec::CompressionEncoding;

pub(crate) type BoxFuture<T> = std::pin::Pin<Box<dyn Future<Output = T> + Send>>;

/// A fresh run id: a UUIDv7, as Temporal's (time-ordered; SDK code checks
/// the version).
pub(crate) fn new_run_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// How long a stopping server waits for in-flight calls.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// HTTP/2 streams (calls in flight) one connection may hold; a client past
/// it waits for a free one. Far above what one client uses: the SDKs carry
/// all of a client's calls on one connection, its worker's polls and
/// completions with its waits for results, so a bound a busy client can
/// reach (it was 1,000) leaves its worker waiting behind its own result
/// waits for ever. Temporal's frontend sets none.
const MAX_STREAMS_PER_CONNECTION: u32 = 100_000;

pub use namespaces::{MIN_RETENTION_SECS, NamespaceSpec};

#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    /// Namespaces to create if absent (`default` always exists), with the
    /// retention the configuration gives them.
    pub namespaces: Vec<NamespaceSpec>,
    /// Per-execution limits (history size, pending children).
    pub limits: chronicle_engine::Limits,
    /// Custom search attributes to register in every namespace created at
    /// start (`start-dev --search-attribute`).
    pub search_attributes: chronicle_store::CustomSearchAttributes,
    /// TLS and API keys on the gRPC port.
    pub security: security::Security,
    /// Largest request accepted (None: Temporal's 4 MiB).
    pub max_request_bytes: Option<usize>,
    /// Measure requests and store calls for the metrics endpoint (off:
    /// they cost nothing; outcome and cache counters are always kept).
    pub metrics: bool,
    /// Give every call and store call a span (`traces`; exported only if
    /// the process's subscriber has `traces::Exporter`'s layer).
    pub traces: bool,
    /// Be a node of a cluster sharing the store's database.
    pub cluster: Option<ClusterOptions>,
}

/// A cluster node's settings (see `cluster`).
#[derive(Clone)]
pub struct ClusterOptions {
    /// The database's leases and fenced writes: the store's own backend.
    pub store: Arc<dyn chronicle_store::ClusterStore>,
    /// The same database for heartbeats and lease renewals, through
    /// connections of their own: a renewal never waits for a connection
    /// behind the workload (a node whose pool is busy would otherwise let
    /// its leases run out while it is alive).
    pub membership_store: Arc<dyn chronicle_store::ClusterStore>,
    /// This node: its id and the addresses it is reached at.
    pub node: chronicle_store::NodeRecord,
    pub membership: cluster::MembershipOptions,
    /// Mutual TLS between nodes: this node's certificate and key (served
    /// on the cluster port and shown to the nodes it calls) and, as
    /// `client_ca`, the CA that signed every node's certificate. None:
    /// plain connections (a trusted network only).
    pub tls: Option<security::tls::TlsFiles>,
}

impl std::fmt::Debug for ClusterOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterOptions").field("node", &self.node).field("membership", &self.membership).finish()
    }
}

/// How often a cluster node reads namespaces and search attributes again.
const NAMESPACE_REFRESH: std::time::Duration = std::time::Duration::from_secs(2);

/// Registers `--search-attribute`s in the namespaces created at start, as
/// `temporal server start-dev` does (again on every start: a name already
/// registered with the same type is left alone).
async fn register_search_attributes(
    namespaces: &namespaces::Namespaces,
    options: &ServerOptions,
) -> anyhow::Result<()> {
    if options.search_attributes.is_empty() {
        return Ok(());
    }
    for (name, ty) in &options.search_attributes {
        search_attributes::check(name, *ty as i32).map_err(|e| anyhow::anyhow!("--search-attribute {name}: {e}"))?;
    }
    for namespace in std::iter::once("default").chain(options.namespaces.iter().map(|n| n.name.as_str())) {
        let registry = namespaces.search_attributes();
        match registry.add(namespace, options.search_attributes.clone()).await {
            Ok(()) => {}
            Err(chronicle_store::StoreError::SearchAttributeExists { name }) => {
                let m = errors::search_attribute_exists(&name);
                anyhow::bail!("--search-attribute: {m} Namespace {namespace} has it with another type.")
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Samples the metrics' gauges every few seconds while the server lives
/// (open runs: a visibility count per namespace).
fn sample_gauges(
    history: &Arc<history::History>,
    matching: &Arc<matching::Matching>,
    namespaces: &Arc<namespaces::Namespaces>,
) {
    let (history, matching, namespaces) =
        (Arc::downgrade(history), Arc::downgrade(matching), Arc::downgrade(namespaces));
    let running = visibility::query::parse("ExecutionStatus = 'Running'", &Default::default());
    tokio::spawn(async move {
        let Ok(running) = running else { return };
        let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let (Some(history), Some(matching), Some(namespaces)) =
                (history.upgrade(), matching.upgrade(), namespaces.upgrade())
            else {
                return;
            };
            let mut open = 0;
            for namespace in namespaces.list() {
                open += history.count_runs(&namespace.name, &running).await.map_or(0, |c| c.count);
            }
            let m = metrics::metrics();
            m.sample(history.cached_runs(), history.timers_pending(), matching.tasks_in_memory());
            m.sample_open_runs(open);
        }
    });
}

/// Everything the server needs, built from a store before serving.
pub struct Server {
    frontend: Frontend,
    operator: operator::Operator,
    /// Served by a test server only.
    test_service: Option<test_service::TestServiceImpl>,
    guard: Arc<security::Guard>,
    tls: Option<Arc<security::tls::Tls>>,
    /// The cluster port's TLS (see `ClusterOptions::tls`).
    cluster_tls: Option<Arc<security::tls::Tls>>,
    max_request_bytes: usize,
    metrics: bool,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Server {
    /// Loads namespaces and starts reading the store's task, timer and
    /// transfer queues.
    pub async fn build(store: Arc<dyn Store>, options: ServerOptions) -> anyhow::Result<Self> {
        Self::build_with_clock(store, options, Arc::new(clock::SystemClock)).await
    }

    /// `build`, with every "now" read from `clock`.
    pub async fn build_with_clock(
        store: Arc<dyn Store>,
        options: ServerOptions,
        clock: Arc<dyn clock::Clock>,
    ) -> anyhow::Result<Self> {
        Self::assemble(store, options, clock, None).await
    }

    /// A test server: its clock skips time (see `time_skipping`), starting
    /// locked unless `unlocked`, and it serves Temporal's TestService.
    pub async fn build_for_testing(
        store: Arc<dyn Store>,
        options: ServerOptions,
        unlocked: bool,
    ) -> anyhow::Result<Self> {
        let skipping = time_skipping::TimeSkipping::start(unlocked);
        Self::assemble(store, options, skipping.clone(), Some(skipping)).await
    }

    async fn assemble(
        store: Arc<dyn Store>,
        options: ServerOptions,
        clock: Arc<dyn clock::Clock>,
        skipping: Option<Arc<time_skipping::TimeSkipping>>,
    ) -> anyhow::Result<Self> {
        // Credentials and certificates load first: a bad file stops the start.
        let keys = options.security.auth_keys.as_deref().map(security::keys::KeyRing::load).transpose()?;
        let tls = options.security.tls.clone().map(security::tls::Tls::load).transpose()?.map(Arc::new);
        let guard = Arc::new(security::Guard::new(keys, throttle::Throttle::new(&options.limits), options.traces));
        let test_service = skipping.clone().map(test_service::TestServiceImpl::new);
        if options.metrics {
            metrics::metrics().observe_group_commits();
        }
        let store = if options.metrics || options.traces {
            metered_store::MeteredStore::wrap(store, options.metrics, options.traces)
        } else {
            store
        };
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let cluster_files = options.cluster.as_ref().and_then(|c| c.tls.clone());
        let cluster_tls = cluster_files.clone().map(security::tls::Tls::load).transpose()?.map(Arc::new);
        let peer_tls = cluster_files.as_ref().map(security::tls::client_config).transpose()?;
        let node = options.cluster.clone().map(|c| {
            let membership = cluster::Membership::new(c.membership_store.clone(), c.node, c.membership);
            tokio::spawn(membership.clone().run(stop.subscribe()));
            cluster::Node::new(membership, c.store, peer_tls)
        });
        let matching = Arc::new(matching::Matching::with_store(store.clone(), clock.clone()));
        let deployments =
            deployments::Deployments::new(store.clone(), clock.clone(), matching.clone(), &options.limits);
        deployments.start().await;
        let history = history::History::with_skipping(
            store.clone(),
            matching.clone(),
            options.limits.clone(),
            clock,
            skipping,
            node.clone(),
        );
        let namespaces = Arc::new(namespaces::Namespaces::load(store.clone(), &options.namespaces).await?);
        register_search_attributes(&namespaces, &options).await?;
        if let Some(node) = &node {
            namespaces.refresh_every(NAMESPACE_REFRESH);
            namespaces.search_attributes().announcer().set(node.announcer());
            deployments.announcer().set(node.announcer());
        }
        // Pending work is read from the store's queues as it is needed:
        // serving starts at once, however many runs are open.
        history.start_queues();
        let operator = operator::Operator::new(namespaces.clone());
        let schedules = schedules::Scheduler::start(store, history.clone(), namespaces.clone());
        retention::start(&history, namespaces.clone());
        if options.metrics {
            sample_gauges(&history, &matching, &namespaces);
        }
        let frontend = Frontend::new(history, matching, namespaces, schedules, stopping.clone(), deployments);
        batch::Batches::start(frontend.clone(), stopping);
        let max_request_bytes =
            options.max_request_bytes.unwrap_or(chronicle_engine::limits::GRPC_REQUEST_BYTES_DEFAULT);
        Ok(Server {
            frontend,
            operator,
            test_service,
            guard,
            tls,
            cluster_tls,
            max_request_bytes,
            metrics: options.metrics,
            stop,
        })
    }

    /// Serves the cluster port until the server stops: WorkflowService
    /// calls forwarded by other nodes (checked as any call is), and the
    /// node-to-node `Cluster` service. Spawn it before `serve`.
    pub fn serve_cluster_port(
        &self,
        listener: TcpListener,
    ) -> impl Future<Output = anyhow::Result<()>> + Send + 'static {
        let admission = Arc::new(security::PeerGuard(self.guard.clone()));
        let workflow =
            WorkflowServiceServer::new(chronicle_proto::guard::Guarded { inner: self.frontend.clone(), admission })
                .accept_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(
                    self.max_request_bytes.max(chronicle_engine::limits::GRPC_RESPONSE_BYTES_MAX),
                )
                .max_encoding_message_size(chronicle_engine::limits::GRPC_RESPONSE_BYTES_MAX);
        let peers = ClusterServer::new(cluster::service::ClusterService::for_peers(self.frontend.clone()))
            .max_decoding_message_size(chronicle_engine::limits::GRPC_RESPONSE_BYTES_MAX)
            .max_encoding_message_size(chronicle_engine::limits::GRPC_RESPONSE_BYTES_MAX);
        let router = tonic::transport::Server::builder()
            .http2_keepalive_interval(Some(std::time::Duration::from_secs(30)))
            .http2_keepalive_timeout(Some(std::time::Duration::from_secs(20)))
            .add_service(workflow)
            .add_service(peers);
        let mut stopped = self.stop.subscribe();
        let tls = self.cluster_tls.clone();
        async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            match tls {
                Some(tls) => router.serve_with_incoming_shutdown(listen::tls(listener, tls), shutdown).await?,
                None => router.serve_with_incoming_shutdown(listen::plain(listener), shutdown).await?,
            }
            Ok(())
        }
    }

    /// Serves the web UI (`ui`) on `listener` until the server stops.
    /// Only where the client port needs no API key: the UI reads and acts
    /// with the server's own authority.
    /// Its pages live under `public_path` (`/temporal`; empty or `/`: the
    /// root). With TLS on the gRPC port the UI is served over HTTPS with
    /// the same certificate (and client CA); connections are bounded as the
    /// gRPC port's. Returns the server's future and the UI's address
    /// prefix: `https://HOST:PORT/base` or `http://...`.
    pub fn serve_ui(
        &self,
        listener: TcpListener,
        public_path: &str,
    ) -> anyhow::Result<(impl Future<Output = anyhow::Result<()>> + Send + 'static, String)> {
        if self.guard.has_keys() {
            anyhow::bail!(
                "the web UI is not served when API keys are on (--auth-keys): it would show everything to anyone; use --headless"
            );
        }
        let base = ui::base_path(public_path)?;
        let app = ui::router(self.frontend.clone(), &base);
        let local = listener.local_addr()?;
        let stopped = self.stop.subscribe();
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let serving: std::pin::Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>> = match self.tls.clone() {
            Some(tls) => Box::pin(serve_until(listen::Incoming::new(listen::tls(listener, tls), local), app, stopped)),
            None => Box::pin(serve_until(listen::Incoming::new(listen::plain(listener), local), app, stopped)),
        };
        Ok((serving, format!("{scheme}://{local}{base}")))
    }

    /// Whether the server can take work (`health`), for the metrics port.
    pub fn health(&self) -> health::Health {
        health::Health::new(self.frontend.history.cluster().cloned(), self.stop.subscribe())
    }

    /// A test server's clock, for a test in the same process.
    pub fn time_skipping(&self) -> Option<Arc<time_skipping::TimeSkipping>> {
        self.test_service.as_ref().map(|t| t.skipping().clone())
    }

    /// Serves gRPC on `listener` until `shutdown` resolves.
    pub async fn serve(self, listener: TcpListener, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let (health_reporter, health_service) = tonic_health::server::health_reporter();
        health_reporter.set_serving::<WorkflowServiceServer<Frontend>>().await;
        // Requests arrive gzipped (SDK default) and must be accepted; replies
        // go uncompressed: per-message deflate state dominated CPU profiles.
        let namespaces = self.frontend.namespaces.clone();
        let known: metrics::KnownNamespace = Arc::new(move |name| namespaces.get(name).is_some());
        let layer = if self.metrics { metrics::MetricsLayer::new(known) } else { metrics::MetricsLayer::default() };
        let guarded = |inner| chronicle_proto::guard::Guarded { inner, admission: self.guard.clone() };
        let describe_frontend = self.frontend.clone();
        let describe_guard = self.guard.clone();
        let workflow = WorkflowServiceServer::new(guarded(self.frontend))
            .accept_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(self.max_request_bytes)
            .max_encoding_message_size(chronicle_engine::limits::GRPC_RESPONSE_BYTES_MAX);
        let operator = OperatorServiceServer::new(chronicle_proto::guard::Guarded {
            inner: self.operator,
            admission: self.guard.clone(),
        })
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(self.max_request_bytes);
        // A normal server answers TestService calls UNIMPLEMENTED, saying why.
        let (test_service, real_time) = match self.test_service {
            Some(t) => (Some(TestServiceServer::new(t).accept_compressed(CompressionEncoding::Gzip)), None),
            None => (
                None,
                Some(TestServiceServer::new(test_service::RealTime).accept_compressed(CompressionEncoding::Gzip)),
            ),
        };
        let mut stopped = self.stop.subscribe();
        let router = tonic::transport::Server::builder()
            // Bounds per connection: streams at once, and pings that close
            // a connection whose peer went away without a word.
            .max_concurrent_streams(Some(MAX_STREAMS_PER_CONNECTION))
            .http2_keepalive_interval(Some(std::time::Duration::from_secs(30)))
            .http2_keepalive_timeout(Some(std::time::Duration::from_secs(20)))
            .layer(layer)
            .add_service(health_service)
            .add_service(workflow)
            .add_service(operator)
            .add_service(ClusterServer::new(cluster::service::ClusterService::for_clients(
                describe_frontend,
                describe_guard,
            )))
            .add_optional_service(test_service)
            .add_optional_service(real_time);
        let stop = self.stop;
        let shutdown = async move {
            shutdown.await;
            // Open long polls answer now; tonic then drains in-flight calls.
            let _ = stop.send(true);
        };
        let serving = async move {
            match self.tls {
                Some(tls) => router.serve_with_incoming_shutdown(listen::tls(listener, tls), shutdown).await,
                None => router.serve_with_incoming_shutdown(listen::plain(listener), shutdown).await,
            }
        };
        // Connected workers keep their connections open; once stopping,
        // give in-flight calls a moment, then close regardless. Every
        // acknowledged change is already durable, so nothing is lost.
        tokio::select! {
            served = serving => served?,
            _ = async {
                let _ = stopped.wait_for(|s| *s).await;
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } => tracing::info!("closing connections still open after {SHUTDOWN_GRACE:?}"),
        }
        Ok(())
    }
}

/// Serves `app` on `listener` until `stopped` says the server stops.
async fn serve_until<L>(
    listener: L,
    app: axum::Router,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()>
where
    L: axum::serve::Listener<Addr = std::net::SocketAddr>,
{
    let shutdown = async move {
        let _ = stopped.wait_for(|s| *s).await;
    };
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await?;
    Ok(())
}
