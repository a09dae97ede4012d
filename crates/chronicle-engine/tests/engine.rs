#![allow(clippy::unwrap_used)] // in tests, a failed unwrap is a failed test
//! Engine rules, one test per rule, plus a property test over random input
//! sequences. The engine is pure: every test drives it with a fixed clock.

#![allow(deprecated)] // binary_checksum is deprecated but still written.

#[path = "engine/support.rs"]
#[macro_use]
mod support;

#[path = "engine/start.rs"]
mod start;

#[path = "engine/workflow_task.rs"]
mod workflow_task;

#[path = "engine/activity.rs"]
mod activity;

#[path = "engine/close.rs"]
mod close;

#[path = "engine/sticky.rs"]
mod sticky;

#[path = "engine/props.rs"]
mod props;

#[path = "engine/timer.rs"]
mod timer;

#[path = "engine/signal.rs"]
mod signal;

#[path = "engine/cancel.rs"]
mod cancel;

#[path = "engine/update.rs"]
mod update;

#[path = "engine/external.rs"]
mod external;

#[path = "engine/child.rs"]
mod child;

#[path = "engine/continuation.rs"]
mod continuation;

#[path = "engine/standalone.rs"]
mod standalone;

#[path = "engine/versioning.rs"]
mod versioning;
