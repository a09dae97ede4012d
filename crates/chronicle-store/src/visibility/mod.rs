//! Visibility: what list and count APIs read. `query` describes a query
//! (backend-neutral), `values` reads a run's attributes, `eval` is the
//! reference meaning of a query; `columns` are the rows SQL backends keep
//! and `compile` turns a query into SQL for them (each backend gives its
//! dialect and runs the statements).

pub(crate) mod columns;
pub(crate) mod compile;
pub mod eval;
pub mod query;
pub mod values;

pub use query::{Expr, Field, Kind, Op, OrderBy, Query, System, Value};
pub use values::{parse_datetime, words};
