"""Batch operations (StartBatchOperation / Describe / List / Stop) through the `temporal` CLI and the
Python SDK's service client: terminate over a query of 1,000 workflows, signal, cancel, delete and
reset over queries, a job stopped half way, a job a killed server finishes after its restart, and
the requests Temporal refuses.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import tempfile
import uuid
from pathlib import Path

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import pytest
    from temporalio.api.batch.v1 import (
        BatchOperationCancellation,
        BatchOperationDeletion,
        BatchOperationReset,
        BatchOperationSignal,
        BatchOperationTermination,
    )
    from temporalio.api.common.v1 import ResetOptions
    from temporalio.api.enums.v1 import BatchOperationState
    from temporalio.api.workflowservice.v1 import (
        CountWorkflowExecutionsRequest,
        DescribeBatchOperationRequest,
        StartBatchOperationRequest,
        StopBatchOperationRequest,
    )
    from temporalio.client import Client
    from temporalio.service import RPCError, RPCStatusCode
    from temporalio.worker import Worker

    from conftest import ChronicleServer, _chronicle_bin
    from reference import temporal_bin, temporal_bin_missing_reason

NAMESPACE = "default"


@workflow.defn
class BatchWaiter:
    """Waits for a signal; finishes with what it got, or as cancelled."""

    def __init__(self) -> None:
        self.got: str | None = None

    @workflow.signal
    def go(self, value: str) -> None:
        self.got = value

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.got is not None)
        return f"got {self.got}"


def temporal(address: str, *args: str) -> subprocess.CompletedProcess:
    cmd = [str(temporal_bin()), *args, "--address", address]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{cmd} exited {proc.returncode}: {proc.stdout} {proc.stderr}"
    return proc


async def start_many(client: Client, workflow_type: str, n: int, task_queue: str) -> list[str]:
    ids = [f"{workflow_type}-{i}-{uuid.uuid4()}" for i in range(n)]
    for chunk in range(0, n, 100):
        await asyncio.gather(
            *(client.start_workflow(workflow_type, id=i, task_queue=task_queue) for i in ids[chunk : chunk + 100])
        )
    return ids


async def count(client: Client, query: str) -> int:
    r = await client.workflow_service.count_workflow_executions(
        CountWorkflowExecutionsRequest(namespace=NAMESPACE, query=query)
    )
    return r.count


async def describe(client: Client, job_id: str):
    return await client.workflow_service.describe_batch_operation(
        DescribeBatchOperationRequest(namespace=NAMESPACE, job_id=job_id)
    )


async def wait_done(client: Client, job_id: str, timeout_s: float = 90.0):
    for _ in range(int(timeout_s * 10)):
        d = await describe(client, job_id)
        if d.state != BatchOperationState.BATCH_OPERATION_STATE_RUNNING:
            return d
        await asyncio.sleep(0.1)
    raise AssertionError(f"batch {job_id} still running after {timeout_s}s")


def unique_type() -> str:
    # A workflow type of its own per test, so queries see only its workflows.
    return f"BatchType{uuid.uuid4().hex[:12]}"


@pytest.mark.skipif(temporal_bin_missing_reason() is not None, reason=temporal_bin_missing_reason() or "")
async def test_terminate_a_thousand_workflows_by_query(client: Client, chronicle_server: str) -> None:
    workflow_type = unique_type()
    await start_many(client, workflow_type, 1000, f"batch-{uuid.uuid4()}")
    query = f"WorkflowType = '{workflow_type}'"
    out = temporal(
        chronicle_server, "workflow", "terminate", "--query", query, "--reason", "clean up", "--yes", "--rps", "1000",
        "-o", "json",
    )
    job_id = json.loads(out.stdout)["batchJobId"]
    done = await wait_done(client, job_id)
    assert done.state == BatchOperationState.BATCH_OPERATION_STATE_COMPLETED
    assert (done.total_operation_count, done.complete_operation_count, done.failure_operation_count) == (1000, 1000, 0)
    assert done.reason == "clean up"
    assert await count(client, f"{query} AND ExecutionStatus = 'Terminated'") == 1000
    described = json.loads(temporal(chronicle_server, "batch", "describe", "--job-id", job_id, "-o", "json").stdout)
    assert described["state"] == "BATCH_OPERATION_STATE_COMPLETED"
    assert described["operationType"] == "BATCH_OPERATION_TYPE_TERMINATE_WORKFLOW"
    listed = temporal(chronicle_server, "batch", "list", "-o", "json").stdout
    assert job_id in listed
    # Another batch over the same query finds nothing running: nothing to do.
    out = temporal(chronicle_server, "workflow", "terminate", "--query", query, "--reason", "again", "--yes", "-o", "json")
    again = await wait_done(client, json.loads(out.stdout)["batchJobId"])
    assert (again.total_operation_count, again.complete_operation_count) == (0, 0)


async def start_batch(client: Client, job_id: str, query: str, **operation) -> None:
    await client.workflow_service.start_batch_operation(
        StartBatchOperationRequest(
            namespace=NAMESPACE, job_id=job_id, visibility_query=query, reason="batch test", **operation
        )
    )


async def test_signal_cancel_delete_and_reset_by_query(client: Client) -> None:
    task_queue = f"batch-{uuid.uuid4()}"
    from temporalio.api.common.v1 import Payloads
    from temporalio.converter import default

    async with Worker(client, task_queue=task_queue, workflows=[BatchWaiter]):
        # Signal: each workflow gets it and finishes.
        ids = [f"signal-{i}-{uuid.uuid4()}" for i in range(5)]
        handles = [await client.start_workflow(BatchWaiter.run, id=i, task_queue=task_queue) for i in ids]
        group = uuid.uuid4().hex
        query = " OR ".join(f"WorkflowId = '{i}'" for i in ids)
        payloads = Payloads(payloads=[default().payload_converter.to_payload("all")])
        await start_batch(
            client, f"sig-{group}", query,
            signal_operation=BatchOperationSignal(signal="go", input=payloads, identity="batch-test"),
        )
        assert (await wait_done(client, f"sig-{group}")).complete_operation_count == 5
        assert [await h.result() for h in handles] == ["got all"] * 5

        # Reset to the first workflow task: each runs again, and gets the signal again.
        await start_batch(
            client, f"reset-{group}", query,
            reset_operation=BatchOperationReset(
                identity="batch-test", options=ResetOptions(first_workflow_task=Empty())
            ),
        )
        done = await wait_done(client, f"reset-{group}")
        assert (done.complete_operation_count, done.failure_operation_count) == (5, 0)
        for h in handles:
            current = client.get_workflow_handle(h.id)
            assert await current.result() == "got all"
            assert (await current.describe()).run_id != h.result_run_id

        # Cancel: running ones only.
        cancel_ids = [f"cancel-{i}-{uuid.uuid4()}" for i in range(3)]
        for i in cancel_ids:
            await client.start_workflow(BatchWaiter.run, id=i, task_queue=task_queue)
        cancel_query = " OR ".join(f"WorkflowId = '{i}'" for i in cancel_ids)
        await start_batch(client, f"cancel-{group}", cancel_query, cancellation_operation=BatchOperationCancellation())
        assert (await wait_done(client, f"cancel-{group}")).complete_operation_count == 3
        for i in cancel_ids:
            history = await client.get_workflow_handle(i).fetch_history()
            assert any(e.HasField("workflow_execution_cancel_requested_event_attributes") for e in history.events)

        # Delete: closed runs too.
        await start_batch(client, f"delete-{group}", query, deletion_operation=BatchOperationDeletion())
        assert (await wait_done(client, f"delete-{group}")).complete_operation_count >= 5
        for _ in range(100):
            if await count(client, query) == 0:
                break
            await asyncio.sleep(0.1)
        assert await count(client, query) == 0


class Empty:
    """google.protobuf.Empty for a oneof target."""

    def __new__(cls):
        from google.protobuf.empty_pb2 import Empty as E

        return E()


@pytest.mark.skipif(temporal_bin_missing_reason() is not None, reason=temporal_bin_missing_reason() or "")
async def test_a_stopped_batch_stops(client: Client, chronicle_server: str) -> None:
    workflow_type = unique_type()
    await start_many(client, workflow_type, 40, f"batch-{uuid.uuid4()}")
    job_id = f"slow-{uuid.uuid4()}"
    await start_batch(
        client, job_id, f"WorkflowType = '{workflow_type}'",
        termination_operation=BatchOperationTermination(identity="batch-test"), max_operations_per_second=5,
    )
    await asyncio.sleep(1.0)
    out = temporal(chronicle_server, "batch", "terminate", "--job-id", job_id, "--reason", "enough")
    assert f"Terminated Batch Job '{job_id}'" in out.stdout + out.stderr
    d = await describe(client, job_id)
    assert d.state == BatchOperationState.BATCH_OPERATION_STATE_FAILED
    assert d.HasField("close_time")
    await asyncio.sleep(1.0)
    running = await count(client, f"WorkflowType = '{workflow_type}' AND ExecutionStatus = 'Running'")
    assert 0 < running < 40, running
    with pytest.raises(RPCError) as err:
        await client.workflow_service.stop_batch_operation(
            StopBatchOperationRequest(namespace=NAMESPACE, job_id=job_id, reason="again")
        )
    assert err.value.status == RPCStatusCode.NOT_FOUND


async def test_bad_batch_requests(client: Client) -> None:
    async def refused(code: RPCStatusCode, message: str, **fields) -> None:
        request = StartBatchOperationRequest(namespace=NAMESPACE, **fields)
        with pytest.raises(RPCError) as err:
            await client.workflow_service.start_batch_operation(request)
        assert err.value.status == code, err.value.message
        assert message in err.value.message, err.value.message

    terminate = BatchOperationTermination(identity="t")
    required = "must provide required parameters: BatchType,Reason,Namespace, AND one of (Query OR Executions OR TargetExecutions)"
    invalid = RPCStatusCode.INVALID_ARGUMENT
    await refused(invalid, required, job_id="j", visibility_query="WorkflowType='x'", termination_operation=terminate)
    await refused(invalid, required, job_id="j", reason="r", termination_operation=terminate)
    await refused(invalid, required, job_id="j", reason="r", visibility_query="WorkflowType='x'")
    await refused(invalid, "JobId is not set on request.", reason="r", visibility_query="WorkflowType='x'",
                  termination_operation=terminate)
    await refused(invalid, "must provide signal name", job_id="j", reason="r", visibility_query="WorkflowType='x'",
                  signal_operation=BatchOperationSignal())
    await refused(invalid, "unknown batch reset type Unspecified", job_id="j", reason="r",
                  visibility_query="WorkflowType='x'", reset_operation=BatchOperationReset())
    await refused(invalid, "batch reset missing target", job_id="j", reason="r", visibility_query="WorkflowType='x'",
                  reset_operation=BatchOperationReset(options=ResetOptions()))
    # Any pace asked for is taken (within bounds): the job runs.
    fast = f"fast-{uuid.uuid4()}"
    await start_batch(client, fast, f"WorkflowType = '{unique_type()}'", termination_operation=terminate,
                      max_operations_per_second=float("inf"))
    assert (await wait_done(client, fast)).state == BatchOperationState.BATCH_OPERATION_STATE_COMPLETED
    # A query that cannot run is accepted; the job fails, as on Temporal.
    bad_query = f"bad-query-{uuid.uuid4()}"
    await start_batch(client, bad_query, "NoSuchField = 'x'", termination_operation=terminate)
    failed = await wait_done(client, bad_query)
    assert failed.state == BatchOperationState.BATCH_OPERATION_STATE_FAILED
    with pytest.raises(RPCError) as err:
        await describe(client, f"missing-{uuid.uuid4()}")
    assert err.value.status == RPCStatusCode.NOT_FOUND
    with pytest.raises(RPCError) as err:
        await client.workflow_service.stop_batch_operation(StopBatchOperationRequest(namespace=NAMESPACE, job_id="j"))
    assert err.value.message == "Reason is not set on request."


async def test_one_batch_at_a_time_and_ids_are_unique(client: Client) -> None:
    workflow_type = unique_type()
    await start_many(client, workflow_type, 20, f"batch-{uuid.uuid4()}")
    job_id = f"first-{uuid.uuid4()}"
    query = f"WorkflowType = '{workflow_type}'"
    terminate = BatchOperationTermination(identity="t")
    await start_batch(client, job_id, query, termination_operation=terminate, max_operations_per_second=5)
    with pytest.raises(RPCError) as err:
        await start_batch(client, f"second-{uuid.uuid4()}", query, termination_operation=terminate)
    assert err.value.status == RPCStatusCode.RESOURCE_EXHAUSTED
    assert "Max concurrent batch operations is reached" in err.value.message
    await client.workflow_service.stop_batch_operation(
        StopBatchOperationRequest(namespace=NAMESPACE, job_id=job_id, reason="done")
    )
    with pytest.raises(RPCError) as err:
        await start_batch(client, job_id, query, termination_operation=terminate)
    assert err.value.status == RPCStatusCode.ALREADY_EXISTS


async def test_a_batch_survives_a_killed_server() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = ChronicleServer(_chronicle_bin(), Path(tmp) / "chronicle.db")
        try:
            address = server.start()
            client = await Client.connect(address, namespace=NAMESPACE)
            workflow_type = unique_type()
            await start_many(client, workflow_type, 30, "batch-crash")
            job_id = f"crash-{uuid.uuid4()}"
            await start_batch(
                client, job_id, f"WorkflowType = '{workflow_type}'",
                termination_operation=BatchOperationTermination(identity="t"), max_operations_per_second=10,
            )
            await asyncio.sleep(0.5)
            server.proc.kill()
            server.proc.wait(timeout=10)
            address = server.start()
            client = await Client.connect(address, namespace=NAMESPACE)
            done = await wait_done(client, job_id)
            assert done.state == BatchOperationState.BATCH_OPERATION_STATE_COMPLETED
            assert done.failure_operation_count == 0
            assert await count(client, f"WorkflowType = '{workflow_type}' AND ExecutionStatus = 'Running'") == 0
        finally:
            server.stop()
            server.drop_data()


async def test_the_chronicle_cli_starts_and_follows_batches(client: Client, chronicle_server: str) -> None:
    def chronicle(*args: str) -> subprocess.CompletedProcess:
        cmd = [str(_chronicle_bin()), *args, "--address", chronicle_server]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, f"{cmd} exited {proc.returncode}: {proc.stdout} {proc.stderr}"
        return proc

    workflow_type = unique_type()
    await start_many(client, workflow_type, 10, f"batch-{uuid.uuid4()}")
    query = f"WorkflowType = '{workflow_type}'"
    out = chronicle("workflow", "cancel", "--query", query, "--yes", "-o", "json")
    job_id = json.loads(out.stdout)["batchJobId"]
    done = await wait_done(client, job_id)
    assert done.complete_operation_count == 10
    described = json.loads(chronicle("batch", "describe", "--job-id", job_id, "-o", "json").stdout)
    assert described["state"] == "BATCH_OPERATION_STATE_COMPLETED"
    assert described["operationType"] == "BATCH_OPERATION_TYPE_CANCEL_WORKFLOW"
    assert job_id in chronicle("batch", "list").stdout
    out = chronicle("workflow", "terminate", "--query", query, "--reason", "cli batch", "--yes", "--rps", "1")
    job_id = out.stdout.strip().rsplit(" ", 1)[-1]
    assert f"Terminated Batch Job '{job_id}'" in chronicle("batch", "terminate", "--job-id", job_id, "--reason", "stop").stdout
    assert (await describe(client, job_id)).state == BatchOperationState.BATCH_OPERATION_STATE_FAILED
    # One workflow still works as before; a query and a workflow id together are refused.
    ids = await start_many(client, unique_type(), 1, f"batch-{uuid.uuid4()}")
    chronicle("workflow", "terminate", "--workflow-id", ids[0], "--reason", "one")
    both = subprocess.run(
        [str(_chronicle_bin()), "workflow", "terminate", "-w", ids[0], "--query", query, "--address", chronicle_server],
        capture_output=True, text=True, timeout=60,
    )
    assert both.returncode != 0 and "cannot be used with" in both.stderr
