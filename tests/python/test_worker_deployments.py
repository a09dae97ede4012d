"""Worker deployments and versioning through the Python SDK and the `temporal` CLI: versioned
workers register their deployment version on their first poll; the current version takes new and
auto-upgrade workflows while pinned ones stay on the version that started them; a ramp sends its
share of workflows to the ramping version; a pinned override (`temporal workflow update-options`)
moves a workflow to a version and writes WorkflowExecutionOptionsUpdated; `temporal worker
deployment ...` lists, describes and changes deployments; Temporal's refusals; and deployments
survive a killed server. Each test except the crash test also passes against Temporal's dev server
(CHRONICLE_ADDRESS=127.0.0.1:7233).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path

from temporalio import activity, workflow
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion

with workflow.unsafe.imports_passed_through():
    import pytest
    from temporalio.api.deployment.v1 import WorkerDeploymentVersion as VersionProto
    from temporalio.api.enums.v1 import EventType, WorkerDeploymentVersionStatus
    from temporalio.api.enums.v1 import VersioningBehavior as VersioningBehaviorProto
    from temporalio.api.workflowservice.v1 import (
        DeleteWorkerDeploymentRequest,
        DeleteWorkerDeploymentVersionRequest,
        DescribeWorkerDeploymentRequest,
        DescribeWorkerDeploymentVersionRequest,
        SetWorkerDeploymentCurrentVersionRequest,
        SetWorkerDeploymentRampingVersionRequest,
        UpdateWorkerDeploymentVersionMetadataRequest,
    )
    from temporalio.client import Client
    from temporalio.common import PinnedVersioningOverride
    from temporalio.service import RPCError, RPCStatusCode
    from temporalio.worker import Worker, WorkerDeploymentConfig

    from conftest import ChronicleServer, _chronicle_bin
    from reference import running_reference, temporal_bin, temporal_bin_missing_reason
    from test_differential import diff_histories

NAMESPACE = "default"

# Drainage checked and pollers forgotten within seconds (pass the same flags to Temporal's dev server
# when running these tests against it).
CHRONICLE_SERVER_ARGS = [
    "--dynamic-config-value",
    'matching.wv.VersionDrainageStatusVisibilityGracePeriod="1s"',
    "--dynamic-config-value",
    'matching.wv.VersionDrainageStatusRefreshInterval="1s"',
    "--dynamic-config-value",
    'matching.PollerHistoryTTL="1s"',
]


def whoami_for(build_id: str):
    @activity.defn(name="whoami")
    async def whoami() -> str:
        return build_id

    return whoami


@workflow.defn(versioning_behavior=VersioningBehavior.PINNED)
class PinnedSteps:
    def __init__(self) -> None:
        self.go = False

    @workflow.signal
    def proceed(self) -> None:
        self.go = True

    @workflow.run
    async def run(self) -> list[str]:
        steps = [await workflow.execute_activity("whoami", start_to_close_timeout=timedelta(seconds=20))]
        await workflow.wait_condition(lambda: self.go)
        steps.append(await workflow.execute_activity("whoami", start_to_close_timeout=timedelta(seconds=20)))
        return steps


@workflow.defn(versioning_behavior=VersioningBehavior.AUTO_UPGRADE)
class AutoSteps:
    def __init__(self) -> None:
        self.go = False

    @workflow.signal
    def proceed(self) -> None:
        self.go = True

    @workflow.run
    async def run(self) -> list[str]:
        steps = [await workflow.execute_activity("whoami", start_to_close_timeout=timedelta(seconds=20))]
        await workflow.wait_condition(lambda: self.go)
        steps.append(await workflow.execute_activity("whoami", start_to_close_timeout=timedelta(seconds=20)))
        return steps


def versioned_worker(client: Client, task_queue: str, deployment: str, build_id: str) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[PinnedSteps, AutoSteps],
        activities=[whoami_for(build_id)],
        deployment_config=WorkerDeploymentConfig(
            version=WorkerDeploymentVersion(deployment_name=deployment, build_id=build_id),
            use_worker_versioning=True,
        ),
    )


def names() -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:10]
    return f"dep-{suffix}", f"versioned-{suffix}"


async def wait_until(predicate, what: str, timeout_s: float = 30.0) -> None:
    for _ in range(int(timeout_s * 10)):
        if await predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never {what}")


async def describe(client: Client, deployment: str):
    return await client.workflow_service.describe_worker_deployment(
        DescribeWorkerDeploymentRequest(namespace=NAMESPACE, deployment_name=deployment)
    )


async def wait_registered(client: Client, deployment: str, build_id: str) -> None:
    """Until the version's workers have polled both its workflow and its activity queue."""

    async def registered() -> bool:
        try:
            d = await client.workflow_service.describe_worker_deployment_version(
                DescribeWorkerDeploymentVersionRequest(
                    namespace=NAMESPACE,
                    deployment_version=VersionProto(deployment_name=deployment, build_id=build_id),
                )
            )
        except RPCError as e:
            if e.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return len(d.version_task_queues) == 2

    await wait_until(registered, f"registered {deployment}:{build_id}")


