"""Child workflows: a parent fans out one ProcessItemWorkflow per item, in parallel, and
gathers their results in input order. Each child has its own history and failure domain."""

from __future__ import annotations

import asyncio
import uuid

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from temporalio.client import Client
    from temporalio.worker import Worker


@workflow.defn
class ProcessItemWorkflow:
    @workflow.run
    async def run(self, item: str) -> dict:
        return {"item": item, "result": item.upper(), "workflow_id": workflow.info().workflow_id}


@workflow.defn
class ParentWorkflow:
    @workflow.run
    async def run(self, items: list[str]) -> list[dict]:
        # Start children in parallel
        handles = []
        for item in items:
            handle = await workflow.start_child_workflow(
                ProcessItemWorkflow.run,
                item,
                # Differs from the seed's id=f"process-{item}": a workflow id is unique among
                # running workflows in the namespace, so two parents (or two runs of this example)
                # processing the same item would collide. The parent's id scopes the children.
                id=f"{workflow.info().workflow_id}-process-{item}",
                # Inherit parent's task queue by default
            )
            handles.append(handle)

        # Wait for all to complete.
        # Differs from the seed's h.result(): in the Python SDK the child handle is an
        # asyncio.Task, whose result() is synchronous (and raises before the child is done).
        # The handle itself is awaitable; gather keeps the input order.
        return list(await asyncio.gather(*handles))


async def main(client: Client, items: list[str] | None = None) -> list[dict]:
    items = items or ["apple", "banana", "cherry"]
    task_queue = f"examples-child-workflows-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=task_queue, workflows=[ParentWorkflow, ProcessItemWorkflow]):
        return await client.execute_workflow(
            ParentWorkflow.run, items, id=f"parent-{uuid.uuid4().hex[:8]}", task_queue=task_queue
        )
