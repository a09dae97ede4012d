//! Connections: the pool, what a database error means for the caller, and
//! running a transaction again when the database asks for it.
//!
//! A transaction is retried whole (on a fresh connection if need be) when
//! it failed in a way that leaves nothing behind: a serialization failure
//! (40001) or deadlock (40P01), a few times with jittered backoff; or a
//! connection lost before COMMIT was sent (a pooled connection the server
//! ended or dropped). A connection lost during COMMIT is ambiguous (the
//! transaction may have landed) and is reported as Unavailable: the server
//! then reads the store to find out.

use crate::url::redact;
use crate::{BoxFuture, Result, StoreError};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime, Transaction};
use std::hash::{BuildHasher, RandomState};
use std::str::FromStr;
use std::time::Duration;
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Config, IsolationLevel, NoTls};

/// How long a new connection may take when the URL does not say
/// (`connect_timeout=`): an unreachable host fails instead of hanging.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection whose peer vanished (a partition, a host gone without
/// closing it) is found within about a minute, not after TCP's two hours:
/// commits hold their run's lock while they wait. Used when the URL says
/// nothing (`keepalives_idle=`, `tcp_user_timeout=`).
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(60);
/// The driver's (and libpq's) default idle time before keepalives.
const DRIVER_KEEPALIVE_IDLE: Duration = Duration::from_secs(2 * 60 * 60);

/// Tries of one transaction, the first included.
pub(crate) const ATTEMPTS: u32 = 6;

/// A failure inside a transaction or read: the database's, classified by
/// the caller (`transaction`, `read`), or the store's own verdict (a lost
/// condition, a name taken).
#[derive(Debug)]
pub(crate) enum Failure {
    Db(tokio_postgres::Error),
    Store(StoreError),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Self {
        Failure::Db(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

impl Failure {
    pub(crate) fn into_store(self) -> StoreError {
        match self {
            Failure::Db(e) => error(e),
            Failure::Store(e) => e,
        }
    }
}

pub(crate) type Attempt<T> = std::result::Result<T, Failure>;

/// The driver's configuration from a URL, with Chronicle's defaults for
/// what the URL leaves out.
pub(crate) fn config(url: &str) -> Result<Config> {
    let mut config = Config::from_str(url)
        .map_err(|e| StoreError::InvalidUrl(format!("invalid PostgreSQL URL '{}': {e}", redact(url))))?;
    if config.get_ssl_mode() == SslMode::Require {
        return Err(StoreError::InvalidUrl(format!(
            "'{}' asks for TLS (sslmode=require), which Chronicle does not support yet: connect without it \
             (sslmode=disable or prefer) or through a TLS-terminating proxy",
            redact(url)
        )));
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("chronicle");
    }
    if config.get_keepalives_idle() == DRIVER_KEEPALIVE_IDLE {
        config.keepalives_idle(KEEPALIVE_IDLE);
    }
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(TCP_USER_TIMEOUT);
    }
    Ok(config)
}

/// The pool, and where it connects (for messages: no password).
pub(crate) struct Db {
    pool: Pool,
    /// The URL, password hidden.
    shown: String,
    database: String,
}

impl Db {
    /// A pool of up to `size` connections, opened as needed. Callers beyond
    /// that wait for a connection (backpressure, as SQLite's bounded queue).
    pub(crate) fn new(url: &str, size: usize) -> Result<Db> {
        let config = config(url)?;
        let database = database(&config);
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(size.max(1))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Internal(format!("cannot build the PostgreSQL pool: {e}")))?;
        Ok(Db { pool, shown: redact(url), database })
    }

    /// A connection from the pool.
    pub(crate) async fn get(&self) -> Result<Object> {
        self.pool.get().await.map_err(|e| match e {
            PoolError::Backend(e) => cannot_connect(&self.shown, &self.database, &e),
            PoolError::Closed => StoreError::Unavailable("the PostgreSQL pool is closed".into()),
            other => StoreError::Unavailable(format!("no PostgreSQL connection: {other}")),
        })
    }

    /// Runs `work` in a transaction and commits it, retrying as the module
    /// comment says. A `Failure::Store` from `work` rolls back and is
    /// returned.
    pub(crate) async fn transaction<D: Sync + ?Sized, T>(&self, data: &D, work: Work<D, T>) -> Result<T> {
        let mut attempt = 1;
        loop {
            let mut client = self.get().await?;
            let (failure, at_commit) = match once(&mut client, data, work).await {
                Ok(value) => return Ok(value),
                Err(failed) => failed,
            };
            match failure {
                Failure::Db(e) if attempt < ATTEMPTS && (contention(&e) || (connection_lost(&e) && !at_commit)) => {
                    tracing::debug!(attempt, error = %e, "retrying a PostgreSQL transaction");
                    drop(client);
                    backoff(attempt).await;
                    attempt += 1;
                }
                failure => return Err(failure.into_store()),
            }
        }
    }

    /// Runs a read, once more on a fresh connection if the pooled one
    /// turned out to be closed (the server restarted, a proxy dropped it).
    pub(crate) async fn read<D: Sync + ?Sized, T>(&self, data: &D, work: Read<D, T>) -> Result<T> {
        let client = self.get().await?;
        match work(&client, data).await {
            Ok(value) => Ok(value),
            Err(Failure::Db(e)) if connection_lost(&e) => {
                drop(client);
                let client = self.get().await?;
                work(&client, data).await.map_err(Failure::into_store)
            }
            Err(failure) => Err(failure.into_store()),
        }
    }
}

fn database(config: &Config) -> String {
    config.get_dbname().or(config.get_user()).unwrap_or("postgres").to_string()
}

/// One connection outside any pool (migrations, status), its driver task
/// spawned.
pub(crate) async fn connect(url: &str) -> Result<tokio_postgres::Client> {
    let config = config(url)?;
    let (client, connection) =
        config.connect(NoTls).await.map_err(|e| cannot_connect(&redact(url), &database(&config), &e))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "PostgreSQL connection closed");
        }
    });
    Ok(client)
}

