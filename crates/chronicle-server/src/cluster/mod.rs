//! Several nodes over one PostgreSQL database (ARCHITECTURE.md,
//! "Cluster"): `assignment` says which live node should own each shard,
//! `membership` keeps this node's heartbeat and shard leases, `node` says
//! where a shard is served and reaches other nodes, `service` serves what
//! other nodes ask of this one, `wire` is what they say to each other.

pub mod assignment;
pub mod membership;
pub mod node;
pub(crate) mod service;
pub mod wire;

pub use membership::{Membership, MembershipOptions, Owned};
pub use node::{Holder, Node, queue_shard};
