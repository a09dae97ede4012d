"""Chronicle as the SDK's time-skipping test server: `WorkflowEnvironment.start_time_skipping`
launches `chronicle-test-server PORT` (given as `test_server_existing_path`), and workflows that
wait days, weeks or months finish in moments of wall time, while a test that holds time sees it
run at the real pace."""

import asyncio
import os
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import activity, workflow
from temporalio.api.testservice.v1 import (
    LockTimeSkippingRequest,
    SleepRequest,
    UnlockTimeSkippingRequest,
)
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleSpec,
    WorkflowExecutionStatus,
)
from temporalio.common import RetryPolicy
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ChildWorkflowError, TimeoutType
from temporalio.exceptions import TimeoutError as TemporalTimeoutError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from conftest import _chronicle_bin

# The bound for each of these workflows under time skipping.
WALL_BOUND_S = 2.0


def _test_server_bin() -> Path:
    return _chronicle_bin().with_name("chronicle-test-server")


@pytest.fixture(autouse=True)
def _own_server() -> None:
    if os.environ.get("CHRONICLE_ADDRESS"):
        pytest.skip("starts its own server")


@pytest.fixture
async def env():
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(_test_server_bin())
    ) as env:
        yield env


@workflow.defn(sandboxed=False)
class DayTimerWorkflow:
    @workflow.run
    async def run(self) -> str:
        await asyncio.sleep(timedelta(days=1).total_seconds())
        return "a day later"


_attempts: dict[str, int] = {}


@activity.defn
async def flaky(key: str) -> str:
    _attempts[key] = _attempts.get(key, 0) + 1
    if _attempts[key] == 1:
        raise RuntimeError("first attempt fails")
    return f"attempt {_attempts[key]}"


@workflow.defn(sandboxed=False)
class WeeklyRetryWorkflow:
    @workflow.run
    async def run(self, key: str) -> str:
        return await workflow.execute_activity(
            flaky,
            key,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(initial_interval=timedelta(weeks=1), maximum_attempts=3),
        )


@workflow.defn(sandboxed=False)
class MonthlyCronWorkflow:
    @workflow.run
    async def run(self) -> str:
        return "tick"


@workflow.defn(sandboxed=False)
class SlowChildWorkflow:
    @workflow.run
    async def run(self) -> str:
        await asyncio.sleep(timedelta(days=1).total_seconds())
        return "never"


@workflow.defn(sandboxed=False)
class ParentOfSlowChildWorkflow:
    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.execute_child_workflow(
                SlowChildWorkflow.run, execution_timeout=timedelta(hours=1)
            )
        except ChildWorkflowError as e:
            assert isinstance(e.cause, TemporalTimeoutError)
            return "child timed out"
        return "child finished"


@workflow.defn(sandboxed=False)
class ClockWorkflow:
    def __init__(self) -> None:
        self.woke_at = ""
        self.done = False

    @workflow.run
    async def run(self) -> str:
        await asyncio.sleep(timedelta(days=1).total_seconds())
        self.woke_at = workflow.now().isoformat()
        await workflow.wait_condition(lambda: self.done)
        return self.woke_at

    @workflow.query
    def woke(self) -> str:
        return self.woke_at

    @workflow.signal
    def finish(self) -> None:
        self.done = True


@workflow.defn(sandboxed=False)
class ShortSleepWorkflow:
    @workflow.run
    async def run(self) -> str:
        await asyncio.sleep(3)
        return "slept 3s"


class SleepingActivities:
    def __init__(self, env: WorkflowEnvironment) -> None:
        self.env = env

    @activity.defn
    async def outsleep_heartbeat_timeout(self) -> str:
        # The test environment's sleep, from inside a running activity,
        # twice its heartbeat timeout and without heartbeating.
        timeout = activity.info().heartbeat_timeout
        assert timeout
        await self.env.sleep(timeout.total_seconds() * 2)
        return "outslept"


@workflow.defn(sandboxed=False)
class HeartbeatTimeoutWorkflow:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity_method(
            SleepingActivities.outsleep_heartbeat_timeout,
            schedule_to_close_timeout=timedelta(seconds=1000),
            heartbeat_timeout=timedelta(seconds=20),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )


