//! Per-namespace request limits, as Temporal's frontend keeps them: a
//! token bucket of `frontend.namespaceRPS` requests a second (bursts of
//! twice that; off unless set), and at most `frontend.namespaceCount` long
//! polls in flight.
//! Past either, a call answers ResourceExhausted with Temporal's message
//! and cause; the SDKs back off and retry.

use chronicle_engine::api::enums::v1::{ResourceExhaustedCause, ResourceExhaustedScope};
use chronicle_engine::api::errordetails::v1::ResourceExhaustedFailure;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tonic::Status;

/// Temporal's burst ratio: a bucket holds two seconds' worth.
const BURST_SECONDS: f64 = 2.0;

struct Bucket {
    tokens: f64,
    refilled: Instant,
}

pub struct Throttle {
    per_second: usize,
    polls_max: usize,
    buckets: Mutex<HashMap<String, Bucket>>,
    polls: Arc<Mutex<HashMap<String, usize>>>,
}

/// A long poll's place; given back when dropped (the call ended).
pub struct PollPlace {
    namespace: String,
    polls: Arc<Mutex<HashMap<String, usize>>>,
}

impl Drop for PollPlace {
    fn drop(&mut self) {
        let mut polls = crate::sync::lock(&self.polls);
        if let Some(n) = polls.get_mut(&self.namespace) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                polls.remove(&self.namespace);
            }
        }
    }
}

fn exhausted(message: &str, cause: ResourceExhaustedCause) -> Status {
    crate::errors::resource_exhausted(
        message,
        ResourceExhaustedFailure { cause: cause as i32, scope: ResourceExhaustedScope::Namespace as i32 },
    )
}

pub fn is_long_poll(method: &str) -> bool {
    matches!(method, "PollWorkflowTaskQueue" | "PollActivityTaskQueue" | "PollNexusTaskQueue")
}

impl Throttle {
    pub fn new(limits: &chronicle_engine::Limits) -> Self {
        Throttle {
            per_second: limits.namespace_requests_per_second,
            polls_max: limits.namespace_polls_max,
            buckets: Mutex::default(),
            polls: Arc::default(),
        }
    }

    /// Takes one request's token from `namespace`'s bucket.
    pub fn take(&self, namespace: &str, now: Instant) -> Result<(), Status> {
        if self.per_second == 0 {
            return Ok(());
        }
        let rate = self.per_second as f64;
        let capacity = rate * BURST_SECONDS;
        let mut buckets = crate::sync::lock(&self.buckets);
        let bucket = match buckets.get_mut(namespace) {
            Some(bucket) => bucket,
            None => buckets.entry(namespace.to_string()).or_insert(Bucket { tokens: capacity, refilled: now }),
        };
        let elapsed = now.saturating_duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(capacity);
        bucket.refilled = now;
        if bucket.tokens < 1.0 {
            return Err(exhausted("namespace rate limit exceeded", ResourceExhaustedCause::RpsLimit));
        }
        bucket.tokens -= 1.0;
        Ok(())
    }

    /// A place for a long poll in `namespace`, while there is one.
    pub fn poll_place(&self, namespace: &str) -> Result<Option<PollPlace>, Status> {
        if self.polls_max == 0 {
            return Ok(None);
        }
        let mut polls = crate::sync::lock(&self.polls);
        let n = polls.entry(namespace.to_string()).or_default();
        if *n >= self.polls_max {
            return Err(exhausted(
                "namespace concurrent poller limit exceeded",
                ResourceExhaustedCause::ConcurrentLimit,
            ));
        }
        *n += 1;
        Ok(Some(PollPlace { namespace: namespace.to_string(), polls: self.polls.clone() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limits(per_second: usize, polls: usize) -> chronicle_engine::Limits {
        chronicle_engine::Limits {
            namespace_requests_per_second: per_second,
            namespace_polls_max: polls,
            ..Default::default()
        }
    }

    #[test]
    fn a_bucket_allows_a_burst_then_the_rate_per_namespace() {
        let throttle = Throttle::new(&limits(10, 0));
        let t0 = Instant::now();
        for _ in 0..20 {
            throttle.take("a", t0).unwrap();
        }
        let refused = throttle.take("a", t0).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
        assert_eq!(refused.message(), "namespace rate limit exceeded");
        throttle.take("b", t0).expect("namespaces have buckets of their own");
        // A tenth of a second later, one more.
        throttle.take("a", t0 + Duration::from_millis(100)).unwrap();
        assert!(throttle.take("a", t0 + Duration::from_millis(100)).is_err());
    }

    #[test]
    fn polls_hold_places_until_they_end() {
        let throttle = Throttle::new(&limits(0, 2));
        let first = throttle.poll_place("a").unwrap();
        let _second = throttle.poll_place("a").unwrap();
        let refused = throttle.poll_place("a").err().unwrap();
        assert_eq!(refused.message(), "namespace concurrent poller limit exceeded");
        drop(first);
        assert!(throttle.poll_place("a").is_ok());
        assert!(Throttle::new(&limits(0, 0)).poll_place("a").unwrap().is_none(), "0: no limit");
    }
}
