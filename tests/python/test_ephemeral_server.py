"""Chronicle as the SDK's local ephemeral server: `WorkflowEnvironment.start_local` launches the
binary given as `dev_server_existing_path` with the arguments it passes to `temporal server
start-dev` (port, namespace, ip, log format and level, db file, headless or UI port, dynamic config
values, search attributes, extra arguments), and tests run against it unchanged."""

import os
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import activity, workflow
from temporalio.client import WorkflowExecutionStatus
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from conftest import _chronicle_bin

CUSTOMER = SearchAttributeKey.for_keyword("CustomerId")


@activity.defn
async def greet(name: str) -> str:
    return f"Hello, {name}!"


@workflow.defn(sandboxed=False)
class GreetingWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(greet, name, start_to_close_timeout=timedelta(seconds=10))


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The server's default data file lands in the working directory.
    monkeypatch.chdir(tmp_path)
    if os.environ.get("CHRONICLE_ADDRESS"):
        pytest.skip("starts its own server")


async def run_greeting(env: WorkflowEnvironment, **start: object) -> str:
    queue = f"ephemeral-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=queue, workflows=[GreetingWorkflow], activities=[greet]):
        return await env.client.execute_workflow(
            GreetingWorkflow.run, "Chronicle", id=f"wf-{uuid.uuid4()}", task_queue=queue, **start
        )


async def test_start_local_with_the_sdk_defaults() -> None:
    async with await WorkflowEnvironment.start_local(dev_server_existing_path=str(_chronicle_bin())) as env:
        assert await run_greeting(env) == "Hello, Chronicle!"


async def test_start_local_with_every_option_the_sdk_passes(tmp_path: Path) -> None:
    db = tmp_path / "ephemeral.db"
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(_chronicle_bin()),
        namespace="ephemeral-ns",
        ip="127.0.0.1",
        ui=True,
        ui_port=0,
        search_attributes=[CUSTOMER],
        dev_server_database_filename=str(db),
        dev_server_log_format="json",
        dev_server_log_level="error",
        dev_server_extra_args=[
            "--dynamic-config-value",
            "limit.historyCount.suggestContinueAsNew=10000",
            "--metrics-port",
            "0",
            "--http-port",
            "0",
            "--sqlite-pragma",
            "journal_mode=wal",
        ],
    )
    async with env:
        assert env.client.namespace == "ephemeral-ns"
        attributes = TypedSearchAttributes([SearchAttributePair(CUSTOMER, "c-1")])
        assert await run_greeting(env, search_attributes=attributes) == "Hello, Chronicle!"
        found = [w async for w in env.client.list_workflows("CustomerId = 'c-1'")]
        assert [w.status for w in found] == [WorkflowExecutionStatus.COMPLETED]
    assert db.exists(), "the data went where --db-filename said"
