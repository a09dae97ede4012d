//! Who may call what: API keys checked on every WorkflowService and
//! OperatorService call (the `Guard`), and TLS on the port (`tls`).
//!
//! With no key file, every caller may do everything (a dev server on
//! loopback; or a port whose TLS demands client certificates, where the
//! certificate authority is the authorization). With one, each call needs
//! `authorization: Bearer KEY` naming a key the file grants the call's
//! role in the call's namespace (`roles`); commands in a workflow task
//! that reach into another namespace need a grant there too.

pub mod keys;
mod reloading;
pub mod roles;
pub mod tls;

use crate::errors;
use chronicle_engine::api::command::v1::command::Attributes;
use chronicle_engine::api::workflowservice::v1::RespondWorkflowTaskCompletedRequest;
use chronicle_proto::guard::{Admission, Call, Failure};
use keys::KeyRing;
use std::path::PathBuf;
use std::sync::Arc;
use tonic::Status;

/// How the gRPC port is secured (all off by default).
#[derive(Clone, Debug, Default)]
pub struct Security {
    pub tls: Option<tls::TlsFiles>,
    /// The API key file (`--auth-keys`).
    pub auth_keys: Option<PathBuf>,
}

impl Security {
    pub fn is_open(&self) -> bool {
        self.auth_keys.is_none() && self.tls.as_ref().is_none_or(|t| t.client_ca.is_none())
    }
}

/// What every call passes first: the limits all calls share, then its API
/// key checked against the key file (with none, every caller is let in).
pub struct Guard {
    keys: Option<KeyRing>,
    throttle: crate::throttle::Throttle,
    /// Whether calls get spans (`crate::traces`).
    traces: bool,
}

impl Guard {
    pub(crate) fn new(keys: Option<KeyRing>, throttle: crate::throttle::Throttle, traces: bool) -> Self {
        Guard { keys, throttle, traces }
    }

    /// Whether calls need an API key.
    pub fn has_keys(&self) -> bool {
        self.keys.is_some()
    }

    /// The namespace's rate, and a place for a long poll.
    fn throttle(&self, call: &Call<'_>) -> Result<Option<crate::throttle::PollPlace>, Status> {
        let Some(namespace) = call.namespace.filter(|n| !n.is_empty()) else { return Ok(None) };
        self.throttle.take(namespace, std::time::Instant::now())?;
        if crate::throttle::is_long_poll(call.method) { self.throttle.poll_place(namespace) } else { Ok(None) }
    }
}

fn unauthenticated(why: &str) -> Status {
    Status::unauthenticated(format!("Request unauthenticated: {why}"))
}

/// The key in `authorization: Bearer KEY`.
fn bearer(metadata: &tonic::metadata::MetadataMap) -> Result<&str, Status> {
    let Some(value) = metadata.get("authorization") else {
        return Err(unauthenticated("an API key is required (metadata 'authorization: Bearer KEY')."));
    };
    let value = value.to_str().map_err(|_| unauthenticated("the authorization metadata is not text."))?;
    match value.split_once(' ') {
        Some((scheme, key)) if scheme.eq_ignore_ascii_case("bearer") && !key.trim().is_empty() => Ok(key.trim()),
        _ => Err(unauthenticated("the authorization metadata must be 'Bearer KEY'.")),
    }
}

/// Namespaces other than the task's that a workflow task's commands reach
/// (children started, workflows signalled or cancelled there), with the
/// call each amounts to.
fn reached_namespaces(request: &RespondWorkflowTaskCompletedRequest) -> Vec<(&str, &'static str)> {
    request
        .commands
        .iter()
        .filter_map(|command| match command.attributes.as_ref()? {
            Attributes::StartChildWorkflowExecutionCommandAttributes(a) => {
                Some((a.namespace.as_str(), "StartWorkflowExecution"))
            }
            Attributes::SignalExternalWorkflowExecutionCommandAttributes(a) => {
                Some((a.namespace.as_str(), "SignalWorkflowExecution"))
            }
            Attributes::RequestCancelExternalWorkflowExecutionCommandAttributes(a) => {
                Some((a.namespace.as_str(), "RequestCancelWorkflowExecution"))
            }
            _ => None,
        })
        .filter(|(namespace, _)| !namespace.is_empty() && *namespace != request.namespace)
        .collect()
}

/// Limits on fields every call may carry, as Temporal's (its
/// `limit.maxIDLength`), checked before anything quotes them back.
fn check_shared_fields(call: &Call<'_>) -> Result<(), Status> {
    if call.namespace.is_some_and(|n| n.len() > chronicle_engine::limits::ID_BYTES_MAX) {
        return Err(errors::invalid("Namespace length exceeds limit."));
    }
    if call.identity.is_some_and(|i| i.len() > chronicle_engine::limits::ID_BYTES_MAX) {
        return Err(errors::invalid("Identity length exceeds limit."));
    }
    Ok(())
}

