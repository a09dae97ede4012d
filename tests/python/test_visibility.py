"""Visibility through the Python SDK and the `temporal` CLI: list_workflows and count_workflows
with Temporal's filter syntax (WorkflowId, WorkflowType, ExecutionStatus, RunId, AND/OR,
STARTS_WITH, a custom search attribute), newest first, paging, GROUP BY ExecutionStatus, and
bad queries (unregistered search attributes among them, refused as Temporal refuses them); then
`temporal workflow list/count` and `chronicle workflow list/count`."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from dataclasses import dataclass

from temporalio import workflow
from temporalio.common import SearchAttributeKey

with workflow.unsafe.imports_passed_through():
    import pytest
    from conftest import _chronicle_bin
    from reference import temporal_bin, temporal_bin_missing_reason
    from temporalio.client import Client, WorkflowExecutionStatus
    from temporalio.service import RPCError, RPCStatusCode
    from temporalio.worker import Worker

TEST_TIMEOUT_S = 60.0
COLOR = SearchAttributeKey.for_keyword("CustomKeywordField")
# Queries name registered search attributes only, as on Temporal.
CHRONICLE_SERVER_ARGS = ["--search-attribute", "CustomKeywordField=Keyword"]


@workflow.defn
class VisWaiter:
    """Runs until signalled; tags itself with a search attribute first."""

    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self, color: str) -> None:
        workflow.upsert_search_attributes([COLOR.value_set(color)])
        await workflow.wait_condition(lambda: self.done)

    @workflow.signal
    def finish(self) -> None:
        self.done = True


@workflow.defn
class VisQuick:
    @workflow.run
    async def run(self) -> str:
        return "done"


@dataclass
class Runs:
    """Five runs under one id prefix, started in this order: w0 (waiter, 'blue'), w1 (waiter,
    'red', then terminated), w2 (waiter, 'blue'), q0 and q1 (quick, completed)."""

    prefix: str
    run_ids: dict[str, str]

    def id(self, short: str) -> str:
        return f"{self.prefix}-{short}"

    @property
    def mine(self) -> str:
        return f"WorkflowId STARTS_WITH '{self.prefix}-'"


NEWEST_FIRST = ["q1", "q0", "w2", "w1", "w0"]


@pytest.fixture
async def runs(client: Client) -> Runs:
    prefix = f"vis-{uuid.uuid4().hex[:8]}"
    task_queue = f"{prefix}-tq"
    run_ids: dict[str, str] = {}
    # Unsandboxed: validating this module in the sandbox (it imports the test
    # helpers) now and then trips CPython 3.11's "AST constructor recursion
    # depth mismatch"; these workflows need no sandbox.
    from temporalio.worker import UnsandboxedWorkflowRunner

    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[VisWaiter, VisQuick],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        waiters = {}
        for short, color in [("w0", "blue"), ("w1", "red"), ("w2", "blue")]:
            handle = await client.start_workflow(VisWaiter.run, color, id=f"{prefix}-{short}", task_queue=task_queue)
            waiters[short] = handle
            run_ids[short] = handle.result_run_id
        for short in ["q0", "q1"]:
            handle = await client.start_workflow(VisQuick.run, id=f"{prefix}-{short}", task_queue=task_queue)
            run_ids[short] = handle.result_run_id
            assert await asyncio.wait_for(handle.result(), TEST_TIMEOUT_S) == "done"
        await waiters["w1"].terminate("visibility test")
        # The waiters' upserts are in once each has completed its first workflow task.
        for handle in waiters.values():
            for _ in range(200):
                history = await handle.fetch_history()
                if any(e.HasField("upsert_workflow_search_attributes_event_attributes") for e in history.events):
                    break
                await asyncio.sleep(0.05)
    return Runs(prefix, run_ids)


async def ids(client: Client, query: str, **kwargs) -> list[str]:
    return [w.id async for w in client.list_workflows(query, **kwargs)]


async def test_filters_and_newest_first(client: Client, runs: Runs) -> None:
    short = lambda names: [runs.id(n) for n in names]  # noqa: E731
    assert await ids(client, runs.mine) == short(NEWEST_FIRST)
    assert await ids(client, f"{runs.mine} AND WorkflowType = 'VisQuick'") == short(["q1", "q0"])
    assert await ids(client, f"{runs.mine} AND ExecutionStatus = 'Running'") == short(["w2", "w0"])
    assert await ids(client, f"{runs.mine} AND ExecutionStatus != 'Running'") == short(["q1", "q0", "w1"])
    assert await ids(client, f"WorkflowId = '{runs.id('w1')}' OR RunId = '{runs.run_ids['q0']}'") == short(
        ["q0", "w1"]
    )
    assert await ids(
        client, f"{runs.mine} AND (WorkflowType = 'VisQuick' OR ExecutionStatus = 'Terminated')"
    ) == short(["q1", "q0", "w1"])
    assert await ids(client, f"{runs.mine} AND ExecutionStatus IN ('Completed', 'Terminated')") == short(
        ["q1", "q0", "w1"]
    )
    assert await ids(client, f"{runs.mine} AND CustomKeywordField = 'blue'") == short(["w2", "w0"])
    assert await ids(client, f"{runs.mine} AND CloseTime IS NULL") == short(["w2", "w0"])

    listed = [w async for w in client.list_workflows(f"WorkflowId = '{runs.id('q0')}'")]
    assert len(listed) == 1
    q0 = listed[0]
    assert (q0.run_id, q0.workflow_type, q0.status) == (runs.run_ids["q0"], "VisQuick", WorkflowExecutionStatus.COMPLETED)
    assert q0.start_time is not None and q0.close_time is not None and q0.task_queue == f"{runs.prefix}-tq"
    w0 = [w async for w in client.list_workflows(f"WorkflowId = '{runs.id('w0')}'")][0]
    assert w0.typed_search_attributes.get(COLOR) == "blue"


async def test_paging(client: Client, runs: Runs) -> None:
    assert await ids(client, runs.mine, page_size=2) == [runs.id(n) for n in NEWEST_FIRST]
    assert await ids(client, runs.mine, limit=3) == [runs.id(n) for n in NEWEST_FIRST[:3]]

    pages = []
    it = client.list_workflows(runs.mine, page_size=2)
    while True:
        await it.fetch_next_page()
        pages.append([w.id for w in it.current_page or []])
        if not it.next_page_token:
            break
    assert pages == [[runs.id(n) for n in page] for page in (["q1", "q0"], ["w2", "w1"], ["w0"])]


async def test_count(client: Client, runs: Runs) -> None:
    assert (await client.count_workflows(runs.mine)).count == 5
    assert (await client.count_workflows(f"{runs.mine} AND WorkflowType = 'VisWaiter'")).count == 3
    grouped = await client.count_workflows(f"{runs.mine} GROUP BY ExecutionStatus")
    assert grouped.count == 5
    assert sorted((g.group_values, g.count) for g in grouped.groups) == [
        (["Completed"], 2),
        (["Running"], 2),
        (["Terminated"], 1),
    ]
    assert (await client.count_workflows()).count >= 5


async def test_bad_queries_are_invalid_argument(client: Client) -> None:
    for bad in ["WorkflowId = ", "ExecutionStatus = 'Bogus'", "StartTime > 'yesterday'", "WorkflowId = 'a' ORDER"]:
        with pytest.raises(RPCError) as err:
            await ids(client, bad)
        assert err.value.status == RPCStatusCode.INVALID_ARGUMENT, bad
        assert "invalid query" in err.value.message, err.value.message
        with pytest.raises(RPCError) as err:
            await client.count_workflows(bad)
        assert err.value.status == RPCStatusCode.INVALID_ARGUMENT, bad


async def test_custom_attribute_lists_and_counts(client: Client, runs: Runs) -> None:
    short = lambda names: [runs.id(n) for n in names]  # noqa: E731
    assert await ids(client, f"{runs.mine} AND CustomKeywordField != 'blue'") == short(["w1"])
    assert await ids(client, f"{runs.mine} AND NOT CustomKeywordField = 'blue'") == short(["w1"])
    assert await ids(client, f"{runs.mine} AND CustomKeywordField IS NULL") == short(["q1", "q0"])
    assert await ids(client, f"{runs.mine} AND CustomKeywordField STARTS_WITH 'bl' ORDER BY WorkflowId") == short(
        ["w0", "w2"]
    )
    assert (await client.count_workflows(f"{runs.mine} AND CustomKeywordField = 'blue'")).count == 2
    grouped = await client.count_workflows(f"{runs.mine} AND CustomKeywordField IS NOT NULL GROUP BY ExecutionStatus")
    assert grouped.count == 3
    assert sorted((g.group_values, g.count) for g in grouped.groups) == [(["Running"], 2), (["Terminated"], 1)]


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("Foo = 'x'", "Foo"),
        ("WorkflowId = 'a' OR (Foo IN (1, 2))", "Foo"),
        ("NOT Foo IS NULL", "Foo"),
        ("workflowid = 'x'", "workflowid"),
        ("ORDER BY Foo", "Foo"),
        ("GROUP BY Foo", "Foo"),
    ],
)
async def test_unregistered_search_attributes_are_invalid_argument(client: Client, query: str, name: str) -> None:
    """Temporal's code and message (this passes against its dev server too)."""
    for call in (lambda: ids(client, query), lambda: client.count_workflows(query)):
        with pytest.raises(RPCError) as err:
            await call()
        assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
        assert err.value.message == f"invalid query: invalid search attribute: {name}"


