"""A reference Temporal dev server (the official `temporal server start-dev`) for differential tests.

Environment:
  TEMPORAL_BIN     path to the `temporal` CLI (default: $CHRONICLE_VENV/bin/temporal, then
                   /var/tmp/chronicle-venv/bin/temporal).
  CHRONICLE_VENV   the virtualenv the test script installs the CLI into.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from server_process import ServerProcess

NAMESPACE = "default"
STARTUP_TIMEOUT_S = 30.0


def temporal_bin() -> Path:
    env = os.environ.get("TEMPORAL_BIN")
    if env:
        return Path(env)
    venv = os.environ.get("CHRONICLE_VENV")
    if venv:
        return Path(venv) / "bin" / "temporal"
    return Path("/var/tmp/chronicle-venv/bin/temporal")


def temporal_bin_missing_reason() -> str | None:
    """None if the reference server binary is usable, else why the differential tests are skipped."""
    binary = temporal_bin()
    if not binary.is_file() or not os.access(binary, os.X_OK):
        return (
            f"reference Temporal CLI not found at {binary} (set TEMPORAL_BIN or CHRONICLE_VENV, or "
            f"install the `temporal` CLI into the venv); differential tests need a reference server"
        )
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ReferenceServer(ServerProcess):
    """A `temporal server start-dev` process; its output is kept for failure reports."""

    def __init__(self, binary: Path, db_path: Path, extra_args: list[str] | None = None) -> None:
        super().__init__("reference temporal", stop_timeout_s=15.0)
        self.binary = binary
        self.db_path = db_path
        self.extra_args = extra_args or []
        self.address: str | None = None

    def start(self) -> str:
        port = _free_port()
        self.address = f"127.0.0.1:{port}"
        cmd = [
            str(self.binary),
            "server",
            "start-dev",
            "--headless",
            "--ip",
            "127.0.0.1",
            "--port",
            str(port),
            "--db-filename",
            str(self.db_path),
            "--log-level",
            "warn",
            # Chronicle takes any custom search attribute; Temporal needs it registered.
            "--search-attribute",
            "CustomKeywordField=Keyword",
            *self.extra_args,
        ]
        self.spawn(cmd, cwd=self.db_path.parent, merge_stderr=True)
        try:
            asyncio.run(self._wait_ready(cmd))
        except BaseException:
            self.stop()
            raise
        return self.address

    async def _wait_ready(self, cmd: list[str]) -> None:
        assert self.proc is not None and self.address is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        last_error: BaseException | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"reference temporal server exited with code {self.proc.returncode} before it was "
                    f"ready\ncommand: {' '.join(cmd)}\n{self.tail()}"
                )
            try:
                client = await Client.connect(self.address, namespace=NAMESPACE)
                await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=NAMESPACE))
                return
            except Exception as e:  # not up yet
                last_error = e
                await asyncio.sleep(0.5)
        raise RuntimeError(
            f"reference temporal server not reachable at {self.address} within {STARTUP_TIMEOUT_S:.0f}s "
            f"(last error: {last_error!r})\ncommand: {' '.join(cmd)}\n{self.tail()}"
        )


@pytest.fixture(scope="module")
def reference_server() -> Iterator[str]:
    """Start a reference Temporal dev server (fresh SQLite file per module); yield its host:port."""
    yield from running_reference()


def running_reference(extra_args: list[str] | None = None) -> Iterator[str]:
    """A reference server with `extra_args` for the length of a fixture (skipped without the CLI)."""
    reason = temporal_bin_missing_reason()
    if reason:
        pytest.skip(reason)
    with tempfile.TemporaryDirectory(prefix="temporal-reference-") as tmp:
        server = ReferenceServer(temporal_bin(), Path(tmp) / "temporal.db", extra_args)
        address = server.start()
        try:
            yield address
        finally:
            exited_early = server.proc is not None and server.proc.poll() is not None
            server.stop()
            if exited_early:
                print(
                    f"\nreference temporal server exited during the tests "
                    f"(code {server.proc.returncode})\n{server.tail()}",
                    file=sys.stderr,
                )