WORKFLOWS = [
    DayTimerWorkflow,
    WeeklyRetryWorkflow,
    MonthlyCronWorkflow,
    SlowChildWorkflow,
    ParentOfSlowChildWorkflow,
    ClockWorkflow,
    ShortSleepWorkflow,
    HeartbeatTimeoutWorkflow,
]


def _worker(env: WorkflowEnvironment, queue: str) -> Worker:
    activities = [flaky, SleepingActivities(env).outsleep_heartbeat_timeout]
    return Worker(env.client, task_queue=queue, workflows=WORKFLOWS, activities=activities)


async def _timed(coro) -> tuple[object, float]:
    began = time.monotonic()
    result = await coro
    return result, time.monotonic() - began


async def test_a_one_day_timer_completes_at_once(env: WorkflowEnvironment) -> None:
    queue = f"ts-{uuid.uuid4()}"
    async with _worker(env, queue):
        before = await env.get_current_time()
        result, wall = await _timed(
            env.client.execute_workflow(DayTimerWorkflow.run, id=f"day-{uuid.uuid4()}", task_queue=queue)
        )
        after = await env.get_current_time()
    assert result == "a day later"
    assert wall < WALL_BOUND_S, f"took {wall:.2f}s"
    assert after - before >= timedelta(days=1)


async def test_a_week_long_retry_backoff_completes_at_once(env: WorkflowEnvironment) -> None:
    queue = f"ts-{uuid.uuid4()}"
    key = str(uuid.uuid4())
    async with _worker(env, queue):
        result, wall = await _timed(
            env.client.execute_workflow(WeeklyRetryWorkflow.run, key, id=f"retry-{uuid.uuid4()}", task_queue=queue)
        )
    assert result == "attempt 2"
    assert wall < WALL_BOUND_S, f"took {wall:.2f}s"


async def test_a_monthly_cron_runs_twice_in_two_months_of_skipped_time(env: WorkflowEnvironment) -> None:
    queue = f"ts-{uuid.uuid4()}"
    wf_id = f"cron-{uuid.uuid4()}"
    async with _worker(env, queue):
        handle = await env.client.start_workflow(
            MonthlyCronWorkflow.run, id=wf_id, task_queue=queue, cron_schedule="0 0 1 * *"
        )
        began = time.monotonic()
        await env.sleep(timedelta(days=63))
        wall = time.monotonic() - began
        runs = [w async for w in env.client.list_workflows(f"WorkflowId = '{wf_id}'")]
        await handle.terminate("done")
    completed = [r for r in runs if r.status == WorkflowExecutionStatus.COMPLETED]
    assert len(completed) >= 2, [(r.run_id, r.status) for r in runs]
    assert wall < WALL_BOUND_S, f"took {wall:.2f}s"


async def test_a_child_with_a_one_hour_execution_timeout_times_out_at_once(env: WorkflowEnvironment) -> None:
    queue = f"ts-{uuid.uuid4()}"
    async with _worker(env, queue):
        result, wall = await _timed(
            env.client.execute_workflow(
                ParentOfSlowChildWorkflow.run, id=f"parent-{uuid.uuid4()}", task_queue=queue
            )
        )
    assert result == "child timed out"
    assert wall < WALL_BOUND_S, f"took {wall:.2f}s"


async def test_schedules_and_start_delays_run_on_the_skipping_clock(env: WorkflowEnvironment) -> None:
    queue = f"ts-{uuid.uuid4()}"
    schedule_id = f"daily-{uuid.uuid4()}"
    async with _worker(env, queue):
        began = time.monotonic()
        delayed = await env.client.start_workflow(
            MonthlyCronWorkflow.run, id=f"delayed-{uuid.uuid4()}", task_queue=queue, start_delay=timedelta(days=3)
        )
        assert await delayed.result() == "tick"
        await env.client.create_schedule(
            schedule_id,
            Schedule(
                action=ScheduleActionStartWorkflow(MonthlyCronWorkflow.run, id=f"{schedule_id}-wf", task_queue=queue),
                spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(days=1))]),
            ),
        )
        await env.sleep(timedelta(days=3, hours=1))
        wall = time.monotonic() - began
        described = await env.client.get_schedule_handle(schedule_id).describe()
        await env.client.get_schedule_handle(schedule_id).delete()
    assert described.info.num_actions >= 3, described.info
    assert wall < WALL_BOUND_S, f"took {wall:.2f}s"


