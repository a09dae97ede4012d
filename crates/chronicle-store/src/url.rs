//! Database URLs, as the command line takes them: which backend, and
//! where. PostgreSQL URLs are kept as given (the driver reads them);
//! passwords never appear in messages.

use crate::{Result, StoreError};
use std::path::PathBuf;

/// Where a store lives.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// `postgres://` or `postgresql://` URL, as given (libpq's syntax:
    /// `postgres://user:password@host:5432/database?connect_timeout=5`).
    Postgres(String),
    /// `sqlite:///absolute/path.db` or `sqlite://relative/path.db`.
    Sqlite(PathBuf),
    /// `sqlite::memory:`: nothing survives the process.
    SqliteMemory,
}

const EXPECTED: &str = "use postgres://user@host:5432/database, sqlite:///path/to/file.db or sqlite::memory:";

/// Reads a database URL; the error says what is wrong and what would do.
pub fn parse_url(url: &str) -> Result<StoreUrl> {
    let invalid = |why: String| StoreError::InvalidUrl(format!("invalid database URL '{}': {why}", redact(url)));
    let Some((scheme, rest)) = url.split_once(':') else {
        return Err(invalid(format!("no scheme; {EXPECTED}")));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "postgres" | "postgresql" => {
            if !rest.starts_with("//") {
                return Err(invalid(format!("expected {scheme}://...; {EXPECTED}")));
            }
            // The driver's reading, with what the store refuses (TLS).
            let config = crate::postgres::config(url)?;
            if config.get_hosts().is_empty() {
                return Err(invalid("no host; e.g. postgres://postgres@127.0.0.1:5432/chronicle".into()));
            }
            Ok(StoreUrl::Postgres(url.to_string()))
        }
        "sqlite" => {
            if rest == ":memory:" || rest == "//:memory:" {
                return Ok(StoreUrl::SqliteMemory);
            }
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.contains('?') {
                return Err(invalid("options after '?' are not supported for SQLite".into()));
            }
            if path.is_empty() {
                return Err(invalid(format!("no file; {EXPECTED}")));
            }
            Ok(StoreUrl::Sqlite(PathBuf::from(path)))
        }
        other => Err(invalid(format!("unsupported scheme '{other}'; {EXPECTED}"))),
    }
}

/// The URL with any password replaced by `***`, for messages and logs.
pub fn redact(url: &str) -> String {
    let mut out = url.to_string();
    // postgres://user:password@host
    if let Some(start) = out.find("://").map(|i| i + 3) {
        let authority_end = out[start..].find(['/', '?']).map_or(out.len(), |i| start + i);
        if let Some(at) = out[start..authority_end].rfind('@').map(|i| start + i)
            && let Some(colon) = out[start..at].find(':').map(|i| start + i)
        {
            out.replace_range(colon + 1..at, "***");
        }
    }
    // ...?password=secret&...
    let mut from = 0;
    while let Some(i) = out[from..].find("password=").map(|i| from + i) {
        let value = i + "password=".len();
        let end = out[value..].find('&').map_or(out.len(), |j| value + j);
        out.replace_range(value..end, "***");
        from = value + 3;
    }
    out
}

impl std::fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreUrl::Postgres(url) => f.write_str(&redact(url)),
            StoreUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            StoreUrl::SqliteMemory => f.write_str("sqlite::memory:"),
        }
    }
}

/// As `Display`: never shows a password.
impl std::fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StoreUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn error(url: &str) -> String {
        match parse_url(url) {
            Err(StoreError::InvalidUrl(m)) => m,
            other => panic!("{url}: {other:?}"),
        }
    }

    #[test]
    fn urls_of_each_backend() {
        let pg = "postgres://chronicle:s3cret@db.example:5432/chronicle?connect_timeout=5";
        assert_eq!(parse_url(pg).unwrap(), StoreUrl::Postgres(pg.into()));
        let pg = "postgresql://postgres@127.0.0.1/test";
        assert_eq!(parse_url(pg).unwrap(), StoreUrl::Postgres(pg.into()));
        assert_eq!(
            parse_url("sqlite:///var/lib/chronicle.db").unwrap(),
            StoreUrl::Sqlite("/var/lib/chronicle.db".into())
        );
        assert_eq!(parse_url("sqlite://data/chronicle.db").unwrap(), StoreUrl::Sqlite("data/chronicle.db".into()));
        assert_eq!(parse_url("sqlite:chronicle.db").unwrap(), StoreUrl::Sqlite("chronicle.db".into()));
        assert_eq!(parse_url("sqlite::memory:").unwrap(), StoreUrl::SqliteMemory);
        assert_eq!(parse_url("SQLITE://:memory:").unwrap(), StoreUrl::SqliteMemory);
    }

    #[test]
    fn bad_urls_say_what_would_do() {
        assert!(error("chronicle.db").contains("no scheme; use postgres://"), "{}", error("chronicle.db"));
        assert!(error("mysql://root@localhost/db").contains("unsupported scheme 'mysql'"));
        assert!(error("sqlite://").contains("no file"));
        assert!(error("sqlite:///x.db?mode=ro").contains("not supported for SQLite"));
        assert!(error("postgres:localhost").contains("expected postgres://"));
        let bad_port = error("postgres://u:hunter2@localhost:notaport/db");
        assert!(bad_port.contains("invalid PostgreSQL URL 'postgres://u:***@localhost:notaport/db'"), "{bad_port}");
        assert!(!bad_port.contains("hunter2"), "{bad_port}");
        assert!(error("postgres://u@localhost/db?sslmode=require").contains("does not support yet"));
    }

    #[test]
    fn passwords_are_never_shown() {
        let url = "postgres://chronicle:s3cret@db:5432/chronicle?sslmode=disable&password=other";
        let shown = parse_url(url).unwrap().to_string();
        assert_eq!(shown, "postgres://chronicle:***@db:5432/chronicle?sslmode=disable&password=***");
        assert_eq!(format!("{:?}", parse_url(url).unwrap()), format!("StoreUrl({shown})"));
        assert_eq!(redact("postgres://postgres@127.0.0.1/test"), "postgres://postgres@127.0.0.1/test");
    }
}