async def set_current(client: Client, deployment: str, build_id: str) -> None:
    token = (await describe(client, deployment)).conflict_token
    await client.workflow_service.set_worker_deployment_current_version(
        SetWorkerDeploymentCurrentVersionRequest(
            namespace=NAMESPACE, deployment_name=deployment, build_id=build_id, conflict_token=token, identity="test"
        )
    )
    await wait_until(
        lambda: _routing_is(client, deployment, build_id), f"{deployment}:{build_id} current everywhere", 30
    )


async def _routing_is(client: Client, deployment: str, build_id: str) -> bool:
    d = await describe(client, deployment)
    # Temporal propagates routing to task queues asynchronously: wait for COMPLETED (2).
    state = d.worker_deployment_info.routing_config_update_state
    return d.worker_deployment_info.routing_config.current_deployment_version.build_id == build_id and state in (0, 2)


async def completed_versions(client: Client, workflow_id: str) -> list[tuple[int, str]]:
    """(versioning behavior, build id) of each WorkflowTaskCompleted event."""
    out = []
    async for e in client.get_workflow_handle(workflow_id).fetch_history_events():
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            a = e.workflow_task_completed_event_attributes
            out.append((a.versioning_behavior, a.deployment_version.build_id))
    return out


async def test_pinned_stay_new_and_auto_upgrade_move_to_the_current_version(client: Client) -> None:
    deployment, tq = names()
    async with versioned_worker(client, tq, deployment, "1.0"):
        await wait_registered(client, deployment, "1.0")
        await set_current(client, deployment, "1.0")
        pinned = await client.start_workflow(PinnedSteps.run, id=f"pinned-{uuid.uuid4()}", task_queue=tq)
        auto = await client.start_workflow(AutoSteps.run, id=f"auto-{uuid.uuid4()}", task_queue=tq)
        for handle in (pinned, auto):
            await wait_until(
                lambda h=handle: _has_version(h, "1.0"), f"{handle.id} on 1.0"
            )
        async with versioned_worker(client, tq, deployment, "2.0"):
            await wait_registered(client, deployment, "2.0")
            await set_current(client, deployment, "2.0")
            fresh = await client.start_workflow(AutoSteps.run, id=f"fresh-{uuid.uuid4()}", task_queue=tq)
            for handle in (pinned, auto, fresh):
                await handle.signal("proceed")
            assert await asyncio.wait_for(pinned.result(), 30) == ["1.0", "1.0"]
            assert await asyncio.wait_for(auto.result(), 30) == ["1.0", "2.0"]
            assert await asyncio.wait_for(fresh.result(), 30) == ["2.0", "2.0"]

            pinned_b = VersioningBehaviorProto.VERSIONING_BEHAVIOR_PINNED
            auto_b = VersioningBehaviorProto.VERSIONING_BEHAVIOR_AUTO_UPGRADE
            assert set(await completed_versions(client, pinned.id)) == {(pinned_b, "1.0")}
            auto_steps = await completed_versions(client, auto.id)
            assert auto_steps[0] == (auto_b, "1.0") and auto_steps[-1] == (auto_b, "2.0")
            info = (await pinned.describe()).raw_description.workflow_execution_info
            assert info.versioning_info.behavior == pinned_b
            assert info.versioning_info.deployment_version.build_id == "1.0"
            assert info.worker_deployment_name == deployment

            d = (await describe(client, deployment)).worker_deployment_info
            status = {s.deployment_version.build_id: s.status for s in d.version_summaries}
            assert status["2.0"] == WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_CURRENT
            assert status["1.0"] in (
                WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINING,
                WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINED,
            )
            assert [s.deployment_version.build_id for s in d.version_summaries] == ["2.0", "1.0"], "newest first"


