//! Visibility: Temporal's list filter language, parsed (`query`) into the
//! store's backend-neutral description of a query, which the store
//! evaluates in its database.

pub mod fields;
mod lexer;
pub mod query;
#[cfg(test)]
mod tests;

pub use fields::{Field, System, Value, status_name};
pub use query::{Expr, Op, Query, parse, parse_activities};

/// A query Temporal would reject; shown to clients as InvalidArgument
/// `invalid query: ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError(pub String);

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid query: {}", self.0)
    }
}