/// Why a connection could not be opened, naming the server and database
/// (never the password).
fn cannot_connect(shown: &str, database: &str, e: &tokio_postgres::Error) -> StoreError {
    StoreError::Unavailable(format!("cannot connect to PostgreSQL at {shown} (database {database}): {}", describe(e)))
}

/// A database error's message without the driver's framing ("db error:").
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.hint() {
            Some(hint) => format!("{} (SQLSTATE {}; {hint})", db.message(), db.code().code()),
            None => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        },
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                let said = cause.to_string();
                if !text.contains(&said) {
                    text = format!("{text}: {said}");
                }
                source = cause.source();
            }
            text
        }
    }
}

/// Serialization failure or deadlock: nothing was written, try again.
fn contention(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|c| *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED)
}

/// The connection is gone: closed, or ended by the server (57P01 admin
/// shutdown, 57P02 crash shutdown, 08xxx connection exception). What was
/// not committed on it was rolled back.
fn connection_lost(e: &tokio_postgres::Error) -> bool {
    e.is_closed()
        || e.code().is_some_and(|c| {
            c.code().starts_with("08") || *c == SqlState::ADMIN_SHUTDOWN || *c == SqlState::CRASH_SHUTDOWN
        })
}

/// A database error as a store error: connection trouble and contention
/// that outlived the retries are Unavailable (worth retrying later); a
/// unique row someone else wrote first is a Conflict; the rest, Internal.
pub(crate) fn error(e: tokio_postgres::Error) -> StoreError {
    let unavailable = connection_lost(&e)
        || contention(&e)
        // 53xxx: insufficient resources (too many connections, disk full);
        // 57P03: the server is starting.
        || e.code().is_some_and(|c| c.code().starts_with("53") || *c == SqlState::CANNOT_CONNECT_NOW)
        || (e.as_db_error().is_none() && io_error(&e));
    let message = describe(&e);
    if unavailable {
        StoreError::Unavailable(format!("PostgreSQL: {message}"))
    } else if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        StoreError::Conflict(message)
    } else {
        StoreError::Internal(format!("PostgreSQL: {message}"))
    }
}

fn io_error(e: &tokio_postgres::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        if cause.is::<std::io::Error>() {
            return true;
        }
        source = cause.source();
    }
    false
}

/// A short pause before try `attempt` + 1: 2, 4, 8, ... ms, plus up to as
/// much again at random so colliding writers drift apart.
async fn backoff(attempt: u32) {
    let base = 1u64 << attempt.min(8);
    let jitter = RandomState::new().hash_one(attempt) % base.max(1);
    tokio::time::sleep(Duration::from_millis(base + jitter)).await;
}

/// A transaction's work: statements on `tx` for the data it is given.
pub(crate) type Work<D, T> = for<'a> fn(&'a Transaction<'a>, &'a D) -> BoxFuture<'a, Attempt<T>>;

/// One try: the failure, and whether it came from COMMIT itself.
async fn once<D: Sync + ?Sized, T>(
    client: &mut Object,
    data: &D,
    work: Work<D, T>,
) -> std::result::Result<T, (Failure, bool)> {
    // READ COMMITTED whatever the database's default: every condition is
    // in the statement that writes, which is all it needs, and a stricter
    // level would only add conflicts between unrelated runs (PostgreSQL's
    // serializable mode locks whole index pages).
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::ReadCommitted)
        .start()
        .await
        .map_err(|e| (Failure::Db(e), false))?;
    match work(&tx, data).await {
        Ok(value) => match tx.commit().await {
            Ok(()) => Ok(value),
            Err(e) => Err((Failure::Db(e), true)),
        },
        Err(failure) => {
            // Best effort: a broken connection rolls back by itself.
            let _ = tx.rollback().await;
            Err((failure, false))
        }
    }
}

/// A read's work: statements on `client` for the data it is given.
pub(crate) type Read<D, T> = for<'a> fn(&'a Object, &'a D) -> BoxFuture<'a, Attempt<T>>;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn defaults_fill_only_what_the_url_leaves_out() {
        let c = config("postgres://u@h/db").unwrap();
        assert_eq!(c.get_connect_timeout(), Some(&CONNECT_TIMEOUT));
        assert_eq!(c.get_application_name(), Some("chronicle"));
        assert_eq!(c.get_keepalives_idle(), KEEPALIVE_IDLE);
        assert_eq!(c.get_tcp_user_timeout(), Some(&TCP_USER_TIMEOUT));
        let url = "postgres://u@h/db?connect_timeout=3&application_name=ops&keepalives_idle=5&tcp_user_timeout=7";
        let c = config(url).unwrap();
        assert_eq!(c.get_connect_timeout(), Some(&Duration::from_secs(3)));
        assert_eq!(c.get_application_name(), Some("ops"));
        assert_eq!(c.get_keepalives_idle(), Duration::from_secs(5));
        // Seconds for this driver (libpq reads milliseconds).
        assert_eq!(c.get_tcp_user_timeout(), Some(&Duration::from_secs(7)));
    }
}
