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
//! With `CHRONICLE_TEST_CLUSTER_NODES=N` (N >= 2) as well, every server is a cluster of N
//! nodes on that database (`--cluster-port 0` each), started together and waited for until
//! every shard is held by one of them; `addr` names the nodes in turn, so a test's clients
//! and workers are spread over them and most calls are forwarded to another node. `kill`
//! and `restart` act on every node.

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
/// The line a cluster node prints first: `... listening on ADDR as node ID`.
const CLUSTER_PREFIX: &str = "Chronicle cluster listening on ";
/// How long to wait for the listening line after spawning the binary.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

pub struct TestServer {
    child: Option<Child>,
    /// The cluster's other nodes, when the server is a cluster.
    peers: Vec<Child>,
    /// Every node's client address (one for a server alone).
    addrs: Vec<SocketAddr>,
    /// Which of `addrs` the next `addr()` answers.
    turn: std::sync::atomic::AtomicUsize,
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
        let mut server = Self {
            child: None,
            peers: Vec::new(),
            addrs: Vec::new(),
            turn: std::sync::atomic::AtomicUsize::new(0),
            db_path,
            postgres,
            extra_namespaces,
            extra_args,
            generation: 0,
            _dir: dir,
        };
        server.spawn().await;
        server
    }

    /// Starts the server's process, or each node of its cluster and waits for
    /// them to share the shards.
    async fn spawn(&mut self) {
        self.generation += 1;
        let nodes = self.postgres.as_ref().map_or(1, |_| cluster_nodes());
        let mut started = Vec::new();
        for _ in 0..nodes {
            let mut args = self.extra_args.clone();
            if nodes > 1 {
                args.extend(["--cluster-port".to_string(), "0".to_string()]);
            }
            let spawned =
                spawn_server(&self.db_path, self.postgres.as_ref(), &self.extra_namespaces, &args, self.generation);
            started.push(spawned.await);
        }
        let ids: Vec<String> = started.iter().filter_map(|s| s.cluster.as_ref().map(|c| c.id.clone())).collect();
        // Described through the cluster port: the client port may want TLS
        // or a key.
        let describe_at = started[0].cluster.as_ref().map(|c| c.address.clone());
        self.addrs = started.iter().map(|s| s.addr).collect();
        let mut children = started.into_iter().map(|s| s.child);
        self.child = children.next();
        self.peers = children.collect();
        if let Some(address) = describe_at {
            wait_until_shared(address, &ids).await;
        }
    }

    /// Whether the data is in a SQLite file (`db_path`), not PostgreSQL.
    #[allow(dead_code)] // not every test binary asks
    pub fn on_sqlite(&self) -> bool {
        self.postgres.is_none()
    }

    /// Address the current server process listens on. Changes after [`Self::restart`].
    /// A cluster's nodes in turn, call by call.
    pub fn addr(&self) -> SocketAddr {
        let turn = self.turn.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.addrs[turn % self.addrs.len()]
    }

    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    /// SIGKILLs the server process (every node of a cluster; no graceful
    /// shutdown) and reaps it. No-op if not running.
    pub fn kill(&mut self) {
        for mut child in self.child.take().into_iter().chain(self.peers.drain(..)) {
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
        for mut peer in self.peers.drain(..) {
            let _ = peer.kill();
            let _ = peer.wait();
        }
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
        self.spawn().await;
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// How many nodes each server is: `CHRONICLE_TEST_CLUSTER_NODES`, 1 (no
/// cluster) when unset.
fn cluster_nodes() -> usize {
    match std::env::var("CHRONICLE_TEST_CLUSTER_NODES") {
        Ok(n) if !n.is_empty() => {
            n.parse().unwrap_or_else(|_| panic!("CHRONICLE_TEST_CLUSTER_NODES={n}: not a number"))
        }
        _ => 1,
    }
}

/// How long a new cluster may take until its nodes hold every shard (a
/// restarted one first waits for its predecessors' leases to run out).
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Waits until every shard is held, with a lease not run out, by one of the
/// nodes `ids`, and each of them holds some, as `chronicle cluster
/// describe -o json` through `address` tells.
async fn wait_until_shared(address: String, ids: &[String]) {
    let wanted = ids.to_vec();
    let settled = tokio::task::spawn_blocking(move || {
        let began = std::time::Instant::now();
        let mut last = String::new();
        while began.elapsed() < SETTLE_TIMEOUT {
            let out = Command::new(env!("CARGO_BIN_EXE_chronicle"))
                .args(["cluster", "describe", "--address", &address, "-o", "json"])
                .output()
                .expect("run chronicle cluster describe");
            last = String::from_utf8_lossy(&out.stdout).into_owned();
            if out.status.success()
                && let Ok(view) = serde_json::from_slice::<serde_json::Value>(&out.stdout)
                && shared_by(&view, &wanted)
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(last)
    })
    .await
    .expect("join the describe loop");
    if let Err(last) = settled {
        panic!("the cluster {ids:?} did not share the shards within {SETTLE_TIMEOUT:?}; last view: {last}");
    }
}

fn shared_by(view: &serde_json::Value, ids: &[String]) -> bool {
    let Some(shards) = view["shards"].as_array() else { return false };
    let mut held = vec![0usize; ids.len()];
    for shard in shards {
        let owner = shard["owner"].as_str().unwrap_or_default();
        let Some(i) = ids.iter().position(|id| id == owner) else { return false };
        if shard["leaseLeftMs"].as_i64().unwrap_or(0) <= 0 {
            return false;
        }
        held[i] += 1;
    }
    !shards.is_empty() && held.iter().all(|&n| n > 0)
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

/// A started process: its client address and, for a cluster node, where
/// it serves the cluster and its id.
struct Spawned {
    child: Child,
    addr: SocketAddr,
    cluster: Option<ClusterNode>,
}

struct ClusterNode {
    address: String,
    id: String,
}

async fn spawn_server(
    db_path: &Path,
    postgres: Option<&PostgresDatabase>,
    namespaces: &[String],
    args: &[String],
    generation: u32,
) -> Spawned {
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
    let (tx, rx) = mpsc::channel::<(SocketAddr, Option<ClusterNode>)>();
    std::thread::Builder::new()
        .name(format!("chronicle-stdout-{pid}"))
        .spawn(move || {
            let mut tx = Some(tx);
            let mut cluster = None;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                eprintln!("[chronicle pid={pid} gen={generation}] {line}");
                if let Some(rest) = line.trim().strip_prefix(CLUSTER_PREFIX)
                    && let Some((address, id)) = rest.split_once(" as node ")
                {
                    cluster = Some(ClusterNode { address: address.trim().to_string(), id: id.trim().to_string() });
                }
                if let Some(rest) = line.trim().strip_prefix(LISTENING_PREFIX)
                    && let Ok(addr) = rest.trim().parse::<SocketAddr>()
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send((addr, cluster.take()));
                }
            }
            // EOF: dropping `tx` (if still present) tells the waiter the process went away.
        })
        .expect("spawn stdout reader thread");

    let waited =
        tokio::task::spawn_blocking(move || rx.recv_timeout(STARTUP_TIMEOUT)).await.expect("join stdout waiter");
    match waited {
        Ok((addr, cluster)) => Spawned { child, addr, cluster },
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
