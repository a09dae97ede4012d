//! OpenTelemetry traces, off unless an OTLP endpoint is given: a span for
//! every WorkflowService/OperatorService call (`request_span`), one for
//! each store call made inside it and for every commit
//! (`metered_store`), and one for each SQLite group commit, linked to the
//! calls that shared it. Spans are `tracing` spans of target [`TARGET`]:
//! the exporter's layer takes only those, the log layer never sees them,
//! and with no exporter they are disabled at their call sites.
//!
//! A call joins its caller's trace: the W3C `traceparent` in its gRPC
//! metadata (OpenTelemetry's gRPC instrumentation), or else the context the
//! SDKs' tracing interceptors put in the request's Temporal header
//! (`_tracer-data`: a JSON map holding `traceparent`).

use chronicle_engine::api::common::v1::Header;
use chronicle_engine::api::workflowservice::v1::{
    ExecuteMultiOperationRequest, QueryWorkflowRequest, SignalWithStartWorkflowExecutionRequest,
    SignalWorkflowExecutionRequest, StartWorkflowExecutionRequest, UpdateWorkflowExecutionRequest,
    execute_multi_operation_request::operation::Operation,
};
use chronicle_proto::guard::Call;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider};
use opentelemetry_otlp::{WithExportConfig, WithTonicConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::collections::HashMap;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The `tracing` target of every span meant for the exporter.
pub const TARGET: &str = chronicle_store::observe::TRACES_TARGET;

/// The Temporal header key the SDKs' OpenTelemetry interceptors use.
const SDK_HEADER: &str = "_tracer-data";

/// Where spans go, if anywhere: `--otlp-endpoint`, else the standard
/// `OTEL_TRACES_EXPORTER=otlp` with `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`
/// (as Temporal's server reads them; default http://localhost:4317).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    Endpoint(String),
    FromEnvironment,
}

impl Destination {
    pub fn choose(endpoint: Option<String>) -> Option<Self> {
        if let Some(endpoint) = endpoint.filter(|e| !e.trim().is_empty()) {
            return Some(Destination::Endpoint(endpoint));
        }
        let exporter = std::env::var("OTEL_TRACES_EXPORTER").unwrap_or_default();
        exporter.split(',').any(|e| e.trim() == "otlp").then_some(Destination::FromEnvironment)
    }
}

/// The OTLP/gRPC exporter and its batching. Build it inside a Tokio
/// runtime (its channel lives there); `shutdown` sends what is queued.
pub struct Exporter {
    provider: SdkTracerProvider,
}

impl Exporter {
    pub fn start(destination: &Destination) -> anyhow::Result<Self> {
        let mut builder = opentelemetry_otlp::SpanExporter::builder().with_tonic();
        if let Destination::Endpoint(endpoint) = destination {
            if endpoint.starts_with("https://") {
                builder = builder.with_tls_config(tonic::transport::ClientTlsConfig::new().with_native_roots());
            }
            builder = builder.with_endpoint(endpoint.clone());
        }
        let exporter = builder.build()?;
        // The service name is `chronicle` unless OTEL_SERVICE_NAME says otherwise.
        let mut resource = opentelemetry_sdk::Resource::builder();
        if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
            resource = resource.with_service_name("chronicle");
        }
        let provider =
            SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource.build()).build();
        Ok(Exporter { provider })
    }

    /// The layer that hands [`TARGET`] spans to the exporter.
    pub fn layer<S>(&self) -> impl tracing_subscriber::Layer<S> + Send + Sync + 'static
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a> + Send + Sync,
    {
        use tracing_subscriber::Layer;
        let tracer = self.provider.tracer("chronicle");
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_location(false)
            .with_threads(false)
            .with_filter(tracing_subscriber::filter::Targets::new().with_target(TARGET, tracing::Level::TRACE))
    }

    /// Exports what is still queued (at most a few seconds).
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!("traces not all exported at shutdown: {e}");
        }
    }
}

