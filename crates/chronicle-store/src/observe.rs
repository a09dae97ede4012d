//! What a backend tells whoever measures it, without depending on a
//! metrics library: the server registers one observer per process.

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

pub(crate) fn group_committed(requests: usize, took: Duration) {
    if let Some(observe) = GROUP_COMMIT.get() {
        observe(requests, took);
    }
}