async def test_locked_time_runs_at_the_real_pace_and_queries_see_the_skipped_time(
    env: WorkflowEnvironment,
) -> None:
    queue = f"ts-{uuid.uuid4()}"
    async with _worker(env, queue):
        started_at = await env.get_current_time()
        handle = await env.client.start_workflow(ClockWorkflow.run, id=f"clock-{uuid.uuid4()}", task_queue=queue)
        # Locked (the test server starts so): a day does not pass.
        await asyncio.sleep(0.5)
        locked = await env.get_current_time() - started_at
        assert timedelta(seconds=0.4) <= locked < timedelta(seconds=30), locked
        assert await handle.query(ClockWorkflow.woke) == ""
        # Two days skipped: the timer fired on its day, the clock is two days on.
        await env.sleep(timedelta(days=2))
        now = await env.get_current_time()
        assert now - started_at >= timedelta(days=2)
        woke = await handle.query(ClockWorkflow.woke)
        from datetime import datetime

        woke_at = datetime.fromisoformat(woke)
        assert timedelta(days=1) <= woke_at - started_at < timedelta(days=1, minutes=1), woke_at - started_at
        await handle.signal(ClockWorkflow.finish)
        assert await handle.result() == woke


async def test_an_activity_sleeping_on_the_test_clock_times_out_on_its_heartbeat(env: WorkflowEnvironment) -> None:
    queue = f"ts-{uuid.uuid4()}"
    async with _worker(env, queue):
        with pytest.raises(WorkflowFailureError) as err:
            await env.client.execute_workflow(
                HeartbeatTimeoutWorkflow.run, id=f"heartbeat-{uuid.uuid4()}", task_queue=queue
            )
    assert isinstance(err.value.cause, ActivityError)
    assert isinstance(err.value.cause.cause, TemporalTimeoutError)
    assert err.value.cause.cause.type == TimeoutType.HEARTBEAT


async def test_with_auto_time_skipping_disabled_time_is_real(env: WorkflowEnvironment) -> None:
    queue = f"ts-{uuid.uuid4()}"
    async with _worker(env, queue):
        result, skipped = await _timed(
            env.client.execute_workflow(ShortSleepWorkflow.run, id=f"short-{uuid.uuid4()}", task_queue=queue)
        )
        assert result == "slept 3s" and skipped < 2.5
        with env.auto_time_skipping_disabled():
            result, real = await _timed(
                env.client.execute_workflow(ShortSleepWorkflow.run, id=f"short-{uuid.uuid4()}", task_queue=queue)
            )
        assert result == "slept 3s" and real > 2.5


async def test_bad_calls_are_refused_and_change_nothing(env: WorkflowEnvironment) -> None:
    ts = env.client.test_service
    # The server starts locked once: one unlock is fine, a second is unbalanced.
    await ts.unlock_time_skipping(UnlockTimeSkippingRequest())
    with pytest.raises(RPCError) as unbalanced:
        await ts.unlock_time_skipping(UnlockTimeSkippingRequest())
    assert unbalanced.value.status == RPCStatusCode.FAILED_PRECONDITION
    assert "not locked" in unbalanced.value.message
    with pytest.raises(RPCError) as unlocked_sleep:
        await ts.unlock_time_skipping_with_sleep(SleepRequest(duration={"seconds": 1}))
    assert unlocked_sleep.value.status == RPCStatusCode.FAILED_PRECONDITION
    await ts.lock_time_skipping(LockTimeSkippingRequest())
    negative = SleepRequest()
    negative.duration.seconds = -5
    with pytest.raises(RPCError) as bad_duration:
        await ts.sleep(negative)
    assert bad_duration.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert "negative" in bad_duration.value.message
    # Still locked once: the SDK's own sleep (unlock, sleep, lock) works as before.
    before = await env.get_current_time()
    await env.sleep(timedelta(hours=5))
    assert await env.get_current_time() - before >= timedelta(hours=5)


async def test_a_normal_server_has_no_time_skipping(client: Client) -> None:
    with pytest.raises(RPCError) as err:
        await client.test_service.unlock_time_skipping(UnlockTimeSkippingRequest())
    assert err.value.status == RPCStatusCode.UNIMPLEMENTED
    assert "chronicle-test-server" in err.value.message
