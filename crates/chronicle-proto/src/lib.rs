//! Temporal's gRPC service traits, generated at build time over the
//! `temporalio-protos` message types (see `build.rs`).

pub use temporalio_protos as protos;

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
