//! Prometheus metrics, under Temporal's names where it has one:
//! `service_requests`, `service_errors` and `service_latency` (seconds) by
//! gRPC `operation` (and `status_code` for errors; `unknown` for calls
//! answered UNIMPLEMENTED), counted by a tower layer around every service;
//! `workflow_success`, `workflow_failed`,
//! `workflow_timeout`, `workflow_terminate`, `workflow_cancel` and
//! `workflow_continued_as_new`, counted as close events are committed.
//! The store's calls (`persistence_*`, see `metered_store.rs`), the history
//! cache (`cache_requests`, `cache_miss`, `cache_size`), polls
//! (`poll_success`, `poll_timeouts` by `task_type`), eager dispatch
//! (`activity_eager_execution`, `workflow_eager_execution`,
//! `workflow_eager_execution_denied`), `schedule_action_success`,
//! `timers_pending`, `task_queue_backlog` and `open_runs`.
//! One registry per process; `serve` answers `GET /metrics` on its own port.

use chronicle_engine::api::enums::v1::EventType;
use chronicle_engine::api::history::v1::HistoryEvent;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    errors: IntCounterVec,
    latency: HistogramVec,
    closes: [(EventType, IntCounter); 6],
    persistence_requests: IntCounterVec,
    persistence_errors: IntCounterVec,
    persistence_latency: HistogramVec,
    commit_executions: Histogram,
    /// SQLite group commits: requests per transaction, and its latency.
    group_commit_requests: Histogram,
    group_commit_latency: Histogram,
    /// Run lookups in the history cache, and those that read the store.
    cache_requests: IntCounter,
    cache_miss: IntCounter,
    /// Polls answered with a task, and polls that ended empty (deadline).
    poll_success: IntCounterVec,
    poll_timeouts: IntCounterVec,
    /// Activities handed out with their workflow task's completion.
    eager_activities: IntCounter,
    /// Starts that asked for their first workflow task eagerly, and those
    /// that were answered without it.
    eager_starts: IntCounter,
    eager_starts_denied: IntCounter,
    schedule_actions: IntCounter,
    /// Sampled every few seconds (see `sample`).
    cache_size: IntGauge,
    timers_pending: IntGauge,
    task_queue_backlog: IntGauge,
    open_runs: IntGauge,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