async def _waits_for_signal(handle) -> bool:
    """Its first activity done and the workflow task after it completed (10 events)."""
    return (await handle.describe()).raw_description.workflow_execution_info.history_length >= 10


async def _has_version(handle, build_id: str) -> bool:
    info = (await handle.describe()).raw_description.workflow_execution_info
    return info.versioning_info.deployment_version.build_id == build_id


async def test_a_ramp_sends_its_share_to_the_ramping_version(client: Client) -> None:
    deployment, tq = names()
    async with versioned_worker(client, tq, deployment, "1.0"), versioned_worker(client, tq, deployment, "2.0"):
        await wait_registered(client, deployment, "1.0")
        await wait_registered(client, deployment, "2.0")
        await set_current(client, deployment, "1.0")
        token = (await describe(client, deployment)).conflict_token
        ramped = await client.workflow_service.set_worker_deployment_ramping_version(
            SetWorkerDeploymentRampingVersionRequest(
                namespace=NAMESPACE,
                deployment_name=deployment,
                build_id="2.0",
                percentage=100,
                conflict_token=token,
                identity="test",
            )
        )
        assert ramped.previous_version == ""
        await wait_until(
            lambda: _ramping_is(client, deployment, "2.0"), "ramping 2.0", 30
        )
        handle = await client.start_workflow(AutoSteps.run, id=f"ramped-{uuid.uuid4()}", task_queue=tq)
        await handle.signal("proceed")
        assert await asyncio.wait_for(handle.result(), 30) == ["2.0", "2.0"]
        d = (await describe(client, deployment)).worker_deployment_info
        assert d.routing_config.ramping_version_percentage == 100
        status = {s.deployment_version.build_id: s.status for s in d.version_summaries}
        assert status["2.0"] == WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_RAMPING
        # Ramping the current version is refused.
        with pytest.raises(RPCError) as err:
            await client.workflow_service.set_worker_deployment_ramping_version(
                SetWorkerDeploymentRampingVersionRequest(
                    namespace=NAMESPACE, deployment_name=deployment, build_id="1.0", percentage=10, identity="test"
                )
            )
        assert err.value.status == RPCStatusCode.FAILED_PRECONDITION
        assert "is already current" in err.value.message


async def _ramping_is(client: Client, deployment: str, build_id: str) -> bool:
    d = (await describe(client, deployment)).worker_deployment_info
    return d.routing_config.ramping_deployment_version.build_id == build_id and d.routing_config_update_state in (0, 2)


def temporal(address: str, *args: str) -> subprocess.CompletedProcess:
    cmd = [str(temporal_bin()), *args, "--address", address]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"{cmd} exited {proc.returncode}: {proc.stdout} {proc.stderr}"
    return proc


