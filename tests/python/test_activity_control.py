"""Activity controls (PauseActivity, UnpauseActivity, ResetActivity, UpdateActivityOptions) through
the `temporal` CLI and the Python SDK: a paused activity stops being retried and resumes on unpause;
a running activity learns from its heartbeat that it was paused; a reset activity starts again at
attempt 1; new options (retries, timeouts) take effect and the originals come back; describe shows
the pause; and the requests Temporal refuses. Each test also passes against Temporal's dev
server (CHRONICLE_ADDRESS=127.0.0.1:7233).
"""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    import pytest
    from temporalio.api.common.v1 import WorkflowExecution
    from temporalio.api.enums.v1 import PendingActivityState
    from temporalio.api.workflowservice.v1 import PauseActivityRequest, UnpauseActivityRequest
    from temporalio.client import Client
    from temporalio.exceptions import ApplicationError
    from temporalio.service import RPCError, RPCStatusCode
    from temporalio.worker import Worker

    from reference import temporal_bin, temporal_bin_missing_reason

pytestmark = pytest.mark.skipif(temporal_bin_missing_reason() is not None, reason=temporal_bin_missing_reason() or "")

NAMESPACE = "default"
# Per workflow id: the attempts each activity saw, and whether it may succeed.
ATTEMPTS: dict[str, list[int]] = {}
SUCCEED: set[str] = set()
PAUSED_SEEN: set[str] = set()


@activity.defn
async def failing_until_allowed() -> str:
    key = activity.info().workflow_id
    ATTEMPTS.setdefault(key, []).append(activity.info().attempt)
    if key in SUCCEED:
        return f"done at attempt {activity.info().attempt}"
    raise ApplicationError("not yet")


@activity.defn
async def heartbeating() -> str:
    key = activity.info().workflow_id
    ATTEMPTS.setdefault(key, []).append(activity.info().attempt)
    if key in SUCCEED:
        return "done"
    try:
        while True:
            activity.heartbeat()
            await asyncio.sleep(0.2)
    except asyncio.CancelledError:
        details = activity.cancellation_details()
        if details is not None and details.paused:
            PAUSED_SEEN.add(key)
        raise


@workflow.defn
class ControlledActivity:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            name,
            start_to_close_timeout=timedelta(seconds=30),
            heartbeat_timeout=timedelta(seconds=5),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=300), backoff_coefficient=1.0),
        )


def temporal(address: str, *args: str) -> subprocess.CompletedProcess:
    cmd = [str(temporal_bin()), "activity", *args, "--address", address]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"{cmd} exited {proc.returncode}: {proc.stdout} {proc.stderr}"
    return proc


async def pending(handle):
    """The workflow's one pending activity (None before it is scheduled)."""
    desc = await handle.describe()
    activities = list(desc.raw_description.pending_activities)
    assert len(activities) <= 1
    return activities[0] if activities else None


async def wait_until(predicate, what: str, timeout_s: float = 20.0) -> None:
    for _ in range(int(timeout_s * 20)):
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never {what}")


async def test_a_paused_activity_is_not_retried_until_unpaused(client: Client, chronicle_server: str) -> None:
    task_queue = f"pause-{uuid.uuid4()}"
    workflow_id = f"pause-{uuid.uuid4()}"
    async with Worker(client, task_queue=task_queue, workflows=[ControlledActivity], activities=[failing_until_allowed]):
        handle = await client.start_workflow(
            ControlledActivity.run, "failing_until_allowed", id=workflow_id, task_queue=task_queue
        )
        await wait_until(lambda: asyncio.sleep(0, len(ATTEMPTS.get(workflow_id, [])) >= 2), "retried")
        temporal(chronicle_server, "pause", "-w", workflow_id, "-a", "1", "--identity", "operator")
        p = await pending(handle)
        assert p.paused
        assert p.state in (
            PendingActivityState.PENDING_ACTIVITY_STATE_PAUSED,
            PendingActivityState.PENDING_ACTIVITY_STATE_PAUSE_REQUESTED,
        )
        assert p.pause_info.manual.identity == "operator"
        # An attempt running when it was paused may still end; then nothing runs.
        await asyncio.sleep(1.0)
        seen = len(ATTEMPTS[workflow_id])
        await asyncio.sleep(1.5)
        assert len(ATTEMPTS[workflow_id]) == seen, "a paused activity was retried"
        assert (await pending(handle)).state == PendingActivityState.PENDING_ACTIVITY_STATE_PAUSED
        SUCCEED.add(workflow_id)
        temporal(chronicle_server, "unpause", "-w", workflow_id, "-a", "1")
        result = await asyncio.wait_for(handle.result(), 20)
        assert result == f"done at attempt {seen + 1}"


