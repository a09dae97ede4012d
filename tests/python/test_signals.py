"""End-to-end signals through the Python SDK: order, bursts while a workflow
task is in flight, signal-with-start both ways, and bad targets."""

from __future__ import annotations

import asyncio
import uuid

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import pytest
    from temporalio.client import Client, WorkflowHandle
    from temporalio.service import RPCError, RPCStatusCode
    from temporalio.worker import Worker

TEST_TIMEOUT_S = 60.0


@workflow.defn
class CollectorWorkflow:
    """Collects `add` signals until `done` arrives; returns them in order."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.done = False

    @workflow.run
    async def run(self, expected: int) -> list[str]:
        await workflow.wait_condition(lambda: self.done and len(self.items) >= expected)
        return self.items

    @workflow.signal
    async def add(self, item: str) -> None:
        self.items.append(item)

    @workflow.signal
    async def finish(self) -> None:
        self.done = True


def worker_for(client: Client, task_queue: str) -> Worker:
    return Worker(client, task_queue=task_queue, workflows=[CollectorWorkflow])


async def start(client: Client, task_queue: str, expected: int) -> WorkflowHandle:
    return await client.start_workflow(
        CollectorWorkflow.run, expected, id=f"collector-{uuid.uuid4()}", task_queue=task_queue
    )


async def test_signals_arrive_in_order(client: Client) -> None:
    task_queue = f"signals-{uuid.uuid4()}"
    async with worker_for(client, task_queue):
        handle = await start(client, task_queue, 5)
        for i in range(5):
            await handle.signal(CollectorWorkflow.add, f"item-{i}")
        await handle.signal(CollectorWorkflow.finish)
        result = await asyncio.wait_for(handle.result(), TEST_TIMEOUT_S)
        assert result == [f"item-{i}" for i in range(5)]


async def test_a_burst_of_100_signals_is_delivered_in_order(client: Client) -> None:
    # Sent concurrently with the worker's tasks: many land while a workflow
    # task is in flight and are buffered, none may be lost or reordered
    # relative to their acknowledgement.
    task_queue = f"burst-{uuid.uuid4()}"
    async with worker_for(client, task_queue):
        handle = await start(client, task_queue, 100)
        for i in range(100):
            await handle.signal(CollectorWorkflow.add, f"s{i:03}")
        await handle.signal(CollectorWorkflow.finish)
        result = await asyncio.wait_for(handle.result(), TEST_TIMEOUT_S)
        assert result == [f"s{i:03}" for i in range(100)]
        history = await handle.fetch_history()
        signaled = [e for e in history.events if e.HasField("workflow_execution_signaled_event_attributes")]
        assert len(signaled) == 101
        ids = [e.event_id for e in history.events]
        assert ids == list(range(1, len(ids) + 1))


async def test_signal_with_start_starts_then_signals_the_running_workflow(client: Client) -> None:
    task_queue = f"sws-{uuid.uuid4()}"
    workflow_id = f"sws-{uuid.uuid4()}"
    first = await client.start_workflow(
        CollectorWorkflow.run,
        2,
        id=workflow_id,
        task_queue=task_queue,
        start_signal="add",
        start_signal_args=["first"],
    )
    second = await client.start_workflow(
        CollectorWorkflow.run,
        2,
        id=workflow_id,
        task_queue=task_queue,
        start_signal="add",
        start_signal_args=["second"],
    )
    assert second.result_run_id == first.result_run_id, "the running workflow is signaled, not restarted"
    async with worker_for(client, task_queue):
        await first.signal(CollectorWorkflow.finish)
        assert await asyncio.wait_for(first.result(), TEST_TIMEOUT_S) == ["first", "second"]
    history = await first.fetch_history()
    kinds = [e.event_type for e in history.events[:3]]
    from temporalio.api.enums.v1 import EventType

    assert kinds == [
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    ]


async def test_signals_to_closed_or_unknown_workflows_are_not_found(client: Client) -> None:
    task_queue = f"closed-{uuid.uuid4()}"
    async with worker_for(client, task_queue):
        handle = await start(client, task_queue, 0)
        await handle.signal(CollectorWorkflow.finish)
        await asyncio.wait_for(handle.result(), TEST_TIMEOUT_S)
    with pytest.raises(RPCError) as closed:
        await handle.signal(CollectorWorkflow.add, "late")
    assert closed.value.status == RPCStatusCode.NOT_FOUND
    unknown = client.get_workflow_handle(f"never-started-{uuid.uuid4()}")
    with pytest.raises(RPCError) as missing:
        await unknown.signal("add", "x")
    assert missing.value.status == RPCStatusCode.NOT_FOUND