def run_cli(cmd: list[str]) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"{cmd} exited {proc.returncode}: {proc.stderr}"
    return proc.stdout


@pytest.mark.skipif(temporal_bin_missing_reason() is not None, reason=temporal_bin_missing_reason() or "")
async def test_temporal_cli_lists_and_counts(chronicle_server: str, runs: Runs) -> None:
    temporal = [str(temporal_bin()), "workflow"]
    address = ["--address", chronicle_server]

    table = await asyncio.to_thread(run_cli, [*temporal, "list", *address, "--query", runs.mine])
    lines = table.strip().splitlines()
    assert lines[0].split() == ["Status", "WorkflowId", "Type", "StartTime"]
    rows = [line.split()[:3] for line in lines[1:]]
    assert rows == [
        ["Completed", runs.id("q1"), "VisQuick"],
        ["Completed", runs.id("q0"), "VisQuick"],
        ["Running", runs.id("w2"), "VisWaiter"],
        ["Terminated", runs.id("w1"), "VisWaiter"],
        ["Running", runs.id("w0"), "VisWaiter"],
    ]

    query = f"{runs.mine} AND ExecutionStatus = 'Running'"
    listed = json.loads(await asyncio.to_thread(run_cli, [*temporal, "list", *address, "-q", query, "-o", "json"]))
    assert [w["execution"]["workflowId"] for w in listed] == [runs.id("w2"), runs.id("w0")]
    assert [w["execution"]["runId"] for w in listed] == [runs.run_ids["w2"], runs.run_ids["w0"]]

    limited = await asyncio.to_thread(run_cli, [*temporal, "list", *address, "-q", runs.mine, "--limit", "2"])
    assert len(limited.strip().splitlines()) == 3

    count = await asyncio.to_thread(run_cli, [*temporal, "count", *address, "--query", runs.mine])
    assert count.strip() == "Total: 5"
    grouped = await asyncio.to_thread(
        run_cli, [*temporal, "count", *address, "--query", f"{runs.mine} GROUP BY ExecutionStatus"]
    )
    assert sorted(grouped.strip().splitlines()) == [
        "Group total: 1, values: Terminated",
        "Group total: 2, values: Completed",
        "Group total: 2, values: Running",
        "Total: 5",
    ]

    proc = await asyncio.to_thread(
        subprocess.run, [*temporal, "list", *address, "--query", "WorkflowId = "], capture_output=True, text=True
    )
    assert proc.returncode != 0 and "invalid query" in proc.stderr, proc.stderr


async def test_chronicle_cli_lists_and_counts(chronicle_server: str, runs: Runs) -> None:
    chronicle = [str(_chronicle_bin()), "workflow", "--address", chronicle_server]
    table = await asyncio.to_thread(run_cli, [*chronicle, "list", "--query", runs.mine, "--limit", "4"])
    lines = table.strip().splitlines()
    assert lines[0].split() == ["Status", "WorkflowId", "Type", "StartTime"]
    assert [line.split()[:2] for line in lines[1:]] == [
        ["Completed", runs.id("q1")],
        ["Completed", runs.id("q0")],
        ["Running", runs.id("w2")],
        ["Terminated", runs.id("w1")],
    ]
    listed = json.loads(await asyncio.to_thread(run_cli, [*chronicle, "list", "-q", runs.mine, "-o", "json"]))
    assert [w["workflowId"] for w in listed] == [runs.id(n) for n in NEWEST_FIRST]
    count = await asyncio.to_thread(run_cli, [*chronicle, "count", "-q", f"{runs.mine} GROUP BY ExecutionStatus"])
    assert count.strip().splitlines()[0] == "Total: 5"
    assert "Group total: 2, values: Running" in count
