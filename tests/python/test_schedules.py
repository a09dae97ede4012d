"""Schedules: the Python SDK's schedule client and the temporal CLI against
Chronicle's native scheduler."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import uuid
from datetime import datetime, timedelta, timezone

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import pytest
    from temporalio.client import (
        Client,
        Schedule,
        ScheduleActionStartWorkflow,
        ScheduleAlreadyRunningError,
        ScheduleCalendarSpec,
        SchedulePolicy,
        ScheduleRange,
        ScheduleState,
        ScheduleIntervalSpec,
        ScheduleOverlapPolicy,
        ScheduleSpec,
        ScheduleUpdate,
        ScheduleUpdateInput,
    )
    from temporalio.client import WorkflowExecutionStatus
    from temporalio.exceptions import ApplicationError
    from temporalio.service import RPCError, RPCStatusCode
    from temporalio.worker import Worker

    from reference import reference_server, temporal_bin, temporal_bin_missing_reason  # noqa: F401 (fixture)

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


@workflow.defn
class Scheduled:
    @workflow.run
    async def run(self, name: str) -> str:
        return f"hello {name}"


@workflow.defn
class Blocking:
    def __init__(self) -> None:
        self.released = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.released)
        return "released"

    @workflow.signal
    def release(self) -> None:
        self.released = True


@workflow.defn
class Failing:
    @workflow.run
    async def run(self) -> None:
        raise ApplicationError("boom", non_retryable=True)


@workflow.defn
class Counting:
    """Counts its schedule's completed runs; fails when asked to."""

    @workflow.run
    async def run(self, fail: bool) -> int:
        last = workflow.get_last_completion_result(int) if workflow.has_last_completion_result() else 0
        if fail:
            raise ApplicationError(f"failed after {last}", non_retryable=True)
        failure = workflow.get_last_failure()
        return last + 1 + (100 if failure is not None and "failed after" in failure.message else 0)


async def wait_for(handle, check, timeout: float = 5.0):
    """Describes the schedule until `check(desc)` holds."""
    for _ in range(int(timeout / 0.1)):
        desc = await handle.describe()
        if check(desc):
            return desc
        await asyncio.sleep(0.1)
    raise AssertionError(f"condition not met: {desc.info} {desc.schedule.state}")


def every(seconds: float) -> ScheduleSpec:
    return ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=seconds))])


async def wait_actions(handle, at_least: int, timeout: float = 6.0):
    for _ in range(int(timeout / 0.1)):
        desc = await handle.describe()
        if desc.info.num_actions >= at_least:
            return desc
        await asyncio.sleep(0.1)
    raise AssertionError(f"fewer than {at_least} actions: {desc.info}")


async def test_schedule_lifecycle(client: Client) -> None:
    tq, sid, wid = f"sched-{uuid.uuid4()}", f"s-{uuid.uuid4()}", f"w-{uuid.uuid4()}"
    action = ScheduleActionStartWorkflow(Scheduled.run, "world", id=wid, task_queue=tq)
    async with Worker(client, task_queue=tq, workflows=[Scheduled]):
        handle = await client.create_schedule(
            sid, Schedule(action=action, spec=every(1)), memo={"owner": "tests"}
        )
        with pytest.raises(ScheduleAlreadyRunningError):
            await client.create_schedule(sid, Schedule(action=action, spec=every(1)))

        desc = await wait_actions(handle, 2)
        started = [a.action.workflow_id for a in desc.info.recent_actions]
        assert all(re.fullmatch(re.escape(wid) + "-" + STAMP, w) for w in started), started
        assert await client.get_workflow_handle(started[0]).result() == "hello world"
        futures = desc.info.next_action_times
        assert len(futures) == 10
        assert all(b - a == timedelta(seconds=1) for a, b in zip(futures, futures[1:])), futures
        assert all(a.scheduled_at.microsecond == 0 for a in desc.info.recent_actions)
        assert await desc.memo() == {"owner": "tests"}
        assert desc.info.created_at is not None

        # Pause: no more actions.
        await handle.pause(note="maintenance")
        paused = await handle.describe()
        assert paused.schedule.state.paused and paused.schedule.state.note == "maintenance"
        await asyncio.sleep(2.2)
        assert (await handle.describe()).info.num_actions == paused.info.num_actions

        # Trigger starts one at once, paused or not.
        await handle.trigger()
        await wait_actions(handle, paused.info.num_actions + 1, timeout=2)

        # Update: a new spec; the conflict token moves on.
        def hourly(input: ScheduleUpdateInput) -> ScheduleUpdate:
            input.description.schedule.spec = every(3600)
            return ScheduleUpdate(schedule=input.description.schedule)

        await handle.update(hourly)
        updated = await handle.describe()
        assert updated.schedule.spec.intervals[0].every == timedelta(hours=1)
        assert updated.info.last_updated_at is not None
        await handle.unpause(note="back")
        assert not (await handle.describe()).schedule.state.paused

        listed = [s async for s in await client.list_schedules()]
        entry = next(s for s in listed if s.id == sid)
        assert entry.schedule is not None and entry.schedule.action.workflow == "Scheduled"
        assert entry.info is not None and len(entry.info.next_action_times) == 5

        await handle.delete()
        with pytest.raises(RPCError) as err:
            await handle.describe()
        assert err.value.status == RPCStatusCode.NOT_FOUND
        assert sid not in [s.id async for s in await client.list_schedules()]