@pytest.mark.skipif(temporal_bin_missing_reason() is not None, reason=temporal_bin_missing_reason() or "")
async def test_the_temporal_cli_manages_deployments_and_pins_a_workflow(client: Client, chronicle_server: str) -> None:
    deployment, tq = names()
    async with versioned_worker(client, tq, deployment, "1.0"), versioned_worker(client, tq, deployment, "2.0"):
        await wait_registered(client, deployment, "1.0")
        await wait_registered(client, deployment, "2.0")
        await asyncio.to_thread(
            temporal, chronicle_server, "worker", "deployment", "set-current-version",
            "--deployment-name", deployment, "--build-id", "2.0", "--yes",
        )
        await wait_until(lambda: _routing_is(client, deployment, "2.0"), "2.0 current", 30)
        listed = await asyncio.to_thread(temporal, chronicle_server, "worker", "deployment", "list", "-o", "json")
        assert deployment in listed.stdout
        described = await asyncio.to_thread(
            temporal, chronicle_server, "worker", "deployment", "describe", "--name", deployment, "-o", "json"
        )
        info = json.loads(described.stdout)
        assert json.dumps(info).count("2.0") >= 1 and deployment in described.stdout
        version = await asyncio.to_thread(
            temporal, chronicle_server, "worker", "deployment", "describe-version",
            "--deployment-name", deployment, "--build-id", "1.0", "-o", "json",
        )
        assert tq in version.stdout

        # Pin a running auto-upgrade workflow to 1.0: its next activity runs there.
        handle = await client.start_workflow(AutoSteps.run, id=f"override-{uuid.uuid4()}", task_queue=tq)
        await wait_until(lambda: _has_version(handle, "2.0"), "on 2.0")
        await asyncio.to_thread(
            temporal, chronicle_server, "workflow", "update-options", "-w", handle.id,
            "--versioning-override-behavior", "pinned",
            "--versioning-override-deployment-name", deployment,
            "--versioning-override-build-id", "1.0",
        )
        info = (await handle.describe()).raw_description.workflow_execution_info
        assert info.versioning_info.versioning_override.pinned.version.build_id == "1.0"
        # The same override again writes nothing.
        await client.workflow_service.update_workflow_execution_options(_pin_request(handle.id, deployment, "1.0"))
        await handle.signal("proceed")
        assert await asyncio.wait_for(handle.result(), 30) == ["2.0", "1.0"]
        updated = [
            e
            async for e in handle.fetch_history_events()
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED
        ]
        assert len(updated) == 1
        attrs = updated[0].workflow_execution_options_updated_event_attributes
        assert attrs.versioning_override.pinned.version.build_id == "1.0"



@pytest.mark.skipif(temporal_bin_missing_reason() is not None, reason=temporal_bin_missing_reason() or "")
async def test_a_batch_pins_the_workflows_a_query_finds(client: Client, chronicle_server: str) -> None:
    deployment, tq = names()
    async with versioned_worker(client, tq, deployment, "1.0"), versioned_worker(client, tq, deployment, "2.0"):
        await wait_registered(client, deployment, "1.0")
        await wait_registered(client, deployment, "2.0")
        await set_current(client, deployment, "2.0")
        prefix = f"bulk-{uuid.uuid4()}"
        handles = [await client.start_workflow(AutoSteps.run, id=f"{prefix}-{i}", task_queue=tq) for i in range(3)]
        for h in handles:
            await wait_until(lambda h=h: _has_version(h, "2.0"), f"{h.id} on 2.0")
        await asyncio.to_thread(
            temporal, chronicle_server, "workflow", "update-options",
            "--query", f"WorkflowId STARTS_WITH '{prefix}'",
            "--versioning-override-behavior", "pinned",
            "--versioning-override-deployment-name", deployment,
            "--versioning-override-build-id", "1.0",
            "--yes",
        )

        async def pinned(h) -> bool:
            info = (await h.describe()).raw_description.workflow_execution_info
            return info.versioning_info.versioning_override.pinned.version.build_id == "1.0"

        for h in handles:
            await wait_until(lambda h=h: pinned(h), f"{h.id} pinned by the batch", 60)
            await h.signal("proceed")
        for h in handles:
            assert await asyncio.wait_for(h.result(), 30) == ["2.0", "1.0"]


def chronicle_cli(address: str, *args: str) -> subprocess.CompletedProcess:
    cmd = [str(_chronicle_bin()), "worker", "deployment", *args, "--address", address]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"{cmd} exited {proc.returncode}: {proc.stdout} {proc.stderr}"
    return proc


