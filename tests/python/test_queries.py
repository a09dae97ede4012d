"""End-to-end queries through the Python SDK: running and closed workflows, a
handler that raises, an unknown query type, reject conditions, and a query
nobody answers."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import pytest
    from temporalio.client import Client, WorkflowQueryFailedError, WorkflowQueryRejectedError
    from temporalio.common import QueryRejectCondition
    from temporalio.service import RPCError, RPCStatusCode
    from temporalio.worker import Worker

TEST_TIMEOUT_S = 60.0


@workflow.defn
class StatefulWorkflow:
    def __init__(self) -> None:
        self.value = "initial"
        self.finish = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.finish)
        return self.value

    @workflow.signal
    def set(self, value: str) -> None:
        self.value = value

    @workflow.signal
    def done(self) -> None:
        self.finish = True

    @workflow.query
    def get(self) -> str:
        return self.value

    @workflow.query
    def broken(self) -> str:
        raise RuntimeError("query handler failed on purpose")


def worker_for(client: Client, task_queue: str) -> Worker:
    return Worker(client, task_queue=task_queue, workflows=[StatefulWorkflow])


async def test_queries_on_running_and_closed_workflows(client: Client) -> None:
    task_queue = f"query-{uuid.uuid4()}"
    async with worker_for(client, task_queue):
        handle = await client.start_workflow(StatefulWorkflow.run, id=f"q-{uuid.uuid4()}", task_queue=task_queue)
        assert await asyncio.wait_for(handle.query(StatefulWorkflow.get), TEST_TIMEOUT_S) == "initial"
        await handle.signal(StatefulWorkflow.set, "changed")
        assert await asyncio.wait_for(handle.query(StatefulWorkflow.get), TEST_TIMEOUT_S) == "changed"
        await handle.signal(StatefulWorkflow.done)
        assert await asyncio.wait_for(handle.result(), TEST_TIMEOUT_S) == "changed"
        # Closed: a worker replays it to answer.
        assert await asyncio.wait_for(handle.query(StatefulWorkflow.get), TEST_TIMEOUT_S) == "changed"
        with pytest.raises(WorkflowQueryRejectedError):
            await handle.query(StatefulWorkflow.get, reject_condition=QueryRejectCondition.NOT_OPEN)


async def test_failing_and_unknown_queries(client: Client) -> None:
    task_queue = f"query-fail-{uuid.uuid4()}"
    async with worker_for(client, task_queue):
        handle = await client.start_workflow(StatefulWorkflow.run, id=f"qf-{uuid.uuid4()}", task_queue=task_queue)
        with pytest.raises(WorkflowQueryFailedError) as failed:
            await asyncio.wait_for(handle.query(StatefulWorkflow.broken), TEST_TIMEOUT_S)
        assert "failed on purpose" in str(failed.value)
        with pytest.raises(WorkflowQueryFailedError) as unknown:
            await asyncio.wait_for(handle.query("no_such_query"), TEST_TIMEOUT_S)
        assert "no_such_query" in str(unknown.value)
        await handle.signal(StatefulWorkflow.done)
        await asyncio.wait_for(handle.result(), TEST_TIMEOUT_S)


async def test_a_query_nobody_answers_times_out(client: Client) -> None:
    handle = await client.start_workflow(
        StatefulWorkflow.run, id=f"q-nobody-{uuid.uuid4()}", task_queue=f"nobody-{uuid.uuid4()}"
    )
    with pytest.raises(RPCError) as timed_out:
        await handle.query(StatefulWorkflow.get, rpc_timeout=timedelta(seconds=2))
    assert timed_out.value.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED)


async def test_a_query_sees_every_signal_acknowledged_before_it(client: Client) -> None:
    task_queue = f"query-consistent-{uuid.uuid4()}"
    async with worker_for(client, task_queue):
        handle = await client.start_workflow(StatefulWorkflow.run, id=f"qc-{uuid.uuid4()}", task_queue=task_queue)
        for i in range(20):
            await handle.signal(StatefulWorkflow.set, f"v{i}")
            assert await asyncio.wait_for(handle.query(StatefulWorkflow.get), TEST_TIMEOUT_S) == f"v{i}"
        await handle.signal(StatefulWorkflow.done)
        await asyncio.wait_for(handle.result(), TEST_TIMEOUT_S)


async def test_a_query_before_the_first_workflow_task(client: Client) -> None:
    from datetime import timedelta

    from temporalio.service import RPCError, RPCStatusCode

    task_queue = f"query-{uuid.uuid4()}"
    async with worker_for(client, task_queue):
        # The first task is a minute away: the query cannot wait that long.
        late = await client.start_workflow(
            StatefulWorkflow.run, id=f"late-{uuid.uuid4()}", task_queue=task_queue, start_delay=timedelta(minutes=1)
        )
        with pytest.raises(RPCError) as err:
            await late.query(StatefulWorkflow.get, rpc_timeout=timedelta(seconds=2))
        assert err.value.status == RPCStatusCode.FAILED_PRECONDITION
        assert "not scheduled yet" in err.value.message
        await late.terminate(reason="test cleanup")
        # A second away: the query waits for it and is answered.
        soon = await client.start_workflow(
            StatefulWorkflow.run, id=f"soon-{uuid.uuid4()}", task_queue=task_queue, start_delay=timedelta(seconds=1)
        )
        assert await soon.query(StatefulWorkflow.get, rpc_timeout=timedelta(seconds=10)) == "initial"
        await soon.signal(StatefulWorkflow.done)
        assert await asyncio.wait_for(soon.result(), TEST_TIMEOUT_S) == "initial"