async def test_a_running_activity_learns_it_was_paused(client: Client, chronicle_server: str) -> None:
    task_queue = f"pause-{uuid.uuid4()}"
    workflow_id = f"pause-running-{uuid.uuid4()}"
    async with Worker(client, task_queue=task_queue, workflows=[ControlledActivity], activities=[heartbeating]):
        handle = await client.start_workflow(ControlledActivity.run, "heartbeating", id=workflow_id, task_queue=task_queue)
        await wait_until(lambda: _started(handle), "started its activity")
        temporal(chronicle_server, "pause", "-w", workflow_id, "-a", "1")
        await wait_until(lambda: asyncio.sleep(0, workflow_id in PAUSED_SEEN), "was told it was paused")
        # Its attempt failed while paused: no retry.
        await wait_until(
            lambda: _state(handle, PendingActivityState.PENDING_ACTIVITY_STATE_PAUSED), "waited paused"
        )
        assert ATTEMPTS[workflow_id] == [1]
        SUCCEED.add(workflow_id)
        # The older request form has reset_attempts (the CLI's newer one does not).
        await client.workflow_service.unpause_activity(
            UnpauseActivityRequest(
                namespace=NAMESPACE, execution=WorkflowExecution(workflow_id=workflow_id), id="1", reset_attempts=True
            )
        )
        assert await asyncio.wait_for(handle.result(), 20) == "done"
        assert ATTEMPTS[workflow_id] == [1, 1]


async def _started(handle) -> bool:
    return await _state(handle, PendingActivityState.PENDING_ACTIVITY_STATE_STARTED)


async def _state(handle, state) -> bool:
    p = await pending(handle)
    return p is not None and p.state == state


async def test_a_reset_activity_starts_again_at_attempt_one(client: Client, chronicle_server: str) -> None:
    task_queue = f"reset-activity-{uuid.uuid4()}"
    workflow_id = f"reset-activity-{uuid.uuid4()}"
    async with Worker(client, task_queue=task_queue, workflows=[ControlledActivity], activities=[failing_until_allowed]):
        handle = await client.start_workflow(
            ControlledActivity.run, "failing_until_allowed", id=workflow_id, task_queue=task_queue
        )
        await wait_until(lambda: asyncio.sleep(0, len(ATTEMPTS.get(workflow_id, [])) >= 3), "retried twice")
        temporal(chronicle_server, "pause", "-w", workflow_id, "-a", "1")
        await wait_until(lambda: _state(handle, PendingActivityState.PENDING_ACTIVITY_STATE_PAUSED), "paused")
        SUCCEED.add(workflow_id)
        # Reset keeping it paused: attempt 1, still waiting.
        temporal(chronicle_server, "reset", "-w", workflow_id, "-a", "1", "--keep-paused")
        p = await pending(handle)
        assert (p.attempt, p.state) == (1, PendingActivityState.PENDING_ACTIVITY_STATE_PAUSED)
        temporal(chronicle_server, "reset", "-w", workflow_id, "-a", "1")
        assert await asyncio.wait_for(handle.result(), 20) == "done at attempt 1"


