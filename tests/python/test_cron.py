"""Cron workflows through the Python SDK: each run waits for the schedule's
next time, later runs see the last result, terminate ends the chain."""

from __future__ import annotations

import asyncio
import uuid

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import pytest
    from temporalio.api.enums.v1 import ContinueAsNewInitiator, EventType
    from temporalio.client import Client
    from temporalio.client import WorkflowExecutionStatus as Status
    from temporalio.service import RPCError, RPCStatusCode
    from temporalio.worker import Worker

TIMEOUT_S = 60.0


@workflow.defn
class TickWorkflow:
    @workflow.run
    async def run(self) -> int:
        previous = workflow.get_last_completion_result(int) if workflow.has_last_completion_result() else 0
        return previous + 1


async def test_cron_runs_on_schedule_and_carries_the_last_result(client: Client) -> None:
    tq = f"cron-{uuid.uuid4()}"
    wid = f"tick-{uuid.uuid4()}"
    async with Worker(client, task_queue=tq, workflows=[TickWorkflow]):
        handle = await client.start_workflow(TickWorkflow.run, id=wid, task_queue=tq, cron_schedule="@every 1s")
        runs = []
        for _ in range(100):
            runs = [w async for w in client.list_workflows(f"WorkflowId = '{wid}'")]
            if sum(r.status == Status.COMPLETED for r in runs) >= 3:
                break
            await asyncio.sleep(0.2)
        completed = [r for r in reversed(runs) if r.status == Status.COMPLETED]
        assert len(completed) >= 3, runs
        results = []
        for run in completed[:3]:
            history = await client.get_workflow_handle(wid, run_id=run.run_id).fetch_history()
            started = history.events[0].workflow_execution_started_event_attributes
            assert started.cron_schedule == "@every 1s"
            # Every run, the first included, waits for its scheduled time.
            assert started.first_workflow_task_backoff.ToTimedelta().total_seconds() > 0
            last = history.events[-1]
            assert last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
            assert last.workflow_execution_completed_event_attributes.new_execution_run_id
            results.append(history)
        second = results[1].events[0].workflow_execution_started_event_attributes
        assert second.initiator == ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE
        assert second.continued_execution_run_id == completed[0].run_id
        # Each run returns the previous result + 1.
        from temporalio.converter import DataConverter

        values = [
            await DataConverter.default.decode(
                h.events[-1].workflow_execution_completed_event_attributes.result.payloads, [int]
            )
            for h in results
        ]
        assert [v[0] for v in values] == [1, 2, 3]
        # Terminating the current run ends the chain.
        await handle.terminate(reason="enough")
        await asyncio.sleep(1.5)
        latest = [w async for w in client.list_workflows(f"WorkflowId = '{wid}'")][0]
        assert latest.status == Status.TERMINATED


async def test_invalid_cron_schedule_is_rejected(client: Client) -> None:
    with pytest.raises(RPCError) as err:
        await client.start_workflow(
            TickWorkflow.run, id=f"tick-{uuid.uuid4()}", task_queue="cron-bad", cron_schedule="61 * * * *"
        )
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert "CronSchedule" in err.value.message
