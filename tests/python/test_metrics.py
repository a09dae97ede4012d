"""Prometheus metrics on `--metrics-port`: requests, errors and latency by operation, and
workflow outcomes, under Temporal's metric names, scraped as Prometheus would."""

import json
import re
import subprocess
import time
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Worker

from conftest import READY_RE, _chronicle_bin
from test_server_config import Started

METRICS_RE = re.compile(r"^Chronicle metrics on (http://\S+/metrics)$")


@activity.defn
async def shout(name: str) -> str:
    return name.upper()


@workflow.defn(sandboxed=False)
class ShoutWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(shout, name, start_to_close_timeout=timedelta(seconds=10))


def scrape(url: str) -> dict[str, float]:
    """Every sample of the exposition, keyed by name and labels as written."""
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            samples[key] = float(value)
    return samples


def metrics_url(server: Started) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in server.lines:
            if m := METRICS_RE.match(line):
                return m.group(1)
        time.sleep(0.05)
    raise AssertionError("no metrics address printed:\n" + "\n".join(server.lines))


async def test_requests_errors_latency_and_outcomes_are_counted(tmp_path: Path) -> None:
    server = Started(["--db-filename", str(tmp_path / "metrics.db"), "--metrics-port", "0"])
    try:
        url = metrics_url(server)
        client = await Client.connect(server.address)
        queue = f"metrics-{uuid.uuid4()}"
        async with Worker(client, task_queue=queue, workflows=[ShoutWorkflow], activities=[shout]):
            for i in range(3):
                assert await client.execute_workflow(
                    ShoutWorkflow.run, "hi", id=f"shout-{i}-{uuid.uuid4()}", task_queue=queue
                ) == "HI"
        handle = await client.start_workflow(ShoutWorkflow.run, "x", id=f"term-{uuid.uuid4()}", task_queue=queue)
        await handle.terminate("done")
        with pytest.raises(RPCError):
            await client.get_workflow_handle(f"missing-{uuid.uuid4()}").describe()

        samples = scrape(url)
        ns = 'namespace="default",'
        assert samples[f'service_requests{{{ns}operation="StartWorkflowExecution"}}'] >= 4
        assert samples[f'service_requests{{{ns}operation="RespondActivityTaskCompleted"}}'] >= 3
        assert samples[f'service_errors{{{ns}operation="DescribeWorkflowExecution",status_code="NotFound"}}'] >= 1
        assert samples[f'service_latency_count{{{ns}operation="StartWorkflowExecution"}}'] >= 4
        assert samples[f'service_latency_bucket{{{ns}operation="StartWorkflowExecution",le="+Inf"}}'] >= 4
        # The store, the cache, polls and the sampled gauges.
        assert samples['persistence_requests{operation="UpdateWorkflowExecution"}'] >= 4 * 4
        assert samples['persistence_latency_count{operation="UpdateWorkflowExecution"}'] >= 16
        assert samples["persistence_commit_executions_count"] >= 16
        # SQLite's group commits (executions, and namespace and schedule writes).
        assert samples["persistence_group_commit_requests_count"] >= 16
        assert samples["persistence_group_commit_latency_count"] == samples["persistence_group_commit_requests_count"]
        assert samples["cache_requests"] >= samples["cache_miss"]
        assert samples['poll_success{task_type="Workflow"}'] >= 6
        # Activities come through polls, or with the workflow task's completion (eager).
        assert samples.get('poll_success{task_type="Activity"}', 0) + samples["activity_eager_execution"] >= 3
        for gauge in ["cache_size", "timers_pending", "task_queue_backlog", "open_runs"]:
            assert gauge in samples, gauge
        assert samples["workflow_success"] >= 3
        assert samples["workflow_terminate"] >= 1
        assert "workflow_failed" in samples and "workflow_timeout" in samples
    finally:
        server.stop()


async def test_start_dev_serves_metrics_too(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [str(_chronicle_bin()), "server", "start-dev", "--in-memory", "--port", "0", "--metrics-port", "0",
         "--log-level", "warn"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        address = url = None
        deadline = time.monotonic() + 30
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline().strip()
            if m := READY_RE.match(line):
                address = m.group(1)
            if m := METRICS_RE.match(line):
                url = m.group(1)
        assert address and url, "addresses not printed"
        await Client.connect(address)
        # A call naming no namespace the server has is tagged _unknown_.
        assert scrape(url)['service_requests{namespace="_unknown_",operation="GetSystemInfo"}'] >= 1
    finally:
        proc.terminate()
        proc.wait(10)


async def test_each_failed_request_is_one_structured_log_line(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [str(_chronicle_bin()), "server", "start-dev", "--in-memory", "--port", "0", "--log-level", "info",
         "--log-format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        address = None
        deadline = time.monotonic() + 30
        while address is None and time.monotonic() < deadline:
            if m := READY_RE.match(proc.stdout.readline().strip()):
                address = m.group(1)
        assert address, "address not printed"
        client = await Client.connect(address)
        missing = f"missing-{uuid.uuid4()}"
        with pytest.raises(RPCError):
            await client.get_workflow_handle(missing, run_id="0190f7c2-0000-7000-8000-000000000000").describe()
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=10)
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    failed = [line for line in lines if line.get("fields", {}).get("workflow_id") == missing]
    assert len(failed) == 1, stderr
    fields = failed[0]["fields"]
    assert fields["method"] == "DescribeWorkflowExecution" and fields["namespace"] == "default"
    assert fields["run_id"] == "0190f7c2-0000-7000-8000-000000000000" and fields["code"] == "NotFound"
    assert fields["message"].startswith("request failed:")
