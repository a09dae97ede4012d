"""`chronicle server start` (the production mode) and `chronicle db`: a TOML config file,
CHRONICLE_* environment variables and flags, namespaces with retention, and clear failures for
bad configuration. PostgreSQL cases run when CHRONICLE_POSTGRES_URL (postgres://USER@HOST:PORT)
names a reachable server; each gets a database of its own."""

from __future__ import annotations

import os
import re
import subprocess
import threading
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from conftest import READY_RE, _chronicle_bin

POSTGRES = os.environ.get("CHRONICLE_POSTGRES_URL", "").rstrip("/")
needs_postgres = pytest.mark.skipif(not POSTGRES, reason="CHRONICLE_POSTGRES_URL not set")


class Started:
    """A `chronicle server start` process, ready when it printed its address."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [str(_chronicle_bin()), "server", "start", "--port", "0", "--log-level", "warn", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
        ready = threading.Event()
        self.address: str | None = None

        def drain() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                self.lines.append(line.rstrip("\n"))
                m = READY_RE.match(line)
                if m and not ready.is_set():
                    self.address = m.group(1)
                    ready.set()
            ready.set()

        threading.Thread(target=drain, daemon=True).start()
        ready.wait(30)
        if self.address is None:
            self.stop()
            raise AssertionError("server did not start:\n" + "\n".join(self.lines))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def fails(args: list[str], env: dict[str, str] | None = None) -> str:
    """Runs a chronicle command that must fail at once; returns its output."""
    out = subprocess.run(
        [str(_chronicle_bin()), *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode != 0, f"expected a failure, got exit 0:\n{out.stdout}{out.stderr}"
    return out.stdout + out.stderr


def run_ok(args: list[str]) -> str:
    out = subprocess.run([str(_chronicle_bin()), *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"{args} failed:\n{out.stdout}{out.stderr}"
    return out.stdout


def psql(sql: str) -> None:
    subprocess.run(
        ["psql", f"{POSTGRES}/postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c", sql], check=True, capture_output=True
    )


@pytest.fixture
def pg_url():
    name = f"chronicle_cfg_{uuid.uuid4().hex}"
    psql(f"CREATE DATABASE {name}")
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def retention_of(address: str, namespace: str) -> timedelta:
    client = await Client.connect(address)
    desc = await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
    return desc.config.workflow_execution_retention_ttl.ToTimedelta()


def write_config(tmp_path: Path, database_url: str, retention: str = "48h") -> Path:
    config = tmp_path / "chronicle.toml"
    config.write_text(
        f"""
[server]
ip = "127.0.0.1"

[persistence]
database_url = "{database_url}"

[log]
level = "warn"
format = "json"

[[namespace]]
name = "orders"
retention = "{retention}"
description = "order processing"

[search_attributes]
CustomerId = "Keyword"