async def test_limited_actions_and_overlap_skip(client: Client) -> None:
    tq, sid = f"sched-{uuid.uuid4()}", f"s-{uuid.uuid4()}"
    action = ScheduleActionStartWorkflow(Scheduled.run, "x", id=f"w-{uuid.uuid4()}", task_queue=tq)
    schedule = Schedule(action=action, spec=every(1))
    schedule.state.limited_actions, schedule.state.remaining_actions = True, 1
    # No worker: the first workflow stays running, so SKIP skips the next ones.
    handle = await client.create_schedule(sid, schedule)
    desc = await wait_actions(handle, 1)
    assert len(desc.info.running_actions) == 1 and desc.info.next_action_times == []
    await asyncio.sleep(1.5)
    desc = await handle.describe()
    assert desc.info.num_actions == 1 and desc.schedule.state.remaining_actions == 0
    await handle.delete()


async def test_schedule_errors(client: Client) -> None:
    action = ScheduleActionStartWorkflow(Scheduled.run, "x", id="w", task_queue="q")
    spec = ScheduleSpec(cron_expressions=["0 12 * * *"], time_zone_name="Europe/Paris")
    with pytest.raises(RPCError) as err:
        await client.create_schedule(f"s-{uuid.uuid4()}", Schedule(action=action, spec=spec))
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT and "UTC" in err.value.message
    with pytest.raises(RPCError) as err:
        await client.create_schedule(
            f"s-{uuid.uuid4()}", Schedule(action=action, spec=ScheduleSpec(cron_expressions=["0 99 * * *"]))
        )
    assert err.value.message == "Invalid schedule spec: Hour is not in range [0-23]"
    with pytest.raises(RPCError) as err:
        await client.get_schedule_handle("nobody").describe()
    assert err.value.status == RPCStatusCode.NOT_FOUND


@pytest.mark.skipif(temporal_bin_missing_reason() is not None, reason=str(temporal_bin_missing_reason()))
def test_temporal_cli_schedules(chronicle_server: str) -> None:
    sid = f"cli-{uuid.uuid4()}"

    def cli(*args: str) -> str:
        cmd = [str(temporal_bin()), "schedule", *args, "--address", chronicle_server]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        return out.stdout

    cli("create", "--schedule-id", sid, "--cron", "0 12 * * MON-FRI", "--workflow-id", "cw", "--task-queue", "q", "--type", "T")
    desc = json.loads(cli("describe", "--schedule-id", sid, "-o", "json"))
    calendar = desc["schedule"]["spec"]["structuredCalendar"][0]
    assert calendar["hour"] == [{"start": 12, "end": 12, "step": 1}]
    assert calendar["dayOfWeek"] == [{"start": 1, "end": 5, "step": 1}]
    assert len(desc["info"]["futureActionTimes"]) == 10
    assert all(t.endswith("T12:00:00Z") for t in desc["info"]["futureActionTimes"])
    cli("toggle", "--schedule-id", sid, "--pause", "--reason", "cli pause")
    assert json.loads(cli("describe", "--schedule-id", sid, "-o", "json"))["schedule"]["state"]["paused"]
    assert sid in cli("list")
    cli("delete", "--schedule-id", sid)
    assert sid not in cli("list")


async def test_catch_up_after_restart(tmp_path) -> None:
    """Action times missed while the server was down are taken at restart
    (within the catch-up window), with their own times in the workflow ids."""
    from conftest import ChronicleServer, _chronicle_bin

    server = ChronicleServer(_chronicle_bin(), tmp_path / "chronicle.db")
    address = server.start()
    try:
        client = await Client.connect(address)
        sid, wid = f"s-{uuid.uuid4()}", f"w-{uuid.uuid4()}"
        action = ScheduleActionStartWorkflow(Scheduled.run, "x", id=wid, task_queue="nobody")
        schedule = Schedule(action=action, spec=every(1))
        schedule.policy.overlap = ScheduleOverlapPolicy.ALLOW_ALL
        handle = await client.create_schedule(sid, schedule)
        before = (await wait_actions(handle, 1)).info.num_actions
        server.stop()
        await asyncio.sleep(2.5)
        address = server.start()
        client = await Client.connect(address)
        desc = await wait_actions(client.get_schedule_handle(sid), before + 3, timeout=3)
        times = [a.scheduled_at for a in desc.info.recent_actions]
        assert all(b - a == timedelta(seconds=1) for a, b in zip(times, times[1:])), times
        assert len({a.action.workflow_id for a in desc.info.recent_actions}) == len(times)
    finally:
        server.stop()
        server.drop_data()


