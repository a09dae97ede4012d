"""One node at scale, through the Python SDK.

The server runs with a run cache of 3 runs (`history.hostLevelCacheMaxSize`),
so concurrent workflows are evicted and read back all the time, and with the
history limit raised (`limit.historyCount.error`) so a run can pass 60,000
events: its poll response pages past the 50,000-event first page and the
SDK replays it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from temporalio.api.enums.v1 import EventType
    from temporalio.client import Client
    from temporalio.worker import Replayer, Worker

CHRONICLE_SERVER_ARGS = [
    "--dynamic-config-value",
    "history.hostLevelCacheMaxSize=3",
    "--dynamic-config-value",
    "limit.historyCount.error=200000",
    "--dynamic-config-value",
    "limit.historyCount.suggestContinueAsNew=200000",
]


@activity.defn
async def double(n: int) -> int:
    return 2 * n


@workflow.defn(sandboxed=False)
class EvictedWorkflow:
    def __init__(self) -> None:
        self.bonus: int | None = None

    @workflow.run
    async def run(self, n: int) -> int:
        first = await workflow.execute_activity(double, n, start_to_close_timeout=timedelta(seconds=30))
        await asyncio.sleep(0.2)
        await workflow.wait_condition(lambda: self.bonus is not None)
        assert self.bonus is not None
        second = await workflow.execute_activity(double, self.bonus, start_to_close_timeout=timedelta(seconds=30))
        return first + second

    @workflow.signal
    def give(self, bonus: int) -> None:
        self.bonus = bonus

    @workflow.query
    def waiting(self) -> bool:
        return self.bonus is None


async def test_runs_evicted_and_read_back_under_concurrent_work(client: Client) -> None:
    queue = f"evict-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=[EvictedWorkflow], activities=[double]):
        handles = [
            await client.start_workflow(EvictedWorkflow.run, n, id=f"evict-{uuid.uuid4()}", task_queue=queue)
            for n in range(40)
        ]
        # Signals and queries race the runs' own tasks, on runs that are
        # mostly not in the server's cache.
        await asyncio.gather(*(h.query(EvictedWorkflow.waiting) for h in handles[::5]))
        await asyncio.gather(*(h.signal(EvictedWorkflow.give, 1000 + n) for n, h in enumerate(handles)))
        results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 120)
    assert results == [2 * n + 2 * (1000 + n) for n in range(40)]
    for h in handles[:5]:
        events = (await h.fetch_history()).events
        assert [e.event_id for e in events] == list(range(1, len(events) + 1))
        assert events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED


ROUNDS = 5
TIMERS_PER_ROUND = 6000


@workflow.defn(sandboxed=False)
class ManyEventsWorkflow:
    def __init__(self) -> None:
        self.finish = False

    @workflow.run
    async def run(self) -> int:
        for _ in range(ROUNDS):
            # Each timer is two events: TimerStarted and TimerFired.
            await asyncio.gather(*(asyncio.sleep(0.001) for _ in range(TIMERS_PER_ROUND)))
        await workflow.wait_condition(lambda: self.finish)
        return ROUNDS * TIMERS_PER_ROUND

    @workflow.signal
    def done(self) -> None:
        self.finish = True


async def test_sixty_thousand_events_page_and_replay(client: Client) -> None:
    queue = f"many-{uuid.uuid4()}"
    workflow_id = f"many-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=[ManyEventsWorkflow], debug_mode=True):
        # Replaying 60,000 events with no cache may take a debug build on a
        # busy machine longer than the default 10 s workflow task timeout.
        handle = await client.start_workflow(
            ManyEventsWorkflow.run, id=workflow_id, task_queue=queue, task_timeout=timedelta(seconds=60)
        )
        # Wait until every round's timers fired and this worker completed
        # the task they made: the run waits for its signal. (A worker shut
        # down while that task is on its way to it drops the task, which
        # then waits out its 60 s timeout.)
        for _ in range(600):
            raw = (await handle.describe()).raw_description
            fired = (raw.workflow_execution_info.history_length or 0) > 2 * ROUNDS * TIMERS_PER_ROUND
            if fired and not raw.HasField("pending_workflow_task"):
                break
            await asyncio.sleep(0.5)
    # A worker without a cache replays the whole history for the last
    # workflow task: its poll response carries the first 50,000 events and
    # a page token for the rest.
    async with Worker(
        client, task_queue=queue, workflows=[ManyEventsWorkflow], max_cached_workflows=0, debug_mode=True
    ):
        await handle.signal(ManyEventsWorkflow.done)
        assert await asyncio.wait_for(handle.result(), 300) == ROUNDS * TIMERS_PER_ROUND
    history = await handle.fetch_history()
    events = history.events
    assert len(events) > 60_000, len(events)
    assert [e.event_id for e in events] == list(range(1, len(events) + 1))
    await Replayer(workflows=[ManyEventsWorkflow], debug_mode=True).replay_workflow(history)


@workflow.defn(sandboxed=False)
class Waited:
    @workflow.run
    async def run(self) -> str:
        return "done"


async def test_a_worker_is_not_starved_by_its_own_clients_waits(client: Client) -> None:
    """The SDKs carry all of a client's calls on one connection, its worker's polls and
    completions among them: 1,500 waits for a result on that connection must leave the worker
    room (a per-connection bound of 1,000 streams deadlocked here)."""
    queue = f"waits-{uuid.uuid4()}"
    handle = await client.start_workflow(Waited.run, id=f"waited-{uuid.uuid4()}", task_queue=queue)
    waits = [asyncio.create_task(handle.result()) for _ in range(1500)]
    await asyncio.sleep(1)  # the waits are in flight before the worker asks for anything
    async with Worker(client, task_queue=queue, workflows=[Waited]):
        results = await asyncio.wait_for(asyncio.gather(*waits), timeout=60)
    assert results == ["done"] * 1500


FAN_OUT = 300


@workflow.defn(sandboxed=False)
class FanOut:
    @workflow.run
    async def run(self) -> int:
        doubled = await asyncio.gather(
            *(workflow.execute_activity(double, n, start_to_close_timeout=timedelta(seconds=60)) for n in range(FAN_OUT))
        )
        return sum(doubled)


async def test_hundreds_of_activities_completing_at_once_into_one_run(client: Client) -> None:
    """300 activities scheduled by one workflow task, their starts and completions racing to one
    run (the server commits what queues at a run together): every one is recorded once, with
    contiguous ids, and the history replays."""
    queue = f"fan-out-{uuid.uuid4()}"
    async with Worker(
        client, task_queue=queue, workflows=[FanOut], activities=[double], max_concurrent_activities=FAN_OUT
    ):
        handle = await client.start_workflow(FanOut.run, id=f"fan-out-{uuid.uuid4()}", task_queue=queue)
        assert await asyncio.wait_for(handle.result(), 120) == sum(2 * n for n in range(FAN_OUT))
    history = await handle.fetch_history()
    events = history.events
    assert [e.event_id for e in events] == list(range(1, len(events) + 1))
    completed = [e for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED]
    started = [e for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED]
    assert len(completed) == len(started) == FAN_OUT
    scheduled = sorted(e.activity_task_completed_event_attributes.scheduled_event_id for e in completed)
    assert len(set(scheduled)) == FAN_OUT, "each activity completed once"
    await Replayer(workflows=[FanOut]).replay_workflow(history)
