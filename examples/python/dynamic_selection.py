"""Dynamic workflow selection: a dispatcher picks the child workflow *type name* at runtime and
starts it by name. Unknown request types go to "DefaultWorkflow", which no class registers by
that name: a dynamic workflow on the worker handles it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from temporalio import workflow
from temporalio.common import RawValue

with workflow.unsafe.imports_passed_through():
    from temporalio.client import Client
    from temporalio.worker import Worker


# The seed leaves Request/Result undefined; dataclasses round-trip through the JSON converter.
@dataclass
class Request:
    id: str
    type: str
    payload: str


@dataclass
class Result:
    handled_by: str
    payload: str


@workflow.defn
class OrderWorkflow:
    @workflow.run
    async def run(self, payload: str) -> Result:
        return Result(handled_by="OrderWorkflow", payload=payload)


@workflow.defn
class RefundWorkflow:
    @workflow.run
    async def run(self, payload: str) -> Result:
        return Result(handled_by="RefundWorkflow", payload=payload)


@workflow.defn
class SubscriptionWorkflow:
    @workflow.run
    async def run(self, payload: str) -> Result:
        return Result(handled_by="SubscriptionWorkflow", payload=payload)


# A dynamic workflow receives every workflow type the worker has no definition for; here that is
# "DefaultWorkflow". Its arguments arrive undecoded.
@workflow.defn(dynamic=True)
class FallbackWorkflow:
    @workflow.run
    async def run(self, args: Sequence[RawValue]) -> Result:
        payload = workflow.payload_converter().from_payload(args[0].payload, str)
        return Result(handled_by=f"dynamic handler for {workflow.info().workflow_type}", payload=payload)


@workflow.defn
class DispatcherWorkflow:
    @workflow.run
    async def run(self, request: Request) -> Result:
        workflow_type = self._select_workflow(request.type)

        return await workflow.execute_child_workflow(
            workflow_type,
            request.payload,
            id=f"dynamic-{request.id}",
            # Differs from the seed: a child started by name has no type hints to decode its
            # result with, so without result_type it would come back as a plain dict.
            result_type=Result,
        )

    def _select_workflow(self, type: str) -> str:
        mapping = {
            "order": "OrderWorkflow",
            "refund": "RefundWorkflow",
            "subscription": "SubscriptionWorkflow",
        }
        return mapping.get(type, "DefaultWorkflow")


async def main(client: Client, types: list[str] | None = None) -> dict[str, Result]:
    """Dispatches one request per type (default: order, refund, subscription, gift-card);
    returns {type: Result}."""
    types = types or ["order", "refund", "subscription", "gift-card"]
    task_queue = f"examples-dynamic-selection-{uuid.uuid4().hex[:8]}"
    workflows = [DispatcherWorkflow, OrderWorkflow, RefundWorkflow, SubscriptionWorkflow, FallbackWorkflow]
    async with Worker(client, task_queue=task_queue, workflows=workflows):
        # Request ids are business ids; the child ids (dynamic-{id}) are unique because these are.
        requests = [Request(id=f"{t}-{uuid.uuid4().hex[:8]}", type=t, payload=f"{t} #42") for t in types]
        results = await asyncio.gather(
            *(
                client.execute_workflow(
                    DispatcherWorkflow.run, r, id=f"dispatcher-{r.id}", task_queue=task_queue, result_type=Result
                )
                for r in requests
            )
        )
    return dict(zip(types, results))