async def test_the_chronicle_cli_manages_deployments(client: Client, chronicle_server: str) -> None:
    deployment, tq = names()
    cli = lambda *args: asyncio.to_thread(chronicle_cli, chronicle_server, *args)  # noqa: E731
    async with versioned_worker(client, tq, deployment, "1.0"), versioned_worker(client, tq, deployment, "2.0"):
        await wait_registered(client, deployment, "1.0")
        await wait_registered(client, deployment, "2.0")
        await cli("set-current-version", "--deployment-name", deployment, "--build-id", "1.0", "--yes")
        await cli("set-ramping-version", "--deployment-name", deployment, "--build-id", "2.0", "--percentage", "25", "-y")
        listed = (await cli("list")).stdout
        assert deployment in listed and "25" in listed
        described = json.loads((await cli("describe", "--name", deployment, "-o", "json")).stdout)
        routing = described["workerDeploymentInfo"]["routingConfig"]
        assert routing["currentDeploymentVersion"]["buildId"] == "1.0"
        assert routing["rampingDeploymentVersion"]["buildId"] == "2.0"
        assert routing["rampingVersionPercentage"] == 25
        text = (await cli("describe", "--name", deployment)).stdout
        assert "Ramping" in text and "Current" in text
        await cli("set-ramping-version", "--deployment-name", deployment, "--delete", "-y")
        d = (await describe(client, deployment)).worker_deployment_info
        assert not d.routing_config.HasField("ramping_deployment_version")
        await cli(
            "update-metadata-version", "--deployment-name", deployment, "--build-id", "1.0",
            "--metadata", 'owner="payments"',
        )
        version = (await cli("describe-version", "--deployment-name", deployment, "--build-id", "1.0")).stdout
        assert "Current" in version and tq in version and "payments" in version
        await cli("manager-identity", "set", "--deployment-name", deployment, "--self")
        d = (await describe(client, deployment)).worker_deployment_info
        assert d.manager_identity == "chronicle-cli"
        await cli("manager-identity", "unset", "--deployment-name", deployment)
        assert (await describe(client, deployment)).worker_deployment_info.manager_identity == ""


def _pin_request(workflow_id: str, deployment: str, build_id: str):
    from google.protobuf.field_mask_pb2 import FieldMask
    from temporalio.api.common.v1 import WorkflowExecution
    from temporalio.api.workflow.v1 import VersioningOverride, WorkflowExecutionOptions
    from temporalio.api.workflowservice.v1 import UpdateWorkflowExecutionOptionsRequest

    override = VersioningOverride(
        pinned=VersioningOverride.PinnedOverride(
            behavior=VersioningOverride.PinnedOverrideBehavior.PINNED_OVERRIDE_BEHAVIOR_PINNED,
            version=VersionProto(deployment_name=deployment, build_id=build_id),
        )
    )
    return UpdateWorkflowExecutionOptionsRequest(
        namespace=NAMESPACE,
        workflow_execution=WorkflowExecution(workflow_id=workflow_id),
        workflow_execution_options=WorkflowExecutionOptions(versioning_override=override),
        update_mask=FieldMask(paths=["versioning_override"]),
        identity="test",
    )


async def test_start_with_a_pinned_override_runs_on_that_version(client: Client) -> None:
    deployment, tq = names()
    async with versioned_worker(client, tq, deployment, "1.0"), versioned_worker(client, tq, deployment, "2.0"):
        await wait_registered(client, deployment, "1.0")
        await wait_registered(client, deployment, "2.0")
        await set_current(client, deployment, "2.0")
        handle = await client.start_workflow(
            AutoSteps.run,
            id=f"start-pinned-{uuid.uuid4()}",
            task_queue=tq,
            versioning_override=PinnedVersioningOverride(WorkerDeploymentVersion(deployment, "1.0")),
        )
        await handle.signal("proceed")
        assert await asyncio.wait_for(handle.result(), 30) == ["1.0", "1.0"]
        started = [e async for e in handle.fetch_history_events()][0].workflow_execution_started_event_attributes
        assert started.versioning_override.pinned.version.build_id == "1.0"


