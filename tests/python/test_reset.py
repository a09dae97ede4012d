"""ResetWorkflowExecution through the Python SDK, the `temporal` CLI and `chronicle workflow reset`:
each reset type on a workflow with activities, a timer, signals and a child, finished and replayed by
the SDK afterwards; signals after the reset point applied again (or not, when excluded); a reset
across continue-as-new; a parent reset while its child runs gets the child's result; bad requests
answered as Temporal answers them, changing nothing; and the histories of a reset compared with
Temporal's dev server event by event.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from datetime import timedelta

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    import grpc
    import pytest
    from temporalio.api.common.v1 import WorkflowExecution
    from temporalio.api.enums.v1 import (
        EventType,
        ResetReapplyExcludeType,
        WorkflowExecutionStatus,
        WorkflowTaskFailedCause,
    )
    from temporalio.api.workflow.v1 import PostResetOperation
    from temporalio.api.workflowservice.v1 import (
        DescribeWorkflowExecutionRequest,
        ResetWorkflowExecutionRequest,
    )
    from temporalio.client import Client
    from temporalio.service import RPCError, RPCStatusCode
    from temporalio.worker import Replayer, Worker

    from conftest import _chronicle_bin
    from reference import reference_server, temporal_bin, temporal_bin_missing_reason  # noqa: F401 (fixture)
    from test_differential import diff_histories

NAMESPACE = "default"
TIMEOUT_S = 60.0


@activity.defn
async def reset_step(name: str) -> str:
    return f"step-{name}"


@workflow.defn
class ResetChild:
    @workflow.run
    async def run(self, name: str) -> str:
        return f"child-{name}"


@workflow.defn
class ResetFlow:
    """An activity, a timer, a signal, a child, an activity, a second signal."""

    def __init__(self) -> None:
        self.signals: list[str] = []

    @workflow.signal
    def go(self, value: str) -> None:
        self.signals.append(value)

    @workflow.run
    async def run(self) -> list[str]:
        timeout = timedelta(seconds=10)
        a = await workflow.execute_activity(reset_step, "a", start_to_close_timeout=timeout)
        await workflow.sleep(0.1)
        await workflow.wait_condition(lambda: len(self.signals) >= 1)
        child = await workflow.execute_child_workflow(
            ResetChild.run, "c", id=f"{workflow.info().workflow_id}-child"
        )
        b = await workflow.execute_activity(reset_step, "b", start_to_close_timeout=timeout)
        await workflow.wait_condition(lambda: len(self.signals) >= 2)
        return [a, child, b, *self.signals]


@workflow.defn
class ResetChain:
    """Continues as new `runs` times, then waits for a signal."""

    def __init__(self) -> None:
        self.done = False

    @workflow.signal
    def finish(self) -> None:
        self.done = True

    @workflow.run
    async def run(self, runs: int) -> int:
        await workflow.execute_activity(reset_step, str(runs), start_to_close_timeout=timedelta(seconds=10))
        if runs > 0:
            workflow.continue_as_new(runs - 1)
        await workflow.wait_condition(lambda: self.done)
        return runs


@workflow.defn
class ResetWaitingChild:
    def __init__(self) -> None:
        self.released = False

    @workflow.signal
    def release(self) -> None:
        self.released = True

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.released)
        return "released"


@workflow.defn
class ResetParent:
    @workflow.run
    async def run(self) -> str:
        child = await workflow.start_child_workflow(
            ResetWaitingChild.run, id=f"{workflow.info().workflow_id}-child"
        )
        await workflow.execute_activity(reset_step, "p", start_to_close_timeout=timedelta(seconds=10))
        return "parent got " + await child


WORKFLOWS = [ResetFlow, ResetChild, ResetChain, ResetWaitingChild, ResetParent]


def event_types(history) -> list[int]:
    return [e.event_type for e in history.events]


async def wait_for(handle, predicate, what: str) -> None:
    """Until the run's history satisfies `predicate`."""
    for _ in range(400):
        history = await handle.fetch_history()
        if predicate(history):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{handle.id}: never {what}")


def waiting_for_second_signal(history) -> bool:
    """ResetFlow ran activity b and completed the workflow task after it."""
    types = event_types(history)
    completed = [i for i, t in enumerate(types) if t == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED]
    return len(completed) >= 2 and EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED in types[completed[-1]:]


