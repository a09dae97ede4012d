//! PostgreSQL (stub while the SQLite side is reorganised).

use crate::schema::{MigrationReport, SchemaStatus};
use crate::{Result, StoreError};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct PostgresOptions {
    pub url: String,
    pub pool_size: usize,
}

pub struct PostgresStore;

impl PostgresStore {
    pub async fn connect(_options: PostgresOptions) -> Result<Arc<crate::sqlite::SqliteStore>> {
        Err(StoreError::Internal("todo".into()))
    }
}

pub async fn migrate(_url: &str) -> Result<MigrationReport> {
    Err(StoreError::Internal("todo".into()))
}

pub async fn schema_status(_url: &str) -> Result<SchemaStatus> {
    Err(StoreError::Internal("todo".into()))
}
