"""Sticky execution through the raw API, as the SDKs' workers drive it: a workflow task completed
with sticky attributes sends the run's next task to the worker's own (sticky) queue, with only the
events after the task it completed (the worker holds the rest). Chronicle answers those from the
run's cached event tail; the events must be exactly what Temporal's dev server sends."""

import asyncio
import uuid

from google.protobuf.duration_pb2 import Duration
from temporalio.api.common.v1 import Payload, Payloads, WorkflowExecution, WorkflowType
from temporalio.api.enums.v1 import EventType, TaskQueueKind
from temporalio.api.taskqueue.v1 import StickyExecutionAttributes, TaskQueue
from temporalio.api.workflowservice.v1 import (
    GetWorkflowExecutionHistoryRequest,
    PollWorkflowTaskQueueRequest,
    RespondWorkflowTaskCompletedRequest,
    SignalWorkflowExecutionRequest,
    StartWorkflowExecutionRequest,
)
from temporalio.client import Client

from conftest import NAMESPACE
from raw_api import complete_workflow
from reference import reference_server  # noqa: F401  (a fixture)

IDENTITY = "sticky-worker"


async def run_sticky(address: str) -> dict:
    """Two rounds on the sticky queue: a signal wakes the run, its task is polled from the worker's
    own queue. Returns each task's (previous started id, started id, event ids and types) and the
    whole history."""
    client = await Client.connect(address, namespace=NAMESPACE)
    service = client.workflow_service
    queue, workflow_id = f"sticky-{uuid.uuid4()}", f"sticky-{uuid.uuid4()}"
    sticky = TaskQueue(name=f"{queue}-worker-1", kind=TaskQueueKind.TASK_QUEUE_KIND_STICKY, normal_name=queue)
    attributes = StickyExecutionAttributes(worker_task_queue=sticky, schedule_to_start_timeout=Duration(seconds=10))
    await service.start_workflow_execution(
        StartWorkflowExecutionRequest(
            namespace=NAMESPACE,
            workflow_id=workflow_id,
            workflow_type=WorkflowType(name="StickyWorkflow"),
            task_queue=TaskQueue(name=queue),
            identity=IDENTITY,
            request_id=str(uuid.uuid4()),
        )
    )
    task = await service.poll_workflow_task_queue(
        PollWorkflowTaskQueueRequest(namespace=NAMESPACE, task_queue=TaskQueue(name=queue), identity=IDENTITY)
    )
    tasks = []
    for round_ in range(2):
        await service.respond_workflow_task_completed(
            RespondWorkflowTaskCompletedRequest(
                namespace=NAMESPACE, task_token=task.task_token, identity=IDENTITY, sticky_attributes=attributes
            )
        )
        # A sticky queue takes tasks only while its worker polls it (otherwise they go to the
        # normal queue): the poll is in flight when the signal arrives, as a worker's always is.
        poll = asyncio.create_task(
            service.poll_workflow_task_queue(
                PollWorkflowTaskQueueRequest(namespace=NAMESPACE, task_queue=sticky, identity=IDENTITY)
            )
        )
        await asyncio.sleep(0.5)
        await service.signal_workflow_execution(
            SignalWorkflowExecutionRequest(
                namespace=NAMESPACE,
                workflow_execution=WorkflowExecution(workflow_id=workflow_id),
                signal_name=f"round-{round_}",
                input=Payloads(payloads=[Payload(metadata={"encoding": b"json/plain"}, data=b'"x"')]),
                identity=IDENTITY,
                request_id=str(uuid.uuid4()),
            )
        )
        task = await asyncio.wait_for(poll, 30)
        assert task.task_token, f"round {round_}: no task on the sticky queue"
        tasks.append(
            {
                "previous_started_event_id": task.previous_started_event_id,
                "started_event_id": task.started_event_id,
                "events": [(e.event_id, e.event_type) for e in task.history.events],
                "next_page_token": bool(task.next_page_token),
            }
        )
    await complete_workflow(service, task.task_token, IDENTITY)
    history = await service.get_workflow_execution_history(
        GetWorkflowExecutionHistoryRequest(namespace=NAMESPACE, execution=WorkflowExecution(workflow_id=workflow_id))
    )
    return {"tasks": tasks, "history": [(e.event_id, e.event_type) for e in history.history.events]}


async def test_sticky_tasks_carry_the_events_since_the_last_completed_task(chronicle_server: str) -> None:
    seen = await run_sticky(chronicle_server)
    first, second = seen["tasks"]
    assert first["previous_started_event_id"] == 3 and first["started_event_id"] == 7
    assert first["events"] == [
        (4, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
        (5, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED),
        (6, EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED),
        (7, EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED),
    ]
    assert second["previous_started_event_id"] == 7 and second["started_event_id"] == 11
    assert [i for i, _ in second["events"]] == [8, 9, 10, 11]
    # What each sticky task carried is the history as stored, event for event.
    stored = dict(seen["history"])
    for task in seen["tasks"]:
        assert not task["next_page_token"]
        assert all(stored[i] == t for i, t in task["events"])


async def test_sticky_tasks_match_temporal(chronicle_server: str, reference_server: str) -> None:  # noqa: F811
    ours = await run_sticky(chronicle_server)
    theirs = await run_sticky(reference_server)
    assert ours == theirs