async def test_a_drained_version_without_pollers_is_deleted(client: Client) -> None:
    deployment, tq = names()
    version = VersionProto(deployment_name=deployment, build_id="1.0")
    async with versioned_worker(client, tq, deployment, "2.0"):
        async with versioned_worker(client, tq, deployment, "1.0"):
            await wait_registered(client, deployment, "1.0")
            await wait_registered(client, deployment, "2.0")
            await set_current(client, deployment, "1.0")
            pinned = await client.start_workflow(PinnedSteps.run, id=f"drain-{uuid.uuid4()}", task_queue=tq)
            await wait_until(lambda: _has_version(pinned, "1.0"), "pinned to 1.0")
            await set_current(client, deployment, "2.0")

            async def status() -> int:
                d = await client.workflow_service.describe_worker_deployment_version(
                    DescribeWorkerDeploymentVersionRequest(namespace=NAMESPACE, deployment_version=version)
                )
                return d.worker_deployment_version_info.status

            assert await status() == WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINING
            with pytest.raises(RPCError) as err:
                await client.workflow_service.delete_worker_deployment_version(
                    DeleteWorkerDeploymentVersionRequest(namespace=NAMESPACE, deployment_version=version, identity="t")
                )
            assert err.value.status == RPCStatusCode.FAILED_PRECONDITION
            assert "cannot be deleted since it is draining" in err.value.message
            await pinned.signal("proceed")
            assert await asyncio.wait_for(pinned.result(), 30) == ["1.0", "1.0"]
            drained = WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINED
            await wait_until(lambda: _status_is(status, drained), "drained", 60)
        # 1.0's workers stopped: once their polls are forgotten, the version goes.
        async def deleted() -> bool:
            try:
                await client.workflow_service.delete_worker_deployment_version(
                    DeleteWorkerDeploymentVersionRequest(namespace=NAMESPACE, deployment_version=version, identity="t")
                )
                return True
            except RPCError as e:
                assert e.status == RPCStatusCode.FAILED_PRECONDITION, e.message
                assert "active pollers" in e.message, e.message
                return False

        await wait_until(deleted, "deleted", 60)
        d = (await describe(client, deployment)).worker_deployment_info
        assert [s.deployment_version.build_id for s in d.version_summaries] == ["2.0"]


async def _drained(statuses, build_id: str, drained: int) -> bool:
    return (await statuses()).get(build_id) == drained


async def _status_is(status, expected) -> bool:
    return await status() == expected


