//! `TestServer`: runs the real `chronicle` binary as a child process.
//!
//! The server is started with `server start-dev --port 0 --db-filename <tmp>/chronicle.db
//! --log-level warn`; the listening address is taken from the stdout line
//! `Chronicle gRPC listening on 127.0.0.1:PORT`. The child is SIGKILLed on drop, can be
//! SIGKILLed explicitly ([`TestServer::kill`]) and restarted on the same database file
//! ([`TestServer::restart`]); the restarted server normally listens on a different port.
//!
//! With `CHRONICLE_TEST_POSTGRES=postgres://USER@HOST:PORT` set, every server runs
//! `server start --database-url` on a PostgreSQL database of its own instead, created
//! with `psql` before the first start and dropped when the `TestServer` goes.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

/// Prefix of the stdout line announcing the bound address.
const LISTENING_PREFIX: &str = "Chronicle gRPC listening on ";
/// How long to wait for the listening line after spawning the binary.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

pub struct TestServer {
    child: Option<Child>,
    addr: SocketAddr,
    db_path: PathBuf,
    /// The PostgreSQL database this server runs on, if it does.
    postgres: Option<PostgresDatabase>,
    extra_namespaces: Vec<String>,
    /// Further flags for the binary (TLS, keys).
    extra_args: Vec<String>,
    /// How many times the binary has been spawned (1 = initial start).
    generation: u32,
    // Keeps the temp dir (and the db file) alive for the whole test; dropped last.
    _dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts a server on a fresh temp database file with only the `default` namespace.
    pub async fn start() -> Self {
        Self::start_with_namespaces(&[]).await
    }

    /// Starts a server on a fresh temp database file, passing `--namespace NAME` for each entry.
    pub async fn start_with_namespaces(namespaces: &[&str]) -> Self {
        Self::start_with_args(namespaces, &[]).await
    }

    /// `start_with_namespaces`, with further flags for the binary.
    pub async fn start_with_args(namespaces: &[&str], args: &[String]) -> Self {
        let dir = tempfile::Builder::new().prefix("chronicle-e2e-").tempdir().expect("create temp dir");
        let db_path = dir.path().join("chronicle.db");
        let extra_namespaces: Vec<String> = namespaces.iter().map(std::string::ToString::to_string).collect();
        let postgres = PostgresDatabase::create_if_configured();
        let extra_args = args.to_vec();
        let (child, addr) = spawn_server(&db_path, postgres.as_ref(), &extra_namespaces, &extra_args, 1).await;
        Self { child: Some(child), addr, db_path, postgres, extra_namespaces, extra_args, generation: 1, _dir: dir }
    }

    /// Whether the data is in a SQLite file (`db_path`), not PostgreSQL.
    #[allow(dead_code)] // not every test binary asks
    pub fn on_sqlite(&self) -> bool {
        self.postgres.is_none()
    }

    /// Address the current server process listens on. Changes after [`Self::restart`].
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    /// SIGKILLs the server process (no graceful shutdown) and reaps it. No-op if not running.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // `Child::kill` sends SIGKILL on Unix.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERMs the server and waits for it to exit; returns how long that
    /// took, or None if it was still running after `limit` (then SIGKILLs).
    #[allow(dead_code)] // used by the grpc_api test binary
    pub fn terminate(&mut self, limit: Duration) -> Option<Duration> {
        let mut child = self.child.take()?;
        let began = std::time::Instant::now();
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        while began.elapsed() < limit {
            if let Ok(Some(_)) = child.try_wait() {
                return Some(began.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// SIGKILLs the running process (if any) and starts a new one on the same database file.
    pub async fn restart(&mut self) {
        self.kill();
        self.generation += 1;
        let (child, addr) = spawn_server(
            &self.db_path,
            self.postgres.as_ref(),
            &self.extra_namespaces,
            &self.extra_args,
            self.generation,
        )
        .await;
        self.child = Some(child);
        self.addr = addr;
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A database of its own on the PostgreSQL server `CHRONICLE_TEST_POSTGRES` names.
struct PostgresDatabase {
    base: String,
    name: String,
}

impl PostgresDatabase {
    fn create_if_configured() -> Option<Self> {
        let base = std::env::var("CHRONICLE_TEST_POSTGRES").ok().filter(|s| !s.is_empty())?;
        let name = format!("chronicle_e2e_{}", uuid::Uuid::new_v4().simple());
        psql(&base, &format!("CREATE DATABASE {name}"));
        Some(PostgresDatabase { base: base.trim_end_matches('/').to_string(), name })
    }

    fn url(&self) -> String {
        format!("{}/{}", self.base, self.name)
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        // Never panics: a drop may run while a failed test unwinds.
        if let Err(e) = try_psql(&self.base, &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)) {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

/// Runs one statement on the server's `postgres` database; panics if it fails.
fn psql(base: &str, sql: &str) {
    try_psql(base, sql).unwrap_or_else(|e| panic!("{e}"));
}

fn try_psql(base: &str, sql: &str) -> Result<(), String> {
    let url = format!("{}/postgres", base.trim_end_matches('/'));
    let out = Command::new("psql")
        .args([url.as_str(), "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .map_err(|e| format!("psql not runnable ({e}): install the PostgreSQL client"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("psql {sql:?} failed: {}", String::from_utf8_lossy(&out.stderr)))
    }
}

async fn spawn_server(
    db_path: &Path,
    postgres: Option<&PostgresDatabase>,
    namespaces: &[String],
    args: &[String],
    generation: u32,
) -> (Child, SocketAddr) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chronicle"));
    match postgres {
        Some(db) => cmd.args(["server", "start", "--port", "0", "--database-url", &db.url()]),
        None => cmd.args(["server", "start-dev", "--port", "0", "--db-filename"]).arg(db_path),
    };
    for ns in namespaces {
        cmd.arg("--namespace").arg(ns);
    }
    cmd.args(args);
    cmd.args(["--log-level", "warn"]).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("failed to spawn {}: {e}", env!("CARGO_BIN_EXE_chronicle")));
    let pid = child.id();
    let stdout = child.stdout.take().expect("piped stdout");

    // A plain thread reads stdout for the whole life of the process: it reports the listening
    // address once, and keeps draining (and echoing to stderr) afterwards so the child never
    // blocks on a full pipe.
    let (tx, rx) = mpsc::channel::<SocketAddr>();
    std::thread::Builder::new()
        .name(format!("chronicle-stdout-{pid}"))
        .spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                eprintln!("[chronicle pid={pid} gen={generation}] {line}");
                if let Some(rest) = line.trim().strip_prefix(LISTENING_PREFIX)
                    && let Ok(addr) = rest.trim().parse::<SocketAddr>()
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(addr);
                }
            }
            // EOF: dropping `tx` (if still present) tells the waiter the process went away.
        })
        .expect("spawn stdout reader thread");

    let waited =
        tokio::task::spawn_blocking(move || rx.recv_timeout(STARTUP_TIMEOUT)).await.expect("join stdout waiter");
    match waited {
        Ok(addr) => (child, addr),
        Err(err) => {
            let status = child.try_wait().ok().flatten();
            let _ = child.kill();
            let _ = child.wait();
            let why = match err {
                mpsc::RecvTimeoutError::Timeout => {
                    format!("no `{LISTENING_PREFIX}ADDR` line on stdout within {STARTUP_TIMEOUT:?}")
                }
                mpsc::RecvTimeoutError::Disconnected => {
                    format!("stdout closed before the listening line (exit status: {status:?})")
                }
            };
            panic!("chronicle server (db {}) failed to start: {why}", db_path.display());
        }
    }
}