[dynamic_config]
"limit.historyCount.error" = 60000
"""
    )
    return config


async def test_config_file_on_sqlite(tmp_path: Path) -> None:
    """Every section of the file applies: the database, the namespace with its retention and
    description, the search attribute; a changed retention is applied at the next start."""
    db = tmp_path / "data.db"
    config = write_config(tmp_path, f"sqlite://{db}")
    server = Started(["--config", str(config)])
    try:
        assert await retention_of(server.address, "orders") == timedelta(hours=48)
        assert await retention_of(server.address, "default") == timedelta(hours=24)
        client = await Client.connect(server.address)
        attrs = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace="orders")
        )
        assert "CustomerId" in attrs.custom_attributes
    finally:
        server.stop()
    assert db.exists()
    write_config(tmp_path, f"sqlite://{db}", retention="7d")
    server = Started(["--config", str(config)])
    try:
        assert await retention_of(server.address, "orders") == timedelta(days=7)
    finally:
        server.stop()


async def test_flags_and_environment_override_the_file(tmp_path: Path) -> None:
    """The environment overrides the file, flags override the environment."""
    config = write_config(tmp_path, f"sqlite://{tmp_path / 'from-file.db'}")
    env_db, flag_db = tmp_path / "from-env.db", tmp_path / "from-flag.db"
    server = Started(["--config", str(config)], env={"CHRONICLE_DATABASE_URL": f"sqlite://{env_db}"})
    server.stop()
    assert env_db.exists() and not (tmp_path / "from-file.db").exists()
    server = Started(
        ["--config", str(config), "--db-filename", str(flag_db)],
        env={"CHRONICLE_CONFIG": str(config)},
    )
    server.stop()
    assert flag_db.exists()


def test_bad_configuration_fails_with_a_clear_message(tmp_path: Path) -> None:
    out = fails(["server", "start", "--port", "0"], env={"CHRONICLE_DATABASE_URL": ""})
    assert "no database configured" in out, out
    bad = tmp_path / "bad.toml"
    bad.write_text('[persistence]\ndatabase_uri = "sqlite:///tmp/x.db"\n')
    out = fails(["server", "start", "--config", str(bad), "--port", "0"])
    assert "database_uri" in out, out
    out = fails(["server", "start", "--config", str(tmp_path / "absent.toml"), "--port", "0"])
    assert "cannot read the config file" in out, out
    out = fails(["server", "start", "--database-url", "mysql://root@127.0.0.1/x", "--port", "0"])
    assert re.search(r"(?i)mysql", out), out
    short = tmp_path / "short.toml"
    short.write_text('[[namespace]]\nname = "x"\nretention = "10m"\n')
    out = fails(["server", "start", "--config", str(short), "--db-filename", str(tmp_path / "s.db"), "--port", "0"])
    assert "retention" in out and "minimum" in out, out
    db = str(tmp_path / "c.db")
    out = fails(["server", "start", "--db-filename", db, "--port", "0", "--cluster-port", "0",
                 "--cluster-tls-cert", "node.pem"])
    assert "--cluster-tls-cert, --cluster-tls-key and --cluster-tls-ca" in out, out
    out = fails(["server", "start", "--db-filename", db, "--port", "0", "--cluster-tls-cert", "n.pem",
                 "--cluster-tls-key", "n.key", "--cluster-tls-ca", "ca.pem"])
    assert "need --cluster-port" in out, out


def test_unreachable_postgres_fails_at_start() -> None:
    out = fails(["server", "start", "--database-url", "postgres://postgres@127.0.0.1:1/chronicle", "--port", "0"])
    assert "127.0.0.1:1" in out or "connect" in out.lower(), out


def test_db_status_and_migrate_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'm.db'}"
    run_ok(["db", "migrate", "--database-url", url])
    out = run_ok(["db", "status", "--database-url", url])
    assert "Up to date" in out, out
    out = run_ok(["db", "migrate", "--database-url", url])
    assert "up to date" in out, out


@needs_postgres
def test_db_status_and_migrate_on_postgres(pg_url: str) -> None:
    out = run_ok(["db", "status", "--database-url", pg_url])
    assert "Pending migrations" in out, out
    out = run_ok(["db", "migrate", "--database-url", pg_url])
    assert "Applied" in out, out
    out = run_ok(["db", "status", "--database-url", pg_url])
    assert "Up to date" in out, out


@needs_postgres
async def test_config_file_on_postgres(tmp_path: Path, pg_url: str) -> None:
    """The same file on PostgreSQL: the namespace is there after a restart, a workflow id's
    history survives it."""
    config = write_config(tmp_path, pg_url)
    server = Started(["--config", str(config)])
    try:
        assert await retention_of(server.address, "orders") == timedelta(hours=48)
        client = await Client.connect(server.address, namespace="orders")
        handle = await client.start_workflow("Nobody", id=f"wf-{uuid.uuid4()}", task_queue="nobody")
    finally:
        server.stop()
    server = Started(["--config", str(config)])
    try:
        client = await Client.connect(server.address, namespace="orders")
        desc = await client.get_workflow_handle(handle.id).describe()
        assert desc.run_id == handle.result_run_id
    finally:
        server.stop()


@needs_postgres
def test_missing_postgres_database_fails_with_a_clear_message() -> None:
    out = fails(["server", "start", "--database-url", f"{POSTGRES}/chronicle_absent_{uuid.uuid4().hex}", "--port", "0"])
    assert "does not exist" in out, out