async def start_flow(client: Client, task_queue: str, workflow_id: str | None = None):
    handle = await client.start_workflow(
        ResetFlow.run, id=workflow_id or f"reset-{uuid.uuid4()}", task_queue=task_queue
    )
    await wait_for(handle, lambda h: EventType.EVENT_TYPE_TIMER_FIRED in event_types(h), "fired its timer")
    await handle.signal(ResetFlow.go, "s1")
    await wait_for(handle, waiting_for_second_signal, "waited for its second signal")
    return handle


async def run_cli(binary: str, address: str, *args: str) -> subprocess.CompletedProcess:
    cmd = [binary, "workflow", "reset", "--address", address, *args]
    proc = await asyncio.to_thread(subprocess.run, cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"{cmd} exited {proc.returncode}: {proc.stdout} {proc.stderr}"
    return proc


async def describe(client: Client, workflow_id: str, run_id: str = ""):
    return await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=NAMESPACE, execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id)
        )
    )


async def finish_after_reset(client: Client, workflow_id: str, old_run_id: str) -> list[str]:
    """The reset run is current and replays to its second wait; a signal finishes it; the SDK
    replays the whole history."""
    current = await describe(client, workflow_id)
    new_run_id = current.workflow_execution_info.execution.run_id
    assert new_run_id != old_run_id
    assert current.workflow_extended_info.HasField("last_reset_time")
    old = await describe(client, workflow_id, old_run_id)
    assert old.workflow_execution_info.status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TERMINATED
    assert old.workflow_extended_info.reset_run_id == new_run_id
    handle = client.get_workflow_handle(workflow_id, run_id=new_run_id)
    await wait_for(handle, waiting_for_second_signal, "ran again to its second wait")
    await handle.signal(ResetFlow.go, "s2")
    result = await asyncio.wait_for(handle.result(), TIMEOUT_S)
    await Replayer(workflows=WORKFLOWS).replay_workflow(await handle.fetch_history())
    old_history = await client.get_workflow_handle(workflow_id, run_id=old_run_id).fetch_history()
    last = old_history.events[-1]
    assert last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED
    assert last.workflow_execution_terminated_event_attributes.identity == "history-resetter"
    return result


def reset_events(history, base_run_id: str) -> tuple[int, list[int]]:
    """The reset's WorkflowTaskFailed id and the event types that follow it up to the next task."""
    for i, e in enumerate(history.events):
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            a = e.workflow_task_failed_event_attributes
            assert a.cause == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW
            assert a.base_run_id == base_run_id and a.identity == "history-service"
            rest = []
            for f in history.events[i + 1 :]:
                rest.append(f.event_type)
                if f.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
                    break
            return e.event_id, rest
    raise AssertionError("no WorkflowTaskFailed in the reset run")


