"""Fixtures for the Python end-to-end tests: start a Chronicle server, connect a client.

Environment:
  CHRONICLE_BIN      path to the chronicle binary (default: $CARGO_TARGET_DIR/debug/chronicle,
                     CARGO_TARGET_DIR defaulting to /var/tmp/chronicle-target, then ./target).
  CHRONICLE_ADDRESS  if set (host:port), use an already running server instead of starting one
                     (handy for checking the tests against a reference Temporal dev server);
                     several, comma-separated (the nodes of a cluster), are used in turn: each
                     test module's `chronicle_server` and each `client` take the next one.
  CHRONICLE_TEST_POSTGRES  if set (postgres://USER@HOST:PORT), every server runs
                     `server start --database-url` on a PostgreSQL database of its own (created
                     with psql, dropped when the server object is garbage: see ChronicleServer).
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import uuid
import tempfile
import threading
import time
from pathlib import Path
from typing import AsyncIterator, Iterator

import pytest
from temporalio.client import Client

from server_process import ServerProcess

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_RE = re.compile(r"^Chronicle gRPC listening on (127\.0\.0\.1:\d+)\s*$")
STARTUP_TIMEOUT_S = 30.0
NAMESPACE = "default"


def _chronicle_bin() -> Path:
    env = os.environ.get("CHRONICLE_BIN")
    if env:
        return Path(env)
    target = os.environ.get("CARGO_TARGET_DIR", "/var/tmp/chronicle-target")
    for candidate in (Path(target) / "debug" / "chronicle", REPO_ROOT / "target" / "debug" / "chronicle"):
        if candidate.exists():
            return candidate
    return Path(target) / "debug" / "chronicle"


def _psql(base: str, sql: str) -> None:
    """Runs one statement on the PostgreSQL server's `postgres` database."""
    subprocess.run(
        ["psql", f"{base.rstrip('/')}/postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
        check=True,
        capture_output=True,
    )


class PostgresDatabase:
    """A database of its own on the server CHRONICLE_TEST_POSTGRES names."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self.name = f"chronicle_e2e_{uuid.uuid4().hex}"
        _psql(self.base, f"CREATE DATABASE {self.name}")

    @property
    def url(self) -> str:
        return f"{self.base}/{self.name}"

    def drop(self) -> None:
        _psql(self.base, f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


class ChronicleServer(ServerProcess):
    """A chronicle process; its output is drained by threads and kept for failure reports.

    On SQLite (`start-dev`) the data is in `db_path`; with CHRONICLE_TEST_POSTGRES set it is a
    PostgreSQL database created at the first start and kept across restarts (call `drop_data`
    when done; `stop` keeps it so that a restart finds it)."""

    def __init__(self, binary: Path, db_path: Path, extra_args: list[str] | None = None) -> None:
        super().__init__("chronicle", stop_timeout_s=10.0)
        self.binary = binary
        self.db_path = db_path
        self.extra_args = list(extra_args or [])
        self._ready = threading.Event()
        self.address: str | None = None
        base = os.environ.get("CHRONICLE_TEST_POSTGRES")
        self.postgres = PostgresDatabase(base) if base else None

    def drop_data(self) -> None:
        if self.postgres is not None:
            self.postgres.drop()
            self.postgres = None

    def start(self) -> str:
        self._ready.clear()
        self.address = None
        if self.postgres is not None:
            storage = ["start", "--database-url", self.postgres.url]
        else:
            storage = ["start-dev", "--db-filename", str(self.db_path)]
        cmd = [
            str(self.binary),
            "server",
            *storage,
            "--port",
            "0",
            "--log-level",
            "warn",
            *self.extra_args,
        ]
        self.spawn(cmd, cwd=self.db_path.parent, on_stdout_line=self._watch_stdout)

        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._ready.wait(0.1):
            if self.proc.poll() is not None:
                # Give the drain threads a moment to collect the last lines.
                self.join_drains(timeout=1)
                self.stop()
                raise RuntimeError(
                    f"chronicle exited with code {self.proc.returncode} before it was ready\n"
                    f"command: {' '.join(cmd)}\n{self.tail()}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"chronicle did not print 'Chronicle gRPC listening on 127.0.0.1:PORT' "
                    f"within {STARTUP_TIMEOUT_S:.0f}s\ncommand: {' '.join(cmd)}\n{self.tail()}"
                )
        assert self.address is not None
        return self.address

    def _watch_stdout(self, line: str) -> None:
        if not self._ready.is_set():
            m = READY_RE.match(line)
            if m:
                self.address = m.group(1)
                self._ready.set()


# Running servers by address, so a test can read its server's output.
SERVERS: dict[str, ChronicleServer] = {}

# Which of CHRONICLE_ADDRESS's addresses the next fixture takes.
_TURN = itertools.count()


def _external_addresses() -> list[str]:
    return [a.strip() for a in os.environ.get("CHRONICLE_ADDRESS", "").split(",") if a.strip()]


def _in_turn(addresses: list[str]) -> str:
    return addresses[next(_TURN) % len(addresses)]


@pytest.fixture(scope="module")
def chronicle_server(request: pytest.FixtureRequest) -> Iterator[str]:
    """Start a Chronicle server (fresh SQLite file per test module); yield its host:port.

    A test module may set CHRONICLE_SERVER_ARGS (a list of extra `start-dev`
    arguments, e.g. small limits) for its server."""
    external = _external_addresses()
    if external:
        yield _in_turn(external)
        return

    binary = _chronicle_bin()
    if not binary.exists():
        pytest.fail(
            f"chronicle binary not found at {binary}; build it with `cargo build -p chronicle` "
            f"or set CHRONICLE_BIN",
            pytrace=False,
        )
    with tempfile.TemporaryDirectory(prefix="chronicle-pytest-") as tmp:
        extra_args = getattr(request.module, "CHRONICLE_SERVER_ARGS", [])
        server = ChronicleServer(binary, Path(tmp) / "chronicle.db", extra_args)
        address = server.start()
        SERVERS[address] = server
        try:
            yield address
        finally:
            SERVERS.pop(address, None)
            exited_early = server.proc is not None and server.proc.poll() is not None
            server.stop()
            server.drop_data()
            if exited_early:
                print(
                    f"\nchronicle exited during the tests (code {server.proc.returncode})\n{server.tail()}",
                    file=sys.stderr,
                )


@pytest.fixture
async def client(chronicle_server: str) -> AsyncIterator[Client]:
    """A Temporal Python SDK client connected to the server, namespace `default`."""
    external = _external_addresses()
    target = _in_turn(external) if len(external) > 1 else chronicle_server
    c = await Client.connect(target, namespace=NAMESPACE)
    yield c
