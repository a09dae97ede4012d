"""Continue-as-new, workflow retries and history limits through the Python
SDK. The server runs with small limits so each threshold is reached fast."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    import pytest
    from temporalio.api.enums.v1 import EventType, SuggestContinueAsNewReason, WorkflowTaskFailedCause
    from temporalio.client import Client, WorkflowFailureError
    from temporalio.client import WorkflowExecutionStatus as Status
    from temporalio.exceptions import ApplicationError, TerminatedError
    from temporalio.worker import Worker

SUGGEST_AT = 40
WARN_AT = 100
ERROR_AT = 300
CHRONICLE_SERVER_ARGS = [
    "--dynamic-config-value",
    f"limit.historyCount.warn={WARN_AT}",
    "--dynamic-config-value",
    f"limit.historyCount.suggestContinueAsNew={SUGGEST_AT}",
    "--dynamic-config-value",
    f"limit.historyCount.error={ERROR_AT}",
    "--dynamic-config-value",
    "limit.numPendingChildExecutions.error=3",
]
TIMEOUT_S = 60.0


@dataclass
class BatchState:
    total: int
    done: int = 0
    runs: int = 1


@activity.defn
async def process_batch(batch: int) -> int:
    return batch


@workflow.defn
class BatchWorkflow:
    @workflow.run
    async def run(self, state: BatchState) -> BatchState:
        iteration = 0
        while state.done < state.total:
            await workflow.execute_activity(process_batch, state.done, start_to_close_timeout=timedelta(seconds=10))
            state.done += 1
            iteration += 1
            if iteration >= 5 and state.done < state.total:
                state.runs += 1
                workflow.continue_as_new(state)
        return state


@workflow.defn
class SuggestedWorkflow:
    """Sleeps in short steps until the server suggests continue-as-new."""

    @workflow.run
    async def run(self) -> int:
        steps = 0
        while not workflow.info().is_continue_as_new_suggested():
            await asyncio.sleep(0.01)
            steps += 1
        return workflow.info().get_current_history_length()


@workflow.defn
class EndlessWorkflow:
    @workflow.run
    async def run(self) -> None:
        while True:
            await asyncio.sleep(0.01)


@workflow.defn
class FlakyWorkflow:
    @workflow.run
    async def run(self) -> int:
        if workflow.info().attempt < 3:
            raise ApplicationError(f"attempt {workflow.info().attempt} failed")
        return workflow.info().attempt


@workflow.defn
class HugeContinueWorkflow:
    @workflow.run
    async def run(self, payload: str) -> None:
        if payload == "":
            workflow.continue_as_new("x" * (3 * 1024 * 1024))


@workflow.defn
class SleeperWorkflow:
    @workflow.run
    async def run(self) -> None:
        await asyncio.sleep(3600)


@workflow.defn
class ManyChildrenWorkflow:
    @workflow.run
    async def run(self, n: int) -> None:
        for i in range(n):
            await workflow.start_child_workflow(SleeperWorkflow.run, id=f"{workflow.info().workflow_id}-{i}")


def worker(client: Client, tq: str) -> Worker:
    return Worker(
        client,
        task_queue=tq,
        workflows=[
            BatchWorkflow,
            SuggestedWorkflow,
            EndlessWorkflow,
            FlakyWorkflow,
            HugeContinueWorkflow,
            SleeperWorkflow,
            ManyChildrenWorkflow,
        ],
        activities=[process_batch],
    )


async def test_continue_as_new_loop_runs_five_runs(client: Client) -> None:
    tq = f"can-{uuid.uuid4()}"
    wid = f"batches-{uuid.uuid4()}"
    async with worker(client, tq):
        handle = await client.start_workflow(BatchWorkflow.run, BatchState(total=23), id=wid, task_queue=tq)
        result = await asyncio.wait_for(handle.result(), TIMEOUT_S)  # follows the chain
        assert result.done == 23 and result.runs == 5
    runs = [w async for w in client.list_workflows(f"WorkflowId = '{wid}'")]
    assert len(runs) == 5
    assert [r.status for r in runs] == [Status.COMPLETED] + [Status.CONTINUED_AS_NEW] * 4
    first = runs[-1]
    assert first.run_id == handle.first_execution_run_id or first.run_id == handle.result_run_id
    history = await client.get_workflow_handle(wid, run_id=first.run_id).fetch_history()
    last = history.events[-1]
    assert last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    second = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
    assert second == runs[-2].run_id
    second_history = await client.get_workflow_handle(wid, run_id=second).fetch_history()
    started = second_history.events[0].workflow_execution_started_event_attributes
    assert started.continued_execution_run_id == first.run_id
    assert started.first_execution_run_id == first.run_id
    assert started.task_queue.name == tq
    # The chain is listed newest first, and each run by its id.
    only_second = [w async for w in client.list_workflows(f"WorkflowId = '{wid}' AND RunId = '{second}'")]
    assert [w.run_id for w in only_second] == [second]
    # `chronicle workflow describe` shows the chain, newest first.
    import json
    import subprocess

    from conftest import _chronicle_bin

    address = client.service_client.config.target_host
    cmd = [str(_chronicle_bin()), "workflow", "--address", address, "-o", "json", "describe", "-w", wid]
    described = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    assert [r["runId"] for r in described["runs"]] == [r.run_id for r in runs]
    assert described["firstRunId"] == first.run_id


async def test_suggest_continue_as_new_flips_at_threshold(client: Client) -> None:
    tq = f"can-{uuid.uuid4()}"
    wid = f"suggest-{uuid.uuid4()}"
    async with worker(client, tq):
        length = await asyncio.wait_for(client.execute_workflow(SuggestedWorkflow.run, id=wid, task_queue=tq), TIMEOUT_S)
    assert length >= SUGGEST_AT
    history = await client.get_workflow_handle(wid).fetch_history()
    started = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED]
    for e in started:
        attrs = e.workflow_task_started_event_attributes
        assert attrs.suggest_continue_as_new == (e.event_id >= SUGGEST_AT), e.event_id
        assert attrs.history_size_bytes > 0
        if attrs.suggest_continue_as_new:
            assert SuggestContinueAsNewReason.SUGGEST_CONTINUE_AS_NEW_REASON_TOO_MANY_HISTORY_EVENTS in list(
                attrs.suggest_continue_as_new_reasons
            )
    assert any(e.workflow_task_started_event_attributes.suggest_continue_as_new for e in started)


async def test_history_count_limit_terminates(client: Client) -> None:
    tq = f"can-{uuid.uuid4()}"
    wid = f"endless-{uuid.uuid4()}"
    async with worker(client, tq):
        handle = await client.start_workflow(EndlessWorkflow.run, id=wid, task_queue=tq)
        with pytest.raises(WorkflowFailureError) as err:
            await asyncio.wait_for(handle.result(), TIMEOUT_S)
        assert isinstance(err.value.cause, TerminatedError)
    history = await handle.fetch_history()
    assert len(history.events) <= ERROR_AT + 2  # the prior state plus the termination
    last = history.events[-1]
    assert last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED
    assert last.workflow_execution_terminated_event_attributes.reason == "Workflow history count exceeds limit."
    assert last.workflow_execution_terminated_event_attributes.identity == "history-service"
    # On its way it passed the warning threshold, which the server logs once.
    from conftest import SERVERS

    server = SERVERS.get(client.service_client.config.target_host)
    if server is not None:  # not when CHRONICLE_ADDRESS points at another server
        logged = [line for line in server.output if "history size exceeds warn limit" in line and wid in line]
        assert len(logged) == 1, server.tail()


async def test_workflow_retry_policy_runs_until_attempt_three(client: Client) -> None:
    tq = f"can-{uuid.uuid4()}"
    wid = f"flaky-{uuid.uuid4()}"
    async with worker(client, tq):
        attempt = await asyncio.wait_for(
            client.execute_workflow(
                FlakyWorkflow.run,
                id=wid,
                task_queue=tq,
                retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100), maximum_attempts=5),
            ),
            TIMEOUT_S,
        )
    assert attempt == 3
    runs = [w async for w in client.list_workflows(f"WorkflowId = '{wid}'")]
    assert [r.status for r in runs] == [Status.COMPLETED, Status.FAILED, Status.FAILED]
    first = await client.get_workflow_handle(wid, run_id=runs[-1].run_id).fetch_history()
    failed = first.events[-1].workflow_execution_failed_event_attributes
    assert failed.new_execution_run_id == runs[-2].run_id
    from temporalio.api.enums.v1 import RetryState

    assert failed.retry_state == RetryState.RETRY_STATE_IN_PROGRESS


async def test_continue_as_new_with_oversized_input_fails_the_task(client: Client) -> None:
    tq = f"can-{uuid.uuid4()}"
    wid = f"huge-{uuid.uuid4()}"
    async with worker(client, tq):
        handle = await client.start_workflow(HugeContinueWorkflow.run, "", id=wid, task_queue=tq)
        cause = None
        for _ in range(100):
            history = await handle.fetch_history()
            failed = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
            if failed:
                cause = failed[0].workflow_task_failed_event_attributes.cause
                message = failed[0].workflow_task_failed_event_attributes.failure.message
                break
            await asyncio.sleep(0.1)
        assert cause == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_CONTINUE_AS_NEW_ATTRIBUTES, cause
        assert "2 MiB" in message
        assert (await handle.describe()).status == Status.RUNNING  # not lost: the task is retried
        await handle.terminate(reason="test cleanup")


async def test_pending_children_limit_fails_the_task(client: Client) -> None:
    tq = f"can-{uuid.uuid4()}"
    wid = f"many-{uuid.uuid4()}"
    async with worker(client, tq):
        handle = await client.start_workflow(ManyChildrenWorkflow.run, 5, id=wid, task_queue=tq)
        failed = []
        for _ in range(100):
            history = await handle.fetch_history()
            failed = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
            if failed:
                break
            await asyncio.sleep(0.1)
        assert failed
        attrs = failed[0].workflow_task_failed_event_attributes
        assert attrs.cause == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_PENDING_CHILD_WORKFLOWS_LIMIT_EXCEEDED
        initiated = [
            e for e in history.events if e.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
        ]
        assert len(initiated) <= 3
        await handle.terminate(reason="test cleanup")
        # TERMINATE is the default close policy: the started children go too.
        for i in range(len(initiated)):
            child = client.get_workflow_handle(f"{wid}-{i}")
            for _ in range(50):
                if (await child.describe()).status == Status.TERMINATED:
                    break
                await asyncio.sleep(0.1)
            assert (await child.describe()).status == Status.TERMINATED
