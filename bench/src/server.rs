//! Launching, probing and stopping the server under test as a child process.

use std::{
    fs::{self, File},
    io::{Read, Seek, SeekFrom},
    net::{SocketAddr, TcpListener},
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ServerKind {
    Chronicle,
    Temporal,
}

impl ServerKind {
    pub fn name(self) -> &'static str {
        match self {
            ServerKind::Chronicle => "chronicle",
            ServerKind::Temporal => "temporal",
        }
    }
}

/// What to launch (resolved from the command line).
pub struct ServerSpec {
    pub kind: ServerKind,
    pub bin: PathBuf,
    /// Database file passed via --db-filename (None: not passed).
    pub db_file: Option<PathBuf>,
    pub in_memory: bool,
    /// Remove `db_file` (and SQLite siblings) after the run.
    remove_db_after: bool,
    pub extra_args: Vec<String>,
    pub log_path: Option<PathBuf>,
    /// Chronicle on this database (`server start --database-url`) instead
    /// of `start-dev` on a file; the caller provides an empty database.
    pub database_url: Option<String>,
}

fn sqlite_siblings(db: &Path) -> Vec<PathBuf> {
    let mut v = vec![db.to_path_buf()];
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut s = db.as_os_str().to_owned();
        s.push(suffix);
        v.push(PathBuf::from(s));
    }
    v
}

fn millis_since_epoch() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0)
}

impl ServerSpec {
    pub fn new(
        kind: ServerKind,
        bin: PathBuf,
        db_file: Option<PathBuf>,
        in_memory: bool,
        keep_db: bool,
        extra_args: Vec<String>,
        log_path: Option<PathBuf>,
    ) -> Result<Self> {
        // Which database file (if any) goes on the command line:
        //  * temporal --in-memory: no --db-filename at all (the dev server's default is
        //    in-memory SQLite);
        //  * chronicle: always --db-filename F, plus --in-memory when requested.
        let needs_file = !(in_memory && kind == ServerKind::Temporal);
        let (db_file, remove_db_after) = match (needs_file, db_file) {
            (false, Some(_)) => {
                eprintln!("chronicle-bench: --db-file ignored for temporal with --in-memory");
                (None, false)
            }
            (false, None) => (None, false),
            (true, Some(p)) => (Some(p), false),
            (true, None) => {
                let p = std::env::temp_dir().join(format!(
                    "chronicle-bench-{}-{}-{}.db",
                    kind.name(),
                    std::process::id(),
                    millis_since_epoch()
                ));
                (Some(p), !keep_db)
            }
        };
        if let Some(db) = &db_file {
            if db.is_dir() {
                bail!("--db-file {} is a directory", db.display());
            }
            if let Some(parent) = db.parent()
                && !parent.as_os_str().is_empty()
            {
                fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
            }
            // Every run starts from an empty store.
            for f in sqlite_siblings(db) {
                if f.exists() {
                    fs::remove_file(&f).with_context(|| format!("removing {}", f.display()))?;
                }
            }
        }
        Ok(Self { kind, bin, db_file, in_memory, remove_db_after, extra_args, log_path, database_url: None })
    }

    /// Full argument vector (after the binary) for listening on `port`.
    pub fn args(&self, port: u16) -> Vec<String> {
        if let Some(url) = &self.database_url {
            let mut a: Vec<String> = vec!["server".into(), "start".into(), "--database-url".into(), url.clone()];
            a.extend(["--ip".into(), "127.0.0.1".into(), "--port".into(), port.to_string()]);
            a.extend(["--log-level".into(), "warn".into()]);
            a.extend(self.extra_args.iter().cloned());
            return a;
        }
        let mut a: Vec<String> = vec!["server".into(), "start-dev".into()];
        if self.kind == ServerKind::Temporal {
            // No Web UI: fewer ports, less memory, nothing the SDK needs.
            a.push("--headless".into());
        }
        a.extend(["--ip".into(), "127.0.0.1".into(), "--port".into(), port.to_string()]);
        if let Some(db) = &self.db_file {
            a.extend(["--db-filename".into(), db.display().to_string()]);
        }
        if self.in_memory && self.kind == ServerKind::Chronicle {
            a.push("--in-memory".into());
        }
        a.extend(["--log-level".into(), "warn".into()]);
        a.extend(self.extra_args.iter().cloned());
        a
    }