def run_of(action) -> tuple[str, str]:
    return action.workflow_id, action.first_execution_run_id


def hourly_blocking(tq: str, overlap: ScheduleOverlapPolicy) -> Schedule:
    """Acts only when triggered (within the test), starting Blocking."""
    action = ScheduleActionStartWorkflow(Blocking.run, id=f"w-{uuid.uuid4()}", task_queue=tq)
    schedule = Schedule(action=action, spec=every(3600))
    schedule.policy.overlap = overlap
    return schedule


async def test_overlap_buffer_one(client: Client) -> None:
    """BUFFER_ONE: one action waits while one runs (the next is skipped);
    it starts as soon as the running one closes."""
    tq = f"sched-{uuid.uuid4()}"
    async with Worker(client, task_queue=tq, workflows=[Blocking]):
        handle = await client.create_schedule(f"s-{uuid.uuid4()}", hourly_blocking(tq, ScheduleOverlapPolicy.BUFFER_ONE))
        for _ in range(3):
            await handle.trigger()
            await asyncio.sleep(0.2)  # Temporal takes triggers in one task as one
        desc = await wait_for(
            handle,
            lambda d: d.info.num_actions_skipped_overlap == 1 and d.raw_description.info.buffer_size == 1,
        )
        assert desc.info.num_actions == 1 and len(desc.info.running_actions) == 1
        first = run_of(desc.info.running_actions[0])
        await client.get_workflow_handle(first[0], run_id=first[1]).signal(Blocking.release)
        desc = await wait_for(handle, lambda d: d.info.num_actions == 2 and d.info.running_actions, timeout=3)
        assert desc.raw_description.info.buffer_size == 0
        assert [run_of(a) for a in desc.info.running_actions] == [run_of(desc.info.recent_actions[1].action)]
        assert run_of(desc.info.recent_actions[0].action) == first
        await handle.delete()


async def test_overlap_terminate_and_cancel_other(client: Client) -> None:
    """TERMINATE_OTHER terminates the running workflow, then starts the new
    one (at once here; Temporal waits to see it closed); a trigger's CANCEL_OTHER asks the running one to cancel
    and starts the new one when it has."""
    tq = f"sched-{uuid.uuid4()}"
    async with Worker(client, task_queue=tq, workflows=[Blocking]):
        handle = await client.create_schedule(
            f"s-{uuid.uuid4()}", hourly_blocking(tq, ScheduleOverlapPolicy.TERMINATE_OTHER)
        )
        await handle.trigger()
        first = run_of((await wait_for(handle, lambda d: d.info.running_actions)).info.running_actions[0])
        await handle.trigger()
        desc = await wait_for(handle, lambda d: d.info.num_actions == 2 and d.info.running_actions, timeout=3)
        assert len(desc.info.running_actions) == 1
        second = run_of(desc.info.running_actions[0])
        assert second != first
        assert (await client.get_workflow_handle(first[0], run_id=first[1]).describe()).status == WorkflowExecutionStatus.TERMINATED

        await handle.trigger(overlap=ScheduleOverlapPolicy.CANCEL_OTHER)
        desc = await wait_for(handle, lambda d: d.info.num_actions == 3 and d.info.running_actions, timeout=3)
        assert (await client.get_workflow_handle(second[0], run_id=second[1]).describe()).status == WorkflowExecutionStatus.CANCELED
        assert [run_of(a) for a in desc.info.running_actions] == [run_of(desc.info.recent_actions[2].action)]
        await handle.delete()


async def test_pause_on_failure(client: Client) -> None:
    tq, wid = f"sched-{uuid.uuid4()}", f"w-{uuid.uuid4()}"
    action = ScheduleActionStartWorkflow(Failing.run, id=wid, task_queue=tq)
    schedule = Schedule(action=action, spec=every(3600))
    schedule.policy.pause_on_failure = True
    async with Worker(client, task_queue=tq, workflows=[Failing]):
        handle = await client.create_schedule(f"s-{uuid.uuid4()}", schedule)
        await handle.trigger()
        desc = await wait_for(handle, lambda d: d.schedule.state.paused, timeout=3)
        started = desc.info.recent_actions[0].action.workflow_id
        assert desc.schedule.state.note == f"paused due to workflow failure: {started}: boom"
        assert desc.info.running_actions == []
        await handle.delete()


