"""Histories longer than one page: a poll response carries the first page
and a `next_page_token`, the worker fetches the rest with
GetWorkflowExecutionHistory, and a transient workflow task's events end the
last page. The server runs with 20-event pages (Temporal's
`frontend.historyMaxPageSize`) so a short workflow pages many times."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from temporalio.api.enums.v1 import EventType
    from temporalio.client import Client
    from temporalio.worker import Worker

PAGE = 20
CHRONICLE_SERVER_ARGS = ["--dynamic-config-value", f"frontend.historyMaxPageSize={PAGE}"]
ACTIVITIES = 25

# The first attempt of the last workflow task fails once (a transient retry
# follows, whose events are virtual until it completes).
FAILED_ONCE: set[str] = set()


@activity.defn
async def long_echo(n: int) -> int:
    return n


@workflow.defn(sandboxed=False)
class LongHistoryWorkflow:
    @workflow.run
    async def run(self) -> int:
        total = 0
        for i in range(ACTIVITIES):
            total += await workflow.execute_activity(long_echo, i, start_to_close_timeout=timedelta(seconds=10))
        workflow_id = workflow.info().workflow_id
        if workflow_id not in FAILED_ONCE:
            FAILED_ONCE.add(workflow_id)
            raise RuntimeError("fail this workflow task once")
        return total


async def test_long_histories_page_through_polls_and_reads(client: Client) -> None:
    queue = f"long-{uuid.uuid4()}"
    # No cache: every workflow task replays the whole history, paged.
    async with Worker(
        client,
        task_queue=queue,
        workflows=[LongHistoryWorkflow],
        activities=[long_echo],
        max_cached_workflows=0,
    ):
        handle = await client.start_workflow(LongHistoryWorkflow.run, id=f"long-{uuid.uuid4()}", task_queue=queue)
        assert await asyncio.wait_for(handle.result(), 60) == sum(range(ACTIVITIES))
    events = (await handle.fetch_history()).events
    assert len(events) > 5 * PAGE, len(events)
    assert [e.event_id for e in events] == list(range(1, len(events) + 1))
    failed = [e for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
    assert len(failed) == 1
    assert events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
