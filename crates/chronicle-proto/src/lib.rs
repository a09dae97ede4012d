//! Temporal's gRPC service traits, generated at build time over the
//! `temporalio-protos` message types (see `build.rs`).

pub use temporalio_protos as protos;

pub mod cluster;
pub mod json;

pub mod workflowservice {
    tonic::include_proto!("temporal.api.workflowservice.v1");
}

pub mod operatorservice {
    tonic::include_proto!("temporal.api.operatorservice.v1");
}

pub mod testservice {
    tonic::include_proto!("temporal.api.testservice.v1");
}

/// Chronicle's node-to-node service (messages in `cluster`, generated
/// client and server from `build.rs`).
pub mod clusterservice {
    tonic::include_proto!("chronicle.cluster.v1.Cluster");
}

/// Every WorkflowService and OperatorService call put to one check before
/// it reaches the service (limits every call shares, authorization), with
/// the namespace it names.
pub mod guard {
    /// A call as the check sees it.
    pub struct Call<'a> {
        /// `WorkflowService` or `OperatorService`.
        pub service: &'static str,
        /// The RPC's name, e.g. `StartWorkflowExecution`.
        pub method: &'static str,
        /// The request's `namespace` field, where its message has one.
        pub namespace: Option<&'a str>,
        /// The request's `identity` field, where its message has one.
        pub identity: Option<&'a str>,
        /// Workflow id and run id (empty when not named), where the
        /// request names a workflow.
        pub workflow: Option<(&'a str, &'a str)>,
        pub metadata: &'a tonic::metadata::MetadataMap,
        pub extensions: &'a tonic::Extensions,
        /// The request message, for checks that look inside (commands
        /// naming other namespaces).
        pub message: &'a (dyn std::any::Any + Send + Sync),
    }

    /// A call that came back with an error, and what it was about.
    pub struct Failure<'a> {
        pub service: &'static str,
        pub method: &'static str,
        pub namespace: Option<&'a str>,
        /// Workflow id and run id (empty when not named), where the
        /// request names a workflow.
        pub workflow: Option<(&'a str, &'a str)>,
        pub status: &'a tonic::Status,
    }

    pub trait Admission: Send + Sync + 'static {
        /// Held while the call runs (e.g. a long poll's place).
        type Ticket: Send;
        fn admit(&self, call: &Call<'_>) -> Result<Self::Ticket, tonic::Status>;
        /// Told of every call that fails (its log line).
        fn failed(&self, _failure: &Failure<'_>) {}
        /// The span the call runs in, admission included (a disabled one
        /// unless traces are exported).
        fn span(&self, _call: &Call<'_>) -> tracing::Span {
            tracing::Span::none()
        }
        /// Told how the call ended, in its span: `None` for success.
        fn ended(&self, _span: &tracing::Span, _error: Option<&tonic::Status>) {}
    }

    /// A service whose calls pass `admission` first.
    pub struct Guarded<S, A> {
        pub inner: S,
        pub admission: std::sync::Arc<A>,
    }

    include!(concat!(env!("OUT_DIR"), "/guarded.rs"));
}
