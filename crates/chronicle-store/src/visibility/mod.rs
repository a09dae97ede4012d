//! Visibility: what list and count APIs read. `query` describes a query
//! (backend-neutral), `values` reads a run's attributes, `eval` is the
//! reference meaning of a query; SQLite keeps the rows in `table` and
//! compiles queries in `sql`.

pub mod eval;
pub mod query;
#[cfg(test)]
mod scale_tests;
pub(crate) mod sql;
pub(crate) mod table;
pub mod values;

pub use query::{Expr, Field, Kind, Op, OrderBy, Query, System, Value};
pub use values::{parse_datetime, words};
