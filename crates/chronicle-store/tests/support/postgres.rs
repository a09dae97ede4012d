#![allow(dead_code)] // each test binary uses part of it
//! A PostgreSQL database per test: created on a server (by default
//! `postgres://postgres@127.0.0.1:5432/postgres`, or
//! `CHRONICLE_TEST_POSTGRES_URL`), dropped when the test ends, passed or
//! failed. If the server cannot be reached the test fails, unless
//! `CHRONICLE_SKIP_POSTGRES=1`: then it is skipped with a note.

use std::sync::atomic::{AtomicU32, Ordering};

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn admin_url() -> String {
    std::env::var("CHRONICLE_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_string())
}

/// `admin`'s URL with another database name.
fn with_database(admin: &str, name: &str) -> String {
    let (base, query) = match admin.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (admin, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    format!("{base}/{name}{query}")
}

/// An error with its causes (the driver's Display leaves them out).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

async fn admin() -> Option<tokio_postgres::Client> {
    let url = admin_url();
    match tokio_postgres::connect(&url, tokio_postgres::NoTls).await.map_err(|e| with_causes(&e)) {
        Ok((client, connection)) => {
            tokio::spawn(connection);
            Some(client)
        }
        Err(e) if std::env::var("CHRONICLE_SKIP_POSTGRES").as_deref() == Ok("1") => {
            eprintln!("note: PostgreSQL test skipped (CHRONICLE_SKIP_POSTGRES=1; {url}: {e})");
            None
        }
        Err(e) => panic!(
            "PostgreSQL is not reachable at {url}: {e}. Start it, point CHRONICLE_TEST_POSTGRES_URL at one, \
             or set CHRONICLE_SKIP_POSTGRES=1 to skip the PostgreSQL tests"
        ),
    }
}

/// A database of its own for one test; dropped with this value.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

impl TestDatabase {
    /// None if PostgreSQL tests are skipped.
    pub async fn create() -> Option<TestDatabase> {
        let admin = admin().await?;
        let nanos = std::time::SystemTime::UNIX_EPOCH.elapsed().map(|d| d.subsec_nanos()).unwrap_or_default();
        let name = format!("chronicle_test_{}_{}_{nanos}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        admin.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("create the test database");
        Some(TestDatabase { url: with_database(&admin_url(), &name), name })
    }

    /// A plain connection to the test database.
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) =
            tokio_postgres::connect(&self.url, tokio_postgres::NoTls).await.expect("connect to the test database");
        tokio::spawn(connection);
        client
    }
}

impl Drop for TestDatabase {
    /// Best effort, on a thread of its own (Drop cannot await): connections
    /// still open are ended with the database.
    fn drop(&mut self) {
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async {
                let (client, connection) = tokio_postgres::connect(&admin_url(), tokio_postgres::NoTls).await.ok()?;
                tokio::spawn(connection);
                client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("note: could not drop test database {}", self.name);
        }
    }
}

#[test]
fn urls_name_the_test_database() {
    assert_eq!(with_database("postgres://u@h:5432/postgres", "t1"), "postgres://u@h:5432/t1");
    assert_eq!(with_database("postgres://u@h/postgres?sslmode=disable", "t1"), "postgres://u@h/t1?sslmode=disable");
    assert_eq!(with_database("postgresql://u@h", "t1"), "postgresql://u@h/t1");
}
