//! Several nodes over one PostgreSQL database (ARCHITECTURE.md,
//! "Cluster"): `assignment` says which live node should own each shard,
//! `membership` keeps this node's heartbeat and shard leases.
//! Routing calls to a shard's owner is not built yet.

pub mod assignment;
pub mod membership;

pub use membership::{Membership, MembershipOptions, Owned};