impl Metrics {
    fn new() -> Self {
        let registry = Registry::new();
        let requests =
            IntCounterVec::new(Opts::new("service_requests", "gRPC requests received"), &["namespace", "operation"])
                .expect("valid metric");
        let errors = IntCounterVec::new(
            Opts::new("service_errors", "gRPC requests answered with an error"),
            &["namespace", "operation", "status_code"],
        )
        .expect("valid metric");
        let buckets = vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
        let latency = HistogramVec::new(
            HistogramOpts::new("service_latency", "gRPC request latency in seconds (long polls included)")
                .buckets(buckets),
            &["namespace", "operation"],
        )
        .expect("valid metric");
        let close = |name: &str, help: &str| IntCounter::new(name, help).expect("valid metric");
        let closes = [
            (EventType::WorkflowExecutionCompleted, close("workflow_success", "workflow runs completed")),
            (EventType::WorkflowExecutionFailed, close("workflow_failed", "workflow runs failed")),
            (EventType::WorkflowExecutionTimedOut, close("workflow_timeout", "workflow runs timed out")),
            (EventType::WorkflowExecutionTerminated, close("workflow_terminate", "workflow runs terminated")),
            (EventType::WorkflowExecutionCanceled, close("workflow_cancel", "workflow runs canceled")),
            (
                EventType::WorkflowExecutionContinuedAsNew,
                close("workflow_continued_as_new", "workflow runs continued as new"),
            ),
        ];
        let persistence_requests =
            IntCounterVec::new(Opts::new("persistence_requests", "store calls"), &["operation"]).expect("valid metric");
        let persistence_errors = IntCounterVec::new(
            Opts::new("persistence_errors", "store calls that failed (conflicts included)"),
            &["operation"],
        )
        .expect("valid metric");
        let persistence_latency = HistogramVec::new(
            HistogramOpts::new("persistence_latency", "store call latency in seconds").buckets(vec![
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
            ]),
            &["operation"],
        )
        .expect("valid metric");
        let commit_executions = Histogram::with_opts(
            HistogramOpts::new("persistence_commit_executions", "executions written per commit call")
                .buckets(vec![1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0]),
        )
        .expect("valid metric");
        let group_commit_requests = Histogram::with_opts(
            HistogramOpts::new("persistence_group_commit_requests", "SQLite: requests sharing one transaction")
                .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]),
        )
        .expect("valid metric");
        let group_commit_latency = Histogram::with_opts(
            HistogramOpts::new("persistence_group_commit_latency", "SQLite: a group commit, BEGIN to durable COMMIT")
                .buckets(vec![0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5]),
        )
        .expect("valid metric");
        let counter = |name: &str, help: &str| IntCounter::new(name, help).expect("valid metric");
        let by_type =
            |name: &str, help: &str| IntCounterVec::new(Opts::new(name, help), &["task_type"]).expect("valid metric");
        let gauge = |name: &str, help: &str| IntGauge::new(name, help).expect("valid metric");
        let metrics = Metrics {
            registry,
            requests,
            errors,
            latency,
            closes,
            persistence_requests,
            persistence_errors,
            persistence_latency,
            commit_executions,
            group_commit_requests,
            group_commit_latency,
            cache_requests: counter("cache_requests", "run lookups in the history cache"),
            cache_miss: counter("cache_miss", "run lookups the history cache did not hold (read from the store)"),
            poll_success: by_type("poll_success", "polls answered with a task"),
            poll_timeouts: by_type("poll_timeouts", "polls that reached their deadline without a task"),
            eager_activities: counter(
                "activity_eager_execution",
                "activity tasks handed out with the workflow task completion that scheduled them",
            ),
            eager_starts: counter(
                "workflow_eager_execution",
                "workflow starts that asked for their first workflow task in the response",
            ),
            eager_starts_denied: counter(
                "workflow_eager_execution_denied",
                "eager workflow starts answered without a workflow task (it waits, or went to its queue)",
            ),
            schedule_actions: counter("schedule_action_success", "workflows started by schedules"),
            cache_size: gauge("cache_size", "runs held in the history cache"),
            timers_pending: gauge("timers_pending", "timers and timeouts held in the server's timer window"),
            task_queue_backlog: gauge("task_queue_backlog", "tasks waiting in memory in all task queues"),
            open_runs: gauge("open_runs", "workflow runs running, in every namespace"),
        };
        let collectors: Vec<Box<dyn prometheus::core::Collector>> = vec![
            Box::new(metrics.requests.clone()),
            Box::new(metrics.errors.clone()),
            Box::new(metrics.latency.clone()),
            Box::new(metrics.persistence_requests.clone()),
            Box::new(metrics.persistence_errors.clone()),
            Box::new(metrics.persistence_latency.clone()),
            Box::new(metrics.commit_executions.clone()),
            Box::new(metrics.group_commit_requests.clone()),
            Box::new(metrics.group_commit_latency.clone()),
            Box::new(metrics.cache_requests.clone()),
            Box::new(metrics.cache_miss.clone()),
            Box::new(metrics.poll_success.clone()),
            Box::new(metrics.poll_timeouts.clone()),
            Box::new(metrics.eager_activities.clone()),
            Box::new(metrics.eager_starts.clone()),
            Box::new(metrics.eager_starts_denied.clone()),
            Box::new(metrics.schedule_actions.clone()),
            Box::new(metrics.cache_size.clone()),
            Box::new(metrics.timers_pending.clone()),
            Box::new(metrics.task_queue_backlog.clone()),
            Box::new(metrics.open_runs.clone()),
        ];
        for collector in collectors.into_iter().chain(metrics.closes.iter().map(|(_, c)| Box::new(c.clone()) as _)) {
            metrics.registry.register(collector).expect("registered once");
        }
        metrics
    }

    pub(crate) fn record_persistence(&self, operation: &str, failed: bool, took: Duration) {
        self.persistence_requests.with_label_values(&[operation]).inc();
        self.persistence_latency.with_label_values(&[operation]).observe(took.as_secs_f64());
        if failed {
            self.persistence_errors.with_label_values(&[operation]).inc();
        }
    }

    /// Has the store report its group commits here (once per process).
    pub(crate) fn observe_group_commits(&'static self) {
        chronicle_store::observe::on_group_commit(Box::new(|requests, took| {
            self.group_commit_requests.observe(requests as f64);
            self.group_commit_latency.observe(took.as_secs_f64());
        }));
    }

    pub(crate) fn record_commit_size(&self, executions: usize) {
        self.commit_executions.observe(executions as f64);
    }

    pub(crate) fn record_cache_lookup(&self, hit: bool) {
        self.cache_requests.inc();
        if !hit {
            self.cache_miss.inc();
        }
    }

    /// A poll's outcome; `activity` tells the task type.
    pub(crate) fn record_poll(&self, activity: bool, got_task: bool) {
        let task_type = if activity { "Activity" } else { "Workflow" };
        let counter = if got_task { &self.poll_success } else { &self.poll_timeouts };
        counter.with_label_values(&[task_type]).inc();
    }

    pub(crate) fn record_eager_activities(&self, n: usize) {
        self.eager_activities.inc_by(n as u64);
    }

    /// A start that asked for eager execution, and whether it got its task.
    pub(crate) fn record_eager_start(&self, granted: bool) {
        self.eager_starts.inc();
        if !granted {
            self.eager_starts_denied.inc();
        }
    }

    pub(crate) fn record_schedule_action(&self) {
        self.schedule_actions.inc();
    }

    /// The gauges, as sampled now.
    pub(crate) fn sample(&self, cached_runs: usize, timers: usize, backlog: usize) {
        let set = |gauge: &IntGauge, n: usize| gauge.set(i64::try_from(n).unwrap_or(i64::MAX));
        set(&self.cache_size, cached_runs);
        set(&self.timers_pending, timers);
        set(&self.task_queue_backlog, backlog);
    }

    pub(crate) fn sample_open_runs(&self, open: i64) {
        self.open_runs.set(open);
    }

    fn record_request(&self, namespace: &str, operation: &str, status_code: Option<&str>, took: Duration) {
        self.requests.with_label_values(&[namespace, operation]).inc();
        self.latency.with_label_values(&[namespace, operation]).observe(took.as_secs_f64());
        if let Some(code) = status_code {
            self.errors.with_label_values(&[namespace, operation, code]).inc();
        }
    }

    /// Counts the close events among a commit's events.
    pub(crate) fn record_closes(&self, events: &[HistoryEvent]) {
        for event in events {
            if let Some((_, counter)) = self.closes.iter().find(|(ty, _)| *ty as i32 == event.event_type) {
                counter.inc();
            }
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into memory fails only on invalid metric names.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Serves `GET /metrics`, and `GET /health/live` (the process answers)
/// and `GET /health/ready` (200, or 503 saying why: see `health`), on
/// `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    health: crate::health::Health,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(|| async {
                ([(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], metrics().render())
            }),
        )
        .route("/health/live", axum::routing::get(|| async { "live\n" }))
        .route(
            "/health/ready",
            axum::routing::get(move || {
                let health = health.clone();
                async move {
                    match health.ready() {
                        Ok(()) => (http::StatusCode::OK, "ready\n".to_string()),
                        Err(why) => (http::StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {why}\n")),
                    }
                }
            }),
        );
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

/// tonic's codec answers a request it cannot take with codes that blame
/// the server; Temporal's blame the caller: bytes that are not the
/// method's message are InvalidArgument (tonic: Internal), a message over
/// the size limit is ResourceExhausted (tonic: OutOfRange when it arrives
/// uncompressed).
fn codec_errors_blame_the_caller(headers: &mut http::HeaderMap) {
    // grpc-message is percent-encoded, spaces included.
    const DECODE_FAILED: &[u8] = b"failed%20to%20decode%20Protobuf%20message";
    const TOO_LARGE: &[u8] = b"Error,%20decoded%20message%20length%20too%20large";
    let code = headers.get("grpc-status").map(http::HeaderValue::as_bytes);
    let message = headers.get("grpc-message").map(http::HeaderValue::as_bytes).unwrap_or_default();
    let caller_fault = match code {
        Some(b"13") if message.starts_with(DECODE_FAILED) => "3",
        Some(b"11") if message.starts_with(TOO_LARGE) => "8",
        _ => return,
    };
    headers.insert("grpc-status", http::HeaderValue::from_static(caller_fault));
}

/// An error message (or its details) that quotes a huge input back would
/// make a header clients refuse: the message is cut to a bounded prefix,
/// oversized details are dropped.
fn bound_error_headers(headers: &mut http::HeaderMap) {
    const MESSAGE_CHARS_MAX: usize = 1024;
    const DETAILS_BYTES_MAX: usize = 16 * 1024;
    if let Some(message) = headers.get("grpc-message")
        && message.len() > 4 * MESSAGE_CHARS_MAX
    {
        let decoded = percent_encoding::percent_decode(message.as_bytes()).decode_utf8_lossy();
        let mut cut: String = decoded.chars().take(MESSAGE_CHARS_MAX).collect();
        cut.push('…');
        // gRPC's escaping: anything outside printable ASCII, and '%'.
        const ESCAPED: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS.add(b'%');
        let encoded = percent_encoding::utf8_percent_encode(&cut, ESCAPED).to_string();
        if let Ok(value) = http::HeaderValue::from_str(&encoded) {
            headers.insert("grpc-message", value);
        }
    }
    if headers.get("grpc-status-details-bin").is_some_and(|d| d.len() > DETAILS_BYTES_MAX) {
        headers.remove("grpc-status-details-bin");
    }
}

/// Whether a name is a namespace the server has (so a caller's made-up
/// names never become series).
pub type KnownNamespace = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// The namespace tag of a call Temporal's way: the namespace the SDK names
/// in its `temporal-namespace` header when the server has it, else
/// `_unknown_`.
fn namespace_tag<B>(request: &http::Request<B>, known: Option<&KnownNamespace>) -> String {
    let named = request.headers().get("temporal-namespace").and_then(|v| v.to_str().ok());
    match (named, known) {
        (Some(name), Some(known)) if known(name) => name.to_string(),
        _ => "_unknown_".to_string(),
    }
}

/// The tower layer around every gRPC service: counts each request (when
/// built with `new`; `default` only mends codec errors and long messages).
#[derive(Clone, Default)]
pub struct MetricsLayer {
    count: bool,
    known: Option<KnownNamespace>,
}

impl MetricsLayer {
    pub fn new(known: KnownNamespace) -> Self {
        MetricsLayer { count: true, known: Some(known) }
    }
}

impl<S> tower::Layer<S> for MetricsLayer {
    type Service = Counted<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Counted { inner, count: self.count, known: self.known.clone() }
    }
}

