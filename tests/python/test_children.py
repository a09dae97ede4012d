"""Child workflows through the Python SDK: parallel children, failures,
per-child retry policies, parent close policies, id conflicts, many
children, dynamic selection by type name."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy

with workflow.unsafe.imports_passed_through():
    import pytest
    from temporalio.client import Client
    from temporalio.client import WorkflowExecutionStatus as Status
    from temporalio.exceptions import ApplicationError, ChildWorkflowError, WorkflowAlreadyStartedError
    from temporalio.worker import Worker

TIMEOUT_S = 60.0


@workflow.defn
class ItemWorkflow:
    @workflow.run
    async def run(self, item: str) -> str:
        if item.startswith("fail"):
            raise ApplicationError(f"cannot process {item}", type="ItemError", non_retryable=True)
        if item.startswith("flaky"):
            if workflow.info().attempt < 3:
                raise ApplicationError(f"attempt {workflow.info().attempt} failed", type="Flaky")
            return f"{item}@{workflow.info().attempt}"
        if item.startswith("sleep"):
            await asyncio.sleep(3600)
        return item.upper()


@workflow.defn
class ParentWorkflow:
    @workflow.run
    async def run(self, items: list[str]) -> list[str]:
        handles = [
            await workflow.start_child_workflow(ItemWorkflow.run, item, id=f"{workflow.info().workflow_id}-{item}")
            for item in items
        ]
        # The Python SDK's child handle is itself awaitable (the seed's h.result()).
        return list(await asyncio.gather(*handles))


@workflow.defn
class RetryingParentWorkflow:
    @workflow.run
    async def run(self, item: str) -> str:
        return await workflow.execute_child_workflow(
            ItemWorkflow.run,
            item,
            id=f"{workflow.info().workflow_id}-child",
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100), maximum_attempts=5),
        )


@workflow.defn
class FailingChildParentWorkflow:
    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.execute_child_workflow(ItemWorkflow.run, "fail-1", id=f"{workflow.info().workflow_id}-c")
        except ChildWorkflowError as err:
            cause = err.cause
            assert isinstance(cause, ApplicationError)
            return f"{type(err).__name__}:{cause.type}:{cause.message}"
        return "no error"


@workflow.defn
class PolicyParentWorkflow:
    """Starts a sleeping child with the given close policy, then returns."""

    @workflow.run
    async def run(self, policy: str) -> str:
        handle = await workflow.start_child_workflow(
            ItemWorkflow.run,
            "sleep",
            id=f"{workflow.info().workflow_id}-child",
            parent_close_policy=workflow.ParentClosePolicy[policy],
        )
        return handle.id


@workflow.defn
class ConflictParentWorkflow:
    @workflow.run
    async def run(self, child_id: str) -> str:
        try:
            await workflow.start_child_workflow(
                ItemWorkflow.run,
                "x",
                id=child_id,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            return "already started"
        return "started"


def worker(client: Client, task_queue: str) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[
            ItemWorkflow,
            ParentWorkflow,
            RetryingParentWorkflow,
            FailingChildParentWorkflow,
            PolicyParentWorkflow,
            ConflictParentWorkflow,
        ],
    )


async def test_ten_parallel_children_return_in_order(client: Client) -> None:
    tq = f"children-{uuid.uuid4()}"
    items = [f"item-{i}" for i in range(10)]
    async with worker(client, tq):
        wid = f"parent-{uuid.uuid4()}"
        result = await asyncio.wait_for(
            client.execute_workflow(ParentWorkflow.run, items, id=wid, task_queue=tq), TIMEOUT_S
        )
        assert result == [i.upper() for i in items]
        # Each child is its own execution with the parent recorded.
        child = await client.get_workflow_handle(f"{wid}-item-3").describe()
        assert child.parent_id == wid
        assert child.status == Status.COMPLETED
        assert child.task_queue == tq  # inherited from the parent
        history = await client.get_workflow_handle(wid).fetch_history()
        types = [e.event_type for e in history.events]
        from temporalio.api.enums.v1 import EventType

        assert types.count(EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED) == 10
        assert types.count(EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED) == 10
        assert types.count(EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED) == 10


async def test_hundred_children(client: Client) -> None:
    tq = f"children-{uuid.uuid4()}"
    items = [f"n{i}" for i in range(100)]
    async with worker(client, tq):
        result = await asyncio.wait_for(
            client.execute_workflow(ParentWorkflow.run, items, id=f"parent-{uuid.uuid4()}", task_queue=tq), 120
        )
        assert result == [i.upper() for i in items]


async def test_child_failure_reaches_parent_with_cause(client: Client) -> None:
    tq = f"children-{uuid.uuid4()}"
    async with worker(client, tq):
        result = await asyncio.wait_for(
            client.execute_workflow(FailingChildParentWorkflow.run, id=f"p-{uuid.uuid4()}", task_queue=tq), TIMEOUT_S
        )
        assert result == "ChildWorkflowError:ItemError:cannot process fail-1"


async def test_child_retries_on_its_own_policy(client: Client) -> None:
    tq = f"children-{uuid.uuid4()}"
    async with worker(client, tq):
        wid = f"p-{uuid.uuid4()}"
        result = await asyncio.wait_for(
            client.execute_workflow(RetryingParentWorkflow.run, "flaky", id=wid, task_queue=tq), TIMEOUT_S
        )
        assert result == "flaky@3"
        # The parent ran once: one child initiated, no parent retry.
        parent = await client.get_workflow_handle(wid).describe()
        assert parent.run_id is not None
        history = await client.get_workflow_handle(wid).fetch_history()
        from temporalio.api.enums.v1 import EventType

        initiated = [
            e for e in history.events if e.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
        ]
        assert len(initiated) == 1
        # The child's last run is attempt 3 and names the run it retried.
        child = client.get_workflow_handle(f"{wid}-child")
        child_history = await child.fetch_history()
        started = child_history.events[0].workflow_execution_started_event_attributes
        assert started.attempt == 3
        assert started.continued_execution_run_id
        assert started.parent_workflow_execution.workflow_id == wid


@pytest.mark.parametrize(
    "policy,expected",
    [
        ("TERMINATE", Status.TERMINATED),
        ("REQUEST_CANCEL", Status.CANCELED),
        ("ABANDON", Status.RUNNING),
    ],
)
async def test_parent_close_policy(client: Client, policy: str, expected: Status) -> None:
    tq = f"children-{uuid.uuid4()}"
    async with worker(client, tq):
        wid = f"p-{uuid.uuid4()}"
        child_id = await asyncio.wait_for(
            client.execute_workflow(PolicyParentWorkflow.run, policy, id=wid, task_queue=tq), TIMEOUT_S
        )
        child = client.get_workflow_handle(child_id)
        status = None
        # A policy acts within moments; an abandoned child is watched for 2 s.
        for _ in range(100 if expected != Status.RUNNING else 20):
            status = (await child.describe()).status
            if status == expected and expected != Status.RUNNING:
                break
            await asyncio.sleep(0.1)
        assert status == expected
        if expected == Status.RUNNING:
            await child.terminate(reason="test cleanup")


async def test_child_id_conflict_fails_the_start(client: Client) -> None:
    tq = f"children-{uuid.uuid4()}"
    async with worker(client, tq):
        taken = f"taken-{uuid.uuid4()}"
        blocker = await client.start_workflow(ItemWorkflow.run, "sleep", id=taken, task_queue=tq)
        result = await asyncio.wait_for(
            client.execute_workflow(ConflictParentWorkflow.run, taken, id=f"p-{uuid.uuid4()}", task_queue=tq),
            TIMEOUT_S,
        )
        assert result == "already started"
        history = await client.get_workflow_handle(taken).fetch_history()
        assert history.events[0].workflow_execution_started_event_attributes.parent_workflow_execution.workflow_id == ""
        await blocker.terminate(reason="test cleanup")


async def test_cli_describe_shows_the_family(client: Client, chronicle_server: str) -> None:
    import json
    import subprocess

    from conftest import _chronicle_bin

    tq = f"children-{uuid.uuid4()}"
    wid = f"family-{uuid.uuid4()}"
    async with worker(client, tq):
        await asyncio.wait_for(
            client.execute_workflow(ParentWorkflow.run, ["a", "b", "c"], id=wid, task_queue=tq), TIMEOUT_S
        )

    def describe(workflow_id: str) -> dict:
        cmd = [str(_chronicle_bin()), "workflow", "--address", chronicle_server, "-o", "json"]
        out = subprocess.run([*cmd, "describe", "-w", workflow_id], capture_output=True, text=True, check=True)
        return json.loads(out.stdout)

    parent = describe(wid)
    assert sorted(c["workflowId"] for c in parent["children"]) == [f"{wid}-a", f"{wid}-b", f"{wid}-c"]
    assert all(c["status"] == "COMPLETED" for c in parent["children"])
    assert parent["parent"] is None
    child = describe(f"{wid}-b")
    assert child["parent"]["workflowId"] == wid
    assert child["root"]["workflowId"] == wid
    assert [r["runId"] for r in child["runs"]] == [child["runId"]]


@workflow.defn
class ChattyChildWorkflow:
    """Signals its parent, then waits for the parent's reply signal."""

    def __init__(self) -> None:
        self.reply: str | None = None

    @workflow.run
    async def run(self, parent_id: str) -> str:
        await workflow.get_external_workflow_handle(parent_id).signal("from_child", "hello parent")
        await workflow.wait_condition(lambda: self.reply is not None)
        return f"child got: {self.reply}"

    @workflow.signal
    def from_parent(self, message: str) -> None:
        self.reply = message


