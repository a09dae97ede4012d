"""DescribeTaskQueue (pollers), ResetStickyTaskQueue and the reverse history
read, through the Python SDK's raw service client and the temporal CLI."""

from __future__ import annotations

import asyncio
import subprocess
import uuid

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import pytest
    from temporalio.api.common.v1 import WorkflowExecution
    from temporalio.api.enums.v1 import TaskQueueType
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import (
        DescribeTaskQueueRequest,
        GetWorkflowExecutionHistoryReverseRequest,
        ResetStickyTaskQueueRequest,
    )
    from temporalio.client import Client
    from temporalio.worker import Worker

    from reference import temporal_bin, temporal_bin_missing_reason


@workflow.defn
class NapWorkflow:
    @workflow.run
    async def run(self, naps: int) -> int:
        for _ in range(naps):
            await asyncio.sleep(0.01)
        return naps


async def test_describe_task_queue_lists_pollers(client: Client, chronicle_server: str) -> None:
    tq = f"tq-{uuid.uuid4()}"
    async with Worker(client, task_queue=tq, workflows=[NapWorkflow], identity="napper@test"):
        await client.execute_workflow(NapWorkflow.run, 1, id=f"nap-{uuid.uuid4()}", task_queue=tq)
        for kind in (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY):
            r = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(namespace="default", task_queue=TaskQueue(name=tq), task_queue_type=kind)
            )
            if kind == TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW:
                assert [p.identity for p in r.pollers] == ["napper@test"]
                assert r.pollers[0].HasField("last_access_time")
        if temporal_bin_missing_reason() is None:
            # The CLI's default (enhanced) mode and its legacy mode.
            for mode in ([], ["--legacy-mode"]):
                cmd = [str(temporal_bin()), "task-queue", "describe", *mode, "--address", chronicle_server]
                out = subprocess.run([*cmd, "--task-queue", tq], capture_output=True, text=True, timeout=30)
                assert out.returncode == 0, out.stderr
                assert "napper@test" in out.stdout, out.stdout


async def test_reverse_history_pages_newest_first(client: Client) -> None:
    tq = f"tq-{uuid.uuid4()}"
    wid = f"nap-{uuid.uuid4()}"
    async with Worker(client, task_queue=tq, workflows=[NapWorkflow]):
        await client.execute_workflow(NapWorkflow.run, 3, id=wid, task_queue=tq)
    forward = [e.event_id for e in (await client.get_workflow_handle(wid).fetch_history()).events]
    backward: list[int] = []
    token = b""
    while True:
        r = await client.workflow_service.get_workflow_execution_history_reverse(
            GetWorkflowExecutionHistoryReverseRequest(
                namespace="default",
                execution=WorkflowExecution(workflow_id=wid),
                maximum_page_size=4,
                next_page_token=token,
            )
        )
        assert len(r.history.events) <= 4
        backward.extend(e.event_id for e in r.history.events)
        token = r.next_page_token
        if not token:
            break
    assert backward == list(reversed(forward))


async def test_reset_sticky_task_queue(client: Client) -> None:
    tq = f"tq-{uuid.uuid4()}"
    wid = f"nap-{uuid.uuid4()}"
    async with Worker(client, task_queue=tq, workflows=[NapWorkflow]):
        handle = await client.start_workflow(NapWorkflow.run, 50, id=wid, task_queue=tq)
        await client.workflow_service.reset_sticky_task_queue(
            ResetStickyTaskQueueRequest(namespace="default", execution=WorkflowExecution(workflow_id=wid))
        )
        assert await handle.result() == 50  # the run goes on, from the normal queue
    with pytest.raises(Exception):
        await client.workflow_service.reset_sticky_task_queue(
            ResetStickyTaskQueueRequest(namespace="default", execution=WorkflowExecution(workflow_id="nobody"))
        )