/// The span a call runs in, joined to the caller's trace where it sent one.
pub fn request_span(call: &Call<'_>) -> tracing::Span {
    let service = match call.service {
        "OperatorService" => "temporal.api.operatorservice.v1.OperatorService",
        "TestService" => "temporal.api.testservice.v1.TestService",
        _ => "temporal.api.workflowservice.v1.WorkflowService",
    };
    let (workflow_id, run_id) = call.workflow.unwrap_or_default();
    let span = tracing::info_span!(
        target: TARGET,
        "grpc",
        otel.name = format!("{service}/{}", call.method),
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.service = service,
        rpc.method = call.method,
        rpc.grpc.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
        otel.status_description = tracing::field::Empty,
        temporalNamespace = call.namespace.unwrap_or_default(),
        temporalWorkflowID = workflow_id,
        temporalRunID = run_id,
    );
    if !span.is_disabled()
        && let Some(parent) = remote_parent(call.metadata, call.message)
    {
        let _ = span.set_parent(parent);
    }
    span
}

/// Records how a call ended: its gRPC code, and an error status for the
/// codes OpenTelemetry's conventions count as the server's failure.
pub fn end_request(span: &tracing::Span, error: Option<&tonic::Status>) {
    if span.is_disabled() {
        return;
    }
    let code = error.map_or(tonic::Code::Ok, tonic::Status::code);
    span.record("rpc.grpc.status_code", code as i32);
    use tonic::Code::*;
    if let (Some(status), Unknown | DeadlineExceeded | Unimplemented | Internal | Unavailable | DataLoss) =
        (error, code)
    {
        record_error(span, status.message());
    }
}

/// The caller's context: W3C trace context in the gRPC metadata first,
/// then the SDK interceptors' Temporal header.
fn remote_parent(
    metadata: &tonic::metadata::MetadataMap,
    message: &(dyn std::any::Any + Send + Sync),
) -> Option<opentelemetry::Context> {
    let propagator = TraceContextPropagator::new();
    let valid = |cx: opentelemetry::Context| cx.span().span_context().is_valid().then_some(cx);
    if metadata.contains_key("traceparent")
        && let Some(cx) = valid(propagator.extract(&Metadata(metadata)))
    {
        return Some(cx);
    }
    let payload = temporal_header(message)?.fields.get(SDK_HEADER)?;
    let carrier: HashMap<String, String> = serde_json::from_slice(&payload.data).ok()?;
    valid(propagator.extract(&carrier))
}

/// The Temporal header of the requests the SDKs' interceptors decorate.
fn temporal_header(message: &(dyn std::any::Any + Send + Sync)) -> Option<&Header> {
    if let Some(r) = message.downcast_ref::<StartWorkflowExecutionRequest>() {
        return r.header.as_ref();
    }
    if let Some(r) = message.downcast_ref::<SignalWithStartWorkflowExecutionRequest>() {
        return r.header.as_ref();
    }
    if let Some(r) = message.downcast_ref::<SignalWorkflowExecutionRequest>() {
        return r.header.as_ref();
    }
    if let Some(r) = message.downcast_ref::<QueryWorkflowRequest>() {
        return r.query.as_ref()?.header.as_ref();
    }
    if let Some(r) = message.downcast_ref::<UpdateWorkflowExecutionRequest>() {
        return r.request.as_ref()?.input.as_ref()?.header.as_ref();
    }
    if let Some(r) = message.downcast_ref::<ExecuteMultiOperationRequest>() {
        return r.operations.iter().find_map(|op| match op.operation.as_ref()? {
            Operation::StartWorkflow(start) => start.header.as_ref(),
            Operation::UpdateWorkflow(update) => update.request.as_ref()?.input.as_ref()?.header.as_ref(),
        });
    }
    None
}

struct Metadata<'a>(&'a tonic::metadata::MetadataMap);

impl Extractor for Metadata<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0
            .keys()
            .filter_map(|k| match k {
                tonic::metadata::KeyRef::Ascii(k) => Some(k.as_str()),
                tonic::metadata::KeyRef::Binary(_) => None,
            })
            .collect()
    }
}

/// The span of one store call, inside the call that made it (none outside
/// one, except for commits: every commit gets a span, a root one when the
/// server commits on its own, e.g. a timer firing).
pub fn store_span(operation: &'static str) -> tracing::Span {
    let is_commit = operation == "UpdateWorkflowExecution";
    if !is_commit && tracing::Span::current().is_none() {
        return tracing::Span::none();
    }
    tracing::info_span!(
        target: TARGET,
        "persistence",
        otel.name = operation,
        otel.kind = "client",
        component = "persistence",
        otel.status_code = tracing::field::Empty,
        otel.status_description = tracing::field::Empty,
    )
}