async def test_bad_activity_controls(client: Client) -> None:
    async def refused(code: RPCStatusCode, message: str, request: PauseActivityRequest) -> None:
        with pytest.raises(RPCError) as err:
            await client.workflow_service.pause_activity(request)
        assert err.value.status == code, err.value.message
        assert message in err.value.message, err.value.message

    task_queue = f"bad-control-{uuid.uuid4()}"
    workflow_id = f"bad-control-{uuid.uuid4()}"
    async with Worker(client, task_queue=task_queue, workflows=[ControlledActivity], activities=[failing_until_allowed]):
        handle = await client.start_workflow(
            ControlledActivity.run, "failing_until_allowed", id=workflow_id, task_queue=task_queue
        )
        execution = WorkflowExecution(workflow_id=workflow_id)
        invalid = RPCStatusCode.INVALID_ARGUMENT
        await refused(invalid, "WorkflowId is not set on request.", PauseActivityRequest(namespace=NAMESPACE, id="1"))
        await refused(
            invalid, "Either Activity.Id or Activity.Type should be set on request.",
            PauseActivityRequest(namespace=NAMESPACE, execution=execution),
        )
        await wait_until(lambda: asyncio.sleep(0, len(ATTEMPTS.get(workflow_id, [])) >= 1), "ran")
        await refused(
            RPCStatusCode.NOT_FOUND, "Can't find pending activity with such ID",
            PauseActivityRequest(namespace=NAMESPACE, execution=execution, id="no-such-activity"),
        )
        await refused(
            RPCStatusCode.NOT_FOUND, "Can't find pending activity with such ID",
            PauseActivityRequest(namespace=NAMESPACE, execution=execution, type="NoSuchType"),
        )
        assert not (await pending(handle)).paused
        await handle.terminate("done")
        await refused(
            RPCStatusCode.NOT_FOUND, "workflow execution already completed",
            PauseActivityRequest(namespace=NAMESPACE, execution=execution, id="1"),
        )


@workflow.defn
class OptionsWorkflow:
    """Runs an always-failing activity with unlimited retries; returns how it ended."""

    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.execute_activity(
                failing_until_allowed,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=200), backoff_coefficient=1.0),
            )
            return "succeeded"
        except Exception as e:  # an ActivityError once retries run out
            return f"gave up: {e.cause}"


async def test_new_activity_options_take_effect_and_the_originals_come_back(
    client: Client, chronicle_server: str
) -> None:
    from temporalio.api.workflowservice.v1 import UpdateActivityOptionsRequest
    from temporalio.api.activity.v1 import ActivityOptions
    from google.protobuf.field_mask_pb2 import FieldMask

    task_queue = f"options-{uuid.uuid4()}"
    workflow_id = f"options-{uuid.uuid4()}"
    async with Worker(client, task_queue=task_queue, workflows=[OptionsWorkflow], activities=[failing_until_allowed]):
        handle = await client.start_workflow(OptionsWorkflow.run, id=workflow_id, task_queue=task_queue)
        await wait_until(lambda: asyncio.sleep(0, len(ATTEMPTS.get(workflow_id, [])) >= 2), "retried")
        # A longer start-to-close timeout, then back to the scheduled one.
        temporal(chronicle_server, "update-options", "-w", workflow_id, "-a", "1", "--start-to-close-timeout", "45s")
        assert (await pending(handle)).activity_options.start_to_close_timeout.seconds == 45
        temporal(chronicle_server, "update-options", "-w", workflow_id, "-a", "1", "--restore-original-options")
        assert (await pending(handle)).activity_options.start_to_close_timeout.seconds == 30
        # A mask and a restore together are refused; so is no mask.
        for request, message in (
            (
                UpdateActivityOptionsRequest(
                    namespace=NAMESPACE, execution=WorkflowExecution(workflow_id=workflow_id), id="1",
                    activity_options=ActivityOptions(), update_mask=FieldMask(paths=["heartbeat_timeout"]),
                    restore_original=True,
                ),
                "Both UpdateMask and RestoreOriginal are provided",
            ),
            (
                UpdateActivityOptionsRequest(
                    namespace=NAMESPACE, execution=WorkflowExecution(workflow_id=workflow_id), id="1",
                    activity_options=ActivityOptions(),
                ),
                "UpdateMask is not provided",
            ),
        ):
            with pytest.raises(RPCError) as err:
                await client.workflow_service.update_activity_options(request)
            assert err.value.status == RPCStatusCode.INVALID_ARGUMENT and message in err.value.message
        # At most as many attempts as it has made plus one: then the workflow sees the failure.
        limit = len(ATTEMPTS[workflow_id]) + 1
        temporal(chronicle_server, "update-options", "-w", workflow_id, "-a", "1", "--retry-maximum-attempts", str(limit))
        result = await asyncio.wait_for(handle.result(), 20)
        assert result.startswith("gave up"), result
        assert len(ATTEMPTS[workflow_id]) <= limit + 1