impl Admission for Guard {
    /// One line per failed call: the caller's mistakes at info, the
    /// server's own failures at warn.
    fn failed(&self, f: &Failure<'_>) {
        use tonic::Code::*;
        // Fields may be huge (a refused 4 MiB namespace, a message quoting
        // input back): the log keeps a prefix of each.
        let prefix = |text: &str, chars: usize| -> String { text.chars().take(chars).collect() };
        let (workflow_id, run_id) = f.workflow.unwrap_or_default();
        let (workflow_id, run_id) = (prefix(workflow_id, 1000), prefix(run_id, 100));
        let namespace = prefix(f.namespace.unwrap_or_default(), 1000);
        let (code, message) = (f.status.code(), prefix(f.status.message(), 1024));
        match code {
            Internal | Unknown | Unavailable | DataLoss => {
                tracing::warn!(method = f.method, %namespace, %workflow_id, %run_id, ?code, "request failed: {message}");
            }
            _ => {
                tracing::info!(method = f.method, %namespace, %workflow_id, %run_id, ?code, "request failed: {message}");
            }
        }
    }

    fn span(&self, call: &Call<'_>) -> tracing::Span {
        if self.traces { crate::traces::request_span(call) } else { tracing::Span::none() }
    }

    fn ended(&self, span: &tracing::Span, error: Option<&Status>) {
        crate::traces::end_request(span, error);
    }

    type Ticket = Option<crate::throttle::PollPlace>;

    fn admit(&self, call: &Call<'_>) -> Result<Self::Ticket, Status> {
        check_shared_fields(call)?;
        if let Some(keys) = &self.keys {
            authorize(keys, call)?;
        }
        self.throttle(call)
    }
}

/// The guard of the cluster port, where calls other nodes forwarded
/// arrive: checked again (fields, API key) but not throttled, as the node
/// they came in at counted them against the namespace's rate and poll
/// places already.
pub struct PeerGuard(pub Arc<Guard>);

impl Admission for PeerGuard {
    type Ticket = ();

    fn admit(&self, call: &Call<'_>) -> Result<(), Status> {
        check_shared_fields(call)?;
        if let Some(keys) = &self.0.keys {
            authorize(keys, call)?;
        }
        Ok(())
    }

    fn failed(&self, failure: &Failure<'_>) {
        self.0.failed(failure);
    }

    fn span(&self, call: &Call<'_>) -> tracing::Span {
        self.0.span(call)
    }

    fn ended(&self, span: &tracing::Span, error: Option<&Status>) {
        self.0.ended(span, error);
    }
}

/// Whether the call's API key holds the role the call needs.
fn authorize(keys: &KeyRing, call: &Call<'_>) -> Result<(), Status> {
    if roles::is_open(call.service, call.method) {
        return Ok(());
    }
    let key = bearer(call.metadata)?;
    let Some((name, claims)) = keys.lookup(key) else {
        tracing::warn!(method = call.method, namespace = call.namespace.unwrap_or_default(), "unknown API key refused");
        return Err(unauthenticated("the API key is not known (mistyped, or revoked)."));
    };
    let mut targets = vec![(call.namespace, call.method)];
    if let Some(task) = call.message.downcast_ref::<RespondWorkflowTaskCompletedRequest>() {
        targets.extend(reached_namespaces(task).into_iter().map(|(ns, method)| (Some(ns), method)));
    }
    for (namespace, method) in targets {
        if !roles::allows(&claims, call.service, method, namespace) {
            tracing::warn!(
                key = %name,
                service = call.service,
                method,
                namespace = namespace.unwrap_or_default(),
                "permission denied"
            );
            return Err(errors::unauthorized());
        }
    }
    Ok(())
}

#[cfg(test)]
mod peer_tests {
    use super::*;

    #[test]
    fn calls_forwarded_by_another_node_are_not_throttled_again() {
        let limits = chronicle_engine::Limits { namespace_requests_per_second: 1, ..Default::default() };
        let guard = Arc::new(Guard::new(None, crate::throttle::Throttle::new(&limits), false));
        let peers = PeerGuard(guard.clone());
        let metadata = tonic::metadata::MetadataMap::new();
        let extensions = tonic::Extensions::new();
        let call = Call {
            service: "WorkflowService",
            method: "SignalWorkflowExecution",
            namespace: Some("default"),
            identity: None,
            workflow: None,
            metadata: &metadata,
            extensions: &extensions,
            message: &(),
        };
        // A burst of two at 1/s, then the rate: the client port refuses.
        assert!(guard.admit(&call).is_ok() && guard.admit(&call).is_ok());
        assert_eq!(guard.admit(&call).err().map(|s| s.code()), Some(tonic::Code::ResourceExhausted));
        for _ in 0..10 {
            assert!(peers.admit(&call).is_ok(), "counted where it came in");
        }
    }
}
