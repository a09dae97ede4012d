"""PostgreSQL restarted under load: Chronicle on PostgreSQL (`server start --database-url`, a
fresh database) runs workflows (an activity, a timer) through the Python SDK while the
PostgreSQL service is stopped for a few seconds and started again. Afterwards every workflow
must have completed once, with one start and one close in a history whose event ids are
contiguous; the script reports how many SDK calls failed, and activities run more than once.

Needs root (it runs `pg_ctlcluster VERSION CLUSTER stop|start` on this machine's server).

    /var/tmp/chronicle-venv/bin/python bench/pg_restart.py \\
        --chronicle-bin /var/tmp/chronicle-release-target/release/chronicle \\
        --postgres-url postgres://postgres@127.0.0.1:5432 --workflows 300 --down 5
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import re
import subprocess
import threading
import time
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.worker import Worker

CALLS: collections.Counter[str] = collections.Counter()


@activity.defn
async def work(name: str) -> str:
    CALLS[name] += 1
    return f"done {name}"


@workflow.defn
class Job:
    @workflow.run
    async def run(self, name: str) -> str:
        out = await workflow.execute_activity(work, name, start_to_close_timeout=timedelta(seconds=30))
        await workflow.sleep(1)
        return out


def psql(base: str, sql: str) -> None:
    subprocess.run(["psql", f"{base}/postgres", "-qc", sql], check=True, capture_output=True)


def start_server(binary: str, url: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [binary, "server", "start", "--database-url", url, "--port", "0", "--log-level", "warn"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    address = None
    assert proc.stdout is not None
    for line in proc.stdout:
        m = re.match(r"^Chronicle gRPC listening on (\S+)", line)
        if m:
            address = m.group(1)
            break
    if address is None:
        raise SystemExit("server did not start")
    log: list[str] = []
    threading.Thread(target=lambda: log.extend(proc.stdout), daemon=True).start()  # type: ignore[arg-type]
    return proc, address


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chronicle-bin", required=True)
    ap.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432")
    ap.add_argument("--workflows", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=30)
    ap.add_argument("--down", type=float, default=5.0, help="seconds PostgreSQL stays stopped")
    ap.add_argument("--cluster", default="15/main")
    args = ap.parse_args()
    base = args.postgres_url.rstrip("/")
    db = f"chronicle_pgrestart_{uuid.uuid4().hex[:8]}"
    psql(base, f"CREATE DATABASE {db}")
    proc, address = start_server(args.chronicle_bin, f"{base}/{db}")
    version, cluster = args.cluster.split("/")
    failures: collections.Counter[str] = collections.Counter()
    try:
        client = await Client.connect(address)
        tq = f"tq-{uuid.uuid4()}"
        async with Worker(client, task_queue=tq, workflows=[Job], activities=[work]):
            sem = asyncio.Semaphore(args.concurrency)
            ids = [f"job-{i}-{uuid.uuid4().hex[:6]}" for i in range(args.workflows)]

            async def one(wid: str) -> None:
                async with sem:
                    while True:
                        try:
                            handle = await client.start_workflow(Job.run, wid, id=wid, task_queue=tq)
                            break
                        except Exception as e:  # noqa: BLE001 - counted and retried
                            if "already started" in str(e).lower():
                                handle = client.get_workflow_handle(wid)
                                break
                            failures[type(e).__name__] += 1
                            await asyncio.sleep(0.5)
                    while True:
                        try:
                            await handle.result()
                            return
                        except Exception as e:  # noqa: BLE001
                            failures[type(e).__name__] += 1
                            await asyncio.sleep(0.5)

            async def outage() -> None:
                await asyncio.sleep(3)
                t0 = time.monotonic()
                subprocess.run(["pg_ctlcluster", version, cluster, "stop", "-m", "fast"], check=True)
                print(f"PostgreSQL stopped at +{time.monotonic() - began:.1f} s", flush=True)
                await asyncio.sleep(args.down)
                subprocess.run(["pg_ctlcluster", version, cluster, "start"], check=True)
                print(f"PostgreSQL started again after {time.monotonic() - t0:.1f} s", flush=True)

            began = time.monotonic()
            await asyncio.gather(outage(), *(one(w) for w in ids))
            wall = time.monotonic() - began
        problems = []
        for wid in ids:
            events = [e async for e in client.get_workflow_handle(wid).fetch_history_events()]
            types = [e.event_type for e in events]
            if [e.event_id for e in events] != list(range(1, len(events) + 1)):
                problems.append(f"{wid}: event ids not contiguous")
            if types.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED) != 1:
                problems.append(f"{wid}: {types.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED)} starts")
            if types[-1] != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
                problems.append(f"{wid}: last event {EventType.Name(types[-1])}")
            if types.count(EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED) != 1:
                problems.append(f"{wid}: activity completed {types.count(EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)}x")
        twice = sum(1 for w in ids if CALLS[w] > 1)
        print(f"workflows completed: {len(ids) - len(problems)}/{len(ids)} in {wall:.1f} s")
        print(f"history problems: {len(problems)} {problems[:5]}")
        print(f"SDK call errors retried by the script: {dict(failures)}")
        print(f"activities run more than once (at-least-once retries): {twice}")
    finally:
        proc.terminate()
        proc.wait(10)
        psql(base, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


if __name__ == "__main__":
    asyncio.run(main())