async def test_a_batch_unpauses_the_activities_of_a_query(client: Client, chronicle_server: str) -> None:
    from temporalio.api.batch.v1 import BatchOperationUnpauseActivities
    from temporalio.api.enums.v1 import BatchOperationState
    from temporalio.api.workflowservice.v1 import DescribeBatchOperationRequest, StartBatchOperationRequest

    task_queue = f"batch-unpause-{uuid.uuid4()}"
    ids = [f"batch-unpause-{i}-{uuid.uuid4()}" for i in range(2)]
    async with Worker(client, task_queue=task_queue, workflows=[ControlledActivity], activities=[failing_until_allowed]):
        handles = [
            await client.start_workflow(ControlledActivity.run, "failing_until_allowed", id=i, task_queue=task_queue)
            for i in ids
        ]
        for i, h in zip(ids, handles):
            await wait_until(lambda: asyncio.sleep(0, len(ATTEMPTS.get(i, [])) >= 1), "ran")
            temporal(chronicle_server, "pause", "-w", i, "-a", "1")
            await wait_until(lambda: _state(h, PendingActivityState.PENDING_ACTIVITY_STATE_PAUSED), "paused")
            SUCCEED.add(i)
        # The paused runs are found by their TemporalPauseInfo search attribute.
        query = "(" + " OR ".join(f"WorkflowId = '{i}'" for i in ids) + ")"
        paused_query = f"{query} AND TemporalPauseInfo = 'property:activityType=failing_until_allowed'"
        for _ in range(100):
            if (await client.count_workflows(paused_query)).count == 2:
                break
            await asyncio.sleep(0.1)
        assert (await client.count_workflows(paused_query)).count == 2
        # One through the temporal CLI's batch form, the other by type through the API.
        out = subprocess.run(
            [str(temporal_bin()), "activity", "unpause", "--query", f"WorkflowId = '{ids[0]}'", "--yes",
             "--address", chronicle_server],
            capture_output=True, text=True, timeout=60,
        )
        assert out.returncode == 0, out.stdout + out.stderr
        assert (await asyncio.wait_for(handles[0].result(), 20)).startswith("done")
        job_id = f"unpause-{uuid.uuid4()}"
        request = StartBatchOperationRequest(
            namespace=NAMESPACE,
            job_id=job_id,
            reason="unpause them",
            visibility_query=" OR ".join(f"WorkflowId = '{i}'" for i in ids),
            unpause_activities_operation=BatchOperationUnpauseActivities(identity="t", type="failing_until_allowed"),
        )
        for _ in range(50):  # one batch at a time: the CLI's may still be closing
            try:
                await client.workflow_service.start_batch_operation(request)
                break
            except RPCError as e:
                assert e.status == RPCStatusCode.RESOURCE_EXHAUSTED, e.message
                await asyncio.sleep(0.1)
        for h in handles:
            assert (await asyncio.wait_for(h.result(), 20)).startswith("done")
        described = await client.workflow_service.describe_batch_operation(
            DescribeBatchOperationRequest(namespace=NAMESPACE, job_id=job_id)
        )
        assert described.state in (
            BatchOperationState.BATCH_OPERATION_STATE_RUNNING,
            BatchOperationState.BATCH_OPERATION_STATE_COMPLETED,
        )
