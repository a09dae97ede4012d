//! Client connection helpers and `RunningWorker`, an SDK worker running on its own thread.
//!
//! `temporalio_sdk::Worker::run` is `!Send` (workflows run in a `LocalSet` with `Rc`/`RefCell`
//! state), so it cannot be `tokio::spawn`ed. Each worker therefore gets a dedicated OS thread
//! with a current-thread tokio runtime, its own SDK `Runtime` and its own client connection.

use std::{
    future::Future,
    net::SocketAddr,
    str::FromStr,
    sync::Arc,
    time::{Duration, Instant},
};
use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions, TlsOptions, Url};
use temporalio_common::telemetry::{Logger, TelemetryOptions};
use temporalio_sdk::{
    Worker, WorkerOptions,
    runtime::{Runtime, RuntimeOptions},
};
use tokio::sync::{oneshot, watch};

/// How long [`RunningWorker::shutdown`] waits for `Worker::run` to return.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// How a client proves itself: TLS options and an API key, both optional.
#[derive(Clone, Default)]
pub struct Credentials {
    pub tls: Option<TlsOptions>,
    pub api_key: Option<String>,
}

/// Connects a client (namespace `namespace`) to the server at `addr`, retrying for up to 10 s.
pub async fn try_connect(addr: SocketAddr, namespace: &str) -> Result<Client, String> {
    try_connect_with(addr, namespace, &Credentials::default()).await
}

/// `try_connect`, with credentials.
pub async fn try_connect_with(addr: SocketAddr, namespace: &str, credentials: &Credentials) -> Result<Client, String> {
    let scheme = if credentials.tls.is_some() { "https" } else { "http" };
    let url = Url::from_str(&format!("{scheme}://{addr}")).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let opts = ConnectionOptions::new(url.clone())
            .identity(format!("chronicle-e2e@{}", std::process::id()))
            .connect_timeout(Duration::from_secs(5))
            .maybe_tls_options(credentials.tls.clone())
            .maybe_api_key(credentials.api_key.clone())
            .build();
        match Connection::connect(opts).await {
            Ok(conn) => {
                return Client::new(conn, ClientOptions::new(namespace).build())
                    .map_err(|e| format!("Client::new: {e:?}"));
            }
            Err(e) if Instant::now() < deadline => {
                eprintln!("connect to {addr} failed (retrying): {e:?}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(format!("connect to {addr} failed: {e:?}")),
        }
    }
}

pub async fn connect(addr: SocketAddr, namespace: &str) -> Client {
    try_connect(addr, namespace).await.unwrap_or_else(|e| panic!("{e}"))
}

/// Logging for the SDK/core inside worker threads. `CHRONICLE_E2E_SDK_LOG` overrides the filter.
fn sdk_runtime_options() -> RuntimeOptions {
    let filter = std::env::var("CHRONICLE_E2E_SDK_LOG").unwrap_or_else(|_| "warn".to_owned());
    RuntimeOptions::builder()
        .telemetry_options(TelemetryOptions::builder().logging(Logger::Console { filter, format: None }).build())
        .build()
        .expect("runtime options")
}

type ShutdownFn = Arc<dyn Fn() + Send + Sync>;
type ExitStatus = Option<Result<(), String>>;

/// An SDK worker running `Worker::run()` on a dedicated thread.
pub struct RunningWorker {
    name: String,
    shutdown_fn: ShutdownFn,
    status: watch::Receiver<ExitStatus>,
    shut_down: bool,
}

/// Starts a worker connected to `addr`/`namespace`. `make_options` runs on the worker thread
/// (so workflow/activity registrations never have to cross threads).
///
/// Returns once the worker has been constructed (not necessarily polling yet); tasks simply wait
/// in the server's queues until the pollers arrive. Panics if connecting or constructing fails.
pub async fn start_worker<F>(addr: SocketAddr, namespace: &str, name: &str, make_options: F) -> RunningWorker
where
    F: FnOnce() -> WorkerOptions + Send + 'static,
{
    start_worker_with(addr, namespace, &Credentials::default(), name, make_options).await
}

/// `start_worker`, connecting with `credentials`.
pub async fn start_worker_with<F>(
    addr: SocketAddr,
    namespace: &str,
    credentials: &Credentials,
    name: &str,
    make_options: F,
) -> RunningWorker
where
    F: FnOnce() -> WorkerOptions + Send + 'static,
{
    let credentials = credentials.clone();
    let (ready_tx, ready_rx) = oneshot::channel::<Result<ShutdownFn, String>>();
    let (status_tx, status_rx) = watch::channel::<ExitStatus>(None);
    let namespace = namespace.to_owned();
    let thread_name = format!("worker-{name}");
    std::thread::Builder::new()
        .name(thread_name)
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("build tokio runtime: {e}")));
                    return;
                }
            };
            let result = rt.block_on(async move {
                let client = match try_connect_with(addr, &namespace, &credentials).await {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.clone()));
                        return Err(e);
                    }
                };
                // Declared before `worker` so it is dropped after it.
                let runtime = match Runtime::from_current_tokio(sdk_runtime_options()) {
                    Ok(r) => r,
                    Err(e) => {
                        let e = format!("Runtime::from_current_tokio: {e:?}");
                        let _ = ready_tx.send(Err(e.clone()));
                        return Err(e);
                    }
                };
                let mut worker = match Worker::new(&runtime, client, make_options()) {
                    Ok(w) => w,
                    Err(e) => {
                        let e = format!("Worker::new: {e:?}");
                        let _ = ready_tx.send(Err(e.clone()));
                        return Err(e);
                    }
                };
                let handle = worker.shutdown_handle();
                let _ = ready_tx.send(Ok(Arc::new(handle)));
                worker.run().await.map_err(|e| format!("Worker::run: {e:?}"))
            });
            let _ = status_tx.send(Some(result));
        })
        .expect("spawn worker thread");

    let shutdown_fn = match ready_rx.await {
        Ok(Ok(f)) => f,
        Ok(Err(e)) => panic!("worker {name} failed to start: {e}"),
        Err(_) => panic!("worker {name} thread died during startup"),
    };
    RunningWorker { name: name.to_owned(), shutdown_fn, status: status_rx, shut_down: false }
}

