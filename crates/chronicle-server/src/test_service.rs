//! Temporal's TestService (`temporal.api.testservice.v1`), served only by a
//! test server (`chronicle-test-server`): the SDKs' time-skipping test
//! environments lock and unlock time skipping, sleep on the server's clock
//! and read it. A normal server does not register it, so these calls get
//! UNIMPLEMENTED there, as from Temporal's own server.

use crate::clock::Clock;
use crate::errors;
use crate::time_skipping::{SkipError, TimeSkipping};
use chronicle_engine::api::testservice::v1::*;
use chronicle_engine::time;
use chronicle_proto::testservice::test_service_server::TestService;
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub struct TestServiceImpl {
    skipping: Arc<TimeSkipping>,
}

impl TestServiceImpl {
    pub fn new(skipping: Arc<TimeSkipping>) -> Self {
        TestServiceImpl { skipping }
    }

    pub fn skipping(&self) -> &Arc<TimeSkipping> {
        &self.skipping
    }
}

type Rpc<T> = Result<Response<T>, Status>;

fn status(e: SkipError) -> Status {
    match e {
        SkipError::NotLocked => Status::failed_precondition(e.to_string()),
        SkipError::InvalidArgument(m) => errors::invalid(&m),
    }
}

/// A request's duration as a std one; negative ones are refused.
fn duration(d: Option<&prost_types::Duration>) -> Result<std::time::Duration, Status> {
    let Some(d) = d else { return Ok(std::time::Duration::ZERO) };
    if d.seconds < 0 || d.nanos < 0 {
        return Err(status(SkipError::InvalidArgument(format!(
            "Sleep duration must not be negative, got {}s {}ns.",
            d.seconds, d.nanos
        ))));
    }
    Ok(time::to_std(d))
}

#[tonic::async_trait]
impl TestService for TestServiceImpl {
    async fn lock_time_skipping(&self, _: Request<LockTimeSkippingRequest>) -> Rpc<LockTimeSkippingResponse> {
        self.skipping.lock();
        Ok(Response::new(LockTimeSkippingResponse {}))
    }

    async fn unlock_time_skipping(&self, _: Request<UnlockTimeSkippingRequest>) -> Rpc<UnlockTimeSkippingResponse> {
        self.skipping.unlock().map_err(status)?;
        Ok(Response::new(UnlockTimeSkippingResponse {}))
    }

    async fn sleep(&self, request: Request<SleepRequest>) -> Rpc<SleepResponse> {
        let d = duration(request.get_ref().duration.as_ref())?;
        let until = self.skipping.nanos().saturating_add(i128::try_from(d.as_nanos()).unwrap_or(i128::MAX));
        self.skipping.sleep_until(i64::try_from(until).unwrap_or(i64::MAX)).await;
        Ok(Response::new(SleepResponse {}))
    }

    async fn sleep_until(&self, request: Request<SleepUntilRequest>) -> Rpc<SleepResponse> {
        let until =
            request.get_ref().timestamp.as_ref().ok_or_else(|| errors::invalid("Timestamp is not set on request."))?;
        self.skipping.sleep_until(i64::try_from(time::ts_nanos(until)).unwrap_or(i64::MAX)).await;
        Ok(Response::new(SleepResponse {}))
    }

    async fn unlock_time_skipping_with_sleep(&self, request: Request<SleepRequest>) -> Rpc<SleepResponse> {
        let d = duration(request.get_ref().duration.as_ref())?;
        self.skipping.unlock_while_sleeping(d).await.map_err(status)?;
        Ok(Response::new(SleepResponse {}))
    }

    async fn get_current_time(&self, _: Request<()>) -> Rpc<GetCurrentTimeResponse> {
        Ok(Response::new(GetCurrentTimeResponse { time: Some(self.skipping.timestamp()) }))
    }
}

/// TestService on a server that is not a test server: every call answers
/// UNIMPLEMENTED saying where time skipping is served.
pub struct RealTime;

fn real_time<T>(method: &str) -> Rpc<T> {
    Err(Status::unimplemented(format!(
        "TestService/{method}: this server keeps real time; time skipping is served by chronicle-test-server"
    )))
}

#[tonic::async_trait]
impl TestService for RealTime {
    async fn lock_time_skipping(&self, _: Request<LockTimeSkippingRequest>) -> Rpc<LockTimeSkippingResponse> {
        real_time("LockTimeSkipping")
    }

    async fn unlock_time_skipping(&self, _: Request<UnlockTimeSkippingRequest>) -> Rpc<UnlockTimeSkippingResponse> {
        real_time("UnlockTimeSkipping")
    }

    async fn sleep(&self, _: Request<SleepRequest>) -> Rpc<SleepResponse> {
        real_time("Sleep")
    }

    async fn sleep_until(&self, _: Request<SleepUntilRequest>) -> Rpc<SleepResponse> {
        real_time("SleepUntil")
    }

    async fn unlock_time_skipping_with_sleep(&self, _: Request<SleepRequest>) -> Rpc<SleepResponse> {
        real_time("UnlockTimeSkippingWithSleep")
    }

    async fn get_current_time(&self, _: Request<()>) -> Rpc<GetCurrentTimeResponse> {
        real_time("GetCurrentTime")
    }
}