async def test_refusals(client: Client) -> None:
    deployment, tq = names()

    async def code_and_message(call) -> tuple[RPCStatusCode, str]:
        with pytest.raises(RPCError) as err:
            await call
        return err.value.status, err.value.message

    status, message = await code_and_message(describe(client, deployment))
    assert status == RPCStatusCode.NOT_FOUND
    assert message == f"no Worker Deployment found with name '{deployment}'; does your Worker Deployment have pollers?"
    async with versioned_worker(client, tq, deployment, "1.0"):
        await wait_registered(client, deployment, "1.0")
        status, message = await code_and_message(
            client.workflow_service.set_worker_deployment_current_version(
                SetWorkerDeploymentCurrentVersionRequest(
                    namespace=NAMESPACE, deployment_name=deployment, build_id="9.9", identity="test"
                )
            )
        )
        assert status == RPCStatusCode.NOT_FOUND
        assert message == f"build ID '9.9' not found in Worker Deployment '{deployment}'"
        status, message = await code_and_message(
            client.workflow_service.set_worker_deployment_current_version(
                SetWorkerDeploymentCurrentVersionRequest(
                    namespace=NAMESPACE,
                    deployment_name=deployment,
                    build_id="1.0",
                    conflict_token=b"stale",
                    identity="test",
                )
            )
        )
        assert status == RPCStatusCode.FAILED_PRECONDITION
        assert "conflict token mismatch" in message
        await set_current(client, deployment, "1.0")
        version = VersionProto(deployment_name=deployment, build_id="1.0")
        status, message = await code_and_message(
            client.workflow_service.delete_worker_deployment_version(
                DeleteWorkerDeploymentVersionRequest(namespace=NAMESPACE, deployment_version=version, identity="test")
            )
        )
        assert status == RPCStatusCode.FAILED_PRECONDITION
        assert message == f"version '{deployment}:1.0' cannot be deleted since it is current or ramping"
        status, message = await code_and_message(
            client.workflow_service.delete_worker_deployment(
                DeleteWorkerDeploymentRequest(namespace=NAMESPACE, deployment_name=deployment, identity="test")
            )
        )
        assert status == RPCStatusCode.FAILED_PRECONDITION
        assert "deployment has versions" in message
        # Metadata: upserted, then removed.
        from temporalio.api.common.v1 import Payload

        entry = Payload(metadata={"encoding": b"json/plain"}, data=b'"blue"')
        updated = await client.workflow_service.update_worker_deployment_version_metadata(
            UpdateWorkerDeploymentVersionMetadataRequest(
                namespace=NAMESPACE, deployment_version=version, upsert_entries={"color": entry}, identity="test"
            )
        )
        assert updated.metadata.entries["color"].data == b'"blue"'

        # A queue of the current version that the proposed one lacks, with tasks waiting: refused
        # unless told to ignore it.
        other_tq = f"{tq}-other"
        async with versioned_worker(client, other_tq, deployment, "1.0"):
            await wait_until(lambda: _queues_of(client, deployment, "1.0", 4), "1.0 on both queues")
        await client.start_workflow(AutoSteps.run, id=f"waiting-{uuid.uuid4()}", task_queue=other_tq)
        async with versioned_worker(client, tq, deployment, "2.0"):
            await wait_registered(client, deployment, "2.0")
            token = (await describe(client, deployment)).conflict_token
            request = SetWorkerDeploymentCurrentVersionRequest(
                namespace=NAMESPACE, deployment_name=deployment, build_id="2.0", conflict_token=token, identity="test"
            )
            status, message = await code_and_message(
                client.workflow_service.set_worker_deployment_current_version(request)
            )
            assert status == RPCStatusCode.FAILED_PRECONDITION
            assert message.startswith(f"proposed current version '{deployment}:2.0' is missing active task queues")
            request.ignore_missing_task_queues = True
            await client.workflow_service.set_worker_deployment_current_version(request)
        described = await client.workflow_service.describe_worker_deployment_version(
            DescribeWorkerDeploymentVersionRequest(namespace=NAMESPACE, deployment_version=version)
        )
        assert described.worker_deployment_version_info.metadata.entries["color"].data == b'"blue"'
        assert [q.name for q in described.version_task_queues].count(tq) == 2, "workflow and activity queue"


async def _queues_of(client: Client, deployment: str, build_id: str, n: int) -> bool:
    d = await client.workflow_service.describe_worker_deployment_version(
        DescribeWorkerDeploymentVersionRequest(
            namespace=NAMESPACE, deployment_version=VersionProto(deployment_name=deployment, build_id=build_id)
        )
    )
    return len(d.version_task_queues) == n


@pytest.fixture(scope="module")
def deployments_reference():
    """Temporal's dev server with this module's timings."""
    yield from running_reference(CHRONICLE_SERVER_ARGS)