impl RunningWorker {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Resolves when `Worker::run` has returned (with its result).
    pub async fn exited(&self) -> Result<(), String> {
        let mut rx = self.status.clone();
        match rx.wait_for(std::option::Option::is_some).await {
            Ok(v) => v.clone().expect("checked is_some"),
            Err(_) => Err("worker thread ended without reporting a result".to_owned()),
        }
    }

    /// Initiates graceful shutdown and waits (up to 30 s) for `Worker::run` to return.
    /// Panics if the worker run ended with an error or did not stop in time.
    pub async fn shutdown(mut self) {
        self.shut_down = true;
        let started = Instant::now();
        (self.shutdown_fn)();
        match tokio::time::timeout(SHUTDOWN_TIMEOUT, self.exited()).await {
            Ok(Ok(())) => {
                eprintln!("worker {} shut down in {:?}", self.name, started.elapsed());
            }
            Ok(Err(e)) => panic!("worker {} exited with error: {e}", self.name),
            Err(_) => panic!("worker {} did not finish shutting down within {SHUTDOWN_TIMEOUT:?}", self.name),
        }
    }
}

impl Drop for RunningWorker {
    fn drop(&mut self) {
        if !self.shut_down {
            // Best effort (e.g. on test panic): ask it to stop; the thread is detached.
            (self.shutdown_fn)();
        }
    }
}

/// Awaits `fut` for at most `timeout`, panicking early (with the worker's error) if any of
/// `workers` stops running in the meantime, and with `what` in the message on timeout.
pub async fn await_with_workers<F: Future>(
    fut: F,
    workers: &[&RunningWorker],
    timeout: Duration,
    what: &str,
) -> F::Output {
    let any_exited = async {
        if workers.is_empty() {
            return std::future::pending::<(String, Result<(), String>)>().await;
        }
        let futs = workers.iter().map(|w| Box::pin(async move { (w.name().to_owned(), w.exited().await) }));
        futures::future::select_all(futs).await.0
    };
    tokio::select! {
        out = fut => out,
        (name, res) = any_exited => {
            panic!("worker {name} stopped unexpectedly while waiting for {what}: {res:?}")
        }
        _ = tokio::time::sleep(timeout) => {
            panic!("timed out after {timeout:?} waiting for {what}")
        }
    }
}
