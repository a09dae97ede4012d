//! An SDK worker for tests, on a thread of its own: `Worker::run` is not
//! `Send` (workflows run on a local set), so it cannot be spawned on the
//! test's runtime; this thread has a current-thread runtime, the SDK's
//! runtime and its own connection.

use crate::TestServer;
use std::sync::Arc;
use std::time::Duration;
use temporalio_sdk::runtime::{Runtime, RuntimeOptions};
use temporalio_sdk::{Worker, WorkerOptions};
use tokio::sync::{oneshot, watch};

/// How long [`TestWorker::shutdown`] waits for the worker to stop.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

type Stop = Arc<dyn Fn() + Send + Sync>;
type Exit = Option<Result<(), String>>;

/// A worker polling a [`TestServer`]; dropping it asks it to stop.
pub struct TestWorker {
    stop: Stop,
    exit: watch::Receiver<Exit>,
}

impl TestWorker {
    /// Starts a worker of the `default` namespace. `options` runs on the
    /// worker's thread, so registrations need not cross threads.
    pub async fn start<F>(server: &TestServer, options: F) -> anyhow::Result<Self>
    where
        F: FnOnce() -> WorkerOptions + Send + 'static,
    {
        Self::start_in(server, "default", options).await
    }

    /// Starts a worker of `namespace`.
    pub async fn start_in<F>(server: &TestServer, namespace: &str, options: F) -> anyhow::Result<Self>
    where
        F: FnOnce() -> WorkerOptions + Send + 'static,
    {
        let client = server.client_for(namespace).await?;
        let (ready_tx, ready_rx) = oneshot::channel::<Result<Stop, String>>();
        let (exit_tx, exit) = watch::channel::<Exit>(None);
        std::thread::Builder::new().name("chronicle-test-worker".into()).spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("tokio runtime: {e}")));
                    return;
                }
            };
            let result = runtime.block_on(async move {
                let sdk = RuntimeOptions::builder()
                    .build()
                    .map_err(|e| format!("SDK runtime options: {e:?}"))
                    .and_then(|o| Runtime::from_current_tokio(o).map_err(|e| format!("SDK runtime: {e:?}")));
                let sdk = match sdk {
                    Ok(sdk) => sdk,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.clone()));
                        return Err(e);
                    }
                };
                let mut worker = match Worker::new(&sdk, client, options()) {
                    Ok(worker) => worker,
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
            let _ = exit_tx.send(Some(result));
        })?;
        let stop = ready_rx.await.map_err(|_| anyhow::anyhow!("the worker's thread ended while starting"))?;
        let stop = stop.map_err(|e| anyhow::anyhow!(e))?;
        Ok(TestWorker { stop, exit })
    }

    /// Stops the worker gracefully and waits for it (at most 30 s); the
    /// error the worker ended with, if any.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        (self.stop)();
        let exited = tokio::time::timeout(SHUTDOWN_TIMEOUT, self.exit.wait_for(Option::is_some)).await;
        let exit = match exited {
            Ok(Ok(exit)) => exit.clone(),
            Ok(Err(_)) => Some(Err("the worker's thread ended without a result".into())),
            Err(_) => anyhow::bail!("the worker did not stop within {SHUTDOWN_TIMEOUT:?}"),
        };
        exit.unwrap_or(Ok(())).map_err(|e| anyhow::anyhow!(e))
    }
}

impl Drop for TestWorker {
    fn drop(&mut self) {
        (self.stop)();
    }
}
