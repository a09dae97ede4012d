"""End-to-end cancellation through the Python SDK: a sleeping workflow runs its
cleanup when canceled, and a heartbeating activity learns of its
cancellation."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    import pytest
    from temporalio.api.enums.v1 import EventType
    from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
    from temporalio.exceptions import CancelledError
    from temporalio.worker import Worker

TEST_TIMEOUT_S = 60.0
activity_saw_cancel: dict[str, bool] = {}


@activity.defn
async def cleanup(note: str) -> str:
    return f"cleaned up {note}"


@activity.defn
async def heartbeat_until_canceled(key: str) -> str:
    try:
        while True:
            activity.heartbeat()
            await asyncio.sleep(0.1)
    except asyncio.CancelledError:
        activity_saw_cancel[key] = True
        raise


@workflow.defn
class SleeperWorkflow:
    @workflow.run
    async def run(self) -> str:
        try:
            await asyncio.sleep(3600)
            return "woke up"
        except asyncio.CancelledError:
            await workflow.execute_activity(cleanup, "sleeper", start_to_close_timeout=timedelta(seconds=10))
            raise


@workflow.defn
class CancelActivityWorkflow:
    @workflow.run
    async def run(self, key: str) -> str:
        handle = workflow.start_activity(
            heartbeat_until_canceled,
            key,
            start_to_close_timeout=timedelta(seconds=60),
            heartbeat_timeout=timedelta(seconds=5),
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        await asyncio.sleep(1)
        handle.cancel()
        try:
            await handle
        except Exception as e:  # ActivityError caused by CancelledError
            return f"activity canceled: {type(e.cause).__name__}"
        return "activity finished"


def worker_for(client: Client, task_queue: str) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[SleeperWorkflow, CancelActivityWorkflow],
        activities=[cleanup, heartbeat_until_canceled],
    )


async def test_canceling_a_sleeping_workflow_runs_its_cleanup(client: Client) -> None:
    task_queue = f"cancel-{uuid.uuid4()}"
    async with worker_for(client, task_queue):
        handle = await client.start_workflow(SleeperWorkflow.run, id=f"sleeper-{uuid.uuid4()}", task_queue=task_queue)
        for _ in range(100):  # until the workflow sleeps
            if any(e.event_type == EventType.EVENT_TYPE_TIMER_STARTED for e in (await handle.fetch_history()).events):
                break
            await asyncio.sleep(0.05)
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as failed:
            await asyncio.wait_for(handle.result(), TEST_TIMEOUT_S)
        assert isinstance(failed.value.cause, CancelledError)
        assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED
        kinds = [e.event_type for e in (await handle.fetch_history()).events]
        assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED in kinds
        assert EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED in kinds, "the cleanup activity ran"
        assert kinds[-1] == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED


async def test_canceling_a_heartbeating_activity(client: Client) -> None:
    task_queue = f"cancel-act-{uuid.uuid4()}"
    key = str(uuid.uuid4())
    async with worker_for(client, task_queue):
        result = await asyncio.wait_for(
            client.execute_workflow(CancelActivityWorkflow.run, key, id=f"ca-{key}", task_queue=task_queue),
            TEST_TIMEOUT_S,
        )
    assert result == "activity canceled: CancelledError"
    assert activity_saw_cancel.get(key), "the activity saw its cancellation"
