"""End-to-end: the official Temporal Python SDK (client + worker) against Chronicle."""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    import pytest
    from temporalio.api.enums.v1 import EventType
    from temporalio.client import Client, WorkflowFailureError
    from temporalio.exceptions import (
        ActivityError,
        ApplicationError,
        WorkflowAlreadyStartedError,
    )
    from temporalio.worker import Worker

FAILURE_MESSAGE = "activity failed on purpose"
# Bound on each test's run time, so a misbehaving server fails the test instead of hanging it.
TEST_TIMEOUT_S = 60.0


# --- activities --------------------------------------------------------------


@activity.defn
async def say_hello(name: str) -> str:
    return f"Hello, {name}!"


@activity.defn
async def always_fail(name: str) -> str:
    raise ApplicationError(FAILURE_MESSAGE, name, type="IntentionalFailure")


# --- workflows ---------------------------------------------------------------


@workflow.defn
class HelloWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            say_hello,
            name,
            start_to_close_timeout=timedelta(seconds=10),
        )


@workflow.defn
class FailingActivityWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            always_fail,
            name,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )


@workflow.defn
class WaitForeverWorkflow:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)


# --- helpers -----------------------------------------------------------------


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4()}"


def bounded(test):
    """Fail the test (instead of hanging) if it does not finish within TEST_TIMEOUT_S."""

    @functools.wraps(test)
    async def wrapper(*args, **kwargs):
        try:
            return await asyncio.wait_for(test(*args, **kwargs), TEST_TIMEOUT_S)
        except asyncio.TimeoutError:
            pytest.fail(f"{test.__name__} did not finish within {TEST_TIMEOUT_S:.0f}s", pytrace=False)

    return wrapper


def worker_for(client: Client, task_queue: str) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[HelloWorkflow, FailingActivityWorkflow, WaitForeverWorkflow],
        activities=[say_hello, always_fail],
    )


def event_type_name(camel: str) -> str:
    """'WorkflowExecutionStarted' -> EventType value of 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED'."""
    snake = "".join("_" + c if c.isupper() else c for c in camel).lstrip("_").upper()
    return "EVENT_TYPE_" + snake


EXPECTED_HELLO_HISTORY = [
    "WorkflowExecutionStarted",
    "WorkflowTaskScheduled",
    "WorkflowTaskStarted",
    "WorkflowTaskCompleted",
    "ActivityTaskScheduled",
    "ActivityTaskStarted",
    "ActivityTaskCompleted",
    "WorkflowTaskScheduled",
    "WorkflowTaskStarted",
    "WorkflowTaskCompleted",
    "WorkflowExecutionCompleted",
]


# --- tests -------------------------------------------------------------------


@bounded
async def test_hello_workflow(client: Client) -> None:
    task_queue = unique("hello-tq")
    async with worker_for(client, task_queue):
        result = await client.execute_workflow(
            HelloWorkflow.run,
            "Chronicle",
            id=unique("hello-wf"),
            task_queue=task_queue,
        )
    assert result == "Hello, Chronicle!"


@bounded
async def test_hello_workflow_history(client: Client) -> None:
    task_queue = unique("history-tq")
    workflow_id = unique("history-wf")
    async with worker_for(client, task_queue):
        handle = await client.start_workflow(
            HelloWorkflow.run,
            "History",
            id=workflow_id,
            task_queue=task_queue,
        )
        assert await handle.result() == "Hello, History!"

    history = await handle.fetch_history()
    actual = [EventType.Name(e.event_type) for e in history.events]
    expected = [event_type_name(name) for name in EXPECTED_HELLO_HISTORY]
    assert actual == expected
    # Event ids are 1..N in order.
    assert [e.event_id for e in history.events] == list(range(1, len(expected) + 1))
    # The history belongs to the workflow we started.
    assert history.workflow_id == workflow_id


@bounded
async def test_activity_failure_fails_workflow(client: Client) -> None:
    task_queue = unique("fail-tq")
    async with worker_for(client, task_queue):
        with pytest.raises(WorkflowFailureError) as exc_info:
            await client.execute_workflow(
                FailingActivityWorkflow.run,
                "boom",
                id=unique("fail-wf"),
                task_queue=task_queue,
            )
    err = exc_info.value
    assert isinstance(err.cause, ActivityError), f"cause was {err.cause!r}"
    app_err = err.cause.cause
    assert isinstance(app_err, ApplicationError), f"activity error cause was {app_err!r}"
    assert app_err.message == FAILURE_MESSAGE
    assert app_err.type == "IntentionalFailure"


@bounded
async def test_duplicate_workflow_id_while_running(client: Client) -> None:
    # No worker on this task queue: the first execution stays running.
    task_queue = unique("dup-tq")
    workflow_id = unique("dup-wf")
    first = await client.start_workflow(
        WaitForeverWorkflow.run,
        id=workflow_id,
        task_queue=task_queue,
    )
    assert first.id == workflow_id
    assert first.result_run_id
    with pytest.raises(WorkflowAlreadyStartedError) as exc_info:
        await client.start_workflow(
            WaitForeverWorkflow.run,
            id=workflow_id,
            task_queue=task_queue,
        )
    assert exc_info.value.workflow_id == workflow_id


@workflow.defn
class SleepyWorkflow:
    @workflow.run
    async def run(self, seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "awake"


async def test_timer_fires_after_its_duration(client: Client) -> None:
    task_queue = f"sleepy-{uuid.uuid4()}"
    async with Worker(client, task_queue=task_queue, workflows=[SleepyWorkflow]):
        began = time.monotonic()
        result = await client.execute_workflow(
            SleepyWorkflow.run, 1.0, id=f"sleepy-{uuid.uuid4()}", task_queue=task_queue
        )
        assert result == "awake"
        assert time.monotonic() - began >= 1.0
