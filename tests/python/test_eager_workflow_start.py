"""Eager workflow start: StartWorkflowExecution with `request_eager_execution` returns the run's
first workflow task, already started, in its response (no poll), as Temporal does with
`system.enableEagerWorkflowStart` (on by default on both). Driven through the raw API and through
the Python SDK's `request_eager_start`, on Chronicle and on Temporal's dev server."""

import asyncio
import uuid
from datetime import timedelta

from google.protobuf.duration_pb2 import Duration
from temporalio import workflow
from temporalio.api.common.v1 import Payload, Payloads, WorkflowType
from temporalio.api.enums.v1 import EventType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    GetSystemInfoRequest,
    GetWorkflowExecutionHistoryRequest,
    PollWorkflowTaskQueueRequest,
    PollWorkflowTaskQueueResponse,
    StartWorkflowExecutionRequest,
)
from temporalio.client import Client
from temporalio.worker import Worker

from conftest import NAMESPACE
from raw_api import complete_workflow
from reference import reference_server  # noqa: F401  (a fixture)

IDENTITY = "eager-starter"


def payloads(text: str) -> Payloads:
    return Payloads(payloads=[Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())])


def start_request(queue: str, **fields) -> StartWorkflowExecutionRequest:
    base = dict(
        namespace=NAMESPACE,
        workflow_id=f"eager-{uuid.uuid4()}",
        workflow_type=WorkflowType(name="EagerWorkflow"),
        task_queue=TaskQueue(name=queue),
        input=payloads("in"),
        identity=IDENTITY,
        request_id=str(uuid.uuid4()),
        request_eager_execution=True,
    )
    base.update(fields)
    return StartWorkflowExecutionRequest(**base)


async def complete(client: Client, task: PollWorkflowTaskQueueResponse) -> None:
    await complete_workflow(client.workflow_service, task.task_token, IDENTITY, payloads("ok"))


async def history(client: Client, workflow_id: str) -> list:
    from temporalio.api.common.v1 import WorkflowExecution

    response = await client.workflow_service.get_workflow_execution_history(
        GetWorkflowExecutionHistoryRequest(namespace=NAMESPACE, execution=WorkflowExecution(workflow_id=workflow_id))
    )
    return list(response.history.events)


def set_fields(message) -> list[str]:
    return sorted(field.name for field, _ in message.ListFields())


async def start_and_complete_eagerly(address: str) -> dict:
    """Starts eagerly, completes the task from the response alone, and returns what it saw."""
    client = await Client.connect(address, namespace=NAMESPACE)
    request = start_request(f"eager-{uuid.uuid4()}")
    response = await client.workflow_service.start_workflow_execution(request)
    task = response.eager_workflow_task
    await complete(client, task)
    return {"response": response, "task": task, "events": await history(client, request.workflow_id)}


async def test_the_first_workflow_task_comes_back_with_the_start(client: Client) -> None:
    queue = f"eager-{uuid.uuid4()}"
    request = start_request(queue)
    response = await client.workflow_service.start_workflow_execution(request)
    assert response.started and response.HasField("eager_workflow_task")
    task = response.eager_workflow_task
    assert task.workflow_execution.workflow_id == request.workflow_id
    assert task.workflow_execution.run_id == response.run_id
    assert task.workflow_type.name == "EagerWorkflow"
    assert (task.previous_started_event_id, task.started_event_id, task.attempt) == (0, 3, 1)
    assert task.workflow_execution_task_queue.name == queue
    assert task.scheduled_time.seconds > 0 and task.started_time.seconds > 0
    types = [e.event_type for e in task.history.events]
    assert types == [
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    ]
    assert task.history.events[0].workflow_execution_started_event_attributes.eager_execution_accepted
    started = task.history.events[2].workflow_task_started_event_attributes
    # Started by the caller: its identity and the start's request id.
    assert (started.identity, started.request_id) == (IDENTITY, request.request_id)

    # Nothing waits in the queue: a poll finds no task.
    poll = PollWorkflowTaskQueueRequest(namespace=NAMESPACE, task_queue=TaskQueue(name=queue), identity=IDENTITY)
    try:
        empty = await client.workflow_service.poll_workflow_task_queue(poll, timeout=timedelta(seconds=2))
        assert not empty.task_token
    except Exception as e:  # the SDK reports a deadline as an RPC error
        assert "deadline" in str(e).lower() or "timeout" in str(e).lower(), e

    await complete(client, task)
    handle = client.get_workflow_handle(request.workflow_id)
    assert await handle.result() == "ok"


async def test_a_repeated_start_gets_the_same_task_again(client: Client) -> None:
    request = start_request(f"eager-{uuid.uuid4()}")
    first = await client.workflow_service.start_workflow_execution(request)
    again = await client.workflow_service.start_workflow_execution(request)
    assert again.run_id == first.run_id and again.started
    assert again.eager_workflow_task.task_token == first.eager_workflow_task.task_token
    assert [e.event_id for e in again.eager_workflow_task.history.events] == [1, 2, 3]
    await complete(client, again.eager_workflow_task)
    assert await client.get_workflow_handle(request.workflow_id).result() == "ok"


