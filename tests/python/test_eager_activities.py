"""Eager activity dispatch: a workflow task completion whose ScheduleActivityTask commands ask for
`request_eager_execution` gets those activities back, started, in its response (no poll), as
Temporal answers with `system.enableActivityEagerExecution=true` (Chronicle's default). Driven
through the raw API, as the SDKs' workers do it, on Chronicle and on Temporal's dev server."""

import uuid
from collections.abc import Iterator

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.command.v1 import Command, ScheduleActivityTaskCommandAttributes
from temporalio.api.common.v1 import ActivityType, Payload, Payloads, WorkflowType
from temporalio.api.enums.v1 import CommandType, EventType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    GetWorkflowExecutionHistoryRequest,
    PollWorkflowTaskQueueRequest,
    RespondActivityTaskCompletedRequest,
    RespondWorkflowTaskCompletedRequest,
    StartWorkflowExecutionRequest,
)
from temporalio.client import Client

from conftest import NAMESPACE
from raw_api import complete_workflow
from reference import running_reference

IDENTITY = "eager-worker"


def payloads(text: str) -> Payloads:
    return Payloads(payloads=[Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())])


def schedule(activity_id: str, queue: str, eager: bool) -> Command:
    return Command(
        command_type=CommandType.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK,
        schedule_activity_task_command_attributes=ScheduleActivityTaskCommandAttributes(
            activity_id=activity_id,
            activity_type=ActivityType(name="greet"),
            task_queue=TaskQueue(name=queue),
            input=payloads(activity_id),
            start_to_close_timeout=Duration(seconds=10),
            request_eager_execution=eager,
        ),
    )


async def run_eagerly(address: str) -> dict:
    """Starts a workflow, completes its first task with one eager and one plain activity, completes
    the eager one from the response alone, and returns what each step showed."""
    client = await Client.connect(address, namespace=NAMESPACE)
    service = client.workflow_service
    queue, workflow_id = f"eager-{uuid.uuid4()}", f"eager-{uuid.uuid4()}"
    await service.start_workflow_execution(
        StartWorkflowExecutionRequest(
            namespace=NAMESPACE,
            workflow_id=workflow_id,
            workflow_type=WorkflowType(name="EagerWorkflow"),
            task_queue=TaskQueue(name=queue),
            identity=IDENTITY,
            request_id=str(uuid.uuid4()),
        )
    )
    poll = PollWorkflowTaskQueueRequest(namespace=NAMESPACE, task_queue=TaskQueue(name=queue), identity=IDENTITY)
    task = await service.poll_workflow_task_queue(poll)
    completed = await service.respond_workflow_task_completed(
        RespondWorkflowTaskCompletedRequest(
            namespace=NAMESPACE,
            task_token=task.task_token,
            identity=IDENTITY,
            commands=[schedule("eager", queue, True), schedule("polled", queue, False)],
        )
    )
    handed = list(completed.activity_tasks)
    for activity in handed:
        await service.respond_activity_task_completed(
            RespondActivityTaskCompletedRequest(
                namespace=NAMESPACE, task_token=activity.task_token, identity=IDENTITY, result=payloads("done")
            )
        )
    # The completion wakes the workflow; close it.
    task = await service.poll_workflow_task_queue(poll)
    await complete_workflow(service, task.task_token, IDENTITY)
    history = await service.get_workflow_execution_history(
        GetWorkflowExecutionHistoryRequest(namespace=NAMESPACE, execution=task.workflow_execution)
    )
    return {"handed": handed, "events": list(history.history.events), "workflow_id": workflow_id}


def set_fields(message) -> list[str]:
    return sorted(field.name for field, _ in message.ListFields())


async def test_an_eager_activity_comes_back_with_the_completion(chronicle_server: str) -> None:
    seen = await run_eagerly(chronicle_server)
    assert [a.activity_id for a in seen["handed"]] == ["eager"], "only the activity that asked"
    eager = seen["handed"][0]
    assert eager.attempt == 1 and eager.activity_type.name == "greet"
    assert eager.workflow_execution.workflow_id == seen["workflow_id"] and eager.workflow_type.name == "EagerWorkflow"
    assert eager.input == payloads("eager") and eager.start_to_close_timeout.seconds == 10
    assert eager.started_time.seconds > 0 and eager.scheduled_time.seconds > 0
    types = [e.event_type for e in seen["events"]]
    # Its ActivityTaskStarted is written with its outcome, for the worker that completed the task.
    assert types[3:7] == [
        EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
        EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
        EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
        EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED,
    ]
    started = seen["events"][6].activity_task_started_event_attributes
    assert started.scheduled_event_id == 5 and started.identity == IDENTITY and started.attempt == 1


@pytest.fixture(scope="module")
def eager_reference() -> Iterator[str]:
    """Temporal's dev server with eager activities on (its default is off)."""
    yield from running_reference(["--dynamic-config-value", "system.enableActivityEagerExecution=true"])


async def test_eager_dispatch_matches_temporal(chronicle_server: str, eager_reference: str) -> None:
    ours = await run_eagerly(chronicle_server)
    theirs = await run_eagerly(eager_reference)
    assert [a.activity_id for a in ours["handed"]] == [a.activity_id for a in theirs["handed"]] == ["eager"]
    # The same fields set (Chronicle also sends the retry policy and priority, as newer Temporal does).
    extra = {"retry_policy", "priority"}
    assert set(set_fields(ours["handed"][0])) - extra == set(set_fields(theirs["handed"][0])) - extra
    assert [e.event_type for e in ours["events"]] == [e.event_type for e in theirs["events"]]
    for mine, reference in zip(ours["events"], theirs["events"]):
        if mine.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            a, b = mine.activity_task_started_event_attributes, reference.activity_task_started_event_attributes
            assert (a.scheduled_event_id, a.identity, a.attempt) == (b.scheduled_event_id, b.identity, b.attempt)