async def test_last_completion_result_and_failure(client: Client) -> None:
    """The next run gets the last completed run's result and the failure
    of a run that failed since, as on Temporal."""
    tq, sid = f"sched-{uuid.uuid4()}", f"s-{uuid.uuid4()}"
    action = ScheduleActionStartWorkflow(Counting.run, False, id=f"w-{uuid.uuid4()}", task_queue=tq)
    async with Worker(client, task_queue=tq, workflows=[Counting]):
        handle = await client.create_schedule(sid, Schedule(action=action, spec=every(3600)))

        async def run_once(fail: bool, n: int):
            def with_input(input: ScheduleUpdateInput) -> ScheduleUpdate:
                input.description.schedule.action.args = [fail]
                return ScheduleUpdate(schedule=input.description.schedule)

            await handle.update(with_input)
            await handle.trigger()
            desc = await wait_for(handle, lambda d: d.info.num_actions == n and not d.info.running_actions)
            last = desc.info.recent_actions[-1].action
            return client.get_workflow_handle(last.workflow_id, run_id=last.first_execution_run_id)

        assert await (await run_once(False, 1)).result() == 1
        assert await (await run_once(False, 2)).result() == 2
        await run_once(True, 3)
        assert await (await run_once(False, 4)).result() == 103
        await handle.delete()


def described_schedules() -> dict[str, Schedule]:
    """Schedules with every part set, or almost none: each is described
    right after it is created, on Chronicle and on Temporal."""
    from temporalio.common import RetryPolicy

    return {
        "full": Schedule(
            action=ScheduleActionStartWorkflow(
                "some workflow",
                [1, 2, 3],
                id="workflow-fixed",
                task_queue="tq-fixed",
                execution_timeout=timedelta(hours=1),
                run_timeout=timedelta(minutes=30),
                task_timeout=timedelta(minutes=10),
                retry_policy=RetryPolicy(maximum_attempts=20),
                memo={"memokey1": ["memoval1", "memoval2"]},
            ),
            spec=ScheduleSpec(
                calendars=[
                    ScheduleCalendarSpec(
                        second=(ScheduleRange(1, step=1),),
                        minute=(ScheduleRange(2, 3),),
                        hour=(ScheduleRange(4, 5, 6),),
                        day_of_month=(ScheduleRange(7),),
                        month=(ScheduleRange(9),),
                        year=(ScheduleRange(2080),),
                        comment="spec comment 1",
                    )
                ],
                intervals=[ScheduleIntervalSpec(every=timedelta(days=10), offset=timedelta(days=2))],
                cron_expressions=["0 12 * * MON"],
                skip=[ScheduleCalendarSpec(year=(ScheduleRange(2050),))],
                start_at=datetime(2060, 7, 8, 9, 10, 11, tzinfo=timezone.utc),
                jitter=timedelta(seconds=80),
            ),
            policy=SchedulePolicy(
                overlap=ScheduleOverlapPolicy.BUFFER_ONE, catchup_window=timedelta(minutes=5), pause_on_failure=True
            ),
            state=ScheduleState(note="sched note 1", paused=True, limited_actions=True, remaining_actions=30),
        ),
        "minimal": Schedule(
            action=ScheduleActionStartWorkflow("wf", id="wf-min", task_queue="tq"),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))]),
        ),
        "crons": Schedule(
            action=ScheduleActionStartWorkflow("wf", id="wf-cron", task_queue="tq"),
            spec=ScheduleSpec(cron_expressions=["@hourly", "*/5 1-3 * * *", "@every 90m"]),
            state=ScheduleState(paused=True),
        ),
        "calendar": Schedule(
            action=ScheduleActionStartWorkflow("wf", id="wf-cal", task_queue="tq"),
            spec=ScheduleSpec(
                calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(9)], day_of_week=[ScheduleRange(1, 5)])],
                end_at=datetime(2090, 1, 1, tzinfo=timezone.utc),
            ),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL),
            state=ScheduleState(limited_actions=True, remaining_actions=3, paused=True),
        ),
    }


@pytest.mark.skipif(temporal_bin_missing_reason() is not None, reason=temporal_bin_missing_reason() or "")
async def test_described_schedule_matches_reference(client: Client, reference_server: str) -> None:
    """Described right after creation, a schedule reads as on Temporal:
    defaults filled (catch-up window, overlap policy, task queue kind), the
    spec in canonical form in Temporal's order, unset jitter left unset."""
    from google.protobuf.json_format import MessageToDict

    reference = await Client.connect(reference_server)
    for name, schedule in described_schedules().items():
        described = {}
        for server, c in (("reference", reference), ("chronicle", client)):
            handle = await c.create_schedule(f"described-{name}-{uuid.uuid4()}", schedule)
            described[server] = MessageToDict((await handle.describe()).raw_description.schedule)
            await handle.delete()
        assert described["chronicle"] == described["reference"], name
