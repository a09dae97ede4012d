"""The `chronicle workflow` CLI drives one workflow by hand — start, signal,
query, update, describe, show, result — against a Python SDK worker; and
cancel and terminate on others."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from conftest import _chronicle_bin
    from temporalio.client import Client, WorkflowHistory
    from temporalio.worker import Replayer, Worker


@workflow.defn(name="CliGreeter")
class CliGreeter:
    def __init__(self) -> None:
        self.names: list[str] = []

    @workflow.run
    async def run(self, greeting: str) -> dict:
        await workflow.wait_condition(lambda: "done" in self.names)
        return {"greeting": greeting, "names": [n for n in self.names if n != "done"]}

    @workflow.signal(name="add-name")
    def add_name(self, name: str) -> None:
        self.names.append(name)

    @workflow.query(name="names")
    def get_names(self) -> list[str]:
        return self.names

    @workflow.update(name="rename")
    def rename(self, old: str, new: str) -> list[str]:
        self.names = [new if n == old else n for n in self.names]
        return self.names

    @rename.validator
    def validate_rename(self, old: str, new: str) -> None:
        if old not in self.names:
            raise ValueError(f"no such name: {old}")


async def cli(address: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [str(_chronicle_bin()), "workflow", "--address", address, *args]
    proc = await asyncio.to_thread(subprocess.run, cmd, capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} exited {proc.returncode}: {proc.stderr}")
    return proc


async def test_cli_drives_a_workflow(client: Client, chronicle_server: str) -> None:
    task_queue = f"cli-{uuid.uuid4()}"
    workflow_id = f"cli-wf-{uuid.uuid4()}"
    async with Worker(client, task_queue=task_queue, workflows=[CliGreeter]):
        started = await cli(
            chronicle_server, "start", "--type", "CliGreeter", "--task-queue", task_queue,
            "--workflow-id", workflow_id, "--input", '"Hi"', "-o", "json",
        )
        run_id = json.loads(started.stdout)["runId"]
        assert run_id
        await cli(chronicle_server, "signal", "--workflow-id", workflow_id, "--name", "add-name", "--input", '"Ada"')
        await cli(chronicle_server, "signal", "--workflow-id", workflow_id, "--name", "add-name", "--input", '"Grace"')
        queried = await cli(chronicle_server, "query", "--workflow-id", workflow_id, "--name", "names", "-o", "json")
        assert json.loads(queried.stdout)["queryResult"] == ["Ada", "Grace"]
        updated = await cli(
            chronicle_server, "update", "--workflow-id", workflow_id, "--name", "rename",
            "--input", '"Grace"', "--input", '"Hopper"', "-o", "json",
        )
        assert json.loads(updated.stdout)["result"] == ["Ada", "Hopper"]
        rejected = await cli(
            chronicle_server, "update", "--workflow-id", workflow_id, "--name", "rename",
            "--input", '"Nobody"', "--input", '"X"', check=False,
        )
        assert rejected.returncode != 0 and "update failed" in rejected.stderr
        described = await cli(chronicle_server, "describe", "--workflow-id", workflow_id, "-o", "json")
        assert json.loads(described.stdout)["status"] == "RUNNING"
        await cli(chronicle_server, "signal", "--workflow-id", workflow_id, "--name", "add-name", "--input", '"done"')
        result = await cli(chronicle_server, "result", "--workflow-id", workflow_id, "-o", "json")
        assert json.loads(result.stdout) == {
            "status": "COMPLETED",
            "result": {"greeting": "Hi", "names": ["Ada", "Hopper"]},
        }
        shown = await cli(chronicle_server, "show", "--workflow-id", workflow_id)
        assert "WorkflowExecutionStarted" in shown.stdout
        assert shown.stdout.count("WorkflowExecutionSignaled") == 3
        assert "WorkflowExecutionCompleted" in shown.stdout

    # `show -o json` is the whole history as protobuf JSON, the same as the
    # SDK's own fetch, and the SDK's replayer replays it.
    shown = await cli(chronicle_server, "show", "--workflow-id", workflow_id, "-o", "json")
    history = WorkflowHistory.from_json(workflow_id, shown.stdout)
    fetched = await client.get_workflow_handle(workflow_id).fetch_history()
    assert history.events == fetched.events
    assert json.loads(shown.stdout)["events"][0]["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"
    replayed = await Replayer(workflows=[CliGreeter]).replay_workflow(history)
    assert replayed.replay_failure is None


async def test_cli_cancel_terminate_and_errors(chronicle_server: str) -> None:
    task_queue = f"cli-nobody-{uuid.uuid4()}"
    for action in ("cancel", "terminate"):
        workflow_id = f"cli-{action}-{uuid.uuid4()}"
        await cli(chronicle_server, "start", "--type", "CliGreeter", "--task-queue", task_queue, "--workflow-id", workflow_id)
        await cli(chronicle_server, action, "--workflow-id", workflow_id, "--reason", "by hand")
        shown = await cli(chronicle_server, "show", "--workflow-id", workflow_id)
        expected = "WorkflowExecutionCancelRequested" if action == "cancel" else "WorkflowExecutionTerminated"
        assert expected in shown.stdout
    terminated = await cli(chronicle_server, "result", "--workflow-id", workflow_id, check=False)
    assert terminated.returncode != 0 and "terminated" in terminated.stderr
    bad = await cli(chronicle_server, "start", "--type", "X", "--task-queue", "q", "--input", "{not json", check=False)
    assert bad.returncode != 0 and "not valid JSON" in bad.stderr
    missing = await cli(chronicle_server, "describe", "--workflow-id", f"nobody-{uuid.uuid4()}", check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stderr, missing.stderr