@workflow.defn
class ChattyParentWorkflow:
    def __init__(self) -> None:
        self.heard: str | None = None

    @workflow.run
    async def run(self) -> list[str]:
        child = await workflow.start_child_workflow(
            ChattyChildWorkflow.run, workflow.info().workflow_id, id=f"{workflow.info().workflow_id}-child"
        )
        await workflow.wait_condition(lambda: self.heard is not None)
        await child.signal(ChattyChildWorkflow.from_parent, "hello child")
        return [f"parent got: {self.heard}", await child]

    @workflow.signal
    def from_child(self, message: str) -> None:
        self.heard = message


async def test_parent_and_child_signal_each_other(client: Client) -> None:
    tq = f"children-{uuid.uuid4()}"
    wid = f"chatty-{uuid.uuid4()}"
    async with Worker(client, task_queue=tq, workflows=[ChattyParentWorkflow, ChattyChildWorkflow]):
        result = await asyncio.wait_for(client.execute_workflow(ChattyParentWorkflow.run, id=wid, task_queue=tq), TIMEOUT_S)
    assert result == ["parent got: hello parent", "child got: hello child"]
    from temporalio.api.enums.v1 import EventType

    parent = await client.get_workflow_handle(wid).fetch_history()
    types = [e.event_type for e in parent.events]
    assert EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED in types
    assert EventType.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED in types
    signaled = [e for e in parent.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED]
    assert signaled[0].workflow_execution_signaled_event_attributes.external_workflow_execution.workflow_id == f"{wid}-child"


