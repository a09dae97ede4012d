//! Client commands (the `temporal` CLI's habits).

mod payloads;
pub mod workflow;