    pub fn cleanup(&self) {
        if self.remove_db_after
            && let Some(db) = &self.db_file
        {
            for f in sqlite_siblings(db) {
                let _ = fs::remove_file(f);
            }
        }
    }
}

/// Ask the kernel for a currently free TCP port on 127.0.0.1.
pub fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

pub struct SpawnedServer {
    pub kind: ServerKind,
    pub port: u16,
    pub log_path: PathBuf,
    pub spawned_at: Instant,
    child: Option<Child>,
    pid: u32,
}

impl SpawnedServer {
    /// Launches the server with `extra` arguments after the spec's (a
    /// cluster node's `--cluster-port`).
    pub fn spawn(spec: &ServerSpec, extra: &[String]) -> Result<Self> {
        let port = free_port()?;
        let log_path = spec
            .log_path
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join(format!("chronicle-bench-{}-{}.log", spec.kind.name(), port)));
        let log = File::create(&log_path).with_context(|| format!("creating server log {}", log_path.display()))?;
        let log2 = log.try_clone()?;
        let mut args = spec.args(port);
        args.extend(extra.iter().cloned());
        eprintln!("chronicle-bench: spawning: {} {}", spec.bin.display(), args.join(" "));
        let mut cmd = Command::new(&spec.bin);
        cmd.args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            // Own process group, so the whole tree can be signalled at once.
            .process_group(0);
        let spawned_at = Instant::now();
        let child = cmd.spawn().with_context(|| format!("spawning {}", spec.bin.display()))?;
        let pid = child.id();
        Ok(Self { kind: spec.kind, port, log_path, spawned_at, child: Some(child), pid })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Error out if the server process has already exited.
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(child) = self.child.as_mut()
            && let Some(status) = child.try_wait()?
        {
            bail!("{} exited early: {status}", self.kind.name());
        }
        Ok(())
    }

    /// Poll the port until it accepts a TCP connection; returns the time since spawn.
    pub async fn wait_port_open(&mut self, timeout: Duration) -> Result<Duration> {
        let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
        loop {
            self.check_alive()?;
            if let Ok(Ok(_s)) =
                tokio::time::timeout(Duration::from_millis(200), tokio::net::TcpStream::connect(addr)).await
            {
                return Ok(self.spawned_at.elapsed());
            }
            if self.spawned_at.elapsed() > timeout {
                bail!("port {} not open after {timeout:?}", self.port);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// SIGTERM the process group, SIGKILL it after 5 s. Idempotent.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pgid = self.pid as libc::pid_t;
        if matches!(child.try_wait(), Ok(Some(_))) {
            // Leader is gone; still make sure no group members linger.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
            return;
        }
        unsafe { libc::kill(-pgid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                _ => {
                    unsafe { libc::kill(-pgid, libc::SIGKILL) };
                    let _ = child.wait();
                    break;
                }
            }
        }
        // Any stragglers in the group (children that ignored SIGTERM).
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
    }

    /// Last `n` lines of the server log.
    pub fn log_tail(&self, n: usize) -> String {
        let Ok(mut f) = File::open(&self.log_path) else {
            return "(no log)".into();
        };
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
        let mut s = String::new();
        let mut buf = Vec::new();
        if f.read_to_end(&mut buf).is_ok() {
            s = String::from_utf8_lossy(&buf).into_owned();
        }
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for SpawnedServer {
    fn drop(&mut self) {
        self.stop();
    }
}