#[derive(Clone)]
pub struct Counted<S> {
    inner: S,
    count: bool,
    known: Option<KnownNamespace>,
}

impl<S, B, R> tower::Service<http::Request<B>> for Counted<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // The method's name, as Temporal's `operation` tag has it.
        let count = self.count;
        let (operation, namespace) = if count {
            let operation = request.uri().path().rsplit('/').next().unwrap_or_default().to_string();
            (operation, namespace_tag(&request, self.known.as_ref()))
        } else {
            (String::new(), String::new())
        };
        // The clone that was made ready is the one to call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let began = Instant::now();
            let mut response = inner.call(request).await;
            if let Ok(response) = &mut response {
                codec_errors_blame_the_caller(response.headers_mut());
                bound_error_headers(response.headers_mut());
            }
            if let Ok(response) = &response
                && count
            {
                // A failed unary call answers with its status in the
                // headers (trailers only); a success carries it later.
                let code = response
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .map(|code| tonic::Code::from_i32(code.parse().unwrap_or(2)))
                    .filter(|code| *code != tonic::Code::Ok);
                // Calls answered UNIMPLEMENTED count as `unknown`: a method
                // no service has is named by the caller, and must not let
                // a client grow the series without bound.
                let operation = if code == Some(tonic::Code::Unimplemented) { "unknown" } else { &operation };
                let code = code.map(|code| format!("{code:?}"));
                metrics().record_request(&namespace, operation, code.as_deref(), began.elapsed());
            }
            response
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::{Layer, Service};

    /// Answers every request with the grpc-status of its path's last letter
    /// ("...Ok" → 0, anything else → 12, Unimplemented).
    #[derive(Clone)]
    struct Answer;

    impl Service<http::Request<()>> for Answer {
        type Response = http::Response<()>;
        type Error = std::convert::Infallible;
        type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: http::Request<()>) -> Self::Future {
            let mut response = http::Response::new(());
            if !request.uri().path().ends_with("Ok") {
                response.headers_mut().insert("grpc-status", http::HeaderValue::from_static("12"));
            }
            std::future::ready(Ok(response))
        }
    }

    async fn call(service: &mut Counted<Answer>, path: &str) {
        let request = http::Request::builder().uri(path).body(()).unwrap();
        service.call(request).await.unwrap();
    }

    #[tokio::test]
    async fn methods_are_counted_by_name_and_unknown_ones_as_one() {
        let mut service = MetricsLayer { count: true, known: None }.layer(Answer);
        call(&mut service, "/temporal.api.workflowservice.v1.WorkflowService/CountedOk").await;
        for i in 0..3 {
            call(&mut service, &format!("/made.up.Service/Invented{i}")).await;
        }
        let text = metrics().render();
        assert!(text.contains(r#"service_requests{namespace="_unknown_",operation="CountedOk"} 1"#), "{text}");
        assert!(!text.contains("Invented"), "a caller's names make no series: {text}");
        assert!(
            text.contains(r#"service_errors{namespace="_unknown_",operation="unknown",status_code="Unimplemented"}"#),
            "{text}"
        );
    }
}
