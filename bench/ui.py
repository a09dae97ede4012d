"""The web UI's targets (issue #13), measured on a SQLite file with a release build:

- server time of each page with N workflows stored (default 100,000; a quarter of them
  terminated, so the status counts have something to count): the median and p95 of
  `--fetches` fetches over loopback, which is the server's time plus a loopback round trip;
- the first view of a 50,000-event history in Chromium (Debian's, through Playwright): time to
  the page's load event, median of `--fetches` navigations.

Drives the raw gRPC API with the Python SDK's service client (no SDK worker).

    CHRONICLE_BIN=/var/tmp/chronicle-release-target/release/chronicle \\
        /var/tmp/chronicle-venv/bin/python bench/ui.py --workflows 100000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.request
import uuid

from google.protobuf.duration_pb2 import Duration
from temporalio.api.command.v1 import (
    Command,
    CompleteWorkflowExecutionCommandAttributes,
    StartTimerCommandAttributes,
)
from temporalio.api.common.v1 import WorkflowExecution, WorkflowType
from temporalio.api.enums.v1 import CommandType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    PollWorkflowTaskQueueRequest,
    RespondWorkflowTaskCompletedRequest,
    StartWorkflowExecutionRequest,
    TerminateWorkflowExecutionRequest,
)
from temporalio.client import Client

NS = "default"


def fetch_ms(url: str) -> float:
    began = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as answer:
        answer.read()
        assert answer.status == 200, (url, answer.status)
    return (time.perf_counter() - began) * 1000


def measure(label: str, url: str, fetches: int) -> None:
    fetch_ms(url)  # warm: the first fetch may read pages from disk
    times = sorted(fetch_ms(url) for _ in range(fetches))
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    print(f"  {label:<44} median {statistics.median(times):6.1f} ms   p95 {p95:6.1f} ms", flush=True)


async def load(svc, count: int, concurrency: int) -> list[str]:
    sem = asyncio.Semaphore(concurrency)
    ids = [f"ui-bench-{n}" for n in range(count)]

    async def start(wid: str, n: int) -> None:
        async with sem:
            await svc.start_workflow_execution(StartWorkflowExecutionRequest(
                namespace=NS, workflow_id=wid, workflow_type=WorkflowType(name=f"Type{n % 5}"),
                task_queue=TaskQueue(name="ui-bench"), request_id=str(uuid.uuid4()),
            ))
            if n % 4 == 0:
                await svc.terminate_workflow_execution(TerminateWorkflowExecutionRequest(
                    namespace=NS, workflow_execution=WorkflowExecution(workflow_id=wid), reason="bench",
                ))

    began = time.monotonic()
    await asyncio.gather(*(start(w, n) for n, w in enumerate(ids)))
    print(f"{count} workflows stored in {time.monotonic() - began:.0f} s", flush=True)
    return ids


async def long_history(svc, timers: int) -> tuple[str, str]:
    """A run of 2 * `timers` + ~10 events: one workflow task starts `timers` 1 ms timers, the
    next completes the run."""
    wid, queue = f"ui-long-{uuid.uuid4()}", f"ui-long-{uuid.uuid4()}"
    started = await svc.start_workflow_execution(StartWorkflowExecutionRequest(
        namespace=NS, workflow_id=wid, workflow_type=WorkflowType(name="Long"),
        task_queue=TaskQueue(name=queue), request_id=str(uuid.uuid4()),
    ))

    async def poll():
        while True:
            task = await svc.poll_workflow_task_queue(PollWorkflowTaskQueueRequest(
                namespace=NS, task_queue=TaskQueue(name=queue), identity="bench"))
            if task.task_token:
                return task

    began = time.monotonic()
    task = await poll()
    print(f"  long run: first task polled in {time.monotonic() - began:.1f} s", flush=True)
    commands = [
        Command(command_type=CommandType.COMMAND_TYPE_START_TIMER,
                start_timer_command_attributes=StartTimerCommandAttributes(
                    timer_id=str(n), start_to_fire_timeout=Duration(nanos=1_000_000)))
        for n in range(timers)
    ]
    await svc.respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest(
        namespace=NS, task_token=task.task_token, commands=commands, identity="bench"))
    print(f"  long run: {timers} timers started at {time.monotonic() - began:.1f} s", flush=True)
    while True:  # every timer fired (the next workflow task waits in its queue meanwhile)
        described = await svc.describe_workflow_execution(DescribeWorkflowExecutionRequest(
            namespace=NS, execution=WorkflowExecution(workflow_id=wid)))
        if described.workflow_execution_info.history_length >= 2 * timers + 4:
            break
        await asyncio.sleep(0.2)
    print(f"  long run: every timer fired at {time.monotonic() - began:.1f} s", flush=True)
    task = await poll()
    print(f"  long run: second task polled at {time.monotonic() - began:.1f} s", flush=True)
    await svc.respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest(
        namespace=NS, task_token=task.task_token, identity="bench", commands=[Command(
            command_type=CommandType.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION,
            complete_workflow_execution_command_attributes=CompleteWorkflowExecutionCommandAttributes())]))
    described = await svc.describe_workflow_execution(DescribeWorkflowExecutionRequest(
        namespace=NS, execution=WorkflowExecution(workflow_id=wid)))
    info = described.workflow_execution_info
    print(f"  long run: {info.history_length} events, status {info.status}", flush=True)
    return wid, started.run_id


async def first_views(url: str, fetches: int) -> None:
    from playwright.async_api import async_playwright

    chromium = os.environ.get("CHRONICLE_CHROMIUM") or shutil.which("chromium")
    if not chromium:
        print("  (no chromium: the browser's first view is not measured)")
        return
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = await browser.new_page()
            await page.goto(url)
            loads = []
            for _ in range(fetches):
                await page.goto("about:blank")
                await page.goto(url)
                loads.append(await page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd"))
            print(f"  {'first view in Chromium (load event)':<44} median {statistics.median(loads):6.1f} ms   "
                  f"max {max(loads):6.1f} ms", flush=True)
        finally:
            await browser.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workflows", type=int, default=100_000)
    parser.add_argument("--timers", type=int, default=25_000, help="timers of the long run (2 events each)")
    parser.add_argument("--fetches", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    binary = os.environ.get("CHRONICLE_BIN", "chronicle")
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [binary, "server", "start-dev", "--ip", "127.0.0.1", "--port", "0", "--ui-port", "0",
             "--db-filename", os.path.join(tmp, "ui.db"), "--log-level", "warn"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        try:
            grpc = ui = None
            assert proc.stdout is not None
            for line in proc.stdout:
                if m := re.search(r"Chronicle UI at (https?://\S+)", line):
                    ui = m.group(1)
                if m := re.search(r"gRPC listening on (\S+)", line):
                    grpc = m.group(1)
                    break
            assert grpc and ui, "the server did not print its addresses"
            client = await Client.connect(grpc)
            svc = client.workflow_service
            ids = await load(svc, args.workflows, args.concurrency)
            wid, run_id = await long_history(svc, args.timers)
            history = f"{ui}/namespaces/{NS}/workflows/{wid}/{run_id}/history"
            print(f"pages with {args.workflows} workflows stored (and one run of {2 * args.timers}+ events):")
            base = f"{ui}/namespaces/{NS}/workflows"
            measure("workflow list (first page, counts)", base, args.fetches)
            measure("search by id", f"{base}?query={ids[len(ids) // 2]}", args.fetches)
            measure("filter: status and type", f"{base}?query=ExecutionStatus%3D%27Running%27%20AND%20WorkflowType%3D%27Type3%27", args.fetches)
            measure("a workflow's page (2 events)", f"{base}/{ids[1]}", args.fetches)
            measure("the long run's page (newest 100 events)", history, args.fetches)
            measure("task queue", f"{ui}/namespaces/{NS}/task-queues/ui-bench", args.fetches)
            measure("schedules", f"{ui}/namespaces/{NS}/schedules", args.fetches)
            measure("namespaces", f"{ui}/namespaces", args.fetches)
            await first_views(history, args.fetches)
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    asyncio.run(main())
