"""End-to-end: one workflow signals and cancels another
(SignalExternalWorkflowExecution, RequestCancelExternalWorkflowExecution), and
signaling a workflow that does not exist fails in the sender."""

from __future__ import annotations

import asyncio
import uuid

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from temporalio.api.enums.v1 import EventType
    from temporalio.client import Client, WorkflowExecutionStatus
    from temporalio.worker import Worker

TEST_TIMEOUT_S = 60.0


@workflow.defn
class ReceiverWorkflow:
    def __init__(self) -> None:
        self.got: list[str] = []

    @workflow.run
    async def run(self) -> list[str]:
        try:
            await workflow.wait_condition(lambda: "stop" in self.got)
        except asyncio.CancelledError:
            return self.got + ["canceled"]
        return self.got

    @workflow.signal
    def ping(self, value: str) -> None:
        self.got.append(value)


@workflow.defn
class SenderWorkflow:
    @workflow.run
    async def run(self, target: str, cancel: bool) -> str:
        handle = workflow.get_external_workflow_handle(target)
        await handle.signal(ReceiverWorkflow.ping, "hello")
        if cancel:
            await handle.cancel()
        else:
            await handle.signal(ReceiverWorkflow.ping, "stop")
        try:
            await workflow.get_external_workflow_handle(f"{target}-missing").signal(ReceiverWorkflow.ping, "x")
            return "missing target signaled?!"
        except Exception as e:
            return f"sent; missing target: {type(e).__name__}"


async def test_signal_and_cancel_another_workflow(client: Client) -> None:
    task_queue = f"external-{uuid.uuid4()}"
    async with Worker(client, task_queue=task_queue, workflows=[ReceiverWorkflow, SenderWorkflow]):
        for cancel in (False, True):
            target = f"receiver-{uuid.uuid4()}"
            receiver = await client.start_workflow(ReceiverWorkflow.run, id=target, task_queue=task_queue)
            sent = await asyncio.wait_for(
                client.execute_workflow(SenderWorkflow.run, args=[target, cancel], id=f"sender-{uuid.uuid4()}", task_queue=task_queue),
                TEST_TIMEOUT_S,
            )
            assert sent.startswith("sent; missing target:"), sent
            result = await asyncio.wait_for(receiver.result(), TEST_TIMEOUT_S)
            assert result == (["hello", "canceled"] if cancel else ["hello", "stop"])
            events = (await receiver.fetch_history()).events
            signaled = [e for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED]
            assert signaled[0].workflow_execution_signaled_event_attributes.external_workflow_execution.workflow_id
            if cancel:
                assert any(e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED for e in events)
            assert (await receiver.describe()).status == WorkflowExecutionStatus.COMPLETED
