"""10,000 concurrent durable timers on Chronicle: how late do they fire, what
do they cost in memory, and does the server stay responsive meanwhile?

Drives the raw gRPC API with the Python SDK's service client (no SDK worker,
so the client's cost stays small): starts N workflows, completes each first
workflow task with a StartTimer(T), measures start latency while N timers are
pending, then reads TimerStarted/TimerFired of every workflow.

    CHRONICLE_BIN=/var/tmp/chronicle-release-target/release/chronicle \\
        /var/tmp/chronicle-venv/bin/python bench/timers.py --timers 10000 --delay 60
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
import time
import uuid

from google.protobuf.duration_pb2 import Duration
from temporalio.api.command.v1 import Command, StartTimerCommandAttributes
from temporalio.api.common.v1 import WorkflowExecution, WorkflowType
from temporalio.api.enums.v1 import CommandType, EventType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    GetWorkflowExecutionHistoryRequest,
    PollWorkflowTaskQueueRequest,
    RespondWorkflowTaskCompletedRequest,
    StartWorkflowExecutionRequest,
)
from temporalio.client import Client


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--timers", type=int, default=10_000)
    ap.add_argument("--delay", type=int, default=60, help="timer duration, seconds")
    ap.add_argument("--concurrency", type=int, default=100)
    args = ap.parse_args()
    binary = os.environ.get("CHRONICLE_BIN", "/var/tmp/chronicle-release-target/release/chronicle")
    db = os.path.join(tempfile.mkdtemp(), "timers.db")
    server = subprocess.Popen(
        [binary, "server", "start-dev", "--port", "0", "--db-filename", db, "--log-level", "warn"],
        stdout=subprocess.PIPE, text=True,
    )
    address = ""
    while not address:
        line = server.stdout.readline()
        if "listening on" in line:
            address = line.split()[-1]
    client = await Client.connect(address)
    svc = client.workflow_service
    tq = f"timers-{uuid.uuid4()}"
    ids = [f"timer-{i}" for i in range(args.timers)]
    sem = asyncio.Semaphore(args.concurrency)

    async def start(wid: str) -> float:
        async with sem:
            began = time.monotonic()
            await svc.start_workflow_execution(StartWorkflowExecutionRequest(
                namespace="default", workflow_id=wid, workflow_type=WorkflowType(name="Sleeper"),
                task_queue=TaskQueue(name=tq), request_id=str(uuid.uuid4()),
            ))
            return time.monotonic() - began

    async def poll_and_sleep() -> None:
        task = await svc.poll_workflow_task_queue(PollWorkflowTaskQueueRequest(
            namespace="default", task_queue=TaskQueue(name=tq), identity="bench"))
        timer = Command(command_type=CommandType.COMMAND_TYPE_START_TIMER,
                        start_timer_command_attributes=StartTimerCommandAttributes(
                            timer_id="t", start_to_fire_timeout=Duration(seconds=args.delay)))
        await svc.respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest(
            namespace="default", task_token=task.task_token, commands=[timer], identity="bench"))

    t0 = time.monotonic()
    await asyncio.gather(*(start(w) for w in ids))
    pollers_done = 0
    while pollers_done < args.timers:
        batch = min(args.concurrency, args.timers - pollers_done)
        await asyncio.gather(*(poll_and_sleep() for _ in range(batch)))
        pollers_done += batch
    armed = time.monotonic() - t0
    print(f"{args.timers} timers of {args.delay}s armed in {armed:.1f}s; server RSS {rss_mb(server.pid):.1f} MB")
    # Responsiveness while every timer is pending: 200 more starts, one at a time.
    probe = [await start(f"probe-{i}") for i in range(200)]
    probe.sort()
    print(f"start latency with {args.timers} pending timers: p50 {probe[100]*1000:.2f} ms, p99 {probe[197]*1000:.2f} ms")
    await asyncio.sleep(max(0.0, args.delay - (time.monotonic() - t0)) + 5)

    async def lateness(wid: str) -> float | None:
        async with sem:
            h = await svc.get_workflow_execution_history(GetWorkflowExecutionHistoryRequest(
                namespace="default", execution=WorkflowExecution(workflow_id=wid)))
        started = fired = None
        for e in h.history.events:
            if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
                started = e.event_time.ToNanoseconds()
            if e.event_type == EventType.EVENT_TYPE_TIMER_FIRED:
                fired = e.event_time.ToNanoseconds()
        if started is None or fired is None:
            return None
        return (fired - started) / 1e6 - args.delay * 1000

    late = await asyncio.gather(*(lateness(w) for w in ids))
    fired = sorted(x for x in late if x is not None)
    print(f"fired {len(fired)}/{args.timers}; lateness ms: p50 {statistics.median(fired):.2f}, "
          f"p99 {fired[int(len(fired) * 0.99) - 1]:.2f}, max {fired[-1]:.2f}; server RSS {rss_mb(server.pid):.1f} MB")
    server.terminate()
    server.wait()


if __name__ == "__main__":
    asyncio.run(main())
