"""Standalone activities (StartActivityExecution and the rest) through the Python SDK's client API
and the `temporal activity` CLI: an activity started without a workflow, retried by the server,
completed, listed and counted; its id policies; cancel (before and while it runs), terminate,
timeouts, delete; a worker completing one by id; describe's long poll; workflow listings never
showing them; and the requests Temporal refuses. The tests pass against Temporal's dev server too
(CHRONICLE_ADDRESS=127.0.0.1:7400).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.api.workflowservice.v1 import (
    DescribeActivityExecutionRequest,
    PollActivityExecutionRequest,
    StartActivityExecutionRequest,
)
from temporalio.client import ActivityExecutionStatus, ActivityFailureError, Client
from temporalio.common import (
    ActivityIDConflictPolicy,
    ActivityIDReusePolicy,
    RetryPolicy,
)
from temporalio.exceptions import (
    ActivityAlreadyStartedError,
    ApplicationError,
    CancelledError,
    TerminatedError,
    TimeoutError,
    TimeoutType,
)
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from conftest import ChronicleServer, _chronicle_bin
from reference import running_reference, temporal_bin, temporal_bin_missing_reason

NAMESPACE = "default"
# Per activity id: the attempts it saw, and what its info said.
ATTEMPTS: dict[str, list[int]] = {}
INFOS: dict[str, activity.Info] = {}
RELEASE: set[str] = set()


@activity.defn
async def flaky(succeed_at: int) -> str:
    info = activity.info()
    INFOS[info.activity_id] = info
    ATTEMPTS.setdefault(info.activity_id, []).append(info.attempt)
    if info.attempt < succeed_at:
        raise ApplicationError(f"attempt {info.attempt} failed")
    return f"done at attempt {info.attempt}"


@activity.defn
async def fatal() -> str:
    raise ApplicationError("bad input", "x", type="Fatal", non_retryable=True)


@activity.defn
async def heartbeating() -> str:
    info = activity.info()
    ATTEMPTS.setdefault(info.activity_id, []).append(info.attempt)
    while info.activity_id not in RELEASE:
        activity.heartbeat("beat")
        await asyncio.sleep(0.1)
    return "released"


@activity.defn
async def sleeper() -> str:
    await asyncio.sleep(3600)
    return "never"


@activity.defn
async def manual() -> str:
    activity.raise_complete_async()


ACTIVITIES = [flaky, fatal, heartbeating, sleeper, manual]
FAST_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), backoff_coefficient=1.0)


def queue() -> str:
    return f"standalone-{uuid.uuid4()}"


def temporal(address: str, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    cmd = [str(temporal_bin()), "activity", *args, "--address", address]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if ok:
        assert proc.returncode == 0, f"{cmd} exited {proc.returncode}: {proc.stdout} {proc.stderr}"
    return proc


async def wait_until(predicate, what: str, timeout_s: float = 20.0) -> None:
    for _ in range(int(timeout_s * 20)):
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never {what}")


async def test_an_activity_with_retries_completes_and_is_listed(client: Client) -> None:
    tq, aid = queue(), f"retried-{uuid.uuid4()}"
    async with Worker(client, task_queue=tq, activities=ACTIVITIES):
        handle = await client.start_activity(
            flaky, 3, id=aid, task_queue=tq, start_to_close_timeout=timedelta(seconds=10), retry_policy=FAST_RETRY
        )
        assert handle.run_id
        assert await asyncio.wait_for(handle.result(), 30) == "done at attempt 3"
    assert ATTEMPTS[aid] == [1, 2, 3]
    info = INFOS[aid]
    # A worker sees no workflow, and the activity's own run id.
    assert not info.in_workflow
    assert info.workflow_id is None and info.workflow_run_id is None and info.workflow_type is None
    assert info.activity_run_id == handle.run_id
    desc = await handle.describe(include_input=True, include_outcome=True, include_last_failure=True)
    assert desc.status == ActivityExecutionStatus.COMPLETED
    assert desc.activity_id == aid and desc.activity_run_id == handle.run_id
    assert desc.activity_type == "flaky" and desc.task_queue == tq
    assert desc.attempt == 3
    assert desc.close_time is not None and desc.schedule_time is not None
    assert desc.raw_info.run_state == PendingActivityState.PENDING_ACTIVITY_STATE_UNSPECIFIED
    assert await desc.input() == [3]
    assert await desc.result(str) == "done at attempt 3"
    failure = await desc.last_failure()
    assert isinstance(failure, ApplicationError) and str(failure) == "attempt 2 failed"
    listed = [a async for a in client.list_activities(f"ActivityId = '{aid}'")]
    assert [(a.activity_id, a.activity_run_id, a.status, a.activity_type, a.task_queue) for a in listed] == [
        (aid, handle.run_id, ActivityExecutionStatus.COMPLETED, "flaky", tq)
    ]
    assert listed[0].execution_duration is not None
    assert (await client.count_activities(f"ActivityType = 'flaky' AND TaskQueue = '{tq}'")).count == 1
    grouped = await client.count_activities(f"TaskQueue = '{tq}' GROUP BY ExecutionStatus")
    assert [(g.group_values, g.count) for g in grouped.groups] == [(["Completed"], 1)]
    # Workflow listings never show it; activity listings show nothing else.
    assert [w async for w in client.list_workflows(f"TaskQueue = '{tq}'")] == []
    assert (await client.count_workflows(f"TaskQueue = '{tq}'")).count == 0


async def test_failures_and_timeouts_are_the_outcome(client: Client) -> None:
    tq = queue()
    async with Worker(client, task_queue=tq, activities=ACTIVITIES):
        failed = await client.start_activity(
            fatal, id=f"fatal-{uuid.uuid4()}", task_queue=tq, start_to_close_timeout=timedelta(seconds=10)
        )
        with pytest.raises(ActivityFailureError) as err:
            await asyncio.wait_for(failed.result(), 30)
        assert isinstance(err.value.cause, ApplicationError)
        assert err.value.cause.type == "Fatal" and err.value.cause.message == "bad input"
        assert (await failed.describe()).status == ActivityExecutionStatus.FAILED

        # Attempts time out (start-to-close) until the schedule-to-close deadline.
        timed = await client.start_activity(
            sleeper,
            id=f"timeout-{uuid.uuid4()}",
            task_queue=tq,
            start_to_close_timeout=timedelta(milliseconds=500),
            schedule_to_close_timeout=timedelta(seconds=2),
            retry_policy=FAST_RETRY,
        )
        with pytest.raises(ActivityFailureError) as err:
            await asyncio.wait_for(timed.result(), 30)
        assert isinstance(err.value.cause, TimeoutError)
        assert err.value.cause.type in (TimeoutType.SCHEDULE_TO_CLOSE, TimeoutType.START_TO_CLOSE)
        desc = await timed.describe()
        assert desc.status == ActivityExecutionStatus.TIMED_OUT
        assert desc.attempt > 1

    # Nobody polls this queue: schedule-to-start ends it.
    unpolled = await client.start_activity(
        "nobody",
        id=f"unpolled-{uuid.uuid4()}",
        task_queue=queue(),
        start_to_close_timeout=timedelta(seconds=10),
        schedule_to_start_timeout=timedelta(milliseconds=500),
    )
    with pytest.raises(ActivityFailureError) as err:
        await asyncio.wait_for(unpolled.result(), 30)
    assert isinstance(err.value.cause, TimeoutError)
    assert err.value.cause.type == TimeoutType.SCHEDULE_TO_START


async def test_id_policies(client: Client) -> None:
    tq, aid = queue(), f"ids-{uuid.uuid4()}"
    first = await client.start_activity(flaky, 1, id=aid, task_queue=tq, start_to_close_timeout=timedelta(seconds=10))
    with pytest.raises(ActivityAlreadyStartedError) as err:
        await client.start_activity(flaky, 1, id=aid, task_queue=tq, start_to_close_timeout=timedelta(seconds=10))
    assert err.value.run_id == first.run_id
    same = await client.start_activity(
        flaky,
        1,
        id=aid,
        task_queue=tq,
        start_to_close_timeout=timedelta(seconds=10),
        id_conflict_policy=ActivityIDConflictPolicy.USE_EXISTING,
    )
    assert same.run_id == first.run_id
    # The same request id again is the same start, not a new one.
    request = StartActivityExecutionRequest(
        namespace=NAMESPACE,
        activity_id=f"dedupe-{uuid.uuid4()}",
        request_id=str(uuid.uuid4()),
        task_queue={"name": tq},
        activity_type={"name": "flaky"},
        start_to_close_timeout={"seconds": 10},
    )
    once = await client.workflow_service.start_activity_execution(request)
    again = await client.workflow_service.start_activity_execution(request)
    assert once.started and not again.started and again.run_id == once.run_id
    async with Worker(client, task_queue=tq, activities=ACTIVITIES):
        assert await asyncio.wait_for(first.result(), 30) == "done at attempt 1"
    # Closed and completed: reuse by policy.
    with pytest.raises(ActivityAlreadyStartedError):
        await client.start_activity(
            flaky,
            1,
            id=aid,
            task_queue=tq,
            start_to_close_timeout=timedelta(seconds=10),
            id_reuse_policy=ActivityIDReusePolicy.REJECT_DUPLICATE,
        )
    with pytest.raises(ActivityAlreadyStartedError):
        await client.start_activity(
            flaky,
            1,
            id=aid,
            task_queue=tq,
            start_to_close_timeout=timedelta(seconds=10),
            id_reuse_policy=ActivityIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        )
    second = await client.start_activity(flaky, 1, id=aid, task_queue=tq, start_to_close_timeout=timedelta(seconds=10))
    assert second.run_id != first.run_id
    # A handle without a run id follows the latest run; with one, that run.
    assert (await client.get_activity_handle(aid).describe()).activity_run_id == second.run_id
    old = await client.get_activity_handle(aid, run_id=first.run_id).describe()
    assert old.status == ActivityExecutionStatus.COMPLETED
    await second.terminate(reason="done with it")


async def test_cancel_before_and_while_running(client: Client) -> None:
    tq = queue()
    # No worker holds it: canceled at once, the reason in the details.
    waiting = await client.start_activity(
        "nobody", id=f"cancel-early-{uuid.uuid4()}", task_queue=tq, start_to_close_timeout=timedelta(seconds=10)
    )
    await waiting.cancel(reason="not needed")
    with pytest.raises(ActivityFailureError) as err:
        await asyncio.wait_for(waiting.result(), 30)
    assert isinstance(err.value.cause, CancelledError)
    assert list(err.value.cause.details) == ["not needed"]
    desc = await waiting.describe()
    assert desc.status == ActivityExecutionStatus.CANCELED and desc.canceled_reason == "not needed"

    # A running one learns it through its heartbeat and reports it canceled.
    aid = f"cancel-running-{uuid.uuid4()}"
    async with Worker(client, task_queue=tq, activities=ACTIVITIES):
        running = await client.start_activity(
            heartbeating,
            id=aid,
            task_queue=tq,
            start_to_close_timeout=timedelta(seconds=30),
            heartbeat_timeout=timedelta(seconds=5),
        )
        await wait_until(lambda: asyncio.sleep(0, aid in ATTEMPTS), "started")
        await running.cancel(reason="stop")
        with pytest.raises(ActivityFailureError) as err:
            await asyncio.wait_for(running.result(), 30)
        assert isinstance(err.value.cause, CancelledError)
    desc = await running.describe()
    assert desc.status == ActivityExecutionStatus.CANCELED
    assert desc.total_heartbeat_count > 0
    # A closed activity takes no more requests.
    with pytest.raises(RPCError) as rpc:
        await running.cancel()
    assert rpc.value.status == RPCStatusCode.FAILED_PRECONDITION


async def test_terminate_and_delete(client: Client, chronicle_server: str) -> None:
    tq, aid = queue(), f"terminate-{uuid.uuid4()}"
    async with Worker(client, task_queue=tq, activities=ACTIVITIES):
        handle = await client.start_activity(
            heartbeating, id=aid, task_queue=tq, start_to_close_timeout=timedelta(seconds=30)
        )
        await wait_until(lambda: asyncio.sleep(0, aid in ATTEMPTS), "started")
        await handle.terminate(reason="operator says no")
        with pytest.raises(ActivityFailureError) as err:
            await asyncio.wait_for(handle.result(), 30)
        assert isinstance(err.value.cause, TerminatedError)
        assert err.value.cause.message == "operator says no"
        RELEASE.add(aid)
    assert (await handle.describe()).status == ActivityExecutionStatus.TERMINATED
    assert (await client.count_activities(f"ActivityId = '{aid}' AND ExecutionStatus = 'Terminated'")).count == 1
    temporal(chronicle_server, "delete", "--activity-id", aid, "--yes")
    await wait_until(
        lambda: _gone(client, aid),
        "deleted",
    )


async def _gone(client: Client, aid: str) -> bool:
    try:
        await client.get_activity_handle(aid).describe()
    except RPCError as e:
        return e.status == RPCStatusCode.NOT_FOUND
    return False


async def test_a_worker_completes_one_by_id(client: Client) -> None:
    tq, aid = queue(), f"async-{uuid.uuid4()}"
    async with Worker(client, task_queue=tq, activities=ACTIVITIES):
        handle = await client.start_activity(manual, id=aid, task_queue=tq, start_to_close_timeout=timedelta(seconds=30))
        await wait_until(
            lambda: _run_state(handle, PendingActivityState.PENDING_ACTIVITY_STATE_STARTED), "handed to the worker"
        )
        by_id = client.get_async_activity_handle(activity_id=aid, run_id=handle.run_id)
        await by_id.heartbeat("half way")
        await by_id.complete("finished elsewhere")
        assert await asyncio.wait_for(handle.result(), 30) == "finished elsewhere"


async def _run_state(handle, state) -> bool:
    return (await handle.describe()).raw_info.run_state == state


async def test_describe_long_polls_for_a_change(client: Client) -> None:
    tq, aid = queue(), f"long-poll-{uuid.uuid4()}"
    handle = await client.start_activity(flaky, 1, id=aid, task_queue=tq, start_to_close_timeout=timedelta(seconds=30))
    first = await client.workflow_service.describe_activity_execution(
        DescribeActivityExecutionRequest(namespace=NAMESPACE, activity_id=aid, run_id=handle.run_id)
    )
    assert first.long_poll_token
    assert first.info.run_state == PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED

    async def later() -> None:
        await asyncio.sleep(0.5)
        async with Worker(client, task_queue=tq, activities=ACTIVITIES):
            await handle.result()

    worker = asyncio.create_task(later())
    changed = await client.workflow_service.describe_activity_execution(
        DescribeActivityExecutionRequest(
            namespace=NAMESPACE, activity_id=aid, run_id=handle.run_id, long_poll_token=first.long_poll_token
        )
    )
    assert changed.info.status in (
        ActivityExecutionStatus.RUNNING.value,
        ActivityExecutionStatus.COMPLETED.value,
    )
    assert changed.info.state_transition_count > first.info.state_transition_count
    await worker
    poll = await client.workflow_service.poll_activity_execution(
        PollActivityExecutionRequest(namespace=NAMESPACE, activity_id=aid)
    )
    assert poll.run_id == handle.run_id
    assert json.loads(poll.outcome.result.payloads[0].data) == "done at attempt 1"


@pytest.mark.skipif(temporal_bin_missing_reason() is not None, reason=temporal_bin_missing_reason() or "")
async def test_the_temporal_cli(client: Client, chronicle_server: str) -> None:
    tq, aid = queue(), f"cli-{uuid.uuid4()}"
    async with Worker(client, task_queue=tq, activities=ACTIVITIES):
        # In a thread: the worker runs on this event loop meanwhile.
        out = await asyncio.to_thread(
            temporal,
            chronicle_server,
            "execute",
            "--activity-id",
            aid,
            "--type",
            "flaky",
            "--task-queue",
            tq,
            "--start-to-close-timeout",
            "10s",
            "--input",
            "1",
            "-o",
            "json",
        )
        assert "done at attempt 1" in out.stdout
    described = json.loads(temporal(chronicle_server, "describe", "--activity-id", aid, "-o", "json").stdout)
    assert described["info"]["status"] in ("ACTIVITY_EXECUTION_STATUS_COMPLETED", "Completed")
    listed = temporal(chronicle_server, "list", "--query", f"TaskQueue = '{tq}'").stdout
    assert aid in listed
    assert "1" in temporal(chronicle_server, "count", "--query", f"ActivityId = '{aid}'").stdout
    assert "done at attempt 1" in temporal(chronicle_server, "result", "--activity-id", aid).stdout
    # Started, cancelled and terminated from the CLI.
    other = f"cli-cancel-{uuid.uuid4()}"
    temporal(
        chronicle_server,
        "start",
        "--activity-id",
        other,
        "--type",
        "nobody",
        "--task-queue",
        tq,
        "--start-to-close-timeout",
        "10s",
    )
    temporal(chronicle_server, "cancel", "--activity-id", other, "--reason", "from the cli")
    desc = await client.get_activity_handle(other).describe()
    assert desc.status == ActivityExecutionStatus.CANCELED
    third = f"cli-terminate-{uuid.uuid4()}"
    temporal(
        chronicle_server,
        "start",
        "--activity-id",
        third,
        "--type",
        "nobody",
        "--task-queue",
        tq,
        "--start-to-close-timeout",
        "10s",
    )
    temporal(chronicle_server, "terminate", "--activity-id", third, "--reason", "from the cli")
    assert (await client.get_activity_handle(third).describe()).status == ActivityExecutionStatus.TERMINATED


async def test_pause_unpause_and_options(client: Client) -> None:
    from temporalio.client import ActivityOptionsKeys

    tq, aid = queue(), f"controls-{uuid.uuid4()}"
    # Held back by a start delay: paused while it waits, then its options changed.
    handle = await client.start_activity(
        flaky,
        1,
        id=aid,
        task_queue=tq,
        start_to_close_timeout=timedelta(seconds=10),
        start_delay=timedelta(seconds=30),
    )
    await handle.pause(reason="hold")
    desc = await handle.describe()
    assert desc.status == ActivityExecutionStatus.PAUSED
    assert desc.raw_info.run_state == PendingActivityState.PENDING_ACTIVITY_STATE_PAUSED
    updated = await handle.update_options(
        [
            ActivityOptionsKeys.start_to_close_timeout.value_set(timedelta(seconds=20)),
            ActivityOptionsKeys.start_delay.value_set(timedelta(seconds=0)),
        ]
    )
    assert updated.start_to_close_timeout == timedelta(seconds=20)
    assert (await handle.describe()).start_to_close_timeout == timedelta(seconds=20)
    restored = await handle.restore_original_options()
    assert restored.start_to_close_timeout == timedelta(seconds=10)
    assert restored.start_delay == timedelta(seconds=30)
    # Unpaused, it no longer waits out its delay; a worker finishes it.
    await handle.update_options([ActivityOptionsKeys.start_delay.value_set(timedelta(seconds=0))])
    await handle.unpause()
    async with Worker(client, task_queue=tq, activities=ACTIVITIES):
        assert await asyncio.wait_for(handle.result(), 30) == "done at attempt 1"


async def test_canceled_needs_a_cancel_request(client: Client) -> None:
    tq, aid = queue(), f"report-{uuid.uuid4()}"
    async with Worker(client, task_queue=tq, activities=ACTIVITIES):
        handle = await client.start_activity(manual, id=aid, task_queue=tq, start_to_close_timeout=timedelta(seconds=30))
        await wait_until(
            lambda: _run_state(handle, PendingActivityState.PENDING_ACTIVITY_STATE_STARTED), "handed to the worker"
        )
        by_id = client.get_async_activity_handle(activity_id=aid, run_id=handle.run_id)
        with pytest.raises(RPCError) as err:
            await by_id.report_cancellation()
        # Newer servers' answer, which the Python SDK's own tests expect
        # (Temporal 1.32 still gave a workflow activity's INVALID_ARGUMENT).
        assert (err.value.status, "invalid transition from Started" in err.value.message) in (
            (RPCStatusCode.FAILED_PRECONDITION, True),
            (RPCStatusCode.INVALID_ARGUMENT, False),
        )
        await handle.cancel(reason="now you may")
        await by_id.report_cancellation("Test cancellation")
        with pytest.raises(ActivityFailureError) as failure:
            await asyncio.wait_for(handle.result(), 30)
        assert isinstance(failure.value.cause, CancelledError)
        assert list(failure.value.cause.details) == ["Test cancellation"]


def chronicle(address: str, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    cmd = [str(_chronicle_bin()), "activity", *args, "--address", address]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if ok:
        assert proc.returncode == 0, f"{cmd} exited {proc.returncode}: {proc.stdout} {proc.stderr}"
    return proc


async def test_the_chronicle_cli(client: Client, chronicle_server: str) -> None:
    tq, aid = queue(), f"chronicle-cli-{uuid.uuid4()}"
    start = ["--type", "flaky", "--task-queue", tq, "--start-to-close-timeout", "10s", "--input", "2"]
    retry = ["--retry-initial-interval", "100ms", "--retry-backoff-coefficient", "1"]
    async with Worker(client, task_queue=tq, activities=ACTIVITIES):
        out = await asyncio.to_thread(chronicle, chronicle_server, "execute", "-a", aid, *start, *retry, "-o", "json")
        assert json.loads(out.stdout)["result"] == "done at attempt 2"
    text = chronicle(chronicle_server, "describe", "-a", aid).stdout
    assert "Completed" in text and "Attempt       2" in text
    described = json.loads(chronicle(chronicle_server, "describe", "-a", aid, "-o", "json").stdout)
    assert described["info"]["activityId"] == aid
    assert aid in chronicle(chronicle_server, "list", "-q", f"TaskQueue = '{tq}'").stdout
    assert chronicle(chronicle_server, "count", "-q", f"ActivityId = '{aid}'").stdout.startswith("Total: 1")
    assert "done at attempt 2" in chronicle(chronicle_server, "result", "-a", aid).stdout
    # A second start with the id taken is refused; cancel, terminate, delete.
    other = f"chronicle-cli-other-{uuid.uuid4()}"
    chronicle(chronicle_server, "start", "-a", other, *start)
    refused = chronicle(chronicle_server, "start", "-a", other, *start, ok=False)
    assert refused.returncode != 0 and "already started" in refused.stderr
    chronicle(chronicle_server, "cancel", "-a", other, "--reason", "no")
    assert (await client.get_activity_handle(other).describe()).status == ActivityExecutionStatus.CANCELED
    failed = chronicle(chronicle_server, "result", "-a", other, ok=False)
    assert failed.returncode != 0 and "Activity canceled" in failed.stdout
    chronicle(chronicle_server, "delete", "-a", other, "--yes")
    await wait_until(lambda: _gone(client, other), "deleted")
    missing = chronicle(chronicle_server, "describe", "-a", other, ok=False)
    assert missing.returncode != 0 and "activity not found" in missing.stderr


async def test_bad_requests_change_nothing(client: Client) -> None:
    tq = queue()

    async def refused(code: RPCStatusCode, **fields) -> str:
        request = StartActivityExecutionRequest(namespace=NAMESPACE, **fields)
        with pytest.raises(RPCError) as err:
            await client.workflow_service.start_activity_execution(request)
        assert err.value.status == code, err.value.message
        return err.value.message

    base = dict(activity_type={"name": "t"}, task_queue={"name": tq}, start_to_close_timeout={"seconds": 5})
    assert "activity" in (await refused(RPCStatusCode.INVALID_ARGUMENT, **base)).lower()
    no_timeout = dict(activity_id="a", activity_type={"name": "t"}, task_queue={"name": tq})
    assert "StartToCloseTimeout or ScheduleToCloseTimeout" in await refused(
        RPCStatusCode.INVALID_ARGUMENT, **no_timeout
    )
    await refused(RPCStatusCode.INVALID_ARGUMENT, activity_id="a", task_queue={"name": tq}, start_to_close_timeout={"seconds": 5})
    await refused(RPCStatusCode.INVALID_ARGUMENT, activity_id="x" * 1001, **base)
    await refused(RPCStatusCode.INVALID_ARGUMENT, activity_id="a", **{**base, "retry_policy": {"backoff_coefficient": 0.5}})
    assert [a async for a in client.list_activities(f"TaskQueue = '{tq}'")] == []

    with pytest.raises(RPCError) as err:
        await client.get_activity_handle(f"missing-{uuid.uuid4()}").describe()
    assert err.value.status == RPCStatusCode.NOT_FOUND
    with pytest.raises(RPCError) as err:
        await client.get_activity_handle("a", run_id="not-a-uuid").describe()
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
    with pytest.raises(RPCError) as err:
        await client.workflow_service.describe_activity_execution(
            DescribeActivityExecutionRequest(namespace=NAMESPACE, activity_id="a", long_poll_token=b"x")
        )
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
    with pytest.raises(RPCError) as err:
        await client.get_activity_handle(f"missing-{uuid.uuid4()}").cancel()
    assert err.value.status == RPCStatusCode.NOT_FOUND
    # Workflow attributes name nothing an activity has.
    assert [a async for a in client.list_activities(f"WorkflowId = '{tq}' OR WorkflowType = 'nobody'")] == []
    with pytest.raises(RPCError) as err:
        [a async for a in client.list_activities("Nobody = 'x'")]
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT


@pytest.fixture(scope="module")
def standalone_reference():
    """Temporal's dev server with standalone activities on (as the SDKs' own test suites start it)."""
    flags = ["activity.enableStandalone=true", "history.enableChasm=true", "history.enableTransitionHistory=true"]
    yield from running_reference([arg for flag in flags for arg in ("--dynamic-config-value", flag)])


async def outcome_of(handle):
    """The activity's outcome, once it has one (Temporal's dev server records a cancel or terminate
    of an activity no worker holds a moment after answering the request)."""
    for _ in range(100):
        outcome = (await handle.describe(include_outcome=True)).raw_outcome
        if outcome is not None:
            return outcome
        await asyncio.sleep(0.1)
    raise AssertionError(f"{handle.id} never got an outcome")


async def scenario(address: str) -> dict:
    """The same activities on a server: what describe shows, each outcome, each refusal."""
    from google.protobuf.json_format import MessageToDict

    client = await Client.connect(address, namespace=NAMESPACE)
    tq = queue()
    seen: dict = {}

    def shape(message) -> dict:
        d = MessageToDict(message)
        d.get("failure", {}).pop("stackTrace", None)
        for info in ("canceledFailureInfo", "terminatedFailureInfo"):
            d.get("failure", {}).get(info, {}).pop("identity", None)
        return d

    waiting = await client.start_activity(
        "nobody", id=f"d-wait-{tq}", task_queue=tq, start_to_close_timeout=timedelta(seconds=10), summary="s"
    )
    seen["scheduled"] = sorted(MessageToDict((await waiting.describe()).raw_info))
    # Temporal's visibility catches up with a start shortly after it.
    for _ in range(100):
        running = [a async for a in client.list_activities(f"ActivityId = '{waiting.id}'")]
        if running:
            break
        await asyncio.sleep(0.1)
    seen["listed_running"] = [sorted(MessageToDict(a.raw_info)) for a in running]
    async with Worker(client, task_queue=tq, activities=ACTIVITIES):
        done = await client.start_activity(
            flaky, 2, id=f"d-done-{tq}", task_queue=tq, start_to_close_timeout=timedelta(seconds=10), retry_policy=FAST_RETRY
        )
        await done.result()
        failed = await client.start_activity(fatal, id=f"d-fatal-{tq}", task_queue=tq, start_to_close_timeout=timedelta(seconds=10))
        with pytest.raises(ActivityFailureError):
            await failed.result()
    desc = await done.describe(include_outcome=True, include_last_failure=True, include_heartbeat_details=True)
    info = MessageToDict(desc.raw_info)
    seen["completed"] = (sorted(k for k in info if k not in ("sdkName", "sdkVersion")), info["status"], info["attempt"])
    seen["completed_outcome"] = shape(desc.raw_outcome)
    seen["failed_outcome"] = shape((await failed.describe(include_outcome=True)).raw_outcome)
    await waiting.cancel(reason="r")
    seen["canceled_outcome"] = shape(await outcome_of(waiting))
    unpolled = await client.start_activity(
        "nobody",
        id=f"d-s2s-{tq}",
        task_queue=queue(),
        start_to_close_timeout=timedelta(seconds=10),
        schedule_to_start_timeout=timedelta(milliseconds=300),
    )
    with pytest.raises(ActivityFailureError):
        await unpolled.result()
    seen["timeout_outcome"] = shape((await unpolled.describe(include_outcome=True)).raw_outcome)
    ended = await client.start_activity("nobody", id=f"d-term-{tq}", task_queue=tq, start_to_close_timeout=timedelta(seconds=10))
    await ended.terminate(reason="bye")
    seen["terminated_outcome"] = shape(await outcome_of(ended))
    refusals = []
    for call in (ended.terminate(reason="again"), ended.cancel(), client.get_activity_handle(f"d-none-{tq}").describe()):
        with pytest.raises(RPCError) as err:
            await call
        refusals.append((err.value.status, err.value.message.replace(tq, "TQ").split(" ID ")[0]))
    seen["refusals"] = refusals
    for _ in range(100):
        listed = [a async for a in client.list_activities(f"ActivityId = '{done.id}'")]
        if listed and "closeTime" in MessageToDict(listed[0].raw_info):
            break
        await asyncio.sleep(0.1)
    seen["listed"] = [sorted(MessageToDict(a.raw_info)) for a in listed]
    return seen


@pytest.mark.skipif(temporal_bin_missing_reason() is not None, reason=temporal_bin_missing_reason() or "")
async def test_the_same_activities_match_temporal(standalone_reference: str, chronicle_server: str) -> None:
    reference = await scenario(standalone_reference)
    ours = await scenario(chronicle_server)
    for key in reference:
        assert ours[key] == reference[key], key


async def test_acknowledged_activities_survive_a_killed_server() -> None:
    """SIGKILL between attempts: the retried activity goes on from its attempt, an unpolled one still
    times out, a terminated one stays terminated."""
    with tempfile.TemporaryDirectory() as tmp:
        server = ChronicleServer(_chronicle_bin(), Path(tmp) / "chronicle.db")
        try:
            client = await Client.connect(server.start(), namespace=NAMESPACE)
            tq, aid = queue(), f"crash-{uuid.uuid4()}"
            slow_retry = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=1.0)
            async with Worker(client, task_queue=tq, activities=ACTIVITIES):
                retried = await client.start_activity(
                    flaky, 3, id=aid, task_queue=tq, start_to_close_timeout=timedelta(seconds=10), retry_policy=slow_retry
                )
                await wait_until(lambda: asyncio.sleep(0, len(ATTEMPTS.get(aid, [])) >= 1), "ran once")
            unpolled = await client.start_activity(
                "nobody",
                id=f"crash-timeout-{uuid.uuid4()}",
                task_queue=queue(),
                start_to_close_timeout=timedelta(seconds=10),
                schedule_to_close_timeout=timedelta(seconds=3),
            )
            ended = await client.start_activity(
                "nobody", id=f"crash-ended-{uuid.uuid4()}", task_queue=queue(), start_to_close_timeout=timedelta(seconds=10)
            )
            await ended.terminate(reason="before the crash")
            server.proc.kill()
            server.proc.wait(timeout=10)

            client = await Client.connect(server.start(), namespace=NAMESPACE)
            async with Worker(client, task_queue=tq, activities=ACTIVITIES):
                again = client.get_activity_handle(aid, run_id=retried.run_id, result_type=str)
                assert await asyncio.wait_for(again.result(), 30) == "done at attempt 3"
            assert ATTEMPTS[aid][0] == 1 and ATTEMPTS[aid][-1] == 3
            with pytest.raises(ActivityFailureError) as err:
                await asyncio.wait_for(client.get_activity_handle(unpolled.id).result(), 30)
            assert isinstance(err.value.cause, TimeoutError)
            assert (await client.get_activity_handle(ended.id).describe()).status == ActivityExecutionStatus.TERMINATED
        finally:
            server.stop()
            server.drop_data()
