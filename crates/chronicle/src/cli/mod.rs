//! Client commands (the `temporal` CLI's habits).

pub mod activity;
pub mod auth;
pub mod batch;
pub mod cluster;
pub mod connect;
pub mod deployment;
pub mod list;
mod payloads;
mod reset;
pub mod workflow;
