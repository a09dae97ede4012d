//! An in-process Chronicle server for `cargo test` with the official
//! Temporal Rust SDK: in memory, on a free loopback port, with time
//! skipping, so a workflow that sleeps for a day finishes in moments.
//!
//! The clock behaves as Temporal's test server's: it runs at the real pace
//! while the test holds it (a server starts held once) or while any
//! workflow task or activity is in flight; otherwise it jumps straight to
//! the next timer, timeout, retry or schedule. [`TestServer::sleep`] and
//! [`TestServer::with_time_skipping`] let it jump while the test waits.
//!
//! ```no_run
//! use chronicle_testing::{TestServer, TestWorker};
//! use std::time::Duration;
//! use temporalio_client::{WorkflowGetResultOptions, WorkflowStartOptions};
//! use temporalio_macros::{workflow, workflow_methods};
//! use temporalio_sdk::{WorkerOptions, WorkflowContext, WorkflowResult};
//!
//! #[workflow]
//! #[derive(Default)]
//! pub struct Reminder;
//!
//! #[workflow_methods]
//! impl Reminder {
//!     #[run]
//!     pub async fn run(ctx: &mut WorkflowContext<Self>, days: u64) -> WorkflowResult<String> {
//!         ctx.timer(Duration::from_secs(days * 86_400)).await;
//!         Ok("time to renew".to_string())
//!     }
//! }
//!
//! #[tokio::test]
//! async fn reminds_after_thirty_days() -> anyhow::Result<()> {
//!     let server = TestServer::start().await?;
//!     let worker = TestWorker::start(&server, || {
//!         WorkerOptions::new("reminders").register_workflow::<Reminder>().unwrap().build()
//!     })
//!     .await?;
//!     let client = server.client().await?;
//!     let handle = client
//!         .start_workflow(Reminder::run, 30, WorkflowStartOptions::new("reminders", "reminder-1").build())
//!         .await?;
//!     // Thirty days pass while the test waits for the result: it returns at once.
//!     let said = server.with_time_skipping(handle.get_result(WorkflowGetResultOptions::default())).await?;
//!     assert_eq!(said, "time to renew");
//!     // A test can also let time pass on its own.
//!     server.sleep(Duration::from_secs(86_400)).await?;
//!     worker.shutdown().await?;
//!     Ok(())
//! }
//! ```

mod worker;

pub use chronicle_server::time_skipping::SkipError;
pub use worker::TestWorker;

use anyhow::Context;
use chronicle_server::clock::Clock;
use chronicle_server::time_skipping::TimeSkipping;
use chronicle_server::{NamespaceSpec, Server, ServerOptions};
use std::future::Future;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions, Url};

/// How a [`TestServer`] starts.
#[derive(Clone, Debug, Default)]
pub struct TestServerOptions {
    /// Start with time skipping unlocked (the clock jumps from the start)
    /// rather than locked once, as Temporal's `--enable-time-skipping`.
    pub unlocked: bool,
    /// Namespaces to create besides `default`.
    pub namespaces: Vec<String>,
}

/// A Chronicle server running in this process on its own threads, its
/// state in memory. Dropping it stops it.
pub struct TestServer {
    address: SocketAddr,
    skipping: Arc<TimeSkipping>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    /// Starts a server with time skipping locked once (see the crate docs).
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(TestServerOptions::default()).await
    }

    pub async fn start_with(options: TestServerOptions) -> anyhow::Result<Self> {
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        // Its own runtime: the server keeps serving whatever the test's
        // runtime is doing (a current-thread test runtime blocked on a
        // worker's shutdown, say).
        let thread = std::thread::Builder::new().name("chronicle-test-server".into()).spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
            runtime.block_on(async move {
                let setup = async {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                    let store = chronicle_store::open(&chronicle_store::StoreUrl::SqliteMemory, 0).await?;
                    let server_options = ServerOptions {
                        namespaces: options.namespaces.iter().cloned().map(NamespaceSpec::named).collect(),
                        ..Default::default()
                    };
                    let server = Server::build_for_testing(store, server_options, options.unlocked).await?;
                    let skipping = server.time_skipping().context("a test server has a skipping clock")?;
                    anyhow::Ok((listener, server, skipping))
                };
                match setup.await {
                    Ok((listener, server, skipping)) => {
                        let _ = ready_tx.send(Ok((listener.local_addr()?, skipping)));
                        server
                            .serve(listener, async move {
                                let _ = stopped.await;
                            })
                            .await
                    }
                    Err(e) => {
                        let message = format!("{e:#}");
                        let _ = ready_tx.send(Err(e));
                        anyhow::bail!(message)
                    }
                }
            })
        })?;
        let (address, skipping) = ready_rx.await.context("the test server's thread ended while starting")??;
        Ok(TestServer { address, skipping, stop: Some(stop), thread: Some(thread) })
    }

    /// Where the server listens (127.0.0.1 and a free port).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The server's URL, as the SDK's connection options take it.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// A client of the `default` namespace.
    pub async fn client(&self) -> anyhow::Result<Client> {
        self.client_for("default").await
    }

    /// A client of `namespace`.
    pub async fn client_for(&self, namespace: &str) -> anyhow::Result<Client> {
        let url = Url::from_str(&self.url())?;
        let options = ConnectionOptions::new(url).identity(format!("chronicle-testing@{}", std::process::id())).build();
        let connection = Connection::connect(options).await.map_err(|e| anyhow::anyhow!("connect: {e:?}"))?;
        Client::new(connection, ClientOptions::new(namespace).build()).map_err(|e| anyhow::anyhow!("client: {e:?}"))
    }

    /// The server's clock: ahead of the machine's by all the time skipped.
    pub fn now(&self) -> SystemTime {
        self.skipping.now()
    }

    /// Lets `duration` pass on the server's clock: unlocks time skipping,
    /// waits until the clock has moved that far (at once, when nothing
    /// else is due before), locks it again. Fails if the test had
    /// unlocked time skipping itself.
    pub async fn sleep(&self, duration: Duration) -> Result<(), SkipError> {
        self.skipping.unlock_while_sleeping(duration).await
    }

    /// Awaits `work` with time skipping unlocked (as the other SDKs' test
    /// environments wait for a workflow's result), then locks it again.
    pub async fn with_time_skipping<F: Future>(&self, work: F) -> F::Output {
        let unlocked = self.skipping.unlock().is_ok();
        let output = work.await;
        if unlocked {
            self.skipping.lock();
        }
        output
    }

    /// Holds time skipping once more (Temporal's LockTimeSkipping).
    pub fn lock_time_skipping(&self) {
        self.skipping.lock();
    }

    /// Releases one hold (Temporal's UnlockTimeSkipping); fails if none
    /// is held.
    pub fn unlock_time_skipping(&self) -> Result<(), SkipError> {
        self.skipping.unlock()
    }

    /// Stops the server and waits for its thread.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let Some(thread) = self.thread.take() else { return Ok(()) };
        tokio::task::spawn_blocking(move || thread.join())
            .await?
            .map_err(|_| anyhow::anyhow!("the test server's thread panicked"))?
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
