"""End-to-end through the Python SDK: terminate with a reason, activities
completed by id (async completion), heartbeat timeouts."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    import pytest
    from temporalio.api.enums.v1 import EventType, TimeoutType
    from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
    from temporalio.exceptions import ActivityError, TimeoutError as TemporalTimeoutError
    from temporalio.worker import Worker

TEST_TIMEOUT_S = 60.0
async_tokens: dict[str, tuple[str, str, str]] = {}


@activity.defn
async def completed_elsewhere(key: str) -> str:
    info = activity.info()
    async_tokens[key] = (info.workflow_id, info.workflow_run_id, info.activity_id)
    activity.raise_complete_async()


@activity.defn
async def silent(_: str) -> str:
    await asyncio.sleep(30)  # never heartbeats
    return "never"


@workflow.defn
class AsyncActivityWorkflow:
    @workflow.run
    async def run(self, key: str) -> str:
        return await workflow.execute_activity(completed_elsewhere, key, start_to_close_timeout=timedelta(seconds=30))


@workflow.defn
class HeartbeatTimeoutWorkflow:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(
            silent,
            "x",
            start_to_close_timeout=timedelta(seconds=30),
            heartbeat_timeout=timedelta(seconds=1),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )


@workflow.defn
class IdleWorkflow:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)


def worker_for(client: Client, task_queue: str) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[AsyncActivityWorkflow, HeartbeatTimeoutWorkflow, IdleWorkflow],
        activities=[completed_elsewhere, silent],
    )


async def test_terminate_with_reason(client: Client) -> None:
    task_queue = f"terminate-{uuid.uuid4()}"
    async with worker_for(client, task_queue):
        handle = await client.start_workflow(IdleWorkflow.run, id=f"idle-{uuid.uuid4()}", task_queue=task_queue)
        await handle.terminate("detail", reason="operator said so")
        with pytest.raises(WorkflowFailureError):
            await asyncio.wait_for(handle.result(), TEST_TIMEOUT_S)
        assert (await handle.describe()).status == WorkflowExecutionStatus.TERMINATED
        last = (await handle.fetch_history()).events[-1]
        assert last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED
        assert last.workflow_execution_terminated_event_attributes.reason == "operator said so"


async def test_activity_completed_by_id(client: Client) -> None:
    task_queue = f"async-activity-{uuid.uuid4()}"
    key = str(uuid.uuid4())
    async with worker_for(client, task_queue):
        handle = await client.start_workflow(AsyncActivityWorkflow.run, key, id=f"async-{key}", task_queue=task_queue)
        for _ in range(200):
            if key in async_tokens:
                break
            await asyncio.sleep(0.05)
        workflow_id, run_id, activity_id = async_tokens[key]
        await client.get_async_activity_handle(workflow_id=workflow_id, run_id=run_id, activity_id=activity_id).complete(
            "done by id"
        )
        assert await asyncio.wait_for(handle.result(), TEST_TIMEOUT_S) == "done by id"


async def test_heartbeat_timeout(client: Client) -> None:
    task_queue = f"heartbeat-{uuid.uuid4()}"
    async with worker_for(client, task_queue):
        handle = await client.start_workflow(HeartbeatTimeoutWorkflow.run, id=f"hb-{uuid.uuid4()}", task_queue=task_queue)
        with pytest.raises(WorkflowFailureError) as failed:
            await asyncio.wait_for(handle.result(), TEST_TIMEOUT_S)
        cause = failed.value.cause
        assert isinstance(cause, ActivityError)
        assert isinstance(cause.cause, TemporalTimeoutError)
        assert cause.cause.type == TimeoutType.TIMEOUT_TYPE_HEARTBEAT