@pytest.mark.parametrize(
    "reset_type", ["FirstWorkflowTask", "LastWorkflowTask", "event-id", "BuildId"]
)
async def test_each_reset_type_runs_the_workflow_again(client: Client, chronicle_server: str, reset_type: str) -> None:
    if reset_type in ("FirstWorkflowTask", "LastWorkflowTask") and temporal_bin_missing_reason():
        pytest.skip(temporal_bin_missing_reason())
    task_queue = f"reset-{uuid.uuid4()}"
    async with Worker(client, task_queue=task_queue, workflows=WORKFLOWS, activities=[reset_step]):
        handle = await start_flow(client, task_queue)
        base_run_id = handle.result_run_id
        base = await handle.fetch_history()
        target = ["-w", handle.id, "--reason", f"reset by {reset_type}"]
        if reset_type in ("FirstWorkflowTask", "LastWorkflowTask"):
            await run_cli(str(temporal_bin()), chronicle_server, *target, "--type", reset_type)
        elif reset_type == "event-id":
            # The workflow task completed right after the signal.
            signaled = next(e.event_id for e in base.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
            point = next(
                e.event_id
                for e in base.events
                if e.event_id > signaled and e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
            )
            await run_cli(str(_chronicle_bin()), chronicle_server, *target, "--event-id", str(point))
        else:
            info = (await describe(client, handle.id)).workflow_execution_info
            (point,) = info.auto_reset_points.points
            assert point.run_id == base_run_id and point.first_workflow_task_completed_id == 4
            # As on Temporal, a point expires only once a run continues its run.
            assert point.resettable and not point.HasField("expire_time")
            out = await run_cli(
                str(_chronicle_bin()), chronicle_server, *target, "--type", "BuildId", "--build-id", point.build_id,
                "-o", "json",
            )
            assert json.loads(out.stdout)["runId"]
        result = await finish_after_reset(client, handle.id, base_run_id)
        assert result == ["step-a", "child-c", "step-b", "s1", "s2"]
        new = await client.get_workflow_handle(handle.id).fetch_history()
        failed_id, after = reset_events(new, base_run_id)
        # The base's events up to the point are the reset run's first events.
        assert [e.event_type for e in new.events[: failed_id - 2]] == event_types(base)[: failed_id - 2]
        if reset_type in ("FirstWorkflowTask", "BuildId"):
            # The signal came after the point: it is applied again.
            assert after == [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED]
        else:
            assert after == [EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED]


async def test_excluded_signals_are_not_applied_again(client: Client, chronicle_server: str) -> None:
    task_queue = f"reset-{uuid.uuid4()}"
    async with Worker(client, task_queue=task_queue, workflows=WORKFLOWS, activities=[reset_step]):
        handle = await start_flow(client, task_queue)
        response = await client.workflow_service.reset_workflow_execution(
            ResetWorkflowExecutionRequest(
                namespace=NAMESPACE,
                workflow_execution=WorkflowExecution(workflow_id=handle.id, run_id=handle.result_run_id),
                reason="no signals",
                workflow_task_finish_event_id=4,
                request_id=str(uuid.uuid4()),
                reset_reapply_exclude_types=[ResetReapplyExcludeType.RESET_REAPPLY_EXCLUDE_TYPE_SIGNAL],
            )
        )
        new = client.get_workflow_handle(handle.id, run_id=response.run_id)
        _, after = reset_events(await new.fetch_history(), handle.result_run_id)
        assert after == [EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED]
        await wait_for(new, lambda h: EventType.EVENT_TYPE_TIMER_FIRED in event_types(h), "fired its timer")
        await new.signal(ResetFlow.go, "t1")
        await wait_for(new, waiting_for_second_signal, "waited for its second signal")
        await new.signal(ResetFlow.go, "t2")
        assert await asyncio.wait_for(new.result(), TIMEOUT_S) == ["step-a", "child-c", "step-b", "t1", "t2"]


async def test_a_repeated_reset_request_returns_the_same_run(client: Client) -> None:
    task_queue = f"reset-{uuid.uuid4()}"
    async with Worker(client, task_queue=task_queue, workflows=WORKFLOWS, activities=[reset_step]):
        handle = await start_flow(client, task_queue)
        request = ResetWorkflowExecutionRequest(
            namespace=NAMESPACE,
            workflow_execution=WorkflowExecution(workflow_id=handle.id),
            reason="twice",
            workflow_task_finish_event_id=4,
            request_id=str(uuid.uuid4()),
        )
        first = await client.workflow_service.reset_workflow_execution(request)
        second = await client.workflow_service.reset_workflow_execution(request)
        assert first.run_id == second.run_id
        await client.get_workflow_handle(handle.id, run_id=first.run_id).terminate("done")


async def test_reset_across_continue_as_new(client: Client, chronicle_server: str) -> None:
    task_queue = f"reset-{uuid.uuid4()}"
    async with Worker(client, task_queue=task_queue, workflows=WORKFLOWS, activities=[reset_step]):
        handle = await client.start_workflow(ResetChain.run, 2, id=f"chain-{uuid.uuid4()}", task_queue=task_queue)
        last = client.get_workflow_handle(handle.id)
        await wait_for(
            last,
            lambda h: h.events[0].workflow_execution_started_event_attributes.continued_execution_run_id != ""
            and EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED in event_types(h)
            and event_types(h)[-1] == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
            and (h.events[0].workflow_execution_started_event_attributes.input.payloads[0].data == b"0"),
            "reached its last run",
        )
        last_run = (await describe(client, handle.id)).workflow_execution_info.execution.run_id
        previous = (await last.fetch_history()).events[0].workflow_execution_started_event_attributes.continued_execution_run_id
        proc = await run_cli(
            str(_chronicle_bin()), chronicle_server, "-w", handle.id, "--reason", "back one run", "--type",
            "LastContinuedAsNew", "-o", "json",
        )
        new_run_id = json.loads(proc.stdout)["runId"]
        # The previous run is rebuilt under a new id; the last run, current, is terminated.
        old = await describe(client, handle.id, last_run)
        assert old.workflow_execution_info.status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TERMINATED
        assert (await describe(client, handle.id, previous)).workflow_extended_info.reset_run_id == new_run_id
        reset_run = client.get_workflow_handle(handle.id, run_id=new_run_id)
        assert (await reset_run.fetch_history()).events[0].workflow_execution_started_event_attributes.input.payloads[0].data == b"1"
        # It continues as new again, into a run that waits for the signal.
        await wait_for(
            client.get_workflow_handle(handle.id),
            lambda h: h.events[0].workflow_execution_started_event_attributes.continued_execution_run_id == new_run_id
            and event_types(h)[-1] == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
            "continued from the reset run",
        )
        final = client.get_workflow_handle(handle.id)
        await final.signal(ResetChain.finish)
        assert await asyncio.wait_for(final.result(), TIMEOUT_S) == 0


async def test_a_parent_reset_while_its_child_runs_gets_the_childs_result(client: Client) -> None:
    task_queue = f"reset-{uuid.uuid4()}"
    async with Worker(client, task_queue=task_queue, workflows=WORKFLOWS, activities=[reset_step]):
        parent = await client.start_workflow(ResetParent.run, id=f"parent-{uuid.uuid4()}", task_queue=task_queue)
        await wait_for(
            parent,
            lambda h: EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED in event_types(h)
            and event_types(h)[-1] == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
            "waited for its child",
        )
        history = await parent.fetch_history()
        started = next(e.event_id for e in history.events if e.event_type == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED)
        point = next(
            e.event_id for e in history.events
            if e.event_id > started and e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
        )
        response = await client.workflow_service.reset_workflow_execution(
            ResetWorkflowExecutionRequest(
                namespace=NAMESPACE,
                workflow_execution=WorkflowExecution(workflow_id=parent.id),
                reason="child keeps running",
                workflow_task_finish_event_id=point,
                request_id=str(uuid.uuid4()),
            )
        )
        child = client.get_workflow_handle(f"{parent.id}-child")
        # The parent's termination by the reset applies no close policy to the child.
        desc = await child.describe()
        assert desc.status.name == "RUNNING"
        await child.signal(ResetWaitingChild.release)
        new_parent = client.get_workflow_handle(parent.id, run_id=response.run_id)
        assert await asyncio.wait_for(new_parent.result(), TIMEOUT_S) == "parent got released"
        await Replayer(workflows=WORKFLOWS).replay_workflow(await new_parent.fetch_history())


async def expect_error(client: Client, request: ResetWorkflowExecutionRequest, code: RPCStatusCode, message: str) -> None:
    with pytest.raises(RPCError) as err:
        await client.workflow_service.reset_workflow_execution(request)
    assert err.value.status == code, err.value.message
    assert message in err.value.message, err.value.message


async def test_bad_resets_are_refused_and_change_nothing(client: Client) -> None:
    task_queue = f"reset-{uuid.uuid4()}"
    async with Worker(client, task_queue=task_queue, workflows=WORKFLOWS, activities=[reset_step]):
        handle = await start_flow(client, task_queue)
        before = await handle.fetch_history()
        scheduled = next(e.event_id for e in before.events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)

        def request(**fields) -> ResetWorkflowExecutionRequest:
            r = ResetWorkflowExecutionRequest(
                namespace=NAMESPACE,
                workflow_execution=WorkflowExecution(workflow_id=handle.id),
                reason="bad",
                workflow_task_finish_event_id=4,
                request_id=str(uuid.uuid4()),
            )
            for k, v in fields.items():
                if k == "workflow_execution":
                    r.workflow_execution.CopyFrom(v)
                else:
                    setattr(r, k, v)
            return r

        invalid = RPCStatusCode.INVALID_ARGUMENT
        await expect_error(
            client, request(workflow_task_finish_event_id=scheduled + 1), invalid,
            "Can only reset workflow to event ID in range [WorkflowTaskScheduled +1, WorkflowTaskStarted + 1]",
        )
        bound = "Workflow task finish ID must be > 1 && <= workflow last event ID."
        await expect_error(client, request(workflow_task_finish_event_id=len(before.events) + 1), invalid, bound)
        await expect_error(client, request(workflow_task_finish_event_id=1), invalid, bound)
        await expect_error(client, request(request_id=""), invalid, "RequestId is not set on request.")
        await expect_error(
            client, request(workflow_execution=WorkflowExecution(workflow_id=handle.id, run_id="not-a-uuid")),
            invalid, "Invalid RunId.",
        )
        op = PostResetOperation()
        op.signal_workflow.signal_name = "go"
        r = request()
        r.post_reset_operations.append(op)
        await expect_error(client, r, invalid, "unsupported post reset operation")
        await expect_error(
            client, request(workflow_execution=WorkflowExecution(workflow_id=f"missing-{uuid.uuid4()}")),
            RPCStatusCode.NOT_FOUND, "workflow not found",
        )
        after = await handle.fetch_history()
        assert len(after.events) == len(before.events)
        assert (await handle.describe()).status.name == "RUNNING"
        await handle.terminate("done")


async def test_a_closed_workflow_can_be_reset(client: Client) -> None:
    task_queue = f"reset-{uuid.uuid4()}"
    async with Worker(client, task_queue=task_queue, workflows=WORKFLOWS, activities=[reset_step]):
        handle = await start_flow(client, task_queue)
        await handle.signal(ResetFlow.go, "s2")
        assert await handle.result() == ["step-a", "child-c", "step-b", "s1", "s2"]
        response = await client.workflow_service.reset_workflow_execution(
            ResetWorkflowExecutionRequest(
                namespace=NAMESPACE,
                workflow_execution=WorkflowExecution(workflow_id=handle.id, run_id=handle.result_run_id),
                reason="again",
                workflow_task_finish_event_id=4,
                request_id=str(uuid.uuid4()),
            )
        )
        # Both signals came after the point: the new run gets both and completes on its own.
        new = client.get_workflow_handle(handle.id, run_id=response.run_id)
        assert await asyncio.wait_for(new.result(), TIMEOUT_S) == ["step-a", "child-c", "step-b", "s1", "s2"]
        old = await describe(client, handle.id, handle.result_run_id)
        assert old.workflow_execution_info.status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED
        assert old.workflow_extended_info.reset_run_id == response.run_id


# --- against Temporal's dev server -------------------------------------------------------------


async def reset_on(address: str, workflow_id: str, task_queue: str):
    client = await Client.connect(address, namespace=NAMESPACE)
    async with Worker(client, task_queue=task_queue, workflows=WORKFLOWS, activities=[reset_step]):
        handle = await start_flow(client, task_queue, workflow_id)
        base_run_id = handle.result_run_id
        await client.workflow_service.reset_workflow_execution(
            ResetWorkflowExecutionRequest(
                namespace=NAMESPACE,
                workflow_execution=WorkflowExecution(workflow_id=workflow_id, run_id=base_run_id),
                reason="differential reset",
                workflow_task_finish_event_id=4,
                request_id=str(uuid.uuid4()),
            )
        )
        await finish_after_reset(client, workflow_id, base_run_id)
        base = await client.get_workflow_handle(workflow_id, run_id=base_run_id).fetch_history()
        new = await client.get_workflow_handle(workflow_id).fetch_history()
    return base, new


@pytest.mark.skipif(temporal_bin_missing_reason() is not None, reason=temporal_bin_missing_reason() or "")
async def test_reset_histories_match_reference(reference_server: str, chronicle_server: str) -> None:
    suffix = uuid.uuid4()
    workflow_id, task_queue = f"diff-reset-wf-{suffix}", f"diff-reset-tq-{suffix}"
    (ref_base, ref_new), (chr_base, chr_new) = await asyncio.wait_for(
        asyncio.gather(
            reset_on(reference_server, workflow_id, task_queue),
            reset_on(chronicle_server, workflow_id, task_queue),
        ),
        TIMEOUT_S * 2,
    )
    for name, ref, chr_ in (("base run", ref_base, chr_base), ("reset run", ref_new, chr_new)):
        diffs = diff_histories(ref, chr_)
        assert not diffs, f"{name}: differences (reference vs chronicle):\n  " + "\n  ".join(diffs)
