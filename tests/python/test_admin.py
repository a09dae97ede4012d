"""Deleting workflow executions and updating namespaces, through the Python
SDK's service client and the temporal CLI. Deletion after a namespace's
retention (at least an hour, as on Temporal's dev server) is tested with a
driven clock in crates/chronicle-server/tests/retention.rs."""

from __future__ import annotations

import asyncio
import subprocess
import uuid

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import pytest
    from temporalio.api.common.v1 import WorkflowExecution
    from google.protobuf.duration_pb2 import Duration
    from temporalio.api.namespace.v1 import NamespaceConfig, UpdateNamespaceInfo
    from temporalio.api.workflowservice.v1 import (
        DeleteWorkflowExecutionRequest,
        DescribeNamespaceRequest,
        RegisterNamespaceRequest,
        UpdateNamespaceRequest,
    )
    from temporalio.client import Client
    from temporalio.service import RPCError, RPCStatusCode
    from temporalio.worker import Worker

    from reference import temporal_bin, temporal_bin_missing_reason


@workflow.defn
class IdleWorkflow:
    @workflow.run
    async def run(self, wait: bool) -> str:
        if wait:
            await asyncio.sleep(3600)
        return "done"


async def wait_gone(client: Client, wid: str) -> None:
    for _ in range(50):
        try:
            await client.get_workflow_handle(wid).describe()
        except RPCError as err:
            assert err.status == RPCStatusCode.NOT_FOUND
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{wid} still exists")


async def test_delete_closed_and_running_workflows(client: Client, chronicle_server: str) -> None:
    tq = f"admin-{uuid.uuid4()}"
    done_id, running_id, cli_id = (f"{p}-{uuid.uuid4()}" for p in ("done", "running", "cli"))
    async with Worker(client, task_queue=tq, workflows=[IdleWorkflow]):
        await client.execute_workflow(IdleWorkflow.run, False, id=done_id, task_queue=tq)
        await client.start_workflow(IdleWorkflow.run, True, id=running_id, task_queue=tq)
        await client.start_workflow(IdleWorkflow.run, True, id=cli_id, task_queue=tq)
        for wid in (done_id, running_id):
            await client.workflow_service.delete_workflow_execution(
                DeleteWorkflowExecutionRequest(namespace="default", workflow_execution=WorkflowExecution(workflow_id=wid))
            )
            await wait_gone(client, wid)
            assert [w async for w in client.list_workflows(f"WorkflowId = '{wid}'")] == []
        if temporal_bin_missing_reason() is None:
            cmd = [str(temporal_bin()), "workflow", "delete", "--yes", "--address", chronicle_server, "-w", cli_id]
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
            assert out.returncode == 0, out.stderr
            await wait_gone(client, cli_id)
        # Chronicle's own CLI too.
        from conftest import _chronicle_bin

        own_id = f"own-{uuid.uuid4()}"
        await client.start_workflow(IdleWorkflow.run, True, id=own_id, task_queue=tq)
        cmd = [str(_chronicle_bin()), "workflow", "--address", chronicle_server, "delete", "-w", own_id]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        assert out.returncode == 0 and "Workflow deleted" in out.stdout, out.stderr
        await wait_gone(client, own_id)
        # The id can be used again.
        await client.execute_workflow(IdleWorkflow.run, False, id=done_id, task_queue=tq)
    with pytest.raises(RPCError) as err:
        await client.workflow_service.delete_workflow_execution(
            DeleteWorkflowExecutionRequest(namespace="default", workflow_execution=WorkflowExecution(workflow_id="nobody"))
        )
    assert err.value.status == RPCStatusCode.NOT_FOUND


async def test_update_namespace(client: Client) -> None:
    await client.workflow_service.update_namespace(
        UpdateNamespaceRequest(
            namespace="default",
            update_info=UpdateNamespaceInfo(description="updated by a test", data={"team": "chronicle"}),
        )
    )
    described = await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace="default"))
    assert described.namespace_info.description == "updated by a test"
    assert described.namespace_info.data["team"] == "chronicle"
    with pytest.raises(RPCError) as err:
        await client.workflow_service.update_namespace(UpdateNamespaceRequest(namespace="nope"))
    assert err.value.status == RPCStatusCode.NOT_FOUND


async def test_namespace_retention_is_validated_as_on_temporal(client: Client) -> None:
    """Temporal's dev server keeps closed runs at least an hour: a shorter
    (or negative) retention is refused on register and on update."""
    service = client.workflow_service
    name = f"retention-{uuid.uuid4()}"
    invalid = "A valid retention period is not set on request."

    async def retention() -> int:
        described = await service.describe_namespace(DescribeNamespaceRequest(namespace=name))
        return described.config.workflow_execution_retention_ttl.seconds

    for seconds in (1, 3599, -3600):
        with pytest.raises(RPCError) as err:
            await service.register_namespace(
                RegisterNamespaceRequest(namespace=name, workflow_execution_retention_period=Duration(seconds=seconds))
            )
        assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
        assert err.value.message == invalid
    await service.register_namespace(
        RegisterNamespaceRequest(namespace=name, workflow_execution_retention_period=Duration(seconds=3600))
    )
    assert await retention() == 3600
    for seconds in (1800, -1):
        with pytest.raises(RPCError) as err:
            await service.update_namespace(
                UpdateNamespaceRequest(
                    namespace=name, config=NamespaceConfig(workflow_execution_retention_ttl=Duration(seconds=seconds))
                )
            )
        assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
        assert err.value.message == invalid
    assert await retention() == 3600
    await service.update_namespace(
        UpdateNamespaceRequest(namespace=name, config=NamespaceConfig(workflow_execution_retention_ttl=Duration(seconds=7200)))
    )
    assert await retention() == 7200