async def test_a_timed_out_eager_task_is_retried_through_the_queue(client: Client) -> None:
    queue = f"eager-{uuid.uuid4()}"
    request = start_request(queue, workflow_task_timeout=Duration(seconds=1))
    first = await client.workflow_service.start_workflow_execution(request)
    assert first.HasField("eager_workflow_task")
    await asyncio.sleep(1.5)
    # After the timeout a repeated start no longer hands it out ...
    again = await client.workflow_service.start_workflow_execution(request)
    assert again.run_id == first.run_id and not again.HasField("eager_workflow_task")
    # ... and a poll gets the retry.
    poll = PollWorkflowTaskQueueRequest(namespace=NAMESPACE, task_queue=TaskQueue(name=queue), identity=IDENTITY)
    task = await client.workflow_service.poll_workflow_task_queue(poll)
    assert task.attempt == 2
    await complete(client, task)
    assert await client.get_workflow_handle(request.workflow_id).result() == "ok"
    types = [e.event_type for e in await history(client, request.workflow_id)]
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT in types


async def test_a_delayed_start_is_not_eager(client: Client) -> None:
    request = start_request(f"eager-{uuid.uuid4()}", workflow_start_delay=Duration(seconds=60))
    response = await client.workflow_service.start_workflow_execution(request)
    assert response.started and not response.HasField("eager_workflow_task")
    events = await history(client, request.workflow_id)
    assert [e.event_type for e in events] == [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED]
    assert not events[0].workflow_execution_started_event_attributes.eager_execution_accepted
    await client.get_workflow_handle(request.workflow_id).terminate()


async def test_the_server_says_it_can(client: Client) -> None:
    info = await client.workflow_service.get_system_info(GetSystemInfoRequest())
    assert info.capabilities.eager_workflow_start
    ns = await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=NAMESPACE))
    assert ns.namespace_info.capabilities.eager_workflow_start


@workflow.defn(sandboxed=False)
class Greeting:
    @workflow.run
    async def run(self, name: str) -> str:
        return f"Hello, {name}!"


async def test_the_python_sdk_runs_a_workflow_started_eagerly(client: Client) -> None:
    queue = f"eager-sdk-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=[Greeting]):
        handle = await client.start_workflow(
            Greeting.run, "eager", id=f"eager-sdk-{uuid.uuid4()}", task_queue=queue, request_eager_start=True
        )
        assert await handle.result() == "Hello, eager!"
    events = await history(client, handle.id)
    assert events[0].workflow_execution_started_event_attributes.eager_execution_accepted
    types = [e.event_type for e in events]
    # The worker took the task from the start's response: no timeout, no second attempt.
    assert types == [
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    ]


async def test_switched_off_the_start_is_answered_plainly(tmp_path) -> None:
    from conftest import ChronicleServer, _chronicle_bin

    server = ChronicleServer(
        _chronicle_bin(),
        tmp_path / "chronicle.db",
        ["--dynamic-config-value", "system.enableEagerWorkflowStart=false"],
    )
    address = server.start()
    try:
        client = await Client.connect(address, namespace=NAMESPACE)
        info = await client.workflow_service.get_system_info(GetSystemInfoRequest())
        assert not info.capabilities.eager_workflow_start
        queue = f"eager-{uuid.uuid4()}"
        request = start_request(queue)
        response = await client.workflow_service.start_workflow_execution(request)
        assert response.started and not response.HasField("eager_workflow_task")
        poll = PollWorkflowTaskQueueRequest(namespace=NAMESPACE, task_queue=TaskQueue(name=queue), identity=IDENTITY)
        task = await client.workflow_service.poll_workflow_task_queue(poll)
        assert not task.history.events[0].workflow_execution_started_event_attributes.eager_execution_accepted
        await complete(client, task)
    finally:
        server.stop()


async def test_eager_start_matches_temporal(chronicle_server: str, reference_server: str) -> None:
    ours = await start_and_complete_eagerly(chronicle_server)
    theirs = await start_and_complete_eagerly(reference_server)
    # The same task fields set (Temporal's start response also carries a clock and a link).
    assert set_fields(ours["task"]) == set_fields(theirs["task"])
    assert [e.event_type for e in ours["task"].history.events] == [e.event_type for e in theirs["task"].history.events]
    assert [e.event_type for e in ours["events"]] == [e.event_type for e in theirs["events"]]
    for mine, reference in zip(ours["events"], theirs["events"]):
        if mine.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            a, b = mine.workflow_execution_started_event_attributes, reference.workflow_execution_started_event_attributes
            assert a.eager_execution_accepted == b.eager_execution_accepted
        if mine.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            a, b = mine.workflow_task_started_event_attributes, reference.workflow_task_started_event_attributes
            assert (a.scheduled_event_id, a.identity) == (b.scheduled_event_id, b.identity)
            assert (a.history_size_bytes > 0) == (b.history_size_bytes > 0)
