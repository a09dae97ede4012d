//! What a backend tells whoever measures it, without depending on a
//! metrics library: the server registers one observer per process; and
//! the target of the spans it makes for traces.

use std::sync::OnceLock;
use std::time::Duration;

/// Told of each SQLite group commit: how many requests shared the
/// transaction, and how long it took from BEGIN to a durable COMMIT.
pub type GroupCommitObserver = Box<dyn Fn(usize, Duration) + Send + Sync>;

static GROUP_COMMIT: OnceLock<GroupCommitObserver> = OnceLock::new();

/// Registers the process's group-commit observer (the first one stays).
pub fn on_group_commit(observer: GroupCommitObserver) {
    let _ = GROUP_COMMIT.set(observer);
}

/// The `tracing` target of spans meant for the trace exporter (the server
/// installs it; without it these spans are disabled where they are made).
pub const TRACES_TARGET: &str = "chronicle::otel";

/// The caller's current span while traces are exported, to link the work
/// a background thread does for it; none otherwise (and then cheaply).
pub(crate) fn caller_span() -> tracing::Span {
    if tracing::enabled!(target: TRACES_TARGET, tracing::Level::INFO) {
        tracing::Span::current()
    } else {
        tracing::Span::none()
    }
}

pub(crate) fn group_committed(requests: usize, took: Duration) {
    if let Some(observe) = GROUP_COMMIT.get() {
        observe(requests, took);
    }
}
