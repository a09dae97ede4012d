//! Visibility: Temporal's list filter language (`query`), evaluated in
//! memory (`eval`) over the runs the store lists newest first.

mod eval;
pub mod fields;
mod lexer;
pub mod query;

pub use fields::{Field, System, Value, status_name};
pub use query::{Expr, Op, Query};

/// A query Temporal would reject; shown to clients as InvalidArgument
/// `invalid query: ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError(pub String);

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid query: {}", self.0)
    }
}