/// Marks a store call's span failed.
pub fn store_failed(span: &tracing::Span, error: &chronicle_store::StoreError) {
    if !span.is_disabled() {
        record_error(span, &error.to_string());
    }
}

/// An error status, with a bounded prefix of the message (as the logs and
/// the gRPC answer bound it).
fn record_error(span: &tracing::Span, message: &str) {
    span.record("otel.status_code", "error");
    span.record("otel.status_description", message.chars().take(1024).collect::<String>());
}

#[cfg(test)]
mod tests {
    use super::*;
    use chronicle_engine::api::common::v1::Payload;

    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn trace_of(cx: &opentelemetry::Context) -> (String, String) {
        let span = cx.span();
        let sc = span.span_context();
        (sc.trace_id().to_string(), sc.span_id().to_string())
    }

    fn sdk_header(data: &[u8]) -> Header {
        let payload = Payload { data: data.to_vec(), ..Default::default() };
        Header { fields: [(SDK_HEADER.to_string(), payload)].into() }
    }

    #[test]
    fn grpc_metadata_carries_the_parent() {
        let mut metadata = tonic::metadata::MetadataMap::new();
        metadata.insert("traceparent", TRACEPARENT.parse().unwrap());
        let request = StartWorkflowExecutionRequest::default();
        let cx = remote_parent(&metadata, &request).expect("a parent");
        assert_eq!(trace_of(&cx), ("4bf92f3577b34da6a3ce929d0e0e4736".into(), "00f067aa0ba902b7".into()));
    }

    #[test]
    fn the_sdk_interceptors_header_carries_the_parent() {
        let data = format!(r#"{{"traceparent": "{TRACEPARENT}"}}"#);
        let metadata = tonic::metadata::MetadataMap::new();
        let start = StartWorkflowExecutionRequest { header: Some(sdk_header(data.as_bytes())), ..Default::default() };
        let cx = remote_parent(&metadata, &start).expect("from a start");
        assert_eq!(trace_of(&cx).0, "4bf92f3577b34da6a3ce929d0e0e4736");

        let query = QueryWorkflowRequest {
            query: Some(chronicle_engine::api::query::v1::WorkflowQuery {
                header: Some(sdk_header(data.as_bytes())),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(remote_parent(&metadata, &query).is_some(), "from a query");
    }

    #[test]
    fn metadata_wins_and_garbage_is_no_parent() {
        let other = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let mut metadata = tonic::metadata::MetadataMap::new();
        metadata.insert("traceparent", other.parse().unwrap());
        let data = format!(r#"{{"traceparent": "{TRACEPARENT}"}}"#);
        let start = StartWorkflowExecutionRequest { header: Some(sdk_header(data.as_bytes())), ..Default::default() };
        assert_eq!(trace_of(&remote_parent(&metadata, &start).unwrap()).0, "0af7651916cd43dd8448eb211c80319c");

        let empty = tonic::metadata::MetadataMap::new();
        for junk in [&b"not json"[..], br#"{"traceparent": "00-zz-yy-01"}"#, br#"{"traceparent": 7}"#, b""] {
            let start = StartWorkflowExecutionRequest { header: Some(sdk_header(junk)), ..Default::default() };
            assert!(remote_parent(&empty, &start).is_none(), "{junk:?}");
        }
        let mut bad = tonic::metadata::MetadataMap::new();
        bad.insert("traceparent", "00-00000000000000000000000000000000-0000000000000000-01".parse().unwrap());
        assert!(remote_parent(&bad, &StartWorkflowExecutionRequest::default()).is_none());
    }

    #[test]
    fn destinations() {
        assert_eq!(
            Destination::choose(Some("http://127.0.0.1:4317".into())),
            Some(Destination::Endpoint("http://127.0.0.1:4317".into()))
        );
        assert_eq!(
            Destination::choose(Some("  ".into())).is_some(),
            std::env::var("OTEL_TRACES_EXPORTER").is_ok_and(|e| e.contains("otlp"))
        );
    }
}
