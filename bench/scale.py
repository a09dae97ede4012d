"""One node at scale: the targets of issue #10, measured on a SQLite file.

Drives the raw gRPC API with the Python SDK's service client (no SDK worker).

    million  start N workflows (default 1,000,000) and leave them open: start
             rate, the server's peak RSS, a filtered list page and a grouped
             count at that size, then SIGKILL and restart: time to the port
             open and to the first task handed to a poller that appears then.
    timers   N timers (default 100,000) due over D seconds (default 600), a
             SIGKILL and restart half way: every timer fires exactly once;
             lateness percentiles outside the restart window.

    CHRONICLE_BIN=/var/tmp/chronicle-release-target/release/chronicle \\
        /var/tmp/chronicle-venv/bin/python bench/scale.py million
    ... bench/scale.py timers --timers 100000 --over 600
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import uuid

from google.protobuf.duration_pb2 import Duration
from temporalio.api.command.v1 import Command, StartTimerCommandAttributes
from temporalio.api.common.v1 import WorkflowExecution, WorkflowType
from temporalio.api.enums.v1 import CommandType, EventType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    CountWorkflowExecutionsRequest,
    GetWorkflowExecutionHistoryRequest,
    ListWorkflowExecutionsRequest,
    PollWorkflowTaskQueueRequest,
    RespondWorkflowTaskCompletedRequest,
    StartWorkflowExecutionRequest,
)
from temporalio.client import Client

NS = "default"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A chronicle process on a fixed port and database file, restartable,
    with a thread sampling its RSS."""

    def __init__(self, binary: str, db: str, port: int) -> None:
        self.binary, self.db, self.port = binary, db, port
        self.proc: subprocess.Popen[str] | None = None
        self.peak_rss_mb = 0.0
        self._sampling = True
        threading.Thread(target=self._sample, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> float:
        """Starts the server; returns seconds until its port accepts connections."""
        began = time.monotonic()
        self.proc = subprocess.Popen(
            [self.binary, "server", "start-dev", "--ip", "127.0.0.1", "--port", str(self.port),
             "--db-filename", self.db, "--log-level", "warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.05):
                    return time.monotonic() - began
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("chronicle exited while starting")
                time.sleep(0.002)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        self._sampling = False
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()

    def rss_mb(self) -> float:
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:  # type: ignore[union-attr]
                for line in f:
                    if line.startswith("VmRSS"):
                        return int(line.split()[1]) / 1024
        except (OSError, AttributeError):
            pass
        return 0.0

    def _sample(self) -> None:
        while self._sampling:
            self.peak_rss_mb = max(self.peak_rss_mb, self.rss_mb())
            time.sleep(0.2)


async def connect(address: str) -> Client:
    for _ in range(100):
        try:
            return await Client.connect(address)
        except Exception:
            await asyncio.sleep(0.05)
    return await Client.connect(address)


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


async def million(args: argparse.Namespace, server: Server) -> None:
    print(f"port open in {server.start() * 1000:.0f} ms (empty database)")
    client = await connect(server.address)
    svc = client.workflow_service
    queue = "scale"
    sem = asyncio.Semaphore(args.concurrency)
    started = 0

    async def start(i: int) -> None:
        nonlocal started
        async with sem:
            await svc.start_workflow_execution(StartWorkflowExecutionRequest(
                namespace=NS, workflow_id=f"scale-{i}", workflow_type=WorkflowType(name="X" if i % 2 else "Y"),
                task_queue=TaskQueue(name=queue), request_id=f"scale-{i}",
            ))
            started += 1

    t0 = time.monotonic()
    batch = 20_000
    for lo in range(0, args.workflows, batch):
        await asyncio.gather(*(start(i) for i in range(lo, min(args.workflows, lo + batch))))
        elapsed = time.monotonic() - t0
        print(f"  {started:>9,} started, {started / elapsed:,.0f}/s, server RSS {server.rss_mb():.0f} MB "
              f"(peak {server.peak_rss_mb:.0f})", flush=True)
    elapsed = time.monotonic() - t0
    print(f"started {started:,} workflows in {elapsed:.0f} s: {started / elapsed:,.0f} starts/s; "
          f"peak server RSS {server.peak_rss_mb:.0f} MB")

    query = "WorkflowType = 'X' AND ExecutionStatus = 'Running'"
    lists, counts = [], []
    for _ in range(5):
        began = time.monotonic()
        page = await svc.list_workflow_executions(ListWorkflowExecutionsRequest(
            namespace=NS, query=query, page_size=100))
        lists.append(time.monotonic() - began)
        assert len(page.executions) == 100, len(page.executions)
        began = time.monotonic()
        count = await svc.count_workflow_executions(CountWorkflowExecutionsRequest(
            namespace=NS, query="GROUP BY ExecutionStatus"))
        counts.append(time.monotonic() - began)
    print(f"list ({query}, page of 100): median {statistics.median(lists) * 1000:.1f} ms; "
          f"count GROUP BY ExecutionStatus: median {statistics.median(counts) * 1000:.0f} ms "
          f"({count.count:,} runs)")

    server.kill()
    open_s = server.start()
    client = await connect(server.address)
    began = time.monotonic()
    task = await client.workflow_service.poll_workflow_task_queue(PollWorkflowTaskQueueRequest(
        namespace=NS, task_queue=TaskQueue(name=queue), identity="scale-bench"))
    first = time.monotonic() - began
    assert task.task_token
    print(f"after SIGKILL: port open in {open_s * 1000:.0f} ms; a poller that appears then gets its first task "
          f"in {first * 1000:.0f} ms; server RSS {server.rss_mb():.0f} MB")
    print(f"peak server RSS over the run: {server.peak_rss_mb:.0f} MB")


async def timers(args: argparse.Namespace, server: Server) -> None:
    server.start()
    client = await connect(server.address)
    queue = f"timers-{uuid.uuid4()}"
    sem = asyncio.Semaphore(args.concurrency)
    # Timer i is due at origin + over * i / n; the origin leaves time to arm them.
    origin = time.time() + args.lead
    due = [origin + args.over * i / args.timers for i in range(args.timers)]
    armed_delay: dict[str, float] = {}

    async def start(i: int) -> None:
        async with sem:
            await client.workflow_service.start_workflow_execution(StartWorkflowExecutionRequest(
                namespace=NS, workflow_id=f"timer-{i}", workflow_type=WorkflowType(name="Sleeper"),
                task_queue=TaskQueue(name=queue), request_id=f"timer-{i}",
            ))

    async def arm() -> None:
        async with sem:
            task = await client.workflow_service.poll_workflow_task_queue(PollWorkflowTaskQueueRequest(
                namespace=NS, task_queue=TaskQueue(name=queue), identity="bench"))
            wid = task.workflow_execution.workflow_id
            i = int(wid.split("-")[1])
            delay = max(1.0, due[i] - time.time())
            armed_delay[wid] = delay
            ms = int(delay * 1000)
            timer = Command(command_type=CommandType.COMMAND_TYPE_START_TIMER,
                            start_timer_command_attributes=StartTimerCommandAttributes(
                                timer_id="t", start_to_fire_timeout=Duration(seconds=ms // 1000,
                                                                             nanos=(ms % 1000) * 1_000_000)))
            await client.workflow_service.respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest(
                namespace=NS, task_token=task.task_token, commands=[timer], identity="bench"))

    t0 = time.monotonic()
    await asyncio.gather(*(start(i) for i in range(args.timers)))
    await asyncio.gather(*(arm() for _ in range(args.timers)))
    print(f"{args.timers:,} timers armed in {time.monotonic() - t0:.0f} s "
          f"(due from +{origin - time.time():.0f} s over {args.over} s); server RSS {server.rss_mb():.0f} MB")
    if origin < time.time():
        print("warning: arming took longer than --lead; the first timers were armed late")

    await asyncio.sleep(max(0.0, origin + args.over / 2 - time.time()))
    killed_at = time.time()
    server.kill()
    open_s = server.start()
    restarted_at = time.time()
    print(f"SIGKILL half way; port open again in {open_s * 1000:.0f} ms")
    client = await connect(server.address)
    await asyncio.sleep(max(0.0, origin + args.over - time.time()) + 10)

    async def read(wid: str) -> tuple[str, int, float | None]:
        async with sem:
            h = await client.workflow_service.get_workflow_execution_history(GetWorkflowExecutionHistoryRequest(
                namespace=NS, execution=WorkflowExecution(workflow_id=wid)))
        started_at = None
        fired: list[float] = []
        for e in h.history.events:
            if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
                started_at = e.event_time.ToNanoseconds() / 1e9
            if e.event_type == EventType.EVENT_TYPE_TIMER_FIRED:
                fired.append(e.event_time.ToNanoseconds() / 1e9)
        if started_at is None or len(fired) != 1:
            return wid, len(fired), None
        return wid, 1, fired[0] - (started_at + armed_delay[wid])

    results = await asyncio.gather(*(read(f"timer-{i}") for i in range(args.timers)))
    once = sum(1 for _, n, _ in results if n == 1)
    twice = sum(1 for _, n, _ in results if n > 1)
    # Outside the restart window: due before the kill, or after the
    # restarted server had a few seconds to catch up.
    window_end = restarted_at + 2
    outside = [late for wid, n, late in results if late is not None
               and not (killed_at <= due[int(wid.split("-")[1])] <= window_end)]
    inside = [late for wid, n, late in results if late is not None
              and killed_at <= due[int(wid.split("-")[1])] <= window_end]
    print(f"fired exactly once: {once:,}/{args.timers:,} (more than once: {twice}, never: {args.timers - once - twice})")
    print(f"lateness outside the restart window ({len(outside):,} timers): p50 {statistics.median(outside) * 1000:.1f} ms, "
          f"p99 {pct(outside, 0.99) * 1000:.1f} ms, max {max(outside) * 1000:.1f} ms")
    if inside:
        print(f"lateness due inside the restart window ({len(inside):,} timers): max {max(inside) * 1000:.0f} ms")
    print(f"peak server RSS: {server.peak_rss_mb:.0f} MB")


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["million", "timers"])
    ap.add_argument("--workflows", type=int, default=1_000_000)
    ap.add_argument("--timers", type=int, default=100_000)
    ap.add_argument("--over", type=int, default=600, help="timers: seconds over which they come due")
    ap.add_argument("--lead", type=int, default=240, help="timers: seconds before the first is due")
    ap.add_argument("--concurrency", type=int, default=256)
    ap.add_argument("--db", help="database file (default: a new temporary one)")
    args = ap.parse_args()
    binary = os.environ.get("CHRONICLE_BIN", "/var/tmp/chronicle-release-target/release/chronicle")
    db = args.db or os.path.join(tempfile.mkdtemp(prefix="chronicle-scale-"), "scale.db")
    server = Server(binary, db, free_port())
    print(f"chronicle {binary}, database {db}")
    try:
        await (million(args, server) if args.mode == "million" else timers(args, server))
    finally:
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())