@workflow.defn
class CancellingParentWorkflow:
    @workflow.run
    async def run(self) -> str:
        child = await workflow.start_child_workflow(
            ItemWorkflow.run, "sleep", id=f"{workflow.info().workflow_id}-child"
        )
        await asyncio.sleep(0.2)
        child.cancel()
        try:
            await child
        except ChildWorkflowError as err:
            return f"{type(err.cause).__name__}"
        return "not canceled"


@workflow.defn
class TimingOutParentWorkflow:
    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.execute_child_workflow(
                ItemWorkflow.run,
                "sleep",
                id=f"{workflow.info().workflow_id}-child",
                execution_timeout=timedelta(seconds=1),
            )
        except ChildWorkflowError as err:
            return f"{type(err.cause).__name__}"
        return "no timeout"


async def test_parent_cancels_its_child(client: Client) -> None:
    tq = f"children-{uuid.uuid4()}"
    wid = f"canceller-{uuid.uuid4()}"
    async with Worker(client, task_queue=tq, workflows=[CancellingParentWorkflow, ItemWorkflow]):
        result = await asyncio.wait_for(
            client.execute_workflow(CancellingParentWorkflow.run, id=wid, task_queue=tq), TIMEOUT_S
        )
    assert result == "CancelledError"
    assert (await client.get_workflow_handle(f"{wid}-child").describe()).status == Status.CANCELED
    from temporalio.api.enums.v1 import EventType

    parent = await client.get_workflow_handle(wid).fetch_history()
    types = [e.event_type for e in parent.events]
    assert EventType.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED in types
    assert EventType.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED in types
    assert EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED in types


async def test_child_execution_timeout_reaches_the_parent(client: Client) -> None:
    tq = f"children-{uuid.uuid4()}"
    wid = f"timeout-{uuid.uuid4()}"
    async with Worker(client, task_queue=tq, workflows=[TimingOutParentWorkflow, ItemWorkflow]):
        result = await asyncio.wait_for(
            client.execute_workflow(TimingOutParentWorkflow.run, id=wid, task_queue=tq), TIMEOUT_S
        )
    assert result == "TimeoutError"
    assert (await client.get_workflow_handle(f"{wid}-child").describe()).status == Status.TIMED_OUT
