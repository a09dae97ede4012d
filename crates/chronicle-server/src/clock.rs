//! The one wall clock: what events, schedules and queries read as "now".
//! History, the scheduler and the frontend take it from here, so a test
//! (or a later time-skipping test server) can drive it. Waiting is done on
//! tokio's monotonic clock, which tests pause and advance.

use chronicle_engine::time;
use std::time::SystemTime;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> SystemTime;

    /// `now` as a protobuf timestamp.
    fn timestamp(&self) -> prost_types::Timestamp {
        time::from_system(self.now())
    }

    /// `now` in nanoseconds since the epoch.
    fn nanos(&self) -> i128 {
        time::ts_nanos(&self.timestamp())
    }
}

/// The machine's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}
