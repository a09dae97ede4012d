"""Dynamic workflow selection through the Python SDK: children started by a
type name chosen at run time, a dynamic (catch-all) handler for unregistered
types, and an unknown type with no handler (its workflow task fails and is
retried, visibly, until a worker that knows the type appears)."""

# No `from __future__ import annotations`: the SDK inspects the dynamic
# workflow's parameter type at definition time.

import asyncio
import uuid
from collections.abc import Sequence
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RawValue

with workflow.unsafe.imports_passed_through():
    from temporalio.api.enums.v1 import EventType
    from temporalio.client import Client
    from temporalio.client import WorkflowExecutionStatus as Status
    from temporalio.worker import Worker

TIMEOUT_S = 60.0


@workflow.defn(name="OrderWorkflow")
class OrderWorkflow:
    @workflow.run
    async def run(self, payload: str) -> str:
        return f"order:{payload}"


@workflow.defn(name="RefundWorkflow")
class RefundWorkflow:
    @workflow.run
    async def run(self, payload: str) -> str:
        return f"refund:{payload}"


@workflow.defn(name="SubscriptionWorkflow")
class SubscriptionWorkflow:
    @workflow.run
    async def run(self, payload: str) -> str:
        return f"subscription:{payload}"


@workflow.defn(dynamic=True)
class FallbackWorkflow:
    @workflow.run
    async def run(self, args: Sequence[RawValue]) -> str:
        payload = workflow.payload_converter().from_payload(args[0].payload, str)
        return f"{workflow.info().workflow_type}(dynamic):{payload}"


@workflow.defn
class DispatcherWorkflow:
    @workflow.run
    async def run(self, request: dict) -> str:
        mapping = {"order": "OrderWorkflow", "refund": "RefundWorkflow", "subscription": "SubscriptionWorkflow"}
        workflow_type = mapping.get(request["type"], "DefaultWorkflow")
        return await workflow.execute_child_workflow(
            workflow_type, request["payload"], id=f"{workflow.info().workflow_id}-dynamic-{request['id']}"
        )


async def test_dispatcher_routes_by_type_name_and_falls_back_to_a_dynamic_handler(client: Client) -> None:
    tq = f"dynamic-{uuid.uuid4()}"
    workflows = [OrderWorkflow, RefundWorkflow, SubscriptionWorkflow, FallbackWorkflow, DispatcherWorkflow]
    async with Worker(client, task_queue=tq, workflows=workflows):
        results = {}
        for kind in ["order", "refund", "subscription", "gift-card"]:
            request = {"type": kind, "payload": "p1", "id": kind}
            results[kind] = await asyncio.wait_for(
                client.execute_workflow(DispatcherWorkflow.run, request, id=f"dispatch-{uuid.uuid4()}", task_queue=tq),
                TIMEOUT_S,
            )
    assert results == {
        "order": "order:p1",
        "refund": "refund:p1",
        "subscription": "subscription:p1",
        "gift-card": "DefaultWorkflow(dynamic):p1",
    }


async def test_unknown_type_fails_its_task_visibly_and_is_not_lost(client: Client) -> None:
    tq = f"dynamic-{uuid.uuid4()}"
    wid = f"unknown-{uuid.uuid4()}"
    # The retried task goes to the worker without the type, which does not
    # answer it again: it comes back after its timeout (short here).
    handle = await client.start_workflow(
        "OrderWorkflow", "late", id=wid, task_queue=tq, task_timeout=timedelta(seconds=2)
    )
    # A worker without the type (and without a dynamic handler) fails the task.
    async with Worker(client, task_queue=tq, workflows=[RefundWorkflow]):
        failed = []
        for _ in range(100):
            history = await handle.fetch_history()
            failed = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
            if failed:
                break
            await asyncio.sleep(0.1)
        assert failed, "the workflow task failure is visible in the history"
        assert "OrderWorkflow" in failed[0].workflow_task_failed_event_attributes.failure.message
        assert (await handle.describe()).status == Status.RUNNING
    # A worker that knows the type picks the retried task up.
    async with Worker(client, task_queue=tq, workflows=[OrderWorkflow]):
        assert await asyncio.wait_for(handle.result(), TIMEOUT_S) == "order:late"
