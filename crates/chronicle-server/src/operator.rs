//! OperatorService: nothing implemented yet; every RPC answers
//! UNIMPLEMENTED naming itself (generated default stubs).

use chronicle_proto::operatorservice::operator_service_server::OperatorService;

pub struct Operator;

#[tonic::async_trait]
impl OperatorService for Operator {}