async def versioned_histories(address: str) -> dict:
    """Pinned, auto-upgrade and overridden workflows across a change of current version: their
    histories, and what describe says of the deployment and of each workflow."""
    from google.protobuf.json_format import MessageToDict

    client = await Client.connect(address, namespace=NAMESPACE)
    deployment, tq = "diffdep", "diff-versioned"
    seen: dict = {}
    async with versioned_worker(client, tq, deployment, "1.0"), versioned_worker(client, tq, deployment, "2.0"):
        await wait_registered(client, deployment, "1.0")
        await wait_registered(client, deployment, "2.0")
        await set_current(client, deployment, "1.0")
        pinned = await client.start_workflow(PinnedSteps.run, id="diff-pinned", task_queue=tq)
        auto = await client.start_workflow(AutoSteps.run, id="diff-auto", task_queue=tq)
        for h in (pinned, auto):
            await wait_until(lambda h=h: _has_version(h, "1.0"), f"{h.id} on 1.0")
        await set_current(client, deployment, "2.0")
        overridden = await client.start_workflow(AutoSteps.run, id="diff-override", task_queue=tq)
        await wait_until(lambda: _waits_for_signal(overridden), "waiting for its signal")
        await client.workflow_service.update_workflow_execution_options(_pin_request(overridden.id, deployment, "1.0"))
        started_pinned = await client.start_workflow(
            AutoSteps.run,
            id="diff-start-pinned",
            task_queue=tq,
            versioning_override=PinnedVersioningOverride(WorkerDeploymentVersion(deployment, "1.0")),
        )
        every = (pinned, auto, overridden, started_pinned)
        for h in every:
            await wait_until(lambda h=h: _waits_for_signal(h), f"{h.id} waiting for its signal")
            await h.signal("proceed")
        seen["results"] = [await asyncio.wait_for(h.result(), 30) for h in every]
        for h in every:
            seen[h.id] = await h.fetch_history()
            info = (await h.describe()).raw_description.workflow_execution_info
            seen[f"{h.id}/versioning"] = MessageToDict(info.versioning_info)
        # No running workflow is pinned to 1.0 any more: it drains (when is each server's own timing).
        drained = WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINED

        async def statuses() -> dict:
            d = (await describe(client, deployment)).worker_deployment_info
            return {s.deployment_version.build_id: s.status for s in d.version_summaries}

        await wait_until(lambda: _drained(statuses, "1.0", drained), "1.0 drained", 30)
        seen["statuses"] = await statuses()
        d = (await describe(client, deployment)).worker_deployment_info
        seen["routing"] = sorted(MessageToDict(d.routing_config))
    return seen


@pytest.mark.skipif(temporal_bin_missing_reason() is not None, reason=temporal_bin_missing_reason() or "")
async def test_versioned_histories_match_temporal(deployments_reference: str, chronicle_server: str) -> None:
    reference = await versioned_histories(deployments_reference)
    ours = await versioned_histories(chronicle_server)
    for key, value in reference.items():
        if key in ("diff-pinned", "diff-auto", "diff-override", "diff-start-pinned"):
            diffs = diff_histories(value, ours[key])
            assert diffs == [], f"{key}:\n" + "\n".join(diffs)
        else:
            assert ours[key] == value, key


async def test_deployments_survive_a_killed_server() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = ChronicleServer(_chronicle_bin(), Path(tmp) / "chronicle.db")
        try:
            client = await Client.connect(server.start(), namespace=NAMESPACE)
            deployment, tq = names()
            async with versioned_worker(client, tq, deployment, "1.0"):
                await wait_registered(client, deployment, "1.0")
                await set_current(client, deployment, "1.0")
                pinned = await client.start_workflow(PinnedSteps.run, id=f"crash-{uuid.uuid4()}", task_queue=tq)
                await wait_until(lambda: _has_version(pinned, "1.0"), "pinned to 1.0")
            server.proc.kill()
            server.proc.wait(timeout=10)

            client = await Client.connect(server.start(), namespace=NAMESPACE)
            pinned = client.get_workflow_handle(pinned.id)
            d = (await describe(client, deployment)).worker_deployment_info
            assert d.routing_config.current_deployment_version.build_id == "1.0"
            # A 2.0 worker alone does not take the workflow pinned to 1.0; a 1.0 worker does.
            async with versioned_worker(client, tq, deployment, "2.0"):
                await wait_registered(client, deployment, "2.0")
                await set_current(client, deployment, "2.0")
                await pinned.signal("proceed")
                await asyncio.sleep(2)
                assert (await pinned.describe()).status.name == "RUNNING"
                async with versioned_worker(client, tq, deployment, "1.0"):
                    assert await asyncio.wait_for(pinned.result(), 30) == ["1.0", "1.0"]
        finally:
            server.stop()
            server.drop_data()
