"""End-to-end updates through the Python SDK: a validator that accepts and one
that rejects (a rejection writes no events), 20 concurrent updates under the
in-flight limit, and updates to closed workflows."""

from __future__ import annotations

import asyncio
import uuid

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import pytest
    from temporalio.api.enums.v1 import EventType
    from temporalio.client import Client, WorkflowUpdateFailedError
    from temporalio.service import RPCError
    from temporalio.worker import Worker

TEST_TIMEOUT_S = 60.0


@workflow.defn
class LedgerWorkflow:
    def __init__(self) -> None:
        self.balance = 0
        self.closing = False

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.closing and workflow.all_handlers_finished())
        return self.balance

    @workflow.update
    async def deposit(self, amount: int) -> int:
        await asyncio.sleep(0.01)  # a timer: accepted and completed in different tasks
        self.balance += amount
        return self.balance

    @deposit.validator
    def validate_deposit(self, amount: int) -> None:
        if amount <= 0:
            raise ValueError(f"deposit must be positive, got {amount}")

    @workflow.update
    def add(self, amount: int) -> int:
        self.balance += amount
        return self.balance

    @workflow.signal
    def close(self) -> None:
        self.closing = True


def worker_for(client: Client, task_queue: str) -> Worker:
    return Worker(client, task_queue=task_queue, workflows=[LedgerWorkflow])


async def test_validator_accepts_and_rejects(client: Client) -> None:
    task_queue = f"update-{uuid.uuid4()}"
    async with worker_for(client, task_queue):
        handle = await client.start_workflow(LedgerWorkflow.run, id=f"ledger-{uuid.uuid4()}", task_queue=task_queue)
        assert await asyncio.wait_for(handle.execute_update(LedgerWorkflow.deposit, 10), TEST_TIMEOUT_S) == 10
        before = len((await handle.fetch_history()).events)
        with pytest.raises(WorkflowUpdateFailedError) as rejected:
            await asyncio.wait_for(handle.execute_update(LedgerWorkflow.deposit, -5), TEST_TIMEOUT_S)
        assert "must be positive" in str(rejected.value.cause)
        after = (await handle.fetch_history()).events
        assert len(after) == before, "a rejected update writes no events"
        await handle.signal(LedgerWorkflow.close)
        assert await asyncio.wait_for(handle.result(), TEST_TIMEOUT_S) == 10
        kinds = [e.event_type for e in (await handle.fetch_history()).events]
        assert kinds.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED) == 1
        assert kinds.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED) == 1


async def test_twenty_concurrent_updates(client: Client) -> None:
    task_queue = f"update-many-{uuid.uuid4()}"
    async with worker_for(client, task_queue):
        handle = await client.start_workflow(LedgerWorkflow.run, id=f"ledger-{uuid.uuid4()}", task_queue=task_queue)
        results = await asyncio.wait_for(
            asyncio.gather(*(handle.execute_update(LedgerWorkflow.add, 1, id=f"u{i}") for i in range(20))),
            TEST_TIMEOUT_S,
        )
        assert sorted(results) == list(range(1, 21))
        # The same update id again is the same update, not a new one.
        assert await handle.execute_update(LedgerWorkflow.add, 1, id="u0") in range(1, 21)
        await handle.signal(LedgerWorkflow.close)
        assert await asyncio.wait_for(handle.result(), TEST_TIMEOUT_S) == 20


async def test_update_on_a_closed_workflow_fails(client: Client) -> None:
    task_queue = f"update-closed-{uuid.uuid4()}"
    async with worker_for(client, task_queue):
        handle = await client.start_workflow(LedgerWorkflow.run, id=f"ledger-{uuid.uuid4()}", task_queue=task_queue)
        await handle.signal(LedgerWorkflow.close)
        await asyncio.wait_for(handle.result(), TEST_TIMEOUT_S)
        with pytest.raises(RPCError) as closed:
            await handle.execute_update(LedgerWorkflow.add, 1)
        assert "completed" in str(closed.value)


async def test_update_with_start_starts_the_workflow_with_the_update(client: Client) -> None:
    from temporalio.client import WithStartWorkflowOperation
    from temporalio.common import WorkflowIDConflictPolicy

    task_queue = f"update-{uuid.uuid4()}"
    wid = f"uws-{uuid.uuid4()}"
    async with worker_for(client, task_queue):
        start = WithStartWorkflowOperation(
            LedgerWorkflow.run, id=wid, task_queue=task_queue, id_conflict_policy=WorkflowIDConflictPolicy.FAIL
        )
        result = await asyncio.wait_for(
            client.execute_update_with_start_workflow(LedgerWorkflow.add, 7, start_workflow_operation=start),
            TEST_TIMEOUT_S,
        )
        assert result == 7
        handle = await start.workflow_handle()
        # The update rode the first workflow task: accepted and completed there.
        history = await handle.fetch_history()
        types = [e.event_type for e in history.events]
        assert types[:6] == [
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
            EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
            EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
            EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
        ], types
        await handle.signal(LedgerWorkflow.close)
        assert await asyncio.wait_for(handle.result(), TEST_TIMEOUT_S) == 7


async def test_update_with_start_uses_the_running_workflow(client: Client) -> None:
    from temporalio.client import WithStartWorkflowOperation, WorkflowUpdateStage
    from temporalio.common import WorkflowIDConflictPolicy

    task_queue = f"update-{uuid.uuid4()}"
    wid = f"uws-{uuid.uuid4()}"
    async with worker_for(client, task_queue):
        existing = await client.start_workflow(LedgerWorkflow.run, id=wid, task_queue=task_queue)
        await existing.execute_update(LedgerWorkflow.add, 1)
        start = WithStartWorkflowOperation(
            LedgerWorkflow.run, id=wid, task_queue=task_queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING
        )
        update = await asyncio.wait_for(
            client.start_update_with_start_workflow(
                LedgerWorkflow.add, 2, start_workflow_operation=start, wait_for_stage=WorkflowUpdateStage.ACCEPTED
            ),
            TEST_TIMEOUT_S,
        )
        assert await update.result() == 3
        assert (await start.workflow_handle()).result_run_id == existing.result_run_id
        # FAIL with a running workflow: the start fails, the update is aborted.
        from temporalio.exceptions import WorkflowAlreadyStartedError

        failing = WithStartWorkflowOperation(
            LedgerWorkflow.run, id=wid, task_queue=task_queue, id_conflict_policy=WorkflowIDConflictPolicy.FAIL
        )
        with pytest.raises(WorkflowAlreadyStartedError):
            await client.execute_update_with_start_workflow(LedgerWorkflow.add, 5, start_workflow_operation=failing)
        await existing.signal(LedgerWorkflow.close)
        assert await asyncio.wait_for(existing.result(), TEST_TIMEOUT_S) == 3
